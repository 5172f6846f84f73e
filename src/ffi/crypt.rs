//! Encryption and decryption (PKCS#11 3.0 §5.8, §5.9), the dual-function
//! calls (§5.14) and message-based encryption (§5.10, §5.11). The
//! dual-function and message-based calls report CKR_FUNCTION_NOT_SUPPORTED
//! once the library is known to be initialized.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::args::{self, OutBuf};
use super::{entry, not_supported};
use crate::api::global::library;

/// Starts an encryption; a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_EncryptInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.encrypt_init(hSession, mech.as_ref(), hKey)
    })
}

/// Encrypts in one part, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Encrypt(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
    pEncryptedData: CK_BYTE_PTR,
    pulEncryptedDataLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_Encrypt", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = unsafe {
            (
                args::in_bytes(pData, ulDataLen)?,
                OutBuf::new(pEncryptedData, pulEncryptedDataLen)?,
            )
        };
        let result = lib.encrypt(hSession, input, out.cap())?;
        out.write(result)
    })
}

/// Continues a multi-part encryption, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
    pEncryptedPart: CK_BYTE_PTR,
    pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_EncryptUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = unsafe {
            (
                args::in_bytes(pPart, ulPartLen)?,
                OutBuf::new(pEncryptedPart, pulEncryptedPartLen)?,
            )
        };
        let result = lib.encrypt_update(hSession, input, out.cap())?;
        out.write(result)
    })
}

/// Finishes a multi-part encryption, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptFinal(
    hSession: CK_SESSION_HANDLE,
    pLastEncryptedPart: CK_BYTE_PTR,
    pulLastEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_EncryptFinal", || {
        let lib = library()?;
        // SAFETY: output buffer and length valid per the contract.
        let out = unsafe { OutBuf::new(pLastEncryptedPart, pulLastEncryptedPartLen) }?;
        let result = lib.encrypt_final(hSession, out.cap())?;
        out.write(result)
    })
}

/// Starts a decryption; a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_DecryptInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.decrypt_init(hSession, mech.as_ref(), hKey)
    })
}

/// Decrypts in one part, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Decrypt(
    hSession: CK_SESSION_HANDLE,
    pEncryptedData: CK_BYTE_PTR,
    ulEncryptedDataLen: CK_ULONG,
    pData: CK_BYTE_PTR,
    pulDataLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_Decrypt", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = unsafe {
            (
                args::in_bytes(pEncryptedData, ulEncryptedDataLen)?,
                OutBuf::new(pData, pulDataLen)?,
            )
        };
        let result = lib.decrypt(hSession, input, out.cap())?;
        out.write(result)
    })
}

/// Continues a multi-part decryption, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptUpdate(
    hSession: CK_SESSION_HANDLE,
    pEncryptedPart: CK_BYTE_PTR,
    ulEncryptedPartLen: CK_ULONG,
    pPart: CK_BYTE_PTR,
    pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DecryptUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = unsafe {
            (
                args::in_bytes(pEncryptedPart, ulEncryptedPartLen)?,
                OutBuf::new(pPart, pulPartLen)?,
            )
        };
        let result = lib.decrypt_update(hSession, input, out.cap())?;
        out.write(result)
    })
}

/// Finishes a multi-part decryption, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptFinal(
    hSession: CK_SESSION_HANDLE,
    pLastPart: CK_BYTE_PTR,
    pulLastPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DecryptFinal", || {
        let lib = library()?;
        // SAFETY: output buffer and length valid per the contract.
        let out = unsafe { OutBuf::new(pLastPart, pulLastPartLen) }?;
        let result = lib.decrypt_final(hSession, out.cap())?;
        out.write(result)
    })
}

/// Dual function: digest and encrypt.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pPart: CK_BYTE_PTR,
    _ulPartLen: CK_ULONG,
    _pEncryptedPart: CK_BYTE_PTR,
    _pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DigestEncryptUpdate")
}

/// Dual function: decrypt and digest.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pEncryptedPart: CK_BYTE_PTR,
    _ulEncryptedPartLen: CK_ULONG,
    _pPart: CK_BYTE_PTR,
    _pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DecryptDigestUpdate")
}

/// Dual function: sign and encrypt.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pPart: CK_BYTE_PTR,
    _ulPartLen: CK_ULONG,
    _pEncryptedPart: CK_BYTE_PTR,
    _pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_SignEncryptUpdate")
}

/// Dual function: decrypt and verify.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pEncryptedPart: CK_BYTE_PTR,
    _ulEncryptedPartLen: CK_ULONG,
    _pPart: CK_BYTE_PTR,
    _pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DecryptVerifyUpdate")
}

/// Starts message-based encryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_MessageEncryptInit")
}

/// Encrypts one message (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessage(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
    _pPlaintext: CK_BYTE_PTR,
    _ulPlaintextLen: CK_ULONG,
    _pCiphertext: CK_BYTE_PTR,
    _pulCiphertextLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_EncryptMessage")
}

/// Starts a multi-part message encryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageBegin(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_EncryptMessageBegin")
}

/// Continues a multi-part message encryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageNext(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pPlaintextPart: CK_BYTE_PTR,
    _ulPlaintextPartLen: CK_ULONG,
    _pCiphertextPart: CK_BYTE_PTR,
    _pulCiphertextPartLen: CK_ULONG_PTR,
    _flags: CK_FLAGS,
) -> CK_RV {
    not_supported("C_EncryptMessageNext")
}

/// Ends message-based encryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptFinal(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    not_supported("C_MessageEncryptFinal")
}

/// Starts message-based decryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_MessageDecryptInit")
}

/// Decrypts one message (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessage(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
    _pCiphertext: CK_BYTE_PTR,
    _ulCiphertextLen: CK_ULONG,
    _pPlaintext: CK_BYTE_PTR,
    _pulPlaintextLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DecryptMessage")
}

/// Starts a multi-part message decryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageBegin(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pAssociatedData: CK_BYTE_PTR,
    _ulAssociatedDataLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_DecryptMessageBegin")
}

/// Continues a multi-part message decryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageNext(
    _hSession: CK_SESSION_HANDLE,
    _pParameter: *mut c_void,
    _ulParameterLen: CK_ULONG,
    _pCiphertextPart: CK_BYTE_PTR,
    _ulCiphertextPartLen: CK_ULONG,
    _pPlaintextPart: CK_BYTE_PTR,
    _pulPlaintextPartLen: CK_ULONG_PTR,
    _flags: CK_FLAGS,
) -> CK_RV {
    not_supported("C_DecryptMessageNext")
}

/// Ends message-based decryption (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptFinal(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    not_supported("C_MessageDecryptFinal")
}
