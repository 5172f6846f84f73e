//! Master-key rotation that running applications survive (issue 10):
//! another process signs and creates objects through the C ABI in a loop
//! while the master key is rotated, and sees no error at all (before,
//! every call after a rotation answered CKR_USER_NOT_LOGGED_IN); a process
//! that slept through several rotations follows them, up to the kept
//! bound; a rotation killed between (or inside) its batches leaves every
//! row readable, by logged-in processes and by new logins, and the next
//! `rotate` resumes it until every row is sealed under the new key only.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use keyward::api::Library;
use keyward::config::Config;
use keyward::store::rekey::MAX_STEPS;
use keyward::store::seal::blob_key_epoch;
use keyward::store::{TokenDb, public_digest, unseal_object, unwrap_master_key};

const WORKER: &str = "KEYWARD_MKLIVE_WORKER";
const STOP: &str = "KEYWARD_MKLIVE_STOP";
const ROTATOR: &str = "KEYWARD_MKLIVE_ROTATOR";
const ROTATOR_BATCH: &str = "KEYWARD_MKLIVE_BATCH";
const MSG: &[u8] = b"master-key rotation, live";
/// Token objects made before a rotation: more than two batches of 64.
const BULK: usize = 150;
/// The worker's bound: it stops long before, when told to.
const MAX_LOOPS: usize = 5000;
/// Loops the worker runs after it was told to stop (after the last
/// rotation), so calls after the end of the rotation are covered too.
const TAIL_LOOPS: usize = 3;
/// Rotations while the worker runs.
const ROTATIONS: usize = 3;

fn secret(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::ValueLen(32.into()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

fn make_secret(s: &Session, label: &str) -> ObjectHandle {
    s.generate_key(&Mechanism::GenericSecretKeyGen, &secret(label))
        .unwrap_or_else(|e| panic!("generate {label}: {e}"))
}

fn make_pair(s: &Session, label: &str) -> (ObjectHandle, ObjectHandle) {
    common::token_ec_pair(s, P256_PARAMS, label)
        .unwrap_or_else(|e| panic!("generate pair {label}: {e}"))
}

/// The one object of `class` labelled `label`.
fn one(s: &Session, class: ObjectClass, label: &str) -> ObjectHandle {
    let found = s
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("find");
    assert_eq!(found.len(), 1, "{label}: {found:?}");
    found[0]
}

/// HMAC with the secret labelled `label`, and ECDSA sign + verify with the
/// pair labelled `pair`: every object needed is opened (unsealed).
fn use_keys(s: &Session, secrets: &[String], pairs: &[String]) {
    for label in secrets {
        let h = one(s, ObjectClass::SECRET_KEY, label);
        s.sign(&Mechanism::Sha256Hmac, h, MSG)
            .unwrap_or_else(|e| panic!("HMAC with {label}: {e}"));
    }
    for label in pairs {
        let private = one(s, ObjectClass::PRIVATE_KEY, label);
        let public = one(s, ObjectClass::PUBLIC_KEY, label);
        let sig = s
            .sign(&Mechanism::EcdsaSha256, private, MSG)
            .unwrap_or_else(|e| panic!("sign with {label}: {e}"));
        s.verify(&Mechanism::EcdsaSha256, public, MSG, &sig)
            .unwrap_or_else(|e| panic!("verify with {label}: {e}"));
    }
}

fn db() -> TokenDb {
    common::backend::token_db()
}

fn epoch() -> i64 {
    db().meta().unwrap().expect("initialized").epoch
}

/// Per sealed row, whether its blob names the token's current key; also
/// checks that every row opens under the key it names (the current one
/// from the user PIN record, or the old one of an unfinished rotation).
fn rows_under_current_key() -> Vec<bool> {
    let db = db();
    let meta = db.meta().unwrap().expect("initialized");
    let mk = unwrap_master_key(USER_PIN.as_bytes(), 1, meta.user_pin.as_ref().unwrap())
        .expect("the user PIN unwraps the current key");
    let old = db.key_state().unwrap().rotation.map(|r| {
        keyward::store::seal::unwrap_step(
            &mk,
            keyward::store::seal::StepDirection::Previous,
            r.to,
            r.from,
            &r.previous,
        )
        .expect("the current key unwraps the old one")
    });
    let mut out = Vec::new();
    for id in db.object_ids().unwrap() {
        let row = db.object(id).unwrap().unwrap();
        if row.sealed.is_empty() {
            continue;
        }
        let current = blob_key_epoch(&row.sealed) == Ok(Some(meta.epoch));
        let key = if current {
            &mk
        } else {
            old.as_ref()
                .expect("a row under an old key only mid-rotation")
        };
        let digest = public_digest(&row.public);
        unseal_object(key, row.id, row.class, &digest, &row.sealed)
            .unwrap_or_else(|_| panic!("row {id} opens"));
        out.push(current);
    }
    out
}

fn rotate(lib: &Library) -> u64 {
    lib.rotate_master_key(
        0,
        SO_PIN.as_bytes(),
        Some(USER_PIN.as_bytes()),
        &mut |_, _| {},
    )
    .unwrap_or_else(|e| panic!("rotation: {e:?}"))
}

/// The worker process: does nothing unless started by
/// `rotation_while_another_process_signs_and_creates`. Logs in once, then
/// signs with a key pair and creates and uses a new secret key in a loop;
/// any error fails it. Records each new label once its calls returned OK.
#[test]
fn worker_child() {
    let Some(out) = std::env::var_os(WORKER) else {
        return;
    };
    let stop = std::env::var_os(STOP).expect("stop file");
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .expect("open out file");
    let h = Harness::from_env();
    let s = h.rw_session();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let first = epoch();
    let (public, private) = make_pair(&s, "worker-pair");
    let mut tail = None;
    for i in 0..MAX_LOOPS {
        let sig = s
            .sign(&Mechanism::EcdsaSha256, private, MSG)
            .unwrap_or_else(|e| panic!("loop {i}: sign: {e}"));
        s.verify(&Mechanism::EcdsaSha256, public, MSG, &sig)
            .unwrap_or_else(|e| panic!("loop {i}: verify: {e}"));
        let label = format!("worker-{i}");
        let h = make_secret(&s, &label);
        s.sign(&Mechanism::Sha256Hmac, h, MSG)
            .unwrap_or_else(|e| panic!("loop {i}: HMAC: {e}"));
        writeln!(out, "{label}").expect("record");
        out.flush().expect("flush");
        match tail {
            None if Path::new(&stop).exists() => tail = Some(TAIL_LOOPS),
            Some(0) => break,
            Some(n) => tail = Some(n - 1),
            None => {}
        }
    }
    assert!(tail.is_some(), "never told to stop");
    let last = epoch();
    eprintln!("worker: key changed under me: {}", first != last);
}

#[test]
fn rotation_while_another_process_signs_and_creates() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let bulk: Vec<String> = (0..BULK).map(|i| format!("bulk-{i}")).collect();
    for label in &bulk {
        make_secret(&s, label);
    }
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    let out = h.env.root.join("worker.log");
    let stop = h.env.root.join("stop");
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", "worker_child", "--nocapture", "--test-threads=1"])
        .env(WORKER, &out)
        .env(STOP, &stop)
        .env(ENV_CONF, &h.env.conf)
        .env(ENV_STORE, &h.env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker");
    let logged = || fs::read_to_string(&out).unwrap_or_default().lines().count();
    // The worker is logged in and working before the first rotation.
    let mut polls = 0;
    while logged() < 3 {
        if child.try_wait().expect("try_wait").is_some() {
            let result = child.wait_with_output().expect("wait worker");
            panic!(
                "worker ended early:\n{}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            );
        }
        polls += 1;
        assert!(polls < 1_000_000, "worker never started");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    for _ in 0..ROTATIONS {
        assert!(rotate(&lib) >= u64::try_from(BULK).unwrap());
    }
    fs::write(&stop, b"").expect("stop file");
    let result = child.wait_with_output().expect("wait worker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(result.status.success(), "worker failed:\n{text}");
    assert!(text.contains("1 passed"), "worker did not run:\n{text}");
    assert!(
        text.contains("key changed under me: true"),
        "the rotations happened while the worker was logged in:\n{text}"
    );

    // Every row is sealed under the newest key only.
    assert!(rows_under_current_key().iter().all(|c| *c));
    // This process's own login (from before the rotations) still works.
    use_keys(&s, &bulk[..3], &[]);
    // A fresh login uses everything the worker made.
    s.logout().expect("logout");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let made: Vec<String> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(made.len() > 3, "{made:?}");
    use_keys(&s, &made, &["worker-pair".to_string()]);
    use_keys(&s, &bulk, &[]);
}

#[test]
fn a_process_that_slept_through_rotations_follows_them() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    make_secret(&s, "before");
    make_pair(&s, "pair");
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    for _ in 0..3 {
        rotate(&lib);
    }
    // No call in between: three steps to follow.
    use_keys(&s, &["before".into()], &["pair".into()]);
    make_secret(&s, "after");
    use_keys(&s, &["after".into()], &[]);

    // Beyond the kept steps our key cannot reach the token's: a clean
    // CKR_USER_NOT_LOGGED_IN, and a new login works.
    let h_before = one(&s, ObjectClass::SECRET_KEY, "before");
    let steps = usize::try_from(MAX_STEPS).unwrap();
    for _ in 0..=steps {
        rotate(&lib);
    }
    expect_rv(
        s.sign(&Mechanism::Sha256Hmac, h_before, MSG),
        RvError::UserNotLoggedIn,
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login again");
    use_keys(&s, &["before".into(), "after".into()], &["pair".into()]);
}

/// The rotating process of `crash_between_batches_resumes`: rotates (or
/// resumes) through the Library call the CLI uses, with the failpoint its
/// parent set; it should die before returning.
#[test]
fn rotator_child() {
    if std::env::var_os(ROTATOR).is_none() {
        return;
    }
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    // Small batches for the SIGKILL test: many commit points to land on.
    let batch = std::env::var(ROTATOR_BATCH)
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(keyward::store::rekey::REKEY_BATCH);
    let options = keyward::store::rekey::RotateOptions {
        batch,
        ..Default::default()
    };
    let n = lib
        .rotate_master_key_with(
            0,
            SO_PIN.as_bytes(),
            Some(USER_PIN.as_bytes()),
            options,
            &mut |_, _| {},
        )
        .unwrap_or_else(|e| panic!("rotation: {e:?}"));
    eprintln!("rotation returned {n}");
}

fn crash_rotation(env: &TestEnv, failpoint: &str) {
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            "rotator_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROTATOR, "1")
        .env("KEYWARD_FAILPOINT", failpoint)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .output()
        .expect("run rotator");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !text.contains("rotation returned"),
        "{failpoint}: the rotation was not interrupted:\n{text}"
    );
}

#[test]
fn crash_between_batches_resumes() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let secrets: Vec<String> = (0..BULK).map(|i| format!("k{i}")).collect();
    for label in &secrets {
        make_secret(&s, label);
    }
    let pairs: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    for label in &pairs {
        make_pair(&s, label);
    }
    let total = rows_under_current_key().len();
    assert_eq!(total, BULK + 10);
    let before = epoch();

    // (failpoint, rows under the new key afterwards). Batches hold 64
    // rows; `rekey-batch-N` dies after N more batches, `rekey-mid` inside
    // one (losing it); the last crash comes after every batch, before the
    // transaction that ends the rotation.
    let steps = [
        ("rekey-batch-0", 0),
        ("rekey-batch-1", 64),
        ("rekey-mid", 64),
        ("rekey-batch-1", 128),
        ("rekey-batch-1", total),
    ];
    for (failpoint, under_new) in steps {
        crash_rotation(&h.env, failpoint);
        let rows = rows_under_current_key();
        assert_eq!(rows.len(), total, "{failpoint}");
        assert_eq!(
            rows.iter().filter(|c| **c).count(),
            under_new,
            "{failpoint}: rows under the new key"
        );
        assert!(
            db().key_state().unwrap().rotation.is_some(),
            "{failpoint}: unfinished"
        );
        assert_ne!(epoch(), before, "{failpoint}: new logins get the new key");
        // The process logged in before the crash opens every row ...
        use_keys(&s, &secrets, &pairs);
        // ... and so does a new login, and both can write.
        s.logout().expect("logout");
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("login");
        use_keys(&s, &secrets[..5], &pairs[..1]);
    }

    // The next rotate resumes (only the SO PIN is needed) and ends it.
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    let resumed = lib
        .rotate_master_key(0, SO_PIN.as_bytes(), None, &mut |_, _| {})
        .expect("resume");
    assert_eq!(resumed, 0, "every row was already re-sealed");
    assert!(db().key_state().unwrap().rotation.is_none());
    assert!(rows_under_current_key().iter().all(|c| *c));
    use_keys(&s, &secrets, &pairs);

    // And a whole new rotation works after it.
    assert_eq!(rotate(&lib), u64::try_from(total).unwrap());
    assert!(rows_under_current_key().iter().all(|c| *c));
    s.logout().expect("logout");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    use_keys(&s, &secrets, &pairs);
}

#[test]
fn logout_all_leaves_no_way_to_the_new_key() {
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let key = make_secret(&s, "k");
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    rotate(&lib);
    assert_eq!(db().key_state().unwrap().steps.len(), 1);
    let options = keyward::store::rekey::RotateOptions {
        logout_all: true,
        ..Default::default()
    };
    lib.rotate_master_key_with(
        0,
        SO_PIN.as_bytes(),
        Some(USER_PIN.as_bytes()),
        options,
        &mut |_, _| {},
    )
    .expect("rotation");
    // No step is kept, not even the older ones.
    assert!(db().key_state().unwrap().steps.is_empty());
    expect_rv(
        s.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::UserNotLoggedIn,
    );
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login again");
    use_keys(&s, &["k".into()], &[]);
}

/// SIGKILL lands at a random point of a rotation (run with 8-row batches):
/// inside the first transaction, a batch, the last one, or after the end.
/// Whatever the point, every row opens for the process that stayed logged
/// in and for a new login, and a final `rotate` leaves every row under the
/// newest key only. The delays only spread the kill points; nothing is
/// asserted about time. The seed is printed to replay a failure.
#[test]
fn sigkill_at_random_points_then_resume() {
    const ROUNDS: usize = 8;
    let h = Harness::new();
    h.ready();
    let s = h.user_session();
    let secrets: Vec<String> = (0..80).map(|i| format!("s{i}")).collect();
    for label in &secrets {
        make_secret(&s, label);
    }
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill seed {seed}");
    let total = rows_under_current_key().len();
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(std::env::current_exe().expect("current_exe"))
            .args([
                "--exact",
                "rotator_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROTATOR, "1")
            .env(ROTATOR_BATCH, "8")
            .env(ENV_CONF, &h.env.conf)
            .env(ENV_STORE, &h.env.store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rotator");
        std::thread::sleep(std::time::Duration::from_millis(seed % 400));
        let _ = child.kill();
        let status = child.wait().expect("wait rotator");
        eprintln!("round {round}: rotator {status}");
        let rows = rows_under_current_key();
        assert_eq!(rows.len(), total, "round {round}");
        use_keys(&s, &secrets, &[]);
        s.logout().expect("logout");
        s.login(UserType::User, Some(&pin(USER_PIN)))
            .expect("login");
        use_keys(&s, &secrets[..4], &[]);
    }
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    rotate(&lib);
    assert!(db().key_state().unwrap().rotation.is_none());
    assert!(rows_under_current_key().iter().all(|c| *c));
    use_keys(&s, &secrets, &[]);
}
