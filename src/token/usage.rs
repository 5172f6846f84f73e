//! Key usage counters (CKA_KEYWARD_USE_COUNT / LAST_USED), batched in
//! memory so a signature costs no database write: flushed when one of the
//! per-thread shards holds [`FLUSH_EVERY`] uses and the last flush is at
//! least [`FLUSH_INTERVAL_MS`] old, and at logout, session close and
//! finalize. A process killed without finalizing loses the uses of the
//! last [`FLUSH_INTERVAL_MS`], or [`FLUSH_EVERY`] per shard (8 shards),
//! whichever is more. The interval keeps fast operations (an HMAC takes
//! under a microsecond) from paying a write per 256 uses — a network round
//! trip, and the token's writer lock, on a shared PostgreSQL store.

use std::collections::HashMap;

use crate::idhash::IdMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Token;
use crate::error::{Error, Result};

/// Operations counted in memory before they are written.
pub const FLUSH_EVERY: u64 = 256;
/// The shortest time between two flushes made because a shard is full.
pub const FLUSH_INTERVAL_MS: u64 = 1000;

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
    /// When a full shard last started a flush (Unix ms; 0: never).
    last_flush_ms: AtomicU64,
}

impl Pending {
    /// Whether a full shard may flush now: [`FLUSH_INTERVAL_MS`] passed
    /// since the last such flush. One thread wins the slot.
    fn flush_due(&self) -> bool {
        let now = now_ms();
        let last = self.last_flush_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= FLUSH_INTERVAL_MS
            && self
                .last_flush_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
            // Counted again from zero either way: the clock is read once
            // per FLUSH_EVERY uses, not at every use.
            shard.total >= FLUSH_EVERY && {
                shard.total = 0;
                true
            }
        };
        if full && pending.flush_due() {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A full shard flushes at most once per interval: the first one at
    /// once, the next not before the interval has passed.
    #[test]
    fn full_shards_flush_at_most_once_per_interval() {
        let pending = Pending::default();
        assert!(pending.flush_due(), "the first flush is due at once");
        assert!(!pending.flush_due(), "not again within the interval");
        pending.last_flush_ms.store(
            now_ms().saturating_sub(FLUSH_INTERVAL_MS),
            Ordering::Relaxed,
        );
        assert!(pending.flush_due(), "due once the interval has passed");
    }
}
