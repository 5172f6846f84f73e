//! Backups split among custodians: `backup create --shares N --threshold
//! M [--share-passphrases]`, and opening a backup for `backup verify` and
//! `backup restore` either with its passphrase or with `--share FILE`
//! (repeatable). Each share is checked (and its custodian's passphrase
//! asked, in the order given) before the key is recombined.

use std::path::{Path, PathBuf};

use keyward::store::BackupError;
use keyward::store::backup::{self, SplitCreated, SplitRequest, Unlock};
use keyward::store::seal_shares::{BackupKey, MAX_SHARES, MIN_THRESHOLD, split_allowed};
use serde_json::json;
use zeroize::Zeroizing;

use crate::Ctx;
use crate::admin_cmd::{backup_error, print_backup};
use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::output::{print_json, progress, rfc3339};
use crate::pins::Secret;

/// The rule a bad split names.
fn split_rule() -> String {
    format!(
        "a backup split needs {MIN_THRESHOLD} ≤ --threshold ≤ --shares ≤ {MAX_SHARES} \
         (one share alone must never open it)"
    )
}

/// Checks the split options of `backup create`: `None` for a passphrase
/// backup, else (threshold, count).
pub fn split_options(
    shares: Option<u8>,
    threshold: Option<u8>,
    share_passphrases: bool,
) -> CliResult<Option<(u8, u8)>> {
    match (shares, threshold) {
        (None, None) if share_passphrases => Err(CliError::usage(
            "--share-passphrases protects the shares of a split backup: it needs --shares N \
             --threshold M",
        )),
        (None, None) => Ok(None),
        (Some(n), Some(m)) if split_allowed(m, n) => Ok(Some((m, n))),
        (Some(n), Some(m)) => Err(CliError::usage(format!(
            "--threshold {m} --shares {n}: {}",
            split_rule()
        ))),
        _ => Err(CliError::usage(format!(
            "--shares N and --threshold M go together: {}",
            split_rule()
        ))),
    }
}

/// `backup create --shares N --threshold M`.
pub fn create(
    ctx: &mut Ctx,
    out: &Path,
    threshold: u8,
    count: u8,
    share_passphrases: bool,
) -> CliResult<()> {
    // A passphrase set for backups would not protect this one: say so
    // rather than let the operator believe it does.
    if std::env::var_os(Secret::NewBackupPassphrase.env_var()).is_some() {
        return Err(CliError::usage(format!(
            "--shares seals the backup under a random key split into shares; no backup \
             passphrase is used: unset {} (use --share-passphrases to protect each share)",
            Secret::NewBackupPassphrase.env_var()
        )));
    }
    let client = Client::new(ctx.slot)?;
    let mut passphrases: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    if share_passphrases {
        for index in 1..=count {
            let p = ctx.secrets.share_passphrase(index, true)?;
            passphrases.push(Zeroizing::new(p.as_bytes().to_vec()));
        }
    }
    let req = SplitRequest {
        threshold,
        count,
        passphrases: &passphrases,
        // The configured PIN iteration count.
        iterations: 0,
    };
    let bar = progress(0, "backup");
    let made = client
        .lib()
        .backup_token_split(client.slot(), out, &req, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
    bar.finish_and_clear();
    let made = made.map_err(|e| backup_error("backup failed", e))?;
    print_created(ctx.json, out, &made)
}

fn print_created(json: bool, out: &Path, made: &SplitCreated) -> CliResult<()> {
    let info = &made.info;
    let split = &made.split;
    if json {
        let shares: Vec<_> = made
            .shares
            .iter()
            .map(|s| {
                json!({
                    "index": s.index,
                    "file": s.path.display().to_string(),
                    "protected": s.protected,
                })
            })
            .collect();
        return print_json(&json!({
            "file": out.display().to_string(),
            "label": info.label,
            "serial": info.serial,
            "objects": info.objects,
            "created": rfc3339(info.created),
            "bytes": info.bytes,
            "backup_id": split.id_hex(),
            "threshold": split.threshold,
            "shares": shares,
        }));
    }
    print_backup(false, "backed up the token to", out, info)?;
    println!("  id       {}", split.id_hex());
    println!(
        "split into {} shares; any {} of them open the backup:",
        split.count, split.threshold
    );
    for s in &made.shares {
        let note = if s.protected {
            " (protected by its custodian's passphrase)"
        } else {
            ""
        };
        println!(
            "  share {} of {}  {}{note}",
            s.index,
            split.count,
            s.path.display()
        );
    }
    println!(
        "give each share file to its own custodian and keep no copy here: fewer than {} \
         shares reveal nothing about the key",
        split.threshold
    );
    Ok(())
}

/// What opens a backup on the command line.
pub enum Unlocked {
    Passphrase(Zeroizing<String>),
    Key(BackupKey),
}

impl Unlocked {
    pub fn unlock(&self) -> Unlock<'_> {
        match self {
            Unlocked::Passphrase(p) => Unlock::Passphrase(p.as_bytes()),
            Unlocked::Key(k) => Unlock::Key(k),
        }
    }
}

/// Opens `file` for verify or restore: with shares when it is split
/// (each checked, protected ones unlocked with their custodian's
/// passphrase, then recombined), else with the backup passphrase.
/// `context` starts every error message.
pub fn unlock(
    ctx: &mut Ctx,
    context: &str,
    file: &Path,
    shares: &[PathBuf],
) -> CliResult<Unlocked> {
    let fail = |e| backup_error(context, e);
    let split = match backup::split_of(file) {
        Ok(split) => split,
        Err(e) if !shares.is_empty() => return Err(fail(e)),
        // Without shares, as before: the passphrase is asked, and the
        // open that follows reports the file.
        Err(_) => None,
    };
    match split {
        None if shares.is_empty() => Ok(Unlocked::Passphrase(
            ctx.secrets.get(Secret::BackupPassphrase)?,
        )),
        None => Err(fail(BackupError::NotSplit)),
        Some(split) if shares.is_empty() => Err(fail(BackupError::SplitBackup {
            threshold: split.threshold,
            count: split.count,
        })),
        Some(split) => {
            let mut given = backup::read_shares(&split, shares).map_err(fail)?;
            for share in given.iter_mut().filter(|s| s.needs_passphrase()) {
                let passphrase = ctx.secrets.share_passphrase(share.index(), false)?;
                share.unlock(passphrase.as_bytes()).map_err(fail)?;
            }
            Ok(Unlocked::Key(
                backup::combine_shares(&split, &given).map_err(fail)?,
            ))
        }
    }
}

/// `backup verify FILE` with a passphrase or `--share`s.
pub fn verify(ctx: &mut Ctx, file: &Path, shares: &[PathBuf]) -> CliResult<()> {
    let context = "backup verification failed";
    let unlocked = unlock(ctx, context, file, shares)?;
    let info =
        backup::verify_with(file, unlocked.unlock()).map_err(|e| backup_error(context, e))?;
    print_backup(ctx.json, "backup OK:", file, &info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail::{EXIT_INTEGRITY, EXIT_USAGE};
    use keyward::store::backup::ShareProblem;

    #[test]
    fn split_options_follow_the_rule() {
        assert_eq!(split_options(None, None, false).unwrap(), None);
        assert_eq!(split_options(Some(5), Some(3), true).unwrap(), Some((3, 5)));
        assert_eq!(
            split_options(Some(16), Some(16), false).unwrap(),
            Some((16, 16))
        );
        for (n, m, p) in [
            (Some(5), Some(1), false),
            (Some(5), Some(6), false),
            (Some(17), Some(2), false),
            (None, Some(3), false),
            (Some(3), None, false),
            (None, None, true),
        ] {
            let e = split_options(n, m, p).unwrap_err();
            assert_eq!(e.code, EXIT_USAGE, "{n:?} {m:?} {p}");
        }
    }

    #[test]
    fn share_errors_map_to_exit_codes() {
        let share = |problem| BackupError::Share {
            file: PathBuf::from("/s/1"),
            problem,
        };
        let cases = [
            (
                share(ShareProblem::Duplicate {
                    index: 1,
                    first: PathBuf::from("/s/0"),
                }),
                EXIT_USAGE,
            ),
            (
                share(ShareProblem::Text(
                    keyward::store::backup::TextProblem::Checksum,
                )),
                EXIT_INTEGRITY,
            ),
            (
                share(ShareProblem::WrongPassphrase { index: 2 }),
                EXIT_INTEGRITY,
            ),
            (
                BackupError::TooFewShares {
                    given: 2,
                    threshold: 3,
                    count: 5,
                },
                EXIT_USAGE,
            ),
            (BackupError::SharesDoNotOpen, EXIT_INTEGRITY),
            (
                BackupError::SplitBackup {
                    threshold: 3,
                    count: 5,
                },
                EXIT_USAGE,
            ),
            (BackupError::NotSplit, EXIT_USAGE),
        ];
        for (e, code) in cases {
            let shown = e.to_string();
            let err = backup_error("x", e);
            assert_eq!(err.code, code, "{shown}");
        }
        let e = backup_error("x", share(ShareProblem::WrongPassphrase { index: 2 }));
        assert!(
            e.message.starts_with("x: share /s/1: does not open"),
            "{}",
            e.message
        );
    }
}
