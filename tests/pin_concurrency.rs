//! The right PIN is never refused, and wrong guesses stay bounded, under
//! concurrency and crashes: many processes (this test binary re-executed,
//! test `child_process` active only when KEYWARD_PIN_CHILD is set) and many
//! threads log in at once through the C ABI, and processes are SIGKILLed in
//! the middle of SO logins. Every assertion is on exact CK_RV values and
//! loop counts, never on elapsed time.

#[macro_use]
mod common;

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::raw::*;
use common::*;
use cryptoki_sys::*;

const CHILD: &str = "KEYWARD_PIN_CHILD";
const SYNC: &str = "KEYWARD_PIN_SYNC";
const CHILD_TEST: &str = "child_process";
/// Only a hung child trips this; the assertions never depend on time.
const HANG: Duration = Duration::from_secs(300);
const MAX_FAILURES: u32 = 3;
const WRONG_PIN: &str = "9999";

/// A store whose KDF is slow enough (a few ms) that attempts overlap.
fn env_with_kdf(iterations: u32) -> TestEnv {
    let env = TestEnv::new();
    let text = format!(
        "store_dir = {:?}\npin_kdf_iterations = {iterations}\nmax_pin_failures = {MAX_FAILURES}\n",
        env.store
    );
    fs::write(&env.conf, text).expect("write config");
    env
}

/// Token initialized with SO_PIN, user PIN set; module finalized again.
fn prepare_token() {
    let init = Init::new();
    let h = user_session(init.f);
    assert_rv!(ck!(init.f, C_CloseSession(h)), CKR_OK);
}

fn spawn(env: &TestEnv, what: &str) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, what)
        .env(SYNC, &env.root)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

fn wait_file(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(st) = child.try_wait().expect("try_wait") {
            panic!("child exited ({st}) early:\n{}", output(child));
        }
        assert!(start.elapsed() < HANG, "child hung");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn output(c: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut o) = c.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    out
}

/// Waits for a child and returns the CK_RVs it reported ("<RV n>" markers).
fn results(mut c: Child) -> Vec<CK_RV> {
    let status = c.wait().expect("wait");
    let out = output(&mut c);
    assert!(
        status.success() && out.contains("1 passed"),
        "child failed:\n{out}"
    );
    out.lines()
        // The first line may follow the harness's "test child_process ... ".
        .filter_map(|l| l.find("<RV ").map(|i| &l[i + 4..]))
        .map(|v| v.trim_end_matches('>').parse().expect("rv"))
        .collect()
}

fn count(rvs: &[CK_RV], want: CK_RV) -> usize {
    rvs.iter().filter(|&&r| r == want).count()
}

fn token_flags(f: &CK_FUNCTION_LIST_3_0) -> CK_FLAGS {
    // SAFETY: CK_TOKEN_INFO is plain data; all-zero is a valid value.
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    assert_rv!(ck!(f, C_GetTokenInfo(0, &mut info)), CKR_OK);
    info.flags
}

/// Starts `n` children running `what`, releases them at once, and
/// returns every CK_RV they reported.
fn run_children(env: &TestEnv, what: &str, n: usize) -> Vec<CK_RV> {
    let mut kids: Vec<Child> = (0..n).map(|_| spawn(env, what)).collect();
    for k in &mut kids {
        wait_file(&env.root.join(format!("ready-{}", k.id())), k);
    }
    fs::write(env.root.join("go"), b"1").expect("go");
    kids.into_iter().flat_map(results).collect()
}

#[test]
fn correct_logins_from_16_processes_all_succeed() {
    let env = env_with_kdf(20_000);
    prepare_token();
    let rvs = run_children(&env, "right", 16);
    assert_eq!(rvs.len(), 16 * 4);
    let bad: Vec<_> = rvs
        .iter()
        .filter(|&&r| r != CKR_OK)
        .map(|&r| rv_name(r))
        .collect();
    assert!(bad.is_empty(), "a right PIN was refused: {bad:?}");
    let init = Init::new();
    assert_eq!(token_flags(init.f) & CKF_USER_PIN_COUNT_LOW, 0);
}

#[test]
fn correct_logins_from_100_threads_are_ok_or_already_logged_in() {
    let _env = env_with_kdf(20_000);
    prepare_token();
    let init = Init::new();
    let f = init.f;
    let sessions: Vec<CK_SESSION_HANDLE> = (0..100).map(|_| open_session(f, false)).collect();
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(sessions.len()));
        let rvs: Vec<CK_RV> = std::thread::scope(|s| {
            let handles: Vec<_> = sessions
                .iter()
                .map(|&h| {
                    let b = Arc::clone(&barrier);
                    s.spawn(move || {
                        b.wait();
                        login(f, h, CKU_USER, USER_PIN)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|t| t.join().expect("thread"))
                .collect()
        });
        let ok = count(&rvs, CKR_OK);
        let already = count(&rvs, CKR_USER_ALREADY_LOGGED_IN);
        let bad: Vec<_> = rvs
            .iter()
            .filter(|&&r| r != CKR_OK && r != CKR_USER_ALREADY_LOGGED_IN)
            .map(|&r| rv_name(r))
            .collect();
        assert!(bad.is_empty(), "round {round}: {bad:?}");
        assert!(ok >= 1 && ok + already == 100, "round {round}: {ok} OK");
        assert_rv!(ck!(f, C_Logout(sessions[0])), CKR_OK);
    }
    assert_eq!(token_flags(f) & CKF_USER_PIN_COUNT_LOW, 0);
}

#[test]
fn wrong_guesses_from_8_processes_stop_at_the_limit() {
    let env = env_with_kdf(20_000);
    prepare_token();
    let rvs = run_children(&env, "wrong", 8);
    assert_eq!(rvs.len(), 8 * 10);
    let incorrect = count(&rvs, CKR_PIN_INCORRECT);
    let locked = count(&rvs, CKR_PIN_LOCKED);
    assert_eq!(incorrect, MAX_FAILURES as usize, "wrong results learned");
    assert_eq!(incorrect + locked, rvs.len(), "only INCORRECT or LOCKED");
    let init = Init::new();
    let flags = token_flags(init.f);
    assert_ne!(flags & CKF_USER_PIN_LOCKED, 0, "USER_PIN_LOCKED");
    let h = open_session(init.f, true);
    // Locked by wrong guesses: now even the right PIN is refused.
    assert_rv!(login(init.f, h, CKU_USER, USER_PIN), CKR_PIN_LOCKED);
    assert_rv!(login(init.f, h, CKU_SO, SO_PIN), CKR_OK, "SO unaffected");
}

/// Tiny deterministic generator for kill delays.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    *seed >> 33
}

#[test]
fn killed_so_logins_never_lock_the_so_pin() {
    let env = env_with_kdf(100_000);
    prepare_token();
    let mut seed = 9;
    let kills = 16;
    for i in 0..kills {
        let mut kid = spawn(&env, "so-loop");
        wait_file(&env.root.join(format!("ready-{}", kid.id())), &mut kid);
        // The child logs in and out as the SO in a loop: let it reach a
        // random point (mostly inside the KDF) and kill it there.
        std::thread::sleep(Duration::from_millis(next(&mut seed) % 120));
        if let Some(st) = kid.try_wait().expect("try_wait") {
            panic!("kill {i}: child ended ({st}):\n{}", output(&mut kid));
        }
        kid.kill().expect("SIGKILL");
        kid.wait().expect("reap");
    }
    let init = Init::new();
    let f = init.f;
    assert_eq!(token_flags(f) & CKF_SO_PIN_LOCKED, 0, "SO PIN not locked");
    let h = open_session(f, true);
    assert_rv!(login(f, h, CKU_SO, SO_PIN), CKR_OK, "SO login after kills");
    // C_SetPIN checks the old PIN through the same path.
    let (mut old, mut new) = (SO_PIN.as_bytes().to_vec(), SO_PIN.as_bytes().to_vec());
    let (lo, ln) = (old.len() as CK_ULONG, new.len() as CK_ULONG);
    assert_rv!(
        ck!(f, C_SetPIN(h, old.as_mut_ptr(), lo, new.as_mut_ptr(), ln)),
        CKR_OK,
        "C_SetPIN with the right old SO PIN"
    );
    assert_rv!(ck!(f, C_CloseSession(h)), CKR_OK);
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut label = padded32("after-kills");
    assert_rv!(
        ck!(
            f,
            C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
        ),
        CKR_OK,
        "C_InitToken with the right SO PIN"
    );
}

/// The child side: `right` logs in with the user PIN 4 times, `wrong`
/// guesses 10 times (both after the parent's "go"), `so-loop` logs the SO
/// in and out until it is killed. Each result is printed as "<RV n>".
#[test]
fn child_process() {
    let Ok(what) = std::env::var(CHILD) else {
        return;
    };
    let sync = std::path::PathBuf::from(std::env::var_os(SYNC).expect("sync dir"));
    let _env = TestEnv::from_env();
    let init = Init::new();
    let f = init.f;
    let h = open_session(f, true);
    let ready = sync.join(format!("ready-{}", std::process::id()));
    fs::write(&ready, b"1").expect("ready");
    if what == "so-loop" {
        loop {
            assert_rv!(login(f, h, CKU_SO, SO_PIN), CKR_OK, "SO login");
            assert_rv!(ck!(f, C_Logout(h)), CKR_OK);
        }
    }
    let start = Instant::now();
    while !sync.join("go").exists() {
        assert!(start.elapsed() < HANG, "no go");
        std::thread::sleep(Duration::from_millis(2));
    }
    let (pin, tries) = if what == "right" {
        (USER_PIN, 4)
    } else {
        (WRONG_PIN, 10)
    };
    for _ in 0..tries {
        let rv = login(f, h, CKU_USER, pin);
        println!("<RV {rv}>");
        if rv == CKR_OK {
            assert_rv!(ck!(f, C_Logout(h)), CKR_OK);
        }
    }
}
