//! `keyward pin change|unlock`: C_SetPIN for the user or SO PIN, and
//! C_InitPIN by the SO to set (and so unlock) the user PIN.

use cryptoki_sys::*;

use crate::Ctx;
use crate::client::Client;
use crate::fail::{CliError, CliResult};
use crate::pins::Secret;

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
        .map_err(|e| CliError::ck(&format!("changing the {role} PIN failed"), role, e))?;
    println!(
        "changed the {role} PIN of the token in slot {}",
        client.slot()
    );
    Ok(())
}

/// `pin unlock`: the SO sets a new user PIN, which also clears its lock.
/// --pin-fd lines: the SO PIN, then the new user PIN.
pub fn unlock(ctx: &mut Ctx) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    let so_pin = ctx.secrets.get(Secret::SoPin)?;
    let new = ctx.secrets.get(Secret::NewUserPin)?;
    client.login(CKU_SO, &so_pin)?;
    let h = client.session()?;
    client
        .lib()
        .init_pin(h, new.as_bytes())
        .map_err(|e| CliError::ck("setting the user PIN failed", "new user", e))?;
    client.logout()?;
    println!(
        "set a new user PIN on the token in slot {} (it is unlocked)",
        client.slot()
    );
    Ok(())
}
