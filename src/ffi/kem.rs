//! Key encapsulation (PKCS#11 3.2 §5.18): C_EncapsulateKey and
//! C_DecapsulateKey.

use cryptoki_sys::*;

use super::not_supported;

/// Not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncapsulateKey(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hPublicKey: CK_OBJECT_HANDLE,
    _pTemplate: CK_ATTRIBUTE_PTR,
    _ulAttributeCount: CK_ULONG,
    _pCiphertext: CK_BYTE_PTR,
    _pulCiphertextLen: CK_ULONG_PTR,
    _phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    not_supported("C_EncapsulateKey")
}

/// Not offered yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecapsulateKey(
    _hSession: CK_SESSION_HANDLE,
    _pMechanism: CK_MECHANISM_PTR,
    _hPrivateKey: CK_OBJECT_HANDLE,
    _pTemplate: CK_ATTRIBUTE_PTR,
    _ulAttributeCount: CK_ULONG,
    _pCiphertext: CK_BYTE_PTR,
    _ulCiphertextLen: CK_ULONG,
    _phKey: CK_OBJECT_HANDLE_PTR,
) -> CK_RV {
    not_supported("C_DecapsulateKey")
}
