//! Template rules for C_GenerateKey and C_GenerateKeyPair: checking the
//! templates before any key is made (so a bad template costs nothing), and
//! building the finished objects around the material the mechanism module
//! generated, with CKA_LOCAL, CKA_KEY_GEN_MECHANISM and the "always
//! sensitive / never extractable" history set as §4.9–4.10 describe.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Object;
use super::attrs::AttrMap;
use super::material::{ec_family_public, put_public_key_info, secret_len_ok};
use super::rules;
use super::template::{
    Mode, apply, assign_unique_id, base_object, check_contributed, check_template, expect_ulong,
    tpl_ulong,
};
use crate::error::{Error, Result};
use crate::mechanism::ml_kem::{MlKemPublic, ParamSet};
use crate::mechanism::{Curve, EcKeyPairParts, Generates, Key, RsaKeyPairParts};

/// F4, the public exponent when the template gives none.
const DEFAULT_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// What C_GenerateKey must make. With CKM_PKCS5_PBKD2 the value comes
/// from the password (`mechanism::kdf::pbkdf2`), otherwise from the RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretKeyRequest {
    pub key_type: CK_KEY_TYPE,
    /// Key length in bytes.
    pub len: usize,
}

/// What C_GenerateKeyPair must make: `Ec` by `mechanism::generate_ec`,
/// `Edwards` by `mechanism::generate_edwards`, `Montgomery` by
/// `mechanism::generate_montgomery` (each with `ec_params`, already
/// checked to name a curve of that family), `Rsa` by
/// `mechanism::generate_rsa`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPairRequest {
    Ec {
        ec_params: Vec<u8>,
    },
    Edwards {
        ec_params: Vec<u8>,
    },
    Montgomery {
        ec_params: Vec<u8>,
    },
    Rsa {
        bits: u64,
        public_exponent: Vec<u8>,
    },
    /// `mechanism::generate_ml_dsa` with CKA_PARAMETER_SET (checked).
    MlDsa {
        parameter_set: CK_ULONG,
    },
    /// `mechanism::generate_slh_dsa` with CKA_PARAMETER_SET (checked).
    SlhDsa {
        parameter_set: CK_ULONG,
    },
    /// ML-KEM by `mechanism::ml_kem::generate`, the set from the public
    /// template's CKA_PARAMETER_SET.
    MlKem {
        set: ParamSet,
    },
    /// DSA by `mechanism::dsa::generate_pair` on the public template's
    /// (checked) CKA_PRIME, CKA_SUBPRIME, CKA_BASE.
    Dsa {
        p: Vec<u8>,
        q: Vec<u8>,
        g: Vec<u8>,
    },
    /// DH by `mechanism::dh::generate_pair` on the public template's
    /// CKA_PRIME, CKA_BASE, with the private template's CKA_VALUE_BITS.
    Dh {
        p: Vec<u8>,
        g: Vec<u8>,
        value_bits: Option<u64>,
    },
}

/// The material the mechanism module generated for a key pair.
pub enum GeneratedPair {
    Ec(EcKeyPairParts),
    Edwards(EcKeyPairParts),
    Montgomery(EcKeyPairParts),
    Rsa(RsaKeyPairParts),
    /// The generated ML-DSA private key (its seed and public key).
    MlDsa(Key),
    /// The generated SLH-DSA private key.
    SlhDsa(Key),
    /// ML-KEM: the set, the seed d||z and the encapsulation key.
    MlKem {
        set: ParamSet,
        seed: Zeroizing<Vec<u8>>,
        ek: Vec<u8>,
    },
    /// A generated DSA or DH private key.
    FiniteField(Key),
}

/// The key type `mech` makes. CKM_PKCS5_PBKD2 makes whatever secret type
/// the template names (CKR_TEMPLATE_INCOMPLETE if it names none; a type
/// we do not hold as a secret key is CKR_ATTRIBUTE_VALUE_INVALID, as on
/// C_CreateObject).
fn secret_key_type(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<CK_KEY_TYPE> {
    match crate::mechanism::generates(mech, CKF_GENERATE)? {
        Generates::Secret(key_type) => Ok(key_type),
        Generates::SecretOfTemplateType => {
            let key_type = tpl_ulong(template, CKA_KEY_TYPE)?.ok_or(Error::TemplateIncomplete)?;
            if rules::supported_key(CKO_SECRET_KEY, key_type) {
                Ok(key_type)
            } else {
                Err(Error::AttributeValueInvalid)
            }
        }
        Generates::Pair(_) | Generates::DomainParameters(_) => Err(Error::MechanismInvalid),
    }
}

/// Checks a C_GenerateKey template for `mech` and says what to generate:
/// CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_HKDF_KEY_GEN (CKK_HKDF)
/// and CKM_PKCS5_PBKD2 (any secret type we hold, named by CKA_KEY_TYPE).
/// CKA_VALUE_LEN (bytes) is required (footnote 3; none of our secret
/// types has a fixed length): AES 16, 24 or 32, other secrets 1 to 512;
/// other lengths are CKR_ATTRIBUTE_VALUE_INVALID (as SoftHSM answers).
/// CKA_VALUE or another contributed attribute in the template is
/// CKR_ATTRIBUTE_READ_ONLY (footnote 4, §4.1.1 item 3); a class or key
/// type other than the mechanism's is CKR_TEMPLATE_INCONSISTENT.
/// CKA_TRUSTED is checked against the role by [`generated_secret_key`].
///
/// A PBKDF2 key is made by C_GenerateKey, so it is marked as generated:
/// CKA_LOCAL true (the spec's definition of CKA_LOCAL names
/// C_GenerateKey without exception) and CKA_KEY_GEN_MECHANISM
/// CKM_PKCS5_PBKD2, which tells a relying party the key came from a
/// password.
pub fn secret_key_request(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<SecretKeyRequest> {
    let key_type = secret_key_type(mech, template)?;
    expect_ulong(template, CKA_CLASS, CKO_SECRET_KEY)?;
    expect_ulong(template, CKA_KEY_TYPE, key_type)?;
    check_template(CKO_SECRET_KEY, key_type, template, Mode::Generate, true)?;
    let len = tpl_ulong(template, CKA_VALUE_LEN)?.ok_or(Error::TemplateIncomplete)?;
    let len = usize::try_from(len).map_err(|_| Error::AttributeValueInvalid)?;
    if !secret_len_ok(key_type, len) {
        return Err(Error::AttributeValueInvalid);
    }
    preview(CKO_SECRET_KEY, key_type, template, mech, &[])?;
    Ok(SecretKeyRequest { key_type, len })
}

/// Sets what the token contributes to a generated key: CKA_LOCAL true,
/// CKA_KEY_GEN_MECHANISM, and for private and secret keys
/// CKA_ALWAYS_SENSITIVE = CKA_SENSITIVE and CKA_NEVER_EXTRACTABLE =
/// !CKA_EXTRACTABLE.
fn mark_generated(obj: &mut Object, mech: CK_MECHANISM_TYPE) {
    obj.put_bool(CKA_LOCAL, true);
    obj.put_ulong(CKA_KEY_GEN_MECHANISM, mech);
    if matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
        let sensitive = obj.flag(CKA_SENSITIVE);
        let extractable = obj.flag(CKA_EXTRACTABLE);
        obj.put_bool(CKA_ALWAYS_SENSITIVE, sensitive);
        obj.put_bool(CKA_NEVER_EXTRACTABLE, !extractable);
    }
}

/// Checks, before generating, the contributed attributes a template may
/// repeat (CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE,
/// CKA_NEVER_EXTRACTABLE, and `known` values such as the private key's
/// CKA_EC_PARAMS) by building the object without its material.
fn preview(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    template: &AttrMap,
    mech: CK_MECHANISM_TYPE,
    known: &[(CK_ATTRIBUTE_TYPE, &[u8])],
) -> Result<()> {
    let mut obj = base_object(class, key_type);
    apply(&mut obj, template, key_type, Mode::Generate);
    for (ty, v) in known {
        obj.put(*ty, v.to_vec());
    }
    mark_generated(&mut obj, mech);
    check_contributed(&obj, template, key_type, Mode::Generate)
}

/// The finished C_GenerateKey object around freshly generated `value`.
pub fn generated_secret_key(
    template: &AttrMap,
    req: &SecretKeyRequest,
    mech: CK_MECHANISM_TYPE,
    value: Zeroizing<Vec<u8>>,
    so: bool,
) -> Result<Object> {
    if secret_key_request(mech, template)? != *req || value.len() != req.len {
        return Err(Error::GeneralError);
    }
    check_template(CKO_SECRET_KEY, req.key_type, template, Mode::Generate, so)?;
    let mut obj = base_object(CKO_SECRET_KEY, req.key_type);
    apply(&mut obj, template, req.key_type, Mode::Generate);
    obj.put(CKA_VALUE, value.to_vec());
    let len = CK_ULONG::try_from(req.len).map_err(|_| Error::GeneralError)?;
    obj.put_ulong(CKA_VALUE_LEN, len);
    mark_generated(&mut obj, mech);
    check_contributed(&obj, template, req.key_type, Mode::Generate)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

/// The key type `mech` makes as a pair, from the registry
/// (CKR_MECHANISM_INVALID unless offered with CKF_GENERATE_KEY_PAIR).
fn pair_key_type(mech: CK_MECHANISM_TYPE) -> Result<CK_KEY_TYPE> {
    match crate::mechanism::generates(mech, CKF_GENERATE_KEY_PAIR)? {
        Generates::Pair(key_type) => Ok(key_type),
        _ => Err(Error::MechanismInvalid),
    }
}

/// The EC-family part of [`key_pair_request`]: CKA_EC_PARAMS from the
/// public template, repeated (not contradicted) by the private one.
fn ec_pair_request(
    key_type: CK_KEY_TYPE,
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let ec_params = public
        .get(&CKA_EC_PARAMS)
        .ok_or(Error::TemplateIncomplete)?;
    if private.get(&CKA_EC_PARAMS).is_some_and(|p| p != ec_params) {
        return Err(Error::TemplateInconsistent);
    }
    match key_type {
        CKK_EC_EDWARDS => crate::mechanism::expect_edwards(ec_params)?,
        CKK_EC_MONTGOMERY => crate::mechanism::expect_montgomery(ec_params)?,
        _ => {
            Curve::from_ec_params(ec_params)?;
        }
    }
    preview(CKO_PUBLIC_KEY, key_type, public, mech, &[])?;
    preview(
        CKO_PRIVATE_KEY,
        key_type,
        private,
        mech,
        &[(CKA_EC_PARAMS, ec_params)],
    )?;
    let ec_params = ec_params.clone();
    Ok(match key_type {
        CKK_EC_EDWARDS => KeyPairRequest::Edwards { ec_params },
        CKK_EC_MONTGOMERY => KeyPairRequest::Montgomery { ec_params },
        _ => KeyPairRequest::Ec { ec_params },
    })
}

/// The ML-DSA part of [`key_pair_request`] (PKCS#11 3.2 §6.67):
/// CKA_PARAMETER_SET from the public template (required, else
/// CKR_TEMPLATE_INCOMPLETE; a set we do not know is
/// CKR_ATTRIBUTE_VALUE_INVALID). The private key's is contributed: its
/// template may repeat it but not contradict it.
fn ml_dsa_pair_request(
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let parameter_set = tpl_ulong(public, CKA_PARAMETER_SET)?.ok_or(Error::TemplateIncomplete)?;
    crate::mechanism::ml_dsa::ParamSet::from_ckp(parameter_set)?;
    let encoded = super::attrs::ulong_value(parameter_set);
    preview(CKO_PUBLIC_KEY, CKK_ML_DSA, public, mech, &[])?;
    preview(
        CKO_PRIVATE_KEY,
        CKK_ML_DSA,
        private,
        mech,
        &[(CKA_PARAMETER_SET, &encoded)],
    )?;
    Ok(KeyPairRequest::MlDsa { parameter_set })
}

/// Fills a generated ML-DSA pair: both halves name the parameter set and
/// carry CKA_PUBLIC_KEY_INFO, the public key its encoding (CKA_VALUE), the
/// private key its seed (CKA_SEED) — the form it is kept in.
fn fill_ml_dsa_pair(public: &mut Object, private: &mut Object, key: &Key) -> Result<()> {
    let parameter_set = key.ml_dsa_parameter_set().ok_or(Error::GeneralError)?;
    for obj in [&mut *public, &mut *private] {
        obj.put_ulong(CKA_PARAMETER_SET, parameter_set);
        put_public_key_info(obj, key)?;
    }
    public.put(CKA_VALUE, key.ml_dsa_public_value()?);
    private.put(CKA_SEED, key.ml_dsa_seed()?.to_vec());
    Ok(())
}

/// The SLH-DSA part of [`key_pair_request`] (PKCS#11 3.2 "SLH-DSA key
/// pair generation"), as for ML-DSA: CKA_PARAMETER_SET from the public
/// template (required; a set we do not know is
/// CKR_ATTRIBUTE_VALUE_INVALID), contributed to the private key.
fn slh_dsa_pair_request(
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let parameter_set = tpl_ulong(public, CKA_PARAMETER_SET)?.ok_or(Error::TemplateIncomplete)?;
    crate::mechanism::slh_dsa::ParamSet::from_ckp(parameter_set)?;
    let encoded = super::attrs::ulong_value(parameter_set);
    preview(CKO_PUBLIC_KEY, CKK_SLH_DSA, public, mech, &[])?;
    preview(
        CKO_PRIVATE_KEY,
        CKK_SLH_DSA,
        private,
        mech,
        &[(CKA_PARAMETER_SET, &encoded)],
    )?;
    Ok(KeyPairRequest::SlhDsa { parameter_set })
}

/// Fills a generated SLH-DSA pair: both halves name the parameter set and
/// carry CKA_PUBLIC_KEY_INFO; CKA_VALUE is the public key (PK.seed ‖
/// PK.root) and the private key (SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root).
fn fill_slh_dsa_pair(public: &mut Object, private: &mut Object, key: &Key) -> Result<()> {
    let parameter_set = key.slh_dsa_parameter_set().ok_or(Error::GeneralError)?;
    for obj in [&mut *public, &mut *private] {
        obj.put_ulong(CKA_PARAMETER_SET, parameter_set);
        put_public_key_info(obj, key)?;
    }
    public.put(CKA_VALUE, key.slh_dsa_public_value()?);
    private.put(CKA_VALUE, key.slh_dsa_private_value()?.to_vec());
    Ok(())
}

/// The ML-KEM part of [`key_pair_request`] (PKCS#11 3.2 "ML-KEM key
/// pair generation"): CKA_PARAMETER_SET from the public template
/// (required; a set we do not offer is CKR_PARAMETER_SET_NOT_SUPPORTED).
/// The mechanism contributes it to the private key: the private template
/// may repeat it but not contradict it (CKR_TEMPLATE_INCONSISTENT), as
/// for ML-DSA.
fn ml_kem_pair_request(
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let set = tpl_ulong(public, CKA_PARAMETER_SET)?.ok_or(Error::TemplateIncomplete)?;
    let set = ParamSet::from_ckp(super::attrs::ulong_to_u64(set))?;
    preview(CKO_PUBLIC_KEY, CKK_ML_KEM, public, mech, &[])?;
    let ckp = super::attrs::ulong_value(set.ckp());
    preview(
        CKO_PRIVATE_KEY,
        CKK_ML_KEM,
        private,
        mech,
        &[(CKA_PARAMETER_SET, &ckp)],
    )?;
    Ok(KeyPairRequest::MlKem { set })
}

/// Fills the material of a generated ML-KEM pair: the public key's
/// CKA_VALUE (ek), the private key's CKA_SEED, both keys' parameter set
/// and CKA_PUBLIC_KEY_INFO.
fn fill_ml_kem_pair(
    public: &mut Object,
    private: &mut Object,
    set: ParamSet,
    seed: &[u8],
    ek: &[u8],
) -> Result<()> {
    let key = Key::MlKemPublic(Box::new(MlKemPublic::new(set, ek)?));
    for obj in [&mut *public, &mut *private] {
        obj.put_ulong(CKA_PARAMETER_SET, set.ckp());
        put_public_key_info(obj, &key)?;
    }
    public.put(CKA_VALUE, ek.to_vec());
    private.put(CKA_SEED, seed.to_vec());
    Ok(())
}

fn check_pair_templates(
    key_type: CK_KEY_TYPE,
    public: &AttrMap,
    private: &AttrMap,
    so: bool,
) -> Result<()> {
    expect_ulong(public, CKA_CLASS, CKO_PUBLIC_KEY)?;
    expect_ulong(public, CKA_KEY_TYPE, key_type)?;
    expect_ulong(private, CKA_CLASS, CKO_PRIVATE_KEY)?;
    expect_ulong(private, CKA_KEY_TYPE, key_type)?;
    check_template(CKO_PUBLIC_KEY, key_type, public, Mode::Generate, so)?;
    check_template(CKO_PRIVATE_KEY, key_type, private, Mode::Generate, so)
}

/// Checks C_GenerateKeyPair templates for `mech` and says what to
/// generate. EC (CKM_EC_KEY_PAIR_GEN), Edwards
/// (CKM_EC_EDWARDS_KEY_PAIR_GEN) and Montgomery
/// (CKM_EC_MONTGOMERY_KEY_PAIR_GEN): CKA_EC_PARAMS in the public template
/// (required; a curve of that family we support, else
/// CKR_ATTRIBUTE_VALUE_INVALID); the private template may repeat
/// it but not contradict it (CKR_TEMPLATE_INCONSISTENT). RSA: CKA_MODULUS_BITS in the public
/// template (required; 2048..=4096 else CKR_KEY_SIZE_RANGE), optional
/// CKA_PUBLIC_EXPONENT (default 65537, also when empty). Key material in either template is
/// CKR_ATTRIBUTE_READ_ONLY; class or key type mismatches are
/// CKR_TEMPLATE_INCONSISTENT.
pub fn key_pair_request(
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let key_type = pair_key_type(mech)?;
    check_pair_templates(key_type, public, private, true)?;
    if rules::is_ec_family(key_type) {
        return ec_pair_request(key_type, mech, public, private);
    }
    if key_type == CKK_ML_DSA {
        return ml_dsa_pair_request(mech, public, private);
    }
    if key_type == CKK_SLH_DSA {
        return slh_dsa_pair_request(mech, public, private);
    }
    if key_type == CKK_ML_KEM {
        return ml_kem_pair_request(mech, public, private);
    }
    if matches!(key_type, CKK_DSA | CKK_DH) {
        return ff_pair_request(key_type, mech, public, private);
    }
    let bits = tpl_ulong(public, CKA_MODULUS_BITS)?.ok_or(Error::TemplateIncomplete)?;
    let bits = super::attrs::ulong_to_u64(bits);
    // What the module can generate; the policy's floor was applied
    // before, as a refusal that names its rule (api/key.rs).
    if !crate::mechanism::capability(CKM_RSA_PKCS_KEY_PAIR_GEN)?.key_size_ok(bits) {
        return Err(Error::KeySizeRange);
    }
    let public_exponent = match public.get(&CKA_PUBLIC_EXPONENT) {
        Some(e) if e.is_empty() => DEFAULT_PUBLIC_EXPONENT.to_vec(),
        Some(e) if e.iter().all(|b| *b == 0) => return Err(Error::AttributeValueInvalid),
        Some(e) => e.clone(),
        None => DEFAULT_PUBLIC_EXPONENT.to_vec(),
    };
    preview(CKO_PUBLIC_KEY, key_type, public, mech, &[])?;
    preview(CKO_PRIVATE_KEY, key_type, private, mech, &[])?;
    Ok(KeyPairRequest::Rsa {
        bits,
        public_exponent,
    })
}

/// The DSA and DH part of [`key_pair_request`]: the domain parameters
/// from the public template (required, checked: a bad one is
/// CKR_ATTRIBUTE_VALUE_INVALID), which the private template may repeat
/// but not contradict; a DH private template's CKA_VALUE_BITS.
fn ff_pair_request(
    key_type: CK_KEY_TYPE,
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    // Stored without leading zeros, as the generated key gives them back.
    let get = |ty| {
        public
            .get(&ty)
            .map(|v| crate::mechanism::dsa::trim(v).to_vec())
            .ok_or(Error::TemplateIncomplete)
    };
    let p = get(CKA_PRIME)?;
    let g = get(CKA_BASE)?;
    let (request, known) = if key_type == CKK_DSA {
        let q = get(CKA_SUBPRIME)?;
        let _checked = crate::mechanism::dsa::components(&p, &q, &g)?;
        crate::mechanism::dh::check_prime(&p)?;
        crate::mechanism::dh::check_prime(&q)?;
        let known = vec![
            (CKA_PRIME, p.clone()),
            (CKA_SUBPRIME, q.clone()),
            (CKA_BASE, g.clone()),
        ];
        (KeyPairRequest::Dsa { p, q, g }, known)
    } else {
        crate::mechanism::dh::domain(&p, &g)?;
        crate::mechanism::dh::check_prime(&p)?;
        let value_bits = tpl_ulong(private, CKA_VALUE_BITS)?.map(super::attrs::ulong_to_u64);
        let known = vec![(CKA_PRIME, p.clone()), (CKA_BASE, g.clone())];
        (KeyPairRequest::Dh { p, g, value_bits }, known)
    };
    preview(CKO_PUBLIC_KEY, key_type, public, mech, &[])?;
    let known: Vec<(CK_ATTRIBUTE_TYPE, &[u8])> =
        known.iter().map(|(t, v)| (*t, v.as_slice())).collect();
    preview(CKO_PRIVATE_KEY, key_type, private, mech, &known)?;
    Ok(request)
}

/// A generated DSA/DH key's domain parameters, y and x.
type FfParts = (
    Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
    Vec<u8>,
    Zeroizing<Vec<u8>>,
);

/// Fills a generated DSA or DH pair: both halves carry the domain
/// parameters and CKA_PUBLIC_KEY_INFO, the public key y, the private key
/// x (and a DH key CKA_VALUE_BITS).
fn fill_ff_pair(public: &mut Object, private: &mut Object, key: &Key) -> Result<()> {
    let (domain, y, x): FfParts = match key {
        Key::Dsa(k) => {
            let [p, q, g, y] = k.public_parts();
            (
                vec![(CKA_PRIME, p), (CKA_SUBPRIME, q), (CKA_BASE, g)],
                y,
                k.private_value()?,
            )
        }
        Key::Dh(k) => {
            let [p, g, y] = k.public_parts();
            let bits = k.value_bits().ok_or(Error::GeneralError)?;
            private.put_ulong(
                CKA_VALUE_BITS,
                CK_ULONG::try_from(bits).map_err(|_| Error::GeneralError)?,
            );
            (vec![(CKA_PRIME, p), (CKA_BASE, g)], y, k.private_value()?)
        }
        _ => return Err(Error::GeneralError),
    };
    for obj in [&mut *public, &mut *private] {
        for (ty, v) in &domain {
            obj.put(*ty, v.clone());
        }
        put_public_key_info(obj, key)?;
    }
    public.put(CKA_VALUE, y);
    private.put(CKA_VALUE, x.to_vec());
    Ok(())
}

/// Fills the material of a generated EC-family pair into the two objects.
fn fill_ec_pair(
    public: &mut Object,
    private: &mut Object,
    key_type: CK_KEY_TYPE,
    p: &EcKeyPairParts,
) -> Result<()> {
    let key = ec_family_public(key_type, &p.ec_params, &p.ec_point_der)?;
    for obj in [&mut *public, &mut *private] {
        obj.put(CKA_EC_PARAMS, p.ec_params.clone());
        obj.put(CKA_EC_POINT, p.ec_point_der.clone());
        put_public_key_info(obj, &key)?;
    }
    private.put(CKA_VALUE, p.private_value.to_vec());
    Ok(())
}

/// Fills the material of a generated RSA pair into the two objects.
fn fill_rsa_pair(public: &mut Object, private: &mut Object, p: &RsaKeyPairParts) -> Result<()> {
    let key = Key::rsa_public(&p.modulus, &p.public_exponent)?;
    for obj in [&mut *public, &mut *private] {
        obj.put(CKA_MODULUS, p.modulus.clone());
        obj.put(CKA_PUBLIC_EXPONENT, p.public_exponent.clone());
        put_public_key_info(obj, &key)?;
    }
    let bits = CK_ULONG::try_from(key.bits()).map_err(|_| Error::GeneralError)?;
    public.put_ulong(CKA_MODULUS_BITS, bits);
    for (ty, v) in [
        (CKA_PRIVATE_EXPONENT, &p.private_exponent),
        (CKA_PRIME_1, &p.prime_1),
        (CKA_PRIME_2, &p.prime_2),
        (CKA_EXPONENT_1, &p.exponent_1),
        (CKA_EXPONENT_2, &p.exponent_2),
        (CKA_COEFFICIENT, &p.coefficient),
    ] {
        private.put(ty, v.to_vec());
    }
    Ok(())
}

/// Fills the material of a generated pair into the two objects.
fn fill_pair(public: &mut Object, private: &mut Object, parts: &GeneratedPair) -> Result<()> {
    match parts {
        GeneratedPair::Ec(p) => fill_ec_pair(public, private, CKK_EC, p),
        GeneratedPair::Edwards(p) => fill_ec_pair(public, private, CKK_EC_EDWARDS, p),
        GeneratedPair::Montgomery(p) => fill_ec_pair(public, private, CKK_EC_MONTGOMERY, p),
        GeneratedPair::Rsa(p) => fill_rsa_pair(public, private, p),
        GeneratedPair::MlDsa(k) => fill_ml_dsa_pair(public, private, k),
        GeneratedPair::SlhDsa(k) => fill_slh_dsa_pair(public, private, k),
        GeneratedPair::MlKem { set, seed, ek } => fill_ml_kem_pair(public, private, *set, seed, ek),
        GeneratedPair::FiniteField(k) => fill_ff_pair(public, private, k),
    }
}

/// The key type of a generated pair, if it is what `request` asked for.
fn pair_matches(request: &KeyPairRequest, parts: &GeneratedPair) -> Option<CK_KEY_TYPE> {
    use GeneratedPair as G;
    use KeyPairRequest as R;
    match (request, parts) {
        (R::Ec { ec_params }, G::Ec(p)) if *ec_params == p.ec_params => Some(CKK_EC),
        (R::Edwards { ec_params }, G::Edwards(p)) if *ec_params == p.ec_params => {
            Some(CKK_EC_EDWARDS)
        }
        (R::Montgomery { ec_params }, G::Montgomery(p)) if *ec_params == p.ec_params => {
            Some(CKK_EC_MONTGOMERY)
        }
        (R::Rsa { .. }, G::Rsa(_)) => Some(CKK_RSA),
        (R::MlDsa { parameter_set }, G::MlDsa(k))
            if k.ml_dsa_parameter_set() == Some(*parameter_set) && k.is_secret() =>
        {
            Some(CKK_ML_DSA)
        }
        (R::SlhDsa { parameter_set }, G::SlhDsa(k))
            if k.slh_dsa_parameter_set() == Some(*parameter_set) && k.is_secret() =>
        {
            Some(CKK_SLH_DSA)
        }
        (R::MlKem { set }, G::MlKem { set: made, .. }) if set == made => Some(CKK_ML_KEM),
        (R::Dsa { p, q, g }, G::FiniteField(Key::Dsa(k)))
            if k.is_private()
                && k.public_parts().get(..3) == Some(&[p.clone(), q.clone(), g.clone()][..]) =>
        {
            Some(CKK_DSA)
        }
        (R::Dh { p, g, .. }, G::FiniteField(Key::Dh(k)))
            if k.is_private() && k.public_parts().get(..2) == Some(&[p.clone(), g.clone()][..]) =>
        {
            Some(CKK_DH)
        }
        _ => None,
    }
}

/// The finished C_GenerateKeyPair objects (public, private) around the
/// generated material. Both hold every attribute of their class with the
/// defaults of [`base_object`](super::template::base_object), CKA_LOCAL
/// true and CKA_KEY_GEN_MECHANISM = `mech`; both carry the public parts
/// (EC, Edwards, Montgomery: CKA_EC_PARAMS, CKA_EC_POINT; RSA: CKA_MODULUS,
/// CKA_PUBLIC_EXPONENT) and CKA_PUBLIC_KEY_INFO, the public key
/// CKA_MODULUS_BITS, the private key its private components.
pub fn generated_key_pair(
    public: &AttrMap,
    private: &AttrMap,
    parts: GeneratedPair,
    mech: CK_MECHANISM_TYPE,
    so: bool,
) -> Result<(Object, Object)> {
    let request = key_pair_request(mech, public, private)?;
    let key_type = pair_matches(&request, &parts).ok_or(Error::GeneralError)?;
    check_pair_templates(key_type, public, private, so)?;
    let mut pub_obj = base_object(CKO_PUBLIC_KEY, key_type);
    let mut priv_obj = base_object(CKO_PRIVATE_KEY, key_type);
    apply(&mut pub_obj, public, key_type, Mode::Generate);
    apply(&mut priv_obj, private, key_type, Mode::Generate);
    fill_pair(&mut pub_obj, &mut priv_obj, &parts)?;
    mark_generated(&mut pub_obj, mech);
    mark_generated(&mut priv_obj, mech);
    check_contributed(&pub_obj, public, key_type, Mode::Generate)?;
    check_contributed(&priv_obj, private, key_type, Mode::Generate)?;
    assign_unique_id(&mut pub_obj)?;
    assign_unique_id(&mut priv_obj)?;
    Ok((pub_obj, priv_obj))
}

#[cfg(test)]
#[path = "keygen_tests.rs"]
mod tests;
