//! Every AES cipher mode through the C ABI against the crate (issue 11:
//! direct output for ECB/CBC/CBC_PAD/CTR/GCM/KW). For each mode and every
//! length from 0 to three blocks and one, plus 4 KiB + 5 and 1 MiB (+3):
//! one-shot into a large buffer, the whole length protocol (query, a buffer
//! one byte short keeps the operation, the retry), multi-part with odd
//! split points, and in place (output in the input's own memory). Lengths a
//! mode refuses get the spec's code. CBC_PAD with bad padding writes
//! nothing into the caller's buffer.

#[macro_use]
mod common;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::AeadInOut;
use common::TestEnv;
use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use cryptoki_sys::*;

const KEY: [u8; 32] = [0x42; 32];
const IV: [u8; 16] = [0x24; 16];
/// A CTR block whose 32-bit counter is near its end but not past it for
/// the lengths used here (the wrap rule has its own unit test).
const CTR0: [u8; 16] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x00, 0xff, 0xf0,
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    Gcm,
}

fn mech(mode: Mode) -> Mech {
    match mode {
        Mode::Ecb => Mech::new(CKM_AES_ECB),
        Mode::Cbc => Mech::bytes(CKM_AES_CBC, &IV),
        Mode::CbcPad => Mech::bytes(CKM_AES_CBC_PAD, &IV),
        Mode::Ctr => Mech::ctr(32, CTR0),
        Mode::Gcm => Mech::gcm(&IV[..12], b"aad", 128),
    }
}

/// The reference ciphertext, made with the `aes`/`aes-gcm` crates block by
/// block; None when the mode refuses this length.
fn reference(mode: Mode, plain: &[u8]) -> Option<Vec<u8>> {
    let c = Aes256::new(&KEY.into());
    let enc = |b: &mut [u8]| {
        let blk: &mut aes::Block = b.try_into().unwrap();
        c.encrypt_block(blk);
    };
    match mode {
        Mode::Ecb | Mode::Cbc if !plain.len().is_multiple_of(16) => None,
        Mode::Ecb | Mode::Cbc | Mode::CbcPad => {
            let mut data = plain.to_vec();
            if mode == Mode::CbcPad {
                let n = 16 - plain.len() % 16;
                data.extend(std::iter::repeat_n(n as u8, n));
            }
            let mut chain = IV;
            for b in data.chunks_exact_mut(16) {
                if mode != Mode::Ecb {
                    b.iter_mut().zip(chain).for_each(|(x, y)| *x ^= y);
                }
                enc(b);
                chain.copy_from_slice(b);
            }
            Some(data)
        }
        Mode::Ctr => {
            let mut data = plain.to_vec();
            for (counter, b) in (u128::from_be_bytes(CTR0)..).zip(data.chunks_mut(16)) {
                let mut ks = counter.to_be_bytes();
                enc(&mut ks);
                b.iter_mut().zip(ks).for_each(|(x, y)| *x ^= y);
            }
            Some(data)
        }
        Mode::Gcm => {
            let mut data = plain.to_vec();
            let nonce: [u8; 12] = IV[..12].try_into().unwrap();
            let tag = Aes256Gcm::new(&KEY.into())
                .encrypt_inout_detached(&nonce.into(), b"aad", data.as_mut_slice().into())
                .unwrap();
            data.extend_from_slice(&tag);
            Some(data)
        }
    }
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

/// Init, C_*Update over `data` cut at `sizes`, C_*Final, each call with
/// an output buffer large enough for everything (GCM decryption releases
/// the whole plaintext at the end); the outputs concatenated.
/// With `protocol`, each update first answers a length query and a buffer
/// one byte short (CKR_BUFFER_TOO_SMALL, operation kept), then delivers.
fn parts(
    s: &Sess,
    encrypt: bool,
    m: &Mech,
    k: CK_OBJECT_HANDLE,
    data: &[u8],
    sizes: &[usize],
    protocol: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; data.len() + 64];
    if encrypt {
        ok(s.encrypt_init(m, k), "init");
    } else {
        ok(s.decrypt_init(m, k), "init");
    }
    for part in split(data, sizes) {
        let mut input = part.to_vec();
        let f = if encrypt {
            s.f.C_EncryptUpdate
        } else {
            s.f.C_DecryptUpdate
        };
        let mut call = |out: *mut u8, n: &mut CK_ULONG| {
            // SAFETY: separate, valid buffers of the given lengths (or a
            // NULL output: a length query).
            unsafe { (f.unwrap())(s.h, input.as_mut_ptr(), ulong(input.len()), out, n) }
        };
        if protocol {
            let mut n = 0;
            assert_rv!(call(std::ptr::null_mut(), &mut n), CKR_OK, "query");
            if n > 0 {
                let mut short = n - 1;
                let rv = call(buf.as_mut_ptr(), &mut short);
                if rv == CKR_OK {
                    // Only an empty output fits one byte less than the
                    // answer: a query never answers 0 (src/api/mod.rs
                    // `query_len`), so an empty output is answered 1 and
                    // this call delivered it.
                    assert_eq!((n, short), (1, 0), "an empty output");
                    continue;
                }
                assert_rv!(rv, CKR_BUFFER_TOO_SMALL);
            }
        }
        let mut n = ulong(buf.len());
        assert_rv!(call(buf.as_mut_ptr(), &mut n), CKR_OK, "update");
        out.extend_from_slice(&buf[..n as usize]);
    }
    let mut n = ulong(buf.len());
    // SAFETY: a valid buffer of the given length.
    let rv = unsafe {
        let f = if encrypt {
            s.f.C_EncryptFinal
        } else {
            s.f.C_DecryptFinal
        };
        (f.unwrap())(s.h, buf.as_mut_ptr(), &mut n)
    };
    assert_rv!(rv, CKR_OK, "final");
    out.extend_from_slice(&buf[..n as usize]);
    out
}

/// One mode at one length, every way of calling it.
fn check(s: &Sess, k: CK_OBJECT_HANDLE, mode: Mode, plain: &[u8]) {
    let len = plain.len();
    let m = mech(mode);
    let what = format!("{mode:?} {len}");
    let Some(want) = reference(mode, plain) else {
        err(s.encrypt_once(&m, k, plain), CKR_DATA_LEN_RANGE, &what);
        err(
            s.decrypt_once(&m, k, plain),
            CKR_ENCRYPTED_DATA_LEN_RANGE,
            &what,
        );
        return;
    };
    // One-shot into a large buffer.
    assert_eq!(ok(s.encrypt_once(&m, k, plain), &what), want, "{what}");
    assert_eq!(ok(s.decrypt_once(&m, k, &want), &what), plain, "{what}");
    // The length protocol: query, one byte short (operation kept), retry.
    ok(s.encrypt_init(&m, k), &what);
    let p = s.encrypt_protocol(plain, want.len());
    assert_protocol(&p, &want, &format!("encrypt {what}"));
    ok(s.decrypt_init(&m, k), &what);
    let p = s.decrypt_protocol(&want, len);
    assert_protocol(&p, plain, &format!("decrypt {what}"));
    // Multi-part at odd split points.
    for sizes in [&[1usize, 15, 17, 33, 5][..], &[16, 3], &[65_537, 3]] {
        for protocol in [false, true] {
            let got = parts(s, true, &m, k, plain, sizes, protocol);
            assert_eq!(got, want, "{what} parts {sizes:?}");
            let back = parts(s, false, &m, k, &want, sizes, protocol);
            assert_eq!(back, plain, "{what} parts {sizes:?}");
        }
    }
    // In place.
    let mut buf = plain.to_vec();
    buf.resize(want.len().max(len), 0);
    ok(s.encrypt_init(&m, k), &what);
    assert_rv!(in_place(s, true, &mut buf, len), CKR_OK, "{what} in place");
    assert_eq!(buf, want, "{what} in place");
    ok(s.decrypt_init(&m, k), &what);
    assert_rv!(
        in_place(s, false, &mut buf, want.len()),
        CKR_OK,
        "{what} in place"
    );
    assert_eq!(buf, plain, "{what} in place");
}

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config("");
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

#[test]
fn every_mode_matches_the_crate_at_every_length_and_call_shape() {
    let (_env, _init, s) = setup();
    let k = s.create(aes_crypt(&KEY)).expect("import");
    let lengths = (0..=49usize).chain([4096 + 5, 4096, 1 << 20, (1 << 20) + 3]);
    for len in lengths {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        for mode in [Mode::Ecb, Mode::Cbc, Mode::CbcPad, Mode::Ctr, Mode::Gcm] {
            check(&s, k, mode, &plain);
        }
    }
}

#[test]
fn cbc_pad_bad_padding_writes_nothing() {
    let (_env, _init, s) = setup();
    let k = s.create(aes_crypt(&KEY)).expect("import");
    // Whole blocks whose last plaintext byte is 0: never valid padding.
    let mut plain = vec![9u8; 48];
    plain[47] = 0;
    let ct = reference(Mode::Cbc, &plain).unwrap();
    let m = mech(Mode::CbcPad);
    s.decrypt_init(&m, k).unwrap();
    let mut out = vec![0xEEu8; 4096];
    let mut n = ulong(out.len());
    let mut input = ct.clone();
    // SAFETY: separate, valid buffers of the given lengths.
    let rv = unsafe {
        (s.f.C_Decrypt.unwrap())(
            s.h,
            input.as_mut_ptr(),
            ulong(input.len()),
            out.as_mut_ptr(),
            &mut n,
        )
    };
    assert_rv!(rv, CKR_ENCRYPTED_DATA_INVALID);
    assert!(out.iter().all(|b| *b == 0xEE), "plaintext was released");
    assert_eq!(s.decrypt(&ct).unwrap_err(), CKR_OPERATION_NOT_INITIALIZED);
}

#[test]
fn key_wrap_one_shot_matches_the_buffered_path() {
    let (_env, _init, s) = setup();
    let k = s.create(aes_crypt(&KEY)).expect("import");
    for ty in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD] {
        for len in [16usize, 24, 32, 40] {
            let m = Mech::new(ty);
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            // Large buffer (direct path) and the length protocol (buffered
            // path) give the same bytes, and unwrap back.
            let direct = ok(s.encrypt_once(&m, k, &plain), "kw");
            ok(s.encrypt_init(&m, k), "kw");
            let p = s.encrypt_protocol(&plain, direct.len());
            assert_protocol(&p, &direct, &format!("{ty:#x} {len}"));
            assert_eq!(ok(s.decrypt_once(&m, k, &direct), "kw"), plain);
        }
    }
    // A length CKM_AES_KEY_WRAP refuses.
    err(
        s.encrypt_once(&Mech::new(CKM_AES_KEY_WRAP), k, &[1; 20]),
        CKR_DATA_LEN_RANGE,
        "kw 20",
    );
}
