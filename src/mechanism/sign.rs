//! Sign and verify operations: the traits sessions drive, and the dispatch
//! from a mechanism and a key to the HMAC, ECDSA or RSA implementation.

use std::sync::Arc;

use cryptoki_sys::*;

use super::digest::{DigestOp, HashAlg};
use super::ec::{EcdsaSign, EcdsaVerify};
use super::hmac::HmacOp;
use super::keys::Key;
use super::rsa::{RsaScheme, RsaSign, RsaVerify};
use super::schedule::Schedules;
use super::state::{InputState, Resumable, SavedSig};
use super::{MechInfo, Mechanism, Params, info, registry};
use crate::error::{Error, Result};

/// A signing (or MAC) operation in progress. `finish` ends it; `sign_len`
/// is the exact output length, so callers can answer length queries
/// without finishing.
pub trait SignOp: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    fn sign_len(&self) -> usize;

    /// `finish` into the caller's buffer, which holds at least
    /// `sign_len()` bytes; returns the length written. The default goes
    /// through `finish`; MACs override it to make the tag on the stack.
    fn finish_into(&mut self, out: &mut [u8]) -> Result<usize> {
        let sig = self.finish()?;
        let dst = out.get_mut(..sig.len()).ok_or(Error::GeneralError)?;
        dst.copy_from_slice(&sig);
        Ok(sig.len())
    }

    /// What C_GetOperationState saves; operations that cannot be resumed
    /// (MACs, whose state is key material, and buffered EdDSA) refuse.
    fn save(&self) -> Result<SavedSig> {
        Err(Error::StateUnsaveable)
    }
}

/// A verification in progress. `finish` ends it: Ok, SignatureInvalid or
/// SignatureLenRange (or DataLenRange for raw mechanisms).
pub trait VerifyOp: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self, signature: &[u8]) -> Result<()>;

    /// As [`SignOp::save`].
    fn save(&self) -> Result<SavedSig> {
        Err(Error::StateUnsaveable)
    }
}

/// The input of a signature: hashed as it arrives, or buffered whole for
/// raw mechanisms (the caller decides whether several parts are allowed).
/// The FIPS build buffers the message of hashed mechanisms too: the
/// approved service is aws-lc's message signing, which hashes inside the
/// module (`message_hash` tells the family to sign the message).
pub(super) struct Input {
    hash: Option<HashAlg>,
    hasher: Option<Box<dyn DigestOp>>,
    buf: Vec<u8>,
    done: bool,
}

impl Input {
    pub(super) fn new(hash: Option<HashAlg>) -> Input {
        Input {
            hash,
            hasher: if super::provider::FIPS {
                None
            } else {
                hash.map(HashAlg::hasher)
            },
            buf: Vec::new(),
            done: false,
        }
    }

    /// What has been absorbed so far, for C_GetOperationState.
    pub(super) fn save(&self) -> Result<InputState> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        match &self.hasher {
            Some(h) => h.save().map(InputState::Hash),
            None => Ok(InputState::Buffer(zeroize::Zeroizing::new(
                self.buf.clone(),
            ))),
        }
    }

    /// Takes over a saved input; it must be of this mechanism's kind.
    pub(super) fn restore(&mut self, state: &InputState) -> Result<()> {
        match (self.hash, state) {
            (Some(alg), InputState::Hash(h)) if h.alg == alg => {
                self.hasher = Some(alg.restore(&h.bytes)?);
            }
            (None, InputState::Buffer(data)) => self.buf = data.to_vec(),
            (Some(_), InputState::Buffer(data)) if self.hasher.is_none() => {
                self.buf = data.to_vec();
            }
            _ => return Err(Error::SavedStateInvalid),
        }
        Ok(())
    }

    pub(super) fn update(&mut self, data: &[u8]) -> Result<()> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        match &mut self.hasher {
            Some(h) => h.update(data),
            None => {
                // A message buffered whole (raw mechanisms, FIPS message
                // signing) grows with the caller's input: refuse cleanly
                // rather than abort the host when memory runs out.
                self.buf
                    .try_reserve(data.len())
                    .map_err(|_| Error::HostMemory)?;
                self.buf.extend_from_slice(data);
            }
        }
        Ok(())
    }

    /// The hash a family must apply inside the provider's message signing
    /// (the FIPS build's hashed mechanisms): `take` then returns the
    /// message, not its digest. None when `take` returns a digest or the
    /// caller's raw input.
    pub(super) fn message_hash(&self) -> Option<HashAlg> {
        if self.hasher.is_none() {
            self.hash
        } else {
            None
        }
    }

    /// The hash, or the raw data; only once.
    pub(super) fn take(&mut self) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        self.done = true;
        Ok(match &mut self.hasher {
            Some(h) => h.finish(),
            None => std::mem::take(&mut self.buf),
        })
    }
}

/// The families of signature mechanisms, with the digest the mechanism
/// applies to the input (None: the caller supplies the hash/DigestInfo).
enum Kind {
    Hmac { hash: HashAlg, general: bool },
    Ecdsa(Option<HashAlg>),
    RsaPkcs1(Option<HashAlg>),
    RsaPss(Option<HashAlg>),
}

fn kind(mech: CK_MECHANISM_TYPE) -> Result<Kind> {
    use HashAlg::*;
    if let Some((hash, general)) = HashAlg::from_hmac_mech(mech) {
        return Ok(Kind::Hmac { hash, general });
    }
    Ok(match mech {
        CKM_ECDSA => Kind::Ecdsa(None),
        CKM_ECDSA_SHA1 => Kind::Ecdsa(Some(Sha1)),
        CKM_ECDSA_SHA224 => Kind::Ecdsa(Some(Sha224)),
        CKM_ECDSA_SHA256 => Kind::Ecdsa(Some(Sha256)),
        CKM_ECDSA_SHA384 => Kind::Ecdsa(Some(Sha384)),
        CKM_ECDSA_SHA512 => Kind::Ecdsa(Some(Sha512)),
        CKM_ECDSA_SHA3_224 => Kind::Ecdsa(Some(Sha3_224)),
        CKM_ECDSA_SHA3_256 => Kind::Ecdsa(Some(Sha3_256)),
        CKM_ECDSA_SHA3_384 => Kind::Ecdsa(Some(Sha3_384)),
        CKM_ECDSA_SHA3_512 => Kind::Ecdsa(Some(Sha3_512)),
        CKM_RSA_PKCS => Kind::RsaPkcs1(None),
        CKM_SHA1_RSA_PKCS => Kind::RsaPkcs1(Some(Sha1)),
        CKM_SHA224_RSA_PKCS => Kind::RsaPkcs1(Some(Sha224)),
        CKM_SHA256_RSA_PKCS => Kind::RsaPkcs1(Some(Sha256)),
        CKM_SHA384_RSA_PKCS => Kind::RsaPkcs1(Some(Sha384)),
        CKM_SHA512_RSA_PKCS => Kind::RsaPkcs1(Some(Sha512)),
        CKM_SHA3_224_RSA_PKCS => Kind::RsaPkcs1(Some(Sha3_224)),
        CKM_SHA3_256_RSA_PKCS => Kind::RsaPkcs1(Some(Sha3_256)),
        CKM_SHA3_384_RSA_PKCS => Kind::RsaPkcs1(Some(Sha3_384)),
        CKM_SHA3_512_RSA_PKCS => Kind::RsaPkcs1(Some(Sha3_512)),
        CKM_RSA_PKCS_PSS => Kind::RsaPss(None),
        CKM_SHA1_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha1)),
        CKM_SHA224_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha224)),
        CKM_SHA256_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha256)),
        CKM_SHA384_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha384)),
        CKM_SHA512_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha512)),
        CKM_SHA3_224_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha3_224)),
        CKM_SHA3_256_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha3_256)),
        CKM_SHA3_384_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha3_384)),
        CKM_SHA3_512_RSA_PKCS_PSS => Kind::RsaPss(Some(Sha3_512)),
        _ => return Err(Error::MechanismInvalid),
    })
}

/// The table row, which must claim `flag`.
fn row(mech: &Mechanism, flag: CK_FLAGS) -> Result<MechInfo> {
    let row = info(mech.mech)?;
    if row.flags & flag == 0 {
        return Err(Error::MechanismInvalid);
    }
    Ok(row)
}

fn check_size(row: &MechInfo, key: &Key) -> Result<()> {
    if row.key_size_ok(key.bits()) {
        Ok(())
    } else {
        Err(Error::KeySizeRange)
    }
}

/// An HMAC key: a generic secret, or a secret typed for this very hash;
/// with its cached schedules.
fn hmac_key(key: &Key, hash: HashAlg) -> Result<(&[u8], &Schedules)> {
    let typed = hash.hmac_key_type();
    match key {
        Key::Secret {
            key_type,
            value,
            sched,
        } if *key_type == CKK_GENERIC_SECRET || *key_type == typed => Ok((value, sched)),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn hmac_op(
    mech: &Mechanism,
    row: &MechInfo,
    key: &Key,
    hash: HashAlg,
    general: bool,
) -> Result<HmacOp> {
    let (value, sched) = hmac_key(key, hash)?;
    check_size(row, key)?;
    let out_len = match (&mech.params, general) {
        (Params::MacLen(n), true) => *n,
        (Params::None, false) => hash.output_len(),
        _ => return Err(Error::MechanismParamInvalid),
    };
    // The padded-key state is made once per key, then copied per init.
    let state = sched.hmac(hash, value)?.clone();
    super::hmac::hmac_op_with(hash, state, out_len)
}

/// The RSA padding scheme of a PKCS#1 or PSS mechanism.
fn rsa_scheme(mech: &Mechanism, kind: &Kind) -> Result<RsaScheme> {
    match (kind, &mech.params) {
        (Kind::RsaPkcs1(hash), Params::None) => Ok(RsaScheme::Pkcs1(*hash)),
        (Kind::RsaPss(_), Params::Pss { hash, salt_len, .. }) => Ok(RsaScheme::Pss {
            hash: HashAlg::from_digest_mech(*hash).ok_or(Error::MechanismParamInvalid)?,
            salt_len: *salt_len,
        }),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn prehash(kind: &Kind) -> Option<HashAlg> {
    match kind {
        Kind::Ecdsa(h) | Kind::RsaPkcs1(h) | Kind::RsaPss(h) => *h,
        Kind::Hmac { .. } => None,
    }
}

/// Starts a signature or MAC through the registry (CKR_MECHANISM_INVALID
/// unless the mechanism is offered with CKF_SIGN). KeyTypeInconsistent if
/// the key does not fit the mechanism (EC/RSA need a private key),
/// KeySizeRange outside the offered range.
pub fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    registry::family(mech.mech, CKF_SIGN)?.sign(mech, key, None)
}

/// A signature rebuilt from a saved state (C_SetOperationState): the same
/// checks as [`sign_init`], then the saved input is taken over.
pub fn sign_resume(mech: &Mechanism, key: Arc<Key>, input: &InputState) -> Result<Box<dyn SignOp>> {
    registry::family(mech.mech, CKF_SIGN)?.sign(mech, key, Some(input))
}

/// Mechanisms whose operations are not resumable get no saved input.
fn not_resumed(input: Option<&InputState>) -> Result<()> {
    match input {
        Some(_) => Err(Error::SavedStateInvalid),
        None => Ok(()),
    }
}

/// The HMAC, ECDSA and RSA signature family's constructor
/// (`families::Signatures`).
pub(super) fn sign_build(
    mech: &Mechanism,
    key: Arc<Key>,
    input: Option<&InputState>,
) -> Result<Box<dyn SignOp>> {
    let row = row(mech, CKF_SIGN)?;
    let kind = kind(mech.mech)?;
    match kind {
        Kind::Hmac { hash, general } => {
            not_resumed(input)?;
            Ok(Box::new(hmac_op(mech, &row, &key, hash, general)?))
        }
        Kind::Ecdsa(hash) => {
            if !matches!(*key, Key::EcPrivate { .. }) {
                return Err(Error::KeyTypeInconsistent);
            }
            check_size(&row, &key)?;
            let op = EcdsaSign::new(key.clone(), hash)?;
            Ok(Box::new(Resumable::new(mech, key, op, input)?))
        }
        Kind::RsaPkcs1(_) | Kind::RsaPss(_) => {
            if !matches!(*key, Key::RsaPrivate(_)) {
                return Err(Error::KeyTypeInconsistent);
            }
            registry::check_rsa_size(row.mech, key.bits(), false)?;
            let scheme = rsa_scheme(mech, &kind)?;
            let op = RsaSign::new(key.clone(), scheme, prehash(&kind))?;
            Ok(Box::new(Resumable::new(mech, key, op, input)?))
        }
    }
}

/// Starts a verification through the registry. HMAC takes the secret
/// key; EC and RSA take public keys only (KeyTypeInconsistent otherwise).
pub fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    registry::family(mech.mech, CKF_VERIFY)?.verify(mech, key, None)
}

/// As [`sign_resume`], for a verification.
pub fn verify_resume(
    mech: &Mechanism,
    key: Arc<Key>,
    input: &InputState,
) -> Result<Box<dyn VerifyOp>> {
    registry::family(mech.mech, CKF_VERIFY)?.verify(mech, key, Some(input))
}

/// The verification constructor of `families::Signatures`.
pub(super) fn verify_build(
    mech: &Mechanism,
    key: Arc<Key>,
    input: Option<&InputState>,
) -> Result<Box<dyn VerifyOp>> {
    let row = row(mech, CKF_VERIFY)?;
    let kind = kind(mech.mech)?;
    match kind {
        Kind::Hmac { hash, general } => {
            not_resumed(input)?;
            Ok(Box::new(hmac_op(mech, &row, &key, hash, general)?))
        }
        Kind::Ecdsa(hash) => {
            if !matches!(*key, Key::EcPublic { .. }) {
                return Err(Error::KeyTypeInconsistent);
            }
            check_size(&row, &key)?;
            let op = EcdsaVerify::new(key.clone(), hash)?;
            Ok(Box::new(Resumable::new(mech, key, op, input)?))
        }
        Kind::RsaPkcs1(_) | Kind::RsaPss(_) => {
            if !matches!(*key, Key::RsaPublic(_)) {
                return Err(Error::KeyTypeInconsistent);
            }
            // Down to `min_rsa_verify_bits`: the row's own floor.
            registry::check_rsa_size(row.mech, key.bits(), true)?;
            let scheme = rsa_scheme(mech, &kind)?;
            let op = RsaVerify::new(key.clone(), scheme, prehash(&kind))?;
            Ok(Box::new(Resumable::new(mech, key, op, input)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::is_multipart;
    use crate::mechanism::{Curve, generate_ec};
    use crate::test_util::unhex;

    fn ec_pair(curve: Curve) -> (Arc<Key>, Arc<Key>) {
        let parts = generate_ec(&curve.ec_params()).unwrap();
        let private = Key::ec_private(&parts.ec_params, &parts.private_value).unwrap();
        let public = Key::ec_public(&parts.ec_params, &parts.ec_point_der).unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn mech(m: CK_MECHANISM_TYPE) -> Mechanism {
        Mechanism::parse(m, None).unwrap()
    }

    fn sign(m: CK_MECHANISM_TYPE, key: &Arc<Key>, parts: &[&[u8]]) -> Vec<u8> {
        let mut op = sign_init(&mech(m), key.clone()).unwrap();
        for p in parts {
            op.update(p).unwrap();
        }
        let sig = op.finish().unwrap();
        assert_eq!(sig.len(), op.sign_len());
        sig
    }

    fn verify(m: CK_MECHANISM_TYPE, key: &Arc<Key>, data: &[u8], sig: &[u8]) -> Result<()> {
        let mut op = verify_init(&mech(m), key.clone())?;
        op.update(data)?;
        op.finish(sig)
    }

    #[test]
    fn ecdsa_round_trip_and_tamper() {
        for curve in [Curve::P256, Curve::P384] {
            let (private, public) = ec_pair(curve);
            let sig = sign(CKM_ECDSA_SHA256, &private, &[b"hello ", b"world"]);
            assert_eq!(sig.len(), 2 * curve.field_bytes());
            assert_eq!(
                verify(CKM_ECDSA_SHA256, &public, b"hello world", &sig),
                Ok(())
            );
            // Raw CKM_ECDSA over the same hash verifies the same signature.
            let hash = HashAlg::Sha256.hash(b"hello world");
            assert_eq!(verify(CKM_ECDSA, &public, &hash, &sig), Ok(()));
            let mut bad = sig.clone();
            bad[3] ^= 0x40;
            assert_eq!(
                verify(CKM_ECDSA_SHA256, &public, b"hello world", &bad),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify(CKM_ECDSA_SHA256, &public, b"hello world!", &sig),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify(CKM_ECDSA_SHA256, &public, b"hello world", &sig[1..]),
                Err(Error::SignatureLenRange)
            );
            assert_eq!(
                verify(CKM_ECDSA_SHA256, &public, b"x", &vec![0; sig.len()]),
                Err(Error::SignatureInvalid)
            );
        }
    }

    /// RFC 6979 A.2.5 (P-256): "sample" with SHA-256, and a SHA-384 digest
    /// of "test" signed raw (so truncated to the field size).
    #[test]
    fn ecdsa_p256_known_answers() {
        let x = unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        let private = Key::ec_private(&Curve::P256.ec_params(), &x).unwrap();
        let public = Arc::new(private.to_public().unwrap());
        let sample = unhex(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716
             f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        );
        assert_eq!(
            verify(CKM_ECDSA_SHA256, &public, b"sample", &sample),
            Ok(())
        );
        let test384 = unhex(
            "ebde85f1539af67e70dd7a8a6afeeb332aa7f08f01ebb6ab6e04e2a62d2fef75
             871af45800daddf55619b005a601a7a84f544260f1d2625b2ef5aa7a4f4dd76f",
        );
        let digest = HashAlg::Sha384.hash(b"test");
        assert_eq!(verify(CKM_ECDSA, &public, &digest, &test384), Ok(()));
        assert_eq!(verify(CKM_ECDSA_SHA384, &public, b"test", &test384), Ok(()));
    }

    #[test]
    fn raw_ecdsa_pads_short_and_truncates_long_hashes() {
        let (private, public) = ec_pair(Curve::P256);
        let short = [0x5au8; 20];
        let sig = sign(CKM_ECDSA, &private, &[&short]);
        let mut padded = vec![0u8; 12];
        padded.extend_from_slice(&short);
        assert_eq!(verify(CKM_ECDSA, &public, &padded, &sig), Ok(()));
        let long = HashAlg::Sha512.hash(b"m");
        let sig = sign(CKM_ECDSA, &private, &[&long]);
        assert_eq!(verify(CKM_ECDSA, &public, &long[..32], &sig), Ok(()));
        assert_eq!(verify(CKM_ECDSA_SHA512, &public, b"m", &sig), Ok(()));
    }

    #[test]
    fn key_type_checks() {
        let (private, public) = ec_pair(Curve::P256);
        let secret = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[1; 32]).unwrap());
        let aes = Arc::new(Key::secret(CKK_AES, &[1; 32]).unwrap());
        let inconsistent = |r: Result<Box<dyn SignOp>>| r.err() == Some(Error::KeyTypeInconsistent);
        assert!(inconsistent(sign_init(&mech(CKM_ECDSA), public.clone())));
        assert!(inconsistent(sign_init(&mech(CKM_ECDSA), secret.clone())));
        assert!(inconsistent(sign_init(
            &mech(CKM_SHA256_RSA_PKCS),
            private.clone()
        )));
        assert!(inconsistent(sign_init(
            &mech(CKM_SHA256_HMAC),
            private.clone()
        )));
        assert!(inconsistent(sign_init(&mech(CKM_SHA256_HMAC), aes)));
        let typed = Arc::new(Key::secret(CKK_SHA384_HMAC, &[1; 32]).unwrap());
        assert!(inconsistent(sign_init(
            &mech(CKM_SHA256_HMAC),
            typed.clone()
        )));
        assert!(sign_init(&mech(CKM_SHA384_HMAC), typed).is_ok());
        assert_eq!(
            verify_init(&mech(CKM_ECDSA), private).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert!(verify_init(&mech(CKM_SHA256_HMAC), secret.clone()).is_ok());
        assert_eq!(
            sign_init(&mech(CKM_SHA256), secret).err(),
            Some(Error::MechanismInvalid)
        );
    }

    #[test]
    fn hmac_through_dispatch() {
        let key = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[0x0b; 20]).unwrap());
        let sig = sign(CKM_SHA256_HMAC, &key, &[b"Hi There"]);
        assert_eq!(sig[..4], [0xb0, 0x34, 0x4c, 0x61]);
        assert_eq!(verify(CKM_SHA256_HMAC, &key, b"Hi There", &sig), Ok(()));
        let general =
            Mechanism::parse(CKM_SHA256_HMAC_GENERAL, Some(&12u64.to_ne_bytes())).unwrap();
        let mut op = sign_init(&general, key.clone()).unwrap();
        assert_eq!(op.sign_len(), 12);
        op.update(b"Hi There").unwrap();
        assert_eq!(op.finish().unwrap(), sig[..12]);
        let big = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[1; 600]).unwrap());
        assert_eq!(
            sign_init(&mech(CKM_SHA256_HMAC), big).err(),
            Some(Error::KeySizeRange)
        );
    }

    #[test]
    fn multipart_flags() {
        assert!(!is_multipart(CKM_ECDSA));
        assert!(!is_multipart(CKM_RSA_PKCS));
        assert!(!is_multipart(CKM_RSA_PKCS_PSS));
        assert!(is_multipart(CKM_ECDSA_SHA256));
        assert!(is_multipart(CKM_SHA256_HMAC));
    }

    #[test]
    fn finished_operation_is_spent() {
        let (private, _) = ec_pair(Curve::P256);
        let mut op = sign_init(&mech(CKM_ECDSA_SHA256), private).unwrap();
        op.finish().unwrap();
        assert_eq!(op.update(b"x").err(), Some(Error::OperationNotInitialized));
        assert_eq!(op.finish().err(), Some(Error::OperationNotInitialized));
    }

    #[test]
    fn ecdsa_sha3_round_trip() {
        let mechs = [
            (CKM_ECDSA_SHA3_224, HashAlg::Sha3_224),
            (CKM_ECDSA_SHA3_256, HashAlg::Sha3_256),
            (CKM_ECDSA_SHA3_384, HashAlg::Sha3_384),
            (CKM_ECDSA_SHA3_512, HashAlg::Sha3_512),
        ];
        for curve in [Curve::P256, Curve::P384] {
            let (private, public) = ec_pair(curve);
            for (m, hash) in mechs {
                let sig = sign(m, &private, &[b"hello ", b"sha3"]);
                assert_eq!(verify(m, &public, b"hello sha3", &sig), Ok(()));
                // The same signature over the SHA-3 hash with raw CKM_ECDSA.
                let digest = hash.hash(b"hello sha3");
                assert_eq!(verify(CKM_ECDSA, &public, &digest, &sig), Ok(()));
                assert_eq!(
                    verify(m, &public, b"hello sha2", &sig),
                    Err(Error::SignatureInvalid)
                );
                assert!(is_multipart(m));
            }
        }
    }

    /// A P-384 ECDSA-SHA3-384 signature of "sample" made by OpenSSL
    /// (through Python's `cryptography`), converted to r||s.
    #[test]
    fn ecdsa_sha3_interop() {
        let point = unhex(
            "044e15793b42319b73d3ebcc03ff14f5753aaa04758ecab2abca4b4f3529c4d378
             d3007b1a17c775f707e03876f57d3549f0c701fc0c1b3975e03edc90c3fa078e80
             b8141fe2acfbd1aeea7991e80bb6683be44058ad0265c7f22245545f8839f5",
        );
        let sig = unhex(
            "d9824205de91f9b403b588b8af628d3587169d0347bcd7c311df87e12c468500
             765c2bcaf1c611b1698c8e7f2f643540bde8d7f86c95286e4a1ee11e1d8c7461
             62e90dc9cb1ce526246b10ba55165a9abb84e91a3eaa69711e68a8af4e121e2d",
        );
        let public = Arc::new(Key::ec_public(&Curve::P384.ec_params(), &point).unwrap());
        assert_eq!(verify(CKM_ECDSA_SHA3_384, &public, b"sample", &sig), Ok(()));
        assert_eq!(
            verify(CKM_ECDSA_SHA384, &public, b"sample", &sig),
            Err(Error::SignatureInvalid)
        );
    }

    #[test]
    fn hmac_sha3_keys_and_lengths() {
        let typed = |key_type| Arc::new(Key::secret_unchecked(key_type, &[0x0b; 20]));
        let expected = unhex("ba85192310dffa96e2a3a40e69774351140bb7185e1202cdcc917589f95e16bb");
        for key in [typed(CKK_SHA3_256_HMAC), typed(CKK_GENERIC_SECRET)] {
            assert_eq!(sign(CKM_SHA3_256_HMAC, &key, &[b"Hi ", b"There"]), expected);
            assert_eq!(
                verify(CKM_SHA3_256_HMAC, &key, b"Hi There", &expected),
                Ok(())
            );
        }
        for wrong in [CKK_SHA256_HMAC, CKK_SHA3_384_HMAC] {
            assert_eq!(
                sign_init(&mech(CKM_SHA3_256_HMAC), typed(wrong)).err(),
                Some(Error::KeyTypeInconsistent)
            );
        }
        let general =
            Mechanism::parse(CKM_SHA3_256_HMAC_GENERAL, Some(&10u64.to_ne_bytes())).unwrap();
        let mut op = sign_init(&general, typed(CKK_SHA3_256_HMAC)).unwrap();
        op.update(b"Hi There").unwrap();
        assert_eq!(op.finish().unwrap(), expected[..10]);
        assert_eq!(
            Mechanism::parse(CKM_SHA3_256_HMAC_GENERAL, Some(&33u64.to_ne_bytes())).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert!(Mechanism::parse(CKM_SHA3_512_HMAC_GENERAL, Some(&64u64.to_ne_bytes())).is_ok());
    }
}
