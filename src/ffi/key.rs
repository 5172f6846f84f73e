//! Key management (PKCS#11 3.0 §5.18): key and key-pair generation.
//! Wrapping, unwrapping and derivation are not offered yet.

use cryptoki_sys::*;

use super::args::{self, OutPtr};
use super::{entry, not_supported};
use crate::api::global::library;

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

/// Not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKey(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hWrappingKey: CK_OBJECT_HANDLE,
    _hKey: CK_OBJECT_HANDLE,
    _pWrappedKey: CK_BYTE_PTR,
    _pulWrappedKeyLen: CK_ULONG_PTR,
) -> CK_RV {
    not_supported("C_WrapKey")
}

/// Not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKey(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hUnwrappingKey: CK_OBJECT_HANDLE,
    _pWrappedKey: CK_BYTE_PTR,
    _ulWrappedKeyLen: CK_ULONG,
    _pTemplate: CK_ATTRIBUTE_PTR,
    _ulAttributeCount: CK_ULONG,
    _phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    not_supported("C_UnwrapKey")
}

/// Not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DeriveKey(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hBaseKey: CK_OBJECT_HANDLE,
    _pTemplate: CK_ATTRIBUTE_PTR,
    _ulAttributeCount: CK_ULONG,
    _phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    not_supported("C_DeriveKey")
}
