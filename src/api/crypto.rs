//! Digest, sign, verify and random. Each finishing call ends its operation
//! whether it succeeds or fails, except for a length query or
//! CKR_BUFFER_TOO_SMALL (PKCS#11 3.0 §5.2), which leave it active.

use std::sync::Arc;

use cryptoki_sys::*;

use super::handles::ObjRef;
use super::{Library, Mech, Out, OutCap};
use crate::error::{Error, Result};
use crate::mechanism::{self, Key, Mechanism};
use crate::object::{self, Object};
use crate::session::{ActiveOp, Session};
use crate::token::Token;

/// The length protocol: `Some(answer)` when the caller only gets a length.
fn length_only(out: OutCap, len: usize) -> Option<Out> {
    match out {
        OutCap::Query => Some(Out::Len(len)),
        OutCap::Cap(cap) if cap < len => Some(Out::Len(len)),
        OutCap::Cap(_) => None,
    }
}

/// Runs one step of an active operation; an error ends the operation.
fn step<T, R>(
    slot: &mut Option<ActiveOp<T>>,
    f: impl FnOnce(&mut ActiveOp<T>) -> Result<R>,
) -> Result<R> {
    let active = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let result = f(active);
    if result.is_err() {
        *slot = None;
    }
    result
}

fn check_update<T>(active: &mut ActiveOp<T>) -> Result<()> {
    if active.needs_context_login {
        return Err(Error::UserNotLoggedIn);
    }
    if !active.multipart {
        return Err(Error::FunctionNotSupported);
    }
    active.updated = true;
    Ok(())
}

fn check_single<T>(active: &ActiveOp<T>) -> Result<()> {
    if active.needs_context_login {
        return Err(Error::UserNotLoggedIn);
    }
    if active.updated {
        return Err(Error::OperationActive);
    }
    Ok(())
}

impl Library {
    /// A key object ready for `usage` with `mech`: the spec's checks in
    /// order (handle, class/permission, allowed mechanisms).
    pub(super) fn use_key(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<(Arc<Object>, Arc<Key>)> {
        // A key this session used before, unchanged since (no commit by
        // any process, no in-process change): no lock shared with other
        // sessions. Otherwise the handle table and the token's key cache.
        let at = token.key_stamp();
        let remembered = at.and_then(|at| s.memo().get(h, at));
        let (r, obj, key) = match remembered {
            Some(hit) => {
                if hit.private && token.login_role()? != crate::token::Login::User {
                    return Err(Error::UserNotLoggedIn);
                }
                if hit.passed == Some((mech, usage)) {
                    // Same key, same use, nothing changed: the checks
                    // below would answer as they did last time.
                    self.count_use(token, Some(hit.id), &hit.object, mech)?;
                    return Ok((hit.object, hit.key));
                }
                let r = ObjRef::Token {
                    token: s.token,
                    id: hit.id,
                };
                (r, hit.object, hit.key)
            }
            None => self.lookup_key(s, token, h, at)?,
        };
        self.check_use(token, &r, &obj, usage, mech)?;
        if !obj.flag(usage) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        if !obj.allows_mechanism(mech) {
            return Err(Error::MechanismInvalid);
        }
        if let (Some(at), ObjRef::Token { .. }) = (at, &r)
            && !crate::lifecycle::depends_on_clock(&obj)
        {
            s.memo().passed(h, at, mech, usage);
        }
        Ok((obj, key))
    }

    /// `use_key`'s path for a key the session does not remember: the
    /// handle table, then the token's key cache (or the session object's
    /// own key). A token key is remembered when `at` (taken before this
    /// lookup) shows no write in flight.
    fn lookup_key(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
        at: Option<crate::session::KeyStamp>,
    ) -> Result<(ObjRef, Arc<Object>, Arc<Key>)> {
        let r = self
            .handles_read()?
            .get(h)
            .filter(|r| r.token_index() == s.token)
            .ok_or(Error::KeyHandleInvalid)?;
        let (obj, key) = match &r {
            ObjRef::Token { id, .. } => {
                let (obj, key) = token.key(*id).map_err(|e| match e {
                    Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
                    other => other,
                })?;
                if let Some(at) = at {
                    s.memo().put(h, *id, at, &obj, &key);
                }
                (obj, key)
            }
            ObjRef::Session { object, key, .. } => {
                if object.is_private() && token.login_role()? != crate::token::Login::User {
                    return Err(Error::UserNotLoggedIn);
                }
                let parsed = match key.get() {
                    Some(parsed) => parsed.clone(),
                    None => {
                        let parsed = Arc::new(object::key_material(object)?);
                        key.get_or_init(|| parsed).clone()
                    }
                };
                (object.clone(), parsed)
            }
        };
        Ok((r, obj, key))
    }

    pub fn digest_init(&self, h: CK_SESSION_HANDLE, mech: Option<&Mech>) -> Result<()> {
        self.with_session(h, |s, _| {
            let Some(mech) = mech else {
                s.digest = None;
                return Ok(());
            };
            if s.digest.is_some() {
                return Err(Error::OperationActive);
            }
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = mechanism::digest_init(&m)?;
            s.digest = Some(ActiveOp::new(op, true, false));
            Ok(())
        })
    }

    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| {
            let active = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            if let Some(answer) = length_only(out, active.op.len()) {
                return Ok(answer);
            }
            let result = check_single(active).map(|()| {
                active.op.update(data);
                active.op.finish()
            });
            s.digest = None;
            result.map(Out::Data)
        })
    }

    /// C_Digest straight into the caller's buffer (no allocation): `None`
    /// when `out` is shorter than the digest, with the operation untouched
    /// (the caller takes the length-protocol path).
    pub fn digest_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.with_session(h, |s, _| {
            let active = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            if out.len() < active.op.len() {
                return Ok(None);
            }
            let result = check_single(active).and_then(|()| {
                active.op.update(data);
                active.op.finish_into(out).ok_or(Error::GeneralError)
            });
            s.digest = None;
            result.map(Some)
        })
    }

    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            step(&mut s.digest, |a| {
                check_update(a)?;
                a.op.update(data);
                Ok(())
            })
        })
    }

    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        self.with_session(h, |s, token| {
            s.digest.as_ref().ok_or(Error::OperationNotInitialized)?;
            let looked_up = self.resolve(s, token, key, true).map_err(|e| match e {
                Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
                other => other,
            });
            let value = looked_up.and_then(|(_, obj)| {
                if obj.class() != CKO_SECRET_KEY {
                    return Err(Error::KeyIndigestible);
                }
                obj.bytes(CKA_VALUE)
                    .map(|v| zeroize::Zeroizing::new(v.to_vec()))
                    .ok_or(Error::KeyIndigestible)
            });
            step(&mut s.digest, |a| {
                check_update(a)?;
                a.op.update(&value?);
                Ok(())
            })
        })
    }

    pub fn digest_final(&self, h: CK_SESSION_HANDLE, out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| {
            let active = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            if let Some(answer) = length_only(out, active.op.len()) {
                return Ok(answer);
            }
            let digest = active.op.finish();
            s.digest = None;
            Ok(Out::Data(digest))
        })
    }

    pub fn sign_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let Some(mech) = mech else {
                s.sign = None;
                return Ok(());
            };
            if s.sign.is_some() || s.sign_recover.is_some() {
                return Err(Error::OperationActive);
            }
            let (obj, key) = self.use_key(s, token, key, CKA_SIGN, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = mechanism::sign_init(&m, key)?;
            let reauth = obj.flag(CKA_ALWAYS_AUTHENTICATE);
            s.sign = Some(ActiveOp::new(op, mechanism::is_multipart(m.mech), reauth));
            Ok(())
        })
    }

    pub fn sign(&self, h: CK_SESSION_HANDLE, data: &[u8], out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| {
            let active = s.sign.as_mut().ok_or(Error::OperationNotInitialized)?;
            if let Some(answer) = length_only(out, active.op.sign_len()) {
                return Ok(answer);
            }
            let result = check_single(active).and_then(|()| {
                active.op.update(data)?;
                active.op.finish()
            });
            s.sign = None;
            result.map(Out::Data)
        })
    }

    /// C_Sign straight into the caller's buffer (a MAC is made on the
    /// stack): `None` when `out` is shorter than `sign_len`, with the
    /// operation untouched (the caller takes the length-protocol path).
    pub fn sign_into(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        self.with_session(h, |s, _| {
            let active = s.sign.as_mut().ok_or(Error::OperationNotInitialized)?;
            if out.len() < active.op.sign_len() {
                return Ok(None);
            }
            let result = check_single(active).and_then(|()| {
                active.op.update(data)?;
                active.op.finish_into(out)
            });
            s.sign = None;
            result.map(Some)
        })
    }

    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            step(&mut s.sign, |a| {
                check_update(a)?;
                a.op.update(data)
            })
        })
    }

    pub fn sign_final(&self, h: CK_SESSION_HANDLE, out: OutCap) -> Result<Out> {
        self.with_session(h, |s, _| {
            let active = s.sign.as_mut().ok_or(Error::OperationNotInitialized)?;
            if let Some(answer) = length_only(out, active.op.sign_len()) {
                return Ok(answer);
            }
            let result = if active.multipart {
                active.op.finish()
            } else {
                Err(Error::FunctionNotSupported)
            };
            s.sign = None;
            result.map(Out::Data)
        })
    }

    pub fn verify_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let Some(mech) = mech else {
                s.verify = None;
                return Ok(());
            };
            // One verification at a time, whichever call started it.
            if s.verify.is_some() || s.verify_recover.is_some() || s.verify_signature.is_some() {
                return Err(Error::OperationActive);
            }
            let (_, key) = self.use_key(s, token, key, CKA_VERIFY, mech.ty)?;
            let m = Mechanism::from_raw(mech.ty, &mech.param)?;
            let op = mechanism::verify_init(&m, key)?;
            s.verify = Some(ActiveOp::new(
                op,
                mechanism::is_verify_multipart(m.mech),
                false,
            ));
            Ok(())
        })
    }

    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            let active = s.verify.as_mut().ok_or(Error::OperationNotInitialized)?;
            let result = check_single(active).and_then(|()| {
                active.op.update(data)?;
                active.op.finish(signature)
            });
            s.verify = None;
            result
        })
    }

    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            step(&mut s.verify, |a| {
                check_update(a)?;
                a.op.update(data)
            })
        })
    }

    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.with_session(h, |s, _| {
            let active = s.verify.as_mut().ok_or(Error::OperationNotInitialized)?;
            let result = if active.multipart {
                active.op.finish(signature)
            } else {
                Err(Error::FunctionNotSupported)
            };
            s.verify = None;
            result
        })
    }

    pub fn seed_random(&self, h: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
        // Accepted for clients that seed (NSS); the OS RNG stays the source.
        self.with_session(h, |_, _| Ok(()))
    }

    pub fn generate_random(&self, h: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.with_session(h, |_, _| mechanism::random(out))
    }
}
