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
