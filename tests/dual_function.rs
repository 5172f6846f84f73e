//! The dual-function calls through the C ABI (PKCS#11 3.0 §5.14):
//! C_DigestEncryptUpdate and C_DecryptDigestUpdate with AES-CBC and
//! SHA-256, C_SignEncryptUpdate and C_DecryptVerifyUpdate with AES-CTR and
//! HMAC-SHA256, each against the two operations done separately; the
//! length protocol (a query feeds the digest nothing); and
//! CKR_OPERATION_NOT_INITIALIZED when either operation is not active.

#[macro_use]
mod common;

use std::ptr;

use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

type DualFn = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    CK_BYTE_PTR,
    CK_ULONG,
    CK_BYTE_PTR,
    CK_ULONG_PTR,
) -> CK_RV;

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

/// One dual call with a large output buffer.
fn dual(s: &Sess, f: Option<DualFn>, part: &[u8]) -> Rv<Vec<u8>> {
    let f = f.expect("dual function in the list");
    let mut d = part.to_vec();
    let mut out = vec![0u8; part.len() + 64];
    let mut n = ulong(out.len());
    // SAFETY: owned buffers that outlive the call.
    rv(unsafe {
        f(
            s.h,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n,
        )
    })?;
    out.truncate(usize_of(n));
    Ok(out)
}

fn digest_init(s: &Sess, m: CK_MECHANISM_TYPE) -> Rv<()> {
    let mut ck = Mech::new(m).ck();
    rv(ck!(s.f, C_DigestInit(s.h, &mut ck)))
}

fn digest_final(s: &Sess) -> Rv<Vec<u8>> {
    let mut out = vec![0u8; 64];
    let mut n = ulong(out.len());
    rv(ck!(s.f, C_DigestFinal(s.h, out.as_mut_ptr(), &mut n)))?;
    out.truncate(usize_of(n));
    Ok(out)
}

// SP 800-38A F.2.1 (CBC-AES128): key, IV, four plaintext blocks.
const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                     30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CBC: &str = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
                   73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";

fn setup() -> (TestEnv, Init, Sess, CK_OBJECT_HANDLE) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    let k = ok(s.create(aes_crypt(&unhex(KEY))), "AES key");
    (env, init, s, k)
}

fn cbc() -> Mech {
    Mech::bytes(CKM_AES_CBC, &unhex(IV))
}

#[test]
fn digest_encrypt_and_decrypt_digest_match_the_separate_calls() {
    let (_env, _init, s, k) = setup();
    let plain = unhex(PLAIN);
    let want_digest = ok(s.digest_once(&Mech::new(CKM_SHA256), &plain), "digest");
    ok(digest_init(&s, CKM_SHA256), "C_DigestInit");
    ok(s.encrypt_init(&cbc(), k), "C_EncryptInit");
    let mut ct = Vec::new();
    for part in split(&plain, &[16, 32]) {
        ct.extend(ok(dual(&s, s.f.C_DigestEncryptUpdate, part), "dual"));
    }
    ct.extend(ok(s.encrypt_final(), "C_EncryptFinal"));
    assert_eq!(ct, unhex(CBC), "SP 800-38A F.2.1");
    assert_eq!(ok(digest_final(&s), "C_DigestFinal"), want_digest);

    ok(digest_init(&s, CKM_SHA256), "C_DigestInit");
    ok(s.decrypt_init(&cbc(), k), "C_DecryptInit");
    let mut back = Vec::new();
    for part in split(&ct, &[32, 16]) {
        back.extend(ok(dual(&s, s.f.C_DecryptDigestUpdate, part), "dual"));
    }
    back.extend(ok(s.decrypt_final(), "C_DecryptFinal"));
    assert_eq!(back, plain);
    assert_eq!(ok(digest_final(&s), "C_DigestFinal"), want_digest);
}

#[test]
fn a_length_query_feeds_the_digest_nothing() {
    let (_env, _init, s, k) = setup();
    let plain = unhex(PLAIN);
    ok(digest_init(&s, CKM_SHA256), "C_DigestInit");
    ok(s.encrypt_init(&cbc(), k), "C_EncryptInit");
    let mut d = plain.clone();
    let f = s.f.C_DigestEncryptUpdate.expect("listed");
    let p = protocol(plain.len(), |o, n| {
        // SAFETY: owned buffers that outlive the call.
        unsafe { f(s.h, d.as_mut_ptr(), ulong(d.len()), o, n) }
    });
    assert_protocol(&p, &unhex(CBC), "C_DigestEncryptUpdate");
    ok(s.encrypt_final(), "C_EncryptFinal");
    // The query and the short buffer did not digest the part again.
    assert_eq!(
        ok(digest_final(&s), "C_DigestFinal"),
        ok(s.digest_once(&Mech::new(CKM_SHA256), &plain), "digest")
    );
}

#[test]
fn sign_encrypt_and_decrypt_verify_match_the_separate_calls() {
    let (_env, _init, s, k) = setup();
    let mac_key = ok(
        s.create(
            secret(CKK_GENERIC_SECRET, &[0x0b; 32])
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true),
        ),
        "HMAC key",
    );
    let hmac = Mech::new(CKM_SHA256_HMAC);
    let ctr = || Mech::ctr(128, [7; 16]);
    let data: Vec<u8> = (0u8..100).collect();
    let want_mac = ok(s.sign_once(&hmac, mac_key, &data), "C_Sign");
    let want_ct = ok(s.encrypt_once(&ctr(), k, &data), "C_Encrypt");

    ok(s.sign_init(&hmac, mac_key), "C_SignInit");
    ok(s.encrypt_init(&ctr(), k), "C_EncryptInit");
    let mut ct = Vec::new();
    for part in split(&data, &[1, 40]) {
        ct.extend(ok(dual(&s, s.f.C_SignEncryptUpdate, part), "dual"));
    }
    ct.extend(ok(s.encrypt_final(), "C_EncryptFinal"));
    assert_eq!(ct, want_ct);
    assert_eq!(ok(s.sign_final(), "C_SignFinal"), want_mac);

    ok(s.verify_init(&hmac, mac_key), "C_VerifyInit");
    ok(s.decrypt_init(&ctr(), k), "C_DecryptInit");
    let mut back = Vec::new();
    for part in split(&ct, &[50]) {
        back.extend(ok(dual(&s, s.f.C_DecryptVerifyUpdate, part), "dual"));
    }
    back.extend(ok(s.decrypt_final(), "C_DecryptFinal"));
    assert_eq!(back, data);
    ok(s.verify_final(&want_mac), "C_VerifyFinal");

    // The same with one byte of ciphertext changed: the MAC fails.
    let mut bad = ct.clone();
    bad[3] ^= 1;
    ok(s.verify_init(&hmac, mac_key), "C_VerifyInit");
    ok(s.decrypt_init(&ctr(), k), "C_DecryptInit");
    ok(dual(&s, s.f.C_DecryptVerifyUpdate, &bad), "dual");
    ok(s.decrypt_final(), "C_DecryptFinal");
    err(
        s.verify_final(&want_mac),
        CKR_SIGNATURE_INVALID,
        "altered ciphertext",
    );
}

#[test]
fn both_operations_must_be_active() {
    let (_env, _init, s, k) = setup();
    let block = [0u8; 16];
    for f in [
        s.f.C_DigestEncryptUpdate,
        s.f.C_DecryptDigestUpdate,
        s.f.C_SignEncryptUpdate,
        s.f.C_DecryptVerifyUpdate,
    ] {
        err(dual(&s, f, &block), CKR_OPERATION_NOT_INITIALIZED, "none");
    }
    // Encryption alone: refused, and the encryption goes on untouched.
    ok(s.encrypt_init(&cbc(), k), "C_EncryptInit");
    err(
        dual(&s, s.f.C_DigestEncryptUpdate, &block),
        CKR_OPERATION_NOT_INITIALIZED,
        "no digest",
    );
    err(
        dual(&s, s.f.C_SignEncryptUpdate, &block),
        CKR_OPERATION_NOT_INITIALIZED,
        "no signature",
    );
    let plain = unhex(PLAIN);
    let mut ct = ok(s.encrypt_update(&plain), "C_EncryptUpdate");
    ct.extend(ok(s.encrypt_final(), "C_EncryptFinal"));
    assert_eq!(ct, unhex(CBC));
    // A digest alone: the decrypting pair is refused too.
    ok(digest_init(&s, CKM_SHA256), "C_DigestInit");
    err(
        dual(&s, s.f.C_DecryptDigestUpdate, &block),
        CKR_OPERATION_NOT_INITIALIZED,
        "no decryption",
    );
    ok(
        rv(ck!(s.f, C_DigestInit(s.h, ptr::null_mut()))),
        "cancel the digest",
    );
}
