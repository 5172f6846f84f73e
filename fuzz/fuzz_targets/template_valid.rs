//! Starts from *valid* creation templates (an AES key, an EC public key,
//! a data object) and applies the fuzzer's edits: drop, replace, flip,
//! duplicate or add attributes. Parsing, the creation rules, and then
//! C_SetAttributeValue/C_CopyObject rules on whatever was created must never
//! panic, and an unedited seed is always accepted.
#![no_main]

use keyward::api::Attr;
use keyward::object::{attrs::parse_template, template};
use libfuzzer_sys::fuzz_target;

const TRUE: &[u8] = &[1];

fn ulong(v: u64) -> Vec<u8> {
    // The caller's native CK_ULONG layout.
    (v as std::os::raw::c_ulong).to_ne_bytes().to_vec()
}

fn attr(ty: u64, value: &[u8]) -> Attr {
    Attr {
        ty,
        value: value.to_vec(),
    }
}

/// P-256 base point as a DER OCTET STRING (a valid CKA_EC_POINT).
fn p256_point() -> Vec<u8> {
    let x = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    let y = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let mut point = vec![0x04, 0x41, 0x04];
    for hex in [x, y] {
        for i in (0..hex.len()).step_by(2) {
            point.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0));
        }
    }
    point
}

fn seeds() -> Vec<Vec<Attr>> {
    let p256_oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    vec![
        vec![
            attr(0x0, &ulong(4)),      // CKA_CLASS = CKO_SECRET_KEY
            attr(0x100, &ulong(0x1f)), // CKA_KEY_TYPE = CKK_AES
            attr(0x11, &[7; 32]),      // CKA_VALUE
            attr(0x3, b"aes"),         // CKA_LABEL
            attr(0x104, TRUE),         // CKA_ENCRYPT
            attr(0x105, TRUE),         // CKA_DECRYPT
            attr(0x103, TRUE),         // CKA_SENSITIVE
        ],
        vec![
            attr(0x0, &ulong(2)),       // CKO_PUBLIC_KEY
            attr(0x100, &ulong(0x3)),   // CKK_EC
            attr(0x180, &p256_oid),     // CKA_EC_PARAMS
            attr(0x181, &p256_point()), // CKA_EC_POINT
            attr(0x10A, TRUE),          // CKA_VERIFY
            attr(0x102, b"\x01\x02"),   // CKA_ID
        ],
        vec![
            attr(0x0, &ulong(0)), // CKO_DATA
            attr(0x3, b"data"),   // CKA_LABEL
            attr(0x10, b"app"),   // CKA_APPLICATION
            attr(0x11, b"value"), // CKA_VALUE
        ],
    ]
}

/// Attribute types an edit may add: common, key, usage, trust and vendor.
const TYPES: [u64; 24] = [
    0x0,
    0x1,
    0x2,
    0x3,
    0x11,
    0x100,
    0x102,
    0x103,
    0x104,
    0x105,
    0x106,
    0x107,
    0x108,
    0x10C,
    0x161,
    0x162,
    0x164,
    0x165,
    0x170,
    0x86,
    0x210,
    0x211,
    0x40000600,
    0x8000_0001,
];

/// Applies 3-byte edits (op, index, byte) to `t`; returns whether any edit
/// changed it.
fn mutate(t: &mut Vec<Attr>, edits: &[u8]) -> bool {
    let mut changed = false;
    for e in edits.chunks_exact(3) {
        let (op, idx, byte) = (e[0], usize::from(e[1]), e[2]);
        if t.is_empty() && op % 5 != 4 {
            continue;
        }
        let n = t.len().max(1);
        match op % 5 {
            0 => {
                t.remove(idx % n);
            }
            1 => t[idx % n].value = vec![byte; usize::from(byte % 40)],
            2 => {
                let a = &mut t[idx % n];
                let at = usize::from(byte) % a.value.len().max(1);
                if let Some(b) = a.value.get_mut(at) {
                    *b ^= byte | 1;
                } else {
                    continue;
                }
            }
            3 => {
                let dup = t[idx % n].clone();
                t.push(dup);
            }
            _ => t.push(attr(
                TYPES[idx % TYPES.len()],
                &vec![byte; usize::from(byte % 9)],
            )),
        }
        changed = true;
    }
    changed
}

fuzz_target!(|data: &[u8]| {
    let [seed, so, rest @ ..] = data else { return };
    let seeds = seeds();
    let mut t = seeds[usize::from(*seed) % seeds.len()].clone();
    let half = rest.len() / 2;
    let (create_edits, change_edits) = rest.split_at(half - half % 3);
    let edited = mutate(&mut t, create_edits);
    let so = so & 1 == 1;
    let created = parse_template(&t).and_then(|map| template::create(&map, so));
    if !edited && !so {
        assert!(created.is_ok(), "an unedited valid template was refused");
    }
    let Ok(obj) = created else { return };
    // Then changes to what was created: start from the same template so
    // most edits touch attributes the object has.
    let mut change = t.clone();
    mutate(&mut change, change_edits);
    if let Ok(map) = parse_template(&change) {
        let _ = template::set_attributes(&obj, &map, so);
        let _ = template::copy(&obj, &map, so);
    }
});
