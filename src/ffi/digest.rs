//! Message digesting (PKCS#11 3.0 §5.12): one-part and multi-part digests
//! and digesting a secret key's value.

use cryptoki_sys::*;

use super::args::{self, OutBuf};
use super::entry;
use crate::api::global::library;

/// Starts a digest; a NULL mechanism cancels the active one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
) -> CK_RV {
    entry("C_DigestInit", || {
        let lib = library()?;
        // SAFETY: NULL or a valid CK_MECHANISM, per the contract.
        let mech = unsafe { args::mechanism(pMechanism) }?;
        lib.digest_init(hSession, mech.as_ref())
    })
}

/// Digests data in one part, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Digest(
    hSession: CK_SESSION_HANDLE,
    pData: CK_BYTE_PTR,
    ulDataLen: CK_ULONG,
    pDigest: CK_BYTE_PTR,
    pulDigestLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_Digest", || {
        let lib = library()?;
        // SAFETY: input and output buffers valid per the contract.
        let (data, out) = args::ending(&lib, hSession, CKF_DIGEST, || unsafe {
            Ok((
                args::in_bytes(pData, ulDataLen)?,
                OutBuf::new(pDigest, pulDigestLen)?,
            ))
        })?;
        // SAFETY: the output buffer's contract, checked in `OutBuf::new`;
        // the slice lives only for this call.
        if let Some(buf) = unsafe { out.buffer(data) }
            && let Some(n) = lib.digest_into(hSession, data, buf)?
        {
            return out.written(n);
        }
        let result = lib.digest(hSession, data, out.cap())?;
        // A digest is a public output: not zeroized after the copy.
        out.write_public(result)
    })
}

/// Continues a multi-part digest.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: CK_BYTE_PTR,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    entry("C_DigestUpdate", || {
        let lib = library()?;
        // SAFETY: NULL or `ulPartLen` readable bytes, per the contract.
        let part = args::ending(&lib, hSession, CKF_DIGEST, || unsafe {
            args::in_bytes(pPart, ulPartLen)
        })?;
        lib.digest_update(hSession, part)
    })
}

/// Continues a multi-part digest with a secret key's value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestKey(hSession: CK_SESSION_HANDLE, hKey: CK_OBJECT_HANDLE) -> CK_RV {
    entry("C_DigestKey", || library()?.digest_key(hSession, hKey))
}

/// Finishes a multi-part digest, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestFinal(
    hSession: CK_SESSION_HANDLE,
    pDigest: CK_BYTE_PTR,
    pulDigestLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_DigestFinal", || {
        let lib = library()?;
        // SAFETY: output buffer and length valid per the contract.
        let out = args::ending(&lib, hSession, CKF_DIGEST, || unsafe {
            OutBuf::new(pDigest, pulDigestLen)
        })?;
        let result = lib.digest_final(hSession, out.cap())?;
        // A digest is a public output: not zeroized after the copy.
        out.write_public(result)
    })
}
