//! The token's tables in a PostgreSQL schema: the SQLite schema versions
//! 1–6 combined (BIGINT for INTEGER, BYTEA for BLOB, the same CHECKs and
//! cascading foreign keys), plus the `change` counter that Write
//! transactions bump. Created once, under the token's advisory lock, so
//! two hosts opening a new schema at the same moment do not collide.

use postgres::Client;

use super::conn::{pg_error, quote_ident};
use crate::error::{Error, Result};
use crate::store::schema::SCHEMA_VERSION;

/// Every table of [`SCHEMA_VERSION`] at once (a PostgreSQL store starts
/// at version 5, so version 5 is the oldest one to upgrade).
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS token (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    label         BYTEA  NOT NULL CHECK (length(label) = 32),
    serial        BYTEA  NOT NULL CHECK (length(serial) = 16),
    so_failures   BIGINT NOT NULL DEFAULT 0 CHECK (so_failures >= 0),
    user_failures BIGINT NOT NULL DEFAULT 0 CHECK (user_failures >= 0),
    epoch         BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS pin (
    role       BIGINT PRIMARY KEY CHECK (role IN (0, 1)),
    token      BIGINT NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    salt       BYTEA  NOT NULL,
    iterations BIGINT NOT NULL,
    wrapped    BYTEA  NOT NULL
);
CREATE TABLE IF NOT EXISTS object (
    id           BIGINT PRIMARY KEY,
    generation   BIGINT NOT NULL,
    class        BIGINT NOT NULL,
    private      BIGINT NOT NULL CHECK (private IN (0, 1)),
    lookup_label BYTEA,
    lookup_id    BYTEA,
    public       BYTEA  NOT NULL,
    sealed       BYTEA  NOT NULL
);
CREATE INDEX IF NOT EXISTS object_class ON object(class);
CREATE INDEX IF NOT EXISTS object_lookup_label ON object(lookup_label);
CREATE INDEX IF NOT EXISTS object_lookup_id ON object(lookup_id);

CREATE TABLE IF NOT EXISTS audit (
    seq    BIGINT PRIMARY KEY,
    time   BIGINT NOT NULL,
    event  TEXT   NOT NULL,
    object BIGINT,
    body   BYTEA  NOT NULL,
    hash   BYTEA  NOT NULL CHECK (length(hash) = 32),
    mac    BYTEA
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TABLE IF NOT EXISTS audit_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    head_seq    BIGINT NOT NULL,
    head_hash   BYTEA  NOT NULL CHECK (length(head_hash) = 32),
    anchor_seq  BIGINT NOT NULL,
    anchor_hash BYTEA  NOT NULL CHECK (length(anchor_hash) = 32),
    anchor_mac  BYTEA,
    key_wrapped BYTEA
);
CREATE TABLE IF NOT EXISTS usage (
    object    BIGINT PRIMARY KEY REFERENCES object(id) ON DELETE CASCADE,
    count     BIGINT NOT NULL DEFAULT 0,
    last_used BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_damage ON audit(object) WHERE event = 'object_damaged';

CREATE TABLE IF NOT EXISTS pin_attempt (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role    BIGINT NOT NULL CHECK (role IN (0, 1)),
    token   BIGINT NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    pid     BIGINT NOT NULL,
    started BIGINT,
    host    TEXT,
    expires BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pin_attempt_role ON pin_attempt(role);

CREATE TABLE IF NOT EXISTS mk_step (
    from_epoch BIGINT PRIMARY KEY,
    token      BIGINT NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    to_epoch   BIGINT NOT NULL,
    wrapped    BYTEA  NOT NULL
);
CREATE TABLE IF NOT EXISTS mk_rotation (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    token      BIGINT NOT NULL REFERENCES token(id) ON DELETE CASCADE,
    from_epoch BIGINT NOT NULL,
    to_epoch   BIGINT NOT NULL,
    previous   BYTEA  NOT NULL,
    cursor     BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS change (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    counter BIGINT NOT NULL
);
INSERT INTO change (id, counter) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
";

/// Version 6's tables (see `store::schema::SCHEMA_V6`), added to a
/// version 5 schema on open.
const TABLES_V6: &str = "
CREATE TABLE IF NOT EXISTS quorum (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    key_wrapped BYTEA  NOT NULL,
    config      BYTEA  NOT NULL,
    mac         BYTEA  NOT NULL
);
CREATE TABLE IF NOT EXISTS quorum_request (
    id        BIGINT PRIMARY KEY,
    nonce     BYTEA  NOT NULL CHECK (length(nonce) = 16),
    op        TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    about     TEXT   NOT NULL,
    requester TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    created   BIGINT NOT NULL,
    expires   BIGINT NOT NULL,
    state     TEXT   NOT NULL
);
CREATE TABLE IF NOT EXISTS quorum_vote (
    request   BIGINT NOT NULL REFERENCES quorum_request(id) ON DELETE CASCADE,
    officer   TEXT   NOT NULL,
    decision  TEXT   NOT NULL CHECK (decision IN ('approve', 'deny')),
    time      BIGINT NOT NULL,
    signature BYTEA  NOT NULL,
    PRIMARY KEY (request, officer)
);
CREATE TABLE IF NOT EXISTS auditor (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    name       TEXT   NOT NULL,
    salt       BYTEA  NOT NULL,
    iterations BIGINT NOT NULL,
    wrapped    BYTEA  NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_quorum ON audit(event) WHERE event = 'quorum_executed';
";

/// Creates the schema and its tables if missing, or checks the version of
/// an existing one, in one transaction under the token's advisory lock
/// (`lock_key`). The connection's `search_path` already names `schema`.
pub(super) fn create(client: &mut Client, schema: &str, lock_key: i64) -> Result<()> {
    let mut tx = client.transaction().map_err(|e| pg_error(&e))?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({lock_key});
         CREATE SCHEMA IF NOT EXISTS {};
         CREATE TABLE IF NOT EXISTS schema_version (
             id      BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );",
        quote_ident(schema)
    ))
    .map_err(|e| pg_error(&e))?;
    let version: Option<i64> = tx
        .query_opt("SELECT version FROM schema_version WHERE id = 1", &[])
        .map_err(|e| pg_error(&e))?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(|e| pg_error(&e))?;
    match version {
        None => {
            tx.batch_execute(TABLES).map_err(|e| pg_error(&e))?;
            tx.batch_execute(TABLES_V6).map_err(|e| pg_error(&e))?;
            tx.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, $1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(|e| pg_error(&e))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(5) => {
            tx.batch_execute(TABLES_V6).map_err(|e| pg_error(&e))?;
            tx.execute(
                "UPDATE schema_version SET version = $1 WHERE id = 1",
                &[&SCHEMA_VERSION],
            )
            .map_err(|e| pg_error(&e))?;
        }
        Some(other) => {
            return Err(Error::TokenNotRecognized.because(&format_args!(
                "PostgreSQL schema {schema} holds store version {other}"
            )));
        }
    }
    tx.commit().map_err(|e| pg_error(&e))
}
