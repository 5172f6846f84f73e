//! The raw aws-lc-rs column (the aws-lc build only): the symmetric rows
//! done with aws-lc-rs called directly, into preallocated buffers where
//! its API allows (CBC-PAD grows a `Vec` by the padding), with a new key
//! per call like the raw crate column (a `C_*Init` may have to schedule
//! the key too).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    AES_256, EncryptingKey, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{AES_256 as KW_AES_256, AesKek, KeyWrap};
use aws_lc_rs::{cmac, digest, hmac};

use super::timing::{NAMES, Op};

const KEY: [u8; 32] = [9u8; 32];

fn gcm(n: usize) -> Op {
    let mut buf = vec![0x5au8; n];
    Op::new(move || {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("key"));
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([7u8; 12]),
                Aad::empty(),
                &mut buf,
            )
            .expect("seal");
        let _ = std::hint::black_box(tag);
    })
}

fn cbc_pad(n: usize) -> Op {
    let data = vec![0x5au8; n];
    let mut out = Vec::with_capacity(n + 16);
    Op::new(move || {
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(
            UnboundCipherKey::new(&AES_256, &KEY).expect("key"),
        )
        .expect("cbc");
        out.clear();
        out.extend_from_slice(&data);
        key.less_safe_encrypt(&mut out, EncryptionContext::Iv128([3u8; 16].into()))
            .expect("encrypt");
        assert_eq!(out.len(), n + 16);
    })
}

fn ctr(n: usize) -> Op {
    let mut buf = vec![0x5au8; n];
    Op::new(move || {
        let key =
            EncryptingKey::ctr(UnboundCipherKey::new(&AES_256, &KEY).expect("key")).expect("ctr");
        key.less_safe_encrypt(&mut buf, EncryptionContext::Iv128([9u8; 16].into()))
            .expect("encrypt");
    })
}

fn wrap() -> Op {
    let target = [0x11u8; 32];
    let mut out = [0u8; 40];
    Op::new(move || {
        let kek = AesKek::new(&KW_AES_256, &KEY).expect("kek");
        kek.wrap(&target, &mut out).expect("wrap");
    })
}

fn unwrap() -> Op {
    let mut wrapped = [0u8; 40];
    AesKek::new(&KW_AES_256, &KEY)
        .expect("kek")
        .wrap(&[0x11u8; 32], &mut wrapped)
        .expect("wrap");
    let mut out = [0u8; 40];
    Op::new(move || {
        let kek = AesKek::new(&KW_AES_256, &KEY).expect("kek");
        let k = kek.unwrap(&wrapped, &mut out).expect("unwrap");
        assert_eq!(k.len(), 32);
    })
}

fn hmac(n: usize) -> Op {
    let data = vec![0x3cu8; n];
    Op::new(move || {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &KEY);
        std::hint::black_box(hmac::sign(&key, &data));
    })
}

fn cmac() -> Op {
    let data = [0x3cu8; 64];
    Op::new(move || {
        let key = cmac::Key::new(cmac::AES_256, &KEY).expect("key");
        std::hint::black_box(cmac::sign(&key, &data).expect("cmac"));
    })
}

fn sha256(n: usize) -> Op {
    let data = vec![0x3cu8; n];
    Op::new(move || {
        std::hint::black_box(digest::digest(&digest::SHA256, &data));
    })
}

/// Every row of [`NAMES`] with an aws-lc-rs equivalent here (the
/// symmetric ones; None elsewhere).
pub fn ops() -> Vec<Option<Op>> {
    NAMES.iter().map(|name| op(name)).collect()
}

fn op(name: &str) -> Option<Op> {
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
        _ => return None,
    })
}
