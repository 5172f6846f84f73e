//! Moving a token between stores (SQLite file ⇄ PostgreSQL schema): every
//! stored row, copied as bytes — nothing is unsealed or re-sealed, so the
//! same PINs open the same master key on the target — in one transaction
//! of each store, with a migration record on both audit chains.

use super::audit::{self, AuditEntry};
use super::db::TokenDb;
use super::rows::{Dialect, Tx, Val, vals};
use super::schema::TxResult;
use crate::error::{Error, Result};

/// The tables a token consists of, parents before children, with the
/// columns copied. Left out: `schema_version` (each store has its own)
/// and `pin_attempt` (reservations of PIN checks in flight on the source,
/// which mean nothing on the target).
const TABLES: [(&str, &str); 11] = [
    (
        "token",
        "id, label, serial, so_failures, user_failures, epoch",
    ),
    ("pin", "role, token, salt, iterations, wrapped"),
    ("mk_step", "from_epoch, token, seq, to_epoch, wrapped"),
    (
        "object",
        "id, generation, class, private, lookup_label, lookup_id, public, sealed",
    ),
    ("usage", "object, count, last_used"),
    ("audit", "seq, time, event, object, body, hash, mac"),
    (
        "audit_state",
        "id, head_seq, head_hash, anchor_seq, anchor_hash, anchor_mac, key_wrapped",
    ),
    ("quorum", "id, key_wrapped, config, mac"),
    (
        "quorum_request",
        "id, nonce, op, target, about, requester, reason, created, expires, state",
    ),
    ("quorum_vote", "request, officer, decision, time, signature"),
    ("auditor", "id, name, salt, iterations, wrapped"),
];

/// What a migration copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Copied {
    pub objects: u64,
    pub audit_records: u64,
}

fn read_all(tx: &dyn Tx) -> TxResult<Vec<Vec<Vec<Val>>>> {
    TABLES
        .iter()
        .map(|(table, columns)| {
            let rows = tx.query(&format!("SELECT {columns} FROM {table}"), vals![])?;
            Ok(rows.into_iter().map(|r| r.0).collect())
        })
        .collect()
}

/// The target must hold nothing a copy would overwrite or interleave
/// with: no token, no object, no audit trail.
fn check_empty(tx: &dyn Tx) -> TxResult<()> {
    for table in ["token", "object", "audit", "audit_state"] {
        if tx.exists(&format!("SELECT 1 FROM {table}"), vals![])? {
            return Err(Error::DeviceError
                .because(&format_args!(
                    "the target store already holds a token or an audit trail (table {table})"
                ))
                .into());
        }
    }
    Ok(())
}

/// The source side of a copy, inside a transaction of the source: every
/// row of the token, unless a master-key rotation is in progress (its rows
/// are sealed under two keys) or there is no token.
fn read_source(tx: &dyn Tx) -> TxResult<Vec<Vec<Vec<Val>>>> {
    if tx.exists("SELECT 1 FROM mk_rotation", vals![])? {
        return Err(Error::OperationActive
            .because(&"a master-key rotation is in progress: finish it first")
            .into());
    }
    if !tx.exists("SELECT 1 FROM token", vals![])? {
        return Err(Error::TokenNotRecognized.into());
    }
    read_all(tx)
}

/// The target side of a copy, inside one write transaction of the
/// target: checks it is empty, then inserts `tables` (as `read_source`
/// read them). Writes no record.
fn write_target(ttx: &dyn Tx, tables: &[Vec<Vec<Val>>]) -> TxResult<Copied> {
    check_empty(ttx)?;
    let mut copied = Copied::default();
    for ((table, columns), rows) in TABLES.iter().zip(tables) {
        let marks = (1..=columns.split(',').count())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {table} ({columns}) VALUES ({marks})");
        for row in rows {
            ttx.exec(&insert, row)?;
        }
        let n = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        match *table {
            "object" => copied.objects = n,
            "audit" => copied.audit_records = n,
            _ => {}
        }
    }
    Ok(copied)
}

impl TokenDb {
    /// Copies this token into `target` and appends `to_record` here and
    /// `from_record` there. Runs inside a write transaction of this store,
    /// so no other writer can change the token while it is copied (a write
    /// waiting meanwhile lands after the copy, and only here); the target
    /// is written in one transaction that first checks it is empty. A
    /// master-key rotation in progress is refused (its rows are sealed
    /// under two keys). If the target commit fails, nothing is written
    /// anywhere; if this store's commit fails after the target's, the
    /// target holds the token and this one lacks only its record.
    pub fn migrate_to(
        &self,
        target: &TokenDb,
        to_record: &AuditEntry,
        from_record: &AuditEntry,
    ) -> Result<Copied> {
        self.write(|tx| {
            let tables = read_source(tx)?;
            let copied = target.write(|ttx| {
                let copied = write_target(ttx, &tables)?;
                audit::append(ttx, from_record)?;
                Ok(copied)
            })?;
            audit::append(tx, to_record)?;
            Ok(copied)
        })
    }

    /// Copies this token, as it is in one read snapshot, into the empty
    /// `target`, writing no record on either side: the copy a backup of a
    /// token that is not an SQLite file is made from.
    pub fn copy_to(&self, target: &TokenDb) -> Result<Copied> {
        let tables = self.read(read_source)?;
        target.write(|ttx| write_target(ttx, &tables))
    }

    /// Whether this token's rows are in an SQLite file (whose own bytes a
    /// backup snapshots).
    pub fn is_sqlite(&self) -> Result<bool> {
        self.read(|tx| Ok(tx.dialect() == Dialect::Sqlite))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::PinRecord;
    use crate::store::{ObjectRow, TokenMeta};

    fn entry(event: &str) -> AuditEntry {
        AuditEntry {
            time_ms: 0,
            event: event.into(),
            object: None,
            body: b"{}".to_vec(),
            key: None,
        }
    }

    fn token(dir: &std::path::Path, name: &str) -> TokenDb {
        let db = TokenDb::open(&dir.join(name)).unwrap();
        let meta = TokenMeta {
            label: [b' '; 32],
            serial: *b"0123456789abcdef",
            so_pin: Some(PinRecord {
                salt: vec![1; 16],
                iterations: 1000,
                wrapped: vec![1; 61],
            }),
            user_pin: None,
            so_failures: 2,
            user_failures: 0,
            epoch: 7,
        };
        db.initialize(&meta, b"", &entry("init")).unwrap();
        for id in [3, 9] {
            let row = ObjectRow {
                id,
                generation: 1,
                class: 3,
                private: true,
                lookup_label: Some(b"l".to_vec()),
                lookup_id: None,
                public: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
                sealed: vec![0xEE; 40],
            };
            db.insert_object(&row, &entry("generate")).unwrap();
        }
        db
    }

    fn trail_len(db: &TokenDb) -> usize {
        db.audit_trail().unwrap().0.len()
    }

    /// `copy_to` (the backup path) copies every row, writes no record on
    /// either side, and refuses a target that holds a token.
    #[test]
    fn copy_is_records_free_and_needs_an_empty_target() {
        let dir = tempfile::tempdir().unwrap();
        let source = token(dir.path(), "a.sqlite");
        let target = TokenDb::open(&dir.path().join("b.sqlite")).unwrap();
        let before = trail_len(&source);
        let copied = source.copy_to(&target).unwrap();
        assert_eq!(copied.objects, 2);
        assert_eq!(copied.audit_records, u64::try_from(before).unwrap());
        assert_eq!(trail_len(&source), before);
        assert_eq!(trail_len(&target), before);
        assert_eq!(target.meta().unwrap(), source.meta().unwrap());
        assert_eq!(target.object_ids().unwrap(), vec![3, 9]);
        assert_eq!(target.object(9).unwrap(), source.object(9).unwrap());
        assert!(source.is_sqlite().unwrap());

        let err = source.copy_to(&target).unwrap_err();
        assert_eq!(err, Error::DeviceError);
        assert_eq!(trail_len(&target), before, "nothing written");

        // No token: nothing to copy.
        let empty = TokenDb::open(&dir.path().join("c.sqlite")).unwrap();
        let other = TokenDb::open(&dir.path().join("d.sqlite")).unwrap();
        assert_eq!(empty.copy_to(&other), Err(Error::TokenNotRecognized));
    }

    /// `migrate_to` appends its records on both chains, after the copy.
    #[test]
    fn migrate_records_on_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let source = token(dir.path(), "a.sqlite");
        let target = TokenDb::open(&dir.path().join("b.sqlite")).unwrap();
        let before = trail_len(&source);
        source
            .migrate_to(&target, &entry("to"), &entry("from"))
            .unwrap();
        let (src, _) = source.audit_trail().unwrap();
        let (dst, _) = target.audit_trail().unwrap();
        assert_eq!((src.len(), dst.len()), (before + 1, before + 1));
        assert_eq!(src.last().map(|r| r.event.as_str()), Some("to"));
        assert_eq!(dst.last().map(|r| r.event.as_str()), Some("from"));
        // Again into the same target: refused, nothing written anywhere.
        let again = source.migrate_to(&target, &entry("to"), &entry("from"));
        assert_eq!(again, Err(Error::DeviceError));
        assert_eq!(trail_len(&source), before + 1);
        assert_eq!(trail_len(&target), before + 1);
    }
}
