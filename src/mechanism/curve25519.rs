//! Ed25519 and X25519 (RFC 8410) encodings: CKA_EC_PARAMS as the curve OID
//! or the PKCS#11 3.0 curve name, CKA_EC_POINT as a DER OCTET STRING of the
//! 32-byte public key, SubjectPublicKeyInfo and PKCS#8 PrivateKeyInfo.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The two curve-25519 algorithms this token offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg25519 {
    /// EdDSA over edwards25519 (CKK_EC_EDWARDS).
    Ed25519,
    /// Diffie-Hellman over curve25519 (CKK_EC_MONTGOMERY).
    X25519,
}

/// DER tag of PrintableString, which PKCS#11 allows for curve names.
const PRINTABLE_STRING: u8 = 0x13;
/// DER OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519) without its last byte.
const OID_PREFIX: [u8; 4] = [0x06, 0x03, 0x2b, 0x65];
const ED25519_ARC: u8 = 0x70;
/// Last byte of 1.3.101.110 (id-X25519).
const X25519_ARC: u8 = 0x6e;
/// Length of keys, seeds and scalars.
pub const KEY_LEN: usize = 32;

impl Alg25519 {
    fn arc(self) -> u8 {
        match self {
            Alg25519::Ed25519 => ED25519_ARC,
            Alg25519::X25519 => X25519_ARC,
        }
    }

    /// The curve name PKCS#11 3.0 gives for the PrintableString form.
    fn name(self) -> &'static [u8] {
        match self {
            Alg25519::Ed25519 => b"edwards25519",
            Alg25519::X25519 => b"curve25519",
        }
    }

    /// Parses CKA_EC_PARAMS: the DER OID or the DER PrintableString curve
    /// name. Anything else is AttributeValueInvalid.
    pub fn from_ec_params(der: &[u8]) -> Result<Alg25519> {
        for alg in [Alg25519::Ed25519, Alg25519::X25519] {
            if der == alg.ec_params() {
                return Ok(alg);
            }
            if let [PRINTABLE_STRING, len, name @ ..] = der
                && usize::from(*len) == name.len()
                && name == alg.name()
            {
                return Ok(alg);
            }
        }
        match der {
            // A well-formed curve name or OID of a curve this file does not
            // offer (1.3.101.114 …; edwards448 and curve448 are
            // curve448.rs's, asked first): CKR_CURVE_NOT_SUPPORTED, as for
            // the Weierstrass curves (`Curve::from_ec_params`).
            [PRINTABLE_STRING | 0x06, len, rest @ ..]
                if usize::from(*len) == rest.len() && !rest.is_empty() =>
            {
                Err(Error::CurveNotSupported)
            }
            _ => Err(Error::AttributeValueInvalid),
        }
    }

    /// Checks that `ec_params` names this algorithm's curve.
    pub fn expect(self, ec_params: &[u8]) -> Result<()> {
        if Alg25519::from_ec_params(ec_params)? == self {
            Ok(())
        } else {
            Err(Error::AttributeValueInvalid)
        }
    }

    /// The DER OID (CKA_EC_PARAMS in its OID form).
    pub fn ec_params(self) -> [u8; 5] {
        let [a, b, c, d] = OID_PREFIX;
        [a, b, c, d, self.arc()]
    }

    /// SEQUENCE { OID } with absent parameters, as RFC 8410 §3 requires.
    fn algorithm_identifier(self) -> [u8; 7] {
        let [a, b, c, d, e] = self.ec_params();
        [0x30, 0x05, a, b, c, d, e]
    }

    /// DER SubjectPublicKeyInfo (RFC 8410 §4).
    pub fn spki(self, public: &[u8; KEY_LEN]) -> Vec<u8> {
        let mut out = vec![0x30, 0x2a];
        out.extend_from_slice(&self.algorithm_identifier());
        out.extend_from_slice(&[0x03, 0x21, 0x00]);
        out.extend_from_slice(public);
        out
    }

    /// DER PrivateKeyInfo, version 1 without the public key (RFC 8410 §7,
    /// the form OpenSSL writes).
    pub fn pkcs8(self, private: &[u8; KEY_LEN]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0x30, 0x2e, 0x02, 0x01, 0x00]);
        out.extend_from_slice(&self.algorithm_identifier());
        out.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
        out.extend_from_slice(private);
        out
    }

    /// The algorithm whose OID this is (PKCS#8 / SPKI dispatch).
    pub fn from_oid_der(oid: &[u8]) -> Option<Alg25519> {
        [Alg25519::Ed25519, Alg25519::X25519]
            .into_iter()
            .find(|alg| oid == alg.ec_params())
    }
}

/// A 32-byte public key from CKA_EC_POINT or ECDH public data: the raw key
/// or a DER OCTET STRING around it (the lengths never coincide).
pub fn public_from_attr(attr: &[u8]) -> Option<[u8; KEY_LEN]> {
    let raw = match attr {
        [0x04, 0x20, rest @ ..] if rest.len() == KEY_LEN => rest,
        _ => attr,
    };
    raw.try_into().ok()
}

/// CKA_VALUE of a private key: exactly 32 bytes (Ed25519 seed, X25519
/// scalar as RFC 7748 encodes it).
pub fn private_value(value: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    if value.len() != KEY_LEN {
        return Err(Error::AttributeValueInvalid);
    }
    out.copy_from_slice(value);
    Ok(out)
}

/// The 32 bytes inside RFC 8410's CurvePrivateKey (an OCTET STRING nested
/// in PrivateKeyInfo's privateKey).
pub fn curve_private_key(inner: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    match inner {
        [0x04, 0x20, rest @ ..] => private_value(rest).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve we do not offer, named well, is CKR_CURVE_NOT_SUPPORTED;
    /// malformed parameters stay CKR_ATTRIBUTE_VALUE_INVALID. (Ed448,
    /// which python-pkcs11's test asks for, is curve448.rs's now.)
    #[test]
    fn unsupported_curves_are_named_as_such() {
        let other_oid = [0x06, 0x03, 0x2b, 0x65, 0x72];
        let mut other_name = vec![PRINTABLE_STRING, 10];
        other_name.extend_from_slice(b"edwards449");
        for der in [&other_oid[..], &other_name] {
            assert_eq!(Alg25519::from_ec_params(der), Err(Error::CurveNotSupported));
            assert_eq!(
                crate::mechanism::generate_edwards(der).unwrap_err(),
                Error::CurveNotSupported
            );
        }
        for bad in [&[][..], &[0x06, 0x05, 0x2b][..], &[0x04, 0x01, 0x00][..]] {
            assert_eq!(
                Alg25519::from_ec_params(bad),
                Err(Error::AttributeValueInvalid)
            );
        }
    }

    #[test]
    fn params_forms() {
        assert_eq!(
            Alg25519::from_ec_params(&[0x06, 0x03, 0x2b, 0x65, 0x70]),
            Ok(Alg25519::Ed25519)
        );
        assert_eq!(
            Alg25519::from_ec_params(&[0x06, 0x03, 0x2b, 0x65, 0x6e]),
            Ok(Alg25519::X25519)
        );
        let mut name = vec![PRINTABLE_STRING, 12];
        name.extend_from_slice(b"edwards25519");
        assert_eq!(Alg25519::from_ec_params(&name), Ok(Alg25519::Ed25519));
        let mut name = vec![PRINTABLE_STRING, 10];
        name.extend_from_slice(b"curve25519");
        assert_eq!(Alg25519::from_ec_params(&name), Ok(Alg25519::X25519));
        assert_eq!(Alg25519::X25519.expect(&name), Ok(()));
        assert_eq!(
            Alg25519::Ed25519.expect(&name),
            Err(Error::AttributeValueInvalid)
        );
        // Well-formed but not ours: unsupported_curves_are_named_as_such.
        for bad in [&[0x06, 0x03, 0x2b, 0x65][..], &[]] {
            assert_eq!(
                Alg25519::from_ec_params(bad),
                Err(Error::AttributeValueInvalid)
            );
        }
        assert_eq!(
            Alg25519::from_ec_params(&[PRINTABLE_STRING, 1, b'a']),
            Err(Error::CurveNotSupported)
        );
    }

    #[test]
    fn encodings() {
        let key = [7u8; 32];
        let spki = Alg25519::Ed25519.spki(&key);
        assert_eq!(spki.len(), 44);
        assert_eq!(
            &spki[..12],
            &[
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
            ]
        );
        let p8 = Alg25519::X25519.pkcs8(&key);
        assert_eq!(p8.len(), 48);
        assert_eq!(
            &p8[..16],
            &[
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22,
                0x04, 0x20
            ]
        );
        let mut der = vec![0x04, 0x20];
        der.extend_from_slice(&key);
        assert_eq!(public_from_attr(&der), Some(key));
        assert_eq!(public_from_attr(&key), Some(key));
        assert_eq!(public_from_attr(&der[..33]), None);
        assert_eq!(*curve_private_key(&der).unwrap(), key);
        assert!(curve_private_key(&key).is_none());
        assert!(private_value(&[1; 31]).is_err());
    }
}
