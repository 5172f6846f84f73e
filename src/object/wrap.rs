//! The object side of C_WrapKey and C_UnwrapKey: which keys may wrap,
//! unwrap and be wrapped (§4.9–4.10: CKA_WRAP, CKA_UNWRAP,
//! CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED), how a key is encoded before
//! wrapping (a secret's raw value, a private key's PKCS#8), and the object
//! an unwrapped key becomes, with the wrapping key's CKA_WRAP_TEMPLATE
//! and the unwrapping (or deriving) key's CKA_UNWRAP_TEMPLATE
//! (CKA_DERIVE_TEMPLATE) applied. The cipher itself is the mechanism
//! module's.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Object;
use super::attrs::AttrMap;
use super::material::{key_material, put_public_parts, secret_key};
use super::nested::{check_wrap_template, with_key_template};
use super::rules;
use super::template::{
    Mode, apply, assign_unique_id, base_object, check_contributed, check_template, tpl_ulong,
};
use crate::error::{Error, Result};
use crate::mechanism::Key;

/// Checks that `wrapping` may wrap `target`: the wrapping key needs
/// CKA_WRAP (CKR_KEY_FUNCTION_NOT_PERMITTED); only secret and private
/// keys can be wrapped (CKR_KEY_NOT_WRAPPABLE); the target needs
/// CKA_EXTRACTABLE (CKR_KEY_UNEXTRACTABLE); a target with
/// CKA_WRAP_WITH_TRUSTED may only be wrapped by a key with CKA_TRUSTED,
/// which only the SO can set (CKR_KEY_NOT_WRAPPABLE); a wrapping key with
/// CKA_WRAP_TEMPLATE wraps only keys matching it (CKR_KEY_HANDLE_INVALID,
/// §5.18.3).
pub fn wrap_check(wrapping: &Object, target: &Object) -> Result<()> {
    if !wrapping.flag(CKA_WRAP) {
        return Err(Error::KeyFunctionNotPermitted);
    }
    if !matches!(target.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY) {
        return Err(Error::KeyNotWrappable);
    }
    if !target.flag(CKA_EXTRACTABLE) {
        return Err(Error::KeyUnextractable);
    }
    if target.flag(CKA_WRAP_WITH_TRUSTED) && !wrapping.flag(CKA_TRUSTED) {
        return Err(Error::KeyNotWrappable);
    }
    check_wrap_template(wrapping, target)
}

/// The bytes to wrap: a secret key's CKA_VALUE, a private key's PKCS#8
/// PrivateKeyInfo (DER). Other objects, and private keys we cannot
/// encode, are CKR_KEY_NOT_WRAPPABLE. Call [`wrap_check`] first.
pub fn wrap_encoding(target: &Object) -> Result<Zeroizing<Vec<u8>>> {
    match target.class() {
        CKO_SECRET_KEY => target
            .bytes(CKA_VALUE)
            .map(|v| Zeroizing::new(v.to_vec()))
            .ok_or(Error::GeneralError),
        // A private key type without a PKCS#8 form here (DH) is not
        // wrappable, as one we do not hold at all.
        CKO_PRIVATE_KEY => key_material(target)
            .and_then(|k| k.to_pkcs8())
            .map_err(|e| match e {
                Error::KeyTypeInconsistent => Error::KeyNotWrappable,
                other => other,
            }),
        _ => Err(Error::KeyNotWrappable),
    }
}

/// Checks that `unwrapping` may unwrap: it needs CKA_UNWRAP
/// (CKR_KEY_FUNCTION_NOT_PERMITTED).
pub fn unwrap_check(unwrapping: &Object) -> Result<()> {
    if unwrapping.flag(CKA_UNWRAP) {
        Ok(())
    } else {
        Err(Error::KeyFunctionNotPermitted)
    }
}

/// The C_UnwrapKey template: the caller's, with the unwrapping key's
/// CKA_UNWRAP_TEMPLATE added (a conflicting value is
/// CKR_TEMPLATE_INCONSISTENT, §5.18.4).
pub fn with_unwrap_template(unwrapping: &Object, template: &AttrMap) -> Result<AttrMap> {
    with_key_template(unwrapping, CKA_UNWRAP_TEMPLATE, template)
}

/// The C_DeriveKey template: the caller's, with the base key's
/// CKA_DERIVE_TEMPLATE added (a conflicting value is
/// CKR_TEMPLATE_INCONSISTENT, §5.18.5).
pub fn with_derive_template(base: &Object, template: &AttrMap) -> Result<AttrMap> {
    with_key_template(base, CKA_DERIVE_TEMPLATE, template)
}

/// The secret key an unwrapped value becomes. CKA_KEY_TYPE is required
/// (the bytes do not say); CKA_VALUE_LEN may be given and must then be
/// the unwrapped length (CKR_TEMPLATE_INCONSISTENT). A value the key type
/// cannot have (an AES key of 20 bytes) is "recognizably not a wrapped
/// key of the proper type": CKR_WRAPPED_KEY_INVALID.
fn unwrapped_secret(template: &AttrMap, material: &[u8], so: bool) -> Result<Object> {
    let key_type = tpl_ulong(template, CKA_KEY_TYPE)?.ok_or(Error::TemplateIncomplete)?;
    if !rules::supported_key(CKO_SECRET_KEY, key_type) {
        return Err(Error::AttributeValueInvalid);
    }
    check_template(CKO_SECRET_KEY, key_type, template, Mode::Unwrap, so)?;
    let len = CK_ULONG::try_from(material.len()).map_err(|_| Error::WrappedKeyInvalid)?;
    if tpl_ulong(template, CKA_VALUE_LEN)?.is_some_and(|given| given != len) {
        return Err(Error::TemplateInconsistent);
    }
    secret_key(key_type, material).map_err(|_| Error::WrappedKeyInvalid)?;
    let mut obj = base_object(CKO_SECRET_KEY, key_type);
    apply(&mut obj, template, key_type, Mode::Unwrap);
    obj.put(CKA_VALUE, material.to_vec());
    obj.put_ulong(CKA_VALUE_LEN, len);
    check_contributed(&obj, template, key_type, Mode::Unwrap)?;
    Ok(obj)
}

/// The private key an unwrapped PKCS#8 encoding becomes. The encoding
/// says the key type; CKA_KEY_TYPE may repeat it, not contradict it
/// (CKR_TEMPLATE_INCONSISTENT), and the same goes for CKA_EC_PARAMS. An
/// encoding we cannot parse is CKR_WRAPPED_KEY_INVALID.
fn unwrapped_private(template: &AttrMap, material: &[u8], so: bool) -> Result<Object> {
    let key = Key::from_pkcs8(material).map_err(|_| Error::WrappedKeyInvalid)?;
    let key_type = key.key_type();
    if tpl_ulong(template, CKA_KEY_TYPE)?.is_some_and(|given| given != key_type) {
        return Err(Error::TemplateInconsistent);
    }
    if !rules::supported_key(CKO_PRIVATE_KEY, key_type) {
        return Err(Error::WrappedKeyInvalid);
    }
    check_template(CKO_PRIVATE_KEY, key_type, template, Mode::Unwrap, so)?;
    let mut obj = base_object(CKO_PRIVATE_KEY, key_type);
    apply(&mut obj, template, key_type, Mode::Unwrap);
    for (ty, value) in key.private_attributes()? {
        obj.put(ty, value.to_vec());
    }
    if let Some(set) = key.ml_dsa_parameter_set() {
        obj.put_ulong(CKA_PARAMETER_SET, set);
    }
    if let Some(set) = key.slh_dsa_parameter_set() {
        obj.put_ulong(CKA_PARAMETER_SET, set);
    }
    put_public_parts(&mut obj, key_type, &key)?;
    check_contributed(&obj, template, key_type, Mode::Unwrap)?;
    Ok(obj)
}

/// The C_UnwrapKey object: `template` (CKA_CLASS required,
/// CKR_TEMPLATE_INCOMPLETE; only secret and private keys,
/// CKR_TEMPLATE_INCONSISTENT otherwise) applied with the creation rules
/// around the unwrapped `material` (a secret's value or a private key's
/// PKCS#8). Key material in the template is CKR_ATTRIBUTE_READ_ONLY.
/// Like an imported key it gets CKA_LOCAL=false, CKA_ALWAYS_SENSITIVE and
/// CKA_NEVER_EXTRACTABLE false (the key was outside the token) and
/// CKA_KEY_GEN_MECHANISM unavailable; a private key also gets its public
/// parts (CKA_EC_POINT, CKA_PUBLIC_KEY_INFO; RSA's modulus and public
/// exponent come with the encoding).
pub fn unwrapped_key(template: &AttrMap, material: Zeroizing<Vec<u8>>, so: bool) -> Result<Object> {
    let class = tpl_ulong(template, CKA_CLASS)?.ok_or(Error::TemplateIncomplete)?;
    let mut obj = match class {
        CKO_SECRET_KEY => unwrapped_secret(template, &material, so)?,
        CKO_PRIVATE_KEY => unwrapped_private(template, &material, so)?,
        _ => return Err(Error::TemplateInconsistent),
    };
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::{generate_ec, generate_rsa};
    use crate::object::attrs::{bool_value as b, ulong_value as u};
    use crate::object::create;
    use crate::types::AttrRead;

    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    fn t(entries: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> AttrMap {
        entries.iter().cloned().collect()
    }

    fn with(base: &AttrMap, ty: CK_ATTRIBUTE_TYPE, v: Vec<u8>) -> AttrMap {
        let mut m = base.clone();
        m.insert(ty, v);
        m
    }

    fn aes_tpl() -> AttrMap {
        t(&[
            (CKA_CLASS, u(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, u(CKK_AES)),
            (CKA_VALUE, vec![7; 16]),
        ])
    }

    fn key(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)], so: bool) -> Object {
        let mut m = aes_tpl();
        // Wrapping keys by default here: keys no longer wrap unless asked.
        m.insert(CKA_WRAP, b(true));
        m.insert(CKA_UNWRAP, b(true));
        m.extend(extra.iter().cloned());
        create(&m, so).unwrap()
    }

    fn ec_private(extractable: bool) -> Object {
        let parts = generate_ec(P256).unwrap();
        let tpl = t(&[
            (CKA_CLASS, u(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, u(CKK_EC)),
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_VALUE, parts.private_value.to_vec()),
            (CKA_EXTRACTABLE, b(extractable)),
        ]);
        create(&tpl, false).unwrap()
    }

    fn mat(v: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(v.to_vec())
    }

    #[test]
    fn wrap_rules() {
        let wrapping = key(&[], false);
        let target = key(&[(CKA_EXTRACTABLE, b(true))], false);
        assert!(wrap_check(&wrapping, &target).is_ok());
        let no_wrap = key(&[(CKA_WRAP, b(false))], false);
        assert_eq!(
            wrap_check(&no_wrap, &target),
            Err(Error::KeyFunctionNotPermitted)
        );
        let locked = key(&[], false);
        assert_eq!(wrap_check(&wrapping, &locked), Err(Error::KeyUnextractable));
        let guarded = key(
            &[(CKA_EXTRACTABLE, b(true)), (CKA_WRAP_WITH_TRUSTED, b(true))],
            false,
        );
        assert_eq!(wrap_check(&wrapping, &guarded), Err(Error::KeyNotWrappable));
        let trusted = key(&[(CKA_TRUSTED, b(true))], true);
        assert!(wrap_check(&trusted, &guarded).is_ok());
        let public = create(
            &t(&[
                (CKA_CLASS, u(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, u(CKK_EC)),
                (CKA_EC_PARAMS, P256.to_vec()),
                (
                    CKA_EC_POINT,
                    ec_private(false).bytes(CKA_EC_POINT).unwrap().to_vec(),
                ),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(wrap_check(&wrapping, &public), Err(Error::KeyNotWrappable));
        assert_eq!(wrap_encoding(&public), Err(Error::KeyNotWrappable));
        assert!(wrap_check(&wrapping, &ec_private(true)).is_ok());
        assert_eq!(
            wrap_check(&wrapping, &ec_private(false)),
            Err(Error::KeyUnextractable)
        );

        assert!(unwrap_check(&wrapping).is_ok());
        let no_unwrap = key(&[(CKA_UNWRAP, b(false))], false);
        assert_eq!(
            unwrap_check(&no_unwrap),
            Err(Error::KeyFunctionNotPermitted)
        );
    }

    #[test]
    fn secret_round_trip() {
        let target = key(&[(CKA_EXTRACTABLE, b(true))], false);
        let encoded = wrap_encoding(&target).unwrap();
        assert_eq!(*encoded, vec![7; 16]);
        let tpl = t(&[
            (CKA_CLASS, u(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, u(CKK_AES)),
            (CKA_TOKEN, b(true)),
            (CKA_LABEL, b"unwrapped".to_vec()),
        ]);
        let o = unwrapped_key(&tpl, encoded, false).unwrap();
        assert_eq!(o.bytes(CKA_VALUE), Some(&[7u8; 16][..]));
        assert_eq!(o.ulong(CKA_VALUE_LEN), Some(16));
        assert!(o.is_token() && o.is_private() && o.flag(CKA_SENSITIVE));
        assert!(!o.flag(CKA_LOCAL) && !o.flag(CKA_ALWAYS_SENSITIVE));
        assert!(!o.flag(CKA_NEVER_EXTRACTABLE) && !o.flag(CKA_EXTRACTABLE));
        assert_eq!(
            o.ulong(CKA_KEY_GEN_MECHANISM),
            Some(CK_UNAVAILABLE_INFORMATION)
        );
        assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
        assert!(o.bytes(CKA_UNIQUE_ID).is_some());
        assert!(key_material(&o).is_ok());
        let same_len = with(&tpl, CKA_VALUE_LEN, u(16));
        assert!(unwrapped_key(&same_len, mat(&[1; 16]), false).is_ok());
        let hkdf = t(&[(CKA_CLASS, u(CKO_SECRET_KEY)), (CKA_KEY_TYPE, u(CKK_HKDF))]);
        let o = unwrapped_key(&hkdf, mat(&[3; 40]), false).unwrap();
        assert!(o.flag(CKA_DERIVE));
    }

    #[test]
    fn secret_unwrap_errors() {
        let tpl = t(&[(CKA_CLASS, u(CKO_SECRET_KEY)), (CKA_KEY_TYPE, u(CKK_AES))]);
        let e = |m: &AttrMap, v: &[u8]| unwrapped_key(m, mat(v), false).unwrap_err();
        assert_eq!(e(&t(&[]), &[1; 16]), Error::TemplateIncomplete);
        let no_type = t(&[(CKA_CLASS, u(CKO_SECRET_KEY))]);
        assert_eq!(e(&no_type, &[1; 16]), Error::TemplateIncomplete);
        assert_eq!(e(&tpl, &[1; 20]), Error::WrappedKeyInvalid);
        assert_eq!(e(&tpl, &[]), Error::WrappedKeyInvalid);
        assert_eq!(
            e(&with(&tpl, CKA_VALUE_LEN, u(32)), &[1; 16]),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(&with(&tpl, CKA_VALUE, vec![1; 16]), &[1; 16]),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(&with(&tpl, CKA_CLASS, u(CKO_PUBLIC_KEY)), &[1; 16]),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(&with(&tpl, CKA_CLASS, u(CKO_DATA)), &[1; 16]),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(&with(&tpl, CKA_KEY_TYPE, u(CKK_DES3)), &[1; 24]),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(&with(&tpl, CKA_LOCAL, b(true)), &[1; 16]),
            Error::AttributeReadOnly
        );
        assert!(unwrapped_key(&with(&tpl, CKA_LOCAL, b(false)), mat(&[1; 16]), false).is_ok());
        assert_eq!(
            e(&with(&tpl, CKA_NEVER_EXTRACTABLE, b(true)), &[1; 16]),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(&with(&tpl, CKA_TRUSTED, b(true)), &[1; 16]),
            Error::AttributeReadOnly
        );
        assert!(unwrapped_key(&with(&tpl, CKA_TRUSTED, b(true)), mat(&[1; 16]), true).is_ok());
        for nested in [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            // Not a list `nested::canonical` could have made.
            assert_eq!(
                e(&with(&tpl, nested, vec![0; 24]), &[1; 16]),
                Error::AttributeValueInvalid
            );
            // A canonical one is kept on the new key.
            let o = unwrapped_key(&with(&tpl, nested, list(&[])), mat(&[1; 16]), false).unwrap();
            assert_eq!(o.bytes(nested), Some(&list(&[])[..]));
        }
    }

    /// A nested template as `attrs::parse_template` stores it.
    fn list(entries: &[(CK_ATTRIBUTE_TYPE, &[u8])]) -> Vec<u8> {
        let attrs: Vec<_> = entries
            .iter()
            .map(|(ty, v)| crate::types::Attr {
                ty: *ty,
                value: v.to_vec(),
            })
            .collect();
        crate::object::nested::canonical(&crate::object::nested::encode_list(&attrs)).unwrap()
    }

    #[test]
    fn wrap_template_gates_wrapping() {
        let aes_only = list(&[
            (CKA_KEY_TYPE, &CKK_AES.to_ne_bytes()),
            (CKA_EXTRACTABLE, &[1]),
        ]);
        let wrapping = key(&[(CKA_WRAP_TEMPLATE, aes_only)], false);
        let target = key(&[(CKA_EXTRACTABLE, b(true))], false);
        assert!(wrap_check(&wrapping, &target).is_ok());
        let generic = create(
            &t(&[
                (CKA_CLASS, u(CKO_SECRET_KEY)),
                (CKA_KEY_TYPE, u(CKK_GENERIC_SECRET)),
                (CKA_VALUE, vec![7; 16]),
                (CKA_EXTRACTABLE, b(true)),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(
            wrap_check(&wrapping, &generic),
            Err(Error::KeyHandleInvalid)
        );
        // The usual checks come first.
        assert_eq!(
            wrap_check(&wrapping, &key(&[], false)),
            Err(Error::KeyUnextractable)
        );
        assert_eq!(
            wrap_check(&wrapping, &ec_private(true)),
            Err(Error::KeyHandleInvalid)
        );
    }

    #[test]
    fn unwrap_template_is_added() {
        let forced = list(&[(CKA_SENSITIVE, &[1]), (CKA_EXTRACTABLE, &[0])]);
        let unwrapping = key(&[(CKA_UNWRAP_TEMPLATE, forced)], false);
        let caller = t(&[
            (CKA_CLASS, u(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, u(CKK_AES)),
            (CKA_SENSITIVE, b(true)),
        ]);
        let merged = with_unwrap_template(&unwrapping, &caller).unwrap();
        let o = unwrapped_key(&merged, mat(&[5; 16]), false).unwrap();
        assert!(o.flag(CKA_SENSITIVE) && !o.flag(CKA_EXTRACTABLE));
        let loose = with(&caller, CKA_EXTRACTABLE, b(true));
        assert_eq!(
            with_unwrap_template(&unwrapping, &loose),
            Err(Error::TemplateInconsistent)
        );
        // Without the attribute, the caller's template is used as given.
        let plain = key(&[], false);
        assert_eq!(with_unwrap_template(&plain, &loose).unwrap(), loose);
        let derived = with_derive_template(&unwrapping, &loose).unwrap();
        assert_eq!(derived, loose);
    }

    #[test]
    fn ec_private_round_trip() {
        let target = ec_private(true);
        let encoded = wrap_encoding(&target).unwrap();
        let tpl = t(&[
            (CKA_CLASS, u(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, u(CKK_EC)),
            (CKA_SIGN, b(true)),
            (CKA_ID, vec![4]),
        ]);
        let o = unwrapped_key(&tpl, encoded.clone(), false).unwrap();
        for ty in [CKA_EC_PARAMS, CKA_VALUE, CKA_EC_POINT, CKA_PUBLIC_KEY_INFO] {
            assert_eq!(o.bytes(ty), target.bytes(ty), "{ty:#x}");
        }
        assert_eq!(o.bytes(CKA_ID), Some(&[4u8][..]));
        assert!(!o.flag(CKA_LOCAL) && !o.flag(CKA_ALWAYS_SENSITIVE));
        assert!(o.flag(CKA_SIGN) && o.flag(CKA_DERIVE));
        assert!(key_material(&o).is_ok());

        // The template may repeat what the encoding says, not contradict it.
        let no_type = t(&[(CKA_CLASS, u(CKO_PRIVATE_KEY))]);
        let o = unwrapped_key(&no_type, encoded.clone(), false).unwrap();
        assert_eq!(o.key_type(), Some(CKK_EC));
        let same = with(&tpl, CKA_EC_PARAMS, P256.to_vec());
        assert!(unwrapped_key(&same, encoded.clone(), false).is_ok());
        let e = |m: &AttrMap, v: Zeroizing<Vec<u8>>| unwrapped_key(m, v, false).unwrap_err();
        let p384 = vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert_eq!(
            e(&with(&tpl, CKA_EC_PARAMS, p384), encoded.clone()),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(&with(&tpl, CKA_KEY_TYPE, u(CKK_RSA)), encoded.clone()),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(&with(&tpl, CKA_VALUE, vec![1]), encoded.clone()),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(
                &with(&tpl, CKA_PUBLIC_KEY_INFO, vec![0x30, 0]),
                encoded.clone()
            ),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(&tpl, mat(&[0x30, 0x03, 1, 2, 3])),
            Error::WrappedKeyInvalid
        );
        let mut truncated = encoded.to_vec();
        truncated.truncate(truncated.len() - 1);
        assert_eq!(e(&tpl, mat(&truncated)), Error::WrappedKeyInvalid);
        // A secret value unwrapped as a private key.
        assert_eq!(e(&tpl, mat(&[7; 32])), Error::WrappedKeyInvalid);
    }

    #[test]
    fn rsa_private_round_trip() {
        let p = generate_rsa(2048, &[1, 0, 1]).unwrap();
        let target = create(
            &t(&[
                (CKA_CLASS, u(CKO_PRIVATE_KEY)),
                (CKA_KEY_TYPE, u(CKK_RSA)),
                (CKA_MODULUS, p.modulus.clone()),
                (CKA_PUBLIC_EXPONENT, p.public_exponent.clone()),
                (CKA_PRIVATE_EXPONENT, p.private_exponent.to_vec()),
                (CKA_PRIME_1, p.prime_1.to_vec()),
                (CKA_PRIME_2, p.prime_2.to_vec()),
                (CKA_EXTRACTABLE, b(true)),
            ]),
            false,
        )
        .unwrap();
        let encoded = wrap_encoding(&target).unwrap();
        let tpl = t(&[(CKA_CLASS, u(CKO_PRIVATE_KEY)), (CKA_KEY_TYPE, u(CKK_RSA))]);
        let o = unwrapped_key(&tpl, encoded.clone(), false).unwrap();
        for ty in [
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT,
            CKA_PRIVATE_EXPONENT,
            CKA_PUBLIC_KEY_INFO,
        ] {
            assert_eq!(o.bytes(ty), target.bytes(ty), "{ty:#x}");
        }
        for ty in [
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ] {
            assert!(o.bytes(ty).is_some_and(|v| !v.is_empty()), "{ty:#x}");
            assert!(o.read(ty) == AttrRead::Sensitive);
        }
        assert!(o.flag(CKA_DECRYPT) && o.flag(CKA_SIGN) && !o.flag(CKA_DERIVE));
        assert!(key_material(&o).is_ok());
        for (ty, v) in [
            (CKA_MODULUS, p.modulus.clone()),
            (CKA_PRIME_1, p.prime_1.to_vec()),
        ] {
            let r = unwrapped_key(&with(&tpl, ty, v), encoded.clone(), false);
            assert_eq!(r.unwrap_err(), Error::AttributeReadOnly);
        }
        let r = unwrapped_key(&with(&tpl, CKA_MODULUS_BITS, u(2048)), encoded, false);
        assert_eq!(r.unwrap_err(), Error::TemplateInconsistent);
    }
}
