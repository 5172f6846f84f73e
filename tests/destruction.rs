//! Verified destruction through the C ABI: after C_DestroyObject the key's
//! sealed blob is in no file of the token (main file or WAL) and the audit
//! record names it by fingerprint; after C_InitToken the old PIN records
//! and every old sealed blob are gone while the audit trail lives on.
//! While another process holds an older read snapshot, C_DestroyObject
//! returns at once and the erasure finishes at the next write after the
//! reader ends; `keyward keys destroy --wait` says which of the two it is.

mod cli_support;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::lifecycle::*;
use common::ops::*;
use cryptoki_sys::*;
use keyward::audit::verify;
use keyward::store::TokenDb;
use keyward::store::seal::{AuditKey, fingerprint, unwrap_master_key};
use rusqlite::Connection;
use sha2::Digest as _;

/// Pieces of `blob` to look for: all of it, and 32-byte windows from its
/// start, middle and end (a fragment left behind is a leak too).
fn pieces(blob: &[u8]) -> Vec<&[u8]> {
    assert!(blob.len() >= 32, "sealed blob too short: {}", blob.len());
    let mid = blob.len() / 2 - 16;
    vec![
        blob,
        &blob[..32],
        &blob[mid..mid + 32],
        &blob[blob.len() - 32..],
    ]
}

/// Every audit record's body and chain hash, in order.
fn trail(db: &Connection) -> Vec<(Vec<u8>, Vec<u8>)> {
    let body = column(db, "SELECT body FROM audit ORDER BY seq");
    let hash = column(db, "SELECT hash FROM audit ORDER BY seq");
    body.into_iter().zip(hash).collect()
}

/// Files of the token that hold any piece of `blob`.
fn holders(m: &Module, blob: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in m.file_bytes() {
        if pieces(blob).iter().any(|p| contains(&bytes, p)) {
            out.push(path.display().to_string());
        }
    }
    out
}

fn sealed_of(db: &Connection, id: CK_ULONG) -> Vec<u8> {
    let id = i64::try_from(id).unwrap();
    db.query_row("SELECT sealed FROM object WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

fn column(db: &Connection, sql: &str) -> Vec<Vec<u8>> {
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<Vec<u8>>>>()
        .unwrap()
}

#[test]
fn destroyed_key_leaves_no_sealed_bytes_and_an_audited_fingerprint() {
    let m = Module::start("");
    let s = m.ready();
    let value = sha2::Sha256::digest(b"destruction: a distinctive key").to_vec();
    let k = ok(s.create(imported(&value, "doomed", true)), "import");
    let id = s.attr_ulong(k, CKA_KEYWARD_OBJECT_ID);
    let sealed = sealed_of(&m.snapshot(), id);
    assert!(
        !holders(&m, &sealed).is_empty(),
        "precondition: the sealed blob is on disk before destruction"
    );

    ok(s.destroy(k), "C_DestroyObject");
    let left = holders(&m, &sealed);
    assert!(left.is_empty(), "sealed blob still in {left:?}");

    let rec = m.last_audit();
    assert_eq!(rec.event(), "destroy", "{}", rec.body);
    assert_eq!(rec.body["object"].as_u64(), Some(id), "{}", rec.body);
    let fp = rec.body["fingerprint"]
        .as_str()
        .unwrap_or_else(|| panic!("no fingerprint: {}", rec.body));
    assert_eq!(fp, fingerprint(&sealed), "fingerprint of the sealed blob");
    let hex = common::hex(&value);
    assert!(!fp.contains(&hex[..16]), "the fingerprint shows the key");
}

#[test]
fn reinitialization_erases_old_pins_and_keys_and_keeps_the_trail() {
    let mut m = Module::start("");
    let s = m.ready();
    ok(
        s.create(imported(&[0x3c; 32], "old-secret", true)),
        "import",
    );
    ok(
        aes(&s, "old-aes", true, |t| t.bool(CKA_ENCRYPT, true)),
        "generate",
    );
    ok(
        ec(&s, common::P256_PARAMS, "old-ec", true, |t| t),
        "EC pair",
    );
    close_session(&s);

    let before = m.snapshot();
    let pins = column(&before, "SELECT wrapped FROM pin");
    let blobs = column(&before, "SELECT sealed FROM object");
    assert_eq!(pins.len(), 2, "SO and user PIN records");
    assert_eq!(blobs.len(), 4, "four token objects");
    let trail_before = trail(&before);
    drop(before);
    for (what, blob) in pins.iter().map(|p| ("PIN record", p)) {
        assert!(
            !holders(&m, blob).is_empty(),
            "precondition: {what} on disk"
        );
    }

    init_token(m.f(), common::SO_PIN);

    for blob in &pins {
        let left = holders(&m, blob);
        assert!(
            left.is_empty(),
            "an old wrapped PIN record is still in {left:?}"
        );
    }
    for blob in &blobs {
        let left = holders(&m, blob);
        assert!(left.is_empty(), "an old sealed blob is still in {left:?}");
    }
    let after = m.snapshot();
    let trail_after = trail(&after);
    drop(after);
    assert!(
        trail_after.len() > trail_before.len(),
        "re-initialization audited"
    );
    assert_eq!(
        trail_after[..trail_before.len()],
        trail_before[..],
        "earlier records intact"
    );
    let last = m.last_audit();
    assert_eq!(last.event(), "token_init", "{}", last.body);

    // The whole trail, old and new records, verifies under the audit key
    // the SO carried over.
    m.finalize();
    let db = TokenDb::open(&m.db_path()).unwrap();
    let meta = db.meta().unwrap().unwrap();
    let role = u8::try_from(CKU_SO).unwrap();
    let mk = unwrap_master_key(common::SO_PIN.as_bytes(), role, &meta.so_pin.unwrap()).unwrap();
    let key = AuditKey::unwrap(&mk, &db.audit_key_wrapped().unwrap().unwrap()).unwrap();
    let (rows, head) = db.audit_trail().unwrap();
    let v = verify(&rows, head.as_ref(), Some(&key));
    assert!(v.ok(), "trail after re-initialization: {:?}", v.findings);
    assert_eq!(v.records, trail_after.len());
    assert!(
        v.authenticated > trail_before.len(),
        "old records authenticated: {v:?}"
    );
}

const READER_DB: &str = "KEYWARD_READER_DB";
const READER_SYNC: &str = "KEYWARD_READER_SYNC";
/// Safety net only: a reader whose parent died gives up after this many
/// polls (nothing is asserted about time).
const READER_MAX_POLLS: usize = 30_000;

/// The reader process: holds a read transaction (a snapshot taken before
/// the destruction) on the live token file until told to release it.
/// Another process, because SQLite's locks are per process: a second
/// SQLite in the module's process would not see the module's locks.
#[test]
fn reader_child() {
    let (Some(db), Some(sync)) = (std::env::var_os(READER_DB), std::env::var_os(READER_SYNC))
    else {
        return;
    };
    let sync = PathBuf::from(sync);
    let mut conn = Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let n: i64 = tx
        .query_row("SELECT count(*) FROM object", [], |r| r.get(0))
        .unwrap();
    assert!(n > 0, "the reader sees the doomed key");
    std::fs::write(sync.join("holding"), b"1").unwrap();
    for _ in 0..READER_MAX_POLLS {
        if sync.join("release").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    tx.commit().unwrap();
}

/// Starts a reader on `db` and waits until it holds its snapshot.
fn hold_snapshot(db: &Path, sync: &Path) -> Child {
    std::fs::create_dir_all(sync).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "reader_child", "--nocapture", "--test-threads=1"])
        .env(READER_DB, db)
        .env(READER_SYNC, sync)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !sync.join("holding").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("reader exited before holding a snapshot: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

fn release(mut reader: Child, sync: &Path) {
    std::fs::write(sync.join("release"), b"1").unwrap();
    let status = reader.wait().unwrap();
    assert!(status.success(), "reader: {status}");
}

#[test]
fn destroy_does_not_wait_for_a_reader_and_erasure_finishes_after_it() {
    let m = Module::start("");
    let s = m.ready();
    let value = sha2::Sha256::digest(b"destruction under a reader").to_vec();
    let k = ok(s.create(imported(&value, "doomed", true)), "import");
    let id = s.attr_ulong(k, CKA_KEYWARD_OBJECT_ID);
    let sealed = sealed_of(&m.snapshot(), id);
    let sync = m.env.root.join("reader-sync");
    let reader = hold_snapshot(&m.db_path(), &sync);

    // Returns while the reader still holds its snapshot (it only lets go
    // when told, below): the module never waits for it.
    ok(
        s.destroy(k),
        "C_DestroyObject with a reader holding a snapshot",
    );
    assert!(
        !sync.join("release").exists(),
        "the reader was still holding"
    );
    assert_eq!(
        s.attr(k, CKA_LABEL).unwrap_err(),
        CKR_OBJECT_HANDLE_INVALID,
        "destroyed at once for every application"
    );
    release(reader, &sync);

    // The next write is a cheap point to finish the erasure.
    ok(s.create(imported(&[0x55; 32], "after", true)), "next write");
    let left = holders(&m, &sealed);
    assert!(left.is_empty(), "sealed blob still in {left:?}");
}

/// The sealed blobs of every object in the token file at `db` (read from
/// a copy: see `Module::snapshot`).
fn sealed_blobs(db: &Path, scratch: &Path) -> Vec<Vec<u8>> {
    std::fs::create_dir_all(scratch).unwrap();
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            let to = scratch.join(format!("copy.sqlite{suffix}"));
            std::fs::copy(&from, to).unwrap();
        }
    }
    let conn = Connection::open(scratch.join("copy.sqlite")).unwrap();
    column(&conn, "SELECT sealed FROM object")
}

fn files_holding(db: &Path, blob: &[u8]) -> Vec<String> {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db.to_path_buf(), wal]
        .into_iter()
        .filter(|p| p.exists())
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            pieces(blob).iter().any(|piece| contains(&bytes, piece))
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn cli_destroy_reports_pending_then_complete_erasure() {
    use cli_support::{Store, fails, ok as cli_ok, stdout};
    let store = Store::initialized();
    cli_ok(&store.run(&["keys", "generate", "--type", "aes-256", "--label", "doomed"]));
    let db = store.dir.path().join("store").join("slot-0.sqlite");
    let blobs = sealed_blobs(&db, &store.dir.path().join("copy"));
    assert_eq!(blobs.len(), 1, "one AES key");
    let sync = store.dir.path().join("reader-sync");
    let reader = hold_snapshot(&db, &sync);

    let out = store.run(&["keys", "destroy", "doomed", "--yes", "--wait", "0"]);
    assert!(
        stdout(&out).contains("destroyed 1 objects"),
        "{}",
        stdout(&out)
    );
    fails(&out, 7, "erasure pending");
    fails(&out, 7, "keyward keys erase");
    // Still pending while the reader holds on.
    fails(
        &store.run(&["keys", "erase", "--wait", "0"]),
        7,
        "erasure pending",
    );
    assert!(
        !files_holding(&db, &blobs[0]).is_empty(),
        "honest: the bytes were still there"
    );

    release(reader, &sync);
    let out = store.run(&["keys", "erase", "--wait", "10"]);
    cli_ok(&out);
    assert!(
        stdout(&out).contains("erasure complete"),
        "{}",
        stdout(&out)
    );
    let left = files_holding(&db, &blobs[0]);
    assert!(left.is_empty(), "sealed blob still in {left:?}");
}
