//! Encryption and decryption (PKCS#11 3.0 §5.8–5.9). An output that does
//! not fit the caller's buffer (or a length query) is computed once and
//! kept in the operation until a call with room for it, so an exact length
//! is reported (never 0: see [`query_len`]) and no input is
//! processed twice.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::{Library, Mech, Out, OutCap, query_len};
use crate::error::{Error, Result};
use crate::mechanism::{self, CipherOp, Mechanism};
use crate::session::{ActiveOp, Session};

type CipherSlot = Option<ActiveOp<Box<dyn CipherOp>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Encrypt,
    Decrypt,
}

fn slot(s: &mut Session, dir: Dir) -> &mut CipherSlot {
    match dir {
        Dir::Encrypt => &mut s.encrypt,
        Dir::Decrypt => &mut s.decrypt,
    }
}

/// Hands out `data` if it fits; otherwise keeps it for the next call and
/// reports its length (never 0: [`query_len`]). A finishing
/// call that delivers ends the operation.
fn deliver(
    slot: &mut CipherSlot,
    mut data: Zeroizing<Vec<u8>>,
    out: OutCap,
    finishing: bool,
) -> Result<Out> {
    let fits = matches!(out, OutCap::Cap(cap) if cap >= data.len());
    if fits {
        if finishing {
            *slot = None;
        } else if let Some(active) = slot.as_mut() {
            active.pending = None;
        }
        // Moved, not copied: the ABI layer zeroizes plaintext after its
        // copy to the caller (and leaves public ciphertext alone).
        return Ok(Out::Data(std::mem::take(&mut *data)));
    }
    let len = data.len();
    if let Some(active) = slot.as_mut() {
        active.pending = Some(data);
    }
    Ok(query_len(len))
}

/// One step of a cipher: a kept output first, otherwise `run`; an error
/// ends the operation.
fn cipher_step(
    slot: &mut CipherSlot,
    out: OutCap,
    finishing: bool,
    run: impl FnOnce(&mut ActiveOp<Box<dyn CipherOp>>) -> Result<Vec<u8>>,
) -> Result<Out> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let data = match active.pending.take() {
        Some(kept) => kept,
        None => match run(active) {
            Ok(v) => Zeroizing::new(v),
            Err(e) => {
                *slot = None;
                return Err(e);
            }
        },
    };
    deliver(slot, data, out, finishing)
}

impl Library {
    fn cipher_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
        dir: Dir,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let Some(mech) = mech else {
                *slot(s, dir) = None;
                return Ok(());
            };
            if slot(s, dir).is_some() {
                return Err(Error::OperationActive);
            }
            let usage = if dir == Dir::Encrypt {
                CKA_ENCRYPT
            } else {
                CKA_DECRYPT
            };
            let (obj, key) = self.use_key(s, token, key, usage, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = match dir {
                Dir::Encrypt => mechanism::encrypt_init(&m, key)?,
                Dir::Decrypt => mechanism::decrypt_init(&m, key)?,
            };
            let multipart = op.multipart();
            let reauth = dir == Dir::Decrypt && obj.flag(CKA_ALWAYS_AUTHENTICATE);
            *slot(s, dir) = Some(ActiveOp::new(op, multipart, reauth));
            Ok(())
        })
    }

    fn cipher_single(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: OutCap,
        dir: Dir,
    ) -> Result<Out> {
        self.with_session(h, |s, _| {
            // A length query (or too small a buffer) whose answer the op
            // knows without the work: answered as is, the op stays fresh
            // for the call with a buffer (which then writes straight into
            // it, see `cipher_single_into`).
            if let Some(active) = slot(s, dir).as_ref()
                && active.pending.is_none()
                && !active.needs_context_login
                && !active.updated
                && let Some(len) = active.op.single_len(data.len())
                && len > 0
                && !matches!(out, OutCap::Cap(cap) if cap >= len)
            {
                return Ok(Out::Len(len));
            }
            cipher_step(slot(s, dir), out, true, |a| {
                if a.needs_context_login {
                    return Err(Error::UserNotLoggedIn);
                }
                if a.updated {
                    return Err(Error::OperationActive);
                }
                let mut head = Zeroizing::new(a.op.update(data)?);
                let mut tail = Zeroizing::new(a.op.finish()?);
                if head.is_empty() {
                    // Decryption that releases all at the end (GCM).
                    return Ok(std::mem::take(&mut *tail));
                }
                if head.capacity() - head.len() < tail.len() {
                    // Growing in place would free the old bytes unzeroized:
                    // move into a new buffer; the old one is zeroized.
                    let mut both =
                        Zeroizing::new(Vec::with_capacity(head.len().saturating_add(tail.len())));
                    both.extend_from_slice(&head);
                    head = both;
                }
                // The AES ops leave room for the final part: no copy.
                head.extend_from_slice(&tail);
                Ok(std::mem::take(&mut *head))
            })
        })
    }

    /// A single-part call written straight into the caller's buffer;
    /// `None` sends the caller to the buffered path (a length query, a
    /// buffer too small, kept output, or an op without this fast path),
    /// with the operation untouched.
    fn cipher_single_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
        dir: Dir,
    ) -> Result<Option<usize>> {
        self.with_session(h, |s, _| {
            let slot = slot(s, dir);
            let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
            if active.pending.is_some() || active.needs_context_login || active.updated {
                return Ok(None);
            }
            match active.op.single_into(data, out) {
                Ok(None) => Ok(None),
                Ok(Some(n)) => {
                    *slot = None;
                    Ok(Some(n))
                }
                Err(e) => {
                    *slot = None;
                    Err(e)
                }
            }
        })
    }

    fn cipher_update(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: OutCap,
        dir: Dir,
    ) -> Result<Out> {
        self.with_session(h, |s, _| {
            cipher_step(slot(s, dir), out, false, |a| {
                if a.needs_context_login {
                    return Err(Error::UserNotLoggedIn);
                }
                if !a.multipart {
                    return Err(Error::FunctionNotSupported);
                }
                a.updated = true;
                a.op.update(data)
            })
        })
    }

    /// A C_*Update written straight into the caller's buffer; `None`
    /// sends the caller to the buffered path (kept output, a check that
    /// path reports, an op without this fast path, or too small a buffer)
    /// with the operation untouched.
    fn cipher_update_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
        dir: Dir,
    ) -> Result<Option<usize>> {
        self.with_session(h, |s, _| {
            let slot = slot(s, dir);
            let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
            if active.pending.is_some() || active.needs_context_login || !active.multipart {
                return Ok(None);
            }
            match active.op.update_into(data, out) {
                Ok(None) => Ok(None),
                Ok(Some(n)) => {
                    active.updated = true;
                    Ok(Some(n))
                }
                Err(e) => {
                    *slot = None;
                    Err(e)
                }
            }
        })
    }

    fn cipher_final(&self, h: CK_SESSION_HANDLE, out: OutCap, dir: Dir) -> Result<Out> {
        self.with_session(h, |s, _| {
            cipher_step(slot(s, dir), out, true, |a| {
                if !a.multipart {
                    return Err(Error::FunctionNotSupported);
                }
                a.op.finish()
            })
        })
    }

    pub fn encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.cipher_init(h, mech, key, Dir::Encrypt)
    }

    pub fn encrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.cipher_single(h, data, out, Dir::Encrypt)
    }

    /// C_Encrypt into the caller's buffer when possible, see
    /// `cipher_single_into`.
    pub fn encrypt_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.cipher_single_into(h, data, out, Dir::Encrypt)
    }

    pub fn decrypt_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.cipher_single_into(h, data, out, Dir::Decrypt)
    }

    pub fn encrypt_update(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.cipher_update(h, data, out, Dir::Encrypt)
    }

    /// C_EncryptUpdate into the caller's buffer when possible, see
    /// `cipher_update_into`.
    pub fn encrypt_update_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.cipher_update_into(h, data, out, Dir::Encrypt)
    }

    pub fn decrypt_update_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.cipher_update_into(h, data, out, Dir::Decrypt)
    }

    pub fn encrypt_final(&self, h: CK_SESSION_HANDLE, out: OutCap) -> Result<Out> {
        self.cipher_final(h, out, Dir::Encrypt)
    }

    pub fn decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.cipher_init(h, mech, key, Dir::Decrypt)
    }

    pub fn decrypt(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.cipher_single(h, data, out, Dir::Decrypt)
    }

    pub fn decrypt_update(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.cipher_update(h, data, out, Dir::Decrypt)
    }

    pub fn decrypt_final(&self, h: CK_SESSION_HANDLE, out: OutCap) -> Result<Out> {
        self.cipher_final(h, out, Dir::Decrypt)
    }
}
