//! AES: ECB, CBC, CBC with PKCS#7 padding, CTR and GCM ciphers, and the
//! RFC 3394/5649 key wraps and AES-GCM wrapping. (To be written.)

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::cipher::CipherOp;
use super::keys::Key;
use super::{MechInfo, Mechanism};
use crate::error::{Error, Result};

pub(super) const ROWS: &[MechInfo] = &[];

pub(super) fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().any(|r| r.mech == mech)
}

pub(super) fn encrypt_init(_mech: &Mechanism, _key: &Arc<Key>) -> Result<Box<dyn CipherOp>> {
    Err(Error::MechanismInvalid)
}

pub(super) fn decrypt_init(_mech: &Mechanism, _key: &Arc<Key>) -> Result<Box<dyn CipherOp>> {
    Err(Error::MechanismInvalid)
}

pub(super) fn wrap(_mech: &Mechanism, _key: &Key, _material: &[u8]) -> Result<Vec<u8>> {
    Err(Error::MechanismInvalid)
}

pub(super) fn unwrap(_mech: &Mechanism, _key: &Key, _wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    Err(Error::MechanismInvalid)
}
