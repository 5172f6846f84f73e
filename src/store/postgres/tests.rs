//! Tests of the PostgreSQL row store against a real throw-away cluster
//! (tests/common/pg.rs; skipped when PostgreSQL is not installed, except
//! under CI=true). The fork test is in tests/pg_backend.rs: fork() needs
//! unsafe, which this crate forbids.

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::conn::{check_schema, redact_url, split_url_for_tests};
use super::{PgBackend, PgTarget};
use crate::error::{Error, cause};
use crate::store::backend::{Backend, TxKind};
use crate::store::rows::{Tx, Val};
use crate::store::schema::{TxError, TxResult};
use crate::vals;

#[path = "../../../tests/common/pg.rs"]
mod pg;

/// Opens and makes one round trip: the module opens lazily (a host may
/// start while the database is down), so a refusal shows at first use.
fn open_now(t: &PgTarget) -> crate::error::Result<PgBackend> {
    let b = PgBackend::open(t)?;
    b.run(TxKind::Read, &mut |_| Ok(()))?;
    Ok(b)
}

/// A server that cannot be reached when the token opens fails no open:
/// the first call answers DEVICE_ERROR with the network's words, and the
/// schema is created by the first connection that succeeds.
#[test]
fn an_unreachable_server_fails_the_first_call_not_the_open() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let closed = PgTarget {
        url: format!(
            "postgresql://{}@localhost:{port}/{}?sslmode=verify-full&sslrootcert={}",
            c.role,
            c.db,
            c.ca_file().display()
        ),
        ..target(c, &pg::fresh_schema())
    };
    let b = PgBackend::open(&closed).expect("opens without the server");
    cause::clear();
    assert_eq!(
        b.run(TxKind::Read, &mut |_| Ok(())).err(),
        Some(Error::DeviceError)
    );
    let why = cause::take().unwrap_or_default();
    assert!(why.contains("Connection refused"), "{why}");
    assert_eq!(b.stamp(), None, "nothing cached without a listener");
}

fn target(c: &pg::Cluster, schema: &str) -> PgTarget {
    PgTarget {
        url: c.url(),
        password: Some(Zeroizing::new(c.password.clone())),
        schema: schema.to_string(),
        offline_grace: Duration::from_secs(30),
    }
}

fn open(c: &pg::Cluster, schema: &str) -> PgBackend {
    opened(PgBackend::open(&target(c, schema)))
}

/// The backend, or a panic with the error's cause.
fn opened(r: crate::error::Result<PgBackend>) -> PgBackend {
    r.unwrap_or_else(|e| panic!("open: {e:?}: {:?}", cause::take()))
}

fn write(b: &PgBackend, f: impl Fn(&dyn Tx) -> TxResult<()>) -> crate::error::Result<()> {
    b.run(TxKind::Write, &mut |tx| f(tx))
}

fn query_int(b: &PgBackend, sql: &str) -> i64 {
    let mut out = 0;
    b.run(TxKind::Read, &mut |tx| {
        out = tx
            .query_opt(sql, &[])?
            .ok_or(TxError::Ck(Error::DeviceError))?
            .get(0)?;
        Ok(())
    })
    .expect("read");
    out
}

/// Waits up to `limit` for `cond`.
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

const LABEL: [u8; 32] = [b' '; 32];
const SERIAL: [u8; 16] = [b'0'; 16];

#[test]
fn run_commits_rolls_back_and_keeps_the_schema_rules() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let schema = pg::fresh_schema();
    let b = open(c, &schema);
    // Opening again finds the tables and their version.
    drop(open(c, &schema));

    write(&b, |tx| {
        tx.exec(
            "INSERT INTO token (id, label, serial, epoch) VALUES (1, ?1, ?2, ?3)",
            vals![&LABEL, &SERIAL, 7i64],
        )?;
        tx.exec(
            "INSERT INTO object (id, generation, class, private, lookup_label, lookup_id, public, sealed)
             VALUES (?1, 1, 3, ?2, ?3, NULL, ?4, ?5)",
            vals![5i64, true, vec![1u8, 2], vec![0u8; 3], vec![9u8; 40]],
        )?;
        Ok(())
    })
    .expect("commit");

    // Values come back as written, by column type.
    let mut row = None;
    b.run(TxKind::Read, &mut |tx| {
        row = tx.query_opt(
            "SELECT id, private, lookup_label, lookup_id, sealed, 'x'::text FROM object WHERE id = ?1",
            vals![5i64],
        )?;
        Ok(())
    })
    .expect("read");
    let row = row.expect("the row");
    assert_eq!(
        row.0,
        vec![
            Val::Int(5),
            Val::Int(1),
            Val::Blob(vec![1, 2]),
            Val::Null,
            Val::Blob(vec![9; 40]),
            Val::Text("x".into())
        ]
    );

    // A body's error rolls everything back.
    let err = write(&b, |tx| {
        tx.exec("UPDATE token SET epoch = 8 WHERE id = 1", &[])?;
        tx.exec("DELETE FROM object", &[])?;
        Err(TxError::Ck(Error::GeneralError))
    });
    assert_eq!(err, Err(Error::GeneralError));
    assert_eq!(query_int(&b, "SELECT epoch FROM token"), 7);
    assert_eq!(query_int(&b, "SELECT count(*) FROM object"), 1);

    // A statement the server refuses: DEVICE_ERROR with its message, and
    // the connection is usable afterwards.
    cause::clear();
    let err = write(&b, |tx| {
        tx.exec("UPDATE token SET so_failures = -1 WHERE id = 1", &[])?;
        Ok(())
    });
    assert_eq!(err, Err(Error::DeviceError));
    let why = cause::take().unwrap_or_default();
    assert!(why.contains("check constraint"), "{why}");
    assert_eq!(query_int(&b, "SELECT so_failures FROM token"), 0);

    // The audit trail is append-only; pin_attempt ids are never reused;
    // deleting the token cascades.
    write(&b, |tx| {
        tx.exec(
            "INSERT INTO audit (seq, time, event, object, body, hash, mac)
             VALUES (1, 0, 'e', NULL, ?1, ?2, NULL)",
            vals![vec![1u8], [0u8; 32]],
        )?;
        Ok(())
    })
    .expect("audit insert");
    for sql in [
        "UPDATE audit SET time = 1",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        cause::clear();
        assert_eq!(
            write(&b, |tx| tx.exec(sql, &[]).map(drop)),
            Err(Error::DeviceError),
            "{sql}"
        );
        let why = cause::take().unwrap_or_default();
        assert!(why.contains("append-only"), "{sql}: {why}");
    }
    let attempt = |b: &PgBackend| {
        let mut id = 0;
        b.run(TxKind::Write, &mut |tx| {
            id = tx
                .query_opt(
                    "INSERT INTO pin_attempt (role, token, pid, started, host, expires)
                     VALUES (1, 1, ?1, NULL, ?2, 0) RETURNING id",
                    vals![42i64, "host"],
                )?
                .ok_or(TxError::Ck(Error::DeviceError))?
                .get(0)?;
            tx.exec("DELETE FROM pin_attempt WHERE id = ?1", vals![id])?;
            Ok(())
        })
        .expect("attempt");
        id
    };
    let first = attempt(&b);
    assert!(attempt(&b) > first);
    write(&b, |tx| tx.exec("DELETE FROM token", &[]).map(drop)).expect("delete token");
    assert_eq!(query_int(&b, "SELECT count(*) FROM pin_attempt"), 0);
    assert_eq!(query_int(&b, "SELECT count(*) FROM audit"), 1);
    assert!(b.try_erase().expect("erase"));
}

/// Values go to whatever type the server inferred for the placeholder,
/// and come back by column type; a value that does not fit is refused.
#[test]
fn values_take_the_inferred_parameter_types() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let b = open(c, &pg::fresh_schema());
    write(&b, |tx| {
        tx.exec(
            "CREATE TABLE v (a INT4, b INT2, c BOOLEAN, d VARCHAR(9), e TEXT, f BYTEA, g INT8)",
            &[],
        )?;
        tx.exec(
            "INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7), (NULL, NULL, ?8, NULL, NULL, NULL, ?9)",
            vals![-7i64, 300i64, true, "vc", "t", vec![0u8, 255], i64::MIN, Val::Null, Val::Null],
        )?;
        Ok(())
    })
    .expect("insert");
    let mut rows = Vec::new();
    b.run(TxKind::Read, &mut |tx| {
        rows = tx.query("SELECT * FROM v ORDER BY g NULLS LAST", &[])?;
        Ok(())
    })
    .expect("read");
    let got: Vec<Vec<Val>> = rows.into_iter().map(|r| r.0).collect();
    assert_eq!(
        got,
        vec![
            vec![
                Val::Int(-7),
                Val::Int(300),
                Val::Int(1),
                Val::Text("vc".into()),
                Val::Text("t".into()),
                Val::Blob(vec![0, 255]),
                Val::Int(i64::MIN)
            ],
            vec![Val::Null; 7],
        ]
    );
    for (sql, v) in [
        ("INSERT INTO v (b) VALUES (?1)", Val::Int(40_000)),
        ("INSERT INTO v (a) VALUES (?1)", Val::Text("1".into())),
        ("INSERT INTO v (f) VALUES (?1)", Val::Int(1)),
        ("INSERT INTO v (e) VALUES (?1)", Val::Blob(vec![1])),
    ] {
        cause::clear();
        let r = write(&b, |tx| tx.exec(sql, std::slice::from_ref(&v)).map(drop));
        assert_eq!(r, Err(Error::DeviceError), "{sql} {v:?}");
        assert!(cause::take().is_some());
    }
}

/// A body that panics leaves its transaction open on the connection; the
/// next call must not run (and commit) inside it.
#[test]
fn a_panicking_body_commits_nothing() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let b = open(c, &pg::fresh_schema());
    write(&b, |tx| {
        tx.exec("CREATE TABLE p (id BIGINT)", &[]).map(drop)
    })
    .expect("table");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = write(&b, |tx| {
            tx.exec("INSERT INTO p VALUES (1)", &[])?;
            panic!("a body's bug");
        });
    }));
    assert!(panicked.is_err());
    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).expect("the next write");
    assert_eq!(query_int(&b, "SELECT count(*) FROM p"), 0);
}

#[test]
fn writers_on_four_hosts_are_serialized() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let schema = pg::fresh_schema();
    let first = open(c, &schema);
    write(&first, |tx| {
        tx.exec(
            "CREATE TABLE n (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
            &[],
        )?;
        tx.exec("INSERT INTO n VALUES (1, 0)", &[])?;
        Ok(())
    })
    .expect("scratch table");
    const ROUNDS: i64 = 15;
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let b = open(c, &schema);
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let kind = if i % 2 == 0 {
                        TxKind::Write
                    } else {
                        TxKind::Relaxed
                    };
                    b.run(kind, &mut |tx| {
                        let v: i64 = tx
                            .query_opt("SELECT v FROM n WHERE id = 1", &[])?
                            .ok_or(TxError::Ck(Error::DeviceError))?
                            .get(0)?;
                        // Widen the read-modify-write window.
                        std::thread::sleep(Duration::from_millis(2));
                        tx.exec("UPDATE n SET v = ?1 WHERE id = 1", vals![v + 1])?;
                        Ok(())
                    })
                    .expect("increment");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        query_int(&first, "SELECT v FROM n WHERE id = 1"),
        4 * ROUNDS
    );
}

#[test]
fn stamp_moves_after_another_hosts_write_not_after_relaxed() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let schema = pg::fresh_schema();
    let a = open(c, &schema);
    let b = open(c, &schema);
    assert!(
        wait_for(Duration::from_secs(10), || a.stamp().is_some()),
        "listener up"
    );
    let s0 = a.stamp();
    let c0 = a.change_stamp().expect("change stamp");

    b.run(TxKind::Relaxed, &mut |tx| {
        tx.exec("SELECT 1", &[]).map(drop)
    })
    .expect("relaxed");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(a.stamp(), s0, "a Relaxed commit does not move the stamp");
    assert_eq!(a.change_stamp().expect("change stamp"), c0);

    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).expect("write");
    assert!(
        wait_for(Duration::from_secs(5), || a.stamp() != s0),
        "another backend's Write moves the stamp"
    );
    assert!(a.stamp().is_some());
    assert_ne!(a.change_stamp().expect("change stamp"), c0);

    // A backend's own Write moves its stamp at once.
    let s1 = b.stamp();
    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).expect("write");
    assert_ne!(b.stamp(), s1);
}

#[test]
fn server_down_fails_with_a_cause_keeps_the_stamp_for_the_grace_then_recovers() {
    let Some(c) = pg::cluster() else { return };
    let _only = c.exclusive();
    let schema = pg::fresh_schema();
    let grace = Duration::from_secs(4);
    let b = PgBackend::open(&PgTarget {
        offline_grace: grace,
        ..target(c, &schema)
    })
    .expect("open");
    assert!(
        wait_for(Duration::from_secs(10), || b.stamp().is_some()),
        "listener up"
    );
    let s = b.stamp();

    let stopped = Instant::now();
    let down = c.stop();
    cause::clear();
    let err = write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop));
    assert_eq!(err, Err(Error::DeviceError));
    let why = cause::take().unwrap_or_default();
    assert!(!why.is_empty());
    assert!(!why.contains(&c.password), "{why}");
    // The failed Write never reached its COMMIT (the connection was cut
    // at its BEGIN): nothing landed, so the stamp keeps its value within
    // the grace, and keys cached under it keep working.
    std::thread::sleep(Duration::from_millis(300));
    if stopped.elapsed() < grace - Duration::from_millis(500) {
        assert_eq!(b.stamp(), s, "within the grace, after a failed write");
    }
    assert!(s.is_some());
    assert!(
        wait_for(grace + Duration::from_secs(3), || b.stamp().is_none()),
        "None after the grace"
    );
    assert!(stopped.elapsed() >= grace);
    // Still down: still failing, each call on its own.
    assert_eq!(
        b.run(TxKind::Read, &mut |_| Ok(())),
        Err(Error::DeviceError)
    );

    down.start();
    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).expect("the next call reconnects");
    assert!(
        wait_for(Duration::from_secs(10), || b.stamp().is_some()),
        "the listener reconnects"
    );
    assert_ne!(b.stamp(), s, "missed notifications move the stamp");
}

/// A connection the server closed while idle (a restart between two
/// calls) is replaced by the next call, which succeeds: no caller sees
/// DEVICE_ERROR for a server that is up again.
#[test]
fn a_connection_closed_while_idle_is_replaced_by_the_next_call() {
    let Some(c) = pg::cluster() else { return };
    let _only = c.exclusive();
    let b = open(c, &pg::fresh_schema());
    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).expect("write");
    assert_eq!(query_int(&b, "SELECT 7"), 7);
    // Stopped and started with no call in between: the kept connection
    // is dead, and nothing has noticed yet.
    c.stop().start();
    write(&b, |tx| tx.exec("SELECT 1", &[]).map(drop)).unwrap_or_else(|e| {
        panic!(
            "the first write after a restart: {e:?}: {:?}",
            cause::take()
        )
    });
    c.stop().start();
    assert_eq!(
        query_int(&b, "SELECT 8"),
        8,
        "the first read after a restart"
    );
}

#[test]
fn tls_verifies_the_server_certificate() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let schema = pg::fresh_schema();
    let tls = |host: &str, mode: &str, root: &std::path::Path| PgTarget {
        url: c.tls_url(host, mode, root),
        ..target(c, &schema)
    };
    let b = opened(open_now(&tls("localhost", "verify-full", &c.ca_file())));
    b.run(TxKind::Read, &mut |_| Ok(())).expect("read over TLS");
    open_now(&tls("127.0.0.1", "verify-full", &c.ca_file())).expect("IP SAN");
    open_now(&tls("localhost", "require", &c.ca_file())).expect("require");

    cause::clear();
    let err = open_now(&tls("localhost", "verify-full", &c.wrong_ca_file()));
    assert_eq!(
        err.err(),
        Some(Error::DeviceError),
        "a wrong root is refused"
    );
    let why = cause::take().unwrap_or_default();
    assert!(why.to_lowercase().contains("certificate"), "{why}");

    // 127.0.0.2 is the same server, but not a name its certificate has:
    // refused by verify-full, accepted by verify-ca (chain only).
    assert_eq!(
        open_now(&tls("127.0.0.2", "verify-full", &c.ca_file())).err(),
        Some(Error::DeviceError)
    );
    open_now(&tls("127.0.0.2", "verify-ca", &c.ca_file())).expect("verify-ca");
    assert_eq!(
        open_now(&tls("127.0.0.2", "verify-ca", &c.wrong_ca_file())).err(),
        Some(Error::DeviceError)
    );

    // No sslmode, no root file: verify-full against the system's roots,
    // which do not hold the throw-away CA.
    cause::clear();
    let default = PgTarget {
        url: format!("postgresql://{}@localhost:{}/{}", c.role, c.port, c.db),
        ..target(c, &schema)
    };
    assert_eq!(open_now(&default).err(), Some(Error::DeviceError));
    let why = cause::take().unwrap_or_default();
    assert!(
        why.contains("UnknownIssuer") || why.contains("no trusted root"),
        "{why}"
    );

    // No plaintext over TCP, and no downgradable modes.
    for mode in ["disable", "prefer", "allow"] {
        let t = PgTarget {
            url: format!(
                "postgresql://{}@localhost:{}/{}?sslmode={mode}",
                c.role, c.port, c.db
            ),
            ..target(c, &schema)
        };
        assert_eq!(open_now(&t).err(), Some(Error::DeviceError), "{mode}");
    }
}

#[test]
fn the_password_is_never_shown() {
    let shown_target = PgTarget {
        url: "postgresql://kw:url-secret@db.example:5433/tokens?sslmode=verify-full&password=q-secret&application_name=x".into(),
        password: Some(Zeroizing::new("field-secret".into())),
        schema: "tok".into(),
        offline_grace: Duration::from_secs(1),
    };
    let shown = format!("{shown_target:?}");
    for secret in ["url-secret", "q-secret", "field-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("db.example:5433/tokens"), "{shown}");
    assert_eq!(
        redact_url("postgres://u:p@h/d?password=x&a=b"),
        "postgres://u@h/d?a=b"
    );

    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let b = open(c, &pg::fresh_schema());
    let (described, debug) = (b.describe(), format!("{b:?}"));
    for text in [&described, &debug] {
        assert!(!text.contains(&c.password), "{text}");
        assert!(text.contains(&c.db), "{text}");
    }
    // A wrong password: refused, and the message does not echo it.
    cause::clear();
    let bad = PgTarget {
        password: Some(Zeroizing::new("wrong-pw-4711".into())),
        ..target(c, &pg::fresh_schema())
    };
    assert_eq!(open_now(&bad).err(), Some(Error::DeviceError));
    let why = cause::take().unwrap_or_default();
    assert!(why.contains("password authentication failed"), "{why}");
    assert!(!why.contains("wrong-pw-4711"), "{why}");
}

#[test]
fn urls_and_schema_names_are_checked() {
    let (rest, mode, root) =
        split_url_for_tests("postgresql://u@h/d?sslmode=verify-ca&sslrootcert=%2Fa%20b&x=1")
            .expect("split");
    assert_eq!(rest, "postgresql://u@h/d?x=1");
    assert_eq!(mode.as_deref(), Some("verify-ca"));
    assert_eq!(root.as_deref(), Some(std::path::Path::new("/a b")));
    assert!(split_url_for_tests("host=h dbname=d").is_err());
    for good in ["tok", "_t1", "a_b_9"] {
        assert!(check_schema(good).is_ok(), "{good}");
    }
    for bad in ["", "1a", "Tok", "a-b", "a\"b", "pg_x", &"a".repeat(64)] {
        assert!(check_schema(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_newer_store_version_is_not_recognized() {
    let Some(c) = pg::cluster() else { return };
    let _up = c.up();
    let schema = pg::fresh_schema();
    let b = open(c, &schema);
    write(&b, |tx| {
        tx.exec("UPDATE schema_version SET version = 99", &[])
            .map(drop)
    })
    .expect("bump version");
    assert_eq!(
        open_now(&target(c, &schema)).err(),
        Some(Error::TokenNotRecognized)
    );
}
