//! The protected authentication path (issue 14, remote use without the
//! PIN): a slot's `user_pin_file` makes the token answer
//! CKF_PROTECTED_AUTHENTICATION_PATH, and C_Login(CKU_USER, NULL, 0) logs
//! in with the file's PIN (PKCS#11 3.0 §5.6.8: "To log into a token with a
//! protected authentication path, the pPin parameter to C_Login should be
//! NULL_PTR"). The file's PIN counts toward the lockout like a typed one; a
//! file others may read, a symlink or a missing file is CKR_DEVICE_ERROR
//! with the rule as the cause; without a file a NULL PIN stays
//! CKR_ARGUMENTS_BAD, and a NULL SO PIN always does.

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr;

use common::ops::{Mech, Sess, err, ok, user_session_on};
use common::raw::{Init, Tmpl};
use common::{P256_PARAMS, SO_PIN, TestEnv, USER_PIN};
use cryptoki_sys::*;

const HASH: [u8; 32] = [0x5a; 32];

/// Writes `body` to `dir/name` with `mode`.
fn pin_file(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// A store whose slot 0 reads its user PIN from `path` (plus `extra`
/// top-level settings).
fn env_with_pin_file(path: &Path, extra: &str) -> TestEnv {
    TestEnv::with_config(&format!(
        "{extra}\n[[slot]]\nid = 0\nuser_pin_file = {:?}\n",
        path.to_str().unwrap()
    ))
}

fn token_flags(f: &CK_FUNCTION_LIST_3_0) -> CK_FLAGS {
    // SAFETY: CK_TOKEN_INFO is plain data; all-zero is a valid value.
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    assert_rv!(
        ck!(f, C_GetTokenInfo(0, &mut info)),
        CKR_OK,
        "C_GetTokenInfo"
    );
    info.flags
}

/// C_Login with pPin NULL and ulPinLen 0.
fn null_login(s: &Sess, user: CK_USER_TYPE) -> CK_RV {
    ck!(s.f, C_Login(s.h, user, ptr::null_mut(), 0))
}

fn session_state(s: &Sess) -> CK_STATE {
    // SAFETY: plain data.
    let mut si: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    assert_rv!(ck!(s.f, C_GetSessionInfo(s.h, &mut si)), CKR_OK);
    si.state
}

/// A session P-256 pair (public, private); `always` sets
/// CKA_ALWAYS_AUTHENTICATE on the private half.
fn p256(s: &Sess, always: bool) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let public = Tmpl::new()
        .bytes(CKA_EC_PARAMS, P256_PARAMS)
        .bool(CKA_VERIFY, true)
        .bool(CKA_TOKEN, false);
    let private = Tmpl::new()
        .bool(CKA_SIGN, true)
        .bool(CKA_TOKEN, false)
        .bool(CKA_ALWAYS_AUTHENTICATE, always);
    ok(
        s.generate_pair(&Mech::new(CKM_EC_KEY_PAIR_GEN), public, private),
        "C_GenerateKeyPair(P-256)",
    )
}

/// A token with both PINs set, the user logged out, and a session on it.
fn ready(f: &'static CK_FUNCTION_LIST_3_0) -> Sess {
    let s = user_session_on(f, 0, "protected-path");
    ok(s.logout(), "user logout");
    s
}

#[test]
fn flag_only_when_the_slot_names_a_pin_file() {
    {
        let _env = TestEnv::new();
        let init = Init::new();
        let s = ready(init.f);
        assert_eq!(
            token_flags(init.f) & CKF_PROTECTED_AUTHENTICATION_PATH,
            0,
            "no user_pin_file: no protected path"
        );
        assert_rv!(
            null_login(&s, CKU_USER),
            CKR_ARGUMENTS_BAD,
            "NULL PIN without a protected path"
        );
        assert_rv!(null_login(&s, CKU_SO), CKR_ARGUMENTS_BAD, "NULL SO PIN");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = pin_file(dir.path(), "user.pin", "1234\n", 0o600);
    let _env = env_with_pin_file(&file, "");
    let init = Init::new();
    let _s = ready(init.f);
    assert_ne!(
        token_flags(init.f) & CKF_PROTECTED_AUTHENTICATION_PATH,
        0,
        "user_pin_file set: CKF_PROTECTED_AUTHENTICATION_PATH"
    );
}

#[test]
fn null_pin_login_uses_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = pin_file(dir.path(), "user.pin", &format!("{USER_PIN}\n"), 0o600);
    let _env = env_with_pin_file(&file, "");
    let init = Init::new();
    let f = init.f;
    let s = ready(f);
    assert_eq!(session_state(&s), CKS_RW_PUBLIC_SESSION);

    assert_rv!(null_login(&s, CKU_USER), CKR_OK, "NULL-PIN user login");
    assert_eq!(session_state(&s), CKS_RW_USER_FUNCTIONS);
    assert_rv!(
        null_login(&s, CKU_USER),
        CKR_USER_ALREADY_LOGGED_IN,
        "second NULL-PIN login"
    );
    let (public, private) = p256(&s, false);
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA), private, &HASH),
        "ECDSA sign",
    );
    ok(
        s.verify_once(&Mech::new(CKM_ECDSA), public, &HASH, &sig),
        "ECDSA verify",
    );
    ok(s.logout(), "logout");

    // A typed PIN still works beside the file.
    ok(s.login(CKU_USER, USER_PIN), "typed user PIN");
    ok(s.logout(), "logout");
    // The file is the user's only: the SO types the SO PIN.
    assert_rv!(null_login(&s, CKU_SO), CKR_ARGUMENTS_BAD, "NULL SO PIN");
    ok(s.login(CKU_SO, SO_PIN), "typed SO PIN");
    ok(s.logout(), "SO logout");
    // A NULL PIN for a user type without a protected path is refused as
    // before; with a typed PIN, the type is what is wrong.
    assert_rv!(null_login(&s, 7), CKR_ARGUMENTS_BAD, "NULL PIN, bad type");
    assert_rv!(
        s.login(7, USER_PIN).err().unwrap_or(CKR_OK),
        CKR_USER_TYPE_INVALID
    );

    // The audit trail tells the file's login from the typed ones.
    let out = Command::new(common::cli_bin::keyward_bin())
        .args(["audit", "show", "--event", "login", "--json"])
        .env("KEYWARD_PIN", USER_PIN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let via = "protected authentication path (user_pin_file)";
    assert_eq!(text.matches(via).count(), 1, "one NULL-PIN login: {text}");
}

#[test]
fn wrong_pin_in_the_file_counts_toward_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let file = pin_file(dir.path(), "user.pin", "9999\n", 0o600);
    let _env = env_with_pin_file(&file, "max_pin_failures = 3");
    let init = Init::new();
    let f = init.f;
    let s = ready(f);

    assert_rv!(
        null_login(&s, CKU_USER),
        CKR_PIN_INCORRECT,
        "wrong PIN in file"
    );
    assert_ne!(
        token_flags(f) & CKF_USER_PIN_COUNT_LOW,
        0,
        "one failure counted"
    );
    assert_rv!(null_login(&s, CKU_USER), CKR_PIN_INCORRECT, "wrong again");
    assert_ne!(
        token_flags(f) & CKF_USER_PIN_FINAL_TRY,
        0,
        "two failures counted"
    );

    // The right PIN in the file resets the count, as a typed one does.
    pin_file(dir.path(), "user.pin", USER_PIN, 0o600);
    assert_rv!(null_login(&s, CKU_USER), CKR_OK, "right PIN in file");
    let low = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
    assert_eq!(token_flags(f) & low, 0, "count reset");
    ok(s.logout(), "logout");

    pin_file(dir.path(), "user.pin", "9999", 0o600);
    for _ in 0..3 {
        assert_rv!(
            null_login(&s, CKU_USER),
            CKR_PIN_INCORRECT,
            "wrong PIN in file"
        );
    }
    assert_ne!(
        token_flags(f) & CKF_USER_PIN_LOCKED,
        0,
        "locked by the file's PIN"
    );
    pin_file(dir.path(), "user.pin", USER_PIN, 0o600);
    assert_rv!(
        null_login(&s, CKU_USER),
        CKR_PIN_LOCKED,
        "right file, locked"
    );
    err(
        s.login(CKU_USER, USER_PIN),
        CKR_PIN_LOCKED,
        "typed PIN, locked",
    );
}

#[test]
fn unsafe_or_missing_files_are_refused_and_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user.pin");
    let _env = env_with_pin_file(&file, "max_pin_failures = 3");
    let init = Init::new();
    let f = init.f;
    let s = ready(f);

    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "missing file");
    for mode in [0o640, 0o644, 0o604, 0o660, 0o666] {
        pin_file(dir.path(), "user.pin", USER_PIN, mode);
        assert_rv!(
            null_login(&s, CKU_USER),
            CKR_DEVICE_ERROR,
            "mode {mode:o}: group or others may read or write"
        );
    }
    let real = pin_file(dir.path(), "real.pin", USER_PIN, 0o600);
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&real, &file).unwrap();
    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "symlink");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "directory");
    std::fs::remove_dir(&file).unwrap();
    pin_file(dir.path(), "user.pin", "\n", 0o600);
    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "empty");

    // None of these was a PIN: no failure counted, no login.
    let low = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
    assert_eq!(token_flags(f) & low, 0, "refusals are not PIN failures");
    assert_eq!(session_state(&s), CKS_RW_PUBLIC_SESSION);

    pin_file(dir.path(), "user.pin", &format!("{USER_PIN}\n"), 0o400);
    assert_rv!(null_login(&s, CKU_USER), CKR_OK, "0400 is owner-only");
}

/// CKA_ALWAYS_AUTHENTICATE: the context-specific login takes the
/// protected path too (the user proves the PIN again without typing it).
#[test]
fn context_specific_login_with_a_null_pin() {
    let dir = tempfile::tempdir().unwrap();
    let file = pin_file(dir.path(), "user.pin", USER_PIN, 0o600);
    let _env = env_with_pin_file(&file, "");
    let init = Init::new();
    let s = ready(init.f);
    assert_rv!(null_login(&s, CKU_USER), CKR_OK, "NULL-PIN user login");
    let (public, private) = p256(&s, true);
    let m = Mech::new(CKM_ECDSA);
    ok(s.sign_init(&m, private), "C_SignInit");
    assert_rv!(
        null_login(&s, CKU_CONTEXT_SPECIFIC),
        CKR_OK,
        "NULL-PIN context login"
    );
    let sig = ok(s.sign(&HASH), "C_Sign after the context login");
    ok(s.verify_once(&m, public, &HASH, &sig), "verify");

    pin_file(dir.path(), "user.pin", "9999", 0o600);
    ok(s.sign_init(&m, private), "C_SignInit again");
    assert_rv!(
        null_login(&s, CKU_CONTEXT_SPECIFIC),
        CKR_PIN_INCORRECT,
        "wrong PIN in the file"
    );
}

// ------------------------------------------------- causes in the trace

const CHILD: &str = "KEYWARD_TEST_PROTECTED_CHILD";
const CHILD_TEST: &str = "trace_child";
/// The PIN written to a file others may read: never in the trace.
const LEAKY_PIN: &str = "86420";

/// Run by `refusals_name_their_rule_in_the_trace` in a child process with
/// KEYWARD_TRACE set, so the trace on fd 2 is the child's stderr.
#[test]
fn trace_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("absent.pin");
    let _env = env_with_pin_file(&file, "");
    let init = Init::new();
    let s = ready(init.f);
    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "missing file");
    pin_file(dir.path(), "absent.pin", LEAKY_PIN, 0o644);
    assert_rv!(null_login(&s, CKU_USER), CKR_DEVICE_ERROR, "mode 0644");
}

#[test]
fn refusals_name_their_rule_in_the_trace() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("KEYWARD_TRACE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("keyward: C_Login -> CKR_DEVICE_ERROR (cause: user_pin_file "))
        .collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("absent.pin: cannot open"), "{}", lines[0]);
    assert!(
        lines[1].contains("mode 0644") && lines[1].contains("owner-only (0600 or 0400)"),
        "{}",
        lines[1]
    );
    assert!(
        !stderr.contains(LEAKY_PIN),
        "the PIN is in the trace: {stderr}"
    );
}
