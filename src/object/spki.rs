//! Public key export for the `keyward` admin CLI: the DER
//! SubjectPublicKeyInfo of a key object (byte for byte what `openssl pkey
//! -pubout -outform DER` writes for the same key). It reads the object's
//! attributes, so it lives in the object layer; the encoding is
//! `Key::public_key_info` in the mechanism layer.

use cryptoki_sys::*;

use super::Object;
use crate::error::{Error, Result};
use crate::mechanism::Key;

/// The DER SubjectPublicKeyInfo of an RSA, EC (P-256/384/521), Ed25519 or
/// X25519 public or private key object. Only public attributes are read
/// (CKA_MODULUS/CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS/CKA_EC_POINT), so a
/// sensitive private key exports its public half too; an EC-family private
/// key without CKA_EC_POINT falls back to its CKA_VALUE. Other objects are
/// KeyTypeInconsistent.
pub fn public_key_spki(obj: &Object) -> Result<Vec<u8>> {
    public_key(obj)?.public_key_info()
}

fn public_key(obj: &Object) -> Result<Key> {
    let class = obj.class();
    if !matches!(class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY) {
        return Err(Error::KeyTypeInconsistent);
    }
    let key_type = obj.key_type().ok_or(Error::KeyTypeInconsistent)?;
    let need = |ty| obj.bytes(ty).ok_or(Error::TemplateIncomplete);
    if key_type == CKK_RSA {
        return Key::rsa_public(need(CKA_MODULUS)?, need(CKA_PUBLIC_EXPONENT)?);
    }
    let params = need(CKA_EC_PARAMS)?;
    match obj.bytes(CKA_EC_POINT) {
        Some(point) => match key_type {
            CKK_EC => Key::ec_public(params, point),
            CKK_EC_EDWARDS => Key::edwards_public(params, point),
            CKK_EC_MONTGOMERY => Key::montgomery_public(params, point),
            _ => Err(Error::KeyTypeInconsistent),
        },
        None if class == CKO_PRIVATE_KEY => {
            let value = need(CKA_VALUE)?;
            match key_type {
                CKK_EC => Key::ec_private(params, value),
                CKK_EC_EDWARDS => Key::edwards_private(params, value),
                CKK_EC_MONTGOMERY => Key::montgomery_private(params, value),
                _ => Err(Error::KeyTypeInconsistent),
            }?
            .to_public()
        }
        None => Err(Error::TemplateIncomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::keyfile::fixtures::{self, Fixture};
    use crate::mechanism::spki::pem;
    use crate::object::import::{Imported, parse_import};
    use crate::object::{create, parse_template};

    fn object(attrs: &[crate::types::Attr]) -> Object {
        create(&parse_template(attrs).unwrap(), false).unwrap()
    }

    /// Every fixture key, as a private and as a public object, exports the
    /// SPKI `openssl pkey -pubout -outform DER` wrote; the PEM form equals
    /// `openssl pkey -pubout`'s.
    #[test]
    fn spki_matches_openssl() {
        for Fixture {
            name,
            private_pem,
            spki_hex,
            public_pem,
        } in fixtures::KEYS
        {
            let want = crate::test_util::unhex(spki_hex);
            let Imported::KeyPair { private, public } =
                &parse_import(private_pem.as_bytes()).unwrap()
            else {
                panic!("{name}: not a key pair");
            };
            assert_eq!(public_key_spki(&object(private)).unwrap(), want, "{name}");
            assert_eq!(public_key_spki(&object(public)).unwrap(), want, "{name}");
            assert_eq!(pem("PUBLIC KEY", &want), *public_pem, "{name}");
        }
    }

    #[test]
    fn private_key_without_point_falls_back_to_its_value() {
        let Imported::KeyPair { private, .. } =
            &parse_import(fixtures::P256.private_pem.as_bytes()).unwrap()
        else {
            panic!("not a key pair");
        };
        let mut obj = object(private);
        let mut attrs = obj.attrs().clone();
        attrs.remove(&CKA_EC_POINT);
        obj = Object::from_attrs(attrs);
        assert_eq!(
            public_key_spki(&obj).unwrap(),
            crate::test_util::unhex(fixtures::P256.spki_hex)
        );
    }

    #[test]
    fn other_objects_are_refused() {
        let cert = parse_import(fixtures::LEAF_CERT.as_bytes()).unwrap();
        let Imported::Certificate(attrs) = &cert else {
            panic!("not a certificate");
        };
        assert_eq!(
            public_key_spki(&object(attrs)).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        let mut aes = crate::object::AttrMap::new();
        aes.insert(CKA_CLASS, crate::object::attrs::ulong_value(CKO_SECRET_KEY));
        aes.insert(CKA_KEY_TYPE, crate::object::attrs::ulong_value(CKK_AES));
        assert_eq!(
            public_key_spki(&Object::from_attrs(aes)).unwrap_err(),
            Error::KeyTypeInconsistent
        );
    }
}
