//! Ed25519 (both CKA_EC_PARAMS forms, RFC 8032 known answers, checked with
//! `ed25519-dalek`), P-521 ECDSA checked with the `p521` crate, SHA-3
//! digests, HMAC and ECDSA, AES-CMAC (RFC 4493) with CMAC_GENERAL
//! truncation, the baseline-provider profile object, and cancelling
//! operations with C_SessionCancel or a NULL mechanism — all through the
//! module's C ABI.

#[macro_use]
mod common;

use common::ops::*;
use common::raw::*;
use common::{P256_PARAMS, P384_PARAMS, TestEnv, hex, unhex};
use cryptoki_sys::*;

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

const MSG: &[u8] = b"Keyward signs this message";

// --- Ed25519 --------------------------------------------------------------------

/// Key generation and signing through the `cryptoki` crate, as an
/// application would, for both forms of CKA_EC_PARAMS.
#[test]
fn ed25519_keygen_sign_verify_with_cryptoki() {
    use common::{Harness, attr_bytes};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
    use cryptoki::object::{Attribute, AttributeType, KeyType};
    use ed25519_dalek::Verifier as _;

    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    for params in [ED25519_OID.to_vec(), printable("edwards25519")] {
        let (pubk, privk) = s
            .generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &[
                    Attribute::EcParams(params.clone()),
                    Attribute::Verify(true),
                    Attribute::Token(false),
                ],
                &[Attribute::Sign(true), Attribute::Token(false)],
            )
            .expect("C_GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN)");
        let kt = s.get_attributes(privk, &[AttributeType::KeyType]).unwrap();
        assert!(
            matches!(kt.as_slice(), [Attribute::KeyType(k)] if *k == KeyType::EC_EDWARDS),
            "key type {kt:?}"
        );
        let der = attr_bytes(&s, pubk, AttributeType::EcPoint);
        assert_eq!(der.len(), 34, "CKA_EC_POINT: {}", hex(&der));
        assert_eq!(
            &der[..2],
            &[0x04, 0x20],
            "CKA_EC_POINT is a DER OCTET STRING"
        );
        let point: [u8; 32] = der[2..].try_into().unwrap();

        let m = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = s.sign(&m, privk, MSG).expect("CKM_EDDSA sign");
        assert_eq!(sig.len(), 64);
        s.verify(&m, pubk, MSG, &sig).expect("CKM_EDDSA verify");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&point).unwrap();
        vk.verify(MSG, &ed25519_dalek::Signature::from_slice(&sig).unwrap())
            .expect("ed25519-dalek verifies the module's signature");
        let mut bad = sig.clone();
        bad[10] ^= 1;
        common::expect_rv(
            s.verify(&m, pubk, MSG, &bad),
            cryptoki::error::RvError::SignatureInvalid,
        );
        common::expect_rv(
            s.verify(&m, pubk, MSG, &sig[..63]),
            cryptoki::error::RvError::SignatureLenRange,
        );
    }
}

/// RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte).
const ED_VECTORS: [(&str, &str, &str, &str); 2] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac\
         c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e\
         458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
];

#[test]
fn ed25519_rfc8032_known_answers() {
    let (_env, _init, s) = setup();
    let eddsa = Mech::new(CKM_EDDSA);
    for (seed, public, msg, want) in ED_VECTORS {
        let privk = ok(
            s.create(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                    .bytes(CKA_EC_PARAMS, ED25519_OID)
                    .bytes(CKA_VALUE, &unhex(seed))
                    .bool(CKA_TOKEN, false)
                    .bool(CKA_SIGN, true),
            ),
            "import Ed25519 private key",
        );
        let pubk = ok(
            s.create(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                    .bytes(CKA_EC_PARAMS, &printable("edwards25519"))
                    .bytes(CKA_EC_POINT, &der_octets(&unhex(public)))
                    .bool(CKA_TOKEN, false)
                    .bool(CKA_VERIFY, true),
            ),
            "import Ed25519 public key",
        );
        let sig = ok(s.sign_once(&eddsa, privk, &unhex(msg)), "CKM_EDDSA sign");
        assert_eq!(hex(&sig), want, "RFC 8032 signature for seed {seed}");
        ok(
            s.verify_once(&eddsa, pubk, &unhex(msg), &sig),
            "CKM_EDDSA verify",
        );
        err(
            s.verify_once(&eddsa, pubk, b"other", &sig),
            CKR_SIGNATURE_INVALID,
            "wrong message",
        );
    }
}

/// Ed25519ph through CK_EDDSA_PARAMS (RFC 8032 §7.3, "abc"), signed in
/// parts.
#[test]
fn ed25519ph_rfc8032_known_answer() {
    let (_env, _init, s) = setup();
    let privk = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, ED25519_OID)
                .bytes(
                    CKA_VALUE,
                    &unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"),
                )
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true),
        ),
        "import the RFC 8032 Ed25519ph key",
    );
    let ph = Mech::eddsa(true, b"");
    ok(s.sign_init(&ph, privk), "C_SignInit Ed25519ph");
    ok(s.sign_update(b"a"), "C_SignUpdate");
    ok(s.sign_update(b"bc"), "C_SignUpdate");
    let sig = ok(s.sign_final(), "C_SignFinal");
    assert_eq!(
        hex(&sig),
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
    );
    ok(
        s.sign_init(&Mech::eddsa(false, b""), privk),
        "pure Ed25519 by parameter",
    );
}

/// Ed25519ctx through CK_EDDSA_PARAMS (phFlag false, a context): RFC 8032
/// §7.2's first vector (context "foo"), signed in parts and verified with
/// the RFC's public key; another context, or none, does not verify.
#[test]
fn ed25519ctx_rfc8032_known_answer() {
    let (_env, _init, s) = setup();
    let privk = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, ED25519_OID)
                .bytes(
                    CKA_VALUE,
                    &unhex("0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6"),
                )
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true),
        ),
        "import the RFC 8032 Ed25519ctx key",
    );
    let mut point = vec![0x04, 0x20];
    point.extend(unhex(
        "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
    ));
    let pubk = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, ED25519_OID)
                .bytes(CKA_EC_POINT, &point)
                .bool(CKA_TOKEN, false)
                .bool(CKA_VERIFY, true),
        ),
        "import the RFC 8032 Ed25519ctx public key",
    );
    let message = unhex("f726936d19c800494e3fdaff20b276a8");
    let ctx = Mech::eddsa(false, b"foo");
    ok(s.sign_init(&ctx, privk), "C_SignInit Ed25519ctx");
    ok(s.sign_update(&message[..5]), "C_SignUpdate");
    ok(s.sign_update(&message[5..]), "C_SignUpdate");
    let sig = ok(s.sign_final(), "C_SignFinal");
    assert_eq!(
        hex(&sig),
        "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a\
         8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d"
    );
    ok(s.verify_once(&ctx, pubk, &message, &sig), "C_Verify");
    for other in [
        Mech::eddsa(false, b"bar"),
        Mech::eddsa(false, b""),
        Mech::new(CKM_EDDSA),
    ] {
        err(
            s.verify_once(&other, pubk, &message, &sig),
            CKR_SIGNATURE_INVALID,
            "another context, or none",
        );
    }
}

#[test]
fn eddsa_and_ecdsa_keys_do_not_mix() {
    let (_env, _init, s) = setup();
    let (_, ed) = ec_pair(
        &s,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        ED25519_OID,
        |t| t,
        |t| t.bool(CKA_SIGN, true),
    );
    let (_, ec) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_SIGN, true),
    );
    err(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), ed),
        CKR_KEY_TYPE_INCONSISTENT,
        "ECDSA with an Ed25519 key",
    );
    err(
        s.sign_init(&Mech::new(CKM_EDDSA), ec),
        CKR_KEY_TYPE_INCONSISTENT,
        "EdDSA with a P-256 key",
    );
    // A Weierstrass curve for an Edwards key: the spec names no single
    // code, so any of the three that describe it will do.
    let r = s.generate_pair(
        &Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN),
        Tmpl::new()
            .bytes(CKA_EC_PARAMS, P256_PARAMS)
            .bool(CKA_TOKEN, false),
        Tmpl::new().bool(CKA_TOKEN, false),
    );
    assert!(
        matches!(
            r,
            Err(CKR_CURVE_NOT_SUPPORTED | CKR_ATTRIBUTE_VALUE_INVALID | CKR_DOMAIN_PARAMS_INVALID)
        ),
        "Edwards key generation on P-256: {r:?}"
    );
    let info = ok(s.mechanism_info(0, CKM_EDDSA), "C_GetMechanismInfo(EDDSA)");
    assert_eq!(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
    assert_eq!(info.flags & CKF_HW, 0);
}

/// A well-formed curve OID the token does not offer (secp256k1) is
/// CKR_CURVE_NOT_SUPPORTED ("this curve is not supported by this token",
/// PKCS#11 3.0 §5.1.6), not a malformed attribute.
#[test]
fn unsupported_curve_is_curve_not_supported() {
    let (_env, _init, s) = setup();
    err(
        s.generate_pair(
            &Mech::new(CKM_EC_KEY_PAIR_GEN),
            Tmpl::new()
                .bytes(CKA_EC_PARAMS, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a])
                .bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_TOKEN, false),
        ),
        CKR_CURVE_NOT_SUPPORTED,
        "EC key generation on secp256k1",
    );
}

// --- P-521 --------------------------------------------------------------------

#[test]
fn p521_ecdsa_checked_with_p521_crate() {
    use p521::ecdsa::signature::Verifier as _;
    use p521::ecdsa::signature::hazmat::PrehashVerifier as _;
    use sha2::Digest as _;

    let (_env, _init, s) = setup();
    let (pubk, privk) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P521_PARAMS,
        |t| t.bool(CKA_VERIFY, true),
        |t| t.bool(CKA_SIGN, true),
    );
    let der = s.attr_ok(pubk, CKA_EC_POINT);
    assert_eq!(
        &der[..3],
        &[0x04, 0x81, 0x85],
        "DER OCTET STRING of 133 bytes"
    );
    let point = point_of(&s, pubk);
    assert_eq!(point.len(), 133);
    let vk = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("P-521 point");

    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA512), privk, MSG),
        "ECDSA-SHA512 on P-521",
    );
    assert_eq!(sig.len(), 132, "r || s of 66 bytes each");
    ok(
        s.verify_once(&Mech::new(CKM_ECDSA_SHA512), pubk, MSG, &sig),
        "module verifies",
    );
    vk.verify(MSG, &p521::ecdsa::Signature::from_slice(&sig).unwrap())
        .expect("p521 crate verifies ECDSA-SHA512");

    let prehash = sha2::Sha256::digest(MSG).to_vec();
    let raw = ok(
        s.sign_once(&Mech::new(CKM_ECDSA), privk, &prehash),
        "raw ECDSA",
    );
    vk.verify_prehash(&prehash, &p521::ecdsa::Signature::from_slice(&raw).unwrap())
        .expect("p521 crate verifies raw ECDSA of a SHA-256 hash");
    let info = ok(s.mechanism_info(0, CKM_EC_KEY_PAIR_GEN), "info");
    assert!(
        info.ulMaxKeySize >= 521,
        "EC key sizes up to {}",
        info.ulMaxKeySize
    );
}

// --- SHA-3 ----------------------------------------------------------------------

#[test]
fn sha3_digests() {
    use sha3::Digest as _;

    let (_env, _init, s) = setup();
    let abc = ok(s.digest_once(&Mech::new(CKM_SHA3_256), b"abc"), "SHA3-256");
    assert_eq!(
        hex(&abc),
        "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        "FIPS 202 SHA3-256(\"abc\")"
    );
    let long: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    for (ty, want) in [
        (CKM_SHA3_224, sha3::Sha3_224::digest(&long).to_vec()),
        (CKM_SHA3_256, sha3::Sha3_256::digest(&long).to_vec()),
        (CKM_SHA3_384, sha3::Sha3_384::digest(&long).to_vec()),
        (CKM_SHA3_512, sha3::Sha3_512::digest(&long).to_vec()),
    ] {
        assert_eq!(
            hex(&ok(s.digest_once(&Mech::new(ty), &long), "digest")),
            hex(&want),
            "{ty:#x}"
        );
    }
}

#[test]
fn hmac_sha3() {
    use hmac::{KeyInit, Mac};

    let (_env, _init, s) = setup();
    let key = ok(
        s.create(
            secret(CKK_GENERIC_SECRET, b"key")
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "HMAC key",
    );
    let data = b"The quick brown fox jumps over the lazy dog";
    let m = Mech::new(CKM_SHA3_256_HMAC);
    let tag = ok(s.sign_once(&m, key, data), "HMAC-SHA3-256");
    assert_eq!(
        hex(&tag),
        "8c6e0683409427f8931711b10ca92a506eb1fafa48fadd66d76126f47ac2c333"
    );
    ok(s.verify_once(&m, key, data, &tag), "verify");
    let mut bad = tag.clone();
    bad[0] ^= 1;
    err(
        s.verify_once(&m, key, data, &bad),
        CKR_SIGNATURE_INVALID,
        "bad tag",
    );
    // Multi-part.
    ok(s.sign_init(&m, key), "init");
    for part in split(data, &[3, 11]) {
        ok(s.sign_update(part), "update");
    }
    assert_eq!(ok(s.sign_final(), "final"), tag);
    // SHA3-512 against the hmac crate; the _GENERAL form truncates.
    let mut mac = hmac::SimpleHmac::<sha3::Sha3_512>::new_from_slice(b"key").unwrap();
    mac.update(data);
    let want = mac.finalize().into_bytes().to_vec();
    let t512 = ok(s.sign_once(&Mech::new(CKM_SHA3_512_HMAC), key, data), "512");
    assert_eq!(hex(&t512), hex(&want));
    let general = Mech::ulong(CKM_SHA3_256_HMAC_GENERAL, 16);
    let short = ok(s.sign_once(&general, key, data), "HMAC_GENERAL");
    assert_eq!(short, tag[..16]);
    ok(
        s.verify_once(&general, key, data, &short),
        "verify truncated",
    );
}

#[test]
fn ecdsa_sha3_round_trips() {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use sha3::Digest as _;

    let (_env, _init, s) = setup();
    let (pubk, privk) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t.bool(CKA_VERIFY, true),
        |t| t.bool(CKA_SIGN, true),
    );
    let m = Mech::new(CKM_ECDSA_SHA3_256);
    let sig = ok(s.sign_once(&m, privk, MSG), "ECDSA-SHA3-256");
    ok(s.verify_once(&m, pubk, MSG, &sig), "verify");
    err(
        s.verify_once(&Mech::new(CKM_ECDSA_SHA256), pubk, MSG, &sig),
        CKR_SIGNATURE_INVALID,
        "SHA3 signature checked as SHA-256",
    );
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point_of(&s, pubk)).unwrap();
    vk.verify_prehash(
        &sha3::Sha3_256::digest(MSG),
        &p256::ecdsa::Signature::from_slice(&sig).unwrap(),
    )
    .expect("p256 crate verifies ECDSA over SHA3-256");

    let (pub384, priv384) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P384_PARAMS,
        |t| t.bool(CKA_VERIFY, true),
        |t| t.bool(CKA_SIGN, true),
    );
    let m = Mech::new(CKM_ECDSA_SHA3_384);
    let sig = ok(s.sign_once(&m, priv384, MSG), "ECDSA-SHA3-384");
    assert_eq!(sig.len(), 96);
    ok(s.verify_once(&m, pub384, MSG, &sig), "verify P-384");
}

// --- AES-CMAC -------------------------------------------------------------------

/// RFC 4493 §4: the key and the four messages' MACs.
const CMAC_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const CMAC_MSG: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                        30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CMAC_TAGS: [(usize, &str); 4] = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
];

#[test]
fn aes_cmac_rfc4493() {
    let (_env, _init, s) = setup();
    let k = ok(
        s.create(
            secret(CKK_AES, &unhex(CMAC_KEY))
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "CMAC key",
    );
    let msg = unhex(CMAC_MSG);
    let m = Mech::new(CKM_AES_CMAC);
    for (n, want) in CMAC_TAGS {
        let tag = ok(s.sign_once(&m, k, &msg[..n]), "AES-CMAC");
        assert_eq!(hex(&tag), want, "RFC 4493 example of {n} bytes");
        ok(s.verify_once(&m, k, &msg[..n], &tag), "verify");
        // Multi-part with odd parts gives the same MAC.
        ok(s.sign_init(&m, k), "init");
        for part in split(&msg[..n], &[1, 15, 17]) {
            ok(s.sign_update(part), "update");
        }
        assert_eq!(
            hex(&ok(s.sign_final(), "final")),
            want,
            "multi-part, {n} bytes"
        );
    }
    let tag2 = unhex(CMAC_TAGS[1].1);
    let mut bad = tag2.clone();
    bad[15] ^= 1;
    err(
        s.verify_once(&m, k, &msg[..16], &bad),
        CKR_SIGNATURE_INVALID,
        "bad CMAC",
    );
    err(
        s.verify_once(&m, k, &msg[..16], &tag2[..8]),
        CKR_SIGNATURE_LEN_RANGE,
        "CMAC of 8 bytes for CKM_AES_CMAC",
    );

    // CKM_AES_CMAC_GENERAL: the leftmost bytes.
    for len in [4usize, 8, 16] {
        let g = Mech::ulong(CKM_AES_CMAC_GENERAL, len as CK_ULONG);
        let tag = ok(s.sign_once(&g, k, &msg[..16]), "CMAC_GENERAL");
        assert_eq!(tag, tag2[..len], "CMAC_GENERAL({len})");
        ok(s.verify_once(&g, k, &msg[..16], &tag), "verify truncated");
    }
    for len in [0, 17] {
        err(
            s.sign_init(&Mech::ulong(CKM_AES_CMAC_GENERAL, len), k),
            CKR_MECHANISM_PARAM_INVALID,
            &format!("CMAC_GENERAL({len})"),
        );
    }
    let no_sign = ok(
        s.create(secret(CKK_AES, &unhex(CMAC_KEY)).bool(CKA_SIGN, false)),
        "key without CKA_SIGN",
    );
    err(
        s.sign_init(&m, no_sign),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CMAC with CKA_SIGN=false",
    );
}

// --- profile object -------------------------------------------------------------

/// The baseline-provider profile of an initialized token: found in a
/// public session, a read-only token object that cannot be destroyed.
fn check_profile(f: &'static CK_FUNCTION_LIST_3_0) {
    let s = Sess::new(f, open_session(f, true));
    let profiles = ok(
        s.find(Tmpl::new().ulong(CKA_CLASS, CKO_PROFILE)),
        "find CKO_PROFILE",
    );
    assert!(!profiles.is_empty(), "no CKO_PROFILE object before login");
    let baseline = ok(
        s.find(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PROFILE)
                .ulong(CKA_PROFILE_ID, CKP_BASELINE_PROVIDER),
        ),
        "find the baseline profile",
    );
    assert_eq!(baseline.len(), 1, "one baseline-provider profile");
    let p = baseline[0];
    assert_eq!(s.attr_ulong(p, CKA_PROFILE_ID), CKP_BASELINE_PROVIDER);
    assert!(s.attr_bool(p, CKA_TOKEN));
    err(
        s.destroy(p),
        CKR_ACTION_PROHIBITED,
        "C_DestroyObject(profile)",
    );
    // After the user logs in it is still there and still not destroyable.
    let s2 = Sess::new(f, user_session_after_init(f));
    err(
        s2.destroy(p),
        CKR_ACTION_PROHIBITED,
        "C_DestroyObject(profile) as user",
    );
    assert_eq!(
        ok(
            s2.find(Tmpl::new().ulong(CKA_CLASS, CKO_PROFILE)),
            "find as user"
        ),
        profiles
    );
}

#[test]
fn baseline_profile_object_before_login() {
    let _env = TestEnv::new();
    let mut init = Init::new();
    init_token(init.f);
    // A token initialized in an earlier run of the application.
    assert_rv!(ck!(init.f, C_Finalize(std::ptr::null_mut())), CKR_OK);
    init.forget();
    let init = Init::new();
    check_profile(init.f);
}

/// The profile describes the token, not its contents: re-initializing
/// the token (C_InitToken) must not make it disappear.
#[test]
fn profile_object_survives_c_inittoken() {
    let _env = TestEnv::new();
    let init = Init::new();
    init_token(init.f);
    check_profile(init.f);
}

/// Set the user PIN on an initialized token (SO) and log the user in.
fn user_session_after_init(f: &'static CK_FUNCTION_LIST_3_0) -> CK_SESSION_HANDLE {
    let s = Sess::new(f, open_session(f, true));
    ok(s.login(CKU_SO, common::SO_PIN), "SO login");
    let mut up = common::USER_PIN.as_bytes().to_vec();
    assert_rv!(
        ck!(f, C_InitPIN(s.h, up.as_mut_ptr(), up.len() as CK_ULONG)),
        CKR_OK,
        "C_InitPIN"
    );
    ok(s.logout(), "SO logout");
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    s.h
}

// --- cancellation -----------------------------------------------------------------

#[test]
fn session_cancel_and_null_mechanism_cancel() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&[1u8; 16])), "AES key");
    let mac = ok(
        s.create(secret(CKK_GENERIC_SECRET, &[2u8; 32]).bool(CKA_SIGN, true)),
        "HMAC key",
    );
    let ecb = Mech::new(CKM_AES_ECB);
    let hmac = Mech::new(CKM_SHA256_HMAC);

    // C_SessionCancel(CKF_ENCRYPT) ends the encryption only.
    ok(s.encrypt_init(&ecb, k), "C_EncryptInit");
    ok(s.sign_init(&hmac, mac), "C_SignInit");
    ok(s.encrypt_update(&[0u8; 16]), "update");
    ok(
        s.session_cancel(CKF_ENCRYPT),
        "C_SessionCancel(CKF_ENCRYPT)",
    );
    err(
        s.encrypt_update(&[0u8; 16]),
        CKR_OPERATION_NOT_INITIALIZED,
        "encryption after C_SessionCancel",
    );
    assert_eq!(ok(s.sign(b"still signing"), "the MAC survives").len(), 32);
    ok(
        s.encrypt_init(&ecb, k),
        "a new C_EncryptInit after the cancel",
    );
    ok(s.encrypt(&[0u8; 16]), "and it runs");

    // C_SessionCancel(CKF_DECRYPT | CKF_SIGN).
    ok(s.decrypt_init(&ecb, k), "C_DecryptInit");
    ok(s.sign_init(&hmac, mac), "C_SignInit");
    ok(s.session_cancel(CKF_DECRYPT | CKF_SIGN), "C_SessionCancel");
    err(
        s.decrypt(&[0u8; 16]),
        CKR_OPERATION_NOT_INITIALIZED,
        "decrypt",
    );
    err(s.sign(b"x"), CKR_OPERATION_NOT_INITIALIZED, "sign");

    // C_EncryptInit / C_DecryptInit with a NULL mechanism cancel too.
    ok(s.encrypt_init(&ecb, k), "C_EncryptInit");
    ok(s.encrypt_init_null(k), "C_EncryptInit(NULL)");
    err(
        s.encrypt(&[0u8; 16]),
        CKR_OPERATION_NOT_INITIALIZED,
        "encryption after C_EncryptInit(NULL)",
    );
    ok(
        s.encrypt_init(&ecb, k),
        "C_EncryptInit after the NULL cancel",
    );
    ok(s.decrypt_init(&ecb, k), "C_DecryptInit");
    ok(s.decrypt_init_null(k), "C_DecryptInit(NULL)");
    err(
        s.decrypt(&[0u8; 16]),
        CKR_OPERATION_NOT_INITIALIZED,
        "decryption after C_DecryptInit(NULL)",
    );
    // The encryption started before the decryption was cancelled is intact.
    ok(s.encrypt(&[0u8; 16]), "encryption unaffected");
}
