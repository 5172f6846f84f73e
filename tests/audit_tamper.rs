//! Tamper detection of the audit trail: a trail built through the C ABI,
//! then copies of the token file edited directly with rusqlite, as an
//! attacker with the file would (triggers dropped first): an edited body,
//! a deleted record, two records swapped, and a cut tail with a rewritten
//! head. The library's verifier must name the affected record in each.

mod common;

use std::path::{Path, PathBuf};

use common::lifecycle::*;
use common::ops::*;
use common::raw::{Init, Tmpl};
use cryptoki_sys::*;
use keyward::audit::{Verdict, verify};
use keyward::store::TokenDb;
use keyward::store::seal::{AuditKey, unwrap_master_key};
use rusqlite::Connection;

/// A finalized module whose token holds a trail of at least ten records,
/// the last ones written while the user was logged in (so MAC'd).
fn trail() -> Module {
    let mut m = Module::start("");
    let s = m.ready();
    let mut keys = Vec::new();
    for i in 0..6 {
        let label = format!("key-{i}");
        keys.push(ok(
            aes(&s, &label, true, |t| t.bool(CKA_ENCRYPT, true)),
            "generate",
        ));
    }
    ok(
        s.set_attr(keys[0], Tmpl::new().bytes(CKA_LABEL, b"renamed")),
        "set attribute",
    );
    ok(s.destroy(keys[1]), "destroy");
    ok(s.create(imported(&[0x11; 32], "imported", true)), "import");
    m.finalize();
    m
}

/// A copy of the token file (and its WAL, if any) in its own directory.
fn copy_token(m: &Module, name: &str) -> PathBuf {
    let dir = m.env.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, bytes) in m.file_bytes() {
        std::fs::write(dir.join(path.file_name().unwrap()), bytes).unwrap();
    }
    dir.join("slot-0.sqlite")
}

/// Opens a copy as an attacker: the append-only triggers dropped.
fn attack(path: &Path) -> Connection {
    let db = Connection::open(path).unwrap();
    db.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    db
}

/// The audit key, unwrapped with the user PIN as the library would.
fn audit_key(db: &TokenDb) -> AuditKey {
    let meta = db.meta().unwrap().expect("initialized token");
    let rec = meta.user_pin.expect("user PIN set");
    let role = u8::try_from(CKU_USER).unwrap();
    let mk = unwrap_master_key(common::USER_PIN.as_bytes(), role, &rec).unwrap();
    let wrapped = db.audit_key_wrapped().unwrap().expect("audit key stored");
    AuditKey::unwrap(&mk, &wrapped).unwrap()
}

/// The library's verdict on a token file, with the audit key.
fn verdict(path: &Path) -> Verdict {
    let db = TokenDb::open(path).unwrap();
    let key = audit_key(&db);
    let (rows, head) = db.audit_trail().unwrap();
    verify(&rows, head.as_ref(), Some(&key))
}

fn record_count(path: &Path) -> i64 {
    let db = Connection::open(path).unwrap();
    db.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

/// Assert some finding names one of `seqs`.
#[track_caller]
fn assert_found(v: &Verdict, seqs: &[i64], what: &str) {
    assert!(!v.ok(), "{what}: the verifier found nothing");
    assert!(
        v.findings.iter().any(|f| seqs.contains(&f.seq)),
        "{what}: no finding names record(s) {seqs:?}: {:?}",
        v.findings
    );
}

#[test]
fn untouched_copy_verifies_clean() {
    let m = trail();
    let path = copy_token(&m, "clean");
    let n = record_count(&path);
    assert!(n >= 10, "trail too short: {n}");
    let v = verdict(&path);
    assert!(v.ok(), "untouched trail: {:?}", v.findings);
    assert_eq!(v.records, usize::try_from(n).unwrap());
    assert!(v.authenticated > 0, "no record was authenticated: {v:?}");
}

#[test]
fn edited_body_is_found() {
    let m = trail();
    let path = copy_token(&m, "edited");
    let target = record_count(&path) / 2;
    let db = attack(&path);
    let body: Vec<u8> = db
        .query_row("SELECT body FROM audit WHERE seq = ?1", [target], |r| {
            r.get(0)
        })
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    json["time"] = serde_json::Value::from("2000-01-01T00:00:00.000Z");
    let edited = serde_json::to_vec(&json).unwrap();
    assert_ne!(edited, body);
    db.execute(
        "UPDATE audit SET body = ?1 WHERE seq = ?2",
        rusqlite::params![edited, target],
    )
    .unwrap();
    drop(db);
    assert_found(&verdict(&path), &[target], "edited body");
}

#[test]
fn deleted_middle_record_is_found() {
    let m = trail();
    let path = copy_token(&m, "deleted");
    let target = record_count(&path) / 2;
    let db = attack(&path);
    assert_eq!(
        db.execute("DELETE FROM audit WHERE seq = ?1", [target])
            .unwrap(),
        1
    );
    drop(db);
    assert_found(&verdict(&path), &[target], "deleted record");
}

#[test]
fn reordered_records_are_found() {
    let m = trail();
    let path = copy_token(&m, "reordered");
    let (a, b) = (3, record_count(&path) - 2);
    let db = attack(&path);
    db.execute_batch(&format!(
        "UPDATE audit SET seq = -1 WHERE seq = {a};
         UPDATE audit SET seq = {a} WHERE seq = {b};
         UPDATE audit SET seq = {b} WHERE seq = -1;"
    ))
    .unwrap();
    drop(db);
    let v = verdict(&path);
    assert_found(&v, &[a], "swapped records (first)");
    assert_found(&v, &[b], "swapped records (second)");
}

#[test]
fn truncated_tail_with_rewritten_head_is_found_through_the_anchor() {
    let m = trail();
    let path = copy_token(&m, "truncated");
    let n = record_count(&path);
    let keep = n - 3;
    let db = attack(&path);
    let anchor: i64 = db
        .query_row("SELECT anchor_seq FROM audit_state", [], |r| r.get(0))
        .unwrap();
    assert!(
        anchor > keep,
        "precondition: the anchor {anchor} is in the cut tail"
    );
    db.execute_batch(&format!(
        "DELETE FROM audit WHERE seq > {keep};
         UPDATE audit_state SET head_seq = {keep},
             head_hash = (SELECT hash FROM audit WHERE seq = {keep});"
    ))
    .unwrap();
    drop(db);
    let cut: Vec<i64> = (keep + 1..=n).collect();
    assert_found(&verdict(&path), &cut, "truncated tail");
}

// --- truncation and erasure (issue 9, item 6) ------------------------------

use keyward::audit::{Witness, verify_token};

/// The library's whole-token verdict on a file: chain, anchor, the
/// token-row witness and recorded breaks, with the audit key.
fn token_verdict(path: &Path) -> Verdict {
    let db = TokenDb::open(path).unwrap();
    let key = audit_key(&db);
    let (rows, head) = db.audit_trail().unwrap();
    let witness = Witness {
        initialized: db.initialized().unwrap(),
        has_key: db.audit_key_wrapped().unwrap().is_some(),
        key_unopened: false,
    };
    verify_token(&rows, head.as_ref(), Some(&key), witness)
}

/// The attacker's best truncation: cut the last records, then move the
/// head *and* the anchor back to the last MAC'd record kept, borrowing
/// that record's own MAC for the anchor. Returns the new last seq.
fn cut_back(path: &Path, cut: i64) -> i64 {
    let n = record_count(path);
    let db = attack(path);
    let keep: i64 = db
        .query_row(
            "SELECT max(seq) FROM audit WHERE mac IS NOT NULL AND seq <= ?1",
            [n - cut],
            |r| r.get(0),
        )
        .unwrap();
    db.execute_batch(&format!(
        "DELETE FROM audit WHERE seq > {keep};
         UPDATE audit_state SET head_seq = {keep},
             head_hash = (SELECT hash FROM audit WHERE seq = {keep}),
             anchor_seq = {keep},
             anchor_hash = (SELECT hash FROM audit WHERE seq = {keep}),
             anchor_mac = (SELECT mac FROM audit WHERE seq = {keep});"
    ))
    .unwrap();
    keep
}

/// `keyward audit verify` on the module's store; its exit code and stdout.
fn cli_verify(m: &Module, chain_only: bool) -> (Option<i32>, String) {
    let mut args = vec!["audit", "verify"];
    if chain_only {
        args.push("--chain-only");
    }
    let out = std::process::Command::new(common::cli_bin::keyward_bin())
        .args(&args)
        .env("KEYWARD_CONF", &m.env.conf)
        .env("KEYWARD_PIN", common::USER_PIN)
        .env_remove("KEYWARD_STORE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn break_records(path: &Path) -> Vec<i64> {
    let db = Connection::open(path).unwrap();
    let mut stmt = db
        .prepare("SELECT seq FROM audit WHERE event = 'audit_break' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<i64>>>()
        .unwrap()
}

#[test]
fn truncation_with_a_borrowed_anchor_is_found() {
    let m = trail();
    let path = copy_token(&m, "cut-back");
    let keep = cut_back(&path, 3);
    let v = verdict(&path);
    assert_found(&v, &[keep], "trail cut back with the anchor moved back");
}

#[test]
fn append_after_truncation_records_the_break_for_good() {
    let mut m = trail();
    let keep = cut_back(&m.db_path(), 3);
    // Anyone logging in again appends an authenticated record: the module
    // must not re-anchor on the shortened chain silently.
    m.init = Init::new();
    let s = open_rw(m.f(), 0);
    ok(
        s.login(CKU_USER, common::USER_PIN),
        "user login after the cut",
    );
    ok(s.logout(), "logout");
    m.finalize();
    let breaks = break_records(&m.db_path());
    assert_eq!(
        breaks,
        vec![keep + 1],
        "one break record, right after the cut"
    );
    let v = token_verdict(&m.db_path());
    assert_found(&v, &[keep + 1], "the recorded break");
    let (code, out) = cli_verify(&m, false);
    assert_eq!(code, Some(5), "audit verify: {out}");
    assert!(out.contains("broken"), "{out}");
    // Later appends do not record the same break again.
    assert_eq!(break_records(&m.db_path()), vec![keep + 1]);
}

#[test]
fn erased_trail_is_reported() {
    let m = trail();
    let db = attack(&m.db_path());
    db.execute_batch("DELETE FROM audit; DELETE FROM audit_state;")
        .unwrap();
    drop(db);
    let (code, out) = cli_verify(&m, true);
    assert_eq!(code, Some(5), "chain-only verify of an erased trail: {out}");
    assert!(out.contains("erased"), "{out}");
    let (code, out) = cli_verify(&m, false);
    assert_eq!(
        code,
        Some(5),
        "verify (with login) of an erased trail: {out}"
    );
    assert_eq!(
        break_records(&m.db_path()).len(),
        1,
        "the login recorded it"
    );
    assert!(!token_verdict(&m.db_path()).ok());
}

#[test]
fn replaced_audit_key_is_reported() {
    let m = trail();
    let db = attack(&m.db_path());
    db.execute("UPDATE audit_state SET key_wrapped = x'00112233'", [])
        .unwrap();
    drop(db);
    let (code, out) = cli_verify(&m, false);
    assert_eq!(code, Some(5), "verify with a replaced audit key: {out}");
    assert!(out.contains("audit key"), "{out}");
}
