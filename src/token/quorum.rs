//! Separation of duties in the token: reading the roster and rules (MAC
//! checked whenever a master key is at hand), changing them (the SO, and
//! once a rule exists an approved `policy` request), requests and signed
//! votes, and `authorize`, which every quorum-protected operation calls
//! last: it uses up one approved request for exactly that operation and
//! target, or refuses with CKR_ACTION_PROHIBITED — both audited.

use std::sync::Mutex;

use super::{Login, Token};
use crate::audit::{Event, now_ms};
use crate::error::{Error, Result};
use crate::object::Object;
use crate::quorum::{
    self, Config, Decision, MAX_EXPIRY_MS, MAX_OFFICERS, MAX_REASON_LEN, Officer, Op, Request,
    Tally, Vote, hex,
};
use crate::store::quorum::QuorumRow;
use crate::store::seal::MasterKey;
use crate::store::seal_quorum::{OfficerKey, QuorumKey, officer_salt, verify_officer};

/// The roster and rules as this process last verified them: the exact row
/// bytes and what they decode to (so an unchanged row is not checked again).
/// Also the row as read at a store stamp: while the stamp is unchanged no
/// commit touched it, so the hot paths (a wrap, a destroy) skip the read.
#[derive(Default)]
pub(super) struct Verified(
    Mutex<Option<(QuorumRow, Config)>>,
    Mutex<Option<(crate::store::backend::Stamp, Option<QuorumRow>)>>,
);

/// The roster and rules in force.
#[derive(Debug, Clone, Default)]
pub struct QuorumView {
    pub config: Config,
    /// The row it came from (`None`: no officer or rule was ever set).
    pub row: Option<QuorumRow>,
    /// Its MAC was checked (someone is logged in); unverified rows are
    /// used only where no key is at hand, and only ever to refuse more.
    pub verified: bool,
}

/// What a quorum-protected operation is about.
pub struct Subject<'a> {
    pub op: Op,
    pub target: String,
    /// The key carries CKA_KEYWARD_QUORUM.
    pub marked: bool,
    /// The object, for the audit records.
    pub object: Option<(i64, &'a Object)>,
}

/// A request being made.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub op: Op,
    pub target: String,
    pub about: String,
    pub reason: String,
    pub expires_in_ms: i64,
}

impl Token {
    /// The token's serial, which every signed vote names.
    fn serial(&self) -> Result<[u8; 16]> {
        Ok(self.db.meta()?.ok_or(Error::TokenNotRecognized)?.serial)
    }

    /// The master keys this process holds (current, then the one before a
    /// rotation in progress).
    fn held_keys(&self) -> Result<Vec<MasterKey>> {
        let state = self.login_state()?;
        Ok(state
            .master_key
            .iter()
            .chain(state.previous.iter().map(|(_, k)| k))
            .cloned()
            .collect())
    }

    /// Opens the quorum key with a master key this process holds, after
    /// following a rotation made by another process if need be.
    fn quorum_key(&self, wrapped: &[u8], extra: Option<&MasterKey>) -> Result<Option<QuorumKey>> {
        for attempt in 0..2 {
            let mut keys = self.held_keys()?;
            keys.extend(extra.cloned());
            if keys.is_empty() {
                return Ok(None);
            }
            if let Some(k) = keys
                .iter()
                .find_map(|mk| QuorumKey::unwrap(mk, wrapped).ok())
            {
                return Ok(Some(k));
            }
            if attempt == 0 && self.master_key()?.is_some() {
                self.refresh_keys()?;
            }
        }
        Err(Error::Tampered.because(&"the quorum key does not open under the master key"))
    }

    /// The roster and rules in force. With a master key at hand the row's
    /// MAC is checked: a row that fails is reported and refused
    /// ([`Error::Tampered`]), so every operation it guards is refused.
    pub fn quorum_view(&self) -> Result<QuorumView> {
        self.quorum_view_with(None)
    }

    /// [`Token::quorum_view`], also trying `extra` (a master key just
    /// proven by a PIN, with nobody logged in).
    pub(super) fn quorum_view_with(&self, extra: Option<&MasterKey>) -> Result<QuorumView> {
        let Some(row) = self.quorum_row_cached()? else {
            return Ok(QuorumView::default());
        };
        if let Ok(guard) = self.quorum_verified.0.lock()
            && let Some((seen, config)) = guard.as_ref()
            && *seen == row
        {
            return Ok(QuorumView {
                config: config.clone(),
                row: Some(row),
                verified: true,
            });
        }
        let Some(key) = self.quorum_key(&row.key_wrapped, extra)? else {
            return Ok(QuorumView {
                config: Config::decode(&row.config)?,
                row: Some(row),
                verified: false,
            });
        };
        if !key.verify(&row.config, &row.mac) {
            let ev = Event::new("quorum_refused")
                .failed(Error::Tampered)
                .detail("the officers-and-rules row fails its MAC: it was edited outside Keyward");
            let _ = self.audit(&ev, None);
            return Err(Error::Tampered.because(&"the officers-and-rules row fails its MAC"));
        }
        let config = Config::decode(&row.config)?;
        if let Ok(mut guard) = self.quorum_verified.0.lock() {
            *guard = Some((row.clone(), config.clone()));
        }
        Ok(QuorumView {
            config,
            row: Some(row),
            verified: true,
        })
    }

    /// The `quorum` row, read again only when the store changed.
    fn quorum_row_cached(&self) -> Result<Option<QuorumRow>> {
        let stamp = self.db.stamp();
        if let Some(now) = stamp
            && let Ok(guard) = self.quorum_verified.1.lock()
            && let Some((seen, row)) = guard.as_ref()
            && *seen == now
        {
            return Ok(row.clone());
        }
        let row = self.db.quorum_row()?;
        if let Some(now) = stamp
            && let Ok(mut guard) = self.quorum_verified.1.lock()
        {
            *guard = Some((now, row.clone()));
        }
        Ok(row)
    }

    /// The target naming this token (re-initialization, master-key
    /// rotation, PIN unlock).
    pub fn token_target(&self, what: &str) -> Result<String> {
        let serial = self.serial()?;
        Ok(format!(
            "{what}:{}",
            String::from_utf8_lossy(&serial).trim_end()
        ))
    }

    /// Lets a protected operation go ahead, using up one approved request
    /// for exactly `subject`; refuses with [`Error::ActionProhibited`]
    /// (audited, naming what is missing) when there is none. Operations
    /// that need no approval pass without a store write.
    pub fn authorize(&self, subject: &Subject<'_>) -> Result<()> {
        self.authorize_with(subject, None).map(drop)
    }

    /// [`Token::authorize`] with a master key just proven by a PIN; when
    /// it used up a request, the detail of the record it appended.
    pub(super) fn authorize_with(
        &self,
        subject: &Subject<'_>,
        extra: Option<&MasterKey>,
    ) -> Result<Option<String>> {
        let view = self.quorum_view_with(extra)?;
        let Some(needed) = view.config.needed(subject.op, subject.marked) else {
            return Ok(None);
        };
        let serial = self.serial()?;
        let now = now_ms();
        let mut why = None;
        for req in self.db.requests_for(subject.op.name(), &subject.target)? {
            if req.expires <= now {
                self.expire(&req, now)?;
                why = Some(format!("request {} has expired", req.id));
                continue;
            }
            let votes = self.db.votes(req.id)?;
            let t = quorum::tally(&view.config, &serial, &req, &votes, &verify_officer);
            if let Some(b) = quorum::blocker(&req, &t, needed, now) {
                why = Some(b);
                continue;
            }
            let nonce = hex(&req.nonce);
            let detail = format!(
                "request {} [{nonce}]: {} of {} ({}), approved by {}",
                req.id,
                req.op,
                req.target,
                req.about,
                t.approvals.join(", ")
            );
            let ev = Event::new("quorum_executed").detail(detail.clone());
            let record = match extra {
                // Nobody is logged in: the record is MAC'd as the SO who
                // just proved the key would have it.
                Some(mk) => {
                    let key = self.load_audit_key(mk)?;
                    self.entry_as(Login::So, key, &ev, subject.object)
                }
                None => self.audit_entry(&ev, subject.object)?,
            };
            let roster = view.row.as_ref();
            match self
                .db
                .consume_request(&req, votes.len(), roster, &nonce, &record)
            {
                Ok(()) => return Ok(Some(detail)),
                Err(Error::ActionProhibited) => {
                    why = Some(format!(
                        "request {} changed, or was used, meanwhile",
                        req.id
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        let why = why.unwrap_or_else(|| "there is no request for it".into());
        let command = format!(
            "keyward request {} {}",
            subject.op.name(),
            request_argument(subject.op, &subject.target)
        );
        let text = format!(
            "{} of {} needs {needed} officer approval(s): {why} (file one with `{}`)",
            subject.op.name(),
            subject.target,
            command.trim_end()
        );
        let ev = Event::new("quorum_refused")
            .failed(Error::ActionProhibited)
            .detail(text.clone());
        let _ = self.audit(&ev, subject.object);
        Err(Error::ActionProhibited.because(&text))
    }

    /// The SO's key, for changes to the roster and rules.
    fn so_master_key(&self) -> Result<MasterKey> {
        let state = self.login_state()?;
        if state.login != Login::So {
            return Err(Error::UserNotLoggedIn.because(&"officers and rules are set by the SO"));
        }
        state.master_key.clone().ok_or(Error::UserNotLoggedIn)
    }

    /// Writes a changed roster/rules document, authorized as a `policy`
    /// change of `target` when a rule already covers policy changes.
    fn change_quorum(
        &self,
        target: &str,
        ev: &Event,
        change: &dyn Fn(&mut Config) -> std::result::Result<(), String>,
    ) -> Result<Config> {
        let mk = self.so_master_key()?;
        let view = self.quorum_view()?;
        let mut config = view.config.clone();
        // A change the rules do not allow (a rule no officers could meet,
        // a duplicate name) is refused like any other policy refusal.
        change(&mut config).map_err(|why| Error::ActionProhibited.because(&why))?;
        self.authorize(&Subject {
            op: Op::Policy,
            target: target.to_string(),
            marked: false,
            object: None,
        })?;
        let key = match &view.row {
            Some(row) => self
                .quorum_key(&row.key_wrapped, None)?
                .ok_or(Error::UserNotLoggedIn)?,
            None => QuorumKey::generate()?,
        };
        let encoded = config.encode()?;
        let row = QuorumRow {
            key_wrapped: match &view.row {
                Some(row) => row.key_wrapped.clone(),
                None => key.wrap(&mk)?,
            },
            mac: key.mac(&encoded),
            config: encoded,
        };
        let record = self.audit_entry(ev, None)?;
        self.db.set_quorum_row(view.row.as_ref(), &row, &record)?;
        Ok(config)
    }

    /// Adds an officer whose key `passphrase` derives (the SO, plus an
    /// approved `policy` request for `officer-add:NAME` once rules exist).
    pub fn add_officer(&self, name: &str, passphrase: &[u8]) -> Result<Config> {
        quorum::check_name(name).map_err(|why| Error::ArgumentsBad.because(&why))?;
        if passphrase.len() < self.policy.min_len.max(8) {
            return Err(Error::PinLenRange.because(&format_args!(
                "an officer's passphrase has at least {} characters",
                self.policy.min_len.max(8)
            )));
        }
        let salt = officer_salt()?;
        let iterations = self.policy.kdf_iterations;
        let key = OfficerKey::derive(name, passphrase, &salt, iterations)?;
        let officer = Officer {
            name: name.to_string(),
            public: hex(&key.public()),
            salt: hex(&salt),
            iterations,
            added: now_ms(),
        };
        let ev = Event::new("officer_added").detail(format!("officer {name}"));
        self.change_quorum(&format!("officer-add:{name}"), &ev, &|c| {
            if c.officer(name).is_some() {
                return Err(format!("an officer named '{name}' exists already"));
            }
            if c.officers.len() >= MAX_OFFICERS {
                return Err(format!("a token has at most {MAX_OFFICERS} officers"));
            }
            c.officers.push(officer.clone());
            Ok(())
        })
    }

    pub fn remove_officer(&self, name: &str) -> Result<Config> {
        let ev = Event::new("officer_removed").detail(format!("officer {name}"));
        self.change_quorum(&format!("officer-remove:{name}"), &ev, &|c| {
            c.check_removal(name)?;
            c.officers.retain(|o| o.name != name);
            Ok(())
        })
    }

    /// Sets (`Some`) or removes (`None`) the rules of several classes in
    /// one change (one approval covers them all; setting up a token's
    /// rules one by one would need the first rule's quorum for the second).
    /// The `policy` target is `rule:CLASS=M,CLASS=none,…` in this order.
    pub fn set_quorum_rules(&self, changes: &[(String, Option<u32>)]) -> Result<Config> {
        if changes.is_empty() {
            return Err(Error::ArgumentsBad.because(&"no rule to change"));
        }
        let shown: Vec<String> = changes
            .iter()
            .map(|(class, m)| {
                format!(
                    "{class}={}",
                    m.map_or_else(|| "none".to_string(), |m| m.to_string())
                )
            })
            .collect();
        let ev = Event::new("quorum_rule").detail(format!("rules {}", shown.join(", ")));
        self.change_quorum(&format!("rule:{}", shown.join(",")), &ev, &|c| {
            for (class, approvals) in changes {
                match approvals {
                    Some(m) => {
                        c.check_rule(class, *m)?;
                        c.rules.insert(class.clone(), *m);
                    }
                    None => {
                        if c.rules.remove(class).is_none() {
                            return Err(format!("there is no rule for '{class}'"));
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// Files a request; returns its id. Needs no login: a request grants
    /// nothing until officers sign it.
    pub fn create_request(&self, new: &NewRequest) -> Result<Request> {
        if new.reason.len() > MAX_REASON_LEN {
            return Err(Error::ArgumentsBad
                .because(&format_args!("a reason has at most {MAX_REASON_LEN} bytes")));
        }
        if !(1_000..=MAX_EXPIRY_MS).contains(&new.expires_in_ms) {
            return Err(Error::ArgumentsBad.because(&"a request expires after 1 second to 30 days"));
        }
        self.serial()?;
        let mut nonce = vec![0u8; 16];
        crate::mechanism::random(&mut nonce)?;
        let now = now_ms();
        let mut req = Request {
            id: 0,
            nonce,
            op: new.op.name().to_string(),
            target: new.target.clone(),
            about: new.about.clone(),
            requester: crate::audit::who(),
            reason: new.reason.clone(),
            created: now,
            expires: now.saturating_add(new.expires_in_ms),
            state: "pending".into(),
        };
        let ev = |id: i64| {
            Event::new("quorum_request").detail(format!(
                "request {id}: {} of {} ({}) by {}, expires {}: {}",
                req.op,
                req.target,
                req.about,
                req.requester,
                crate::audit::format_ms(req.expires),
                req.reason
            ))
        };
        let (role, key) = {
            let state = self.login_state()?;
            (state.login, state.audit_key.clone())
        };
        req.id = self
            .db
            .insert_request(&req, &|id| self.entry_as(role, key.clone(), &ev(id), None))?;
        Ok(req)
    }

    /// A request, its votes checked against the roster, and the approvals
    /// it needs (for a key operation: as if the key were marked, the most
    /// it can need).
    pub fn request_status(&self, id: i64) -> Result<(Request, Tally, u32)> {
        let req = self
            .db
            .request(id)?
            .ok_or_else(|| Error::ArgumentsBad.because(&format_args!("no request {id}")))?;
        let view = self.quorum_view()?;
        let votes = self.db.votes(id)?;
        let t = quorum::tally(&view.config, &self.serial()?, &req, &votes, &verify_officer);
        Ok((req.clone(), t, needed_for(&view.config, &req)))
    }

    /// Every request; open ones past their expiry are marked expired
    /// (and audited) first.
    pub fn requests(&self) -> Result<Vec<Request>> {
        let now = now_ms();
        let all = self.db.requests()?;
        let mut changed = false;
        for req in &all {
            if matches!(req.state.as_str(), "pending" | "approved") && req.expires <= now {
                changed |= self.expire(req, now)?;
            }
        }
        if changed {
            return self.db.requests();
        }
        Ok(all)
    }

    /// Records that `req` expired unused.
    fn expire(&self, req: &Request, now: i64) -> Result<bool> {
        let ev = Event::new("quorum_expired").detail(format!(
            "request {}: {} of {} ({}) expired unused",
            req.id, req.op, req.target, req.about
        ));
        let record = self.audit_entry(&ev, None)?;
        self.db.expire_request(req.id, now, &record)
    }

    /// An officer signs their decision on request `id` with the key their
    /// passphrase derives. A passphrase that does not derive the
    /// officer's registered key is refused ([`Error::PinIncorrect`]) and
    /// audited.
    pub fn vote(
        &self,
        id: i64,
        officer: &str,
        passphrase: &[u8],
        decision: Decision,
    ) -> Result<(Request, Tally, u32)> {
        let (req, before, needed) = self.request_status(id)?;
        let view = self.quorum_view()?;
        let o = view.config.officer(officer).ok_or_else(|| {
            Error::ArgumentsBad.because(&format_args!("no officer is named '{officer}'"))
        })?;
        let salt = quorum::hex_decode(&o.salt).ok_or(Error::Tampered)?;
        let key = OfficerKey::derive(officer, passphrase, &salt, o.iterations)?;
        if hex(&key.public()) != o.public {
            let ev = Event::new("quorum_vote_refused")
                .failed(Error::PinIncorrect)
                .detail(format!(
                    "request {id}: wrong passphrase for officer {officer}"
                ));
            let _ = self.audit(&ev, None);
            return Err(Error::PinIncorrect
                .because(&format_args!("wrong passphrase for officer {officer}")));
        }
        let signature = key.sign(&quorum::statement(&self.serial()?, &req, decision));
        let vote = Vote {
            officer: officer.to_string(),
            decision: decision.name().to_string(),
            time: now_ms(),
            signature,
        };
        let approvals = before.approvals.len() + usize::from(decision == Decision::Approve);
        let state = if decision == Decision::Deny || !before.denials.is_empty() {
            "denied"
        } else if approvals as u64 >= u64::from(needed) {
            "approved"
        } else {
            "pending"
        };
        let ev = Event::new("quorum_vote").detail(format!(
            "request {id}: {officer} {}s {} of {} ({approvals} of {needed} approvals)",
            decision.name(),
            req.op,
            req.target
        ));
        let record = self.audit_entry(&ev, None)?;
        self.db.add_vote(&req, &vote, state, now_ms(), &record)?;
        self.request_status(id)
    }

    /// The quorum row re-keyed for a new master key: the same quorum key
    /// wrapped under `new` (a re-initialization or rotation by the SO, who
    /// holds the old key), or — after a reset, where the old key is lost —
    /// a new quorum key over the roster as stored.
    pub(super) fn quorum_rekeyed(
        &self,
        old: Option<&MasterKey>,
        new: &MasterKey,
    ) -> Result<Option<(QuorumRow, QuorumRow)>> {
        let Some(row) = self.db.quorum_row()? else {
            return Ok(None);
        };
        let opened = old.and_then(|mk| QuorumKey::unwrap(mk, &row.key_wrapped).ok());
        let next = match opened {
            Some(key) => QuorumRow {
                key_wrapped: key.wrap(new)?,
                ..row.clone()
            },
            None => {
                let key = QuorumKey::generate()?;
                QuorumRow {
                    key_wrapped: key.wrap(new)?,
                    mac: key.mac(&row.config),
                    config: row.config.clone(),
                }
            }
        };
        Ok(Some((row, next)))
    }
}

/// The `keyward request` argument that names `target` for `op`.
fn request_argument(op: Op, target: &str) -> String {
    match op {
        Op::RotateMasterKey | Op::Init | Op::Unlock => String::new(),
        Op::Restore => "BACKUP-FILE".into(),
        _ => target.to_string(),
    }
}

/// The target of restoring `file`: `backup:` and the first 16 bytes of
/// the file's SHA-256, so an approval is for exactly that backup.
pub fn backup_target(file: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(file).map_err(|e| {
        Error::ArgumentsBad.because(&format_args!("cannot read {}: {e}", file.display()))
    })?;
    let digest = crate::store::seal::public_digest(&bytes);
    Ok(format!(
        "backup:{}",
        hex(digest.get(..16).unwrap_or_default())
    ))
}

/// Approvals a request needs under `config`: a key operation as if the key
/// were marked (its class rule, else the default); other classes their rule
/// (at least 1).
pub fn needed_for(config: &Config, req: &Request) -> u32 {
    match Op::parse(&req.op) {
        Some(op) => config.needed(op, op.is_key_op()).unwrap_or(1),
        None => 1,
    }
}
