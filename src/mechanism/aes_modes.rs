//! AES ECB, CBC, CBC with PKCS#7 padding and CTR as streaming cipher
//! operations over the block cipher. The modes are written here rather than
//! taken from the `ecb`/`cbc`/`ctr` crates because PKCS#11 needs what those
//! do not offer: CTR's counter of any width up to 128 bits with wrap refused
//! (CK_AES_CTR_PARAMS), and CBC_PAD decryption that keeps its last block
//! back across updates. Checked against NIST SP 800-38A.
//!
//! In the aws-lc build an operation may hold the key's aws-lc form
//! (`lc`, provider/symmetric.rs `mode_in_aws_lc`): its whole blocks and
//! counter runs then run in AWS-LC; buffering, padding and the counter
//! rules stay here.

use std::sync::Arc;

use subtle::{ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

use super::aes::{AesCipher, BLOCK};
use super::cipher::CipherOp;
#[cfg(feature = "aws-lc")]
use super::provider::symmetric::AesKeys;
use crate::error::{Error, Result};

/// `dst ^= src` over the shorter, 16 bytes at a time where it can.
fn xor(dst: &mut [u8], src: &[u8]) {
    let (d16, _) = dst.as_chunks_mut::<16>();
    let (s16, _) = src.as_chunks::<16>();
    for (d, s) in d16.iter_mut().zip(s16) {
        *d = (u128::from_ne_bytes(*d) ^ u128::from_ne_bytes(*s)).to_ne_bytes();
    }
    let done = d16.len().min(s16.len()) * 16;
    let (Some(d_tail), Some(s_tail)) = (dst.get_mut(done..), src.get(done..)) else {
        return;
    };
    for (d, s) in d_tail.iter_mut().zip(s_tail) {
        *d ^= s;
    }
}

/// Blocks handled per batch: enough for the block cipher's parallel path,
/// small enough for the stack.
const BATCH: usize = 32;

/// A stack stretch of keystream (CTR, GCM) that zeroizes on drop only the
/// bytes it handed out: a 64-byte message wipes 64 bytes, not 512.
pub(super) struct KeyStream {
    buf: [u8; BATCH * BLOCK],
    dirty: usize,
}

impl KeyStream {
    pub(super) const LEN: usize = BATCH * BLOCK;

    pub(super) fn new() -> KeyStream {
        KeyStream {
            buf: [0; BATCH * BLOCK],
            dirty: 0,
        }
    }

    /// The first `len` bytes (at most [`KeyStream::LEN`]).
    pub(super) fn get(&mut self, len: usize) -> Result<&mut [u8]> {
        self.dirty = self.dirty.max(len);
        self.buf.get_mut(..len).ok_or(Error::GeneralError)
    }
}

impl Drop for KeyStream {
    fn drop(&mut self) {
        if let Some(used) = self.buf.get_mut(..self.dirty) {
            zeroize::Zeroize::zeroize(used);
        }
    }
}

/// Bytes in the whole blocks of `len` bytes.
fn whole_blocks(len: usize) -> usize {
    len - len % BLOCK
}

/// Appends to a secret buffer; when it must grow, the old allocation is
/// zeroized (by `Zeroizing`'s drop) instead of being freed with its bytes.
/// Memory is reserved fallibly: a caller feeding more than the host can
/// hold gets CKR_HOST_MEMORY, not an aborted process.
pub(super) fn append_secret(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) -> Result<()> {
    let need = buf
        .len()
        .checked_add(data.len())
        .ok_or(Error::DataLenRange)?;
    grow_secret(buf, need)?;
    buf.extend_from_slice(data);
    Ok(())
}

/// Makes room for `need` bytes in all (doubling where it can), moving the
/// contents to a new allocation so the old one is zeroized as it drops.
fn grow_secret(buf: &mut Zeroizing<Vec<u8>>, need: usize) -> Result<()> {
    if need <= buf.capacity() {
        return Ok(());
    }
    let mut bigger: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    if bigger
        .try_reserve_exact(need.max(buf.capacity().saturating_mul(2)))
        .is_err()
    {
        bigger
            .try_reserve_exact(need)
            .map_err(|_| Error::HostMemory)?;
    }
    bigger.extend_from_slice(buf);
    *buf = bigger;
    Ok(())
}

/// The PKCS#7 padding length of a final block `tail` (8 or 16 bytes), in
/// constant time: None unless the last byte `v` is 1..=len and the last `v`
/// bytes all equal `v`.
pub(super) fn pkcs7_pad_len(tail: &[u8]) -> Option<usize> {
    let n = u8::try_from(tail.len()).ok()?;
    let v = *tail.last()?;
    let mut ok = v.ct_gt(&0) & !v.ct_gt(&n);
    for (byte, from_end) in tail.iter().rev().zip(1..=n) {
        let in_pad = !from_end.ct_gt(&v);
        ok &= !in_pad | byte.ct_eq(&v);
    }
    bool::from(ok).then_some(usize::from(v))
}

/// The PKCS#7 padding for `len` bytes of data in blocks of `block` bytes:
/// 1..=block bytes, each the padding length.
pub(super) fn pkcs7_padding(len: usize, block: u8) -> Vec<u8> {
    let block_len = usize::from(block).max(1);
    let n = block_len - len % block_len;
    // n is 1..=block, so it fits the byte it is written as.
    let value = u8::try_from(n).unwrap_or(block);
    vec![value; n]
}

/// ECB, CBC or CBC_PAD in one direction. Whole blocks are released as they
/// arrive; CBC_PAD decryption keeps the last block back until `finish`,
/// where its padding is checked.
pub(super) struct BlockModeOp {
    cipher: Arc<AesCipher>,
    /// CBC's chaining value (the IV, then the last ciphertext block).
    chain: Option<[u8; BLOCK]>,
    pad: bool,
    encrypt: bool,
    pending: Zeroizing<Vec<u8>>,
    done: bool,
    /// The key in aws-lc's form, when this mode runs there.
    #[cfg(feature = "aws-lc")]
    lc: Option<Arc<AesKeys>>,
}

impl BlockModeOp {
    /// `iv` None is ECB.
    pub(super) fn new(
        cipher: Arc<AesCipher>,
        iv: Option<[u8; BLOCK]>,
        pad: bool,
        encrypt: bool,
    ) -> BlockModeOp {
        BlockModeOp {
            cipher,
            chain: iv,
            pad,
            encrypt,
            // Allocated on first use: a one-shot call into the caller's
            // buffer never needs it.
            pending: Zeroizing::new(Vec::new()),
            done: false,
            #[cfg(feature = "aws-lc")]
            lc: None,
        }
    }

    /// Runs the mode's blocks in aws-lc (the aws-lc build).
    #[cfg(feature = "aws-lc")]
    pub(super) fn with_aws_lc(mut self, lc: Arc<AesKeys>) -> BlockModeOp {
        self.lc = Some(lc);
        self
    }

    /// The last block of a CBC_PAD message decrypted on its own, `prev`
    /// the ciphertext block before it.
    fn decrypt_last(&self, prev: [u8; BLOCK], last: &mut [u8; BLOCK]) -> Result<()> {
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = &self.lc {
            let mut chain = prev;
            return lc.cbc(false, &mut chain, last);
        }
        self.cipher.decrypt_block(last);
        xor(last.as_mut_slice(), &prev);
        Ok(())
    }

    /// How many of `len` buffered bytes `update` may release.
    fn releasable(&self, len: usize) -> usize {
        if self.pad && !self.encrypt {
            // Keep 1..=16 bytes: the last block may be the padding.
            whole_blocks(len.saturating_sub(1))
        } else {
            whole_blocks(len)
        }
    }

    /// Runs the mode over whole blocks in place.
    fn process(&mut self, data: &mut [u8]) -> Result<()> {
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = &self.lc {
            let whole = whole_blocks(data.len());
            let data = data.get_mut(..whole).ok_or(Error::GeneralError)?;
            return match self.chain.as_mut() {
                Some(chain) => lc.cbc(self.encrypt, chain, data),
                None => lc.ecb(self.encrypt, data),
            };
        }
        let Some(chain) = self.chain.as_mut() else {
            if self.encrypt {
                self.cipher.encrypt_blocks(data);
            } else {
                self.cipher.decrypt_blocks(data);
            }
            return Ok(());
        };
        let (blocks, _) = data.as_chunks_mut::<BLOCK>();
        if self.encrypt {
            for block in blocks {
                xor(block, chain.as_slice());
                self.cipher.encrypt_block(block);
                *chain = *block;
            }
        } else {
            // A batch of blocks through the cipher's parallel path; only
            // that batch's ciphertext (public) is kept aside for chaining,
            // never a copy of the whole input.
            for group in blocks.chunks_mut(BATCH) {
                let mut saved = [[0u8; BLOCK]; BATCH];
                let Some(kept) = saved.get_mut(..group.len()) else {
                    return Err(Error::GeneralError);
                };
                kept.copy_from_slice(group);
                self.cipher.decrypt_blocks(group.as_flattened_mut());
                let previous = std::iter::once(*chain).chain(kept.iter().copied());
                for (block, prev) in group.iter_mut().zip(previous) {
                    xor(block, &prev);
                }
                if let Some(last) = kept.last() {
                    *chain = *last;
                }
            }
        }
        Ok(())
    }

    /// The exact output of a fresh single-part call over `len` bytes,
    /// when the length alone tells it (not CBC_PAD decryption, whose
    /// padding is only known after the work; not a length the mode
    /// refuses, which the buffered path reports).
    fn fresh_len(&self, len: usize) -> Option<usize> {
        if self.done || !self.pending.is_empty() {
            return None;
        }
        match (self.pad, self.encrypt) {
            (true, true) => whole_blocks(len).checked_add(BLOCK),
            (false, _) if len.is_multiple_of(BLOCK) => Some(len),
            _ => None,
        }
    }

    /// CBC_PAD decryption of a whole message into the caller's buffer.
    /// The last block is decrypted first, on the stack, and its padding
    /// checked: a failed call writes nothing, and the output needs room
    /// for the plaintext only.
    fn single_pad_decrypt(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        let n = data.len();
        if n == 0 || !n.is_multiple_of(BLOCK) {
            self.done = true;
            return Err(Error::EncryptedDataLenRange);
        }
        let body_len = n - BLOCK;
        let prev: [u8; BLOCK] = match body_len {
            0 => self.chain.ok_or(Error::GeneralError)?,
            _ => data
                .get(body_len - BLOCK..body_len)
                .and_then(|b| b.try_into().ok())
                .ok_or(Error::GeneralError)?,
        };
        let mut last = Zeroizing::new(
            <[u8; BLOCK]>::try_from(data.get(body_len..).ok_or(Error::GeneralError)?)
                .map_err(|_| Error::GeneralError)?,
        );
        self.decrypt_last(prev, &mut last)?;
        let Some(pad) = pkcs7_pad_len(last.as_slice()) else {
            self.done = true;
            return Err(Error::EncryptedDataInvalid);
        };
        let plain_len = n - pad;
        let Some(dst) = out.get_mut(..plain_len) else {
            return Ok(None);
        };
        self.done = true;
        let (body, tail) = dst.split_at_mut(body_len);
        body.copy_from_slice(data.get(..body_len).ok_or(Error::GeneralError)?);
        self.process(body)?;
        tail.copy_from_slice(last.get(..BLOCK - pad).ok_or(Error::GeneralError)?);
        Ok(Some(plain_len))
    }

    fn finish_pad_encrypt(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(BLOCK);
        out.extend_from_slice(&self.pending);
        out.extend_from_slice(&pkcs7_padding(self.pending.len(), 16));
        self.process(&mut out)?;
        Ok(out)
    }

    fn finish_pad_decrypt(&mut self) -> Result<Vec<u8>> {
        let block: [u8; BLOCK] = self
            .pending
            .as_slice()
            .try_into()
            .map_err(|_| Error::EncryptedDataLenRange)?;
        let mut block = Zeroizing::new(block);
        self.process(block.as_mut_slice())?;
        let pad = pkcs7_pad_len(block.as_slice()).ok_or(Error::EncryptedDataInvalid)?;
        block
            .get(..BLOCK - pad)
            .map(<[u8]>::to_vec)
            .ok_or(Error::EncryptedDataInvalid)
    }
}

impl CipherOp for BlockModeOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        let total = self
            .pending
            .len()
            .checked_add(data.len())
            .ok_or(Error::DataLenRange)?;
        let n = self.releasable(total);
        // The released blocks go straight into the output, processed in
        // place; one block of room is left for what `finish` adds, so a
        // single-part call appends it without moving the data again.
        let from_pending = n.min(self.pending.len());
        let from_data = n - from_pending;
        let mut out = Zeroizing::new(Vec::with_capacity(n.saturating_add(BLOCK)));
        out.extend_from_slice(
            self.pending
                .get(..from_pending)
                .ok_or(Error::GeneralError)?,
        );
        out.extend_from_slice(data.get(..from_data).ok_or(Error::GeneralError)?);
        // What stays back is under two blocks: it fits the new buffer's
        // capacity, so it is never reallocated (and left behind) either.
        let mut rest = Zeroizing::new(Vec::with_capacity(2 * BLOCK));
        rest.extend_from_slice(
            self.pending
                .get(from_pending..)
                .ok_or(Error::GeneralError)?,
        );
        rest.extend_from_slice(data.get(from_data..).ok_or(Error::GeneralError)?);
        self.pending = rest;
        self.process(&mut out)?;
        // Only output leaves: plaintext (encrypting) was overwritten in
        // place; the wrapper just covered the early returns above.
        Ok(std::mem::take(&mut *out))
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        match (self.pad, self.encrypt) {
            (true, true) => self.finish_pad_encrypt(),
            (true, false) => self.finish_pad_decrypt(),
            (false, true) if !self.pending.is_empty() => Err(Error::DataLenRange),
            (false, false) if !self.pending.is_empty() => Err(Error::EncryptedDataLenRange),
            (false, _) => Ok(Vec::new()),
        }
    }

    /// A fresh single-part call straight into `out`: the input is copied
    /// once into place and the mode runs over it there (padding appended
    /// in place too), no intermediate buffer.
    fn single_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done || !self.pending.is_empty() {
            return Ok(None);
        }
        if self.pad && !self.encrypt {
            return self.single_pad_decrypt(data, out);
        }
        let Some(need) = self.fresh_len(data.len()) else {
            // A length the mode refuses: the buffered path reports it.
            return Ok(None);
        };
        let Some(dst) = out.get_mut(..need) else {
            return Ok(None);
        };
        self.done = true;
        #[cfg(feature = "aws-lc")]
        let fused_ok = self.lc.is_none();
        #[cfg(not(feature = "aws-lc"))]
        let fused_ok = true;
        if fused_ok
            && self.encrypt
            && data.len() >= FUSED_MIN
            && let Some(iv) = self.chain
            && cbc_encrypt_fused(&self.cipher, iv, self.pad, data, dst).is_ok()
        {
            return Ok(Some(need));
        }
        let (body, padding) = dst.split_at_mut(data.len());
        body.copy_from_slice(data);
        if let Some(n) = u8::try_from(padding.len()).ok().filter(|_| self.pad) {
            padding.fill(n);
        }
        self.process(dst)?;
        Ok(Some(need))
    }

    fn single_len(&self, len: usize) -> Option<usize> {
        self.fresh_len(len)
    }

    /// The released blocks go from the kept bytes and the caller's input
    /// straight into the caller's buffer and are processed there; what
    /// stays back (under two blocks) stays in `pending`, whose capacity
    /// it fits, so that buffer never moves.
    fn update_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        let total = self
            .pending
            .len()
            .checked_add(data.len())
            .ok_or(Error::DataLenRange)?;
        let n = self.releasable(total);
        let Some(dst) = out.get_mut(..n) else {
            return Ok(None);
        };
        let from_pending = n.min(self.pending.len());
        let (head, body) = dst.split_at_mut(from_pending);
        head.copy_from_slice(
            self.pending
                .get(..from_pending)
                .ok_or(Error::GeneralError)?,
        );
        let (now, later) = data.split_at(body.len());
        body.copy_from_slice(now);
        self.pending.drain(..from_pending);
        if self.pending.capacity() == 0 {
            // Room for anything kept back (under two blocks) up front, so
            // the buffer is never regrown and left behind unzeroized.
            self.pending.reserve_exact(2 * BLOCK);
        }
        self.pending.extend_from_slice(later);
        self.process(dst)?;
        Ok(Some(n))
    }

    /// Everything `len` more bytes can add up to (whole blocks); for
    /// CBC_PAD decryption this also covers what `finish` releases later.
    fn update_len(&self, len: usize) -> usize {
        whole_blocks(self.pending.len().saturating_add(len))
    }

    fn finish_len(&self) -> usize {
        match (self.pad, self.encrypt) {
            (true, true) => BLOCK,
            (true, false) if self.pending.len() == BLOCK => BLOCK - 1,
            _ => 0,
        }
    }
}

/// CTR (either direction). The counter is the low `counter_bits` bits of
/// the block, big-endian; input that would take it past all-ones (and so
/// wrap to a counter already used) is refused with DataLenRange before any
/// output, as in RFC 3686 where a counter starting at 1 allows 2^32-1
/// blocks.
pub(super) struct CtrOp {
    cipher: Arc<AesCipher>,
    /// The block's bits above the counter (the nonce), counter bits clear.
    nonce: u128,
    mask: u128,
    /// The counter of the next keystream block.
    next: u128,
    /// Keystream blocks still allowed (saturates for a 128-bit counter).
    left: u128,
    keystream: Zeroizing<[u8; BLOCK]>,
    /// Bytes of `keystream` already used.
    used: usize,
    /// The key in aws-lc's form, when CTR runs there.
    #[cfg(feature = "aws-lc")]
    lc: Option<Arc<AesKeys>>,
}

impl CtrOp {
    pub(super) fn new(
        cipher: Arc<AesCipher>,
        counter_bits: u32,
        block: [u8; BLOCK],
    ) -> Result<CtrOp> {
        let mask = match counter_bits {
            128 => u128::MAX,
            1..128 => (1u128 << counter_bits) - 1,
            _ => return Err(Error::MechanismParamInvalid),
        };
        let value = u128::from_be_bytes(block);
        let next = value & mask;
        Ok(CtrOp {
            cipher,
            nonce: value & !mask,
            mask,
            next,
            left: (mask - next).saturating_add(1),
            keystream: Zeroizing::new([0; BLOCK]),
            used: BLOCK,
            #[cfg(feature = "aws-lc")]
            lc: None,
        })
    }

    /// Runs the counter runs in aws-lc (the aws-lc build).
    #[cfg(feature = "aws-lc")]
    pub(super) fn with_aws_lc(mut self, lc: Arc<AesKeys>) -> CtrOp {
        self.lc = Some(lc);
        self
    }

    /// [`CtrOp::apply_into`] in aws-lc: the rest of a started keystream
    /// block first, then one aws-lc CTR run from the next counter over
    /// the caller's bytes; a run ending mid-block keeps that block's
    /// keystream (one more block from aws-lc) for the next call.
    #[cfg(feature = "aws-lc")]
    fn apply_lc(&mut self, lc: &AesKeys, input: &[u8], out: &mut [u8]) -> Result<()> {
        let buffered = self.keystream.get(self.used..).ok_or(Error::GeneralError)?;
        let take = buffered.len().min(input.len());
        let (in_head, in_tail) = input.split_at(take);
        let (out_head, out_tail) = out.split_at_mut(take);
        xor_into(out_head, in_head, buffered);
        self.used += take;
        if in_tail.is_empty() {
            return Ok(());
        }
        let out_tail = out_tail
            .get_mut(..in_tail.len())
            .ok_or(Error::GeneralError)?;
        out_tail.copy_from_slice(in_tail);
        lc.ctr((self.nonce | self.next).to_be_bytes(), out_tail)?;
        let blocks = in_tail.len().div_ceil(BLOCK);
        let n = u128::try_from(blocks).map_err(|_| Error::GeneralError)?;
        let rem = in_tail.len() % BLOCK;
        if rem != 0 {
            let last = self.next.wrapping_add(n - 1) & self.mask;
            let mut ks = Zeroizing::new([0u8; BLOCK]);
            lc.ctr((self.nonce | last).to_be_bytes(), ks.as_mut_slice())?;
            self.keystream = ks;
            self.used = rem;
        } else {
            self.used = BLOCK;
        }
        self.next = self.next.wrapping_add(n) & self.mask;
        self.left = self.left.saturating_sub(n);
        Ok(())
    }

    /// Fills `stream` (whole blocks) with fresh keystream.
    fn generate(&mut self, stream: &mut [u8]) {
        let (blocks, _) = stream.as_chunks_mut::<BLOCK>();
        let n = blocks.len();
        for block in blocks {
            *block = (self.nonce | self.next).to_be_bytes();
            self.next = self.next.wrapping_add(1) & self.mask;
        }
        // Once per batch (the caller checked the room beforehand).
        self.left = self
            .left
            .saturating_sub(u128::try_from(n).unwrap_or(u128::MAX));
        self.cipher.encrypt_blocks(stream);
    }
}

impl CtrOp {
    /// Refuses input that would take the counter past its last value,
    /// before any output.
    fn check_room(&self, len: usize) -> Result<()> {
        let buffered = BLOCK - self.used;
        let blocks = len.saturating_sub(buffered).div_ceil(BLOCK);
        if u128::try_from(blocks).map_err(|_| Error::DataLenRange)? > self.left {
            return Err(Error::DataLenRange);
        }
        Ok(())
    }

    /// `out = input XOR keystream`, continuing the stream: one pass, from
    /// the caller's input straight to the output (which may be the
    /// caller's buffer). `out` is as long as `input`.
    fn apply_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<()> {
        self.check_room(input.len())?;
        #[cfg(feature = "aws-lc")]
        if let Some(lc) = self.lc.clone() {
            return self.apply_lc(&lc, input, out);
        }
        let buffered = self.keystream.get(self.used..).ok_or(Error::GeneralError)?;
        let take = buffered.len().min(input.len());
        let (in_head, in_tail) = input.split_at(take);
        let (out_head, out_tail) = out.split_at_mut(take);
        xor_into(out_head, in_head, buffered);
        self.used += take;
        if in_tail.is_empty() {
            return Ok(());
        }
        // Keystream a stack-sized batch at a time, zeroized once at the end.
        let mut stream = KeyStream::new();
        for (src, dst) in in_tail
            .chunks(BATCH * BLOCK)
            .zip(out_tail.chunks_mut(BATCH * BLOCK))
        {
            let len = src.len().div_ceil(BLOCK) * BLOCK;
            let ks = stream.get(len)?;
            self.generate(ks);
            xor_into(dst, src, ks);
            let last_start = len - BLOCK;
            let last: [u8; BLOCK] = ks
                .get(last_start..)
                .and_then(|s| s.try_into().ok())
                .ok_or(Error::GeneralError)?;
            *self.keystream = last;
            self.used = src.len() - last_start;
        }
        Ok(())
    }
}

/// Inputs from which whole CTR blocks take the `ctr` crate's path.
const FUSED_MIN: usize = 256;

/// `out = input XOR keystream` for whole blocks, the counter starting at
/// `block` and counting over all 128 bits, through the `ctr` crate,
/// borrowing the key's cached round keys (no copy).
fn ctr_fused(cipher: &AesCipher, block: [u8; BLOCK], input: &[u8], out: &mut [u8]) -> Result<()> {
    use ctr::cipher::{InnerIvInit, StreamCipher};
    let iv = block.into();
    match cipher {
        AesCipher::A128(c) => {
            ctr::Ctr128BE::<&aes::Aes128>::from_core(ctr::CtrCore::inner_iv_init(c, &iv))
                .try_apply_keystream_b2b(input, out)
        }
        AesCipher::A192(c) => {
            ctr::Ctr128BE::<&aes::Aes192>::from_core(ctr::CtrCore::inner_iv_init(c, &iv))
                .try_apply_keystream_b2b(input, out)
        }
        AesCipher::A256(c) => {
            ctr::Ctr128BE::<&aes::Aes256>::from_core(ctr::CtrCore::inner_iv_init(c, &iv))
                .try_apply_keystream_b2b(input, out)
        }
    }
    .map_err(|_| Error::GeneralError)
}

/// One-shot CBC encryption from `input` straight into `out` (exactly the
/// padded length) through the `cbc` crate, whose code is specialised for
/// the cipher (our per-block path dispatches on the key size every block),
/// borrowing the key's cached round keys (no copy).
fn cbc_encrypt_fused(
    cipher: &AesCipher,
    iv: [u8; BLOCK],
    pad: bool,
    input: &[u8],
    out: &mut [u8],
) -> Result<()> {
    use cbc::cipher::block_padding::{NoPadding, Pkcs7};
    use cbc::cipher::{BlockModeEncrypt, InnerIvInit};
    fn run<C: cbc::cipher::BlockCipherEncrypt<BlockSize = cbc::cipher::consts::U16>>(
        c: &C,
        iv: [u8; BLOCK],
        pad: bool,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let mode = cbc::Encryptor::<&C>::inner_iv_init(c, &iv.into());
        let written = if pad {
            mode.encrypt_padded_b2b::<Pkcs7>(input, out)
        } else {
            mode.encrypt_padded_b2b::<NoPadding>(input, out)
        }
        .map_err(|_| Error::GeneralError)?;
        if written.len() == out.len() {
            Ok(())
        } else {
            Err(Error::GeneralError)
        }
    }
    match cipher {
        AesCipher::A128(c) => run(c, iv, pad, input, out),
        AesCipher::A192(c) => run(c, iv, pad, input, out),
        AesCipher::A256(c) => run(c, iv, pad, input, out),
    }
}

/// `dst = a XOR b` over the shortest of the three, 16 bytes at a time
/// where it can (the byte loop did not vectorize: CTR spent as long in it
/// as in AES).
pub(super) fn xor_into(dst: &mut [u8], a: &[u8], b: &[u8]) {
    let n = dst.len().min(a.len()).min(b.len());
    let (Some(dst), Some(a), Some(b)) = (dst.get_mut(..n), a.get(..n), b.get(..n)) else {
        return;
    };
    let (d16, d_rest) = dst.as_chunks_mut::<16>();
    let (a16, a_rest) = a.as_chunks::<16>();
    let (b16, b_rest) = b.as_chunks::<16>();
    for ((d, x), y) in d16.iter_mut().zip(a16).zip(b16) {
        *d = (u128::from_ne_bytes(*x) ^ u128::from_ne_bytes(*y)).to_ne_bytes();
    }
    for ((d, x), y) in d_rest.iter_mut().zip(a_rest).zip(b_rest) {
        *d = x ^ y;
    }
}

impl CipherOp for CtrOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.check_room(data.len())?;
        let mut out = vec![0u8; data.len()];
        self.apply_into(data, &mut out)?;
        Ok(out)
    }

    /// Straight into the caller's buffer (CTR output is as long as the
    /// input); a counter that would wrap is refused before any output.
    fn single_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        let Some(dst) = out.get_mut(..data.len()) else {
            return Ok(None);
        };
        self.check_room(data.len())?;
        // Whole blocks from a block boundary go through the `ctr` crate's
        // fused path (counter blocks, AES 8 at a time and the XOR in one
        // pass); the rest, and short inputs (where setting the crate up
        // costs more than it saves), through our own keystream.
        #[cfg(feature = "aws-lc")]
        let fused_ok = self.lc.is_none();
        #[cfg(not(feature = "aws-lc"))]
        let fused_ok = true;
        let whole = if fused_ok && self.used == BLOCK && data.len() >= FUSED_MIN {
            data.len() / BLOCK * BLOCK
        } else {
            0
        };
        let (fused_in, rest_in) = data.split_at(whole);
        let (fused_out, rest_out) = dst.split_at_mut(whole);
        // A 128-bit counter gives the same blocks as the n-bit one here:
        // `check_room` refused any run that would carry past the counter's
        // bits. Should the crate still refuse the run, our path does it.
        let start = (self.nonce | self.next).to_be_bytes();
        if whole > 0 && ctr_fused(&self.cipher, start, fused_in, fused_out).is_ok() {
            let blocks = u128::try_from(whole / BLOCK).map_err(|_| Error::GeneralError)?;
            self.next = self.next.wrapping_add(blocks) & self.mask;
            self.left = self.left.saturating_sub(blocks);
            self.apply_into(rest_in, rest_out)?;
        } else {
            self.apply_into(data, dst)?;
        }
        Ok(Some(data.len()))
    }

    fn single_len(&self, len: usize) -> Option<usize> {
        self.check_room(len).ok().map(|()| len)
    }

    fn update_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        self.single_into(data, out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn update_len(&self, len: usize) -> usize {
        len
    }

    fn finish_len(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    const KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    /// SP 800-38A F.1–F.5 plaintext (four blocks).
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                         30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const CTR_BLOCK: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    /// (key, ECB F.1, CBC F.2, CTR F.5) ciphertexts.
    const VECTORS: [(&str, &str, &str, &str); 2] = [
        (
            KEY128,
            "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
             43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
            "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
             73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
            "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
             5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            KEY256,
            "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
             b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
            "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
             39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
            "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
             2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
        ),
    ];

    fn block_op(key: &str, iv: Option<&str>, pad: bool, encrypt: bool) -> BlockModeOp {
        let cipher = Arc::new(AesCipher::new(&unhex(key)).unwrap());
        let iv = iv.map(|v| unhex(v).try_into().unwrap());
        BlockModeOp::new(cipher, iv, pad, encrypt)
    }

    fn ctr_op(key: &str, bits: u32, block: &str) -> CtrOp {
        let cipher = Arc::new(AesCipher::new(&unhex(key)).unwrap());
        CtrOp::new(cipher, bits, unhex(block).try_into().unwrap()).unwrap()
    }

    fn single(op: &mut dyn CipherOp, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = op.update(data)?;
        out.extend(op.finish()?);
        Ok(out)
    }

    /// Feeds `data` in parts of the given sizes (cycled).
    fn parts(op: &mut dyn CipherOp, data: &[u8], sizes: &[usize]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = data;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*size).min(rest.len()));
            let bound = op.update_len(now.len());
            let got = op.update(now)?;
            assert!(got.len() <= bound);
            out.extend(got);
            rest = later;
        }
        let bound = op.finish_len();
        let last = op.finish()?;
        assert!(last.len() <= bound);
        out.extend(last);
        Ok(out)
    }

    #[test]
    fn sp800_38a_ecb_cbc_ctr() {
        let plain = unhex(PLAIN);
        for (key, ecb, cbc, ctr) in VECTORS {
            let (ecb, cbc, ctr) = (unhex(ecb), unhex(cbc), unhex(ctr));
            assert_eq!(
                single(&mut block_op(key, None, false, true), &plain).unwrap(),
                ecb
            );
            assert_eq!(
                single(&mut block_op(key, None, false, false), &ecb).unwrap(),
                plain
            );
            let enc = single(&mut block_op(key, Some(IV), false, true), &plain).unwrap();
            assert_eq!(enc, cbc);
            let dec = single(&mut block_op(key, Some(IV), false, false), &cbc).unwrap();
            assert_eq!(dec, plain);
            assert_eq!(
                single(&mut ctr_op(key, 128, CTR_BLOCK), &plain).unwrap(),
                ctr
            );
            assert_eq!(
                single(&mut ctr_op(key, 64, CTR_BLOCK), &ctr).unwrap(),
                plain
            );
        }
    }

    /// Long inputs cross the keystream / decryption batches (BATCH
    /// blocks); single-part and odd multipart splits must both equal a
    /// block-at-a-time reference.
    #[test]
    fn long_inputs_match_a_block_at_a_time_reference() {
        let key = unhex(KEY256);
        let cipher = Arc::new(AesCipher::new(&key).unwrap());
        let iv: [u8; BLOCK] = unhex(IV).try_into().unwrap();
        let ctr0: [u8; BLOCK] = unhex(CTR_BLOCK).try_into().unwrap();
        for blocks in [31usize, 32, 33, 64, 65, 200] {
            let plain: Vec<u8> = (0..blocks * BLOCK).map(|i| (i * 7) as u8).collect();
            // CBC reference, one block at a time.
            let mut cbc = plain.clone();
            let mut chain = iv;
            for block in cbc.as_chunks_mut::<BLOCK>().0 {
                xor(block, &chain);
                cipher.encrypt_block(block);
                chain = *block;
            }
            // CTR reference (128-bit counter), one block at a time.
            let mut ctr = plain.clone();
            let mut counter = u128::from_be_bytes(ctr0);
            for block in ctr.as_chunks_mut::<BLOCK>().0 {
                let mut ks = counter.to_be_bytes();
                cipher.encrypt_block(&mut ks);
                xor(block, &ks);
                counter = counter.wrapping_add(1);
            }
            for sizes in [&[usize::MAX][..], &[1, 700, 33], &[513]] {
                let mut op = block_op(KEY256, Some(IV), false, true);
                assert_eq!(parts(&mut op, &plain, sizes).unwrap(), cbc, "{blocks}");
                let mut op = block_op(KEY256, Some(IV), false, false);
                assert_eq!(parts(&mut op, &cbc, sizes).unwrap(), plain, "{blocks}");
                let mut op = block_op(KEY256, Some(IV), true, true);
                let padded = parts(&mut op, &plain, sizes).unwrap();
                assert_eq!(padded.get(..cbc.len()).unwrap(), cbc.as_slice());
                let mut op = block_op(KEY256, Some(IV), true, false);
                assert_eq!(parts(&mut op, &padded, sizes).unwrap(), plain);
                let mut op = ctr_op(KEY256, 128, CTR_BLOCK);
                assert_eq!(parts(&mut op, &plain, sizes).unwrap(), ctr, "{blocks}");
                // A CTR stream ending mid-block continues mid-block.
                let mut op = ctr_op(KEY256, 128, CTR_BLOCK);
                let odd = plain.get(..plain.len() - 5).unwrap();
                let want = ctr.get(..ctr.len() - 5).unwrap();
                assert_eq!(parts(&mut op, odd, sizes).unwrap(), want);
            }
        }
    }

    #[test]
    fn multipart_equals_single_part() {
        let plain = unhex(PLAIN);
        let splits: [&[usize]; 4] = [&[1], &[5, 11, 16], &[17, 3], &[0, 64]];
        for (key, ecb, cbc, ctr) in VECTORS {
            let (ecb, cbc, ctr) = (unhex(ecb), unhex(cbc), unhex(ctr));
            for sizes in splits {
                let mut op = block_op(key, None, false, true);
                assert_eq!(parts(&mut op, &plain, sizes).unwrap(), ecb);
                let mut op = block_op(key, Some(IV), false, false);
                assert_eq!(parts(&mut op, &cbc, sizes).unwrap(), plain);
                let mut op = ctr_op(key, 32, CTR_BLOCK);
                assert_eq!(parts(&mut op, &plain, sizes).unwrap(), ctr);
                let mut op = ctr_op(key, 128, CTR_BLOCK);
                assert_eq!(parts(&mut op, &ctr, sizes).unwrap(), plain);
            }
        }
    }

    #[test]
    fn unaligned_input_is_refused() {
        let mut op = block_op(KEY128, Some(IV), false, true);
        assert_eq!(op.update(&[0; 20]).unwrap().len(), 16);
        assert_eq!(op.finish().err(), Some(Error::DataLenRange));
        let mut op = block_op(KEY128, None, false, false);
        assert_eq!(
            single(&mut op, &[0; 15]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        let mut op = block_op(KEY128, Some(IV), true, false);
        assert_eq!(
            single(&mut op, &[0; 33]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        let mut op = block_op(KEY128, Some(IV), true, false);
        assert_eq!(
            single(&mut op, &[]).err(),
            Some(Error::EncryptedDataLenRange)
        );
    }

    #[test]
    fn cbc_pad_round_trips_and_lengths() {
        for key in [KEY128, KEY256] {
            for len in 0..=33usize {
                let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut enc = block_op(key, Some(IV), true, true);
                let expect_len = (len / 16 + 1) * 16;
                assert_eq!(enc.update_len(len) + enc.finish_len(), expect_len);
                let ct = single(&mut enc, &plain).unwrap();
                assert_eq!(ct.len(), expect_len);
                // The unpadded prefix is plain CBC.
                let mut cbc = block_op(key, Some(IV), false, true);
                let whole = len / 16 * 16;
                assert_eq!(single(&mut cbc, &plain[..whole]).unwrap(), ct[..whole]);
                let mut dec = block_op(key, Some(IV), true, false);
                assert!(dec.update_len(ct.len()) + dec.finish_len() >= len);
                assert_eq!(single(&mut dec, &ct).unwrap(), plain);
                for sizes in [&[1usize][..], &[7, 16], &[16]] {
                    let mut dec = block_op(key, Some(IV), true, false);
                    assert_eq!(parts(&mut dec, &ct, sizes).unwrap(), plain);
                    let mut enc = block_op(key, Some(IV), true, true);
                    assert_eq!(parts(&mut enc, &plain, sizes).unwrap(), ct);
                }
            }
        }
    }

    #[test]
    fn cbc_pad_decrypt_holds_the_last_block() {
        let ct = single(&mut block_op(KEY128, Some(IV), true, true), &[9; 20]).unwrap();
        let mut dec = block_op(KEY128, Some(IV), true, false);
        assert!(dec.update(&ct[..16]).unwrap().is_empty());
        assert_eq!(dec.update(&ct[16..]).unwrap(), vec![9; 16]);
        assert_eq!(dec.finish_len(), 15);
        assert_eq!(dec.finish().unwrap(), vec![9; 4]);
        assert_eq!(dec.finish().err(), Some(Error::OperationNotInitialized));
    }

    #[test]
    fn cbc_pad_bad_padding() {
        // Encrypt chosen last blocks raw, then decrypt with padding.
        let bad_tails: [&[u8]; 4] = [&[0; 16], &[17; 16], &[3, 3, 2][..], &[5; 4]];
        for tail in bad_tails {
            let mut block = [1u8; 16];
            block[16 - tail.len()..].copy_from_slice(tail);
            let ct = single(&mut block_op(KEY128, Some(IV), false, true), &block).unwrap();
            let mut dec = block_op(KEY128, Some(IV), true, false);
            assert_eq!(
                single(&mut dec, &ct).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
        let mut full = [16u8; 16];
        let ct = single(&mut block_op(KEY128, Some(IV), false, true), &full).unwrap();
        let mut dec = block_op(KEY128, Some(IV), true, false);
        assert_eq!(single(&mut dec, &ct).unwrap(), Vec::<u8>::new());
        full[0] = 15;
        let ct = single(&mut block_op(KEY128, Some(IV), false, true), &full).unwrap();
        let mut dec = block_op(KEY128, Some(IV), true, false);
        assert_eq!(
            single(&mut dec, &ct).err(),
            Some(Error::EncryptedDataInvalid)
        );
    }

    #[test]
    fn pkcs7_helpers() {
        assert_eq!(pkcs7_pad_len(&[1, 2, 3, 4, 5, 6, 7, 1]), Some(1));
        assert_eq!(pkcs7_pad_len(&[8; 8]), Some(8));
        assert_eq!(pkcs7_pad_len(&[9; 8]), None);
        assert_eq!(pkcs7_pad_len(&[0; 8]), None);
        assert_eq!(pkcs7_pad_len(&[1, 2, 3, 4, 5, 6, 2, 3]), None);
        assert_eq!(pkcs7_pad_len(&[]), None);
        assert_eq!(pkcs7_padding(0, 8), vec![8; 8]);
        assert_eq!(pkcs7_padding(13, 8), vec![3; 3]);
        assert_eq!(pkcs7_padding(16, 16), vec![16; 16]);
    }

    #[test]
    fn ctr_counter_wrap_is_refused() {
        // An 8-bit counter at 0xfd allows three blocks: fd, fe, ff.
        let block = "000102030405060708090a0b0c0d0efd";
        let mut op = ctr_op(KEY128, 8, block);
        assert_eq!(op.update(&[0; 49]).err(), Some(Error::DataLenRange));
        assert_eq!(op.update(&[0; 40]).unwrap().len(), 40);
        assert_eq!(op.update(&[0; 8]).unwrap().len(), 8);
        assert_eq!(op.update(&[0; 1]).err(), Some(Error::DataLenRange));
        assert!(op.update(&[]).unwrap().is_empty());
        // The counter bits only: the byte above the counter is untouched,
        // so the third block is E(..0eff), not E(..0f00).
        let full = single(&mut ctr_op(KEY128, 8, block), &[0; 48]).unwrap();
        let mut ecb = block_op(KEY128, None, false, true);
        let third = single(&mut ecb, &unhex("000102030405060708090a0b0c0d0eff")).unwrap();
        assert_eq!(full[32..], third[..]);
        // A 128-bit counter at all-ones has one block left.
        let mut op = ctr_op(KEY128, 128, "ffffffffffffffffffffffffffffffff");
        assert_eq!(op.update(&[0; 17]).err(), Some(Error::DataLenRange));
        assert_eq!(op.update(&[0; 16]).unwrap().len(), 16);
        // A one-bit counter at 0 allows two blocks.
        let mut op = ctr_op(KEY128, 1, "00000000000000000000000000000000");
        assert_eq!(op.update(&[0; 32]).unwrap().len(), 32);
        assert_eq!(op.update(&[0; 1]).err(), Some(Error::DataLenRange));
        let cipher = Arc::new(AesCipher::new(&unhex(KEY128)).unwrap());
        assert!(CtrOp::new(cipher, 0, [0; 16]).is_err());
    }

    #[test]
    fn growth_beyond_the_host_is_host_memory() {
        let mut buf = Zeroizing::new(vec![1u8; 3]);
        assert_eq!(
            grow_secret(&mut buf, usize::MAX / 2),
            Err(Error::HostMemory)
        );
        assert_eq!(*buf, vec![1, 1, 1], "the buffer is left as it was");
    }

    #[test]
    fn append_secret_grows() {
        let mut buf = Zeroizing::new(Vec::new());
        for i in 0..100u8 {
            append_secret(&mut buf, &[i; 3]).unwrap();
        }
        assert_eq!(buf.len(), 300);
        assert_eq!(buf[299], 99);
    }

    /// The `ctr` crate's fused path (whole blocks from a block boundary,
    /// inputs of at least FUSED_MIN) gives exactly the keystream our own
    /// block-at-a-time path gives, for narrow counters right up to their
    /// last value, across multi-part calls that leave it and come back to
    /// it; one block past the last counter value is refused before output.
    #[test]
    fn fused_ctr_matches_the_block_path_up_to_the_counter_limit() {
        let cipher = Arc::new(AesCipher::new(&unhex(KEY256)).unwrap());
        for bits in [8u32, 16, 32, 64, 127, 128] {
            // Room for exactly 70 blocks before the counter would wrap.
            let mask = if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            let start = (0xA5u128 << 120 & !mask) | (mask - 69);
            let block = start.to_be_bytes();
            let data: Vec<u8> = (0..70 * BLOCK).map(|i| (i * 7 % 251) as u8).collect();
            // Reference: one byte at a time (never the fused path).
            let mut slow = CtrOp::new(cipher.clone(), bits, block).unwrap();
            let mut want = vec![0u8; data.len()];
            for (d, o) in data.chunks(1).zip(want.chunks_mut(1)) {
                slow.apply_into(d, o).unwrap();
            }
            // One shot through the fused path.
            let mut fast = CtrOp::new(cipher.clone(), bits, block).unwrap();
            let mut got = vec![0u8; data.len()];
            assert_eq!(fast.single_into(&data, &mut got).unwrap(), Some(data.len()));
            assert_eq!(got, want, "{bits}-bit counter, one shot");
            // The counter is spent: one more byte is refused, nothing written.
            let mut one = [0u8; 1];
            assert_eq!(fast.single_into(&[0], &mut one), Err(Error::DataLenRange));
            // Multi-part: 5 bytes (ours), 300 (ours: mid-block), 15 (back on
            // a block boundary), then the rest (fused from a boundary).
            let mut parts = CtrOp::new(cipher.clone(), bits, block).unwrap();
            let mut got = vec![0u8; data.len()];
            let mut at = 0;
            for n in [5usize, 300, 15, data.len() - 320] {
                let done = parts
                    .update_into(&data[at..at + n], &mut got[at..at + n])
                    .unwrap();
                assert_eq!(done, Some(n));
                at += n;
            }
            assert_eq!(got, want, "{bits}-bit counter, in parts");
            // 71 blocks do not fit.
            let mut over = CtrOp::new(cipher.clone(), bits, block).unwrap();
            let long = vec![0u8; 71 * BLOCK];
            let mut out = vec![0xEEu8; long.len()];
            assert_eq!(over.single_into(&long, &mut out), Err(Error::DataLenRange));
            assert!(out.iter().all(|b| *b == 0xEE), "nothing written");
            // A wide counter carries across 32 and 64 bits inside a run.
            for carry_at in [32u32, 64] {
                if bits <= carry_at {
                    continue;
                }
                let start = (0xA5u128 << 120 & !mask) | ((1u128 << carry_at) - 10);
                let block = start.to_be_bytes();
                let mut slow = CtrOp::new(cipher.clone(), bits, block).unwrap();
                let mut want = vec![0u8; data.len()];
                for (d, o) in data.chunks(BLOCK).zip(want.chunks_mut(BLOCK)) {
                    slow.apply_into(d, o).unwrap();
                }
                let mut fast = CtrOp::new(cipher.clone(), bits, block).unwrap();
                let mut got = vec![0u8; data.len()];
                fast.single_into(&data, &mut got).unwrap();
                assert_eq!(got, want, "{bits}-bit counter carrying past bit {carry_at}");
            }
        }
    }
}
