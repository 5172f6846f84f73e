//! Checking an audit trail: the hash chain from the first record, the
//! sequence numbers, each record's MAC where the audit key is known, the
//! indexed columns against the record body, and the head and anchor that
//! reveal a truncated tail. Every finding names the record it is about.

use serde::Serialize;

use super::Record;
use crate::store::audit::{AuditHead, AuditRow, BREAK_EVENT};
use crate::store::seal::{self, AuditKey};

/// One problem found, about record `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub seq: i64,
    pub problem: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub records: usize,
    /// Records whose MAC was checked (needs the audit key).
    pub authenticated: usize,
    /// Records written without the audit key (e.g. a failed login).
    pub unauthenticated: usize,
    pub findings: Vec<Finding>,
    /// Authenticated `rollback` records: restores of a backup over the
    /// live token, expected events (not findings) listed with their text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollbacks: Vec<Finding>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn hash32(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}

/// Checks one record against its predecessor's hash; returns the hash the
/// next record must chain to (the stored one, so one edit is reported
/// once, not at every later record).
fn check_row(
    row: &AuditRow,
    previous: &[u8; 32],
    key: Option<&AuditKey>,
    verdict: &mut Verdict,
) -> [u8; 32] {
    let mut find = |problem: String| {
        verdict.findings.push(Finding {
            seq: row.seq,
            problem,
        })
    };
    let computed = seal::audit_chain(previous, row.seq.cast_unsigned(), &row.body);
    let stored = hash32(&row.hash).unwrap_or([0; 32]);
    if computed != stored {
        // Either the body was edited, or it was recomputed after an edit
        // or removal of the record before it.
        find(
            "record edited, or the record before it was edited or removed (hash chain broken)"
                .into(),
        );
    }
    match (&row.mac, key) {
        (Some(mac), Some(key)) => {
            if key.verify(&stored, mac) {
                verdict.authenticated += 1;
            } else {
                find("MAC does not match: record forged or edited".into());
            }
        }
        (Some(_), None) => {}
        (None, _) => verdict.unauthenticated += 1,
    }
    match serde_json::from_slice::<Record>(&row.body) {
        Ok(record) => {
            if record.event != row.event || record.object.map(u64::cast_signed) != row.object {
                find("indexed columns differ from the record body".into());
            }
        }
        Err(_) => find("record body is not a valid audit record".into()),
    }
    stored
}

/// Verifies a whole trail (rows in `seq` order, as stored) against its
/// head. `key` checks MACs; without it only the chain is checked.
pub fn verify(rows: &[AuditRow], head: Option<&AuditHead>, key: Option<&AuditKey>) -> Verdict {
    let mut verdict = Verdict {
        records: rows.len(),
        authenticated: 0,
        unauthenticated: 0,
        findings: Vec::new(),
        rollbacks: Vec::new(),
    };
    let mut previous = [0u8; 32];
    let mut expected_seq = 1i64;
    let key_from = key_starts_at(rows, key);
    for (i, row) in rows.iter().enumerate() {
        // Records before a `token_reset` were MACed under an audit key
        // that was erased with the token: only their chain is checked.
        let key = if i < key_from { None } else { key };
        if row.seq > expected_seq {
            let missing = if row.seq - expected_seq == 1 {
                format!("record {expected_seq} is missing (deleted)")
            } else {
                format!(
                    "records {expected_seq}..{} are missing (deleted)",
                    row.seq - 1
                )
            };
            verdict.findings.push(Finding {
                seq: expected_seq,
                problem: missing,
            });
        } else if row.seq < expected_seq {
            verdict.findings.push(Finding {
                seq: row.seq,
                problem: "record out of order (reordered or duplicated)".into(),
            });
        }
        previous = check_row(row, &previous, key, &mut verdict);
        expected_seq = row.seq.saturating_add(1);
    }
    let last = rows.last().map_or(0, |r| r.seq);
    match head {
        Some(h) => {
            if h.head_seq > last {
                verdict.findings.push(Finding {
                    seq: last + 1,
                    problem: format!(
                        "trail truncated: records {}..{} are missing at the end",
                        last + 1,
                        h.head_seq
                    ),
                });
            } else if h.head_seq < last || hash32(&h.head_hash) != Some(previous) {
                verdict.findings.push(Finding {
                    seq: last,
                    problem: "the chain head does not match the last record".into(),
                });
            }
            check_anchor(h, rows, key, &mut verdict);
        }
        None if !rows.is_empty() => verdict.findings.push(Finding {
            seq: last,
            problem: "the chain head is missing".into(),
        }),
        None => {}
    }
    verdict
}

/// Index of the last `token_reset` record whose own MAC verifies under
/// `key` (so a forged reset record cannot switch MAC checks off), else 0.
fn key_starts_at(rows: &[AuditRow], key: Option<&AuditKey>) -> usize {
    let Some(key) = key else { return 0 };
    rows.iter()
        .rposition(|r| {
            r.event == "token_reset"
                && matches!((&r.mac, hash32(&r.hash)), (Some(mac), Some(h)) if key.verify(&h, mac))
        })
        .unwrap_or(0)
}

/// The anchor is the last authenticated record: its MAC (domain-separated
/// from record MACs and bound to its sequence number) cannot be forged or
/// borrowed from an earlier record, so a trail cut back below it is
/// caught even if the head was rewritten. Without the key, the anchor
/// must still name a record that is there.
fn check_anchor(h: &AuditHead, rows: &[AuditRow], key: Option<&AuditKey>, v: &mut Verdict) {
    if h.anchor_seq == 0 {
        return;
    }
    let Some(hash) = hash32(&h.anchor_hash) else {
        return;
    };
    if let Some(key) = key {
        let ok = h
            .anchor_mac
            .as_ref()
            .is_some_and(|mac| key.verify_anchor(h.anchor_seq, &hash, mac));
        if !ok {
            v.findings.push(Finding {
                seq: h.anchor_seq,
                problem: "the chain anchor's MAC does not match (anchor forged or moved back)"
                    .into(),
            });
            return;
        }
    }
    match rows.iter().find(|r| r.seq == h.anchor_seq) {
        Some(r) if r.hash == h.anchor_hash => {}
        Some(_) => v.findings.push(Finding {
            seq: h.anchor_seq,
            problem: "the authenticated anchor record was replaced".into(),
        }),
        None => v.findings.push(Finding {
            seq: h.anchor_seq,
            problem: format!(
                "trail truncated: authenticated record {} is gone",
                h.anchor_seq
            ),
        }),
    }
}

/// What the token says about its own trail, beyond the rows and head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Witness {
    /// The token row exists: token initialization always writes an
    /// authenticated record, so a chain with an anchor must exist.
    pub initialized: bool,
    /// An audit key is stored (wrapped under the master key).
    pub has_key: bool,
    /// Someone is logged in, yet the stored audit key does not open under
    /// the master key (replaced or damaged): nothing can be authenticated.
    pub key_unopened: bool,
}

/// [`verify`], plus what only the whole token file can tell: a trail
/// erased from an initialized token, and breaks the module found and
/// recorded when it was about to extend a damaged chain (those stay
/// findings for good: records were lost there).
pub fn verify_token(
    rows: &[AuditRow],
    head: Option<&AuditHead>,
    key: Option<&AuditKey>,
    witness: Witness,
) -> Verdict {
    let mut verdict = verify(rows, head, key);
    if witness.initialized {
        let mut find = |seq: i64, problem: &str| {
            verdict.findings.push(Finding {
                seq,
                problem: problem.into(),
            })
        };
        match head {
            None => find(
                0,
                "the token is initialized but has no audit chain: the trail was erased",
            ),
            Some(h) if h.anchor_seq == 0 => find(
                0,
                "the token is initialized but the trail has no authenticated anchor: \
                 the trail was erased (or predates the audit trail)",
            ),
            Some(_) => {}
        }
        if !witness.has_key {
            find(0, "the token is initialized but its audit key is missing");
        } else if witness.key_unopened {
            find(
                0,
                "the stored audit key does not open under the master key (replaced or damaged)",
            );
        }
    }
    for row in rows.iter().filter(|r| r.event == BREAK_EVENT) {
        let detail = serde_json::from_slice::<Record>(&row.body)
            .ok()
            .and_then(|r| r.detail)
            .unwrap_or_default();
        verdict.findings.push(Finding {
            seq: row.seq,
            problem: format!("the module found the trail broken here: {detail}"),
        });
    }
    rollbacks(rows, key, &mut verdict);
    verdict.findings.sort_by_key(|f| f.seq);
    verdict
}

/// A restore over a live token writes an authenticated `rollback` record
/// (crate::token::restore): listed as an expected event when its MAC
/// verifies (or, without the key, when it carries one), a finding when it
/// has none — only a restore that proved the SO PIN can write one.
fn rollbacks(rows: &[AuditRow], key: Option<&AuditKey>, verdict: &mut Verdict) {
    for row in rows.iter().filter(|r| r.event == "rollback") {
        let detail = serde_json::from_slice::<Record>(&row.body)
            .ok()
            .and_then(|r| r.detail)
            .unwrap_or_default();
        let authentic = match (&row.mac, key, hash32(&row.hash)) {
            (Some(mac), Some(key), Some(h)) => key.verify(&h, mac),
            (Some(_), None, _) => true,
            _ => false,
        };
        if authentic {
            verdict.rollbacks.push(Finding {
                seq: row.seq,
                problem: detail,
            });
        } else if row.mac.is_none() {
            verdict.findings.push(Finding {
                seq: row.seq,
                problem: format!("a rollback record without MAC (not written by a restore that proved the SO PIN): {detail}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `events`, all authenticated with `key`, and its head.
    fn chain(key: &AuditKey, events: &[&str]) -> (Vec<AuditRow>, AuditHead) {
        let mut rows = Vec::new();
        let mut previous = [0u8; 32];
        for (i, event) in events.iter().enumerate() {
            let seq = i64::try_from(i).unwrap() + 1;
            let record = Record {
                event: (*event).to_string(),
                detail: Some("what was found".into()),
                ..Default::default()
            };
            let body = serde_json::to_vec(&record).unwrap();
            let hash = seal::audit_chain(&previous, seq.cast_unsigned(), &body);
            rows.push(AuditRow {
                seq,
                time_ms: 0,
                event: (*event).to_string(),
                object: None,
                body,
                hash: hash.to_vec(),
                mac: Some(key.mac(&hash)),
            });
            previous = hash;
        }
        let last = i64::try_from(events.len()).unwrap();
        let head = AuditHead {
            head_seq: last,
            head_hash: previous.to_vec(),
            anchor_seq: last,
            anchor_hash: previous.to_vec(),
            anchor_mac: Some(key.anchor_mac(last, &previous)),
        };
        (rows, head)
    }

    const TOKEN: Witness = Witness {
        initialized: true,
        has_key: true,
        key_unopened: false,
    };

    #[test]
    fn clean_chain_verifies() {
        let key = AuditKey::generate().unwrap();
        let (rows, head) = chain(&key, &["token_init", "login"]);
        let v = verify_token(&rows, Some(&head), Some(&key), TOKEN);
        assert!(v.ok(), "{:?}", v.findings);
        assert_eq!(v.authenticated, 2);
    }

    #[test]
    fn a_record_mac_is_no_anchor() {
        let key = AuditKey::generate().unwrap();
        let (rows, _) = chain(&key, &["token_init", "login", "create"]);
        let kept = &rows[..2];
        // Cut back to record 2, anchored with record 2's own MAC.
        let head = AuditHead {
            head_seq: 2,
            head_hash: kept[1].hash.clone(),
            anchor_seq: 2,
            anchor_hash: kept[1].hash.clone(),
            anchor_mac: kept[1].mac.clone(),
        };
        let v = verify_token(kept, Some(&head), Some(&key), TOKEN);
        assert!(v.findings.iter().any(|f| f.seq == 2), "{:?}", v.findings);
    }

    #[test]
    fn erasure_and_recorded_breaks_are_findings() {
        let key = AuditKey::generate().unwrap();
        let v = verify_token(&[], None, Some(&key), TOKEN);
        assert!(!v.ok(), "an initialized token with no chain");
        let fresh = Witness::default();
        assert!(
            verify_token(&[], None, None, fresh).ok(),
            "a new token file"
        );
        let no_key = Witness {
            has_key: false,
            ..TOKEN
        };
        let (rows, head) = chain(&key, &["token_init"]);
        assert!(!verify_token(&rows, Some(&head), Some(&key), no_key).ok());
        let unopened = Witness {
            key_unopened: true,
            ..TOKEN
        };
        assert!(!verify_token(&rows, Some(&head), None, unopened).ok());

        let (rows, head) = chain(&key, &["token_init", BREAK_EVENT, "login"]);
        let v = verify_token(&rows, Some(&head), Some(&key), TOKEN);
        assert_eq!(v.findings.len(), 1, "{:?}", v.findings);
        assert_eq!(v.findings[0].seq, 2);
        assert!(v.findings[0].problem.contains("what was found"));
    }

    #[test]
    fn rollbacks_are_listed_when_authenticated_and_findings_without_mac() {
        let key = AuditKey::generate().unwrap();
        let (rows, head) = chain(&key, &["token_init", "rollback", "login"]);
        let v = verify_token(&rows, Some(&head), Some(&key), TOKEN);
        assert!(v.ok(), "{:?}", v.findings);
        assert_eq!(v.rollbacks.len(), 1);
        assert_eq!(v.rollbacks[0].seq, 2);
        assert_eq!(v.rollbacks[0].problem, "what was found");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["rollbacks"][0]["seq"], 2);

        let forged = trail(&[("token_init", Some(&key)), ("rollback", None)]);
        let v = verify(&forged, None, Some(&key));
        let mut v2 = v.clone();
        v2.findings.clear();
        rollbacks(&forged, Some(&key), &mut v2);
        assert!(v2.rollbacks.is_empty());
        assert!(v2.findings[0].problem.contains("without MAC"), "{v2:?}");
    }

    fn trail(events: &[(&str, Option<&AuditKey>)]) -> Vec<AuditRow> {
        let mut previous = [0u8; 32];
        let mut rows = Vec::new();
        for (i, (event, key)) in events.iter().enumerate() {
            let seq = i64::try_from(i).unwrap() + 1;
            let body = format!(
                r#"{{"time":"t","event":"{event}","result":"CKR_OK","pid":1,"slot":0,"role":"so"}}"#
            );
            let hash = seal::audit_chain(&previous, seq.cast_unsigned(), body.as_bytes());
            rows.push(AuditRow {
                seq,
                time_ms: 0,
                event: (*event).into(),
                object: None,
                body: body.into_bytes(),
                hash: hash.to_vec(),
                mac: key.map(|k| k.mac(&hash)),
            });
            previous = hash;
        }
        rows
    }

    #[test]
    fn macs_are_checked_from_the_last_authentic_token_reset() {
        let old = AuditKey::generate().unwrap();
        let new = AuditKey::generate().unwrap();
        let rows = trail(&[
            ("token_init", Some(&old)),
            ("login", Some(&old)),
            ("token_reset", Some(&new)),
            ("login", Some(&new)),
        ]);
        let v = verify(&rows, None, Some(&new));
        assert!(
            v.findings.iter().all(|f| f.problem.contains("head")),
            "{v:?}"
        );
        assert_eq!(v.authenticated, 2);
        // A reset record the new key did not MAC switches nothing off.
        let forged = trail(&[
            ("token_init", Some(&old)),
            ("token_reset", None),
            ("login", Some(&new)),
        ]);
        let v = verify(&forged, None, Some(&new));
        assert!(
            v.findings
                .iter()
                .any(|f| f.seq == 1 && f.problem.contains("MAC")),
            "{v:?}"
        );
    }
}
