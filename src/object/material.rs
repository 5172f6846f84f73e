//! The bridge between key objects and typed key material: checking imported
//! key bytes with the mechanism module's constructors, filling the public
//! parts clients look for (CKA_EC_POINT, CKA_MODULUS_BITS,
//! CKA_PUBLIC_KEY_INFO), and turning a stored key object back into a
//! [`Key`] for an operation.

use cryptoki_sys::*;

use super::Object;
use super::rules::{self, is_ec_family};
use crate::error::{Error, Result};
use crate::mechanism::Key;
use crate::mechanism::dh;
use crate::mechanism::dsa as dsa_mech;
use crate::mechanism::ml_kem::{MlKemPrivate, MlKemPublic, ParamSet};

/// AES key lengths in bytes.
pub(crate) const AES_LENGTHS: [usize; 3] = [16, 24, 32];

/// The ChaCha20 key length in bytes (fixed at 256 bits by the spec; so
/// are Poly1305 and Salsa20 keys).
pub(crate) const CHACHA20_LEN: usize = 32;

/// Longest generic, HKDF or HMAC secret we generate, in bytes (4096 bits,
/// the mechanism table's CKM_GENERIC_SECRET_KEY_GEN maximum).
pub(crate) const GENERIC_SECRET_MAX_LEN: usize = 512;

/// Longest secret value we hold, in bytes: the bound of the mechanism
/// module's `Key::secret`, so every key we build can be used. Imported,
/// derived and unwrapped keys may be longer than generated ones.
pub(crate) const SECRET_VALUE_MAX_LEN: usize = 4096;

/// Whether `len` bytes is a valid CKA_VALUE_LEN to generate.
pub(crate) fn secret_len_ok(key_type: CK_KEY_TYPE, len: usize) -> bool {
    match key_type {
        CKK_AES => AES_LENGTHS.contains(&len),
        CKK_CHACHA20 | CKK_POLY1305 | CKK_SALSA20 => len == CHACHA20_LEN,
        _ if rules::supported_key(CKO_SECRET_KEY, key_type) => {
            (1..=GENERIC_SECRET_MAX_LEN).contains(&len)
        }
        _ => false,
    }
}

/// Whether a secret key of `key_type` may hold a value of `len` bytes
/// (imported, derived or unwrapped).
pub(crate) fn secret_value_ok(key_type: CK_KEY_TYPE, len: usize) -> bool {
    match key_type {
        CKK_AES => AES_LENGTHS.contains(&len),
        CKK_CHACHA20 | CKK_POLY1305 | CKK_SALSA20 => len == CHACHA20_LEN,
        _ if rules::supported_key(CKO_SECRET_KEY, key_type) => {
            (1..=SECRET_VALUE_MAX_LEN).contains(&len)
        }
        _ => false,
    }
}

/// A secret key of a type we hold. The length is checked here
/// ([`secret_value_ok`]) rather than by `Key::secret`, which lists only
/// the key types its own mechanisms name; to the mechanisms an HKDF or
/// SHA-3 HMAC key is a plain secret of that type.
pub(crate) fn secret_key(key_type: CK_KEY_TYPE, value: &[u8]) -> Result<Key> {
    if !secret_value_ok(key_type, value.len()) {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(Key::secret_unchecked(key_type, value))
}

/// An EC-family private key from CKA_EC_PARAMS and CKA_VALUE.
pub(crate) fn ec_family_private(key_type: CK_KEY_TYPE, params: &[u8], value: &[u8]) -> Result<Key> {
    match key_type {
        CKK_EC => Key::ec_private(params, value),
        CKK_EC_EDWARDS => Key::edwards_private(params, value),
        CKK_EC_MONTGOMERY => Key::montgomery_private(params, value),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// An EC-family public key from CKA_EC_PARAMS and CKA_EC_POINT.
pub(crate) fn ec_family_public(key_type: CK_KEY_TYPE, params: &[u8], point: &[u8]) -> Result<Key> {
    match key_type {
        CKK_EC => Key::ec_public(params, point),
        CKK_EC_EDWARDS => Key::edwards_public(params, point),
        CKK_EC_MONTGOMERY => Key::montgomery_public(params, point),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// A required attribute of a key object being imported or used. Missing
/// on import is an incomplete template; on use it cannot happen for
/// objects this module built.
fn need(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    obj.bytes(ty).ok_or(Error::TemplateIncomplete)
}

/// A required CK_ULONG attribute of a key object being imported.
fn need_ulong(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Result<CK_ULONG> {
    need(obj, ty)?;
    obj.ck_ulong(ty).ok_or(Error::AttributeValueInvalid)
}

/// The RSA primes, if the object has both; one without the other is
/// inconsistent.
fn primes(obj: &Object) -> Result<Option<(&[u8], &[u8])>> {
    match (obj.bytes(CKA_PRIME_1), obj.bytes(CKA_PRIME_2)) {
        (Some(p), Some(q)) => Ok(Some((p, q))),
        (None, None) => Ok(None),
        _ => Err(Error::TemplateInconsistent),
    }
}

/// The contents of a DER OCTET STRING (short or long length form), used to
/// accept an EC point given raw where the DER form is stored.
fn der_octet_contents(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        let (len_bytes, body) = rest.split_at_checked(n)?;
        let len = len_bytes.iter().try_fold(0usize, |acc, b| {
            acc.checked_mul(256)?.checked_add(usize::from(*b))
        })?;
        (len, body)
    };
    (body.len() == len).then_some(body)
}

/// Replaces an attribute the key determines with its computed value; a
/// non-empty value already on the object (from the template) must agree.
fn put_derived(obj: &mut Object, ty: CK_ATTRIBUTE_TYPE, computed: Vec<u8>) -> Result<()> {
    if let Some(given) = obj.bytes(ty)
        && !given.is_empty()
        && given != computed.as_slice()
        && !(ty == CKA_EC_POINT && der_octet_contents(&computed) == Some(given))
    {
        return Err(Error::AttributeValueInvalid);
    }
    obj.put(ty, computed);
    Ok(())
}

/// Fills CKA_PUBLIC_KEY_INFO from `key`.
pub(crate) fn put_public_key_info(obj: &mut Object, key: &Key) -> Result<()> {
    put_derived(obj, CKA_PUBLIC_KEY_INFO, key.public_key_info()?)
}

/// Fills what a private key object shows of its public half: the DER
/// CKA_EC_POINT of EC-family keys and CKA_PUBLIC_KEY_INFO. Values already
/// on the object must agree (AttributeValueInvalid otherwise).
pub(crate) fn put_public_parts(obj: &mut Object, key_type: CK_KEY_TYPE, key: &Key) -> Result<()> {
    if is_ec_family(key_type) {
        put_derived(obj, CKA_EC_POINT, key.ec_point_der()?)?;
    }
    put_public_key_info(obj, key)
}

/// Checks the key material of an object built from a C_CreateObject
/// template and fills what the key determines: CKA_VALUE_LEN for secret
/// keys, CKA_MODULUS_BITS for RSA public keys, the DER CKA_EC_POINT for
/// EC-family keys (private ones included) and CKA_PUBLIC_KEY_INFO for
/// every asymmetric key.
pub(crate) fn import_key(
    obj: &mut Object,
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
) -> Result<()> {
    match (class, key_type) {
        (CKO_SECRET_KEY, _) => {
            let value = need(obj, CKA_VALUE)?;
            secret_key(key_type, value)?;
            let len = CK_ULONG::try_from(value.len()).map_err(|_| Error::AttributeValueInvalid)?;
            obj.put_ulong(CKA_VALUE_LEN, len);
            Ok(())
        }
        (CKO_PRIVATE_KEY, _) if is_ec_family(key_type) => {
            let key =
                ec_family_private(key_type, need(obj, CKA_EC_PARAMS)?, need(obj, CKA_VALUE)?)?;
            put_public_parts(obj, key_type, &key)
        }
        (CKO_PUBLIC_KEY, _) if is_ec_family(key_type) => {
            let key = ec_family_public(
                key_type,
                need(obj, CKA_EC_PARAMS)?,
                need(obj, CKA_EC_POINT)?,
            )?;
            // Stored in DER whatever form it came in (pkcs11-provider and
            // certtool expect DER).
            obj.put(CKA_EC_POINT, key.ec_point_der()?);
            put_public_key_info(obj, &key)
        }
        (CKO_PRIVATE_KEY, CKK_ML_DSA) => {
            let set = need_ulong(obj, CKA_PARAMETER_SET)?;
            let key = Key::ml_dsa_private(set, need(obj, CKA_SEED)?)?;
            // An expanded key given beside the seed must be the seed's; it
            // is not kept (the seed is the stored form).
            if let Some(value) = obj.bytes(CKA_VALUE) {
                if *key.ml_dsa_expanded()? != *value {
                    return Err(Error::AttributeValueInvalid);
                }
                obj.remove(CKA_VALUE);
            }
            put_public_key_info(obj, &key)
        }
        (CKO_PUBLIC_KEY, CKK_ML_DSA) => {
            let set = need_ulong(obj, CKA_PARAMETER_SET)?;
            let key = Key::ml_dsa_public(set, need(obj, CKA_VALUE)?)?;
            put_public_key_info(obj, &key)
        }
        // SLH-DSA: CKA_VALUE is the key (a private key's PK.root is
        // checked against its seeds).
        (CKO_PRIVATE_KEY, CKK_SLH_DSA) => {
            let set = need_ulong(obj, CKA_PARAMETER_SET)?;
            let key = Key::slh_dsa_private(set, need(obj, CKA_VALUE)?)?;
            put_public_key_info(obj, &key)
        }
        (CKO_PUBLIC_KEY, CKK_SLH_DSA) => {
            let set = need_ulong(obj, CKA_PARAMETER_SET)?;
            let key = Key::slh_dsa_public(set, need(obj, CKA_VALUE)?)?;
            put_public_key_info(obj, &key)
        }
        (CKO_PRIVATE_KEY, CKK_RSA) => {
            let key = Key::rsa_private(
                need(obj, CKA_MODULUS)?,
                need(obj, CKA_PUBLIC_EXPONENT)?,
                need(obj, CKA_PRIVATE_EXPONENT)?,
                primes(obj)?,
            )?;
            put_public_key_info(obj, &key)
        }
        (CKO_PRIVATE_KEY, CKK_ML_KEM) => {
            let key = ml_kem_private(obj)?;
            // A dk given with the seed must be the seed's; the token keeps
            // the seed only and expands it on load.
            if let Some(dk) = obj.bytes(CKA_VALUE) {
                if !ml_kem_dk_matches(&key, dk) {
                    return Err(Error::AttributeValueInvalid);
                }
                obj.remove(CKA_VALUE);
            }
            put_public_key_info(obj, &key)
        }
        (CKO_PUBLIC_KEY, CKK_ML_KEM) => {
            let key = ml_kem_public(obj)?;
            put_public_key_info(obj, &key)
        }
        (CKO_PRIVATE_KEY | CKO_PUBLIC_KEY, CKK_DSA | CKK_DH) if !primes_ok(obj, key_type)? => {
            Err(Error::AttributeValueInvalid)
        }
        (CKO_PRIVATE_KEY, CKK_DSA) => {
            let k = dsa_mech::private(
                need(obj, CKA_PRIME)?,
                need(obj, CKA_SUBPRIME)?,
                need(obj, CKA_BASE)?,
                need(obj, CKA_VALUE)?,
            )?;
            put_public_key_info(obj, &Key::Dsa(Box::new(k)))
        }
        (CKO_PUBLIC_KEY, CKK_DSA) => {
            let k = dsa_mech::public(
                need(obj, CKA_PRIME)?,
                need(obj, CKA_SUBPRIME)?,
                need(obj, CKA_BASE)?,
                need(obj, CKA_VALUE)?,
            )?;
            put_public_key_info(obj, &Key::Dsa(Box::new(k)))
        }
        (CKO_PRIVATE_KEY, CKK_DH) => {
            let k = dh::private(
                need(obj, CKA_PRIME)?,
                need(obj, CKA_BASE)?,
                need(obj, CKA_VALUE)?,
            )?;
            put_ulong_derived(obj, CKA_VALUE_BITS, k.value_bits().unwrap_or(0))?;
            put_public_key_info(obj, &Key::Dh(Box::new(k)))
        }
        (CKO_PUBLIC_KEY, CKK_DH) => {
            let k = dh::public(
                need(obj, CKA_PRIME)?,
                need(obj, CKA_BASE)?,
                need(obj, CKA_VALUE)?,
            )?;
            put_public_key_info(obj, &Key::Dh(Box::new(k)))
        }
        (CKO_PUBLIC_KEY, CKK_RSA) => {
            let key = Key::rsa_public(need(obj, CKA_MODULUS)?, need(obj, CKA_PUBLIC_EXPONENT)?)?;
            let bits = CK_ULONG::try_from(key.bits()).map_err(|_| Error::AttributeValueInvalid)?;
            obj.put_ulong(CKA_MODULUS_BITS, bits);
            put_public_key_info(obj, &key)
        }
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// A CK_ULONG attribute the value determines (CKA_PRIME_BITS,
/// CKA_VALUE_BITS); a value the template gave must agree (checked with
/// the other contributed ones, as CKR_TEMPLATE_INCONSISTENT).
fn put_ulong_derived(obj: &mut Object, ty: CK_ATTRIBUTE_TYPE, v: u64) -> Result<()> {
    let v = CK_ULONG::try_from(v).map_err(|_| Error::AttributeValueInvalid)?;
    obj.put_ulong(ty, v);
    Ok(())
}

/// Whether the prime(s) of DSA or DH domain parameters (p; and q for
/// DSA) are prime: checked when parameters enter the token.
fn primes_ok(obj: &Object, key_type: CK_KEY_TYPE) -> Result<bool> {
    let p_ok = dh::is_prime(need(obj, CKA_PRIME)?);
    Ok(match key_type {
        CKK_DSA => p_ok && dh::is_prime(need(obj, CKA_SUBPRIME)?),
        _ => p_ok,
    })
}

/// Checks a C_CreateObject domain parameter object (CKK_DSA: a FIPS
/// 186-4 (p, q, g); CKK_DH: p and 1 < g < p - 1) and fills CKA_PRIME_BITS.
pub(crate) fn import_domain_parameters(obj: &mut Object, key_type: CK_KEY_TYPE) -> Result<()> {
    let p = need(obj, CKA_PRIME)?;
    match key_type {
        CKK_DSA => {
            let _checked = dsa_mech::components(p, need(obj, CKA_SUBPRIME)?, need(obj, CKA_BASE)?)?;
        }
        CKK_DH => {
            dh::domain(p, need(obj, CKA_BASE)?)?;
        }
        _ => return Err(Error::AttributeValueInvalid),
    }
    if !primes_ok(obj, key_type)? {
        return Err(Error::AttributeValueInvalid);
    }
    let bits = u64::from(dsa_mech::bit_len(p));
    put_ulong_derived(obj, CKA_PRIME_BITS, bits)
}

/// CKA_PARAMETER_SET of an ML-KEM key object.
fn ml_kem_set(obj: &Object) -> Result<ParamSet> {
    let v = obj
        .ulong(CKA_PARAMETER_SET)
        .ok_or(Error::TemplateIncomplete)?;
    ParamSet::from_ckp(v)
}

/// An ML-KEM private key object's key, from CKA_PARAMETER_SET and
/// CKA_SEED.
fn ml_kem_private(obj: &Object) -> Result<Key> {
    let private = MlKemPrivate::from_seed(ml_kem_set(obj)?, need(obj, CKA_SEED)?)?;
    Ok(Key::MlKemPrivate(Box::new(private)))
}

/// An ML-KEM public key object's key, from CKA_PARAMETER_SET and
/// CKA_VALUE.
fn ml_kem_public(obj: &Object) -> Result<Key> {
    let public = MlKemPublic::new(ml_kem_set(obj)?, need(obj, CKA_VALUE)?)?;
    Ok(Key::MlKemPublic(Box::new(public)))
}

/// Whether `obj` is an ML-KEM private key.
pub(crate) fn is_ml_kem_private(obj: &Object) -> bool {
    obj.class() == CKO_PRIVATE_KEY && obj.key_type() == Some(CKK_ML_KEM)
}

/// The expanded decapsulation key of an ML-KEM private key object (its
/// CKA_VALUE), from the stored seed.
pub(crate) fn ml_kem_dk(obj: &Object) -> Option<Vec<u8>> {
    match ml_kem_private(obj).ok()? {
        Key::MlKemPrivate(k) => Some(k.expanded_dk().to_vec()),
        _ => None,
    }
}

/// Whether `dk` is the expanded decapsulation key of `key`.
fn ml_kem_dk_matches(key: &Key, dk: &[u8]) -> bool {
    match key {
        Key::MlKemPrivate(k) => k.expanded_dk().as_slice() == dk,
        _ => false,
    }
}

/// The typed key behind a key object, for an operation. Data objects and
/// certificates, and key types we do not implement, are
/// CKR_KEY_TYPE_INCONSISTENT. A key object missing its material (which
/// this module never builds) is a general error.
pub fn key_material(obj: &Object) -> Result<Key> {
    let key_type = obj.key_type().ok_or(Error::KeyTypeInconsistent)?;
    let get = |ty| obj.bytes(ty).ok_or(Error::GeneralError);
    let class = obj.class();
    if !rules::supported_key(class, key_type) {
        return Err(Error::KeyTypeInconsistent);
    }
    if key_type == CKK_ML_KEM {
        return match class {
            CKO_PRIVATE_KEY => ml_kem_private(obj).map_err(|_| Error::GeneralError),
            _ => ml_kem_public(obj).map_err(|_| Error::GeneralError),
        };
    }
    match (class, key_type) {
        (CKO_PRIVATE_KEY, CKK_DSA) => {
            let k = dsa_mech::private(
                get(CKA_PRIME)?,
                get(CKA_SUBPRIME)?,
                get(CKA_BASE)?,
                get(CKA_VALUE)?,
            )
            .map_err(|_| Error::GeneralError)?;
            return Ok(Key::Dsa(Box::new(k)));
        }
        (CKO_PUBLIC_KEY, CKK_DSA) => {
            let k = dsa_mech::public(
                get(CKA_PRIME)?,
                get(CKA_SUBPRIME)?,
                get(CKA_BASE)?,
                get(CKA_VALUE)?,
            )
            .map_err(|_| Error::GeneralError)?;
            return Ok(Key::Dsa(Box::new(k)));
        }
        (CKO_PRIVATE_KEY, CKK_DH) => {
            let k = dh::private(get(CKA_PRIME)?, get(CKA_BASE)?, get(CKA_VALUE)?)
                .map_err(|_| Error::GeneralError)?;
            return Ok(Key::Dh(Box::new(k)));
        }
        (CKO_PUBLIC_KEY, CKK_DH) => {
            let k = dh::public(get(CKA_PRIME)?, get(CKA_BASE)?, get(CKA_VALUE)?)
                .map_err(|_| Error::GeneralError)?;
            return Ok(Key::Dh(Box::new(k)));
        }
        _ => {}
    }
    match class {
        CKO_SECRET_KEY => secret_key(key_type, get(CKA_VALUE)?),
        CKO_PRIVATE_KEY if is_ec_family(key_type) => {
            ec_family_private(key_type, get(CKA_EC_PARAMS)?, get(CKA_VALUE)?)
        }
        CKO_PUBLIC_KEY if is_ec_family(key_type) => {
            ec_family_public(key_type, get(CKA_EC_PARAMS)?, get(CKA_EC_POINT)?)
        }
        CKO_PRIVATE_KEY if key_type == CKK_ML_DSA => {
            let set = obj.ck_ulong(CKA_PARAMETER_SET).ok_or(Error::GeneralError)?;
            Key::ml_dsa_private(set, get(CKA_SEED)?)
        }
        CKO_PUBLIC_KEY if key_type == CKK_ML_DSA => {
            let set = obj.ck_ulong(CKA_PARAMETER_SET).ok_or(Error::GeneralError)?;
            Key::ml_dsa_public(set, get(CKA_VALUE)?)
        }
        // Checked (PK.root against the seeds) when the object was made.
        CKO_PRIVATE_KEY if key_type == CKK_SLH_DSA => {
            let set = obj.ck_ulong(CKA_PARAMETER_SET).ok_or(Error::GeneralError)?;
            Key::slh_dsa_private_stored(set, get(CKA_VALUE)?)
        }
        CKO_PUBLIC_KEY if key_type == CKK_SLH_DSA => {
            let set = obj.ck_ulong(CKA_PARAMETER_SET).ok_or(Error::GeneralError)?;
            Key::slh_dsa_public(set, get(CKA_VALUE)?)
        }
        CKO_PRIVATE_KEY => Key::rsa_private(
            get(CKA_MODULUS)?,
            get(CKA_PUBLIC_EXPONENT)?,
            get(CKA_PRIVATE_EXPONENT)?,
            primes(obj).map_err(|_| Error::GeneralError)?,
        ),
        CKO_PUBLIC_KEY => Key::rsa_public(get(CKA_MODULUS)?, get(CKA_PUBLIC_EXPONENT)?),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_string() {
        assert_eq!(der_octet_contents(&[4, 2, 9, 8]), Some(&[9u8, 8][..]));
        assert_eq!(der_octet_contents(&[4, 3, 9, 8]), None);
        assert_eq!(der_octet_contents(&[3, 1, 9]), None);
        let mut long = vec![4, 0x81, 0x81];
        long.extend([5u8; 0x81]);
        assert_eq!(der_octet_contents(&long).map(<[u8]>::len), Some(0x81));
        assert_eq!(der_octet_contents(&[]), None);
    }

    #[test]
    fn secret_lengths() {
        assert!(secret_len_ok(CKK_AES, 16) && secret_len_ok(CKK_AES, 32));
        assert!(!secret_len_ok(CKK_AES, 17));
        assert!(secret_len_ok(CKK_GENERIC_SECRET, 1));
        assert!(!secret_len_ok(CKK_GENERIC_SECRET, 0));
        assert!(!secret_len_ok(CKK_RSA, 16));
    }
}
