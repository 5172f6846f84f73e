//! The auditor role (issue 15) through the built `keyward`: the SO sets an
//! auditor whose passphrase verifies the whole trail (chain and MACs) with
//! no login, finds an edited MAC, is refused when wrong (and the refusal
//! is recorded), survives a master-key rotation, and opens nothing else:
//! not a user or SO login (CLI and C_Login through the C ABI), no key use,
//! no change. Golden output of `auditor show` and of the auditor's verify.

mod cli_support;
mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use cli_support::{SO_PIN, Store, USER_PIN, fails, json_of, ok, stderr, stdout};
use cryptoki::error::RvError;
use cryptoki::session::UserType;
use serde_json::Value;

const PASSPHRASE: &str = "auditor-passphrase-1";

fn as_auditor(pass: &str) -> [(&'static str, &str); 1] {
    [("KEYWARD_AUDITOR_PASSPHRASE", pass)]
}

/// An initialized token with two keys and the auditor "carol" set.
fn with_auditor() -> Store {
    let store = Store::initialized();
    for args in [
        &["--type", "ec-p256", "--label", "sig"][..],
        &["--type", "aes-256", "--label", "kek"],
    ] {
        ok(&store.run(&[&["keys", "generate"], args].concat()));
    }
    set_auditor(&store, "carol", SO_PIN, PASSPHRASE);
    store
}

fn set_auditor(store: &Store, name: &str, so_pin: &str, pass: &str) -> Output {
    let out = store.run_with(
        &["auditor", "set", "--name", name],
        &[
            ("KEYWARD_SO_PIN", so_pin),
            ("KEYWARD_NEW_AUDITOR_PASSPHRASE", pass),
        ],
        None,
    );
    if so_pin == SO_PIN
        && pass.len() >= 8
        && ![USER_PIN, SO_PIN].contains(&pass)
        && !name.is_empty()
    {
        ok(&out);
        assert_eq!(stdout(&out), format!("auditor {name} set\n"));
    }
    out
}

/// `audit verify --json` as the auditor.
fn auditor_verdict(store: &Store) -> Value {
    json_of(&store.run_with(
        &["audit", "verify", "--auditor", "--json"],
        &as_auditor(PASSPHRASE),
        None,
    ))
}

fn chain_only_records(store: &Store) -> u64 {
    let v = json_of(&store.run_with(&["audit", "verify", "--chain-only", "--json"], &[], None));
    v["records"].as_u64().unwrap()
}

fn token_file(store: &Store) -> PathBuf {
    store.dir.path().join("store").join("slot-0.sqlite")
}

/// Replaces every run of digits by "N" and every RFC 3339 time by
/// "<time>": goldens hold no counts, times or ids.
fn normalised(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive([' ', '\n']) {
        let bare = word.trim_end();
        if bare.len() >= 20 && bare.ends_with('Z') && bare.contains('T') {
            out.push_str("<time>");
            out.push_str(&word[bare.len()..]);
            continue;
        }
        let mut digits = false;
        for c in word.chars() {
            if c.is_ascii_digit() {
                if !digits {
                    out.push('N');
                }
                digits = true;
            } else {
                digits = false;
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn the_auditor_verifies_every_record_and_the_goldens_hold() {
    let store = with_auditor();
    // Show: who and when, nothing secret; no PIN needed.
    let shown = store.run_with(&["auditor", "show"], &[], None);
    ok(&shown);
    assert_eq!(
        normalised(&stdout(&shown)),
        "auditor  carol\nset      <time>\n"
    );
    assert!(!stdout(&shown).contains(PASSPHRASE));
    let json = json_of(&store.run_with(&["auditor", "show", "--json"], &[], None));
    assert_eq!(json["name"], "carol");
    assert!(json["set"].as_str().unwrap().ends_with('Z'));

    // Every record authenticated, as many as the chain holds.
    let total = chain_only_records(&store);
    let v = auditor_verdict(&store);
    assert_eq!(v["records"].as_u64(), Some(total));
    assert_eq!(v["authenticated"].as_u64(), Some(total));
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    // The same report as the user's: the user's login adds one record,
    // authenticated too.
    let user = json_of(&store.run(&["audit", "verify", "--json"]));
    assert_eq!(user["records"].as_u64(), Some(total + 1));
    assert_eq!(user["authenticated"].as_u64(), Some(total + 1));
    let text = store.run_with(
        &["audit", "verify", "--auditor"],
        &as_auditor(PASSPHRASE),
        None,
    );
    ok(&text);
    assert_eq!(
        normalised(&stdout(&text)),
        "audit trail OK: N records, N authenticated\n"
    );
    assert_eq!(
        stdout(&text),
        format!(
            "audit trail OK: {} records, {} authenticated\n",
            total + 1,
            total + 1
        )
    );
    // The set is in the trail, as the SO, authenticated.
    let sets = json_of(&store.run_with(
        &["audit", "show", "--event", "auditor_set", "--json"],
        &[],
        None,
    ));
    let sets = sets.as_array().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["role"], "so");
    assert_eq!(sets[0]["detail"], "auditor carol");
}

#[test]
fn an_edited_mac_is_named_by_the_auditor() {
    let store = with_auditor();
    let db = rusqlite::Connection::open(token_file(&store)).unwrap();
    db.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    let (seq, mut mac): (i64, Vec<u8>) = db
        .query_row(
            "SELECT seq, mac FROM audit WHERE event = 'generate' AND mac IS NOT NULL
             ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    mac[0] ^= 1;
    db.execute("UPDATE audit SET mac = ?1 WHERE seq = ?2", (&mac, seq))
        .unwrap();
    drop(db);
    // The chain alone cannot see it; the auditor's key does.
    ok(&store.run_with(&["audit", "verify", "--chain-only"], &[], None));
    let out = store.run_with(
        &["audit", "verify", "--auditor"],
        &as_auditor(PASSPHRASE),
        None,
    );
    fails(&out, 5, "the audit trail failed verification: 1 finding(s)");
    assert_eq!(
        stdout(&out),
        format!("record {seq}: MAC does not match: record forged or edited\n")
    );
}

#[test]
fn a_wrong_passphrase_is_refused_and_recorded() {
    let store = with_auditor();
    let out = store.run_with(
        &["audit", "verify", "--auditor"],
        &as_auditor("not-the-passphrase"),
        None,
    );
    fails(
        &out,
        3,
        "audit verification as the auditor failed: wrong auditor passphrase (CKR_PIN_INCORRECT)",
    );
    assert_eq!(stdout(&out), "");
    let failed = json_of(&store.run_with(
        &["audit", "show", "--event", "auditor_check_failed", "--json"],
        &[],
        None,
    ));
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["role"], "auditor");
    assert_eq!(failed[0]["result"], "CKR_PIN_INCORRECT");
    // Without a passphrase and without a terminal: an error, not a wait.
    fails(
        &store.run_with(&["audit", "verify", "--auditor"], &[], None),
        3,
        "KEYWARD_AUDITOR_PASSPHRASE",
    );
    // --pin-fd works as for PINs (fd 0: stdin).
    let out = store.run_with(
        &["audit", "verify", "--auditor", "--pin-fd", "0"],
        &[],
        Some(&format!("{PASSPHRASE}\n")),
    );
    ok(&out);
    assert!(
        stdout(&out).starts_with("audit trail OK"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_passphrase_opens_nothing_else() {
    let store = with_auditor();
    let pass = [("KEYWARD_PIN", PASSPHRASE), ("KEYWARD_SO_PIN", PASSPHRASE)];
    fails(
        &store.run_with(&["keys", "list"], &pass, None),
        3,
        "wrong user PIN",
    );
    fails(
        &store.run_with(
            &["keys", "generate", "--type", "aes-128", "--label", "x"],
            &pass,
            None,
        ),
        3,
        "wrong user PIN",
    );
    fails(
        &store.run_with(&["auditor", "remove"], &pass, None),
        3,
        "wrong SO PIN",
    );
    // What needs no PIN works: the trail and the public inventory.
    ok(&store.run_with(&["audit", "show"], &[], None));
    let export = store.run_with(&["audit", "export"], &[], None);
    ok(&export);
    assert!(stdout(&export).lines().count() > 3);
    let public = json_of(&store.run_with(&["keys", "list", "--public", "--json"], &[], None));
    let labels: Vec<&str> = public
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["label"].as_str())
        .collect();
    assert!(labels.contains(&"sig"), "{public}");
    // Nothing was changed: still the same auditor and the same keys.
    let keys = json_of(&store.run(&["keys", "list", "--json"]));
    assert_eq!(keys.as_array().unwrap().len(), 3, "{keys}");
    let v = auditor_verdict(&store);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn only_the_so_sets_the_auditor_and_by_the_rules() {
    let store = Store::initialized();
    let wrong = set_auditor(&store, "carol", "not-the-so-pin", PASSPHRASE);
    fails(&wrong, 3, "setting the auditor failed: wrong SO PIN");
    let none = store.run_with(&["auditor", "show"], &[], None);
    assert_eq!(
        stdout(&none),
        "no auditor is set (keyward auditor set --name NAME)\n"
    );
    fails(
        &store.run_with(
            &["audit", "verify", "--auditor"],
            &as_auditor(PASSPHRASE),
            None,
        ),
        1,
        "no auditor is set on this token",
    );
    fails(
        &set_auditor(&store, "carol", SO_PIN, "short"),
        3,
        "the auditor passphrase must have at least 8 characters",
    );
    fails(
        &set_auditor(&store, "carol", SO_PIN, USER_PIN),
        3,
        "must differ from the token's SO and user PINs",
    );
    fails(
        &set_auditor(&store, "carol", SO_PIN, SO_PIN),
        3,
        "must differ from the token's SO and user PINs",
    );
    fails(
        &set_auditor(&store, "", SO_PIN, PASSPHRASE),
        2,
        "the auditor name must have 1 to 64 characters",
    );
    // Replaced, then removed (both audited as the SO).
    set_auditor(&store, "carol", SO_PIN, "first-passphrase");
    set_auditor(&store, "dave", SO_PIN, PASSPHRASE);
    assert!(stdout(&store.run_with(&["auditor", "show"], &[], None)).contains("dave"));
    fails(
        &store.run_with(
            &["audit", "verify", "--auditor"],
            &as_auditor("first-passphrase"),
            None,
        ),
        3,
        "wrong auditor passphrase",
    );
    ok(&store.run_with(
        &["audit", "verify", "--auditor"],
        &as_auditor(PASSPHRASE),
        None,
    ));
    let removed = store.run_with(&["auditor", "remove"], &[("KEYWARD_SO_PIN", SO_PIN)], None);
    ok(&removed);
    assert_eq!(stdout(&removed), "auditor removed\n");
    let again = store.run_with(&["auditor", "remove"], &[("KEYWARD_SO_PIN", SO_PIN)], None);
    assert_eq!(stdout(&again), "no auditor was set\n");
    fails(
        &store.run_with(
            &["audit", "verify", "--auditor"],
            &as_auditor(PASSPHRASE),
            None,
        ),
        1,
        "no auditor is set",
    );
    let events = json_of(&store.run_with(&["audit", "show", "--json"], &[], None));
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["event"].as_str())
        .filter(|e| e.starts_with("auditor"))
        .collect();
    assert_eq!(
        kinds,
        [
            "auditor_set",
            "auditor_set",
            "auditor_check_failed",
            "auditor_removed"
        ]
    );
    // The trail is intact and fully checked by the user.
    let user = json_of(&store.run(&["audit", "verify", "--json"]));
    assert_eq!(user["findings"].as_array().unwrap().len(), 0, "{user}");
}

#[test]
fn a_master_key_rotation_keeps_the_auditor_working() {
    let store = with_auditor();
    let out = store.run_with(
        &["master-key", "rotate", "--yes"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)],
        None,
    );
    ok(&out);
    let total = chain_only_records(&store);
    let v = auditor_verdict(&store);
    assert_eq!(v["records"].as_u64(), Some(total), "{v}");
    assert_eq!(v["authenticated"].as_u64(), Some(total), "{v}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
    let _ = stderr(&out);
}

/// `keyward` on the store of a module loaded in this process.
fn cli(conf: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(common::cli_bin::keyward_bin())
        .args(args)
        .env("KEYWARD_CONF", conf)
        .env_remove("KEYWARD_STORE")
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn the_passphrase_is_no_pin_through_the_c_abi() {
    let h = common::Harness::new();
    h.ready();
    let conf = h.env.conf.clone();
    ok(&cli(
        &conf,
        &["auditor", "set", "--name", "carol"],
        &[
            ("KEYWARD_SO_PIN", common::SO_PIN),
            ("KEYWARD_NEW_AUDITOR_PASSPHRASE", PASSPHRASE),
        ],
    ));
    let s = h.rw_session();
    for who in [UserType::User, UserType::So] {
        common::expect_rv(
            s.login(who, Some(&common::pin(PASSPHRASE))),
            RvError::PinIncorrect,
        );
    }
    // The real PINs still work; the auditor still verifies the trail.
    s.login(UserType::User, Some(&common::pin(common::USER_PIN)))
        .expect("user login");
    s.logout().unwrap();
    let out = cli(
        &conf,
        &["audit", "verify", "--auditor"],
        &as_auditor(PASSPHRASE),
    );
    ok(&out);
    assert!(
        stdout(&out).starts_with("audit trail OK"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_token_reset_asks_for_the_auditor_to_be_set_again() {
    let store = with_auditor();
    let new_so = "new-so-pin-2";
    ok(&store.run_with(
        &[
            "token",
            "reset",
            "--label",
            "cli-test",
            "--yes-erase-all-keys",
        ],
        &[("KEYWARD_NEW_SO_PIN", new_so)],
        None,
    ));
    // The auditor's passphrase opens the old audit key only: said so,
    // rather than a trail full of MAC findings.
    fails(
        &store.run_with(
            &["audit", "verify", "--auditor"],
            &as_auditor(PASSPHRASE),
            None,
        ),
        3,
        "the auditor was set before the last token reset",
    );
    let out = set_auditor(&store, "carol", new_so, PASSPHRASE);
    ok(&out);
    let total = chain_only_records(&store);
    let v = auditor_verdict(&store);
    assert_eq!(v["records"].as_u64(), Some(total), "{v}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn json_answers_and_a_systemd_credential() {
    let store = Store::initialized();
    let set = json_of(&store.run_with(
        &["auditor", "set", "--name", "carol", "--json"],
        &[
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_AUDITOR_PASSPHRASE", PASSPHRASE),
        ],
        None,
    ));
    assert_eq!(
        set,
        serde_json::json!({"message": "auditor carol set", "name": "carol"})
    );
    // LoadCredential=keyward-auditor-passphrase:… for a timer that checks.
    let creds = store.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    let dir = creds.to_str().unwrap();
    let env = [("CREDENTIALS_DIRECTORY", dir)];
    fails(
        &store.run_with(&["audit", "verify", "--auditor"], &env, None),
        3,
        "or provide the systemd credential keyward-auditor-passphrase",
    );
    std::fs::write(
        creds.join("keyward-auditor-passphrase"),
        format!("{PASSPHRASE}\n"),
    )
    .unwrap();
    let v = json_of(&store.run_with(&["audit", "verify", "--auditor", "--json"], &env, None));
    assert_eq!(v["records"], v["authenticated"], "{v}");
    // A refusal with --json: one JSON line on stderr, nothing on stdout.
    let out = store.run_with(
        &["audit", "verify", "--auditor", "--json"],
        &as_auditor("wrong-passphrase"),
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    let err: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["code"], 3);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("wrong auditor passphrase")
    );
    // --chain-only and --auditor say different things: refused together.
    fails(
        &store.run_with(&["audit", "verify", "--auditor", "--chain-only"], &[], None),
        2,
        "cannot be used with",
    );
    let removed = json_of(&store.run_with(
        &["auditor", "remove", "--json"],
        &[("KEYWARD_SO_PIN", SO_PIN)],
        None,
    ));
    assert_eq!(
        removed,
        serde_json::json!({"message": "auditor removed", "removed": true})
    );
    let shown = json_of(&store.run_with(&["auditor", "show", "--json"], &[], None));
    assert_eq!(shown, serde_json::json!({"name": null, "set": null}));
}
