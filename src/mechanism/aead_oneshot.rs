//! A one-shot AEAD (the `aead` crates' detached seal and open, or CCM's
//! own) as a cipher operation: CKM_AES_CCM and CKM_CHACHA20_POLY1305
//! decryption (their encryption streams, `aes_ccm.rs`, `chacha_poly.rs`).
//! The text is collected and the work done in
//! `finish`, so decryption releases plaintext only once the tag has
//! verified (as the spec asks of these AEADs) and CCM, whose MAC covers
//! the length first, sees the whole message. Wrapping is a single-part
//! encryption of the key's encoding.

use zeroize::Zeroizing;

use super::cipher::CipherOp;
use crate::error::{Error, Result};

/// One message's AEAD, its key, nonce and AAD bound in.
pub(super) trait OneShot: Send {
    /// The tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Encrypts `text` in place and returns the tag.
    fn seal(&self, text: &mut [u8]) -> Result<Vec<u8>>;
    /// Checks `tag` and decrypts `text` in place; CKR_ENCRYPTED_DATA_INVALID
    /// when the tag does not verify (nothing is released then).
    fn open(&self, text: &mut [u8], tag: &[u8]) -> Result<()>;
    /// The length the text must have in total, when the parameter fixed it
    /// up front (CCM's ulDataLen).
    fn fixed_len(&self) -> Option<usize> {
        None
    }
    /// The longest text the AEAD takes.
    fn max_len(&self) -> usize;
}

/// One operation in either direction over a [`OneShot`].
pub(super) struct Buffered<A: OneShot> {
    aead: A,
    encrypt: bool,
    /// All input so far (plaintext, or ciphertext and tag).
    input: Zeroizing<Vec<u8>>,
    done: bool,
}

impl<A: OneShot> Buffered<A> {
    pub(super) fn new(aead: A, encrypt: bool) -> Buffered<A> {
        Buffered {
            aead,
            encrypt,
            input: Zeroizing::new(Vec::new()),
            done: false,
        }
    }

    /// The text length `total` input bytes stand for: the whole input when
    /// encrypting, less the tag when decrypting (`None`: not even a tag).
    fn text_len(&self, total: usize) -> Option<usize> {
        if self.encrypt {
            Some(total)
        } else {
            total.checked_sub(self.aead.tag_len())
        }
    }

    fn len_error(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Refuses input past what the message can hold, as soon as it comes.
    fn check_more(&self, more: usize) -> Result<()> {
        let total = self
            .input
            .len()
            .checked_add(more)
            .ok_or_else(|| self.len_error())?;
        let text = self.text_len(total).unwrap_or(0);
        let limit = self.aead.fixed_len().unwrap_or(self.aead.max_len());
        if text > limit {
            return Err(self.len_error());
        }
        Ok(())
    }

    /// The whole message, in one call. The buffer is zeroized on every
    /// error path (it drops as `Zeroizing`).
    fn run(&mut self) -> Result<Vec<u8>> {
        let mut input = std::mem::take(&mut self.input);
        let text = self
            .text_len(input.len())
            .ok_or(Error::EncryptedDataLenRange)?;
        if self.aead.fixed_len().is_some_and(|n| n != text) {
            return Err(self.len_error());
        }
        if self.encrypt {
            let tag = self.aead.seal(&mut input)?;
            input.extend_from_slice(&tag);
            return Ok(std::mem::take(&mut *input));
        }
        let (ct, tag) = input.split_at_mut(text);
        let tag = tag.to_vec();
        self.aead.open(ct, &tag)?;
        input.truncate(text);
        Ok(std::mem::take(&mut *input))
    }
}

impl<A: OneShot> CipherOp for Buffered<A> {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        self.check_more(data.len())?;
        // Growing in place would free the old bytes unzeroized (the
        // plaintext when encrypting): append_secret moves them into a
        // larger buffer, reserved fallibly (CKR_HOST_MEMORY).
        super::aes_modes::append_secret(&mut self.input, data)?;
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        self.run()
    }

    /// Nothing is released before `finish`.
    fn update_len(&self, _len: usize) -> usize {
        0
    }

    fn finish_len(&self) -> usize {
        let text = self.text_len(self.input.len()).unwrap_or(0);
        if self.encrypt {
            text.saturating_add(self.aead.tag_len())
        } else {
            text
        }
    }

    /// A fresh operation's whole message straight into the caller's
    /// buffer: encryption seals a copy of the input there and appends the
    /// tag; decryption opens a copy of the ciphertext there (a tag that
    /// does not verify leaves no plaintext: the AEADs check before they
    /// decrypt, or clear what they decrypted).
    fn single_into(&mut self, data: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        if self.done || !self.input.is_empty() {
            return Ok(None);
        }
        let text = self
            .text_len(data.len())
            .ok_or(Error::EncryptedDataLenRange);
        let need = if self.encrypt {
            data.len().checked_add(self.aead.tag_len())
        } else {
            text.as_ref().ok().copied()
        };
        let Some(dst) = need.and_then(|n| out.get_mut(..n)) else {
            if text.is_err() {
                self.done = true;
            }
            text?;
            return Ok(None);
        };
        self.done = true;
        let text = text?;
        let limit = self.aead.fixed_len().unwrap_or(self.aead.max_len());
        if self.aead.fixed_len().is_some_and(|n| n != text) || text > limit {
            return Err(self.len_error());
        }
        let (body, rest) = dst.split_at_mut(text);
        let (input, tag) = data.split_at(text.min(data.len()));
        body.copy_from_slice(input);
        if self.encrypt {
            let t = self.aead.seal(body)?;
            if t.len() != rest.len() {
                return Err(Error::GeneralError);
            }
            rest.copy_from_slice(&t);
        } else {
            self.aead.open(body, tag)?;
        }
        Ok(Some(dst.len()))
    }

    /// Encryption of a fresh operation: the text plus the tag (for CCM,
    /// only for the announced length: another is left to the work, which
    /// reports it). Decryption is not answered early.
    fn single_len(&self, len: usize) -> Option<usize> {
        let fresh = !self.done && self.input.is_empty();
        if !(self.encrypt && fresh) || self.aead.fixed_len().is_some_and(|n| n != len) {
            return None;
        }
        len.checked_add(self.aead.tag_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use subtle::ConstantTimeEq as _;

    fn tags_equal(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }

    /// XOR with 0x5a, tag = 2 bytes of the sum: enough to drive the buffering.
    struct Toy(Option<usize>);

    impl OneShot for Toy {
        fn tag_len(&self) -> usize {
            2
        }
        fn seal(&self, text: &mut [u8]) -> Result<Vec<u8>> {
            let sum = text.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
            text.iter_mut().for_each(|b| *b ^= 0x5a);
            Ok(sum.to_be_bytes().to_vec())
        }
        fn open(&self, text: &mut [u8], tag: &[u8]) -> Result<()> {
            text.iter_mut().for_each(|b| *b ^= 0x5a);
            let sum = text.iter().fold(0u16, |s, b| s.wrapping_add(u16::from(*b)));
            if !tags_equal(&sum.to_be_bytes(), tag) {
                text.iter_mut().for_each(|b| *b = 0);
                return Err(Error::EncryptedDataInvalid);
            }
            Ok(())
        }
        fn fixed_len(&self) -> Option<usize> {
            self.0
        }
        fn max_len(&self) -> usize {
            100
        }
    }

    #[test]
    fn buffers_until_finish_and_checks_lengths() {
        let mut enc = Buffered::new(Toy(None), true);
        assert_eq!(enc.single_len(3), Some(5));
        assert!(enc.update(b"ab").unwrap().is_empty());
        assert!(enc.update(b"c").unwrap().is_empty());
        assert_eq!(enc.finish_len(), 5);
        let sealed = enc.finish().unwrap();
        assert_eq!(sealed.len(), 5);
        assert_eq!(enc.finish().err(), Some(Error::OperationNotInitialized));
        let mut dec = Buffered::new(Toy(None), false);
        assert_eq!(dec.single_len(5), None);
        assert!(dec.update(&sealed).unwrap().is_empty());
        assert_eq!(dec.finish().unwrap(), b"abc");
        // Straight into a buffer: too small takes nothing.
        let mut enc = Buffered::new(Toy(None), true);
        let mut out = [0u8; 5];
        assert_eq!(enc.single_into(b"abc", &mut out[..4]).unwrap(), None);
        assert_eq!(enc.single_into(b"abc", &mut out).unwrap(), Some(5));
        assert_eq!(out.as_slice(), sealed.as_slice());
        let mut dec = Buffered::new(Toy(None), false);
        let mut plain = [0u8; 3];
        assert_eq!(dec.single_into(&sealed, &mut plain).unwrap(), Some(3));
        assert_eq!(&plain, b"abc");
        let mut dec = Buffered::new(Toy(None), false);
        assert_eq!(
            dec.single_into(&[1], &mut plain).err(),
            Some(Error::EncryptedDataLenRange)
        );
        let mut bad = sealed.clone();
        bad[4] ^= 1;
        let mut dec = Buffered::new(Toy(None), false);
        dec.update(&bad).unwrap();
        assert_eq!(dec.finish().err(), Some(Error::EncryptedDataInvalid));
        let mut dec = Buffered::new(Toy(None), false);
        dec.update(&[1]).unwrap();
        assert_eq!(dec.finish().err(), Some(Error::EncryptedDataLenRange));
        let mut enc = Buffered::new(Toy(None), true);
        assert_eq!(enc.update(&[0; 101]).err(), Some(Error::DataLenRange));
    }

    #[test]
    fn a_fixed_length_is_held_to() {
        let mut enc = Buffered::new(Toy(Some(3)), true);
        assert_eq!(enc.single_len(2), None);
        assert_eq!(enc.single_len(3), Some(5));
        assert_eq!(enc.update(&[0; 4]).err(), Some(Error::DataLenRange));
        enc.update(&[0; 2]).unwrap();
        assert_eq!(enc.finish().err(), Some(Error::DataLenRange));
        let mut dec = Buffered::new(Toy(Some(3)), false);
        assert_eq!(
            dec.update(&[0; 6]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        dec.update(&[0; 4]).unwrap();
        assert_eq!(dec.finish().err(), Some(Error::EncryptedDataLenRange));
    }
}
