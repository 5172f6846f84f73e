//! EdDSA (Ed25519) signing and verification. (To be written.)

use std::sync::Arc;

use cryptoki_sys::*;

use super::keys::Key;
use super::sign::{SignOp, VerifyOp};
use super::{MechInfo, Mechanism};
use crate::error::{Error, Result};

pub(super) const ROWS: &[MechInfo] = &[];

pub(super) fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().any(|r| r.mech == mech)
}

pub(super) fn sign_init(_mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    Err(Error::MechanismInvalid)
}

pub(super) fn verify_init(_mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    Err(Error::MechanismInvalid)
}
