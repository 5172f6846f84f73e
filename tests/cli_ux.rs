//! Golden tests of what a first hour with the `keyward` CLI showed (issue
//! 10): closed pipes, JSON errors and ids, a mistyped store, `keys
//! generate` checks, the first user PIN, messages that name the rule and
//! the range, the public inventory, `keys due --fail-if-due`, PIN files and
//! systemd credentials, and the audit trail's windows and export. Each runs
//! the built binary as a script would (stdin not a terminal); the terminal
//! side (prompts, widths, colours) is in cli_ux_tty.rs.

#[path = "common/cli_bin.rs"]
mod cli_bin;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod cli_support;
use cli_support::*;

/// A date `days` from today (UTC), as `--end-date` takes it.
fn date_in(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn generate(store: &Store, args: &[&str]) -> Value {
    json_of(&store.run(&[&["keys", "generate", "--json"], args].concat()))
}

/// The one stderr line of a `--json` failure, parsed; stdout stays empty.
fn json_error(out: &std::process::Output, code: i32) -> Value {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    assert_eq!(stdout(out), "", "stdout must hold data only");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    let v: Value = serde_json::from_str(&err).unwrap();
    assert_eq!(v["code"], json!(code));
    v
}

/// `keyward keys list | head` used to panic (exit 101, "failed printing to
/// stdout"). The reader is closed before the CLI starts, so the first
/// write fails for sure: no timing involved.
#[test]
fn a_closed_pipe_ends_quietly_with_the_sigpipe_status() {
    let store = Store::initialized();
    generate(&store, &["--type", "ec-p256", "--label", "web"]);
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--json"],
        &["--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(cli_bin::keyward_bin())
            .env_clear()
            .env("KEYWARD_CONF", &store.conf)
            .env("KEYWARD_PIN", USER_PIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        // --help goes through clap's own printing, which ignores the error.
        let expected = if args == ["--help"] { 0 } else { 141 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}: nothing on stderr, no panic");
    }
}

#[test]
fn json_errors_and_string_object_ids() {
    let store = Store::initialized();
    // A failing command with --json: one JSON object on stderr.
    let e = json_error(&store.run(&["keys", "show", "nope", "--json"]), 4);
    assert!(e["error"].as_str().unwrap().contains("nope"), "{e}");
    // Usage errors too, wherever --json is written.
    let e = json_error(&store.run(&["--json", "keys", "list", "--bogus"]), 2);
    assert!(e["error"].as_str().unwrap().contains("--bogus"), "{e}");
    // A PIN failure.
    let out = store.run_with(
        &["keys", "list", "--json"],
        &[("KEYWARD_PIN", "wrong-pin")],
        None,
    );
    let e = json_error(&out, 3);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("login failed: wrong user PIN (CKR_PIN_INCORRECT)"),
        "{e}"
    );
    // Object ids are strings (random 64-bit ids exceed 2^53) and select
    // the key with either #N or obj:N.
    let made = generate(&store, &["--type", "aes-256", "--label", "kek"]);
    let id = made["object_id"].as_str().expect("a string id");
    assert!(id.parse::<u64>().is_ok(), "{id}");
    for sel in [format!("#{id}"), format!("obj:{id}")] {
        let shown = json_of(&store.run(&["keys", "show", &sel, "--json"]));
        assert_eq!(shown["object_id"], json!(id));
    }
    let records = json_of(&store.run(&["audit", "show", "--event", "generate", "--json"]));
    assert_eq!(records[0]["object"], json!(id));
}

#[test]
fn a_mistyped_store_is_named_and_never_created() {
    // About the store directory, which a slot in PostgreSQL does not use.
    if !cli_support::backend::sqlite() {
        return;
    }
    let store = Store::initialized();
    let missing = store.dir.path().join("typo");
    let typo = missing.to_str().unwrap();
    for args in [
        &["keys", "list"][..],
        &["token", "info"],
        &["audit", "show"],
        &["keys", "list", "--public"],
    ] {
        let out = store.run_with(
            args,
            &[("KEYWARD_STORE", typo), ("KEYWARD_PIN", USER_PIN)],
            None,
        );
        fails(
            &out,
            1,
            &format!(
                "keyward: error: no token at {typo}: the store directory does not exist \
                 (KEYWARD_STORE, or store_dir in the KEYWARD_CONF file); create a token with \
                 `keyward token init`"
            ),
        );
        assert!(!missing.exists(), "{args:?} created {typo}");
    }
    // An existing directory without a token file: named, not created.
    std::fs::create_dir(&missing).unwrap();
    let out = store.run_with(&["token", "info"], &[("KEYWARD_STORE", typo)], None);
    fails(&out, 1, &format!("no token at {typo}/slot-0.sqlite"));
    assert_eq!(std::fs::read_dir(&missing).unwrap().count(), 0);
    // A file where a directory belongs: the path and the OS error.
    let out = store.run_with(&["keys", "list"], &[("KEYWARD_STORE", "/etc/passwd")], None);
    fails(
        &out,
        1,
        "keyward: error: cannot open the token store /etc/passwd: Not a directory (os error 20)",
    );
    assert!(!stderr(&out).contains("CKR_"), "{}", stderr(&out));
    // token init is the one command that creates a store.
    let out = store.run_with(
        &["token", "init", "--label", "new"],
        &[("KEYWARD_STORE", typo), ("KEYWARD_NEW_SO_PIN", SO_PIN)],
        None,
    );
    ok(&out);
    assert!(missing.join("slot-0.sqlite").exists());
}

#[test]
fn generate_refuses_what_an_operator_never_means() {
    let store = Store::initialized();
    let cases: [(&[&str], i32, String); 5] = [
        (
            &["--type", "ec-p256", "--label", ""],
            2,
            "the label is empty: applications find a key by its label (CKA_LABEL); give \
             --label NAME"
                .into(),
        ),
        (
            &[
                "--type",
                "ec-p256",
                "--label",
                "a",
                "--end-date",
                "2001-02-03",
            ],
            2,
            format!(
                "the end date 2001-02-03 is in the past (today is {}): the key would be \
                 unusable from the start",
                date_in(0)
            ),
        ),
        (
            &[
                "--type",
                "ec-p256",
                "--label",
                "a",
                "--start-date",
                "2041-01-01",
                "--end-date",
                "2040-01-01",
            ],
            2,
            "the end date 2040-01-01 is before the start date 2041-01-01".into(),
        ),
        (
            &[
                "--type",
                "aes-256",
                "--label",
                "a",
                "--usage",
                "sign,encrypt",
            ],
            2,
            "a key of type aes-256 cannot sign; it can: encrypt,decrypt,wrap,unwrap,derive".into(),
        ),
        (
            &["--type", "ed25519", "--label", "a", "--usage", "decrypt"],
            2,
            "a key of type ed25519 cannot decrypt; it can: sign,verify".into(),
        ),
    ];
    for (args, code, message) in cases {
        let out = store.run(&[&["keys", "generate"], args].concat());
        fails(&out, code, &format!("keyward: error: {message}\n"));
    }
    // A duplicate id needs --force.
    generate(
        &store,
        &["--type", "ec-p256", "--label", "a", "--id", "0a0b"],
    );
    let out = store.run(&[
        "keys", "generate", "--type", "aes-128", "--label", "b", "--id", "0a0b",
    ]);
    fails(
        &out,
        6,
        "the id 0a0b is already used by private \"a\" id:0a0b version 1 #",
    );
    fails(&out, 6, "pick another --id, or pass --force to share it");
    let forced = generate(
        &store,
        &[
            "--type", "aes-128", "--label", "b", "--id", "0a0b", "--force",
        ],
    );
    assert_eq!(forced["id"], "0a0b");
    // A label is a key's name: a second key under it needs --force (a new
    // version is made by rotating).
    let out = store.run(&["keys", "generate", "--type", "aes-128", "--label", "a"]);
    fails(
        &out,
        6,
        "the label \"a\" already names a key (private \"a\" id:0a0b version 1 #",
    );
    fails(
        &out,
        6,
        "make a new version with `keyward keys rotate \"a\"`",
    );
    // Nothing was made by the refused runs.
    let listed = json_of(&store.run(&["keys", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
}

/// A config whose PIN locks after 3 failures.
fn three_tries_store() -> Store {
    let store = Store::new();
    let text = format!(
        "store_dir = {:?}\npin_kdf_iterations = 1000\nmax_pin_failures = 3\n",
        store.dir.path().join("store")
    );
    std::fs::write(&store.conf, text).unwrap();
    store
}

#[test]
fn first_user_pin_with_pin_init_and_messages_with_ranges() {
    let store = three_tries_store();
    let out = store.run_with(
        &["token", "init", "--label", "t"],
        &[("KEYWARD_NEW_SO_PIN", SO_PIN)],
        None,
    );
    ok(&out);
    assert!(
        stdout(&out).ends_with("; set the user PIN with `keyward pin init`\n"),
        "{}",
        stdout(&out)
    );
    let so_env = [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", "12")];
    fails(
        &store.run_with(&["pin", "init"], &so_env, None),
        3,
        "keyward: error: setting the user PIN failed: the new user PIN is too short or too \
         long (CKR_PIN_LEN_RANGE); a PIN on this token has 4 to 64 characters\n",
    );
    let so_env = [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", USER_PIN)];
    let out = store.run_with(&["pin", "init"], &so_env, None);
    ok(&out);
    assert_eq!(stdout(&out), "set the user PIN of the token in slot 0\n");
    fails(
        &store.run_with(&["pin", "init"], &so_env, None),
        6,
        "keyward: error: the user PIN is already set: change it with `keyward pin change`, \
         or have the SO replace a locked or forgotten one with `keyward pin unlock`\n",
    );
    // Wrong PINs count down, then lock; `pin unlock` keeps its purpose.
    let wrong = [("KEYWARD_PIN", "wrong-pin")];
    let expected = [
        "wrong user PIN (CKR_PIN_INCORRECT); at most 2 tries left before the user PIN locks \
         (3 failures in a row lock it; a correct PIN resets the count)\n",
        "wrong user PIN (CKR_PIN_INCORRECT); 1 try left before the user PIN locks (the \
         token's FINAL_TRY flag)\n",
        "wrong user PIN (CKR_PIN_INCORRECT); the user PIN is now locked after 3 failures in \
         a row; recover with `keyward pin unlock` (by the SO)\n",
        "the user PIN is locked (CKR_PIN_LOCKED); the SO can set a new user PIN with \
         `keyward pin unlock`\n",
    ];
    for text in expected {
        let out = store.run_with(&["keys", "list"], &wrong, None);
        fails(&out, 3, &format!("keyward: error: login failed: {text}"));
    }
    ok(&store.run_with(&["pin", "unlock"], &so_env, None));
    ok(&store.run(&["keys", "list"]));
}

#[test]
fn a_refused_import_names_the_policy_rule() {
    let store = Store::initialized();
    let pem = store.dir.path().join("weak.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
        ])
        .arg(&pem)
        .output();
    let Ok(made) = made else {
        eprintln!("SKIP: openssl is not installed");
        return;
    };
    assert!(made.status.success());
    // From a file, and from standard input with `-`.
    let text = std::fs::read_to_string(&pem).unwrap();
    for (file, stdin) in [(pem.to_str().unwrap(), None), ("-", Some(text.as_str()))] {
        let out = store.run_with(
            &["keys", "import", file, "--label", "weak"],
            &[("KEYWARD_PIN", USER_PIN)],
            stdin,
        );
        fails(
            &out,
            6,
            "keyward: error: import failed: attribute value refused \
             (CKR_ATTRIBUTE_VALUE_INVALID); refused \
             by policy rule min_rsa_bits: 1024-bit RSA key, policy needs 2048\n",
        );
    }
}

#[test]
fn public_inventory_and_due_alerts_without_a_pin() {
    let store = Store::initialized();
    let soon = date_in(10);
    generate(
        &store,
        &[
            "--type",
            "ec-p256",
            "--label",
            "web",
            "--id",
            "c0ffee",
            "--end-date",
            &soon,
        ],
    );
    generate(&store, &["--type", "aes-256", "--label", "kek"]);
    // No PIN anywhere: only what a public session sees.
    let public = json_of(&store.run_with(&["keys", "list", "--public", "--json"], &[], None));
    let rows = public.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{public}");
    assert_eq!(rows[0]["label"], "web");
    assert_eq!(rows[0]["class"], "public");
    assert_eq!(rows[0]["end_date"], json!(soon));
    assert_eq!(rows[0]["state"], "active");
    let table = store.run_with(&["keys", "list", "--public"], &[], None);
    ok(&table);
    let text = stdout(&table);
    assert!(text.contains("START") && text.contains("END"), "{text}");
    assert!(text.contains(&soon) && !text.contains("kek"), "{text}");
    // The logged-in table shows the dates too.
    let text = stdout(&store.run(&["keys", "list"]));
    assert!(text.lines().next().unwrap().contains("START"), "{text}");
    // keys due for alerting: 8 when something is due, 0 otherwise.
    let out = store.run(&["keys", "due", "--within", "30d", "--fail-if-due"]);
    fails(
        &out,
        8,
        "keyward: error: 1 key(s) due for rotation within 30 days\n",
    );
    assert!(stdout(&out).contains("web"), "{}", stdout(&out));
    ok(&store.run(&["keys", "due", "--within", "5d", "--fail-if-due"]));
}

#[test]
fn pins_from_a_private_file_and_systemd_credentials() {
    let store = Store::initialized();
    let file = store.dir.path().join("pin");
    std::fs::write(&file, format!("{USER_PIN}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = file.to_str().unwrap();
    let out = store.run_with(&["keys", "list", "--pin-file", path], &[], None);
    fails(
        &out,
        3,
        &format!(
            "keyward: error: --pin-file {path} may be read by others (mode 0644); run `chmod \
             600 {path}`\n"
        ),
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&store.run_with(&["keys", "list", "--pin-file", path], &[], None));
    // A wrong line is a wrong PIN, like --pin-fd.
    std::fs::write(&file, "wrong-pin\n").unwrap();
    let out = store.run_with(&["keys", "list", "--pin-file", path], &[], None);
    fails(&out, 3, "CKR_PIN_INCORRECT");
    // systemd: LoadCredential=keyward-pin:… puts the PIN in
    // $CREDENTIALS_DIRECTORY/keyward-pin.
    let creds = store.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    let dir = creds.to_str().unwrap();
    let out = store.run_with(&["keys", "list"], &[("CREDENTIALS_DIRECTORY", dir)], None);
    fails(&out, 3, "or provide the systemd credential keyward-pin");
    std::fs::write(creds.join("keyward-pin"), format!("{USER_PIN}\n")).unwrap();
    ok(&store.run_with(&["keys", "list"], &[("CREDENTIALS_DIRECTORY", dir)], None));
}

#[test]
fn audit_windows_and_incremental_export() {
    let store = Store::initialized();
    for l in ["a", "b", "c"] {
        generate(&store, &["--type", "aes-128", "--label", l]);
    }
    let all = json_of(&store.run_with(&["audit", "show", "--json"], &[], None));
    let seqs: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.len() > 4, "{seqs:?}");
    let seqs_of = |args: &[&str]| -> Vec<i64> {
        json_of(&store.run_with(&[&["audit", "show", "--json"], args].concat(), &[], None))
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(seqs_of(&["--limit", "2"]), seqs[..2].to_vec());
    assert_eq!(seqs_of(&["--tail", "2"]), seqs[seqs.len() - 2..].to_vec());
    let out = store.run(&["audit", "show", "--limit", "1", "--tail", "1"]);
    assert_eq!(out.status.code(), Some(2));
    // Export after the third record: the rest, each with hash, MAC, user,
    // host and program.
    let out = store.run_with(&["audit", "export", "--since", "3"], &[], None);
    ok(&out);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exported: Vec<i64> = lines.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(exported, seqs[3..].to_vec());
    for r in &lines {
        assert_eq!(r["hash"].as_str().unwrap().len(), 64, "{r}");
        assert_eq!(r["program"], "keyward", "{r}");
        assert!(r["user"].as_str().is_some_and(|u| !u.is_empty()), "{r}");
        assert!(r["host"].as_str().is_some_and(|h| !h.is_empty()), "{r}");
    }
    // Records written while logged in carry their MAC.
    assert!(
        lines
            .iter()
            .any(|r| r["event"] == "generate" && r["mac"].as_str().map(str::len) == Some(64)),
        "{lines:?}"
    );
    // The new fields do not disturb verification.
    ok(&store.run(&["audit", "verify"]));
}

#[test]
fn every_subcommand_help_documents_its_arguments() {
    let store = Store::new();
    // The selectors are documented where a key is taken.
    let out = store.run_with(&["keys", "show", "--help"], &[], None);
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("'#OBJECT_ID'") && text.contains("obj:OBJECT_ID"),
        "{text}"
    );
    let out = store.run_with(&["--help"], &[], None);
    assert!(stdout(&out).contains("8  keys are due"), "{}", stdout(&out));
    assert!(stdout(&out).contains("$CREDENTIALS_DIRECTORY"));
}

/// The systemd examples pass the PIN as a credential (never an
/// EnvironmentFile with the PIN), and their commands run as written.
#[test]
fn systemd_examples_use_credentials_and_run() {
    let store = Store::initialized();
    let creds = store.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("keyward-pin"), format!("{USER_PIN}\n")).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/systemd");
    let mut ran = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if path.extension().is_some_and(|e| e == "service") {
            assert!(!text.contains("EnvironmentFile"), "{}", path.display());
            assert!(!text.contains("KEYWARD_PIN="), "{}", path.display());
            let exec = text
                .lines()
                .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/keyward "))
                .unwrap();
            let mut args: Vec<&str> = exec.split_whitespace().collect();
            // The metrics read the public inventory: no PIN at all. Every
            // other unit logs in, with the PIN as a credential.
            let public = args.first() == Some(&"metrics");
            assert_eq!(
                text.contains("LoadCredential=keyward-pin:"),
                !public,
                "{}",
                path.display()
            );
            let prom = store.dir.path().join("keyward.prom");
            if public {
                // The collector's directory, here a temporary one.
                let out = args.iter().position(|a| *a == "--out").unwrap();
                args[out + 1] = prom.to_str().unwrap();
            }
            let out = store.run_with(
                &args,
                &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
                None,
            );
            ok(&out);
            if public {
                let text = std::fs::read_to_string(&prom).unwrap();
                assert!(text.ends_with("# EOF\n"), "{text}");
            }
            ran += 1;
        } else {
            assert!(!text.contains("KEYWARD_PIN="), "{}", path.display());
        }
    }
    assert_eq!(ran, 3);
}

#[test]
fn encrypted_pkcs8_imports_with_a_passphrase_from_the_environment() {
    let store = Store::initialized();
    let plain = store.dir.path().join("p.pem");
    let enc = store.dir.path().join("e.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&plain)
        .output();
    let Ok(made) = made else {
        eprintln!("SKIP: openssl is not installed");
        return;
    };
    assert!(made.status.success());
    let out = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:open sesame",
            "-in",
        ])
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = enc.to_str().unwrap();
    let import = |args: &[&str], env: &[(&str, &str)], stdin: Option<&str>| {
        let env = [&[("KEYWARD_PIN", USER_PIN)][..], env].concat();
        store.run_with(&[&["keys", "import"], args].concat(), &env, stdin)
    };
    // No passphrase and no terminal: exit 3, saying how to give one.
    fails(
        &import(&[file, "--label", "tls"], &[], None),
        3,
        "keyward: error: no key passphrase given: the key is encrypted: pass \
         --key-passphrase-env VAR (stdin is not a terminal)\n",
    );
    let env_args = [
        file,
        "--label",
        "tls",
        "--key-passphrase-env",
        "TLS_KEY_PASS",
    ];
    fails(
        &import(&env_args, &[], None),
        3,
        "--key-passphrase-env TLS_KEY_PASS: the variable is not set",
    );
    fails(
        &import(&env_args, &[("TLS_KEY_PASS", "wrong")], None),
        3,
        "keyward: error: cannot decrypt the key: wrong passphrase (or a damaged file): the key \
         does not decrypt\n",
    );
    ok(&import(&env_args, &[("TLS_KEY_PASS", "open sesame")], None));
    // From standard input.
    let text = std::fs::read_to_string(&enc).unwrap();
    let out = import(
        &["-", "--label", "tls2", "--key-passphrase-env", "P"],
        &[("P", "open sesame")],
        Some(&text),
    );
    ok(&out);
    let listed = json_of(&store.run(&["keys", "list", "--json"]));
    let labels: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["class"] == "private")
        .map(|k| k["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["tls", "tls2"]);
}

/// Commands that change something answer --json with one JSON object too.
#[test]
fn changes_answer_json() {
    let store = Store::new();
    let so = [("KEYWARD_NEW_SO_PIN", SO_PIN)];
    let init = json_of(&store.run_with(&["token", "init", "--label", "j", "--json"], &so, None));
    assert_eq!(init["label"], "j");
    assert_eq!(init["user_pin_set"], false);
    let env = [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", USER_PIN)];
    let pin = json_of(&store.run_with(&["pin", "init", "--json"], &env, None));
    assert_eq!(
        pin,
        json!({"message": "set the user PIN of the token in slot 0", "slot": 0})
    );
    generate(&store, &["--type", "aes-128", "--label", "gone"]);
    let out = store.run(&["keys", "destroy", "gone", "--yes", "--json"]);
    let destroyed = json_of(&out);
    assert_eq!(destroyed["erasure_complete"], true, "{destroyed}");
    assert_eq!(destroyed["destroyed"].as_array().unwrap().len(), 1);
    let erased = json_of(&store.run(&["keys", "erase", "--json"]));
    assert_eq!(erased, json!({"erasure_complete": true}));
}
