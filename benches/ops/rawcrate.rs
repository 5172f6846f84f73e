//! The raw column: the same work done with the crates Keyward links (same
//! versions, from Cargo.lock), called directly, into preallocated buffers.
//! The key schedule is included where a `C_*Init` must do it too (AES,
//! HMAC, CMAC: a new cipher per call); parsed asymmetric keys are kept, as
//! Keyward's key cache keeps them.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit, StreamCipher};
use hmac::Mac;
use sha2::Digest;

use super::timing::{NAMES, Op};

const KEY: [u8; 32] = [9u8; 32];

fn gcm(n: usize) -> Op {
    let data = vec![0x5au8; n];
    let mut out = vec![0u8; n + 16];
    let nonce = [7u8; 12];
    Op::new(move || {
        let c = aes_gcm::Aes256Gcm::new_from_slice(&KEY).expect("key");
        let (body, tag) = out.split_at_mut(n);
        let buf = InOutBuf::new(&data, body).expect("lengths");
        let t = c
            .encrypt_inout_detached(&nonce.into(), &[], buf)
            .expect("encrypt");
        tag.copy_from_slice(&t);
    })
}

fn cbc_pad(n: usize) -> Op {
    let data = vec![0x5au8; n];
    let mut out = vec![0u8; n + 16];
    Op::new(move || {
        let c = cbc::Encryptor::<aes::Aes256>::new(&KEY.into(), &[3u8; 16].into());
        let ct = c
            .encrypt_padded_b2b::<Pkcs7>(&data, &mut out)
            .expect("encrypt");
        assert_eq!(ct.len(), n + 16);
    })
}

fn ctr(n: usize) -> Op {
    let data = vec![0x5au8; n];
    let mut out = vec![0u8; n];
    Op::new(move || {
        let mut c = ctr::Ctr32BE::<aes::Aes256>::new(&KEY.into(), &[9u8; 16].into());
        c.apply_keystream_b2b(&data, &mut out);
    })
}

fn wrap() -> Op {
    let target = [0x11u8; 32];
    let mut out = [0u8; 40];
    Op::new(move || {
        let kw = aes_kw::KwAes256::new(&KEY.into());
        kw.wrap_key(&target, &mut out).expect("wrap");
    })
}

fn unwrap() -> Op {
    let mut wrapped = [0u8; 40];
    aes_kw::KwAes256::new(&KEY.into())
        .wrap_key(&[0x11u8; 32], &mut wrapped)
        .expect("wrap");
    let mut out = [0u8; 32];
    Op::new(move || {
        let kw = aes_kw::KwAes256::new(&KEY.into());
        let k = kw.unwrap_key(&wrapped, &mut out).expect("unwrap");
        assert_eq!(k.len(), 32);
    })
}

fn hmac(n: usize) -> Op {
    let data = vec![0x3cu8; n];
    Op::new(move || {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&KEY).expect("key");
        mac.update(&data);
        std::hint::black_box(mac.finalize().into_bytes());
    })
}

fn cmac() -> Op {
    let data = [0x3cu8; 64];
    Op::new(move || {
        let mut mac =
            <cmac::Cmac<aes::Aes256> as cmac::KeyInit>::new_from_slice(&KEY).expect("key");
        cmac::Mac::update(&mut mac, &data);
        std::hint::black_box(cmac::Mac::finalize(mac).into_bytes());
    })
}

fn sha256(n: usize) -> Op {
    let data = vec![0x3cu8; n];
    Op::new(move || {
        std::hint::black_box(sha2::Sha256::digest(&data));
    })
}

fn p256_key() -> p256::ecdsa::SigningKey {
    use p256::elliptic_curve::Generate;
    p256::ecdsa::SigningKey::try_generate_from_rng(&mut getrandom::SysRng).expect("ec key")
}

fn ecdsa_sign() -> Op {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    let key = p256_key();
    Op::new(move || {
        let s: p256::ecdsa::Signature = key.sign_prehash(&[0x3cu8; 32]).expect("sign");
        std::hint::black_box(s);
    })
}

fn ecdsa_verify() -> Op {
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    let key = p256_key();
    let sig: p256::ecdsa::Signature = key.sign_prehash(&[0x3cu8; 32]).expect("sign");
    let public = *key.verifying_key();
    Op::new(move || {
        public.verify_prehash(&[0x3cu8; 32], &sig).expect("verify");
    })
}

fn p384_key() -> p384::ecdsa::SigningKey {
    use p384::elliptic_curve::Generate;
    p384::ecdsa::SigningKey::try_generate_from_rng(&mut getrandom::SysRng).expect("ec key")
}

fn ecdsa384_sign() -> Op {
    use p384::ecdsa::signature::hazmat::PrehashSigner;
    let key = p384_key();
    Op::new(move || {
        let s: p384::ecdsa::Signature = key.sign_prehash(&[0x3cu8; 48]).expect("sign");
        std::hint::black_box(s);
    })
}

fn ecdsa384_verify() -> Op {
    use p384::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    let key = p384_key();
    let sig: p384::ecdsa::Signature = key.sign_prehash(&[0x3cu8; 48]).expect("sign");
    let public = *key.verifying_key();
    Op::new(move || {
        public.verify_prehash(&[0x3cu8; 48], &sig).expect("verify");
    })
}

fn ed25519() -> Op {
    use ed25519_dalek::Signer;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("random");
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let data = [0x3cu8; 64];
    Op::new(move || {
        std::hint::black_box(key.sign(&data));
    })
}

pub fn rsa_key() -> rsa::RsaPrivateKey {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    rsa::RsaPrivateKey::new(&mut rng, 2048).expect("rsa key")
}

fn rsa_sign(key: &rsa::RsaPrivateKey) -> Op {
    use rsa::signature::Signer;
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let data = [0x3cu8; 64];
    Op::new(move || {
        let s: rsa::pkcs1v15::Signature = signer.sign(&data);
        std::hint::black_box(s);
    })
}

fn rsa_verify(key: &rsa::RsaPrivateKey) -> Op {
    use rsa::signature::{Signer, Verifier};
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let data = [0x3cu8; 64];
    let sig: rsa::pkcs1v15::Signature = signer.sign(&data);
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(rsa::RsaPublicKey::from(key));
    Op::new(move || verifier.verify(&data, &sig).expect("verify"))
}

fn oaep(key: &rsa::RsaPrivateKey) -> Op {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let secret = [0x42u8; 32];
    let ct = rsa::RsaPublicKey::from(key)
        .encrypt(&mut rng, rsa::Oaep::<sha2::Sha256>::new(), &secret)
        .expect("encrypt");
    let key = key.clone();
    Op::new(move || {
        let pt = key
            .decrypt(rsa::Oaep::<sha2::Sha256>::new(), &ct)
            .expect("decrypt");
        assert_eq!(pt, secret);
    })
}

/// Key generation, the raw column: in the default build the RustCrypto
/// crates the module generates with; in the aws-lc build aws-lc-rs, what
/// that build's module generates with (the issue's "aws-lc-rs called
/// directly" comparison).
#[cfg(not(feature = "aws-lc"))]
fn keygen_aes() -> Op {
    Op::new(|| {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("random");
        std::hint::black_box(key);
    })
}

#[cfg(not(feature = "aws-lc"))]
fn keygen_p256() -> Op {
    Op::new(|| {
        std::hint::black_box(p256_key());
    })
}

#[cfg(not(feature = "aws-lc"))]
fn keygen_rsa() -> Op {
    Op::new(|| {
        std::hint::black_box(rsa_key());
    })
}

#[cfg(feature = "aws-lc")]
fn keygen_aes() -> Op {
    Op::new(|| {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).expect("random");
        std::hint::black_box(key);
    })
}

#[cfg(feature = "aws-lc")]
fn keygen_p256() -> Op {
    Op::new(|| {
        let k = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .expect("ec key");
        std::hint::black_box(k);
    })
}

#[cfg(feature = "aws-lc")]
fn keygen_rsa() -> Op {
    Op::new(|| {
        let k =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key");
        std::hint::black_box(k);
    })
}

/// Every row of [`NAMES`] done directly (None: no raw equivalent).
pub fn ops(rsa: &rsa::RsaPrivateKey) -> Vec<Option<Op>> {
    NAMES.iter().map(|name| op(name, rsa)).collect()
}

/// One row; `rsa` is reused so RSA key generation happens once.
pub fn op(name: &str, rsa: &rsa::RsaPrivateKey) -> Option<Op> {
    Some(match name {
        "AES-256-GCM encrypt 64 B" => gcm(64),
        "AES-256-GCM encrypt 4 KiB" => gcm(4096),
        "AES-256-GCM encrypt 1 MiB" => gcm(1 << 20),
        "AES-256-CBC-PAD encrypt 64 B" => cbc_pad(64),
        "AES-256-CBC-PAD encrypt 4 KiB" => cbc_pad(4096),
        "AES-256-CBC-PAD encrypt 1 MiB" => cbc_pad(1 << 20),
        "AES-256-CTR encrypt 64 B" => ctr(64),
        "AES-256-CTR encrypt 4 KiB" => ctr(4096),
        "AES-256-CTR encrypt 1 MiB" => ctr(1 << 20),
        "AES key wrap (AES-256 under AES-256)" => wrap(),
        "AES key unwrap (AES-256 session key)" => unwrap(),
        "HMAC-SHA256 sign 64 B" => hmac(64),
        "HMAC-SHA256 sign 4 KiB" => hmac(4096),
        "AES-CMAC sign 64 B" => cmac(),
        "SHA-256 digest 64 B" => sha256(64),
        "SHA-256 digest 4 KiB" => sha256(4096),
        "ECDSA P-256 sign (32 B hash)" => ecdsa_sign(),
        "ECDSA P-256 verify (32 B hash)" => ecdsa_verify(),
        "ECDSA P-384 sign (48 B hash)" => ecdsa384_sign(),
        "ECDSA P-384 verify (48 B hash)" => ecdsa384_verify(),
        "Ed25519 sign 64 B" => ed25519(),
        "RSA-2048 PKCS#1 v1.5 SHA-256 sign" => rsa_sign(rsa),
        "RSA-2048 PKCS#1 v1.5 SHA-256 verify" => rsa_verify(rsa),
        "RSA-2048 OAEP (SHA-256) decrypt" => oaep(rsa),
        "open+close session" => return None,
        "AES-256 key generate (session key)" => keygen_aes(),
        "EC P-256 key pair generate (session keys)" => keygen_p256(),
        "RSA-2048 key pair generate (session keys)" => keygen_rsa(),
        other => panic!("no raw case for {other}"),
    })
}
