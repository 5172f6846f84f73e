//! The auditor role (issue 15): a passphrase that unwraps the audit key
//! and nothing else, so the people who check the trail are not the people
//! who hold the keys. Set and removed by the SO; used only to verify the
//! trail's MACs. It never unwraps the master key: it cannot log in, use a
//! key or change anything.

use super::quorum::Subject;
use super::{Login, Token};
use crate::audit::{Event, Verdict};
use crate::error::{Error, Result};
use crate::quorum::Op;
use crate::store::audit::AuditFilter;
use crate::store::seal::auditor::{self as seal_auditor, AuditorRecord};
use crate::store::sqlite::Role;

/// The role audit records written by the auditor name.
pub const AUDITOR_ROLE: &str = "auditor";

/// What `keyward auditor show` prints: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditorInfo {
    pub name: String,
    /// Time (ms) of the latest `auditor_set` record, if the trail has it.
    pub set_ms: Option<i64>,
}

impl Token {
    /// Makes `name` the token's auditor with `passphrase` (at least
    /// 8 characters, neither the SO nor the user PIN), replacing any
    /// auditor. Needs the SO PIN: it opens
    /// the master key, which opens the audit key, which is then wrapped
    /// under the passphrase. One function, so that a quorum rule over
    /// policy changes can gate it as a whole.
    pub fn set_auditor(&self, so_pin: &[u8], name: &str, passphrase: &[u8]) -> Result<()> {
        // Checked before the SO PIN, so bad arguments cost no SO PIN try.
        if !seal_auditor::name_ok(name) {
            return Err(Error::ArgumentsBad);
        }
        if !seal_auditor::passphrase_ok(passphrase) {
            return Err(Error::PinLenRange);
        }
        let (mk, _) = self.verify_pin(Role::So, so_pin, "setting the auditor")?;
        self.check_not_a_pin(so_pin, passphrase)?;
        self.authorize_with(
            &Subject {
                op: Op::Policy,
                target: format!("auditor-set:{name}"),
                marked: false,
                object: None,
            },
            Some(&mk),
        )?;
        let wrapped = self.db.audit_key_wrapped()?;
        let key = self.load_audit_key(&mk)?.ok_or(Error::Tampered)?;
        // A token made before the trail gets its audit key just now.
        let wrapped = match wrapped {
            Some(w) => w,
            None => self.db.audit_key_wrapped()?.ok_or(Error::Tampered)?,
        };
        let rec =
            seal_auditor::wrap_for_auditor(&key, name, passphrase, self.policy.kdf_iterations)?;
        let ev = Event::new("auditor_set").detail(format!("auditor {name}"));
        let entry = self.entry_as(Login::So, Some(key), &ev, None);
        self.db.set_auditor(&rec, &wrapped, &entry)
    }

    /// A passphrase that is also the SO or the user PIN would let the
    /// auditor log in: refused ([`Error::PinInvalid`]). The user PIN is
    /// tried by unwrapping its record directly (one KDF run, no login, so
    /// no failure is counted against the user).
    fn check_not_a_pin(&self, so_pin: &[u8], passphrase: &[u8]) -> Result<()> {
        if passphrase == so_pin {
            return Err(Error::PinInvalid);
        }
        let user = self.db.meta()?.and_then(|m| m.user_pin);
        if let Some(rec) = user
            && crate::store::seal::unwrap_master_key(passphrase, Role::User.byte(), &rec).is_ok()
        {
            return Err(Error::PinInvalid);
        }
        Ok(())
    }

    /// Removes the auditor (needs the SO PIN); false when none was set.
    /// One function for the quorum hook, as [`Token::set_auditor`].
    pub fn remove_auditor(&self, so_pin: &[u8]) -> Result<bool> {
        let (mk, _) = self.verify_pin(Role::So, so_pin, "removing the auditor")?;
        self.authorize_with(
            &Subject {
                op: Op::Policy,
                target: "auditor-remove".into(),
                marked: false,
                object: None,
            },
            Some(&mk),
        )?;
        let key = self.load_audit_key(&mk)?.ok_or(Error::Tampered)?;
        let name = self.db.auditor()?.map(|a| a.name).unwrap_or_default();
        let ev = Event::new("auditor_removed").detail(format!("auditor {name}"));
        let entry = self.entry_as(Login::So, Some(key), &ev, None);
        self.db.remove_auditor(&entry)
    }

    /// The auditor's name and when it was set, if one is.
    pub fn auditor_info(&self) -> Result<Option<AuditorInfo>> {
        let Some(rec) = self.db.auditor()? else {
            return Ok(None);
        };
        let filter = AuditFilter {
            event: Some("auditor_set".to_string()),
            ..AuditFilter::default()
        };
        let set_ms = self.db.audit_rows(&filter)?.last().map(|r| r.time_ms);
        Ok(Some(AuditorInfo {
            name: rec.name,
            set_ms,
        }))
    }

    /// [`Token::audit_verify`] with the audit key the auditor's
    /// passphrase opens: the chain and every record's MAC, with no login.
    /// No auditor set is [`Error::UserTypeInvalid`]; a wrong passphrase is
    /// [`Error::PinIncorrect`] and is recorded (unauthenticated, role
    /// "auditor") as `auditor_check_failed`; an auditor set before the last
    /// token reset is [`Error::PinExpired`] (see
    /// [`Token::reset_since_set`]).
    ///
    /// There is no failure counter or lockout, unlike PINs: the passphrase
    /// opens only the audit key (it can check MACs, never use or change a
    /// key), and whoever can read the token file can run the KDF against
    /// the stored wrapping offline anyway, where no counter in that same
    /// file applies. Its strength is the passphrase (8 characters at least)
    /// and the PBKDF2 iterations; a lockout would only let anyone who can
    /// run the CLI lock the auditor out.
    pub fn audit_verify_as_auditor(&self, passphrase: &[u8]) -> Result<Verdict> {
        let rec = self.db.auditor()?.ok_or(Error::UserTypeInvalid)?;
        let key = match seal_auditor::unwrap_for_auditor(passphrase, &rec) {
            Ok(key) => key,
            Err(e) => {
                self.record_failed_check(&rec, e);
                return Err(e);
            }
        };
        if self.reset_since_set()?.is_some() {
            return Err(Error::PinExpired);
        }
        let (rows, head) = self.db.audit_trail()?;
        let witness = crate::audit::Witness {
            initialized: self.db.initialized()?,
            has_key: self.db.audit_key_wrapped()?.is_some(),
            key_unopened: false,
        };
        Ok(crate::audit::verify_token(
            &rows,
            head.as_ref(),
            Some(&key),
            witness,
        ))
    }

    /// The sequence number of a `token_reset` after the latest
    /// `auditor_set`, if any: a reset makes a new audit key (the old one was
    /// wrapped under the erased master key), so the auditor's wrapping
    /// holds a key that no longer authenticates anything new. Told apart
    /// from tampering, so the SO knows to set the auditor again.
    pub fn reset_since_set(&self) -> Result<Option<i64>> {
        let last = |event: &str| -> Result<Option<i64>> {
            let filter = AuditFilter {
                event: Some(event.to_string()),
                ..AuditFilter::default()
            };
            Ok(self.db.audit_rows(&filter)?.last().map(|r| r.seq))
        };
        let set = last("auditor_set")?.unwrap_or(0);
        Ok(last("token_reset")?.filter(|&reset| reset > set))
    }

    /// Best effort, like a failed login's record: the refusal stands even
    /// if the record cannot be written.
    fn record_failed_check(&self, rec: &AuditorRecord, e: Error) {
        let ev = Event::new("auditor_check_failed")
            .failed(e)
            .detail(format!("auditor {} passphrase for audit verify", rec.name));
        let entry = super::audit::entry(&ev, self.slot_id, AUDITOR_ROLE, None, None);
        let _ = self.db.append_audit_relaxed(&entry);
    }
}
