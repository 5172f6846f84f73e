//! Unit tests of the creation, copy and modification rules (kept apart from
//! template.rs only to keep that file readable).

use super::*;
use crate::mechanism::{generate_ec, generate_rsa};
use crate::object::attrs::{bool_value as b, ulong_value as u};
use crate::types::AttrRead;

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn t(entries: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> AttrMap {
    entries.iter().cloned().collect()
}

fn with(base: &AttrMap, ty: CK_ATTRIBUTE_TYPE, v: Vec<u8>) -> AttrMap {
    let mut m = base.clone();
    m.insert(ty, v);
    m
}

fn without(base: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> AttrMap {
    let mut m = base.clone();
    m.remove(&ty);
    m
}

fn aes() -> AttrMap {
    t(&[
        (CKA_CLASS, u(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, u(CKK_AES)),
        (CKA_VALUE, vec![7; 32]),
    ])
}

fn cert() -> AttrMap {
    t(&[
        (CKA_CLASS, u(CKO_CERTIFICATE)),
        (CKA_CERTIFICATE_TYPE, u(CKC_X_509)),
        (CKA_SUBJECT, b"subject".to_vec()),
        (CKA_VALUE, b"not really DER".to_vec()),
    ])
}

fn data() -> AttrMap {
    t(&[(CKA_CLASS, u(CKO_DATA)), (CKA_VALUE, b"hello".to_vec())])
}

fn ec_private() -> (AttrMap, Vec<u8>) {
    let parts = generate_ec(P256).unwrap();
    let tpl = t(&[
        (CKA_CLASS, u(CKO_PRIVATE_KEY)),
        (CKA_KEY_TYPE, u(CKK_EC)),
        (CKA_EC_PARAMS, P256.to_vec()),
        (CKA_VALUE, parts.private_value.to_vec()),
    ]);
    (tpl, parts.ec_point_der.clone())
}

fn rsa_parts() -> &'static crate::mechanism::RsaKeyPairParts {
    static PARTS: std::sync::OnceLock<crate::mechanism::RsaKeyPairParts> =
        std::sync::OnceLock::new();
    PARTS.get_or_init(|| generate_rsa(2048, &[1, 0, 1]).unwrap())
}

/// An empty nested template in canonical form.
fn nested_empty() -> Vec<u8> {
    crate::object::nested::canonical(&crate::object::nested::encode_list(&[])).unwrap()
}

fn err(r: Result<Object>) -> Error {
    r.unwrap_err()
}

#[test]
fn data_object_defaults() {
    let o = create(&data(), false).unwrap();
    assert_eq!(o.class(), CKO_DATA);
    assert!(!o.is_private() && !o.is_token());
    assert!(o.is_modifiable() && o.is_copyable() && o.is_destroyable());
    assert_eq!(o.bytes(CKA_APPLICATION), Some(&[][..]));
    assert_eq!(o.bytes(CKA_VALUE), Some(&b"hello"[..]));
    let id = o.bytes(CKA_UNIQUE_ID).unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.iter().all(u8::is_ascii_hexdigit));
    let vendor = CKA_VENDOR_DEFINED | 0x42;
    let o = create(&with(&data(), vendor, b"v".to_vec()), false).unwrap();
    assert_eq!(o.bytes(vendor), Some(&b"v"[..]));
}

#[test]
fn class_errors() {
    assert_eq!(
        err(create(&without(&data(), CKA_CLASS), false)),
        Error::TemplateIncomplete
    );
    assert_eq!(
        err(create(&with(&data(), CKA_CLASS, u(CKO_HW_FEATURE)), false)),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        err(create(&with(&data(), CKA_CLASS, vec![1, 2]), false)),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        err(create(&with(&data(), CKA_KEY_TYPE, u(CKK_AES)), false)),
        Error::TemplateInconsistent
    );
    assert_eq!(
        err(create(&with(&data(), 0x7777, vec![1]), false)),
        Error::AttributeTypeInvalid
    );
    assert_eq!(
        err(create(&with(&data(), CKA_UNIQUE_ID, b"x".to_vec()), false)),
        Error::AttributeReadOnly
    );
}

#[test]
fn certificate_rules() {
    let o = create(&cert(), false).unwrap();
    assert!(!o.is_private());
    assert!(!o.flag(CKA_TRUSTED));
    assert_eq!(o.ulong(CKA_CERTIFICATE_CATEGORY), Some(0));
    let check = o.bytes(CKA_CHECK_VALUE).unwrap().to_vec();
    assert_eq!(check.len(), 3);
    assert!(create(&with(&cert(), CKA_CHECK_VALUE, check), false).is_ok());
    assert_eq!(
        err(create(&with(&cert(), CKA_CHECK_VALUE, vec![0; 3]), false)),
        Error::AttributeValueInvalid
    );

    assert_eq!(
        err(create(&without(&cert(), CKA_CERTIFICATE_TYPE), false)),
        Error::TemplateIncomplete
    );
    assert_eq!(
        err(create(&without(&cert(), CKA_SUBJECT), false)),
        Error::TemplateIncomplete
    );
    assert_eq!(
        err(create(&without(&cert(), CKA_VALUE), false)),
        Error::TemplateIncomplete
    );
    let attr_cert = with(&cert(), CKA_CERTIFICATE_TYPE, u(CKC_X_509_ATTR_CERT));
    assert_eq!(err(create(&attr_cert, false)), Error::AttributeValueInvalid);
    assert_eq!(
        err(create(&with(&cert(), CKA_VALUE, Vec::new()), false)),
        Error::AttributeValueInvalid
    );
    let by_url = with(
        &with(&cert(), CKA_VALUE, Vec::new()),
        CKA_URL,
        b"http://x".to_vec(),
    );
    assert!(create(&by_url, false).is_ok());
    let category = with(&cert(), CKA_CERTIFICATE_CATEGORY, u(9));
    assert_eq!(err(create(&category, false)), Error::AttributeValueInvalid);

    // Only the SO may mark a certificate trusted.
    let trusted = with(&cert(), CKA_TRUSTED, b(true));
    assert_eq!(err(create(&trusted, false)), Error::AttributeReadOnly);
    assert!(create(&trusted, true).unwrap().flag(CKA_TRUSTED));
    assert!(create(&with(&cert(), CKA_TRUSTED, b(false)), false).is_ok());

    // NSS's vendor attributes are kept on certificates.
    let nss = CKA_VENDOR_DEFINED | 0x4E53_4350;
    let o = create(&with(&cert(), nss, b"x@example.org".to_vec()), false).unwrap();
    assert_eq!(o.bytes(nss), Some(&b"x@example.org"[..]));
    assert_eq!(
        err(create(&with(&cert(), CKA_SENSITIVE, b(true)), false)),
        Error::TemplateInconsistent
    );
}

#[test]
fn secret_key_import() {
    let o = create(&aes(), false).unwrap();
    assert_eq!(o.key_type(), Some(CKK_AES));
    assert!(o.is_private() && o.flag(CKA_SENSITIVE) && !o.flag(CKA_EXTRACTABLE));
    assert!(!o.flag(CKA_LOCAL) && !o.flag(CKA_ALWAYS_SENSITIVE) && !o.flag(CKA_NEVER_EXTRACTABLE));
    assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(u64::MAX));
    assert_eq!(o.ulong(CKA_VALUE_LEN), Some(32));
    assert!(o.flag(CKA_ENCRYPT) && o.flag(CKA_DECRYPT) && !o.flag(CKA_SIGN) && !o.flag(CKA_DERIVE));
    // One purpose by default: an encryption key does not wrap, a key
    // asked to wrap does not encrypt (docs/KEY-SEPARATION.md).
    assert!(!o.flag(CKA_WRAP) && !o.flag(CKA_UNWRAP));
    let kek = create(&with(&aes(), CKA_UNWRAP, b(true)), false).unwrap();
    assert!(kek.flag(CKA_UNWRAP) && kek.flag(CKA_WRAP));
    assert!(!kek.flag(CKA_ENCRYPT) && !kek.flag(CKA_DECRYPT));
    let both = with(&with(&aes(), CKA_UNWRAP, b(true)), CKA_DECRYPT, b(true));
    let both = create(&both, false).unwrap();
    assert!(both.flag(CKA_UNWRAP) && both.flag(CKA_DECRYPT) && both.flag(CKA_ENCRYPT));
    assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
    assert!(o.has_secret());

    let readable = with(
        &with(&aes(), CKA_SENSITIVE, b(false)),
        CKA_EXTRACTABLE,
        b(true),
    );
    assert!(create(&readable, false).unwrap().read(CKA_VALUE) == AttrRead::Value(vec![7; 32]));
    let public = with(&aes(), CKA_PRIVATE, b(false));
    assert!(!create(&public, false).unwrap().is_private());

    let hmac = t(&[
        (CKA_CLASS, u(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, u(CKK_GENERIC_SECRET)),
        (CKA_VALUE, vec![1]),
    ]);
    let o = create(&hmac, false).unwrap();
    assert!(o.flag(CKA_SIGN) && !o.flag(CKA_ENCRYPT));
    // CKA_CHECK_VALUE is accepted and dropped.
    assert!(
        create(&with(&aes(), CKA_CHECK_VALUE, vec![1, 2, 3]), false)
            .unwrap()
            .bytes(CKA_CHECK_VALUE)
            .is_none()
    );
}

#[test]
fn secret_key_import_errors() {
    let e = |m: &AttrMap| err(create(m, false));
    assert_eq!(
        e(&with(&aes(), CKA_VALUE, vec![1; 20])),
        Error::AttributeValueInvalid
    );
    assert_eq!(e(&without(&aes(), CKA_VALUE)), Error::TemplateIncomplete);
    assert_eq!(e(&without(&aes(), CKA_KEY_TYPE)), Error::TemplateIncomplete);
    assert_eq!(
        e(&with(&aes(), CKA_KEY_TYPE, u(CKK_DES3))),
        Error::AttributeValueInvalid
    );
    // CKA_VALUE_LEN must not be given (footnote 2); the same value is let
    // through, a different one contradicts CKA_VALUE.
    assert!(create(&with(&aes(), CKA_VALUE_LEN, u(32)), false).is_ok());
    assert_eq!(
        e(&with(&aes(), CKA_VALUE_LEN, u(16))),
        Error::TemplateInconsistent
    );
    // Token-contributed attributes: the imported value passes, others not.
    assert!(create(&with(&aes(), CKA_LOCAL, b(false)), false).is_ok());
    assert_eq!(
        e(&with(&aes(), CKA_LOCAL, b(true))),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(&with(&aes(), CKA_ALWAYS_SENSITIVE, b(true))),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(&with(&aes(), CKA_KEY_GEN_MECHANISM, u(CKM_AES_KEY_GEN))),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(&with(&aes(), CKA_MODULUS, vec![1])),
        Error::TemplateInconsistent
    );
    // Nested templates: a canonical list only, and only on key classes.
    assert_eq!(
        e(&with(&aes(), CKA_WRAP_TEMPLATE, vec![0; 24])),
        Error::AttributeValueInvalid
    );
    let o = create(&with(&aes(), CKA_WRAP_TEMPLATE, nested_empty()), false).unwrap();
    assert_eq!(o.bytes(CKA_WRAP_TEMPLATE), Some(&nested_empty()[..]));
    assert_eq!(
        err(create(
            &with(&data(), CKA_UNWRAP_TEMPLATE, nested_empty()),
            false
        )),
        Error::TemplateInconsistent
    );
    assert_eq!(
        e(&with(&aes(), CKA_VENDOR_DEFINED | 1, vec![1])),
        Error::AttributeTypeInvalid
    );
    assert_eq!(
        e(&with(&aes(), CKA_TRUSTED, b(true))),
        Error::AttributeReadOnly
    );
    assert!(create(&with(&aes(), CKA_TRUSTED, b(true)), true).is_ok());
    assert_eq!(
        e(&with(&aes(), CKA_START_DATE, b"2024".to_vec())),
        Error::AttributeValueInvalid
    );
}

#[test]
fn ec_key_import() {
    let (tpl, point) = ec_private();
    let o = create(&tpl, false).unwrap();
    assert_eq!(o.bytes(CKA_EC_POINT), Some(point.as_slice()));
    assert!(!o.bytes(CKA_PUBLIC_KEY_INFO).unwrap().is_empty());
    assert!(o.is_private() && o.flag(CKA_SIGN) && !o.flag(CKA_DECRYPT));
    assert!(!o.flag(CKA_ALWAYS_AUTHENTICATE));
    assert!(o.read(CKA_VALUE) == AttrRead::Sensitive);
    assert!(key_material(&o).is_ok());

    // The public parts may be given if they agree (raw or DER point).
    assert!(create(&with(&tpl, CKA_EC_POINT, point.clone()), false).is_ok());
    let raw = point.get(2..).unwrap().to_vec();
    assert!(create(&with(&tpl, CKA_EC_POINT, raw.clone()), false).is_ok());
    let info = o.bytes(CKA_PUBLIC_KEY_INFO).unwrap().to_vec();
    assert!(create(&with(&tpl, CKA_PUBLIC_KEY_INFO, info), false).is_ok());
    assert_eq!(
        err(create(
            &with(&tpl, CKA_PUBLIC_KEY_INFO, vec![0x30, 0]),
            false
        )),
        Error::AttributeValueInvalid
    );
    assert_eq!(
        err(create(&without(&tpl, CKA_EC_PARAMS), false)),
        Error::TemplateIncomplete
    );
    assert_eq!(
        err(create(&with(&tpl, CKA_VALUE_LEN, u(32)), false)),
        Error::TemplateInconsistent
    );

    // A public key given a raw point stores the DER form.
    let public = t(&[
        (CKA_CLASS, u(CKO_PUBLIC_KEY)),
        (CKA_KEY_TYPE, u(CKK_EC)),
        (CKA_EC_PARAMS, P256.to_vec()),
        (CKA_EC_POINT, raw),
    ]);
    let p = create(&public, false).unwrap();
    assert_eq!(p.bytes(CKA_EC_POINT), Some(point.as_slice()));
    assert!(!p.is_private() && p.flag(CKA_VERIFY) && !p.flag(CKA_ENCRYPT));
    assert_eq!(p.bytes(CKA_PUBLIC_KEY_INFO), o.bytes(CKA_PUBLIC_KEY_INFO));
    assert!(!p.has_secret());
    assert_eq!(
        err(create(&with(&public, CKA_SENSITIVE, b(true)), false)),
        Error::TemplateInconsistent
    );
}

#[test]
fn rsa_key_import() {
    let p = rsa_parts();
    let public = t(&[
        (CKA_CLASS, u(CKO_PUBLIC_KEY)),
        (CKA_KEY_TYPE, u(CKK_RSA)),
        (CKA_MODULUS, p.modulus.clone()),
        (CKA_PUBLIC_EXPONENT, p.public_exponent.clone()),
    ]);
    let o = create(&public, false).unwrap();
    assert_eq!(o.ulong(CKA_MODULUS_BITS), Some(2048));
    assert!(o.flag(CKA_ENCRYPT) && o.flag(CKA_VERIFY) && o.flag(CKA_WRAP));
    assert!(create(&with(&public, CKA_MODULUS_BITS, u(2048)), false).is_ok());
    assert_eq!(
        err(create(&with(&public, CKA_MODULUS_BITS, u(1024)), false)),
        Error::TemplateInconsistent
    );
    assert_eq!(
        err(create(&without(&public, CKA_PUBLIC_EXPONENT), false)),
        Error::TemplateIncomplete
    );

    let mut private = public.clone();
    private.insert(CKA_CLASS, u(CKO_PRIVATE_KEY));
    private.insert(CKA_PRIVATE_EXPONENT, p.private_exponent.to_vec());
    let o = create(&private, false).unwrap();
    assert_eq!(
        o.bytes(CKA_PUBLIC_KEY_INFO),
        create(&public, false).unwrap().bytes(CKA_PUBLIC_KEY_INFO)
    );
    assert!(o.read(CKA_PRIVATE_EXPONENT) == AttrRead::Sensitive);
    assert!(o.read(CKA_MODULUS) == AttrRead::Value(p.modulus.clone()));
    assert!(key_material(&o).is_ok());

    let with_primes = with(
        &with(&private, CKA_PRIME_1, p.prime_1.to_vec()),
        CKA_PRIME_2,
        p.prime_2.to_vec(),
    );
    assert!(create(&with_primes, false).is_ok());
    let one_prime = with(&private, CKA_PRIME_1, p.prime_1.to_vec());
    assert_eq!(err(create(&one_prime, false)), Error::TemplateInconsistent);
    assert_eq!(
        err(create(&with(&private, CKA_MODULUS_BITS, u(2048)), false)),
        Error::TemplateInconsistent
    );
}

#[test]
fn copy_empty_template_copies_as_is() {
    let o = create(&aes(), false).unwrap();
    let c = copy(&o, &AttrMap::new(), false).unwrap();
    assert_ne!(c.bytes(CKA_UNIQUE_ID), o.bytes(CKA_UNIQUE_ID));
    let strip = |x: &Object| {
        let mut m = x.attrs().clone();
        m.remove(&CKA_UNIQUE_ID);
        m
    };
    assert_eq!(strip(&c), strip(&o));
}

#[test]
fn copy_rules() {
    let o = create(&with(&aes(), CKA_EXTRACTABLE, b(true)), false).unwrap();
    let e = |m: AttrMap| copy(&o, &m, false).unwrap_err();
    let c = copy(
        &o,
        &t(&[
            (CKA_TOKEN, b(true)),
            (CKA_PRIVATE, b(false)),
            (CKA_MODIFIABLE, b(false)),
            (CKA_DESTROYABLE, b(false)),
            (CKA_COPYABLE, b(false)),
            (CKA_LABEL, b"copy".to_vec()),
            (CKA_ID, vec![1]),
            (CKA_EXTRACTABLE, b(false)),
            (CKA_CLASS, u(CKO_SECRET_KEY)),
        ]),
        false,
    )
    .unwrap();
    assert!(c.is_token() && !c.is_private() && !c.is_modifiable() && !c.is_destroyable());
    assert!(!c.is_copyable() && !c.flag(CKA_EXTRACTABLE));
    assert!(!c.flag(CKA_NEVER_EXTRACTABLE), "history carries over");
    assert_eq!(c.bytes(CKA_LABEL), Some(&b"copy"[..]));
    assert_eq!(
        copy(&c, &AttrMap::new(), false).unwrap_err(),
        Error::ActionProhibited
    );

    assert_eq!(
        e(t(&[(CKA_KEY_TYPE, u(CKK_GENERIC_SECRET))])),
        Error::AttributeReadOnly
    );
    assert_eq!(e(t(&[(CKA_VALUE, vec![1; 32])])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_SENSITIVE, b(false))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_LOCAL, b(true))])), Error::AttributeReadOnly);
    assert_eq!(
        e(t(&[(CKA_UNIQUE_ID, b"x".to_vec())])),
        Error::AttributeReadOnly
    );
    assert_eq!(e(t(&[(CKA_TRUSTED, b(true))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_MODULUS, vec![1])])), Error::TemplateInconsistent);
    assert_eq!(e(t(&[(0x7777, vec![1])])), Error::AttributeTypeInvalid);
    assert!(
        copy(&o, &t(&[(CKA_TRUSTED, b(true))]), true)
            .unwrap()
            .flag(CKA_TRUSTED)
    );

    let unextractable = create(&aes(), false).unwrap();
    let r = copy(&unextractable, &t(&[(CKA_EXTRACTABLE, b(true))]), false);
    assert_eq!(r.unwrap_err(), Error::AttributeReadOnly);
    let insensitive = create(&with(&aes(), CKA_SENSITIVE, b(false)), false).unwrap();
    let s = copy(&insensitive, &t(&[(CKA_SENSITIVE, b(true))]), false).unwrap();
    assert!(s.flag(CKA_SENSITIVE) && !s.flag(CKA_ALWAYS_SENSITIVE));
}

#[test]
fn set_attribute_rules() {
    let o = create(&aes(), false).unwrap();
    let e = |m: AttrMap| set_attributes(&o, &m, false).unwrap_err();
    let s = set_attributes(
        &o,
        &t(&[
            (CKA_LABEL, b"l".to_vec()),
            (CKA_ID, vec![9]),
            (CKA_SIGN, b(true)),
            (CKA_END_DATE, b"20301231".to_vec()),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(s.bytes(CKA_ID), Some(&[9u8][..]));
    assert_eq!(s.bytes(CKA_UNIQUE_ID), o.bytes(CKA_UNIQUE_ID));
    assert!(s.flag(CKA_SIGN));
    // Same values are accepted even for read-only attributes.
    assert!(
        set_attributes(
            &o,
            &t(&[(CKA_CLASS, u(CKO_SECRET_KEY)), (CKA_TOKEN, b(false))]),
            false
        )
        .is_ok()
    );

    assert_eq!(e(t(&[(CKA_CLASS, u(CKO_DATA))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_TOKEN, b(true))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_PRIVATE, b(false))])), Error::AttributeReadOnly);
    assert_eq!(
        e(t(&[(CKA_MODIFIABLE, b(false))])),
        Error::AttributeReadOnly
    );
    assert_eq!(e(t(&[(CKA_VALUE_LEN, u(16))])), Error::AttributeReadOnly);
    assert_eq!(
        e(t(&[(CKA_ALWAYS_SENSITIVE, b(true))])),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(t(&[(CKA_KEY_GEN_MECHANISM, u(1))])),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(t(&[(CKA_ALLOWED_MECHANISMS, Vec::new())])),
        Error::AttributeReadOnly
    );
    assert_eq!(e(t(&[(CKA_SENSITIVE, b(false))])), Error::AttributeReadOnly);
    assert_eq!(
        e(t(&[(CKA_EXTRACTABLE, b(true))])),
        Error::AttributeReadOnly
    );
    assert_eq!(e(t(&[(CKA_TRUSTED, b(true))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_MODULUS, vec![1])])), Error::AttributeTypeInvalid);
    assert_eq!(
        e(t(&[(CKA_VENDOR_DEFINED | 5, vec![1])])),
        Error::AttributeTypeInvalid
    );
    assert_eq!(
        e(t(&[(CKA_UNWRAP_TEMPLATE, vec![1])])),
        Error::AttributeValueInvalid
    );
    // No footnote 8: fixed once the key exists.
    assert_eq!(
        e(t(&[(CKA_UNWRAP_TEMPLATE, nested_empty())])),
        Error::AttributeReadOnly
    );
    assert_eq!(
        e(t(&[(CKA_LABEL, b"ok".to_vec()), (CKA_CLASS, u(CKO_DATA))])),
        Error::AttributeReadOnly
    );
    assert!(
        set_attributes(&o, &t(&[(CKA_TRUSTED, b(true))]), true)
            .unwrap()
            .flag(CKA_TRUSTED)
    );

    // One-way flags.
    let open = create(
        &with(
            &with(&aes(), CKA_SENSITIVE, b(false)),
            CKA_EXTRACTABLE,
            b(true),
        ),
        false,
    )
    .unwrap();
    let closed = set_attributes(
        &open,
        &t(&[
            (CKA_SENSITIVE, b(true)),
            (CKA_EXTRACTABLE, b(false)),
            (CKA_WRAP_WITH_TRUSTED, b(true)),
            (CKA_COPYABLE, b(false)),
        ]),
        false,
    )
    .unwrap();
    assert!(closed.flag(CKA_SENSITIVE) && !closed.flag(CKA_EXTRACTABLE) && !closed.is_copyable());
    let back = t(&[(CKA_WRAP_WITH_TRUSTED, b(false))]);
    assert_eq!(
        set_attributes(&closed, &back, false).unwrap_err(),
        Error::AttributeReadOnly
    );
    let back = t(&[(CKA_COPYABLE, b(true))]);
    assert_eq!(
        set_attributes(&closed, &back, false).unwrap_err(),
        Error::AttributeReadOnly
    );

    let frozen = create(&with(&aes(), CKA_MODIFIABLE, b(false)), false).unwrap();
    let r = set_attributes(&frozen, &t(&[(CKA_LABEL, b"x".to_vec())]), false);
    assert_eq!(r.unwrap_err(), Error::ActionProhibited);
}

#[test]
fn set_attributes_on_certificates_and_data() {
    let c = create(&cert(), false).unwrap();
    let nss = CKA_VENDOR_DEFINED | 0x4E53_4350;
    let s = set_attributes(
        &c,
        &t(&[(CKA_ID, vec![1]), (CKA_ISSUER, vec![2]), (nss, vec![3])]),
        false,
    )
    .unwrap();
    assert_eq!(s.bytes(nss), Some(&[3u8][..]));
    let e = |m: AttrMap| set_attributes(&c, &m, false).unwrap_err();
    assert_eq!(e(t(&[(CKA_SUBJECT, vec![1])])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_VALUE, vec![1])])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_TRUSTED, b(true))])), Error::AttributeReadOnly);
    assert_eq!(e(t(&[(CKA_SIGN, b(true))])), Error::AttributeTypeInvalid);
    assert!(
        set_attributes(&c, &t(&[(CKA_TRUSTED, b(true))]), true)
            .unwrap()
            .flag(CKA_TRUSTED)
    );

    let d = create(&data(), false).unwrap();
    let s = set_attributes(
        &d,
        &t(&[
            (CKA_VALUE, b"bye".to_vec()),
            (CKA_APPLICATION, b"app".to_vec()),
        ]),
        false,
    );
    assert_eq!(s.unwrap().bytes(CKA_VALUE), Some(&b"bye"[..]));
}

#[test]
fn key_material_by_class() {
    assert_eq!(
        key_material(&create(&data(), false).unwrap()).unwrap_err(),
        Error::KeyTypeInconsistent
    );
    assert_eq!(
        key_material(&create(&cert(), false).unwrap()).unwrap_err(),
        Error::KeyTypeInconsistent
    );
    let key = key_material(&create(&aes(), false).unwrap()).unwrap();
    assert_eq!(key.key_type(), CKK_AES);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

/// RFC 8032 §7.1 test 1 and RFC 7748 §6.1 (Alice): (private, public).
fn rfc_keys(key_type: CK_KEY_TYPE) -> (Vec<u8>, Vec<u8>) {
    if key_type == CKK_EC_EDWARDS {
        (
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        )
    } else {
        (
            hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
        )
    }
}

#[test]
fn edwards_and_montgomery_import() {
    for (kt, params) in [(CKK_EC_EDWARDS, ED25519), (CKK_EC_MONTGOMERY, X25519)] {
        let (private, public) = rfc_keys(kt);
        let mut der_point = vec![0x04, 32];
        der_point.extend_from_slice(&public);
        let tpl = t(&[
            (CKA_CLASS, u(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, u(kt)),
            (CKA_EC_PARAMS, params.to_vec()),
            (CKA_VALUE, private),
        ]);
        let s = create(&tpl, false).unwrap();
        assert_eq!(s.bytes(CKA_EC_POINT), Some(der_point.as_slice()));
        assert!(!s.bytes(CKA_PUBLIC_KEY_INFO).unwrap().is_empty());
        assert!(s.read(CKA_VALUE) == AttrRead::Sensitive);
        let edwards = kt == CKK_EC_EDWARDS;
        assert_eq!(s.flag(CKA_SIGN), edwards);
        assert_eq!(s.flag(CKA_DERIVE), !edwards);
        assert!(!s.flag(CKA_DECRYPT) && !s.flag(CKA_UNWRAP));
        assert_eq!(key_material(&s).unwrap().key_type(), kt);
        // The public point may be repeated, raw or DER; not contradicted.
        assert!(create(&with(&tpl, CKA_EC_POINT, public.clone()), false).is_ok());
        assert!(create(&with(&tpl, CKA_EC_POINT, der_point.clone()), false).is_ok());
        assert_eq!(
            err(create(&with(&tpl, CKA_EC_POINT, vec![9; 32]), false)),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            err(create(&without(&tpl, CKA_EC_PARAMS), false)),
            Error::TemplateIncomplete
        );
        // A curve the key type does not support (as an unknown EC curve).
        assert_eq!(
            err(create(&with(&tpl, CKA_EC_PARAMS, P256.to_vec()), false)),
            Error::CurveNotSupported
        );
        assert_eq!(
            err(create(&with(&tpl, CKA_MODULUS, vec![1]), false)),
            Error::TemplateInconsistent
        );

        let public_tpl = t(&[
            (CKA_CLASS, u(CKO_PUBLIC_KEY)),
            (CKA_KEY_TYPE, u(kt)),
            (CKA_EC_PARAMS, params.to_vec()),
            (CKA_EC_POINT, public),
        ]);
        let p = create(&public_tpl, false).unwrap();
        assert_eq!(p.bytes(CKA_EC_POINT), Some(der_point.as_slice()));
        assert_eq!(p.bytes(CKA_PUBLIC_KEY_INFO), s.bytes(CKA_PUBLIC_KEY_INFO));
        assert_eq!(p.flag(CKA_VERIFY), edwards);
        assert!(!p.flag(CKA_DERIVE) && !p.flag(CKA_ENCRYPT) && !p.has_secret());
        assert_eq!(key_material(&p).unwrap().key_type(), kt);
        assert_eq!(
            err(create(&without(&public_tpl, CKA_EC_POINT), false)),
            Error::TemplateIncomplete
        );
    }
}

#[test]
fn p521_import() {
    let p521 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    let parts = generate_ec(&p521).unwrap();
    let tpl = t(&[
        (CKA_CLASS, u(CKO_PRIVATE_KEY)),
        (CKA_KEY_TYPE, u(CKK_EC)),
        (CKA_EC_PARAMS, p521.to_vec()),
        (CKA_VALUE, parts.private_value.to_vec()),
    ]);
    let o = create(&tpl, false).unwrap();
    assert_eq!(o.bytes(CKA_EC_POINT), Some(parts.ec_point_der.as_slice()));
    assert!(o.flag(CKA_SIGN) && o.flag(CKA_DERIVE));
    assert_eq!(key_material(&o).unwrap().bits(), 521);
}

#[test]
fn hkdf_and_hmac_secret_import() {
    for kt in [
        CKK_HKDF,
        CKK_SHA_1_HMAC,
        CKK_SHA256_HMAC,
        CKK_SHA3_224_HMAC,
        CKK_SHA3_256_HMAC,
        CKK_SHA3_384_HMAC,
        CKK_SHA3_512_HMAC,
    ] {
        let tpl = t(&[
            (CKA_CLASS, u(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, u(kt)),
            (CKA_VALUE, vec![5; 40]),
        ]);
        let o = create(&tpl, false).unwrap();
        assert_eq!(o.ulong(CKA_VALUE_LEN), Some(40));
        let hkdf = kt == CKK_HKDF;
        assert_eq!(o.flag(CKA_DERIVE), hkdf);
        assert_eq!(o.flag(CKA_SIGN) && o.flag(CKA_VERIFY), !hkdf);
        assert!(!o.flag(CKA_ENCRYPT) && !o.flag(CKA_WRAP));
        assert_eq!(key_material(&o).unwrap().key_type(), kt);
        assert_eq!(
            err(create(&with(&tpl, CKA_VALUE, Vec::new()), false)),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            err(create(&with(&tpl, CKA_VALUE, vec![1; 4097]), false)),
            Error::AttributeValueInvalid
        );
    }
}
