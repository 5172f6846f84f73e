//! A thin wrapper over `keyward::api::Library` for one command: the
//! library for the configured store, the chosen slot, and one R/W session
//! opened on first use and closed (logging out) on drop. Only `token init`
//! may create a store: every other command first checks that the store
//! exists, so a mistyped KEYWARD_STORE says "no token at PATH" instead of
//! silently making a new empty token there.

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

/// Checks the configured store before the library opens it (which would
/// create whatever is missing): its directory must be a readable
/// directory, and unless `create`, every slot's token file must exist.
/// The messages name the path and the OS error. Slots whose rows live in
/// a shared PostgreSQL store (`store = "postgres://…"`) have no file: the
/// library names a database it cannot reach when it opens the token.
pub fn check_store(config: &Config, create: bool) -> CliResult<()> {
    if config.slots.iter().all(|s| s.store.is_some()) {
        return Ok(());
    }
    let dir = &config.store_dir;
    let hint = "(KEYWARD_STORE, or store_dir in the KEYWARD_CONF file)";
    match std::fs::read_dir(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if create {
                return Ok(());
            }
            return Err(CliError::failure(format!(
                "no token at {}: the store directory does not exist {hint}; \
                 create a token with `keyward token init`",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(CliError::failure(format!(
                "cannot open the token store {}: {e} {hint}",
                dir.display()
            )));
        }
    }
    if create {
        return Ok(());
    }
    for slot in config.slots.iter().filter(|s| s.store.is_none()) {
        let path = config.token_path(slot.id);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(CliError::failure(format!(
                    "cannot open the token {}: not a regular file",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::failure(format!(
                    "no token at {} {hint}; create one with `keyward token init`",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(CliError::failure(format!(
                    "cannot open the token {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

impl Client {
    /// Opens the existing store the module would use (KEYWARD_CONF,
    /// KEYWARD_STORE) on `slot`, or on the first configured slot; a
    /// missing store is an error, never created.
    pub fn new(slot: Option<CK_SLOT_ID>) -> CliResult<Client> {
        Client::open(slot, false)
    }

    /// As `new`, but creates the store when missing (`token init`).
    pub fn create(slot: Option<CK_SLOT_ID>) -> CliResult<Client> {
        Client::open(slot, true)
    }

    fn open(slot: Option<CK_SLOT_ID>, create: bool) -> CliResult<Client> {
        let config =
            Config::from_env().map_err(|e| CliError::ck("cannot load the configuration", "", e))?;
        check_store(&config, create)?;
        let dir = config.store_dir.clone();
        let lib = Library::new(config).map_err(|e| {
            CliError::ck(
                &format!("cannot open the token store {}", dir.display()),
                "",
                e,
            )
        })?;
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
            Err(e) => Err(self.pin_error("login failed", role, e)),
        }
    }

    /// A PIN failure with what the token says about the rule: how many
    /// tries remain after a wrong PIN (from the token's COUNT_LOW,
    /// FINAL_TRY and LOCKED flags), and the length range after a PIN of
    /// the wrong length.
    pub fn pin_error(&self, context: &str, role: &str, e: Error) -> CliError {
        let mut err = CliError::ck(context, role, e);
        let Ok(info) = self.lib.token_info(self.slot) else {
            return err;
        };
        let so = role.ends_with("SO");
        let max = self.lib.config().max_pin_failures;
        let hint = match e {
            Error::PinIncorrect => {
                let [low, last, locked] = if so {
                    [
                        CKF_SO_PIN_COUNT_LOW,
                        CKF_SO_PIN_FINAL_TRY,
                        CKF_SO_PIN_LOCKED,
                    ]
                } else {
                    [
                        CKF_USER_PIN_COUNT_LOW,
                        CKF_USER_PIN_FINAL_TRY,
                        CKF_USER_PIN_LOCKED,
                    ]
                };
                let who = if so { "SO" } else { "user" };
                tries_left(info.flags, [low, last, locked], max, who)
            }
            // (A locked SO PIN: `token init` names `token reset` itself.)
            Error::PinLocked if !so => {
                Some("the SO can set a new user PIN with `keyward pin unlock`".to_string())
            }
            Error::PinLenRange => Some(format!(
                "a PIN on this token has {} to {} characters",
                info.ulMinPinLen, info.ulMaxPinLen
            )),
            _ => None,
        };
        if let Some(hint) = hint {
            err.message.push_str("; ");
            err.message.push_str(&hint);
        }
        err
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

/// What the token's flags say of the tries left after a wrong PIN.
fn tries_left(
    flags: CK_FLAGS,
    [low, last, locked]: [CK_FLAGS; 3],
    max: u32,
    who: &str,
) -> Option<String> {
    if flags & locked != 0 {
        let fix = if who == "SO" {
            "`keyward token reset` (erases every key)"
        } else {
            "`keyward pin unlock` (by the SO)"
        };
        Some(format!(
            "the {who} PIN is now locked after {max} failures in a row; recover with {fix}"
        ))
    } else if flags & last != 0 {
        Some(format!(
            "1 try left before the {who} PIN locks (the token's FINAL_TRY flag)"
        ))
    } else if flags & low != 0 {
        Some(format!(
            "at most {} tries left before the {who} PIN locks ({max} failures in a row lock \
             it; a correct PIN resets the count)",
            max.saturating_sub(1)
        ))
    } else {
        None
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
