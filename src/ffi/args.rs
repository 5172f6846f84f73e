//! Every read of and write through a caller's raw pointer, written once:
//! input buffers, templates, mechanisms, the output-length protocol, the
//! `C_GetAttributeValue` writer and the list/struct writers.
//!
//! Constructors that take raw pointers are `unsafe` (the caller vouches for
//! the pointer as PKCS#11 requires); the writers they return are safe,
//! because the pointer was vouched for when it was checked. Reads and writes
//! are unaligned so a packed caller structure is never undefined behaviour.

use std::ffi::CStr;
use std::ops::Deref;
use std::ptr::NonNull;

use cryptoki_sys::*;
use zeroize::{Zeroize, Zeroizing};

use crate::api::{Attr, AttrRead, InitArgs, Mech, Out, OutCap};
use crate::error::{Error, Result};
use crate::mechanism::{
    Layout, RawCounterFormat, RawDkmFormat, RawHkdf, RawKbkdf, RawParam, RawPbkdf2, RawPrfData,
    layout,
};
use crate::object::nested::{self, AttrList};

/// A caller's length as a host size; one the host cannot address is bad.
pub(crate) fn to_usize(n: CK_ULONG) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::ArgumentsBad)
}

/// A host size as a `CK_ULONG` for reporting back to the caller.
pub(crate) fn to_ulong(n: usize) -> Result<CK_ULONG> {
    CK_ULONG::try_from(n).map_err(|_| Error::GeneralError)
}

/// An allocation the caller sized: failure is CKR_HOST_MEMORY, not an abort.
fn try_vec<T>(len: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::HostMemory)?;
    Ok(v)
}

fn copy_vec(src: &[u8]) -> Result<Vec<u8>> {
    let mut v = try_vec(src.len())?;
    v.extend_from_slice(src);
    Ok(v)
}

/// A zero-filled scratch buffer of a caller-chosen size, wiped on drop.
pub(crate) fn zeroed(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(try_vec(len)?);
    v.resize(len, 0);
    Ok(v)
}

/// A value through an optional pointer: NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or valid for one read of `T`.
pub(crate) unsafe fn read_opt<T: Copy>(ptr: *const T) -> Option<T> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and the caller vouches for one readable `T`.
    Some(unsafe { ptr.read_unaligned() })
}

/// Reads the arguments of a call that continues or finishes an operation:
/// an argument error ends the operation, as any other error from such a
/// call does (PKCS#11 3.0 §5.2: only CKR_BUFFER_TOO_SMALL and a length
/// query leave it active).
pub(crate) fn ending<T>(
    lib: &crate::api::Library,
    h: CK_SESSION_HANDLE,
    kind: CK_FLAGS,
    read: impl FnOnce() -> Result<T>,
) -> Result<T> {
    read().inspect_err(|_| {
        // Best effort: the session may itself be invalid.
        let _ = lib.session_cancel(h, kind);
    })
}

/// Input bytes: NULL with length 0 is empty, NULL with a length is bad.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn in_bytes<'a>(ptr: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    let len = to_usize(len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || isize::try_from(len).is_err() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, and the caller vouches for
    // `len` readable bytes living for `'a`; `u8` needs no alignment.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A PIN: same rules as [`in_bytes`], except that NULL is always
/// CKR_ARGUMENTS_BAD: a NULL PIN asks for the token's protected
/// authentication path, which only C_Login offers (see [`login_pin`]).
/// Borrowed, never copied.
///
/// # Safety
/// As for [`in_bytes`].
pub(crate) unsafe fn pin<'a>(ptr: *const CK_UTF8CHAR, len: CK_ULONG) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: forwarded contract.
    unsafe { in_bytes(ptr, len) }
}

/// C_Login's PIN: `None` for a NULL `pPin` with `ulPinLen` 0, the
/// protected authentication path (PKCS#11 3.0 §5.6.8: "the pPin
/// parameter to C_Login should be NULL_PTR"), which the API layer takes
/// only when the slot has one; otherwise as [`pin`]. A NULL pointer with
/// a non-zero length is CKR_ARGUMENTS_BAD: no caller asking for the
/// protected path passes a length.
///
/// # Safety
/// As for [`in_bytes`].
pub(crate) unsafe fn login_pin<'a>(
    ptr: *const CK_UTF8CHAR,
    len: CK_ULONG,
) -> Result<Option<&'a [u8]>> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { pin(ptr, len) }.map(Some)
}

/// The 32-byte, blank-padded token label of `C_InitToken`.
///
/// # Safety
/// `ptr` is NULL or valid for reads of 32 bytes.
pub(crate) unsafe fn label(ptr: *const CK_UTF8CHAR) -> Result<[u8; 32]> {
    // SAFETY: forwarded contract; `[u8; 32]` is any 32 bytes.
    unsafe { read_opt(ptr.cast::<[u8; 32]>()) }.ok_or(Error::ArgumentsBad)
}

/// A NUL-terminated name (`C_GetInterface`); NULL is `None`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string living for `'a`.
pub(crate) unsafe fn c_name<'a>(ptr: *const CK_UTF8CHAR) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    Some(unsafe { CStr::from_ptr(ptr.cast()) }.to_bytes())
}

/// `C_Initialize`'s arguments, reduced to what the façade judges.
///
/// # Safety
/// `ptr` is NULL or valid for one read of `CK_C_INITIALIZE_ARGS`.
pub(crate) unsafe fn init_args(ptr: *const CK_C_INITIALIZE_ARGS) -> InitArgs {
    // SAFETY: forwarded contract.
    let Some(a) = (unsafe { read_opt(ptr) }) else {
        return InitArgs::default();
    };
    let given = [
        a.CreateMutex.is_some(),
        a.DestroyMutex.is_some(),
        a.LockMutex.is_some(),
        a.UnlockMutex.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    InitArgs {
        flags: a.flags,
        has_mutex_callbacks: given == 4,
        partial_mutex_callbacks: given > 0 && given < 4,
        reserved_non_null: !a.pReserved.is_null(),
    }
}

/// A caller array of `count` entries, copied; NULL with count 0 is empty.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `count` entries of `T`.
unsafe fn read_array<T: Copy>(ptr: *const T, count: CK_ULONG) -> Result<Vec<T>> {
    let n = to_usize(count)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let mut v = try_vec(n)?;
    for i in 0..n {
        // SAFETY: i < count, and the caller vouches for `count` entries.
        v.push(unsafe { ptr.add(i).read_unaligned() });
    }
    Ok(v)
}

/// A caller's template, copied. Values may be key material (CKA_VALUE of
/// an imported secret key), so they are wiped when this is dropped.
pub(crate) struct Template(Vec<Attr>);

impl Deref for Template {
    type Target = [Attr];
    fn deref(&self) -> &[Attr] {
        &self.0
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        for a in &mut self.0 {
            a.value.zeroize();
        }
    }
}

/// A template: NULL with count 0 is empty; a NULL value with a length is bad.
/// An attribute whose value is itself a template (CKA_WRAP_TEMPLATE …) is
/// read one level deep, see [`nested_template`].
///
/// # Safety
/// `ptr` is NULL or valid for `count` entries, each `pValue` NULL or valid
/// for `ulValueLen` bytes (for a nested template: holding that many bytes
/// of CK_ATTRIBUTE entries, each valid likewise).
pub(crate) unsafe fn template(ptr: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Template> {
    // SAFETY: forwarded contract.
    let entries = unsafe { read_array(ptr, count) }?;
    let mut out = Template(try_vec(entries.len())?);
    for e in entries {
        let value = if nested::is_nested(e.type_) {
            // SAFETY: the caller vouches for this entry's array.
            unsafe { nested_template(e.pValue, e.ulValueLen) }?
        } else {
            // SAFETY: the caller vouches for `pValue` per entry.
            copy_vec(unsafe { in_bytes(e.pValue.cast::<u8>(), e.ulValueLen) }?)?
        };
        out.0.push(Attr { ty: e.type_, value });
    }
    Ok(out)
}

/// The value of a nested template: `len` bytes of CK_ATTRIBUTE entries,
/// encoded as a list for the object rules (`object::nested`). Each entry
/// is read as a flat value; one that is itself a nested template is not
/// followed (its bytes are passed on, and the object rules refuse it). A
/// length that is not a whole number of entries, or an entry with a NULL
/// value and a length, makes the outer value bad:
/// CKR_ATTRIBUTE_VALUE_INVALID. A NULL array with a length is bad as for
/// any attribute (CKR_ARGUMENTS_BAD).
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes holding CK_ATTRIBUTE
/// entries, each `pValue` NULL or valid for `ulValueLen` bytes.
unsafe fn nested_template(ptr: *const std::ffi::c_void, len: CK_ULONG) -> Result<Vec<u8>> {
    let len = to_usize(len)?;
    let size = size_of::<CK_ATTRIBUTE>();
    if !len.is_multiple_of(size) {
        return Err(Error::AttributeValueInvalid);
    }
    // SAFETY: forwarded contract: `len / size` whole entries.
    let entries = unsafe { read_array(ptr.cast::<CK_ATTRIBUTE>(), to_ulong(len / size)?) }?;
    let mut list = AttrList::try_with_capacity(entries.len())?;
    for e in entries {
        // SAFETY: the caller vouches for each inner `pValue`.
        let value = unsafe { in_bytes(e.pValue.cast::<u8>(), e.ulValueLen) }
            .map_err(|_| Error::AttributeValueInvalid)?;
        list.push(Attr {
            ty: e.type_,
            value: copy_vec(value)?,
        });
    }
    Ok(nested::encode_list(&list))
}

/// The attribute types of a `C_GetAttributeValue` template.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `count` entries.
pub(crate) unsafe fn attribute_types(
    ptr: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<CK_ATTRIBUTE_TYPE>> {
    // SAFETY: forwarded contract.
    let entries = unsafe { read_array(ptr, count) }?;
    Ok(entries.iter().map(|e| e.type_).collect())
}

/// For each entry of a `C_GetAttributeValue` template, whether it has a
/// buffer (a value is asked for, not only its length).
///
/// # Safety
/// As [`attribute_types`].
pub(crate) unsafe fn attribute_buffers(
    ptr: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<bool>> {
    // SAFETY: forwarded contract.
    let entries = unsafe { read_array(ptr, count) }?;
    Ok(entries.iter().map(|e| !e.pValue.is_null()).collect())
}

/// Which code `C_GetAttributeValue` reports when several entries failed:
/// the spec allows any; a missing or sensitive attribute says more than a
/// short buffer, so it wins.
fn worse(cur: Option<Error>, new: Option<Error>) -> Option<Error> {
    match (cur, new) {
        (None, n) | (Some(Error::BufferTooSmall), n @ Some(_)) => n,
        (c, _) => c,
    }
}

/// Writes the answers of `C_GetAttributeValue` back into the caller's
/// template, every entry processed (PKCS#11 3.0 §5.7). A failed entry
/// gets CK_UNAVAILABLE_INFORMATION as its length, except a nested
/// template whose own entries were too short (see [`write_nested`]).
///
/// # Safety
/// `ptr` is valid for reads and writes of `count` entries, each non-NULL
/// `pValue` valid for writes of `ulValueLen` bytes (for a nested template:
/// reads and writes, holding CK_ATTRIBUTE entries whose non-NULL `pValue`
/// are valid for writes of their `ulValueLen` bytes).
pub(crate) unsafe fn write_attributes(
    ptr: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    reads: Vec<AttrRead>,
) -> Result<()> {
    if reads.len() != to_usize(count)? {
        return Err(Error::GeneralError);
    }
    let mut failed = None;
    for (i, read) in reads.into_iter().enumerate() {
        // SAFETY: i < count; the caller vouches for `count` entries.
        let slot = unsafe { ptr.add(i) };
        // SAFETY: as above, readable.
        let mut a = unsafe { slot.read_unaligned() };
        let err = match read {
            AttrRead::Sensitive => Some(Error::AttributeSensitive),
            AttrRead::Invalid => Some(Error::AttributeTypeInvalid),
            AttrRead::Value(v) => {
                let v = Zeroizing::new(v);
                if nested::is_nested(a.type_) {
                    // SAFETY: forwarded contract for a nested template.
                    unsafe { write_nested(&mut a, &v) }?
                } else {
                    // SAFETY: forwarded contract for this entry's buffer.
                    unsafe { write_value(&mut a, &v) }?
                }
            }
        };
        if matches!(
            err,
            Some(Error::AttributeSensitive | Error::AttributeTypeInvalid)
        ) {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        }
        // SAFETY: same entry as read above, writable.
        unsafe { slot.write_unaligned(a) };
        failed = worse(failed, err);
    }
    failed.map_or(Ok(()), Err)
}

/// One value by the rule of §5.7: NULL `pValue` gets the length; a buffer
/// large enough gets the value and its length; a short one gets
/// CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL.
///
/// # Safety
/// `a.pValue` is NULL or valid for writes of `a.ulValueLen` bytes.
unsafe fn write_value(a: &mut CK_ATTRIBUTE, v: &[u8]) -> Result<Option<Error>> {
    let cap = usize::try_from(a.ulValueLen).unwrap_or(usize::MAX);
    if a.pValue.is_null() {
        a.ulValueLen = to_ulong(v.len())?;
        Ok(None)
    } else if cap >= v.len() {
        // SAFETY: `pValue` is writable for `ulValueLen` >= v.len() bytes
        // and cannot overlap our own buffer.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), a.pValue.cast::<u8>(), v.len()) };
        a.ulValueLen = to_ulong(v.len())?;
        Ok(None)
    } else {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        Ok(Some(Error::BufferTooSmall))
    }
}

/// A nested template (`list` as `object::nested` encodes it) by the rule
/// of §5.7 for arrays of attributes: NULL `pValue` gets the array's size
/// in bytes; an array too short for every entry gets
/// CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL; otherwise entry
/// `i` of the caller's array gets the type of inner attribute `i` (the
/// caller's types are ignored, as the spec says) and its value by
/// [`write_value`]. A short inner buffer makes that entry's length
/// CK_UNAVAILABLE_INFORMATION and the call CKR_BUFFER_TOO_SMALL, while the
/// outer length stays the array's size: the caller need only grow that
/// buffer.
///
/// # Safety
/// `a.pValue` is NULL or valid for reads and writes of `a.ulValueLen`
/// bytes of CK_ATTRIBUTE entries, whose non-NULL `pValue` are valid for
/// writes of their `ulValueLen` bytes.
unsafe fn write_nested(a: &mut CK_ATTRIBUTE, list: &[u8]) -> Result<Option<Error>> {
    let inner = nested::decode_list(list).ok_or(Error::GeneralError)?;
    let need = inner
        .len()
        .checked_mul(size_of::<CK_ATTRIBUTE>())
        .ok_or(Error::GeneralError)?;
    if a.pValue.is_null() {
        a.ulValueLen = to_ulong(need)?;
        return Ok(None);
    }
    if usize::try_from(a.ulValueLen).unwrap_or(usize::MAX) < need {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return Ok(Some(Error::BufferTooSmall));
    }
    let base = a.pValue.cast::<CK_ATTRIBUTE>();
    let mut err = None;
    for (i, attr) in inner.iter().enumerate() {
        // SAFETY: i < inner.len(), and the array holds `need` bytes.
        let slot = unsafe { base.add(i) };
        // SAFETY: as above, readable.
        let mut e = unsafe { slot.read_unaligned() };
        e.type_ = attr.ty;
        // SAFETY: the caller vouches for each inner `pValue`.
        if unsafe { write_value(&mut e, &attr.value) }?.is_some() {
            err = Some(Error::BufferTooSmall);
        }
        // SAFETY: same entry, writable.
        unsafe { slot.write_unaligned(e) };
    }
    a.ulValueLen = to_ulong(need)?;
    Ok(err)
}

/// A mechanism: NULL is `None` (the 3.0 way to cancel an operation in an
/// `*Init` call). The parameter is read according to the mechanism's
/// layout: flat ones are copied, structures with pointers are followed
/// (`read_unaligned`, lengths checked) into owned values. A flat parameter
/// of length 0 is absent whatever the pointer, since callers pass both NULL
/// and dangling pointers for "no parameter".
///
/// # Safety
/// `ptr` is NULL or valid for one `CK_MECHANISM` whose `pParameter` is NULL
/// or valid for `ulParameterLen` bytes, holding the structure the spec
/// defines for that mechanism (its own pointers valid likewise).
pub(crate) unsafe fn mechanism(ptr: *const CK_MECHANISM) -> Result<Option<Mech>> {
    // SAFETY: forwarded contract.
    let Some(m) = (unsafe { read_opt(ptr) }) else {
        return Ok(None);
    };
    // SAFETY: forwarded contract for the parameter.
    let param = unsafe { mechanism_param(m.mechanism, m.pParameter, m.ulParameterLen) }?;
    Ok(Some(Mech {
        ty: m.mechanism,
        param,
    }))
}

/// A structure parameter: exactly its own size, then read unaligned.
///
/// # Safety
/// `ptr` is NULL or valid for `len` bytes.
unsafe fn param_struct<T: Copy>(ptr: *const std::ffi::c_void, len: CK_ULONG) -> Result<T> {
    if to_usize(len)? != std::mem::size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: forwarded contract; the length is exactly one `T`.
    unsafe { read_opt(ptr.cast::<T>()) }.ok_or(Error::MechanismParamInvalid)
}

/// Bytes behind a pointer inside a parameter structure, copied.
///
/// # Safety
/// `ptr` is NULL or valid for `len` bytes.
unsafe fn param_bytes(ptr: *const std::ffi::c_void, len: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: forwarded contract.
    let bytes =
        unsafe { in_bytes(ptr.cast::<u8>(), len) }.map_err(|_| Error::MechanismParamInvalid)?;
    copy_vec(bytes)
}

/// # Safety
/// As for [`mechanism`].
unsafe fn mechanism_param(
    mech: CK_MECHANISM_TYPE,
    ptr: *const std::ffi::c_void,
    len: CK_ULONG,
) -> Result<RawParam> {
    if len == 0 && layout(mech) == Layout::Flat {
        return Ok(RawParam::None);
    }
    if ptr.is_null() {
        return if len == 0 {
            Ok(RawParam::None)
        } else {
            Err(Error::ArgumentsBad)
        };
    }
    // SAFETY: `ptr` is valid for `len` bytes holding the structure of this
    // mechanism, whose own pointers are valid for their lengths, per the
    // contract; `param_struct` checks the length before reading.
    let param = unsafe {
        match layout(mech) {
            Layout::Flat => RawParam::Bytes(copy_vec(in_bytes(ptr.cast::<u8>(), len)?)?),
            Layout::Gcm => {
                let g: CK_GCM_PARAMS = param_struct(ptr, len)?;
                RawParam::Gcm {
                    iv: param_bytes(g.pIv.cast(), g.ulIvLen)?,
                    aad: param_bytes(g.pAAD.cast(), g.ulAADLen)?,
                    tag_bits: g.ulTagBits,
                }
            }
            Layout::Oaep => {
                let o: CK_RSA_PKCS_OAEP_PARAMS = param_struct(ptr, len)?;
                RawParam::Oaep {
                    hash: o.hashAlg,
                    mgf: o.mgf,
                    source: o.source,
                    source_data: param_bytes(o.pSourceData, o.ulSourceDataLen)?,
                }
            }
            Layout::Ecdh => {
                let e: CK_ECDH1_DERIVE_PARAMS = param_struct(ptr, len)?;
                RawParam::Ecdh {
                    kdf: e.kdf,
                    shared_data: param_bytes(e.pSharedData.cast(), e.ulSharedDataLen)?,
                    public_data: param_bytes(e.pPublicData.cast(), e.ulPublicDataLen)?,
                }
            }
            Layout::Hkdf => {
                let h: CK_HKDF_PARAMS = param_struct(ptr, len)?;
                RawParam::Hkdf(RawHkdf {
                    extract: h.bExtract != 0,
                    expand: h.bExpand != 0,
                    prf: h.prfHashMechanism,
                    salt_type: h.ulSaltType,
                    salt: param_bytes(h.pSalt.cast(), h.ulSaltLen)?,
                    salt_key: h.hSaltKey,
                    info: param_bytes(h.pInfo.cast(), h.ulInfoLen)?,
                })
            }
            Layout::Pbkdf2 => {
                // CK_PKCS5_PBKD2_PARAMS2 (the 3.0 structure, password length by
                // value); the 2.40 structure has the same size and cannot be
                // told apart, so it is not accepted.
                let p: CK_PKCS5_PBKD2_PARAMS2 = param_struct(ptr, len)?;
                RawParam::Pbkdf2(RawPbkdf2 {
                    salt_source: p.saltSource,
                    salt: param_bytes(p.pSaltSourceData, p.ulSaltSourceDataLen)?,
                    iterations: p.iterations,
                    prf: p.prf,
                    prf_data: param_bytes(p.pPrfData, p.ulPrfDataLen)?,
                    password: Zeroizing::new(param_bytes(p.pPassword.cast(), p.ulPasswordLen)?),
                })
            }
            Layout::ChaChaPoly => {
                let c: CK_SALSA20_CHACHA20_POLY1305_PARAMS = param_struct(ptr, len)?;
                // ulNonceLen is in bits; a length no variant has is refused
                // before the pointer is followed (the core checks it too).
                if !matches!(c.ulNonceLen, 64 | 96 | 192) {
                    return Err(Error::MechanismParamInvalid);
                }
                RawParam::ChaChaPoly {
                    nonce: param_bytes(c.pNonce.cast(), c.ulNonceLen / 8)?,
                    nonce_bits: c.ulNonceLen,
                    aad: param_bytes(c.pAAD.cast(), c.ulAADLen)?,
                }
            }
            Layout::ChaCha20 => {
                let c: CK_CHACHA20_PARAMS = param_struct(ptr, len)?;
                // Lengths (in bits) no variant has are refused before the
                // pointers are followed (the core checks the pairs).
                if !matches!(c.ulNonceBits, 64 | 96 | 192) || !matches!(c.blockCounterBits, 32 | 64)
                {
                    return Err(Error::MechanismParamInvalid);
                }
                RawParam::StreamCipher {
                    counter: param_bytes(c.pBlockCounter.cast(), c.blockCounterBits / 8)?,
                    counter_bits: c.blockCounterBits,
                    nonce: param_bytes(c.pNonce.cast(), c.ulNonceBits / 8)?,
                    nonce_bits: c.ulNonceBits,
                }
            }
            Layout::Salsa20 => {
                let c: CK_SALSA20_PARAMS = param_struct(ptr, len)?;
                if !matches!(c.ulNonceBits, 64 | 192) {
                    return Err(Error::MechanismParamInvalid);
                }
                // The block counter is 64 bits (§6.59).
                RawParam::StreamCipher {
                    counter: param_bytes(c.pBlockCounter.cast(), 8)?,
                    counter_bits: 64,
                    nonce: param_bytes(c.pNonce.cast(), c.ulNonceBits / 8)?,
                    nonce_bits: c.ulNonceBits,
                }
            }
            Layout::Ccm => {
                let c: CK_CCM_PARAMS = param_struct(ptr, len)?;
                // A nonce CCM cannot have is refused before it is followed.
                if !(7..=13).contains(&c.ulNonceLen) {
                    return Err(Error::MechanismParamInvalid);
                }
                RawParam::Ccm {
                    data_len: c.ulDataLen,
                    nonce: param_bytes(c.pNonce.cast(), c.ulNonceLen)?,
                    aad: param_bytes(c.pAAD.cast(), c.ulAADLen)?,
                    mac_len: c.ulMACLen,
                }
            }
            Layout::Eddsa => {
                let e: CK_EDDSA_PARAMS = param_struct(ptr, len)?;
                RawParam::Eddsa {
                    prehash: e.phFlag != 0,
                    context: param_bytes(e.pContextData.cast(), e.ulContextDataLen)?,
                }
            }
            Layout::StringData => {
                let d: CK_KEY_DERIVATION_STRING_DATA = param_struct(ptr, len)?;
                RawParam::Bytes(param_bytes(d.pData.cast(), d.ulLen)?)
            }
            Layout::AesCbcEncryptData => {
                let d: CK_AES_CBC_ENCRYPT_DATA_PARAMS = param_struct(ptr, len)?;
                RawParam::AesCbcEncryptData {
                    iv: d.iv,
                    data: param_bytes(d.pData.cast(), d.length)?,
                }
            }
            Layout::Kbkdf => {
                let k: CK_SP800_108_KDF_PARAMS = param_struct(ptr, len)?;
                RawParam::Kbkdf(RawKbkdf {
                    prf: k.prfType,
                    data: prf_data(k.pDataParams, k.ulNumberOfDataParams)?,
                    iv: None,
                    additional: derived_templates(
                        k.pAdditionalDerivedKeys,
                        k.ulAdditionalDerivedKeys,
                    )?,
                })
            }
            Layout::KbkdfFeedback => {
                let k: CK_SP800_108_FEEDBACK_KDF_PARAMS = param_struct(ptr, len)?;
                // pIV and ulIVLen are NULL and 0 together (§2.42).
                if k.pIV.is_null() != (k.ulIVLen == 0) {
                    return Err(Error::MechanismParamInvalid);
                }
                RawParam::Kbkdf(RawKbkdf {
                    prf: k.prfType,
                    data: prf_data(k.pDataParams, k.ulNumberOfDataParams)?,
                    iv: Some(param_bytes(k.pIV.cast(), k.ulIVLen)?),
                    additional: derived_templates(
                        k.pAdditionalDerivedKeys,
                        k.ulAdditionalDerivedKeys,
                    )?,
                })
            }
            Layout::HashSignAdditionalContext => {
                let c: CK_HASH_SIGN_ADDITIONAL_CONTEXT = param_struct(ptr, len)?;
                RawParam::HashSignContext {
                    hedge: c.hedgeVariant,
                    context: param_bytes(c.pContext.cast(), c.ulContextLen)?,
                    hash: c.hash,
                }
            }
            Layout::SignAdditionalContext => {
                let c: CK_SIGN_ADDITIONAL_CONTEXT = param_struct(ptr, len)?;
                RawParam::SignContext {
                    hedge: c.hedgeVariant,
                    context: param_bytes(c.pContext.cast(), c.ulContextLen)?,
                }
            }
        }
    };
    Ok(param)
}

/// The CK_PRF_DATA_PARAM array of an SP 800-108 parameter, each value
/// read as its type's structure: a counter or DKM-length format must be
/// exactly its structure's size, an iteration variable may instead be
/// NULL_PTR/0 (feedback and double pipeline), a byte array is copied.
/// Any other type (CK_SP800_108_KEY_HANDLE is not offered), or a value of
/// another size, is CKR_MECHANISM_PARAM_INVALID.
///
/// # Safety
/// `ptr` is NULL or valid for `count` entries, each `pValue` NULL or valid
/// for `ulValueLen` bytes.
unsafe fn prf_data(ptr: *const CK_PRF_DATA_PARAM, count: CK_ULONG) -> Result<Vec<RawPrfData>> {
    // SAFETY: forwarded contract.
    let entries = unsafe { read_array(ptr, count) }.map_err(|_| Error::MechanismParamInvalid)?;
    let mut out = try_vec(entries.len())?;
    for e in entries {
        let counter = || -> Result<RawCounterFormat> {
            // SAFETY: the caller vouches for each entry's value.
            let f: CK_SP800_108_COUNTER_FORMAT = unsafe { param_struct(e.pValue, e.ulValueLen) }?;
            Ok(RawCounterFormat {
                little_endian: f.bLittleEndian != 0,
                width_bits: f.ulWidthInBits,
            })
        };
        out.push(match e.type_ {
            CK_SP800_108_ITERATION_VARIABLE if e.pValue.is_null() && e.ulValueLen == 0 => {
                RawPrfData::Iteration(None)
            }
            CK_SP800_108_ITERATION_VARIABLE => RawPrfData::Iteration(Some(counter()?)),
            CK_SP800_108_OPTIONAL_COUNTER => RawPrfData::Counter(counter()?),
            CK_SP800_108_DKM_LENGTH => {
                // SAFETY: as above.
                let f: CK_SP800_108_DKM_LENGTH_FORMAT =
                    unsafe { param_struct(e.pValue, e.ulValueLen) }?;
                RawPrfData::Dkm(RawDkmFormat {
                    method: f.dkmLengthMethod,
                    little_endian: f.bLittleEndian != 0,
                    width_bits: f.ulWidthInBits,
                })
            }
            CK_SP800_108_BYTE_ARRAY => {
                // SAFETY: as above.
                let bytes = unsafe { param_bytes(e.pValue, e.ulValueLen) }?;
                RawPrfData::Bytes(bytes)
            }
            _ => return Err(Error::MechanismParamInvalid),
        });
    }
    Ok(out)
}

/// The CK_DERIVED_KEY array of an SP 800-108 parameter, checked and read
/// once with its handle pointers (NULL array with a count, a count of 0
/// with an array, or a NULL phKey: CKR_MECHANISM_PARAM_INVALID).
///
/// # Safety
/// `ptr` is NULL or valid for `count` entries, each holding a template as
/// for [`template`] and a `phKey` valid for one write.
unsafe fn derived_keys(ptr: *const CK_DERIVED_KEY, count: CK_ULONG) -> Result<Vec<CK_DERIVED_KEY>> {
    if ptr.is_null() != (count == 0) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: forwarded contract.
    let entries = unsafe { read_array(ptr, count) }.map_err(|_| Error::MechanismParamInvalid)?;
    if entries.iter().any(|e| e.phKey.is_null()) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(entries)
}

/// The templates of the CK_DERIVED_KEY array.
///
/// # Safety
/// As for [`derived_keys`].
unsafe fn derived_templates(ptr: *const CK_DERIVED_KEY, count: CK_ULONG) -> Result<Vec<Vec<Attr>>> {
    // SAFETY: forwarded contract.
    let entries = unsafe { derived_keys(ptr, count) }?;
    let mut out = try_vec(entries.len())?;
    for e in entries {
        // SAFETY: the caller vouches for each entry's template.
        let t = unsafe { template(e.pTemplate, e.ulAttributeCount) }.map_err(|e| match e {
            Error::ArgumentsBad => Error::MechanismParamInvalid,
            other => other,
        })?;
        out.push(t.to_vec());
    }
    Ok(out)
}

/// Where the handles of a derivation's additional keys go: the phKey of
/// each CK_DERIVED_KEY of an SP 800-108 parameter, in order (none for any
/// other mechanism). Read after [`mechanism`] accepted the same structure.
///
/// # Safety
/// As for [`mechanism`]; each `phKey` valid for one write until the
/// returned pointers are dropped.
pub(crate) unsafe fn derived_key_outputs(
    ptr: *const CK_MECHANISM,
) -> Result<Vec<OutPtr<CK_OBJECT_HANDLE>>> {
    // SAFETY: forwarded contract.
    let Some(m) = (unsafe { read_opt(ptr) }) else {
        return Ok(Vec::new());
    };
    // SAFETY: forwarded contract: the parameter is this mechanism's structure.
    let (keys, count) = unsafe {
        match layout(m.mechanism) {
            Layout::Kbkdf => {
                let k: CK_SP800_108_KDF_PARAMS = param_struct(m.pParameter, m.ulParameterLen)?;
                (k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys)
            }
            Layout::KbkdfFeedback => {
                let k: CK_SP800_108_FEEDBACK_KDF_PARAMS =
                    param_struct(m.pParameter, m.ulParameterLen)?;
                (k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys)
            }
            _ => return Ok(Vec::new()),
        }
    };
    // SAFETY: forwarded contract.
    let entries = unsafe { derived_keys(keys, count) }?;
    let mut out = try_vec(entries.len())?;
    for e in entries {
        // SAFETY: checked non-NULL; the caller vouches for the write.
        out.push(unsafe { OutPtr::new(e.phKey) }.map_err(|_| Error::MechanismParamInvalid)?);
    }
    Ok(out)
}

/// A mechanism where NULL has no meaning (key generation): NULL is bad.
///
/// # Safety
/// As for [`mechanism`].
pub(crate) unsafe fn mechanism_required(ptr: *const CK_MECHANISM) -> Result<Mech> {
    // SAFETY: forwarded contract.
    unsafe { mechanism(ptr) }?.ok_or(Error::ArgumentsBad)
}

/// One output value (a handle, a count, an info struct), checked non-NULL
/// before the façade runs and written only on success.
pub(crate) struct OutPtr<T>(NonNull<T>);

impl<T> OutPtr<T> {
    /// # Safety
    /// `ptr` is NULL or valid for one write of `T` until this is dropped.
    pub(crate) unsafe fn new(ptr: *mut T) -> Result<Self> {
        NonNull::new(ptr).map(Self).ok_or(Error::ArgumentsBad)
    }

    pub(crate) fn write(self, v: T) {
        // SAFETY: `new` was given a pointer valid for this write.
        unsafe { self.0.as_ptr().write_unaligned(v) }
    }
}

/// The output buffer of the length protocol (PKCS#11 3.0 §5.2): `buf` NULL
/// asks for the length; otherwise `*len_ptr` is its capacity.
pub(crate) struct OutBuf {
    buf: *mut u8,
    len: NonNull<CK_ULONG>,
    cap: OutCap,
}

impl OutBuf {
    /// # Safety
    /// `len_ptr` is NULL or valid for reads and writes of a `CK_ULONG`;
    /// `buf` is NULL or valid for writes of `*len_ptr` bytes.
    pub(crate) unsafe fn new(buf: *mut u8, len_ptr: *mut CK_ULONG) -> Result<Self> {
        let len = NonNull::new(len_ptr).ok_or(Error::ArgumentsBad)?;
        let cap = if buf.is_null() {
            OutCap::Query
        } else {
            // SAFETY: non-NULL and readable per the contract.
            let n = unsafe { len.as_ptr().read_unaligned() };
            // A capacity beyond the address space only bounds the output.
            OutCap::Cap(usize::try_from(n).unwrap_or(usize::MAX))
        };
        Ok(Self { buf, len, cap })
    }

    /// What the façade is told about the buffer.
    pub(crate) fn cap(&self) -> OutCap {
        self.cap
    }

    fn set_len(&self, n: usize) -> Result<()> {
        let n = to_ulong(n)?;
        // SAFETY: checked non-NULL and writable in `new`.
        unsafe { self.len.as_ptr().write_unaligned(n) };
        Ok(())
    }

    /// Finishes the protocol: a length goes to `*len_ptr` (CKR_OK for a
    /// query, CKR_BUFFER_TOO_SMALL otherwise); data is copied if it fits.
    pub(crate) fn write(self, out: Out) -> Result<()> {
        match out {
            Out::Len(n) => {
                self.set_len(n)?;
                if self.buf.is_null() {
                    Ok(())
                } else {
                    Err(Error::BufferTooSmall)
                }
            }
            Out::Data(v) => {
                let v = Zeroizing::new(v);
                match self.cap {
                    // The façade answered a query with data: report its length.
                    OutCap::Query => self.set_len(v.len()),
                    OutCap::Cap(cap) if v.len() > cap => {
                        self.set_len(v.len())?;
                        Err(Error::BufferTooSmall)
                    }
                    OutCap::Cap(_) => {
                        // SAFETY: `buf` is non-NULL (not a query) and writable
                        // for `cap` >= v.len() bytes; our vector is separate.
                        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.buf, v.len()) };
                        self.set_len(v.len())
                    }
                }
            }
        }
    }
}

impl OutBuf {
    /// The caller's buffer as a slice, for an operation to write into
    /// directly; None for a length query, or when the buffer overlaps
    /// `input` (an in-place call: a mutable slice may not alias the input,
    /// so that call takes the copying path).
    ///
    /// # Safety
    /// As for [`OutBuf::new`]; the slice must not outlive the C call.
    pub(crate) unsafe fn buffer<'a>(&self, input: &[u8]) -> Option<&'a mut [u8]> {
        let OutCap::Cap(cap) = self.cap else {
            return None;
        };
        let cap = cap.min(isize::MAX as usize);
        if self.buf.is_null() || cap == 0 {
            return None;
        }
        let out_start = self.buf as usize;
        let in_start = input.as_ptr() as usize;
        let overlap = !input.is_empty()
            && out_start < in_start.saturating_add(input.len())
            && in_start < out_start.saturating_add(cap);
        if overlap {
            return None;
        }
        // SAFETY: non-NULL, writable for `cap` bytes per the contract,
        // at most isize::MAX, and disjoint from `input` (checked above).
        Some(unsafe { std::slice::from_raw_parts_mut(self.buf, cap) })
    }

    /// Ends the protocol after an operation wrote `n` bytes itself.
    pub(crate) fn written(self, n: usize) -> Result<()> {
        self.set_len(n)
    }

    /// [`OutBuf::write`] for public output (ciphertext): the same length
    /// protocol, but the bytes are not zeroized after the copy — on bulk
    /// data that cost more than the cipher itself (issue 11).
    pub(crate) fn write_public(self, out: Out) -> Result<()> {
        let Out::Data(v) = out else {
            return self.write(out);
        };
        match self.cap {
            OutCap::Query => self.set_len(v.len()),
            OutCap::Cap(cap) if v.len() > cap => {
                self.set_len(v.len())?;
                Err(Error::BufferTooSmall)
            }
            OutCap::Cap(_) => {
                // SAFETY: `buf` is non-NULL (not a query) and writable for
                // `cap` >= v.len() bytes; our vector is separate.
                unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.buf, v.len()) };
                self.set_len(v.len())
            }
        }
    }
}

/// A list returned with the count protocol (`C_GetSlotList`,
/// `C_GetMechanismList`, `C_GetInterfaceList`): NULL list asks for the
/// count; a short list gets the count and CKR_BUFFER_TOO_SMALL.
pub(crate) struct ListOut<T> {
    list: *mut T,
    count: NonNull<CK_ULONG>,
}

impl<T: Copy> ListOut<T> {
    /// # Safety
    /// `count_ptr` is NULL or valid for reads and writes of a `CK_ULONG`;
    /// `list` is NULL or valid for writes of `*count_ptr` entries.
    pub(crate) unsafe fn new(list: *mut T, count_ptr: *mut CK_ULONG) -> Result<Self> {
        let count = NonNull::new(count_ptr).ok_or(Error::ArgumentsBad)?;
        Ok(Self { list, count })
    }

    pub(crate) fn write(self, items: &[T]) -> Result<()> {
        let n = to_ulong(items.len())?;
        let count = self.count.as_ptr();
        if !self.list.is_null() {
            // SAFETY: checked non-NULL and readable in `new`.
            let cap = unsafe { count.read_unaligned() };
            if cap < n {
                // SAFETY: as above, writable.
                unsafe { count.write_unaligned(n) };
                return Err(Error::BufferTooSmall);
            }
            for (i, item) in items.iter().enumerate() {
                // SAFETY: i < n <= *count, the entries the caller vouched for.
                unsafe { self.list.add(i).write_unaligned(*item) };
            }
        }
        // SAFETY: checked non-NULL and writable in `new`.
        unsafe { count.write_unaligned(n) };
        Ok(())
    }
}

/// A caller array of fixed capacity (`C_FindObjects`).
pub(crate) struct ArrayOut<T> {
    ptr: NonNull<T>,
    cap: usize,
}

impl<T: Copy> ArrayOut<T> {
    /// # Safety
    /// `ptr` is NULL or valid for writes of `cap` entries.
    pub(crate) unsafe fn new(ptr: *mut T, cap: CK_ULONG) -> Result<Self> {
        let ptr = NonNull::new(ptr).ok_or(Error::ArgumentsBad)?;
        // A capacity beyond the address space only bounds the output.
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        Ok(Self { ptr, cap })
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Copies `items` and returns how many were written.
    pub(crate) fn write(self, items: &[T]) -> Result<CK_ULONG> {
        if items.len() > self.cap {
            return Err(Error::GeneralError);
        }
        for (i, item) in items.iter().enumerate() {
            // SAFETY: i < cap, the entries the caller vouched for.
            unsafe { self.ptr.as_ptr().add(i).write_unaligned(*item) };
        }
        to_ulong(items.len())
    }
}

/// A caller buffer filled in full on success (`C_GenerateRandom`).
pub(crate) struct OutBytes {
    ptr: *mut u8,
    len: usize,
}

impl OutBytes {
    /// # Safety
    /// `ptr` is NULL or valid for writes of `len` bytes.
    pub(crate) unsafe fn new(ptr: *mut u8, len: CK_ULONG) -> Result<Self> {
        let len = to_usize(len)?;
        if ptr.is_null() && len > 0 {
            return Err(Error::ArgumentsBad);
        }
        Ok(Self { ptr, len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn write(self, src: &[u8]) -> Result<()> {
        if src.len() != self.len {
            return Err(Error::GeneralError);
        }
        if self.len > 0 {
            // SAFETY: non-NULL (checked in `new` since len > 0) and writable
            // for `len` bytes; `src` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr, self.len) };
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
