//! Starts from a *valid* sealed object row (clear attributes + sealed blob
//! under a real master key) and applies the fuzzer's edits to its bytes, id
//! or class: every edit must be caught by the seal, the untouched row must
//! always open, and decoding never panics.
#![no_main]

use keyward::store::AttrMap;
use keyward::store::codec::{decode_attrs, encode_attrs, encode_attrs_secret};
use keyward::store::seal::{MasterKey, public_digest, seal_object, unseal_object};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ID: i64 = 0x1234_5678;
const CLASS: u64 = 4; // CKO_SECRET_KEY

struct Row {
    mk: MasterKey,
    public: Vec<u8>,
    sealed: Vec<u8>,
    secret: Vec<u8>,
}

fn row() -> Option<&'static Row> {
    static ROW: OnceLock<Option<Row>> = OnceLock::new();
    ROW.get_or_init(|| {
        let mk = MasterKey::generate().ok()?;
        let mut clear = AttrMap::new();
        clear.insert(0x0, CLASS.to_le_bytes().to_vec()); // CKA_CLASS
        clear.insert(0x3, b"fuzz key".to_vec()); // CKA_LABEL
        clear.insert(0x102, vec![1, 2, 3]); // CKA_ID
        clear.insert(0x104, vec![1]); // CKA_ENCRYPT
        let mut secret = AttrMap::new();
        secret.insert(0x11, vec![0x5a; 32]); // CKA_VALUE
        let public = encode_attrs(&clear);
        let plain = encode_attrs_secret(&secret);
        let sealed = seal_object(&mk, ID, CLASS, &public_digest(&public), &plain).ok()?;
        Some(Row {
            mk,
            public,
            sealed,
            secret: plain.to_vec(),
        })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(row) = row() else { return };
    let mut public = row.public.clone();
    let mut sealed = row.sealed.clone();
    let (mut id, mut class) = (ID, CLASS);
    // Edits, 4 bytes each: target, op, position (2 bytes little-endian).
    for edit in data.chunks_exact(4) {
        let pos = usize::from(u16::from_le_bytes([edit[2], edit[3]]));
        let buf = match edit[0] % 4 {
            0 => &mut sealed,
            1 => &mut public,
            2 => {
                id ^= i64::from(edit[1]) << (pos % 56);
                continue;
            }
            _ => {
                class ^= u64::from(edit[1]) << (pos % 56);
                continue;
            }
        };
        match edit[1] % 3 {
            // Flip bits of one byte (a zero mask leaves it as is).
            0 if !buf.is_empty() => {
                let i = pos % buf.len();
                buf[i] ^= edit[1];
            }
            1 => buf.truncate(pos % (buf.len() + 1)),
            _ => buf.insert(pos % (buf.len() + 1), edit[1]),
        }
    }
    // The clear part is decoded before the seal is checked: never panics.
    let _ = decode_attrs(&public);
    let unchanged = public == row.public && sealed == row.sealed && id == ID && class == CLASS;
    match unseal_object(&row.mk, id, class, &public_digest(&public), &sealed) {
        Ok(plain) => {
            assert!(unchanged, "an edited row passed its seal");
            assert_eq!(plain.as_slice(), row.secret.as_slice());
            assert!(decode_attrs(&plain).is_ok());
        }
        Err(_) => assert!(!unchanged, "an untouched row failed its seal"),
    }
});
