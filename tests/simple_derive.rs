//! The simple derivations through the C ABI (issue 13):
//! CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE,
//! CKM_XOR_BASE_AND_DATA, CKM_CONCATENATE_BASE_AND_KEY and
//! CKM_EXTRACT_KEY_FROM_KEY. Not offered under the default policy (they
//! defeat key separation); offered under the compat profile, where the
//! new key takes the base key's protection: a sensitive base gives a
//! sensitive key, an unextractable base an unextractable one, whatever
//! the template asks.

mod common;

use common::lifecycle::*;
use common::mech::Mech;
use common::ops::*;
use common::raw::Tmpl;
use cryptoki_sys::*;

const BASE: [u8; 4] = [0xf0, 0x0f, 0xaa, 0x55];

fn base(s: &Sess, sensitive: bool, extractable: bool) -> CK_OBJECT_HANDLE {
    secret(s, &BASE, sensitive, extractable)
}

fn secret(s: &Sess, value: &[u8], sensitive: bool, extractable: bool) -> CK_OBJECT_HANDLE {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, sensitive)
        .bool(CKA_EXTRACTABLE, extractable);
    ok(s.create(t), "import the base secret")
}

/// A readable generic secret, `len` bytes if given.
fn readable(len: Option<CK_ULONG>) -> Tmpl {
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
        .bool(CKA_SIGN, true);
    match len {
        Some(n) => t.ulong(CKA_VALUE_LEN, n),
        None => t,
    }
}

#[test]
fn not_offered_under_key_separation() {
    let m = Module::start("");
    let s = m.ready();
    let k = base(&s, false, true);
    for mech in [
        Mech::string_data(CKM_CONCATENATE_BASE_AND_DATA, &[1, 2]),
        Mech::string_data(CKM_CONCATENATE_DATA_AND_BASE, &[1, 2]),
        Mech::string_data(CKM_XOR_BASE_AND_DATA, &[1, 2]),
        Mech::ulong(CKM_CONCATENATE_BASE_AND_KEY, k),
        Mech::ulong(CKM_EXTRACT_KEY_FROM_KEY, 0),
    ] {
        err(
            s.mechanism_info(0, mech.ty()),
            CKR_MECHANISM_INVALID,
            "not listed",
        );
        err(
            s.derive(&mech, k, readable(Some(2))),
            CKR_MECHANISM_INVALID,
            "C_DeriveKey refused",
        );
    }
}

#[test]
fn results_under_the_compat_profile() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    let k = base(&s, false, true);
    let info = ok(s.mechanism_info(0, CKM_XOR_BASE_AND_DATA), "listed");
    assert_eq!(info.flags, CKF_DERIVE);
    let cases: [(CK_MECHANISM_TYPE, Option<CK_ULONG>, Vec<u8>); 4] = [
        (
            CKM_CONCATENATE_BASE_AND_DATA,
            None,
            vec![0xf0, 0x0f, 0xaa, 0x55, 1, 2],
        ),
        (
            CKM_CONCATENATE_DATA_AND_BASE,
            None,
            vec![1, 2, 0xf0, 0x0f, 0xaa, 0x55],
        ),
        (CKM_XOR_BASE_AND_DATA, None, vec![0xf1, 0x0d]),
        (
            CKM_CONCATENATE_BASE_AND_DATA,
            Some(5),
            vec![0xf0, 0x0f, 0xaa, 0x55, 1],
        ),
    ];
    for (mech, len, want) in cases {
        let d = ok(
            s.derive(&Mech::string_data(mech, &[1, 2]), k, readable(len)),
            "derive",
        );
        assert_eq!(s.attr_ok(d, CKA_VALUE), want, "{mech:#x}");
        assert!(!s.attr_bool(d, CKA_LOCAL));
    }
    err(
        s.derive(
            &Mech::string_data(CKM_XOR_BASE_AND_DATA, &[1, 2]),
            k,
            readable(Some(3)),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "more than the XOR gives",
    );
    err(
        s.derive(&Mech::new(CKM_XOR_BASE_AND_DATA), k, readable(None)),
        CKR_MECHANISM_PARAM_INVALID,
        "no data",
    );
}

/// One byte of data and a length of the base's would otherwise copy a
/// sensitive key into a readable one.
#[test]
fn the_new_key_is_as_protected_as_its_base() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    let guarded = base(&s, true, false);
    let d = ok(
        s.derive(
            &Mech::string_data(CKM_CONCATENATE_BASE_AND_DATA, &[0]),
            guarded,
            readable(Some(4)),
        ),
        "derive from a sensitive, unextractable base",
    );
    assert!(s.attr_bool(d, CKA_SENSITIVE));
    assert!(!s.attr_bool(d, CKA_EXTRACTABLE));
    err(
        s.attr(d, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "the copy's value",
    );
}

/// CKM_EXTRACT_KEY_FROM_KEY: the spec's own example (0x329F84A9 from bit
/// 21, two bytes: 0x9526), wrapping around the end, and its errors.
#[test]
fn extract_key_from_key() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    let info = ok(s.mechanism_info(0, CKM_EXTRACT_KEY_FROM_KEY), "listed");
    assert_eq!(info.flags, CKF_DERIVE);
    let k = secret(&s, &[0x32, 0x9f, 0x84, 0xa9], false, true);
    let extract = |bit, len| {
        s.derive(
            &Mech::ulong(CKM_EXTRACT_KEY_FROM_KEY, bit),
            k,
            readable(len),
        )
    };
    let d = ok(extract(21, Some(2)), "the spec's example");
    assert_eq!(s.attr_ok(d, CKA_VALUE), vec![0x95, 0x26]);
    let d = ok(extract(8, Some(4)), "wraps around the end");
    assert_eq!(s.attr_ok(d, CKA_VALUE), vec![0x9f, 0x84, 0xa9, 0x32]);
    err(
        extract(0, None),
        CKR_TEMPLATE_INCOMPLETE,
        "no length, no type",
    );
    err(
        extract(0, Some(5)),
        CKR_TEMPLATE_INCONSISTENT,
        "longer than the base",
    );
    err(
        extract(32, Some(1)),
        CKR_MECHANISM_PARAM_INVALID,
        "first bit past the end",
    );
    err(
        s.derive(&Mech::new(CKM_EXTRACT_KEY_FROM_KEY), k, readable(Some(1))),
        CKR_MECHANISM_PARAM_INVALID,
        "no parameter",
    );
    // "If the original key … is sensitive, then the derived key must also
    // be sensitive for the derivation to succeed."
    let guarded = secret(&s, &[0x32, 0x9f, 0x84, 0xa9], true, true);
    let mech = Mech::ulong(CKM_EXTRACT_KEY_FROM_KEY, 3);
    err(
        s.derive(&mech, guarded, readable(Some(2))),
        CKR_TEMPLATE_INCONSISTENT,
        "a readable key from a sensitive one",
    );
    let no_say = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .ulong(CKA_VALUE_LEN, 2);
    let d = ok(
        s.derive(&mech, guarded, no_say),
        "sensitivity left to the token",
    );
    assert!(s.attr_bool(d, CKA_SENSITIVE));
    err(
        s.attr(d, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "the derived value",
    );
}

/// CKM_CONCATENATE_BASE_AND_KEY: base || other, the other key used like
/// the base (CKA_DERIVE), and the new key as protected as either.
#[test]
fn concatenate_base_and_key() {
    let m = Module::start("[policy]\nprofile = \"compat\"\n");
    let s = m.ready();
    let info = ok(s.mechanism_info(0, CKM_CONCATENATE_BASE_AND_KEY), "listed");
    assert_eq!(info.flags, CKF_DERIVE);
    let k = base(&s, false, true);
    let other = secret(&s, &[1, 2, 3], false, true);
    let cat = |base, other, len| {
        s.derive(
            &Mech::ulong(CKM_CONCATENATE_BASE_AND_KEY, other),
            base,
            readable(len),
        )
    };
    let d = ok(cat(k, other, None), "base || other");
    assert_eq!(
        s.attr_ok(d, CKA_VALUE),
        vec![0xf0, 0x0f, 0xaa, 0x55, 1, 2, 3]
    );
    let d = ok(cat(k, other, Some(5)), "leading bytes");
    assert_eq!(s.attr_ok(d, CKA_VALUE), vec![0xf0, 0x0f, 0xaa, 0x55, 1]);
    err(
        cat(k, other, Some(8)),
        CKR_TEMPLATE_INCONSISTENT,
        "too long",
    );
    err(
        cat(k, 0xdead_beef, None),
        CKR_KEY_HANDLE_INVALID,
        "no such key",
    );
    // The other key must allow derivation, as a base must.
    let no_derive = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, &[7; 4])
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, false)
        .bool(CKA_SENSITIVE, false);
    let no_derive = ok(s.create(no_derive), "a key without CKA_DERIVE");
    err(
        cat(k, no_derive, None),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "other key without CKA_DERIVE",
    );
    // A private key is not key material to concatenate.
    let (_, private) = ec_pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        common::P256_PARAMS,
        |t| t,
        |t| t.bool(CKA_DERIVE, true),
    );
    err(
        cat(k, private, None),
        CKR_KEY_TYPE_INCONSISTENT,
        "other key not secret",
    );
    // Protection follows the other key too: a sensitive, unextractable
    // other key makes the result sensitive and unextractable, and never
    // "always sensitive" unless both were.
    let guarded = secret(&s, &[9; 4], true, false);
    let d = ok(cat(k, guarded, Some(4)), "with a guarded other key");
    assert!(s.attr_bool(d, CKA_SENSITIVE));
    assert!(!s.attr_bool(d, CKA_EXTRACTABLE));
    assert!(!s.attr_bool(d, CKA_ALWAYS_SENSITIVE));
    err(
        s.attr(d, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "the result's value",
    );
}
