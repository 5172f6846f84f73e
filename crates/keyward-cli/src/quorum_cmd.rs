//! Separation of duties on the command line: officers and approval rules
//! (`officer`, `quorum`; the SO), requests (`request`, `requests`; anyone)
//! and the officers' signed decisions (`approve`, `deny`; each officer with
//! their own passphrase). docs/SEPARATION-OF-DUTIES.md tells the story.

use std::path::Path;

use clap::Subcommand;
use cryptoki_sys::CKU_SO;
use keyward::audit::{format_ms, now_ms};
use keyward::error::Error;
use keyward::quorum::{Config, DEFAULT_RULE, Decision, OPS, Op, Request, Tally};
use keyward::token::quorum::NewRequest;
use serde::Serialize;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::keyinfo::select_one;
use crate::output::{done, print_json, print_table, table};
use crate::pins::Secret;

#[derive(Debug, Subcommand)]
pub enum OfficerCmd {
    /// Add an officer (the SO: KEYWARD_SO_PIN). The officer types their
    /// own passphrase (at least 8 characters; KEYWARD_NEW_OFFICER_PASSPHRASE,
    /// or asked twice); only the public half of the key it derives is
    /// stored. Once a rule exists this needs an approved
    /// `keyward request policy officer-add:NAME`.
    Add {
        /// The officer's name: letters, digits, '-', '_', '.', '@'.
        name: String,
    },
    /// Remove an officer (the SO; an approved
    /// `keyward request policy officer-remove:NAME` once a rule exists).
    /// Refused while a rule would need more officers than remain.
    Remove {
        /// The officer's name.
        name: String,
    },
    /// List the officers (no PIN needed).
    List,
}

#[derive(Debug, Subcommand)]
pub enum QuorumCmd {
    /// The officers and the approval rules in force (no PIN needed; with
    /// the SO PIN in KEYWARD_SO_PIN the rules' MAC is checked too).
    Show,
    /// Require approvals: CLASS=M, one or more (set together, so one
    /// approval covers them all; CLASS=none removes that rule). CLASS: destroy, export, modify, restore,
    /// rotate-master-key, policy, init, unlock, or default (what
    /// quorum-marked keys need when their class has no rule); M from 1 to
    /// the number of officers. The SO; once any rule exists, an approved
    /// `keyward request policy rule:CLASS=M[,CLASS=M…]` too (the same
    /// pairs in the same order).
    Set {
        /// CLASS=M pairs (CLASS=none removes a rule).
        #[arg(required = true, value_name = "CLASS=M", value_parser = parse_rule)]
        rules: Vec<(String, Option<u32>)>,
    },
    /// Remove the rules of CLASS… (the SO; an approved
    /// `keyward request policy rule:CLASS=none[,…]` once a rule exists).
    Unset {
        /// The classes whose rules go.
        #[arg(required = true)]
        classes: Vec<String>,
    },
}

/// One CLASS=M (or CLASS=none) argument.
fn parse_rule(text: &str) -> Result<(String, Option<u32>), String> {
    let (class, m) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}': write CLASS=M, e.g. destroy=2"))?;
    check_class(class)?;
    if m == "none" {
        return Ok((class.to_string(), None));
    }
    let m: u32 = m
        .parse()
        .map_err(|_| format!("'{text}': M is a number of approvals"))?;
    if m == 0 {
        return Err(format!(
            "'{text}': a rule needs at least 1 approval (use `quorum unset {class}`)"
        ));
    }
    Ok((class.to_string(), Some(m)))
}

fn check_class(class: &str) -> Result<(), String> {
    if class == DEFAULT_RULE || Op::parse(class).is_some() {
        return Ok(());
    }
    Err(format!(
        "unknown operation class '{class}' (one of: {}, {DEFAULT_RULE})",
        OPS.map(Op::name).join(", ")
    ))
}

pub fn officer(ctx: &mut Ctx, cmd: OfficerCmd) -> CliResult<()> {
    match cmd {
        OfficerCmd::Add { name } => {
            let mut client = so_client(ctx)?;
            let pass = ctx.secrets.get(Secret::NewOfficerPassphrase)?;
            let config = client
                .lib()
                .add_officer(client.slot(), &name, pass.as_bytes())
                .map_err(|e| quorum_error(&format!("cannot add officer {name}"), e))?;
            logout(&mut client);
            done(
                ctx.json,
                &format!(
                    "officer {name} added; the token has {} officer(s)",
                    config.officers.len()
                ),
                serde_json::json!({ "officer": name, "officers": config.officers.len() }),
            )
        }
        OfficerCmd::Remove { name } => {
            let mut client = so_client(ctx)?;
            let config = client
                .lib()
                .remove_officer(client.slot(), &name)
                .map_err(|e| quorum_error(&format!("cannot remove officer {name}"), e))?;
            logout(&mut client);
            done(
                ctx.json,
                &format!(
                    "officer {name} removed; the token has {} officer(s)",
                    config.officers.len()
                ),
                serde_json::json!({ "officer": name, "officers": config.officers.len() }),
            )
        }
        OfficerCmd::List => {
            let (config, _) = view(ctx)?;
            if ctx.json {
                let names: Vec<_> = config
                    .officers
                    .iter()
                    .map(|o| serde_json::json!({ "name": o.name, "added": format_ms(o.added), "key": o.public }))
                    .collect();
                return print_json(&names);
            }
            let mut t = table(&["OFFICER", "ADDED", "KEY"]);
            for o in &config.officers {
                t.add_row(vec![
                    o.name.clone(),
                    format_ms(o.added),
                    o.public.get(..16).unwrap_or_default().to_string(),
                ]);
            }
            print_table(&t);
            Ok(())
        }
    }
}

pub fn quorum(ctx: &mut Ctx, cmd: QuorumCmd) -> CliResult<()> {
    match cmd {
        QuorumCmd::Show => show(ctx),
        QuorumCmd::Set { rules } => set_rules(ctx, rules),
        QuorumCmd::Unset { classes } => {
            for class in &classes {
                check_class(class).map_err(CliError::usage)?;
            }
            set_rules(ctx, classes.into_iter().map(|c| (c, None)).collect())
        }
    }
}

fn set_rules(ctx: &mut Ctx, changes: Vec<(String, Option<u32>)>) -> CliResult<()> {
    let mut client = so_client(ctx)?;
    client
        .lib()
        .set_quorum_rules(client.slot(), &changes)
        .map_err(|e| quorum_error("cannot change the rules", e))?;
    logout(&mut client);
    let lines: Vec<String> = changes
        .iter()
        .map(|(class, m)| match m {
            Some(m) => format!("{class} now needs {m} officer approval(s)"),
            None => format!("{class} needs no officer approval now"),
        })
        .collect();
    let rules: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|(c, m)| (c.clone(), serde_json::json!(m)))
        .collect();
    done(
        ctx.json,
        &lines.join("\n"),
        serde_json::json!({ "rules": rules }),
    )
}

#[derive(Serialize)]
struct Shown {
    verified: bool,
    officers: Vec<String>,
    rules: std::collections::BTreeMap<String, u32>,
}

fn show(ctx: &mut Ctx) -> CliResult<()> {
    let (config, verified) = view(ctx)?;
    let shown = Shown {
        verified,
        officers: config.officers.iter().map(|o| o.name.clone()).collect(),
        rules: config.rules.clone(),
    };
    if ctx.json {
        return print_json(&shown);
    }
    if shown.officers.is_empty() {
        println!("officers  none");
    } else {
        println!("officers  {}", shown.officers.join(", "));
    }
    if shown.rules.is_empty() {
        println!("rules     none: no operation needs an approval (quorum-marked keys need 1)");
    }
    for (class, m) in &shown.rules {
        println!("rule      {class} needs {m} of {}", shown.officers.len());
    }
    if !verified && !shown.officers.is_empty() {
        println!("(read without a PIN: the rules' MAC was not checked)");
    }
    Ok(())
}

/// The roster and rules; checked with the SO PIN when one is given in
/// the environment (never prompted for: showing needs no PIN).
fn view(ctx: &mut Ctx) -> CliResult<(Config, bool)> {
    let mut client = Client::new(ctx.slot)?;
    if std::env::var_os(Secret::SoPin.env_var()).is_some() {
        let pin = ctx.secrets.get(Secret::SoPin)?;
        client.login(CKU_SO, &pin)?;
    }
    let v = client
        .lib()
        .quorum_view(client.slot())
        .map_err(|e| quorum_error("cannot read the officers and rules", e))?;
    logout(&mut client);
    Ok((v.config, v.verified))
}

fn so_client(ctx: &mut Ctx) -> CliResult<Client> {
    let mut client = Client::new(ctx.slot)?;
    let pin = ctx.secrets.get(Secret::SoPin)?;
    client.login(CKU_SO, &pin)?;
    Ok(client)
}

fn logout(client: &mut Client) {
    let _ = client.logout();
}

/// A quorum failure: the token's reason (which request is missing, which
/// rule) is the message; an unknown request id is "not found" (exit 4).
pub fn quorum_error(context: &str, e: Error) -> CliError {
    let err = CliError::ck(context, "SO", e);
    if e == Error::ArgumentsBad && err.message.contains("cause: no request ") {
        return CliError::not_found(err.message);
    }
    err
}

/// Parses "90s", "30m", "24h", "7d" (at least a second, at most 30 days).
pub fn parse_expiry(text: &str) -> Result<i64, String> {
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("'{text}': write a number and s, m, h or d (e.g. 24h)"))?;
    let ms = match unit {
        "s" => n.saturating_mul(1_000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => return Err(format!("'{text}': the unit is s, m, h or d (e.g. 24h)")),
    };
    if !(1_000..=30 * 86_400_000).contains(&ms) {
        return Err(format!(
            "'{text}': a request expires after 1 second to 30 days"
        ));
    }
    Ok(ms)
}

/// `keyward request OP [TARGET]`.
pub fn request(
    ctx: &mut Ctx,
    op: &str,
    target: Option<&str>,
    reason: &str,
    expires_in_ms: i64,
) -> CliResult<()> {
    let Some(op) = Op::parse(op) else {
        return Err(CliError::usage(format!(
            "unknown operation '{op}' (one of: {})",
            OPS.map(Op::name).join(", ")
        )));
    };
    let mut client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let token = |client: &Client, what: &str| {
        client
            .lib()
            .token_target(slot, what)
            .map_err(|e| quorum_error("cannot read the token", e))
    };
    let (target, about) = match (op, target) {
        (Op::Destroy | Op::Export | Op::Modify, Some(key)) => {
            // object:N is the form refusals print; #N / obj:N / labels
            // are the key selectors of every other command.
            let key = key
                .strip_prefix("object:")
                .map_or_else(|| key.to_string(), |n| format!("obj:{n}"));
            let pin = ctx.secrets.get(Secret::UserPin)?;
            client.login(cryptoki_sys::CKU_USER, &pin)?;
            let info = select_one(&mut client, &key)?;
            let h = client.session()?;
            let subject = client
                .lib()
                .request_subject(h, info.handle)
                .map_err(|e| quorum_error("cannot name the key", e))?;
            logout(&mut client);
            subject
        }
        (Op::Restore, Some(file)) => {
            let t = keyward::token::quorum::backup_target(Path::new(file))
                .map_err(|e| quorum_error("cannot read the backup", e))?;
            (t, format!("backup {file}"))
        }
        (Op::RotateMasterKey | Op::Init, None) => {
            (token(&client, "token")?, "the token".to_string())
        }
        (Op::Unlock, None) => (token(&client, "user-pin")?, "the user PIN".to_string()),
        (Op::Policy, Some(change)) => {
            check_policy_change(change)?;
            (change.to_string(), "officers and rules".to_string())
        }
        (Op::Destroy | Op::Export | Op::Modify, None) => {
            return Err(CliError::usage(format!(
                "{} needs the key: keyward request {} KEY",
                op.name(),
                op.name()
            )));
        }
        (Op::Restore, None) => {
            return Err(CliError::usage(
                "restore needs the backup file: keyward request restore FILE",
            ));
        }
        (Op::Policy, None) => {
            return Err(CliError::usage(
                "policy needs the change: officer-add:NAME, officer-remove:NAME, \
                 rule:CLASS=M[,CLASS=M…] (M or none), auditor-set:NAME or auditor-remove",
            ));
        }
        (_, Some(extra)) => {
            return Err(CliError::usage(format!(
                "{} takes no target (got '{extra}')",
                op.name()
            )));
        }
    };
    let req = client
        .lib()
        .create_request(
            slot,
            &NewRequest {
                op,
                target,
                about,
                reason: reason.to_string(),
                expires_in_ms,
            },
        )
        .map_err(|e| quorum_error("cannot file the request", e))?;
    if ctx.json {
        return print_json(&req);
    }
    println!(
        "request {}: {} of {} ({}), expires {}",
        req.id,
        req.op,
        req.target,
        req.about,
        format_ms(req.expires)
    );
    println!(
        "officers approve it with `keyward approve {} --officer NAME`",
        req.id
    );
    Ok(())
}

/// The forms of a `policy` target.
fn check_policy_change(change: &str) -> CliResult<()> {
    let ok = ["officer-add:", "officer-remove:", "auditor-set:"]
        .iter()
        .any(|p| change.strip_prefix(p).is_some_and(|n| !n.is_empty()))
        || change == "auditor-remove"
        || change.strip_prefix("rule:").is_some_and(|r| {
            r.split(',').all(|pair| {
                pair.split_once('=').is_some_and(|(class, m)| {
                    check_class(class).is_ok()
                        && (m == "none" || m.parse::<u32>().is_ok_and(|m| m > 0))
                })
            })
        });
    if ok {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "'{change}' is no policy change: officer-add:NAME, officer-remove:NAME, \
         rule:CLASS=M[,CLASS=M…] (M or none), auditor-set:NAME or auditor-remove"
    )))
}

#[derive(Serialize)]
struct Status<'a> {
    #[serde(flatten)]
    request: &'a Request,
    shown_state: String,
    needed: u32,
    #[serde(flatten)]
    tally: &'a Tally,
}

fn status_of<'a>(req: &'a Request, tally: &'a Tally, needed: u32) -> Status<'a> {
    Status {
        request: req,
        shown_state: req.shown_state(now_ms()).to_string(),
        needed,
        tally,
    }
}

/// `keyward requests [ID]`: open requests (or all with --all), or one.
pub fn requests(ctx: &mut Ctx, id: Option<i64>, all: bool) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let ids: Vec<i64> = match id {
        Some(id) => vec![id],
        None => client
            .lib()
            .requests(slot)
            .map_err(|e| quorum_error("cannot list requests", e))?
            .into_iter()
            .filter(|r| all || matches!(r.shown_state(now_ms()), "pending" | "approved"))
            .map(|r| r.id)
            .collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        rows.push(
            client
                .lib()
                .request_status(slot, id)
                .map_err(|e| quorum_error(&format!("cannot read request {id}"), e))?,
        );
    }
    if ctx.json {
        let shown: Vec<Status> = rows.iter().map(|(r, t, n)| status_of(r, t, *n)).collect();
        return print_json(&shown);
    }
    if let (Some(_), [(req, t, needed)]) = (id, rows.as_slice()) {
        print_one(req, t, *needed);
        return Ok(());
    }
    let mut table = table(&[
        "ID",
        "OPERATION",
        "TARGET",
        "ABOUT",
        "STATE",
        "APPROVALS",
        "EXPIRES",
    ]);
    for (req, t, needed) in &rows {
        table.add_row(vec![
            req.id.to_string(),
            req.op.clone(),
            req.target.clone(),
            req.about.clone(),
            req.shown_state(now_ms()).to_string(),
            format!("{}/{needed}", t.approvals.len()),
            format_ms(req.expires),
        ]);
    }
    print_table(&table);
    Ok(())
}

fn print_one(req: &Request, t: &Tally, needed: u32) {
    println!("request    {}", req.id);
    println!("operation  {}", req.op);
    println!("target     {}", req.target);
    println!("about      {}", req.about);
    println!("requester  {}", req.requester);
    println!("reason     {}", req.reason);
    println!("expires    {}", format_ms(req.expires));
    println!("state      {}", req.shown_state(now_ms()));
    println!(
        "approvals  {} of {needed}{}",
        t.approvals.len(),
        if t.approvals.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.approvals.join(", "))
        }
    );
    if !t.denials.is_empty() {
        println!("denied by  {}", t.denials.join(", "));
    }
    if !t.invalid.is_empty() {
        println!(
            "invalid    {} (signature does not verify)",
            t.invalid.join(", ")
        );
    }
}

/// `keyward approve|deny ID --officer NAME`.
pub fn vote(ctx: &mut Ctx, id: i64, officer: &str, decision: Decision) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let (req, _, _) = client
        .lib()
        .request_status(slot, id)
        .map_err(|e| quorum_error(&format!("cannot read request {id}"), e))?;
    if !ctx.json {
        // What the officer is signing, before the passphrase is asked.
        eprintln!(
            "request {}: {} of {} ({}), requested by {}: {}",
            req.id, req.op, req.target, req.about, req.requester, req.reason
        );
    }
    let pass = ctx.secrets.get(Secret::OfficerPassphrase)?;
    let (req, t, needed) = client
        .lib()
        .vote(slot, id, officer, pass.as_bytes(), decision)
        .map_err(|e| match e {
            Error::PinIncorrect => CliError::new(
                crate::fail::EXIT_PIN,
                format!("{officer} cannot {} request {id}: wrong officer passphrase (CKR_PIN_INCORRECT)", decision.name()),
            ),
            other => quorum_error(&format!("cannot {} request {id}", decision.name()), other),
        })?;
    if ctx.json {
        return print_json(&status_of(&req, &t, needed));
    }
    let verb = match decision {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
    };
    println!(
        "{officer} {verb} request {id}: {} of {} approvals; the request is {}",
        t.approvals.len(),
        needed,
        req.shown_state(now_ms())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_policy_forms() {
        assert_eq!(parse_expiry("30m"), Ok(1_800_000));
        assert_eq!(parse_expiry("2d"), Ok(172_800_000));
        assert!(parse_expiry("31d").is_err());
        assert_eq!(parse_expiry("10s"), Ok(10_000));
        assert!(parse_expiry("0s").is_err());
        assert!(parse_expiry("h").is_err());
        assert_eq!(parse_rule("destroy=2"), Ok(("destroy".into(), Some(2))));
        assert_eq!(parse_rule("export=none"), Ok(("export".into(), None)));
        assert!(parse_rule("destroy=0").is_err());
        assert!(parse_rule("launch=1").unwrap_err().contains("unknown"));
        assert!(parse_rule("destroy").is_err());
        for ok in [
            "officer-add:carol",
            "officer-remove:bob",
            "rule:destroy=2",
            "rule:destroy=2,policy=3,export=none",
            "rule:default=none",
            "auditor-set:ann",
            "auditor-remove",
        ] {
            assert!(check_policy_change(ok).is_ok(), "{ok}");
        }
        for bad in [
            "officer-add:",
            "rule:launch=2",
            "rule:destroy=0",
            "rules",
            "",
        ] {
            assert!(check_policy_change(bad).is_err(), "{bad}");
        }
    }
}
