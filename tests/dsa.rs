//! DSA (FIPS 186-4; PKCS#11 3.x "DSA") and DSA domain parameter objects
//! through the C ABI: CKM_DSA_PARAMETER_GEN and C_CreateObject domain
//! parameters, CKM_DSA_KEY_PAIR_GEN on them, CKM_DSA and CKM_DSA_SHA*
//! signatures (r || s) single- and multi-part, cross-checked with
//! pyca/cryptography both ways, the refusals, and the `dsa_signatures`
//! policy rule of the default profile.

mod common;

use common::lifecycle::*;
use common::mech::{Mech, ulong};
use common::ops::*;
use common::raw::Tmpl;
use common::{hex, unhex};
use cryptoki_sys::*;

/// The compat profile: DSA signing and generation allowed.
const COMPAT: &str = "[policy]\nprofile = \"compat\"\n";

/// DSA domain parameters (L = 1024, N = 160) from python-pkcs11 0.10.1's
/// tests/test_dsa.py (DHPARAMS, DER-decoded).
const P1024: &str = "fc8d749ab76b24fa3d2995a327e75015601584c9679edee8b796545472455c78320bb2355d06cd6d5c20e153b582f95659bbaba304764e3625dc41367a3ff8e19d8952ca31280537fb1a7b656e37804a6eb75d8cd3b781398bbbb5448e939842118fa553acce66e4314f7c343e7df9402739b4a614f7f20604e717dede69820d";
const Q160: &str = "c20c36bff896e7de1f8e8418a417567bed241019";
const G1024: &str = "dc4220a01f875fef32f23fdaced2d44486bb0be6bdb156a715b780d5efc8eda65a37c70b7b10af09b7a840f447bd67f5b20be95a912beb41132e95911fa52a27c0f2b3e766f0033cd06144b8600dce09bb06229d125250f775899c4909bba67ec72bdc5a755ee52709c311916a96afbac61143fe86df80797a68a2e41b8f656a";

fn p1024() -> Vec<u8> {
    unhex(P1024)
}

fn domain_template(p: &[u8], q: &[u8], g: &[u8]) -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
        .ulong(CKA_KEY_TYPE, CKK_DSA)
        .bytes(CKA_PRIME, p)
        .bytes(CKA_SUBPRIME, q)
        .bytes(CKA_BASE, g)
}

fn pair_on(s: &Sess, p: &[u8], q: &[u8], g: &[u8]) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
    s.generate_pair(
        &Mech::new(CKM_DSA_KEY_PAIR_GEN),
        Tmpl::new()
            .bytes(CKA_PRIME, p)
            .bytes(CKA_SUBPRIME, q)
            .bytes(CKA_BASE, g)
            .bool(CKA_TOKEN, false)
            .bool(CKA_VERIFY, true),
        Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_SIGN, true),
    )
}

fn public_key(s: &Sess, p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Rv<CK_OBJECT_HANDLE> {
    s.create(
        Tmpl::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_DSA)
            .bytes(CKA_PRIME, p)
            .bytes(CKA_SUBPRIME, q)
            .bytes(CKA_BASE, g)
            .bytes(CKA_VALUE, y)
            .bool(CKA_TOKEN, false)
            .bool(CKA_VERIFY, true),
    )
}

/// Runs tests/interop/ffdh_cryptography.py; `None` when python3 or
/// cryptography is missing (a failure under CI=true).
fn python(args: &[String]) -> Option<std::process::Output> {
    common::cross_check::run_script("ffdh_cryptography.py", args, "python3 with cryptography")
}

#[test]
fn mechanism_info() {
    let m = Module::start("");
    let s = m.ready();
    let list = ok(s.mechanism_list(0), "C_GetMechanismList");
    for (mech, flags) in [
        (CKM_DSA_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        (CKM_DSA_PARAMETER_GEN, CKF_GENERATE),
        (CKM_DSA, CKF_SIGN | CKF_VERIFY),
        (CKM_DSA_SHA1, CKF_SIGN | CKF_VERIFY),
        (CKM_DSA_SHA224, CKF_SIGN | CKF_VERIFY),
        (CKM_DSA_SHA256, CKF_SIGN | CKF_VERIFY),
        (CKM_DSA_SHA384, CKF_SIGN | CKF_VERIFY),
        (CKM_DSA_SHA512, CKF_SIGN | CKF_VERIFY),
    ] {
        assert!(list.contains(&mech), "{mech:#x} listed");
        let i = ok(s.mechanism_info(0, mech), "C_GetMechanismInfo");
        assert_eq!(i.flags, flags, "{mech:#x}");
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (1024, 3072), "{mech:#x}");
    }
}

/// C_CreateObject of DSA domain parameters: CKA_PRIME_BITS computed,
/// public (readable and found without login), and the bad values.
#[test]
fn domain_parameter_objects() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    let (p, q, g) = (p1024(), unhex(Q160), unhex(G1024));
    let d = ok(
        s.create(domain_template(&p, &q, &g).bool(CKA_TOKEN, true)),
        "C_CreateObject(CKO_DOMAIN_PARAMETERS)",
    );
    assert_eq!(s.attr_ulong(d, CKA_PRIME_BITS), 1024);
    assert_eq!(s.attr_ulong(d, CKA_CLASS), CKO_DOMAIN_PARAMETERS);
    assert_eq!(s.attr_ulong(d, CKA_KEY_TYPE), CKK_DSA);
    assert_eq!(s.attr_ok(d, CKA_PRIME), p);
    assert_eq!(s.attr_ok(d, CKA_SUBPRIME), q);
    assert_eq!(s.attr_ok(d, CKA_BASE), g);
    assert!(!s.attr_bool(d, CKA_LOCAL));
    assert!(!s.attr_bool(d, CKA_PRIVATE));
    // Read-only afterwards.
    err(
        s.set_attr(d, Tmpl::new().bytes(CKA_BASE, &[2])),
        CKR_ATTRIBUTE_READ_ONLY,
        "C_SetAttributeValue(CKA_BASE)",
    );
    // A public token object: found and read after logout.
    ok(s.logout(), "logout");
    let found = ok(
        s.find(Tmpl::new().ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)),
        "find",
    );
    assert_eq!(found, vec![d]);
    assert_eq!(s.attr_ok(d, CKA_PRIME), p);
    ok(s.login(CKU_USER, common::USER_PIN), "login");

    // CKA_PRIME_BITS may be repeated if right, not contradicted.
    ok(
        s.create(domain_template(&p, &q, &g).ulong(CKA_PRIME_BITS, 1024)),
        "matching CKA_PRIME_BITS",
    );
    err(
        s.create(domain_template(&p, &q, &g).ulong(CKA_PRIME_BITS, 2048)),
        CKR_TEMPLATE_INCONSISTENT,
        "contradicting CKA_PRIME_BITS",
    );
    // g = 1, g = p - 1 (order 2), a q that does not divide p - 1.
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let mut bad_q = q.clone();
    *bad_q.last_mut().unwrap() ^= 2;
    for (what, t) in [
        ("g = 1", domain_template(&p, &q, &[1])),
        ("g = p - 1", domain_template(&p, &q, &p_minus_1)),
        ("wrong q", domain_template(&p, &bad_q, &g)),
        ("512-bit p", domain_template(&p[64..], &q, &g[64..])),
    ] {
        err(s.create(t), CKR_ATTRIBUTE_VALUE_INVALID, what);
    }
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DSA)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_BASE, &g),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_SUBPRIME",
    );
    err(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_X9_42_DH)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_SUBPRIME, &q)
                .bytes(CKA_BASE, &g),
        ),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "X9.42 domain parameters",
    );
}

/// CKM_DSA_PARAMETER_GEN then CKM_DSA_KEY_PAIR_GEN on the object's
/// values; the pair signs with every mechanism, single- and multi-part,
/// through the length protocol.
#[test]
fn generate_sign_verify() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    let d = ok(
        s.generate_key(
            &Mech::new(CKM_DSA_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, 1024)
                .bool(CKA_TOKEN, false),
        ),
        "C_GenerateKey(CKM_DSA_PARAMETER_GEN)",
    );
    assert_eq!(s.attr_ulong(d, CKA_PRIME_BITS), 1024);
    assert_eq!(s.attr_ulong(d, CKA_KEY_TYPE), CKK_DSA);
    assert!(s.attr_bool(d, CKA_LOCAL));
    let (p, q, g) = (
        s.attr_ok(d, CKA_PRIME),
        s.attr_ok(d, CKA_SUBPRIME),
        s.attr_ok(d, CKA_BASE),
    );
    assert_eq!((p.len(), q.len()), (128, 20));
    let (public, private) = ok(pair_on(&s, &p, &q, &g), "C_GenerateKeyPair(DSA)");
    assert_eq!(s.attr_ok(private, CKA_PRIME), p);
    assert_eq!(s.attr_ok(private, CKA_SUBPRIME), q);
    assert!(s.attr_ok(public, CKA_VALUE).len() > 120);
    assert!(s.attr_bool(private, CKA_SIGN) && s.attr_bool(public, CKA_VERIFY));
    common::ops::err(
        s.attr(private, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "private CKA_VALUE",
    );
    assert_eq!(
        s.attr_ulong(private, CKA_KEY_GEN_MECHANISM),
        CKM_DSA_KEY_PAIR_GEN
    );
    // CKA_PUBLIC_KEY_INFO: SubjectPublicKeyInfo with id-dsa.
    let spki = s.attr_ok(public, CKA_PUBLIC_KEY_INFO);
    assert!(hex(&spki).contains("2a8648ce380401"), "id-dsa in the SPKI");

    let msg = b"Message to sign".to_vec();
    for mech in [
        CKM_DSA_SHA1,
        CKM_DSA_SHA224,
        CKM_DSA_SHA256,
        CKM_DSA_SHA384,
        CKM_DSA_SHA512,
    ] {
        let mech = Mech::new(mech);
        ok(s.sign_init(&mech, private), "C_SignInit");
        let mut data = msg.clone();
        let pr = protocol(40, |out, n| {
            // SAFETY: valid session, buffers from `protocol`.
            unsafe { s.f.C_Sign.unwrap()(s.h, data.as_mut_ptr(), ulong(data.len()), out, n) }
        });
        assert_eq!(pr.queried, 40);
        assert_eq!(pr.short.map(|(r, _)| r), Some(CKR_BUFFER_TOO_SMALL));
        let sig = pr.out;
        assert_eq!(sig.len(), 40);
        ok(s.verify_once(&mech, public, &msg, &sig), "C_Verify");
        // Multi-part gives the same (deterministic) signature and verifies.
        ok(s.sign_init(&mech, private), "C_SignInit");
        ok(s.sign_update(&msg[..5]), "C_SignUpdate");
        ok(s.sign_update(&msg[5..]), "C_SignUpdate");
        assert_eq!(ok(s.sign_final(), "C_SignFinal"), sig);
        ok(s.verify_init(&mech, public), "C_VerifyInit");
        ok(s.verify_update(&msg[..3]), "C_VerifyUpdate");
        ok(s.verify_update(&msg[3..]), "C_VerifyUpdate");
        ok(s.verify_final(&sig), "C_VerifyFinal");
        let mut bad = sig.clone();
        bad[39] ^= 1;
        err(
            s.verify_once(&mech, public, &msg, &bad),
            CKR_SIGNATURE_INVALID,
            "altered signature",
        );
        err(
            s.verify_once(&mech, public, &msg, &sig[..39]),
            CKR_SIGNATURE_LEN_RANGE,
            "short signature",
        );
    }
    // Raw CKM_DSA: a hash-sized input, single-part only.
    let raw = Mech::new(CKM_DSA);
    let sig = ok(s.sign_once(&raw, private, &[7; 20]), "CKM_DSA sign");
    ok(
        s.verify_once(&raw, public, &[7; 20], &sig),
        "CKM_DSA verify",
    );
    err(
        s.sign_once(&raw, private, &[7; 21]),
        CKR_DATA_LEN_RANGE,
        "CKM_DSA, 21 bytes",
    );
    ok(s.sign_init(&raw, private), "C_SignInit");
    err(
        s.sign_update(&[7; 20]),
        CKR_FUNCTION_NOT_SUPPORTED,
        "CKM_DSA parts",
    );
}

/// Wrong keys and parameters.
#[test]
fn refusals() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    let (p, q, g) = (p1024(), unhex(Q160), unhex(G1024));
    let (public, private) = ok(pair_on(&s, &p, &q, &g), "pair");
    let (ec_pub, ec_priv) = ec_pair(&s, CKM_EC_KEY_PAIR_GEN, common::P256_PARAMS, |t| t, |t| t);
    let sha1 = Mech::new(CKM_DSA_SHA1);
    err(
        s.sign_init(&sha1, ec_priv),
        CKR_KEY_TYPE_INCONSISTENT,
        "EC key, DSA",
    );
    err(
        s.verify_init(&sha1, ec_pub),
        CKR_KEY_TYPE_INCONSISTENT,
        "EC key, DSA verify",
    );
    err(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), private),
        CKR_KEY_TYPE_INCONSISTENT,
        "DSA key, ECDSA",
    );
    // A public key has no CKA_SIGN: refused before its type is looked at.
    err(
        s.sign_init(&sha1, public),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "public key signs",
    );
    err(
        s.sign_init(&Mech::bytes(CKM_DSA_SHA1, &[1, 2]), private),
        CKR_MECHANISM_PARAM_INVALID,
        "a parameter",
    );
    // The domain parameters must come in the public template.
    err(
        s.generate_pair(
            &Mech::new(CKM_DSA_KEY_PAIR_GEN),
            Tmpl::new().bytes(CKA_PRIME, &p).bytes(CKA_BASE, &g),
            Tmpl::new(),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_SUBPRIME",
    );
    err(
        pair_on(&s, &p, &q, &[1]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "g = 1",
    );
    // CKM_DSA_PARAMETER_GEN: sizes.
    let param_gen = |bits| {
        s.generate_key(
            &Mech::new(CKM_DSA_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, bits),
        )
    };
    err(param_gen(512), CKR_KEY_SIZE_RANGE, "512-bit DSA parameters");
    err(
        param_gen(1536),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "1536-bit DSA parameters",
    );
    err(
        s.generate_key(
            &Mech::new(CKM_DSA_PARAMETER_GEN),
            Tmpl::new().ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS),
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_PRIME_BITS",
    );
    err(
        s.generate_key(
            &Mech::new(CKM_DSA_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, 1024)
                .bytes(CKA_PRIME, &p),
        ),
        // A value that contradicts what the mechanism contributes.
        CKR_TEMPLATE_INCONSISTENT,
        "CKA_PRIME given",
    );
}

/// The default profile: DSA verifies (legacy signatures) but neither
/// signs nor generates; each refusal names `dsa_signatures`.
#[test]
fn default_policy_verifies_only() {
    let m = Module::start("");
    let s = m.ready();
    let (p, q, g) = (p1024(), unhex(Q160), unhex(G1024));
    err(
        pair_on(&s, &p, &q, &g),
        CKR_MECHANISM_INVALID,
        "DSA key pair",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "dsa_signatures",
    );
    err(
        s.generate_key(
            &Mech::new(CKM_DSA_PARAMETER_GEN),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_PRIME_BITS, 2048),
        ),
        CKR_MECHANISM_INVALID,
        "DSA parameters",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "dsa_signatures",
    );
    // An imported private key may not sign.
    let x = unhex("0102030405060708090a0b0c0d0e0f1011121314");
    let private = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_DSA)
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_SUBPRIME, &q)
                .bytes(CKA_BASE, &g)
                .bytes(CKA_VALUE, &x)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true),
        ),
        "import DSA private key",
    );
    err(
        s.sign_init(&Mech::new(CKM_DSA_SHA256), private),
        CKR_MECHANISM_INVALID,
        "DSA signing",
    );
    assert_refusal_audited(
        &m,
        "policy_refusal",
        "CKR_MECHANISM_INVALID",
        "dsa_signatures",
    );
    // Verification of a signature made elsewhere works.
    let Some(out) = python(&[
        "dsa-sign".into(),
        "2048".into(),
        "sha256".into(),
        hex(b"legacy"),
    ]) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<u8>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| unhex(&format!("{}{l}", if l.len() % 2 == 1 { "0" } else { "" })))
        .collect();
    let [p, q, g, y, _x, sig] = &lines[..] else {
        panic!("six lines expected")
    };
    let public = ok(public_key(&s, p, q, g, y), "import public key");
    ok(
        s.verify_once(&Mech::new(CKM_DSA_SHA256), public, b"legacy", sig),
        "C_Verify under the default profile",
    );
}

/// pyca/cryptography (OpenSSL) both ways: a key made there (L = 2048 and
/// 3072, N = 256) signs there and verifies here; its private key
/// imported here signs (hashing and raw CKM_DSA), and there it verifies.
#[test]
fn interop_with_pyca_cryptography() {
    let m = Module::start(COMPAT);
    let s = m.ready();
    let msg = b"interop message".to_vec();
    for (bits, hash, mech) in [
        ("2048", "sha256", CKM_DSA_SHA256),
        ("3072", "sha384", CKM_DSA_SHA384),
        ("2048", "sha1", CKM_DSA_SHA1),
    ] {
        let Some(out) = python(&["dsa-sign".into(), bits.into(), hash.into(), hex(&msg)]) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Vec<u8>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| unhex(&format!("{}{l}", if l.len() % 2 == 1 { "0" } else { "" })))
            .collect();
        let [p, q, g, y, x, sig] = &lines[..] else {
            panic!("six lines expected")
        };
        assert_eq!(sig.len(), 64, "N = 256: r and s of 32 bytes");
        let public = ok(public_key(&s, p, q, g, y), "import public key");
        let m_ = Mech::new(mech);
        ok(
            s.verify_once(&m_, public, &msg, sig),
            "their signature verifies here",
        );
        let private = ok(
            s.create(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_DSA)
                    .bytes(CKA_PRIME, p)
                    .bytes(CKA_SUBPRIME, q)
                    .bytes(CKA_BASE, g)
                    .bytes(CKA_VALUE, x)
                    .bool(CKA_TOKEN, true)
                    .bool(CKA_SIGN, true),
            ),
            "import private key",
        );
        let mine = ok(s.sign_once(&m_, private, &msg), "sign here");
        assert_eq!(mine.len(), 64);
        let verify = |sig: &[u8]| {
            python(&[
                "dsa-verify".into(),
                hash.into(),
                hex(p),
                hex(q),
                hex(g),
                hex(y),
                hex(&msg),
                hex(sig),
            ])
            .expect("python ran before")
            .status
            .code()
        };
        assert_eq!(verify(&mine), Some(0), "our signature verifies there");
        let mut bad = mine.clone();
        bad[5] ^= 0x40;
        assert_eq!(verify(&bad), Some(1), "an altered one does not");
        // Raw CKM_DSA over the same hash verifies there as Prehashed.
        let digest = ok(
            s.digest_once(
                &Mech::new(match hash {
                    "sha256" => CKM_SHA256,
                    "sha384" => CKM_SHA384,
                    _ => CKM_SHA_1,
                }),
                &msg,
            ),
            "digest",
        );
        let raw_sig = ok(
            s.sign_once(&Mech::new(CKM_DSA), private, &digest),
            "CKM_DSA",
        );
        let code = python(&[
            "dsa-verify".into(),
            "raw".into(),
            hex(p),
            hex(q),
            hex(g),
            hex(y),
            hex(&digest),
            hex(&raw_sig),
        ])
        .expect("python ran before")
        .status
        .code();
        assert_eq!(code, Some(0), "raw DSA verifies there");
    }
}

/// C_WrapKey of a DSA private key gives its PKCS#8 PrivateKeyInfo
/// (id-dsa); C_UnwrapKey brings it back as a key that signs for the
/// original public key; a DH private key is not wrappable.
#[test]
fn pkcs8_wrap_and_unwrap() {
    let m = Module::start(COMPAT);
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
    let same = ok(s.create(aes_crypt(&kek_value)), "the KEK's value");
    let kwp = Mech::new(CKM_AES_KEY_WRAP_KWP);
    let (p, q, g) = (p1024(), unhex(Q160), unhex(G1024));
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_DSA_KEY_PAIR_GEN),
            Tmpl::new()
                .bytes(CKA_PRIME, &p)
                .bytes(CKA_SUBPRIME, &q)
                .bytes(CKA_BASE, &g)
                .bool(CKA_TOKEN, false),
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
        ),
        "extractable DSA pair",
    );
    let x = s.attr_ok(private, CKA_VALUE);
    let wrapped = ok(s.wrap(&kwp, kek, private), "C_WrapKey(DSA key)");
    let plain = ok(s.decrypt_once(&kwp, same, &wrapped), "decrypt the wrapping");
    assert!(
        hex(&plain).contains("06072a8648ce380401"),
        "id-dsa PrivateKeyInfo"
    );
    let back = ok(
        s.unwrap(
            &kwp,
            kek,
            &wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_DSA)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SIGN, true),
        ),
        "C_UnwrapKey(DSA key)",
    );
    assert_eq!(s.attr_ok(back, CKA_VALUE), x);
    assert_eq!(s.attr_ok(back, CKA_PRIME), p);
    let sha256 = Mech::new(CKM_DSA_SHA256);
    let sig = ok(s.sign_once(&sha256, back, b"unwrapped"), "sign");
    ok(s.verify_once(&sha256, public, b"unwrapped", &sig), "verify");
    // DH private keys have no PKCS#8 form here (RFC 2409 group 2).
    let modp = unhex(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    );
    let dh = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_DH)
                .bytes(CKA_PRIME, &modp)
                .bytes(CKA_BASE, &[2])
                .bytes(CKA_VALUE, &[0x55; 32])
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
        ),
        "DH private key",
    );
    err(s.wrap(&kwp, kek, dh), CKR_KEY_NOT_WRAPPABLE, "DH key");
}
