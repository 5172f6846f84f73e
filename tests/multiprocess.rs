//! Two processes sharing one token: this test binary re-executes itself
//! (test `child_process`, active only when KEYWARD_CHILD_ROLE is set) on the
//! same store. Both generate keys at the same time, each then sees all of
//! them without restarting, keys made in one process work in the other, and
//! a fresh process finds everything that was stored.

mod common;

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

const ROLE: &str = "KEYWARD_CHILD_ROLE";
const SYNC: &str = "KEYWARD_SYNC_DIR";
const CHILD_TEST: &str = "child_process";
const TIMEOUT: Duration = Duration::from_secs(120);
const PER_PROCESS: usize = 5;

fn signal(dir: &Path, name: &str) {
    fs::write(dir.join(name), b"1").expect("write sync file");
}

/// Wait for a sync file; fails fast (with the child's output) if `child`
/// exits first.
fn wait_for(dir: &Path, name: &str, mut child: Option<&mut Child>) {
    let start = Instant::now();
    let path = dir.join(name);
    while !path.exists() {
        if let Some(c) = child.as_deref_mut()
            && let Some(status) = c.try_wait().expect("try_wait")
        {
            panic!("child exited ({status}) before `{name}`:\n{}", drain(c));
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for `{name}`");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drain(c: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut o) = c.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    out
}

/// Kills the child if the parent test fails before waiting for it.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn get(&mut self) -> &mut Child {
        self.0.as_mut().expect("child already finished")
    }

    fn take(&mut self) -> Child {
        self.0.take().expect("child already finished")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_child(env: &TestEnv, role: &str) -> ChildGuard {
    let exe = std::env::current_exe().expect("current_exe");
    let child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(SYNC, &env.root)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process");
    ChildGuard(Some(child))
}

fn finish_child(mut g: ChildGuard, role: &str) {
    let mut c = g.take();
    let status = c.wait().expect("wait for child");
    let out = drain(&mut c);
    eprintln!("--- child `{role}` output ---\n{out}\n--- end ---");
    assert!(status.success(), "child `{role}` failed: {status}");
    assert!(
        out.contains("1 passed"),
        "child `{role}` did not run its test"
    );
}

fn gen_key(s: &Session, label: &str) -> ObjectHandle {
    s.generate_key(
        &Mechanism::GenericSecretKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
    .unwrap_or_else(|e| panic!("generate {label}: {e}"))
}

fn key_labels(s: &Session) -> Vec<String> {
    let mut v: Vec<String> = s
        .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
        .expect("find keys")
        .into_iter()
        .map(|o| String::from_utf8(attr_bytes(s, o, AttributeType::Label)).expect("label"))
        .collect();
    v.sort();
    v
}

fn expected_labels(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = (0..PER_PROCESS)
        .flat_map(|i| [format!("child-{i}"), format!("parent-{i}")])
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
    v.sort();
    v
}

fn mac_with(s: &Session, label: &str) -> Vec<u8> {
    let k = find_by_label(s, label);
    assert_eq!(k.len(), 1, "exactly one key labelled {label}");
    s.sign(&Mechanism::Sha256Hmac, k[0], b"cross-process")
        .expect("HMAC")
}

/// The child side: does nothing unless started by `two_processes_share_a_token`.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let sync = PathBuf::from(std::env::var(SYNC).expect("sync dir"));
    let h = Harness::from_env();
    let s = h.user_session();
    match role.as_str() {
        "generate" => {
            signal(&sync, "child-ready");
            wait_for(&sync, "go", None);
            for i in 0..PER_PROCESS {
                gen_key(&s, &format!("child-{i}"));
            }
            signal(&sync, "child-done");
            wait_for(&sync, "parent-done", None);
            assert_eq!(key_labels(&s), expected_labels(&[]), "child sees all keys");
            // A key the parent generated works here.
            fs::write(sync.join("child-mac"), mac_with(&s, "parent-0")).expect("write mac");
            signal(&sync, "child-saw-all");
            wait_for(&sync, "need-late", None);
            gen_key(&s, "child-late");
            signal(&sync, "late-done");
        }
        "verify" => {
            assert_eq!(
                key_labels(&s),
                expected_labels(&["child-late"]),
                "fresh process sees all"
            );
            let want = fs::read(sync.join("parent-mac")).expect("parent mac");
            assert_eq!(
                mac_with(&s, "parent-0"),
                want,
                "same key material in a new process"
            );
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn two_processes_share_a_token() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let root = h.env.root.clone();
    let mut child = spawn_child(&h.env, "generate");
    wait_for(&root, "child-ready", Some(child.get()));
    signal(&root, "go");
    for i in 0..PER_PROCESS {
        gen_key(&s, &format!("parent-{i}"));
    }
    signal(&root, "parent-done");
    wait_for(&root, "child-done", Some(child.get()));
    assert_eq!(
        key_labels(&s),
        expected_labels(&[]),
        "parent sees all keys without restarting"
    );
    wait_for(&root, "child-saw-all", Some(child.get()));
    let parent_mac = mac_with(&s, "parent-0");
    assert_eq!(
        fs::read(root.join("child-mac")).expect("child mac"),
        parent_mac
    );
    // A key the child generated works here.
    mac_with(&s, "child-0");

    signal(&root, "need-late");
    wait_for(&root, "late-done", Some(child.get()));
    let late = find_by_label(&s, "child-late");
    assert_eq!(
        late.len(),
        1,
        "key made by the other process found by the next C_FindObjects"
    );
    s.sign(&Mechanism::Sha256Hmac, late[0], b"x")
        .expect("use the child's late key");
    finish_child(child, "generate");

    fs::write(root.join("parent-mac"), &parent_mac).expect("write mac");
    let verifier = spawn_child(&h.env, "verify");
    finish_child(verifier, "verify");
    assert_eq!(key_labels(&s), expected_labels(&["child-late"]));
}
