//! What `keyward doctor` and `keyward metrics` know of this host's tokens:
//! one pass over the configuration, each slot's token, its keys, PIN
//! counters, audit trail and backups, gathered once and shown two ways.
//!
//! Without `--login` only what a session that is not logged in may see is
//! read (public keys, certificates, the audit chain, PIN counters), so a
//! timer can run it with no PIN at all and it never adds a login record to
//! the trail. With `--login` the user PIN adds private and secret keys,
//! the audit MACs and the scan of every row.

use cryptoki_sys::*;
use keyward::api::Library;
use keyward::config::Config;
use keyward::lifecycle::dates;
use keyward::store::audit::AuditFilter;
use keyward::token::DamagedRow;
use keyward::token::info::PinTries;

use crate::Ctx;
use crate::client::{Client, check_store};
use crate::fail::{CliError, CliResult};
use crate::keyinfo::{KeyInfo, describe};
use crate::output::parse_date;
use crate::pins::Secret;

/// Keys whose end date is this close (in days) are reported as due.
pub const DUE_WITHIN: [i64; 2] = [7, 30];

/// The configuration in force, or why there is none.
pub struct ConfigFacts {
    /// KEYWARD_CONF, if set.
    pub file: Option<String>,
    pub store_dir: String,
    pub config: Result<Config, String>,
}

/// A key or certificate with an end date, and how many days remain
/// (negative: past it).
pub struct Dated {
    pub name: String,
    pub end_date: String,
    pub days_left: i64,
}

/// The audit trail as verified now.
pub struct AuditFacts {
    pub records: usize,
    /// MACs checked too (needs the user's login).
    pub authenticated: bool,
    pub findings: Vec<String>,
}

/// One slot's token.
pub struct SlotFacts {
    pub slot: u64,
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    /// The SQLite file or the database URL (never a password).
    pub location: String,
    /// The token could not be opened or read: nothing below is known.
    pub error: Option<String>,
    pub label: String,
    pub serial: String,
    pub initialized: bool,
    pub user_pin_set: bool,
    pub tries: Option<PinTries>,
    /// Logged in as the user for this report.
    pub logged_in: bool,
    /// Why --login did not log in.
    pub login_problem: Option<String>,
    /// Objects this report could see.
    pub objects: usize,
    /// Why the objects could not be listed.
    pub objects_error: Option<String>,
    pub keys: Vec<KeyInfo>,
    /// Live keys (or their public halves and certificates) with an end date.
    pub dated: Vec<Dated>,
    /// `pin_locked` records in the trail: (SO, user).
    pub lockouts: (u64, u64),
    pub audit: Result<AuditFacts, String>,
    /// When the last successful backup was made (ms since the epoch).
    pub last_backup_ms: Option<i64>,
    /// `None`: not scanned (needs --login).
    pub damaged: Option<Result<Vec<DamagedRow>, String>>,
}

impl SlotFacts {
    fn unreadable(slot: u64, backend: &'static str, location: String, error: String) -> Self {
        SlotFacts {
            slot,
            backend,
            location,
            error: Some(error),
            label: String::new(),
            serial: String::new(),
            initialized: false,
            user_pin_set: false,
            tries: None,
            logged_in: false,
            login_problem: None,
            objects: 0,
            objects_error: None,
            keys: Vec::new(),
            dated: Vec::new(),
            lockouts: (0, 0),
            audit: Err("not read".into()),
            last_backup_ms: None,
            damaged: None,
        }
    }
}

/// Everything gathered.
pub struct Facts {
    pub config: ConfigFacts,
    /// The store could not be opened at all (missing, unreadable).
    pub store_error: Option<String>,
    pub slots: Vec<SlotFacts>,
    pub now_ms: i64,
}

/// Reads the configuration and every slot (or `ctx.slot` only); `login`:
/// log in as the user where that cannot lock the PIN.
pub fn gather(ctx: &mut Ctx, login: bool) -> CliResult<Facts> {
    let file = std::env::var_os("KEYWARD_CONF").map(|p| p.to_string_lossy().into_owned());
    let config = Config::from_env().map_err(|e| {
        CliError::ck("cannot load the configuration", "", e)
            .message
            .clone()
    });
    let store_dir = config
        .as_ref()
        .map(|c| c.store_dir.display().to_string())
        .unwrap_or_default();
    let mut facts = Facts {
        config: ConfigFacts {
            file,
            store_dir,
            config,
        },
        store_error: None,
        slots: Vec::new(),
        now_ms: keyward::audit::now_ms(),
    };
    let Ok(config) = &facts.config.config else {
        return Ok(facts);
    };
    if let Err(e) = check_store(config, false) {
        facts.store_error = Some(e.message);
        return Ok(facts);
    }
    let wanted: Vec<_> = config
        .slots
        .iter()
        .filter(|s| ctx.slot.is_none_or(|want| want == s.id))
        .map(|s| {
            let (backend, location) = match &s.store {
                Some(shared) => (
                    "postgres",
                    format!("{} schema {}", shared.url, shared.schema),
                ),
                None => ("sqlite", config.token_path(s.id).display().to_string()),
            };
            (s.id, backend, location)
        })
        .collect();
    if wanted.is_empty() {
        let slot = ctx.slot.unwrap_or_default();
        return Err(CliError::usage(format!("no slot {slot} is configured")));
    }
    for (slot, backend, location) in wanted {
        let one = match Client::new(Some(slot)) {
            Ok(mut client) => slot_facts(ctx, &mut client, backend, location, login),
            Err(e) => SlotFacts::unreadable(slot, backend, location, e.message),
        };
        facts.slots.push(one);
    }
    Ok(facts)
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).trim_end().to_string()
}

fn slot_facts(
    ctx: &mut Ctx,
    client: &mut Client,
    backend: &'static str,
    location: String,
    login: bool,
) -> SlotFacts {
    let slot = client.slot();
    let info = match client.lib().token_info(slot) {
        Ok(info) => info,
        Err(e) => {
            let msg = CliError::ck("cannot read the token", "", e).message;
            return SlotFacts::unreadable(slot, backend, location, msg);
        }
    };
    let tries = client.lib().pin_tries(slot).ok().flatten();
    let mut f = SlotFacts::unreadable(slot, backend, location, String::new());
    f.error = None;
    f.label = text(&info.label);
    f.serial = text(&info.serialNumber);
    f.initialized = info.flags & CKF_TOKEN_INITIALIZED != 0;
    f.user_pin_set = info.flags & CKF_USER_PIN_INITIALIZED != 0;
    f.tries = tries;
    if !f.initialized {
        return f;
    }
    if login {
        match login_problem(f.user_pin_set, tries) {
            Some(problem) => f.login_problem = Some(problem),
            None => match ctx.secrets.get(Secret::UserPin) {
                Ok(pin) => match client.login(CKU_USER, &pin) {
                    Ok(()) => f.logged_in = true,
                    Err(e) => f.login_problem = Some(e.message),
                },
                Err(e) => f.login_problem = Some(e.message),
            },
        }
        // A wrong PIN just counted: show the counter after it.
        f.tries = client.lib().pin_tries(slot).ok().flatten();
    }
    read_objects(client, &mut f);
    read_trail(client, &mut f);
    if f.logged_in {
        f.damaged = Some(
            client
                .lib()
                .check_token(slot)
                .map_err(|e| CliError::ck("cannot scan the rows", "user", e).message),
        );
    }
    f
}

/// Why logging in for the report would be unwise or impossible.
fn login_problem(user_pin_set: bool, tries: Option<PinTries>) -> Option<String> {
    if !user_pin_set {
        return Some("the user PIN is not set".into());
    }
    match tries.map(|t| t.user_left) {
        Some(0) => Some("the user PIN is locked".into()),
        // A wrong PIN here would lock it: a health check must not.
        Some(1) => Some("not logging in: one try is left before the user PIN locks".into()),
        _ => None,
    }
}

fn days_left(end: &str, today: time::Date) -> Option<i64> {
    let end = dates::parse(&parse_date(end).ok()?)?;
    Some((end - today).whole_days())
}

fn read_objects(client: &mut Client, f: &mut SlotFacts) {
    let handles = match client.find(&[]) {
        Ok(h) => h,
        Err(e) => {
            f.objects_error = Some(e.message);
            return;
        }
    };
    f.objects = handles.len();
    let today = dates::today();
    for h in handles {
        let k = match describe(client, h) {
            Ok(k) => k,
            Err(e) => {
                f.objects_error = Some(e.message);
                continue;
            }
        };
        if k.class == "other" {
            continue;
        }
        // Keys that can still be used (certificates have no state), and
        // only the version in use of a rotated key.
        let live = matches!(k.state, None | Some("active" | "pre-active"));
        // Logged in, a pair is counted once, by its private half.
        let shown = !(f.logged_in && k.class == "public");
        let current = k.primary != Some(false);
        if let (true, true, true, Some(end)) = (live, current, shown, k.end_date.as_deref())
            && let Some(days_left) = days_left(end, today)
        {
            f.dated.push(Dated {
                name: k.name(),
                end_date: end.to_string(),
                days_left,
            });
        }
        f.keys.push(k);
    }
    f.dated
        .sort_by(|a, b| (a.days_left, &a.name).cmp(&(b.days_left, &b.name)));
}

fn read_trail(client: &mut Client, f: &mut SlotFacts) {
    let lib: &Library = client.lib();
    let slot = client.slot();
    f.audit = lib
        .audit_verify(slot)
        .map(|v| AuditFacts {
            records: v.records,
            authenticated: f.logged_in,
            findings: v
                .findings
                .iter()
                .map(|x| format!("record {}: {}", x.seq, x.problem))
                .collect(),
        })
        .map_err(|e| CliError::ck("cannot verify the audit trail", "", e).message);
    let records = |event: &str| {
        let filter = AuditFilter {
            since_ms: None,
            until_ms: None,
            object: None,
            event: Some(event.to_string()),
        };
        lib.audit_rows(slot, &filter)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|row| {
                let r = serde_json::from_slice::<keyward::audit::Record>(&row.body).ok()?;
                Some((row.time_ms, r))
            })
            .collect::<Vec<_>>()
    };
    for (_, r) in records("pin_locked") {
        match r.detail.as_deref() {
            Some(d) if d.starts_with("SO") => f.lockouts.0 += 1,
            _ => f.lockouts.1 += 1,
        }
    }
    f.last_backup_ms = records("backup")
        .into_iter()
        .filter(|(_, r)| r.result == "CKR_OK")
        .map(|(t, _)| t)
        .max();
}

/// Whole days from `then_ms` to `now_ms`.
pub fn age_days(then_ms: i64, now_ms: i64) -> i64 {
    now_ms.saturating_sub(then_ms) / 86_400_000
}
