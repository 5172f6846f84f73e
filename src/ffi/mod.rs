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
pub mod kem;
pub mod key;
mod message;
pub mod object;
pub mod pkcs11_3_2;
pub mod random;
pub mod session;
/// The shared change counter (its own crate, `keyward_shm`; the source is
/// src/ffi/shared_counter.rs).
pub use keyward_shm as shared_counter;
pub mod sign;
pub mod slot_token;

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use cryptoki_sys::*;
use once_cell::sync::Lazy;

use crate::api::global::library;
use crate::error::{Error, Result, cause, rv_name};

/// Read once: tracing must not cost an environment lookup per call.
static TRACE: Lazy<bool> = Lazy::new(|| std::env::var_os("KEYWARD_TRACE").is_some());

/// Runs one shim body: errors become their `CK_RV`, and a panic becomes
/// CKR_GENERAL_ERROR instead of unwinding into C (which is undefined).
pub(crate) fn entry(name: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    entry_rv(name, || f().map(|()| CKR_OK))
}

/// Like [`entry`] for the few functions whose success code is not CKR_OK.
pub(crate) fn entry_rv(name: &'static str, f: impl FnOnce() -> Result<CK_RV>) -> CK_RV {
    if *TRACE {
        cause::clear();
    }
    let rv = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(rv)) => rv,
        Ok(Err(e)) => e.rv(),
        Err(_) => CKR_GENERAL_ERROR,
    };
    if *TRACE {
        let why = if rv == CKR_OK { None } else { cause::take() };
        trace_line(&trace_text(name, rv, why.as_deref()));
    }
    rv
}

/// One trace line: function name and return code, and for a failure the
/// underlying cause when one was recorded (`error::cause`: SQLite's or
/// the file system's words, never arguments or data). Names come from
/// `error::rv_name`, the table the audit trail and the CLI use too.
fn trace_text(name: &str, rv: CK_RV, why: Option<&str>) -> String {
    let code = match rv_name(rv) {
        Some(s) => s.to_string(),
        None => format!("{rv:#x}"),
    };
    match why {
        Some(why) => format!("keyward: {name} -> {code} (cause: {why})\n"),
        None => format!("keyward: {name} -> {code}\n"),
    }
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
