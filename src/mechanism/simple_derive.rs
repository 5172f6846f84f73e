//! The simple data derivations (PKCS#11 3.0, "Miscellaneous simple key
//! derivation mechanisms"): CKM_CONCATENATE_BASE_AND_DATA (base || data),
//! CKM_CONCATENATE_DATA_AND_BASE (data || base) and CKM_XOR_BASE_AND_DATA
//! (base ⊕ data, as long as the shorter), each with
//! CK_KEY_DERIVATION_STRING_DATA, on any secret key;
//! CKM_CONCATENATE_BASE_AND_KEY (base || another secret key, named by the
//! CK_OBJECT_HANDLE parameter, which the API layer resolves and checks for
//! CKA_DERIVE before [`bind_second_key`] puts its value in the parameter);
//! CKM_EXTRACT_KEY_FROM_KEY (CK_EXTRACT_PARAMS: the bits of the base from
//! that bit on, wrapping around its end).
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
//! than the result is CKR_TEMPLATE_INCONSISTENT. CKM_EXTRACT_KEY_FROM_KEY
//! needs a length (CKR_TEMPLATE_INCOMPLETE without one: the spec's "an
//! error will be returned"). The base (and the other key) must be secret
//! keys (CKR_KEY_TYPE_INCONSISTENT otherwise).

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
    row(CKM_CONCATENATE_BASE_AND_KEY, 1, 512, CKF_DERIVE),
    row(CKM_EXTRACT_KEY_FROM_KEY, 1, 512, CKF_DERIVE),
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

/// The other key CKM_CONCATENATE_BASE_AND_KEY names, which the caller
/// must resolve (with the session's access checks and CKA_DERIVE) and give
/// to [`bind_second_key`]; `None` for every other mechanism.
pub fn second_key(mech: &Mechanism) -> Option<CK_OBJECT_HANDLE> {
    match mech.params {
        Params::OtherKey(h) => Some(h),
        _ => None,
    }
}

/// Puts the value of the resolved other key of
/// CKM_CONCATENATE_BASE_AND_KEY into the parameter: a secret key, else
/// CKR_KEY_TYPE_INCONSISTENT.
pub fn bind_second_key(mech: &mut Mechanism, other: &Key) -> Result<()> {
    let Key::Secret { value, .. } = other else {
        return Err(Error::KeyTypeInconsistent);
    };
    mech.params = Params::SecondKeyValue(value.clone());
    Ok(())
}

/// The derived value: the mechanism's result, cut to `len` leading bytes.
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let Key::Secret { value, .. } = base else {
        return Err(Error::KeyTypeInconsistent);
    };
    let data = match (&mech.params, mech.mech) {
        (Params::ExtractFrom(first_bit), CKM_EXTRACT_KEY_FROM_KEY) => {
            return extract(value, *first_bit, len);
        }
        (Params::SecondKeyValue(other), CKM_CONCATENATE_BASE_AND_KEY) => other,
        // The handle was never resolved: the caller skipped bind_second_key.
        (Params::OtherKey(_), _) => return Err(Error::GeneralError),
        (Params::StringData(data), _) => data,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let mut out = Zeroizing::new(Vec::with_capacity(value.len().saturating_add(data.len())));
    match mech.mech {
        CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_BASE_AND_KEY => {
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

/// CKM_EXTRACT_KEY_FROM_KEY: `len` bytes made of the base's bits from bit
/// `first_bit` on, bits numbered from the most significant bit of the first
/// byte (b0) and wrapping around the end, as the spec's example has it
/// (0x329F84A9 from bit 21, two bytes: 0x9526). A length longer than the
/// base is CKR_TEMPLATE_INCONSISTENT; a first bit past its end
/// CKR_MECHANISM_PARAM_INVALID.
fn extract(value: &[u8], first_bit: CK_ULONG, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    let len = len.ok_or(Error::TemplateIncomplete)?;
    if len == 0 || len > value.len() {
        return Err(Error::TemplateInconsistent);
    }
    let total = value
        .len()
        .checked_mul(8)
        .ok_or(Error::TemplateInconsistent)?;
    let first = usize::try_from(first_bit)
        .ok()
        .filter(|b| *b < total)
        .ok_or(Error::MechanismParamInvalid)?;
    let bit = |i: usize| -> u8 {
        let i = (first + i) % total;
        value.get(i / 8).map_or(0, |b| (b >> (7 - i % 8)) & 1)
    };
    let out = (0..len)
        .map(|byte| (0..8).fold(0u8, |acc, j| (acc << 1) | bit(byte * 8 + j)))
        .collect();
    Ok(Zeroizing::new(out))
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
        for ty in [
            CKM_CONCATENATE_BASE_AND_DATA,
            CKM_XOR_BASE_AND_DATA,
            CKM_CONCATENATE_BASE_AND_KEY,
            CKM_EXTRACT_KEY_FROM_KEY,
        ] {
            assert_eq!(
                Mechanism::parse(ty, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
    }

    /// The spec's own example, and the wrap-around at the end.
    #[test]
    fn extract_follows_the_spec_example() {
        let base = Key::secret(CKK_GENERIC_SECRET, &[0x32, 0x9f, 0x84, 0xa9]).unwrap();
        let ext = |bit: CK_ULONG, len| {
            let m = Mechanism::parse(CKM_EXTRACT_KEY_FROM_KEY, Some(&bit.to_ne_bytes())).unwrap();
            derive(&m, &base, len).map(|v| v.to_vec())
        };
        assert_eq!(ext(21, Some(2)), Ok(vec![0x95, 0x26]));
        assert_eq!(ext(0, Some(4)), Ok(vec![0x32, 0x9f, 0x84, 0xa9]));
        assert_eq!(ext(8, Some(4)), Ok(vec![0x9f, 0x84, 0xa9, 0x32]));
        assert_eq!(ext(4, Some(1)), Ok(vec![0x29]));
        assert_eq!(ext(0, None), Err(Error::TemplateIncomplete));
        assert_eq!(ext(0, Some(5)), Err(Error::TemplateInconsistent));
        assert_eq!(ext(32, Some(1)), Err(Error::MechanismParamInvalid));
    }

    #[test]
    fn base_and_key_appends_the_bound_key() {
        let base = Key::secret(CKK_GENERIC_SECRET, &[1, 2]).unwrap();
        let other = Key::secret(CKK_AES, &[9; 16]).unwrap();
        let handle: CK_OBJECT_HANDLE = 7;
        let mut m =
            Mechanism::parse(CKM_CONCATENATE_BASE_AND_KEY, Some(&handle.to_ne_bytes())).unwrap();
        assert_eq!(second_key(&m), Some(7));
        assert_eq!(derive(&m, &base, None).unwrap_err(), Error::GeneralError);
        bind_second_key(&mut m, &other).unwrap();
        let mut want = vec![1, 2];
        want.extend([9; 16]);
        assert_eq!(derive(&m, &base, None).unwrap().to_vec(), want);
        let ec = Key::ec_private(&crate::mechanism::Curve::P256.ec_params(), &[7; 32]).unwrap();
        assert_eq!(
            bind_second_key(&mut m, &ec).unwrap_err(),
            Error::KeyTypeInconsistent
        );
    }
}
