//! `keyward keys generate --type ml-dsa-44|ml-dsa-65|ml-dsa-87` and the
//! rotation of an ML-DSA key, run through the built binary on a temporary
//! store (helpers as in tests/cli.rs).

use serde_json::{Value, json};

mod cli_support;
use cli_support::*;

fn generate(store: &Store, extra: &[&str]) -> Value {
    json_of(&store.run(&[&["keys", "generate", "--json"], extra].concat()))
}

fn show(store: &Store, key: &str) -> Value {
    json_of(&store.run(&["keys", "show", key, "--json"]))
}

#[test]
fn generate_each_parameter_set() {
    let store = Store::initialized();
    for (ty, label) in [
        ("ml-dsa-44", "pq-44"),
        ("ml-dsa-65", "pq-65"),
        ("ml-dsa-87", "pq-87"),
    ] {
        let shown = generate(&store, &["--type", ty, "--label", label]);
        assert_eq!(shown["label"], json!(label), "{shown}");
        assert_eq!(shown["key_type"], json!("ml-dsa"), "{shown}");
        assert_eq!(shown["class"], json!("private"), "{shown}");
        assert_eq!(shown["uses"], json!(["sign"]), "{shown}");
    }
    // Signing keys only.
    let out = store.run(&[
        "keys",
        "generate",
        "--type",
        "ml-dsa-44",
        "--label",
        "x",
        "--usage",
        "decrypt",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stderr(&out).contains("sign,verify"), "{}", stderr(&out));
}

#[test]
fn rotation_makes_a_key_of_the_same_parameter_set() {
    let store = Store::initialized();
    let old = generate(
        &store,
        &[
            "--type",
            "ml-dsa-65",
            "--label",
            "pq-rot",
            "--id",
            "c0ffee65",
        ],
    );
    let old_object = old["object_id"].as_str().unwrap().to_string();
    let done = json_of(&store.run(&["keys", "rotate", "id:c0ffee65", "--json"]));
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["old_object_id"], json!(old_object));
    let new_object = done[0]["new_object_id"].as_str().unwrap().to_string();
    let new = show(&store, &format!("#{new_object}"));
    assert_eq!(new["key_type"], json!("ml-dsa"));
    assert_eq!(new["state"], json!("active"));
    assert_eq!(new["predecessor"], json!(old_object));
    assert_eq!(show(&store, "id:c0ffee65@1")["state"], json!("deactivated"));
}
