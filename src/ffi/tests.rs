//! Tests of the pointer helpers, the function tables and interface
//! discovery, and the shims' behaviour before `C_Initialize`.

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use cryptoki_sys::*;

use super::args::{self, ArrayOut, ListOut, OutBuf, OutBytes, OutPtr};
use super::function_list::{C_GetFunctionList, C_GetInterface, C_GetInterfaceList};
use super::function_list::{
    FUNCTION_LIST, FUNCTION_LIST_3_0, FUNCTION_LIST_3_2, INTERFACES, select_interface,
};
use super::general::{C_Finalize, C_GetFunctionStatus, C_GetInfo};
use super::{entry, entry_rv};
use crate::api::{AttrRead, Out, OutCap, RawParam};
use crate::error::Error;

fn attr(ty: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: buf.as_mut_ptr().cast(),
        ulValueLen: buf.len() as CK_ULONG,
    }
}

fn null_attr(ty: CK_ATTRIBUTE_TYPE, len: CK_ULONG) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: null_mut(),
        ulValueLen: len,
    }
}

#[test]
fn in_bytes_null_rules() {
    // SAFETY: NULL pointers and a live local buffer.
    unsafe {
        assert_eq!(args::in_bytes(null(), 0).unwrap(), b"");
        assert_eq!(args::in_bytes(null(), 5), Err(Error::ArgumentsBad));
        let data = [1u8, 2, 3];
        assert_eq!(args::in_bytes(data.as_ptr(), 0).unwrap(), b"");
        assert_eq!(args::in_bytes(data.as_ptr(), 3).unwrap(), &data);
        assert_eq!(args::pin(null(), 0), Err(Error::ArgumentsBad));
        assert_eq!(args::pin(b"".as_ptr(), 0).unwrap(), b"");
        assert_eq!(args::pin(null(), 4), Err(Error::ArgumentsBad));
        assert_eq!(args::login_pin(null(), 0), Ok(None));
        assert_eq!(args::login_pin(null(), 4), Err(Error::ArgumentsBad));
        assert_eq!(args::login_pin(b"1234".as_ptr(), 4), Ok(Some(&b"1234"[..])));
    }
}

#[test]
fn template_rules() {
    let mut v = *b"abc";
    let ok = [attr(CKA_LABEL, &mut v), null_attr(CKA_ID, 0)];
    let bad = [null_attr(CKA_LABEL, 4)];
    // SAFETY: arrays and buffers are live locals of the stated lengths.
    unsafe {
        assert!(args::template(null(), 0).unwrap().is_empty());
        assert!(matches!(
            args::template(null(), 2),
            Err(Error::ArgumentsBad)
        ));
        assert!(matches!(
            args::template(bad.as_ptr(), 1),
            Err(Error::ArgumentsBad)
        ));
        let t = args::template(ok.as_ptr(), 2).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].ty, t[0].value.as_slice()), (CKA_LABEL, &b"abc"[..]));
        assert_eq!((t[1].ty, t[1].value.len()), (CKA_ID, 0));
        assert_eq!(
            args::attribute_types(ok.as_ptr(), 2).unwrap(),
            [CKA_LABEL, CKA_ID]
        );
    }
}

#[test]
fn mechanism_rules() {
    let mut param = [7u8; 4];
    let with = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: param.as_mut_ptr().cast(),
        ulParameterLen: 4,
    };
    let none = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: param.as_mut_ptr().cast(),
        ulParameterLen: 0,
    };
    let bad = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 4,
    };
    // SAFETY: every pointer is NULL or a live local.
    unsafe {
        assert_eq!(args::mechanism(null()).unwrap(), None);
        let m = args::mechanism(&with).unwrap().unwrap();
        assert_eq!((m.ty, m.param), (CKM_SHA256, RawParam::Bytes(vec![7; 4])));
        assert_eq!(
            args::mechanism(&none).unwrap().unwrap().param,
            RawParam::None
        );
        assert_eq!(args::mechanism(&bad), Err(Error::ArgumentsBad));
        assert_eq!(args::mechanism_required(null()), Err(Error::ArgumentsBad));
    }
}

#[test]
fn label_and_init_args() {
    let label = [b'x'; 32];
    // SAFETY: NULL or live locals of the right size.
    unsafe {
        assert_eq!(args::label(null()), Err(Error::ArgumentsBad));
        assert_eq!(args::label(label.as_ptr()).unwrap(), label);
        let d = args::init_args(null());
        assert!(!d.has_mutex_callbacks && !d.partial_mutex_callbacks && !d.reserved_non_null);
    }
    unsafe extern "C" fn create(_: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    unsafe extern "C" fn other(_: *mut c_void) -> CK_RV {
        CKR_OK
    }
    let mut a = CK_C_INITIALIZE_ARGS {
        CreateMutex: Some(create),
        DestroyMutex: Some(other),
        LockMutex: Some(other),
        UnlockMutex: Some(other),
        flags: CKF_OS_LOCKING_OK,
        pReserved: null_mut(),
    };
    // SAFETY: live local structure.
    let full = unsafe { args::init_args(&a) };
    assert!(full.has_mutex_callbacks && !full.partial_mutex_callbacks);
    assert_eq!(full.flags, CKF_OS_LOCKING_OK);
    a.LockMutex = None;
    a.pReserved = (&raw mut a.flags).cast();
    // SAFETY: live local structure.
    let partial = unsafe { args::init_args(&a) };
    assert!(!partial.has_mutex_callbacks && partial.partial_mutex_callbacks);
    assert!(partial.reserved_non_null);
}

#[test]
fn out_buf_length_protocol() {
    let mut len: CK_ULONG = 0;
    let mut buf = [0u8; 4];
    // SAFETY: NULL or live locals; `buf` holds `len` bytes when given.
    unsafe {
        assert!(matches!(
            OutBuf::new(buf.as_mut_ptr(), null_mut()),
            Err(Error::ArgumentsBad)
        ));

        // Query: length written, CKR_OK.
        let q = OutBuf::new(null_mut(), &mut len).unwrap();
        assert_eq!(q.cap(), OutCap::Query);
        assert_eq!(q.write(Out::Len(32)), Ok(()));
        assert_eq!(len, 32);

        // Too small: needed length written, CKR_BUFFER_TOO_SMALL.
        len = 4;
        let small = OutBuf::new(buf.as_mut_ptr(), &mut len).unwrap();
        assert_eq!(small.cap(), OutCap::Cap(4));
        assert_eq!(small.write(Out::Len(32)), Err(Error::BufferTooSmall));
        assert_eq!(len, 32);
        len = 4;
        let small = OutBuf::new(buf.as_mut_ptr(), &mut len).unwrap();
        assert_eq!(
            small.write(Out::Data(vec![9; 5])),
            Err(Error::BufferTooSmall)
        );
        assert_eq!((len, buf), (5, [0; 4]));

        // Fits: copied, length set.
        len = 4;
        let fits = OutBuf::new(buf.as_mut_ptr(), &mut len).unwrap();
        assert_eq!(fits.write(Out::Data(vec![1, 2, 3])), Ok(()));
        assert_eq!((len, buf), (3, [1, 2, 3, 0]));
    }
}

#[test]
fn attribute_writer_per_entry() {
    let mut fits = [0u8; 4];
    let mut short = [0u8; 2];
    let mut t = [
        null_attr(CKA_LABEL, 0),
        attr(CKA_ID, &mut fits),
        attr(CKA_VALUE, &mut short),
        null_attr(CKA_PRIVATE_EXPONENT, 0),
        null_attr(0x7fff_fff0, 0),
    ];
    let reads = vec![
        AttrRead::Value(vec![1; 3]),
        AttrRead::Value(vec![2; 3]),
        AttrRead::Value(vec![3; 3]),
        AttrRead::Sensitive,
        AttrRead::Invalid,
    ];
    // SAFETY: the template and its buffers are live locals.
    let rv = unsafe { args::write_attributes(t.as_mut_ptr(), 5, reads) };
    assert_eq!(rv, Err(Error::AttributeSensitive));
    let lens: Vec<CK_ULONG> = t.iter().map(|a| a.ulValueLen).collect();
    let u = CK_UNAVAILABLE_INFORMATION;
    assert_eq!(lens, [3, 3, u, u, u]);
    assert_eq!((fits, short), ([2, 2, 2, 0], [0, 0]));
}

#[test]
fn attribute_writer_codes() {
    let mut short = [0u8; 1];
    let mut t = [attr(CKA_VALUE, &mut short), null_attr(CKA_ID, 0)];
    let reads = vec![AttrRead::Value(vec![1; 2]), AttrRead::Value(vec![1; 2])];
    // SAFETY: the template and its buffer are live locals.
    unsafe {
        let rv = args::write_attributes(t.as_mut_ptr(), 2, reads);
        assert_eq!(rv, Err(Error::BufferTooSmall));
        let reads = vec![AttrRead::Value(vec![]), AttrRead::Invalid];
        let rv = args::write_attributes(t.as_mut_ptr(), 2, reads);
        assert_eq!(rv, Err(Error::AttributeTypeInvalid));
        let rv = args::write_attributes(t.as_mut_ptr(), 2, vec![AttrRead::Invalid]);
        assert_eq!(rv, Err(Error::GeneralError));
        assert_eq!(args::write_attributes(null_mut(), 0, vec![]), Ok(()));
    }
}

#[test]
fn list_and_array_writers() {
    let mut count: CK_ULONG = 0;
    let mut list = [0 as CK_SLOT_ID; 3];
    // SAFETY: NULL or live locals; `list` holds `count` entries when given.
    unsafe {
        assert!(matches!(
            ListOut::<CK_SLOT_ID>::new(null_mut(), null_mut()),
            Err(Error::ArgumentsBad)
        ));
        let q = ListOut::new(null_mut::<CK_SLOT_ID>(), &mut count).unwrap();
        assert_eq!(q.write(&[5, 6]), Ok(()));
        assert_eq!(count, 2);
        count = 1;
        let small = ListOut::new(list.as_mut_ptr(), &mut count).unwrap();
        assert_eq!(small.write(&[5, 6]), Err(Error::BufferTooSmall));
        assert_eq!((count, list), (2, [0; 3]));
        count = 3;
        let fits = ListOut::new(list.as_mut_ptr(), &mut count).unwrap();
        assert_eq!(fits.write(&[5, 6]), Ok(()));
        assert_eq!((count, list), (2, [5, 6, 0]));

        assert!(matches!(
            ArrayOut::<CK_ULONG>::new(null_mut(), 4),
            Err(Error::ArgumentsBad)
        ));
        let arr = ArrayOut::new(list.as_mut_ptr(), 2).unwrap();
        assert_eq!(arr.cap(), 2);
        assert_eq!(arr.write(&[8, 9, 10]), Err(Error::GeneralError));
        let arr = ArrayOut::new(list.as_mut_ptr(), 2).unwrap();
        assert_eq!(arr.write(&[8]), Ok(1));
        assert_eq!(list[0], 8);

        assert!(matches!(
            OutPtr::<CK_ULONG>::new(null_mut()),
            Err(Error::ArgumentsBad)
        ));
        assert!(matches!(
            OutBytes::new(null_mut(), 3),
            Err(Error::ArgumentsBad)
        ));
        assert_eq!(OutBytes::new(null_mut(), 0).unwrap().write(&[]), Ok(()));
    }
}

#[test]
fn function_tables() {
    assert_eq!(
        (
            FUNCTION_LIST_3_0.version.major,
            FUNCTION_LIST_3_0.version.minor
        ),
        (3, 0)
    );
    assert_eq!(
        (FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor),
        (2, 40)
    );
    // Every slot is filled: the Debug form shows `None` for an empty one.
    assert!(!format!("{FUNCTION_LIST_3_0:?}").contains("None"));
    assert!(!format!("{FUNCTION_LIST_3_2:?}").contains("None"));
    assert!(!format!("{FUNCTION_LIST:?}").contains("None"));
    let slots = |size: usize| (size - 8) / size_of::<usize>();
    assert_eq!(slots(size_of::<CK_FUNCTION_LIST_3_0>()), 92);
    assert_eq!(slots(size_of::<CK_FUNCTION_LIST>()), 68);
}

#[test]
fn get_function_list() {
    let mut p: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: NULL or a live local.
    unsafe {
        assert_eq!(C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(C_GetFunctionList(&mut p), CKR_OK);
    }
    assert_eq!(p.cast_const(), &raw const FUNCTION_LIST);
}

#[test]
fn interface_selection() {
    let v = |major, minor| Some(CK_VERSION { major, minor });
    assert_eq!(select_interface(None, None, 0), Some(0));
    assert_eq!(select_interface(Some(b"PKCS 11"), v(3, 2), 0), Some(0));
    assert_eq!(select_interface(Some(b"PKCS 11"), v(3, 0), 0), Some(1));
    assert_eq!(select_interface(Some(b"PKCS 11"), v(2, 40), 0), Some(2));
    assert_eq!(select_interface(None, v(3, 1), 0), None);
    assert_eq!(select_interface(Some(b"Vendor"), None, 0), None);
    assert_eq!(select_interface(None, None, CKF_INTERFACE_FORK_SAFE), None);
}

#[test]
fn get_interface() {
    let mut out: *mut CK_INTERFACE = null_mut();
    let mut v240 = CK_VERSION {
        major: 2,
        minor: 40,
    };
    let mut v31 = CK_VERSION { major: 3, minor: 1 };
    let mut name = *b"PKCS 11\0";
    let mut wrong = *b"PKCS 12\0";
    // SAFETY: NULL or live locals; names are NUL-terminated.
    unsafe {
        assert_eq!(
            C_GetInterface(null_mut(), null_mut(), null_mut(), 0),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_GetInterface(null_mut(), null_mut(), &mut out, 0), CKR_OK);
        assert_eq!(out.cast_const(), &raw const INTERFACES.0[0]);
        let list = (*out).pFunctionList.cast::<CK_FUNCTION_LIST_3_0>();
        assert_eq!((*list).version.major, 3);
        assert_eq!(
            C_GetInterface(name.as_mut_ptr(), &mut v240, &mut out, 0),
            CKR_OK
        );
        assert_eq!(out.cast_const(), &raw const INTERFACES.0[2]);
        let rv = C_GetInterface(name.as_mut_ptr(), &mut v31, &mut out, 0);
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
        let rv = C_GetInterface(wrong.as_mut_ptr(), null_mut(), &mut out, 0);
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
        let fork_safe = CKF_INTERFACE_FORK_SAFE;
        let rv = C_GetInterface(name.as_mut_ptr(), null_mut(), &mut out, fork_safe);
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
    }
}

#[test]
fn get_interface_list() {
    let mut count: CK_ULONG = 0;
    let mut list = [CK_INTERFACE::default(); 3];
    // SAFETY: NULL or live locals; `list` holds `count` entries.
    unsafe {
        assert_eq!(
            C_GetInterfaceList(null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(C_GetInterfaceList(null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 3);
        count = 1;
        let rv = C_GetInterfaceList(list.as_mut_ptr(), &mut count);
        assert_eq!((rv, count), (CKR_BUFFER_TOO_SMALL, 3));
        assert_eq!(C_GetInterfaceList(list.as_mut_ptr(), &mut count), CKR_OK);
        let name = std::ffi::CStr::from_ptr(list[2].pInterfaceName.cast());
        assert_eq!(name.to_bytes(), b"PKCS 11");
        assert_eq!(
            list[2].pFunctionList.cast_const(),
            (&raw const FUNCTION_LIST).cast()
        );
        assert_eq!(
            list[0].pFunctionList.cast_const(),
            (&raw const FUNCTION_LIST_3_2).cast()
        );
    }
}

#[test]
fn panics_become_general_error() {
    assert_eq!(entry("test", || panic!("boom")), CKR_GENERAL_ERROR);
    assert_eq!(entry("test", || Err(Error::PinLocked)), CKR_PIN_LOCKED);
    assert_eq!(
        entry_rv("test", || Ok(CKR_FUNCTION_NOT_PARALLEL)),
        CKR_FUNCTION_NOT_PARALLEL
    );
}

#[test]
fn before_initialize() {
    let mut info = CK_INFO::default();
    let mut reserved = 0u8;
    // SAFETY: NULL or live locals.
    unsafe {
        assert_eq!(C_GetInfo(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetInfo(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        let rv = C_Finalize((&raw mut reserved).cast());
        assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(C_GetFunctionStatus(1), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(
            super::crypt::C_EncryptInit(1, null_mut(), 1),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
    }
}

/// The trace names every error's code exactly as the audit record does
/// (both read `error::rv_name`); the trace's old hand-written list named
/// fewer than half of them (CKR_KEY_SIZE_RANGE came out as 0x62).
#[test]
fn trace_names_every_error_as_the_audit_record_does() {
    for &e in Error::ALL {
        let audited = crate::audit::Event::new("test")
            .failed(e)
            .record(0, 0, "user", None)
            .result;
        assert_eq!(
            super::trace_text("C_Test", e.rv(), None),
            format!("keyward: C_Test -> {audited}\n"),
            "{e:?}"
        );
    }
    assert_eq!(
        super::trace_text("C_Test", CKR_OK, None),
        "keyward: C_Test -> CKR_OK\n"
    );
    assert_eq!(
        super::trace_text("C_Test", CKR_VENDOR_DEFINED, None),
        "keyward: C_Test -> 0x80000000\n"
    );
    assert_eq!(
        super::trace_text("C_Test", CKR_DEVICE_ERROR, Some("disk I/O error")),
        "keyward: C_Test -> CKR_DEVICE_ERROR (cause: disk I/O error)\n"
    );
}
