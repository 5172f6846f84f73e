//! The safe façade: one method per `C_*` function on [`Library`]. The ABI
//! layer converts C arguments into these types and calls exactly one method.
//!
//! Lock order (never taken the other way round):
//! 1. the sessions table (`Library::sessions`): held only to look up,
//!    insert, remove or count entries; never while taking any other lock,
//!    and table-wide code (counting, closing) reads a session's fixed facts
//!    from its `SessionRef`, never its mutex, so a slow operation on one
//!    session stalls no other;
//! 2. one session's state (`SessionRef::state`), held for the whole call
//!    on that session (also across a long key generation);
//! 3. a token's state (login, cache, usage) → the handle table;
//! 4. innermost, inside the fork gate (`crate::forkgate`) only: the global
//!    library slot (`global.rs`, held only to clone an `Arc`) or a token's
//!    database connection. Gated code takes no other lock.
//!
//! No lock but the calling session's own is held while a cryptographic
//! operation runs.

mod auditor;
mod backup_split;
mod certs;
mod cipher;
mod crypto;
mod dual;
pub mod global;
mod handles;
mod kem;
mod key;
mod key_set;
mod lifecycle;
pub use handles::HandleStats;
pub use lifecycle::Rotation;
pub mod message;
mod object;
mod provenance;
mod quorum;
pub use quorum::describe;
mod recover;
mod restore;
mod session;
mod session_table;
mod slot_token;
mod state;
mod verify_signature;
mod wrap;

use cryptoki_sys::*;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::config::Config;
use crate::error::{Error, Result};
pub use crate::mechanism::RawParam;
use crate::session::Session;
use crate::token::Token;
pub use crate::types::{Attr, AttrRead};
use handles::HandleTable;

/// A mechanism as the caller gave it: its type and its parameter, read
/// by the ABI layer according to the mechanism's parameter layout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Mech {
    pub ty: CK_MECHANISM_TYPE,
    pub param: RawParam,
}

/// Where an output goes: the caller gave no buffer (length query) or a
/// buffer of this many bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutCap {
    Query,
    Cap(usize),
}

/// The result of a call with an output buffer.
#[derive(PartialEq, Eq)]
pub enum Out {
    /// The output needs this many bytes: either a length query (CKR_OK) or
    /// the buffer was too small (CKR_BUFFER_TOO_SMALL). The operation
    /// stays active.
    Len(usize),
    /// The output; the operation has ended if this was a finishing call.
    Data(Vec<u8>),
}

/// What a length query answers when the output is empty. The spec lets a
/// length query report more than is needed, and 0 would be read by many
/// clients as "nothing to fetch": a C++ vector or a malloc(0) of that size
/// hands back NULL again, which is one more length query, so the kept
/// (empty) output is never collected — the operation never ends, and
/// under GCM the next C_DecryptUpdate's input (the tag) was taken for that
/// collection and dropped (PyKCS11's test_multi_part_aead; SoftHSMv2
/// answers the input's length). With 1, the client comes back with a real
/// buffer and receives the empty output.
const EMPTY_OUTPUT_QUERY_LEN: usize = 1;

/// The length answer for an output of `n` bytes in the cipher calls, where
/// an output can be empty: never 0 ([`EMPTY_OUTPUT_QUERY_LEN`]).
pub(crate) fn query_len(n: usize) -> Out {
    Out::Len(n.max(EMPTY_OUTPUT_QUERY_LEN))
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Output may be plaintext or a MAC: only its length is printed.
        match self {
            Out::Len(n) => write!(f, "Len({n})"),
            Out::Data(v) => write!(f, "Data({} bytes)", v.len()),
        }
    }
}

/// How `C_Initialize` was called, already checked for pointer validity.
#[derive(Clone, Copy, Debug, Default)]
pub struct InitArgs {
    pub flags: CK_FLAGS,
    /// All four mutex callbacks were supplied.
    pub has_mutex_callbacks: bool,
    /// Only some of the four callbacks were supplied.
    pub partial_mutex_callbacks: bool,
    pub reserved_non_null: bool,
}

/// The library state behind an initialized module.
pub struct Library {
    config: Config,
    tokens: Vec<Token>,
    sessions: session_table::SessionTable,
    /// Read-locked to look a handle up (every `C_*Init`), write-locked to
    /// change the table: lookups on different sessions never wait.
    handles: RwLock<HandleTable>,
    /// Session and object handles come from one counter and are never
    /// reused while the library lives.
    next_handle: AtomicU64,
    /// Seals C_GetOperationState blobs; new per instance, so a state
    /// never outlives the C_Initialize that made it.
    state_key: crate::mechanism::state::StateKey,
}

impl Library {
    /// Opens every configured slot's token store.
    pub fn new(config: Config) -> Result<Library> {
        // The FIPS build refuses to start unless AWS-LC's module passed its
        // power-on self-tests and runs in FIPS mode.
        crate::mechanism::provider::self_test()?;
        // Process-wide: the mechanism table is shared by every slot.
        crate::mechanism::set_legacy_rsa_allowed(config.allow_legacy_rsa_decryption);
        crate::mechanism::set_min_rsa_bits(config.policy.min_rsa_bits);
        crate::mechanism::set_min_ec_bits(config.policy.min_ec_bits);
        crate::mechanism::set_min_rsa_verify_bits(config.policy.min_rsa_verify_bits);
        crate::mechanism::set_simple_derive_allowed(!config.policy.wrap_separation);
        crate::mechanism::set_cbc_mac_allowed(config.policy.cbc_mac);
        crate::mechanism::set_poly1305_allowed(config.policy.poly1305);
        let tokens = config
            .slots
            .iter()
            .map(|slot| Token::open(&config, slot))
            .collect::<Result<Vec<_>>>()?;
        let library = Library {
            config,
            tokens,
            sessions: session_table::SessionTable::default(),
            handles: RwLock::new(HandleTable::default()),
            next_handle: AtomicU64::new(1),
            state_key: crate::mechanism::state::StateKey::generate()?,
        };
        library.add_profiles()?;
        Ok(library)
    }

    /// Each token describes the profile it meets (PKCS#11 3.0 §4.13) with
    /// a read-only CKO_PROFILE object, visible before login. It is held
    /// like a session object owned by no session (handle 0 is never one).
    fn add_profiles(&self) -> Result<()> {
        let mut handles = self.handles()?;
        for token in 0..self.tokens.len() {
            let profile = crate::object::profile_object(CKP_BASELINE_PROVIDER);
            handles.insert_session_object(
                self.new_handle(),
                handles::ObjRef::Session {
                    token,
                    session: 0,
                    object: Arc::new(profile),
                    key: Arc::default(),
                },
            );
        }
        Ok(())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn new_handle(&self) -> CK_ULONG {
        self.next_handle.fetch_add(1, Ordering::Relaxed)
    }

    /// The token of a slot id, and its index.
    fn slot(&self, slot: CK_SLOT_ID) -> Result<(usize, &Token)> {
        self.tokens
            .iter()
            .enumerate()
            .find(|(_, t)| t.slot_id == slot)
            .ok_or(Error::SlotIdInvalid)
    }

    fn token(&self, index: usize) -> Result<&Token> {
        self.tokens.get(index).ok_or(Error::GeneralError)
    }

    /// A session's table entry; the table lock is held only to clone it.
    fn session(&self, h: CK_SESSION_HANDLE) -> Result<session::SessionRef> {
        self.sessions.get(h)?.ok_or(Error::SessionHandleInvalid)
    }

    /// Runs `f` on a locked session and its token. Only this session's
    /// lock is held: other sessions run in parallel.
    fn with_session<R>(
        &self,
        h: CK_SESSION_HANDLE,
        f: impl FnOnce(&mut Session, &Token) -> Result<R>,
    ) -> Result<R> {
        let session = self.session(h)?;
        let token = self.token(session.token)?;
        let mut guard = lock(&session.state)?;
        f(&mut guard, token)
    }

    /// The handle table, write-locked; every token's `local` generation
    /// moves when the guard is dropped (after the change), so no session
    /// trusts a key it remembered under a handle that changed meanwhile.
    fn handles(&self) -> Result<HandlesWrite<'_>> {
        let guard = self.handles.write().map_err(|_| Error::GeneralError)?;
        Ok(HandlesWrite {
            guard,
            tokens: &self.tokens,
        })
    }

    fn handles_read(&self) -> Result<std::sync::RwLockReadGuard<'_, HandleTable>> {
        self.handles.read().map_err(|_| Error::GeneralError)
    }

    /// Sessions of one token: (all, read/write). Reads only the table's
    /// fixed facts: no session's lock is taken.
    fn session_counts(&self, token: usize) -> Result<(u64, u64)> {
        let mut all = 0;
        let mut rw = 0;
        self.sessions.for_each(|s| {
            if s.token == token {
                all += 1;
                if s.rw {
                    rw += 1;
                }
            }
        })?;
        Ok((all, rw))
    }
}

/// The handle table's write guard (see `Library::handles`).
struct HandlesWrite<'a> {
    guard: std::sync::RwLockWriteGuard<'a, HandleTable>,
    tokens: &'a [Token],
}

impl std::ops::Deref for HandlesWrite<'_> {
    type Target = HandleTable;
    fn deref(&self) -> &HandleTable {
        &self.guard
    }
}

impl std::ops::DerefMut for HandlesWrite<'_> {
    fn deref_mut(&mut self) -> &mut HandleTable {
        &mut self.guard
    }
}

impl Drop for HandlesWrite<'_> {
    fn drop(&mut self) {
        for token in self.tokens {
            token.bump_local();
        }
    }
}

/// A poisoned lock means a panic happened mid-update: report, don't panic.
fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| Error::GeneralError)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod find_tests;
