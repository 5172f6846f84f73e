//! The single-part AES-GCM path that writes straight into the caller's
//! buffer (issue 11), through the C ABI: large and batch-crossing lengths
//! equal the `aes-gcm` crate, a caller encrypting in place (input and
//! output the same memory) still gets the right answer, a bad tag writes
//! nothing to the output even when it is large enough, and a delivered
//! result ends the operation.

#[macro_use]
mod common;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use common::TestEnv;
use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use cryptoki_sys::*;

const KEY: [u8; 32] = [0x42; 32];
const IV: [u8; 12] = [0x24; 12];
const AAD: &[u8] = b"bulk";

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config("");
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

fn reference(plain: &[u8]) -> Vec<u8> {
    let mut out = plain.to_vec();
    let tag = Aes256Gcm::new(&KEY.into())
        .encrypt_inout_detached(&IV.into(), AAD, out.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&tag);
    out
}

fn ulong(n: usize) -> CK_ULONG {
    n as CK_ULONG
}

/// C_Encrypt / C_Decrypt with the output in the input's own buffer.
fn in_place(s: &Sess, encrypt: bool, buf: &mut Vec<u8>, data_len: usize) -> CK_RV {
    let mut n = ulong(buf.len());
    let p = buf.as_mut_ptr();
    // SAFETY: `p` is valid for buf.len() bytes for reads and writes; the
    // module is told both the input and the output live there.
    let rv = unsafe {
        if encrypt {
            (s.f.C_Encrypt.unwrap())(s.h, p, ulong(data_len), p, &mut n)
        } else {
            (s.f.C_Decrypt.unwrap())(s.h, p, ulong(data_len), p, &mut n)
        }
    };
    if rv == CKR_OK {
        buf.truncate(n as usize);
    }
    rv
}

#[test]
fn large_and_in_place_gcm_match_the_crate() {
    let (_env, _init, s) = setup();
    let k = s.create(aes_crypt(&KEY)).expect("import");
    let m = Mech::gcm(&IV, AAD, 128);
    for len in [0usize, 1, 511, 512, 513, 4096, (1 << 20) + 3] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
        let want = reference(&plain);
        assert_eq!(s.encrypt_once(&m, k, &plain).unwrap(), want, "{len}");
        assert_eq!(s.decrypt_once(&m, k, &want).unwrap(), plain, "{len}");

        // In place: the output overlaps the input.
        let mut buf = plain.clone();
        buf.resize(len + 16, 0);
        s.encrypt_init(&m, k).unwrap();
        assert_eq!(in_place(&s, true, &mut buf, len), CKR_OK);
        assert_eq!(buf, want, "in place {len}");
        s.decrypt_init(&m, k).unwrap();
        assert_eq!(in_place(&s, false, &mut buf, len + 16), CKR_OK);
        assert_eq!(buf, plain, "in place {len}");
    }
}

#[test]
fn bad_tag_writes_nothing_and_delivery_ends_the_operation() {
    let (_env, _init, s) = setup();
    let k = s.create(aes_crypt(&KEY)).expect("import");
    let m = Mech::gcm(&IV, AAD, 128);
    let plain = vec![7u8; 3000];
    let mut ct = reference(&plain);
    let last = ct.len() - 1;
    ct[last] ^= 1;
    s.decrypt_init(&m, k).unwrap();
    let mut out = vec![0xEEu8; ct.len()];
    let mut n = ulong(out.len());
    // SAFETY: separate, valid buffers of the given lengths.
    let rv = unsafe {
        (s.f.C_Decrypt.unwrap())(
            s.h,
            ct.as_mut_ptr(),
            ulong(ct.len()),
            out.as_mut_ptr(),
            &mut n,
        )
    };
    assert_eq!(rv, CKR_ENCRYPTED_DATA_INVALID);
    assert!(out.iter().all(|b| *b == 0xEE), "plaintext was released");
    // The failure ended the operation.
    assert_eq!(s.decrypt(&ct).unwrap_err(), CKR_OPERATION_NOT_INITIALIZED);

    // A delivered result ends the operation too.
    s.encrypt_init(&m, k).unwrap();
    assert_eq!(s.encrypt(&plain).unwrap().len(), plain.len() + 16);
    assert_eq!(
        s.encrypt(&plain).unwrap_err(),
        CKR_OPERATION_NOT_INITIALIZED
    );
}
