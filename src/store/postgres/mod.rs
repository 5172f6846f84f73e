//! The PostgreSQL row store (issue 14, feature `postgres`): one token's
//! rows in one PostgreSQL schema, shared by every host that opens it.
//!
//! - Writers are serialized across hosts by a transaction-scoped advisory
//!   lock keyed by the schema name, taken by the first statement of every
//!   `Write` and `Relaxed` transaction (what `BEGIN IMMEDIATE` gives
//!   SQLite: the bodies rely on it for the audit chain head, PIN failure
//!   counts and the epoch check). `Read` is one REPEATABLE READ snapshot.
//! - A `Write` bumps the one-row `change` counter and NOTIFYs the schema's
//!   channel before COMMIT; every process's listener thread (listen.rs)
//!   turns notifications into its lock-free [`Backend::stamp`].
//! - Fork safety: the backend keeps its connection and listener per
//!   process (`Proc`, tagged with the pid that made it). A forked child
//!   never touches or drops its parent's client — the tokio runtime
//!   threads and the mutex owners behind it do not exist in the child, so
//!   the parent's `Proc` is leaked (`mem::forget`) — and opens its own
//!   connection on its first call, and its own listener (until that runs,
//!   `stamp()` answers None).
//!
//!   The fork gate (`crate::forkgate`) is not needed by this backend and
//!   should not be held across `run()`: a fork in another thread would
//!   then wait for the network (up to the statement timeout). Without it,
//!   a fork may copy the process while another thread holds this
//!   process's connection mutex mid-query; the child never takes that
//!   mutex (its pid differs, so it builds a new `Proc`), and `Proc` is
//!   swapped through an `ArcSwap`, which takes no lock.
//! - Erasure: PostgreSQL keeps a deleted row's old version as a dead tuple
//!   until VACUUM reclaims the page space, and even then the bytes may
//!   stay in the data files, the WAL and its archives and base backups,
//!   which the module cannot reach. `erase`/`try_erase` do nothing and
//!   answer done: the deleted rows hold sealed blobs only (encrypted under
//!   the master key), and the README's security section must say that a
//!   PostgreSQL store gives no secure-delete guarantee for them.

mod conn;
mod listen;
mod schema;
mod tx;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use zeroize::Zeroizing;

use self::conn::{ConnSpec, check_schema, pg_error, redact_url};
use self::listen::ListenState;
use self::tx::{Conn, PgTx};
use super::backend::{Backend, ChangeStamp, Stamp, TxKind};
use super::rows::Tx;
use super::schema::{TxError, TxResult};
use crate::error::{Error, Result};
use crate::forkgate;

/// Where a token's rows live in PostgreSQL.
#[derive(Clone)]
pub struct PgTarget {
    /// `postgres://` or `postgresql://` URL. `sslmode` is `disable` (unix
    /// sockets only), `require`/`verify-ca` (the chain is verified, not
    /// the host name) or `verify-full` (the default); `sslrootcert=<file>`
    /// names the trusted roots (the system's otherwise).
    pub url: String,
    /// The password, kept out of the URL (and so out of every message).
    pub password: Option<Zeroizing<String>>,
    /// The schema holding this token's tables: `[a-z_][a-z0-9_]*`.
    pub schema: String,
    /// How long cached keys keep working after the change listener lost
    /// its connection.
    pub offline_grace: Duration,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "(redacted)"))
            .field("schema", &self.schema)
            .field("offline_grace", &self.offline_grace)
            .finish()
    }
}

/// What one process of the backend owns: its connection and its listener.
struct Proc {
    pid: u32,
    /// The fork generation this state was made in, when the pthread_atfork
    /// handlers were registered by then (`forkgate::armed`): every later
    /// fork moves the generation in the child, so an equal generation
    /// proves this is still the process that made it, with one atomic load
    /// instead of a getpid() syscall per `stamp()` (the hot path of every
    /// cached key's use). None: only the pid can tell.
    generation: Option<u64>,
    /// The connection's own mutex, held across its network waits (one
    /// transaction at a time per connection). None until the first call,
    /// and after a call found the connection broken.
    conn: Mutex<Option<Conn>>,
    listen: Arc<ListenState>,
    listener_started: AtomicBool,
}

impl Proc {
    fn new(pid: u32, grace: Duration) -> Proc {
        Proc {
            pid,
            generation: forkgate::armed().then(forkgate::generation),
            conn: Mutex::new(None),
            listen: Arc::new(ListenState::new(grace)),
            listener_started: AtomicBool::new(false),
        }
    }
}

/// A token's rows in a PostgreSQL schema.
pub struct PgBackend {
    spec: Arc<ConnSpec>,
    schema: String,
    lock_key: i64,
    channel: String,
    grace: Duration,
    proc: ArcSwap<Proc>,
    /// The schema and its tables were created or checked. False only
    /// when the server could not be reached at open: the first connection
    /// made later does it first.
    ready: AtomicBool,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("target", &self.spec.describe())
            .finish_non_exhaustive()
    }
}

/// FNV-1a, 64 bits: a stable key from the schema name (the advisory lock
/// key and the channel name must be the same on every host and version).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl PgBackend {
    /// Connects, creates the schema and its tables if missing (or checks
    /// their version), and starts the change listener. A server that
    /// cannot be reached (or refuses the login) does not fail the open —
    /// a host that starts while the database is down still loads the
    /// module, and every call on the token answers CKR_DEVICE_ERROR with
    /// the cause until the server answers; a schema of another version
    /// does fail it (CKR_TOKEN_NOT_RECOGNIZED).
    pub fn open(target: &PgTarget) -> Result<PgBackend> {
        check_schema(&target.schema)?;
        let spec = ConnSpec::new(
            &target.url,
            target.password.as_ref().map(|p| p.as_str()),
            &target.schema,
        )?;
        let key = fnv1a(format!("keyward-token:{}", target.schema).as_bytes());
        let backend = PgBackend {
            spec: Arc::new(spec),
            schema: target.schema.clone(),
            lock_key: i64::from_ne_bytes(key.to_ne_bytes()),
            channel: format!("keyward_{key:016x}"),
            grace: target.offline_grace,
            proc: ArcSwap::from_pointee(Proc::new(std::process::id(), target.offline_grace)),
            ready: AtomicBool::new(false),
        };
        let proc = backend.proc();
        match backend.connect_ready() {
            Ok(client) => {
                *proc.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(Conn::new(client));
            }
            Err(Error::DeviceError) => {}
            Err(e) => return Err(e),
        }
        backend.ensure_listener(&proc);
        Ok(backend)
    }

    /// A new connection, on which the schema is created or checked first
    /// if that has not been done yet.
    fn connect_ready(&self) -> Result<postgres::Client> {
        let mut client = self.spec.connect()?;
        if !self.ready.load(Ordering::Acquire) {
            schema::create(&mut client, &self.schema, self.lock_key)?;
            self.ready.store(true, Ordering::Release);
        }
        Ok(client)
    }

    /// This process's state. In a forked child (the pid differs) the
    /// parent's is leaked, never used or dropped, and a fresh one made.
    fn proc(&self) -> Arc<Proc> {
        let pid = std::process::id();
        let current = self.proc.load_full();
        if current.pid == pid {
            return current;
        }
        // One strong count that nobody ever releases: the parent's client
        // (and its runtime) is never dropped in this process.
        std::mem::forget(Arc::clone(&current));
        let fresh = Arc::new(Proc::new(pid, self.grace));
        let previous = self.proc.compare_and_swap(&current, Arc::clone(&fresh));
        if Arc::ptr_eq(&previous, &current) {
            fresh
        } else {
            // Another thread of this child swapped first: use its state.
            self.proc.load_full()
        }
    }

    fn ensure_listener(&self, proc: &Proc) {
        if !proc.listener_started.swap(true, Ordering::AcqRel)
            && !listen::spawn(
                Arc::clone(&self.spec),
                self.channel.clone(),
                Arc::clone(&proc.listen),
            )
        {
            proc.listener_started.store(false, Ordering::Release);
        }
    }

    /// Runs `f` in one transaction of `kind`; `commit_sent` is set once
    /// the COMMIT went out (from then on the write may have landed, even
    /// if its answer is lost).
    fn run_on(
        &self,
        conn: &mut Conn,
        kind: TxKind,
        f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>,
        began: &mut bool,
        commit_sent: &mut bool,
    ) -> Result<()> {
        let begin = match kind {
            // Autocommit: each statement its own snapshot, one round trip.
            TxKind::Statement => {
                *began = true;
                return f(&PgTx::new(conn)).map_err(final_error);
            }
            TxKind::Write => format!("BEGIN; SELECT pg_advisory_xact_lock({})", self.lock_key),
            TxKind::Relaxed => format!(
                "BEGIN; SELECT pg_advisory_xact_lock({}); SET LOCAL synchronous_commit = off",
                self.lock_key
            ),
            TxKind::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string(),
        };
        conn.in_tx = true;
        if let Err(e) = conn.client.batch_execute(&begin) {
            // The BEGIN may have been taken: leave no transaction open.
            rollback(conn);
            return Err(pg_error(&e));
        }
        *began = true;
        let outcome = f(&PgTx::new(conn));
        match outcome {
            Ok(()) => {
                let commit = match kind {
                    TxKind::Write => format!(
                        "UPDATE change SET counter = counter + 1 WHERE id = 1; NOTIFY {}; COMMIT",
                        self.channel
                    ),
                    TxKind::Relaxed | TxKind::Read | TxKind::Statement => "COMMIT".to_string(),
                };
                *commit_sent = true;
                if let Err(e) = conn.client.batch_execute(&commit) {
                    // A statement of the batch failed: the server aborted
                    // the transaction; end it.
                    rollback(conn);
                    return Err(pg_error(&e));
                }
                conn.in_tx = false;
                Ok(())
            }
            Err(e) => {
                rollback(conn);
                Err(final_error(e))
            }
        }
    }
}

fn final_error(e: TxError) -> Error {
    match e {
        TxError::Ck(e) => e,
        TxError::Sql(e) => e.into(),
    }
}

/// Ends the open transaction; if even that fails, `in_tx` stays set and
/// the next call drops the connection.
fn rollback(conn: &mut Conn) {
    if conn.client.batch_execute("ROLLBACK").is_ok() {
        conn.in_tx = false;
    }
}

impl Backend for PgBackend {
    fn run(&self, kind: TxKind, f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>) -> Result<()> {
        let proc = self.proc();
        self.ensure_listener(&proc);
        let mut slot = proc.conn.lock().unwrap_or_else(PoisonError::into_inner);
        // A connection that broke in an earlier call is replaced now (that
        // call answered DEVICE_ERROR; this one is not a retry of it), and
        // so is one an earlier call left inside its transaction (its body
        // panicked: the mutex may be poisoned, the data it guards is not).
        if slot
            .as_ref()
            .is_some_and(|c| c.client.is_closed() || c.in_tx)
        {
            *slot = None;
        }
        let mut commit_sent = false;
        let mut result;
        let mut reused = slot.is_some();
        loop {
            let conn = match &mut *slot {
                Some(conn) => conn,
                empty => empty.insert(Conn::new(self.connect_ready()?)),
            };
            let mut began = false;
            result = self.run_on(conn, kind, f, &mut began, &mut commit_sent);
            let closed = conn.client.is_closed();
            if closed || conn.in_tx {
                *slot = None;
            }
            // A kept connection that the server closed while it was idle
            // (a restart, a failover, an idle timeout) fails at its first
            // use: the BEGIN, before anything of the body ran. Once, on a
            // new connection, the call is made again — not a retry of
            // anything that may have landed.
            if result.is_err() && reused && !began && closed {
                reused = false;
                continue;
            }
            break;
        }
        drop(slot);
        if kind == TxKind::Write && commit_sent {
            // This process's own readers see the write at once, before
            // the notification comes back. Also after a failure at the
            // COMMIT: one whose answer was lost may have landed. A write
            // that failed before its COMMIT (the server down, a refused
            // body) changed nothing, so it must not move the stamp: that
            // would end the offline grace of every cached key at the
            // first write tried during an outage.
            proc.listen.bump();
        }
        result
    }

    fn stamp(&self) -> Option<Stamp> {
        let proc = self.proc.load();
        let same_process =
            proc.generation == Some(forkgate::generation()) || proc.pid == std::process::id();
        if !same_process {
            drop(proc);
            // A forked child: its own state and listener, started now;
            // until the listener runs, None.
            let proc = self.proc();
            self.ensure_listener(&proc);
            return None;
        }
        proc.listen.stamp()
    }

    fn change_stamp(&self) -> Result<ChangeStamp> {
        let mut counter = 0i64;
        self.run(TxKind::Read, &mut |tx| {
            let row = tx
                .query_opt("SELECT counter FROM change WHERE id = 1", &[])?
                .ok_or(TxError::Ck(Error::DeviceError))?;
            counter = row.get(0)?;
            Ok(())
        })?;
        Ok((counter, 0))
    }

    /// Nothing the engine allows cheaply: see the module comment
    /// ("Erasure"). Done, as far as this backend can do anything.
    fn erase(&self) {}

    fn try_erase(&self) -> Result<bool> {
        Ok(true)
    }

    fn describe(&self) -> String {
        self.spec.describe().to_string()
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        let proc = self.proc.load_full();
        if proc.pid == std::process::id() {
            proc.listen.stop();
        } else {
            // A parent's state in a child: never dropped here.
            std::mem::forget(proc);
            let placeholder = Arc::new(Proc::new(0, self.grace));
            std::mem::forget(self.proc.swap(placeholder));
        }
    }
}
