//! Key encapsulation (PKCS#11 3.2 §5.18 C_EncapsulateKey and
//! C_DecapsulateKey): the public key makes a ciphertext and a new secret
//! key, the private key turns the ciphertext into the same key. The new
//! key goes through C_DeriveKey's object rules (template checks,
//! CKA_LOCAL false, provenance and audit), with the 3.2 defaults these
//! functions add: CKA_EXTRACTABLE true unless the template says otherwise,
//! CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE false.

use cryptoki_sys::*;

use super::provenance::Provenance;
use super::{Attr, Library, Mech, Out, OutCap};
use crate::error::{Error, Result};
use crate::lifecycle::vendor::CKW_ORIGIN_DERIVED;
use crate::mechanism::{self, Mechanism};
use crate::object::{self, AttrMap, Object};
use crate::session::Session;
use crate::token::{Login, Token};

/// Errors about the decapsulating key get the unwrapping codes: the
/// C_DecapsulateKey list has CKR_UNWRAPPING_KEY_HANDLE_INVALID and
/// CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, not the plain key codes.
fn as_decapsulating(e: Error) -> Error {
    match e {
        Error::KeyHandleInvalid | Error::ObjectHandleInvalid => Error::UnwrappingKeyHandleInvalid,
        Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
        Error::KeySizeRange => Error::UnwrappingKeySizeRange,
        other => other,
    }
}

/// The 3.2 defaults of an encapsulated or decapsulated key's template:
/// extractable unless the caller says otherwise.
fn kem_template(mut template: AttrMap) -> AttrMap {
    template
        .entry(CKA_EXTRACTABLE)
        .or_insert_with(|| object::attrs::bool_value(true));
    template
}

impl Library {
    /// The key of an encapsulation (`usage` CKA_ENCAPSULATE, a public
    /// key) or decapsulation (CKA_DECAPSULATE, a private key), with
    /// C_EncryptInit's checks. A key of the other class (or a secret
    /// key), which has no such flag at all, is the wrong type for the
    /// call: CKR_KEY_TYPE_INCONSISTENT rather than
    /// CKR_KEY_FUNCTION_NOT_PERMITTED, which the 3.2 lists of these two
    /// functions do not name.
    fn kem_use(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<(std::sync::Arc<Object>, std::sync::Arc<mechanism::Key>)> {
        let class = if usage == CKA_ENCAPSULATE {
            CKO_PUBLIC_KEY
        } else {
            CKO_PRIVATE_KEY
        };
        self.use_key(s, token, h, usage, mech).map_err(|e| {
            if e != Error::KeyFunctionNotPermitted {
                return e;
            }
            match self.resolve(s, token, h, false) {
                Ok((_, obj)) if obj.class() != class || obj.key_type() != Some(CKK_ML_KEM) => {
                    Error::KeyTypeInconsistent
                }
                _ => e,
            }
        })
    }

    /// The new key object around `secret`, as C_DeriveKey would make it,
    /// then given the KEM history (never "always sensitive" nor "never
    /// extractable": the secret left the token as a ciphertext).
    #[allow(
        clippy::too_many_arguments,
        reason = "the session, the call's facts and the secret's maker, all needed once"
    )]
    fn kem_key(
        &self,
        s: &Session,
        token: &Token,
        kind: &'static str,
        mech: CK_MECHANISM_TYPE,
        key_obj: &Object,
        template: &[Attr],
        secret: impl FnOnce(Option<usize>) -> Result<zeroize::Zeroizing<Vec<u8>>>,
    ) -> Result<CK_OBJECT_HANDLE> {
        let mut template = object::attrs::parse_template(template)?;
        super::object::default_private(token, &mut template)?;
        let p = Provenance::new(kind, CKW_ORIGIN_DERIVED, Some(mech), &mut template)?;
        // The key's CKA_ENCAPSULATE_TEMPLATE / CKA_DECAPSULATE_TEMPLATE
        // joins the caller's: a conflict is CKR_KEY_HANDLE_INVALID for
        // encapsulation and CKR_TEMPLATE_INCONSISTENT for decapsulation
        // (PKCS#11 3.2 §5.18).
        let nested = if kind == "encapsulate" {
            CKA_ENCAPSULATE_TEMPLATE
        } else {
            CKA_DECAPSULATE_TEMPLATE
        };
        let template =
            object::nested::with_key_template(key_obj, nested, &template).map_err(|e| {
                match (e, nested) {
                    (Error::TemplateInconsistent, CKA_ENCAPSULATE_TEMPLATE) => {
                        Error::KeyHandleInvalid
                    }
                    (e, _) => e,
                }
            })?;
        let template = kem_template(template);
        let request = object::derive_request(mech, &template)?;
        // The mechanism makes a 32-byte secret. A shorter CKA_VALUE_LEN (an
        // AES-128 key, as python-pkcs11 and SoftHSMv2 make) takes its
        // leading bytes, as C_DeriveKey does with an ECDH secret and
        // CKD_NULL; a longer one cannot be met.
        if request
            .len
            .is_some_and(|n| n > mechanism::ml_kem::SHARED_LEN)
        {
            return Err(Error::TemplateInconsistent);
        }
        let mut value = secret(request.len)?;
        if let Some(n) = request.len {
            value.truncate(n);
        }
        let so = token.login_role()? == Login::So;
        let mut obj = object::derived_secret_key(&template, &request, value, key_obj, so)?;
        object::template::kem_history(&mut obj);
        self.add_object(s, token, obj, &p)
    }

    /// C_EncapsulateKey: the ciphertext and the new key's handle, or only
    /// the ciphertext's length (a query, or a buffer too small: no key is
    /// made then).
    pub fn encapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        public: CK_OBJECT_HANDLE,
        template: &[Attr],
        out: OutCap,
    ) -> Result<(Out, Option<CK_OBJECT_HANDLE>)> {
        self.with_session(h, |s, token| {
            let (obj, key) = self.kem_use(s, token, public, CKA_ENCAPSULATE, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let len = mechanism::ciphertext_len(&m, &key)?;
            match out {
                OutCap::Cap(cap) if cap >= len => {}
                _ => return Ok((Out::Len(len), None)),
            }
            let mut ciphertext = Vec::new();
            let handle = self.kem_key(s, token, "encapsulate", m.mech, &obj, template, |_| {
                let (ct, secret) = mechanism::encapsulate(&m, &key)?;
                ciphertext = ct;
                Ok(secret)
            })?;
            Ok((Out::Data(ciphertext), Some(handle)))
        })
    }

    /// C_DecapsulateKey: the new key's handle.
    pub fn decapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mech,
        private: CK_OBJECT_HANDLE,
        template: &[Attr],
        ciphertext: &[u8],
    ) -> Result<CK_OBJECT_HANDLE> {
        self.with_session(h, |s, token| {
            let (obj, key) = self
                .kem_use(s, token, private, CKA_DECAPSULATE, mech.ty)
                .map_err(as_decapsulating)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            self.kem_key(s, token, "decapsulate", m.mech, &obj, template, |_| {
                mechanism::decapsulate(&m, &key, ciphertext).map_err(as_decapsulating)
            })
        })
    }
}
