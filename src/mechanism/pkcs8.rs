//! Private keys as PKCS#8 PrivateKeyInfo (what C_WrapKey wraps and
//! C_UnwrapKey unwraps) and as PKCS#11 attribute values (what the object
//! layer stores for an unwrapped key). Encodings are OpenSSL's: EC keys
//! carry the curve OID and the public point (RFC 5915), RSA keys are
//! PKCS#1 two-prime keys, Ed25519/X25519 keys are RFC 8410 version 1.

use cryptoki_sys::*;
use rsa::RsaPrivateKey;
use rsa::pkcs1::RsaPrivateKeyRef;
use rsa::pkcs8::der::{Decode, Encode};
use rsa::pkcs8::{EncodePrivateKey, ObjectIdentifier, PrivateKeyInfoRef};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

use super::curve448::Alg448;
use super::curve25519::{self, Alg25519};
use super::ec::EcSigningKey;
use super::keygen::rsa_parts;
use super::keys::{Curve, Key, RSA_IMPORT_BITS, check_rsa_bits};
use super::ml_dsa;
use crate::error::{Error, Result};

/// DER OBJECT IDENTIFIER 1.2.840.113549.1.1.1 (rsaEncryption, PKCS#1).
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// DER OBJECT IDENTIFIER 1.2.840.10045.2.1 (id-ecPublicKey, RFC 5480).
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// One attribute of a private key object, value in PKCS#11 form.
pub type PrivateAttribute = (CK_ATTRIBUTE_TYPE, Zeroizing<Vec<u8>>);

impl Key {
    /// The DER PrivateKeyInfo of a private key (KeyTypeInconsistent for
    /// secret and public keys).
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = match self {
            Key::EcPrivate { key, .. } => match &**key {
                EcSigningKey::P192(k) => k.to_pkcs8_der(),
                EcSigningKey::P224(k) => k.to_pkcs8_der(),
                EcSigningKey::P256(k) => k.to_pkcs8_der(),
                EcSigningKey::P384(k) => k.to_pkcs8_der(),
                EcSigningKey::P521(k) => k.to_pkcs8_der(),
            },
            Key::RsaPrivate(k) => k.to_pkcs8_der(),
            Key::EdPrivate(k) => return Ok(Alg25519::Ed25519.pkcs8(k.as_bytes())),
            Key::MontPrivate(k) => return Ok(Alg25519::X25519.pkcs8(k.as_bytes())),
            Key::Ed448Private(k) => return Ok(Alg448::Ed448.pkcs8(k.as_bytes())),
            Key::X448Private(k) => return Ok(Alg448::X448.pkcs8(k)),
            Key::MlDsaPrivate(k) => return Ok(ml_dsa::pkcs8(k)),
            Key::MlKemPrivate(k) => return Ok(super::ml_kem::pkcs8_seed(k)),
            Key::Dsa(k) => return k.to_pkcs8(),
            Key::SlhDsaPrivate(k) => return Ok(super::slh_dsa::pkcs8(k)),
            _ => return Err(Error::KeyTypeInconsistent),
        };
        doc.map(|d| Zeroizing::new(d.as_bytes().to_vec()))
            .map_err(|_| Error::GeneralError)
    }

    /// A private key from DER PrivateKeyInfo (versions 1 and 2): P-256,
    /// P-384, P-521, RSA (1024–8192 bits, two primes), Ed25519, X25519.
    /// Anything else, or any inconsistency, is WrappedKeyInvalid.
    pub fn from_pkcs8(der: &[u8]) -> Result<Key> {
        let bad = Error::WrappedKeyInvalid;
        let info = PrivateKeyInfoRef::from_der(der).map_err(|_| bad)?;
        let oid = oid_der(&info.algorithm.oid)?;
        if oid == EC_PUBLIC_KEY {
            return ec_from_pkcs8(info);
        }
        if oid == RSA_ENCRYPTION {
            return rsa_from_pkcs8(info);
        }
        if let Some(set) = ml_dsa::ParamSet::from_oid_der(&oid) {
            return ml_dsa_from_pkcs8(set, info);
        }
        if let Some(set) = super::slh_dsa::ParamSet::from_oid_der(&oid) {
            return slh_dsa_from_pkcs8(set, info);
        }
        if let Some(set) = super::ml_kem::set_of_oid(&oid) {
            if info.public_key.is_some() {
                return Err(bad);
            }
            let inner = info.private_key.as_bytes();
            return super::ml_kem::private_from_pkcs8(set, inner)
                .map(|k| Key::MlKemPrivate(Box::new(k)))
                .map_err(|_| bad);
        }
        if let Some(alg) = Alg448::from_oid_der(&oid) {
            return curve448_from_pkcs8(alg, info);
        }
        match Alg25519::from_oid_der(&oid) {
            Some(alg) => curve25519_from_pkcs8(alg, info),
            // id-dsa (1.2.840.10040.4.1); the crate checks the OID.
            None => super::dsa::from_pkcs8(der).map_err(|_| bad),
        }
    }

    /// The attributes of a private key object in PKCS#11 form. EC family:
    /// CKA_EC_PARAMS (DER OID) and CKA_VALUE (the big-endian scalar at
    /// field width, or the 32-byte Ed25519 seed / X25519 scalar); the
    /// object layer adds CKA_EC_POINT and CKA_PUBLIC_KEY_INFO from
    /// `ec_point_der` and `public_key_info`. RSA: the eight CRT components,
    /// big-endian without leading zeros.
    pub fn private_attributes(&self) -> Result<Vec<PrivateAttribute>> {
        let params = || -> Result<Zeroizing<Vec<u8>>> {
            Ok(Zeroizing::new(
                self.ec_params().ok_or(Error::KeyTypeInconsistent)?,
            ))
        };
        match self {
            Key::EcPrivate { key, .. } => Ok(vec![
                (CKA_EC_PARAMS, params()?),
                (CKA_VALUE, key.scalar_bytes()),
            ]),
            Key::EdPrivate(k) => Ok(vec![
                (CKA_EC_PARAMS, params()?),
                (CKA_VALUE, Zeroizing::new(k.as_bytes().to_vec())),
            ]),
            Key::MontPrivate(k) => Ok(vec![
                (CKA_EC_PARAMS, params()?),
                (CKA_VALUE, Zeroizing::new(k.as_bytes().to_vec())),
            ]),
            Key::Ed448Private(k) => Ok(vec![
                (CKA_EC_PARAMS, params()?),
                (CKA_VALUE, Zeroizing::new(k.as_bytes().to_vec())),
            ]),
            Key::X448Private(k) => Ok(vec![(CKA_EC_PARAMS, params()?), (CKA_VALUE, k.clone())]),
            // CKA_PARAMETER_SET is the object layer's to add (a CK_ULONG in
            // its canonical form).
            Key::MlDsaPrivate(k) => Ok(vec![(CKA_SEED, k.seed())]),
            Key::Dsa(k) => k.private_attributes(),
            // SLH-DSA: the private key itself (CKA_PARAMETER_SET as above).
            Key::SlhDsaPrivate(k) => Ok(vec![(CKA_VALUE, k.to_bytes())]),
            // ML-KEM: the parameter set (canonical CK_ULONG) and the seed.
            Key::MlKemPrivate(k) => Ok(vec![
                (
                    CKA_PARAMETER_SET,
                    Zeroizing::new(super::ml_kem::ckp_canonical(k.set())),
                ),
                (CKA_SEED, Zeroizing::new(k.seed().to_vec())),
            ]),
            Key::RsaPrivate(k) => {
                let p = rsa_parts(k)?;
                Ok(vec![
                    (CKA_MODULUS, Zeroizing::new(p.modulus)),
                    (CKA_PUBLIC_EXPONENT, Zeroizing::new(p.public_exponent)),
                    (CKA_PRIVATE_EXPONENT, p.private_exponent),
                    (CKA_PRIME_1, p.prime_1),
                    (CKA_PRIME_2, p.prime_2),
                    (CKA_EXPONENT_1, p.exponent_1),
                    (CKA_EXPONENT_2, p.exponent_2),
                    (CKA_COEFFICIENT, p.coefficient),
                ])
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
}

/// An OID's DER encoding (tag and length included), the form the
/// constants and CKA_EC_PARAMS use.
fn oid_der(oid: &ObjectIdentifier) -> Result<Vec<u8>> {
    oid.to_der().map_err(|_| Error::WrappedKeyInvalid)
}

/// EC: the curve comes from the AlgorithmIdentifier's namedCurve; the
/// crates check the inner ECPrivateKey's optional parameters and public key
/// against it.
fn ec_from_pkcs8(info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    let curve_oid = info.algorithm.parameters_oid().map_err(|_| bad)?;
    let curve = Curve::from_ec_params(&oid_der(&curve_oid)?).map_err(|_| bad)?;
    let key = match curve {
        Curve::P192 => ecdsa::SigningKey::<p192::NistP192>::try_from(info).map(EcSigningKey::P192),
        Curve::P224 => p224::ecdsa::SigningKey::try_from(info).map(EcSigningKey::P224),
        Curve::P256 => p256::ecdsa::SigningKey::try_from(info).map(EcSigningKey::P256),
        Curve::P384 => p384::ecdsa::SigningKey::try_from(info).map(EcSigningKey::P384),
        Curve::P521 => p521::ecdsa::SigningKey::try_from(info).map(EcSigningKey::P521),
    }
    .map_err(|_| bad)?;
    Ok(Key::EcPrivate {
        curve,
        key: key.into(),
    })
}

/// RSA: the modulus size is checked on the undecoded integers first, so a
/// huge key costs no arithmetic; the rsa crate then validates the key.
fn rsa_from_pkcs8(info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    let pkcs1 = RsaPrivateKeyRef::from_der(info.private_key.as_bytes()).map_err(|_| bad)?;
    let max_bytes = RSA_IMPORT_BITS.end().div_ceil(8);
    if pkcs1.modulus.as_bytes().len() > max_bytes {
        return Err(bad);
    }
    let key = RsaPrivateKey::try_from(info).map_err(|_| bad)?;
    check_rsa_bits(key.n()).map_err(|_| bad)?;
    if key.primes().len() != 2 {
        return Err(bad);
    }
    Ok(Key::RsaPrivate(Box::new(key.into())))
}

/// RFC 8410 for Ed448 / X448, as `curve25519_from_pkcs8`.
fn curve448_from_pkcs8(alg: Alg448, info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    if info.algorithm.parameters.is_some() {
        return Err(bad);
    }
    let value = alg
        .curve_private_key(info.private_key.as_bytes())
        .ok_or(bad)?;
    let params = alg.ec_params();
    let key = match alg {
        Alg448::Ed448 => Key::edwards_private(&params, &value),
        Alg448::X448 => Key::montgomery_private(&params, &value),
    }
    .map_err(|_| bad)?;
    if let Some(public) = info.public_key {
        let ours = key.ec_point_der().map_err(|_| bad)?;
        if public.as_bytes() != ours.get(2..) {
            return Err(bad);
        }
    }
    Ok(key)
}

/// RFC 8410: no algorithm parameters; privateKey holds CurvePrivateKey; a
/// version 2 public key, if present, must match the private key.
fn curve25519_from_pkcs8(alg: Alg25519, info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    if info.algorithm.parameters.is_some() {
        return Err(bad);
    }
    let value = curve25519::curve_private_key(info.private_key.as_bytes()).ok_or(bad)?;
    let params = alg.ec_params();
    let key = match alg {
        Alg25519::Ed25519 => Key::edwards_private(&params, &*value),
        Alg25519::X25519 => Key::montgomery_private(&params, &*value),
    }
    .map_err(|_| bad)?;
    if let Some(public) = info.public_key {
        let ours = key.ec_point_der().map_err(|_| bad)?;
        if public.as_bytes() != ours.get(2..) {
            return Err(bad);
        }
    }
    Ok(key)
}

/// ML-DSA (draft-ietf-lamps-dilithium-certificates): no parameters, the
/// privateKey in the seed or both form (ml_dsa.rs), no public key field
/// (ML-DSA-PrivateKey has none).
fn ml_dsa_from_pkcs8(set: ml_dsa::ParamSet, info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    if info.algorithm.parameters.is_some() || info.public_key.is_some() {
        return Err(bad);
    }
    let key = ml_dsa::from_pkcs8(set, info.private_key.as_bytes()).map_err(|_| bad)?;
    Ok(Key::MlDsaPrivate(Box::new(key)))
}

/// SLH-DSA (the IETF LAMPS profile): no parameters, privateKey holding
/// the 4n-byte private key (checked as on import), no public key field.
fn slh_dsa_from_pkcs8(set: super::slh_dsa::ParamSet, info: PrivateKeyInfoRef<'_>) -> Result<Key> {
    let bad = Error::WrappedKeyInvalid;
    if info.algorithm.parameters.is_some() || info.public_key.is_some() {
        return Err(bad);
    }
    let key = super::slh_dsa::from_pkcs8(set, info.private_key.as_bytes()).map_err(|_| bad)?;
    Ok(Key::SlhDsaPrivate(Box::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::{generate_ec, generate_rsa};
    use crate::test_util::unhex;

    fn attr(attrs: &[PrivateAttribute], t: CK_ATTRIBUTE_TYPE) -> &[u8] {
        &attrs.iter().find(|(a, _)| *a == t).unwrap().1
    }

    fn round_trip(key: &Key) -> Key {
        let der = key.to_pkcs8().unwrap();
        let back = Key::from_pkcs8(&der).unwrap();
        assert_eq!(back.key_type(), key.key_type());
        assert_eq!(
            back.public_key_info().unwrap(),
            key.public_key_info().unwrap()
        );
        assert_eq!(*back.to_pkcs8().unwrap(), *der);
        back
    }

    #[test]
    fn ec_round_trips() {
        for curve in [
            Curve::P192,
            Curve::P224,
            Curve::P256,
            Curve::P384,
            Curve::P521,
        ] {
            let parts = generate_ec(&curve.ec_params()).unwrap();
            let key = Key::ec_private(&parts.ec_params, &parts.private_value).unwrap();
            let back = round_trip(&key);
            let attrs = back.private_attributes().unwrap();
            assert_eq!(attr(&attrs, CKA_EC_PARAMS), &curve.ec_params()[..]);
            assert_eq!(attr(&attrs, CKA_VALUE), &parts.private_value[..]);
            let rebuilt =
                Key::ec_private(attr(&attrs, CKA_EC_PARAMS), attr(&attrs, CKA_VALUE)).unwrap();
            assert_eq!(rebuilt.ec_point_der().unwrap(), parts.ec_point_der);
        }
    }

    #[test]
    fn rsa_round_trip() {
        let parts = generate_rsa(2048, &[]).unwrap();
        let key = Key::rsa_private(
            &parts.modulus,
            &parts.public_exponent,
            &parts.private_exponent,
            Some((&parts.prime_1, &parts.prime_2)),
        )
        .unwrap();
        let back = round_trip(&key);
        let attrs = back.private_attributes().unwrap();
        assert_eq!(attrs.len(), 8);
        assert_eq!(attr(&attrs, CKA_MODULUS), &parts.modulus[..]);
        assert_eq!(attr(&attrs, CKA_PUBLIC_EXPONENT), &[1, 0, 1]);
        assert_eq!(
            attr(&attrs, CKA_PRIVATE_EXPONENT),
            &parts.private_exponent[..]
        );
        assert_eq!(attr(&attrs, CKA_PRIME_1), &parts.prime_1[..]);
        assert_eq!(attr(&attrs, CKA_PRIME_2), &parts.prime_2[..]);
        assert_eq!(attr(&attrs, CKA_EXPONENT_1), &parts.exponent_1[..]);
        assert_eq!(attr(&attrs, CKA_EXPONENT_2), &parts.exponent_2[..]);
        assert_eq!(attr(&attrs, CKA_COEFFICIENT), &parts.coefficient[..]);
    }

    /// PKCS#8 written by OpenSSL 3 (P-256 scalar 3; the RFC 6979 P-521
    /// key) reads back, and we write the same bytes.
    #[test]
    fn ec_openssl_interop() {
        let p256 = unhex(
            "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201
             0104200000000000000000000000000000000000000000000000000000000000
             000003a144034200045ecbe4d1a6330a44c8f7ef951d4bf165e6c6b721efada9
             85fb41661bc6e7fd6c8734640c4998ff7e374b06ce1a64a2ecd82ab036384fb8
             3d9a79b127a27d5032",
        );
        let p521 = unhex(
            "3081ee020100301006072a8648ce3d020106052b810400230481d63081d3020101
             044200fad06daa62ba3b25d2fb40133da757205de67f5bb0018fee8c86e1b68c
             7e75caa896eb32f1f47c70855836a6d16fcc1466f6d8fbec67db89ec0c08b0e9
             96b83538a18189038186000401894550d0785932e00eaa23b694f213f8c3121f
             86dc97a04e5a7167db4e5bcd371123d46e45db6b5d5370a7f20fb633155d38ff
             a16d2bd761dcac474b9a2f5023a400493101c962cd4d2fddf782285e64584139
             c2f91b47f87ff82354d6630f746a28a0db25741b5b34a828008b22acc23f924f
             aafbd4d33f81ea66956dfeaa2bfdfcf5",
        );
        for (der, curve) in [(p256, Curve::P256), (p521, Curve::P521)] {
            let key = Key::from_pkcs8(&der).unwrap();
            assert_eq!(key.curve(), Some(curve));
            assert_eq!(*key.to_pkcs8().unwrap(), der);
        }
    }

    /// RFC 8410 §10.3's example key, byte for byte as OpenSSL writes it.
    #[test]
    fn ed25519_rfc8410() {
        let der = unhex(
            "302e020100300506032b657004220420
             d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
        );
        let key = Key::from_pkcs8(&der).unwrap();
        assert_eq!(key.key_type(), CKK_EC_EDWARDS);
        assert_eq!(*key.to_pkcs8().unwrap(), der);
        round_trip(&key);
        let attrs = key.private_attributes().unwrap();
        assert_eq!(attr(&attrs, CKA_EC_PARAMS), &[0x06, 0x03, 0x2b, 0x65, 0x70]);
        assert_eq!(attr(&attrs, CKA_VALUE), &der[16..]);
        // Version 2 with the matching public key is accepted, a wrong one
        // is not.
        let public = key.ec_point_der().unwrap();
        let mut v2 = unhex("3051020101300506032b657004220420");
        v2.extend_from_slice(&der[16..]);
        v2.extend_from_slice(&[0x81, 0x21, 0x00]);
        v2.extend_from_slice(&public[2..]);
        assert_eq!(
            Key::from_pkcs8(&v2).unwrap().ec_point_der().unwrap(),
            public
        );
        let last = v2.len() - 1;
        v2[last] ^= 1;
        assert_eq!(Key::from_pkcs8(&v2).unwrap_err(), Error::WrappedKeyInvalid);
    }

    #[test]
    fn x25519_round_trip() {
        let scalar = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let key = Key::montgomery_private(&Alg25519::X25519.ec_params(), &scalar).unwrap();
        let back = round_trip(&key);
        assert_eq!(back.key_type(), CKK_EC_MONTGOMERY);
        let attrs = back.private_attributes().unwrap();
        assert_eq!(attr(&attrs, CKA_VALUE), &scalar[..]);
        assert_eq!(attr(&attrs, CKA_EC_PARAMS), &[0x06, 0x03, 0x2b, 0x65, 0x6e]);
    }

    #[test]
    fn refusals() {
        for garbage in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
            b"not der at all",
        ] {
            assert_eq!(
                Key::from_pkcs8(garbage).unwrap_err(),
                Error::WrappedKeyInvalid
            );
        }
        let key = Key::edwards_private(&Alg25519::Ed25519.ec_params(), &[3; 32]).unwrap();
        let der = key.to_pkcs8().unwrap();
        // Truncated, trailing data, unknown algorithm (Ed448), parameters
        // present, short key.
        assert_eq!(
            Key::from_pkcs8(&der[..der.len() - 1]).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert_eq!(
            Key::from_pkcs8(&trailing).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        let mut ed448 = der.to_vec();
        ed448[11] = 0x71;
        assert_eq!(
            Key::from_pkcs8(&ed448).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        let mut short = unhex("302d020100300506032b657004210420");
        short.extend_from_slice(&[3; 31]);
        short[15] = 0x1f;
        assert_eq!(
            Key::from_pkcs8(&short).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        // An EC key whose embedded public key does not match.
        let parts = generate_ec(&Curve::P256.ec_params()).unwrap();
        let ec = Key::ec_private(&parts.ec_params, &parts.private_value).unwrap();
        let mut ec_der = ec.to_pkcs8().unwrap().to_vec();
        let last = ec_der.len() - 1;
        ec_der[last] ^= 1;
        assert_eq!(
            Key::from_pkcs8(&ec_der).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        // Public and secret keys are not PKCS#8 material.
        let secret = Key::secret(CKK_AES, &[1; 16]).unwrap();
        assert_eq!(secret.to_pkcs8().unwrap_err(), Error::KeyTypeInconsistent);
        assert_eq!(
            key.to_public().unwrap().to_pkcs8().unwrap_err(),
            Error::KeyTypeInconsistent
        );
        assert_eq!(
            secret.private_attributes().unwrap_err(),
            Error::KeyTypeInconsistent
        );
    }
}
