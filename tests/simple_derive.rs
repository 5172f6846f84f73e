//! The simple data derivations through the C ABI (issue 13):
//! CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE and
//! CKM_XOR_BASE_AND_DATA. Not offered under the default policy (they
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
    let t = Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, &BASE)
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
        CKM_CONCATENATE_BASE_AND_DATA,
        CKM_CONCATENATE_DATA_AND_BASE,
        CKM_XOR_BASE_AND_DATA,
    ] {
        err(
            s.mechanism_info(0, mech),
            CKR_MECHANISM_INVALID,
            "not listed",
        );
        err(
            s.derive(&Mech::string_data(mech, &[1, 2]), k, readable(None)),
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
