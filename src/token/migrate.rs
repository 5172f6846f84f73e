//! `keyward token migrate`: the token copied, as sealed bytes, into
//! another store (a directory's SQLite file, or a PostgreSQL schema), then
//! checked there: the SO PIN opens the target's master key and every sealed
//! row opens under it.

use super::{Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::store::db::{Role, TokenDb};
use crate::store::seal::{open_row, unwrap_master_key};

/// What a migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub objects: u64,
    pub audit_records: u64,
    /// Sealed rows opened on the target with the master key its SO PIN
    /// record unwraps.
    pub verified: u64,
}

impl Token {
    /// Where this token's rows live, for messages.
    pub fn store_description(&self) -> String {
        self.db.describe()
    }

    /// Copies this token into the store `open_target` opens (which must
    /// hold no token and no audit trail), recording the move on both audit
    /// chains, and verifies the copy. Needs the SO PIN (counted like any
    /// login), checked before the target is opened, so that a wrong one
    /// creates nothing there. Returns the target with what was done.
    pub fn migrate(
        &self,
        open_target: &mut dyn FnMut() -> Result<TokenDb>,
        so_pin: &[u8],
    ) -> Result<(Migrated, TokenDb)> {
        let (mk, _) = self.verify_pin(Role::So, so_pin, "token migration")?;
        let target = open_target()?;
        let done = self.migrate_into(&mk, &target, so_pin)?;
        Ok((done, target))
    }

    fn migrate_into(
        &self,
        mk: &crate::store::seal::MasterKey,
        target: &TokenDb,
        so_pin: &[u8],
    ) -> Result<Migrated> {
        let key = self.load_audit_key(mk)?;
        let to = Event::new("token_migrated").detail(format!("copied to {}", target.describe()));
        let from =
            Event::new("token_migrated").detail(format!("copied from {}", self.db.describe()));
        let to = self.entry_as(Login::So, key.clone(), &to, None);
        let from = self.entry_as(Login::So, key, &from, None);
        let copied = self.db.migrate_to(target, &to, &from)?;

        let meta = target.meta()?.ok_or(Error::TokenNotRecognized)?;
        let record = meta.so_pin.ok_or(Error::TokenNotRecognized)?;
        let target_mk = unwrap_master_key(so_pin, Role::So.byte(), &record)
            .map_err(|_| Error::DeviceError.because(&"the copied SO PIN record does not open"))?;
        let mut verified = 0;
        for id in target.object_ids()? {
            let row = target.object(id)?.ok_or(Error::DeviceError)?;
            if row.sealed.is_empty() {
                continue;
            }
            open_row(&target_mk, &row).map_err(|_| {
                Error::DeviceError.because(&format_args!("copied object {id} does not unseal"))
            })?;
            verified += 1;
        }
        Ok(Migrated {
            objects: copied.objects,
            audit_records: copied.audit_records,
            verified,
        })
    }
}
