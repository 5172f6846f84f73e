//! Object writes: insert (one row or several at once), update and delete,
//! each in one `BEGIN IMMEDIATE` transaction that first re-checks the
//! token epoch the caller sealed under. A check made before `BEGIN` races
//! with a master-key rotation in another process: the row would be sealed
//! under a key that no longer opens anything, and committed anyway.

use super::audit::{self, AuditEntry};
use super::db::{ObjectRow, TokenDb};
use super::rows::{Tx, vals};
use super::schema::TxResult;
use crate::error::{Error, Result};

/// Fails with [`Error::UserNotLoggedIn`] unless the token's epoch is
/// still `expected`: the master key the caller sealed (and computed lookup
/// tags) under is the current one. `None` means the write depends on no
/// key (an unsealed public object stored without a login). Must run inside
/// the write transaction, after `BEGIN IMMEDIATE` took the lock, so no
/// rotation can commit between the check and the write.
pub(super) fn check_epoch_in(tx: &dyn Tx, expected: Option<i64>) -> TxResult<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let current: Option<i64> = tx
        .query_opt("SELECT epoch FROM token WHERE id = 1", vals![])?
        .map(|r| r.get(0))
        .transpose()?;
    if current == Some(expected) {
        Ok(())
    } else {
        Err(Error::UserNotLoggedIn.into())
    }
}

fn insert_row(tx: &dyn Tx, row: &ObjectRow) -> TxResult<()> {
    tx.exec(
        "INSERT INTO object
             (id, generation, class, private, lookup_label, lookup_id, public, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        vals![
            row.id,
            row.generation,
            row.class.cast_signed(),
            row.private,
            &row.lookup_label,
            &row.lookup_id,
            &row.public,
            &row.sealed
        ],
    )?;
    Ok(())
}

impl TokenDb {
    /// Inserts a new row (generation stored as given). A duplicate id is
    /// [`Error::DeviceError`]. Depends on no key; the token layer uses
    /// [`TokenDb::insert_objects`].
    pub fn insert_object(&self, row: &ObjectRow, record: &AuditEntry) -> Result<()> {
        self.write(|tx| {
            insert_row(tx, row)?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Inserts every row with its audit record in ONE transaction (a key
    /// pair is never stored half), after checking that the token epoch is
    /// still `epoch` (see [`check_epoch_in`]); on any failure nothing is
    /// written.
    pub fn insert_objects(
        &self,
        rows: &[(ObjectRow, AuditEntry)],
        epoch: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            check_epoch_in(tx, epoch)?;
            for (row, record) in rows {
                insert_row(tx, row)?;
                audit::append(tx, record)?;
            }
            Ok(())
        })
    }

    /// Replaces row `row.id` (ignoring `row.generation`), stores the old
    /// generation + 1 and returns it. A missing row is
    /// [`Error::ObjectHandleInvalid`].
    pub fn update_object(&self, row: &ObjectRow, record: &AuditEntry) -> Result<i64> {
        self.update_object_at(row, record, None)
    }

    /// [`TokenDb::update_object`] after checking, inside its transaction,
    /// that the token epoch is still `epoch`.
    pub fn update_object_at(
        &self,
        row: &ObjectRow,
        record: &AuditEntry,
        epoch: Option<i64>,
    ) -> Result<i64> {
        self.write(|tx| {
            check_epoch_in(tx, epoch)?;
            let generation: Option<i64> = tx
                .query_opt(
                    "UPDATE object SET generation = generation + 1, class = ?2, private = ?3,
                         lookup_label = ?4, lookup_id = ?5, public = ?6, sealed = ?7
                     WHERE id = ?1 RETURNING generation",
                    vals![
                        row.id,
                        row.class.cast_signed(),
                        row.private,
                        &row.lookup_label,
                        &row.lookup_id,
                        &row.public,
                        &row.sealed
                    ],
                )?
                .map(|r| r.get(0))
                .transpose()?;
            let generation = generation.ok_or(Error::ObjectHandleInvalid)?;
            audit::append(tx, record)?;
            Ok(generation)
        })
    }

    /// A key rotation in ONE transaction: rewrites every row of the old
    /// version (each only if its generation is still the one the caller
    /// read, so a rotation or state change that another process committed
    /// meanwhile makes this one fail with [`Error::ActionProhibited`] and
    /// write nothing) and inserts the new version's rows, after checking
    /// the token epoch (see [`check_epoch_in`]).
    pub fn rotate_objects(
        &self,
        updates: &[(ObjectRow, i64, AuditEntry)],
        inserts: &[(ObjectRow, AuditEntry)],
        epoch: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            check_epoch_in(tx, epoch)?;
            for (row, expected, record) in updates {
                let n = tx.exec(
                    "UPDATE object SET generation = generation + 1, class = ?2, private = ?3,
                         lookup_label = ?4, lookup_id = ?5, public = ?6, sealed = ?7
                     WHERE id = ?1 AND generation = ?8",
                    vals![
                        row.id,
                        row.class.cast_signed(),
                        row.private,
                        &row.lookup_label,
                        &row.lookup_id,
                        &row.public,
                        &row.sealed,
                        *expected
                    ],
                )?;
                if n != 1 {
                    return Err(Error::ActionProhibited.into());
                }
                audit::append(tx, record)?;
            }
            for (row, record) in inserts {
                insert_row(tx, row)?;
                audit::append(tx, record)?;
            }
            Ok(())
        })
    }

    /// Deletes row `id` (recording `record` with it); `false` if there was
    /// none. `secure_delete` zeroes the freed bytes in the new page
    /// versions; the old versions stay in the WAL (or the main file) until
    /// a checkpoint copies the zeroed pages over them. This never waits
    /// for that: see [`TokenDb::try_checkpoint`].
    pub fn delete_object(&self, id: i64, record: &AuditEntry) -> Result<bool> {
        self.write(|tx| {
            let n = tx.exec("DELETE FROM object WHERE id = ?1", vals![id])?;
            if n > 0 {
                audit::append(tx, record)?;
            }
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::test_entry;
    use crate::store::sqlite::TokenMeta;

    fn row(id: i64) -> ObjectRow {
        ObjectRow {
            id,
            generation: 1,
            class: 3,
            private: false,
            lookup_label: Some(b"l".to_vec()),
            lookup_id: Some(b"i".to_vec()),
            public: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
            sealed: vec![0xEE; 40],
        }
    }

    fn fresh(epoch: i64) -> (tempfile::TempDir, TokenDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = TokenDb::open(&dir.path().join("token.db")).unwrap();
        let meta = TokenMeta {
            label: [b' '; 32],
            serial: *b"0123456789abcdef",
            so_pin: None,
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            epoch,
        };
        db.initialize(&meta, b"", &test_entry()).unwrap();
        (dir, db)
    }

    #[test]
    fn a_stale_epoch_writes_nothing() {
        let (_dir, db) = fresh(7);
        let pair = [(row(1), test_entry()), (row(2), test_entry())];
        assert_eq!(
            db.insert_objects(&pair, Some(6)),
            Err(Error::UserNotLoggedIn)
        );
        assert!(db.object_ids().unwrap().is_empty());
        db.insert_objects(&pair, Some(7)).unwrap();
        assert_eq!(db.object_ids().unwrap(), vec![1, 2]);
        assert_eq!(
            db.update_object_at(&row(1), &test_entry(), Some(6)),
            Err(Error::UserNotLoggedIn)
        );
        assert_eq!(db.object(1).unwrap().unwrap().generation, 1);
        assert_eq!(db.update_object_at(&row(1), &test_entry(), Some(7)), Ok(2));
        // No key behind the write: no check.
        db.insert_objects(&[(row(3), test_entry())], None).unwrap();
    }

    #[test]
    fn stale_pin_records_and_rotations_are_refused() {
        use crate::store::seal::{MasterKey, PinRecord};
        use crate::store::sqlite::Role;
        let (_dir, db) = fresh(7);
        let rec = PinRecord {
            salt: vec![1; 16],
            iterations: 1000,
            wrapped: vec![2; 61],
        };
        assert_eq!(
            db.set_pin_record_at(Role::User, &rec, &test_entry(), 6),
            Err(Error::UserNotLoggedIn)
        );
        assert_eq!(db.meta().unwrap().unwrap().user_pin, None);
        db.set_pin_record_at(Role::User, &rec, &test_entry(), 7)
            .unwrap();
        assert_eq!(db.meta().unwrap().unwrap().user_pin, Some(rec.clone()));

        let old = MasterKey::generate().unwrap();
        let new = old.rotated().unwrap();
        let begin = |expected| {
            db.begin_rotation(&crate::store::rekey::RotationStart {
                old_epoch: expected,
                new_epoch: 8,
                so_pin: &rec,
                user_pin: None,
                next: Some(
                    crate::store::seal::wrap_step(
                        &old,
                        crate::store::seal::StepDirection::Next,
                        expected,
                        8,
                        &new,
                    )
                    .unwrap(),
                ),
                previous: Vec::new(),
                audit_key: b"",
                quorum: None,
                record: &test_entry(),
            })
        };
        assert_eq!(begin(6), Err(Error::UserNotLoggedIn));
        assert_eq!(db.meta().unwrap().unwrap().epoch, 7, "nothing changed");
        assert_eq!(begin(7), Ok(()));
        assert_eq!(db.meta().unwrap().unwrap().epoch, 8);
    }

    #[test]
    fn a_pair_is_stored_whole_or_not_at_all() {
        let (_dir, db) = fresh(7);
        db.insert_object(&row(2), &test_entry()).unwrap();
        // The second row collides: the first must not stay behind.
        let pair = [(row(1), test_entry()), (row(2), test_entry())];
        assert_eq!(db.insert_objects(&pair, Some(7)), Err(Error::DeviceError));
        assert_eq!(db.object_ids().unwrap(), vec![2]);
    }

    #[test]
    fn a_rotation_loses_to_a_newer_generation() {
        let (_dir, db) = fresh(7);
        db.insert_object(&row(1), &test_entry()).unwrap();
        let update = [(row(1), 1, test_entry())];
        let insert = [(row(2), test_entry())];
        // Someone else changed row 1 first: nothing of ours is written.
        assert_eq!(db.update_object(&row(1), &test_entry()), Ok(2));
        assert_eq!(
            db.rotate_objects(&update, &insert, Some(7)),
            Err(Error::ActionProhibited)
        );
        assert_eq!(db.object_ids().unwrap(), vec![1]);
        let update = [(row(1), 2, test_entry())];
        db.rotate_objects(&update, &insert, Some(7)).unwrap();
        assert_eq!(db.object_ids().unwrap(), vec![1, 2]);
        assert_eq!(db.object(1).unwrap().unwrap().generation, 3);
    }

    #[test]
    fn checkpoint_never_waits_for_a_reader() {
        let (dir, db) = fresh(7);
        db.insert_object(&row(1), &test_entry()).unwrap();
        assert_eq!(db.try_checkpoint(), Ok(true));
        let mut reader = rusqlite::Connection::open(dir.path().join("token.db")).unwrap();
        let snapshot = reader.transaction().unwrap();
        let n: i64 = snapshot
            .query_row("SELECT count(*) FROM object", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(db.delete_object(1, &test_entry()).unwrap());
        // Returns at once (a blocking checkpoint would wait the busy
        // timeout, then fail the same way).
        assert_eq!(db.try_checkpoint(), Ok(false));
        assert_eq!(db.try_checkpoint(), Ok(false));
        drop(snapshot);
        assert_eq!(db.try_checkpoint(), Ok(true));
        let wal = std::fs::metadata(dir.path().join("token.db-wal")).unwrap();
        assert_eq!(wal.len(), 0, "the WAL is truncated");
    }
}
