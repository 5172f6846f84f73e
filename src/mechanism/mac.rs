//! The sign/verify operation every MAC shares (HMAC, CMAC): truncation to
//! the requested length, constant-time verification and the one-shot
//! `finish`, written once over each MAC's own keyed state.

use super::sign::{SignOp, VerifyOp};
use crate::error::{Error, Result};

/// A keyed MAC state in progress.
pub(super) trait MacState: Send {
    fn update(&mut self, data: &[u8]);
    /// The full-length tag (public output: not zeroized).
    fn finalize(self) -> Vec<u8>;
    /// The leftmost `out.len()` bytes of the tag into `out` (made on the
    /// stack); false if `out` is longer than the tag.
    fn finalize_into(self, out: &mut [u8]) -> bool;
    /// Constant-time comparison of the leftmost `tag.len()` bytes.
    fn verify_truncated(self, tag: &[u8]) -> bool;
}

/// A MAC as both a sign and a verify operation. The state is consumed by
/// `finish`; a second `finish` reports OperationNotInitialized.
pub(super) struct MacOp<S> {
    state: Option<S>,
    out_len: usize,
}

impl<S: MacState> MacOp<S> {
    /// `out_len` must already be checked against the MAC's length.
    pub(super) fn new(state: S, out_len: usize) -> MacOp<S> {
        MacOp {
            state: Some(state),
            out_len,
        }
    }

    fn take(&mut self) -> Result<S> {
        self.state.take().ok_or(Error::OperationNotInitialized)
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.state
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?
            .update(data);
        Ok(())
    }
}

impl<S: MacState> SignOp for MacOp<S> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.feed(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        // Truncated in place: one allocation per MAC, no copy.
        let mut tag = self.take()?.finalize();
        if tag.len() < self.out_len {
            return Err(Error::GeneralError);
        }
        tag.truncate(self.out_len);
        Ok(tag)
    }

    fn sign_len(&self) -> usize {
        self.out_len
    }

    fn finish_into(&mut self, out: &mut [u8]) -> Result<usize> {
        let dst = out.get_mut(..self.out_len).ok_or(Error::GeneralError)?;
        if self.take()?.finalize_into(dst) {
            Ok(dst.len())
        } else {
            Err(Error::GeneralError)
        }
    }
}

/// Copies the leftmost `out.len()` bytes of `tag`; false if `tag` is
/// shorter.
pub(super) fn copy_left(out: &mut [u8], tag: &[u8]) -> bool {
    match tag.get(..out.len()) {
        Some(left) => {
            out.copy_from_slice(left);
            true
        }
        None => false,
    }
}

impl<S: MacState> VerifyOp for MacOp<S> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.feed(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.out_len {
            return Err(Error::SignatureLenRange);
        }
        if self.take()?.verify_truncated(signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}
