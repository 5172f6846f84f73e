//! How a commit reaches the disk: FULL (fsynced before it returns) for
//! every change to what is stored, NORMAL for transactions that hold only
//! a record of an event that changed nothing stored (a wrap, a refusal) or
//! usage counts. The argument is in docs/AUDIT.md.

use rusqlite::Connection;

use super::db::TokenDb;
use super::rows::vals;
use crate::error::{Error, Result};

/// How a commit reaches the disk, as `PRAGMA synchronous` sets it (in WAL
/// mode the two differ only at commit: FULL fsyncs the WAL before the
/// commit returns, NORMAL leaves the new frames in the OS page cache until
/// the next FULL commit or checkpoint fsyncs the WAL, which makes every
/// earlier frame durable with it). See docs/AUDIT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Durable when the commit returns, power loss included.
    Full,
    /// Visible to every process (and kept through a process crash) when
    /// the commit returns; durable against power loss from the next fsync.
    Normal,
}

impl Durability {
    /// The value `PRAGMA synchronous` reports for this setting.
    pub(super) fn level(self) -> i64 {
        match self {
            Durability::Full => 2,
            Durability::Normal => 1,
        }
    }
}

/// Sets the durability of the connection's next commits. SQLite refuses
/// the change inside a transaction, so call it between transactions.
pub(super) fn set_synchronous(conn: &Connection, d: Durability) -> rusqlite::Result<()> {
    let sql = match d {
        Durability::Full => "PRAGMA synchronous = FULL",
        Durability::Normal => "PRAGMA synchronous = NORMAL",
    };
    // Cached: a relaxed write sets it twice per transaction.
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// The connection's current `PRAGMA synchronous` value (2 FULL, 1 NORMAL).
pub(super) fn synchronous(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA synchronous")?
        .query_row([], |r| r.get(0))
}

impl TokenDb {
    /// The `PRAGMA synchronous` a FULL write runs under, read inside
    /// such a write (for the tests that check that relaxed appends leave
    /// every other write FULL). SQLite only.
    #[doc(hidden)]
    pub fn synchronous_in_write(&self) -> Result<i64> {
        self.write(|tx| {
            let row = tx.query_opt("PRAGMA synchronous", vals![])?;
            row.ok_or(Error::GeneralError)?.get(0)
        })
    }
}
