//! The token database: one SQLite file per token holding the token metadata,
//! the PIN records and the object rows. It stores and returns bytes only;
//! crypto lives in `seal.rs` and PKCS#11 rules in the token layer. Every
//! write is one `BEGIN IMMEDIATE` transaction so several processes can share
//! a token file; the layout is documented in `docs/FORMAT.md`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use cryptoki_sys::{CK_USER_TYPE, CKU_SO, CKU_USER};
use rusqlite::types::Value;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
    params, params_from_iter,
};

use super::audit::{self, AuditEntry};
use super::schema::{
    TxError, TxResult, configure, create_private_dir, create_private_file, create_schema,
};
use super::seal::PinRecord;
use crate::error::{Error, Result};

/// How long one statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Extra attempts when SQLite still reports BUSY (e.g. a lock held past
/// the timeout, or WAL recovery by another process).
const BUSY_RETRIES: u32 = 5;
const BUSY_BACKOFF: Duration = Duration::from_millis(20);
/// Distinct `find` shapes plus the fixed statements fit comfortably.
const STATEMENT_CACHE: usize = 48;

pub(super) const SELECT_OBJECT: &str =
    "SELECT id, generation, class, private, lookup_label, lookup_id, public, sealed FROM object";

/// A login role. Its [`Role::byte`] is the CKU_* value, used both as the
/// `pin.role` column and as the role byte in the master-key wrapping AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    So,
    User,
}

impl Role {
    /// CKU_SO = 0, CKU_USER = 1.
    pub fn byte(self) -> u8 {
        match self {
            Role::So => 0,
            Role::User => 1,
        }
    }

    /// Maps a PKCS#11 user type; CKU_CONTEXT_SPECIFIC and unknown values
    /// have no stored PIN and are [`Error::UserTypeInvalid`].
    pub fn from_user_type(user_type: CK_USER_TYPE) -> Result<Role> {
        match user_type {
            CKU_SO => Ok(Role::So),
            CKU_USER => Ok(Role::User),
            _ => Err(Error::UserTypeInvalid),
        }
    }

    fn failures_column(self) -> &'static str {
        match self {
            Role::So => "so_failures",
            Role::User => "user_failures",
        }
    }
}

/// The single `token` row plus both PIN records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMeta {
    pub label: [u8; 32],
    pub serial: [u8; 16],
    pub so_pin: Option<PinRecord>,
    pub user_pin: Option<PinRecord>,
    pub so_failures: u32,
    pub user_failures: u32,
    /// Random; changes at each (re)initialization so other processes notice.
    pub epoch: i64,
}

/// One stored object, exactly as on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub id: i64,
    pub generation: i64,
    pub class: u64,
    pub private: bool,
    pub lookup_label: Option<Vec<u8>>,
    pub lookup_id: Option<Vec<u8>>,
    pub public: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// Conjunction of the given criteria; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowFilter {
    pub class: Option<u64>,
    /// Match any of these `lookup_label` values (empty list: no match).
    pub label: Option<Vec<Vec<u8>>>,
    /// Match any of these `lookup_id` values (empty list: no match).
    pub id: Option<Vec<Vec<u8>>>,
    pub include_private: bool,
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// See [`TokenDb::stamp`].
pub type Stamp = u64;

/// Handle on one token file. The connection mutex is held for one
/// transaction at a time, never across calls, and only inside the fork
/// gate. The connection is `None` only while `Drop` closes it.
pub struct TokenDb {
    conn: Mutex<Option<Connection>>,
    /// The token's change counter shared by every process (see
    /// [`TokenDb::stamp`]); `None` when it could not be mapped.
    changes: Option<keyward_shm::SharedCounter>,
    /// The connection is at `synchronous = NORMAL`, left so by the last
    /// relaxed write (`durability.rs`); a FULL write sets it back first.
    /// Read and written only with the connection mutex held.
    pub(super) relaxed: std::sync::atomic::AtomicBool,
}

/// Whether a write moves the change counter (see [`TokenDb::stamp`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stamped {
    Yes,
    /// Reads. (Writes that touch no object, token, PIN or epoch row — use
    /// counts, audit records — go through `write_relaxed`, which does not
    /// move the counter either.)
    No,
}

impl Drop for TokenDb {
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

impl std::fmt::Debug for TokenDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDb(..)")
    }
}

pub(super) fn object_from_row(r: &Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok(ObjectRow {
        id: r.get(0)?,
        generation: r.get(1)?,
        // Stored as the same 64 bits read as signed (a u64 class may exceed
        // i64::MAX); equality and index lookups are unaffected.
        class: r.get::<_, i64>(2)?.cast_unsigned(),
        private: r.get::<_, i64>(3)? != 0,
        lookup_label: r.get(4)?,
        lookup_id: r.get(5)?,
        public: r.get(6)?,
        sealed: r.get(7)?,
    })
}

pub(super) fn load_pin(tx: &Transaction<'_>, role: Role) -> TxResult<Option<PinRecord>> {
    let row = tx
        .prepare_cached("SELECT salt, iterations, wrapped FROM pin WHERE role = ?1")?
        .query_row([role.byte()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .optional()?;
    let Some((salt, iterations, wrapped)) = row else {
        return Ok(None);
    };
    let iterations = u32::try_from(iterations).map_err(|_| Error::Tampered)?;
    Ok(Some(PinRecord {
        salt,
        iterations,
        wrapped,
    }))
}

pub(super) fn store_pin(tx: &Transaction<'_>, role: Role, rec: &PinRecord) -> TxResult<()> {
    tx.prepare_cached(
        "INSERT INTO pin (role, token, salt, iterations, wrapped) VALUES (?1, 1, ?2, ?3, ?4)
         ON CONFLICT(role) DO UPDATE SET
             salt = excluded.salt, iterations = excluded.iterations, wrapped = excluded.wrapped",
    )?
    .execute(params![role.byte(), rec.salt, rec.iterations, rec.wrapped])?;
    Ok(())
}

fn to_u32(v: i64) -> TxResult<u32> {
    Ok(u32::try_from(v).map_err(|_| Error::Tampered)?)
}

impl TokenDb {
    /// Opens (creating if missing, owner-only) the token file at `path`,
    /// sets the connection pragmas and creates or checks the schema.
    pub fn open(path: &Path) -> Result<TokenDb> {
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
        let db = TokenDb {
            conn: Mutex::new(Some(conn)),
            changes: keyward_shm::SharedCounter::open(Path::new(&gen_path)),
            relaxed: std::sync::atomic::AtomicBool::new(false),
        };
        db.with_conn(|conn| configure(conn))?;
        db.write(create_schema)?;
        Ok(db)
    }

    /// Runs `f` with the connection locked, retrying (lock released, short
    /// back-off) when SQLite reports BUSY despite the busy timeout.
    ///
    /// Each attempt runs inside the fork gate (`crate::forkgate`), so no
    /// fork copies SQLite's mutexes or ours held. `f` must therefore take
    /// no other lock and call no application code; its waits are bounded
    /// by the busy timeout. The back-off sleep is outside the gate.
    fn with_conn<T>(&self, mut f: impl FnMut(&mut Connection) -> TxResult<T>) -> Result<T> {
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
    /// A stamped write marks the change counter (see [`TokenDb::stamp`])
    /// after `f` and before COMMIT — while `BEGIN IMMEDIATE`'s write lock
    /// excludes every other writer — and ends the mark after COMMIT. The
    /// marks are atomic operations on shared memory, no lock, so they may
    /// sit inside the fork gate's SQLite section.
    fn transaction<T>(
        &self,
        behavior: TransactionBehavior,
        stamped: Stamped,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let counter = match (behavior, stamped) {
            (TransactionBehavior::Deferred, _) | (_, Stamped::No) => None,
            _ => self.changes.as_ref(),
        };
        self.with_conn(|conn| {
            if !matches!(behavior, TransactionBehavior::Deferred) {
                self.ensure_full(conn)?;
            }
            let tx = conn.transaction_with_behavior(behavior)?;
            let v = f(&tx)?;
            let mark = counter.map(|c| (c, c.begin_write()));
            let committed = tx.commit();
            if let Some((c, mark)) = mark {
                c.end_write(mark);
            }
            committed?;
            Ok(v)
        })
    }

    /// A write: `BEGIN IMMEDIATE` takes the write lock up front, so the
    /// busy timeout applies and no deferred read→write upgrade can fail.
    pub(super) fn write<T>(&self, f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Immediate, Stamped::Yes, f)
    }

    /// A multi-statement read from one consistent snapshot.
    pub(super) fn read<T>(&self, f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Deferred, Stamped::No, f)
    }

    /// The token's change stamp: every process that opens the token maps
    /// one shared counter (file `<token>-gen`), and every stamped write
    /// marks it odd before its COMMIT (holding SQLite's write lock) and
    /// even, and higher, after. One atomic load; no SQLite call, no lock.
    ///
    /// `Some(s)` only when no write is marked: then a row read after this
    /// call reflects every commit up to now, and while `stamp()` still
    /// returns `Some(s)` nothing has been committed since (a write that
    /// started after the load moved the counter; one that was committing
    /// would have shown as odd). A writer killed between its mark and its
    /// end leaves the counter odd — `None`, "read the row" — until the
    /// next write. `None` too when the counter could not be mapped.
    pub fn stamp(&self) -> Option<Stamp> {
        let s = self.changes.as_ref()?.load();
        (s % 2 == 0).then_some(s)
    }

    /// The token metadata, or `None` if the token was never initialized.
    pub fn meta(&self) -> Result<Option<TokenMeta>> {
        self.read(|tx| {
            let row = tx
                .prepare_cached(
                    "SELECT label, serial, so_failures, user_failures, epoch
                     FROM token WHERE id = 1",
                )?
                .query_row([], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()?;
            let Some((label, serial, so_failures, user_failures, epoch)) = row else {
                return Ok(None);
            };
            Ok(Some(TokenMeta {
                label: label.as_slice().try_into().map_err(|_| Error::Tampered)?,
                serial: serial.as_slice().try_into().map_err(|_| Error::Tampered)?,
                so_pin: load_pin(tx, Role::So)?,
                user_pin: load_pin(tx, Role::User)?,
                so_failures: to_u32(so_failures)?,
                user_failures: to_u32(user_failures)?,
                epoch,
            }))
        })
    }

    /// In one transaction: deletes every object and replaces the token row
    /// and PIN records with `meta`.
    /// The audit trail survives; `audit_key` (wrapped under the new master
    /// key) replaces the stored one and `record` is appended.
    pub fn initialize(
        &self,
        meta: &TokenMeta,
        audit_key: &[u8],
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM object", [])?;
            // Cascades to the pin rows.
            tx.execute("DELETE FROM token", [])?;
            tx.execute(
                "INSERT INTO token (id, label, serial, so_failures, user_failures, epoch)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![
                    meta.label,
                    meta.serial,
                    meta.so_failures,
                    meta.user_failures,
                    meta.epoch
                ],
            )?;
            for (role, rec) in [(Role::So, &meta.so_pin), (Role::User, &meta.user_pin)] {
                if let Some(rec) = rec {
                    store_pin(tx, role, rec)?;
                }
            }
            audit::set_key(tx, audit_key)?;
            audit::append_unchecked(tx, record)?;
            Ok(())
        })?;
        self.checkpoint();
        Ok(())
    }

    /// Sets `role`'s PIN record and resets its failure count.
    /// [`Error::TokenNotRecognized`] if the token is not initialized.
    pub fn set_pin_record(&self, role: Role, rec: &PinRecord, record: &AuditEntry) -> Result<()> {
        self.write(|tx| {
            reset_failures_in(tx, role)?;
            store_pin(tx, role, rec)?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// [`TokenDb::set_pin_record`] after checking, inside its transaction,
    /// that the token epoch is still `epoch`: `rec` wraps the master key of
    /// that epoch, and storing it after a rotation would leave a PIN that
    /// unwraps a key nothing is sealed under.
    pub fn set_pin_record_at(
        &self,
        role: Role,
        rec: &PinRecord,
        record: &AuditEntry,
        epoch: i64,
    ) -> Result<()> {
        self.write(|tx| {
            super::object_write::check_epoch_in(tx, Some(epoch))?;
            reset_failures_in(tx, role)?;
            store_pin(tx, role, rec)?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Atomically increments `role`'s failure count (saturating at
    /// u32::MAX) and returns the new value; other processes see it at once.
    pub fn record_failure(&self, role: Role) -> Result<u32> {
        let col = role.failures_column();
        let sql = format!(
            "UPDATE token SET {col} = min({col} + 1, 4294967295) WHERE id = 1 RETURNING {col}"
        );
        self.write(|tx| {
            let count: Option<i64> = tx
                .prepare_cached(&sql)?
                .query_row([], |r| r.get(0))
                .optional()?;
            to_u32(count.ok_or(Error::TokenNotRecognized)?)
        })
    }

    /// Sets `role`'s failure count to zero.
    pub fn reset_failures(&self, role: Role, record: &AuditEntry) -> Result<()> {
        self.write(|tx| {
            reset_failures_in(tx, role)?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Copies the WAL into the database file and truncates it, waiting
    /// for readers up to the busy timeout. Only for rare, explicitly
    /// administrative writes (initialization, rotation); a destruction
    /// uses [`TokenDb::try_checkpoint`], which never waits.
    pub fn checkpoint(&self) {
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
    pub fn try_checkpoint(&self) -> Result<bool> {
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

    /// Adds batched use counts: `(object, uses, last_used_secs)`. Rows of
    /// objects destroyed meanwhile are skipped. Relaxed (NORMAL): the
    /// counts are statistics that a killed process already loses up to
    /// `usage::FLUSH_EVERY` of, and a power loss may drop the last flushes.
    pub fn add_usage(&self, uses: &[(i64, u64, u64)]) -> Result<()> {
        // Relaxed, hence unstamped: use counts are read from their own
        // table on demand, never from a cached object.
        self.write_relaxed(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO usage (object, count, last_used)
                     SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM object WHERE id = ?1)
                 ON CONFLICT(object) DO UPDATE SET
                     count = count + excluded.count,
                     last_used = max(last_used, excluded.last_used)",
            )?;
            for (id, count, last) in uses {
                let count = i64::try_from(*count).map_err(|_| Error::GeneralError)?;
                let last = i64::try_from(*last).map_err(|_| Error::GeneralError)?;
                stmt.execute(params![id, count, last])?;
            }
            Ok(())
        })
    }

    /// The stored use count and last use (seconds) of an object.
    pub fn usage(&self, id: i64) -> Result<(u64, u64)> {
        self.with_conn(|conn| {
            let row: Option<(i64, i64)> = conn
                .prepare_cached("SELECT count, last_used FROM usage WHERE object = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (count, last) = row.unwrap_or((0, 0));
            Ok((count.max(0).cast_unsigned(), last.max(0).cast_unsigned()))
        })
    }

    /// Row `id`, if present.
    pub fn object(&self, id: i64) -> Result<Option<ObjectRow>> {
        let sql = format!("{SELECT_OBJECT} WHERE id = ?1");
        self.with_conn(|conn| {
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], object_from_row)
                .optional()?)
        })
    }

    /// Rows matching `filter`, ordered by id. Uses the class and lookup
    /// indexes; non-private rows only unless `include_private`.
    pub fn find(&self, filter: &RowFilter) -> Result<Vec<ObjectRow>> {
        self.find_rows(filter, None, None)
    }

    /// At most `limit` rows matching `filter` whose id is above `after`
    /// (`i64::MIN`: from the first),
    /// ordered by id: a search over a large token reads it a page at a
    /// time (keyset paging on the primary key), so the rows it holds at
    /// once — and the process's memory — do not grow with the token.
    ///
    /// `stamped`: also returns the [`ChangeStamp`] read just before the page, under
    /// the same lock: a search that took several pages compares it with
    /// [`TokenDb::change_stamp`] afterwards to know whether its pages form
    /// one consistent view.
    pub fn find_page(
        &self,
        filter: &RowFilter,
        after: i64,
        limit: usize,
        stamped: bool,
    ) -> Result<(Vec<ObjectRow>, Option<ChangeStamp>)> {
        let mut stamp = (0, 0);
        let rows = self.find_rows(filter, Some((after, limit)), stamped.then_some(&mut stamp))?;
        Ok((rows, stamped.then_some(stamp)))
    }

    /// Moves whenever a commit landed since it was last read: SQLite's
    /// `PRAGMA data_version` counts commits by other connections (other
    /// processes), `total_changes` the rows written through this one
    /// (other threads of this process share it).
    pub fn change_stamp(&self) -> Result<ChangeStamp> {
        self.with_conn(|conn| Ok(change_stamp(conn)?))
    }

    fn find_rows(
        &self,
        filter: &RowFilter,
        page: Option<(i64, usize)>,
        mut stamp: Option<&mut ChangeStamp>,
    ) -> Result<Vec<ObjectRow>> {
        let mut sql = format!("{SELECT_OBJECT} WHERE 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(class) = filter.class {
            sql.push_str(" AND class = ?");
            args.push(Value::Integer(class.cast_signed()));
        }
        if !filter.include_private {
            sql.push_str(" AND private = 0");
        }
        for (column, values) in [("lookup_label", &filter.label), ("lookup_id", &filter.id)] {
            let Some(values) = values else { continue };
            if values.is_empty() {
                return Ok(Vec::new());
            }
            let marks = vec!["?"; values.len()].join(", ");
            sql.push_str(&format!(" AND {column} IN ({marks})"));
            args.extend(values.iter().map(|v| Value::Blob(v.clone())));
        }
        // The first page names no lower bound: SQLite re-prepares a
        // statement whose range bound is a parameter each time the bound
        // changes (its planner weighs the value), which would tax every
        // small search; later pages pay it once per page.
        if let Some((after, _)) = page.filter(|(after, _)| *after != i64::MIN) {
            sql.push_str(" AND id > ?");
            args.push(Value::Integer(after));
        }
        sql.push_str(" ORDER BY id");
        if let Some((_, limit)) = page {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        self.with_conn(|conn| {
            if let Some(stamp) = stamp.as_deref_mut() {
                *stamp = change_stamp(conn)?;
            }
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), object_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Every object id, ascending.
    pub fn object_ids(&self) -> Result<Vec<i64>> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached("SELECT id FROM object ORDER BY id")?;
            let ids = stmt.query_map([], |r| r.get(0))?;
            Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
    }
}

/// For `durability.rs` (relaxed writes), which lives apart to keep this
/// file to the FULL writes.
impl TokenDb {
    pub(super) fn with_connection<T>(
        &self,
        f: impl FnMut(&mut Connection) -> TxResult<T>,
    ) -> Result<T> {
        self.with_conn(f)
    }
}

/// See [`TokenDb::change_stamp`].
pub type ChangeStamp = (i64, u64);

fn change_stamp(conn: &Connection) -> rusqlite::Result<ChangeStamp> {
    let version: i64 = conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?;
    Ok((version, conn.total_changes()))
}

fn reset_failures_in(tx: &Transaction<'_>, role: Role) -> TxResult<()> {
    let col = role.failures_column();
    let n = tx
        .prepare_cached(&format!("UPDATE token SET {col} = 0 WHERE id = 1"))?
        .execute([])?;
    if n == 0 {
        return Err(Error::TokenNotRecognized.into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "sqlite_find_tests.rs"]
mod find_tests;

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
