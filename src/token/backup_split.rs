//! A backup of the token split among custodians (`keyward backup create
//! --shares N --threshold M`): recorded in the audit trail first, like a
//! passphrase backup, so the backup holds its own record.

use super::Token;
use crate::audit::Event;
use crate::store::backup::{self, BackupError, SplitCreated, SplitRequest};

impl Token {
    /// Writes a backup sealed under a random key and its share files
    /// beside `out` (`store::backup::create_split`).
    pub fn backup_split(
        &self,
        out: &std::path::Path,
        req: &SplitRequest<'_>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<SplitCreated, BackupError> {
        let ev = Event::new("backup").detail(format!(
            "to {} split into {} shares, threshold {}",
            out.display(),
            req.count,
            req.threshold
        ));
        self.audit(&ev, None).map_err(BackupError::Store)?;
        backup::create_split_of(&self.db, &self.path, out, req, progress)
    }
}
