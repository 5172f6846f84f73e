//! HMAC key generation through the C ABI (issue 13): CKM_SHA_1_KEY_GEN,
//! CKM_SHA224/256/384/512_KEY_GEN and CKM_SHA3_*_KEY_GEN make secrets of
//! the hash's own HMAC key type, with CKA_VALUE_LEN in bytes, that the
//! HMAC mechanisms of that hash use; the template rules of C_GenerateKey
//! apply (length required, key type and class must agree).

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;

/// (generator, key type, the HMAC mechanism of the same hash)
const GENERATORS: &[(CK_MECHANISM_TYPE, CK_KEY_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC, CKM_SHA_1_HMAC),
    (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC, CKM_SHA224_HMAC),
    (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC, CKM_SHA256_HMAC),
    (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC, CKM_SHA384_HMAC),
    (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC, CKM_SHA512_HMAC),
    (CKM_SHA3_224_KEY_GEN, CKK_SHA3_224_HMAC, CKM_SHA3_224_HMAC),
    (CKM_SHA3_256_KEY_GEN, CKK_SHA3_256_HMAC, CKM_SHA3_256_HMAC),
    (CKM_SHA3_384_KEY_GEN, CKK_SHA3_384_HMAC, CKM_SHA3_384_HMAC),
    (CKM_SHA3_512_KEY_GEN, CKK_SHA3_512_HMAC, CKM_SHA3_512_HMAC),
];

fn mac_key(len: CK_ULONG) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_VALUE_LEN, len)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true)
}

#[test]
fn each_generator_makes_a_key_its_hmac_uses() {
    let fips = cfg!(feature = "fips");
    let m = Module::start("");
    let s = m.ready();
    for &(generator, key_type, hmac) in GENERATORS {
        let info = s.mechanism_info(0, generator);
        let is_sha3 = matches!(key_type, CKK_SHA3_224_HMAC..=CKK_SHA3_512_HMAC);
        if fips && is_sha3 {
            err(info, CKR_MECHANISM_INVALID, "SHA-3 HMAC keys in FIPS mode");
            continue;
        }
        let info = ok(info, "C_GetMechanismInfo");
        assert_eq!(info.flags, CKF_GENERATE, "{generator:#x}");
        assert_eq!(info.ulMaxKeySize, 512, "{generator:#x}: sizes in bytes");
        let k = ok(
            s.generate_key(&Mech::new(generator), mac_key(32)),
            "generate",
        );
        assert_eq!(s.attr_ulong(k, CKA_KEY_TYPE), key_type, "{generator:#x}");
        assert_eq!(s.attr_ulong(k, CKA_CLASS), CKO_SECRET_KEY);
        assert_eq!(s.attr_ulong(k, CKA_VALUE_LEN), 32);
        assert_eq!(s.attr_ulong(k, CKA_KEY_GEN_MECHANISM), generator);
        assert!(s.attr_bool(k, CKA_LOCAL));
        let mac = ok(
            s.sign_once(&Mech::new(hmac), k, b"data"),
            "HMAC with the new key",
        );
        ok(s.verify_once(&Mech::new(hmac), k, b"data", &mac), "verify");
        err(
            s.verify_once(&Mech::new(hmac), k, b"other", &mac),
            CKR_SIGNATURE_INVALID,
            "verify other data",
        );
    }
}

#[test]
fn template_rules() {
    let m = Module::start("");
    let s = m.ready();
    let generator = Mech::new(CKM_SHA256_KEY_GEN);
    // The length is required: no HMAC key type has a fixed one.
    let no_len = Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_SIGN, true);
    err(
        s.generate_key(&generator, no_len),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_VALUE_LEN",
    );
    // Another key type than the generator's.
    err(
        s.generate_key(&generator, mac_key(32).ulong(CKA_KEY_TYPE, CKK_SHA384_HMAC)),
        CKR_TEMPLATE_INCONSISTENT,
        "CKK_SHA384_HMAC from CKM_SHA256_KEY_GEN",
    );
    // Its own key type named explicitly is fine; a value is contributed.
    ok(
        s.generate_key(&generator, mac_key(32).ulong(CKA_KEY_TYPE, CKK_SHA256_HMAC)),
        "CKK_SHA256_HMAC named",
    );
    err(
        s.generate_key(&generator, mac_key(32).bytes(CKA_VALUE, &[1; 32])),
        CKR_ATTRIBUTE_READ_ONLY,
        "CKA_VALUE in a generation template",
    );
    err(
        s.generate_key(&generator, mac_key(0)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "zero length",
    );
    err(
        s.generate_key(&generator, mac_key(513)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "over 512 bytes",
    );
}
