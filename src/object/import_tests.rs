//! Tests of `import.rs`: OpenSSL-written keys and certificates go through
//! `parse_import`, `Library::create_object` and a signature or key
//! agreement made and checked by the library; every refusal has its error.

use cryptoki_sys::*;

use super::fixtures::{self, Fixture};
use super::*;
use crate::api::{AttrRead, Library, Mech, Out, OutCap, RawParam};
use crate::config::Config;
use crate::error::Error;
use crate::test_util::unhex;

const SO_PIN: &[u8] = b"so-pin-1";
const USER_PIN: &[u8] = b"user-pin-1";

fn library(dir: &std::path::Path) -> Library {
    let config = Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.to_path_buf())).unwrap();
    Library::new(config).unwrap()
}

/// An initialized token and a R/W session logged in as the user.
fn ready(lib: &Library) -> CK_SESSION_HANDLE {
    let mut label = [b' '; 32];
    label[0] = b't';
    lib.init_token(0, SO_PIN, &label).unwrap();
    let h = lib
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    lib.login(h, CKU_SO, SO_PIN).unwrap();
    lib.init_pin(h, USER_PIN).unwrap();
    lib.logout(h).unwrap();
    lib.login(h, CKU_USER, USER_PIN).unwrap();
    h
}

fn flag(ty: CK_ATTRIBUTE_TYPE) -> Attr {
    Attr {
        ty,
        value: vec![CK_TRUE],
    }
}

/// A template with usage flags added, as the CLI will.
fn with(attrs: &[Attr], flags: &[CK_ATTRIBUTE_TYPE]) -> Vec<Attr> {
    let mut out = attrs.to_vec();
    out.extend(flags.iter().map(|ty| flag(*ty)));
    out
}

fn value(attrs: &[Attr], ty: CK_ATTRIBUTE_TYPE) -> &[u8] {
    &attrs.iter().find(|a| a.ty == ty).unwrap().value
}

fn types(attrs: &[Attr]) -> Vec<CK_ATTRIBUTE_TYPE> {
    attrs.iter().map(|a| a.ty).collect()
}

fn pair(pem: &str) -> (Vec<Attr>, Vec<Attr>) {
    match &parse_import(pem.as_bytes()).unwrap() {
        Imported::KeyPair { private, public } => (private.clone(), public.clone()),
        other => panic!("not a key pair: {other:?}"),
    }
}

fn public(input: &[u8]) -> Vec<Attr> {
    match &parse_import(input).unwrap() {
        Imported::PublicKey(attrs) => attrs.clone(),
        other => panic!("not a public key: {other:?}"),
    }
}

fn certificate(input: &[u8]) -> Vec<Attr> {
    match &parse_import(input).unwrap() {
        Imported::Certificate(attrs) => attrs.clone(),
        other => panic!("not a certificate: {other:?}"),
    }
}

fn der(pem: &str) -> Vec<u8> {
    pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1
}

fn read(
    lib: &Library,
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> Vec<u8> {
    match lib.attribute_values(h, obj, &[ty]).unwrap().pop().unwrap() {
        AttrRead::Value(v) => v,
        _ => panic!("{ty:#x} not readable"),
    }
}

fn sign(
    lib: &Library,
    h: CK_SESSION_HANDLE,
    mech: &Mech,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Vec<u8> {
    lib.sign_init(h, Some(mech), key).unwrap();
    match lib.sign(h, data, OutCap::Cap(1024)).unwrap() {
        Out::Data(sig) => sig,
        Out::Len(n) => panic!("signature needs {n} bytes"),
    }
}

fn verify(
    lib: &Library,
    h: CK_SESSION_HANDLE,
    mech: &Mech,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> Result<(), Error> {
    lib.verify_init(h, Some(mech), key)?;
    lib.verify(h, data, sig)
}

/// Each signing key, imported from OpenSSL's PKCS#8, signs through the
/// library; the public key imported from OpenSSL's "PUBLIC KEY" file
/// verifies, and refuses a changed message.
#[test]
fn imported_keys_sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = ready(&lib);
    let cases = [
        (fixtures::RSA, CKM_SHA256_RSA_PKCS, CKK_RSA),
        (fixtures::P256, CKM_ECDSA_SHA256, CKK_EC),
        (fixtures::P384, CKM_ECDSA_SHA384, CKK_EC),
        (fixtures::P521, CKM_ECDSA_SHA512, CKK_EC),
        (fixtures::ED25519, CKM_EDDSA, CKK_EC_EDWARDS),
    ];
    for (fx, mech, key_type) in cases {
        let name = fx.name;
        let (private, pair_public) = pair(fx.private_pem);
        let file_public = public(fx.public_pem.as_bytes());
        assert_eq!(file_public, pair_public, "{name}");
        assert_eq!(
            value(&private, CKA_KEY_TYPE),
            key_type.to_ne_bytes(),
            "{name}"
        );
        let priv_h = lib.create_object(h, &with(&private, &[CKA_SIGN])).unwrap();
        let pub_h = lib
            .create_object(h, &with(&file_public, &[CKA_VERIFY]))
            .unwrap();
        let mech = Mech {
            ty: mech,
            param: RawParam::None,
        };
        let sig = sign(&lib, h, &mech, priv_h, b"imported");
        assert_eq!(
            verify(&lib, h, &mech, pub_h, b"imported", &sig),
            Ok(()),
            "{name}"
        );
        assert_eq!(
            verify(&lib, h, &mech, pub_h, b"imported!", &sig),
            Err(Error::SignatureInvalid),
            "{name}"
        );
        // The token filled the private key's public half from the key.
        assert_eq!(
            read(&lib, h, priv_h, CKA_PUBLIC_KEY_INFO),
            unhex(fx.spki_hex),
            "{name}"
        );
    }
}

/// Two X25519 key pairs from OpenSSL agree through CKM_ECDH1_DERIVE, each
/// private key with the other's imported public key.
#[test]
fn imported_x25519_keys_agree() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = ready(&lib);
    let (a_private, _) = pair(fixtures::X25519.private_pem);
    let (b_private, _) = pair(fixtures::X25519_B.private_pem);
    let a_public = public(fixtures::X25519.public_pem.as_bytes());
    let b_public = public(fixtures::X25519_B.public_pem.as_bytes());
    let secret = |private: &[Attr], peer: &[Attr]| {
        let base = lib.create_object(h, &with(private, &[CKA_DERIVE])).unwrap();
        let point = value(peer, CKA_EC_POINT);
        assert_eq!(&point[..2], &[0x04, 0x20]);
        let mech = Mech {
            ty: CKM_ECDH1_DERIVE,
            param: RawParam::Ecdh {
                kdf: CKD_NULL,
                shared_data: Vec::new(),
                public_data: point[2..].to_vec(),
            },
        };
        let template = [
            Attr {
                ty: CKA_CLASS,
                value: CKO_SECRET_KEY.to_ne_bytes().to_vec(),
            },
            Attr {
                ty: CKA_KEY_TYPE,
                value: CKK_GENERIC_SECRET.to_ne_bytes().to_vec(),
            },
            Attr {
                ty: CKA_SENSITIVE,
                value: vec![CK_FALSE],
            },
            flag(CKA_EXTRACTABLE),
        ];
        let k = lib.derive_key(h, &mech, base, &template).unwrap();
        read(&lib, h, k, CKA_VALUE)
    };
    let ab = secret(&a_private, &b_public);
    let ba = secret(&b_private, &a_public);
    assert_eq!(ab.len(), 32);
    assert_eq!(ab, ba);
    assert_ne!(ab, secret(&a_private, &a_public));
}

/// Templates hold the class, type, CKA_TOKEN and the material, nothing the
/// caller chooses; EC parameters are DER OIDs, points DER OCTET STRINGs.
#[test]
fn template_contents() {
    let (private, public) = pair(fixtures::RSA.private_pem);
    assert_eq!(
        types(&private),
        vec![
            CKA_CLASS,
            CKA_KEY_TYPE,
            CKA_TOKEN,
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT,
            CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ]
    );
    assert_eq!(value(&private, CKA_CLASS), CKO_PRIVATE_KEY.to_ne_bytes());
    assert_eq!(value(&private, CKA_TOKEN), [CK_TRUE]);
    assert_eq!(
        types(&public),
        vec![
            CKA_CLASS,
            CKA_KEY_TYPE,
            CKA_TOKEN,
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT
        ]
    );
    assert_eq!(value(&public, CKA_CLASS), CKO_PUBLIC_KEY.to_ne_bytes());
    assert_eq!(value(&public, CKA_PUBLIC_EXPONENT), [1, 0, 1]);
    assert_eq!(value(&public, CKA_MODULUS).len(), 256);
    assert_eq!(value(&public, CKA_MODULUS), value(&private, CKA_MODULUS));

    // (key, CKA_EC_PARAMS, CKA_VALUE length, raw public key length)
    let cases: [(Fixture, &str, usize, usize); 4] = [
        (fixtures::P384, "06052b81040022", 48, 97),
        (fixtures::P521, "06052b81040023", 66, 133),
        (fixtures::ED25519, "06032b6570", 32, 32),
        (fixtures::X25519, "06032b656e", 32, 32),
    ];
    for (fx, params, scalar_len, point_len) in cases {
        let name = fx.name;
        let (private, public) = pair(fx.private_pem);
        assert_eq!(
            types(&private),
            vec![CKA_CLASS, CKA_KEY_TYPE, CKA_TOKEN, CKA_EC_PARAMS, CKA_VALUE]
        );
        assert_eq!(value(&private, CKA_EC_PARAMS), unhex(params), "{name}");
        assert_eq!(value(&private, CKA_VALUE).len(), scalar_len, "{name}");
        assert_eq!(
            types(&public),
            vec![
                CKA_CLASS,
                CKA_KEY_TYPE,
                CKA_TOKEN,
                CKA_EC_PARAMS,
                CKA_EC_POINT
            ]
        );
        assert_eq!(value(&public, CKA_EC_PARAMS), unhex(params), "{name}");
        // A DER OCTET STRING around the key the SPKI's BIT STRING ends with.
        let point = value(&public, CKA_EC_POINT);
        let (header, raw) = point.split_at(point.len() - point_len);
        assert_eq!(header[0], 0x04, "{name}");
        assert_eq!(usize::from(header[header.len() - 1]), point_len, "{name}");
        assert!(unhex(fx.spki_hex).ends_with(raw), "{name}");
    }
}

/// OpenSSL's traditional forms give the same templates as its PKCS#8;
/// DER gives the same as PEM; CRLF line ends and text around the block
/// are accepted.
#[test]
fn other_encodings_give_the_same_templates() {
    assert_eq!(
        pair(fixtures::RSA_TRADITIONAL),
        pair(fixtures::RSA.private_pem)
    );
    assert_eq!(
        pair(fixtures::P256_TRADITIONAL),
        pair(fixtures::P256.private_pem)
    );
    for fx in fixtures::KEYS {
        let from_der = match &parse_import(&der(fx.private_pem)).unwrap() {
            Imported::KeyPair { private, public } => (private.clone(), public.clone()),
            _ => panic!("{}", fx.name),
        };
        assert_eq!(from_der, pair(fx.private_pem), "{}", fx.name);
        assert_eq!(
            public(&unhex(fx.spki_hex)),
            public(fx.public_pem.as_bytes())
        );
    }
    assert_eq!(
        pair(&format!(
            "Key for the test\r\n{}",
            fixtures::P384.private_pem.replace('\n', "\r\n")
        )),
        pair(fixtures::P384.private_pem)
    );
    assert_eq!(
        pair(&fixtures::RSA_TRADITIONAL.replace('\n', "\r\n")),
        pair(fixtures::RSA.private_pem)
    );
    assert_eq!(
        certificate(&der(fixtures::LEAF_CERT)),
        certificate(fixtures::LEAF_CERT.as_bytes())
    );
    // `openssl ecparam -genkey`: the EC PARAMETERS block is skipped.
    let (_, ecparam_public) = pair(fixtures::P256_ECPARAM);
    let template = crate::object::parse_template(&ecparam_public).unwrap();
    let obj = crate::object::create(&template, false).unwrap();
    assert_eq!(
        crate::object::spki::public_key_spki(&obj).unwrap(),
        unhex(fixtures::P256_ECPARAM_SPKI_HEX)
    );
    // A PKCS#1 RSAPublicKey, in DER.
    let (_, rsa_public) = pair(fixtures::RSA.private_pem);
    let spki = unhex(fixtures::RSA.spki_hex);
    // SPKI header (4) + AlgorithmIdentifier (15) + BIT STRING header (4) + unused-bits byte.
    let pkcs1 = &spki[24..];
    assert_eq!(public(pkcs1), rsa_public);
}

/// Subject, issuer and serial number are what `openssl x509` reports;
/// the serial number is the DER INTEGER, with its leading zero.
#[test]
fn certificates() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let h = ready(&lib);
    let leaf = certificate(fixtures::LEAF_CERT.as_bytes());
    assert_eq!(
        types(&leaf),
        vec![
            CKA_CLASS,
            CKA_CERTIFICATE_TYPE,
            CKA_TOKEN,
            CKA_VALUE,
            CKA_SUBJECT,
            CKA_ISSUER,
            CKA_SERIAL_NUMBER
        ]
    );
    assert_eq!(value(&leaf, CKA_CLASS), CKO_CERTIFICATE.to_ne_bytes());
    assert_eq!(value(&leaf, CKA_CERTIFICATE_TYPE), CKC_X_509.to_ne_bytes());
    let mut serial = vec![0x02, 0x09, 0x00];
    serial.extend(unhex(fixtures::LEAF_SERIAL));
    let handle = lib.create_object(h, &leaf).unwrap();
    assert_eq!(read(&lib, h, handle, CKA_SERIAL_NUMBER), serial);
    assert_eq!(
        read(&lib, h, handle, CKA_SUBJECT),
        unhex(fixtures::LEAF_SUBJECT_HEX)
    );
    assert_eq!(
        read(&lib, h, handle, CKA_ISSUER),
        unhex(fixtures::LEAF_ISSUER_HEX)
    );
    assert_eq!(read(&lib, h, handle, CKA_VALUE), der(fixtures::LEAF_CERT));

    // A v3 certificate (with the [0] version), self-signed.
    let ca = certificate(fixtures::CA_CERT.as_bytes());
    let mut serial = vec![0x02, 0x01];
    serial.extend(unhex(fixtures::CA_SERIAL));
    assert_eq!(value(&ca, CKA_SERIAL_NUMBER), serial);
    assert_eq!(value(&ca, CKA_SUBJECT), value(&ca, CKA_ISSUER));
    assert_eq!(value(&ca, CKA_SUBJECT), unhex(fixtures::LEAF_ISSUER_HEX));
    lib.create_object(h, &ca).unwrap();

    // The key inside matches the key pair it was made for.
    let (_, p256) = pair(fixtures::P256.private_pem);
    let (_, p384) = pair(fixtures::P384.private_pem);
    assert_eq!(
        certificate_public_key(&der(fixtures::LEAF_CERT)).unwrap(),
        p256
    );
    assert_eq!(
        certificate_public_key(&der(fixtures::CA_CERT)).unwrap(),
        p384
    );
    assert_eq!(
        certificate_public_key(&unhex(fixtures::P256.spki_hex)).unwrap_err(),
        ImportError::Malformed("certificate")
    );
}

/// A PrivateKeyInfo naming DSA (1.2.840.10040.4.1), an algorithm we do
/// not offer; the algorithm is refused before the key is read.
const DSA_PKCS8: &str = "3013020100300906072a8648ce3804010403020101";

/// OpenSSL's Ed448 PKCS#8 imports as an Ed448 pair; its public key is the
/// one pyca/cryptography (OpenSSL) computes from the same file.
#[test]
fn ed448_pkcs8_imports() {
    let (private, public) = pair(fixtures::ED448);
    let ed448_oid = [0x06, 0x03, 0x2b, 0x65, 0x71];
    for attrs in [&private, &public] {
        assert_eq!(value(attrs, CKA_KEY_TYPE), CKK_EC_EDWARDS.to_ne_bytes());
        assert_eq!(value(attrs, CKA_EC_PARAMS), ed448_oid);
    }
    let point = "7181301a552b6db807b0982b4e1f3158211e22c1a6b4b8646ad1d71da381b9d4\
                 6994ab519651f9749e041d11f4eccdbc0d9d7a5f69d13d6780";
    assert_eq!(value(&public, CKA_EC_POINT), unhex(&format!("0439{point}")));
    assert_eq!(value(&private, CKA_VALUE).len(), 57);
}

fn refusal(input: &[u8]) -> ImportError {
    parse_import(input).unwrap_err()
}

#[test]
fn refusals() {
    // Garbage.
    for garbage in [&b""[..], b"hello world", &[0xff, 0xfe, 0x00], b"-----BEGIN"] {
        assert_eq!(refusal(garbage), ImportError::NotRecognized);
    }
    // DER that is not one of our structures: a SEQUENCE of two NULLs.
    assert_eq!(
        refusal(&[0x30, 0x04, 0x05, 0x00, 0x05, 0x00]),
        ImportError::NotRecognized
    );
    // Truncated DER and PEM.
    let pkcs8 = der(fixtures::P256.private_pem);
    assert_eq!(
        refusal(&pkcs8[..pkcs8.len() - 1]),
        ImportError::Malformed("DER (truncated or corrupt)")
    );
    let cert = der(fixtures::LEAF_CERT);
    assert_eq!(
        refusal(&cert[..100]),
        ImportError::Malformed("DER (truncated or corrupt)")
    );
    let pem = fixtures::RSA.private_pem;
    assert_eq!(
        refusal(&pem.as_bytes()[..pem.len() / 2]),
        ImportError::Malformed("PEM")
    );
    let mut lines: Vec<&str> = pem.lines().collect();
    lines.remove(5);
    assert_eq!(
        refusal(lines.join("\n").as_bytes()),
        ImportError::Malformed("PKCS#8 private key")
    );
    // Encrypted keys.
    assert_eq!(
        refusal(fixtures::P256_ENCRYPTED.as_bytes()),
        ImportError::EncryptedPkcs8
    );
    assert_eq!(
        refusal(&der(fixtures::P256_ENCRYPTED)),
        ImportError::EncryptedPkcs8
    );
    assert_eq!(
        refusal(fixtures::P384_ENCRYPTED_PEM.as_bytes()),
        ImportError::EncryptedPem
    );
    // Curves and algorithms we do not offer.
    let k1 = ImportError::UnsupportedCurve("1.3.132.0.10 (secp256k1)".into());
    assert_eq!(refusal(fixtures::SECP256K1.as_bytes()), k1);
    assert_eq!(refusal(fixtures::SECP256K1_PUBLIC.as_bytes()), k1);
    assert_eq!(
        refusal(&unhex(DSA_PKCS8)),
        ImportError::UnsupportedAlgorithm("1.2.840.10040.4.1 (DSA)".into())
    );
    assert_eq!(
        refusal(b"-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"),
        ImportError::UnsupportedPem("CERTIFICATE REQUEST".into())
    );
    // Well formed, but not a key: a P-256 point off the curve.
    let mut spki = unhex(fixtures::P256.spki_hex);
    let last = spki.len() - 1;
    spki[last] ^= 1;
    assert_eq!(refusal(&spki), ImportError::InvalidKey);
}

#[test]
fn messages() {
    assert_eq!(
        ImportError::EncryptedPkcs8.to_string(),
        "encrypted PKCS#8 keys are not supported; decrypt with `openssl pkey` first"
    );
    assert_eq!(
        ImportError::NotRecognized.to_string(),
        "not a PEM or DER key or certificate"
    );
    assert!(
        refusal(&unhex(DSA_PKCS8))
            .to_string()
            .starts_with("unsupported key algorithm 1.2.840.10040.4.1 (DSA)")
    );
    assert!(
        refusal(fixtures::SECP256K1.as_bytes())
            .to_string()
            .contains("secp256k1")
    );
    // Debug output of a template names types and lengths only.
    let imported = parse_import(fixtures::P256.private_pem.as_bytes()).unwrap();
    let (private, _) = pair(fixtures::P256.private_pem);
    let scalar = value(&private, CKA_VALUE);
    let debug = format!("{imported:?}");
    assert!(debug.contains("32 bytes"));
    assert!(!debug.contains(format!("{:?}", &scalar[..4]).trim_end_matches(']')));
}
