//! Token objects: turning objects into sealed rows and back, the unsealed
//! object cache, and indexed searches.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cryptoki_sys::*;

use super::{Cached, Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::versions;
use crate::mechanism::{self, Key};
use crate::object::{self, AttrMap, Object};
use crate::store::codec;
use crate::store::seal::{self, MasterKey};
use crate::store::sqlite::{ObjectRow, RowFilter};

/// The value a lookup column holds for a label or id: the clear value for
/// public objects, a keyed tag for private ones.
fn lookup(
    mk: Option<&MasterKey>,
    private: bool,
    ty: CK_ATTRIBUTE_TYPE,
    value: &[u8],
) -> Result<Vec<u8>> {
    if private {
        let mk = mk.ok_or(Error::UserNotLoggedIn)?;
        Ok(seal::lookup_tag(mk, ty, value))
    } else {
        Ok(value.to_vec())
    }
}

/// Objects a search found: row id and object.
pub type Found = Vec<(i64, Arc<Object>)>;

/// Rows a search reads from SQLite at once (see [`Token::find_ids`]).
const FIND_PAGE: usize = 256;

#[cfg(test)]
thread_local! {
    /// Runs once after the next search's first page: tests commit from
    /// "another process" in the middle of a search.
    static AFTER_FIRST_PAGE: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Passes a search makes (one optimistic single page, then paged passes
/// while commits keep landing mid-search) before it reads everything in
/// one statement (see `Token::search`).
const SEARCH_ATTEMPTS: usize = 4;

/// How often a sealing write is redone under a newer master key when
/// rotations keep committing between its seal and its transaction. Each
/// retry needs a whole rotation to start in between, so this is never
/// reached in practice; C_CreateObject & co. then answer
/// CKR_FUNCTION_FAILED, never a logout.
const WRITE_ATTEMPTS: usize = 8;

/// A master key and the epoch it belongs to.
type SealingKey<'a> = Option<(&'a MasterKey, i64)>;

impl Token {
    pub(super) fn to_row(&self, id: i64, obj: &Object, key: SealingKey<'_>) -> Result<ObjectRow> {
        let mk = key.map(|(mk, _)| mk);
        if mk.is_none() {
            object::unsealed::check_storable_unsealed(obj)?;
        }
        let private = obj.is_private();
        let (clear, secret) = obj.split_for_storage();
        let public = codec::encode_attrs(&clear);
        let digest = seal::public_digest(&public);
        let sealed = match key {
            Some((mk, epoch)) => {
                let plain = codec::encode_attrs_secret(&secret);
                seal::seal_object_at(mk, epoch, id, obj.class(), &digest, &plain)?
            }
            // Without a login only objects with nothing secret can be stored.
            None if secret.is_empty() && !private => Vec::new(),
            None => return Err(Error::UserNotLoggedIn),
        };
        let label = obj.bytes(CKA_LABEL).unwrap_or_default();
        let ckid = obj.bytes(CKA_ID).unwrap_or_default();
        Ok(ObjectRow {
            id,
            generation: 1,
            class: obj.class(),
            private,
            lookup_label: Some(lookup(mk, private, CKA_LABEL, label)?),
            lookup_id: Some(lookup(mk, private, CKA_ID, ckid)?),
            public,
            sealed,
        })
    }

    /// The master key and the epoch it belongs to, read together under
    /// one lock so a seal and its epoch check always agree.
    fn sealing_key(&self) -> Result<Option<(MasterKey, i64)>> {
        let state = self.login_state()?;
        Ok(state.master_key.clone().map(|mk| (mk, state.epoch)))
    }

    /// After a write: a write refused because the epoch moved (another
    /// process rotated the master key) follows the rotation and asks for
    /// the write to be redone under the new key (`Ok(None)`); if our key
    /// cannot follow (re-initialization) we are logged out, unless a newer
    /// login replaced ours meanwhile (see `refresh_keys`). A successful
    /// write is a cheap moment to finish a pending erasure.
    fn after_write<T>(&self, result: Result<T>, epoch: Option<i64>) -> Result<Option<T>> {
        match (result, epoch) {
            (Err(Error::UserNotLoggedIn), Some(_)) => {
                self.refresh_keys()?;
                Ok(None)
            }
            (Ok(v), _) => {
                self.retry_erasure();
                Ok(Some(v))
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Runs `write` with the current sealing key; when a rotation
    /// committed between the seal and the write's transaction (which
    /// re-checks the epoch), follows it and writes again.
    fn sealed_write<T>(&self, mut write: impl FnMut(SealingKey<'_>) -> Result<T>) -> Result<T> {
        for _ in 0..WRITE_ATTEMPTS {
            let key = self.sealing_key()?;
            let epoch = key.as_ref().map(|(_, e)| *e);
            let result = write(key.as_ref().map(|(mk, e)| (mk, *e)));
            if let Some(v) = self.after_write(result, epoch)? {
                return Ok(v);
            }
        }
        Err(Error::FunctionFailed)
    }

    /// Stores a new token object and returns its id.
    pub fn insert(&self, obj: &Object, ev: &Event) -> Result<i64> {
        self.insert_many(&[(obj, ev)])?
            .into_iter()
            .next()
            .ok_or(Error::GeneralError)
    }

    /// Stores several new token objects (e.g. both halves of a key pair)
    /// and their audit records in one transaction: all or none. Returns
    /// their ids in order. The epoch the rows were sealed under is checked
    /// inside that transaction (see `TokenDb::insert_objects`).
    pub fn insert_many(&self, objs: &[(&Object, &Event)]) -> Result<Vec<i64>> {
        self.sealed_write(|key| {
            let mut rows = Vec::with_capacity(objs.len());
            let mut ids = Vec::with_capacity(objs.len());
            for (obj, ev) in objs {
                let mut raw = [0u8; 8];
                mechanism::random(&mut raw)?;
                // Positive 63-bit ids: random so they are never reused, even
                // across processes and re-initialization.
                let id = i64::from_le_bytes(raw) & i64::MAX;
                let row = self.to_row(id, obj, key)?;
                let entry = self.audit_entry(ev, Some((id, obj)))?;
                rows.push((row, entry));
                ids.push(id);
            }
            self.db
                .insert_objects(&rows, key.map(|(_, e)| e))
                .map(|()| ids)
        })
    }

    /// A fresh object id (random positive 63 bits, as `insert_many` gives),
    /// for writes that must know their ids before storing (a rotation
    /// links the old and new versions both ways).
    pub fn new_object_id(&self) -> Result<i64> {
        let mut raw = [0u8; 8];
        mechanism::random(&mut raw)?;
        Ok(i64::from_le_bytes(raw) & i64::MAX)
    }

    /// An object (unsealed in full) with the generation of the row it was
    /// read from, for a later write that must not overwrite a newer one.
    pub fn load_current(&self, id: i64) -> Result<(Arc<Object>, i64)> {
        let row = self.db.object(id)?.ok_or(Error::ObjectHandleInvalid)?;
        if row.private && !self.sees_private()? {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok((self.object_of_row(&row, true)?, row.generation))
    }

    /// A key rotation in one transaction (see `TokenDb::rotate_objects`):
    /// `updates` are (id, generation read, new object, record) for the old
    /// version's rows, `inserts` (id, object, record) the new version's.
    /// A row changed since it was read fails the whole write with
    /// [`Error::ActionProhibited`].
    pub fn rotate_objects(
        &self,
        updates: &[(i64, i64, &Object, &Event)],
        inserts: &[(i64, &Object, &Event)],
    ) -> Result<()> {
        // Sealed under the current key; a master-key rotation committed
        // meanwhile is followed and the write made again (`sealed_write`).
        self.sealed_write(|key| {
            let mut old = Vec::with_capacity(updates.len());
            for (id, generation, obj, ev) in updates {
                let row = self.to_row(*id, obj, key)?;
                old.push((row, *generation, self.audit_entry(ev, Some((*id, obj)))?));
            }
            let mut new = Vec::with_capacity(inserts.len());
            for (id, obj, ev) in inserts {
                let row = self.to_row(*id, obj, key)?;
                new.push((row, self.audit_entry(ev, Some((*id, obj)))?));
            }
            let stored = self.db.rotate_objects(&old, &new, key.map(|(_, e)| e));
            let mut cache = self.cache()?;
            for (id, ..) in updates {
                cache.remove(id);
            }
            stored
        })
    }

    /// Replaces a stored object's attributes.
    pub fn update(&self, id: i64, obj: &Object, ev: &Event) -> Result<()> {
        self.sealed_write(|key| {
            let row = self.to_row(id, obj, key)?;
            let entry = self.audit_entry(ev, Some((id, obj)))?;
            let stored = self.db.update_object_at(&row, &entry, key.map(|(_, e)| e));
            self.cache()?.remove(&id);
            stored
        })
        .map(drop)
    }

    /// Destroys an object for good (see `TokenDb::delete_object`); the
    /// record names the sealed blob that was erased by its fingerprint.
    /// Returns as soon as the row is deleted: the checkpoint that erases
    /// the old page versions from the WAL is attempted without waiting
    /// (see [`Token::erasure_complete`]).
    pub fn delete(&self, id: i64, obj: &Object, ev: &Event) -> Result<bool> {
        self.cache()?.remove(&id);
        let fingerprint = match self.db.object(id)? {
            Some(row) if !row.sealed.is_empty() => Some(seal::fingerprint(&row.sealed)),
            _ => None,
        };
        let ev = match fingerprint {
            Some(fp) => ev.clone().fingerprint(fp),
            None => ev.clone(),
        };
        // No epoch check: a deletion seals nothing, and the audit key
        // that MACs its record is carried across rotations. (C_DestroyObject
        // may not answer CKR_USER_NOT_LOGGED_IN either.)
        let entry = self.audit_entry(&ev, Some((id, obj)))?;
        let deleted = self.db.delete_object(id, &entry)?;
        if deleted {
            self.erase_pending.store(true, Ordering::SeqCst);
            self.retry_erasure();
        }
        Ok(deleted)
    }

    /// Tries (never waiting) to finish a pending erasure: a checkpoint
    /// that copies the zeroed pages into the main file and empties the
    /// WAL. Returns whether no erasure is pending any more.
    pub fn erasure_complete(&self) -> Result<bool> {
        if !self.erase_pending.load(Ordering::SeqCst) {
            return Ok(true);
        }
        // Cleared first: a destruction committed while the checkpoint runs
        // sets it again, so it is never lost.
        self.erase_pending.store(false, Ordering::SeqCst);
        let done = self.db.try_checkpoint();
        if !matches!(done, Ok(true)) {
            self.erase_pending.store(true, Ordering::SeqCst);
        }
        done
    }

    /// Asks the store to erase the old page versions of every deleted row
    /// now, whether or not this process deleted them (the CLI's `keys
    /// destroy --wait`): `true` once the WAL holds no frame at all.
    pub fn erase_now(&self) -> Result<bool> {
        self.erase_pending.store(true, Ordering::SeqCst);
        self.erasure_complete()
    }

    /// `erasure_complete` where errors do not matter (cheap retry points).
    pub(super) fn retry_erasure(&self) {
        if self.erase_pending.load(Ordering::SeqCst) {
            let _ = self.erasure_complete();
        }
    }

    /// Turns a row into an object; `need_secret` asks for the sealed part
    /// (which needs a login) even on public objects. A damaged row is
    /// [`Error::Tampered`] (CKR_DEVICE_ERROR) and is recorded in the audit
    /// trail, once per version of the row.
    fn object_of_row(&self, row: &ObjectRow, need_secret: bool) -> Result<Arc<Object>> {
        self.object_of_row_with(row, need_secret, true)
    }

    /// [`Token::object_of_row`]; `remember: false` leaves the object out
    /// of the cache (a search reads every candidate row once: caching them
    /// all would hold the whole token in memory).
    fn object_of_row_with(
        &self,
        row: &ObjectRow,
        need_secret: bool,
        remember: bool,
    ) -> Result<Arc<Object>> {
        match self.open_row(row, need_secret, remember) {
            Err(Error::Tampered) => {
                self.report_damage(row);
                Err(Error::Tampered)
            }
            other => other,
        }
    }

    fn open_row(&self, row: &ObjectRow, need_secret: bool, remember: bool) -> Result<Arc<Object>> {
        if let Some(hit) = self.cache()?.get(&row.id)
            && hit.generation == row.generation
            && (hit.complete || !need_secret)
        {
            return Ok(hit.object.clone());
        }
        let clear = codec::decode_attrs(&row.public).map_err(|_| Error::Tampered)?;
        if row.sealed.is_empty() {
            // Stored without a login: honoured only if a public session
            // could have made it (see object::unsealed), logged in or not.
            let obj = Object::join(clear, AttrMap::new());
            if obj.class() != row.class
                || obj.is_private() != row.private
                || object::unsealed::seal_required(&obj)
            {
                return Err(Error::Tampered);
            }
            return Ok(Arc::new(versions::with_defaults(obj)));
        }
        let holds_secrets = row.class == CKO_SECRET_KEY || row.class == CKO_PRIVATE_KEY;
        let must_unseal = row.private || (need_secret && holds_secrets);
        if self.master_key()?.is_none() {
            if must_unseal {
                return Err(Error::UserNotLoggedIn);
            }
            // Not logged in: the clear half cannot be checked; `key` does
            // not use such an object for anything that needs trust.
            return Ok(Arc::new(versions::with_defaults(Object::join(
                clear,
                AttrMap::new(),
            ))));
        };
        // Logged in: always check the seal, which also authenticates
        // the clear attributes (e.g. CKA_VERIFY of a public key).
        let plain = self.unseal_row(row)?;
        let secret = codec::decode_attrs(&plain).map_err(|_| Error::Tampered)?;
        let obj = Object::join(clear, secret);
        if obj.class() != row.class || obj.is_private() != row.private {
            return Err(Error::Tampered);
        }
        // Keys stored before versions existed read as version 1, primary.
        let obj = Arc::new(versions::with_defaults(obj));
        if remember {
            self.cache()?.insert(
                row.id,
                Cached {
                    generation: row.generation,
                    object: obj.clone(),
                    complete: true,
                    key: None,
                    checked: None,
                    private: row.private,
                },
            );
        }
        Ok(obj)
    }

    /// Opens a row's blob with the key that sealed it: the one its blob
    /// names (a version 1 blob names none: it is under the oldest key in
    /// use). A key we do not hold yet means another process rotated the
    /// master key: we follow (see `refresh_keys`) and try once more, so a
    /// rotation is never mistaken for damage and never logs us out.
    fn unseal_row(&self, row: &ObjectRow) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let named = seal::blob_key_epoch(&row.sealed)?;
        for attempt in 0..2 {
            let keys: Vec<MasterKey> = {
                let state = self.login_state()?;
                let current = state.master_key.as_ref().ok_or(Error::UserNotLoggedIn)?;
                let mut keys = Vec::with_capacity(2);
                if named.is_none_or(|e| e == state.epoch) {
                    keys.push(current.clone());
                }
                if let Some((e, old)) = &state.previous
                    && named.is_none_or(|n| n == *e)
                {
                    keys.push(old.clone());
                }
                keys
            };
            for mk in &keys {
                if let Ok(plain) = seal::open_row(mk, row) {
                    return Ok(plain);
                }
            }
            if attempt == 0 {
                self.refresh_keys()?;
            }
        }
        Err(Error::Tampered)
    }

    /// Records that `row` failed its integrity check: once per version of
    /// the row (its fingerprint), across processes. Best effort: the
    /// caller reports CKR_DEVICE_ERROR whether or not the record is
    /// written.
    fn report_damage(&self, row: &ObjectRow) {
        let fp = seal::row_fingerprint(
            row.id,
            row.generation,
            row.class,
            row.private,
            &row.public,
            &row.sealed,
        );
        let first = match self.damage_seen.lock() {
            Ok(mut seen) => seen.insert((row.id, fp.clone())),
            Err(_) => false,
        };
        if !first {
            return;
        }
        let obj = damaged_stub(row);
        let ev = Event::new(crate::store::audit::DAMAGE_EVENT)
            .failed(Error::Tampered)
            .detail("the stored row failed its integrity check")
            .fingerprint(fp.clone());
        if let Ok(entry) = self.audit_entry(&ev, Some((row.id, &obj))) {
            let _ = self.db.append_audit_once(&entry, &fp);
        }
    }

    /// Checks every object row as the logged-in user (private rows need
    /// the user) and returns the damaged ones, each recorded in the audit
    /// trail. Another process's master-key rotation is not damage: it
    /// ends the scan with CKR_USER_NOT_LOGGED_IN.
    pub fn check_rows(&self) -> Result<Vec<DamagedRow>> {
        if !self.sees_private()? {
            return Err(Error::UserNotLoggedIn);
        }
        // Every row from the file, not what this process unsealed before.
        self.forget_cache()?;
        let all = RowFilter {
            class: None,
            label: None,
            id: None,
            include_private: true,
        };
        let mut damaged = Vec::new();
        for row in self.db.find(&all)? {
            match self.object_of_row(&row, true) {
                Ok(_) => {}
                Err(Error::Tampered) => damaged.push(DamagedRow::of(&row)),
                Err(e) => return Err(e),
            }
        }
        Ok(damaged)
    }

    /// Whether the current login may see private objects.
    fn sees_private(&self) -> Result<bool> {
        Ok(self.login_role()? == Login::User)
    }

    /// Loads one object; a private one only for the logged-in user.
    pub fn load(&self, id: i64, need_secret: bool) -> Result<Arc<Object>> {
        let row = self.db.object(id)?.ok_or(Error::ObjectHandleInvalid)?;
        if row.private && !self.sees_private()? {
            return Err(Error::ObjectHandleInvalid);
        }
        self.object_of_row(&row, need_secret)
    }

    /// The typed key of an object, parsed once per generation of its row.
    ///
    /// The hot path of every `C_*Init`: a key whose row was read at the
    /// store stamp that is still current (no commit by any process since,
    /// see `TokenDb::stamp`) is used without a SQLite read and under no
    /// exclusive lock — one atomic load and the cache's read lock.
    pub fn key(&self, id: i64) -> Result<(Arc<Object>, Arc<Key>)> {
        // Taken before the row read, never after: a commit that lands
        // between the two changes the stamp, so the entry is read again
        // next time instead of being trusted with a stale row.
        let stamp = self.db.stamp();
        if stamp.is_some()
            && let Some(hit) = self.cache_read()?.get(&id)
            && hit.checked == stamp
            && let Some(key) = &hit.key
        {
            if hit.private && !self.sees_private()? {
                return Err(Error::UserNotLoggedIn);
            }
            return Ok((hit.object.clone(), key.clone()));
        }
        let row = self.db.object(id)?.ok_or(Error::KeyHandleInvalid)?;
        if row.private && !self.sees_private()? {
            return Err(Error::UserNotLoggedIn);
        }
        if let Some(hit) = self.cache()?.get_mut(&row.id)
            && hit.generation == row.generation
            && let Some(key) = hit.key.clone()
        {
            // The row did not change: trusted again until the next commit.
            hit.checked = stamp;
            return Ok((hit.object.clone(), key));
        }
        let mut obj = self.object_of_row(&row, true)?;
        // Trust and key-handling power is honoured only from a row whose
        // seal was checked, which needs a login; public operations (e.g.
        // verify with a public key) go on without it.
        if self.master_key()?.is_none() && object::unsealed::seal_required(&obj) {
            if matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY) || obj.is_private() {
                return Err(Error::UserNotLoggedIn);
            }
            obj = Arc::new(object::unsealed::without_power(&obj));
        }
        let key = Arc::new(object::key_material(&obj)?);
        if let Some(hit) = self.cache()?.get_mut(&row.id)
            && hit.generation == row.generation
        {
            hit.key = Some(key.clone());
            hit.checked = stamp;
        }
        Ok((obj, key))
    }

    /// Objects matching a search template, narrowed by the indexed
    /// columns first so a search by CKA_ID or CKA_LABEL reads few rows.
    /// A template that names neither CKA_KEYWARD_VERSION nor
    /// CKA_KEYWARD_PRIMARY finds primary versions only
    /// ([`versions::visible`]). Damaged rows are left out (see [`Token::find_with_damaged`]).
    pub fn find(&self, template: &AttrMap) -> Result<Vec<(i64, Arc<Object>)>> {
        Ok(self.find_with_damaged(template)?.0)
    }

    /// [`Token::find`], plus the ids of damaged rows that the indexed
    /// criteria (class, label, id, and CKA_TOKEN / CKA_PRIVATE) match:
    /// C_FindObjects returns those so the application meets
    /// CKR_DEVICE_ERROR when it uses them instead of the object silently
    /// vanishing; a damaged row never hides the healthy ones.
    pub fn find_with_damaged(&self, template: &AttrMap) -> Result<(Found, Vec<i64>)> {
        let mut found = Vec::new();
        let damaged = self.search(template, true, &mut found, |id, obj| {
            Some((id, obj.clone()))
        })?;
        Ok((found, damaged))
    }

    /// What C_FindObjectsInit needs: the ids of the matching objects that
    /// `keep` accepts, and of the damaged rows (as in
    /// [`Token::find_with_damaged`]). Memory stays flat however large the
    /// token: rows are read a page at a time, each object is dropped once
    /// matched and none is added to the cache (issue 11: 100,000 objects
    /// found in a few MiB).
    pub fn find_ids(
        &self,
        template: &AttrMap,
        keep: impl Fn(&Object) -> bool,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let mut found = Vec::new();
        let damaged = self.search(template, false, &mut found, |id, obj| {
            keep(obj).then_some(id)
        })?;
        found.shrink_to_fit();
        Ok((found, damaged))
    }

    /// Fills `found` with `hit` of every healthy object matching
    /// `template` (where it gives `Some`), in id order; returns the damaged
    /// rows the indexed criteria match. `remember`: whether the objects
    /// read go into the cache.
    ///
    /// A search that needs several pages checks that no commit (by any
    /// thread or process) landed between its first and last page, so its
    /// result is one consistent view — e.g. a key rotated mid-search is
    /// found once, never twice or not at all. If commits keep landing, it
    /// starts over; the last attempt reads everything in one statement.
    fn search<T>(
        &self,
        template: &AttrMap,
        remember: bool,
        found: &mut Vec<T>,
        mut hit: impl FnMut(i64, &Arc<Object>) -> Option<T>,
    ) -> Result<Vec<i64>> {
        let include_private = self.sees_private()?;
        let mk = if include_private {
            self.master_key()?
        } else {
            None
        };
        let candidates = |ty| -> Result<Option<Vec<Vec<u8>>>> {
            let Some(value) = template.get(&ty) else {
                return Ok(None);
            };
            let mut keys = vec![value.clone()];
            if let Some(mk) = &mk {
                keys.push(seal::lookup_tag(mk, ty, value));
            }
            Ok(Some(keys))
        };
        let class = match template.get(&CKA_CLASS) {
            Some(v) => Some(object::attrs::decode_u64(v).ok_or(Error::AttributeValueInvalid)?),
            None => None,
        };
        let filter = RowFilter {
            class,
            label: candidates(CKA_LABEL)?,
            id: candidates(CKA_ID)?,
            include_private,
        };
        let wants = |ty: CK_ATTRIBUTE_TYPE, v: bool| {
            template
                .get(&ty)
                .is_none_or(|t| t.as_slice() == object::attrs::bool_value(v).as_slice())
        };
        let mut damaged = Vec::new();
        let mut visit = |row: &ObjectRow, found: &mut Vec<T>, damaged: &mut Vec<i64>| {
            match self.object_of_row_with(row, false, remember) {
                // The version rule: a plain search sees primary versions only.
                Ok(obj) if obj.matches(template) && versions::visible(template, &obj) => {
                    found.extend(hit(row.id, &obj));
                }
                Ok(_) => {}
                Err(Error::Tampered) => {
                    if wants(CKA_TOKEN, true) && wants(CKA_PRIVATE, row.private) {
                        damaged.push(row.id);
                    }
                }
                Err(e) => return Err(e),
            }
            Ok(())
        };
        // The first pass reads one page without a stamp: most searches
        // (by label or id) end there, and one statement is consistent by
        // itself. A search that needs more pages starts over, stamped.
        let mut stamped = false;
        for _ in 0..SEARCH_ATTEMPTS {
            found.clear();
            damaged.clear();
            let mut after = i64::MIN;
            let mut first = None;
            loop {
                // Each page is read under the connection lock and released
                // before its rows are opened: opening one may write (damage
                // is recorded in the audit trail).
                let (page, stamp) = self.db.find_page(&filter, after, FIND_PAGE, stamped)?;
                let first = *first.get_or_insert(stamp);
                for row in &page {
                    visit(row, found, &mut damaged)?;
                }
                #[cfg(test)]
                if stamped && let Some(f) = AFTER_FIRST_PAGE.with(|h| h.borrow_mut().take()) {
                    f();
                }
                let full = page.len() == FIND_PAGE;
                if after == i64::MIN && !full {
                    return Ok(damaged);
                }
                if !stamped {
                    stamped = true;
                    break;
                }
                match page.last() {
                    Some(last) if full => after = last.id,
                    _ if first.is_some() && self.db.change_stamp().map(Some)? == first => {
                        return Ok(damaged);
                    }
                    _ => break,
                }
            }
        }
        found.clear();
        damaged.clear();
        for row in &self.db.find(&filter)? {
            visit(row, found, &mut damaged)?;
        }
        Ok(damaged)
    }

    /// Tests: runs `f` once after the next search's first page (on this
    /// thread); [`Token::mid_search_pending`] tells whether it ran.
    #[cfg(test)]
    pub(crate) fn after_first_page(f: Box<dyn FnOnce()>) {
        AFTER_FIRST_PAGE.with(|h| *h.borrow_mut() = Some(f));
    }

    #[cfg(test)]
    pub(crate) fn mid_search_pending() -> bool {
        AFTER_FIRST_PAGE.with(|h| h.borrow().is_some())
    }

    /// How many objects the cache holds (tests: a search must not fill it).
    #[cfg(test)]
    pub(crate) fn cached_objects(&self) -> usize {
        self.cache().map_or(0, |c| c.len())
    }

    /// Ids of every object row (for handle bookkeeping after a wipe).
    pub fn forget_cache(&self) -> Result<()> {
        self.cache()?.clear();
        Ok(())
    }
}

/// A row that failed its integrity check, as `keyward token check` and
/// `keys list` show it: never any attribute value beyond the clear label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DamagedRow {
    pub object_id: u64,
    pub class: String,
    /// The CKO_ value of `class`.
    #[serde(skip)]
    pub class_value: u64,
    pub private: bool,
    /// The clear CKA_LABEL, if the clear half still decodes.
    pub label: Option<String>,
    /// Of this version of the row (as in its `object_damaged` record).
    pub fingerprint: String,
}

impl DamagedRow {
    fn of(row: &ObjectRow) -> DamagedRow {
        let stub = damaged_stub(row);
        DamagedRow {
            object_id: row.id.cast_unsigned(),
            class: crate::mechanism::names::class_name(row.class),
            class_value: row.class,
            private: row.private,
            label: stub
                .bytes(CKA_LABEL)
                .map(|l| String::from_utf8_lossy(l).into_owned()),
            fingerprint: seal::row_fingerprint(
                row.id,
                row.generation,
                row.class,
                row.private,
                &row.public,
                &row.sealed,
            ),
        }
    }
}

/// What can be said of a damaged row for its audit record: its class
/// (from the row) and, if the clear half decodes, its clear label.
fn damaged_stub(row: &ObjectRow) -> Object {
    let mut clear = AttrMap::new();
    if let Ok(attrs) = codec::decode_attrs(&row.public)
        && let Some(label) = attrs.get(&CKA_LABEL)
    {
        clear.insert(CKA_LABEL, label.clone());
    }
    clear.insert(CKA_CLASS, object::attrs::ulong_value(row.class));
    Object::join(clear, AttrMap::new())
}
