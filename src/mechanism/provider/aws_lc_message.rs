//! aws-lc's message signing: ECDSA and RSA over the whole message, hashed
//! inside AWS-LC. This is the FIPS build's signing path (aws-lc-rs
//! approves message signing in FIPS mode and not the signing of a digest
//! computed outside the module, so there the hashed mechanisms buffer
//! their input — sign.rs `Input` — and end here). The other builds keep
//! hashing as they go and signing the digest (aws_lc.rs).
//!
//! aws-lc-rs binds a key to one (curve, hash) algorithm. The curve's
//! native pairing (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512) reuses
//! the key cached with the `Key`; the other pairings aws-lc-rs has are
//! parsed per call. Pairings it lacks (signing P-256 or P-384 with another
//! hash, any SHA-1 signing, PSS salts other than the hash length) fall
//! back through `fallback_allowed`, which the FIPS build refuses.
//! Verification covers more pairings: aws-lc-rs's DER-signature
//! algorithms take the r||s signature after re-encoding.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, ParsedPublicKey};

use super::{Parsed, ec_private, ec_public, ran, rsa_algs, rsa_private, rsa_public};
use crate::error::{Error, Result};
use crate::mechanism::digest::HashAlg;
use crate::mechanism::ec::{EcSigningKey, EcVerifyingKey};
use crate::mechanism::keys::Curve;
use crate::mechanism::provider::{Cached, Provider, fallback_allowed, rustcrypto::RustCrypto};
use crate::mechanism::rsa::RsaScheme;
use rsa::{RsaPrivateKey, RsaPublicKey};

/// The hash of a curve's own algorithm in aws_lc.rs `ec_algs`, whose key
/// is cached with the `Key` (aws-lc-rs's algorithms are consts, so they
/// are told apart by pairing, not by address).
/// None for P-192 and P-224, which have no aws-lc-rs algorithm at all.
fn native_hash(curve: Curve) -> Option<HashAlg> {
    match curve {
        Curve::P192 | Curve::P224 => None,
        Curve::P256 => Some(HashAlg::Sha256),
        Curve::P384 => Some(HashAlg::Sha384),
        Curve::P521 => Some(HashAlg::Sha512),
    }
}

/// aws-lc-rs's fixed-width (r||s) signing algorithm for a pairing.
fn signing_alg(curve: Curve, hash: HashAlg) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    use HashAlg::*;
    Some(match (curve, hash) {
        (Curve::P256, Sha256) => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        (Curve::P384, Sha384) => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        (Curve::P384, Sha3_384) => &sig::ECDSA_P384_SHA3_384_FIXED_SIGNING,
        (Curve::P521, Sha224) => &sig::ECDSA_P521_SHA224_FIXED_SIGNING,
        (Curve::P521, Sha256) => &sig::ECDSA_P521_SHA256_FIXED_SIGNING,
        (Curve::P521, Sha384) => &sig::ECDSA_P521_SHA384_FIXED_SIGNING,
        (Curve::P521, Sha512) => &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
        (Curve::P521, Sha3_512) => &sig::ECDSA_P521_SHA3_512_FIXED_SIGNING,
        _ => return None,
    })
}

/// A verification algorithm for a pairing, and whether it takes a DER
/// signature (true) rather than r||s.
fn verifying_alg(
    curve: Curve,
    hash: HashAlg,
) -> Option<(&'static sig::EcdsaVerificationAlgorithm, bool)> {
    use HashAlg::*;
    Some(match (curve, hash) {
        (Curve::P256, Sha256) => (&sig::ECDSA_P256_SHA256_FIXED, false),
        (Curve::P256, Sha1) => (&sig::ECDSA_P256_SHA1_ASN1, true),
        (Curve::P256, Sha384) => (&sig::ECDSA_P256_SHA384_ASN1, true),
        (Curve::P256, Sha512) => (&sig::ECDSA_P256_SHA512_ASN1, true),
        (Curve::P384, Sha384) => (&sig::ECDSA_P384_SHA384_FIXED, false),
        (Curve::P384, Sha3_384) => (&sig::ECDSA_P384_SHA3_384_FIXED, false),
        (Curve::P384, Sha256) => (&sig::ECDSA_P384_SHA256_ASN1, true),
        (Curve::P384, Sha512) => (&sig::ECDSA_P384_SHA512_ASN1, true),
        (Curve::P521, Sha1) => (&sig::ECDSA_P521_SHA1_FIXED, false),
        (Curve::P521, Sha224) => (&sig::ECDSA_P521_SHA224_FIXED, false),
        (Curve::P521, Sha256) => (&sig::ECDSA_P521_SHA256_FIXED, false),
        (Curve::P521, Sha384) => (&sig::ECDSA_P521_SHA384_FIXED, false),
        (Curve::P521, Sha512) => (&sig::ECDSA_P521_SHA512_FIXED, false),
        (Curve::P521, Sha3_512) => (&sig::ECDSA_P521_SHA3_512_FIXED, false),
        _ => return None,
    })
}

/// Whether the FIPS build can sign (and verify) `hash` with a key on
/// `curve`: the families refuse other pairings at init with
/// CKR_KEY_SIZE_RANGE (the curve is the EC key's size), so a client learns
/// it before sending data.
#[cfg_attr(not(any(test, feature = "fips")), allow(dead_code))]
pub(in crate::mechanism) fn ecdsa_pairing(curve: Curve, hash: HashAlg, signing: bool) -> bool {
    if signing {
        signing_alg(curve, hash).is_some()
    } else {
        verifying_alg(curve, hash).is_some()
    }
}

/// Whether aws-lc-rs signs (or verifies) this RSA scheme over a message.
#[cfg_attr(not(any(test, feature = "fips")), allow(dead_code))]
pub(in crate::mechanism) fn rsa_scheme(scheme: RsaScheme, signing: bool) -> bool {
    match rsa_algs(scheme) {
        Some((encoding, ..)) => !signing || encoding.is_some(),
        None => false,
    }
}

pub(super) fn ecdsa_sign(key: &Cached<EcSigningKey>, hash: HashAlg, msg: &[u8]) -> Result<Vec<u8>> {
    let curve = key.curve();
    let Some(alg) = signing_alg(curve, hash) else {
        fallback_allowed()?;
        return RustCrypto.ecdsa_sign_message(key, hash, msg);
    };
    let rng = SystemRandom::new();
    let signature = if Some(hash) == native_hash(curve) {
        let Some(Parsed::EcPrivate(pair)) = key.aws_lc(ec_private) else {
            fallback_allowed()?;
            return RustCrypto.ecdsa_sign_message(key, hash, msg);
        };
        ran();
        pair.sign(&rng, msg)
    } else {
        let scalar = key.scalar_bytes();
        let point = key.verifying_key().uncompressed_point();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(alg, &scalar, &point)
            .map_err(|_| Error::FunctionFailed)?;
        ran();
        pair.sign(&rng, msg)
    };
    signature
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| Error::FunctionFailed)
}

pub(super) fn ecdsa_verify(
    key: &Cached<EcVerifyingKey>,
    hash: HashAlg,
    msg: &[u8],
    signature: &[u8],
) -> Result<()> {
    let curve = key.curve();
    let Some((alg, der)) = verifying_alg(curve, hash) else {
        fallback_allowed()?;
        return RustCrypto.ecdsa_verify_message(key, hash, msg, signature);
    };
    let checked = if Some(hash) == native_hash(curve) {
        let Some(Parsed::EcPublic(public)) = key.aws_lc(ec_public) else {
            fallback_allowed()?;
            return RustCrypto.ecdsa_verify_message(key, hash, msg, signature);
        };
        ran();
        public.verify_sig(msg, signature)
    } else {
        let public = ParsedPublicKey::new(alg, key.uncompressed_point())
            .map_err(|_| Error::FunctionFailed)?;
        ran();
        if der {
            let encoded = rs_to_der(signature).ok_or(Error::SignatureInvalid)?;
            public.verify_sig(msg, &encoded)
        } else {
            public.verify_sig(msg, signature)
        }
    };
    checked.map_err(|_| Error::SignatureInvalid)
}

pub(super) fn rsa_sign(
    key: &Cached<RsaPrivateKey>,
    scheme: RsaScheme,
    msg: &[u8],
) -> Result<Vec<u8>> {
    let (Some((Some(encoding), ..)), Some(Parsed::RsaPrivate { sign, .. })) =
        (rsa_algs(scheme), key.aws_lc(rsa_private))
    else {
        fallback_allowed()?;
        return RustCrypto.rsa_sign_message(key, scheme, msg);
    };
    ran();
    let mut out = vec![0u8; sign.public_modulus_len()];
    sign.sign(encoding, &SystemRandom::new(), msg, &mut out)
        .map_err(|_| Error::FunctionFailed)?;
    Ok(out)
}

pub(super) fn rsa_verify(
    key: &Cached<RsaPublicKey>,
    scheme: RsaScheme,
    msg: &[u8],
    signature: &[u8],
) -> Result<()> {
    let parsed = match (rsa_algs(scheme), key.aws_lc(rsa_public)) {
        (Some((_, params, slot, _)), Some(Parsed::RsaPublic { spki, by_alg })) => {
            by_alg.get(slot).and_then(|s| {
                s.get_or_init(|| ParsedPublicKey::new(params, spki).ok())
                    .as_ref()
            })
        }
        _ => None,
    };
    let Some(parsed) = parsed else {
        fallback_allowed()?;
        return RustCrypto.rsa_verify_message(key, scheme, msg, signature);
    };
    ran();
    parsed
        .verify_sig(msg, signature)
        .map_err(|_| Error::SignatureInvalid)
}

/// An r||s signature (two equal halves) as DER `SEQUENCE { r INTEGER,
/// s INTEGER }`, for aws-lc-rs's DER-only verification pairings. None for
/// an odd length (no signature of the curve; it cannot verify).
fn rs_to_der(signature: &[u8]) -> Option<Vec<u8>> {
    if signature.is_empty() || !signature.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = signature.split_at(signature.len() / 2);
    let mut body = Vec::with_capacity(signature.len() + 8);
    for half in [r, s] {
        let trimmed = match half.iter().position(|b| *b != 0) {
            Some(i) => half.get(i..)?,
            None => &[0u8][..],
        };
        let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        body.push(0x02);
        push_len(&mut body, trimmed.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(trimmed);
    }
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    Some(out)
}

/// A DER length (the signatures here stay below 64 KiB).
fn push_len(out: &mut Vec<u8>, len: usize) {
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(n), _) if n < 0x80 => out.push(n),
        (Ok(n), _) => out.extend_from_slice(&[0x81, n]),
        (_, Ok(n)) => {
            out.push(0x82);
            out.extend_from_slice(&n.to_be_bytes());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::AwsLc;
    use super::super::tests::{ec_pair, rsa_keys, rsa_parts, served};
    use super::*;

    /// Every pairing aws-lc-rs signs: its message signature verifies in
    /// RustCrypto (hashing there) and in aws-lc; RustCrypto's verifies in
    /// aws-lc, through the DER re-encoding where that pairing needs it.
    #[test]
    fn ecdsa_message_signatures_cross_verify() {
        use HashAlg::*;
        let hashes = [Sha1, Sha224, Sha256, Sha384, Sha512, Sha3_384, Sha3_512];
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let (private, public) = ec_pair(curve);
            for hash in hashes {
                let msg = b"a message signed whole";
                let (by_aws, on_aws) = served(|| AwsLc.ecdsa_sign_message(&private, hash, msg));
                assert_eq!(
                    on_aws,
                    ecdsa_pairing(curve, hash, true),
                    "{curve:?} {hash:?}"
                );
                if crate::mechanism::provider::FIPS && !on_aws {
                    // Not approved here: refused, never run elsewhere.
                    assert_eq!(by_aws, Err(Error::FunctionFailed), "{curve:?} {hash:?}");
                    continue;
                }
                let by_aws = by_aws.unwrap();
                let by_rc = RustCrypto
                    .ecdsa_sign_message(&private, hash, msg)
                    .unwrap_or_else(|e| panic!("{curve:?} {hash:?} {e:?}"));
                for sig in [&by_aws, &by_rc] {
                    assert_eq!(
                        RustCrypto.ecdsa_verify_message(&public, hash, msg, sig),
                        Ok(())
                    );
                    let (checked, on_aws) =
                        served(|| AwsLc.ecdsa_verify_message(&public, hash, msg, sig));
                    assert_eq!(checked, Ok(()), "{curve:?} {hash:?}");
                    assert_eq!(
                        on_aws,
                        ecdsa_pairing(curve, hash, false),
                        "{curve:?} {hash:?}"
                    );
                }
                assert_eq!(
                    AwsLc.ecdsa_verify_message(&public, hash, b"another message", &by_rc),
                    Err(Error::SignatureInvalid),
                    "{curve:?} {hash:?}"
                );
            }
        }
    }

    #[test]
    fn rsa_message_signatures_cross_verify() {
        let (private, public) = rsa_parts(rsa_keys());
        let pss = |hash: HashAlg| RsaScheme::Pss {
            hash,
            salt_len: hash.output_len(),
        };
        let schemes = [
            RsaScheme::Pkcs1(Some(HashAlg::Sha256)),
            RsaScheme::Pkcs1(Some(HashAlg::Sha384)),
            RsaScheme::Pkcs1(Some(HashAlg::Sha512)),
            RsaScheme::Pkcs1(Some(HashAlg::Sha1)),
            pss(HashAlg::Sha256),
            pss(HashAlg::Sha512),
            pss(HashAlg::Sha224),
        ];
        for scheme in schemes {
            let msg = b"an RSA message";
            let (by_aws, on_aws) = served(|| AwsLc.rsa_sign_message(private, scheme, msg));
            assert_eq!(on_aws, rsa_scheme(scheme, true), "{scheme:?}");
            if crate::mechanism::provider::FIPS && !on_aws {
                assert_eq!(by_aws, Err(Error::FunctionFailed), "{scheme:?}");
                continue;
            }
            let by_aws = by_aws.unwrap();
            let by_rc = RustCrypto.rsa_sign_message(private, scheme, msg).unwrap();
            for sig in [&by_aws, &by_rc] {
                assert_eq!(
                    RustCrypto.rsa_verify_message(public, scheme, msg, sig),
                    Ok(())
                );
                let (checked, on_aws) =
                    served(|| AwsLc.rsa_verify_message(public, scheme, msg, sig));
                assert_eq!(checked, Ok(()), "{scheme:?}");
                assert_eq!(on_aws, rsa_scheme(scheme, false), "{scheme:?}");
            }
            assert_eq!(
                AwsLc.rsa_verify_message(public, scheme, b"other", &by_rc),
                Err(Error::SignatureInvalid)
            );
        }
    }

    #[test]
    fn der_reencoding() {
        // r with its top bit set gains a zero byte; s's leading zeros go.
        let mut sig = vec![0u8; 64];
        sig[0] = 0x80;
        sig[63] = 0x05;
        let der = rs_to_der(&sig).unwrap();
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(rs_to_der(&[1, 2, 3]).is_none());
    }
}
