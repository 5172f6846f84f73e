//! `Tmpl`: owns attribute values and hands out a CK_ATTRIBUTE array over
//! them. Shared by the raw C ABI tests (tests/common/raw.rs) and the
//! benchmark (benches/ops/ffi.rs, which includes this file by path).

use std::ffi::c_void;

use cryptoki_sys::*;

/// Owns attribute values and hands out a CK_ATTRIBUTE array over them.
#[derive(Default)]
pub struct Tmpl {
    vals: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
    raw: Vec<CK_ATTRIBUTE>,
}

// SAFETY: the raw pointers in `raw` point into `vals`, owned by the same
// value; a template moved to another thread moves its storage with it.
unsafe impl Send for Tmpl {}

impl Tmpl {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Self {
        self.vals.push((ty, v.to_vec()));
        self
    }

    pub fn bool(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        self.bytes(ty, &[if v { CK_TRUE } else { CK_FALSE }])
    }

    pub fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        self.bytes(ty, &v.to_ne_bytes())
    }

    /// (pointer, count) for a C call; valid until `self` is changed.
    pub fn as_mut(&mut self) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
        self.raw = self
            .vals
            .iter_mut()
            .map(|(ty, v)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_mut_ptr().cast::<c_void>(),
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect();
        (self.raw.as_mut_ptr(), self.raw.len() as CK_ULONG)
    }
}
