//! Master-key rotation under fire: writer processes (this test binary
//! re-executed, test `writer_child`) generate, import and rename token
//! objects in a loop through the C ABI while this process rotates the
//! master key again and again, and SIGKILLs writers at random points.
//! Every object whose call returned CKR_OK must afterwards be found and
//! usable, every stored row must unseal under the current master key, and
//! one more rotation must succeed. Before the epoch was checked inside the
//! write transaction, a writer that sealed just before a rotation committed
//! its row under the old key after it, and all of this failed.
//!
//! Since rotations no longer log anyone out (issue 10), a writer must never
//! see CKR_USER_NOT_LOGGED_IN: it follows each rotation by itself. That it
//! raced rotations is shown by the token epoch changing while it worked.

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use keyward::api::Library;
use keyward::config::Config;
use keyward::store::{public_digest, unseal_object, unwrap_master_key};

const ROLE: &str = "KEYWARD_TORTURE_WRITER";
const OUT: &str = "KEYWARD_TORTURE_OUT";
const CHILD_TEST: &str = "writer_child";
/// Writer processes running at once.
const WRITERS: usize = 4;
/// Successful operations each writer performs (if not killed).
const OPS: usize = 24;
/// Rounds of writers; in each, one writer is SIGKILLed at a random point.
const ROUNDS: usize = 3;
/// Upper bound on rotations per round (they stop when the writers end).
const MAX_ROTATIONS: usize = 60;
/// Pause between polls of the children; only paces the loop, nothing
/// is asserted about time.
const POLL: Duration = Duration::from_millis(2);
const MSG: &[u8] = b"rotation torture";
/// The rotator never gets this many rotations ahead of a live writer's
/// last completed operation. A process that sleeps through more than
/// `MAX_STEPS` rotations is logged out by design (it cannot follow
/// them); on a loaded machine a writer can be descheduled that long, so
/// without this pacing the test would measure the scheduler.
const PACE: usize = (keyward::store::rekey::MAX_STEPS / 2) as usize;

/// What a writer did, one line each, written only after CKR_OK.
fn record(out: &mut fs::File, line: &str) {
    writeln!(out, "{line}").expect("write record");
    out.flush().expect("flush record");
}

fn login(s: &Session) {
    match s.login(UserType::User, Some(&pin(USER_PIN))) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("re-login: {e}"),
    }
}

fn secret_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// One operation; `Ok(record line)` once it returned CKR_OK.
fn operate(
    s: &Session,
    op: usize,
    label: &str,
    secrets: &mut Vec<(ObjectHandle, String)>,
) -> cryptoki::error::Result<String> {
    match op % 4 {
        0 => {
            let mut t = secret_template(label);
            t.push(Attribute::ValueLen(32.into()));
            let h = s.generate_key(&Mechanism::GenericSecretKeyGen, &t)?;
            secrets.push((h, label.to_string()));
            Ok(format!("secret {label}"))
        }
        1 => {
            common::token_ec_pair(s, P256_PARAMS, label)?;
            Ok(format!("pair {label}"))
        }
        2 => {
            let mut t = secret_template(label);
            t.push(Attribute::Value(label.as_bytes().repeat(2)));
            let h = s.create_object(&t)?;
            secrets.push((h, label.to_string()));
            Ok(format!("secret {label}"))
        }
        _ => {
            // C_SetAttributeValue re-seals the row: rename the newest key.
            let Some((h, old)) = secrets.last().cloned() else {
                return Ok(String::new());
            };
            s.update_attributes(h, &[Attribute::Label(label.as_bytes().to_vec())])?;
            if let Some(last) = secrets.last_mut() {
                last.1 = label.to_string();
            }
            Ok(format!("rename {old} {label}"))
        }
    }
}

/// The writer side: does nothing unless started by the torture test.
#[test]
fn writer_child() {
    let Ok(tag) = std::env::var(ROLE) else {
        return;
    };
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::var(OUT).expect("out file"))
        .expect("open out file");
    let h = Harness::from_env();
    let s = h.rw_session();
    login(&s);
    let epoch = || {
        let db = common::backend::token_db();
        db.meta().unwrap().expect("initialized").epoch
    };
    let mut secrets = Vec::new();
    let mut epochs = vec![epoch()];
    for done in 0..OPS {
        let label = format!("{tag}-{done}");
        // Any error, CKR_USER_NOT_LOGGED_IN included, fails the writer.
        let line = operate(&s, done, &label, &mut secrets)
            .unwrap_or_else(|e| panic!("{tag} op {done}: {e}"));
        if !line.is_empty() {
            record(&mut out, &line);
        }
        epochs.push(epoch());
    }
    epochs.dedup();
    let rotations = epochs.len() - 1;
    eprintln!("writer {tag}: {OPS} ops, {rotations} rotations seen");
}

struct Writer {
    child: Option<Child>,
    out: PathBuf,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_writer(env: &TestEnv, tag: &str) -> Writer {
    let out = env.root.join(format!("{tag}.log"));
    let child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, tag)
        .env(OUT, &out)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    Writer {
        child: Some(child),
        out,
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A small xorshift generator seeded from the clock: the kill points vary
/// from run to run, and the seed is printed to replay a failure.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }
}

/// Waits for a writer; returns how many rotations it worked through.
fn reap(w: &mut Writer, killed: bool) -> usize {
    let mut c = w.child.take().expect("writer already reaped");
    let status = c.wait().expect("wait writer");
    let mut text = String::new();
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    if let Some(mut o) = c.stdout.take() {
        let _ = o.read_to_string(&mut text);
    }
    if !killed {
        assert!(status.success(), "writer failed ({status}):\n{text}");
        assert!(text.contains("1 passed"), "writer did not run:\n{text}");
    }
    text.lines()
        .filter_map(|l| l.split(" ops, ").nth(1))
        .filter_map(|l| l.strip_suffix(" rotations seen"))
        .filter_map(|n| n.parse::<usize>().ok())
        .sum()
}

/// Labels of live objects by kind, replaying every writer's records.
fn expected(logs: &[PathBuf]) -> (Vec<String>, Vec<String>) {
    let (mut secrets, mut pairs) = (Vec::new(), Vec::new());
    for log in logs {
        for line in lines(log) {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[..] {
                ["secret", l] => secrets.push(l.to_string()),
                ["pair", l] => pairs.push(l.to_string()),
                ["rename", old, new] => {
                    let at = secrets.iter().position(|l| l == old);
                    let at = at.unwrap_or_else(|| panic!("rename of unknown {old}"));
                    secrets[at] = new.to_string();
                }
                _ => panic!("bad record {line:?}"),
            }
        }
    }
    (secrets, pairs)
}

/// Every stored row opens under the current master key (unwrapped from
/// the user PIN record): the full integrity check after the kills.
fn assert_every_row_unseals(_path: &Path) -> usize {
    let db = common::backend::token_db();
    let meta = db.meta().unwrap().expect("initialized");
    let mk = unwrap_master_key(USER_PIN.as_bytes(), 1, meta.user_pin.as_ref().unwrap())
        .expect("user PIN unwraps the current master key");
    let mut bad = Vec::new();
    let ids = db.object_ids().unwrap();
    for id in &ids {
        let row = db.object(*id).unwrap().unwrap();
        let digest = public_digest(&row.public);
        // Under the current key only: the rotation ended.
        let named = keyward::store::seal::blob_key_epoch(&row.sealed);
        if row.sealed.is_empty()
            || named != Ok(Some(meta.epoch))
            || unseal_object(&mk, row.id, row.class, &digest, &row.sealed).is_err()
        {
            bad.push(row.id);
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} rows do not unseal: {bad:?}",
        bad.len(),
        ids.len()
    );
    ids.len()
}

#[test]
fn rotations_lose_no_key() {
    let h = Harness::with_config("max_pin_failures = 1000");
    h.ready();
    let lib = Library::new(Config::from_env().expect("config")).expect("library");
    let slot = 0;
    let rotate = || {
        lib.rotate_master_key(
            slot,
            SO_PIN.as_bytes(),
            Some(USER_PIN.as_bytes()),
            &mut |_, _| {},
        )
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill seed {seed}");
    let mut rng = Rng(seed);
    let mut logs = Vec::new();
    let (mut rotations, mut raced) = (0, 0);
    // Writers SIGKILLed: a kill can land after a call's commit and before
    // its record line.
    let mut victims: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let mut writers: Vec<Writer> = (0..WRITERS)
            .map(|w| spawn_writer(&h.env, &format!("r{round}w{w}")))
            .collect();
        logs.extend(writers.iter().map(|w| w.out.clone()));
        let victim = rng.below(WRITERS);
        // Killed once it has recorded this many operations (or at once).
        let kill_after = rng.below(OPS);
        let mut killed = false;
        let writing = AtomicBool::new(true);
        let alive: Vec<AtomicBool> = (0..WRITERS).map(|_| AtomicBool::new(true)).collect();
        let outs: Vec<PathBuf> = writers.iter().map(|w| w.out.clone()).collect();
        // Rotations run in their own thread while this one watches for
        // the kill point, so a kill lands mid-work, not between rotations.
        let done = std::thread::scope(|scope| {
            let rotator = scope.spawn(|| {
                let mut n = 0;
                // Per writer: lines seen, and the rotation count then.
                let mut seen = [(0usize, 0usize); WRITERS];
                while writing.load(Ordering::SeqCst) && n < MAX_ROTATIONS {
                    // Pacing (see PACE): wait while a live writer has not
                    // finished an operation in the last PACE rotations.
                    loop {
                        let mut behind = false;
                        for (i, out) in outs.iter().enumerate() {
                            let done = lines(out).len();
                            if done != seen[i].0 {
                                seen[i] = (done, n);
                            }
                            behind |= alive[i].load(Ordering::SeqCst) && n - seen[i].1 >= PACE;
                        }
                        if !behind || !writing.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(POLL);
                    }
                    if !writing.load(Ordering::SeqCst) {
                        break;
                    }
                    rotate().unwrap_or_else(|e| panic!("rotation failed: {e:?}"));
                    n += 1;
                }
                n
            });
            loop {
                if !killed && lines(&writers[victim].out).len() >= kill_after {
                    if let Some(c) = writers[victim].child.as_mut() {
                        c.kill().expect("SIGKILL writer");
                    }
                    killed = true;
                }
                let mut running = false;
                for (i, w) in writers.iter_mut().enumerate() {
                    let live = w
                        .child
                        .as_mut()
                        .is_some_and(|c| c.try_wait().expect("try_wait").is_none());
                    alive[i].store(live, Ordering::SeqCst);
                    running |= live;
                }
                if !running || rotator.is_finished() {
                    break;
                }
                std::thread::sleep(POLL);
            }
            writing.store(false, Ordering::SeqCst);
            rotator.join()
        });
        rotations += done.unwrap_or_else(|e| std::panic::resume_unwind(e));
        for (i, w) in writers.iter_mut().enumerate() {
            raced += reap(w, killed && i == victim);
        }
        if killed {
            victims.push(format!("r{round}w{victim}"));
        }
    }
    eprintln!("{rotations} rotations, {raced} seen by writers while logged in");
    // The writers worked through rotations (without a re-login): the race
    // was exercised.
    assert!(raced > 0, "no writer ever raced a rotation");

    // One more rotation succeeds, then every row opens.
    rotate().expect("a rotation after the torture");
    let db_path = Config::from_env().expect("config").token_path(slot);
    let rows = assert_every_row_unseals(&db_path);

    let (secrets, pairs) = expected(&logs);
    assert!(
        !secrets.is_empty() && !pairs.is_empty(),
        "writers recorded work"
    );
    let s = h.user_session();
    for label in &secrets {
        let mut found = find_by_label(&s, label);
        // A killed writer's newest key may carry the label of a rename
        // that committed but was not recorded: the same key, renamed to the
        // writer's next label.
        if found.is_empty()
            && let Some((tag, n)) = label.rsplit_once('-')
            && victims.iter().any(|v| v == tag)
            && let Ok(n) = n.parse::<usize>()
        {
            let renamed = format!("{tag}-{}", n + 1);
            if !secrets.contains(&renamed) {
                found = find_by_label(&s, &renamed);
            }
        }
        assert_eq!(
            found.len(),
            1,
            "secret key {label} (returned CKR_OK) is found"
        );
        s.sign(&Mechanism::Sha256Hmac, found[0], MSG)
            .unwrap_or_else(|e| panic!("HMAC with {label}: {e}"));
    }
    for label in &pairs {
        let find = |class| {
            s.find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .expect("find")
        };
        let (private, public) = (
            find(ObjectClass::PRIVATE_KEY),
            find(ObjectClass::PUBLIC_KEY),
        );
        assert_eq!(
            (private.len(), public.len()),
            (1, 1),
            "pair {label} is whole"
        );
        let sig = s
            .sign(&Mechanism::EcdsaSha256, private[0], MSG)
            .unwrap_or_else(|e| panic!("sign with {label}: {e}"));
        s.verify(&Mechanism::EcdsaSha256, public[0], MSG, &sig)
            .unwrap_or_else(|e| panic!("verify with {label}: {e}"));
    }
    // Pairs are stored in one transaction: a kill leaves no half pair.
    let count = |class| {
        s.find_objects(&[Attribute::Class(class)])
            .expect("find")
            .len()
    };
    assert_eq!(
        count(ObjectClass::PRIVATE_KEY),
        count(ObjectClass::PUBLIC_KEY),
        "as many private as public keys"
    );
    eprintln!(
        "{rows} rows; {} secret keys and {} pairs recorded, all usable",
        secrets.len(),
        pairs.len()
    );
}
