//! MACs, digests and signatures written straight into the caller's buffer
//! (issue 11: C_Sign / C_Digest make a MAC or hash on the stack and copy it
//! once): through the C ABI, HMAC, CMAC (full and _GENERAL truncations)
//! and SHA-2/SHA-3 digests equal the crates at several lengths, both with
//! a large buffer (direct path) and through the whole length protocol
//! (query, a buffer one byte short keeps the operation, the retry); an
//! ECDSA signature made into a large buffer verifies.

#[macro_use]
mod common;

use common::TestEnv;
use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use cryptoki_sys::*;
use hmac::{KeyInit, Mac};
use sha2::Digest;

const KEY: [u8; 32] = [0x17; 32];

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config("");
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

fn ulong(n: usize) -> CK_ULONG {
    n as CK_ULONG
}

/// C_Sign through the length protocol (operation already initialized).
fn sign_protocol(s: &Sess, data: &[u8], len: usize) -> Protocol {
    let mut d = data.to_vec();
    protocol(len, |p, n| {
        // SAFETY: valid input; output NULL (query) or `*n` writable bytes.
        unsafe { (s.f.C_Sign.unwrap())(s.h, d.as_mut_ptr(), ulong(d.len()), p, n) }
    })
}

fn digest_protocol(s: &Sess, data: &[u8], len: usize) -> Protocol {
    let mut d = data.to_vec();
    protocol(len, |p, n| {
        // SAFETY: as above.
        unsafe { (s.f.C_Digest.unwrap())(s.h, d.as_mut_ptr(), ulong(d.len()), p, n) }
    })
}

#[test]
fn macs_and_digests_match_the_crates_direct_and_through_the_protocol() {
    let (_env, _init, s) = setup();
    let mac_key = ok(
        s.create(
            secret(CKK_GENERIC_SECRET, &KEY)
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "hmac key",
    );
    let aes_key = ok(
        s.create(
            secret(CKK_AES, &KEY)
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "aes key",
    );
    for len in [0usize, 1, 63, 64, 65, 4096] {
        let data: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let mut h = hmac::Hmac::<sha2::Sha256>::new_from_slice(&KEY).unwrap();
        h.update(&data);
        let hmac256 = h.finalize().into_bytes().to_vec();
        let mut h = hmac::Hmac::<sha2::Sha512>::new_from_slice(&KEY).unwrap();
        h.update(&data);
        let hmac512 = h.finalize().into_bytes().to_vec();
        let mut c = <cmac::Cmac<aes::Aes256> as cmac::KeyInit>::new_from_slice(&KEY).unwrap();
        c.update(&data);
        let cmac = c.finalize().into_bytes().to_vec();
        let cases = [
            (Mech::new(CKM_SHA256_HMAC), mac_key, hmac256.clone()),
            (Mech::new(CKM_SHA512_HMAC), mac_key, hmac512),
            (
                Mech::ulong(CKM_SHA256_HMAC_GENERAL, 10),
                mac_key,
                hmac256[..10].to_vec(),
            ),
            (Mech::new(CKM_AES_CMAC), aes_key, cmac.clone()),
            (
                Mech::ulong(CKM_AES_CMAC_GENERAL, 5),
                aes_key,
                cmac[..5].to_vec(),
            ),
        ];
        for (m, k, want) in &cases {
            let what = format!("{:#x} over {len}", m.ty());
            assert_eq!(&ok(s.sign_once(m, *k, &data), &what), want, "{what}");
            ok(s.sign_init(m, *k), &what);
            let p = sign_protocol(&s, &data, want.len());
            assert_protocol(&p, want, &what);
            ok(s.verify_once(m, *k, &data, want), &what);
        }
        let digests = [
            (CKM_SHA256, sha2::Sha256::digest(&data).to_vec()),
            (CKM_SHA512, sha2::Sha512::digest(&data).to_vec()),
            (CKM_SHA3_256, sha3::Sha3_256::digest(&data).to_vec()),
        ];
        for (ty, want) in &digests {
            let what = format!("digest {ty:#x} over {len}");
            let m = Mech::new(*ty);
            assert_eq!(&ok(s.digest_once(&m, &data), &what), want, "{what}");
            let mut ck = m.ck();
            // SAFETY: a valid mechanism that outlives the call.
            let rv = unsafe { (s.f.C_DigestInit.unwrap())(s.h, &mut ck) };
            assert_rv!(rv, CKR_OK, "{what}");
            let p = digest_protocol(&s, &data, want.len());
            assert_protocol(&p, want, &what);
        }
    }
}

#[test]
fn ecdsa_into_a_large_buffer_verifies_and_ends_the_operation() {
    let (_env, _init, s) = setup();
    let (public, private) = p256_pair(s.f, s.h);
    let m = Mech::new(CKM_ECDSA_SHA256);
    let sig = ok(s.sign_once(&m, private, b"message"), "sign");
    assert_eq!(sig.len(), 64);
    ok(s.verify_once(&m, public, b"message", &sig), "verify");
    assert_eq!(
        s.sign(b"message").unwrap_err(),
        CKR_OPERATION_NOT_INITIALIZED
    );
}
