//! PKCS#11 objects as attribute maps, and the rules of spec §4 (object
//! classes and attributes) and §5.7 (object management) that create, copy,
//! modify, read and search them, and the object side of key generation,
//! derivation and wrapping. Pure logic: no handles, no storage, no
//! cryptography beyond the mechanism module's key constructors.

pub mod attrs;
mod derive;
pub mod domain;
pub mod import;
mod keygen;
mod material;
pub mod nested;
pub mod profile;
mod rules;
pub mod spki;
pub mod template;
pub mod unsealed;
mod wrap;

use cryptoki_sys::*;

use crate::types::AttrRead;

pub use attrs::{AttrMap, Kind, kind, parse_template, to_wire};
pub use template::{
    DeriveRequest, GeneratedPair, KeyPairRequest, SecretKeyRequest, copy, create, derive_request,
    derived_from_keys, derived_secret_key, generated_key_pair, generated_secret_key, key_material,
    key_pair_request, profile_object, protect_like_base, protection_defaults_from_base,
    secret_key_request, set_attributes, unwrap_check, unwrapped_key, with_derive_template,
    with_unwrap_template, wrap_check, wrap_encoding,
};

/// Per-attribute bookkeeping counted by [`Object::size`].
const ATTR_OVERHEAD: u64 = 16;

/// One object: its attributes in canonical form (see [`attrs`]). Every
/// object built by this module holds every attribute of its class, with
/// defaults filled in. Values are zeroized on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Object {
    attrs: AttrMap,
}

impl Drop for Object {
    fn drop(&mut self) {
        attrs::wipe(&mut self.attrs);
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be key material or private data: only a summary.
        f.debug_struct("Object")
            .field("class", &self.ulong(CKA_CLASS))
            .field("key_type", &self.ulong(CKA_KEY_TYPE))
            .field("token", &self.is_token())
            .field("private", &self.is_private())
            .field("attributes", &self.attrs.len())
            .finish()
    }
}

/// Whether `ty` is secret key material on an object of `class`: CKA_VALUE
/// of secret and private (EC) keys and the private RSA components. These
/// are never revealed when the key is sensitive or unextractable
/// (footnote 7) and always sealed at rest.
pub fn is_secret_component(class: CK_OBJECT_CLASS, ty: CK_ATTRIBUTE_TYPE) -> bool {
    match class {
        CKO_SECRET_KEY => ty == CKA_VALUE,
        CKO_PRIVATE_KEY => matches!(
            ty,
            CKA_VALUE
                | CKA_SEED
                | CKA_PRIVATE_EXPONENT
                | CKA_PRIME_1
                | CKA_PRIME_2
                | CKA_EXPONENT_1
                | CKA_EXPONENT_2
                | CKA_COEFFICIENT
        ),
        _ => false,
    }
}

impl Object {
    /// Wraps attributes already in canonical form (e.g. loaded from the
    /// store). No rule is checked.
    pub fn from_attrs(attrs: AttrMap) -> Object {
        Object { attrs }
    }

    pub fn attrs(&self) -> &AttrMap {
        &self.attrs
    }

    /// CKA_CLASS; CK_UNAVAILABLE_INFORMATION (no class has that value) if
    /// absent or malformed.
    pub fn class(&self) -> CK_OBJECT_CLASS {
        self.ck_ulong(CKA_CLASS)
            .unwrap_or(CK_UNAVAILABLE_INFORMATION)
    }

    pub fn key_type(&self) -> Option<CK_KEY_TYPE> {
        self.ck_ulong(CKA_KEY_TYPE)
    }

    /// A boolean attribute; absent or malformed reads as false.
    pub fn flag(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.bool_attr(ty).unwrap_or(false)
    }

    /// An integer attribute in canonical width.
    pub fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
        self.attrs.get(&ty).and_then(|v| attrs::decode_u64(v))
    }

    pub fn bytes(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.attrs.get(&ty).map(Vec::as_slice)
    }

    pub fn is_token(&self) -> bool {
        self.flag(CKA_TOKEN)
    }

    pub fn is_private(&self) -> bool {
        self.flag(CKA_PRIVATE)
    }

    /// CKA_MODIFIABLE (spec default true when absent).
    pub fn is_modifiable(&self) -> bool {
        self.bool_attr(CKA_MODIFIABLE).unwrap_or(true)
    }

    /// CKA_COPYABLE (spec default true when absent).
    pub fn is_copyable(&self) -> bool {
        self.bool_attr(CKA_COPYABLE).unwrap_or(true)
    }

    /// CKA_DESTROYABLE (spec default true when absent): C_DestroyObject
    /// answers CKR_ACTION_PROHIBITED when false.
    pub fn is_destroyable(&self) -> bool {
        self.bool_attr(CKA_DESTROYABLE).unwrap_or(true)
    }

    /// CKA_ALLOWED_MECHANISMS: `None` when the key has no such restriction.
    pub fn allowed_mechanisms(&self) -> Option<Vec<CK_MECHANISM_TYPE>> {
        self.attrs
            .get(&CKA_ALLOWED_MECHANISMS)
            .and_then(|v| attrs::decode_ulong_array(v))
    }

    /// Whether the key may be used with `mech` under CKA_ALLOWED_MECHANISMS.
    /// An absent or empty list places no restriction (as SoftHSM reads
    /// it); a malformed one allows nothing.
    pub fn allows_mechanism(&self, mech: CK_MECHANISM_TYPE) -> bool {
        match self.attrs.get(&CKA_ALLOWED_MECHANISMS) {
            None => true,
            Some(v) => match attrs::decode_ulong_array(v) {
                Some(list) => list.is_empty() || list.contains(&mech),
                None => false,
            },
        }
    }

    /// C_FindObjects matching: every template entry present with an equal
    /// canonical value. Secret components of a key that may not reveal
    /// them never match, so a search cannot confirm a guessed key.
    pub fn matches(&self, template: &AttrMap) -> bool {
        template.iter().all(|(ty, want)| {
            !self.hides(*ty) && self.attrs.get(ty).is_some_and(|have| have == want)
        })
    }

    /// C_GetAttributeValue for one entry, in the caller's layout.
    /// A public, private or secret key.
    pub fn is_key(&self) -> bool {
        matches!(
            self.class(),
            CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY
        )
    }

    pub fn read(&self, ty: CK_ATTRIBUTE_TYPE) -> AttrRead {
        match self.attrs.get(&ty) {
            // Every key has a mechanism list; none given means no limit,
            // read as an empty list (clients such as pkcs11-provider take
            // CKR_ATTRIBUTE_TYPE_INVALID to mean the token lacks it).
            None if ty == CKA_ALLOWED_MECHANISMS && self.is_key() => AttrRead::Value(Vec::new()),
            // An ML-KEM private key keeps its seed; its CKA_VALUE (the
            // expanded dk) is computed when asked, under the same rule
            // as a stored secret.
            None if ty == CKA_VALUE && material::is_ml_kem_private(self) => {
                if self.hides(ty) {
                    AttrRead::Sensitive
                } else {
                    material::ml_kem_dk(self).map_or(AttrRead::Invalid, AttrRead::Value)
                }
            }
            None => AttrRead::Invalid,
            Some(_) if self.hides(ty) => AttrRead::Sensitive,
            Some(v) => AttrRead::Value(attrs::to_wire(ty, v)),
        }
    }

    /// C_GetObjectSize: an approximation (values plus per-attribute
    /// bookkeeping), as the spec allows.
    pub fn size(&self) -> u64 {
        self.attrs.values().fold(0u64, |acc, v| {
            let len = u64::try_from(v.len()).unwrap_or(u64::MAX);
            acc.saturating_add(len).saturating_add(ATTR_OVERHEAD)
        })
    }

    /// Splits the attributes into a clear half (searchable at rest) and a
    /// sealed half. Secret components always go to the sealed half,
    /// whatever CKA_PRIVATE and CKA_SENSITIVE say. A private object is
    /// sealed whole except CKA_CLASS, CKA_TOKEN and CKA_PRIVATE: those
    /// stay clear so that an object loaded before login still says it is
    /// private (they reveal nothing its row does not). The caller wipes
    /// the sealed half ([`attrs::wipe`]) once it is encrypted.
    pub fn split_for_storage(&self) -> (AttrMap, AttrMap) {
        let class = self.class();
        let private = self.is_private();
        let mut clear = AttrMap::new();
        let mut sealed = AttrMap::new();
        for (ty, v) in &self.attrs {
            let stays_clear = !is_secret_component(class, *ty)
                && (!private || matches!(*ty, CKA_CLASS | CKA_TOKEN | CKA_PRIVATE));
            if stays_clear {
                clear.insert(*ty, v.clone());
            } else {
                sealed.insert(*ty, v.clone());
            }
        }
        (clear, sealed)
    }

    /// Rebuilds an object from its two halves; the sealed half wins if both
    /// hold a type.
    pub fn join(clear: AttrMap, sealed: AttrMap) -> Object {
        let mut obj = Object { attrs: clear };
        for (ty, v) in sealed {
            if let Some(mut old) = obj.attrs.insert(ty, v) {
                zeroize::Zeroize::zeroize(&mut old);
            }
        }
        obj
    }

    /// Whether the object holds any secret component.
    pub fn has_secret(&self) -> bool {
        let class = self.class();
        self.attrs.keys().any(|ty| is_secret_component(class, *ty))
    }

    /// Whether `ty` must not be revealed: a secret component of a key that
    /// is sensitive or unextractable (footnote 7). A missing CKA_EXTRACTABLE
    /// counts as unextractable.
    fn hides(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        is_secret_component(self.class(), ty)
            && (self.flag(CKA_SENSITIVE) || !self.flag(CKA_EXTRACTABLE))
    }

    fn bool_attr(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<bool> {
        self.attrs.get(&ty).and_then(|v| attrs::decode_bool(v))
    }

    fn ck_ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
        self.attrs.get(&ty).and_then(|v| attrs::decode_ulong(v))
    }

    /// Sets one canonical value, wiping the one it replaces.
    fn put(&mut self, ty: CK_ATTRIBUTE_TYPE, value: Vec<u8>) {
        if let Some(mut old) = self.attrs.insert(ty, value) {
            zeroize::Zeroize::zeroize(&mut old);
        }
    }

    /// Drops one value, wiping it (key material a template gave that the
    /// object does not keep: an ML-DSA or ML-KEM expanded key given beside
    /// its seed).
    pub(crate) fn remove(&mut self, ty: CK_ATTRIBUTE_TYPE) {
        if let Some(mut old) = self.attrs.remove(&ty) {
            zeroize::Zeroize::zeroize(&mut old);
        }
    }

    fn put_ulong(&mut self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) {
        self.put(ty, attrs::ulong_value(v));
    }

    fn put_bool(&mut self, ty: CK_ATTRIBUTE_TYPE, b: bool) {
        self.put(ty, attrs::bool_value(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrs::{bool_value, ulong_value, wire_ulong};

    fn aes_key(private: bool, sensitive: bool, extractable: bool) -> Object {
        let mut m = AttrMap::new();
        m.insert(CKA_CLASS, ulong_value(CKO_SECRET_KEY));
        m.insert(CKA_KEY_TYPE, ulong_value(CKK_AES));
        m.insert(CKA_TOKEN, bool_value(true));
        m.insert(CKA_PRIVATE, bool_value(private));
        m.insert(CKA_SENSITIVE, bool_value(sensitive));
        m.insert(CKA_EXTRACTABLE, bool_value(extractable));
        m.insert(CKA_LABEL, b"k".to_vec());
        m.insert(CKA_VALUE, vec![7; 16]);
        Object::from_attrs(m)
    }

    #[test]
    fn accessors() {
        let o = aes_key(true, true, false);
        assert_eq!(o.class(), CKO_SECRET_KEY);
        assert_eq!(o.key_type(), Some(CKK_AES));
        assert!(o.is_token() && o.is_private());
        assert!(!o.flag(CKA_SIGN));
        assert_eq!(o.bytes(CKA_LABEL), Some(&b"k"[..]));
        assert!(o.is_destroyable() && o.is_copyable() && o.is_modifiable());
        assert_eq!(Object::default().class(), CK_UNAVAILABLE_INFORMATION);
        assert!(o.size() > 16);
    }

    #[test]
    fn unrestricted_keys_read_an_empty_mechanism_list() {
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, attrs::ulong_value(CKO_PUBLIC_KEY));
        let key = Object::from_attrs(attrs);
        assert!(key.read(CKA_ALLOWED_MECHANISMS) == AttrRead::Value(Vec::new()));
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, attrs::ulong_value(CKO_DATA));
        let data = Object::from_attrs(attrs);
        assert!(data.read(CKA_ALLOWED_MECHANISMS) == AttrRead::Invalid);
    }

    #[test]
    fn read_sensitivity() {
        let o = aes_key(true, true, true);
        assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
        let o = aes_key(true, false, false);
        assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
        let o = aes_key(true, false, true);
        assert!(o.read(CKA_VALUE) == AttrRead::Value(vec![7; 16]));
        assert!(o.read(CKA_KEY_TYPE) == AttrRead::Value(wire_ulong(CKK_AES)));
        assert!(o.read(CKA_MODULUS) == AttrRead::Invalid);

        let mut m = AttrMap::new();
        m.insert(CKA_CLASS, ulong_value(CKO_PRIVATE_KEY));
        m.insert(CKA_PRIME_1, vec![3]);
        m.insert(CKA_MODULUS, vec![5]);
        let rsa = Object::from_attrs(m);
        assert!(rsa.read(CKA_PRIME_1) == AttrRead::Sensitive);
        assert!(rsa.read(CKA_MODULUS) == AttrRead::Value(vec![5]));
    }

    #[test]
    fn matching() {
        let o = aes_key(false, true, false);
        let mut t = AttrMap::new();
        assert!(o.matches(&t));
        t.insert(CKA_CLASS, ulong_value(CKO_SECRET_KEY));
        t.insert(CKA_LABEL, b"k".to_vec());
        assert!(o.matches(&t));
        t.insert(CKA_ID, Vec::new());
        assert!(!o.matches(&t));
        let mut guess = AttrMap::new();
        guess.insert(CKA_VALUE, vec![7; 16]);
        assert!(!o.matches(&guess));
        assert!(aes_key(false, false, true).matches(&guess));
    }

    #[test]
    fn split_public_aes_seals_value() {
        let o = aes_key(false, false, true);
        let (clear, sealed) = o.split_for_storage();
        assert!(!clear.contains_key(&CKA_VALUE));
        assert_eq!(sealed.get(&CKA_VALUE), Some(&vec![7; 16]));
        assert_eq!(sealed.len(), 1);
        assert!(clear.contains_key(&CKA_LABEL));
        assert_eq!(Object::join(clear, sealed), o);
    }

    #[test]
    fn split_private_seals_all_but_identity() {
        let o = aes_key(true, true, false);
        let (clear, sealed) = o.split_for_storage();
        let clear_types: Vec<_> = clear.keys().copied().collect();
        assert_eq!(clear_types, vec![CKA_CLASS, CKA_TOKEN, CKA_PRIVATE]);
        assert!(sealed.contains_key(&CKA_LABEL) && sealed.contains_key(&CKA_VALUE));
        let joined = Object::join(clear, sealed);
        assert_eq!(joined, o);
        assert!(joined.has_secret());
    }

    #[test]
    fn split_certificate_has_no_sealed_half() {
        let mut m = AttrMap::new();
        m.insert(CKA_CLASS, ulong_value(CKO_CERTIFICATE));
        m.insert(CKA_PRIVATE, bool_value(false));
        m.insert(CKA_VALUE, vec![1, 2, 3]);
        let o = Object::from_attrs(m);
        let (clear, sealed) = o.split_for_storage();
        assert!(sealed.is_empty());
        assert_eq!(clear.len(), 3);
        assert!(!o.has_secret());
    }

    #[test]
    fn allowed_mechanisms() {
        let mut o = aes_key(true, true, false);
        assert!(o.allows_mechanism(CKM_AES_GCM));
        let mut list = ulong_value(CKM_AES_GCM);
        list.extend(ulong_value(CKM_AES_CBC));
        o.put(CKA_ALLOWED_MECHANISMS, list);
        assert!(o.allows_mechanism(CKM_AES_CBC));
        assert!(!o.allows_mechanism(CKM_AES_ECB));
        assert_eq!(o.allowed_mechanisms(), Some(vec![CKM_AES_GCM, CKM_AES_CBC]));
    }

    #[test]
    fn debug_redacts() {
        let o = aes_key(true, true, false);
        let s = format!("{o:?}");
        assert!(!s.contains("7, 7"));
        assert!(s.contains("attributes"));
    }
}
