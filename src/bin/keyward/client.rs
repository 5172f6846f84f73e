//! A thin wrapper over `keyward::api::Library` for one command: the
//! library for the configured store, the chosen slot, and one R/W session
//! opened on first use and closed (logging out) on drop.

use cryptoki_sys::*;
use keyward::api::{Attr, AttrRead, Library};
use keyward::config::Config;
use keyward::error::Error;

use crate::fail::{CliError, CliResult};

/// Objects fetched per C_FindObjects call.
const FIND_BATCH: usize = 64;

pub struct Client {
    lib: Library,
    slot: CK_SLOT_ID,
    session: Option<CK_SESSION_HANDLE>,
}

impl Client {
    /// Opens the store the module would use (KEYWARD_CONF, KEYWARD_STORE)
    /// on `slot`, or on the first configured slot.
    pub fn new(slot: Option<CK_SLOT_ID>) -> CliResult<Client> {
        let config =
            Config::from_env().map_err(|e| CliError::ck("cannot load the configuration", "", e))?;
        let lib =
            Library::new(config).map_err(|e| CliError::ck("cannot open the token store", "", e))?;
        let slots = lib.slot_list(true);
        let slot = match slot {
            Some(s) if slots.contains(&s) => s,
            Some(s) => {
                return Err(CliError::usage(format!(
                    "no slot {s} is configured (slots: {})",
                    slots
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None => *slots
                .first()
                .ok_or_else(|| CliError::failure("no slot is configured"))?,
        };
        Ok(Client {
            lib,
            slot,
            session: None,
        })
    }

    pub fn lib(&self) -> &Library {
        &self.lib
    }

    pub fn slot(&self) -> CK_SLOT_ID {
        self.slot
    }

    /// The command's R/W session, opened on first use.
    pub fn session(&mut self) -> CliResult<CK_SESSION_HANDLE> {
        if let Some(h) = self.session {
            return Ok(h);
        }
        let h = self
            .lib
            .open_session(self.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .map_err(|e| CliError::ck("cannot open a session", "", e))?;
        self.session = Some(h);
        Ok(h)
    }

    /// Logs in as `user` (CKU_USER or CKU_SO).
    pub fn login(&mut self, user: CK_USER_TYPE, pin: &str) -> CliResult<()> {
        let h = self.session()?;
        let role = if user == CKU_SO { "SO" } else { "user" };
        match self.lib.login(h, user, pin.as_bytes()) {
            Ok(()) | Err(Error::UserAlreadyLoggedIn) => Ok(()),
            Err(e) => Err(CliError::ck("login failed", role, e)),
        }
    }

    pub fn logout(&mut self) -> CliResult<()> {
        let h = self.session()?;
        self.lib
            .logout(h)
            .map_err(|e| CliError::ck("logout failed", "", e))
    }

    /// Every object matching `template` that the session may see.
    pub fn find(&mut self, template: &[Attr]) -> CliResult<Vec<CK_OBJECT_HANDLE>> {
        let h = self.session()?;
        let ck = |e| CliError::ck("cannot search the token", "", e);
        self.lib.find_objects_init(h, template).map_err(ck)?;
        let mut found = Vec::new();
        loop {
            let batch = match self.lib.find_objects(h, FIND_BATCH) {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = self.lib.find_objects_final(h);
                    return Err(ck(e));
                }
            };
            if batch.is_empty() {
                break;
            }
            found.extend(batch);
        }
        self.lib.find_objects_final(h).map_err(ck)?;
        Ok(found)
    }

    /// The answers for `types` of one object.
    pub fn read(
        &mut self,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> CliResult<Vec<AttrRead>> {
        let h = self.session()?;
        self.lib
            .attribute_values(h, obj, types)
            .map_err(|e| CliError::ck("cannot read an object", "", e))
    }

    /// `len` bytes from the token's RNG.
    pub fn random(&mut self, len: usize) -> CliResult<Vec<u8>> {
        let h = self.session()?;
        let mut out = vec![0u8; len];
        self.lib
            .generate_random(h, &mut out)
            .map_err(|e| CliError::ck("cannot draw random bytes", "", e))?;
        Ok(out)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(h) = self.session.take() {
            // Closing the last session also logs out; nothing to report.
            let _ = self.lib.close_session(h);
        }
    }
}

/// A CK_ULONG template entry.
pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Attr {
    Attr {
        ty,
        value: v.to_ne_bytes().to_vec(),
    }
}

/// A CK_BBOOL template entry.
pub fn flag(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attr {
    Attr {
        ty,
        value: vec![u8::from(v)],
    }
}

/// A byte-string template entry.
pub fn bytes(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attr {
    Attr {
        ty,
        value: v.to_vec(),
    }
}
