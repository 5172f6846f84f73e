//! `keyward keys generate --type ml-kem-512/768/1024` and rotation of an
//! ML-KEM pair, through the built binary on a temporary store (helpers as
//! in tests/cli.rs).

use serde_json::{Value, json};

mod cli_support;
use cli_support::*;

fn generate(store: &Store, extra: &[&str]) -> Value {
    json_of(&store.run(&[&["keys", "generate", "--json"], extra].concat()))
}

#[test]
fn generate_and_rotate_ml_kem() {
    let store = Store::initialized();
    for (ty, id) in [
        ("ml-kem-512", "c0ffee51"),
        ("ml-kem-768", "c0ffee76"),
        ("ml-kem-1024", "c0ffee10"),
    ] {
        let key = generate(&store, &["--type", ty, "--label", ty, "--id", id]);
        assert_eq!(key["key_type"], json!("ml-kem"), "{key}");
        assert_eq!(key["class"], json!("private"), "{key}");
        // No sign/verify/encrypt/derive: encapsulation is the one use.
        assert_eq!(key["uses"], json!([]), "{key}");
    }
    // --usage does not apply to a KEM pair.
    let out = store.run(&[
        "keys",
        "generate",
        "--type",
        "ml-kem-768",
        "--label",
        "x",
        "--usage",
        "sign",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // Rotation makes a pair of the same parameter set.
    let out = store.run(&["keys", "rotate", "id:c0ffee76", "--json"]);
    let done = json_of(&out);
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["new_version"], json!(2));
    let new = json_of(&store.run(&["keys", "show", "id:c0ffee76", "--json"]));
    assert_eq!(new["key_type"], json!("ml-kem"));
    assert_eq!(new["version"], json!(2));
    assert_eq!(new["state"], json!("active"));
}
