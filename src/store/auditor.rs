//! The `auditor` row (schema version 6): read, set and remove the
//! auditor's credential, each change in one write transaction with its
//! audit record.

use super::audit::{self, AuditEntry};
use super::rows::{Tx, vals};
use super::schema::TxResult;
use super::seal::auditor::AuditorRecord;
use super::sqlite::TokenDb;
use crate::error::{Error, Result};

fn load(tx: &dyn Tx) -> TxResult<Option<AuditorRecord>> {
    let Some(r) = tx.query_opt(
        "SELECT name, salt, iterations, wrapped FROM auditor WHERE id = 1",
        vals![],
    )?
    else {
        return Ok(None);
    };
    let iterations = u32::try_from(r.get::<i64>(2)?).map_err(|_| Error::Tampered)?;
    Ok(Some(AuditorRecord {
        name: r.get(0)?,
        salt: r.get(1)?,
        iterations,
        wrapped: r.get(3)?,
    }))
}

/// The audit key as wrapped under the master key, in `tx`.
fn audit_key_in(tx: &dyn Tx) -> TxResult<Option<Vec<u8>>> {
    Ok(tx
        .query_opt("SELECT key_wrapped FROM audit_state WHERE id = 1", vals![])?
        .map(|r| r.get::<Option<Vec<u8>>>(0))
        .transpose()?
        .flatten())
}

impl TokenDb {
    /// The auditor's credential, if one is set.
    pub fn auditor(&self) -> Result<Option<AuditorRecord>> {
        self.read(load)
    }

    /// Stores `rec` (replacing any auditor) and appends `record`. `rec`
    /// wraps the audit key that `audit_key` (its wrapping under the
    /// master key) names: checked inside the transaction, so an auditor
    /// is never given a key the token replaced meanwhile (a re-init).
    pub fn set_auditor(
        &self,
        rec: &AuditorRecord,
        audit_key: &[u8],
        record: &AuditEntry,
    ) -> Result<()> {
        self.write(|tx| {
            if audit_key_in(tx)?.as_deref() != Some(audit_key) {
                return Err(Error::FunctionFailed.into());
            }
            tx.exec(
                "INSERT INTO auditor (id, name, salt, iterations, wrapped)
                 VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name,
                     salt = excluded.salt, iterations = excluded.iterations,
                     wrapped = excluded.wrapped",
                vals![&rec.name, &rec.salt, rec.iterations, &rec.wrapped],
            )?;
            audit::append(tx, record)?;
            Ok(())
        })
    }

    /// Removes the auditor and appends `record`; false (and nothing
    /// written) when no auditor was set.
    pub fn remove_auditor(&self, record: &AuditEntry) -> Result<bool> {
        self.write(|tx| {
            if tx.exec("DELETE FROM auditor WHERE id = 1", vals![])? == 0 {
                return Ok(false);
            }
            audit::append(tx, record)?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::test_entry;
    use crate::store::seal::AuditKey;
    use crate::store::seal::auditor::wrap_for_auditor;

    #[test]
    fn set_replace_remove() {
        let dir = tempfile::tempdir().unwrap();
        let db = TokenDb::open(&dir.path().join("t.sqlite")).unwrap();
        db.set_audit_key(b"wrapped-audit-key").unwrap();
        assert!(db.auditor().unwrap().is_none());
        let key = AuditKey::generate().unwrap();
        let rec = wrap_for_auditor(&key, "carol", b"passphrase", 2).unwrap();
        // A stale audit key is refused, and nothing is written.
        assert_eq!(
            db.set_auditor(&rec, b"other", &test_entry()).err(),
            Some(Error::FunctionFailed)
        );
        assert!(db.auditor().unwrap().is_none());
        db.set_auditor(&rec, b"wrapped-audit-key", &test_entry())
            .unwrap();
        assert_eq!(db.auditor().unwrap(), Some(rec));
        let dave = wrap_for_auditor(&key, "dave", b"passphrase", 2).unwrap();
        db.set_auditor(&dave, b"wrapped-audit-key", &test_entry())
            .unwrap();
        assert_eq!(db.auditor().unwrap().unwrap().name, "dave");
        let before = db.audit_trail().unwrap().0.len();
        assert!(db.remove_auditor(&test_entry()).unwrap());
        assert!(!db.remove_auditor(&test_entry()).unwrap());
        assert!(db.auditor().unwrap().is_none());
        // One record for the removal, none for the no-op.
        assert_eq!(db.audit_trail().unwrap().0.len(), before + 1);
    }
}
