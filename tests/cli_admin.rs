//! The `keyward` admin commands (audit, backup, master-key, policy) as a
//! script sees them: the built binary run on a temporary store with stdin
//! not a terminal, checked by exit code, messages, JSON and, for tampering
//! and crashes, by reading and editing the token file directly.

#[path = "common/cli_bin.rs"]
mod cli_bin;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

const SO_PIN: &str = "so-pin-1";
const USER_PIN: &str = "user-pin-1";
const PASSPHRASE: &str = "correct horse battery";

/// Every variable the CLI reads; cleared so the caller's shell cannot leak in.
const CLI_ENV: [&str; 9] = [
    "KEYWARD_PIN",
    "KEYWARD_SO_PIN",
    "KEYWARD_NEW_PIN",
    "KEYWARD_NEW_SO_PIN",
    "KEYWARD_BACKUP_PASSPHRASE",
    "KEYWARD_FAILPOINT",
    "KEYWARD_STORE",
    "KEYWARD_TRACE",
    "NO_COLOR",
];

/// A temporary store and the config file that names it.
struct Store {
    dir: TempDir,
    conf: PathBuf,
}

impl Store {
    fn with_config(extra: &str) -> Store {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("keyward.toml");
        let text = format!(
            "store_dir = {:?}\npin_kdf_iterations = 1000\n{extra}",
            dir.path().join("store")
        );
        std::fs::write(&conf, text).unwrap();
        Store { dir, conf }
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The token file of the (only) slot.
    fn token_file(&self) -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.store_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files.pop().unwrap()
    }

    /// Runs the CLI with `env` and an empty stdin.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(cli_bin::keyward_bin());
        for name in CLI_ENV {
            cmd.env_remove(name);
        }
        cmd.env("KEYWARD_CONF", &self.conf)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"").unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI with the user PIN in the environment.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[("KEYWARD_PIN", USER_PIN)])
    }

    /// Runs the CLI with the backup passphrase in the environment.
    fn run_pass(&self, args: &[&str], passphrase: &str) -> Output {
        self.run_with(args, &[("KEYWARD_BACKUP_PASSPHRASE", passphrase)])
    }

    /// An initialized token with the user PIN set and two keys.
    fn with_keys(extra: &str) -> Store {
        let store = Store::with_config(extra);
        ok(&store.run_with(
            &["token", "init", "--label", "cli-test"],
            &[
                ("KEYWARD_NEW_SO_PIN", SO_PIN),
                ("KEYWARD_NEW_PIN", USER_PIN),
            ],
        ));
        for args in [
            &["--type", "ec-p256", "--label", "sig"][..],
            &["--type", "aes-256", "--label", "kek"],
        ] {
            ok(&store.run(&[&["keys", "generate"], args].concat()));
        }
        store
    }

    /// `keys list --json` without what every use changes.
    fn keys(&self) -> Value {
        let mut listed = json_of(&self.run(&["keys", "list", "--json"]));
        for key in listed.as_array_mut().unwrap() {
            let obj = key.as_object_mut().unwrap();
            obj.remove("use_count");
            obj.remove("last_used");
        }
        assert!(!listed.as_array().unwrap().is_empty());
        listed
    }

    /// Every sealed blob in the token file.
    fn sealed(&self) -> Vec<Vec<u8>> {
        let db = rusqlite::Connection::open(self.token_file()).unwrap();
        let mut stmt = db
            .prepare("SELECT sealed FROM object WHERE length(sealed) > 0")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
}

/// Asserts exit `code` and `text` on stderr.
fn fails(out: &Output, code: i32, text: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(text), "{text:?} not in {err:?}");
}

fn json_of(out: &Output) -> Value {
    ok(out);
    serde_json::from_str(&stdout(out)).unwrap()
}

fn events(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect()
}

/// The structure every shown record has: these fields, of these types.
fn check_record(r: &Value) {
    let obj = r.as_object().unwrap();
    for (field, is) in [
        ("seq", Value::is_i64 as fn(&Value) -> bool),
        ("time", Value::is_string),
        ("event", Value::is_string),
        ("result", Value::is_string),
        ("pid", Value::is_u64),
        ("slot", Value::is_u64),
        ("role", Value::is_string),
    ] {
        assert!(obj.get(field).is_some_and(is), "{field} in {r}");
    }
    let known: BTreeSet<&str> = [
        "seq",
        "time",
        "event",
        "result",
        "pid",
        "slot",
        "role",
        "object",
        "label",
        "class",
        "key_type",
        "mechanism",
        "detail",
        "fingerprint",
        "user",
        "host",
        "program",
        "hash",
        "mac",
    ]
    .into();
    for k in obj.keys() {
        assert!(known.contains(k.as_str()), "unexpected field {k} in {r}");
    }
}

#[test]
fn audit_show_filters_export_and_tampering() {
    let store = Store::with_keys("");
    // Showing needs no PIN.
    let all = json_of(&store.run_with(&["audit", "show", "--json"], &[]));
    let names = events(&all);
    for e in ["token_init", "login", "generate"] {
        assert!(names.iter().any(|n| n == e), "{e} not in {names:?}");
    }
    let seqs: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            check_record(r);
            r["seq"].as_i64().unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let generated = json_of(&store.run(&["audit", "show", "--event", "generate", "--json"]));
    assert!(events(&generated).iter().all(|e| e == "generate"));
    let labels: BTreeSet<&str> = generated
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["label"].as_str())
        .collect();
    assert_eq!(labels, ["kek", "sig"].into());
    let out = store.run(&["audit", "show", "--event", "nonsense"]);
    fails(&out, 2, "token_init");

    // --key by label (logs in) and by #object id (no PIN) agree.
    let kek = json_of(&store.run(&["audit", "show", "--key", "kek", "--json"]));
    let kek_records = kek.as_array().unwrap();
    assert!(!kek_records.is_empty());
    let object = kek_records[0]["object"].as_str().unwrap().to_string();
    assert!(kek_records.iter().all(|r| r["object"] == json!(object)));
    assert!(kek_records.iter().any(|r| r["event"] == "generate"));
    let by_id = json_of(&store.run_with(
        &["audit", "show", "--key", &format!("#{object}"), "--json"],
        &[],
    ));
    assert_eq!(events(&by_id), events(&kek));
    let table = store.run_with(&["audit", "show", "--event", "token_init"], &[]);
    ok(&table);
    let text = stdout(&table);
    assert!(text.trim_start().starts_with("seq"), "{text}");
    assert!(
        text.contains("token_init") && !text.contains("generate"),
        "{text}"
    );

    // Export: one JSON record a line, to stdout or a file.
    let out = store.run_with(&["audit", "export"], &[]);
    ok(&out);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= seqs.len());
    lines.iter().for_each(check_record);
    let file = store.dir.path().join("audit.jsonl");
    ok(&store.run_with(&["audit", "export", "--out", file.to_str().unwrap()], &[]));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() >= seqs.len());

    let out = store.run(&["audit", "verify"]);
    ok(&out);
    assert!(
        stdout(&out).starts_with("audit trail OK: "),
        "{}",
        stdout(&out)
    );
    let verdict = json_of(&store.run_with(&["audit", "verify", "--chain-only", "--json"], &[]));
    assert_eq!(verdict["findings"], json!([]));
    assert_eq!(verdict["authenticated"], json!(0));
    fails(&store.run_with(&["audit", "verify"], &[]), 3, "KEYWARD_PIN");

    // Edit one record's body behind the token's back.
    let target = seqs[2];
    {
        let db = rusqlite::Connection::open(store.token_file()).unwrap();
        db.execute_batch("DROP TRIGGER audit_no_update").unwrap();
        let body: Vec<u8> = db
            .query_row("SELECT body FROM audit WHERE seq = ?1", [target], |r| {
                r.get(0)
            })
            .unwrap();
        let mut record: Value = serde_json::from_slice(&body).unwrap();
        let pid = record["pid"].as_u64().unwrap();
        record["pid"] = json!(pid + 1);
        let n = db
            .execute(
                "UPDATE audit SET body = ?1 WHERE seq = ?2",
                rusqlite::params![serde_json::to_vec(&record).unwrap(), target],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let out = store.run(&["audit", "verify"]);
    fails(&out, 5, "failed verification");
    assert!(
        stdout(&out).contains(&format!("record {target}: ")),
        "{}",
        stdout(&out)
    );
    let out = store.run_with(&["audit", "verify", "--chain-only", "--json"], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdict["findings"][0]["seq"], json!(target));
}

#[test]
fn backup_verify_and_restore() {
    let store = Store::with_keys("");
    let before = store.keys();
    let backup = store.dir.path().join("token.kwb");
    let backup_arg = backup.to_str().unwrap();
    let info = json_of(&store.run_pass(
        &["backup", "create", "--out", backup_arg, "--json"],
        PASSPHRASE,
    ));
    assert_eq!(info["label"], json!("cli-test"));
    assert!(info["objects"].as_u64().unwrap() >= 3, "{info}");
    assert!(info["bytes"].as_u64().unwrap() > 0);
    assert!(info["created"].is_string());
    // An existing backup file is not overwritten.
    fails(
        &store.run_pass(&["backup", "create", "--out", backup_arg], PASSPHRASE),
        1,
        "already exists",
    );
    fails(
        &store.run_with(&["backup", "create", "--out", "/nonexistent/x"], &[]),
        3,
        "KEYWARD_BACKUP_PASSPHRASE",
    );
    let verified =
        json_of(&store.run_pass(&["backup", "verify", backup_arg, "--json"], PASSPHRASE));
    assert_eq!(verified, info);
    fails(
        &store.run_pass(&["backup", "verify", backup_arg], "wrong"),
        5,
        "wrong backup passphrase",
    );
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let flipped = store.dir.path().join("flipped.kwb");
    std::fs::write(&flipped, &bytes).unwrap();
    let flipped_arg = flipped.to_str().unwrap();
    fails(
        &store.run_pass(&["backup", "verify", flipped_arg], PASSPHRASE),
        5,
        "damaged",
    );

    // The token exists: refused without confirmation (tests/backup_restore.rs
    // covers the restore over a live token).
    fails(
        &store.run_pass(&["backup", "restore", backup_arg, "--force"], PASSPHRASE),
        3,
        "KEYWARD_SO_PIN",
    );
    // Wipe the store: a bad file or passphrase writes nothing.
    std::fs::remove_dir_all(store.store_dir()).unwrap();
    fails(
        &store.run_pass(&["backup", "restore", backup_arg], "wrong"),
        5,
        "wrong backup passphrase",
    );
    fails(
        &store.run_pass(&["backup", "restore", flipped_arg], PASSPHRASE),
        5,
        "damaged",
    );
    assert!(!store.store_dir().exists());
    ok(&store.run_pass(&["backup", "restore", backup_arg], PASSPHRASE));
    assert_eq!(store.keys(), before);
    let restored = json_of(&store.run(&["audit", "show", "--event", "restore", "--json"]));
    assert_eq!(events(&restored), ["restore"]);

    // --store restores elsewhere.
    let other = store.dir.path().join("other");
    ok(&store.run_pass(
        &[
            "backup",
            "restore",
            backup_arg,
            "--store",
            other.to_str().unwrap(),
        ],
        PASSPHRASE,
    ));
    let files: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert!(!files.is_empty());
}

#[test]
fn master_key_rotation_reseals_everything() {
    let store = Store::with_keys("");
    let keys = store.keys();
    let blobs = store.sealed();
    assert!(blobs.len() >= 2, "{}", blobs.len());
    let pins = [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)];
    fails(
        &store.run_with(&["master-key", "rotate"], &pins),
        2,
        "--yes",
    );
    fails(
        &store.run_with(
            &["master-key", "rotate", "--yes"],
            &[("KEYWARD_SO_PIN", "wrong-so"), ("KEYWARD_PIN", USER_PIN)],
        ),
        3,
        "CKR_PIN_INCORRECT",
    );
    assert_eq!(store.sealed(), blobs);
    let out = store.run_with(&["master-key", "rotate", "--yes"], &pins);
    ok(&out);
    assert!(
        stdout(&out).contains(&format!("{} objects re-sealed", blobs.len())),
        "{}",
        stdout(&out)
    );
    let after = store.sealed();
    assert_eq!(after.len(), blobs.len());
    assert!(after.iter().all(|b| !blobs.contains(b)));
    assert_eq!(store.keys(), keys);

    // The PINs can also come from --pin-fd 0 (stdin): SO PIN, user PIN.
    let mut child = Command::new(cli_bin::keyward_bin());
    for name in CLI_ENV {
        child.env_remove(name);
    }
    let mut child = child
        .env("KEYWARD_CONF", &store.conf)
        .args(["master-key", "rotate", "--yes", "--pin-fd", "0", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{SO_PIN}\n{USER_PIN}\n").as_bytes())
        .unwrap();
    let shown = json_of(&child.wait_with_output().unwrap());
    assert_eq!(shown["resealed"], json!(blobs.len()));
    assert_eq!(store.keys(), keys);
    let rotations =
        json_of(&store.run(&["audit", "show", "--event", "master_key_rotate", "--json"]));
    assert_eq!(events(&rotations).len(), 2);
}

#[test]
fn a_crash_during_rotation_leaves_the_token_usable() {
    let store = Store::with_keys("");
    let keys = store.keys();
    let blobs = store.sealed();
    let out = store.run_with(
        &["master-key", "rotate", "--yes"],
        &[
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_PIN", USER_PIN),
            ("KEYWARD_FAILPOINT", "rekey-mid"),
        ],
    );
    // Aborted (killed by SIGABRT), not a clean exit.
    assert!(!out.status.success());
    assert_eq!(out.status.code(), None, "stderr: {}", stderr(&out));
    assert_eq!(store.keys(), keys);
    assert_eq!(store.sealed(), blobs);
    ok(&store.run(&["audit", "verify"]));
    ok(&store.run_with(
        &["master-key", "rotate", "--yes"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)],
    ));
    assert_eq!(store.keys(), keys);
}

/// The policy's fields, in order; a new field must be added here (and to
/// docs) on purpose.
const POLICY_FIELDS: [&str; 18] = [
    "min_rsa_bits",
    "allowed_curves",
    "allowed_mechanisms",
    "sha1_signatures",
    "max_cryptoperiod_days",
    "strict_key_separation",
    "allow_extractable",
    "rsa_pkcs1v15_decryption",
    "wrap_separation",
    "cbc_mac",
    "poly1305",
    "usage_only_lowered",
    "sensitive_wrap_needs_trusted",
    "unwrapped_keys_sensitive",
    "min_ec_bits",
    "min_rsa_verify_bits",
    "dsa_signatures",
    "min_dh_bits",
];

#[test]
fn policy_show_reflects_the_config() {
    let store = Store::with_config("");
    let policy = json_of(&store.run_with(&["policy", "show", "--json"], &[]));
    let fields: BTreeSet<&str> = policy
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, POLICY_FIELDS.into());
    assert_eq!(policy["min_rsa_bits"], json!(2048));
    assert_eq!(policy["allowed_curves"], Value::Null);
    let out = store.run_with(&["policy", "show"], &[]);
    ok(&out);
    assert!(stdout(&out).contains("min_rsa_bits"), "{}", stdout(&out));

    let strict = Store::with_config(
        "[policy]\nmin_rsa_bits = 3072\nallowed_curves = [\"P-256\"]\nallow_extractable = false\n",
    );
    let policy = json_of(&strict.run_with(&["policy", "show", "--json"], &[]));
    assert_eq!(policy["min_rsa_bits"], json!(3072));
    assert_eq!(policy["allow_extractable"], json!(false));
    assert_eq!(policy["allowed_curves"], json!(["P-256"]));
}
