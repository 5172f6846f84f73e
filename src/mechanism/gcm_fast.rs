//! Single-part AES-GCM with a 96-bit IV and a 16-byte tag — what nearly
//! every caller uses — through the `aes-gcm` crate's own in→out path, with
//! the crate's cipher (round keys and GHASH key) cached on the key like
//! every other schedule: one fused pass from the caller's input to its
//! output buffer, as fast as the crate itself. Other IV and tag lengths,
//! and multi-part calls, keep `aes_aead::Gcm`'s own code.
//!
//! In the aws-lc build the cached cipher is aws-lc's instead (the
//! `AwsLc` variant, provider/symmetric.rs), which also serves buffered
//! multi-part decryption of this shape (`decrypt_in_place`).

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};

use crate::error::{Error, Result};

/// Tag length of this path.
pub(super) const TAG: usize = 16;
/// IV length of this path.
pub(super) const IV: usize = 12;

/// The crate's AES-GCM for one of the three key sizes; its round keys and
/// GHASH key zeroize on drop (the crates' `zeroize` features).
pub(super) enum GcmFast {
    A128(Aes128Gcm),
    A192(AesGcm<aes::Aes192, U12>),
    A256(Aes256Gcm),
    /// AES-GCM in AWS-LC (the aws-lc build).
    #[cfg(feature = "aws-lc")]
    AwsLc(crate::mechanism::provider::symmetric::GcmKey),
}

impl GcmFast {
    pub(super) fn new(key: &[u8]) -> Result<GcmFast> {
        let size = |_| Error::KeySizeRange;
        #[cfg(feature = "aws-lc")]
        {
            use crate::mechanism::provider::symmetric;
            if let Some(k) = symmetric::GcmKey::new(key) {
                return Ok(GcmFast::AwsLc(k));
            }
            symmetric::own_path()?;
        }
        Ok(match key.len() {
            16 => GcmFast::A128(Aes128Gcm::new_from_slice(key).map_err(size)?),
            24 => GcmFast::A192(AesGcm::new_from_slice(key).map_err(size)?),
            32 => GcmFast::A256(Aes256Gcm::new_from_slice(key).map_err(size)?),
            _ => return Err(Error::KeySizeRange),
        })
    }

    /// `out = E(input)`, returning the tag; `out` is as long as `input`.
    pub(super) fn encrypt(
        &self,
        iv: &[u8; IV],
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; TAG]> {
        #[cfg(feature = "aws-lc")]
        if let GcmFast::AwsLc(k) = self {
            return k.seal(iv, aad, input, out);
        }
        let buf = InOutBuf::new(input, out).map_err(|_| Error::GeneralError)?;
        let nonce = iv.into();
        let tag = match self {
            GcmFast::A128(c) => c.encrypt_inout_detached(nonce, aad, buf),
            GcmFast::A192(c) => c.encrypt_inout_detached(nonce, aad, buf),
            GcmFast::A256(c) => c.encrypt_inout_detached(nonce, aad, buf),
            #[cfg(feature = "aws-lc")]
            GcmFast::AwsLc(_) => return Err(Error::GeneralError),
        }
        .map_err(|_| Error::DataLenRange)?;
        Ok(tag.into())
    }

    /// `out = D(input)` if `tag` verifies over `aad` and `input`; otherwise
    /// CKR_ENCRYPTED_DATA_INVALID and `out` is left as it was (the crate
    /// checks the tag before it applies the keystream).
    pub(super) fn decrypt(
        &self,
        iv: &[u8; IV],
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
        tag: &[u8; TAG],
    ) -> Result<()> {
        #[cfg(feature = "aws-lc")]
        if let GcmFast::AwsLc(k) = self {
            return k.open(iv, aad, input, out, tag);
        }
        let buf = InOutBuf::new(input, out).map_err(|_| Error::GeneralError)?;
        let nonce = iv.into();
        let tag = tag.into();
        match self {
            GcmFast::A128(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            GcmFast::A192(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            GcmFast::A256(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            #[cfg(feature = "aws-lc")]
            GcmFast::AwsLc(_) => return Err(Error::GeneralError),
        }
        .map_err(|_| Error::EncryptedDataInvalid)
    }

    /// Buffered decryption in place (`in_out` holds the ciphertext): the
    /// aws-lc build's path for multi-part GCM decryption of this shape.
    #[cfg(feature = "aws-lc")]
    pub(super) fn decrypt_in_place(
        &self,
        iv: &[u8; IV],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG],
    ) -> Result<()> {
        if let GcmFast::AwsLc(k) = self {
            return k.open_in_place(iv, aad, tag, in_out);
        }
        let buf: InOutBuf<'_, '_, u8> = in_out.into();
        let (nonce, t) = (iv.into(), tag.into());
        match self {
            GcmFast::AwsLc(_) => Err(aes_gcm::Error),
            GcmFast::A128(c) => c.decrypt_inout_detached(nonce, aad, buf, t),
            GcmFast::A192(c) => c.decrypt_inout_detached(nonce, aad, buf, t),
            GcmFast::A256(c) => c.decrypt_inout_detached(nonce, aad, buf, t),
        }
        .map_err(|_| Error::EncryptedDataInvalid)
    }
}
