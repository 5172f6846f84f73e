//! What the CLI knows of a key object: its description read through
//! C_GetAttributeValue (lifecycle attributes may be missing: then `None`),
//! and the `<key>` selector (label, `id:HEX`, `#N`, each optionally
//! `@VERSION`: a label or id names the primary version of a key, `@N` an
//! older one; docs/LIFECYCLE.md "Versions").

use cryptoki_sys::*;
use keyward::api::AttrRead;
use keyward::lifecycle::vendor::*;
use serde::Serialize;

use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::output::{ck_date, hex, parse_hex, rfc3339};

/// The attributes a description reads, in this order.
const READ: [CK_ATTRIBUTE_TYPE; 22] = [
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_LABEL,
    CKA_ID,
    CKA_EC_PARAMS,
    CKA_MODULUS,
    CKA_VALUE_LEN,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_KEYWARD_STATE,
    CKA_KEYWARD_CREATED,
    CKA_KEYWARD_LAST_USED,
    CKA_KEYWARD_USE_COUNT,
];

/// Read separately: an object id is also what `#N` selects by; the rest
/// are set by state changes and rotation only.
const READ_OBJECT_ID: [CK_ATTRIBUTE_TYPE; 6] = [
    CKA_KEYWARD_OBJECT_ID,
    CKA_KEYWARD_STATE_REASON,
    CKA_KEYWARD_PREDECESSOR,
    CKA_KEYWARD_SUCCESSOR,
    CKA_KEYWARD_VERSION,
    CKA_KEYWARD_PRIMARY,
];

/// The usage flags, in the order they are listed.
pub const USES: [(&str, CK_ATTRIBUTE_TYPE); 7] = [
    ("sign", CKA_SIGN),
    ("verify", CKA_VERIFY),
    ("encrypt", CKA_ENCRYPT),
    ("decrypt", CKA_DECRYPT),
    ("wrap", CKA_WRAP),
    ("unwrap", CKA_UNWRAP),
    ("derive", CKA_DERIVE),
];

/// One object as `keys list` / `keys show` print it. In JSON, values the
/// token does not have (or has not yet: lifecycle attributes) are null.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyInfo {
    pub label: String,
    /// CKA_ID in lowercase hex.
    pub id: String,
    /// private, public, secret, cert or other.
    pub class: &'static str,
    /// ec, ed25519, x25519, ed448, x448, ml-dsa, ml-kem, rsa, aes,
    /// generic-secret, x509 or other.
    pub key_type: &'static str,
    /// Bits: modulus, curve order or secret length.
    pub size: Option<u64>,
    /// p192, p224 (compat profile), p256, p384 or p521 for EC keys.
    pub curve: Option<&'static str>,
    pub uses: Vec<&'static str>,
    pub state: Option<&'static str>,
    pub created: Option<String>,
    pub last_used: Option<String>,
    pub use_count: Option<u64>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub sensitive: Option<bool>,
    pub extractable: Option<bool>,
    /// A string in JSON: ids exceed 2^53, which jq would round.
    #[serde(serialize_with = "crate::output::id_as_string")]
    pub object_id: Option<u64>,
    /// The key's version number (1 until rotated); null for objects
    /// without versions.
    pub version: Option<u64>,
    /// Whether this is the version a label or id finds.
    pub primary: Option<bool>,
    /// Why the state last changed; only present once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// Object id of the key this one replaced (rotation); only if any.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::output::id_as_string"
    )]
    pub predecessor: Option<u64>,
    /// Object id of the key that replaced this one; only if any.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::output::id_as_string"
    )]
    pub successor: Option<u64>,
    #[serde(skip)]
    pub handle: CK_OBJECT_HANDLE,
    #[serde(skip)]
    pub raw_id: Vec<u8>,
}

impl KeyInfo {
    /// `key_type` with its size or curve, e.g. "ec-p256", "rsa-2048".
    pub fn type_and_size(&self) -> String {
        match (self.curve, self.size) {
            (Some(curve), _) => format!("{}-{curve}", self.key_type),
            (None, Some(bits)) if matches!(self.key_type, "rsa" | "aes" | "generic-secret") => {
                format!("{}-{bits}", self.key_type)
            }
            _ => self.key_type.to_string(),
        }
    }

    /// How the key is named in messages: label, id, version and object id.
    pub fn name(&self) -> String {
        let object_id = self.object_id.map(|n| format!(" #{n}")).unwrap_or_default();
        let version = self
            .version
            .map(|v| format!(" version {v}"))
            .unwrap_or_default();
        format!(
            "{} {:?} id:{}{version}{object_id}",
            self.class, self.label, self.id
        )
    }

    /// The CKO_ value of `class`.
    pub fn class_value(&self) -> CK_OBJECT_CLASS {
        match self.class {
            "private" => CKO_PRIVATE_KEY,
            "public" => CKO_PUBLIC_KEY,
            "secret" => CKO_SECRET_KEY,
            "cert" => CKO_CERTIFICATE,
            _ => CKO_DATA,
        }
    }

    /// The order lists are printed in: label, then id, then class, then
    /// version.
    pub fn sort_key(&self) -> (String, String, u8, u64) {
        let rank = match self.class {
            "private" => 0,
            "secret" => 1,
            "public" => 2,
            "cert" => 3,
            _ => 4,
        };
        (
            self.label.clone(),
            self.id.clone(),
            rank,
            self.version.unwrap_or(0),
        )
    }
}

fn value(r: Option<&AttrRead>) -> Option<&[u8]> {
    match r {
        Some(AttrRead::Value(v)) => Some(v),
        _ => None,
    }
}

fn ulong_of(r: Option<&AttrRead>) -> Option<u64> {
    let bytes: [u8; 8] = value(r)?.try_into().ok()?;
    Some(u64::from_ne_bytes(bytes))
}

fn bool_of(r: Option<&AttrRead>) -> Option<bool> {
    match value(r)? {
        [b] => Some(*b != 0),
        _ => None,
    }
}

fn class_name(class: Option<u64>) -> &'static str {
    match class {
        Some(CKO_PRIVATE_KEY) => "private",
        Some(CKO_PUBLIC_KEY) => "public",
        Some(CKO_SECRET_KEY) => "secret",
        Some(CKO_CERTIFICATE) => "cert",
        _ => "other",
    }
}

fn state_name(state: u64) -> &'static str {
    match state {
        CKW_STATE_PRE_ACTIVE => "pre-active",
        CKW_STATE_ACTIVE => "active",
        CKW_STATE_DEACTIVATED => "deactivated",
        CKW_STATE_COMPROMISED => "compromised",
        CKW_STATE_DESTROYED => "destroyed",
        _ => "unknown",
    }
}

/// The named curve of CKA_EC_PARAMS (DER OID or PrintableString name).
fn curve_of(params: &[u8]) -> Option<(&'static str, u64)> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    // The compat profile's legacy curves (`min_ec_bits`).
    const P192: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
    const P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
    match params {
        P192 => Some(("p192", 192)),
        P224 => Some(("p224", 224)),
        P256 => Some(("p256", 256)),
        P384 => Some(("p384", 384)),
        P521 => Some(("p521", 521)),
        [0x13, _, name @ ..] => match name {
            b"prime192v1" | b"secp192r1" => Some(("p192", 192)),
            b"secp224r1" => Some(("p224", 224)),
            b"prime256v1" | b"secp256r1" => Some(("p256", 256)),
            b"secp384r1" => Some(("p384", 384)),
            b"secp521r1" => Some(("p521", 521)),
            _ => None,
        },
        _ => None,
    }
}

/// CKA_EC_PARAMS naming edwards448 (id-Ed448 or "edwards448").
fn is_ed448(params: &[u8]) -> bool {
    params == [0x06, 0x03, 0x2b, 0x65, 0x71] || params == b"\x13\x0aedwards448"
}

/// CKA_EC_PARAMS naming curve448 (id-X448 or "curve448").
fn is_x448(params: &[u8]) -> bool {
    params == [0x06, 0x03, 0x2b, 0x65, 0x6f] || params == b"\x13\x08curve448"
}

/// Key type name, size in bits and curve.
fn kind(
    class: &str,
    key_type: Option<u64>,
    ec_params: Option<&[u8]>,
    modulus: Option<&[u8]>,
    value_len: Option<u64>,
) -> (&'static str, Option<u64>, Option<&'static str>) {
    let secret_bits = value_len.and_then(|n| n.checked_mul(8));
    match key_type {
        Some(CKK_EC) => {
            let curve = ec_params.and_then(curve_of);
            ("ec", curve.map(|c| c.1), curve.map(|c| c.0))
        }
        // RFC 8410 OIDs or the PKCS#11 curve names of the 448 curves.
        Some(CKK_EC_EDWARDS) if ec_params.is_some_and(is_ed448) => ("ed448", Some(448), None),
        Some(CKK_EC_MONTGOMERY) if ec_params.is_some_and(is_x448) => ("x448", Some(448), None),
        Some(CKK_EC_EDWARDS) => ("ed25519", Some(256), None),
        Some(CKK_EC_MONTGOMERY) => ("x25519", Some(256), None),
        Some(CKK_ML_DSA) => ("ml-dsa", None, None),
        Some(CKK_ML_KEM) => ("ml-kem", None, None),
        Some(CKK_SLH_DSA) => ("slh-dsa", None, None),
        Some(CKK_RSA) => {
            let bits = modulus.map(modulus_bits);
            ("rsa", bits, None)
        }
        Some(CKK_AES) => ("aes", secret_bits, None),
        Some(CKK_GENERIC_SECRET) => ("generic-secret", secret_bits, None),
        _ if class == "cert" => ("x509", None, None),
        _ => ("other", secret_bits, None),
    }
}

/// Bits in a big-endian modulus, leading zero bits excluded.
fn modulus_bits(m: &[u8]) -> u64 {
    let Some(pos) = m.iter().position(|b| *b != 0) else {
        return 0;
    };
    let rest = u64::try_from(m.len() - pos).unwrap_or(0);
    let lead = m.get(pos).map_or(0, |b| u64::from(b.leading_zeros()));
    rest * 8 - lead
}

/// Reads the description of one object.
pub fn describe(client: &mut Client, handle: CK_OBJECT_HANDLE) -> CliResult<KeyInfo> {
    let r = client.read(handle, &READ)?;
    let extra = client.read(handle, &READ_OBJECT_ID)?;
    let object_id = ulong_of(extra.first());
    let state_reason = value(extra.get(1)).map(|r| String::from_utf8_lossy(r).into_owned());
    let at = |ty: CK_ATTRIBUTE_TYPE| READ.iter().position(|t| *t == ty).and_then(|i| r.get(i));
    let class = class_name(ulong_of(at(CKA_CLASS)));
    let (key_type, size, curve) = kind(
        class,
        ulong_of(at(CKA_KEY_TYPE)),
        value(at(CKA_EC_PARAMS)),
        value(at(CKA_MODULUS)),
        ulong_of(at(CKA_VALUE_LEN)),
    );
    let raw_id = value(at(CKA_ID)).unwrap_or_default().to_vec();
    Ok(KeyInfo {
        label: String::from_utf8_lossy(value(at(CKA_LABEL)).unwrap_or_default()).into_owned(),
        id: hex(&raw_id),
        class,
        key_type,
        size,
        curve,
        uses: USES
            .iter()
            .filter(|(_, ty)| bool_of(at(*ty)) == Some(true))
            .map(|(name, _)| *name)
            .collect(),
        state: ulong_of(at(CKA_KEYWARD_STATE)).map(state_name),
        created: ulong_of(at(CKA_KEYWARD_CREATED)).and_then(rfc3339),
        last_used: ulong_of(at(CKA_KEYWARD_LAST_USED)).and_then(rfc3339),
        use_count: ulong_of(at(CKA_KEYWARD_USE_COUNT)),
        start_date: value(at(CKA_START_DATE)).and_then(ck_date),
        end_date: value(at(CKA_END_DATE)).and_then(ck_date),
        sensitive: bool_of(at(CKA_SENSITIVE)),
        extractable: bool_of(at(CKA_EXTRACTABLE)),
        object_id,
        state_reason,
        predecessor: ulong_of(extra.get(2)),
        successor: ulong_of(extra.get(3)),
        version: ulong_of(extra.get(4)),
        primary: bool_of(extra.get(5)),
        handle,
        raw_id,
    })
}

/// Every key and certificate the session sees (of `class`, if given),
/// sorted by [`KeyInfo::sort_key`].
pub fn describe_all(
    client: &mut Client,
    class: Option<CK_OBJECT_CLASS>,
) -> CliResult<Vec<KeyInfo>> {
    let template: Vec<_> = class
        .map(|c| crate::client::ulong(CKA_CLASS, c))
        .into_iter()
        .collect();
    let mut all = Vec::new();
    for h in client.find(&template)? {
        let info = describe(client, h)?;
        if info.class != "other" {
            all.push(info);
        }
    }
    all.sort_by_key(KeyInfo::sort_key);
    Ok(all)
}

/// Every key and certificate the session sees, every version (a plain
/// search finds primary versions only; the older ones are asked for with
/// CKA_KEYWARD_PRIMARY = false).
pub fn describe_all_versions(
    client: &mut Client,
    class: Option<CK_OBJECT_CLASS>,
) -> CliResult<Vec<KeyInfo>> {
    let mut all = describe_all(client, class)?;
    let mut template: Vec<_> = class
        .map(|c| crate::client::ulong(CKA_CLASS, c))
        .into_iter()
        .collect();
    template.push(crate::client::flag(CKA_KEYWARD_PRIMARY, false));
    for h in client.find(&template)? {
        let info = describe(client, h)?;
        if info.class != "other" {
            all.push(info);
        }
    }
    all.sort_by_key(KeyInfo::sort_key);
    Ok(all)
}

/// A `<key>` argument: a label, `id:HEX` or `#N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Label(String),
    Id(Vec<u8>),
    ObjectId(u64),
}

impl Selector {
    pub fn parse(text: &str) -> CliResult<Selector> {
        if let Some(h) = text.strip_prefix("id:") {
            return parse_hex(h)
                .map(Selector::Id)
                .ok_or_else(|| CliError::usage(format!("bad hex in {text:?}")));
        }
        // `obj:N` is `#N` without the quoting a shell needs for `#`.
        if let Some(n) = text.strip_prefix('#').or_else(|| text.strip_prefix("obj:")) {
            return n
                .parse()
                .map(Selector::ObjectId)
                .map_err(|_| CliError::usage(format!("bad object id in {text:?}")));
        }
        Ok(Selector::Label(text.to_string()))
    }

    /// A selector and the version `@N` after it asks for, if any
    /// (`web-tls@1`, `id:0a@2`). A label that itself ends in `@digits`
    /// is addressed by `id:HEX` or `#N`.
    pub fn parse_versioned(text: &str) -> CliResult<(Selector, Option<u64>)> {
        if let Some((name, v)) = text.rsplit_once('@')
            && !name.is_empty()
            && !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_digit())
        {
            let version = v
                .parse()
                .map_err(|_| CliError::usage(format!("bad version in {text:?}")))?;
            return Ok((Selector::parse(name)?, Some(version)));
        }
        Ok((Selector::parse(text)?, None))
    }

    pub fn matches(&self, info: &KeyInfo) -> bool {
        match self {
            Selector::Label(l) => info.label == *l,
            Selector::Id(id) => info.raw_id == *id,
            Selector::ObjectId(n) => info.object_id == Some(*n),
        }
    }
}

/// The one key `text` names. A key pair's halves share a label and id,
/// so the private (or secret) key stands for the pair; failing that a
/// public key, then a certificate. None or several: exit 4.
///
/// A label or id names the primary version; `@N` version N; `#N` the
/// object whatever its version.
pub fn select_one(client: &mut Client, text: &str) -> CliResult<KeyInfo> {
    let (selector, version) = Selector::parse_versioned(text)?;
    let every = version.is_some() || matches!(selector, Selector::ObjectId(_));
    let all = if every {
        describe_all_versions(client, None)?
    } else {
        describe_all(client, None)?
    };
    let named: Vec<KeyInfo> = all.into_iter().filter(|k| selector.matches(k)).collect();
    let Some(v) = version else {
        return pick(named, text);
    };
    let mut known: Vec<u64> = named.iter().filter_map(|k| k.version).collect();
    known.sort_unstable();
    known.dedup();
    let found: Vec<KeyInfo> = named.into_iter().filter(|k| k.version == Some(v)).collect();
    if found.is_empty() && !known.is_empty() {
        let list: Vec<String> = known.iter().map(u64::to_string).collect();
        return Err(CliError::not_found(format!(
            "{text:?}: there is no version {v} (versions: {})",
            list.join(", ")
        )));
    }
    pick(found, text)
}

fn pick(found: Vec<KeyInfo>, text: &str) -> CliResult<KeyInfo> {
    let tiers: [&[&str]; 3] = [&["private", "secret"], &["public"], &["cert"]];
    for tier in tiers {
        let mut in_tier: Vec<KeyInfo> = found
            .iter()
            .filter(|k| tier.contains(&k.class))
            .cloned()
            .collect();
        match in_tier.len() {
            0 => continue,
            1 => return in_tier.pop().ok_or_else(|| CliError::failure("lost a key")),
            _ => {
                let names: Vec<String> = in_tier.iter().map(KeyInfo::name).collect();
                return Err(CliError::not_found(format!(
                    "{} keys match {text:?}: {}; select one by id:HEX or #N",
                    in_tier.len(),
                    names.join(", ")
                )));
            }
        }
    }
    Err(CliError::not_found(format!("no key matches {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(label: &str, id: &str, class: &'static str) -> KeyInfo {
        KeyInfo {
            label: label.into(),
            id: id.into(),
            class,
            key_type: "ec",
            size: Some(256),
            curve: Some("p256"),
            uses: vec![],
            state: None,
            created: None,
            last_used: None,
            use_count: None,
            start_date: None,
            end_date: None,
            sensitive: None,
            extractable: None,
            object_id: None,
            version: None,
            primary: None,
            state_reason: None,
            predecessor: None,
            successor: None,
            handle: 0,
            raw_id: parse_hex(id).unwrap(),
        }
    }

    #[test]
    fn selectors() {
        assert_eq!(
            Selector::parse("id:0aFF").unwrap(),
            Selector::Id(vec![10, 255])
        );
        assert_eq!(Selector::parse("#12").unwrap(), Selector::ObjectId(12));
        assert_eq!(
            Selector::parse("web").unwrap(),
            Selector::Label("web".into())
        );
        assert_eq!(Selector::parse("id:zz").unwrap_err().code, 2);
        assert_eq!(Selector::parse("#x").unwrap_err().code, 2);
        assert_eq!(
            Selector::parse_versioned("web@2").unwrap(),
            (Selector::Label("web".into()), Some(2))
        );
        assert_eq!(
            Selector::parse_versioned("id:0a@1").unwrap(),
            (Selector::Id(vec![10]), Some(1))
        );
        assert_eq!(
            Selector::parse_versioned("a@b").unwrap(),
            (Selector::Label("a@b".into()), None)
        );
        assert_eq!(
            Selector::parse_versioned("@3").unwrap(),
            (Selector::Label("@3".into()), None)
        );
        let k = info("web", "0a", "private");
        assert!(Selector::Id(vec![10]).matches(&k));
        assert!(!Selector::ObjectId(1).matches(&k));
    }

    #[test]
    fn the_private_half_stands_for_the_pair() {
        let pair = vec![info("web", "01", "public"), info("web", "01", "private")];
        assert_eq!(pick(pair, "web").unwrap().class, "private");
        let only_public = vec![info("web", "01", "public")];
        assert_eq!(pick(only_public, "web").unwrap().class, "public");
        let two = vec![info("web", "01", "private"), info("web", "02", "secret")];
        let e = pick(two, "web").unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.message.contains("id:01") && e.message.contains("id:02"));
        assert_eq!(pick(vec![], "web").unwrap_err().code, 4);
    }

    #[test]
    fn kinds_and_sizes() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01, 0]), 9);
        let p384 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert_eq!(
            kind("private", Some(CKK_EC), Some(&p384), None, None),
            ("ec", Some(384), Some("p384"))
        );
        let p192 = b"\x13\x0aprime192v1";
        assert_eq!(
            kind("public", Some(CKK_EC), Some(p192), None, None),
            ("ec", Some(192), Some("p192"))
        );
        assert_eq!(
            kind("secret", Some(CKK_AES), None, None, Some(16)),
            ("aes", Some(128), None)
        );
        let ed448 = [0x06, 0x03, 0x2b, 0x65, 0x71];
        assert_eq!(
            kind("private", Some(CKK_EC_EDWARDS), Some(&ed448), None, None),
            ("ed448", Some(448), None)
        );
        assert_eq!(
            kind(
                "public",
                Some(CKK_EC_MONTGOMERY),
                Some(b"\x13\x08curve448"),
                None,
                None
            ),
            ("x448", Some(448), None)
        );
        let ed25519 = [0x06, 0x03, 0x2b, 0x65, 0x70];
        assert_eq!(
            kind("private", Some(CKK_EC_EDWARDS), Some(&ed25519), None, None),
            ("ed25519", Some(256), None)
        );
        let mut k = info("a", "01", "private");
        assert_eq!(k.type_and_size(), "ec-p256");
        k.curve = None;
        k.key_type = "rsa";
        k.size = Some(2048);
        assert_eq!(k.type_and_size(), "rsa-2048");
    }
}
