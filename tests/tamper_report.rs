//! Damaged object rows are reported, never silent (issue 9, item 4): a
//! row whose seal fails is found by searches on its indexed columns, every
//! use of it answers CKR_DEVICE_ERROR, healthy rows stay usable, the damage
//! is audited once per version of the row (across processes), and the CLI
//! lists it (`keys list`, `token check` with exit 5). A master-key
//! rotation by another process is not damage. The token file is edited
//! directly with rusqlite while no process has it open.

#[path = "cli_support/mod.rs"]
mod cli;
mod common;

use std::path::Path;
use std::process::Command;

use common::lifecycle::*;
use common::ops::*;
use common::raw::{Init, Tmpl};
use cryptoki_sys::*;
use rusqlite::Connection;

/// C_Initialize again after `Module::finalize` (the file was edited).
fn reopen(m: &mut Module) {
    m.init = Init::new();
}

fn user_session(m: &Module) -> Sess {
    let s = open_rw(m.f(), 0);
    ok(s.login(CKU_USER, common::USER_PIN), "user login");
    s
}

/// Flips one byte in the middle of row `id`'s sealed blob.
fn flip_sealed(path: &Path, id: i64) {
    let db = Connection::open(path).unwrap();
    let mut sealed: Vec<u8> = db
        .query_row("SELECT sealed FROM object WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!sealed.is_empty(), "row {id} has no seal");
    let mid = sealed.len() / 2;
    sealed[mid] ^= 0x01;
    db.execute(
        "UPDATE object SET sealed = ?1 WHERE id = ?2",
        rusqlite::params![sealed, id],
    )
    .unwrap();
}

/// `object_damaged` records about row `id` in the token file.
fn damage_records(path: &Path, id: i64) -> usize {
    let db = Connection::open(path).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM audit WHERE event = 'object_damaged' AND object = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    usize::try_from(n).unwrap()
}

fn row_id(s: &Sess, h: CK_OBJECT_HANDLE) -> i64 {
    i64::try_from(s.attr_ulong(h, CKA_KEYWARD_OBJECT_ID)).unwrap()
}

fn label(l: &str) -> Tmpl {
    Tmpl::new().bytes(CKA_LABEL, l.as_bytes())
}

#[test]
fn damaged_key_is_found_refused_with_device_error_and_audited_once() {
    let mut m = Module::start("");
    let s = m.ready();
    let victim = ok(
        aes(&s, "victim", true, |t| t.bool(CKA_ENCRYPT, true)),
        "gen",
    );
    let healthy = ok(
        aes(&s, "healthy", true, |t| t.bool(CKA_ENCRYPT, true)),
        "gen",
    );
    let id = row_id(&s, victim);
    let healthy_id = row_id(&s, healthy);
    m.finalize();
    flip_sealed(&m.db_path(), id);

    reopen(&mut m);
    let s = user_session(&m);
    // Found by its label (today it silently vanished from the search).
    let found = ok(s.find(label("victim")), "find the damaged key");
    assert_eq!(found.len(), 1, "the damaged key is not hidden");
    let h = found[0];
    // Every use of it is a clear CKR_DEVICE_ERROR.
    assert_eq!(
        s.attr(h, CKA_LABEL),
        Err(CKR_DEVICE_ERROR),
        "C_GetAttributeValue"
    );
    let ecb = Mech::new(CKM_AES_ECB);
    assert_eq!(
        s.encrypt_init(&ecb, h),
        Err(CKR_DEVICE_ERROR),
        "C_EncryptInit"
    );
    assert_eq!(
        copy_object(&s, h, Tmpl::new()),
        Err(CKR_DEVICE_ERROR),
        "C_CopyObject"
    );
    // It does not hide the healthy key, in the same search.
    let all = ok(
        s.find(Tmpl::new().ulong(CKA_CLASS, CKO_SECRET_KEY)),
        "find all",
    );
    assert_eq!(all.len(), 2, "both keys found: {all:?}");
    let good = ok(s.find(label("healthy")), "find healthy")[0];
    assert_eq!(row_id(&s, good), healthy_id);
    ok(
        s.encrypt_once(&ecb, good, &[0u8; 16]),
        "healthy key still works",
    );
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 1, "audited exactly once");
    assert_eq!(damage_records(&m.db_path(), healthy_id), 0);

    // Another process (a fresh module instance) meets the same damage: no
    // second record for the same version of the row.
    reopen(&mut m);
    let s = user_session(&m);
    let h = ok(s.find(label("victim")), "find again")[0];
    assert_eq!(s.attr(h, CKA_LABEL), Err(CKR_DEVICE_ERROR));
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 1, "still once");
    let db = Connection::open(m.db_path()).unwrap();
    let (body, result): (Vec<u8>, String) = db
        .query_row(
            "SELECT body, json_extract(body, '$.result') FROM audit
             WHERE event = 'object_damaged'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(result, "CKR_DEVICE_ERROR");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        json["fingerprint"].as_str().is_some_and(|f| f.len() == 32),
        "record names the row fingerprint: {json}"
    );

    // The user can still remove the damaged row (nothing else would clear
    // it short of re-initializing the token); the healthy key stays.
    reopen(&mut m);
    let s = user_session(&m);
    let h = ok(s.find(label("victim")), "find before destroy")[0];
    ok(s.destroy(h), "C_DestroyObject of a damaged row");
    assert!(ok(s.find(label("victim")), "find after destroy").is_empty());
    assert_eq!(ok(s.find(label("healthy")), "healthy kept").len(), 1);
    m.finalize();
}

#[test]
fn damaged_public_row_is_reported_without_login() {
    let mut m = Module::start("");
    let s = m.ready();
    ok(
        s.create(
            Tmpl::new()
                .ulong(CKA_CLASS, CKO_DATA)
                .bool(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"data")
                .bytes(CKA_VALUE, b"payload"),
        ),
        "create data object",
    );
    m.finalize();
    let id: i64 = Connection::open(m.db_path())
        .unwrap()
        .query_row("SELECT id FROM object WHERE class = 0", [], |r| r.get(0))
        .unwrap();
    // The clear half no longer decodes: damage even a public session sees.
    let db = Connection::open(m.db_path()).unwrap();
    db.execute("UPDATE object SET public = x'ff' WHERE id = ?1", [id])
        .unwrap();
    drop(db);
    reopen(&mut m);
    let s = open_rw(m.f(), 0);
    let found = ok(s.find(label("data")), "public find");
    assert_eq!(found.len(), 1, "found by its label column");
    assert_eq!(s.attr(found[0], CKA_VALUE), Err(CKR_DEVICE_ERROR));
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 1);
}

#[test]
fn rotation_by_another_process_is_not_damage() {
    let mut m = Module::start("");
    let s = m.ready();
    let k = ok(
        aes(&s, "rotated", true, |t| t.bool(CKA_ENCRYPT, true)),
        "gen",
    );
    let id = row_id(&s, k);
    // Another process rotates the master key while we stay logged in
    // under the old one.
    let out = Command::new(common::cli_bin::keyward_bin())
        .args(["master-key", "rotate", "--yes"])
        .env("KEYWARD_CONF", &m.env.conf)
        .env("KEYWARD_SO_PIN", common::SO_PIN)
        .env("KEYWARD_PIN", common::USER_PIN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for _ in 0..2 {
        let found = ok(s.find(label("rotated")), "find after rotation");
        for h in found {
            let rv = s.attr(h, CKA_LABEL).err().unwrap_or(CKR_OK);
            assert_eq!(rv, CKR_OK, "after a rotation");
        }
        // Not damage, and (issue 10) no logout: the session follows the
        // new master key.
        let rv = s
            .encrypt_once(&Mech::new(CKM_AES_ECB), k, &[0u8; 16])
            .err()
            .unwrap_or(CKR_OK);
        assert_eq!(rv, CKR_OK, "a rotation is neither damage nor a logout");
    }
    let _ = s.login(CKU_USER, common::USER_PIN);
    let h = ok(s.find(label("rotated")), "find after re-login")[0];
    ok(
        s.encrypt_once(&Mech::new(CKM_AES_ECB), h, &[0u8; 16]),
        "usable under the new master key",
    );
    m.finalize();
    assert_eq!(damage_records(&m.db_path(), id), 0, "nothing reported");
}

/// The CLI's store with one healthy and one damaged key.
fn cli_store_with_damage() -> (cli::Store, i64) {
    let store = cli::Store::initialized();
    for l in ["good", "bad"] {
        cli::ok(&store.run(&["keys", "generate", "--type", "aes-256", "--label", l]));
    }
    let keys = cli::json_of(&store.run(&["keys", "list", "--json"]));
    let bad = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "bad")
        .unwrap()["object_id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let id = i64::try_from(bad).unwrap();
    flip_sealed(&store.dir.path().join("store/slot-0.sqlite"), id);
    (store, id)
}

#[test]
fn cli_token_check_and_keys_list_show_damage() {
    let clean = cli::Store::initialized();
    cli::ok(&clean.run(&["keys", "generate", "--type", "aes-256", "--label", "k"]));
    let out = clean.run(&["token", "check"]);
    cli::ok(&out);
    assert!(
        cli::stdout(&out).contains("token OK"),
        "{}",
        cli::stdout(&out)
    );

    let (store, id) = cli_store_with_damage();
    let out = store.run(&["token", "check"]);
    cli::fails(&out, 5, "failed their integrity check");
    let text = cli::stdout(&out);
    assert!(
        text.contains(&format!("#{id}")),
        "damaged row listed: {text}"
    );
    assert!(!text.contains("good"), "healthy key not listed: {text}");
    let json = store.run(&["token", "check", "--json"]);
    assert_eq!(json.status.code(), Some(5));
    let rows: serde_json::Value = serde_json::from_str(&cli::stdout(&json)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // Object ids are strings in JSON (they exceed 2^53).
    assert_eq!(rows[0]["object_id"], id.cast_unsigned().to_string());

    let out = store.run(&["keys", "list"]);
    cli::ok(&out);
    let text = cli::stdout(&out);
    assert!(text.contains("DAMAGED"), "keys list marks the row: {text}");
    assert!(
        text.contains("good"),
        "keys list still shows the healthy key: {text}"
    );
    let keys = cli::json_of(&store.run(&["keys", "list", "--json"]));
    let damaged: Vec<_> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "DAMAGED")
        .collect();
    assert_eq!(damaged.len(), 1, "{keys}");
    assert_eq!(damaged[0]["object_id"], id.cast_unsigned().to_string());
    assert_eq!(
        damage_records(&store.dir.path().join("store/slot-0.sqlite"), id),
        1,
        "audited once across several CLI runs"
    );
}

#[test]
fn concurrent_processes_record_the_damage_once() {
    let (store, id) = cli_store_with_damage();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(common::cli_bin::keyward_bin())
                .args(["token", "check"])
                .env("KEYWARD_CONF", &store.conf)
                .env("KEYWARD_PIN", cli::USER_PIN)
                .env_remove("KEYWARD_STORE")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(5), "token check");
    }
    assert_eq!(
        damage_records(&store.dir.path().join("store/slot-0.sqlite"), id),
        1,
        "four concurrent checks, one record"
    );
}
