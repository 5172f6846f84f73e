//! Master-key rotation at the store level: re-seals every object row and
//! its lookup tags from the old master key to a new one, replaces the PIN
//! records and bumps the token epoch, all in one write transaction so a
//! crash leaves the token either fully old or fully new.

use cryptoki_sys::{CKA_ID, CKA_LABEL};
use rusqlite::{Transaction, params};
use zeroize::Zeroize;

use super::codec::{self, AttrMap};
use super::schema::TxResult;
use super::seal::{self, MasterKey, PinRecord};
use super::sqlite::{ObjectRow, Role, SELECT_OBJECT, TokenDb, object_from_row, store_pin};
use crate::error::{Error, Result};

/// Environment variable read by the test hook in [`TokenDb::rekey`].
const FAILPOINT_VAR: &str = "KEYWARD_FAILPOINT";
/// Its value that aborts the process half-way through a rekey.
const FAILPOINT_REKEY_MID: &str = "rekey-mid";

/// A decoded attribute map whose values are wiped on drop: the sealed half
/// of a row holds key material.
struct SecretAttrs(AttrMap);

impl Drop for SecretAttrs {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

/// The row as it must be stored under `new`: same id, class and clear
/// attributes; the blob re-sealed; private rows' lookup tags recomputed
/// from the label and id inside the blob (the sealed value wins over a
/// clear one, as when the token layer joins the halves).
fn resealed(old: &MasterKey, new: &MasterKey, row: &ObjectRow) -> Result<ObjectRow> {
    let digest = seal::public_digest(&row.public);
    let plain = seal::unseal_object(old, row.id, row.class, &digest, &row.sealed)?;
    let sealed = seal::seal_object(new, row.id, row.class, &digest, &plain)?;
    let mut out = ObjectRow {
        sealed,
        ..row.clone()
    };
    if row.private {
        let secret = SecretAttrs(codec::decode_attrs(&plain).map_err(|_| Error::Tampered)?);
        let clear = codec::decode_attrs(&row.public).map_err(|_| Error::Tampered)?;
        let value = |ty: u64| -> &[u8] {
            secret
                .0
                .get(&ty)
                .or_else(|| clear.get(&ty))
                .map_or(&[], Vec::as_slice)
        };
        // A NULL column (never written by the token layer) stays NULL.
        out.lookup_label = row
            .lookup_label
            .as_ref()
            .map(|_| seal::lookup_tag(new, CKA_LABEL, value(CKA_LABEL)));
        out.lookup_id = row
            .lookup_id
            .as_ref()
            .map(|_| seal::lookup_tag(new, CKA_ID, value(CKA_ID)));
    }
    Ok(out)
}

fn store_resealed(tx: &Transaction<'_>, row: &ObjectRow) -> TxResult<()> {
    tx.prepare_cached(
        "UPDATE object SET generation = generation + 1, sealed = ?2,
             lookup_label = ?3, lookup_id = ?4
         WHERE id = ?1",
    )?
    .execute(params![row.id, row.sealed, row.lookup_label, row.lookup_id])?;
    Ok(())
}

/// Whether the crash-test hook is armed (read once per rekey).
fn failpoint_armed() -> bool {
    std::env::var_os(FAILPOINT_VAR).is_some_and(|v| v == FAILPOINT_REKEY_MID)
}

use super::audit::{self, AuditEntry};

impl TokenDb {
    /// Rotates the master key from `old` to `new` in ONE `BEGIN IMMEDIATE`
    /// transaction: re-seals every row that has a blob (rows with an empty
    /// `sealed` stay as they are), recomputes private rows' lookup tags,
    /// bumps each re-sealed row's generation, stores `so_pin` and
    /// `user_pin` (both computed by the caller under `new`; `None` deletes
    /// the user PIN record, which would otherwise still wrap `old`) and sets
    /// the epoch to `new_epoch` so processes logged in under `old` notice.
    /// `progress(done, total)` follows the re-sealed rows. Returns how many
    /// rows were re-sealed. A row that does not open under `old` is
    /// [`Error::Tampered`]; an uninitialized token is
    /// [`Error::TokenNotRecognized`]; either way nothing changes.
    // Each argument is one piece of the new token state, all written in
    // one transaction; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub fn rekey(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        so_pin: &PinRecord,
        user_pin: Option<&PinRecord>,
        new_epoch: i64,
        audit_key: &[u8],
        record: &AuditEntry,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        self.rekey_at(
            old, new, so_pin, user_pin, new_epoch, None, audit_key, record, progress,
        )
    }

    /// [`TokenDb::rekey`], first checking inside the transaction that the
    /// token epoch is still `old_epoch` (the one `old` was unwrapped at):
    /// a rotation or re-initialization committed since then would make
    /// `old` the wrong key, and the audit key the caller re-wraps a stale
    /// one. A mismatch is [`Error::UserNotLoggedIn`] and changes nothing.
    /// Every sealed row must open under `old` before anything commits: one
    /// that does not is [`Error::Tampered`], never a stranded row.
    #[allow(clippy::too_many_arguments)]
    pub fn rekey_at(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        so_pin: &PinRecord,
        user_pin: Option<&PinRecord>,
        new_epoch: i64,
        old_epoch: Option<i64>,
        audit_key: &[u8],
        record: &AuditEntry,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let failpoint = failpoint_armed();
        self.write(|tx| {
            super::object_write::check_epoch_in(tx, old_epoch)?;
            let n = tx
                .prepare_cached(
                    // The PINs were just proven: their tries are given back.
                    "UPDATE token SET epoch = ?1, so_failures = 0, user_failures = 0 WHERE id = 1",
                )?
                .execute([new_epoch])?;
            if n == 0 {
                return Err(Error::TokenNotRecognized.into());
            }
            let rows = {
                let mut stmt = tx.prepare_cached(&format!("{SELECT_OBJECT} ORDER BY id"))?;
                let rows = stmt.query_map([], object_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let sealed: Vec<&ObjectRow> = rows.iter().filter(|r| !r.sealed.is_empty()).collect();
            let total = u64::try_from(sealed.len()).map_err(|_| Error::GeneralError)?;
            let mut done = 0u64;
            for row in sealed {
                store_resealed(tx, &resealed(old, new, row)?)?;
                done = done.saturating_add(1);
                progress(done, total);
                // Test hook for the crash tests: with KEYWARD_FAILPOINT=
                // rekey-mid the process dies here, half-way through the
                // uncommitted transaction, as on a power cut or kill -9.
                if failpoint && done.saturating_mul(2) >= total {
                    std::process::abort();
                }
            }
            store_pin(tx, Role::So, so_pin)?;
            match user_pin {
                Some(rec) => store_pin(tx, Role::User, rec)?,
                None => {
                    tx.prepare_cached("DELETE FROM pin WHERE role = ?1")?
                        .execute([Role::User.byte()])?;
                }
            }
            // The audit key, re-wrapped under the new master key, and the
            // record of the rotation commit with it.
            audit::set_key(tx, audit_key)?;
            audit::append(tx, record)?;
            Ok(total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::{unwrap_master_key, wrap_master_key};
    use crate::store::sqlite::TokenMeta;
    use cryptoki_sys::{CKA_CLASS, CKA_PRIVATE, CKA_TOKEN, CKA_VALUE, CKO_DATA, CKO_SECRET_KEY};
    use std::path::Path;

    const ITER: u32 = 1000;
    const SO_PIN: &[u8] = b"so-pin";
    const USER_PIN: &[u8] = b"user-pin";
    /// Set in the child process of the crash test: the token path.
    const CHILD_VAR: &str = "KEYWARD_REKEY_CRASH_CHILD";

    fn attrs(pairs: &[(u64, &[u8])]) -> AttrMap {
        pairs.iter().map(|(t, v)| (*t, v.to_vec())).collect()
    }

    /// A row built the way the token layer's `to_row` builds one.
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

    /// A token with four sealed rows (private and public) and one unsealed
    /// one; the master key is wrapped under SO_PIN and USER_PIN.
    fn token(path: &Path) -> (TokenDb, MasterKey) {
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
                epoch: 11,
            },
            b"",
            &crate::store::audit::test_entry(),
        )
        .unwrap();
        for (id, private) in [(1, true), (2, false), (3, true), (4, false)] {
            let label = format!("key {id}");
            db.insert_object(
                &make_row(&mk, id, private, label.as_bytes(), b"kid"),
                &crate::store::audit::test_entry(),
            )
            .unwrap();
        }
        db.insert_object(&unsealed_row(5), &crate::store::audit::test_entry())
            .unwrap();
        (db, mk)
    }

    fn opens_under(db: &TokenDb, mk: &MasterKey) -> Vec<bool> {
        let mut out = Vec::new();
        for id in db.object_ids().unwrap() {
            let row = db.object(id).unwrap().unwrap();
            if row.sealed.is_empty() {
                continue;
            }
            let digest = seal::public_digest(&row.public);
            out.push(seal::unseal_object(mk, row.id, row.class, &digest, &row.sealed).is_ok());
        }
        out
    }

    fn new_pins(new: &MasterKey) -> (PinRecord, PinRecord) {
        (
            wrap_master_key(new, SO_PIN, 0, ITER).unwrap(),
            wrap_master_key(new, USER_PIN, 1, ITER).unwrap(),
        )
    }

    #[test]
    fn rekey_reseals_everything() {
        let dir = tempfile::tempdir().unwrap();
        let (db, old) = token(&dir.path().join("t.db"));
        let before: Vec<ObjectRow> = (1..=5).map(|id| db.object(id).unwrap().unwrap()).collect();
        let new = MasterKey::generate().unwrap();
        let (so, user) = new_pins(&new);
        let mut seen = Vec::new();
        let n = db
            .rekey(
                &old,
                &new,
                &so,
                Some(&user),
                12,
                b"",
                &crate::store::audit::test_entry(),
                &mut |d, t| seen.push((d, t)),
            )
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(seen, vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
        assert_eq!(opens_under(&db, &new), vec![true; 4]);
        assert_eq!(opens_under(&db, &old), vec![false; 4]);

        for b in &before {
            let a = db.object(b.id).unwrap().unwrap();
            assert_eq!(
                (a.class, a.private, &a.public),
                (b.class, b.private, &b.public)
            );
            if b.sealed.is_empty() {
                assert_eq!(&a, b, "unsealed row untouched");
                continue;
            }
            assert_eq!(a.generation, b.generation + 1);
            let label = format!("key {}", b.id);
            if b.private {
                assert_eq!(
                    a.lookup_label,
                    Some(seal::lookup_tag(&new, CKA_LABEL, label.as_bytes()))
                );
                assert_eq!(a.lookup_id, Some(seal::lookup_tag(&new, CKA_ID, b"kid")));
                assert_ne!(a.lookup_label, b.lookup_label);
            } else {
                assert_eq!(a.lookup_label, Some(label.into_bytes()));
                assert_eq!(a.lookup_id, b.lookup_id);
            }
        }

        let meta = db.meta().unwrap().unwrap();
        assert_eq!(meta.epoch, 12);
        assert_eq!(
            (meta.user_failures, meta.so_failures),
            (0, 0),
            "tries given back"
        );
        let back = unwrap_master_key(USER_PIN, 1, meta.user_pin.as_ref().unwrap()).unwrap();
        assert_eq!(opens_under(&db, &back), vec![true; 4]);
        assert_eq!((meta.so_pin, meta.user_pin), (Some(so), Some(user)));
    }

    #[test]
    fn rekey_without_user_pin_deletes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, old) = token(&dir.path().join("t.db"));
        let new = MasterKey::generate().unwrap();
        let (so, _) = new_pins(&new);
        db.rekey(
            &old,
            &new,
            &so,
            None,
            3,
            b"",
            &crate::store::audit::test_entry(),
            &mut |_, _| {},
        )
        .unwrap();
        let meta = db.meta().unwrap().unwrap();
        assert_eq!((meta.so_pin, meta.user_pin), (Some(so), None));
    }

    fn assert_unchanged(db: &TokenDb, before: &[ObjectRow], meta: &TokenMeta) {
        let after: Vec<ObjectRow> = db
            .object_ids()
            .unwrap()
            .into_iter()
            .map(|id| db.object(id).unwrap().unwrap())
            .collect();
        assert_eq!(after, before);
        assert_eq!(&db.meta().unwrap().unwrap(), meta);
    }

    fn snapshot(db: &TokenDb) -> (Vec<ObjectRow>, TokenMeta) {
        let rows = db
            .object_ids()
            .unwrap()
            .into_iter()
            .map(|id| db.object(id).unwrap().unwrap())
            .collect();
        (rows, db.meta().unwrap().unwrap())
    }

    #[test]
    fn tampered_row_aborts_with_nothing_changed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, old) = token(&dir.path().join("t.db"));
        // Damage the last row, so earlier rows were already re-sealed in
        // the transaction when the failure is found.
        let mut bad = db.object(4).unwrap().unwrap();
        if let Some(b) = bad.sealed.last_mut() {
            *b ^= 1;
        }
        db.update_object(&bad, &crate::store::audit::test_entry())
            .unwrap();
        let (rows, meta) = snapshot(&db);
        let new = MasterKey::generate().unwrap();
        let (so, user) = new_pins(&new);
        let mut calls = 0;
        let err = db.rekey(
            &old,
            &new,
            &so,
            Some(&user),
            99,
            b"",
            &crate::store::audit::test_entry(),
            &mut |_, _| calls += 1,
        );
        assert_eq!(err, Err(Error::Tampered));
        assert_eq!(calls, 3);
        assert_unchanged(&db, &rows, &meta);

        // A wrong old key fails the same way.
        let (db2, _) = token(&dir.path().join("u.db"));
        let (rows, meta) = snapshot(&db2);
        let err = db2.rekey(
            &new,
            &old,
            &so,
            None,
            5,
            b"",
            &crate::store::audit::test_entry(),
            &mut |_, _| {},
        );
        assert_eq!(err, Err(Error::Tampered));
        assert_unchanged(&db2, &rows, &meta);
    }

    #[test]
    fn uninitialized_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = TokenDb::open(&dir.path().join("t.db")).unwrap();
        let mk = MasterKey::generate().unwrap();
        let so = wrap_master_key(&mk, SO_PIN, 0, ITER).unwrap();
        assert_eq!(
            db.rekey(
                &mk,
                &mk,
                &so,
                None,
                1,
                b"",
                &crate::store::audit::test_entry(),
                &mut |_, _| {}
            ),
            Err(Error::TokenNotRecognized)
        );
        assert_eq!(db.meta().unwrap(), None);
    }

    /// The child half of `crash_mid_rekey_leaves_old_token`: does nothing
    /// unless started by it with the token path in CHILD_VAR.
    #[test]
    fn crash_child() {
        let Some(path) = std::env::var_os(CHILD_VAR) else {
            return;
        };
        let db = TokenDb::open(Path::new(&path)).unwrap();
        let so_rec = db.meta().unwrap().unwrap().so_pin.unwrap();
        let old = unwrap_master_key(SO_PIN, 0, &so_rec).unwrap();
        let new = MasterKey::generate().unwrap();
        let (so, user) = new_pins(&new);
        let _ = db.rekey(
            &old,
            &new,
            &so,
            Some(&user),
            77,
            b"",
            &crate::store::audit::test_entry(),
            &mut |d, t| {
                eprintln!("rekey progress {d}/{t}");
            },
        );
        eprintln!("rekey returned");
    }

    #[test]
    fn crash_mid_rekey_leaves_old_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (db, old) = token(&path);
        let (rows, meta) = snapshot(&db);
        drop(db);

        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "store::rekey::tests::crash_child", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_VAR, &path)
            .env(FAILPOINT_VAR, FAILPOINT_REKEY_MID)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "child survived: {stderr}");
        assert!(stderr.contains("rekey progress 2/4"), "{stderr}");
        assert!(!stderr.contains("rekey progress 3/4"), "{stderr}");
        assert!(!stderr.contains("rekey returned"), "{stderr}");

        // Fully old: same rows, PIN records and epoch; old key opens all.
        let db = TokenDb::open(&path).unwrap();
        assert_unchanged(&db, &rows, &meta);
        assert_eq!(opens_under(&db, &old), vec![true; 4]);
        let so_rec = meta.so_pin.clone().unwrap();
        let user_rec = meta.user_pin.clone().unwrap();
        let from_so = unwrap_master_key(SO_PIN, 0, &so_rec).unwrap();
        let from_user = unwrap_master_key(USER_PIN, 1, &user_rec).unwrap();
        assert_eq!(opens_under(&db, &from_so), vec![true; 4]);
        assert_eq!(opens_under(&db, &from_user), vec![true; 4]);

        // And still usable: a complete rekey now succeeds.
        let new = MasterKey::generate().unwrap();
        let (so, user) = new_pins(&new);
        assert_eq!(
            db.rekey(
                &old,
                &new,
                &so,
                Some(&user),
                78,
                b"",
                &crate::store::audit::test_entry(),
                &mut |_, _| {}
            ),
            Ok(4)
        );
        assert_eq!(opens_under(&db, &new), vec![true; 4]);
    }
}
