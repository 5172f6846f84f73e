//! General-purpose functions (PKCS#11 3.0 §5.4 and the legacy §5.19):
//! `C_Initialize`, `C_Finalize`, `C_GetInfo`, `C_GetFunctionStatus` and
//! `C_CancelFunction`. The function-list calls live in `function_list.rs`.

use cryptoki_sys::*;

use super::args::{self, OutPtr};
use super::{entry, entry_rv};
use crate::api::global::{self, library};
use crate::error::Error;

/// Initializes the library; NULL arguments mean the defaults.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Initialize(pInitArgs: CK_VOID_PTR) -> CK_RV {
    entry("C_Initialize", || {
        // SAFETY: NULL or a CK_C_INITIALIZE_ARGS, per the contract.
        let init = unsafe { args::init_args(pInitArgs.cast::<CK_C_INITIALIZE_ARGS>()) };
        // Before any state exists that a child could inherit mid-use, and
        // outside the fork gate (see `atfork::register`).
        super::atfork::register();
        global::initialize(init)
    })
}

/// Tears the library down; `pReserved` must be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Finalize(pReserved: CK_VOID_PTR) -> CK_RV {
    entry("C_Finalize", || {
        // Only the initialization check: the handle is dropped at once so
        // finalizing never waits on our own reference.
        drop(library()?);
        if !pReserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        global::finalize()
    })
}

/// Describes the library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInfo(pInfo: CK_INFO_PTR) -> CK_RV {
    entry("C_GetInfo", || {
        let lib = library()?;
        // SAFETY: NULL or writable for one CK_INFO, per the contract.
        let out = unsafe { OutPtr::new(pInfo) }?;
        out.write(lib.info());
        Ok(())
    })
}

/// Legacy: functions never run in parallel, so there is nothing to report.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionStatus(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry_rv("C_GetFunctionStatus", || {
        library()?;
        Ok(CKR_FUNCTION_NOT_PARALLEL)
    })
}

/// Legacy: functions never run in parallel, so there is nothing to cancel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CancelFunction(_hSession: CK_SESSION_HANDLE) -> CK_RV {
    entry_rv("C_CancelFunction", || {
        library()?;
        Ok(CKR_FUNCTION_NOT_PARALLEL)
    })
}
