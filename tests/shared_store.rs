//! One PostgreSQL-backed token shared by several hosts (issue 14): this
//! test binary re-executes itself as child processes (test `child_process`,
//! active only when KEYWARD_CHILD_ROLE is set), each with its own module
//! instance and its own database connection, standing in for hosts. Every
//! step goes through the real C ABI (and the `keyward` CLI, one more
//! host). Proven here: objects, destructions and deactivations propagate
//! to the other hosts' next call; PIN failure counts and lockout are
//! global; the documented behaviour while the server is down (cached keys
//! for the offline grace, DEVICE_ERROR with a cause for the rest) and full
//! recovery; concurrent keygen/destroy/login with a master-key rotation;
//! writers SIGKILLed mid-transaction lose nothing committed and leave no
//! half of a key pair, no broken audit chain and no leaked PIN attempt.
#![cfg(feature = "postgres")]

mod common;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

const ROLE: &str = "KEYWARD_CHILD_ROLE";
const SYNC: &str = "KEYWARD_SYNC_DIR";
const IDX: &str = "KEYWARD_CHILD_INDEX";
const CHILD_TEST: &str = "child_process";
/// The longest any wait on another process may take.
const TIMEOUT: Duration = Duration::from_secs(120);
/// How long a host may take to see another host's change (it comes by
/// LISTEN/NOTIFY: milliseconds).
const PROPAGATION_BOUND: Duration = Duration::from_secs(5);
const IV: [u8; 16] = [7; 16];

// ---------------------------------------------------------------- helpers

fn signal(dir: &Path, name: &str) {
    fs::write(dir.join(name), b"1").expect("write sync file");
}

/// Wall-clock microseconds: the hosts are processes of one machine, so
/// their clocks agree.
fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_micros()
}

/// Waits for a sync file; fails fast (with the child's output) if `child`
/// exits first.
fn wait_for(dir: &Path, name: &str, mut child: Option<&mut Kid>) {
    let start = Instant::now();
    let path = dir.join(name);
    while !path.exists() {
        if let Some(c) = child.as_deref_mut()
            && let Some(status) = c.child().try_wait().expect("try_wait")
        {
            panic!(
                "child `{}` exited ({status}) before `{name}`:\n{}",
                c.role,
                c.output()
            );
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for `{name}`");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process ("host"); killed if the parent test fails first. Its
/// stdout and stderr go to files (a pipe could fill up and block it).
struct Kid {
    child: Option<Child>,
    role: String,
    out: PathBuf,
    err: PathBuf,
}

impl Kid {
    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child already finished")
    }

    fn output(&self) -> String {
        format!(
            "{}{}",
            fs::read_to_string(&self.out).unwrap_or_default(),
            fs::read_to_string(&self.err).unwrap_or_default()
        )
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for a clean exit of the child's one test.
    fn finish(mut self) -> Kid {
        let mut c = self.child.take().expect("child already finished");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = c.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() > TIMEOUT {
                let _ = c.kill();
                let _ = c.wait();
                panic!("child `{}` timed out:\n{}", self.role, self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.output();
        eprintln!("--- child `{}` output ---\n{out}\n--- end ---", self.role);
        assert!(status.success(), "child `{}` failed: {status}", self.role);
        assert!(
            out.contains("1 passed"),
            "child `{}` did not run its test",
            self.role
        );
        self
    }

    /// SIGKILL, and reap.
    fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(env: &TestEnv, role: &str, index: usize, extra_env: &[(&str, &str)]) -> Kid {
    let exe = std::env::current_exe().expect("current_exe");
    let tag = format!("{role}-{index}");
    let out = env.root.join(format!("{tag}.stdout"));
    let err = env.root.join(format!("{tag}.stderr"));
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(IDX, index.to_string())
        .env(SYNC, &env.root)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .env_remove("KEYWARD_TRACE")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    Kid {
        child: Some(cmd.spawn().expect("spawn child test process")),
        role: tag,
        out,
        err,
    }
}

/// The slot-0 config of a token in a fresh schema of the test server:
/// `top` goes before the `[[slot]]` table, `slot` inside it. None (the
/// test returns) when PostgreSQL is not installed outside CI.
fn pg_config(top: &str, slot: &str) -> Option<String> {
    let server = backend::server()?;
    Some(format!(
        "{top}\n{}{slot}\n",
        backend::slot_toml(0, &pg::fresh_schema(), server)
    ))
}

/// Runs the `keyward` CLI on the test's config with the given PIN
/// variables: (success, stdout, stderr).
fn cli(env: &TestEnv, args: &[&str], pins: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(cli_bin::keyward_bin());
    cmd.args(args)
        .env(ENV_CONF, &env.conf)
        .env(ENV_STORE, &env.store)
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN")
        .stdin(Stdio::null());
    for (k, v) in pins {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run keyward");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn hmac_key(s: &Session, label: &str) -> ObjectHandle {
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

fn aes_key(s: &Session, label: &str) -> cryptoki::error::Result<ObjectHandle> {
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
}

/// C_SignInit, and when it passed C_SignUpdate + C_SignFinal (so no
/// operation stays active): the C_SignInit result.
fn sign_once(s: &Session, key: ObjectHandle) -> cryptoki::error::Result<()> {
    s.sign_init(&Mechanism::Sha256Hmac, key)?;
    s.sign_update(b"shared store")?;
    s.sign_final().map(|_| ())
}

/// Polls C_SignInit every `pace` until it is refused (at most `bound`):
/// the refusal and how long it took.
fn poll_until_refused(
    s: &Session,
    key: ObjectHandle,
    pace: Duration,
    bound: Duration,
) -> (RvError, Duration) {
    let start = Instant::now();
    loop {
        if let Err(e) = sign_once(s, key) {
            let rv = match e {
                cryptoki::error::Error::Pkcs11(rv, _) => rv,
                other => panic!("sign: {other:?}"),
            };
            return (rv, start.elapsed());
        }
        assert!(
            start.elapsed() < bound,
            "C_SignInit still accepted {bound:?} after the other host's change"
        );
        std::thread::sleep(pace);
    }
}

fn label_of(s: &Session, o: ObjectHandle) -> String {
    String::from_utf8(attr_bytes(s, o, AttributeType::Label)).expect("label")
}

fn labels_of_class(s: &Session, class: ObjectClass) -> Vec<String> {
    let mut v: Vec<String> = s
        .find_objects(&[Attribute::Class(class)])
        .expect("find")
        .into_iter()
        .map(|o| label_of(s, o))
        .collect();
    v.sort();
    v
}

fn encrypt_roundtrip(s: &Session, key: ObjectHandle, what: &str) {
    let mech = Mechanism::AesCbcPad(IV);
    let ct = s
        .encrypt(&mech, key, what.as_bytes())
        .unwrap_or_else(|e| panic!("encrypt with {what}: {e}"));
    let pt = s
        .decrypt(&mech, key, &ct)
        .unwrap_or_else(|e| panic!("decrypt with {what}: {e}"));
    assert_eq!(pt, what.as_bytes(), "round trip with {what}");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------- the children

/// The child side: does nothing unless started by one of the tests below.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let sync = PathBuf::from(std::env::var(SYNC).expect("sync dir"));
    let index: usize = std::env::var(IDX)
        .expect("index")
        .parse()
        .expect("numeric index");
    match role.as_str() {
        "propagation" => child_propagation(&sync),
        "pin" => child_pin(&sync),
        "offline" => child_offline(&sync),
        "uses" => child_uses(&sync),
        "logout" => child_logout(&sync),
        "torture" => child_torture(&sync, index),
        "kill9" => child_kill9(&sync, index),
        other => panic!("unknown role {other}"),
    }
}

/// Host B of `changes_propagate_between_hosts`.
fn child_propagation(sync: &Path) {
    let h = Harness::from_env();
    let s = h.user_session();
    wait_for(sync, "a-made", None);
    let found = find_by_label(&s, "from-a");
    assert_eq!(found.len(), 1, "B's next C_FindObjects finds A's key");
    sign_once(&s, found[0]).expect("B uses A's key");
    hmac_key(&s, "from-b");
    // Cache the keys A will change, then poll while A changes them.
    for (label, change, want) in [
        ("k-destroy", "destroy", RvError::KeyHandleInvalid),
        ("k-nosign", "nosign", RvError::KeyFunctionNotPermitted),
        (
            "k-deactivate",
            "deactivate",
            RvError::KeyFunctionNotPermitted,
        ),
    ] {
        let k = find_by_label(&s, label);
        assert_eq!(k.len(), 1, "B finds {label}");
        sign_once(&s, k[0]).expect("B signs before the change");
        sign_once(&s, k[0]).expect("B signs with the cached key");
        signal(sync, &format!("polling-{change}"));
        let (rv, _) = poll_until_refused(&s, k[0], Duration::from_millis(1), PROPAGATION_BOUND * 2);
        let at = now_us();
        assert_eq!(rv, want, "B's C_SignInit after `{change}` on another host");
        fs::write(sync.join(format!("refused-{change}")), at.to_string()).expect("write");
    }
}

/// Host B of `pin_lockout_is_global`.
fn child_pin(sync: &Path) {
    let h = Harness::from_env();
    let s = h.rw_session();
    wait_for(sync, "a-failed-twice", None);
    expect_rv(
        s.login(UserType::User, Some(&pin("0000"))),
        RvError::PinIncorrect,
    );
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
    assert!(h.token_info().user_pin_locked(), "B's token info: locked");
    signal(sync, "b-done");
}

/// Uses `key` for a second, a use every `step`: a key is cached only once
/// the process's change listener is connected, which nothing on the C ABI
/// shows.
fn warm_up(s: &Session, key: ObjectHandle, step: Duration) {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(1) {
        sign_once(s, key).expect("sign: the key is cached");
        std::thread::sleep(step);
    }
}

/// The host of `server_down_then_back`, traced (KEYWARD_TRACE).
fn child_offline(sync: &Path) {
    let h = Harness::from_env();
    let s = h.user_session();
    let cached = hmac_key(&s, "cached");
    // A key is remembered only once this process's change listener (its
    // own connection, opened at C_Initialize) is connected: before that
    // the store has no stamp to trust a cached key by. Nothing on the C
    // ABI shows when that is, so the key is used for a while (50 uses,
    // far below the usage-counter flush at 256).
    warm_up(&s, cached, Duration::from_millis(20));
    signal(sync, "cached");
    wait_for(sync, "down", None);
    let down_at = Instant::now();

    // Within the grace: the cached key works; nothing else does.
    sign_once(&s, cached).expect("cached key signs while the server is down");
    expect_rv(aes_key(&s, "during-outage"), RvError::DeviceError);
    expect_rv(
        token_ec_pair(&s, P256_PARAMS, "pair-during-outage"),
        RvError::DeviceError,
    );
    expect_rv(
        s.find_objects(&[Attribute::Label(b"cached".to_vec())]),
        RvError::DeviceError,
    );
    sign_once(&s, cached).expect("cached key still signs within the grace");

    // After the grace (3 s): the cached key is refused too. Polled every
    // 25 ms (`cached_key_outlives_256_uses_in_the_outage` checks that a
    // usage flush falling in the outage fails no operation).
    let (rv, _) = poll_until_refused(
        &s,
        cached,
        Duration::from_millis(25),
        Duration::from_secs(15),
    );
    let refused_after = down_at.elapsed();
    assert_eq!(rv, RvError::DeviceError, "cached key after the grace");
    eprintln!(
        "cached key refused {} after the outage was seen",
        ms(refused_after)
    );
    assert!(
        refused_after >= Duration::from_millis(2500),
        "refused before the 3 s grace ran out: {refused_after:?}"
    );
    fs::write(
        sync.join("refused-after-ms"),
        refused_after.as_millis().to_string(),
    )
    .expect("write");

    // C_Logout flushes the usage counts gathered since the login: with
    // the server down it answers DEVICE_ERROR (see the report), yet the
    // token is logged out; a new C_Login cannot be checked against the
    // store and answers DEVICE_ERROR.
    let logout = s.logout();
    eprintln!("C_Logout while the server is down: {logout:?}");
    if let Err(e) = logout {
        assert_eq!(rv_of::<()>(Err(e)), RvError::DeviceError, "C_Logout");
    }
    assert_eq!(
        s.get_session_info().expect("session info").session_state(),
        cryptoki::session::SessionState::RwPublic,
        "logged out"
    );
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::DeviceError,
    );
    signal(sync, "down-checked");

    wait_for(sync, "up", None);
    // Back: log in (again), sign, generate.
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login after the restart");
    sign_once(&s, cached).expect("cached key signs after the restart");
    let (_, private) =
        token_ec_pair(&s, P256_PARAMS, "pair-after").expect("key pair after the restart");
    s.sign(&Mechanism::Ecdsa, private, &[1; 32])
        .expect("ECDSA with the new pair");
    signal(sync, "recovered");
}

/// The host of `cached_key_outlives_256_uses_in_the_outage`.
fn child_uses(sync: &Path) {
    const USES: u64 = 300;
    let h = Harness::from_env();
    let s = h.user_session();
    let cached = hmac_key(&s, "cached");
    warm_up(&s, cached, Duration::from_millis(100));
    let before = match attr(
        &s,
        cached,
        AttributeType::VendorDefined(lifecycle::CKA_KEYWARD_USE_COUNT),
    ) {
        Some(Attribute::VendorDefined((_, v))) => {
            u64::from_ne_bytes(v.try_into().expect("CK_ULONG"))
        }
        other => panic!("use count: {other:?}"),
    };
    signal(sync, "cached");
    wait_for(sync, "down", None);
    let down_at = Instant::now();
    for i in 0..USES {
        sign_once(&s, cached).unwrap_or_else(|e| {
            panic!(
                "use {i} of the cached key, {} into the 3 s grace: {e}",
                ms(down_at.elapsed())
            )
        });
    }
    assert!(
        down_at.elapsed() < Duration::from_secs(3),
        "still within the grace"
    );
    signal(sync, "used");
    wait_for(sync, "up", None);
    let after = match attr(
        &s,
        cached,
        AttributeType::VendorDefined(lifecycle::CKA_KEYWARD_USE_COUNT),
    ) {
        Some(Attribute::VendorDefined((_, v))) => {
            u64::from_ne_bytes(v.try_into().expect("CK_ULONG"))
        }
        other => panic!("use count: {other:?}"),
    };
    assert_eq!(after, before + USES, "no use lost to the outage");
}

/// The host of `logout_in_the_outage_drops_private_session_objects`.
fn child_logout(sync: &Path) {
    let h = Harness::from_env();
    let s = h.user_session();
    let cached = hmac_key(&s, "cached");
    sign_once(&s, cached).expect("a use to count: the logout flushes it");
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![5; 32]),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Label(b"session-private".to_vec()),
    ])
    .expect("a private session object");
    signal(sync, "cached");
    wait_for(sync, "down", None);
    let logout = s.logout();
    eprintln!("C_Logout while the server is down: {logout:?}");
    assert_eq!(
        s.get_session_info().expect("session info").session_state(),
        cryptoki::session::SessionState::RwPublic,
        "logged out"
    );
    signal(sync, "logged-out");
    wait_for(sync, "up", None);
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login after the restart");
    assert!(
        find_by_label(&s, "session-private").is_empty(),
        "a private session object survived the logout"
    );
}

/// One of the hosts of `torture_four_hosts_with_rotation`.
fn child_torture(sync: &Path, index: usize) {
    const N: usize = 20;
    let h = Harness::from_env();
    let s = h.user_session();
    signal(sync, &format!("t{index}-ready"));
    wait_for(sync, "go", None);
    let mut kept = Vec::new();
    for i in 0..N {
        let label = format!("t{index}-{i}");
        let k =
            aes_key(&s, &label).unwrap_or_else(|e| panic!("host {index}: generate {label}: {e}"));
        let ct = s
            .encrypt(&Mechanism::AesCbcPad(IV), k, label.as_bytes())
            .unwrap_or_else(|e| panic!("host {index}: encrypt with {label}: {e}"));
        assert!(ct.len() >= 16, "a block at least");
        if i % 2 == 1 {
            s.destroy_object(k)
                .unwrap_or_else(|e| panic!("host {index}: destroy {label}: {e}"));
        } else {
            kept.push(label);
        }
        if i % 5 == 4 {
            s.logout()
                .unwrap_or_else(|e| panic!("host {index}: logout: {e}"));
            s.login(UserType::User, Some(&pin(USER_PIN)))
                .unwrap_or_else(|e| panic!("host {index}: login: {e}"));
        }
        if i == N / 4 {
            signal(sync, &format!("t{index}-quarter"));
        }
    }
    fs::write(sync.join(format!("t{index}-kept")), kept.join("\n")).expect("write kept");
}

/// A writer of `kill9_writers_lose_nothing_committed`: key pairs until it
/// is killed; each label is appended (one write) once
/// C_GenerateKeyPair returned.
fn child_kill9(sync: &Path, index: usize) {
    let h = Harness::from_env();
    let s = h.user_session();
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(sync.join(format!("k{index}.labels")))
        .expect("label log");
    signal(sync, &format!("k{index}-started"));
    for i in 0..2000 {
        let label = format!("k{index}-{i}");
        token_ec_pair(&s, P256_PARAMS, &label)
            .unwrap_or_else(|e| panic!("writer {index}: generate {label}: {e}"));
        log.write_all(format!("{label}\n").as_bytes())
            .expect("log label");
    }
}

// -------------------------------------------------------------- the tests

/// Host A (this process) and host B (a child), each with its own module
/// and connection: what one makes, the other's next C_FindObjects finds;
/// a destruction, a CKA_SIGN cleared and a deactivation (by the CLI, a
/// third host) on A refuse B's next C_SignInit on a key B had cached.
#[test]
fn changes_propagate_between_hosts() {
    let Some(conf) = pg_config("", "") else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let h = Harness::with_config(&conf);
    h.ready();
    let s = h.user_session();
    let root = h.env.root.clone();
    for label in ["k-destroy", "k-nosign", "k-deactivate"] {
        hmac_key(&s, label);
    }
    let mut b = spawn(&h.env, "propagation", 0, &[]);
    hmac_key(&s, "from-a");
    signal(&root, "a-made");

    // B's key, found by A's next search once B made it (B signs with A's
    // key first; "polling-destroy" comes after B generated "from-b").
    wait_for(&root, "polling-destroy", Some(&mut b));
    let from_b = find_by_label(&s, "from-b");
    assert_eq!(from_b.len(), 1, "A's next C_FindObjects finds B's key");
    sign_once(&s, from_b[0]).expect("A uses B's key");

    let mut delays = Vec::new();
    for change in ["destroy", "nosign", "deactivate"] {
        wait_for(&root, &format!("polling-{change}"), Some(&mut b));
        let label = format!("k-{change}");
        let k = find_by_label(&s, &label);
        assert_eq!(k.len(), 1, "A finds {label}");
        match change {
            "destroy" => s.destroy_object(k[0]).expect("A destroys"),
            "nosign" => s
                .update_attributes(k[0], &[Attribute::Sign(false)])
                .expect("A clears CKA_SIGN"),
            _ => {
                let (ok, out, err) = cli(
                    &h.env,
                    &["keys", "deactivate", &label, "--reason", "test"],
                    &[("KEYWARD_PIN", USER_PIN)],
                );
                assert!(ok, "keyward keys deactivate: {out}{err}");
            }
        }
        let done = now_us();
        wait_for(&root, &format!("refused-{change}"), Some(&mut b));
        let refused: u128 = fs::read_to_string(root.join(format!("refused-{change}")))
            .expect("read")
            .parse()
            .expect("micros");
        let delay = Duration::from_micros(u64::try_from(refused.saturating_sub(done)).expect("us"));
        eprintln!("propagation of `{change}` to host B: {}", ms(delay));
        assert!(delay < PROPAGATION_BOUND, "`{change}` took {delay:?}");
        delays.push(delay);
    }
    b.finish();
    eprintln!("propagation delays (destroy, CKA_SIGN=false, deactivate): {delays:?}");
}

/// max_pin_failures = 3 counted across hosts: two wrong user PINs on A,
/// one on B; then the right PIN is refused as locked on both.
#[test]
fn pin_lockout_is_global() {
    let Some(conf) = pg_config("max_pin_failures = 3", "") else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let h = Harness::with_config(&conf);
    h.ready();
    let root = h.env.root.clone();
    let mut b = spawn(&h.env, "pin", 0, &[]);
    let s = h.rw_session();
    for _ in 0..2 {
        expect_rv(
            s.login(UserType::User, Some(&pin("9999"))),
            RvError::PinIncorrect,
        );
    }
    assert!(!h.token_info().user_pin_locked());
    signal(&root, "a-failed-twice");
    wait_for(&root, "b-done", Some(&mut b));
    expect_rv(
        s.login(UserType::User, Some(&pin(USER_PIN))),
        RvError::PinLocked,
    );
    assert!(h.token_info().user_pin_locked(), "A's token info: locked");
    b.finish();
}

/// The server stopped under a logged-in host and started again: the
/// documented failure behaviour (cached keys for the 3 s grace, then
/// DEVICE_ERROR; writes, searches and logins DEVICE_ERROR at once, with
/// the cause in the trace and the CLI), then full recovery with nothing
/// half-written.
#[test]
fn server_down_then_back() {
    if std::env::var_os(backend::ENV_PG_URL).is_some() {
        eprintln!("SKIP: the server is the runner's, not this process's to stop");
        return;
    }
    let Some(conf) = pg_config("", "store_offline_grace_secs = 3") else {
        return;
    };
    let cluster = pg::cluster().expect("cluster");
    let _exclusive = cluster.exclusive();
    let h = Harness::with_config(&conf);
    h.ready();
    let root = h.env.root.clone();
    let mut host = spawn(&h.env, "offline", 0, &[("KEYWARD_TRACE", "1")]);
    wait_for(&root, "cached", Some(&mut host));

    let down = cluster.stop();
    signal(&root, "down");
    let (ok, out, err) = cli(&h.env, &["token", "info"], &[]);
    assert!(!ok, "keyward token info with the server down: {out}");
    assert!(
        err.contains("CKR_DEVICE_ERROR") && err.contains("cause:"),
        "the CLI names the cause: {err}"
    );
    eprintln!("CLI while down: {}", err.trim());
    wait_for(&root, "down-checked", Some(&mut host));
    down.start();
    signal(&root, "up");
    wait_for(&root, "recovered", Some(&mut host));
    let host = host.finish();

    let trace = host.stderr();
    for call in [
        "C_GenerateKey",
        "C_GenerateKeyPair",
        "C_FindObjectsInit",
        "C_SignInit",
    ] {
        let line = trace
            .lines()
            .find(|l| l.starts_with(&format!("keyward: {call} -> CKR_DEVICE_ERROR (cause: ")))
            .unwrap_or_else(|| panic!("no traced cause for {call}:\n{trace}"));
        eprintln!("trace: {line}");
    }

    // Exactly what committed: the cached key and both halves of the pair
    // made after the restart; nothing of the failed generations.
    let s = h.user_session();
    assert_eq!(labels_of_class(&s, ObjectClass::SECRET_KEY), ["cached"]);
    assert_eq!(
        labels_of_class(&s, ObjectClass::PRIVATE_KEY),
        ["pair-after"]
    );
    assert_eq!(labels_of_class(&s, ObjectClass::PUBLIC_KEY), ["pair-after"]);
    assert_eq!(s.find_objects(&[]).expect("find all").len(), 3);
    let (ok, out, err) = cli(&h.env, &["audit", "verify"], &[("KEYWARD_PIN", USER_PIN)]);
    assert!(ok, "audit verify after the outage: {out}{err}");
}

/// A host in `role` caches a key, the server stops, the host does its
/// part and signals `done`, the server comes back; the host checks the
/// rest (its child role) and must end well.
fn outage_scenario(role: &str, done: &str) {
    if std::env::var_os(backend::ENV_PG_URL).is_some() {
        eprintln!("SKIP: the server is the runner's, not this process's to stop");
        return;
    }
    let Some(conf) = pg_config("", "store_offline_grace_secs = 3") else {
        return;
    };
    let cluster = pg::cluster().expect("cluster");
    let _exclusive = cluster.exclusive();
    let h = Harness::with_config(&conf);
    h.ready();
    let root = h.env.root.clone();
    let mut host = spawn(&h.env, role, 0, &[]);
    wait_for(&root, "cached", Some(&mut host));
    let down = cluster.stop();
    signal(&root, "down");
    wait_for(&root, done, Some(&mut host));
    down.start();
    signal(&root, "up");
    host.finish();
}

/// The offline grace holds for any number of uses: during an outage a
/// cached key signs 300 times within the 3 s grace, and none of those
/// uses is lost from CKA_KEYWARD_USE_COUNT.
#[test]
fn cached_key_outlives_256_uses_in_the_outage() {
    outage_scenario("uses", "used");
}

/// A C_Logout during an outage logs the token out (the session is
/// public afterwards) and so must destroy the user's private session
/// objects, as a logout does.
#[test]
fn logout_in_the_outage_drops_private_session_objects() {
    outage_scenario("logout", "logged-out");
}

/// Four hosts at once: login, 20 × (generate a token AES key, encrypt,
/// destroy every other one), logging out and in again every fifth, while
/// this process rotates the master key with the CLI. Then every kept key
/// is found exactly once and works here, no destroyed one is found, and
/// the one audit chain verifies.
#[test]
fn torture_four_hosts_with_rotation() {
    const HOSTS: usize = 4;
    let Some(conf) = pg_config("", "") else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let h = Harness::with_config(&conf);
    h.ready();
    let root = h.env.root.clone();
    // Logged in before the rotation: must follow the new key.
    let s = h.user_session();
    let mut kids: Vec<Kid> = (0..HOSTS)
        .map(|i| spawn(&h.env, "torture", i, &[]))
        .collect();
    for (i, k) in kids.iter_mut().enumerate() {
        wait_for(&root, &format!("t{i}-ready"), Some(k));
    }
    let started = Instant::now();
    signal(&root, "go");
    wait_for(&root, "t0-quarter", Some(&mut kids[0]));
    let (ok, out, err) = cli(
        &h.env,
        &["master-key", "rotate", "--yes"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)],
    );
    assert!(ok, "keyward master-key rotate mid-run: {out}{err}");
    let rotated_at = started.elapsed();
    let running = (0..HOSTS)
        .filter(|i| !root.join(format!("t{i}-kept")).exists())
        .count();
    eprintln!("hosts still running when the rotation ended: {running} of {HOSTS}");
    for k in kids {
        k.finish();
    }
    eprintln!(
        "rotation done {} into the run; all hosts done after {}",
        ms(rotated_at),
        ms(started.elapsed())
    );

    let mut kept = Vec::new();
    for i in 0..HOSTS {
        let text = fs::read_to_string(root.join(format!("t{i}-kept"))).expect("kept labels");
        kept.extend(text.lines().map(str::to_string));
    }
    assert_eq!(kept.len(), HOSTS * 10);
    for label in &kept {
        let found = find_by_label(&s, label);
        assert_eq!(found.len(), 1, "kept key {label} found exactly once");
        encrypt_roundtrip(&s, found[0], label);
    }
    for i in 0..HOSTS {
        for j in (1..20).step_by(2) {
            let label = format!("t{i}-{j}");
            assert!(
                find_by_label(&s, &label).is_empty(),
                "destroyed {label} found"
            );
        }
    }
    let mut all = labels_of_class(&s, ObjectClass::SECRET_KEY);
    kept.sort();
    all.sort();
    assert_eq!(all, kept, "the token holds exactly the kept keys");
    let (ok, out, err) = cli(&h.env, &["audit", "verify"], &[("KEYWARD_PIN", USER_PIN)]);
    assert!(ok, "keyward audit verify: {out}{err}");
}

/// Writers SIGKILLed at random points (some during their start and login,
/// most mid-keygen): every label a writer reported is present with both
/// halves that sign and verify, no half of a pair is alone, the audit
/// chain verifies and no PIN attempt was leaked.
#[test]
fn kill9_writers_lose_nothing_committed() {
    const ROUNDS: usize = 6;
    const WRITERS: usize = 2;
    let Some(conf) = pg_config("", "") else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let h = Harness::with_config(&conf);
    h.ready();
    let root = h.env.root.clone();
    // A small LCG: random enough for kill points, no dependency.
    let mut seed = u64::try_from(now_us() % 1_000_003).expect("seed") | 1;
    let mut rand_ms = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        50 + (seed >> 33) % 351
    };
    let mut index = 0;
    for round in 0..ROUNDS {
        let mut kids: Vec<(usize, Kid)> = (0..WRITERS)
            .map(|_| {
                index += 1;
                (index, spawn(&h.env, "kill9", index, &[]))
            })
            .collect();
        // Odd rounds: killed wherever they are (start-up, login, keygen);
        // even rounds: once they write.
        if round % 2 == 0 {
            for (i, k) in &mut kids {
                wait_for(&root, &format!("k{i}-started"), Some(k));
            }
        }
        let delay = rand_ms();
        std::thread::sleep(Duration::from_millis(delay));
        for (_, k) in kids {
            k.kill9();
        }
        eprintln!("round {round}: writers killed after {delay} ms");
    }

    let mut reported = Vec::new();
    for i in 1..=index {
        if let Ok(text) = fs::read_to_string(root.join(format!("k{i}.labels"))) {
            reported.extend(text.lines().map(str::to_string));
        }
    }
    eprintln!("{} key pairs reported by killed writers", reported.len());
    assert!(!reported.is_empty(), "no writer got as far as one key pair");

    // A fresh login: not locked, no try lost to a killed login.
    let info = h.token_info();
    assert!(!info.user_pin_locked(), "user PIN locked");
    assert!(!info.user_pin_count_low(), "CKF_USER_PIN_COUNT_LOW set");
    let s = h.user_session();
    let privates = labels_of_class(&s, ObjectClass::PRIVATE_KEY);
    let publics = labels_of_class(&s, ObjectClass::PUBLIC_KEY);
    assert_eq!(privates, publics, "a half of a pair alone");
    let mut unique = privates.clone();
    unique.dedup();
    assert_eq!(unique, privates, "a label twice");
    for label in &reported {
        assert!(
            privates.binary_search(label).is_ok(),
            "reported {label} lost"
        );
    }
    eprintln!(
        "{} pairs on the token ({} reported, the rest committed as the kill came)",
        privates.len(),
        reported.len()
    );
    for label in &privates {
        let found = find_by_label(&s, label);
        let class = |o: &ObjectHandle| match attr(&s, *o, AttributeType::Class) {
            Some(Attribute::Class(c)) => c,
            other => panic!("class: {other:?}"),
        };
        let private = found
            .iter()
            .find(|o| class(o) == ObjectClass::PRIVATE_KEY)
            .expect("private half");
        let public = found
            .iter()
            .find(|o| class(o) == ObjectClass::PUBLIC_KEY)
            .expect("public half");
        let sig = s
            .sign(&Mechanism::Ecdsa, *private, &[9; 32])
            .unwrap_or_else(|e| panic!("sign with {label}: {e}"));
        s.verify(&Mechanism::Ecdsa, *public, &[9; 32], &sig)
            .unwrap_or_else(|e| panic!("verify with {label}: {e}"));
    }
    let (ok, out, err) = cli(&h.env, &["audit", "verify"], &[("KEYWARD_PIN", USER_PIN)]);
    assert!(ok, "keyward audit verify after the kills: {out}{err}");
    let info = h.token_info();
    assert!(!info.user_pin_count_low() && !info.user_pin_locked());
}
