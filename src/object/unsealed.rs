//! Which objects may live in an unsealed row. Without a login no master
//! key is available, so a token object created or changed in a public
//! session is stored with an empty seal; anyone who can write the token
//! file can make such a row. An unsealed row is therefore exactly as
//! trustworthy as what a public session may create, and may carry nothing
//! that grants trust or key-handling power: those attributes are honoured
//! only from rows whose seal the module checked.

use cryptoki_sys::*;

use super::Object;
use crate::error::{Error, Result};

/// Attributes whose value `true` gives trust or key-handling power.
const POWER_FLAGS: [CK_ATTRIBUTE_TYPE; 3] = [CKA_TRUSTED, CKA_UNWRAP, CKA_DERIVE];

/// Attribute templates that decide what may be wrapped, unwrapped or
/// derived.
const POWER_TEMPLATES: [CK_ATTRIBUTE_TYPE; 3] =
    [CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE];

/// Whether `obj` needs a seal: private objects, private and secret keys,
/// and anything carrying CKA_TRUSTED, CKA_UNWRAP or CKA_DERIVE set to
/// true or a non-empty wrap/unwrap/derive template. (CKA_WRAP on a
/// public key does not: a public session may import such a key, so it
/// grants nothing an attacker could not create; a wrap that needs trust
/// asks for CKA_TRUSTED, which does.)
pub fn seal_required(obj: &Object) -> bool {
    matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY)
        || obj.is_private()
        || POWER_FLAGS.iter().any(|ty| obj.flag(*ty))
        || POWER_TEMPLATES
            .iter()
            .any(|ty| obj.bytes(*ty).is_some_and(|v| !v.is_empty()))
}

/// Refuses to store `obj` without a seal (no login):
/// CKR_USER_NOT_LOGGED_IN, a listed return value of C_CreateObject,
/// C_CopyObject, C_SetAttributeValue and the key-generating functions.
pub fn check_storable_unsealed(obj: &Object) -> Result<()> {
    if seal_required(obj) {
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}

/// `obj` as a caller without a login may use it: without the master key
/// its seal cannot be checked, so the power it claims (CKA_TRUSTED,
/// CKA_UNWRAP, CKA_DERIVE, the wrap/unwrap/derive templates) reads as
/// absent while public operations (verify, encrypt) go on.
pub fn without_power(obj: &Object) -> Object {
    let mut attrs = obj.attrs().clone();
    for ty in POWER_FLAGS {
        if let Some(v) = attrs.get_mut(&ty) {
            *v = crate::object::attrs::bool_value(false);
        }
    }
    for ty in POWER_TEMPLATES {
        attrs.remove(&ty);
    }
    Object::from_attrs(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::AttrMap;
    use crate::object::attrs::{bool_value, ulong_value};

    fn obj(class: CK_OBJECT_CLASS, extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Object {
        let mut m = AttrMap::new();
        m.insert(CKA_CLASS, ulong_value(class));
        m.insert(CKA_PRIVATE, bool_value(false));
        for (ty, v) in extra {
            m.insert(*ty, v.clone());
        }
        Object::join(m, AttrMap::new())
    }

    #[test]
    fn plain_public_objects_need_no_seal() {
        assert!(!seal_required(&obj(CKO_CERTIFICATE, &[])));
        assert!(!seal_required(&obj(
            CKO_PUBLIC_KEY,
            &[
                (CKA_WRAP, bool_value(true)),
                (CKA_VERIFY, bool_value(true)),
                (CKA_TRUSTED, bool_value(false)),
                (CKA_WRAP_TEMPLATE, Vec::new()),
            ]
        )));
    }

    #[test]
    fn power_needs_a_seal() {
        for (ty, v) in [
            (CKA_TRUSTED, bool_value(true)),
            (CKA_UNWRAP, bool_value(true)),
            (CKA_DERIVE, bool_value(true)),
            (CKA_PRIVATE, bool_value(true)),
            (CKA_WRAP_TEMPLATE, vec![1]),
        ] {
            let o = obj(CKO_PUBLIC_KEY, &[(ty, v)]);
            assert!(seal_required(&o), "0x{ty:x}");
            assert_eq!(check_storable_unsealed(&o), Err(Error::UserNotLoggedIn));
        }
        assert!(seal_required(&obj(CKO_SECRET_KEY, &[])));
        assert!(seal_required(&obj(CKO_PRIVATE_KEY, &[])));
    }

    #[test]
    fn power_reads_as_absent_without_a_login() {
        let claimed = obj(
            CKO_PUBLIC_KEY,
            &[
                (CKA_TRUSTED, bool_value(true)),
                (CKA_DERIVE, bool_value(true)),
                (CKA_VERIFY, bool_value(true)),
                (CKA_WRAP_TEMPLATE, vec![1]),
            ],
        );
        let stripped = without_power(&claimed);
        assert!(!seal_required(&stripped));
        assert!(!stripped.flag(CKA_TRUSTED) && !stripped.flag(CKA_DERIVE));
        assert!(stripped.flag(CKA_VERIFY), "public use is kept");
        assert_eq!(stripped.bytes(CKA_WRAP_TEMPLATE), None);
    }
}
