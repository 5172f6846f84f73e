//! `keyward backup restore` over an existing token: refuses while other
//! processes have the token open (unless --force), checks the SO PIN of
//! the token being replaced, shows what the restore loses (a table or
//! --json), asks for the token label to be typed back (or --yes), and
//! restores in one transaction that also records the rollback.

use std::io::IsTerminal;
use std::path::Path;

use cryptoki_sys::CK_SLOT_ID;
use keyward::api::Library;
use keyward::config::Config;
use keyward::store::BackupError;
use keyward::token::RestorePlan;
use serde::Serialize;

use crate::Ctx;
use crate::fail::{CliError, CliResult, EXIT_FAILURE, EXIT_PIN};
use crate::output::{print_json, print_table, rfc3339, table};
use crate::pins::Secret;

/// The rule a refusal names.
const CONFIRM_RULE: &str = "a restore over an existing token rolls it back; confirm by typing the \
     token label at a terminal, or pass --yes";
const IN_USE_RULE: &str = "a restore replaces the token under every process using it; stop them, \
     or pass --force";

/// The loss report and outcome as printed with --json.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    slot: CK_SLOT_ID,
    token_label: String,
    backup_file: String,
    backup_created: Option<String>,
    objects: &'a [keyward::token::ObjectLoss],
    audit: AuditLoss,
    same_history: bool,
    restored: bool,
}

#[derive(Debug, Serialize)]
struct AuditLoss {
    backup_last_seq: i64,
    live_head_seq: i64,
    live_head_hash: String,
    records_lost: i64,
    /// First and last seq of the live records the restored trail lacks.
    lost_range: Option<[i64; 2]>,
}

fn backup_error(e: BackupError) -> CliError {
    let code = match &e {
        BackupError::BackupSoPin => EXIT_PIN,
        BackupError::Store(err) => {
            return CliError::ck("restore refused", "SO", *err);
        }
        BackupError::Changed => EXIT_FAILURE,
        _ => return crate::admin_cmd::backup_error("restore failed", e),
    };
    CliError::new(code, format!("restore failed: {e}"))
}

fn shown<'a>(slot: CK_SLOT_ID, label: &str, plan: &'a RestorePlan, restored: bool) -> Shown<'a> {
    let lost = plan.audit_records_lost;
    Shown {
        slot,
        token_label: label.to_string(),
        backup_file: plan.file.display().to_string(),
        backup_created: rfc3339(plan.backup.created),
        objects: &plan.objects,
        audit: AuditLoss {
            backup_last_seq: plan.backup_audit_seq,
            live_head_seq: plan.live_audit_seq,
            live_head_hash: plan.live_head_hash.clone(),
            records_lost: lost,
            lost_range: (lost > 0).then(|| [plan.backup_audit_seq + 1, plan.live_audit_seq]),
        },
        same_history: plan.same_history,
        restored,
    }
}

fn print_report(s: &Shown<'_>) {
    println!(
        "restoring {} (taken {}) over the token {:?} in slot {} loses:",
        s.backup_file,
        s.backup_created.as_deref().unwrap_or("at an unknown time"),
        s.token_label,
        s.slot
    );
    if s.objects.is_empty() {
        println!("  no object was created, destroyed or changed since the backup");
    } else {
        let mut t = table(&[
            "change",
            "id",
            "label",
            "class",
            "backup",
            "live",
            "after restore",
            "last event",
        ]);
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        for o in s.objects {
            let last = match (&o.last_event, o.last_seq) {
                (Some(e), Some(seq)) => format!("{e} (record {seq})"),
                _ => "-".into(),
            };
            t.add_row(vec![
                o.change.to_string(),
                o.id.clone(),
                o.label.clone(),
                o.class.clone(),
                dash(&o.backup_state),
                dash(&o.live_state),
                dash(&o.restored_state),
                last,
            ]);
        }
        print_table(&t);
    }
    match s.audit.lost_range {
        Some([a, b]) => println!(
            "audit records lost: {} (records {a}..{b}; live head {b}, hash {}); \
             export them first with `keyward audit export`",
            s.audit.records_lost, s.audit.live_head_hash
        ),
        None => println!("audit records lost: none"),
    }
    if !s.same_history {
        println!("warning: the backup is not from this token's audit history");
    }
}

/// Typing the label back (or --yes) confirms.
fn confirm_label(yes: bool, label: &str) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing without confirmation (stdin is not a terminal): {CONFIRM_RULE}"
        )));
    }
    eprint!("type the token label ({label:?}) to restore over it: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure(format!("cannot read the answer: {e}")))?;
    if answer.trim_end_matches(['\r', '\n']) != label {
        return Err(CliError::failure(format!(
            "cancelled: the label typed is not the token's; {CONFIRM_RULE}"
        )));
    }
    Ok(())
}

/// The restore over an existing token file of `slot` under `config`.
pub fn over_existing(
    ctx: &mut Ctx,
    config: Config,
    slot: CK_SLOT_ID,
    file: &Path,
    force: bool,
    keep: &[String],
    shares: &[std::path::PathBuf],
) -> CliResult<()> {
    let lib =
        Library::new(config).map_err(|e| CliError::ck("cannot open the token store", "", e))?;
    let in_use = lib
        .token_in_use(slot)
        .map_err(|e| CliError::ck("cannot tell whether the token is in use", "", e))?;
    if in_use && !force {
        return Err(CliError::failure(format!(
            "slot {slot}'s token is open in another process; {IN_USE_RULE}"
        )));
    }
    let label = lib
        .token_info(slot)
        .map(|i| {
            String::from_utf8_lossy(&i.label)
                .trim_end_matches([' ', '\0'])
                .to_string()
        })
        .map_err(|e| CliError::ck(&format!("cannot read slot {slot}"), "", e))?;
    let unlocked = crate::backup_shares::unlock(ctx, "restore failed", file, shares)?;
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let backup_so_pin = std::env::var("KEYWARD_BACKUP_SO_PIN").ok();
    let plan = lib
        .plan_restore_with(
            slot,
            file,
            unlocked.unlock(),
            so_pin.as_bytes(),
            backup_so_pin.as_deref().map(str::as_bytes),
            keep,
        )
        .map_err(backup_error)?;
    if !ctx.json {
        print_report(&shown(slot, &label, &plan, false));
    }
    if let Err(e) = confirm_label(ctx.yes, &label) {
        if ctx.json {
            print_json(&shown(slot, &label, &plan, false))?;
        }
        return Err(e);
    }
    let report = serde_json::to_value(shown(slot, &label, &plan, true))
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    lib.apply_restore(slot, plan).map_err(backup_error)?;
    let _ = lib.release_token(slot);
    if ctx.json {
        return print_json(&report);
    }
    println!("restored slot {slot} from {}", file.display());
    Ok(())
}

/// A slot whose token is in PostgreSQL: a restore replaces only SQLite
/// files, so without `--store DIR` it is refused with the way round it;
/// with it, the slot is restored as a file in DIR (its shared store set
/// aside for this command).
pub fn shared_slot_target(config: &mut Config, slot: CK_SLOT_ID, to_dir: bool) -> CliResult<()> {
    let Some(entry) = config.slots.iter_mut().find(|s| s.id == slot) else {
        return Ok(());
    };
    let Some(shared) = &entry.store else {
        return Ok(());
    };
    if to_dir {
        entry.store = None;
        return Ok(());
    }
    Err(CliError::failure(format!(
        "slot {slot} keeps its token in {} (schema {}): a restore over a PostgreSQL token is not \
         supported; restore it into a directory (`keyward backup restore --store DIR FILE`) \
         and `keyward token migrate --to postgres://…` it from there",
        shared.url, shared.schema
    )))
}
