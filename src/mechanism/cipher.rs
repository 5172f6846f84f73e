//! Encryption and decryption operations: the trait sessions drive, and the
//! dispatch from a mechanism and a key to the AES or RSA implementation.

use std::sync::Arc;

use cryptoki_sys::*;

use super::keys::Key;
use super::{Mechanism, registry};
use crate::error::Result;

/// A cipher operation in progress (either direction). Output lengths are
/// upper bounds for length queries; the caller keeps output that did not
/// fit and hands it out on the next call, so no call is repeated.
pub trait CipherOp: Send {
    /// Processes one part; returns the output it can release now.
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>>;
    /// Ends the operation; returns the remaining output.
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// At most how many bytes `update` returns for `len` input bytes.
    fn update_len(&self, len: usize) -> usize;
    /// At most how many bytes `finish` returns now.
    fn finish_len(&self) -> usize;
    /// A whole single-part call written straight into the caller's
    /// buffer: `Ok(Some(n))` wrote `n` bytes of `out` and ended the
    /// operation; `Ok(None)` (the default, or `out` too small) consumed
    /// nothing, and the caller takes the buffered path.
    fn single_into(&mut self, _data: &[u8], _out: &mut [u8]) -> Result<Option<usize>> {
        Ok(None)
    }
    /// One C_*Update written straight into the caller's buffer:
    /// `Ok(Some(n))` consumed `data` and wrote the `n` bytes it releases;
    /// `Ok(None)` (the default, or `out` too small) consumed nothing, and
    /// the caller takes the buffered path.
    fn update_into(&mut self, _data: &[u8], _out: &mut [u8]) -> Result<Option<usize>> {
        Ok(None)
    }
    /// The exact output of a single-part call over `len` bytes, when it
    /// is known without doing the work (default: not known). A length
    /// query is then answered without running the operation.
    fn single_len(&self, _len: usize) -> Option<usize> {
        None
    }
    /// Whether C_*Update may be used (RSA is single-part only).
    fn multipart(&self) -> bool {
        true
    }
}

/// Starts an encryption through the registry: CKR_MECHANISM_INVALID
/// unless the mechanism is offered with CKF_ENCRYPT (the registry applies
/// the policy, e.g. legacy RSA encryption, off unless configured);
/// KeyTypeInconsistent if the key does not fit.
pub fn encrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    registry::family(mech.mech, CKF_ENCRYPT)?.encrypt(mech, key)
}

/// Starts a decryption through the registry (CKF_DECRYPT).
pub fn decrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    registry::family(mech.mech, CKF_DECRYPT)?.decrypt(mech, key)
}
