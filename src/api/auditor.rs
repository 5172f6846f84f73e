//! The auditor role through the façade (issue 15): set, remove, show the
//! auditor, and verify the audit trail with the auditor's passphrase. No
//! session or login is involved: the auditor never logs in.

use cryptoki_sys::CK_SLOT_ID;

use super::Library;
use crate::error::Result;
use crate::token::auditor::AuditorInfo;

impl Library {
    /// See [`crate::token::Token::set_auditor`].
    pub fn set_auditor(
        &self,
        slot: CK_SLOT_ID,
        so_pin: &[u8],
        name: &str,
        passphrase: &[u8],
    ) -> Result<()> {
        self.slot(slot)?.1.set_auditor(so_pin, name, passphrase)
    }

    /// See [`crate::token::Token::remove_auditor`].
    pub fn remove_auditor(&self, slot: CK_SLOT_ID, so_pin: &[u8]) -> Result<bool> {
        self.slot(slot)?.1.remove_auditor(so_pin)
    }

    /// The slot's auditor, if one is set (no PIN needed: nothing secret).
    pub fn auditor(&self, slot: CK_SLOT_ID) -> Result<Option<AuditorInfo>> {
        self.slot(slot)?.1.auditor_info()
    }

    /// See [`crate::token::Token::audit_verify_as_auditor`].
    pub fn audit_verify_as_auditor(
        &self,
        slot: CK_SLOT_ID,
        passphrase: &[u8],
    ) -> Result<crate::audit::Verdict> {
        self.slot(slot)?.1.audit_verify_as_auditor(passphrase)
    }
}
