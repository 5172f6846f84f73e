//! Keyward: a software HSM exposed as a PKCS#11 3.0 module.
//!
//! This crate is the module: the C ABI in [`ffi`] (the `unsafe` shims),
//! which converts arguments and calls the safe façade in [`api`]. Every
//! other module is the core crate's (`keyward_core`, which forbids
//! `unsafe`), re-exported here so `keyward::api`, `keyward::mechanism`…
//! name the same items for tests, benches and the admin command.

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

pub use keyward_core::*;

#[allow(unsafe_code)]
pub mod ffi;
