//! `keyward keys generate --type ed448|x448` and the rotation of an Ed448
//! key, run through the built binary on a temporary store (helpers as in
//! tests/cli.rs).

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
fn generate_ed448_and_x448() {
    let store = Store::initialized();
    for (ty, label, uses) in [("ed448", "sig-448", "sign"), ("x448", "kex-448", "derive")] {
        let shown = generate(&store, &["--type", ty, "--label", label]);
        assert_eq!(shown["label"], json!(label), "{shown}");
        assert_eq!(shown["key_type"], json!(ty), "{shown}");
        assert_eq!(shown["size"], json!(448), "{shown}");
        assert_eq!(shown["class"], json!("private"), "{shown}");
        assert_eq!(shown["uses"], json!([uses]), "{shown}");
    }
    // The public halves are described the same way.
    let publics = json_of(&store.run(&["keys", "list", "--json", "--class", "public"]));
    let mut kinds: Vec<(String, u64)> = publics
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_type"].as_str().unwrap().to_string(),
                k["size"].as_u64().unwrap(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [("ed448".to_string(), 448), ("x448".to_string(), 448)]
    );
    // X448 keys agree, they do not sign.
    let out = store.run(&[
        "keys", "generate", "--type", "x448", "--label", "x", "--usage", "sign",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stderr(&out).contains("derive"), "{}", stderr(&out));
}

#[test]
fn rotation_makes_another_ed448_key() {
    let store = Store::initialized();
    let old = generate(
        &store,
        &["--type", "ed448", "--label", "rot-448", "--id", "c0ffee48"],
    );
    let old_object = old["object_id"].as_str().unwrap().to_string();
    let done = json_of(&store.run(&["keys", "rotate", "id:c0ffee48", "--json"]));
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    let new_object = done[0]["new_object_id"].as_str().unwrap().to_string();
    let new = show(&store, &format!("#{new_object}"));
    assert_eq!(new["key_type"], json!("ed448"));
    assert_eq!(new["size"], json!(448));
    assert_eq!(new["predecessor"], json!(old_object));
}
