//! `keyward audit`: show, verify and export a token's audit trail. Showing
//! and exporting need no PIN (the records hold no secrets); verification
//! logs in as the user so the records' MACs are checked too, or with
//! `--auditor` opens the audit key with the auditor's passphrase
//! (auditor_cmd.rs), with no login.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use cryptoki_sys::CKU_USER;
use keyward::audit::{EVENTS, Record, Verdict, format_ms, now_ms};
use keyward::store::audit::{AuditFilter, AuditRow};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult, EXIT_INTEGRITY};
use crate::keyinfo::{Selector, select_one};
use crate::output::{hex, print_json, print_table, table};
use crate::pins::Secret;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Show records, oldest first. Times: RFC 3339, YYYY-MM-DD (UTC; an
    /// --until date includes the whole day) or Nd (N days ago).
    Show {
        /// Only records at or after TIME.
        #[arg(long, value_name = "TIME", value_parser = parse_since)]
        since: Option<i64>,
        /// Only records at or before TIME.
        #[arg(long, value_name = "TIME", value_parser = parse_until)]
        until: Option<i64>,
        /// Only records about this key: #OBJECT_ID (no PIN needed), or a
        /// label or id:HEX (logs in as the user to resolve it).
        #[arg(long)]
        key: Option<String>,
        /// Only records of this event kind.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(EVENTS))]
        event: Option<String>,
        /// At most N records: the oldest N that match.
        #[arg(long, value_name = "N", conflicts_with = "tail")]
        limit: Option<usize>,
        /// Only the newest N records that match (still printed oldest first).
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Check the hash chain and, logged in as the user, every record's MAC.
    /// Exit 5 with one line per finding when the trail was tampered with.
    Verify {
        /// Check the chain only, without the user PIN (no MACs).
        #[arg(long)]
        chain_only: bool,
        /// Verify as the auditor: chain and MACs with the auditor's
        /// passphrase (KEYWARD_AUDITOR_PASSPHRASE, --pin-fd or a prompt)
        /// instead of the user PIN.
        #[arg(long, conflicts_with = "chain_only")]
        auditor: bool,
    },
    /// Records as JSON lines for a SIEM: one object a line with "seq", the
    /// record's fields (time, event, result, user, host, program, pid,
    /// object …), and its chain "hash" and "mac" in hex (mac null when the
    /// record was written without a login).
    Export {
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only records after sequence number SEQ (exclusive): pass the
        /// last "seq" already exported to fetch only what is new.
        #[arg(long, value_name = "SEQ")]
        since: Option<i64>,
    },
}

pub fn run(ctx: &mut Ctx, cmd: AuditCmd) -> CliResult<()> {
    match cmd {
        AuditCmd::Show {
            since,
            until,
            key,
            event,
            limit,
            tail,
        } => {
            let mut filter = AuditFilter {
                since_ms: since,
                until_ms: until,
                object: None,
                event,
            };
            show(ctx, &mut filter, key.as_deref(), Window { limit, tail })
        }
        AuditCmd::Verify {
            auditor: true,
            chain_only: _,
        } => report(ctx.json, &crate::auditor_cmd::verdict(ctx)?),
        AuditCmd::Verify { chain_only, .. } => verify(ctx, chain_only),
        AuditCmd::Export { out, since } => export(ctx, out.as_deref(), since),
    }
}

/// A record as shown and exported: its sequence number, then its body.
#[derive(Debug, Serialize)]
struct Shown {
    seq: i64,
    #[serde(flatten)]
    record: Record,
}

/// `--limit` / `--tail` of `audit show`.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    limit: Option<usize>,
    tail: Option<usize>,
}

impl Window {
    fn apply<T>(self, mut rows: Vec<T>) -> Vec<T> {
        if let Some(n) = self.limit {
            rows.truncate(n);
        }
        if let Some(n) = self.tail {
            let skip = rows.len().saturating_sub(n);
            rows.drain(..skip);
        }
        rows
    }
}

/// A record as JSON: object ids as strings (they exceed 2^53, which jq
/// would round), and for export the chain hash and MAC in hex.
fn json_of(row: &AuditRow, with_chain: bool) -> CliResult<serde_json::Value> {
    let mut v = serde_json::to_value(shown(row))
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    if let Some(obj) = v.as_object_mut() {
        if let Some(id) = obj.get_mut("object")
            && id.is_number()
        {
            *id = serde_json::Value::String(id.to_string());
        }
        if with_chain {
            obj.insert("hash".into(), hex(&row.hash).into());
            obj.insert(
                "mac".into(),
                row.mac
                    .as_deref()
                    .map_or(serde_json::Value::Null, |m| hex(m).into()),
            );
        }
    }
    Ok(v)
}

/// The record a row holds; a body that no longer parses (tampering) is
/// still listed, from its indexed columns, so the trail stays readable.
fn shown(row: &AuditRow) -> Shown {
    let record = serde_json::from_slice::<Record>(&row.body).unwrap_or_else(|_| Record {
        time: format_ms(row.time_ms),
        event: row.event.clone(),
        result: "?".to_string(),
        detail: Some("unreadable record body (see keyward audit verify)".to_string()),
        ..Record::default()
    });
    Shown {
        seq: row.seq,
        record,
    }
}

/// The rows of the slot's trail matching `filter`.
fn rows(client: &Client, filter: &AuditFilter) -> CliResult<Vec<AuditRow>> {
    client
        .lib()
        .audit_rows(client.slot(), filter)
        .map_err(|e| CliError::ck("cannot read the audit trail", "", e))
}

/// The object id `key` names: `#N` as is, anything else by looking the key
/// up as the user.
fn object_of(ctx: &mut Ctx, client: &mut Client, key: &str) -> CliResult<i64> {
    let id = match Selector::parse(key)? {
        Selector::ObjectId(n) => n,
        _ => {
            let pin = ctx.secrets.get(Secret::UserPin)?;
            client.login(CKU_USER, &pin)?;
            let info = select_one(client, key)?;
            info.object_id.ok_or_else(|| {
                CliError::failure(format!("{key:?} has no object id on this token"))
            })?
        }
    };
    i64::try_from(id).map_err(|_| CliError::usage(format!("object id {id} is out of range")))
}

fn show(
    ctx: &mut Ctx,
    filter: &mut AuditFilter,
    key: Option<&str>,
    window: Window,
) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    if let Some(key) = key {
        filter.object = Some(object_of(ctx, &mut client, key)?);
    }
    let found = window.apply(rows(&client, filter)?);
    if ctx.json {
        let values = found
            .iter()
            .map(|r| json_of(r, false))
            .collect::<CliResult<Vec<_>>>()?;
        return print_json(&values);
    }
    let records: Vec<Shown> = found.iter().map(shown).collect();
    let mut t = table(&[
        "seq",
        "time",
        "event",
        "result",
        "role",
        "user",
        "program",
        "pid",
        "object",
        "mechanism",
        "detail",
    ]);
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    for s in &records {
        let r = &s.record;
        let object = match (r.object, &r.label) {
            (Some(n), Some(l)) => format!("#{n} {l}"),
            (Some(n), None) => format!("#{n}"),
            (None, Some(l)) => l.clone(),
            (None, None) => "-".to_string(),
        };
        t.add_row(vec![
            s.seq.to_string(),
            r.time.clone(),
            r.event.clone(),
            r.result.clone(),
            r.role.clone(),
            dash(&r.user),
            dash(&r.program),
            r.pid.to_string(),
            object,
            dash(&r.mechanism),
            dash(&r.detail),
        ]);
    }
    print_table(&t);
    Ok(())
}

fn verify(ctx: &mut Ctx, chain_only: bool) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    if !chain_only {
        let pin = ctx.secrets.get(Secret::UserPin)?;
        client.login(CKU_USER, &pin)?;
    }
    let verdict = client
        .lib()
        .audit_verify(client.slot())
        .map_err(|e| CliError::ck("cannot verify the audit trail", "", e))?;
    report(ctx.json, &verdict)
}

/// Prints the verdict; findings end the command with exit 5.
fn report(json: bool, verdict: &Verdict) -> CliResult<()> {
    if json {
        print_json(verdict)?;
    } else if verdict.ok() {
        println!(
            "audit trail OK: {} records, {} authenticated",
            verdict.records, verdict.authenticated
        );
        print_rollbacks(verdict);
    } else {
        print_rollbacks(verdict);
        for f in &verdict.findings {
            println!("record {}: {}", f.seq, f.problem);
        }
    }
    if verdict.ok() {
        return Ok(());
    }
    Err(CliError::new(
        EXIT_INTEGRITY,
        format!(
            "the audit trail failed verification: {} finding(s) in {} records",
            verdict.findings.len(),
            verdict.records
        ),
    ))
}

/// Rollbacks are expected events, not findings, but never silent.
fn print_rollbacks(verdict: &Verdict) {
    for r in &verdict.rollbacks {
        println!(
            "rollback at record {} (authenticated): {}",
            r.seq, r.problem
        );
    }
}

fn export(ctx: &mut Ctx, out: Option<&Path>, since: Option<i64>) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let mut all = rows(&client, &AuditFilter::default())?;
    if let Some(after) = since {
        all.retain(|r| r.seq > after);
    }
    let write_err = |e: std::io::Error| CliError::failure(format!("cannot write the export: {e}"));
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::failure(format!("cannot create {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    for row in &all {
        let line = serde_json::to_string(&json_of(row, true)?)
            .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
        writeln!(sink, "{line}").map_err(write_err)?;
    }
    sink.flush().map_err(write_err)?;
    if let Some(path) = out {
        eprintln!("exported {} records to {}", all.len(), path.display());
    }
    Ok(())
}

/// A time argument in milliseconds since the epoch; a bare date is the
/// start of that day (UTC), or its end when `end_of_day`.
fn parse_time(text: &str, now: i64, end_of_day: bool) -> Result<i64, String> {
    if let Some(days) = text.strip_suffix('d')
        && let Ok(n) = days.parse::<i64>()
    {
        return n
            .checked_mul(DAY_MS)
            .and_then(|ms| now.checked_sub(ms))
            .ok_or_else(|| format!("{text:?} is too far back"));
    }
    let ms = |t: OffsetDateTime| {
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| "out of range".to_string())
    };
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return ms(t);
    }
    let date =
        time::Date::parse(text, format_description!("[year]-[month]-[day]")).map_err(|_| {
            format!("bad time {text:?} (want RFC 3339, YYYY-MM-DD or Nd for N days ago)")
        })?;
    let start = ms(date.midnight().assume_utc())?;
    Ok(if end_of_day {
        start.saturating_add(DAY_MS - 1)
    } else {
        start
    })
}

fn parse_since(text: &str) -> Result<i64, String> {
    parse_time(text, now_ms(), false)
}

fn parse_until(text: &str) -> Result<i64, String> {
    parse_time(text, now_ms(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward::audit::Finding;

    #[test]
    fn time_arguments() {
        let now = 10 * DAY_MS + 5;
        assert_eq!(parse_time("3d", now, false).unwrap(), 7 * DAY_MS + 5);
        assert_eq!(parse_time("1970-01-02", now, false).unwrap(), DAY_MS);
        assert_eq!(parse_time("1970-01-02", now, true).unwrap(), 2 * DAY_MS - 1);
        assert_eq!(
            parse_time("1970-01-01T00:00:01.5Z", now, false).unwrap(),
            1500
        );
        assert_eq!(
            parse_time("1970-01-01T02:00:00+01:00", now, true).unwrap(),
            3_600_000
        );
        assert!(parse_time("yesterday", now, false).is_err());
        assert!(parse_time("1970-02-30", now, false).is_err());
    }

    #[test]
    fn unreadable_bodies_are_still_listed() {
        let row = AuditRow {
            seq: 7,
            time_ms: 1000,
            event: "login".into(),
            object: None,
            body: b"{not json".to_vec(),
            hash: vec![],
            mac: None,
        };
        let s = shown(&row);
        assert_eq!(s.seq, 7);
        assert_eq!(s.record.event, "login");
        assert_eq!(s.record.time, "1970-01-01T00:00:01.000Z");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["seq"], 7);
        assert_eq!(json["event"], "login");
    }

    #[test]
    fn windows_and_json_ids() {
        let w = Window {
            limit: Some(2),
            tail: None,
        };
        assert_eq!(w.apply(vec![1, 2, 3]), vec![1, 2]);
        let w = Window {
            limit: None,
            tail: Some(2),
        };
        assert_eq!(w.apply(vec![1, 2, 3]), vec![2, 3]);
        assert_eq!(w.apply(vec![1]), vec![1]);
        let record = Record {
            object: Some(u64::MAX),
            ..Record::default()
        };
        let row = AuditRow {
            seq: 1,
            time_ms: 0,
            event: "login".into(),
            object: None,
            body: serde_json::to_vec(&record).unwrap(),
            hash: vec![0xab],
            mac: None,
        };
        let v = json_of(&row, true).unwrap();
        assert_eq!(v["object"], "18446744073709551615");
        assert_eq!(v["hash"], "ab");
        assert!(v["mac"].is_null());
        assert!(json_of(&row, false).unwrap().get("hash").is_none());
    }

    #[test]
    fn findings_exit_5() {
        let mut v = Verdict {
            records: 3,
            authenticated: 3,
            unauthenticated: 0,
            findings: vec![],
            rollbacks: vec![],
        };
        assert!(report(false, &v).is_ok());
        v.findings.push(Finding {
            seq: 2,
            problem: "edited".into(),
        });
        let e = report(false, &v).unwrap_err();
        assert_eq!(e.code, EXIT_INTEGRITY);
        assert!(e.message.contains("1 finding"), "{}", e.message);
    }
}
