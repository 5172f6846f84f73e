//! HKDF (CKM_HKDF_DERIVE, CKM_HKDF_DATA, CKM_HKDF_KEY_GEN) and PBKDF2
//! (CKM_PKCS5_PBKD2). (To be written.)

use zeroize::Zeroizing;

use super::keys::Key;
use super::{MechInfo, Mechanism};
use crate::error::{Error, Result};

pub(super) const ROWS: &[MechInfo] = &[];

pub(super) fn hkdf_derive(_mech: &Mechanism, _base: &Key, _len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    Err(Error::MechanismInvalid)
}

/// CKM_PKCS5_PBKD2 with C_GenerateKey: `len` bytes from the password.
pub fn pbkdf2(_mech: &Mechanism, _len: usize) -> Result<Zeroizing<Vec<u8>>> {
    Err(Error::MechanismInvalid)
}
