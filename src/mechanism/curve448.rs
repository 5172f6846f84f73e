//! Ed448 and X448 (RFC 8032 §5.2, RFC 7748, RFC 8410): CKA_EC_PARAMS as the
//! curve OID or the PKCS#11 3.0 curve name, CKA_EC_POINT as a DER OCTET
//! STRING of the public key (57 / 56 bytes, the form curve25519.rs gives
//! Ed25519), SubjectPublicKeyInfo and PKCS#8 PrivateKeyInfo, and the two
//! primitives the crates do (signing with a context, X448 agreement).

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The two curve-448 algorithms this token offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg448 {
    /// EdDSA over edwards448 (CKK_EC_EDWARDS).
    Ed448,
    /// Diffie-Hellman over curve448 (CKK_EC_MONTGOMERY).
    X448,
}

/// DER tag of PrintableString, which PKCS#11 allows for curve names.
const PRINTABLE_STRING: u8 = 0x13;
/// DER OBJECT IDENTIFIER 1.3.101.x without its last byte (RFC 8410 arcs).
const OID_PREFIX: [u8; 4] = [0x06, 0x03, 0x2b, 0x65];
/// Last byte of 1.3.101.113 (id-Ed448).
const ED448_ARC: u8 = 0x71;
/// Last byte of 1.3.101.111 (id-X448).
const X448_ARC: u8 = 0x6f;
/// Ed448 seeds and public keys (RFC 8032 §5.2.5).
pub const ED448_LEN: usize = 57;
/// X448 scalars and u-coordinates (RFC 7748 §5).
pub const X448_LEN: usize = 56;
/// Ed448 signature length (R || S, RFC 8032 §5.2.6).
pub const ED448_SIG_LEN: usize = 114;
/// Key size reported for Ed448 and X448 keys (bits of p = 2^448 - 2^224 - 1),
/// matching the mechanism table's rows.
pub const CURVE448_BITS: u64 = 448;

impl Alg448 {
    fn arc(self) -> u8 {
        match self {
            Alg448::Ed448 => ED448_ARC,
            Alg448::X448 => X448_ARC,
        }
    }

    /// The curve name PKCS#11 3.0 gives for the PrintableString form.
    fn name(self) -> &'static [u8] {
        match self {
            Alg448::Ed448 => b"edwards448",
            Alg448::X448 => b"curve448",
        }
    }

    /// Length of the key's public and private values.
    pub fn key_len(self) -> usize {
        match self {
            Alg448::Ed448 => ED448_LEN,
            Alg448::X448 => X448_LEN,
        }
    }

    /// The algorithm CKA_EC_PARAMS names (DER OID or DER PrintableString
    /// curve name), None for anything else.
    pub fn from_ec_params(der: &[u8]) -> Option<Alg448> {
        [Alg448::Ed448, Alg448::X448].into_iter().find(|alg| {
            der == alg.ec_params()
                || matches!(der, [PRINTABLE_STRING, len, name @ ..]
                    if usize::from(*len) == name.len() && name == alg.name())
        })
    }

    /// Checks that `ec_params` names this algorithm's curve.
    pub fn expect(self, ec_params: &[u8]) -> Result<()> {
        if Alg448::from_ec_params(ec_params) == Some(self) {
            Ok(())
        } else {
            Err(Error::AttributeValueInvalid)
        }
    }

    /// The DER OID (CKA_EC_PARAMS in its OID form).
    pub fn ec_params(self) -> [u8; 5] {
        let [a, b, c, d] = OID_PREFIX;
        [a, b, c, d, self.arc()]
    }

    /// The algorithm whose OID this is (PKCS#8 / SPKI dispatch).
    pub fn from_oid_der(oid: &[u8]) -> Option<Alg448> {
        [Alg448::Ed448, Alg448::X448]
            .into_iter()
            .find(|alg| oid == alg.ec_params())
    }

    /// SEQUENCE { OID } with absent parameters, as RFC 8410 §3 requires.
    fn algorithm_identifier(self) -> [u8; 7] {
        let [a, b, c, d, e] = self.ec_params();
        [0x30, 0x05, a, b, c, d, e]
    }

    /// DER SubjectPublicKeyInfo (RFC 8410 §4); `public` has `key_len`
    /// bytes (both lengths are below 128, so every length is one byte).
    pub fn spki(self, public: &[u8]) -> Vec<u8> {
        let bits = public.len() + 1;
        let mut out = vec![0x30, short_len(7 + 2 + bits)];
        out.extend_from_slice(&self.algorithm_identifier());
        out.extend_from_slice(&[0x03, short_len(bits), 0x00]);
        out.extend_from_slice(public);
        out
    }

    /// DER PrivateKeyInfo, version 1 without the public key (RFC 8410 §7,
    /// the form OpenSSL writes): CurvePrivateKey inside privateKey.
    pub fn pkcs8(self, private: &[u8]) -> Zeroizing<Vec<u8>> {
        let inner = private.len() + 2;
        let mut out = Zeroizing::new(vec![0x30, short_len(3 + 7 + 2 + inner), 0x02, 0x01, 0x00]);
        out.extend_from_slice(&self.algorithm_identifier());
        out.extend_from_slice(&[0x04, short_len(inner), 0x04, short_len(private.len())]);
        out.extend_from_slice(private);
        out
    }

    /// A public key from CKA_EC_POINT or ECDH public data: the raw key or a
    /// DER OCTET STRING around it (the lengths never coincide).
    pub fn public_from_attr(self, attr: &[u8]) -> Option<Vec<u8>> {
        let n = self.key_len();
        let raw = match attr {
            [0x04, len, rest @ ..] if usize::from(*len) == n && rest.len() == n => rest,
            _ => attr,
        };
        (raw.len() == n).then(|| raw.to_vec())
    }

    /// CKA_VALUE of a private key: exactly `key_len` bytes (Ed448 seed,
    /// X448 scalar as RFC 7748 encodes it).
    pub fn private_value(self, value: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if value.len() != self.key_len() {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(Zeroizing::new(value.to_vec()))
    }

    /// The private value inside RFC 8410's CurvePrivateKey (an OCTET STRING
    /// nested in PrivateKeyInfo's privateKey).
    pub fn curve_private_key(self, inner: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        match inner {
            [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => {
                self.private_value(rest).ok()
            }
            _ => None,
        }
    }
}

/// Checks CKA_EC_PARAMS of a CKK_EC_EDWARDS key: edwards448 here, else
/// what Ed25519 accepts (CurveNotSupported for well-formed curves we do
/// not offer).
pub fn expect_edwards(ec_params: &[u8]) -> Result<()> {
    match Alg448::from_ec_params(ec_params) {
        Some(Alg448::Ed448) => Ok(()),
        Some(Alg448::X448) => Err(Error::AttributeValueInvalid),
        None => super::Alg25519::Ed25519.expect(ec_params),
    }
}

/// Checks CKA_EC_PARAMS of a CKK_EC_MONTGOMERY key: curve448 here, else
/// what X25519 accepts.
pub fn expect_montgomery(ec_params: &[u8]) -> Result<()> {
    match Alg448::from_ec_params(ec_params) {
        Some(Alg448::X448) => Ok(()),
        Some(Alg448::Ed448) => Err(Error::AttributeValueInvalid),
        None => super::Alg25519::X25519.expect(ec_params),
    }
}

/// A DER short-form length (every length here is below 128).
fn short_len(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(0x7f).min(0x7f)
}

/// An Ed448 signing key from its 57-byte seed.
pub fn ed448_signing_key(seed: &[u8]) -> Result<ed448_goldilocks::SigningKey> {
    ed448_goldilocks::SigningKey::try_from(seed).map_err(|_| Error::AttributeValueInvalid)
}

/// An Ed448 verifying key from its 57-byte encoding; a point that does
/// not decode (or the identity) is AttributeValueInvalid.
pub fn ed448_verifying_key(public: &[u8]) -> Result<ed448_goldilocks::VerifyingKey> {
    let bytes: &[u8; ED448_LEN] = public
        .try_into()
        .map_err(|_| Error::AttributeValueInvalid)?;
    ed448_goldilocks::VerifyingKey::from_bytes(bytes).map_err(|_| Error::AttributeValueInvalid)
}

/// The X448 public key of a private scalar (RFC 7748 §6.2: X448(k, 5)).
pub fn x448_public(scalar: &[u8]) -> Result<[u8; X448_LEN]> {
    let k: [u8; X448_LEN] = scalar
        .try_into()
        .map_err(|_| Error::AttributeValueInvalid)?;
    Ok(x448::x448_unchecked(k, x448::X448_BASEPOINT_BYTES))
}

/// The X448 shared secret (RFC 7748 §6.2). The crate refuses a
/// small-order peer point, and an all-zero result is refused too: RFC 7748
/// §6.2 lets us abort. Both answer CKR_FUNCTION_FAILED, as X25519's
/// non-contributory exchange does (provider/generation.rs); a peer value
/// of the wrong length is MechanismParamInvalid.
pub fn x448_shared(scalar: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let k =
        Zeroizing::new(<[u8; X448_LEN]>::try_from(scalar).map_err(|_| Error::KeyTypeInconsistent)?);
    let u: [u8; X448_LEN] = peer.try_into().map_err(|_| Error::MechanismParamInvalid)?;
    let z = Zeroizing::new(x448::x448(*k, u).ok_or(Error::FunctionFailed)?);
    if z.iter().all(|&b| b == 0) {
        return Err(Error::FunctionFailed);
    }
    Ok(Zeroizing::new(z.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    #[test]
    fn params_forms() {
        let mut name = vec![PRINTABLE_STRING, 10];
        name.extend_from_slice(b"edwards448");
        for der in [&[0x06, 0x03, 0x2b, 0x65, 0x71][..], &name] {
            assert_eq!(Alg448::from_ec_params(der), Some(Alg448::Ed448));
        }
        let mut name = vec![PRINTABLE_STRING, 8];
        name.extend_from_slice(b"curve448");
        for der in [&[0x06, 0x03, 0x2b, 0x65, 0x6f][..], &name] {
            assert_eq!(Alg448::from_ec_params(der), Some(Alg448::X448));
        }
        assert_eq!(Alg448::X448.expect(&name), Ok(()));
        assert_eq!(
            Alg448::Ed448.expect(&name),
            Err(Error::AttributeValueInvalid)
        );
        for other in [&[0x06, 0x03, 0x2b, 0x65, 0x70][..], &[], &name[..5]] {
            assert_eq!(Alg448::from_ec_params(other), None);
        }
    }

    /// The encodings parse back with the `spki` and `pkcs8` crates and have
    /// RFC 8410's fixed prefixes.
    #[test]
    fn encodings() {
        use pkcs8::der::Decode;
        let key = [7u8; ED448_LEN];
        let spki = Alg448::Ed448.spki(&key);
        assert_eq!(spki.len(), 69);
        assert_eq!(hex(&spki[..12]), "3043300506032b6571033a00");
        assert!(spki::SubjectPublicKeyInfoRef::from_der(&spki).is_ok());
        let p8 = Alg448::X448.pkcs8(&[9u8; X448_LEN]);
        assert_eq!(p8.len(), 72);
        assert_eq!(hex(&p8[..16]), "3046020100300506032b656f043a0438");
        let info = pkcs8::PrivateKeyInfoRef::from_der(&p8).unwrap();
        assert_eq!(
            *Alg448::X448
                .curve_private_key(info.private_key.as_bytes())
                .unwrap(),
            vec![9u8; X448_LEN]
        );
        let mut der = vec![0x04, 57];
        der.extend_from_slice(&key);
        assert_eq!(Alg448::Ed448.public_from_attr(&der), Some(key.to_vec()));
        assert_eq!(Alg448::Ed448.public_from_attr(&key), Some(key.to_vec()));
        assert_eq!(Alg448::Ed448.public_from_attr(&der[..58]), None);
        assert_eq!(Alg448::X448.public_from_attr(&key), None);
        assert!(Alg448::Ed448.private_value(&[1; 56]).is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 7748 §6.2: Alice's and Bob's public keys and their shared
    /// secret.
    #[test]
    fn rfc7748_x448_exchange() {
        let a = unhex(
            "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d\
             d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
        );
        let b = unhex(
            "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d\
             6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
        );
        let a_pub = "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c\
                     22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0";
        let b_pub = "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430\
                     27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609";
        let shared = "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b\
                      b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d";
        assert_eq!(x448_public(&a).unwrap().to_vec(), unhex(a_pub));
        assert_eq!(x448_public(&b).unwrap().to_vec(), unhex(b_pub));
        assert_eq!(*x448_shared(&a, &unhex(b_pub)).unwrap(), unhex(shared));
        assert_eq!(*x448_shared(&b, &unhex(a_pub)).unwrap(), unhex(shared));
        // Small-order peers (0 and 1) give no secret.
        let mut one = [0u8; X448_LEN];
        one[0] = 1;
        for peer in [[0u8; X448_LEN], one] {
            assert_eq!(x448_shared(&a, &peer).unwrap_err(), Error::FunctionFailed);
        }
        assert_eq!(
            x448_shared(&a, &[5; 55]).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
