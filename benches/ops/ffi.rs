//! A PKCS#11 module driven through its raw C function list, the way a
//! careful C application drives it: `C_GetFunctionList` from the loaded
//! library, preallocated buffers, every CK_RV checked. Used for both
//! Keyward and SoftHSMv2 so the two columns pay exactly the same caller cost
//! (the `cryptoki` crate's wrappers add allocations and length queries that
//! are not the module's cost).

use std::path::Path;
use std::ptr;

use cryptoki_sys::*;
use libloading::Library;

/// Call one entry of a function table: `ck!(f, C_GetInfo(&mut info))`.
macro_rules! ck {
    ($f:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = $f.$name.expect(concat!(stringify!($name), " is NULL"));
        // SAFETY: the bench passes pointers to live buffers sized as the
        // PKCS#11 call requires.
        #[allow(unused_unsafe)]
        unsafe { func($($arg),*) }
    }};
}
pub(crate) use ck;

/// Panics (with the code) unless `rv` is CKR_OK: a bench that measured
/// error returns would be worthless.
#[track_caller]
pub fn ok(rv: CK_RV, what: &str) {
    assert!(rv == CKR_OK, "{what}: CK_RV {rv:#x}");
}

pub type Funcs = &'static CK_FUNCTION_LIST;

/// A loaded, initialized module with one initialized token.
pub struct Module {
    pub name: &'static str,
    pub f: Funcs,
    pub slot: CK_SLOT_ID,
    _lib: &'static Library,
}

pub const SO_PIN: &str = "so-pin-1234";
pub const USER_PIN: &str = "user-pin-1234";

impl Module {
    /// dlopen + C_GetFunctionList + C_Initialize(CKF_OS_LOCKING_OK). The
    /// library is leaked: it stays loaded for the whole process.
    pub fn load(name: &'static str, path: &Path) -> Module {
        let m = Module::dlopen(name, path);
        m.initialize();
        m
    }

    /// dlopen + C_GetFunctionList only (the cold-start row times
    /// C_Initialize on its own).
    pub fn dlopen(name: &'static str, path: &Path) -> Module {
        // SAFETY: loading a PKCS#11 module; its initialisers have no
        // preconditions.
        let lib: &'static Library = Box::leak(Box::new(
            unsafe { Library::new(path) }.expect("dlopen module"),
        ));
        type GetList = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;
        // SAFETY: the PKCS#11 symbol has this C type.
        let get: GetList =
            *unsafe { lib.get::<GetList>(b"C_GetFunctionList\0") }.expect("C_GetFunctionList");
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: valid out-pointer.
        ok(unsafe { get(&mut list) }, "C_GetFunctionList");
        assert!(!list.is_null());
        // SAFETY: the module hands out a static table.
        let f: Funcs = unsafe { &*list };
        Module {
            name,
            f,
            slot: 0,
            _lib: lib,
        }
    }

    /// C_Initialize(CKF_OS_LOCKING_OK), as multi-threaded callers do.
    pub fn initialize(&self) {
        let f = self.f;
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: ptr::null_mut(),
        };
        ok(
            ck!(
                f,
                C_Initialize((&mut args as *mut CK_C_INITIALIZE_ARGS).cast())
            ),
            "C_Initialize",
        );
    }

    /// C_Finalize(NULL).
    pub fn finalize(&self) {
        ok(ck!(self.f, C_Finalize(ptr::null_mut())), "C_Finalize");
    }

    /// Slots with a token present.
    pub fn slots(&self) -> Vec<CK_SLOT_ID> {
        let mut n: CK_ULONG = 0;
        ok(
            ck!(self.f, C_GetSlotList(CK_TRUE, ptr::null_mut(), &mut n)),
            "C_GetSlotList",
        );
        let mut v = vec![0; n as usize];
        ok(
            ck!(self.f, C_GetSlotList(CK_TRUE, v.as_mut_ptr(), &mut n)),
            "C_GetSlotList",
        );
        v.truncate(n as usize);
        v
    }

    /// The slot whose initialized token carries `label`.
    pub fn find_token(&self, label: &str) -> Option<CK_SLOT_ID> {
        let want = padded32(label);
        self.slots().into_iter().find(|&s| {
            // SAFETY: CK_TOKEN_INFO is plain old data.
            let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
            ck!(self.f, C_GetTokenInfo(s, &mut info)) == CKR_OK
                && info.flags & CKF_TOKEN_INITIALIZED != 0
                && info.label == want
        })
    }

    /// C_InitToken on the first token slot, user PIN set; returns a R/W
    /// session logged in as the user. SoftHSMv2 moves a freshly
    /// initialized token to a new slot id, hence the lookup by label.
    pub fn init_token(&mut self, label: &str) -> CK_SESSION_HANDLE {
        let first = self.slots()[0];
        let mut so = SO_PIN.as_bytes().to_vec();
        let mut lab = padded32(label);
        ok(
            ck!(
                self.f,
                C_InitToken(
                    first,
                    so.as_mut_ptr(),
                    so.len() as CK_ULONG,
                    lab.as_mut_ptr()
                )
            ),
            "C_InitToken",
        );
        self.slot = self.find_token(label).expect("initialized token");
        let h = self.open(true);
        self.login(h, CKU_SO, SO_PIN);
        let mut up = USER_PIN.as_bytes().to_vec();
        ok(
            ck!(self.f, C_InitPIN(h, up.as_mut_ptr(), up.len() as CK_ULONG)),
            "C_InitPIN",
        );
        ok(ck!(self.f, C_Logout(h)), "C_Logout");
        self.login(h, CKU_USER, USER_PIN);
        h
    }

    pub fn open(&self, rw: bool) -> CK_SESSION_HANDLE {
        open(self.f, self.slot, rw)
    }

    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &str) {
        let mut p = pin.as_bytes().to_vec();
        ok(
            ck!(
                self.f,
                C_Login(h, user, p.as_mut_ptr(), p.len() as CK_ULONG)
            ),
            "C_Login",
        );
    }
}

pub fn open(f: Funcs, slot: CK_SLOT_ID, rw: bool) -> CK_SESSION_HANDLE {
    let mut h: CK_SESSION_HANDLE = 0;
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    ok(
        ck!(f, C_OpenSession(slot, flags, ptr::null_mut(), None, &mut h)),
        "C_OpenSession",
    );
    h
}

/// A 32-byte, space-padded label.
pub fn padded32(s: &str) -> [u8; 32] {
    let mut out = [b' '; 32];
    out[..s.len()].copy_from_slice(s.as_bytes());
    out
}

#[path = "../../tests/common/tmpl.rs"]
mod tmpl;
pub use tmpl::Tmpl;

/// A mechanism with its parameter bytes kept alive beside it.
pub struct Mech {
    pub m: CK_MECHANISM,
    _param: Box<[u8]>,
}

// SAFETY: `m.pParameter` points into `_param`, owned by the same value.
unsafe impl Send for Mech {}

impl Mech {
    pub fn new(ty: CK_MECHANISM_TYPE) -> Mech {
        Mech {
            m: CK_MECHANISM {
                mechanism: ty,
                pParameter: ptr::null_mut(),
                ulParameterLen: 0,
            },
            _param: Box::new([]),
        }
    }

    /// A mechanism whose parameter is the plain-old-data struct `p`.
    pub fn with<T: Copy>(ty: CK_MECHANISM_TYPE, p: T) -> Mech {
        let size = std::mem::size_of::<T>();
        // SAFETY: `T` is a C parameter struct (plain old data); its bytes
        // are copied into an owned buffer the mechanism points at.
        let bytes = unsafe { std::slice::from_raw_parts((&p as *const T).cast::<u8>(), size) };
        let mut param: Box<[u8]> = bytes.into();
        Mech {
            m: CK_MECHANISM {
                mechanism: ty,
                pParameter: param.as_mut_ptr().cast(),
                ulParameterLen: size as CK_ULONG,
            },
            _param: param,
        }
    }

    pub fn ptr(&mut self) -> *mut CK_MECHANISM {
        &mut self.m
    }
}

pub fn generate_key(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    mut t: Tmpl,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut m = Mech::new(mech);
    let (p, n) = t.as_mut();
    let mut k = 0;
    match ck!(f, C_GenerateKey(h, m.ptr(), p, n, &mut k)) {
        CKR_OK => Ok(k),
        rv => Err(rv),
    }
}

/// (public, private) handles, or the CK_RV of a module lacking the type.
pub fn generate_pair(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    mut public: Tmpl,
    mut private: Tmpl,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let mut m = Mech::new(mech);
    let (pp, pn) = public.as_mut();
    let (sp, sn) = private.as_mut();
    let (mut pubk, mut privk) = (0, 0);
    match ck!(
        f,
        C_GenerateKeyPair(h, m.ptr(), pp, pn, sp, sn, &mut pubk, &mut privk)
    ) {
        CKR_OK => Ok((pubk, privk)),
        rv => Err(rv),
    }
}

/// Handles of every object matching `t`, `batch` at a time.
pub fn find(f: Funcs, h: CK_SESSION_HANDLE, t: &mut Tmpl, batch: usize) -> Vec<CK_OBJECT_HANDLE> {
    let (p, n) = t.as_mut();
    ok(ck!(f, C_FindObjectsInit(h, p, n)), "C_FindObjectsInit");
    let mut out = Vec::new();
    let mut buf = vec![0; batch];
    loop {
        let mut got: CK_ULONG = 0;
        ok(
            ck!(
                f,
                C_FindObjects(h, buf.as_mut_ptr(), batch as CK_ULONG, &mut got)
            ),
            "C_FindObjects",
        );
        if got == 0 {
            break;
        }
        out.extend_from_slice(&buf[..got as usize]);
    }
    ok(ck!(f, C_FindObjectsFinal(h)), "C_FindObjectsFinal");
    out
}
