//! Object handles: a token object keeps one handle for the library's life
//! (clients cache handles across logout/login); session objects live here.

use std::collections::HashMap;
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
    by_handle: HashMap<CK_OBJECT_HANDLE, ObjRef>,
    by_row: HashMap<(usize, i64), CK_OBJECT_HANDLE>,
}

impl HandleTable {
    pub fn get(&self, h: CK_OBJECT_HANDLE) -> Option<&ObjRef> {
        self.by_handle.get(&h)
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
        self.by_handle.insert(h, ObjRef::Token { token, id });
        h
    }

    pub fn insert_session_object(&mut self, h: CK_OBJECT_HANDLE, r: ObjRef) {
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
        if let Some(ObjRef::Token { token, id }) = self.by_handle.remove(&h) {
            self.by_row.remove(&(token, id));
        }
    }

    /// Drops the session objects matching `pred` (session close, logout).
    pub fn remove_session_objects(
        &mut self,
        mut pred: impl FnMut(usize, CK_SESSION_HANDLE, &Object) -> bool,
    ) {
        self.by_handle.retain(|_, r| match r {
            ObjRef::Session {
                token,
                session,
                object,
                ..
            } => !pred(*token, *session, object),
            ObjRef::Token { .. } => true,
        });
    }

    /// Forgets the stored objects of a token (C_InitToken wiped it). Its
    /// session objects stay: C_InitToken runs only without sessions, so
    /// the only ones left are the token's own profile objects.
    pub fn forget_token(&mut self, token: usize) {
        self.by_handle
            .retain(|_, r| !matches!(r, ObjRef::Token { token: t, .. } if *t == token));
        self.by_row.retain(|(t, _), _| *t != token);
    }

    /// Session objects of a token visible to a search.
    pub fn session_objects(
        &self,
        token: usize,
    ) -> impl Iterator<Item = (CK_OBJECT_HANDLE, &Arc<Object>)> {
        self.by_handle.iter().filter_map(move |(h, r)| match r {
            ObjRef::Session {
                token: t, object, ..
            } if *t == token => Some((*h, object)),
            _ => None,
        })
    }
}
