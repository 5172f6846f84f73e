//! The crate's one error type and the one table of return-code names.
//! Each `Error` variant is named after the CKR_* code it becomes at the C
//! ABI and is declared next to that code, so `Error::rv` is the only
//! translation; the names the trace, the audit trail and the CLI show all
//! come from [`rv_name`].

use cryptoki_sys::*;

/// Declares `Error` from one list of `Variant => CKR_CODE` pairs: the
/// enum, its code mapping (`rv`) and `Error::ALL` cannot disagree, and a
/// new variant without a code does not compile.
macro_rules! errors {
    ($($(#[$doc:meta])* $variant:ident => $rv:ident,)*) => {
        /// Every failure the safe core can report. Messages never carry
        /// PINs, key bytes or user data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Error {
            $($(#[$doc])* $variant,)*
        }

        impl Error {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Error] = &[$(Error::$variant,)*];

            /// The CK_RV this error is reported as.
            pub fn rv(self) -> CK_RV {
                match self {
                    $(Error::$variant => $rv,)*
                }
            }
        }
    };
}

errors! {
    ArgumentsBad => CKR_ARGUMENTS_BAD,
    AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
    AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
    AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
    AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
    BufferTooSmall => CKR_BUFFER_TOO_SMALL,
    CantLock => CKR_CANT_LOCK,
    CryptokiAlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CryptokiNotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
    DataInvalid => CKR_DATA_INVALID,
    DataLenRange => CKR_DATA_LEN_RANGE,
    DeviceError => CKR_DEVICE_ERROR,
    DeviceMemory => CKR_DEVICE_MEMORY,
    EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
    EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
    FunctionFailed => CKR_FUNCTION_FAILED,
    FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
    GeneralError => CKR_GENERAL_ERROR,
    HostMemory => CKR_HOST_MEMORY,
    KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
    KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
    KeyIndigestible => CKR_KEY_INDIGESTIBLE,
    KeySizeRange => CKR_KEY_SIZE_RANGE,
    KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
    MechanismInvalid => CKR_MECHANISM_INVALID,
    MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
    ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
    OperationActive => CKR_OPERATION_ACTIVE,
    OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
    PinExpired => CKR_PIN_EXPIRED,
    PinIncorrect => CKR_PIN_INCORRECT,
    PinInvalid => CKR_PIN_INVALID,
    PinLenRange => CKR_PIN_LEN_RANGE,
    PinLocked => CKR_PIN_LOCKED,
    RandomNoRng => CKR_RANDOM_NO_RNG,
    SessionClosed => CKR_SESSION_CLOSED,
    SessionCount => CKR_SESSION_COUNT,
    SessionExists => CKR_SESSION_EXISTS,
    SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
    SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    SessionReadOnly => CKR_SESSION_READ_ONLY,
    SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
    SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
    SignatureInvalid => CKR_SIGNATURE_INVALID,
    SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
    SlotIdInvalid => CKR_SLOT_ID_INVALID,
    TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
    TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
    TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
    TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
    TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
    UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
    UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
    UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
    UserTooManyTypes => CKR_USER_TOO_MANY_TYPES,
    UserTypeInvalid => CKR_USER_TYPE_INVALID,
    ActionProhibited => CKR_ACTION_PROHIBITED,
    SavedStateInvalid => CKR_SAVED_STATE_INVALID,
    StateUnsaveable => CKR_STATE_UNSAVEABLE,
    KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
    WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
    WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
    WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
    WrappingKeySizeRange => CKR_WRAPPING_KEY_SIZE_RANGE,
    WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    UnwrappingKeySizeRange => CKR_UNWRAPPING_KEY_SIZE_RANGE,
    UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
    CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
    DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
    KeyNeeded => CKR_KEY_NEEDED,
    KeyNotNeeded => CKR_KEY_NOT_NEEDED,
    RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
    /// An AEAD tag did not verify in the message-based API (3.0).
    AeadDecryptFailed => CKR_AEAD_DECRYPT_FAILED,
    KeyChanged => CKR_KEY_CHANGED,
    /// A CKA_PARAMETER_SET value the module does not offer (3.2).
    ParameterSetNotSupported => CKR_PARAMETER_SET_NOT_SUPPORTED,
    /// Stored data failed its integrity check (tampered, swapped or
    /// sealed under another master key).
    Tampered => CKR_DEVICE_ERROR,
}

/// `(code, "CKR_NAME")` pairs; `stringify!` takes each name from the
/// constant itself, so a name cannot drift from its code.
macro_rules! rv_names {
    ($($rv:ident,)*) => {
        &[$(($rv, stringify!($rv)),)*]
    };
}

/// Every return code PKCS#11 3.x defines (CKR_VENDOR_DEFINED is
/// a range base, not a code). The module's one list of names: the trace
/// (`ffi`), audit records and the CLI's messages read it.
const RV_NAMES: &[(CK_RV, &str)] = rv_names![
    CKR_ACTION_PROHIBITED,
    CKR_AEAD_DECRYPT_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_BUFFER_TOO_SMALL,
    CKR_CANCEL,
    CKR_CANT_LOCK,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_EXCEEDED_MAX_ITERATIONS,
    CKR_FIPS_SELF_TEST_FAILED,
    CKR_FUNCTION_CANCELED,
    CKR_FUNCTION_FAILED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_FUNCTION_REJECTED,
    CKR_GENERAL_ERROR,
    CKR_HOST_MEMORY,
    CKR_INFORMATION_SENSITIVE,
    CKR_KEY_CHANGED,
    CKR_KEY_EXHAUSTED,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_NEEDED,
    CKR_KEY_NOT_NEEDED,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_UNEXTRACTABLE,
    CKR_LIBRARY_LOAD_FAILED,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED,
    CKR_NEED_TO_CREATE_THREADS,
    CKR_NEW_PIN_MODE,
    CKR_NEXT_OTP,
    CKR_NO_EVENT,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OK,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_CANCEL_FAILED,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_OPERATION_NOT_VALIDATED,
    CKR_PARAMETER_SET_NOT_SUPPORTED,
    CKR_PENDING,
    CKR_PIN_EXPIRED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_LOCKED,
    CKR_PIN_TOO_WEAK,
    CKR_PUBLIC_KEY_INVALID,
    CKR_RANDOM_NO_RNG,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_SAVED_STATE_INVALID,
    CKR_SEED_RANDOM_REQUIRED,
    CKR_SESSION_ASYNC_NOT_SUPPORTED,
    CKR_SESSION_CLOSED,
    CKR_SESSION_COUNT,
    CKR_SESSION_EXISTS,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_SLOT_ID_INVALID,
    CKR_STATE_UNSAVEABLE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_INITIALIZED,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_TOKEN_RESOURCE_EXCEEDED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TOO_MANY_TYPES,
    CKR_USER_TYPE_INVALID,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
];

/// The CKR_* name of a return code; `None` for a code PKCS#11 does not
/// define (vendor codes).
pub fn rv_name(rv: CK_RV) -> Option<&'static str> {
    RV_NAMES.iter().find(|(v, _)| *v == rv).map(|(_, s)| *s)
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The name of the CKR code this error is reported as, for audit
    /// records, the trace and the admin CLI ("CKR_PIN_INCORRECT"). Every
    /// variant's code is named (a test holds this).
    pub fn ckr_name(self) -> &'static str {
        rv_name(self.rv()).unwrap_or("CKR_(unnamed)")
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    /// CKR_DEVICE_ERROR, keeping SQLite's own words as the cause (see
    /// [`cause`]): "database is locked", "disk I/O error", "file is not a
    /// database". Its messages name tables and constraints, never bound
    /// values, so no secret goes with them.
    fn from(e: rusqlite::Error) -> Self {
        Error::DeviceError.because(&e)
    }
}

/// Why the current call failed, beyond its CK_RV: the underlying error
/// (SQLite's, the file system's) that a generic code like
/// CKR_DEVICE_ERROR would otherwise hide. Kept per thread for the one
/// call in progress — the C ABI clears it when a call starts and prints
/// it in the trace (`KEYWARD_TRACE`) when the call fails; the CLI adds it
/// to its error message. `Error` itself stays a plain code, so the one
/// `Error → CK_RV` mapping and every comparison of errors are unchanged.
pub mod cause {
    use std::cell::RefCell;

    /// Causes are short; a longer one is cut (at a character boundary).
    const MAX_LEN: usize = 200;

    thread_local! {
        static CAUSE: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Records `why` as the current call's cause (the latest recorded one
    /// wins: an error that was handled is followed by the one that ended
    /// the call).
    pub fn note(why: &dyn std::fmt::Display) {
        let _ = CAUSE.try_with(|c| {
            if let Ok(mut slot) = c.try_borrow_mut() {
                let mut text = why.to_string();
                if text.len() > MAX_LEN {
                    let mut end = MAX_LEN;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.truncate(end);
                }
                *slot = Some(text);
            }
        });
    }

    /// Takes the current call's cause, leaving none.
    pub fn take() -> Option<String> {
        CAUSE
            .try_with(|c| c.try_borrow_mut().ok().and_then(|mut s| s.take()))
            .ok()
            .flatten()
    }

    /// Forgets any cause (a new call starts).
    pub fn clear() {
        let _ = take();
    }
}

impl Error {
    /// This error, with `why` recorded as the current call's cause
    /// ([`cause`]).
    pub fn because(self, why: &dyn std::fmt::Display) -> Error {
        cause::note(why);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generic code keeps what caused it for the trace and the CLI: the
    /// latest recorded cause, taken once.
    #[test]
    fn sqlite_errors_keep_their_cause() {
        cause::clear();
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let e: Error = conn
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err()
            .into();
        assert_eq!(e, Error::DeviceError);
        let why = cause::take().unwrap();
        assert!(why.contains("no such table: nowhere"), "{why}");
        assert_eq!(cause::take(), None, "taken once");
        let _ = Error::GeneralError.because(&"first");
        let _ = Error::GeneralError.because(&"x".repeat(500));
        assert_eq!(cause::take().unwrap().len(), 200, "latest wins, cut short");
    }

    /// "PinIncorrect" -> "CKR_PIN_INCORRECT": the naming rule of the
    /// variants.
    fn from_variant_name(e: Error) -> String {
        let mut name = String::from("CKR");
        for c in format!("{e:?}").chars() {
            if c.is_ascii_uppercase() {
                name.push('_');
            }
            name.push(c.to_ascii_uppercase());
        }
        name
    }

    #[test]
    fn ckr_names() {
        assert_eq!(Error::PinIncorrect.ckr_name(), "CKR_PIN_INCORRECT");
        assert_eq!(
            Error::KeyFunctionNotPermitted.ckr_name(),
            "CKR_KEY_FUNCTION_NOT_PERMITTED"
        );
        assert_eq!(Error::Tampered.ckr_name(), "CKR_DEVICE_ERROR");
    }

    /// Every variant's code has a name in the one table, and (but for
    /// Tampered, reported as CKR_DEVICE_ERROR) the variant is named after
    /// the code it maps to.
    #[test]
    fn every_error_code_is_named() {
        assert!(Error::ALL.len() > 70);
        for &e in Error::ALL {
            let name = rv_name(e.rv()).unwrap_or_else(|| panic!("{e:?}: code unnamed"));
            assert_eq!(e.ckr_name(), name, "{e:?}");
            if e != Error::Tampered {
                assert_eq!(from_variant_name(e), name, "{e:?}");
            }
        }
    }

    #[test]
    fn names_and_codes_are_unique() {
        let mut codes: Vec<CK_RV> = RV_NAMES.iter().map(|(v, _)| *v).collect();
        let mut names: Vec<&str> = RV_NAMES.iter().map(|(_, n)| *n).collect();
        assert!(names.iter().all(|n| n.starts_with("CKR_")));
        codes.sort_unstable();
        codes.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!(codes.len(), RV_NAMES.len());
        assert_eq!(names.len(), RV_NAMES.len());
        assert_eq!(rv_name(CKR_OK), Some("CKR_OK"));
        assert_eq!(rv_name(CKR_VENDOR_DEFINED | 1), None);
    }
}
