//! The `Library` side of separation of duties: the quorum check of the
//! object operations (destroy, export, changes that make a key more
//! usable), and the officer, rule, request and vote calls of the CLI. The
//! rules are in `crate::quorum`, the checks in `crate::token::quorum`.

use cryptoki_sys::*;

use super::Library;
use super::handles::ObjRef;
use crate::error::{Error, Result};
use crate::object::{AttrMap, Object};
use crate::quorum::{Config, Decision, Op, Request, Tally, object_target};
use crate::token::Token;
use crate::token::quorum::{NewRequest, QuorumView, Subject};

/// Attributes whose change only ever takes a power away from a key, with
/// the value that does so; setting one of them to that value needs no
/// approval (nor does re-setting any attribute to its current value).
const RESTRICTING: [(CK_ATTRIBUTE_TYPE, u8); 16] = [
    (CKA_ENCRYPT, 0),
    (CKA_DECRYPT, 0),
    (CKA_SIGN, 0),
    (CKA_SIGN_RECOVER, 0),
    (CKA_VERIFY, 0),
    (CKA_VERIFY_RECOVER, 0),
    (CKA_WRAP, 0),
    (CKA_UNWRAP, 0),
    (CKA_DERIVE, 0),
    (CKA_ENCAPSULATE, 0),
    (CKA_DECAPSULATE, 0),
    (CKA_EXTRACTABLE, 0),
    (CKA_MODIFIABLE, 0),
    (CKA_COPYABLE, 0),
    (CKA_SENSITIVE, 1),
    (CKA_WRAP_WITH_TRUSTED, 1),
];

/// Whether applying `template` to `original` only makes it less usable.
pub(super) fn only_restricts(original: &Object, template: &AttrMap) -> bool {
    template.iter().all(|(ty, v)| {
        original.bytes(*ty) == Some(v.as_slice())
            || RESTRICTING
                .iter()
                .any(|(t, off)| t == ty && v.as_slice() == [*off])
    })
}

/// How a key is named in requests and records.
pub fn describe(obj: &Object, id: i64) -> String {
    let class = match obj.class() {
        CKO_SECRET_KEY => "secret key",
        CKO_PRIVATE_KEY => "private key",
        CKO_PUBLIC_KEY => "public key",
        CKO_CERTIFICATE => "certificate",
        _ => "object",
    };
    let label = obj
        .bytes(CKA_LABEL)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    format!("{class} '{label}' #{id}")
}

impl Library {
    /// The quorum check of `op` on the object behind `r`: private and
    /// secret keys stored on the token (a session object dies with its
    /// session).
    pub(super) fn authorize_object(
        &self,
        token: &Token,
        r: &ObjRef,
        obj: &Object,
        op: Op,
    ) -> Result<()> {
        let ObjRef::Token { id, .. } = r else {
            return Ok(());
        };
        // Key material only: a public key or certificate can be made or
        // imported again; a private or secret key cannot.
        if !matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
            return Ok(());
        }
        token.authorize(&Subject {
            op,
            target: object_target(*id),
            marked: crate::lifecycle::quorum_marked(obj),
            object: Some((*id, obj)),
        })
    }

    pub fn quorum_view(&self, slot: CK_SLOT_ID) -> Result<QuorumView> {
        self.slot(slot)?.1.quorum_view()
    }

    /// Adds an officer (the SO logged in; an approved `policy` request
    /// once rules exist).
    pub fn add_officer(&self, slot: CK_SLOT_ID, name: &str, passphrase: &[u8]) -> Result<Config> {
        self.slot(slot)?.1.add_officer(name, passphrase)
    }

    pub fn remove_officer(&self, slot: CK_SLOT_ID, name: &str) -> Result<Config> {
        self.slot(slot)?.1.remove_officer(name)
    }

    pub fn set_quorum_rules(
        &self,
        slot: CK_SLOT_ID,
        changes: &[(String, Option<u32>)],
    ) -> Result<Config> {
        self.slot(slot)?.1.set_quorum_rules(changes)
    }

    pub fn create_request(&self, slot: CK_SLOT_ID, new: &NewRequest) -> Result<Request> {
        self.slot(slot)?.1.create_request(new)
    }

    pub fn requests(&self, slot: CK_SLOT_ID) -> Result<Vec<Request>> {
        self.slot(slot)?.1.requests()
    }

    pub fn request_status(&self, slot: CK_SLOT_ID, id: i64) -> Result<(Request, Tally, u32)> {
        self.slot(slot)?.1.request_status(id)
    }

    pub fn vote(
        &self,
        slot: CK_SLOT_ID,
        id: i64,
        officer: &str,
        passphrase: &[u8],
        decision: Decision,
    ) -> Result<(Request, Tally, u32)> {
        self.slot(slot)?.1.vote(id, officer, passphrase, decision)
    }

    /// The target and description of the token object behind `obj`, for
    /// a request about it.
    pub fn request_subject(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
    ) -> Result<(String, String)> {
        self.with_session(h, |s, token| {
            let (r, object) = self.resolve(s, token, obj, false)?;
            match r {
                ObjRef::Token { id, .. } => Ok((object_target(id), describe(&object, id))),
                ObjRef::Session { .. } => {
                    Err(Error::ArgumentsBad.because(&"a session object is not quorum-protected"))
                }
            }
        })
    }

    /// The target naming the slot's token for `what` ("token",
    /// "user-pin").
    pub fn token_target(&self, slot: CK_SLOT_ID, what: &str) -> Result<String> {
        self.slot(slot)?.1.token_target(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_need_no_approval() {
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, CKO_SECRET_KEY.to_le_bytes().to_vec());
        attrs.insert(CKA_SIGN, vec![1]);
        attrs.insert(CKA_LABEL, b"k".to_vec());
        let key = Object::from_attrs(attrs);
        let t = |pairs: &[(CK_ATTRIBUTE_TYPE, &[u8])]| -> AttrMap {
            pairs.iter().map(|(t, v)| (*t, v.to_vec())).collect()
        };
        assert!(only_restricts(&key, &t(&[(CKA_SIGN, &[0])])));
        assert!(only_restricts(&key, &t(&[(CKA_SENSITIVE, &[1])])));
        assert!(only_restricts(&key, &t(&[(CKA_LABEL, b"k")])));
        assert!(!only_restricts(&key, &t(&[(CKA_LABEL, b"other")])));
        assert!(!only_restricts(&key, &t(&[(CKA_ENCRYPT, &[1])])));
        assert!(!only_restricts(
            &key,
            &t(&[(CKA_SIGN, &[0]), (CKA_DECRYPT, &[1])])
        ));
        assert!(!only_restricts(&key, &t(&[(CKA_END_DATE, b"20991231")])));
    }
}
