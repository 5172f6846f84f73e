//! Where a slot's rows live: the embedded SQLite file under the store
//! directory (the default), or a PostgreSQL database that many hosts share
//! (`[[slot]] store = "postgres://…"`). Parsed and checked here so a bad
//! setting is named when the module loads, not at the first write.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `[[slot]]` keys that name a shared store.
#[derive(Default)]
pub struct FileStore {
    pub store: Option<String>,
    pub store_password_file: Option<PathBuf>,
    pub store_schema: Option<String>,
    pub store_offline_grace_secs: Option<u64>,
}

/// How long keys already unsealed in a process stay usable while the
/// database cannot be reached, unless the config says otherwise.
pub const DEFAULT_OFFLINE_GRACE: Duration = Duration::from_secs(60);
/// The longest grace a config may ask for: past it, a deactivation or
/// destruction made on another host would go unseen for too long.
pub const MAX_OFFLINE_GRACE: Duration = Duration::from_secs(3600);
/// The environment variable read for the database password when the slot
/// names no password file.
pub const PASSWORD_ENV: &str = "KEYWARD_STORE_PASSWORD";

/// A PostgreSQL store as the config names it. The password itself is read
/// only when the token opens (`password`), never kept here.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedStore {
    /// `postgres://user@host[:port]/db[?sslmode=…&sslrootcert=…]`, with no
    /// password in it.
    pub url: String,
    pub password_file: Option<PathBuf>,
    /// The PostgreSQL schema holding this slot's tables.
    pub schema: String,
    pub offline_grace: Duration,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("url", &self.url)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Checks the slot's store keys; `Ok(None)` for the embedded default.
    /// Each error names the rule.
    pub fn from_file(slot: u64, f: FileStore) -> Result<Option<SharedStore>, String> {
        let Some(url) = f.store else {
            if f.store_password_file.is_some()
                || f.store_schema.is_some()
                || f.store_offline_grace_secs.is_some()
            {
                return Err(format!(
                    "slot {slot}: store_password_file, store_schema and \
                     store_offline_grace_secs need `store = \"postgres://…\"`"
                ));
            }
            return Ok(None);
        };
        let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        else {
            return Err(format!(
                "slot {slot}: store must be a postgres:// URL (the embedded store is \
                 configured with store_dir)"
            ));
        };
        // The authority ends at the first '/', '?' or '#'.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(format!(
                "slot {slot}: the store URL must not hold a password (it would show in \
                 logs and process lists): use store_password_file or {PASSWORD_ENV}"
            ));
        }
        if !cfg!(feature = "postgres") {
            return Err(format!(
                "slot {slot}: this build has no PostgreSQL store (build with the \
                 `postgres` feature)"
            ));
        }
        let schema = f
            .store_schema
            .unwrap_or_else(|| format!("keyward_slot_{slot}"));
        let valid_schema = schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !schema.starts_with("pg_");
        if !valid_schema {
            return Err(format!(
                "slot {slot}: store_schema must be 1-63 characters of a-z, 0-9 and _, not \
                 starting with a digit or pg_"
            ));
        }
        let offline_grace = f
            .store_offline_grace_secs
            .map_or(DEFAULT_OFFLINE_GRACE, Duration::from_secs);
        if offline_grace > MAX_OFFLINE_GRACE {
            return Err(format!(
                "slot {slot}: store_offline_grace_secs is at most {}",
                MAX_OFFLINE_GRACE.as_secs()
            ));
        }
        Ok(Some(SharedStore {
            url,
            password_file: f.store_password_file,
            schema,
            offline_grace,
        }))
    }

    /// The database password: the first line of `store_password_file`
    /// (which must be a regular file only its owner can read), else
    /// [`PASSWORD_ENV`], else none (peer or certificate authentication).
    pub fn password(&self) -> Result<Option<zeroize::Zeroizing<String>>, String> {
        let Some(path) = &self.password_file else {
            return Ok(std::env::var(PASSWORD_ENV)
                .ok()
                .map(zeroize::Zeroizing::new));
        };
        check_private(path)?;
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default();
        Ok(Some(zeroize::Zeroizing::new(line.to_string())))
    }
}

/// A secret file must be a regular file (not a symlink) that neither its
/// group nor others can read or write.
fn check_private(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.file_type().is_file() {
        return Err(format!("{} must be a regular file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{} must be readable by its owner only (chmod 600)",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(store: &str) -> FileStore {
        FileStore {
            store: Some(store.into()),
            ..FileStore::default()
        }
    }

    #[test]
    fn bad_store_settings_are_named() {
        let e = SharedStore::from_file(1, file("mysql://h/db")).unwrap_err();
        assert!(e.contains("postgres:// URL"), "{e}");
        let e = SharedStore::from_file(1, file("postgres://u:secret@h/db")).unwrap_err();
        assert!(e.contains("must not hold a password"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = SharedStore::from_file(
            1,
            FileStore {
                store_schema: Some("x".into()),
                ..FileStore::default()
            },
        )
        .unwrap_err();
        assert!(e.contains("need `store"), "{e}");
        assert_eq!(SharedStore::from_file(1, FileStore::default()), Ok(None));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn schema_names_and_grace_are_checked() {
        let s = SharedStore::from_file(3, file("postgres://u@h/db"))
            .unwrap()
            .unwrap();
        assert_eq!(s.schema, "keyward_slot_3");
        assert_eq!(s.offline_grace, DEFAULT_OFFLINE_GRACE);
        for bad in ["Upper", "1x", "pg_x", "a-b", ""] {
            let f = FileStore {
                store_schema: Some(bad.into()),
                ..file("postgres://u@h/db")
            };
            assert!(SharedStore::from_file(3, f).is_err(), "{bad}");
        }
        let f = FileStore {
            store_offline_grace_secs: Some(7200),
            ..file("postgres://u@h/db")
        };
        assert!(
            SharedStore::from_file(3, f)
                .unwrap_err()
                .contains("at most 3600")
        );
    }

    #[test]
    fn password_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\nignored\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = SharedStore {
            url: "postgres://u@h/db".into(),
            password_file: Some(p.clone()),
            schema: "s".into(),
            offline_grace: DEFAULT_OFFLINE_GRACE,
        };
        assert!(s.password().unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            s.password().unwrap().as_deref().map(String::as_str),
            Some("s3cret")
        );
        assert!(!format!("{s:?}").contains("pw"));
    }
}
