//! The token administrator's commands: `audit` (in audit_cmd.rs), `backup`,
//! `master-key` and `policy`. They are flattened into the top-level
//! command line from this one enum.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use cryptoki_sys::{CK_SLOT_ID, CKF_USER_PIN_INITIALIZED};
use keyward::config::Config;
use keyward::store::{BackupError, BackupInfo};
use serde::Serialize;

use crate::Ctx;
use crate::audit_cmd::{self, AuditCmd};
use crate::backup_shares;
use crate::client::Client;
use crate::fail::{CliError, CliResult, EXIT_FAILURE, EXIT_INTEGRITY, code_of};
use crate::output::{print_json, progress, rfc3339};
use crate::pins::Secret;
use crate::token_cmd::confirm;

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Show, verify and export the audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The auditor: a passphrase that verifies the audit trail and does
    /// nothing else (set and removed by the SO).
    #[command(subcommand)]
    Auditor(crate::auditor_cmd::AuditorCmd),
    /// Encrypted backups of the token (passphrase: KEYWARD_BACKUP_PASSPHRASE,
    /// --pin-fd or a prompt; or split among custodians: --shares/--share).
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Re-seal every object under a new master key.
    #[command(subcommand)]
    MasterKey(MasterKeyCmd),
    /// The key policy in force.
    #[command(subcommand)]
    Policy(PolicyCmd),
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Write an encrypted, authenticated snapshot of the token to FILE
    /// (the passphrase is asked twice on a terminal).
    Create {
        /// The backup file to write (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Seal the backup under a random key split into N shares, one
        /// text file per custodian (FILE.share-I-of-N); no passphrase.
        #[arg(long, value_name = "N", requires = "threshold")]
        shares: Option<u8>,
        /// How many of the shares open the backup (2 ≤ M ≤ N ≤ 16).
        #[arg(long, value_name = "M")]
        threshold: Option<u8>,
        /// Protect each share with its custodian's own passphrase
        /// (KEYWARD_SHARE_PASSPHRASE_<I>, --pin-fd lines in share order,
        /// or prompts).
        #[arg(long)]
        share_passphrases: bool,
    },
    /// Check that FILE decrypts to a healthy token; writes nothing.
    Verify {
        /// The backup file.
        file: PathBuf,
        /// A share file of a split backup; repeat for as many as its
        /// threshold (protected shares ask their custodian's passphrase).
        #[arg(long = "share", value_name = "SHARE")]
        shares: Vec<PathBuf>,
    },
    /// Replace the slot's token with the one in FILE. Over an existing
    /// token it needs the SO PIN of that token (KEYWARD_SO_PIN; the
    /// backup's own, if it differs, in KEYWARD_BACKUP_SO_PIN), shows what
    /// the restore loses, and asks for the token label to be typed back
    /// (or --yes). Keys compromised or destroyed since the backup come
    /// back compromised or deactivated (docs/LIFECYCLE.md).
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Restore even while other processes have the token open (they
        /// are logged out and see the restored token on their next call).
        #[arg(long)]
        force: bool,
        /// A key (object id or label) that comes back in its backup state
        /// even though it was compromised or destroyed since; repeatable.
        #[arg(long = "keep-backup-state", value_name = "KEY")]
        keep: Vec<String>,
        /// Restore into DIR instead of the configured store directory.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        /// A share file of a split backup; repeat for as many as its
        /// threshold (protected shares ask their custodian's passphrase).
        #[arg(long = "share", value_name = "SHARE")]
        shares: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MasterKeyCmd {
    /// Generate a new master key and re-seal every object with it, 64
    /// objects per transaction; running applications stay logged in and
    /// follow the new key. Resumes an interrupted rotation. Needs the SO
    /// PIN and, if set, the user PIN (KEYWARD_SO_PIN, KEYWARD_PIN;
    /// --pin-fd lines: SO PIN, user PIN).
    Rotate {
        /// Keep no way from the old key to the new one: every logged-in
        /// application must log in again. Use after a suspected compromise
        /// of the old master key or of a PIN.
        #[arg(long)]
        logout_all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Print the effective policy (defaults and the config's [policy]).
    Show,
}

pub fn run(ctx: &mut Ctx, cmd: AdminCmd) -> CliResult<()> {
    match cmd {
        AdminCmd::Audit(cmd) => audit_cmd::run(ctx, cmd),
        AdminCmd::Auditor(cmd) => crate::auditor_cmd::run(ctx, cmd),
        AdminCmd::Backup(BackupCmd::Create {
            out,
            shares,
            threshold,
            share_passphrases,
        }) => match backup_shares::split_options(shares, threshold, share_passphrases)? {
            Some((m, n)) => backup_shares::create(ctx, &out, m, n, share_passphrases),
            None => backup_create(ctx, &out),
        },
        AdminCmd::Backup(BackupCmd::Verify { file, shares }) => {
            backup_shares::verify(ctx, &file, &shares)
        }
        AdminCmd::Backup(BackupCmd::Restore {
            file,
            force,
            keep,
            store,
            shares,
        }) => backup_restore(ctx, &file, force, &keep, store, &shares),
        AdminCmd::MasterKey(MasterKeyCmd::Rotate { logout_all }) => {
            master_key_rotate(ctx, logout_all)
        }
        AdminCmd::Policy(PolicyCmd::Show) => policy_show(ctx),
    }
}

/// A backup's header as printed.
#[derive(Debug, Serialize)]
struct BackupShown {
    file: String,
    label: String,
    serial: String,
    objects: u64,
    created: Option<String>,
    bytes: u64,
}

pub(crate) fn print_backup(
    json: bool,
    verb: &str,
    file: &Path,
    info: &BackupInfo,
) -> CliResult<()> {
    let shown = BackupShown {
        file: file.display().to_string(),
        label: info.label.clone(),
        serial: info.serial.clone(),
        objects: info.objects,
        created: rfc3339(info.created),
        bytes: info.bytes,
    };
    if json {
        return print_json(&shown);
    }
    println!("{verb} {}", shown.file);
    println!("  label    {}", shown.label);
    println!("  serial   {}", shown.serial);
    println!("  objects  {}", shown.objects);
    println!(
        "  created  {}",
        shown.created.as_deref().unwrap_or("unknown")
    );
    println!("  bytes    {}", shown.bytes);
    Ok(())
}

/// A backup failure as the CLI reports it: a damaged file or a wrong
/// passphrase is an integrity failure (exit 5).
pub(crate) fn backup_error(context: &str, e: BackupError) -> CliError {
    let code = match &e {
        BackupError::NotABackup
        | BackupError::WrongPassphraseOrDamaged
        | BackupError::NotAToken(_) => EXIT_INTEGRITY,
        BackupError::Store(err) => code_of(*err),
        BackupError::BackupSoPin => crate::fail::EXIT_PIN,
        BackupError::Share {
            problem: keyward::store::backup::ShareProblem::Duplicate { .. },
            ..
        }
        | BackupError::TooFewShares { .. }
        | BackupError::SplitBackup { .. }
        | BackupError::NotSplit => crate::fail::EXIT_USAGE,
        BackupError::Share { .. } | BackupError::SharesDoNotOpen => EXIT_INTEGRITY,
        BackupError::UnsupportedVersion(_)
        | BackupError::Exists(_)
        | BackupError::Io(_)
        | BackupError::Changed => EXIT_FAILURE,
    };
    CliError::new(code, format!("{context}: {e}"))
}

fn backup_create(ctx: &mut Ctx, out: &Path) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let passphrase = ctx.secrets.get(Secret::NewBackupPassphrase)?;
    let bar = progress(0, "backup");
    let info = client.lib().backup_token(
        client.slot(),
        out,
        passphrase.as_bytes(),
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let info = info.map_err(|e| backup_error("backup failed", e))?;
    print_backup(ctx.json, "backed up the token to", out, &info)
}

/// The slot a restore targets: `--slot` if configured, else the first.
/// (No `Library` is opened: it would create or hold the token file.)
fn config_slot(config: &Config, slot: Option<CK_SLOT_ID>) -> CliResult<CK_SLOT_ID> {
    let ids: Vec<CK_SLOT_ID> = config.slots.iter().map(|s| s.id).collect();
    match slot {
        Some(s) if ids.contains(&s) => Ok(s),
        Some(s) => Err(CliError::usage(format!("no slot {s} is configured"))),
        None => ids
            .first()
            .copied()
            .ok_or_else(|| CliError::failure("no slot is configured")),
    }
}

fn backup_restore(
    ctx: &mut Ctx,
    file: &Path,
    force: bool,
    keep: &[String],
    store: Option<PathBuf>,
    shares: &[PathBuf],
) -> CliResult<()> {
    let mut config =
        Config::from_env().map_err(|e| CliError::ck("cannot load the configuration", "", e))?;
    let to_dir = store.is_some();
    if let Some(dir) = store {
        config.store_dir = dir;
    }
    let slot = config_slot(&config, ctx.slot)?;
    crate::restore_cmd::shared_slot_target(&mut config, slot, to_dir)?;
    let dest = config.token_path(slot);
    if dest.exists() {
        return crate::restore_cmd::over_existing(ctx, config, slot, file, force, keep, shares);
    }
    let unlocked = backup_shares::unlock(ctx, "restore failed", file, shares)?;
    let info = keyward::token::restore_backup_with(slot, file, unlocked.unlock(), &dest, false)
        .map_err(|e| backup_error("restore failed", e))?;
    print_backup(
        ctx.json,
        &format!("restored slot {slot} ({}) from", dest.display()),
        file,
        &info,
    )
}

fn master_key_rotate(ctx: &mut Ctx, logout_all: bool) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let info = client
        .lib()
        .token_info(slot)
        .map_err(|e| CliError::ck(&format!("cannot read slot {slot}"), "", e))?;
    confirm(
        ctx.yes,
        &format!("re-seal every object of the token in slot {slot} under a new master key?"),
    )?;
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let user_pin = if info.flags & CKF_USER_PIN_INITIALIZED != 0 {
        Some(ctx.secrets.get(Secret::UserPin)?)
    } else {
        None
    };
    let bar = progress(0, "re-sealing");
    let options = keyward::store::rekey::RotateOptions {
        logout_all,
        ..Default::default()
    };
    let done = client.lib().rotate_master_key_with(
        slot,
        so_pin.as_bytes(),
        user_pin.as_ref().map(|p| p.as_bytes()),
        options,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let n = done.map_err(|e| CliError::ck("master-key rotation failed", "SO or user", e))?;
    if ctx.json {
        return print_json(&serde_json::json!({ "slot": slot, "resealed": n }));
    }
    println!("master key rotated: {n} objects re-sealed");
    Ok(())
}

fn policy_show(ctx: &mut Ctx) -> CliResult<()> {
    // The configuration alone: showing the policy opens no store, so it
    // never creates one.
    let config =
        Config::from_env().map_err(|e| CliError::ck("cannot load the configuration", "", e))?;
    let policy = &config.policy;
    if ctx.json {
        return print_json(policy);
    }
    let value = serde_json::to_value(policy)
        .map_err(|e| CliError::failure(format!("cannot write the policy: {e}")))?;
    let Some(fields) = value.as_object() else {
        return Err(CliError::failure("the policy is not a table"));
    };
    for (name, v) in fields {
        let text = match v {
            serde_json::Value::Null => "any".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("{name:<24} {text}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward::error::Error;

    #[test]
    fn backup_errors_map_to_exit_codes() {
        let e = backup_error("restore failed", BackupError::WrongPassphraseOrDamaged);
        assert_eq!(e.code, EXIT_INTEGRITY);
        assert!(
            e.message
                .starts_with("restore failed: wrong backup passphrase")
        );
        assert_eq!(
            backup_error("x", BackupError::Store(Error::PinIncorrect)).code,
            crate::fail::EXIT_PIN
        );
        assert_eq!(
            backup_error("x", BackupError::Exists(PathBuf::from("/t"))).code,
            EXIT_FAILURE
        );
    }

    #[test]
    fn restore_slot_comes_from_the_config() {
        let config = Config::build(
            Some("[[slot]]\nid = 4\n[[slot]]\nid = 9\n"),
            Some(PathBuf::from("/tmp/none")),
        )
        .unwrap();
        assert_eq!(config_slot(&config, None).unwrap(), 4);
        assert_eq!(config_slot(&config, Some(9)).unwrap(), 9);
        assert_eq!(config_slot(&config, Some(5)).unwrap_err().code, 2);
    }
}
