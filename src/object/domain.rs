//! Domain parameter objects made by C_GenerateKey (PKCS#11 3.x §4.12,
//! "DSA domain parameter generation", "PKCS #3 Diffie-Hellman domain
//! parameter generation"): the template check before anything is
//! generated, and the finished object around the generated values.
//! C_CreateObject's domain parameter objects go through `template.rs` and
//! `material::import_domain_parameters`.

use cryptoki_sys::*;

use super::Object;
use super::attrs::AttrMap;
use super::template::{
    Mode, apply, assign_unique_id, base_object, check_contributed, check_template, expect_ulong,
    tpl_ulong,
};
use crate::error::{Error, Result};
use crate::mechanism::Generates;

/// What CKM_DSA_PARAMETER_GEN or CKM_DH_PKCS_PARAMETER_GEN must make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainRequest {
    pub key_type: CK_KEY_TYPE,
    /// CKA_PRIME_BITS.
    pub bits: u64,
}

/// The key type `mech` makes domain parameters for, if it is a domain
/// parameter generation mechanism the registry offers.
pub fn domain_key_type(mech: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
    match crate::mechanism::generates(mech, CKF_GENERATE) {
        Ok(Generates::DomainParameters(kt)) => Some(kt),
        _ => None,
    }
}

/// Checks a domain parameter generation template: the class and key type
/// may be repeated, not contradicted (CKR_TEMPLATE_INCONSISTENT);
/// CKA_PRIME_BITS is required (CKR_TEMPLATE_INCOMPLETE) and must lie in
/// the mechanism's range (CKR_KEY_SIZE_RANGE; the generator then refuses
/// sizes it has no parameter set for with CKR_ATTRIBUTE_VALUE_INVALID);
/// the values themselves are contributed (CKR_ATTRIBUTE_READ_ONLY).
pub fn domain_request(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<DomainRequest> {
    let key_type = domain_key_type(mech).ok_or(Error::MechanismInvalid)?;
    expect_ulong(template, CKA_CLASS, CKO_DOMAIN_PARAMETERS)?;
    expect_ulong(template, CKA_KEY_TYPE, key_type)?;
    check_template(
        CKO_DOMAIN_PARAMETERS,
        key_type,
        template,
        Mode::Generate,
        true,
    )?;
    let bits = tpl_ulong(template, CKA_PRIME_BITS)?.ok_or(Error::TemplateIncomplete)?;
    let bits = super::attrs::ulong_to_u64(bits);
    if !crate::mechanism::capability(mech)?.key_size_ok(bits) {
        return Err(Error::KeySizeRange);
    }
    Ok(DomainRequest { key_type, bits })
}

/// The finished object: the template's attributes, the generated values
/// (`values`: p, q, g for DSA; p, g for DH), CKA_PRIME_BITS and
/// CKA_LOCAL true.
pub fn generated_domain_parameters(
    template: &AttrMap,
    req: &DomainRequest,
    mech: CK_MECHANISM_TYPE,
    values: &[Vec<u8>],
    so: bool,
) -> Result<Object> {
    if domain_request(mech, template)? != *req {
        return Err(Error::GeneralError);
    }
    check_template(
        CKO_DOMAIN_PARAMETERS,
        req.key_type,
        template,
        Mode::Generate,
        so,
    )?;
    let mut obj = base_object(CKO_DOMAIN_PARAMETERS, req.key_type);
    apply(&mut obj, template, req.key_type, Mode::Generate);
    let names: &[CK_ATTRIBUTE_TYPE] = match req.key_type {
        CKK_DSA => &[CKA_PRIME, CKA_SUBPRIME, CKA_BASE],
        _ => &[CKA_PRIME, CKA_BASE],
    };
    if names.len() != values.len() {
        return Err(Error::GeneralError);
    }
    for (ty, v) in names.iter().zip(values) {
        obj.put(*ty, v.clone());
    }
    let bits = CK_ULONG::try_from(req.bits).map_err(|_| Error::GeneralError)?;
    obj.put_ulong(CKA_PRIME_BITS, bits);
    obj.put_bool(CKA_LOCAL, true);
    check_contributed(&obj, template, req.key_type, Mode::Generate)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}
