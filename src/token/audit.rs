//! The token's side of the audit trail: who and when (slot, role, pid,
//! time) and the audit key, added to what the caller says happened.

use super::{Login, Token};
use crate::audit::{Event, now_ms};
use crate::error::Result;
use crate::object::Object;
use crate::store::audit::AuditEntry;
use crate::store::seal::{AuditKey, MasterKey};

pub(super) fn role_name(login: Login) -> &'static str {
    match login {
        Login::Public => "public",
        Login::User => "user",
        Login::So => "so",
    }
}

/// The stored form of `ev`: the JSON record and its index columns.
pub fn entry(
    ev: &Event,
    slot: u64,
    role: &str,
    key: Option<AuditKey>,
    object: Option<(i64, &Object)>,
) -> AuditEntry {
    let time_ms = now_ms();
    let record = ev.record(time_ms, slot, role, object);
    // Serializing a struct of strings and integers cannot fail; an empty
    // body would still be chained, and flagged by verify.
    let body = serde_json::to_vec(&record).unwrap_or_default();
    AuditEntry {
        time_ms,
        event: ev.kind.to_string(),
        object: object.map(|(id, _)| id),
        body,
        key,
    }
}

impl Token {
    /// A record of `ev` about `object`, as the current login.
    pub fn audit_entry(&self, ev: &Event, object: Option<(i64, &Object)>) -> Result<AuditEntry> {
        let (role, key) = {
            let state = self.login_state()?;
            (state.login, state.audit_key.clone())
        };
        Ok(self.entry_as(role, key, ev, object))
    }

    pub(super) fn entry_as(
        &self,
        role: Login,
        key: Option<AuditKey>,
        ev: &Event,
        object: Option<(i64, &Object)>,
    ) -> AuditEntry {
        entry(ev, self.slot_id, role_name(role), key, object)
    }

    /// Records an event that changes nothing stored (a wrap, a refusal, a
    /// failed login, a backup, a crypto operation when those are audited).
    /// Committed before this returns, so the caller acts (hands out the
    /// wrapped bytes) only once the record is in the WAL; it commits with
    /// `synchronous = NORMAL` (no fsync of its own: docs/AUDIT.md).
    pub fn audit(&self, ev: &Event, object: Option<(i64, &Object)>) -> Result<()> {
        let entry = self.audit_entry(ev, object)?;
        self.db.append_audit_relaxed(&entry).map(drop)
    }

    /// Whether each cryptographic operation is recorded (off by default:
    /// one write per signature would cost more than the signature).
    pub fn audits_crypto_ops(&self) -> bool {
        self.audit_crypto_ops
    }

    /// The audit key under `mk`: the stored one, or a new one stored now
    /// (tokens made before the audit trail existed).
    pub(super) fn load_audit_key(&self, mk: &MasterKey) -> Result<Option<AuditKey>> {
        match self.db.audit_key_wrapped()? {
            Some(wrapped) => Ok(AuditKey::unwrap(mk, &wrapped).ok()),
            None => {
                let key = AuditKey::generate()?;
                self.db.set_audit_key(&key.wrap(mk)?)?;
                Ok(Some(key))
            }
        }
    }

    /// The audit key, while someone is logged in.
    pub fn audit_key(&self) -> Result<Option<AuditKey>> {
        Ok(self.login_state()?.audit_key.clone())
    }
}

impl Token {
    /// Records matching `filter`, oldest first.
    pub fn audit_rows(
        &self,
        filter: &crate::store::audit::AuditFilter,
    ) -> Result<Vec<crate::store::audit::AuditRow>> {
        self.db.audit_rows(filter)
    }

    /// Checks the whole trail; MACs too while someone is logged in.
    pub fn audit_verify(&self) -> Result<crate::audit::Verdict> {
        let (rows, head) = self.db.audit_trail()?;
        let key = self.audit_key()?;
        let has_key = self.db.audit_key_wrapped()?.is_some();
        let witness = crate::audit::Witness {
            initialized: self.db.initialized()?,
            has_key,
            // Logged in without an audit key: the stored one did not open.
            key_unopened: has_key && key.is_none() && self.master_key()?.is_some(),
        };
        Ok(crate::audit::verify_token(
            &rows,
            head.as_ref(),
            key.as_ref(),
            witness,
        ))
    }
}
