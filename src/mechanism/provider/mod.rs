//! The crypto provider seam (issue 12): the asymmetric primitives the
//! ECDSA and RSA families call, behind one [`Provider`] interface. The
//! family code (ec.rs, rsa.rs, rsa_crypt.rs) keeps the PKCS#11 logic —
//! buffering and hashing of multi-part input, length rules, parameter
//! checks, hash normalization — and hands the provider only the finished
//! primitive: "sign this field-width integer", "pad and sign this digest",
//! "OAEP-decrypt these k bytes".
//!
//! Which provider runs is chosen at build time: RustCrypto by default, the
//! aws-lc-rs provider with the `aws-lc` cargo feature. One process, one
//! provider: a runtime switch would let two processes sharing a token run
//! different code for the same key, and the aws-lc build is the one whose
//! whole point is to run everywhere it can. The aws-lc provider falls back
//! to RustCrypto, per call, for the shapes aws-lc-rs's safe API cannot
//! express (see aws_lc.rs), so both builds offer the same mechanisms with
//! the same results.
//!
//! Keys: a provider may need its own parsed form of a key (aws-lc's
//! `EVP_PKEY`). It is built on first use and cached with the key in a
//! [`Cached`] wrapper, the way schedule.rs caches AES round keys on a
//! `Key::Secret`: it lives and dies with the `Key`, a cloned `Key` starts
//! empty, and `Debug` never shows it.

use std::ops::Deref;

use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::ec::{EcSigningKey, EcVerifyingKey};
use super::rsa::RsaScheme;
use crate::error::{Error, Result};
use rsa::{RsaPrivateKey, RsaPublicKey};

#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod aws_lc;
pub mod generation;
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod generation_aws_lc;
pub(in crate::mechanism) mod rustcrypto;
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod symmetric;
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod symmetric_aws_lc;

/// The primitives a crypto provider supplies. Inputs are already checked
/// by the family code; a provider only maps its own failures to `Error`.
pub(in crate::mechanism) trait Provider: Sync {
    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;

    /// ECDSA over `z`, the hash already normalized to the curve's field
    /// width (ec.rs `normalize_hash`); raw r||s, hedged randomness.
    fn ecdsa_sign(&self, key: &Cached<EcSigningKey>, z: &[u8]) -> Result<Vec<u8>>;

    /// Checks a raw r||s signature of the right length over `z`.
    fn ecdsa_verify(&self, key: &Cached<EcVerifyingKey>, z: &[u8], sig: &[u8]) -> Result<()>;

    /// RSA signature over `data`: the digest for hashed PKCS#1 and PSS
    /// schemes, the caller's DigestInfo for raw PKCS#1 (`Pkcs1(None)`).
    fn rsa_sign(
        &self,
        key: &Cached<RsaPrivateKey>,
        scheme: RsaScheme,
        data: &[u8],
    ) -> Result<Vec<u8>>;

    /// Checks a k-byte RSA signature over `data` (as for `rsa_sign`).
    fn rsa_verify(
        &self,
        key: &Cached<RsaPublicKey>,
        scheme: RsaScheme,
        data: &[u8],
        sig: &[u8],
    ) -> Result<()>;

    /// Hashed ECDSA over the whole message (`hash` applied inside the
    /// provider): the FIPS build's signing, since aws-lc-rs approves
    /// message signing and not the signing of a digest hashed outside it.
    /// The default hashes here and signs the digest.
    fn ecdsa_sign_message(
        &self,
        key: &Cached<EcSigningKey>,
        hash: HashAlg,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let z = super::ec::normalize_hash(&hash.hash(msg), key.curve());
        self.ecdsa_sign(key, &z)
    }

    /// As [`Provider::ecdsa_sign_message`], for verification.
    fn ecdsa_verify_message(
        &self,
        key: &Cached<EcVerifyingKey>,
        hash: HashAlg,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let z = super::ec::normalize_hash(&hash.hash(msg), key.curve());
        self.ecdsa_verify(key, &z, sig)
    }

    /// A hashed RSA scheme over the whole message (as
    /// [`Provider::ecdsa_sign_message`]); `scheme` names the hash.
    fn rsa_sign_message(
        &self,
        key: &Cached<RsaPrivateKey>,
        scheme: RsaScheme,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let hash = scheme.hash().ok_or(Error::MechanismInvalid)?;
        self.rsa_sign(key, scheme, &hash.hash(msg))
    }

    /// As [`Provider::rsa_sign_message`], for verification.
    fn rsa_verify_message(
        &self,
        key: &Cached<RsaPublicKey>,
        scheme: RsaScheme,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let hash = scheme.hash().ok_or(Error::MechanismInvalid)?;
        self.rsa_verify(key, scheme, &hash.hash(msg), sig)
    }

    /// RSA-OAEP (MGF1 with the same hash) decryption of a k-byte
    /// ciphertext; EncryptedDataInvalid when it does not decode.
    fn rsa_oaep_decrypt(
        &self,
        key: &Cached<RsaPrivateKey>,
        hash: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>>;
}

#[cfg(not(feature = "aws-lc"))]
static ACTIVE: rustcrypto::RustCrypto = rustcrypto::RustCrypto;
#[cfg(feature = "aws-lc")]
static ACTIVE: aws_lc::AwsLc = aws_lc::AwsLc;

/// The provider this build uses.
pub(in crate::mechanism) fn active() -> &'static dyn Provider {
    &ACTIVE
}

/// The name of this build's provider ("rustcrypto" or "aws-lc"), for
/// benchmarks and diagnostics.
pub fn active_name() -> &'static str {
    active().name()
}

#[cfg(all(test, feature = "aws-lc"))]
thread_local! {
    /// Operations this thread ran in aws-lc (not fallen back), counted by
    /// every aws-lc provider file, so tests can tell which provider
    /// served a shape (and the FIPS tests that nothing ran elsewhere).
    static SERVED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one operation served by aws-lc (tests only; nothing otherwise).
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) fn served_by_aws_lc() {
    #[cfg(test)]
    SERVED.with(|c| c.set(c.get().saturating_add(1)));
}

/// Operations this test thread ran in aws-lc so far.
#[cfg(all(test, feature = "aws-lc"))]
pub(in crate::mechanism) fn aws_lc_served_in_this_thread() -> usize {
    SERVED.with(std::cell::Cell::get)
}

/// True in the FIPS build (`--features fips`): the approved-only mode.
pub const FIPS: bool = cfg!(feature = "fips");

/// The one gate every per-call fallback from aws-lc to RustCrypto passes
/// (aws_lc.rs and the other aws-lc provider files). The FIPS build never
/// runs a primitive outside the validated module: its registry offers only
/// shapes aws-lc serves, so reaching a fallback there is a bug, answered
/// with CKR_FUNCTION_FAILED rather than silently unapproved crypto.
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) fn fallback_allowed() -> Result<()> {
    if FIPS {
        crate::error::cause::note(&"FIPS mode: this shape has no approved aws-lc service");
        Err(crate::error::Error::FunctionFailed)
    } else {
        Ok(())
    }
}

/// The FIPS build's start-up check: AWS-LC's module is in FIPS mode and
/// passed its power-on self-tests (aws-lc-rs runs them when it first
/// initializes). CKR_GENERAL_ERROR otherwise, with the cause in the trace:
/// the module must not serve anything. Always Ok in the other builds.
pub fn self_test() -> Result<()> {
    #[cfg(feature = "fips")]
    if let Err(e) = aws_lc_rs::try_fips_mode() {
        crate::error::cause::note(&format_args!("AWS-LC is not in FIPS mode: {e}"));
        return Err(Error::GeneralError);
    }
    Ok(())
}

/// What C_GetInfo's library description says of the build (32 bytes at
/// most): the FIPS build names its mode.
pub const LIBRARY_DESCRIPTION: &[u8] = if FIPS {
    b"Keyward soft HSM (FIPS mode)"
} else {
    b"Keyward PKCS#11 soft HSM"
};

/// The FIPS build's init-time check of a hashed ECDSA mechanism on a key
/// of `curve`: aws-lc-rs signs only some (curve, hash) pairings, and the
/// key's curve is its size, so another pairing answers CKR_KEY_SIZE_RANGE
/// at C_SignInit/C_VerifyInit rather than failing after the data. Every
/// pairing passes in the other builds.
pub(in crate::mechanism) fn check_ecdsa_pairing(
    curve: super::keys::Curve,
    hash: Option<HashAlg>,
    signing: bool,
) -> Result<()> {
    #[cfg(feature = "fips")]
    if let Some(hash) = hash
        && !aws_lc::ecdsa_pairing(curve, hash, signing)
    {
        crate::error::cause::note(&"FIPS mode: no approved ECDSA service for this curve and hash");
        return Err(Error::KeySizeRange);
    }
    let _ = (curve, hash, signing);
    Ok(())
}

/// As [`check_ecdsa_pairing`] for a hashed RSA scheme: in the FIPS build a
/// PSS salt length other than the hash length (aws-lc-rs's only one)
/// answers CKR_MECHANISM_PARAM_INVALID at init.
pub(in crate::mechanism) fn check_rsa_scheme(
    scheme: RsaScheme,
    prehash: Option<HashAlg>,
    signing: bool,
) -> Result<()> {
    #[cfg(feature = "fips")]
    if prehash.is_some() && !aws_lc::rsa_scheme(scheme, signing) {
        crate::error::cause::note(&"FIPS mode: no approved RSA service for these parameters");
        return Err(Error::MechanismParamInvalid);
    }
    let _ = (scheme, prehash, signing);
    Ok(())
}

/// A key as the RustCrypto crates hold it, plus the slot where another
/// provider keeps its parsed form of the same key. Derefs to the key, so
/// family code and the attribute layer use it as before.
pub struct Cached<T> {
    inner: T,
    /// aws-lc's form of the key (absent from the default build, where the
    /// RustCrypto key is the only form).
    #[cfg(feature = "aws-lc")]
    aws_lc: std::sync::OnceLock<Option<Box<aws_lc::Parsed>>>,
}

impl<T> Cached<T> {
    pub fn new(inner: T) -> Cached<T> {
        Cached {
            inner,
            #[cfg(feature = "aws-lc")]
            aws_lc: std::sync::OnceLock::new(),
        }
    }

    /// The aws-lc form of the key: built by `build` on first use (None
    /// when aws-lc cannot hold this key, e.g. RSA below 2048 bits: the
    /// answer is cached too, so a refused key is not parsed again).
    #[cfg(feature = "aws-lc")]
    pub(in crate::mechanism) fn aws_lc(
        &self,
        build: impl FnOnce(&T) -> Option<aws_lc::Parsed>,
    ) -> Option<&aws_lc::Parsed> {
        self.aws_lc
            .get_or_init(|| build(&self.inner).map(Box::new))
            .as_deref()
    }
}

impl<T> From<T> for Cached<T> {
    fn from(inner: T) -> Cached<T> {
        Cached::new(inner)
    }
}

impl<T> Deref for Cached<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

/// A clone starts with an empty cache (like a cloned key's schedules):
/// the provider's form is rebuilt on the clone's first use rather than
/// shared.
impl<T: Clone> Clone for Cached<T> {
    fn clone(&self) -> Cached<T> {
        Cached::new(self.inner.clone())
    }
}

impl<T: PartialEq> PartialEq for Cached<T> {
    fn eq(&self, other: &Cached<T>) -> bool {
        self.inner == other.inner
    }
}

impl<T: Eq> Eq for Cached<T> {}

/// Names the wrapper only: neither the key (a crate's `Debug` may show
/// more than we would) nor the provider's form of it.
impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cached(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One build, one provider: the feature decides which.
    #[test]
    fn the_build_selects_the_provider() {
        let expected = if cfg!(feature = "aws-lc") {
            "aws-lc"
        } else {
            "rustcrypto"
        };
        assert_eq!(active_name(), expected);
    }

    /// The seam's rule: the ECDSA and RSA family files keep the PKCS#11
    /// logic and call no signing, verification or OAEP-decryption
    /// primitive themselves (those live in the providers). A direct call
    /// reintroduced in a family file would bypass the aws-lc build.
    #[test]
    fn families_call_primitives_only_through_the_provider() {
        let families = [
            ("ec.rs", include_str!("../ec.rs")),
            ("rsa.rs", include_str!("../rsa.rs")),
            ("rsa_crypt.rs", include_str!("../rsa_crypt.rs")),
        ];
        let primitives = [
            "sign_prehash",
            "verify_prehash",
            "Pkcs1v15Sign",
            "Pss::",
            "Oaep::<D>::new_with_label(label).decrypt",
            "fn oaep_decrypt",
            "aws_lc_rs",
        ];
        for (file, text) in families {
            for primitive in primitives {
                assert!(
                    !text.contains(primitive),
                    "{file} calls {primitive} directly: go through provider::active()"
                );
            }
            assert!(text.contains("provider::active()"), "{file}");
        }
    }

    #[test]
    fn cached_debug_shows_nothing() {
        let key = Cached::new(String::from("secret"));
        assert_eq!(format!("{key:?}"), "Cached(<redacted>)");
        assert_eq!(*key.clone(), "secret");
    }
}
