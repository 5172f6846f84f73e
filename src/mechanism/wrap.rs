//! Key wrapping: the dispatch from a mechanism and a wrapping key to the
//! AES key-wrap (directly, in one call), other AES modes such as AES-GCM,
//! or RSA-OAEP implementation. What is wrapped is
//! already encoded (raw secret value or PKCS#8) by the caller.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::{Mechanism, aes, aes_keywrap, info, rsa_crypt};
use crate::error::{Error, Result};

/// Wraps `material` under `wrapping`.
pub fn wrap(mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
    if info(mech.mech)?.flags & CKF_WRAP == 0 {
        return Err(Error::MechanismInvalid);
    }
    if aes_keywrap::handles(mech.mech) {
        aes_keywrap::wrap_key(mech, wrapping, material)
    } else if aes::handles(mech.mech) {
        aes::wrap(mech, wrapping, material)
    } else if rsa_crypt::handles(mech.mech) {
        rsa_crypt::wrap(mech, wrapping, material)
    } else {
        Err(Error::MechanismInvalid)
    }
}

/// Unwraps `wrapped` under `unwrapping`: CKR_WRAPPED_KEY_INVALID (as
/// `Error::WrappedKeyInvalid`) when it does not authenticate or decode,
/// CKR_WRAPPED_KEY_LEN_RANGE for an impossible length.
pub fn unwrap(mech: &Mechanism, unwrapping: &Key, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if info(mech.mech)?.flags & CKF_UNWRAP == 0 {
        return Err(Error::MechanismInvalid);
    }
    if aes_keywrap::handles(mech.mech) {
        aes_keywrap::unwrap_key(mech, unwrapping, wrapped)
    } else if aes::handles(mech.mech) {
        aes::unwrap(mech, unwrapping, wrapped)
    } else if rsa_crypt::handles(mech.mech) {
        rsa_crypt::unwrap(mech, unwrapping, wrapped)
    } else {
        Err(Error::MechanismInvalid)
    }
}
