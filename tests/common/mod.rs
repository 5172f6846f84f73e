//! Shared harness for the integration suites: finds the built
//! `libkeyward.so`, gives every test a fresh temporary store and config,
//! serialises tests (the module's state is process-global) and wraps the
//! usual token set-up steps (init token, init user PIN, log in).

#![allow(dead_code)]

// First: the other modules use its macros (ck!, assert_rv!).
#[macro_use]
pub mod raw;

// Also loaded by `cli_support` in tests that use both helpers.
pub mod backend;
#[allow(clippy::duplicate_mod)]
pub mod cli_bin;
pub mod cross_check;
pub mod lifecycle;
pub mod mech;
pub mod ops;
pub mod pg;
pub mod tmpl;
pub mod tool;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use tempfile::TempDir;

pub const SO_PIN: &str = "12345678";
pub const USER_PIN: &str = "1234";
pub const TOKEN_LABEL: &str = "keyward-test";

/// DER OBJECT IDENTIFIER of prime256v1 / secp256r1 (the CKA_EC_PARAMS value).
pub const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OBJECT IDENTIFIER of secp384r1.
pub const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// Env var naming the TOML config; read by the module at C_Initialize.
pub const ENV_CONF: &str = "KEYWARD_CONF";
/// Env var overriding the store directory; read at C_Initialize.
pub const ENV_STORE: &str = "KEYWARD_STORE";

/// One test at a time per process: the module allows one C_Initialize per
/// process, and the env vars it reads are process-wide too.
static SERIAL: Mutex<()> = Mutex::new(());

/// Path of the cdylib built for this test run. Cargo leaves it in
/// `target/<profile>/deps/`, beside the test binary; the copy one level up
/// is refreshed only by `cargo build` and may be stale.
pub fn lib_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a parent dir");
    let p = deps.join("libkeyward.so");
    assert!(
        p.exists(),
        "{} not found: `cargo test` should have built the cdylib",
        p.display()
    );
    p
}

/// The module loaded once for the whole process; never unloaded, so its
/// global state never outlives a dlclose in surprising ways.
pub fn pkcs11() -> Pkcs11 {
    static CTX: OnceLock<Pkcs11> = OnceLock::new();
    CTX.get_or_init(|| Pkcs11::new(lib_path()).expect("load libkeyward.so"))
        .clone()
}

/// Quote a string as a TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The config every test starts from: fast PIN hashing, the given store,
/// plus whatever TOML the test adds (e.g. `max_pin_failures = 3`).
pub fn config_text(store: &Path, extra: &str) -> String {
    format!(
        "store_dir = {}\npin_kdf_iterations = 1000\n{}\n",
        toml_str(&store.to_string_lossy()),
        extra
    )
}

/// A locked, isolated environment: temp dir holding `keyward.toml` and the
/// `store/` directory, with KEYWARD_CONF / KEYWARD_STORE pointing at them.
pub struct TestEnv {
    pub root: PathBuf,
    pub store: PathBuf,
    pub conf: PathBuf,
    // Dropped after the fields above are no longer used; keeps the dir.
    _dir: Option<TempDir>,
    _guard: MutexGuard<'static, ()>,
}

fn lock() -> MutexGuard<'static, ()> {
    // A panicking test poisons the lock; the next test must still run.
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_env(conf: &Path, store: &Path) {
    // SAFETY: every test holds SERIAL while touching the environment, so no
    // other thread of this process reads or writes it concurrently.
    unsafe {
        std::env::set_var(ENV_CONF, conf);
        std::env::set_var(ENV_STORE, store);
    }
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// Fresh store with extra TOML lines appended to the base config.
    pub fn with_config(extra: &str) -> Self {
        let guard = lock();
        let dir = tempfile::Builder::new()
            .prefix("keyward-test-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().to_path_buf();
        let store = root.join("store");
        fs::create_dir_all(&store).expect("create store dir");
        let conf = root.join("keyward.toml");
        let extra = backend::with_backend(extra);
        fs::write(&conf, config_text(&store, &extra)).expect("write config");
        set_env(&conf, &store);
        TestEnv {
            root,
            store,
            conf,
            _dir: Some(dir),
            _guard: guard,
        }
    }

    /// Reuse the store and config named by the current environment (a child
    /// process started by another test); nothing is deleted on drop.
    pub fn from_env() -> Self {
        let guard = lock();
        let conf = PathBuf::from(std::env::var_os(ENV_CONF).expect("KEYWARD_CONF set"));
        let store = PathBuf::from(std::env::var_os(ENV_STORE).expect("KEYWARD_STORE set"));
        let root = conf.parent().expect("conf has parent").to_path_buf();
        TestEnv {
            root,
            store,
            conf,
            _dir: None,
            _guard: guard,
        }
    }

    /// Every regular file under the store dir (recursively).
    pub fn store_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.store.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).expect("read store dir") {
                let p = e.expect("dir entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }
}

/// An initialized module on a fresh store. C_Finalize runs on drop (after
/// the test's sessions, which are declared later and so dropped earlier).
pub struct Harness {
    pub ctx: Pkcs11,
    pub slot: Slot,
    initialized: bool,
    // Last: the lock is released only after C_Finalize in `drop`.
    pub env: TestEnv,
}

impl Harness {
    pub fn new() -> Self {
        Self::start(TestEnv::new())
    }

    pub fn with_config(extra: &str) -> Self {
        Self::start(TestEnv::with_config(extra))
    }

    /// For child processes: attach to the store named by the environment.
    pub fn from_env() -> Self {
        Self::start(TestEnv::from_env())
    }

    /// Initialize the module on an environment the test set up itself.
    pub fn start(env: TestEnv) -> Self {
        let ctx = pkcs11();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        let slot = Slot::try_from(0u64).expect("slot 0");
        Harness {
            ctx,
            slot,
            initialized: true,
            env,
        }
    }

    pub fn finalize(&mut self) {
        assert!(self.initialized, "finalize twice");
        self.ctx.clone().finalize().expect("C_Finalize");
        self.initialized = false;
    }

    pub fn initialize(&mut self) {
        assert!(!self.initialized, "initialize twice");
        self.ctx
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        self.initialized = true;
    }

    /// C_Finalize + C_Initialize on the same store (a process restart as far
    /// as the module can tell). Every session handle becomes invalid.
    pub fn restart(&mut self) {
        self.finalize();
        self.initialize();
    }

    pub fn init_token(&self) {
        self.ctx
            .init_token(self.slot, &pin(SO_PIN), TOKEN_LABEL)
            .expect("C_InitToken");
    }

    /// SO logs in on a fresh R/W session, sets the user PIN, and leaves.
    pub fn init_user_pin(&self) {
        self.init_user_pin_with(USER_PIN);
    }

    pub fn init_user_pin_with(&self, user_pin: &str) {
        let s = self.rw_session();
        s.login(UserType::So, Some(&pin(SO_PIN))).expect("SO login");
        s.init_pin(&pin(user_pin)).expect("C_InitPIN");
        s.logout().expect("SO logout");
        s.close().expect("close");
    }

    /// Token initialized and user PIN set: the usual starting point.
    pub fn ready(&self) {
        self.init_token();
        self.init_user_pin();
    }

    pub fn rw_session(&self) -> Session {
        self.ctx
            .open_rw_session(self.slot)
            .expect("open R/W session")
    }

    pub fn ro_session(&self) -> Session {
        self.ctx
            .open_ro_session(self.slot)
            .expect("open R/O session")
    }

    /// R/W session logged in as the normal user.
    pub fn user_session(&self) -> Session {
        let s = self.rw_session();
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("user login");
        s
    }

    pub fn token_info(&self) -> cryptoki::slot::TokenInfo {
        self.ctx.get_token_info(self.slot).expect("C_GetTokenInfo")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.initialized {
            // Errors here would hide the test's own failure; ignore them.
            let _ = self.ctx.clone().finalize();
            self.initialized = false;
        }
    }
}

pub fn pin(s: &str) -> AuthPin {
    AuthPin::from(s)
}

/// The CKR code of a failed call, or a panic saying what came back instead.
#[track_caller]
pub fn rv_of<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> RvError {
    match r {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// Assert that a call failed with exactly `want`.
#[track_caller]
pub fn expect_rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>, want: RvError) {
    let got = rv_of(r);
    assert_eq!(got, want, "expected {want:?}, got {got:?}");
}

/// One attribute's value, or None when the object does not expose it
/// (sensitive, invalid or unavailable).
pub fn attr(s: &Session, o: ObjectHandle, ty: AttributeType) -> Option<Attribute> {
    let mut v = s.get_attributes(o, &[ty]).expect("C_GetAttributeValue");
    v.pop()
}

#[track_caller]
pub fn attr_bytes(s: &Session, o: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match attr(s, o, ty) {
        Some(
            Attribute::Value(v)
            | Attribute::Label(v)
            | Attribute::Id(v)
            | Attribute::EcPoint(v)
            | Attribute::EcParams(v)
            | Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::PublicKeyInfo(v)
            | Attribute::Subject(v)
            | Attribute::Application(v)
            | Attribute::VendorDefined((_, v)),
        ) => v,
        other => panic!("attribute {ty:?}: expected a byte value, got {other:?}"),
    }
}

#[track_caller]
pub fn attr_bool(s: &Session, o: ObjectHandle, ty: AttributeType) -> bool {
    match attr(s, o, ty) {
        Some(
            Attribute::Token(b)
            | Attribute::Private(b)
            | Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::AlwaysSensitive(b)
            | Attribute::NeverExtractable(b)
            | Attribute::Local(b)
            | Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::Modifiable(b)
            | Attribute::Copyable(b)
            | Attribute::Destroyable(b)
            | Attribute::Derive(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b),
        ) => b,
        other => panic!("attribute {ty:?}: expected a CK_BBOOL, got {other:?}"),
    }
}

/// How C_GetAttributeValue answers for one attribute (sizes only).
pub fn attr_info(s: &Session, o: ObjectHandle, ty: AttributeType) -> AttributeInfo {
    let mut v = s
        .get_attribute_info(o, &[ty])
        .expect("C_GetAttributeValue (info)");
    v.pop().expect("one entry")
}

/// The attribute exists but C_GetAttributeValue withholds it.
#[track_caller]
pub fn assert_sensitive(s: &Session, o: ObjectHandle, ty: AttributeType) {
    let got = attr_info(s, o, ty);
    assert!(
        matches!(got, AttributeInfo::Sensitive),
        "{ty:?}: expected sensitive, got {got:?}"
    );
}

/// The object has no such attribute.
#[track_caller]
pub fn assert_type_invalid(s: &Session, o: ObjectHandle, ty: AttributeType) {
    let got = attr_info(s, o, ty);
    assert!(
        matches!(got, AttributeInfo::TypeInvalid),
        "{ty:?}: expected type invalid, got {got:?}"
    );
}

/// Generates a token EC key pair on the curve `params` (public half
/// CKA_VERIFY, private half CKA_SIGN), both labelled `label`.
pub fn token_ec_pair(
    s: &Session,
    params: &[u8],
    label: &str,
) -> cryptoki::error::Result<(ObjectHandle, ObjectHandle)> {
    s.generate_key_pair(
        &cryptoki::mechanism::Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(params.to_vec()),
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
}

/// Objects whose CKA_LABEL equals `label`.
pub fn find_by_label(s: &Session, label: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .expect("C_FindObjects")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Strip the DER OCTET STRING wrapper of a CKA_EC_POINT value.
#[track_caller]
pub fn ec_point_from_der(der: &[u8]) -> Vec<u8> {
    assert!(der.len() > 2, "CKA_EC_POINT too short: {}", hex(der));
    assert_eq!(der[0], 0x04, "CKA_EC_POINT is not a DER OCTET STRING");
    let (len, off) = if der[1] < 0x80 {
        (usize::from(der[1]), 2)
    } else {
        assert_eq!(der[1], 0x81, "unexpected long length form");
        (usize::from(der[2]), 3)
    };
    assert_eq!(der.len(), off + len, "OCTET STRING length mismatch");
    der[off..].to_vec()
}
