//! Verified destruction through the C ABI: after C_DestroyObject the key's
//! sealed blob is in no file of the token (main file or WAL) and the audit
//! record names it by fingerprint; after C_InitToken the old PIN records
//! and every old sealed blob are gone while the audit trail lives on.

mod common;

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
