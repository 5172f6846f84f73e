//! The aws-lc-rs provider (cargo feature `aws-lc`): ECDSA P-256/P-384/P-521
//! sign and verify, RSA PKCS#1 v1.5 and PSS sign and verify, and RSA-OAEP
//! decryption run in AWS-LC, through aws-lc-rs's safe API only.
//!
//! The digest entry points (`EcdsaKeyPair::sign_digest`,
//! `ParsedPublicKey::verify_digest_sig`, `rsa::KeyPair::sign_digest`) take
//! a digest we computed: the family code hashes multi-part input itself
//! and, for CKM_ECDSA, normalizes the caller's hash to the field width.
//! They require the digest's algorithm to be the one the signing algorithm
//! names, so each shape maps to one aws-lc-rs algorithm. What aws-lc-rs
//! cannot express falls back, per call, to the RustCrypto provider with
//! the same result:
//! - ECDSA P-521 over a `z` of more than 512 bits (CKM_ECDSA with an input
//!   longer than 64 bytes): an imported digest is at most 64 bytes;
//! - RSA with SHA-1 (signing), SHA-224 or SHA-3, PSS with a salt length
//!   other than the hash length (aws-lc-rs's salt lengths are compile-time
//!   constants), and raw CKM_RSA_PKCS over anything but a canonical
//!   SHA-256/384/512 DigestInfo (no safe unprefixed PKCS#1 signing: a
//!   recognized DigestInfo is signed as its hashed scheme, same bytes);
//! - RSA keys outside 2048..=8192 bits (aws-lc-rs refuses them);
//! - OAEP with SHA-224.
//!
//! Secrets: the aws-lc key is built from a zeroizing copy of the RustCrypto
//! key (scalar or PKCS#8 document), and AWS-LC clears its allocations when
//! it frees them (`OPENSSL_free` cleanses), so the parsed form dies clean
//! with its `Key`. The aws-lc-rs key types print no secret in `Debug`, and
//! `Cached` prints none of them.

use std::sync::OnceLock;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384,
    OAEP_SHA512_MGF1SHA512, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, ParsedPublicKey, RsaEncoding};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::rustcrypto;
use super::{Cached, Provider, fallback_allowed};
use crate::error::{Error, Result};
use crate::mechanism::digest::HashAlg;
use crate::mechanism::ec::{EcSigningKey, EcVerifyingKey};
use crate::mechanism::keys::Curve;
use crate::mechanism::rsa::RsaScheme;

#[path = "aws_lc_message.rs"]
mod message;
#[cfg(feature = "fips")]
pub(in crate::mechanism) use message::{ecdsa_pairing, rsa_scheme};

/// The aws-lc-rs provider.
pub(in crate::mechanism) struct AwsLc;

/// The RSA verification algorithms a public key may be asked for, one
/// cached parsed key each (aws-lc-rs binds the algorithm at parse time).
const RSA_VERIFY_SLOTS: usize = 7;

/// aws-lc's form of one key, cached with it (provider/mod.rs `Cached`).
pub(in crate::mechanism) enum Parsed {
    EcPrivate(EcdsaKeyPair),
    EcPublic(ParsedPublicKey),
    RsaPrivate {
        sign: RsaKeyPair,
        oaep: OaepPrivateDecryptingKey,
    },
    RsaPublic {
        /// DER SubjectPublicKeyInfo, what each slot parses.
        spki: Vec<u8>,
        /// Boxed: seven parsed keys would make every `Parsed` this big.
        by_alg: Box<[OnceLock<Option<ParsedPublicKey>>; RSA_VERIFY_SLOTS]>,
    },
}

#[cfg(test)]
thread_local! {
    /// aws-lc keys built by this thread (the cache test counts its own
    /// builds only; builds run in the calling thread).
    static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one operation served by aws-lc (provider/mod.rs keeps the
/// count every aws-lc file shares).
fn ran() {
    super::served_by_aws_lc();
}

/// Operations this test thread ran in aws-lc so far.
#[cfg(test)]
fn ran_in_this_thread() -> usize {
    super::aws_lc_served_in_this_thread()
}

/// aws-lc keys built by this test thread so far.
#[cfg(test)]
pub(in crate::mechanism) fn built_in_this_thread() -> usize {
    BUILT.with(std::cell::Cell::get)
}

fn built(parsed: Parsed) -> Option<Parsed> {
    #[cfg(test)]
    BUILT.with(|c| c.set(c.get().saturating_add(1)));
    Some(parsed)
}

/// The one aws-lc-rs algorithm per curve and the digest it expects; None
/// for P-192 and P-224, which aws-lc-rs does not serve (they stay on
/// RustCrypto in this build, and are not offered in the FIPS build).
fn ec_algs(
    curve: Curve,
) -> Option<(
    &'static sig::EcdsaSigningAlgorithm,
    &'static sig::EcdsaVerificationAlgorithm,
    &'static digest::Algorithm,
)> {
    Some(match curve {
        Curve::P192 | Curve::P224 => return None,
        Curve::P256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            &sig::ECDSA_P256_SHA256_FIXED,
            &digest::SHA256,
        ),
        Curve::P384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            &sig::ECDSA_P384_SHA384_FIXED,
            &digest::SHA384,
        ),
        Curve::P521 => (
            &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
            &sig::ECDSA_P521_SHA512_FIXED,
            &digest::SHA512,
        ),
    })
}

/// `z` (field width, from ec.rs `normalize_hash`) as the digest the
/// curve's algorithm expects, with the same integer value: P-256 and
/// P-384 take it as is; P-521's 66-byte `z` fits SHA-512's 64 bytes only
/// when its top two bytes are zero (AWS-LC does not truncate 512 bits for
/// a 521-bit order, so the value is unchanged). None: fall back.
fn ec_digest(curve: Curve, z: &[u8]) -> Option<Digest> {
    let (_, _, alg) = ec_algs(curve)?;
    let value = match curve {
        Curve::P192 | Curve::P224 => return None,
        Curve::P256 | Curve::P384 => z,
        Curve::P521 => match z {
            [0, 0, rest @ ..] => rest,
            _ => return None,
        },
    };
    Digest::import_less_safe(value, alg).ok()
}

fn ec_private(key: &EcSigningKey) -> Option<Parsed> {
    let (alg, _, _) = ec_algs(key.curve())?;
    let scalar = key.scalar_bytes();
    let point = key.verifying_key().uncompressed_point();
    EcdsaKeyPair::from_private_key_and_public_key(alg, &scalar, &point)
        .ok()
        .and_then(|k| built(Parsed::EcPrivate(k)))
}

fn ec_public(key: &EcVerifyingKey) -> Option<Parsed> {
    let (_, alg, _) = ec_algs(key.curve())?;
    ParsedPublicKey::new(alg, key.uncompressed_point())
        .ok()
        .and_then(|k| built(Parsed::EcPublic(k)))
}

/// aws-lc-rs takes RSA keys of 2048..=8192 bits.
fn rsa_size_ok(n_bits: u32) -> bool {
    (2048..=8192).contains(&n_bits)
}

fn rsa_private(key: &RsaPrivateKey) -> Option<Parsed> {
    if !rsa_size_ok(key.n().bits_vartime()) {
        return None;
    }
    // SecretDocument zeroizes itself on drop.
    let pkcs8 = key.to_pkcs8_der().ok()?;
    let sign = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).ok()?;
    let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8.as_bytes()).ok()?;
    let oaep = OaepPrivateDecryptingKey::new(decrypting).ok()?;
    built(Parsed::RsaPrivate { sign, oaep })
}

fn rsa_public(key: &RsaPublicKey) -> Option<Parsed> {
    if !rsa_size_ok(key.n().bits_vartime()) {
        return None;
    }
    let spki = key.to_public_key_der().ok()?.as_bytes().to_vec();
    built(Parsed::RsaPublic {
        spki,
        by_alg: Default::default(),
    })
}

/// DER DigestInfo prefixes (RFC 8017 §9.2 note 1) of the hashes aws-lc-rs
/// has PKCS#1 v1.5 encodings for.
const DIGEST_INFO: [(HashAlg, &[u8]); 3] = [
    (
        HashAlg::Sha256,
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
    ),
    (
        HashAlg::Sha384,
        &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
    ),
    (
        HashAlg::Sha512,
        &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    ),
];

/// Raw CKM_RSA_PKCS over a canonical SHA-256/384/512 DigestInfo (what NSS
/// and OpenSSL send) is the hashed scheme over the bare digest: PKCS#1
/// v1.5 pads `prefix || digest` either way, so the signature bytes are
/// identical and aws-lc can make them. Any other input keeps its scheme
/// (and so stays on RustCrypto when raw).
fn as_hashed(scheme: RsaScheme, data: &[u8]) -> (RsaScheme, &[u8]) {
    if scheme == RsaScheme::Pkcs1(None) {
        for (hash, prefix) in DIGEST_INFO {
            if let Some(digest) = data.strip_prefix(prefix)
                && digest.len() == hash.output_len()
            {
                return (RsaScheme::Pkcs1(Some(hash)), digest);
            }
        }
    }
    (scheme, data)
}

/// The aws-lc-rs signing encoding, verification algorithm (with its
/// cache slot) and digest algorithm of an RSA scheme; None for the shapes
/// listed at the top of this file.
fn rsa_algs(
    scheme: RsaScheme,
) -> Option<(
    Option<&'static dyn RsaEncoding>,
    &'static sig::RsaParameters,
    usize,
    &'static digest::Algorithm,
)> {
    let pss_ok = |hash: HashAlg, salt_len: usize| salt_len == hash.output_len();
    Some(match scheme {
        // SHA-1 verification only: aws-lc-rs has no SHA-1 signing encoding.
        RsaScheme::Pkcs1(Some(HashAlg::Sha1)) => (
            None,
            &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            0,
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
        ),
        RsaScheme::Pkcs1(Some(HashAlg::Sha256)) => (
            Some(&sig::RSA_PKCS1_SHA256),
            &sig::RSA_PKCS1_2048_8192_SHA256,
            1,
            &digest::SHA256,
        ),
        RsaScheme::Pkcs1(Some(HashAlg::Sha384)) => (
            Some(&sig::RSA_PKCS1_SHA384),
            &sig::RSA_PKCS1_2048_8192_SHA384,
            2,
            &digest::SHA384,
        ),
        RsaScheme::Pkcs1(Some(HashAlg::Sha512)) => (
            Some(&sig::RSA_PKCS1_SHA512),
            &sig::RSA_PKCS1_2048_8192_SHA512,
            3,
            &digest::SHA512,
        ),
        RsaScheme::Pss {
            hash: HashAlg::Sha256,
            salt_len,
        } if pss_ok(HashAlg::Sha256, salt_len) => (
            Some(&sig::RSA_PSS_SHA256),
            &sig::RSA_PSS_2048_8192_SHA256,
            4,
            &digest::SHA256,
        ),
        RsaScheme::Pss {
            hash: HashAlg::Sha384,
            salt_len,
        } if pss_ok(HashAlg::Sha384, salt_len) => (
            Some(&sig::RSA_PSS_SHA384),
            &sig::RSA_PSS_2048_8192_SHA384,
            5,
            &digest::SHA384,
        ),
        RsaScheme::Pss {
            hash: HashAlg::Sha512,
            salt_len,
        } if pss_ok(HashAlg::Sha512, salt_len) => (
            Some(&sig::RSA_PSS_SHA512),
            &sig::RSA_PSS_2048_8192_SHA512,
            6,
            &digest::SHA512,
        ),
        _ => return None,
    })
}

fn oaep_alg(hash: HashAlg) -> Option<&'static OaepAlgorithm> {
    match hash {
        HashAlg::Sha1 => Some(&OAEP_SHA1_MGF1SHA1),
        HashAlg::Sha256 => Some(&OAEP_SHA256_MGF1SHA256),
        HashAlg::Sha384 => Some(&OAEP_SHA384_MGF1SHA384),
        HashAlg::Sha512 => Some(&OAEP_SHA512_MGF1SHA512),
        _ => None,
    }
}

impl Provider for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn ecdsa_sign_message(
        &self,
        key: &Cached<EcSigningKey>,
        hash: HashAlg,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        message::ecdsa_sign(key, hash, msg)
    }

    fn ecdsa_verify_message(
        &self,
        key: &Cached<EcVerifyingKey>,
        hash: HashAlg,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        message::ecdsa_verify(key, hash, msg, sig)
    }

    fn rsa_sign_message(
        &self,
        key: &Cached<RsaPrivateKey>,
        scheme: RsaScheme,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        message::rsa_sign(key, scheme, msg)
    }

    fn rsa_verify_message(
        &self,
        key: &Cached<RsaPublicKey>,
        scheme: RsaScheme,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        message::rsa_verify(key, scheme, msg, sig)
    }

    fn ecdsa_sign(&self, key: &Cached<EcSigningKey>, z: &[u8]) -> Result<Vec<u8>> {
        let (Some(Parsed::EcPrivate(pair)), Some(digest)) =
            (key.aws_lc(ec_private), ec_digest(key.curve(), z))
        else {
            fallback_allowed()?;
            return rustcrypto::ecdsa_sign(key, z);
        };
        ran();
        pair.sign_digest(&digest)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::FunctionFailed)
    }

    fn ecdsa_verify(&self, key: &Cached<EcVerifyingKey>, z: &[u8], sig: &[u8]) -> Result<()> {
        let (Some(Parsed::EcPublic(public)), Some(digest)) =
            (key.aws_lc(ec_public), ec_digest(key.curve(), z))
        else {
            fallback_allowed()?;
            return rustcrypto::ecdsa_verify(key, z, sig);
        };
        ran();
        public
            .verify_digest_sig(&digest, sig)
            .map_err(|_| Error::SignatureInvalid)
    }

    fn rsa_sign(
        &self,
        key: &Cached<RsaPrivateKey>,
        scheme: RsaScheme,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let (hashed, digest) = as_hashed(scheme, data);
        let Some((Some(encoding), _, _, alg)) = rsa_algs(hashed) else {
            fallback_allowed()?;
            return rustcrypto::rsa_sign(key, scheme, data);
        };
        let Some(Parsed::RsaPrivate { sign, .. }) = key.aws_lc(rsa_private) else {
            fallback_allowed()?;
            return rustcrypto::rsa_sign(key, scheme, data);
        };
        // The family code checked that `data` is one digest of `alg`.
        let digest = Digest::import_less_safe(digest, alg).map_err(|_| Error::DataLenRange)?;
        ran();
        let mut out = vec![0u8; sign.public_modulus_len()];
        sign.sign_digest(encoding, &digest, &mut out)
            .map_err(|_| Error::FunctionFailed)?;
        Ok(out)
    }

    fn rsa_verify(
        &self,
        key: &Cached<RsaPublicKey>,
        scheme: RsaScheme,
        data: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let fallback = || {
            fallback_allowed()?;
            rustcrypto::rsa_verify(key, scheme, data, sig)
        };
        let (hashed, digest) = as_hashed(scheme, data);
        let Some((_, params, slot, alg)) = rsa_algs(hashed) else {
            return fallback();
        };
        let Some(Parsed::RsaPublic { spki, by_alg }) = key.aws_lc(rsa_public) else {
            return fallback();
        };
        let parsed = by_alg.get(slot).and_then(|s| {
            s.get_or_init(|| ParsedPublicKey::new(params, spki).ok())
                .as_ref()
        });
        let (Some(parsed), Ok(digest)) = (parsed, Digest::import_less_safe(digest, alg)) else {
            return fallback();
        };
        ran();
        parsed
            .verify_digest_sig(&digest, sig)
            .map_err(|_| Error::SignatureInvalid)
    }

    fn rsa_oaep_decrypt(
        &self,
        key: &Cached<RsaPrivateKey>,
        hash: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (Some(alg), Some(Parsed::RsaPrivate { oaep, .. })) =
            (oaep_alg(hash), key.aws_lc(rsa_private))
        else {
            fallback_allowed()?;
            return rustcrypto::oaep_decrypt(key, hash, label, ct);
        };
        ran();
        let mut out = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
        let len = oaep
            .decrypt(alg, ct, &mut out, Some(label))
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

/// Cross-provider tests: both implementations live in this test binary, so
/// every signature made by one is checked by the other, and every shape
/// that stays on RustCrypto is shown to still work through this provider.
#[cfg(test)]
pub(super) mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::mechanism::provider::rustcrypto::RustCrypto;
    use crate::mechanism::{Key, generate_rsa};

    pub(super) fn ec_pair(curve: Curve) -> (Cached<EcSigningKey>, Cached<EcVerifyingKey>) {
        let mut scalar = vec![0x11u8; curve.field_bytes()];
        if curve == Curve::P521 {
            scalar[0] = 0x01;
        }
        let private = EcSigningKey::from_scalar(curve, &scalar).unwrap();
        let public = private.verifying_key();
        (Cached::new(private), Cached::new(public))
    }

    /// A field-width `z` of the shape the hashed mechanisms produce.
    fn z_for(curve: Curve, msg: &[u8]) -> Vec<u8> {
        match curve {
            Curve::P192 | Curve::P224 => {
                crate::mechanism::ec::normalize_hash(&HashAlg::Sha256.hash(msg), curve)
            }
            Curve::P256 => HashAlg::Sha256.hash(msg),
            Curve::P384 => HashAlg::Sha384.hash(msg),
            Curve::P521 => [vec![0, 0], HashAlg::Sha512.hash(msg)].concat(),
        }
    }

    #[test]
    fn ecdsa_signatures_cross_verify_both_ways() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let (private, public) = ec_pair(curve);
            let z = z_for(curve, b"cross");
            let before = built_in_this_thread();
            let (by_aws, on_aws) = served(|| AwsLc.ecdsa_sign(&private, &z).unwrap());
            assert!(on_aws, "{curve:?}");
            let by_rc = RustCrypto.ecdsa_sign(&private, &z).unwrap();
            assert_eq!(by_aws.len(), 2 * curve.field_bytes());
            // Both directions, and each provider accepts its own.
            for sig in [&by_aws, &by_rc] {
                assert_eq!(RustCrypto.ecdsa_verify(&public, &z, sig), Ok(()));
                let checked = served(|| AwsLc.ecdsa_verify(&public, &z, sig));
                assert_eq!(checked, (Ok(()), true), "{curve:?}");
            }
            // aws-lc really ran: the private and the public key were parsed.
            assert_eq!(built_in_this_thread(), before + 2, "{curve:?}");
            let mut bad = by_rc.clone();
            bad[5] ^= 1;
            assert_eq!(
                AwsLc.ecdsa_verify(&public, &z, &bad),
                Err(Error::SignatureInvalid)
            );
            let mut other = z.clone();
            other[z.len() - 1] ^= 1;
            assert_eq!(
                AwsLc.ecdsa_verify(&public, &other, &by_aws),
                Err(Error::SignatureInvalid)
            );
        }
    }

    /// The FIPS build never gets a P-192/P-224 key (`Curve::from_ec_params`
    /// does not know them there); if one reached the provider anyway, the
    /// fallback gate refuses it.
    #[cfg(feature = "fips")]
    #[test]
    fn small_curves_are_refused_in_fips_mode() {
        for curve in [Curve::P192, Curve::P224] {
            assert_eq!(
                Curve::from_ec_params(&curve.ec_params()),
                Err(Error::CurveNotSupported)
            );
            let (private, _) = ec_pair(curve);
            let z = z_for(curve, b"small");
            assert_eq!(AwsLc.ecdsa_sign(&private, &z), Err(Error::FunctionFailed));
        }
    }

    /// P-192 and P-224 have no aws-lc-rs algorithm: signing, verifying,
    /// generation and ECDH on them stay on RustCrypto in this build (the
    /// FIPS build does not know the curves), and still work.
    #[cfg(not(feature = "fips"))]
    #[test]
    fn small_curves_stay_on_rustcrypto() {
        use crate::mechanism::provider::generation::{self as g, Generation};
        for curve in [Curve::P192, Curve::P224] {
            let (private, public) = ec_pair(curve);
            let z = z_for(curve, b"small");
            let (sig, on_aws) = served(|| AwsLc.ecdsa_sign(&private, &z).unwrap());
            assert!(!on_aws, "{curve:?}");
            assert_eq!(sig.len(), 2 * curve.field_bytes());
            assert_eq!(RustCrypto.ecdsa_verify(&public, &z, &sig), Ok(()));
            assert_eq!(
                served(|| AwsLc.ecdsa_verify(&public, &z, &sig)),
                (Ok(()), false)
            );
            let pair = crate::mechanism::provider::generation_aws_lc::AwsLc
                .ec_key(curve)
                .unwrap();
            assert_eq!(pair.scalar.len(), curve.field_bytes());
            let peer = EcSigningKey::from_scalar(curve, &pair.scalar).unwrap();
            let z_ab = crate::mechanism::provider::generation_aws_lc::AwsLc
                .ecdh(&private, &peer.verifying_key())
                .unwrap();
            let z_ba = g::RustCrypto.ecdh(&peer, &private.verifying_key()).unwrap();
            assert_eq!(*z_ab, *z_ba);
        }
    }

    /// P-521 with a `z` above 512 bits (CKM_ECDSA over a long input) has
    /// no aws-lc-rs form: it falls back and still agrees with RustCrypto.
    #[cfg(not(feature = "fips"))] // the fallbacks refuse there: see fips_refuses_every_fallback
    #[test]
    fn p521_long_z_falls_back() {
        let (private, public) = ec_pair(Curve::P521);
        let mut z = vec![0xa5u8; 66];
        z[0] = 0x01;
        assert!(ec_digest(Curve::P521, &z).is_none());
        let (sig, on_aws) = served(|| AwsLc.ecdsa_sign(&private, &z).unwrap());
        assert!(!on_aws);
        assert_eq!(RustCrypto.ecdsa_verify(&public, &z, &sig), Ok(()));
        let checked = served(|| AwsLc.ecdsa_verify(&public, &z, &sig));
        assert_eq!(checked, (Ok(()), false));
        // A different 512-bit tail under the same key does not verify.
        let short = z_for(Curve::P521, b"x");
        assert_eq!(
            AwsLc.ecdsa_verify(&public, &short, &sig),
            Err(Error::SignatureInvalid)
        );
    }

    /// What `f` returned, and whether aws-lc (not the fallback) served it.
    pub(super) fn served<T>(f: impl FnOnce() -> T) -> (T, bool) {
        let before = ran_in_this_thread();
        let out = f();
        (out, ran_in_this_thread() > before)
    }

    pub(super) fn rsa_keys() -> &'static (Arc<Key>, Arc<Key>) {
        static KEYS: OnceLock<(Arc<Key>, Arc<Key>)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let p = generate_rsa(2048, &[]).unwrap();
            let private = Key::rsa_private(
                &p.modulus,
                &p.public_exponent,
                &p.private_exponent,
                Some((&p.prime_1, &p.prime_2)),
            )
            .unwrap();
            let public = private.to_public().unwrap();
            (Arc::new(private), Arc::new(public))
        })
    }

    pub(super) fn rsa_parts(
        keys: &(Arc<Key>, Arc<Key>),
    ) -> (&Cached<RsaPrivateKey>, &Cached<RsaPublicKey>) {
        match (&*keys.0, &*keys.1) {
            (Key::RsaPrivate(private), Key::RsaPublic(public)) => (private, public),
            _ => panic!("not an RSA pair"),
        }
    }

    #[cfg(not(feature = "fips"))] // the fallbacks refuse there: see fips_refuses_every_fallback
    #[test]
    fn rsa_signatures_cross_verify_both_ways() {
        let (private, public) = rsa_parts(rsa_keys());
        let pss = |hash: HashAlg, salt_len| RsaScheme::Pss { hash, salt_len };
        // (scheme, signed in aws-lc, verified in aws-lc)
        let schemes = [
            (RsaScheme::Pkcs1(Some(HashAlg::Sha256)), true, true),
            (RsaScheme::Pkcs1(Some(HashAlg::Sha384)), true, true),
            (RsaScheme::Pkcs1(Some(HashAlg::Sha512)), true, true),
            (pss(HashAlg::Sha256, 32), true, true),
            (pss(HashAlg::Sha384, 48), true, true),
            (pss(HashAlg::Sha512, 64), true, true),
            // aws-lc-rs verifies SHA-1 PKCS#1 but has no SHA-1 signing.
            (RsaScheme::Pkcs1(Some(HashAlg::Sha1)), false, true),
            // Shapes that stay on RustCrypto.
            (RsaScheme::Pkcs1(Some(HashAlg::Sha224)), false, false),
            (RsaScheme::Pkcs1(Some(HashAlg::Sha3_256)), false, false),
            (pss(HashAlg::Sha256, 20), false, false),
            (pss(HashAlg::Sha3_384, 48), false, false),
        ];
        for (scheme, aws_signs, aws_verifies) in schemes {
            let hash = match scheme {
                RsaScheme::Pkcs1(Some(h)) | RsaScheme::Pss { hash: h, .. } => h,
                RsaScheme::Pkcs1(None) => unreachable!(),
            };
            let digest = hash.hash(b"cross");
            let (by_aws, on_aws) = served(|| AwsLc.rsa_sign(private, scheme, &digest).unwrap());
            assert_eq!(on_aws, aws_signs, "{scheme:?}");
            let by_rc = RustCrypto.rsa_sign(private, scheme, &digest).unwrap();
            assert_eq!(by_aws.len(), 256);
            if let RsaScheme::Pkcs1(_) = scheme {
                // PKCS#1 v1.5 is deterministic: the same bytes.
                assert_eq!(by_aws, by_rc, "{scheme:?}");
            }
            for sig in [&by_aws, &by_rc] {
                assert_eq!(
                    RustCrypto.rsa_verify(public, scheme, &digest, sig),
                    Ok(()),
                    "{scheme:?}"
                );
                let (ok, on_aws) = served(|| AwsLc.rsa_verify(public, scheme, &digest, sig));
                assert_eq!((ok, on_aws), (Ok(()), aws_verifies), "{scheme:?}");
            }
            let mut bad = by_rc.clone();
            bad[100] ^= 1;
            assert_eq!(
                AwsLc.rsa_verify(public, scheme, &digest, &bad),
                Err(Error::SignatureInvalid)
            );
        }
        // aws-lc really ran: both keys hold their parsed form.
        assert!(matches!(
            private.aws_lc(|_| None),
            Some(Parsed::RsaPrivate { .. })
        ));
        assert!(matches!(
            public.aws_lc(|_| None),
            Some(Parsed::RsaPublic { .. })
        ));
        // Raw CKM_RSA_PKCS over a canonical DigestInfo: aws-lc signs it as
        // the hashed scheme, byte for byte what RustCrypto's raw signing
        // and the hashed mechanism give; both verify it both ways.
        let raw = RsaScheme::Pkcs1(None);
        for (hash, prefix) in DIGEST_INFO {
            let digest = hash.hash(b"info");
            let info = [prefix, &digest[..]].concat();
            assert_eq!(
                as_hashed(raw, &info),
                (RsaScheme::Pkcs1(Some(hash)), &digest[..])
            );
            let (by_aws, on_aws) = served(|| AwsLc.rsa_sign(private, raw, &info).unwrap());
            assert!(on_aws, "{hash:?}");
            assert_eq!(by_aws, RustCrypto.rsa_sign(private, raw, &info).unwrap());
            let hashed = RsaScheme::Pkcs1(Some(hash));
            assert_eq!(
                by_aws,
                RustCrypto.rsa_sign(private, hashed, &digest).unwrap()
            );
            assert_eq!(RustCrypto.rsa_verify(public, raw, &info, &by_aws), Ok(()));
            let checked = served(|| AwsLc.rsa_verify(public, raw, &info, &by_aws));
            assert_eq!(checked, (Ok(()), true), "{hash:?}");
            let mut other = info.clone();
            other[prefix.len()] ^= 1;
            assert_eq!(
                AwsLc.rsa_verify(public, raw, &other, &by_aws),
                Err(Error::SignatureInvalid)
            );
        }
        // A truncated digest is not a DigestInfo of that hash.
        let short = [DIGEST_INFO[0].1, &[7u8; 31][..]].concat();
        assert_eq!(as_hashed(raw, &short), (raw, &short[..]));
        // Raw CKM_RSA_PKCS over other data (RustCrypto only).
        let (sig, on_aws) = served(|| AwsLc.rsa_sign(private, raw, b"any DigestInfo").unwrap());
        assert!(!on_aws);
        assert_eq!(
            RustCrypto.rsa_verify(public, raw, b"any DigestInfo", &sig),
            Ok(())
        );
        // PSS salt lengths must match on both sides.
        let sig = AwsLc
            .rsa_sign(
                private,
                pss(HashAlg::Sha256, 32),
                &HashAlg::Sha256.hash(b"m"),
            )
            .unwrap();
        assert_eq!(
            RustCrypto.rsa_verify(
                public,
                pss(HashAlg::Sha256, 20),
                &HashAlg::Sha256.hash(b"m"),
                &sig
            ),
            Err(Error::SignatureInvalid)
        );
    }

    /// RustCrypto's OAEP encryption (what rsa_crypt.rs encrypts with).
    #[cfg(not(feature = "fips"))]
    fn rc_oaep_encrypt(hash: HashAlg, key: &RsaPublicKey, label: &[u8], msg: &[u8]) -> Vec<u8> {
        use rsa::Oaep;
        use rsa::traits::PaddingScheme;
        let mut rng = getrandom::SysRng;
        match hash {
            HashAlg::Sha1 => Oaep::<sha1::Sha1>::new_with_label(label).encrypt(&mut rng, key, msg),
            HashAlg::Sha224 => {
                Oaep::<sha2::Sha224>::new_with_label(label).encrypt(&mut rng, key, msg)
            }
            HashAlg::Sha256 => {
                Oaep::<sha2::Sha256>::new_with_label(label).encrypt(&mut rng, key, msg)
            }
            HashAlg::Sha384 => {
                Oaep::<sha2::Sha384>::new_with_label(label).encrypt(&mut rng, key, msg)
            }
            HashAlg::Sha512 => {
                Oaep::<sha2::Sha512>::new_with_label(label).encrypt(&mut rng, key, msg)
            }
            _ => panic!("no OAEP with {hash:?}"),
        }
        .unwrap()
    }

    /// An OAEP ciphertext made by RustCrypto decrypts under aws-lc (and
    /// under RustCrypto), for every OAEP hash; a wrong label fails cleanly.
    #[cfg(not(feature = "fips"))] // the fallbacks refuse there: see fips_refuses_every_fallback
    #[test]
    fn oaep_from_rustcrypto_decrypts_under_aws_lc() {
        let (private, public) = rsa_parts(rsa_keys());
        let msg = b"thirty-two bytes of key material";
        let label = b"label";
        let hashes = [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ];
        let cases = hashes.map(|h| (h, rc_oaep_encrypt(h, public, label, msg)));
        for (hash, ct) in cases {
            let (plain, on_aws) =
                served(|| AwsLc.rsa_oaep_decrypt(private, hash, label, &ct).unwrap());
            assert_eq!(&plain[..], &msg[..], "{hash:?}");
            // aws-lc-rs has no OAEP with SHA-224.
            assert_eq!(on_aws, hash != HashAlg::Sha224, "{hash:?}");
            assert_eq!(
                &RustCrypto
                    .rsa_oaep_decrypt(private, hash, label, &ct)
                    .unwrap()[..],
                &msg[..]
            );
            assert_eq!(
                AwsLc.rsa_oaep_decrypt(private, hash, b"other", &ct),
                Err(Error::EncryptedDataInvalid)
            );
        }
    }

    /// A 1024-bit key (importable, below aws-lc-rs's 2048) is never
    /// handed to aws-lc: every operation falls back and still works.
    #[cfg(not(feature = "fips"))] // the fallbacks refuse there: see fips_refuses_every_fallback
    #[test]
    fn small_rsa_keys_fall_back() {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let private = Cached::new(key.clone());
        let public = Cached::new(key.to_public_key());
        let scheme = RsaScheme::Pkcs1(Some(HashAlg::Sha256));
        let digest = HashAlg::Sha256.hash(b"small");
        let (sig, on_aws) = served(|| AwsLc.rsa_sign(&private, scheme, &digest).unwrap());
        assert!(!on_aws);
        assert_eq!(sig.len(), 128);
        assert_eq!(AwsLc.rsa_verify(&public, scheme, &digest, &sig), Ok(()));
        let ct = rc_oaep_encrypt(HashAlg::Sha256, &public, b"", b"m");
        assert_eq!(
            &AwsLc
                .rsa_oaep_decrypt(&private, HashAlg::Sha256, b"", &ct)
                .unwrap()[..],
            b"m"
        );
        assert!(private.aws_lc(|_| None).is_none());
        assert!(public.aws_lc(|_| None).is_none());
    }

    /// The aws-lc key is built once per `Key` and reused; a clone of the
    /// key starts with an empty cache and builds its own.
    #[test]
    fn parsed_key_is_built_once_per_key() {
        let (private, public) = ec_pair(Curve::P256);
        let z = z_for(Curve::P256, b"once");
        let before = built_in_this_thread();
        for _ in 0..3 {
            let sig = AwsLc.ecdsa_sign(&private, &z).unwrap();
            assert_eq!(AwsLc.ecdsa_verify(&public, &z, &sig), Ok(()));
        }
        assert_eq!(built_in_this_thread(), before + 2);
        let copy = private.clone();
        AwsLc.ecdsa_sign(&copy, &z).unwrap();
        assert_eq!(built_in_this_thread(), before + 3);
        assert_eq!(format!("{copy:?}"), "Cached(<redacted>)");
    }

    /// Through the mechanism layer: operations started on one `Arc<Key>`
    /// (what the token's key cache hands every C_SignInit) share its
    /// parsed form, so aws-lc parses a key once, not once per operation.
    #[test]
    fn operations_on_one_key_share_its_parsed_form() {
        use crate::mechanism::{Mechanism, sign_init};
        let key = Arc::new(Key::ec_private(&Curve::P384.ec_params(), &[0x22u8; 48]).unwrap());
        let mech = Mechanism::parse(cryptoki_sys::CKM_ECDSA_SHA384, None).unwrap();
        let before = built_in_this_thread();
        for _ in 0..4 {
            let mut op = sign_init(&mech, Arc::clone(&key)).unwrap();
            op.update(b"data").unwrap();
            assert_eq!(op.finish().unwrap().len(), 96);
        }
        assert_eq!(built_in_this_thread(), before + 1);
    }

    /// The FIPS build never runs a primitive outside AWS-LC: each shape
    /// the other aws-lc builds hand to RustCrypto is refused instead.
    #[cfg(feature = "fips")]
    #[test]
    fn fips_refuses_every_fallback() {
        let refused = Err(Error::FunctionFailed);
        let (private, public) = ec_pair(Curve::P521);
        let mut z = vec![0xa5u8; 66];
        z[0] = 0x01;
        assert_eq!(AwsLc.ecdsa_sign(&private, &z), refused);
        assert_eq!(
            AwsLc.ecdsa_verify(&public, &z, &[0u8; 132]),
            refused.clone().map(|_: Vec<u8>| ())
        );
        let (private, public) = rsa_parts(rsa_keys());
        let sha224 = RsaScheme::Pkcs1(Some(HashAlg::Sha224));
        let digest = HashAlg::Sha224.hash(b"x");
        assert_eq!(AwsLc.rsa_sign(private, sha224, &digest), refused);
        assert_eq!(
            AwsLc.rsa_verify(public, sha224, &digest, &[0u8; 256]),
            Err(Error::FunctionFailed)
        );
        assert_eq!(
            AwsLc
                .rsa_oaep_decrypt(private, HashAlg::Sha224, b"", &[0u8; 256])
                .map(|p| p.to_vec()),
            refused
        );
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let small = Cached::new(RsaPrivateKey::new(&mut rng, 1024).unwrap());
        let sha256 = RsaScheme::Pkcs1(Some(HashAlg::Sha256));
        assert_eq!(
            AwsLc.rsa_sign(&small, sha256, &HashAlg::Sha256.hash(b"x")),
            refused
        );
    }

    #[test]
    fn the_feature_selects_aws_lc() {
        assert_eq!(crate::mechanism::provider::active_name(), "aws-lc");
    }
}
