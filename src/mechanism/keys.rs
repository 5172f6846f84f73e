//! Typed key material built from attribute bytes by the object layer, with
//! the encodings PKCS#11 attributes need (CKA_EC_POINT, CKA_EC_PARAMS,
//! CKA_PUBLIC_KEY_INFO). Secrets never appear in `Debug` output. PKCS#8
//! (for wrapping) lives in `pkcs8.rs`.

use cryptoki_sys::*;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::curve448::{self, Alg448, CURVE448_BITS};
use super::curve25519::{self, Alg25519};
use super::ec::{self, EcSigningKey, EcVerifyingKey};
use super::ml_dsa::{MlDsaPrivate, MlDsaPublic, ParamSet};
use super::provider::Cached;
use super::schedule::Schedules;
use super::slh_dsa::{self, SlhDsaPrivate, SlhDsaPublic};
use crate::error::{Error, Result};

/// The supported short-Weierstrass named curves (CKK_EC). Ed25519 and
/// X25519 keys have their own `Key` variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-192 and P-224: offered only where the policy's `min_ec_bits`
    /// allows them (the compat profile), never in the FIPS build.
    P192,
    P224,
    P256,
    P384,
    P521,
}

/// DER OBJECT IDENTIFIER 1.2.840.10045.3.1.1 (prime192v1 / secp192r1).
const P192_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
/// DER OBJECT IDENTIFIER 1.3.132.0.33 (secp224r1).
const P224_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
/// DER OBJECT IDENTIFIER 1.2.840.10045.3.1.7 (prime256v1 / secp256r1).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OBJECT IDENTIFIER 1.3.132.0.34 (secp384r1).
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER OBJECT IDENTIFIER 1.3.132.0.35 (secp521r1).
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// DER tag of PrintableString, which PKCS#11 allows for curve names.
const PRINTABLE_STRING: u8 = 0x13;

impl Curve {
    /// Parses CKA_EC_PARAMS: a DER namedCurve OID, or a DER PrintableString
    /// curve name. Anything else (explicit parameters, other curves) is
    /// AttributeValueInvalid; callers map it to CKR_CURVE_NOT_SUPPORTED
    /// where the spec asks for that.
    pub fn from_ec_params(der: &[u8]) -> Result<Curve> {
        let curve = Curve::parse_ec_params(der)?;
        // The FIPS build offers none of the small curves (aws-lc-rs has
        // no P-192/P-224 service): they stay unknown there.
        if super::provider::FIPS && curve.bits() < 256 {
            return Err(Error::CurveNotSupported);
        }
        Ok(curve)
    }

    fn parse_ec_params(der: &[u8]) -> Result<Curve> {
        if der == P192_OID {
            return Ok(Curve::P192);
        }
        if der == P224_OID {
            return Ok(Curve::P224);
        }
        if der == P256_OID {
            return Ok(Curve::P256);
        }
        if der == P384_OID {
            return Ok(Curve::P384);
        }
        if der == P521_OID {
            return Ok(Curve::P521);
        }
        match der {
            [PRINTABLE_STRING, len, name @ ..] if usize::from(*len) == name.len() => match name {
                b"prime192v1" | b"secp192r1" => Ok(Curve::P192),
                b"secp224r1" => Ok(Curve::P224),
                b"prime256v1" | b"secp256r1" => Ok(Curve::P256),
                b"secp384r1" => Ok(Curve::P384),
                b"secp521r1" => Ok(Curve::P521),
                _ => Err(Error::CurveNotSupported),
            },
            // A well-formed OID of a curve we do not offer.
            [0x06, len, oid @ ..] if usize::from(*len) == oid.len() && !oid.is_empty() => {
                Err(Error::CurveNotSupported)
            }
            _ => Err(Error::AttributeValueInvalid),
        }
    }

    /// The DER namedCurve OID.
    pub fn ec_params(&self) -> Vec<u8> {
        match self {
            Curve::P192 => P192_OID.to_vec(),
            Curve::P224 => P224_OID.to_vec(),
            Curve::P256 => P256_OID.to_vec(),
            Curve::P384 => P384_OID.to_vec(),
            Curve::P521 => P521_OID.to_vec(),
        }
    }

    /// Bit length of the group order.
    pub fn bits(&self) -> u64 {
        match self {
            Curve::P192 => 192,
            Curve::P224 => 224,
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Bytes in one field element or scalar.
    pub fn field_bytes(&self) -> usize {
        match self {
            Curve::P192 => 24,
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
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
        /// Round keys and MAC states built from `value` on first use
        /// (issue 11), dropped and zeroized with the key.
        sched: Schedules,
    },
    /// The EC and RSA keys carry the crypto provider's parsed form of
    /// themselves, built on first use (provider/mod.rs [`Cached`]).
    EcPrivate {
        curve: Curve,
        key: Cached<EcSigningKey>,
    },
    EcPublic {
        curve: Curve,
        key: Cached<EcVerifyingKey>,
    },
    RsaPrivate(Box<Cached<RsaPrivateKey>>),
    RsaPublic(Box<Cached<RsaPublicKey>>),
    /// Ed25519 private key (CKK_EC_EDWARDS); zeroized on drop by the crate.
    EdPrivate(Box<ed25519_dalek::SigningKey>),
    EdPublic(ed25519_dalek::VerifyingKey),
    /// X25519 private key (CKK_EC_MONTGOMERY); zeroized on drop by the
    /// crate.
    MontPrivate(Box<x25519_dalek::StaticSecret>),
    MontPublic(x25519_dalek::PublicKey),
    /// Ed448 private key (CKK_EC_EDWARDS on edwards448); zeroized on drop
    /// by the crate.
    Ed448Private(Box<ed448_goldilocks::SigningKey>),
    Ed448Public(Box<ed448_goldilocks::VerifyingKey>),
    /// X448 private key (CKK_EC_MONTGOMERY on curve448): the 56-byte
    /// scalar as stored (clamped at use, RFC 7748 §5).
    X448Private(Zeroizing<Vec<u8>>),
    X448Public(Vec<u8>),
    /// ML-DSA private key (CKK_ML_DSA): built from its seed, expanded once
    /// per load; zeroized on drop by the crate.
    MlDsaPrivate(Box<MlDsaPrivate>),
    MlDsaPublic(Box<MlDsaPublic>),
    /// ML-KEM private key (CKK_ML_KEM): its seed and expansion.
    MlKemPrivate(Box<super::ml_kem::MlKemPrivate>),
    MlKemPublic(Box<super::ml_kem::MlKemPublic>),
    /// DSA key (CKK_DSA), private or public (dsa.rs).
    Dsa(Box<super::dsa::DsaKey>),
    /// Finite-field Diffie-Hellman key (CKK_DH), private or public (dh.rs).
    Dh(Box<super::dh::DhKey>),
    /// SLH-DSA private key (CKK_SLH_DSA): SK.seed, SK.prf and the public
    /// key; zeroized on drop by the crate.
    SlhDsaPrivate(Box<SlhDsaPrivate>),
    SlhDsaPublic(Box<SlhDsaPublic>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Secret {
                key_type, value, ..
            } => write!(
                f,
                "Key::Secret(type {key_type:#x}, {} bytes, <redacted>)",
                value.len()
            ),
            Key::EcPrivate { curve, .. } => write!(f, "Key::EcPrivate({curve:?}, <redacted>)"),
            Key::EcPublic { curve, .. } => write!(f, "Key::EcPublic({curve:?})"),
            Key::RsaPrivate(_) => write!(f, "Key::RsaPrivate({} bits, <redacted>)", self.bits()),
            Key::RsaPublic(_) => write!(f, "Key::RsaPublic({} bits)", self.bits()),
            Key::EdPrivate(_) => write!(f, "Key::EdPrivate(Ed25519, <redacted>)"),
            Key::EdPublic(_) => write!(f, "Key::EdPublic(Ed25519)"),
            Key::MontPrivate(_) => write!(f, "Key::MontPrivate(X25519, <redacted>)"),
            Key::MontPublic(_) => write!(f, "Key::MontPublic(X25519)"),
            Key::Ed448Private(_) => write!(f, "Key::Ed448Private(<redacted>)"),
            Key::Ed448Public(_) => write!(f, "Key::Ed448Public"),
            Key::X448Private(_) => write!(f, "Key::X448Private(<redacted>)"),
            Key::X448Public(_) => write!(f, "Key::X448Public"),
            Key::MlDsaPrivate(k) => {
                write!(f, "Key::MlDsaPrivate({}, <redacted>)", k.param_set().name())
            }
            Key::MlDsaPublic(k) => write!(f, "Key::MlDsaPublic({})", k.param_set().name()),
            Key::MlKemPrivate(k) => write!(f, "Key::MlKemPrivate({:?}, <redacted>)", k.set()),
            Key::MlKemPublic(k) => write!(f, "Key::MlKemPublic({:?})", k.set()),
            Key::Dsa(k) if k.is_private() => {
                write!(f, "Key::Dsa({} bits, <redacted>)", k.bits())
            }
            Key::Dsa(k) => write!(f, "Key::Dsa({} bits, public)", k.bits()),
            Key::Dh(k) if k.is_private() => write!(f, "Key::Dh({} bits, <redacted>)", k.bits()),
            Key::Dh(k) => write!(f, "Key::Dh({} bits, public)", k.bits()),
            Key::SlhDsaPrivate(k) => {
                write!(
                    f,
                    "Key::SlhDsaPrivate({}, <redacted>)",
                    k.param_set().name()
                )
            }
            Key::SlhDsaPublic(k) => write!(f, "Key::SlhDsaPublic({})", k.param_set().name()),
        }
    }
}

/// Key size reported for Ed25519 and X25519 keys, matching the mechanism
/// table's rows.
pub const CURVE25519_BITS: u64 = 255;

/// Moduli accepted on import. Generation policy (2048–4096) is enforced by
/// the mechanism table and `generate_rsa`, not here.
pub(super) const RSA_IMPORT_BITS: std::ops::RangeInclusive<usize> = 1024..=8192;
/// Moduli accepted for an RSA *public* key: down to 512 bits, for the
/// verification of old signatures where the policy's
/// `min_rsa_verify_bits` allows it (the policy decides; a key below
/// `min_rsa_bits` never encrypts, wraps or signs).
pub(super) const RSA_PUBLIC_IMPORT_BITS: std::ops::RangeInclusive<usize> = 512..=8192;
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

pub(super) fn check_rsa_bits(n: &BoxedUint) -> Result<()> {
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
            CKK_CHACHA20 | CKK_POLY1305 | CKK_SALSA20 => value.len() == 32,
            CKK_GENERIC_SECRET | CKK_HKDF | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC | CKK_SHA512_HMAC | CKK_SHA3_224_HMAC | CKK_SHA3_256_HMAC
            | CKK_SHA3_384_HMAC | CKK_SHA3_512_HMAC => (1..=MAX_SECRET_LEN).contains(&value.len()),
            _ => false,
        };
        if !ok {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(Key::secret_unchecked(key_type, value))
    }

    /// A secret key whose length the caller has already checked (the
    /// object layer's rules cover more key types than [`Key::secret`]).
    pub fn secret_unchecked(key_type: CK_KEY_TYPE, value: &[u8]) -> Key {
        Key::Secret {
            key_type,
            value: Zeroizing::new(value.to_vec()),
            sched: Schedules::default(),
        }
    }

    /// An EC private key from CKA_EC_PARAMS and CKA_VALUE (big-endian
    /// scalar).
    pub fn ec_private(ec_params: &[u8], value: &[u8]) -> Result<Key> {
        let curve = Curve::from_ec_params(ec_params)?;
        let key = EcSigningKey::from_scalar(curve, value)?.into();
        Ok(Key::EcPrivate { curve, key })
    }

    /// An EC public key from CKA_EC_PARAMS and CKA_EC_POINT (DER OCTET
    /// STRING or raw SEC1 point, compressed or uncompressed).
    pub fn ec_public(ec_params: &[u8], ec_point: &[u8]) -> Result<Key> {
        let curve = Curve::from_ec_params(ec_params)?;
        let key = EcVerifyingKey::from_sec1(curve, ec::point_from_attr(curve, ec_point))?.into();
        Ok(Key::EcPublic { curve, key })
    }

    /// An Ed25519 private key from CKA_EC_PARAMS (id-Ed25519 or
    /// "edwards25519") and CKA_VALUE (the 32-byte seed).
    pub fn edwards_private(ec_params: &[u8], value: &[u8]) -> Result<Key> {
        if Alg448::from_ec_params(ec_params) == Some(Alg448::Ed448) {
            let seed = Alg448::Ed448.private_value(value)?;
            return Ok(Key::Ed448Private(Box::new(curve448::ed448_signing_key(
                &seed,
            )?)));
        }
        curve448::expect_edwards(ec_params)?;
        let seed = curve25519::private_value(value)?;
        Ok(Key::EdPrivate(Box::new(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        )))
    }

    /// An Ed25519 public key from CKA_EC_PARAMS and CKA_EC_POINT (the
    /// 32-byte key, raw or in a DER OCTET STRING). A point that does not
    /// decompress is AttributeValueInvalid.
    pub fn edwards_public(ec_params: &[u8], ec_point: &[u8]) -> Result<Key> {
        if Alg448::from_ec_params(ec_params) == Some(Alg448::Ed448) {
            let bytes = Alg448::Ed448
                .public_from_attr(ec_point)
                .ok_or(Error::AttributeValueInvalid)?;
            return Ok(Key::Ed448Public(Box::new(curve448::ed448_verifying_key(
                &bytes,
            )?)));
        }
        curve448::expect_edwards(ec_params)?;
        let bytes = curve25519::public_from_attr(ec_point).ok_or(Error::AttributeValueInvalid)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Error::AttributeValueInvalid)?;
        Ok(Key::EdPublic(key))
    }

    /// An X25519 private key from CKA_EC_PARAMS (id-X25519 or
    /// "curve25519") and CKA_VALUE (the 32-byte scalar as RFC 7748 encodes
    /// it; clamping happens at use).
    pub fn montgomery_private(ec_params: &[u8], value: &[u8]) -> Result<Key> {
        if Alg448::from_ec_params(ec_params) == Some(Alg448::X448) {
            return Ok(Key::X448Private(Alg448::X448.private_value(value)?));
        }
        curve448::expect_montgomery(ec_params)?;
        let scalar = curve25519::private_value(value)?;
        Ok(Key::MontPrivate(Box::new(
            x25519_dalek::StaticSecret::from(*scalar),
        )))
    }

    /// An X25519 public key from CKA_EC_PARAMS and CKA_EC_POINT (raw or
    /// DER-wrapped). Every 32-byte string is a valid u-coordinate
    /// (RFC 7748 §5).
    pub fn montgomery_public(ec_params: &[u8], ec_point: &[u8]) -> Result<Key> {
        if Alg448::from_ec_params(ec_params) == Some(Alg448::X448) {
            let bytes = Alg448::X448
                .public_from_attr(ec_point)
                .ok_or(Error::AttributeValueInvalid)?;
            return Ok(Key::X448Public(bytes));
        }
        curve448::expect_montgomery(ec_params)?;
        let bytes = curve25519::public_from_attr(ec_point).ok_or(Error::AttributeValueInvalid)?;
        Ok(Key::MontPublic(x25519_dalek::PublicKey::from(bytes)))
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
        Ok(Key::RsaPrivate(Box::new(key.into())))
    }

    /// An RSA public key from big-endian modulus and exponent.
    pub fn rsa_public(n: &[u8], e: &[u8]) -> Result<Key> {
        let (n, e) = rsa_n_e(n, e)?;
        let bits = usize::try_from(n.bits_vartime()).map_err(|_| Error::AttributeValueInvalid)?;
        if !RSA_PUBLIC_IMPORT_BITS.contains(&bits) {
            return Err(Error::AttributeValueInvalid);
        }
        let key = RsaPublicKey::new_with_size_limits(n, e, RSA_PUBLIC_IMPORT_BITS)
            .map_err(|_| Error::AttributeValueInvalid)?;
        Ok(Key::RsaPublic(Box::new(key.into())))
    }

    /// An ML-DSA private key from CKA_PARAMETER_SET and CKA_SEED (ξ).
    pub fn ml_dsa_private(parameter_set: CK_ULONG, seed: &[u8]) -> Result<Key> {
        let set = ParamSet::from_ckp(parameter_set)?;
        Ok(Key::MlDsaPrivate(Box::new(MlDsaPrivate::from_seed(
            set, seed,
        )?)))
    }

    /// An ML-DSA public key from CKA_PARAMETER_SET and CKA_VALUE.
    pub fn ml_dsa_public(parameter_set: CK_ULONG, value: &[u8]) -> Result<Key> {
        let set = ParamSet::from_ckp(parameter_set)?;
        Ok(Key::MlDsaPublic(Box::new(MlDsaPublic::from_bytes(
            set, value,
        )?)))
    }

    /// The ML-DSA parameter set (CKP_ML_DSA_*) of a CKK_ML_DSA key.
    pub fn ml_dsa_parameter_set(&self) -> Option<CK_ULONG> {
        match self {
            Key::MlDsaPrivate(k) => Some(k.param_set().ckp()),
            Key::MlDsaPublic(k) => Some(k.param_set().ckp()),
            _ => None,
        }
    }

    /// The encoded ML-DSA public key (CKA_VALUE of the public object).
    pub fn ml_dsa_public_value(&self) -> Result<Vec<u8>> {
        match self {
            Key::MlDsaPrivate(k) => Ok(k.public().to_bytes()),
            Key::MlDsaPublic(k) => Ok(k.to_bytes()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The ML-DSA seed ξ (CKA_SEED; key material).
    pub fn ml_dsa_seed(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Key::MlDsaPrivate(k) => Ok(k.seed()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The expanded ML-DSA private key sk (FIPS 204 skEncode).
    pub fn ml_dsa_expanded(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Key::MlDsaPrivate(k) => Ok(k.expanded()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// An SLH-DSA private key from CKA_PARAMETER_SET and CKA_VALUE (SK.seed
    /// ‖ SK.prf ‖ PK.seed ‖ PK.root; PK.root is checked against the seeds).
    pub fn slh_dsa_private(parameter_set: CK_ULONG, value: &[u8]) -> Result<Key> {
        let set = slh_dsa::ParamSet::from_ckp(parameter_set)?;
        Ok(Key::SlhDsaPrivate(Box::new(SlhDsaPrivate::from_bytes(
            set, value,
        )?)))
    }

    /// An SLH-DSA private key the object layer stored after
    /// [`Key::slh_dsa_private`] checked it: loaded as it is.
    pub fn slh_dsa_private_stored(parameter_set: CK_ULONG, value: &[u8]) -> Result<Key> {
        let set = slh_dsa::ParamSet::from_ckp(parameter_set)?;
        Ok(Key::SlhDsaPrivate(Box::new(
            SlhDsaPrivate::from_stored_bytes(set, value)?,
        )))
    }

    /// An SLH-DSA public key from CKA_PARAMETER_SET and CKA_VALUE.
    pub fn slh_dsa_public(parameter_set: CK_ULONG, value: &[u8]) -> Result<Key> {
        let set = slh_dsa::ParamSet::from_ckp(parameter_set)?;
        Ok(Key::SlhDsaPublic(Box::new(SlhDsaPublic::from_bytes(
            set, value,
        )?)))
    }

    /// The SLH-DSA parameter set (CKP_SLH_DSA_*) of a CKK_SLH_DSA key.
    pub fn slh_dsa_parameter_set(&self) -> Option<CK_ULONG> {
        match self {
            Key::SlhDsaPrivate(k) => Some(k.param_set().ckp()),
            Key::SlhDsaPublic(k) => Some(k.param_set().ckp()),
            _ => None,
        }
    }

    /// The SLH-DSA public key (CKA_VALUE of the public object).
    pub fn slh_dsa_public_value(&self) -> Result<Vec<u8>> {
        match self {
            Key::SlhDsaPrivate(k) => Ok(k.public().to_bytes()),
            Key::SlhDsaPublic(k) => Ok(k.to_bytes()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The SLH-DSA private key (CKA_VALUE of the private object; key
    /// material).
    pub fn slh_dsa_private_value(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Key::SlhDsaPrivate(k) => Ok(k.to_bytes()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The CKK_* type of this key.
    pub fn key_type(&self) -> CK_KEY_TYPE {
        match self {
            Key::Secret { key_type, .. } => *key_type,
            Key::EcPrivate { .. } | Key::EcPublic { .. } => CKK_EC,
            Key::RsaPrivate(_) | Key::RsaPublic(_) => CKK_RSA,
            Key::EdPrivate(_) | Key::EdPublic(_) => CKK_EC_EDWARDS,
            Key::MontPrivate(_) | Key::MontPublic(_) => CKK_EC_MONTGOMERY,
            Key::Ed448Private(_) | Key::Ed448Public(_) => CKK_EC_EDWARDS,
            Key::X448Private(_) | Key::X448Public(_) => CKK_EC_MONTGOMERY,
            Key::MlDsaPrivate(_) | Key::MlDsaPublic(_) => CKK_ML_DSA,
            Key::MlKemPrivate(_) | Key::MlKemPublic(_) => CKK_ML_KEM,
            Key::Dsa(_) => CKK_DSA,
            Key::Dh(_) => CKK_DH,
            Key::SlhDsaPrivate(_) | Key::SlhDsaPublic(_) => CKK_SLH_DSA,
        }
    }

    /// Whether this is secret or private material (as opposed to public).
    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            Key::Secret { .. }
                | Key::EcPrivate { .. }
                | Key::RsaPrivate(_)
                | Key::EdPrivate(_)
                | Key::MontPrivate(_)
                | Key::Ed448Private(_)
                | Key::X448Private(_)
                | Key::MlDsaPrivate(_)
                | Key::MlKemPrivate(_)
                | Key::SlhDsaPrivate(_)
        ) || matches!(self, Key::Dsa(k) if k.is_private())
            || matches!(self, Key::Dh(k) if k.is_private())
    }

    /// The curve of a CKK_EC key.
    pub fn curve(&self) -> Option<Curve> {
        match self {
            Key::EcPrivate { curve, .. } | Key::EcPublic { curve, .. } => Some(*curve),
            _ => None,
        }
    }

    /// The Ed25519/X25519 algorithm of a CKK_EC_EDWARDS or
    /// CKK_EC_MONTGOMERY key.
    pub fn alg_25519(&self) -> Option<Alg25519> {
        match self {
            Key::EdPrivate(_) | Key::EdPublic(_) => Some(Alg25519::Ed25519),
            Key::MontPrivate(_) | Key::MontPublic(_) => Some(Alg25519::X25519),
            _ => None,
        }
    }

    /// The Ed448/X448 algorithm of a CKK_EC_EDWARDS or CKK_EC_MONTGOMERY
    /// key.
    pub fn alg_448(&self) -> Option<Alg448> {
        match self {
            Key::Ed448Private(_) | Key::Ed448Public(_) => Some(Alg448::Ed448),
            Key::X448Private(_) | Key::X448Public(_) => Some(Alg448::X448),
            _ => None,
        }
    }

    /// CKA_EC_PARAMS in its DER OID form, for any EC-family key.
    pub fn ec_params(&self) -> Option<Vec<u8>> {
        if let Some(alg) = self.alg_448() {
            return Some(alg.ec_params().to_vec());
        }
        match (self.curve(), self.alg_25519()) {
            (Some(curve), _) => Some(curve.ec_params()),
            (None, Some(alg)) => Some(alg.ec_params().to_vec()),
            (None, None) => None,
        }
    }

    /// The raw public key of an Ed448 (57 bytes) or X448 (56 bytes) key.
    fn public_448(&self) -> Option<Vec<u8>> {
        match self {
            Key::Ed448Private(k) => Some(k.verifying_key().to_bytes().to_vec()),
            Key::Ed448Public(k) => Some(k.to_bytes().to_vec()),
            Key::X448Private(k) => curve448::x448_public(k).ok().map(|p| p.to_vec()),
            Key::X448Public(k) => Some(k.clone()),
            _ => None,
        }
    }

    /// The raw 32-byte public key of an Ed25519 or X25519 key.
    fn public_25519(&self) -> Option<[u8; curve25519::KEY_LEN]> {
        match self {
            Key::EdPrivate(k) => Some(k.verifying_key().to_bytes()),
            Key::EdPublic(k) => Some(k.to_bytes()),
            Key::MontPrivate(k) => Some(x25519_dalek::PublicKey::from(&**k).to_bytes()),
            Key::MontPublic(k) => Some(k.to_bytes()),
            _ => None,
        }
    }

    /// The public half of an asymmetric key (a public key returns a copy).
    pub fn to_public(&self) -> Result<Key> {
        match self {
            Key::EcPrivate { curve, key } => Ok(Key::EcPublic {
                curve: *curve,
                key: key.verifying_key().into(),
            }),
            Key::EcPublic { .. } | Key::RsaPublic(_) | Key::EdPublic(_) | Key::MontPublic(_) => {
                Ok(self.clone())
            }
            Key::Ed448Public(_) | Key::X448Public(_) => Ok(self.clone()),
            Key::Ed448Private(k) => Ok(Key::Ed448Public(Box::new(k.verifying_key()))),
            Key::X448Private(k) => Ok(Key::X448Public(curve448::x448_public(k)?.to_vec())),
            Key::RsaPrivate(k) => Ok(Key::RsaPublic(Box::new(k.to_public_key().into()))),
            Key::EdPrivate(k) => Ok(Key::EdPublic(k.verifying_key())),
            Key::MontPrivate(k) => Ok(Key::MontPublic(x25519_dalek::PublicKey::from(&**k))),
            Key::MlDsaPrivate(k) => Ok(Key::MlDsaPublic(Box::new(k.public()))),
            Key::MlDsaPublic(_) => Ok(self.clone()),
            Key::MlKemPrivate(k) => Ok(Key::MlKemPublic(Box::new(k.to_public()))),
            Key::MlKemPublic(_) => Ok(self.clone()),
            Key::Dsa(k) => Ok(Key::Dsa(Box::new(k.to_public()))),
            Key::Dh(k) => Ok(Key::Dh(Box::new(k.to_public()))),
            Key::SlhDsaPrivate(k) => Ok(Key::SlhDsaPublic(Box::new(k.public()))),
            Key::SlhDsaPublic(_) => Ok(self.clone()),
            Key::Secret { .. } => Err(Error::KeyTypeInconsistent),
        }
    }

    fn rsa_public_key(&self) -> Option<&RsaPublicKey> {
        match self {
            Key::RsaPrivate(k) => Some(k.as_public_key()),
            Key::RsaPublic(k) => Some(&***k),
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
            Key::EdPrivate(_) | Key::EdPublic(_) | Key::MontPrivate(_) | Key::MontPublic(_) => {
                let alg = self.alg_25519().ok_or(Error::GeneralError)?;
                let public = self.public_25519().ok_or(Error::GeneralError)?;
                Ok(alg.spki(&public))
            }
            Key::Ed448Private(_)
            | Key::Ed448Public(_)
            | Key::X448Private(_)
            | Key::X448Public(_) => {
                let alg = self.alg_448().ok_or(Error::GeneralError)?;
                let public = self.public_448().ok_or(Error::GeneralError)?;
                Ok(alg.spki(&public))
            }
            Key::MlDsaPrivate(k) => Ok(k.public().spki()),
            Key::MlDsaPublic(k) => Ok(k.spki()),
            Key::MlKemPrivate(k) => Ok(super::ml_kem::spki(k.set(), &k.ek())),
            Key::MlKemPublic(k) => Ok(super::ml_kem::spki(k.set(), k.ek())),
            Key::Dsa(k) => k.spki(),
            // PKCS #3 keys have no SubjectPublicKeyInfo this module
            // encodes: CKA_PUBLIC_KEY_INFO stays empty, as the spec allows.
            Key::Dh(_) => Ok(Vec::new()),
            Key::SlhDsaPrivate(k) => Ok(k.public().spki()),
            Key::SlhDsaPublic(k) => Ok(k.spki()),
            Key::Secret { .. } => Err(Error::KeyTypeInconsistent),
        }
    }

    /// CKA_EC_POINT: DER OCTET STRING of the uncompressed point, or of the
    /// 32-byte Ed25519/X25519 key (the form pkcs11-tool and OpenSSL's
    /// pkcs11-provider read).
    pub fn ec_point_der(&self) -> Result<Vec<u8>> {
        let point = match self {
            Key::EcPrivate { key, .. } => key.verifying_key().uncompressed_point(),
            Key::EcPublic { key, .. } => key.uncompressed_point(),
            _ if self.alg_448().is_some() => self.public_448().ok_or(Error::KeyTypeInconsistent)?,
            _ => self
                .public_25519()
                .ok_or(Error::KeyTypeInconsistent)?
                .to_vec(),
        };
        Ok(ec::point_to_der(&point))
    }

    /// Modulus bits, curve order bits (255 for Ed25519/X25519, the bit
    /// length of 2^255 - 19), or secret length × 8.
    pub fn bits(&self) -> u64 {
        match self {
            Key::Secret { value, .. } => u64::try_from(value.len())
                .unwrap_or(u64::MAX / 8)
                .saturating_mul(8),
            Key::EcPrivate { curve, .. } | Key::EcPublic { curve, .. } => curve.bits(),
            Key::RsaPrivate(_) | Key::RsaPublic(_) => self
                .rsa_public_key()
                .map_or(0, |k| u64::from(k.n().bits_vartime())),
            Key::EdPrivate(_) | Key::EdPublic(_) | Key::MontPrivate(_) | Key::MontPublic(_) => {
                CURVE25519_BITS
            }
            Key::Ed448Private(_)
            | Key::Ed448Public(_)
            | Key::X448Private(_)
            | Key::X448Public(_) => CURVE448_BITS,
            // The public key's length in bits: ML-DSA key sizes are given
            // in public key bytes (PKCS#11 3.2 §6.67).
            Key::MlDsaPrivate(_) | Key::MlDsaPublic(_) => {
                let set = match self {
                    Key::MlDsaPrivate(k) => k.param_set(),
                    Key::MlDsaPublic(k) => k.param_set(),
                    _ => return 0,
                };
                u64::try_from(set.public_len()).map_or(0, |n| n.saturating_mul(8))
            }
            // The mechanism table's unit for ML-KEM: the public key's
            // length in bytes (here in bits, as every `bits` is).
            Key::MlKemPrivate(k) => ek_bits(k.set()),
            Key::MlKemPublic(k) => ek_bits(k.set()),
            // The prime's length, the DSA and DH rows' unit.
            Key::Dsa(k) => k.bits(),
            Key::Dh(k) => k.bits(),
            // As for ML-DSA: the public key's length (2n bytes), here in
            // bits.
            Key::SlhDsaPrivate(k) => slh_dsa_bits(k.param_set()),
            Key::SlhDsaPublic(k) => slh_dsa_bits(k.param_set()),
        }
    }
}

/// An SLH-DSA key's size as the mechanism table counts it (public key
/// bytes), in bits.
fn slh_dsa_bits(set: slh_dsa::ParamSet) -> u64 {
    u64::try_from(set.public_len())
        .unwrap_or(0)
        .saturating_mul(8)
}

/// An ML-KEM key's size as the mechanism table counts it.
fn ek_bits(set: super::ml_kem::ParamSet) -> u64 {
    u64::try_from(set.ek_len()).unwrap_or(0).saturating_mul(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

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
        assert_eq!(Curve::from_ec_params(P521_OID), Ok(Curve::P521));
        let mut name = vec![PRINTABLE_STRING, 9];
        name.extend_from_slice(b"secp521r1");
        assert_eq!(Curve::from_ec_params(&name), Ok(Curve::P521));
        // secp256k1 is well formed but not offered (CKR_CURVE_NOT_SUPPORTED).
        assert_eq!(
            Curve::from_ec_params(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]),
            Err(Error::CurveNotSupported)
        );
        // A truncated OID and a wrong length byte are malformed.
        for bad in [&P256_OID[..9], &[PRINTABLE_STRING, 3, b'a'][..], &[][..]] {
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

    /// P-192 and P-224 by OID and by name; SEC1 points of their widths.
    #[test]
    fn small_curve_params() {
        assert_eq!(Curve::from_ec_params(P192_OID), Ok(Curve::P192));
        assert_eq!(Curve::from_ec_params(P224_OID), Ok(Curve::P224));
        assert_eq!(
            Curve::from_ec_params(b"\x13\x0aprime192v1"),
            Ok(Curve::P192)
        );
        assert_eq!(Curve::from_ec_params(b"\x13\x09secp192r1"), Ok(Curve::P192));
        assert_eq!(Curve::from_ec_params(b"\x13\x09secp224r1"), Ok(Curve::P224));
        for (curve, bits, fb) in [(Curve::P192, 192, 24), (Curve::P224, 224, 28)] {
            assert_eq!(Curve::from_ec_params(&curve.ec_params()), Ok(curve));
            assert_eq!((curve.bits(), curve.field_bytes()), (bits, fb));
            let k = Key::ec_private(&curve.ec_params(), &[9]).unwrap();
            assert_eq!(k.bits(), bits);
            let der = k.ec_point_der().unwrap();
            assert_eq!(der.len(), 2 + 1 + 2 * fb);
            let public = Key::ec_public(&curve.ec_params(), &der).unwrap();
            assert_eq!(public.ec_point_der().unwrap(), der);
            assert_eq!(
                Key::ec_public(&curve.ec_params(), &der[2..])
                    .unwrap()
                    .ec_point_der()
                    .unwrap(),
                der
            );
            assert_eq!(
                public.public_key_info().unwrap(),
                k.public_key_info().unwrap()
            );
            assert_eq!(k.curve(), Some(curve));
            assert!(!format!("{k:?}").contains("09"));
        }
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
        // Too small (public keys go down to 512 bits, for the policy's
        // `min_rsa_verify_bits`) and even.
        assert_eq!(
            Key::rsa_public(&[0xff; 63], &[1, 0, 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::rsa_public(&[0xff; 64], &[1, 0, 1]).unwrap().bits(),
            512
        );
        // Private keys keep the 1024-bit floor.
        assert_eq!(
            Key::rsa_private(&[0xff; 64], &[1, 0, 1], &[3; 63], None).unwrap_err(),
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

    #[test]
    fn p521_keys() {
        let k = Key::ec_private(P521_OID, &[5]).unwrap();
        assert_eq!(k.bits(), 521);
        assert_eq!(k.curve(), Some(Curve::P521));
        let der = k.ec_point_der().unwrap();
        // 133-byte point: long-form DER length.
        assert_eq!(&der[..4], &[0x04, 0x81, 133, 0x04]);
        let public = Key::ec_public(P521_OID, &der).unwrap();
        assert_eq!(public.ec_point_der().unwrap(), der);
        assert_eq!(
            Key::ec_public(P521_OID, &der[3..])
                .unwrap()
                .ec_point_der()
                .unwrap(),
            der
        );
        assert_eq!(
            k.public_key_info().unwrap(),
            public.public_key_info().unwrap()
        );
        assert_eq!(k.ec_params(), Some(P521_OID.to_vec()));
        assert_eq!(
            Key::ec_private(P521_OID, &[0xff; 66]).unwrap_err(),
            Error::AttributeValueInvalid
        );
    }

    /// RFC 8032 §7.1 TEST 1 key pair; RFC 8410 §10.1 SPKI form.
    #[test]
    fn edwards_keys() {
        let ed = Alg25519::Ed25519.ec_params();
        let seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let public = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let k = Key::edwards_private(&ed, &seed).unwrap();
        assert_eq!(k.key_type(), CKK_EC_EDWARDS);
        assert_eq!(k.bits(), CURVE25519_BITS);
        assert!(k.is_secret());
        let point = k.ec_point_der().unwrap();
        assert_eq!(&point[..2], &[0x04, 0x20]);
        assert_eq!(&point[2..], &public[..]);
        let mut name = vec![PRINTABLE_STRING, 12];
        name.extend_from_slice(b"edwards25519");
        let p_raw = Key::edwards_public(&name, &public).unwrap();
        let p_der = Key::edwards_public(&ed, &point).unwrap();
        assert_eq!(p_raw.ec_point_der().unwrap(), point);
        assert_eq!(
            p_der.public_key_info().unwrap(),
            k.public_key_info().unwrap()
        );
        assert_eq!(
            &k.public_key_info().unwrap()[..12],
            &unhex("302a300506032b6570032100")[..]
        );
        assert!(!p_raw.is_secret());
        assert_eq!(k.to_public().unwrap().ec_point_der().unwrap(), point);
        assert_eq!(k.ec_params(), Some(ed.to_vec()));
        assert!(format!("{k:?}").contains("redacted"));
        // Wrong curve, wrong lengths.
        let x = Alg25519::X25519.ec_params();
        assert_eq!(
            Key::edwards_private(&x, &seed).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::edwards_private(&ed, &seed[1..]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::edwards_public(&ed, &point[1..]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // Not a curve the Edwards key type supports.
        assert_eq!(
            Key::edwards_private(P256_OID, &seed).unwrap_err(),
            Error::CurveNotSupported
        );
    }

    /// RFC 7748 §6.1 Alice's key pair.
    #[test]
    fn montgomery_keys() {
        let x = Alg25519::X25519.ec_params();
        let scalar = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let k = Key::montgomery_private(&x, &scalar).unwrap();
        assert_eq!(k.key_type(), CKK_EC_MONTGOMERY);
        assert_eq!(k.bits(), 255);
        assert_eq!(&k.ec_point_der().unwrap()[2..], &public[..]);
        let mut name = vec![PRINTABLE_STRING, 10];
        name.extend_from_slice(b"curve25519");
        let p = Key::montgomery_public(&name, &public).unwrap();
        assert_eq!(p.key_type(), CKK_EC_MONTGOMERY);
        assert_eq!(p.public_key_info().unwrap(), k.public_key_info().unwrap());
        assert_eq!(
            &p.public_key_info().unwrap()[..12],
            &unhex("302a300506032b656e032100")[..]
        );
        assert_eq!(
            k.to_public().unwrap().ec_point_der().unwrap(),
            p.ec_point_der().unwrap()
        );
        assert!(!format!("{k:?}").contains("77"));
        assert_eq!(
            Key::montgomery_private(&Alg25519::Ed25519.ec_params(), &scalar).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            Key::montgomery_public(&x, &[1; 33]).unwrap_err(),
            Error::AttributeValueInvalid
        );
    }
}
