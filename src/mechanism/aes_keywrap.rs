//! The AES key-wrap family (NIST SP 800-38F): CKM_AES_KEY_WRAP (RFC 3394,
//! KW), CKM_AES_KEY_WRAP_KWP (RFC 5649, KWP) and CKM_AES_KEY_WRAP_PAD, as
//! single-part cipher operations that `aes::wrap`/`aes::unwrap` also use.
//! Written over the block cipher rather than with the `aes-kw` crate because
//! PKCS#11 lets the caller choose the IV (8 bytes for KW, the 4-byte prefix
//! for KWP), which that crate does not take.
//!
//! CKM_AES_KEY_WRAP_PAD: PKCS#11 3.0 defines it as PKCS#7 padding of the
//! input to a multiple of the 8-byte key-wrap block, then RFC 3394 (3.1
//! deprecates it in favour of the identical CKM_AES_KEY_WRAP_PKCS7); RFC
//! 5649 is CKM_AES_KEY_WRAP_KWP. Some tokens (SoftHSMv2) give _PAD the RFC
//! 5649 meaning, so the two are not interchangeable across tokens; we follow
//! the spec. Its IV is the RFC 3394 default: an alternative IV would be 8
//! bytes, which the parameter parser does not take for _PAD, so any
//! parameter is refused.
//!
//! In the aws-lc build KW and KWP with the RFC default IVs (and _PAD, our
//! PKCS#7 padding over KW) run in AWS-LC under AES-128/256 keys
//! ([`via_aws_lc`]); a caller IV or an AES-192 key takes this file's own
//! code after the fallback gate (refused in the FIPS build).

use std::sync::Arc;

use cryptoki_sys::*;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use super::Params;
use super::aes::{AesCipher, BLOCK};
use super::aes_modes::{append_secret, pkcs7_pad_len, pkcs7_padding};
use super::cipher::CipherOp;
use super::keys::Key;
#[cfg(feature = "aws-lc")]
use super::provider::symmetric::AesKeys;
use crate::error::{Error, Result};

/// Half an AES block, the unit the key wraps work in.
const SEMI: usize = 8;
/// RFC 3394 §2.2.3.1 default IV.
const KW_IV: [u8; SEMI] = [0xA6; SEMI];
/// RFC 5649 §3 alternative IV prefix.
const KWP_PREFIX: [u8; 4] = [0xA6, 0x59, 0x59, 0xA6];
/// RFC 5649 encodes the length in 32 bits; the same cap bounds KW.
const MAX_INPUT: u64 = 0xFFFF_FFFF;

/// Which key wrap, with its IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WrapKind {
    Kw([u8; SEMI]),
    Kwp([u8; 4]),
    Pad,
}

impl WrapKind {
    pub(super) fn new(mech: CK_MECHANISM_TYPE, params: &Params) -> Result<WrapKind> {
        let bad = Error::MechanismParamInvalid;
        match (mech, params) {
            (CKM_AES_KEY_WRAP, Params::None) => Ok(WrapKind::Kw(KW_IV)),
            (CKM_AES_KEY_WRAP, Params::Iv(iv)) => {
                Ok(WrapKind::Kw(iv.as_slice().try_into().map_err(|_| bad)?))
            }
            (CKM_AES_KEY_WRAP_KWP, Params::None) => Ok(WrapKind::Kwp(KWP_PREFIX)),
            (CKM_AES_KEY_WRAP_KWP, Params::Iv(iv)) => {
                Ok(WrapKind::Kwp(iv.as_slice().try_into().map_err(|_| bad)?))
            }
            (CKM_AES_KEY_WRAP_PAD, Params::None) => Ok(WrapKind::Pad),
            _ => Err(bad),
        }
    }

    /// The output length for `len` input bytes (an upper bound when
    /// decrypting padded forms).
    fn out_len(&self, encrypt: bool, len: usize) -> usize {
        let up = |n: usize| n.div_ceil(SEMI).saturating_mul(SEMI);
        match (self, encrypt) {
            (WrapKind::Kw(_), true) => len.saturating_add(SEMI),
            (WrapKind::Kwp(_), true) => up(len).max(SEMI).saturating_add(SEMI),
            (WrapKind::Pad, true) => up(len.saturating_add(1)).saturating_add(SEMI),
            (WrapKind::Kw(_) | WrapKind::Kwp(_), false) => len.saturating_sub(SEMI),
            (WrapKind::Pad, false) => len.saturating_sub(SEMI + 1),
        }
    }
}

fn too_long(len: usize) -> bool {
    u64::try_from(len).map_or(true, |n| n > MAX_INPUT)
}

/// The step counter t = n*j + i of SP 800-38F's W, big-endian.
fn step(n: usize, j: usize, i: usize) -> Result<[u8; SEMI]> {
    let t = n
        .checked_mul(j)
        .and_then(|v| v.checked_add(i))
        .and_then(|v| u64::try_from(v).ok())
        .ok_or(Error::DataLenRange)?;
    Ok(t.to_be_bytes())
}

fn xor(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// W (SP 800-38F §6.1, RFC 3394 §2.2.1): `a` then at least two semiblocks
/// of `plain`, to ciphertext.
fn w(cipher: &AesCipher, a: [u8; SEMI], plain: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plain.len() + SEMI);
    out.extend_from_slice(&a);
    out.extend_from_slice(plain);
    let (a_out, r) = out.split_at_mut(SEMI);
    let (r, _) = r.as_chunks_mut::<SEMI>();
    let n = r.len();
    let mut block = Zeroizing::new([0u8; BLOCK]);
    let mut a = a;
    for j in 0..6 {
        for (i, ri) in (1..).zip(r.iter_mut()) {
            let (hi, lo) = block.split_at_mut(SEMI);
            hi.copy_from_slice(&a);
            lo.copy_from_slice(ri);
            cipher.encrypt_block(&mut block);
            let (hi, lo) = block.split_at(SEMI);
            a.copy_from_slice(hi);
            xor(&mut a, &step(n, j, i)?);
            ri.copy_from_slice(lo);
        }
    }
    a_out.copy_from_slice(&a);
    Ok(out)
}

/// W⁻¹: ciphertext of at least three semiblocks to (A, plaintext).
fn w_inv(cipher: &AesCipher, wrapped: &[u8]) -> Result<([u8; SEMI], Zeroizing<Vec<u8>>)> {
    let (a_in, r_in) = wrapped
        .split_at_checked(SEMI)
        .ok_or(Error::EncryptedDataLenRange)?;
    let mut a: [u8; SEMI] = a_in.try_into().map_err(|_| Error::EncryptedDataLenRange)?;
    let mut plain = Zeroizing::new(r_in.to_vec());
    let (r, _) = plain.as_chunks_mut::<SEMI>();
    let n = r.len();
    let mut block = Zeroizing::new([0u8; BLOCK]);
    for j in (0..6).rev() {
        for (index, ri) in r.iter_mut().enumerate().rev() {
            xor(&mut a, &step(n, j, index + 1)?);
            let (hi, lo) = block.split_at_mut(SEMI);
            hi.copy_from_slice(&a);
            lo.copy_from_slice(ri);
            cipher.decrypt_block(&mut block);
            let (hi, lo) = block.split_at(SEMI);
            a.copy_from_slice(hi);
            ri.copy_from_slice(lo);
        }
    }
    Ok((a, plain))
}

fn kw_encrypt(cipher: &AesCipher, iv: [u8; SEMI], data: &[u8]) -> Result<Vec<u8>> {
    if !data.len().is_multiple_of(SEMI) || data.len() < 2 * SEMI || too_long(data.len()) {
        return Err(Error::DataLenRange);
    }
    w(cipher, iv, data)
}

fn kw_decrypt(cipher: &AesCipher, iv: [u8; SEMI], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if !data.len().is_multiple_of(SEMI) || data.len() < 3 * SEMI || too_long(data.len()) {
        return Err(Error::EncryptedDataLenRange);
    }
    let (a, plain) = w_inv(cipher, data)?;
    if bool::from(a.ct_eq(&iv)) {
        Ok(plain)
    } else {
        Err(Error::EncryptedDataInvalid)
    }
}

fn kwp_encrypt(cipher: &AesCipher, prefix: [u8; 4], data: &[u8]) -> Result<Vec<u8>> {
    let mli = u32::try_from(data.len()).map_err(|_| Error::DataLenRange)?;
    if data.is_empty() {
        return Err(Error::DataLenRange);
    }
    let mut aiv = [0u8; SEMI];
    let (hi, lo) = aiv.split_at_mut(4);
    hi.copy_from_slice(&prefix);
    lo.copy_from_slice(&mli.to_be_bytes());
    let padded_len = data.len().div_ceil(SEMI) * SEMI;
    let mut padded = Zeroizing::new(Vec::with_capacity(padded_len));
    padded.extend_from_slice(data);
    padded.resize(padded_len, 0);
    if padded_len > SEMI {
        return w(cipher, aiv, &padded);
    }
    // A single semiblock is one AES encryption of AIV || P (RFC 5649 §4.1).
    let mut block = Zeroizing::new([0u8; BLOCK]);
    let (hi, lo) = block.split_at_mut(SEMI);
    hi.copy_from_slice(&aiv);
    lo.copy_from_slice(&padded);
    cipher.encrypt_block(&mut block);
    Ok(block.to_vec())
}

fn kwp_decrypt(cipher: &AesCipher, prefix: [u8; 4], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if !data.len().is_multiple_of(SEMI) || data.len() < 2 * SEMI || too_long(data.len()) {
        return Err(Error::EncryptedDataLenRange);
    }
    let (a, mut plain) = if data.len() == BLOCK {
        let mut block = Zeroizing::new([0u8; BLOCK]);
        block.copy_from_slice(data);
        cipher.decrypt_block(&mut block);
        let (hi, lo) = block.split_at(SEMI);
        let a: [u8; SEMI] = hi.try_into().map_err(|_| Error::GeneralError)?;
        (a, Zeroizing::new(lo.to_vec()))
    } else {
        w_inv(cipher, data)?
    };
    let [p0, p1, p2, p3, m0, m1, m2, m3] = a;
    let mli = usize::try_from(u32::from_be_bytes([m0, m1, m2, m3])).unwrap_or(usize::MAX);
    let n = plain.len();
    // RFC 5649 §3: 8*(n-1) < MLI <= 8*n, and the padding is zeros.
    let in_range = mli.saturating_add(SEMI) > n && mli <= n;
    let mut ok = [p0, p1, p2, p3].ct_eq(&prefix) & Choice::from(u8::from(in_range));
    for (i, byte) in plain.iter().enumerate().skip(n.saturating_sub(SEMI)) {
        ok &= Choice::from(u8::from(i < mli)) | byte.ct_eq(&0);
    }
    if !bool::from(ok) {
        return Err(Error::EncryptedDataInvalid);
    }
    plain.truncate(mli);
    Ok(plain)
}

/// The aws-lc build's key wraps: None when the shape is not served there
/// (a caller IV or prefix, an AES-192 key). The length rules are this
/// file's, checked before AWS-LC sees the input.
#[cfg(feature = "aws-lc")]
fn via_aws_lc(
    lc: Option<&AesKeys>,
    kind: WrapKind,
    encrypt: bool,
    data: &[u8],
) -> Option<Result<Zeroizing<Vec<u8>>>> {
    let lc = lc.filter(|lc| lc.wraps())?;
    let default_iv = match kind {
        WrapKind::Kw(iv) => iv == KW_IV,
        WrapKind::Kwp(prefix) => prefix == KWP_PREFIX,
        WrapKind::Pad => true,
    };
    if !default_iv {
        return None;
    }
    let kw_len_ok = |n: usize, min: usize| n.is_multiple_of(SEMI) && n >= min && !too_long(n);
    let public = |v: Vec<u8>| Zeroizing::new(v);
    Some(match (kind, encrypt) {
        (WrapKind::Kw(_), true) if kw_len_ok(data.len(), 2 * SEMI) => lc.kw_wrap(data).map(public),
        (WrapKind::Kw(_), true) => Err(Error::DataLenRange),
        (WrapKind::Kw(_), false) if kw_len_ok(data.len(), 3 * SEMI) => lc.kw_unwrap(data),
        (WrapKind::Kwp(_), false) if kw_len_ok(data.len(), 2 * SEMI) => lc.kwp_unwrap(data),
        (WrapKind::Kw(_) | WrapKind::Kwp(_), false) => Err(Error::EncryptedDataLenRange),
        (WrapKind::Kwp(_), true) if data.is_empty() || u32::try_from(data.len()).is_err() => {
            Err(Error::DataLenRange)
        }
        (WrapKind::Kwp(_), true) => lc.kwp_wrap(data).map(public),
        (WrapKind::Pad, true) => {
            let padding = pkcs7_padding(data.len(), 8);
            let mut padded = Zeroizing::new(Vec::with_capacity(data.len() + padding.len()));
            padded.extend_from_slice(data);
            padded.extend_from_slice(&padding);
            if kw_len_ok(padded.len(), 2 * SEMI) {
                lc.kw_wrap(&padded).map(public)
            } else {
                Err(Error::DataLenRange)
            }
        }
        (WrapKind::Pad, false) if kw_len_ok(data.len(), 3 * SEMI) => {
            lc.kw_unwrap(data).and_then(|mut plain| {
                let tail = plain.get(plain.len().saturating_sub(SEMI)..).unwrap_or(&[]);
                let pad = pkcs7_pad_len(tail).ok_or(Error::EncryptedDataInvalid)?;
                let keep = plain.len() - pad;
                plain.truncate(keep);
                Ok(plain)
            })
        }
        (WrapKind::Pad, false) => Err(Error::EncryptedDataLenRange),
    })
}

/// The aws-lc form of an AES key for [`via_aws_lc`].
#[cfg(feature = "aws-lc")]
fn aws_lc_keys(key: &Key) -> Result<Arc<AesKeys>> {
    let (value, sched) = super::aes::aes_parts(key)?;
    sched.aws_lc_aes(value).cloned()
}

/// The gate before this file's own code runs in the aws-lc build.
#[cfg(feature = "aws-lc")]
fn own_path() -> Result<()> {
    super::provider::symmetric::own_path()
}

fn pad_encrypt(cipher: &AesCipher, data: &[u8]) -> Result<Vec<u8>> {
    let padding = pkcs7_padding(data.len(), 8);
    let len = data
        .len()
        .checked_add(padding.len())
        .ok_or(Error::DataLenRange)?;
    let mut padded = Zeroizing::new(Vec::with_capacity(len));
    padded.extend_from_slice(data);
    padded.extend_from_slice(&padding);
    kw_encrypt(cipher, KW_IV, &padded)
}

fn pad_decrypt(cipher: &AesCipher, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut plain = kw_decrypt(cipher, KW_IV, data)?;
    let tail = plain.get(plain.len().saturating_sub(SEMI)..).unwrap_or(&[]);
    let pad = pkcs7_pad_len(tail).ok_or(Error::EncryptedDataInvalid)?;
    let keep = plain.len() - pad;
    plain.truncate(keep);
    Ok(plain)
}

/// C_WrapKey with a key wrap, in one call: the same checks and answers as
/// the general AES path (`aes::wrap`: wrong key type, then empty
/// material, then parameters), without an operation object or a copy of
/// the key material to feed it.
pub(super) fn wrap_key(mech: &super::Mechanism, key: &Key, material: &[u8]) -> Result<Vec<u8>> {
    let cipher = AesCipher::for_key(key)?;
    if material.is_empty() {
        return Err(Error::KeyNotWrappable);
    }
    let kind = WrapKind::new(mech.mech, &mech.params)?;
    #[cfg(feature = "aws-lc")]
    match via_aws_lc(Some(&*aws_lc_keys(key)?), kind, true, material) {
        Some(out) => {
            return out.map(|w| w.to_vec()).map_err(|e| match e {
                Error::DataLenRange => Error::KeyNotWrappable,
                other => other,
            });
        }
        None => own_path()?,
    }
    let out = match kind {
        WrapKind::Kw(iv) => kw_encrypt(&cipher, iv, material),
        WrapKind::Kwp(prefix) => kwp_encrypt(&cipher, prefix, material),
        WrapKind::Pad => pad_encrypt(&cipher, material),
    };
    out.map_err(|e| match e {
        Error::DataLenRange => Error::KeyNotWrappable,
        other => other,
    })
}

/// C_UnwrapKey with a key wrap, in one call (see [`wrap_key`]): the
/// plaintext is written once, into the zeroizing buffer returned.
pub(super) fn unwrap_key(
    mech: &super::Mechanism,
    key: &Key,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = AesCipher::for_key(key)?;
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    let kind = WrapKind::new(mech.mech, &mech.params)?;
    #[cfg(feature = "aws-lc")]
    let out = match via_aws_lc(Some(&*aws_lc_keys(key)?), kind, false, wrapped) {
        Some(out) => out,
        None => {
            own_path()?;
            unwrap_own(&cipher, kind, wrapped)
        }
    };
    #[cfg(not(feature = "aws-lc"))]
    let out = unwrap_own(&cipher, kind, wrapped);
    out.map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    })
}

fn unwrap_own(cipher: &AesCipher, kind: WrapKind, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match kind {
        WrapKind::Kw(iv) => kw_decrypt(cipher, iv, wrapped),
        WrapKind::Kwp(prefix) => kwp_decrypt(cipher, prefix, wrapped),
        WrapKind::Pad => pad_decrypt(cipher, wrapped),
    }
}

/// A key wrap as C_Encrypt/C_Decrypt: single-part, the input collected in
/// `update` and processed in `finish`.
pub(super) struct KeyWrapOp {
    cipher: Arc<AesCipher>,
    kind: WrapKind,
    encrypt: bool,
    input: Zeroizing<Vec<u8>>,
    done: bool,
    /// The key in aws-lc's form (the aws-lc build).
    #[cfg(feature = "aws-lc")]
    lc: Option<Arc<AesKeys>>,
}

impl KeyWrapOp {
    #[cfg(feature = "aws-lc")]
    pub(super) fn with_aws_lc(mut self, lc: Arc<AesKeys>) -> KeyWrapOp {
        self.lc = Some(lc);
        self
    }

    pub(super) fn new(cipher: Arc<AesCipher>, kind: WrapKind, encrypt: bool) -> KeyWrapOp {
        KeyWrapOp {
            cipher,
            kind,
            encrypt,
            input: Zeroizing::new(Vec::new()),
            done: false,
            #[cfg(feature = "aws-lc")]
            lc: None,
        }
    }
}

impl CipherOp for KeyWrapOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        append_secret(&mut self.input, data)?;
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        let (c, data) = (&self.cipher, self.input.as_slice());
        #[cfg(feature = "aws-lc")]
        match via_aws_lc(self.lc.as_deref(), self.kind, self.encrypt, data) {
            Some(out) => return out.map(|o| o.to_vec()),
            None => own_path()?,
        }
        match (self.kind, self.encrypt) {
            (WrapKind::Kw(iv), true) => kw_encrypt(c, iv, data),
            (WrapKind::Kwp(prefix), true) => kwp_encrypt(c, prefix, data),
            (WrapKind::Pad, true) => pad_encrypt(c, data),
            (WrapKind::Kw(iv), false) => kw_decrypt(c, iv, data).map(|p| p.to_vec()),
            (WrapKind::Kwp(prefix), false) => kwp_decrypt(c, prefix, data).map(|p| p.to_vec()),
            (WrapKind::Pad, false) => pad_decrypt(c, data).map(|p| p.to_vec()),
        }
    }

    /// What these bytes add to the output of `finish` (nothing comes out of
    /// `update`), so `update_len(n) + finish_len()` answers a single-part
    /// length query.
    fn update_len(&self, len: usize) -> usize {
        let now = self.input.len();
        let later = now.saturating_add(len);
        self.kind.out_len(self.encrypt, later) - self.kind.out_len(self.encrypt, now)
    }

    fn finish_len(&self) -> usize {
        self.kind.out_len(self.encrypt, self.input.len())
    }

    /// Wrapping in one call, straight from the caller's input (no copy
    /// into `input`, no kept output): only when the output surely fits,
    /// otherwise the buffered path runs. Unwrapping keeps the buffered
    /// path, whose plaintext stays in zeroizing buffers.
    fn single_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done || !self.input.is_empty() || !self.encrypt {
            return Ok(None);
        }
        if out.len() < self.kind.out_len(true, data.len()) {
            return Ok(None);
        }
        self.done = true;
        #[cfg(feature = "aws-lc")]
        let served = via_aws_lc(self.lc.as_deref(), self.kind, true, data);
        #[cfg(feature = "aws-lc")]
        let wrapped = match served {
            Some(out) => out?.to_vec(),
            None => {
                own_path()?;
                self.own_wrap(data)?
            }
        };
        #[cfg(not(feature = "aws-lc"))]
        let wrapped = self.own_wrap(data)?;
        let dst = out.get_mut(..wrapped.len()).ok_or(Error::GeneralError)?;
        dst.copy_from_slice(&wrapped);
        Ok(Some(wrapped.len()))
    }

    fn multipart(&self) -> bool {
        false
    }
}

impl KeyWrapOp {
    /// Wrapping with this file's code.
    fn own_wrap(&self, data: &[u8]) -> Result<Vec<u8>> {
        let c = &self.cipher;
        let wrapped = match self.kind {
            WrapKind::Kw(iv) => kw_encrypt(c, iv, data)?,
            WrapKind::Kwp(prefix) => kwp_encrypt(c, prefix, data)?,
            WrapKind::Pad => pad_encrypt(c, data)?,
        };
        Ok(wrapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn cipher(hex: &str) -> Arc<AesCipher> {
        Arc::new(AesCipher::new(&unhex(hex)).unwrap())
    }

    fn run(kind: WrapKind, kek: &str, encrypt: bool, data: &[u8]) -> Result<Vec<u8>> {
        let mut op = KeyWrapOp::new(cipher(kek), kind, encrypt);
        let bound = op.update_len(data.len()) + op.finish_len();
        assert!(op.update(data)?.is_empty());
        let out = op.finish()?;
        assert!(out.len() <= bound);
        Ok(out)
    }

    const KEK128: &str = "000102030405060708090A0B0C0D0E0F";
    const KEK192: &str = "000102030405060708090A0B0C0D0E0F1011121314151617";
    const KEK256: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    const DATA128: &str = "00112233445566778899AABBCCDDEEFF";
    const DATA256: &str = "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F";

    #[test]
    fn rfc3394_section4_vectors() {
        let cases = [
            // 4.1: 128-bit key data, 128-bit KEK.
            (
                KEK128,
                DATA128,
                "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
            ),
            // 4.2: 128-bit key data, 192-bit KEK.
            (
                KEK192,
                DATA128,
                "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
            ),
            // 4.3: 128-bit key data, 256-bit KEK.
            (
                KEK256,
                DATA128,
                "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
            ),
            // 4.6: 256-bit key data, 256-bit KEK.
            (
                KEK256,
                DATA256,
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43B
                 FB988B9B7A02DD21",
            ),
        ];
        for (kek, data, wrapped) in cases {
            let (data, wrapped) = (unhex(data), unhex(wrapped));
            let kw = WrapKind::Kw(KW_IV);
            assert_eq!(run(kw, kek, true, &data).unwrap(), wrapped);
            assert_eq!(run(kw, kek, false, &wrapped).unwrap(), data);
            let mut bad = wrapped.clone();
            bad[0] ^= 1;
            assert_eq!(
                run(kw, kek, false, &bad).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
    }

    #[test]
    fn kw_alternative_iv() {
        let iv = [1, 2, 3, 4, 5, 6, 7, 8];
        let data = unhex(DATA256);
        let wrapped = run(WrapKind::Kw(iv), KEK128, true, &data).unwrap();
        assert_eq!(
            run(WrapKind::Kw(iv), KEK128, false, &wrapped).unwrap(),
            data
        );
        let default = WrapKind::Kw(KW_IV);
        assert_eq!(
            run(default, KEK128, false, &wrapped).err(),
            Some(Error::EncryptedDataInvalid)
        );
    }

    #[test]
    fn kw_lengths() {
        let kw = WrapKind::Kw(KW_IV);
        for len in [0, 8, 15, 17, 23] {
            assert_eq!(
                run(kw, KEK128, true, &vec![0; len]).err(),
                Some(Error::DataLenRange)
            );
        }
        for len in [0, 8, 16, 25] {
            assert_eq!(
                run(kw, KEK128, false, &vec![0; len]).err(),
                Some(Error::EncryptedDataLenRange)
            );
        }
    }

    #[test]
    fn rfc5649_section6_vectors() {
        let kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
        let cases = [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ];
        for (data, wrapped) in cases {
            let (data, wrapped) = (unhex(data), unhex(wrapped));
            let kwp = WrapKind::Kwp(KWP_PREFIX);
            assert_eq!(run(kwp, kek, true, &data).unwrap(), wrapped);
            assert_eq!(run(kwp, kek, false, &wrapped).unwrap(), data);
            for i in [0, wrapped.len() - 1] {
                let mut bad = wrapped.clone();
                bad[i] ^= 0x40;
                assert_eq!(
                    run(kwp, kek, false, &bad).err(),
                    Some(Error::EncryptedDataInvalid)
                );
            }
        }
    }

    #[test]
    fn kwp_round_trips_and_checks() {
        let kwp = WrapKind::Kwp(KWP_PREFIX);
        for len in 1..=40usize {
            let data: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5c).collect();
            let wrapped = run(kwp, KEK256, true, &data).unwrap();
            assert_eq!(wrapped.len(), len.div_ceil(8).max(1) * 8 + 8);
            assert_eq!(run(kwp, KEK256, false, &wrapped).unwrap(), data);
            let other = WrapKind::Kwp([1, 2, 3, 4]);
            assert_eq!(
                run(other, KEK256, false, &wrapped).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
        assert_eq!(run(kwp, KEK256, true, &[]).err(), Some(Error::DataLenRange));
        assert_eq!(
            run(kwp, KEK256, false, &[0; 8]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        assert_eq!(
            run(kwp, KEK256, false, &[0; 20]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        // A KW wrap (IV A6A6..) is not a KWP wrap, and nonzero padding is
        // refused: wrap 16 bytes whose MLI claims 9 with KW and a KWP AIV.
        let c = cipher(KEK256);
        let mut aiv = [0u8; 8];
        aiv[..4].copy_from_slice(&KWP_PREFIX);
        aiv[4..].copy_from_slice(&9u32.to_be_bytes());
        let mut padded = [0u8; 16];
        padded[..9].fill(7);
        let good = w(&c, aiv, &padded).unwrap();
        assert_eq!(
            kwp_decrypt(&c, KWP_PREFIX, &good).unwrap().to_vec(),
            vec![7; 9]
        );
        padded[12] = 1;
        let bad = w(&c, aiv, &padded).unwrap();
        assert_eq!(
            kwp_decrypt(&c, KWP_PREFIX, &bad).err(),
            Some(Error::EncryptedDataInvalid)
        );
        aiv[4..].copy_from_slice(&17u32.to_be_bytes());
        let bad = w(&c, aiv, &[7; 16]).unwrap();
        assert_eq!(
            kwp_decrypt(&c, KWP_PREFIX, &bad).err(),
            Some(Error::EncryptedDataInvalid)
        );
        aiv[4..].copy_from_slice(&8u32.to_be_bytes());
        let bad = w(&c, aiv, &[7; 16]).unwrap();
        assert_eq!(
            kwp_decrypt(&c, KWP_PREFIX, &bad).err(),
            Some(Error::EncryptedDataInvalid)
        );
    }

    #[test]
    fn pad_is_pkcs7_then_rfc3394() {
        for len in 8..=40usize {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let wrapped = run(WrapKind::Pad, KEK128, true, &data).unwrap();
            let mut padded = data.clone();
            let n = 8 - len % 8;
            padded.extend(vec![n as u8; n]);
            assert_eq!(
                run(WrapKind::Kw(KW_IV), KEK128, true, &padded).unwrap(),
                wrapped
            );
            assert_eq!(run(WrapKind::Pad, KEK128, false, &wrapped).unwrap(), data);
        }
        // Fewer than 8 bytes pad to a single semiblock, which KW cannot wrap.
        assert_eq!(
            run(WrapKind::Pad, KEK128, true, &[1; 7]).err(),
            Some(Error::DataLenRange)
        );
        // A KW wrap of unpadded data fails the padding check.
        let raw = run(WrapKind::Kw(KW_IV), KEK128, true, &[0; 24]).unwrap();
        assert_eq!(
            run(WrapKind::Pad, KEK128, false, &raw).err(),
            Some(Error::EncryptedDataInvalid)
        );
    }

    #[test]
    fn kinds_from_params() {
        assert_eq!(
            WrapKind::new(CKM_AES_KEY_WRAP, &Params::None),
            Ok(WrapKind::Kw(KW_IV))
        );
        assert_eq!(
            WrapKind::new(CKM_AES_KEY_WRAP_KWP, &Params::Iv(vec![1, 2, 3, 4])),
            Ok(WrapKind::Kwp([1, 2, 3, 4]))
        );
        assert_eq!(
            WrapKind::new(CKM_AES_KEY_WRAP_PAD, &Params::None),
            Ok(WrapKind::Pad)
        );
        for (m, p) in [
            (CKM_AES_KEY_WRAP, Params::Iv(vec![0; 4])),
            (CKM_AES_KEY_WRAP_KWP, Params::Iv(vec![0; 8])),
            (CKM_AES_KEY_WRAP_PAD, Params::Iv(vec![0; 4])),
            (CKM_AES_ECB, Params::None),
        ] {
            assert_eq!(WrapKind::new(m, &p), Err(Error::MechanismParamInvalid));
        }
        let op = KeyWrapOp::new(cipher(KEK128), WrapKind::Pad, true);
        assert!(!op.multipart());
    }

    /// The one-call path C_WrapKey/C_UnwrapKey take answers exactly as the
    /// general AES path (an operation fed once): same bytes, same errors.
    #[test]
    fn one_call_path_matches_the_operation_path() {
        use super::super::Mechanism;
        use super::super::aes;
        use super::super::params::Params;
        let kek = Key::secret(CKK_AES, &unhex(KEK256)).unwrap();
        let des = Key::secret(CKK_GENERIC_SECRET, &[1; 32]).unwrap();
        let m = |mech, params| Mechanism { mech, params };
        let mechs = [
            m(CKM_AES_KEY_WRAP, Params::None),
            m(CKM_AES_KEY_WRAP, Params::Iv(vec![7; 8])),
            m(CKM_AES_KEY_WRAP_KWP, Params::None),
            m(CKM_AES_KEY_WRAP_KWP, Params::Iv(vec![7; 4])),
            m(CKM_AES_KEY_WRAP_PAD, Params::None),
            m(CKM_AES_KEY_WRAP_PAD, Params::Iv(vec![7; 8])),
        ];
        for mech in &mechs {
            for len in [0usize, 1, 7, 8, 16, 20, 24, 32, 40] {
                let material = vec![0x5a; len];
                let direct = wrap_key(mech, &kek, &material);
                assert_eq!(direct, aes::wrap(mech, &kek, &material), "{mech:?} {len}");
                assert_eq!(
                    wrap_key(mech, &des, &material),
                    aes::wrap(mech, &des, &material)
                );
                let Ok(wrapped) = direct else { continue };
                let back = unwrap_key(mech, &kek, &wrapped);
                assert_eq!(back, aes::unwrap(mech, &kek, &wrapped));
                assert_eq!(back.unwrap().as_slice(), material.as_slice());
                let mut bad = wrapped.clone();
                bad[0] ^= 1;
                assert_eq!(unwrap_key(mech, &kek, &bad), aes::unwrap(mech, &kek, &bad));
                for cut in [0, 1, 8, wrapped.len() - 1] {
                    let short = &wrapped[..cut];
                    assert_eq!(
                        unwrap_key(mech, &kek, short),
                        aes::unwrap(mech, &kek, short),
                        "{mech:?} cut to {cut}"
                    );
                }
            }
        }
    }
}
