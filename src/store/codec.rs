//! Attribute maps to bytes and back: the one serialization used for both the
//! clear (public) attribute column and the sealed plaintext. The layout is
//! platform independent (u64 little endian) and decoding is strict, because
//! its input comes from disk and is treated as attacker-controlled.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Attribute type (CKA_* as u64) → raw value bytes, ordered by type.
pub type AttrMap = BTreeMap<u64, Vec<u8>>;

/// First byte of every encoded map.
pub const CODEC_VERSION: u8 = 1;

/// Bytes before the first entry: version byte and entry count.
const HEADER_LEN: usize = 1 + 8;
/// Bytes before each value: type and length.
const ENTRY_HEADER_LEN: usize = 8 + 8;

/// Exact encoded size, so the output buffer never reallocates (a
/// reallocation would leave an unzeroized copy of secret values behind).
fn encoded_len(attrs: &AttrMap) -> usize {
    attrs.values().fold(HEADER_LEN, |acc, v| {
        acc.saturating_add(ENTRY_HEADER_LEN).saturating_add(v.len())
    })
}

fn encode_into(attrs: &AttrMap, out: &mut Vec<u8>) {
    out.push(CODEC_VERSION);
    // usize → u64 never loses information on supported (≤ 64-bit) targets.
    let count = u64::try_from(attrs.len()).unwrap_or(u64::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (ty, value) in attrs {
        let len = u64::try_from(value.len()).unwrap_or(u64::MAX);
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(value);
    }
}

/// Encodes a map of non-secret attributes.
pub fn encode_attrs(attrs: &AttrMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(attrs));
    encode_into(attrs, &mut out);
    out
}

/// Same bytes as [`encode_attrs`], in a buffer wiped on drop; use it for
/// the plaintext that is about to be sealed.
pub fn encode_attrs_secret(attrs: &AttrMap) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(encoded_len(attrs)));
    encode_into(attrs, &mut out);
    out
}

/// Splits `n` bytes off the front of `input`, or reports tampering.
fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    let (head, rest) = input.split_at_checked(n).ok_or(Error::Tampered)?;
    *input = rest;
    Ok(head)
}

fn take_u64(input: &mut &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = take(input, 8)?.try_into().map_err(|_| Error::Tampered)?;
    Ok(u64::from_le_bytes(bytes))
}

/// Decodes and validates an encoded map. Truncation, trailing bytes, an
/// unknown version, lengths beyond the input and types that are not
/// strictly increasing (duplicates or disorder, which an honest encoder
/// never produces) are all [`Error::Tampered`].
pub fn decode_attrs(bytes: &[u8]) -> Result<AttrMap> {
    let mut input = bytes;
    let version = take(&mut input, 1)?;
    if version != [CODEC_VERSION] {
        return Err(Error::Tampered);
    }
    let count = take_u64(&mut input)?;
    // Each entry needs at least its header, so a count the remaining input
    // cannot hold is rejected before any loop work.
    let max_entries = input.len() / ENTRY_HEADER_LEN;
    if usize::try_from(count).map_or(true, |c| c > max_entries) {
        return Err(Error::Tampered);
    }
    let mut attrs = AttrMap::new();
    let mut previous: Option<u64> = None;
    for _ in 0..count {
        let ty = take_u64(&mut input)?;
        if previous.is_some_and(|p| ty <= p) {
            return Err(Error::Tampered);
        }
        previous = Some(ty);
        let len = usize::try_from(take_u64(&mut input)?).map_err(|_| Error::Tampered)?;
        let value = take(&mut input, len)?;
        attrs.insert(ty, value.to_vec());
    }
    if !input.is_empty() {
        return Err(Error::Tampered);
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AttrMap {
        let mut m = AttrMap::new();
        m.insert(0x0, 3u64.to_le_bytes().to_vec());
        m.insert(0x3, b"label".to_vec());
        m.insert(0x102, Vec::new());
        m.insert(u64::MAX, vec![0xAA; 300]);
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let enc = encode_attrs(&m);
        assert_eq!(enc.len(), encoded_len(&m));
        assert_eq!(enc.capacity(), enc.len());
        assert_eq!(decode_attrs(&enc).unwrap(), m);
        let secret = encode_attrs_secret(&m);
        assert_eq!(secret.as_slice(), enc.as_slice());
    }

    #[test]
    fn empty_map_round_trip() {
        let enc = encode_attrs(&AttrMap::new());
        assert_eq!(enc, [1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode_attrs(&enc).unwrap().is_empty());
    }

    #[test]
    fn exact_layout() {
        let mut m = AttrMap::new();
        m.insert(2, vec![9, 8]);
        let mut want = vec![1];
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(&[9, 8]);
        assert_eq!(encode_attrs(&m), want);
    }

    #[test]
    fn every_truncation_rejected() {
        let enc = encode_attrs(&sample());
        for n in 0..enc.len() {
            assert_eq!(decode_attrs(&enc[..n]), Err(Error::Tampered), "len {n}");
        }
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut enc = encode_attrs(&sample());
        enc.push(0);
        assert_eq!(decode_attrs(&enc), Err(Error::Tampered));
    }

    #[test]
    fn bad_version_rejected() {
        let mut enc = encode_attrs(&sample());
        enc[0] = 2;
        assert_eq!(decode_attrs(&enc), Err(Error::Tampered));
    }

    #[test]
    fn huge_length_and_count_rejected() {
        let mut enc = vec![1];
        enc.extend_from_slice(&1u64.to_le_bytes());
        enc.extend_from_slice(&5u64.to_le_bytes());
        enc.extend_from_slice(&u64::MAX.to_le_bytes());
        enc.extend_from_slice(b"abc");
        assert_eq!(decode_attrs(&enc), Err(Error::Tampered));

        let mut enc = vec![1];
        enc.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode_attrs(&enc), Err(Error::Tampered));
    }

    fn two_entries(first: u64, second: u64) -> Vec<u8> {
        let mut enc = vec![1];
        enc.extend_from_slice(&2u64.to_le_bytes());
        for ty in [first, second] {
            enc.extend_from_slice(&ty.to_le_bytes());
            enc.extend_from_slice(&1u64.to_le_bytes());
            enc.push(7);
        }
        enc
    }

    #[test]
    fn duplicate_and_unsorted_types_rejected() {
        assert!(decode_attrs(&two_entries(1, 2)).is_ok());
        assert_eq!(decode_attrs(&two_entries(2, 2)), Err(Error::Tampered));
        assert_eq!(decode_attrs(&two_entries(3, 2)), Err(Error::Tampered));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Cheap deterministic fuzz: an LCG drives lengths and contents.
        let mut state: u64 = 0x1234_5678;
        for _ in 0..5000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = usize::try_from(state >> 58).unwrap();
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                buf.push((state >> 56) as u8);
            }
            if let Some(b) = buf.first_mut() {
                *b = 1;
            }
            let _ = decode_attrs(&buf);
        }
    }
}
