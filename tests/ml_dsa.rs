//! ML-DSA (FIPS 204, PKCS#11 3.2 §6.67) through the C ABI: CKK_ML_DSA key
//! pairs from CKM_ML_DSA_KEY_PAIR_GEN (parameter set in the public
//! template), keys imported from CKA_SEED / CKA_VALUE, CKM_ML_DSA with and
//! without CK_SIGN_ADDITIONAL_CONTEXT, known answers, and the refusals.

mod common;

use common::lifecycle::*;
use common::mech::{Mech, ulong};
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;

const SETS: [(CK_ULONG, usize, usize); 3] = [
    (CKP_ML_DSA_44, 1312, 2420),
    (CKP_ML_DSA_65, 1952, 3309),
    (CKP_ML_DSA_87, 2592, 4627),
];

/// The SubjectPublicKeyInfo header before the raw public key
/// (SEQUENCE, AlgorithmIdentifier, BIT STRING header and unused-bits byte).
const SPKI_HEADER: usize = 22;

fn pair(s: &Sess, set: CK_ULONG) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ok(
        s.generate_pair(
            &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_PARAMETER_SET, set)
                .bool(CKA_TOKEN, false)
                .bool(CKA_VERIFY, true),
            Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_SIGN, true),
        ),
        "C_GenerateKeyPair(CKM_ML_DSA_KEY_PAIR_GEN)",
    )
}

fn private_from_seed(s: &Sess, set: CK_ULONG, seed: &[u8]) -> common::ops::Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
            .ulong(CKA_PARAMETER_SET, set)
            .bytes(CKA_SEED, seed)
            .bool(CKA_TOKEN, false)
            .bool(CKA_SIGN, true),
    )
}

fn public_from_value(s: &Sess, set: CK_ULONG, value: &[u8]) -> common::ops::Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
            .ulong(CKA_PARAMETER_SET, set)
            .bytes(CKA_VALUE, value)
            .bool(CKA_TOKEN, false)
            .bool(CKA_VERIFY, true),
    )
}

/// The raw public key a key object shows in its CKA_PUBLIC_KEY_INFO.
fn public_of(s: &Sess, k: CK_OBJECT_HANDLE) -> Vec<u8> {
    s.attr_ok(k, CKA_PUBLIC_KEY_INFO)[SPKI_HEADER..].to_vec()
}

#[test]
fn mechanism_info_in_public_key_bytes() {
    let m = Module::start("");
    let s = m.ready();
    let list = ok(s.mechanism_list(0), "C_GetMechanismList");
    assert!(list.contains(&CKM_ML_DSA_KEY_PAIR_GEN) && list.contains(&CKM_ML_DSA));
    let gen_info = ok(s.mechanism_info(0, CKM_ML_DSA_KEY_PAIR_GEN), "info");
    assert_eq!(gen_info.flags, CKF_GENERATE_KEY_PAIR);
    let sig = ok(s.mechanism_info(0, CKM_ML_DSA), "info");
    assert_eq!(sig.flags, CKF_SIGN | CKF_VERIFY);
    for i in [gen_info, sig] {
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1312, 2592));
    }
}

#[test]
fn generated_pairs_sign_and_verify() {
    let m = Module::start("");
    let s = m.ready();
    for (set, pk_len, sig_len) in SETS {
        let (public, private) = pair(&s, set);
        assert_eq!(s.attr_ulong(public, CKA_KEY_TYPE), CKK_ML_DSA);
        assert_eq!(s.attr_ulong(public, CKA_PARAMETER_SET), set);
        assert_eq!(s.attr_ulong(private, CKA_PARAMETER_SET), set);
        assert_eq!(
            s.attr_ulong(private, CKA_KEY_GEN_MECHANISM),
            CKM_ML_DSA_KEY_PAIR_GEN
        );
        assert!(s.attr_bool(private, CKA_LOCAL));
        let value = s.attr_ok(public, CKA_VALUE);
        assert_eq!(value.len(), pk_len);
        assert_eq!(public_of(&s, private), value);
        // The seed is key material: sensitive by default.
        err(
            s.attr(private, CKA_SEED),
            CKR_ATTRIBUTE_SENSITIVE,
            "CKA_SEED",
        );
        assert!(s.attr_bool(private, CKA_ALWAYS_SENSITIVE));

        let mech = Mech::new(CKM_ML_DSA);
        // The length protocol: NULL query, short buffer, then the signature.
        ok(s.sign_init(&mech, private), "C_SignInit");
        let mut data = b"message".to_vec();
        let p = protocol(sig_len, |out, n| {
            // SAFETY: valid session, buffers from `protocol`.
            unsafe { s.f.C_Sign.unwrap()(s.h, data.as_mut_ptr(), ulong(data.len()), out, n) }
        });
        assert_eq!(p.queried, sig_len);
        assert_eq!(p.short.map(|(r, _)| r), Some(CKR_BUFFER_TOO_SMALL));
        assert!(p.short.is_some_and(|(_, n)| n >= sig_len));
        let sig = p.out;
        assert_eq!(sig.len(), sig_len);
        ok(s.verify_once(&mech, public, b"message", &sig), "verify");
        err(
            s.verify_once(&mech, public, b"messagf", &sig),
            CKR_SIGNATURE_INVALID,
            "other message",
        );
        let mut altered = sig.clone();
        altered[7] ^= 1;
        err(
            s.verify_once(&mech, public, b"message", &altered),
            CKR_SIGNATURE_INVALID,
            "altered signature",
        );
        err(
            s.verify_once(&mech, public, b"message", &sig[..sig_len - 1]),
            CKR_SIGNATURE_LEN_RANGE,
            "short signature",
        );
        let mut long = sig.clone();
        long.push(0);
        err(
            s.verify_once(&mech, public, b"message", &long),
            CKR_SIGNATURE_LEN_RANGE,
            "long signature",
        );

        // With a context: bound into the signature.
        let ctx = Mech::sign_context(CKM_ML_DSA, CKH_HEDGE_REQUIRED, b"my context");
        let sig = ok(s.sign_once(&ctx, private, b"message"), "sign with context");
        ok(s.verify_once(&ctx, public, b"message", &sig), "verify");
        err(
            s.verify_once(&mech, public, b"message", &sig),
            CKR_SIGNATURE_INVALID,
            "verify without the context",
        );
        // The hedge variant is ignored on verification.
        let det_ctx = Mech::sign_context(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, b"my context");
        ok(s.verify_once(&det_ctx, public, b"message", &sig), "verify");
    }
}

#[test]
fn hedged_and_deterministic_signatures() {
    let m = Module::start("");
    let s = m.ready();
    let (_, private) = pair(&s, CKP_ML_DSA_44);
    let det = Mech::sign_context(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, &[]);
    let a = ok(s.sign_once(&det, private, b"m"), "deterministic");
    let b = ok(s.sign_once(&det, private, b"m"), "deterministic");
    assert_eq!(a, b);
    for hedge in [CKH_HEDGE_PREFERRED, CKH_HEDGE_REQUIRED] {
        let h = Mech::sign_context(CKM_ML_DSA, hedge, &[]);
        let a = ok(s.sign_once(&h, private, b"m"), "hedged");
        let b = ok(s.sign_once(&h, private, b"m"), "hedged");
        assert_ne!(a, b, "hedge {hedge}");
    }
    let a = ok(
        s.sign_once(&Mech::new(CKM_ML_DSA), private, b"m"),
        "no param",
    );
    let b = ok(
        s.sign_once(&Mech::new(CKM_ML_DSA), private, b"m"),
        "no param",
    );
    assert_ne!(a, b, "no parameter is CKH_HEDGE_PREFERRED, hedged here");
}

#[test]
fn bad_parameters_and_key_types() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = pair(&s, CKP_ML_DSA_65);
    let long = Mech::sign_context(CKM_ML_DSA, CKH_HEDGE_PREFERRED, &[1; 256]);
    err(
        s.sign_init(&long, private),
        CKR_MECHANISM_PARAM_INVALID,
        "256-byte context",
    );
    err(
        s.verify_init(&long, public),
        CKR_MECHANISM_PARAM_INVALID,
        "256-byte context",
    );
    let max = Mech::sign_context(CKM_ML_DSA, CKH_HEDGE_PREFERRED, &[1; 255]);
    let sig = ok(s.sign_once(&max, private, b"x"), "255-byte context");
    ok(s.verify_once(&max, public, b"x", &sig), "verify");
    let bad_hedge = Mech::sign_context(CKM_ML_DSA, 3, b"ctx");
    err(
        s.sign_init(&bad_hedge, private),
        CKR_MECHANISM_PARAM_INVALID,
        "hedge 3",
    );
    // A parameter of the wrong size.
    let flat = Mech::bytes(CKM_ML_DSA, &[0; 5]);
    err(
        s.sign_init(&flat, private),
        CKR_MECHANISM_PARAM_INVALID,
        "truncated parameter",
    );

    // PKCS#11 3.2 §6.67: C_Sign in parts, C_Verify single-part only (in
    // parts through C_VerifySignature*, tests/interface_3_2.rs's kind).
    let message = b"signed in three parts";
    let det = Mech::sign_context(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, b"");
    let whole = ok(s.sign_once(&det, private, message), "C_Sign");
    ok(s.sign_init(&det, private), "C_SignInit");
    for part in [&message[..6], &message[6..11], &message[11..]] {
        ok(s.sign_update(part), "C_SignUpdate");
    }
    let parts = ok(s.sign_final(), "C_SignFinal");
    assert_eq!(parts, whole, "deterministic: the same signature in parts");
    ok(
        s.verify_once(&Mech::new(CKM_ML_DSA), public, message, &parts),
        "verifies",
    );
    ok(
        s.verify_init(&Mech::new(CKM_ML_DSA), public),
        "C_VerifyInit",
    );
    err(
        s.verify_update(b"x"),
        CKR_FUNCTION_NOT_SUPPORTED,
        "C_VerifyUpdate",
    );
    m.restart();
    let s = m.ready();
    let (public, private) = pair(&s, CKP_ML_DSA_65);
    // The halves of the pair for the other operation: they do not carry
    // the usage attribute.
    err(
        s.sign_init(&Mech::new(CKM_ML_DSA), public),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "a public key to sign",
    );
    err(
        s.verify_init(&Mech::new(CKM_ML_DSA), private),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "a private key to verify",
    );
    // Wrong key types both ways.
    let (ec_pub, ec_priv) = ec_pair(&s, CKM_EC_KEY_PAIR_GEN, common::P256_PARAMS, |t| t, |t| t);
    err(
        s.sign_init(&Mech::new(CKM_ML_DSA), ec_priv),
        CKR_KEY_TYPE_INCONSISTENT,
        "an EC key with CKM_ML_DSA",
    );
    err(
        s.verify_init(&Mech::new(CKM_ML_DSA), ec_pub),
        CKR_KEY_TYPE_INCONSISTENT,
        "an EC key with CKM_ML_DSA",
    );
    err(
        s.sign_init(&Mech::new(CKM_ECDSA), private),
        CKR_KEY_TYPE_INCONSISTENT,
        "an ML-DSA key with CKM_ECDSA",
    );
}

#[test]
fn generation_template_rules() {
    let m = Module::start("");
    let s = m.ready();
    let make = |public: Tmpl, private: Tmpl| {
        s.generate_pair(&Mech::new(CKM_ML_DSA_KEY_PAIR_GEN), public, private)
    };
    let session = || Tmpl::new().bool(CKA_TOKEN, false);
    err(
        make(session(), session()),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_PARAMETER_SET",
    );
    err(
        make(session().ulong(CKA_PARAMETER_SET, 4), session()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "unknown parameter set",
    );
    err(
        make(session().ulong(CKA_PARAMETER_SET, 0), session()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "parameter set 0",
    );
    // Only in the private template: the public one must carry it.
    err(
        make(session(), session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)),
        CKR_TEMPLATE_INCOMPLETE,
        "parameter set in the private template only",
    );
    err(
        make(
            session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
            session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "contradicting private template",
    );
    let (_, private) = ok(
        make(
            session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_87),
            session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_87),
        ),
        "repeating the parameter set",
    );
    assert_eq!(s.attr_ulong(private, CKA_PARAMETER_SET), CKP_ML_DSA_87);
    err(
        make(
            session().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
            session().bytes(CKA_SEED, &[1; 32]),
        ),
        CKR_ATTRIBUTE_READ_ONLY,
        "a seed in the generation template",
    );
    err(
        make(
            session()
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bytes(CKA_EC_PARAMS, common::P256_PARAMS),
            session(),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "an EC attribute on an ML-DSA key",
    );
}

/// Known answers from Wycheproof (C2SP/wycheproof,
/// testvectors_v1/mldsa_{44,65,87}_sign_seed_test.json, commit 022eeaf):
/// privateSeed 2a…2a, tcId 1 "baseline" (msg "Hello world", no context)
/// and, for ML-DSA-44, tcId 3 (context "Context"). Signatures there are
/// deterministic (rnd = 0^32). The signature begins with c~, the hash
/// of μ = H(H(pk) ‖ M′) and w1: matching it checks the key expansion
/// from the seed (pk through tr) and the signing; the tail (the hint
/// encoding) is compared too. The public key begins with ρ.
#[test]
fn wycheproof_seed_known_answers() {
    let seed = [0x2a; 32];
    let msg = common::unhex("48656c6c6f20776f726c64");
    let cases: [(CK_ULONG, &[u8], &str, &str, &str); 4] = [
        (
            CKP_ML_DSA_44,
            b"",
            "db9ac67708f2ba0fac1f92bd802f9be89ecab966feef59872a1a9ac90b111117",
            "1aa69cb5ed35204534f25f40a17eb0d767f8981f5e7cec46d3bf3252bfc78e09",
            "00000000121f323e",
        ),
        (
            CKP_ML_DSA_44,
            b"Context",
            "db9ac67708f2ba0fac1f92bd802f9be89ecab966feef59872a1a9ac90b111117",
            "e11d24772c24efc107ae3abb0149817436f11684d3548748cba19fc0b373ddcb",
            "",
        ),
        (
            CKP_ML_DSA_65,
            b"",
            "",
            "69da5aec6d5f58fbf29439c520bd68b966e3dd2ca633b68351c2862344713a1e\
             9c086a44f9a870a3ccc14de62d6c12b2",
            "000005101318212b",
        ),
        (
            CKP_ML_DSA_87,
            b"",
            "",
            "ba4275ff54c22d2d09ea1937a0667362acd44925c6d6965fad350b111d1cbcce\
             68ddbd0e576d1a8810eb4e71623781f32f747d44c8e693749df191682f588906",
            "070a111518202731",
        ),
    ];
    let m = Module::start("");
    let s = m.ready();
    for (set, ctx, rho, c_tilde, tail) in cases {
        let private = ok(
            private_from_seed(&s, set, &seed),
            "C_CreateObject(CKA_SEED)",
        );
        let pk = public_of(&s, private);
        assert!(
            pk.starts_with(&common::unhex(rho)),
            "{set}: ρ of the public key"
        );
        let det = Mech::sign_context(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, ctx);
        let sig = ok(s.sign_once(&det, private, &msg), "deterministic sign");
        let want = common::unhex(&c_tilde.replace(char::is_whitespace, ""));
        assert_eq!(
            common::hex(&sig[..want.len()]),
            common::hex(&want),
            "{set}: c~"
        );
        assert!(sig.ends_with(&common::unhex(tail)), "{set}: hint tail");
        let public = ok(public_from_value(&s, set, &pk), "C_CreateObject(CKA_VALUE)");
        assert_eq!(s.attr_ok(public, CKA_VALUE), pk);
        ok(
            s.verify_once(&det, public, &msg, &sig),
            "verify the known answer",
        );
    }
}

#[test]
fn import_rules() {
    let m = Module::start("");
    let s = m.ready();
    err(
        private_from_seed(&s, CKP_ML_DSA_44, &[1; 31]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "31-byte seed",
    );
    err(
        private_from_seed(&s, 9, &[1; 32]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "unknown parameter set",
    );
    // Only the expanded form: kept in seed form here, so refused.
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bytes(CKA_VALUE, &[1; 2560])
                .bool(CKA_TOKEN, false),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "expanded key without its seed",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bytes(CKA_SEED, &[1; 32])
                .bytes(CKA_VALUE, &[1; 2560])
                .bool(CKA_TOKEN, false),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "expanded key that is not the seed's",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .bytes(CKA_SEED, &[1; 32])
                .bool(CKA_TOKEN, false),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no parameter set",
    );
    err(
        public_from_value(&s, CKP_ML_DSA_65, &[1; 1312]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "an ML-DSA-44-sized key named ML-DSA-65",
    );
    // A public key of one set signed with a key of another: the signature
    // has the wrong length for it.
    let (_, private) = pair(&s, CKP_ML_DSA_44);
    let (public87, _) = pair(&s, CKP_ML_DSA_87);
    let sig = ok(s.sign_once(&Mech::new(CKM_ML_DSA), private, b"m"), "sign");
    err(
        s.verify_once(&Mech::new(CKM_ML_DSA), public87, b"m", &sig),
        CKR_SIGNATURE_LEN_RANGE,
        "ML-DSA-44 signature against an ML-DSA-87 key",
    );
}

#[test]
fn token_keys_survive_a_restart_in_seed_form() {
    let m = Module::start("");
    let s = m.ready();
    // An imported token key: its seed must not be in the token file
    // (it is a secret component, sealed like CKA_VALUE).
    let seed: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let imported = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bytes(CKA_SEED, &seed)
                .bool(CKA_TOKEN, true)
                // Not CKA_PRIVATE, so only its key material is sealed.
                .bool(CKA_PRIVATE, false),
        ),
        "token key from a seed",
    );
    assert!(s.attr_bool(imported, CKA_SENSITIVE));
    for (path, bytes) in m.file_bytes() {
        assert!(
            !bytes.windows(seed.len()).any(|w| w == seed.as_slice()),
            "the seed is in clear in {}",
            path.display()
        );
    }
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65)
                .bool(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"mldsa-token"),
            Tmpl::new()
                .bool(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"mldsa-token"),
        ),
        "token pair",
    );
    let pk = s.attr_ok(public, CKA_VALUE);
    let sig = ok(s.sign_once(&Mech::new(CKM_ML_DSA), private, b"m"), "sign");
    m.restart();
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "login");
    let found = ok(
        s.find(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .bytes(CKA_LABEL, b"mldsa-token"),
        ),
        "find",
    );
    let [private] = found[..] else {
        panic!("one private key expected, found {found:?}")
    };
    assert_eq!(public_of(&s, private), pk);
    let found = ok(
        s.find(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .bytes(CKA_LABEL, b"mldsa-token"),
        ),
        "find",
    );
    let [public] = found[..] else {
        panic!("one public key expected, found {found:?}")
    };
    ok(
        s.verify_once(&Mech::new(CKM_ML_DSA), public, b"m", &sig),
        "verify after restart",
    );
    let sig2 = ok(s.sign_once(&Mech::new(CKM_ML_DSA), private, b"m2"), "sign");
    ok(
        s.verify_once(&Mech::new(CKM_ML_DSA), public, b"m2", &sig2),
        "verify",
    );
}

/// C_WrapKey / C_UnwrapKey as PKCS#8 in the IETF seed form: the
/// Wycheproof key (seed 2a…2a) wraps to its `privateKeyPkcs8`
/// (C2SP/wycheproof testvectors_v1/mldsa_44_sign_seed_test.json), read
/// back by decrypting the AES-KWP wrapping with the same AES key; and that
/// PKCS#8, encrypted the same way, unwraps to a key that signs the known
/// answer.
#[test]
fn pkcs8_wrap_and_unwrap_in_seed_form() {
    let m = Module::start("");
    let s = m.ready();
    let kek_value =
        common::unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    let kek = ok(
        s.create(
            secret(CKK_AES, &kek_value)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "KEK",
    );
    let same = ok(
        s.create(aes_crypt(&kek_value)),
        "the KEK's value, to decrypt",
    );
    let kwp = Mech::new(CKM_AES_KEY_WRAP_KWP);
    let pkcs8 = common::unhex(&format!(
        "3034020100300b0609608648016503040311042280202a{}",
        "2a".repeat(31)
    ));
    let key = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bytes(CKA_SEED, &[0x2a; 32])
                .bool(CKA_EXTRACTABLE, true)
                // The default policy wraps sensitive keys only under a
                // CKA_TRUSTED key.
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_TOKEN, false),
        ),
        "extractable ML-DSA key",
    );
    // Not sensitive: the seed reads back; the expanded key is not kept.
    assert_eq!(s.attr_ok(key, CKA_SEED), [0x2a; 32]);
    err(
        s.attr(key, CKA_VALUE),
        CKR_ATTRIBUTE_TYPE_INVALID,
        "the expanded private key",
    );
    let wrapped = ok(s.wrap(&kwp, kek, key), "C_WrapKey(KWP, ML-DSA key)");
    let plain = ok(s.decrypt_once(&kwp, same, &wrapped), "decrypt the wrapping");
    assert_eq!(common::hex(&plain), common::hex(&pkcs8));

    let encrypted = ok(s.encrypt_once(&kwp, same, &pkcs8), "encrypt the PKCS#8");
    let unwrap = |t: Tmpl| s.unwrap(&kwp, kek, &encrypted, t);
    let base = || {
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .bool(CKA_TOKEN, false)
            .bool(CKA_SIGN, true)
    };
    let moved = ok(
        unwrap(
            base()
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
        ),
        "C_UnwrapKey(ML-DSA PKCS#8)",
    );
    assert_eq!(s.attr_ulong(moved, CKA_KEY_TYPE), CKK_ML_DSA);
    assert_eq!(s.attr_ulong(moved, CKA_PARAMETER_SET), CKP_ML_DSA_44);
    assert!(!s.attr_bool(moved, CKA_LOCAL));
    let det = Mech::sign_context(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, &[]);
    let sig = ok(
        s.sign_once(&det, moved, b"Hello world"),
        "sign with the unwrapped key",
    );
    assert_eq!(
        common::hex(&sig[..32]),
        "1aa69cb5ed35204534f25f40a17eb0d767f8981f5e7cec46d3bf3252bfc78e09"
    );
    err(
        unwrap(base().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65)),
        CKR_TEMPLATE_INCONSISTENT,
        "a parameter set the encoding contradicts",
    );
    err(
        unwrap(base().ulong(CKA_KEY_TYPE, CKK_EC)),
        CKR_TEMPLATE_INCONSISTENT,
        "a key type the encoding contradicts",
    );
    // The expanded-only form cannot be kept as a seed.
    let mut expanded_only = common::unhex("30820a3a020100300b060960864801650304031104820a24");
    expanded_only.extend_from_slice(&[0x04, 0x82, 0x0a, 0x00]);
    expanded_only.extend_from_slice(&[0; 2560]);
    let encrypted = ok(s.encrypt_once(&kwp, same, &expanded_only), "encrypt");
    err(
        s.unwrap(&kwp, kek, &encrypted, base()),
        CKR_WRAPPED_KEY_INVALID,
        "expanded-only ML-DSA private key",
    );
}

/// Runs tests/interop/ml_dsa_cryptography.py (pyca/cryptography's
/// ML-DSA); `None` when it is not available, which fails under CI=true.
fn python_mldsa(args: &[String]) -> Option<std::process::Output> {
    common::cross_check::run_script(
        "ml_dsa_cryptography.py",
        args,
        "python3 with cryptography >= 48",
    )
}

/// Cross-check with an independent implementation (pyca/cryptography,
/// OpenSSL's ML-DSA): the token's signatures (with and without context)
/// verify there, a key built there from a seed has the same public key
/// here, and its signatures verify through the token.
#[test]
fn interop_with_pyca_cryptography() {
    let m = Module::start("");
    let s = m.ready();
    let msg = b"interop message".to_vec();
    for (set, level) in [
        (CKP_ML_DSA_44, "44"),
        (CKP_ML_DSA_65, "65"),
        (CKP_ML_DSA_87, "87"),
    ] {
        let (public, private) = pair(&s, set);
        let pk = s.attr_ok(public, CKA_VALUE);
        for ctx in [&b""[..], b"interop context"] {
            let mech = Mech::sign_context(CKM_ML_DSA, CKH_HEDGE_REQUIRED, ctx);
            let sig = ok(s.sign_once(&mech, private, &msg), "token sign");
            let args = |sig: &[u8]| {
                ["verify", level]
                    .iter()
                    .map(|a| a.to_string())
                    .chain([&pk[..], &msg, ctx, sig].iter().map(|b| common::hex(b)))
                    .collect::<Vec<_>>()
            };
            let Some(out) = python_mldsa(&args(&sig)) else {
                return;
            };
            assert!(
                out.status.success(),
                "ML-DSA-{level}: cryptography rejects the token's signature: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // And the check there can fail: an altered signature.
            let mut bad = sig.clone();
            bad[0] ^= 0x80;
            let out = python_mldsa(&args(&bad)).expect("python ran once already");
            assert_eq!(out.status.code(), Some(1), "ML-DSA-{level}: altered");
        }

        // The other way: a key and signature made there.
        let seed: Vec<u8> = (0u8..32).map(|i| i ^ 0x5a).collect();
        let ctx = b"from python";
        let args: Vec<String> = ["sign", level]
            .iter()
            .map(|a| a.to_string())
            .chain([&seed[..], &msg, ctx].iter().map(|b| common::hex(b)))
            .collect();
        let out = python_mldsa(&args).expect("python ran once already");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let their_pk = common::unhex(lines.next().unwrap());
        let their_sig = common::unhex(lines.next().unwrap());
        let ours = ok(private_from_seed(&s, set, &seed), "the same seed here");
        assert_eq!(
            common::hex(&public_of(&s, ours)),
            common::hex(&their_pk),
            "ML-DSA-{level}: the same seed makes the same public key"
        );
        let theirs = ok(public_from_value(&s, set, &their_pk), "their public key");
        let mech = Mech::sign_context(CKM_ML_DSA, CKH_HEDGE_PREFERRED, ctx);
        ok(
            s.verify_once(&mech, theirs, &msg, &their_sig),
            "the token verifies cryptography's signature",
        );
        err(
            s.verify_once(&Mech::new(CKM_ML_DSA), theirs, &msg, &their_sig),
            CKR_SIGNATURE_INVALID,
            "without its context",
        );
    }
}

/// HashML-DSA (FIPS 204 §5.4): CKM_HASH_ML_DSA over the caller's hash
/// (CK_HASH_SIGN_ADDITIONAL_CONTEXT, single-part) and
/// CKM_HASH_ML_DSA_SHA256 hashing on the token (multi-part) make the same
/// deterministic signature; each verifies the other's; a pure ML-DSA
/// signature is not a HashML-DSA one; the refusals.
#[test]
fn hash_ml_dsa_through_the_c_abi() {
    use sha2::Digest as _;
    let m = Module::start("");
    let s = m.ready();
    for mech in [
        CKM_HASH_ML_DSA,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE256,
    ] {
        let i = ok(s.mechanism_info(0, mech), "info");
        assert_eq!(i.flags, CKF_SIGN | CKF_VERIFY, "{mech:#x}");
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1312, 2592));
    }
    let (public, private) = pair(&s, CKP_ML_DSA_65);
    let msg = b"a message hashed with SHA-256";
    let ph = sha2::Sha256::digest(msg).to_vec();
    let given = Mech::hash_sign_context(CKH_DETERMINISTIC_REQUIRED, b"ctx", CKM_SHA256);
    let sig = ok(s.sign_once(&given, private, &ph), "CKM_HASH_ML_DSA");
    assert_eq!(sig.len(), 3309);
    ok(s.verify_once(&given, public, &ph, &sig), "verify");

    let here = Mech::sign_context(CKM_HASH_ML_DSA_SHA256, CKH_DETERMINISTIC_REQUIRED, b"ctx");
    ok(s.sign_init(&here, private), "C_SignInit");
    for part in split(msg, &[3, 10]) {
        ok(s.sign_update(part), "C_SignUpdate");
    }
    let parts = ok(s.sign_final(), "C_SignFinal");
    assert_eq!(
        common::hex(&parts),
        common::hex(&sig),
        "hashed here or there"
    );
    ok(s.verify_init(&here, public), "C_VerifyInit");
    for part in split(msg, &[7]) {
        ok(s.verify_update(part), "C_VerifyUpdate");
    }
    ok(s.verify_final(&sig), "C_VerifyFinal");
    err(
        s.verify_once(&Mech::new(CKM_ML_DSA), public, msg, &sig),
        CKR_SIGNATURE_INVALID,
        "a HashML-DSA signature as ML-DSA",
    );
    err(
        s.verify_once(&Mech::new(CKM_HASH_ML_DSA_SHA384), public, msg, &sig),
        CKR_SIGNATURE_INVALID,
        "another hash",
    );

    // Refusals: no parameter for CKM_HASH_ML_DSA, an unknown hash, a
    // pre-hash of the wrong length, a long context.
    err(
        s.sign_init(&Mech::new(CKM_HASH_ML_DSA), private),
        CKR_MECHANISM_PARAM_INVALID,
        "CKM_HASH_ML_DSA without its parameter",
    );
    err(
        s.sign_init(
            &Mech::hash_sign_context(CKH_HEDGE_PREFERRED, b"", CKM_MD5),
            private,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "MD5 as the pre-hash",
    );
    err(
        s.sign_once(&given, private, &ph[1..]),
        CKR_DATA_LEN_RANGE,
        "a 31-byte SHA-256 pre-hash",
    );
    err(
        s.sign_init(
            &Mech::sign_context(CKM_HASH_ML_DSA_SHA256, CKH_HEDGE_PREFERRED, &[0; 256]),
            private,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "256-byte context",
    );
}
