//! The crate's one error type. Each variant is named after the CKR_* code it
//! becomes at the C ABI, so the mapping in `rv()` is the only translation.

use cryptoki_sys::*;

/// Every failure the safe core can report. Messages never carry PINs, key
/// bytes or user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    BufferTooSmall,
    CantLock,
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    DataInvalid,
    DataLenRange,
    DeviceError,
    DeviceMemory,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    FunctionNotSupported,
    GeneralError,
    HostMemory,
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyIndigestible,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismInvalid,
    MechanismParamInvalid,
    ObjectHandleInvalid,
    OperationActive,
    OperationNotInitialized,
    PinExpired,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    RandomNoRng,
    SessionClosed,
    SessionCount,
    SessionExists,
    SessionHandleInvalid,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    SignatureInvalid,
    SignatureLenRange,
    SlotIdInvalid,
    TemplateIncomplete,
    TemplateInconsistent,
    TokenNotPresent,
    TokenNotRecognized,
    TokenWriteProtected,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTooManyTypes,
    UserTypeInvalid,
    ActionProhibited,
    SavedStateInvalid,
    StateUnsaveable,
    KeyUnextractable,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyHandleInvalid,
    WrappingKeySizeRange,
    WrappingKeyTypeInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeySizeRange,
    UnwrappingKeyTypeInconsistent,
    KeyNotWrappable,
    CurveNotSupported,
    DomainParamsInvalid,
    KeyNeeded,
    KeyNotNeeded,
    RandomSeedNotSupported,
    /// An AEAD tag did not verify in the message-based API (3.0).
    AeadDecryptFailed,
    KeyChanged,
    /// Stored data failed its integrity check (tampered, swapped or
    /// sealed under another master key).
    Tampered,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The name of the CKR code this error is reported as, for audit
    /// records and the admin CLI ("CKR_PIN_INCORRECT").
    pub fn ckr_name(self) -> String {
        if self == Error::Tampered {
            return "CKR_DEVICE_ERROR".into();
        }
        let mut name = String::from("CKR");
        for c in format!("{self:?}").chars() {
            if c.is_ascii_uppercase() {
                name.push('_');
            }
            name.push(c.to_ascii_uppercase());
        }
        name
    }

    /// The CK_RV this error is reported as.
    pub fn rv(self) -> CK_RV {
        use Error::*;
        match self {
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
            AeadDecryptFailed => CKR_AEAD_DECRYPT_FAILED,
            KeyChanged => CKR_KEY_CHANGED,
            Tampered => CKR_DEVICE_ERROR,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(_: rusqlite::Error) -> Self {
        Error::DeviceError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names() {
        assert_eq!(Error::PinIncorrect.ckr_name(), "CKR_PIN_INCORRECT");
        assert_eq!(
            Error::KeyFunctionNotPermitted.ckr_name(),
            "CKR_KEY_FUNCTION_NOT_PERMITTED"
        );
        assert_eq!(Error::Tampered.ckr_name(), "CKR_DEVICE_ERROR");
    }
}
