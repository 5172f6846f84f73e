//! Token-wide administration with no PKCS#11 verb: master-key rotation
//! and backups. Both are audited.

use super::{Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::mechanism;
use crate::store::backup::{self, BackupError, BackupInfo};
use crate::store::seal::{AuditKey, MasterKey};
use crate::store::sqlite::Role;

impl Token {
    /// Re-seals every object under a fresh master key in one transaction
    /// (a crash leaves the token fully old or fully new). Needs the SO PIN
    /// and, when one is set, the user PIN: the new key is wrapped under
    /// both. Every process logged in under the old key is logged out.
    pub fn rotate_master_key(
        &self,
        so_pin: &[u8],
        user_pin: Option<&[u8]>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let meta = self.db.meta()?.ok_or(Error::TokenNotRecognized)?;
        let (old, old_epoch) = self.verify_pin(Role::So, so_pin, "master-key rotation")?;
        let user_pin = match (&meta.user_pin, user_pin) {
            (Some(_), Some(pin)) => {
                self.verify_pin(Role::User, pin, "master-key rotation")?;
                Some(pin)
            }
            (Some(_), None) => return Err(Error::UserNotLoggedIn),
            (None, _) => None,
        };
        let new = MasterKey::generate()?;
        let so_rec = self.wrap_pin(&new, so_pin, Role::So)?;
        let user_rec = match user_pin {
            Some(pin) => Some(self.wrap_pin(&new, pin, Role::User)?),
            None => None,
        };
        let audit_key = self
            .load_audit_key(&old)?
            .map_or_else(AuditKey::generate, Ok)?;
        let mut epoch = [0u8; 8];
        mechanism::random(&mut epoch)?;
        let ev =
            Event::new("master_key_rotate").detail("every object re-sealed under a new master key");
        let entry = self.entry_as(Login::So, Some(audit_key.clone()), &ev, None);
        // `old` and the audit key are the ones of `old_epoch`: checked
        // again inside the rotation's transaction.
        let n = self.db.rekey_at(
            &old,
            &new,
            &so_rec,
            user_rec.as_ref(),
            i64::from_le_bytes(epoch),
            Some(old_epoch),
            &audit_key.wrap(&new)?,
            &entry,
            progress,
        )?;
        self.db.checkpoint();
        self.logout()?;
        Ok(n)
    }

    /// An encrypted snapshot of this token, taken while others use it. The
    /// record of the backup is written first, so the backup holds it.
    pub fn backup(
        &self,
        out: &std::path::Path,
        passphrase: &[u8],
        kdf_iterations: u32,
        progress: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<BackupInfo, BackupError> {
        let ev = Event::new("backup").detail(format!("to {}", out.display()));
        self.audit(&ev, None).map_err(BackupError::Store)?;
        backup::create(&self.path, out, passphrase, kdf_iterations, progress)
    }
}

/// Restores a backup as slot `slot_id`'s token file `dest` and records
/// the restore in the restored trail.
pub fn restore(
    slot_id: u64,
    file: &std::path::Path,
    passphrase: &[u8],
    dest: &std::path::Path,
    replace: bool,
) -> std::result::Result<BackupInfo, BackupError> {
    let info = backup::restore(file, passphrase, dest, replace)?;
    let db = crate::store::sqlite::TokenDb::open(dest).map_err(BackupError::Store)?;
    let ev = Event::new("restore").detail(format!(
        "from {} (taken {})",
        file.display(),
        crate::audit::format_ms(
            i64::try_from(info.created)
                .unwrap_or(0)
                .saturating_mul(1000)
        )
    ));
    let entry = super::audit::entry(&ev, slot_id, "admin", None, None);
    db.append_audit(&entry).map_err(BackupError::Store)?;
    Ok(info)
}
