//! Key and certificate files turned into C_CreateObject templates for the
//! `keyward` admin CLI: a private key file gives a private and a public
//! key template, a public key file one public key template, a certificate
//! one X.509 certificate template. Templates hold the class, key or
//! certificate type, CKA_TOKEN and the material only; the caller adds the
//! label, id and usage flags. Reading the files is `mechanism::keyfile`.

use cryptoki_sys::*;

use crate::mechanism::Key;
use crate::mechanism::keyfile::{self, CertificateFields, KeyFile};
use crate::types::Attr;
// Owned by the layer that reads the files; named here too, where the
// CLI meets it.
pub use crate::mechanism::keyfile::ImportError;

/// What a file becomes: creation templates in `Library::create_object`'s
/// form. The values of a private key template are key material: every
/// value is wiped when this is dropped (so match on a reference).
#[derive(Debug)]
pub enum Imported {
    KeyPair {
        private: Vec<Attr>,
        public: Vec<Attr>,
    },
    PublicKey(Vec<Attr>),
    Certificate(Vec<Attr>),
}

impl Drop for Imported {
    fn drop(&mut self) {
        let lists: Vec<&mut Vec<Attr>> = match self {
            Imported::KeyPair { private, public } => vec![private, public],
            Imported::PublicKey(attrs) | Imported::Certificate(attrs) => vec![attrs],
        };
        for attr in lists.into_iter().flatten() {
            zeroize::Zeroize::zeroize(&mut attr.value);
        }
    }
}

/// Parses a PEM or DER file: a PKCS#8 "PRIVATE KEY", a traditional "RSA
/// PRIVATE KEY" or "EC PRIVATE KEY", a "PUBLIC KEY" (or PKCS#1 "RSA PUBLIC
/// KEY") or an X.509 "CERTIFICATE". Keys are RSA, EC P-256/P-384/P-521,
/// Ed25519 or X25519, checked as C_CreateObject will check them. In a PEM
/// file with several blocks the first key or certificate is read.
pub fn parse_import(bytes: &[u8]) -> Result<Imported, ImportError> {
    match keyfile::read_key_file(bytes)? {
        KeyFile::Private(key) => {
            let public = key.to_public().map_err(|_| ImportError::InvalidKey)?;
            Ok(Imported::KeyPair {
                private: private_template(&key)?,
                public: public_template(&public)?,
            })
        }
        KeyFile::Public(key) => Ok(Imported::PublicKey(public_template(&key)?)),
        KeyFile::Certificate(fields) => Ok(Imported::Certificate(certificate_template(fields))),
    }
}

/// The public key template of the key inside a DER certificate, so a
/// certificate can be matched to a key pair by CKA_EC_POINT or
/// CKA_MODULUS (the module stores both in the form given here).
pub fn certificate_public_key(cert_der: &[u8]) -> Result<Vec<Attr>, ImportError> {
    let fields = keyfile::certificate(cert_der)?;
    let key = keyfile::public_key(&fields.public_key_info)?;
    public_template(&key)
}

fn ulong(ty: CK_ATTRIBUTE_TYPE, value: CK_ULONG) -> Attr {
    Attr {
        ty,
        value: value.to_ne_bytes().to_vec(),
    }
}

fn bytes(ty: CK_ATTRIBUTE_TYPE, value: Vec<u8>) -> Attr {
    Attr { ty, value }
}

/// CKA_CLASS, CKA_KEY_TYPE and CKA_TOKEN=true.
fn key_header(class: CK_OBJECT_CLASS, key: &Key) -> Vec<Attr> {
    vec![
        ulong(CKA_CLASS, class),
        ulong(CKA_KEY_TYPE, key.key_type()),
        bytes(CKA_TOKEN, vec![CK_TRUE]),
    ]
}

/// A private key: RSA's eight components, or CKA_EC_PARAMS (DER OID) and
/// CKA_VALUE for the EC family. The module adds the public parts.
fn private_template(key: &Key) -> Result<Vec<Attr>, ImportError> {
    let mut attrs = key_header(CKO_PRIVATE_KEY, key);
    for (ty, mut value) in key
        .private_attributes()
        .map_err(|_| ImportError::InvalidKey)?
    {
        // Moved out, not copied: the Zeroizing shell is left empty.
        let value: Vec<u8> = std::mem::take(&mut *value);
        attrs.push(bytes(ty, value));
    }
    Ok(attrs)
}

/// A public key: CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian, no
/// leading zeros), or CKA_EC_PARAMS (DER OID) and CKA_EC_POINT (DER OCTET
/// STRING of the uncompressed point or 32-byte key).
fn public_template(key: &Key) -> Result<Vec<Attr>, ImportError> {
    let mut attrs = key_header(CKO_PUBLIC_KEY, key);
    if key.key_type() == CKK_RSA {
        let (n, e) = key
            .rsa_public_parts()
            .map_err(|_| ImportError::InvalidKey)?;
        attrs.push(bytes(CKA_MODULUS, n));
        attrs.push(bytes(CKA_PUBLIC_EXPONENT, e));
    } else {
        let params = key.ec_params().ok_or(ImportError::InvalidKey)?;
        let point = key.ec_point_der().map_err(|_| ImportError::InvalidKey)?;
        attrs.push(bytes(CKA_EC_PARAMS, params));
        attrs.push(bytes(CKA_EC_POINT, point));
    }
    Ok(attrs)
}

fn certificate_template(fields: CertificateFields) -> Vec<Attr> {
    vec![
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        bytes(CKA_TOKEN, vec![CK_TRUE]),
        bytes(CKA_VALUE, fields.value),
        bytes(CKA_SUBJECT, fields.subject),
        bytes(CKA_ISSUER, fields.issuer),
        bytes(CKA_SERIAL_NUMBER, fields.serial_number),
    ]
}

#[cfg(test)]
pub(crate) use crate::mechanism::keyfile::fixtures;

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
