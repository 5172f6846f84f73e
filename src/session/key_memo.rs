//! A session's memo of the token keys it used last, so a repeated
//! `C_*Init` with the same key takes no lock shared with other sessions
//! and writes no memory another session's thread touches.
//!
//! An entry first holds weak references: the token's key cache owns the
//! keys. Used again, an entry of a secret key becomes the session's own
//! copy of the object and key (its schedules built anew for this session):
//! every `C_*Init` clones and drops an `Arc`, and on an `Arc` that threads
//! on other cores share, that read-modify-write of one cache line is what
//! kept two threads on one AES key at ~1.6–1.9× one thread (issue 11).
//! Asymmetric keys stay shared (one signature costs ~1,000× more than the
//! line), as do keys used once per session.
//!
//! A copy lives no longer than what it copies: the library drops every
//! memo entry of a token at logout, a destroyed object's entries at
//! C_DestroyObject (`Library::forget_keys`), and a memo drops its entries
//! the moment it sees the token changed (any commit by any process, any
//! in-process change); a closed session drops its memo.

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
    held: Held,
    /// The last (mechanism, usage) this key passed every check for — the
    /// object's flags, its lifecycle and the policy — when none of those
    /// answers can change without the stamp moving (the key has no start
    /// or end date, which the clock alone can cross).
    passed: Option<(CK_MECHANISM_TYPE, CK_ATTRIBUTE_TYPE)>,
}

/// How an entry holds its object and key.
enum Held {
    /// The token cache's own, weakly: gone when the cache drops them.
    Shared {
        object: Weak<Object>,
        key: Weak<Key>,
    },
    /// This session's copies, whose reference counts no other thread
    /// touches.
    Own { object: Arc<Object>, key: Arc<Key> },
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
    /// What was remembered for `handle` at exactly `at`. Entries made at
    /// another stamp are dropped first: the token changed since, so none
    /// of them can answer again (and their copies must not outlive it).
    /// Absent also when the key is gone (the token's cache dropped it).
    /// A secret key found a second time becomes this session's own copy.
    pub fn get(&mut self, handle: CK_OBJECT_HANDLE, at: KeyStamp) -> Option<Remembered> {
        if self.entries.iter().any(|e| e.at != at) {
            self.entries.retain(|e| e.at == at);
            self.next = 0;
        }
        let e = self.entries.iter_mut().find(|e| e.handle == handle)?;
        let (object, key) = match &e.held {
            Held::Own { object, key } => (Arc::clone(object), Arc::clone(key)),
            Held::Shared { object, key } => {
                let (object, key) = (object.upgrade()?, key.upgrade()?);
                if matches!(*key, Key::Secret { .. }) {
                    // A clone starts with empty schedules: this session
                    // builds its own on its next operation.
                    let own_object = Arc::new(Object::clone(&object));
                    let own_key = Arc::new(Key::clone(&key));
                    e.held = Held::Own {
                        object: Arc::clone(&own_object),
                        key: Arc::clone(&own_key),
                    };
                    (own_object, own_key)
                } else {
                    (object, key)
                }
            }
        };
        Some(Remembered {
            id: e.id,
            private: e.private,
            object,
            key,
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
            held: Held::Shared {
                object: Arc::downgrade(object),
                key: Arc::downgrade(key),
            },
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

    /// Drops the entries of token row `id` (the object was destroyed).
    pub fn forget(&mut self, id: i64) {
        if self.entries.iter().any(|e| e.id == id) {
            self.entries.retain(|e| e.id != id);
            self.next = 0;
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
