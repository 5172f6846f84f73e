//! Unit tests of the raw-pointer readers and writers for nested templates
//! (kept apart from args.rs only to keep that file readable).

use super::*;
use std::ffi::c_void;
use std::ptr::{null, null_mut};

const ATTR: usize = size_of::<CK_ATTRIBUTE>();

fn entry(ty: CK_ATTRIBUTE_TYPE, v: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: if v.is_empty() {
            null_mut()
        } else {
            v.as_mut_ptr().cast()
        },
        ulValueLen: v.len() as CK_ULONG,
    }
}

fn outer(ty: CK_ATTRIBUTE_TYPE, inner: &mut [CK_ATTRIBUTE], len: usize) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: inner.as_mut_ptr().cast::<c_void>(),
        ulValueLen: len as CK_ULONG,
    }
}

#[test]
fn nested_template_is_read_one_level() {
    let mut yes = [1u8];
    let mut kt = CKK_AES.to_ne_bytes();
    let mut inner = [entry(CKA_SENSITIVE, &mut yes), entry(CKA_KEY_TYPE, &mut kt)];
    let mut label = *b"l";
    let t = [
        outer(CKA_WRAP_TEMPLATE, &mut inner, 2 * ATTR),
        entry(CKA_LABEL, &mut label),
    ];
    // SAFETY: live locals, lengths as given.
    let got = unsafe { template(t.as_ptr(), 2) }.unwrap();
    assert_eq!(got[1].value, b"l");
    let list = nested::decode_list(&got[0].value).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].ty, list[0].value.as_slice()),
        (CKA_SENSITIVE, &[1u8][..])
    );
    assert_eq!(list[1].value, CKK_AES.to_ne_bytes());
    // CKA_ALLOWED_MECHANISMS has the array bit but is read flat.
    let mut mechs = CKM_AES_GCM.to_ne_bytes();
    let t = [entry(CKA_ALLOWED_MECHANISMS, &mut mechs)];
    // SAFETY: as above.
    let got = unsafe { template(t.as_ptr(), 1) }.unwrap();
    assert_eq!(got[0].value, CKM_AES_GCM.to_ne_bytes());
}

#[test]
fn malformed_nested_templates() {
    let mut yes = [1u8];
    let mut inner = [entry(CKA_SENSITIVE, &mut yes)];
    let read = |t: &[CK_ATTRIBUTE]| {
        // SAFETY: live locals; lengths within the arrays.
        unsafe { template(t.as_ptr(), t.len() as CK_ULONG) }.map(|_| ())
    };
    let partial = [outer(CKA_UNWRAP_TEMPLATE, &mut inner, ATTR - 1)];
    assert_eq!(read(&partial), Err(Error::AttributeValueInvalid));
    let mut null_inner = [CK_ATTRIBUTE {
        type_: CKA_SENSITIVE,
        pValue: null_mut(),
        ulValueLen: 1,
    }];
    let t = [outer(CKA_DERIVE_TEMPLATE, &mut null_inner, ATTR)];
    assert_eq!(read(&t), Err(Error::AttributeValueInvalid));
    let null_outer = [CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: null_mut(),
        ulValueLen: ATTR as CK_ULONG,
    }];
    assert_eq!(read(&null_outer), Err(Error::ArgumentsBad));
    let empty = [CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    // SAFETY: as above.
    let got = unsafe { template(empty.as_ptr(), 1) }.unwrap();
    assert!(nested::decode_list(&got[0].value).unwrap().is_empty());
    // SAFETY: NULL with count 0.
    assert!(unsafe { template(null(), 0) }.unwrap().is_empty());
}

fn answer() -> Vec<AttrRead> {
    let list = [
        Attr {
            ty: CKA_KEY_TYPE,
            value: CKK_AES.to_ne_bytes().to_vec(),
        },
        Attr {
            ty: CKA_EXTRACTABLE,
            value: vec![1],
        },
    ];
    vec![AttrRead::Value(nested::encode_list(&list))]
}

fn blank() -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: 0,
        pValue: null_mut(),
        ulValueLen: 0,
    }
}

#[test]
fn nested_template_written_back() {
    // Size query.
    let mut a = [outer(CKA_WRAP_TEMPLATE, &mut [], 0)];
    a[0].pValue = null_mut();
    // SAFETY: live locals with the lengths they claim.
    let rv = unsafe { write_attributes(a.as_mut_ptr(), 1, answer()) };
    assert_eq!(rv, Ok(()));
    assert_eq!(a[0].ulValueLen as usize, 2 * ATTR);
    // Types and lengths.
    let mut inner = [blank(), blank()];
    let mut a = [outer(CKA_WRAP_TEMPLATE, &mut inner, 2 * ATTR)];
    // SAFETY: as above.
    let rv = unsafe { write_attributes(a.as_mut_ptr(), 1, answer()) };
    assert_eq!(rv, Ok(()));
    assert_eq!(
        (inner[0].type_, inner[0].ulValueLen),
        (CKA_KEY_TYPE, ULONG_BYTES)
    );
    assert_eq!((inner[1].type_, inner[1].ulValueLen), (CKA_EXTRACTABLE, 1));
    // Values; a short second buffer fails that entry only.
    let (mut kt, mut ex) = ([0u8; 8], [0u8; 1]);
    inner[0].pValue = kt.as_mut_ptr().cast();
    inner[1].pValue = ex.as_mut_ptr().cast();
    inner[1].ulValueLen = 0;
    let mut a = [outer(CKA_WRAP_TEMPLATE, &mut inner, 2 * ATTR)];
    // SAFETY: as above.
    let rv = unsafe { write_attributes(a.as_mut_ptr(), 1, answer()) };
    assert_eq!(rv, Err(Error::BufferTooSmall));
    assert_eq!(a[0].ulValueLen as usize, 2 * ATTR);
    assert_eq!(kt, CKK_AES.to_ne_bytes());
    assert_eq!(inner[1].type_, CKA_EXTRACTABLE);
    assert_eq!(inner[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(ex, [0]);
    // An array too short for the entries.
    let mut a = [outer(CKA_WRAP_TEMPLATE, &mut inner, ATTR)];
    // SAFETY: as above.
    let rv = unsafe { write_attributes(a.as_mut_ptr(), 1, answer()) };
    assert_eq!(rv, Err(Error::BufferTooSmall));
    assert_eq!(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

const ULONG_BYTES: CK_ULONG = size_of::<CK_ULONG>() as CK_ULONG;
