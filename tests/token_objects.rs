//! Keys and objects through the `cryptoki` crate: AES / generic-secret / EC /
//! RSA key generation and use (signatures checked independently with the
//! RustCrypto crates), digests and HMAC against known vectors, and the
//! attribute rules (defaults, read-only and one-way attributes, vendor
//! attributes, copy / destroy / modify permissions).

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::Digest as _;

const MSG: &[u8] = b"Keyward signs this message";
const UNKNOWN_ATTR: u64 = 0x0000_7f00;

fn ulong(s: &Session, o: ObjectHandle, ty: AttributeType) -> u64 {
    match attr(s, o, ty) {
        Some(Attribute::ValueLen(v) | Attribute::ModulusBits(v)) => v.into(),
        other => panic!("{ty:?}: expected a CK_ULONG, got {other:?}"),
    }
}

fn key_gen_mechanism(s: &Session, o: ObjectHandle) -> MechanismType {
    match attr(s, o, AttributeType::KeyGenMechanism) {
        Some(Attribute::KeyGenMechanism(m)) => m,
        other => panic!("CKA_KEY_GEN_MECHANISM: got {other:?}"),
    }
}

fn class_of(s: &Session, o: ObjectHandle) -> ObjectClass {
    match attr(s, o, AttributeType::Class) {
        Some(Attribute::Class(c)) => c,
        other => panic!("CKA_CLASS: got {other:?}"),
    }
}

fn key_type_of(s: &Session, o: ObjectHandle) -> KeyType {
    match attr(s, o, AttributeType::KeyType) {
        Some(Attribute::KeyType(k)) => k,
        other => panic!("CKA_KEY_TYPE: got {other:?}"),
    }
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

fn ec_pair(s: &Session, params: &[u8], label: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(params.to_vec()),
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(vec![0x01]),
        ],
    )
    .expect("C_GenerateKeyPair(EC)")
}

fn rsa_pair(s: &Session, exponent: &[u8]) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(exponent.to_vec()),
            Attribute::Token(true),
            Attribute::Verify(true),
        ],
        &[Attribute::Token(true), Attribute::Sign(true)],
    )
    .expect("C_GenerateKeyPair(RSA-2048)")
}

fn generic_secret(s: &Session, sign: bool) -> ObjectHandle {
    s.generate_key(
        &Mechanism::GenericSecretKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Sign(sign),
            Attribute::Verify(sign),
        ],
    )
    .expect("generic secret keygen")
}

fn aes_key(s: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![Attribute::ValueLen(32.into())];
    t.extend_from_slice(extra);
    s.generate_key(&Mechanism::AesKeyGen, &t)
        .expect("AES keygen")
}

/// A known secret key made with C_CreateObject.
fn imported_secret(s: &Session, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
    ];
    t.extend_from_slice(extra);
    s.create_object(&t).expect("C_CreateObject(secret key)")
}

fn ready_user() -> (Harness, Session) {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    (h, s)
}

#[test]
fn aes_256_key_generation() {
    let (h, s) = ready_user();
    let k = aes_key(
        &s,
        &[Attribute::Token(true), Attribute::Label(b"aes".to_vec())],
    );
    assert_eq!(class_of(&s, k), ObjectClass::SECRET_KEY);
    assert_eq!(key_type_of(&s, k), KeyType::AES);
    assert_eq!(ulong(&s, k, AttributeType::ValueLen), 32);
    for (ty, want) in [
        (AttributeType::Token, true),
        (AttributeType::Private, true),
        (AttributeType::Sensitive, true),
        (AttributeType::Extractable, false),
        (AttributeType::AlwaysSensitive, true),
        (AttributeType::NeverExtractable, true),
        (AttributeType::Local, true),
    ] {
        assert_eq!(attr_bool(&s, k, ty), want, "{ty:?}");
    }
    assert_eq!(key_gen_mechanism(&s, k), MechanismType::AES_KEY_GEN);
    assert_sensitive(&s, k, AttributeType::Value);

    expect_rv(
        s.generate_key(&Mechanism::AesKeyGen, &[Attribute::Token(false)]),
        RvError::TemplateIncomplete,
    );
    assert!(
        s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(17.into())])
            .is_err(),
        "AES key of 17 bytes accepted"
    );
    expect_rv(
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Class(ObjectClass::PUBLIC_KEY),
            ],
        ),
        RvError::TemplateInconsistent,
    );
    // Without a login, a session key defaults to CKA_PRIVATE=false (it
    // never reaches the store); a token key stays private by default, so
    // a public session cannot make one.
    let public = h.rw_session();
    s.logout().expect("logout");
    public
        .generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into())])
        .expect("a session key without login");
    expect_rv(
        public.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Token(true)],
        ),
        RvError::UserNotLoggedIn,
    );
}

#[test]
fn generic_secret_hmac_sign_verify() {
    let (_h, s) = ready_user();
    let k = generic_secret(&s, true);
    assert_eq!(key_type_of(&s, k), KeyType::GENERIC_SECRET);
    assert_eq!(
        key_gen_mechanism(&s, k),
        MechanismType::GENERIC_SECRET_KEY_GEN
    );
    let tag = s.sign(&Mechanism::Sha256Hmac, k, MSG).expect("HMAC sign");
    assert_eq!(tag.len(), 32);
    s.verify(&Mechanism::Sha256Hmac, k, MSG, &tag)
        .expect("HMAC verify");
    let mut bad = tag.clone();
    bad[0] ^= 0x80;
    expect_rv(
        s.verify(&Mechanism::Sha256Hmac, k, MSG, &bad),
        RvError::SignatureInvalid,
    );
    expect_rv(
        s.verify(&Mechanism::Sha256Hmac, k, MSG, &tag[..31]),
        RvError::SignatureLenRange,
    );

    s.sign_init(&Mechanism::Sha256Hmac, k).expect("sign init");
    s.sign_update(&MSG[..5]).expect("update");
    s.sign_update(&MSG[5..]).expect("update");
    assert_eq!(
        s.sign_final().expect("final"),
        tag,
        "multi-part equals single-part"
    );
    s.verify_init(&Mechanism::Sha256Hmac, k)
        .expect("verify init");
    s.verify_update(MSG).expect("update");
    s.verify_final(&tag).expect("multi-part verify");
    assert_eq!(
        s.sign(&Mechanism::Sha512Hmac, k, MSG)
            .expect("HMAC-SHA512")
            .len(),
        64
    );
}

#[test]
fn hmac_rfc4231_case_2_vectors() {
    let (_h, s) = ready_user();
    let k = imported_secret(&s, b"Jefe", &[]);
    let data = b"what do ya want for nothing?";
    for (m, want) in [
        (
            Mechanism::Sha1Hmac,
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
        (
            Mechanism::Sha224Hmac,
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        ),
        (
            Mechanism::Sha256Hmac,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            Mechanism::Sha384Hmac,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            Mechanism::Sha512Hmac,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ] {
        assert_eq!(hex(&s.sign(&m, k, data).expect("HMAC")), want, "{m:?}");
        s.verify(&m, k, data, &unhex(want)).expect("verify vector");
    }
    assert!(
        !attr_bool(&s, k, AttributeType::Local),
        "imported key has CKA_LOCAL false"
    );
}

#[test]
fn key_without_sign_permission() {
    let (_h, s) = ready_user();
    let k = generic_secret(&s, false);
    expect_rv(
        s.sign(&Mechanism::Sha256Hmac, k, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    expect_rv(
        s.verify(&Mechanism::Sha256Hmac, k, MSG, &[0u8; 32]),
        RvError::KeyFunctionNotPermitted,
    );
}

fn check_ec_pair(s: &Session, pubk: ObjectHandle, privk: ObjectHandle, params: &[u8]) -> Vec<u8> {
    assert_eq!(class_of(s, pubk), ObjectClass::PUBLIC_KEY);
    assert_eq!(class_of(s, privk), ObjectClass::PRIVATE_KEY);
    assert_eq!(key_type_of(s, privk), KeyType::EC);
    assert_eq!(attr_bytes(s, pubk, AttributeType::EcParams), params);
    assert_eq!(attr_bytes(s, privk, AttributeType::EcParams), params);
    let point_der = attr_bytes(s, pubk, AttributeType::EcPoint);
    assert_eq!(
        attr_bytes(s, privk, AttributeType::EcPoint),
        point_der,
        "private key's CKA_EC_POINT"
    );
    assert!(
        !attr_bool(s, pubk, AttributeType::Private),
        "public key defaults to CKA_PRIVATE=false"
    );
    for (ty, want) in [
        (AttributeType::Private, true),
        (AttributeType::Sensitive, true),
        (AttributeType::Extractable, false),
        (AttributeType::AlwaysSensitive, true),
        (AttributeType::NeverExtractable, true),
        (AttributeType::Local, true),
    ] {
        assert_eq!(attr_bool(s, privk, ty), want, "private key {ty:?}");
    }
    assert!(attr_bool(s, pubk, AttributeType::Local));
    assert_eq!(key_gen_mechanism(s, privk), MechanismType::ECC_KEY_PAIR_GEN);
    assert_eq!(key_gen_mechanism(s, pubk), MechanismType::ECC_KEY_PAIR_GEN);
    assert_sensitive(s, privk, AttributeType::Value);
    ec_point_from_der(&point_der)
}

#[test]
fn ec_p256_sign_verify_checked_independently() {
    let (_h, s) = ready_user();
    let (pubk, privk) = ec_pair(&s, P256_PARAMS, "p256");
    let point = check_ec_pair(&s, pubk, privk, P256_PARAMS);
    assert_eq!(point.len(), 65, "uncompressed P-256 point");
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("valid point");

    let spki = attr_bytes(&s, privk, AttributeType::PublicKeyInfo);
    use p256::pkcs8::DecodePublicKey as _;
    let from_spki =
        p256::PublicKey::from_public_key_der(&spki).expect("CKA_PUBLIC_KEY_INFO is an SPKI");
    assert_eq!(p256::ecdsa::VerifyingKey::from(from_spki), vk);

    let sig = s
        .sign(&Mechanism::EcdsaSha256, privk, MSG)
        .expect("ECDSA_SHA256");
    assert_eq!(sig.len(), 64, "raw r||s");
    s.verify(&Mechanism::EcdsaSha256, pubk, MSG, &sig)
        .expect("module verify");
    let parsed = p256::ecdsa::Signature::from_slice(&sig).expect("r||s");
    vk.verify(MSG, &parsed).expect("p256 crate verifies");

    // SHA-1 verifies but does not sign (the default policy): a raw
    // ECDSA signature over the SHA-1 digest verifies as CKM_ECDSA_SHA1.
    expect_rv(
        s.sign(&Mechanism::EcdsaSha1, privk, MSG),
        cryptoki::error::RvError::MechanismInvalid,
    );
    let sha1_sig = s
        .sign(&Mechanism::Ecdsa, privk, &sha1::Sha1::digest(MSG))
        .expect("raw sign");
    s.verify(&Mechanism::EcdsaSha1, pubk, MSG, &sha1_sig)
        .expect("SHA-1 verification stays allowed");

    // Every other hash variant, and raw ECDSA over a prehash.
    let prehashes: [(Mechanism, Vec<u8>); 4] = [
        (Mechanism::EcdsaSha224, sha2::Sha224::digest(MSG).to_vec()),
        (Mechanism::EcdsaSha384, sha2::Sha384::digest(MSG).to_vec()),
        (Mechanism::EcdsaSha512, sha2::Sha512::digest(MSG).to_vec()),
        (Mechanism::Ecdsa, Vec::new()),
    ];
    for (m, prehash) in prehashes {
        let (input, prehash) = match m {
            Mechanism::Ecdsa => {
                let d = sha2::Sha256::digest(MSG).to_vec();
                (d.clone(), d)
            }
            _ => (MSG.to_vec(), prehash),
        };
        let sig = s.sign(&m, privk, &input).expect("sign");
        s.verify(&m, pubk, &input, &sig).expect("module verify");
        let parsed = p256::ecdsa::Signature::from_slice(&sig).expect("r||s");
        vk.verify_prehash(&prehash, &parsed)
            .unwrap_or_else(|e| panic!("{m:?}: {e}"));
    }

    let mut bad = sig.clone();
    bad[40] ^= 0x01;
    expect_rv(
        s.verify(&Mechanism::EcdsaSha256, pubk, MSG, &bad),
        RvError::SignatureInvalid,
    );
    expect_rv(
        s.verify(&Mechanism::EcdsaSha256, pubk, MSG, &sig[..63]),
        RvError::SignatureLenRange,
    );
    expect_rv(
        s.sign(&Mechanism::Sha256RsaPkcs, privk, MSG),
        RvError::KeyTypeInconsistent,
    );
    expect_rv(
        s.sign(&Mechanism::Sha256Hmac, privk, MSG),
        RvError::KeyTypeInconsistent,
    );
}

#[test]
fn ec_p384_sign_verify_checked_independently() {
    let (_h, s) = ready_user();
    let (pubk, privk) = ec_pair(&s, P384_PARAMS, "p384");
    let point = check_ec_pair(&s, pubk, privk, P384_PARAMS);
    assert_eq!(point.len(), 97);
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("valid point");
    let sig = s
        .sign(&Mechanism::EcdsaSha384, privk, MSG)
        .expect("ECDSA_SHA384");
    assert_eq!(sig.len(), 96);
    vk.verify(
        MSG,
        &p384::ecdsa::Signature::from_slice(&sig).expect("r||s"),
    )
    .expect("p384 crate verifies");
    let sig = s
        .sign(&Mechanism::EcdsaSha256, privk, MSG)
        .expect("ECDSA_SHA256 on P-384");
    assert_eq!(sig.len(), 96);
    s.verify(&Mechanism::EcdsaSha256, pubk, MSG, &sig)
        .expect("module verify");
    vk.verify_prehash(
        &sha2::Sha256::digest(MSG),
        &p384::ecdsa::Signature::from_slice(&sig).expect("r||s"),
    )
    .expect("p384 crate verifies the SHA-256 signature");
}

fn pss(hash: MechanismType, mgf: PkcsMgfType, salt: u64) -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: hash,
        mgf,
        s_len: salt.into(),
    }
}

#[test]
fn rsa_2048_pkcs1_and_pss_checked_independently() {
    let (_h, s) = ready_user();
    let (pubk, privk) = rsa_pair(&s, &[0x01, 0x00, 0x01]);
    assert_eq!(key_type_of(&s, privk), KeyType::RSA);
    assert_eq!(ulong(&s, pubk, AttributeType::ModulusBits), 2048);
    let n = attr_bytes(&s, pubk, AttributeType::Modulus);
    let e = attr_bytes(&s, pubk, AttributeType::PublicExponent);
    assert_eq!(strip_zeros(&n).len(), 256);
    assert_eq!(strip_zeros(&e), [0x01, 0x00, 0x01]);
    assert_eq!(
        attr_bytes(&s, privk, AttributeType::Modulus),
        n,
        "private key exposes CKA_MODULUS"
    );
    assert_eq!(
        strip_zeros(&attr_bytes(&s, privk, AttributeType::PublicExponent)),
        [1, 0, 1]
    );
    assert_sensitive(&s, privk, AttributeType::PrivateExponent);
    assert_eq!(
        key_gen_mechanism(&s, privk),
        MechanismType::RSA_PKCS_KEY_PAIR_GEN
    );
    let pk = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&n),
        rsa::BoxedUint::from_be_slice_vartime(&e),
    )
    .expect("valid RSA public key");

    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, privk, MSG)
        .expect("SHA256_RSA_PKCS");
    assert_eq!(sig.len(), 256);
    s.verify(&Mechanism::Sha256RsaPkcs, pubk, MSG, &sig)
        .expect("module verify");
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk.clone());
    rsa::signature::Verifier::verify(
        &vk,
        MSG,
        &rsa::pkcs1v15::Signature::try_from(&sig[..]).expect("sig"),
    )
    .expect("rsa crate verifies PKCS#1 v1.5");

    // CKM_RSA_PKCS over a DigestInfo gives the same deterministic signature.
    let mut digest_info = unhex("3031300d060960864801650304020105000420");
    digest_info.extend_from_slice(&sha2::Sha256::digest(MSG));
    assert_eq!(
        s.sign(&Mechanism::RsaPkcs, privk, &digest_info)
            .expect("RSA_PKCS"),
        sig
    );

    let params = pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32);
    let psig = s
        .sign(&Mechanism::Sha256RsaPkcsPss(params), privk, MSG)
        .expect("PSS sign");
    assert_eq!(psig.len(), 256);
    s.verify(&Mechanism::Sha256RsaPkcsPss(params), pubk, MSG, &psig)
        .expect("PSS verify");
    let pvk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(pk);
    rsa::signature::Verifier::verify(
        &pvk,
        MSG,
        &rsa::pss::Signature::try_from(&psig[..]).expect("sig"),
    )
    .expect("rsa crate verifies PSS");
    let psig2 = s
        .sign(&Mechanism::Sha256RsaPkcsPss(params), privk, MSG)
        .expect("PSS sign");
    assert_ne!(psig, psig2, "PSS salt is random");
    let prehash = sha2::Sha256::digest(MSG).to_vec();
    let raw = s
        .sign(&Mechanism::RsaPkcsPss(params), privk, &prehash)
        .expect("RSA_PKCS_PSS");
    s.verify(&Mechanism::Sha256RsaPkcsPss(params), pubk, MSG, &raw)
        .expect("raw PSS over the prehash verifies as SHA256_RSA_PKCS_PSS");

    let mut bad = sig.clone();
    bad[100] ^= 0x01;
    expect_rv(
        s.verify(&Mechanism::Sha256RsaPkcs, pubk, MSG, &bad),
        RvError::SignatureInvalid,
    );
    expect_rv(
        s.verify(&Mechanism::Sha256RsaPkcs, pubk, MSG, &sig[..255]),
        RvError::SignatureLenRange,
    );
    expect_rv(
        s.sign(&Mechanism::EcdsaSha256, privk, MSG),
        RvError::KeyTypeInconsistent,
    );
    expect_rv(
        s.sign(&Mechanism::Ecdsa, privk, &prehash),
        RvError::KeyTypeInconsistent,
    );
}

#[test]
fn rsa_public_exponent_is_honoured() {
    let (_h, s) = ready_user();
    let (pubk, privk) = rsa_pair(&s, &[0x03]);
    assert_eq!(
        strip_zeros(&attr_bytes(&s, pubk, AttributeType::PublicExponent)),
        [0x03]
    );
    assert_eq!(
        strip_zeros(&attr_bytes(&s, privk, AttributeType::PublicExponent)),
        [0x03]
    );
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, privk, MSG)
        .expect("sign with e=3");
    s.verify(&Mechanism::Sha256RsaPkcs, pubk, MSG, &sig)
        .expect("verify with e=3");
}

#[test]
fn digests_of_abc() {
    let (_h, s) = ready_user();
    for (m, want) in [
        (Mechanism::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            Mechanism::Sha224,
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        ),
        (
            Mechanism::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            Mechanism::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            Mechanism::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ] {
        assert_eq!(hex(&s.digest(&m, b"abc").expect("digest")), want, "{m:?}");
        s.digest_init(&m).expect("digest init");
        s.digest_update(b"a").expect("update");
        s.digest_update(b"").expect("empty update");
        s.digest_update(b"bc").expect("update");
        assert_eq!(
            hex(&s.digest_final().expect("final")),
            want,
            "{m:?} multi-part"
        );
    }
    let k = imported_secret(
        &s,
        b"Jefe",
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    s.digest_init(&Mechanism::Sha256).expect("digest init");
    s.digest_update(b"ab").expect("update");
    s.digest_key(k).expect("C_DigestKey");
    assert_eq!(
        s.digest_final().expect("final"),
        sha2::Sha256::digest(b"abJefe").to_vec(),
        "C_DigestKey feeds the key value"
    );
}

#[test]
fn template_and_attribute_errors() {
    let (_h, s) = ready_user();
    expect_rv(
        s.create_object(&[
            Attribute::Token(false),
            Attribute::Label(b"no class".to_vec()),
        ]),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
        ]),
        RvError::TemplateIncomplete,
    );
    expect_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::VendorDefined((AttributeType::Token, vec![1, 0])),
        ]),
        RvError::AttributeValueInvalid,
    );
    expect_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(b"0123456789abcdef".to_vec()),
            Attribute::Token(false),
            Attribute::VendorDefined((AttributeType::VendorDefined(UNKNOWN_ATTR), vec![1])),
        ]),
        RvError::AttributeTypeInvalid,
    );
    let data = s
        .create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(false)])
        .expect("data object");
    expect_rv(
        s.update_attributes(data, &[Attribute::Class(ObjectClass::SECRET_KEY)]),
        RvError::AttributeReadOnly,
    );
    let k = aes_key(&s, &[Attribute::Token(false)]);
    expect_rv(
        s.update_attributes(k, &[Attribute::Local(false)]),
        RvError::AttributeReadOnly,
    );
    expect_rv(
        s.update_attributes(k, &[Attribute::KeyType(KeyType::GENERIC_SECRET)]),
        RvError::AttributeReadOnly,
    );
    expect_rv(
        s.update_attributes(
            k,
            &[Attribute::VendorDefined((
                AttributeType::VendorDefined(UNKNOWN_ATTR),
                vec![1],
            ))],
        ),
        RvError::AttributeTypeInvalid,
    );
    assert_type_invalid(&s, k, AttributeType::VendorDefined(UNKNOWN_ATTR));
    assert_type_invalid(&s, k, AttributeType::Modulus);
}

#[test]
fn sensitive_and_extractable_are_one_way() {
    let (_h, s) = ready_user();
    let k = aes_key(
        &s,
        &[
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ],
    );
    assert!(!attr_bool(&s, k, AttributeType::AlwaysSensitive));
    assert!(!attr_bool(&s, k, AttributeType::NeverExtractable));
    assert_eq!(
        attr_bytes(&s, k, AttributeType::Value).len(),
        32,
        "non-sensitive value readable"
    );

    s.update_attributes(k, &[Attribute::Sensitive(true)])
        .expect("SENSITIVE false -> true");
    assert_sensitive(&s, k, AttributeType::Value);
    expect_rv(
        s.update_attributes(k, &[Attribute::Sensitive(false)]),
        RvError::AttributeReadOnly,
    );
    assert!(
        !attr_bool(&s, k, AttributeType::AlwaysSensitive),
        "ALWAYS_SENSITIVE stays false"
    );

    s.update_attributes(k, &[Attribute::Extractable(false)])
        .expect("EXTRACTABLE true -> false");
    expect_rv(
        s.update_attributes(k, &[Attribute::Extractable(true)]),
        RvError::AttributeReadOnly,
    );
    assert!(
        !attr_bool(&s, k, AttributeType::NeverExtractable),
        "NEVER_EXTRACTABLE stays false"
    );

    // Not sensitive but unextractable: the value is still withheld.
    let k2 = aes_key(
        &s,
        &[
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(false),
        ],
    );
    assert_sensitive(&s, k2, AttributeType::Value);
}

#[test]
fn id_and_label_modifiable_after_generation() {
    let (_h, s) = ready_user();
    let (pubk, privk) = ec_pair(&s, P256_PARAMS, "before");
    for o in [pubk, privk] {
        s.update_attributes(
            o,
            &[
                Attribute::Id(vec![0xaa, 0xbb]),
                Attribute::Label(b"after".to_vec()),
            ],
        )
        .expect("set CKA_ID and CKA_LABEL");
    }
    let mut found = s
        .find_objects(&[Attribute::Id(vec![0xaa, 0xbb])])
        .expect("find by new id");
    found.sort_by_key(|o| o.handle());
    let mut want = vec![pubk, privk];
    want.sort_by_key(|o| o.handle());
    assert_eq!(found, want);
    assert!(
        s.find_objects(&[Attribute::Id(vec![0x01])])
            .expect("find")
            .is_empty()
    );
    assert!(find_by_label(&s, "before").is_empty());
    assert_eq!(find_by_label(&s, "after").len(), 2);
    let found = s
        .find_objects(&[
            Attribute::Id(vec![0xaa, 0xbb]),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ])
        .expect("find");
    assert_eq!(found, vec![privk]);
    s.sign(&Mechanism::EcdsaSha256, privk, MSG)
        .expect("renamed key still signs");
}

#[test]
fn certificate_with_vendor_attribute() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    const CKA_NSS_EMAIL: u64 = 0xCE53_4351;
    let cert = s
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"nss-cert".to_vec()),
            Attribute::Subject(unhex("3011310f300d06035504030c066b6579776172")),
            Attribute::Id(vec![0x42]),
            Attribute::Value(unhex("3003020101")),
            Attribute::VendorDefined((
                AttributeType::VendorDefined(CKA_NSS_EMAIL),
                b"user@example.org".to_vec(),
            )),
        ])
        .expect("certificate with a vendor attribute");
    assert!(
        !attr_bool(&s, cert, AttributeType::Private),
        "certificates default to public"
    );
    s.logout().expect("logout");
    let found = find_by_label(&s, "nss-cert");
    assert_eq!(found, vec![cert], "visible without login");
    assert_eq!(
        attr_bytes(&s, cert, AttributeType::VendorDefined(CKA_NSS_EMAIL)),
        b"user@example.org"
    );
    let found = s
        .find_objects(&[Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_NSS_EMAIL),
            b"user@example.org".to_vec(),
        ))])
        .expect("find by vendor attribute");
    assert_eq!(found, vec![cert]);
}

#[test]
fn copy_destroy_modify_permissions() {
    let mut h = Harness::new();
    h.ready();
    {
        let s = h.user_session();
        let orig = s
            .create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Label(b"original".to_vec()),
                Attribute::Value(b"v".to_vec()),
            ])
            .expect("token data object");
        let copy = s
            .copy_object(orig, &[Attribute::Token(false)])
            .expect("copy to session object");
        assert_ne!(copy, orig);
        assert!(!attr_bool(&s, copy, AttributeType::Token));
        assert_eq!(attr_bytes(&s, copy, AttributeType::Label), b"original");
        assert_eq!(find_by_label(&s, "original").len(), 2);

        let locked = |extra: Attribute| {
            s.create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(false),
                extra,
            ])
            .expect("data object")
        };
        let nocopy = locked(Attribute::Copyable(false));
        expect_rv(s.copy_object(nocopy, &[]), RvError::ActionProhibited);
        let nodestroy = locked(Attribute::Destroyable(false));
        expect_rv(s.destroy_object(nodestroy), RvError::ActionProhibited);
        let nomodify = locked(Attribute::Modifiable(false));
        expect_rv(
            s.update_attributes(nomodify, &[Attribute::Label(b"x".to_vec())]),
            RvError::ActionProhibited,
        );
        s.destroy_object(nomodify)
            .expect("unmodifiable objects can still be destroyed");

        let k = aes_key(
            &s,
            &[Attribute::Token(true), Attribute::Label(b"key".to_vec())],
        );
        let kc = s
            .copy_object(k, &[Attribute::Token(false)])
            .expect("copy a key");
        assert!(
            attr_bool(&s, kc, AttributeType::Sensitive),
            "copy keeps CKA_SENSITIVE"
        );
        expect_rv(
            s.copy_object(k, &[Attribute::Sensitive(false)]),
            RvError::AttributeReadOnly,
        );
    }
    h.restart();
    let s = h.user_session();
    assert_eq!(
        find_by_label(&s, "original").len(),
        1,
        "session copy gone after restart"
    );
    assert_eq!(find_by_label(&s, "key").len(), 1);
}

#[test]
fn public_key_and_data_defaults() {
    let (_h, s) = ready_user();
    let data = s
        .create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(false)])
        .expect("data object");
    assert!(!attr_bool(&s, data, AttributeType::Private));
    assert!(attr_bool(&s, data, AttributeType::Modifiable));
    let k = imported_secret(&s, b"0123456789abcdef", &[]);
    assert!(
        attr_bool(&s, k, AttributeType::Private),
        "secret keys default to private"
    );
    assert!(attr_bool(&s, k, AttributeType::Copyable));
    assert!(attr_bool(&s, k, AttributeType::Destroyable));
    s.logout().expect("logout");
    assert!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .expect("find")
            .is_empty()
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
}
