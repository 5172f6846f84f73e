//! `keyward metrics`: the tokens' health as OpenMetrics text, for
//! node_exporter's textfile collector or any Prometheus scraper. Without
//! `--login` it reads only the public inventory (public keys and
//! certificates, which carry their private halves' labels, ids and dates),
//! PIN counters and the audit chain, so a timer runs it with no PIN and no
//! login record; `--out FILE` replaces FILE atomically, as the textfile
//! collector needs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::Ctx;
use crate::fail::{CliError, CliResult};
use crate::health::{DUE_WITHIN, Facts, SlotFacts, gather};

/// One metric family being written: its samples follow its header.
struct Family<'a> {
    out: &'a mut String,
}

/// A label value as OpenMetrics quotes it.
fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "# HELP {name} {help}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// Renders the facts as one OpenMetrics exposition, ending with `# EOF`.
fn render(facts: &Facts) -> String {
    let mut out = String::new();
    let slots: Vec<&SlotFacts> = facts.slots.iter().collect();
    let ids: Vec<String> = slots.iter().map(|s| s.slot.to_string()).collect();
    let each = |out: &mut String,
                name: &str,
                kind: &str,
                help: &str,
                value: &dyn Fn(&SlotFacts) -> Option<f64>| {
        let mut f = Family::new(out, name, kind, help);
        let sample = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_string()
        };
        for (s, id) in slots.iter().zip(&ids) {
            if let Some(v) = value(s) {
                f.sample(&sample, &[("slot", id)], v);
            }
        }
    };
    let ok = |s: &SlotFacts| s.error.is_none();
    let live = |s: &SlotFacts| s.error.is_none() && s.initialized;
    each(
        &mut out,
        "keyward_up",
        "gauge",
        "Whether the slot's token could be opened and read (1) or not (0).",
        &|s| Some(if ok(s) { 1.0 } else { 0.0 }),
    );
    {
        let mut f = Family::new(
            &mut out,
            "keyward_token",
            "info",
            "The token of each slot: label, serial number and store backend.",
        );
        for (s, id) in slots.iter().zip(&ids) {
            if ok(s) {
                f.sample(
                    "keyward_token_info",
                    &[
                        ("slot", id),
                        ("label", &s.label),
                        ("serial", &s.serial),
                        ("backend", s.backend),
                    ],
                    1,
                );
            }
        }
    }
    each(
        &mut out,
        "keyward_token_initialized",
        "gauge",
        "Whether the token is initialized (1) or not (0).",
        &|s| ok(s).then_some(if s.initialized { 1.0 } else { 0.0 }),
    );
    each(
        &mut out,
        "keyward_logged_in",
        "gauge",
        "1 when these metrics include private and secret keys (--login), 0 for the public inventory only.",
        &|s| live(s).then_some(if s.logged_in { 1.0 } else { 0.0 }),
    );
    pin_families(&mut out, &slots, &ids);
    each(
        &mut out,
        "keyward_objects",
        "gauge",
        "Objects visible to this report (public ones only without --login).",
        &|s| (live(s) && s.objects_error.is_none()).then_some(s.objects as f64),
    );
    key_families(&mut out, &slots, &ids);
    each(
        &mut out,
        "keyward_audit_records",
        "gauge",
        "Records in the token's audit trail.",
        &|s| s.audit.as_ref().ok().map(|a| a.records as f64),
    );
    each(
        &mut out,
        "keyward_audit_verified",
        "gauge",
        "Whether the audit trail passed verification now (1) or failed it (0); MACs too with --login.",
        &|s| {
            live(s).then_some(match &s.audit {
                Ok(a) if a.findings.is_empty() => 1.0,
                _ => 0.0,
            })
        },
    );
    let now = facts.now_ms as f64 / 1000.0;
    each(
        &mut out,
        "keyward_audit_last_verified_timestamp_seconds",
        "gauge",
        "When the audit trail last passed verification (this run), in seconds since the epoch.",
        &|s| match &s.audit {
            Ok(a) if a.findings.is_empty() && live(s) => Some(now),
            _ => None,
        },
    );
    each(
        &mut out,
        "keyward_backup_last_timestamp_seconds",
        "gauge",
        "When the last successful backup was made, in seconds since the epoch (absent: never).",
        &|s| s.last_backup_ms.map(|ms| ms as f64 / 1000.0),
    );
    each(
        &mut out,
        "keyward_backup_age_seconds",
        "gauge",
        "Seconds since the last successful backup (absent: never).",
        &|s| {
            s.last_backup_ms
                .map(|ms| facts.now_ms.saturating_sub(ms) as f64 / 1000.0)
        },
    );
    each(
        &mut out,
        "keyward_damaged_rows",
        "gauge",
        "Object rows that failed their integrity check (only with --login).",
        &|s| match &s.damaged {
            Some(Ok(d)) => Some(d.len() as f64),
            _ => None,
        },
    );
    out.push_str("# EOF\n");
    out
}

fn pin_families(out: &mut String, slots: &[&SlotFacts], ids: &[String]) {
    let roles = |s: &SlotFacts| {
        s.tries
            .map(|t| [("so", t.so_left, t.max), ("user", t.user_left, t.max)])
    };
    let mut f = Family::new(
        out,
        "keyward_pin_tries_left",
        "gauge",
        "Wrong PINs in a row each role may still enter before its PIN locks.",
    );
    for (s, id) in slots.iter().zip(ids) {
        for (role, left, _) in roles(s).into_iter().flatten() {
            f.sample(
                "keyward_pin_tries_left",
                &[("slot", id), ("role", role)],
                left,
            );
        }
    }
    let mut f = Family::new(
        out,
        "keyward_pin_max_tries",
        "gauge",
        "Wrong PINs in a row that lock a PIN (max_pin_failures).",
    );
    for (s, id) in slots.iter().zip(ids) {
        if let Some(t) = s.tries {
            f.sample("keyward_pin_max_tries", &[("slot", id)], t.max);
        }
    }
    let mut f = Family::new(
        out,
        "keyward_pin_locked",
        "gauge",
        "Whether the role's PIN is locked (1) or not (0).",
    );
    for (s, id) in slots.iter().zip(ids) {
        for (role, left, _) in roles(s).into_iter().flatten() {
            let locked = u8::from(left == 0 && (role == "so" || s.user_pin_set));
            f.sample(
                "keyward_pin_locked",
                &[("slot", id), ("role", role)],
                locked,
            );
        }
    }
    let mut f = Family::new(
        out,
        "keyward_pin_lockouts",
        "counter",
        "PIN lockouts recorded in the audit trail.",
    );
    for (s, id) in slots.iter().zip(ids) {
        if s.error.is_none() && s.audit.is_ok() {
            let (so, user) = s.lockouts;
            f.sample(
                "keyward_pin_lockouts_total",
                &[("slot", id), ("role", "so")],
                so,
            );
            f.sample(
                "keyward_pin_lockouts_total",
                &[("slot", id), ("role", "user")],
                user,
            );
        }
    }
}

fn key_families(out: &mut String, slots: &[&SlotFacts], ids: &[String]) {
    let mut f = Family::new(
        out,
        "keyward_keys",
        "gauge",
        "Keys and certificates by class, type and lifecycle state (public ones only without --login).",
    );
    for (s, id) in slots.iter().zip(ids) {
        let mut counts: BTreeMap<(&str, String, &str), u64> = BTreeMap::new();
        for k in &s.keys {
            *counts
                .entry((k.class, k.type_and_size(), k.state.unwrap_or("none")))
                .or_default() += 1;
        }
        for ((class, ty, state), n) in counts {
            f.sample(
                "keyward_keys",
                &[
                    ("slot", id),
                    ("class", class),
                    ("type", &ty),
                    ("state", state),
                ],
                n,
            );
        }
    }
    let mut f = Family::new(
        out,
        "keyward_keys_due",
        "gauge",
        "Keys in use (or their public halves and certificates) whose end date is within the window, overdue ones included.",
    );
    for (s, id) in slots.iter().zip(ids) {
        if s.error.is_some() || !s.initialized {
            continue;
        }
        for within in DUE_WITHIN {
            let n = s.dated.iter().filter(|d| d.days_left <= within).count();
            f.sample(
                "keyward_keys_due",
                &[("slot", id), ("within_days", &within.to_string())],
                n,
            );
        }
    }
    let mut f = Family::new(
        out,
        "keyward_keys_overdue",
        "gauge",
        "Keys still in use past their end date.",
    );
    for (s, id) in slots.iter().zip(ids) {
        if s.error.is_none() && s.initialized {
            let n = s.dated.iter().filter(|d| d.days_left < 0).count();
            f.sample("keyward_keys_overdue", &[("slot", id)], n);
        }
    }
    let mut f = Family::new(
        out,
        "keyward_nearest_end_date_days",
        "gauge",
        "Days until the nearest end date of a key in use (negative: past it; absent: no dated key).",
    );
    for (s, id) in slots.iter().zip(ids) {
        if let Some(d) = s.dated.first() {
            f.sample(
                "keyward_nearest_end_date_days",
                &[("slot", id)],
                d.days_left,
            );
        }
    }
    let mut f = Family::new(
        out,
        "keyward_key_uses",
        "counter",
        "Operations each key has done (its usage statistics).",
    );
    for (s, id) in slots.iter().zip(ids) {
        for k in &s.keys {
            if let (Some(n), Some(object)) = (k.use_count, k.object_id) {
                f.sample(
                    "keyward_key_uses_total",
                    &[
                        ("slot", id),
                        ("label", &k.label),
                        ("id", &k.id),
                        ("class", k.class),
                        ("object", &object.to_string()),
                    ],
                    n,
                );
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file in the same directory
/// and a rename, so a scraper never reads half a file.
fn write_atomically(path: &Path, text: &str) -> CliResult<()> {
    let shown = path.display();
    let name = path
        .file_name()
        .ok_or_else(|| CliError::usage(format!("--out {shown} names no file")))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::failure(format!("cannot write {shown}: {e}"))
    })
}

/// `keyward metrics [--login] [--out FILE]`.
pub fn metrics(ctx: &mut Ctx, login: bool, out: Option<&Path>) -> CliResult<()> {
    let facts = gather(ctx, login)?;
    if let Err(e) = &facts.config.config {
        return Err(CliError::failure(e.clone()));
    }
    if let Some(e) = &facts.store_error {
        return Err(CliError::failure(e.clone()));
    }
    let text = render(&facts);
    match out {
        Some(path) => write_atomically(path, &text),
        None => {
            print!("{text}");
            std::io::stdout()
                .flush()
                .map_err(|e| CliError::failure(format!("cannot write the metrics: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn an_empty_host_is_still_a_valid_exposition() {
        let facts = Facts {
            config: crate::health::ConfigFacts {
                file: None,
                store_dir: String::new(),
                config: Err("none".into()),
            },
            store_error: None,
            slots: Vec::new(),
            now_ms: 0,
        };
        let text = render(&facts);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE keyward_pin_lockouts counter"));
    }
}
