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
use crate::error::Result;
use rsa::{RsaPrivateKey, RsaPublicKey};

#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod aws_lc;
pub mod generation;
#[cfg(feature = "aws-lc")]
pub(in crate::mechanism) mod generation_aws_lc;
pub(in crate::mechanism) mod rustcrypto;

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
