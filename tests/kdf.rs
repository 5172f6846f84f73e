//! Key derivation through the module's C ABI: HKDF (RFC 5869 A.1 and A.3
//! via CKM_HKDF_DERIVE, extract-only and expand-only, CKM_HKDF_DATA from a
//! key and from a data object, CKM_HKDF_KEY_GEN) and PBKDF2 through
//! C_GenerateKey(CKM_PKCS5_PBKD2) (RFC 7914 §11, RFC 6070), with the
//! parameter and permission errors.

#[macro_use]
mod common;

use common::ops::*;
use common::raw::*;
use common::{TestEnv, hex, unhex};
use cryptoki_sys::*;

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

/// A readable generic secret of `len` bytes (the mechanism's natural
/// length if None).
fn derived(len: Option<CK_ULONG>) -> Tmpl {
    readable_secret(CKK_GENERIC_SECRET, len)
}

/// RFC 5869 A.1 (SHA-256).
const HKDF_SALT: &str = "000102030405060708090a0b0c";
const HKDF_INFO: &str = "f0f1f2f3f4f5f6f7f8f9";
const HKDF_PRK: &str = "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5";
const HKDF_OKM: &str = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
                        34007208d5b887185865";
/// RFC 5869 A.3 (SHA-256, no salt, no info).
const HKDF_OKM_A3: &str = "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
                           9d201395faa4b61a96c8";

fn ikm_key(s: &Sess, key_type: CK_KEY_TYPE, value: &[u8], derive: bool) -> CK_OBJECT_HANDLE {
    ok(
        s.create(secret(key_type, value).bool(CKA_DERIVE, derive)),
        "import HKDF base key",
    )
}

#[test]
fn hkdf_rfc5869_vectors() {
    let (_env, _init, s) = setup();
    let (salt, info) = (unhex(HKDF_SALT), unhex(HKDF_INFO));
    let ikm = [0x0bu8; 22];
    let full = |extract, expand, salt: Salt, info: &[u8]| {
        Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, extract, expand, salt, info)
    };
    for kt in [CKK_GENERIC_SECRET, CKK_HKDF] {
        let base = ikm_key(&s, kt, &ikm, true);
        let k = ok(
            s.derive(
                &full(true, true, Salt::Data(&salt), &info),
                base,
                derived(Some(42)),
            ),
            "HKDF extract+expand",
        );
        assert_eq!(
            hex(&s.attr_ok(k, CKA_VALUE)),
            HKDF_OKM,
            "RFC 5869 A.1, base {kt:#x}"
        );
        assert!(!s.attr_bool(k, CKA_LOCAL), "derived key: CKA_LOCAL");
    }
    let base = ikm_key(&s, CKK_GENERIC_SECRET, &ikm, true);
    // Extract only: the PRK, the PRF's length by default.
    let prk = ok(
        s.derive(
            &full(true, false, Salt::Data(&salt), &[]),
            base,
            derived(None).bool(CKA_DERIVE, true),
        ),
        "HKDF extract",
    );
    assert_eq!(
        hex(&s.attr_ok(prk, CKA_VALUE)),
        HKDF_PRK,
        "RFC 5869 A.1 PRK"
    );
    // Expand only, from the PRK.
    let okm = ok(
        s.derive(
            &full(false, true, Salt::Null, &info),
            prk,
            derived(Some(42)),
        ),
        "HKDF expand",
    );
    assert_eq!(
        hex(&s.attr_ok(okm, CKA_VALUE)),
        HKDF_OKM,
        "expand of the PRK"
    );
    // A.3: NULL salt, empty info.
    let k = ok(
        s.derive(&full(true, true, Salt::Null, &[]), base, derived(Some(42))),
        "HKDF with NULL salt",
    );
    assert_eq!(hex(&s.attr_ok(k, CKA_VALUE)), HKDF_OKM_A3, "RFC 5869 A.3");
}

/// CKM_HKDF_DATA "is identical to HKDF Derive except the output is a
/// CKO_DATA object" (PKCS#11 3.0 §2.43.3): the same generic-secret base
/// key must work and give a data object holding the OKM.
#[test]
fn hkdf_data_from_a_secret_key() {
    let (_env, _init, s) = setup();
    let (salt, info) = (unhex(HKDF_SALT), unhex(HKDF_INFO));
    let base = ikm_key(&s, CKK_GENERIC_SECRET, &[0x0b; 22], true);
    let data = ok(
        s.derive(
            &Mech::hkdf(
                CKM_HKDF_DATA,
                CKM_SHA256,
                true,
                true,
                Salt::Data(&salt),
                &info,
            ),
            base,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bool(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, 42),
        ),
        "CKM_HKDF_DATA from a CKK_GENERIC_SECRET key",
    );
    assert_eq!(s.attr_ulong(data, CKA_CLASS), CKO_DATA);
    assert_eq!(
        hex(&s.attr_ok(data, CKA_VALUE)),
        HKDF_OKM,
        "HKDF_DATA value"
    );
}

/// The spec's exception: a data object of the PRF's length may be the
/// input, with extraction and a salt.
#[test]
fn hkdf_data_from_a_data_object() {
    let (_env, _init, s) = setup();
    let ikm: Vec<u8> = (0u8..32).collect();
    let (salt, info) = (b"a non-null salt", b"tls13 iv");
    let input = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bool(CKA_TOKEN, false)
                .bytes(CKA_VALUE, &ikm),
        ),
        "data object",
    );
    let data = ok(
        s.derive(
            &Mech::hkdf(
                CKM_HKDF_DATA,
                CKM_SHA256,
                true,
                true,
                Salt::Data(salt),
                info,
            ),
            input,
            Tmpl::new().bool(CKA_TOKEN, false).ulong(CKA_VALUE_LEN, 12),
        ),
        "CKM_HKDF_DATA from a CKO_DATA object",
    );
    assert_eq!(s.attr_ulong(data, CKA_CLASS), CKO_DATA);
    let mut want = [0u8; 12];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &ikm)
        .expand(info, &mut want)
        .unwrap();
    assert_eq!(
        hex(&s.attr_ok(data, CKA_VALUE)),
        hex(&want),
        "HKDF_DATA value"
    );
}

#[test]
fn hkdf_errors_and_key_gen() {
    let (_env, _init, s) = setup();
    let base = ikm_key(&s, CKK_GENERIC_SECRET, &[0x0b; 22], true);
    let salt_key = ikm_key(&s, CKK_GENERIC_SECRET, &[1; 16], true);
    err(
        s.derive(
            &Mech::hkdf(
                CKM_HKDF_DERIVE,
                CKM_SHA256,
                true,
                true,
                Salt::Key(salt_key),
                b"i",
            ),
            base,
            derived(Some(32)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "HKDF salt from a key",
    );
    err(
        s.derive(
            &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, false, false, Salt::Null, b""),
            base,
            derived(Some(32)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "HKDF without extract or expand",
    );
    err(
        s.derive(
            &Mech::hkdf(CKM_HKDF_DERIVE, CKM_AES_ECB, true, true, Salt::Null, b""),
            base,
            derived(Some(32)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "HKDF with a PRF that is not a hash",
    );
    let no_derive = ikm_key(&s, CKK_GENERIC_SECRET, &[0x0b; 22], false);
    err(
        s.derive(
            &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, true, true, Salt::Null, b""),
            no_derive,
            derived(Some(32)),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DERIVE=false base key",
    );
    // CKM_HKDF_KEY_GEN makes CKK_HKDF keys that derive like any other.
    let g = ok(
        s.generate_key(
            &Mech::new(CKM_HKDF_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "CKM_HKDF_KEY_GEN",
    );
    assert_eq!(s.attr_ulong(g, CKA_KEY_TYPE), CKK_HKDF);
    let k = ok(
        s.derive(
            &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA384, true, true, Salt::Null, b"x"),
            g,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true),
        ),
        "derive an AES key",
    );
    assert_eq!(s.attr_ulong(k, CKA_KEY_TYPE), CKK_AES);
    assert!(!s.attr_bool(k, CKA_LOCAL));
}

#[test]
fn pbkdf2_known_answers() {
    let (_env, _init, s) = setup();
    // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, 64 bytes.
    let k = ok(
        s.generate_key(
            &Mech::pbkdf2(b"passwd", b"salt", 1, CKP_PKCS5_PBKD2_HMAC_SHA256),
            derived(Some(64)),
        ),
        "C_GenerateKey(CKM_PKCS5_PBKD2)",
    );
    assert_eq!(
        hex(&s.attr_ok(k, CKA_VALUE)),
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
         49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
        "RFC 7914 §11"
    );
    assert_eq!(s.attr_ulong(k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    // RFC 6070: PBKDF2-HMAC-SHA1, "password" / "salt", c=2, 20 bytes.
    let k = ok(
        s.generate_key(
            &Mech::pbkdf2(b"password", b"salt", 2, CKP_PKCS5_PBKD2_HMAC_SHA1),
            derived(Some(20)),
        ),
        "PBKDF2-HMAC-SHA1",
    );
    assert_eq!(
        hex(&s.attr_ok(k, CKA_VALUE)),
        "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
        "RFC 6070 c=2"
    );
    // An AES key from a password.
    let aes = ok(
        s.generate_key(
            &Mech::pbkdf2(b"passwd", b"salt", 1, CKP_PKCS5_PBKD2_HMAC_SHA256),
            readable_secret(CKK_AES, Some(32)),
        ),
        "PBKDF2 AES key",
    );
    assert_eq!(
        hex(&s.attr_ok(aes, CKA_VALUE)),
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
        "first 32 bytes of the same derivation"
    );
    err(
        s.generate_key(
            &Mech::pbkdf2(b"passwd", b"salt", 0, CKP_PKCS5_PBKD2_HMAC_SHA256),
            derived(Some(32)),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "PBKDF2 with 0 iterations",
    );
}
