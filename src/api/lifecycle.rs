//! Key lifecycle verbs PKCS#11 has no function for, used by the `keyward`
//! admin CLI: state changes, rotation, keys due for rotation. Each works
//! through a logged-in session like any C_* call and is audited.

use cryptoki_sys::*;

use super::provenance::row_id;
use super::{Attr, Library, Mech};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::{self, dates, vendor::*, versions};
use crate::mechanism::RawParam;
use crate::object::{self, Object};
use crate::session::Session;
use crate::token::Token;

/// The outcome of a rotation: the new key (and its public half) and every
/// object of the old key that was deactivated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_key: CK_OBJECT_HANDLE,
    pub new_public: Option<CK_OBJECT_HANDLE>,
    pub retired: Vec<CK_OBJECT_HANDLE>,
}

/// Attributes a rotated key takes over from its predecessor.
const CARRIED: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_ALLOWED_MECHANISMS,
    CKA_SUBJECT,
    CKA_KEYWARD_QUORUM,
];

/// Usage flags, protecting ones paired with the flag that processes what
/// they made (a retired key keeps only the second).
const USAGES: &[(CK_ATTRIBUTE_TYPE, Option<CK_ATTRIBUTE_TYPE>)] = &[
    (CKA_SIGN, Some(CKA_VERIFY)),
    (CKA_ENCRYPT, Some(CKA_DECRYPT)),
    (CKA_WRAP, Some(CKA_UNWRAP)),
    (CKA_DERIVE, None),
    (CKA_VERIFY, None),
    (CKA_DECRYPT, None),
    (CKA_UNWRAP, None),
];

fn wire(ty: CK_ATTRIBUTE_TYPE, canonical: &[u8]) -> Attr {
    Attr {
        ty,
        value: object::to_wire(ty, canonical),
    }
}

fn flag(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attr {
    Attr {
        ty,
        value: vec![u8::from(v)],
    }
}

/// The offered mechanism that generates secret keys of type `kt` (e.g.
/// CKM_SHA256_KEY_GEN for CKK_SHA256_HMAC), if one does.
fn own_generation(kt: CK_KEY_TYPE) -> Option<CK_MECHANISM_TYPE> {
    crate::mechanism::table()
        .into_iter()
        .map(|i| i.mech)
        .find(|m| {
            crate::mechanism::generates(*m, CKF_GENERATE)
                == Ok(crate::mechanism::Generates::Secret(kt))
        })
}

/// The generation mechanism and key-specific template entries that make
/// a key like `obj`.
fn generation(obj: &Object) -> Result<(CK_MECHANISM_TYPE, Vec<Attr>, Vec<Attr>)> {
    let params = || wire(CKA_EC_PARAMS, obj.bytes(CKA_EC_PARAMS).unwrap_or_default());
    let len = |o: &Object| o.ulong(CKA_VALUE_LEN).unwrap_or(32);
    Ok(match obj.key_type() {
        Some(CKK_EC) => (CKM_EC_KEY_PAIR_GEN, vec![params()], vec![]),
        Some(CKK_EC_EDWARDS) => (CKM_EC_EDWARDS_KEY_PAIR_GEN, vec![params()], vec![]),
        Some(CKK_EC_MONTGOMERY) => (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, vec![params()], vec![]),
        Some(CKK_ML_DSA) => (
            CKM_ML_DSA_KEY_PAIR_GEN,
            vec![wire(
                CKA_PARAMETER_SET,
                obj.bytes(CKA_PARAMETER_SET).unwrap_or_default(),
            )],
            vec![],
        ),
        Some(CKK_SLH_DSA) => (
            CKM_SLH_DSA_KEY_PAIR_GEN,
            vec![wire(
                CKA_PARAMETER_SET,
                obj.bytes(CKA_PARAMETER_SET).unwrap_or_default(),
            )],
            vec![],
        ),
        Some(CKK_ML_KEM) => {
            let set = obj.bytes(CKA_PARAMETER_SET).unwrap_or_default();
            (
                CKM_ML_KEM_KEY_PAIR_GEN,
                vec![wire(CKA_PARAMETER_SET, set)],
                vec![],
            )
        }
        Some(CKK_RSA) => {
            let bits = obj.bytes(CKA_MODULUS).map_or(0, |n| {
                let skip = n.iter().take_while(|b| **b == 0).count();
                (n.len() - skip) * 8
            });
            let bits = u64::try_from(bits).map_err(|_| Error::GeneralError)?;
            let e = obj.bytes(CKA_PUBLIC_EXPONENT).unwrap_or(&[1, 0, 1]);
            (
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                vec![
                    wire(CKA_MODULUS_BITS, &bits.to_le_bytes()),
                    wire(CKA_PUBLIC_EXPONENT, e),
                ],
                vec![],
            )
        }
        // DSA and DH: a new pair on the same domain parameters.
        Some(CKK_DSA) => (
            CKM_DSA_KEY_PAIR_GEN,
            [CKA_PRIME, CKA_SUBPRIME, CKA_BASE]
                .into_iter()
                .map(|ty| wire(ty, obj.bytes(ty).unwrap_or_default()))
                .collect(),
            vec![],
        ),
        Some(CKK_DH) => (
            CKM_DH_PKCS_KEY_PAIR_GEN,
            [CKA_PRIME, CKA_BASE]
                .into_iter()
                .map(|ty| wire(ty, obj.bytes(ty).unwrap_or_default()))
                .collect(),
            vec![],
        ),
        Some(CKK_AES) => (
            CKM_AES_KEY_GEN,
            vec![],
            vec![wire(CKA_VALUE_LEN, &len(obj).to_le_bytes())],
        ),
        // A ChaCha20 key by its own generation (its key type is not a
        // generic secret's).
        Some(CKK_CHACHA20) => (
            CKM_CHACHA20_KEY_GEN,
            vec![],
            vec![wire(CKA_VALUE_LEN, &len(obj).to_le_bytes())],
        ),
        // A typed secret (an HMAC key type, CKK_HKDF) by the generation
        // that makes that type: CKM_GENERIC_SECRET_KEY_GEN makes only
        // generic secrets (a typed template is CKR_TEMPLATE_INCONSISTENT).
        Some(kt) if obj.class() == CKO_SECRET_KEY => match own_generation(kt) {
            Some(mech) => (
                mech,
                vec![],
                vec![wire(CKA_VALUE_LEN, &len(obj).to_le_bytes())],
            ),
            None => (
                CKM_GENERIC_SECRET_KEY_GEN,
                vec![],
                vec![
                    wire(CKA_VALUE_LEN, &len(obj).to_le_bytes()),
                    wire(CKA_KEY_TYPE, &kt.to_le_bytes()),
                ],
            ),
        },
        _ => return Err(Error::KeyTypeInconsistent),
    })
}

/// The new key's end date: the old key's cryptoperiod again, from today
/// (none if the old key had no end date; the policy may add one).
fn next_end_date(obj: &Object) -> Option<Vec<u8>> {
    let end = obj.bytes(CKA_END_DATE).and_then(dates::parse)?;
    let start = obj
        .bytes(CKA_START_DATE)
        .and_then(dates::parse)
        .or_else(|| {
            let secs = i64::try_from(obj.ulong(CKA_KEYWARD_CREATED)?).ok()?;
            Some(time::OffsetDateTime::from_unix_timestamp(secs).ok()?.date())
        })?;
    let period = (end - start).max(time::Duration::days(1));
    Some(dates::encode(dates::today() + period))
}

/// The date by which a key ending on `end` counts as due: `limit` (today
/// plus the window), except for a version made by a rotation that was
/// already inside the window when it was made (its cryptoperiod is shorter
/// than the window): it is due only once its end date has passed, or every
/// `keys rotate --due` would rotate it again. (`token.find` finds primary
/// versions only, so a rotated version is never due again either.)
fn due_by(obj: &Object, end: time::Date, limit: time::Date) -> time::Date {
    let window = limit - dates::today();
    let born = obj
        .ulong(CKA_KEYWARD_CREATED)
        .and_then(|secs| i64::try_from(secs).ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .map(|t| t.date());
    let rotated = obj.bytes(CKA_KEYWARD_PREDECESSOR).is_some();
    match born {
        Some(born) if rotated && end - window <= born => dates::today(),
        _ => limit,
    }
}

impl Library {
    /// The token object behind a handle, with its row id.
    fn token_object(
        &self,
        s: &Session,
        token: &Token,
        h: CK_OBJECT_HANDLE,
    ) -> Result<(i64, std::sync::Arc<Object>)> {
        let (r, obj) = self.resolve(s, token, h, false)?;
        let id = row_id(&r).ok_or(Error::ActionProhibited)?;
        Ok((id, obj))
    }

    /// Token objects sharing `obj`'s CKA_ID that follow it through its
    /// life: its public key and certificates (or, from a public key, its
    /// private key).
    fn companions(
        &self,
        s: &Session,
        token: &Token,
        id: i64,
        obj: &Object,
    ) -> Result<Vec<(CK_OBJECT_HANDLE, i64, std::sync::Arc<Object>)>> {
        let Some(ckid) = obj.bytes(CKA_ID).filter(|v| !v.is_empty()) else {
            return Ok(Vec::new());
        };
        // Every version shares the CKA_ID: only this version's objects
        // follow it, and (for the primary) certificates bound to no
        // version yet.
        let mut template = object::AttrMap::new();
        template.insert(CKA_ID, ckid.to_vec());
        let mut same = template.clone();
        if let Some(v) = versions::version(obj) {
            same.insert(CKA_KEYWARD_VERSION, object::attrs::ulong_value(v));
        }
        let mut found = token.find(&same)?;
        if versions::is_primary(obj) {
            let unbound = token.find(&template)?.into_iter().filter(|(_, o)| {
                o.class() == CKO_CERTIFICATE && o.bytes(CKA_KEYWARD_VERSION).is_none()
            });
            found.extend(unbound);
        }
        let mut out = Vec::new();
        for (row, other) in found {
            let follows = matches!(other.class(), CKO_PUBLIC_KEY | CKO_CERTIFICATE)
                && obj.class() == CKO_PRIVATE_KEY;
            if row != id && follows {
                let h = self
                    .handles()?
                    .token_handle(s.token, row, || self.new_handle());
                out.push((h, row, other));
            }
        }
        Ok(out)
    }

    fn change_state(
        &self,
        token: &Token,
        id: i64,
        obj: &Object,
        to: CK_ULONG,
        reason: Option<&str>,
    ) -> Result<()> {
        let from = lifecycle::state_name(lifecycle::state(obj));
        let updated = lifecycle::transition(obj, to, reason)?;
        let mut detail = format!("{from} -> {}", lifecycle::state_name(to));
        if let Some(r) = reason {
            detail.push_str(&format!(": {r}"));
        }
        token.update(id, &updated, &Event::new("state_change").detail(detail))
    }

    /// Moves a key (and its public key and certificates) to state `to`:
    /// CKW_STATE_ACTIVE, CKW_STATE_DEACTIVATED or CKW_STATE_COMPROMISED.
    /// A transition SP 800-57 does not allow is CKR_ACTION_PROHIBITED.
    /// Returns the handles of every object changed.
    pub fn set_key_state(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        to: CK_ULONG,
        reason: Option<&str>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        self.with_session(h, |s, token| {
            super::object::check_write(s, token, &Object::default())?;
            let (id, obj) = self.token_object(s, token, key)?;
            super::object::check_write(s, token, &obj)?;
            // Activating (or re-activating) makes a key more usable;
            // deactivating or marking it compromised never needs approval.
            if to == CKW_STATE_ACTIVE
                && lifecycle::state(&obj) != CKW_STATE_ACTIVE
                && matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY)
            {
                token.authorize(&crate::token::quorum::Subject {
                    op: crate::quorum::Op::Modify,
                    target: crate::quorum::object_target(id),
                    marked: lifecycle::quorum_marked(&obj),
                    object: Some((id, &obj)),
                })?;
            }
            self.change_state(token, id, &obj, to, reason)?;
            let mut changed = vec![key];
            for (ch, row, other) in self.companions(s, token, id, &obj)? {
                // A companion already past this state stays where it is.
                if lifecycle::transition(&other, to, reason).is_ok() {
                    self.change_state(token, row, &other, to, reason)?;
                    changed.push(ch);
                }
            }
            Ok(changed)
        })
    }

    /// Replaces the primary version n of a key with version n + 1: same
    /// type, size, usages, CKA_LABEL and CKA_ID, linked both ways. In ONE
    /// transaction the new version's rows are stored and version n's key,
    /// public key and certificates become non-primary and deactivated
    /// ("rotated"; they still verify and decrypt what they made). Each old
    /// row is rewritten only if it is unchanged since it was read (so still
    /// primary): of two concurrent rotations one wins, the other gets
    /// CKR_ACTION_PROHIBITED and writes nothing. A non-primary version is
    /// CKR_ACTION_PROHIBITED too.
    pub fn rotate_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<Rotation> {
        let (old_id, old, public) = self.with_session(h, |s, token| {
            let (id, obj) = self.token_object(s, token, key)?;
            if !matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
                return Err(Error::KeyTypeInconsistent);
            }
            if !versions::is_primary(&obj) {
                return Err(Error::ActionProhibited);
            }
            let public = self
                .companions(s, token, id, &obj)?
                .into_iter()
                .find(|(_, _, o)| o.class() == CKO_PUBLIC_KEY)
                .map(|(_, _, o)| o);
            Ok((id, obj, public))
        })?;
        let (mech, pub_extra, key_extra) = generation(&old)?;
        // Session objects: generated by the very code C_GenerateKey(Pair)
        // runs (templates, policy, stamp), then stored as token rows by
        // the rotation's one transaction below.
        let mut common = vec![flag(CKA_TOKEN, false)];
        let end = self
            .with_session(h, |_, token| {
                Ok(token.lifecycle.default_end_date(old.class()))
            })?
            .map(dates::encode)
            .or_else(|| next_end_date(&old));
        if let Some(end) = end {
            common.push(wire(CKA_END_DATE, &end));
        }
        let template_of = |o: &Object, usages: &[CK_ATTRIBUTE_TYPE], paired: Option<&Object>| {
            let mut t = common.clone();
            for ty in CARRIED.iter().chain(&[CKA_ID]).filter(|t| **t != CKA_TOKEN) {
                if let Some(v) = o.bytes(*ty) {
                    t.push(wire(*ty, v));
                }
            }
            for (use_flag, processing) in USAGES {
                if !usages.contains(use_flag) || o.bytes(*use_flag).is_none() {
                    continue;
                }
                // A retired key lost its protecting flags: take them back
                // from the flag that processes what they make.
                let on = o.flag(*use_flag)
                    || processing.is_some_and(|p| o.flag(p) || paired.is_some_and(|q| q.flag(p)));
                t.push(flag(*use_flag, on));
            }
            t
        };
        let m = Mech {
            ty: mech,
            param: RawParam::None,
        };
        let made = if old.class() == CKO_SECRET_KEY {
            let mut t = template_of(
                &old,
                &[
                    CKA_SIGN,
                    CKA_VERIFY,
                    CKA_ENCRYPT,
                    CKA_DECRYPT,
                    CKA_WRAP,
                    CKA_UNWRAP,
                    CKA_DERIVE,
                ],
                None,
            );
            t.extend(key_extra);
            vec![self.generate_key(h, &m, &t)?]
        } else {
            let private_usages = [CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE];
            let public_usages = [CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE];
            let mut priv_t = template_of(&old, &private_usages, public.as_deref());
            let pub_src = public.as_deref().unwrap_or(&old);
            let mut pub_t = template_of(pub_src, &public_usages, None);
            pub_t.retain(|a| !matches!(a.ty, CKA_SENSITIVE | CKA_EXTRACTABLE | CKA_PRIVATE));
            pub_t.extend(pub_extra);
            priv_t.extend(key_extra);
            let (pub_h, priv_h) = self.generate_key_pair(h, &m, &pub_t, &priv_t)?;
            vec![priv_h, pub_h]
        };
        let stored = self.with_session(h, |s, token| {
            self.store_rotation(s, token, (key, old_id), &made, mech)
        });
        // The session objects were only the generator's output.
        if let Ok(mut handles) = self.handles() {
            for oh in &made {
                handles.remove(*oh);
            }
        }
        stored
    }

    /// The rotation's one transaction: the new version's rows from the
    /// session objects `made` (key first), version n's rows rewritten.
    fn store_rotation(
        &self,
        s: &Session,
        token: &Token,
        (key, old_id): (CK_OBJECT_HANDLE, i64),
        made: &[CK_OBJECT_HANDLE],
        mech: CK_MECHANISM_TYPE,
    ) -> Result<Rotation> {
        let (current, generation) = token.load_current(old_id)?;
        if !versions::is_primary(&current) {
            return Err(Error::ActionProhibited);
        }
        let n = versions::version(&current).unwrap_or(1);
        let next = n.checked_add(1).ok_or(Error::ActionProhibited)?;
        let mut news = Vec::new();
        for oh in made {
            let (_, obj) = self.resolve(s, token, *oh, true)?;
            let mut attrs = obj.attrs().clone();
            attrs.insert(CKA_TOKEN, vec![1]);
            let obj = Object::from_attrs(attrs);
            let obj = versions::mark(&obj, next, true);
            let obj = lifecycle::link(&obj, CKA_KEYWARD_PREDECESSOR, old_id);
            news.push((token.new_object_id()?, obj));
        }
        let new_row = news.first().map(|(id, _)| *id).ok_or(Error::GeneralError)?;
        let mut olds = vec![(key, old_id, current.clone(), generation)];
        for (oh, row, _) in self.companions(s, token, old_id, &current)? {
            let (obj, generation) = token.load_current(row)?;
            olds.push((oh, row, obj, generation));
        }
        let mut updated = Vec::new();
        for (_, row, obj, generation) in &olds {
            let mut o = versions::mark(obj, n, false);
            o = lifecycle::link(&o, CKA_KEYWARD_SUCCESSOR, new_row);
            if lifecycle::transition(&o, CKW_STATE_DEACTIVATED, None).is_ok() {
                o = lifecycle::transition(&o, CKW_STATE_DEACTIVATED, Some("rotated"))?;
            }
            updated.push((*row, *generation, o));
        }
        let retire = Event::new("rotate").detail(format!(
            "version {n} of object {old_id} replaced by version {next}: object {new_row}"
        ));
        let create = Event::new("rotate")
            .mech(mech)
            .detail(format!("version {next}, successor of object {old_id}"));
        let updates: Vec<_> = updated
            .iter()
            .map(|(row, g, o)| (*row, *g, o, &retire))
            .collect();
        let inserts: Vec<_> = news.iter().map(|(id, o)| (*id, o, &create)).collect();
        token.rotate_objects(&updates, &inserts)?;
        let mut handles = self.handles()?;
        let mut new_handles = news
            .iter()
            .map(|(id, _)| handles.token_handle(s.token, *id, || self.new_handle()));
        let new_key = new_handles.next().ok_or(Error::GeneralError)?;
        Ok(Rotation {
            new_key,
            new_public: new_handles.next(),
            retired: olds.iter().map(|(oh, ..)| *oh).collect(),
        })
    }

    /// Active or pre-active keys (private and secret), primary versions
    /// only, whose CKA_END_DATE falls within `within_days` from today, or
    /// has passed (see `due_by` for versions made by a rotation).
    pub fn keys_due(
        &self,
        h: CK_SESSION_HANDLE,
        within_days: u32,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        self.with_session(h, |s, token| {
            let limit = dates::today() + time::Duration::days(i64::from(within_days));
            let mut due = Vec::new();
            for (row, obj) in token.find(&object::AttrMap::new())? {
                let live = matches!(
                    lifecycle::state(&obj),
                    CKW_STATE_ACTIVE | CKW_STATE_PRE_ACTIVE
                );
                let key = matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY);
                let ends = obj.bytes(CKA_END_DATE).and_then(dates::parse);
                if live && key && ends.is_some_and(|e| e <= due_by(&obj, e, limit)) {
                    due.push(
                        self.handles()?
                            .token_handle(s.token, row, || self.new_handle()),
                    );
                }
            }
            Ok(due)
        })
    }
}

impl Library {
    /// Audit records of a slot's token matching `filter`.
    pub fn audit_rows(
        &self,
        slot: CK_SLOT_ID,
        filter: &crate::store::audit::AuditFilter,
    ) -> Result<Vec<crate::store::audit::AuditRow>> {
        self.slot(slot)?.1.audit_rows(filter)
    }

    /// Verifies a slot's audit trail (MACs only while logged in).
    pub fn audit_verify(&self, slot: CK_SLOT_ID) -> Result<crate::audit::Verdict> {
        self.slot(slot)?.1.audit_verify()
    }

    /// Every damaged object row of a slot (`keyward token check`); needs
    /// the user to be logged in.
    pub fn check_token(&self, slot: CK_SLOT_ID) -> Result<Vec<crate::token::DamagedRow>> {
        self.slot(slot)?.1.check_rows()
    }

    /// The key policy in force.
    pub fn policy(&self) -> &crate::lifecycle::policy::Policy {
        &self.config.policy
    }
}

impl Library {
    /// See [`Token::rotate_master_key`].
    pub fn rotate_master_key(
        &self,
        slot: CK_SLOT_ID,
        so_pin: &[u8],
        user_pin: Option<&[u8]>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        self.slot(slot)?
            .1
            .rotate_master_key(so_pin, user_pin, progress)
    }

    /// See [`Token::rotate_master_key_with`].
    pub fn rotate_master_key_with(
        &self,
        slot: CK_SLOT_ID,
        so_pin: &[u8],
        user_pin: Option<&[u8]>,
        options: crate::store::rekey::RotateOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64> {
        self.slot(slot)?
            .1
            .rotate_master_key_with(so_pin, user_pin, options, progress)
    }

    /// An encrypted, authenticated snapshot of a slot's token (PBKDF2 with
    /// the configured PIN iteration count over the passphrase).
    pub fn backup_token(
        &self,
        slot: CK_SLOT_ID,
        out: &std::path::Path,
        passphrase: &[u8],
        progress: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<crate::store::BackupInfo, crate::store::BackupError> {
        let token = self.slot(slot).map_err(crate::store::BackupError::Store)?.1;
        token.backup(out, passphrase, self.config.pin_kdf_iterations, progress)
    }
}

#[cfg(test)]
mod generation_tests {
    use super::*;
    use crate::object::attrs::ulong_value;

    /// Typed secrets rotate through their own generation; a generic
    /// secret through the generic one.
    #[test]
    fn typed_secrets_are_made_by_their_own_generation() {
        for (kt, want) in [
            (CKK_SHA256_HMAC, CKM_SHA256_KEY_GEN),
            (CKK_SHA3_512_HMAC, CKM_SHA3_512_KEY_GEN),
            (CKK_HKDF, CKM_HKDF_KEY_GEN),
            (CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN),
        ] {
            let mut m = object::AttrMap::new();
            m.insert(CKA_CLASS, ulong_value(CKO_SECRET_KEY));
            m.insert(CKA_KEY_TYPE, ulong_value(kt));
            m.insert(CKA_VALUE_LEN, ulong_value(32));
            let (mech, _, extra) = generation(&Object::from_attrs(m)).unwrap();
            assert_eq!(mech, want, "{kt:#x}");
            assert!(extra.iter().all(|a| a.ty == CKA_VALUE_LEN), "{kt:#x}");
        }
    }

    /// A rotated ChaCha20 key is made by CKM_CHACHA20_KEY_GEN, 32 bytes.
    #[test]
    fn chacha20_keys_are_made_by_their_own_generation() {
        let mut m = object::AttrMap::new();
        m.insert(CKA_CLASS, ulong_value(CKO_SECRET_KEY));
        m.insert(CKA_KEY_TYPE, ulong_value(CKK_CHACHA20));
        m.insert(CKA_VALUE_LEN, ulong_value(32));
        let (mech, public, extra) = generation(&Object::from_attrs(m)).unwrap();
        assert_eq!(mech, CKM_CHACHA20_KEY_GEN);
        assert!(public.is_empty());
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].ty, CKA_VALUE_LEN);
        assert_eq!(
            extra[0].value,
            object::to_wire(CKA_VALUE_LEN, &ulong_value(32))
        );
    }
}

#[cfg(test)]
mod ml_dsa_tests {
    use super::*;

    /// Rotation regenerates an ML-DSA key in its own parameter set
    /// (CKA_PARAMETER_SET in the public template, PKCS#11 3.2 §6.67).
    #[test]
    fn ml_dsa_rotates_with_its_parameter_set() {
        let attrs = [
            (CKA_CLASS, object::attrs::ulong_value(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, object::attrs::ulong_value(CKK_ML_DSA)),
            (CKA_PARAMETER_SET, object::attrs::ulong_value(CKP_ML_DSA_87)),
        ];
        let obj = Object::from_attrs(attrs.into_iter().collect());
        let (mech, public, private) = generation(&obj).unwrap();
        assert_eq!(mech, CKM_ML_DSA_KEY_PAIR_GEN);
        assert!(private.is_empty());
        let [set] = &public[..] else {
            panic!("one public attribute expected")
        };
        assert_eq!(set.ty, CKA_PARAMETER_SET);
        assert_eq!(
            set.value,
            CKP_ML_DSA_87.to_ne_bytes().to_vec(),
            "a CK_ULONG as the caller's ABI has it"
        );
    }
}

#[cfg(test)]
mod ffdh_tests {
    use super::*;

    /// Rotation regenerates a DSA or DH key on its own domain parameters
    /// (given in the public template, as the mechanisms take them).
    #[test]
    fn dsa_and_dh_rotate_on_their_domain_parameters() {
        for (kt, mech, names) in [
            (
                CKK_DSA,
                CKM_DSA_KEY_PAIR_GEN,
                &[CKA_PRIME, CKA_SUBPRIME, CKA_BASE][..],
            ),
            (CKK_DH, CKM_DH_PKCS_KEY_PAIR_GEN, &[CKA_PRIME, CKA_BASE][..]),
        ] {
            let mut attrs = object::AttrMap::new();
            attrs.insert(CKA_CLASS, object::attrs::ulong_value(CKO_PRIVATE_KEY));
            attrs.insert(CKA_KEY_TYPE, object::attrs::ulong_value(kt));
            for (i, ty) in names.iter().enumerate() {
                attrs.insert(*ty, vec![u8::try_from(i + 2).unwrap(); 4]);
            }
            let (m, public, private) = generation(&Object::from_attrs(attrs)).unwrap();
            assert_eq!(m, mech);
            assert!(private.is_empty());
            let got: Vec<_> = public.iter().map(|a| (a.ty, a.value.clone())).collect();
            let want: Vec<_> = names
                .iter()
                .enumerate()
                .map(|(i, ty)| (*ty, vec![u8::try_from(i + 2).unwrap(); 4]))
                .collect();
            assert_eq!(got, want);
        }
    }
}
