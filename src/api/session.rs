//! Session management and login: C_OpenSession … C_Logout, C_SessionCancel.

use std::sync::{Arc, Mutex};

use cryptoki_sys::*;

use super::{Library, lock};
use crate::error::{Error, Result};
use crate::session::Session;
use crate::token::Login;

/// A session as the sessions table holds it: the facts fixed at
/// C_OpenSession, readable without any lock, beside the state behind the
/// session's own mutex. Table-wide code (counting sessions, closing all,
/// the read-only check of an SO login) reads only the facts, so it never
/// waits for an operation running on another session (see the lock order
/// in `api/mod.rs`).
#[derive(Clone)]
pub(super) struct SessionRef {
    /// Index of the slot's token in the library's token list.
    pub token: usize,
    pub rw: bool,
    pub state: Arc<Mutex<Session>>,
    /// The session's key memo (the same as `Session::keys`), reachable
    /// without the session's lock: see `Library::forget_keys`.
    pub keys: Arc<Mutex<crate::session::KeyMemo>>,
}

impl SessionRef {
    /// Waits until no call runs on this session (a poisoned lock means
    /// none does any more).
    fn wait_idle(&self) {
        drop(self.state.lock());
    }
}

impl Library {
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let (index, token) = self.slot(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        if flags & CKF_RW_SESSION == 0 && token.login_role()? == Login::So {
            return Err(Error::SessionReadWriteSoExists);
        }
        let h = self.new_handle();
        let session = Session::new(h, index, slot, flags);
        let entry = SessionRef {
            token: index,
            rw: session.rw,
            keys: Arc::clone(&session.keys),
            state: Arc::new(Mutex::new(session)),
        };
        self.sessions.insert(h, entry)?;
        Ok(h)
    }

    /// The handle is invalid from the moment it leaves the table; a call
    /// still running on this same session is waited for (its own lock,
    /// taken after the table lock is released), so the session objects it
    /// creates are destroyed with the session rather than left behind.
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let entry = self
            .sessions
            .remove(h)?
            .ok_or(Error::SessionHandleInvalid)?;
        entry.wait_idle();
        let token = entry.token;
        // O(this session's objects): the handle table indexes them by owner.
        self.handles()?.remove_session(h);
        self.logout_if_last(token)
    }

    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        let (index, _) = self.slot(slot)?;
        let removed: Vec<(CK_SESSION_HANDLE, SessionRef)> =
            self.sessions.remove_where(|s| s.token == index)?;
        // As in close_session: calls still running on these sessions end
        // before their objects go (no table lock is held here).
        let closed: Vec<CK_SESSION_HANDLE> = removed
            .into_iter()
            .map(|(h, e)| {
                e.wait_idle();
                h
            })
            .collect();
        {
            let mut handles = self.handles()?;
            for h in closed {
                handles.remove_session(h);
            }
        }
        self.logout_if_last(index)
    }

    /// Drops the key memo entries of every session of token `token`: all
    /// of them (`None`: a logout), or those of one destroyed row. Takes
    /// each memo's leaf lock in turn, never a session's lock, so it does
    /// not wait for operations running on other sessions.
    pub(super) fn forget_keys(&self, token: usize, id: Option<i64>) -> Result<()> {
        self.sessions.for_each(|s| {
            if s.token == token {
                let mut memo = crate::session::memo_lock(&s.keys);
                match id {
                    Some(id) => memo.forget(id),
                    None => memo.clear(),
                }
            }
        })
    }

    /// Closing the last session of a token logs the application out.
    fn logout_if_last(&self, token: usize) -> Result<()> {
        // Closing a session is one of the points where batched usage
        // counts reach the database (kept for later if they cannot: the
        // close and the logout below go on).
        let _ = self.token(token)?.flush_usage();
        if self.session_counts(token)?.0 == 0 {
            self.token(token)?.logout()?;
        }
        Ok(())
    }

    /// Size of the handle table and the work its session-object removals
    /// have done: lets tests check that closing a session is O(1) in the
    /// objects and sessions a process has had, without timing anything.
    pub fn handle_stats(&self) -> Result<super::handles::HandleStats> {
        Ok(self.handles()?.stats())
    }

    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        self.with_session(h, |s, token| {
            Ok(CK_SESSION_INFO {
                slotID: s.slot_id,
                state: s.state(token.login_role()?),
                flags: s.flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION),
                ulDeviceError: 0,
            })
        })
    }

    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        self.login_as(h, user, Some(pin))
    }

    /// C_Login with a NULL PIN: the protected authentication path, which
    /// a token has when its slot names a `user_pin_file`; for the user
    /// (and the user's context-specific login) only. Anything else is
    /// CKR_ARGUMENTS_BAD, as a NULL PIN always was.
    pub fn login_protected(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE) -> Result<()> {
        self.login_as(h, user, None)
    }

    fn login_as(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
        let session = self.session(h)?;
        let index = session.token;
        let token = self.token(index)?;
        if pin.is_none()
            && !(token.protected_path() && matches!(user, CKU_USER | CKU_CONTEXT_SPECIFIC))
        {
            return Err(Error::ArgumentsBad);
        }
        let role = match user {
            CKU_SO => Login::So,
            CKU_USER => Login::User,
            CKU_CONTEXT_SPECIFIC => {
                if token.login_role()? != Login::User {
                    return Err(Error::UserNotLoggedIn);
                }
                if !lock(&session.state)?.wants_context_login() {
                    return Err(Error::OperationNotInitialized);
                }
                match pin {
                    Some(pin) => token.reauthenticate(pin)?,
                    None => token.reauthenticate_protected()?,
                }
                return lock(&session.state)?.context_login_done();
            }
            _ => return Err(Error::UserTypeInvalid),
        };
        if role == Login::So
            && token.login_role()? == Login::Public
            && self.has_ro_session(index)?
        {
            return Err(Error::SessionReadOnlyExists);
        }
        match pin {
            Some(pin) => token.login(role, pin),
            None => token.login_protected(role),
        }
    }

    fn has_ro_session(&self, token: usize) -> Result<bool> {
        let (all, rw) = self.session_counts(token)?;
        Ok(all > rw)
    }

    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let index = self.session(h)?.token;
        let token = self.token(index)?;
        if token.login_role()? == Login::Public {
            return Err(Error::UserNotLoggedIn);
        }
        token.logout()?;
        // No session keeps a copy of a key the logout dropped.
        self.forget_keys(index, None)?;
        // Private session objects belong to the user's login.
        self.handles()?
            .remove_session_objects(|t, _, obj| t == index && obj.is_private());
        Ok(())
    }

    /// C_GetSessionValidationFlags (PKCS#11 3.2 §4.15.3.1): the module
    /// has no validation objects, so no operation ever meets a
    /// validation's requirements and the flags are 0. The one defined
    /// flags type is CKS_LAST_VALIDATION_OK; any other is a bad argument.
    pub fn session_validation_flags(&self, h: CK_SESSION_HANDLE, ty: CK_ULONG) -> Result<CK_FLAGS> {
        self.with_session(h, |_, _| {
            if ty != CKS_LAST_VALIDATION_OK {
                return Err(Error::ArgumentsBad);
            }
            Ok(0)
        })
    }

    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        self.with_session(h, |s, _| {
            if flags & CKF_DIGEST != 0 {
                s.digest = None;
            }
            if flags & CKF_SIGN != 0 {
                s.sign = None;
            }
            if flags & CKF_VERIFY != 0 {
                s.verify = None;
                s.verify_signature = None;
            }
            if flags & CKF_ENCRYPT != 0 {
                s.encrypt = None;
            }
            if flags & CKF_DECRYPT != 0 {
                s.decrypt = None;
            }
            if flags & CKF_MESSAGE_ENCRYPT != 0 {
                s.message_encrypt = None;
            }
            if flags & CKF_MESSAGE_DECRYPT != 0 {
                s.message_decrypt = None;
            }
            if flags & CKF_FIND_OBJECTS != 0 {
                s.find = None;
            }
            if flags & CKF_SIGN_RECOVER != 0 {
                s.sign_recover = None;
            }
            if flags & CKF_VERIFY_RECOVER != 0 {
                s.verify_recover = None;
            }
            Ok(())
        })
    }
}
