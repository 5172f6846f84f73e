//! The simple data derivations (PKCS#11 3.0, "Miscellaneous simple key
//! derivation mechanisms"): CKM_CONCATENATE_BASE_AND_DATA (base || data),
//! CKM_CONCATENATE_DATA_AND_BASE (data || base) and CKM_XOR_BASE_AND_DATA
//! (base ⊕ data, as long as the shorter), each with
//! CK_KEY_DERIVATION_STRING_DATA, on any secret key.
//!
//! They are offered only when the policy turns key separation off
//! (`wrap_separation = false`, e.g. the `compat` profile): a key derived
//! from a sensitive one with data the caller chose is a related key the
//! caller half-knows (XOR with a known mask, a key extended by known
//! bytes), the "key conjuring" of the Tookan attacks that
//! docs/KEY-SEPARATION.md defends against. The registry applies that rule
//! in its one policy step (`Hook::SimpleDerive`), so C_GetMechanismList
//! and dispatch agree.
//!
//! Lengths: the new key takes the leading CKA_VALUE_LEN bytes (or its
//! type's fixed length) of the result; without one it takes all of it; more
//! than the result is CKR_TEMPLATE_INCONSISTENT. The base must be a secret
//! key (CKR_KEY_TYPE_INCONSISTENT otherwise). CKM_CONCATENATE_BASE_AND_KEY
//! and CKM_EXTRACT_KEY_FROM_KEY are not offered.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::setting::{self, Setting};
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// Base keys of 1 to 512 bytes (every secret key this module holds).
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_CONCATENATE_BASE_AND_DATA, 1, 512, CKF_DERIVE),
    row(CKM_CONCATENATE_DATA_AND_BASE, 1, 512, CKF_DERIVE),
    row(CKM_XOR_BASE_AND_DATA, 1, 512, CKF_DERIVE),
];

static ALLOWED: Setting = Setting::new(setting::SIMPLE_DERIVE, 0);

/// Sets, at C_Initialize, whether the policy allows these mechanisms
/// (`!policy.wrap_separation`).
pub fn set_simple_derive_allowed(allowed: bool) {
    ALLOWED.set(u64::from(allowed));
}

/// Whether the policy offers the simple data derivations.
pub fn simple_derive_allowed() -> bool {
    ALLOWED.get() != 0
}

/// Whether `mech` copies the base key's bytes into the new key (the
/// object layer then keeps the new key as protected as its base:
/// `object::protect_like_base`).
pub fn keeps_base_material(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().any(|r| r.mech == mech)
}

/// The derived value: the mechanism's result, cut to `len` leading bytes.
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let Params::StringData(data) = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let Key::Secret { value, .. } = base else {
        return Err(Error::KeyTypeInconsistent);
    };
    let mut out = Zeroizing::new(Vec::with_capacity(value.len().saturating_add(data.len())));
    match mech.mech {
        CKM_CONCATENATE_BASE_AND_DATA => {
            out.extend_from_slice(value);
            out.extend_from_slice(data);
        }
        CKM_CONCATENATE_DATA_AND_BASE => {
            out.extend_from_slice(data);
            out.extend_from_slice(value);
        }
        CKM_XOR_BASE_AND_DATA => out.extend(value.iter().zip(data.iter()).map(|(a, b)| a ^ b)),
        _ => return Err(Error::MechanismInvalid),
    }
    match len {
        None => Ok(out),
        Some(0) => Err(Error::TemplateInconsistent),
        Some(n) if n > out.len() => Err(Error::TemplateInconsistent),
        Some(n) => {
            out.truncate(n);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mech(ty: CK_MECHANISM_TYPE, data: &[u8]) -> Mechanism {
        Mechanism::parse(ty, Some(data)).unwrap()
    }

    #[test]
    fn results_and_lengths() {
        let base = Key::secret(CKK_GENERIC_SECRET, &[0xf0, 0x0f, 0xaa]).unwrap();
        let cat = |ty, len| derive(&mech(ty, &[1, 2]), &base, len).map(|v| v.to_vec());
        assert_eq!(
            cat(CKM_CONCATENATE_BASE_AND_DATA, None),
            Ok(vec![0xf0, 0x0f, 0xaa, 1, 2])
        );
        assert_eq!(
            cat(CKM_CONCATENATE_DATA_AND_BASE, None),
            Ok(vec![1, 2, 0xf0, 0x0f, 0xaa])
        );
        assert_eq!(cat(CKM_XOR_BASE_AND_DATA, None), Ok(vec![0xf1, 0x0d]));
        assert_eq!(
            cat(CKM_CONCATENATE_BASE_AND_DATA, Some(4)),
            Ok(vec![0xf0, 0x0f, 0xaa, 1])
        );
        assert_eq!(
            cat(CKM_XOR_BASE_AND_DATA, Some(3)),
            Err(Error::TemplateInconsistent)
        );
        let ec = Key::ec_private(&crate::mechanism::Curve::P256.ec_params(), &[7; 32]).unwrap();
        assert_eq!(
            derive(&mech(CKM_XOR_BASE_AND_DATA, &[1]), &ec, None).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        for ty in [CKM_CONCATENATE_BASE_AND_DATA, CKM_XOR_BASE_AND_DATA] {
            assert_eq!(
                Mechanism::parse(ty, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
    }
}
