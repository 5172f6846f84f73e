//! Template rules for C_CreateObject, C_CopyObject and C_SetAttributeValue
//! (spec §4.1 and §5.7), and the pieces the key generation rules in
//! `keygen.rs` share: template checks against the per-class table,
//! defaults, and the values the token contributes.
//!
//! Error codes follow §4.1.1: an attribute we do not know (or a vendor
//! attribute outside certificates and data objects) is
//! CKR_ATTRIBUTE_TYPE_INVALID; a PKCS#11 attribute of another class is
//! CKR_TEMPLATE_INCONSISTENT; an attribute the token contributes
//! (footnotes 2/4) is CKR_ATTRIBUTE_READ_ONLY unless the template gives
//! exactly the value the token contributes (item 6 lets that succeed);
//! a missing required one is CKR_TEMPLATE_INCOMPLETE; an unsupported
//! class, certificate type or key type is CKR_ATTRIBUTE_VALUE_INVALID (as
//! SoftHSM and Kryoptic answer).

use cryptoki_sys::*;

use super::attrs::{self, AttrMap};
use super::rules::{self, Change, Fit, Presence, Rule};
use super::{Object, material};
use crate::error::{Error, Result};
use crate::mechanism::{self, HashAlg};

pub use super::derive::{
    DeriveRequest, derive_request, derived_from_keys, derived_secret_key, kem_history,
    protect_like_base, protection_defaults_from_base,
};
pub use super::keygen::{
    GeneratedPair, KeyPairRequest, SecretKeyRequest, generated_key_pair, generated_secret_key,
    key_pair_request, secret_key_request,
};
pub use super::material::key_material;
pub use super::profile::profile_object;
pub use super::wrap::{
    unwrap_check, unwrapped_key, with_derive_template, with_unwrap_template, wrap_check,
    wrap_encoding,
};

/// Which creating function a template is for. Derivation and unwrapping
/// follow the generation column of the table (the token supplies the key
/// material), except that CKA_VALUE_LEN is optional: the mechanism or the
/// unwrapped bytes give the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Generate,
    Derive,
    Unwrap,
}

impl Mode {
    fn presence(self, r: Rule) -> Presence {
        match self {
            Mode::Create => r.create,
            Mode::Generate | Mode::Derive | Mode::Unwrap => r.generate,
        }
    }

    /// Whether a required attribute may be left out in this mode.
    fn excuses(self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        matches!(self, Mode::Derive | Mode::Unwrap) && ty == CKA_VALUE_LEN
    }
}

/// Placeholder "key type" for classes without one.
pub(crate) const NO_KEY_TYPE: CK_KEY_TYPE = CK_UNAVAILABLE_INFORMATION;

/// An integer from a canonical template; malformed is a bad value.
pub(crate) fn tpl_ulong(t: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Result<Option<CK_ULONG>> {
    t.get(&ty)
        .map(|v| attrs::decode_ulong(v).ok_or(Error::AttributeValueInvalid))
        .transpose()
}

/// A boolean from a canonical template; malformed is a bad value.
pub(crate) fn tpl_bool(t: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Result<Option<bool>> {
    t.get(&ty)
        .map(|v| attrs::decode_bool(v).ok_or(Error::AttributeValueInvalid))
        .transpose()
}

/// A value the creating function fixes (class, key type): the template
/// may repeat it but not contradict it.
pub(crate) fn expect_ulong(t: &AttrMap, ty: CK_ATTRIBUTE_TYPE, want: CK_ULONG) -> Result<()> {
    match tpl_ulong(t, ty)? {
        Some(v) if v != want => Err(Error::TemplateInconsistent),
        _ => Ok(()),
    }
}

/// Contributed attributes a template may still give, provided it gives
/// the contributed value; checked by [`check_contributed`] once the object
/// is built. Key material and CKA_UNIQUE_ID are never in this list.
fn deferred(mode: Mode, ty: CK_ATTRIBUTE_TYPE) -> bool {
    match ty {
        CKA_LOCAL | CKA_KEY_GEN_MECHANISM | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE => true,
        CKA_VALUE_LEN | CKA_MODULUS_BITS => mode == Mode::Create,
        // Computed from the values on creation (domain parameters, DH
        // private keys): may be repeated if right.
        CKA_PRIME_BITS | CKA_VALUE_BITS => mode == Mode::Create,
        CKA_EC_PARAMS | CKA_PARAMETER_SET => matches!(mode, Mode::Generate | Mode::Unwrap),
        // A DSA/DH private template may repeat the public template's
        // domain parameters.
        CKA_PRIME | CKA_SUBPRIME | CKA_BASE => mode == Mode::Generate,
        _ => false,
    }
}

/// Value checks beyond the shape the codec already checked.
fn check_value(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<()> {
    attrs::check_canonical(ty, v)?;
    let in_range = |max: CK_ULONG| match attrs::decode_ulong(v) {
        Some(x) if x <= max => Ok(()),
        _ => Err(Error::AttributeValueInvalid),
    };
    match ty {
        CKA_CERTIFICATE_CATEGORY => in_range(CK_CERTIFICATE_CATEGORY_OTHER_ENTITY),
        CKA_JAVA_MIDP_SECURITY_DOMAIN => in_range(CK_SECURITY_DOMAIN_THIRD_PARTY),
        _ => Ok(()),
    }
}

/// Checks a creating template against the table for its object type:
/// every attribute known and of this class, nothing the token contributes
/// (beyond the deferred ones), CKA_TRUSTED=true only from the SO
/// (footnote 10), and everything required present.
pub(crate) fn check_template(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    template: &AttrMap,
    mode: Mode,
    so: bool,
) -> Result<()> {
    for (ty, v) in template {
        match rules::classify(class, key_type, *ty) {
            Fit::Unsupported => return Err(Error::AttributeTypeInvalid),
            Fit::NotForClass => return Err(Error::TemplateInconsistent),
            Fit::Rule(r) => {
                if mode.presence(r) == Presence::Forbidden && !deferred(mode, *ty) {
                    return Err(Error::AttributeReadOnly);
                }
            }
        }
        check_value(*ty, v)?;
    }
    if !so && tpl_bool(template, CKA_TRUSTED)? == Some(true) {
        return Err(Error::AttributeReadOnly);
    }
    let missing = rules::required(class, key_type, mode == Mode::Create)
        .into_iter()
        .any(|ty| !mode.excuses(ty) && !template.contains_key(&ty));
    if missing {
        return Err(Error::TemplateIncomplete);
    }
    Ok(())
}

/// Usage flags a key gets when the template does not say (footnote 9
/// leaves them token-specific): true for what the key type can do
/// (SoftHSM makes them all true, so minimal import templates work),
/// false otherwise. CKA_DERIVE defaults true only where derivation is
/// the key's purpose or one of its two uses: EC and X25519 private keys
/// (ECDH) and HKDF keys. A generic secret can be an HKDF base too, but
/// stays a MAC key by default. CKA_SIGN_RECOVER and CKA_VERIFY_RECOVER
/// default false.
fn usage_default(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE, ty: CK_ATTRIBUTE_TYPE) -> bool {
    let mac_key = key_type == CKK_GENERIC_SECRET || rules::is_hmac_key_type(key_type);
    match ty {
        CKA_ENCRYPT | CKA_DECRYPT | CKA_WRAP | CKA_UNWRAP => {
            matches!(key_type, CKK_RSA | CKK_AES | CKK_CHACHA20 | CKK_SALSA20)
        }
        CKA_SIGN | CKA_VERIFY => {
            matches!(
                key_type,
                CKK_RSA
                    | CKK_EC
                    | CKK_EC_EDWARDS
                    | CKK_ML_DSA
                    | CKK_SLH_DSA
                    | CKK_POLY1305
                    | CKK_DSA
            ) || mac_key
        }
        CKA_DERIVE => match class {
            CKO_PRIVATE_KEY => matches!(key_type, CKK_EC | CKK_EC_MONTGOMERY | CKK_DH),
            CKO_SECRET_KEY => key_type == CKK_HKDF,
            _ => false,
        },
        _ => false,
    }
}

/// An object of the given type holding every attribute of its class at its
/// default. CKA_PRIVATE defaults to true for private and secret keys and
/// false otherwise (certificates must be visible before login). Private
/// and secret keys default to CKA_SENSITIVE=true and CKA_EXTRACTABLE=false
/// (token-specific per footnote 9; we choose the safe side). Imported keys
/// keep CKA_LOCAL, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE false
/// and CKA_KEY_GEN_MECHANISM unavailable (§5.7 C_CreateObject).
pub(crate) fn base_object(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> Object {
    let mut o = Object::default();
    o.put_ulong(CKA_CLASS, class);
    for (ty, v) in [
        (CKA_TOKEN, false),
        (CKA_MODIFIABLE, true),
        (CKA_COPYABLE, true),
    ] {
        o.put_bool(ty, v);
    }
    o.put_bool(CKA_DESTROYABLE, true);
    o.put_bool(
        CKA_PRIVATE,
        matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY),
    );
    o.put(CKA_LABEL, Vec::new());
    match class {
        CKO_DATA => {
            for ty in [CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE] {
                o.put(ty, Vec::new());
            }
        }
        CKO_CERTIFICATE => {
            o.put_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
            o.put_bool(CKA_TRUSTED, false);
            o.put_ulong(
                CKA_CERTIFICATE_CATEGORY,
                CK_CERTIFICATE_CATEGORY_UNSPECIFIED,
            );
            o.put_ulong(
                CKA_JAVA_MIDP_SECURITY_DOMAIN,
                CK_SECURITY_DOMAIN_UNSPECIFIED,
            );
            for ty in [
                CKA_START_DATE,
                CKA_END_DATE,
                CKA_PUBLIC_KEY_INFO,
                CKA_ID,
                CKA_ISSUER,
                CKA_SERIAL_NUMBER,
                CKA_URL,
                CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
                CKA_HASH_OF_ISSUER_PUBLIC_KEY,
            ] {
                o.put(ty, Vec::new());
            }
        }
        _ if rules::is_key_class(class) => key_defaults(&mut o, class, key_type),
        // §4.12: domain parameters are public; CKA_LOCAL says whether the
        // token generated them.
        CKO_DOMAIN_PARAMETERS => {
            o.put_ulong(CKA_KEY_TYPE, key_type);
            o.put_bool(CKA_LOCAL, false);
        }
        _ => {}
    }
    o
}

fn key_defaults(o: &mut Object, class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) {
    o.put_ulong(CKA_KEY_TYPE, key_type);
    for ty in [CKA_ID, CKA_START_DATE, CKA_END_DATE] {
        o.put(ty, Vec::new());
    }
    o.put_bool(CKA_DERIVE, usage_default(class, key_type, CKA_DERIVE));
    o.put_bool(CKA_LOCAL, false);
    o.put_ulong(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    let usage: &[CK_ATTRIBUTE_TYPE] = match class {
        CKO_PUBLIC_KEY => &[CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP],
        CKO_PRIVATE_KEY => &[CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP],
        _ => &[
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
        ],
    };
    for ty in usage {
        o.put_bool(*ty, usage_default(class, key_type, *ty));
    }
    // PKCS#11 3.2: an ML-KEM key's one use, on by default.
    if key_type == CKK_ML_KEM {
        match class {
            CKO_PUBLIC_KEY => o.put_bool(CKA_ENCAPSULATE, true),
            CKO_PRIVATE_KEY => o.put_bool(CKA_DECAPSULATE, true),
            _ => {}
        }
    }
    if class == CKO_PUBLIC_KEY {
        o.put(CKA_SUBJECT, Vec::new());
        o.put_bool(CKA_VERIFY_RECOVER, false);
        o.put_bool(CKA_TRUSTED, false);
        return;
    }
    o.put_bool(CKA_SENSITIVE, true);
    o.put_bool(CKA_EXTRACTABLE, false);
    o.put_bool(CKA_ALWAYS_SENSITIVE, false);
    o.put_bool(CKA_NEVER_EXTRACTABLE, false);
    o.put_bool(CKA_WRAP_WITH_TRUSTED, false);
    if class == CKO_PRIVATE_KEY {
        o.put(CKA_SUBJECT, Vec::new());
        o.put_bool(CKA_SIGN_RECOVER, false);
        o.put_bool(CKA_ALWAYS_AUTHENTICATE, false);
    } else {
        o.put_bool(CKA_TRUSTED, false);
    }
}

/// Copies the template's values onto a base object, except those the
/// token contributes (compared later) and a secret key's CKA_CHECK_VALUE
/// (dropped: see rules.rs).
pub(crate) fn apply(obj: &mut Object, template: &AttrMap, key_type: CK_KEY_TYPE, mode: Mode) {
    let class = obj.class();
    for (ty, v) in template {
        let contributed = matches!(
            rules::classify(class, key_type, *ty),
            Fit::Rule(r) if mode.presence(r) == Presence::Forbidden
        );
        let dropped = class == CKO_SECRET_KEY && *ty == CKA_CHECK_VALUE;
        if !contributed && !dropped {
            obj.put(*ty, v.clone());
        }
    }
    if matches!(class, CKO_SECRET_KEY | CKO_PRIVATE_KEY) {
        one_purpose_defaults(obj, template);
    }
}

/// Usage defaults that keep wrapping and encryption apart
/// (docs/KEY-SEPARATION.md): a secret or private key whose template asks
/// for CKA_WRAP or CKA_UNWRAP (and not CKA_ENCRYPT or CKA_DECRYPT) is a
/// wrapping key, and CKA_ENCRYPT/CKA_DECRYPT the template leaves out
/// default to false; any other key gets CKA_WRAP/CKA_UNWRAP false unless
/// the template gives them. Footnote 9 leaves these defaults to the token.
/// A template that asks for both is left as given, for the policy to judge.
/// They hold while the policy's `wrap_separation` does: without it (the
/// `compat` profile) a key gets every use its type has unless the template
/// says otherwise, as SoftHSMv2 and the 2.x-era clients that expect it do
/// (PyKCS11's test_wrapKey wraps with a key made for CKA_ENCRYPT). The
/// simple data derivations are offered exactly when that rule is off.
fn one_purpose_defaults(obj: &mut Object, template: &AttrMap) {
    if crate::mechanism::simple_derive_allowed() {
        return;
    }
    let asks = |tys: [CK_ATTRIBUTE_TYPE; 2]| {
        tys.iter()
            .any(|ty| template.get(ty).and_then(|v| attrs::decode_bool(v)) == Some(true))
    };
    let wrapping = asks([CKA_WRAP, CKA_UNWRAP]);
    let cipher = asks([CKA_ENCRYPT, CKA_DECRYPT]);
    let off = if wrapping && !cipher {
        [CKA_ENCRYPT, CKA_DECRYPT]
    } else {
        [CKA_WRAP, CKA_UNWRAP]
    };
    for ty in off {
        if obj.bytes(ty).is_some() && !template.contains_key(&ty) {
            obj.put_bool(ty, false);
        }
    }
}

/// Checks the deferred contributed attributes a template gave against the
/// values the token contributed. A contradictory length is
/// CKR_TEMPLATE_INCONSISTENT (it contradicts CKA_VALUE or CKA_MODULUS);
/// anything else is CKR_ATTRIBUTE_READ_ONLY.
pub(crate) fn check_contributed(
    obj: &Object,
    template: &AttrMap,
    key_type: CK_KEY_TYPE,
    mode: Mode,
) -> Result<()> {
    let class = obj.class();
    for (ty, v) in template {
        let contributed = matches!(
            rules::classify(class, key_type, *ty),
            Fit::Rule(r) if mode.presence(r) == Presence::Forbidden
        );
        if contributed && obj.bytes(*ty) != Some(v.as_slice()) {
            return Err(match *ty {
                CKA_VALUE_LEN | CKA_MODULUS_BITS | CKA_EC_PARAMS | CKA_PARAMETER_SET
                | CKA_PRIME_BITS | CKA_VALUE_BITS | CKA_PRIME | CKA_SUBPRIME | CKA_BASE => {
                    Error::TemplateInconsistent
                }
                _ => Error::AttributeReadOnly,
            });
        }
    }
    Ok(())
}

/// CKA_UNIQUE_ID (3.0): set by the token, never by the caller; a fresh
/// random 128-bit value in hex for every new object, copies included.
pub(crate) fn assign_unique_id(obj: &mut Object) -> Result<()> {
    let mut raw = [0u8; 16];
    mechanism::random(&mut raw)?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    obj.put(CKA_UNIQUE_ID, hex.into_bytes());
    Ok(())
}

/// X.509 certificate checks (§4.6.3): CKA_VALUE may be empty only when
/// CKA_URL gives the certificate; CKA_CHECK_VALUE is the first three bytes
/// of the SHA-1 of CKA_VALUE and, if given, must match.
fn finish_certificate(obj: &mut Object) -> Result<()> {
    let value = obj.bytes(CKA_VALUE).unwrap_or_default();
    if value.is_empty() {
        if obj.bytes(CKA_URL).unwrap_or_default().is_empty() {
            return Err(Error::AttributeValueInvalid);
        }
        return Ok(());
    }
    let digest = HashAlg::Sha1.hash(value);
    let check = digest.get(..3).ok_or(Error::GeneralError)?.to_vec();
    if obj
        .bytes(CKA_CHECK_VALUE)
        .is_some_and(|given| given != check.as_slice())
    {
        return Err(Error::AttributeValueInvalid);
    }
    obj.put(CKA_CHECK_VALUE, check);
    Ok(())
}

/// The class and type-defining attribute of a C_CreateObject template.
fn object_type(template: &AttrMap) -> Result<(CK_OBJECT_CLASS, CK_KEY_TYPE)> {
    let class = tpl_ulong(template, CKA_CLASS)?.ok_or(Error::TemplateIncomplete)?;
    match class {
        CKO_DATA => Ok((class, NO_KEY_TYPE)),
        CKO_CERTIFICATE => match tpl_ulong(template, CKA_CERTIFICATE_TYPE)? {
            None => Err(Error::TemplateIncomplete),
            Some(CKC_X_509) => Ok((class, NO_KEY_TYPE)),
            Some(_) => Err(Error::AttributeValueInvalid),
        },
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            let key_type = tpl_ulong(template, CKA_KEY_TYPE)?.ok_or(Error::TemplateIncomplete)?;
            if !rules::supported_key(class, key_type) {
                return Err(Error::AttributeValueInvalid);
            }
            Ok((class, key_type))
        }
        CKO_DOMAIN_PARAMETERS => {
            let key_type = tpl_ulong(template, CKA_KEY_TYPE)?.ok_or(Error::TemplateIncomplete)?;
            if !rules::supported_domain_parameters(key_type) {
                return Err(Error::AttributeValueInvalid);
            }
            Ok((class, key_type))
        }
        // Profiles describe the token itself: only the token makes them
        // (see `profile_object`). Other classes we do not hold.
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// C_CreateObject: data objects, X.509 certificates, RSA, EC, Edwards and
/// Montgomery public and private keys, AES, generic, HKDF and HMAC-typed
/// secret keys. Key material is checked with the mechanism constructors
/// and the public parts are filled in. CKO_PROFILE (and any other class)
/// is CKR_ATTRIBUTE_VALUE_INVALID.
pub fn create(template: &AttrMap, so: bool) -> Result<Object> {
    let (class, key_type) = object_type(template)?;
    check_template(class, key_type, template, Mode::Create, so)?;
    let mut obj = base_object(class, key_type);
    apply(&mut obj, template, key_type, Mode::Create);
    match class {
        CKO_CERTIFICATE => finish_certificate(&mut obj)?,
        CKO_DATA => {}
        CKO_DOMAIN_PARAMETERS => material::import_domain_parameters(&mut obj, key_type)?,
        _ => material::import_key(&mut obj, class, key_type)?,
    }
    check_contributed(&obj, template, key_type, Mode::Create)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

/// Which way a modification is being made.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edit {
    Set,
    Copy,
}

/// Applies `template` to a clone of `original` under the change rules.
/// Giving an attribute its current value is always accepted.
fn edit(original: &Object, template: &AttrMap, so: bool, how: Edit) -> Result<Object> {
    let class = original.class();
    let key_type = original.key_type().unwrap_or(NO_KEY_TYPE);
    let mut obj = original.clone();
    for (ty, v) in template {
        check_value(*ty, v)?;
        if original.bytes(*ty) == Some(v.as_slice()) {
            continue;
        }
        let change = match rules::classify(class, key_type, *ty) {
            Fit::Rule(r) if how == Edit::Set => r.set,
            Fit::Rule(r) => r.copy,
            Fit::NotForClass if how == Edit::Copy => return Err(Error::TemplateInconsistent),
            Fit::NotForClass | Fit::Unsupported => return Err(Error::AttributeTypeInvalid),
        };
        let to = attrs::decode_bool(v);
        let allowed = match change {
            Change::No => false,
            Change::Any => true,
            Change::ToTrue => to == Some(true),
            Change::ToFalse => to == Some(false),
            Change::SoOnly => so,
        };
        if !allowed {
            return Err(Error::AttributeReadOnly);
        }
        obj.put(*ty, v.clone());
    }
    Ok(obj)
}

/// C_CopyObject. An empty template copies as is (NSS relies on it). A
/// copy may change CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE and
/// CKA_DESTROYABLE, set CKA_COPYABLE false, and change whatever
/// C_SetAttributeValue could (footnote 8, with the one-way rules for
/// CKA_SENSITIVE and CKA_EXTRACTABLE); other differing values are
/// CKR_ATTRIBUTE_READ_ONLY. CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE
/// carry over: the key material has the original's history. The copy gets
/// its own CKA_UNIQUE_ID.
pub fn copy(original: &Object, template: &AttrMap, so: bool) -> Result<Object> {
    if !original.is_copyable() {
        return Err(Error::ActionProhibited);
    }
    let mut obj = edit(original, template, so, Edit::Copy)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

/// C_SetAttributeValue: returns the modified object. CKA_MODIFIABLE=false
/// is CKR_ACTION_PROHIBITED; read-only attributes (and CKA_TOKEN,
/// CKA_PRIVATE, CKA_MODIFIABLE, which only a copy changes) are
/// CKR_ATTRIBUTE_READ_ONLY; CKA_SENSITIVE and CKA_WRAP_WITH_TRUSTED may
/// only become true, CKA_EXTRACTABLE and CKA_COPYABLE only false;
/// CKA_TRUSTED only by the SO; attributes the object cannot have are
/// CKR_ATTRIBUTE_TYPE_INVALID (vendor attributes are kept on certificates
/// and data objects).
pub fn set_attributes(original: &Object, template: &AttrMap, so: bool) -> Result<Object> {
    if !original.is_modifiable() {
        return Err(Error::ActionProhibited);
    }
    edit(original, template, so, Edit::Set)
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
