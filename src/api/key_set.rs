//! Derivations that make a set of keys in one C_DeriveKey call (the SP
//! 800-108 KDFs with CK_DERIVED_KEY entries): every template is checked
//! and every object built before anything is stored, and the token keys
//! of the set go into the store in one transaction, so a failure leaves
//! no partial set. Any future multi-key derivation takes the same path
//! through `mechanism::derive_keys` and [`Library::store_all`].

use cryptoki_sys::*;

use super::provenance::Provenance;
use super::{Attr, Library, Mech};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::vendor::CKW_ORIGIN_DERIVED;
use crate::mechanism::{self, Mechanism};
use crate::object::{self, Object};
use crate::session::Session;
use crate::token::{Login, Token};

impl Library {
    /// C_DeriveKey for any mechanism: the handles of the main key and then
    /// of the additional keys the parameter names, in order. A one-key
    /// mechanism goes the usual way ([`Library::derive_key`]).
    pub fn derive_key_set(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        base: CK_OBJECT_HANDLE,
        template: &[Attr],
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        if !mechanism::derives_key_set(mech.ty) {
            return self.derive_key(h, mech, base, template).map(|k| vec![k]);
        }
        self.with_session(h, |s, token| {
            let (base_obj, base_key) = self.use_key(s, token, base, CKA_DERIVE, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let templates = std::iter::once(template).chain(
                mechanism::additional_templates(&m)
                    .iter()
                    .map(Vec::as_slice),
            );
            // Every template is checked, and its length known, before
            // anything is derived.
            let mut planned = Vec::new();
            for t in templates {
                let mut t = object::attrs::parse_template(t)?;
                super::object::default_private(token, &mut t)?;
                let p = Provenance::new("derive", CKW_ORIGIN_DERIVED, Some(mech.ty), &mut t)?;
                let t = object::with_derive_template(&base_obj, &t)?;
                let t = object::protection_defaults_from_base(&base_obj, t);
                let request = object::derive_request(m.mech, &t)?;
                // No key type held here has a fixed length: the template
                // must say how long each key is.
                let len = request.len.ok_or(Error::TemplateIncomplete)?;
                planned.push((t, request, p, len));
            }
            let lens: Vec<usize> = planned.iter().map(|(.., len)| *len).collect();
            let values = mechanism::derive_keys(&m, &base_key, &lens)?;
            if values.len() != planned.len() {
                return Err(Error::GeneralError);
            }
            let so = token.login_role()? == Login::So;
            let mut objects = Vec::with_capacity(planned.len());
            for ((t, request, p, _), value) in planned.into_iter().zip(values) {
                let obj = object::derived_secret_key(&t, &request, value, &base_obj, so)?;
                super::object::check_write(s, token, &obj)?;
                objects.push((self.prepare(token, obj, &p)?, p.event));
            }
            self.store_all(s, token, objects)
        })
    }

    /// Stores prepared objects as one set: the token objects in ONE
    /// transaction (rows and audit records: all or none), then the session
    /// objects, which never touch the store. Handles in the given order.
    pub(super) fn store_all(
        &self,
        s: &Session,
        token: &Token,
        objects: Vec<(Object, Event)>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let rows: Vec<(&Object, &Event)> = objects
            .iter()
            .filter(|(o, _)| o.is_token())
            .map(|(o, e)| (o, e))
            .collect();
        let ids = if rows.is_empty() {
            Vec::new()
        } else {
            token.insert_many(&rows)?
        };
        if ids.len() != rows.len() {
            return Err(Error::GeneralError);
        }
        let mut ids = ids.into_iter();
        let mut handles = Vec::with_capacity(objects.len());
        for (obj, ev) in objects {
            let h = if obj.is_token() {
                let id = ids.next().ok_or(Error::GeneralError)?;
                self.handles()?
                    .token_handle(s.token, id, || self.new_handle())
            } else {
                self.store(s, token, obj, &ev)?
            };
            handles.push(h);
        }
        Ok(handles)
    }
}
