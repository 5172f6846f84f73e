//! Audit records that commit with `synchronous = NORMAL` (docs/AUDIT.md):
//! a wrap's record is committed before C_WrapKey returns, so a process
//! SIGKILLed right after the call never loses it; several processes
//! wrapping at once keep one valid chain; and the relaxed appends leave
//! every other write (key creation, PIN records) at FULL.
//!
//! The child side re-executes this test binary (test `child_process`,
//! active only when KEYWARD_CHILD_ROLE is set), like tests/multiprocess.rs.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::CKU_USER;
use keyward::audit::{Verdict, verify};
use keyward::store::TokenDb;
use keyward::store::audit::{AuditFilter, AuditRow};
use keyward::store::seal::{AuditKey, unwrap_master_key};

const ROLE: &str = "KEYWARD_CHILD_ROLE";
const SYNC: &str = "KEYWARD_SYNC_DIR";
const COUNT: &str = "KEYWARD_CHILD_COUNT";
const CHILD_TEST: &str = "child_process";
/// Only a guard against a hung child, never part of what is asserted.
const TIMEOUT: Duration = Duration::from_secs(300);
const KEK: &str = "kek";
const TARGET: &str = "target";
/// What a child prints after each C_WrapKey that returned CKR_OK.
const WRAPPED: &str = "wrapped ";

fn aes_template(label: &str, extra: &[Attribute]) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    t.extend_from_slice(extra);
    t
}

/// A token with a wrapping key and an extractable (not sensitive: the
/// default policy wraps a sensitive key only under a trusted one) target.
fn token_with_keys() -> Harness {
    let mut h = Harness::new();
    h.ready();
    {
        let s = h.user_session();
        for (label, extra) in [
            (KEK, vec![Attribute::Wrap(true), Attribute::Sensitive(true)]),
            (
                TARGET,
                vec![Attribute::Extractable(true), Attribute::Sensitive(false)],
            ),
        ] {
            s.generate_key(&Mechanism::AesKeyGen, &aes_template(label, &extra))
                .unwrap_or_else(|e| panic!("generate {label}: {e}"));
        }
    }
    // The children are the only users of the token from here on.
    h.finalize();
    h
}

fn one(s: &Session, label: &str) -> ObjectHandle {
    let found = find_by_label(s, label);
    assert_eq!(found.len(), 1, "exactly one object labelled {label}");
    found[0]
}

fn spawn_child(env: &TestEnv, role: &str, count: usize) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(SYNC, &env.root)
        .env(COUNT, count.to_string())
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process")
}

/// Kills and reaps the children if the test fails before waiting for them.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn token_file(env: &TestEnv) -> PathBuf {
    env.store.join("slot-0.sqlite")
}

/// The audit key, unwrapped with the user PIN as the library would.
fn audit_key(db: &TokenDb) -> AuditKey {
    let meta = db.meta().unwrap().expect("initialized token");
    let rec = meta.user_pin.expect("user PIN set");
    let role = u8::try_from(CKU_USER).unwrap();
    let mk = unwrap_master_key(USER_PIN.as_bytes(), role, &rec).unwrap();
    let wrapped = db.audit_key_wrapped().unwrap().expect("audit key stored");
    AuditKey::unwrap(&mk, &wrapped).unwrap()
}

/// The library's verdict on the whole trail (MACs included) and the
/// records of `event`.
fn trail(path: &Path, event: &str) -> (Verdict, Vec<AuditRow>) {
    let db = TokenDb::open(path).unwrap();
    let key = audit_key(&db);
    let (rows, head) = db.audit_trail().unwrap();
    let v = verify(&rows, head.as_ref(), Some(&key));
    let of = db
        .audit_rows(&AuditFilter {
            event: Some(event.to_string()),
            ..AuditFilter::default()
        })
        .unwrap();
    (v, of)
}

#[track_caller]
fn assert_clean(v: &Verdict, rows_breaks: usize, what: &str) {
    assert!(
        v.ok(),
        "{what}: the trail does not verify: {:?}",
        v.findings
    );
    assert_eq!(rows_breaks, 0, "{what}: audit_break records were written");
}

/// The child side: does nothing unless started by a test below.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let sync = PathBuf::from(std::env::var(SYNC).expect("sync dir"));
    let count: usize = std::env::var(COUNT).expect("count").parse().expect("n");
    let h = Harness::from_env();
    let s = h.user_session();
    let (kek, target) = (one(&s, KEK), one(&s, TARGET));
    let mut out = std::io::stdout();
    match role.as_str() {
        // Wraps until killed (`count` bounds it), reporting each success
        // only after C_WrapKey has returned the bytes.
        "wrap-until-killed" => {
            for i in 0..count {
                let w = s
                    .wrap_key(&Mechanism::AesKeyWrap, kek, target)
                    .expect("wrap");
                assert_eq!(w.len(), 40);
                writeln!(out, "{WRAPPED}{i}").expect("report");
                out.flush().expect("flush");
            }
        }
        // Starts with the others, then wraps `count` times with a key
        // generation (a FULL commit) every tenth wrap.
        "wrap-n" => {
            fs::write(sync.join(format!("ready-{}", std::process::id())), b"1").expect("ready");
            while !sync.join("go").exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
            for i in 0..count {
                s.wrap_key(&Mechanism::AesKeyWrap, kek, target)
                    .expect("wrap");
                if i % 10 == 9 {
                    let label = format!("made-{}-{i}", std::process::id());
                    s.generate_key(&Mechanism::AesKeyGen, &aes_template(&label, &[]))
                        .expect("generate");
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// Rounds of: a child wraps in a loop and reports each wrap; the parent
/// SIGKILLs it after a varying number of reports (the child is then
/// somewhere inside its next C_WrapKey: before, inside or after the
/// record's commit). Every reported wrap has its record, no killed call
/// left more than one unreported record, and the chain verifies with no
/// break, so the next process extends it cleanly.
#[test]
fn wrap_records_survive_sigkill() {
    let h = token_with_keys();
    let path = token_file(&h.env);
    let mut reported_total = 0usize;
    const ROUNDS: usize = 8;
    for round in 0..ROUNDS {
        let mut kids = Children(vec![spawn_child(&h.env, "wrap-until-killed", 100_000)]);
        let child = &mut kids.0[0];
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let kill_after = 1 + (round * 7) % 13;
        let started = Instant::now();
        let mut reported = 0usize;
        while reported < kill_after {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("round {round}: child ended early"))
                .expect("read child output");
            // libtest may print "test child_process ... " ahead of the
            // first report, on the same line.
            if line.contains(WRAPPED) {
                reported += 1;
            }
            assert!(started.elapsed() < TIMEOUT, "round {round}: child hung");
        }
        // Vary where inside the next call the kill lands.
        std::thread::sleep(Duration::from_micros(((round * 389) % 1500) as u64));
        // SIGKILL (a child that somehow finished its bounded loop first is
        // just as good: every claim below still holds).
        let _ = child.kill();
        child.wait().expect("reap child");
        // Reports written before the kill and not read yet still count.
        for line in lines {
            match line {
                Ok(l) if l.contains(WRAPPED) => reported += 1,
                _ => {}
            }
        }
        reported_total += reported;
        let (v, wraps) = trail(&path, "wrap");
        let (_, breaks) = trail(&path, "audit_break");
        assert_clean(&v, breaks.len(), &format!("round {round}"));
        assert!(
            wraps.len() >= reported_total,
            "round {round}: {} wrap records for {reported_total} wraps returned",
            wraps.len()
        );
        assert!(
            wraps.len() <= reported_total + round + 1,
            "round {round}: {} wrap records, more than {reported_total} returned plus one \
             in flight per killed child",
            wraps.len()
        );
    }
    eprintln!("{ROUNDS} children killed after {reported_total} reported wraps");
}

/// Three processes wrap at once, with key generations (FULL commits)
/// interleaved: one chain, every record there, nothing broken.
#[test]
fn concurrent_wrappers_keep_one_valid_chain() {
    const PROCESSES: usize = 3;
    const WRAPS: usize = 30;
    let h = token_with_keys();
    let path = token_file(&h.env);
    let mut kids = Children(
        (0..PROCESSES)
            .map(|_| spawn_child(&h.env, "wrap-n", WRAPS))
            .collect(),
    );
    let started = Instant::now();
    let ready = |root: &Path| {
        fs::read_dir(root)
            .expect("sync dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("ready-"))
            })
            .count()
    };
    while ready(&h.env.root) < PROCESSES {
        for c in &mut kids.0 {
            if let Some(status) = c.try_wait().expect("try_wait") {
                panic!("a child exited ({status}) before starting");
            }
        }
        assert!(started.elapsed() < TIMEOUT, "children never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    fs::write(h.env.root.join("go"), b"1").expect("go");
    for c in &mut kids.0 {
        let status = c.wait().expect("wait for child");
        let mut err = String::new();
        if let Some(mut e) = c.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert!(status.success(), "child failed: {status}\n{err}");
    }
    kids.0.clear();
    let (v, wraps) = trail(&path, "wrap");
    let (_, breaks) = trail(&path, "audit_break");
    assert_clean(&v, breaks.len(), "after concurrent wraps");
    assert_eq!(wraps.len(), PROCESSES * WRAPS, "one record per wrap");
    let (_, made) = trail(&path, "generate");
    // Two keys from set-up, then one per ten wraps per process.
    assert_eq!(made.len(), 2 + PROCESSES * WRAPS / 10);
    let seqs: Vec<i64> = wraps.iter().map(|r| r.seq).collect();
    let mut sorted = seqs.clone();
    sorted.dedup();
    assert_eq!(sorted, seqs, "one record per seq");
}

/// Relaxed (NORMAL) appends on a connection leave the writes that must
/// survive power loss at FULL: `PRAGMA synchronous` read inside a write
/// transaction of the same connection after each relaxed append (the
/// failure paths are unit tests in src/store/audit.rs). Then wraps and a
/// key generation interleaved through the C ABI keep one clean chain.
#[test]
fn relaxed_appends_leave_key_writes_full() {
    let h = token_with_keys();
    let path = token_file(&h.env);
    let db = TokenDb::open(&path).unwrap();
    assert_eq!(db.synchronous_in_write().unwrap(), 2, "FULL to start with");
    let entry =
        keyward::token::audit::entry(&keyward::audit::Event::new("wrap"), 0, "public", None, None);
    for _ in 0..3 {
        db.append_audit_relaxed(&entry).unwrap();
        assert_eq!(db.synchronous_in_write().unwrap(), 2, "FULL after relaxed");
    }
    // Through the module: wraps (relaxed) then a key generation (FULL)
    // on one connection, beside this process's own connection.
    let mut h = h;
    h.initialize();
    let s = h.user_session();
    let (kek, target) = (one(&s, KEK), one(&s, TARGET));
    for _ in 0..3 {
        s.wrap_key(&Mechanism::AesKeyWrap, kek, target)
            .expect("wrap");
    }
    s.generate_key(&Mechanism::AesKeyGen, &aes_template("after", &[]))
        .expect("generate after wraps");
    let (v, wraps) = trail(&path, "wrap");
    let (_, breaks) = trail(&path, "audit_break");
    assert_clean(&v, breaks.len(), "after wraps");
    assert_eq!(wraps.len(), 3 + 3);
}
