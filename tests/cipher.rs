//! Encryption and decryption through the module's C ABI: NIST SP 800-38A
//! (ECB, CBC, CTR) and McGrew–Viega GCM vectors on imported keys,
//! single-part against multi-part, CBC_PAD lengths, block alignment and
//! parameter errors, the output-length protocol, operations ending after
//! an error, key permissions, RSA-OAEP checked against the `rsa` crate and
//! the policy switch for RSA PKCS#1 v1.5 decryption.

#[macro_use]
mod common;

use common::ops::*;
use common::raw::*;
use common::{TestEnv, hex, unhex};
use cryptoki_sys::*;

/// SP 800-38A F.1–F.5: the AES-128 key and the four plaintext blocks.
const SP_KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP_KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const SP_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                        30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const SP_ECB128: &str = "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
                         43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4";
const SP_ECB256: &str = "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870\
                         b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7";
const SP_CBC_IV: &str = "000102030405060708090a0b0c0d0e0f";
const SP_CBC128: &str = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
                         73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";
const SP_CTR_BLOCK: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const SP_CTR128: &str = "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
                         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee";

/// McGrew–Viega "The GCM mode of operation", test case 4 (AAD, 60-byte
/// plaintext, 96-bit IV).
const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_PLAIN: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_CIPHER: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                          21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const GCM_TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

/// Odd part sizes for multi-part runs (the rest goes in a last part).
const PARTS: &[usize] = &[1, 7, 17, 0, 3, 33];

fn setup() -> (TestEnv, Init, Sess) {
    setup_with("")
}

/// A fresh store with `extra` config lines, the module initialized and a
/// user session on slot 0. Bind all three: they drop session, module,
/// then the environment lock, in that order.
fn setup_with(extra: &str) -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config(extra);
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

fn cbc_iv() -> Vec<u8> {
    unhex(SP_CBC_IV)
}

fn ctr_block() -> [u8; 16] {
    unhex(SP_CTR_BLOCK).try_into().unwrap()
}

/// Test data of `n` bytes that is not all one value.
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn sp800_38a_ecb_cbc_ctr_vectors() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import AES-128");
    let plain = unhex(SP_PLAIN);
    let cases = [
        ("ECB", Mech::new(CKM_AES_ECB), SP_ECB128),
        ("CBC", Mech::bytes(CKM_AES_CBC, &cbc_iv()), SP_CBC128),
        ("CTR/128", Mech::ctr(128, ctr_block()), SP_CTR128),
        // The counter never leaves its low 32 bits in four blocks.
        ("CTR/32", Mech::ctr(32, ctr_block()), SP_CTR128),
    ];
    for (name, m, want) in &cases {
        let ct = ok(s.encrypt_once(m, k, &plain), name);
        assert_eq!(hex(&ct), *want, "{name} encryption");
        let pt = ok(s.decrypt_once(m, k, &ct), name);
        assert_eq!(pt, plain, "{name} decryption");
    }
    let k256 = ok(s.create(aes_crypt(&unhex(SP_KEY256))), "import AES-256");
    let ct = ok(
        s.encrypt_once(&Mech::new(CKM_AES_ECB), k256, &plain),
        "ECB-256",
    );
    assert_eq!(hex(&ct), SP_ECB256, "AES-256 ECB");
}

#[test]
fn ctr_counter_wrap_is_refused() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    let mut cb = [0u8; 16];
    cb[15] = 0xff;
    // An 8-bit counter at 0xff has exactly one block left.
    let m = Mech::ctr(8, cb);
    assert_eq!(ok(s.encrypt_once(&m, k, &[0u8; 16]), "one block").len(), 16);
    err(
        s.encrypt_once(&m, k, &[0u8; 17]),
        CKR_DATA_LEN_RANGE,
        "CTR counter wrap",
    );
    err(
        s.encrypt_once(&Mech::ctr(0, cb), k, &[0u8; 16]),
        CKR_MECHANISM_PARAM_INVALID,
        "CTR with 0 counter bits",
    );
    err(
        s.encrypt_init(&Mech::bytes(CKM_AES_CTR, &[0u8; 16]), k),
        CKR_MECHANISM_PARAM_INVALID,
        "CTR parameter of the wrong size",
    );
}

#[test]
fn single_part_equals_multi_part() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY256))), "import");
    let aligned = data(96);
    let odd = data(77);
    let cases: Vec<(&str, Mech, &[u8])> = vec![
        ("ECB", Mech::new(CKM_AES_ECB), &aligned),
        ("CBC", Mech::bytes(CKM_AES_CBC, &cbc_iv()), &aligned),
        ("CBC_PAD", Mech::bytes(CKM_AES_CBC_PAD, &cbc_iv()), &odd),
        ("CTR", Mech::ctr(64, ctr_block()), &odd),
        ("GCM", Mech::gcm(&unhex(GCM_IV), b"header", 128), &odd),
    ];
    for (name, m, pt) in &cases {
        let single = ok(s.encrypt_once(m, k, pt), name);
        let multi = ok(s.encrypt_parts(m, k, pt, PARTS), name);
        assert_eq!(multi, single, "{name}: multi-part ciphertext");
        let back = ok(s.decrypt_parts(m, k, &single, PARTS), name);
        assert_eq!(&back, pt, "{name}: multi-part decryption");
        let back = ok(s.decrypt_once(m, k, &single), name);
        assert_eq!(&back, pt, "{name}: single-part decryption");
    }
}

#[test]
fn cbc_pad_round_trips_and_padding() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    let pad = Mech::bytes(CKM_AES_CBC_PAD, &cbc_iv());
    let raw = Mech::bytes(CKM_AES_CBC, &cbc_iv());
    for n in [0usize, 1, 15, 16, 17, 33] {
        let pt = data(n);
        let ct = ok(
            s.encrypt_once(&pad, k, &pt),
            &format!("CBC_PAD encrypt {n}"),
        );
        assert_eq!(ct.len(), (n / 16 + 1) * 16, "CBC_PAD length for {n} bytes");
        assert_eq!(ok(s.decrypt_once(&pad, k, &ct), "decrypt"), pt, "{n} bytes");
        assert_eq!(
            ok(s.decrypt_parts(&pad, k, &ct, &[5, 16]), "multi-part"),
            pt,
            "{n} bytes, multi-part"
        );
        // Decrypting without padding shows the PKCS#7 padding itself.
        let padded = ok(s.decrypt_once(&raw, k, &ct), "CBC decrypt");
        let p = 16 - n % 16;
        assert_eq!(&padded[..n], &pt[..]);
        assert!(
            padded[n..].iter().all(|&b| usize::from(b) == p),
            "padding of {n} bytes: {}",
            hex(&padded[n..])
        );
    }
    // A last block whose padding is not PKCS#7.
    let bad = ok(s.encrypt_once(&raw, k, &[0u8; 32]), "CBC encrypt");
    err(
        s.decrypt_once(&pad, k, &bad),
        CKR_ENCRYPTED_DATA_INVALID,
        "CBC_PAD with bad padding",
    );
    err(
        s.decrypt(&bad),
        CKR_OPERATION_NOT_INITIALIZED,
        "after the error",
    );
}

#[test]
fn block_alignment_errors_end_the_operation() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    let ecb = Mech::new(CKM_AES_ECB);
    let cbc = Mech::bytes(CKM_AES_CBC, &cbc_iv());
    let pad = Mech::bytes(CKM_AES_CBC_PAD, &cbc_iv());
    for (name, m) in [("ECB", &ecb), ("CBC", &cbc)] {
        err(s.encrypt_once(m, k, &[0u8; 15]), CKR_DATA_LEN_RANGE, name);
        err(s.encrypt(&[0u8; 16]), CKR_OPERATION_NOT_INITIALIZED, name);
        err(s.encrypt_once(m, k, &[0u8; 17]), CKR_DATA_LEN_RANGE, name);
        err(
            s.decrypt_once(m, k, &[0u8; 31]),
            CKR_ENCRYPTED_DATA_LEN_RANGE,
            name,
        );
        err(s.decrypt(&[0u8; 32]), CKR_OPERATION_NOT_INITIALIZED, name);
        // Multi-part: the remainder is only refused at the end.
        ok(s.encrypt_init(m, k), name);
        assert_eq!(ok(s.encrypt_update(&[0u8; 20]), name).len(), 16);
        err(s.encrypt_final(), CKR_DATA_LEN_RANGE, name);
        err(s.encrypt_final(), CKR_OPERATION_NOT_INITIALIZED, name);
        ok(s.decrypt_init(m, k), name);
        ok(s.decrypt_update(&[0u8; 20]), name);
        err(s.decrypt_final(), CKR_ENCRYPTED_DATA_LEN_RANGE, name);
        err(s.decrypt_final(), CKR_OPERATION_NOT_INITIALIZED, name);
    }
    err(
        s.decrypt_once(&pad, k, &[0u8; 15]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "CBC_PAD 15 bytes",
    );
    err(
        s.decrypt_once(&pad, k, &[]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "CBC_PAD empty ciphertext",
    );
}

#[test]
fn parameter_validation() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    for ty in [CKM_AES_CBC, CKM_AES_CBC_PAD] {
        for iv_len in [15usize, 17, 8] {
            let m = Mech::bytes(ty, &vec![0u8; iv_len]);
            err(
                s.encrypt_init(&m, k),
                CKR_MECHANISM_PARAM_INVALID,
                &format!("{ty:#x} with a {iv_len}-byte IV (encrypt)"),
            );
            err(
                s.decrypt_init(&m, k),
                CKR_MECHANISM_PARAM_INVALID,
                &format!("{ty:#x} with a {iv_len}-byte IV (decrypt)"),
            );
        }
        err(
            s.encrypt_init(&Mech::new(ty), k),
            CKR_MECHANISM_PARAM_INVALID,
            "CBC without IV",
        );
    }
    // The failed inits left nothing behind: a good one works.
    ok(
        s.encrypt_once(&Mech::bytes(CKM_AES_CBC, &cbc_iv()), k, &[0u8; 16]),
        "CBC after failed inits",
    );
    let iv = unhex(GCM_IV);
    for tag in [64, 88, 129, 136, 0] {
        err(
            s.encrypt_init(&Mech::gcm(&iv, &[], tag), k),
            CKR_MECHANISM_PARAM_INVALID,
            &format!("GCM tag of {tag} bits"),
        );
    }
    err(
        s.encrypt_init(&Mech::gcm(&[], &[], 128), k),
        CKR_MECHANISM_PARAM_INVALID,
        "GCM without IV",
    );
    err(
        s.encrypt_init(&Mech::new(CKM_AES_GCM), k),
        CKR_MECHANISM_PARAM_INVALID,
        "GCM without parameter",
    );
    for tag in [96, 104, 112, 120, 128] {
        let ct = ok(
            s.encrypt_once(&Mech::gcm(&iv, &[], tag), k, b"x"),
            &format!("GCM tag of {tag} bits"),
        );
        assert_eq!(ct.len(), 1 + tag as usize / 8);
    }
}

#[test]
fn gcm_known_vector_and_tag_check() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(GCM_KEY))), "import");
    let (iv, aad, pt) = (unhex(GCM_IV), unhex(GCM_AAD), unhex(GCM_PLAIN));
    let want = format!("{GCM_CIPHER}{GCM_TAG}");
    let m = Mech::gcm(&iv, &aad, 128);
    let ct = ok(s.encrypt_once(&m, k, &pt), "GCM encrypt");
    assert_eq!(hex(&ct), want, "McGrew–Viega test case 4");
    assert_eq!(hex(&ok(s.encrypt_parts(&m, k, &pt, PARTS), "parts")), want);
    assert_eq!(ok(s.decrypt_once(&m, k, &ct), "GCM decrypt"), pt);
    // A 96-bit tag is the leftmost 12 bytes of the full one.
    let short = ok(
        s.encrypt_once(&Mech::gcm(&iv, &aad, 96), k, &pt),
        "96-bit tag",
    );
    assert_eq!(hex(&short), format!("{GCM_CIPHER}{}", &GCM_TAG[..24]));

    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 1;
    err(
        s.decrypt_once(&m, k, &bad),
        CKR_ENCRYPTED_DATA_INVALID,
        "GCM with a bad tag",
    );
    err(
        s.decrypt(&ct),
        CKR_OPERATION_NOT_INITIALIZED,
        "after the tag error",
    );
    // Multi-part: nothing is released before the tag is checked.
    ok(s.decrypt_init(&m, k), "init");
    let mut released = Vec::new();
    for part in split(&bad, PARTS) {
        released.extend(ok(s.decrypt_update(part), "update"));
    }
    assert!(
        released.is_empty(),
        "GCM released {} bytes before the tag",
        released.len()
    );
    err(
        s.decrypt_final(),
        CKR_ENCRYPTED_DATA_INVALID,
        "multi-part bad tag",
    );
    err(
        s.decrypt_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "after the error",
    );
    // Wrong AAD is a bad tag too.
    err(
        s.decrypt_once(&Mech::gcm(&iv, b"other", 128), k, &ct),
        CKR_ENCRYPTED_DATA_INVALID,
        "GCM with other AAD",
    );
    // Shorter than the tag cannot be a GCM ciphertext.
    let r = s.decrypt_once(&m, k, &ct[..10]);
    assert!(
        matches!(
            r,
            Err(CKR_ENCRYPTED_DATA_LEN_RANGE | CKR_ENCRYPTED_DATA_INVALID)
        ),
        "GCM ciphertext shorter than its tag: {r:?}"
    );
}

#[test]
fn output_length_protocol() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    let plain = unhex(SP_PLAIN);

    // C_Encrypt (CBC): query, short buffer, then the output.
    let cbc = Mech::bytes(CKM_AES_CBC, &cbc_iv());
    ok(s.encrypt_init(&cbc, k), "init");
    let p = s.encrypt_protocol(&plain, 64);
    assert_protocol(&p, &unhex(SP_CBC128), "C_Encrypt (CBC)");
    err(
        s.encrypt(&plain),
        CKR_OPERATION_NOT_INITIALIZED,
        "after success",
    );

    // C_Encrypt (GCM), then C_Decrypt.
    let gk = ok(s.create(aes_crypt(&unhex(GCM_KEY))), "import");
    let gcm = Mech::gcm(&unhex(GCM_IV), &unhex(GCM_AAD), 128);
    let want = unhex(&format!("{GCM_CIPHER}{GCM_TAG}"));
    ok(s.encrypt_init(&gcm, gk), "init");
    assert_protocol(
        &s.encrypt_protocol(&unhex(GCM_PLAIN), 76),
        &want,
        "C_Encrypt (GCM)",
    );
    ok(s.decrypt_init(&gcm, gk), "init");
    assert_protocol(
        &s.decrypt_protocol(&want, 60),
        &unhex(GCM_PLAIN),
        "C_Decrypt (GCM)",
    );

    // C_Decrypt (CBC_PAD) and C_DecryptFinal with the held-back block.
    let pad = Mech::bytes(CKM_AES_CBC_PAD, &cbc_iv());
    let pt = data(17);
    let ct = ok(s.encrypt_once(&pad, k, &pt), "encrypt");
    ok(s.decrypt_init(&pad, k), "init");
    assert_protocol(&s.decrypt_protocol(&ct, 17), &pt, "C_Decrypt (CBC_PAD)");
    ok(s.decrypt_init(&pad, k), "init");
    let first = ok(s.decrypt_update(&ct), "update");
    assert!(first.len() <= 17, "update released more than the plaintext");
    let p = s.decrypt_final_protocol(17 - first.len());
    assert_protocol(&p, &pt[first.len()..], "C_DecryptFinal (CBC_PAD)");
    err(
        s.decrypt_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "after final",
    );
}

#[test]
fn key_attributes_are_enforced() {
    let (_env, _init, s) = setup();
    let value = unhex(SP_KEY128);
    let cbc = Mech::bytes(CKM_AES_CBC, &cbc_iv());
    let no_enc = ok(
        s.create(
            secret(CKK_AES, &value)
                .bool(CKA_ENCRYPT, false)
                .bool(CKA_DECRYPT, true),
        ),
        "import",
    );
    err(
        s.encrypt_init(&cbc, no_enc),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_ENCRYPT=false",
    );
    ok(s.decrypt_init(&cbc, no_enc), "decrypt is allowed");
    ok(s.decrypt(&[0u8; 16]), "decrypt");
    let no_dec = ok(
        s.create(
            secret(CKK_AES, &value)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, false),
        ),
        "import",
    );
    err(
        s.decrypt_init(&cbc, no_dec),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DECRYPT=false",
    );
    let generic = ok(
        s.create(
            secret(CKK_GENERIC_SECRET, &value)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true),
        ),
        "generic secret",
    );
    err(
        s.encrypt_init(&cbc, generic),
        CKR_KEY_TYPE_INCONSISTENT,
        "AES-CBC with a generic secret",
    );
    err(
        s.encrypt_init(&cbc, 0xdead_beef),
        CKR_KEY_HANDLE_INVALID,
        "unknown key handle",
    );
    // A second init while one is active.
    let k = ok(s.create(aes_crypt(&value)), "import");
    ok(s.encrypt_init(&cbc, k), "init");
    err(
        s.encrypt_init(&cbc, k),
        CKR_OPERATION_ACTIVE,
        "second C_EncryptInit",
    );
    ok(s.encrypt(&[0u8; 16]), "the first operation still runs");
}

#[test]
fn cipher_mechanism_info() {
    let (_env, _init, s) = setup();
    let list = ok(s.mechanism_list(0), "C_GetMechanismList");
    for ty in [
        CKM_AES_ECB,
        CKM_AES_CBC,
        CKM_AES_CBC_PAD,
        CKM_AES_CTR,
        CKM_AES_GCM,
        CKM_RSA_PKCS_OAEP,
    ] {
        assert!(
            list.contains(&ty),
            "{ty:#x} missing from C_GetMechanismList"
        );
        let info = ok(s.mechanism_info(0, ty), "C_GetMechanismInfo");
        assert_eq!(
            info.flags & (CKF_ENCRYPT | CKF_DECRYPT),
            CKF_ENCRYPT | CKF_DECRYPT,
            "{ty:#x} flags {:#x}",
            info.flags
        );
        assert_eq!(info.flags & CKF_HW, 0, "{ty:#x} claims CKF_HW");
    }
    for ty in [CKM_AES_ECB, CKM_AES_CBC, CKM_AES_GCM] {
        let info = ok(s.mechanism_info(0, ty), "info");
        // AES key sizes are in bytes.
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32), "{ty:#x}");
    }
}

// --- RSA ----------------------------------------------------------------------

const OAEP_LABEL: &[u8] = b"keyward label";

fn rsa_pair(s: &Sess) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ok(
        s.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCRYPT, true),
            Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_DECRYPT, true),
        ),
        "RSA-2048 key pair",
    )
}

fn rsa_public(s: &Sess, pubk: CK_OBJECT_HANDLE) -> rsa::RsaPublicKey {
    rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&s.attr_ok(pubk, CKA_MODULUS)),
        rsa::BoxedUint::from_be_slice_vartime(&s.attr_ok(pubk, CKA_PUBLIC_EXPONENT)),
    )
    .expect("RSA public key from CKA_MODULUS / CKA_PUBLIC_EXPONENT")
}

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

#[test]
fn rsa_oaep_round_trips_and_interop() {
    let (_env, _init, s) = setup();
    let (pubk, privk) = rsa_pair(&s);
    let msg = b"OAEP through the C ABI";
    let m = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, OAEP_LABEL);

    let ct = ok(s.encrypt_once(&m, pubk, msg), "OAEP encrypt");
    assert_eq!(ct.len(), 256);
    assert_eq!(ok(s.decrypt_once(&m, privk, &ct), "OAEP decrypt"), msg);
    // OAEP is randomized.
    assert_ne!(ok(s.encrypt_once(&m, pubk, msg), "again"), ct);

    // Encrypted by the `rsa` crate, decrypted by the module.
    let pk = rsa_public(&s, pubk);
    let theirs = pk
        .encrypt(
            &mut rng(),
            rsa::Oaep::<sha2::Sha256>::new_with_label(OAEP_LABEL),
            msg,
        )
        .expect("rsa crate OAEP");
    assert_eq!(
        ok(s.decrypt_once(&m, privk, &theirs), "decrypt rsa crate's"),
        msg
    );
    let sha1 = pk
        .encrypt(&mut rng(), rsa::Oaep::<sha1::Sha1>::new(), msg)
        .expect("rsa crate OAEP-SHA1");
    let m1 = Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1, &[]);
    assert_eq!(ok(s.decrypt_once(&m1, privk, &sha1), "OAEP-SHA1"), msg);

    // The wrong label, or a damaged ciphertext, is not a plaintext.
    let other = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"other");
    err(
        s.decrypt_once(&other, privk, &ct),
        CKR_ENCRYPTED_DATA_INVALID,
        "OAEP with the wrong label",
    );
    let mut bad = ct.clone();
    bad[100] ^= 0x40;
    err(
        s.decrypt_once(&m, privk, &bad),
        CKR_ENCRYPTED_DATA_INVALID,
        "tampered OAEP ciphertext",
    );
    // 256 - 2 - 2*32 = 190 bytes at most.
    assert_eq!(
        ok(s.encrypt_once(&m, pubk, &[7u8; 190]), "190 bytes").len(),
        256
    );
    err(
        s.encrypt_once(&m, pubk, &[7u8; 191]),
        CKR_DATA_LEN_RANGE,
        "OAEP plaintext too long",
    );

    // Length protocol on C_Decrypt.
    ok(s.decrypt_init(&m, privk), "init");
    let p = s.decrypt_protocol(&ct, msg.len());
    assert_eq!(p.out, msg);
    if let Some((r, _)) = p.short {
        assert_rv!(r, CKR_BUFFER_TOO_SMALL, "OAEP C_Decrypt short buffer");
    }
}

#[test]
fn rsa_oaep_parameter_and_key_errors() {
    let (_env, _init, s) = setup();
    let (pubk, privk) = rsa_pair(&s);
    let mismatch = Mech::oaep(CKM_SHA256, CKG_MGF1_SHA1, &[]);
    err(
        s.encrypt_init(&mismatch, pubk),
        CKR_MECHANISM_PARAM_INVALID,
        "OAEP hash SHA-256 with MGF1-SHA1 (encrypt)",
    );
    err(
        s.decrypt_init(&mismatch, privk),
        CKR_MECHANISM_PARAM_INVALID,
        "OAEP hash SHA-256 with MGF1-SHA1 (decrypt)",
    );
    err(
        s.encrypt_init(&Mech::new(CKM_RSA_PKCS_OAEP), pubk),
        CKR_MECHANISM_PARAM_INVALID,
        "OAEP without parameter",
    );
    let m = Mech::oaep(CKM_SHA384, CKG_MGF1_SHA384, &[]);
    // A private key has no CKA_ENCRYPT: either code names the fault.
    let r = s.encrypt_init(&m, privk);
    assert!(
        matches!(
            r,
            Err(CKR_KEY_TYPE_INCONSISTENT | CKR_KEY_FUNCTION_NOT_PERMITTED)
        ),
        "OAEP encryption with the private key: {r:?}"
    );
    let aes = ok(s.create(aes_crypt(&[1u8; 16])), "AES");
    err(
        s.encrypt_init(&m, aes),
        CKR_KEY_TYPE_INCONSISTENT,
        "OAEP with an AES key",
    );
    let ct = ok(s.encrypt_once(&m, pubk, b"sha384"), "OAEP-SHA384");
    assert_eq!(ok(s.decrypt_once(&m, privk, &ct), "decrypt"), b"sha384");
}

#[test]
fn rsa_pkcs1_decryption_is_off_by_default() {
    let (_env, _init, s) = setup();
    let info = ok(s.mechanism_info(0, CKM_RSA_PKCS), "C_GetMechanismInfo");
    assert_eq!(
        info.flags & CKF_DECRYPT,
        0,
        "CKM_RSA_PKCS offers CKF_DECRYPT without the policy switch"
    );
    assert_ne!(info.flags & CKF_SIGN, 0, "CKM_RSA_PKCS still signs");
    let (pubk, privk) = rsa_pair(&s);
    err(
        s.decrypt_init(&Mech::new(CKM_RSA_PKCS), privk),
        CKR_MECHANISM_INVALID,
        "C_DecryptInit(CKM_RSA_PKCS) by default",
    );
    err(
        s.encrypt_init(&Mech::new(CKM_RSA_PKCS), pubk),
        CKR_MECHANISM_INVALID,
        "C_EncryptInit(CKM_RSA_PKCS) by default",
    );
}

#[test]
fn rsa_pkcs1_decryption_with_the_policy_switch() {
    let (_env, _init, s) = setup_with("allow_legacy_rsa_decryption = true");
    let info = ok(s.mechanism_info(0, CKM_RSA_PKCS), "C_GetMechanismInfo");
    assert_eq!(
        info.flags & (CKF_ENCRYPT | CKF_DECRYPT),
        CKF_ENCRYPT | CKF_DECRYPT,
        "flags {:#x}",
        info.flags
    );
    let (pubk, privk) = rsa_pair(&s);
    let m = Mech::new(CKM_RSA_PKCS);
    let msg = b"legacy padding";
    let ct = ok(s.encrypt_once(&m, pubk, msg), "RSA_PKCS encrypt");
    assert_eq!(ct.len(), 256);
    assert_eq!(ok(s.decrypt_once(&m, privk, &ct), "RSA_PKCS decrypt"), msg);
    let theirs = rsa_public(&s, pubk)
        .encrypt(&mut rng(), rsa::Pkcs1v15Encrypt, msg)
        .expect("rsa crate PKCS#1 v1.5");
    assert_eq!(
        ok(s.decrypt_once(&m, privk, &theirs), "decrypt rsa crate's"),
        msg
    );
    // 256 - 11 bytes at most.
    err(
        s.encrypt_once(&m, pubk, &[1u8; 246]),
        CKR_DATA_LEN_RANGE,
        "PKCS#1 v1.5 plaintext too long",
    );
}

/// One output call made the way a client built on a growable buffer makes
/// it (PyKCS11's C++ layer, any `std::vector` or `malloc(n)` user): a
/// length query, then a buffer of the answered size — and a buffer of
/// size 0 is a NULL pointer again. Such a client never sees output that a
/// query reported as 0 bytes, so a 0 answer must only mean "done".
fn vector_client(mut call: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> Vec<u8> {
    let mut n: CK_ULONG = 0;
    assert_eq!(call(std::ptr::null_mut(), &mut n), CKR_OK, "length query");
    let mut buf = vec![0u8; n as usize];
    let ptr = if buf.is_empty() {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr()
    };
    assert_eq!(call(ptr, &mut n), CKR_OK, "the call with the buffer");
    buf.truncate(n as usize);
    buf
}

/// A length query never answers 0 for a call that still has something to
/// hand over (if only the end of the operation): with 0, the client above
/// queried twice, its GCM tag went into the kept empty output of the first
/// update and was dropped, and C_DecryptFinal succeeded with no plaintext
/// and no tag check (PyKCS11 1.5.20's test_multi_part_aead). Answered with
/// 1, every call reaches the module with a real buffer.
#[test]
fn length_queries_of_empty_outputs_bring_the_client_back() {
    let (_env, _init, s) = setup();
    let k = ok(s.create(aes_crypt(&unhex(GCM_KEY))), "import");
    let (iv, aad, pt) = (unhex(GCM_IV), unhex(GCM_AAD), unhex(GCM_PLAIN));
    let m = Mech::gcm(&iv, &aad, 128);
    let ct = ok(s.encrypt_once(&m, k, &pt), "GCM encrypt");
    let (body, tag) = ct.split_at(ct.len() - 16);
    let update = |data: &[u8]| {
        let mut d = data.to_vec();
        vector_client(|p, n| {
            // SAFETY: valid input; output NULL (query) or `*n` writable bytes.
            unsafe {
                (s.f.C_DecryptUpdate.unwrap())(s.h, d.as_mut_ptr(), d.len() as CK_ULONG, p, n)
            }
        })
    };
    let finish = || {
        vector_client(|p, n| {
            // SAFETY: as above.
            unsafe { (s.f.C_DecryptFinal.unwrap())(s.h, p, n) }
        })
    };

    ok(s.decrypt_init(&m, k), "init");
    assert!(
        update(body).is_empty(),
        "GCM releases nothing before the tag"
    );
    assert!(update(tag).is_empty());
    assert_eq!(finish(), pt, "the plaintext, after the tag check");
    err(s.decrypt_final(), CKR_OPERATION_NOT_INITIALIZED, "ended");

    // A wrong tag is still found by a client of this kind: C_DecryptFinal
    // fails (the length query already checks the tag).
    let mut bad = tag.to_vec();
    bad[0] ^= 1;
    ok(s.decrypt_init(&m, k), "init");
    assert!(update(body).is_empty());
    assert!(update(&bad).is_empty());
    err(s.decrypt_final(), CKR_ENCRYPTED_DATA_INVALID, "bad tag");

    // CBC: an update shorter than a block has no output yet, and the
    // final of an exact-block message none either; neither is lost.
    let cbc = Mech::bytes(CKM_AES_CBC, &unhex(SP_CBC_IV));
    let kc = ok(s.create(aes_crypt(&unhex(SP_KEY128))), "import");
    let ct = unhex(SP_CBC128);
    ok(s.decrypt_init(&cbc, kc), "init");
    let mut out = update(&ct[..5]);
    out.extend(update(&ct[5..]));
    out.extend(finish());
    assert_eq!(hex(&out), SP_PLAIN);
    err(s.decrypt_final(), CKR_OPERATION_NOT_INITIALIZED, "ended");
}
