//! Moving a token between stores (SQLite file ⇄ PostgreSQL schema): every
//! stored row, copied as bytes — nothing is unsealed or re-sealed, so the
//! same PINs open the same master key on the target — in one transaction
//! of each store, with a migration record on both audit chains.

use super::audit::{self, AuditEntry};
use super::db::TokenDb;
use super::rows::{Tx, Val, vals};
use super::schema::TxResult;
use crate::error::{Error, Result};

/// The tables a token consists of, parents before children, with the
/// columns copied. Left out: `schema_version` (each store has its own)
/// and `pin_attempt` (reservations of PIN checks in flight on the source,
/// which mean nothing on the target).
const TABLES: [(&str, &str); 7] = [
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
            if tx.exists("SELECT 1 FROM mk_rotation", vals![])? {
                return Err(Error::OperationActive
                    .because(&"a master-key rotation is in progress: finish it first")
                    .into());
            }
            if !tx.exists("SELECT 1 FROM token", vals![])? {
                return Err(Error::TokenNotRecognized.into());
            }
            let tables = read_all(tx)?;
            let copied = target.write(|ttx| {
                check_empty(ttx)?;
                let mut copied = Copied::default();
                for ((table, columns), rows) in TABLES.iter().zip(&tables) {
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
                audit::append(ttx, from_record)?;
                Ok(copied)
            })?;
            audit::append(tx, to_record)?;
            Ok(copied)
        })
    }
}
