//! Slot and token management (PKCS#11 3.0 §5.5): slot and token
//! descriptions, mechanism lists, and the PIN and token initialization
//! calls.

use cryptoki_sys::*;

use super::args::{self, ListOut, OutPtr};
use super::{entry, not_supported};
use crate::api::global::library;

/// Lists the slots, with the count protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotList(
    tokenPresent: CK_BBOOL,
    pSlotList: CK_SLOT_ID_PTR,
    pulCount: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_GetSlotList", || {
        let lib = library()?;
        // SAFETY: pointers NULL or valid per the count protocol.
        let out = unsafe { ListOut::new(pSlotList, pulCount) }?;
        out.write(&lib.slot_list(tokenPresent != CK_FALSE))
    })
}

/// Describes one slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: CK_SLOT_INFO_PTR) -> CK_RV {
    entry("C_GetSlotInfo", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_SLOT_INFO, per the contract.
        let out = unsafe { OutPtr::new(pInfo) }?;
        out.write(lib.slot_info(slotID)?);
        Ok(())
    })
}

/// Describes the token in one slot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: CK_TOKEN_INFO_PTR) -> CK_RV {
    entry("C_GetTokenInfo", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_TOKEN_INFO, per the contract.
        let out = unsafe { OutPtr::new(pInfo) }?;
        out.write(lib.token_info(slotID)?);
        Ok(())
    })
}

/// Slots never change, so there is no event to wait for.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    _flags: CK_FLAGS,
    _pSlot: CK_SLOT_ID_PTR,
    _pReserved: CK_VOID_PTR,
) -> CK_RV {
    not_supported("C_WaitForSlotEvent")
}

/// Lists a token's mechanisms, with the count protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismList(
    slotID: CK_SLOT_ID,
    pMechanismList: CK_MECHANISM_TYPE_PTR,
    pulCount: CK_ULONG_PTR,
) -> CK_RV {
    entry("C_GetMechanismList", || {
        let lib = library()?;
        // SAFETY: pointers NULL or valid per the count protocol.
        let out = unsafe { ListOut::new(pMechanismList, pulCount) }?;
        out.write(&lib.mechanism_list(slotID)?)
    })
}

/// Describes one mechanism of a token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slotID: CK_SLOT_ID,
    type_: CK_MECHANISM_TYPE,
    pInfo: CK_MECHANISM_INFO_PTR,
) -> CK_RV {
    entry("C_GetMechanismInfo", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_MECHANISM_INFO, per the contract.
        let out = unsafe { OutPtr::new(pInfo) }?;
        out.write(lib.mechanism_info(slotID, type_)?);
        Ok(())
    })
}

/// Initializes (or re-initializes) a token under an SO PIN and label.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitToken(
    slotID: CK_SLOT_ID,
    pPin: CK_UTF8CHAR_PTR,
    ulPinLen: CK_ULONG,
    pLabel: CK_UTF8CHAR_PTR,
) -> CK_RV {
    entry("C_InitToken", || {
        let lib = library()?;
        // SAFETY: pPin NULL or ulPinLen bytes, pLabel NULL or 32 bytes.
        let (pin, label) = unsafe { (args::pin(pPin, ulPinLen)?, args::label(pLabel)?) };
        lib.init_token(slotID, pin, &label)
    })
}

/// Sets the user PIN (SO session).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitPIN(
    hSession: CK_SESSION_HANDLE,
    pPin: CK_UTF8CHAR_PTR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    entry("C_InitPIN", || {
        let lib = library()?;
        // SAFETY: NULL or ulPinLen readable bytes, per the contract.
        let pin = unsafe { args::pin(pPin, ulPinLen) }?;
        lib.init_pin(hSession, pin)
    })
}

/// Changes the PIN of the user logged into the session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetPIN(
    hSession: CK_SESSION_HANDLE,
    pOldPin: CK_UTF8CHAR_PTR,
    ulOldLen: CK_ULONG,
    pNewPin: CK_UTF8CHAR_PTR,
    ulNewLen: CK_ULONG,
) -> CK_RV {
    entry("C_SetPIN", || {
        let lib = library()?;
        // SAFETY: each PIN NULL or readable for its length, per the contract.
        let (old, new) = unsafe { (args::pin(pOldPin, ulOldLen)?, args::pin(pNewPin, ulNewLen)?) };
        lib.set_pin(hSession, old, new)
    })
}
