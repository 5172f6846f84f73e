//! Certificates that follow key rotation: `keyward certs import` binds an
//! issued certificate to the key version whose public key it certifies,
//! the certificate lookup `keys csr` renews from, and the certificate
//! half of `keys due` (expiring, or not renewed after a rotation).
//!
//! Versions (docs/LIFECYCLE.md): every version of a key shares its label
//! and CKA_ID; CKA_KEYWARD_VERSION / CKA_KEYWARD_PRIMARY tell them apart,
//! and a plain search finds primary versions only. Objects made before
//! versioning carry neither attribute and read as version 1, primary.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use cryptoki_sys::*;
use keyward::api::{Attr, AttrRead};
use keyward::lifecycle::vendor::{
    CKA_KEYWARD_OBJECT_ID, CKA_KEYWARD_STATE, CKW_STATE_ACTIVE, CKW_STATE_PRE_ACTIVE,
    KEYWARD_VENDOR_BASE,
};
use keyward::object::import::{Imported, certificate_public_key, parse_import};
use serde::Serialize;
use time::OffsetDateTime;

use crate::Ctx;
use crate::client::{Client, bytes, flag, ulong};
use crate::fail::{CliError, CliResult, EXIT_REFUSED};
use crate::output::{hex, print_json, print_table, table};
use crate::pins::Secret;
use crate::x509::{CertInfo, parse_certificate};

/// The version number of a key version (CK_ULONG; design of issue 10).
pub const CKA_KEYWARD_VERSION: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0B;
/// Whether a version is its name's primary one (CK_BBOOL).
pub const CKA_KEYWARD_PRIMARY: CK_ATTRIBUTE_TYPE = KEYWARD_VENDOR_BASE + 0x0C;

#[derive(Debug, Subcommand)]
pub enum CertsCmd {
    /// Import an issued certificate (PEM or DER) and bind it to the key
    /// version whose public key it certifies: it takes that version's
    /// label, CKA_ID and version. A certificate for no key is refused.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The certificate file, PEM or DER.
    pub file: PathBuf,
    /// Only bind to a key of this label (refuse if the certificate
    /// belongs to another).
    #[arg(long)]
    pub label: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: CertsCmd) -> CliResult<()> {
    match cmd {
        CertsCmd::Import(args) => import(ctx, &args),
    }
}

/// Opens the client and logs in as the user.
pub fn user_client(ctx: &mut Ctx) -> CliResult<Client> {
    let mut client = Client::new(ctx.slot)?;
    let pin = ctx.secrets.get(Secret::UserPin)?;
    client.login(CKU_USER, &pin)?;
    Ok(client)
}

/// Every object matching `template`, in every version: the plain search
/// (primary versions and unversioned objects) and the one that asks for
/// the older versions, without duplicates.
pub fn find_every_version(
    client: &mut Client,
    template: &[Attr],
) -> CliResult<Vec<CK_OBJECT_HANDLE>> {
    let mut found = client.find(template)?;
    let mut older = template.to_vec();
    older.push(flag(CKA_KEYWARD_PRIMARY, false));
    for h in client.find(&older)? {
        if !found.contains(&h) {
            found.push(h);
        }
    }
    Ok(found)
}

fn value(r: Option<&AttrRead>) -> Option<Vec<u8>> {
    match r {
        Some(AttrRead::Value(v)) => Some(v.clone()),
        _ => None,
    }
}

fn ulong_of(r: Option<&AttrRead>) -> Option<u64> {
    let raw: [u8; 8] = value(r)?.try_into().ok()?;
    Some(u64::from_ne_bytes(raw))
}

fn bool_of(r: Option<&AttrRead>) -> Option<bool> {
    match value(r)?.as_slice() {
        [b] => Some(*b != 0),
        _ => None,
    }
}

/// A key version as binding and renewal see it.
#[derive(Debug, Clone)]
pub struct KeyVersion {
    pub handle: CK_OBJECT_HANDLE,
    pub label: String,
    pub id: Vec<u8>,
    pub object_id: Option<u64>,
    /// CKA_KEYWARD_VERSION, if the token keeps versions.
    pub version: Option<u64>,
    /// CKA_KEYWARD_PRIMARY, if the token keeps versions.
    pub primary: Option<bool>,
    pub state: Option<u64>,
    /// CKA_EC_POINT or CKA_MODULUS, to match certificates with.
    pub material: Option<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl KeyVersion {
    /// Version 1 for a key made before versions existed.
    pub fn number(&self) -> u64 {
        self.version.unwrap_or(1)
    }

    pub fn is_primary(&self) -> bool {
        self.primary.unwrap_or(true)
    }

    pub fn name(&self) -> String {
        let n = self.object_id.map(|n| format!(" #{n}")).unwrap_or_default();
        format!(
            "{:?} version {} (id:{}{n})",
            self.label,
            self.number(),
            hex(&self.id)
        )
    }
}

pub fn key_version(client: &mut Client, h: CK_OBJECT_HANDLE) -> CliResult<KeyVersion> {
    let r = client.read(
        h,
        &[
            CKA_LABEL,
            CKA_ID,
            CKA_KEYWARD_OBJECT_ID,
            CKA_KEYWARD_VERSION,
            CKA_KEYWARD_PRIMARY,
            CKA_KEYWARD_STATE,
            CKA_EC_POINT,
            CKA_MODULUS,
        ],
    )?;
    let material = value(r.get(6))
        .map(|v| (CKA_EC_POINT, v))
        .or_else(|| value(r.get(7)).map(|v| (CKA_MODULUS, v)));
    Ok(KeyVersion {
        handle: h,
        label: String::from_utf8_lossy(&value(r.first()).unwrap_or_default()).into_owned(),
        id: value(r.get(1)).unwrap_or_default(),
        object_id: ulong_of(r.get(2)),
        version: ulong_of(r.get(3)),
        primary: bool_of(r.get(4)),
        state: ulong_of(r.get(5)),
        material,
    })
}

/// The public key a certificate certifies, as the token stores it on keys.
fn certificate_material(der: &[u8]) -> Option<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    let attrs = certificate_public_key(der).ok()?;
    [CKA_EC_POINT, CKA_MODULUS].into_iter().find_map(|ty| {
        attrs
            .iter()
            .find(|a| a.ty == ty)
            .map(|a| (ty, a.value.clone()))
    })
}

/// A certificate object of the token, parsed.
#[derive(Debug, Clone)]
pub struct StoredCert {
    pub handle: CK_OBJECT_HANDLE,
    pub label: String,
    pub id: Vec<u8>,
    pub object_id: Option<u64>,
    pub version: Option<u64>,
    pub der: Vec<u8>,
    pub info: CertInfo,
    pub material: Option<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

/// Every X.509 certificate in the token, of every version; certificates
/// that do not parse are skipped (renewal cannot use them).
pub fn all_certificates(client: &mut Client) -> CliResult<Vec<StoredCert>> {
    let template = [
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
    ];
    let mut out = Vec::new();
    for h in find_every_version(client, &template)? {
        let r = client.read(
            h,
            &[
                CKA_LABEL,
                CKA_ID,
                CKA_KEYWARD_OBJECT_ID,
                CKA_KEYWARD_VERSION,
                CKA_VALUE,
            ],
        )?;
        let Some(der) = value(r.get(4)) else { continue };
        let Ok(info) = parse_certificate(&der) else {
            continue;
        };
        out.push(StoredCert {
            handle: h,
            label: String::from_utf8_lossy(&value(r.first()).unwrap_or_default()).into_owned(),
            id: value(r.get(1)).unwrap_or_default(),
            object_id: ulong_of(r.get(2)),
            version: ulong_of(r.get(3)),
            material: certificate_material(&der),
            der,
            info,
        });
    }
    Ok(out)
}

/// The certificates of a key name: same label or same CKA_ID (all
/// versions share both), newest first: highest version, then latest
/// notBefore, then the most recently stored.
pub fn certificates_of(all: &[StoredCert], label: &str, ids: &[&[u8]]) -> Vec<StoredCert> {
    let mut mine: Vec<StoredCert> = all
        .iter()
        .filter(|c| {
            (!label.is_empty() && c.label == label)
                || (!c.id.is_empty() && ids.contains(&c.id.as_slice()))
        })
        .cloned()
        .collect();
    mine.sort_by_key(|c| {
        std::cmp::Reverse((c.version.unwrap_or(1), c.info.not_before, c.object_id))
    });
    mine
}

/// One bound certificate as `certs import` prints it.
#[derive(Debug, Serialize)]
struct Bound {
    certificate: Option<String>,
    label: String,
    id: String,
    version: u64,
    primary: bool,
    not_after: String,
    key: Option<String>,
    already_present: bool,
}

fn read_certificate(path: &std::path::Path) -> CliResult<Vec<u8>> {
    let name = path.display();
    let data =
        std::fs::read(path).map_err(|e| CliError::failure(format!("cannot read {name}: {e}")))?;
    let imported =
        parse_import(&data).map_err(|e| CliError::failure(format!("cannot import {name}: {e}")))?;
    let Imported::Certificate(attrs) = &imported else {
        return Err(CliError::usage(format!(
            "{name} is not a certificate (use `keyward keys import` for keys)"
        )));
    };
    attrs
        .iter()
        .find(|a| a.ty == CKA_VALUE)
        .map(|a| a.value.clone())
        .ok_or_else(|| CliError::failure(format!("{name} has no certificate value")))
}

/// The key version a certificate certifies: a private key (else a public
/// key) of any version with the same public key, limited to `label`.
fn binding_key(
    client: &mut Client,
    material: &(CK_ATTRIBUTE_TYPE, Vec<u8>),
    label: Option<&str>,
) -> CliResult<KeyVersion> {
    let mut seen_elsewhere = Vec::new();
    for class in [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY] {
        let template = [ulong(CKA_CLASS, class), bytes(material.0, &material.1)];
        let mut keys = Vec::new();
        for h in find_every_version(client, &template)? {
            let k = key_version(client, h)?;
            if label.is_none_or(|l| k.label == l) {
                keys.push(k);
            } else {
                seen_elsewhere.push(k.name());
            }
        }
        match keys.len() {
            0 => continue,
            1 => return keys.pop().ok_or_else(|| CliError::failure("lost a key")),
            _ => {
                let names: Vec<String> = keys.iter().map(KeyVersion::name).collect();
                return Err(CliError::not_found(format!(
                    "the certificate's public key is held by {} keys ({}); choose one with --label",
                    keys.len(),
                    names.join(", ")
                )));
            }
        }
    }
    let why = match (label, seen_elsewhere.is_empty()) {
        (Some(l), false) => format!(
            "the certificate's public key belongs to {}, not to a key labelled {l:?}",
            seen_elsewhere.join(", ")
        ),
        _ => "the certificate's public key matches no key in the token \
              (a certificate is bound to the key version it certifies)"
            .to_string(),
    };
    Err(CliError::not_found(why))
}

/// Creates the certificate and binds it to the key version: the token
/// copies the version's CKA_ID, CKA_LABEL, CKA_KEYWARD_VERSION and
/// CKA_KEYWARD_PRIMARY onto it (applications cannot set the last two).
/// A certificate that cannot be bound is not left behind.
fn create_bound(client: &mut Client, der: &[u8], key: &KeyVersion) -> CliResult<CK_OBJECT_HANDLE> {
    let fields = keyward::mechanism::keyfile::certificate(der)
        .map_err(|e| CliError::failure(format!("cannot import the certificate: {e}")))?;
    let template = [
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        flag(CKA_TOKEN, true),
        flag(CKA_PRIVATE, false),
        bytes(CKA_VALUE, der),
        bytes(CKA_SUBJECT, &fields.subject),
        bytes(CKA_ISSUER, &fields.issuer),
        bytes(CKA_SERIAL_NUMBER, &fields.serial_number),
        bytes(CKA_LABEL, key.label.as_bytes()),
        bytes(CKA_ID, &key.id),
    ];
    let h = client.session()?;
    let ck = |e| CliError::ck("importing the certificate failed", "", e);
    let cert = client.lib().create_object(h, &template).map_err(ck)?;
    if let Err(e) = client.lib().bind_certificate(h, cert, key.handle) {
        let _ = client.lib().destroy_object(h, cert);
        return Err(ck(e));
    }
    Ok(cert)
}

/// `certs import FILE [--label NAME]`.
fn import(ctx: &mut Ctx, args: &ImportArgs) -> CliResult<()> {
    let der = read_certificate(&args.file)?;
    let info = parse_certificate(&der).map_err(CliError::failure)?;
    let material = certificate_material(&der).ok_or_else(|| {
        CliError::failure(format!(
            "{}: the certificate's public key is of a type the token does not hold",
            args.file.display()
        ))
    })?;
    let mut client = user_client(ctx)?;
    let key = binding_key(&mut client, &material, args.label.as_deref())?;
    let existing = all_certificates(&mut client)?
        .into_iter()
        .find(|c| c.der == der && c.id == key.id);
    let (handle, already_present) = match existing {
        Some(c) => (c.handle, true),
        None => (create_bound(&mut client, &der, &key)?, false),
    };
    let r = client.read(
        handle,
        &[
            CKA_KEYWARD_OBJECT_ID,
            CKA_KEYWARD_VERSION,
            CKA_KEYWARD_PRIMARY,
        ],
    )?;
    let cert_version = ulong_of(r.get(1));
    if key.version.is_some() && cert_version != key.version {
        eprintln!(
            "keyward: warning: the token recorded the certificate as version {} of {:?}, \
             not version {}",
            cert_version.unwrap_or(1),
            key.label,
            key.number()
        );
    }
    let bound = Bound {
        certificate: ulong_of(r.first()).map(|n| n.to_string()),
        label: key.label.clone(),
        id: hex(&key.id),
        version: cert_version.unwrap_or(key.number()),
        primary: bool_of(r.get(2)).unwrap_or(key.is_primary()),
        not_after: day(info.not_after),
        key: key.object_id.map(|n| n.to_string()),
        already_present,
    };
    if ctx.json {
        return print_json(&bound);
    }
    let what = bound
        .certificate
        .as_ref()
        .map_or_else(|| "the certificate".into(), |n| format!("certificate #{n}"));
    let verb = if already_present {
        "is already bound"
    } else {
        "bound"
    };
    println!(
        "{what} {verb} to {} (valid until {})",
        key.name(),
        bound.not_after
    );
    Ok(())
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// One certificate problem as `keys due` lists it.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct CertDue {
    pub label: String,
    pub id: String,
    pub version: u64,
    /// "certificate expires" or "certificate not renewed".
    pub reason: &'static str,
    /// notAfter of the certificate concerned (the newest one of the name).
    pub not_after: String,
    /// Negative: expired.
    pub days_left: i64,
    /// Object id of that certificate.
    pub certificate: Option<String>,
}

/// Keys whose certificate needs attention within `within` days: the
/// primary version of a name has certificates but none for its own
/// public key (it was rotated and the new certificate is not imported:
/// "certificate not renewed"), or its certificate's notAfter is within
/// the window or past ("certificate expires"). Only active or pre-active
/// keys are considered: a retired key needs no certificate.
pub fn certificates_due(client: &mut Client, within: u32) -> CliResult<Vec<CertDue>> {
    let now = OffsetDateTime::now_utc();
    let limit = now + time::Duration::days(i64::from(within));
    let certs = all_certificates(client)?;
    let mut rows = Vec::new();
    for h in client.find(&[ulong(CKA_CLASS, CKO_PRIVATE_KEY)])? {
        let key = key_version(client, h)?;
        let live = key
            .state
            .is_none_or(|s| s == CKW_STATE_ACTIVE || s == CKW_STATE_PRE_ACTIVE);
        if !key.is_primary() || !live {
            continue;
        }
        let mine = certificates_of(&certs, &key.label, &[&key.id]);
        let Some(newest) = mine.first() else { continue };
        let own = mine
            .iter()
            .filter(|c| c.material.is_some() && c.material == key.material)
            .max_by_key(|c| c.info.not_after);
        let (reason, cert) = match own {
            None => ("certificate not renewed", newest),
            Some(c) if c.info.not_after <= limit => ("certificate expires", c),
            Some(_) => continue,
        };
        rows.push(CertDue {
            label: key.label.clone(),
            id: hex(&key.id),
            version: key.number(),
            reason,
            not_after: day(cert.info.not_after),
            days_left: (cert.info.not_after - now).whole_days(),
            certificate: cert.object_id.map(|n| n.to_string()),
        });
    }
    rows.sort_by(|a, b| (&a.not_after, &a.label).cmp(&(&b.not_after, &b.label)));
    Ok(rows)
}

/// `keys due --json`: the keys due by end date (each marked with reason
/// "end date"), then the certificate rows, as one array.
pub fn print_due_json<T: Serialize>(keys: &[T], certs: &[CertDue]) -> CliResult<()> {
    let json = |e: serde_json::Error| CliError::failure(format!("cannot write JSON: {e}"));
    let mut all = Vec::new();
    for k in keys {
        let mut v = serde_json::to_value(k).map_err(json)?;
        if let Some(map) = v.as_object_mut() {
            map.insert("reason".into(), "end date".into());
        }
        all.push(v);
    }
    for c in certs {
        all.push(serde_json::to_value(c).map_err(json)?);
    }
    print_json(&all)
}

/// `keys due`'s certificate table (nothing when there is no row).
pub fn print_due_table(rows: &[CertDue]) {
    if rows.is_empty() {
        return;
    }
    let mut t = table(&[
        "LABEL",
        "ID",
        "VERSION",
        "CERTIFICATE",
        "NOT AFTER",
        "DAYS LEFT",
        "REASON",
    ]);
    for r in rows {
        t.add_row(vec![
            r.label.clone(),
            r.id.clone(),
            r.version.to_string(),
            r.certificate
                .as_ref()
                .map_or_else(|| "-".into(), |n| format!("#{n}")),
            r.not_after.clone(),
            r.days_left.to_string(),
            r.reason.to_string(),
        ]);
    }
    print_table(&t);
}

/// A refusal (exit code 6): the key cannot do what renewal needs.
pub fn refused(message: String) -> CliError {
    CliError::new(EXIT_REFUSED, message)
}
