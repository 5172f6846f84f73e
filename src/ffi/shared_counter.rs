//! A token's change counter: 64 bits in a small file (`<token>-gen`) that
//! every process opening the token maps shared, so a commit made by one
//! process is seen by the others with one atomic load — the key cache's
//! "did the store change?" check (`TokenDb::stamp`, docs/PERFORMANCE.md).
//! Lives under src/ffi because mapping memory is the one `unsafe` step.
//!
//! The counter is a sequence lock whose writers may die. A writer marks the
//! counter odd while it holds SQLite's write lock, before its COMMIT, and
//! makes it even again after the COMMIT. An odd value means "a write may be
//! committing right now, or its writer died": nothing is trusted without a
//! row read until the next writer finishes. Values only grow.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

const LEN: usize = std::mem::size_of::<AtomicU64>();

pub struct SharedCounter {
    word: NonNull<AtomicU64>,
    // Kept open for the mapping's lifetime (not needed by mmap, but keeps
    // the file's identity obvious when debugging with lsof).
    _file: File,
}

// SAFETY: the mapping is only accessed through `AtomicU64`, which is Sync;
// the pointer stays valid until `Drop`.
unsafe impl Send for SharedCounter {}
// SAFETY: as above.
unsafe impl Sync for SharedCounter {}

impl std::fmt::Debug for SharedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedCounter({})", self.load())
    }
}

impl SharedCounter {
    /// Opens (creating, owner-only) `path` and maps its first 8 bytes.
    /// `None` when that fails: callers then treat the store as changed at
    /// every check (the slow, always-correct path).
    pub fn open(path: &Path) -> Option<SharedCounter> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .ok()?;
        // Growing to 8 bytes is idempotent: a racing opener that already
        // grew (and maybe bumped) it is left alone.
        if file.metadata().ok()?.len() < LEN as u64 {
            file.set_len(LEN as u64).ok()?;
        }
        // SAFETY: a fresh shared read/write mapping of 8 bytes of a file at
        // least 8 bytes long; the kernel picks the address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // Page-aligned, so aligned for AtomicU64.
        let word = NonNull::new(ptr.cast::<AtomicU64>())?;
        Some(SharedCounter { word, _file: file })
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping is valid, aligned and only ever accessed
        // atomically (by this and other processes) until `Drop`.
        unsafe { self.word.as_ref() }
    }

    pub fn load(&self) -> u64 {
        self.word().load(Ordering::SeqCst)
    }

    /// Marks a write as committing: the next odd value above the current
    /// one. Must be called while holding the store's write lock (so no
    /// other writer is between its own mark and COMMIT); a previous
    /// writer's `end_write` may still race with it, which is why this is a
    /// compare-and-swap loop and why an odd value is stepped over by two.
    pub fn begin_write(&self) -> u64 {
        let word = self.word();
        let mut current = word.load(Ordering::SeqCst);
        loop {
            let mark = if current.is_multiple_of(2) {
                current.wrapping_add(1)
            } else {
                current.wrapping_add(2)
            };
            match word.compare_exchange_weak(current, mark, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return mark,
                Err(seen) => current = seen,
            }
        }
    }

    /// After the COMMIT (or its failure): even again, unless a later writer
    /// has already moved the counter on (it then makes it even itself).
    pub fn end_write(&self, mark: u64) {
        let _ = self.word().compare_exchange(
            mark,
            mark.wrapping_add(1),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; no reference
        // into it outlives `self`.
        unsafe {
            libc::munmap(self.word.as_ptr().cast(), LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SharedCounter;

    /// Two mappings of one file (as two processes have) see each other's
    /// writes, and reopening keeps the count: it never goes back.
    #[test]
    fn mappings_share_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite-gen");
        let a = SharedCounter::open(&path).unwrap();
        let b = SharedCounter::open(&path).unwrap();
        assert_eq!((a.load(), b.load()), (0, 0));
        let m = a.begin_write();
        assert_eq!((m, b.load()), (1, 1));
        a.end_write(m);
        let m = b.begin_write();
        b.end_write(m);
        assert_eq!((a.load(), b.load()), (4, 4));
        drop((a, b));
        assert_eq!(SharedCounter::open(&path).unwrap().load(), 4);
    }

    /// A writer that died after its mark leaves the counter odd (nothing
    /// trusted) until the next writer, which leaves it even and higher.
    #[test]
    fn a_dead_writer_is_stepped_over() {
        let dir = tempfile::tempdir().unwrap();
        let c = SharedCounter::open(&dir.path().join("g")).unwrap();
        let dead = c.begin_write();
        assert_eq!(c.load() % 2, 1);
        let next = c.begin_write();
        assert!(next > dead && next % 2 == 1);
        // The dead writer's late end (a slow, not dead, writer) changes nothing.
        c.end_write(dead);
        assert_eq!(c.load(), next);
        c.end_write(next);
        assert_eq!(c.load(), next + 1);
    }

    /// A previous writer's end racing with the next writer's mark: either
    /// order ends even and above both marks.
    #[test]
    fn end_and_begin_race_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let c = SharedCounter::open(&dir.path().join("g")).unwrap();
        let a = c.begin_write();
        let b = c.begin_write(); // B marked before A's end landed
        c.end_write(a);
        c.end_write(b);
        assert_eq!(c.load() % 2, 0);
        assert!(c.load() > b);
    }
}
