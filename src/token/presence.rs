//! Who else has a token open. Every module instance (every process that
//! opened the token, and any child it forked, which inherits the lock)
//! holds a shared `flock` on `<token file>-users`; a restore tries to
//! take it exclusively and, failing, knows someone else is there. A
//! separate file, because closing any descriptor of the database file
//! itself would drop SQLite's own POSIX locks on it. Best effort by
//! design: an instance that cannot create or lock the file still runs
//! (a token must never fail to open over this), it is then just not seen.

use std::fs::{File, OpenOptions};

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The presence file beside a token file.
pub fn users_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-users");
    PathBuf::from(name)
}

pub(super) struct Presence {
    path: PathBuf,
    /// Our descriptor, holding the shared lock (None if it could not be
    /// created or locked).
    file: Mutex<Option<File>>,
}

fn open(path: &Path) -> Option<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).ok()
}

impl Presence {
    /// Opens the presence file and takes a shared lock without waiting: a
    /// restore holding it exclusively must not stall an application.
    pub(super) fn announce(db: &Path) -> Presence {
        let path = users_path(db);
        let file = open(&path).filter(|f| flock(f, FlockOperation::NonBlockingLockShared).is_ok());
        Presence {
            path,
            file: Mutex::new(file),
        }
    }

    /// True if another instance holds the presence lock. Otherwise this
    /// instance now holds it exclusively (instances starting meanwhile
    /// run unlocked, unseen) until [`Presence::release`].
    pub(super) fn others_present(&self) -> Result<bool> {
        let mut guard = self.file.lock().map_err(|_| Error::GeneralError)?;
        if guard.is_none() {
            *guard = open(&self.path);
        }
        let Some(file) = guard.as_ref() else {
            return Err(Error::DeviceError);
        };
        // On our own descriptor flock converts shared to exclusive, which
        // succeeds only if no other open file description holds a lock.
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(false),
            Err(Errno::WOULDBLOCK) => Ok(true),
            Err(_) => Err(Error::DeviceError),
        }
    }

    /// Back to a shared lock.
    pub(super) fn release(&self) {
        if let Ok(guard) = self.file.lock()
            && let Some(file) = guard.as_ref()
        {
            let _ = flock(file, FlockOperation::NonBlockingLockShared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_holder_is_seen_until_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("slot-0.sqlite");
        let me = Presence::announce(&db);
        assert!(!me.others_present().unwrap(), "alone");
        me.release();
        let other = Presence::announce(&db);
        assert!(other.file.lock().unwrap().is_some(), "shared lock taken");
        assert!(me.others_present().unwrap());
        me.release();
        drop(other);
        assert!(!me.others_present().unwrap());
        // While held exclusively, a newcomer still opens (unlocked).
        let late = Presence::announce(&db);
        assert!(late.file.lock().unwrap().is_none());
        me.release();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(users_path(&db)).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
    }
}
