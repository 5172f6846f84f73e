//! Object management: create, copy, destroy, attributes and search.

use std::sync::Arc;

use cryptoki_sys::*;

use super::handles::ObjRef;
use super::provenance::{self, Provenance};
use super::{Attr, AttrRead, Library};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::vendor::{CKW_ORIGIN_COPIED, CKW_ORIGIN_IMPORTED};
use crate::object::{self, AttrMap, Object};
use crate::quorum::Op;
use crate::session::Session;
use crate::token::{Login, Token};

impl Library {
    /// Resolves an object handle seen from a session; private objects only
    /// for the logged-in user. `need_secret` loads the sealed part too.
    pub(super) fn resolve(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
        need_secret: bool,
    ) -> Result<(ObjRef, Arc<Object>)> {
        let r = self
            .handles_read()?
            .get(h)
            .filter(|r| r.token_index() == s.token)
            .ok_or(Error::ObjectHandleInvalid)?;
        let obj = match &r {
            ObjRef::Token { id, .. } => token.load(*id, need_secret)?,
            ObjRef::Session { object, .. } => {
                if object.is_private() && token.login_role()? != Login::User {
                    return Err(Error::ObjectHandleInvalid);
                }
                object.clone()
            }
        };
        Ok((r, obj))
    }

    /// Stamps, checks and stores a new object.
    pub(super) fn add_object(
        &self,
        s: &Session,
        token: &Token,
        obj: Object,
        p: &Provenance,
    ) -> Result<CK_OBJECT_HANDLE> {
        check_write(s, token, &obj)?;
        let obj = self.prepare(token, obj, p)?;
        self.store(s, token, obj, &p.event)
    }

    pub fn create_object(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[Attr],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_session(h, |s, token| {
            let mut template = object::attrs::parse_template(template)?;
            default_private(token, &mut template)?;
            let is_key = matches!(
                template
                    .get(&CKA_CLASS)
                    .and_then(|v| object::attrs::decode_u64(v)),
                Some(CKO_PRIVATE_KEY | CKO_SECRET_KEY | CKO_PUBLIC_KEY)
            );
            let p = if is_key {
                Provenance::new("import", CKW_ORIGIN_IMPORTED, None, &mut template)?
            } else {
                Provenance::new("create", CKW_ORIGIN_IMPORTED, None, &mut template)?
            };
            let obj = object::template::create(&template, token.login_role()? == Login::So)?;
            self.add_object(s, token, obj, &p)
        })
    }

    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &[Attr],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_session(h, |s, token| {
            let mut template = object::attrs::parse_template(template)?;
            let (_, original) = self.resolve(s, token, obj, true)?;
            let mut p = Provenance::new("copy", CKW_ORIGIN_COPIED, None, &mut template)?;
            // A copy never revives a key: it keeps the original's state.
            p.state = crate::lifecycle::state(&original);
            let copy =
                object::template::copy(&original, &template, token.login_role()? == Login::So)?;
            token
                .lifecycle
                .check_change(&original, &copy)
                .map_err(|r| provenance::refused(token, &p.event, None, r))?;
            self.add_object(s, token, copy, &p)
        })
    }

    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        self.with_session(h, |s, token| self.destroy_in(s, token, obj))
    }

    /// Tries once, without waiting, to erase from the token's files the
    /// old page versions of every destroyed object (a checkpoint that
    /// empties the WAL). `true` once none remain; `false` while a reader
    /// in some process still holds a snapshot that needs them. Used by
    /// `keyward keys destroy --wait`.
    pub fn erase_destroyed(&self, slot: CK_SLOT_ID) -> Result<bool> {
        self.slot(slot)?.1.erase_now()
    }

    pub(super) fn destroy_in(
        &self,
        s: &Session,
        token: &Token,
        obj: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (r, object) = match self.resolve(s, token, obj, false) {
            Err(Error::Tampered) => return self.destroy_damaged(s, token, obj),
            other => other?,
        };
        check_write(s, token, &object)?;
        if object.bytes(CKA_DESTROYABLE).is_some() && !object.flag(CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        self.authorize_object(token, &r, &object, Op::Destroy)?;
        if let ObjRef::Token { id, .. } = r {
            token.delete(id, &object, &Event::new("destroy"))?;
            self.forget_keys(s.token, Some(id))?;
        }
        self.handles()?.remove(obj);
        Ok(())
    }

    /// A row that fails its integrity check can still be removed, or only
    /// re-initializing the token would clear it. Nothing it claims can be
    /// trusted (CKA_PRIVATE, CKA_DESTROYABLE), so this takes a R/W session
    /// of the logged-in user, who may destroy any object. Audited as such.
    fn destroy_damaged(&self, s: &Session, token: &Token, obj: CK_OBJECT_HANDLE) -> Result<()> {
        let id = match self.handles_read()?.get(obj) {
            Some(ObjRef::Token { id, .. }) => id,
            _ => return Err(Error::Tampered),
        };
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if token.login_role()? != Login::User {
            return Err(Error::UserNotLoggedIn);
        }
        // Whether it carried the quorum mark cannot be known: the rule of
        // its class applies.
        token.authorize(&crate::token::quorum::Subject {
            op: Op::Destroy,
            target: crate::quorum::object_target(id),
            marked: false,
            object: None,
        })?;
        let empty = Object::join(Default::default(), Default::default());
        let ev = Event::new("destroy").detail("damaged row");
        token.delete(id, &empty, &ev)?;
        self.forget_keys(s.token, Some(id))?;
        self.handles()?.remove(obj);
        Ok(())
    }

    pub fn object_size(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<u64> {
        self.with_session(h, |s, token| {
            Ok(self.resolve(s, token, obj, false)?.1.size())
        })
    }

    pub fn attribute_values(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        self.attribute_values_for(h, obj, types, &|_| true)
    }

    /// C_GetAttributeValue: `wants(i)` says entry `i` has a buffer (a
    /// value is read, not only its length). Reading a key's secret value
    /// is an export: where a quorum rule or the key's mark covers it, the
    /// read uses up an approved request, and without one the value is
    /// CKR_ATTRIBUTE_SENSITIVE (the code C_GetAttributeValue has for a
    /// value it may not reveal). A length alone reveals nothing and
    /// uses nothing up.
    pub fn attribute_values_for(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
        wants: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<AttrRead>> {
        self.with_session(h, |s, token| {
            let unseal = token.login_role()? == Login::User
                && types.iter().any(|ty| SECRET_TYPES.contains(ty));
            let (r, object) = self.resolve(s, token, obj, unseal)?;
            let mut out = Vec::with_capacity(types.len());
            for ty in types {
                if crate::lifecycle::COMPUTED.contains(ty) {
                    out.push(match self.computed(token, &r, &object, *ty)? {
                        Some(v) => AttrRead::Value(object::attrs::wire_ulong(v)),
                        None => AttrRead::Invalid,
                    });
                    continue;
                }
                out.push(match object.read(*ty) {
                    // The secret half was not unsealed (no login): it is
                    // there, but not readable now.
                    AttrRead::Invalid
                        if !unseal && object::is_secret_component(object.class(), *ty) =>
                    {
                        AttrRead::Sensitive
                    }
                    other => other,
                });
            }
            let exported: Vec<usize> = out
                .iter()
                .enumerate()
                .filter(|(i, read)| {
                    matches!(read, AttrRead::Value(_))
                        && types.get(*i).is_some_and(|ty| SECRET_TYPES.contains(ty))
                        && wants(*i)
                })
                .map(|(i, _)| i)
                .collect();
            if !exported.is_empty() {
                match self.authorize_object(token, &r, &object, Op::Export) {
                    Ok(()) => {}
                    Err(Error::ActionProhibited) => {
                        for i in exported {
                            if let Some(read) = out.get_mut(i) {
                                *read = AttrRead::Sensitive;
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    pub fn set_attribute_values(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &[Attr],
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let template = object::attrs::parse_template(template)?;
            let (r, original) = self.resolve(s, token, obj, true)?;
            check_write(s, token, &original)?;
            let updated = object::template::set_attributes(
                &original,
                &template,
                token.login_role()? == Login::So,
            )?;
            let policy = &token.lifecycle;
            policy
                .check_change(&original, &updated)
                .and_then(|()| policy.check_size(&updated))
                .and_then(|()| policy.check_attributes(&updated))
                .map_err(|e| {
                    let about = provenance::row_id(&r).map(|id| (id, &updated));
                    provenance::refused(token, &Event::new("set_attribute"), about, e)
                })?;
            if !super::quorum::only_restricts(&original, &template) {
                self.authorize_object(token, &r, &original, Op::Modify)?;
            }
            match r {
                ObjRef::Token { id, .. } => {
                    let changed: Vec<String> =
                        template.keys().map(|t| format!("0x{t:x}")).collect();
                    let ev = Event::new("set_attribute").detail(changed.join(","));
                    token.update(id, &updated, &ev)
                }
                ObjRef::Session { .. } => {
                    self.handles()?
                        .replace_session_object(obj, Arc::new(updated));
                    Ok(())
                }
            }
        })
    }

    pub fn find_objects_init(&self, h: CK_SESSION_HANDLE, template: &[Attr]) -> Result<()> {
        self.with_session(h, |s, token| {
            if s.find.is_some() {
                return Err(Error::OperationActive);
            }
            let template: AttrMap = object::attrs::parse_template(template)?;
            let usable = |obj: &Object| usable_for_search(&template, obj);
            // Ids only, read page by page: memory stays flat with the
            // token's size (issue 11).
            let (healthy, damaged) = token.find_ids(&template, usable)?;
            let mut found = Vec::with_capacity(healthy.len() + damaged.len());
            // Damaged rows are found too: using them answers
            // CKR_DEVICE_ERROR, rather than the object silently vanishing.
            for id in healthy.into_iter().chain(damaged) {
                found.push(
                    self.handles()?
                        .token_handle(s.token, id, || self.new_handle()),
                );
            }
            let sees_private = token.login_role()? == Login::User;
            {
                let handles = self.handles()?;
                for (oh, obj) in handles.session_objects(s.token) {
                    if (sees_private || !obj.is_private())
                        && obj.matches(&template)
                        && crate::lifecycle::versions::visible(&template, obj)
                        && crate::object::profile::found_by(&template, obj)
                        && usable(obj)
                    {
                        found.push(oh);
                    }
                }
            }
            found.sort_unstable();
            found.reverse();
            s.find = Some(found);
            Ok(())
        })
    }

    pub fn find_objects(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        self.with_session(h, |s, _| {
            let pending = s.find.as_mut().ok_or(Error::OperationNotInitialized)?;
            let take = max.min(pending.len());
            let mut out = pending.split_off(pending.len() - take);
            out.reverse();
            Ok(out)
        })
    }

    pub fn find_objects_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.with_session(h, |s, _| {
            s.find.take().ok_or(Error::OperationNotInitialized)?;
            Ok(())
        })
    }
}

/// A search that asks for keys that may sign (encrypt, wrap, derive) finds
/// only keys that may do so today: expired and not-yet-valid keys keep
/// their flags (the dates decide), but are left out.
fn usable_for_search(template: &AttrMap, obj: &Object) -> bool {
    [CKA_SIGN, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE]
        .iter()
        .filter(|f| template.get(f).is_some_and(|v| v.as_slice() == [1]))
        .all(|f| crate::lifecycle::refusal(obj, *f).is_none())
}

/// Attributes that may sit in an object's sealed half.
const SECRET_TYPES: [CK_ATTRIBUTE_TYPE; 8] = [
    CKA_VALUE,
    CKA_SEED,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

/// The CKA_PRIVATE default for a new object (docs/KEY-SEPARATION.md,
/// "Session secrets without login"): a session object made while the
/// user is not logged in, whose template does not say, is public
/// (CKA_PRIVATE=false) — it never reaches the store, needs no master key,
/// and dies with its session. pkcs11-provider imports its HKDF and
/// TLS 1.3 secrets exactly so. Token objects, and objects made by the
/// logged-in user, keep the class default (keys private). §4.4 leaves
/// the default token-specific.
pub(super) fn default_private(token: &Token, template: &mut AttrMap) -> Result<()> {
    if template.contains_key(&CKA_PRIVATE) || token.login_role()? == Login::User {
        return Ok(());
    }
    if object::template::tpl_bool(template, CKA_TOKEN)? != Some(true) {
        template.insert(CKA_PRIVATE, object::attrs::bool_value(false));
    }
    Ok(())
}

/// Who may create, change or destroy an object from this session.
pub(super) fn check_write(s: &Session, token: &Token, obj: &Object) -> Result<()> {
    if obj.is_token() && !s.rw {
        return Err(Error::SessionReadOnly);
    }
    if obj.is_private() && token.login_role()? != Login::User {
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}
