//! The functions PKCS#11 3.2 adds (besides key encapsulation, in
//! `kem.rs`): verification with the signature given at init (§5.15),
//! session validation flags (§5.6), and the asynchronous and
//! authenticated-wrapping calls, which are not offered.

use cryptoki_sys::*;

use super::args::{self, OutPtr};
use super::{entry, not_supported};
use crate::api::global::library;

/// Starts a verification against `pSignature`; a NULL mechanism cancels
/// the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
    pSignature: CK_BYTE_PTR,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    entry("C_VerifySignatureInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        // A cancel (NULL mechanism) needs no signature.
        let sig: &[u8] = match mech {
            // SAFETY: NULL or `ulSignatureLen` readable bytes.
            Some(_) => unsafe { args::in_bytes(pSignature, ulSignatureLen) }?,
            None => &[],
        };
        lib.verify_signature_init(hSession, mech.as_ref(), hKey, sig)
    })
}

/// Verifies data in one part against the signature given at init.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignature(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
) -> CK_RV {
    entry("C_VerifySignature", || {
        let lib = library()?;
        // SAFETY: NULL or `ulDataLen` readable bytes, per the contract.
        let data = args::ending(&lib, hSession, CKF_VERIFY, || unsafe {
            args::in_bytes(pData, ulDataLen)
        })?;
        lib.verify_signature(hSession, data)
    })
}

/// Continues a multi-part verification started by C_VerifySignatureInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    entry("C_VerifySignatureUpdate", || {
        let lib = library()?;
        // SAFETY: NULL or `ulPartLen` readable bytes, per the contract.
        let part = args::ending(&lib, hSession, CKF_VERIFY, || unsafe {
            args::in_bytes(pPart, ulPartLen)
        })?;
        lib.verify_signature_update(hSession, part)
    })
}

/// Finishes a multi-part verification against the signature given at init.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_VerifySignatureFinal", || {
        library()?.verify_signature_final(hSession)
    })
}

/// The session's validation flags: always 0 (no validation objects).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionValidationFlags(
    hSession: CK_SESSION_HANDLE,
    type_: CK_SESSION_VALIDATION_FLAGS_TYPE,
    pFlags: CK_FLAGS_PTR,
) -> CK_RV {
    entry("C_GetSessionValidationFlags", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_FLAGS, per the contract.
        let out = unsafe { OutPtr::new(pFlags) }?;
        out.write(lib.session_validation_flags(hSession, type_)?);
        Ok(())
    })
}

/// Asynchronous operations (§5.21) are not offered: no function ever
/// returns CKR_PENDING, so there is nothing to complete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_AsyncComplete(
    _hSession: CK_SESSION_HANDLE,
    _pFunctionName: CK_UTF8CHAR_PTR,
    _pResult: *mut CK_ASYNC_DATA,
) -> CK_RV {
    not_supported("C_AsyncComplete")
}

/// See [`C_AsyncComplete`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_AsyncGetID(
    _hSession: CK_SESSION_HANDLE,
    _pFunctionName: CK_UTF8CHAR_PTR,
    _pulID: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_AsyncGetID")
}

/// See [`C_AsyncComplete`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_AsyncJoin(
    _hSession: CK_SESSION_HANDLE,
    _pFunctionName: CK_UTF8CHAR_PTR,
    _ulID: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _ulData: CK_ULONG,
) -> CK_RV {
    not_supported("C_AsyncJoin")
}

/// Authenticated key wrapping (AEAD wrapping with associated data) is not
/// offered.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKeyAuthenticated(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hWrappingKey: CK_OBJECT_HANDLE,
    _hKey: CK_OBJECT_HANDLE,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
    _pWrappedKey: CK_BYTE_PTR,
    _pulWrappedKeyLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_WrapKeyAuthenticated")
}

/// See [`C_WrapKeyAuthenticated`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKeyAuthenticated(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hUnwrappingKey: CK_OBJECT_HANDLE,
    _pWrappedKey: CK_BYTE_PTR,
    _ulWrappedKeyLen: CK_ULONG,
    _pTemplate: CK_ATTRIBUTE_PTR,
    _ulAttributeCount: CK_ULONG,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
    _phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    not_supported("C_UnwrapKeyAuthenticated")
}
