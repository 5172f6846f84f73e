//! A long operation on one session never stalls other sessions (issue #9
//! item 8b): while one thread generates RSA-4096 key pairs on its session
//! (holding that session's lock for seconds), another thread on other
//! sessions calls C_GetTokenInfo, C_OpenSession/C_CloseSession and
//! C_Login/C_Logout (SO and user). Each of those used to lock every
//! session's mutex under the sessions table lock and so waited for the key
//! generation. The check is an ordering, not a timing: every call must have
//! returned before the key generations are all done.

#[macro_use]
mod common;

use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::raw::*;
use common::*;
use cryptoki_sys::*;

/// Key pairs generated in a row: the other thread's few calls must all
/// fit before the last one ends.
const KEYGENS: usize = 3;
const ROUNDS: usize = 3;

type F = &'static CK_FUNCTION_LIST_3_0;

/// One RSA-4096 session key pair, public objects (no login needed).
fn rsa_4096(f: F, h: CK_SESSION_HANDLE) -> CK_RV {
    rsa_4096_pair(f, h).0
}

/// The same, with the handles it returned.
fn rsa_4096_pair(f: F, h: CK_SESSION_HANDLE) -> (CK_RV, [CK_OBJECT_HANDLE; 2]) {
    let mut m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut pubt = Tmpl::new()
        .ulong(CKA_MODULUS_BITS, 4096)
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .bool(CKA_TOKEN, false)
        .bool(CKA_VERIFY, true);
    let mut privt = Tmpl::new()
        .bool(CKA_TOKEN, false)
        .bool(CKA_PRIVATE, false)
        .bool(CKA_SIGN, true);
    let (pp, pn) = pubt.as_mut();
    let (sp, sn) = privt.as_mut();
    let (mut pubk, mut privk) = (0, 0);
    let rv = ck!(
        f,
        C_GenerateKeyPair(h, &mut m, pp, pn, sp, sn, &mut pubk, &mut privk)
    );
    (rv, [pubk, privk])
}

/// The calls that must not wait for another session: (what, CK_RV).
fn other_session_calls(f: F, h: CK_SESSION_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let mut out = Vec::new();
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    out.push(("C_GetTokenInfo", ck!(f, C_GetTokenInfo(0, &mut info))));
    // The key generation's session and this one.
    out.push((
        "ulSessionCount == 2",
        if info.ulSessionCount == 2 {
            CKR_OK
        } else {
            CKR_GENERAL_ERROR
        },
    ));
    let mut ro: CK_SESSION_HANDLE = 0;
    out.push((
        "C_OpenSession",
        ck!(
            f,
            C_OpenSession(0, CKF_SERIAL_SESSION, ptr::null_mut(), None, &mut ro)
        ),
    ));
    out.push(("C_CloseSession", ck!(f, C_CloseSession(ro))));
    // An SO login checks every session for read-only ones.
    out.push(("C_Login(SO)", login(f, h, CKU_SO, SO_PIN)));
    out.push(("C_Logout(SO)", ck!(f, C_Logout(h))));
    out.push(("C_Login(USER)", login(f, h, CKU_USER, USER_PIN)));
    out.push(("C_Logout(USER)", ck!(f, C_Logout(h))));
    out
}

#[test]
fn long_keygen_does_not_stall_other_sessions() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    // Token and user PIN ready, nobody logged in.
    user_session_then_logout(f);

    let gen_session = open_session(f, true);
    let other = open_session(f, true);
    let started = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let keygen = {
        let (started, done) = (started.clone(), done.clone());
        thread::spawn(move || {
            started.store(true, Ordering::SeqCst);
            let rvs: Vec<CK_RV> = (0..KEYGENS).map(|_| rsa_4096(f, gen_session)).collect();
            done.store(true, Ordering::SeqCst);
            rvs
        })
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    // Not an assertion: gives the key generation time to take its
    // session's lock, so the calls below meet it held.
    thread::sleep(Duration::from_millis(200));

    let mut calls = Vec::new();
    for _ in 0..ROUNDS {
        calls.extend(other_session_calls(f, other));
    }
    let keygen_finished_first = done.load(Ordering::SeqCst);

    let rvs = keygen.join().expect("keygen thread");
    for (what, rv) in calls {
        assert_rv!(rv, CKR_OK, "{what}");
    }
    assert!(
        rvs.iter().all(|rv| *rv == CKR_OK),
        "key generation: {:?}",
        rvs.iter().map(|rv| rv_name(*rv)).collect::<Vec<_>>()
    );
    assert!(
        !keygen_finished_first,
        "calls on other sessions waited for the key generations to finish"
    );
}

/// Closing a session while a call runs on that same session waits for the
/// call, then destroys what it created: the key pair made by a key
/// generation caught by C_CloseSession does not outlive its session.
#[test]
fn closing_a_busy_session_destroys_what_its_call_made() {
    let _env = TestEnv::new();
    let init = Init::new();
    let f = init.f;
    user_session_then_logout(f);

    let busy = open_session(f, true);
    let other = open_session(f, false);
    let started = Arc::new(AtomicBool::new(false));
    let keygen = {
        let started = started.clone();
        thread::spawn(move || {
            started.store(true, Ordering::SeqCst);
            rsa_4096_pair(f, busy)
        })
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(200));
    assert_rv!(ck!(f, C_CloseSession(busy)), CKR_OK, "C_CloseSession");
    let (rv, made) = keygen.join().expect("keygen thread");
    if rv == CKR_OK {
        for o in made {
            let mut a = CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            };
            assert_rv!(
                ck!(f, C_GetAttributeValue(other, o, &mut a, 1)),
                CKR_OBJECT_HANDLE_INVALID,
                "object of the closed session"
            );
        }
    } else {
        // The close won the race: the call found its session gone.
        assert_rv!(rv, CKR_SESSION_HANDLE_INVALID, "keygen");
    }
}

/// C_InitToken, the SO sets the user PIN, and every session is closed.
fn user_session_then_logout(f: F) {
    let h = user_session(f);
    assert_rv!(ck!(f, C_Logout(h)), CKR_OK, "user logout");
    assert_rv!(ck!(f, C_CloseSession(h)), CKR_OK, "close");
}
