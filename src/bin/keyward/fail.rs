//! The CLI's error type and its exit codes: every failure ends as one
//! `keyward: error: …` line and a code a script can rely on.

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

Secrets come from --pin-fd, else KEYWARD_PIN / KEYWARD_SO_PIN (and
KEYWARD_NEW_PIN / KEYWARD_NEW_SO_PIN for new PINs, KEYWARD_BACKUP_PASSPHRASE
for backups), else a prompt on the terminal. Without a terminal a missing secret is an error, never a wait.";

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
            Error::PinLenRange => format!("the {role} PIN has a length the token refuses"),
            Error::PinInvalid => format!("the {role} PIN has characters the token refuses"),
            Error::UserPinNotInitialized => {
                "the user PIN is not set (keyward token init with KEYWARD_NEW_PIN, \
                 or keyward pin unlock)"
                    .to_string()
            }
            Error::TokenNotRecognized | Error::UserNotLoggedIn if role == "SO" => {
                "the token is not initialized (keyward token init)".to_string()
            }
            Error::Tampered => "stored data failed its integrity check".to_string(),
            Error::KeyFunctionNotPermitted => "not permitted for this key".to_string(),
            Error::KeySizeRange => "key size refused".to_string(),
            Error::TemplateInconsistent => "attributes refused together".to_string(),
            Error::MechanismInvalid => "mechanism refused".to_string(),
            Error::SlotIdInvalid => "no such slot".to_string(),
            _ => "the token refused".to_string(),
        };
        CliError::new(
            code_of(err),
            format!("{context}: {what} ({})", ckr_name(err)),
        )
    }
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

/// The CKR_* name of a library error, from its variant name (the variants
/// are named after the codes; see src/error.rs).
pub fn ckr_name(err: Error) -> String {
    if err == Error::Tampered {
        // Reported as CKR_DEVICE_ERROR at the ABI.
        return "CKR_DEVICE_ERROR".to_string();
    }
    let mut name = String::from("CKR");
    for c in format!("{err:?}").chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    #[test]
    fn ckr_names_follow_the_variants() {
        assert_eq!(ckr_name(Error::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(Error::SessionReadWriteSoExists),
            "CKR_SESSION_READ_WRITE_SO_EXISTS"
        );
        assert_eq!(ckr_name(Error::Tampered), "CKR_DEVICE_ERROR");
        // The name agrees with the code the ABI reports.
        assert_eq!(Error::KeySizeRange.rv(), CKR_KEY_SIZE_RANGE);
        assert_eq!(ckr_name(Error::KeySizeRange), "CKR_KEY_SIZE_RANGE");
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
