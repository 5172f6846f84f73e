//! `keyward doctor`: one look at whether this host's Keyward is healthy —
//! configuration, store, each token, PINs, keys near or past their end
//! date, backups, the audit trail, the row scan, and the module's
//! registration with p11-kit. A table on a terminal, `--json` for scripts,
//! exit code 9 when anything is a problem (warnings alone exit 0).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use comfy_table::Cell;
use serde::Serialize;

use crate::Ctx;
use crate::fail::{CliError, CliResult, EXIT_UNHEALTHY};
use crate::health::{DUE_WITHIN, Facts, SlotFacts, age_days, gather};
use crate::output::{print_json, print_table, styled, table};

/// A backup older than this many days is a warning.
const BACKUP_MAX_AGE_DAYS: i64 = 30;
/// How long `p11-kit list-modules` may take before it counts as hung.
const P11KIT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warning,
    Problem,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warning => "warning",
            Status::Problem => "PROBLEM",
        }
    }
}

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Serialize)]
struct Report {
    healthy: bool,
    problems: usize,
    warnings: usize,
    checks: Vec<Check>,
}

struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, check: &'static str, slot: Option<u64>, status: Status, detail: String) {
        self.0.push(Check {
            check,
            slot,
            status,
            detail,
        });
    }
}

/// `keyward doctor [--login]`.
pub fn doctor(ctx: &mut Ctx, login: bool) -> CliResult<()> {
    let facts = gather(ctx, login)?;
    let mut checks = Checks(Vec::new());
    host_checks(&facts, &mut checks);
    for slot in &facts.slots {
        slot_checks(slot, facts.now_ms, login, &mut checks);
    }
    module_checks(&mut checks);
    let count = |s| checks.0.iter().filter(|c| c.status == s).count();
    let report = Report {
        healthy: count(Status::Problem) == 0,
        problems: count(Status::Problem),
        warnings: count(Status::Warning),
        checks: checks.0,
    };
    if ctx.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    if report.healthy {
        return Ok(());
    }
    Err(CliError::new(
        EXIT_UNHEALTHY,
        format!(
            "{} problem(s) found: {}",
            report.problems,
            report
                .checks
                .iter()
                .filter(|c| c.status == Status::Problem)
                .map(|c| c.detail.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ))
}

fn print_report(report: &Report) {
    let mut t = table(&["CHECK", "SLOT", "STATUS", "DETAIL"]);
    for c in &report.checks {
        let status = Cell::new(c.status.word());
        let status = if styled() {
            match c.status {
                Status::Ok => status.fg(comfy_table::Color::Green),
                Status::Info => status,
                Status::Warning => status.fg(comfy_table::Color::Yellow),
                Status::Problem => status.fg(comfy_table::Color::Red),
            }
        } else {
            status
        };
        t.add_row(vec![
            Cell::new(c.check),
            Cell::new(c.slot.map_or_else(|| "-".to_string(), |s| s.to_string())),
            status,
            Cell::new(&c.detail),
        ]);
    }
    print_table(&t);
    if report.healthy {
        println!("healthy: no problem found ({} warning(s))", report.warnings);
    }
}

fn host_checks(facts: &Facts, checks: &mut Checks) {
    let file = facts.config.file.as_deref().map_or_else(
        || "no KEYWARD_CONF: built-in defaults".to_string(),
        str::to_string,
    );
    match &facts.config.config {
        Ok(_) => checks.add("configuration", None, Status::Ok, file),
        Err(e) => checks.add("configuration", None, Status::Problem, e.clone()),
    }
    if facts.config.config.is_err() {
        return;
    }
    match &facts.store_error {
        Some(e) => checks.add("store", None, Status::Problem, e.clone()),
        None => checks.add(
            "store",
            None,
            Status::Ok,
            format!("directory {}", facts.config.store_dir),
        ),
    }
}

fn slot_checks(f: &SlotFacts, now_ms: i64, login: bool, checks: &mut Checks) {
    let slot = Some(f.slot);
    if let Some(e) = &f.error {
        checks.add("token", slot, Status::Problem, e.clone());
        return;
    }
    if !f.initialized {
        checks.add(
            "token",
            slot,
            Status::Warning,
            format!(
                "not initialized ({} {}): run `keyward token init`",
                f.backend, f.location
            ),
        );
        return;
    }
    checks.add(
        "token",
        slot,
        Status::Ok,
        format!(
            "{:?} serial {} ({} {})",
            f.label, f.serial, f.backend, f.location
        ),
    );
    pin_checks(f, checks);
    if let Some(problem) = &f.login_problem {
        let status = if f.tries.is_some_and(|t| t.user_left == 0) {
            // Already reported as the locked PIN.
            Status::Info
        } else {
            Status::Problem
        };
        checks.add("login", slot, status, problem.clone());
    }
    let scope = if f.logged_in {
        "as the user"
    } else {
        "without login: public objects only"
    };
    match &f.objects_error {
        Some(e) => checks.add("objects", slot, Status::Problem, e.clone()),
        None => checks.add(
            "objects",
            slot,
            Status::Ok,
            format!("{} object(s), {scope}", f.objects),
        ),
    }
    key_checks(f, checks);
    match f.last_backup_ms {
        None => checks.add(
            "backup",
            slot,
            Status::Warning,
            "no backup in the audit trail: run `keyward backup create`".into(),
        ),
        Some(ms) => {
            let days = age_days(ms, now_ms);
            let when = keyward::audit::format_ms(ms);
            let status = if days > BACKUP_MAX_AGE_DAYS {
                Status::Warning
            } else {
                Status::Ok
            };
            checks.add(
                "backup",
                slot,
                status,
                format!("last backup {when} ({days} day(s) ago)"),
            );
        }
    }
    match &f.audit {
        Err(e) => checks.add("audit trail", slot, Status::Problem, e.clone()),
        Ok(a) if !a.findings.is_empty() => checks.add(
            "audit trail",
            slot,
            Status::Problem,
            format!("failed verification: {}", a.findings.join("; ")),
        ),
        Ok(a) => checks.add(
            "audit trail",
            slot,
            Status::Ok,
            if a.authenticated {
                format!("{} records, chain and MACs verified", a.records)
            } else {
                format!("{} records, chain verified (MACs need --login)", a.records)
            },
        ),
    }
    match &f.damaged {
        None if login => {}
        None => checks.add(
            "row scan",
            slot,
            Status::Info,
            "skipped: run `keyward doctor --login` (user PIN) to check every row".into(),
        ),
        Some(Err(e)) => checks.add("row scan", slot, Status::Problem, e.clone()),
        Some(Ok(damaged)) if damaged.is_empty() => checks.add(
            "row scan",
            slot,
            Status::Ok,
            "every object row passed its integrity check".into(),
        ),
        Some(Ok(damaged)) => checks.add(
            "row scan",
            slot,
            Status::Problem,
            format!(
                "{} damaged row(s): {} (`keyward token check` lists them)",
                damaged.len(),
                damaged
                    .iter()
                    .map(|d| format!(
                        "#{} {} {}",
                        d.object_id,
                        d.class,
                        d.label.as_deref().unwrap_or("?")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

fn pin_checks(f: &SlotFacts, checks: &mut Checks) {
    let slot = Some(f.slot);
    let Some(tries) = f.tries else {
        return;
    };
    for (check, left, set, fix) in [
        (
            "SO PIN",
            tries.so_left,
            true,
            "`keyward token reset` (erases every key)",
        ),
        (
            "user PIN",
            tries.user_left,
            f.user_pin_set,
            "`keyward pin unlock` (by the SO)",
        ),
    ] {
        let (status, detail) = if !set {
            (
                Status::Warning,
                "not set: run `keyward pin init`".to_string(),
            )
        } else if left == 0 {
            (
                Status::Problem,
                format!(
                    "{check} locked after {} failures in a row; recover with {fix}",
                    tries.max
                ),
            )
        } else if left < tries.max {
            (
                Status::Warning,
                format!(
                    "{left} of {} tries left (a correct PIN resets the count)",
                    tries.max
                ),
            )
        } else {
            (Status::Ok, format!("{left} of {} tries left", tries.max))
        };
        checks.add(check, slot, status, detail);
    }
}

fn key_checks(f: &SlotFacts, checks: &mut Checks) {
    let slot = Some(f.slot);
    let horizon = DUE_WITHIN.iter().copied().max().unwrap_or(30);
    let mut any = false;
    for d in &f.dated {
        if d.days_left < 0 {
            checks.add(
                "keys",
                slot,
                Status::Problem,
                format!(
                    "overdue: {} ended on {} ({} day(s) ago) and is still in use: \
                     `keyward keys rotate` or deactivate it",
                    d.name, d.end_date, -d.days_left
                ),
            );
            any = true;
        } else if d.days_left <= horizon {
            checks.add(
                "keys",
                slot,
                Status::Warning,
                format!(
                    "due: {} ends on {} (in {} day(s))",
                    d.name, d.end_date, d.days_left
                ),
            );
            any = true;
        }
    }
    if !any {
        let seen = f.keys.len();
        checks.add(
            "keys",
            slot,
            Status::Ok,
            format!("{seen} key(s) and certificate(s), none ending within {horizon} days"),
        );
    }
}

/// p11-kit's module configuration directories, system-wide first (it
/// ignores the per-user one for root).
fn registration_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/etc/pkcs11/modules"),
        PathBuf::from("/usr/share/p11-kit/modules"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".config/pkcs11/modules"));
    }
    dirs
}

/// Where p11-kit looks up a relative `module:` path on this machine.
fn p11kit_module_dirs() -> Vec<PathBuf> {
    let arch = std::env::consts::ARCH;
    vec![
        PathBuf::from(format!("/usr/lib/{arch}-linux-gnu/pkcs11")),
        PathBuf::from("/usr/lib64/pkcs11"),
        PathBuf::from("/usr/lib/pkcs11"),
    ]
}

/// The `module:` value of a p11-kit module file that names Keyward.
fn keyward_module_of(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "module")
        .map(|(_, v)| v.trim().to_string())
        .filter(|m| {
            Path::new(m)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("keyward"))
        })
}

fn module_checks(checks: &mut Checks) {
    let mut found = Vec::new();
    for dir in registration_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.extension().is_some_and(|e| e == "module")
                && let Ok(text) = std::fs::read_to_string(&path)
                && let Some(module) = keyward_module_of(&text)
            {
                found.push((path, module));
            }
        }
    }
    let Some((file, module)) = found.first() else {
        checks.add(
            "p11-kit",
            None,
            Status::Info,
            "the module is not registered with p11-kit: clients need its path \
             (the .deb registers it; examples/p11-kit/keyward.module)"
                .into(),
        );
        return;
    };
    let resolved = if Path::new(module).is_absolute() {
        Some(PathBuf::from(module))
    } else {
        p11kit_module_dirs()
            .into_iter()
            .map(|d| d.join(module))
            .find(|p| p.is_file())
    };
    let Some(path) = resolved.filter(|p| p.is_file()) else {
        checks.add(
            "module",
            None,
            Status::Problem,
            format!("{} names {module}, which does not exist", file.display()),
        );
        return;
    };
    checks.add(
        "module",
        None,
        Status::Ok,
        format!("{} (registered by {})", path.display(), file.display()),
    );
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match p11kit_lists(&name) {
        Ok(true) => checks.add(
            "p11-kit",
            None,
            Status::Ok,
            format!("`p11-kit list-modules` loads module {name:?}"),
        ),
        Ok(false) => checks.add(
            "p11-kit",
            None,
            Status::Problem,
            format!("`p11-kit list-modules` does not list module {name:?}: it failed to load"),
        ),
        Err(e) => checks.add("p11-kit", None, Status::Warning, e),
    }
}

/// Whether `p11-kit list-modules` loads module `name` (its token shows).
fn p11kit_lists(name: &str) -> Result<bool, String> {
    let mut child = Command::new("p11-kit")
        .arg("list-modules")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run p11-kit to check the registration: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > P11KIT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`p11-kit list-modules` did not finish within {} s",
                    P11KIT_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for p11-kit: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot read p11-kit's output: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "NAME: PATH" at the start of a line, then its indented details; a
    // module that failed to load is left out (its error goes to stderr).
    let mut in_ours = false;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            in_ours = line.split_once(':').is_some_and(|(n, _)| n.trim() == name);
        } else if in_ours && line.trim() == "library-manufacturer: Keyward" {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_files_are_recognised() {
        assert_eq!(
            keyward_module_of("# x\nmodule: libkeyward.so\n").as_deref(),
            Some("libkeyward.so")
        );
        assert_eq!(
            keyward_module_of("module:/usr/local/lib/libkeyward.so\ncritical: no").as_deref(),
            Some("/usr/local/lib/libkeyward.so")
        );
        assert_eq!(keyward_module_of("module: libsofthsm2.so\n"), None);
        assert_eq!(keyward_module_of("# module: libkeyward.so\n"), None);
    }

    #[test]
    fn problems_outrank_warnings() {
        assert!(Status::Problem > Status::Warning && Status::Warning > Status::Ok);
    }
}
