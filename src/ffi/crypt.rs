//! Encryption and decryption (PKCS#11 3.0 §5.8, §5.9), the dual-function
//! calls (§5.14) and message-based encryption and decryption (§5.10,
//! §5.11; CKM_AES_GCM with CK_GCM_MESSAGE_PARAMS, read and written back in
//! `message.rs`). The dual-function calls report
//! CKR_FUNCTION_NOT_SUPPORTED once the library is known to be initialized.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::args::{self, OutBuf};
use super::entry;
use super::message::{self, GcmParam};
use crate::api::global::library;
use crate::error::{Error, Result};

// Declared here rather than in `ffi/mod.rs` (owned elsewhere); the file
// sits beside this one.

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
        let (input, out) = args::ending(&lib, hSession, CKF_ENCRYPT, || unsafe {
            Ok((
                args::in_bytes(pData, ulDataLen)?,
                OutBuf::new(pEncryptedData, pulEncryptedDataLen)?,
            ))
        })?;
        // SAFETY: the output buffer's contract, checked in `OutBuf::new`;
        // the slice lives only for this call.
        if let Some(buf) = unsafe { out.buffer(input) }
            && let Some(n) = lib.encrypt_into(hSession, input, buf)?
        {
            return out.written(n);
        }
        let result = lib.encrypt(hSession, input, out.cap())?;
        // Ciphertext is public: not zeroized after the copy.
        out.write_public(result)
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
        let (input, out) = args::ending(&lib, hSession, CKF_ENCRYPT, || unsafe {
            Ok((
                args::in_bytes(pPart, ulPartLen)?,
                OutBuf::new(pEncryptedPart, pulEncryptedPartLen)?,
            ))
        })?;
        // SAFETY: as in C_Encrypt; the slice lives only for this call.
        if let Some(buf) = unsafe { out.buffer(input) }
            && let Some(n) = lib.encrypt_update_into(hSession, input, buf)?
        {
            return out.written(n);
        }
        let result = lib.encrypt_update(hSession, input, out.cap())?;
        // Ciphertext is public: not zeroized after the copy.
        out.write_public(result)
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
        let out = args::ending(&lib, hSession, CKF_ENCRYPT, || unsafe {
            OutBuf::new(pLastEncryptedPart, pulLastEncryptedPartLen)
        })?;
        let result = lib.encrypt_final(hSession, out.cap())?;
        // Ciphertext is public: not zeroized after the copy.
        out.write_public(result)
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
        let (input, out) = args::ending(&lib, hSession, CKF_DECRYPT, || unsafe {
            Ok((
                args::in_bytes(pEncryptedData, ulEncryptedDataLen)?,
                OutBuf::new(pData, pulDataLen)?,
            ))
        })?;
        // SAFETY: as in C_Encrypt. Plaintext goes straight to the caller:
        // no copy of it is left in our memory.
        if let Some(buf) = unsafe { out.buffer(input) }
            && let Some(n) = lib.decrypt_into(hSession, input, buf)?
        {
            return out.written(n);
        }
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
        let (input, out) = args::ending(&lib, hSession, CKF_DECRYPT, || unsafe {
            Ok((
                args::in_bytes(pEncryptedPart, ulEncryptedPartLen)?,
                OutBuf::new(pPart, pulPartLen)?,
            ))
        })?;
        // SAFETY: as in C_Encrypt. Released plaintext goes straight to
        // the caller: no copy of it is left in our memory.
        if let Some(buf) = unsafe { out.buffer(input) }
            && let Some(n) = lib.decrypt_update_into(hSession, input, buf)?
        {
            return out.written(n);
        }
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
        let out = args::ending(&lib, hSession, CKF_DECRYPT, || unsafe {
            OutBuf::new(pLastPart, pulLastPartLen)
        })?;
        let result = lib.decrypt_final(hSession, out.cap())?;
        out.write(result)
    })
}

/// Dual function: digests and encrypts a part (both operations active).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
    pEncryptedPart: CK_BYTE_PTR,
    pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DigestEncryptUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = args::ending(&lib, hSession, CKF_DIGEST | CKF_ENCRYPT, || unsafe {
            Ok((
                args::in_bytes(pPart, ulPartLen)?,
                OutBuf::new(pEncryptedPart, pulEncryptedPartLen)?,
            ))
        })?;
        let result = lib.digest_encrypt_update(hSession, input, out.cap())?;
        // Ciphertext is public: not zeroized after the copy.
        out.write_public(result)
    })
}

/// Dual function: decrypts a part and digests the plaintext.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    hSession: CK_SESSION_HANDLE,
    pEncryptedPart: CK_BYTE_PTR,
    ulEncryptedPartLen: CK_ULONG,
    pPart: CK_BYTE_PTR,
    pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DecryptDigestUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = args::ending(&lib, hSession, CKF_DECRYPT | CKF_DIGEST, || unsafe {
            Ok((
                args::in_bytes(pEncryptedPart, ulEncryptedPartLen)?,
                OutBuf::new(pPart, pulPartLen)?,
            ))
        })?;
        let result = lib.decrypt_digest_update(hSession, input, out.cap())?;
        // Plaintext: zeroized after the copy.
        out.write(result)
    })
}

/// Dual function: signs (or MACs) and encrypts a part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
    pEncryptedPart: CK_BYTE_PTR,
    pulEncryptedPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_SignEncryptUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = args::ending(&lib, hSession, CKF_SIGN | CKF_ENCRYPT, || unsafe {
            Ok((
                args::in_bytes(pPart, ulPartLen)?,
                OutBuf::new(pEncryptedPart, pulEncryptedPartLen)?,
            ))
        })?;
        let result = lib.sign_encrypt_update(hSession, input, out.cap())?;
        // Ciphertext is public: not zeroized after the copy.
        out.write_public(result)
    })
}

/// Dual function: decrypts a part and verifies the plaintext.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    hSession: CK_SESSION_HANDLE,
    pEncryptedPart: CK_BYTE_PTR,
    ulEncryptedPartLen: CK_ULONG,
    pPart: CK_BYTE_PTR,
    pulPartLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DecryptVerifyUpdate", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (input, out) = args::ending(&lib, hSession, CKF_DECRYPT | CKF_VERIFY, || unsafe {
            Ok((
                args::in_bytes(pEncryptedPart, ulEncryptedPartLen)?,
                OutBuf::new(pPart, pulPartLen)?,
            ))
        })?;
        let result = lib.decrypt_verify_update(hSession, input, out.cap())?;
        // Plaintext: zeroized after the copy.
        out.write(result)
    })
}

/// The arguments of C_EncryptMessageNext / C_DecryptMessageNext: the
/// parameter (NULL allowed), the input part and the output buffer.
///
/// # Safety
/// As for the exported functions: each pointer NULL or valid for its
/// length, the parameter a CK_GCM_MESSAGE_PARAMS.
unsafe fn next_args<'a>(
    param: *mut c_void,
    param_len: CK_ULONG,
    read_tag: bool,
    input: CK_BYTE_PTR,
    input_len: CK_ULONG,
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
) -> Result<(Option<GcmParam>, &'a [u8], OutBuf)> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            GcmParam::optional(param, param_len, read_tag)?,
            args::in_bytes(input, input_len)?,
            OutBuf::new(out, out_len)?,
        ))
    }
}

/// Starts message-based encryption; a NULL mechanism cancels it. The
/// mechanism's parameter is ignored (GCM takes one per message).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_MessageEncryptInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { message::mechanism(pMechanism) };
        lib.message_encrypt_init(hSession, mech.as_ref(), hKey)
    })
}

/// Encrypts one message, with the length protocol; a generated IV goes to
/// `pIv` and the tag to `pTag` of the CK_GCM_MESSAGE_PARAMS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessage(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pAssociatedData: CK_BYTE_PTR,
    ulAssociatedDataLen: CK_ULONG,
    pPlaintext: CK_BYTE_PTR,
    ulPlaintextLen: CK_ULONG,
    pCiphertext: CK_BYTE_PTR,
    pulCiphertextLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_EncryptMessage", || {
        let lib = library()?;
        // SAFETY: parameter, inputs and output valid per the contract.
        let (param, aad, input, out) = unsafe {
            (
                GcmParam::new(pParameter, ulParameterLen, false)?,
                args::in_bytes(pAssociatedData, ulAssociatedDataLen)?,
                args::in_bytes(pPlaintext, ulPlaintextLen)?,
                OutBuf::new(pCiphertext, pulCiphertextLen)?,
            )
        };
        let sealed = lib.encrypt_message(hSession, param.value(), aad, input, out.cap())?;
        param.write_back(sealed.iv.as_deref(), sealed.tag.as_deref())?;
        out.write(sealed.out)
    })
}

/// Starts a multi-part message; a generated IV goes to `pIv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageBegin(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pAssociatedData: CK_BYTE_PTR,
    ulAssociatedDataLen: CK_ULONG,
) -> CK_RV {
    entry("C_EncryptMessageBegin", || {
        let lib = library()?;
        // SAFETY: parameter and associated data valid per the contract.
        let (param, aad) = unsafe {
            (
                GcmParam::new(pParameter, ulParameterLen, false)?,
                args::in_bytes(pAssociatedData, ulAssociatedDataLen)?,
            )
        };
        let iv = lib.encrypt_message_begin(hSession, param.value(), aad)?;
        param.write_back(iv.as_deref(), None)
    })
}

/// Continues a multi-part message, with the length protocol; with
/// CKF_END_OF_MESSAGE the tag goes to `pTag` of this call's parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageNext(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pPlaintextPart: CK_BYTE_PTR,
    ulPlaintextPartLen: CK_ULONG,
    pCiphertextPart: CK_BYTE_PTR,
    pulCiphertextPartLen: CK_ULONG_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    entry("C_EncryptMessageNext", || {
        let lib = library()?;
        // SAFETY: parameter, input and output valid per the contract.
        let parsed = unsafe {
            next_args(
                pParameter,
                ulParameterLen,
                false,
                pPlaintextPart,
                ulPlaintextPartLen,
                pCiphertextPart,
                pulCiphertextPartLen,
            )
        };
        let (param, input, out) = parsed.inspect_err(|_| lib.encrypt_message_abandon(hSession))?;
        let value = param.as_ref().map(GcmParam::value);
        let sealed = lib.encrypt_message_next(hSession, value, input, out.cap(), flags)?;
        if let Some(tag) = sealed.tag.as_deref() {
            param.as_ref().ok_or(Error::GeneralError)?.write_tag(tag)?;
        }
        out.write(sealed.out)
    })
}

/// Ends message-based encryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_MessageEncryptFinal", || {
        library()?.message_encrypt_final(hSession)
    })
}

/// Starts message-based decryption; a NULL mechanism cancels it. The
/// mechanism's parameter is ignored (GCM takes one per message).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_MessageDecryptInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { message::mechanism(pMechanism) };
        lib.message_decrypt_init(hSession, mech.as_ref(), hKey)
    })
}

/// Decrypts one message, with the length protocol; the IV and the tag
/// are read from the CK_GCM_MESSAGE_PARAMS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessage(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pAssociatedData: CK_BYTE_PTR,
    ulAssociatedDataLen: CK_ULONG,
    pCiphertext: CK_BYTE_PTR,
    ulCiphertextLen: CK_ULONG,
    pPlaintext: CK_BYTE_PTR,
    pulPlaintextLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DecryptMessage", || {
        let lib = library()?;
        // SAFETY: parameter, inputs and output valid per the contract.
        let (param, aad, input, out) = unsafe {
            (
                GcmParam::new(pParameter, ulParameterLen, true)?,
                args::in_bytes(pAssociatedData, ulAssociatedDataLen)?,
                args::in_bytes(pCiphertext, ulCiphertextLen)?,
                OutBuf::new(pPlaintext, pulPlaintextLen)?,
            )
        };
        lib.decrypt_message(hSession, param.value(), aad, input, out.cap())
            .and_then(|result| out.write(result))
    })
}

/// Starts a multi-part message decryption. The tag is read here if
/// `pTag` is set, or from the last C_DecryptMessageNext's parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageBegin(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pAssociatedData: CK_BYTE_PTR,
    ulAssociatedDataLen: CK_ULONG,
) -> CK_RV {
    entry("C_DecryptMessageBegin", || {
        let lib = library()?;
        // SAFETY: parameter and associated data valid per the contract.
        let (param, aad) = unsafe {
            (
                GcmParam::new(pParameter, ulParameterLen, true)?,
                args::in_bytes(pAssociatedData, ulAssociatedDataLen)?,
            )
        };
        lib.decrypt_message_begin(hSession, param.value(), aad)
    })
}

/// Continues a multi-part message decryption, with the length protocol:
/// plaintext comes out only with CKF_END_OF_MESSAGE, once the tag has
/// verified.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageNext(
    hSession: CK_SESSION_HANDLE,
    pParameter: *mut c_void,
    ulParameterLen: CK_ULONG,
    pCiphertextPart: CK_BYTE_PTR,
    ulCiphertextPartLen: CK_ULONG,
    pPlaintextPart: CK_BYTE_PTR,
    pulPlaintextPartLen: CK_ULONG_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    entry("C_DecryptMessageNext", || {
        let lib = library()?;
        // SAFETY: parameter, input and output valid per the contract.
        let parsed = unsafe {
            next_args(
                pParameter,
                ulParameterLen,
                true,
                pCiphertextPart,
                ulCiphertextPartLen,
                pPlaintextPart,
                pulPlaintextPartLen,
            )
        };
        let (param, input, out) = parsed.inspect_err(|_| lib.decrypt_message_abandon(hSession))?;
        let value = param.as_ref().map(GcmParam::value);
        lib.decrypt_message_next(hSession, value, input, out.cap(), flags)
            .and_then(|result| out.write(result))
    })
}

/// Ends message-based decryption.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_MessageDecryptFinal", || {
        library()?.message_decrypt_final(hSession)
    })
}
