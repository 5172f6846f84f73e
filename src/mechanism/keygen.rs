//! Randomness and key generation: secret values, EC (P-256/384/521),
//! Ed25519, X25519 and RSA key pairs, returned as the attribute values the
//! object layer stores.

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::curve448::Alg448;
use super::curve25519;
use super::ec;
use super::keys::{Curve, Key};
use super::provider::generation;
use crate::error::{Error, Result};

/// Fills `out` with random bytes: the provider's one source (the OS RNG in
/// the default build, AWS-LC's DRBG in the aws-lc build).
pub fn random(out: &mut [u8]) -> Result<()> {
    generation::fill(out)
}

/// `len` random bytes for a new secret key. The length policy belongs to
/// the caller; an empty key is refused.
pub fn generate_secret(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 {
        return Err(Error::KeySizeRange);
    }
    let mut value = Zeroizing::new(vec![0u8; len]);
    random(&mut value)?;
    Ok(value)
}

/// The attribute values of a new EC, Ed25519 or X25519 key pair.
pub struct EcKeyPairParts {
    /// CKA_EC_PARAMS, as the caller gave it (already validated).
    pub ec_params: Vec<u8>,
    /// CKA_VALUE of the private key: the scalar, big-endian, field width
    /// (CKK_EC), or the 32-byte seed / scalar (Ed25519 / X25519).
    pub private_value: Zeroizing<Vec<u8>>,
    /// CKA_EC_POINT of the public key: DER OCTET STRING of the
    /// uncompressed point, or of the 32-byte Ed25519/X25519 key.
    pub ec_point_der: Vec<u8>,
}

impl std::fmt::Debug for EcKeyPairParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKeyPairParts")
            .field("ec_params", &self.ec_params)
            .field("private_value", &"<redacted>")
            .field("ec_point_der", &self.ec_point_der)
            .finish()
    }
}

/// Generates an EC key pair on the curve named by `ec_params`
/// (AttributeValueInvalid for unsupported curves).
pub fn generate_ec(ec_params: &[u8]) -> Result<EcKeyPairParts> {
    let curve = Curve::from_ec_params(ec_params)?;
    let pair = generation::ec_key(curve)?;
    Ok(EcKeyPairParts {
        ec_params: ec_params.to_vec(),
        private_value: pair.scalar,
        ec_point_der: ec::point_to_der(&pair.point),
    })
}

/// Generates an Ed25519 key pair; `ec_params` must name edwards25519 (OID
/// or curve name, echoed back as given), else AttributeValueInvalid.
pub fn generate_edwards(ec_params: &[u8]) -> Result<EcKeyPairParts> {
    super::curve448::expect_edwards(ec_params)?;
    let seed = if Alg448::from_ec_params(ec_params) == Some(Alg448::Ed448) {
        // Ed448: the 57-byte seed is all the key is (RFC 8032 §5.2.5).
        let mut seed = Zeroizing::new(vec![0u8; Alg448::Ed448.key_len()]);
        random(&mut seed)?;
        seed
    } else {
        generation::ed25519_seed()?
    };
    let key = Key::edwards_private(ec_params, &seed)?;
    Ok(EcKeyPairParts {
        ec_params: ec_params.to_vec(),
        ec_point_der: key.ec_point_der()?,
        private_value: seed,
    })
}

/// Generates an X25519 key pair; `ec_params` must name curve25519 (OID or
/// curve name, echoed back as given), else AttributeValueInvalid. The
/// scalar is stored as drawn; X25519 clamps it at use (RFC 7748 §5).
pub fn generate_montgomery(ec_params: &[u8]) -> Result<EcKeyPairParts> {
    super::curve448::expect_montgomery(ec_params)?;
    let len = if Alg448::from_ec_params(ec_params) == Some(Alg448::X448) {
        Alg448::X448.key_len()
    } else {
        curve25519::KEY_LEN
    };
    let mut scalar = Zeroizing::new(vec![0u8; len]);
    random(&mut scalar)?;
    let key = Key::montgomery_private(ec_params, &scalar)?;
    Ok(EcKeyPairParts {
        ec_params: ec_params.to_vec(),
        ec_point_der: key.ec_point_der()?,
        private_value: scalar,
    })
}

/// The attribute values of a new RSA key pair, all big-endian without
/// leading zeros.
pub struct RsaKeyPairParts {
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
    pub private_exponent: Zeroizing<Vec<u8>>,
    pub prime_1: Zeroizing<Vec<u8>>,
    pub prime_2: Zeroizing<Vec<u8>>,
    pub exponent_1: Zeroizing<Vec<u8>>,
    pub exponent_2: Zeroizing<Vec<u8>>,
    pub coefficient: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RsaKeyPairParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeyPairParts")
            .field("modulus_len", &self.modulus.len())
            .field("public_exponent", &self.public_exponent)
            .finish_non_exhaustive()
    }
}

const DEFAULT_EXPONENT: u64 = 65537;

/// The public exponent for generation: 65537 when the attribute is empty,
/// otherwise an odd value in 3..=2^33-1 (the rsa crate's bound).
fn generation_exponent(public_exponent: &[u8]) -> Result<u64> {
    if public_exponent.is_empty() {
        return Ok(DEFAULT_EXPONENT);
    }
    let first = public_exponent
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(public_exponent.len());
    let significant = public_exponent.get(first..).unwrap_or(&[]);
    if significant.len() > 8 {
        return Err(Error::AttributeValueInvalid);
    }
    let e = significant
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if e < 3 || e % 2 == 0 || e > RsaPublicKey::MAX_PUB_EXPONENT {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(e)
}

/// Generates an RSA key pair of `bits` (any size the module can make,
/// `registry::RSA_MIN..=RSA_MAX`, else KeySizeRange; the policy's floor is
/// the caller's to check) with the given
/// public exponent. Sizes that are not whole bytes are fine: the rsa crate
/// draws primes until the modulus has exactly `bits` bits (pkcs11-provider's
/// suite asks for 3092).
pub fn generate_rsa(bits: u64, public_exponent: &[u8]) -> Result<RsaKeyPairParts> {
    if !super::capability(cryptoki_sys::CKM_RSA_PKCS_KEY_PAIR_GEN)?.key_size_ok(bits) {
        return Err(Error::KeySizeRange);
    }
    let e = generation_exponent(public_exponent)?;
    // The FIPS build generates only what AWS-LC's approved generation
    // makes; other requests are refused here, with the request's codes,
    // rather than reaching a refused fallback.
    if super::provider::FIPS {
        if !matches!(bits, 2048 | 3072 | 4096) {
            crate::error::cause::note(&"FIPS mode: RSA keys of 2048, 3072 or 4096 bits");
            return Err(Error::KeySizeRange);
        }
        if e != DEFAULT_EXPONENT {
            crate::error::cause::note(&"FIPS mode: RSA public exponent 65537");
            return Err(Error::AttributeValueInvalid);
        }
    }
    let bit_size = usize::try_from(bits).map_err(|_| Error::KeySizeRange)?;
    let key = generation::rsa_key(bit_size, e)?;
    rsa_parts(&key)
}

pub(super) fn rsa_parts(key: &RsaPrivateKey) -> Result<RsaKeyPairParts> {
    let (p, q) = match key.primes() {
        [p, q] => (&**p, &**q),
        _ => return Err(Error::FunctionFailed),
    };
    let dp = key.dp().ok_or(Error::FunctionFailed)?;
    let dq = key.dq().ok_or(Error::FunctionFailed)?;
    let qinv = Zeroizing::new(key.crt_coefficient().ok_or(Error::FunctionFailed)?);
    Ok(RsaKeyPairParts {
        modulus: key.n_bytes().into_vec(),
        public_exponent: key.e_bytes().into_vec(),
        private_exponent: secret_bytes(key.d()),
        prime_1: secret_bytes(p),
        prime_2: secret_bytes(q),
        exponent_1: secret_bytes(dp),
        exponent_2: secret_bytes(dq),
        coefficient: secret_bytes(&qinv),
    })
}

/// Big-endian bytes of a secret integer without leading zeros; the
/// full-width intermediate is zeroized too.
fn secret_bytes(x: &BoxedUint) -> Zeroizing<Vec<u8>> {
    let full = Zeroizing::new(x.to_be_bytes().into_vec());
    let first = full.iter().position(|&b| b != 0).unwrap_or(full.len());
    Zeroizing::new(full.get(first..).unwrap_or(&[]).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::Alg25519;

    #[test]
    fn random_and_secret() {
        let a = generate_secret(32).unwrap();
        let b = generate_secret(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(*a, *b);
        assert_eq!(generate_secret(0).unwrap_err(), Error::KeySizeRange);
    }

    #[test]
    fn ec_generation_round_trips() {
        for curve in [
            Curve::P192,
            Curve::P224,
            Curve::P256,
            Curve::P384,
            Curve::P521,
        ] {
            let parts = generate_ec(&curve.ec_params()).unwrap();
            assert_eq!(parts.private_value.len(), curve.field_bytes());
            let private = Key::ec_private(&parts.ec_params, &parts.private_value).unwrap();
            assert_eq!(private.ec_point_der().unwrap(), parts.ec_point_der);
            let public = Key::ec_public(&parts.ec_params, &parts.ec_point_der).unwrap();
            assert_eq!(public.bits(), curve.bits());
            assert_eq!(
                private.public_key_info().unwrap(),
                public.public_key_info().unwrap()
            );
            assert!(!format!("{parts:?}").contains("private_value: ["));
        }
        assert_eq!(
            generate_ec(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]).unwrap_err(),
            Error::CurveNotSupported
        );
        assert_eq!(
            generate_ec(&Alg25519::Ed25519.ec_params()).unwrap_err(),
            Error::CurveNotSupported
        );
    }

    #[test]
    fn p521_generation_is_reliable() {
        // Without masking the top byte, most P-521 draws would be rejected.
        for _ in 0..20 {
            generate_ec(&Curve::P521.ec_params()).unwrap();
        }
    }

    #[test]
    fn curve25519_generation() {
        let mut name = vec![0x13, 12];
        name.extend_from_slice(b"edwards25519");
        for params in [Alg25519::Ed25519.ec_params().to_vec(), name] {
            let parts = generate_edwards(&params).unwrap();
            assert_eq!(parts.ec_params, params);
            assert_eq!(parts.private_value.len(), 32);
            assert_eq!(&parts.ec_point_der[..2], &[0x04, 0x20]);
            let private = Key::edwards_private(&params, &parts.private_value).unwrap();
            let public = Key::edwards_public(&params, &parts.ec_point_der).unwrap();
            assert_eq!(private.ec_point_der().unwrap(), parts.ec_point_der);
            assert_eq!(public.bits(), 255);
        }
        let mut name = vec![0x13, 10];
        name.extend_from_slice(b"curve25519");
        for params in [Alg25519::X25519.ec_params().to_vec(), name] {
            let parts = generate_montgomery(&params).unwrap();
            assert_eq!(parts.ec_params, params);
            let private = Key::montgomery_private(&params, &parts.private_value).unwrap();
            assert_eq!(private.ec_point_der().unwrap(), parts.ec_point_der);
            assert_eq!(private.key_type(), cryptoki_sys::CKK_EC_MONTGOMERY);
        }
        let a = generate_edwards(&Alg25519::Ed25519.ec_params()).unwrap();
        let b = generate_edwards(&Alg25519::Ed25519.ec_params()).unwrap();
        assert_ne!(a.ec_point_der, b.ec_point_der);
        assert_eq!(
            generate_edwards(&Alg25519::X25519.ec_params()).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // A Weierstrass curve is not one this mechanism supports.
        assert_eq!(
            generate_montgomery(&Curve::P256.ec_params()).unwrap_err(),
            Error::CurveNotSupported
        );
    }

    /// Ed448 (57-byte seed and point) and X448 (56 bytes), by OID and by
    /// curve name; the other curve's parameters are refused.
    #[test]
    fn curve448_generation() {
        let mut name = vec![0x13, 10];
        name.extend_from_slice(b"edwards448");
        for params in [Alg448::Ed448.ec_params().to_vec(), name] {
            let parts = generate_edwards(&params).unwrap();
            assert_eq!(parts.private_value.len(), 57);
            assert_eq!(&parts.ec_point_der[..2], &[0x04, 57]);
            let private = Key::edwards_private(&params, &parts.private_value).unwrap();
            let public = Key::edwards_public(&params, &parts.ec_point_der).unwrap();
            assert_eq!(private.ec_point_der().unwrap(), parts.ec_point_der);
            assert_eq!(public.bits(), 448);
            assert_eq!(
                private.public_key_info().unwrap(),
                public.public_key_info().unwrap()
            );
        }
        let mut name = vec![0x13, 8];
        name.extend_from_slice(b"curve448");
        for params in [Alg448::X448.ec_params().to_vec(), name] {
            let parts = generate_montgomery(&params).unwrap();
            assert_eq!(parts.private_value.len(), 56);
            assert_eq!(&parts.ec_point_der[..2], &[0x04, 56]);
            let private = Key::montgomery_private(&params, &parts.private_value).unwrap();
            assert_eq!(private.ec_point_der().unwrap(), parts.ec_point_der);
            assert_eq!(private.bits(), 448);
        }
        assert_eq!(
            generate_edwards(&Alg448::X448.ec_params()).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            generate_montgomery(&Alg448::Ed448.ec_params()).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            generate_ec(&Alg448::Ed448.ec_params()).unwrap_err(),
            Error::CurveNotSupported
        );
    }

    #[test]
    fn rsa_generation_policy() {
        assert_eq!(generate_rsa(1023, &[]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(generate_rsa(8192, &[]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(generate_rsa(512, &[]).unwrap_err(), Error::KeySizeRange);
        for bad in [&[1][..], &[2], &[0, 0], &[1, 0, 0], &[1; 9]] {
            assert_eq!(
                generate_rsa(2048, bad).unwrap_err(),
                Error::AttributeValueInvalid
            );
        }
        assert_eq!(generation_exponent(&[]), Ok(65537));
        assert_eq!(generation_exponent(&[0, 1, 0, 1]), Ok(65537));
        assert_eq!(generation_exponent(&[3]), Ok(3));
    }
}
