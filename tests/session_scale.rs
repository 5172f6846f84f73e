//! Sessions stay O(1) however many sessions and objects a process has had
//! (issue 11): closing a session visits only its own session objects, the
//! handle table's memory follows the live objects rather than history, and
//! handles are never reused. Work is counted (the handle table's visit
//! counter and map sizes), never timed: the result does not depend on how
//! loaded the machine is.

use cryptoki_sys::*;
use keyward::api::{Attr, Library};
use keyward::config::Config;

const SO_PIN: &[u8] = b"so-pin-1";
/// Live session objects held by one long-lived session during the churn.
const LIVE_OBJECTS: usize = 10_000;
/// Open + close pairs of the churn.
const PAIRS: usize = 200_000;
/// Churn sessions that each create one session object before closing.
const OWNING_PAIRS: usize = 1_000;

fn library(dir: &std::path::Path) -> Library {
    let config =
        Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).expect("config");
    let lib = Library::new(config).expect("library");
    let mut label = [b' '; 32];
    label[..5].copy_from_slice(b"scale");
    lib.init_token(0, SO_PIN, &label).expect("init token");
    lib
}

fn open(lib: &Library) -> CK_SESSION_HANDLE {
    lib.open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .expect("open session")
}

/// A public CKO_DATA session object: no login needed.
fn data_object(lib: &Library, s: CK_SESSION_HANDLE, n: usize) -> CK_OBJECT_HANDLE {
    let template = [
        Attr {
            ty: CKA_CLASS,
            value: CKO_DATA.to_ne_bytes().to_vec(),
        },
        Attr {
            ty: CKA_TOKEN,
            value: vec![0],
        },
        Attr {
            ty: CKA_VALUE,
            value: n.to_le_bytes().to_vec(),
        },
    ];
    lib.create_object(s, &template).expect("create data object")
}

/// Session objects a search from `s` finds.
fn found(lib: &Library, s: CK_SESSION_HANDLE) -> Vec<CK_OBJECT_HANDLE> {
    let class = [Attr {
        ty: CKA_CLASS,
        value: CKO_DATA.to_ne_bytes().to_vec(),
    }];
    lib.find_objects_init(s, &class).expect("find init");
    let all = lib.find_objects(s, usize::MAX >> 1).expect("find");
    lib.find_objects_final(s).expect("find final");
    all
}

#[test]
fn close_session_work_does_not_depend_on_other_objects_or_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = library(dir.path());
    let holder = open(&lib);
    let mut live: Vec<CK_OBJECT_HANDLE> = (0..LIVE_OBJECTS)
        .map(|n| data_object(&lib, holder, n))
        .collect();
    let before = lib.handle_stats().expect("stats");
    assert!(before.handles >= LIVE_OBJECTS);

    // Pairs without objects: a close visits nothing. Before issue 11 each
    // close walked the whole handle table (≥ 10,000 entries per close).
    let mut last = 0;
    for _ in 0..PAIRS {
        let s = open(&lib);
        assert!(s > last, "session handle {s} reused or not increasing");
        last = s;
        lib.close_session(s).expect("close session");
    }
    let after = lib.handle_stats().expect("stats");
    assert_eq!(after.visited, before.visited, "closes walked other objects");
    assert_eq!(after.handles, before.handles);
    assert!(after.capacity <= 4 * after.handles + 128, "{after:?}");

    // Pairs that each own one object: each close visits exactly that one.
    let mut owned = Vec::with_capacity(OWNING_PAIRS);
    for n in 0..OWNING_PAIRS {
        let s = open(&lib);
        let o = data_object(&lib, s, n);
        assert!(o > last, "object handle {o} reused");
        last = o;
        owned.push(o);
        lib.close_session(s).expect("close session");
    }
    let churned = lib.handle_stats().expect("stats");
    assert_eq!(churned.visited - after.visited, OWNING_PAIRS as u64);
    assert_eq!(churned.handles, before.handles);
    // Only the holder (and the profile objects, under session 0) own
    // objects: the per-session index does not keep closed sessions.
    assert_eq!(churned.owning_sessions, before.owning_sessions);
    assert!(churned.session_capacity <= 64, "{churned:?}");
    assert!(churned.capacity <= 4 * churned.handles + 128, "{churned:?}");

    // The closed sessions' objects are gone, the holder's all remain.
    let mut seen = found(&lib, holder);
    seen.sort_unstable();
    live.sort_unstable();
    assert_eq!(seen, live);
    for o in owned {
        assert!(!seen.contains(&o));
    }
}

#[test]
fn memory_follows_live_objects_not_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = library(dir.path());
    let base = lib.handle_stats().expect("stats");
    // A burst of objects on one session, then the session closes: the
    // tables give the memory back instead of pinning the peak.
    let s = open(&lib);
    for n in 0..LIVE_OBJECTS {
        data_object(&lib, s, n);
    }
    let peak = lib.handle_stats().expect("stats");
    assert!(peak.capacity >= LIVE_OBJECTS);
    lib.close_session(s).expect("close");
    let after = lib.handle_stats().expect("stats");
    assert_eq!(after.handles, base.handles);
    assert_eq!(after.visited - base.visited, LIVE_OBJECTS as u64);
    assert!(after.capacity <= 128, "{after:?}");

    // close_all_sessions drops every session's objects, each visited once.
    let a = open(&lib);
    let b = open(&lib);
    data_object(&lib, a, 1);
    data_object(&lib, b, 2);
    data_object(&lib, b, 3);
    let mid = lib.handle_stats().expect("stats");
    lib.close_all_sessions(0).expect("close all");
    let end = lib.handle_stats().expect("stats");
    assert_eq!(end.visited - mid.visited, 3);
    assert_eq!(end.handles, base.handles);
    assert_eq!(end.owning_sessions, base.owning_sessions);
}
