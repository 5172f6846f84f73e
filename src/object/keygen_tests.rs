//! Unit tests of the key generation rules (kept apart from keygen.rs only
//! to keep that file readable).

use super::*;
use crate::mechanism::{generate_ec, generate_rsa, generate_secret};
use crate::object::attrs::{bool_value as b, ulong_value as u};
use crate::object::key_material;
use crate::types::AttrRead;

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
        Error::CurveNotSupported
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
    for bits in [1023, 8192] {
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
    assert!(s.flag(CKA_SENSITIVE) && s.flag(CKA_ALWAYS_SENSITIVE) && s.flag(CKA_NEVER_EXTRACTABLE));
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

const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

#[test]
fn hkdf_and_pbkdf2_requests() {
    let r = secret_key_request(CKM_HKDF_KEY_GEN, &aes_req(64)).unwrap();
    assert_eq!(
        r,
        SecretKeyRequest {
            key_type: CKK_HKDF,
            len: 64
        }
    );
    let e = |mech, m: AttrMap| secret_key_request(mech, &m).unwrap_err();
    assert_eq!(e(CKM_HKDF_KEY_GEN, t(&[])), Error::TemplateIncomplete);
    assert_eq!(
        e(CKM_HKDF_KEY_GEN, aes_req(513)),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        e(
            CKM_HKDF_KEY_GEN,
            t(&[(CKA_VALUE_LEN, u(32)), (CKA_KEY_TYPE, u(CKK_AES))])
        ),
        Error::TemplateInconsistent
    );

    // PBKDF2 makes the type the template names.
    let pbkd2 = |kt, len| t(&[(CKA_KEY_TYPE, u(kt)), (CKA_VALUE_LEN, u(len))]);
    for (kt, len) in [
        (CKK_AES, 24),
        (CKK_GENERIC_SECRET, 20),
        (CKK_HKDF, 32),
        (CKK_SHA256_HMAC, 32),
        (CKK_SHA3_512_HMAC, 64),
    ] {
        let r = secret_key_request(CKM_PKCS5_PBKD2, &pbkd2(kt, len)).unwrap();
        assert_eq!((r.key_type, r.len), (kt, usize::try_from(len).unwrap()));
    }
    assert_eq!(e(CKM_PKCS5_PBKD2, aes_req(16)), Error::TemplateIncomplete);
    assert_eq!(
        e(CKM_PKCS5_PBKD2, t(&[(CKA_KEY_TYPE, u(CKK_AES))])),
        Error::TemplateIncomplete
    );
    assert_eq!(
        e(CKM_PKCS5_PBKD2, pbkd2(CKK_AES, 20)),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        e(CKM_PKCS5_PBKD2, pbkd2(CKK_RSA, 16)),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        e(CKM_PKCS5_PBKD2, pbkd2(CKK_DES3, 24)),
        Error::AttributeValueInvalid
    );
    let mut m = pbkd2(CKK_AES, 16);
    m.insert(CKA_CLASS, u(CKO_PRIVATE_KEY));
    assert_eq!(e(CKM_PKCS5_PBKD2, m), Error::TemplateInconsistent);
    let mut m = pbkd2(CKK_AES, 16);
    m.insert(CKA_VALUE, vec![1; 16]);
    assert_eq!(e(CKM_PKCS5_PBKD2, m), Error::AttributeReadOnly);
}

#[test]
fn generated_hkdf_and_pbkdf2_keys() {
    let tpl = aes_req(48);
    let req = secret_key_request(CKM_HKDF_KEY_GEN, &tpl).unwrap();
    let o = generated_secret_key(
        &tpl,
        &req,
        CKM_HKDF_KEY_GEN,
        generate_secret(48).unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(o.key_type(), Some(CKK_HKDF));
    assert!(o.flag(CKA_DERIVE) && !o.flag(CKA_SIGN) && !o.flag(CKA_ENCRYPT));
    assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_HKDF_KEY_GEN));
    assert_eq!(key_material(&o).unwrap().key_type(), CKK_HKDF);

    let tpl = t(&[
        (CKA_KEY_TYPE, u(CKK_SHA3_256_HMAC)),
        (CKA_VALUE_LEN, u(32)),
        (CKA_LOCAL, b(true)),
    ]);
    let req = secret_key_request(CKM_PKCS5_PBKD2, &tpl).unwrap();
    let value = Zeroizing::new(vec![3u8; 32]);
    let o = generated_secret_key(&tpl, &req, CKM_PKCS5_PBKD2, value, false).unwrap();
    assert!(o.flag(CKA_LOCAL) && o.flag(CKA_ALWAYS_SENSITIVE) && o.flag(CKA_NEVER_EXTRACTABLE));
    assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_PKCS5_PBKD2));
    assert!(o.flag(CKA_SIGN) && o.flag(CKA_VERIFY) && !o.flag(CKA_DERIVE));
    assert_eq!(key_material(&o).unwrap().key_type(), CKK_SHA3_256_HMAC);
}

#[test]
fn edwards_and_montgomery_requests() {
    let e = |mech, public: AttrMap, private: AttrMap| {
        key_pair_request(mech, &public, &private).unwrap_err()
    };
    let ed = t(&[(CKA_EC_PARAMS, ED25519.to_vec())]);
    let x = t(&[(CKA_EC_PARAMS, X25519.to_vec())]);
    let none = AttrMap::new();
    assert_eq!(
        key_pair_request(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed, &none).unwrap(),
        KeyPairRequest::Edwards {
            ec_params: ED25519.to_vec()
        }
    );
    let mut name = vec![0x13, 12];
    name.extend_from_slice(b"edwards25519");
    let by_name = t(&[(CKA_EC_PARAMS, name.clone())]);
    assert_eq!(
        key_pair_request(CKM_EC_EDWARDS_KEY_PAIR_GEN, &by_name, &none).unwrap(),
        KeyPairRequest::Edwards { ec_params: name }
    );
    assert_eq!(
        key_pair_request(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, &x, &none).unwrap(),
        KeyPairRequest::Montgomery {
            ec_params: X25519.to_vec()
        }
    );
    assert_eq!(
        key_pair_request(
            CKM_EC_KEY_PAIR_GEN,
            &t(&[(CKA_EC_PARAMS, P521.to_vec())]),
            &none
        )
        .unwrap(),
        KeyPairRequest::Ec {
            ec_params: P521.to_vec()
        }
    );

    assert_eq!(
        e(CKM_EC_EDWARDS_KEY_PAIR_GEN, none.clone(), none.clone()),
        Error::TemplateIncomplete
    );
    assert_eq!(
        e(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, none.clone(), none.clone()),
        Error::TemplateIncomplete
    );
    assert_eq!(
        e(CKM_EC_EDWARDS_KEY_PAIR_GEN, x.clone(), none.clone()),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        e(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, ed.clone(), none.clone()),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        e(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            t(&[(CKA_EC_PARAMS, P256.to_vec())]),
            none.clone()
        ),
        Error::CurveNotSupported
    );
    assert_eq!(
        e(CKM_EC_EDWARDS_KEY_PAIR_GEN, ed.clone(), x.clone()),
        Error::TemplateInconsistent
    );
    assert!(key_pair_request(CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed, &ed).is_ok());
    assert_eq!(
        e(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            ed.clone(),
            t(&[(CKA_KEY_TYPE, u(CKK_EC))])
        ),
        Error::TemplateInconsistent
    );
    assert_eq!(
        e(
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
            x.clone(),
            t(&[(CKA_VALUE, vec![1; 32])])
        ),
        Error::AttributeReadOnly
    );
}

#[test]
fn generated_edwards_and_montgomery_pairs() {
    use crate::mechanism::{generate_edwards, generate_montgomery};
    let none = AttrMap::new();
    for (mech, params, kt) in [
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519, CKK_EC_EDWARDS),
        (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X25519, CKK_EC_MONTGOMERY),
    ] {
        let public = t(&[(CKA_EC_PARAMS, params.to_vec()), (CKA_TOKEN, b(true))]);
        let parts = match key_pair_request(mech, &public, &none).unwrap() {
            KeyPairRequest::Edwards { ec_params } => {
                GeneratedPair::Edwards(generate_edwards(&ec_params).unwrap())
            }
            KeyPairRequest::Montgomery { ec_params } => {
                GeneratedPair::Montgomery(generate_montgomery(&ec_params).unwrap())
            }
            other => panic!("{other:?}"),
        };
        let (p, s) = generated_key_pair(&public, &none, parts, mech, false).unwrap();
        for o in [&p, &s] {
            assert_eq!(o.key_type(), Some(kt));
            assert_eq!(o.bytes(CKA_EC_PARAMS), Some(params));
            assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(mech));
            assert!(o.flag(CKA_LOCAL));
            assert!(!o.bytes(CKA_PUBLIC_KEY_INFO).unwrap().is_empty());
            assert_eq!(key_material(o).unwrap().key_type(), kt);
        }
        assert_eq!(p.bytes(CKA_EC_POINT), s.bytes(CKA_EC_POINT));
        assert_eq!(p.bytes(CKA_EC_POINT).map(<[u8]>::len), Some(34));
        assert!(s.read(CKA_VALUE) == AttrRead::Sensitive);
        let edwards = kt == CKK_EC_EDWARDS;
        assert_eq!(s.flag(CKA_SIGN), edwards);
        assert_eq!(p.flag(CKA_VERIFY), edwards);
        assert_eq!(s.flag(CKA_DERIVE), !edwards);
        assert!(!p.flag(CKA_DERIVE) && !p.flag(CKA_ENCRYPT) && !s.flag(CKA_DECRYPT));
    }

    // Parts of another family than the request's are refused.
    let ed = t(&[(CKA_EC_PARAMS, ED25519.to_vec())]);
    let wrong = GeneratedPair::Montgomery(generate_montgomery(X25519).unwrap());
    let r = generated_key_pair(&ed, &none, wrong, CKM_EC_EDWARDS_KEY_PAIR_GEN, false);
    assert_eq!(r.unwrap_err(), Error::GeneralError);
    let wrong = GeneratedPair::Ec(generate_ec(P256).unwrap());
    let r = generated_key_pair(&ed, &none, wrong, CKM_EC_EDWARDS_KEY_PAIR_GEN, false);
    assert_eq!(r.unwrap_err(), Error::GeneralError);
}

#[test]
fn generated_p521_pair() {
    let public = t(&[(CKA_EC_PARAMS, P521.to_vec())]);
    let parts = GeneratedPair::Ec(generate_ec(P521).unwrap());
    let (p, s) =
        generated_key_pair(&public, &AttrMap::new(), parts, CKM_EC_KEY_PAIR_GEN, false).unwrap();
    assert_eq!(p.bytes(CKA_EC_POINT), s.bytes(CKA_EC_POINT));
    assert_eq!(key_material(&s).unwrap().bits(), 521);
    assert!(s.flag(CKA_SIGN) && s.flag(CKA_DERIVE));
}
