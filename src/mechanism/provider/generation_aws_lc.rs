//! The aws-lc-rs side of the generation seam (generation.rs), cargo
//! feature `aws-lc`: random bytes from AWS-LC's DRBG (`rand::fill`), EC
//! P-256/384/521 key pairs (`EcdsaKeyPair::generate`, scalar exported into
//! the RustCrypto key the store keeps), RSA 2048/3072/4096 key pairs with
//! e = 65537 (`rsa::KeyPair::generate`, PKCS#8 exported and parsed into
//! `rsa::RsaPrivateKey`), Ed25519 seeds (`Ed25519KeyPair::generate`), ECDH
//! on P-256/384/521 and X25519 (`agreement`), HKDF-SHA1/256/384/512
//! (`hkdf`, extract-only as the HMAC it is), PBKDF2-HMAC-SHA1/256/384/512
//! (`pbkdf2`), and the store's AES-256-GCM (`RandomizedNonceKey`: the
//! nonce is drawn inside the module), HKDF-SHA256 and HMAC-SHA256.
//!
//! Fallbacks to RustCrypto (each through `fallback_allowed()`, refused in
//! the FIPS build):
//! - RSA generation with a public exponent other than 65537 or a size
//!   other than 2048, 3072 or 4096 bits (aws-lc-rs fixes e = 65537 and
//!   offers those sizes, plus 8192 which the registry does not);
//! - HKDF and PBKDF2 with SHA-224 (no aws-lc-rs algorithm);
//! - HKDF expand-only with a PRK longer than 64 bytes (aws-lc-rs's PRK
//!   limit; RFC 5869 allows it).
//!
//! Secrets: exported scalars, seeds and PKCS#8 documents are aws-lc-rs
//! buffers that zeroize on drop; copies we make are `Zeroizing`. A panic
//! inside aws-lc-rs (its `pbkdf2::derive` expects on an internal failure)
//! is caught at the C ABI (src/ffi) and answered with CKR_GENERAL_ERROR.

use std::num::NonZeroU32;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, RandomizedNonceKey, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521, UnparsedPublicKey, X25519};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair};
use aws_lc_rs::{hkdf, hmac, pbkdf2};
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::fallback_allowed;
use super::generation::{self as g, EcPair, GCM_NONCE_LEN, Generation, HkdfJob};
use crate::error::{Error, Result};
use crate::mechanism::digest::HashAlg;
use crate::mechanism::ec::{EcSigningKey, EcVerifyingKey};
use crate::mechanism::keys::Curve;

/// The aws-lc-rs implementation of the generation seam.
pub(in crate::mechanism) struct AwsLc;

#[cfg(test)]
thread_local! {
    /// Random fills this thread drew from AWS-LC (counted apart from the
    /// served operations: the RustCrypto fallbacks draw their randomness
    /// through the seam too).
    static FILLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one operation served by aws-lc (provider/mod.rs's one counter).
fn ran() {
    super::served_by_aws_lc();
}

/// Operations this test thread ran in aws-lc so far (every aws-lc file).
#[cfg(test)]
pub(in crate::mechanism) fn ran_in_this_thread() -> usize {
    super::aws_lc_served_in_this_thread()
}

/// Random fills this test thread drew from AWS-LC so far.
#[cfg(test)]
pub(in crate::mechanism) fn fills_in_this_thread() -> usize {
    FILLS.with(std::cell::Cell::get)
}

/// The PKCS#1 public exponent aws-lc-rs generates with.
const F4: u64 = 65537;

fn rsa_size(bits: usize) -> Option<KeySize> {
    match bits {
        2048 => Some(KeySize::Rsa2048),
        3072 => Some(KeySize::Rsa3072),
        4096 => Some(KeySize::Rsa4096),
        _ => None,
    }
}

/// None for P-192 and P-224: aws-lc-rs has neither, so they fall back
/// to RustCrypto (refused in the FIPS build, which does not offer them).
fn ecdsa_alg(curve: Curve) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    match curve {
        Curve::P192 | Curve::P224 => None,
        Curve::P256 => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        Curve::P384 => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        Curve::P521 => Some(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
    }
}

/// As [`ecdsa_alg`], for ECDH.
fn ecdh_alg(curve: Curve) -> Option<&'static agreement::Algorithm> {
    match curve {
        Curve::P192 | Curve::P224 => None,
        Curve::P256 => Some(&ECDH_P256),
        Curve::P384 => Some(&ECDH_P384),
        Curve::P521 => Some(&ECDH_P521),
    }
}

fn hkdf_alg(hash: HashAlg) -> Option<hkdf::Algorithm> {
    match hash {
        HashAlg::Sha1 => Some(hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY),
        HashAlg::Sha256 => Some(hkdf::HKDF_SHA256),
        HashAlg::Sha384 => Some(hkdf::HKDF_SHA384),
        HashAlg::Sha512 => Some(hkdf::HKDF_SHA512),
        _ => None,
    }
}

fn hmac_alg(hash: HashAlg) -> Option<hmac::Algorithm> {
    match hash {
        HashAlg::Sha1 => Some(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        HashAlg::Sha256 => Some(hmac::HMAC_SHA256),
        HashAlg::Sha384 => Some(hmac::HMAC_SHA384),
        HashAlg::Sha512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

fn pbkdf2_alg(hash: HashAlg) -> Option<pbkdf2::Algorithm> {
    match hash {
        HashAlg::Sha1 => Some(pbkdf2::PBKDF2_HMAC_SHA1),
        HashAlg::Sha256 => Some(pbkdf2::PBKDF2_HMAC_SHA256),
        HashAlg::Sha384 => Some(pbkdf2::PBKDF2_HMAC_SHA384),
        HashAlg::Sha512 => Some(pbkdf2::PBKDF2_HMAC_SHA512),
        _ => None,
    }
}

/// An HKDF output length for aws-lc-rs's `expand`.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// aws-lc-rs's largest expand-only PRK (its digest maximum).
const MAX_PRK: usize = 64;

impl Generation for AwsLc {
    fn fill(&self, out: &mut [u8]) -> Result<()> {
        #[cfg(test)]
        FILLS.with(|c| c.set(c.get().saturating_add(1)));
        aws_lc_rs::rand::fill(out).map_err(|_| Error::FunctionFailed)
    }

    fn ec_key(&self, curve: Curve) -> Result<EcPair> {
        let Some(alg) = ecdsa_alg(curve) else {
            fallback_allowed()?;
            return g::RustCrypto.ec_key(curve);
        };
        let pair = EcdsaKeyPair::generate(alg).map_err(|_| Error::FunctionFailed)?;
        // Big-endian, field width; the buffer zeroizes itself. The public
        // point comes from aws-lc too: building the RustCrypto key here
        // would recompute it (a scalar multiplication per key pair).
        let scalar = pair
            .private_key()
            .as_be_bytes()
            .map_err(|_| Error::FunctionFailed)?;
        if scalar.as_ref().len() != curve.field_bytes() {
            return Err(Error::FunctionFailed);
        }
        ran();
        Ok(EcPair {
            scalar: Zeroizing::new(scalar.as_ref().to_vec()),
            point: sig::KeyPair::public_key(&pair).as_ref().to_vec(),
        })
    }

    fn rsa_key(&self, bits: usize, e: u64) -> Result<RsaPrivateKey> {
        let Some(size) = rsa_size(bits).filter(|_| e == F4) else {
            fallback_allowed()?;
            return g::rc_rsa_key(bits, e);
        };
        let pair = RsaKeyPair::generate(size).map_err(|_| Error::FunctionFailed)?;
        let der = aws_lc_rs::encoding::AsDer::as_der(&pair).map_err(|_| Error::FunctionFailed)?;
        ran();
        RsaPrivateKey::from_pkcs8_der(der.as_ref()).map_err(|_| Error::FunctionFailed)
    }

    fn ed25519_seed(&self) -> Result<Zeroizing<Vec<u8>>> {
        let pair = Ed25519KeyPair::generate().map_err(|_| Error::FunctionFailed)?;
        let seed = pair
            .seed()
            .and_then(|s| s.as_be_bytes())
            .map_err(|_| Error::FunctionFailed)?;
        ran();
        Ok(Zeroizing::new(seed.as_ref().to_vec()))
    }

    fn ecdh(&self, key: &EcSigningKey, peer: &EcVerifyingKey) -> Result<Zeroizing<Vec<u8>>> {
        let curve = key.curve();
        if peer.curve() != curve {
            return Err(Error::MechanismParamInvalid);
        }
        let Some(alg) = ecdh_alg(curve) else {
            fallback_allowed()?;
            return g::rc_ecdh(key, peer);
        };
        let private = agreement::PrivateKey::from_private_key(alg, &key.scalar_bytes())
            .map_err(|_| Error::FunctionFailed)?;
        let point = peer.uncompressed_point();
        ran();
        agreement::agree(
            &private,
            UnparsedPublicKey::new(alg, &point),
            Error::MechanismParamInvalid,
            |z| Ok(Zeroizing::new(z.to_vec())),
        )
    }

    fn x25519(&self, secret: &StaticSecret, peer: &[u8; 32]) -> Result<Zeroizing<Vec<u8>>> {
        let scalar = Zeroizing::new(secret.to_bytes());
        let private = agreement::PrivateKey::from_private_key(&X25519, scalar.as_slice())
            .map_err(|_| Error::FunctionFailed)?;
        ran();
        // AWS-LC refuses an all-zero result (a small-order peer), as the
        // RustCrypto side does (RFC 7748 §6.1).
        let z = agreement::agree(
            &private,
            UnparsedPublicKey::new(&X25519, peer),
            Error::FunctionFailed,
            |z| Ok(Zeroizing::new(z.to_vec())),
        )?;
        if z.iter().all(|&b| b == 0) {
            return Err(Error::FunctionFailed);
        }
        Ok(z)
    }

    fn hkdf(&self, hash: HashAlg, job: &HkdfJob<'_>) -> Result<Zeroizing<Vec<u8>>> {
        let (Some(alg), Some(mac)) = (hkdf_alg(hash), hmac_alg(hash)) else {
            fallback_allowed()?;
            return g::rc_hkdf(hash, job);
        };
        let salt = job.salt.unwrap_or(&[]);
        if job.extract && !job.expand {
            // HKDF-Extract is HMAC(salt, IKM); an absent salt is HashLen
            // zeros, which HMAC's zero padding makes the empty key.
            ran();
            let prk = hmac::sign(&hmac::Key::new(mac, salt), job.ikm);
            return Ok(Zeroizing::new(prk.as_ref().to_vec()));
        }
        let prk = if job.extract {
            hkdf::Salt::new(alg, salt).extract(job.ikm)
        } else {
            // RFC 5869 §2.3: a PRK of at least the hash length.
            if job.ikm.len() < hash.output_len() {
                return Err(Error::KeySizeRange);
            }
            if job.ikm.len() > MAX_PRK {
                fallback_allowed()?;
                return g::rc_hkdf(hash, job);
            }
            hkdf::Prk::new_less_safe(alg, job.ikm)
        };
        let info = [job.info];
        let okm = prk
            .expand(&info, Len(job.len))
            .map_err(|_| Error::TemplateInconsistent)?;
        let mut out = Zeroizing::new(vec![0u8; job.len]);
        okm.fill(&mut out).map_err(|_| Error::FunctionFailed)?;
        ran();
        Ok(out)
    }

    fn pbkdf2(
        &self,
        hash: HashAlg,
        pw: &[u8],
        salt: &[u8],
        rounds: u32,
        out: &mut [u8],
    ) -> Result<()> {
        let (Some(alg), Some(rounds)) = (pbkdf2_alg(hash), NonZeroU32::new(rounds)) else {
            fallback_allowed()?;
            return g::rc_pbkdf2(hash, pw, salt, rounds, out);
        };
        ran();
        pbkdf2::derive(alg, rounds, salt, pw, out);
        Ok(())
    }

    fn gcm_seal(
        &self,
        key: &[u8; 32],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<[u8; GCM_NONCE_LEN]> {
        // The nonce is drawn inside the module (the approved IV
        // generation for AES-GCM encryption in FIPS mode).
        let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| Error::GeneralError)?;
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), in_out)
            .map_err(|_| Error::GeneralError)?;
        ran();
        Ok(*nonce.as_ref())
    }

    fn gcm_open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; GCM_NONCE_LEN],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> Result<()> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::GeneralError)?;
        let plain_len = LessSafeKey::new(key)
            .open_in_place(Nonce::from(nonce), Aad::from(aad), in_out)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        ran();
        in_out.truncate(plain_len);
        Ok(())
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut ctx = hmac::Context::with_key(&key);
        for part in parts {
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        let tag = ctx.sign();
        for (o, t) in out.iter_mut().zip(tag.as_ref()) {
            *o = *t;
        }
        ran();
        out
    }
}

#[cfg(test)]
#[path = "generation_aws_lc_tests.rs"]
mod tests;
