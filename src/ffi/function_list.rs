//! The function tables and interface discovery (PKCS#11 3.0 §5.4):
//! `C_GetFunctionList` (the 2.40 table), `C_GetInterfaceList` and
//! `C_GetInterface` ("PKCS 11" 3.2, 3.0 and 2.40). All three work before
//! `C_Initialize`, which is how callers find `C_Initialize` at all.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::args::{self, ListOut, OutPtr};
use super::crypt::*;
use super::digest::*;
use super::entry;
use super::general::*;
use super::kem::*;
use super::key::*;
use super::object::*;
use super::pkcs11_3_2::*;
use super::random::*;
use super::session::*;
use super::sign::*;
use super::slot_token::*;
use crate::error::Error;

const VERSION_3_2: CK_VERSION = CK_VERSION { major: 3, minor: 2 };
const VERSION_3_0: CK_VERSION = CK_VERSION { major: 3, minor: 0 };
const VERSION_2_40: CK_VERSION = CK_VERSION {
    major: 2,
    minor: 40,
};

/// A function table of type `$ty`: every 2.40 function, then the ones a
/// later version adds (`$extra`), each slot holding the function of its
/// own name, so the tables cannot disagree on a shared slot.
macro_rules! table {
    ($ty:ident, $version:expr $(, $extra:ident)* $(,)?) => {
        $ty {
            version: $version,
            C_Initialize: Some(C_Initialize),
            C_Finalize: Some(C_Finalize),
            C_GetInfo: Some(C_GetInfo),
            C_GetFunctionList: Some(C_GetFunctionList),
            C_GetSlotList: Some(C_GetSlotList),
            C_GetSlotInfo: Some(C_GetSlotInfo),
            C_GetTokenInfo: Some(C_GetTokenInfo),
            C_GetMechanismList: Some(C_GetMechanismList),
            C_GetMechanismInfo: Some(C_GetMechanismInfo),
            C_InitToken: Some(C_InitToken),
            C_InitPIN: Some(C_InitPIN),
            C_SetPIN: Some(C_SetPIN),
            C_OpenSession: Some(C_OpenSession),
            C_CloseSession: Some(C_CloseSession),
            C_CloseAllSessions: Some(C_CloseAllSessions),
            C_GetSessionInfo: Some(C_GetSessionInfo),
            C_GetOperationState: Some(C_GetOperationState),
            C_SetOperationState: Some(C_SetOperationState),
            C_Login: Some(C_Login),
            C_Logout: Some(C_Logout),
            C_CreateObject: Some(C_CreateObject),
            C_CopyObject: Some(C_CopyObject),
            C_DestroyObject: Some(C_DestroyObject),
            C_GetObjectSize: Some(C_GetObjectSize),
            C_GetAttributeValue: Some(C_GetAttributeValue),
            C_SetAttributeValue: Some(C_SetAttributeValue),
            C_FindObjectsInit: Some(C_FindObjectsInit),
            C_FindObjects: Some(C_FindObjects),
            C_FindObjectsFinal: Some(C_FindObjectsFinal),
            C_EncryptInit: Some(C_EncryptInit),
            C_Encrypt: Some(C_Encrypt),
            C_EncryptUpdate: Some(C_EncryptUpdate),
            C_EncryptFinal: Some(C_EncryptFinal),
            C_DecryptInit: Some(C_DecryptInit),
            C_Decrypt: Some(C_Decrypt),
            C_DecryptUpdate: Some(C_DecryptUpdate),
            C_DecryptFinal: Some(C_DecryptFinal),
            C_DigestInit: Some(C_DigestInit),
            C_Digest: Some(C_Digest),
            C_DigestUpdate: Some(C_DigestUpdate),
            C_DigestKey: Some(C_DigestKey),
            C_DigestFinal: Some(C_DigestFinal),
            C_SignInit: Some(C_SignInit),
            C_Sign: Some(C_Sign),
            C_SignUpdate: Some(C_SignUpdate),
            C_SignFinal: Some(C_SignFinal),
            C_SignRecoverInit: Some(C_SignRecoverInit),
            C_SignRecover: Some(C_SignRecover),
            C_VerifyInit: Some(C_VerifyInit),
            C_Verify: Some(C_Verify),
            C_VerifyUpdate: Some(C_VerifyUpdate),
            C_VerifyFinal: Some(C_VerifyFinal),
            C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
            C_VerifyRecover: Some(C_VerifyRecover),
            C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
            C_GenerateKey: Some(C_GenerateKey),
            C_GenerateKeyPair: Some(C_GenerateKeyPair),
            C_WrapKey: Some(C_WrapKey),
            C_UnwrapKey: Some(C_UnwrapKey),
            C_DeriveKey: Some(C_DeriveKey),
            C_SeedRandom: Some(C_SeedRandom),
            C_GenerateRandom: Some(C_GenerateRandom),
            C_GetFunctionStatus: Some(C_GetFunctionStatus),
            C_CancelFunction: Some(C_CancelFunction),
            C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
            $($extra: Some($extra),)*
        }
    };
}

/// [`table!`] with the 3.0 additions first, then `$extra`.
macro_rules! table_3_0 {
    ($ty:ident, $version:expr $(, $extra:ident)* $(,)?) => {
        table!(
            $ty,
            $version,
            C_GetInterfaceList,
            C_GetInterface,
            C_LoginUser,
            C_SessionCancel,
            C_MessageEncryptInit,
            C_EncryptMessage,
            C_EncryptMessageBegin,
            C_EncryptMessageNext,
            C_MessageEncryptFinal,
            C_MessageDecryptInit,
            C_DecryptMessage,
            C_DecryptMessageBegin,
            C_DecryptMessageNext,
            C_MessageDecryptFinal,
            C_MessageSignInit,
            C_SignMessage,
            C_SignMessageBegin,
            C_SignMessageNext,
            C_MessageSignFinal,
            C_MessageVerifyInit,
            C_VerifyMessage,
            C_VerifyMessageBegin,
            C_VerifyMessageNext,
            C_MessageVerifyFinal,
            $($extra,)*
        )
    };
}

/// The 3.2 table: the 3.0 table's functions in the same places, then the
/// 3.2 additions, so a caller built against 3.0 headers can use it as a
/// 3.0 table (checked at compile time below).
pub static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 = table_3_0!(
    CK_FUNCTION_LIST_3_2,
    VERSION_3_2,
    C_EncapsulateKey,
    C_DecapsulateKey,
    C_VerifySignatureInit,
    C_VerifySignature,
    C_VerifySignatureUpdate,
    C_VerifySignatureFinal,
    C_GetSessionValidationFlags,
    C_AsyncComplete,
    C_AsyncGetID,
    C_AsyncJoin,
    C_WrapKeyAuthenticated,
    C_UnwrapKeyAuthenticated,
);

// The 3.0 table is a prefix of the 3.2 one: its last function sits at the
// same offset and the 3.2 additions follow it. This is what makes handing
// the 3.2 table to a default C_GetInterface request safe for 3.0 callers.
const _: () = assert!(
    std::mem::offset_of!(CK_FUNCTION_LIST_3_2, C_MessageVerifyFinal)
        == std::mem::offset_of!(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal)
);
const _: () = assert!(
    std::mem::offset_of!(CK_FUNCTION_LIST_3_2, C_EncapsulateKey)
        == std::mem::size_of::<CK_FUNCTION_LIST_3_0>()
);

/// The 3.0 table: the 2.40 functions, then the 3.0 additions.
pub static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = table_3_0!(CK_FUNCTION_LIST_3_0, VERSION_3_0);

/// The 2.40 table, for `C_GetFunctionList` and 2.x callers.
pub static FUNCTION_LIST: CK_FUNCTION_LIST = table!(CK_FUNCTION_LIST, VERSION_2_40);

/// `CK_INTERFACE` holds raw pointers, so a static of it needs this wrapper
/// to be `Sync`.
#[repr(transparent)]
pub struct Interfaces(pub [CK_INTERFACE; 3]);

// SAFETY: the table is never written; its pointers lead only to immutable
// statics (a string literal and the three function tables), so sharing it
// between threads cannot race.
unsafe impl Sync for Interfaces {}

/// The interface name every entry carries, NUL-terminated for C.
const INTERFACE_NAME: &std::ffi::CStr = c"PKCS 11";

/// The interfaces we offer, newest first so "any version" picks 3.2 (the
/// spec lets the library choose; the 3.2 table starts with the 3.0 one,
/// so a 3.0 caller that casts it still finds every function it knows).
pub static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast::<CK_UTF8CHAR>().cast_mut(),
        pFunctionList: (&raw const FUNCTION_LIST_3_2).cast::<c_void>().cast_mut(),
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast::<CK_UTF8CHAR>().cast_mut(),
        pFunctionList: (&raw const FUNCTION_LIST_3_0).cast::<c_void>().cast_mut(),
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast::<CK_UTF8CHAR>().cast_mut(),
        pFunctionList: (&raw const FUNCTION_LIST).cast::<c_void>().cast_mut(),
        flags: 0,
    },
]);

/// The versions of [`INTERFACES`], entry by entry.
const INTERFACE_VERSIONS: [CK_VERSION; 3] = [VERSION_3_2, VERSION_3_0, VERSION_2_40];

/// The first interface matching a `C_GetInterface` request: the name (none
/// means the default, "PKCS 11"), the exact version if one is given, and
/// every requested flag. An interface offering fewer flags does not match,
/// which is what lets NSS ask for CKF_INTERFACE_FORK_SAFE and fall back.
pub(crate) fn select_interface(
    name: Option<&[u8]>,
    version: Option<CK_VERSION>,
    flags: CK_FLAGS,
) -> Option<usize> {
    if name.is_some_and(|n| n != INTERFACE_NAME.to_bytes()) {
        return None;
    }
    INTERFACES
        .0
        .iter()
        .zip(INTERFACE_VERSIONS)
        .position(|(iface, v)| {
            let version_ok = version.is_none_or(|w| w.major == v.major && w.minor == v.minor);
            version_ok && flags & !iface.flags == 0
        })
}

/// Returns the 2.40 function table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(ppFunctionList: CK_FUNCTION_LIST_PTR_PTR) -> CK_RV {
    entry("C_GetFunctionList", || {
        // SAFETY: NULL or writable for one pointer, per the contract.
        let out = unsafe { OutPtr::new(ppFunctionList) }?;
        out.write((&raw const FUNCTION_LIST).cast_mut());
        Ok(())
    })
}

/// Lists the interfaces with the count protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterfaceList(
    pInterfacesList: CK_INTERFACE_PTR,
    pulCount: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_GetInterfaceList", || {
        // SAFETY: pointers NULL or valid per the count protocol.
        let out = unsafe { ListOut::new(pInterfacesList, pulCount) }?;
        out.write(&INTERFACES.0)
    })
}

/// Returns the interface matching name, version and flags (see
/// [`select_interface`]); no match is CKR_ARGUMENTS_BAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterface(
    pInterfaceName: CK_UTF8CHAR_PTR,
    pVersion: CK_VERSION_PTR,
    ppInterface: CK_INTERFACE_PTR_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    entry("C_GetInterface", || {
        // SAFETY: each pointer NULL or valid for its one value, per the contract.
        let (name, version, out) = unsafe {
            (
                args::c_name(pInterfaceName),
                args::read_opt(pVersion),
                OutPtr::new(ppInterface)?,
            )
        };
        let i = select_interface(name, version, flags).ok_or(Error::ArgumentsBad)?;
        let iface = INTERFACES.0.get(i).ok_or(Error::GeneralError)?;
        out.write(std::ptr::from_ref(iface).cast_mut());
        Ok(())
    })
}
