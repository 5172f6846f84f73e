//! Where new objects come from: each gets its lifecycle stamp (state,
//! origin, creation time, policy end date), passes the key policy, and is
//! stored with its audit record. Refusals are audited here too.

use cryptoki_sys::*;

use super::Library;
use super::handles::ObjRef;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::{self, policy::Refusal, vendor::*};
use crate::object::{AttrMap, Object};
use crate::session::Session;
use crate::token::Token;

/// How an object came to be.
pub(super) struct Provenance {
    pub event: Event,
    pub origin: CK_ULONG,
    pub state: CK_ULONG,
    /// CK_TRUE CKA_KEYWARD_QUORUM in the template.
    pub quorum: bool,
}

impl Provenance {
    /// From a creation template: takes out the requested state (the one
    /// lifecycle attribute a caller may give).
    pub fn new(
        kind: &'static str,
        origin: CK_ULONG,
        mech: Option<CK_MECHANISM_TYPE>,
        template: &mut AttrMap,
    ) -> Result<Provenance> {
        let state = lifecycle::take_requested_state(template)?;
        let quorum = lifecycle::take_quorum_mark(template)?;
        let mut event = Event::new(kind);
        if let Some(m) = mech {
            event = event.mech(m);
        }
        Ok(Provenance {
            event,
            origin,
            state,
            quorum,
        })
    }
}

/// Audits a policy refusal and turns it into the caller's error.
pub(super) fn refused(
    token: &Token,
    ev: &Event,
    object: Option<(i64, &Object)>,
    r: Refusal,
) -> Error {
    let record = Event {
        kind: "policy_refusal",
        ..ev.clone()
    }
    .failed(r.error)
    .detail(format!("{}: {}", ev.kind, r.rule));
    let _ = token.audit(&record, object);
    r.error
}

/// The token row id behind a handle reference, if it is a token object.
pub(super) fn row_id(r: &ObjRef) -> Option<i64> {
    match r {
        ObjRef::Token { id, .. } => Some(*id),
        ObjRef::Session { .. } => None,
    }
}

impl Library {
    /// Stamps a new object and checks it against the policy.
    pub(super) fn prepare(&self, token: &Token, obj: Object, p: &Provenance) -> Result<Object> {
        let mut obj = lifecycle::stamp(obj, p.origin, p.state, &token.lifecycle);
        if p.quorum {
            // Keys only: the mark guards key material.
            if !matches!(
                obj.class(),
                CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY
            ) {
                return Err(Error::AttributeTypeInvalid);
            }
            let mut attrs = obj.attrs().clone();
            attrs.insert(CKA_KEYWARD_QUORUM, vec![1]);
            obj = Object::from_attrs(attrs);
        }
        token
            .lifecycle
            .check_new_key(&obj, p.event.mechanism)
            .map_err(|r| refused(token, &p.event, None, r))?;
        Ok(obj)
    }

    /// Checks the lifecycle and the policy before a key is used, counts
    /// the use, and audits refusals (and, when configured, every use).
    pub(super) fn check_use(
        &self,
        token: &Token,
        r: &ObjRef,
        obj: &Object,
        usage: CK_ATTRIBUTE_TYPE,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<()> {
        let id = row_id(r);
        let about = id.map(|id| (id, obj));
        let op = Event::new("use").mech(mech);
        if let Some(reason) = lifecycle::refusal(obj, usage) {
            let ev = Event::new("use_refused")
                .mech(mech)
                .failed(Error::KeyFunctionNotPermitted)
                .detail(reason);
            let _ = token.audit(&ev, about);
            return Err(Error::KeyFunctionNotPermitted);
        }
        token
            .lifecycle
            .check_use(obj, mech, usage)
            .map_err(|r| refused(token, &op, about, r))?;
        self.count_use(token, id, obj, mech)
    }

    /// Counts a permitted use of token row `id` (and records it when
    /// every crypto operation is audited).
    pub(super) fn count_use(
        &self,
        token: &Token,
        id: Option<i64>,
        obj: &Object,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<()> {
        if let Some(id) = id {
            token.note_use(id)?;
            if token.audits_crypto_ops() {
                token.audit(&Event::new("use").mech(mech), Some((id, obj)))?;
            }
        }
        Ok(())
    }

    /// Stores a prepared object: a token row with its audit record, or a
    /// session object (not audited: it dies with its session).
    pub(super) fn store(
        &self,
        s: &Session,
        token: &Token,
        obj: Object,
        ev: &Event,
    ) -> Result<CK_OBJECT_HANDLE> {
        super::object::check_write(s, token, &obj)?;
        if obj.is_token() {
            let id = token.insert(&obj, ev)?;
            Ok(self
                .handles()?
                .token_handle(s.token, id, || self.new_handle()))
        } else {
            let h = self.new_handle();
            self.handles()?.insert_session_object(
                h,
                ObjRef::Session {
                    token: s.token,
                    session: s.handle,
                    object: std::sync::Arc::new(obj),
                    key: std::sync::Arc::default(),
                },
            );
            Ok(h)
        }
    }

    /// The value of a computed lifecycle attribute of a token object.
    pub(super) fn computed(
        &self,
        token: &Token,
        r: &ObjRef,
        obj: &Object,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<Option<CK_ULONG>> {
        let Some(id) = row_id(r) else {
            return Ok(None);
        };
        if !lifecycle::has_lifecycle(obj.class()) {
            return Ok(None);
        }
        Ok(match ty {
            CKA_KEYWARD_OBJECT_ID => Some(id.cast_unsigned()),
            CKA_KEYWARD_USE_COUNT => Some(token.usage_of(id)?.0),
            CKA_KEYWARD_LAST_USED => Some(token.usage_of(id)?.1),
            _ => None,
        })
    }
}
