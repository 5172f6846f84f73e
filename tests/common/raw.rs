//! Raw C-ABI access to `libkeyward.so` for tests that must pass NULL
//! pointers, short buffers or odd templates: the module loaded with
//! `libloading`, its PKCS#11 3.0 function table, a template builder and
//! helpers that bring a token to a logged-in user session.

#![allow(dead_code, unused_macros)]

use std::ptr;
use std::sync::OnceLock;

use cryptoki_sys::*;
use libloading::Library;

use super::{SO_PIN, USER_PIN};

/// Call one entry of a function table: `ck!(f, C_GetInfo(&mut info))`.
macro_rules! ck {
    ($f:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = $f.$name.expect(concat!(stringify!($name), " is NULL"));
        // SAFETY: the test passes arguments valid for this PKCS#11 call
        // (or deliberately NULL where the spec says it must be rejected).
        #[allow(unused_unsafe)]
        unsafe { func($($arg),*) }
    }};
}

/// Assert a CK_RV, naming both codes on failure.
macro_rules! assert_rv {
    ($got:expr, $want:expr $(,)?) => {{
        let got: cryptoki_sys::CK_RV = $got;
        let want: cryptoki_sys::CK_RV = $want;
        assert!(
            got == want,
            "expected {} ({:#x}), got {} ({:#x})",
            $crate::common::raw::rv_name(want),
            want,
            $crate::common::raw::rv_name(got),
            got
        );
    }};
    ($got:expr, $want:expr, $($msg:tt)+) => {{
        let got: cryptoki_sys::CK_RV = $got;
        let want: cryptoki_sys::CK_RV = $want;
        assert!(
            got == want,
            "{}: expected {} ({:#x}), got {} ({:#x})",
            format!($($msg)+),
            $crate::common::raw::rv_name(want),
            want,
            $crate::common::raw::rv_name(got),
            got
        );
    }};
}

/// Readable names for the codes these tests meet: the module's own table
/// (`keyward::error::rv_name`), so the tests print what the trace and the
/// audit trail print.
pub fn rv_name(rv: CK_RV) -> &'static str {
    keyward::error::rv_name(rv).unwrap_or("(other)")
}

/// The module, loaded once per process and never unloaded.
pub fn library() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: loading our own cdylib; its initialisers have no
        // preconditions.
        unsafe { Library::new(super::lib_path()) }.expect("dlopen libkeyward.so")
    })
}

pub type GetFunctionList = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;
pub type GetInterfaceList = unsafe extern "C" fn(*mut CK_INTERFACE, *mut CK_ULONG) -> CK_RV;
pub type GetInterface = unsafe extern "C" fn(
    *mut CK_UTF8CHAR,
    *mut CK_VERSION,
    *mut *mut CK_INTERFACE,
    CK_FLAGS,
) -> CK_RV;

/// An exported symbol of the module.
pub fn symbol<T: Copy>(name: &[u8]) -> T {
    // SAFETY: the caller names the C type of a PKCS#11 entry point.
    let sym = unsafe { library().get::<T>(name) }
        .unwrap_or_else(|e| panic!("symbol {} missing: {e}", String::from_utf8_lossy(name)));
    *sym
}

/// The default function table via C_GetInterface(NULL, NULL, ..), used as
/// a 3.0 table (the default is 3.2, whose table begins with the 3.0 one:
/// this is how a client built against 3.0 headers sees it).
pub fn f30() -> &'static CK_FUNCTION_LIST_3_0 {
    let get: GetInterface = symbol(b"C_GetInterface\0");
    let mut iface: *mut CK_INTERFACE = ptr::null_mut();
    // SAFETY: valid out-pointer; NULL name/version select the default.
    let rv = unsafe { get(ptr::null_mut(), ptr::null_mut(), &mut iface, 0) };
    assert_eq!(rv, CKR_OK, "C_GetInterface(NULL, NULL)");
    assert!(!iface.is_null());
    // SAFETY: the module returned a pointer to a static CK_INTERFACE whose
    // table for the default interface is a CK_FUNCTION_LIST_3_0.
    unsafe {
        let list = (*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0;
        assert!(!list.is_null());
        &*list
    }
}

/// Every function pointer slot of a table laid out as `CK_VERSION` then
/// N pointers: returns (N, how many are NULL).
pub fn count_null_slots<T>(table: &T, first_fn_offset: usize) -> (usize, usize) {
    let size = std::mem::size_of::<T>();
    let ptr_size = std::mem::size_of::<usize>();
    assert_eq!((size - first_fn_offset) % ptr_size, 0);
    let n = (size - first_fn_offset) / ptr_size;
    let base = (table as *const T).cast::<u8>();
    let mut nulls = 0;
    for i in 0..n {
        // SAFETY: reading pointer-sized, pointer-aligned fields inside `T`.
        let v = unsafe { ptr::read(base.add(first_fn_offset + i * ptr_size).cast::<usize>()) };
        if v == 0 {
            nulls += 1;
        }
    }
    (n, nulls)
}

pub use super::tmpl::Tmpl;

pub fn mech(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    }
}

/// A 32-byte, space-padded label.
pub fn padded32(s: &str) -> [u8; 32] {
    let mut out = [b' '; 32];
    out[..s.len()].copy_from_slice(s.as_bytes());
    out
}

/// C_Initialize(NULL) and C_Finalize(NULL) on drop. Create it after the
/// `TestEnv` so the module is finalized before the lock is released.
pub struct Init {
    pub f: &'static CK_FUNCTION_LIST_3_0,
    active: bool,
}

impl Init {
    pub fn new() -> Self {
        let f = f30();
        assert_rv!(
            ck!(f, C_Initialize(ptr::null_mut())),
            CKR_OK,
            "C_Initialize"
        );
        Init { f, active: true }
    }

    /// The test finalized the module itself.
    pub fn forget(&mut self) {
        self.active = false;
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        if self.active {
            let _ = ck!(self.f, C_Finalize(ptr::null_mut()));
        }
    }
}

pub fn open_session(f: &CK_FUNCTION_LIST_3_0, rw: bool) -> CK_SESSION_HANDLE {
    let mut h: CK_SESSION_HANDLE = 0;
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    assert_rv!(
        ck!(f, C_OpenSession(0, flags, ptr::null_mut(), None, &mut h)),
        CKR_OK,
        "C_OpenSession"
    );
    h
}

pub fn login(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: &str,
) -> CK_RV {
    let mut p = pin.as_bytes().to_vec();
    ck!(f, C_Login(h, user, p.as_mut_ptr(), p.len() as CK_ULONG))
}

/// C_InitToken on slot 0 with the SO PIN and label "abi-token". Tests open
/// sessions only on initialized tokens: whether an uninitialized token
/// accepts sessions is left open by the spec.
pub fn init_token(f: &CK_FUNCTION_LIST_3_0) {
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut label = padded32("abi-token");
    assert_rv!(
        ck!(
            f,
            C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
        ),
        CKR_OK,
        "C_InitToken"
    );
}

/// Init token (SO PIN), set the user PIN, and return an R/W session
/// logged in as the user.
pub fn user_session(f: &CK_FUNCTION_LIST_3_0) -> CK_SESSION_HANDLE {
    init_token(f);
    let h = open_session(f, true);
    assert_rv!(login(f, h, CKU_SO, SO_PIN), CKR_OK, "SO login");
    let mut up = USER_PIN.as_bytes().to_vec();
    assert_rv!(
        ck!(f, C_InitPIN(h, up.as_mut_ptr(), up.len() as CK_ULONG)),
        CKR_OK,
        "C_InitPIN"
    );
    assert_rv!(ck!(f, C_Logout(h)), CKR_OK, "SO logout");
    assert_rv!(login(f, h, CKU_USER, USER_PIN), CKR_OK, "user login");
    h
}

pub fn generate_key(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    mech_ty: CK_MECHANISM_TYPE,
    mut t: Tmpl,
) -> CK_OBJECT_HANDLE {
    let mut m = mech(mech_ty);
    let (p, n) = t.as_mut();
    let mut k: CK_OBJECT_HANDLE = 0;
    assert_rv!(
        ck!(f, C_GenerateKey(h, &mut m, p, n, &mut k)),
        CKR_OK,
        "C_GenerateKey"
    );
    k
}

/// Session-object P-256 key pair usable for ECDSA: (public, private).
pub fn p256_pair(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut pubt = Tmpl::new()
        .bytes(CKA_EC_PARAMS, super::P256_PARAMS)
        .bool(CKA_VERIFY, true)
        .bool(CKA_TOKEN, false);
    let mut privt = Tmpl::new().bool(CKA_SIGN, true).bool(CKA_TOKEN, false);
    let (pp, pn) = pubt.as_mut();
    let (sp, sn) = privt.as_mut();
    let (mut pubk, mut privk) = (0, 0);
    assert_rv!(
        ck!(
            f,
            C_GenerateKeyPair(h, &mut m, pp, pn, sp, sn, &mut pubk, &mut privk)
        ),
        CKR_OK,
        "C_GenerateKeyPair(P-256)"
    );
    (pubk, privk)
}

/// Read one attribute with the two-call length protocol.
pub fn get_attr(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> Vec<u8> {
    let mut a = CK_ATTRIBUTE {
        type_: ty,
        pValue: ptr::null_mut(),
        ulValueLen: 0,
    };
    assert_rv!(
        ck!(f, C_GetAttributeValue(h, o, &mut a, 1)),
        CKR_OK,
        "length of {ty:#x}"
    );
    let mut buf = vec![0u8; a.ulValueLen as usize];
    a.pValue = buf.as_mut_ptr().cast();
    assert_rv!(
        ck!(f, C_GetAttributeValue(h, o, &mut a, 1)),
        CKR_OK,
        "value of {ty:#x}"
    );
    buf.truncate(a.ulValueLen as usize);
    buf
}

/// Fixed-size text field: printable, space-padded, no NUL.
#[track_caller]
pub fn assert_padded(field: &[u8], what: &str) {
    assert!(
        !field.contains(&0),
        "{what} contains NUL: {:?}",
        String::from_utf8_lossy(field)
    );
    assert!(
        std::str::from_utf8(field).is_ok(),
        "{what} is not UTF-8: {field:?}"
    );
}

pub fn trimmed(field: &[u8]) -> String {
    String::from_utf8_lossy(field)
        .trim_end_matches(' ')
        .to_string()
}
