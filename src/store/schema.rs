//! Opening a token file: owner-only file creation, the connection pragmas,
//! and creating or checking the versioned schema. Also the error type that
//! transaction bodies in `sqlite.rs` return.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::durability::{Durability, set_synchronous};
use crate::error::{Error, Result};

/// Version written to `schema_version`; bump it and add a migration when
/// the layout changes.
pub const SCHEMA_VERSION: i64 = 6;
/// SQLite header `application_id` ("KWRD"), so a foreign database file is
/// not mistaken for a token.
pub const APPLICATION_ID: i64 = 0x4B57_5244;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS token (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    label         BLOB    NOT NULL CHECK (length(label) = 32),
    serial        BLOB    NOT NULL CHECK (length(serial) = 16),
    so_failures   INTEGER NOT NULL DEFAULT 0 CHECK (so_failures >= 0),
    user_failures INTEGER NOT NULL DEFAULT 0 CHECK (user_failures >= 0),
    epoch         INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pin (
    role       INTEGER PRIMARY KEY CHECK (role IN (0, 1)),
    token      INTEGER NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    salt       BLOB    NOT NULL,
    iterations INTEGER NOT NULL,
    wrapped    BLOB    NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS object (
    id           INTEGER PRIMARY KEY,
    generation   INTEGER NOT NULL,
    class        INTEGER NOT NULL,
    private      INTEGER NOT NULL CHECK (private IN (0, 1)),
    lookup_label BLOB,
    lookup_id    BLOB,
    public       BLOB    NOT NULL,
    sealed       BLOB    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS object_class ON object(class);
CREATE INDEX IF NOT EXISTS object_lookup_label ON object(lookup_label);
CREATE INDEX IF NOT EXISTS object_lookup_id ON object(lookup_id);
";

/// Added in version 2: the audit trail (which outlives token
/// re-initialization, so it hangs off no token row), its chain head and
/// anchor, and batched key usage counters.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq    INTEGER PRIMARY KEY,
    time   INTEGER NOT NULL,
    event  TEXT    NOT NULL,
    object INTEGER,
    body   BLOB    NOT NULL,
    hash   BLOB    NOT NULL CHECK (length(hash) = 32),
    mac    BLOB
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq    INTEGER NOT NULL,
    head_hash   BLOB    NOT NULL CHECK (length(head_hash) = 32),
    anchor_seq  INTEGER NOT NULL,
    anchor_hash BLOB    NOT NULL CHECK (length(anchor_hash) = 32),
    anchor_mac  BLOB,
    key_wrapped BLOB
) STRICT;
CREATE TABLE IF NOT EXISTS usage (
    object    INTEGER PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    count     INTEGER NOT NULL DEFAULT 0,
    last_used INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// Added in version 3: PIN attempts in flight (see `pin_attempts.rs`).
/// A row reserves one try until its owner finishes, dies, or its lease
/// (`expires`, Unix milliseconds) runs out; it goes with the token row.
/// AUTOINCREMENT: an id is never reused, so a late finish cannot remove
/// somebody else's reservation.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS pin_attempt (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    role    INTEGER NOT NULL CHECK (role IN (0, 1)),
    token   INTEGER NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    pid     INTEGER NOT NULL,
    started INTEGER,
    host    TEXT,
    expires INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS pin_attempt_role ON pin_attempt(role);
";

/// Added in version 4: master-key rotation in batches (`rekey.rs`).
/// `mk_step`: the key of `to_epoch` wrapped under the key of `from_epoch`,
/// so a process logged in under an older key catches up by itself (the
/// newest steps only, see `rekey::MAX_STEPS`). `mk_rotation`: the one
/// rotation in progress, with the old key wrapped under the new one
/// (so a login under the new key can open rows not re-sealed yet) and the
/// last row id re-sealed. Both go with the token row.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS mk_step (
    from_epoch INTEGER PRIMARY KEY,
    token      INTEGER NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    to_epoch   INTEGER NOT NULL,
    wrapped    BLOB    NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS mk_rotation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token      INTEGER NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    from_epoch INTEGER NOT NULL,
    to_epoch   INTEGER NOT NULL,
    previous   BLOB    NOT NULL,
    cursor     INTEGER NOT NULL
) STRICT;
";

/// Version 5: the audit table loses its indexes on `time` and `object`
/// (version 2 had them). Every audited operation appends a record, and
/// each index cost that commit one more B-tree page in the WAL: dropping
/// both made an audited C_WrapKey ~1.5x faster. `keyward audit show
/// --since/--object` scans the trail instead (a CLI read, linear in the
/// trail). The one lookup a module makes — has this damaged row been
/// reported? — keeps a partial index over the damage reports alone.
const SCHEMA_V5: &str = "
DROP INDEX IF EXISTS audit_time;
DROP INDEX IF EXISTS audit_object;
CREATE INDEX IF NOT EXISTS audit_damage ON audit(object) WHERE event = 'object_damaged';
";

/// Added in version 6: separation of duties (`store/quorum.rs`,
/// docs/SEPARATION-OF-DUTIES.md). `quorum`: the officers and the approval
/// rules, authenticated by a MAC under the quorum key, itself wrapped under
/// the master key. `quorum_request` / `quorum_vote`: requests and the
/// officers' signed approvals or denials (the signatures, not the table,
/// are what counts). `auditor`: the audit key wrapped under the auditor's
/// passphrase, so the trail's MACs can be checked without a PIN. None of
/// them hangs off the token row: officers and the auditor outlive a
/// re-initialization. The partial index finds the executions of approved
/// requests, which no request may have twice.
const SCHEMA_V6: &str = "
CREATE TABLE IF NOT EXISTS quorum (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    key_wrapped BLOB    NOT NULL,
    config      BLOB    NOT NULL,
    mac         BLOB    NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS quorum_request (
    id        INTEGER PRIMARY KEY,
    nonce     BLOB    NOT NULL CHECK (length(nonce) = 16),
    op        TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    about     TEXT    NOT NULL,
    requester TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    state     TEXT    NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS quorum_vote (
    request   INTEGER NOT NULL REFERENCES quorum_request(id) ON DELETE CASCADE,
    officer   TEXT    NOT NULL,
    decision  TEXT    NOT NULL CHECK (decision IN ('approve', 'deny')),
    time      INTEGER NOT NULL,
    signature BLOB    NOT NULL,
    PRIMARY KEY (request, officer)
) STRICT;
CREATE TABLE IF NOT EXISTS auditor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    name       TEXT    NOT NULL,
    salt       BLOB    NOT NULL,
    iterations INTEGER NOT NULL,
    wrapped    BLOB    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_quorum ON audit(event) WHERE event = 'quorum_executed';
";

/// Failure inside a transaction body: SQL errors stay raw so BUSY can be
/// recognised and retried; everything else is already final.
pub enum TxError {
    Sql(rusqlite::Error),
    Ck(Error),
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Ck(e)
    }
}

pub type TxResult<T> = std::result::Result<T, TxError>;

pub(super) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        Error::DeviceError.because(&format_args!("cannot create {}: {e}", dir.display()))
    })
}

/// Creates the file owner-only before SQLite opens it; SQLite gives its
/// `-wal` and `-shm` files the same permissions.
pub(super) fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|e| {
        Error::DeviceError.because(&format_args!("cannot open {}: {e}", path.display()))
    })
}

/// Runs a PRAGMA and discards whatever rows it reports.
fn set_pragma(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

pub(super) fn configure(conn: &Connection) -> TxResult<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::DeviceError.into());
    }
    // FULL by default: a commit (a new key, a PIN failure count) must
    // survive power loss; with NORMAL the last WAL commits may roll back,
    // which could hand an attacker extra PIN guesses. Only records of
    // events that change nothing stored commit with NORMAL, one
    // transaction at a time (`TokenDb::write_relaxed`, docs/AUDIT.md).
    set_synchronous(conn, Durability::Full)?;
    set_pragma(conn, "PRAGMA secure_delete = ON")?;
    set_pragma(conn, "PRAGMA foreign_keys = ON")?;
    // The file is untrusted input: forbid functions with side effects in
    // any view or trigger a tampered schema might carry.
    set_pragma(conn, "PRAGMA trusted_schema = OFF")?;
    Ok(())
}

pub(super) fn create_schema(tx: &Transaction<'_>) -> TxResult<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version INTEGER NOT NULL
         ) STRICT;",
    )?;
    let version: Option<i64> = tx
        .query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    match version {
        None => {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.execute_batch(SCHEMA_V3)?;
            tx.execute_batch(SCHEMA_V4)?;
            tx.execute_batch(SCHEMA_V5)?;
            tx.execute_batch(SCHEMA_V6)?;
            tx.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, ?1)",
                [SCHEMA_VERSION],
            )?;
            set_pragma(tx, &format!("PRAGMA application_id = {APPLICATION_ID}"))?;
            Ok(())
        }
        Some(version @ 1..=SCHEMA_VERSION) => {
            let app: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            if app != APPLICATION_ID {
                return Err(Error::TokenNotRecognized.into());
            }
            if version < 2 {
                tx.execute_batch(SCHEMA_V2)?;
            }
            if version < 3 {
                tx.execute_batch(SCHEMA_V3)?;
            }
            if version < 4 {
                tx.execute_batch(SCHEMA_V4)?;
            }
            if version < 5 {
                tx.execute_batch(SCHEMA_V5)?;
            }
            if version < 6 {
                tx.execute_batch(SCHEMA_V6)?;
            }
            if version < SCHEMA_VERSION {
                tx.execute(
                    "UPDATE schema_version SET version = ?1 WHERE id = 1",
                    [SCHEMA_VERSION],
                )?;
            }
            Ok(())
        }
        Some(_) => Err(Error::TokenNotRecognized.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::TokenDb;

    #[test]
    fn foreign_or_newer_files_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        assert_eq!(TokenDb::open(&path).unwrap_err(), Error::TokenNotRecognized);

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE schema_version (id INTEGER, version INTEGER); INSERT INTO schema_version VALUES (1, 1);")
            .unwrap();
        drop(conn);
        assert_eq!(
            TokenDb::open(&other).unwrap_err(),
            Error::TokenNotRecognized
        );

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x55; 4096]).unwrap();
        assert_eq!(TokenDb::open(&junk).unwrap_err(), Error::DeviceError);
    }

    #[test]
    fn version_2_files_gain_the_pin_attempt_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE pin_attempt; UPDATE schema_version SET version = 2;")
            .unwrap();
        drop(conn);
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM pin_attempt", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn version_3_files_gain_the_rotation_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE mk_step; DROP TABLE mk_rotation; UPDATE schema_version SET version = 3;",
        )
        .unwrap();
        drop(conn);
        let db = TokenDb::open(&path).unwrap();
        assert_eq!(db.key_state().unwrap().steps, Vec::new());
        drop(db);
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM mk_rotation", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    /// What an audited operation's commit writes: the record's table
    /// page and the chain head, and no index page (version 5; the two
    /// partial indexes hold only damage reports and quorum executions). Files
    /// made by version 4 lose the two indexes on open.
    #[test]
    fn audit_records_update_no_index_but_damage_reports_are_indexed() {
        let audit_indexes = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index'
                     AND tbl_name = 'audit' ORDER BY name",
                )
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(audit_indexes(&conn), ["audit_damage", "audit_quorum"]);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT 1 FROM audit WHERE event = 'object_damaged'
                 AND object IS 7 AND instr(body, CAST('x' AS BLOB)) > 0",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("audit_damage"), "{plan}");

        // A version 4 file, as that release left it.
        conn.execute_batch(
            "DROP INDEX audit_damage;
             CREATE INDEX audit_time ON audit(time);
             CREATE INDEX audit_object ON audit(object);
             UPDATE schema_version SET version = 4;",
        )
        .unwrap();
        drop(conn);
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(audit_indexes(&conn), ["audit_damage", "audit_quorum"]);
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn pragmas_and_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/dir/token.db");
        drop(TokenDb::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        configure(&conn).map_err(|_| ()).unwrap();
        let get = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
        };
        assert_eq!(get("journal_mode"), "Text(\"wal\")");
        assert_eq!(get("synchronous"), "Integer(2)");
        assert_eq!(get("secure_delete"), "Integer(1)");
        assert_eq!(get("foreign_keys"), "Integer(1)");
        assert_eq!(get("application_id"), format!("Integer({APPLICATION_ID})"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }
}
