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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Attr, AttrRead};
    use crate::config::Config;
    use crate::object::import::{Imported, fixtures, parse_import};

    fn library(dir: &std::path::Path) -> Library {
        let config =
            Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
        Library::new(config).unwrap()
    }

    /// A token with a user PIN, and a R/W session logged in as the user.
    fn ready(lib: &Library) -> CK_SESSION_HANDLE {
        let mut label = [b' '; 32];
        label[..1].copy_from_slice(b"t");
        lib.init_token(0, b"so-pin-1", &label).unwrap();
        let h = lib
            .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .unwrap();
        lib.login(h, CKU_SO, b"so-pin-1").unwrap();
        lib.init_pin(h, b"user-pin-1").unwrap();
        lib.logout(h).unwrap();
        lib.login(h, CKU_USER, b"user-pin-1").unwrap();
        h
    }

    fn named(mut t: Vec<Attr>, label: &[u8], id: &[u8]) -> Vec<Attr> {
        t.retain(|a| !matches!(a.ty, CKA_LABEL | CKA_ID));
        t.push(Attr {
            ty: CKA_LABEL,
            value: label.to_vec(),
        });
        t.push(Attr {
            ty: CKA_ID,
            value: id.to_vec(),
        });
        t
    }

    fn create(lib: &Library, h: CK_SESSION_HANDLE, pem: &str, label: &[u8]) -> CK_OBJECT_HANDLE {
        match &parse_import(pem.as_bytes()).unwrap() {
            Imported::KeyPair { private, .. } => lib
                .create_object(h, &named(private.clone(), label, b"\x01\x02"))
                .unwrap(),
            Imported::Certificate(c) => lib
                .create_object(h, &named(c.clone(), label, b"\xee"))
                .unwrap(),
            Imported::PublicKey(_) => panic!("not a fixture kind used here"),
        }
    }

    fn read(
        lib: &Library,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Option<Vec<u8>> {
        match lib.attribute_values(h, o, &[ty]).unwrap().pop() {
            Some(AttrRead::Value(v)) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn a_certificate_takes_the_identity_of_the_key_it_certifies() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        let h = ready(&lib);
        let key = create(&lib, h, fixtures::P256.private_pem, b"web");
        let leaf = create(&lib, h, fixtures::LEAF_CERT, b"imported");
        lib.bind_certificate(h, leaf, key).unwrap();
        assert_eq!(read(&lib, h, leaf, CKA_ID).unwrap(), b"\x01\x02");
        assert_eq!(read(&lib, h, leaf, CKA_LABEL).unwrap(), b"web");
        // Whatever version attributes the key has, the certificate has.
        for ty in VERSION_ATTRIBUTES {
            assert_eq!(read(&lib, h, leaf, ty), read(&lib, h, key, ty));
        }
    }

    #[test]
    fn binding_is_refused_unless_the_certificate_certifies_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        let h = ready(&lib);
        let p256 = create(&lib, h, fixtures::P256.private_pem, b"web");
        // CA_CERT certifies a P-384 key, not this one.
        let ca = create(&lib, h, fixtures::CA_CERT, b"ca");
        assert_eq!(
            lib.bind_certificate(h, ca, p256),
            Err(Error::TemplateInconsistent)
        );
        assert_eq!(read(&lib, h, ca, CKA_LABEL).unwrap(), b"ca");
        // A key is not a certificate, a certificate is not a key.
        let leaf = create(&lib, h, fixtures::LEAF_CERT, b"leaf");
        assert_eq!(
            lib.bind_certificate(h, p256, p256),
            Err(Error::TemplateInconsistent)
        );
        assert_eq!(
            lib.bind_certificate(h, leaf, ca),
            Err(Error::KeyHandleInvalid)
        );
        assert_eq!(
            lib.bind_certificate(h, leaf, 0xdead),
            Err(Error::ObjectHandleInvalid)
        );
    }
}
