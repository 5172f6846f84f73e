//! `keyward pin init|change|unlock`: C_InitPIN by the SO to set the first
//! user PIN (init) or replace a locked or lost one (unlock), and C_SetPIN
//! for the user or SO PIN (change).

use cryptoki_sys::*;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult, EXIT_REFUSED};
use crate::output::done;
use crate::pins::Secret;
use serde_json::json;

/// `pin change [--so]`. --pin-fd lines: the current PIN, then the new one.
pub fn change(ctx: &mut Ctx, so: bool) -> CliResult<()> {
    let (old_kind, new_kind, role) = if so {
        (Secret::SoPin, Secret::NewSoPin, "SO")
    } else {
        (Secret::UserPin, Secret::NewUserPin, "user")
    };
    let mut client = Client::new(ctx.slot)?;
    let old = ctx.secrets.get(old_kind)?;
    let new = ctx.secrets.get(new_kind)?;
    if so {
        // C_SetPIN changes the SO PIN only in an SO session.
        client.login(CKU_SO, &old)?;
    }
    let h = client.session()?;
    client
        .lib()
        .set_pin(h, old.as_bytes(), new.as_bytes())
        .map_err(|e| client.pin_error(&format!("changing the {role} PIN failed"), role, e))?;
    done(
        ctx.json,
        &format!(
            "changed the {role} PIN of the token in slot {}",
            client.slot()
        ),
        json!({"slot": client.slot(), "role": role}),
    )
}

/// `pin init`: the first user PIN, set by the SO. A token whose user PIN
/// is already set is left alone (exit 6): replacing a PIN is `pin unlock`'s
/// job, and says so. --pin-fd lines: the SO PIN, then the new user PIN.
pub fn init(ctx: &mut Ctx) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    let info = client
        .lib()
        .token_info(client.slot())
        .map_err(|e| CliError::ck("cannot read the token", "", e))?;
    if info.flags & CKF_TOKEN_INITIALIZED == 0 {
        return Err(CliError::ck(
            "setting the user PIN failed",
            "SO",
            keyward::error::Error::TokenNotRecognized,
        ));
    }
    if info.flags & CKF_USER_PIN_INITIALIZED != 0 {
        return Err(CliError::new(
            EXIT_REFUSED,
            "the user PIN is already set: change it with `keyward pin change`, or have the SO \
             replace a locked or forgotten one with `keyward pin unlock`",
        ));
    }
    set_user_pin(ctx, &mut client)?;
    done(
        ctx.json,
        &format!("set the user PIN of the token in slot {}", client.slot()),
        json!({"slot": client.slot()}),
    )
}

/// The SO logs in and sets a new user PIN (C_InitPIN).
fn set_user_pin(ctx: &mut Ctx, client: &mut Client) -> CliResult<()> {
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let new = ctx.secrets.get(Secret::NewUserPin)?;
    client.login(CKU_SO, &so_pin)?;
    let h = client.session()?;
    client
        .lib()
        .init_pin(h, new.as_bytes())
        .map_err(|e| client.pin_error("setting the user PIN failed", "new user", e))?;
    client.logout()
}

/// `pin unlock`: the SO sets a new user PIN, which also clears its lock.
/// --pin-fd lines: the SO PIN, then the new user PIN.
pub fn unlock(ctx: &mut Ctx) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    set_user_pin(ctx, &mut client)?;
    done(
        ctx.json,
        &format!(
            "set a new user PIN on the token in slot {} (it is unlocked)",
            client.slot()
        ),
        json!({"slot": client.slot()}),
    )
}
