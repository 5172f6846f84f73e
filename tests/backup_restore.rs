//! `keyward backup restore` over a live token, as an operator meets it:
//! the loss report (created, destroyed and compromised keys, the audit
//! range), the refusals (no confirmation, wrong SO PIN, token open in
//! another process), the authenticated rollback record that `audit
//! verify` reports, and keys compromised or destroyed since the backup
//! staying out of use. The "other process" is this test binary re-executed
//! (test `child_holds_a_session`), holding a PKCS#11 session through the
//! built module.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cli_support::*;
use serde_json::Value;

const PASSPHRASE: &str = "correct horse battery";
const CHILD: &str = "KEYWARD_RESTORE_CHILD_DIR";

/// A token with three keys, a backup of it, and then, after the backup: a
/// key created, one compromised, one destroyed. Returns the backup path.
fn token_with_history() -> (Store, PathBuf) {
    let store = Store::initialized();
    for (ty, label) in [
        ("ec-p256", "kept"),
        ("ec-p256", "compromised-later"),
        ("ec-p256", "deactivated-later"),
        ("ed25519", "destroyed-later"),
    ] {
        ok(&store.run(&["keys", "generate", "--type", ty, "--label", label]));
    }
    let backup = store.dir.path().join("token.kwb");
    ok(&store.run_with(
        &["backup", "create", "--out", backup.to_str().unwrap()],
        &[("KEYWARD_BACKUP_PASSPHRASE", PASSPHRASE)],
        None,
    ));
    ok(&store.run(&[
        "keys",
        "generate",
        "--type",
        "ec-p256",
        "--label",
        "created-later",
    ]));
    ok(&store.run(&[
        "keys",
        "compromise",
        "compromised-later",
        "--reason",
        "leaked",
    ]));
    ok(&store.run(&["keys", "deactivate", "deactivated-later"]));
    ok(&store.run(&["keys", "destroy", "destroyed-later", "--yes"]));
    (store, backup)
}

fn restore(store: &Store, backup: &Path, extra: &[&str], so_pin: &str) -> std::process::Output {
    let mut args = vec!["backup", "restore", backup.to_str().unwrap()];
    args.extend_from_slice(extra);
    store.run_with(
        &args,
        &[
            ("KEYWARD_BACKUP_PASSPHRASE", PASSPHRASE),
            ("KEYWARD_SO_PIN", so_pin),
            ("KEYWARD_PIN", USER_PIN),
        ],
        None,
    )
}

/// label -> state of every private key.
fn states(store: &Store) -> Vec<(String, String)> {
    let list = json_of(&store.run(&["keys", "list", "--class", "private", "--json"]));
    let mut out: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["label"].as_str().unwrap().to_string(),
                k["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

fn find<'a>(report: &'a Value, label: &str, class: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == label && o["class"] == class)
        .unwrap_or_else(|| panic!("{label} {class} not in {report}"))
}

#[test]
fn loss_report_lists_created_destroyed_compromised_keys_and_audit_range() {
    let (store, backup) = token_with_history();
    let before = states(&store);
    // Without --yes and without a terminal: the report, then a refusal.
    let out = restore(&store, &backup, &["--json"], SO_PIN);
    fails(&out, 2, "confirm by typing the token label");
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["restored"], false);
    let created = find(&report, "created-later", "CKO_PRIVATE_KEY");
    assert_eq!(created["change"], "created");
    assert!(created["restored_state"].is_null(), "{created}");
    let destroyed = find(&report, "destroyed-later", "CKO_PRIVATE_KEY");
    assert_eq!(destroyed["change"], "destroyed");
    assert_eq!(destroyed["live_state"], Value::Null);
    assert_eq!(destroyed["restored_state"], "deactivated");
    assert_eq!(destroyed["last_event"], "destroy");
    let compromised = find(&report, "compromised-later", "CKO_PRIVATE_KEY");
    assert_eq!(compromised["change"], "changed");
    assert_eq!(compromised["backup_state"], "active");
    assert_eq!(compromised["live_state"], "compromised");
    assert_eq!(compromised["restored_state"], "compromised");
    assert!(compromised["id"].is_string(), "ids are strings in JSON");
    let deactivated = find(&report, "deactivated-later", "CKO_PRIVATE_KEY");
    assert_eq!(deactivated["live_state"], "deactivated");
    assert_eq!(deactivated["restored_state"], "deactivated");
    assert!(
        !report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["label"] == "kept"),
        "an unchanged key is no loss: {report}"
    );
    let audit = &report["audit"];
    let (from, to) = (
        audit["backup_last_seq"].as_i64().unwrap(),
        audit["live_head_seq"].as_i64().unwrap(),
    );
    assert!(to > from, "{audit}");
    assert_eq!(audit["records_lost"].as_i64().unwrap(), to - from);
    assert_eq!(audit["lost_range"], serde_json::json!([from + 1, to]));
    assert_eq!(audit["live_head_hash"].as_str().unwrap().len(), 64);
    assert_eq!(report["same_history"], true);
    // The table says the same.
    let out = restore(&store, &backup, &[], SO_PIN);
    fails(&out, 2, "--yes");
    let text = stdout(&out);
    for needle in [
        "created-later",
        "destroyed-later",
        "compromised-later",
        &format!("records {}..{to}", from + 1),
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    // Nothing was restored.
    assert_eq!(states(&store), before);
}

#[test]
fn wrong_so_pin_is_refused_and_counted() {
    let (store, backup) = token_with_history();
    let before = states(&store);
    let out = restore(&store, &backup, &["--yes"], "wrong-so-pin");
    fails(&out, 3, "wrong SO PIN (CKR_PIN_INCORRECT)");
    let failed = json_of(&store.run(&["audit", "show", "--event", "login_failed", "--json"]));
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("SO PIN for backup restore"),
        "{failed:?}"
    );
    assert_eq!(states(&store), before);
}

#[test]
fn restore_records_an_authenticated_rollback_and_keeps_keys_out_of_use() {
    let (store, backup) = token_with_history();
    let report = json_of(&restore(&store, &backup, &["--yes", "--json"], SO_PIN));
    assert_eq!(report["restored"], true);
    let (from, to) = (
        report["audit"]["backup_last_seq"].as_i64().unwrap(),
        report["audit"]["live_head_seq"].as_i64().unwrap(),
    );
    assert_eq!(
        states(&store),
        pairs(&[
            ("compromised-later", "compromised"),
            ("deactivated-later", "deactivated"),
            ("destroyed-later", "deactivated"),
            ("kept", "active"),
        ])
    );
    // The rollback is the first record after the backup's trail.
    let rollbacks = json_of(&store.run(&["audit", "show", "--event", "rollback", "--json"]));
    let rollbacks = rollbacks.as_array().unwrap();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    assert_eq!(rollbacks[0]["seq"].as_i64().unwrap(), from + 1);
    let detail = rollbacks[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("records {}..{to}", from + 1)),
        "{detail}"
    );
    assert!(
        detail.contains(report["audit"]["live_head_hash"].as_str().unwrap()),
        "{detail}"
    );
    // audit verify (with the MAC key) lists it as an authenticated event.
    let out = store.run(&["audit", "verify"]);
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("audit trail OK"), "{text}");
    assert!(
        text.contains(&format!(
            "rollback at record {} (authenticated): token rolled back",
            from + 1
        )),
        "{text}"
    );
    let verdict = json_of(&store.run(&["audit", "verify", "--json"]));
    assert_eq!(verdict["rollbacks"][0]["seq"].as_i64().unwrap(), from + 1);
    // The state changes the restore made are in the trail too.
    let changes = json_of(&store.run(&["audit", "show", "--event", "state_change", "--json"]));
    let on_restore = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["detail"].as_str().unwrap_or("").contains("on restore"))
        .count();
    assert!(on_restore >= 3, "{changes}");
    // The restored token works: the compromised key cannot sign, new keys
    // can be made (a new epoch, the restored master key).
    ok(&store.run(&["keys", "generate", "--type", "ec-p256", "--label", "after"]));
    ok(&store.run(&["audit", "verify"]));
    // Every restored row opens: the sealed blobs name the backup's
    // master-key epoch, which the restored token keeps.
    ok(&store.run(&["token", "check"]));
}

#[test]
fn keep_backup_state_brings_a_destroyed_key_back_as_it_was() {
    let (store, backup) = token_with_history();
    ok(&restore(
        &store,
        &backup,
        &["--yes", "--keep-backup-state", "destroyed-later"],
        SO_PIN,
    ));
    assert_eq!(
        states(&store),
        pairs(&[
            ("compromised-later", "compromised"),
            ("deactivated-later", "deactivated"),
            ("destroyed-later", "active"),
            ("kept", "active"),
        ])
    );
}

fn lib_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join("libkeyward.so")
}

/// Bounded wait for a file (the other side signals with it).
fn wait_for(path: &Path) -> bool {
    for _ in 0..3000 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// Not a test on its own: the child of
/// `refused_while_another_process_has_the_token_open`.
#[test]
fn child_holds_a_session() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let pkcs11 = cryptoki::context::Pkcs11::new(lib_path()).unwrap();
    pkcs11
        .initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
    let slot = pkcs11.get_slots_with_token().unwrap()[0];
    let session = pkcs11.open_ro_session(slot).unwrap();
    let count = |label: &str| {
        let template = [
            cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::PUBLIC_KEY),
            cryptoki::object::Attribute::Label(label.as_bytes().to_vec()),
        ];
        session.find_objects(&template).unwrap().len()
    };
    assert_eq!((count("created-later"), count("destroyed-later")), (1, 0));
    std::fs::write(dir.join("open"), b"1").unwrap();
    assert!(wait_for(&dir.join("done")));
    // Restored in place: this process sees the restored token on its next
    // call, without reopening anything.
    assert_eq!((count("created-later"), count("destroyed-later")), (0, 1));
    drop(session);
}

#[test]
fn refused_while_another_process_has_the_token_open() {
    let (store, backup) = token_with_history();
    let sync = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holds_a_session", "--nocapture"])
        .env(CHILD, sync.path())
        .env("KEYWARD_CONF", &store.conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(&sync.path().join("open")), "child never opened");
    let before = states(&store);
    let out = restore(&store, &backup, &["--yes"], SO_PIN);
    fails(
        &out,
        1,
        "open in another process; a restore replaces the token",
    );
    assert_eq!(states(&store), before);
    ok(&restore(&store, &backup, &["--yes", "--force"], SO_PIN));
    std::fs::write(sync.path().join("done"), b"1").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "child: {}", stdout(&out));
    // Once the other process is gone, no --force is needed.
    ok(&restore(&store, &backup, &["--yes"], SO_PIN));
}
