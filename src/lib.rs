//! Keyward: a software HSM exposed as a PKCS#11 3.0 module.
//!
//! The C ABI lives in [`ffi`] (the only module with `unsafe`); it converts
//! arguments and calls the safe façade in [`api`], which drives the token,
//! session and object rules, the mechanism table and the encrypted store.

#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod api;
pub mod audit;
pub mod config;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod forkgate;
pub mod idhash;
pub mod lifecycle;
pub mod mechanism;
pub mod object;
pub mod session;
pub mod store;
pub mod token;
pub mod types;

#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod test_util;
