//! `keyward keys list|show|generate|destroy`: the user's keys, read and
//! made through the same façade calls an application makes.

use clap::{Args, ValueEnum};
use cryptoki_sys::*;
use keyward::api::{Attr, Mech, RawParam};
use keyward::token::DamagedRow;

use crate::Ctx;
use crate::client::{Client, bytes, flag, ulong};
use crate::fail::{CliError, CliResult, EXIT_INTEGRITY};
use crate::keyinfo::{KeyInfo, describe, describe_all_versions, select_one};
use crate::output::{parse_date, parse_hex, print_json, print_table, table};
use crate::pins::Secret;

/// Bytes of the random CKA_ID given to a key made without --id.
const RANDOM_ID_LEN: usize = 16;
/// RSA public exponent 65537.
const F4: [u8; 3] = [0x01, 0x00, 0x01];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassArg {
    Private,
    Public,
    Secret,
    Cert,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
    #[value(name = "ec-p521")]
    EcP521,
    Ed25519,
    X25519,
    Ed448,
    X448,
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "rsa-3072")]
    Rsa3072,
    #[value(name = "rsa-4096")]
    Rsa4096,
    #[value(name = "aes-128")]
    Aes128,
    #[value(name = "aes-192")]
    Aes192,
    #[value(name = "aes-256")]
    Aes256,
    #[value(name = "hmac-sha256")]
    HmacSha256,
    #[value(name = "ml-dsa-44")]
    MlDsa44,
    #[value(name = "ml-dsa-65")]
    MlDsa65,
    #[value(name = "ml-dsa-87")]
    MlDsa87,
    /// ML-KEM (FIPS 203) key pairs: key encapsulation only.
    #[value(name = "ml-kem-512")]
    MlKem512,
    #[value(name = "ml-kem-768")]
    MlKem768,
    #[value(name = "ml-kem-1024")]
    MlKem1024,
    /// SLH-DSA (FIPS 205) key pairs: the twelve parameter sets.
    #[value(name = "slh-dsa-sha2-128s")]
    SlhDsaSha2128s,
    #[value(name = "slh-dsa-sha2-128f")]
    SlhDsaSha2128f,
    #[value(name = "slh-dsa-sha2-192s")]
    SlhDsaSha2192s,
    #[value(name = "slh-dsa-sha2-192f")]
    SlhDsaSha2192f,
    #[value(name = "slh-dsa-sha2-256s")]
    SlhDsaSha2256s,
    #[value(name = "slh-dsa-sha2-256f")]
    SlhDsaSha2256f,
    #[value(name = "slh-dsa-shake-128s")]
    SlhDsaShake128s,
    #[value(name = "slh-dsa-shake-128f")]
    SlhDsaShake128f,
    #[value(name = "slh-dsa-shake-192s")]
    SlhDsaShake192s,
    #[value(name = "slh-dsa-shake-192f")]
    SlhDsaShake192f,
    #[value(name = "slh-dsa-shake-256s")]
    SlhDsaShake256s,
    #[value(name = "slh-dsa-shake-256f")]
    SlhDsaShake256f,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UseArg {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    Wrap,
    Unwrap,
    Derive,
}

impl UseArg {
    fn attr(self) -> CK_ATTRIBUTE_TYPE {
        match self {
            UseArg::Sign => CKA_SIGN,
            UseArg::Verify => CKA_VERIFY,
            UseArg::Encrypt => CKA_ENCRYPT,
            UseArg::Decrypt => CKA_DECRYPT,
            UseArg::Wrap => CKA_WRAP,
            UseArg::Unwrap => CKA_UNWRAP,
            UseArg::Derive => CKA_DERIVE,
        }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(long = "type", value_enum)]
    pub key_type: KeyTypeArg,
    /// CKA_LABEL of the key (both halves of a pair).
    #[arg(long)]
    pub label: String,
    /// CKA_ID in hex; 16 random bytes when absent.
    #[arg(long, value_parser = parse_id)]
    pub id: Option<Bytes>,
    /// Allowed uses, comma-separated; default per type (EC, Ed25519, Ed448,
    /// RSA and HMAC: sign,verify; X25519, X448: derive; AES: encrypt,decrypt).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub usage: Vec<UseArg>,
    /// CKA_START_DATE, YYYY-MM-DD.
    #[arg(long, value_parser = date)]
    pub start_date: Option<Bytes>,
    /// CKA_END_DATE, YYYY-MM-DD.
    #[arg(long, value_parser = date)]
    pub end_date: Option<Bytes>,
    /// Allow the key to leave the token wrapped (CKA_EXTRACTABLE).
    #[arg(long)]
    pub extractable: bool,
    /// Generate even though another object already has this --id.
    #[arg(long)]
    pub force: bool,
    /// Mark the key quorum-protected (CKA_KEYWARD_QUORUM, for good):
    /// destroying, exporting or re-enabling it needs officer approval.
    #[arg(long)]
    pub quorum: bool,
}

/// A parsed byte-string option (a `Vec<u8>` would be taken by clap for
/// a list of numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

fn parse_id(text: &str) -> Result<Bytes, String> {
    match parse_hex(text) {
        Some(id) if !id.is_empty() => Ok(Bytes(id)),
        _ => Err(format!(
            "{text:?} is not a non-empty even-length hex string"
        )),
    }
}

fn date(text: &str) -> Result<Bytes, String> {
    parse_date(text).map(Bytes)
}

/// Opens the client and logs in as the user.
fn user_client(ctx: &mut Ctx) -> CliResult<Client> {
    let mut client = Client::new(ctx.slot)?;
    let pin = ctx.secrets.get(Secret::UserPin)?;
    client.login(CKU_USER, &pin)?;
    Ok(client)
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn uses_text(k: &KeyInfo) -> String {
    if k.uses.is_empty() {
        "-".into()
    } else {
        k.uses.join(",")
    }
}

/// `keys list`: JSON is an array sorted by label, then id, then class
/// (private, secret, public, cert).
/// Primary versions only, unless `all_versions`.
pub fn list(
    ctx: &mut Ctx,
    class: ClassArg,
    label: Option<&str>,
    all_versions: bool,
) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let class = match class {
        ClassArg::Private => Some(CKO_PRIVATE_KEY),
        ClassArg::Public => Some(CKO_PUBLIC_KEY),
        ClassArg::Secret => Some(CKO_SECRET_KEY),
        ClassArg::Cert => Some(CKO_CERTIFICATE),
        ClassArg::All => None,
    };
    let keys: Vec<KeyInfo> = describe_listed(&mut client, class, all_versions)?
        .into_iter()
        .filter(|k| label.is_none_or(|l| k.label == l))
        .collect();
    if ctx.json {
        return print_json(&keys);
    }
    crate::inventory::print_key_table(&keys);
    Ok(())
}

/// The keys `keys list` shows: every healthy key and certificate, then
/// every damaged row (state "DAMAGED"), found by checking each row: a
/// damaged row is listed as such, never left out.
fn describe_listed(
    client: &mut Client,
    class: Option<CK_OBJECT_CLASS>,
    all_versions: bool,
) -> CliResult<Vec<KeyInfo>> {
    let template: Vec<_> = class
        .map(|c| crate::client::ulong(CKA_CLASS, c))
        .into_iter()
        .collect();
    let mut found = client.find(&template)?;
    if all_versions {
        let mut older = template.clone();
        older.push(flag(keyward::lifecycle::vendor::CKA_KEYWARD_PRIMARY, false));
        found.extend(client.find(&older)?);
    }
    let mut all = Vec::new();
    for h in found {
        match describe(client, h) {
            Ok(info) if info.class != "other" => all.push(info),
            Ok(_) => {}
            // Listed below from the row check, with its object id.
            Err(e) if e.code == EXIT_INTEGRITY => {}
            Err(e) => return Err(e),
        }
    }
    all.sort_by_key(KeyInfo::sort_key);
    let damaged = client
        .lib()
        .check_token(client.slot())
        .map_err(|e| CliError::ck("cannot check the token's objects", "user", e))?;
    for d in damaged
        .into_iter()
        .filter(|d| class.is_none_or(|c| c == d.class_value))
    {
        all.push(damaged_info(&d));
    }
    Ok(all)
}

/// A damaged row as a `keys list` line: what the row itself says (class,
/// object id, clear label), nothing read from its attributes.
fn damaged_info(d: &DamagedRow) -> KeyInfo {
    let class = match d.class_value {
        CKO_PRIVATE_KEY => "private",
        CKO_PUBLIC_KEY => "public",
        CKO_SECRET_KEY => "secret",
        CKO_CERTIFICATE => "cert",
        _ => "other",
    };
    KeyInfo {
        label: d.label.clone().unwrap_or_else(|| "?".into()),
        id: "?".into(),
        class,
        key_type: "other",
        size: None,
        curve: None,
        uses: Vec::new(),
        state: Some("DAMAGED"),
        created: None,
        last_used: None,
        use_count: None,
        start_date: None,
        end_date: None,
        sensitive: None,
        extractable: None,
        object_id: Some(d.object_id),
        version: None,
        primary: None,
        state_reason: Some(format!(
            "failed its integrity check (row fingerprint {})",
            d.fingerprint
        )),
        predecessor: None,
        successor: None,
        handle: 0,
        raw_id: Vec::new(),
    }
}

fn print_key(json: bool, k: &KeyInfo) -> CliResult<()> {
    if json {
        return print_json(k);
    }
    let mut t = table(&["FIELD", "VALUE"]);
    for (name, value) in [
        ("label", k.label.clone()),
        ("id", k.id.clone()),
        ("class", k.class.to_string()),
        ("type", k.type_and_size()),
        ("uses", uses_text(k)),
        ("version", dash(k.version)),
        ("primary", dash(k.primary)),
        ("state", dash(k.state)),
        ("created", dash(k.created.as_ref())),
        ("last used", dash(k.last_used.as_ref())),
        ("use count", dash(k.use_count)),
        ("start date", dash(k.start_date.as_ref())),
        ("end date", dash(k.end_date.as_ref())),
        ("sensitive", dash(k.sensitive)),
        ("extractable", dash(k.extractable)),
        ("object id", dash(k.object_id.map(|n| format!("#{n}")))),
    ] {
        t.add_row(vec![name.to_string(), value]);
    }
    print_table(&t);
    Ok(())
}

/// `keys show <key>`.
pub fn show(ctx: &mut Ctx, key: &str) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let k = select_one(&mut client, key)?;
    print_key(ctx.json, &k)
}

fn default_uses(t: KeyTypeArg) -> Vec<UseArg> {
    use KeyTypeArg::*;
    match t {
        X25519 | X448 => vec![UseArg::Derive],
        // Encapsulation is their one use (CKA_ENCAPSULATE/CKA_DECAPSULATE,
        // on by default); none of the --usage flags applies.
        MlKem512 | MlKem768 | MlKem1024 => vec![],
        // Not wrap/unwrap too: one key may not both wrap and encrypt
        // (docs/KEY-SEPARATION.md); ask for `--usage wrap,unwrap`.
        Aes128 | Aes192 | Aes256 => vec![UseArg::Encrypt, UseArg::Decrypt],
        _ => vec![UseArg::Sign, UseArg::Verify],
    }
}

/// What C_GenerateKey(Pair) needs for a type: the mechanism and the
/// type-specific public (pairs) or secret-key attributes.
enum Plan {
    Pair(CK_MECHANISM_TYPE, Vec<Attr>),
    Secret(CK_MECHANISM_TYPE, CK_KEY_TYPE, CK_ULONG),
}

fn plan(t: KeyTypeArg) -> Plan {
    use KeyTypeArg::*;
    let ec = |oid: &[u8]| Plan::Pair(CKM_EC_KEY_PAIR_GEN, vec![bytes(CKA_EC_PARAMS, oid)]);
    let ml_dsa = |set| Plan::Pair(CKM_ML_DSA_KEY_PAIR_GEN, vec![ulong(CKA_PARAMETER_SET, set)]);
    let rsa = |bits| {
        Plan::Pair(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            vec![
                ulong(CKA_MODULUS_BITS, bits),
                bytes(CKA_PUBLIC_EXPONENT, &F4),
            ],
        )
    };
    let ml_kem = |set| Plan::Pair(CKM_ML_KEM_KEY_PAIR_GEN, vec![ulong(CKA_PARAMETER_SET, set)]);
    let slh_dsa = |set| {
        Plan::Pair(
            CKM_SLH_DSA_KEY_PAIR_GEN,
            vec![ulong(CKA_PARAMETER_SET, set)],
        )
    };
    match t {
        EcP256 => ec(&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        EcP384 => ec(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
        EcP521 => ec(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23]),
        // RFC 8410 OIDs 1.3.101.112 and 1.3.101.110.
        Ed25519 => Plan::Pair(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            vec![bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])],
        ),
        X25519 => Plan::Pair(
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            vec![bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x6e])],
        ),
        // RFC 8410 OIDs 1.3.101.113 and 1.3.101.111.
        Ed448 => Plan::Pair(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            vec![bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x71])],
        ),
        X448 => Plan::Pair(
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            vec![bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x6f])],
        ),
        Rsa2048 => rsa(2048),
        Rsa3072 => rsa(3072),
        Rsa4096 => rsa(4096),
        Aes128 => Plan::Secret(CKM_AES_KEY_GEN, CKK_AES, 16),
        Aes192 => Plan::Secret(CKM_AES_KEY_GEN, CKK_AES, 24),
        Aes256 => Plan::Secret(CKM_AES_KEY_GEN, CKK_AES, 32),
        HmacSha256 => Plan::Secret(CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 32),
        // FIPS 204 parameter sets (PKCS#11 3.2 CKA_PARAMETER_SET).
        MlDsa44 => ml_dsa(CKP_ML_DSA_44),
        MlDsa65 => ml_dsa(CKP_ML_DSA_65),
        MlDsa87 => ml_dsa(CKP_ML_DSA_87),
        MlKem512 => ml_kem(CKP_ML_KEM_512),
        MlKem768 => ml_kem(CKP_ML_KEM_768),
        MlKem1024 => ml_kem(CKP_ML_KEM_1024),
        // FIPS 205 parameter sets (PKCS#11 3.2 CKA_PARAMETER_SET).
        SlhDsaSha2128s => slh_dsa(CKP_SLH_DSA_SHA2_128S),
        SlhDsaSha2128f => slh_dsa(CKP_SLH_DSA_SHA2_128F),
        SlhDsaSha2192s => slh_dsa(CKP_SLH_DSA_SHA2_192S),
        SlhDsaSha2192f => slh_dsa(CKP_SLH_DSA_SHA2_192F),
        SlhDsaSha2256s => slh_dsa(CKP_SLH_DSA_SHA2_256S),
        SlhDsaSha2256f => slh_dsa(CKP_SLH_DSA_SHA2_256F),
        SlhDsaShake128s => slh_dsa(CKP_SLH_DSA_SHAKE_128S),
        SlhDsaShake128f => slh_dsa(CKP_SLH_DSA_SHAKE_128F),
        SlhDsaShake192s => slh_dsa(CKP_SLH_DSA_SHAKE_192S),
        SlhDsaShake192f => slh_dsa(CKP_SLH_DSA_SHAKE_192F),
        SlhDsaShake256s => slh_dsa(CKP_SLH_DSA_SHAKE_256S),
        SlhDsaShake256f => slh_dsa(CKP_SLH_DSA_SHAKE_256F),
    }
}

/// Usage flags for one object: each of `own` set as asked.
fn usage_attrs(own: &[UseArg], asked: &[UseArg]) -> Vec<Attr> {
    own.iter()
        .map(|u| flag(u.attr(), asked.contains(u)))
        .collect()
}

/// The attributes every generated object gets.
fn common(args: &GenerateArgs, id: &[u8]) -> Vec<Attr> {
    let mut t = vec![
        flag(CKA_TOKEN, true),
        bytes(CKA_LABEL, args.label.as_bytes()),
        bytes(CKA_ID, id),
    ];
    if let Some(Bytes(d)) = &args.start_date {
        t.push(bytes(CKA_START_DATE, d));
    }
    if let Some(Bytes(d)) = &args.end_date {
        t.push(bytes(CKA_END_DATE, d));
    }
    t
}

/// `keys generate`: prints the new key as `keys show` does.
pub fn generate(ctx: &mut Ctx, args: &GenerateArgs) -> CliResult<()> {
    crate::generate_checks::check_args(args)?;
    let mut client = user_client(ctx)?;
    crate::generate_checks::check_id_unused(&mut client, args)?;
    crate::generate_checks::check_label_unused(&mut client, args)?;
    let id = match &args.id {
        Some(Bytes(id)) => id.clone(),
        None => client.random(RANDOM_ID_LEN)?,
    };
    let asked = if args.usage.is_empty() {
        default_uses(args.key_type)
    } else {
        args.usage.clone()
    };
    let base = common(args, &id);
    let secret_attrs = [
        flag(CKA_PRIVATE, true),
        flag(CKA_SENSITIVE, true),
        flag(CKA_EXTRACTABLE, args.extractable),
        flag(keyward::lifecycle::vendor::CKA_KEYWARD_QUORUM, args.quorum),
    ];
    let h = client.session()?;
    let ck = |e| CliError::ck("key generation failed", "", e);
    let handle = match plan(args.key_type) {
        Plan::Pair(mech, specific) => {
            use UseArg::*;
            let mut public = [base.clone(), specific].concat();
            public.push(flag(CKA_PRIVATE, false));
            public.extend(usage_attrs(&[Verify, Encrypt, Wrap], &asked));
            let mut private = [base, secret_attrs.to_vec()].concat();
            private.extend(usage_attrs(&[Sign, Decrypt, Unwrap, Derive], &asked));
            let mech = Mech {
                ty: mech,
                param: RawParam::None,
            };
            let (_, private_h) = client
                .lib()
                .generate_key_pair(h, &mech, &public, &private)
                .map_err(ck)?;
            private_h
        }
        Plan::Secret(mech, key_type, len) => {
            let mut template = [base, secret_attrs.to_vec()].concat();
            template.extend([
                ulong(CKA_CLASS, CKO_SECRET_KEY),
                ulong(CKA_KEY_TYPE, key_type),
                ulong(CKA_VALUE_LEN, len),
            ]);
            let all: Vec<UseArg> = USES_ALL.to_vec();
            template.extend(usage_attrs(&all, &asked));
            let mech = Mech {
                ty: mech,
                param: RawParam::None,
            };
            client.lib().generate_key(h, &mech, &template).map_err(ck)?
        }
    };
    let k = describe(&mut client, handle)?;
    print_key(ctx.json, &k)
}

const USES_ALL: [UseArg; 7] = [
    UseArg::Sign,
    UseArg::Verify,
    UseArg::Encrypt,
    UseArg::Decrypt,
    UseArg::Wrap,
    UseArg::Unwrap,
    UseArg::Derive,
];

/// The objects destroying `target` takes with it: for a key pair half,
/// the other half and the certificates sharing its (non-empty) CKA_ID and
/// its version (every version shares the id; certificates bound to no
/// version go with the primary).
fn related(all: Vec<KeyInfo>, target: &KeyInfo) -> Vec<KeyInfo> {
    let pair_class = |c: &str| matches!(c, "private" | "public" | "cert");
    if !pair_class(target.class) || target.raw_id.is_empty() {
        return vec![target.clone()];
    }
    let same_version = |k: &KeyInfo| match (k.version, target.version) {
        (Some(a), Some(b)) => a == b,
        (None, _) => target.primary != Some(false),
        (Some(_), None) => k.primary != Some(false),
    };
    all.into_iter()
        .filter(|k| pair_class(k.class) && k.raw_id == target.raw_id && same_version(k))
        .collect()
}

/// How often `--wait` retries the erasure.
const ERASE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Retries, without ever blocking the token, the checkpoint that erases
/// destroyed objects' old page versions from the token files, for up to
/// `wait` seconds: prints "erasure complete" or fails with EXIT_PENDING
/// saying what may remain and how to finish later.
fn wait_for_erasure(client: &Client, wait: u64, json: bool) -> CliResult<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        match client.lib().erase_destroyed(client.slot()) {
            // With --json the caller prints one JSON object at the end.
            Ok(true) if json => return Ok(()),
            Ok(true) => {
                println!(
                    "erasure complete: no copy of a destroyed object's sealed bytes remains \
                     in the token files"
                );
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => return Err(CliError::ck("erasing destroyed objects failed", "", e)),
        }
        if std::time::Instant::now() >= deadline {
            return Err(CliError::new(
                crate::fail::EXIT_PENDING,
                format!(
                    "erasure pending after {wait} s: another process still reads an older \
                     snapshot of the token, so the sealed bytes of destroyed objects may \
                     remain in its -wal file until that read ends; run `keyward keys erase \
                     --wait SECS` to finish"
                ),
            ));
        }
        std::thread::sleep(ERASE_POLL);
    }
}

/// `keys erase [--wait SECS]`: finishes a pending erasure.
pub fn erase(ctx: &mut Ctx, wait: u64) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    wait_for_erasure(&client, wait, ctx.json)?;
    if ctx.json {
        return print_json(&serde_json::json!({ "erasure_complete": true }));
    }
    Ok(())
}

/// `keys destroy <key> [--wait SECS]`.
pub fn destroy(ctx: &mut Ctx, key: &str, wait: u64) -> CliResult<()> {
    let mut client = user_client(ctx)?;
    let target = select_one(&mut client, key)?;
    let doomed = related(describe_all_versions(&mut client, None)?, &target);
    let names: Vec<String> = doomed.iter().map(KeyInfo::name).collect();
    crate::token_cmd::confirm(
        ctx.yes,
        &format!("destroy {} objects ({})?", doomed.len(), names.join(", ")),
    )?;
    let h = client.session()?;
    for k in &doomed {
        client
            .lib()
            .destroy_object(h, k.handle)
            .map_err(|e| CliError::ck(&format!("destroying {} failed", k.name()), "", e))?;
    }
    if !ctx.json {
        println!("destroyed {} objects: {}", doomed.len(), names.join(", "));
    }
    wait_for_erasure(&client, wait, ctx.json)?;
    if ctx.json {
        return print_json(&serde_json::json!({ "destroyed": names, "erasure_complete": true }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyinfo::USES;

    #[test]
    fn usage_flags_follow_the_request() {
        let attrs = usage_attrs(&[UseArg::Sign, UseArg::Decrypt], &[UseArg::Sign]);
        assert_eq!(attrs, vec![flag(CKA_SIGN, true), flag(CKA_DECRYPT, false)]);
        assert_eq!(default_uses(KeyTypeArg::X25519), vec![UseArg::Derive]);
        assert_eq!(
            default_uses(KeyTypeArg::Aes128),
            vec![UseArg::Encrypt, UseArg::Decrypt]
        );
        assert_eq!(USES_ALL.len(), USES.len());
    }

    #[test]
    fn plans() {
        assert!(matches!(
            plan(KeyTypeArg::Aes192),
            Plan::Secret(CKM_AES_KEY_GEN, CKK_AES, 24)
        ));
        assert!(matches!(
            plan(KeyTypeArg::Rsa3072),
            Plan::Pair(CKM_RSA_PKCS_KEY_PAIR_GEN, _)
        ));
        assert!(parse_id("0a0b").is_ok());
        assert!(parse_id("").is_err());
        assert!(parse_id("0g").is_err());
    }
}
