//! Which store the C-ABI suites run against: the embedded SQLite file
//! (the default), or — with `KEYWARD_TEST_BACKEND=postgres` — a fresh
//! schema per test in a PostgreSQL server reached over TLS with
//! certificate verification. The same tests, unchanged, run on both
//! (`tests/postgres_suites.rs` runs them the second way).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use super::pg;

/// `postgres` puts slot 0 of every test config in PostgreSQL.
pub const ENV_BACKEND: &str = "KEYWARD_TEST_BACKEND";
/// A server started by the runner, shared by the suites it runs.
pub const ENV_PG_URL: &str = "KEYWARD_TEST_PG_URL";
pub const ENV_PG_PASSWORD_FILE: &str = "KEYWARD_TEST_PG_PASSWORD_FILE";

pub fn postgres() -> bool {
    std::env::var(ENV_BACKEND).as_deref() == Ok("postgres")
}

/// Where test slots point: a URL with no password, and a password file.
pub struct Server {
    pub url: String,
    pub password_file: PathBuf,
}

/// The runner's server (environment), else this process's own throw-away
/// cluster over TLS (`verify-full` against its own CA); `None` when
/// PostgreSQL is not installed outside CI (under CI=true that panics).
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if let (Ok(url), Ok(file)) = (
                std::env::var(ENV_PG_URL),
                std::env::var(ENV_PG_PASSWORD_FILE),
            ) {
                return Some(Server {
                    url,
                    password_file: PathBuf::from(file),
                });
            }
            let c = pg::cluster()?;
            let dir = tempfile::Builder::new()
                .prefix("keyward-pgpass-")
                .tempdir()
                .expect("tempdir");
            let password_file = dir.path().join("password");
            std::fs::write(&password_file, format!("{}\n", c.password)).expect("write password");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))
                .expect("chmod password");
            // Kept for the process's life: every config written names it.
            std::mem::forget(dir);
            Some(Server {
                url: c.tls_url("localhost", "verify-full", &c.ca_file()),
                password_file,
            })
        })
        .as_ref()
}

/// The TOML of a slot whose token lives in `schema` on `server`, as an
/// `[[slot]]` table (for a config that lays out its own slots).
pub fn slot_toml(id: u64, schema: &str, server: &Server) -> String {
    format!(
        "\n[[slot]]\nid = {id}\nstore = {}\nstore_schema = {}\nstore_password_file = {}\n",
        quoted(&server.url),
        quoted(schema),
        quoted(&server.password_file.to_string_lossy()),
    )
}

/// The same slot as one top-level line (`slot = [{ … }]`), which a test
/// may follow with more top-level keys or tables.
fn slot_line(schema: &str, server: &Server) -> String {
    format!(
        "slot = [{{ id = 0, store = {}, store_schema = {}, store_password_file = {} }}]\n",
        quoted(&server.url),
        quoted(schema),
        quoted(&server.password_file.to_string_lossy()),
    )
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A test's extra config, with slot 0 moved to PostgreSQL when the suite
/// runs there (a test that lays out its own slots keeps them).
pub fn with_backend(extra: &str) -> String {
    if !postgres() || extra.contains("[[slot]]") {
        return extra.to_string();
    }
    let server = server().expect("KEYWARD_TEST_BACKEND=postgres needs PostgreSQL");
    // First: the line must come before any table the test's lines open.
    format!("{}{extra}", slot_line(&pg::fresh_schema(), server))
}

/// Whether the token is an SQLite file under the store directory (tests
/// that read or damage that file directly hold only then).
pub fn sqlite() -> bool {
    !postgres()
}

/// The token database of slot 0 as the config in the environment names
/// it (`KEYWARD_CONF`): the SQLite file, or the PostgreSQL schema.
pub fn token_db() -> keyward::store::TokenDb {
    let config = keyward::config::Config::from_env().expect("config");
    let slot = config
        .slots
        .iter()
        .find(|s| s.id == 0)
        .expect("slot 0 is configured");
    match &slot.store {
        Some(shared) => keyward::store::TokenDb::open_shared(shared),
        None => keyward::store::TokenDb::open(&config.token_path(0)),
    }
    .expect("open the token store")
}
