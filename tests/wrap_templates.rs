//! Nested templates through the module's C ABI (PKCS#11 3.0 §4.8–4.10,
//! §5.7, §5.18.3–5): CKA_WRAP_TEMPLATE limiting what a key wraps,
//! CKA_UNWRAP_TEMPLATE and CKA_DERIVE_TEMPLATE adding attributes to the
//! keys made with a key, reading such an attribute back with the two-call
//! protocol for arrays of attributes, and malformed nested input.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr;

use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

const ATTR_SIZE: usize = size_of::<CK_ATTRIBUTE>();

fn setup() -> (TestEnv, Init, Sess) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    (env, init, s)
}

/// An inner template: owns its values and the CK_ATTRIBUTE array over
/// them, which must outlive the call the outer template is passed to.
struct Inner {
    _vals: Vec<Vec<u8>>,
    raw: Vec<CK_ATTRIBUTE>,
}

impl Inner {
    fn new(entries: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>) -> Self {
        let mut vals: Vec<Vec<u8>> = entries.iter().map(|(_, v)| v.clone()).collect();
        let raw = entries
            .iter()
            .zip(vals.iter_mut())
            .map(|((ty, _), v)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_mut_ptr().cast::<c_void>(),
                ulValueLen: ulong(v.len()),
            })
            .collect();
        Inner { _vals: vals, raw }
    }

    /// An entry with a NULL value and a length.
    fn null_entry(ty: CK_ATTRIBUTE_TYPE, len: CK_ULONG) -> Self {
        Inner {
            _vals: Vec::new(),
            raw: vec![CK_ATTRIBUTE {
                type_: ty,
                pValue: ptr::null_mut(),
                ulValueLen: len,
            }],
        }
    }

    /// The array's bytes: what the outer attribute's pValue points to.
    fn bytes(&self) -> Vec<u8> {
        // SAFETY: reading the initialized bytes of our own array; every
        // CK_ATTRIBUTE byte is initialized (no padding on this target: two
        // CK_ULONG fields around a pointer).
        unsafe {
            std::slice::from_raw_parts(self.raw.as_ptr().cast::<u8>(), self.raw.len() * ATTR_SIZE)
        }
        .to_vec()
    }
}

fn b(v: bool) -> Vec<u8> {
    vec![if v { CK_TRUE } else { CK_FALSE }]
}

fn ul(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// {CKA_EXTRACTABLE: true, CKA_KEY_TYPE: CKK_AES}
fn aes_only() -> Inner {
    Inner::new(vec![
        (CKA_EXTRACTABLE, b(true)),
        (CKA_KEY_TYPE, ul(CKK_AES)),
    ])
}

/// {CKA_SENSITIVE: true, CKA_EXTRACTABLE: false}
fn locked_down() -> Inner {
    Inner::new(vec![(CKA_SENSITIVE, b(true)), (CKA_EXTRACTABLE, b(false))])
}

/// A session AES key that wraps and unwraps, with `extra` on top.
fn kek(s: &Sess, extra: impl FnOnce(Tmpl) -> Tmpl) -> Rv<CK_OBJECT_HANDLE> {
    s.create(extra(
        secret(CKK_AES, &[0x11; 16])
            .bool(CKA_WRAP, true)
            .bool(CKA_UNWRAP, true),
    ))
}

fn extractable(s: &Sess, key_type: CK_KEY_TYPE) -> CK_OBJECT_HANDLE {
    ok(
        // Not sensitive: only a CKA_TRUSTED key wraps sensitive keys
        // (docs/KEY-SEPARATION.md); these tests are about the templates.
        s.create(
            secret(key_type, &[0x22; 16])
                .bool(CKA_EXTRACTABLE, true)
                .bool(CKA_SENSITIVE, false),
        ),
        "import extractable key",
    )
}

fn aes_unwrap_template() -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, false)
}

#[test]
fn wrap_template_limits_what_is_wrapped() {
    let (_env, _init, s) = setup();
    let inner = aes_only();
    let w = ok(
        kek(&s, |t| t.bytes(CKA_WRAP_TEMPLATE, &inner.bytes())),
        "KEK with CKA_WRAP_TEMPLATE",
    );
    drop(inner);
    let m = Mech::new(CKM_AES_KEY_WRAP);
    let aes = extractable(&s, CKK_AES);
    let wrapped = ok(s.wrap(&m, w, aes), "wrap a matching AES key");
    assert_eq!(wrapped.len(), 24);
    let generic = extractable(&s, CKK_GENERIC_SECRET);
    // §5.18.3: "If any attribute mismatch occurs on an attempt to wrap a
    // key then the function SHALL return CKR_KEY_HANDLE_INVALID."
    err(
        s.wrap(&m, w, generic),
        CKR_KEY_HANDLE_INVALID,
        "wrap a generic secret",
    );
    // The other checks keep their own codes.
    let sealed = ok(
        s.create(secret(CKK_AES, &[0x33; 16])),
        "import unextractable AES key",
    );
    err(
        s.wrap(&m, w, sealed),
        CKR_KEY_UNEXTRACTABLE,
        "wrap an unextractable key",
    );
    // A key without the attribute wraps both.
    let plain = ok(kek(&s, |t| t), "plain KEK");
    ok(s.wrap(&m, plain, generic), "wrap without a template");
    // An empty template matches everything.
    let empty = Inner::new(vec![]);
    let open = ok(
        kek(&s, |t| t.bytes(CKA_WRAP_TEMPLATE, &empty.bytes())),
        "KEK with an empty CKA_WRAP_TEMPLATE",
    );
    ok(s.wrap(&m, open, generic), "wrap under an empty template");
}

#[test]
fn unwrap_template_is_added_to_the_new_key() {
    let (_env, _init, s) = setup();
    let inner = locked_down();
    let u = ok(
        kek(&s, |t| t.bytes(CKA_UNWRAP_TEMPLATE, &inner.bytes())),
        "KEK with CKA_UNWRAP_TEMPLATE",
    );
    drop(inner);
    let m = Mech::new(CKM_AES_KEY_WRAP);
    let target = extractable(&s, CKK_AES);
    let wrapped = ok(s.wrap(&m, u, target), "wrap");

    let k = ok(
        s.unwrap(&m, u, &wrapped, aes_unwrap_template()),
        "unwrap under the template",
    );
    assert!(s.attr_bool(k, CKA_SENSITIVE), "CKA_SENSITIVE from template");
    assert!(
        !s.attr_bool(k, CKA_EXTRACTABLE),
        "CKA_EXTRACTABLE from template"
    );
    err(
        s.attr(k, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "value hidden",
    );

    // The caller may repeat the template's values …
    ok(
        s.unwrap(
            &m,
            u,
            &wrapped,
            aes_unwrap_template().bool(CKA_SENSITIVE, true),
        ),
        "unwrap repeating the template",
    );
    // … but not contradict them (§5.18.4).
    for (ty, v) in [(CKA_EXTRACTABLE, true), (CKA_SENSITIVE, false)] {
        err(
            s.unwrap(&m, u, &wrapped, aes_unwrap_template().bool(ty, v)),
            CKR_TEMPLATE_INCONSISTENT,
            &format!("caller gives {ty:#x} = {v}"),
        );
    }
}

#[test]
fn derive_template_is_added_to_the_derived_key() {
    let (_env, _init, s) = setup();
    let inner = locked_down();
    let base = ok(
        s.create(
            secret(CKK_GENERIC_SECRET, &[0x0b; 22])
                .bool(CKA_DERIVE, true)
                .bytes(CKA_DERIVE_TEMPLATE, &inner.bytes()),
        ),
        "HKDF base with CKA_DERIVE_TEMPLATE",
    );
    let m = Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, true, true, Salt::Null, b"");
    let derived = |extra: fn(Tmpl) -> Tmpl| {
        s.derive(
            &m,
            base,
            extra(
                Tmpl::new()
                    .ulong(CKA_CLASS, CKO_SECRET_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                    .ulong(CKA_VALUE_LEN, 32)
                    .bool(CKA_TOKEN, false),
            ),
        )
    };
    let k = ok(derived(|t| t), "derive under the template");
    assert!(s.attr_bool(k, CKA_SENSITIVE));
    assert!(!s.attr_bool(k, CKA_EXTRACTABLE));
    err(
        derived(|t| t.bool(CKA_EXTRACTABLE, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "derive contradicting the template",
    );
}

/// C_GetAttributeValue of one nested attribute, the caller's entry as
/// given; returns the CK_RV and the entry as the module left it.
fn get_one(s: &Sess, o: CK_OBJECT_HANDLE, a: &mut CK_ATTRIBUTE) -> CK_RV {
    ck!(s.f, C_GetAttributeValue(s.h, o, a, 1))
}

fn outer(ty: CK_ATTRIBUTE_TYPE, array: &mut [CK_ATTRIBUTE], len: usize) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: if array.is_empty() {
            ptr::null_mut()
        } else {
            array.as_mut_ptr().cast()
        },
        ulValueLen: ulong(len),
    }
}

fn blank(n: usize) -> Vec<CK_ATTRIBUTE> {
    (0..n)
        .map(|_| CK_ATTRIBUTE {
            type_: CKA_VENDOR_DEFINED,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        })
        .collect()
}

#[test]
fn reading_a_nested_template_back() {
    let (_env, _init, s) = setup();
    let inner = aes_only();
    let w = ok(
        kek(&s, |t| t.bytes(CKA_WRAP_TEMPLATE, &inner.bytes())),
        "KEK with CKA_WRAP_TEMPLATE",
    );
    drop(inner);

    // 1. The size of the array.
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut [], 0);
    assert_rv!(get_one(&s, w, &mut a), CKR_OK, "array size");
    assert_eq!(usize_of(a.ulValueLen), 2 * ATTR_SIZE);

    // 2. Types and lengths, into an array whose entries have no buffers;
    // the caller's types are ignored.
    let mut arr = blank(2);
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut arr, 2 * ATTR_SIZE);
    assert_rv!(get_one(&s, w, &mut a), CKR_OK, "types and lengths");
    assert_eq!(usize_of(a.ulValueLen), 2 * ATTR_SIZE);
    let mut got: Vec<_> = arr.iter().map(|e| (e.type_, e.ulValueLen)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (CKA_KEY_TYPE, ulong(size_of::<CK_ULONG>())),
            (CKA_EXTRACTABLE, 1),
        ]
    );

    // 3. The values, into buffers of those lengths.
    let mut bufs: Vec<Vec<u8>> = arr
        .iter()
        .map(|e| vec![0xee; usize_of(e.ulValueLen)])
        .collect();
    for (e, buf) in arr.iter_mut().zip(bufs.iter_mut()) {
        e.pValue = buf.as_mut_ptr().cast();
    }
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut arr, 2 * ATTR_SIZE);
    assert_rv!(get_one(&s, w, &mut a), CKR_OK, "values");
    for (e, buf) in arr.iter().zip(bufs.iter()) {
        assert_eq!(usize_of(e.ulValueLen), buf.len());
        match e.type_ {
            CKA_KEY_TYPE => assert_eq!(*buf, ul(CKK_AES)),
            CKA_EXTRACTABLE => assert_eq!(*buf, b(true)),
            other => panic!("unexpected inner type {other:#x}"),
        }
    }

    // An array too short for both entries: the outer entry fails.
    let mut arr = blank(2);
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut arr, ATTR_SIZE);
    assert_rv!(get_one(&s, w, &mut a), CKR_BUFFER_TOO_SMALL, "short array");
    assert_eq!(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    // A short inner buffer: that entry fails, the other is filled, the
    // array's size stays.
    let mut arr = blank(2);
    let mut big = [[0u8; 16]; 2];
    for (e, buf) in arr.iter_mut().zip(big.iter_mut()) {
        e.pValue = buf.as_mut_ptr().cast();
        e.ulValueLen = 16;
    }
    // The first entry is CKA_KEY_TYPE (types ascend): room for one byte.
    arr[0].ulValueLen = 1;
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut arr, 2 * ATTR_SIZE);
    assert_rv!(get_one(&s, w, &mut a), CKR_BUFFER_TOO_SMALL, "short inner");
    assert_eq!(usize_of(a.ulValueLen), 2 * ATTR_SIZE);
    assert_eq!(arr[0].type_, CKA_KEY_TYPE);
    assert_eq!(arr[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(arr[1].type_, CKA_EXTRACTABLE);
    assert_eq!(arr[1].ulValueLen, 1);
    assert_eq!(big[1][0], CK_TRUE);

    // A key without the attribute does not have it.
    let plain = ok(kek(&s, |t| t), "plain KEK");
    let mut a = outer(CKA_WRAP_TEMPLATE, &mut [], 0);
    assert_rv!(
        get_one(&s, plain, &mut a),
        CKR_ATTRIBUTE_TYPE_INVALID,
        "no template"
    );
}

#[test]
fn generated_token_key_keeps_its_templates() {
    let (_env, _init, s) = setup();
    let inner = locked_down();
    let wrap_inner = aes_only();
    let k = ok(
        s.generate_key(
            &Mech::new(CKM_AES_KEY_GEN),
            Tmpl::new()
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_TOKEN, true)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true)
                .bytes(CKA_UNWRAP_TEMPLATE, &inner.bytes())
                .bytes(CKA_WRAP_TEMPLATE, &wrap_inner.bytes()),
        ),
        "generate a token KEK with templates",
    );
    for (ty, want) in [(CKA_UNWRAP_TEMPLATE, 2), (CKA_WRAP_TEMPLATE, 2)] {
        let mut a = outer(ty, &mut [], 0);
        assert_rv!(get_one(&s, k, &mut a), CKR_OK, "size of {ty:#x}");
        assert_eq!(usize_of(a.ulValueLen), want * ATTR_SIZE);
    }
    // Fixed once the key exists (no footnote 8) …
    let other = Inner::new(vec![(CKA_SENSITIVE, b(true))]);
    err(
        s.set_attr(k, Tmpl::new().bytes(CKA_UNWRAP_TEMPLATE, &other.bytes())),
        CKR_ATTRIBUTE_READ_ONLY,
        "change CKA_UNWRAP_TEMPLATE",
    );
    // … though giving the same value is accepted.
    let same = locked_down();
    ok(
        s.set_attr(k, Tmpl::new().bytes(CKA_UNWRAP_TEMPLATE, &same.bytes())),
        "same CKA_UNWRAP_TEMPLATE",
    );
    // Searching by the template finds the key.
    let found = ok(
        s.find(Tmpl::new().bytes(CKA_WRAP_TEMPLATE, &wrap_inner.bytes())),
        "find by CKA_WRAP_TEMPLATE",
    );
    assert_eq!(found, vec![k]);
    // And the stored template still works.
    let m = Mech::new(CKM_AES_KEY_WRAP);
    let generic = extractable(&s, CKK_GENERIC_SECRET);
    err(
        s.wrap(&m, k, generic),
        CKR_KEY_HANDLE_INVALID,
        "stored template",
    );
}

#[test]
fn nested_templates_only_where_the_spec_puts_them() {
    let (_env, _init, s) = setup();
    let inner = locked_down();
    let data = Tmpl::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, false)
        .bytes(CKA_UNWRAP_TEMPLATE, &inner.bytes());
    err(
        s.create(data),
        CKR_TEMPLATE_INCONSISTENT,
        "on a data object",
    );
    // A public key has CKA_WRAP_TEMPLATE but no CKA_UNWRAP_TEMPLATE.
    err(
        s.create(ec_public().bytes(CKA_UNWRAP_TEMPLATE, &inner.bytes())),
        CKR_TEMPLATE_INCONSISTENT,
        "CKA_UNWRAP_TEMPLATE on a public key",
    );
    let wrap_inner = aes_only();
    ok(
        s.create(ec_public().bytes(CKA_WRAP_TEMPLATE, &wrap_inner.bytes())),
        "CKA_WRAP_TEMPLATE on a public key",
    );
}

/// A session P-256 public key template: the base point G.
fn ec_public() -> Tmpl {
    let g = unhex(concat!(
        "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    ));
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bool(CKA_TOKEN, false)
        .bytes(CKA_EC_PARAMS, common::P256_PARAMS)
        .bytes(CKA_EC_POINT, &der_octets(&g))
}

/// C_CreateObject over a raw template.
fn create_raw(s: &Sess, attrs: &mut [CK_ATTRIBUTE]) -> CK_RV {
    let mut o = CK_INVALID_HANDLE;
    ck!(
        s.f,
        C_CreateObject(s.h, attrs.as_mut_ptr(), ulong(attrs.len()), &mut o)
    )
}

#[test]
fn malformed_nested_input() {
    let (_env, _init, s) = setup();
    let with_wrap_template = |value: &[u8]| kek(&s, |t| t.bytes(CKA_WRAP_TEMPLATE, value));

    // Not a whole number of CK_ATTRIBUTE entries.
    let inner = aes_only();
    let mut bytes = inner.bytes();
    bytes.pop();
    err(
        with_wrap_template(&bytes),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "length not a multiple of sizeof(CK_ATTRIBUTE)",
    );
    err(
        with_wrap_template(&[0; 3]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "three bytes",
    );
    // An inner entry with a NULL value and a length.
    let null = Inner::null_entry(CKA_SENSITIVE, 1);
    err(
        with_wrap_template(&null.bytes()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "NULL inner pValue with a length",
    );
    // NULL with length 0 is an empty value, here a bad boolean.
    let empty_bool = Inner::null_entry(CKA_SENSITIVE, 0);
    err(
        with_wrap_template(&empty_bool.bytes()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "empty inner CK_BBOOL",
    );
    // Inner values get the usual checks.
    let short = Inner::new(vec![(CKA_KEY_TYPE, vec![1, 2, 3])]);
    err(
        with_wrap_template(&short.bytes()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "inner CK_ULONG of three bytes",
    );
    let twice = Inner::new(vec![(CKA_SENSITIVE, b(true)), (CKA_SENSITIVE, b(false))]);
    err(
        with_wrap_template(&twice.bytes()),
        CKR_TEMPLATE_INCONSISTENT,
        "inner attribute given twice with different values",
    );
    // One level only: a template inside a template is refused.
    let deepest = aes_only();
    let deep = Inner::new(vec![(CKA_UNWRAP_TEMPLATE, deepest.bytes())]);
    err(
        with_wrap_template(&deep.bytes()),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "nested template inside a template",
    );
    // The outer pointer NULL with a length, as for any attribute.
    let mut class = CKO_SECRET_KEY.to_ne_bytes();
    let mut key_type = CKK_AES.to_ne_bytes();
    let mut value = [0x11u8; 16];
    let mut raw = [
        CK_ATTRIBUTE {
            type_: CKA_CLASS,
            pValue: class.as_mut_ptr().cast(),
            ulValueLen: ulong(class.len()),
        },
        CK_ATTRIBUTE {
            type_: CKA_KEY_TYPE,
            pValue: key_type.as_mut_ptr().cast(),
            ulValueLen: ulong(key_type.len()),
        },
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: value.as_mut_ptr().cast(),
            ulValueLen: 16,
        },
        CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: ptr::null_mut(),
            ulValueLen: ulong(ATTR_SIZE),
        },
    ];
    assert_rv!(
        create_raw(&s, &mut raw),
        CKR_ARGUMENTS_BAD,
        "NULL outer pValue with a length"
    );
    // NULL with length 0 is an empty template.
    raw[3].ulValueLen = 0;
    assert_rv!(create_raw(&s, &mut raw), CKR_OK, "empty nested template");
}
