//! `keyward token migrate --to DIR|postgres://…`: moves the slot's token
//! into another store as sealed bytes (no key is unsealed on the way),
//! verifies that every object opens there, and prints the configuration
//! that points the slot at its new home.

use std::path::PathBuf;

use keyward::config::Config;
use keyward::config_store::{FileStore, SharedStore};
use keyward::store::TokenDb;
use serde::Serialize;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::output::print_json;
use crate::pins::Secret;

/// `s` as a TOML basic string (the printed configuration must parse
/// whatever the path or URL holds).
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where `--to` points.
pub struct Target {
    pub to: String,
    pub schema: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Serialize)]
struct Shown {
    slot: u64,
    from: String,
    to: String,
    objects: u64,
    audit_records: u64,
    verified: u64,
    config: String,
}

/// The files a directory target gained: removed again unless the
/// migration succeeds, so that a refused one leaves the directory as it
/// was (and a retry is not refused as "already exists").
struct Created {
    dir: Option<PathBuf>,
    file: Option<PathBuf>,
}

impl Created {
    fn nothing() -> Created {
        Created {
            dir: None,
            file: None,
        }
    }

    /// Removes the token file with its SQLite side files (`-wal`, `-shm`,
    /// `-journal`, …: every name it begins), then the directory if this
    /// migration made it and it is empty.
    fn undo(self) {
        if let Some(file) = &self.file
            && let (Some(parent), Some(name)) = (file.parent(), file.file_name())
            && let Ok(entries) = std::fs::read_dir(parent)
        {
            let name = name.to_string_lossy().into_owned();
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A checked `--to`, not yet opened (opening creates the schema or file).
enum Planned {
    Shared(SharedStore),
    Dir { dir: PathBuf, path: PathBuf },
}

/// Checks `--to` and its options without touching the target; the
/// configuration that will point the slot at it.
fn plan_target(slot: u64, t: &Target) -> CliResult<(Planned, String)> {
    let ck = |what: &str, e| CliError::ck(what, "", e);
    if t.to.contains("://") {
        let store = SharedStore::from_file(
            slot,
            FileStore {
                store: Some(t.to.clone()),
                store_password_file: t.password_file.clone(),
                store_schema: t.schema.clone(),
                store_offline_grace_secs: None,
            },
        )
        .map_err(CliError::usage)?
        .ok_or_else(|| CliError::usage("--to names no store"))?;
        let mut config = format!("[[slot]]\nid = {slot}\nstore = {}\n", toml_str(&store.url));
        config.push_str(&format!("store_schema = {}\n", toml_str(&store.schema)));
        if let Some(p) = &store.password_file {
            config.push_str(&format!(
                "store_password_file = {}\n",
                toml_str(&p.to_string_lossy())
            ));
        }
        return Ok((Planned::Shared(store), config));
    }
    if t.schema.is_some() || t.password_file.is_some() {
        return Err(CliError::usage(
            "--schema and --password-file go with a postgres:// target",
        ));
    }
    let dir = PathBuf::from(&t.to);
    let mut probe = Config::build(None, Some(dir.clone()))
        .map_err(|e| ck("cannot build the target configuration", e))?;
    probe.store_dir = dir.clone();
    let path = probe.token_path(slot);
    if path.exists() {
        return Err(CliError::failure(format!(
            "{} already exists: the target must not hold this slot's token",
            path.display()
        )));
    }
    let config = format!("store_dir = {}\n", toml_str(&dir.to_string_lossy()));
    Ok((Planned::Dir { dir, path }, config))
}

/// Opens (creating) the planned target; what it created goes to
/// `created`, a failure's message to `failed`.
fn open_target(
    planned: &Planned,
    created: &mut Created,
    failed: &mut Option<CliError>,
) -> keyward::error::Result<TokenDb> {
    let ck = |what: &str, e| CliError::ck(what, "", e);
    match planned {
        // The module opens a shared store lazily (a host may start while
        // the database is down); a migration needs the server now.
        Planned::Shared(store) => TokenDb::open_shared(store)
            .and_then(|db| db.meta().map(|_| db))
            .inspect_err(|&e| {
                // The cause (the server's or the network's words) names the
                // store, without its password.
                *failed = Some(match keyward::error::cause::take() {
                    Some(why) => CliError::failure(format!(
                        "cannot open the target store: {why} ({})",
                        e.ckr_name()
                    )),
                    None => ck(&format!("cannot open the target store {}", store.url), e),
                });
            }),
        Planned::Dir { dir, path } => {
            *created = Created {
                dir: (!dir.exists()).then(|| dir.clone()),
                file: Some(path.clone()),
            };
            TokenDb::open(path).inspect_err(|&e| {
                *failed = Some(ck(&format!("cannot create {}", path.display()), e));
            })
        }
    }
}

/// Copies the slot's token to `target` and checks it there (SO PIN).
pub fn migrate(ctx: &mut Ctx, target: &Target) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let from = client
        .lib()
        .store_description(slot)
        .map_err(|e| CliError::ck("cannot read the slot", "", e))?;
    let (planned, config) = plan_target(slot, target)?;
    let mut created = Created::nothing();
    let mut failed = None;
    let opened = client.lib().migrate(
        slot,
        &mut || open_target(&planned, &mut created, &mut failed),
        so_pin.as_bytes(),
    );
    let (done, db) = match opened {
        Ok(done) => done,
        Err(e) => {
            created.undo();
            return Err(failed.unwrap_or_else(|| CliError::ck("migration failed", "SO", e)));
        }
    };
    let shown = Shown {
        slot,
        from,
        to: db.describe(),
        objects: done.objects,
        audit_records: done.audit_records,
        verified: done.verified,
        config,
    };
    if ctx.json {
        return print_json(&shown);
    }
    println!(
        "migrated slot {} from {} to {}: {} objects ({} sealed rows verified), {} audit records",
        shown.slot, shown.from, shown.to, shown.objects, shown.verified, shown.audit_records
    );
    println!("to use it, configure the slot as:\n{}", shown.config);
    Ok(())
}
