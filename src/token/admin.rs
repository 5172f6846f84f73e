//! Token-wide administration with no PKCS#11 verb: master-key rotation
//! and backups. Both are audited.

use super::quorum::Subject;
use super::{Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::mechanism;
use crate::quorum::Op;
use crate::store::backup::{self, BackupError, BackupInfo};
use crate::store::rekey::{RotateOptions, RotationKeys, RotationStart};
use crate::store::seal::{self, AuditKey, StepDirection};
use crate::store::sqlite::Role;

impl Token {
    /// Rotates the master key without logging anyone out, with the
    /// default [`RotateOptions`] (see [`Token::rotate_master_key_with`]).
    pub fn rotate_master_key(
        &self,
        so_pin: &[u8],
        user_pin: Option<&[u8]>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        self.rotate_master_key_with(so_pin, user_pin, RotateOptions::default(), progress)
    }

    /// Replaces the master key by a fresh one. Needs the SO PIN and, when
    /// one is set, the user PIN: the new key is wrapped under both. The
    /// first transaction switches the token to the new key (epoch, PIN
    /// records, audit key) and stores the step from the old key to the new
    /// one, so processes logged in under the old key follow by themselves
    /// (unless `options.logout_all`); then rows are re-sealed
    /// `options.batch` per transaction (no other process waits longer than
    /// one batch); the last transaction ends the rotation. Every row is
    /// checked to open before anything changes. An unfinished rotation (a
    /// crash) is resumed instead of starting a new one, and needs only the
    /// SO PIN. Returns how many rows this call re-sealed.
    pub fn rotate_master_key_with(
        &self,
        so_pin: &[u8],
        user_pin: Option<&[u8]>,
        options: RotateOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        let batch = options.batch.max(1);
        let meta = self.db.meta()?.ok_or(Error::TokenNotRecognized)?;
        let (current, epoch) = self.verify_pin(Role::So, so_pin, "master-key rotation")?;
        let audit_key = self
            .load_audit_key(&current)?
            .map_or_else(AuditKey::generate, Ok)?;
        let done_event = Event::new("master_key_rotated")
            .detail("every object is sealed under the new master key; the old one is forgotten");
        let done = || self.entry_as(Login::So, Some(audit_key.clone()), &done_event, None);
        if let Some(rot) = self.db.key_state()?.rotation {
            // Interrupted: the SO PIN record already wraps the new key,
            // which unwraps the old one.
            if rot.to != epoch {
                return Err(Error::UserNotLoggedIn);
            }
            let old = seal::unwrap_step(
                &current,
                StepDirection::Previous,
                rot.to,
                rot.from,
                &rot.previous,
            )?;
            let n = self.db.run_rotation(
                RotationKeys {
                    old: &old,
                    old_epoch: rot.from,
                    new: &current,
                    new_epoch: rot.to,
                },
                batch,
                &done,
                progress,
            )?;
            self.db.checkpoint();
            return Ok(n);
        }
        self.authorize_with(
            &Subject {
                op: Op::RotateMasterKey,
                target: self.token_target("token")?,
                marked: false,
                object: None,
            },
            Some(&current),
        )?;
        let user_pin = match (&meta.user_pin, user_pin) {
            (Some(_), Some(pin)) => {
                self.verify_pin(Role::User, pin, "master-key rotation")?;
                Some(pin)
            }
            (Some(_), None) => return Err(Error::UserNotLoggedIn),
            (None, _) => None,
        };
        // A damaged row stops the rotation before anything changes (a read
        // transaction: nobody waits for it).
        self.db.check_sealed_under(&current, epoch)?;
        let new = current.rotated()?;
        let quorum = self.quorum_rekeyed(Some(&current), &new)?;
        let so_rec = self.wrap_pin(&new, so_pin, Role::So)?;
        let user_rec = match user_pin {
            Some(pin) => Some(self.wrap_pin(&new, pin, Role::User)?),
            None => None,
        };
        let mut raw = [0u8; 8];
        mechanism::random(&mut raw)?;
        let new_epoch = i64::from_le_bytes(raw);
        let ev = Event::new("master_key_rotate").detail(if options.logout_all {
            "new master key; objects are re-sealed in batches; every logged-in process must log in again"
        } else {
            "new master key; objects are re-sealed in batches, logged-in processes follow"
        });
        let entry = self.entry_as(Login::So, Some(audit_key.clone()), &ev, None);
        // `current` and the audit key are the ones of `epoch`: checked
        // again inside the first transaction.
        self.db.begin_rotation(&RotationStart {
            old_epoch: epoch,
            new_epoch,
            so_pin: &so_rec,
            user_pin: user_rec.as_ref(),
            next: if options.logout_all {
                None
            } else {
                Some(seal::wrap_step(
                    &current,
                    StepDirection::Next,
                    epoch,
                    new_epoch,
                    &new,
                )?)
            },
            previous: seal::wrap_step(&new, StepDirection::Previous, new_epoch, epoch, &current)?,
            audit_key: &audit_key.wrap(&new)?,
            quorum: quorum.as_ref(),
            record: &entry,
        })?;
        let n = self.db.run_rotation(
            RotationKeys {
                old: &current,
                old_epoch: epoch,
                new: &new,
                new_epoch,
            },
            batch,
            &done,
            progress,
        )?;
        self.db.checkpoint();
        Ok(n)
    }

    /// An encrypted snapshot of this token, taken while others use it. The
    /// record of the backup is written first, so the backup holds it. A
    /// token in PostgreSQL is copied into a temporary SQLite file first,
    /// so its backup has the same format.
    pub fn backup(
        &self,
        out: &std::path::Path,
        passphrase: &[u8],
        kdf_iterations: u32,
        progress: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<BackupInfo, BackupError> {
        let ev = Event::new("backup").detail(format!("to {}", out.display()));
        self.audit(&ev, None).map_err(BackupError::Store)?;
        backup::create_of(
            &self.db,
            &self.path,
            out,
            passphrase,
            kdf_iterations,
            progress,
        )
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
    restore_with(
        slot_id,
        file,
        backup::Unlock::Passphrase(passphrase),
        dest,
        replace,
    )
}

/// [`restore`] for either kind of backup.
pub fn restore_with(
    slot_id: u64,
    file: &std::path::Path,
    unlock: backup::Unlock<'_>,
    dest: &std::path::Path,
    replace: bool,
) -> std::result::Result<BackupInfo, BackupError> {
    let info = backup::restore_with(file, unlock, dest, replace)?;
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
