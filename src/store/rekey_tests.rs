//! Tests of `rekey.rs`: batched rotation, key steps and their bound,
//! damaged rows, and crashes between and inside batches (re-executing this
//! test binary) followed by a resume.
use super::*;
use crate::store::codec::{self, AttrMap};
use crate::store::seal::{
    StepDirection, unwrap_master_key, unwrap_step, wrap_master_key, wrap_step,
};
use crate::store::sqlite::TokenMeta;
use cryptoki_sys::{
    CKA_CLASS, CKA_ID, CKA_LABEL, CKA_PRIVATE, CKA_TOKEN, CKA_VALUE, CKO_DATA, CKO_SECRET_KEY,
};
use std::path::Path;

const ITER: u32 = 1000;
const SO_PIN: &[u8] = b"so-pin";
const USER_PIN: &[u8] = b"user-pin";
const EPOCH: i64 = 11;
/// Set in the child process of the crash test: the token path.
const CHILD_VAR: &str = "KEYWARD_REKEY_CRASH_CHILD";

fn attrs(pairs: &[(u64, &[u8])]) -> AttrMap {
    pairs.iter().map(|(t, v)| (*t, v.to_vec())).collect()
}

/// A row built the way the token layer's `to_row` builds one, sealed
/// in the version 1 format (as before format 4).
fn make_row(mk: &MasterKey, id: i64, private: bool, label: &[u8], ckid: &[u8]) -> ObjectRow {
    let flag = [u8::from(private)];
    let class = CKO_SECRET_KEY.to_le_bytes();
    let base = [
        (CKA_CLASS, &class[..]),
        (CKA_TOKEN, &[1u8][..]),
        (CKA_PRIVATE, &flag[..]),
    ];
    let named = [(CKA_LABEL, label), (CKA_ID, ckid)];
    let value = [(CKA_VALUE, &b"0123456789abcdef"[..])];
    let (clear, secret) = if private {
        (attrs(&base), attrs(&[&named[..], &value[..]].concat()))
    } else {
        (attrs(&[&base[..], &named[..]].concat()), attrs(&value))
    };
    let public = codec::encode_attrs(&clear);
    let digest = seal::public_digest(&public);
    let plain = codec::encode_attrs(&secret);
    let sealed = seal::seal_object(mk, id, CKO_SECRET_KEY, &digest, &plain).unwrap();
    let lookup = |ty, v: &[u8]| {
        if private {
            seal::lookup_tag(mk, ty, v)
        } else {
            v.to_vec()
        }
    };
    ObjectRow {
        id,
        generation: 1,
        class: CKO_SECRET_KEY,
        private,
        lookup_label: Some(lookup(CKA_LABEL, label)),
        lookup_id: Some(lookup(CKA_ID, ckid)),
        public,
        sealed,
    }
}

/// A public data object stored without a login: no blob.
fn unsealed_row(id: i64) -> ObjectRow {
    let class = CKO_DATA.to_le_bytes();
    let clear = attrs(&[(CKA_CLASS, &class[..]), (CKA_LABEL, b"cert")]);
    ObjectRow {
        id,
        generation: 1,
        class: CKO_DATA,
        private: false,
        lookup_label: Some(b"cert".to_vec()),
        lookup_id: Some(Vec::new()),
        public: codec::encode_attrs(&clear),
        sealed: Vec::new(),
    }
}

/// A token at EPOCH with `n` sealed rows (ids 1..=n, odd ones private)
/// and one unsealed row (id 1000).
fn token(path: &Path, n: i64) -> (TokenDb, MasterKey) {
    let db = TokenDb::open(path).unwrap();
    let mk = MasterKey::generate().unwrap();
    db.initialize(
        &TokenMeta {
            label: [b'L'; 32],
            serial: [b'7'; 16],
            so_pin: Some(wrap_master_key(&mk, SO_PIN, 0, ITER).unwrap()),
            user_pin: Some(wrap_master_key(&mk, USER_PIN, 1, ITER).unwrap()),
            so_failures: 0,
            user_failures: 2,
            epoch: EPOCH,
        },
        b"",
        &crate::store::audit::test_entry(),
    )
    .unwrap();
    for id in 1..=n {
        let label = format!("key {id}");
        db.insert_object(
            &make_row(&mk, id, id % 2 == 1, label.as_bytes(), b"kid"),
            &crate::store::audit::test_entry(),
        )
        .unwrap();
    }
    db.insert_object(&unsealed_row(1000), &crate::store::audit::test_entry())
        .unwrap();
    (db, mk)
}

/// Begins a rotation from `old` at `old_epoch` to a fresh key at
/// `new_epoch`, without running it.
fn begin(db: &TokenDb, old: &MasterKey, old_epoch: i64, new_epoch: i64) -> Result<MasterKey> {
    let new = old.rotated()?;
    let so = wrap_master_key(&new, SO_PIN, 0, ITER)?;
    let user = wrap_master_key(&new, USER_PIN, 1, ITER)?;
    db.begin_rotation(&RotationStart {
        old_epoch,
        new_epoch,
        so_pin: &so,
        user_pin: Some(&user),
        next: Some(wrap_step(
            old,
            StepDirection::Next,
            old_epoch,
            new_epoch,
            &new,
        )?),
        previous: wrap_step(&new, StepDirection::Previous, new_epoch, old_epoch, old)?,
        audit_key: b"",
        quorum: None,
        record: &crate::store::audit::test_entry(),
    })?;
    Ok(new)
}

fn run(
    db: &TokenDb,
    old: &MasterKey,
    from: i64,
    new: &MasterKey,
    to: i64,
    batch: usize,
) -> Result<u64> {
    db.run_rotation(
        RotationKeys {
            old,
            old_epoch: from,
            new,
            new_epoch: to,
        },
        batch,
        &crate::store::audit::test_entry,
        &mut |_, _| {},
    )
}

/// For each sealed row: the epoch its blob names, and whether it opens
/// under that key (from `keys`).
fn sealed_under(db: &TokenDb, keys: &[(Option<i64>, &MasterKey)]) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for id in db.object_ids().unwrap() {
        let row = db.object(id).unwrap().unwrap();
        if row.sealed.is_empty() {
            continue;
        }
        let e = seal::blob_key_epoch(&row.sealed).unwrap();
        let (_, mk) = keys.iter().find(|(k, _)| *k == e).expect("a known key");
        let digest = seal::public_digest(&row.public);
        seal::unseal_object(mk, row.id, row.class, &digest, &row.sealed)
            .unwrap_or_else(|_| panic!("row {id} opens under the key it names"));
        out.push(e);
    }
    out
}

#[test]
fn rotation_reseals_everything_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (db, old) = token(&dir.path().join("t.db"), 7);
    let before: Vec<ObjectRow> = db
        .object_ids()
        .unwrap()
        .iter()
        .map(|id| db.object(*id).unwrap().unwrap())
        .collect();
    let new = begin(&db, &old, EPOCH, 12).unwrap();
    let mut seen = Vec::new();
    let n = db
        .run_rotation(
            RotationKeys {
                old: &old,
                old_epoch: EPOCH,
                new: &new,
                new_epoch: 12,
            },
            3,
            &crate::store::audit::test_entry,
            &mut |d, t| seen.push((d, t)),
        )
        .unwrap();
    assert_eq!(n, 7);
    assert_eq!(seen, vec![(3, 7), (6, 7), (7, 7)], "batches of 3 rows");
    assert_eq!(sealed_under(&db, &[(Some(12), &new)]), vec![Some(12); 7]);
    for b in &before {
        let a = db.object(b.id).unwrap().unwrap();
        if b.sealed.is_empty() {
            assert_eq!(&a, b, "unsealed row untouched");
            continue;
        }
        // Lookup tags stay: the index key is carried over.
        assert_eq!(
            (a.class, a.private, &a.public, &a.lookup_label, &a.lookup_id),
            (b.class, b.private, &b.public, &b.lookup_label, &b.lookup_id)
        );
        assert_eq!(a.generation, b.generation + 1);
    }
    let meta = db.meta().unwrap().unwrap();
    assert_eq!(meta.epoch, 12);
    assert_eq!(
        (meta.user_failures, meta.so_failures),
        (0, 0),
        "tries given back"
    );
    let back = unwrap_master_key(USER_PIN, 1, meta.user_pin.as_ref().unwrap()).unwrap();
    assert_eq!(sealed_under(&db, &[(Some(12), &back)]).len(), 7);
    let state = db.key_state().unwrap();
    assert_eq!(state.rotation, None, "the rotation ended");
    assert_eq!(state.steps.len(), 1);
    let step = &state.steps[0];
    let next = unwrap_step(&old, StepDirection::Next, step.from, step.to, &step.wrapped).unwrap();
    assert_eq!(
        seal::lookup_tag(&next, 1, b"x"),
        seal::lookup_tag(&new, 1, b"x")
    );
    assert_eq!((step.from, step.to), (EPOCH, 12));
}

#[test]
fn steps_are_bounded_and_rotations_do_not_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut key) = token(&dir.path().join("t.db"), 2);
    let mut epoch = EPOCH;
    let n = usize::try_from(MAX_STEPS).unwrap() + 2;
    for i in 0..n {
        let to = 100 + i64::try_from(i).unwrap();
        assert_eq!(
            begin(&db, &key, epoch + 1, to).err(),
            Some(Error::UserNotLoggedIn)
        );
        let new = begin(&db, &key, epoch, to).unwrap();
        // A second rotation waits for the first to end.
        assert_eq!(
            begin(&db, &new, to, to + 1000).err(),
            Some(Error::OperationActive)
        );
        assert_eq!(run(&db, &key, epoch, &new, to, 64), Ok(2));
        (key, epoch) = (new, to);
    }
    let state = db.key_state().unwrap();
    assert_eq!(state.steps.len(), usize::try_from(MAX_STEPS).unwrap());
    assert_eq!(state.steps.last().map(|s| s.to), Some(epoch));
    assert_eq!(sealed_under(&db, &[(Some(epoch), &key)]).len(), 2);
}

#[test]
fn a_damaged_row_stops_the_rotation_resumably() {
    let dir = tempfile::tempdir().unwrap();
    let (db, old) = token(&dir.path().join("t.db"), 6);
    let mut bad = db.object(5).unwrap().unwrap();
    if let Some(b) = bad.sealed.last_mut() {
        *b ^= 1;
    }
    db.update_object(&bad, &crate::store::audit::test_entry())
        .unwrap();
    // Found before anything changes.
    assert_eq!(db.check_sealed_under(&old, EPOCH), Err(Error::Tampered));
    // Met mid-way: the batches before it are committed, the rotation
    // stays in progress, and resumes once the row is gone.
    let new = begin(&db, &old, EPOCH, 12).unwrap();
    assert_eq!(run(&db, &old, EPOCH, &new, 12, 2), Err(Error::Tampered));
    let state = db.key_state().unwrap();
    assert_eq!(state.rotation.as_ref().map(|r| r.cursor), Some(4));
    let both = [(None, &old), (Some(12), &new)];
    db.delete_object(5, &crate::store::audit::test_entry())
        .unwrap();
    assert_eq!(
        sealed_under(&db, &both),
        vec![Some(12), Some(12), Some(12), Some(12), None]
    );
    assert_eq!(run(&db, &old, EPOCH, &new, 12, 2), Ok(1));
    assert_eq!(sealed_under(&db, &both), vec![Some(12); 5]);
    assert_eq!(db.key_state().unwrap().rotation, None);
}

#[test]
fn uninitialized_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = TokenDb::open(&dir.path().join("t.db")).unwrap();
    let mk = MasterKey::generate().unwrap();
    assert_eq!(begin(&db, &mk, 1, 2).err(), Some(Error::UserNotLoggedIn));
    assert_eq!(db.meta().unwrap(), None);
    assert_eq!(
        db.key_state().unwrap(),
        KeyState {
            epoch: None,
            steps: Vec::new(),
            rotation: None
        }
    );
}

/// The child half of `crash_between_batches_resumes`: does nothing
/// unless started by it with the token path in CHILD_VAR.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_VAR) else {
        return;
    };
    let db = TokenDb::open(Path::new(&path)).unwrap();
    let so_rec = db.meta().unwrap().unwrap().so_pin.unwrap();
    let current = unwrap_master_key(SO_PIN, 0, &so_rec).unwrap();
    // Resumes an unfinished rotation, as `rotate_master_key` does.
    let (old, new) = match db.key_state().unwrap().rotation {
        Some(r) => {
            let prev = unwrap_step(&current, StepDirection::Previous, r.to, r.from, &r.previous);
            (prev.unwrap(), current)
        }
        None => {
            let new = begin(&db, &current, EPOCH, 77).unwrap();
            (current, new)
        }
    };
    let _ = db.run_rotation(
        RotationKeys {
            old: &old,
            old_epoch: EPOCH,
            new: &new,
            new_epoch: 77,
        },
        2,
        &crate::store::audit::test_entry,
        &mut |d, t| {
            eprintln!("rekey progress {d}/{t}");
        },
    );
    eprintln!("rekey returned");
}

fn crash(path: &Path, failpoint: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store::rekey::tests::crash_child", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_VAR, path)
        .env(FAILPOINT_VAR, failpoint)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "child survived: {stderr}");
    assert!(!stderr.contains("rekey returned"), "{stderr}");
    stderr
}

#[test]
fn crash_between_batches_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (db, old) = token(&path, 5);
    drop(db);
    let stderr = crash(&path, "rekey-batch-2");
    assert!(stderr.contains("rekey progress 4/5"), "{stderr}");
    assert!(!stderr.contains("rekey progress 5/5"), "{stderr}");

    // Mixed: 4 rows under the new key, 1 still under the old; a login
    // with either PIN gets the new key, which unwraps the old one.
    let db = TokenDb::open(&path).unwrap();
    let meta = db.meta().unwrap().unwrap();
    assert_eq!(meta.epoch, 77);
    let new = unwrap_master_key(USER_PIN, 1, meta.user_pin.as_ref().unwrap()).unwrap();
    let rot = db.key_state().unwrap().rotation.expect("unfinished");
    let prev = unwrap_step(
        &new,
        StepDirection::Previous,
        rot.to,
        rot.from,
        &rot.previous,
    )
    .unwrap();
    let both = [(None, &prev), (Some(77), &new)];
    assert_eq!(
        sealed_under(&db, &both),
        vec![Some(77), Some(77), Some(77), Some(77), None]
    );

    // A crash inside a batch loses only that batch.
    drop(db);
    let stderr = crash(&path, "rekey-mid");
    assert!(!stderr.contains("rekey progress"), "{stderr}");
    let db = TokenDb::open(&path).unwrap();
    assert_eq!(
        db.meta().unwrap().unwrap().epoch,
        77,
        "the first transaction is not redone"
    );
    assert_eq!(sealed_under(&db, &both).len(), 5);

    // Resumed: everything under the new key, the rotation ended.
    assert_eq!(run(&db, &prev, rot.from, &new, rot.to, 2), Ok(1));
    assert_eq!(sealed_under(&db, &both), vec![Some(77); 5]);
    assert_eq!(db.key_state().unwrap().rotation, None);
    let _ = old;
}

#[test]
fn reinitialization_drops_steps_and_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, old) = token(&dir.path().join("t.db"), 2);
    begin(&db, &old, EPOCH, 12).unwrap();
    let state = db.key_state().unwrap();
    assert_eq!((state.steps.len(), state.rotation.is_some()), (1, true));
    let mk = MasterKey::generate().unwrap();
    db.initialize(
        &TokenMeta {
            label: [b'L'; 32],
            serial: [b'7'; 16],
            so_pin: Some(wrap_master_key(&mk, SO_PIN, 0, ITER).unwrap()),
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            epoch: 99,
        },
        b"",
        &crate::store::audit::test_entry(),
    )
    .unwrap();
    assert_eq!(
        db.key_state().unwrap(),
        KeyState {
            epoch: Some(99),
            steps: Vec::new(),
            rotation: None
        },
        "no way from the erased keys to the new one"
    );
}

/// A step from an epoch that already has one (the token came back to an
/// earlier epoch) replaces it, as SQLite's INSERT OR REPLACE did: one step
/// per `from_epoch`, the newest `seq` last.
#[test]
fn a_step_from_a_known_epoch_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (db, k11) = token(&dir.path().join("t.db"), 2);
    let k12 = begin(&db, &k11, EPOCH, 12).unwrap();
    assert_eq!(run(&db, &k11, EPOCH, &k12, 12, 64), Ok(2));
    let back = begin(&db, &k12, 12, EPOCH).unwrap();
    assert_eq!(run(&db, &k12, 12, &back, EPOCH, 64), Ok(2));
    let k13 = begin(&db, &back, EPOCH, 13).unwrap();
    assert_eq!(run(&db, &back, EPOCH, &k13, 13, 64), Ok(2));
    let steps: Vec<(i64, i64)> = db
        .key_state()
        .unwrap()
        .steps
        .iter()
        .map(|s| (s.from, s.to))
        .collect();
    assert_eq!(steps, vec![(12, EPOCH), (EPOCH, 13)]);
}
