//! Template rules for C_GenerateKey and C_GenerateKeyPair: checking the
//! templates before any key is made (so a bad template costs nothing), and
//! building the finished objects around the material the mechanism module
//! generated, with CKA_LOCAL, CKA_KEY_GEN_MECHANISM and the "always
//! sensitive / never extractable" history set as §4.9–4.10 describe.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Object;
use super::attrs::AttrMap;
use super::material::{put_public_key_info, secret_len_ok};
use super::template::{
    Mode, apply, assign_unique_id, base_object, check_contributed, check_template, expect_ulong,
    tpl_ulong,
};
use crate::error::{Error, Result};
use crate::mechanism::{Curve, EcKeyPairParts, Key, RsaKeyPairParts};

/// RSA modulus sizes we generate, in bits.
const RSA_MIN_BITS: u64 = 2048;
const RSA_MAX_BITS: u64 = 4096;

/// F4, the public exponent when the template gives none.
const DEFAULT_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// What C_GenerateKey must make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretKeyRequest {
    pub key_type: CK_KEY_TYPE,
    /// Key length in bytes.
    pub len: usize,
}

/// What C_GenerateKeyPair must make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPairRequest {
    Ec { ec_params: Vec<u8> },
    Rsa { bits: u64, public_exponent: Vec<u8> },
}

/// The material the mechanism module generated for a key pair.
pub enum GeneratedPair {
    Ec(EcKeyPairParts),
    Rsa(RsaKeyPairParts),
}

fn secret_key_type(mech: CK_MECHANISM_TYPE) -> Result<CK_KEY_TYPE> {
    match mech {
        CKM_AES_KEY_GEN => Ok(CKK_AES),
        CKM_GENERIC_SECRET_KEY_GEN => Ok(CKK_GENERIC_SECRET),
        _ => Err(Error::MechanismInvalid),
    }
}

/// Checks a C_GenerateKey template for `mech` and says what to generate.
/// CKA_VALUE_LEN (bytes) is required (footnote 3): AES 16, 24 or 32,
/// generic secrets 1 to 512; other lengths are CKR_ATTRIBUTE_VALUE_INVALID
/// (as SoftHSM answers). CKA_VALUE or another contributed attribute in the
/// template is CKR_ATTRIBUTE_READ_ONLY (footnote 4, §4.1.1 item 3); a class
/// or key type other than the mechanism's is CKR_TEMPLATE_INCONSISTENT.
/// CKA_TRUSTED is checked against the role by [`generated_secret_key`].
pub fn secret_key_request(mech: CK_MECHANISM_TYPE, template: &AttrMap) -> Result<SecretKeyRequest> {
    let key_type = secret_key_type(mech)?;
    expect_ulong(template, CKA_CLASS, CKO_SECRET_KEY)?;
    expect_ulong(template, CKA_KEY_TYPE, key_type)?;
    check_template(CKO_SECRET_KEY, key_type, template, Mode::Generate, true)?;
    let len = tpl_ulong(template, CKA_VALUE_LEN)?.ok_or(Error::TemplateIncomplete)?;
    let len = usize::try_from(len).map_err(|_| Error::AttributeValueInvalid)?;
    if !secret_len_ok(key_type, len) {
        return Err(Error::AttributeValueInvalid);
    }
    preview(CKO_SECRET_KEY, key_type, template, mech, &[])?;
    Ok(SecretKeyRequest { key_type, len })
}

/// Sets what the token contributes to a generated key: CKA_LOCAL true,
/// CKA_KEY_GEN_MECHANISM, and for private and secret keys
/// CKA_ALWAYS_SENSITIVE = CKA_SENSITIVE and CKA_NEVER_EXTRACTABLE =
/// !CKA_EXTRACTABLE.
fn mark_generated(obj: &mut Object, mech: CK_MECHANISM_TYPE) {
    obj.put_bool(CKA_LOCAL, true);
    obj.put_ulong(CKA_KEY_GEN_MECHANISM, mech);
    if matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
        let sensitive = obj.flag(CKA_SENSITIVE);
        let extractable = obj.flag(CKA_EXTRACTABLE);
        obj.put_bool(CKA_ALWAYS_SENSITIVE, sensitive);
        obj.put_bool(CKA_NEVER_EXTRACTABLE, !extractable);
    }
}

/// Checks, before generating, the contributed attributes a template may
/// repeat (CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE,
/// CKA_NEVER_EXTRACTABLE, and `known` values such as the private key's
/// CKA_EC_PARAMS) by building the object without its material.
fn preview(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    template: &AttrMap,
    mech: CK_MECHANISM_TYPE,
    known: &[(CK_ATTRIBUTE_TYPE, &[u8])],
) -> Result<()> {
    let mut obj = base_object(class, key_type);
    apply(&mut obj, template, key_type, Mode::Generate);
    for (ty, v) in known {
        obj.put(*ty, v.to_vec());
    }
    mark_generated(&mut obj, mech);
    check_contributed(&obj, template, key_type, Mode::Generate)
}

/// The finished C_GenerateKey object around freshly generated `value`.
pub fn generated_secret_key(
    template: &AttrMap,
    req: &SecretKeyRequest,
    mech: CK_MECHANISM_TYPE,
    value: Zeroizing<Vec<u8>>,
    so: bool,
) -> Result<Object> {
    if secret_key_request(mech, template)? != *req || value.len() != req.len {
        return Err(Error::GeneralError);
    }
    check_template(CKO_SECRET_KEY, req.key_type, template, Mode::Generate, so)?;
    let mut obj = base_object(CKO_SECRET_KEY, req.key_type);
    apply(&mut obj, template, req.key_type, Mode::Generate);
    obj.put(CKA_VALUE, value.to_vec());
    let len = CK_ULONG::try_from(req.len).map_err(|_| Error::GeneralError)?;
    obj.put_ulong(CKA_VALUE_LEN, len);
    mark_generated(&mut obj, mech);
    check_contributed(&obj, template, req.key_type, Mode::Generate)?;
    assign_unique_id(&mut obj)?;
    Ok(obj)
}

fn pair_key_type(mech: CK_MECHANISM_TYPE) -> Result<CK_KEY_TYPE> {
    match mech {
        CKM_EC_KEY_PAIR_GEN => Ok(CKK_EC),
        CKM_RSA_PKCS_KEY_PAIR_GEN => Ok(CKK_RSA),
        _ => Err(Error::MechanismInvalid),
    }
}

fn check_pair_templates(
    key_type: CK_KEY_TYPE,
    public: &AttrMap,
    private: &AttrMap,
    so: bool,
) -> Result<()> {
    expect_ulong(public, CKA_CLASS, CKO_PUBLIC_KEY)?;
    expect_ulong(public, CKA_KEY_TYPE, key_type)?;
    expect_ulong(private, CKA_CLASS, CKO_PRIVATE_KEY)?;
    expect_ulong(private, CKA_KEY_TYPE, key_type)?;
    check_template(CKO_PUBLIC_KEY, key_type, public, Mode::Generate, so)?;
    check_template(CKO_PRIVATE_KEY, key_type, private, Mode::Generate, so)
}

/// Checks C_GenerateKeyPair templates for `mech` and says what to
/// generate. EC: CKA_EC_PARAMS in the public template (required, a curve
/// we support); the private template may repeat it but not contradict it
/// (CKR_TEMPLATE_INCONSISTENT). RSA: CKA_MODULUS_BITS in the public
/// template (required; 2048..=4096 else CKR_KEY_SIZE_RANGE), optional
/// CKA_PUBLIC_EXPONENT (default 65537, also when empty). Key material in either template is
/// CKR_ATTRIBUTE_READ_ONLY; class or key type mismatches are
/// CKR_TEMPLATE_INCONSISTENT.
pub fn key_pair_request(
    mech: CK_MECHANISM_TYPE,
    public: &AttrMap,
    private: &AttrMap,
) -> Result<KeyPairRequest> {
    let key_type = pair_key_type(mech)?;
    check_pair_templates(key_type, public, private, true)?;
    if key_type == CKK_EC {
        let ec_params = public
            .get(&CKA_EC_PARAMS)
            .ok_or(Error::TemplateIncomplete)?;
        if private.get(&CKA_EC_PARAMS).is_some_and(|p| p != ec_params) {
            return Err(Error::TemplateInconsistent);
        }
        Curve::from_ec_params(ec_params)?;
        preview(CKO_PUBLIC_KEY, key_type, public, mech, &[])?;
        preview(
            CKO_PRIVATE_KEY,
            key_type,
            private,
            mech,
            &[(CKA_EC_PARAMS, ec_params)],
        )?;
        return Ok(KeyPairRequest::Ec {
            ec_params: ec_params.clone(),
        });
    }
    let bits = tpl_ulong(public, CKA_MODULUS_BITS)?.ok_or(Error::TemplateIncomplete)?;
    let bits = super::attrs::ulong_to_u64(bits);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Error::KeySizeRange);
    }
    let public_exponent = match public.get(&CKA_PUBLIC_EXPONENT) {
        Some(e) if e.is_empty() => DEFAULT_PUBLIC_EXPONENT.to_vec(),
        Some(e) if e.iter().all(|b| *b == 0) => return Err(Error::AttributeValueInvalid),
        Some(e) => e.clone(),
        None => DEFAULT_PUBLIC_EXPONENT.to_vec(),
    };
    preview(CKO_PUBLIC_KEY, key_type, public, mech, &[])?;
    preview(CKO_PRIVATE_KEY, key_type, private, mech, &[])?;
    Ok(KeyPairRequest::Rsa {
        bits,
        public_exponent,
    })
}

/// Fills the material of a generated pair into the two objects.
fn fill_pair(public: &mut Object, private: &mut Object, parts: &GeneratedPair) -> Result<()> {
    match parts {
        GeneratedPair::Ec(p) => {
            let key = Key::ec_public(&p.ec_params, &p.ec_point_der)?;
            for obj in [&mut *public, &mut *private] {
                obj.put(CKA_EC_PARAMS, p.ec_params.clone());
                obj.put(CKA_EC_POINT, p.ec_point_der.clone());
                put_public_key_info(obj, &key)?;
            }
            private.put(CKA_VALUE, p.private_value.to_vec());
        }
        GeneratedPair::Rsa(p) => {
            let key = Key::rsa_public(&p.modulus, &p.public_exponent)?;
            for obj in [&mut *public, &mut *private] {
                obj.put(CKA_MODULUS, p.modulus.clone());
                obj.put(CKA_PUBLIC_EXPONENT, p.public_exponent.clone());
                put_public_key_info(obj, &key)?;
            }
            let bits = CK_ULONG::try_from(key.bits()).map_err(|_| Error::GeneralError)?;
            public.put_ulong(CKA_MODULUS_BITS, bits);
            for (ty, v) in [
                (CKA_PRIVATE_EXPONENT, &p.private_exponent),
                (CKA_PRIME_1, &p.prime_1),
                (CKA_PRIME_2, &p.prime_2),
                (CKA_EXPONENT_1, &p.exponent_1),
                (CKA_EXPONENT_2, &p.exponent_2),
                (CKA_COEFFICIENT, &p.coefficient),
            ] {
                private.put(ty, v.to_vec());
            }
        }
    }
    Ok(())
}

/// The finished C_GenerateKeyPair objects (public, private) around the
/// generated material. Both hold every attribute of their class with the
/// defaults of [`base_object`](super::template::base_object), CKA_LOCAL
/// true and CKA_KEY_GEN_MECHANISM = `mech`; both carry the public parts
/// (EC: CKA_EC_PARAMS, CKA_EC_POINT; RSA: CKA_MODULUS,
/// CKA_PUBLIC_EXPONENT) and CKA_PUBLIC_KEY_INFO, the public key
/// CKA_MODULUS_BITS, the private key its private components.
pub fn generated_key_pair(
    public: &AttrMap,
    private: &AttrMap,
    parts: GeneratedPair,
    mech: CK_MECHANISM_TYPE,
    so: bool,
) -> Result<(Object, Object)> {
    let request = key_pair_request(mech, public, private)?;
    let key_type = match (&request, &parts) {
        (KeyPairRequest::Ec { ec_params }, GeneratedPair::Ec(p)) if *ec_params == p.ec_params => {
            CKK_EC
        }
        (KeyPairRequest::Rsa { .. }, GeneratedPair::Rsa(_)) => CKK_RSA,
        _ => return Err(Error::GeneralError),
    };
    check_pair_templates(key_type, public, private, so)?;
    let mut pub_obj = base_object(CKO_PUBLIC_KEY, key_type);
    let mut priv_obj = base_object(CKO_PRIVATE_KEY, key_type);
    apply(&mut pub_obj, public, key_type, Mode::Generate);
    apply(&mut priv_obj, private, key_type, Mode::Generate);
    fill_pair(&mut pub_obj, &mut priv_obj, &parts)?;
    mark_generated(&mut pub_obj, mech);
    mark_generated(&mut priv_obj, mech);
    check_contributed(&pub_obj, public, key_type, Mode::Generate)?;
    check_contributed(&priv_obj, private, key_type, Mode::Generate)?;
    assign_unique_id(&mut pub_obj)?;
    assign_unique_id(&mut priv_obj)?;
    Ok((pub_obj, priv_obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AttrRead;
    use crate::mechanism::{generate_ec, generate_rsa, generate_secret};
    use crate::object::attrs::{bool_value as b, ulong_value as u};
    use crate::object::key_material;

    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    fn t(entries: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> AttrMap {
        entries.iter().cloned().collect()
    }

    fn aes_req(len: u64) -> AttrMap {
        t(&[(CKA_VALUE_LEN, u(len)), (CKA_TOKEN, b(true))])
    }

    #[test]
    fn secret_requests() {
        let r = secret_key_request(CKM_AES_KEY_GEN, &aes_req(32)).unwrap();
        assert_eq!(
            r,
            SecretKeyRequest {
                key_type: CKK_AES,
                len: 32
            }
        );
        let g = t(&[(CKA_VALUE_LEN, u(1))]);
        assert_eq!(
            secret_key_request(CKM_GENERIC_SECRET_KEY_GEN, &g)
                .unwrap()
                .len,
            1
        );

        let e = |m: AttrMap, mech| secret_key_request(mech, &m).unwrap_err();
        assert_eq!(e(t(&[]), CKM_AES_KEY_GEN), Error::TemplateIncomplete);
        assert_eq!(
            e(aes_req(20), CKM_AES_KEY_GEN),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(aes_req(0), CKM_GENERIC_SECRET_KEY_GEN),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(aes_req(513), CKM_GENERIC_SECRET_KEY_GEN),
            Error::AttributeValueInvalid
        );
        assert_eq!(e(aes_req(16), CKM_SHA256), Error::MechanismInvalid);
        let mut m = aes_req(16);
        m.insert(CKA_VALUE, vec![0; 16]);
        assert_eq!(e(m, CKM_AES_KEY_GEN), Error::AttributeReadOnly);
        let mut m = aes_req(16);
        m.insert(CKA_CLASS, u(CKO_PUBLIC_KEY));
        assert_eq!(e(m, CKM_AES_KEY_GEN), Error::TemplateInconsistent);
        let mut m = aes_req(16);
        m.insert(CKA_KEY_TYPE, u(CKK_GENERIC_SECRET));
        assert_eq!(e(m, CKM_AES_KEY_GEN), Error::TemplateInconsistent);
        let mut m = aes_req(16);
        m.insert(CKA_EC_PARAMS, P256.to_vec());
        assert_eq!(e(m, CKM_AES_KEY_GEN), Error::TemplateInconsistent);
    }

    #[test]
    fn generated_secret() {
        let tpl = aes_req(32);
        let req = secret_key_request(CKM_AES_KEY_GEN, &tpl).unwrap();
        let o = generated_secret_key(
            &tpl,
            &req,
            CKM_AES_KEY_GEN,
            generate_secret(32).unwrap(),
            false,
        )
        .unwrap();
        assert!(o.flag(CKA_LOCAL) && o.is_token() && o.is_private());
        assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_AES_KEY_GEN));
        assert!(o.flag(CKA_ALWAYS_SENSITIVE) && o.flag(CKA_NEVER_EXTRACTABLE));
        assert_eq!(o.ulong(CKA_VALUE_LEN), Some(32));
        assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
        assert!(key_material(&o).is_ok());

        let mut open = aes_req(16);
        open.insert(CKA_SENSITIVE, b(false));
        open.insert(CKA_EXTRACTABLE, b(true));
        open.insert(CKA_LOCAL, b(true));
        let req = secret_key_request(CKM_AES_KEY_GEN, &open).unwrap();
        let value = Zeroizing::new(vec![5u8; 16]);
        let o = generated_secret_key(&open, &req, CKM_AES_KEY_GEN, value, false).unwrap();
        assert!(!o.flag(CKA_ALWAYS_SENSITIVE) && !o.flag(CKA_NEVER_EXTRACTABLE));
        assert!(o.read(CKA_VALUE) == AttrRead::Value(vec![5; 16]));

        let short = Zeroizing::new(vec![5u8; 8]);
        let r = generated_secret_key(&open, &req, CKM_AES_KEY_GEN, short, false);
        assert_eq!(r.unwrap_err(), Error::GeneralError);
        let mut trusted = aes_req(16);
        trusted.insert(CKA_TRUSTED, b(true));
        let req = secret_key_request(CKM_AES_KEY_GEN, &trusted).unwrap();
        let value = Zeroizing::new(vec![5u8; 16]);
        let r = generated_secret_key(&trusted, &req, CKM_AES_KEY_GEN, value.clone(), false);
        assert_eq!(r.unwrap_err(), Error::AttributeReadOnly);
        assert!(generated_secret_key(&trusted, &req, CKM_AES_KEY_GEN, value, true).is_ok());
    }

    #[test]
    fn pair_requests() {
        let ec_pub = t(&[(CKA_EC_PARAMS, P256.to_vec()), (CKA_VERIFY, b(true))]);
        let priv_t = t(&[(CKA_SIGN, b(true)), (CKA_SENSITIVE, b(true))]);
        let r = key_pair_request(CKM_EC_KEY_PAIR_GEN, &ec_pub, &priv_t).unwrap();
        assert_eq!(
            r,
            KeyPairRequest::Ec {
                ec_params: P256.to_vec()
            }
        );
        let e = |mech, public: &AttrMap, private: &AttrMap| {
            key_pair_request(mech, public, private).unwrap_err()
        };
        let with = |m: &AttrMap, ty, v: Vec<u8>| {
            let mut m = m.clone();
            m.insert(ty, v);
            m
        };
        assert_eq!(
            e(CKM_EC_KEY_PAIR_GEN, &t(&[]), &priv_t),
            Error::TemplateIncomplete
        );
        let secp256k1 = vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &with(&ec_pub, CKA_EC_PARAMS, secp256k1),
                &priv_t
            ),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &with(&ec_pub, CKA_EC_POINT, vec![4]),
                &priv_t
            ),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &ec_pub,
                &with(&priv_t, CKA_VALUE, vec![1])
            ),
            Error::AttributeReadOnly
        );
        let p384 = vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &ec_pub,
                &with(&priv_t, CKA_EC_PARAMS, p384)
            ),
            Error::TemplateInconsistent
        );
        assert!(
            key_pair_request(
                CKM_EC_KEY_PAIR_GEN,
                &ec_pub,
                &with(&priv_t, CKA_EC_PARAMS, P256.to_vec())
            )
            .is_ok()
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &with(&ec_pub, CKA_CLASS, u(CKO_PRIVATE_KEY)),
                &priv_t
            ),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &ec_pub,
                &with(&priv_t, CKA_KEY_TYPE, u(CKK_RSA))
            ),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &with(&ec_pub, CKA_SENSITIVE, b(true)),
                &priv_t
            ),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(
                CKM_EC_KEY_PAIR_GEN,
                &ec_pub,
                &with(&priv_t, CKA_LOCAL, b(false))
            ),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(CKM_AES_KEY_GEN, &ec_pub, &priv_t),
            Error::MechanismInvalid
        );

        let rsa_pub = t(&[(CKA_MODULUS_BITS, u(2048))]);
        let r = key_pair_request(CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa_pub, &priv_t).unwrap();
        assert_eq!(
            r,
            KeyPairRequest::Rsa {
                bits: 2048,
                public_exponent: vec![1, 0, 1]
            }
        );
        let e3 = with(&rsa_pub, CKA_PUBLIC_EXPONENT, vec![3]);
        let r = key_pair_request(CKM_RSA_PKCS_KEY_PAIR_GEN, &e3, &priv_t).unwrap();
        assert_eq!(
            r,
            KeyPairRequest::Rsa {
                bits: 2048,
                public_exponent: vec![3]
            }
        );
        assert_eq!(
            e(CKM_RSA_PKCS_KEY_PAIR_GEN, &t(&[]), &priv_t),
            Error::TemplateIncomplete
        );
        for bits in [1024, 8192] {
            let m = with(&rsa_pub, CKA_MODULUS_BITS, u(bits));
            assert_eq!(
                e(CKM_RSA_PKCS_KEY_PAIR_GEN, &m, &priv_t),
                Error::KeySizeRange
            );
        }
        assert_eq!(
            e(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                &with(&rsa_pub, CKA_MODULUS, vec![1]),
                &priv_t
            ),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                &rsa_pub,
                &with(&priv_t, CKA_PRIME_1, vec![1])
            ),
            Error::AttributeReadOnly
        );
        assert_eq!(
            e(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                &rsa_pub,
                &with(&priv_t, CKA_MODULUS_BITS, u(2048))
            ),
            Error::TemplateInconsistent
        );
        assert_eq!(
            e(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                &with(&rsa_pub, CKA_PUBLIC_EXPONENT, vec![0]),
                &priv_t
            ),
            Error::AttributeValueInvalid
        );
    }

    #[test]
    fn generated_ec_pair() {
        let public = t(&[
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_TOKEN, b(true)),
            (CKA_ID, vec![1]),
        ]);
        let private = t(&[
            (CKA_TOKEN, b(true)),
            (CKA_ID, vec![1]),
            (CKA_DERIVE, b(true)),
        ]);
        let parts = generate_ec(P256).unwrap();
        let point = parts.ec_point_der.clone();
        let (p, s) = generated_key_pair(
            &public,
            &private,
            GeneratedPair::Ec(parts),
            CKM_EC_KEY_PAIR_GEN,
            false,
        )
        .unwrap();
        assert_eq!(p.class(), CKO_PUBLIC_KEY);
        assert_eq!(s.class(), CKO_PRIVATE_KEY);
        assert!(!p.is_private() && s.is_private());
        for o in [&p, &s] {
            assert_eq!(o.key_type(), Some(CKK_EC));
            assert!(o.flag(CKA_LOCAL) && o.is_token());
            assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_EC_KEY_PAIR_GEN));
            assert_eq!(o.bytes(CKA_EC_POINT), Some(point.as_slice()));
            assert_eq!(o.bytes(CKA_EC_PARAMS), Some(P256));
            assert_eq!(o.bytes(CKA_ID), Some(&[1u8][..]));
            assert!(!o.bytes(CKA_PUBLIC_KEY_INFO).unwrap().is_empty());
            assert!(key_material(o).is_ok());
        }
        assert_eq!(p.bytes(CKA_PUBLIC_KEY_INFO), s.bytes(CKA_PUBLIC_KEY_INFO));
        assert!(
            s.flag(CKA_SENSITIVE) && s.flag(CKA_ALWAYS_SENSITIVE) && s.flag(CKA_NEVER_EXTRACTABLE)
        );
        assert!(s.flag(CKA_DERIVE) && s.flag(CKA_SIGN) && p.flag(CKA_VERIFY));
        assert!(s.read(CKA_VALUE) == AttrRead::Sensitive);
        assert_ne!(p.bytes(CKA_UNIQUE_ID), s.bytes(CKA_UNIQUE_ID));

        let other = generate_ec(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]).unwrap();
        let r = generated_key_pair(
            &public,
            &private,
            GeneratedPair::Ec(other),
            CKM_EC_KEY_PAIR_GEN,
            false,
        );
        assert_eq!(r.unwrap_err(), Error::GeneralError);
    }

    #[test]
    fn generated_rsa_pair() {
        let public = t(&[(CKA_MODULUS_BITS, u(2048))]);
        let private = t(&[(CKA_EXTRACTABLE, b(true))]);
        let parts = generate_rsa(2048, &[1, 0, 1]).unwrap();
        let (p, s) = generated_key_pair(
            &public,
            &private,
            GeneratedPair::Rsa(parts),
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            false,
        )
        .unwrap();
        assert_eq!(p.ulong(CKA_MODULUS_BITS), Some(2048));
        assert!(s.bytes(CKA_MODULUS_BITS).is_none());
        assert_eq!(p.bytes(CKA_MODULUS), s.bytes(CKA_MODULUS));
        assert_eq!(s.bytes(CKA_PUBLIC_EXPONENT), Some(&[1u8, 0, 1][..]));
        for ty in [
            CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ] {
            assert!(s.bytes(ty).is_some_and(|v| !v.is_empty()));
            assert!(p.bytes(ty).is_none());
            assert!(s.read(ty) == AttrRead::Sensitive);
        }
        assert!(s.flag(CKA_ALWAYS_SENSITIVE) && !s.flag(CKA_NEVER_EXTRACTABLE));
        assert!(p.flag(CKA_ENCRYPT) && s.flag(CKA_DECRYPT));
        assert!(key_material(&p).is_ok() && key_material(&s).is_ok());
        let (_, sealed) = s.split_for_storage();
        assert!(sealed.contains_key(&CKA_PRIME_1) && sealed.contains_key(&CKA_LABEL));
    }
}
