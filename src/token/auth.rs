//! PINs: login with retry counting and lockout, token initialization,
//! and PIN changes that re-wrap the master key (never re-encrypt objects).

use std::time::Duration;

use zeroize::Zeroizing;

use super::quorum::Subject;
use super::{Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::mechanism;
use crate::quorum::Op;
use crate::store::pin_attempts::{self, Begin, Finish};
use crate::store::rekey::KeyState;
use crate::store::seal::{self, AuditKey, MasterKey, PinRecord, StepDirection};
use crate::store::sqlite::{Role, TokenMeta};

/// How often C_SetPIN re-checks the old PIN when master-key rotations
/// keep committing between its check and its write.
const SET_PIN_ATTEMPTS: usize = 3;

impl Token {
    fn check_pin_len(&self, pin: &[u8]) -> Result<()> {
        if pin.len() < self.policy.min_len || pin.len() > self.policy.max_len {
            return Err(Error::PinLenRange);
        }
        Ok(())
    }

    pub(super) fn wrap_pin(&self, mk: &MasterKey, pin: &[u8], role: Role) -> Result<PinRecord> {
        seal::wrap_master_key(mk, pin, role.byte(), self.policy.kdf_iterations)
    }

    /// Checks a PIN against the stored record, counting failures
    /// persistently so a lockout holds across processes and restarts.
    /// Returns the master key and the token epoch it belongs to; the
    /// failure count is already reset on success. A failure is audited
    /// here (`purpose` says what the PIN was for).
    ///
    /// Each try is reserved before the KDF and counted after it, both in
    /// one transaction each (`store/pin_attempts.rs`): processes guessing
    /// at the same time never learn more wrong results than the limit
    /// between them, a right PIN is refused only when wrong guesses had
    /// locked it, and a try whose process died in the middle is dropped,
    /// not counted.
    pub fn verify_pin(&self, role: Role, pin: &[u8], purpose: &str) -> Result<(MasterKey, i64)> {
        self.verify_pin_unless(role, pin, purpose, &|| Ok(()))
    }

    /// [`Token::verify_pin`], giving up with `moot`'s error while waiting
    /// for a free try (e.g. another thread of ours logged in meanwhile).
    fn verify_pin_unless(
        &self,
        role: Role,
        pin: &[u8],
        purpose: &str,
        moot: &dyn Fn() -> Result<()>,
    ) -> Result<(MasterKey, i64)> {
        let result = self.check_pin(role, pin, moot);
        // Giving up because another thread logged in is no failed login.
        let moot_err = |e: &Error| {
            matches!(
                e,
                Error::UserAlreadyLoggedIn | Error::UserAnotherAlreadyLoggedIn
            )
        };
        if let Err(e) = result
            .as_ref()
            .map(drop)
            .map_err(|e| *e)
            .or_else(|e| if moot_err(&e) { Ok(()) } else { Err(e) })
        {
            let who = match role {
                Role::So => "SO",
                Role::User => "user",
            };
            let ev = Event::new("login_failed")
                .failed(e)
                .detail(format!("{who} PIN for {purpose}"));
            let _ = self.audit(&ev, None);
            if e == Error::PinIncorrect
                && let Ok(Some(meta)) = self.db.meta()
            {
                let failures = match role {
                    Role::So => meta.so_failures,
                    Role::User => meta.user_failures,
                };
                if failures >= self.policy.max_failures {
                    let _ = self.audit(
                        &Event::new("pin_locked").detail(format!("{who} PIN locked")),
                        None,
                    );
                }
            }
        }
        result
    }

    fn check_pin(
        &self,
        role: Role,
        pin: &[u8],
        moot: &dyn Fn() -> Result<()>,
    ) -> Result<(MasterKey, i64)> {
        let max = self.policy.max_failures;
        let mut wait = Wait::new();
        // Starts over only when the PIN record changed during the check.
        loop {
            let attempt = loop {
                match self.db.begin_pin_attempt(role, max)? {
                    Begin::Started(a) => break a,
                    Begin::Locked => return Err(Error::PinLocked),
                    Begin::Full => {
                        moot()?;
                        wait.pause()?;
                    }
                }
            };
            // A PIN of a length no PIN here can have is simply wrong:
            // C_Login may not answer CKR_PIN_LEN_RANGE (that code is for a
            // PIN being set), and C_SetPIN keeps it for the new PIN. It is
            // not counted: it cannot be the PIN, so it teaches a guesser
            // nothing and must not bring a lockout nearer.
            if pin.len() < self.policy.min_len || pin.len() > self.policy.max_len {
                self.db.abandon_pin_attempt(&attempt)?;
                return Err(Error::PinIncorrect);
            }
            let unwrapped = seal::unwrap_master_key(pin, role.byte(), &attempt.record);
            let correct = match &unwrapped {
                Ok(_) => true,
                Err(Error::PinIncorrect) => false,
                Err(e) => {
                    // No verdict on the PIN (a damaged record): nothing to count.
                    self.db.abandon_pin_attempt(&attempt)?;
                    return Err(*e);
                }
            };
            loop {
                match self.db.finish_pin_attempt(role, &attempt, correct, max)? {
                    Finish::Counted(_) => return unwrapped.map(|mk| (mk, attempt.epoch)),
                    Finish::Locked => return Err(Error::PinLocked),
                    Finish::Full => wait.pause()?,
                    Finish::Stale => break,
                }
            }
            wait.pause()?;
        }
    }

    /// C_Login for CKU_SO or CKU_USER; the caller has checked sessions.
    pub fn login(&self, role: Login, pin: &[u8]) -> Result<()> {
        self.login_via(role, pin, None)
    }

    /// [`Token::login`]; `via` says where the PIN came from when not from
    /// the caller (the protected authentication path), for the audit
    /// trail.
    pub(super) fn login_via(&self, role: Login, pin: &[u8], via: Option<&str>) -> Result<()> {
        let store_role = match role {
            Login::So => Role::So,
            Login::User => Role::User,
            Login::Public => return Err(Error::UserTypeInvalid),
        };
        match self.login_role()? {
            Login::Public => {}
            current if current == role => return Err(Error::UserAlreadyLoggedIn),
            _ => return Err(Error::UserAnotherAlreadyLoggedIn),
        }
        // The KDF runs without holding the login lock; a thread waiting
        // for a free try stops once another one has logged in.
        let moot = || match self.login_role()? {
            Login::Public => Ok(()),
            current if current == role => Err(Error::UserAlreadyLoggedIn),
            _ => Err(Error::UserAnotherAlreadyLoggedIn),
        };
        let purpose = match via {
            Some(via) => format!("login, {via}"),
            None => "login".to_string(),
        };
        let (mk, epoch) = self.verify_pin_unless(store_role, pin, &purpose, &moot)?;
        let audit_key = self.load_audit_key(&mk)?;
        let event = match via {
            Some(via) => Event::new("login").detail(via),
            None => Event::new("login"),
        };
        let entry = self.entry_as(role, audit_key.clone(), &event, None);
        self.db.append_audit(&entry)?;
        let mut state = self.login_state()?;
        match state.login {
            Login::Public => {
                self.set_login(&mut state, role);
                state.master_key = Some(mk);
                state.epoch = epoch;
                state.previous = None;
                state.audit_key = audit_key;
                Ok(())
            }
            current if current == role => Err(Error::UserAlreadyLoggedIn),
            _ => Err(Error::UserAnotherAlreadyLoggedIn),
        }
    }

    /// CKU_CONTEXT_SPECIFIC: the logged-in user proves the PIN again for
    /// one operation on a CKA_ALWAYS_AUTHENTICATE key.
    pub fn reauthenticate(&self, pin: &[u8]) -> Result<()> {
        self.verify_pin(Role::User, pin, "context-specific login")?;
        let ev = Event::new("login").detail("context-specific");
        let entry = self.audit_entry(&ev, None)?;
        self.db.append_audit(&entry).map(drop)
    }

    /// Brings our keys up to the token's after another process rotated
    /// the master key: follows the rotation steps from our epoch to the
    /// token's (each step is the next key wrapped under the one before),
    /// and while a rotation is in progress also keeps (or unwraps) its old
    /// key for rows not re-sealed yet. The login stays. When our key cannot
    /// reach the token's (the token was re-initialized, or we slept
    /// through more than `rekey::MAX_STEPS` rotations) we are logged out:
    /// [`Error::UserNotLoggedIn`]. Reads in one snapshot, then takes the
    /// login lock: no lock is held across the database read.
    pub(super) fn refresh_keys(&self) -> Result<()> {
        let (ours, key, previous) = {
            let state = self.login_state()?;
            let mk = state.master_key.clone().ok_or(Error::UserNotLoggedIn)?;
            (state.epoch, mk, state.previous.clone())
        };
        let snapshot = self.db.key_state()?;
        match follow(ours, key, previous, &snapshot) {
            Ok((epoch, mk, previous)) => {
                let mut state = self.login_state()?;
                if state.master_key.is_none() {
                    return Err(Error::UserNotLoggedIn);
                }
                // Another thread may have refreshed (or logged in again)
                // meanwhile: its keys are at least as new as ours.
                if state.epoch == ours {
                    state.epoch = epoch;
                    state.master_key = Some(mk);
                    state.previous = previous;
                }
                Ok(())
            }
            Err(Error::UserNotLoggedIn) => {
                let stale = {
                    let state = self.login_state()?;
                    state.master_key.is_some() && state.epoch == ours
                };
                if stale {
                    self.logout()?;
                }
                Err(Error::UserNotLoggedIn)
            }
            Err(e) => Err(e),
        }
    }

    /// C_InitToken: checks the SO PIN of an initialized token, then wipes
    /// it under a fresh master key. The caller has checked for sessions.
    pub fn init_token(&self, so_pin: &[u8], label: &[u8; 32]) -> Result<()> {
        self.check_pin_len(so_pin)?;
        let old = self.db.meta()?;
        let mut old_mk = None;
        if let Some(meta) = &old
            && meta.so_pin.is_some()
        {
            old_mk = Some(self.verify_pin(Role::So, so_pin, "token initialization")?.0);
        }
        if old.is_some() {
            self.authorize_with(
                &Subject {
                    op: Op::Init,
                    target: self.token_target("token")?,
                    marked: false,
                    object: None,
                },
                old_mk.as_ref(),
            )?;
        }
        // The audit trail outlives the token's contents: its key is carried
        // over by the SO who proved the old master key, else made anew.
        let audit_key = match (&old_mk, self.db.audit_key_wrapped()?) {
            (Some(mk), Some(wrapped)) => {
                AuditKey::unwrap(mk, &wrapped).or_else(|_| AuditKey::generate())?
            }
            _ => AuditKey::generate()?,
        };
        let mk = MasterKey::generate()?;
        // Officers and rules outlive a re-initialization, like the trail.
        let quorum = self.quorum_rekeyed(old_mk.as_ref(), &mk)?;
        drop(old_mk);
        let serial = match &old {
            Some(meta) => meta.serial,
            None => new_serial()?,
        };
        let mut epoch = [0u8; 8];
        mechanism::random(&mut epoch)?;
        let meta = TokenMeta {
            label: *label,
            serial,
            so_pin: Some(self.wrap_pin(&mk, so_pin, Role::So)?),
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            epoch: i64::from_le_bytes(epoch),
        };
        let label_text = String::from_utf8_lossy(label).trim_end().to_string();
        let ev = Event::new("token_init").detail(format!("label {label_text:?}"));
        let entry = self.entry_as(Login::So, Some(audit_key.clone()), &ev, None);
        self.db
            .initialize_with(&meta, &audit_key.wrap(&mk)?, quorum.as_ref(), &entry)?;
        self.logout()
    }

    /// The way back from a locked SO PIN, as hardware HSMs do it: without
    /// any PIN, crypto-erase the token (every object and both PIN records
    /// go, and with them the only wrappings of the old master key) and set
    /// it up again under a fresh master key and `new_so_pin`. Label and
    /// serial stay. `label` must be the token's current label, typed back
    /// as the confirmation. The audit trail survives under a new audit key
    /// (the old one was wrapped under the erased master key); the
    /// `token_reset` record marks where the new key starts.
    pub fn reset_token(&self, label: &[u8; 32], new_so_pin: &[u8]) -> Result<()> {
        self.check_pin_len(new_so_pin)?;
        let old = self
            .db
            .meta()?
            .filter(|m| m.so_pin.is_some())
            .ok_or(Error::TokenNotRecognized)?;
        if old.label != *label {
            return Err(Error::ArgumentsBad);
        }
        // A reset erases every key: with a rule for `init`, it needs an
        // approved request like a re-initialization (checked against the
        // roster as stored — nobody can prove a key here).
        self.authorize(&Subject {
            op: Op::Init,
            target: self.token_target("token")?,
            marked: false,
            object: None,
        })?;
        let audit_key = AuditKey::generate()?;
        let mk = MasterKey::generate()?;
        let quorum = self.quorum_rekeyed(None, &mk)?;
        let mut epoch = [0u8; 8];
        mechanism::random(&mut epoch)?;
        let meta = TokenMeta {
            label: old.label,
            serial: old.serial,
            so_pin: Some(self.wrap_pin(&mk, new_so_pin, Role::So)?),
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            epoch: i64::from_le_bytes(epoch),
        };
        let detail = format!(
            "every object and PIN crypto-erased (SO PIN was {}locked); new master key, SO PIN and audit key",
            if old.so_failures >= self.policy.max_failures {
                ""
            } else {
                "not "
            }
        );
        let ev = Event::new("token_reset").detail(detail);
        let entry = self.entry_as(Login::Public, Some(audit_key.clone()), &ev, None);
        self.db
            .initialize_with(&meta, &audit_key.wrap(&mk)?, quorum.as_ref(), &entry)?;
        self.logout()
    }

    /// C_InitPIN by the logged-in SO; also unlocks a locked user PIN.
    pub fn init_pin(&self, pin: &[u8]) -> Result<()> {
        self.check_pin_len(pin)?;
        // Replacing a user PIN that exists (an unlock) is quorum-protected;
        // setting the first one is not.
        if self.db.meta()?.is_some_and(|m| m.user_pin.is_some()) {
            self.authorize(&Subject {
                op: Op::Unlock,
                target: self.token_target("user-pin")?,
                marked: false,
                object: None,
            })?;
        }
        // The epoch is checked inside the write: a rotation since would make
        // this record wrap a key that opens nothing. Then we follow the
        // rotation and wrap the new key; bounded, since C_InitPIN has no
        // "try again" code.
        for _ in 0..SET_PIN_ATTEMPTS {
            let (mk, epoch) = {
                let state = self.login_state()?;
                let mk = state.master_key.clone().ok_or(Error::UserNotLoggedIn)?;
                (mk, state.epoch)
            };
            let record = self.wrap_pin(&mk, pin, Role::User)?;
            let entry = self.audit_entry(&Event::new("pin_init"), None)?;
            match self
                .db
                .set_pin_record_at(Role::User, &record, &entry, epoch)
            {
                Err(Error::UserNotLoggedIn) => self.refresh_keys()?,
                other => return other,
            }
        }
        Err(Error::FunctionFailed)
    }

    /// C_SetPIN: the SO changes the SO PIN; anyone else the user PIN.
    pub fn set_pin(&self, old_pin: &[u8], new_pin: &[u8]) -> Result<()> {
        let role = match self.login_role()? {
            Login::So => Role::So,
            Login::User | Login::Public => Role::User,
        };
        self.check_pin_len(new_pin)?;
        // `record` wraps the key of the epoch the old PIN was checked at;
        // the write refuses it if a rotation committed since. The rotation
        // re-wrapped the new key under the same old PIN, so checking it
        // again succeeds; bounded, since C_SetPIN has no "try again" code.
        for _ in 0..SET_PIN_ATTEMPTS {
            let (mk, epoch) = self.verify_pin(role, old_pin, "PIN change")?;
            let record = self.wrap_pin(&mk, new_pin, role)?;
            let who = if role == Role::So { "SO" } else { "user" };
            let ev = Event::new("pin_change").detail(format!("{who} PIN"));
            let entry = self.audit_entry(&ev, None)?;
            match self.db.set_pin_record_at(role, &record, &entry, epoch) {
                Err(Error::UserNotLoggedIn) => continue,
                other => return other,
            }
        }
        Err(Error::FunctionFailed)
    }
}

/// Our current key and epoch after following `snapshot` from `ours`, and
/// the old key of the rotation in progress, if any. A missing or damaged
/// step is [`Error::UserNotLoggedIn`] (only a new login helps); a damaged
/// old-key wrap is [`Error::Tampered`].
type Keys = (i64, MasterKey, Option<(i64, MasterKey)>);

fn follow(
    ours: i64,
    key: MasterKey,
    previous: Option<(i64, MasterKey)>,
    snapshot: &KeyState,
) -> Result<Keys> {
    let current = snapshot.epoch.ok_or(Error::UserNotLoggedIn)?;
    let mut known: Vec<(i64, MasterKey)> = previous.into_iter().collect();
    let (mut epoch, mut mk) = (ours, key);
    // Each step moves to a newer epoch; the bound stops a crafted cycle.
    for _ in 0..snapshot.steps.len() {
        if epoch == current {
            break;
        }
        let step = snapshot
            .steps
            .iter()
            .find(|s| s.from == epoch)
            .ok_or(Error::UserNotLoggedIn)?;
        let next = seal::unwrap_step(&mk, StepDirection::Next, step.from, step.to, &step.wrapped)
            .map_err(|_| Error::UserNotLoggedIn)?;
        known.push((epoch, mk));
        (epoch, mk) = (step.to, next);
    }
    if epoch != current {
        return Err(Error::UserNotLoggedIn);
    }
    let previous = match &snapshot.rotation {
        Some(r) if r.to == current => match known.into_iter().find(|(e, _)| *e == r.from) {
            Some(found) => Some(found),
            None => Some((
                r.from,
                seal::unwrap_step(&mk, StepDirection::Previous, r.to, r.from, &r.previous)?,
            )),
        },
        _ => None,
    };
    Ok((current, mk, previous))
}

/// Waiting for a free try: every try left is held by an attempt in flight.
/// Short sleeps, bounded by a little more than a reservation's lease (the
/// longest a dead owner on another host can hold a try).
struct Wait {
    waited: Duration,
}

const WAIT_STEP: Duration = Duration::from_millis(5);
const WAIT_STEP_MAX: Duration = Duration::from_millis(40);
const WAIT_LIMIT: Duration = Duration::from_secs(pin_attempts::LEASE.as_secs() + 15);

impl Wait {
    fn new() -> Wait {
        Wait {
            waited: Duration::ZERO,
        }
    }

    /// Sleeps a little (with jitter, so waiters do not move in step);
    /// CKR_FUNCTION_FAILED once the bound is reached.
    fn pause(&mut self) -> Result<()> {
        if self.waited >= WAIT_LIMIT {
            return Err(Error::FunctionFailed);
        }
        let mut jitter = [0u8; 1];
        mechanism::random(&mut jitter)?;
        let grown = WAIT_STEP
            .saturating_add(self.waited / 20)
            .min(WAIT_STEP_MAX);
        let step = grown.saturating_add(Duration::from_millis(u64::from(jitter[0] % 8)));
        std::thread::sleep(step);
        self.waited = self.waited.saturating_add(step);
        Ok(())
    }
}

/// A 16-character hex serial, fixed for the life of the token file.
fn new_serial() -> Result<[u8; 16]> {
    let mut raw = Zeroizing::new([0u8; 8]);
    mechanism::random(raw.as_mut())?;
    let mut serial = [b'0'; 16];
    for (i, byte) in raw.iter().enumerate() {
        let hex = format!("{byte:02X}");
        if let Some(dst) = serial.get_mut(2 * i..2 * i + 2) {
            dst.copy_from_slice(hex.as_bytes());
        }
    }
    Ok(serial)
}
