//! The key cache never outlives a change another process committed:
//! process A signs with a token key (so its parsed key is cached), then
//! process B — this test binary re-executed, or the `keyward` CLI — changes
//! the key and exits; A's very next C_SignInit must see the change. These
//! guard the cache fast path (docs/PERFORMANCE.md): a key whose row did
//! not change is used without a row read, so every way a row can change
//! from outside has to move the store stamp the fast path checks.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};

const ROLE: &str = "KEYWARD_CACHE_ROLE";
const CHILD_TEST: &str = "child_process";
const LABEL: &str = "cached";
const HASH: [u8; 32] = [0x3c; 32];
/// Signatures before the change: enough to have the key cached and the
/// fast path taken several times.
const WARM: usize = 5;

/// Process B's work when started by [`run_child`]; a no-op otherwise.
#[test]
fn child_process() {
    let Some(role) = std::env::var_os(ROLE) else {
        return;
    };
    let h = Harness::from_env();
    let s = h.rw_session();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("child login");
    let key = private_key(&s);
    match role.to_str().expect("role") {
        "sign_off" => s
            .update_attributes(key, &[Attribute::Sign(false)])
            .expect("CKA_SIGN = false"),
        "destroy" => s.destroy_object(key).expect("destroy"),
        // Flips CKA_SIGN until killed (see `killed_writer_never_leaves_a_stale_key`).
        "toggle" => {
            for n in 0u64.. {
                s.update_attributes(key, &[Attribute::Sign(n % 2 == 1)])
                    .expect("toggle CKA_SIGN");
                if n == 0 {
                    use std::io::Write as _;
                    println!("toggling");
                    std::io::stdout().flush().expect("flush");
                }
            }
        }
        "print_sign" => {
            let sign = attr_bool(&s, key, cryptoki::object::AttributeType::Sign);
            println!("CKA_SIGN={sign}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn private_key(s: &Session) -> ObjectHandle {
    let found = s
        .find_objects(&[
            Attribute::Label(LABEL.as_bytes().to_vec()),
            Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
        ])
        .expect("find");
    assert_eq!(found.len(), 1, "one private key labelled {LABEL}");
    found[0]
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn child_command(env: &TestEnv, role: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null());
    cmd
}

fn run_child(env: &TestEnv, role: &str) -> String {
    let out = child_command(env, role).output().expect("spawn child");
    check(&out, role);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("1 passed"),
        "child `{role}` did not run its test"
    );
    stdout
}

/// The admin CLI as process B.
fn run_cli(env: &TestEnv, args: &[&str]) {
    let out = Command::new(common::cli_bin::keyward_bin())
        .args(args)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .env("KEYWARD_PIN", USER_PIN)
        .env("KEYWARD_SO_PIN", SO_PIN)
        .stdin(Stdio::null())
        .output()
        .expect("spawn keyward");
    check(&out, &args.join(" "));
}

/// Process A: a logged-in session that signed `WARM` times with the key.
fn warm_session(h: &Harness) -> (Session, ObjectHandle) {
    h.ready();
    let s = h.user_session();
    let (_, key) = token_ec_pair(&s, P256_PARAMS, LABEL).expect("EC pair");
    for _ in 0..WARM {
        s.sign(&Mechanism::Ecdsa, key, &HASH).expect("warm sign");
    }
    (s, key)
}

/// Runs `change` in another process, then checks A's next sign.
fn after_change(change: impl FnOnce(&TestEnv), want: Option<RvError>) {
    let h = Harness::new();
    let (s, key) = warm_session(&h);
    change(&h.env);
    let next = s.sign(&Mechanism::Ecdsa, key, &HASH);
    match want {
        Some(rv) => expect_rv(next, rv),
        None => {
            next.expect("sign after the change");
        }
    }
}

#[test]
fn sign_turned_off_elsewhere_is_refused_at_once() {
    after_change(
        |env| drop(run_child(env, "sign_off")),
        Some(RvError::KeyFunctionNotPermitted),
    );
}

#[test]
fn destroyed_elsewhere_is_an_invalid_handle_at_once() {
    after_change(
        |env| drop(run_child(env, "destroy")),
        Some(RvError::KeyHandleInvalid),
    );
}

#[test]
fn deactivated_elsewhere_is_refused_at_once() {
    after_change(
        |env| run_cli(env, &["keys", "deactivate", LABEL, "--reason", "cache"]),
        Some(RvError::KeyFunctionNotPermitted),
    );
}

#[test]
fn master_key_rotation_elsewhere_leaves_the_key_working() {
    after_change(|env| run_cli(env, &["master-key", "rotate", "--yes"]), None);
}

/// Rounds of [`killed_writer_never_leaves_a_stale_key`].
const KILL_ROUNDS: u64 = 10;

/// A writer SIGKILLed at a random point — possibly between marking the
/// store's change counter and committing, or between committing and
/// unmarking — never leaves another process trusting a stale cached key:
/// process A signs in a loop while process B flips CKA_SIGN on the key,
/// B is killed after a varying number of A's signatures, and A's next
/// C_SignInit must agree with what B last committed (read afterwards by a
/// fresh process).
#[test]
fn killed_writer_never_leaves_a_stale_key() {
    let h = Harness::new();
    let (s, key) = warm_session(&h);
    for round in 0..KILL_ROUNDS {
        let mut writer = child_command(&h.env, "toggle")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        // Wait until the writer is committing (its first write done).
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
            writer.stdout.take().expect("writer stdout"),
        ));
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.contains("toggling"))),
            "round {round}: the writer never started"
        );
        // Pseudo-random kill points, reproducible per round.
        let signs = (round * 7919 + 13) % 97 + 5;
        for _ in 0..signs {
            match s.sign(&Mechanism::Ecdsa, key, &HASH) {
                Ok(_) => {}
                Err(e) => assert_eq!(
                    rv_of::<()>(Err(e)),
                    RvError::KeyFunctionNotPermitted,
                    "round {round}: only CKA_SIGN may refuse"
                ),
            }
        }
        writer.kill().expect("SIGKILL writer");
        writer.wait().expect("reap writer");
        let ours = s.sign(&Mechanism::Ecdsa, key, &HASH).map(drop);
        // Read the truth only now: the reader's login writes too, which
        // would move the counter and hide a stale cache entry.
        let truth = run_child(&h.env, "print_sign");
        let committed = truth.contains("CKA_SIGN=true");
        assert!(
            committed || truth.contains("CKA_SIGN=false"),
            "round {round}: reader printed {truth}"
        );
        match (committed, ours) {
            (true, Ok(())) => {}
            (false, Err(e)) => assert_eq!(rv_of::<()>(Err(e)), RvError::KeyFunctionNotPermitted),
            (c, r) => panic!("round {round}: committed CKA_SIGN={c} but C_Sign gave {r:?}"),
        }
    }
}

/// The same guarantees inside one process: what session A changes, session
/// B (which has the key remembered from earlier signatures) sees at once.
#[test]
fn changes_by_another_session_are_seen_at_once() {
    let h = Harness::new();
    let (b, key) = warm_session(&h);
    let a = h.rw_session();
    a.update_attributes(key, &[Attribute::Sign(false)])
        .expect("CKA_SIGN = false");
    expect_rv(
        b.sign(&Mechanism::Ecdsa, key, &HASH),
        RvError::KeyFunctionNotPermitted,
    );
    a.update_attributes(key, &[Attribute::Sign(true)])
        .expect("CKA_SIGN = true");
    b.sign(&Mechanism::Ecdsa, key, &HASH).expect("sign again");
    // A logout through any session ends the login of all of them.
    a.logout().expect("logout");
    expect_rv(
        b.sign(&Mechanism::Ecdsa, key, &HASH),
        RvError::UserNotLoggedIn,
    );
    a.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    b.sign(&Mechanism::Ecdsa, key, &HASH)
        .expect("sign after login");
    a.destroy_object(key).expect("destroy");
    expect_rv(
        b.sign(&Mechanism::Ecdsa, key, &HASH),
        RvError::KeyHandleInvalid,
    );
}
