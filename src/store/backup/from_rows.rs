//! Backups of a token whose rows are not in an SQLite file (a PostgreSQL
//! schema): its rows, copied as sealed bytes from one read snapshot into a
//! fresh SQLite token file in a private temporary directory, which the
//! file backup then snapshots — so the backup has the same format, and
//! restores into a directory like any other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    BResult, BackupError, BackupInfo, SplitCreated, SplitRequest, create, create_split,
    place::refuse_existing,
};
use crate::store::db::TokenDb;

/// A directory only this process made (mode 0700), removed with what it
/// holds when dropped, whichever way the backup ends.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> BResult<PrivateDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "keyward-backup-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // Not recursive: an existing path (another user's directory or a
        // symlink planted there) is an error, never reused.
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| BackupError::Io(format!("cannot create {}: {e}", dir.display())))?;
        Ok(PrivateDir(dir))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the encrypted backup `out` of the token in `db`: a snapshot of
/// its file (`path`) when it is an SQLite file, else of a temporary SQLite
/// copy of its rows.
pub fn create_of(
    db: &TokenDb,
    path: &Path,
    out: &Path,
    passphrase: &[u8],
    kdf_iterations: u32,
    progress: &mut dyn FnMut(u64, u64),
) -> BResult<BackupInfo> {
    from_sqlite_of(db, path, out, &mut |source| {
        create(source, out, passphrase, kdf_iterations, progress)
    })
}

/// [`create_of`] for a backup split among custodians.
pub fn create_split_of(
    db: &TokenDb,
    path: &Path,
    out: &Path,
    req: &SplitRequest<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> BResult<SplitCreated> {
    from_sqlite_of(db, path, out, &mut |source| {
        create_split(source, out, req, progress)
    })
}

/// Runs `make` on an SQLite file holding the token in `db`: its own file
/// (`path`), else a temporary copy of its rows.
fn from_sqlite_of<T>(
    db: &TokenDb,
    path: &Path,
    out: &Path,
    make: &mut dyn FnMut(&Path) -> BResult<T>,
) -> BResult<T> {
    if db.is_sqlite().map_err(BackupError::Store)? {
        return make(path);
    }
    // Before the copy, so that a refused output costs no round trips.
    refuse_existing(out)?;
    let dir = PrivateDir::new()?;
    let copy = dir.0.join("token.sqlite");
    {
        let target = TokenDb::open(&copy).map_err(BackupError::Store)?;
        db.copy_to(&target).map_err(BackupError::Store)?;
    }
    make(&copy)
}
