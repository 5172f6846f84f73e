//! Issue 9 item 8, through the C ABI: the maximum attribute and object
//! sizes (8c), RSA keys of any size in the advertised range (8d), and
//! session secrets made and used without a login, as pkcs11-provider
//! imports its HKDF and TLS 1.3 secrets (8e).

#[macro_use]
mod common;

use common::lifecycle::{Module, assert_refusal_audited};
use common::ops::*;
use common::raw::*;
use cryptoki_sys::*;

fn data(value: &[u8]) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, false)
        .bytes(CKA_VALUE, value)
}

/// The default ceiling (1 MiB per attribute) refuses the 64 MiB value
/// that used to be stored, with CKR_ATTRIBUTE_VALUE_INVALID; a value just
/// under it is fine.
#[test]
fn default_attribute_ceiling() {
    let m = Module::start("");
    let s = m.ready();
    err(
        s.create(data(&vec![1u8; 64 << 20])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "a 64 MiB CKA_VALUE",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_ATTRIBUTE_VALUE_INVALID",
        "max_attribute_size",
    );
    err(
        s.create(data(&vec![1u8; (1 << 20) + 1])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "1 MiB + 1 byte",
    );
    ok(s.create(data(&vec![1u8; 1 << 20])), "exactly 1 MiB");
}

/// Configured ceilings apply on create, copy, set and derive; a whole
/// object over `max_object_size` is CKR_DEVICE_MEMORY.
#[test]
fn configured_ceilings_on_every_path() {
    let m = Module::start("max_attribute_size = 4096\nmax_object_size = 8192\n");
    let s = m.ready();
    err(
        s.create(data(&[2u8; 4097])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "C_CreateObject, one value over 4096",
    );
    err(
        s.create(
            data(&[2u8; 3000])
                .bytes(CKA_LABEL, &[b'l'; 3000])
                .bytes(CKA_APPLICATION, &[b'a'; 3000]),
        ),
        CKR_DEVICE_MEMORY,
        "C_CreateObject, object over 8192",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_DEVICE_MEMORY", "max_object_size");
    let o = ok(s.create(data(&[2u8; 3000])), "a small data object");
    err(
        s.set_attr(o, Tmpl::new().bytes(CKA_VALUE, &[3u8; 5000])),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "C_SetAttributeValue over 4096",
    );
    err(
        s.set_attr(
            o,
            Tmpl::new()
                .bytes(CKA_LABEL, &[b'l'; 3000])
                .bytes(CKA_APPLICATION, &[b'a'; 3000]),
        ),
        CKR_DEVICE_MEMORY,
        "C_SetAttributeValue making the object over 8192",
    );
    assert_eq!(s.attr_ok(o, CKA_VALUE), vec![2u8; 3000], "unchanged");
    err(
        common::lifecycle::copy_object(
            &s,
            o,
            Tmpl::new()
                .bytes(CKA_LABEL, &[b'l'; 3000])
                .bytes(CKA_APPLICATION, &[b'a'; 3000]),
        ),
        CKR_DEVICE_MEMORY,
        "C_CopyObject making the copy over 8192",
    );
    // C_DeriveKey: CKM_HKDF_DATA may make up to 16320 bytes.
    let base = ok(
        s.create(secret(CKK_GENERIC_SECRET, &[9u8; 32]).bool(CKA_DERIVE, true)),
        "HKDF base",
    );
    let hkdf = Mech::hkdf(CKM_HKDF_DATA, CKM_SHA256, true, true, Salt::Null, b"");
    err(
        s.derive(
            &hkdf,
            base,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bool(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, 5000),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "C_DeriveKey of a 5000-byte data object",
    );
    ok(
        s.derive(
            &hkdf,
            base,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bool(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, 4000),
        ),
        "C_DeriveKey of a 4000-byte data object",
    );
}

/// 3092-bit RSA (pkcs11-provider's suite) is generated, signs and
/// verifies; C_GetMechanismInfo's range holds it; the public key imports
/// again with the same size.
#[test]
fn rsa_3092_generation_and_import() {
    let m = Module::start("");
    let s = m.ready();
    let info = ok(
        s.mechanism_info(0, CKM_RSA_PKCS_KEY_PAIR_GEN),
        "C_GetMechanismInfo",
    );
    assert!(info.ulMinKeySize <= 3092 && 3092 <= info.ulMaxKeySize);
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 3092)
                .bool(CKA_TOKEN, false)
                .bool(CKA_VERIFY, true),
            Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_SIGN, true),
        ),
        "C_GenerateKeyPair RSA 3092",
    );
    assert_eq!(s.attr_ulong(public, CKA_MODULUS_BITS), 3092);
    let modulus = s.attr_ok(public, CKA_MODULUS);
    assert_eq!(modulus.len(), 387, "3092 bits in 387 bytes");
    let mech = Mech::new(CKM_SHA256_RSA_PKCS);
    let sig = ok(s.sign_once(&mech, private, b"3092"), "C_Sign");
    assert_eq!(sig.len(), 387);
    ok(s.verify_once(&mech, public, b"3092", &sig), "C_Verify");
    let imported = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_MODULUS, &modulus)
                .bytes(CKA_PUBLIC_EXPONENT, &s.attr_ok(public, CKA_PUBLIC_EXPONENT))
                .bool(CKA_VERIFY, true),
        ),
        "import the 3092-bit public key",
    );
    assert_eq!(s.attr_ulong(imported, CKA_MODULUS_BITS), 3092);
    ok(
        s.verify_once(&mech, imported, b"3092", &sig),
        "C_Verify with the imported key",
    );
    for bits in [2047, 4097] {
        err(
            s.generate_pair(
                &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
                Tmpl::new()
                    .ulong(CKA_MODULUS_BITS, bits)
                    .bool(CKA_TOKEN, false),
                Tmpl::new().bool(CKA_TOKEN, false),
            ),
            CKR_KEY_SIZE_RANGE,
            "outside the advertised range",
        );
    }
}

/// pkcs11-provider's HKDF import, to the attribute: CKA_CLASS,
/// CKA_KEY_TYPE, CKA_TOKEN=false, CKA_DERIVE=true, CKA_VALUE, in a
/// session that is not logged in. The secret is a public session object,
/// and C_DeriveKey CKM_HKDF_DERIVE from it gives RFC 5869's output.
#[test]
fn session_secret_without_login() {
    let m = Module::start("");
    let s = m.ready();
    ok(s.logout(), "no login");
    let ikm = [0x0bu8; 22];
    let base = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true)
                .bytes(CKA_VALUE, &ikm),
        ),
        "session secret without login",
    );
    assert!(!s.attr_bool(base, CKA_PRIVATE), "a public session object");
    assert!(s.attr_bool(base, CKA_SENSITIVE), "still sensitive");
    let salt = [0x01u8, 0x02, 0x03];
    let info = b"tls13 derived";
    let derived = ok(
        s.derive(
            &Mech::hkdf(
                CKM_HKDF_DERIVE,
                CKM_SHA256,
                true,
                true,
                Salt::Data(&salt),
                info,
            ),
            base,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .ulong(CKA_VALUE_LEN, 42)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
        ),
        "C_DeriveKey CKM_HKDF_DERIVE without login",
    );
    let mut want = [0u8; 42];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), &ikm)
        .expand(info, &mut want)
        .expect("HKDF expand");
    assert_eq!(s.attr_ok(derived, CKA_VALUE), want.to_vec());
    // Token objects keep the class default: private, so a login is needed.
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .bool(CKA_TOKEN, true)
                .bool(CKA_DERIVE, true)
                .bytes(CKA_VALUE, &ikm),
        ),
        CKR_USER_NOT_LOGGED_IN,
        "a token secret without login",
    );
    // The user's session secrets stay private.
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    let own = ok(
        s.create(secret(CKK_GENERIC_SECRET, &ikm).bool(CKA_DERIVE, true)),
        "session secret of the user",
    );
    assert!(s.attr_bool(own, CKA_PRIVATE));
}
