//! Key wrapping: the dispatch from a mechanism and a wrapping key to the
//! family that wraps with it (AES key wrap in one call, the other AES
//! modes such as AES-GCM, RSA-OAEP), through the registry. What is
//! wrapped is already encoded (raw secret value or PKCS#8) by the caller.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::{Mechanism, registry};
use crate::error::Result;

/// Wraps `material` under `wrapping`: CKR_MECHANISM_INVALID unless the
/// mechanism is offered with CKF_WRAP.
pub fn wrap(mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
    registry::family(mech.mech, CKF_WRAP)?.wrap(mech, wrapping, material)
}

/// Unwraps `wrapped` under `unwrapping`: CKR_WRAPPED_KEY_INVALID (as
/// `Error::WrappedKeyInvalid`) when it does not authenticate or decode,
/// CKR_WRAPPED_KEY_LEN_RANGE for an impossible length.
pub fn unwrap(mech: &Mechanism, unwrapping: &Key, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    registry::family(mech.mech, CKF_UNWRAP)?.unwrap(mech, unwrapping, wrapped)
}
