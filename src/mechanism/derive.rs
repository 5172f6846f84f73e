//! Key derivation: the dispatch from a mechanism and a base key to ECDH
//! (Weierstrass and Montgomery curves) or HKDF.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::{Mechanism, ecdh, info, kdf};
use crate::error::{Error, Result};

/// Derives `len` bytes of key material from `base` (`len` None: the
/// mechanism's natural length, e.g. the ECDH shared secret's).
pub fn derive(mech: &Mechanism, base: &Key, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    if info(mech.mech)?.flags & CKF_DERIVE == 0 {
        return Err(Error::MechanismInvalid);
    }
    match mech.mech {
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => ecdh::derive(mech, base, len),
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => kdf::hkdf_derive(mech, base, len),
        _ => Err(Error::MechanismInvalid),
    }
}
