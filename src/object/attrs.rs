//! The attribute codec: which attribute types we know and how their values
//! look, and the conversion between the caller's native wire layout and the
//! canonical, platform-independent form every object is kept in.
//!
//! Canonical values: CK_ULONG as 8 bytes u64 little-endian, CK_BBOOL as one
//! byte 0/1, CK_DATE as 8 ASCII bytes (or empty), CKA_ALLOWED_MECHANISMS as
//! concatenated u64 little-endian, nested templates as the sorted list of
//! their canonical entries (`nested`), everything else as the caller gave
//! it.
//! On x86_64/aarch64 Linux this is the wire layout too, but every value is
//! converted explicitly so a 32-bit or big-endian CK_ULONG stays correct.

use std::collections::BTreeMap;

use cryptoki_sys::*;
use zeroize::Zeroize;

use super::nested;
use crate::error::{Error, Result};
use crate::types::Attr;

/// Attribute type → canonical value.
pub type AttrMap = BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>;

/// The value shape of an attribute type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Ulong,
    Bytes,
    Date,
    /// An array of CK_ULONG (CKA_ALLOWED_MECHANISMS).
    UlongArray,
    /// An array of CK_ATTRIBUTE (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
    /// CKA_DERIVE_TEMPLATE). The ABI layer reads the array and hands it on
    /// as a list (see `nested`); it is kept as a canonical list.
    Template,
}

/// Bytes of one CK_ULONG in the caller's layout.
pub const ULONG_LEN: usize = size_of::<CK_ULONG>();

/// Bytes of one canonical integer.
const CANON_ULONG_LEN: usize = 8;

/// The shape of a PKCS#11 3.0 attribute type; `None` for types we do not
/// know (vendor-defined ones among them).
pub fn kind(ty: CK_ATTRIBUTE_TYPE) -> Option<Kind> {
    use crate::lifecycle::vendor::*;
    match ty {
        CKA_KEYWARD_STATE_REASON => Some(Kind::Bytes),
        CKA_KEYWARD_PRIMARY | CKA_KEYWARD_QUORUM => Some(Kind::Bool),
        CKA_KEYWARD_STATE
        | CKA_KEYWARD_CREATED
        | CKA_KEYWARD_LAST_USED
        | CKA_KEYWARD_USE_COUNT
        | CKA_KEYWARD_ORIGIN
        | CKA_KEYWARD_OBJECT_ID
        | CKA_KEYWARD_PREDECESSOR
        | CKA_KEYWARD_SUCCESSOR
        | CKA_KEYWARD_STATE_CHANGED
        | CKA_KEYWARD_VERSION => Some(Kind::Ulong),
        CKA_TOKEN
        | CKA_ENCAPSULATE
        | CKA_DECAPSULATE
        | CKA_PRIVATE
        | CKA_TRUSTED
        | CKA_SENSITIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_SIGN
        | CKA_SIGN_RECOVER
        | CKA_VERIFY
        | CKA_VERIFY_RECOVER
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_LOCAL
        | CKA_NEVER_EXTRACTABLE
        | CKA_ALWAYS_SENSITIVE
        | CKA_MODIFIABLE
        | CKA_COPYABLE
        | CKA_DESTROYABLE
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_RESET_ON_INIT
        | CKA_HAS_RESET
        | CKA_COLOR
        | CKA_OTP_USER_FRIENDLY_MODE => Some(Kind::Bool),
        CKA_CLASS
        | CKA_CERTIFICATE_TYPE
        | CKA_CERTIFICATE_CATEGORY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM
        | CKA_KEY_TYPE
        | CKA_MODULUS_BITS
        | CKA_PRIME_BITS
        | CKA_SUBPRIME_BITS
        | CKA_VALUE_BITS
        | CKA_VALUE_LEN
        | CKA_KEY_GEN_MECHANISM
        | CKA_HW_FEATURE_TYPE
        | CKA_MECHANISM_TYPE
        | CKA_PROFILE_ID
        | CKA_OTP_FORMAT
        | CKA_OTP_LENGTH
        | CKA_OTP_TIME_INTERVAL
        | CKA_OTP_CHALLENGE_REQUIREMENT
        | CKA_OTP_TIME_REQUIREMENT
        | CKA_OTP_COUNTER_REQUIREMENT
        | CKA_OTP_PIN_REQUIREMENT
        | CKA_PIXEL_X
        | CKA_PIXEL_Y
        | CKA_RESOLUTION
        | CKA_CHAR_ROWS
        | CKA_CHAR_COLUMNS
        | CKA_BITS_PER_PIXEL
        | CKA_AUTH_PIN_FLAGS
        | CKA_PARAMETER_SET => Some(Kind::Ulong),
        CKA_START_DATE | CKA_END_DATE => Some(Kind::Date),
        CKA_ALLOWED_MECHANISMS => Some(Kind::UlongArray),
        CKA_WRAP_TEMPLATE
        | CKA_UNWRAP_TEMPLATE
        | CKA_DERIVE_TEMPLATE
        | CKA_ENCAPSULATE_TEMPLATE
        | CKA_DECAPSULATE_TEMPLATE => Some(Kind::Template),
        CKA_LABEL
        | CKA_UNIQUE_ID
        | CKA_APPLICATION
        | CKA_VALUE
        | CKA_OBJECT_ID
        | CKA_ISSUER
        | CKA_SERIAL_NUMBER
        | CKA_AC_ISSUER
        | CKA_OWNER
        | CKA_ATTR_TYPES
        | CKA_URL
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_CHECK_VALUE
        | CKA_SUBJECT
        | CKA_ID
        | CKA_MODULUS
        | CKA_PUBLIC_EXPONENT
        | CKA_PRIVATE_EXPONENT
        | CKA_PRIME_1
        | CKA_PRIME_2
        | CKA_EXPONENT_1
        | CKA_EXPONENT_2
        | CKA_COEFFICIENT
        | CKA_PUBLIC_KEY_INFO
        | CKA_PRIME
        | CKA_SUBPRIME
        | CKA_BASE
        | CKA_EC_PARAMS
        | CKA_EC_POINT
        | CKA_OTP_COUNTER
        | CKA_OTP_TIME
        | CKA_OTP_USER_IDENTIFIER
        | CKA_OTP_SERVICE_IDENTIFIER
        | CKA_OTP_SERVICE_LOGO
        | CKA_OTP_SERVICE_LOGO_TYPE
        | CKA_GOSTR3410_PARAMS
        | CKA_GOSTR3411_PARAMS
        | CKA_GOST28147_PARAMS
        | CKA_CHAR_SETS
        | CKA_ENCODING_METHODS
        | CKA_MIME_TYPES
        | CKA_REQUIRED_CMS_ATTRIBUTES
        | CKA_DEFAULT_CMS_ATTRIBUTES
        | CKA_SUPPORTED_CMS_ATTRIBUTES
        | CKA_SEED => Some(Kind::Bytes),
        _ => None,
    }
}

/// Whether `ty` lies in the vendor-defined range (NSS's CKA_NSS_* and
/// friends).
pub fn is_vendor(ty: CK_ATTRIBUTE_TYPE) -> bool {
    ty >= CKA_VENDOR_DEFINED
}

/// CK_ULONG → canonical integer; lossless on every platform.
#[allow(clippy::useless_conversion)]
pub fn ulong_to_u64(v: CK_ULONG) -> u64 {
    u64::from(v)
}

/// Canonical integer → CK_ULONG; `None` if it does not fit (32-bit
/// CK_ULONG).
#[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
pub fn u64_to_ulong(v: u64) -> Option<CK_ULONG> {
    CK_ULONG::try_from(v).ok()
}

/// The canonical encoding of a CK_ULONG value.
pub fn ulong_value(v: CK_ULONG) -> Vec<u8> {
    ulong_to_u64(v).to_le_bytes().to_vec()
}

/// The canonical encoding of a CK_BBOOL value.
pub fn bool_value(b: bool) -> Vec<u8> {
    vec![u8::from(b)]
}

/// Decodes a canonical integer; `None` if the bytes are not one.
pub fn decode_u64(canonical: &[u8]) -> Option<u64> {
    let bytes: [u8; CANON_ULONG_LEN] = canonical.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Decodes a canonical CK_ULONG; `None` if malformed or out of range.
pub fn decode_ulong(canonical: &[u8]) -> Option<CK_ULONG> {
    decode_u64(canonical).and_then(u64_to_ulong)
}

/// Decodes a canonical CK_BBOOL; `None` if malformed.
pub fn decode_bool(canonical: &[u8]) -> Option<bool> {
    match canonical {
        [b] => Some(*b != 0),
        _ => None,
    }
}

/// Decodes a canonical CK_ULONG array; `None` if malformed.
pub fn decode_ulong_array(canonical: &[u8]) -> Option<Vec<CK_ULONG>> {
    if !canonical.len().is_multiple_of(CANON_ULONG_LEN) {
        return None;
    }
    canonical
        .chunks_exact(CANON_ULONG_LEN)
        .map(decode_ulong)
        .collect()
}

/// The caller's native layout of one CK_ULONG.
pub fn wire_ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn wire_to_u64(wire: &[u8]) -> Result<u64> {
    let bytes: [u8; ULONG_LEN] = wire.try_into().map_err(|_| Error::AttributeValueInvalid)?;
    Ok(ulong_to_u64(CK_ULONG::from_ne_bytes(bytes)))
}

/// One wire value → canonical form, checking its length against the type.
/// Booleans: the spec defines CK_TRUE as 1, but C treats any non-zero byte
/// as true and the caller's intent is unambiguous, so any non-zero byte is
/// taken as true and stored as 1 (as SoftHSM does); a length other than one
/// byte is refused.
fn canonical(ty: CK_ATTRIBUTE_TYPE, wire: &[u8]) -> Result<Vec<u8>> {
    match kind(ty) {
        Some(Kind::Bool) => match wire {
            [b] => Ok(bool_value(*b != 0)),
            _ => Err(Error::AttributeValueInvalid),
        },
        Some(Kind::Ulong) => Ok(wire_to_u64(wire)?.to_le_bytes().to_vec()),
        Some(Kind::Date) if wire.is_empty() || wire.len() == 8 => Ok(wire.to_vec()),
        Some(Kind::Date) => Err(Error::AttributeValueInvalid),
        Some(Kind::UlongArray) => {
            if !wire.len().is_multiple_of(ULONG_LEN) {
                return Err(Error::AttributeValueInvalid);
            }
            let mut out = Vec::with_capacity(wire.len() / ULONG_LEN * CANON_ULONG_LEN);
            for chunk in wire.chunks_exact(ULONG_LEN) {
                out.extend_from_slice(&wire_to_u64(chunk)?.to_le_bytes());
            }
            Ok(out)
        }
        Some(Kind::Template) => nested::canonical(wire),
        Some(Kind::Bytes) | None => Ok(wire.to_vec()),
    }
}

/// Checks that a value already in canonical form has the right shape for
/// its type (maps built by hand rather than by [`parse_template`]).
pub fn check_canonical(ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Result<()> {
    let ok = match kind(ty) {
        Some(Kind::Bool) => value.len() == 1,
        Some(Kind::Ulong) => value.len() == CANON_ULONG_LEN,
        Some(Kind::Date) => value.is_empty() || value.len() == 8,
        Some(Kind::UlongArray) => value.len().is_multiple_of(CANON_ULONG_LEN),
        Some(Kind::Template) => nested::decode_map(value).is_some(),
        Some(Kind::Bytes) | None => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::AttributeValueInvalid)
    }
}

/// Zeroizes every value of a map and empties it. Templates may carry key
/// material (CKA_VALUE on C_CreateObject): callers wipe them when done.
pub fn wipe(map: &mut AttrMap) {
    for value in map.values_mut() {
        value.zeroize();
    }
    map.clear();
}

/// Wipes a map under construction if we leave early.
struct Guard(AttrMap);

impl Drop for Guard {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Wire template → canonical map. Wrong lengths for booleans, integers,
/// dates and mechanism lists give CKR_ATTRIBUTE_VALUE_INVALID. Unknown
/// types are kept as bytes: whether they are acceptable is for the
/// per-class rules to say. A type given twice with the same value counts
/// once (spec §4.1.1, item 6 encourages it); with different values it is
/// CKR_TEMPLATE_INCONSISTENT.
pub fn parse_template(template: &[Attr]) -> Result<AttrMap> {
    let mut out = Guard(AttrMap::new());
    for attr in template {
        let mut value = canonical(attr.ty, &attr.value)?;
        match out.0.get(&attr.ty) {
            Some(existing) if *existing != value => {
                value.zeroize();
                return Err(Error::TemplateInconsistent);
            }
            Some(_) => value.zeroize(),
            None => {
                out.0.insert(attr.ty, value);
            }
        }
    }
    Ok(std::mem::take(&mut out.0))
}

/// Canonical value → the caller's native layout. A canonical integer too
/// large for a 32-bit CK_ULONG becomes CK_UNAVAILABLE_INFORMATION (all
/// ones), the value it was on the 64-bit side.
pub fn to_wire(ty: CK_ATTRIBUTE_TYPE, canonical: &[u8]) -> Vec<u8> {
    let one = |c: &[u8]| -> Option<Vec<u8>> {
        let v = decode_u64(c)?;
        Some(wire_ulong(
            u64_to_ulong(v).unwrap_or(CK_UNAVAILABLE_INFORMATION),
        ))
    };
    match kind(ty) {
        Some(Kind::Ulong) => one(canonical).unwrap_or_else(|| canonical.to_vec()),
        Some(Kind::UlongArray) if canonical.len().is_multiple_of(CANON_ULONG_LEN) => canonical
            .chunks_exact(CANON_ULONG_LEN)
            .filter_map(one)
            .flatten()
            .collect(),
        Some(Kind::Template) => nested::to_wire(canonical),
        _ => canonical.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Attr {
        Attr {
            ty,
            value: value.to_vec(),
        }
    }

    #[test]
    fn ulong_round_trip() {
        let map = parse_template(&[attr(CKA_CLASS, &wire_ulong(CKO_SECRET_KEY))]).unwrap();
        assert_eq!(map[&CKA_CLASS], 4u64.to_le_bytes().to_vec());
        assert_eq!(
            to_wire(CKA_CLASS, &map[&CKA_CLASS]),
            wire_ulong(CKO_SECRET_KEY)
        );
        assert_eq!(decode_ulong(&map[&CKA_CLASS]), Some(CKO_SECRET_KEY));
    }

    #[test]
    fn wrong_lengths_are_value_invalid() {
        for (ty, v) in [
            (CKA_CLASS, &[1u8, 0, 0, 0][..]),
            (CKA_TOKEN, &[1u8, 0][..]),
            (CKA_TOKEN, &[][..]),
            (CKA_START_DATE, b"2024"),
            (CKA_ALLOWED_MECHANISMS, &[1u8, 2, 3][..]),
        ] {
            assert_eq!(
                parse_template(&[attr(ty, v)]),
                Err(Error::AttributeValueInvalid)
            );
        }
    }

    #[test]
    fn bools_are_canonical() {
        let map = parse_template(&[attr(CKA_TOKEN, &[7]), attr(CKA_PRIVATE, &[0])]).unwrap();
        assert_eq!(map[&CKA_TOKEN], vec![1]);
        assert_eq!(map[&CKA_PRIVATE], vec![0]);
    }

    #[test]
    fn dates_empty_or_eight() {
        let map =
            parse_template(&[attr(CKA_START_DATE, b""), attr(CKA_END_DATE, b"20301231")]).unwrap();
        assert!(map[&CKA_START_DATE].is_empty());
        assert_eq!(map[&CKA_END_DATE], b"20301231".to_vec());
    }

    #[test]
    fn duplicates() {
        let same = parse_template(&[attr(CKA_LABEL, b"a"), attr(CKA_LABEL, b"a")]).unwrap();
        assert_eq!(same.len(), 1);
        // Two spellings of true are the same value.
        assert!(parse_template(&[attr(CKA_TOKEN, &[1]), attr(CKA_TOKEN, &[2])]).is_ok());
        assert_eq!(
            parse_template(&[attr(CKA_LABEL, b"a"), attr(CKA_LABEL, b"b")]),
            Err(Error::TemplateInconsistent)
        );
    }

    #[test]
    fn mechanism_list() {
        let mut wire = wire_ulong(CKM_SHA256_RSA_PKCS);
        wire.extend(wire_ulong(CKM_RSA_PKCS_PSS));
        let map = parse_template(&[attr(CKA_ALLOWED_MECHANISMS, &wire)]).unwrap();
        let canon = &map[&CKA_ALLOWED_MECHANISMS];
        assert_eq!(canon.len(), 16);
        assert_eq!(
            decode_ulong_array(canon),
            Some(vec![CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS])
        );
        assert_eq!(to_wire(CKA_ALLOWED_MECHANISMS, canon), wire);
        let empty = parse_template(&[attr(CKA_ALLOWED_MECHANISMS, &[])]).unwrap();
        assert!(empty[&CKA_ALLOWED_MECHANISMS].is_empty());
    }

    #[test]
    fn unknown_and_vendor_kept_as_bytes() {
        let map = parse_template(&[
            attr(CKA_VENDOR_DEFINED | 0x1234, b"xyz"),
            attr(0x7777, b"q"),
        ])
        .unwrap();
        assert_eq!(map[&(CKA_VENDOR_DEFINED | 0x1234)], b"xyz".to_vec());
        assert_eq!(map[&0x7777], b"q".to_vec());
        assert_eq!(kind(0x7777), None);
        assert!(is_vendor(CKA_VENDOR_DEFINED | 0x1234));
    }

    #[test]
    fn canonical_checks() {
        assert!(check_canonical(CKA_TOKEN, &[1]).is_ok());
        assert!(check_canonical(CKA_CLASS, &[1, 2]).is_err());
        assert!(check_canonical(CKA_LABEL, &[]).is_ok());
    }

    #[test]
    fn wipe_empties() {
        let mut map = parse_template(&[attr(CKA_VALUE, &[1, 2, 3])]).unwrap();
        wipe(&mut map);
        assert!(map.is_empty());
    }
}
