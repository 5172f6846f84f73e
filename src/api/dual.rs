//! The dual-function calls (PKCS#11 3.0 §5.14): C_DigestEncryptUpdate,
//! C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate. Both
//! operations must be active in the session (else
//! CKR_OPERATION_NOT_INITIALIZED, and nothing is processed); the pair is
//! then the two single calls in order, sharing the cipher's output
//! protocol (§5.2): the digest, signature or verification takes its bytes
//! only when the cipher's output is handed out, so a length query or a
//! buffer too small (whose output the cipher keeps for the next call)
//! feeds nothing twice. The decrypting pairs digest or verify the
//! plaintext as it comes out (a mode that holds back its last block, such
//! as CBC-PAD, gives it with C_DecryptFinal, after which the caller
//! digests or verifies it with the ordinary call).

use cryptoki_sys::*;

use super::{Library, Out, OutCap};
use crate::error::{Error, Result};

/// Which pair a dual call runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pair {
    DigestEncrypt,
    DecryptDigest,
    SignEncrypt,
    DecryptVerify,
}

impl Library {
    /// Whether both operations of `pair` are active.
    fn dual_active(&self, h: CK_SESSION_HANDLE, pair: Pair) -> Result<()> {
        self.with_session(h, |s, _| {
            let both = match pair {
                Pair::DigestEncrypt => s.digest.is_some() && s.encrypt.is_some(),
                Pair::DecryptDigest => s.decrypt.is_some() && s.digest.is_some(),
                Pair::SignEncrypt => s.sign.is_some() && s.encrypt.is_some(),
                Pair::DecryptVerify => s.decrypt.is_some() && s.verify.is_some(),
            };
            if both {
                Ok(())
            } else {
                Err(Error::OperationNotInitialized)
            }
        })
    }

    fn dual(&self, h: CK_SESSION_HANDLE, pair: Pair, input: &[u8], out: OutCap) -> Result<Out> {
        self.dual_active(h, pair)?;
        let result = match pair {
            Pair::DigestEncrypt | Pair::SignEncrypt => self.encrypt_update(h, input, out)?,
            Pair::DecryptDigest | Pair::DecryptVerify => self.decrypt_update(h, input, out)?,
        };
        if let Out::Data(produced) = &result {
            match pair {
                Pair::DigestEncrypt => self.digest_update(h, input)?,
                Pair::SignEncrypt => self.sign_update(h, input)?,
                Pair::DecryptDigest => self.digest_update(h, produced)?,
                Pair::DecryptVerify => self.verify_update(h, produced)?,
            }
        }
        Ok(result)
    }

    /// C_DigestEncryptUpdate: `part` digested and encrypted.
    pub fn digest_encrypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        part: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.dual(h, Pair::DigestEncrypt, part, out)
    }

    /// C_DecryptDigestUpdate: `part` decrypted, the plaintext digested.
    pub fn decrypt_digest_update(
        &self,
        h: CK_SESSION_HANDLE,
        part: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.dual(h, Pair::DecryptDigest, part, out)
    }

    /// C_SignEncryptUpdate: `part` signed (or MACed) and encrypted.
    pub fn sign_encrypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        part: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.dual(h, Pair::SignEncrypt, part, out)
    }

    /// C_DecryptVerifyUpdate: `part` decrypted, the plaintext verified.
    pub fn decrypt_verify_update(
        &self,
        h: CK_SESSION_HANDLE,
        part: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.dual(h, Pair::DecryptVerify, part, out)
    }
}
