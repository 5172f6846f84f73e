//! Key usage counters (CKA_KEYWARD_USE_COUNT / LAST_USED), batched in
//! memory so a signature costs no database write: flushed when one of the
//! per-thread shards holds [`FLUSH_EVERY`] uses, at logout, session close
//! and finalize. A process killed without finalizing loses at most that
//! many counts per shard (8 shards).

use std::collections::HashMap;

use crate::idhash::IdMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Token;
use crate::error::{Error, Result};

/// Operations counted in memory before they are written.
pub const FLUSH_EVERY: u64 = 256;

/// Counts of one shard: object id → (uses, last use in seconds), and how
/// many uses it holds in all.
#[derive(Default)]
struct Shard {
    uses: IdMap<i64, (u64, u64)>,
    total: u64,
}

/// How many shards: enough that threads on different sessions rarely
/// share one; each is padded to its own cache line.
const SHARDS: usize = 8;

#[repr(align(64))]
#[derive(Default)]
struct Padded(Mutex<Shard>);

/// Uses counted in memory, in shards so threads counting at the same time
/// neither wait for one lock nor write one cache line; a shard that holds
/// [`FLUSH_EVERY`] uses flushes them all.
#[derive(Default)]
pub(super) struct Pending {
    shards: [Padded; SHARDS],
}

thread_local! {
    /// This thread's shard, given round-robin at its first count.
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lock(shard: &Padded) -> Result<std::sync::MutexGuard<'_, Shard>> {
    shard.0.lock().map_err(|_| Error::GeneralError)
}

impl Token {
    /// Counts one use of token object `id`.
    pub fn note_use(&self, id: i64) -> Result<()> {
        let pending = &self.usage;
        let full = {
            let [first, ..] = &pending.shards;
            let mut shard = lock(pending.shards.get(SHARD.with(|s| *s)).unwrap_or(first))?;
            let entry = shard.uses.entry(id).or_insert((0, 0));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now_secs();
            shard.total = shard.total.saturating_add(1);
            shard.total >= FLUSH_EVERY
        };
        if full {
            // Counts are statistics: a write that fails (the store out of
            // reach, a full disk) keeps them for the next flush and never
            // fails the operation that was counted.
            let _ = self.flush_usage();
        }
        Ok(())
    }

    /// Writes the counts gathered so far (one transaction), outside the
    /// counters' locks so other sessions keep counting meanwhile. If the
    /// write fails, the counts go back into memory (the next flush point
    /// tries again: after another [`FLUSH_EVERY`] uses, at logout, session
    /// close or finalize) and the error is returned.
    pub fn flush_usage(&self) -> Result<()> {
        let mut merged: HashMap<i64, (u64, u64)> = HashMap::new();
        for shard in &self.usage.shards {
            let mut shard = lock(shard)?;
            shard.total = 0;
            for (id, (n, last)) in shard.uses.drain() {
                let entry = merged.entry(id).or_insert((0, 0));
                entry.0 = entry.0.saturating_add(n);
                entry.1 = entry.1.max(last);
            }
        }
        if merged.is_empty() {
            return Ok(());
        }
        let uses: Vec<(i64, u64, u64)> = merged
            .into_iter()
            .map(|(id, (n, last))| (id, n, last))
            .collect();
        let written = self.db.add_usage(&uses);
        if written.is_err() {
            self.keep_unwritten(&uses)?;
        }
        written
    }

    /// Puts counts whose write failed back into a shard, to be written
    /// with the next flush. The shard's total stays as it is, so the next
    /// try comes after another [`FLUSH_EVERY`] uses, not at every use.
    fn keep_unwritten(&self, uses: &[(i64, u64, u64)]) -> Result<()> {
        let [first, ..] = &self.usage.shards;
        let mut shard = lock(first)?;
        for (id, n, last) in uses {
            let entry = shard.uses.entry(*id).or_insert((0, 0));
            entry.0 = entry.0.saturating_add(*n);
            entry.1 = entry.1.max(*last);
        }
        Ok(())
    }

    /// Use count and last use (seconds; 0 = never) of token object `id`,
    /// stored plus not yet flushed.
    pub fn usage_of(&self, id: i64) -> Result<(u64, u64)> {
        let (stored, last) = self.db.usage(id)?;
        let (mut n, mut l) = (0u64, 0u64);
        for shard in &self.usage.shards {
            if let Some((count, last)) = lock(shard)?.uses.get(&id) {
                n = n.saturating_add(*count);
                l = l.max(*last);
            }
        }
        Ok((stored.saturating_add(n), last.max(l)))
    }
}
