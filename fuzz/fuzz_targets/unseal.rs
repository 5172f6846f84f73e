//! A sealed row read from disk may be anything: unsealing must fail
//! cleanly, never panic, and never accept a forged blob.
#![no_main]

use keyward::store::seal::{MasterKey, unseal_object};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static KEY: OnceLock<Option<MasterKey>> = OnceLock::new();
    let Some(mk) = KEY.get_or_init(|| MasterKey::generate().ok()).as_ref() else {
        return;
    };
    assert!(unseal_object(mk, 1, 3, &[0; 32], data).is_err());
});
