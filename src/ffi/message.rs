//! The caller's side of message-based AES-GCM: the mechanism of
//! C_Message*Init (its parameter ignored) and CK_GCM_MESSAGE_PARAMS, read
//! with its pointers followed, then the generated IV and the tag written
//! back through `pIv` and `pTag`. The ChaCha20-Poly1305 and AES-CCM
//! per-message structures are told apart by their sizes and read into the
//! same form.
//!
//! Reads and writes are unaligned, as everywhere in the ABI layer. The
//! lengths are judged by the façade ([`GcmMessage::lengths`]) before any
//! pointer inside the structure is followed.

use std::ffi::c_void;
use std::ptr::NonNull;

use cryptoki_sys::*;

use crate::api::message::GcmMessage;
use crate::api::{Mech, RawParam};
use crate::error::{Error, Result};
use crate::ffi::args::{in_bytes, read_opt, to_usize};

/// The mechanism of C_MessageEncryptInit / C_MessageDecryptInit: NULL
/// cancels (`None`). The parameter is not read: message-based GCM takes
/// its parameters per message.
///
/// # Safety
/// `ptr` is NULL or valid for one read of `CK_MECHANISM`.
pub(crate) unsafe fn mechanism(ptr: *const CK_MECHANISM) -> Option<Mech> {
    // SAFETY: forwarded contract.
    unsafe { read_opt(ptr) }.map(|m| Mech {
        ty: m.mechanism,
        param: RawParam::None,
    })
}

/// A caller's CK_GCM_MESSAGE_PARAMS, checked and kept for writing back.
pub(crate) struct GcmParam {
    iv: NonNull<u8>,
    iv_len: usize,
    tag: Option<NonNull<u8>>,
    tag_len: usize,
    value: GcmMessage,
}

impl GcmParam {
    /// Reads the structure: NULL is CKR_ARGUMENTS_BAD, another size than
    /// CK_GCM_MESSAGE_PARAMS or an unusable IV/tag length or NULL `pIv`
    /// CKR_MECHANISM_PARAM_INVALID. `read_tag` reads the tag through a
    /// non-NULL `pTag` (decryption); otherwise it is only a destination.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for `len` bytes holding a
    /// CK_GCM_MESSAGE_PARAMS whose `pIv` is valid for reads and writes of
    /// `ulIvLen` bytes and whose `pTag` is NULL or valid for reads and
    /// writes of `ulTagBits / 8` bytes, all for as long as this lives.
    pub(crate) unsafe fn new(ptr: *mut c_void, len: CK_ULONG, read_tag: bool) -> Result<Self> {
        let bad = Error::MechanismParamInvalid;
        if ptr.is_null() {
            return Err(Error::ArgumentsBad);
        }
        if to_usize(len)? == std::mem::size_of::<CK_CCM_MESSAGE_PARAMS>() {
            // SAFETY: forwarded contract (the AES-CCM form).
            return unsafe { GcmParam::ccm(ptr, read_tag) };
        }
        if to_usize(len)? == std::mem::size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>() {
            // SAFETY: forwarded contract (the ChaCha20-Poly1305 form).
            return unsafe { GcmParam::chacha(ptr, read_tag) };
        }
        if to_usize(len)? != std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() {
            return Err(bad);
        }
        // SAFETY: non-NULL and `len` bytes, exactly one structure.
        let raw = unsafe { read_opt(ptr.cast::<CK_GCM_MESSAGE_PARAMS>()) }.ok_or(bad)?;
        let (iv_len, tag_len) = GcmMessage::lengths(raw.ulIvLen, raw.ulTagBits)?;
        let iv = NonNull::new(raw.pIv).ok_or(bad)?;
        let tag = NonNull::new(raw.pTag);
        // SAFETY: `pIv` is readable for `ulIvLen` bytes per the contract.
        let iv_bytes = unsafe { in_bytes(iv.as_ptr(), raw.ulIvLen) }?.to_vec();
        let tag_bytes = match tag {
            Some(t) if read_tag => {
                // SAFETY: `pTag` is readable for `ulTagBits / 8` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(t.as_ptr(), tag_len) };
                bytes.to_vec()
            }
            _ => Vec::new(),
        };
        Ok(GcmParam {
            iv,
            iv_len,
            tag,
            tag_len,
            value: GcmMessage {
                iv: iv_bytes,
                iv_fixed_bits: raw.ulIvFixedBits,
                generator: raw.ivGenerator,
                tag_bits: raw.ulTagBits,
                data_len: None,
                chacha: false,
                tag: tag.map(|_| tag_bytes),
            },
        })
    }

    /// CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (told from the GCM structure
    /// by its size), carried as the GCM form the façade takes: the nonce
    /// as a caller-given IV (CKG_NO_GENERATE: this structure has no
    /// generator) and a 128-bit tag. ulNonceLen is in bits and is judged
    /// (96 or 192) before `pNonce` is followed.
    ///
    /// # Safety
    /// `ptr` is non-NULL and valid for one such structure whose `pNonce`
    /// is valid for reads of `ulNonceLen / 8` bytes and whose `pTag` is
    /// NULL or valid for reads and writes of 16 bytes, for as long as this
    /// lives.
    unsafe fn chacha(ptr: *mut c_void, read_tag: bool) -> Result<Self> {
        let bad = Error::MechanismParamInvalid;
        // SAFETY: non-NULL and the size of one structure (checked by `new`).
        let raw = unsafe { read_opt(ptr.cast::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>()) }
            .ok_or(bad)?;
        let iv_len = GcmMessage::chacha_nonce_len(raw.ulNonceLen)?;
        let tag_len = 16;
        let iv = NonNull::new(raw.pNonce).ok_or(bad)?;
        let tag = NonNull::new(raw.pTag);
        let iv_ulong = CK_ULONG::try_from(iv_len).map_err(|_| bad)?;
        // SAFETY: `pNonce` is readable for `ulNonceLen / 8` bytes.
        let iv_bytes = unsafe { in_bytes(iv.as_ptr(), iv_ulong) }?.to_vec();
        let tag_bytes = match tag {
            Some(t) if read_tag => {
                // SAFETY: `pTag` is readable for 16 bytes per the contract.
                unsafe { std::slice::from_raw_parts(t.as_ptr(), tag_len) }.to_vec()
            }
            _ => Vec::new(),
        };
        Ok(GcmParam {
            iv,
            iv_len,
            tag,
            tag_len,
            value: GcmMessage {
                iv: iv_bytes,
                iv_fixed_bits: 0,
                generator: CKG_NO_GENERATE,
                tag_bits: 128,
                data_len: None,
                chacha: true,
                tag: tag.map(|_| tag_bytes),
            },
        })
    }

    /// CK_CCM_MESSAGE_PARAMS (told apart by its size), carried as the GCM
    /// form with its ulDataLen: the nonce as the IV (with its generator),
    /// the MAC as the tag. The nonce and MAC lengths are judged before
    /// `pNonce` and `pMAC` are followed.
    ///
    /// # Safety
    /// `ptr` is non-NULL and valid for one such structure whose `pNonce`
    /// is valid for reads and writes of `ulNonceLen` bytes and whose `pMAC`
    /// is NULL or valid for reads and writes of `ulMACLen` bytes, for as
    /// long as this lives.
    unsafe fn ccm(ptr: *mut c_void, read_tag: bool) -> Result<Self> {
        let bad = Error::MechanismParamInvalid;
        // SAFETY: non-NULL and the size of one structure (checked by `new`).
        let raw = unsafe { read_opt(ptr.cast::<CK_CCM_MESSAGE_PARAMS>()) }.ok_or(bad)?;
        let (iv_len, tag_len) = GcmMessage::ccm_lengths(raw.ulNonceLen, raw.ulMACLen)?;
        let data_len = usize::try_from(raw.ulDataLen).map_err(|_| bad)?;
        let iv = NonNull::new(raw.pNonce).ok_or(bad)?;
        let tag = NonNull::new(raw.pMAC);
        // SAFETY: `pNonce` is readable for `ulNonceLen` bytes.
        let iv_bytes = unsafe { in_bytes(iv.as_ptr(), raw.ulNonceLen) }?.to_vec();
        let tag_bytes = match tag {
            Some(t) if read_tag => {
                // SAFETY: `pMAC` is readable for `ulMACLen` bytes.
                unsafe { std::slice::from_raw_parts(t.as_ptr(), tag_len) }.to_vec()
            }
            _ => Vec::new(),
        };
        let tag_bits = raw.ulMACLen.checked_mul(8).ok_or(bad)?;
        Ok(GcmParam {
            iv,
            iv_len,
            tag,
            tag_len,
            value: GcmMessage {
                iv: iv_bytes,
                iv_fixed_bits: raw.ulNonceFixedBits,
                generator: raw.nonceGenerator,
                tag_bits,
                data_len: Some(data_len),
                chacha: false,
                tag: tag.map(|_| tag_bytes),
            },
        })
    }

    /// Like [`GcmParam::new`], where a NULL parameter is allowed (`None`).
    ///
    /// # Safety
    /// As for [`GcmParam::new`].
    pub(crate) unsafe fn optional(
        ptr: *mut c_void,
        len: CK_ULONG,
        read_tag: bool,
    ) -> Result<Option<Self>> {
        if ptr.is_null() {
            return Ok(None);
        }
        // SAFETY: forwarded contract.
        unsafe { GcmParam::new(ptr, len, read_tag) }.map(Some)
    }

    /// What the façade is given.
    pub(crate) fn value(&self) -> &GcmMessage {
        &self.value
    }

    /// Writes a generated IV through `pIv`.
    pub(crate) fn write_iv(&self, iv: &[u8]) -> Result<()> {
        if iv.len() != self.iv_len {
            return Err(Error::GeneralError);
        }
        // SAFETY: `pIv` is writable for `ulIvLen` == iv.len() bytes, as
        // vouched for in `new`; `iv` is our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), self.iv.as_ptr(), iv.len()) };
        Ok(())
    }

    /// Writes the tag through `pTag`.
    pub(crate) fn write_tag(&self, tag: &[u8]) -> Result<()> {
        let dst = self.tag.ok_or(Error::MechanismParamInvalid)?;
        if tag.len() != self.tag_len {
            return Err(Error::GeneralError);
        }
        // SAFETY: `pTag` is writable for `ulTagBits / 8` == tag.len() bytes,
        // as vouched for in `new`; `tag` is our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), dst.as_ptr(), tag.len()) };
        Ok(())
    }

    /// Writes back what an encrypting call produced.
    pub(crate) fn write_back(&self, iv: Option<&[u8]>, tag: Option<&[u8]>) -> Result<()> {
        if let Some(iv) = iv {
            self.write_iv(iv)?;
        }
        if let Some(tag) = tag {
            self.write_tag(tag)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(iv: &mut [u8], tag: &mut [u8], generator: CK_ULONG) -> CK_GCM_MESSAGE_PARAMS {
        CK_GCM_MESSAGE_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: iv.len() as CK_ULONG,
            ulIvFixedBits: 32,
            ivGenerator: generator,
            pTag: tag.as_mut_ptr(),
            ulTagBits: (tag.len() * 8) as CK_ULONG,
        }
    }

    const SIZE: CK_ULONG = std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;

    #[test]
    fn reads_and_writes_back() {
        let mut iv = [1u8; 12];
        let mut tag = [2u8; 16];
        let mut p = raw(&mut iv, &mut tag, CKG_GENERATE_COUNTER);
        let ptr = (&raw mut p).cast::<c_void>();
        // SAFETY: the structure and its buffers outlive `g`.
        let g = unsafe { GcmParam::new(ptr, SIZE, true) }.unwrap();
        assert_eq!(g.value().iv, vec![1; 12]);
        assert_eq!(g.value().tag, Some(vec![2; 16]));
        assert_eq!(g.value().iv_fixed_bits, 32);
        assert_eq!(g.value().generator, CKG_GENERATE_COUNTER);
        g.write_back(Some(&[9; 12]), Some(&[8; 16])).unwrap();
        assert_eq!(g.write_iv(&[0; 11]), Err(Error::GeneralError));
        drop(g);
        assert_eq!(iv, [9; 12]);
        assert_eq!(tag, [8; 16]);
    }

    /// Parses a copy of `p`; the tag read, if any.
    fn parse(
        mut p: CK_GCM_MESSAGE_PARAMS,
        len: CK_ULONG,
        read_tag: bool,
    ) -> Result<Option<Vec<u8>>> {
        let ptr = (&raw mut p).cast::<c_void>();
        // SAFETY: `p` lives through the call; its buffers are the
        // caller's, valid for the lengths it states.
        unsafe { GcmParam::new(ptr, len, read_tag) }.map(|g| g.value().tag.clone())
    }

    #[test]
    fn bad_structures() {
        let mut iv = [1u8; 12];
        let mut tag = [2u8; 16];
        let good = raw(&mut iv, &mut tag, CKG_NO_GENERATE);
        assert_eq!(parse(good, SIZE, true), Ok(Some(vec![2; 16])));
        // A short length is refused before the structure is read.
        assert_eq!(
            parse(good, SIZE - 8, false),
            Err(Error::MechanismParamInvalid)
        );
        // SAFETY: NULL is never read.
        unsafe {
            assert!(matches!(
                GcmParam::new(std::ptr::null_mut(), SIZE, false),
                Err(Error::ArgumentsBad)
            ));
            assert!(matches!(
                GcmParam::optional(std::ptr::null_mut(), 0, false),
                Ok(None)
            ));
        }
        // Lengths are refused before any buffer is read.
        let short_tag = CK_GCM_MESSAGE_PARAMS {
            ulTagBits: 64,
            ..good
        };
        assert_eq!(
            parse(short_tag, SIZE, true),
            Err(Error::MechanismParamInvalid)
        );
        let null_iv = CK_GCM_MESSAGE_PARAMS {
            pIv: std::ptr::null_mut(),
            ..good
        };
        assert_eq!(
            parse(null_iv, SIZE, false),
            Err(Error::MechanismParamInvalid)
        );
        let mut null_tag = CK_GCM_MESSAGE_PARAMS {
            pTag: std::ptr::null_mut(),
            ..good
        };
        assert_eq!(parse(null_tag, SIZE, true), Ok(None));
        let ptr = (&raw mut null_tag).cast::<c_void>();
        // SAFETY: valid IV, NULL tag, `null_tag` outlives `g`.
        let g = unsafe { GcmParam::new(ptr, SIZE, true) }.unwrap();
        assert_eq!(g.write_tag(&[0; 16]), Err(Error::MechanismParamInvalid));
    }
}
