//! Signing and verification (PKCS#11 3.0 §5.13, §5.15): one-part and
//! multi-part calls, and the recovery variants (single part). Message-based
//! signing is not offered yet.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::args::{self, OutBuf};
use super::{entry, not_supported};
use crate::api::global::library;

/// Starts a signature; a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_SignInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.sign_init(hSession, mech.as_ref(), hKey)
    })
}

/// Signs data in one part, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Sign(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
    pSignature: CK_BYTE_PTR,
    pulSignatureLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_Sign", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (data, out) = args::ending(&lib, hSession, CKF_SIGN, || unsafe {
            Ok((
                args::in_bytes(pData, ulDataLen)?,
                OutBuf::new(pSignature, pulSignatureLen)?,
            ))
        })?;
        // SAFETY: the output buffer's contract, checked in `OutBuf::new`;
        // the slice lives only for this call.
        if let Some(buf) = unsafe { out.buffer(data) }
            && let Some(n) = lib.sign_into(hSession, data, buf)?
        {
            return out.written(n);
        }
        let result = lib.sign(hSession, data, out.cap())?;
        // Signatures and MACs are public outputs: not zeroized after the
        // copy (issue 11).
        out.write_public(result)
    })
}

/// Continues a multi-part signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    entry("C_SignUpdate", || {
        let lib = library()?;
        // SAFETY: NULL or `ulPartLen` readable bytes, per the contract.
        let part = args::ending(&lib, hSession, CKF_SIGN, || unsafe {
            args::in_bytes(pPart, ulPartLen)
        })?;
        lib.sign_update(hSession, part)
    })
}

/// Finishes a multi-part signature, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: CK_BYTE_PTR,
    pulSignatureLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_SignFinal", || {
        let lib = library()?;
        // SAFETY: output buffer and length valid per the contract.
        let out = args::ending(&lib, hSession, CKF_SIGN, || unsafe {
            OutBuf::new(pSignature, pulSignatureLen)
        })?;
        let result = lib.sign_final(hSession, out.cap())?;
        out.write_public(result)
    })
}

/// Starts a verification; a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_VerifyInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.verify_init(hSession, mech.as_ref(), hKey)
    })
}

/// Verifies a signature over data in one part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Verify(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
    pSignature: CK_BYTE_PTR,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    entry("C_Verify", || {
        let lib = library()?;
        // SAFETY: both inputs NULL or readable for their lengths.
        let (data, sig) = args::ending(&lib, hSession, CKF_VERIFY, || unsafe {
            Ok((
                args::in_bytes(pData, ulDataLen)?,
                args::in_bytes(pSignature, ulSignatureLen)?,
            ))
        })?;
        lib.verify(hSession, data, sig)
    })
}

/// Continues a multi-part verification.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    entry("C_VerifyUpdate", || {
        let lib = library()?;
        // SAFETY: NULL or `ulPartLen` readable bytes, per the contract.
        let part = args::ending(&lib, hSession, CKF_VERIFY, || unsafe {
            args::in_bytes(pPart, ulPartLen)
        })?;
        lib.verify_update(hSession, part)
    })
}

/// Finishes a multi-part verification against a signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: CK_BYTE_PTR,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    entry("C_VerifyFinal", || {
        let lib = library()?;
        // SAFETY: NULL or `ulSignatureLen` readable bytes, per the contract.
        let sig = args::ending(&lib, hSession, CKF_VERIFY, || unsafe {
            args::in_bytes(pSignature, ulSignatureLen)
        })?;
        lib.verify_final(hSession, sig)
    })
}

/// Starts a signature with data recovery (CKM_RSA_PKCS, and CKM_RSA_X_509
/// under the legacy RSA policy); a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecoverInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_SignRecoverInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.sign_recover_init(hSession, mech.as_ref(), hKey)
    })
}

/// Signs `pData` with recovery, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecover(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
    pSignature: CK_BYTE_PTR,
    pulSignatureLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_SignRecover", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (data, out) = args::ending(&lib, hSession, CKF_SIGN_RECOVER, || unsafe {
            Ok((
                args::in_bytes(pData, ulDataLen)?,
                OutBuf::new(pSignature, pulSignatureLen)?,
            ))
        })?;
        let result = lib.sign_recover(hSession, data, out.cap())?;
        // A signature is a public output.
        out.write_public(result)
    })
}

/// Starts a verification with data recovery; a NULL mechanism cancels
/// the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_VerifyRecoverInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.verify_recover_init(hSession, mech.as_ref(), hKey)
    })
}

/// Verifies `pSignature` and returns the data it carries, with the length
/// protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecover(
    hSession: CK_SESSION_HANDLE,
    pSignature: CK_BYTE_PTR,
    ulSignatureLen: CK_ULONG,
    pData: CK_BYTE_PTR,
    pulDataLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_VerifyRecover", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (sig, out) = args::ending(&lib, hSession, CKF_VERIFY_RECOVER, || unsafe {
            Ok((
                args::in_bytes(pSignature, ulSignatureLen)?,
                OutBuf::new(pData, pulDataLen)?,
            ))
        })?;
        let result = lib.verify_recover(hSession, sig, out.cap())?;
        out.write(result)
    })
}

/// Message-based signing (3.0) is not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageSignInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_MessageSignInit")
}

/// See [`C_MessageSignInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessage(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _ulDataLen: CK_ULONG,
    _pSignature: CK_BYTE_PTR,
    _pulSignatureLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_SignMessage")
}

/// See [`C_MessageSignInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessageBegin(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_SignMessageBegin")
}

/// See [`C_MessageSignInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessageNext(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _ulDataLen: CK_ULONG,
    _pSignature: CK_BYTE_PTR,
    _pulSignatureLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_SignMessageNext")
}

/// See [`C_MessageSignInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageSignFinal(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    not_supported("C_MessageSignFinal")
}

/// Message-based verification (3.0) is not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageVerifyInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_MessageVerifyInit")
}

/// See [`C_MessageVerifyInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessage(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _ulDataLen: CK_ULONG,
    _pSignature: CK_BYTE_PTR,
    _ulSignatureLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_VerifyMessage")
}

/// See [`C_MessageVerifyInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessageBegin(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_VerifyMessageBegin")
}

/// See [`C_MessageVerifyInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessageNext(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _ulDataLen: CK_ULONG,
    _pSignature: CK_BYTE_PTR,
    _ulSignatureLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_VerifyMessageNext")
}

/// See [`C_MessageVerifyInit`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageVerifyFinal(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    not_supported("C_MessageVerifyFinal")
}
