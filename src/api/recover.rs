//! Signatures with data recovery (PKCS#11 3.0 §5.13 C_SignRecoverInit /
//! C_SignRecover, §5.15 C_VerifyRecoverInit / C_VerifyRecover): single
//! part. A signing operation with recovery and an ordinary one exclude
//! each other in a session (CKR_OPERATION_ACTIVE), as do the two
//! verifications. The key needs CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER.
//! Output follows §5.2: a length query answers the operation's bound
//! without running it; a buffer too small for the real output keeps that
//! output for the next call (nothing is signed twice).

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::{Library, Mech, Out, OutCap};
use crate::error::{Error, Result};
use crate::mechanism::{self, Mechanism, RecoverOp};
use crate::session::{ActiveOp, Session};

type RecoverSlot = Option<ActiveOp<Box<dyn RecoverOp>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Sign,
    Verify,
}

fn slot(s: &mut Session, dir: Dir) -> &mut RecoverSlot {
    match dir {
        Dir::Sign => &mut s.sign_recover,
        Dir::Verify => &mut s.verify_recover,
    }
}

/// The single call: a kept output first, else the operation; the output
/// handed out ends the operation, an error too.
fn recover_step(slot: &mut RecoverSlot, input: &[u8], out: OutCap) -> Result<Out> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let data = match active.pending.take() {
        Some(kept) => kept,
        None => {
            if out == OutCap::Query {
                return Ok(Out::Len(active.op.out_len()));
            }
            if active.needs_context_login {
                *slot = None;
                return Err(Error::UserNotLoggedIn);
            }
            match active.op.run(input) {
                Ok(v) => v,
                Err(e) => {
                    *slot = None;
                    return Err(e);
                }
            }
        }
    };
    if matches!(out, OutCap::Cap(cap) if cap >= data.len()) {
        *slot = None;
        let mut data: Zeroizing<Vec<u8>> = data;
        return Ok(Out::Data(std::mem::take(&mut *data)));
    }
    let len = data.len();
    active.pending = Some(data);
    Ok(Out::Len(len))
}

impl Library {
    fn recover_init(
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
            let busy = match dir {
                Dir::Sign => s.sign.is_some() || s.sign_recover.is_some(),
                Dir::Verify => {
                    s.verify.is_some() || s.verify_recover.is_some() || s.verify_signature.is_some()
                }
            };
            if busy {
                return Err(Error::OperationActive);
            }
            let usage = match dir {
                Dir::Sign => CKA_SIGN_RECOVER,
                Dir::Verify => CKA_VERIFY_RECOVER,
            };
            let (obj, key) = self.use_key(s, token, key, usage, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = match dir {
                Dir::Sign => mechanism::registry::sign_recover_init(&m, key)?,
                Dir::Verify => mechanism::registry::verify_recover_init(&m, key)?,
            };
            let reauth = dir == Dir::Sign && obj.flag(CKA_ALWAYS_AUTHENTICATE);
            *slot(s, dir) = Some(ActiveOp::new(op, false, reauth));
            Ok(())
        })
    }

    /// C_SignRecoverInit; a NULL mechanism cancels.
    pub fn sign_recover_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.recover_init(h, mech, key, Dir::Sign)
    }

    /// C_SignRecover: the signature (k bytes).
    pub fn sign_recover(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| recover_step(slot(s, Dir::Sign), data, out))
    }

    /// C_VerifyRecoverInit; a NULL mechanism cancels.
    pub fn verify_recover_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.recover_init(h, mech, key, Dir::Verify)
    }

    /// C_VerifyRecover: the data the signature carries, or
    /// CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE.
    pub fn verify_recover(
        &self,
        h: CK_SESSION_HANDLE,
        signature: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.with_session(h, |s, _| recover_step(slot(s, Dir::Verify), signature, out))
    }
}
