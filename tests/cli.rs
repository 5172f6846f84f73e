//! The `keyward` admin CLI as a script sees it: the built binary run on a
//! temporary store with stdin not a terminal, checked by exit code,
//! stderr message and (normalized) JSON output.

use serde_json::{Value, json};

mod cli_support;
use cli_support::*;
/// Replaces what varies between runs: random ids become "<random-id>"
/// (after checking they are 16 bytes of hex), and the lifecycle fields,
/// which answer null until the lifecycle attributes land, are checked for
/// their type and then dropped.
fn normalize(mut key: Value) -> Value {
    let obj = key.as_object_mut().unwrap();
    let id = obj["id"].as_str().unwrap().to_string();
    if !id.starts_with("c0ffee") {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        obj.insert("id".into(), json!("<random-id>"));
    }
    for (field, is_type) in [
        ("state", Value::is_string as fn(&Value) -> bool),
        ("created", Value::is_string),
        ("last_used", Value::is_string),
        ("use_count", Value::is_u64),
        ("object_id", Value::is_string),
        ("version", Value::is_u64),
        ("primary", Value::is_boolean),
    ] {
        let v = obj.remove(field).unwrap();
        assert!(v.is_null() || is_type(&v), "{field}: {v}");
    }
    key
}

fn key(label: &str, id: &str, class: &str, key_type: &str, size: u64, curve: Value) -> Value {
    json!({
        "label": label, "id": id, "class": class, "key_type": key_type, "size": size,
        "curve": curve, "uses": [], "start_date": null, "end_date": null,
        "sensitive": null, "extractable": null,
    })
}

fn with(mut v: Value, fields: Value) -> Value {
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn generate_several_types_and_list_as_json() {
    let store = Store::initialized();
    for args in [
        &["--type", "ec-p256", "--label", "web", "--id", "c0ffee01"][..],
        &["--type", "ed25519", "--label", "code-signing"],
        &["--type", "x25519", "--label", "agreement"],
        &[
            "--type",
            "aes-256",
            "--label",
            "kek",
            "--id",
            "c0ffee02",
            "--start-date",
            "2030-01-02",
            "--end-date",
            "2031-12-31",
            "--extractable",
        ],
        &["--type", "hmac-sha256", "--label", "mac", "--usage", "sign"],
    ] {
        let out = store.run(&[&["keys", "generate", "--json"], args].concat());
        let shown = json_of(&out);
        assert_eq!(shown["label"], json!(args[3]), "{}", stdout(&out));
    }
    let listed = json_of(&store.run(&["keys", "list", "--json"]));
    let listed: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(normalize)
        .collect();
    let private = json!({"sensitive": true, "extractable": false});
    let public = json!({"sensitive": null, "extractable": null});
    let x25519 = key(
        "agreement",
        "<random-id>",
        "private",
        "x25519",
        256,
        Value::Null,
    );
    let ed = key(
        "code-signing",
        "<random-id>",
        "private",
        "ed25519",
        256,
        Value::Null,
    );
    let ec = key("web", "c0ffee01", "private", "ec", 256, json!("p256"));
    let expected = vec![
        with(
            x25519.clone(),
            json!({"uses": ["derive"], "sensitive": true, "extractable": false}),
        ),
        with(
            x25519,
            json!({"class": "public", "sensitive": null, "extractable": null}),
        ),
        with(ed.clone(), json!({"uses": ["sign"]})).merge(&private),
        with(ed, json!({"class": "public", "uses": ["verify"]})).merge(&public),
        with(
            key("kek", "c0ffee02", "secret", "aes", 256, Value::Null),
            json!({"uses": ["encrypt", "decrypt"], "sensitive": true,
                   "extractable": true, "start_date": "2030-01-02", "end_date": "2031-12-31"}),
        ),
        with(
            key(
                "mac",
                "<random-id>",
                "secret",
                "generic-secret",
                256,
                Value::Null,
            ),
            json!({"uses": ["sign"]}),
        )
        .merge(&private),
        with(ec.clone(), json!({"uses": ["sign"]})).merge(&private),
        with(ec, json!({"class": "public", "uses": ["verify"]})).merge(&public),
    ];
    assert_eq!(
        serde_json::to_string_pretty(&listed).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
    // Filters.
    let secrets = json_of(&store.run(&["keys", "list", "--json", "--class", "secret"]));
    assert_eq!(secrets.as_array().unwrap().len(), 2);
    let web = json_of(&store.run(&["keys", "list", "--json", "--label", "web"]));
    assert_eq!(web.as_array().unwrap().len(), 2);
    // Selection by id shows the private half of the pair.
    let shown = json_of(&store.run(&["keys", "show", "id:C0FFEE01", "--json"]));
    assert_eq!(shown["class"], json!("private"));
    assert_eq!(shown["label"], json!("web"));
    // The table has a header and one line per object.
    let table = store.run(&["keys", "list"]);
    ok(&table);
    assert_eq!(stdout(&table).lines().count(), 9, "{}", stdout(&table));
    assert!(stdout(&table).contains("ec-p256"));
}

/// Merging for the golden values above.
trait Merge {
    fn merge(self, other: &Value) -> Value;
}

impl Merge for Value {
    fn merge(self, other: &Value) -> Value {
        with(self, other.clone())
    }
}

#[test]
fn destroy_needs_yes_without_a_terminal() {
    let store = Store::initialized();
    ok(&store.run(&["keys", "generate", "--type", "ec-p384", "--label", "gone"]));
    ok(&store.run(&["keys", "generate", "--type", "aes-128", "--label", "kept"]));
    let refused = store.run(&["keys", "destroy", "gone"]);
    fails(&refused, 2, "pass --yes");
    assert!(stderr(&refused).contains("destroy 2 objects"));
    assert_eq!(
        json_of(&store.run(&["keys", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let done = store.run(&["keys", "destroy", "gone", "--yes"]);
    ok(&done);
    assert!(
        stdout(&done).contains("destroyed 2 objects"),
        "{}",
        stdout(&done)
    );
    let left = json_of(&store.run(&["keys", "list", "--json"]));
    let labels: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["kept"]);
    fails(
        &store.run(&["keys", "destroy", "gone", "--yes"]),
        4,
        "no key matches \"gone\"",
    );
}

#[test]
fn pin_errors_exit_3_with_a_clear_message() {
    let store = Store::initialized();
    let wrong = store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "wrong-pin")], None);
    fails(
        &wrong,
        3,
        "keyward: error: login failed: wrong user PIN (CKR_PIN_INCORRECT)",
    );
    let missing = store.run_with(&["keys", "list"], &[], None);
    fails(&missing, 3, "KEYWARD_PIN");
    assert!(stderr(&missing).starts_with("keyward: error: "));
    let so_missing = store.run_with(&["pin", "unlock"], &[], None);
    fails(&so_missing, 3, "KEYWARD_SO_PIN");
}

#[test]
fn unknown_and_ambiguous_keys_exit_4() {
    let store = Store::initialized();
    fails(
        &store.run(&["keys", "show", "nothing"]),
        4,
        "no key matches \"nothing\"",
    );
    fails(
        &store.run(&["keys", "show", "#999999"]),
        4,
        "no key matches",
    );
    for id in ["01", "02"] {
        ok(&store.run(&[
            "keys", "generate", "--type", "aes-128", "--label", "twin", "--id", id, "--force",
        ]));
    }
    let twice = store.run(&["keys", "show", "twin"]);
    fails(&twice, 4, "2 keys match \"twin\"");
    assert!(stderr(&twice).contains("id:01") && stderr(&twice).contains("id:02"));
    ok(&store.run(&["keys", "show", "id:02"]));
}

#[test]
fn usage_errors_exit_2() {
    let store = Store::initialized();
    let bad_type = store.run(&["keys", "generate", "--type", "rsa-1024", "--label", "x"]);
    assert_eq!(bad_type.status.code(), Some(2));
    let bad_date = store.run(&[
        "keys",
        "generate",
        "--type",
        "aes-128",
        "--label",
        "x",
        "--start-date",
        "2030-13-01",
    ]);
    assert_eq!(bad_date.status.code(), Some(2));
    assert_eq!(store.run(&["frobnicate"]).status.code(), Some(2));
    fails(&store.run(&["keys", "show", "id:xyz"]), 2, "bad hex");
    // --help documents the exit codes and exits 0.
    let help = store.run(&["--help"]);
    ok(&help);
    assert!(stdout(&help).contains("3  PIN or passphrase missing"));
}

#[test]
fn pins_from_a_file_descriptor() {
    let store = Store::new();
    // fd 0 is the pipe the test writes: SO PIN, then user PIN.
    let init = store.run_with(
        &[
            "token",
            "init",
            "--label",
            "fd",
            "--user-pin",
            "--pin-fd",
            "0",
        ],
        &[],
        Some(&format!("{SO_PIN}\n{USER_PIN}\n")),
    );
    ok(&init);
    assert!(stdout(&init).contains("user PIN set"));
    let listed = store.run_with(
        &["keys", "list", "--json", "--pin-fd", "0"],
        &[],
        Some(&format!("{USER_PIN}\n")),
    );
    assert_eq!(json_of(&listed), json!([]));
    // The fd wins over the environment.
    let wrong = store.run_with(
        &["keys", "list", "--pin-fd", "0"],
        &[("KEYWARD_PIN", USER_PIN)],
        Some("wrong-pin\n"),
    );
    fails(&wrong, 3, "CKR_PIN_INCORRECT");
    let short = store.run_with(
        &["pin", "unlock", "--pin-fd", "0"],
        &[],
        Some(&format!("{SO_PIN}\n")),
    );
    fails(&short, 3, "ended before the new user PIN");
}

#[test]
fn pin_change_unlock_and_token_info() {
    let store = Store::initialized();
    let changed = store.run_with(
        &["pin", "change"],
        &[("KEYWARD_PIN", USER_PIN), ("KEYWARD_NEW_PIN", "user-pin-2")],
        None,
    );
    ok(&changed);
    fails(&store.run(&["keys", "list"]), 3, "CKR_PIN_INCORRECT");
    ok(&store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "user-pin-2")], None));
    // Lock the user PIN with wrong tries (10 by default), then unlock.
    for _ in 0..10 {
        store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "wrong-pin")], None);
    }
    let info = json_of(&store.run(&["token", "info", "--json"]));
    assert_eq!(info["user_pin_locked"], json!(true));
    fails(
        &store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "user-pin-2")], None),
        3,
        "CKR_PIN_LOCKED",
    );
    let unlocked = store.run_with(
        &["pin", "unlock"],
        &[
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_PIN", "user-pin-3"),
        ],
        None,
    );
    ok(&unlocked);
    ok(&store.run_with(&["keys", "list"], &[("KEYWARD_PIN", "user-pin-3")], None));
    let list = json_of(&store.run(&["token", "list", "--json"]));
    assert_eq!(list[0]["label"], json!("cli-test"));
    assert_eq!(list[0]["initialized"], json!(true));
    assert_eq!(list[0]["user_pin_locked"], json!(false));
}

#[test]
fn reinitialization_asks_and_keeps_the_so_pin() {
    let store = Store::initialized();
    ok(&store.run(&["keys", "generate", "--type", "aes-128", "--label", "old"]));
    let env = [("KEYWARD_SO_PIN", SO_PIN)];
    fails(
        &store.run_with(&["token", "init", "--label", "again"], &env, None),
        2,
        "pass --yes",
    );
    let wrong = store.run_with(
        &["token", "init", "--label", "again", "--yes"],
        &[("KEYWARD_SO_PIN", "wrong-so-pin")],
        None,
    );
    fails(&wrong, 3, "CKR_PIN_INCORRECT");
    ok(&store.run_with(&["token", "init", "--label", "again", "--yes"], &env, None));
    let info = json_of(&store.run(&["token", "info", "--json"]));
    assert_eq!(info["label"], json!("again"));
    assert_eq!(info["user_pin_set"], json!(false));
    fails(
        &store.run(&["keys", "list"]),
        3,
        "CKR_USER_PIN_NOT_INITIALIZED",
    );
}
