//! The module's raw C ABI at session level: session arguments and handles,
//! the output-length protocol of C_Sign / C_Digest, how operations start,
//! end after an error and are cancelled, per-entry C_GetAttributeValue
//! semantics, find / copy rules and HMAC_GENERAL. Uses `libloading` +
//! `cryptoki_sys` so the tests can pass NULL pointers and short buffers.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr;

use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;
use p256::ecdsa::signature::Verifier;
use sha2::Digest as _;

const UNKNOWN_ATTR: CK_ATTRIBUTE_TYPE = 0x0000_7f00;

#[test]
fn generate_random_arguments() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    assert_rv!(
        ck!(f, C_GenerateRandom(h, ptr::null_mut(), 16)),
        CKR_ARGUMENTS_BAD
    );
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    assert_rv!(ck!(f, C_GenerateRandom(h, a.as_mut_ptr(), 32)), CKR_OK);
    assert_rv!(ck!(f, C_GenerateRandom(h, b.as_mut_ptr(), 32)), CKR_OK);
    assert_ne!(a, [0u8; 32]);
    assert_ne!(a, b, "two random draws are equal");
    assert_rv!(
        ck!(f, C_GenerateRandom(h, a.as_mut_ptr(), 0)),
        CKR_OK,
        "zero length"
    );
    let mut seed = *b"some seed";
    let rv = ck!(
        f,
        C_SeedRandom(h, seed.as_mut_ptr(), seed.len() as CK_ULONG)
    );
    assert!(
        rv == CKR_OK || rv == CKR_RANDOM_SEED_NOT_SUPPORTED,
        "C_SeedRandom gave {}",
        rv_name(rv)
    );
}

unsafe extern "C" fn notify(
    _h: CK_SESSION_HANDLE,
    _ev: CK_NOTIFICATION,
    _app: *mut c_void,
) -> CK_RV {
    CKR_OK
}

#[test]
fn open_session_arguments() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let mut h: CK_SESSION_HANDLE = 0;
    assert_rv!(
        ck!(
            f,
            C_OpenSession(0, CKF_RW_SESSION, ptr::null_mut(), None, &mut h)
        ),
        CKR_SESSION_PARALLEL_NOT_SUPPORTED
    );
    assert_rv!(
        ck!(
            f,
            C_OpenSession(
                0,
                CKF_SERIAL_SESSION,
                ptr::null_mut(),
                None,
                ptr::null_mut()
            )
        ),
        CKR_ARGUMENTS_BAD
    );
    let mut app = 42u32;
    assert_rv!(
        ck!(
            f,
            C_OpenSession(
                0,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                (&mut app as *mut u32).cast(),
                Some(notify),
                &mut h
            )
        ),
        CKR_OK,
        "non-NULL Notify"
    );
    assert_ne!(h, CK_INVALID_HANDLE);
    let mut si = CK_SESSION_INFO::default();
    assert_rv!(ck!(f, C_GetSessionInfo(h, &mut si)), CKR_OK);
    assert_eq!(si.slotID, 0);
    assert_eq!(si.state, CKS_RW_PUBLIC_SESSION);
    assert_eq!(
        si.flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION),
        CKF_SERIAL_SESSION | CKF_RW_SESSION
    );
    assert_rv!(
        ck!(f, C_GetSessionInfo(h, ptr::null_mut())),
        CKR_ARGUMENTS_BAD
    );
}

#[test]
fn wrong_session_and_object_handles() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let mut si = CK_SESSION_INFO::default();
    for bad in [CK_INVALID_HANDLE, h + 1000, 0xdead_beef] {
        assert_rv!(
            ck!(f, C_GetSessionInfo(bad, &mut si)),
            CKR_SESSION_HANDLE_INVALID,
            "session {bad:#x}"
        );
    }
    assert_rv!(ck!(f, C_CloseSession(h + 1000)), CKR_SESSION_HANDLE_INVALID);
    let mut a = CK_ATTRIBUTE {
        type_: CKA_CLASS,
        pValue: ptr::null_mut(),
        ulValueLen: 0,
    };
    assert_rv!(
        ck!(f, C_GetAttributeValue(h, 0xdead, &mut a, 1)),
        CKR_OBJECT_HANDLE_INVALID
    );
    assert_rv!(
        ck!(f, C_DestroyObject(h, 0xdead)),
        CKR_OBJECT_HANDLE_INVALID
    );
    let mut t = Tmpl::new().bytes(CKA_LABEL, b"x");
    let (p, n) = t.as_mut();
    assert_rv!(
        ck!(f, C_SetAttributeValue(h, 0xdead, p, n)),
        CKR_OBJECT_HANDLE_INVALID
    );
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(
        ck!(f, C_SignInit(h, &mut m, 0xdead)),
        CKR_KEY_HANDLE_INVALID
    );

    let h2 = open_session(f, false);
    assert_rv!(ck!(f, C_CloseSession(h2)), CKR_OK);
    let rv = ck!(f, C_GetSessionInfo(h2, &mut si));
    assert!(
        rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED,
        "closed session gave {}",
        rv_name(rv)
    );
}

#[test]
fn close_all_sessions_closes_and_logs_out() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h1 = user_session(f);
    let h2 = open_session(f, false);
    let mut si = CK_SESSION_INFO::default();
    assert_rv!(ck!(f, C_GetSessionInfo(h2, &mut si)), CKR_OK);
    assert_eq!(si.state, CKS_RO_USER_FUNCTIONS);
    assert_rv!(ck!(f, C_CloseAllSessions(0)), CKR_OK);
    for h in [h1, h2] {
        let rv = ck!(f, C_GetSessionInfo(h, &mut si));
        assert!(
            rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED,
            "session {h} after C_CloseAllSessions: {}",
            rv_name(rv)
        );
    }
    let h3 = open_session(f, false);
    assert_rv!(ck!(f, C_GetSessionInfo(h3, &mut si)), CKR_OK);
    assert_eq!(
        si.state, CKS_RO_PUBLIC_SESSION,
        "C_CloseAllSessions logged out"
    );
}

#[test]
fn sign_output_length_protocol_ecdsa_p256() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (pubk, privk) = p256_pair(f, h);
    let mut data = b"length protocol".to_vec();
    let dl = data.len() as CK_ULONG;
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);

    let mut len: CK_ULONG = 0;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, ptr::null_mut(), &mut len)
        ),
        CKR_OK,
        "length query"
    );
    assert_eq!(len, 64);
    let mut sig = vec![0u8; 64];
    let mut short: CK_ULONG = 10;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), &mut short)
        ),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 64, "needed length written on BUFFER_TOO_SMALL");
    let mut full: CK_ULONG = 64;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), &mut full)
        ),
        CKR_OK,
        "operation still active after the length query and the short buffer"
    );
    assert_eq!(full, 64);
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), &mut full)
        ),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign ends the operation"
    );

    // Raw r||s that an independent implementation accepts.
    let point = common::ec_point_from_der(&get_attr(f, h, pubk, CKA_EC_POINT));
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("EC point");
    let s = p256::ecdsa::Signature::from_slice(&sig).expect("r||s");
    vk.verify(&data, &s)
        .expect("p256 verifies the module's signature");

    // Multi-part: C_SignFinal follows the same protocol.
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(ck!(f, C_SignUpdate(h, data.as_mut_ptr(), dl)), CKR_OK);
    let mut len: CK_ULONG = 0;
    assert_rv!(ck!(f, C_SignFinal(h, ptr::null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 64);
    let mut short: CK_ULONG = 63;
    assert_rv!(
        ck!(f, C_SignFinal(h, sig.as_mut_ptr(), &mut short)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 64);
    let mut full: CK_ULONG = 64;
    assert_rv!(ck!(f, C_SignFinal(h, sig.as_mut_ptr(), &mut full)), CKR_OK);
    let s = p256::ecdsa::Signature::from_slice(&sig).expect("r||s");
    vk.verify(&data, &s).expect("multi-part signature verifies");
    assert_rv!(
        ck!(f, C_SignUpdate(h, data.as_mut_ptr(), dl)),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn digest_output_length_protocol_sha256() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    let mut data = b"abc".to_vec();
    let want = unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let mut m = mech(CKM_SHA256);
    assert_rv!(ck!(f, C_DigestInit(h, &mut m)), CKR_OK);
    let mut len: CK_ULONG = 0;
    assert_rv!(
        ck!(
            f,
            C_Digest(h, data.as_mut_ptr(), 3, ptr::null_mut(), &mut len)
        ),
        CKR_OK
    );
    assert_eq!(len, 32);
    let mut out = [0u8; 32];
    let mut short: CK_ULONG = 31;
    assert_rv!(
        ck!(
            f,
            C_Digest(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut short)
        ),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 32);
    let mut full: CK_ULONG = 32;
    assert_rv!(
        ck!(
            f,
            C_Digest(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut full)
        ),
        CKR_OK
    );
    assert_eq!(out.to_vec(), want);
    assert_rv!(
        ck!(
            f,
            C_Digest(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut full)
        ),
        CKR_OPERATION_NOT_INITIALIZED
    );

    assert_rv!(ck!(f, C_DigestInit(h, &mut m)), CKR_OK);
    assert_rv!(ck!(f, C_DigestUpdate(h, data.as_mut_ptr(), 3)), CKR_OK);
    let mut len: CK_ULONG = 0;
    assert_rv!(ck!(f, C_DigestFinal(h, ptr::null_mut(), &mut len)), CKR_OK);
    assert_eq!(len, 32);
    let mut short: CK_ULONG = 1;
    assert_rv!(
        ck!(f, C_DigestFinal(h, out.as_mut_ptr(), &mut short)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(short, 32);
    let mut full: CK_ULONG = 32;
    out = [0u8; 32];
    assert_rv!(
        ck!(f, C_DigestFinal(h, out.as_mut_ptr(), &mut full)),
        CKR_OK
    );
    assert_eq!(out.to_vec(), want);
    assert_rv!(
        ck!(f, C_DigestFinal(h, out.as_mut_ptr(), &mut full)),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn operation_ends_after_an_error() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (pubk, privk) = p256_pair(f, h);
    let mut data = b"message".to_vec();
    let dl = data.len() as CK_ULONG;
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    let mut sig = vec![0u8; 64];
    let mut sl: CK_ULONG = 64;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), &mut sl)
        ),
        CKR_OK
    );

    // An argument error ends the operation too (only BUFFER_TOO_SMALL and
    // a length query leave it active).
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), ptr::null_mut())
        ),
        CKR_ARGUMENTS_BAD
    );
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), &mut sl)
        ),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign with a bad argument ends the operation"
    );
    let mut digest_mech = mech(CKM_SHA256);
    assert_rv!(ck!(f, C_DigestInit(h, &mut digest_mech)), CKR_OK);
    assert_rv!(
        ck!(f, C_DigestUpdate(h, ptr::null_mut(), 5)),
        CKR_ARGUMENTS_BAD
    );
    assert_rv!(
        ck!(f, C_DigestUpdate(h, data.as_mut_ptr(), dl)),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_DigestUpdate with a bad argument ends the operation"
    );

    let mut bad = sig.clone();
    bad[10] ^= 0x01;
    assert_rv!(ck!(f, C_VerifyInit(h, &mut m, pubk)), CKR_OK);
    assert_rv!(
        ck!(f, C_Verify(h, data.as_mut_ptr(), dl, bad.as_mut_ptr(), 64)),
        CKR_SIGNATURE_INVALID
    );
    assert_rv!(
        ck!(f, C_VerifyUpdate(h, data.as_mut_ptr(), dl)),
        CKR_OPERATION_NOT_INITIALIZED,
        "a failed C_Verify ends the operation"
    );
    assert_rv!(
        ck!(f, C_VerifyInit(h, &mut m, pubk)),
        CKR_OK,
        "a new operation can start"
    );
    assert_rv!(
        ck!(f, C_Verify(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), 64)),
        CKR_OK
    );

    // A wrong-length signature ends it too.
    assert_rv!(ck!(f, C_VerifyInit(h, &mut m, pubk)), CKR_OK);
    assert_rv!(
        ck!(f, C_Verify(h, data.as_mut_ptr(), dl, sig.as_mut_ptr(), 63)),
        CKR_SIGNATURE_LEN_RANGE
    );
    assert_rv!(
        ck!(f, C_VerifyFinal(h, sig.as_mut_ptr(), 64)),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn sign_init_twice_and_cancel_with_null_mechanism() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let (_pubk, privk) = p256_pair(f, h);
    let mut data = b"x".to_vec();
    let mut sig = vec![0u8; 64];
    let mut m = mech(CKM_ECDSA_SHA256);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OPERATION_ACTIVE);
    let mut sl: CK_ULONG = 64;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), &mut sl)
        ),
        CKR_OK,
        "the first operation survives the refused second C_SignInit"
    );

    assert_rv!(ck!(f, C_SignInit(h, &mut m, privk)), CKR_OK);
    assert_rv!(
        ck!(f, C_SignInit(h, ptr::null_mut(), 0)),
        CKR_OK,
        "NULL mechanism cancels"
    );
    let mut sl: CK_ULONG = 64;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), &mut sl)
        ),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_rv!(
        ck!(f, C_SignInit(h, &mut m, privk)),
        CKR_OK,
        "can start again after cancel"
    );
    let mut sl: CK_ULONG = 64;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), &mut sl)
        ),
        CKR_OK
    );

    // The same rules for digest operations.
    let mut dm = mech(CKM_SHA256);
    assert_rv!(ck!(f, C_DigestInit(h, &mut dm)), CKR_OK);
    assert_rv!(ck!(f, C_DigestInit(h, &mut dm)), CKR_OPERATION_ACTIVE);
    assert_rv!(
        ck!(f, C_DigestInit(h, ptr::null_mut())),
        CKR_OK,
        "NULL mechanism cancels a digest"
    );
    let mut out = [0u8; 32];
    let mut ol: CK_ULONG = 32;
    assert_rv!(
        ck!(
            f,
            C_Digest(h, data.as_mut_ptr(), 1, out.as_mut_ptr(), &mut ol)
        ),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

fn attr_entry(ty: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: buf.as_mut_ptr().cast(),
        ulValueLen: buf.len() as CK_ULONG,
    }
}

#[test]
fn get_attribute_value_per_entry_semantics() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let key = generate_key(
        f,
        h,
        CKM_AES_KEY_GEN,
        Tmpl::new()
            .ulong(CKA_VALUE_LEN, 32)
            .bytes(CKA_LABEL, b"abcdefgh")
            .bool(CKA_TOKEN, false),
    );
    let (mut class, mut value, mut unk, mut label) = ([0u8; 8], [0u8; 32], [0u8; 8], [0u8; 2]);

    let get = |t: &mut [CK_ATTRIBUTE]| {
        ck!(
            f,
            C_GetAttributeValue(h, key, t.as_mut_ptr(), t.len() as CK_ULONG)
        )
    };
    let class_ok = |a: &CK_ATTRIBUTE, buf: &[u8; 8]| {
        assert_eq!(a.ulValueLen, 8, "readable entry length");
        assert_eq!(
            CK_ULONG::from_ne_bytes(*buf),
            CKO_SECRET_KEY,
            "readable entry filled"
        );
    };

    let mut t = [
        attr_entry(CKA_CLASS, &mut class),
        attr_entry(CKA_VALUE, &mut value),
    ];
    assert_rv!(get(&mut t), CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    class_ok(&t[0], &class);

    class = [0; 8];
    let mut t = [
        attr_entry(CKA_CLASS, &mut class),
        attr_entry(UNKNOWN_ATTR, &mut unk),
    ];
    assert_rv!(get(&mut t), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    class_ok(&t[0], &class);

    class = [0; 8];
    let mut t = [
        attr_entry(CKA_CLASS, &mut class),
        attr_entry(CKA_LABEL, &mut label),
    ];
    assert_rv!(get(&mut t), CKR_BUFFER_TOO_SMALL);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    class_ok(&t[0], &class);

    // All problems at once: any of the three codes, every entry processed.
    class = [0; 8];
    let mut t = [
        attr_entry(CKA_VALUE, &mut value),
        attr_entry(UNKNOWN_ATTR, &mut unk),
        attr_entry(CKA_LABEL, &mut label),
        attr_entry(CKA_CLASS, &mut class),
    ];
    let rv = get(&mut t);
    assert!(
        [
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_ATTRIBUTE_TYPE_INVALID,
            CKR_BUFFER_TOO_SMALL
        ]
        .contains(&rv),
        "combined template gave {}",
        rv_name(rv)
    );
    for (i, a) in t.iter().take(3).enumerate() {
        assert_eq!(a.ulValueLen, CK_UNAVAILABLE_INFORMATION, "entry {i}");
    }
    class_ok(&t[3], &class);

    // Length queries: NULL pValue gives the size (or UNAVAILABLE if sensitive).
    let mut t = [
        CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
    ];
    assert_rv!(get(&mut t), CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(t[0].ulValueLen, 8);
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(get_attr(f, h, key, CKA_LABEL), b"abcdefgh");
    assert_eq!(get_attr(f, h, key, CKA_VALUE_LEN), 32u64.to_ne_bytes());
    assert_rv!(
        ck!(f, C_GetAttributeValue(h, key, ptr::null_mut(), 1)),
        CKR_ARGUMENTS_BAD
    );
}

#[test]
fn find_objects_operation_rules() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    let h = open_session(f, false);
    let mut handles = [0 as CK_OBJECT_HANDLE; 4];
    let mut n: CK_ULONG = 0;
    assert_rv!(
        ck!(f, C_FindObjects(h, handles.as_mut_ptr(), 4, &mut n)),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_rv!(ck!(f, C_FindObjectsInit(h, ptr::null_mut(), 0)), CKR_OK);
    assert_rv!(
        ck!(f, C_FindObjectsInit(h, ptr::null_mut(), 0)),
        CKR_OPERATION_ACTIVE
    );
    assert_rv!(
        ck!(f, C_FindObjects(h, handles.as_mut_ptr(), 4, &mut n)),
        CKR_OK
    );
    // A new token looks empty: its CKO_PROFILE object is found only by a
    // search for that class (object::profile::found_by).
    assert_eq!(n, 0, "a new token holds nothing an application made");
    assert_rv!(
        ck!(
            f,
            C_FindObjects(h, handles.as_mut_ptr(), 4, ptr::null_mut())
        ),
        CKR_ARGUMENTS_BAD
    );
    assert_rv!(ck!(f, C_FindObjectsFinal(h)), CKR_OK);
    assert_rv!(ck!(f, C_FindObjectsFinal(h)), CKR_OPERATION_NOT_INITIALIZED);
    // Asked for by class, the profile object is there.
    let mut class = Tmpl::new().ulong(CKA_CLASS, CKO_PROFILE);
    let (p, len) = class.as_mut();
    assert_rv!(ck!(f, C_FindObjectsInit(h, p, len)), CKR_OK);
    assert_rv!(
        ck!(f, C_FindObjects(h, handles.as_mut_ptr(), 4, &mut n)),
        CKR_OK
    );
    assert_eq!(n, 1, "one profile object");
    assert_eq!(
        get_attr(f, h, handles[0], CKA_CLASS),
        CKO_PROFILE.to_ne_bytes().to_vec()
    );
    assert_rv!(ck!(f, C_FindObjectsFinal(h)), CKR_OK);
}

#[test]
fn copy_object_with_empty_template_and_object_size() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let key = generate_key(
        f,
        h,
        CKM_AES_KEY_GEN,
        Tmpl::new()
            .ulong(CKA_VALUE_LEN, 16)
            .bytes(CKA_LABEL, b"orig")
            .bool(CKA_TOKEN, false),
    );
    let mut copy: CK_OBJECT_HANDLE = 0;
    assert_rv!(
        ck!(f, C_CopyObject(h, key, ptr::null_mut(), 0, &mut copy)),
        CKR_OK
    );
    assert_ne!(copy, key);
    assert_ne!(copy, CK_INVALID_HANDLE);
    assert_eq!(get_attr(f, h, copy, CKA_LABEL), b"orig");
    assert_eq!(get_attr(f, h, copy, CKA_VALUE_LEN), 16u64.to_ne_bytes());
    assert_rv!(
        ck!(f, C_CopyObject(h, key, ptr::null_mut(), 0, ptr::null_mut())),
        CKR_ARGUMENTS_BAD
    );

    let mut size: CK_ULONG = 0;
    assert_rv!(ck!(f, C_GetObjectSize(h, key, &mut size)), CKR_OK);
    assert!(size > 0, "object size 0");
    assert_rv!(
        ck!(f, C_GetObjectSize(h, 0xdead, &mut size)),
        CKR_OBJECT_HANDLE_INVALID
    );
    assert_rv!(ck!(f, C_DestroyObject(h, copy)), CKR_OK);
    assert_rv!(
        ck!(f, C_GetObjectSize(h, copy, &mut size)),
        CKR_OBJECT_HANDLE_INVALID
    );
}

#[test]
fn hmac_general_truncates_to_requested_length() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, b"Jefe")
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true)
        .bool(CKA_TOKEN, false);
    let (p, n) = t.as_mut();
    let mut key: CK_OBJECT_HANDLE = 0;
    assert_rv!(ck!(f, C_CreateObject(h, p, n, &mut key)), CKR_OK);
    // RFC 4231 test case 2.
    let full = unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    let mut data = b"what do ya want for nothing?".to_vec();
    let dl = data.len() as CK_ULONG;
    let mut len: CK_ULONG = 16;
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256_HMAC_GENERAL,
        pParameter: (&mut len as *mut CK_ULONG).cast(),
        ulParameterLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    };
    assert_rv!(ck!(f, C_SignInit(h, &mut m, key)), CKR_OK);
    let mut mac = [0u8; 32];
    let mut ml: CK_ULONG = 32;
    assert_rv!(
        ck!(
            f,
            C_Sign(h, data.as_mut_ptr(), dl, mac.as_mut_ptr(), &mut ml)
        ),
        CKR_OK
    );
    assert_eq!(ml, 16);
    assert_eq!(mac[..16], full[..16]);
    assert_rv!(ck!(f, C_VerifyInit(h, &mut m, key)), CKR_OK);
    assert_rv!(
        ck!(f, C_Verify(h, data.as_mut_ptr(), dl, mac.as_mut_ptr(), 16)),
        CKR_OK
    );

    // Cross-check against an independent HMAC.
    let mut hm = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(b"Jefe").expect("key");
    hmac::Mac::update(&mut hm, &data);
    assert_eq!(hmac::Mac::finalize(hm).into_bytes().to_vec(), full);
    assert_eq!(
        sha2::Sha256::digest(b"abc").to_vec()[..4],
        [0xba, 0x78, 0x16, 0xbf]
    );

    let mut too_long: CK_ULONG = 33;
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256_HMAC_GENERAL,
        pParameter: (&mut too_long as *mut CK_ULONG).cast(),
        ulParameterLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    };
    let rv = ck!(f, C_SignInit(h, &mut m, key));
    assert_ne!(
        rv, CKR_OK,
        "HMAC_GENERAL length above the digest size accepted"
    );
    let mut nop = mech(CKM_SHA256_HMAC_GENERAL);
    assert_ne!(
        ck!(f, C_SignInit(h, &mut nop, key)),
        CKR_OK,
        "HMAC_GENERAL without its parameter"
    );
}
