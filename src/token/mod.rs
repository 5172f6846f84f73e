//! A slot's token: its database, the application's login state and the
//! unlocked master key, and a cache of unsealed objects and key material.

mod admin;
pub mod audit;
pub mod auditor;
mod auth;
mod backup_split;

pub use admin::restore as restore_backup;
pub use admin::restore_with as restore_backup_with;
pub mod info;
mod migrate;
mod objects;
mod pin_file;
mod presence;
pub mod quorum;
mod restore;
mod usage;

pub use restore::{ObjectLoss, ROLLBACK_EVENT, RestorePlan};

pub use migrate::Migrated;
pub use objects::DamagedRow;
pub use usage::FLUSH_EVERY;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::{Config, SlotConfig};
use crate::error::{Error, Result};
use crate::idhash::IdMap;
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
    /// The store stamp taken just before the row was last read and found
    /// at `generation`: while `TokenDb::stamp` still returns it, no commit
    /// can have touched the row, so `Token::key` skips the row read.
    checked: Option<crate::store::sqlite::Stamp>,
    /// The row's CKA_PRIVATE column, for the login check on that path.
    private: bool,
}

pub struct Token {
    pub slot_id: u64,
    pub description: String,
    pub policy: PinPolicy,
    /// The token database file (for backups).
    pub path: std::path::PathBuf,
    db: TokenDb,
    login: Mutex<LoginState>,
    /// `LoginState::login`, mirrored (written under the login lock) so the
    /// operation hot path reads who is logged in with one atomic load.
    role: AtomicU8,
    /// Read-locked on the hot path (a cached key), write-locked to fill
    /// or drop entries: threads using cached keys never wait for each other.
    cache: RwLock<IdMap<i64, Cached>>,
    /// Moved after every in-process change that no store commit shows (a
    /// login or logout, a cache entry changed or dropped, a handle table
    /// change): half of a session's `KeyStamp`.
    local: AtomicU64,
    /// Damaged rows already reported (id, row fingerprint), so a damaged
    /// row costs one audit write per process, not one per call.
    damage_seen: Mutex<HashSet<(i64, String)>>,
    usage: usage::Pending,
    audit_crypto_ops: bool,
    pub lifecycle: crate::lifecycle::policy::Policy,
    /// A destruction committed but its old page versions may still be in
    /// the WAL (a reader held an older snapshot): retried at later writes,
    /// logout and finalize, never waited for.
    erase_pending: std::sync::atomic::AtomicBool,
    /// This instance's shared lock on the token's `-users` file, which
    /// tells a restore that the token is in use (see presence.rs).
    presence: presence::Presence,
    /// The slot's `user_pin_file` (the protected authentication path).
    user_pin_file: Option<std::path::PathBuf>,
    /// The officers-and-rules row last verified (see quorum.rs).
    quorum_verified: quorum::Verified,
}

impl Token {
    pub fn open(config: &Config, slot: &SlotConfig) -> Result<Token> {
        let path = config.token_path(slot.id);
        let db = match &slot.store {
            Some(shared) => TokenDb::open_shared(shared)?,
            None => TokenDb::open(&path)?,
        };
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
            role: AtomicU8::new(role_byte(Login::Public)),
            cache: RwLock::new(IdMap::default()),
            local: AtomicU64::new(0),
            damage_seen: Mutex::new(HashSet::new()),
            usage: usage::Pending::default(),
            audit_crypto_ops: config.audit_crypto_ops,
            lifecycle: config.policy.clone(),
            erase_pending: std::sync::atomic::AtomicBool::new(false),
            user_pin_file: slot.user_pin_file.clone(),
            quorum_verified: quorum::Verified::default(),
        })
    }

    fn login_state(&self) -> Result<MutexGuard<'_, LoginState>> {
        self.login.lock().map_err(|_| Error::GeneralError)
    }

    /// The cache, write-locked; `local` moves when the guard is dropped
    /// (after the change, while still locked), so a session that read the
    /// old value before it looked a key up never trusts what it found.
    fn cache(&self) -> Result<CacheWrite<'_>> {
        let guard = self.cache.write().map_err(|_| Error::GeneralError)?;
        Ok(CacheWrite {
            guard,
            local: &self.local,
        })
    }

    /// A session's proof of when it looked a token key up (see
    /// `session::KeyMemo`); `None` while the store shows a write in flight
    /// (nothing may be remembered then).
    pub fn key_stamp(&self) -> Option<crate::session::KeyStamp> {
        let stamp = self.db.stamp()?;
        Some((stamp, self.local.load(Ordering::SeqCst)))
    }

    /// Invalidates every session's remembered keys of this token (the
    /// handle table changed).
    pub fn bump_local(&self) {
        self.local.fetch_add(1, Ordering::SeqCst);
    }

    fn cache_read(&self) -> Result<RwLockReadGuard<'_, IdMap<i64, Cached>>> {
        self.cache.read().map_err(|_| Error::GeneralError)
    }

    /// Who is logged in: one atomic load (see `Token::role`).
    pub fn login_role(&self) -> Result<Login> {
        Ok(match self.role.load(Ordering::SeqCst) {
            ROLE_USER => Login::User,
            ROLE_SO => Login::So,
            _ => Login::Public,
        })
    }

    /// Sets who is logged in; the caller holds the login lock, so the
    /// mirror and `LoginState::login` always change together.
    fn set_login(&self, state: &mut LoginState, login: Login) {
        state.login = login;
        self.role.store(role_byte(login), Ordering::SeqCst);
        self.bump_local();
    }

    /// The master key while a user or the SO is logged in.
    fn master_key(&self) -> Result<Option<MasterKey>> {
        Ok(self.login_state()?.master_key.clone())
    }

    /// Forgets the login and every unsealed secret. The batched use
    /// counts are written first; if that fails (the store out of reach)
    /// they stay in memory for a later flush — a logout never fails, or
    /// stops half-way, because a statistic could not be written.
    pub fn logout(&self) -> Result<()> {
        let _ = self.flush_usage();
        {
            let mut state = self.login_state()?;
            self.set_login(&mut state, Login::Public);
            state.master_key = None;
            state.previous = None;
            state.audit_key = None;
        }
        self.cache()?.clear();
        self.retry_erasure();
        Ok(())
    }
}

/// The cache's write guard; moves `Token::local` when dropped.
struct CacheWrite<'a> {
    guard: RwLockWriteGuard<'a, IdMap<i64, Cached>>,
    local: &'a AtomicU64,
}

impl std::ops::Deref for CacheWrite<'_> {
    type Target = IdMap<i64, Cached>;
    fn deref(&self) -> &Self::Target {
        &self.guard
    }
}

impl std::ops::DerefMut for CacheWrite<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.guard
    }
}

impl Drop for CacheWrite<'_> {
    fn drop(&mut self) {
        self.local.fetch_add(1, Ordering::SeqCst);
    }
}

const ROLE_PUBLIC: u8 = 0;
const ROLE_USER: u8 = 1;
const ROLE_SO: u8 = 2;

fn role_byte(login: Login) -> u8 {
    match login {
        Login::Public => ROLE_PUBLIC,
        Login::User => ROLE_USER,
        Login::So => ROLE_SO,
    }
}

impl Drop for Token {
    /// C_Finalize (or the library's end) writes the last usage counts.
    fn drop(&mut self) {
        let _ = self.flush_usage();
        self.retry_erasure();
    }
}
