//! The `keyward keys` lifecycle verbs as a script sees them: state
//! changes, rotation, keys due, import and export, run through the built
//! binary on a temporary store (helpers as in tests/cli.rs).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

mod cli_support;
use cli_support::*;
impl Store {
    /// A path in the store's temporary directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn show(&self, key: &str) -> Value {
        json_of(&self.run(&["keys", "show", key, "--json"]))
    }

    fn generate(&self, extra: &[&str]) -> Value {
        json_of(&self.run(&[&["keys", "generate", "--json"], extra].concat()))
    }
}

/// Runs `openssl` with `args`; false when it is not installed.
fn openssl(args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("openssl").args(args).output().ok()?;
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

/// The date `days` from today (UTC) as YYYY-MM-DD.
fn date_in(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[test]
fn deactivate_then_activate_is_refused() {
    let store = Store::initialized();
    store.generate(&["--type", "ec-p256", "--label", "sig", "--id", "c0ffee01"]);
    let out = store.run(&["keys", "deactivate", "sig", "--reason", "retired", "--json"]);
    let changed = json_of(&out);
    let mut states: Vec<(String, String)> = changed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["label"], json!("sig"));
            assert_eq!(k["state_reason"], json!("retired"));
            (
                k["class"].as_str().unwrap().to_string(),
                k["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("private".to_string(), "deactivated".to_string()),
            ("public".to_string(), "deactivated".to_string())
        ]
    );
    let listed = json_of(&store.run(&["keys", "list", "--json"]));
    for k in listed.as_array().unwrap() {
        assert_eq!(k["state"], json!("deactivated"), "{k}");
    }
    // Deactivated: may no longer sign, its public half still verifies.
    let private = store.show("sig");
    assert_eq!(private["uses"], json!([]));
    assert_eq!(private["state_reason"], json!("retired"));
    let public = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["class"] == json!("public"))
        .unwrap();
    assert_eq!(public["uses"], json!(["verify"]));

    let out = store.run(&["keys", "activate", "sig"]);
    fails(
        &out,
        6,
        "cannot activate a deactivated key: NIST SP 800-57 allows no way back",
    );
    // Text output names the objects changed.
    let out = store.run(&["keys", "compromise", "sig", "--reason", "leaked"]);
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("compromised") && text.contains("sig"),
        "{text}"
    );
    assert_eq!(store.show("sig")["state"], json!("compromised"));
}

#[test]
fn compromise_needs_a_reason() {
    let store = Store::initialized();
    store.generate(&["--type", "aes-128", "--label", "k"]);
    let out = store.run(&["keys", "compromise", "k"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--reason"), "{}", stderr(&out));
    assert_eq!(store.show("k")["state"], json!("active"));
    // Neither a key nor --due: usage error.
    assert_eq!(store.run(&["keys", "rotate"]).status.code(), Some(2));
    let out = store.run(&["keys", "rotate", "k", "--due"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rotation_links_old_and_new() {
    let store = Store::initialized();
    let old = store.generate(&["--type", "ed25519", "--label", "rot", "--id", "c0ffee07"]);
    let old_object = old["object_id"].as_str().unwrap().to_string();
    let out = store.run(&["keys", "rotate", "id:c0ffee07", "--json"]);
    let done = json_of(&out);
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["label"], json!("rot"));
    assert_eq!(done[0]["old_id"], json!("c0ffee07"));
    assert_eq!(done[0]["old_object_id"], json!(old_object));
    let new_object = done[0]["new_object_id"].as_str().unwrap().to_string();
    // Issue 10: every version keeps the label and the id; the id now
    // names the new, primary version, `@1` the old one.
    assert_eq!(done[0]["new_id"], json!("c0ffee07"));
    assert_eq!(done[0]["old_version"], json!(1));
    assert_eq!(done[0]["new_version"], json!(2));

    let old = store.show("id:c0ffee07@1");
    assert_eq!(old["state"], json!("deactivated"));
    assert_eq!(old["successor"], json!(new_object));
    assert_eq!(old["version"], json!(1));
    assert_eq!(old["primary"], json!(false));
    assert_eq!(store.show("rot@1")["object_id"], json!(old_object));
    let new = store.show("rot");
    assert_eq!(new["object_id"], json!(new_object));
    assert_eq!(new["version"], json!(2));
    assert_eq!(new["primary"], json!(true));
    assert_eq!(store.show("id:c0ffee07")["object_id"], json!(new_object));
    let new = store.show(&format!("#{new_object}"));
    assert_eq!(new["label"], json!("rot"));
    assert_eq!(new["key_type"], json!("ed25519"));
    assert_eq!(new["class"], json!("private"));
    assert_eq!(new["uses"], json!(["sign"]));
    assert_eq!(new["state"], json!("active"));
    assert_eq!(new["predecessor"], json!(old_object));
    assert!(new.get("successor").is_none(), "{new}");

    // Text output: "#old → #new (label: version n → n+1)".
    let out = store.run(&["keys", "rotate", &format!("#{new_object}")]);
    ok(&out);
    let line = stdout(&out);
    assert!(
        line.starts_with(&format!("#{new_object} → #"))
            && line.trim_end().ends_with("(rot: version 2 → 3)"),
        "{line}"
    );
    // An older version is never rotated again: the message names the
    // primary and how to address it.
    for old in ["rot@1", "rot@2", &format!("#{old_object}")] {
        let out = store.run(&["keys", "rotate", old]);
        fails(&out, 6, "is not the primary version");
        fails(&out, 6, "the primary is version 3 (rot@3)");
    }
    let out = store.run(&["keys", "show", "rot@9"]);
    fails(&out, 4, "there is no version 9 (versions: 1, 2, 3)");
    // `keys list` shows the primary version; --all-versions every one.
    let listed = json_of(&store.run(&["keys", "list", "--class", "private", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["version"], json!(3));
    let out = store.run(&["keys", "list", "--class", "private", "--all-versions"]);
    ok(&out);
    let table = stdout(&out);
    assert!(
        table.contains("VERSION") && table.contains("PRIMARY"),
        "{table}"
    );
    let listed = json_of(&store.run(&[
        "keys",
        "list",
        "--class",
        "private",
        "--all-versions",
        "--json",
    ]));
    let mut versions: Vec<(u64, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["version"].as_u64().unwrap(),
                k["primary"].as_bool().unwrap(),
            )
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [(1, false), (2, false), (3, true)]);
    // Destroying version 1 takes its public key with it, nothing of the
    // other versions (they share the id).
    let out = store.run(&["keys", "destroy", "rot@1", "--yes"]);
    ok(&out);
    assert!(
        stdout(&out).contains("destroyed 2 objects"),
        "{}",
        stdout(&out)
    );
    let left = json_of(&store.run(&["keys", "list", "--all-versions", "--json"]));
    let mut left: Vec<(String, u64)> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["class"].as_str().unwrap().to_string(),
                k["version"].as_u64().unwrap(),
            )
        })
        .collect();
    left.sort();
    let want: Vec<(String, u64)> = [("private", 2), ("private", 3), ("public", 2), ("public", 3)]
        .iter()
        .map(|(c, v)| (c.to_string(), *v))
        .collect();
    assert_eq!(left, want);
}

#[test]
fn keys_due_and_rotate_due() {
    let store = Store::initialized();
    let soon = date_in(10);
    store.generate(&[
        "--type",
        "ec-p256",
        "--label",
        "soon",
        "--id",
        "c0ffee0a",
        "--end-date",
        &soon,
    ]);
    store.generate(&[
        "--type",
        "aes-256",
        "--label",
        "later",
        "--end-date",
        &date_in(400),
    ]);
    store.generate(&["--type", "ec-p384", "--label", "never"]);

    let due = json_of(&store.run(&["keys", "due", "--within", "30d", "--json"]));
    assert_eq!(
        due,
        json!([{
            "label": "soon", "id": "c0ffee0a", "class": "private", "key_type": "ec-p256", "reason": "end date",
            "end_date": soon, "days_left": 10, "state": "active",
            "object_id": due[0]["object_id"].as_str().unwrap(),
        }])
    );
    let none = json_of(&store.run(&["keys", "due", "--within", "5d", "--json"]));
    assert_eq!(none, json!([]));
    let out = store.run(&["keys", "due", "--within", "5"]);
    ok(&out);
    assert!(stdout(&out).contains("no key is due"), "{}", stdout(&out));
    // The default window is 30 days.
    let out = store.run(&["keys", "due"]);
    ok(&out);
    assert!(stdout(&out).contains("soon") && !stdout(&out).contains("later"));

    // Cron: nothing due in 5 days is a success that says so.
    let out = store.run(&["keys", "rotate", "--due", "--within", "5d"]);
    ok(&out);
    assert!(stdout(&out).contains("no key is due"));
    let done = json_of(&store.run(&["keys", "rotate", "--due", "--json"]));
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["old_id"], json!("c0ffee0a"));
    assert_eq!(store.show("id:c0ffee0a@1")["state"], json!("deactivated"));
    assert_eq!(store.show("soon")["version"], json!(2));
    // Issue 10: the new version (its 10-day cryptoperiod starting today)
    // is not due again: a second run rotates nothing.
    let again = json_of(&store.run(&["keys", "rotate", "--due", "--json"]));
    assert_eq!(again, json!([]));
    assert_eq!(store.show("soon")["version"], json!(2));
    assert_eq!(store.show("later")["state"], json!("active"));
    // The successor's cryptoperiod starts today: no longer due in 5 days.
    let due = json_of(&store.run(&["keys", "due", "--within", "5d", "--json"]));
    assert_eq!(due, json!([]));
    // Without a PIN, cron fails fast with exit 3 rather than waiting.
    let out = store.run_with(&["keys", "rotate", "--due"], &[], None);
    fails(&out, 3, "KEYWARD_PIN");
}

#[test]
fn import_and_export_with_openssl() {
    let store = Store::initialized();
    let key = store.path("ec.pem");
    let key_s = key.to_str().unwrap();
    if openssl(&["version"]).is_none() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key_s,
    ]);
    let expected = openssl(&["pkey", "-in", key_s, "-pubout"]).unwrap();

    let made = json_of(&store.run(&["keys", "import", key_s, "--label", "imp", "--json"]));
    let made = made.as_array().unwrap();
    assert_eq!(made.len(), 2);
    assert_eq!(made[0]["class"], json!("private"));
    assert_eq!(made[0]["key_type"], json!("ec"));
    assert_eq!(made[0]["curve"], json!("p256"));
    assert_eq!(made[0]["uses"], json!(["sign"]));
    assert_eq!(made[0]["sensitive"], json!(true));
    assert_eq!(made[0]["extractable"], json!(false));
    assert_eq!(made[1]["class"], json!("public"));
    assert_eq!(made[1]["uses"], json!(["verify"]));
    let id = made[0]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(made[1]["id"], json!(id));

    // The public key exported equals openssl's, from either half.
    let out = store.run(&["keys", "export", "imp"]);
    ok(&out);
    assert_eq!(out.stdout, expected);
    let file = store.path("pub.pem");
    let public_ref = format!("#{}", made[1]["object_id"].as_str().unwrap());
    ok(&store.run(&[
        "keys",
        "export",
        &public_ref,
        "--out",
        file.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&file).unwrap(), expected);

    // A certificate for that key lands with the key pair's id.
    let cert = store.path("cert.pem");
    let cert_s = cert.to_str().unwrap();
    openssl(&[
        "req", "-x509", "-key", key_s, "-subj", "/CN=imp", "-days", "30", "-out", cert_s,
    ]);
    let made = json_of(&store.run(&["keys", "import", cert_s, "--label", "imp-cert", "--json"]));
    assert_eq!(made[0]["class"], json!("cert"));
    assert_eq!(made[0]["id"], json!(id));
    let out = store.run(&["keys", "export", "imp", "--cert"]);
    ok(&out);
    assert_eq!(out.stdout, std::fs::read(&cert).unwrap());
    let out = store.run(&["keys", "export", "imp-cert"]);
    assert_eq!(out.stdout, std::fs::read(&cert).unwrap());
}

#[test]
fn export_and_import_failures() {
    let store = Store::initialized();
    fails(
        &store.run(&["keys", "export", "nothing"]),
        4,
        "no key matches",
    );
    store.generate(&["--type", "aes-128", "--label", "sym"]);
    fails(&store.run(&["keys", "export", "sym"]), 6, "no public half");
    fails(
        &store.run(&["keys", "export", "sym", "--cert"]),
        4,
        "no certificate",
    );
    let garbage = store.path("garbage.pem");
    std::fs::write(&garbage, b"this is not a key\n").unwrap();
    let out = store.run(&["keys", "import", garbage.to_str().unwrap(), "--label", "g"]);
    fails(&out, 1, "not a PEM or DER key or certificate");
    let listed = json_of(&store.run(&["keys", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
