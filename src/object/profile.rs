//! Profile objects (§4.13, CKO_PROFILE): read-only token objects that tell
//! an application which PKCS#11 profiles the token implements. The token
//! makes them; C_CreateObject refuses the class (see `template::create`).

use cryptoki_sys::*;

use super::Object;
use super::attrs::{AttrMap, decode_u64};

/// Whether a C_FindObjectsInit template finds the profile object `obj`:
/// only when it asks for CKA_CLASS = CKO_PROFILE. (Any other object:
/// yes, this rule does not concern it.)
///
/// A profile object is the token's description of itself (§4.13), like
/// its mechanism list, not an object an application made; the spec's way
/// to read it is a search for its class, which finds it. A search for
/// "everything" leaves it out, so a token that holds nothing an
/// application made looks empty, as every token without profile objects
/// (SoftHSMv2's among them) does — python-pkcs11's suite and applications
/// that clean a token up by destroying whatever a search returns expect
/// exactly that (the object cannot be destroyed). The one deliberate
/// exception to "a search returns every match", with the key-version rule
/// (`lifecycle::versions::visible`); README "What is implemented".
pub fn found_by(template: &AttrMap, obj: &Object) -> bool {
    obj.class() != CKO_PROFILE
        || template
            .get(&CKA_CLASS)
            .and_then(|v| decode_u64(v))
            .is_some_and(|class| class == CKO_PROFILE)
}

/// The CKO_PROFILE object for `profile_id` (CKP_BASELINE_PROVIDER …): a
/// public token object that cannot be modified, copied or destroyed.
/// CKA_UNIQUE_ID is derived from the profile ID so it is the same in
/// every session and every process ("profile-1"), and cannot collide with
/// the hex IDs of stored objects.
pub fn profile_object(profile_id: CK_PROFILE_ID) -> Object {
    let mut o = Object::default();
    o.put_ulong(CKA_CLASS, CKO_PROFILE);
    o.put_ulong(CKA_PROFILE_ID, profile_id);
    o.put_bool(CKA_TOKEN, true);
    o.put_bool(CKA_PRIVATE, false);
    o.put_bool(CKA_MODIFIABLE, false);
    o.put_bool(CKA_COPYABLE, false);
    o.put_bool(CKA_DESTROYABLE, false);
    o.put(CKA_LABEL, Vec::new());
    o.put(CKA_UNIQUE_ID, format!("profile-{profile_id}").into_bytes());
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::object::attrs::{AttrMap, bool_value as b, ulong_value as u, wire_ulong};
    use crate::object::{copy, create, set_attributes};
    use crate::types::AttrRead;

    #[test]
    fn baseline_profile() {
        let o = profile_object(CKP_BASELINE_PROVIDER);
        assert_eq!(o.class(), CKO_PROFILE);
        assert_eq!(o.ulong(CKA_PROFILE_ID), Some(CKP_BASELINE_PROVIDER));
        assert!(o.is_token() && !o.is_private());
        assert!(!o.is_modifiable() && !o.is_copyable() && !o.is_destroyable());
        assert!(!o.has_secret());
        assert!(o.read(CKA_CLASS) == AttrRead::Value(wire_ulong(CKO_PROFILE)));
        assert!(o.read(CKA_PROFILE_ID) == AttrRead::Value(wire_ulong(CKP_BASELINE_PROVIDER)));
        assert!(o.read(CKA_LABEL) == AttrRead::Value(Vec::new()));
        assert!(o.read(CKA_UNIQUE_ID) == AttrRead::Value(b"profile-1".to_vec()));
        assert!(o.read(CKA_VALUE) == AttrRead::Invalid);
        assert!(o.read(CKA_KEY_TYPE) == AttrRead::Invalid);
        assert_ne!(
            o.bytes(CKA_UNIQUE_ID),
            profile_object(CKP_EXTENDED_PROVIDER).bytes(CKA_UNIQUE_ID)
        );
    }

    #[test]
    fn profile_search() {
        let o = profile_object(CKP_BASELINE_PROVIDER);
        let mut t = AttrMap::new();
        t.insert(CKA_CLASS, u(CKO_PROFILE));
        assert!(o.matches(&t));
        t.insert(CKA_PROFILE_ID, u(CKP_BASELINE_PROVIDER));
        assert!(o.matches(&t));
        t.insert(CKA_PROFILE_ID, u(CKP_COMPLETE_PROVIDER));
        assert!(!o.matches(&t));
    }

    #[test]
    fn profiles_are_token_made() {
        let o = profile_object(CKP_BASELINE_PROVIDER);
        let label: AttrMap = [(CKA_LABEL, b"x".to_vec())].into_iter().collect();
        assert_eq!(
            set_attributes(&o, &label, true).unwrap_err(),
            Error::ActionProhibited
        );
        assert_eq!(
            copy(&o, &AttrMap::new(), true).unwrap_err(),
            Error::ActionProhibited
        );
        let t: AttrMap = [
            (CKA_CLASS, u(CKO_PROFILE)),
            (CKA_PROFILE_ID, u(CKP_BASELINE_PROVIDER)),
            (CKA_TOKEN, b(false)),
        ]
        .into_iter()
        .collect();
        assert_eq!(create(&t, true).unwrap_err(), Error::AttributeValueInvalid);
    }
}
