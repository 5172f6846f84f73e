//! A session's memo of the token keys it used last, so a repeated
//! `C_*Init` with the same key takes no lock shared with other sessions.
//!
//! Entries hold weak references: the token's key cache owns the keys, so
//! a logout (which empties that cache) destroys them at once even while
//! a session still remembers them.

use std::sync::{Arc, Weak};

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE};

use crate::mechanism::Key;
use crate::object::Object;

/// When a memo entry was made: the token store's stamp (moved by every
/// commit of any process) and the token's local generation (moved by every
/// in-process change a store commit does not show: a login or logout, a
/// cache entry dropped). An entry is good only while both are unchanged.
pub type KeyStamp = (u64, u64);

/// Entries kept per session: applications use few keys per session; a
/// miss only costs the token cache's lookup.
const ENTRIES: usize = 8;

struct Entry {
    handle: CK_OBJECT_HANDLE,
    /// The token row behind the handle.
    id: i64,
    at: KeyStamp,
    private: bool,
    object: Weak<Object>,
    key: Weak<Key>,
    /// The last (mechanism, usage) this key passed every check for — the
    /// object's flags, its lifecycle and the policy — when none of those
    /// answers can change without the stamp moving (the key has no start
    /// or end date, which the clock alone can cross).
    passed: Option<(CK_MECHANISM_TYPE, CK_ATTRIBUTE_TYPE)>,
}

/// A remembered token key: its row, whether the object is private (the
/// caller checks the login), the object and its parsed key.
pub struct Remembered {
    pub id: i64,
    pub private: bool,
    pub object: Arc<Object>,
    pub key: Arc<Key>,
    pub passed: Option<(CK_MECHANISM_TYPE, CK_ATTRIBUTE_TYPE)>,
}

#[derive(Default)]
pub struct KeyMemo {
    entries: Vec<Entry>,
    /// Where the next entry goes once the memo is full (oldest first).
    next: usize,
}

impl KeyMemo {
    /// What was remembered for `handle` at exactly `at`.
    /// Absent also when the key is gone (the token's cache dropped it).
    pub fn get(&self, handle: CK_OBJECT_HANDLE, at: KeyStamp) -> Option<Remembered> {
        let e = self
            .entries
            .iter()
            .find(|e| e.handle == handle && e.at == at)?;
        Some(Remembered {
            id: e.id,
            private: e.private,
            object: e.object.upgrade()?,
            key: e.key.upgrade()?,
            passed: e.passed,
        })
    }

    /// Notes that `handle`'s key (remembered at `at`) passed every check
    /// for `mech` and `usage`; the caller has made sure no answer depends
    /// on the clock.
    pub fn passed(
        &mut self,
        handle: CK_OBJECT_HANDLE,
        at: KeyStamp,
        mech: CK_MECHANISM_TYPE,
        usage: CK_ATTRIBUTE_TYPE,
    ) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.handle == handle && e.at == at)
        {
            e.passed = Some((mech, usage));
        }
    }

    /// Remembers a token key looked up with `at` taken before the lookup.
    pub fn put(
        &mut self,
        handle: CK_OBJECT_HANDLE,
        id: i64,
        at: KeyStamp,
        object: &Arc<Object>,
        key: &Arc<Key>,
    ) {
        let entry = Entry {
            handle,
            id,
            at,
            private: object.is_private(),
            object: Arc::downgrade(object),
            key: Arc::downgrade(key),
            passed: None,
        };
        if let Some(slot) = self.entries.iter_mut().find(|e| e.handle == handle) {
            *slot = entry;
        } else if self.entries.len() < ENTRIES {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % ENTRIES;
        }
    }

    /// Drops every entry (logout, or the session ends).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.next = 0;
    }
}

impl std::fmt::Debug for KeyMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        write!(f, "KeyMemo({} entries)", self.entries.len())
    }
}
