//! Wrapping and key agreement through the module's C ABI: RFC 3394 /
//! RFC 5649 vectors through C_WrapKey, AES-GCM and RSA-OAEP wrapping
//! checked with independent crates, private keys (P-256, Ed25519, RSA)
//! moved between two tokens and used on the other side, the wrap policy's
//! error codes, and ECDH (P-256/384/521, X25519) against the RustCrypto
//! crates and RFC 7748. HKDF and PBKDF2 are in `kdf.rs`.

#[macro_use]
mod common;

use common::ops::*;
use common::raw::*;
use common::{P256_PARAMS, P384_PARAMS, SO_PIN, TestEnv, USER_PIN, hex, unhex};
use cryptoki_sys::*;
use sha2::Digest as _;

/// The known-answer tests here read unwrapped keys back to compare them
/// with the vectors, which the default policy forbids (an unwrapped key
/// is sensitive: tests/key_extraction.rs); they run with that one switch
/// off. Every other key-separation rule stays on.
const READ_BACK: &str = "[policy]\nunwrapped_keys_sensitive = false\n";

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config(READ_BACK);
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

/// Two tokens (slots 0 and 1) with a user session on each.
fn setup_two() -> (TestEnv, Init, Sess, Sess) {
    let env = TestEnv::with_config(&format!("{TWO_SLOTS}{READ_BACK}"));
    let init = Init::new();
    let a = user_session_on(init.f, 0, "token-a");
    let b = user_session_on(init.f, 1, "token-b");
    (env, init, a, b)
}

/// A wrapping / unwrapping AES key holding `value`.
fn kek(s: &Sess, value: &[u8]) -> CK_OBJECT_HANDLE {
    ok(
        s.create(
            secret(CKK_AES, value)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true),
        ),
        "import KEK",
    )
}

/// An extractable secret key to be wrapped.
fn target(s: &Sess, key_type: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    ok(
        s.create(
            secret(key_type, value)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_ENCRYPT, true),
        ),
        "import wrap target",
    )
}

/// §4.1.2.2 / §5.18.5 history of a key that came from outside the token.
#[track_caller]
fn assert_not_local_history(s: &Sess, k: CK_OBJECT_HANDLE, what: &str) {
    assert!(!s.attr_bool(k, CKA_LOCAL), "{what}: CKA_LOCAL");
    assert!(
        !s.attr_bool(k, CKA_ALWAYS_SENSITIVE),
        "{what}: CKA_ALWAYS_SENSITIVE"
    );
    assert!(
        !s.attr_bool(k, CKA_NEVER_EXTRACTABLE),
        "{what}: CKA_NEVER_EXTRACTABLE"
    );
}

// --- AES key wrap -------------------------------------------------------------

#[test]
fn rfc3394_key_wrap_vector() {
    let (_env, _init, s) = setup();
    let w = kek(&s, &unhex("000102030405060708090A0B0C0D0E0F"));
    let key = unhex("00112233445566778899AABBCCDDEEFF");
    let k = target(&s, CKK_AES, &key);
    let want = "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5";
    let m = Mech::new(CKM_AES_KEY_WRAP);
    assert_eq!(
        hex(&ok(s.wrap(&m, w, k), "C_WrapKey")),
        want,
        "RFC 3394 §4.1"
    );
    // The default IV given explicitly changes nothing.
    let with_iv = Mech::bytes(CKM_AES_KEY_WRAP, &[0xa6; 8]);
    assert_eq!(hex(&ok(s.wrap(&with_iv, w, k), "explicit IV")), want);
    let p = s.wrap_protocol(&m, w, k, 24);
    assert_protocol(&p, &unhex(want), "C_WrapKey");

    let back = ok(
        s.unwrap(&m, w, &unhex(want), readable_secret(CKK_AES, None)),
        "C_UnwrapKey",
    );
    assert_eq!(s.attr_ok(back, CKA_VALUE), key);
    assert_eq!(s.attr_ulong(back, CKA_VALUE_LEN), 16);
    assert_not_local_history(&s, back, "unwrapped AES key");
    // Sensitive and unextractable from now on, but not "always"/"never".
    let sealed = ok(
        s.unwrap(
            &m,
            w,
            &unhex(want),
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, true)
                .bool(CKA_EXTRACTABLE, false),
        ),
        "C_UnwrapKey (sensitive)",
    );
    assert!(s.attr_bool(sealed, CKA_SENSITIVE));
    assert_not_local_history(&s, sealed, "unwrapped sensitive AES key");

    let mut bad = unhex(want);
    bad[5] ^= 1;
    err(
        s.unwrap(&m, w, &bad, readable_secret(CKK_AES, None)),
        CKR_WRAPPED_KEY_INVALID,
        "tampered RFC 3394 blob",
    );
    err(
        s.unwrap(&m, w, &unhex(want)[..23], readable_secret(CKK_AES, None)),
        CKR_WRAPPED_KEY_LEN_RANGE,
        "RFC 3394 blob of 23 bytes",
    );
    let other = kek(&s, &[0x42; 16]);
    err(
        s.unwrap(&m, other, &unhex(want), readable_secret(CKK_AES, None)),
        CKR_WRAPPED_KEY_INVALID,
        "unwrap with the wrong KEK",
    );
}

#[test]
fn rfc5649_kwp_vectors() {
    let (_env, _init, s) = setup();
    let w = kek(
        &s,
        &unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"),
    );
    let m = Mech::new(CKM_AES_KEY_WRAP_KWP);
    for (key, want) in [
        (
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        ),
        ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
    ] {
        let k = target(&s, CKK_GENERIC_SECRET, &unhex(key));
        let wrapped = ok(s.wrap(&m, w, k), "C_WrapKey(KWP)");
        assert_eq!(hex(&wrapped), want, "RFC 5649 §6 for {key}");
        let back = ok(
            s.unwrap(&m, w, &wrapped, readable_secret(CKK_GENERIC_SECRET, None)),
            "C_UnwrapKey(KWP)",
        );
        assert_eq!(hex(&s.attr_ok(back, CKA_VALUE)), key);
        let mut bad = wrapped.clone();
        bad[0] ^= 0x80;
        err(
            s.unwrap(&m, w, &bad, readable_secret(CKK_GENERIC_SECRET, None)),
            CKR_WRAPPED_KEY_INVALID,
            "tampered RFC 5649 blob",
        );
    }
}

#[test]
fn aes_gcm_wrap_checked_with_aes_gcm_crate() {
    use aes_gcm::aead::{Aead, Payload};
    use aes_gcm::{Aes256Gcm, KeyInit};

    let (_env, _init, s) = setup();
    let kek_value: Vec<u8> = (0u8..32).collect();
    let w = kek(&s, &kek_value);
    let key: Vec<u8> = (100u8..132).collect();
    let k = target(&s, CKK_AES, &key);
    let (iv, aad) = (unhex("cafebabefacedbaddecaf888"), b"wrap context".to_vec());
    let m = Mech::gcm(&iv, &aad, 128);
    let wrapped = ok(s.wrap(&m, w, k), "C_WrapKey(GCM)");
    assert_eq!(wrapped.len(), 32 + 16, "ciphertext and tag");
    let c = Aes256Gcm::new_from_slice(&kek_value).unwrap();
    let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&iv[..]).unwrap();
    let opened = c
        .decrypt(
            &nonce,
            Payload {
                msg: &wrapped,
                aad: &aad,
            },
        )
        .expect("aes-gcm opens the module's GCM-wrapped key");
    assert_eq!(opened, key);

    let back = ok(
        s.unwrap(&m, w, &wrapped, readable_secret(CKK_AES, None)),
        "C_UnwrapKey(GCM)",
    );
    assert_eq!(s.attr_ok(back, CKA_VALUE), key);
    let mut bad = wrapped.clone();
    *bad.last_mut().unwrap() ^= 1;
    err(
        s.unwrap(&m, w, &bad, readable_secret(CKK_AES, None)),
        CKR_WRAPPED_KEY_INVALID,
        "GCM-wrapped key with a bad tag",
    );
    err(
        s.wrap(&Mech::gcm(&iv, &aad, 64), w, k),
        CKR_MECHANISM_PARAM_INVALID,
        "GCM wrap with a 64-bit tag",
    );
}

/// C_WrapKey with a block-cipher mode is the encryption of the key's
/// value (CKM_AES_KEY_WRAP also encrypts data, PKCS#11 3.0 §2.14).
#[test]
fn wrap_modes_match_encryption() {
    let (_env, _init, s) = setup();
    let kek_value = unhex("000102030405060708090A0B0C0D0E0F");
    let w = kek(&s, &kek_value);
    let enc = ok(s.create(aes_crypt(&kek_value)), "same key, for C_Encrypt");
    let key: Vec<u8> = (0x20u8..0x40).collect();
    let k = target(&s, CKK_AES, &key);
    for m in [
        Mech::new(CKM_AES_KEY_WRAP),
        Mech::new(CKM_AES_KEY_WRAP_KWP),
        Mech::new(CKM_AES_ECB),
        Mech::bytes(CKM_AES_CBC, &[7u8; 16]),
        Mech::bytes(CKM_AES_CBC_PAD, &[7u8; 16]),
    ] {
        let what = format!("mechanism {:#x}", m.ty());
        let wrapped = ok(s.wrap(&m, w, k), &what);
        assert_eq!(ok(s.encrypt_once(&m, enc, &key), &what), wrapped, "{what}");
        assert_eq!(ok(s.decrypt_once(&m, enc, &wrapped), &what), key, "{what}");
        let back = ok(
            s.unwrap(&m, w, &wrapped, readable_secret(CKK_AES, None)),
            &what,
        );
        assert_eq!(s.attr_ok(back, CKA_VALUE), key, "{what}");
    }
    // RFC 3394 §4.1 through C_Encrypt.
    let ct = ok(
        s.encrypt_once(
            &Mech::new(CKM_AES_KEY_WRAP),
            enc,
            &unhex("00112233445566778899AABBCCDDEEFF"),
        ),
        "C_Encrypt(CKM_AES_KEY_WRAP)",
    );
    assert_eq!(hex(&ct), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
}

// --- moving private keys between tokens -------------------------------------

/// The same KEK on both tokens: wrap on `a`, unwrap on `b`.
fn shared_kek(a: &Sess, b: &Sess) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let value = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    (kek(a, &value), kek(b, &value))
}

fn unwrap_private(
    b: &Sess,
    kb: CK_OBJECT_HANDLE,
    wrapped: &[u8],
    kt: CK_KEY_TYPE,
) -> CK_OBJECT_HANDLE {
    ok(
        b.unwrap(
            &Mech::new(CKM_AES_KEY_WRAP_KWP),
            kb,
            wrapped,
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, kt)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true),
        ),
        "C_UnwrapKey of a private key on the second token",
    )
}

#[test]
fn p256_private_key_moves_between_tokens() {
    use p256::ecdsa::signature::Verifier as _;

    let (_env, _init, a, b) = setup_two();
    let (ka, kb) = shared_kek(&a, &b);
    let (pubk, privk) = ec_pair(
        &a,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t.bool(CKA_VERIFY, true),
        |t| {
            t.bool(CKA_SIGN, true)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false)
        },
    );
    let wrapped = ok(
        a.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), ka, privk),
        "C_WrapKey(KWP, EC private key)",
    );
    let moved = unwrap_private(&b, kb, &wrapped, CKK_EC);
    assert_eq!(b.attr_ok(moved, CKA_EC_PARAMS), P256_PARAMS);
    assert_not_local_history(&b, moved, "unwrapped EC key");

    let msg = b"signed on the other token";
    let sig = ok(
        b.sign_once(&Mech::new(CKM_ECDSA_SHA256), moved, msg),
        "sign with the unwrapped key",
    );
    ok(
        a.verify_once(&Mech::new(CKM_ECDSA_SHA256), pubk, msg, &sig),
        "the original public key verifies",
    );
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point_of(&a, pubk)).unwrap();
    vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap())
        .expect("p256 crate verifies the unwrapped key's signature");
}

#[test]
fn ed25519_private_key_moves_between_tokens() {
    use ed25519_dalek::Verifier as _;

    let (_env, _init, a, b) = setup_two();
    let (ka, kb) = shared_kek(&a, &b);
    let (pubk, privk) = ec_pair(
        &a,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        ED25519_OID,
        |t| t.bool(CKA_VERIFY, true),
        |t| {
            t.bool(CKA_SIGN, true)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false)
        },
    );
    let msg = b"Ed25519 is deterministic";
    let eddsa = Mech::new(CKM_EDDSA);
    let here = ok(a.sign_once(&eddsa, privk, msg), "sign on token A");
    let wrapped = ok(
        a.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), ka, privk),
        "C_WrapKey(KWP, Ed25519 key)",
    );
    let moved = unwrap_private(&b, kb, &wrapped, CKK_EC_EDWARDS);
    assert_not_local_history(&b, moved, "unwrapped Ed25519 key");
    let there = ok(b.sign_once(&eddsa, moved, msg), "sign on token B");
    assert_eq!(hex(&there), hex(&here), "same key, same signature");
    ok(
        a.verify_once(&eddsa, pubk, msg, &there),
        "verify on token A",
    );
    let point: [u8; 32] = point_of(&a, pubk).try_into().expect("32-byte Ed25519 key");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&point).unwrap();
    vk.verify(msg, &ed25519_dalek::Signature::from_slice(&there).unwrap())
        .expect("ed25519-dalek verifies");
}

#[test]
fn rsa_oaep_wrap_and_rsa_key_moves_between_tokens() {
    let (_env, _init, a, b) = setup_two();
    let (pubk, privk) = ok(
        a.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
                .bool(CKA_TOKEN, false)
                .bool(CKA_WRAP, true)
                .bool(CKA_VERIFY, true),
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_SIGN, true)
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "RSA-2048 key pair",
    );
    // OAEP-wrap an AES key with the public key, unwrap with the private.
    let key: Vec<u8> = (1u8..=32).collect();
    let k = target(&a, CKK_AES, &key);
    let oaep = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"wrap label");
    let wrapped = ok(a.wrap(&oaep, pubk, k), "C_WrapKey(OAEP)");
    assert_eq!(wrapped.len(), 256);
    let back = ok(
        a.unwrap(&oaep, privk, &wrapped, readable_secret(CKK_AES, None)),
        "C_UnwrapKey(OAEP)",
    );
    assert_eq!(a.attr_ok(back, CKA_VALUE), key);
    assert_not_local_history(&a, back, "OAEP-unwrapped key");
    // A key wrapped by the `rsa` crate.
    let pk = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&a.attr_ok(pubk, CKA_MODULUS)),
        rsa::BoxedUint::from_be_slice_vartime(&a.attr_ok(pubk, CKA_PUBLIC_EXPONENT)),
    )
    .unwrap();
    let theirs = pk
        .encrypt(
            &mut rand_core::UnwrapErr(getrandom::SysRng),
            rsa::Oaep::<sha2::Sha256>::new_with_label(&b"wrap label"[..]),
            &key,
        )
        .unwrap();
    let back = ok(
        a.unwrap(&oaep, privk, &theirs, readable_secret(CKK_AES, None)),
        "C_UnwrapKey of the rsa crate's OAEP blob",
    );
    assert_eq!(a.attr_ok(back, CKA_VALUE), key);
    let mut bad = wrapped.clone();
    bad[7] ^= 2;
    err(
        a.unwrap(&oaep, privk, &bad, readable_secret(CKK_AES, None)),
        CKR_WRAPPED_KEY_INVALID,
        "tampered OAEP-wrapped key",
    );

    // The RSA private key itself, to the other token under AES-KWP.
    let (ka, kb) = shared_kek(&a, &b);
    let wrapped = ok(
        a.wrap(&Mech::new(CKM_AES_KEY_WRAP_KWP), ka, privk),
        "C_WrapKey(KWP, RSA private key)",
    );
    let moved = unwrap_private(&b, kb, &wrapped, CKK_RSA);
    assert_eq!(b.attr_ok(moved, CKA_MODULUS), a.attr_ok(pubk, CKA_MODULUS));
    let msg = b"PKCS#1 v1.5 is deterministic";
    let m = Mech::new(CKM_SHA256_RSA_PKCS);
    let here = ok(a.sign_once(&m, privk, msg), "sign on token A");
    let there = ok(b.sign_once(&m, moved, msg), "sign on token B");
    assert_eq!(there, here, "same key, same signature");
    ok(a.verify_once(&m, pubk, msg, &there), "verify on token A");
}

// --- wrap policy ------------------------------------------------------------------

#[test]
fn wrap_and_unwrap_policy_errors() {
    let (_env, _init, s) = setup();
    let m = Mech::new(CKM_AES_KEY_WRAP);
    let w = kek(&s, &[7u8; 16]);
    let good = target(&s, CKK_AES, &[9u8; 16]);
    let locked = ok(
        s.create(secret(CKK_AES, &[9u8; 16]).bool(CKA_EXTRACTABLE, false)),
        "unextractable key",
    );
    err(
        s.wrap(&m, w, locked),
        CKR_KEY_UNEXTRACTABLE,
        "CKA_EXTRACTABLE=false target",
    );
    let no_wrap = ok(
        s.create(
            secret(CKK_AES, &[7u8; 16])
                .bool(CKA_WRAP, false)
                .bool(CKA_UNWRAP, false),
        ),
        "KEK without CKA_WRAP",
    );
    err(
        s.wrap(&m, no_wrap, good),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_WRAP=false",
    );
    err(
        s.wrap(&m, 0xdead_beef, good),
        CKR_WRAPPING_KEY_HANDLE_INVALID,
        "unknown wrapping key",
    );
    err(
        s.wrap(&m, w, 0xdead_beef),
        CKR_KEY_HANDLE_INVALID,
        "unknown key to wrap",
    );
    let generic_kek = ok(
        s.create(secret(CKK_GENERIC_SECRET, &[7u8; 16]).bool(CKA_WRAP, true)),
        "generic secret with CKA_WRAP",
    );
    err(
        s.wrap(&m, generic_kek, good),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        "AES key wrap with a generic-secret wrapping key",
    );

    let wrapped = ok(s.wrap(&m, w, good), "C_WrapKey");
    err(
        s.unwrap(&m, no_wrap, &wrapped, readable_secret(CKK_AES, None)),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_UNWRAP=false",
    );
    err(
        s.unwrap(&m, 0xdead_beef, &wrapped, readable_secret(CKK_AES, None)),
        CKR_UNWRAPPING_KEY_HANDLE_INVALID,
        "unknown unwrapping key",
    );
    let unwrapped = ok(
        s.unwrap(&m, w, &wrapped, readable_secret(CKK_AES, None)),
        "C_UnwrapKey",
    );
    assert_eq!(s.attr_ok(unwrapped, CKA_VALUE), vec![9u8; 16]);
    // The unwrap template may not carry the value itself (§4.1.1: a
    // read-only attribute, or a template the token must refuse).
    let r = s.unwrap(
        &m,
        w,
        &wrapped,
        readable_secret(CKK_AES, None).bytes(CKA_VALUE, &[9u8; 16]),
    );
    assert!(
        matches!(r, Err(CKR_ATTRIBUTE_READ_ONLY | CKR_TEMPLATE_INCONSISTENT)),
        "CKA_VALUE in the unwrap template: {r:?}"
    );
}

#[test]
fn wrap_with_trusted_needs_a_trusted_key() {
    let (_env, _init, s) = setup();
    // Only the SO may set CKA_TRUSTED: the user cannot.
    let r = s.create(
        secret(CKK_AES, &[3u8; 16])
            .bool(CKA_WRAP, true)
            .bool(CKA_TRUSTED, true),
    );
    assert!(r.is_err(), "a user created a key with CKA_TRUSTED=true");
    // The SO makes a public trusted wrapping key on the token.
    ok(s.logout(), "user logout");
    ok(s.login(CKU_SO, SO_PIN), "SO login");
    let trusted = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .bytes(CKA_VALUE, &[3u8; 16])
                .bool(CKA_TOKEN, true)
                .bool(CKA_PRIVATE, false)
                .bool(CKA_WRAP, true)
                .bool(CKA_TRUSTED, true),
        ),
        "SO creates a trusted wrapping key",
    );
    ok(s.logout(), "SO logout");
    ok(s.login(CKU_USER, USER_PIN), "user login");
    assert!(s.attr_bool(trusted, CKA_TRUSTED));

    let precious = ok(
        s.create(
            secret(CKK_AES, &[5u8; 32])
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_WRAP_WITH_TRUSTED, true),
        ),
        "CKA_WRAP_WITH_TRUSTED key",
    );
    let m = Mech::new(CKM_AES_KEY_WRAP);
    let untrusted = kek(&s, &[3u8; 16]);
    err(
        s.wrap(&m, untrusted, precious),
        CKR_KEY_NOT_WRAPPABLE,
        "CKA_WRAP_WITH_TRUSTED under an untrusted key",
    );
    let wrapped = ok(s.wrap(&m, trusted, precious), "wrap under the trusted key");
    assert_eq!(wrapped.len(), 40);
    // Same key material: the blobs agree.
    let plain = target(&s, CKK_AES, &[5u8; 32]);
    assert_eq!(ok(s.wrap(&m, untrusted, plain), "plain key"), wrapped);
}

// --- ECDH -------------------------------------------------------------------------

/// RFC 6979 A.2.5's P-256 private key, used as a known peer.
const P256_SCALAR: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

fn derived(len: Option<CK_ULONG>) -> Tmpl {
    readable_secret(CKK_GENERIC_SECRET, len)
}

fn ecdh(kdf: CK_EC_KDF_TYPE, shared: &[u8], peer: &[u8]) -> Mech {
    Mech::ecdh(CKM_ECDH1_DERIVE, kdf, shared, peer)
}

/// ANSI X9.63 KDF with SHA-256: SHA-256(Z || counter || SharedInfo)...
fn x963_sha256(z: &[u8], shared: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut counter = 1u32;
    while out.len() < len {
        let mut h = sha2::Sha256::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        h.update(shared);
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn ecdh_p256_null_and_sha256_kdf() {
    let (_env, _init, s) = setup();
    let (pub_a, priv_a) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_DERIVE, true),
    );
    let scalar = unhex(P256_SCALAR);
    let priv_b = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .bytes(CKA_EC_PARAMS, P256_PARAMS)
                .bytes(CKA_VALUE, &scalar)
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "import P-256 private key",
    );
    let sk_b = p256::SecretKey::from_slice(&scalar).unwrap();
    let point_b = sk_b.public_key().to_sec1_bytes().to_vec();
    assert_eq!(point_b.len(), 65);
    let point_a = point_of(&s, pub_a);
    let pk_a = p256::PublicKey::from_sec1_bytes(&point_a).unwrap();
    let z = p256::ecdh::diffie_hellman(sk_b.to_nonzero_scalar(), pk_a.as_affine())
        .raw_secret_bytes()
        .to_vec();

    let value = |base, m: &Mech, len| {
        let k = ok(s.derive(m, base, derived(len)), "C_DeriveKey(ECDH)");
        s.attr_ok(k, CKA_VALUE)
    };
    // CKD_NULL: the shared x-coordinate, from either side, raw or DER peer.
    assert_eq!(
        hex(&value(priv_a, &ecdh(CKD_NULL, &[], &point_b), Some(32))),
        hex(&z)
    );
    assert_eq!(
        hex(&value(
            priv_a,
            &ecdh(CKD_NULL, &[], &der_octets(&point_b)),
            Some(32)
        )),
        hex(&z),
        "peer point as a DER OCTET STRING"
    );
    assert_eq!(
        hex(&value(priv_b, &ecdh(CKD_NULL, &[], &point_a), Some(32))),
        hex(&z)
    );
    assert_eq!(
        hex(&value(priv_b, &ecdh(CKD_NULL, &[], &point_a), None)),
        hex(&z),
        "natural length"
    );
    let cofactor = Mech::ecdh(CKM_ECDH1_COFACTOR_DERIVE, CKD_NULL, &[], &point_a);
    assert_eq!(
        hex(&value(priv_b, &cofactor, Some(32))),
        hex(&z),
        "cofactor 1"
    );

    // CKD_SHA256_KDF (X9.63), with and without shared data, two blocks.
    for (shared, len) in [
        (&b""[..], 32usize),
        (&b"keyward"[..], 32),
        (&b"info"[..], 48),
    ] {
        let want = x963_sha256(&z, shared, len);
        let n = Some(len as CK_ULONG);
        let from_a = value(priv_a, &ecdh(CKD_SHA256_KDF, shared, &point_b), n);
        let from_b = value(
            priv_b,
            &ecdh(CKD_SHA256_KDF, shared, &der_octets(&point_a)),
            n,
        );
        assert_eq!(
            hex(&from_a),
            hex(&want),
            "SHA256_KDF, A's side, {len} bytes"
        );
        assert_eq!(
            hex(&from_b),
            hex(&want),
            "SHA256_KDF, B's side, {len} bytes"
        );
    }

    let k = ok(
        s.derive(&ecdh(CKD_NULL, &[], &point_b), priv_a, derived(Some(32))),
        "derive",
    );
    assert!(!s.attr_bool(k, CKA_LOCAL), "derived key: CKA_LOCAL");
    assert_eq!(s.attr_ulong(k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    assert_eq!(s.attr_ulong(k, CKA_VALUE_LEN), 32);

    err(
        s.derive(&ecdh(CKD_NULL, b"x", &point_b), priv_a, derived(Some(32))),
        CKR_MECHANISM_PARAM_INVALID,
        "CKD_NULL with shared data",
    );
    let mut off_curve = point_b.clone();
    off_curve[64] ^= 1;
    let r = s.derive(&ecdh(CKD_NULL, &[], &off_curve), priv_a, derived(Some(32)));
    assert!(r.is_err(), "a point off the curve was accepted");
    let (_, no_derive) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_DERIVE, false),
    );
    err(
        s.derive(&ecdh(CKD_NULL, &[], &point_b), no_derive, derived(Some(32))),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DERIVE=false base key",
    );
}

#[test]
fn ecdh_p384_and_p521_both_sides_agree() {
    let (_env, _init, s) = setup();
    for (params, len) in [(P384_PARAMS, 48usize), (P521_PARAMS, 66)] {
        let pair = || {
            ec_pair(
                &s,
                CKM_EC_KEY_PAIR_GEN,
                params,
                |t| t,
                |t| t.bool(CKA_DERIVE, true),
            )
        };
        let (pub_a, priv_a) = pair();
        let (pub_b, priv_b) = pair();
        let k_a = ok(
            s.derive(
                &ecdh(CKD_NULL, &[], &point_of(&s, pub_b)),
                priv_a,
                derived(None),
            ),
            "derive A",
        );
        let k_b = ok(
            s.derive(
                &ecdh(CKD_NULL, &[], &point_of(&s, pub_a)),
                priv_b,
                derived(None),
            ),
            "derive B",
        );
        let (va, vb) = (s.attr_ok(k_a, CKA_VALUE), s.attr_ok(k_b, CKA_VALUE));
        assert_eq!(va.len(), len, "natural ECDH length");
        assert_eq!(hex(&va), hex(&vb));
    }
}

/// RFC 7748 §6.1.
const X_ALICE_PRIV: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const X_ALICE_PUB: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const X_BOB_PUB: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const X_SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

#[test]
fn x25519_rfc7748_and_generated_pairs() {
    let (_env, _init, s) = setup();
    let alice = ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY)
                .bytes(CKA_EC_PARAMS, X25519_OID)
                .bytes(CKA_VALUE, &unhex(X_ALICE_PRIV))
                .bool(CKA_TOKEN, false)
                .bool(CKA_DERIVE, true),
        ),
        "import X25519 private key",
    );
    let value = |base, peer: &[u8], len| {
        let k = ok(
            s.derive(&ecdh(CKD_NULL, &[], peer), base, derived(len)),
            "X25519 derive",
        );
        hex(&s.attr_ok(k, CKA_VALUE))
    };
    assert_eq!(
        value(alice, &unhex(X_BOB_PUB), Some(32)),
        X_SHARED,
        "RFC 7748 §6.1"
    );
    assert_eq!(
        value(alice, &der_octets(&unhex(X_BOB_PUB)), None),
        X_SHARED,
        "peer key as a DER OCTET STRING"
    );

    for params in [X25519_OID.to_vec(), printable("curve25519")] {
        let (pub_g, priv_g) = ec_pair(
            &s,
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            &params,
            |t| t,
            |t| t.bool(CKA_DERIVE, true),
        );
        assert_eq!(s.attr_ulong(priv_g, CKA_KEY_TYPE), CKK_EC_MONTGOMERY);
        let point = point_of(&s, pub_g);
        assert_eq!(point.len(), 32, "X25519 public key");
        let ours = value(priv_g, &unhex(X_ALICE_PUB), Some(32));
        let theirs = value(alice, &point, Some(32));
        assert_eq!(ours, theirs, "both sides of X25519 agree");
        // The x25519-dalek crate agrees too.
        let a =
            x25519_dalek::StaticSecret::from(<[u8; 32]>::try_from(unhex(X_ALICE_PRIV)).unwrap());
        let p = x25519_dalek::PublicKey::from(<[u8; 32]>::try_from(point).unwrap());
        assert_eq!(ours, hex(a.diffie_hellman(&p).as_bytes()));
    }
}
