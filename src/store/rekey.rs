//! Master-key rotation at the store level, in bounded batches. The first
//! transaction switches the token to the new key (epoch, PIN records, audit
//! key) and stores the new key wrapped under the old one (so processes
//! logged in under the old key catch up by themselves) and the old key
//! wrapped under the new one (so rows not re-sealed yet stay readable).
//! Then each transaction re-seals at most one batch of rows, and the last
//! one, after checking that no row names the old key any more, ends the
//! rotation. A crash at any point leaves every row readable with the keys
//! the token holds, and the rotation resumable. docs/FORMAT.md has the
//! details.

use super::audit::{self, AuditEntry};
use super::rows::{Dialect, Row, Tx, Val, vals};
use super::schema::TxResult;
use super::seal::{self, MasterKey, PinRecord};
use super::sqlite::{ObjectRow, Role, SELECT_OBJECT, TokenDb, object_from_row, store_pin};
use crate::error::{Error, Result};

/// Environment variable read by the test hooks in [`TokenDb::run_rotation`].
const FAILPOINT_VAR: &str = "KEYWARD_FAILPOINT";
/// Its value that aborts the process half-way through the first batch of
/// a run, before that batch commits.
const FAILPOINT_REKEY_MID: &str = "rekey-mid";
/// Prefix of its value `rekey-batch-N`: abort after N batches committed
/// (N = 0: right after the first transaction).
const FAILPOINT_REKEY_BATCH: &str = "rekey-batch-";

/// Rows re-sealed per transaction: bounds how long a rotation holds the
/// write lock (a few milliseconds of AES-GCM per batch).
pub const REKEY_BATCH: usize = 64;
/// Rotation steps kept for processes logged in under an older key: a
/// process that slept through more rotations than this is logged out
/// (CKR_USER_NOT_LOGGED_IN) and must log in again.
pub const MAX_STEPS: i64 = 16;
/// Cursor before the first row (object ids are positive).
const CURSOR_START: i64 = i64::MIN;

/// The key of `to` wrapped under the key of `from` (`seal::wrap_step`,
/// direction `Next`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStep {
    pub from: i64,
    pub to: i64,
    pub wrapped: Vec<u8>,
}

/// The rotation in progress: rows may be sealed under the key of `from`
/// (their blob names it, or is version 1) or of `to` (the token's epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationState {
    pub from: i64,
    pub to: i64,
    /// The key of `from` wrapped under the key of `to` (direction
    /// `Previous`).
    pub previous: Vec<u8>,
    /// Rows with an id up to this one are re-sealed.
    pub cursor: i64,
}

/// What a logged-in process needs to follow the token's key, read in one
/// snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The token epoch (`None`: not initialized).
    pub epoch: Option<i64>,
    pub steps: Vec<KeyStep>,
    pub rotation: Option<RotationState>,
}

/// How a rotation runs (`Token::rotate_master_key_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateOptions {
    /// Rows re-sealed per transaction (at least 1).
    pub batch: usize,
    /// Store no step from the old key to the new one and drop every kept
    /// step: processes logged in under an older key cannot follow and must
    /// log in again. For a suspected compromise of the old key or of a
    /// PIN: with the steps kept, whoever holds an old key (or an old PIN
    /// and an old copy of the file) could unwrap the new key.
    pub logout_all: bool,
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            batch: REKEY_BATCH,
            logout_all: false,
        }
    }
}

/// Everything the first transaction of a rotation writes.
pub struct RotationStart<'a> {
    /// The epoch the SO PIN was checked at: still current, or nothing
    /// happens.
    pub old_epoch: i64,
    pub new_epoch: i64,
    pub so_pin: &'a PinRecord,
    /// `None` deletes the user PIN record, which would still wrap the old
    /// key.
    pub user_pin: Option<&'a PinRecord>,
    /// New key under old (`seal::wrap_step`, `Next`); `None` stores no
    /// step and drops the kept ones ([`RotateOptions::logout_all`]).
    pub next: Option<Vec<u8>>,
    /// Old key under new (`seal::wrap_step`, `Previous`).
    pub previous: Vec<u8>,
    /// The audit key wrapped under the new key.
    pub audit_key: &'a [u8],
    /// The officers-and-rules row as read, and re-keyed for the new key.
    pub quorum: Option<&'a (super::quorum::QuorumRow, super::quorum::QuorumRow)>,
    pub record: &'a AuditEntry,
}

/// The two keys of a rotation and their epochs.
#[derive(Debug, Clone, Copy)]
pub struct RotationKeys<'a> {
    pub old: &'a MasterKey,
    pub old_epoch: i64,
    pub new: &'a MasterKey,
    pub new_epoch: i64,
}

/// One batch's outcome.
enum Batch {
    /// Rows visited (sealed ones) and how many of them were re-sealed.
    Done { visited: u64, resealed: u64 },
    /// The cursor passed the last row.
    End,
    /// No rotation from `from` to `to` is in progress any more.
    Gone,
}

/// A test hook, read once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failpoint {
    None,
    Mid,
    AfterBatches(u64),
}

fn failpoint() -> Failpoint {
    let Some(v) = std::env::var_os(FAILPOINT_VAR) else {
        return Failpoint::None;
    };
    let v = v.to_string_lossy();
    if v == FAILPOINT_REKEY_MID {
        return Failpoint::Mid;
    }
    v.strip_prefix(FAILPOINT_REKEY_BATCH)
        .and_then(|n| n.parse().ok())
        .map_or(Failpoint::None, Failpoint::AfterBatches)
}

/// An object row as [`SELECT_OBJECT`] lists its columns (the same
/// mapping as `sqlite::object_from_row`, for rows read through [`Tx`]).
fn rotation_from_row(r: &Row) -> TxResult<RotationState> {
    Ok(RotationState {
        from: r.get(0)?,
        to: r.get(1)?,
        previous: r.get(2)?,
        cursor: r.get(3)?,
    })
}

fn step_from_row(r: &Row) -> TxResult<KeyStep> {
    Ok(KeyStep {
        from: r.get(0)?,
        to: r.get(1)?,
        wrapped: r.get(2)?,
    })
}

fn load_rotation(tx: &dyn Tx) -> TxResult<Option<RotationState>> {
    tx.query_opt(
        "SELECT from_epoch, to_epoch, previous, cursor FROM mk_rotation WHERE id = 1",
        vals![],
    )?
    .as_ref()
    .map(rotation_from_row)
    .transpose()
}

fn token_epoch(tx: &dyn Tx) -> TxResult<Option<i64>> {
    tx.query_opt("SELECT epoch FROM token WHERE id = 1", vals![])?
        .map(|r| r.get(0))
        .transpose()
}

/// The integer a query returns in its one row (a count, a next seq).
fn one_int(tx: &dyn Tx, sql: &str, args: &[Val]) -> TxResult<i64> {
    match tx.query_opt(sql, args)? {
        Some(r) => r.get(0),
        None => Err(Error::DeviceError
            .because(&"an aggregate returned no row")
            .into()),
    }
}

/// Whether `rot` is the rotation from `from` to `to` and the token is at
/// `to` (a re-initialization removes the rotation with the token row).
fn is_rotation(tx: &dyn Tx, rot: Option<&RotationState>, from: i64, to: i64) -> TxResult<bool> {
    Ok(rot.is_some_and(|r| r.from == from && r.to == to) && token_epoch(tx)? == Some(to))
}

/// `row`'s blob re-sealed under `new`, or `None` when it already is.
/// A blob under any key but `old` or `new` is [`Error::Tampered`].
fn resealed_row(
    old: &MasterKey,
    old_epoch: i64,
    new: &MasterKey,
    new_epoch: i64,
    row: &ObjectRow,
) -> Result<Option<Vec<u8>>> {
    match seal::blob_key_epoch(&row.sealed)? {
        Some(e) if e == new_epoch => return Ok(None),
        Some(e) if e != old_epoch => return Err(Error::Tampered),
        _ => {}
    }
    seal::reseal_row(old, new, new_epoch, row).map(Some)
}

impl TokenDb {
    /// The token epoch, the rotation steps and the rotation in progress,
    /// from one snapshot.
    pub fn key_state(&self) -> Result<KeyState> {
        self.read(|tx| {
            let epoch = token_epoch(tx)?;
            let steps = tx
                .query(
                    "SELECT from_epoch, to_epoch, wrapped FROM mk_step ORDER BY seq",
                    vals![],
                )?
                .iter()
                .map(step_from_row)
                .collect::<TxResult<Vec<_>>>()?;
            let rotation = load_rotation(tx)?;
            Ok(KeyState {
                epoch,
                steps,
                rotation,
            })
        })
    }

    /// Opens every sealed row under `mk`, the key of `epoch`, in one read
    /// transaction (which blocks no writer): run before a rotation starts,
    /// so a damaged row stops it before anything changes. Returns the
    /// number of sealed rows; a row that does not open is
    /// [`Error::Tampered`].
    pub fn check_sealed_under(&self, mk: &MasterKey, epoch: i64) -> Result<u64> {
        self.read(|tx| {
            let rows = tx.query(
                &format!("{SELECT_OBJECT} WHERE length(sealed) > 0"),
                vals![],
            )?;
            let mut n = 0u64;
            for row in &rows {
                let row = object_from_row(row)?;
                if seal::blob_key_epoch(&row.sealed)?.is_some_and(|e| e != epoch) {
                    return Err(Error::Tampered.into());
                }
                seal::open_row(mk, &row)?;
                n = n.saturating_add(1);
            }
            Ok(n)
        })
    }

    /// The first transaction of a rotation: checks that the epoch is still
    /// `old_epoch` ([`Error::UserNotLoggedIn`] if not) and that no rotation
    /// is in progress ([`Error::OperationActive`]); then sets the new
    /// epoch, gives the PINs their tries back (both were just proven),
    /// replaces the PIN records and the audit key, stores the step and the
    /// rotation row, drops steps beyond [`MAX_STEPS`] and appends the
    /// record. An uninitialized token is [`Error::TokenNotRecognized`].
    pub fn begin_rotation(&self, start: &RotationStart<'_>) -> Result<()> {
        self.write(|tx| {
            super::object_write::check_epoch_in(tx, Some(start.old_epoch))?;
            if load_rotation(tx)?.is_some() {
                return Err(Error::OperationActive.into());
            }
            let n = tx.exec(
                "UPDATE token SET epoch = ?1, so_failures = 0, user_failures = 0 WHERE id = 1",
                vals![start.new_epoch],
            )?;
            if n == 0 {
                return Err(Error::TokenNotRecognized.into());
            }
            store_pin(tx, Role::So, start.so_pin)?;
            match start.user_pin {
                Some(rec) => store_pin(tx, Role::User, rec)?,
                None => {
                    tx.exec("DELETE FROM pin WHERE role = ?1", vals![Role::User.byte()])?;
                }
            }
            match &start.next {
                Some(next) => {
                    let seq =
                        one_int(tx, "SELECT coalesce(max(seq), 0) + 1 FROM mk_step", vals![])?;
                    // The primary key (from_epoch) is mk_step's only
                    // unique constraint, so this upsert replaces exactly
                    // the row SQLite's INSERT OR REPLACE replaced.
                    tx.exec(
                        "INSERT INTO mk_step (from_epoch, token, seq, to_epoch, wrapped)
                         VALUES (?1, 1, ?2, ?3, ?4)
                         ON CONFLICT(from_epoch) DO UPDATE SET token = excluded.token,
                             seq = excluded.seq, to_epoch = excluded.to_epoch,
                             wrapped = excluded.wrapped",
                        vals![start.old_epoch, seq, start.new_epoch, next],
                    )?;
                    tx.exec(
                        "DELETE FROM mk_step WHERE seq <= ?1",
                        vals![seq.saturating_sub(MAX_STEPS)],
                    )?;
                }
                None => {
                    tx.exec("DELETE FROM mk_step", vals![])?;
                }
            }
            tx.exec(
                "INSERT INTO mk_rotation (id, token, from_epoch, to_epoch, previous, cursor)
                 VALUES (1, 1, ?1, ?2, ?3, ?4)",
                vals![
                    start.old_epoch,
                    start.new_epoch,
                    &start.previous,
                    CURSOR_START
                ],
            )?;
            // The audit key, re-wrapped under the new master key, and the
            // record of the rotation commit with it.
            audit::set_key(tx, start.audit_key)?;
            if let Some((old, new)) = start.quorum {
                super::quorum::replace_in(tx, old, new)?;
            }
            audit::append(tx, start.record)?;
            Ok(())
        })
    }

    /// One transaction: re-seals the next `batch` rows after the cursor
    /// that are still under `old` and moves the cursor past them.
    fn reseal_batch(&self, keys: RotationKeys<'_>, batch: usize, failpoint: bool) -> Result<Batch> {
        let RotationKeys {
            old,
            old_epoch,
            new,
            new_epoch,
        } = keys;
        let limit = i64::try_from(batch.max(1)).map_err(|_| Error::ArgumentsBad)?;
        self.write(|tx| {
            let rot = load_rotation(tx)?;
            if !is_rotation(tx, rot.as_ref(), old_epoch, new_epoch)? {
                return Ok(Batch::Gone);
            }
            let cursor = rot.map_or(CURSOR_START, |r| r.cursor);
            let rows = tx
                .query(
                    &format!("{SELECT_OBJECT} WHERE id > ?1 ORDER BY id LIMIT ?2"),
                    vals![cursor, limit],
                )?
                .iter()
                .map(object_from_row)
                .collect::<TxResult<Vec<_>>>()?;
            let Some(last) = rows.last().map(|r| r.id) else {
                return Ok(Batch::End);
            };
            let sealed: Vec<&ObjectRow> = rows.iter().filter(|r| !r.sealed.is_empty()).collect();
            let (mut visited, mut resealed) = (0u64, 0u64);
            for row in &sealed {
                if let Some(blob) = resealed_row(old, old_epoch, new, new_epoch, row)? {
                    tx.exec(
                        "UPDATE object SET generation = generation + 1, sealed = ?2 WHERE id = ?1",
                        vals![row.id, blob],
                    )?;
                    resealed = resealed.saturating_add(1);
                }
                visited = visited.saturating_add(1);
                // Test hook for the crash tests: with KEYWARD_FAILPOINT=
                // rekey-mid the process dies here, half-way through an
                // uncommitted batch, as on a power cut or kill -9.
                if failpoint && visited.saturating_mul(2) >= sealed.len() as u64 {
                    std::process::abort();
                }
            }
            tx.exec(
                "UPDATE mk_rotation SET cursor = ?1 WHERE id = 1",
                vals![last],
            )?;
            Ok(Batch::Done { visited, resealed })
        })
    }

    /// Ends the rotation if no sealed row is left under another key than
    /// the new one (a header check in SQL, no decryption); else moves the
    /// cursor back to the start and returns `false`. The record is
    /// appended with the end.
    fn finish_rotation(
        &self,
        old_epoch: i64,
        new_epoch: i64,
        record: &AuditEntry,
    ) -> Result<Option<bool>> {
        let head = seal::blob_head(new_epoch);
        self.write(|tx| {
            let rot = load_rotation(tx)?;
            if !is_rotation(tx, rot.as_ref(), old_epoch, new_epoch)? {
                return Ok(None);
            }
            // The head is compared as bytes: PostgreSQL is told the
            // parameter's type (BYTEA: it has no BLOB); SQLite compares a
            // blob parameter as bytes as it is.
            let sql = match tx.dialect() {
                Dialect::Sqlite => {
                    "SELECT count(*) FROM object
                     WHERE length(sealed) > 0 AND substr(sealed, 1, 9) != ?1"
                }
                Dialect::Postgres => {
                    "SELECT count(*) FROM object
                     WHERE length(sealed) > 0 AND substr(sealed, 1, 9) != CAST(?1 AS BYTEA)"
                }
            };
            let left = one_int(tx, sql, vals![&head[..]])?;
            if left > 0 {
                tx.exec(
                    "UPDATE mk_rotation SET cursor = ?1 WHERE id = 1",
                    vals![CURSOR_START],
                )?;
                return Ok(Some(false));
            }
            tx.exec("DELETE FROM mk_rotation WHERE id = 1", vals![])?;
            audit::append(tx, record)?;
            Ok(Some(true))
        })
    }

    /// Re-seals, `batch` rows per transaction, every row still under
    /// `keys.old` (the key of `keys.old_epoch`) under `keys.new` (the key
    /// of `keys.new_epoch`, the token's), then ends the rotation with the
    /// audit record `record` makes (at the end, so its time is the end's).
    /// Works for a rotation just begun and for one a crash interrupted. `progress(done, total)`
    /// follows the sealed rows. Returns how many rows this run re-sealed.
    /// A row that opens under neither key is [`Error::Tampered`]: the
    /// batch holding it changes nothing and the rotation stays resumable.
    pub fn run_rotation(
        &self,
        keys: RotationKeys<'_>,
        batch: usize,
        record: &dyn Fn() -> AuditEntry,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let failpoint = failpoint();
        let total: i64 = self.read(|tx| {
            one_int(
                tx,
                "SELECT count(*) FROM object WHERE length(sealed) > 0",
                vals![],
            )
        })?;
        let total = u64::try_from(total).map_err(|_| Error::GeneralError)?;
        let RotationKeys {
            old_epoch,
            new_epoch,
            ..
        } = keys;
        let (mut done, mut resealed, mut batches) = (0u64, 0u64, 0u64);
        // Rows written under the old key after the first transaction are
        // impossible (every sealing write checks the epoch inside its
        // transaction), so one pass suffices; the bound only stops a loop
        // if that ever failed.
        for _pass in 0..3 {
            loop {
                if failpoint == Failpoint::AfterBatches(batches) {
                    std::process::abort();
                }
                match self.reseal_batch(keys, batch, failpoint == Failpoint::Mid && batches == 0)? {
                    Batch::Done {
                        visited,
                        resealed: n,
                    } => {
                        done = done.saturating_add(visited);
                        resealed = resealed.saturating_add(n);
                        batches = batches.saturating_add(1);
                        progress(done.min(total), total);
                    }
                    Batch::End => break,
                    Batch::Gone => return self.rotation_gone(new_epoch, resealed),
                }
            }
            match self.finish_rotation(old_epoch, new_epoch, &record())? {
                Some(true) => return Ok(resealed),
                Some(false) => {}
                None => return self.rotation_gone(new_epoch, resealed),
            }
        }
        Err(Error::GeneralError)
    }

    /// The rotation row went away under us: finished by another process
    /// (fine) or the token was re-initialized (our keys are stale).
    fn rotation_gone(&self, new_epoch: i64, resealed: u64) -> Result<u64> {
        let state = self.key_state()?;
        if state.epoch == Some(new_epoch) && state.rotation.is_none() {
            Ok(resealed)
        } else {
            Err(Error::UserNotLoggedIn)
        }
    }
}

#[cfg(test)]
#[path = "rekey_tests.rs"]
mod tests;
