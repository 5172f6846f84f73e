//! The per-class attribute table of PKCS#11 3.0 §4 (and the key-type
//! sections of the mechanisms spec): for each attribute of each supported
//! object type, whether a template must, may or must not give it on
//! creation and on generation (footnotes 1–4), and how it may change
//! afterwards (footnotes 8, 10, 11, 12 and the storage-object notes).
//! Profile objects (§4.13) are listed so they can be read and searched,
//! though only the token makes them.

use cryptoki_sys::*;

use super::attrs;

/// Whether a creating template must, may or must not give an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Required,
    Optional,
    /// The token contributes the value (footnotes 2 and 4).
    Forbidden,
}

/// How an attribute may change through C_SetAttributeValue or C_CopyObject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Read-only.
    No,
    /// Footnote 8: any new value.
    Any,
    /// Footnote 11: from false to true only.
    ToTrue,
    /// Footnote 12 (and CKA_COPYABLE): from true to false only.
    ToFalse,
    /// Footnote 10: only the SO may change it.
    SoOnly,
}

/// The behaviour of one attribute for one object type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub create: Presence,
    pub generate: Presence,
    pub set: Change,
    pub copy: Change,
}

use Change as C;
use Presence as P;

const fn rule(create: Presence, generate: Presence, set: Change, copy: Change) -> Rule {
    Rule {
        create,
        generate,
        set,
        copy,
    }
}

/// Given freely, changed freely (footnote 8).
const MUTABLE: Rule = rule(P::Optional, P::Optional, C::Any, C::Any);
/// Given freely, fixed afterwards.
const FIXED: Rule = rule(P::Optional, P::Optional, C::No, C::No);
/// Contributed by the token, never given (footnotes 2, 4, 6).
const CONTRIBUTED: Rule = rule(P::Forbidden, P::Forbidden, C::No, C::No);
/// Key material: needed to import, made by the generator.
const MATERIAL: Rule = rule(P::Required, P::Forbidden, C::No, C::No);
/// Optional key material (CRT components).
const MATERIAL_OPT: Rule = rule(P::Optional, P::Forbidden, C::No, C::No);
/// Footnote 11 (and CKA_SENSITIVE's 8): may only become true.
const TO_TRUE: Rule = rule(P::Optional, P::Optional, C::ToTrue, C::ToTrue);
/// Footnote 12 (and CKA_EXTRACTABLE's 8): may only become false.
const TO_FALSE: Rule = rule(P::Optional, P::Optional, C::ToFalse, C::ToFalse);
/// Footnote 10: only the SO sets it true.
const SO_ONLY: Rule = rule(P::Optional, P::Optional, C::SoOnly, C::SoOnly);
/// Required on creation, fixed afterwards.
const IDENTITY: Rule = rule(P::Required, P::Optional, C::No, C::No);

/// How an attribute type relates to an object type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// An attribute of this object type.
    Rule(Rule),
    /// A PKCS#11 attribute, but not one of this object type:
    /// CKR_TEMPLATE_INCONSISTENT on creation (§4.1.1 item 5).
    NotForClass,
    /// Unknown to us, or vendor-defined where we do not keep those:
    /// CKR_ATTRIBUTE_TYPE_INVALID.
    Unsupported,
}

/// Classifies `ty` for an object of `class` (with `key_type` for keys).
/// Vendor attributes are kept on certificates and data objects (NSS puts
/// CKA_NSS_* on the certificates it imports) and may change there.
pub(crate) fn classify(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    ty: CK_ATTRIBUTE_TYPE,
) -> Fit {
    if let Some(r) = rule_for(class, key_type, ty) {
        return Fit::Rule(r);
    }
    // Keyward's lifecycle attributes: kept by the token, never set by a
    // template or C_SetAttributeValue (CKR_ATTRIBUTE_READ_ONLY).
    if crate::lifecycle::is_lifecycle_attribute(ty) {
        return if crate::lifecycle::has_lifecycle(class) {
            Fit::Rule(CONTRIBUTED)
        } else {
            Fit::Unsupported
        };
    }
    if attrs::is_vendor(ty) {
        return if matches!(class, CKO_DATA | CKO_CERTIFICATE) {
            Fit::Rule(MUTABLE)
        } else {
            Fit::Unsupported
        };
    }
    match attrs::kind(ty) {
        None => Fit::Unsupported,
        Some(_) => Fit::NotForClass,
    }
}

fn rule_for(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    if ty == CKA_CLASS {
        return Some(IDENTITY);
    }
    if let Some(r) = storage(ty) {
        return Some(r);
    }
    match class {
        CKO_DATA => data(ty),
        CKO_CERTIFICATE => certificate(ty),
        CKO_PUBLIC_KEY => key(ty)
            .or_else(|| public_key(ty))
            .or_else(|| public_material(key_type, ty)),
        CKO_PRIVATE_KEY => key(ty)
            .or_else(|| private_key(ty))
            .or_else(|| private_material(key_type, ty)),
        CKO_SECRET_KEY => key(ty)
            .or_else(|| secret_key(ty))
            .or_else(|| secret_material(ty)),
        CKO_PROFILE => profile(ty),
        CKO_DOMAIN_PARAMETERS => domain_parameters(key_type, ty),
        _ => None,
    }
}

/// §4.12 and the DSA / DH sections: domain parameter objects. The key
/// type is given on creation and contributed by the generating mechanism
/// (which CKA_PRIME_BITS drives); the values are given on creation and
/// contributed by generation (footnotes 1, 4), CKA_PRIME_BITS the other
/// way round (footnotes 2, 3). Nothing changes afterwards.
fn domain_parameters(key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    let bits = rule(P::Forbidden, P::Required, C::No, C::No);
    Some(match (key_type, ty) {
        (_, CKA_KEY_TYPE) => rule(P::Required, P::Optional, C::No, C::No),
        (_, CKA_LOCAL) => CONTRIBUTED,
        (CKK_DSA, CKA_PRIME | CKA_SUBPRIME | CKA_BASE) => MATERIAL,
        (CKK_DH, CKA_PRIME | CKA_BASE) => MATERIAL,
        (CKK_DSA | CKK_DH, CKA_PRIME_BITS) => bits,
        _ => return None,
    })
}

/// The domain parameter object types we hold.
pub(crate) fn supported_domain_parameters(key_type: CK_KEY_TYPE) -> bool {
    matches!(key_type, CKK_DSA | CKK_DH)
}

/// DSA and DH public keys: the domain parameters are given on import and
/// in the generation template (footnotes 1, 3), y on import only.
fn ff_public(key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    let domain = rule(P::Required, P::Required, C::No, C::No);
    Some(match (key_type, ty) {
        (CKK_DSA, CKA_PRIME | CKA_SUBPRIME | CKA_BASE) => domain,
        (CKK_DH, CKA_PRIME | CKA_BASE) => domain,
        (CKK_DSA | CKK_DH, CKA_VALUE) => MATERIAL,
        _ => return None,
    })
}

/// DSA and DH private keys: everything given on import and contributed
/// on generation (footnotes 1, 4, 6). A DH key's CKA_VALUE_BITS is
/// computed on import and may be asked for on generation (footnote 2).
fn ff_private(key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match (key_type, ty) {
        (CKK_DSA, CKA_PRIME | CKA_SUBPRIME | CKA_BASE | CKA_VALUE) => MATERIAL,
        (CKK_DH, CKA_PRIME | CKA_BASE | CKA_VALUE) => MATERIAL,
        (CKK_DH, CKA_VALUE_BITS) => rule(P::Forbidden, P::Optional, C::No, C::No),
        _ => return None,
    })
}

/// §4.4: CKA_TOKEN, CKA_PRIVATE and CKA_MODIFIABLE change only by copying;
/// CKA_LABEL is the one freely modifiable; CKA_COPYABLE can't become true
/// again; CKA_DESTROYABLE has no footnote 8 (read-only) but a copy may
/// choose its own.
fn storage(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    let copy_only = rule(P::Optional, P::Optional, C::No, C::Any);
    Some(match ty {
        CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_DESTROYABLE => copy_only,
        CKA_LABEL => MUTABLE,
        CKA_COPYABLE => TO_FALSE,
        CKA_UNIQUE_ID => CONTRIBUTED,
        _ => return None,
    })
}

/// §4.5: data objects belong to their application; all three may change.
fn data(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    match ty {
        CKA_APPLICATION | CKA_OBJECT_ID | CKA_VALUE => Some(MUTABLE),
        _ => None,
    }
}

/// §4.13: profile objects, made by the token and never changed.
fn profile(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    (ty == CKA_PROFILE_ID).then_some(FIXED)
}

/// §4.6.1–4.6.3 (X.509 public-key certificates): only CKA_ID, CKA_ISSUER
/// and CKA_SERIAL_NUMBER (and the label) may be modified.
fn certificate(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_CERTIFICATE_TYPE | CKA_SUBJECT | CKA_VALUE => IDENTITY,
        CKA_TRUSTED => SO_ONLY,
        CKA_ID | CKA_ISSUER | CKA_SERIAL_NUMBER => MUTABLE,
        CKA_CERTIFICATE_CATEGORY
        | CKA_CHECK_VALUE
        | CKA_START_DATE
        | CKA_END_DATE
        | CKA_PUBLIC_KEY_INFO
        | CKA_URL
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM => FIXED,
        _ => return None,
    })
}

/// §4.7: common key attributes.
fn key(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_KEY_TYPE => IDENTITY,
        CKA_ID | CKA_START_DATE | CKA_END_DATE | CKA_DERIVE => MUTABLE,
        CKA_LOCAL | CKA_KEY_GEN_MECHANISM => CONTRIBUTED,
        CKA_ALLOWED_MECHANISMS => FIXED,
        _ => return None,
    })
}

/// §4.8: public keys. CKA_PUBLIC_KEY_INFO is derived from the key and may
/// be given only if it matches. The nested templates (here and on private
/// and secret keys) carry no footnote 8: given when the key is made,
/// read-only afterwards.
fn public_key(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_SUBJECT | CKA_ENCRYPT | CKA_VERIFY | CKA_VERIFY_RECOVER | CKA_WRAP => MUTABLE,
        CKA_TRUSTED => SO_ONLY,
        CKA_PUBLIC_KEY_INFO | CKA_WRAP_TEMPLATE => FIXED,
        _ => return None,
    })
}

/// §4.9: private keys.
fn private_key(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_SUBJECT | CKA_DECRYPT | CKA_SIGN | CKA_SIGN_RECOVER | CKA_UNWRAP => MUTABLE,
        CKA_SENSITIVE | CKA_WRAP_WITH_TRUSTED => TO_TRUE,
        CKA_EXTRACTABLE => TO_FALSE,
        CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE => CONTRIBUTED,
        CKA_ALWAYS_AUTHENTICATE
        | CKA_PUBLIC_KEY_INFO
        | CKA_UNWRAP_TEMPLATE
        | CKA_DERIVE_TEMPLATE => FIXED,
        _ => return None,
    })
}

/// §4.10: secret keys. CKA_CHECK_VALUE is accepted and dropped: computing
/// it needs the cipher, and a stored unverified one would be worse.
fn secret_key(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_ENCRYPT | CKA_DECRYPT | CKA_SIGN | CKA_VERIFY | CKA_WRAP | CKA_UNWRAP => MUTABLE,
        CKA_SENSITIVE | CKA_WRAP_WITH_TRUSTED => TO_TRUE,
        CKA_EXTRACTABLE => TO_FALSE,
        CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE => CONTRIBUTED,
        CKA_TRUSTED => SO_ONLY,
        CKA_CHECK_VALUE | CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE => FIXED,
        _ => return None,
    })
}

/// Whether `key_type` is one of the elliptic-curve key types, which share
/// their attributes (CKA_EC_PARAMS, CKA_EC_POINT, CKA_VALUE): Weierstrass
/// (ECDSA/ECDH), Edwards (EdDSA) and Montgomery (X25519).
pub(crate) fn is_ec_family(key_type: CK_KEY_TYPE) -> bool {
    matches!(key_type, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)
}

/// Mechanisms spec: RSA public key (CKA_MODULUS_BITS is computed on import,
/// required on generation) and the EC-family public keys.
fn public_material(key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    if key_type == CKK_ML_DSA {
        return ml_dsa_public(ty);
    }
    if key_type == CKK_SLH_DSA {
        return slh_dsa_material(ty);
    }
    if key_type == CKK_ML_KEM {
        return ml_kem_material(CKO_PUBLIC_KEY, ty);
    }
    if matches!(key_type, CKK_DSA | CKK_DH) {
        return ff_public(key_type, ty);
    }
    if is_ec_family(key_type) {
        return match ty {
            CKA_EC_PARAMS => Some(rule(P::Required, P::Required, C::No, C::No)),
            CKA_EC_POINT => Some(MATERIAL),
            _ => None,
        };
    }
    Some(match (key_type, ty) {
        (CKK_RSA, CKA_MODULUS) => MATERIAL,
        (CKK_RSA, CKA_MODULUS_BITS) => rule(P::Forbidden, P::Required, C::No, C::No),
        (CKK_RSA, CKA_PUBLIC_EXPONENT) => rule(P::Required, P::Optional, C::No, C::No),
        _ => return None,
    })
}

/// Mechanisms spec: RSA and EC-family private keys. The public exponent
/// is required on import (footnote 4,6 only in the spec) because the key
/// cannot be checked without it. CKA_EC_POINT on an EC private key is our
/// addition (clients look for the public half there); on import it may be
/// given if it matches.
fn private_material(key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    if key_type == CKK_ML_DSA {
        return ml_dsa_private(ty);
    }
    if key_type == CKK_SLH_DSA {
        return slh_dsa_private(ty);
    }
    if key_type == CKK_ML_KEM {
        return ml_kem_material(CKO_PRIVATE_KEY, ty);
    }
    if matches!(key_type, CKK_DSA | CKK_DH) {
        return ff_private(key_type, ty);
    }
    if is_ec_family(key_type) {
        return match ty {
            CKA_EC_PARAMS | CKA_VALUE => Some(MATERIAL),
            CKA_EC_POINT => Some(MATERIAL_OPT),
            _ => None,
        };
    }
    Some(match (key_type, ty) {
        (CKK_RSA, CKA_MODULUS | CKA_PUBLIC_EXPONENT | CKA_PRIVATE_EXPONENT) => MATERIAL,
        (
            CKK_RSA,
            CKA_PRIME_1 | CKA_PRIME_2 | CKA_EXPONENT_1 | CKA_EXPONENT_2 | CKA_COEFFICIENT,
        ) => MATERIAL_OPT,
        _ => return None,
    })
}

/// PKCS#11 3.2 §6.67: an ML-DSA public key names its parameter set
/// (also on generation, where it chooses the pair's) and holds the
/// encoded key in CKA_VALUE.
fn ml_dsa_public(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_PARAMETER_SET => rule(P::Required, P::Required, C::No, C::No),
        CKA_VALUE => MATERIAL,
        _ => return None,
    })
}

/// PKCS#11 3.2 §6.67: an ML-DSA private key. The spec lets a token
/// refuse a key given in only one form; we hold the seed (CKA_SEED,
/// required on import) and rebuild the expanded key from it, so an
/// expanded CKA_VALUE may come beside the seed (checked against it) but
/// is not kept. The parameter set is contributed on generation.
fn ml_dsa_private(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_PARAMETER_SET | CKA_SEED => MATERIAL,
        CKA_VALUE => MATERIAL_OPT,
        _ => return None,
    })
}

/// PKCS#11 3.2 "SLH-DSA public key objects": the parameter set (also on
/// generation, where it chooses the pair's) and the key in CKA_VALUE.
fn slh_dsa_material(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    ml_dsa_public(ty)
}

/// PKCS#11 3.2 "SLH-DSA private key objects": CKA_PARAMETER_SET and
/// CKA_VALUE (the FIPS 205 private key, the form kept), both required on
/// import and contributed on generation (footnotes 1, 4, 6, 7).
fn slh_dsa_private(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_PARAMETER_SET | CKA_VALUE => MATERIAL,
        _ => return None,
    })
}

/// PKCS#11 3.2 "ML-KEM": CKA_PARAMETER_SET is given with a public key
/// (on import and in the generation template; footnotes 1, 3) and is
/// contributed to the private key on generation. The public key is
/// CKA_VALUE (ek). A private key is imported from CKA_SEED (d||z), the
/// form the token keeps; CKA_VALUE (the expanded dk) may come with it
/// and must then match the seed's expansion (the spec lets a token
/// refuse a dk-only import). CKA_ENCAPSULATE / CKA_DECAPSULATE are the
/// keys' usage flags (footnote 8); CKA_ENCAPSULATE_TEMPLATE /
/// CKA_DECAPSULATE_TEMPLATE restrict the keys they make, fixed once given
/// (as the wrap/unwrap/derive templates).
fn ml_kem_material(class: CK_OBJECT_CLASS, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match (class, ty) {
        (CKO_PUBLIC_KEY, CKA_PARAMETER_SET) => rule(P::Required, P::Required, C::No, C::No),
        (CKO_PUBLIC_KEY, CKA_VALUE) => MATERIAL,
        (CKO_PUBLIC_KEY, CKA_ENCAPSULATE) => MUTABLE,
        (CKO_PUBLIC_KEY, CKA_ENCAPSULATE_TEMPLATE) => FIXED,
        (CKO_PRIVATE_KEY, CKA_PARAMETER_SET) => rule(P::Required, P::Forbidden, C::No, C::No),
        (CKO_PRIVATE_KEY, CKA_SEED) => MATERIAL,
        (CKO_PRIVATE_KEY, CKA_VALUE) => MATERIAL_OPT,
        (CKO_PRIVATE_KEY, CKA_DECAPSULATE) => MUTABLE,
        (CKO_PRIVATE_KEY, CKA_DECAPSULATE_TEMPLATE) => FIXED,
        _ => return None,
    })
}

/// Mechanisms spec: secret keys (AES, generic, HKDF, HMAC-typed).
/// CKA_VALUE_LEN must not be given on import (footnote 2) and must be on
/// generation (footnote 3).
fn secret_material(ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
    Some(match ty {
        CKA_VALUE => MATERIAL,
        CKA_VALUE_LEN => rule(P::Forbidden, P::Required, C::No, C::No),
        _ => return None,
    })
}

/// Every attribute type some object type requires; [`required`] filters it
/// through the table (a test checks nothing is missing).
const MAYBE_REQUIRED: [CK_ATTRIBUTE_TYPE; 18] = [
    CKA_CLASS,
    CKA_CERTIFICATE_TYPE,
    CKA_SUBJECT,
    CKA_VALUE,
    CKA_KEY_TYPE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_VALUE_LEN,
    CKA_PARAMETER_SET,
    CKA_SEED,
    CKA_PRIME,
    CKA_SUBPRIME,
    CKA_BASE,
    CKA_PRIME_BITS,
];

/// The attributes a template must give to create (`create`) or generate an
/// object of this type (footnotes 1 and 3).
pub(crate) fn required(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    create: bool,
) -> Vec<CK_ATTRIBUTE_TYPE> {
    MAYBE_REQUIRED
        .into_iter()
        .filter(|ty| {
            rule_for(class, key_type, *ty).is_some_and(|r| {
                let p = if create { r.create } else { r.generate };
                p == Presence::Required
            })
        })
        .collect()
}

/// The HMAC-typed secret keys (usable with their own HMAC mechanism, as a
/// generic secret is with any).
pub(crate) fn is_hmac_key_type(key_type: CK_KEY_TYPE) -> bool {
    matches!(
        key_type,
        CKK_SHA_1_HMAC
            | CKK_SHA224_HMAC
            | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC
            | CKK_SHA512_HMAC
            | CKK_SHA3_224_HMAC
            | CKK_SHA3_256_HMAC
            | CKK_SHA3_384_HMAC
            | CKK_SHA3_512_HMAC
    )
}

/// The key object types we can hold.
pub(crate) fn supported_key(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> bool {
    match class {
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY => {
            matches!(
                key_type,
                CKK_RSA | CKK_ML_DSA | CKK_ML_KEM | CKK_SLH_DSA | CKK_DSA | CKK_DH
            ) || is_ec_family(key_type)
        }
        CKO_SECRET_KEY => {
            matches!(
                key_type,
                CKK_AES | CKK_GENERIC_SECRET | CKK_HKDF | CKK_CHACHA20 | CKK_POLY1305 | CKK_SALSA20
            ) || is_hmac_key_type(key_type)
        }
        _ => false,
    }
}

/// Whether `class` is one of the key classes.
pub(crate) fn is_key_class(class: CK_OBJECT_CLASS) -> bool {
    matches!(class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let r = |c, k, t| classify(c, k, t);
        assert_eq!(r(CKO_SECRET_KEY, CKK_AES, CKA_LABEL), Fit::Rule(MUTABLE));
        assert_eq!(r(CKO_SECRET_KEY, CKK_AES, CKA_MODULUS), Fit::NotForClass);
        for ty in [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            assert_eq!(r(CKO_SECRET_KEY, CKK_AES, ty), Fit::Rule(FIXED));
        }
        assert_eq!(
            r(CKO_PUBLIC_KEY, CKK_RSA, CKA_WRAP_TEMPLATE),
            Fit::Rule(FIXED)
        );
        for ty in [CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE] {
            assert_eq!(r(CKO_PRIVATE_KEY, CKK_EC, ty), Fit::Rule(FIXED));
            assert_eq!(r(CKO_PUBLIC_KEY, CKK_EC, ty), Fit::NotForClass);
        }
        assert_eq!(
            r(CKO_PRIVATE_KEY, CKK_RSA, CKA_WRAP_TEMPLATE),
            Fit::NotForClass
        );
        assert_eq!(r(CKO_DATA, 0, CKA_WRAP_TEMPLATE), Fit::NotForClass);
        assert_eq!(r(CKO_SECRET_KEY, CKK_AES, 0x7777), Fit::Unsupported);
        assert_eq!(
            r(CKO_SECRET_KEY, CKK_AES, CKA_VENDOR_DEFINED + 1),
            Fit::Unsupported
        );
        assert_eq!(
            r(CKO_CERTIFICATE, CKC_X_509, CKA_VENDOR_DEFINED + 1),
            Fit::Rule(MUTABLE)
        );
        assert_eq!(r(CKO_DATA, 0, CKA_KEY_TYPE), Fit::NotForClass);
        assert_eq!(r(CKO_PUBLIC_KEY, CKK_EC, CKA_MODULUS), Fit::NotForClass);
        assert_eq!(
            r(CKO_PRIVATE_KEY, CKK_RSA, CKA_PRIME_1),
            Fit::Rule(MATERIAL_OPT)
        );
        assert_eq!(r(CKO_PUBLIC_KEY, CKK_RSA, CKA_SENSITIVE), Fit::NotForClass);
    }

    #[test]
    fn required_lists_are_complete() {
        let types = (0..0x800).chain([CKA_ALLOWED_MECHANISMS, CKA_WRAP_TEMPLATE]);
        let objects = [
            (CKO_DATA, 0),
            (CKO_CERTIFICATE, 0),
            (CKO_PUBLIC_KEY, CKK_RSA),
            (CKO_PUBLIC_KEY, CKK_EC),
            (CKO_PRIVATE_KEY, CKK_RSA),
            (CKO_PRIVATE_KEY, CKK_EC),
            (CKO_SECRET_KEY, CKK_AES),
            (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
            (CKO_SECRET_KEY, CKK_HKDF),
            (CKO_PUBLIC_KEY, CKK_EC_EDWARDS),
            (CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY),
            (CKO_PROFILE, 0),
        ];
        for ty in types {
            for (class, kt) in objects {
                if let Some(r) = rule_for(class, kt, ty) {
                    let needed = r.create == Presence::Required || r.generate == Presence::Required;
                    assert!(!needed || MAYBE_REQUIRED.contains(&ty), "{ty:#x}");
                }
            }
        }
        assert_eq!(
            required(CKO_PUBLIC_KEY, CKK_RSA, true),
            vec![CKA_CLASS, CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT]
        );
        assert_eq!(
            required(CKO_PUBLIC_KEY, CKK_RSA, false),
            vec![CKA_MODULUS_BITS]
        );
        assert_eq!(
            required(CKO_SECRET_KEY, CKK_AES, false),
            vec![CKA_VALUE_LEN]
        );
        assert_eq!(
            required(CKO_CERTIFICATE, 0, true),
            vec![CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_SUBJECT, CKA_VALUE]
        );
    }

    #[test]
    fn supported() {
        assert!(supported_key(CKO_SECRET_KEY, CKK_AES));
        assert!(!supported_key(CKO_SECRET_KEY, CKK_RSA));
        assert!(supported_key(CKO_PRIVATE_KEY, CKK_DSA));
        assert!(!supported_key(CKO_PRIVATE_KEY, CKK_X9_42_DH));
        assert!(!supported_key(CKO_SECRET_KEY, CKK_DH));
        for kt in [
            CKK_HKDF,
            CKK_SHA256_HMAC,
            CKK_SHA3_224_HMAC,
            CKK_SHA3_512_HMAC,
        ] {
            assert!(supported_key(CKO_SECRET_KEY, kt));
            assert!(!supported_key(CKO_PRIVATE_KEY, kt));
        }
        for kt in [CKK_EC_EDWARDS, CKK_EC_MONTGOMERY] {
            assert!(supported_key(CKO_PUBLIC_KEY, kt) && supported_key(CKO_PRIVATE_KEY, kt));
            assert!(!supported_key(CKO_SECRET_KEY, kt));
        }
        assert!(!supported_key(CKO_PROFILE, CKK_AES));
    }

    #[test]
    fn new_key_types_and_profiles() {
        for kt in [CKK_EC_EDWARDS, CKK_EC_MONTGOMERY] {
            assert_eq!(
                required(CKO_PUBLIC_KEY, kt, true),
                vec![CKA_CLASS, CKA_KEY_TYPE, CKA_EC_PARAMS, CKA_EC_POINT]
            );
            assert_eq!(required(CKO_PUBLIC_KEY, kt, false), vec![CKA_EC_PARAMS]);
            assert_eq!(
                required(CKO_PRIVATE_KEY, kt, true),
                vec![CKA_CLASS, CKA_VALUE, CKA_KEY_TYPE, CKA_EC_PARAMS]
            );
            assert_eq!(
                classify(CKO_PRIVATE_KEY, kt, CKA_EC_POINT),
                Fit::Rule(MATERIAL_OPT)
            );
            assert_eq!(classify(CKO_PUBLIC_KEY, kt, CKA_MODULUS), Fit::NotForClass);
        }
        assert_eq!(
            required(CKO_SECRET_KEY, CKK_HKDF, false),
            vec![CKA_VALUE_LEN]
        );
        assert_eq!(
            classify(CKO_PROFILE, NO_TYPE, CKA_PROFILE_ID),
            Fit::Rule(FIXED)
        );
        assert_eq!(
            classify(CKO_PROFILE, NO_TYPE, CKA_LABEL),
            Fit::Rule(MUTABLE)
        );
        assert_eq!(classify(CKO_PROFILE, NO_TYPE, CKA_VALUE), Fit::NotForClass);
        assert_eq!(
            classify(CKO_DATA, NO_TYPE, CKA_PROFILE_ID),
            Fit::NotForClass
        );
    }

    #[test]
    fn ml_dsa_attributes() {
        assert!(supported_key(CKO_PUBLIC_KEY, CKK_ML_DSA));
        assert!(supported_key(CKO_PRIVATE_KEY, CKK_ML_DSA));
        assert!(!supported_key(CKO_SECRET_KEY, CKK_ML_DSA));
        assert_eq!(
            required(CKO_PUBLIC_KEY, CKK_ML_DSA, true),
            vec![CKA_CLASS, CKA_VALUE, CKA_KEY_TYPE, CKA_PARAMETER_SET]
        );
        assert_eq!(
            required(CKO_PUBLIC_KEY, CKK_ML_DSA, false),
            vec![CKA_PARAMETER_SET]
        );
        assert_eq!(
            required(CKO_PRIVATE_KEY, CKK_ML_DSA, true),
            vec![CKA_CLASS, CKA_KEY_TYPE, CKA_PARAMETER_SET, CKA_SEED]
        );
        assert!(required(CKO_PRIVATE_KEY, CKK_ML_DSA, false).is_empty());
        assert_eq!(
            classify(CKO_PRIVATE_KEY, CKK_ML_DSA, CKA_VALUE),
            Fit::Rule(MATERIAL_OPT)
        );
        assert_eq!(
            classify(CKO_PUBLIC_KEY, CKK_ML_DSA, CKA_SEED),
            Fit::NotForClass
        );
        assert_eq!(
            classify(CKO_PRIVATE_KEY, CKK_ML_DSA, CKA_EC_PARAMS),
            Fit::NotForClass
        );
    }

    const NO_TYPE: CK_KEY_TYPE = CK_UNAVAILABLE_INFORMATION;
}
