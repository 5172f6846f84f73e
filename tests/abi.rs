//! The module's raw C ABI at library level: function tables and
//! interfaces, the C_Initialize/C_Finalize life cycle and its arguments,
//! library / slot / token / mechanism information with the length
//! protocol. Uses `libloading` + `cryptoki_sys` so the tests can pass NULL
//! pointers and short buffers. Session-level ABI rules are in
//! `abi_session.rs`.

#[macro_use]
mod common;

use std::ffi::{CStr, c_void};
use std::mem::offset_of;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::TestEnv;
use common::raw::*;
use cryptoki_sys::*;

fn version_of(list: *const c_void) -> (u8, u8) {
    // SAFETY: every PKCS#11 function table starts with a CK_VERSION.
    let v = unsafe { *(list as *const CK_VERSION) };
    (v.major, v.minor)
}

fn name_of(iface: &CK_INTERFACE) -> String {
    assert!(!iface.pInterfaceName.is_null(), "interface without a name");
    // SAFETY: the module gives NUL-terminated static names.
    unsafe { CStr::from_ptr(iface.pInterfaceName as *const std::ffi::c_char) }
        .to_string_lossy()
        .into_owned()
}

fn assert_table_30_complete(list: *const c_void) {
    // SAFETY: the caller checked that the table's version is 3.0.
    let t = unsafe { &*(list as *const CK_FUNCTION_LIST_3_0) };
    let (n, nulls) = count_null_slots(t, offset_of!(CK_FUNCTION_LIST_3_0, C_Initialize));
    assert_eq!(n, 92, "a 3.0 table holds 92 functions");
    assert_eq!(nulls, 0, "3.0 table has {nulls} NULL function pointers");
}

fn assert_table_32_complete(list: *const c_void) {
    // SAFETY: the caller checked that the table's version is 3.2.
    let t = unsafe { &*(list as *const CK_FUNCTION_LIST_3_2) };
    let (n, nulls) = count_null_slots(t, offset_of!(CK_FUNCTION_LIST_3_2, C_Initialize));
    assert_eq!(n, 104, "a 3.2 table holds 104 functions");
    assert_eq!(nulls, 0, "3.2 table has {nulls} NULL function pointers");
}

fn assert_table_240_complete(list: *const c_void) {
    // SAFETY: the caller checked that the table's version is 2.40.
    let t = unsafe { &*(list as *const CK_FUNCTION_LIST) };
    let (n, nulls) = count_null_slots(t, offset_of!(CK_FUNCTION_LIST, C_Initialize));
    assert_eq!(n, 68, "a 2.40 table holds 68 functions");
    assert_eq!(nulls, 0, "2.40 table has {nulls} NULL function pointers");
}

#[test]
fn get_function_list_returns_complete_2_40_table() {
    let _env = TestEnv::new();
    let get: GetFunctionList = symbol(b"C_GetFunctionList\0");
    let mut p: *mut CK_FUNCTION_LIST = ptr::null_mut();
    // SAFETY: valid out-pointer.
    assert_rv!(unsafe { get(&mut p) }, CKR_OK);
    assert!(!p.is_null());
    assert_eq!(version_of(p as *const c_void), (2, 40));
    assert_table_240_complete(p as *const c_void);
    // SAFETY: NULL is what the spec says must be rejected.
    assert_rv!(unsafe { get(ptr::null_mut()) }, CKR_ARGUMENTS_BAD);
}

#[test]
fn get_interface_list_length_protocol_and_versions() {
    let _env = TestEnv::new();
    let get: GetInterfaceList = symbol(b"C_GetInterfaceList\0");
    let mut n: CK_ULONG = 0;
    // SAFETY (all calls below): out-pointers valid for `n` entries.
    assert_rv!(
        unsafe { get(ptr::null_mut(), &mut n) },
        CKR_OK,
        "count query"
    );
    assert!(n >= 2, "need at least the 3.0 and 2.40 interfaces, got {n}");
    let empty = CK_INTERFACE {
        pInterfaceName: ptr::null_mut(),
        pFunctionList: ptr::null_mut(),
        flags: 0,
    };
    let mut buf = vec![empty; n as usize];
    let mut small: CK_ULONG = 1;
    assert_rv!(
        unsafe { get(buf.as_mut_ptr(), &mut small) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(small, n, "BUFFER_TOO_SMALL must report the needed count");
    let mut m = n;
    assert_rv!(unsafe { get(buf.as_mut_ptr(), &mut m) }, CKR_OK);
    assert_eq!(m, n);
    assert_rv!(
        unsafe { get(buf.as_mut_ptr(), ptr::null_mut()) },
        CKR_ARGUMENTS_BAD
    );

    let mut versions = Vec::new();
    for iface in &buf {
        if name_of(iface) != "PKCS 11" {
            continue;
        }
        assert!(!iface.pFunctionList.is_null());
        let v = version_of(iface.pFunctionList);
        match v {
            (3, 2) => assert_table_32_complete(iface.pFunctionList),
            (3, 0) => assert_table_30_complete(iface.pFunctionList),
            (2, 40) => assert_table_240_complete(iface.pFunctionList),
            other => panic!("unexpected interface version {other:?}"),
        }
        versions.push(v);
    }
    assert!(versions.contains(&(3, 2)), "3.2 not offered: {versions:?}");
    assert!(versions.contains(&(3, 0)), "3.0 not offered: {versions:?}");
    assert!(
        versions.contains(&(2, 40)),
        "2.40 not offered: {versions:?}"
    );
}

/// C_GetInterface with the given name/version/flags: rv and the table.
fn get_interface(
    name: Option<&str>,
    version: Option<(u8, u8)>,
    flags: CK_FLAGS,
) -> (CK_RV, *const c_void) {
    let get: GetInterface = symbol(b"C_GetInterface\0");
    let mut name_buf: Vec<u8> = name
        .map(|n| [n.as_bytes(), b"\0"].concat())
        .unwrap_or_default();
    let name_ptr = if name.is_some() {
        name_buf.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let mut ver = version.map(|(major, minor)| CK_VERSION { major, minor });
    let ver_ptr = ver
        .as_mut()
        .map_or(ptr::null_mut(), |v| v as *mut CK_VERSION);
    let mut iface: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: pointers are NULL or valid for the call.
    let rv = unsafe { get(name_ptr, ver_ptr, &mut iface, flags) };
    if rv != CKR_OK {
        return (rv, ptr::null());
    }
    assert!(!iface.is_null());
    // SAFETY: CKR_OK gives a valid CK_INTERFACE.
    let iface = unsafe { &*iface };
    assert_eq!(name_of(iface), "PKCS 11");
    (rv, iface.pFunctionList as *const c_void)
}

#[test]
fn get_interface_selects_by_name_version_and_flags() {
    let _env = TestEnv::new();
    let (rv, t) = get_interface(None, None, 0);
    assert_rv!(rv, CKR_OK, "default interface");
    assert_eq!(version_of(t), (3, 2), "default interface must be 3.2");

    let (rv, t) = get_interface(Some("PKCS 11"), None, 0);
    assert_rv!(rv, CKR_OK);
    assert_eq!(version_of(t), (3, 2));

    let (rv, t) = get_interface(Some("PKCS 11"), Some((3, 0)), 0);
    assert_rv!(rv, CKR_OK);
    assert_eq!(version_of(t), (3, 0));
    assert_table_30_complete(t);

    let (rv, t) = get_interface(None, Some((2, 40)), 0);
    assert_rv!(rv, CKR_OK, "2.40 by version only");
    assert_eq!(version_of(t), (2, 40));
    assert_table_240_complete(t);

    let (rv, t) = get_interface(Some("PKCS 11"), Some((2, 40)), 0);
    assert_rv!(rv, CKR_OK);
    assert_eq!(version_of(t), (2, 40));

    let (rv, _) = get_interface(Some("Vendor Nope"), None, 0);
    assert_ne!(rv, CKR_OK, "unknown interface name must fail");
    let (rv, _) = get_interface(None, Some((3, 1)), 0);
    assert_ne!(rv, CKR_OK, "version 3.1 is not offered");
    let (rv, _) = get_interface(None, None, CKF_INTERFACE_FORK_SAFE);
    assert_ne!(rv, CKR_OK, "fork-safe interface is not offered");

    let get: GetInterface = symbol(b"C_GetInterface\0");
    // SAFETY: NULL ppInterface is the case under test.
    let rv = unsafe { get(ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), 0) };
    assert_rv!(rv, CKR_ARGUMENTS_BAD);
}

#[test]
fn calls_before_initialize_are_rejected() {
    let _env = TestEnv::new();
    let f = f30();
    let mut info = CK_INFO::default();
    assert_rv!(ck!(f, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut n: CK_ULONG = 0;
    assert_rv!(
        ck!(f, C_GetSlotList(CK_FALSE, ptr::null_mut(), &mut n)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let mut si = CK_SLOT_INFO::default();
    assert_rv!(
        ck!(f, C_GetSlotInfo(0, &mut si)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let mut ti = CK_TOKEN_INFO::default();
    assert_rv!(
        ck!(f, C_GetTokenInfo(0, &mut ti)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_rv!(
        ck!(f, C_GetMechanismList(0, ptr::null_mut(), &mut n)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    let mut h: CK_SESSION_HANDLE = 0;
    assert_rv!(
        ck!(
            f,
            C_OpenSession(0, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut h)
        ),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_rv!(ck!(f, C_CloseAllSessions(0)), CKR_CRYPTOKI_NOT_INITIALIZED);
    let mut buf = [0u8; 16];
    assert_rv!(
        ck!(f, C_GenerateRandom(1, buf.as_mut_ptr(), 16)),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_rv!(
        ck!(f, C_Finalize(ptr::null_mut())),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
}

#[test]
fn initialize_and_finalize_life_cycle() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    assert_rv!(
        ck!(f, C_Initialize(ptr::null_mut())),
        CKR_CRYPTOKI_ALREADY_INITIALIZED
    );
    let mut dummy = 0u8;
    assert_rv!(
        ck!(f, C_Finalize((&mut dummy as *mut u8).cast())),
        CKR_ARGUMENTS_BAD,
        "C_Finalize(pReserved != NULL)"
    );
    let mut info = CK_INFO::default();
    assert_rv!(
        ck!(f, C_GetInfo(&mut info)),
        CKR_OK,
        "still initialized after a bad C_Finalize"
    );
    assert_rv!(ck!(f, C_Finalize(ptr::null_mut())), CKR_OK);
    assert_rv!(
        ck!(f, C_Finalize(ptr::null_mut())),
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
    assert_rv!(ck!(f, C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
    // And it can start again in the same process.
    assert_rv!(
        ck!(f, C_Initialize(ptr::null_mut())),
        CKR_OK,
        "re-initialize"
    );
    assert_rv!(ck!(f, C_GetInfo(&mut info)), CKR_OK);
    drop(init); // finalizes
    assert_not_initialized(f);
}

static MUTEXES_ALIVE: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn create_mutex(pp: *mut *mut c_void) -> CK_RV {
    if pp.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    MUTEXES_ALIVE.fetch_add(1, Ordering::SeqCst);
    // SAFETY: pp checked non-NULL; the module owns the new mutex.
    unsafe { *pp = Box::into_raw(Box::new(AtomicBool::new(false))).cast() };
    CKR_OK
}

unsafe extern "C" fn destroy_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    MUTEXES_ALIVE.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: p came from create_mutex.
    drop(unsafe { Box::from_raw(p.cast::<AtomicBool>()) });
    CKR_OK
}

unsafe extern "C" fn lock_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: p came from create_mutex and is alive.
    let m = unsafe { &*p.cast::<AtomicBool>() };
    while m
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    CKR_OK
}

unsafe extern "C" fn unlock_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: p came from create_mutex and is alive.
    let m = unsafe { &*p.cast::<AtomicBool>() };
    if m.swap(false, Ordering::Release) {
        CKR_OK
    } else {
        CKR_MUTEX_NOT_LOCKED
    }
}

fn init_args(callbacks: bool, flags: CK_FLAGS) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: callbacks.then_some(create_mutex as unsafe extern "C" fn(_) -> _),
        DestroyMutex: callbacks.then_some(destroy_mutex as unsafe extern "C" fn(_) -> _),
        LockMutex: callbacks.then_some(lock_mutex as unsafe extern "C" fn(_) -> _),
        UnlockMutex: callbacks.then_some(unlock_mutex as unsafe extern "C" fn(_) -> _),
        flags,
        pReserved: ptr::null_mut(),
    }
}

/// Calls C_Finalize on drop, ignoring the result.
struct Finalizer(&'static CK_FUNCTION_LIST_3_0);

impl Drop for Finalizer {
    fn drop(&mut self) {
        let _ = ck!(self.0, C_Finalize(ptr::null_mut()));
    }
}

fn initialize_with(f: &CK_FUNCTION_LIST_3_0, args: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
    ck!(f, C_Initialize((args as *mut CK_C_INITIALIZE_ARGS).cast()))
}

fn assert_not_initialized(f: &CK_FUNCTION_LIST_3_0) {
    let mut info = CK_INFO::default();
    assert_rv!(
        ck!(f, C_GetInfo(&mut info)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "after a refused C_Initialize"
    );
}

fn finalize_ok(f: &CK_FUNCTION_LIST_3_0) {
    assert_rv!(ck!(f, C_Finalize(ptr::null_mut())), CKR_OK, "C_Finalize");
}

#[test]
fn initialize_argument_rules() {
    let _env = TestEnv::new();
    let f = f30();
    // Leave the module finalized even if an assertion below fails.
    let _cleanup = Finalizer(f);

    let mut reserved = 0u8;
    let mut a = init_args(false, 0);
    a.pReserved = (&mut reserved as *mut u8).cast();
    assert_rv!(
        initialize_with(f, &mut a),
        CKR_ARGUMENTS_BAD,
        "pReserved != NULL"
    );
    assert_not_initialized(f);

    // NSS passes its callbacks plus both flags.
    let mut a = init_args(true, CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS);
    assert_rv!(
        initialize_with(f, &mut a),
        CKR_OK,
        "callbacks + OS locking (NSS style)"
    );
    init_token(f);
    let h = open_session(f, false);
    let mut buf = [0u8; 8];
    assert_rv!(ck!(f, C_GenerateRandom(h, buf.as_mut_ptr(), 8)), CKR_OK);
    finalize_ok(f);
    assert_eq!(
        MUTEXES_ALIVE.load(Ordering::SeqCst),
        0,
        "every created mutex destroyed"
    );

    let mut a = init_args(true, 0);
    assert_rv!(
        initialize_with(f, &mut a),
        CKR_CANT_LOCK,
        "callbacks without OS locking"
    );
    assert_not_initialized(f);

    let mut a = init_args(true, CKF_OS_LOCKING_OK);
    a.LockMutex = None;
    a.UnlockMutex = None;
    assert_rv!(
        initialize_with(f, &mut a),
        CKR_ARGUMENTS_BAD,
        "only some callbacks"
    );
    assert_not_initialized(f);

    let mut a = init_args(false, CKF_OS_LOCKING_OK);
    assert_rv!(initialize_with(f, &mut a), CKR_OK, "OS locking only");
    finalize_ok(f);
    let mut a = init_args(false, 0);
    assert_rv!(initialize_with(f, &mut a), CKR_OK, "no locking requested");
    finalize_ok(f);
    let mut a = init_args(false, CKF_LIBRARY_CANT_CREATE_OS_THREADS);
    assert_rv!(initialize_with(f, &mut a), CKR_OK, "can't create threads");
    finalize_ok(f);
}

#[test]
fn get_info_reports_version_3_2() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let mut info = CK_INFO::default();
    assert_rv!(ck!(f, C_GetInfo(&mut info)), CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (3, 2)
    );
    assert_eq!(info.flags, 0, "CK_INFO.flags is reserved (zero)");
    assert_padded(&info.manufacturerID, "CK_INFO.manufacturerID");
    assert_padded(&info.libraryDescription, "CK_INFO.libraryDescription");
    assert!(!trimmed(&info.manufacturerID).is_empty());
    assert!(!trimmed(&info.libraryDescription).is_empty());
    assert_rv!(ck!(f, C_GetInfo(ptr::null_mut())), CKR_ARGUMENTS_BAD);
}

#[test]
fn slot_list_length_protocol_and_bad_slot() {
    let _env = TestEnv::with_config(
        "[[slot]]\nid = 0\n\n[[slot]]\nid = 7\ndescription = \"Second slot\"\n",
    );
    let init = Init::new();
    let f = init.f;
    for present in [CK_FALSE, CK_TRUE] {
        let mut n: CK_ULONG = 0;
        assert_rv!(
            ck!(f, C_GetSlotList(present, ptr::null_mut(), &mut n)),
            CKR_OK
        );
        assert_eq!(n, 2, "two configured slots (tokenPresent={present})");
        let mut ids = [CK_ULONG::MAX; 2];
        let mut small: CK_ULONG = 1;
        assert_rv!(
            ck!(f, C_GetSlotList(present, ids.as_mut_ptr(), &mut small)),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(small, 2, "needed count written on BUFFER_TOO_SMALL");
        let mut full: CK_ULONG = 2;
        assert_rv!(
            ck!(f, C_GetSlotList(present, ids.as_mut_ptr(), &mut full)),
            CKR_OK
        );
        assert_eq!(full, 2);
        let mut sorted = ids;
        sorted.sort();
        assert_eq!(sorted, [0, 7]);
    }
    let mut n: CK_ULONG = 0;
    assert_rv!(
        ck!(f, C_GetSlotList(CK_FALSE, ptr::null_mut(), ptr::null_mut())),
        CKR_ARGUMENTS_BAD
    );

    let mut si = CK_SLOT_INFO::default();
    assert_rv!(ck!(f, C_GetSlotInfo(7, &mut si)), CKR_OK);
    assert_padded(&si.slotDescription, "slotDescription");
    assert_padded(&si.manufacturerID, "slot manufacturerID");
    assert!(trimmed(&si.slotDescription).starts_with("Second slot"));
    assert_ne!(si.flags & CKF_TOKEN_PRESENT, 0, "token present");
    assert_eq!(si.flags & CKF_REMOVABLE_DEVICE, 0, "not removable");

    let mut ti = CK_TOKEN_INFO::default();
    let mut h: CK_SESSION_HANDLE = 0;
    let mut mi = CK_MECHANISM_INFO::default();
    assert_rv!(ck!(f, C_GetSlotInfo(99, &mut si)), CKR_SLOT_ID_INVALID);
    assert_rv!(ck!(f, C_GetTokenInfo(99, &mut ti)), CKR_SLOT_ID_INVALID);
    assert_rv!(
        ck!(f, C_GetMechanismList(99, ptr::null_mut(), &mut n)),
        CKR_SLOT_ID_INVALID
    );
    assert_rv!(
        ck!(f, C_GetMechanismInfo(99, CKM_SHA256, &mut mi)),
        CKR_SLOT_ID_INVALID
    );
    assert_rv!(
        ck!(
            f,
            C_OpenSession(99, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut h)
        ),
        CKR_SLOT_ID_INVALID
    );
    assert_rv!(ck!(f, C_CloseAllSessions(99)), CKR_SLOT_ID_INVALID);

    // Tokens are per slot: initializing slot 7 leaves slot 0 alone.
    let mut so = common::SO_PIN.as_bytes().to_vec();
    let mut label = padded32("second");
    assert_rv!(
        ck!(
            f,
            C_InitToken(7, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
        ),
        CKR_OK
    );
    assert_rv!(ck!(f, C_GetTokenInfo(7, &mut ti)), CKR_OK);
    assert_ne!(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(trimmed(&ti.label), "second");
    assert_rv!(ck!(f, C_GetTokenInfo(0, &mut ti)), CKR_OK);
    assert_eq!(ti.flags & CKF_TOKEN_INITIALIZED, 0, "slot 0 untouched");
}

fn token_info(f: &CK_FUNCTION_LIST_3_0) -> CK_TOKEN_INFO {
    let mut ti = CK_TOKEN_INFO::default();
    assert_rv!(ck!(f, C_GetTokenInfo(0, &mut ti)), CKR_OK);
    for (field, what) in [
        (&ti.label[..], "label"),
        (&ti.manufacturerID[..], "manufacturerID"),
        (&ti.model[..], "model"),
        (&ti.serialNumber[..], "serialNumber"),
    ] {
        assert_padded(field, what);
    }
    ti
}

#[test]
fn token_info_fields_and_flags() {
    let _env = TestEnv::new();
    let mut init = Init::new();
    let f = init.f;
    let ti = token_info(f);
    assert_eq!(trimmed(&ti.manufacturerID), "Keyward");
    assert!(
        !trimmed(&ti.serialNumber).is_empty(),
        "serial number is blank"
    );
    assert_eq!(ti.flags & CKF_TOKEN_INITIALIZED, 0, "starts uninitialized");
    assert_eq!(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    for (flag, name) in [
        (CKF_RNG, "CKF_RNG"),
        (CKF_LOGIN_REQUIRED, "CKF_LOGIN_REQUIRED"),
        (CKF_RESTORE_KEY_NOT_NEEDED, "CKF_RESTORE_KEY_NOT_NEEDED"),
    ] {
        assert_ne!(ti.flags & flag, 0, "{name} missing");
    }
    assert_eq!(ti.flags & CKF_WRITE_PROTECTED, 0);
    assert_eq!(ti.ulMinPinLen, 4);
    assert_eq!(ti.ulMaxPinLen, 64);

    let _h = user_session(f);
    let ti = token_info(f);
    assert_ne!(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_ne!(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_eq!(trimmed(&ti.label), "abi-token");
    assert!(ti.ulSessionCount == 1 || ti.ulSessionCount == CK_UNAVAILABLE_INFORMATION);
    let serial = ti.serialNumber;

    // The serial number is stable across a restart.
    assert_rv!(ck!(f, C_Finalize(ptr::null_mut())), CKR_OK);
    init.forget();
    let _init2 = Init::new();
    let ti = token_info(f);
    assert_eq!(
        ti.serialNumber, serial,
        "serial changed across C_Finalize/C_Initialize"
    );
    assert_ne!(
        ti.flags & CKF_USER_PIN_INITIALIZED,
        0,
        "PIN state persisted"
    );
}

fn mech_info(f: &CK_FUNCTION_LIST_3_0, m: CK_MECHANISM_TYPE) -> CK_MECHANISM_INFO {
    let mut mi = CK_MECHANISM_INFO::default();
    assert_rv!(
        ck!(f, C_GetMechanismInfo(0, m, &mut mi)),
        CKR_OK,
        "mechanism {m:#x}"
    );
    assert_eq!(mi.flags & CKF_HW, 0, "mechanism {m:#x} claims CKF_HW");
    mi
}

#[track_caller]
fn assert_flags(mi: &CK_MECHANISM_INFO, want: CK_FLAGS, what: &str) {
    assert_eq!(
        mi.flags & want,
        want,
        "{what}: flags {:#x} lack {want:#x}",
        mi.flags
    );
}

#[test]
fn mechanism_list_and_info() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let mut n: CK_ULONG = 0;
    assert_rv!(
        ck!(f, C_GetMechanismList(0, ptr::null_mut(), &mut n)),
        CKR_OK
    );
    let mut list = vec![0 as CK_MECHANISM_TYPE; n as usize];
    let mut small: CK_ULONG = 1;
    assert_rv!(
        ck!(f, C_GetMechanismList(0, list.as_mut_ptr(), &mut small)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(small, n);
    assert_rv!(
        ck!(f, C_GetMechanismList(0, list.as_mut_ptr(), &mut n)),
        CKR_OK
    );
    let expected = [
        CKM_AES_KEY_GEN,
        CKM_GENERIC_SECRET_KEY_GEN,
        CKM_EC_KEY_PAIR_GEN,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
        CKM_RSA_PKCS,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_RSA_PKCS_PSS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_SHA_1_HMAC,
        CKM_SHA224_HMAC,
        CKM_SHA256_HMAC,
        CKM_SHA384_HMAC,
        CKM_SHA512_HMAC,
        CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC_GENERAL,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
    ];
    for m in expected {
        assert!(
            list.contains(&m),
            "mechanism {m:#x} missing from C_GetMechanismList"
        );
    }
    for &m in &list {
        mech_info(f, m);
    }

    let sv = CKF_SIGN | CKF_VERIFY;
    for m in [
        CKM_ECDSA,
        CKM_ECDSA_SHA256,
        CKM_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA256_HMAC,
    ] {
        let mi = mech_info(f, m);
        assert_flags(&mi, sv, "sign/verify mechanism");
        assert_eq!(
            mi.flags & (CKF_DIGEST | CKF_GENERATE | CKF_GENERATE_KEY_PAIR),
            0
        );
    }
    let ec = mech_info(f, CKM_ECDSA);
    assert!(
        ec.ulMinKeySize <= 256 && ec.ulMaxKeySize >= 384,
        "ECDSA key sizes {ec:?}"
    );
    let sha = mech_info(f, CKM_SHA256);
    assert_flags(&sha, CKF_DIGEST, "SHA256");
    assert_eq!(sha.flags & sv, 0);
    assert_flags(&mech_info(f, CKM_AES_KEY_GEN), CKF_GENERATE, "AES_KEY_GEN");
    assert_flags(
        &mech_info(f, CKM_GENERIC_SECRET_KEY_GEN),
        CKF_GENERATE,
        "GENERIC_SECRET_KEY_GEN",
    );
    let aes = mech_info(f, CKM_AES_KEY_GEN);
    assert!(
        aes.ulMinKeySize <= 16 && aes.ulMaxKeySize >= 32,
        "AES sizes are bytes: {aes:?}"
    );
    let ecg = mech_info(f, CKM_EC_KEY_PAIR_GEN);
    assert_flags(&ecg, CKF_GENERATE_KEY_PAIR, "EC_KEY_PAIR_GEN");
    assert!(
        ecg.ulMinKeySize <= 256 && ecg.ulMaxKeySize >= 384,
        "EC sizes {ecg:?}"
    );
    let rsag = mech_info(f, CKM_RSA_PKCS_KEY_PAIR_GEN);
    assert_flags(&rsag, CKF_GENERATE_KEY_PAIR, "RSA_PKCS_KEY_PAIR_GEN");
    assert_eq!((rsag.ulMinKeySize, rsag.ulMaxKeySize), (2048, 4096));

    let mut mi = CK_MECHANISM_INFO::default();
    for unknown in [CKM_MD5, CKM_DES_KEY_GEN, CKM_VENDOR_DEFINED | 0x1234] {
        assert_rv!(
            ck!(f, C_GetMechanismInfo(0, unknown, &mut mi)),
            CKR_MECHANISM_INVALID,
            "{unknown:#x}"
        );
    }
}
