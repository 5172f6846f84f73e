//! Restoring a backup over a live token, honestly: what the restore loses
//! is computed first (objects created, destroyed or changed since the
//! backup, audit records after it), keys compromised or destroyed since
//! the backup do not come back usable, and the restored trail records the
//! rollback (authenticated, in the same transaction as the restore). See
//! docs/LIFECYCLE.md, "Backup and restore".

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cryptoki_sys::*;

use super::quorum::Subject;
use super::{Login, Token};
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::lifecycle::{self, vendor::*};
use crate::object::{AttrMap, Object};
use crate::quorum::Op;
use crate::store::backup::{BackupError, BackupInfo, Image, LiveHead};
use crate::store::quorum::QuorumRow;
use crate::store::seal::{self, AuditKey, MasterKey};
use crate::store::sqlite::{ObjectRow, Role, RowFilter};
use crate::store::{audit::AuditFilter, codec};

/// The audit event a restore over a live token writes first.
pub const ROLLBACK_EVENT: &str = "rollback";

/// One object the restore changes, as the loss report lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectLoss {
    /// Object id (a string: ids exceed 2^53).
    pub id: String,
    /// "created" (since the backup: lost), "destroyed" (since the backup:
    /// comes back) or "changed".
    pub change: &'static str,
    pub class: String,
    pub label: String,
    /// State in the backup, and in the live token (None: absent there).
    pub backup_state: Option<String>,
    pub live_state: Option<String>,
    /// State after the restore (None: the object will not exist).
    pub restored_state: Option<String>,
    /// The last record of the live trail about it after the backup.
    pub last_event: Option<String>,
    pub last_seq: Option<i64>,
}

/// What a restore over the live token loses, and what it will do.
#[derive(Debug)]
pub struct RestorePlan {
    pub backup: BackupInfo,
    pub file: PathBuf,
    pub objects: Vec<ObjectLoss>,
    /// The backup's trail ends here; the live trail's head.
    pub backup_audit_seq: i64,
    pub live_audit_seq: i64,
    /// Hex SHA-256 chain hash of the live head the restore replaces.
    pub live_head_hash: String,
    /// Live records after the backup's last one (not in the restored trail).
    pub audit_records_lost: i64,
    /// Whether the backup's trail is a prefix of the live one (the backup
    /// was taken from this token's history).
    pub same_history: bool,
    inner: Option<Pending>,
}

struct Pending {
    image: Image,
    live_head: LiveHead,
    amended: Vec<ObjectRow>,
    records: Vec<crate::store::audit::AuditEntry>,
    epoch: i64,
    failures: (u32, u32),
    /// The live master key, for the quorum check at apply time.
    live_mk: Option<MasterKey>,
    /// The live officers-and-rules row, re-keyed under the backup's key.
    quorum: Option<(QuorumRow, QuorumRow)>,
    /// The `restore` target: this backup file's digest.
    target: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending(..)")
    }
}

/// An object as stored, opened with `mk` (None if it does not open).
fn open_with(mk: &MasterKey, row: &ObjectRow) -> Option<Object> {
    let clear = codec::decode_attrs(&row.public).ok()?;
    if row.sealed.is_empty() {
        return Some(Object::join(clear, AttrMap::new()));
    }
    let digest = seal::public_digest(&row.public);
    let plain = seal::unseal_object(mk, row.id, row.class, &digest, &row.sealed).ok()?;
    let secret = codec::decode_attrs(&plain).ok()?;
    Some(Object::join(clear, secret))
}

fn state_of(obj: Option<&Object>) -> Option<CK_ULONG> {
    obj.filter(|o| lifecycle::has_lifecycle(o.class()))
        .map(lifecycle::state)
}

fn name(state: Option<CK_ULONG>) -> Option<String> {
    state.map(|s| lifecycle::state_name(s).to_string())
}

fn label_of(obj: Option<&Object>) -> String {
    obj.and_then(|o| o.bytes(CKA_LABEL))
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `keep` (object ids, `#id` or labels) names this object.
fn kept(keep: &[String], id: i64, label: &str) -> bool {
    keep.iter().any(|k| {
        let k = k.strip_prefix('#').unwrap_or(k);
        k == id.to_string() || (!label.is_empty() && k == label)
    })
}

/// The live trail's records after `after`, by object: last (seq, event)
/// and whether one of them compromised it.
fn live_events(rows: &[crate::store::audit::AuditRow]) -> HashMap<i64, (i64, String, bool)> {
    let mut out: HashMap<i64, (i64, String, bool)> = HashMap::new();
    for r in rows {
        let Some(id) = r.object else { continue };
        let compromised = r.event == "state_change"
            && serde_json::from_slice::<crate::audit::Record>(&r.body)
                .ok()
                .and_then(|rec| rec.detail)
                .is_some_and(|d| d.contains("-> compromised"));
        let e = out.entry(id).or_insert((0, String::new(), false));
        e.0 = r.seq;
        e.1 = r.event.clone();
        e.2 |= compromised;
    }
    out
}

impl Token {
    /// Whether another module instance (another process, or a forked
    /// child) has this token open: each holds a shared lock on the
    /// token's `-users` file; this takes it exclusively if it can, and
    /// keeps it so until [`Token::release_exclusive`].
    pub fn others_present(&self) -> Result<bool> {
        self.presence.others_present()
    }

    /// Back to a shared presence lock after [`Token::others_present`].
    pub fn release_exclusive(&self) {
        self.presence.release();
    }

    /// Computes what restoring `file` over this token loses, after
    /// checking the SO PIN of this token (through the counted PIN path).
    /// `backup_so_pin` opens the backup when its SO PIN differs (it was
    /// changed after the backup). `keep` lists keys (ids or labels) that
    /// come back in their backup state whatever happened to them since.
    pub fn plan_restore(
        &self,
        file: &Path,
        passphrase: &[u8],
        so_pin: &[u8],
        backup_so_pin: Option<&[u8]>,
        keep: &[String],
    ) -> std::result::Result<RestorePlan, BackupError> {
        self.plan_restore_with(
            file,
            crate::store::backup::Unlock::Passphrase(passphrase),
            so_pin,
            backup_so_pin,
            keep,
        )
    }

    /// [`Token::plan_restore`] for either kind of backup (a split one is
    /// opened by the key its shares recombine to).
    pub fn plan_restore_with(
        &self,
        file: &Path,
        unlock: crate::store::backup::Unlock<'_>,
        so_pin: &[u8],
        backup_so_pin: Option<&[u8]>,
        keep: &[String],
    ) -> std::result::Result<RestorePlan, BackupError> {
        let meta = self.db.meta().map_err(BackupError::Store)?;
        let live_mk = match meta {
            Some(_) => Some(
                self.verify_pin(Role::So, so_pin, "backup restore")
                    .map_err(BackupError::Store)?
                    .0,
            ),
            None => None,
        };
        let mut image = Image::open_with(file, unlock)?;
        let record = image
            .pin(Role::So)
            .map_err(BackupError::Store)?
            .ok_or(BackupError::NotAToken("the backup has no SO PIN".into()))?;
        let backup_mk =
            seal::unwrap_master_key(backup_so_pin.unwrap_or(so_pin), Role::So.byte(), &record)
                .map_err(|_| BackupError::BackupSoPin)?;
        let audit_key = image
            .audit_key_wrapped()
            .map_err(BackupError::Store)?
            .and_then(|w| AuditKey::unwrap(&backup_mk, &w).ok());
        let live_head = self.db.audit_head_now().map_err(BackupError::Store)?;
        let backup_head = image.audit_head().map_err(BackupError::Store)?;
        let trail = self
            .db
            .audit_rows(&AuditFilter::default())
            .map_err(BackupError::Store)?;
        let same_history = backup_head.seq == 0
            || trail
                .iter()
                .any(|r| r.seq == backup_head.seq && r.hash == backup_head.hash);
        let after: Vec<_> = trail
            .into_iter()
            .filter(|r| r.seq > backup_head.seq)
            .collect();
        let events = live_events(&after);
        let all = RowFilter {
            include_private: true,
            ..RowFilter::default()
        };
        let live_rows = self.db.find(&all).map_err(BackupError::Store)?;
        let backup_rows = image.objects().map_err(BackupError::Store)?;
        // The restored token keeps the backup's epoch: it names the master
        // key its rows are sealed under (each sealed blob names it too).
        // A process logged in under another key cannot follow to it and is
        // logged out at its next use; one holding the same key goes on.
        let epoch = image.epoch().map_err(BackupError::Store)?;
        let plan = Planner {
            token: self,
            live_mk: live_mk.as_ref(),
            backup_mk: &backup_mk,
            backup_epoch: epoch,
            keep,
            events: &events,
        }
        .diff(&live_rows, &backup_rows)
        .map_err(BackupError::Store)?;
        let (objects, amended, changes) = plan;
        let meta = self.db.meta().map_err(BackupError::Store)?;
        let failures = meta.map_or((0, 0), |m| (m.so_failures, m.user_failures));
        let lost = live_head.seq.saturating_sub(backup_head.seq).max(0);
        let mut detail = format!(
            "token rolled back to the backup {} taken {}: its trail ends at record {}; \
             records {}..{} of the replaced trail (head {}, hash {}) are not in this trail",
            file.display(),
            crate::audit::format_ms(
                i64::try_from(image.info.created)
                    .unwrap_or(0)
                    .saturating_mul(1000)
            ),
            backup_head.seq,
            backup_head.seq + 1,
            live_head.seq,
            live_head.seq,
            hex(&live_head.hash),
        );
        let count = |c: &str| objects.iter().filter(|o| o.change == c).count();
        detail.push_str(&format!(
            "; since the backup {} object(s) created (lost), {} destroyed (back), {} changed",
            count("created"),
            count("destroyed"),
            count("changed")
        ));
        if !same_history {
            detail.push_str("; the backup is not from this trail's history");
        }
        let rollback = Event::new(ROLLBACK_EVENT).detail(detail);
        let mut records = vec![self.entry_as(Login::So, audit_key.clone(), &rollback, None)];
        for (id, obj, text) in &changes {
            let ev = Event::new("state_change").detail(text.clone());
            records.push(self.entry_as(Login::So, audit_key.clone(), &ev, Some((*id, obj))));
        }
        Ok(RestorePlan {
            backup: image.info.clone(),
            file: file.to_path_buf(),
            objects,
            backup_audit_seq: backup_head.seq,
            live_audit_seq: live_head.seq,
            live_head_hash: hex(&live_head.hash),
            audit_records_lost: lost,
            same_history,
            inner: Some(Pending {
                image,
                live_head,
                amended,
                records,
                epoch,
                failures,
                quorum: self
                    .quorum_rekeyed(live_mk.as_ref(), &backup_mk)
                    .map_err(BackupError::Store)?,
                target: super::quorum::backup_target(file).map_err(BackupError::Store)?,
                live_mk,
            }),
        })
    }

    /// Carries out a plan: in one write transaction of the token file,
    /// checks the live trail's head is still the one the plan was made
    /// against, and replaces the token with the amended backup (keys kept
    /// compromised or deactivated, the rollback record, the backup's epoch,
    /// which ends the login of every process holding another master key).
    /// This process is logged out.
    pub fn apply_restore(&self, mut plan: RestorePlan) -> std::result::Result<(), BackupError> {
        let Some(mut p) = plan.inner.take() else {
            return Err(BackupError::Store(Error::GeneralError));
        };
        p.image
            .amend(&p.amended, p.epoch, p.failures, &p.records)
            .map_err(BackupError::Store)?;
        // Last, just before the write: an approval is used up only by a
        // restore that is going to happen. Its record extends the live
        // trail the plan was made against; that one record (and nothing
        // else) may stand between the plan and the write.
        let before = self.db.audit_head_now().map_err(BackupError::Store)?;
        let used = self
            .authorize_with(
                &Subject {
                    op: Op::Restore,
                    target: p.target.clone(),
                    marked: false,
                    object: None,
                },
                p.live_mk.as_ref(),
            )
            .map_err(BackupError::Store)?;
        if used.is_some() && before == p.live_head {
            let after = self.db.audit_head_now().map_err(BackupError::Store)?;
            if after.seq == before.seq + 1 {
                p.live_head = after;
            }
        }
        let replaced = self
            .db
            .replace_keeping_quorum(&p.image, &p.live_head, p.quorum.as_ref());
        let _ = self.logout();
        // The approval's record was in the trail the restore replaced:
        // the restored trail gets it again, after its rollback record.
        if replaced.is_ok()
            && let Some(detail) = used
        {
            let ev = Event::new("quorum_executed").detail(detail);
            let _ = self.audit(&ev, None);
        }
        match replaced {
            Err(Error::FunctionFailed) => Err(BackupError::Changed),
            other => other.map_err(BackupError::Store),
        }
    }
}

/// The object comparison of a restore plan.
struct Planner<'a> {
    token: &'a Token,
    live_mk: Option<&'a MasterKey>,
    backup_mk: &'a MasterKey,
    backup_epoch: i64,
    keep: &'a [String],
    events: &'a HashMap<i64, (i64, String, bool)>,
}

/// Report, amended image rows, and (id, object, detail) of forced states.
type Diff = (Vec<ObjectLoss>, Vec<ObjectRow>, Vec<(i64, Object, String)>);

impl Planner<'_> {
    fn diff(&self, live: &[ObjectRow], backup: &[ObjectRow]) -> Result<Diff> {
        let live_by_id: HashMap<i64, &ObjectRow> = live.iter().map(|r| (r.id, r)).collect();
        let backup_ids: std::collections::HashSet<i64> = backup.iter().map(|r| r.id).collect();
        let mut report = Vec::new();
        let mut amended = Vec::new();
        let mut changes = Vec::new();
        for row in live.iter().filter(|r| !backup_ids.contains(&r.id)) {
            let obj = self.live_mk.and_then(|mk| open_with(mk, row));
            report.push(self.loss(row.id, "created", obj.as_ref(), None, None, None));
        }
        for row in backup {
            let live_row = live_by_id.get(&row.id).copied();
            if live_row.is_some_and(|l| l == row) {
                continue;
            }
            let old = open_with(self.backup_mk, row);
            let now = live_row.and_then(|l| self.live_mk.and_then(|mk| open_with(mk, l)));
            let (change, target, reason) = match live_row {
                None => {
                    let compromised = self.events.get(&row.id).is_some_and(|e| e.2);
                    if compromised {
                        (
                            "destroyed",
                            CKW_STATE_COMPROMISED,
                            "compromised, then destroyed after the backup",
                        )
                    } else {
                        (
                            "destroyed",
                            CKW_STATE_DEACTIVATED,
                            "destroyed after the backup",
                        )
                    }
                }
                // There is no way back to active: a key retired or
                // compromised since the backup stays so.
                Some(_) => match state_of(now.as_ref()) {
                    Some(CKW_STATE_COMPROMISED) => (
                        "changed",
                        CKW_STATE_COMPROMISED,
                        "compromised after the backup",
                    ),
                    Some(CKW_STATE_DEACTIVATED) => (
                        "changed",
                        CKW_STATE_DEACTIVATED,
                        "deactivated after the backup",
                    ),
                    _ => ("changed", 0, ""),
                },
            };
            let mut restored = old.clone();
            let mut new_row = None;
            let label = label_of(old.as_ref());
            if let Some(obj) = &old
                && target != 0
                && !kept(self.keep, row.id, &label)
                && lifecycle::has_lifecycle(obj.class())
                && let Ok(updated) = lifecycle::transition(obj, target, Some(reason))
            {
                let from = lifecycle::state_name(lifecycle::state(obj));
                let detail = format!(
                    "{from} -> {} on restore: {reason}",
                    lifecycle::state_name(target)
                );
                new_row = Some(self.token.to_row(
                    row.id,
                    &updated,
                    Some((self.backup_mk, self.backup_epoch)),
                )?);
                changes.push((row.id, updated.clone(), detail));
                restored = Some(updated);
            }
            // A generation above any the live token reached: a process
            // caching the live row never takes the restored one for it.
            let generation =
                live_row.map_or(row.generation, |l| l.generation.max(row.generation)) + 1;
            let mut out = new_row.unwrap_or_else(|| row.clone());
            out.generation = generation;
            amended.push(out);
            report.push(self.loss(
                row.id,
                change,
                old.as_ref(),
                now.as_ref(),
                Some(restored.as_ref()),
                live_row.map(|_| ()),
            ));
        }
        report.sort_by(|a, b| (a.change, &a.label, &a.id).cmp(&(b.change, &b.label, &b.id)));
        Ok((report, amended, changes))
    }

    /// One report line. `backup`: the object in the backup (None: created
    /// since); `restored`: Some(state after restore) for backup objects.
    fn loss(
        &self,
        id: i64,
        change: &'static str,
        shown: Option<&Object>,
        live: Option<&Object>,
        restored: Option<Option<&Object>>,
        in_live: Option<()>,
    ) -> ObjectLoss {
        let ev = self.events.get(&id);
        let (backup_state, live_state, restored_state) = match restored {
            None => (None, name(state_of(shown)), None),
            Some(r) => (
                name(state_of(shown)),
                in_live.and(name(state_of(live))),
                name(state_of(r)).or_else(|| Some("-".into())),
            ),
        };
        ObjectLoss {
            id: id.to_string(),
            change,
            class: shown
                .map(|o| crate::mechanism::names::class_name(o.class()))
                .unwrap_or_else(|| "unreadable".into()),
            label: label_of(shown),
            backup_state,
            live_state,
            restored_state,
            last_event: ev.map(|e| e.1.clone()),
            last_seq: ev.map(|e| e.0),
        }
    }
}
