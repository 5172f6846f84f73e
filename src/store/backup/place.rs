//! Putting a backup or restored token file in place: written to a temp
//! file beside it (owner-only, fsynced), then linked or renamed over so a
//! reader never sees a partial file and a failure leaves the target as it
//! was.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{BResult, BackupError, io_error};

/// Files SQLite may keep beside a database; a stale one would be replayed
/// into (and corrupt) a restored file.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

pub(super) fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

pub(super) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(super) fn refuse_existing(path: &Path) -> BResult<()> {
    let candidates =
        std::iter::once(path.to_path_buf()).chain(SIDECARS.iter().map(|s| sidecar(path, s)));
    for p in candidates {
        if p.symlink_metadata().is_ok() {
            return Err(BackupError::Exists(p));
        }
    }
    Ok(())
}

/// A name beside `path` that no other call (in any process) uses; the
/// file is created with O_EXCL anyway.
fn temp_beside(path: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = format!(
        ".{}.{tag}-{}-{nanos}-{n}",
        base.unwrap_or_default(),
        std::process::id()
    );
    match parent(path) {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes a rename or link durable.
fn sync_dir(path: &Path) -> BResult<()> {
    let dir = parent(path).unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("cannot sync", dir, &e))
}

/// Writes `bytes` to a temp file beside `path`, fsyncs it and moves it to
/// `path`: with `replace` by rename (after moving stale side files away),
/// otherwise by a hard link, which fails rather than overwrite. On error
/// the temp file is removed and `path` is untouched.
pub(super) fn place_file(path: &Path, bytes: &[u8], replace: bool) -> BResult<()> {
    let tmp = temp_beside(path, "tmp");
    if let Err(e) = write_private(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("cannot write", &tmp, &e));
    }
    let placed = if replace {
        replace_with(&tmp, path)
    } else {
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(BackupError::Exists(path.to_path_buf()))
            }
            Err(e) => Err(io_error("cannot create", path, &e)),
        }
    };
    // After a rename the temp name is gone; after a link it is a second
    // name for the file; after a failure it is garbage.
    let _ = std::fs::remove_file(&tmp);
    placed?;
    sync_dir(path)
}

/// Renames `tmp` over `dest`. Side files of the old `dest` are first moved
/// to temp names, put back if the rename fails, and deleted after it
/// succeeds.
fn replace_with(tmp: &Path, dest: &Path) -> BResult<()> {
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut result = Ok(());
    for suffix in SIDECARS {
        let side = sidecar(dest, suffix);
        if side.symlink_metadata().is_err() {
            continue;
        }
        let aside = temp_beside(&side, "old");
        if let Err(e) = std::fs::rename(&side, &aside) {
            result = Err(io_error("cannot move", &side, &e));
            break;
        }
        moved.push((side, aside));
    }
    if result.is_ok() {
        result = std::fs::rename(tmp, dest).map_err(|e| io_error("cannot replace", dest, &e));
    }
    for (side, aside) in moved {
        if result.is_ok() {
            let _ = std::fs::remove_file(&aside);
        } else {
            let _ = std::fs::rename(&aside, &side);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn new_file_is_private_and_never_clobbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        place_file(&path, b"one", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            place_file(&path, b"two", false),
            Err(BackupError::Exists(path.clone()))
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(names(dir.path()), vec!["f"]);
        place_file(&path, b"three", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(names(dir.path()), vec!["f"]);
    }

    #[test]
    fn failed_replace_puts_side_files_back() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be renamed over: the replace fails
        // after the side files were moved away.
        let dest = dir.path().join("db");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("x"), b"x").unwrap();
        std::fs::write(sidecar(&dest, "-wal"), b"wal").unwrap();
        std::fs::write(sidecar(&dest, "-shm"), b"shm").unwrap();
        let before = names(dir.path());
        assert!(matches!(
            place_file(&dest, b"new", true),
            Err(BackupError::Io(_))
        ));
        assert_eq!(names(dir.path()), before);
        assert_eq!(std::fs::read(sidecar(&dest, "-wal")).unwrap(), b"wal");
        assert_eq!(
            refuse_existing(&dest),
            Err(BackupError::Exists(dest.clone()))
        );
        let other = dir.path().join("other");
        assert_eq!(refuse_existing(&other), Ok(()));
        assert_eq!(parent(Path::new("file")), None);
        assert_eq!(parent(&other), Some(dir.path()));
    }
}
