//! The `Library` side of restoring a backup over a live token (the CLI's
//! `backup restore`): in-use detection, the loss report and the restore
//! itself; the work is in `crate::token::restore`.

use cryptoki_sys::CK_SLOT_ID;

use super::Library;
use crate::error::Result;
use crate::store::BackupError;
use crate::token::RestorePlan;

impl Library {
    /// Whether another process (or a forked child) has the slot's token
    /// open. When not, this library holds the token's presence lock
    /// exclusively until [`Library::release_token`].
    pub fn token_in_use(&self, slot: CK_SLOT_ID) -> Result<bool> {
        self.slot(slot)?.1.others_present()
    }

    /// Gives back the exclusive presence lock of [`Library::token_in_use`].
    pub fn release_token(&self, slot: CK_SLOT_ID) -> Result<()> {
        self.slot(slot)?.1.release_exclusive();
        Ok(())
    }

    /// See [`crate::token::Token::plan_restore`].
    pub fn plan_restore(
        &self,
        slot: CK_SLOT_ID,
        file: &std::path::Path,
        passphrase: &[u8],
        so_pin: &[u8],
        backup_so_pin: Option<&[u8]>,
        keep: &[String],
    ) -> std::result::Result<RestorePlan, BackupError> {
        let token = self.slot(slot).map_err(BackupError::Store)?.1;
        token.plan_restore(file, passphrase, so_pin, backup_so_pin, keep)
    }

    /// See [`crate::token::Token::plan_restore_with`].
    pub fn plan_restore_with(
        &self,
        slot: CK_SLOT_ID,
        file: &std::path::Path,
        unlock: crate::store::backup::Unlock<'_>,
        so_pin: &[u8],
        backup_so_pin: Option<&[u8]>,
        keep: &[String],
    ) -> std::result::Result<RestorePlan, BackupError> {
        let token = self.slot(slot).map_err(BackupError::Store)?.1;
        token.plan_restore_with(file, unlock, so_pin, backup_so_pin, keep)
    }

    /// See [`crate::token::Token::apply_restore`]. Every session of this
    /// library on the slot is logged out with it.
    pub fn apply_restore(
        &self,
        slot: CK_SLOT_ID,
        plan: RestorePlan,
    ) -> std::result::Result<(), BackupError> {
        let token = self.slot(slot).map_err(BackupError::Store)?.1;
        token.apply_restore(plan)
    }

    /// See [`crate::token::Token::migrate`].
    pub fn migrate(
        &self,
        slot: CK_SLOT_ID,
        open_target: &mut dyn FnMut() -> Result<crate::store::TokenDb>,
        so_pin: &[u8],
    ) -> Result<(crate::token::Migrated, crate::store::TokenDb)> {
        self.slot(slot)?.1.migrate(open_target, so_pin)
    }

    /// Where the slot's rows live (a file path, or a database without its
    /// password), for messages.
    pub fn store_description(&self, slot: CK_SLOT_ID) -> Result<String> {
        Ok(self.slot(slot)?.1.store_description())
    }
}
