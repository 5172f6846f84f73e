//! The protected authentication path: a slot's `user_pin_file`, read when
//! C_Login comes with a NULL PIN, so the user PIN stays on the token's
//! host (an application, or a p11-kit client on another host, never
//! holds it).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use super::{Login, Token};
use crate::error::{Error, Result};

/// What the audit trail says about a login whose PIN came from the file.
const VIA: &str = "protected authentication path (user_pin_file)";

/// A PIN file is small: more than this is not a PIN file (and is not
/// read into memory whole).
const MAX_FILE_LEN: u64 = 4096;

impl Token {
    /// The token answers CKF_PROTECTED_AUTHENTICATION_PATH.
    pub fn protected_path(&self) -> bool {
        self.user_pin_file.is_some()
    }

    /// C_Login (CKU_USER) with a NULL PIN: the PIN comes from the slot's
    /// `user_pin_file`. The PIN is checked like a typed one, so a wrong
    /// PIN in the file counts toward the lockout. Without a file there is
    /// no protected path: CKR_ARGUMENTS_BAD, as before.
    pub fn login_protected(&self, role: Login) -> Result<()> {
        let pin = self.protected_pin(role)?;
        self.login_via(role, &pin, Some(VIA))
    }

    /// CKU_CONTEXT_SPECIFIC with a NULL PIN: the file's PIN again.
    pub fn reauthenticate_protected(&self) -> Result<()> {
        let pin = self.protected_pin(Login::User)?;
        self.reauthenticate(&pin)
    }

    /// The PIN a NULL-PIN login stands for. Only the user has a file: an
    /// SO login with a NULL PIN stays CKR_ARGUMENTS_BAD.
    fn protected_pin(&self, role: Login) -> Result<Zeroizing<Vec<u8>>> {
        let path = match (&self.user_pin_file, role) {
            (Some(path), Login::User) => path,
            _ => return Err(Error::ArgumentsBad),
        };
        read_pin_file(path)
    }
}

/// Reads a PIN file under the rules a key file has: a regular file, not
/// a symlink (the open refuses to follow one, so the checks below are on
/// the file read, not on what a name pointed to a moment earlier), and no
/// permission for group or others (0600 or 0400). One trailing newline
/// (`\n` or `\r\n`) is dropped, as editors and `echo` add one. A refusal
/// is CKR_DEVICE_ERROR with the rule as the cause (trace, CLI); the PIN
/// never appears in it.
pub fn read_pin_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let shown = path.display();
    let refuse = |why: String| Error::DeviceError.because(&format!("user_pin_file {shown}: {why}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO put there must not hang C_Login until a
        // writer comes (it is then refused as no regular file).
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                refuse("is a symlink; it must be a regular file".into())
            } else {
                refuse(format!("cannot open: {e}"))
            }
        })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("cannot stat: {e}")))?;
    if !meta.file_type().is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "mode {mode:04o} lets group or others in; it must be owner-only (0600 or 0400)"
        )));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(refuse(format!("longer than {MAX_FILE_LEN} bytes")));
    }
    let mut pin = Zeroizing::new(Vec::with_capacity(64));
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut pin)
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if pin.len() as u64 > MAX_FILE_LEN {
        return Err(refuse(format!("longer than {MAX_FILE_LEN} bytes")));
    }
    if pin.last() == Some(&b'\n') {
        pin.pop();
        if pin.last() == Some(&b'\r') {
            pin.pop();
        }
    }
    if pin.is_empty() {
        return Err(refuse("is empty".into()));
    }
    Ok(pin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, body: &[u8], mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// The cause `r` recorded (the call that made `r` ran just before).
    fn cause_of(r: Result<Zeroizing<Vec<u8>>>) -> String {
        assert_eq!(r.map(|_| ()), Err(Error::DeviceError));
        crate::error::cause::take().unwrap_or_default()
    }

    #[test]
    fn reads_owner_only_files_and_strips_one_newline() {
        let d = tempfile::tempdir().unwrap();
        for (body, want) in [
            (&b"1234\n"[..], &b"1234"[..]),
            (b"1234", b"1234"),
            (b"1234\r\n", b"1234"),
            (b"12 34\n\n", b"12 34\n"),
        ] {
            let p = write(d.path(), "a.pin", body, 0o600);
            assert_eq!(read_pin_file(&p).unwrap().as_slice(), want);
            let p = write(d.path(), "b.pin", body, 0o400);
            assert_eq!(read_pin_file(&p).unwrap().as_slice(), want);
        }
    }

    #[test]
    fn refuses_what_others_can_read_symlinks_and_missing_files() {
        let d = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o606] {
            let p = write(d.path(), &format!("m{mode:o}.pin"), b"1234\n", mode);
            let why = cause_of(read_pin_file(&p));
            assert!(why.contains("owner-only"), "{mode:o}: {why}");
            assert!(!why.contains("1234"), "the PIN is never in a cause");
        }
        let target = write(d.path(), "t.pin", b"1234\n", 0o600);
        let link = d.path().join("link.pin");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(cause_of(read_pin_file(&link)).contains("symlink"));
        let why = cause_of(read_pin_file(&d.path().join("missing.pin")));
        assert!(
            why.contains("cannot open") && why.contains("missing.pin"),
            "{why}"
        );
        assert!(cause_of(read_pin_file(d.path())).contains("regular file"));
        let empty = write(d.path(), "e.pin", b"\n", 0o600);
        assert!(cause_of(read_pin_file(&empty)).contains("empty"));
        let big = write(d.path(), "big.pin", &[b'1'; 5000], 0o600);
        assert!(cause_of(read_pin_file(&big)).contains("longer"));
    }
}
