//! Separation of duties, the pure rules: which operation classes need how
//! many officers' approvals, the officer roster, requests and votes, the
//! exact statement an officer signs, and the tally that decides whether a
//! request may be executed. Storage is `store/quorum.rs`, the crypto
//! `store/seal_quorum.rs`, enforcement `token/quorum.rs` and
//! `api/quorum.rs` (docs/SEPARATION-OF-DUTIES.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The operation classes a rule can cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// C_DestroyObject, `keyward keys destroy`.
    Destroy,
    /// C_WrapKey of a key, or reading its secret value (CKA_VALUE …).
    Export,
    /// C_SetAttributeValue and lifecycle state changes that make a key
    /// more usable (making it less usable needs no approval).
    Modify,
    /// Restoring a backup over the token.
    Restore,
    /// Master-key rotation.
    RotateMasterKey,
    /// Officers, rules and the auditor.
    Policy,
    /// Re-initializing (C_InitToken) or resetting the token.
    Init,
    /// The SO replacing the user PIN (C_InitPIN on a token that has one).
    Unlock,
}

/// Every class, in the order the CLI lists them.
pub const OPS: [Op; 8] = [
    Op::Destroy,
    Op::Export,
    Op::Modify,
    Op::Restore,
    Op::RotateMasterKey,
    Op::Policy,
    Op::Init,
    Op::Unlock,
];

/// The rule that quorum-marked keys fall back to when their operation's
/// class has no rule of its own.
pub const DEFAULT_RULE: &str = "default";

/// Most officers a token can have, and the longest officer name.
pub const MAX_OFFICERS: usize = 32;
pub const MAX_NAME_LEN: usize = 64;
/// Longest reason text kept with a request.
pub const MAX_REASON_LEN: usize = 512;
/// Longest time a request stays open: 30 days, in milliseconds.
pub const MAX_EXPIRY_MS: i64 = 30 * 86_400_000;

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Destroy => "destroy",
            Op::Export => "export",
            Op::Modify => "modify",
            Op::Restore => "restore",
            Op::RotateMasterKey => "rotate-master-key",
            Op::Policy => "policy",
            Op::Init => "init",
            Op::Unlock => "unlock",
        }
    }

    pub fn parse(text: &str) -> Option<Op> {
        OPS.into_iter().find(|op| op.name() == text)
    }

    /// Classes that concern one key (their target is `object:<id>`), the
    /// ones a key's own quorum mark covers.
    pub fn is_key_op(self) -> bool {
        matches!(self, Op::Destroy | Op::Export | Op::Modify)
    }
}

/// One officer: a name and the public half of the key their passphrase
/// derives (with this salt and iteration count). Nothing here lets anyone
/// sign for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    pub name: String,
    /// Ed25519 public key, hex.
    pub public: String,
    /// PBKDF2 salt, hex.
    pub salt: String,
    pub iterations: u32,
    /// When the officer was added, milliseconds since the epoch.
    pub added: i64,
}

/// The roster and the rules, stored MAC'd as one JSON document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub officers: Vec<Officer>,
    /// Class name (or [`DEFAULT_RULE`]) → approvals needed.
    pub rules: BTreeMap<String, u32>,
}

impl Config {
    pub fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|_| Error::GeneralError)
    }

    pub fn decode(bytes: &[u8]) -> Result<Config> {
        serde_json::from_slice(bytes).map_err(|_| Error::Tampered)
    }

    pub fn officer(&self, name: &str) -> Option<&Officer> {
        self.officers.iter().find(|o| o.name == name)
    }

    fn largest_rule(&self) -> Option<u32> {
        self.rules.values().copied().max()
    }

    /// Approvals needed for `op`, on a key carrying the quorum mark when
    /// `marked`; `None`: no approval needed. Changing the rules or the
    /// officers needs, once any rule is set, the `policy` rule or else the
    /// largest rule (nobody lowers a 2-of-3 alone). A marked key's
    /// operations need their class's rule, else the default rule, else the
    /// largest, else one approval.
    pub fn needed(&self, op: Op, marked: bool) -> Option<u32> {
        if let Some(m) = self.rules.get(op.name()) {
            return Some(*m);
        }
        if op == Op::Policy {
            return self.largest_rule();
        }
        if marked && op.is_key_op() {
            return Some(
                self.rules
                    .get(DEFAULT_RULE)
                    .copied()
                    .or_else(|| self.largest_rule())
                    .unwrap_or(1),
            );
        }
        None
    }

    /// Checks a rule change: a known class, at least one approval and no
    /// more than there are officers.
    pub fn check_rule(&self, class: &str, m: u32) -> std::result::Result<(), String> {
        if class != DEFAULT_RULE && Op::parse(class).is_none() {
            return Err(format!(
                "unknown operation class '{class}' (one of: {}, {DEFAULT_RULE})",
                OPS.map(Op::name).join(", ")
            ));
        }
        if m == 0 {
            return Err("a rule needs at least 1 approval (remove the rule instead)".into());
        }
        let n = self.officers.len();
        if m as usize > n {
            return Err(format!(
                "a rule of {m} approvals needs at least {m} officers; the token has {n}"
            ));
        }
        Ok(())
    }

    /// Checks that `name` can leave: every rule stays satisfiable.
    pub fn check_removal(&self, name: &str) -> std::result::Result<(), String> {
        if self.officer(name).is_none() {
            return Err(format!("no officer is named '{name}'"));
        }
        let left = self.officers.len().saturating_sub(1);
        if let Some(m) = self.largest_rule()
            && m as usize > left
        {
            return Err(format!(
                "removing '{name}' would leave {left} officer(s) for a rule of {m} approvals; \
                 lower the rule first"
            ));
        }
        Ok(())
    }
}

/// Checks an officer's name: 1–64 printable characters without spaces or
/// colons (names appear in targets and in the trail).
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "an officer's name is 1 to {MAX_NAME_LEN} characters of letters, digits, '-', '_', '.' or '@'"
        ))
    }
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub id: i64,
    /// Random, so a signature for one request never fits another, even one
    /// that reuses its id after the table was emptied.
    #[serde(skip)]
    pub nonce: Vec<u8>,
    pub op: String,
    pub target: String,
    /// What the target was when requested (label, class), for people.
    pub about: String,
    pub requester: String,
    pub reason: String,
    pub created: i64,
    pub expires: i64,
    /// pending, approved, denied, executed or expired (a hint: execution
    /// re-checks every signature).
    pub state: String,
}

impl Request {
    /// The state as shown: an open request past its expiry is expired.
    pub fn shown_state(&self, now_ms: i64) -> &str {
        match self.state.as_str() {
            "pending" | "approved" if now_ms >= self.expires => "expired",
            s => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }

    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "approve" => Some(Decision::Approve),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// One officer's signed vote on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub officer: String,
    pub decision: String,
    pub time: i64,
    pub signature: Vec<u8>,
}

const STATEMENT_PREFIX: &[u8] = b"keyward-quorum-vote-v1";

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// What an officer signs: the token (its serial), the request's id,
/// nonce, operation, exact target, requester, reason and expiry, and the
/// decision, each length-prefixed. Editing any of them in the store, or
/// moving the vote to another request, breaks the signature.
pub fn statement(serial: &[u8], req: &Request, decision: Decision) -> Vec<u8> {
    let mut out = STATEMENT_PREFIX.to_vec();
    field(&mut out, serial);
    field(&mut out, &req.id.to_le_bytes());
    field(&mut out, &req.nonce);
    field(&mut out, req.op.as_bytes());
    field(&mut out, req.target.as_bytes());
    field(&mut out, req.requester.as_bytes());
    field(&mut out, req.reason.as_bytes());
    field(&mut out, &req.expires.to_le_bytes());
    field(&mut out, decision.name().as_bytes());
    out
}

/// The votes of a request, checked against the roster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Officers whose approval verifies.
    pub approvals: Vec<String>,
    /// Officers whose denial verifies.
    pub denials: Vec<String>,
    /// Votes that do not verify (forged, edited, or by someone who is no
    /// officer now), by the name they claim.
    pub invalid: Vec<String>,
}

/// `verify(public key, statement, signature)`.
pub type SignatureCheck = dyn Fn(&[u8], &[u8], &[u8]) -> bool;

/// Checks every vote's signature with `verify(public, statement, sig)`.
pub fn tally(
    config: &Config,
    serial: &[u8],
    req: &Request,
    votes: &[Vote],
    verify: &SignatureCheck,
) -> Tally {
    let mut t = Tally::default();
    for v in votes {
        let officer = config.officer(&v.officer);
        let decision = Decision::parse(&v.decision);
        let good = match (officer, decision) {
            (Some(o), Some(d)) => hex_decode(&o.public)
                .is_some_and(|public| verify(&public, &statement(serial, req, d), &v.signature)),
            _ => false,
        };
        match (good, decision) {
            (true, Some(Decision::Approve)) => t.approvals.push(v.officer.clone()),
            (true, Some(Decision::Deny)) => t.denials.push(v.officer.clone()),
            _ => t.invalid.push(v.officer.clone()),
        }
    }
    t
}

/// Why a request cannot be executed now, if it cannot.
pub fn blocker(req: &Request, tally: &Tally, needed: u32, now_ms: i64) -> Option<String> {
    if req.state == "executed" {
        return Some(format!("request {} was already executed", req.id));
    }
    if req.state == "expired" {
        return Some(format!("request {} has expired", req.id));
    }
    if let Some(who) = tally.denials.first() {
        return Some(format!("request {} was denied by {who}", req.id));
    }
    if now_ms >= req.expires {
        return Some(format!("request {} has expired", req.id));
    }
    let have = tally.approvals.len();
    if (have as u64) < u64::from(needed) {
        return Some(format!(
            "request {} has {have} of the {needed} approvals it needs",
            req.id
        ));
    }
    None
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// The target of an operation on one token object.
pub fn object_target(id: i64) -> String {
    format!("object:{id}")
}

#[cfg(test)]
mod tests;
