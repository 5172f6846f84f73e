//! Key management (PKCS#11 3.0 §5.18): key and key-pair generation,
//! wrapping, unwrapping and derivation.

use cryptoki_sys::*;

use super::args::{self, OutBuf, OutPtr};
use super::entry;
use crate::api::global::library;
use crate::error::Error;

/// Generates a secret key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulCount: CK_ULONG,
    phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_GenerateKey", || {
        let lib = library()?;
        // SAFETY: mechanism, template and handle pointers valid or NULL.
        let (mech, template, out) = unsafe {
            let mech = args::mechanism_required(pMechanism)?;
            (
                mech,
                args::template(pTemplate, ulCount)?,
                OutPtr::new(phKey)?,
            )
        };
        out.write(lib.generate_key(hSession, &mech, &template)?);
        Ok(())
    })
}

/// Generates a public/private key pair.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKeyPair(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    pPublicKeyTemplate: CK_ATTRIBUTE_PTR,
    ulPublicKeyAttributeCount: CK_ULONG,
    pPrivateKeyTemplate: CK_ATTRIBUTE_PTR,
    ulPrivateKeyAttributeCount: CK_ULONG,
    phPublicKey: CK_OBJECT_HANDLE_PTR,
    phPrivateKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_GenerateKeyPair", || {
        let lib = library()?;
        // SAFETY: mechanism, templates and handle pointers valid or NULL.
        let (mech, public, private, out_pub, out_priv) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                args::template(pPublicKeyTemplate, ulPublicKeyAttributeCount)?,
                args::template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)?,
                OutPtr::new(phPublicKey)?,
                OutPtr::new(phPrivateKey)?,
            )
        };
        let (h_pub, h_priv) = lib.generate_key_pair(hSession, &mech, &public, &private)?;
        out_pub.write(h_pub);
        out_priv.write(h_priv);
        Ok(())
    })
}

/// Wraps (encrypts) a key under a wrapping key, with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hWrappingKey: CK_OBJECT_HANDLE,
    hKey: CK_OBJECT_HANDLE,
    pWrappedKey: CK_BYTE_PTR,
    pulWrappedKeyLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_WrapKey", || {
        let lib = library()?;
        // SAFETY: mechanism and output buffer valid per the contract.
        let (mech, out) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                OutBuf::new(pWrappedKey, pulWrappedKeyLen)?,
            )
        };
        let result = lib.wrap_key(hSession, &mech, hWrappingKey, hKey, out.cap())?;
        out.write(result)
    })
}

/// Unwraps a key into a new object made from the template.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hUnwrappingKey: CK_OBJECT_HANDLE,
    pWrappedKey: CK_BYTE_PTR,
    ulWrappedKeyLen: CK_ULONG,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulAttributeCount: CK_ULONG,
    phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_UnwrapKey", || {
        let lib = library()?;
        // SAFETY: mechanism, input, template and handle pointers valid.
        let (mech, wrapped, template, out) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                args::in_bytes(pWrappedKey, ulWrappedKeyLen)?,
                args::template(pTemplate, ulAttributeCount)?,
                OutPtr::new(phKey)?,
            )
        };
        out.write(lib.unwrap_key(hSession, &mech, hUnwrappingKey, wrapped, &template)?);
        Ok(())
    })
}

/// Derives a key from a base key into a new object made from the template.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DeriveKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: CK_MECHANISM_PTR,
    hBaseKey: CK_OBJECT_HANDLE,
    pTemplate: CK_ATTRIBUTE_PTR,
    ulAttributeCount: CK_ULONG,
    phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    entry("C_DeriveKey", || {
        let lib = library()?;
        // SAFETY: mechanism, template and handle pointers valid (for the
        // SP 800-108 KDFs also each CK_DERIVED_KEY's phKey).
        let (mech, template, out, more) = unsafe {
            (
                args::mechanism_required(pMechanism)?,
                args::template(pTemplate, ulAttributeCount)?,
                OutPtr::new(phKey)?,
                args::derived_key_outputs(pMechanism)?,
            )
        };
        match lib.derive_key_set(hSession, &mech, hBaseKey, &template) {
            Ok(handles) => {
                let (main, rest) = handles.split_first().ok_or(Error::GeneralError)?;
                if rest.len() != more.len() {
                    return Err(Error::GeneralError);
                }
                out.write(*main);
                for (o, h) in more.into_iter().zip(rest) {
                    o.write(*h);
                }
                Ok(())
            }
            Err(e) => {
                // §2.42: no key of the set exists; no additional handle
                // is left looking valid.
                for o in more {
                    o.write(CK_INVALID_HANDLE);
                }
                Err(e)
            }
        }
    })
}
