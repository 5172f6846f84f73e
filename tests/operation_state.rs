//! C_GetOperationState / C_SetOperationState through the raw C ABI: a
//! SHA-256 digest and ECDSA sign/verify states moved between sessions (as
//! OpenSSL's pkcs11-provider duplicates contexts), the length protocol,
//! the key arguments, tampered and foreign states, and what is refused.

#[macro_use]
mod common;

use std::ptr;

use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;
use p256::ecdsa::signature::Verifier;

const SHA256_AB: &str = "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603";
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// C_GetOperationState with the two-call length protocol.
fn get_state(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE) -> Result<Vec<u8>, CK_RV> {
    let mut len: CK_ULONG = 0;
    let rv = ck!(f, C_GetOperationState(h, ptr::null_mut(), &mut len));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut buf = vec![0u8; len as usize];
    let rv = ck!(f, C_GetOperationState(h, buf.as_mut_ptr(), &mut len));
    if rv != CKR_OK {
        return Err(rv);
    }
    buf.truncate(len as usize);
    Ok(buf)
}

fn set_state(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    state: &[u8],
    auth_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    let mut state = state.to_vec();
    ck!(
        f,
        C_SetOperationState(h, state.as_mut_ptr(), state.len() as CK_ULONG, 0, auth_key)
    )
}

fn digest_update(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE, data: &[u8]) {
    let mut data = data.to_vec();
    assert_rv!(
        ck!(
            f,
            C_DigestUpdate(h, data.as_mut_ptr(), data.len() as CK_ULONG)
        ),
        CKR_OK,
        "C_DigestUpdate"
    );
}

fn digest_final(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE) -> Vec<u8> {
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = 64;
    assert_rv!(
        ck!(f, C_DigestFinal(h, out.as_mut_ptr(), &mut len)),
        CKR_OK,
        "C_DigestFinal"
    );
    out[..len as usize].to_vec()
}

fn sign_update(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE, data: &[u8]) -> CK_RV {
    let mut data = data.to_vec();
    ck!(
        f,
        C_SignUpdate(h, data.as_mut_ptr(), data.len() as CK_ULONG)
    )
}

fn sign_final(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE) -> Vec<u8> {
    let mut sig = [0u8; 64];
    let mut len: CK_ULONG = 64;
    assert_rv!(
        ck!(f, C_SignFinal(h, sig.as_mut_ptr(), &mut len)),
        CKR_OK,
        "C_SignFinal"
    );
    sig[..len as usize].to_vec()
}

/// An independent P-256 verification of a module signature.
fn p256_verifies(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    pubk: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> bool {
    let point = common::ec_point_from_der(&get_attr(f, h, pubk, CKA_EC_POINT));
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("EC point");
    let s = p256::ecdsa::Signature::from_slice(sig).expect("r||s");
    vk.verify(data, &s).is_ok()
}

/// A SHA-256 digest started in `h` over "ab".
fn digest_ab(f: &CK_FUNCTION_LIST_3_0, h: CK_SESSION_HANDLE) {
    let mut m = mech(CKM_SHA256);
    assert_rv!(ck!(f, C_DigestInit(h, &mut m)), CKR_OK, "C_DigestInit");
    digest_update(f, h, b"ab");
}

#[test]
fn sha256_digest_state_moves_between_sessions() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    digest_ab(f, h);

    // Length protocol: query, short buffer, then the state itself.
    let mut len: CK_ULONG = 0;
    assert_rv!(
        ck!(f, C_GetOperationState(h, ptr::null_mut(), &mut len)),
        CKR_OK,
        "length query"
    );
    assert!(len > 0);
    let mut buf = vec![0u8; len as usize];
    let mut short = len - 1;
    assert_rv!(
        ck!(f, C_GetOperationState(h, buf.as_mut_ptr(), &mut short)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, len, "needed length written on BUFFER_TOO_SMALL");
    let mut full = len;
    assert_rv!(
        ck!(f, C_GetOperationState(h, buf.as_mut_ptr(), &mut full)),
        CKR_OK
    );
    assert_eq!(full, len);
    assert_rv!(
        ck!(f, C_GetOperationState(h, buf.as_mut_ptr(), ptr::null_mut())),
        CKR_ARGUMENTS_BAD,
        "NULL length pointer"
    );
    let state = buf;

    // Saving does not disturb the operation.
    assert_eq!(digest_final(f, h), unhex(SHA256_AB));

    let other = open_session(f, false);
    assert_rv!(set_state(f, other, &state, 0), CKR_OK, "restore elsewhere");
    digest_update(f, other, b"c");
    assert_eq!(digest_final(f, other), unhex(SHA256_ABC));

    // Into the very session it came from, after its digest finished.
    assert_rv!(set_state(f, h, &state, 0), CKR_OK, "restore in place");
    digest_update(f, h, b"c");
    assert_eq!(digest_final(f, h), unhex(SHA256_ABC));

    // A restored state replaces an active digest of the same kind.
    let mut m = mech(CKM_SHA256);
    assert_rv!(ck!(f, C_DigestInit(other, &mut m)), CKR_OK);
    digest_update(f, other, b"something else");
    assert_rv!(set_state(f, other, &state, 0), CKR_OK, "replace active");
    digest_update(f, other, b"c");
    assert_eq!(digest_final(f, other), unhex(SHA256_ABC));
}

#[test]
fn tampered_and_malformed_states_are_refused() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    digest_ab(f, h);
    let state = get_state(f, h).expect("C_GetOperationState");
    let other = open_session(f, false);
    for i in [0, 1, state.len() / 2, state.len() - 1] {
        let mut t = state.clone();
        t[i] ^= 0x01;
        assert_rv!(
            set_state(f, other, &t, 0),
            CKR_SAVED_STATE_INVALID,
            "byte {i} flipped"
        );
    }
    assert_rv!(
        set_state(f, other, &state[..state.len() - 1], 0),
        CKR_SAVED_STATE_INVALID,
        "truncated"
    );
    assert_rv!(
        set_state(f, other, &[], 0),
        CKR_SAVED_STATE_INVALID,
        "empty"
    );
    assert_rv!(
        ck!(f, C_SetOperationState(other, ptr::null_mut(), 16, 0, 0)),
        CKR_ARGUMENTS_BAD,
        "NULL state with a length"
    );
    // A failed restore leaves the session as it was: nothing active.
    let mut out = [0u8; 32];
    let mut len: CK_ULONG = 32;
    assert_rv!(
        ck!(f, C_DigestFinal(other, out.as_mut_ptr(), &mut len)),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_rv!(set_state(f, 0xdead, &state, 0), CKR_SESSION_HANDLE_INVALID);
}

#[test]
fn digest_state_takes_no_key() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (pubk, privk) = p256_pair(f, h);
    digest_ab(f, h);
    let mut state = get_state(f, h).expect("C_GetOperationState");
    let other = open_session(f, false);
    assert_rv!(
        set_state(f, other, &state, privk),
        CKR_KEY_NOT_NEEDED,
        "authentication key"
    );
    assert_rv!(
        ck!(
            f,
            C_SetOperationState(other, state.as_mut_ptr(), state.len() as CK_ULONG, pubk, 0)
        ),
        CKR_KEY_NOT_NEEDED,
        "encryption key"
    );
    assert_rv!(set_state(f, other, &state, 0), CKR_OK);
}

#[test]
fn ecdsa_sign_state_resumes_with_its_key() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (pubk, privk) = p256_pair(f, h);
    let (_, other_privk) = p256_pair(f, h);
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(sign_update(f, h, b"hello "), CKR_OK);
    let state = get_state(f, h).expect("C_GetOperationState");

    let other = open_session(f, false);
    assert_rv!(
        set_state(f, other, &state, 0),
        CKR_KEY_NEEDED,
        "no authentication key"
    );
    assert_rv!(
        set_state(f, other, &state, other_privk),
        CKR_KEY_CHANGED,
        "another private key"
    );
    assert_rv!(
        set_state(f, other, &state, pubk),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "the public key cannot sign"
    );
    assert_rv!(
        set_state(f, other, &state, 0xdead),
        CKR_KEY_HANDLE_INVALID,
        "no such key"
    );
    // pkcs11-provider 1.0 passes the signing key as both keys when it
    // copies a context: accepted for a state that needs a key.
    let mut twice = state.clone();
    assert_rv!(
        ck!(
            f,
            C_SetOperationState(
                other,
                twice.as_mut_ptr(),
                twice.len() as CK_ULONG,
                privk,
                privk
            )
        ),
        CKR_OK,
        "the same key as both keys"
    );
    assert_rv!(set_state(f, other, &state, privk), CKR_OK, "right key");
    assert_rv!(sign_update(f, other, b"world"), CKR_OK);
    let sig = sign_final(f, other);
    assert!(p256_verifies(f, h, pubk, b"hello world", &sig));

    // The module verifies it too, and the source session's own operation
    // still signs what it was given.
    let mut data = b"hello world".to_vec();
    let mut s = sig.clone();
    assert_rv!(ck!(f, C_VerifyInit(h, &mut m, pubk)), CKR_OK);
    assert_rv!(
        ck!(
            f,
            C_Verify(
                h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                s.as_mut_ptr(),
                s.len() as CK_ULONG
            )
        ),
        CKR_OK
    );
    assert_rv!(sign_update(f, h, b"there"), CKR_OK);
    let sig = sign_final(f, h);
    assert!(p256_verifies(f, h, pubk, b"hello there", &sig));

    // After C_Logout the private key is out of reach, so is the state.
    assert_rv!(ck!(f, C_Logout(h)), CKR_OK);
    let rv = set_state(f, other, &state, privk);
    assert!(
        rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID,
        "private key after logout: {}",
        rv_name(rv)
    );
}

#[test]
fn ecdsa_verify_state_resumes() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (pubk, privk) = p256_pair(f, h);
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(sign_update(f, h, b"verify me"), CKR_OK);
    let mut sig = sign_final(f, h);

    assert_rv!(ck!(f, C_VerifyInit(h, &mut m, pubk)), CKR_OK);
    let mut part = b"verify ".to_vec();
    assert_rv!(
        ck!(
            f,
            C_VerifyUpdate(h, part.as_mut_ptr(), part.len() as CK_ULONG)
        ),
        CKR_OK
    );
    let state = get_state(f, h).expect("C_GetOperationState");
    let other = open_session(f, false);
    assert_rv!(set_state(f, other, &state, pubk), CKR_OK);
    let mut rest = b"me".to_vec();
    assert_rv!(
        ck!(
            f,
            C_VerifyUpdate(other, rest.as_mut_ptr(), rest.len() as CK_ULONG)
        ),
        CKR_OK
    );
    assert_rv!(
        ck!(
            f,
            C_VerifyFinal(other, sig.as_mut_ptr(), sig.len() as CK_ULONG)
        ),
        CKR_OK
    );
    // The same state with a wrong ending fails verification.
    assert_rv!(set_state(f, other, &state, pubk), CKR_OK);
    assert_rv!(
        ck!(
            f,
            C_VerifyUpdate(other, part.as_mut_ptr(), part.len() as CK_ULONG)
        ),
        CKR_OK
    );
    assert_rv!(
        ck!(
            f,
            C_VerifyFinal(other, sig.as_mut_ptr(), sig.len() as CK_ULONG)
        ),
        CKR_SIGNATURE_INVALID
    );
}

#[test]
fn unsaveable_and_inactive_sessions() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    assert_eq!(get_state(f, h), Err(CKR_OPERATION_NOT_INITIALIZED));

    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, b"Jefe")
        .bool(CKA_SIGN, true)
        .bool(CKA_TOKEN, false);
    let (p, n) = t.as_mut();
    let mut key: CK_OBJECT_HANDLE = 0;
    assert_rv!(ck!(f, C_CreateObject(h, p, n, &mut key)), CKR_OK);
    let mut m = mech(CKM_SHA256_HMAC);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, key)), CKR_OK);
    assert_rv!(sign_update(f, h, b"data"), CKR_OK);
    assert_eq!(
        get_state(f, h),
        Err(CKR_STATE_UNSAVEABLE),
        "HMAC sign active"
    );
    // With a digest beside it the session is still unsaveable as a whole.
    digest_ab(f, h);
    assert_eq!(get_state(f, h), Err(CKR_STATE_UNSAVEABLE));
    assert_rv!(ck!(f, C_SignInit(h, ptr::null_mut(), 0)), CKR_OK, "cancel");
    assert!(get_state(f, h).is_ok(), "the digest alone is saveable");
    assert_rv!(ck!(f, C_DigestInit(h, ptr::null_mut())), CKR_OK, "cancel");

    let mut tmpl = Tmpl::new();
    let (p, n) = tmpl.as_mut();
    assert_rv!(ck!(f, C_FindObjectsInit(h, p, n)), CKR_OK);
    assert_eq!(get_state(f, h), Err(CKR_STATE_UNSAVEABLE), "find active");
    assert_rv!(ck!(f, C_FindObjectsFinal(h)), CKR_OK);
    assert_eq!(get_state(f, h), Err(CKR_OPERATION_NOT_INITIALIZED));
}

#[test]
fn always_authenticate_key_needs_its_login_again_after_restore() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut pubt = Tmpl::new()
        .bytes(CKA_EC_PARAMS, common::P256_PARAMS)
        .bool(CKA_VERIFY, true)
        .bool(CKA_TOKEN, false);
    let mut privt = Tmpl::new()
        .bool(CKA_SIGN, true)
        .bool(CKA_TOKEN, false)
        .bool(CKA_ALWAYS_AUTHENTICATE, true);
    let (pp, pn) = pubt.as_mut();
    let (sp, sn) = privt.as_mut();
    let (mut pubk, mut privk) = (0, 0);
    assert_rv!(
        ck!(
            f,
            C_GenerateKeyPair(h, &mut m, pp, pn, sp, sn, &mut pubk, &mut privk)
        ),
        CKR_OK
    );
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_eq!(
        get_state(f, h),
        Err(CKR_STATE_UNSAVEABLE),
        "before the context-specific login"
    );
    assert_rv!(login(f, h, CKU_CONTEXT_SPECIFIC, common::USER_PIN), CKR_OK);
    assert_rv!(sign_update(f, h, b"hello "), CKR_OK);
    let state = get_state(f, h).expect("saveable once authorised");

    let other = open_session(f, false);
    assert_rv!(set_state(f, other, &state, privk), CKR_OK);
    assert_rv!(
        sign_update(f, other, b"world"),
        CKR_USER_NOT_LOGGED_IN,
        "the restored operation asks for the PIN again"
    );
    assert_rv!(set_state(f, other, &state, privk), CKR_OK);
    assert_rv!(
        login(f, other, CKU_CONTEXT_SPECIFIC, common::USER_PIN),
        CKR_OK
    );
    assert_rv!(sign_update(f, other, b"world"), CKR_OK);
    let sig = sign_final(f, other);
    assert!(p256_verifies(f, h, pubk, b"hello world", &sig));
}

#[test]
fn state_does_not_survive_reinitialization() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    digest_ab(f, h);
    let state = get_state(f, h).expect("C_GetOperationState");
    drop(init);

    let init = Init::new();
    let f = init.f;
    let h = open_session(f, false);
    assert_rv!(
        set_state(f, h, &state, 0),
        CKR_SAVED_STATE_INVALID,
        "state from before C_Finalize"
    );
    // A state made now works: the refusal is the library key's doing.
    digest_ab(f, h);
    let fresh = get_state(f, h).expect("C_GetOperationState");
    let other = open_session(f, false);
    assert_rv!(set_state(f, other, &fresh, 0), CKR_OK);
    digest_update(f, other, b"c");
    assert_eq!(digest_final(f, other), unhex(SHA256_ABC));
}
