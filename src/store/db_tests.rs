//! Unit tests of `TokenDb` (src/store/sqlite.rs): rows, PINs, the
//! change stamp and the connection rules.

use super::*;

pub(super) fn ev() -> AuditEntry {
    AuditEntry {
        time_ms: 0,
        event: "test".into(),
        object: None,
        body: b"{}".to_vec(),
        key: None,
    }
}
use std::sync::Arc;

fn pin(tag: u8) -> PinRecord {
    PinRecord {
        salt: vec![tag; 16],
        iterations: 1000,
        wrapped: vec![tag; 61],
    }
}

fn meta(epoch: i64) -> TokenMeta {
    TokenMeta {
        label: [b' '; 32],
        serial: *b"0123456789abcdef",
        so_pin: Some(pin(1)),
        user_pin: None,
        so_failures: 0,
        user_failures: 0,
        epoch,
    }
}

/// The stamp contract `Token::key` relies on, across two connections
/// (two processes in effect): every commit that can change an object
/// moves it, reads and use counts do not, and a writer that died
/// between marking and unmarking leaves nothing trusted until the next
/// write.
#[test]
fn stamp_moves_with_commits_and_distrusts_a_dead_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite");
    let a = TokenDb::open(&path).unwrap();
    let b = TokenDb::open(&path).unwrap();
    b.initialize(&meta(1), b"", &ev()).unwrap();
    let s0 = a.stamp().unwrap();
    b.insert_object(&row(1, 3, true, b"l", b"i"), &ev())
        .unwrap();
    let s1 = a.stamp().unwrap();
    assert!(s1 > s0);
    assert!(a.object(1).unwrap().is_some());
    b.add_usage(&[(1, 1, 1)]).unwrap();
    assert_eq!(a.stamp(), Some(s1), "reads and use counts move nothing");
    // A writer of another handle, killed between its marks.
    let marker = crate::store::sqlite_backend::SqliteBackend::open(&path).unwrap();
    let dead = marker.changes.as_ref().unwrap().begin_write();
    assert_eq!(a.stamp(), None, "a marked write is never trusted");
    b.insert_object(&row(2, 3, true, b"m", b"j"), &ev())
        .unwrap();
    let s2 = a.stamp().unwrap();
    assert!(s2 > dead, "the next writer leaves it even and higher");
}

pub(super) fn row(id: i64, class: u64, private: bool, label: &[u8], ckid: &[u8]) -> ObjectRow {
    ObjectRow {
        id,
        generation: 1,
        class,
        private,
        lookup_label: Some(label.to_vec()),
        lookup_id: Some(ckid.to_vec()),
        public: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
        sealed: vec![0xEE; 40],
    }
}

pub(super) fn fresh() -> (tempfile::TempDir, TokenDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = TokenDb::open(&dir.path().join("sub/token.db")).unwrap();
    db.initialize(&meta(7), b"", &ev()).unwrap();
    (dir, db)
}

pub(super) fn ids(rows: &[ObjectRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[test]
fn open_creates_uninitialized_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/token.db");
    let db = TokenDb::open(&path).unwrap();
    assert_eq!(db.meta().unwrap(), None);
    assert_eq!(
        db.record_failure(Role::User),
        Err(Error::TokenNotRecognized)
    );
    assert_eq!(
        db.set_pin_record(Role::User, &pin(2), &ev()),
        Err(Error::TokenNotRecognized)
    );
    drop(db);
    // Reopening an existing file checks rather than recreates.
    let db = TokenDb::open(&path).unwrap();
    assert_eq!(db.meta().unwrap(), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
    }
}

#[test]
fn initialize_and_pins() {
    let (_dir, db) = fresh();
    assert_eq!(db.meta().unwrap(), Some(meta(7)));
    db.insert_object(&row(5, 3, false, b"l", b"i"), &ev())
        .unwrap();

    db.set_pin_record(Role::User, &pin(3), &ev()).unwrap();
    let m = db.meta().unwrap().unwrap();
    assert_eq!(m.user_pin, Some(pin(3)));
    assert_eq!(m.so_pin, Some(pin(1)));

    // Re-initialization wipes objects and replaces PINs and epoch.
    let mut again = meta(8);
    again.so_pin = Some(pin(4));
    db.initialize(&again, b"", &ev()).unwrap();
    assert_eq!(db.meta().unwrap(), Some(again));
    assert!(db.object_ids().unwrap().is_empty());
}

#[test]
fn failure_counter() {
    let (_dir, db) = fresh();
    assert_eq!(db.record_failure(Role::User).unwrap(), 1);
    assert_eq!(db.record_failure(Role::User).unwrap(), 2);
    assert_eq!(db.record_failure(Role::So).unwrap(), 1);
    let m = db.meta().unwrap().unwrap();
    assert_eq!((m.so_failures, m.user_failures), (1, 2));
    db.reset_failures(Role::User, &ev()).unwrap();
    assert_eq!(db.meta().unwrap().unwrap().user_failures, 0);
    db.set_pin_record(Role::So, &pin(9), &ev()).unwrap();
    assert_eq!(db.meta().unwrap().unwrap().so_failures, 0);
}

#[test]
fn insert_find_update_delete() {
    let (_dir, db) = fresh();
    db.insert_object(&row(30, 3, true, b"tagA", b"tagI"), &ev())
        .unwrap();
    db.insert_object(&row(10, 3, false, b"A", b"I1"), &ev())
        .unwrap();
    db.insert_object(&row(20, 2, false, b"B", b"I1"), &ev())
        .unwrap();
    let vendor = row(-4, 0x8000_0000_0000_0001, false, b"V", b"V");
    db.insert_object(&vendor, &ev()).unwrap();
    assert_eq!(
        db.insert_object(&row(10, 3, false, b"x", b"y"), &ev()),
        Err(Error::DeviceError)
    );
    assert_eq!(db.object_ids().unwrap(), vec![-4, 10, 20, 30]);
    assert_eq!(db.object(-4).unwrap(), Some(vendor));
    assert_eq!(db.object(99).unwrap(), None);

    let all = RowFilter {
        include_private: true,
        ..RowFilter::default()
    };
    assert_eq!(ids(&db.find(&all).unwrap()), vec![-4, 10, 20, 30]);
    assert_eq!(
        ids(&db.find(&RowFilter::default()).unwrap()),
        vec![-4, 10, 20]
    );
    let by_class = RowFilter {
        class: Some(3),
        ..all.clone()
    };
    assert_eq!(ids(&db.find(&by_class).unwrap()), vec![10, 30]);
    let by_vendor_class = RowFilter {
        class: Some(0x8000_0000_0000_0001),
        ..all.clone()
    };
    assert_eq!(ids(&db.find(&by_vendor_class).unwrap()), vec![-4]);
    let by_label = RowFilter {
        label: Some(vec![b"A".to_vec(), b"tagA".to_vec()]),
        ..all.clone()
    };
    assert_eq!(ids(&db.find(&by_label).unwrap()), vec![10, 30]);
    let by_id = RowFilter {
        id: Some(vec![b"I1".to_vec()]),
        class: Some(2),
        ..all.clone()
    };
    assert_eq!(ids(&db.find(&by_id).unwrap()), vec![20]);
    let none = RowFilter {
        label: Some(Vec::new()),
        ..all.clone()
    };
    assert!(db.find(&none).unwrap().is_empty());

    let mut changed = row(10, 4, true, b"tagB", b"tagJ");
    changed.generation = 77; // ignored
    changed.sealed = vec![1, 2, 3];
    assert_eq!(db.update_object(&changed, &ev()).unwrap(), 2);
    assert_eq!(db.update_object(&changed, &ev()).unwrap(), 3);
    let stored = db.object(10).unwrap().unwrap();
    assert_eq!(stored.generation, 3);
    assert_eq!((stored.class, stored.private), (4, true));
    assert_eq!(stored.sealed, vec![1, 2, 3]);
    assert_eq!(
        db.update_object(&row(11, 3, false, b"", b""), &ev()),
        Err(Error::ObjectHandleInvalid)
    );

    assert!(db.delete_object(10, &ev()).unwrap());
    assert!(!db.delete_object(10, &ev()).unwrap());
    assert_eq!(db.object_ids().unwrap(), vec![-4, 20, 30]);
}

#[test]
fn null_lookup_columns() {
    let (_dir, db) = fresh();
    let mut r = row(1, 3, false, b"", b"");
    r.lookup_label = None;
    r.lookup_id = None;
    db.insert_object(&r, &ev()).unwrap();
    assert_eq!(db.object(1).unwrap(), Some(r));
    let by_label = RowFilter {
        label: Some(vec![Vec::new()]),
        ..RowFilter::default()
    };
    assert!(db.find(&by_label).unwrap().is_empty());
}

#[test]
fn two_handles_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.db");
    let a = Arc::new(TokenDb::open(&path).unwrap());
    let b = Arc::new(TokenDb::open(&path).unwrap());
    a.initialize(&meta(1), b"", &ev()).unwrap();
    let threads: Vec<_> = [(a.clone(), 0i64), (b.clone(), 1000), (a.clone(), 2000)]
        .into_iter()
        .map(|(db, base)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    db.insert_object(&row(base + i, 3, false, b"l", b"i"), &ev())
                        .unwrap();
                    db.record_failure(Role::User).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(a.object_ids().unwrap().len(), 150);
    assert_eq!(b.object_ids().unwrap().len(), 150);
    assert_eq!(b.meta().unwrap().unwrap().user_failures, 150);
    // A write through one handle is visible through the other.
    assert!(b.delete_object(0, &ev()).unwrap());
    assert_eq!(a.object(0).unwrap(), None);
}

#[test]
fn poisoned_mutex_is_general_error() {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        crate::store::sqlite_backend::SqliteBackend::open(&dir.path().join("t.db")).unwrap();
    let poison = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = backend.conn.lock().unwrap();
        panic!("poison");
    }));
    assert!(poison.is_err());
    let db = TokenDb::with_backend(Box::new(backend));
    assert_eq!(db.meta().unwrap_err(), Error::GeneralError);
    assert_eq!(db.object_ids().unwrap_err(), Error::GeneralError);
}

#[test]
fn roles() {
    assert_eq!(Role::from_user_type(CKU_SO).unwrap(), Role::So);
    assert_eq!(Role::from_user_type(CKU_USER).unwrap(), Role::User);
    assert_eq!(Role::from_user_type(2), Err(Error::UserTypeInvalid));
    assert_eq!((Role::So.byte(), Role::User.byte()), (0, 1));
}
