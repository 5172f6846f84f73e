//! Versioned keys (docs/LIFECYCLE.md, "Versions"): every version of a key
//! shares its CKA_LABEL and CKA_ID; CKA_KEYWARD_VERSION numbers them and
//! CKA_KEYWARD_PRIMARY marks the one in use. A plain search finds only
//! primary versions, so clients that find a key by label or id (pkcs11-tool
//! `--label`, `pkcs11:object=` URIs, NSS and Java matching certificates by
//! CKA_ID) pick the current version after a rotation without any change.

use cryptoki_sys::*;

use super::vendor::{CKA_KEYWARD_PRIMARY, CKA_KEYWARD_VERSION};
use crate::object::attrs::{bool_value, ulong_value};
use crate::object::{AttrMap, Object};

/// Objects that are versioned on their own: keys. Certificates carry the
/// version of the key they are bound to (set when bound or rotated).
pub fn is_versioned(class: CK_OBJECT_CLASS) -> bool {
    matches!(class, CKO_PRIVATE_KEY | CKO_PUBLIC_KEY | CKO_SECRET_KEY)
}

/// A new key is version 1 and primary; a copy keeps what its source had
/// (C_CopyObject copies every attribute).
pub fn stamp(class: CK_OBJECT_CLASS, attrs: &mut AttrMap) {
    if !is_versioned(class) {
        return;
    }
    attrs
        .entry(CKA_KEYWARD_VERSION)
        .or_insert_with(|| ulong_value(1));
    attrs
        .entry(CKA_KEYWARD_PRIMARY)
        .or_insert_with(|| bool_value(true));
}

/// A key stored before versions existed reads as version 1, primary (it
/// was the only key of its name the token knew); other objects unchanged.
pub fn with_defaults(obj: Object) -> Object {
    let missing = !obj.attrs().contains_key(&CKA_KEYWARD_VERSION)
        || !obj.attrs().contains_key(&CKA_KEYWARD_PRIMARY);
    if !(is_versioned(obj.class()) && missing) {
        return obj;
    }
    let mut attrs = obj.attrs().clone();
    stamp(obj.class(), &mut attrs);
    Object::from_attrs(attrs)
}

/// The object's version number, if it has one.
pub fn version(obj: &Object) -> Option<u64> {
    obj.ulong(CKA_KEYWARD_VERSION)
        .or_else(|| is_versioned(obj.class()).then_some(1))
}

/// Whether the object is the primary version of its name (objects
/// without versions count as primary).
pub fn is_primary(obj: &Object) -> bool {
    obj.bytes(CKA_KEYWARD_PRIMARY)
        .is_none_or(|v| v != bool_value(false).as_slice())
}

/// Whether a search template asks about versions itself.
pub fn asks_for_versions(template: &AttrMap) -> bool {
    template.contains_key(&CKA_KEYWARD_VERSION) || template.contains_key(&CKA_KEYWARD_PRIMARY)
}

/// The search rule: a template naming neither CKA_KEYWARD_VERSION nor
/// CKA_KEYWARD_PRIMARY finds primary versions only (and objects without
/// versions); one that names either finds what it names.
pub fn visible(template: &AttrMap, obj: &Object) -> bool {
    asks_for_versions(template) || is_primary(obj)
}

/// `obj` marked as version `version`, primary or not.
pub fn mark(obj: &Object, version: u64, primary: bool) -> Object {
    let mut attrs = obj.attrs().clone();
    attrs.insert(CKA_KEYWARD_VERSION, ulong_value(version));
    attrs.insert(CKA_KEYWARD_PRIMARY, bool_value(primary));
    Object::from_attrs(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Object {
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, ulong_value(CKO_PRIVATE_KEY));
        attrs.insert(CKA_LABEL, b"web".to_vec());
        for (ty, v) in extra {
            attrs.insert(*ty, v.clone());
        }
        Object::from_attrs(attrs)
    }

    #[test]
    fn legacy_keys_read_as_version_one_primary() {
        let k = with_defaults(key(&[]));
        assert_eq!(version(&k), Some(1));
        assert!(is_primary(&k));
        assert_eq!(k.bytes(CKA_KEYWARD_PRIMARY), Some(&[1u8][..]));
        let mut data = AttrMap::new();
        data.insert(CKA_CLASS, ulong_value(CKO_DATA));
        let d = with_defaults(Object::from_attrs(data));
        assert_eq!(version(&d), None);
        assert!(is_primary(&d));
    }

    #[test]
    fn plain_searches_see_primaries_only() {
        let old = mark(&key(&[]), 1, false);
        let new = mark(&key(&[]), 2, true);
        let mut by_label = AttrMap::new();
        by_label.insert(CKA_LABEL, b"web".to_vec());
        assert!(!visible(&by_label, &old));
        assert!(visible(&by_label, &new));
        let mut asking = by_label.clone();
        asking.insert(CKA_KEYWARD_PRIMARY, bool_value(false));
        assert!(visible(&asking, &old) && old.matches(&asking));
        let mut by_version = by_label;
        by_version.insert(CKA_KEYWARD_VERSION, ulong_value(1));
        assert!(visible(&by_version, &old) && old.matches(&by_version));
        assert!(!new.matches(&by_version));
    }

    #[test]
    fn copies_keep_their_version() {
        let mut attrs = mark(&key(&[]), 3, false).attrs().clone();
        stamp(CKO_PRIVATE_KEY, &mut attrs);
        assert_eq!(attrs.get(&CKA_KEYWARD_VERSION), Some(&ulong_value(3)));
        assert_eq!(attrs.get(&CKA_KEYWARD_PRIMARY), Some(&bool_value(false)));
    }
}
