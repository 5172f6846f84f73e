//! Key encapsulation (PKCS#11 3.2 §5.18): C_EncapsulateKey and
//! C_DecapsulateKey.

use cryptoki_sys::*;

use super::args::{self, OutBuf, OutPtr};
use super::entry;
use crate::api::global::library;

/// Encapsulates a new secret key to a public key: the ciphertext with
/// the length protocol (a query or a short buffer makes no key), and the
/// new key's handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncapsulateKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hPublicKey: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulAttributeCount: CK_ULONG,
    pCiphertext: CK_BYTE_PTR,
    pulCiphertextLen: CK_ULONG_PTR,
    phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_EncapsulateKey", || {
        let lib = library()?;
        // SAFETY: mechanism, template, buffer, length and handle pointers
        // NULL or valid per the contract.
        let (mech, template, out, handle) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                args::template(pTemplate, ulAttributeCount)?,
                OutBuf::new(pCiphertext, pulCiphertextLen)?,
                OutPtr::new(phKey)?,
            )
        };
        let (ciphertext, key) =
            lib.encapsulate_key(hSession, &mech, hPublicKey, &template, out.cap())?;
        if let Some(key) = key {
            handle.write(key);
        }
        // The ciphertext is public.
        out.write_public(ciphertext)
    })
}

/// Decapsulates a ciphertext with a private key into a new secret key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecapsulateKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hPrivateKey: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulAttributeCount: CK_ULONG,
    pCiphertext: CK_BYTE_PTR,
    ulCiphertextLen: CK_ULONG,
    phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_DecapsulateKey", || {
        let lib = library()?;
        // SAFETY: mechanism, template, ciphertext and handle pointers NULL
        // or valid per the contract.
        let (mech, template, ciphertext, handle) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                args::template(pTemplate, ulAttributeCount)?,
                args::in_bytes(pCiphertext, ulCiphertextLen)?,
                OutPtr::new(phKey)?,
            )
        };
        handle.write(lib.decapsulate_key(hSession, &mech, hPrivateKey, &template, ciphertext)?);
        Ok(())
    })
}
