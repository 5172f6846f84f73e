//! Mechanism parameters arrive as raw caller bytes: parsing must never
//! panic for any mechanism type and length.
#![no_main]

use keyward::mechanism::{Mechanism, table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((sel, param)) = data.split_first() else {
        return;
    };
    let mechs = table();
    if let Some(info) = mechs.get(usize::from(*sel) % mechs.len().max(1)) {
        let _ = Mechanism::parse(info.mech, Some(param));
        let _ = Mechanism::parse(info.mech, None);
    }
});
