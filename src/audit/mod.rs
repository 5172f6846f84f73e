//! The audit trail's records: what each event says (never PINs, key bytes
//! or data), how it is encoded (one JSON object, hashed as stored), and
//! verification of the chain (`verify.rs`). Storage is `store::audit`.

mod verify;

use cryptoki_sys::*;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::mechanism::names;
use crate::object::Object;

pub use verify::{Finding, Verdict, Witness, verify, verify_token};

/// The event kinds, as written in records and accepted by
/// `keyward audit show --event`.
pub const EVENTS: &[&str] = &[
    "token_init",
    "token_reset",
    "pin_init",
    "pin_change",
    "login",
    "login_failed",
    "pin_locked",
    "create",
    "import",
    "generate",
    "copy",
    "unwrap",
    "derive",
    "wrap",
    "set_attribute",
    "state_change",
    "rotate",
    "destroy",
    "policy_refusal",
    "use_refused",
    "use",
    "backup",
    "restore",
    "master_key_rotate",
    "master_key_rotated",
    "object_damaged",
    "audit_break",
    "rollback",
    "officer_added",
    "officer_removed",
    "quorum_rule",
    "quorum_request",
    "quorum_vote",
    "quorum_vote_refused",
    "quorum_executed",
    "quorum_refused",
    "quorum_expired",
    "auditor_set",
    "auditor_removed",
    "auditor_check_failed",
];

/// One audit record as stored (JSON) and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 UTC, milliseconds.
    pub time: String,
    pub event: String,
    /// "CKR_OK" or the CKR code of the refusal.
    pub result: String,
    pub pid: u32,
    pub slot: u64,
    /// "public", "user", "so".
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// Which rule refused, the new state, the reason given, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Of the sealed key blob (for destruction) — never of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The operating-system user of the process ("alice", or "uid 1000"
    /// when the uid has no local name). Added in issue 10: older records
    /// lack it (and the next two) and still verify, because the hash and
    /// MAC cover the body as stored, never a re-serialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The host name of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The program's executable name (e.g. "pkcs11-tool", "keyward").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// Who wrote a record, as the process itself reports it: the user, host
/// and program are what the OS says of this process, so they are as
/// trustworthy as the machine (a root user could forge them), and useful
/// to tell which application did what.
///
/// The uid (getuid) and host name (uname) are asked of the kernel for
/// every record, so a setuid or a new host name shows at once. What costs
/// file reads is kept per process: the account name of a uid (from
/// /etc/passwd, looked up again when the uid changes) and the
/// executable's name (fixed until an exec, which reloads this library).
/// The cache is behind `try_lock` only: a busy or poisoned lock (another
/// thread, or a fork that copied it held) means "compute afresh", so this
/// never waits, and may run inside a token write transaction.
fn process_identity() -> (Option<String>, Option<String>, Option<String>) {
    let uid = rustix::process::getuid().as_raw();
    let host = host_name();
    let cached = IDENTITY.try_lock().ok().and_then(|guard| {
        guard
            .as_ref()
            .filter(|c| c.uid == uid)
            .map(|c| (c.user.clone(), c.program.clone()))
    });
    let (user, program) = cached.unwrap_or_else(|| {
        let user = user_name(uid).unwrap_or_else(|| format!("uid {uid}"));
        let program = program_name();
        if let Ok(mut guard) = IDENTITY.try_lock() {
            *guard = Some(Identity {
                uid,
                user: user.clone(),
                program: program.clone(),
            });
        }
        (user, program)
    });
    (Some(user), host, program)
}

/// Who this process runs as, "user@host", as requests name their
/// requester.
pub fn who() -> String {
    let (user, host, _) = process_identity();
    format!(
        "{}@{}",
        user.unwrap_or_default(),
        host.unwrap_or_else(|| "localhost".into())
    )
}

/// The per-process part of [`process_identity`].
struct Identity {
    uid: u32,
    user: String,
    program: Option<String>,
}

static IDENTITY: std::sync::Mutex<Option<Identity>> = std::sync::Mutex::new(None);

/// The kernel's host name (the same UTS name /proc/sys/kernel/hostname
/// shows), without opening a file.
fn host_name() -> Option<String> {
    let uts = rustix::system::uname();
    let h = uts.nodename().to_string_lossy();
    let h = h.trim();
    (!h.is_empty()).then(|| h.to_string())
}

/// The executable's file name, else the process's short name.
fn program_name() -> Option<String> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            std::fs::read_to_string("/proc/self/comm")
                .ok()
                .map(|c| c.trim().to_string())
        })
}

/// The local account name of `uid` (from /etc/passwd).
fn user_name(uid: u32) -> Option<String> {
    let uid = uid.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()? == uid).then(|| name.to_string())
    })
}

/// What the caller knows about an event; the token adds who, when and
/// where when it writes the record.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub mechanism: Option<CK_MECHANISM_TYPE>,
    pub detail: Option<String>,
    pub result: Option<Error>,
    pub fingerprint: Option<String>,
}

impl Event {
    pub fn new(kind: &'static str) -> Event {
        Event {
            kind,
            mechanism: None,
            detail: None,
            result: None,
            fingerprint: None,
        }
    }

    pub fn mech(mut self, mech: CK_MECHANISM_TYPE) -> Event {
        self.mechanism = Some(mech);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }

    pub fn failed(mut self, e: Error) -> Event {
        self.result = Some(e);
        self
    }

    pub fn fingerprint(mut self, fp: String) -> Event {
        self.fingerprint = Some(fp);
        self
    }

    /// The record for this event about `object` (row id and object).
    pub fn record(
        &self,
        time_ms: i64,
        slot: u64,
        role: &str,
        object: Option<(i64, &Object)>,
    ) -> Record {
        let (id, label, class, key_type) = match object {
            Some((id, obj)) => (
                Some(id.cast_unsigned()),
                obj.bytes(CKA_LABEL)
                    .map(|l| String::from_utf8_lossy(l).into_owned()),
                Some(names::class_name(obj.class())),
                obj.ulong(CKA_KEY_TYPE).map(names::key_type_name),
            ),
            None => (None, None, None, None),
        };
        let (user, host, program) = process_identity();
        Record {
            time: format_ms(time_ms),
            event: self.kind.to_string(),
            result: self.result.map_or("CKR_OK", Error::ckr_name).to_string(),
            pid: std::process::id(),
            slot,
            role: role.to_string(),
            object: id,
            label,
            class,
            key_type,
            mechanism: self.mechanism.map(names::mechanism_name),
            detail: self.detail.clone(),
            fingerprint: self.fingerprint.clone(),
            user,
            host,
            program,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// RFC 3339 in UTC with milliseconds ("2026-11-22T13:35:44.123Z").
pub fn format_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_json_has_no_empty_fields() {
        let r = Event::new("login_failed")
            .failed(Error::PinIncorrect)
            .record(0, 3, "public", None);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"result\":\"CKR_PIN_INCORRECT\""), "{json}");
        assert!(
            json.contains("\"time\":\"1970-01-01T00:00:00.000Z\""),
            "{json}"
        );
        assert!(!json.contains("label"), "{json}");
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn records_name_user_host_and_program() {
        let r = Event::new("login").record(0, 0, "user", None);
        assert!(r.user.as_deref().is_some_and(|u| !u.is_empty()), "{r:?}");
        assert!(r.host.as_deref().is_some_and(|h| !h.is_empty()), "{r:?}");
        assert!(r.program.as_deref().is_some_and(|p| !p.is_empty()), "{r:?}");
        // A record written before these fields existed still parses.
        let old = r#"{"time":"1970-01-01T00:00:00.000Z","event":"login","result":"CKR_OK","pid":1,"slot":0,"role":"user"}"#;
        let back: Record = serde_json::from_str(old).unwrap();
        assert_eq!(back.user, None);
        assert!(!serde_json::to_string(&back).unwrap().contains("\"user\":"));
    }

    /// The kernel's answers name the same user and host as the files read
    /// before (the real uid of /proc/self/status, the UTS host name), and
    /// the cached names stay right record after record.
    #[test]
    fn identity_matches_proc_and_stays_cached() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let uid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        let want_user = user_name(uid).unwrap_or_else(|| format!("uid {uid}"));
        let want_host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .to_string();
        for _ in 0..3 {
            let (user, host, program) = process_identity();
            assert_eq!(user.as_deref(), Some(want_user.as_str()));
            assert_eq!(host.as_deref(), Some(want_host.as_str()));
            assert_eq!(program, program_name());
        }
        // A held cache lock means "look it up afresh", never a wait.
        let held = IDENTITY.lock().unwrap();
        assert_eq!(process_identity().0.as_deref(), Some(want_user.as_str()));
        drop(held);
    }

    #[test]
    fn every_event_kind_is_listed_once() {
        let mut sorted = EVENTS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EVENTS.len());
    }
}
