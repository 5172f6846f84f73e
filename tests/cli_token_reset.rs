//! `keyward token reset`: the audited way back from a locked SO PIN. A
//! locked SO PIN refuses C_InitToken (the spec's CKR_PIN_LOCKED) and
//! names the reset; the reset refuses without an explicit confirmation,
//! then crypto-erases every key (gone from the raw file bytes too, with
//! the only wrappings of the old master key), sets a new SO PIN and leaves
//! a `token_reset` record in a trail that still verifies.

mod cli_support;

use std::io::Write as _;
use std::path::PathBuf;

use cli_support::*;

const NEW_SO_PIN: &str = "new-so-pin-2";
const NEW_USER_PIN: &str = "new-user-pin-2";
const LABEL: &str = "cli-test";

/// Every file of the store (token file, -wal, -shm), as raw bytes.
fn raw_files(store: &Store) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = store.dir.path().join("store");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
    assert!(!out.is_empty());
    out
}

fn token_file(store: &Store) -> PathBuf {
    raw_files(store)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .expect("token file")
}

/// Sealed object blobs and wrapped master keys, as stored now.
fn secrets_at_rest(store: &Store) -> Vec<Vec<u8>> {
    let db = rusqlite::Connection::open(token_file(store)).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT sealed FROM object WHERE length(sealed) > 0",
        "SELECT wrapped FROM pin",
    ] {
        let mut stmt = db.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_locked_so_pin_is_recovered_by_an_audited_reset_that_erases_every_key() {
    let store = Store::initialized();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&store.conf)
        .unwrap()
        .write_all(b"max_pin_failures = 3\n")
        .unwrap();
    ok(&store.run(&[
        "keys", "generate", "--type", "aes-256", "--label", "old-key",
    ]));
    let old_secrets = secrets_at_rest(&store);
    assert!(old_secrets.len() >= 3, "a key and two wrapped master keys");

    // Lock the SO PIN with wrong guesses.
    for _ in 0..3 {
        let out = store.run_with(
            &["pin", "change", "--so"],
            &[
                ("KEYWARD_SO_PIN", "wrong-so-pin"),
                ("KEYWARD_NEW_SO_PIN", NEW_SO_PIN),
            ],
            None,
        );
        fails(&out, 3, "wrong SO PIN");
    }
    let info = json_of(&store.run(&["token", "info", "--json"]));
    assert_eq!(info["so_pin_locked"], true);
    // C_InitToken with the right SO PIN is refused (locked), and says how
    // to get back.
    let out = store.run_with(
        &["token", "init", "--label", LABEL, "--yes"],
        &[("KEYWARD_SO_PIN", SO_PIN)],
        None,
    );
    fails(&out, 3, "the SO PIN is locked");
    fails(&out, 3, "keyward token reset");

    // No confirmation, a wrong label, or a wrong answer: nothing happens.
    let reset_env = [("KEYWARD_NEW_SO_PIN", NEW_SO_PIN)];
    let out = store.run_with(
        &["token", "reset", "--label", LABEL, "--yes"],
        &reset_env,
        None,
    );
    fails(&out, 2, "erases every key");
    fails(&out, 2, "--yes-erase-all-keys (--yes is not enough)");
    let out = store.run_with(
        &["token", "reset", "--label", "other", "--yes-erase-all-keys"],
        &reset_env,
        None,
    );
    fails(&out, 2, "is labelled \"cli-test\", not \"other\"");
    assert_eq!(secrets_at_rest(&store), old_secrets, "nothing erased yet");

    let out = store.run_with(
        &["token", "reset", "--label", LABEL, "--yes-erase-all-keys"],
        &reset_env,
        None,
    );
    ok(&out);
    assert!(stdout(&out).contains("every key and PIN erased"));

    let info = json_of(&store.run(&["token", "info", "--json"]));
    assert_eq!(info["so_pin_locked"], false);
    assert_eq!(info["user_pin_set"], false);
    assert_eq!(info["label"], LABEL);
    // The old SO PIN is gone; the new one works (sets a user PIN).
    let out = store.run_with(
        &["pin", "unlock"],
        &[
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_NEW_PIN", NEW_USER_PIN),
        ],
        None,
    );
    fails(&out, 3, "wrong SO PIN");
    ok(&store.run_with(
        &["pin", "unlock"],
        &[
            ("KEYWARD_SO_PIN", NEW_SO_PIN),
            ("KEYWARD_NEW_PIN", NEW_USER_PIN),
        ],
        None,
    ));
    let user = [("KEYWARD_PIN", NEW_USER_PIN)];
    let keys = json_of(&store.run_with(&["keys", "list", "--json"], &user, None));
    assert_eq!(keys, serde_json::json!([]), "old keys gone");

    // Crypto-erased: no old sealed blob and no old wrapping of the old
    // master key is left anywhere in the files.
    for (path, bytes) in raw_files(&store) {
        for s in &old_secrets {
            assert!(
                !contains(&bytes, &s[s.len() - 32..]),
                "old secret bytes left in {}",
                path.display()
            );
        }
    }

    // Audited, and the trail (now under a new audit key) still verifies.
    let records = json_of(&store.run_with(
        &["audit", "show", "--event", "token_reset", "--json"],
        &[],
        None,
    ));
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["slot"], 0);
    assert!(
        records[0]["detail"]
            .as_str()
            .unwrap()
            .contains("SO PIN was locked"),
        "{records:?}"
    );
    let out = store.run_with(&["audit", "verify"], &user, None);
    ok(&out);
    assert!(stdout(&out).contains("audit trail OK"), "{}", stdout(&out));
}
