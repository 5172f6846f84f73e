//! What `keys generate` checks before it asks the token for a key: the
//! mistakes the token would accept (or answer with a bare CKR code) but an
//! operator never means: an empty label, an end date already past or
//! before the start date, a usage the key type cannot have, and an id
//! another object already carries (NSS and pkcs11-tool pair keys and
//! certificates by CKA_ID, so a duplicate silently mixes two keys up).

use cryptoki_sys::*;

use crate::client::{Client, bytes};
use crate::fail::{CliError, CliResult, EXIT_REFUSED};
use crate::keyinfo::describe;
use crate::keys_cmd::{Bytes, GenerateArgs, KeyTypeArg, UseArg};
use crate::output::{ck_date, hex};
use keyward::lifecycle::dates;

/// The uses a key type can have, named as `--usage` takes them.
fn possible_uses(t: KeyTypeArg) -> &'static [UseArg] {
    use KeyTypeArg::*;
    use UseArg::*;
    match t {
        EcP256 | EcP384 | EcP521 => &[Sign, Verify, Derive],
        Ed25519 | Ed448 | MlDsa44 | MlDsa65 | MlDsa87 => &[Sign, Verify],
        X25519 | X448 => &[Derive],
        Rsa2048 | Rsa3072 | Rsa4096 => &[Sign, Verify, Encrypt, Decrypt, Wrap, Unwrap],
        Aes128 | Aes192 | Aes256 => &[Encrypt, Decrypt, Wrap, Unwrap, Derive],
        HmacSha256 => &[Sign, Verify, Derive],
        MlKem512 | MlKem768 | MlKem1024 => &[],
        SlhDsaSha2128s | SlhDsaSha2128f | SlhDsaSha2192s | SlhDsaSha2192f | SlhDsaSha2256s
        | SlhDsaSha2256f | SlhDsaShake128s | SlhDsaShake128f | SlhDsaShake192s
        | SlhDsaShake192f | SlhDsaShake256s | SlhDsaShake256f => &[Sign, Verify],
    }
}

fn use_name(u: UseArg) -> &'static str {
    match u {
        UseArg::Sign => "sign",
        UseArg::Verify => "verify",
        UseArg::Encrypt => "encrypt",
        UseArg::Decrypt => "decrypt",
        UseArg::Wrap => "wrap",
        UseArg::Unwrap => "unwrap",
        UseArg::Derive => "derive",
    }
}

fn type_name(t: KeyTypeArg) -> String {
    use clap::ValueEnum;
    t.to_possible_value()
        .map_or_else(|| format!("{t:?}"), |v| v.get_name().to_string())
}

/// The checks that need no token (exit 2 on failure).
pub fn check_args(args: &GenerateArgs) -> CliResult<()> {
    if args.label.trim().is_empty() {
        return Err(CliError::usage(
            "the label is empty: applications find a key by its label (CKA_LABEL); \
             give --label NAME",
        ));
    }
    let possible = possible_uses(args.key_type);
    let impossible: Vec<&str> = args
        .usage
        .iter()
        .filter(|u| !possible.contains(u))
        .map(|u| use_name(*u))
        .collect();
    if !impossible.is_empty() {
        let can: Vec<&str> = possible.iter().map(|u| use_name(*u)).collect();
        return Err(CliError::usage(format!(
            "a key of type {} cannot {}; it can: {}",
            type_name(args.key_type),
            impossible.join(","),
            can.join(",")
        )));
    }
    check_dates(
        args.start_date.as_ref(),
        args.end_date.as_ref(),
        dates::today(),
    )
}

fn check_dates(start: Option<&Bytes>, end: Option<&Bytes>, today: time::Date) -> CliResult<()> {
    let show = |b: &Bytes| ck_date(&b.0).unwrap_or_default();
    let Some(end_b) = end else {
        return Ok(());
    };
    let Some(end_d) = dates::parse(&end_b.0) else {
        return Ok(());
    };
    if end_d < today {
        return Err(CliError::usage(format!(
            "the end date {} is in the past (today is {}): the key would be unusable from \
             the start",
            show(end_b),
            dates::show(today)
        )));
    }
    if let Some(start_b) = start
        && let Some(start_d) = dates::parse(&start_b.0)
        && end_d < start_d
    {
        return Err(CliError::usage(format!(
            "the end date {} is before the start date {}",
            show(end_b),
            show(start_b)
        )));
    }
    Ok(())
}

/// With --id, no object may carry that id already, unless --force
/// (exit 6 otherwise, naming the objects).
pub fn check_id_unused(client: &mut Client, args: &GenerateArgs) -> CliResult<()> {
    let Some(Bytes(id)) = &args.id else {
        return Ok(());
    };
    if args.force {
        return Ok(());
    }
    let found = client.find(&[bytes(CKA_ID, id)])?;
    let mut holders = Vec::new();
    for h in found {
        let k = describe(client, h)?;
        if k.class != "other" {
            holders.push(k);
        }
    }
    // In the order lists use (private before public), so the message is
    // stable whatever order the search returns.
    holders.sort_by_key(crate::keyinfo::KeyInfo::sort_key);
    let names: Vec<String> = holders.iter().map(crate::keyinfo::KeyInfo::name).collect();
    if names.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        EXIT_REFUSED,
        format!(
            "the id {} is already used by {}; clients pair keys and certificates by id, so \
             pick another --id, or pass --force to share it",
            hex(id),
            names.join(", ")
        ),
    ))
}

/// The label is a key's name: no key may carry it already (a second key
/// under one name would make every client that selects by label pick one
/// of two), unless --force. A new version of a key is made by rotating it.
/// Exit 6 otherwise, naming the key.
pub fn check_label_unused(client: &mut Client, args: &GenerateArgs) -> CliResult<()> {
    if args.force {
        return Ok(());
    }
    // A plain search: only primary versions answer, one per rotated key.
    let found = client.find(&[bytes(CKA_LABEL, args.label.as_bytes())])?;
    let mut holders = Vec::new();
    for h in found {
        let k = describe(client, h)?;
        if matches!(k.class, "private" | "secret") {
            holders.push(k);
        }
    }
    holders.sort_by_key(crate::keyinfo::KeyInfo::sort_key);
    let Some(first) = holders.first() else {
        return Ok(());
    };
    Err(CliError::new(
        EXIT_REFUSED,
        format!(
            "the label {:?} already names a key ({}); a label is a key's name: make a new \
             version with `keyward keys rotate {:?}`, pick another --label, or pass --force",
            args.label,
            first.name(),
            args.label
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Bytes {
        Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn dates_are_checked() {
        let today = dates::parse(b"20300615").unwrap();
        assert!(check_dates(None, Some(&day("20300615")), today).is_ok());
        let e = check_dates(None, Some(&day("20300614")), today).unwrap_err();
        assert_eq!(e.code, 2);
        assert_eq!(
            e.message,
            "the end date 2030-06-14 is in the past (today is 2030-06-15): the key would be \
             unusable from the start"
        );
        let e = check_dates(Some(&day("20310101")), Some(&day("20301231")), today).unwrap_err();
        assert_eq!(
            e.message,
            "the end date 2030-12-31 is before the start date 2031-01-01"
        );
    }

    #[test]
    fn uses_follow_the_type() {
        assert!(possible_uses(KeyTypeArg::Ed25519).contains(&UseArg::Sign));
        assert!(!possible_uses(KeyTypeArg::Aes256).contains(&UseArg::Sign));
        assert!(!possible_uses(KeyTypeArg::EcP256).contains(&UseArg::Encrypt));
        assert_eq!(type_name(KeyTypeArg::EcP256), "ec-p256");
    }
}
