//! Process- and thread-level behaviour of the raw C ABI plus the login
//! rules around keys: a forked child must initialize its own instance,
//! sessions work in parallel threads, CKA_ALWAYS_AUTHENTICATE requires a
//! context-specific login per operation, CKA_ALLOWED_MECHANISMS restricts
//! C_SignInit, and the session/user-state errors of PKCS#11 3.0 §5.6.
//! Its own binary, so `fork()` never races a test thread of another suite;
//! tests inside it are serialised by `TestEnv`'s lock.

#[macro_use]
mod common;

use std::ffi::c_int;
use std::fs::File;
use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::time::{Duration, Instant};

use common::raw::*;
use common::{SO_PIN, TestEnv, USER_PIN};
use cryptoki_sys::*;

/// A SHA-256-sized input for CKM_ECDSA (which signs a given hash).
const HASH: [u8; 32] = [0x5a; 32];
const FORK_LABEL: &[u8] = b"fork-key";
const CHILD_TIMEOUT: Duration = Duration::from_secs(20);
const ITERATIONS: usize = 200;

/// The call that failed and what it returned.
type Failed = (&'static str, CK_RV);

/// P-256 key pair with `label` on both halves and the extra private-key
/// attributes of `privt`: (public, private).
fn p256_pair_with(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    token: bool,
    label: &[u8],
    privt: Tmpl,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut pubt = Tmpl::new()
        .bytes(CKA_EC_PARAMS, common::P256_PARAMS)
        .bool(CKA_VERIFY, true)
        .bool(CKA_TOKEN, token)
        .bytes(CKA_LABEL, label);
    let mut privt = privt
        .bool(CKA_SIGN, true)
        .bool(CKA_TOKEN, token)
        .bytes(CKA_LABEL, label);
    let (pp, pn) = pubt.as_mut();
    let (sp, sn) = privt.as_mut();
    let (mut pubk, mut privk) = (0, 0);
    assert_rv!(
        ck!(
            f,
            C_GenerateKeyPair(h, &mut m, pp, pn, sp, sn, &mut pubk, &mut privk)
        ),
        CKR_OK,
        "C_GenerateKeyPair(P-256, {})",
        String::from_utf8_lossy(label)
    );
    (pubk, privk)
}

/// C_Sign on an operation already started, with a buffer large enough
/// for any ECDSA signature (never a length query).
fn sign_only(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    let mut data = data.to_vec();
    let mut sig = vec![0u8; 256];
    let mut len = sig.len() as CK_ULONG;
    let rv = ck!(
        f,
        C_Sign(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut len
        )
    );
    if rv != CKR_OK {
        return Err(rv);
    }
    sig.truncate(len as usize);
    Ok(sig)
}

fn sign(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    mech_ty: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Result<Vec<u8>, Failed> {
    let mut m = mech(mech_ty);
    let rv = ck!(f, C_SignInit(h, &mut m, key));
    if rv != CKR_OK {
        return Err(("C_SignInit", rv));
    }
    sign_only(f, h, data).map_err(|rv| ("C_Sign", rv))
}

fn verify(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    mech_ty: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> Result<(), Failed> {
    let mut m = mech(mech_ty);
    let rv = ck!(f, C_VerifyInit(h, &mut m, key));
    if rv != CKR_OK {
        return Err(("C_VerifyInit", rv));
    }
    let (mut data, mut sig) = (data.to_vec(), sig.to_vec());
    let rv = ck!(
        f,
        C_Verify(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            sig.as_mut_ptr(),
            sig.len() as CK_ULONG
        )
    );
    if rv != CKR_OK {
        return Err(("C_Verify", rv));
    }
    Ok(())
}

/// Every object matching `t`, via Init / FindObjects (in batches) / Final.
fn find(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    mut t: Tmpl,
) -> Result<Vec<CK_OBJECT_HANDLE>, Failed> {
    let (p, n) = t.as_mut();
    let rv = ck!(f, C_FindObjectsInit(h, p, n));
    if rv != CKR_OK {
        return Err(("C_FindObjectsInit", rv));
    }
    let mut out = Vec::new();
    loop {
        let mut batch = [0 as CK_OBJECT_HANDLE; 4];
        let mut count: CK_ULONG = 0;
        let rv = ck!(
            f,
            C_FindObjects(h, batch.as_mut_ptr(), batch.len() as CK_ULONG, &mut count)
        );
        if rv != CKR_OK {
            return Err(("C_FindObjects", rv));
        }
        out.extend_from_slice(&batch[..count as usize]);
        if (count as usize) < batch.len() {
            break;
        }
    }
    let rv = ck!(f, C_FindObjectsFinal(h));
    if rv != CKR_OK {
        return Err(("C_FindObjectsFinal", rv));
    }
    Ok(out)
}

fn by_label(label: &[u8], class: CK_OBJECT_CLASS) -> Tmpl {
    Tmpl::new().bytes(CKA_LABEL, label).ulong(CKA_CLASS, class)
}

#[track_caller]
fn sign_and_verify(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    (pubk, privk): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    data: &[u8],
    what: &str,
) {
    let sig = sign(f, h, CKM_ECDSA, privk, data)
        .unwrap_or_else(|(call, rv)| panic!("{what}: {call} gave {} ({rv:#x})", rv_name(rv)));
    assert_eq!(sig.len(), 64, "{what}: P-256 r||s length");
    verify(f, h, CKM_ECDSA, pubk, data, &sig)
        .unwrap_or_else(|(call, rv)| panic!("{what}: {call} gave {} ({rv:#x})", rv_name(rv)));
}

// ---------------------------------------------------------------- fork

/// A step of the child that did not return what it should: exit code
/// (naming the step) and a message for the parent.
type ChildFailure = (c_int, String);

fn child_expect(code: c_int, what: &str, got: CK_RV, want: CK_RV) -> Result<(), ChildFailure> {
    if got == want {
        return Ok(());
    }
    Err((
        code,
        format!(
            "{what}: expected {} ({want:#x}), got {} ({got:#x})",
            rv_name(want),
            rv_name(got)
        ),
    ))
}

fn child_found(
    code: c_int,
    what: &str,
    r: Result<Vec<CK_OBJECT_HANDLE>, Failed>,
) -> Result<CK_OBJECT_HANDLE, ChildFailure> {
    match r {
        Ok(v) if v.len() == 1 => Ok(v[0]),
        Ok(v) => Err((code, format!("{what}: found {} objects, want 1", v.len()))),
        Err((call, rv)) => Err((
            code,
            format!("{what}: {call} gave {} ({rv:#x})", rv_name(rv)),
        )),
    }
}

fn child_call<T>(code: c_int, what: &str, r: Result<T, Failed>) -> Result<T, ChildFailure> {
    r.map_err(|(call, rv)| {
        (
            code,
            format!("{what}: {call} gave {} ({rv:#x})", rv_name(rv)),
        )
    })
}

/// What the forked child does, through the raw function table only.
fn child_steps(f: &CK_FUNCTION_LIST_3_0) -> Result<(), ChildFailure> {
    let mut info = CK_INFO::default();
    child_expect(
        10,
        "C_GetInfo in the child before its own C_Initialize",
        ck!(f, C_GetInfo(&mut info)),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    // pkcs11-provider calls this in its atfork handler and ignores the
    // result; it only has to return.
    let _ = ck!(f, C_Finalize(ptr::null_mut()));
    child_expect(
        11,
        "C_Initialize",
        ck!(f, C_Initialize(ptr::null_mut())),
        CKR_OK,
    )?;
    let mut h: CK_SESSION_HANDLE = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    child_expect(
        12,
        "C_OpenSession",
        ck!(f, C_OpenSession(0, flags, ptr::null_mut(), None, &mut h)),
        CKR_OK,
    )?;
    child_expect(
        13,
        "C_Login(CKU_USER)",
        login(f, h, CKU_USER, USER_PIN),
        CKR_OK,
    )?;
    let privk = child_found(
        14,
        "private key by label",
        find(f, h, by_label(FORK_LABEL, CKO_PRIVATE_KEY)),
    )?;
    let pubk = child_found(
        15,
        "public key by label",
        find(f, h, by_label(FORK_LABEL, CKO_PUBLIC_KEY)),
    )?;
    let sig = child_call(16, "sign", sign(f, h, CKM_ECDSA, privk, &HASH))?;
    child_call(17, "verify", verify(f, h, CKM_ECDSA, pubk, &HASH, &sig))?;
    child_expect(
        18,
        "C_Finalize",
        ck!(f, C_Finalize(ptr::null_mut())),
        CKR_OK,
    )
}

/// Runs in the forked child; never returns into the test harness.
fn child_main(f: &CK_FUNCTION_LIST_3_0, report: c_int) -> ! {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| child_steps(f)));
    let (code, msg) = match outcome {
        Ok(Ok(())) => (0, String::new()),
        Ok(Err(failure)) => failure,
        Err(_) => (90, "the child panicked".to_string()),
    };
    // SAFETY: `report` is the pipe's write end, `msg` is live for the
    // call; _exit skips the harness's destructors and atexit handlers,
    // which belong to the parent.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

/// Wait for `pid` for at most CHILD_TIMEOUT; kill it if it hangs.
fn wait_bounded(pid: libc::pid_t) -> Result<c_int, String> {
    let start = Instant::now();
    let mut status: c_int = 0;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(status);
        }
        if r == -1 {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        if start.elapsed() > CHILD_TIMEOUT {
            // SAFETY: as above; reaps the child we just killed.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("child hung for {CHILD_TIMEOUT:?} and was killed"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn forked_child_must_initialize_its_own_instance() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let pair = p256_pair_with(f, h, true, FORK_LABEL, Tmpl::new());
    sign_and_verify(f, h, pair, &HASH, "parent before fork");

    let mut fds: [c_int; 2] = [-1; 2];
    // SAFETY: valid array of two fds.
    let rv = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rv, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: this thread holds the suite lock, so no other test thread of
    // this binary is inside the module; the child only makes raw C calls
    // and leaves through _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child's copy of the read end.
        unsafe { libc::close(fds[0]) };
        child_main(f, fds[1]);
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    // SAFETY: the parent owns both fds; the write end is closed so the
    // read below sees EOF once the child is gone.
    let mut report = unsafe {
        libc::close(fds[1]);
        File::from(OwnedFd::from_raw_fd(fds[0]))
    };
    let waited = wait_bounded(pid);
    let mut msg = String::new();
    report.read_to_string(&mut msg).expect("read child report");
    let status = waited.unwrap_or_else(|e| panic!("{e}; child said: {msg}"));
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally (status {status:#x}); it said: {msg}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child failed at step {}: {msg}",
        libc::WEXITSTATUS(status)
    );

    // The child's C_Initialize/C_Finalize left the parent's instance alone.
    let mut info = CK_INFO::default();
    assert_rv!(ck!(f, C_GetInfo(&mut info)), CKR_OK, "parent C_GetInfo");
    sign_and_verify(f, h, pair, &HASH, "parent after the child exited");
}

// ------------------------------------------------------------- threads

#[test]
fn parallel_sessions_sign_verify_and_find() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let pairs = [
        p256_pair_with(f, h, true, b"thread-token", Tmpl::new()),
        p256_pair_with(f, h, false, b"thread-session", Tmpl::new()),
    ];
    std::thread::scope(|sc| {
        for t in 0..2usize {
            sc.spawn(move || {
                let s = open_session(f, t == 0);
                for i in 0..ITERATIONS {
                    let mut data = HASH;
                    data[0] = t as u8;
                    data[1..9].copy_from_slice(&i.to_le_bytes());
                    // The threads alternate keys out of phase, so they
                    // use different keys at the same step and the same
                    // key whenever one runs ahead.
                    let pair = pairs[(i + t) % 2];
                    sign_and_verify(f, s, pair, &data, &format!("thread {t}, iteration {i}"));
                }
                assert_rv!(ck!(f, C_CloseSession(s)), CKR_OK, "thread {t} close");
            });
        }
        sc.spawn(move || {
            let s = open_session(f, false);
            for i in 0..ITERATIONS {
                let keys = find(f, s, Tmpl::new().ulong(CKA_CLASS, CKO_PRIVATE_KEY))
                    .unwrap_or_else(|(c, rv)| panic!("finder {i}: {c} gave {}", rv_name(rv)));
                assert_eq!(keys.len(), 2, "finder {i}: private keys");
                let token = find(f, s, Tmpl::new().bytes(CKA_LABEL, b"thread-token"))
                    .unwrap_or_else(|(c, rv)| panic!("finder {i}: {c} gave {}", rv_name(rv)));
                assert_eq!(token.len(), 2, "finder {i}: token pair by label");
            }
            assert_rv!(ck!(f, C_CloseSession(s)), CKR_OK, "finder close");
        });
    });
    sign_and_verify(f, h, pairs[0], &HASH, "main session afterwards");
}

// -------------------------------------------------- key login attributes

#[test]
fn always_authenticate_needs_a_context_login_per_operation() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let aa_t = Tmpl::new().bool(CKA_ALWAYS_AUTHENTICATE, true);
    let aa = p256_pair_with(f, h, false, b"always-auth", aa_t);
    let plain = p256_pair_with(f, h, false, b"plain", Tmpl::new());
    assert_eq!(get_attr(f, h, aa.1, CKA_ALWAYS_AUTHENTICATE), [CK_TRUE]);
    assert_eq!(get_attr(f, h, plain.1, CKA_ALWAYS_AUTHENTICATE), [CK_FALSE]);

    let mut m = mech(CKM_ECDSA);
    assert_rv!(ck!(f, C_SignInit(h, &mut m, aa.1)), CKR_OK, "C_SignInit");
    assert_rv!(
        sign_only(f, h, &HASH).err().unwrap_or(CKR_OK),
        CKR_USER_NOT_LOGGED_IN,
        "C_Sign before the context-specific login"
    );
    assert_rv!(
        sign_only(f, h, &HASH).err().unwrap_or(CKR_OK),
        CKR_OPERATION_NOT_INITIALIZED,
        "the failed C_Sign ended the operation"
    );

    assert_rv!(
        ck!(f, C_SignInit(h, &mut m, aa.1)),
        CKR_OK,
        "C_SignInit again"
    );
    assert_rv!(
        login(f, h, CKU_CONTEXT_SPECIFIC, "99999999"),
        CKR_PIN_INCORRECT,
        "context login, wrong PIN"
    );
    assert_rv!(
        login(f, h, CKU_CONTEXT_SPECIFIC, USER_PIN),
        CKR_OK,
        "context login, right PIN"
    );
    let sig = sign_only(f, h, &HASH)
        .unwrap_or_else(|rv| panic!("C_Sign after context login: {}", rv_name(rv)));
    verify(f, h, CKM_ECDSA, aa.0, &HASH, &sig)
        .unwrap_or_else(|(c, rv)| panic!("{c} gave {}", rv_name(rv)));
    assert_rv!(
        login(f, h, CKU_CONTEXT_SPECIFIC, USER_PIN),
        CKR_OPERATION_NOT_INITIALIZED,
        "context login with no operation active"
    );

    // "The user has to supply the PIN for each use": the next operation
    // needs its own context login.
    assert_rv!(
        ck!(f, C_SignInit(h, &mut m, aa.1)),
        CKR_OK,
        "third C_SignInit"
    );
    assert_rv!(
        sign_only(f, h, &HASH).err().unwrap_or(CKR_OK),
        CKR_USER_NOT_LOGGED_IN,
        "the earlier context login does not carry over"
    );

    sign_and_verify(f, h, plain, &HASH, "key without CKA_ALWAYS_AUTHENTICATE");

    assert_rv!(ck!(f, C_Logout(h)), CKR_OK, "C_Logout");
    assert_rv!(
        login(f, h, CKU_CONTEXT_SPECIFIC, USER_PIN),
        CKR_USER_NOT_LOGGED_IN,
        "context login while the user is not logged in"
    );
}

#[test]
fn allowed_mechanisms_restrict_sign_init() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);
    let allowed = CKM_ECDSA_SHA256.to_ne_bytes();
    let privt = Tmpl::new().bytes(CKA_ALLOWED_MECHANISMS, &allowed);
    let (pubk, privk) = p256_pair_with(f, h, false, b"restricted", privt);

    let msg = b"allowed mechanisms";
    let sig = sign(f, h, CKM_ECDSA_SHA256, privk, msg)
        .unwrap_or_else(|(c, rv)| panic!("CKM_ECDSA_SHA256: {c} gave {}", rv_name(rv)));
    verify(f, h, CKM_ECDSA_SHA256, pubk, msg, &sig)
        .unwrap_or_else(|(c, rv)| panic!("{c} gave {}", rv_name(rv)));

    let mut m = mech(CKM_ECDSA);
    assert_rv!(
        ck!(f, C_SignInit(h, &mut m, privk)),
        CKR_MECHANISM_INVALID,
        "CKM_ECDSA is not in CKA_ALLOWED_MECHANISMS"
    );
    assert_eq!(
        get_attr(f, h, privk, CKA_ALLOWED_MECHANISMS),
        allowed,
        "CKA_ALLOWED_MECHANISMS reads back as the CK_MECHANISM_TYPE array"
    );
}

// ------------------------------------------------ session / user states

fn init_token_raw(f: &CK_FUNCTION_LIST_3_0, so_pin: &str, label: Option<&str>) -> CK_RV {
    let mut so = so_pin.as_bytes().to_vec();
    let mut label = label.map(padded32);
    let lp = label.as_mut().map_or(ptr::null_mut(), |l| l.as_mut_ptr());
    ck!(f, C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, lp))
}

fn create_data(
    f: &CK_FUNCTION_LIST_3_0,
    h: CK_SESSION_HANDLE,
    token: bool,
    private: bool,
) -> (CK_RV, CK_OBJECT_HANDLE) {
    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, token)
        .bool(CKA_PRIVATE, private)
        .bytes(CKA_LABEL, b"data")
        .bytes(CKA_VALUE, b"payload");
    let (p, n) = t.as_mut();
    let mut o: CK_OBJECT_HANDLE = 0;
    let rv = ck!(f, C_CreateObject(h, p, n, &mut o));
    (rv, o)
}

#[test]
fn login_and_init_token_argument_rules() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    init_token(f);
    // No session is open, so CKR_SESSION_EXISTS cannot mask these.
    assert_rv!(
        init_token_raw(f, SO_PIN, None),
        CKR_ARGUMENTS_BAD,
        "C_InitToken with a NULL label"
    );
    assert_rv!(
        init_token_raw(f, "87654321", Some("abi-token")),
        CKR_PIN_INCORRECT,
        "C_InitToken with the wrong SO PIN"
    );

    let h = open_session(f, true);
    assert_rv!(login(f, h, CKU_SO, SO_PIN), CKR_OK, "SO login");
    let mut ro: CK_SESSION_HANDLE = 0;
    assert_rv!(
        ck!(
            f,
            C_OpenSession(0, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut ro)
        ),
        CKR_SESSION_READ_WRITE_SO_EXISTS,
        "R/O session while the SO is logged in"
    );
    let mut up = USER_PIN.as_bytes().to_vec();
    assert_rv!(
        ck!(f, C_InitPIN(h, up.as_mut_ptr(), up.len() as CK_ULONG)),
        CKR_OK,
        "C_InitPIN"
    );
    assert_rv!(ck!(f, C_Logout(h)), CKR_OK, "SO logout");

    assert_rv!(
        login(f, h, 7, USER_PIN),
        CKR_USER_TYPE_INVALID,
        "C_Login with user type 7"
    );
    assert_rv!(
        ck!(f, C_Login(h, CKU_USER, ptr::null_mut(), 4)),
        CKR_ARGUMENTS_BAD,
        "C_Login with a NULL PIN and a length"
    );
    assert_rv!(login(f, h, CKU_USER, USER_PIN), CKR_OK, "user login");
    assert_rv!(
        ck!(f, C_InitPIN(h, up.as_mut_ptr(), up.len() as CK_ULONG)),
        CKR_USER_NOT_LOGGED_IN,
        "C_InitPIN in a user session"
    );
}

#[test]
fn read_only_and_public_session_rules() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let rw = user_session(f);
    assert_rv!(ck!(f, C_Logout(rw)), CKR_OK, "user logout");
    assert_rv!(
        create_data(f, rw, false, true).0,
        CKR_USER_NOT_LOGGED_IN,
        "private object in a public session"
    );

    assert_rv!(login(f, rw, CKU_USER, USER_PIN), CKR_OK, "user login");
    let ro = open_session(f, false);
    let mut old = USER_PIN.as_bytes().to_vec();
    let mut new = b"4321".to_vec();
    assert_rv!(
        ck!(
            f,
            C_SetPIN(
                ro,
                old.as_mut_ptr(),
                old.len() as CK_ULONG,
                new.as_mut_ptr(),
                new.len() as CK_ULONG
            )
        ),
        CKR_SESSION_READ_ONLY,
        "C_SetPIN in an R/O session"
    );
    assert_rv!(
        create_data(f, ro, true, false).0,
        CKR_SESSION_READ_ONLY,
        "token object from an R/O user session"
    );

    let (rv, obj) = create_data(f, rw, true, false);
    assert_rv!(rv, CKR_OK, "token object from the R/W user session");
    assert_rv!(
        ck!(f, C_DestroyObject(ro, obj)),
        CKR_SESSION_READ_ONLY,
        "destroy a token object from an R/O session"
    );
    assert_eq!(get_attr(f, ro, obj, CKA_VALUE), b"payload", "still there");
    assert_rv!(ck!(f, C_DestroyObject(rw, obj)), CKR_OK, "destroy from R/W");
}
