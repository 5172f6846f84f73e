//! Configuration: an optional TOML file named by `KEYWARD_CONF`, with
//! `KEYWARD_STORE` overriding only the store directory, over embedded
//! defaults that work with no file at all.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// PBKDF2-HMAC-SHA256 iterations for newly set PINs (OWASP 2023 floor).
pub const DEFAULT_PIN_KDF_ITERATIONS: u32 = 600_000;
/// The lowest iteration count a config may ask for; only tests go this low.
pub const MIN_PIN_KDF_ITERATIONS: u32 = 1_000;

#[derive(Debug, Clone)]
pub struct SlotConfig {
    pub id: u64,
    pub description: String,
    /// A PostgreSQL store shared by many hosts; `None`: the embedded
    /// SQLite file under `store_dir`.
    pub store: Option<crate::config_store::SharedStore>,
    /// `user_pin_file`: where C_Login with a NULL PIN (the protected
    /// authentication path) finds the user PIN, so an application (or a
    /// p11-kit client on another host) logs in without holding it. Read
    /// at each such login; see `token/pin_file.rs` for the rules.
    pub user_pin_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store_dir: PathBuf,
    pub pin_kdf_iterations: u32,
    pub max_pin_failures: u32,
    pub min_pin_len: usize,
    pub max_pin_len: usize,
    /// Offer RSA PKCS#1 v1.5 and raw RSA decryption/unwrap: padding
    /// oracles, and the `rsa` crate's private-key arithmetic is not
    /// constant-time (RUSTSEC-2023-0071). Off unless asked for.
    pub allow_legacy_rsa_decryption: bool,
    pub slots: Vec<SlotConfig>,
    /// The `[policy]` section (key sizes, curves, mechanisms, purposes,
    /// cryptoperiods).
    pub policy: crate::lifecycle::policy::Policy,
    /// `[audit] crypto_operations`: record every signature, encryption…
    pub audit_crypto_ops: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    store_dir: Option<PathBuf>,
    pin_kdf_iterations: Option<u32>,
    max_pin_failures: Option<u32>,
    min_pin_len: Option<usize>,
    max_pin_len: Option<usize>,
    allow_legacy_rsa_decryption: Option<bool>,
    /// Bytes in one attribute value (default 1 MiB).
    max_attribute_size: Option<u64>,
    /// Bytes in one object, as C_GetObjectSize counts (default 4 MiB).
    max_object_size: Option<u64>,
    slot: Option<Vec<FileSlot>>,
    policy: Option<crate::lifecycle::policy::PolicyFile>,
    audit: Option<FileAudit>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    crypto_operations: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSlot {
    id: u64,
    description: Option<String>,
    store: Option<String>,
    store_password_file: Option<PathBuf>,
    store_schema: Option<String>,
    store_offline_grace_secs: Option<u64>,
    user_pin_file: Option<PathBuf>,
}

impl Config {
    /// Reads the environment and the config file it names.
    pub fn from_env() -> Result<Config> {
        let file = match std::env::var_os("KEYWARD_CONF") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    report(&format!("cannot read {}: {e}", Path::new(&path).display()))
                })?;
                Some(text)
            }
            None => None,
        };
        let store_override = std::env::var_os("KEYWARD_STORE").map(PathBuf::from);
        Config::build(file.as_deref(), store_override)
    }

    /// Builds a config from the file's text (if any) and an override of
    /// the store directory; separate from the environment for tests.
    pub fn build(file: Option<&str>, store_override: Option<PathBuf>) -> Result<Config> {
        let parsed: FileConfig = match file {
            Some(text) => {
                toml::from_str(text).map_err(|e| report(&format!("bad config file: {e}")))?
            }
            None => FileConfig::default(),
        };
        let store_dir = match store_override.or(parsed.store_dir) {
            Some(dir) => dir,
            None => default_store_dir()?,
        };
        let slots = match parsed.slot {
            Some(slots) if !slots.is_empty() => slots
                .into_iter()
                .map(|s| {
                    Ok(SlotConfig {
                        id: s.id,
                        description: s
                            .description
                            .unwrap_or_else(|| format!("Keyward slot {}", s.id)),
                        store: crate::config_store::SharedStore::from_file(
                            s.id,
                            crate::config_store::FileStore {
                                store: s.store,
                                store_password_file: s.store_password_file,
                                store_schema: s.store_schema,
                                store_offline_grace_secs: s.store_offline_grace_secs,
                            },
                        )
                        .map_err(|e| report(&e))?,
                        user_pin_file: s.user_pin_file,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![SlotConfig {
                id: 0,
                description: "Keyward slot 0".into(),
                store: None,
                user_pin_file: None,
            }],
        };
        let config = Config {
            store_dir,
            pin_kdf_iterations: parsed
                .pin_kdf_iterations
                .unwrap_or(DEFAULT_PIN_KDF_ITERATIONS),
            max_pin_failures: parsed.max_pin_failures.unwrap_or(10),
            min_pin_len: parsed.min_pin_len.unwrap_or(4),
            max_pin_len: parsed.max_pin_len.unwrap_or(64),
            allow_legacy_rsa_decryption: false,
            slots,
            policy: parsed
                .policy
                .unwrap_or_default()
                .resolve(parsed.allow_legacy_rsa_decryption)
                .map_err(|e| report(&e))?,
            audit_crypto_ops: parsed
                .audit
                .and_then(|a| a.crypto_operations)
                .unwrap_or(false),
        };
        // One switch, two spellings: the older top-level key and
        // `policy.rsa_pkcs1v15_decryption`.
        let mut config = Config {
            allow_legacy_rsa_decryption: config.policy.rsa_pkcs1v15_decryption,
            ..config
        };
        // The size ceilings travel with the policy, which every token
        // holds and every object-making path already consults.
        let limits = &mut config.policy.limits;
        limits.attribute = parsed.max_attribute_size.unwrap_or(limits.attribute);
        limits.object = parsed.max_object_size.unwrap_or(limits.object);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let max = crate::store::seal::MAX_ITERATIONS;
        if !(MIN_PIN_KDF_ITERATIONS..=max).contains(&self.pin_kdf_iterations) {
            return Err(report(&format!(
                "pin_kdf_iterations must be between {MIN_PIN_KDF_ITERATIONS} and {max}"
            )));
        }
        let limits = self.policy.limits;
        if limits.attribute == 0 || limits.object < limits.attribute {
            return Err(report("need 1 <= max_attribute_size <= max_object_size"));
        }
        if self.max_pin_failures == 0 {
            return Err(report("max_pin_failures must be at least 1"));
        }
        if self.min_pin_len == 0 || self.min_pin_len > self.max_pin_len || self.max_pin_len > 255 {
            return Err(report("need 1 <= min_pin_len <= max_pin_len <= 255"));
        }
        let mut ids: Vec<u64> = self.slots.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.slots.len() {
            return Err(report("slot ids must be unique"));
        }
        if self.slots.iter().any(|s| s.description.len() > 64) {
            return Err(report("slot descriptions are at most 64 bytes"));
        }
        // A relative path would depend on the application's working
        // directory, which differs between the programs loading us.
        if let Some(s) = self
            .slots
            .iter()
            .find(|s| s.user_pin_file.as_ref().is_some_and(|p| !p.is_absolute()))
        {
            return Err(report(&format!(
                "slot {}: user_pin_file must be an absolute path",
                s.id
            )));
        }
        Ok(())
    }

    /// The token database of a slot.
    pub fn token_path(&self, slot_id: u64) -> PathBuf {
        self.store_dir.join(format!("slot-{slot_id}.sqlite"))
    }
}

fn default_store_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("keyward"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/keyward")),
        None => Err(report(
            "neither KEYWARD_STORE, XDG_DATA_HOME nor HOME is set",
        )),
    }
}

/// A configuration problem is the user's to fix: say what it is on
/// stderr (a PKCS#11 return code alone cannot) and fail the call.
fn report(message: &str) -> Error {
    eprintln!("keyward: configuration error: {message}");
    Error::GeneralError
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_file() {
        let c = Config::build(None, Some("/tmp/x".into())).unwrap();
        assert_eq!(c.store_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.pin_kdf_iterations, DEFAULT_PIN_KDF_ITERATIONS);
        assert_eq!(c.max_pin_failures, 10);
        assert!(!c.allow_legacy_rsa_decryption);
        assert_eq!(c.slots.len(), 1);
        assert_eq!(c.slots[0].id, 0);
        assert_eq!(c.token_path(0), PathBuf::from("/tmp/x/slot-0.sqlite"));
    }

    #[test]
    fn file_settings_and_override() {
        let text = "store_dir = \"/a\"\npin_kdf_iterations = 1000\nmax_pin_failures = 3\n\
                    allow_legacy_rsa_decryption = true\n\
                    [[slot]]\nid = 7\n[[slot]]\nid = 9\ndescription = \"hsm\"\n";
        let c = Config::build(Some(text), None).unwrap();
        assert_eq!(c.store_dir, PathBuf::from("/a"));
        assert_eq!(c.pin_kdf_iterations, 1000);
        assert_eq!(c.max_pin_failures, 3);
        assert!(c.allow_legacy_rsa_decryption);
        assert_eq!(c.slots.iter().map(|s| s.id).collect::<Vec<_>>(), vec![7, 9]);
        assert_eq!(c.slots[1].description, "hsm");
        assert_eq!(c.slots[1].user_pin_file, None);
        let c = Config::build(
            Some("[[slot]]\nid = 2\nuser_pin_file = \"/etc/keyward/user.pin\""),
            None,
        )
        .unwrap();
        assert_eq!(
            c.slots[0].user_pin_file.as_deref(),
            Some(Path::new("/etc/keyward/user.pin"))
        );
        let c = Config::build(Some(text), Some("/b".into())).unwrap();
        assert_eq!(c.store_dir, PathBuf::from("/b"));
        let c = Config::build(Some("max_attribute_size = 10\nmax_object_size = 20"), None);
        let limits = c.unwrap().policy.limits;
        assert_eq!((limits.attribute, limits.object), (10, 20));
        let d = Config::build(None, Some("/b".into()))
            .unwrap()
            .policy
            .limits;
        assert_eq!((d.attribute, d.object), (1 << 20, 4 << 20));
    }

    #[test]
    fn bad_files_are_refused() {
        for text in [
            "pin_kdf_iterations = 10",
            "unknown_key = 1",
            "max_pin_failures = 0",
            "[[slot]]\nid = 1\n[[slot]]\nid = 1",
            "min_pin_len = 9\nmax_pin_len = 4",
            "max_attribute_size = 0",
            "max_attribute_size = 2000\nmax_object_size = 1000",
            "store_dir = 5",
            "[[slot]]\nid = 1\nuser_pin_file = \"relative.pin\"",
            "[[slot]]\nid = 1\nso_pin_file = \"/x\"",
        ] {
            assert!(
                Config::build(Some(text), Some("/t".into())).is_err(),
                "{text}"
            );
        }
    }
}
