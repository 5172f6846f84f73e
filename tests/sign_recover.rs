//! Signatures with data recovery through the C ABI (C_SignRecoverInit,
//! C_SignRecover, C_VerifyRecoverInit, C_VerifyRecover): CKM_RSA_PKCS
//! always, CKM_RSA_X_509 only under the legacy RSA policy; the key's
//! CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER; the length protocol; a
//! sign-recover over a DigestInfo verifies with C_Verify; C_Sign and
//! C_Verify with raw RSA; and the refusals (data too long, bad or short
//! signature, operation state).

#[macro_use]
mod common;

use common::mech::Mech;
use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

fn setup_with(extra: &str) -> (TestEnv, Init, Sess) {
    let env = TestEnv::with_config(extra);
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

/// A 2048-bit pair; `recover` sets CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER
/// (both default to false).
fn pair(s: &Sess, recover: bool) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ok(
        s.generate_pair(
            &Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
                .bool(CKA_TOKEN, false)
                .bool(CKA_VERIFY, true)
                .bool(CKA_VERIFY_RECOVER, recover),
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true)
                .bool(CKA_SIGN_RECOVER, recover),
        ),
        "C_GenerateKeyPair",
    )
}

fn sign_recover_init(s: &Sess, m: CK_MECHANISM_TYPE, k: CK_OBJECT_HANDLE) -> Rv<()> {
    let mut ck = Mech::new(m).ck();
    rv(ck!(s.f, C_SignRecoverInit(s.h, &mut ck, k)))
}

fn verify_recover_init(s: &Sess, m: CK_MECHANISM_TYPE, k: CK_OBJECT_HANDLE) -> Rv<()> {
    let mut ck = Mech::new(m).ck();
    rv(ck!(s.f, C_VerifyRecoverInit(s.h, &mut ck, k)))
}

fn sign_recover(s: &Sess, data: &[u8]) -> Rv<Vec<u8>> {
    let mut d = data.to_vec();
    let mut out = vec![0u8; 1024];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_SignRecover(
            s.h,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

fn verify_recover(s: &Sess, sig: &[u8]) -> Rv<Vec<u8>> {
    let mut d = sig.to_vec();
    let mut out = vec![0u8; 1024];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_VerifyRecover(
            s.h,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

const RECOVER: CK_FLAGS = CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER;

#[test]
fn mechanism_info_follows_the_policy() {
    let (_env, _init, s) = setup_with("");
    let info = ok(s.mechanism_info(0, CKM_RSA_PKCS), "info");
    assert_eq!(info.flags & RECOVER, RECOVER, "flags {:#x}", info.flags);
    err(
        s.mechanism_info(0, CKM_RSA_X_509),
        CKR_MECHANISM_INVALID,
        "raw RSA without the policy",
    );
    let (_pubk, privk) = pair(&s, true);
    err(
        sign_recover_init(&s, CKM_RSA_X_509, privk),
        CKR_MECHANISM_INVALID,
        "raw RSA sign-recover without the policy",
    );
    err(
        s.sign_init(&Mech::new(CKM_RSA_X_509), privk),
        CKR_MECHANISM_INVALID,
        "raw RSA C_Sign without the policy",
    );
    let info = ok(s.mechanism_info(0, CKM_SHA256_RSA_PKCS), "hashed");
    assert_eq!(info.flags & RECOVER, 0);
}

#[test]
fn pkcs1_round_trip_with_the_length_protocol() {
    let (_env, _init, s) = setup_with("");
    let (pubk, privk) = pair(&s, true);
    let data = b"data carried inside the signature".to_vec();
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    let mut d = data.clone();
    let p = protocol(256, |o, n| {
        ck!(
            s.f,
            C_SignRecover(s.h, d.as_mut_ptr(), ulong(d.len()), o, n)
        )
    });
    assert_eq!(p.queried, 256);
    assert_eq!(p.out.len(), 256);
    assert_eq!(p.short.map(|(r, _)| r), Some(CKR_BUFFER_TOO_SMALL));
    let sig = p.out;
    // Operation over: the next call is not initialized.
    err(
        sign_recover(&s, &data),
        CKR_OPERATION_NOT_INITIALIZED,
        "ended",
    );

    ok(verify_recover_init(&s, CKM_RSA_PKCS, pubk), "verify init");
    let mut g = sig.clone();
    let p = protocol(data.len(), |o, n| {
        ck!(
            s.f,
            C_VerifyRecover(s.h, g.as_mut_ptr(), ulong(g.len()), o, n)
        )
    });
    // The query answers the bound (k - 11), the call the data.
    assert_eq!(p.queried, 245);
    assert_protocol(&p, &data, "C_VerifyRecover");

    // Deterministic: the same data signs to the same value.
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    assert_eq!(ok(sign_recover(&s, &data), "again"), sig);
}

#[test]
fn a_digest_info_signed_with_recovery_verifies_with_c_verify() {
    let (_env, _init, s) = setup_with("");
    let (pubk, privk) = pair(&s, true);
    let msg = b"abc";
    // RFC 8017 9.2 note 1: the SHA-256 DigestInfo prefix, then SHA-256("abc")
    // (FIPS 180-2 B.1).
    let digest_info = unhex(concat!(
        "3031300d060960864801650304020105000420",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    ));
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    let sig = ok(sign_recover(&s, &digest_info), "C_SignRecover");
    ok(
        s.verify_once(&Mech::new(CKM_RSA_PKCS), pubk, &digest_info, &sig),
        "C_Verify CKM_RSA_PKCS",
    );
    ok(
        s.verify_once(&Mech::new(CKM_SHA256_RSA_PKCS), pubk, msg, &sig),
        "C_Verify CKM_SHA256_RSA_PKCS",
    );
    // And C_Sign's signature recovers the DigestInfo.
    let signed = ok(
        s.sign_once(&Mech::new(CKM_RSA_PKCS), privk, &digest_info),
        "C_Sign",
    );
    assert_eq!(signed, sig);
    ok(verify_recover_init(&s, CKM_RSA_PKCS, pubk), "init");
    assert_eq!(ok(verify_recover(&s, &signed), "recover"), digest_info);
}

#[test]
fn refusals() {
    let (_env, _init, s) = setup_with("");
    let (pubk, privk) = pair(&s, true);
    // Longer than k - 11.
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    err(sign_recover(&s, &[1; 246]), CKR_DATA_LEN_RANGE, "too long");
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    let sig = ok(sign_recover(&s, &[1; 245]), "longest");
    // An altered or short signature.
    let mut bad = sig.clone();
    bad[10] ^= 1;
    ok(verify_recover_init(&s, CKM_RSA_PKCS, pubk), "init");
    err(verify_recover(&s, &bad), CKR_SIGNATURE_INVALID, "altered");
    ok(verify_recover_init(&s, CKM_RSA_PKCS, pubk), "init");
    err(
        verify_recover(&s, &sig[..255]),
        CKR_SIGNATURE_LEN_RANGE,
        "short",
    );
    // Keys without the recovery usage (the default), or the wrong half.
    let (plain_pub, plain_priv) = pair(&s, false);
    err(
        sign_recover_init(&s, CKM_RSA_PKCS, plain_priv),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "no CKA_SIGN_RECOVER",
    );
    err(
        verify_recover_init(&s, CKM_RSA_PKCS, plain_pub),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "no CKA_VERIFY_RECOVER",
    );
    // A secret key has no CKA_SIGN_RECOVER: not permitted.
    let aes = ok(
        s.create(secret(CKK_AES, &[1; 16]).bool(CKA_SIGN, true)),
        "AES key",
    );
    err(
        sign_recover_init(&s, CKM_RSA_PKCS, aes),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "AES key",
    );
    // Not initialized, and one signing operation at a time.
    err(
        sign_recover(&s, b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "none",
    );
    err(
        verify_recover(&s, &sig),
        CKR_OPERATION_NOT_INITIALIZED,
        "none",
    );
    ok(
        s.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), privk),
        "C_SignInit",
    );
    err(
        sign_recover_init(&s, CKM_RSA_PKCS, privk),
        CKR_OPERATION_ACTIVE,
        "C_Sign active",
    );
    ok(sign_recover_init_null(&s), "cancel (nothing active)");
    ok(
        rv(ck!(s.f, C_SignInit(s.h, std::ptr::null_mut(), privk))),
        "cancel C_Sign",
    );
    ok(sign_recover_init(&s, CKM_RSA_PKCS, privk), "init");
    err(
        s.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), privk),
        CKR_OPERATION_ACTIVE,
        "C_SignRecover active",
    );
    // A single-part operation with recovery is not saved.
    let mut n: CK_ULONG = 0;
    assert_eq!(
        ck!(s.f, C_GetOperationState(s.h, std::ptr::null_mut(), &mut n)),
        CKR_STATE_UNSAVEABLE
    );
    // C_SessionCancel ends it.
    assert_eq!(ck!(s.f, C_SessionCancel(s.h, CKF_SIGN_RECOVER)), CKR_OK);
    err(
        sign_recover(&s, b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "cancelled",
    );
}

fn sign_recover_init_null(s: &Sess) -> Rv<()> {
    rv(ck!(
        s.f,
        C_SignRecoverInit(s.h, std::ptr::null_mut(), CK_INVALID_HANDLE)
    ))
}

#[test]
fn raw_rsa_under_the_legacy_policy() {
    let (_env, _init, s) = setup_with("allow_legacy_rsa_decryption = true");
    let info = ok(s.mechanism_info(0, CKM_RSA_X_509), "info");
    assert_eq!(info.flags & RECOVER, RECOVER, "flags {:#x}", info.flags);
    let (pubk, privk) = pair(&s, true);
    ok(sign_recover_init(&s, CKM_RSA_X_509, privk), "init");
    let sig = ok(sign_recover(&s, &[1, 2, 3]), "C_SignRecover");
    assert_eq!(sig.len(), 256);
    ok(verify_recover_init(&s, CKM_RSA_X_509, pubk), "init");
    let back = ok(verify_recover(&s, &sig), "C_VerifyRecover");
    // k bytes, leading zeros kept (raw RSA has no padding to strip).
    assert_eq!(back.len(), 256);
    assert_eq!(back[253..], [1, 2, 3]);
    assert!(back[..253].iter().all(|b| *b == 0));
    ok(sign_recover_init(&s, CKM_RSA_X_509, privk), "init");
    err(sign_recover(&s, &[1; 257]), CKR_DATA_LEN_RANGE, "too long");

    // C_Sign / C_Verify with CKM_RSA_X_509 (PyKCS11's test_sign_X509):
    // the same raw value as the signature with recovery, checked against
    // the data left-padded to k bytes.
    assert_eq!(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
    let raw = Mech::new(CKM_RSA_X_509);
    let signed = ok(s.sign_once(&raw, privk, &[1, 2, 3]), "C_Sign");
    assert_eq!(signed, sig, "C_Sign equals C_SignRecover");
    ok(s.verify_once(&raw, pubk, &[1, 2, 3], &signed), "C_Verify");
    ok(
        s.verify_once(&raw, pubk, &[0, 0, 1, 2, 3], &signed),
        "leading zeros are the same integer",
    );
    err(
        s.verify_once(&raw, pubk, &[1, 2, 4], &signed),
        CKR_SIGNATURE_INVALID,
        "other data",
    );
    err(
        s.verify_once(&raw, pubk, &[1, 2, 3], &signed[1..]),
        CKR_SIGNATURE_LEN_RANGE,
        "short signature",
    );
    err(
        s.sign_once(&raw, privk, &[1; 257]),
        CKR_DATA_LEN_RANGE,
        "data longer than the modulus",
    );
    ok(s.sign_init(&raw, privk), "init");
    err(
        s.sign_update(&[1]),
        CKR_FUNCTION_NOT_SUPPORTED,
        "single-part",
    );
}
