//! The C ABI: every exported `C_*` function, the function lists and the
//! interface table. Each shim checks the caller's pointers, converts them to
//! the safe types of [`crate::api`], calls one façade method and maps the
//! result to a `CK_RV`; all PKCS#11 rules live behind the façade.
//!
//! Safety contract of every exported function (the PKCS#11 one): each
//! pointer argument is NULL or valid for the access the specification
//! describes (reads of `ulLen` bytes, writes of one value, arrays of
//! `ulCount` entries) for the duration of the call.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![allow(
    non_snake_case,
    reason = "the exported names are fixed by the PKCS#11 ABI"
)]
#![allow(
    clippy::missing_safety_doc,
    reason = "one contract for all C_* functions, stated in the module docs"
)]
#![allow(
    clippy::too_many_arguments,
    reason = "argument lists are fixed by the PKCS#11 ABI"
)]

mod args;
mod atfork;
pub mod crypt;
pub mod digest;
pub mod function_list;
pub mod general;
pub mod key;
mod message;
pub mod object;
pub mod random;
pub mod session;
pub mod shared_counter;
pub mod sign;
pub mod slot_token;

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use cryptoki_sys::*;
use once_cell::sync::Lazy;

use crate::api::global::library;
use crate::error::{Error, Result};

/// Read once: tracing must not cost an environment lookup per call.
static TRACE: Lazy<bool> = Lazy::new(|| std::env::var_os("KEYWARD_TRACE").is_some());

/// Runs one shim body: errors become their `CK_RV`, and a panic becomes
/// CKR_GENERAL_ERROR instead of unwinding into C (which is undefined).
pub(crate) fn entry(name: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    entry_rv(name, || f().map(|()| CKR_OK))
}

/// Like [`entry`] for the few functions whose success code is not CKR_OK.
pub(crate) fn entry_rv(name: &'static str, f: impl FnOnce() -> Result<CK_RV>) -> CK_RV {
    let rv = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(rv)) => rv,
        Ok(Err(e)) => e.rv(),
        Err(_) => CKR_GENERAL_ERROR,
    };
    if *TRACE {
        // Function name and return code only: never arguments or data.
        let line = match rv_name(rv) {
            Some(s) => format!("keyward: {name} -> {s}\n"),
            None => format!("keyward: {name} -> {rv:#x}\n"),
        };
        trace_line(&line);
    }
    rv
}

/// Writes one trace line straight to fd 2, not through std's stderr lock:
/// that lock, caught held by a fork(), would hang the child's next call.
fn trace_line(line: &str) {
    // SAFETY: `line` is a live buffer of `line.len()` bytes for the call.
    let _ = unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// Body of the functions not offered yet: the initialization check still
/// comes first, as for every other function.
pub(crate) fn not_supported(name: &'static str) -> CK_RV {
    entry(name, || {
        library()?;
        Err(Error::FunctionNotSupported)
    })
}

/// Names of the codes this module returns, for the trace.
fn rv_name(rv: CK_RV) -> Option<&'static str> {
    const NAMES: &[(CK_RV, &str)] = &[
        (CKR_OK, "CKR_OK"),
        (CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"),
        (CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"),
        (CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"),
        (CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"),
        (CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"),
        (CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"),
        (CKR_CANT_LOCK, "CKR_CANT_LOCK"),
        (
            CKR_CRYPTOKI_ALREADY_INITIALIZED,
            "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        ),
        (CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"),
        (CKR_DATA_INVALID, "CKR_DATA_INVALID"),
        (CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"),
        (CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"),
        (CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"),
        (CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL"),
        (CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"),
        (CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"),
        (CKR_HOST_MEMORY, "CKR_HOST_MEMORY"),
        (CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"),
        (CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"),
        (CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"),
        (CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"),
        (CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"),
        (CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"),
        (
            CKR_OPERATION_NOT_INITIALIZED,
            "CKR_OPERATION_NOT_INITIALIZED",
        ),
        (CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"),
        (CKR_PIN_LOCKED, "CKR_PIN_LOCKED"),
        (CKR_AEAD_DECRYPT_FAILED, "CKR_AEAD_DECRYPT_FAILED"),
        (CKR_KEY_CHANGED, "CKR_KEY_CHANGED"),
        (CKR_KEY_NEEDED, "CKR_KEY_NEEDED"),
        (CKR_KEY_NOT_NEEDED, "CKR_KEY_NOT_NEEDED"),
        (CKR_SAVED_STATE_INVALID, "CKR_SAVED_STATE_INVALID"),
        (CKR_STATE_UNSAVEABLE, "CKR_STATE_UNSAVEABLE"),
        (CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"),
        (CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"),
        (CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"),
        (CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"),
        (CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"),
        (CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"),
        (CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"),
        (CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"),
        (CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"),
        (CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"),
    ];
    NAMES.iter().find(|(v, _)| *v == rv).map(|(_, s)| *s)
}
