//! Process-wide settings the configuration sets once at C_Initialize and
//! the registry's policy step reads (the RSA floor, legacy RSA
//! encryption, the simple data derivations, CBC-MAC). Unit tests run in parallel
//! in one process, so under `cfg(test)` a setting is per thread: a test
//! sets and sees its own value, never another test's.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many settings exist (each takes one test slot).
const SLOTS: usize = 6;

pub(super) const MIN_RSA_BITS: usize = 0;
pub(super) const LEGACY_RSA: usize = 1;
pub(super) const SIMPLE_DERIVE: usize = 2;
pub(super) const CBC_MAC: usize = 3;
pub(super) const MIN_EC_BITS: usize = 4;
pub(super) const MIN_RSA_VERIFY_BITS: usize = 5;

#[cfg(test)]
thread_local! {
    static OVERRIDES: [std::cell::Cell<Option<u64>>; SLOTS] =
        const { [const { std::cell::Cell::new(None) }; SLOTS] };
}

/// One setting: its value for the process, and its test slot.
pub(super) struct Setting {
    /// Read only by the test override.
    #[cfg_attr(not(test), allow(dead_code))]
    slot: usize,
    value: AtomicU64,
}

impl Setting {
    pub(super) const fn new(slot: usize, default: u64) -> Setting {
        Setting {
            slot,
            value: AtomicU64::new(default),
        }
    }

    /// Sets the value: for the process, or in unit tests for this thread.
    pub(super) fn set(&self, value: u64) {
        #[cfg(test)]
        OVERRIDES.with(|o| {
            if let Some(cell) = o.get(self.slot) {
                cell.set(Some(value));
            }
        });
        #[cfg(not(test))]
        self.value.store(value, Ordering::SeqCst);
    }

    /// The value in force (this thread's, in a unit test that set one).
    pub(super) fn get(&self) -> u64 {
        #[cfg(test)]
        if let Some(v) = OVERRIDES.with(|o| o.get(self.slot).and_then(std::cell::Cell::get)) {
            return v;
        }
        self.value.load(Ordering::SeqCst)
    }
}

const _: () =
    assert!(MIN_RSA_BITS < SLOTS && LEGACY_RSA < SLOTS && SIMPLE_DERIVE < SLOTS && CBC_MAC < SLOTS);
const _: () = assert!(MIN_EC_BITS < SLOTS && MIN_RSA_VERIFY_BITS < SLOTS);
