//! The aws-lc side of the symmetric seam (symmetric.rs): AES-GCM, AES
//! ECB/CBC/CTR, AES key wrap (KW, KWP), HMAC, CMAC and, in the FIPS build,
//! the SHA-1/2/3 digests, through aws-lc-rs's safe API only. The family
//! files keep the PKCS#11 logic (buffering, lengths, padding, parameter
//! checks); this file holds the keys in aws-lc's form and runs the
//! primitive.
//!
//! Fallback shapes (the family runs its RustCrypto code after
//! `fallback_allowed()?`, so the FIPS build refuses them):
//! - AES-GCM with an IV other than 12 bytes or a tag shorter than 16,
//!   and multi-part GCM encryption (C_EncryptUpdate streams ciphertext;
//!   aws-lc-rs's AEAD is one-shot). Multi-part GCM decryption buffers to
//!   `finish`, so it runs here.
//! - CKM_AES_KEY_WRAP with a caller IV, CKM_AES_KEY_WRAP_KWP with a
//!   caller prefix (aws-lc-rs wraps with the RFC defaults only), and key
//!   wrap under an AES-192 key (aws-lc-rs's key_wrap has AES-128/256).
//! - HMAC over SHA-3 (aws-lc-rs's hmac has SHA-1/2 only).
//! - The SHA3-224 digest in the FIPS build (aws-lc-rs's digest has no
//!   SHA3-224).
//! - AES modes the plain aws-lc build keeps on RustCrypto by measurement
//!   (symmetric.rs `mode_in_aws_lc`) are not fallbacks: that build's
//!   choice. The FIPS build routes every mode here.
//!
//! Secrets: aws-lc-rs copies the key into its own key objects, which
//! AWS-LC cleanses when it frees them (`OPENSSL_free`); the key-wrap key is
//! kept in `Zeroizing`. Nothing here prints a key: the `Debug` impls name
//! the type only.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{self, AesKek, KeyWrap, KeyWrapPadded};
use aws_lc_rs::{cmac, hmac};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::mechanism::digest::HashAlg;

/// AES block length.
const BLOCK: usize = 16;

/// Counts one operation served by aws-lc (provider/mod.rs keeps the
/// count every aws-lc file shares; tests only).
fn ran() {
    super::served_by_aws_lc();
}

/// Operations this test thread ran in aws-lc so far.
#[cfg(test)]
pub(in crate::mechanism) fn ran_in_this_thread() -> usize {
    super::aws_lc_served_in_this_thread()
}

/// AES-GCM with a 96-bit nonce and a 16-byte tag.
pub(in crate::mechanism) struct GcmKey(LessSafeKey);

impl GcmKey {
    /// None for a key length aws-lc-rs has no GCM for.
    pub(in crate::mechanism) fn new(key: &[u8]) -> Option<GcmKey> {
        let alg = match key.len() {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            32 => &aead::AES_256_GCM,
            _ => return None,
        };
        UnboundKey::new(alg, key)
            .ok()
            .map(|k| GcmKey(LessSafeKey::new(k)))
    }

    /// `out = E(input)` (as long as `input`), returning the tag.
    pub(in crate::mechanism) fn seal(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; BLOCK]> {
        let dst = out.get_mut(..input.len()).ok_or(Error::GeneralError)?;
        ran();
        let nonce = Nonce::assume_unique_for_key(*iv);
        // One pass from the caller's input to its output. (aws-lc-rs
        // documents no LessSafeKey sealing as FIPS-approved: GCM
        // encryption under a caller-chosen IV is not an approved service.)
        let mut tag = [0u8; BLOCK];
        self.0
            .seal_out_of_place_scatter(nonce, Aad::from(aad), input, dst, &[], &mut tag)
            .map_err(|_| Error::DataLenRange)?;
        Ok(tag)
    }

    /// `out = D(input)` if `tag` verifies; otherwise
    /// CKR_ENCRYPTED_DATA_INVALID with `out` left as it was. AWS-LC
    /// decrypts before it checks the tag (and then clears its output), so
    /// it works in a zeroizing scratch buffer and only a verified
    /// plaintext is copied out.
    pub(in crate::mechanism) fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
        tag: &[u8],
    ) -> Result<()> {
        let dst = out.get_mut(..input.len()).ok_or(Error::GeneralError)?;
        let mut scratch = Zeroizing::new(vec![0u8; input.len()]);
        ran();
        self.0
            .open_separate_gather(
                Nonce::assume_unique_for_key(*iv),
                Aad::from(aad),
                input,
                tag,
                &mut scratch,
            )
            .map_err(|_| Error::EncryptedDataInvalid)?;
        dst.copy_from_slice(&scratch);
        Ok(())
    }

    /// In place: `in_out` holds the ciphertext and becomes the plaintext
    /// if `tag` verifies (buffered multi-part decryption).
    pub(in crate::mechanism) fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        tag: &[u8],
        in_out: &mut [u8],
    ) -> Result<()> {
        ran();
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*iv),
                Aad::from(aad),
                tag,
                in_out,
            )
            .map(|_| ())
            .map_err(|_| Error::EncryptedDataInvalid)
    }
}

/// One AES key in aws-lc's forms for the block modes and the key wraps,
/// built once per key (symmetric.rs caches it with the key's schedules).
pub(in crate::mechanism) struct AesKeys {
    ecb_enc: EncryptingKey,
    ecb_dec: DecryptingKey,
    cbc_enc: EncryptingKey,
    cbc_dec: DecryptingKey,
    ctr: EncryptingKey,
    /// The key-wrap key's value (aws-lc-rs's `AesKek` is consumed by each
    /// wrap); None for AES-192, which aws-lc-rs's key wrap lacks.
    kek: Option<(&'static key_wrap::AesBlockCipher, Zeroizing<Vec<u8>>)>,
}

impl AesKeys {
    pub(in crate::mechanism) fn new(key: &[u8]) -> Result<AesKeys> {
        let alg = match key.len() {
            16 => &cipher::AES_128,
            24 => &cipher::AES_192,
            32 => &cipher::AES_256,
            _ => return Err(Error::KeySizeRange),
        };
        let unbound = || UnboundCipherKey::new(alg, key).map_err(|_| Error::KeySizeRange);
        let failed = |_| Error::FunctionFailed;
        let kek = match key.len() {
            16 => Some(&key_wrap::AES_128),
            32 => Some(&key_wrap::AES_256),
            _ => None,
        }
        .map(|c| (c, Zeroizing::new(key.to_vec())));
        Ok(AesKeys {
            ecb_enc: EncryptingKey::ecb(unbound()?).map_err(failed)?,
            ecb_dec: DecryptingKey::ecb(unbound()?).map_err(failed)?,
            cbc_enc: EncryptingKey::cbc(unbound()?).map_err(failed)?,
            cbc_dec: DecryptingKey::cbc(unbound()?).map_err(failed)?,
            ctr: EncryptingKey::ctr(unbound()?).map_err(failed)?,
            kek,
        })
    }

    /// ECB over whole blocks, in place.
    pub(in crate::mechanism) fn ecb(&self, encrypt: bool, data: &mut [u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        ran();
        let failed = |_| Error::GeneralError;
        if encrypt {
            self.ecb_enc
                .less_safe_encrypt(data, EncryptionContext::None)
                .map_err(failed)?;
        } else {
            self.ecb_dec
                .decrypt(data, DecryptionContext::None)
                .map_err(failed)?;
        }
        Ok(())
    }

    /// CBC over whole blocks, in place, from the chaining value `chain`,
    /// which becomes the last ciphertext block (the next call's IV).
    pub(in crate::mechanism) fn cbc(
        &self,
        encrypt: bool,
        chain: &mut [u8; BLOCK],
        data: &mut [u8],
    ) -> Result<()> {
        let Some(last_start) = data.len().checked_sub(BLOCK) else {
            return Ok(());
        };
        ran();
        let failed = |_| Error::GeneralError;
        let next: [u8; BLOCK] = if encrypt {
            self.cbc_enc
                .less_safe_encrypt(data, EncryptionContext::Iv128((*chain).into()))
                .map_err(failed)?;
            block_at(data, last_start)?
        } else {
            let next = block_at(data, last_start)?;
            self.cbc_dec
                .decrypt(data, DecryptionContext::Iv128((*chain).into()))
                .map_err(failed)?;
            next
        };
        *chain = next;
        Ok(())
    }

    /// CTR in place from the counter block `counter`, the counter counting
    /// over all 128 bits (the family refused runs that would carry past
    /// its counter width, so the blocks are the same).
    pub(in crate::mechanism) fn ctr(&self, counter: [u8; BLOCK], data: &mut [u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        ran();
        self.ctr
            .less_safe_encrypt(data, EncryptionContext::Iv128(counter.into()))
            .map(|_| ())
            .map_err(|_| Error::GeneralError)
    }

    /// A fresh aws-lc key-wrap key, or None (AES-192: fall back).
    fn kek(&self) -> Option<AesKek> {
        let (cipher, value) = self.kek.as_ref()?;
        AesKek::new(cipher, value).ok()
    }

    /// True when the key wraps run here (AES-128/256).
    pub(in crate::mechanism) fn wraps(&self) -> bool {
        self.kek.is_some()
    }

    /// RFC 3394 with the default IV over checked input.
    pub(in crate::mechanism) fn kw_wrap(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let kek = self.kek().ok_or(Error::GeneralError)?;
        let mut out = vec![0u8; plain.len().saturating_add(8)];
        ran();
        let n = kek
            .wrap(plain, &mut out)
            .map_err(|_| Error::DataLenRange)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// RFC 3394 unwrap with the default IV: EncryptedDataInvalid when the
    /// integrity check fails.
    pub(in crate::mechanism) fn kw_unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let kek = self.kek().ok_or(Error::GeneralError)?;
        let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
        ran();
        let n = kek
            .unwrap(wrapped, &mut out)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// RFC 5649 with the default prefix over checked input.
    pub(in crate::mechanism) fn kwp_wrap(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let kek = self.kek().ok_or(Error::GeneralError)?;
        let mut out = vec![0u8; plain.len().saturating_add(16)];
        ran();
        let n = kek
            .wrap_with_padding(plain, &mut out)
            .map_err(|_| Error::DataLenRange)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// RFC 5649 unwrap with the default prefix.
    pub(in crate::mechanism) fn kwp_unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let kek = self.kek().ok_or(Error::GeneralError)?;
        let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
        ran();
        let n = kek
            .unwrap_with_padding(wrapped, &mut out)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

fn block_at(data: &[u8], at: usize) -> Result<[u8; BLOCK]> {
    data.get(at..at.saturating_add(BLOCK))
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::GeneralError)
}

/// An HMAC in progress over SHA-1/2, the key's padded states absorbed.
#[derive(Clone)]
pub(in crate::mechanism) struct HmacState(hmac::Context);

impl HmacState {
    /// None for a hash aws-lc-rs has no HMAC for (SHA-3).
    pub(in crate::mechanism) fn new(hash: HashAlg, key: &[u8]) -> Option<HmacState> {
        let alg = match hash {
            HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => hmac::HMAC_SHA224,
            HashAlg::Sha256 => hmac::HMAC_SHA256,
            HashAlg::Sha384 => hmac::HMAC_SHA384,
            HashAlg::Sha512 => hmac::HMAC_SHA512,
            _ => return None,
        };
        Some(HmacState(hmac::Context::with_key(&hmac::Key::new(
            alg, key,
        ))))
    }

    pub(in crate::mechanism) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The full tag.
    pub(in crate::mechanism) fn finalize(self) -> hmac::Tag {
        ran();
        self.0.sign()
    }
}

/// A CMAC in progress (cipher and subkeys made once per key).
#[derive(Clone)]
pub(in crate::mechanism) struct CmacState(cmac::Context);

impl CmacState {
    pub(in crate::mechanism) fn new(key: &[u8]) -> Option<CmacState> {
        let alg = match key.len() {
            16 => cmac::AES_128,
            24 => cmac::AES_192,
            32 => cmac::AES_256,
            _ => return None,
        };
        let key = cmac::Key::new(alg, key).ok()?;
        Some(CmacState(cmac::Context::with_key(&key)))
    }

    /// False if AWS-LC failed (the MAC then fails at `finalize`).
    pub(in crate::mechanism) fn update(&mut self, data: &[u8]) -> bool {
        self.0.update(data).is_ok()
    }

    pub(in crate::mechanism) fn finalize(self) -> Result<cmac::Tag> {
        ran();
        self.0.sign().map_err(|_| Error::FunctionFailed)
    }
}

/// A digest in AWS-LC (the FIPS build's hashers). Its context cannot be
/// serialized: `save` keeps the trait's StateUnsaveable answer.
#[cfg(feature = "fips")]
pub(in crate::mechanism) struct Hasher {
    alg: &'static aws_lc_rs::digest::Algorithm,
    ctx: aws_lc_rs::digest::Context,
}

#[cfg(feature = "fips")]
impl Hasher {
    /// None for SHA3-224 (no aws-lc-rs algorithm).
    pub(in crate::mechanism) fn new(hash: HashAlg) -> Option<Hasher> {
        use aws_lc_rs::digest;
        let alg = match hash {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => &digest::SHA224,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
            HashAlg::Sha3_256 => &digest::SHA3_256,
            HashAlg::Sha3_384 => &digest::SHA3_384,
            HashAlg::Sha3_512 => &digest::SHA3_512,
            HashAlg::Sha3_224 => return None,
        };
        Some(Hasher {
            alg,
            ctx: digest::Context::new(alg),
        })
    }
}

#[cfg(feature = "fips")]
impl crate::mechanism::digest::DigestOp for Hasher {
    fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    fn finish(&mut self) -> Vec<u8> {
        ran();
        let ctx = std::mem::replace(&mut self.ctx, aws_lc_rs::digest::Context::new(self.alg));
        ctx.finish().as_ref().to_vec()
    }

    fn len(&self) -> usize {
        self.alg.output_len()
    }
}

impl std::fmt::Debug for AesKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKeys(<redacted>)")
    }
}
