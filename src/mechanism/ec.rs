//! P-256/P-384 keys and ECDSA (CKM_ECDSA over a caller-supplied hash, and
//! CKM_ECDSA_SHAx hashing first). Signatures are raw r||s, as PKCS#11
//! specifies, not DER.

use std::sync::Arc;

use getrandom::SysRng;
use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use p256::pkcs8::EncodePublicKey;
use zeroize::{Zeroize, Zeroizing};

use super::digest::HashAlg;
use super::keys::{Curve, Key};
use super::sign::{Input, SignOp, VerifyOp};
use crate::error::{Error, Result};

/// An ECDSA private key on one of the supported curves (zeroized on drop
/// by the underlying crate).
#[derive(Clone)]
pub enum EcSigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// An ECDSA public key on one of the supported curves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EcVerifyingKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for EcSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcSigningKey({:?}, <redacted>)", self.curve())
    }
}

impl std::fmt::Debug for EcVerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcVerifyingKey({:?})", self.curve())
    }
}

impl EcSigningKey {
    /// A key from a big-endian scalar of at most the field size (shorter
    /// values are left-padded). Zero or ≥ the group order is rejected.
    pub fn from_scalar(curve: Curve, value: &[u8]) -> Result<EcSigningKey> {
        let padded = left_pad(value, curve.field_bytes()).ok_or(Error::AttributeValueInvalid)?;
        let key = match curve {
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P256),
            Curve::P384 => p384::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P384),
        };
        key.map_err(|_| Error::AttributeValueInvalid)
    }

    pub fn curve(&self) -> Curve {
        match self {
            EcSigningKey::P256(_) => Curve::P256,
            EcSigningKey::P384(_) => Curve::P384,
        }
    }

    pub fn verifying_key(&self) -> EcVerifyingKey {
        match self {
            EcSigningKey::P256(k) => EcVerifyingKey::P256(*k.verifying_key()),
            EcSigningKey::P384(k) => EcVerifyingKey::P384(*k.verifying_key()),
        }
    }

    /// The private scalar, big-endian, full field width.
    pub fn scalar_bytes(&self) -> Zeroizing<Vec<u8>> {
        match self {
            EcSigningKey::P256(k) => {
                let mut b = k.to_bytes();
                let out = Zeroizing::new(b.to_vec());
                b.as_mut_slice().zeroize();
                out
            }
            EcSigningKey::P384(k) => {
                let mut b = k.to_bytes();
                let out = Zeroizing::new(b.to_vec());
                b.as_mut_slice().zeroize();
                out
            }
        }
    }

    /// Signs a hash of any length (normalized to the field size first),
    /// hedged with OS randomness on top of RFC 6979.
    fn sign_prehash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        let z = normalize_hash(hash, self.curve().field_bytes());
        match self {
            EcSigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash_with_rng(&mut SysRng, &z)
                    .map_err(|_| Error::FunctionFailed)?;
                Ok(sig.to_bytes().to_vec())
            }
            EcSigningKey::P384(k) => {
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash_with_rng(&mut SysRng, &z)
                    .map_err(|_| Error::FunctionFailed)?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }
}

impl EcVerifyingKey {
    /// A key from a raw SEC1 point (compressed or uncompressed).
    pub fn from_sec1(curve: Curve, point: &[u8]) -> Result<EcVerifyingKey> {
        let key = match curve {
            Curve::P256 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P256)
            }
            Curve::P384 => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P384)
            }
        };
        key.map_err(|_| Error::AttributeValueInvalid)
    }

    pub fn curve(&self) -> Curve {
        match self {
            EcVerifyingKey::P256(_) => Curve::P256,
            EcVerifyingKey::P384(_) => Curve::P384,
        }
    }

    /// The uncompressed SEC1 point 04||X||Y.
    pub fn uncompressed_point(&self) -> Vec<u8> {
        match self {
            EcVerifyingKey::P256(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcVerifyingKey::P384(k) => k.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// DER SubjectPublicKeyInfo (id-ecPublicKey, named curve, uncompressed).
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        let doc = match self {
            EcVerifyingKey::P256(k) => k.to_public_key_der(),
            EcVerifyingKey::P384(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|_| Error::GeneralError)
    }

    /// Checks a raw r||s signature over a hash of any length.
    fn verify_prehash(&self, hash: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != 2 * self.curve().field_bytes() {
            return Err(Error::SignatureLenRange);
        }
        let z = normalize_hash(hash, self.curve().field_bytes());
        let ok = match self {
            EcVerifyingKey::P256(k) => p256::ecdsa::Signature::from_slice(signature)
                .and_then(|sig| k.verify_prehash(&z, &sig))
                .is_ok(),
            EcVerifyingKey::P384(k) => p384::ecdsa::Signature::from_slice(signature)
                .and_then(|sig| k.verify_prehash(&z, &sig))
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// Left-pads a big-endian value to `len` bytes; leading zero bytes beyond
/// `len` are tolerated, a longer significant value is not.
fn left_pad(value: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let significant = value.get(first..)?;
    let pad = len.checked_sub(significant.len())?;
    let mut out = Zeroizing::new(vec![0u8; pad]);
    out.extend_from_slice(significant);
    Some(out)
}

/// FIPS 186-4 §6.4 / SEC1 §4.1.3: the leftmost field-size bytes of the hash
/// (exact for P-256/P-384, whose order has a whole number of bytes), with
/// shorter hashes left-padded so they keep their integer value.
fn normalize_hash(hash: &[u8], field_bytes: usize) -> Vec<u8> {
    match hash.get(..field_bytes) {
        Some(prefix) => prefix.to_vec(),
        None => {
            let mut z = vec![0u8; field_bytes.saturating_sub(hash.len())];
            z.extend_from_slice(hash);
            z
        }
    }
}

/// Wraps a SEC1 point in a DER OCTET STRING (CKA_EC_POINT's encoding).
pub(super) fn point_to_der(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    // Points of the supported curves are < 256 bytes, so one length byte
    // (long form past 127) is enough.
    match u8::try_from(point.len()) {
        Ok(n) if n < 0x80 => out.push(n),
        Ok(n) => out.extend_from_slice(&[0x81, n]),
        Err(_) => {
            let n = u16::try_from(point.len()).unwrap_or(u16::MAX);
            out.push(0x82);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(point);
    out
}

/// Accepts CKA_EC_POINT either DER-wrapped (the spec's form) or as a raw
/// SEC1 point (what many applications send). The lengths of the two forms
/// never coincide for a given curve, so unwrapping is only attempted when
/// the content has a valid point length.
pub(super) fn point_from_attr(curve: Curve, attr: &[u8]) -> &[u8] {
    let fb = curve.field_bytes();
    let valid_len = |n: usize| n == fb + 1 || n == 2 * fb + 1;
    let content = match attr {
        [0x04, n, rest @ ..] if usize::from(*n) == rest.len() && *n < 0x80 => Some(rest),
        [0x04, 0x81, n, rest @ ..] if usize::from(*n) == rest.len() && *n >= 0x80 => Some(rest),
        _ => None,
    };
    match content {
        Some(inner) if valid_len(inner.len()) => inner,
        _ => attr,
    }
}

fn signing_key(key: &Key) -> Result<&EcSigningKey> {
    match key {
        Key::EcPrivate { key, .. } => Ok(key),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn verifying_key(key: &Key) -> Result<&EcVerifyingKey> {
    match key {
        Key::EcPublic { key, .. } => Ok(key),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// CKM_ECDSA (hash: None) or CKM_ECDSA_SHAx signing.
pub(super) struct EcdsaSign {
    key: Arc<Key>,
    input: Input,
    sig_len: usize,
}

impl EcdsaSign {
    pub(super) fn new(key: Arc<Key>, hash: Option<HashAlg>) -> Result<EcdsaSign> {
        let sig_len = 2 * signing_key(&key)?.curve().field_bytes();
        Ok(EcdsaSign {
            key,
            input: Input::new(hash),
            sig_len,
        })
    }
}

impl SignOp for EcdsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let hash = self.input.take()?;
        signing_key(&self.key)?.sign_prehash(&hash)
    }

    fn sign_len(&self) -> usize {
        self.sig_len
    }
}

/// CKM_ECDSA (hash: None) or CKM_ECDSA_SHAx verification.
pub(super) struct EcdsaVerify {
    key: Arc<Key>,
    input: Input,
}

impl EcdsaVerify {
    pub(super) fn new(key: Arc<Key>, hash: Option<HashAlg>) -> Result<EcdsaVerify> {
        verifying_key(&key)?;
        Ok(EcdsaVerify {
            key,
            input: Input::new(hash),
        })
    }
}

impl VerifyOp for EcdsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let hash = self.input.take()?;
        verifying_key(&self.key)?.verify_prehash(&hash, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_pads_and_truncates() {
        assert_eq!(normalize_hash(&[1, 2], 4), vec![0, 0, 1, 2]);
        assert_eq!(normalize_hash(&[1, 2, 3, 4, 5], 4), vec![1, 2, 3, 4]);
        assert_eq!(normalize_hash(&[], 2), vec![0, 0]);
    }

    #[test]
    fn left_pad_rules() {
        assert_eq!(*left_pad(&[0, 0, 7], 2).unwrap(), vec![0, 7]);
        assert!(left_pad(&[1, 2, 3], 2).is_none());
    }

    #[test]
    fn point_der_forms() {
        let raw = [0x04u8; 65];
        let der = point_to_der(&raw);
        assert_eq!(&der[..2], &[0x04, 65]);
        assert_eq!(point_from_attr(Curve::P256, &der), &raw[..]);
        assert_eq!(point_from_attr(Curve::P256, &raw), &raw[..]);
        let raw384 = [0x04u8; 97];
        assert_eq!(
            point_from_attr(Curve::P384, &point_to_der(&raw384)),
            &raw384[..]
        );
        let long = point_to_der(&[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
    }
}
