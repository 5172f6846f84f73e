//! Keyward's vendor-defined attribute types and values, mirrored from
//! `include/keyward.h` (a unit test keeps the two in step).

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_ULONG, CKA_VENDOR_DEFINED};

/// "KW" in the vendor range, so our values cannot collide with another
/// vendor's.
pub const KEYWARD_VENDOR_BASE: CK_ULONG = CKA_VENDOR_DEFINED | 0x4B57_0000;

pub const CKA_KEYWARD_STATE: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x01;
pub const CKA_KEYWARD_STATE_REASON: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x02;
pub const CKA_KEYWARD_CREATED: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x03;
pub const CKA_KEYWARD_LAST_USED: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x04;
pub const CKA_KEYWARD_USE_COUNT: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x05;
pub const CKA_KEYWARD_ORIGIN: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x06;
pub const CKA_KEYWARD_OBJECT_ID: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x07;
pub const CKA_KEYWARD_PREDECESSOR: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x08;
pub const CKA_KEYWARD_SUCCESSOR: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x09;
pub const CKA_KEYWARD_STATE_CHANGED: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0A;
/// The version number of a key (1 for a key never rotated, n + 1 for the
/// version that replaced n); shared name = CKA_LABEL + CKA_ID.
pub const CKA_KEYWARD_VERSION: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0B;
/// Whether this is the one primary version of its key (CK_BBOOL).
pub const CKA_KEYWARD_PRIMARY: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0C;
/// The key's sensitive operations need an approved officer request
/// (CK_BBOOL; given at creation only, never cleared).
pub const CKA_KEYWARD_QUORUM: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0D;

pub const CKW_STATE_PRE_ACTIVE: CK_ULONG = 1;
pub const CKW_STATE_ACTIVE: CK_ULONG = 2;
pub const CKW_STATE_DEACTIVATED: CK_ULONG = 3;
pub const CKW_STATE_COMPROMISED: CK_ULONG = 4;
pub const CKW_STATE_DESTROYED: CK_ULONG = 5;

pub const CKW_ORIGIN_GENERATED: CK_ULONG = 1;
pub const CKW_ORIGIN_IMPORTED: CK_ULONG = 2;
pub const CKW_ORIGIN_UNWRAPPED: CK_ULONG = 3;
pub const CKW_ORIGIN_DERIVED: CK_ULONG = 4;
pub const CKW_ORIGIN_COPIED: CK_ULONG = 5;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `#define` of the public header that names one of our values
    /// has the same value here.
    #[test]
    fn header_matches() {
        let header = include_str!("../../include/keyward.h");
        let ours: &[(&str, CK_ULONG)] = &[
            ("CKA_KEYWARD_STATE ", CKA_KEYWARD_STATE),
            ("CKA_KEYWARD_STATE_REASON", CKA_KEYWARD_STATE_REASON),
            ("CKA_KEYWARD_CREATED", CKA_KEYWARD_CREATED),
            ("CKA_KEYWARD_LAST_USED", CKA_KEYWARD_LAST_USED),
            ("CKA_KEYWARD_USE_COUNT", CKA_KEYWARD_USE_COUNT),
            ("CKA_KEYWARD_ORIGIN", CKA_KEYWARD_ORIGIN),
            ("CKA_KEYWARD_OBJECT_ID", CKA_KEYWARD_OBJECT_ID),
            ("CKA_KEYWARD_PREDECESSOR", CKA_KEYWARD_PREDECESSOR),
            ("CKA_KEYWARD_SUCCESSOR", CKA_KEYWARD_SUCCESSOR),
            ("CKA_KEYWARD_STATE_CHANGED", CKA_KEYWARD_STATE_CHANGED),
            ("CKA_KEYWARD_VERSION", CKA_KEYWARD_VERSION),
            ("CKA_KEYWARD_PRIMARY", CKA_KEYWARD_PRIMARY),
            ("CKA_KEYWARD_QUORUM", CKA_KEYWARD_QUORUM),
        ];
        for (name, value) in ours {
            let line = header
                .lines()
                .find(|l| l.starts_with(&format!("#define {name}")))
                .unwrap_or_else(|| panic!("{name} missing from keyward.h"));
            let offset = line.split("KEYWARD_VENDOR_BASE + ").nth(1).unwrap();
            let offset = u64::from_str_radix(&offset[2..4], 16).unwrap();
            assert_eq!(KEYWARD_VENDOR_BASE + offset, *value, "{name}");
        }
        assert!(header.contains("(0x80000000UL | 0x4B570000UL)"));
        let values: &[(&str, CK_ULONG)] = &[
            ("CKW_STATE_PRE_ACTIVE", CKW_STATE_PRE_ACTIVE),
            ("CKW_STATE_ACTIVE", CKW_STATE_ACTIVE),
            ("CKW_STATE_DEACTIVATED", CKW_STATE_DEACTIVATED),
            ("CKW_STATE_COMPROMISED", CKW_STATE_COMPROMISED),
            ("CKW_STATE_DESTROYED", CKW_STATE_DESTROYED),
            ("CKW_ORIGIN_GENERATED", CKW_ORIGIN_GENERATED),
            ("CKW_ORIGIN_IMPORTED", CKW_ORIGIN_IMPORTED),
            ("CKW_ORIGIN_UNWRAPPED", CKW_ORIGIN_UNWRAPPED),
            ("CKW_ORIGIN_DERIVED", CKW_ORIGIN_DERIVED),
            ("CKW_ORIGIN_COPIED", CKW_ORIGIN_COPIED),
        ];
        for (name, value) in values {
            let line = header
                .lines()
                .find(|l| l.starts_with(&format!("#define {name} ")))
                .unwrap_or_else(|| panic!("{name} missing from keyward.h"));
            let text = line.split_whitespace().nth(2).unwrap();
            assert_eq!(text, format!("{value}UL"), "{name}");
        }
    }
}
