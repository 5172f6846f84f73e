//! Encryption and decryption (PKCS#11 3.0 §5.8, §5.9), the dual-function
//! calls (§5.14) and message-based encryption (§5.10, §5.11). The façade
//! offers no encryption yet, so each reports CKR_FUNCTION_NOT_SUPPORTED
//! once the library is known to be initialized.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::not_supported;

/// Starts an encryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_EncryptInit")
}

/// Encrypts in one part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Encrypt(
    _hSession: CK_SESSION_HANDLE,
    _pData: CK_BYTE_PTR,
    _ulDataLen: CK_ULONG,
    _pEncryptedData: CK_BYTE_PTR,
    _pulEncryptedDataLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_Encrypt")
}

/// Continues a multi-part encryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pPart: CK_BYTE_PTR,
    _ulPartLen: CK_ULONG,
    _pEncryptedPart: CK_BYTE_PTR,
    _pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_EncryptUpdate")
}

/// Finishes a multi-part encryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptFinal(
    _hSession: CK_SESSION_HANDLE,
    _pLastEncryptedPart: CK_BYTE_PTR,
    _pulLastEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_EncryptFinal")
}

/// Starts a decryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptInit(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    not_supported("C_DecryptInit")
}

/// Decrypts in one part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Decrypt(
    _hSession: CK_SESSION_HANDLE,
    _pEncryptedData: CK_BYTE_PTR,
    _ulEncryptedDataLen: CK_ULONG,
    _pData: CK_BYTE_PTR,
    _pulDataLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_Decrypt")
}

/// Continues a multi-part decryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptUpdate(
    _hSession: CK_SESSION_HANDLE,
    _pEncryptedPart: CK_BYTE_PTR,
    _ulEncryptedPartLen: CK_ULONG,
    _pPart: CK_BYTE_PTR,
    _pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DecryptUpdate")
}

/// Finishes a multi-part decryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptFinal(
    _hSession: CK_SESSION_HANDLE,
    _pLastPart: CK_BYTE_PTR,
    _pulLastPartLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_DecryptFinal")
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
