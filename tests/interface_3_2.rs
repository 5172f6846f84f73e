//! The "PKCS 11" 3.2 interface through the C ABI: the interface list
//! (3.2, 3.0, 2.40), the complete 3.2 table, C_GetInterface by version,
//! C_GetInfo's version, and the 3.2 functions' return codes:
//! C_VerifySignature* (signature given at init) on ECDSA P-256 SHA-256
//! and Ed25519, C_GetSessionValidationFlags, and the asynchronous and
//! authenticated-wrapping stubs.

mod common;

use std::ffi::c_void;
use std::mem::offset_of;
use std::ptr;

use common::TestEnv;
use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::{GetInterface, GetInterfaceList, Tmpl, count_null_slots, symbol};
use cryptoki_sys::*;

/// DER OID of P-256 (prime256v1), as CKA_EC_PARAMS.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn version_of(list: *const c_void) -> (u8, u8) {
    // SAFETY: every PKCS#11 function table starts with a CK_VERSION.
    let v = unsafe { *(list as *const CK_VERSION) };
    (v.major, v.minor)
}

/// C_GetInterface("PKCS 11" or NULL, version or NULL): rv and the table.
fn interface(name: bool, version: Option<(u8, u8)>) -> (CK_RV, *const c_void) {
    let get: GetInterface = symbol(b"C_GetInterface\0");
    let mut n = *b"PKCS 11\0";
    let np = if name {
        n.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let mut v = version.map(|(major, minor)| CK_VERSION { major, minor });
    let vp = v.as_mut().map_or(ptr::null_mut(), |v| v as *mut CK_VERSION);
    let mut out: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: pointers NULL or valid for the call.
    let rv = unsafe { get(np, vp, &mut out, 0) };
    if rv != CKR_OK {
        return (rv, ptr::null());
    }
    // SAFETY: CKR_OK gives a valid static CK_INTERFACE.
    (rv, unsafe { (*out).pFunctionList as *const c_void })
}

/// The 3.2 table, asked for by version.
fn f32() -> &'static CK_FUNCTION_LIST_3_2 {
    let (rv, t) = interface(true, Some((3, 2)));
    assert_eq!(rv, CKR_OK);
    assert_eq!(version_of(t), (3, 2));
    // SAFETY: the module's static 3.2 table.
    unsafe { &*(t as *const CK_FUNCTION_LIST_3_2) }
}

macro_rules! c32 {
    ($name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = f32().$name.expect(concat!(stringify!($name), " is NULL"));
        // SAFETY: the arguments are owned buffers and handles valid for
        // this call (or deliberately NULL where the test says so).
        #[allow(unused_unsafe)]
        unsafe { func($($arg),*) }
    }};
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

fn vs_init(s: &Sess, m: &Mech, k: CK_OBJECT_HANDLE, sig: &[u8]) -> Rv<()> {
    let mut ck = m.ck();
    let mut sig = sig.to_vec();
    rv(c32!(C_VerifySignatureInit(
        s.h,
        &mut ck,
        k,
        sig.as_mut_ptr(),
        ulong(sig.len())
    )))
}

fn vs(s: &Sess, data: &[u8]) -> Rv<()> {
    let mut d = data.to_vec();
    rv(c32!(C_VerifySignature(s.h, d.as_mut_ptr(), ulong(d.len()))))
}

fn vs_update(s: &Sess, data: &[u8]) -> Rv<()> {
    let mut d = data.to_vec();
    rv(c32!(C_VerifySignatureUpdate(
        s.h,
        d.as_mut_ptr(),
        ulong(d.len())
    )))
}

fn vs_final(s: &Sess) -> Rv<()> {
    rv(c32!(C_VerifySignatureFinal(s.h)))
}

#[test]
fn interface_list_has_three_complete_tables() {
    let _env = TestEnv::new();
    let get: GetInterfaceList = symbol(b"C_GetInterfaceList\0");
    let mut n: CK_ULONG = 0;
    // SAFETY: count query with a valid out-pointer.
    assert_eq!(unsafe { get(ptr::null_mut(), &mut n) }, CKR_OK);
    assert_eq!(n, 3, "3.2, 3.0 and 2.40");
    let empty = CK_INTERFACE {
        pInterfaceName: ptr::null_mut(),
        pFunctionList: ptr::null_mut(),
        flags: 0,
    };
    let mut buf = vec![empty; 3];
    // SAFETY: room for `n` entries.
    assert_eq!(unsafe { get(buf.as_mut_ptr(), &mut n) }, CKR_OK);
    let versions: Vec<_> = buf.iter().map(|i| version_of(i.pFunctionList)).collect();
    assert_eq!(versions, vec![(3, 2), (3, 0), (2, 40)]);

    // SAFETY: the first entry's table is the 3.2 one (version checked).
    let t = unsafe { &*(buf[0].pFunctionList as *const CK_FUNCTION_LIST_3_2) };
    let (slots, nulls) = count_null_slots(t, offset_of!(CK_FUNCTION_LIST_3_2, C_Initialize));
    assert_eq!(slots, 104, "92 functions of 3.0 and 12 of 3.2");
    assert_eq!(nulls, 0, "every 3.2 slot is filled");
    // The 3.0 part of the 3.2 table is the 3.0 table's functions.
    // SAFETY: the second entry is the 3.0 table.
    let t30 = unsafe { &*(buf[1].pFunctionList as *const CK_FUNCTION_LIST_3_0) };
    assert_eq!(
        t.C_MessageVerifyFinal.map(|f| f as usize),
        t30.C_MessageVerifyFinal.map(|f| f as usize)
    );
    assert_eq!(
        t.C_VerifyFinal.map(|f| f as usize),
        t30.C_VerifyFinal.map(|f| f as usize)
    );
}

#[test]
fn get_interface_by_each_version() {
    let _env = TestEnv::new();
    for v in [(3, 2), (3, 0), (2, 40)] {
        let (rv, t) = interface(true, Some(v));
        assert_eq!(rv, CKR_OK, "{v:?} by name and version");
        assert_eq!(version_of(t), v);
        let (rv, t) = interface(false, Some(v));
        assert_eq!(rv, CKR_OK, "{v:?} by version only");
        assert_eq!(version_of(t), v);
    }
    let (rv, t) = interface(false, None);
    assert_eq!(rv, CKR_OK);
    assert_eq!(version_of(t), (3, 2), "the default is the newest");
    let (rv, _) = interface(true, Some((3, 1)));
    assert_eq!(rv, CKR_ARGUMENTS_BAD, "3.1 is not offered");
}

#[test]
fn get_info_reports_3_2() {
    let m = Module::start("");
    let mut info = CK_INFO::default();
    assert_eq!(ck_info(m.f(), &mut info), CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (3, 2)
    );
}

fn ck_info(f: &CK_FUNCTION_LIST_3_0, info: &mut CK_INFO) -> CK_RV {
    let func = f.C_GetInfo.expect("C_GetInfo");
    // SAFETY: a live CK_INFO.
    unsafe { func(info) }
}

/// Good signature, altered signature, altered data, one part and several,
/// with the operation's ending rules.
fn verify_signature_cases(s: &Sess, m: &Mech, public: CK_OBJECT_HANDLE, sig: &[u8], multi: bool) {
    let data = b"PKCS#11 3.2 verify-signature";
    ok(vs_init(s, m, public, sig), "init");
    ok(vs(s, data), "good signature, one part");
    err(
        vs(s, data),
        CKR_OPERATION_NOT_INITIALIZED,
        "ended by C_VerifySignature",
    );

    let mut bad = sig.to_vec();
    bad[5] ^= 0x01;
    ok(vs_init(s, m, public, &bad), "init with altered signature");
    err(vs(s, data), CKR_SIGNATURE_INVALID, "altered signature");
    err(
        vs(s, data),
        CKR_OPERATION_NOT_INITIALIZED,
        "ended by the failure",
    );

    ok(vs_init(s, m, public, sig), "init");
    err(vs(s, b"other data"), CKR_SIGNATURE_INVALID, "altered data");

    if multi {
        ok(vs_init(s, m, public, sig), "init");
        ok(vs_update(s, &data[..7]), "update 1");
        ok(vs_update(s, &data[7..]), "update 2");
        ok(vs_final(s), "good signature, several parts");
        err(vs_final(s), CKR_OPERATION_NOT_INITIALIZED, "ended by Final");

        ok(vs_init(s, m, public, &bad), "init");
        ok(vs_update(s, data), "update");
        err(vs_final(s), CKR_SIGNATURE_INVALID, "altered, several parts");

        // After an update the one-part call is refused and ends it.
        ok(vs_init(s, m, public, sig), "init");
        ok(vs_update(s, data), "update");
        err(
            vs(s, data),
            CKR_OPERATION_NOT_INITIALIZED,
            "one-part after update",
        );
        err(vs_final(s), CKR_OPERATION_NOT_INITIALIZED, "ended");
    } else {
        ok(vs_init(s, m, public, sig), "init");
        err(
            vs_update(s, data),
            CKR_FUNCTION_NOT_SUPPORTED,
            "one-part mechanism",
        );
        err(
            vs(s, data),
            CKR_OPERATION_NOT_INITIALIZED,
            "ended by the update error",
        );
    }
}

#[test]
fn verify_signature_ecdsa_p256_sha256() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(ec(&s, P256_PARAMS, "p256", false, |t| t), "P-256 pair");
    let mech = Mech::new(CKM_ECDSA_SHA256);
    let sig = ok(
        s.sign_once(&mech, private, b"PKCS#11 3.2 verify-signature"),
        "sign",
    );
    verify_signature_cases(&s, &mech, public, &sig, true);
    // Raw CKM_ECDSA is one-part only: an update is refused.
    let raw = Mech::new(CKM_ECDSA);
    let raw_sig = ok(
        s.sign_once(&raw, private, b"PKCS#11 3.2 verify-signature"),
        "raw sign",
    );
    verify_signature_cases(&s, &raw, public, &raw_sig, false);

    // Without init, every continuation is OPERATION_NOT_INITIALIZED.
    err(vs(&s, b"x"), CKR_OPERATION_NOT_INITIALIZED, "no init");
    err(
        vs_update(&s, b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "no init",
    );
    err(vs_final(&s), CKR_OPERATION_NOT_INITIALIZED, "no init");

    // One verification at a time: a C_VerifyInit one blocks it and back.
    ok(s.verify_init(&mech, public), "C_VerifyInit");
    err(
        vs_init(&s, &mech, public, &sig),
        CKR_OPERATION_ACTIVE,
        "verify active",
    );
    ok(s.session_cancel(CKF_VERIFY), "cancel");
    ok(vs_init(&s, &mech, public, &sig), "init");
    err(
        s.verify_init(&mech, public),
        CKR_OPERATION_ACTIVE,
        "signature-first active",
    );
    // Nor may a verification with recovery start beside it (the busy
    // check comes before the key is looked at), nor it beside one.
    let mut rsa_pkcs = Mech::new(CKM_RSA_PKCS).ck();
    err(
        // SAFETY: a live session and an owned mechanism.
        rv(unsafe { f32().C_VerifyRecoverInit.expect("slot")(s.h, &mut rsa_pkcs, public) }),
        CKR_OPERATION_ACTIVE,
        "C_VerifyRecoverInit beside C_VerifySignatureInit",
    );
    // C_Verify does not continue a C_VerifySignatureInit operation.
    err(
        s.verify(b"x", &sig),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Verify",
    );
    // A NULL mechanism cancels it.
    // SAFETY: NULL mechanism and signature, the cancel form.
    let r = c32!(C_VerifySignatureInit(
        s.h,
        ptr::null_mut(),
        CK_INVALID_HANDLE,
        ptr::null_mut(),
        0
    ));
    assert_eq!(r, CKR_OK, "cancel by NULL mechanism");
    err(vs_final(&s), CKR_OPERATION_NOT_INITIALIZED, "cancelled");

    // The key checks of C_VerifyInit.
    err(
        vs_init(&s, &mech, private, &sig),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "private key has no CKA_VERIFY",
    );
    err(
        vs_init(&s, &Mech::new(CKM_SHA256_HMAC), public, &sig),
        CKR_KEY_TYPE_INCONSISTENT,
        "EC key for HMAC",
    );
    err(
        vs_init(&s, &mech, 0xdead_beef, &sig),
        CKR_KEY_HANDLE_INVALID,
        "no such key",
    );
    // NULL signature with a length.
    let mut ck = mech.ck();
    let r = c32!(C_VerifySignatureInit(
        s.h,
        &mut ck,
        public,
        ptr::null_mut(),
        64
    ));
    assert_eq!(r, CKR_ARGUMENTS_BAD);
}

#[test]
fn verify_signature_ed25519() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_EC_EDWARDS_KEY_PAIR_GEN),
            Tmpl::new()
                .bytes(CKA_EC_PARAMS, common::mech::ED25519_OID)
                .bool(CKA_VERIFY, true)
                .bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_SIGN, true).bool(CKA_TOKEN, false),
        ),
        "Ed25519 pair",
    );
    let mech = Mech::new(CKM_EDDSA);
    let sig = ok(
        s.sign_once(&mech, private, b"PKCS#11 3.2 verify-signature"),
        "sign",
    );
    // CKM_EDDSA takes several parts here (the message is buffered).
    verify_signature_cases(&s, &mech, public, &sig, true);
}

/// A signature-first verification is neither saved by
/// C_GetOperationState nor left behind by C_SessionCancel(CKF_VERIFY).
#[test]
fn verify_signature_state_and_cancel() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(ec(&s, P256_PARAMS, "p256", false, |t| t), "P-256 pair");
    let mech = Mech::new(CKM_ECDSA_SHA256);
    let sig = ok(s.sign_once(&mech, private, b"data"), "sign");
    ok(vs_init(&s, &mech, public, &sig), "init");
    ok(vs_update(&s, b"da"), "update");
    let mut len: CK_ULONG = 0;
    let f = m.f().C_GetOperationState.expect("C_GetOperationState");
    // SAFETY: NULL buffer asks for the length.
    let r = unsafe { f(s.h, ptr::null_mut(), &mut len) };
    assert_eq!(r, CKR_STATE_UNSAVEABLE);
    ok(vs_update(&s, b"ta"), "still active after the refusal");
    ok(s.session_cancel(CKF_VERIFY), "C_SessionCancel(CKF_VERIFY)");
    err(vs_final(&s), CKR_OPERATION_NOT_INITIALIZED, "cancelled");
    ok(vs_init(&s, &mech, public, &sig), "init again");
    ok(vs_update(&s, b"data"), "update");
    ok(vs_final(&s), "good");
}

#[test]
fn session_validation_flags() {
    let m = Module::start("");
    let s = m.ready();
    let mut flags: CK_FLAGS = 0xffff;
    let r = c32!(C_GetSessionValidationFlags(
        s.h,
        CKS_LAST_VALIDATION_OK,
        &mut flags
    ));
    assert_eq!(r, CKR_OK);
    assert_eq!(flags, 0, "no validation: no flag set");
    let r = c32!(C_GetSessionValidationFlags(
        s.h,
        CKS_LAST_VALIDATION_OK,
        ptr::null_mut()
    ));
    assert_eq!(r, CKR_ARGUMENTS_BAD);
    let r = c32!(C_GetSessionValidationFlags(
        0xdead,
        CKS_LAST_VALIDATION_OK,
        &mut flags
    ));
    assert_eq!(r, CKR_SESSION_HANDLE_INVALID);
}

#[test]
fn unsupported_3_2_functions() {
    let m = Module::start("");
    let s = m.ready();
    let mut name = *b"C_EncapsulateKey\0";
    let mut id: CK_ULONG = 0;
    let nsup = CKR_FUNCTION_NOT_SUPPORTED;
    assert_eq!(
        c32!(C_AsyncComplete(s.h, name.as_mut_ptr(), ptr::null_mut())),
        nsup
    );
    assert_eq!(c32!(C_AsyncGetID(s.h, name.as_mut_ptr(), &mut id)), nsup);
    assert_eq!(
        c32!(C_AsyncJoin(s.h, name.as_mut_ptr(), 0, ptr::null_mut(), 0)),
        nsup
    );
    assert_eq!(
        c32!(C_WrapKeyAuthenticated(
            s.h,
            ptr::null_mut(),
            0,
            0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            ptr::null_mut()
        )),
        nsup
    );
    assert_eq!(
        c32!(C_UnwrapKeyAuthenticated(
            s.h,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
            ptr::null_mut()
        )),
        nsup
    );
}

#[test]
fn before_initialize() {
    let _env = TestEnv::new();
    let mut flags: CK_FLAGS = 0;
    let r = c32!(C_GetSessionValidationFlags(
        1,
        CKS_LAST_VALIDATION_OK,
        &mut flags
    ));
    assert_eq!(r, CKR_CRYPTOKI_NOT_INITIALIZED);
    let r = c32!(C_VerifySignatureFinal(1));
    assert_eq!(r, CKR_CRYPTOKI_NOT_INITIALIZED);
    let r = c32!(C_AsyncGetID(1, ptr::null_mut(), ptr::null_mut()));
    assert_eq!(r, CKR_CRYPTOKI_NOT_INITIALIZED);
}

/// ML-DSA verifies in parts only through C_VerifySignature* (PKCS#11 3.2
/// §6.67): parts here succeed where C_VerifyUpdate is refused.
#[test]
fn verify_signature_ml_dsa_in_parts() {
    let m = Module::start("");
    let s = m.ready();
    let (public, private) = ok(
        s.generate_pair(
            &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
            Tmpl::new()
                .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44)
                .bool(CKA_VERIFY, true)
                .bool(CKA_TOKEN, false),
            Tmpl::new().bool(CKA_SIGN, true).bool(CKA_TOKEN, false),
        ),
        "ML-DSA-44 pair",
    );
    let mech = Mech::new(CKM_ML_DSA);
    let message = b"verified in parts through the 3.2 calls";
    let sig = ok(s.sign_once(&mech, private, message), "sign");
    ok(vs_init(&s, &mech, public, &sig), "C_VerifySignatureInit");
    for part in [&message[..9], &message[9..20], &message[20..]] {
        ok(vs_update(&s, part), "C_VerifySignatureUpdate");
    }
    ok(vs_final(&s), "C_VerifySignatureFinal");
    let mut bad = sig.clone();
    bad[10] ^= 1;
    ok(vs_init(&s, &mech, public, &bad), "C_VerifySignatureInit");
    ok(vs_update(&s, message), "C_VerifySignatureUpdate");
    err(vs_final(&s), CKR_SIGNATURE_INVALID, "altered signature");
    ok(s.verify_init(&mech, public), "C_VerifyInit");
    err(
        s.verify_update(message),
        CKR_FUNCTION_NOT_SUPPORTED,
        "C_VerifyUpdate",
    );
}
