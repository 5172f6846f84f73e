//! The embedded default backend: one SQLite file per token, in WAL mode,
//! shared by every process on the host. Writers are serialized by
//! `BEGIN IMMEDIATE`; the change stamp is a counter in shared memory
//! (`<token>-gen`, crate keyward-shm) that every process maps.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::backend::{Backend, ChangeStamp, Stamp, TxKind};
use super::durability::{Durability, set_synchronous, synchronous};
use super::rows::Tx;
use super::schema::{
    TxError, TxResult, configure, create_private_dir, create_private_file, create_schema,
};
use crate::error::{Error, Result};

/// How long one statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra attempts when SQLite still reports BUSY (e.g. a lock held past
/// the timeout, or WAL recovery by another process).
const BUSY_RETRIES: u32 = 5;
const BUSY_BACKOFF: Duration = Duration::from_millis(20);
/// Distinct `find` shapes plus the fixed statements fit comfortably.
const STATEMENT_CACHE: usize = 48;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// One token file. The connection mutex is held for one transaction at a
/// time, never across calls, and only inside the fork gate. The
/// connection is `None` only while `Drop` closes it.
pub(super) struct SqliteBackend {
    path: std::path::PathBuf,
    pub(super) conn: Mutex<Option<Connection>>,
    /// The token's change counter shared by every process (see
    /// [`Backend::stamp`]); `None` when it could not be mapped.
    pub(super) changes: Option<keyward_shm::SharedCounter>,
    /// The connection is at `synchronous = NORMAL`, left so by the last
    /// relaxed write (`durability.rs`); a FULL write sets it back first.
    /// Read and written only with the connection mutex held.
    relaxed: AtomicBool,
}

impl Drop for SqliteBackend {
    /// Closing the connection runs SQLite (and its VFS mutexes): inside the
    /// fork gate, like every other SQLite call.
    fn drop(&mut self) {
        let _gate = crate::forkgate::enter();
        let conn = match self.conn.get_mut() {
            Ok(c) => c.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(conn);
    }
}

impl SqliteBackend {
    /// Opens (creating if missing, owner-only) the token file at `path`,
    /// sets the connection pragmas and creates or checks the schema.
    pub(super) fn open(path: &Path) -> Result<SqliteBackend> {
        // SQLite's open takes its global VFS mutexes: inside the fork gate.
        let _gate = crate::forkgate::enter();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        create_private_file(path)?;
        // No URI parsing of the path; our own mutex serializes access.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut gen_path = path.as_os_str().to_owned();
        gen_path.push("-gen");
        let db = SqliteBackend {
            path: path.to_path_buf(),
            conn: Mutex::new(Some(conn)),
            changes: keyward_shm::SharedCounter::open(Path::new(&gen_path)),
            relaxed: AtomicBool::new(false),
        };
        db.with_conn(|conn| configure(conn))?;
        db.with_conn(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            create_schema(&tx)?;
            Ok(tx.commit()?)
        })?;
        Ok(db)
    }

    /// Runs `f` with the connection locked, retrying (lock released, short
    /// back-off) when SQLite reports BUSY despite the busy timeout.
    ///
    /// Each attempt runs inside the fork gate (`crate::forkgate`), so no
    /// fork copies SQLite's mutexes or ours held. `f` must therefore take
    /// no other lock and call no application code; its waits are bounded
    /// by the busy timeout. The back-off sleep is outside the gate.
    pub(super) fn with_conn<T>(
        &self,
        mut f: impl FnMut(&mut Connection) -> TxResult<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let outcome = {
                let _gate = crate::forkgate::enter();
                let mut guard = self.conn.lock().map_err(|_| Error::GeneralError)?;
                let conn = guard.as_mut().ok_or(Error::GeneralError)?;
                f(conn)
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(TxError::Ck(e)) => return Err(e),
                Err(TxError::Sql(e)) if is_busy(&e) && attempt < BUSY_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(BUSY_BACKOFF.saturating_mul(attempt));
                }
                Err(TxError::Sql(e)) => return Err(e.into()),
            }
        }
    }

    /// One transaction of the given kind; rolled back unless `f` succeeds.
    /// A stamped write marks the change counter (see [`Backend::stamp`])
    /// after `f` and before COMMIT — while `BEGIN IMMEDIATE`'s write lock
    /// excludes every other writer — and ends the mark after COMMIT. The
    /// marks are atomic operations on shared memory, no lock, so they may
    /// sit inside the fork gate's SQLite section.
    fn transaction(
        &self,
        behavior: TransactionBehavior,
        stamped: bool,
        f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>,
    ) -> Result<()> {
        let counter = match behavior {
            TransactionBehavior::Deferred => None,
            _ if !stamped => None,
            _ => self.changes.as_ref(),
        };
        self.with_conn(|conn| {
            if !matches!(behavior, TransactionBehavior::Deferred) {
                self.ensure_full(conn)?;
            }
            let tx = conn.transaction_with_behavior(behavior)?;
            f(&tx)?;
            let mark = counter.map(|c| (c, c.begin_write()));
            let committed = tx.commit();
            if let Some((c, mark)) = mark {
                c.end_write(mark);
            }
            committed?;
            Ok(())
        })
    }

    /// A write committed with `synchronous = NORMAL` (see
    /// [`TxKind::Relaxed`] and docs/AUDIT.md): once it returns, the commit
    /// is in the WAL, visible to every process and kept through a crash of
    /// this one; only an OS crash or power loss before the next fsync of
    /// the WAL (any FULL commit, by any process, or a checkpoint) can lose
    /// it, and then only together with every later commit. The connection
    /// stays at NORMAL after it (so a run of audited wraps pays no
    /// `PRAGMA` per call: SQLite re-prepares that statement each time it
    /// runs); every FULL write sets it back to FULL first and fails if it
    /// cannot ([`SqliteBackend::ensure_full`]).
    fn relaxed(&self, f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>) -> Result<()> {
        self.with_conn(|conn| {
            if !self.relaxed.load(Ordering::Relaxed) {
                // Marked first: if the PRAGMA fails half-way, the next FULL
                // write still sets FULL again.
                self.relaxed.store(true, Ordering::Relaxed);
                set_synchronous(conn, Durability::Normal)?;
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            f(&tx)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Sets the connection back to FULL if a relaxed write left it at
    /// NORMAL; called with the connection locked, before every write
    /// transaction that must be durable when it returns. A transaction
    /// left open (a failed rollback) would make SQLite refuse the change,
    /// so it is rolled back first; the setting is read back to be sure,
    /// and the write fails if it is not FULL.
    fn ensure_full(&self, conn: &Connection) -> TxResult<()> {
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
}

impl Backend for SqliteBackend {
    fn run(&self, kind: TxKind, f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>) -> Result<()> {
        match kind {
            TxKind::Write => self.transaction(TransactionBehavior::Immediate, true, f),
            TxKind::Relaxed => self.relaxed(f),
            TxKind::Read => self.transaction(TransactionBehavior::Deferred, false, f),
            // Autocommit: each statement its own snapshot, no BEGIN/COMMIT
            // round (a row read on a key's first use).
            TxKind::Statement => self.with_conn(|conn| f(&*conn)),
        }
    }

    /// Every process that opens the token maps one shared counter (file
    /// `<token>-gen`), and every stamped write marks it odd before its
    /// COMMIT (holding SQLite's write lock) and even, and higher, after.
    /// One atomic load; no SQLite call, no lock. A writer killed between
    /// its mark and its end leaves the counter odd — `None`, "read the
    /// row" — until the next write. `None` too when the counter could not
    /// be mapped.
    fn stamp(&self) -> Option<Stamp> {
        let s = self.changes.as_ref()?.load();
        (s % 2 == 0).then_some(s)
    }

    /// SQLite's `PRAGMA data_version` counts commits by other connections
    /// (other processes), `total_changes` the rows written through this
    /// one (other threads of this process share it).
    fn change_stamp(&self) -> Result<ChangeStamp> {
        self.with_conn(|conn| {
            let version: i64 = conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get(0))?;
            Ok((version, conn.total_changes()))
        })
    }

    /// Copies the WAL into the database file and truncates it, waiting
    /// for readers up to the busy timeout (`secure_delete` already zeroed
    /// the freed pages in the file itself).
    fn erase(&self) {
        let _ = self.with_conn(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        });
    }

    /// One `wal_checkpoint(TRUNCATE)` that never waits: the busy timeout is
    /// zero for this one statement. `Ok(true)` when every WAL frame was
    /// copied into the main file and the WAL truncated to nothing (so no
    /// page a delete replaced survives in the WAL); `Ok(false)` when a
    /// reader's snapshot (or another writer) still needs older frames.
    fn try_erase(&self) -> Result<bool> {
        self.with_conn(|conn| {
            conn.busy_timeout(Duration::ZERO)?;
            let outcome = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            });
            conn.busy_timeout(BUSY_TIMEOUT)?;
            // SQLITE_BUSY as an error (another checkpoint running) is the
            // same answer as busy = 1: not done yet, and never retried here.
            Ok(matches!(outcome, Ok((0, log)) if log <= 0))
        })
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
