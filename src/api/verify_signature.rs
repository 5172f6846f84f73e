//! PKCS#11 3.2 §5.15 C_VerifySignatureInit / C_VerifySignature /
//! C_VerifySignatureUpdate / C_VerifySignatureFinal: a verification whose
//! signature is given at init, built on the same verify operations as
//! C_VerifyInit (any mechanism that offers CKF_VERIFY offers these too,
//! as the spec requires). Its ending rules are C_Verify's: the one-part
//! call and the final call always end it, an update error ends it.

use cryptoki_sys::*;

use super::{Library, Mech};
use crate::error::{Error, Result};
use crate::mechanism::{self, Mechanism};
use crate::session::{ActiveOp, SignatureFirst};

impl Library {
    pub fn verify_signature_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
        signature: &[u8],
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let Some(mech) = mech else {
                s.verify_signature = None;
                return Ok(());
            };
            // One verification at a time, whichever call started it.
            if s.verify.is_some() || s.verify_recover.is_some() || s.verify_signature.is_some() {
                return Err(Error::OperationActive);
            }
            let (_, key) = self.use_key(s, token, key, CKA_VERIFY, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = mechanism::verify_init(&m, key)?;
            let first = SignatureFirst {
                op,
                signature: signature.to_vec(),
            };
            s.verify_signature = Some(ActiveOp::new(first, mechanism::is_multipart(m.mech), false));
            Ok(())
        })
    }

    pub fn verify_signature(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            let active = s
                .verify_signature
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            // After an update only the final call may end the operation;
            // the spec's list for C_VerifySignature has no
            // CKR_OPERATION_ACTIVE, so the misuse ends it as any error does.
            let result = if active.updated {
                Err(Error::OperationNotInitialized)
            } else {
                let a = &mut active.op;
                a.op.update(data).and_then(|()| a.op.finish(&a.signature))
            };
            s.verify_signature = None;
            result
        })
    }

    pub fn verify_signature_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            let active = s
                .verify_signature
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            let result = if active.multipart {
                active.updated = true;
                active.op.op.update(data)
            } else {
                // A one-part mechanism (raw ECDSA, EdDSA): the spec lists
                // no CKR_FUNCTION_NOT_SUPPORTED here, but it is the stub
                // answer of every function, and C_VerifyUpdate gives it too.
                Err(Error::FunctionNotSupported)
            };
            if result.is_err() {
                s.verify_signature = None;
            }
            result
        })
    }

    pub fn verify_signature_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.with_session(h, |s, _| {
            let active = s
                .verify_signature
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            let result = if active.multipart {
                let a = &mut active.op;
                a.op.finish(&a.signature)
            } else {
                Err(Error::FunctionNotSupported)
            };
            s.verify_signature = None;
            result
        })
    }
}
