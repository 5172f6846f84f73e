//! How results are shown: tables (borders on a terminal, colour too unless
//! NO_COLOR, fitted to the terminal width), stable JSON, times, dates, a
//! progress helper, and the closed-pipe guard every command relies on.

use std::io::IsTerminal;

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::fail::{CliError, CliResult};

/// Whether output may carry borders and fit the width: stdout is a terminal.
pub fn styled() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether output may carry colour: a terminal, and the user did not ask
/// for NO_COLOR (https://no-color.org: it turns colour off, nothing else,
/// so the borders stay).
pub fn coloured() -> bool {
    styled() && no_color_unset(std::env::var_os("NO_COLOR").as_deref())
}

/// NO_COLOR counts when it is set to anything but the empty string.
fn no_color_unset(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_none_or(|v| v.is_empty())
}

/// A table with `header`, styled for a terminal or plain for a pipe. On a
/// terminal the columns wrap to fit its width.
pub fn table(header: &[&str]) -> Table {
    table_styled(header, styled(), coloured())
}

fn table_styled(header: &[&str], borders: bool, colour: bool) -> Table {
    let mut t = Table::new();
    if borders {
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        // NO_COLOR: the borders and the fitted layout stay; no cell
        // carries a colour, so no escape code is written.
        if colour {
            t.set_header(header.iter().map(|h| Cell::new(h).fg(Color::Cyan)));
        } else {
            t.set_header(header.to_vec());
        }
    } else {
        t.load_style(presets::NOTHING);
        t.force_no_tty();
        t.set_header(header.to_vec());
    }
    t
}

/// The width past which a column's content may wrap rather than push
/// other columns out.
const WRAP_AT: usize = 24;

/// On a terminal too narrow for every column, hides columns, least
/// important first (`priority` lists column indexes from most to least
/// important), until the rest fit without wrapping; the rest still wrap if
/// needed. Returns the names of the hidden columns. A pipe (no width)
/// keeps every column.
pub fn hide_to_fit(t: &mut Table, header: &[&str], priority: &[usize]) -> Vec<String> {
    let Some(width) = t.width().filter(|_| t.is_tty() || styled()) else {
        return Vec::new();
    };
    let widths = t.column_max_content_widths();
    // Each column costs its content (a long one counted as WRAP_AT: it may
    // wrap), one space of padding on each side and one border; plus the
    // closing border.
    let cost = |shown: &[usize]| -> usize {
        1 + shown
            .iter()
            .map(|&i| usize::from(widths.get(i).copied().unwrap_or(0)).min(WRAP_AT) + 3)
            .sum::<usize>()
    };
    let mut shown: Vec<usize> = priority.to_vec();
    let mut hidden = Vec::new();
    // Keep at least two columns, whatever the width.
    while shown.len() > 2 && cost(&shown) > usize::from(width) {
        let Some(i) = shown.pop() else { break };
        if let Some(column) = t.column_mut(i) {
            column.set_constraint(ColumnConstraint::Hidden);
        }
        hidden.push(header.get(i).copied().unwrap_or("?").to_string());
    }
    hidden.reverse();
    hidden
}

/// Prints a table, trimming the padding a borderless table leaves.
pub fn print_table(t: &Table) {
    for line in t.lines() {
        println!("{}", line.trim_end());
    }
}

/// A key state as a table cell, coloured when colour is allowed: green
/// for usable, yellow for winding down, red for unusable or suspicious,
/// so a compromised key never looks like an active one.
pub fn state_cell(state: &str) -> Cell {
    state_cell_with(state, coloured())
}

fn state_cell_with(state: &str, colour: bool) -> Cell {
    let cell = Cell::new(state);
    if !colour {
        return cell;
    }
    match state_colour(state) {
        Some(c) => cell.fg(c),
        None => cell,
    }
}

fn state_colour(state: &str) -> Option<Color> {
    match state.to_ascii_lowercase().as_str() {
        "active" => Some(Color::Green),
        "pre-active" | "pre_active" | "preactive" | "suspended" | "deactivated" | "retired" => {
            Some(Color::Yellow)
        }
        "compromised" | "destroyed" | "damaged" | "destroyed_compromised" => Some(Color::Red),
        _ => None,
    }
}

/// Serializes an optional object id as a JSON string: ids exceed 2^53,
/// which JSON readers such as jq hold as doubles and round.
pub fn id_as_string<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_str(&n.to_string()),
        None => s.serialize_none(),
    }
}

/// The exit status of a command whose output pipe was closed: 128 +
/// SIGPIPE, what a shell reports for a C tool killed by SIGPIPE (`seq 1e9 |
/// head` under `set -o pipefail`). Not 0: the command stopped where it was,
/// and a mutating one (`keys rotate --due | head -1`) may not have finished.
pub const EXIT_CLOSED_PIPE: i32 = 141;

/// Exits quietly when stdout or stderr is a closed pipe (`keyward keys
/// list | head`). Rust ignores SIGPIPE, so a write to a closed pipe is an
/// EPIPE error, which `println!` turns into a panic (exit 101 and a
/// backtrace hint). Every print of every command goes through std's print
/// macros, so the one place that sees them all is the panic hook: a
/// broken-pipe print ends the process silently with EXIT_CLOSED_PIPE, as
/// SIGPIPE would; any other panic keeps the default report.
pub fn exit_quietly_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_pipe_panic(text) {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        default(info);
    }));
}

/// std's message for a failed print ("failed printing to stdout: Broken
/// pipe (os error 32)").
fn is_closed_pipe_panic(text: &str) -> bool {
    text.starts_with("failed printing to std") && text.contains("os error 32")
}

/// The bytes of an input file, or of standard input for `-` (so a key
/// can be piped in without touching the disk), held in `Zeroizing`: the
/// input may be a private key.
pub fn read_input(path: &std::path::Path) -> CliResult<zeroize::Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let mut data = zeroize::Zeroizing::new(Vec::new());
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut data)
            .map_err(|e| CliError::failure(format!("cannot read standard input: {e}")))?;
    } else {
        let mut file = std::fs::File::open(path)
            .map_err(|e| CliError::failure(format!("cannot read {}: {e}", path.display())))?;
        file.read_to_end(&mut data)
            .map_err(|e| CliError::failure(format!("cannot read {}: {e}", path.display())))?;
    }
    Ok(data)
}

/// Reports a command that changes something and has no data to show:
/// `message` as a line, or with --json an object with "message" and the
/// fields of `fields` (so every command answers --json with JSON).
pub fn done(json: bool, message: &str, fields: serde_json::Value) -> CliResult<()> {
    if !json {
        println!("{message}");
        return Ok(());
    }
    let mut value = serde_json::json!({ "message": message });
    if let (Some(all), serde_json::Value::Object(extra)) = (value.as_object_mut(), fields) {
        all.extend(extra);
    }
    print_json(&value)
}

/// Prints `value` as pretty JSON followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> CliResult<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex (upper or lower case, even length).
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// A lifecycle time (seconds since the epoch, 0 = never) as RFC 3339.
pub fn rfc3339(seconds: u64) -> Option<String> {
    if seconds == 0 {
        return None;
    }
    let t = OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    t.format(&Rfc3339).ok()
}

/// A CK_DATE ("YYYYMMDD", empty when unset) as "YYYY-MM-DD".
pub fn ck_date(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}",
        text.get(0..4)?,
        text.get(4..6)?,
        text.get(6..8)?
    ))
}

/// Parses "YYYY-MM-DD" (a real calendar date) into CK_DATE bytes.
pub fn parse_date(text: &str) -> Result<Vec<u8>, String> {
    let format = format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format)
        .map_err(|e| format!("bad date {text:?} (want YYYY-MM-DD): {e}"))?;
    Ok(format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
    .into_bytes())
}

/// A progress bar on stderr for long jobs (master-key rotation and
/// backups, in the next round); hidden when stderr is not a terminal.
pub fn progress(len: u64, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(parse_hex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn times_and_dates() {
        assert_eq!(rfc3339(0), None);
        assert_eq!(rfc3339(86_400).as_deref(), Some("1970-01-02T00:00:00Z"));
        assert_eq!(ck_date(b"20301231").as_deref(), Some("2030-12-31"));
        assert_eq!(ck_date(b""), None);
        assert_eq!(parse_date("2030-02-01").unwrap(), b"20300201".to_vec());
        assert!(parse_date("2030-02-30").is_err());
        assert!(parse_date("20300201").is_err());
    }

    #[test]
    fn no_color_keeps_borders() {
        // As on a terminal (styling enforced: the test has no terminal).
        let mut t = table_styled(&["STATE"], true, false);
        t.enforce_styling();
        t.add_row(vec![state_cell_with("compromised", false)]);
        let text = t.to_string();
        assert!(text.contains('│') && text.contains('─'), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let mut t = table_styled(&["STATE"], true, true);
        t.enforce_styling();
        t.add_row(vec![state_cell_with("compromised", true)]);
        t.add_row(vec![state_cell_with("active", true)]);
        let text = t.to_string();
        // Red (31) for compromised, green (32) for active.
        assert!(
            text.contains("\u{1b}[38;5;9m") || text.contains("\u{1b}[31m"),
            "{text:?}"
        );
        let plain = table_styled(&["STATE"], false, false).to_string();
        assert!(!plain.contains('│'), "{plain}");
    }

    #[test]
    fn closed_pipes_and_colour() {
        assert!(is_closed_pipe_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_pipe_panic("index out of bounds"));
        assert!(no_color_unset(None));
        assert!(no_color_unset(Some(std::ffi::OsStr::new(""))));
        assert!(!no_color_unset(Some(std::ffi::OsStr::new("1"))));
        assert_eq!(state_colour("compromised"), Some(Color::Red));
        assert_eq!(state_colour("active"), Some(Color::Green));
        assert_ne!(state_colour("compromised"), state_colour("active"));
    }

    #[test]
    fn progress_counts() {
        let bar = progress(3, "test");
        bar.inc(2);
        assert_eq!(bar.position(), 2);
        bar.finish_and_clear();
    }
}
