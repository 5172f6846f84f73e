//! Template rules for C_DeriveKey (§5.18.5 and the key sections of the
//! derivation mechanisms): what a derivation must produce, checked before
//! anything is derived, and the finished object around the derived bytes,
//! with the sensitivity history carried over from the base key.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Object;
use super::attrs::AttrMap;
use super::material::secret_value_ok;
use super::rules;
use super::template::{
    Mode, NO_KEY_TYPE, apply, assign_unique_id, base_object, check_contributed, check_template,
    tpl_bool, tpl_ulong,
};
use crate::error::{Error, Result};

/// Longest CKM_HKDF_DATA output we make: HKDF's own bound with its widest
/// PRF (255 blocks of SHA-512), so a huge CKA_VALUE_LEN is refused before
/// anything is allocated.
const DATA_MAX_LEN: usize = 255 * 64;

/// What C_DeriveKey must make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeriveRequest {
    /// CKO_SECRET_KEY, or CKO_DATA for CKM_HKDF_DATA.
    pub class: CK_OBJECT_CLASS,
    /// The secret key type; CK_UNAVAILABLE_INFORMATION for a data object.
    pub key_type: CK_KEY_TYPE,
    /// Bytes to derive (CKA_VALUE_LEN); `None`: the mechanism's natural
    /// length (the ECDH shared secret's, the HKDF PRF's output).
    pub len: Option<usize>,
}

/// The class `mech` makes: CKM_HKDF_DATA a data object, every other
/// derivation a secret key. The template may repeat it, not contradict it.
fn derived_class(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<CK_OBJECT_CLASS> {
    let class = if mech == CKM_HKDF_DATA {
        CKO_DATA
    } else {
        CKO_SECRET_KEY
    };
    match tpl_ulong(template, CKA_CLASS)? {
        Some(given) if given != class => Err(Error::TemplateInconsistent),
        _ => Ok(class),
    }
}

/// The template of a derived data object: CKA_VALUE_LEN says how many
/// bytes to derive but is not an attribute of data objects.
fn data_template(template: &AttrMap) -> AttrMap {
    template
        .iter()
        .filter(|(ty, _)| **ty != CKA_VALUE_LEN)
        .map(|(ty, v)| (*ty, v.clone()))
        .collect()
}

/// The request a template makes for an object of `class`; `so` as in
/// [`check_template`].
fn request(class: CK_OBJECT_CLASS, template: &AttrMap, so: bool) -> Result<DeriveRequest> {
    // The value is what the derivation makes (footnote 4, §4.1.1 item 3).
    if template.contains_key(&CKA_VALUE) {
        return Err(Error::AttributeReadOnly);
    }
    let len = tpl_ulong(template, CKA_VALUE_LEN)?
        .map(|n| usize::try_from(n).map_err(|_| Error::AttributeValueInvalid))
        .transpose()?;
    if class == CKO_DATA {
        check_template(
            CKO_DATA,
            NO_KEY_TYPE,
            &data_template(template),
            Mode::Derive,
            so,
        )?;
        if len.is_some_and(|n| !(1..=DATA_MAX_LEN).contains(&n)) {
            return Err(Error::AttributeValueInvalid);
        }
        return Ok(DeriveRequest {
            class,
            key_type: NO_KEY_TYPE,
            len,
        });
    }
    let key_type = tpl_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
    if !rules::supported_key(CKO_SECRET_KEY, key_type) {
        return Err(Error::AttributeValueInvalid);
    }
    check_template(CKO_SECRET_KEY, key_type, template, Mode::Derive, so)?;
    if len.is_some_and(|n| !secret_value_ok(key_type, n)) {
        return Err(Error::AttributeValueInvalid);
    }
    // The contributed values that do not depend on the base key can be
    // compared now, before anything is derived.
    let local = tpl_bool(template, CKA_LOCAL)?;
    let mech = tpl_ulong(template, CKA_KEY_GEN_MECHANISM)?;
    if local == Some(true) || mech.is_some_and(|m| m != CK_UNAVAILABLE_INFORMATION) {
        return Err(Error::AttributeReadOnly);
    }
    Ok(DeriveRequest {
        class,
        key_type,
        len,
    })
}

/// Checks a C_DeriveKey template for `mech` and says what to derive.
/// The class defaults to CKO_SECRET_KEY (CKO_DATA for CKM_HKDF_DATA) and
/// may not be another (CKR_TEMPLATE_INCONSISTENT); the key type defaults
/// to CKK_GENERIC_SECRET and must be one we hold as a secret key
/// (CKR_ATTRIBUTE_VALUE_INVALID, as on C_CreateObject). CKA_VALUE_LEN
/// (bytes) is optional; if given it must suit the key type (AES 16, 24 or
/// 32, others 1 to 4096; a data object 1 to 16320), else
/// CKR_ATTRIBUTE_VALUE_INVALID. CKA_VALUE, or another attribute the token
/// contributes (CKA_LOCAL=true …), is CKR_ATTRIBUTE_READ_ONLY. CKA_TRUSTED
/// is checked against the role by [`derived_secret_key`]; so are
/// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE, which a template may
/// repeat but which depend on the base key.
pub fn derive_request(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<DeriveRequest> {
    request(derived_class(mech, template)?, template, true)
}

/// The simple data derivations (CKM_CONCATENATE_*_DATA,
/// CKM_XOR_BASE_AND_DATA) put the base key's own bytes in the new key, so
/// the new key stays at least as protected, whatever the template says
/// (PKCS#11 3.0, "if the original key has its CKA_SENSITIVE attribute set
/// to CK_TRUE, so does the derived key … if the original key has its
/// CKA_EXTRACTABLE attribute set to CK_FALSE, so does the derived key").
/// Otherwise one byte of data and a CKA_VALUE_LEN of the base's length
/// would make a readable copy of a sensitive key.
pub fn protect_like_base(base: &Object, mut template: AttrMap) -> AttrMap {
    if base.flag(CKA_SENSITIVE) {
        template.insert(CKA_SENSITIVE, super::attrs::bool_value(true));
    }
    if !base.flag(CKA_EXTRACTABLE) {
        template.insert(CKA_EXTRACTABLE, super::attrs::bool_value(false));
    }
    template
}

/// The SP 800-108 KDFs (PKCS#11 3.0 §2.42, "Key Derivation Attribute
/// Rules"): CKA_SENSITIVE and CKA_EXTRACTABLE the template leaves out take
/// the base key's values, so an unspecified derived key is no easier to
/// read than its base. Given values stay as given.
pub fn protection_defaults_from_base(base: &Object, mut template: AttrMap) -> AttrMap {
    for ty in [CKA_SENSITIVE, CKA_EXTRACTABLE] {
        template
            .entry(ty)
            .or_insert_with(|| super::attrs::bool_value(base.flag(ty)));
    }
    template
}

/// §5.18.5: a derived key is sensitive "always" only if its bases were
/// (every one: CKM_CONCATENATE_BASE_AND_KEY has two) and it is, and never
/// extractable only if its bases never were and it is not.
fn inherit_history(obj: &mut Object, bases: &[&Object]) {
    let sensitive = obj.flag(CKA_SENSITIVE);
    let extractable = obj.flag(CKA_EXTRACTABLE);
    let all = |a| bases.iter().all(|b| b.flag(a));
    obj.put_bool(CKA_ALWAYS_SENSITIVE, all(CKA_ALWAYS_SENSITIVE) && sensitive);
    obj.put_bool(
        CKA_NEVER_EXTRACTABLE,
        all(CKA_NEVER_EXTRACTABLE) && !extractable,
    );
}

/// The data object CKM_HKDF_DATA makes. Unlike an imported data object it
/// defaults to CKA_PRIVATE=true: its value came from a key, and should not
/// be readable before login unless the template says so.
fn derived_data(template: &AttrMap, value: &[u8]) -> Result<Object> {
    let template = data_template(template);
    let mut obj = base_object(CKO_DATA, NO_KEY_TYPE);
    obj.put_bool(CKA_PRIVATE, true);
    apply(&mut obj, &template, NO_KEY_TYPE, Mode::Derive);
    obj.put(CKA_VALUE, value.to_vec());
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

/// The finished C_DeriveKey object around the derived `value`, from
/// `base`. A key gets CKA_LOCAL=false and CKA_KEY_GEN_MECHANISM
/// unavailable (it was not generated), CKA_VALUE_LEN, and the history of
/// [`inherit_history`]. Without CKA_VALUE_LEN the mechanism chose the
/// length: one the key type cannot have (an AES key from a 48-byte secret)
/// is CKR_TEMPLATE_INCONSISTENT. A `value` of another length than the
/// request's, or a template that is not the request's, is a general
/// error (the caller broke the protocol).
pub fn derived_secret_key(
    template: &AttrMap,
    req: &DeriveRequest,
    value: Zeroizing<Vec<u8>>,
    base: &Object,
    so: bool,
) -> Result<Object> {
    derived_from_keys(template, req, value, &[base], so)
}

/// [`derived_secret_key`] from several keys' material (the base and the
/// other key of CKM_CONCATENATE_BASE_AND_KEY): the history of every one
/// counts.
pub fn derived_from_keys(
    template: &AttrMap,
    req: &DeriveRequest,
    value: Zeroizing<Vec<u8>>,
    bases: &[&Object],
    so: bool,
) -> Result<Object> {
    if req.len.is_some_and(|n| n != value.len()) || request(req.class, template, true)? != *req {
        return Err(Error::GeneralError);
    }
    request(req.class, template, so)?;
    if value.is_empty() {
        return Err(Error::GeneralError);
    }
    if req.class == CKO_DATA {
        return derived_data(template, &value);
    }
    let key_type = req.key_type;
    if !secret_value_ok(key_type, value.len()) {
        return Err(Error::TemplateInconsistent);
    }
    let mut obj = base_object(CKO_SECRET_KEY, key_type);
    apply(&mut obj, template, key_type, Mode::Derive);
    obj.put(CKA_VALUE, value.to_vec());
    let len = CK_ULONG::try_from(value.len()).map_err(|_| Error::GeneralError)?;
    obj.put_ulong(CKA_VALUE_LEN, len);
    inherit_history(&mut obj, bases);
    check_contributed(&obj, template, key_type, Mode::Derive)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

/// PKCS#11 3.2 C_EncapsulateKey / C_DecapsulateKey: the new key is
/// never "always sensitive" nor "never extractable", whatever the key
/// that made it (its secret crossed the token boundary as a ciphertext).
pub fn kem_history(obj: &mut Object) {
    obj.put_bool(CKA_ALWAYS_SENSITIVE, false);
    obj.put_bool(CKA_NEVER_EXTRACTABLE, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::attrs::{bool_value as b, ulong_value as u};
    use crate::object::{create, key_material};
    use crate::types::AttrRead;

    fn t(entries: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> AttrMap {
        entries.iter().cloned().collect()
    }

    fn with(base: &AttrMap, ty: CK_ATTRIBUTE_TYPE, v: Vec<u8>) -> AttrMap {
        let mut m = base.clone();
        m.insert(ty, v);
        m
    }

    /// A base key with the given history.
    fn base(always_sensitive: bool, never_extractable: bool) -> Object {
        let mut o = create(
            &t(&[
                (CKA_CLASS, u(CKO_SECRET_KEY)),
                (CKA_KEY_TYPE, u(CKK_GENERIC_SECRET)),
                (CKA_VALUE, vec![1; 32]),
                (CKA_DERIVE, b(true)),
            ]),
            false,
        )
        .unwrap();
        o.put_bool(CKA_ALWAYS_SENSITIVE, always_sensitive);
        o.put_bool(CKA_NEVER_EXTRACTABLE, never_extractable);
        o
    }

    fn value(n: usize) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(vec![9u8; n])
    }

    #[test]
    fn sp800_108_protection_defaults() {
        let mut key = base(true, true);
        key.put_bool(CKA_SENSITIVE, true);
        key.put_bool(CKA_EXTRACTABLE, false);
        let got = protection_defaults_from_base(&key, AttrMap::new());
        assert_eq!(tpl_bool(&got, CKA_SENSITIVE), Ok(Some(true)));
        assert_eq!(tpl_bool(&got, CKA_EXTRACTABLE), Ok(Some(false)));
        // Given values stay as given.
        let got = protection_defaults_from_base(&key, t(&[(CKA_SENSITIVE, b(false))]));
        assert_eq!(tpl_bool(&got, CKA_SENSITIVE), Ok(Some(false)));
    }

    #[test]
    fn requests() {
        let r = derive_request(CKM_ECDH1_DERIVE, &AttrMap::new()).unwrap();
        assert_eq!(
            r,
            DeriveRequest {
                class: CKO_SECRET_KEY,
                key_type: CKK_GENERIC_SECRET,
                len: None
            }
        );
        let aes = t(&[(CKA_KEY_TYPE, u(CKK_AES)), (CKA_VALUE_LEN, u(16))]);
        let r = derive_request(CKM_HKDF_DERIVE, &aes).unwrap();
        assert_eq!((r.key_type, r.len), (CKK_AES, Some(16)));
        let r = derive_request(CKM_HKDF_DERIVE, &t(&[(CKA_KEY_TYPE, u(CKK_AES))])).unwrap();
        assert_eq!(r.len, None);
        for kt in [CKK_HKDF, CKK_SHA256_HMAC, CKK_SHA3_384_HMAC] {
            let m = t(&[(CKA_KEY_TYPE, u(kt)), (CKA_VALUE_LEN, u(40))]);
            assert_eq!(derive_request(CKM_HKDF_DERIVE, &m).unwrap().key_type, kt);
        }
        let data = derive_request(CKM_HKDF_DATA, &t(&[(CKA_VALUE_LEN, u(42))])).unwrap();
        assert_eq!(
            data,
            DeriveRequest {
                class: CKO_DATA,
                key_type: NO_KEY_TYPE,
                len: Some(42)
            }
        );
    }

    #[test]
    fn request_errors() {
        let e = |mech, m: AttrMap| derive_request(mech, &m).unwrap_err();
        let m = CKM_ECDH1_DERIVE;
        assert_eq!(
            e(m, t(&[(CKA_CLASS, u(CKO_PRIVATE_KEY))])),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(CKM_HKDF_DATA, t(&[(CKA_CLASS, u(CKO_SECRET_KEY))])),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(m, t(&[(CKA_VALUE, vec![1; 16])])),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(CKM_HKDF_DATA, t(&[(CKA_VALUE, vec![1])])),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(m, t(&[(CKA_KEY_TYPE, u(CKK_AES)), (CKA_VALUE_LEN, u(20))])),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(m, t(&[(CKA_VALUE_LEN, u(0))])),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(m, t(&[(CKA_VALUE_LEN, u(4097))])),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(CKM_HKDF_DATA, t(&[(CKA_VALUE_LEN, u(20000))])),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(m, t(&[(CKA_KEY_TYPE, u(CKK_RSA))])),
            Error::AttributeValueInvalid
        );
        assert_eq!(e(m, t(&[(CKA_LOCAL, b(true))])), Error::AttributeReadOnly);
        assert_eq!(
            e(m, t(&[(CKA_KEY_GEN_MECHANISM, u(CKM_AES_KEY_GEN))])),
            Error::AttributeReadOnly
        );
        assert!(derive_request(m, &t(&[(CKA_LOCAL, b(false))])).is_ok());
        assert_eq!(
            e(m, t(&[(CKA_MODULUS, vec![1])])),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(CKM_HKDF_DATA, t(&[(CKA_SENSITIVE, b(true))])),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(m, t(&[(CKA_WRAP_TEMPLATE, vec![0; 8])])),
            Error::AttributeValueInvalid
        );
    }

    #[test]
    fn derived_key_history() {
        let tpl = t(&[
            (CKA_KEY_TYPE, u(CKK_AES)),
            (CKA_VALUE_LEN, u(32)),
            (CKA_TOKEN, b(true)),
            (CKA_ENCRYPT, b(true)),
        ]);
        let req = derive_request(CKM_ECDH1_DERIVE, &tpl).unwrap();
        let o = derived_secret_key(&tpl, &req, value(32), &base(true, true), false).unwrap();
        assert_eq!(o.class(), CKO_SECRET_KEY);
        assert_eq!(o.key_type(), Some(CKK_AES));
        assert!(!o.flag(CKA_LOCAL) && o.is_token() && o.is_private());
        assert_eq!(
            o.ulong(CKA_KEY_GEN_MECHANISM),
            Some(CK_UNAVAILABLE_INFORMATION)
        );
        assert_eq!(o.ulong(CKA_VALUE_LEN), Some(32));
        assert!(o.flag(CKA_ALWAYS_SENSITIVE) && o.flag(CKA_NEVER_EXTRACTABLE));
        assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
        assert!(o.bytes(CKA_UNIQUE_ID).is_some());
        assert!(key_material(&o).is_ok());

        // The base's history limits the derived key's.
        let o = derived_secret_key(&tpl, &req, value(32), &base(false, true), false).unwrap();
        assert!(!o.flag(CKA_ALWAYS_SENSITIVE) && o.flag(CKA_NEVER_EXTRACTABLE));
        let o = derived_secret_key(&tpl, &req, value(32), &base(true, false), false).unwrap();
        assert!(o.flag(CKA_ALWAYS_SENSITIVE) && !o.flag(CKA_NEVER_EXTRACTABLE));
        // And so does the derived key's own setting.
        let open = with(
            &with(&tpl, CKA_SENSITIVE, b(false)),
            CKA_EXTRACTABLE,
            b(true),
        );
        let req = derive_request(CKM_ECDH1_DERIVE, &open).unwrap();
        let o = derived_secret_key(&open, &req, value(32), &base(true, true), false).unwrap();
        assert!(!o.flag(CKA_ALWAYS_SENSITIVE) && !o.flag(CKA_NEVER_EXTRACTABLE));
        assert!(o.read(CKA_VALUE) == AttrRead::Value(vec![9; 32]));
    }

    #[test]
    fn derived_key_lengths_and_checks() {
        let generic = AttrMap::new();
        let req = derive_request(CKM_HKDF_DERIVE, &generic).unwrap();
        let o = derived_secret_key(&generic, &req, value(48), &base(true, true), false).unwrap();
        assert_eq!(o.ulong(CKA_VALUE_LEN), Some(48));
        assert_eq!(o.key_type(), Some(CKK_GENERIC_SECRET));
        assert!(o.flag(CKA_SIGN) && !o.flag(CKA_DERIVE));

        // AES with the mechanism's natural length: only 16/24/32 fit.
        let aes = t(&[(CKA_KEY_TYPE, u(CKK_AES))]);
        let req = derive_request(CKM_HKDF_DERIVE, &aes).unwrap();
        assert!(derived_secret_key(&aes, &req, value(24), &base(true, true), false).is_ok());
        let r = derived_secret_key(&aes, &req, value(48), &base(true, true), false);
        assert_eq!(r.unwrap_err(), Error::TemplateInconsistent);

        // The value must be what was asked for.
        let fixed = t(&[(CKA_VALUE_LEN, u(20))]);
        let req = derive_request(CKM_HKDF_DERIVE, &fixed).unwrap();
        let r = derived_secret_key(&fixed, &req, value(21), &base(true, true), false);
        assert_eq!(r.unwrap_err(), Error::GeneralError);
        let r = derived_secret_key(&generic, &req, value(20), &base(true, true), false);
        assert_eq!(r.unwrap_err(), Error::GeneralError);

        // CKA_TRUSTED only from the SO; contributed values must agree.
        let trusted = t(&[(CKA_TRUSTED, b(true))]);
        let req = derive_request(CKM_HKDF_DERIVE, &trusted).unwrap();
        let r = derived_secret_key(&trusted, &req, value(32), &base(true, true), false);
        assert_eq!(r.unwrap_err(), Error::AttributeReadOnly);
        assert!(derived_secret_key(&trusted, &req, value(32), &base(true, true), true).is_ok());
        let claims = t(&[(CKA_LOCAL, b(false)), (CKA_ALWAYS_SENSITIVE, b(true))]);
        let req = derive_request(CKM_HKDF_DERIVE, &claims).unwrap();
        assert!(derived_secret_key(&claims, &req, value(32), &base(true, true), false).is_ok());
        let r = derived_secret_key(&claims, &req, value(32), &base(false, true), false);
        assert_eq!(r.unwrap_err(), Error::AttributeReadOnly);

        // An HKDF key derives by default.
        let hkdf = t(&[(CKA_KEY_TYPE, u(CKK_HKDF))]);
        let req = derive_request(CKM_HKDF_DERIVE, &hkdf).unwrap();
        let o = derived_secret_key(&hkdf, &req, value(32), &base(true, true), false).unwrap();
        assert!(o.flag(CKA_DERIVE) && !o.flag(CKA_SIGN));
    }

    #[test]
    fn derived_data_object() {
        let tpl = t(&[
            (CKA_VALUE_LEN, u(42)),
            (CKA_LABEL, b"okm".to_vec()),
            (CKA_TOKEN, b(false)),
        ]);
        let req = derive_request(CKM_HKDF_DATA, &tpl).unwrap();
        let o = derived_secret_key(&tpl, &req, value(42), &base(true, true), false).unwrap();
        assert_eq!(o.class(), CKO_DATA);
        assert!(o.is_private());
        assert_eq!(o.bytes(CKA_VALUE), Some(&[9u8; 42][..]));
        assert_eq!(o.bytes(CKA_LABEL), Some(&b"okm"[..]));
        assert!(o.bytes(CKA_VALUE_LEN).is_none() && o.bytes(CKA_KEY_TYPE).is_none());
        let public = t(&[(CKA_PRIVATE, b(false))]);
        let req = derive_request(CKM_HKDF_DATA, &public).unwrap();
        let o = derived_secret_key(&public, &req, value(32), &base(true, true), false).unwrap();
        assert!(!o.is_private());
    }
}
