//! Drives OpenSC's real `pkcs11-tool` against the built module on a fresh
//! store: token and PIN set-up, listings, key generation, sign / verify,
//! PIN change, deletion and the tool's own `--test` suite; then the wider
//! mechanism set (Ed25519, AES-CBC-PAD encryption, RSA-OAEP decryption,
//! AES key wrap / unwrap, ECDH derivation) on a token holding RSA, EC,
//! Ed25519 and AES keys. What the tool made is checked independently
//! in-process. Without the tool the tests fail under CI=true and are
//! skipped (loudly) otherwise; the driver is in `common/tool.rs`.

mod common;

use std::fs;

use common::tool::*;
use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use p256::ecdsa::signature::Verifier as _;
use sha2::Digest as _;

fn generate_keys(t: &Tool) {
    let login = ["--login", "--pin", USER_PIN, "--allow-sw"];
    let keygen = |args: &[&str]| t.ok(&[&login[..], args].concat());
    assert_has(
        &keygen(&[
            "--keypairgen",
            "--key-type",
            "EC:secp256r1",
            "--id",
            "01",
            "--label",
            "ec1",
        ]),
        "Key pair generated",
    );
    assert_has(
        &keygen(&[
            "--keypairgen",
            "--key-type",
            "RSA:2048",
            "--id",
            "02",
            "--label",
            "rsa1",
        ]),
        "Key pair generated",
    );
    assert_has(
        &keygen(&[
            "--keygen",
            "--key-type",
            "AES:32",
            "--id",
            "03",
            "--label",
            "aes1",
        ]),
        "Key generated",
    );
    assert_has(
        &keygen(&[
            "--keygen",
            "--key-type",
            "GENERIC:32",
            "--id",
            "04",
            "--label",
            "gen1",
        ]),
        "Key generated",
    );

    let all = t.ok(&["--login", "--pin", USER_PIN, "-O"]);
    for needle in [
        "ec1",
        "rsa1",
        "aes1",
        "gen1",
        "Private Key Object",
        "Public Key Object",
        "Secret Key Object",
    ] {
        assert_has(&all, needle);
    }
    let public = t.ok(&["-O"]);
    assert_has(&public, "Public Key Object");
    assert!(
        !public.contains("Private Key Object"),
        "private key listed without login:\n{public}"
    );
}

fn sign_verify_hash(t: &Tool) -> (Vec<u8>, Vec<u8>) {
    let data = t.path("data.txt");
    fs::write(&data, b"pkcs11-tool signs this").expect("write data");
    let other = t.path("other.txt");
    fs::write(&other, b"something else").expect("write data");

    let ec_sig = sign_and_verify(t, "ECDSA-SHA256", "01", &data, &t.path("sig.ec"));
    assert_eq!(ec_sig.len(), 64, "ECDSA signature is raw r||s");
    let bad = t.run(&[
        "--allow-sw",
        "--verify",
        "-m",
        "ECDSA-SHA256",
        "--id",
        "01",
        "-i",
        &other,
        "--signature-file",
        &t.path("sig.ec"),
    ]);
    assert!(
        !bad.out.contains("Signature is valid"),
        "wrong data verified:\n{}",
        bad.out
    );
    assert_has(&bad.out, "Invalid signature");

    let rsa_sig = sign_and_verify(t, "SHA256-RSA-PKCS", "02", &data, &t.path("sig.rsa"));
    assert_eq!(rsa_sig.len(), 256);
    let pss = sign_and_verify(t, "SHA256-RSA-PKCS-PSS", "02", &data, &t.path("sig.pss"));
    assert_eq!(pss.len(), 256);

    let hash = t.path("hash.bin");
    t.ok(&["--allow-sw", "-h", "-m", "SHA256", "-i", &data, "-o", &hash]);
    assert_eq!(
        read(&hash),
        sha2::Sha256::digest(b"pkcs11-tool signs this").to_vec()
    );
    let rnd = t.path("random.bin");
    t.ok(&["--generate-random", "32", "-o", &rnd]);
    assert_eq!(read(&rnd).len(), 32);
    (ec_sig, rsa_sig)
}

fn change_pin_and_delete(t: &Tool) {
    assert_has(
        &t.ok(&[
            "--login",
            "--pin",
            USER_PIN,
            "--change-pin",
            "--new-pin",
            "5678",
        ]),
        "PIN successfully changed",
    );
    let old = t.run(&["--login", "--pin", USER_PIN, "-O"]);
    assert!(
        !old.ok || old.out.contains("CKR_PIN_INCORRECT"),
        "old PIN still accepted:\n{}",
        old.out
    );
    t.ok(&["--login", "--pin", "5678", "-O"]);
    assert_has(
        &t.ok(&[
            "--login",
            "--pin",
            "5678",
            "--change-pin",
            "--new-pin",
            USER_PIN,
        ]),
        "PIN successfully changed",
    );

    t.ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--delete-object",
        "--type",
        "privkey",
        "--id",
        "01",
    ]);
    let after = t.ok(&["--login", "--pin", USER_PIN, "-O", "--type", "privkey"]);
    assert_has(&after, "rsa1");
    assert!(
        !after.contains("ec1"),
        "deleted EC private key still listed:\n{after}"
    );
    assert_has(&t.ok(&["-O", "--type", "pubkey"]), "ec1");
}

/// Check the tool's signatures in-process with independent verifiers.
fn verify_in_process(env: TestEnv, data: &[u8], ec_sig: &[u8], rsa_sig: &[u8]) {
    let h = Harness::start(env);
    let s = h.rw_session();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let pub_by_id = |id: u8| {
        let v = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(vec![id]),
            ])
            .expect("find");
        assert_eq!(v.len(), 1, "one public key with id {id:02x}");
        v[0]
    };
    let ec = pub_by_id(0x01);
    assert_eq!(attr_bytes(&s, ec, AttributeType::Label), b"ec1");
    let point = ec_point_from_der(&attr_bytes(&s, ec, AttributeType::EcPoint));
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("EC point");
    vk.verify(
        data,
        &p256::ecdsa::Signature::from_slice(ec_sig).expect("r||s"),
    )
    .expect("p256 crate verifies pkcs11-tool's ECDSA signature");

    let rsa_pub = pub_by_id(0x02);
    let pk = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&attr_bytes(&s, rsa_pub, AttributeType::Modulus)),
        rsa::BoxedUint::from_be_slice_vartime(&attr_bytes(
            &s,
            rsa_pub,
            AttributeType::PublicExponent,
        )),
    )
    .expect("RSA key");
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
    rsa::signature::Verifier::verify(
        &vk,
        data,
        &rsa::pkcs1v15::Signature::try_from(rsa_sig).expect("sig"),
    )
    .expect("rsa crate verifies pkcs11-tool's RSA signature");
}

#[test]
fn pkcs11_tool_end_to_end() {
    let Some(bin) = find_tool() else {
        return;
    };
    let env = TestEnv::new();
    let t = Tool {
        bin,
        module: lib_path(),
        env: &env,
    };
    setup_token(&t);
    generate_keys(&t);
    let (ec_sig, rsa_sig) = sign_verify_hash(&t);
    change_pin_and_delete(&t);

    let r = t.run(&["--test", "--login", "--pin", USER_PIN]);
    assert_clean_test_run(&r);
    let r = t.run(&[
        "--test",
        "--login",
        "--pin",
        USER_PIN,
        "--session-rw",
        "--allow-sw",
    ]);
    assert_clean_test_run(&r);

    let data = read(&t.path("data.txt"));
    drop(t);
    verify_in_process(env, &data, &ec_sig, &rsa_sig);
}

// --- the issue-3 mechanism set ------------------------------------------------

/// Keys of every type on one token: Ed25519 (11), two P-256 keys for ECDH
/// (12, 13), RSA for signing, decryption and wrapping (14), an AES data
/// key (15), an AES wrapping key (16) and an extractable AES key (17).
fn generate_mixed_keys(t: &Tool) {
    let cases: [&[&str]; 7] = [
        &[
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--id",
            "11",
            "--label",
            "ed1",
        ],
        &[
            "--keypairgen",
            "--key-type",
            "EC:secp256r1",
            "--id",
            "12",
            "--label",
            "ec12",
            "--usage-derive",
        ],
        &[
            "--keypairgen",
            "--key-type",
            "EC:secp256r1",
            "--id",
            "13",
            "--label",
            "ec13",
            "--usage-derive",
        ],
        &[
            "--keypairgen",
            "--key-type",
            "RSA:2048",
            "--id",
            "14",
            "--label",
            "rsa1",
            "--usage-sign",
            "--usage-decrypt",
            "--usage-wrap",
        ],
        &[
            "--keygen",
            "--key-type",
            "AES:32",
            "--id",
            "15",
            "--label",
            "aes1",
        ],
        &[
            "--keygen",
            "--key-type",
            "AES:32",
            "--id",
            "16",
            "--label",
            "kek",
            "--usage-wrap",
        ],
        &[
            "--keygen",
            "--key-type",
            "AES:16",
            "--id",
            "17",
            "--label",
            "movable",
            "--extractable",
            "--usage-decrypt",
        ],
    ];
    for args in cases {
        let out = user_ok(t, args);
        assert!(
            out.contains("Key pair generated") || out.contains("Key generated"),
            "no key from {args:?}:\n{out}"
        );
    }
    let ed = user_ok(t, &["-O", "--id", "11"]);
    assert_has(&ed, "EC_EDWARDS");
}

const IV0: &str = "00000000000000000000000000000000";

/// AES-CBC-PAD with `key_id`: encrypt `input` into `output` (or decrypt).
fn cbc_pad(t: &Tool, op: &str, key_id: &str, input: &str, output: &str) {
    user_ok(
        t,
        &[
            op,
            "--id",
            key_id,
            "-m",
            "AES-CBC-PAD",
            "--iv",
            IV0,
            "-i",
            input,
            "-o",
            output,
        ],
    );
}

fn aes_round_trip(t: &Tool) {
    let data = t.path("plain.txt");
    let text = b"pkcs11-tool encrypts this text, 45 bytes long";
    fs::write(&data, text).expect("write data");
    let (enc, dec) = (t.path("plain.enc"), t.path("plain.dec"));
    cbc_pad(t, "--encrypt", "15", &data, &enc);
    let ct = read(&enc);
    assert_eq!(ct.len(), 48, "45 bytes padded to three blocks");
    assert!(
        !ct.windows(8).any(|w| text.windows(8).any(|p| p == w)),
        "plaintext leaked"
    );
    cbc_pad(t, "--decrypt", "15", &enc, &dec);
    assert_eq!(read(&dec), text);
}

/// The tool only decrypts with RSA (its --encrypt takes secret keys):
/// encrypt with the `rsa` crate to the public key the tool exports.
fn rsa_oaep_decrypt(t: &Tool) {
    use rsa::pkcs8::DecodePublicKey as _;

    let der = t.path("rsa_pub.der");
    t.ok(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "14",
        "-o",
        &der,
    ]);
    let pk = rsa::RsaPublicKey::from_public_key_der(&read(&der)).expect("RSA SPKI");
    let msg = b"OAEP through pkcs11-tool";
    let ct = pk
        .encrypt(
            &mut rand_core::UnwrapErr(getrandom::SysRng),
            rsa::Oaep::<sha2::Sha256>::new(),
            msg,
        )
        .expect("rsa crate OAEP");
    let (ctf, out) = (t.path("oaep.bin"), t.path("oaep.dec"));
    fs::write(&ctf, &ct).expect("write ciphertext");
    user_ok(
        t,
        &[
            "--decrypt",
            "--id",
            "14",
            "-m",
            "RSA-PKCS-OAEP",
            "--hash-algorithm",
            "SHA256",
            "-i",
            &ctf,
            "-o",
            &out,
        ],
    );
    assert_eq!(read(&out), msg);
}

/// Wrap the extractable key 17 under 16 (RFC 3394 and RFC 5649), unwrap it
/// as a new key 18, and show 18 and 17 are the same key.
fn wrap_unwrap(t: &Tool) {
    let (kw, kwp) = (t.path("wrapped.kw"), t.path("wrapped.kwp"));
    assert_has(
        &user_ok(
            t,
            &[
                "--wrap",
                "-m",
                "AES-KEY-WRAP",
                "--id",
                "16",
                "--application-id",
                "17",
                "-o",
                &kw,
            ],
        ),
        "Key wrapped",
    );
    assert_eq!(read(&kw).len(), 24, "16-byte key under RFC 3394");
    // CKM_AES_KEY_WRAP_KWP has no name in this pkcs11-tool.
    user_ok(
        t,
        &[
            "--wrap",
            "-m",
            "0x210B",
            "--id",
            "16",
            "--application-id",
            "17",
            "-o",
            &kwp,
        ],
    );
    assert_eq!(read(&kwp).len(), 24, "16-byte key under RFC 5649");
    assert_has(
        &user_ok(
            t,
            &[
                "--unwrap",
                "-m",
                "AES-KEY-WRAP",
                "--id",
                "16",
                "-i",
                &kw,
                "--key-type",
                "AES:",
                "--application-id",
                "18",
                "--application-label",
                "unwrapped",
                // Without it pkcs11-tool asks for CKA_SENSITIVE=false, which
                // an unwrapped key may not be (docs/KEY-SEPARATION.md).
                "--sensitive",
            ],
        ),
        "Key unwrapped",
    );
    let data = t.path("plain.txt");
    let (enc, dec) = (t.path("by18.enc"), t.path("by17.dec"));
    cbc_pad(t, "--encrypt", "18", &data, &enc);
    cbc_pad(t, "--decrypt", "17", &enc, &dec);
    assert_eq!(
        read(&dec),
        read(&data),
        "the unwrapped key is the wrapped one"
    );
}

/// ECDH between keys 12 and 13, each given the other's public key as the
/// SubjectPublicKeyInfo the tool exports, raw and DER-wrapped point.
fn ecdh_derive(t: &Tool) {
    let (p12, p13) = (t.path("pub12.der"), t.path("pub13.der"));
    t.ok(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "12",
        "-o",
        &p12,
    ]);
    t.ok(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "13",
        "-o",
        &p13,
    ]);
    let derive = |id: &str, peer: &str, out: &str, der: bool| {
        let mut args = vec![
            "--derive",
            "-m",
            "ECDH1-DERIVE",
            "--id",
            id,
            "-i",
            peer,
            "-o",
            out,
        ];
        if der {
            args.push("--derive-pass-der");
        }
        user_ok(t, &args);
        read(out)
    };
    let a = derive("12", &p13, &t.path("z12"), false);
    let b = derive("13", &p12, &t.path("z13"), false);
    let c = derive("12", &p13, &t.path("z12der"), true);
    assert_eq!(a.len(), 32, "P-256 shared secret");
    assert_eq!(a, b, "both sides of ECDH agree");
    assert_eq!(a, c, "peer point as DER OCTET STRING");
}

fn eddsa_sign_verify(t: &Tool) -> Vec<u8> {
    let data = t.path("plain.txt");
    sign_and_verify(t, "EDDSA", "11", &data, &t.path("sig.ed"))
}

/// Check in-process what the tool made: the Ed25519 signature (with
/// ed25519-dalek) and the history of the unwrapped key.
fn check_mixed_in_process(env: TestEnv, data: &[u8], ed_sig: &[u8]) {
    use ed25519_dalek::Verifier as _;

    let h = Harness::start(env);
    let s = h.rw_session();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let ed = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(vec![0x11]),
        ])
        .expect("find");
    assert_eq!(ed.len(), 1);
    let point = ec_point_from_der(&attr_bytes(&s, ed[0], AttributeType::EcPoint));
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&point.try_into().expect("32 bytes"))
        .expect("Ed25519 key");
    vk.verify(
        data,
        &ed25519_dalek::Signature::from_slice(ed_sig).expect("64 bytes"),
    )
    .expect("ed25519-dalek verifies pkcs11-tool's EdDSA signature");

    let unwrapped = find_by_label(&s, "unwrapped");
    assert_eq!(unwrapped.len(), 1, "one unwrapped key");
    for (ty, want) in [
        (AttributeType::Local, false),
        (AttributeType::AlwaysSensitive, false),
        (AttributeType::NeverExtractable, false),
    ] {
        assert_eq!(
            attr_bool(&s, unwrapped[0], ty),
            want,
            "unwrapped key {ty:?}"
        );
    }
}

fn assert_new_mechanisms_listed(t: &Tool) {
    let mechs = t.ok(&["-M"]);
    for m in [
        "AES-ECB",
        "AES-CBC-PAD",
        "AES-CTR",
        "AES-GCM",
        "AES-CMAC",
        "AES-KEY-WRAP",
        "RSA-PKCS-OAEP",
        "ECDH1-DERIVE",
        "EC-EDWARDS-KEY-PAIR-GEN",
        "EC-MONTGOMERY-KEY-PAIR-GEN",
        "EDDSA",
        "ECDSA-SHA3-256",
        "SHA3-256",
        "SHA3-256-HMAC",
        "PKCS5-PBKD2",
    ] {
        assert_has(&mechs, m);
    }
    assert_no_hw_flag(&mechs);
}

#[test]
fn pkcs11_tool_mechanism_set() {
    let Some(bin) = find_tool() else {
        return;
    };
    let env = TestEnv::new();
    let t = Tool {
        bin,
        module: lib_path(),
        env: &env,
    };
    setup_token(&t);
    assert_new_mechanisms_listed(&t);
    generate_mixed_keys(&t);
    aes_round_trip(&t);
    rsa_oaep_decrypt(&t);
    wrap_unwrap(&t);
    ecdh_derive(&t);
    let ed_sig = eddsa_sign_verify(&t);
    assert_eq!(ed_sig.len(), 64);

    // The tool's own suite on a token with RSA, EC, Ed25519 and AES keys.
    let r = t.run(&["--test", "--login", "--pin", USER_PIN, "--allow-sw"]);
    assert_clean_test_run(&r);
    let r = t.run(&["--test", "--login", "--pin", USER_PIN]);
    assert_clean_test_run(&r);

    let data = read(&t.path("plain.txt"));
    drop(t);
    check_mixed_in_process(env, &data, &ed_sig);
}
