//! How a commit reaches the disk: FULL (fsynced before it returns) for
//! every change to what is stored, NORMAL for transactions that hold only
//! a record of an event that changed nothing stored (a wrap, a refusal) or
//! usage counts. The argument is in docs/AUDIT.md.

use std::sync::atomic::Ordering;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::schema::TxResult;
use super::sqlite::TokenDb;
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
    /// A write committed with `synchronous = NORMAL`, for records of events
    /// that change nothing stored (a wrap, a refusal, a crypto-operation
    /// record) and usage counts: once it returns, the commit is in the WAL,
    /// visible to every process and kept through a crash of this one; only
    /// an OS crash or power loss before the next fsync of the WAL (any FULL
    /// commit, by any process, or a checkpoint) can lose it, and then only
    /// together with every later commit. The connection stays at NORMAL
    /// after it (so a run of audited wraps pays no `PRAGMA` per call:
    /// SQLite re-prepares that statement each time it runs); every FULL
    /// write sets it back to FULL first and fails if it cannot
    /// ([`TokenDb::ensure_full`]), so every other write stays FULL.
    ///
    /// It does not move the token's change counter (`TokenDb::stamp`): what
    /// it writes (audit records, use counts) is nothing a cached key
    /// depends on, so an audited wrap does not make every process read its
    /// keys' rows again.
    pub(super) fn write_relaxed<T>(
        &self,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        self.with_connection(|conn| {
            if !self.relaxed.load(Ordering::Relaxed) {
                // Marked first: if the PRAGMA fails half-way, the next FULL
                // write still sets FULL again.
                self.relaxed.store(true, Ordering::Relaxed);
                set_synchronous(conn, Durability::Normal)?;
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })
    }

    /// Sets the connection back to FULL if a relaxed write left it at
    /// NORMAL; called with the connection locked, before every write
    /// transaction that must be durable when it returns. A transaction
    /// left open (a failed rollback) would make SQLite refuse the change,
    /// so it is rolled back first; the setting is read back to be sure,
    /// and the write fails if it is not FULL.
    pub(super) fn ensure_full(&self, conn: &Connection) -> TxResult<()> {
        if !self.relaxed.load(Ordering::Relaxed) {
            return Ok(());
        }
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        set_synchronous(conn, Durability::Full)?;
        if synchronous(conn)? != Durability::Full.level() {
            return Err(Error::DeviceError.into());
        }
        self.relaxed.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The `PRAGMA synchronous` a FULL write runs under, read inside
    /// such a write (for the tests that check that relaxed appends leave
    /// every other write FULL).
    #[doc(hidden)]
    pub fn synchronous_in_write(&self) -> Result<i64> {
        self.write(|tx| Ok(synchronous(tx)?))
    }
}
