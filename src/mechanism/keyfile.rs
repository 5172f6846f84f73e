//! Key and certificate files as OpenSSL writes them, PEM or DER: PKCS#8,
//! PKCS#1 and SEC1 private keys, SubjectPublicKeyInfo and PKCS#1 public
//! keys, X.509 certificates. They become typed [`Key`]s (so every key is
//! checked by the same constructors C_CreateObject uses) and the DER pieces
//! of a certificate PKCS#11 stores; `object::import` makes the templates.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use pkcs8::PrivateKeyInfoRef;
use rsa::pkcs1::{RsaPrivateKeyRef, RsaPublicKeyRef};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use super::curve448::Alg448;
use super::curve25519::Alg25519;
use super::keys::{Curve, Key};

/// rsaEncryption (PKCS#1).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";
const CORRUPT_DER: &str = "DER (truncated or corrupt)";

/// Why a file could not be imported. Messages are meant for the CLI's
/// user and never contain key bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// Neither PEM nor a DER structure we know.
    NotRecognized,
    /// A PEM block or DER structure that does not parse; names what.
    Malformed(&'static str),
    /// "ENCRYPTED PRIVATE KEY" (PKCS#8 EncryptedPrivateKeyInfo).
    EncryptedPkcs8,
    /// A traditional PEM key with Proc-Type/DEK-Info encryption headers.
    EncryptedPem,
    /// A PEM label we do not read.
    UnsupportedPem(String),
    /// A key algorithm we do not hold: its OID, and name if known.
    UnsupportedAlgorithm(String),
    /// An EC key on a curve we do not offer: its OID, and name if known.
    UnsupportedCurve(String),
    /// The structure is fine but the key is not acceptable (a point off
    /// the curve, an RSA modulus outside 1024–8192 bits, more than two
    /// primes, a public key that does not match the private one).
    InvalidKey,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::NotRecognized => f.write_str("not a PEM or DER key or certificate"),
            ImportError::Malformed(what) => write!(f, "malformed {what}"),
            ImportError::EncryptedPkcs8 => f.write_str(
                "encrypted PKCS#8 keys are not supported; decrypt with `openssl pkey` first",
            ),
            ImportError::EncryptedPem => f.write_str(
                "encrypted PEM keys are not supported; decrypt with `openssl pkey` first",
            ),
            ImportError::UnsupportedPem(label) => write!(
                f,
                "unsupported PEM type \"{label}\" (expected a private key, public key or certificate)"
            ),
            ImportError::UnsupportedAlgorithm(oid) => write!(
                f,
                "unsupported key algorithm {oid} (RSA, EC, Ed25519, X25519, Ed448 and X448 are supported)"
            ),
            ImportError::UnsupportedCurve(curve) => write!(
                f,
                "unsupported elliptic curve {curve} (P-256, P-384 and P-521 are supported)"
            ),
            ImportError::InvalidKey => f.write_str(
                "invalid key: not consistent, or outside what the token holds \
                 (RSA: two primes, 1024 to 8192 bits)",
            ),
        }
    }
}

impl std::error::Error for ImportError {}

/// What a key or certificate file held.
#[derive(Debug)]
pub enum KeyFile {
    Private(Key),
    Public(Key),
    Certificate(CertificateFields),
}

/// The DER pieces of an X.509 certificate that PKCS#11 stores: the whole
/// certificate, the subject and issuer Names, the serialNumber INTEGER
/// (tag and length included, as NSS and pkcs11-tool store it) and the
/// SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFields {
    pub value: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    pub serial_number: Vec<u8>,
    pub public_key_info: Vec<u8>,
}

/// The key algorithms we hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Rsa,
    Ec(Curve),
    Curve25519(Alg25519),
    Curve448(Alg448),
}

/// The DER structure a file holds, told apart by the tags of the outer
/// SEQUENCE's first elements (no two of these formats share them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Pkcs8,
    EncryptedPkcs8,
    RsaPrivate,
    RsaPublic,
    Sec1,
    Spki,
    Certificate,
}

/// Reads a PEM or DER key or certificate. In PEM, the first block that is
/// not "EC PARAMETERS" (which `openssl ecparam -genkey` writes before the
/// key) is read; text around the blocks is ignored.
pub fn read_key_file(bytes: &[u8]) -> Result<KeyFile, ImportError> {
    // DER always starts with a SEQUENCE; PEM text may too ('0' is 0x30),
    // so a SEQUENCE that does not parse is tried as PEM before it is
    // called corrupt DER.
    let starts_der = bytes.first() == Some(&0x30);
    if starts_der && sequence(bytes).is_ok() {
        return read_shape(sniff(bytes)?, bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains(BEGIN) => read_pem(text),
        _ if starts_der => Err(ImportError::Malformed(CORRUPT_DER)),
        _ => Err(ImportError::NotRecognized),
    }
}

fn read_pem(text: &str) -> Result<KeyFile, ImportError> {
    let bad = ImportError::Malformed("PEM");
    let mut rest = text;
    loop {
        let start = rest.find(BEGIN).ok_or(ImportError::NotRecognized)?;
        let block = rest.get(start..).ok_or(bad.clone())?;
        let (label, _) = block
            .get(BEGIN.len()..)
            .and_then(|s| s.split_once(DASHES))
            .ok_or(bad.clone())?;
        let end_marker = format!("-----END {label}{DASHES}");
        let end = block
            .find(&end_marker)
            .and_then(|i| i.checked_add(end_marker.len()))
            .ok_or(bad.clone())?;
        let (block, after) = block.split_at_checked(end).ok_or(bad.clone())?;
        if label == "EC PARAMETERS" {
            rest = after;
            continue;
        }
        // RFC 1421 headers only appear on OpenSSL's encrypted legacy keys.
        if block.contains("Proc-Type:") || block.contains("DEK-Info:") {
            return Err(ImportError::EncryptedPem);
        }
        let der = pem_decode(block)?;
        return read_labelled(label, &der);
    }
}

/// Decodes one PEM block into a buffer that is wiped on drop.
fn pem_decode(block: &str) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let bad = ImportError::Malformed("PEM");
    let mut decoder =
        pem_rfc7468::Decoder::new_detect_wrap(block.as_bytes()).map_err(|_| bad.clone())?;
    let mut der = Zeroizing::new(vec![0u8; decoder.remaining_len()]);
    let len = decoder.decode(&mut der).map_err(|_| bad.clone())?.len();
    if len != der.len() || !decoder.is_finished() {
        return Err(bad);
    }
    Ok(der)
}

fn read_labelled(label: &str, der: &[u8]) -> Result<KeyFile, ImportError> {
    let shape = match label {
        "PRIVATE KEY" => Shape::Pkcs8,
        "ENCRYPTED PRIVATE KEY" => Shape::EncryptedPkcs8,
        "RSA PRIVATE KEY" => Shape::RsaPrivate,
        "RSA PUBLIC KEY" => Shape::RsaPublic,
        "EC PRIVATE KEY" => Shape::Sec1,
        "PUBLIC KEY" => Shape::Spki,
        "CERTIFICATE" | "X509 CERTIFICATE" => Shape::Certificate,
        other => return Err(ImportError::UnsupportedPem(printable(other))),
    };
    read_shape(shape, der)
}

fn read_shape(shape: Shape, der: &[u8]) -> Result<KeyFile, ImportError> {
    match shape {
        Shape::Pkcs8 => private_pkcs8(der).map(KeyFile::Private),
        Shape::EncryptedPkcs8 => Err(ImportError::EncryptedPkcs8),
        Shape::RsaPrivate => private_pkcs1(der).map(KeyFile::Private),
        Shape::RsaPublic => public_pkcs1(der).map(KeyFile::Public),
        Shape::Sec1 => private_sec1(der).map(KeyFile::Private),
        Shape::Spki => public_key(der).map(KeyFile::Public),
        Shape::Certificate => certificate(der).map(KeyFile::Certificate),
    }
}

/// A label for a message: printable ASCII only, and not too long.
fn printable(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}

/// The elements of a constructed value's contents: (tag, whole TLV).
fn elements(contents: &[u8]) -> der::Result<Vec<(Tag, &[u8])>> {
    let mut reader = SliceReader::new(contents)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let tag = Tag::peek(&reader)?;
        out.push((tag, reader.tlv_bytes()?));
    }
    Ok(out)
}

/// The elements of a DER SEQUENCE that is the whole of `der`.
fn sequence(der: &[u8]) -> der::Result<Vec<(Tag, &[u8])>> {
    let any = AnyRef::from_der(der)?;
    any.tag().assert_eq(Tag::Sequence)?;
    elements(any.value())
}

fn sniff(der: &[u8]) -> Result<Shape, ImportError> {
    let items = sequence(der).map_err(|_| ImportError::Malformed(CORRUPT_DER))?;
    let first = items.first().map(|(t, _)| *t);
    let second = items.get(1).map(|(t, _)| *t);
    Ok(match (first, second, items.len()) {
        (Some(Tag::Integer), Some(Tag::Sequence), _) => Shape::Pkcs8,
        // RSAPublicKey is (n, e); RSAPrivateKey starts (version, n, ...).
        (Some(Tag::Integer), Some(Tag::Integer), 2) => Shape::RsaPublic,
        (Some(Tag::Integer), Some(Tag::Integer), _) => Shape::RsaPrivate,
        (Some(Tag::Integer), Some(Tag::OctetString), _) => Shape::Sec1,
        (Some(Tag::Sequence), Some(Tag::BitString), 2) => Shape::Spki,
        (Some(Tag::Sequence), Some(Tag::OctetString), 2) => Shape::EncryptedPkcs8,
        (Some(Tag::Sequence), Some(Tag::Sequence), 3) => Shape::Certificate,
        _ => return Err(ImportError::NotRecognized),
    })
}

/// Names for the OIDs people are likely to try, so a refusal says what
/// was refused.
fn oid_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    Some(match oid.to_string().as_str() {
        "1.3.132.0.10" => "secp256k1",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        "1.2.156.10197.1.301" => "SM2",
        "1.3.101.111" => "X448",
        "1.3.101.113" => "Ed448",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.113549.1.3.1" => "DH",
        "1.2.840.10046.2.1" => "X9.42 DH",
        _ => return None,
    })
}

fn describe(oid: &ObjectIdentifier) -> String {
    match oid_name(oid) {
        Some(name) => format!("{oid} ({name})"),
        None => oid.to_string(),
    }
}

/// The algorithm of a key's AlgorithmIdentifier, or why we refuse it.
fn algorithm(alg: &AlgorithmIdentifierRef<'_>) -> Result<Algorithm, ImportError> {
    if alg.oid == RSA_ENCRYPTION {
        return Ok(Algorithm::Rsa);
    }
    if alg.oid == EC_PUBLIC_KEY {
        let params = alg
            .parameters
            .ok_or(ImportError::UnsupportedCurve("no curve named".into()))?;
        if params.tag() != Tag::ObjectIdentifier {
            return Err(ImportError::UnsupportedCurve("explicit parameters".into()));
        }
        let curve = alg
            .parameters_oid()
            .map_err(|_| ImportError::Malformed("EC key parameters"))?;
        let curve_der = curve
            .to_der()
            .map_err(|_| ImportError::Malformed("EC key parameters"))?;
        return Curve::from_ec_params(&curve_der)
            .map(Algorithm::Ec)
            .map_err(|_| ImportError::UnsupportedCurve(describe(&curve)));
    }
    let oid_der = alg
        .oid
        .to_der()
        .map_err(|_| ImportError::Malformed("key algorithm"))?;
    if let Some(a) = Alg448::from_oid_der(&oid_der) {
        // RFC 8410 §3: the parameters must be absent.
        return if alg.parameters.is_some() {
            Err(ImportError::Malformed("key algorithm"))
        } else {
            Ok(Algorithm::Curve448(a))
        };
    }
    match Alg25519::from_oid_der(&oid_der) {
        // RFC 8410 §3: the parameters must be absent.
        Some(_) if alg.parameters.is_some() => Err(ImportError::Malformed("key algorithm")),
        Some(a) => Ok(Algorithm::Curve25519(a)),
        None => Err(ImportError::UnsupportedAlgorithm(describe(&alg.oid))),
    }
}

/// A PKCS#8 PrivateKeyInfo: the algorithm is named first, so a refusal
/// says why; then `Key::from_pkcs8` (the C_UnwrapKey path) checks the key.
fn private_pkcs8(der: &[u8]) -> Result<Key, ImportError> {
    let info = PrivateKeyInfoRef::from_der(der)
        .map_err(|_| ImportError::Malformed("PKCS#8 private key"))?;
    algorithm(&info.algorithm)?;
    Key::from_pkcs8(der).map_err(|_| ImportError::InvalidKey)
}

/// Wraps a traditional private key in a PrivateKeyInfo, so both forms go
/// through the same checks.
fn wrap_pkcs8(
    oid: ObjectIdentifier,
    parameters: AnyRef<'_>,
    inner: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let bad = ImportError::Malformed("private key");
    let algorithm = AlgorithmIdentifierRef {
        oid,
        parameters: Some(parameters),
    };
    let key = OctetStringRef::new(inner).map_err(|_| bad.clone())?;
    let info = PrivateKeyInfoRef::new(algorithm, key);
    info.to_der().map(Zeroizing::new).map_err(|_| bad)
}

/// "RSA PRIVATE KEY": a PKCS#1 RSAPrivateKey.
fn private_pkcs1(der: &[u8]) -> Result<Key, ImportError> {
    RsaPrivateKeyRef::from_der(der)
        .map_err(|_| ImportError::Malformed("PKCS#1 RSA private key"))?;
    let pkcs8 = wrap_pkcs8(RSA_ENCRYPTION, AnyRef::NULL, der)?;
    Key::from_pkcs8(&pkcs8).map_err(|_| ImportError::InvalidKey)
}

/// "EC PRIVATE KEY": a SEC1 ECPrivateKey, which names its curve in its
/// own parameters (OpenSSL always writes them).
fn private_sec1(der: &[u8]) -> Result<Key, ImportError> {
    let bad = ImportError::Malformed("SEC1 EC private key");
    let ec = sec1::EcPrivateKey::from_der(der).map_err(|_| bad.clone())?;
    let curve = ec
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or(ImportError::UnsupportedCurve("no curve named".into()))?;
    let parameters = AnyRef::from(&curve);
    algorithm(&AlgorithmIdentifierRef {
        oid: EC_PUBLIC_KEY,
        parameters: Some(parameters),
    })?;
    let pkcs8 = wrap_pkcs8(EC_PUBLIC_KEY, parameters, der)?;
    Key::from_pkcs8(&pkcs8).map_err(|_| ImportError::InvalidKey)
}

/// "RSA PUBLIC KEY": a PKCS#1 RSAPublicKey.
fn public_pkcs1(der: &[u8]) -> Result<Key, ImportError> {
    let key = RsaPublicKeyRef::from_der(der)
        .map_err(|_| ImportError::Malformed("PKCS#1 RSA public key"))?;
    Key::rsa_public(key.modulus.as_bytes(), key.public_exponent.as_bytes())
        .map_err(|_| ImportError::InvalidKey)
}

/// A DER SubjectPublicKeyInfo ("PUBLIC KEY", or a certificate's key).
pub fn public_key(der: &[u8]) -> Result<Key, ImportError> {
    let bad = ImportError::Malformed("public key");
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| bad.clone())?;
    let raw = spki.subject_public_key.as_bytes().ok_or(bad.clone())?;
    let key = match algorithm(&spki.algorithm)? {
        Algorithm::Rsa => {
            let rsa = RsaPublicKeyRef::from_der(raw).map_err(|_| bad)?;
            Key::rsa_public(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())
        }
        Algorithm::Ec(curve) => Key::ec_public(&curve.ec_params(), raw),
        Algorithm::Curve25519(alg @ Alg25519::Ed25519) => {
            Key::edwards_public(&alg.ec_params(), raw)
        }
        Algorithm::Curve25519(alg @ Alg25519::X25519) => {
            Key::montgomery_public(&alg.ec_params(), raw)
        }
        Algorithm::Curve448(alg @ Alg448::Ed448) => Key::edwards_public(&alg.ec_params(), raw),
        Algorithm::Curve448(alg @ Alg448::X448) => Key::montgomery_public(&alg.ec_params(), raw),
    };
    key.map_err(|_| ImportError::InvalidKey)
}

/// The fields of a DER X.509 certificate (RFC 5280 §4.1). Only the
/// structure is checked: the certificate's key may be of an algorithm we
/// do not hold (a CA kept as a trust anchor), and nothing is verified.
pub fn certificate(der: &[u8]) -> Result<CertificateFields, ImportError> {
    let bad = ImportError::Malformed("certificate");
    let outer = sequence(der).map_err(|_| bad.clone())?;
    let [
        (Tag::Sequence, tbs),
        (Tag::Sequence, _),
        (Tag::BitString, _),
    ] = outer.as_slice()
    else {
        return Err(bad);
    };
    let fields = sequence(tbs).map_err(|_| bad.clone())?;
    // version is [0] EXPLICIT and absent in v1 certificates.
    let fields = match fields.split_first() {
        Some((
            (
                Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber(0),
                },
                _,
            ),
            rest,
        )) => rest,
        _ => fields.as_slice(),
    };
    let [
        (Tag::Integer, serial),
        (Tag::Sequence, _signature),
        (Tag::Sequence, issuer),
        (Tag::Sequence, _validity),
        (Tag::Sequence, subject),
        (Tag::Sequence, spki),
        ..,
    ] = fields
    else {
        return Err(bad);
    };
    Ok(CertificateFields {
        value: der.to_vec(),
        subject: subject.to_vec(),
        issuer: issuer.to_vec(),
        serial_number: serial.to_vec(),
        public_key_info: spki.to_vec(),
    })
}

#[cfg(test)]
#[path = "keyfile_fixtures.rs"]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures;
    use super::*;
    use crate::test_util::unhex;

    fn pem_der(pem: &str) -> Vec<u8> {
        pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1
    }

    #[test]
    fn shapes() {
        let cases = [
            (pem_der(fixtures::P256.private_pem), Shape::Pkcs8),
            (pem_der(fixtures::P256_ENCRYPTED), Shape::EncryptedPkcs8),
            (pem_der(fixtures::RSA_TRADITIONAL), Shape::RsaPrivate),
            (pem_der(fixtures::P256_TRADITIONAL), Shape::Sec1),
            (unhex(fixtures::ED25519.spki_hex), Shape::Spki),
            (pem_der(fixtures::LEAF_CERT), Shape::Certificate),
            (unhex("3006020103020101"), Shape::RsaPublic),
        ];
        for (der, shape) in cases {
            assert_eq!(sniff(&der), Ok(shape));
        }
        assert_eq!(sniff(&[0x30, 0x00]), Err(ImportError::NotRecognized));
        assert_eq!(
            sniff(&[0x04, 0x00]),
            Err(ImportError::Malformed(CORRUPT_DER))
        );
    }

    #[test]
    fn pem_text_starting_with_a_zero_is_still_pem() {
        let text = format!("0 comment\n{}", fixtures::P256.public_pem);
        assert!(matches!(
            read_key_file(text.as_bytes()),
            Ok(KeyFile::Public(_))
        ));
        assert_eq!(
            read_key_file(b"0 not der").unwrap_err(),
            ImportError::Malformed(CORRUPT_DER)
        );
    }

    #[test]
    fn certificate_fields() {
        let der = pem_der(fixtures::CA_CERT);
        let fields = certificate(&der).unwrap();
        assert_eq!(fields.value, der);
        assert_eq!(fields.serial_number, [0x02, 0x01, 0x01]);
        assert_eq!(fields.subject, fields.issuer);
        assert_eq!(
            fields.public_key_info,
            unhex(fixtures::P384.spki_hex),
            "the CA's key is P384's"
        );
        // Trailing data after the certificate.
        let mut long = der.clone();
        long.push(0);
        assert_eq!(
            certificate(&long).unwrap_err(),
            ImportError::Malformed("certificate")
        );
    }

    #[test]
    fn names_and_labels() {
        let k1 = ObjectIdentifier::new_unwrap("1.3.132.0.10");
        assert_eq!(describe(&k1), "1.3.132.0.10 (secp256k1)");
        let unknown = ObjectIdentifier::new_unwrap("1.2.3.4");
        assert_eq!(describe(&unknown), "1.2.3.4");
        assert_eq!(printable("A\u{7}B C\n"), "AB C");
        assert_eq!(printable(&"X".repeat(100)).len(), 64);
    }

    /// An "RSA PUBLIC KEY" PEM block (PKCS#1) reads as the same key as
    /// the SPKI.
    #[test]
    fn rsa_public_key_pem() {
        let spki = unhex(fixtures::RSA.spki_hex);
        let from_spki = public_key(&spki).unwrap();
        let pkcs1 = spki.get(24..).unwrap();
        let text = super::super::spki::pem("RSA PUBLIC KEY", pkcs1);
        let Ok(KeyFile::Public(key)) = read_key_file(text.as_bytes()) else {
            panic!("not a public key");
        };
        assert_eq!(
            key.public_key_info().unwrap(),
            from_spki.public_key_info().unwrap()
        );
    }
}
