//! The token database: a token's metadata, PIN records and object rows
//! (plus its audit trail, usage counts, PIN attempts and rotation state)
//! in one backend — SQLite, one file per token (the embedded default), or
//! PostgreSQL, shared by many hosts. It stores and returns bytes only;
//! crypto lives in `seal.rs` and PKCS#11 rules in the token layer. Every
//! transaction body is written once against the row-store seam
//! (`rows::Tx`); every write is one transaction serialized against every
//! other writer of the token. The SQLite layout is in `docs/FORMAT.md`.

use std::path::Path;

use cryptoki_sys::{CK_USER_TYPE, CKU_SO, CKU_USER};

use super::audit::{self, AuditEntry};
use super::backend::{Backend, TxKind};
pub use super::backend::{ChangeStamp, Stamp};
use super::rows::{Row, Tx, Val, vals};
use super::schema::TxResult;
use super::seal::PinRecord;
use crate::error::{Error, Result};

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

/// Handle on one token's rows, in whichever backend holds them.
pub struct TokenDb {
    backend: Box<dyn Backend>,
}

impl std::fmt::Debug for TokenDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDb(..)")
    }
}

pub(super) fn object_from_row(r: &Row) -> TxResult<ObjectRow> {
    Ok(ObjectRow {
        id: r.get(0)?,
        generation: r.get(1)?,
        // Stored as the same 64 bits read as signed (a u64 class may exceed
        // i64::MAX); equality and index lookups are unaffected.
        class: r.get::<i64>(2)?.cast_unsigned(),
        private: r.get::<i64>(3)? != 0,
        lookup_label: r.get(4)?,
        lookup_id: r.get(5)?,
        public: r.get(6)?,
        sealed: r.get(7)?,
    })
}

pub(super) fn load_pin(tx: &dyn Tx, role: Role) -> TxResult<Option<PinRecord>> {
    let Some(r) = tx.query_opt(
        "SELECT salt, iterations, wrapped FROM pin WHERE role = ?1",
        vals![role.byte()],
    )?
    else {
        return Ok(None);
    };
    let iterations = u32::try_from(r.get::<i64>(1)?).map_err(|_| Error::Tampered)?;
    Ok(Some(PinRecord {
        salt: r.get(0)?,
        iterations,
        wrapped: r.get(2)?,
    }))
}

pub(super) fn store_pin(tx: &dyn Tx, role: Role, rec: &PinRecord) -> TxResult<()> {
    tx.exec(
        "INSERT INTO pin (role, token, salt, iterations, wrapped) VALUES (?1, 1, ?2, ?3, ?4)
         ON CONFLICT(role) DO UPDATE SET
             salt = excluded.salt, iterations = excluded.iterations, wrapped = excluded.wrapped",
        vals![role.byte(), &rec.salt, rec.iterations, &rec.wrapped],
    )?;
    Ok(())
}

fn to_u32(v: i64) -> TxResult<u32> {
    Ok(u32::try_from(v).map_err(|_| Error::Tampered)?)
}

impl TokenDb {
    /// Opens (creating if missing, owner-only) the SQLite token file at
    /// `path`, sets the connection pragmas and creates or checks the schema.
    pub fn open(path: &Path) -> Result<TokenDb> {
        let backend = super::sqlite_backend::SqliteBackend::open(path)?;
        Ok(TokenDb::with_backend(Box::new(backend)))
    }

    /// A token whose rows live in `backend` (schema already checked).
    pub fn with_backend(backend: Box<dyn Backend>) -> TokenDb {
        TokenDb { backend }
    }

    /// Where the rows live, for messages (no password in it).
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// One transaction of `kind` around `f`; rolled back unless it succeeds.
    pub(super) fn run<T>(
        &self,
        kind: TxKind,
        mut f: impl FnMut(&dyn Tx) -> TxResult<T>,
    ) -> Result<T> {
        let mut out = None;
        self.backend.run(kind, &mut |tx| {
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or(Error::GeneralError)
    }

    /// A change to what is stored (see [`TxKind::Write`]).
    pub(super) fn write<T>(&self, f: impl FnMut(&dyn Tx) -> TxResult<T>) -> Result<T> {
        self.run(TxKind::Write, f)
    }

    /// A multi-statement read from one consistent snapshot.
    pub(super) fn read<T>(&self, f: impl FnMut(&dyn Tx) -> TxResult<T>) -> Result<T> {
        self.run(TxKind::Read, f)
    }

    /// A record of an event that changed nothing stored, or use counts
    /// (see [`TxKind::Relaxed`] and docs/AUDIT.md). It does not move the
    /// token's change stamp: what it writes (audit records, use counts) is
    /// nothing a cached key depends on, so an audited wrap does not make
    /// every process read its keys' rows again.
    pub(super) fn write_relaxed<T>(&self, f: impl FnMut(&dyn Tx) -> TxResult<T>) -> Result<T> {
        self.run(TxKind::Relaxed, f)
    }

    /// One statement (or a few that need no common snapshot), with no
    /// transaction round around it.
    fn statement<T>(&self, f: impl FnMut(&dyn Tx) -> TxResult<T>) -> Result<T> {
        self.run(TxKind::Statement, f)
    }

    /// The token's change stamp (see [`Backend::stamp`]): `Some(s)` only
    /// when a row read after this call reflects every commit up to now;
    /// while `stamp()` still returns `Some(s)` nothing has been committed
    /// since, by any process. No engine call, no lock.
    pub fn stamp(&self) -> Option<Stamp> {
        self.backend.stamp()
    }

    /// The token metadata, or `None` if the token was never initialized.
    pub fn meta(&self) -> Result<Option<TokenMeta>> {
        self.read(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT label, serial, so_failures, user_failures, epoch
                 FROM token WHERE id = 1",
                vals![],
            )?
            else {
                return Ok(None);
            };
            let label: Vec<u8> = r.get(0)?;
            let serial: Vec<u8> = r.get(1)?;
            Ok(Some(TokenMeta {
                label: label.as_slice().try_into().map_err(|_| Error::Tampered)?,
                serial: serial.as_slice().try_into().map_err(|_| Error::Tampered)?,
                so_pin: load_pin(tx, Role::So)?,
                user_pin: load_pin(tx, Role::User)?,
                so_failures: to_u32(r.get(2)?)?,
                user_failures: to_u32(r.get(3)?)?,
                epoch: r.get(4)?,
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
        self.initialize_with(meta, audit_key, None, record)
    }

    /// [`TokenDb::initialize`], also re-keying the officers-and-rules row
    /// (`quorum`: the row read, and its replacement) in the same
    /// transaction, so it never outlives the master key that opens it.
    pub fn initialize_with(
        &self,
        meta: &TokenMeta,
        audit_key: &[u8],
        quorum: Option<&(super::quorum::QuorumRow, super::quorum::QuorumRow)>,
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            if let Some((old, new)) = quorum {
                super::quorum::replace_in(tx, old, new)?;
            }
            tx.exec("DELETE FROM object", vals![])?;
            // Cascades to the pin rows.
            tx.exec("DELETE FROM token", vals![])?;
            tx.exec(
                "INSERT INTO token (id, label, serial, so_failures, user_failures, epoch)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                vals![
                    &meta.label,
                    &meta.serial,
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
            "UPDATE token SET {col} = CASE WHEN {col} < 4294967295 THEN {col} + 1
                 ELSE 4294967295 END
             WHERE id = 1 RETURNING {col}"
        );
        self.write(|tx| {
            let row = tx.query_opt(&sql, vals![])?;
            to_u32(row.ok_or(Error::TokenNotRecognized)?.get(0)?)
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

    /// Makes deleted rows' old versions unrecoverable from the store's
    /// files, waiting for readers if it must (SQLite: the WAL copied into
    /// the file and truncated). Only for rare, explicitly administrative
    /// writes (initialization, rotation); a destruction uses
    /// [`TokenDb::try_checkpoint`], which never waits.
    pub fn checkpoint(&self) {
        self.backend.erase();
    }

    /// [`TokenDb::checkpoint`] that never waits: `Ok(true)` when no old
    /// version of a deleted row remains in the store's files (SQLite: no
    /// page a delete replaced survives in the WAL); `Ok(false)` when a
    /// reader's snapshot (or another writer) still needs older versions.
    pub fn try_checkpoint(&self) -> Result<bool> {
        self.backend.try_erase()
    }

    /// Adds batched use counts: `(object, uses, last_used_secs)`. Rows of
    /// objects destroyed meanwhile are skipped. Relaxed: the counts are
    /// statistics that a killed process already loses the last second of
    /// (`token/usage.rs`), and a power loss may drop the last flushes.
    /// Counts from every process and host add up (the update adds to the
    /// stored count inside the serialized write).
    pub fn add_usage(&self, uses: &[(i64, u64, u64)]) -> Result<()> {
        self.write_relaxed(|tx| {
            for (id, count, last) in uses {
                let count = i64::try_from(*count).map_err(|_| Error::GeneralError)?;
                let last = i64::try_from(*last).map_err(|_| Error::GeneralError)?;
                tx.exec(
                    "INSERT INTO usage (object, count, last_used)
                         SELECT CAST(?1 AS BIGINT), CAST(?2 AS BIGINT), CAST(?3 AS BIGINT)
                         WHERE EXISTS (SELECT 1 FROM object WHERE id = ?1)
                     ON CONFLICT(object) DO UPDATE SET
                         count = usage.count + excluded.count,
                         last_used = CASE WHEN usage.last_used > excluded.last_used
                             THEN usage.last_used ELSE excluded.last_used END",
                    vals![*id, count, last],
                )?;
            }
            Ok(())
        })
    }

    /// The stored use count and last use (seconds) of an object.
    pub fn usage(&self, id: i64) -> Result<(u64, u64)> {
        self.statement(|tx| {
            let row = tx.query_opt(
                "SELECT count, last_used FROM usage WHERE object = ?1",
                vals![id],
            )?;
            let (count, last) = match row {
                Some(r) => (r.get::<i64>(0)?, r.get::<i64>(1)?),
                None => (0, 0),
            };
            Ok((count.max(0).cast_unsigned(), last.max(0).cast_unsigned()))
        })
    }

    /// Row `id`, if present.
    pub fn object(&self, id: i64) -> Result<Option<ObjectRow>> {
        let sql = format!("{SELECT_OBJECT} WHERE id = ?1");
        self.statement(|tx| {
            tx.query_opt(&sql, vals![id])?
                .map(|r| object_from_row(&r))
                .transpose()
        })
    }

    /// Rows matching `filter`, ordered by id. Uses the class and lookup
    /// indexes; non-private rows only unless `include_private`.
    pub fn find(&self, filter: &RowFilter) -> Result<Vec<ObjectRow>> {
        self.find_rows(filter, None)
    }

    /// At most `limit` rows matching `filter` whose id is above `after`
    /// (`i64::MIN`: from the first),
    /// ordered by id: a search over a large token reads it a page at a
    /// time (keyset paging on the primary key), so the rows it holds at
    /// once — and the process's memory — do not grow with the token.
    ///
    /// `stamped`: also returns the [`ChangeStamp`] read just before the
    /// page: a search that took several pages compares it with
    /// [`TokenDb::change_stamp`] afterwards to know whether its pages form
    /// one consistent view (a commit after the stamp was read moves it,
    /// whether or not the page saw that commit).
    pub fn find_page(
        &self,
        filter: &RowFilter,
        after: i64,
        limit: usize,
        stamped: bool,
    ) -> Result<(Vec<ObjectRow>, Option<ChangeStamp>)> {
        let stamp = if stamped {
            Some(self.change_stamp()?)
        } else {
            None
        };
        let rows = self.find_rows(filter, Some((after, limit)))?;
        Ok((rows, stamp))
    }

    /// Moves whenever a commit landed since it was last read (see
    /// [`Backend::change_stamp`]).
    pub fn change_stamp(&self) -> Result<ChangeStamp> {
        self.backend.change_stamp()
    }

    fn find_rows(&self, filter: &RowFilter, page: Option<(i64, usize)>) -> Result<Vec<ObjectRow>> {
        let mut sql = format!("{SELECT_OBJECT} WHERE 1 = 1");
        let mut args: Vec<Val> = Vec::new();
        if let Some(class) = filter.class {
            sql.push_str(" AND class = ?");
            args.push(Val::Int(class.cast_signed()));
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
            args.extend(values.iter().map(|v| Val::Blob(v.clone())));
        }
        // The first page names no lower bound: SQLite re-prepares a
        // statement whose range bound is a parameter each time the bound
        // changes (its planner weighs the value), which would tax every
        // small search; later pages pay it once per page.
        if let Some((after, _)) = page.filter(|(after, _)| *after != i64::MIN) {
            sql.push_str(" AND id > ?");
            args.push(Val::Int(after));
        }
        sql.push_str(" ORDER BY id");
        if let Some((_, limit)) = page {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        self.statement(|tx| {
            tx.query(&sql, &args)?
                .iter()
                .map(object_from_row)
                .collect::<TxResult<Vec<_>>>()
        })
    }

    /// Every object id, ascending.
    pub fn object_ids(&self) -> Result<Vec<i64>> {
        self.statement(|tx| {
            tx.query("SELECT id FROM object ORDER BY id", vals![])?
                .iter()
                .map(|r| r.get(0))
                .collect::<TxResult<Vec<i64>>>()
        })
    }
}

fn reset_failures_in(tx: &dyn Tx, role: Role) -> TxResult<()> {
    let col = role.failures_column();
    let n = tx.exec(&format!("UPDATE token SET {col} = 0 WHERE id = 1"), vals![])?;
    if n == 0 {
        return Err(Error::TokenNotRecognized.into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "db_find_tests.rs"]
mod find_tests;

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
