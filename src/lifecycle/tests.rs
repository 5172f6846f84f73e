//! Unit tests of the lifecycle rules: states, dates, transitions, stamps.

use cryptoki_sys::*;

use super::*;
use crate::object::attrs::{bool_value, ulong_value};

fn key(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Object {
    let mut attrs = AttrMap::new();
    attrs.insert(CKA_CLASS, ulong_value(CKO_PRIVATE_KEY));
    attrs.insert(CKA_KEY_TYPE, ulong_value(CKK_EC));
    attrs.insert(CKA_SIGN, bool_value(true));
    attrs.insert(CKA_DECRYPT, bool_value(true));
    for (t, v) in extra {
        attrs.insert(*t, v.clone());
    }
    Object::from_attrs(attrs)
}

fn date(offset_days: i64) -> Vec<u8> {
    dates::encode(dates::today() + time::Duration::days(offset_days))
}

#[test]
fn dates_limit_use() {
    let k = key(&[(CKA_START_DATE, date(1))]);
    assert!(refusal(&k, CKA_SIGN).unwrap().contains("start date"));
    assert!(
        refusal(&k, CKA_DECRYPT).is_some(),
        "before start: no use at all"
    );
    let k = key(&[(CKA_END_DATE, date(-1))]);
    assert!(refusal(&k, CKA_SIGN).unwrap().contains("end date"));
    assert_eq!(refusal(&k, CKA_VERIFY), None, "after the end: process only");
    assert_eq!(refusal(&k, CKA_DECRYPT), None);
    let k = key(&[(CKA_START_DATE, date(0)), (CKA_END_DATE, date(0))]);
    assert_eq!(refusal(&k, CKA_SIGN), None, "both dates are inclusive");
    let k = key(&[(CKA_START_DATE, Vec::new()), (CKA_END_DATE, Vec::new())]);
    assert_eq!(refusal(&k, CKA_SIGN), None, "empty dates do not limit");
}

#[test]
fn states_limit_use_and_transitions_follow_sp800_57() {
    let stamped = stamp(
        key(&[]),
        CKW_ORIGIN_GENERATED,
        CKW_STATE_PRE_ACTIVE,
        &Default::default(),
    );
    assert_eq!(state(&stamped), CKW_STATE_PRE_ACTIVE);
    assert!(refusal(&stamped, CKA_VERIFY).is_some());
    let active = transition(&stamped, CKW_STATE_ACTIVE, None).unwrap();
    assert_eq!(refusal(&active, CKA_SIGN), None);
    assert_eq!(
        transition(&active, CKW_STATE_ACTIVE, None).unwrap_err(),
        Error::ActionProhibited
    );
    let off = transition(&active, CKW_STATE_DEACTIVATED, Some("rotated")).unwrap();
    assert!(!off.flag(CKA_SIGN), "protecting flags cleared");
    assert!(off.flag(CKA_DECRYPT), "processing flags kept");
    assert_eq!(off.bytes(CKA_KEYWARD_STATE_REASON), Some(&b"rotated"[..]));
    assert!(refusal(&off, CKA_SIGN).is_some());
    assert_eq!(refusal(&off, CKA_DECRYPT), None);
    assert_eq!(
        transition(&off, CKW_STATE_ACTIVE, None).unwrap_err(),
        Error::ActionProhibited,
        "no way back"
    );
    let bad = transition(&off, CKW_STATE_COMPROMISED, Some("leaked")).unwrap();
    assert_eq!(state(&bad), CKW_STATE_COMPROMISED);
    assert!(transition(&bad, CKW_STATE_COMPROMISED, None).is_err());
    assert!(transition(&bad, CKW_STATE_DESTROYED, None).is_err());
}

#[test]
fn stamp_sets_metadata_and_policy_end_date() {
    let mut policy = policy::Policy::default();
    policy.max_cryptoperiod_days.private_key = Some(30);
    let k = stamp(key(&[]), CKW_ORIGIN_IMPORTED, CKW_STATE_ACTIVE, &policy);
    assert_eq!(k.ulong(CKA_KEYWARD_ORIGIN), Some(CKW_ORIGIN_IMPORTED));
    assert!(k.ulong(CKA_KEYWARD_CREATED).unwrap() > 1_700_000_000);
    assert_eq!(k.bytes(CKA_END_DATE), Some(date(30).as_slice()));
    // A given end date is kept.
    let k = stamp(
        key(&[(CKA_END_DATE, date(3))]),
        1,
        CKW_STATE_ACTIVE,
        &policy,
    );
    assert_eq!(k.bytes(CKA_END_DATE), Some(date(3).as_slice()));
    // Data objects carry no lifecycle.
    let mut attrs = AttrMap::new();
    attrs.insert(CKA_CLASS, ulong_value(CKO_DATA));
    let data = stamp(Object::from_attrs(attrs), 1, CKW_STATE_ACTIVE, &policy);
    assert_eq!(data.ulong(CKA_KEYWARD_STATE), None);
}

#[test]
fn requested_state() {
    let mut t = AttrMap::new();
    assert_eq!(take_requested_state(&mut t), Ok(CKW_STATE_ACTIVE));
    t.insert(CKA_KEYWARD_STATE, ulong_value(CKW_STATE_PRE_ACTIVE));
    assert_eq!(take_requested_state(&mut t), Ok(CKW_STATE_PRE_ACTIVE));
    assert!(t.is_empty());
    t.insert(CKA_KEYWARD_STATE, ulong_value(CKW_STATE_COMPROMISED));
    assert_eq!(
        take_requested_state(&mut t),
        Err(Error::AttributeValueInvalid)
    );
}
