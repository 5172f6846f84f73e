//! A slot's token: its database, the application's login state and the
//! unlocked master key, and a cache of unsealed objects and key material.

mod admin;
pub mod audit;
mod auth;

pub use admin::restore as restore_backup;
pub mod info;
mod objects;
mod presence;
mod restore;
mod usage;

pub use restore::{ObjectLoss, ROLLBACK_EVENT, RestorePlan};

pub use objects::DamagedRow;
pub use usage::FLUSH_EVERY;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{Config, SlotConfig};
use crate::error::{Error, Result};
use crate::mechanism::Key;
use crate::object::Object;
use crate::store::seal::{AuditKey, MasterKey};
use crate::store::sqlite::TokenDb;

/// Who is logged in to the token. Login state belongs to the token and is
/// shared by every session of the application (PKCS#11 3.0 §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Public,
    User,
    So,
}

/// PIN and KDF settings copied from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct PinPolicy {
    pub kdf_iterations: u32,
    pub max_failures: u32,
    pub min_len: usize,
    pub max_len: usize,
}

struct LoginState {
    login: Login,
    /// Present exactly while someone is logged in.
    master_key: Option<MasterKey>,
    /// The token epoch the master key belongs to.
    epoch: i64,
    /// While a master-key rotation is in progress: the old key and its
    /// epoch, for rows not re-sealed yet (see `Token::refresh_keys`).
    previous: Option<(i64, MasterKey)>,
    /// Authenticates audit records while someone is logged in.
    audit_key: Option<AuditKey>,
}

/// An unsealed object and, once used for crypto, its parsed key; valid
/// while the row's generation is unchanged.
struct Cached {
    generation: i64,
    object: Arc<Object>,
    /// The object was loaded with its sealed part.
    complete: bool,
    key: Option<Arc<Key>>,
}

pub struct Token {
    pub slot_id: u64,
    pub description: String,
    pub policy: PinPolicy,
    /// The token database file (for backups).
    pub path: std::path::PathBuf,
    db: TokenDb,
    login: Mutex<LoginState>,
    cache: Mutex<HashMap<i64, Cached>>,
    /// Damaged rows already reported (id, row fingerprint), so a damaged
    /// row costs one audit write per process, not one per call.
    damage_seen: Mutex<HashSet<(i64, String)>>,
    usage: Mutex<usage::Pending>,
    audit_crypto_ops: bool,
    pub lifecycle: crate::lifecycle::policy::Policy,
    /// A destruction committed but its old page versions may still be in
    /// the WAL (a reader held an older snapshot): retried at later writes,
    /// logout and finalize, never waited for.
    erase_pending: std::sync::atomic::AtomicBool,
    /// This instance's shared lock on the token's `-users` file, which
    /// tells a restore that the token is in use (see presence.rs).
    presence: presence::Presence,
}

impl Token {
    pub fn open(config: &Config, slot: &SlotConfig) -> Result<Token> {
        let path = config.token_path(slot.id);
        let db = TokenDb::open(&path)?;
        let presence = presence::Presence::announce(&path);
        Ok(Token {
            presence,
            path,
            slot_id: slot.id,
            description: slot.description.clone(),
            policy: PinPolicy {
                kdf_iterations: config.pin_kdf_iterations,
                max_failures: config.max_pin_failures,
                min_len: config.min_pin_len,
                max_len: config.max_pin_len,
            },
            db,
            login: Mutex::new(LoginState {
                login: Login::Public,
                master_key: None,
                epoch: 0,
                previous: None,
                audit_key: None,
            }),
            cache: Mutex::new(HashMap::new()),
            damage_seen: Mutex::new(HashSet::new()),
            usage: Mutex::new(usage::Pending::default()),
            audit_crypto_ops: config.audit_crypto_ops,
            lifecycle: config.policy.clone(),
            erase_pending: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn login_state(&self) -> Result<MutexGuard<'_, LoginState>> {
        self.login.lock().map_err(|_| Error::GeneralError)
    }

    fn cache(&self) -> Result<MutexGuard<'_, HashMap<i64, Cached>>> {
        self.cache.lock().map_err(|_| Error::GeneralError)
    }

    pub fn login_role(&self) -> Result<Login> {
        Ok(self.login_state()?.login)
    }

    /// The master key while a user or the SO is logged in.
    fn master_key(&self) -> Result<Option<MasterKey>> {
        Ok(self.login_state()?.master_key.clone())
    }

    /// Forgets the login and every unsealed secret.
    pub fn logout(&self) -> Result<()> {
        let flushed = self.flush_usage();
        {
            let mut state = self.login_state()?;
            state.login = Login::Public;
            state.master_key = None;
            state.previous = None;
            state.audit_key = None;
        }
        flushed?;
        self.cache()?.clear();
        self.retry_erasure();
        Ok(())
    }
}

impl Drop for Token {
    /// C_Finalize (or the library's end) writes the last usage counts.
    fn drop(&mut self) {
        let _ = self.flush_usage();
        self.retry_erasure();
    }
}
