//! AES-GCM (NIST SP 800-38D) as a cipher operation: encryption streams and
//! appends the tag in `finish`; decryption buffers everything and releases
//! plaintext only once the tag has verified. Built from the `aes` block
//! cipher and the `ghash` crate because CK_GCM_PARAMS allows any IV length
//! from 1 to 256 bytes and tags of 12 to 16 bytes, which `aes-gcm` only
//! offers as compile-time sizes. Cross-checked against `aes-gcm` in tests.

use std::sync::Arc;

use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aes::{AesCipher, BLOCK};
use super::aes_modes::{KeyStream, xor_into};
use super::cipher::CipherOp;
use super::gcm_fast::{self, GcmFast};
use crate::error::{Error, Result};

/// SP 800-38D's limit on the text: 2^39 - 256 bits.
const MAX_TEXT: u64 = ((1 << 32) - 2) * 16;
const MIN_TAG: usize = 12;
/// Keystream made per batch: enough blocks for the block cipher's
/// parallel path, small enough to live on the stack.
const STREAM: usize = KeyStream::LEN;

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

/// `dst = src XOR ks`, or `dst ^= ks` in place, over the shortest.
fn xor_from(dst: &mut [u8], src: Option<&[u8]>, ks: &[u8]) {
    match src {
        Some(src) => xor_into(dst, src, ks),
        None => xor(dst, ks),
    }
}

/// The gate before this file's own GCM code runs: free in the default
/// build; in the aws-lc build a fallback from aws-lc (provider/symmetric.rs),
/// refused in the FIPS build.
fn own_path() -> Result<()> {
    #[cfg(feature = "aws-lc")]
    crate::mechanism::provider::symmetric::own_path()?;
    Ok(())
}

fn bits(len: usize) -> Result<u64> {
    u64::try_from(len)
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(Error::DataLenRange)
}

/// The GHASH block holding two bit lengths.
fn lengths_block(a: u64, b: u64) -> ghash::Block {
    let mut block = [0u8; BLOCK];
    let (hi, lo) = block.split_at_mut(8);
    hi.copy_from_slice(&a.to_be_bytes());
    lo.copy_from_slice(&b.to_be_bytes());
    ghash::Block::from(block)
}

/// One AES-GCM operation in either direction.
pub(super) struct Gcm {
    cipher: Arc<AesCipher>,
    /// GHASH over AAD then ciphertext; taken when the tag is computed.
    ghash: Option<GHash>,
    j0: [u8; BLOCK],
    /// The 32-bit counter of the next keystream block (inc32 of J0 onward).
    counter: u32,
    keystream: Zeroizing<[u8; BLOCK]>,
    /// Bytes of `keystream` already used.
    used: usize,
    /// Ciphertext not yet hashed (less than one block).
    unhashed: Vec<u8>,
    aad_bits: u64,
    text_len: u64,
    tag_len: usize,
    encrypt: bool,
    /// Decryption: all ciphertext and the tag, until `finish`.
    input: Vec<u8>,
    done: bool,
    /// The crate's fused path for a single-part call (see gcm_fast.rs).
    fast: Option<Fast>,
}

/// What a single-part call needs for the crate's path: its cipher, the IV
/// and the AAD (a copy; GHASH has absorbed it too, for the other paths).
struct Fast {
    cipher: Arc<GcmFast>,
    iv: [u8; gcm_fast::IV],
    aad: Vec<u8>,
}

impl Gcm {
    /// `ghash` is keyed with this cipher's H and has absorbed nothing (a
    /// copy of the key's cached one, `Schedules::ghash`).
    pub(super) fn new(
        cipher: Arc<AesCipher>,
        ghash: GHash,
        iv: &[u8],
        aad: &[u8],
        tag_len: usize,
        encrypt: bool,
    ) -> Result<Gcm> {
        if iv.is_empty() || !(MIN_TAG..=BLOCK).contains(&tag_len) {
            return Err(Error::MechanismParamInvalid);
        }
        let j0 = if iv.len() == 12 {
            let mut j0 = [0u8; BLOCK];
            let (nonce, count) = j0.split_at_mut(12);
            nonce.copy_from_slice(iv);
            count.copy_from_slice(&1u32.to_be_bytes());
            j0
        } else {
            let mut g = ghash.clone();
            g.update_padded(iv);
            g.update(&[lengths_block(0, bits(iv.len())?)]);
            g.finalize().into()
        };
        let mut ghash = ghash;
        ghash.update_padded(aad);
        let [.., c0, c1, c2, c3] = j0;
        Ok(Gcm {
            cipher,
            ghash: Some(ghash),
            j0,
            counter: u32::from_be_bytes([c0, c1, c2, c3]).wrapping_add(1),
            keystream: Zeroizing::new([0; BLOCK]),
            used: BLOCK,
            // Public ciphertext, allocated only if a part ends mid-block.
            unhashed: Vec::new(),
            aad_bits: bits(aad.len()).map_err(|_| Error::MechanismParamInvalid)?,
            text_len: 0,
            tag_len,
            encrypt,
            input: Vec::new(),
            done: false,
            fast: None,
        })
    }

    /// Lets a single-part call go through the crate's fused path; the
    /// caller has checked the shape (96-bit IV, 16-byte tag).
    pub(super) fn with_fast(
        mut self,
        cipher: Arc<GcmFast>,
        iv: [u8; gcm_fast::IV],
        aad: &[u8],
    ) -> Gcm {
        self.fast = Some(Fast {
            cipher,
            iv,
            aad: aad.to_vec(),
        });
        self
    }

    /// [`CipherOp::single_into`] through the crate's fused path: the same
    /// length rules and codes as the path below it.
    fn single_fast(&mut self, fast: &Fast, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.encrypt {
            let need = data
                .len()
                .checked_add(gcm_fast::TAG)
                .ok_or(Error::DataLenRange)?;
            let Some(dst) = out.get_mut(..need) else {
                return Ok(None);
            };
            self.check_len(data.len(), 0, Error::DataLenRange)?;
            self.done = true;
            let (ct, tag_out) = dst.split_at_mut(data.len());
            let tag = fast.cipher.encrypt(&fast.iv, &fast.aad, data, ct)?;
            tag_out.copy_from_slice(&tag);
            return Ok(Some(need));
        }
        self.check_len(data.len(), gcm_fast::TAG, Error::EncryptedDataLenRange)?;
        let split = data
            .len()
            .checked_sub(gcm_fast::TAG)
            .ok_or(Error::EncryptedDataLenRange)?;
        let Some(dst) = out.get_mut(..split) else {
            return Ok(None);
        };
        self.done = true;
        let (ct, tag) = data.split_at(split);
        let tag: &[u8; gcm_fast::TAG] = tag.try_into().map_err(|_| Error::GeneralError)?;
        fast.cipher.decrypt(&fast.iv, &fast.aad, ct, dst, tag)?;
        Ok(Some(split))
    }

    /// XORs the keystream into `data`, continuing where the last call
    /// stopped (see [`Gcm::apply_from`]).
    fn apply(&mut self, data: &mut [u8]) -> Result<()> {
        self.apply_from(None, data)
    }

    /// `dst = src XOR keystream` (or `dst ^= keystream` without `src`),
    /// continuing where the last call stopped: one pass from the caller's
    /// input to the output. The caller has checked the length against
    /// MAX_TEXT, so the 32-bit counter cannot come back to J0. The
    /// keystream is made a stack-sized stretch at a time (never a
    /// whole-message buffer) and that stretch is zeroized once, at the end.
    fn apply_from(&mut self, src: Option<&[u8]>, dst: &mut [u8]) -> Result<()> {
        let buffered = self.keystream.get(self.used..).ok_or(Error::GeneralError)?;
        let take = buffered.len().min(dst.len());
        let (head, tail) = dst.split_at_mut(take);
        let (src_head, src_tail) = match src {
            Some(s) => {
                let (h, t) = s.split_at(take.min(s.len()));
                (Some(h), Some(t))
            }
            None => (None, None),
        };
        xor_from(head, src_head, buffered);
        self.used += take;
        if tail.is_empty() {
            return Ok(());
        }
        let prefix = self.j0.get(..12).ok_or(Error::GeneralError)?;
        let mut stream = KeyStream::new();
        for (i, part) in tail.chunks_mut(STREAM).enumerate() {
            let len = part.len().div_ceil(BLOCK) * BLOCK;
            let ks = stream.get(len)?;
            let (chunks, _) = ks.as_chunks_mut::<BLOCK>();
            for chunk in chunks {
                let (nonce, count) = chunk.split_at_mut(12);
                nonce.copy_from_slice(prefix);
                count.copy_from_slice(&self.counter.to_be_bytes());
                self.counter = self.counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(ks);
            let from = src_tail
                .map(|t| t.get(i * STREAM..).ok_or(Error::GeneralError))
                .transpose()?;
            xor_from(part, from, ks);
            let last_start = len - BLOCK;
            let last = ks.get(last_start..).ok_or(Error::GeneralError)?;
            self.keystream.copy_from_slice(last);
            self.used = part.len() - last_start;
        }
        Ok(())
    }

    /// Feeds ciphertext to GHASH, a block at a time.
    fn hash(&mut self, mut ct: &[u8]) -> Result<()> {
        let ghash = self.ghash.as_mut().ok_or(Error::OperationNotInitialized)?;
        if !self.unhashed.is_empty() {
            let take = (BLOCK - self.unhashed.len()).min(ct.len());
            let (now, rest) = ct.split_at(take);
            self.unhashed.extend_from_slice(now);
            ct = rest;
            if self.unhashed.len() < BLOCK {
                return Ok(());
            }
            ghash.update_padded(&self.unhashed);
            self.unhashed.clear();
        }
        let (blocks, rest) = ghash::Block::slice_as_chunks(ct);
        ghash.update(blocks);
        self.unhashed.extend_from_slice(rest);
        Ok(())
    }

    /// The full 16-byte tag over everything hashed so far.
    fn full_tag(&mut self) -> Result<[u8; BLOCK]> {
        let mut ghash = self.ghash.take().ok_or(Error::OperationNotInitialized)?;
        ghash.update_padded(&self.unhashed);
        let text_bits = self.text_len.checked_mul(8).ok_or(Error::DataLenRange)?;
        ghash.update(&[lengths_block(self.aad_bits, text_bits)]);
        let mut tag: [u8; BLOCK] = ghash.finalize().into();
        let mut mask = self.j0;
        self.cipher.encrypt_block(&mut mask);
        xor(&mut tag, &mask);
        Ok(tag)
    }

    fn check_len(&self, more: usize, slack: usize, err: Error) -> Result<u64> {
        let total = u64::try_from(more)
            .ok()
            .and_then(|m| self.text_len.checked_add(m))
            .ok_or(err)?;
        let slack = u64::try_from(slack).map_err(|_| err)?;
        if total > MAX_TEXT + slack {
            return Err(err);
        }
        Ok(total)
    }

    fn encrypt_update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        own_path()?;
        let total = self.check_len(data.len(), 0, Error::DataLenRange)?;
        // Room for the tag too: a single-part call appends it without
        // moving the ciphertext again.
        let mut out = Vec::with_capacity(data.len().saturating_add(self.tag_len));
        out.extend_from_slice(data);
        self.apply(&mut out)?;
        self.hash(&out)?;
        self.text_len = total;
        Ok(out)
    }

    /// Checks the tag, then decrypts in the buffer that collected the
    /// ciphertext: the plaintext is never copied.
    fn decrypt_finish(&mut self) -> Result<Vec<u8>> {
        let mut input = std::mem::take(&mut self.input);
        let split = input
            .len()
            .checked_sub(self.tag_len)
            .ok_or(Error::EncryptedDataLenRange)?;
        // The aws-lc build: the buffered message of the common shape is
        // opened in aws-lc, in the buffer that collected it.
        #[cfg(feature = "aws-lc")]
        if let Some(fast) = self.fast.take() {
            let (ct, tag) = input.split_at_mut(split);
            let tag: &[u8; gcm_fast::TAG] = (&*tag).try_into().map_err(|_| Error::GeneralError)?;
            fast.cipher.decrypt_in_place(&fast.iv, &fast.aad, ct, tag)?;
            input.truncate(split);
            return Ok(input);
        }
        own_path()?;
        let (ct, tag) = input.split_at(split);
        self.hash(ct)?;
        self.text_len = u64::try_from(ct.len()).map_err(|_| Error::EncryptedDataLenRange)?;
        let expected = Zeroizing::new(self.full_tag()?);
        let expected = expected.get(..self.tag_len).ok_or(Error::GeneralError)?;
        if !bool::from(expected.ct_eq(tag)) {
            return Err(Error::EncryptedDataInvalid);
        }
        input.truncate(split);
        self.apply(&mut input)?;
        Ok(input)
    }
}

impl CipherOp for Gcm {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        if self.encrypt {
            return self.encrypt_update(data);
        }
        let buffered = self.input.len();
        self.check_len(
            buffered.saturating_add(data.len()),
            self.tag_len,
            Error::EncryptedDataLenRange,
        )?;
        // The ciphertext waits for its tag; memory for it is reserved
        // fallibly (CKR_HOST_MEMORY rather than an aborted host).
        self.input
            .try_reserve(data.len())
            .map_err(|_| Error::HostMemory)?;
        self.input.extend_from_slice(data);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        if self.encrypt {
            own_path()?;
            let tag = self.full_tag()?;
            return tag
                .get(..self.tag_len)
                .map(<[u8]>::to_vec)
                .ok_or(Error::GeneralError);
        }
        self.decrypt_finish()
    }

    /// Single-part straight into `out`: encryption copies the input once
    /// and works in place; decryption checks the tag over the caller's
    /// input first, so no plaintext is written unless it verified.
    fn single_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done || self.text_len != 0 || !self.input.is_empty() {
            return Ok(None);
        }
        if let Some(fast) = self.fast.take() {
            return self.single_fast(&fast, data, out).inspect(|r| {
                if r.is_none() {
                    // Buffer too small: nothing happened, keep the path.
                    self.fast = Some(fast);
                }
            });
        }
        own_path()?;
        if self.encrypt {
            let need = data
                .len()
                .checked_add(self.tag_len)
                .ok_or(Error::DataLenRange)?;
            let Some(dst) = out.get_mut(..need) else {
                return Ok(None);
            };
            let total = self.check_len(data.len(), 0, Error::DataLenRange)?;
            self.done = true;
            let (ct, tag_out) = dst.split_at_mut(data.len());
            self.apply_from(Some(data), ct)?;
            self.hash(ct)?;
            self.text_len = total;
            let tag = self.full_tag()?;
            tag_out.copy_from_slice(tag.get(..self.tag_len).ok_or(Error::GeneralError)?);
            return Ok(Some(need));
        }
        self.check_len(data.len(), self.tag_len, Error::EncryptedDataLenRange)?;
        let split = data
            .len()
            .checked_sub(self.tag_len)
            .ok_or(Error::EncryptedDataLenRange)?;
        let Some(dst) = out.get_mut(..split) else {
            return Ok(None);
        };
        self.done = true;
        let (ct, tag) = data.split_at(split);
        self.hash(ct)?;
        self.text_len = u64::try_from(ct.len()).map_err(|_| Error::EncryptedDataLenRange)?;
        let expected = Zeroizing::new(self.full_tag()?);
        let expected = expected.get(..self.tag_len).ok_or(Error::GeneralError)?;
        if !bool::from(expected.ct_eq(tag)) {
            return Err(Error::EncryptedDataInvalid);
        }
        self.apply_from(Some(ct), dst)?;
        Ok(Some(split))
    }

    /// Encryption straight into the caller's buffer (one pass from the
    /// input, then GHASH over the ciphertext written). Decryption releases
    /// nothing before the tag: it keeps the buffered path.
    fn update_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        if !self.encrypt {
            return Ok(None);
        }
        let Some(dst) = out.get_mut(..data.len()) else {
            return Ok(None);
        };
        own_path()?;
        let total = self.check_len(data.len(), 0, Error::DataLenRange)?;
        self.apply_from(Some(data), dst)?;
        self.hash(dst)?;
        self.text_len = total;
        Ok(Some(data.len()))
    }

    /// Encryption of a fresh operation: the text plus the tag. (Decryption
    /// is not answered early: a bad tag is reported on the query.)
    fn single_len(&self, len: usize) -> Option<usize> {
        let fresh = !self.done && self.text_len == 0;
        (self.encrypt && fresh).then(|| len.checked_add(self.tag_len))?
    }

    /// Encryption: the same length. Decryption releases nothing before
    /// `finish`; the bound counts the plaintext these bytes add there, so
    /// a single-part query (`update_len(n) + finish_len()`) is n - tag.
    fn update_len(&self, len: usize) -> usize {
        if self.encrypt {
            return len;
        }
        let before = self.input.len().saturating_sub(self.tag_len);
        let after = self
            .input
            .len()
            .saturating_add(len)
            .saturating_sub(self.tag_len);
        after - before
    }

    fn finish_len(&self) -> usize {
        if self.encrypt {
            self.tag_len
        } else {
            self.input.len().saturating_sub(self.tag_len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;
    use aes_gcm::aead::AeadInOut;
    use aes_gcm::aead::consts::{U8, U12};
    use aes_gcm::{AesGcm, KeyInit as _};

    /// A key's schedules, as `aes::make_op` takes them.
    fn parts(key: &[u8]) -> (Arc<AesCipher>, GHash) {
        let s = crate::mechanism::schedule::Schedules::default();
        (s.aes(key).unwrap().clone(), s.ghash(key).unwrap().clone())
    }

    fn op(key: &[u8], iv: &[u8], aad: &[u8], tag_len: usize, encrypt: bool) -> Gcm {
        let (cipher, ghash) = parts(key);
        Gcm::new(cipher, ghash, iv, aad, tag_len, encrypt).unwrap()
    }

    fn single(op: &mut Gcm, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = op.update(data)?;
        out.extend(op.finish()?);
        Ok(out)
    }

    const K1: &str = "feffe9928665731c6d6a8f9467308308";
    const P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                     1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const A: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const IV60: &str = "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728
                        c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b";

    /// McGrew–Viega "The GCM mode of operation" test cases (the SP 800-38D
    /// validation set): (key, iv, aad, plaintext, ciphertext, tag).
    fn vectors() -> Vec<[String; 6]> {
        let k256 = format!("{K1}{K1}");
        let p64 = format!("{P}1aafd255");
        let v = |k: &str, iv: &str, a: &str, p: &str, c: &str, t: &str| {
            [k, iv, a, p, c, t].map(str::to_string)
        };
        let zero128 = "00000000000000000000000000000000";
        let zero_iv = "000000000000000000000000";
        vec![
            // Test case 1.
            v(
                zero128,
                zero_iv,
                "",
                "",
                "",
                "58e2fccefa7e3061367f1d57a4e7455a",
            ),
            // Test case 2.
            v(
                zero128,
                zero_iv,
                "",
                zero128,
                "0388dace60b6a392f328c2b971b2fe78",
                "ab6e47d42cec13bdf53a67b21257bddf",
            ),
            // Test case 3 (no AAD, whole blocks).
            v(
                K1,
                "cafebabefacedbaddecaf888",
                "",
                &p64,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
                "4d5c2af327cd64a62cf35abd2ba6fab4",
            ),
            // Test case 4 (AAD, partial last block).
            v(
                K1,
                "cafebabefacedbaddecaf888",
                A,
                P,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            // Test case 5 (8-byte IV).
            v(
                K1,
                "cafebabefacedbad",
                A,
                P,
                "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423
                 73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
                "3612d2e79e3b0785561be14aaca2fccb",
            ),
            // Test case 6 (60-byte IV).
            v(
                K1,
                IV60,
                A,
                P,
                "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7
                 01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
                "619cc5aefffe0bfa462af43c1699d050",
            ),
            // Test case 14 (AES-256, zero key).
            v(
                &format!("{zero128}{zero128}"),
                zero_iv,
                "",
                zero128,
                "cea7403d4d606b6e074ec5d3baf39d18",
                "d0d1c8a799996bf0265b98b5d48ab919",
            ),
            // Test case 16 (AES-256, AAD).
            v(
                &k256,
                "cafebabefacedbaddecaf888",
                A,
                P,
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ),
            // Test case 18 (AES-256, 60-byte IV).
            v(
                &k256,
                IV60,
                A,
                P,
                "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4
                 0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
                "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
            ),
        ]
    }

    #[test]
    fn mcgrew_viega_vectors() {
        for [k, iv, a, p, c, t] in vectors() {
            let (k, iv, a, p, c, t) = (
                unhex(&k),
                unhex(&iv),
                unhex(&a),
                unhex(&p),
                unhex(&c),
                unhex(&t),
            );
            let mut enc = op(&k, &iv, &a, 16, true);
            assert_eq!(enc.update_len(p.len()) + enc.finish_len(), p.len() + 16);
            let out = single(&mut enc, &p).unwrap();
            assert_eq!(out, [c.clone(), t.clone()].concat());
            let mut dec = op(&k, &iv, &a, 16, false);
            assert_eq!(dec.update_len(out.len()) + dec.finish_len(), p.len());
            assert_eq!(single(&mut dec, &out).unwrap(), p);
            // Truncated tags are the leftmost bytes.
            let mut enc = op(&k, &iv, &a, 12, true);
            let short = single(&mut enc, &p).unwrap();
            assert_eq!(short, [c.clone(), t[..12].to_vec()].concat());
            let mut dec = op(&k, &iv, &a, 12, false);
            assert_eq!(single(&mut dec, &short).unwrap(), p);
        }
    }

    #[test]
    fn multipart_and_cross_check_with_aes_gcm() {
        let key = [0x5au8; 32];
        let aad = b"associated";
        // Lengths past one keystream batch (STREAM = 512 bytes) too.
        for len in [
            0usize, 1, 15, 16, 17, 31, 33, 100, 511, 512, 513, 1500, 4099,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let iv12 = [7u8; 12];
            let mut reference = plain.clone();
            let tag = AesGcm::<aes::Aes256, U12>::new(&key.into())
                .encrypt_inout_detached(&iv12.into(), aad, reference.as_mut_slice().into())
                .unwrap();
            reference.extend_from_slice(&tag);
            let mut enc = op(&key, &iv12, aad, 16, true);
            let mut ours = Vec::new();
            for part in plain.chunks(7) {
                ours.extend(enc.update(part).unwrap());
            }
            ours.extend(enc.finish().unwrap());
            assert_eq!(ours, reference, "len {len}");
            // An 8-byte IV (the GHASH-derived J0 path).
            let iv8 = [9u8; 8];
            let mut reference = plain.clone();
            let tag = AesGcm::<aes::Aes256, U8>::new(&key.into())
                .encrypt_inout_detached(&iv8.into(), aad, reference.as_mut_slice().into())
                .unwrap();
            reference.extend_from_slice(&tag);
            assert_eq!(
                single(&mut op(&key, &iv8, aad, 16, true), &plain).unwrap(),
                reference
            );
            let mut dec = op(&key, &iv8, aad, 16, false);
            for part in reference.chunks(5) {
                assert!(dec.update(part).unwrap().is_empty());
            }
            assert_eq!(dec.finish_len(), len);
            assert_eq!(dec.finish().unwrap(), plain);
        }
    }

    #[test]
    fn tampering_releases_nothing() {
        let key = unhex(K1);
        let iv = unhex("cafebabefacedbaddecaf888");
        let (a, p) = (unhex(A), unhex(P));
        let good = single(&mut op(&key, &iv, &a, 16, true), &p).unwrap();
        for i in [0, 30, good.len() - 1] {
            let mut bad = good.clone();
            bad[i] ^= 0x80;
            let mut dec = op(&key, &iv, &a, 16, false);
            assert!(dec.update(&bad).unwrap().is_empty());
            assert_eq!(dec.finish().err(), Some(Error::EncryptedDataInvalid));
        }
        // Other AAD, or another IV, fails too.
        let mut dec = op(&key, &iv, b"other", 16, false);
        assert_eq!(
            single(&mut dec, &good).err(),
            Some(Error::EncryptedDataInvalid)
        );
        let mut dec = op(&key, &[1; 12], &a, 16, false);
        assert_eq!(
            single(&mut dec, &good).err(),
            Some(Error::EncryptedDataInvalid)
        );
        // Shorter than the tag.
        let mut dec = op(&key, &iv, &a, 16, false);
        assert_eq!(
            single(&mut dec, &good[..15]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        // Used up.
        let mut enc = op(&key, &iv, &a, 16, true);
        enc.finish().unwrap();
        assert_eq!(enc.update(&[1]).err(), Some(Error::OperationNotInitialized));
        assert_eq!(enc.finish().err(), Some(Error::OperationNotInitialized));
    }

    #[test]
    fn bad_parameters() {
        let new = |iv: &[u8], tag| {
            let (cipher, ghash) = parts(&[0; 16]);
            Gcm::new(cipher, ghash, iv, &[], tag, true)
        };
        assert!(new(&[], 16).is_err());
        assert!(new(&[0; 12], 11).is_err());
        assert!(new(&[0; 12], 17).is_err());
    }
}
