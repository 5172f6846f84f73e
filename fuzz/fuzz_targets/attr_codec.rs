//! Decoding stored attribute records must never panic, and whatever
//! decodes must encode back to the same bytes.
#![no_main]

use keyward::store::codec::{decode_attrs, encode_attrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(attrs) = decode_attrs(data) {
        assert_eq!(encode_attrs(&attrs), data);
    }
});
