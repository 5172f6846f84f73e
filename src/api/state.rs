//! C_GetOperationState / C_SetOperationState (PKCS#11 3.0 §5.6) for the
//! digest, sign and verify operations, which OpenSSL's pkcs11-provider
//! uses to duplicate contexts. The blob is sealed in
//! [`crate::mechanism::state`]; this file decides which operations may be
//! saved and re-runs the key checks of C_SignInit / C_VerifyInit on
//! restore, so a saved state never grants more than a fresh init would.

use std::sync::Arc;

use cryptoki_sys::*;

use super::{Library, Out, OutCap};
use crate::error::{Error, Result};
use crate::mechanism::state::{self, Saved, SavedOp, SavedSig};
use crate::mechanism::{self, DigestOp, Key, Mechanism, SignOp, VerifyOp};
use crate::session::{ActiveOp, Session};
use crate::token::Token;

/// Operations rebuilt from a state, installed only once all of them were.
#[derive(Default)]
struct Restored {
    digest: Option<ActiveOp<Box<dyn DigestOp>>>,
    sign: Option<ActiveOp<Box<dyn SignOp>>>,
    verify: Option<ActiveOp<Box<dyn VerifyOp>>>,
}

impl Restored {
    /// Replaces the session's operations of the restored kinds; the others
    /// stay as they are.
    fn install(self, s: &mut Session) {
        if let Some(op) = self.digest {
            s.digest = Some(op);
        }
        // A restored signature or verification is the session's one
        // operation of its kind: one with recovery gives way to it.
        if let Some(op) = self.sign {
            s.sign = Some(op);
            s.sign_recover = None;
        }
        if let Some(op) = self.verify {
            s.verify = Some(op);
            s.verify_recover = None;
        }
    }
}

fn active<T>(op: T, multipart: bool, reauth: bool, updated: bool) -> ActiveOp<T> {
    let mut a = ActiveOp::new(op, multipart, reauth);
    a.updated = updated;
    a
}

/// One active operation as saved. One still waiting for its
/// context-specific login is refused: its key must be re-authorised first.
fn saved<T>(a: &ActiveOp<T>, save: impl FnOnce(&T) -> Result<SavedOp>) -> Result<Saved> {
    if a.needs_context_login || a.pending.is_some() {
        return Err(Error::StateUnsaveable);
    }
    Ok(Saved {
        op: save(&a.op)?,
        updated: a.updated,
    })
}

/// What C_GetOperationState saves of a session.
fn save_session(s: &Session) -> Result<Vec<Saved>> {
    let unsaveable = s.find.is_some()
        || s.encrypt.is_some()
        || s.decrypt.is_some()
        || s.message_encrypt.is_some()
        || s.message_decrypt.is_some()
        || s.sign_recover.is_some()
        || s.verify_recover.is_some()
        || s.verify_signature.is_some();
    let saveable = s.digest.is_some() || s.sign.is_some() || s.verify.is_some();
    if !saveable && !unsaveable {
        return Err(Error::OperationNotInitialized);
    }
    // C_SetOperationState takes one authentication key, which cannot serve
    // both a signature and a verification.
    if unsaveable || (s.sign.is_some() && s.verify.is_some()) {
        return Err(Error::StateUnsaveable);
    }
    let mut out = Vec::new();
    if let Some(a) = &s.digest {
        out.push(saved(a, |op| op.save().map(SavedOp::Digest))?);
    }
    if let Some(a) = &s.sign {
        out.push(saved(a, |op| op.save().map(SavedOp::Sign))?);
    }
    if let Some(a) = &s.verify {
        out.push(saved(a, |op| op.save().map(SavedOp::Verify))?);
    }
    Ok(out)
}

/// PKCS#11 3.0 §5.6: a key is passed exactly when the state needs one.
/// Nothing saved here ever needs an encryption key.
fn check_key_args(
    saved: &[Saved],
    encryption: CK_OBJECT_HANDLE,
    authentication: CK_OBJECT_HANDLE,
) -> Result<()> {
    let needs = saved.iter().any(|e| !matches!(e.op, SavedOp::Digest(_)));
    // pkcs11-provider 1.0 passes the signing key as both keys when it
    // copies a signing context; the same key twice is accepted for a state
    // that needs one (docs/CLIENTS.md). Any other encryption key is not
    // needed: no encryption state is ever saved.
    let same_key = needs && encryption == authentication;
    if encryption != CK_INVALID_HANDLE && !same_key {
        return Err(Error::KeyNotNeeded);
    }
    match (needs, authentication != CK_INVALID_HANDLE) {
        (true, false) => Err(Error::KeyNeeded),
        (false, true) => Err(Error::KeyNotNeeded),
        _ => Ok(()),
    }
}

impl Library {
    /// Saves the session's digest, sign or verify operation as an opaque,
    /// sealed blob, with the length protocol.
    pub fn get_operation_state(&self, h: CK_SESSION_HANDLE, out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| {
            let saved = save_session(s)?;
            let plaintext = state::encode(&saved)?;
            let blob = state::seal_state(&self.state_key, s.slot_id, &plaintext)?;
            // The length does not depend on the random nonce, so a length
            // query and the following call agree.
            Ok(match out {
                OutCap::Cap(cap) if cap >= blob.len() => Out::Data(blob),
                _ => Out::Len(blob.len()),
            })
        })
    }

    /// Restores operations saved by [`Library::get_operation_state`] in a
    /// session of the same slot and library instance. Nothing changes in
    /// the session unless every saved operation could be rebuilt.
    pub fn set_operation_state(
        &self,
        h: CK_SESSION_HANDLE,
        blob: &[u8],
        encryption_key: CK_OBJECT_HANDLE,
        authentication_key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let plaintext = state::open_state(&self.state_key, s.slot_id, blob)?;
            let saved = state::decode(&plaintext)?;
            if saved.is_empty() {
                return Err(Error::SavedStateInvalid);
            }
            check_key_args(&saved, encryption_key, authentication_key)?;
            let mut restored = Restored::default();
            for entry in saved {
                self.restore_one(s, token, entry, authentication_key, &mut restored)?;
            }
            restored.install(s);
            Ok(())
        })
    }

    fn restore_one(
        &self,
        s: &Session,
        token: &Token,
        entry: Saved,
        key: CK_OBJECT_HANDLE,
        into: &mut Restored,
    ) -> Result<()> {
        match entry.op {
            SavedOp::Digest(h) => {
                let op = h.alg.restore(&h.bytes)?;
                into.digest = Some(active(op, true, false, entry.updated));
            }
            SavedOp::Sign(sig) => {
                let m = sig.mechanism()?;
                let (reauth, key) = self.resume_key(s, token, key, CKA_SIGN, &m, &sig)?;
                let op = mechanism::sign_resume(&m, key, &sig.input)?;
                let multipart = mechanism::is_multipart(m.mech);
                // As after C_SignInit: the key's per-use login is asked
                // again, so a saved state cannot replay an authorisation.
                into.sign = Some(active(op, multipart, reauth, entry.updated));
            }
            SavedOp::Verify(sig) => {
                let m = sig.mechanism()?;
                let (_, key) = self.resume_key(s, token, key, CKA_VERIFY, &m, &sig)?;
                let op = mechanism::verify_resume(&m, key, &sig.input)?;
                let multipart = mechanism::is_verify_multipart(m.mech);
                into.verify = Some(active(op, multipart, false, entry.updated));
            }
        }
        Ok(())
    }

    /// The authentication key, through the same checks as at init time,
    /// and only if it is the key the state was saved with. Returns whether
    /// it has CKA_ALWAYS_AUTHENTICATE.
    fn resume_key(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        m: &Mechanism,
        sig: &SavedSig,
    ) -> Result<(bool, Arc<Key>)> {
        let (obj, key) = self.use_key(s, token, h, usage, m.mech)?;
        let same = state::key_id(&key).is_ok_and(|id| id == sig.key_id);
        if !same {
            // Not the key the state was saved with (PKCS#11 3.0 §5.6).
            return Err(Error::KeyChanged);
        }
        Ok((obj.flag(CKA_ALWAYS_AUTHENTICATE), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Attr, Mech, RawParam};
    use crate::config::Config;

    const SO_PIN: &[u8] = b"so-pin-1";
    const USER_PIN: &[u8] = b"user-pin-1";

    fn library(dir: &std::path::Path) -> Library {
        let config =
            Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
        Library::new(config).unwrap()
    }

    fn ready(lib: &Library) -> CK_SESSION_HANDLE {
        let mut label = [b' '; 32];
        label[0] = b't';
        lib.init_token(0, SO_PIN, &label).unwrap();
        let h = lib
            .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .unwrap();
        lib.login(h, CKU_SO, SO_PIN).unwrap();
        lib.init_pin(h, USER_PIN).unwrap();
        lib.logout(h).unwrap();
        lib.login(h, CKU_USER, USER_PIN).unwrap();
        h
    }

    fn mech(ty: CK_MECHANISM_TYPE) -> Mech {
        Mech {
            ty,
            param: RawParam::None,
        }
    }

    fn save(lib: &Library, h: CK_SESSION_HANDLE) -> Result<Vec<u8>> {
        let Out::Len(n) = lib.get_operation_state(h, OutCap::Query)? else {
            panic!("length query answered with data")
        };
        match lib.get_operation_state(h, OutCap::Cap(n))? {
            Out::Data(v) => Ok(v),
            Out::Len(_) => panic!("buffer of the queried length refused"),
        }
    }

    fn finish(lib: &Library, h: CK_SESSION_HANDLE) -> Vec<u8> {
        match lib.digest_final(h, OutCap::Cap(64)).unwrap() {
            Out::Data(v) => v,
            Out::Len(_) => panic!("short buffer"),
        }
    }

    #[test]
    fn digest_state_moves_between_sessions_of_one_library_only() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        let h = ready(&lib);
        lib.digest_init(h, Some(&mech(CKM_SHA384))).unwrap();
        lib.digest_update(h, b"ab").unwrap();
        let blob = save(&lib, h).unwrap();
        assert_eq!(
            lib.get_operation_state(h, OutCap::Cap(blob.len() - 1)),
            Ok(Out::Len(blob.len()))
        );
        let other = lib.open_session(0, CKF_SERIAL_SESSION).unwrap();
        lib.set_operation_state(other, &blob, 0, 0).unwrap();
        lib.digest_update(other, b"c").unwrap();
        let abc = mechanism::HashAlg::Sha384.hash(b"abc");
        assert_eq!(finish(&lib, other), abc);
        // The source session kept its own operation.
        lib.digest_update(h, b"c").unwrap();
        assert_eq!(finish(&lib, h), abc);
        // The single-part call stays refused after an update.
        lib.set_operation_state(other, &blob, 0, 0).unwrap();
        assert_eq!(
            lib.digest(other, b"c", OutCap::Cap(64)),
            Err(Error::OperationActive)
        );
        // Another library instance (another process) has another key.
        let second = library(dir.path());
        let s2 = second.open_session(0, CKF_SERIAL_SESSION).unwrap();
        assert_eq!(
            second.set_operation_state(s2, &blob, 0, 0),
            Err(Error::SavedStateInvalid)
        );
        assert_eq!(
            lib.set_operation_state(other, &blob, 5, 0),
            Err(Error::KeyNotNeeded)
        );
    }

    #[test]
    fn what_cannot_be_saved() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        let h = ready(&lib);
        assert_eq!(
            lib.get_operation_state(h, OutCap::Query),
            Err(Error::OperationNotInitialized)
        );
        lib.find_objects_init(h, &[]).unwrap();
        assert_eq!(
            lib.get_operation_state(h, OutCap::Query),
            Err(Error::StateUnsaveable)
        );
        lib.find_objects_final(h).unwrap();
        let key = lib
            .generate_key(
                h,
                &mech(CKM_GENERIC_SECRET_KEY_GEN),
                &[
                    Attr {
                        ty: CKA_VALUE_LEN,
                        value: 32u64.to_ne_bytes().to_vec(),
                    },
                    Attr {
                        ty: CKA_SIGN,
                        value: vec![1],
                    },
                ],
            )
            .unwrap();
        lib.sign_init(h, Some(&mech(CKM_SHA256_HMAC)), key).unwrap();
        assert_eq!(
            lib.get_operation_state(h, OutCap::Query),
            Err(Error::StateUnsaveable)
        );
        assert_eq!(
            lib.set_operation_state(h, b"garbage", 0, 0),
            Err(Error::SavedStateInvalid)
        );
    }
}
