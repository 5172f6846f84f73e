//! P-192/P-224/P-256/P-384/P-521 keys and ECDSA (CKM_ECDSA over a caller-supplied hash, and
//! CKM_ECDSA_SHAx hashing first). Signatures are raw r||s, as PKCS#11
//! specifies, not DER. This file keeps the PKCS#11 logic (buffering, hash
//! normalization, signature length); the crypto provider (provider/) signs
//! and verifies.

use std::sync::Arc;

use p256::pkcs8::EncodePublicKey;
use zeroize::{Zeroize, Zeroizing};

use super::digest::HashAlg;
use super::keys::{Curve, Key};
use super::provider::{self, Cached};
use super::sign::{Input, SignOp, VerifyOp};
use super::state::Resume;
use crate::error::{Error, Result};

/// An ECDSA private key on one of the supported curves (zeroized on drop
/// by the underlying crate).
#[derive(Clone)]
pub enum EcSigningKey {
    /// p192 has no signing key alias (the crate verifies only): ecdsa's
    /// generic key, signed through its hazmat RFC 6979 function.
    P192(ecdsa::SigningKey<p192::NistP192>),
    P224(p224::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// An ECDSA public key on one of the supported curves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EcVerifyingKey {
    P192(p192::ecdsa::VerifyingKey),
    P224(p224::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
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
            Curve::P192 => {
                ecdsa::SigningKey::<p192::NistP192>::from_slice(&padded).map(EcSigningKey::P192)
            }
            Curve::P224 => p224::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P224),
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P256),
            Curve::P384 => p384::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P384),
            Curve::P521 => p521::ecdsa::SigningKey::from_slice(&padded).map(EcSigningKey::P521),
        };
        key.map_err(|_| Error::AttributeValueInvalid)
    }

    pub fn curve(&self) -> Curve {
        match self {
            EcSigningKey::P192(_) => Curve::P192,
            EcSigningKey::P224(_) => Curve::P224,
            EcSigningKey::P256(_) => Curve::P256,
            EcSigningKey::P384(_) => Curve::P384,
            EcSigningKey::P521(_) => Curve::P521,
        }
    }

    pub fn verifying_key(&self) -> EcVerifyingKey {
        match self {
            EcSigningKey::P192(k) => EcVerifyingKey::P192(*k.verifying_key()),
            EcSigningKey::P224(k) => EcVerifyingKey::P224(*k.verifying_key()),
            EcSigningKey::P256(k) => EcVerifyingKey::P256(*k.verifying_key()),
            EcSigningKey::P384(k) => EcVerifyingKey::P384(*k.verifying_key()),
            EcSigningKey::P521(k) => EcVerifyingKey::P521(*k.verifying_key()),
        }
    }

    /// The private scalar, big-endian, full field width.
    pub fn scalar_bytes(&self) -> Zeroizing<Vec<u8>> {
        match self {
            EcSigningKey::P192(k) => {
                let mut b = k.to_bytes();
                let out = Zeroizing::new(b.to_vec());
                b.as_mut_slice().zeroize();
                out
            }
            EcSigningKey::P224(k) => {
                let mut b = k.to_bytes();
                let out = Zeroizing::new(b.to_vec());
                b.as_mut_slice().zeroize();
                out
            }
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
            EcSigningKey::P521(k) => {
                let mut b = k.to_bytes();
                let out = Zeroizing::new(b.to_vec());
                b.as_mut_slice().zeroize();
                out
            }
        }
    }
}

impl EcVerifyingKey {
    /// A key from a raw SEC1 point (compressed or uncompressed).
    pub fn from_sec1(curve: Curve, point: &[u8]) -> Result<EcVerifyingKey> {
        let key = match curve {
            Curve::P192 => {
                p192::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P192)
            }
            Curve::P224 => {
                p224::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P224)
            }
            Curve::P256 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P256)
            }
            Curve::P384 => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P384)
            }
            Curve::P521 => {
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map(EcVerifyingKey::P521)
            }
        };
        key.map_err(|_| Error::AttributeValueInvalid)
    }

    pub fn curve(&self) -> Curve {
        match self {
            EcVerifyingKey::P192(_) => Curve::P192,
            EcVerifyingKey::P224(_) => Curve::P224,
            EcVerifyingKey::P256(_) => Curve::P256,
            EcVerifyingKey::P384(_) => Curve::P384,
            EcVerifyingKey::P521(_) => Curve::P521,
        }
    }

    /// The uncompressed SEC1 point 04||X||Y.
    pub fn uncompressed_point(&self) -> Vec<u8> {
        match self {
            EcVerifyingKey::P192(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcVerifyingKey::P224(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcVerifyingKey::P256(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcVerifyingKey::P384(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            EcVerifyingKey::P521(k) => k.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// DER SubjectPublicKeyInfo (id-ecPublicKey, named curve, uncompressed).
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        let doc = match self {
            EcVerifyingKey::P192(k) => k.to_public_key_der(),
            EcVerifyingKey::P224(k) => k.to_public_key_der(),
            EcVerifyingKey::P256(k) => k.to_public_key_der(),
            EcVerifyingKey::P384(k) => k.to_public_key_der(),
            EcVerifyingKey::P521(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|_| Error::GeneralError)
    }
}

impl Curve {
    /// Builds every curve's lazily made tables (the generator multiples of
    /// `precomputed-tables`) now: the façade calls this inside the fork
    /// gate, so no child inherits a table caught half built.
    pub fn warm_up_all() {
        use p256::elliptic_curve::group::Group as _;
        let _ = p192::ProjectivePoint::mul_by_generator(&p192::Scalar::ONE);
        let _ = p224::ProjectivePoint::mul_by_generator(&p224::Scalar::ONE);
        let _ = p256::ProjectivePoint::mul_by_generator(&p256::Scalar::ONE);
        let _ = p384::ProjectivePoint::mul_by_generator(&p384::Scalar::ONE);
        let _ = p521::ProjectivePoint::mul_by_generator(&p521::Scalar::ONE);
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

/// FIPS 186-4 §6.4 / SEC1 §4.1.3: the leftmost order-size bits of the hash,
/// as field-size bytes, with shorter hashes left-padded so they keep their
/// integer value. The ecdsa crate would keep the *rightmost* bits of an
/// over-long input, so the truncation is done here. For P-256/P-384 the
/// order has a whole number of bytes; for P-521 (66 bytes = 528 bits) a
/// 66-byte prefix is shifted right by the 7 surplus bits.
pub(super) fn normalize_hash(hash: &[u8], curve: Curve) -> Vec<u8> {
    let field_bytes = curve.field_bytes();
    let surplus = field_bytes
        .saturating_mul(8)
        .saturating_sub(usize::try_from(curve.bits()).unwrap_or(usize::MAX));
    match hash.get(..field_bytes) {
        Some(prefix) if surplus == 0 => prefix.to_vec(),
        Some(prefix) => shift_right(prefix, surplus),
        None => {
            let mut z = vec![0u8; field_bytes.saturating_sub(hash.len())];
            z.extend_from_slice(hash);
            z
        }
    }
}

/// A big-endian value shifted right by `bits` (< 8), same length.
fn shift_right(value: &[u8], bits: usize) -> Vec<u8> {
    let bits = u32::try_from(bits % 8).unwrap_or(0);
    let mut carry = 0u8;
    value
        .iter()
        .map(|&b| {
            let out = b.checked_shr(bits).unwrap_or(0) | carry;
            carry = b.checked_shl(8 - bits).unwrap_or(0);
            out
        })
        .collect()
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

fn signing_key(key: &Key) -> Result<&Cached<EcSigningKey>> {
    match key {
        Key::EcPrivate { key, .. } => Ok(key),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn verifying_key(key: &Key) -> Result<&Cached<EcVerifyingKey>> {
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
        let curve = signing_key(&key)?.curve();
        provider::check_ecdsa_pairing(curve, hash, true)?;
        let sig_len = 2 * curve.field_bytes();
        Ok(EcdsaSign {
            key,
            input: Input::new(hash),
            sig_len,
        })
    }
}

impl Resume for EcdsaSign {
    fn input(&self) -> &Input {
        &self.input
    }

    fn input_mut(&mut self) -> &mut Input {
        &mut self.input
    }
}

impl SignOp for EcdsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let message_hash = self.input.message_hash();
        let hash = self.input.take()?;
        let key = signing_key(&self.key)?;
        if let Some(alg) = message_hash {
            return provider::active().ecdsa_sign_message(key, alg, &hash);
        }
        let z = normalize_hash(&hash, key.curve());
        provider::active().ecdsa_sign(key, &z)
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
        provider::check_ecdsa_pairing(verifying_key(&key)?.curve(), hash, false)?;
        Ok(EcdsaVerify {
            key,
            input: Input::new(hash),
        })
    }
}

impl Resume for EcdsaVerify {
    fn input(&self) -> &Input {
        &self.input
    }

    fn input_mut(&mut self) -> &mut Input {
        &mut self.input
    }
}

impl VerifyOp for EcdsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message_hash = self.input.message_hash();
        let hash = self.input.take()?;
        let key = verifying_key(&self.key)?;
        if signature.len() != 2 * key.curve().field_bytes() {
            return Err(Error::SignatureLenRange);
        }
        if let Some(alg) = message_hash {
            return provider::active().ecdsa_verify_message(key, alg, &hash, signature);
        }
        let z = normalize_hash(&hash, key.curve());
        provider::active().ecdsa_verify(key, &z, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    #[test]
    fn normalize_pads_and_truncates() {
        let mut padded = vec![0u8; 30];
        padded.extend_from_slice(&[1, 2]);
        assert_eq!(normalize_hash(&[1, 2], Curve::P256), padded);
        let long: Vec<u8> = (0..40).collect();
        assert_eq!(normalize_hash(&long, Curve::P256), long[..32].to_vec());
        assert_eq!(normalize_hash(&[], Curve::P384), vec![0; 48]);
        // P-521: up to 65 bytes keep their value; longer inputs keep their
        // leftmost 521 bits.
        let h65 = [0xffu8; 65];
        assert_eq!(normalize_hash(&h65, Curve::P521)[1..], h65[..]);
        let z = normalize_hash(&[0xffu8; 70], Curve::P521);
        assert_eq!(z.len(), 66);
        assert_eq!(z[0], 0x01);
        assert!(z[1..].iter().all(|&b| b == 0xff));
        assert_eq!(shift_right(&[0x80, 0x01], 7), vec![0x01, 0x00]);
        assert_eq!(shift_right(&[0x12, 0x34], 0), vec![0x12, 0x34]);
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

    /// The RFC 6979 A.2.7 P-521 key.
    fn p521_pair() -> (Arc<Key>, Arc<Key>) {
        let x = unhex(
            "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75CA
             A896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538",
        );
        let private = Key::ec_private(&Curve::P521.ec_params(), &x).unwrap();
        let public = private.to_public().unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn sign(key: &Arc<Key>, hash: Option<HashAlg>, data: &[u8]) -> Vec<u8> {
        let mut op = EcdsaSign::new(key.clone(), hash).unwrap();
        op.update(data).unwrap();
        let sig = op.finish().unwrap();
        assert_eq!(sig.len(), op.sign_len());
        sig
    }

    fn verify(key: &Arc<Key>, hash: Option<HashAlg>, data: &[u8], sig: &[u8]) -> Result<()> {
        let mut op = EcdsaVerify::new(key.clone(), hash)?;
        op.update(data)?;
        op.finish(sig)
    }

    /// Known answers: RFC 6979 A.2.7 (SHA-512, "sample"), and signatures
    /// made by OpenSSL (through Python's cryptography) over SHA-256
    /// ("sample", padded to the order) and over a 70-byte raw input whose
    /// leftmost 521 bits are what gets signed.
    #[test]
    fn p521_known_answers() {
        let (_, public) = p521_pair();
        let rfc = unhex(
            "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F17
             4E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA
             00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF28
             2623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A",
        );
        assert_eq!(
            verify(&public, Some(HashAlg::Sha512), b"sample", &rfc),
            Ok(())
        );
        let digest = HashAlg::Sha512.hash(b"sample");
        assert_eq!(verify(&public, None, &digest, &rfc), Ok(()));
        let openssl_sha256 = unhex(
            "00eba1f83b60179d5ef8183abaa78fd1a9c18d0b903fad58f992ee8db6d37537a8
             fdd66875999abd7b7c9550cf42e37993a0ae70b8f9a6f6cb73a61941caaec25531
             01d205c75174c61910ad7ce66831536e3ec77b8cefa20c48169c20043c927b129f
             af31cf702bd1e37ec68c19c606e45dbe8ccde056d7b28d2ee9c584e4c3f4a9d782",
        );
        assert_eq!(
            verify(&public, Some(HashAlg::Sha256), b"sample", &openssl_sha256),
            Ok(())
        );
        let long_input = unhex(
            "005a0b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8cdf2173c61
             86abd0f51a3f6489aed3f81d42678cb1d6fb20456a8fb4d9fe23486d92b7dc0126
             4b7095ba",
        );
        let openssl_long = unhex(
            "00c656e6a9f9ab15b58421a5db69359fc40a4107061a13823b19cb565071ecd6a7
             41239fc0c51890163413ac23ba4e66403fee05f872027a729b4e9bed9512ab6f49
             00507f2ff5c7000feba51a88df8adb14bcab536c5b214ca8e1bcfea2c18b8e69f6
             c0a56a39dbd160da84d065173ab94336cb2f4e4278795b90acb820a77d5e46263f",
        );
        assert_eq!(verify(&public, None, &long_input, &openssl_long), Ok(()));
        // Only the leftmost 521 bits count.
        assert_eq!(
            verify(&public, None, &long_input[..66], &openssl_long),
            Ok(())
        );
        let mut changed = long_input.clone();
        changed[65] ^= 0x80;
        assert_eq!(
            verify(&public, None, &changed, &openssl_long),
            Err(Error::SignatureInvalid)
        );
    }

    /// RFC 6979 A.2.3 (P-192) and A.2.4 (P-224): the key x, and the
    /// deterministic signatures of "sample" with SHA-256 and SHA-224 (our
    /// signer hedges its nonce, so it is checked by verification; the
    /// public keys are x·G as the RFC lists them).
    #[test]
    fn small_curves_rfc6979_known_answers() {
        let cases = [
            (
                Curve::P192,
                "6FAB034934E4C0FC9AE67F5B5659A9D7D1FEFD187EE09FD4",
                "04AC2C77F529F91689FEA0EA5EFEC7F210D8EEA0B9E047ED56
                 3BC723E57670BD4887EBC732C523063D0A7C957BC97C1C43",
                HashAlg::Sha256,
                "4B0B8CE98A92866A2820E20AA6B75B56382E0F9BFD5ECB55
                 CCDB006926EA9565CBADC840829D8C384E06DE1F1E381B85",
            ),
            (
                Curve::P224,
                "F220266E1105BFE3083E03EC7A3A654651F45E37167E88600BF257C1",
                "0400CF08DA5AD719E42707FA431292DEA11244D64FC51610D94B130D6C
                 EEAB6F3DEBE455E3DBF85416F7030CBD94F34F2D6F232C69F3C1385A",
                HashAlg::Sha224,
                "1CDFE6662DDE1E4A1EC4CDEDF6A1F5A2FB7FBD9145C12113E6ABFD3E
                 A6694FD7718A21053F225D3F46197CA699D45006C06F871808F43EBC",
            ),
        ];
        for (curve, x, point, hash, sig) in cases {
            let private = Arc::new(Key::ec_private(&curve.ec_params(), &unhex(x)).unwrap());
            let public = Arc::new(private.to_public().unwrap());
            assert_eq!(public.ec_point_der().unwrap()[2..], unhex(point)[..]);
            let sig = unhex(sig);
            assert_eq!(verify(&public, Some(hash), b"sample", &sig), Ok(()));
            assert_eq!(verify(&public, None, &hash.hash(b"sample"), &sig), Ok(()));
            assert_eq!(
                verify(&public, Some(hash), b"samplf", &sig),
                Err(Error::SignatureInvalid)
            );
            for h in [None, Some(HashAlg::Sha1), Some(HashAlg::Sha512)] {
                let data = [0x5au8; 70];
                let made = sign(&private, h, &data);
                assert_eq!(made.len(), 2 * curve.field_bytes());
                assert_eq!(verify(&public, h, &data, &made), Ok(()));
                // A hedged signer: two signatures of the same data differ.
                assert_ne!(made, sign(&private, h, &data));
            }
        }
    }

    /// FIPS 186-2 SigGen, P-192 with SHA-1, the first vector (the crate's
    /// copy of NIST's file): `m` is the SHA-1 hash left-padded to the
    /// field width, signed by raw CKM_ECDSA.
    #[test]
    fn p192_nist_vector() {
        let q = unhex(
            "0414f69738599689f5706ab71343becc886ef1569a2d1137fe
             0cf5a433909e33217fb4df6b9593f71d43fb1c2a5653b763",
        );
        let public = Arc::new(Key::ec_public(&Curve::P192.ec_params(), &q).unwrap());
        let m = unhex("000000005c8190e87adb631bb5537f3f5f478888bd002ff5");
        let sig = unhex(
            "af1f749e3df6220ff04efd178618a977e0838b1b9dc126e3
             8990a04c6cc0ff26264ecf8f7831381a9dbc6e53cc8cc860",
        );
        assert_eq!(verify(&public, None, &m, &sig), Ok(()));
        // The 20-byte hash alone is the same integer.
        assert_eq!(verify(&public, None, &m[4..], &sig), Ok(()));
        assert_eq!(
            verify(&public, None, &m, &sig[..47]),
            Err(Error::SignatureLenRange)
        );
    }

    #[test]
    fn p521_round_trip() {
        let (private, public) = p521_pair();
        for hash in [None, Some(HashAlg::Sha256), Some(HashAlg::Sha512)] {
            let data = [0x42u8; 80];
            let sig = sign(&private, hash, &data);
            assert_eq!(sig.len(), 132);
            assert_eq!(verify(&public, hash, &data, &sig), Ok(()));
            let mut bad = sig.clone();
            bad[70] ^= 1;
            assert_eq!(
                verify(&public, hash, &data, &bad),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify(&public, hash, &data, &sig[..131]),
                Err(Error::SignatureLenRange)
            );
        }
        assert!(matches!(
            EcdsaSign::new(public, None),
            Err(Error::KeyTypeInconsistent)
        ));
    }
}
