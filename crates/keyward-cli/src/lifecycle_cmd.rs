//! `keyward keys activate|deactivate|compromise|rotate|due|import|export`:
//! the key lifecycle verbs, driven through the façade's lifecycle calls
//! (`set_key_state`, `rotate_key`, `keys_due`) and C_CreateObject.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use cryptoki_sys::*;
use keyward::api::{Attr, AttrRead};
use keyward::error::Error;
use keyward::lifecycle::{dates, vendor::*};
use keyward::mechanism::spki::pem;
use keyward::object::import::{Imported, certificate_public_key, parse_import};
use serde::Serialize;

use crate::Ctx;
use crate::client::{Client, bytes, flag, ulong};
use crate::fail::{CliError, CliResult, EXIT_REFUSED, code_of};
use crate::keyinfo::{KeyInfo, describe, describe_all, describe_all_versions, select_one};
use crate::keys_cmd::{Bytes, UseArg};
use crate::output::{parse_date, parse_hex, print_json, print_table, table};
use crate::pins::Secret;

/// Bytes of the random CKA_ID given to an imported key without --id.
const RANDOM_ID_LEN: usize = 16;

#[derive(Debug, Subcommand)]
pub enum LifecycleCmd {
    /// Make a pre-active key active.
    Activate {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: String,
    },
    /// Deactivate a key (it may still verify and decrypt what it made).
    Deactivate {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: String,
        /// Why (recorded on the key and in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Mark a key compromised; there is no way back.
    Compromise {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: String,
        /// Why (recorded on the key and in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Replace a key by a new one like it (same label, type and uses), or
    /// with --due every key due; non-interactive, safe for cron.
    #[command(group(ArgGroup::new("what").required(true).args(["key", "due"])))]
    Rotate {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: Option<String>,
        /// Rotate every key whose end date is within --within.
        #[arg(long, conflicts_with = "key")]
        due: bool,
        /// Days ahead, "Nd" or "N" (default 30d).
        #[arg(long, requires = "due", value_parser = parse_days)]
        within: Option<u32>,
        /// Also write a certificate request (PEM) for the new version to
        /// FILE, with the subject and extensions of the key's current
        /// certificate (see `keys csr`); refused before rotating if the
        /// key has no certificate to renew.
        #[arg(long, value_name = "FILE", conflicts_with = "due")]
        csr: Option<PathBuf>,
    },
    /// Keys whose end date falls within --within days (or has passed),
    /// and keys whose certificate expires within them or was not renewed
    /// after a rotation.
    Due {
        /// Days ahead, "Nd" or "N".
        #[arg(long, default_value = "30d", value_parser = parse_days)]
        within: u32,
        /// Exit with code 8 when any key is due (for alerting from cron or
        /// a monitoring check).
        #[arg(long)]
        fail_if_due: bool,
    },
    /// Import a PEM or DER private key, public key or certificate.
    Import(ImportArgs),
    /// Write a public key ("PUBLIC KEY" PEM) or certificate; never
    /// private material.
    Export {
        /// The key: label, id:HEX, '#OBJECT_ID' (quoted) or obj:OBJECT_ID.
        key: String,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Export the certificate sharing the key's id.
        #[arg(long)]
        cert: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The PEM or DER file to import; - reads standard input.
    pub file: PathBuf,
    /// CKA_LABEL of the imported object(s).
    #[arg(long)]
    pub label: String,
    /// CKA_ID in hex; default: for a certificate, the id of the key pair
    /// it belongs to; otherwise 16 random bytes.
    #[arg(long, value_parser = parse_id)]
    pub id: Option<Bytes>,
    /// Allowed uses, comma-separated; default as `keys generate` has.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub usage: Vec<UseArg>,
    /// For an encrypted PKCS#8 key: the environment variable holding its
    /// passphrase (without it, the passphrase is asked on the terminal).
    #[arg(long, value_name = "VAR")]
    pub key_passphrase_env: Option<String>,
}

fn parse_id(text: &str) -> Result<Bytes, String> {
    match parse_hex(text) {
        Some(id) if !id.is_empty() => Ok(Bytes(id)),
        _ => Err(format!(
            "{text:?} is not a non-empty even-length hex string"
        )),
    }
}

/// "30d" or "30" as a number of days.
fn parse_days(text: &str) -> Result<u32, String> {
    text.strip_suffix('d')
        .unwrap_or(text)
        .parse()
        .map_err(|_| format!("{text:?} is not a number of days like 30d"))
}

pub fn run(ctx: &mut Ctx, cmd: LifecycleCmd) -> CliResult<()> {
    match cmd {
        LifecycleCmd::Activate { key } => set_state(ctx, &key, CKW_STATE_ACTIVE, None),
        LifecycleCmd::Deactivate { key, reason } => {
            set_state(ctx, &key, CKW_STATE_DEACTIVATED, reason.as_deref())
        }
        LifecycleCmd::Compromise { key, reason } => {
            set_state(ctx, &key, CKW_STATE_COMPROMISED, Some(&reason))
        }
        LifecycleCmd::Rotate {
            key: Some(key),
            csr,
            ..
        } => rotate_one(ctx, &key, csr.as_deref()),
        LifecycleCmd::Rotate { within, .. } => rotate_due(ctx, within.unwrap_or(30)),
        LifecycleCmd::Due {
            within,
            fail_if_due,
        } => crate::fail::fail_if_due(due(ctx, within), fail_if_due, within),
        LifecycleCmd::Import(args) => import(ctx, &args),
        LifecycleCmd::Export { key, out, cert } => export(ctx, &key, out, cert),
    }
}

/// Opens the client and logs in as the user.
fn user_client(ctx: &mut Ctx) -> CliResult<Client> {
    let mut client = Client::new(ctx.slot)?;
    let pin = ctx.secrets.get(Secret::UserPin)?;
    client.login(CKU_USER, &pin)?;
    Ok(client)
}

/// Why SP 800-57 refuses moving a `from` key to `to`.
fn refusal(from: Option<&str>, to: CK_ULONG) -> String {
    let verb = match to {
        CKW_STATE_ACTIVE => "activate",
        CKW_STATE_DEACTIVATED => "deactivate",
        _ => "mark compromised",
    };
    let Some(from) = from else {
        return format!("cannot {verb} this object: it has no lifecycle state");
    };
    let why = match (from, to) {
        ("deactivated" | "compromised" | "destroyed", _) => "NIST SP 800-57 allows no way back",
        (_, CKW_STATE_ACTIVE) => "only a pre-active key can be activated",
        _ => "it is already in that state",
    };
    let article = if from.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("cannot {verb} {article} {from} key: {why}")
}

/// `keys activate|deactivate|compromise`: prints every object changed.
fn set_state(ctx: &mut Ctx, key: &str, to: CK_ULONG, reason: Option<&str>) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let target = select_one(&mut client, key)?;
    let h = client.session()?;
    let changed = match client.lib().set_key_state(h, target.handle, to, reason) {
        Ok(changed) => changed,
        Err(Error::ActionProhibited) => {
            return Err(CliError::new(EXIT_REFUSED, refusal(target.state, to)));
        }
        Err(e) => return Err(CliError::ck("state change failed", "", e)),
    };
    let infos = changed
        .into_iter()
        .map(|o| describe(&mut client, o))
        .collect::<CliResult<Vec<_>>>()?;
    if ctx.json {
        return print_json(&infos);
    }
    let mut t = table(&["LABEL", "ID", "CLASS", "STATE", "OBJECT"]);
    for k in &infos {
        t.add_row(vec![
            k.label.clone(),
            k.id.clone(),
            k.class.to_string(),
            k.state.unwrap_or("-").to_string(),
            object_ref(k),
        ]);
    }
    print_table(&t);
    Ok(())
}

fn object_ref(k: &KeyInfo) -> String {
    k.object_id.map_or_else(|| "-".into(), |n| format!("#{n}"))
}

/// One rotation as JSON shows it.
#[derive(Debug, Serialize)]
struct Rotated {
    label: String,
    old_id: String,
    #[serde(serialize_with = "crate::output::id_as_string")]
    old_object_id: Option<u64>,
    old_version: Option<u64>,
    new_id: String,
    #[serde(serialize_with = "crate::output::id_as_string")]
    new_object_id: Option<u64>,
    new_version: Option<u64>,
    #[serde(skip)]
    new_key: CK_OBJECT_HANDLE,
}

/// Why `old` (not primary, or no longer: another process rotated it
/// first) is not rotated: names the primary version and how to address it.
fn not_primary(client: &mut Client, old: &KeyInfo, meanwhile: bool) -> CliResult<CliError> {
    let primary = describe_all(client, Some(old.class_value()))?
        .into_iter()
        .find(|k| k.label == old.label && k.raw_id == old.raw_id);
    let version = old.version.unwrap_or(1);
    let what = if meanwhile {
        format!(
            "version {version} of {:?} was rotated by another process meanwhile",
            old.label
        )
    } else {
        format!(
            "cannot rotate version {version} of {:?}: it is not the primary version",
            old.label
        )
    };
    let hint = match primary.and_then(|p| p.version) {
        Some(p) => format!(
            "; the primary is version {p} ({}@{p}): rotate {:?}, which names the primary",
            old.label, old.label
        ),
        None => String::new(),
    };
    Ok(CliError::new(EXIT_REFUSED, format!("{what}{hint}")))
}

/// Rotates one key; returns what to print.
fn rotate(client: &mut Client, old: &KeyInfo) -> CliResult<Rotated> {
    if old.primary == Some(false) {
        return Err(not_primary(client, old, false)?);
    }
    let h = client.session()?;
    let name = old.name();
    let r = match client.lib().rotate_key(h, old.handle) {
        Ok(r) => r,
        Err(Error::ActionProhibited) => return Err(not_primary(client, old, true)?),
        Err(e) => return Err(CliError::ck(&format!("rotating {name} failed"), "", e)),
    };
    let new = describe(client, r.new_key)?;
    Ok(Rotated {
        label: new.label,
        old_id: old.id.clone(),
        old_object_id: old.object_id,
        old_version: old.version,
        new_id: new.id,
        new_object_id: new.object_id,
        new_version: new.version,
        new_key: r.new_key,
    })
}

fn print_rotations(json: bool, done: &[Rotated]) -> CliResult<()> {
    if json {
        return print_json(&done);
    }
    let num = |n: Option<u64>| n.map_or_else(|| "?".into(), |n| n.to_string());
    for r in done {
        println!(
            "#{} → #{} ({}: version {} → {})",
            num(r.old_object_id),
            num(r.new_object_id),
            r.label,
            num(r.old_version),
            num(r.new_version)
        );
    }
    Ok(())
}

/// `keys rotate <key> [--csr FILE]`.
fn rotate_one(ctx: &mut Ctx, key: &str, csr: Option<&std::path::Path>) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let old = select_one(&mut client, key)?;
    if csr.is_some() {
        crate::csr::check_renewable(&mut client, &old)?;
    }
    let done = rotate(&mut client, &old)?;
    print_rotations(ctx.json, std::slice::from_ref(&done))?;
    match csr {
        Some(path) => crate::csr::after_rotation(&mut client, ctx.json, &old, done.new_key, path),
        None => Ok(()),
    }
}

/// `keys rotate --due`: tries every key due; the first failure decides
/// the exit code after the others were tried, so one bad key does not
/// hold back the rest in a cron job.
fn rotate_due(ctx: &mut Ctx, within: u32) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let due = due_keys(&mut client, within)?;
    if due.is_empty() && !ctx.json {
        println!("no key is due for rotation within {within} days");
        return Ok(());
    }
    let mut done = Vec::new();
    let mut first_error = None;
    for old in &due {
        match rotate(&mut client, old) {
            Ok(r) => done.push(r),
            Err(e) => {
                eprintln!("keyward: error: {}", e.message);
                first_error.get_or_insert(e);
            }
        }
    }
    print_rotations(ctx.json, &done)?;
    first_error.map_or(Ok(()), Err)
}

fn due_keys(client: &mut Client, within: u32) -> CliResult<Vec<KeyInfo>> {
    let h = client.session()?;
    let handles = client
        .lib()
        .keys_due(h, within)
        .map_err(|e| CliError::ck("cannot list the keys due", "", e))?;
    let mut keys = handles
        .into_iter()
        .map(|o| describe(client, o))
        .collect::<CliResult<Vec<_>>>()?;
    keys.sort_by(|a, b| (&a.end_date, a.sort_key()).cmp(&(&b.end_date, b.sort_key())));
    Ok(keys)
}

/// One key due as `keys due --json` shows it.
#[derive(Debug, Serialize)]
struct DueKey {
    label: String,
    id: String,
    class: &'static str,
    key_type: String,
    end_date: Option<String>,
    /// Negative: overdue.
    days_left: Option<i64>,
    state: Option<&'static str>,
    #[serde(serialize_with = "crate::output::id_as_string")]
    object_id: Option<u64>,
}

fn days_left(end: Option<&str>) -> Option<i64> {
    let end = dates::parse(&parse_date(end?).ok()?)?;
    Some((end - dates::today()).whole_days())
}

/// `keys due`; returns how many keys are due.
fn due(ctx: &mut Ctx, within: u32) -> CliResult<usize> {
    let mut client = user_client(ctx)?;
    let rows: Vec<DueKey> = due_keys(&mut client, within)?
        .into_iter()
        .map(|k| DueKey {
            days_left: days_left(k.end_date.as_deref()),
            key_type: k.type_and_size(),
            label: k.label,
            id: k.id,
            class: k.class,
            end_date: k.end_date,
            state: k.state,
            object_id: k.object_id,
        })
        .collect();
    let certs = crate::certs_cmd::certificates_due(&mut client, within)?;
    let count = rows.len() + certs.len();
    if ctx.json {
        return crate::certs_cmd::print_due_json(&rows, &certs).map(|()| count);
    }
    if rows.is_empty() && certs.is_empty() {
        println!("no key is due for rotation within {within} days");
        return Ok(count);
    }
    if rows.is_empty() {
        crate::certs_cmd::print_due_table(&certs);
        return Ok(count);
    }
    let mut t = table(&[
        "LABEL",
        "ID",
        "CLASS",
        "TYPE",
        "END DATE",
        "DAYS LEFT",
        "STATE",
    ]);
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for r in rows {
        t.add_row(vec![
            r.label,
            r.id,
            r.class.to_string(),
            r.key_type,
            dash(r.end_date),
            dash(r.days_left.map(|d| d.to_string())),
            dash(r.state.map(str::to_string)),
        ]);
    }
    print_table(&t);
    crate::certs_cmd::print_due_table(&certs);
    Ok(count)
}

/// A creation template that may hold key material: wiped on drop.
struct Template(Vec<Attr>);

impl Drop for Template {
    fn drop(&mut self) {
        for a in &mut self.0 {
            zeroize::Zeroize::zeroize(&mut a.value);
        }
    }
}

fn find_value(attrs: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    attrs
        .iter()
        .find(|a| a.ty == ty)
        .map(|a| a.value.as_slice())
}

fn key_type_of(attrs: &[Attr]) -> Option<CK_KEY_TYPE> {
    let raw: [u8; 8] = find_value(attrs, CKA_KEY_TYPE)?.try_into().ok()?;
    Some(u64::from_ne_bytes(raw))
}

fn use_attr(u: UseArg) -> CK_ATTRIBUTE_TYPE {
    match u {
        UseArg::Sign => CKA_SIGN,
        UseArg::Verify => CKA_VERIFY,
        UseArg::Encrypt => CKA_ENCRYPT,
        UseArg::Decrypt => CKA_DECRYPT,
        UseArg::Wrap => CKA_WRAP,
        UseArg::Unwrap => CKA_UNWRAP,
        UseArg::Derive => CKA_DERIVE,
    }
}

/// The uses `keys generate` gives a key of this type.
fn default_uses(key_type: Option<CK_KEY_TYPE>) -> Vec<UseArg> {
    match key_type {
        Some(CKK_EC_MONTGOMERY) => vec![UseArg::Derive],
        _ => vec![UseArg::Sign, UseArg::Verify],
    }
}

fn usage_attrs(own: &[UseArg], asked: &[UseArg]) -> Vec<Attr> {
    own.iter()
        .map(|u| flag(use_attr(*u), asked.contains(u)))
        .collect()
}

/// The CKA_ID of the key pair whose public key is the one in `cert_der`.
fn matching_pair_id(client: &mut Client, cert_der: &[u8]) -> CliResult<Option<Vec<u8>>> {
    let Ok(public) = certificate_public_key(cert_der) else {
        return Ok(None);
    };
    let Some((ty, v)) = [CKA_EC_POINT, CKA_MODULUS]
        .into_iter()
        .find_map(|ty| find_value(&public, ty).map(|v| (ty, v)))
    else {
        return Ok(None);
    };
    for class in [CKO_PUBLIC_KEY, CKO_PRIVATE_KEY] {
        for o in client.find(&[ulong(CKA_CLASS, class), bytes(ty, v)])? {
            if let Some(AttrRead::Value(id)) = client.read(o, &[CKA_ID])?.into_iter().next()
                && !id.is_empty()
            {
                return Ok(Some(id));
            }
        }
    }
    Ok(None)
}

/// Creates `template`; on failure destroys `undo` (an already created half).
fn create(
    client: &mut Client,
    template: &[Attr],
    undo: Option<CK_OBJECT_HANDLE>,
) -> CliResult<CK_OBJECT_HANDLE> {
    let h = client.session()?;
    client.lib().create_object(h, template).map_err(|e| {
        if let Some(o) = undo {
            let _ = client.lib().destroy_object(h, o);
        }
        CliError::ck("import failed", "", e)
    })
}

/// `keys import FILE`: prints the objects made.
fn import(ctx: &mut Ctx, args: &ImportArgs) -> CliResult<()> {
    let name = args.file.display();
    let data = crate::output::read_input(&args.file)?;
    let data =
        crate::key_passphrase::decrypt_if_encrypted(ctx, args.key_passphrase_env.as_deref(), data)?;
    let imported =
        parse_import(&data).map_err(|e| CliError::failure(format!("cannot import {name}: {e}")))?;
    let mut client = user_client(ctx)?;
    let id = match (&args.id, &imported) {
        (Some(Bytes(id)), _) => id.clone(),
        (None, Imported::Certificate(c)) => {
            let der = find_value(c, CKA_VALUE).unwrap_or_default();
            match matching_pair_id(&mut client, der)? {
                Some(id) => id,
                None => client.random(RANDOM_ID_LEN)?,
            }
        }
        (None, _) => client.random(RANDOM_ID_LEN)?,
    };
    let base = [bytes(CKA_LABEL, args.label.as_bytes()), bytes(CKA_ID, &id)];
    let uses = |attrs: &[Attr]| {
        if args.usage.is_empty() {
            default_uses(key_type_of(attrs))
        } else {
            args.usage.clone()
        }
    };
    use UseArg::*;
    let public_of = |attrs: &[Attr]| {
        let mut t = [attrs, &base].concat();
        t.push(flag(CKA_PRIVATE, false));
        t.extend(usage_attrs(&[Verify, Encrypt, Wrap], &uses(attrs)));
        t
    };
    let made = match &imported {
        Imported::KeyPair { private, public } => {
            let mut t = Template([private.as_slice(), &base].concat());
            t.0.extend([
                flag(CKA_PRIVATE, true),
                flag(CKA_SENSITIVE, true),
                flag(CKA_EXTRACTABLE, false),
            ]);
            t.0.extend(usage_attrs(
                &[Sign, Decrypt, Unwrap, Derive],
                &uses(private),
            ));
            let private_h = create(&mut client, &t.0, None)?;
            let public_h = create(&mut client, &public_of(public), Some(private_h))?;
            vec![private_h, public_h]
        }
        Imported::PublicKey(public) => vec![create(&mut client, &public_of(public), None)?],
        Imported::Certificate(cert) => {
            vec![create(
                &mut client,
                &[cert.as_slice(), &base].concat(),
                None,
            )?]
        }
    };
    let infos = made
        .into_iter()
        .map(|o| describe(&mut client, o))
        .collect::<CliResult<Vec<_>>>()?;
    if ctx.json {
        return print_json(&infos);
    }
    for k in &infos {
        println!("imported {}", k.name());
    }
    Ok(())
}

fn read_value(
    client: &mut Client,
    o: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> CliResult<Option<Vec<u8>>> {
    Ok(match client.read(o, &[ty])?.into_iter().next() {
        Some(AttrRead::Value(v)) if !v.is_empty() => Some(v),
        _ => None,
    })
}

/// The certificate for `target`: itself, or one sharing its CKA_ID.
fn certificate_of(client: &mut Client, target: &KeyInfo) -> CliResult<KeyInfo> {
    if target.class == "cert" {
        return Ok(target.clone());
    }
    // Every version shares the id: the certificate of this version, or
    // (for the primary) one bound to no version yet.
    let same_version = |c: &KeyInfo| match c.version {
        Some(v) => target.version.is_none_or(|t| t == v),
        None => target.primary != Some(false),
    };
    let mut certs: Vec<KeyInfo> = describe_all_versions(client, Some(CKO_CERTIFICATE))?
        .into_iter()
        .filter(|c| !target.raw_id.is_empty() && c.raw_id == target.raw_id)
        .filter(same_version)
        .collect();
    match (certs.pop(), certs.is_empty()) {
        (Some(c), true) => Ok(c),
        (Some(_), false) => Err(CliError::not_found(format!(
            "several certificates share the id of {}; select one by #N",
            target.name()
        ))),
        (None, _) => Err(CliError::not_found(format!(
            "no certificate shares the id of {}",
            target.name()
        ))),
    }
}

/// `keys export <key>`: public material only, as PEM.
fn export(ctx: &mut Ctx, key: &str, out: Option<PathBuf>, cert: bool) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let target = select_one(&mut client, key)?;
    let text = if cert || target.class == "cert" {
        let c = certificate_of(&mut client, &target)?;
        let der = read_value(&mut client, c.handle, CKA_VALUE)?
            .ok_or_else(|| CliError::failure(format!("{} has no value", c.name())))?;
        pem("CERTIFICATE", &der)
    } else if matches!(target.class, "private" | "public") {
        let der =
            read_value(&mut client, target.handle, CKA_PUBLIC_KEY_INFO)?.ok_or_else(|| {
                CliError::failure(format!("{} has no public key info", target.name()))
            })?;
        pem("PUBLIC KEY", &der)
    } else {
        return Err(CliError::new(
            code_of(Error::KeyFunctionNotPermitted),
            format!("{} has no public half to export", target.name()),
        ));
    };
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse() {
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("d").is_err());
        assert!(parse_days("-3d").is_err());
        assert!(parse_days("1w").is_err());
    }

    #[test]
    fn refusals_explain_sp_800_57() {
        assert_eq!(
            refusal(Some("deactivated"), CKW_STATE_ACTIVE),
            "cannot activate a deactivated key: NIST SP 800-57 allows no way back"
        );
        assert_eq!(
            refusal(Some("active"), CKW_STATE_ACTIVE),
            "cannot activate an active key: only a pre-active key can be activated"
        );
        assert!(refusal(Some("compromised"), CKW_STATE_COMPROMISED).contains("no way back"));
        assert!(refusal(None, CKW_STATE_DEACTIVATED).contains("no lifecycle state"));
    }

    #[test]
    fn days_left_counts_from_today() {
        let in_ten = dates::show(dates::today() + time::Duration::days(10));
        assert_eq!(days_left(Some(&in_ten)), Some(10));
        let past = dates::show(dates::today() - time::Duration::days(2));
        assert_eq!(days_left(Some(&past)), Some(-2));
        assert_eq!(days_left(None), None);
    }

    #[test]
    fn import_defaults_follow_the_key_type() {
        assert_eq!(default_uses(Some(CKK_EC_MONTGOMERY)), vec![UseArg::Derive]);
        assert_eq!(
            default_uses(Some(CKK_RSA)),
            vec![UseArg::Sign, UseArg::Verify]
        );
        let t = vec![ulong(CKA_KEY_TYPE, CKK_EC), bytes(CKA_EC_POINT, &[4, 1])];
        assert_eq!(key_type_of(&t), Some(CKK_EC));
        assert_eq!(find_value(&t, CKA_EC_POINT), Some(&[4u8, 1][..]));
        let flags = usage_attrs(&[UseArg::Verify, UseArg::Wrap], &[UseArg::Verify]);
        assert_eq!(flags, vec![flag(CKA_VERIFY, true), flag(CKA_WRAP, false)]);
    }
}
