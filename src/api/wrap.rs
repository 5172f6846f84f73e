//! Moving keys without exposing them: C_WrapKey, C_UnwrapKey and
//! C_DeriveKey. The spec's checks come in order: handles, key usage flags
//! (CKA_WRAP/CKA_UNWRAP/CKA_DERIVE), extractability and trust, the key's
//! nested template (CKA_WRAP/UNWRAP/DERIVE_TEMPLATE), mechanism.

use std::sync::Arc;

use cryptoki_sys::*;

use super::handles::ObjRef;
use super::provenance::{Provenance, refused, row_id};
use super::{Attr, Library, Mech, Out, OutCap};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::vendor::{CKW_ORIGIN_DERIVED, CKW_ORIGIN_UNWRAPPED};
use crate::mechanism::{self, Key, Mechanism, RawParam};
use crate::object::{self, Object};
use crate::quorum::Op;
use crate::session::Session;
use crate::token::{Login, Token};

/// Errors about the key that does the wrapping get the wrapping codes.
fn as_wrapping(e: Error) -> Error {
    match e {
        Error::KeyHandleInvalid | Error::ObjectHandleInvalid => Error::WrappingKeyHandleInvalid,
        Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::WrappingKeySizeRange,
        other => other,
    }
}

/// Errors about the key that does the unwrapping get the unwrapping codes.
fn as_unwrapping(e: Error) -> Error {
    match e {
        Error::KeyHandleInvalid | Error::ObjectHandleInvalid => Error::UnwrappingKeyHandleInvalid,
        Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    }
}

impl Library {
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: OutCap,
    ) -> Result<Out> {
        self.with_session(h, |s, token| {
            let (wrap_obj, wrap_key) = self
                .use_key(s, token, wrapping, CKA_WRAP, mech.ty)
                .map_err(as_wrapping)?;
            let (target_ref, target) = self.wrap_target(s, token, key)?;
            object::wrap_check(&wrap_obj, &target)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let material = object::wrap_encoding(&target)?;
            let wrapped = mechanism::wrap(&m, &wrap_key, &material).map_err(as_wrapping)?;
            // After the mechanism's own checks (spec order: a wrapping key
            // of the wrong type is reported as such); the blob is dropped
            // unseen on refusal.
            token
                .lifecycle
                .check_wrap(&wrap_obj, &target)
                .map_err(|r| {
                    let about = row_id(&target_ref).map(|id| (id, &*target));
                    refused(token, &Event::new("wrap").mech(mech.ty), about, r)
                })?;
            Ok(match out {
                OutCap::Cap(cap) if cap >= wrapped.len() => {
                    // The export itself (not a length query) is what a
                    // quorum rule or the key's mark guards.
                    self.authorize_object(token, &target_ref, &target, Op::Export)?;
                    // An export of key material: always on the record.
                    if let Some(id) = row_id(&target_ref) {
                        token.audit(&Event::new("wrap").mech(mech.ty), Some((id, &target)))?;
                    }
                    Out::Data(wrapped)
                }
                _ => Out::Len(wrapped.len()),
            })
        })
    }

    /// The key to wrap. A token key is taken from the token's key cache
    /// when it is there and current (no unseal per wrap, and no row read
    /// once the cache is checked without one); anything else, and every
    /// failure, goes the general way, so the answers stay those of
    /// [`Library::resolve`]. The cache returns what `resolve` would: the
    /// same row, unsealed the same way.
    fn wrap_target(
        &self,
        s: &Session,
        token: &Token,
        key: CK_OBJECT_HANDLE,
    ) -> Result<(ObjRef, Arc<Object>)> {
        let cached = self
            .handles_read()?
            .get(key)
            .filter(|r| r.token_index() == s.token)
            .and_then(|r| row_id(&r).map(|id| (r, id)));
        if let Some((r, id)) = cached
            && let Ok((obj, _)) = token.key(id)
        {
            return Ok((r, obj));
        }
        self.resolve(s, token, key, true).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            other => other,
        })
    }

    pub fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &[Attr],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_session(h, |s, token| {
            let (unwrap_obj, unwrap_key) = self
                .use_key(s, token, unwrapping, CKA_UNWRAP, mech.ty)
                .map_err(as_unwrapping)?;
            object::unwrap_check(&unwrap_obj)?;
            let mut template = object::attrs::parse_template(template)?;
            super::object::default_private(token, &mut template)?;
            let p = Provenance::new("unwrap", CKW_ORIGIN_UNWRAPPED, Some(mech.ty), &mut template)?;
            let template = object::with_unwrap_template(&unwrap_obj, &template)?;
            let sensitive = object::template::tpl_bool(&template, CKA_SENSITIVE)?;
            token
                .lifecycle
                .check_unwrap_template(sensitive)
                .map_err(|r| refused(token, &p.event, None, r))?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let material = mechanism::unwrap(&m, &unwrap_key, wrapped).map_err(as_unwrapping)?;
            let so = token.login_role()? == Login::So;
            let obj = object::unwrapped_key(&template, material, so)?;
            self.add_object(s, token, obj, &p)
        })
    }

    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        base: CK_OBJECT_HANDLE,
        template: &[Attr],
    ) -> Result<CK_OBJECT_HANDLE> {
        // A derivation of a key set (SP 800-108) has its own path; here,
        // with no way to report more handles, only a set of one.
        if mechanism::derives_key_set(mech.ty) {
            if matches!(&mech.param, RawParam::Kbkdf(k) if !k.additional.is_empty()) {
                return Err(Error::MechanismParamInvalid);
            }
            let set = self.derive_key_set(h, mech, base, template)?;
            return set.first().copied().ok_or(Error::GeneralError);
        }
        self.with_session(h, |s, token| {
            let (base_obj, base_key) = self.derive_base(s, token, base, mech.ty)?;
            let mut template = object::attrs::parse_template(template)?;
            super::object::default_private(token, &mut template)?;
            let p = Provenance::new("derive", CKW_ORIGIN_DERIVED, Some(mech.ty), &mut template)?;
            let template = object::with_derive_template(&base_obj, &template)?;
            let mut m = Mechanism::from_raw(mech.ty, &mech.param)?;
            // CKM_CONCATENATE_BASE_AND_KEY: the other key is used like the
            // base (same session checks, CKA_DERIVE, lifecycle state).
            let other = match mechanism::second_key(&m) {
                Some(h) => {
                    let (obj, key) = self.use_key(s, token, h, CKA_DERIVE, mech.ty)?;
                    mechanism::bind_second_key(&mut m, &key)?;
                    Some(obj)
                }
                None => None,
            };
            let mut template = template;
            if mechanism::keeps_base_material(mech.ty) {
                // CKM_EXTRACT_KEY_FROM_KEY: "if the original key … is
                // sensitive, then the derived key must also be sensitive
                // for the derivation to succeed" — a template asking
                // otherwise is refused, not overridden.
                if mech.ty == CKM_EXTRACT_KEY_FROM_KEY
                    && base_obj.flag(CKA_SENSITIVE)
                    && object::template::tpl_bool(&template, CKA_SENSITIVE)? == Some(false)
                {
                    return Err(Error::TemplateInconsistent);
                }
                for source in std::iter::once(&base_obj).chain(other.as_ref()) {
                    template = object::protect_like_base(source, template);
                }
            }
            let request = object::derive_request(m.mech, &template)?;
            let value = mechanism::derive(&m, &base_key, request.len)?;
            let so = token.login_role()? == Login::So;
            let bases: Vec<&Object> = std::iter::once(&*base_obj)
                .chain(other.as_deref())
                .collect();
            let obj = object::derived_from_keys(&template, &request, value, &bases, so)?;
            self.add_object(s, token, obj, &p)
        })
    }

    /// The base of a derivation: a key with CKA_DERIVE, or for
    /// CKM_HKDF_DATA a data object whose value is the input keying material.
    fn derive_base(
        &self,
        s: &Session,
        token: &Token,
        base: CK_OBJECT_HANDLE,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<(Arc<Object>, Arc<Key>)> {
        if mech != CKM_HKDF_DATA {
            return self.use_key(s, token, base, CKA_DERIVE, mech);
        }
        let (_, obj) = self.resolve(s, token, base, true).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            other => other,
        })?;
        // HKDF_DATA takes the keys HKDF_DERIVE takes, or a data object.
        if obj.class() != CKO_DATA {
            return self.use_key(s, token, base, CKA_DERIVE, mech);
        }
        let value = obj.bytes(CKA_VALUE).unwrap_or_default();
        let key = Key::secret(CKK_GENERIC_SECRET, value)?;
        Ok((obj, Arc::new(key)))
    }
}
