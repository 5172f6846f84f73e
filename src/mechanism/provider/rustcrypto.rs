//! The RustCrypto provider (the default build, and the fallback of the
//! aws-lc provider for shapes aws-lc-rs's safe API cannot express): ECDSA
//! from the p192/p224/p256/p384/p521 crates, RSA from the `rsa` crate. The parsed key
//! is the RustCrypto key itself, so this provider never uses the cache.

// Hedging and blinding randomness from the provider's one source.
use super::generation::Rng;
use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use rsa::traits::PaddingScheme;
use rsa::{Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::digest::{Digest, FixedOutputReset};
use sha2::{Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};
use zeroize::Zeroizing;

use super::{Cached, Provider};
use crate::error::{Error, Result};
use crate::mechanism::digest::HashAlg;
use crate::mechanism::ec::{EcSigningKey, EcVerifyingKey};
use crate::mechanism::rsa::RsaScheme;

/// The RustCrypto provider. In the aws-lc build only its functions are
/// called (as the fallback), and the cross-provider tests build the value.
#[cfg_attr(all(feature = "aws-lc", not(test)), allow(dead_code))]
pub(in crate::mechanism) struct RustCrypto;

impl Provider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn ecdsa_sign(&self, key: &Cached<EcSigningKey>, z: &[u8]) -> Result<Vec<u8>> {
        ecdsa_sign(key, z)
    }

    fn ecdsa_verify(&self, key: &Cached<EcVerifyingKey>, z: &[u8], sig: &[u8]) -> Result<()> {
        ecdsa_verify(key, z, sig)
    }

    fn rsa_sign(
        &self,
        key: &Cached<RsaPrivateKey>,
        scheme: RsaScheme,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        rsa_sign(key, scheme, data)
    }

    fn rsa_verify(
        &self,
        key: &Cached<RsaPublicKey>,
        scheme: RsaScheme,
        data: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        rsa_verify(key, scheme, data, sig)
    }

    fn rsa_oaep_decrypt(
        &self,
        key: &Cached<RsaPrivateKey>,
        hash: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        oaep_decrypt(key, hash, label, ct)
    }
}

/// Signs the field-width integer `z`, hedged with OS randomness on top of
/// RFC 6979.
pub(super) fn ecdsa_sign(key: &EcSigningKey, z: &[u8]) -> Result<Vec<u8>> {
    match key {
        EcSigningKey::P192(k) => {
            // p192 names no digest for RFC 6979 (its crate only verifies):
            // the nonce's HMAC-DRBG runs on SHA-256, hedged like the others
            // with field-width random bytes as the additional data.
            let mut ad = Zeroizing::new([0u8; 24]);
            super::generation::fill(ad.as_mut_slice())?;
            let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<p192::NistP192, Sha256>(
                k.as_nonzero_scalar(),
                z,
                ad.as_slice(),
            );
            Ok(sig.to_bytes().to_vec())
        }
        EcSigningKey::P224(k) => {
            let sig: p224::ecdsa::Signature = k
                .sign_prehash_with_rng(&mut Rng, z)
                .map_err(|_| Error::FunctionFailed)?;
            Ok(sig.to_bytes().to_vec())
        }
        EcSigningKey::P256(k) => {
            let sig: p256::ecdsa::Signature = k
                .sign_prehash_with_rng(&mut Rng, z)
                .map_err(|_| Error::FunctionFailed)?;
            Ok(sig.to_bytes().to_vec())
        }
        EcSigningKey::P384(k) => {
            let sig: p384::ecdsa::Signature = k
                .sign_prehash_with_rng(&mut Rng, z)
                .map_err(|_| Error::FunctionFailed)?;
            Ok(sig.to_bytes().to_vec())
        }
        EcSigningKey::P521(k) => {
            let sig: p521::ecdsa::Signature = k
                .sign_prehash_with_rng(&mut Rng, z)
                .map_err(|_| Error::FunctionFailed)?;
            Ok(sig.to_bytes().to_vec())
        }
    }
}

pub(super) fn ecdsa_verify(key: &EcVerifyingKey, z: &[u8], signature: &[u8]) -> Result<()> {
    let ok = match key {
        EcVerifyingKey::P192(k) => p192::ecdsa::Signature::from_slice(signature)
            .and_then(|sig| k.verify_prehash(z, &sig))
            .is_ok(),
        EcVerifyingKey::P224(k) => p224::ecdsa::Signature::from_slice(signature)
            .and_then(|sig| k.verify_prehash(z, &sig))
            .is_ok(),
        EcVerifyingKey::P256(k) => p256::ecdsa::Signature::from_slice(signature)
            .and_then(|sig| k.verify_prehash(z, &sig))
            .is_ok(),
        EcVerifyingKey::P384(k) => p384::ecdsa::Signature::from_slice(signature)
            .and_then(|sig| k.verify_prehash(z, &sig))
            .is_ok(),
        EcVerifyingKey::P521(k) => p521::ecdsa::Signature::from_slice(signature)
            .and_then(|sig| k.verify_prehash(z, &sig))
            .is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

fn pkcs1(hash: Option<HashAlg>) -> Pkcs1v15Sign {
    match hash {
        None => Pkcs1v15Sign::new_unprefixed(),
        Some(HashAlg::Sha1) => Pkcs1v15Sign::new::<Sha1>(),
        Some(HashAlg::Sha224) => Pkcs1v15Sign::new::<Sha224>(),
        Some(HashAlg::Sha256) => Pkcs1v15Sign::new::<Sha256>(),
        Some(HashAlg::Sha384) => Pkcs1v15Sign::new::<Sha384>(),
        Some(HashAlg::Sha512) => Pkcs1v15Sign::new::<Sha512>(),
        // The DigestInfo prefix comes from the hash's OID (sha3's `oid`
        // feature: 2.16.840.1.101.3.4.2.7 to .10).
        Some(HashAlg::Sha3_224) => Pkcs1v15Sign::new::<Sha3_224>(),
        Some(HashAlg::Sha3_256) => Pkcs1v15Sign::new::<Sha3_256>(),
        Some(HashAlg::Sha3_384) => Pkcs1v15Sign::new::<Sha3_384>(),
        Some(HashAlg::Sha3_512) => Pkcs1v15Sign::new::<Sha3_512>(),
    }
}

fn sign_raw(key: &RsaPrivateKey, scheme: RsaScheme, data: &[u8]) -> rsa::Result<Vec<u8>> {
    match scheme {
        RsaScheme::Pkcs1(hash) => key.sign(pkcs1(hash), data),
        RsaScheme::Pss { hash, salt_len } => match hash {
            HashAlg::Sha1 => key.sign(Pss::<Sha1>::new_with_salt(salt_len), data),
            HashAlg::Sha224 => key.sign(Pss::<Sha224>::new_with_salt(salt_len), data),
            HashAlg::Sha256 => key.sign(Pss::<Sha256>::new_with_salt(salt_len), data),
            HashAlg::Sha384 => key.sign(Pss::<Sha384>::new_with_salt(salt_len), data),
            HashAlg::Sha512 => key.sign(Pss::<Sha512>::new_with_salt(salt_len), data),
            HashAlg::Sha3_224 => key.sign(Pss::<Sha3_224>::new_with_salt(salt_len), data),
            HashAlg::Sha3_256 => key.sign(Pss::<Sha3_256>::new_with_salt(salt_len), data),
            HashAlg::Sha3_384 => key.sign(Pss::<Sha3_384>::new_with_salt(salt_len), data),
            HashAlg::Sha3_512 => key.sign(Pss::<Sha3_512>::new_with_salt(salt_len), data),
        },
    }
}

fn verify_raw(key: &RsaPublicKey, scheme: RsaScheme, data: &[u8], sig: &[u8]) -> rsa::Result<()> {
    match scheme {
        RsaScheme::Pkcs1(hash) => key.verify(pkcs1(hash), data, sig),
        RsaScheme::Pss { hash, salt_len } => match hash {
            HashAlg::Sha1 => key.verify(Pss::<Sha1>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha224 => key.verify(Pss::<Sha224>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha256 => key.verify(Pss::<Sha256>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha384 => key.verify(Pss::<Sha384>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha512 => key.verify(Pss::<Sha512>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha3_224 => key.verify(Pss::<Sha3_224>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha3_256 => key.verify(Pss::<Sha3_256>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha3_384 => key.verify(Pss::<Sha3_384>::new_with_salt(salt_len), data, sig),
            HashAlg::Sha3_512 => key.verify(Pss::<Sha3_512>::new_with_salt(salt_len), data, sig),
        },
    }
}

pub(super) fn rsa_sign(key: &RsaPrivateKey, scheme: RsaScheme, data: &[u8]) -> Result<Vec<u8>> {
    sign_raw(key, scheme, data).map_err(|e| match e {
        rsa::Error::MessageTooLong => Error::DataLenRange,
        _ => Error::FunctionFailed,
    })
}

pub(super) fn rsa_verify(
    key: &RsaPublicKey,
    scheme: RsaScheme,
    data: &[u8],
    sig: &[u8],
) -> Result<()> {
    verify_raw(key, scheme, data, sig).map_err(|_| Error::SignatureInvalid)
}

/// OAEP decryption, blinded with OS randomness.
fn oaep<D: Digest + FixedOutputReset>(
    key: &RsaPrivateKey,
    label: &[u8],
    ct: &[u8],
) -> rsa::Result<Vec<u8>> {
    Oaep::<D>::new_with_label(label).decrypt(Some(&mut Rng), key, ct)
}

pub(super) fn oaep_decrypt(
    key: &RsaPrivateKey,
    hash: HashAlg,
    label: &[u8],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let out = match hash {
        HashAlg::Sha1 => oaep::<Sha1>(key, label, ct),
        HashAlg::Sha224 => oaep::<Sha224>(key, label, ct),
        HashAlg::Sha256 => oaep::<Sha256>(key, label, ct),
        HashAlg::Sha384 => oaep::<Sha384>(key, label, ct),
        HashAlg::Sha512 => oaep::<Sha512>(key, label, ct),
        _ => return Err(Error::MechanismParamInvalid),
    };
    out.map(Zeroizing::new)
        .map_err(|_| Error::EncryptedDataInvalid)
}
