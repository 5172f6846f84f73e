//! `keyward auditor`: the auditor role (issue 15). The SO sets or removes
//! the auditor, whose passphrase opens the audit key and nothing else; the
//! auditor runs `keyward audit verify --auditor` (chain and MACs, no
//! login), `audit show/export` and `keys list --public`, which need no
//! PIN, and can do nothing else.

use clap::Subcommand;
use keyward::audit::{Verdict, format_ms};
use keyward::error::Error;
use keyward::store::seal::auditor::{MAX_NAME_LEN, MIN_PASSPHRASE_LEN, name_ok};
use serde::Serialize;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult, EXIT_FAILURE, EXIT_PIN};
use crate::output::{done, print_json};
use crate::pins::Secret;

#[derive(Debug, Subcommand)]
pub enum AuditorCmd {
    /// Make NAME the token's auditor, replacing any auditor. Needs the SO
    /// PIN (KEYWARD_SO_PIN); the auditor's passphrase (at least 8
    /// characters, not a PIN of the token) comes from
    /// KEYWARD_NEW_AUDITOR_PASSPHRASE or is asked twice on a terminal.
    /// --pin-fd lines: the SO PIN, then the passphrase. Audited.
    Set {
        /// The auditor's name (1 to 64 characters), shown and recorded.
        #[arg(long)]
        name: String,
    },
    /// Remove the auditor. Needs the SO PIN (KEYWARD_SO_PIN). Audited.
    Remove,
    /// Show the auditor's name and when it was set (no PIN; no secret).
    Show,
}

pub fn run(ctx: &mut Ctx, cmd: AuditorCmd) -> CliResult<()> {
    match cmd {
        AuditorCmd::Set { name } => set(ctx, &name),
        AuditorCmd::Remove => remove(ctx),
        AuditorCmd::Show => show(ctx),
    }
}

fn set(ctx: &mut Ctx, name: &str) -> CliResult<()> {
    if !name_ok(name) {
        return Err(CliError::usage(format!(
            "the auditor name must have 1 to {MAX_NAME_LEN} characters and no control characters"
        )));
    }
    let client = Client::new(ctx.slot)?;
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let passphrase = ctx.secrets.get(Secret::NewAuditorPassphrase)?;
    if passphrase.chars().count() < MIN_PASSPHRASE_LEN {
        return Err(too_short());
    }
    client
        .lib()
        .set_auditor(
            client.slot(),
            so_pin.as_bytes(),
            name,
            passphrase.as_bytes(),
        )
        .map_err(|e| match e {
            Error::PinInvalid => CliError::new(
                EXIT_PIN,
                "setting the auditor failed: the auditor passphrase must differ from the \
                 token's SO and user PINs (CKR_PIN_INVALID)",
            ),
            Error::PinLenRange => too_short(),
            _ => client.pin_error("setting the auditor failed", "SO", e),
        })?;
    done(
        ctx.json,
        &format!("auditor {name} set"),
        serde_json::json!({ "name": name }),
    )
}

fn too_short() -> CliError {
    CliError::new(
        EXIT_PIN,
        format!("the auditor passphrase must have at least {MIN_PASSPHRASE_LEN} characters"),
    )
}

fn remove(ctx: &mut Ctx) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let removed = client
        .lib()
        .remove_auditor(client.slot(), so_pin.as_bytes())
        .map_err(|e| client.pin_error("removing the auditor failed", "SO", e))?;
    let message = if removed {
        "auditor removed"
    } else {
        "no auditor was set"
    };
    done(ctx.json, message, serde_json::json!({ "removed": removed }))
}

/// `auditor show` as printed: no secret, nothing but who and when.
#[derive(Debug, Serialize)]
struct Shown {
    name: Option<String>,
    set: Option<String>,
}

fn show(ctx: &mut Ctx) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let info = client
        .lib()
        .auditor(client.slot())
        .map_err(|e| CliError::ck("cannot read the auditor", "", e))?;
    let shown = Shown {
        name: info.as_ref().map(|i| i.name.clone()),
        set: info.as_ref().and_then(|i| i.set_ms).map(format_ms),
    };
    if ctx.json {
        return print_json(&shown);
    }
    match shown.name {
        None => println!("no auditor is set (keyward auditor set --name NAME)"),
        Some(name) => {
            println!("auditor  {name}");
            println!("set      {}", shown.set.as_deref().unwrap_or("unknown"));
        }
    }
    Ok(())
}

/// The verdict of `audit verify --auditor`: the auditor's passphrase
/// (KEYWARD_AUDITOR_PASSPHRASE, --pin-fd, a credential or a prompt) opens
/// the audit key, so MACs are checked with no login.
pub fn verdict(ctx: &mut Ctx) -> CliResult<Verdict> {
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let set = client
        .lib()
        .auditor(slot)
        .map_err(|e| CliError::ck("cannot read the auditor", "", e))?;
    if set.is_none() {
        return Err(no_auditor());
    }
    let passphrase = ctx.secrets.get(Secret::AuditorPassphrase)?;
    client
        .lib()
        .audit_verify_as_auditor(slot, passphrase.as_bytes())
        .map_err(|e| match e {
            Error::PinIncorrect => CliError::new(
                EXIT_PIN,
                "audit verification as the auditor failed: wrong auditor passphrase \
                 (CKR_PIN_INCORRECT); the failed check is recorded in the audit trail",
            ),
            Error::UserTypeInvalid => no_auditor(),
            Error::PinExpired => CliError::new(
                EXIT_PIN,
                "audit verification as the auditor failed: the auditor was set before the \
                 last token reset, whose new audit key the auditor's passphrase does not \
                 open; the SO must set the auditor again (keyward auditor set) (CKR_PIN_EXPIRED)",
            ),
            _ => CliError::ck("audit verification as the auditor failed", "", e),
        })
}

fn no_auditor() -> CliError {
    CliError::new(
        EXIT_FAILURE,
        "no auditor is set on this token (the SO sets one with `keyward auditor set`)",
    )
}
