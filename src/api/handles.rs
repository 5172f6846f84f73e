//! Object handles: a token object keeps one handle for the library's life
//! (clients cache handles across logout/login); session objects live here.

use crate::idhash::{IdMap, IdSet};
use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;

use crate::mechanism::Key;
use crate::object::Object;

#[derive(Clone)]
pub enum ObjRef {
    /// A row of a token's database.
    Token { token: usize, id: i64 },
    /// A session object, held in memory only.
    Session {
        token: usize,
        session: CK_SESSION_HANDLE,
        object: Arc<Object>,
        /// The parsed key, made on first use: parsing (e.g. deriving an EC
        /// public point) costs more than the operation it serves.
        key: Arc<OnceLock<Arc<Key>>>,
    },
}

impl ObjRef {
    pub fn token_index(&self) -> usize {
        match self {
            ObjRef::Token { token, .. } | ObjRef::Session { token, .. } => *token,
        }
    }
}

#[derive(Default)]
pub struct HandleTable {
    /// Token objects: handle → (token index, row id). Kept apart from the
    /// session objects so each of the (possibly 100,000s of) entries is 16
    /// bytes, not the size of a session object's `ObjRef`.
    tokens: IdMap<CK_OBJECT_HANDLE, (u32, i64)>,
    /// Session objects (and each token's profile object).
    by_handle: IdMap<CK_OBJECT_HANDLE, ObjRef>,
    by_row: IdMap<(usize, i64), CK_OBJECT_HANDLE>,
    /// The session objects of each session that has any (the profile
    /// objects sit under session 0): closing a session touches only its
    /// own objects, however many others the table holds (issue 11).
    by_session: IdMap<CK_SESSION_HANDLE, IdSet<CK_OBJECT_HANDLE>>,
    /// Entries looked at by the session-object removals, ever: the work a
    /// close does, observable by tests without a clock.
    visited: u64,
}

/// What the handle table holds and the work its removals have done; see
/// [`crate::api::Library::handle_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleStats {
    /// Live handles (token and session objects).
    pub handles: usize,
    /// Slots allocated for handles: bounded by the live count, not history.
    pub capacity: usize,
    /// Sessions that own at least one session object.
    pub owning_sessions: usize,
    /// Slots allocated for the per-session index.
    pub session_capacity: usize,
    /// Entries visited by session-object removals since the library began.
    pub visited: u64,
}

/// A map whose live entries fell to a quarter of its slots gives memory
/// back, so a burst of objects or sessions does not pin its peak forever.
/// Halving keeps the amortised cost of a removal O(1).
fn shrink<K: std::hash::Hash + Eq, V>(m: &mut IdMap<K, V>) {
    if m.capacity() > 64 && m.len() * 4 < m.capacity() {
        m.shrink_to(m.len() * 2);
    }
}

impl HandleTable {
    pub fn get(&self, h: CK_OBJECT_HANDLE) -> Option<ObjRef> {
        match self.tokens.get(&h) {
            Some(&(token, id)) => Some(ObjRef::Token {
                token: token as usize,
                id,
            }),
            None => self.by_handle.get(&h).cloned(),
        }
    }

    /// The handle of a token object, allocating one on first sight.
    pub fn token_handle(
        &mut self,
        token: usize,
        id: i64,
        new: impl FnOnce() -> CK_OBJECT_HANDLE,
    ) -> CK_OBJECT_HANDLE {
        if let Some(h) = self.by_row.get(&(token, id)) {
            return *h;
        }
        let h = new();
        self.by_row.insert((token, id), h);
        // Token indexes are slot positions in the configuration (a few).
        self.tokens
            .insert(h, (u32::try_from(token).unwrap_or(u32::MAX), id));
        h
    }

    pub fn insert_session_object(&mut self, h: CK_OBJECT_HANDLE, r: ObjRef) {
        if let ObjRef::Session { session, .. } = &r {
            self.by_session.entry(*session).or_default().insert(h);
        }
        self.by_handle.insert(h, r);
    }

    /// Replaces a session object after C_SetAttributeValue.
    pub fn replace_session_object(&mut self, h: CK_OBJECT_HANDLE, new: Arc<Object>) {
        if let Some(ObjRef::Session { object, key, .. }) = self.by_handle.get_mut(&h) {
            *object = new;
            *key = Arc::default();
        }
    }

    pub fn remove(&mut self, h: CK_OBJECT_HANDLE) {
        if let Some((token, id)) = self.tokens.remove(&h) {
            self.by_row.remove(&(token as usize, id));
            shrink(&mut self.by_row);
            shrink(&mut self.tokens);
            return;
        }
        match self.by_handle.remove(&h) {
            Some(ObjRef::Token { token, id }) => {
                self.by_row.remove(&(token, id));
                shrink(&mut self.by_row);
            }
            Some(ObjRef::Session { session, .. }) => self.unindex(session, h),
            None => {}
        }
        shrink(&mut self.by_handle);
    }

    fn unindex(&mut self, session: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE) {
        if let Some(set) = self.by_session.get_mut(&session) {
            set.remove(&h);
            if set.is_empty() {
                self.by_session.remove(&session);
                shrink(&mut self.by_session);
            }
        }
    }

    /// Drops the session objects of one closed session: O(its objects).
    pub fn remove_session(&mut self, session: CK_SESSION_HANDLE) {
        let Some(owned) = self.by_session.remove(&session) else {
            return;
        };
        self.visited += owned.len() as u64;
        for h in owned {
            self.by_handle.remove(&h);
        }
        shrink(&mut self.by_session);
        shrink(&mut self.by_handle);
    }

    /// Drops the session objects matching `pred` (logout drops the private
    /// ones of a token): walks session objects only, never token objects.
    pub fn remove_session_objects(
        &mut self,
        mut pred: impl FnMut(usize, CK_SESSION_HANDLE, &Object) -> bool,
    ) {
        let mut gone = Vec::new();
        for (session, owned) in &self.by_session {
            for h in owned {
                self.visited += 1;
                if let Some(ObjRef::Session { token, object, .. }) = self.by_handle.get(h)
                    && pred(*token, *session, object)
                {
                    gone.push((*session, *h));
                }
            }
        }
        for (session, h) in gone {
            self.by_handle.remove(&h);
            self.unindex(session, h);
        }
        shrink(&mut self.by_handle);
    }

    pub fn stats(&self) -> HandleStats {
        HandleStats {
            handles: self.by_handle.len() + self.tokens.len(),
            capacity: self.by_handle.capacity() + self.tokens.capacity(),
            owning_sessions: self.by_session.len(),
            session_capacity: self.by_session.capacity(),
            visited: self.visited,
        }
    }

    /// Forgets the stored objects of a token (C_InitToken wiped it). Its
    /// session objects stay: C_InitToken runs only without sessions, so
    /// the only ones left are the token's own profile objects.
    pub fn forget_token(&mut self, token: usize) {
        self.tokens.retain(|_, (t, _)| *t as usize != token);
        self.by_handle
            .retain(|_, r| !matches!(r, ObjRef::Token { token: t, .. } if *t == token));
        self.by_row.retain(|(t, _), _| *t != token);
    }

    /// Session objects of a token visible to a search.
    pub fn session_objects(
        &self,
        token: usize,
    ) -> impl Iterator<Item = (CK_OBJECT_HANDLE, &Arc<Object>)> {
        // Through the per-session index: token objects are not walked.
        self.by_session
            .values()
            .flatten()
            .filter_map(move |h| match self.by_handle.get(h) {
                Some(ObjRef::Session {
                    token: t, object, ..
                }) if *t == token => Some((*h, object)),
                _ => None,
            })
    }
}
