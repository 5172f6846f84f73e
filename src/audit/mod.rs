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
        Record {
            time: format_ms(time_ms),
            event: self.kind.to_string(),
            result: self
                .result
                .map_or_else(|| "CKR_OK".to_string(), Error::ckr_name),
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
    fn every_event_kind_is_listed_once() {
        let mut sorted = EVENTS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EVENTS.len());
    }
}
