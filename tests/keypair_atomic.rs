//! A key pair is stored in one transaction: a child process (this test
//! binary re-executed, test `pair_child`) generates EC key pairs as token
//! objects in a loop and is SIGKILLed at random points, many times. After
//! all the kills, every private key has its public key and vice versa.
//! When the two halves were stored in two transactions, a kill between
//! them left orphan public keys.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use cryptoki::object::{Attribute, ObjectClass};

const ROLE: &str = "KEYWARD_PAIR_CHILD";
const CHILD_TEST: &str = "pair_child";
/// Children killed (each after a random number of pairs and a random
/// extra pause, so the kill lands anywhere in the loop).
const KILLS: usize = 30;
/// Pairs a child makes before it stops on its own (never reached in
/// practice: it is killed first).
const MAX_PAIRS: usize = 10_000;
/// Upper bound of the random pause before a kill, in microseconds.
const MAX_PAUSE_US: u64 = 8_000;

/// The child: generates pairs until killed, one progress line per pair.
#[test]
fn pair_child() {
    let Ok(progress) = std::env::var(ROLE) else {
        return;
    };
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(progress)
        .expect("open progress file");
    let h = Harness::from_env();
    let s = h.user_session();
    for i in 0..MAX_PAIRS {
        let label = format!("pair-{}-{i}", std::process::id());
        common::token_ec_pair(&s, P256_PARAMS, &label).expect("C_GenerateKeyPair");
        writeln!(out, "{label}").expect("progress");
    }
}

fn spawn(env: &TestEnv, progress: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, progress)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

#[test]
fn killed_key_pair_generation_leaves_no_half_pair() {
    let h = Harness::new();
    h.ready();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill seed {seed}");
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for k in 0..KILLS {
        let progress = h.env.root.join(format!("progress-{k}"));
        let mut child = spawn(&h.env, &progress);
        // Wait (by progress, not by time) until it made 1..=3 pairs, so
        // the kill falls inside the generation loop, then pause a random
        // fraction of one iteration.
        let want = 1 + usize::try_from(next(3)).unwrap();
        loop {
            let made = fs::read_to_string(&progress)
                .unwrap_or_default()
                .lines()
                .count();
            if made >= want {
                break;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("child exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(next(MAX_PAUSE_US)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    let s = h.user_session();
    let labels = |class| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s
            .find_objects(&[Attribute::Class(class)])
            .expect("find")
            .into_iter()
            .map(|o| attr_bytes(&s, o, cryptoki::object::AttributeType::Label))
            .collect();
        v.sort();
        v
    };
    let (private, public) = (
        labels(ObjectClass::PRIVATE_KEY),
        labels(ObjectClass::PUBLIC_KEY),
    );
    eprintln!(
        "{} private, {} public keys after {KILLS} kills",
        private.len(),
        public.len()
    );
    assert!(private.len() >= KILLS, "every child made pairs");
    assert_eq!(
        private.len(),
        public.len(),
        "as many public as private keys after the kills"
    );
    assert_eq!(private, public, "every pair complete (same labels)");
}
