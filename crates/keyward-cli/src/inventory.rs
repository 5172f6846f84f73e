//! The key inventory as a table (shared by `keys list` and its public
//! form), and `keys list --public`: monitoring without any PIN.
//!
//! The public inventory is exactly what a PKCS#11 session that is not
//! logged in sees: non-private objects (public keys, certificates, and any
//! key made with CKA_PRIVATE=false) with their labels, ids, types, states
//! and dates. Private and secret keys are private objects, so they are not
//! listed: showing them without the PIN would weaken the privacy a private
//! object promises (even its existence and label are the user's). A
//! private key's expiry is still visible through its public key and
//! certificate, which carry the same label, id and dates.

use comfy_table::{Cell, Table};
use cryptoki_sys::*;

use crate::Ctx;
use crate::client::Client;
use crate::fail::CliResult;
use crate::keyinfo::{KeyInfo, describe};
use crate::keys_cmd::ClassArg;
use crate::output::{hide_to_fit, print_json, print_table, state_cell, table};

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The `keys list` columns.
const HEADER: [&str; 14] = [
    "LABEL",
    "ID",
    "CLASS",
    "TYPE",
    "VERSION",
    "PRIMARY",
    "USES",
    "STATE",
    "START",
    "END",
    "CREATED",
    "LAST USED",
    "COUNT",
    "OBJECT",
];

/// The columns by importance, for a narrow terminal: label, state, end
/// date, version, type, class, id, start date, object id, primary, uses,
/// then the usage statistics.
const PRIORITY: [usize; 14] = [0, 7, 9, 4, 3, 2, 1, 8, 13, 5, 6, 10, 11, 12];

/// Prints the `keys list` table; on a narrow terminal, the least important
/// columns are left out and named on a last line.
pub fn print_key_table(keys: &[KeyInfo]) {
    let mut t = key_table(keys);
    let hidden = hide_to_fit(&mut t, &HEADER, &PRIORITY);
    print_table(&t);
    if !hidden.is_empty() {
        println!(
            "({} columns hidden to fit the terminal; widen it, or use --json)",
            hidden.len()
        );
    }
}

/// The `keys list` table: one row a key, with its start and end dates, its
/// state coloured on a terminal, fitted to the terminal's width.
pub fn key_table(keys: &[KeyInfo]) -> Table {
    let mut t = table(&HEADER);
    for k in keys {
        let uses = if k.uses.is_empty() {
            "-".to_string()
        } else {
            k.uses.join(",")
        };
        t.add_row(vec![
            Cell::new(&k.label),
            Cell::new(&k.id),
            Cell::new(k.class),
            Cell::new(k.type_and_size()),
            Cell::new(dash(k.version)),
            Cell::new(dash(k.primary.map(|p| if p { "yes" } else { "no" }))),
            Cell::new(uses),
            state_cell(k.state.unwrap_or("-")),
            Cell::new(dash(k.start_date.as_ref())),
            Cell::new(dash(k.end_date.as_ref())),
            Cell::new(dash(k.created.as_ref())),
            Cell::new(dash(k.last_used.as_ref())),
            Cell::new(dash(k.use_count)),
            Cell::new(dash(k.object_id.map(|n| format!("#{n}")))),
        ]);
    }
    t
}

/// `keys list --public`: no PIN is read or asked for.
pub fn list_public(ctx: &mut Ctx, class: ClassArg, label: Option<&str>) -> CliResult<()> {
    let mut client = Client::new(ctx.slot)?;
    let template: Vec<_> = class_value(class)
        .map(|c| crate::client::ulong(CKA_CLASS, c))
        .into_iter()
        .collect();
    let mut keys = Vec::new();
    for h in client.find(&template)? {
        let k = describe(&mut client, h)?;
        if k.class != "other" && label.is_none_or(|l| k.label == l) {
            keys.push(k);
        }
    }
    keys.sort_by_key(KeyInfo::sort_key);
    if ctx.json {
        return print_json(&keys);
    }
    print_key_table(&keys);
    Ok(())
}

fn class_value(class: ClassArg) -> Option<CK_OBJECT_CLASS> {
    match class {
        ClassArg::Private => Some(CKO_PRIVATE_KEY),
        ClassArg::Public => Some(CKO_PUBLIC_KEY),
        ClassArg::Secret => Some(CKO_SECRET_KEY),
        ClassArg::Cert => Some(CKO_CERTIFICATE),
        ClassArg::All => None,
    }
}
