//! Binding a certificate to a key version, for `keyward certs import`.
//! CKA_KEYWARD_VERSION and CKA_KEYWARD_PRIMARY are read-only for
//! applications; a certificate gets them here, copied from the key
//! version it certifies (checked), never from a caller's value. This is
//! what keeps a renewed certificate for an older version out of plain
//! searches, so NSS and Java (which match certificates to keys by CKA_ID,
//! shared by all versions) find the primary version's certificate only.

use cryptoki_sys::*;

use super::Library;
use super::provenance::row_id;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::vendor::KEYWARD_VENDOR_BASE;
use crate::object::Object;
use crate::object::import::certificate_public_key;

/// The version attributes of docs/LIFECYCLE.md ("Versions"), copied from
/// a key version to its certificate when the key has them.
const VERSION_ATTRIBUTES: [CK_ATTRIBUTE_TYPE; 2] =
    [KEYWARD_VENDOR_BASE + 0x0B, KEYWARD_VENDOR_BASE + 0x0C];

/// Whether the X.509 certificate `cert` certifies the public key that
/// `key` (a private or public key object) holds.
fn certifies(cert: &Object, key: &Object) -> bool {
    let Some(der) = cert.bytes(CKA_VALUE) else {
        return false;
    };
    let Ok(public) = certificate_public_key(der) else {
        return false;
    };
    [CKA_EC_POINT, CKA_MODULUS].into_iter().any(|ty| {
        let theirs = public
            .iter()
            .find(|a| a.ty == ty)
            .map(|a| a.value.as_slice());
        theirs.is_some() && theirs == key.bytes(ty)
    })
}

impl Library {
    /// Gives the token certificate `cert` the identity of key version
    /// `key`: its CKA_ID and CKA_LABEL and, when the key has them, its
    /// CKA_KEYWARD_VERSION and CKA_KEYWARD_PRIMARY. Refused with
    /// CKR_KEY_HANDLE_INVALID unless `key` is a token key pair half,
    /// CKR_TEMPLATE_INCONSISTENT unless `cert` is a token X.509
    /// certificate certifying that key's public key. Audited as a
    /// `set_attribute` on the certificate.
    pub fn bind_certificate(
        &self,
        h: CK_SESSION_HANDLE,
        cert: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let (kr, k) = self.resolve(s, token, key, false)?;
            if !matches!(k.class(), CKO_PRIVATE_KEY | CKO_PUBLIC_KEY) {
                return Err(Error::KeyHandleInvalid);
            }
            let (r, c) = self.resolve(s, token, cert, false)?;
            let row = row_id(&r).ok_or(Error::TemplateInconsistent)?;
            if c.class() != CKO_CERTIFICATE || !certifies(&c, &k) {
                return Err(Error::TemplateInconsistent);
            }
            let mut attrs = c.attrs().clone();
            for ty in [CKA_ID, CKA_LABEL].into_iter().chain(VERSION_ATTRIBUTES) {
                if let Some(v) = k.bytes(ty) {
                    attrs.insert(ty, v.to_vec());
                }
            }
            let detail = match row_id(&kr) {
                Some(n) => format!("certificate bound to key object {n}"),
                None => "certificate bound to a session key".to_string(),
            };
            let ev = Event::new("set_attribute").detail(detail);
            token.update(row, &Object::from_attrs(attrs), &ev)
        })
    }
}
