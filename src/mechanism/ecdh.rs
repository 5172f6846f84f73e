//! ECDH key agreement (CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE) on
//! P-256/P-384/P-521 and X25519, with the NULL and SHA-2 KDFs. (To be written.)

use zeroize::Zeroizing;

use super::keys::Key;
use super::{MechInfo, Mechanism};
use crate::error::{Error, Result};

pub(super) const ROWS: &[MechInfo] = &[];

pub(super) fn derive(_mech: &Mechanism, _base: &Key, _len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    Err(Error::MechanismInvalid)
}
