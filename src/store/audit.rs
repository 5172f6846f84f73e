//! The audit trail's tables: appending a hash-chained record inside the
//! transaction of the change it records, and reading records back for
//! `keyward audit show/verify/export`. What a record says is built by
//! `crate::audit`; this file only stores bytes.

use super::rows::{Dialect, Row, Tx, Val, vals};
use super::schema::TxResult;
use super::seal::{self, AuditKey};
use super::sqlite::TokenDb;
use crate::error::{Error, Result};

/// One record to append: the JSON body plus the columns that index it,
/// and the key that authenticates it when the master key is unlocked.
#[derive(Debug)]
pub struct AuditEntry {
    pub time_ms: i64,
    pub event: String,
    pub object: Option<i64>,
    pub body: Vec<u8>,
    pub key: Option<AuditKey>,
}

/// A stored record, exactly as on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub time_ms: i64,
    pub event: String,
    pub object: Option<i64>,
    pub body: Vec<u8>,
    pub hash: Vec<u8>,
    pub mac: Option<Vec<u8>>,
}

/// The chain's head (the last record, whoever wrote it) and anchor (the
/// last record written with the audit key, whose MAC an attacker cannot
/// forge): together they reveal a truncated trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub head_seq: i64,
    pub head_hash: Vec<u8>,
    pub anchor_seq: i64,
    pub anchor_hash: Vec<u8>,
    pub anchor_mac: Option<Vec<u8>>,
}

/// Which records `audit show` wants; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub object: Option<i64>,
    pub event: Option<String>,
}

const GENESIS: [u8; 32] = [0; 32];

/// A record for store-level tests, which write rows with no event behind
/// them.
#[cfg(test)]
pub fn test_entry() -> AuditEntry {
    AuditEntry {
        time_ms: 0,
        event: "test".into(),
        object: None,
        body: b"{}".to_vec(),
        key: None,
    }
}

fn head_from_row(r: &Row) -> TxResult<AuditHead> {
    Ok(AuditHead {
        head_seq: r.get(0)?,
        head_hash: r.get(1)?,
        anchor_seq: r.get(2)?,
        anchor_hash: r.get(3)?,
        anchor_mac: r.get(4)?,
    })
}

fn head_in(tx: &dyn Tx) -> TxResult<Option<AuditHead>> {
    tx.query_opt(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash, anchor_mac
         FROM audit_state WHERE id = 1",
        vals![],
    )?
    .as_ref()
    .map(head_from_row)
    .transpose()
}

/// Appends `e` after the current head, in the caller's transaction. An
/// authenticated append first checks the chain it extends (see
/// [`anchor_problem`]): a chain that was cut back or erased is never
/// silently re-anchored; a `audit_break` record saying what was found is
/// written (and authenticated) first, so the break stays visible. The
/// head is read once and shared by the check and the append.
pub(super) fn append(tx: &dyn Tx, e: &AuditEntry) -> TxResult<i64> {
    let mut head = head_in(tx)?;
    if let Some(key) = &e.key
        && let Some(problem) = anchor_problem(tx, key, head.as_ref())?
    {
        let body = serde_json::to_vec(&break_record(e, &problem)).unwrap_or_default();
        let record = AuditEntry {
            time_ms: e.time_ms,
            event: BREAK_EVENT.to_string(),
            object: None,
            body,
            key: Some(key.clone()),
        };
        append_at(tx, &record, head.as_ref())?;
        head = head_in(tx)?;
    }
    append_at(tx, e, head.as_ref())
}

/// The event of a record the module writes when it finds the chain it
/// is about to extend broken.
pub const BREAK_EVENT: &str = "audit_break";

fn break_record(e: &AuditEntry, problem: &str) -> crate::audit::Record {
    // Who and where come from the record that found the break.
    let found: crate::audit::Record = serde_json::from_slice(&e.body).unwrap_or_default();
    crate::audit::Record {
        time: found.time,
        event: BREAK_EVENT.to_string(),
        result: "CKR_OK".to_string(),
        pid: found.pid,
        slot: found.slot,
        role: found.role,
        detail: Some(problem.to_string()),
        user: found.user,
        host: found.host,
        program: found.program,
        ..Default::default()
    }
}

/// What is wrong with the chain an authenticated record would extend, if
/// anything: on an initialized token the chain must exist and end at or
/// after an anchor whose MAC verifies and whose record is still there.
fn anchor_problem(
    tx: &dyn Tx,
    key: &AuditKey,
    head: Option<&AuditHead>,
) -> TxResult<Option<String>> {
    // Asked only when there is no chain or anchor to check.
    let initialized = || tx.exists("SELECT 1 FROM token WHERE id = 1", vals![]);
    let Some(h) = head else {
        return Ok(initialized()?
            .then(|| "no audit chain on an initialized token: the trail was erased".to_string()));
    };
    if h.anchor_seq == 0 {
        return Ok(initialized()?.then(|| {
            "no authenticated anchor on an initialized token: the trail was erased \
             (or predates the audit trail)"
                .to_string()
        }));
    }
    let hash = <[u8; 32]>::try_from(h.anchor_hash.as_slice()).unwrap_or([0; 32]);
    let mac_ok = h
        .anchor_mac
        .as_ref()
        .is_some_and(|m| key.verify_anchor(h.anchor_seq, &hash, m));
    if !mac_ok {
        return Ok(Some(format!(
            "the chain anchor (record {}) does not verify: the trail was cut back or replaced",
            h.anchor_seq
        )));
    }
    let stored: Option<Vec<u8>> = tx
        .query_opt("SELECT hash FROM audit WHERE seq = ?1", vals![h.anchor_seq])?
        .map(|r| r.get(0))
        .transpose()?;
    if stored.as_deref() != Some(h.anchor_hash.as_slice()) || h.head_seq < h.anchor_seq {
        return Ok(Some(format!(
            "authenticated record {} is gone: the trail was truncated (head was at {})",
            h.anchor_seq, h.head_seq
        )));
    }
    Ok(None)
}

/// Appends `e` without checking the chain: for token initialization,
/// which proves the SO PIN (or finds no token) and may start the chain
/// under a new audit key.
pub(super) fn append_unchecked(tx: &dyn Tx, e: &AuditEntry) -> TxResult<i64> {
    append_at(tx, e, head_in(tx)?.as_ref())
}

/// Appends `e` after `head`, the head read in this transaction.
fn append_at(tx: &dyn Tx, e: &AuditEntry, head: Option<&AuditHead>) -> TxResult<i64> {
    let (seq, previous) = match head {
        Some(h) => (
            h.head_seq.checked_add(1).ok_or(Error::GeneralError)?,
            <[u8; 32]>::try_from(h.head_hash.as_slice()).map_err(|_| Error::Tampered)?,
        ),
        None => (1, GENESIS),
    };
    let hash = seal::audit_chain(&previous, seq.cast_unsigned(), &e.body);
    let mac = e.key.as_ref().map(|k| k.mac(&hash));
    let anchor_mac = e.key.as_ref().map(|k| k.anchor_mac(seq, &hash));
    tx.exec(
        "INSERT INTO audit (seq, time, event, object, body, hash, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vals![seq, e.time_ms, &e.event, e.object, &e.body, hash, &mac],
    )?;
    match (head, &anchor_mac) {
        (None, _) => {
            let (anchor_seq, anchor_hash) = if anchor_mac.is_some() {
                (seq, hash)
            } else {
                (0, GENESIS)
            };
            tx.exec(
                "INSERT INTO audit_state (id, head_seq, head_hash, anchor_seq, anchor_hash, anchor_mac)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                vals![seq, hash, anchor_seq, anchor_hash, &anchor_mac],
            )?;
        }
        (Some(_), Some(anchor_mac)) => {
            tx.exec(
                "UPDATE audit_state SET head_seq = ?1, head_hash = ?2,
                     anchor_seq = ?1, anchor_hash = ?2, anchor_mac = ?3 WHERE id = 1",
                vals![seq, hash, anchor_mac],
            )?;
        }
        (Some(_), None) => {
            tx.exec(
                "UPDATE audit_state SET head_seq = ?1, head_hash = ?2 WHERE id = 1",
                vals![seq, hash],
            )?;
        }
    }
    Ok(seq)
}

/// The event [`append_once`] deduplicates: the reports of a damaged row,
/// which alone have an index over their object (`audit_damage`, schema
/// version 5).
pub const DAMAGE_EVENT: &str = "object_damaged";

/// Appends the damage report `e` unless a report about the same object
/// already names `mark` (a row fingerprint): a damaged row is reported
/// once per version, whichever process finds it first.
fn append_once(tx: &dyn Tx, e: &AuditEntry, mark: &str) -> TxResult<bool> {
    if e.event != DAMAGE_EVENT {
        return Err(Error::GeneralError.into());
    }
    // The event is a literal so that SQLite can use the partial index.
    // `IS NOT DISTINCT FROM` is SQLite's `IS` (a NULL object matches a
    // NULL object); the mark is passed as its bytes, searched for as a
    // byte string in the body (SQLite's CAST of a blob is the blob).
    let sql = match tx.dialect() {
        Dialect::Sqlite => {
            "SELECT 1 FROM audit WHERE event = 'object_damaged' AND object IS NOT DISTINCT FROM ?1
             AND instr(body, CAST(?2 AS BLOB)) > 0"
        }
        Dialect::Postgres => {
            "SELECT 1 FROM audit WHERE event = 'object_damaged' AND object IS NOT DISTINCT FROM ?1
             AND position(CAST(?2 AS BYTEA) in body) > 0"
        }
    };
    let seen = tx.exists(sql, vals![e.object, mark.as_bytes()])?;
    if seen {
        return Ok(false);
    }
    append(tx, e)?;
    Ok(true)
}

/// Stores the audit key wrapped under the (new) master key.
pub(super) fn set_key(tx: &dyn Tx, wrapped: &[u8]) -> TxResult<()> {
    let n = tx.exec(
        "UPDATE audit_state SET key_wrapped = ?1 WHERE id = 1",
        vals![wrapped],
    )?;
    if n == 0 {
        tx.exec(
            "INSERT INTO audit_state (id, head_seq, head_hash, anchor_seq, anchor_hash, key_wrapped)
             VALUES (1, 0, ?1, 0, ?1, ?2)",
            vals![GENESIS, wrapped],
        )?;
    }
    Ok(())
}

fn audit_from_row(r: &Row) -> TxResult<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        time_ms: r.get(1)?,
        event: r.get(2)?,
        object: r.get(3)?,
        body: r.get(4)?,
        hash: r.get(5)?,
        mac: r.get(6)?,
    })
}

const SELECT_AUDIT: &str = "SELECT seq, time, event, object, body, hash, mac FROM audit";

impl TokenDb {
    /// Appends a record on its own (an event that changes nothing else:
    /// a refusal, a failed login, a backup).
    pub fn append_audit(&self, e: &AuditEntry) -> Result<i64> {
        self.write(|tx| append(tx, e))
    }

    /// Appends a record of an event that changed nothing stored (a wrap,
    /// a refusal, a failed login, a crypto operation): committed, visible
    /// and crash-safe when this returns, durable against power loss from
    /// the next fsync of the WAL ([`TokenDb::write_relaxed`]). Records
    /// that go with a change, or that must outlast power loss on their own
    /// (a restore), use [`TokenDb::append_audit`] or the change's own
    /// transaction (docs/AUDIT.md).
    pub fn append_audit_relaxed(&self, e: &AuditEntry) -> Result<i64> {
        self.write_relaxed(|tx| append(tx, e))
    }

    /// Appends the damage report `e` ([`DAMAGE_EVENT`]) unless an earlier
    /// report about the same object already names `mark`; true if it was
    /// written.
    pub fn append_audit_once(&self, e: &AuditEntry, mark: &str) -> Result<bool> {
        self.write(|tx| append_once(tx, e, mark))
    }

    /// Whether the token row exists (the token was initialized): the
    /// witness that an audit chain must exist too.
    pub fn initialized(&self) -> Result<bool> {
        self.read(|tx| tx.exists("SELECT 1 FROM token WHERE id = 1", vals![]))
    }

    /// Stores the audit key wrapped under the master key.
    pub fn set_audit_key(&self, wrapped: &[u8]) -> Result<()> {
        self.write(|tx| set_key(tx, wrapped))
    }

    /// The audit key as wrapped under the master key, if one was made.
    pub fn audit_key_wrapped(&self) -> Result<Option<Vec<u8>>> {
        self.read(|tx| {
            Ok(tx
                .query_opt("SELECT key_wrapped FROM audit_state WHERE id = 1", vals![])?
                .map(|r| r.get::<Option<Vec<u8>>>(0))
                .transpose()?
                .flatten())
        })
    }

    /// Records matching `filter`, oldest first.
    pub fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>> {
        let mut conditions: Vec<&str> = Vec::new();
        let mut args: Vec<Val> = Vec::new();
        if let Some(t) = filter.since_ms {
            conditions.push("time >= ?");
            args.push(Val::Int(t));
        }
        if let Some(t) = filter.until_ms {
            conditions.push("time <= ?");
            args.push(Val::Int(t));
        }
        if let Some(o) = filter.object {
            conditions.push("object = ?");
            args.push(Val::Int(o));
        }
        if let Some(ev) = &filter.event {
            conditions.push("event = ?");
            args.push(Val::Text(ev.clone()));
        }
        let mut sql = SELECT_AUDIT.to_string();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY seq");
        self.read(|tx| {
            tx.query(&sql, &args)?
                .iter()
                .map(audit_from_row)
                .collect::<TxResult<Vec<_>>>()
        })
    }

    /// Every record and the head, read in one transaction so they agree.
    pub fn audit_trail(&self) -> Result<(Vec<AuditRow>, Option<AuditHead>)> {
        self.read(|tx| {
            let rows = tx
                .query(&format!("{SELECT_AUDIT} ORDER BY seq"), vals![])?
                .iter()
                .map(audit_from_row)
                .collect::<TxResult<Vec<_>>>()?;
            Ok((rows, head_in(tx)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, TokenDb, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        let db = TokenDb::open(&path).unwrap();
        (dir, db, path)
    }

    #[test]
    fn relaxed_writes_commit_with_normal_and_leave_full() {
        let (_dir, db, path) = db();
        assert_eq!(db.synchronous_in_write().unwrap(), 2);
        let inside: i64 = db
            .write_relaxed(|tx| {
                let row = tx.query_opt("PRAGMA synchronous", vals![])?;
                row.ok_or(Error::GeneralError)?.get(0)
            })
            .unwrap();
        assert_eq!(inside, 1, "a relaxed write runs with NORMAL");
        assert_eq!(db.synchronous_in_write().unwrap(), 2, "then FULL again");

        // Committed and visible to another connection (another process)
        // as soon as the append returns.
        let seq = db.append_audit_relaxed(&test_entry()).unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = other
            .query_row("SELECT count(*) FROM audit WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(db.synchronous_in_write().unwrap(), 2);
    }

    #[test]
    fn failed_relaxed_writes_leave_full_and_nothing_written() {
        let (_dir, db, _path) = db();
        // A body that fails after writing a row, and one that fails in SQL.
        let refused = db.write_relaxed(|tx| -> TxResult<()> {
            append(tx, &test_entry())?;
            Err(Error::GeneralError.into())
        });
        assert_eq!(refused, Err(Error::GeneralError));
        assert_eq!(db.synchronous_in_write().unwrap(), 2);
        let bad_sql = db.write_relaxed(|tx| tx.exec("INSERT INTO nowhere VALUES (1)", vals![]));
        assert!(bad_sql.is_err());
        assert_eq!(db.synchronous_in_write().unwrap(), 2);
        assert!(db.audit_trail().unwrap().0.is_empty(), "rolled back");
    }

    fn damage(object: Option<i64>, mark: &str) -> AuditEntry {
        AuditEntry {
            time_ms: 0,
            event: DAMAGE_EVENT.into(),
            object,
            body: format!("{{\"detail\":\"row {mark}\"}}").into_bytes(),
            key: None,
        }
    }

    /// A damaged row is reported once per object and fingerprint; a
    /// report with no object matches only reports with no object (SQL
    /// `IS`, not `=`).
    #[test]
    fn damage_reports_are_appended_once() {
        let (_dir, db, _path) = db();
        assert_eq!(
            db.append_audit_once(&damage(Some(5), "ab:cd"), "ab:cd"),
            Ok(true)
        );
        assert_eq!(
            db.append_audit_once(&damage(Some(5), "ab:cd"), "ab:cd"),
            Ok(false)
        );
        assert_eq!(
            db.append_audit_once(&damage(Some(5), "ef:01"), "ef:01"),
            Ok(true)
        );
        assert_eq!(
            db.append_audit_once(&damage(Some(6), "ab:cd"), "ab:cd"),
            Ok(true)
        );
        assert_eq!(
            db.append_audit_once(&damage(None, "ab:cd"), "ab:cd"),
            Ok(true)
        );
        assert_eq!(
            db.append_audit_once(&damage(None, "ab:cd"), "ab:cd"),
            Ok(false)
        );
        // A mark the earlier bodies do not hold is new.
        assert_eq!(db.append_audit_once(&damage(Some(5), "x"), "zz"), Ok(true));
        // Only damage reports are deduplicated.
        assert_eq!(
            db.append_audit_once(&test_entry(), "ab:cd"),
            Err(Error::GeneralError)
        );
        assert_eq!(db.audit_trail().unwrap().0.len(), 5);
    }

    /// `audit show`'s filters, alone and together, and none.
    #[test]
    fn audit_rows_filter() {
        let (_dir, db, _path) = db();
        for (t, object, event) in [(10, Some(1), "a"), (20, Some(2), "b"), (30, None, "a")] {
            db.append_audit(&AuditEntry {
                time_ms: t,
                event: event.into(),
                object,
                body: b"{}".to_vec(),
                key: None,
            })
            .unwrap();
        }
        let seqs = |f: AuditFilter| -> Vec<i64> {
            db.audit_rows(&f).unwrap().iter().map(|r| r.seq).collect()
        };
        assert_eq!(seqs(AuditFilter::default()), [1, 2, 3]);
        let since = AuditFilter {
            since_ms: Some(20),
            ..Default::default()
        };
        assert_eq!(seqs(since.clone()), [2, 3]);
        let until = AuditFilter {
            until_ms: Some(20),
            ..Default::default()
        };
        assert_eq!(seqs(until), [1, 2]);
        let object = AuditFilter {
            object: Some(2),
            ..Default::default()
        };
        assert_eq!(seqs(object), [2]);
        let both = AuditFilter {
            event: Some("a".into()),
            ..since
        };
        assert_eq!(seqs(both), [3]);
        let row = &db.audit_rows(&AuditFilter::default()).unwrap()[0];
        assert_eq!(
            (row.time_ms, row.object, row.event.as_str()),
            (10, Some(1), "a")
        );
    }

    fn record() -> AuditEntry {
        let ev = crate::audit::Event::new("wrap");
        crate::token::audit::entry(&ev, 0, "public", None, None)
    }

    #[test]
    fn relaxed_appends_extend_one_chain() {
        let (_dir, db, _path) = db();
        db.append_audit(&record()).unwrap();
        for _ in 0..3 {
            db.append_audit_relaxed(&record()).unwrap();
        }
        db.append_audit(&record()).unwrap();
        let (rows, head) = db.audit_trail().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let v = crate::audit::verify(&rows, head.as_ref(), None);
        assert!(v.ok(), "{:?}", v.findings);
    }
}
