//! The connection side of the row-store seam: how a backend opens, runs
//! one transaction of each kind, and tells readers that something changed.
//! [`super::sqlite::TokenDb`] holds one backend and writes every body once
//! against [`super::rows::Tx`].

use super::rows::Tx;
use super::schema::TxResult;
use crate::error::Result;

/// What a transaction may do, and what its commit promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// A change to what is stored (objects, the token row, PIN records,
    /// the epoch): serialized against every other writer of the token,
    /// on every host, from its first statement; durable when it returns;
    /// moves the change stamp ([`Backend::stamp`]) for every process.
    Write,
    /// A record of an event that changed nothing stored, or use counts:
    /// serialized like [`TxKind::Write`] (the audit chain head is
    /// read-modify-write) but it need not be durable before it returns,
    /// and it does not move the change stamp.
    Relaxed,
    /// Several reads from one consistent snapshot; writes nothing.
    Read,
    /// Reads outside any explicit transaction, each statement its own
    /// snapshot (a single-row read on a hot path: no BEGIN/COMMIT round).
    Statement,
}

/// See [`Backend::stamp`].
pub type Stamp = u64;
/// See [`Backend::change_stamp`].
pub type ChangeStamp = (i64, u64);

/// One token's rows in one engine.
pub trait Backend: Send + Sync {
    /// Runs `f` in one transaction of `kind`, committed if `f` succeeds
    /// and rolled back otherwise. `f` may run more than once (a backend
    /// retries a transaction the engine refused for contention); it must
    /// do nothing but statements through its `Tx`.
    fn run(&self, kind: TxKind, f: &mut dyn FnMut(&dyn Tx) -> TxResult<()>) -> Result<()>;

    /// A cheap, lock-free token of "nothing committed since": `Some(s)`
    /// means a row read after this call reflects every commit up to now,
    /// and while `stamp()` keeps returning `Some(s)` no `TxKind::Write`
    /// has committed since, from any process. `None` means "read the row".
    /// Called on every use of a cached key: it must not touch the engine.
    fn stamp(&self) -> Option<Stamp>;

    /// A value that moves whenever any commit landed since it was last
    /// read (one engine read is fine: a multi-page search compares the
    /// value before and after its pages).
    fn change_stamp(&self) -> Result<ChangeStamp>;

    /// Makes deleted rows' old versions unrecoverable from the store's own
    /// files as far as the engine allows, waiting if it must; `Ok(true)`
    /// from [`Backend::try_erase`] when nothing of them remains.
    fn erase(&self);
    /// [`Backend::erase`] without waiting: `Ok(false)` when it could not
    /// finish now.
    fn try_erase(&self) -> Result<bool>;

    /// Where the rows live, for messages: a file path, or a connection
    /// with no password in it.
    fn describe(&self) -> String;
}
