//! A decrypted backup held in memory as a writable database ("image"), so
//! a restore over a live token can read it, adjust it (states kept
//! compromised, the rollback record, the backup's epoch) and then copy it into
//! the live token file in ONE write transaction of that file. Copying
//! in place, rather than renaming a new file over the old one, means
//! processes that have the token open see the restored token on their
//! next call instead of writing on into an unlinked file.

use rusqlite::{Connection, MAIN_DB, OptionalExtension, Transaction, params};

use super::{BResult, BackupError, BackupInfo};
use crate::error::{Error, Result};
use crate::store::audit::{self, AuditEntry};
use crate::store::rows::{Dialect, Tx, Val, vals};
use crate::store::schema::{TxResult, create_schema};
use crate::store::seal::PinRecord;
use crate::store::sqlite::{ObjectRow, Role, SELECT_OBJECT, TokenDb, load_pin, object_from_row};

/// Every table of the current schema, parents before children. A restore
/// refuses a schema with any other table: it would not know how to copy it.
const TABLES: [&str; 14] = [
    "schema_version",
    "token",
    "pin",
    "pin_attempt",
    "mk_step",
    "mk_rotation",
    "object",
    "usage",
    "audit",
    "audit_state",
    "quorum",
    "quorum_request",
    "quorum_vote",
    "auditor",
];

/// The separation-of-duties tables a restore over a token with officers
/// leaves as they are (see [`TokenDb::replace_keeping_quorum`]).
const KEPT_BY_RESTORE: [&str; 4] = ["quorum", "quorum_request", "quorum_vote", "auditor"];

/// The append-only triggers of `audit` (as in the schema): dropped for the
/// one statement that replaces the trail, re-created in the same
/// transaction.
const AUDIT_TRIGGERS: [&str; 2] = [
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
];

/// What a restore must find unchanged in the live token, inside its write
/// transaction: the audit head the loss report was computed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveHead {
    pub seq: i64,
    pub hash: Vec<u8>,
}

/// A table's name and every row of it.
type TableRows = (&'static str, Vec<Vec<Val>>);

/// A decrypted, writable, schema-current backup database.
pub struct Image {
    pub info: BackupInfo,
    conn: Connection,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({:?})", self.info)
    }
}

fn sql(e: rusqlite::Error) -> Error {
    Error::from(e)
}

fn tx_error(e: crate::store::schema::TxError) -> Error {
    match e {
        crate::store::schema::TxError::Ck(e) => e,
        crate::store::schema::TxError::Sql(e) => sql(e),
    }
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

fn expected_tables() -> Vec<String> {
    let mut v: Vec<String> = TABLES.iter().map(|s| (*s).to_string()).collect();
    v.sort();
    v
}

impl Image {
    /// Decrypts and checks `file` (as `verify` does), then loads it as a
    /// writable in-memory database migrated to the current schema.
    pub fn open(file: &std::path::Path, passphrase: &[u8]) -> BResult<Image> {
        Image::open_with(file, super::Unlock::Passphrase(passphrase))
    }

    /// [`Image::open`] for either kind of backup.
    pub fn open_with(file: &std::path::Path, unlock: super::Unlock<'_>) -> BResult<Image> {
        let (info, plain) = super::open_unlocked(file, unlock)?;
        let mut conn = Connection::open_in_memory()?;
        conn.deserialize_read_exact(MAIN_DB, plain.as_slice(), plain.len(), false)
            .map_err(|_| BackupError::NotAToken("the payload is not an SQLite database".into()))?;
        conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA foreign_keys = ON")?;
        {
            let tx = conn.transaction()?;
            create_schema(&tx).map_err(|e| BackupError::Store(tx_error(e)))?;
            tx.commit()?;
        }
        if table_names(&conn)? != expected_tables() {
            return Err(BackupError::NotAToken(
                "its tables are not those of this Keyward's schema".into(),
            ));
        }
        Ok(Image { info, conn })
    }

    /// Every object row, ordered by id.
    pub fn objects(&self) -> Result<Vec<ObjectRow>> {
        self.conn
            .query(&format!("{SELECT_OBJECT} ORDER BY id"), vals![])
            .and_then(|rows| rows.iter().map(object_from_row).collect())
            .map_err(tx_error)
    }

    /// The stored PIN record of `role`.
    pub fn pin(&mut self, role: Role) -> Result<Option<PinRecord>> {
        let tx = self.conn.transaction().map_err(sql)?;
        load_pin(&tx, role).map_err(tx_error)
    }

    /// The audit head (seq, hash) of the backup's trail; (0, []) if none.
    pub fn audit_head(&self) -> Result<LiveHead> {
        head_of(&self.conn)
    }

    /// The epoch of the backup's master key (0 if the backup holds no
    /// initialized token). Sealed rows name the epoch of the key that
    /// sealed them, so a restored token keeps it.
    pub fn epoch(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT epoch FROM token WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(sql)?
            .unwrap_or(0))
    }

    /// The backup's audit key, wrapped under its master key.
    pub fn audit_key_wrapped(&self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT key_wrapped FROM audit_state WHERE id = 1",
                [],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()
            .map_err(sql)?
            .flatten())
    }

    /// In one transaction of the image: replaces `rows` (same ids), sets a
    /// new `epoch` and PIN failure counts no lower than `failures` (so a
    /// restore never hands out extra PIN guesses), and appends `records`
    /// to its audit chain.
    pub fn amend(
        &mut self,
        rows: &[ObjectRow],
        epoch: i64,
        failures: (u32, u32),
        records: &[AuditEntry],
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(sql)?;
        amend_in(&tx, rows, epoch, failures, records).map_err(tx_error)?;
        tx.commit().map_err(sql)
    }

    /// Every row of every table, in [`TABLES`] order.
    fn dump(&self) -> Result<Vec<TableRows>> {
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows = self
                .conn
                .query(&format!("SELECT * FROM {table}"), vals![])
                .map_err(tx_error)?;
            out.push((table, rows.into_iter().map(|r| r.0).collect()));
        }
        Ok(out)
    }
}

fn head_of(conn: &Connection) -> Result<LiveHead> {
    let head = conn
        .query_row(
            "SELECT head_seq, head_hash FROM audit_state WHERE id = 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()
        .map_err(sql)?;
    Ok(head.map_or(
        LiveHead {
            seq: 0,
            hash: Vec::new(),
        },
        |(seq, hash)| LiveHead { seq, hash },
    ))
}

fn amend_in(
    tx: &Transaction<'_>,
    rows: &[ObjectRow],
    epoch: i64,
    failures: (u32, u32),
    records: &[AuditEntry],
) -> TxResult<()> {
    for row in rows {
        let n = tx
            .prepare_cached(
                "UPDATE object SET generation = ?2, class = ?3, private = ?4,
                     lookup_label = ?5, lookup_id = ?6, public = ?7, sealed = ?8
                 WHERE id = ?1",
            )?
            .execute(params![
                row.id,
                row.generation,
                row.class.cast_signed(),
                row.private,
                row.lookup_label,
                row.lookup_id,
                row.public,
                row.sealed
            ])?;
        if n != 1 {
            return Err(Error::GeneralError.into());
        }
    }
    let n = tx.execute(
        "UPDATE token SET epoch = ?1, so_failures = max(so_failures, ?2),
             user_failures = max(user_failures, ?3) WHERE id = 1",
        params![epoch, failures.0, failures.1],
    )?;
    if n != 1 {
        return Err(Error::TokenNotRecognized.into());
    }
    for record in records {
        audit::append(tx, record)?;
    }
    Ok(())
}

/// The live audit head as read inside a transaction.
fn live_head_in(tx: &dyn Tx) -> TxResult<LiveHead> {
    let head = tx.query_opt(
        "SELECT head_seq, head_hash FROM audit_state WHERE id = 1",
        vals![],
    )?;
    Ok(match head {
        Some(r) => LiveHead {
            seq: r.get(0)?,
            hash: r.get(1)?,
        },
        None => LiveHead {
            seq: 0,
            hash: Vec::new(),
        },
    })
}

impl TokenDb {
    /// The live audit head (seq, hash), read in one transaction.
    pub fn audit_head_now(&self) -> Result<LiveHead> {
        self.read(live_head_in)
    }

    /// Replaces the whole content of this token file with `image`, in one
    /// `BEGIN IMMEDIATE` transaction, after checking inside it that the
    /// audit head is still `expected` (the state the loss report and the
    /// rollback record describe). A token changed meanwhile by another
    /// process is [`Error::FunctionFailed`]: nothing is written.
    pub fn replace_with(&self, image: &Image, expected: &LiveHead) -> Result<()> {
        self.replace_keeping_quorum(image, expected, None)
    }

    /// [`TokenDb::replace_with`]; with `quorum` (the live officers-and-
    /// rules row as read, and re-keyed under the backup's master key) the
    /// live officers, rules, requests, votes and auditor stay: a restore
    /// is no way to bring back a removed officer or a lower rule.
    pub fn replace_keeping_quorum(
        &self,
        image: &Image,
        expected: &LiveHead,
        quorum: Option<&(
            super::super::quorum::QuorumRow,
            super::super::quorum::QuorumRow,
        )>,
    ) -> Result<()> {
        let mut dump = image.dump()?;
        if quorum.is_some() {
            dump.retain(|(table, _)| !KEPT_BY_RESTORE.contains(table));
        }
        self.write(|tx| {
            // The copy below names SQLite's catalog and triggers.
            if tx.dialect() != Dialect::Sqlite {
                return Err(Error::FunctionNotSupported.into());
            }
            if &live_head_in(tx)? != expected {
                return Err(Error::FunctionFailed.into());
            }
            let live = tx
                .query(
                    "SELECT name FROM sqlite_master WHERE type = 'table'
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    vals![],
                )?
                .iter()
                .map(|r| r.get::<String>(0))
                .collect::<TxResult<Vec<_>>>()?;
            if live != expected_tables() {
                return Err(Error::TokenNotRecognized.into());
            }
            // Read here, under the write lock: a failure counted by another
            // process after the plan was made is kept too.
            let failures = tx.query_opt(
                "SELECT so_failures, user_failures FROM token WHERE id = 1",
                vals![],
            )?;
            tx.exec("DROP TRIGGER IF EXISTS audit_no_update", vals![])?;
            tx.exec("DROP TRIGGER IF EXISTS audit_no_delete", vals![])?;
            for table in TABLES.iter().rev() {
                if quorum.is_some() && KEPT_BY_RESTORE.contains(table) {
                    continue;
                }
                tx.exec(&format!("DELETE FROM {table}"), vals![])?;
            }
            if let Some((old, new)) = quorum {
                super::super::quorum::replace_in(tx, old, new)?;
            }
            for (table, rows) in &dump {
                let Some(first) = rows.first() else { continue };
                let marks = vec!["?"; first.len()].join(", ");
                let insert = format!("INSERT INTO {table} VALUES ({marks})");
                for row in rows {
                    tx.exec(&insert, row)?;
                }
            }
            if let Some(r) = failures {
                tx.exec(
                    "UPDATE token SET
                         so_failures = CASE WHEN so_failures > ?1 THEN so_failures ELSE ?1 END,
                         user_failures = CASE WHEN user_failures > ?2 THEN user_failures ELSE ?2 END
                     WHERE id = 1",
                    vals![r.get::<i64>(0)?, r.get::<i64>(1)?],
                )?;
            }
            for trigger in AUDIT_TRIGGERS {
                tx.exec(trigger, vals![])?;
            }
            Ok(())
        })?;
        self.checkpoint();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::test_entry;
    use crate::store::seal::{MasterKey, wrap_master_key};
    use crate::store::sqlite::TokenMeta;

    fn token(path: &std::path::Path, objects: i64) -> TokenDb {
        let db = TokenDb::open(path).unwrap();
        let mk = MasterKey::generate().unwrap();
        db.initialize(
            &TokenMeta {
                label: [b' '; 32],
                serial: *b"0000000000000001",
                so_pin: Some(wrap_master_key(&mk, b"so", 0, 1000).unwrap()),
                user_pin: None,
                so_failures: 0,
                user_failures: 2,
                epoch: 1,
            },
            b"",
            &test_entry(),
        )
        .unwrap();
        for id in 0..objects {
            db.insert_object(
                &ObjectRow {
                    id,
                    generation: 1,
                    class: 3,
                    private: false,
                    lookup_label: None,
                    lookup_id: None,
                    public: vec![1; 10],
                    sealed: vec![2; 40],
                },
                &test_entry(),
            )
            .unwrap();
        }
        db
    }

    #[test]
    fn replace_checks_the_head_inside_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let live_path = dir.path().join("live.db");
        let live = token(&live_path, 2);
        let file = dir.path().join("b.kwb");
        super::super::create(&live_path, &file, b"pass", 1000, &mut |_, _| {}).unwrap();
        let mut image = Image::open(&file, b"pass").unwrap();
        assert_eq!(image.objects().unwrap().len(), 2);
        // After the backup: a new object, and the head moves.
        let reported = live.audit_head_now().unwrap();
        live.insert_object(
            &ObjectRow {
                id: 9,
                generation: 1,
                class: 3,
                private: false,
                lookup_label: None,
                lookup_id: None,
                public: vec![1; 10],
                sealed: vec![2; 40],
            },
            &test_entry(),
        )
        .unwrap();
        // The report was made before that write: nothing is replaced.
        assert_eq!(
            live.replace_with(&image, &reported),
            Err(Error::FunctionFailed)
        );
        assert_eq!(live.object_ids().unwrap(), vec![0, 1, 9]);

        image.amend(&[], 77, (0, 0), &[test_entry()]).unwrap();
        // A wrong PIN counted by another process after the plan was made
        // (the image says 2) survives the restore.
        for _ in 0..3 {
            live.record_failure(Role::User).unwrap();
        }
        let now = live.audit_head_now().unwrap();
        live.replace_with(&image, &now).unwrap();
        assert_eq!(live.object_ids().unwrap(), vec![0, 1]);
        let meta = live.meta().unwrap().unwrap();
        assert_eq!((meta.epoch, meta.user_failures), (77, 5));
        // The backup's trail plus the appended record; still append-only.
        let head = live.audit_head_now().unwrap();
        assert_eq!(head.seq, image.audit_head().unwrap().seq);
        assert_eq!(head, image.audit_head().unwrap());
        let other = rusqlite::Connection::open(&live_path).unwrap();
        assert!(other.execute("DELETE FROM audit", []).is_err());
        assert!(other.execute("UPDATE audit SET time = 0", []).is_err());
    }
}
