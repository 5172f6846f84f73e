//! The `keyward` CLI on a terminal (issue 10): each test runs the built
//! binary on a fresh pseudo-terminal, its controlling terminal, so prompts,
//! the first-run dialog, table borders, widths and colours are what a
//! person sees. Prompts are answered only once they appear: no timing.

#[path = "common/cli_bin.rs"]
mod cli_bin;

use std::process::{Command, Stdio};

use serde_json::Value;

mod cli_support;
use cli_support::*;

/// A date `days` from today (UTC), as `--end-date` takes it.
fn date_in(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn generate(store: &Store, args: &[&str]) -> Value {
    json_of(&store.run(&[&["keys", "generate", "--json"], args].concat()))
}

/// Runs the CLI on a fresh pseudo-terminal (its controlling terminal, so
/// the prompts read it as a person's would), answering each expected
/// prompt only once it has appeared: no timing involved. Returns the exit
/// code and the transcript.
fn run_on_a_terminal(
    store: &Store,
    args: &[&str],
    env: &[(&str, &str)],
    dialog: &[(&str, &str)],
) -> (i32, String) {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    // An 80-column terminal, for the tables that fit its width.
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the given integers and
    // reads the window size; the name and termios pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here only.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    };
    let mut cmd = Command::new(cli_bin::keyward_bin());
    cmd.env_clear()
        .env("KEYWARD_CONF", &store.conf)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: only async-signal-safe calls between fork and exec: a new
    // session, and the terminal on stdin made its controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // closes this process's copies of the terminal's slave side
    let mut master = master;
    // Raw bytes, decoded only as a whole: a read may end inside a
    // multi-byte character (the table borders), which a per-read decode
    // would turn into two replacement characters.
    let mut raw: Vec<u8> = Vec::new();
    let mut seen = 0;
    let mut buf = [0u8; 1024];
    for (prompt, answer) in dialog {
        while !String::from_utf8_lossy(&raw[seen..]).contains(prompt) {
            // EIO: the CLI exited (and closed the terminal) before asking.
            let n = master.read(&mut buf).unwrap_or(0);
            assert!(
                n > 0,
                "no prompt {prompt:?} in {:?}",
                String::from_utf8_lossy(&raw)
            );
            raw.extend_from_slice(&buf[..n]);
        }
        // Each prompt is matched once: later ones must appear after it.
        seen = raw.len();
        master.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let transcript = String::from_utf8_lossy(&raw).into_owned();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), transcript)
}

/// First run on a terminal: `token init` offers the user PIN (the default
/// answer is yes), and a mistyped repeat is asked again instead of failing.
#[test]
fn interactive_first_run_offers_the_user_pin_and_asks_again() {
    let store = Store::new();
    let (code, transcript) = run_on_a_terminal(
        &store,
        &["token", "init", "--label", "tty"],
        &[],
        &[
            ("New SO PIN: ", SO_PIN),
            ("Repeat the new SO PIN: ", SO_PIN),
            ("Set the user PIN now? [Y/n] ", ""),
            ("New user PIN: ", "typo-pin-1"),
            ("Repeat the new user PIN: ", "typo-pin-2"),
            ("New user PIN: ", USER_PIN),
            ("Repeat the new user PIN: ", USER_PIN),
        ],
    );
    assert_eq!(code, 0, "{transcript}");
    assert!(
        transcript.contains("the two new user PINs differ; try again"),
        "{transcript}"
    );
    assert!(transcript.contains("user PIN set"), "{transcript}");
    ok(&store.run(&["keys", "list"]));
}

/// Removes ANSI escape sequences (ESC [ … letter).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// On a terminal, tables have borders, fit its width and colour the
/// states (compromised differently from active); NO_COLOR drops the
/// colour and keeps the borders.
#[test]
fn tables_on_a_terminal_fit_colour_and_respect_no_color() {
    let store = Store::initialized();
    let long = "a-rather-long-label-for-the-primary-web-server-tls-key-of-production";
    generate(
        &store,
        &[
            "--type",
            "ec-p256",
            "--label",
            long,
            "--end-date",
            &date_in(300),
        ],
    );
    generate(&store, &["--type", "aes-256", "--label", "leaked"]);
    ok(&store.run(&["keys", "compromise", "leaked", "--reason", "test"]));
    let pin = [("KEYWARD_PIN", USER_PIN)];
    let (code, coloured) = run_on_a_terminal(&store, &["keys", "list"], &pin, &[]);
    assert_eq!(code, 0, "{coloured}");
    let plain = strip_ansi(&coloured);
    // The least important columns give way, and the output says so.
    assert!(plain.contains('│') && plain.contains("END"), "{plain}");
    assert!(
        plain.contains("columns hidden to fit the terminal"),
        "{plain}"
    );
    for line in plain.lines() {
        assert!(
            line.trim_end_matches('\r').chars().count() <= 80,
            "wider than 80: {line:?}"
        );
    }
    // The escape sequence right before a state names its colour.
    let colour_of = |state: &str| -> String {
        let at = coloured
            .find(state)
            .unwrap_or_else(|| panic!("{state} in {coloured:?}"));
        let esc = coloured[..at].rfind('\u{1b}').unwrap();
        coloured[esc..at].to_string()
    };
    assert_ne!(colour_of("compromised"), colour_of("active"));
    let (code, no_colour) =
        run_on_a_terminal(&store, &["keys", "list"], &[pin[0], ("NO_COLOR", "1")], &[]);
    assert_eq!(code, 0, "{no_colour}");
    assert!(no_colour.contains('│'), "{no_colour}");
    assert!(!no_colour.contains('\u{1b}'), "{no_colour:?}");
}
