//! Attributes whose value is itself a template (CKA_WRAP_TEMPLATE,
//! CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE): the byte list that carries
//! such a value across the façade, its canonical form inside an object,
//! and the two uses the spec gives it — matching a key about to be
//! wrapped (§5.18.3) and adding attributes to a key being unwrapped or
//! derived (§5.18.4, §5.18.5).
//!
//! One list layout serves both directions and both forms: a version byte,
//! a u64 little-endian count, then per entry the type and the value length
//! as u64 little-endian and the value bytes. Between the ABI layer and the
//! object rules the values are in the caller's layout, in the caller's
//! order; in an object they are canonical (see `attrs`), one entry per
//! type, sorted by type.

use std::ops::Deref;

use cryptoki_sys::*;
use zeroize::Zeroize;

use super::Object;
use super::attrs::{self, AttrMap, Kind};
use crate::error::{Error, Result};
use crate::types::Attr;

/// First byte of every encoded list.
const LIST_VERSION: u8 = 1;
/// Bytes before the first entry: version and count.
const HEADER_LEN: usize = 1 + 8;
/// Bytes before each value: type and length.
const ENTRY_HEADER_LEN: usize = 8 + 8;

/// Whether the value of `ty` is an array of CK_ATTRIBUTE. The
/// CKF_ARRAY_ATTRIBUTE bit alone does not say so: CKA_ALLOWED_MECHANISMS
/// carries it too and holds mechanism types.
pub fn is_nested(ty: CK_ATTRIBUTE_TYPE) -> bool {
    attrs::kind(ty) == Some(Kind::Template)
}

/// A decoded list of inner attributes. Inner values may be anything a
/// template holds (CKA_VALUE among them), so they are wiped on drop.
#[derive(Default)]
pub struct AttrList(Vec<Attr>);

impl AttrList {
    /// An empty list with room for `n` entries; a size the host cannot
    /// allocate is CKR_HOST_MEMORY.
    pub fn try_with_capacity(n: usize) -> Result<AttrList> {
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| Error::HostMemory)?;
        Ok(AttrList(v))
    }

    pub fn push(&mut self, attr: Attr) {
        self.0.push(attr);
    }
}

impl Deref for AttrList {
    type Target = [Attr];
    fn deref(&self) -> &[Attr] {
        &self.0
    }
}

impl Drop for AttrList {
    fn drop(&mut self) {
        for a in &mut self.0 {
            a.value.zeroize();
        }
    }
}

impl std::fmt::Debug for AttrList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

fn u64_of(n: usize) -> u64 {
    // usize → u64 never loses information on supported targets.
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Encodes entries in the list layout. The buffer is sized exactly first,
/// so no reallocation leaves a stray copy of a value behind.
fn encode<'a>(entries: impl Iterator<Item = (CK_ATTRIBUTE_TYPE, &'a [u8])> + Clone) -> Vec<u8> {
    let len = entries.clone().fold(HEADER_LEN, |acc, (_, v)| {
        acc.saturating_add(ENTRY_HEADER_LEN).saturating_add(v.len())
    });
    let mut out = Vec::with_capacity(len);
    out.push(LIST_VERSION);
    out.extend_from_slice(&u64_of(entries.clone().count()).to_le_bytes());
    for (ty, v) in entries {
        out.extend_from_slice(&attrs::ulong_to_u64(ty).to_le_bytes());
        out.extend_from_slice(&u64_of(v.len()).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Encodes inner attributes as given (the ABI layer's side of the façade).
pub fn encode_list(list: &[Attr]) -> Vec<u8> {
    encode(list.iter().map(|a| (a.ty, a.value.as_slice())))
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = input.split_at_checked(n)?;
    *input = rest;
    Some(head)
}

fn take_u64(input: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(input, 8)?.try_into().ok()?))
}

/// Decodes the list layout strictly: unknown version, truncation, a count
/// or length beyond the input, a type that does not fit a CK_ULONG and
/// trailing bytes are all `None`. Order and duplicates are kept.
pub fn decode_list(bytes: &[u8]) -> Option<AttrList> {
    let mut input = bytes;
    if take(&mut input, 1)? != [LIST_VERSION] {
        return None;
    }
    let count = usize::try_from(take_u64(&mut input)?).ok()?;
    if count > input.len() / ENTRY_HEADER_LEN {
        return None;
    }
    let mut list = AttrList::try_with_capacity(count).ok()?;
    for _ in 0..count {
        let ty = attrs::u64_to_ulong(take_u64(&mut input)?)?;
        let len = usize::try_from(take_u64(&mut input)?).ok()?;
        let value = take(&mut input, len)?.to_vec();
        list.push(Attr { ty, value });
    }
    input.is_empty().then_some(list)
}

/// A canonical inner map, wiped on drop.
pub(crate) struct InnerMap(AttrMap);

impl Deref for InnerMap {
    type Target = AttrMap;
    fn deref(&self) -> &AttrMap {
        &self.0
    }
}

impl Drop for InnerMap {
    fn drop(&mut self) {
        attrs::wipe(&mut self.0);
    }
}

/// The caller's inner template → the canonical stored value. Each inner
/// value gets the same conversion and checks as a top-level one (and a
/// type given twice with different values is CKR_TEMPLATE_INCONSISTENT);
/// a template inside a template is refused (CKR_ATTRIBUTE_VALUE_INVALID:
/// the spec defines one level, and the ABI layer never follows its
/// pointers), as is a malformed list.
pub(crate) fn canonical(wire: &[u8]) -> Result<Vec<u8>> {
    let list = decode_list(wire).ok_or(Error::AttributeValueInvalid)?;
    if list.iter().any(|a| is_nested(a.ty)) {
        return Err(Error::AttributeValueInvalid);
    }
    let map = InnerMap(attrs::parse_template(&list)?);
    Ok(encode(map.iter().map(|(ty, v)| (*ty, v.as_slice()))))
}

/// A canonical stored value → its inner map; `None` if it is not one
/// [`canonical`] could have made (disorder, duplicates, nesting, a value
/// of the wrong shape).
pub(crate) fn decode_map(canonical: &[u8]) -> Option<InnerMap> {
    let list = decode_list(canonical)?;
    let mut map = InnerMap(AttrMap::new());
    let mut previous = None;
    for a in list.iter() {
        let ordered = previous.is_none_or(|p| p < a.ty);
        if !ordered || is_nested(a.ty) || attrs::check_canonical(a.ty, &a.value).is_err() {
            return None;
        }
        previous = Some(a.ty);
        map.0.insert(a.ty, a.value.clone());
    }
    Some(map)
}

/// A canonical stored value → the list handed to the ABI layer, each
/// inner value in the caller's layout. A value that is not canonical (it
/// cannot come from [`canonical`]) is returned unchanged.
pub(crate) fn to_wire(canonical: &[u8]) -> Vec<u8> {
    let Some(map) = decode_map(canonical) else {
        return canonical.to_vec();
    };
    let mut wire = AttrList::default();
    for (ty, v) in map.iter() {
        wire.push(Attr {
            ty: *ty,
            value: attrs::to_wire(*ty, v),
        });
    }
    encode_list(&wire)
}

/// §5.18.3: a key whose wrapping key has CKA_WRAP_TEMPLATE may be wrapped
/// only if it matches every attribute of that template, as C_FindObjects
/// matches (a hidden secret component never matches); otherwise
/// CKR_KEY_HANDLE_INVALID, the code the spec names. A stored template we
/// cannot read is CKR_GENERAL_ERROR.
pub(crate) fn check_wrap_template(wrapping: &Object, target: &Object) -> Result<()> {
    let Some(stored) = wrapping.bytes(CKA_WRAP_TEMPLATE) else {
        return Ok(());
    };
    let template = decode_map(stored).ok_or(Error::GeneralError)?;
    if target.matches(&template) {
        Ok(())
    } else {
        Err(Error::KeyHandleInvalid)
    }
}

/// §5.18.4 and §5.18.5: the caller's template for a key being unwrapped
/// (`ty` CKA_UNWRAP_TEMPLATE) or derived (CKA_DERIVE_TEMPLATE), with the
/// attributes of that template on `key` added. An attribute both give
/// with different values is CKR_TEMPLATE_INCONSISTENT.
pub(crate) fn with_key_template(
    key: &Object,
    ty: CK_ATTRIBUTE_TYPE,
    template: &AttrMap,
) -> Result<AttrMap> {
    let mut merged = template.clone();
    let Some(stored) = key.bytes(ty) else {
        return Ok(merged);
    };
    let Some(extra) = decode_map(stored) else {
        attrs::wipe(&mut merged);
        return Err(Error::GeneralError);
    };
    for (t, v) in extra.iter() {
        match merged.get(t) {
            Some(given) if given != v => {
                attrs::wipe(&mut merged);
                return Err(Error::TemplateInconsistent);
            }
            Some(_) => {}
            None => {
                merged.insert(*t, v.clone());
            }
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::attrs::{bool_value, ulong_value, wire_ulong};

    fn attr(ty: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Attr {
        Attr {
            ty,
            value: value.to_vec(),
        }
    }

    fn wire(list: &[Attr]) -> Vec<u8> {
        encode_list(list)
    }

    #[test]
    fn nested_types() {
        for ty in [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            assert!(is_nested(ty));
        }
        // The array bit is set, but the value is a list of mechanisms.
        const { assert!(CKA_ALLOWED_MECHANISMS & CKF_ARRAY_ATTRIBUTE != 0) };
        assert!(!is_nested(CKA_ALLOWED_MECHANISMS));
        assert!(!is_nested(CKA_LABEL));
        assert!(!is_nested(CKA_VENDOR_DEFINED | CKF_ARRAY_ATTRIBUTE));
    }

    #[test]
    fn list_round_trip_keeps_order_and_duplicates() {
        let list = [
            attr(CKA_LABEL, b"b"),
            attr(CKA_CLASS, &wire_ulong(CKO_SECRET_KEY)),
            attr(CKA_LABEL, b"a"),
            attr(CKA_ID, b""),
        ];
        let bytes = wire(&list);
        assert_eq!(
            bytes.len(),
            HEADER_LEN + 4 * ENTRY_HEADER_LEN + 2 + wire_ulong(0).len()
        );
        let back = decode_list(&bytes).unwrap();
        assert_eq!(&*back, &list[..]);
        assert!(decode_list(&wire(&[])).unwrap().is_empty());
    }

    #[test]
    fn malformed_lists() {
        let good = wire(&[attr(CKA_LABEL, b"xy")]);
        assert!(decode_list(&good).is_some());
        assert!(decode_list(&[]).is_none());
        let mut v = good.clone();
        v[0] = 2;
        assert!(decode_list(&v).is_none(), "version");
        for cut in 1..good.len() {
            assert!(decode_list(&good[..cut]).is_none(), "truncated at {cut}");
        }
        let mut v = good.clone();
        v.push(0);
        assert!(decode_list(&v).is_none(), "trailing byte");
        let mut v = good.clone();
        v[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_list(&v).is_none(), "huge count");
        let mut v = good.clone();
        v[17..25].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_list(&v).is_none(), "huge length");
    }

    #[test]
    fn canonical_form() {
        let given = wire(&[
            attr(CKA_KEY_TYPE, &wire_ulong(CKK_AES)),
            attr(CKA_EXTRACTABLE, &[5]),
            attr(CKA_KEY_TYPE, &wire_ulong(CKK_AES)),
        ]);
        let c = canonical(&given).unwrap();
        let map = decode_map(&c).unwrap();
        let want: AttrMap = [
            (CKA_EXTRACTABLE, bool_value(true)),
            (CKA_KEY_TYPE, ulong_value(CKK_AES)),
        ]
        .into_iter()
        .collect();
        assert_eq!(*map, want);
        // Back to the caller's layout, sorted, deduplicated.
        let out = decode_list(&to_wire(&c)).unwrap();
        assert_eq!(
            &*out,
            &[
                attr(CKA_KEY_TYPE, &wire_ulong(CKK_AES)),
                attr(CKA_EXTRACTABLE, &[1])
            ][..]
        );
        // Canonicalising twice changes nothing.
        assert_eq!(canonical(&to_wire(&c)).unwrap(), c);
        assert!(
            decode_map(&canonical(&wire(&[])).unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn canonical_errors() {
        let e = |list: &[Attr]| canonical(&wire(list)).unwrap_err();
        assert_eq!(e(&[attr(CKA_TOKEN, &[1, 1])]), Error::AttributeValueInvalid);
        assert_eq!(e(&[attr(CKA_CLASS, &[1])]), Error::AttributeValueInvalid);
        assert_eq!(
            e(&[attr(CKA_LABEL, b"a"), attr(CKA_LABEL, b"b")]),
            Error::TemplateInconsistent
        );
        for inner in [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            assert_eq!(e(&[attr(inner, &wire(&[]))]), Error::AttributeValueInvalid);
        }
        assert_eq!(canonical(&[1, 2, 3]), Err(Error::AttributeValueInvalid));
    }

    #[test]
    fn decode_map_is_strict() {
        // Out of order, duplicated, nested, or of the wrong shape.
        let bad = [
            wire(&[attr(CKA_LABEL, b"a"), attr(CKA_CLASS, &ulong_value(1))]),
            wire(&[attr(CKA_LABEL, b"a"), attr(CKA_LABEL, b"a")]),
            wire(&[attr(CKA_WRAP_TEMPLATE, &wire(&[]))]),
            wire(&[attr(CKA_TOKEN, &[1, 0])]),
        ];
        for b in bad {
            assert!(decode_map(&b).is_none());
            assert_eq!(to_wire(&b), b, "not canonical: returned unchanged");
        }
    }

    fn key(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Object {
        let mut m: AttrMap = [
            (CKA_CLASS, ulong_value(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, ulong_value(CKK_AES)),
            (CKA_EXTRACTABLE, bool_value(true)),
            (CKA_SENSITIVE, bool_value(false)),
            (CKA_VALUE, vec![9; 16]),
        ]
        .into_iter()
        .collect();
        m.extend(extra.iter().cloned());
        Object::from_attrs(m)
    }

    fn stored(list: &[Attr]) -> Vec<u8> {
        canonical(&wire(list)).unwrap()
    }

    #[test]
    fn wrap_template_matching() {
        let target = key(&[]);
        let plain = key(&[]);
        assert_eq!(check_wrap_template(&plain, &target), Ok(()));
        let t = stored(&[
            attr(CKA_EXTRACTABLE, &[1]),
            attr(CKA_KEY_TYPE, &wire_ulong(CKK_AES)),
        ]);
        let wrapping = key(&[(CKA_WRAP_TEMPLATE, t)]);
        assert_eq!(check_wrap_template(&wrapping, &target), Ok(()));
        let generic = key(&[(CKA_KEY_TYPE, ulong_value(CKK_GENERIC_SECRET))]);
        assert_eq!(
            check_wrap_template(&wrapping, &generic),
            Err(Error::KeyHandleInvalid)
        );
        // An attribute the target lacks does not match.
        let t = stored(&[attr(CKA_MODULUS_BITS, &wire_ulong(2048))]);
        let wrapping = key(&[(CKA_WRAP_TEMPLATE, t)]);
        assert_eq!(
            check_wrap_template(&wrapping, &target),
            Err(Error::KeyHandleInvalid)
        );
        // An empty template matches everything.
        let wrapping = key(&[(CKA_WRAP_TEMPLATE, stored(&[]))]);
        assert_eq!(check_wrap_template(&wrapping, &generic), Ok(()));
        // A secret value matches only where it could be read anyway.
        let t = stored(&[attr(CKA_VALUE, &[9; 16])]);
        let wrapping = key(&[(CKA_WRAP_TEMPLATE, t)]);
        assert_eq!(check_wrap_template(&wrapping, &target), Ok(()));
        let hidden = key(&[(CKA_SENSITIVE, bool_value(true))]);
        assert_eq!(
            check_wrap_template(&wrapping, &hidden),
            Err(Error::KeyHandleInvalid)
        );
        let broken = key(&[(CKA_WRAP_TEMPLATE, vec![1, 2])]);
        assert_eq!(
            check_wrap_template(&broken, &target),
            Err(Error::GeneralError)
        );
    }

    #[test]
    fn key_template_merging() {
        let t = stored(&[attr(CKA_SENSITIVE, &[1]), attr(CKA_EXTRACTABLE, &[0])]);
        let unwrapping = key(&[(CKA_UNWRAP_TEMPLATE, t)]);
        let caller: AttrMap = [
            (CKA_CLASS, ulong_value(CKO_SECRET_KEY)),
            (CKA_SENSITIVE, bool_value(true)),
        ]
        .into_iter()
        .collect();
        let merged = with_key_template(&unwrapping, CKA_UNWRAP_TEMPLATE, &caller).unwrap();
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[&CKA_EXTRACTABLE], bool_value(false));
        // The derive template is another attribute: nothing to add.
        assert_eq!(
            with_key_template(&unwrapping, CKA_DERIVE_TEMPLATE, &caller).unwrap(),
            caller
        );
        let mut conflict = caller.clone();
        conflict.insert(CKA_EXTRACTABLE, bool_value(true));
        assert_eq!(
            with_key_template(&unwrapping, CKA_UNWRAP_TEMPLATE, &conflict),
            Err(Error::TemplateInconsistent)
        );
        let broken = key(&[(CKA_DERIVE_TEMPLATE, vec![0])]);
        assert_eq!(
            with_key_template(&broken, CKA_DERIVE_TEMPLATE, &caller),
            Err(Error::GeneralError)
        );
    }
}
