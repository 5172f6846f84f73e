//! The CLI's error type and its exit codes: every failure ends as one
//! `keyward: error: …` line (with --json: one `{"error": …, "code": …}`
//! line, also on stderr, so stdout only ever holds the data asked for) and
//! a code a script can rely on.

use keyward::error::Error;

/// Success.
pub const EXIT_OK: u8 = 0;
/// Any failure without a more specific code.
pub const EXIT_FAILURE: u8 = 1;
/// Usage error (also what clap exits with).
pub const EXIT_USAGE: u8 = 2;
/// PIN or passphrase missing, wrong or locked.
pub const EXIT_PIN: u8 = 3;
/// Object not found, or ambiguous where one is needed.
pub const EXIT_NOT_FOUND: u8 = 4;
/// Integrity failure (tampered store, audit or backup).
pub const EXIT_INTEGRITY: u8 = 5;
/// Refused by policy or by the key's state.
pub const EXIT_REFUSED: u8 = 6;
/// Destroyed, but the erasure from the token files is not complete yet.
pub const EXIT_PENDING: u8 = 7;
/// `keys due --fail-if-due`: at least one key is due.
pub const EXIT_DUE: u8 = 8;
/// `keyward doctor`: at least one problem found.
pub const EXIT_UNHEALTHY: u8 = 9;

/// The `--help` text that documents the exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure
  2  usage error
  3  PIN or passphrase missing, wrong or locked
  4  object not found, or several match where one is needed
  5  integrity failure
  6  refused by policy or key state
  7  destroyed, but the erasure from the token files is still pending
  8  keys are due (keys due --fail-if-due)
  9  keyward doctor found a problem

With --json an error is one line {\"error\": \"...\", \"code\": N} on stderr;
stdout holds only data. A closed stdout (keyward keys list | head) ends the
command quietly with exit 0.

Secrets come from --pin-fd or --pin-file, else KEYWARD_PIN / KEYWARD_SO_PIN
(and KEYWARD_NEW_PIN / KEYWARD_NEW_SO_PIN for new PINs,
KEYWARD_BACKUP_PASSPHRASE for backups, KEYWARD_AUDITOR_PASSPHRASE and
KEYWARD_NEW_AUDITOR_PASSPHRASE for the auditor), else systemd credentials in
$CREDENTIALS_DIRECTORY (keyward-pin, keyward-so-pin, keyward-new-pin,
keyward-new-so-pin, keyward-backup-passphrase, keyward-auditor-passphrase,
keyward-new-auditor-passphrase), else a prompt on the
terminal. Without a terminal a missing secret is an error, never a wait.

Keys are named by label, id:HEX (CKA_ID) or object id: '#123' (quote it:
an unquoted # starts a shell comment) or obj:123 (no quoting needed).";

/// A failure to report: the message (never a secret) and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

pub type CliResult<T> = std::result::Result<T, CliError>;

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_USAGE, message)
    }

    pub fn not_found(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_NOT_FOUND, message)
    }

    pub fn failure(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_FAILURE, message)
    }

    /// A library error behind `context`, e.g. "login failed: wrong user PIN
    /// (CKR_PIN_INCORRECT)". `role` names whose PIN it was, if any.
    pub fn ck(context: &str, role: &str, err: Error) -> CliError {
        let what = match err {
            Error::PinIncorrect => format!("wrong {role} PIN"),
            Error::PinLocked => format!("the {role} PIN is locked"),
            Error::PinLenRange => format!("the {role} PIN is too short or too long"),
            Error::PinInvalid => format!("the {role} PIN has characters the token refuses"),
            Error::UserPinNotInitialized => {
                "the user PIN is not set (set it with `keyward pin init`)".to_string()
            }
            Error::TokenNotRecognized | Error::UserNotLoggedIn if role == "SO" => {
                "the token is not initialized (keyward token init)".to_string()
            }
            Error::Tampered => "stored data failed its integrity check".to_string(),
            Error::KeyFunctionNotPermitted => "not permitted for this key".to_string(),
            Error::KeySizeRange => "key size refused".to_string(),
            Error::AttributeValueInvalid => "attribute value refused".to_string(),
            Error::TemplateInconsistent => "attributes refused together".to_string(),
            Error::MechanismInvalid => "mechanism refused".to_string(),
            Error::SlotIdInvalid => "no such slot".to_string(),
            _ => "the token refused".to_string(),
        };
        // The underlying error a generic code stands for (SQLite's or the
        // file system's words), when the library recorded one.
        let why = keyward::error::cause::take()
            .map(|why| format!("; cause: {why}"))
            .unwrap_or_default();
        CliError::new(
            code_of(err),
            format!("{context}: {what} ({}){why}", err.ckr_name()),
        )
    }
}

/// Prints `err` as the last thing the command says: a `keyward: error:`
/// line, or with `json` one JSON object; both on stderr.
pub fn report(err: &CliError, json: bool) {
    use std::io::Write;
    let line = if json {
        serde_json::json!({"error": err.message, "code": err.code}).to_string()
    } else {
        format!("keyward: error: {}", err.message)
    };
    // Not eprintln!: a closed stderr must not turn the error's exit code
    // into the closed-pipe one.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `keys due --fail-if-due`: any key due turns success into EXIT_DUE, after
/// the list was printed.
pub fn fail_if_due(listed: CliResult<usize>, fail: bool, within: u32) -> CliResult<()> {
    match listed? {
        n if fail && n > 0 => Err(CliError::new(
            EXIT_DUE,
            format!("{n} key(s) due for rotation within {within} days"),
        )),
        _ => Ok(()),
    }
}

/// When this process started, in ms: refusals audited since then are ours.
static STARTED_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Notes the start time; call first thing in main.
pub fn note_start() {
    let _ = STARTED_MS.set(keyward::audit::now_ms());
}

/// A policy refusal (exit 6) names the rule that refused: the token audits
/// each refusal with the rule's name (e.g. `min_rsa_bits: 1024-bit RSA key,
/// policy needs 2048`), and a CKR code alone cannot say it. The rule is
/// read back from this process's latest `policy_refusal` record.
///
/// A failure whose code is not one of the refusal codes is still a policy
/// refusal when this process's latest record says so: a key imported with
/// a modulus below `min_rsa_bits` is CKR_ATTRIBUTE_VALUE_INVALID from
/// C_CreateObject (the codes that function may return), and exits 6 too.
pub fn with_refusal_rule(mut err: CliError) -> CliError {
    if err.code != EXIT_REFUSED && err.code != EXIT_FAILURE {
        return err;
    }
    if let Some(rule) = latest_refusal() {
        err.code = EXIT_REFUSED;
        err.message
            .push_str(&format!("; refused by policy rule {rule}"));
    }
    err
}

fn latest_refusal() -> Option<String> {
    use keyward::store::audit::AuditFilter;
    let since = *STARTED_MS.get()?;
    let config = keyward::config::Config::from_env().ok()?;
    // Only an existing store: reading the trail must not create one.
    crate::client::check_store(&config, false).ok()?;
    let lib = keyward::api::Library::new(config).ok()?;
    let filter = AuditFilter {
        since_ms: Some(since),
        until_ms: None,
        object: None,
        event: Some("policy_refusal".to_string()),
    };
    let pid = std::process::id();
    lib.slot_list(true)
        .into_iter()
        .filter_map(|slot| lib.audit_rows(slot, &filter).ok())
        .flatten()
        .filter_map(|row| serde_json::from_slice::<keyward::audit::Record>(&row.body).ok())
        .filter(|r| r.pid == pid)
        .filter_map(|r| r.detail)
        .last()
        // The detail reads "<event>: <rule>: <why>"; the rule comes first.
        .map(|d| match d.split_once(": ") {
            Some((_, rule)) => rule.to_string(),
            None => d,
        })
}

/// The exit code a library error maps to.
pub fn code_of(err: Error) -> u8 {
    match err {
        Error::PinIncorrect
        | Error::PinLocked
        | Error::PinInvalid
        | Error::PinLenRange
        | Error::PinExpired
        | Error::UserPinNotInitialized => EXIT_PIN,
        Error::Tampered => EXIT_INTEGRITY,
        Error::KeyFunctionNotPermitted
        | Error::KeySizeRange
        | Error::TemplateInconsistent
        | Error::MechanismInvalid
        | Error::CurveNotSupported
        | Error::ActionProhibited => EXIT_REFUSED,
        _ => EXIT_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    /// The CLI names a library error as the audit record of the same
    /// failure does: both read the one table in `keyward::error`.
    #[test]
    fn ckr_names_match_the_audit_record() {
        for &e in Error::ALL {
            let audited = keyward::audit::Event::new("test")
                .failed(e)
                .record(0, 0, "user", None)
                .result;
            let shown = CliError::ck("it failed", "user", e).message;
            assert!(shown.ends_with(&format!("({audited})")), "{e:?}: {shown}");
        }
        assert_eq!(Error::Tampered.ckr_name(), "CKR_DEVICE_ERROR");
        // The name agrees with the code the ABI reports.
        assert_eq!(Error::KeySizeRange.rv(), CKR_KEY_SIZE_RANGE);
        assert_eq!(Error::KeySizeRange.ckr_name(), "CKR_KEY_SIZE_RANGE");
    }

    #[test]
    fn codes_and_messages() {
        let e = CliError::ck("login failed", "user", Error::PinIncorrect);
        assert_eq!(e.code, EXIT_PIN);
        assert_eq!(
            e.message,
            "login failed: wrong user PIN (CKR_PIN_INCORRECT)"
        );
        assert_eq!(code_of(Error::KeyFunctionNotPermitted), EXIT_REFUSED);
        assert_eq!(code_of(Error::Tampered), EXIT_INTEGRITY);
        assert_eq!(code_of(Error::DeviceError), EXIT_FAILURE);
    }
}
