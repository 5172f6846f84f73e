//! The `[policy]` config section through the C ABI (issue 5): key size,
//! curves, mechanisms, SHA-1 signatures, key separation, extractability
//! and the longest cryptoperiod; each refusal leaves an audit record
//! naming its rule.

mod common;

use common::lifecycle::*;
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;
use sha2::Digest as _;

const MSG: &[u8] = b"policy test message";

/// An RSA public key by value with a `bits`-bit (odd) modulus.
fn rsa_public(bits: usize) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, &vec![0xa5; bits / 8])
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .bool(CKA_TOKEN, false)
        .bool(CKA_VERIFY, true)
}

#[test]
fn policy_min_rsa_bits_refuses_and_audits_weak_keys() {
    let m = Module::start("[policy]\nmin_rsa_bits = 3072\n");
    let s = m.ready();
    let rule = "min_rsa_bits";
    // C_CreateObject may not answer CKR_KEY_SIZE_RANGE (PKCS#11 3.0
    // §5.7): the modulus is an attribute value the token refuses.
    err(
        s.create(rsa_public(1024)),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "RSA-1024 import",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_ATTRIBUTE_VALUE_INVALID", rule);
    err(
        rsa(&s, 2048, Tmpl::new().bool(CKA_SIGN, true)),
        CKR_KEY_SIZE_RANGE,
        "RSA-2048 generation under min_rsa_bits = 3072",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", rule);
    ok(s.create(rsa_public(3072)), "RSA-3072 import");
}

/// The brief's case: RSA-1024 generation with min_rsa_bits = 2048 is
/// refused, and like every policy refusal it leaves an audit record.
#[test]
fn policy_min_rsa_bits_audits_rsa_1024_generation() {
    let m = Module::start("[policy]\nmin_rsa_bits = 2048\n");
    let s = m.ready();
    err(
        rsa(&s, 1024, Tmpl::new().bool(CKA_SIGN, true)),
        CKR_KEY_SIZE_RANGE,
        "RSA-1024 generation",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_KEY_SIZE_RANGE", "min_rsa_bits");
}

/// A P-384 (or P-256) private key by value: 0x01 repeated is a valid
/// scalar of both curves.
fn ec_private(params: &[u8], len: usize) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_VALUE, &vec![1u8; len])
        .bool(CKA_TOKEN, false)
        .bool(CKA_SIGN, true)
}

#[test]
fn policy_allowed_curves() {
    let m = Module::start("[policy]\nallowed_curves = [\"P-256\"]\n");
    let s = m.ready();
    err(
        ec(&s, common::P384_PARAMS, "p384", false, |t| t),
        CKR_CURVE_NOT_SUPPORTED,
        "P-384 generation",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_CURVE_NOT_SUPPORTED",
        "allowed_curves",
    );
    let seq = m.last_audit().seq;
    err(
        s.create(ec_private(common::P384_PARAMS, 48)),
        CKR_CURVE_NOT_SUPPORTED,
        "P-384 import",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_CURVE_NOT_SUPPORTED",
        "allowed_curves",
    );
    assert!(
        m.last_audit().seq > seq,
        "the import refusal has its own record"
    );
    ok(
        ec(&s, common::P256_PARAMS, "p256", false, |t| t),
        "P-256 generation",
    );
    ok(
        s.create(ec_private(common::P256_PARAMS, 32)),
        "P-256 import",
    );
}

#[test]
fn policy_allowed_mechanisms() {
    let m = Module::start(
        "[policy]\nallowed_mechanisms = [\"CKM_EC_KEY_PAIR_GEN\", \"CKM_ECDSA_SHA256\"]\n",
    );
    let s = m.ready();
    let (_, privk) = ok(ec(&s, common::P256_PARAMS, "m", false, |t| t), "EC");
    err(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA384), privk),
        CKR_MECHANISM_INVALID,
        "CKM_ECDSA_SHA384 not allowed",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "allowed_mechanisms",
    );
    ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), privk, MSG),
        "CKM_ECDSA_SHA256",
    );
    // What the policy does not name is not offered either: the list holds
    // exactly the two, and C_GetMechanismInfo knows no other.
    let mut list = ok(s.mechanism_list(0), "C_GetMechanismList");
    list.sort_unstable();
    assert_eq!(list, vec![CKM_EC_KEY_PAIR_GEN, CKM_ECDSA_SHA256]);
    ok(s.mechanism_info(0, CKM_ECDSA_SHA256), "allowed");
    err(
        s.mechanism_info(0, CKM_ECDSA_SHA384),
        CKR_MECHANISM_INVALID,
        "not named by allowed_mechanisms",
    );
}

#[test]
fn sha1_signing_refused_by_default_but_sha1_verification_works() {
    let m = Module::start("");
    let s = m.ready();
    let digest = sha1::Sha1::digest(MSG).to_vec();
    let (ec_pub, ec_priv) = ok(ec(&s, common::P256_PARAMS, "sha1", false, |t| t), "EC");
    err(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA1), ec_priv),
        CKR_MECHANISM_INVALID,
        "CKM_ECDSA_SHA1 sign",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "sha1_signatures",
    );
    // A SHA-1 ECDSA signature made from the digest verifies as one.
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA), ec_priv, &digest),
        "raw ECDSA",
    );
    ok(
        s.verify_once(&Mech::new(CKM_ECDSA_SHA1), ec_pub, MSG, &sig),
        "ECDSA-SHA1 verify",
    );

    let (rsa_pub, rsa_priv) = ok(rsa(&s, 2048, Tmpl::new().bool(CKA_SIGN, true)), "RSA");
    err(
        s.sign_init(&Mech::new(CKM_SHA1_RSA_PKCS), rsa_priv),
        CKR_MECHANISM_INVALID,
        "CKM_SHA1_RSA_PKCS sign",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "sha1_signatures",
    );
    let mut info = common::unhex("3021300906052b0e03021a05000414");
    info.extend_from_slice(&digest);
    let sig = ok(
        s.sign_once(&Mech::new(CKM_RSA_PKCS), rsa_priv, &info),
        "raw PKCS#1",
    );
    ok(
        s.verify_once(&Mech::new(CKM_SHA1_RSA_PKCS), rsa_pub, MSG, &sig),
        "SHA1-RSA verify",
    );
}

#[test]
fn policy_strict_key_separation() {
    let m = Module::start("[policy]\nstrict_key_separation = true\n");
    let s = m.ready();
    err(
        rsa(
            &s,
            2048,
            Tmpl::new().bool(CKA_SIGN, true).bool(CKA_DECRYPT, true),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "RSA private key that signs and decrypts",
    );
    let rule = "strict_key_separation";
    assert_refusal_audited(&m, "policy_refusal", "CKR_TEMPLATE_INCONSISTENT", rule);
    let k = ok(
        aes(&s, "sep", true, |t| {
            t.bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_SIGN, false)
        }),
        "AES for encryption only",
    );
    err(
        s.set_attr(k, Tmpl::new().bool(CKA_SIGN, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "C_SetAttributeValue making it sign too",
    );
    assert_refusal_audited(&m, "policy_refusal", "CKR_TEMPLATE_INCONSISTENT", rule);
    assert!(
        !s.attr_bool(k, CKA_SIGN),
        "the refused change was not applied"
    );
}

#[test]
fn policy_allow_extractable_false() {
    let m = Module::start("[policy]\nallow_extractable = false\n");
    let s = m.ready();
    err(
        aes(&s, "x", true, |t| t.bool(CKA_EXTRACTABLE, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "extractable secret key",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_TEMPLATE_INCONSISTENT",
        "allow_extractable",
    );
    ok(
        aes(&s, "x", true, |t| t.bool(CKA_EXTRACTABLE, false)),
        "non-extractable key",
    );
}

#[test]
fn policy_max_cryptoperiod_for_secret_keys() {
    let m = Module::start("[policy.max_cryptoperiod_days]\nsecret_key = 30\n");
    let s = m.ready();
    let k = ok(
        aes(&s, "period", true, |t| t.bool(CKA_ENCRYPT, true)),
        "AES without end date",
    );
    assert_eq!(
        s.attr_ok(k, CKA_END_DATE),
        date_from_today(30),
        "default end date"
    );
    let far = date_from_today(60);
    err(
        aes(&s, "far", true, |t| t.bytes(CKA_END_DATE, &far)),
        CKR_TEMPLATE_INCONSISTENT,
        "end date 60 days away",
    );
    let rule = "max_cryptoperiod_days";
    assert_refusal_audited(&m, "policy_refusal", "CKR_TEMPLATE_INCONSISTENT", rule);
    let near = date_from_today(10);
    let k = ok(
        aes(&s, "near", true, |t| t.bytes(CKA_END_DATE, &near)),
        "end date in 10 days",
    );
    assert_eq!(s.attr_ok(k, CKA_END_DATE), near);
}

/// One registry answers for the mechanism list, the mechanism info and
/// the operations (issue 12): `min_rsa_bits` sets the floor that
/// C_GetMechanismInfo reports for every RSA mechanism, and the same floor
/// is what generation, signing and verification accept — with 1024 a
/// 1024-bit key works end to end (the era of python-pkcs11's suite; before
/// the registry, the list said 2048 whatever the policy and a 1024-bit
/// key was refused at C_GenerateKeyPair and C_SignInit), with the default
/// the module says 2048.
#[test]
fn min_rsa_bits_is_what_mechanism_info_reports_and_operations_accept() {
    let rsa_mechs = [
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP,
    ];
    let floor = |s: &Sess| -> Vec<CK_ULONG> {
        rsa_mechs
            .iter()
            .map(|&mech| ok(s.mechanism_info(0, mech), "C_GetMechanismInfo").ulMinKeySize)
            .collect()
    };
    {
        let m = Module::start("[policy]\nmin_rsa_bits = 1024\n");
        let s = m.ready();
        assert_eq!(floor(&s), [1024; 5]);
        let (public, private) = ok(
            rsa(&s, 1024, Tmpl::new().bool(CKA_SIGN, true)),
            "RSA-1024 generation under min_rsa_bits = 1024",
        );
        let mech = Mech::new(CKM_SHA256_RSA_PKCS);
        let sig = ok(s.sign_once(&mech, private, MSG), "RSA-1024 sign");
        assert_eq!(sig.len(), 128);
        ok(s.verify_once(&mech, public, MSG, &sig), "RSA-1024 verify");
    }
    {
        let m = Module::start("");
        let s = m.ready();
        assert_eq!(floor(&s), [2048; 5]);
        err(
            rsa(&s, 1024, Tmpl::new().bool(CKA_SIGN, true)),
            CKR_KEY_SIZE_RANGE,
            "RSA-1024 generation under the default policy",
        );
    }
}
