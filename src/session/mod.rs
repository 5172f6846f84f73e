//! One session: its slot, read/write flag and the operations active in it
//! (at most one of each kind, as the spec requires).

mod key_memo;
pub use key_memo::{KeyMemo, KeyStamp};

use std::sync::Arc;

use cryptoki_sys::*;

use crate::error::{Error, Result};
use zeroize::Zeroizing;

use crate::mechanism::{CipherOp, DigestOp, Key, RecoverOp, SignOp, VerifyOp};
use crate::token::Login;

/// A cryptographic operation in progress plus what the spec tracks about
/// it between calls.
pub struct ActiveOp<T> {
    pub op: T,
    /// The mechanism accepts C_*Update.
    pub multipart: bool,
    /// C_*Update was called: the single-part call is no longer allowed.
    pub updated: bool,
    /// The key has CKA_ALWAYS_AUTHENTICATE and the context-specific login
    /// has not happened yet.
    pub needs_context_login: bool,
    /// Output already computed that did not fit the caller's buffer: the
    /// next call with the same input gets it (ciphers only).
    pub pending: Option<Zeroizing<Vec<u8>>>,
}

impl<T> ActiveOp<T> {
    pub fn new(op: T, multipart: bool, needs_context_login: bool) -> Self {
        ActiveOp {
            op,
            multipart,
            updated: false,
            needs_context_login,
            pending: None,
        }
    }
}

/// A message-based encryption or decryption (PKCS#11 3.0 §5.10, §5.11):
/// one mechanism and key for any number of messages, each bringing its own
/// parameter. It lives from C_Message*Init to C_Message*Final; an error in
/// one message does not end it.
pub struct MessageOp {
    pub mech: CK_MECHANISM_TYPE,
    pub key: Arc<Key>,
    /// The next value of the CKG_GENERATE_COUNTER(_XOR) IV counter. It is
    /// per operation, as the spec has it: IVs stay unique across
    /// operations with the same key only through the caller's fixed part.
    pub counter: u64,
    /// The multi-part message between C_*MessageBegin and the
    /// C_*MessageNext that ends it.
    pub part: Option<MessagePart>,
}

impl MessageOp {
    pub fn new(mech: CK_MECHANISM_TYPE, key: Arc<Key>) -> Self {
        MessageOp {
            mech,
            key,
            counter: 0,
            part: None,
        }
    }
}

/// One multi-part message in progress.
pub struct MessagePart {
    pub op: Box<dyn CipherOp>,
    /// The tag length chosen at C_*MessageBegin.
    pub tag_bits: CK_ULONG,
    /// Decryption: the tag read at C_DecryptMessageBegin, used when the
    /// last C_DecryptMessageNext brings none.
    pub tag: Option<Vec<u8>>,
    /// Text bytes taken so far (decryption releases them all at the end).
    pub len: usize,
}

/// A verification started by C_VerifySignatureInit: the verify operation
/// and the signature it will be checked against at the end.
pub struct SignatureFirst {
    pub op: Box<dyn VerifyOp>,
    pub signature: Vec<u8>,
}

pub struct Session {
    pub handle: CK_SESSION_HANDLE,
    /// Index of the slot's token in the library's token list.
    pub token: usize,
    pub slot_id: CK_SLOT_ID,
    pub rw: bool,
    pub flags: CK_FLAGS,
    /// Handles still to be returned by C_FindObjects, in reverse order.
    pub find: Option<Vec<CK_OBJECT_HANDLE>>,
    pub digest: Option<ActiveOp<Box<dyn DigestOp>>>,
    pub sign: Option<ActiveOp<Box<dyn SignOp>>>,
    pub verify: Option<ActiveOp<Box<dyn VerifyOp>>>,
    /// A PKCS#11 3.2 verification whose signature came with its init
    /// (C_VerifySignatureInit); see `api/verify_signature.rs`.
    pub verify_signature: Option<ActiveOp<SignatureFirst>>,
    pub encrypt: Option<ActiveOp<Box<dyn CipherOp>>>,
    pub decrypt: Option<ActiveOp<Box<dyn CipherOp>>>,
    pub message_encrypt: Option<MessageOp>,
    pub message_decrypt: Option<MessageOp>,
    /// C_SignRecoverInit's operation (a signing operation: it and `sign`
    /// exclude each other).
    pub sign_recover: Option<ActiveOp<Box<dyn RecoverOp>>>,
    /// C_VerifyRecoverInit's operation (excludes `verify` likewise).
    pub verify_recover: Option<ActiveOp<Box<dyn RecoverOp>>>,
    /// Token keys this session used last (see `KeyMemo`). Behind its own
    /// mutex, shared with the sessions table's entry, so that a logout or
    /// a destruction can drop other sessions' entries without waiting for
    /// an operation that holds their session lock: a leaf lock, held only
    /// for one memo call, and otherwise only ever taken by the thread that
    /// holds this session (uncontended).
    pub keys: std::sync::Arc<std::sync::Mutex<KeyMemo>>,
}

impl Session {
    pub fn new(
        handle: CK_SESSION_HANDLE,
        token: usize,
        slot_id: CK_SLOT_ID,
        flags: CK_FLAGS,
    ) -> Self {
        Session {
            handle,
            token,
            slot_id,
            rw: flags & CKF_RW_SESSION != 0,
            flags,
            find: None,
            digest: None,
            sign: None,
            verify: None,
            verify_signature: None,
            encrypt: None,
            decrypt: None,
            message_encrypt: None,
            message_decrypt: None,
            sign_recover: None,
            verify_recover: None,
            keys: std::sync::Arc::default(),
        }
    }

    /// The session's key memo, locked. A poisoned lock (a panic inside a
    /// memo call) is taken over: every memo call leaves its entries valid.
    pub fn memo(&self) -> std::sync::MutexGuard<'_, KeyMemo> {
        memo_lock(&self.keys)
    }

    /// The session state of PKCS#11 3.0 §5.6 table "Session states".
    pub fn state(&self, login: Login) -> CK_STATE {
        match (login, self.rw) {
            (Login::Public, false) => CKS_RO_PUBLIC_SESSION,
            (Login::Public, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User, false) => CKS_RO_USER_FUNCTIONS,
            (Login::User, true) => CKS_RW_USER_FUNCTIONS,
            // An SO session is always R/W: R/O sessions block SO login.
            (Login::So, _) => CKS_RW_SO_FUNCTIONS,
        }
    }

    /// Ends every active operation (logout, cancel-all).
    pub fn cancel_all(&mut self) {
        self.find = None;
        self.digest = None;
        self.sign = None;
        self.verify = None;
        self.verify_signature = None;
        self.encrypt = None;
        self.decrypt = None;
        self.message_encrypt = None;
        self.message_decrypt = None;
        self.sign_recover = None;
        self.verify_recover = None;
    }

    /// A context-specific login satisfies the operation waiting for it.
    pub fn context_login_done(&mut self) -> Result<()> {
        let mut any = false;
        if let Some(op) = self.sign.as_mut().filter(|o| o.needs_context_login) {
            op.needs_context_login = false;
            any = true;
        }
        if let Some(op) = self.verify.as_mut().filter(|o| o.needs_context_login) {
            op.needs_context_login = false;
            any = true;
        }
        if let Some(op) = self.decrypt.as_mut().filter(|o| o.needs_context_login) {
            op.needs_context_login = false;
            any = true;
        }
        if let Some(op) = self.sign_recover.as_mut().filter(|o| o.needs_context_login) {
            op.needs_context_login = false;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(Error::OperationNotInitialized)
        }
    }

    pub fn wants_context_login(&self) -> bool {
        self.sign.as_ref().is_some_and(|o| o.needs_context_login)
            || self.verify.as_ref().is_some_and(|o| o.needs_context_login)
            || self.decrypt.as_ref().is_some_and(|o| o.needs_context_login)
            || self
                .sign_recover
                .as_ref()
                .is_some_and(|o| o.needs_context_login)
    }
}

/// Locks a session's key memo (see [`Session::memo`]).
pub fn memo_lock(keys: &std::sync::Mutex<KeyMemo>) -> std::sync::MutexGuard<'_, KeyMemo> {
    keys.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_states_follow_the_spec_table() {
        let ro = Session::new(1, 0, 0, CKF_SERIAL_SESSION);
        let rw = Session::new(2, 0, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION);
        assert_eq!(ro.state(Login::Public), CKS_RO_PUBLIC_SESSION);
        assert_eq!(rw.state(Login::Public), CKS_RW_PUBLIC_SESSION);
        assert_eq!(ro.state(Login::User), CKS_RO_USER_FUNCTIONS);
        assert_eq!(rw.state(Login::User), CKS_RW_USER_FUNCTIONS);
        assert_eq!(rw.state(Login::So), CKS_RW_SO_FUNCTIONS);
    }

    #[test]
    fn cancel_all_ends_message_operations() {
        let key = Arc::new(Key::secret(CKK_AES, &[1; 16]).unwrap());
        let mut s = Session::new(1, 0, 0, CKF_SERIAL_SESSION);
        s.message_encrypt = Some(MessageOp::new(CKM_AES_GCM, Arc::clone(&key)));
        s.message_decrypt = Some(MessageOp::new(CKM_AES_GCM, key));
        assert_eq!(s.message_encrypt.as_ref().map(|m| m.counter), Some(0));
        s.cancel_all();
        assert!(s.message_encrypt.is_none() && s.message_decrypt.is_none());
    }

    #[test]
    fn context_login_without_operation_is_refused() {
        let mut s = Session::new(1, 0, 0, CKF_SERIAL_SESSION);
        assert_eq!(s.context_login_done(), Err(Error::OperationNotInitialized));
        assert!(!s.wants_context_login());
    }
}
