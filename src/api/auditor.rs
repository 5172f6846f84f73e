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

#[cfg(test)]
mod tests {
    use cryptoki_sys::*;

    use super::Library;
    use crate::config::Config;
    use crate::error::Error;
    use crate::store::audit::AuditFilter;

    const SO_PIN: &[u8] = b"so-pin-1";
    const USER_PIN: &[u8] = b"user-pin-1";
    const PASS: &[u8] = b"auditor-pass";

    fn ready(dir: &std::path::Path) -> (Library, CK_SESSION_HANDLE) {
        let config =
            Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
        let lib = Library::new(config).unwrap();
        let mut label = [b' '; 32];
        label[0] = b't';
        lib.init_token(0, SO_PIN, &label).unwrap();
        let h = lib
            .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .unwrap();
        lib.login(h, CKU_SO, SO_PIN).unwrap();
        lib.init_pin(h, USER_PIN).unwrap();
        lib.logout(h).unwrap();
        (lib, h)
    }

    #[test]
    fn the_auditor_checks_macs_and_opens_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (lib, h) = ready(dir.path());
        assert_eq!(lib.auditor(0).unwrap(), None);
        assert_eq!(
            lib.audit_verify_as_auditor(0, PASS).err(),
            Some(Error::UserTypeInvalid)
        );
        assert_eq!(
            lib.set_auditor(0, b"wrong-so", "carol", PASS).err(),
            Some(Error::PinIncorrect)
        );
        lib.set_auditor(0, SO_PIN, "carol", PASS).unwrap();
        let info = lib.auditor(0).unwrap().unwrap();
        assert_eq!(info.name, "carol");
        assert!(info.set_ms.is_some());

        // Without a login the trail's MACs go unchecked; the auditor
        // checks every one of them.
        let public = lib.audit_verify(0).unwrap();
        assert_eq!(public.authenticated, 0);
        let v = lib.audit_verify_as_auditor(0, PASS).unwrap();
        assert!(v.ok(), "{:?}", v.findings);
        assert_eq!(v.records, public.records);
        // The wrong SO PIN left one unauthenticated record (login_failed).
        assert_eq!(v.authenticated, v.records - 1);

        // A wrong passphrase is refused and recorded.
        assert_eq!(
            lib.audit_verify_as_auditor(0, b"auditor-pasS").err(),
            Some(Error::PinIncorrect)
        );
        let filter = AuditFilter {
            event: Some("auditor_check_failed".into()),
            ..AuditFilter::default()
        };
        assert_eq!(lib.audit_rows(0, &filter).unwrap().len(), 1);

        // The passphrase is neither PIN.
        for user in [CKU_USER, CKU_SO] {
            assert_eq!(lib.login(h, user, PASS).err(), Some(Error::PinIncorrect));
        }
        // Removed by the SO only.
        assert_eq!(lib.remove_auditor(0, PASS).err(), Some(Error::PinIncorrect));
        assert!(lib.remove_auditor(0, SO_PIN).unwrap());
        assert_eq!(lib.auditor(0).unwrap(), None);
    }
}
