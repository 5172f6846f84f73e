//! Key derivation by AES encryption through the C ABI (issue 13):
//! CKM_AES_ECB_ENCRYPT_DATA (CK_KEY_DERIVATION_STRING_DATA) and
//! CKM_AES_CBC_ENCRYPT_DATA (CK_AES_CBC_ENCRYPT_DATA_PARAMS). The new
//! key's value is the ciphertext (checked against SP 800-38A F.1.1/F.2.1),
//! cut to CKA_VALUE_LEN; the base key needs CKA_DERIVE and must be AES;
//! data must be whole blocks; the derived key follows the derive rules.

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::Tmpl;
use common::unhex;
use cryptoki_sys::*;

const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";
const ECB: &str = "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const CBC: &str = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2";

fn base(s: &Sess, derive: bool) -> CK_OBJECT_HANDLE {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bytes(CKA_VALUE, &unhex(KEY))
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, derive);
    ok(s.create(t), "import the AES base key")
}

/// A readable derived secret of `key_type` (`len` None: no CKA_VALUE_LEN).
fn derived(key_type: CK_KEY_TYPE, len: Option<CK_ULONG>) -> Tmpl {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
        .bool(CKA_ENCRYPT, true);
    match len {
        Some(n) => t.ulong(CKA_VALUE_LEN, n),
        None => t,
    }
}

fn iv() -> [u8; 16] {
    unhex(IV).try_into().unwrap()
}

#[test]
fn derived_values_are_the_ciphertext() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, true);
    let plain = unhex(PLAIN);
    let ecb = Mech::string_data(CKM_AES_ECB_ENCRYPT_DATA, &plain);
    let cbc = Mech::aes_cbc_encrypt_data(iv(), &plain);
    for (mech, want) in [(&ecb, ECB), (&cbc, CBC)] {
        // All of the ciphertext: a generic secret without a length.
        let all = ok(
            s.derive(mech, k, derived(CKK_GENERIC_SECRET, None)),
            "derive",
        );
        assert_eq!(s.attr_ok(all, CKA_VALUE), unhex(want));
        assert_eq!(s.attr_ulong(all, CKA_VALUE_LEN), 32);
        assert!(!s.attr_bool(all, CKA_LOCAL));
        // An AES-128 key: the leading 16 bytes, and it encrypts.
        let aes = ok(
            s.derive(mech, k, derived(CKK_AES, Some(16))),
            "derive AES-128",
        );
        assert_eq!(s.attr_ok(aes, CKA_VALUE), unhex(want)[..16].to_vec());
        ok(
            s.encrypt_once(&Mech::new(CKM_AES_ECB), aes, &[0u8; 16]),
            "the derived key encrypts",
        );
    }
}

#[test]
fn refusals() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, true);
    let plain = unhex(PLAIN);
    let ecb = Mech::string_data(CKM_AES_ECB_ENCRYPT_DATA, &plain);
    // Data that is not whole blocks, or none.
    for data in [&plain[..15], &plain[..17], &[][..]] {
        err(
            s.derive(
                &Mech::string_data(CKM_AES_ECB_ENCRYPT_DATA, data),
                k,
                derived(CKK_GENERIC_SECRET, None),
            ),
            CKR_MECHANISM_PARAM_INVALID,
            "partial block",
        );
    }
    err(
        s.derive(
            &Mech::new(CKM_AES_CBC_ENCRYPT_DATA),
            k,
            derived(CKK_GENERIC_SECRET, None),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
    // More than the data gives; an AES key whose length the data cannot
    // give without CKA_VALUE_LEN (48 bytes).
    err(
        s.derive(&ecb, k, derived(CKK_GENERIC_SECRET, Some(33))),
        CKR_MECHANISM_PARAM_INVALID,
        "33 bytes from 32",
    );
    err(
        s.derive(
            &Mech::string_data(CKM_AES_ECB_ENCRYPT_DATA, &plain[..16]),
            k,
            derived(CKK_AES, Some(32)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "an AES-256 key from one block",
    );
    let three = [plain.clone(), plain[..16].to_vec()].concat();
    err(
        s.derive(
            &Mech::string_data(CKM_AES_ECB_ENCRYPT_DATA, &three),
            k,
            derived(CKK_AES, None),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "a 48-byte AES key",
    );
    // The base key must allow derivation and be AES.
    let no_derive = base(&s, false);
    err(
        s.derive(&ecb, no_derive, derived(CKK_GENERIC_SECRET, None)),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "base without CKA_DERIVE",
    );
    let generic = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &[7; 16])
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "generic secret",
    );
    err(
        s.derive(&ecb, generic, derived(CKK_GENERIC_SECRET, None)),
        CKR_KEY_TYPE_INCONSISTENT,
        "a generic secret as the base",
    );
    // Offered for derivation only.
    let info = ok(s.mechanism_info(0, CKM_AES_CBC_ENCRYPT_DATA), "info");
    assert_eq!(info.flags, CKF_DERIVE);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
}
