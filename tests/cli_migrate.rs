//! `keyward token migrate` end to end (issue 14, "CLI and migration"): an
//! SQLite token with an EC pair, an AES key, a data object and a key used a
//! few times, moved to a PostgreSQL schema and back to a new directory; at
//! each stop the keys work through the C ABI under the same labels, the
//! `keys list` inventory (use counts, lifecycle attributes) is unchanged,
//! and both audit chains verify and hold their `token_migrated` record.
//! Then the refusals (each leaves both sides as they were), a migration
//! while another process signs with the source, and encrypted backups of a
//! PostgreSQL token.

#![cfg(feature = "postgres")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::backend::{self, Server};
use common::{Harness, SO_PIN, TestEnv, USER_PIN, cli_bin, config_text, pg, token_ec_pair};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde_json::Value;

const HASH: [u8; 32] = [0x5a; 32];
const IV: [u8; 16] = [7; 16];
const PLAIN: &[u8] = b"migrated with the same key";

/// Every variable the CLI reads; cleared so the caller's shell cannot leak in.
const CLI_ENV: [&str; 9] = [
    "KEYWARD_PIN",
    "KEYWARD_SO_PIN",
    "KEYWARD_NEW_PIN",
    "KEYWARD_NEW_SO_PIN",
    "KEYWARD_BACKUP_PASSPHRASE",
    "KEYWARD_STORE",
    "KEYWARD_STORE_PASSWORD",
    "KEYWARD_TRACE",
    "NO_COLOR",
];

/// Runs the CLI on the config `conf` with `env`.
fn cli(conf: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(cli_bin::keyward_bin());
    for name in CLI_ENV {
        cmd.env_remove(name);
    }
    cmd.env("KEYWARD_CONF", conf)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.output().unwrap()
}

fn user(conf: &Path, args: &[&str]) -> Output {
    cli(conf, args, &[("KEYWARD_PIN", USER_PIN)])
}

fn so(conf: &Path, args: &[&str]) -> Output {
    cli(conf, args, &[("KEYWARD_SO_PIN", SO_PIN)])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// Asserts a non-zero exit `code` and `text` on stderr.
fn fails(out: &Output, code: i32, text: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(text), "{text:?} not in {err:?}");
}

fn json_of(out: &Output) -> Value {
    ok(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `keys list --json` of the token `conf` names.
fn keys(conf: &Path) -> Value {
    json_of(&user(conf, &["keys", "list", "--json"]))
}

/// The `token_migrated` details on the audit chain of `conf`'s token,
/// after checking that the chain verifies.
fn migrations(conf: &Path) -> Vec<String> {
    ok(&user(conf, &["audit", "verify"]));
    let records = json_of(&user(conf, &["audit", "show", "--json"]));
    records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == "token_migrated")
        .map(|r| r["detail"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The number of audit records of `conf`'s token.
fn audit_len(conf: &Path) -> usize {
    let records = json_of(&user(conf, &["audit", "show", "--json"]));
    records.as_array().unwrap().len()
}

/// A config file `root/name` with `extra` (its store_dir `root/name.d`).
fn write_conf(root: &Path, name: &str, extra: &str) -> PathBuf {
    let conf = root.join(name);
    std::fs::write(&conf, config_text(&root.join(format!("{name}.d")), extra)).unwrap();
    conf
}

/// `token migrate` arguments to a fresh `schema` on `server`.
fn to_pg<'a>(server: &'a Server, schema: &'a str) -> Vec<&'a str> {
    vec![
        "token",
        "migrate",
        "--to",
        &server.url,
        "--schema",
        schema,
        "--password-file",
        server.password_file.to_str().unwrap(),
    ]
}

/// What the C-ABI part leaves behind to check on the next store.
struct Made {
    signature: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn one(s: &Session, template: &[Attribute]) -> ObjectHandle {
    let found = s.find_objects(template).unwrap();
    assert_eq!(found.len(), 1, "{template:?}");
    found[0]
}

fn labelled(s: &Session, class: ObjectClass, label: &str) -> ObjectHandle {
    one(
        s,
        &[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
}

/// On the fresh token of `h`: an EC pair "sig" (signs three times), an
/// AES key "kek" (encrypts once) and a data object "note".
fn make_objects(h: &Harness) -> Made {
    h.ready();
    let s = h.user_session();
    let (_, private) = token_ec_pair(&s, common::P256_PARAMS, "sig").unwrap();
    let mut signature = Vec::new();
    for _ in 0..3 {
        signature = s.sign(&Mechanism::Ecdsa, private, &HASH).unwrap();
    }
    let kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(b"kek".to_vec()),
            ],
        )
        .unwrap();
    let ciphertext = s.encrypt(&Mechanism::AesCbcPad(IV), kek, PLAIN).unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"note".to_vec()),
        Attribute::Application(b"cli_migrate".to_vec()),
        Attribute::Value(b"a data object".to_vec()),
    ])
    .unwrap();
    Made {
        signature,
        ciphertext,
    }
}

/// The objects of `make_objects` work on the token `h` now opens: the old
/// signature verifies, a new one does, the old ciphertext decrypts.
fn check_objects(h: &Harness, made: &Made) {
    let s = h.user_session();
    let public = labelled(&s, ObjectClass::PUBLIC_KEY, "sig");
    let private = labelled(&s, ObjectClass::PRIVATE_KEY, "sig");
    s.verify(&Mechanism::Ecdsa, public, &HASH, &made.signature)
        .unwrap();
    let fresh = s.sign(&Mechanism::Ecdsa, private, &HASH).unwrap();
    s.verify(&Mechanism::Ecdsa, public, &HASH, &fresh).unwrap();
    let kek = labelled(&s, ObjectClass::SECRET_KEY, "kek");
    let plain = s
        .decrypt(&Mechanism::AesCbcPad(IV), kek, &made.ciphertext)
        .unwrap();
    assert_eq!(plain, PLAIN);
    let note = labelled(&s, ObjectClass::DATA, "note");
    let value = s.get_attributes(note, &[AttributeType::Value]).unwrap();
    assert_eq!(value, vec![Attribute::Value(b"a data object".to_vec())]);
    s.logout().unwrap();
}

/// Points the module (and the CLI runs that follow) at `conf`.
fn use_conf(h: &mut Harness, conf: &Path) {
    // SAFETY: the harness holds the process-wide test lock, so no other
    // thread reads or writes the environment meanwhile.
    unsafe { std::env::set_var(common::ENV_CONF, conf) };
    unsafe { std::env::remove_var(common::ENV_STORE) };
    h.initialize();
}

/// The `use_count` of the object labelled `label` and of class `class`.
fn use_count(list: &Value, label: &str, class: &str) -> u64 {
    list.as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == label && k["class"] == class)
        .and_then(|k| k["use_count"].as_u64())
        .unwrap_or(0)
}

#[test]
fn migrates_to_postgres_and_back() {
    let Some(server) = backend::server() else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let mut h = Harness::start(TestEnv::with_config(""));
    let made = make_objects(&h);
    h.finalize();
    let root = h.env.root.clone();
    let sqlite_conf = h.env.conf.clone();
    // A key out of use, with the reason on it.
    ok(&user(
        &sqlite_conf,
        &["keys", "generate", "--type", "aes-128", "--label", "old"],
    ));
    ok(&user(
        &sqlite_conf,
        &[
            "keys",
            "deactivate",
            "old",
            "--reason",
            "retired before the move",
        ],
    ));
    let before = keys(&sqlite_conf);
    assert_eq!(use_count(&before, "sig", "private"), 3, "{before}");
    let old = before
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "old")
        .unwrap();
    assert_eq!(old["state"], "deactivated", "{old}");
    assert_eq!(old["state_reason"], "retired before the move", "{old}");

    // SQLite → PostgreSQL.
    let schema = pg::fresh_schema();
    let shown = json_of(&so(
        &sqlite_conf,
        &[&to_pg(server, &schema)[..], &["--json"]].concat(),
    ));
    // The EC pair's two halves, two AES keys, the data object: every
    // row is sealed, so every one is opened on the target.
    assert_eq!(shown["objects"], 5, "{shown}");
    assert_eq!(shown["verified"], 5, "{shown}");
    let config = shown["config"].as_str().unwrap();
    assert!(config.contains(&schema), "{config}");
    assert!(!config.contains(&pg_password()), "{config}");
    let pg_conf = write_conf(&root, "pg.toml", config);
    assert_eq!(keys(&pg_conf), before, "the inventory moved unchanged");
    let on_source = migrations(&sqlite_conf);
    assert_eq!(on_source.len(), 1, "{on_source:?}");
    assert!(
        on_source[0].contains("copied to postgresql://"),
        "{on_source:?}"
    );
    assert!(on_source[0].contains(&schema), "{on_source:?}");
    let on_pg = migrations(&pg_conf);
    assert_eq!(on_pg.len(), 1, "{on_pg:?}");
    assert!(on_pg[0].contains("copied from"), "{on_pg:?}");
    use_conf(&mut h, &pg_conf);
    check_objects(&h, &made);
    h.finalize();
    let after_use = keys(&pg_conf);
    assert_eq!(use_count(&after_use, "sig", "private"), 4, "{after_use}");

    // PostgreSQL → a new directory.
    // A quote in the name: the printed configuration must still parse.
    let back = root.join("back \"dir\"");
    let shown = json_of(&so(
        &pg_conf,
        &["token", "migrate", "--to", back.to_str().unwrap(), "--json"],
    ));
    assert_eq!(shown["objects"], 5, "{shown}");
    let config = shown["config"].as_str().unwrap();
    let dir_conf = root.join("dir.toml");
    std::fs::write(&dir_conf, format!("pin_kdf_iterations = 1000\n{config}")).unwrap();
    assert_eq!(keys(&dir_conf), after_use);
    assert_eq!(migrations(&pg_conf).len(), 2);
    let on_dir = migrations(&dir_conf);
    // The PostgreSQL chain came along with its "copied from" record (the
    // "copied to" one is appended to a source after its rows are copied).
    assert_eq!(on_dir.len(), 2, "{on_dir:?}");
    assert!(
        on_dir.iter().all(|d| d.contains("copied from")),
        "{on_dir:?}"
    );
    use_conf(&mut h, &dir_conf);
    check_objects(&h, &made);
}

/// The cluster's password (never to be printed).
fn pg_password() -> String {
    let server = backend::server().unwrap();
    std::fs::read_to_string(&server.password_file)
        .unwrap()
        .trim()
        .to_string()
}

/// A CLI-made SQLite token with two keys, in `dir`.
fn cli_token(dir: &Path) -> PathBuf {
    let conf = write_conf(dir, "src.toml", "");
    ok(&cli(
        &conf,
        &["token", "init", "--label", "mig-src"],
        &[
            ("KEYWARD_NEW_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_PIN", USER_PIN),
        ],
    ));
    for args in [
        &["--type", "ec-p256", "--label", "sig"][..],
        &["--type", "aes-256", "--label", "kek"],
    ] {
        ok(&user(&conf, &[&["keys", "generate"], args].concat()));
    }
    conf
}

fn so_failures(conf: &Path) -> i64 {
    let file = conf.with_extension("toml.d").join("slot-0.sqlite");
    let file = if file.exists() {
        file
    } else {
        std::fs::read_dir(conf.with_extension("toml.d"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
            .unwrap()
    };
    let db = rusqlite::Connection::open(file).unwrap();
    db.query_row("SELECT so_failures FROM token", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn refusals_write_nothing() {
    let Some(server) = backend::server() else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let dir = tempfile::tempdir().unwrap();
    let conf = cli_token(dir.path());
    let schema = pg::fresh_schema();
    let pg_conf = write_conf(
        dir.path(),
        "pg.toml",
        &backend::slot_toml(0, &schema, server),
    );

    // Wrong SO PIN: counted on the source, nothing on the target.
    let audit = audit_len(&conf);
    let out = cli(
        &conf,
        &to_pg(server, &schema),
        &[("KEYWARD_SO_PIN", "not-the-so-pin")],
    );
    fails(&out, 3, "wrong SO PIN");
    assert_eq!(so_failures(&conf), 1);
    assert!(audit_len(&conf) > audit, "the failed login is audited");
    assert_eq!(schema_exists(&schema), Some(false), "no schema was created");
    let target = root_dir(dir.path(), "dir-target");
    let out = cli(
        &conf,
        &["token", "migrate", "--to", target.to_str().unwrap()],
        &[("KEYWARD_SO_PIN", "not-the-so-pin")],
    );
    fails(&out, 3, "wrong SO PIN");
    assert_eq!(so_failures(&conf), 2);
    let left: Vec<_> = std::fs::read_dir(&target)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a refused migration left {left:?}");

    // The same schema twice: the second is refused, nothing changes.
    ok(&so(&conf, &to_pg(server, &schema)));
    assert_eq!(schema_exists(&schema), Some(true));
    assert_eq!(so_failures(&conf), 0, "a good SO PIN resets the count");
    let (src_len, pg_len) = (audit_len(&conf), audit_len(&pg_conf));
    let out = so(&conf, &to_pg(server, &schema));
    fails(&out, 1, "already holds a token");
    assert_eq!(audit_len(&conf), src_len);
    assert_eq!(audit_len(&pg_conf), pg_len);
    assert_eq!(migrations(&conf).len(), 1);

    // A password in the URL: refused before anything is opened, and not
    // echoed.
    let url = server
        .url
        .replacen("keyward_test@", "keyward_test:hunter2secret@", 1);
    assert_ne!(url, server.url);
    let out = so(
        &conf,
        &["token", "migrate", "--to", &url, "--schema", "s_pw"],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("password"), "{err}");
    assert!(!err.contains("hunter2secret"), "{err}");

    // --schema (or --password-file) with a directory target.
    let out = so(
        &conf,
        &[
            "token",
            "migrate",
            "--to",
            target.to_str().unwrap(),
            "--schema",
            "x",
        ],
    );
    fails(
        &out,
        2,
        "--schema and --password-file go with a postgres:// target",
    );

    // An unreachable server: a port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // TLS required (a plain TCP URL is refused before any connection).
    let url = format!("postgresql://keyward_test@localhost:{port}/keyward_test?sslmode=require");
    let started = Instant::now();
    let out = cli(
        &conf,
        &["token", "migrate", "--to", &url, "--schema", "s_down"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_STORE_PASSWORD", "x")],
    );
    let took = started.elapsed();
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("cannot open the target store") && err.contains("Connection refused"),
        "the cause is named: {err}"
    );
    assert!(!err.contains("the token refused"), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // A directory that already holds the slot's token file.
    ok(&so(
        &conf,
        &["token", "migrate", "--to", target.to_str().unwrap()],
    ));
    let src_len = audit_len(&conf);
    let out = so(
        &conf,
        &["token", "migrate", "--to", target.to_str().unwrap()],
    );
    fails(&out, 1, "already exists");
    assert_eq!(audit_len(&conf), src_len);
    assert_eq!(migrations(&conf).len(), 2);
}

/// Whether the test cluster has `schema` (None: the cluster is not this
/// process's own, or psql is missing).
fn schema_exists(schema: &str) -> Option<bool> {
    let cluster = pg::cluster()?;
    let psql = ["/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"]
        .into_iter()
        .find(|p| Path::new(p).is_file())?;
    let out = Command::new(psql)
        .args(["-X", "-tA", "-U", "pgadmin", "-d", "keyward_test", "-h"])
        .arg(cluster.socket_dir())
        .arg("-p")
        .arg(cluster.port.to_string())
        .arg("-c")
        .arg(format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"
        ))
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", stderr(&out));
    Some(String::from_utf8_lossy(&out.stdout).trim() == "1")
}

fn root_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}

/// The child of `migrates_while_another_process_signs`: signs with "sig"
/// until the file KEYWARD_TEST_STOP exists, then writes its count there
/// as `done N`.
#[test]
fn child_signer() {
    let Ok(stop) = std::env::var("KEYWARD_TEST_STOP") else {
        return;
    };
    let stop = PathBuf::from(stop);
    let h = Harness::from_env();
    let s = h.user_session();
    let private = labelled(&s, ObjectClass::PRIVATE_KEY, "sig");
    let public = labelled(&s, ObjectClass::PUBLIC_KEY, "sig");
    let mut n = 0u64;
    let started = stop.with_extension("started");
    while !stop.exists() {
        let sig = s.sign(&Mechanism::Ecdsa, private, &HASH).unwrap();
        s.verify(&Mechanism::Ecdsa, public, &HASH, &sig).unwrap();
        n += 1;
        // A write now and then: it waits while the migration holds the
        // token's write lock (well under SQLite's 10 s busy timeout).
        if n.is_multiple_of(10) {
            s.create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Label(format!("child-{n}").into_bytes()),
                Attribute::Value(vec![1]),
            ])
            .unwrap();
        }
        // After two writes: the copy has the child's objects to carry.
        if n == 25 {
            std::fs::write(&started, "").unwrap();
        }
    }
    std::fs::write(stop.with_extension("done"), format!("done {n}")).unwrap();
}

#[test]
fn migrates_while_another_process_signs() {
    let Some(server) = backend::server() else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let dir = tempfile::tempdir().unwrap();
    let conf = cli_token(dir.path());
    let stop = dir.path().join("stop");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_signer", "--nocapture"])
        .env("KEYWARD_CONF", &conf)
        .env("KEYWARD_STORE", conf.with_extension("toml.d"))
        .env("KEYWARD_TEST_STOP", &stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.with_extension("started").exists() {
        assert!(Instant::now() < deadline, "the child never signed");
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let schema = pg::fresh_schema();
    let shown = json_of(&so(
        &conf,
        &[&to_pg(server, &schema)[..], &["--json"]].concat(),
    ));
    assert_eq!(shown["verified"], shown["objects"], "{shown}");
    let copied = shown["objects"].as_u64().unwrap();
    assert!(copied >= 5, "{shown}");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&stop, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let done = std::fs::read_to_string(stop.with_extension("done")).unwrap();
    assert!(done.starts_with("done "), "{done}");
    let pg_conf = write_conf(dir.path(), "pg.toml", shown["config"].as_str().unwrap());
    assert_eq!(migrations(&pg_conf).len(), 1);
    assert_eq!(migrations(&conf).len(), 1, "the source chain verifies too");
    // The child's uses are counted on the source (its counters are
    // flushed there, after the copy at the latest); the target has what
    // the source had when it was copied.
    let signed: u64 = done.trim_start_matches("done ").parse().unwrap();
    let on_source = use_count(&keys(&conf), "sig", "private");
    assert_eq!(on_source, signed);
    let on_target = use_count(&keys(&pg_conf), "sig", "private");
    assert!(on_target <= on_source, "{on_target} > {on_source}");
    // Every object the child made is on the source; the target has those
    // made before the copy.
    let file = conf.with_extension("toml.d").join("slot-0.sqlite");
    let db = rusqlite::Connection::open(file).unwrap();
    let on_file: i64 = db
        .query_row("SELECT count(*) FROM object", [], |r| r.get(0))
        .unwrap();
    let on_file = u64::try_from(on_file).unwrap();
    assert_eq!(on_file, 3 + signed / 10);
    assert!(copied <= on_file, "{copied} > {on_file}");
}

const PASSPHRASE: &str = "correct horse battery";

fn backup_temp_dirs() -> usize {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("keyward-backup-")
            })
        })
        .count()
}

/// A PostgreSQL token's backup has the format of any other: it verifies,
/// and restores into a directory whose token is the same; a restore over
/// the PostgreSQL token itself is refused with the way round it.
#[test]
fn backs_up_a_postgres_token() {
    let Some(server) = backend::server() else {
        return;
    };
    let _up = pg::cluster().map(|c| c.up());
    let dir = tempfile::tempdir().unwrap();
    let schema = pg::fresh_schema();
    let conf = write_conf(
        dir.path(),
        "pg.toml",
        &backend::slot_toml(0, &schema, server),
    );
    ok(&cli(
        &conf,
        &["token", "init", "--label", "pg-backup"],
        &[
            ("KEYWARD_NEW_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_PIN", USER_PIN),
        ],
    ));
    for args in [
        &["--type", "ec-p256", "--label", "sig"][..],
        &["--type", "aes-256", "--label", "kek"],
    ] {
        ok(&user(&conf, &[&["keys", "generate"], args].concat()));
    }
    let before = keys(&conf);
    let pass = [("KEYWARD_BACKUP_PASSPHRASE", PASSPHRASE)];

    let temps = backup_temp_dirs();
    let file = dir.path().join("pg.kwbackup");
    let f = file.to_str().unwrap();
    let made = json_of(&cli(
        &conf,
        &["backup", "create", "--out", f, "--json"],
        &pass,
    ));
    assert_eq!(made["objects"], 3, "{made}");
    assert_eq!(made["label"], "pg-backup", "{made}");
    assert_eq!(backup_temp_dirs(), temps, "the temporary copy is removed");
    assert_eq!(&std::fs::read(&file).unwrap()[..8], b"KWBACKUP");
    let checked = json_of(&cli(&conf, &["backup", "verify", f, "--json"], &pass));
    assert_eq!(checked["objects"], 3, "{checked}");
    // Refused again over an existing file, before any copy.
    fails(
        &cli(&conf, &["backup", "create", "--out", f], &pass),
        1,
        "already exists",
    );

    // Over the PostgreSQL token itself: refused, the token untouched.
    let out = cli(
        &conf,
        &["backup", "restore", f, "--yes"],
        &[
            ("KEYWARD_BACKUP_PASSPHRASE", PASSPHRASE),
            ("KEYWARD_SO_PIN", SO_PIN),
        ],
    );
    fails(&out, 1, "not supported; restore it into a directory");
    assert!(stderr(&out).contains("token migrate"), "{}", stderr(&out));
    assert_eq!(keys(&conf), before);

    // Into a directory: the same token, its trail verified, the backup
    // and the restore recorded on it.
    let restored = dir.path().join("restored");
    ok(&cli(
        &conf,
        &[
            "backup",
            "restore",
            "--store",
            restored.to_str().unwrap(),
            f,
        ],
        &pass,
    ));
    let dir_conf = dir.path().join("dir.toml");
    std::fs::write(&dir_conf, config_text(&restored, "")).unwrap();
    assert_eq!(keys(&dir_conf), before);
    ok(&user(&dir_conf, &["token", "check"]));
    ok(&user(&dir_conf, &["audit", "verify"]));
    let events: Vec<String> = json_of(&user(&dir_conf, &["audit", "show", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    let at = |e: &str| events.iter().position(|x| x == e);
    assert!(at("backup").is_some(), "{events:?}");
    assert!(at("backup") < at("restore"), "{events:?}");
}
