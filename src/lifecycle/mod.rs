//! Key lifecycle: states and cryptoperiods, usage metadata, policy, and
//! the rules that decide whether a key may be used (docs/LIFECYCLE.md).
//!
//! A key's state lives in CKA_KEYWARD_STATE, stored (and sealed) with the
//! object. Deactivation and compromise also clear the key's protecting
//! flags (CKA_SIGN, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE) so an application
//! searching for CKA_SIGN = TRUE finds only keys it may use; the dates are
//! checked at each use.

pub mod dates;
pub mod policy;
pub mod vendor;
pub mod versions;

use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::object::attrs::{bool_value, ulong_value};
use crate::object::{AttrMap, Object};
use vendor::*;

/// Usages that protect new data; the others only process existing data.
const PROTECTING: &[CK_ATTRIBUTE_TYPE] = &[CKA_SIGN, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE];

/// Whether `usage` (a CKA_ flag) protects new data (sign, encrypt, wrap,
/// derive) rather than processing existing data (verify, decrypt, unwrap).
pub fn protects(usage: CK_ATTRIBUTE_TYPE) -> bool {
    PROTECTING.contains(&usage)
}

/// Objects that carry a lifecycle: keys and certificates.
pub fn has_lifecycle(class: CK_OBJECT_CLASS) -> bool {
    matches!(
        class,
        CKO_PRIVATE_KEY | CKO_PUBLIC_KEY | CKO_SECRET_KEY | CKO_CERTIFICATE
    )
}

/// Every Keyward lifecycle attribute (all contributed by the token).
pub const ATTRIBUTES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_KEYWARD_STATE,
    CKA_KEYWARD_STATE_REASON,
    CKA_KEYWARD_CREATED,
    CKA_KEYWARD_LAST_USED,
    CKA_KEYWARD_USE_COUNT,
    CKA_KEYWARD_ORIGIN,
    CKA_KEYWARD_OBJECT_ID,
    CKA_KEYWARD_PREDECESSOR,
    CKA_KEYWARD_SUCCESSOR,
    CKA_KEYWARD_STATE_CHANGED,
    CKA_KEYWARD_VERSION,
    CKA_KEYWARD_PRIMARY,
    CKA_KEYWARD_QUORUM,
];

/// Attributes computed when read rather than stored.
pub const COMPUTED: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_KEYWARD_LAST_USED,
    CKA_KEYWARD_USE_COUNT,
    CKA_KEYWARD_OBJECT_ID,
];

pub fn is_lifecycle_attribute(ty: CK_ATTRIBUTE_TYPE) -> bool {
    ATTRIBUTES.contains(&ty)
}

/// A state's name, as the CLI and audit trail write it.
pub fn state_name(state: CK_ULONG) -> &'static str {
    match state {
        CKW_STATE_PRE_ACTIVE => "pre-active",
        CKW_STATE_ACTIVE => "active",
        CKW_STATE_DEACTIVATED => "deactivated",
        CKW_STATE_COMPROMISED => "compromised",
        CKW_STATE_DESTROYED => "destroyed",
        _ => "unknown",
    }
}

pub fn origin_name(origin: CK_ULONG) -> &'static str {
    match origin {
        CKW_ORIGIN_GENERATED => "generated",
        CKW_ORIGIN_IMPORTED => "imported",
        CKW_ORIGIN_UNWRAPPED => "unwrapped",
        CKW_ORIGIN_DERIVED => "derived",
        CKW_ORIGIN_COPIED => "copied",
        _ => "unknown",
    }
}

/// The object's state; objects made before lifecycles existed are active.
pub fn state(obj: &Object) -> CK_ULONG {
    obj.ulong(CKA_KEYWARD_STATE).unwrap_or(CKW_STATE_ACTIVE)
}

/// Takes CKA_KEYWARD_STATE out of a creation template: the one lifecycle
/// attribute a caller may give, and only as ACTIVE or PRE_ACTIVE.
pub fn take_requested_state(template: &mut AttrMap) -> Result<CK_ULONG> {
    match template.remove(&CKA_KEYWARD_STATE) {
        None => Ok(CKW_STATE_ACTIVE),
        Some(v) => match crate::object::attrs::decode_u64(&v) {
            Some(s @ (CKW_STATE_ACTIVE | CKW_STATE_PRE_ACTIVE)) => Ok(s),
            _ => Err(Error::AttributeValueInvalid),
        },
    }
}

/// Takes CKA_KEYWARD_QUORUM out of a creation template: CK_TRUE marks
/// the new key quorum-protected; CK_FALSE asks for nothing (a copy or new
/// version of a marked key stays marked).
pub fn take_quorum_mark(template: &mut AttrMap) -> Result<bool> {
    match template.remove(&CKA_KEYWARD_QUORUM) {
        None => Ok(false),
        Some(v) => match v.as_slice() {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(Error::AttributeValueInvalid),
        },
    }
}

/// Whether the key's sensitive operations need an approved request.
pub fn quorum_marked(obj: &Object) -> bool {
    obj.flag(CKA_KEYWARD_QUORUM)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new object's lifecycle attributes: its state, origin and creation
/// time, and (policy) a default end date. Objects without a lifecycle are
/// returned unchanged.
pub fn stamp(obj: Object, origin: CK_ULONG, state: CK_ULONG, policy: &policy::Policy) -> Object {
    if !has_lifecycle(obj.class()) {
        return obj;
    }
    let mut attrs = obj.attrs().clone();
    let now = now_secs();
    attrs.insert(CKA_KEYWARD_STATE, ulong_value(state));
    attrs.insert(CKA_KEYWARD_ORIGIN, ulong_value(origin));
    attrs.insert(CKA_KEYWARD_CREATED, ulong_value(now));
    attrs.insert(CKA_KEYWARD_STATE_CHANGED, ulong_value(now));
    attrs.remove(&CKA_KEYWARD_STATE_REASON);
    attrs.remove(&CKA_KEYWARD_PREDECESSOR);
    attrs.remove(&CKA_KEYWARD_SUCCESSOR);
    versions::stamp(obj.class(), &mut attrs);
    if obj.class() != CKO_CERTIFICATE {
        // Readable as CK_FALSE on every new key; a copy keeps a CK_TRUE.
        attrs.entry(CKA_KEYWARD_QUORUM).or_insert_with(|| vec![0]);
    }
    let no_end = attrs.get(&CKA_END_DATE).is_none_or(|v| v.is_empty());
    if no_end && let Some(end) = policy.default_end_date(obj.class()) {
        attrs.insert(CKA_END_DATE, dates::encode(end));
    }
    Object::from_attrs(attrs)
}

/// Whether [`refusal`]'s answer for `obj` can change with the date alone
/// (it has a start or an end date): only such answers may not be reused
/// while the object is unchanged.
pub fn depends_on_clock(obj: &Object) -> bool {
    [CKA_START_DATE, CKA_END_DATE]
        .iter()
        .any(|&ty| obj.bytes(ty).and_then(dates::parse).is_some())
}

/// Why `obj` may not be used for `usage` today, if it may not: state and
/// dates (the CKA_ flag itself and the policy are checked elsewhere).
pub fn refusal(obj: &Object, usage: CK_ATTRIBUTE_TYPE) -> Option<String> {
    if !has_lifecycle(obj.class()) {
        return None;
    }
    // The clock is read only for a key that has a date: most have none
    // (an empty CK_DATE), and this runs at every C_*Init.
    let today = std::cell::OnceCell::new();
    let today = || *today.get_or_init(dates::today);
    let state = state(obj);
    if state == CKW_STATE_PRE_ACTIVE {
        return Some("key is pre-active".into());
    }
    if let Some(start) = obj.bytes(CKA_START_DATE).and_then(dates::parse)
        && today() < start
    {
        return Some(format!(
            "before the key's start date {}",
            dates::show(start)
        ));
    }
    if !protects(usage) {
        return None;
    }
    if matches!(state, CKW_STATE_DEACTIVATED | CKW_STATE_COMPROMISED) {
        return Some(format!("key is {}", state_name(state)));
    }
    if let Some(end) = obj.bytes(CKA_END_DATE).and_then(dates::parse)
        && today() > end
    {
        return Some(format!("after the key's end date {}", dates::show(end)));
    }
    None
}

/// Moves `obj` to state `to` (NIST SP 800-57: pre-active → active;
/// pre-active/active → deactivated; any live state → compromised). Leaving
/// the active state clears the protecting flags for good.
pub fn transition(obj: &Object, to: CK_ULONG, reason: Option<&str>) -> Result<Object> {
    if !has_lifecycle(obj.class()) {
        return Err(Error::ActionProhibited);
    }
    let from = state(obj);
    let allowed = match to {
        CKW_STATE_ACTIVE => from == CKW_STATE_PRE_ACTIVE,
        CKW_STATE_DEACTIVATED => matches!(from, CKW_STATE_PRE_ACTIVE | CKW_STATE_ACTIVE),
        CKW_STATE_COMPROMISED => from != CKW_STATE_COMPROMISED,
        _ => false,
    };
    if !allowed {
        return Err(Error::ActionProhibited);
    }
    let mut attrs = obj.attrs().clone();
    attrs.insert(CKA_KEYWARD_STATE, ulong_value(to));
    attrs.insert(CKA_KEYWARD_STATE_CHANGED, ulong_value(now_secs()));
    match reason {
        Some(r) => attrs.insert(CKA_KEYWARD_STATE_REASON, r.as_bytes().to_vec()),
        None => attrs.remove(&CKA_KEYWARD_STATE_REASON),
    };
    if to != CKW_STATE_ACTIVE {
        for flag in PROTECTING {
            if attrs.contains_key(flag) {
                attrs.insert(*flag, bool_value(false));
            }
        }
    }
    Ok(Object::from_attrs(attrs))
}

/// Links a rotated key to its successor or predecessor (row ids).
pub fn link(obj: &Object, ty: CK_ATTRIBUTE_TYPE, other: i64) -> Object {
    let mut attrs = obj.attrs().clone();
    attrs.insert(ty, ulong_value(other.cast_unsigned()));
    Object::from_attrs(attrs)
}

#[cfg(test)]
mod tests;
