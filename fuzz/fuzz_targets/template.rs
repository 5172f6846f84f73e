//! Templates from a caller: parsing and the per-class creation rules must
//! never panic, whatever the types, lengths and values.
#![no_main]

use keyward::api::Attr;
use keyward::object::{attrs::parse_template, template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each entry: 1 byte type selector, 1 byte length, then the value.
    const TYPES: [u64; 16] = [
        0x0,
        0x1,
        0x2,
        0x3,
        0x100,
        0x11,
        0x103,
        0x104,
        0x108,
        0x161,
        0x162,
        0x180,
        0x181,
        0x120,
        0x122,
        0x8000_0001,
    ];
    let mut template = Vec::new();
    let mut rest = data;
    while let [sel, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (value, tail) = tail.split_at(len);
        template.push(Attr {
            ty: TYPES[usize::from(*sel) % TYPES.len()],
            value: value.to_vec(),
        });
        rest = tail;
    }
    if let Ok(map) = parse_template(&template) {
        let _ = template::create(&map, false);
    }
});
