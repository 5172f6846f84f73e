//! Key usage counters (CKA_KEYWARD_USE_COUNT / LAST_USED), batched in
//! memory so a signature costs no database write: flushed every
//! [`FLUSH_EVERY`] operations, at logout, session close and finalize.
//! A process killed without finalizing loses at most that many counts.

use std::collections::HashMap;

use super::Token;
use crate::error::{Error, Result};

/// Operations counted in memory before they are written.
pub const FLUSH_EVERY: u64 = 256;

#[derive(Default)]
pub(super) struct Pending {
    /// object id → (uses, last use in seconds)
    uses: HashMap<i64, (u64, u64)>,
    total: u64,
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Token {
    fn pending(&self) -> Result<std::sync::MutexGuard<'_, Pending>> {
        self.usage.lock().map_err(|_| Error::GeneralError)
    }

    /// Counts one use of token object `id`.
    pub fn note_use(&self, id: i64) -> Result<()> {
        let full = {
            let mut p = self.pending()?;
            let entry = p.uses.entry(id).or_insert((0, 0));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now_secs();
            p.total = p.total.saturating_add(1);
            p.total >= FLUSH_EVERY
        };
        if full { self.flush_usage() } else { Ok(()) }
    }

    /// Writes the counts gathered so far (one transaction), outside the
    /// counters' lock so other sessions keep counting meanwhile.
    pub fn flush_usage(&self) -> Result<()> {
        let uses: Vec<(i64, u64, u64)> = {
            let mut p = self.pending()?;
            p.total = 0;
            p.uses
                .drain()
                .map(|(id, (n, last))| (id, n, last))
                .collect()
        };
        if uses.is_empty() {
            return Ok(());
        }
        self.db.add_usage(&uses)
    }

    /// Use count and last use (seconds; 0 = never) of token object `id`,
    /// stored plus not yet flushed.
    pub fn usage_of(&self, id: i64) -> Result<(u64, u64)> {
        let (stored, last) = self.db.usage(id)?;
        let (n, l) = self.pending()?.uses.get(&id).copied().unwrap_or((0, 0));
        Ok((stored.saturating_add(n), last.max(l)))
    }
}
