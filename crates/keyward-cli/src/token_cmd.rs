//! `keyward token init|reset|info|list|check`: token initialization, the
//! crypto-erasing reset that recovers a locked SO PIN, what the token
//! reports of itself (CK_TOKEN_INFO), and the object integrity check.

use std::io::IsTerminal;

use cryptoki_sys::*;
use serde::Serialize;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult, EXIT_INTEGRITY};
use crate::output::{print_json, print_table, table};
use crate::pins::Secret;
use keyward::error::Error;

/// A token as `token info` and `token list` show it.
#[derive(Debug, Serialize)]
pub struct TokenRow {
    pub slot: u64,
    pub description: String,
    pub label: String,
    pub serial: String,
    pub initialized: bool,
    pub user_pin_set: bool,
    pub user_pin_locked: bool,
    pub user_pin_count_low: bool,
    pub so_pin_locked: bool,
    pub min_pin_len: u64,
    pub max_pin_len: u64,
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).trim_end().to_string()
}

fn row(client: &Client, slot: CK_SLOT_ID) -> CliResult<TokenRow> {
    let lib = client.lib();
    let ck = |e| CliError::ck(&format!("cannot read slot {slot}"), "", e);
    let slot_info = lib.slot_info(slot).map_err(ck)?;
    let info = lib.token_info(slot).map_err(ck)?;
    let has = |f: CK_FLAGS| info.flags & f != 0;
    Ok(TokenRow {
        slot,
        description: text(&slot_info.slotDescription),
        label: text(&info.label),
        serial: text(&info.serialNumber),
        initialized: has(CKF_TOKEN_INITIALIZED),
        user_pin_set: has(CKF_USER_PIN_INITIALIZED),
        user_pin_locked: has(CKF_USER_PIN_LOCKED),
        user_pin_count_low: has(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY),
        so_pin_locked: has(CKF_SO_PIN_LOCKED),
        min_pin_len: info.ulMinPinLen,
        max_pin_len: info.ulMaxPinLen,
    })
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// `token info`: the chosen slot's token.
pub fn info(ctx: &mut Ctx) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let r = row(&client, client.slot())?;
    if ctx.json {
        return print_json(&r);
    }
    let mut t = table(&["FIELD", "VALUE"]);
    for (k, v) in [
        ("slot", r.slot.to_string()),
        ("description", r.description),
        ("label", r.label),
        ("serial", r.serial),
        ("initialized", yes_no(r.initialized).into()),
        ("user PIN set", yes_no(r.user_pin_set).into()),
        ("user PIN locked", yes_no(r.user_pin_locked).into()),
        ("user PIN count low", yes_no(r.user_pin_count_low).into()),
        ("SO PIN locked", yes_no(r.so_pin_locked).into()),
        (
            "PIN length",
            format!("{}..{}", r.min_pin_len, r.max_pin_len),
        ),
    ] {
        t.add_row(vec![k.to_string(), v]);
    }
    print_table(&t);
    Ok(())
}

/// `token list`: every configured slot, by slot id.
pub fn list(ctx: &mut Ctx) -> CliResult<()> {
    let client = Client::new(ctx.slot)?;
    let mut slots = client.lib().slot_list(true);
    slots.sort_unstable();
    let rows = slots
        .into_iter()
        .map(|s| row(&client, s))
        .collect::<CliResult<Vec<_>>>()?;
    if ctx.json {
        return print_json(&rows);
    }
    let mut t = table(&[
        "SLOT",
        "DESCRIPTION",
        "LABEL",
        "SERIAL",
        "INITIALIZED",
        "USER PIN",
    ]);
    for r in rows {
        let pin = match (r.user_pin_set, r.user_pin_locked) {
            (false, _) => "not set",
            (true, true) => "locked",
            (true, false) => "set",
        };
        t.add_row(vec![
            r.slot.to_string(),
            r.description,
            r.label,
            r.serial,
            yes_no(r.initialized).to_string(),
            pin.to_string(),
        ]);
    }
    print_table(&t);
    Ok(())
}

/// `token check`: checks every object row (the user PIN opens the
/// private ones) and lists the damaged ones; any damage is exit 5.
pub fn check(ctx: &mut Ctx) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    let pin = ctx.secrets.get(Secret::UserPin)?;
    client.login(CKU_USER, &pin)?;
    let damaged = client
        .lib()
        .check_token(client.slot())
        .map_err(|e| CliError::ck("cannot check the token's objects", "user", e))?;
    if ctx.json {
        // Object ids as strings, as everywhere in JSON (they exceed 2^53).
        let rows: Vec<serde_json::Value> = damaged
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .map(|mut v| {
                if let Some(id) = v.get_mut("object_id") {
                    *id = serde_json::Value::String(id.to_string());
                }
                v
            })
            .collect();
        print_json(&rows)?;
    } else if damaged.is_empty() {
        println!("token OK: every object passed its integrity check");
    } else {
        let mut t = table(&["OBJECT", "CLASS", "PRIVATE", "LABEL", "ROW FINGERPRINT"]);
        for d in &damaged {
            t.add_row(vec![
                format!("#{}", d.object_id),
                d.class.clone(),
                yes_no(d.private).to_string(),
                d.label.clone().unwrap_or_else(|| "?".into()),
                d.fingerprint.clone(),
            ]);
        }
        print_table(&t);
    }
    if damaged.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        EXIT_INTEGRITY,
        format!(
            "{} object row(s) failed their integrity check (recorded in the audit trail)",
            damaged.len()
        ),
    ))
}

/// `token init`: (re-)initializes the token. A fresh token takes a new SO
/// PIN; re-initializing (which destroys every object) needs the current
/// SO PIN, which stays. With --user-pin or KEYWARD_NEW_PIN the user PIN is
/// set too. --pin-fd lines: the SO PIN, then the user PIN.
pub fn init(ctx: &mut Ctx, label: &str, user_pin: bool) -> CliResult<()> {
    let label32 = label_field(label)?;
    let client = Client::create(ctx.slot)?;
    let slot = client.slot();
    let current = row(&client, slot)?;
    let so_pin = if current.initialized {
        confirm(
            ctx.yes,
            &format!(
                "re-initialize the token {:?} in slot {slot}? this destroys every object on it",
                current.label
            ),
        )?;
        ctx.secrets.get(Secret::SoPin)?
    } else {
        ctx.secrets.get(Secret::NewSoPin)?
    };
    let user = if user_pin
        || std::env::var_os(Secret::NewUserPin.env_var()).is_some()
        || offer_user_pin(ctx)?
    {
        Some(ctx.secrets.get(Secret::NewUserPin)?)
    } else {
        None
    };
    let role = if current.initialized { "SO" } else { "new SO" };
    client
        .lib()
        .init_token(slot, so_pin.as_bytes(), &label32)
        .map_err(|e| {
            let mut err = client.pin_error("token initialization failed", role, e);
            if e == Error::PinLocked {
                err.message.push_str(&format!(
                    "; the only way back is `keyward token reset --slot {slot} --label {:?}`, which erases every key",
                    current.label
                ));
            }
            err
        })?;
    let mut client = client;
    if let Some(pin) = &user {
        client.login(CKU_SO, &so_pin)?;
        let h = client.session()?;
        client
            .lib()
            .init_pin(h, pin.as_bytes())
            .map_err(|e| client.pin_error("setting the user PIN failed", "new user", e))?;
        client.logout()?;
    }
    let after = row(&client, slot)?;
    let message = format!(
        "initialized the token in slot {slot}: label {:?}, serial {}{}",
        after.label,
        after.serial,
        if user.is_some() {
            ", user PIN set"
        } else {
            "; set the user PIN with `keyward pin init`"
        }
    );
    crate::output::done(
        ctx.json,
        &message,
        serde_json::json!({
            "slot": slot, "label": after.label, "serial": after.serial,
            "user_pin_set": after.user_pin_set,
        }),
    )
}

/// On a terminal (and without --pin-fd or --pin-file), a first `token init`
/// offers to set the user PIN too, default yes: a token without one is of
/// no use to applications yet.
fn offer_user_pin(ctx: &Ctx) -> CliResult<bool> {
    if !ctx.secrets.interactive() || ctx.secrets.has_lines() {
        return Ok(false);
    }
    eprint!("Set the user PIN now? [Y/n] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure(format!("cannot read the answer: {e}")))?;
    Ok(!matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "n" | "no"
    ))
}

/// The rule `token reset` enforces, quoted in its refusals.
const RESET_RULE: &str = "token reset erases every key and PIN on the token; confirm by typing \
the token label back on a terminal, or pass --yes-erase-all-keys (--yes is not enough)";

/// `token reset`: recovery from a locked SO PIN. Needs no PIN, only the
/// token's label (`label`, checked against the token) and an explicit
/// confirmation; crypto-erases every object and PIN, and sets a new SO PIN
/// (KEYWARD_NEW_SO_PIN, or --pin-fd's first line, or a prompt).
pub fn reset(ctx: &mut Ctx, label: &str, erase_confirmed: bool) -> CliResult<()> {
    let label32 = label_field(label)?;
    let client = Client::new(ctx.slot)?;
    let slot = client.slot();
    let current = row(&client, slot)?;
    if !current.initialized {
        return Err(CliError::failure(format!(
            "the token in slot {slot} is not initialized: nothing to reset (keyward token init)"
        )));
    }
    if current.label != text(&label32) {
        return Err(CliError::usage(format!(
            "the token in slot {slot} is labelled {:?}, not {label:?}; {RESET_RULE}",
            current.label
        )));
    }
    if !erase_confirmed {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "refusing without confirmation (stdin is not a terminal): {RESET_RULE}"
            )));
        }
        eprint!(
            "this erases every key on the token {:?} in slot {slot} (serial {}), for good.\n\
             type the token label to confirm: ",
            current.label, current.serial
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::failure(format!("cannot read the answer: {e}")))?;
        if answer.trim_end_matches(['\r', '\n']) != current.label {
            return Err(CliError::failure(format!(
                "cancelled: the label typed does not match; {RESET_RULE}"
            )));
        }
    }
    let so_pin = ctx.secrets.get(Secret::NewSoPin)?;
    client
        .lib()
        .reset_token(slot, &label32, so_pin.as_bytes())
        .map_err(|e| CliError::ck("token reset failed", "new SO", e))?;
    let message = format!(
        "reset the token in slot {slot} (label {:?}, serial {}): every key and PIN erased, \
         new SO PIN set; set a user PIN with `keyward pin init`",
        current.label, current.serial
    );
    crate::output::done(
        ctx.json,
        &message,
        serde_json::json!({"slot": slot, "label": current.label, "serial": current.serial}),
    )
}

/// A label as the 32-byte blank-padded CK_UTF8CHAR field.
fn label_field(label: &str) -> CliResult<[u8; 32]> {
    if label.len() > 32 {
        return Err(CliError::usage(format!(
            "the label is {} bytes; a token label is at most 32",
            label.len()
        )));
    }
    let mut field = [b' '; 32];
    for (dst, src) in field.iter_mut().zip(label.bytes()) {
        *dst = src;
    }
    Ok(field)
}

/// Asks `question` on a terminal unless --yes; without a terminal and
/// without --yes it is a usage error (exit 2), never a wait.
pub fn confirm(yes: bool, question: &str) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "{question}: refusing without --yes (stdin is not a terminal); pass --yes"
        )));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::failure("cancelled")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_padded_and_bounded() {
        let f = label_field("ab").unwrap();
        assert_eq!(&f[..3], b"ab ");
        assert_eq!(text(&f), "ab");
        assert!(label_field(&"x".repeat(32)).is_ok());
        assert_eq!(label_field(&"x".repeat(33)).unwrap_err().code, 2);
    }

    #[test]
    fn confirmation_is_skipped_only_with_yes() {
        assert!(confirm(true, "q").is_ok());
        // Test runs have no terminal on stdin (cargo test captures it).
        if !std::io::stdin().is_terminal() {
            let e = confirm(false, "q").unwrap_err();
            assert_eq!(e.code, 2);
            assert!(e.message.contains("--yes"));
        }
    }
}
