//! Slot and token management: C_GetInfo, slot/token/mechanism queries,
//! C_InitToken, C_InitPIN and C_SetPIN.

use cryptoki_sys::*;

use super::Library;
use crate::error::{Error, Result};
use crate::mechanism;
use crate::token::Login;
use crate::token::info::{MANUFACTURER, padded};

use crate::mechanism::provider::LIBRARY_DESCRIPTION;

impl Library {
    pub fn info(&self) -> CK_INFO {
        CK_INFO {
            // The 3.0 table is what C_GetInterface offers first.
            // The newest interface the module offers ("PKCS 11" 3.2).
            cryptokiVersion: CK_VERSION { major: 3, minor: 2 },
            manufacturerID: padded::<32>(MANUFACTURER),
            flags: 0,
            libraryDescription: padded::<32>(LIBRARY_DESCRIPTION),
            libraryVersion: crate_version(),
        }
    }

    pub fn slot_list(&self, _token_present: bool) -> Vec<CK_SLOT_ID> {
        // Every slot always holds its token, so both lists are the same.
        self.tokens.iter().map(|t| t.slot_id).collect()
    }

    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<CK_SLOT_INFO> {
        let (_, token) = self.slot(slot)?;
        Ok(CK_SLOT_INFO {
            slotDescription: padded::<64>(token.description.as_bytes()),
            manufacturerID: padded::<32>(MANUFACTURER),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: CK_VERSION { major: 0, minor: 1 },
            firmwareVersion: crate_version(),
        })
    }

    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        let (index, token) = self.slot(slot)?;
        let (all, rw) = self.session_counts(index)?;
        token.info(all, rw)
    }

    /// See [`crate::token::info::PinTries`].
    pub fn pin_tries(&self, slot: CK_SLOT_ID) -> Result<Option<crate::token::info::PinTries>> {
        self.slot(slot)?.1.pin_tries()
    }

    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let (_, token) = self.slot(slot)?;
        // The registry leaves out what the policy switched off, and the
        // token's `allowed_mechanisms` what it does not name: a client
        // sees only what it may use.
        Ok(mechanism::table()
            .iter()
            .map(|m| m.mech)
            .filter(|m| token.lifecycle.mechanism_allowed(*m))
            .collect())
    }

    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        let (_, token) = self.slot(slot)?;
        if !token.lifecycle.mechanism_allowed(mech) {
            return Err(Error::MechanismInvalid);
        }
        let info = mechanism::info(mech)?;
        Ok(CK_MECHANISM_INFO {
            ulMinKeySize: info.min_key,
            ulMaxKeySize: info.max_key,
            flags: info.flags,
        })
    }

    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8; 32]) -> Result<()> {
        let (index, token) = self.slot(slot)?;
        if self.session_counts(index)?.0 > 0 {
            return Err(Error::SessionExists);
        }
        token.init_token(so_pin, label)?;
        self.handles()?.forget_token(index);
        Ok(())
    }

    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.with_session(h, |s, token| {
            if token.login_role()? != Login::So {
                return Err(Error::UserNotLoggedIn);
            }
            if !s.rw {
                return Err(Error::SessionReadOnly);
            }
            token.init_pin(pin)
        })
    }

    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old_pin: &[u8], new_pin: &[u8]) -> Result<()> {
        self.with_session(h, |s, token| {
            if !s.rw {
                return Err(Error::SessionReadOnly);
            }
            token.set_pin(old_pin, new_pin)
        })
    }
}

fn crate_version() -> CK_VERSION {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    CK_VERSION { major, minor }
}

impl Library {
    /// See [`crate::token::Token::reset_token`]: no PIN, no sessions in this process.
    pub fn reset_token(&self, slot: CK_SLOT_ID, label: &[u8; 32], new_so_pin: &[u8]) -> Result<()> {
        let (index, token) = self.slot(slot)?;
        if self.session_counts(index)?.0 > 0 {
            return Err(Error::SessionExists);
        }
        token.reset_token(label, new_so_pin)?;
        self.handles()?.forget_token(index);
        Ok(())
    }
}
