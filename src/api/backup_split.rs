//! The `Library` entry of backups split among custodians.

use cryptoki_sys::CK_SLOT_ID;

use super::Library;
use crate::store::BackupError;
use crate::store::backup::{SplitCreated, SplitRequest};

impl Library {
    /// A backup of a slot's token sealed under a random key split into
    /// shares (see [`crate::token::Token::backup_split`]); protected shares
    /// use the configured PIN iteration count unless `req` sets one.
    pub fn backup_token_split(
        &self,
        slot: CK_SLOT_ID,
        out: &std::path::Path,
        req: &SplitRequest<'_>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<SplitCreated, BackupError> {
        let token = self.slot(slot).map_err(BackupError::Store)?.1;
        let req = SplitRequest {
            iterations: if req.iterations == 0 {
                self.config.pin_kdf_iterations
            } else {
                req.iterations
            },
            ..*req
        };
        token.backup_split(out, &req, progress)
    }
}
