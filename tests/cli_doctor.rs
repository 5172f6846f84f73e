//! `keyward doctor` and `keyward metrics` (issue 16) through the built
//! command: a healthy token exits 0; a locked PIN, a key past its end date
//! (the same token seen 20 days later through libfaketime), a damaged row
//! and an unreadable store or configuration each exit 9 with the problem
//! named; `--login` never risks locking the PIN. The metrics are parsed by
//! prometheus_client's OpenMetrics parser and their values checked; the
//! completions load in bash and the man pages render with man(1).

mod cli_support;

use std::path::Path;
use std::process::Command;

use cli_support::{SO_PIN, Store, USER_PIN, fails, json_of, ok, stderr, stdout};
use serde_json::Value;

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether `tool` runs; a missing one fails under CI=true.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found || !ci(), "{tool} is not installed (CI=true)");
    if !found {
        eprintln!("SKIP: {tool} is not installed");
    }
    found
}

fn doctor_json(store: &Store, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let out = store.run_with(&[&["doctor", "--json"], args].concat(), env, None);
    let v = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), v)
}

/// The checks of a report whose `field` ("status", "check") is `value`.
fn checks_where<'a>(report: &'a Value, field: &str, value: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c[field] == value)
        .collect()
}

fn with_status<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    checks_where(report, "status", status)
}

fn check<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    checks_where(report, "check", name)
}

/// `keyward metrics` parsed by prometheus_client: (name, labels, value).
fn metrics(store: &Store, args: &[&str]) -> Option<Vec<(String, Value, f64)>> {
    let out = store.run_with(&[&["metrics"], args].concat(), &[], None);
    ok(&out);
    parse_metrics(&out.stdout)
}

fn parse_metrics(text: &[u8]) -> Option<Vec<(String, Value, f64)>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/openmetrics_check.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(77) {
        assert!(!ci(), "prometheus_client is not installed (CI=true)");
        eprintln!("SKIP: prometheus_client is not installed");
        return None;
    }
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the output: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
    let samples: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        samples
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["labels"].clone(),
                    s["value"].as_f64().unwrap(),
                )
            })
            .collect(),
    )
}

/// The value of sample `name` whose labels include `labels`.
fn value(samples: &[(String, Value, f64)], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .map(|(_, _, v)| *v)
}

/// An expected sample: its name, some of its labels, its value.
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Asserts each expected sample.
fn assert_samples(samples: &[(String, Value, f64)], expected: &[Expected]) {
    for (name, labels, want) in expected {
        assert_eq!(
            value(samples, name, labels),
            Some(*want),
            "{name} {labels:?}"
        );
    }
}

fn date_in(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn backed_up(store: &Store) {
    let out = store.dir.path().join("token.kwbak");
    ok(&store.run_with(
        &["backup", "create", "--out", out.to_str().unwrap()],
        &[("KEYWARD_BACKUP_PASSPHRASE", "backup-passphrase-1")],
        None,
    ));
}

/// A token with a signing key, an AES key and a backup: nothing to report.
fn healthy() -> Store {
    let store = Store::initialized();
    ok(&store.run(&["keys", "generate", "--type", "ec-p256", "--label", "sig"]));
    ok(&store.run(&["keys", "generate", "--type", "aes-256", "--label", "kek"]));
    backed_up(&store);
    store
}

#[test]
fn a_healthy_token_exits_0_with_every_check_shown() {
    let store = healthy();
    let out = store.run_with(&["doctor"], &[], None);
    ok(&out);
    let text = stdout(&out);
    for part in [
        "configuration",
        "store",
        "\"cli-test\"",
        "SO PIN",
        "user PIN",
        "10 of 10 tries left",
        "backup",
        "audit trail",
        "chain verified",
        "row scan",
        "healthy: no problem found",
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }
    let (code, report) = doctor_json(&store, &[], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["healthy"], true);
    assert_eq!(report["problems"], 0);
    assert!(with_status(&report, "problem").is_empty(), "{report:#}");
    assert!(with_status(&report, "warning").is_empty(), "{report:#}");
    // No login without --login: the row scan is skipped, never asked for.
    assert_eq!(check(&report, "row scan")[0]["status"], "info");

    // --login: private keys counted, MACs verified, every row scanned.
    let (code, report) = doctor_json(&store, &["--login"], &[("KEYWARD_PIN", USER_PIN)]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(check(&report, "row scan")[0]["status"], "ok");
    let audit = check(&report, "audit trail")[0]["detail"].as_str().unwrap();
    assert!(audit.contains("chain and MACs verified"), "{audit}");
    let objects = check(&report, "objects")[0]["detail"].as_str().unwrap();
    assert!(objects.starts_with("3 object(s), as the user"), "{objects}");

    // A token with no backup yet: a warning, still exit 0.
    let fresh = Store::initialized();
    let (code, report) = doctor_json(&fresh, &[], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(check(&report, "backup")[0]["status"], "warning");
}

#[test]
fn a_locked_pin_is_a_problem_and_login_never_spends_the_last_try() {
    let store = healthy();
    // Nine wrong PINs: one try left.
    for _ in 0..9 {
        let out = store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "wrong-pin")], None);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    }
    let (code, report) = doctor_json(&store, &["--login"], &[("KEYWARD_PIN", "wrong-pin")]);
    assert_eq!(code, Some(9), "{report:#}");
    let login = check(&report, "login")[0]["detail"].as_str().unwrap();
    assert!(login.contains("one try is left"), "{login}");
    assert_eq!(check(&report, "user PIN")[0]["status"], "warning");
    let samples = metrics(&store, &[]);
    if let Some(s) = &samples {
        assert_eq!(
            value(s, "keyward_pin_tries_left", &[("role", "user")]),
            Some(1.0),
            "doctor --login did not spend the last try"
        );
    }

    let out = store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "wrong-pin")], None);
    fails(&out, 3, "locked");
    let out = store.run_with(&["doctor"], &[], None);
    fails(&out, 9, "user PIN locked after 10 failures");
    assert!(stdout(&out).contains("PROBLEM"), "{}", stdout(&out));
    let (_, report) = doctor_json(&store, &[], &[]);
    assert_eq!(check(&report, "user PIN")[0]["status"], "problem");
    assert_eq!(check(&report, "SO PIN")[0]["status"], "ok");
    if let Some(s) = metrics(&store, &[]) {
        assert_samples(
            &s,
            &[
                ("keyward_pin_locked", &[("role", "user")], 1.0),
                ("keyward_pin_locked", &[("role", "so")], 0.0),
                ("keyward_pin_tries_left", &[("role", "user")], 0.0),
                ("keyward_pin_lockouts_total", &[("role", "user")], 1.0),
            ],
        );
    }
    // The SO unlocks it: healthy again.
    ok(&store.run_with(
        &["pin", "unlock"],
        &[
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_PIN", "user-pin-2"),
        ],
        None,
    ));
    ok(&store.run_with(&["doctor"], &[], None));
}

#[test]
fn keys_near_and_past_their_end_date() {
    let store = healthy();
    let end = date_in(10);
    ok(&store.run(&[
        "keys",
        "generate",
        "--type",
        "ec-p256",
        "--label",
        "web",
        "--end-date",
        &end,
    ]));
    // Due in 10 days: a warning, exit 0.
    let (code, report) = doctor_json(&store, &[], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    let keys = check(&report, "keys");
    assert_eq!(keys.len(), 1, "{report:#}");
    assert_eq!(keys[0]["status"], "warning");
    let detail = keys[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"web\"") && detail.contains(&end),
        "{detail}"
    );
    if let Some(s) = metrics(&store, &[]) {
        assert_samples(
            &s,
            &[
                ("keyward_keys_due", &[("within_days", "30")], 1.0),
                ("keyward_keys_due", &[("within_days", "7")], 0.0),
                ("keyward_keys_overdue", &[], 0.0),
                ("keyward_nearest_end_date_days", &[], 10.0),
            ],
        );
    }
    // With --login the pair is counted once, by its private key.
    let (_, report) = doctor_json(&store, &["--login"], &[("KEYWARD_PIN", USER_PIN)]);
    let keys = check(&report, "keys");
    assert_eq!(keys.len(), 1, "{report:#}");
    assert!(
        keys[0]["detail"]
            .as_str()
            .unwrap()
            .contains("private \"web\"")
    );

    // The same token 20 days later (libfaketime): overdue, a problem.
    let Some(faketime) = libfaketime() else {
        return;
    };
    let later = [("LD_PRELOAD", faketime.as_str()), ("FAKETIME", "+20d")];
    let out = store.run_with(&["doctor"], &later, None);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("overdue") && err.contains("\"web\""), "{err}");
    let out = store.run_with(&["metrics"], &later, None);
    ok(&out);
    if let Some(s) = parse_metrics(&out.stdout) {
        assert_eq!(value(&s, "keyward_keys_overdue", &[]), Some(1.0));
        assert_eq!(value(&s, "keyward_nearest_end_date_days", &[]), Some(-10.0));
    }
}

/// Debian's libfaketime (package faketime); a missing one fails under CI.
fn libfaketime() -> Option<String> {
    let path = format!(
        "/usr/lib/{}-linux-gnu/faketime/libfaketime.so.1",
        std::env::consts::ARCH
    );
    if Path::new(&path).is_file() {
        return Some(path);
    }
    assert!(
        !ci(),
        "{path} is missing: install the faketime package (CI=true)"
    );
    eprintln!("SKIP: {path} is missing (package faketime)");
    None
}

/// Flips one byte in the middle of row `id`'s sealed blob.
fn flip_sealed(path: &Path, id: i64) {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut sealed: Vec<u8> = db
        .query_row("SELECT sealed FROM object WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    let mid = sealed.len() / 2;
    sealed[mid] ^= 0x01;
    db.execute(
        "UPDATE object SET sealed = ?1 WHERE id = ?2",
        rusqlite::params![sealed, id],
    )
    .unwrap();
}

#[test]
fn a_damaged_row_is_found_with_login() {
    let store = healthy();
    let keys = json_of(&store.run(&["keys", "list", "--json"]));
    let kek = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "kek")
        .unwrap()["object_id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    flip_sealed(
        &store.dir.path().join("store/slot-0.sqlite"),
        i64::try_from(kek).unwrap(),
    );
    let out = store.run_with(&["doctor", "--login"], &[("KEYWARD_PIN", USER_PIN)], None);
    fails(&out, 9, "damaged row");
    assert!(
        stderr(&out).contains(&format!("#{kek}")),
        "{}",
        stderr(&out)
    );
    let (_, report) = doctor_json(&store, &["--login"], &[("KEYWARD_PIN", USER_PIN)]);
    assert_eq!(check(&report, "row scan")[0]["status"], "problem");
    let out = store.run_with(&["metrics", "--login"], &[("KEYWARD_PIN", USER_PIN)], None);
    ok(&out);
    if let Some(s) = parse_metrics(&out.stdout) {
        assert_eq!(value(&s, "keyward_damaged_rows", &[]), Some(1.0));
        assert_eq!(value(&s, "keyward_logged_in", &[]), Some(1.0));
    }
}

#[test]
fn an_unreadable_store_or_configuration_is_named() {
    // No store where the configuration points.
    let store = Store::new();
    let out = store.run_with(&["doctor"], &[], None);
    fails(&out, 9, "no token at");
    assert!(stdout(&out).contains("store"), "{}", stdout(&out));
    assert_eq!(
        store.run_with(&["metrics"], &[], None).status.code(),
        Some(1)
    );

    // A token file that is not a database.
    let store = Store::initialized();
    let file = store.dir.path().join("store/slot-0.sqlite");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", file.display()));
    }
    std::fs::write(&file, vec![0x5a; 8192]).unwrap();
    let out = store.run_with(&["doctor"], &[], None);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let (_, report) = doctor_json(&store, &[], &[]);
    let problems = with_status(&report, "problem");
    assert_eq!(problems.len(), 1, "{report:#}");
    assert_eq!(problems[0]["check"], "token");
    // Metrics still say so: the slot is down.
    let out = store.run_with(&["metrics"], &[], None);
    ok(&out);
    if let Some(s) = parse_metrics(&out.stdout) {
        assert_eq!(value(&s, "keyward_up", &[("slot", "0")]), Some(0.0));
    }

    // A configuration file with a mistake.
    let store = Store::initialized();
    let text = std::fs::read_to_string(&store.conf).unwrap();
    std::fs::write(&store.conf, format!("{text}max_pin_failure = 3\n")).unwrap();
    let out = store.run_with(&["doctor"], &[], None);
    fails(&out, 9, "max_pin_failure");
    let (_, report) = doctor_json(&store, &[], &[]);
    assert_eq!(check(&report, "configuration")[0]["status"], "problem");
}

#[test]
fn metrics_are_valid_openmetrics_and_written_atomically() {
    let store = healthy();
    // Some use, so the use counts move.
    let Some(samples) = metrics(&store, &[]) else {
        return;
    };
    assert_eq!(value(&samples, "keyward_up", &[("slot", "0")]), Some(1.0));
    assert_eq!(
        value(
            &samples,
            "keyward_token_info",
            &[("label", "cli-test"), ("backend", "sqlite")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&samples, "keyward_logged_in", &[]), Some(0.0));
    assert_eq!(
        value(&samples, "keyward_pin_tries_left", &[("role", "so")]),
        Some(10.0)
    );
    // Without login: the public half of the pair only.
    assert_eq!(
        value(
            &samples,
            "keyward_keys",
            &[("class", "public"), ("state", "active")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "keyward_keys", &[("class", "secret")]),
        None
    );
    assert_eq!(value(&samples, "keyward_audit_verified", &[]), Some(1.0));
    assert!(value(&samples, "keyward_audit_records", &[]).unwrap() > 3.0);
    let age = value(&samples, "keyward_backup_age_seconds", &[]).unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");

    // Every metric the example alert rules use is one `keyward metrics`
    // writes (the rules cannot drift from the names).
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/keyward-alerts.yml"),
    )
    .unwrap();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("keyward_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 8, "{used:?}");
    for name in used {
        assert!(
            samples.iter().any(|(n, _, _)| n == name),
            "the alert rules use {name}, which `keyward metrics` does not write"
        );
    }

    // --login adds the private and secret keys.
    let out = store.run_with(&["metrics", "--login"], &[("KEYWARD_PIN", USER_PIN)], None);
    ok(&out);
    let s = parse_metrics(&out.stdout).unwrap();
    assert_eq!(value(&s, "keyward_keys", &[("class", "secret")]), Some(1.0));
    assert_eq!(
        value(&s, "keyward_keys", &[("class", "private")]),
        Some(1.0)
    );
    assert_eq!(value(&s, "keyward_damaged_rows", &[]), Some(0.0));

    // --out: the file holds the same exposition; no temporary file stays.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.prom");
    ok(&store.run_with(&["metrics", "--out", file.to_str().unwrap()], &[], None));
    let written = std::fs::read(&file).unwrap();
    assert!(written.ends_with(b"# EOF\n"));
    parse_metrics(&written).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("keyward.prom")]);
    let out = store.run_with(&["metrics", "--out", "/nonexistent-dir/k.prom"], &[], None);
    fails(&out, 1, "cannot write /nonexistent-dir/k.prom");
}

#[test]
fn completions_load_in_bash_and_man_pages_render() {
    let store = Store::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = store.run_with(&["completions", shell], &[], None);
        ok(&out);
        assert!(stdout(&out).contains("doctor"), "{shell}");
    }
    let out = store.run_with(&["completions", "tcsh"], &[], None);
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("keyward.bash");
    std::fs::write(
        &script,
        store.run_with(&["completions", "bash"], &[], None).stdout,
    )
    .unwrap();
    // Completing `keyward ke` and `keyward keys ge` in bash.
    let probe = format!(
        "source {}; COMP_WORDS=(keyward ke); COMP_CWORD=1; _keyward keyward ke keyward; echo \"${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(keyward keys ge); COMP_CWORD=2; _keyward keyward ge keys; echo \"${{COMPREPLY[*]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("keys"), "{text}");
    assert_eq!(lines.next(), Some("generate"), "{text}");

    let man = dir.path().join("man");
    std::fs::create_dir(&man).unwrap();
    ok(&store.run_with(&["manpages", man.to_str().unwrap()], &[], None));
    for page in [
        "keyward.1",
        "keyward-doctor.1",
        "keyward-metrics.1",
        "keyward-keys-generate.1",
    ] {
        assert!(man.join(page).is_file(), "{page}");
    }
    let out = store.run_with(&["manpages", "/nonexistent-dir"], &[], None);
    fails(&out, 2, "is not a directory");
    if !have("man") {
        return;
    }
    let out = Command::new("man")
        .args(["-l", man.join("keyward-doctor.1").to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--login") && text.contains("p11-kit"),
        "{text}"
    );
}
