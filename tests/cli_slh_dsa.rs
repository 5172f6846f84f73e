//! `keyward keys generate --type slh-dsa-sha2-128f` (and the other SLH-DSA
//! parameter sets) and the rotation of an SLH-DSA key, run through the
//! built binary on a temporary store (helpers as in tests/cli.rs).

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
fn generate_fast_parameter_sets() {
    let store = Store::initialized();
    // The 'f' sets (the 's' sets generate the same way, more slowly).
    for (ty, label) in [
        ("slh-dsa-sha2-128f", "h-128f"),
        ("slh-dsa-shake-128f", "k-128f"),
        ("slh-dsa-sha2-192f", "h-192f"),
        ("slh-dsa-shake-256f", "k-256f"),
    ] {
        let shown = generate(&store, &["--type", ty, "--label", label]);
        assert_eq!(shown["label"], json!(label), "{shown}");
        assert_eq!(shown["key_type"], json!("slh-dsa"), "{shown}");
        assert_eq!(shown["class"], json!("private"), "{shown}");
        assert_eq!(shown["uses"], json!(["sign"]), "{shown}");
    }
    // Signing keys only.
    let out = store.run(&[
        "keys",
        "generate",
        "--type",
        "slh-dsa-sha2-128f",
        "--label",
        "x",
        "--usage",
        "decrypt",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stderr(&out).contains("sign,verify"), "{}", stderr(&out));
    // Not a parameter set.
    let out = store.run(&[
        "keys",
        "generate",
        "--type",
        "slh-dsa-sha2-128",
        "--label",
        "y",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn rotation_makes_a_key_of_the_same_parameter_set() {
    let store = Store::initialized();
    let old = generate(
        &store,
        &[
            "--type",
            "slh-dsa-shake-128f",
            "--label",
            "slh-rot",
            "--id",
            "c0ffee05",
        ],
    );
    let old_object = old["object_id"].as_str().unwrap().to_string();
    let done = json_of(&store.run(&["keys", "rotate", "id:c0ffee05", "--json"]));
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["old_object_id"], json!(old_object));
    let new_object = done[0]["new_object_id"].as_str().unwrap().to_string();
    let new = show(&store, &format!("#{new_object}"));
    assert_eq!(new["key_type"], json!("slh-dsa"));
    assert_eq!(new["state"], json!("active"));
    assert_eq!(new["predecessor"], json!(old_object));
    assert_eq!(show(&store, "id:c0ffee05@1")["state"], json!("deactivated"));
}
