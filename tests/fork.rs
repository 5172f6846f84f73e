//! fork() from a busy multi-threaded client (issue #9 item 2): while the
//! parent's threads sign, write token objects (inside SQLite) and open and
//! close sessions, the main thread forks 100 times. Every child must
//! initialize the module, log in, find the token key, sign, finalize and
//! exit; a child that does not exit in time is SIGKILLed and fails the
//! test (before the fork gate, about a quarter of them hung forever in
//! C_Initialize on a lock copied held). Half the children call C_Finalize
//! first, as OpenSSL's pkcs11-provider does after a fork.

#[macro_use]
mod common;

use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

const FORKS: usize = 100;
const KEY_LABEL: &[u8] = b"fork-key";
/// How often the parent polls a child, and how many polls it allows: a
/// child does its work in well under a second; a hung one never exits.
const POLL: Duration = Duration::from_millis(10);
const MAX_POLLS: u32 = 6000;

type F = &'static CK_FUNCTION_LIST_3_0;

/// The token's private key, searched by label (C_FindObjects*).
fn find_key(f: F, h: CK_SESSION_HANDLE) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .bytes(CKA_LABEL, KEY_LABEL);
    let (p, n) = t.as_mut();
    let rv = ck!(f, C_FindObjectsInit(h, p, n));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let mut count: CK_ULONG = 0;
    let rv = ck!(f, C_FindObjects(h, found.as_mut_ptr(), 2, &mut count));
    let fin = ck!(f, C_FindObjectsFinal(h));
    match (rv, fin, count) {
        (CKR_OK, CKR_OK, 1) => Ok(found[0]),
        (CKR_OK, CKR_OK, _) => Err(CKR_GENERAL_ERROR),
        (CKR_OK, e, _) | (e, _, _) => Err(e),
    }
}

fn sign(f: F, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> CK_RV {
    let mut m = mech(CKM_ECDSA);
    let rv = ck!(f, C_SignInit(h, &mut m, key));
    if rv != CKR_OK {
        return rv;
    }
    let mut data = [7u8; 32];
    let mut sig = [0u8; 64];
    let mut len = sig.len() as CK_ULONG;
    ck!(
        f,
        C_Sign(h, data.as_mut_ptr(), 32, sig.as_mut_ptr(), &mut len)
    )
}

/// Everything a child does; the exit code names the step that failed.
fn child(f: F, finalize_first: bool) -> i32 {
    if finalize_first {
        if ck!(f, C_Finalize(ptr::null_mut())) != CKR_CRYPTOKI_NOT_INITIALIZED {
            return 20;
        }
    } else {
        let mut info: CK_INFO = unsafe { std::mem::zeroed() };
        if ck!(f, C_GetInfo(&mut info)) != CKR_CRYPTOKI_NOT_INITIALIZED {
            return 21;
        }
    }
    if ck!(f, C_Initialize(ptr::null_mut())) != CKR_OK {
        return 10;
    }
    let mut h: CK_SESSION_HANDLE = 0;
    if ck!(
        f,
        C_OpenSession(0, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut h)
    ) != CKR_OK
    {
        return 11;
    }
    if login(f, h, CKU_USER, USER_PIN) != CKR_OK {
        return 12;
    }
    let Ok(key) = find_key(f, h) else {
        return 13;
    };
    if sign(f, h, key) != CKR_OK {
        return 14;
    }
    if ck!(f, C_Finalize(ptr::null_mut())) != CKR_OK {
        return 15;
    }
    0
}

/// Polls the child until it exits; SIGKILLs it after the bound.
fn wait_child(pid: libc::pid_t) -> Result<i32, String> {
    for _ in 0..MAX_POLLS {
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is a valid out-param.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Err(format!("child died: status {status:#x}"));
        }
        if r < 0 {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        thread::sleep(POLL);
    }
    // SAFETY: killing and reaping our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, ptr::null_mut(), 0);
    }
    Err("child hung (SIGKILLed)".into())
}

/// The parent's background load: `work` runs until `stop`; any CK_RV but
/// CKR_OK is counted in `errors`.
fn spawn_load(
    stop: &Arc<AtomicBool>,
    errors: &Arc<AtomicU64>,
    rounds: &Arc<AtomicU64>,
    mut work: impl FnMut() -> CK_RV + Send + 'static,
) -> thread::JoinHandle<()> {
    let (stop, errors, rounds) = (stop.clone(), errors.clone(), rounds.clone());
    thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if work() != CKR_OK {
                errors.fetch_add(1, Ordering::SeqCst);
            }
            rounds.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// Token-object churn: create, relabel, destroy (each a SQLite write).
fn write_round(f: F, h: CK_SESSION_HANDLE, i: u64) -> CK_RV {
    let label = format!("data-{i}");
    let mut t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, false)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, b"payload");
    let (p, n) = t.as_mut();
    let mut o: CK_OBJECT_HANDLE = 0;
    let rv = ck!(f, C_CreateObject(h, p, n, &mut o));
    if rv != CKR_OK {
        return rv;
    }
    let mut t = Tmpl::new().bytes(CKA_LABEL, b"relabelled");
    let (p, n) = t.as_mut();
    let rv = ck!(f, C_SetAttributeValue(h, o, p, n));
    if rv != CKR_OK {
        return rv;
    }
    ck!(f, C_DestroyObject(h, o))
}

#[test]
fn children_of_a_busy_parent_initialize_sign_and_finalize() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    let h = user_session(f);

    // The token key pair the children use.
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let mut pubt = Tmpl::new()
        .bytes(CKA_EC_PARAMS, P256_PARAMS)
        .bool(CKA_TOKEN, true)
        .bool(CKA_VERIFY, true)
        .bytes(CKA_LABEL, KEY_LABEL);
    let mut privt = Tmpl::new()
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SIGN, true)
        .bytes(CKA_LABEL, KEY_LABEL);
    let (pp, pn) = pubt.as_mut();
    let (sp, sn) = privt.as_mut();
    let (mut pubk, mut key) = (0, 0);
    assert_rv!(
        ck!(
            f,
            C_GenerateKeyPair(h, &mut m, pp, pn, sp, sn, &mut pubk, &mut key)
        ),
        CKR_OK,
        "token P-256 key pair"
    );
    assert_eq!(find_key(f, h), Ok(key));
    assert_rv!(sign(f, h, key), CKR_OK, "parent sign");

    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..3 {
        let s = open_session(f, false);
        load.push(spawn_load(&stop, &errors, &rounds, move || sign(f, s, key)));
    }
    let w = open_session(f, true);
    let mut i = 0;
    load.push(spawn_load(&stop, &errors, &rounds, move || {
        i += 1;
        write_round(f, w, i)
    }));
    load.push(spawn_load(&stop, &errors, &rounds, move || {
        let s = open_session(f, false);
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        let rv = ck!(f, C_GetTokenInfo(0, &mut info));
        let found = find_key(f, s);
        let closed = ck!(f, C_CloseSession(s));
        match (rv, found, closed) {
            (CKR_OK, Ok(_), CKR_OK) => CKR_OK,
            _ => CKR_GENERAL_ERROR,
        }
    }));
    // Let every load thread get going before the first fork.
    while rounds.load(Ordering::SeqCst) < 20 {
        thread::sleep(POLL);
    }

    let mut failures = Vec::new();
    for n in 0..FORKS {
        let finalize_first = n % 2 == 1;
        // SAFETY: the child only makes C calls into the module and leaves
        // with _exit, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = child(f, finalize_first);
            // SAFETY: ends the child without running the parent's exit
            // handlers or destructors.
            unsafe { libc::_exit(code) };
        }
        assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
        match wait_child(pid) {
            Ok(0) => {}
            Ok(code) => failures.push(format!("child {n}: failed at step {code}")),
            Err(e) => {
                failures.push(format!("child {n}: {e}"));
                // One hang is proof enough; more would only cost minutes.
                break;
            }
        }
    }

    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().expect("load thread");
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(errors.load(Ordering::SeqCst), 0, "parent load errors");
    // The parent's own state is intact.
    assert_rv!(sign(f, h, key), CKR_OK, "parent sign after the forks");
}
