//! Types shared by the layers: template entries and attribute reads as
//! the façade, the object rules and the ABI layer all pass them. They live
//! here, below every layer, so `object/` never has to import `api/`.

use cryptoki_sys::CK_ATTRIBUTE_TYPE;

/// One template entry as the caller gave it: the type and the raw value
/// bytes in the caller's native layout (CK_ULONG values are
/// `size_of::<CK_ULONG>()` native-endian bytes, CK_BBOOL one byte).
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub value: Vec<u8>,
}

impl std::fmt::Debug for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be key material: never printed.
        write!(f, "Attr({:#x}, {} bytes)", self.ty, self.value.len())
    }
}

/// The answer for one entry of `C_GetAttributeValue`.
#[derive(Clone, PartialEq, Eq)]
pub enum AttrRead {
    /// The value, in the caller's native layout.
    Value(Vec<u8>),
    /// CKA is sensitive or unextractable: CKR_ATTRIBUTE_SENSITIVE.
    Sensitive,
    /// The object has no such attribute: CKR_ATTRIBUTE_TYPE_INVALID.
    Invalid,
}
