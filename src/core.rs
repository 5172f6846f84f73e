//! Keyward's safe core, the crate `keyward_core` (crates/keyward-core):
//! tokens, sessions, objects and their rules, the mechanism registry and
//! every crypto call, the encrypted store, lifecycle, policy and audit —
//! everything but the C ABI, which is the root package's `ffi` module and
//! converts C arguments into calls on the façade in [`api`].
//!
//! No `unsafe` here, and the compiler holds it: the ABI shims (src/ffi/)
//! and the shared change counter's one mmap (crate `keyward_shm`, source
//! src/ffi/shared_counter.rs) are the only unsafe code, each in its own
//! crate.

#![forbid(unsafe_code)]
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
pub mod config_store;
pub mod error;
pub mod forkgate;
pub mod idhash;
pub mod lifecycle;
pub mod mechanism;
pub mod object;
pub mod quorum;
pub mod session;
pub mod store;
pub mod token;
pub mod types;

#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod test_util;
