//! Session management (PKCS#11 3.0 §5.6): opening and closing sessions,
//! session info, login and logout, and `C_SessionCancel`.

use cryptoki_sys::*;

use super::args::{self, OutBuf, OutPtr};
use super::{entry, not_supported};
use crate::api::global::library;

/// Opens a session. Notification callbacks are accepted and never called:
/// no function here runs long enough to report progress.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_OpenSession(
    slotID: CK_SLOT_ID,
    flags: CK_FLAGS,
    _pApplication: CK_VOID_PTR,
    _Notify: CK_NOTIFY,
    phSession: CK_SESSION_HANDLE_PTR,
) -> CK_RV {
    entry("C_OpenSession", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one handle, per the contract.
        let out = unsafe { OutPtr::new(phSession) }?;
        out.write(lib.open_session(slotID, flags)?);
        Ok(())
    })
}

/// Closes one session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseSession(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_CloseSession", || library()?.close_session(hSession))
}

/// Closes every session of a slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseAllSessions(slotID: CK_SLOT_ID) -> CK_RV {
    entry("C_CloseAllSessions", || {
        library()?.close_all_sessions(slotID)
    })
}

/// Describes one session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionInfo(
    hSession: CK_SESSION_HANDLE,
    pInfo: CK_SESSION_INFO_PTR,
) -> CK_RV {
    entry("C_GetSessionInfo", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_SESSION_INFO, per the contract.
        let out = unsafe { OutPtr::new(pInfo) }?;
        out.write(lib.session_info(hSession)?);
        Ok(())
    })
}

/// Saves the session's digest, sign or verify operation as an opaque blob,
/// with the length protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetOperationState(
    hSession: CK_SESSION_HANDLE,
    pOperationState: CK_BYTE_PTR,
    pulOperationStateLen: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_GetOperationState", || {
        let lib = library()?;
        // SAFETY: output buffer and length valid per the contract.
        let out = unsafe { OutBuf::new(pOperationState, pulOperationStateLen) }?;
        let result = lib.get_operation_state(hSession, out.cap())?;
        out.write(result)
    })
}

/// Restores operations saved by [`C_GetOperationState`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetOperationState(
    hSession: CK_SESSION_HANDLE,
    pOperationState: CK_BYTE_PTR,
    ulOperationStateLen: CK_ULONG,
    hEncryptionKey: CK_OBJECT_HANDLE,
    hAuthenticationKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry("C_SetOperationState", || {
        let lib = library()?;
        // SAFETY: NULL or `ulOperationStateLen` readable bytes, per the
        // contract.
        let state = unsafe { args::in_bytes(pOperationState, ulOperationStateLen) }?;
        lib.set_operation_state(hSession, state, hEncryptionKey, hAuthenticationKey)
    })
}

/// Logs a user type into the token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Login(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: CK_UTF8CHAR_PTR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    entry("C_Login", || {
        let lib = library()?;
        // SAFETY: NULL or ulPinLen readable bytes, per the contract.
        match unsafe { args::login_pin(pPin, ulPinLen) }? {
            Some(pin) => lib.login(hSession, userType, pin),
            // The protected authentication path (the slot's user_pin_file).
            None => lib.login_protected(hSession, userType),
        }
    })
}

/// Logs the token's user out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Logout(hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry("C_Logout", || library()?.logout(hSession))
}

/// Named-user login (3.0) is not offered: the token has one user.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_LoginUser(
    _hSession: CK_SESSION_HANDLE,
    _userType: CK_USER_TYPE,
    _pPin: CK_UTF8CHAR_PTR,
    _ulPinLen: CK_ULONG,
    _pUsername: CK_UTF8CHAR_PTR,
    _ulUsernameLen: CK_ULONG,
) -> CK_RV {
    not_supported("C_LoginUser")
}

/// Ends the session's active operations named by `flags` (3.0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SessionCancel(hSession: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    entry("C_SessionCancel", || {
        library()?.session_cancel(hSession, flags)
    })
}
