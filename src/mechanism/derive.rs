//! Key derivation: the dispatch from a mechanism and a base key to the
//! family that derives with it (ECDH on Weierstrass and Montgomery
//! curves, HKDF), through the registry.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::{Mechanism, registry};
use crate::error::Result;

/// Derives `len` bytes of key material from `base` (`len` None: the
/// mechanism's natural length, e.g. the ECDH shared secret's).
/// CKR_MECHANISM_INVALID unless the mechanism is offered with CKF_DERIVE.
pub fn derive(mech: &Mechanism, base: &Key, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    registry::family(mech.mech, CKF_DERIVE)?.derive(mech, base, len)
}

/// Derives several keys in one call, `lens[i]` bytes each, in order (the
/// SP 800-108 KDFs with CK_DERIVED_KEY entries). A family without
/// multi-key derivation takes exactly one length.
pub fn derive_keys(
    mech: &Mechanism,
    base: &Key,
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    registry::family(mech.mech, CKF_DERIVE)?.derive_keys(mech, base, lens)
}

/// Whether `mech` derives a set of keys (the main key and the additional
/// keys its parameter names), so C_DeriveKey must take the multi-key path.
pub fn derives_key_set(mech: CK_MECHANISM_TYPE) -> bool {
    super::kbkdf::handles(mech)
}

/// The templates of the additional keys a parsed parameter names, in
/// order (none for a one-key derivation).
pub fn additional_templates(mech: &Mechanism) -> &[Vec<crate::types::Attr>] {
    match &mech.params {
        super::Params::Kbkdf(p) => p.additional(),
        _ => &[],
    }
}
