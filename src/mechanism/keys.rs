//! Typed key material built from attribute bytes by the object layer, with
//! the encodings PKCS#11 attributes need (CKA_EC_POINT, CKA_EC_PARAMS,
//! CKA_PUBLIC_KEY_INFO). Secrets never appear in `Debug` output.

use cryptoki_sys::*;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::ec::{self, EcSigningKey, EcVerifyingKey};
use crate::error::{Error, Result};

/// The supported named curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// DER OBJECT IDENTIFIER 1.2.840.10045.3.1.7 (prime256v1 / secp256r1).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OBJECT IDENTIFIER 1.3.132.0.34 (secp384r1).
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER tag of PrintableString, which PKCS#11 allows for curve names.
const PRINTABLE_STRING: u8 = 0x13;

impl Curve {
    /// Parses CKA_EC_PARAMS: a DER namedCurve OID, or a DER PrintableString
    /// curve name. Anything else (explicit parameters, other curves) is
    /// AttributeValueInvalid; callers map it to CKR_CURVE_NOT_SUPPORTED
    /// where the spec asks for that.
    pub fn from_ec_params(der: &[u8]) -> Result<Curve> {
        if der == P256_OID {
            return Ok(Curve::P256);
        }
        if der == P384_OID {
            return Ok(Curve::P384);
        }
        match der {
            [PRINTABLE_STRING, len, name @ ..] if usize::from(*len) == name.len() => match name {
                b"prime256v1" | b"secp256r1" => Ok(Curve::P256),
                b"secp384r1" => Ok(Curve::P384),
                _ => Err(Error::AttributeValueInvalid),
            },
            _ => Err(Error::AttributeValueInvalid),
        }
    }

    /// The DER namedCurve OID.
    pub fn ec_params(&self) -> Vec<u8> {
        match self {
            Curve::P256 => P256_OID.to_vec(),
            Curve::P384 => P384_OID.to_vec(),
        }
    }

    /// Bit length of the group order.
    pub fn bits(&self) -> u64 {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
        }
    }

    /// Bytes in one field element or scalar.
    pub fn field_bytes(&self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// Key material of one key object. Private variants zeroize on drop (the
/// secret bytes are `Zeroizing`, the EC and RSA keys zeroize themselves).
#[derive(Clone)]
pub enum Key {
    Secret {
        key_type: CK_KEY_TYPE,
        value: Zeroizing<Vec<u8>>,
    },
    EcPrivate {
        curve: Curve,
        key: EcSigningKey,
    },
    EcPublic {
        curve: Curve,
        key: EcVerifyingKey,
    },
    RsaPrivate(Box<RsaPrivateKey>),
    RsaPublic(Box<RsaPublicKey>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Secret { key_type, value } => write!(
                f,
                "Key::Secret(type {key_type:#x}, {} bytes, <redacted>)",
                value.len()
            ),
            Key::EcPrivate { curve, .. } => write!(f, "Key::EcPrivate({curve:?}, <redacted>)"),
            Key::EcPublic { curve, .. } => write!(f, "Key::EcPublic({curve:?})"),
            Key::RsaPrivate(_) => write!(f, "Key::RsaPrivate({} bits, <redacted>)", self.bits()),
            Key::RsaPublic(_) => write!(f, "Key::RsaPublic({} bits)", self.bits()),
        }
    }
}

/// Moduli accepted on import. Generation policy (2048–4096) is enforced by
/// the mechanism table and `generate_rsa`, not here.
const RSA_IMPORT_BITS: std::ops::RangeInclusive<usize> = 1024..=8192;
/// Largest secret value accepted on import (bytes).
const MAX_SECRET_LEN: usize = 4096;

/// A big-endian integer without its leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or(&[])
}

/// Decodes a public modulus and exponent, checking sizes before any
/// arithmetic.
fn rsa_n_e(n: &[u8], e: &[u8]) -> Result<(BoxedUint, BoxedUint)> {
    let n = trim(n);
    let e = trim(e);
    let max_bytes = RSA_IMPORT_BITS.end().div_ceil(8);
    if n.is_empty() || e.is_empty() || n.len() > max_bytes || e.len() > n.len() {
        return Err(Error::AttributeValueInvalid);
    }
    Ok((
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
    ))
}

/// Decodes a secret component at the modulus' (public) precision so its
/// value does not choose the integer width.
fn rsa_secret(bytes: &[u8], precision: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(trim(bytes), precision).map_err(|_| Error::AttributeValueInvalid)
}

fn check_rsa_bits(n: &BoxedUint) -> Result<()> {
    let bits = usize::try_from(n.bits_vartime()).map_err(|_| Error::AttributeValueInvalid)?;
    if RSA_IMPORT_BITS.contains(&bits) {
        Ok(())
    } else {
        Err(Error::AttributeValueInvalid)
    }
}

impl Key {
    /// A secret key. AES values must be 16, 24 or 32 bytes; generic and
    /// HMAC-typed secrets 1..=4096 bytes.
    pub fn secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Result<Key> {
        let ok = match key_type {
            CKK_AES => matches!(value.len(), 16 | 24 | 32),
            CKK_GENERIC_SECRET | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC | CKK_SHA512_HMAC => (1..=MAX_SECRET_LEN).contains(&value.len()),
            _ => false,
        };
        if !ok {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(Key::Secret {
            key_type,
            value: Zeroizing::new(value.to_vec()),
        })
    }

    /// An EC private key from CKA_EC_PARAMS and CKA_VALUE (big-endian
    /// scalar).
    pub fn ec_private(ec_params: &[u8], value: &[u8]) -> Result<Key> {
        let curve = Curve::from_ec_params(ec_params)?;
        let key = EcSigningKey::from_scalar(curve, value)?;
        Ok(Key::EcPrivate { curve, key })
    }

    /// An EC public key from CKA_EC_PARAMS and CKA_EC_POINT (DER OCTET
    /// STRING or raw SEC1 point, compressed or uncompressed).
    pub fn ec_public(ec_params: &[u8], ec_point: &[u8]) -> Result<Key> {
        let curve = Curve::from_ec_params(ec_params)?;
        let key = EcVerifyingKey::from_sec1(curve, ec::point_from_attr(curve, ec_point))?;
        Ok(Key::EcPublic { curve, key })
    }

    /// An RSA private key from big-endian components. Without the primes
    /// they are recovered from (n, e, d). The key is fully validated.
    pub fn rsa_private(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        primes: Option<(&[u8], &[u8])>,
    ) -> Result<Key> {
        let (n, e) = rsa_n_e(n, e)?;
        check_rsa_bits(&n)?;
        let precision = n.bits_precision();
        // A zero d would underflow inside the rsa crate's prime recovery.
        if trim(d).is_empty() {
            return Err(Error::AttributeValueInvalid);
        }
        let d = rsa_secret(d, precision)?;
        let primes = match primes {
            Some((p, q)) => vec![rsa_secret(p, precision)?, rsa_secret(q, precision)?],
            None => Vec::new(),
        };
        let key = RsaPrivateKey::from_components(n, e, d, primes)
            .map_err(|_| Error::AttributeValueInvalid)?;
        Ok(Key::RsaPrivate(Box::new(key)))
    }

    /// An RSA public key from big-endian modulus and exponent.
    pub fn rsa_public(n: &[u8], e: &[u8]) -> Result<Key> {
        let (n, e) = rsa_n_e(n, e)?;
        check_rsa_bits(&n)?;
        let key = RsaPublicKey::new_with_size_limits(n, e, RSA_IMPORT_BITS)
            .map_err(|_| Error::AttributeValueInvalid)?;
        Ok(Key::RsaPublic(Box::new(key)))
    }

    /// The CKK_* type of this key.
    pub fn key_type(&self) -> CK_KEY_TYPE {
        match self {
            Key::Secret { key_type, .. } => *key_type,
            Key::EcPrivate { .. } | Key::EcPublic { .. } => CKK_EC,
            Key::RsaPrivate(_) | Key::RsaPublic(_) => CKK_RSA,
        }
    }

    /// Whether this is secret or private material (as opposed to public).
    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            Key::Secret { .. } | Key::EcPrivate { .. } | Key::RsaPrivate(_)
        )
    }

    /// The curve of an EC key.
    pub fn curve(&self) -> Option<Curve> {
        match self {
            Key::EcPrivate { curve, .. } | Key::EcPublic { curve, .. } => Some(*curve),
            _ => None,
        }
    }

    /// The public half of an asymmetric key (a public key returns a copy).
    pub fn to_public(&self) -> Result<Key> {
        match self {
            Key::EcPrivate { curve, key } => Ok(Key::EcPublic {
                curve: *curve,
                key: key.verifying_key(),
            }),
            Key::EcPublic { .. } | Key::RsaPublic(_) => Ok(self.clone()),
            Key::RsaPrivate(k) => Ok(Key::RsaPublic(Box::new(k.to_public_key()))),
            Key::Secret { .. } => Err(Error::KeyTypeInconsistent),
        }
    }

    fn rsa_public_key(&self) -> Option<&RsaPublicKey> {
        match self {
            Key::RsaPrivate(k) => Some(k.as_public_key()),
            Key::RsaPublic(k) => Some(&**k),
            _ => None,
        }
    }

    /// RSA (CKA_MODULUS, CKA_PUBLIC_EXPONENT), big-endian without leading
    /// zeros.
    pub fn rsa_public_parts(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let k = self.rsa_public_key().ok_or(Error::KeyTypeInconsistent)?;
        Ok((k.n_bytes().into_vec(), k.e_bytes().into_vec()))
    }

    /// DER SubjectPublicKeyInfo of the public part, for
    /// CKA_PUBLIC_KEY_INFO.
    pub fn public_key_info(&self) -> Result<Vec<u8>> {
        match self {
            Key::EcPrivate { key, .. } => key.verifying_key().spki_der(),
            Key::EcPublic { key, .. } => key.spki_der(),
            Key::RsaPrivate(_) | Key::RsaPublic(_) => self
                .rsa_public_key()
                .ok_or(Error::GeneralError)?
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| Error::GeneralError),
            Key::Secret { .. } => Err(Error::KeyTypeInconsistent),
        }
    }

    /// CKA_EC_POINT: DER OCTET STRING of the uncompressed point.
    pub fn ec_point_der(&self) -> Result<Vec<u8>> {
        let point = match self {
            Key::EcPrivate { key, .. } => key.verifying_key().uncompressed_point(),
            Key::EcPublic { key, .. } => key.uncompressed_point(),
            _ => return Err(Error::KeyTypeInconsistent),
        };
        Ok(ec::point_to_der(&point))
    }

    /// Modulus bits, curve order bits, or secret length × 8.
    pub fn bits(&self) -> u64 {
        match self {
            Key::Secret { value, .. } => u64::try_from(value.len())
                .unwrap_or(u64::MAX / 8)
                .saturating_mul(8),
            Key::EcPrivate { curve, .. } | Key::EcPublic { curve, .. } => curve.bits(),
            Key::RsaPrivate(_) | Key::RsaPublic(_) => self
                .rsa_public_key()
                .map_or(0, |k| u64::from(k.n().bits_vartime())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_params_forms() {
        assert_eq!(Curve::from_ec_params(P256_OID), Ok(Curve::P256));
        assert_eq!(Curve::from_ec_params(P384_OID), Ok(Curve::P384));
        let mut name = vec![PRINTABLE_STRING, 10];
        name.extend_from_slice(b"prime256v1");
        assert_eq!(Curve::from_ec_params(&name), Ok(Curve::P256));
        let mut name = vec![PRINTABLE_STRING, 9];
        name.extend_from_slice(b"secp384r1");
        assert_eq!(Curve::from_ec_params(&name), Ok(Curve::P384));
        // secp521r1, a truncated OID, and a wrong length byte.
        for bad in [
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23][..],
            &P256_OID[..9],
            &[PRINTABLE_STRING, 3, b'a'][..],
            &[][..],
        ] {
            assert_eq!(
                Curve::from_ec_params(bad),
                Err(Error::AttributeValueInvalid)
            );
        }
        assert_eq!(
            Curve::from_ec_params(&Curve::P384.ec_params()),
            Ok(Curve::P384)
        );
    }

    #[test]
    fn secret_lengths() {
        assert!(Key::secret(CKK_AES, &[1; 16]).is_ok());
        assert!(Key::secret(CKK_AES, &[1; 32]).is_ok());
        assert_eq!(
            Key::secret(CKK_AES, &[1; 17]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::secret(CKK_GENERIC_SECRET, &[]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::secret(CKK_RSA, &[1; 16]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let k = Key::secret(CKK_SHA256_HMAC, &[7; 20]).unwrap();
        assert_eq!(k.bits(), 160);
        assert_eq!(k.key_type(), CKK_SHA256_HMAC);
        assert!(!format!("{k:?}").contains("7, 7"));
    }

    #[test]
    fn ec_private_and_point_round_trip() {
        let mut scalar = [0u8; 32];
        scalar[31] = 3;
        let k = Key::ec_private(P256_OID, &scalar).unwrap();
        // A short (minimal) scalar encoding is the same key.
        let k_short = Key::ec_private(P256_OID, &[3]).unwrap();
        let der = k.ec_point_der().unwrap();
        assert_eq!(der, k_short.ec_point_der().unwrap());
        assert_eq!(&der[..3], &[0x04, 65, 0x04]);
        let pub_der = Key::ec_public(P256_OID, &der).unwrap();
        let pub_raw = Key::ec_public(P256_OID, &der[2..]).unwrap();
        assert_eq!(pub_der.ec_point_der().unwrap(), der);
        assert_eq!(pub_raw.ec_point_der().unwrap(), der);
        assert_eq!(pub_der.bits(), 256);
        assert_eq!(
            k.public_key_info().unwrap(),
            pub_raw.public_key_info().unwrap()
        );
        assert!(!format!("{k:?}").contains('3'.to_string().repeat(2).as_str()));
        // Compressed point: 02/03 || X.
        let mut compressed = vec![0x02 | (der[66] & 1)];
        compressed.extend_from_slice(&der[3..35]);
        let pub_c = Key::ec_public(P256_OID, &compressed).unwrap();
        assert_eq!(pub_c.ec_point_der().unwrap(), der);
    }

    #[test]
    fn ec_invalid_values() {
        assert_eq!(
            Key::ec_private(P256_OID, &[0; 32]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::ec_private(P256_OID, &[0xff; 32]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::ec_private(P256_OID, &[1; 33]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let mut not_on_curve = vec![0x04, 65, 0x04];
        not_on_curve.extend_from_slice(&[1; 64]);
        assert_eq!(
            Key::ec_public(P256_OID, &not_on_curve).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::ec_public(P384_OID, &[0x04, 1, 2]).unwrap_err(),
            Error::AttributeValueInvalid
        );
    }

    #[test]
    fn rsa_rejects_bad_input() {
        assert_eq!(
            Key::rsa_public(&[], &[1, 0, 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // Too small and even.
        assert_eq!(
            Key::rsa_public(&[0xff; 64], &[1, 0, 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::rsa_public(&[0xfe; 256], &[1, 0, 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::rsa_private(&[0xff; 256], &[1, 0, 1], &[3; 255], None).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let k = Key::rsa_public(&[0xff; 256], &[1, 0, 1]).unwrap();
        assert_eq!(k.bits(), 2048);
        assert_eq!(k.rsa_public_parts().unwrap().1, vec![1, 0, 1]);
        assert!(k.public_key_info().is_ok());
        assert_eq!(k.ec_point_der().unwrap_err(), Error::KeyTypeInconsistent);
    }
}
