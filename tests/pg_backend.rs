//! The PostgreSQL row store across fork() (issue 14): a forked child of a
//! threaded parent — one of whose threads is inside a transaction, holding
//! the parent's connection, at the moment of the fork — runs transactions
//! on a connection of its own and gets its own change listener, and the
//! parent's connection and listener still work afterwards. (Here, not in
//! the core's unit tests: fork() needs unsafe, which the core forbids.)
//! Needs the `postgres` feature and a PostgreSQL installation
//! (tests/common/pg.rs; skipped without one, except under CI=true).

#![cfg(feature = "postgres")]

#[path = "common/pg.rs"]
mod pg;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keyward::error::Error;
use keyward::store::backend::{Backend, TxKind};
use keyward::store::postgres::{PgBackend, PgTarget};
use keyward::store::rows::Tx;
use keyward::store::schema::{TxError, TxResult};
use zeroize::Zeroizing;

fn counter(b: &PgBackend) -> Result<i64, Error> {
    row(b, 1)
}

fn row(b: &PgBackend, id: i64) -> Result<i64, Error> {
    let mut v = 0;
    b.run(TxKind::Read, &mut |tx| {
        v = tx
            .query_opt("SELECT v FROM n WHERE id = ?1", keyward::vals![id])?
            .ok_or(TxError::Ck(Error::DeviceError))?
            .get(0)?;
        Ok(())
    })?;
    Ok(v)
}

fn increment(tx: &dyn Tx) -> TxResult<()> {
    tx.exec("UPDATE n SET v = v + 1 WHERE id = 1", &[])?;
    Ok(())
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// What the child does; its exit status says which step failed.
fn child(b: &PgBackend) -> i32 {
    // The parent's listener thread does not exist here.
    if b.stamp().is_some() {
        return 2;
    }
    // (The parent's thread keeps incrementing row 1: the child writes a
    // row of its own.)
    if counter(b).is_err() {
        return 3;
    }
    let insert = b.run(TxKind::Write, &mut |tx| {
        tx.exec("INSERT INTO n VALUES (2, 42)", &[])?;
        Ok(())
    });
    if insert.is_err() {
        return 4;
    }
    if row(b, 2) != Ok(42) {
        return 5;
    }
    // Its own listener comes up.
    if !wait_for(Duration::from_secs(10), || b.stamp().is_some()) {
        return 6;
    }
    0
}

extern "C" fn gate_prepare() {
    keyward::forkgate::prepare();
}

extern "C" fn gate_parent() {
    keyward::forkgate::parent();
}

extern "C" fn gate_child() {
    keyward::forkgate::child();
}

/// Registers the fork gate's handlers as `C_Initialize` does
/// (src/ffi/atfork.rs), and marks the gate armed.
fn arm_fork_gate() {
    // SAFETY: plain functions without arguments touching only atomics and
    // thread-locals, as in src/ffi/atfork.rs.
    let rc =
        unsafe { libc::pthread_atfork(Some(gate_prepare), Some(gate_parent), Some(gate_child)) };
    assert_eq!(rc, 0, "pthread_atfork");
    keyward::forkgate::arm();
}

/// Both ways a backend tells a forked child from its parent, one after
/// the other in this process (arming is for good): by the pid alone (no
/// atfork handlers: the CLI, this test's first half), then by the fork
/// generation the handlers move (the module after C_Initialize), which
/// `stamp()` reads instead of calling getpid().
#[test]
fn a_forked_child_uses_its_own_connection_and_the_parents_keeps_working() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    assert!(!keyward::forkgate::armed());
    fork_while_a_thread_writes(c);
    arm_fork_gate();
    fork_while_a_thread_writes(c);
}

fn fork_while_a_thread_writes(c: &pg::Cluster) {
    let b = Arc::new(
        PgBackend::open(&PgTarget {
            url: c.url(),
            password: Some(Zeroizing::new(c.password.clone())),
            schema: pg::fresh_schema(),
            offline_grace: Duration::from_secs(30),
        })
        .expect("open"),
    );
    b.run(TxKind::Write, &mut |tx| {
        tx.exec(
            "CREATE TABLE n (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
            &[],
        )?;
        tx.exec("INSERT INTO n VALUES (1, 0)", &[])?;
        Ok(())
    })
    .expect("scratch table");
    assert!(wait_for(Duration::from_secs(10), || b.stamp().is_some()));

    // A thread holding the parent's connection (inside a transaction, in
    // a network wait) while the main thread forks.
    let busy = Arc::new(AtomicBool::new(true));
    let inside = Arc::new(AtomicBool::new(false));
    let worker = {
        let (b, busy, inside) = (b.clone(), busy.clone(), inside.clone());
        std::thread::spawn(move || {
            while busy.load(Ordering::SeqCst) {
                b.run(TxKind::Write, &mut |tx| {
                    inside.store(true, Ordering::SeqCst);
                    tx.exec("SELECT pg_sleep(0.2)", &[])?;
                    increment(tx)
                })
                .unwrap_or_else(|e| {
                    panic!("parent's write: {e:?}: {:?}", keyward::error::cause::take())
                });
            }
        })
    };
    assert!(wait_for(Duration::from_secs(5), || inside.load(Ordering::SeqCst)));
    std::thread::sleep(Duration::from_millis(50));

    // SAFETY: the child only runs `child` (its own connection, threads it
    // starts itself) and leaves with _exit, running no destructor of the
    // parent's state.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child(&b))).unwrap_or(101);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }

    let mut status = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // SAFETY: waits for our own child; `status` is a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, hung.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung (on a lock or connection copied from the parent?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(libc::WIFEXITED(status), "child status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child's failing step");

    busy.store(false, Ordering::SeqCst);
    worker.join().expect("worker");
    // The parent's connection and listener after the child is gone: the
    // child's write is visible, and a write of the parent's still commits.
    assert_eq!(row(&b, 2), Ok(42), "the child's row");
    let before = counter(&b).expect("parent read");
    let stamp = b.stamp();
    assert!(stamp.is_some());
    b.run(TxKind::Write, &mut |tx| increment(tx))
        .expect("parent write");
    assert_eq!(counter(&b), Ok(before + 1));
    assert_ne!(b.stamp(), stamp);
}
