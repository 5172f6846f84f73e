//! ECDH key agreement (CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE) on
//! P-256/P-384/P-521 and X25519, with the NULL KDF, the ANSI X9.63 KDFs
//! (CKD_SHA*_KDF, CKD_SHA3_*_KDF) and the SP 800-56C one-step KDFs
//! (CKD_SHA*_KDF_SP800, CKD_SHA3_*_KDF_SP800); and the
//! CKM_EC_MONTGOMERY_KEY_PAIR_GEN row.
//!
//! Length rules (`len` is the derived key's CKA_VALUE_LEN or its type's
//! fixed length; None means "natural length"):
//! - CKD_NULL: None gives the whole shared secret Z (the x-coordinate,
//!   field width; X25519's 32 bytes). A shorter `len` keeps the trailing
//!   (least significant) bytes, as SoftHSM does; a longer one is
//!   CKR_KEY_SIZE_RANGE, since no more secret exists.
//! - CKD_SHAx_KDF: Hash(Z || counter_be32 || shared_data) for counter = 1,
//!   2, … concatenated and cut to `len`; None gives one hash output.
//! - CKD_SHAx_KDF_SP800: the same with the counter first,
//!   Hash(counter_be32 || Z || shared_data) (SP 800-56C rev. 2 §4.1,
//!   option 1, the shared data as FixedInfo).
//! - The FIPS build refuses the SHA3-224 KDFs (CKR_MECHANISM_PARAM_INVALID):
//!   AWS-LC has no SHA3-224 to run them on.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::curve448::{Alg448, CURVE448_BITS};
use super::curve25519;
use super::digest::HashAlg;
use super::ec::{self, EcSigningKey, EcVerifyingKey};
use super::keys::{CURVE25519_BITS, Curve, Key};
use super::provider::generation;
use super::{EC_CAPS, EC_MAX, EC_MIN, MechInfo, Mechanism, Params, info, row};
use crate::error::{Error, Result};

/// Key sizes in bits: P-192 (192) up to P-521, X25519 (255) and X448
/// (448) among them; the registry raises the floor to the policy's
/// `min_ec_bits` or 255, whichever is lower (X25519 is not a
/// short-Weierstrass curve). Montgomery key pairs are X25519 (255) or
/// X448 (448).
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_ECDH1_DERIVE, EC_MIN, EC_MAX, CKF_DERIVE | EC_CAPS),
    row(
        CKM_ECDH1_COFACTOR_DERIVE,
        EC_MIN,
        EC_MAX,
        CKF_DERIVE | EC_CAPS,
    ),
    row(
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        CURVE25519_BITS,
        CURVE448_BITS,
        CKF_GENERATE_KEY_PAIR | CKF_EC_NAMEDCURVE | CKF_EC_CURVENAME,
    ),
];

/// Derives key material from `base` (an EC or X25519 private key) and the
/// peer's public value in the mechanism parameter. The curves offered all
/// have cofactor 1 or clamp it into the scalar (X25519), so the cofactor
/// variant computes the same value.
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    if !matches!(mech.mech, CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE) {
        return Err(Error::MechanismInvalid);
    }
    let Params::Ecdh {
        kdf,
        shared_data,
        public_data,
    } = &mech.params
    else {
        return Err(Error::MechanismParamInvalid);
    };
    if !matches!(
        base,
        Key::EcPrivate { .. } | Key::MontPrivate(_) | Key::X448Private(_)
    ) {
        return Err(Error::KeyTypeInconsistent);
    }
    // X25519 and X448 are not approved curves: the FIPS build agrees on
    // P-curves only (an imported Montgomery key cannot bring them back).
    if super::provider::FIPS && matches!(base, Key::MontPrivate(_) | Key::X448Private(_)) {
        crate::error::cause::note(&"FIPS mode: ECDH on P-256, P-384 or P-521 only");
        return Err(Error::KeyTypeInconsistent);
    }
    if !info(mech.mech)?.key_size_ok(base.bits()) {
        return Err(Error::KeySizeRange);
    }
    let z = match base {
        Key::EcPrivate { curve, key } => weierstrass_secret(*curve, key, public_data)?,
        Key::MontPrivate(secret) => x25519_secret(secret, public_data)?,
        // X448 (RFC 7748 §6.2): the peer's 56 bytes, raw or DER OCTET
        // STRING; small-order peers and an all-zero Z are refused.
        Key::X448Private(secret) => {
            let peer = Alg448::X448
                .public_from_attr(public_data)
                .ok_or(Error::MechanismParamInvalid)?;
            super::curve448::x448_shared(secret, &peer)?
        }
        _ => return Err(Error::KeyTypeInconsistent),
    };
    match kdf_hash(*kdf)? {
        None => null_kdf(z, len),
        Some((hash, order)) => hash_kdf(
            hash,
            order,
            &z,
            shared_data,
            len.unwrap_or(hash.output_len()),
        ),
    }
}

/// Where a hash KDF puts its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CounterAt {
    /// ANSI X9.63: after Z.
    AfterZ,
    /// SP 800-56C one-step: before Z.
    First,
}

/// The hash and counter position of a CKD_* value (None for CKD_NULL);
/// MechanismParamInvalid for a KDF this module does not have (parameter
/// parsing asks here too, so the two cannot disagree).
pub(super) fn kdf_hash(kdf: CK_EC_KDF_TYPE) -> Result<Option<(HashAlg, CounterAt)>> {
    use CounterAt::{AfterZ, First};
    use HashAlg::*;
    let (hash, order) = match kdf {
        CKD_NULL => return Ok(None),
        CKD_SHA1_KDF => (Sha1, AfterZ),
        CKD_SHA224_KDF => (Sha224, AfterZ),
        CKD_SHA256_KDF => (Sha256, AfterZ),
        CKD_SHA384_KDF => (Sha384, AfterZ),
        CKD_SHA512_KDF => (Sha512, AfterZ),
        CKD_SHA3_224_KDF => (Sha3_224, AfterZ),
        CKD_SHA3_256_KDF => (Sha3_256, AfterZ),
        CKD_SHA3_384_KDF => (Sha3_384, AfterZ),
        CKD_SHA3_512_KDF => (Sha3_512, AfterZ),
        CKD_SHA1_KDF_SP800 => (Sha1, First),
        CKD_SHA224_KDF_SP800 => (Sha224, First),
        CKD_SHA256_KDF_SP800 => (Sha256, First),
        CKD_SHA384_KDF_SP800 => (Sha384, First),
        CKD_SHA512_KDF_SP800 => (Sha512, First),
        CKD_SHA3_224_KDF_SP800 => (Sha3_224, First),
        CKD_SHA3_256_KDF_SP800 => (Sha3_256, First),
        CKD_SHA3_384_KDF_SP800 => (Sha3_384, First),
        CKD_SHA3_512_KDF_SP800 => (Sha3_512, First),
        _ => return Err(Error::MechanismParamInvalid),
    };
    if super::provider::FIPS && hash == Sha3_224 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Some((hash, order)))
}

/// Z for P-256/P-384/P-521. The peer point is a SEC1 point (compressed or
/// uncompressed), raw or DER OCTET STRING; one not on the curve (or the
/// identity) is MechanismParamInvalid.
fn weierstrass_secret(curve: Curve, key: &EcSigningKey, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let peer = EcVerifyingKey::from_sec1(curve, ec::point_from_attr(curve, peer))
        .map_err(|_| Error::MechanismParamInvalid)?;
    // The primitive is the provider's (provider/generation.rs).
    generation::ecdh(key, &peer)
}

/// Z for X25519 (RFC 7748 §6.1). The peer key is 32 bytes, raw or DER
/// OCTET STRING. An all-zero result means the peer sent a small-order
/// point; RFC 7748 §6.1 lets us abort, and we do.
fn x25519_secret(secret: &x25519_dalek::StaticSecret, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let peer = curve25519::public_from_attr(peer).ok_or(Error::MechanismParamInvalid)?;
    generation::x25519(secret, &peer)
}

/// CKD_NULL: Z itself, or its trailing `len` bytes.
fn null_kdf(z: Zeroizing<Vec<u8>>, len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    let Some(len) = len else {
        return Ok(z);
    };
    if len == 0 {
        return Err(Error::KeySizeRange);
    }
    let start = z.len().checked_sub(len).ok_or(Error::KeySizeRange)?;
    Ok(Zeroizing::new(
        z.get(start..).ok_or(Error::KeySizeRange)?.to_vec(),
    ))
}

/// The hash KDFs: ANSI X9.63 (SEC1 §3.6.1), Hash(Z || counter ||
/// shared_data), or SP 800-56C one-step, Hash(counter || Z || shared_data),
/// with a 32-bit big-endian counter from 1.
fn hash_kdf(
    hash: HashAlg,
    order: CounterAt,
    z: &[u8],
    shared_data: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 {
        return Err(Error::KeySizeRange);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut h = hash.hasher();
        match order {
            CounterAt::AfterZ => {
                h.update(z);
                h.update(&counter.to_be_bytes());
            }
            CounterAt::First => {
                h.update(&counter.to_be_bytes());
                h.update(z);
            }
        }
        h.update(shared_data);
        let block = Zeroizing::new(h.finish());
        let take = block.len().min(len.saturating_sub(out.len()));
        out.extend_from_slice(block.get(..take).ok_or(Error::GeneralError)?);
        counter = counter.checked_add(1).ok_or(Error::KeySizeRange)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::curve25519::Alg25519;
    use crate::mechanism::{RawParam, derive as any_derive, generate_ec};
    use crate::test_util::unhex;

    fn ecdh(kdf: CK_EC_KDF_TYPE, shared: &[u8], public: &[u8]) -> Mechanism {
        ecdh_mech(CKM_ECDH1_DERIVE, kdf, shared, public)
    }

    fn ecdh_mech(
        m: CK_MECHANISM_TYPE,
        kdf: CK_EC_KDF_TYPE,
        shared: &[u8],
        public: &[u8],
    ) -> Mechanism {
        let raw = RawParam::Ecdh {
            kdf,
            shared_data: shared.to_vec(),
            public_data: public.to_vec(),
        };
        Mechanism::from_raw(m, &raw).unwrap()
    }

    fn ec_key(curve: Curve) -> Key {
        let parts = generate_ec(&curve.ec_params()).unwrap();
        Key::ec_private(&parts.ec_params, &parts.private_value).unwrap()
    }

    /// RFC 7748 §6.1: Alice and Bob agree on K.
    #[test]
    fn x25519_rfc7748() {
        let params = Alg25519::X25519.ec_params();
        let alice = Key::montgomery_private(
            &params,
            &unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        )
        .unwrap();
        let bob = Key::montgomery_private(
            &params,
            &unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
        )
        .unwrap();
        let k = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let bob_point = bob.ec_point_der().unwrap();
        assert_eq!(
            bob_point[2..],
            unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        // DER-wrapped and raw peer keys, both mechanisms.
        let a = any_derive(&ecdh(CKD_NULL, &[], &bob_point), &alice, None).unwrap();
        assert_eq!(*a, k);
        let cof = ecdh_mech(CKM_ECDH1_COFACTOR_DERIVE, CKD_NULL, &[], &bob_point[2..]);
        assert_eq!(*any_derive(&cof, &alice, None).unwrap(), k);
        let alice_point = alice.ec_point_der().unwrap();
        let b = derive(&ecdh(CKD_NULL, &[], &alice_point[2..]), &bob, None).unwrap();
        assert_eq!(*b, k);
        // Truncation keeps the trailing bytes.
        let short = derive(&ecdh(CKD_NULL, &[], &alice_point), &bob, Some(16)).unwrap();
        assert_eq!(*short, k[16..]);
        assert_eq!(
            derive(&ecdh(CKD_NULL, &[], &alice_point), &bob, Some(33)).unwrap_err(),
            Error::KeySizeRange
        );
        // A small-order peer (u = 0) gives an all-zero secret: refused.
        assert_eq!(
            derive(&ecdh(CKD_NULL, &[], &[0; 32]), &alice, None).unwrap_err(),
            Error::FunctionFailed
        );
        assert_eq!(
            derive(&ecdh(CKD_NULL, &[], &[1; 31]), &alice, None).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    /// NIST CAVS KAS ECC CDH primitive test vectors (SP 800-56A §5.7.1.2,
    /// ecccdhtestvectors.zip), COUNT = 0 of P-192 and of P-224: dIUT with
    /// the peer's QCAVS gives ZIUT. The floor follows the policy: refused
    /// under the default `min_ec_bits` (256), done at 192.
    #[test]
    fn small_curves_cavs_cdh() {
        let cases = [
            (
                Curve::P192,
                "f17d3fea367b74d340851ca4270dcb24c271f445bed9d527",
                "0442ea6dd9969dd2a61fea1aac7f8e98edcc896c6e55857cc0
                 dfbe5d7c61fac88b11811bde328e8a0d12bf01a9d204b523",
                "04b15053401f57285637ec324c1cd2139e3a67de3739234b37
                 f269c158637482aad644cd692dd1d3ef2c8a7c49e389f7f6",
                "803d8ab2e5b6e6fca715737c3a82f7ce3c783124f6d51cd0",
            ),
            (
                Curve::P224,
                "8346a60fc6f293ca5a0d2af68ba71d1dd389e5e40837942df3e43cbd",
                "04af33cd0629bc7e996320a3f40368f74de8704fa37b8fab69abaae280
                 882092ccbba7930f419a8a4f9bb16978bbc3838729992559a6f2e2d7",
                "048de2e26adf72c582d6568ef638c4fd59b18da171bdf501f1d929e048
                 4a68a1c2b0fb22930d120555c1ece50ea98dea8407f71be36efac0de",
                "7d96f9a3bd3c05cf5cc37feb8b9d5209d5c2597464dec3e9983743e8",
            ),
        ];
        for (curve, d, qcavs, qiut, z) in cases {
            let key = Key::ec_private(&curve.ec_params(), &unhex(d)).unwrap();
            assert_eq!(key.ec_point_der().unwrap()[2..], unhex(qiut)[..]);
            let qcavs = unhex(qcavs);
            crate::mechanism::set_min_ec_bits(256);
            assert_eq!(
                derive(&ecdh(CKD_NULL, &[], &qcavs), &key, None).unwrap_err(),
                Error::KeySizeRange
            );
            crate::mechanism::set_min_ec_bits(192);
            assert_eq!(
                *derive(&ecdh(CKD_NULL, &[], &qcavs), &key, None).unwrap(),
                unhex(z)
            );
            let cof = ecdh_mech(CKM_ECDH1_COFACTOR_DERIVE, CKD_NULL, &[], &qcavs);
            assert_eq!(*derive(&cof, &key, None).unwrap(), unhex(z));
            // The SP 800-56C one-step KDF over the same Z.
            let mut input = vec![0, 0, 0, 1];
            input.extend_from_slice(&unhex(z));
            input.extend_from_slice(b"info");
            let sp800 = ecdh(CKD_SHA256_KDF_SP800, b"info", &qcavs);
            assert_eq!(
                *derive(&sp800, &key, Some(32)).unwrap(),
                HashAlg::Sha256.hash(&input)
            );
            // A point of another curve is not the peer's.
            let other = ec_key(Curve::P256).ec_point_der().unwrap();
            assert_eq!(
                derive(&ecdh(CKD_NULL, &[], &other), &key, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        crate::mechanism::set_min_ec_bits(256);
    }

    #[test]
    fn weierstrass_agreement_all_curves() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let a = ec_key(curve);
            let b = ec_key(curve);
            let a_point = a.ec_point_der().unwrap();
            let b_point = b.ec_point_der().unwrap();
            let za = derive(&ecdh(CKD_NULL, &[], &b_point), &a, None).unwrap();
            let zb = derive(&ecdh(CKD_NULL, &[], &a_point), &b, None).unwrap();
            assert_eq!(za.len(), curve.field_bytes());
            assert_eq!(*za, *zb);
            // The raw SEC1 point and the compressed form give the same Z.
            let raw = ec::point_from_attr(curve, &a_point).to_vec();
            assert_eq!(*derive(&ecdh(CKD_NULL, &[], &raw), &b, None).unwrap(), *za);
            let fb = curve.field_bytes();
            let mut compressed = vec![0x02 | (raw[2 * fb] & 1)];
            compressed.extend_from_slice(&raw[1..=fb]);
            assert_eq!(
                *derive(&ecdh(CKD_NULL, &[], &compressed), &b, None).unwrap(),
                *za
            );
            // Both sides of a KDF'd agreement match, for the requested length.
            let ka = derive(&ecdh(CKD_SHA256_KDF, b"info", &b_point), &a, Some(48)).unwrap();
            let kb = derive(&ecdh(CKD_SHA256_KDF, b"info", &raw), &b, Some(48)).unwrap();
            assert_eq!(ka.len(), 48);
            assert_eq!(*ka, *kb);
            assert_eq!(
                *ka,
                *hash_kdf(HashAlg::Sha256, CounterAt::AfterZ, &za, b"info", 48).unwrap()
            );
        }
    }

    #[test]
    fn kdf_default_lengths_and_hashes() {
        let a = ec_key(Curve::P256);
        let b = ec_key(Curve::P256);
        let b_point = b.ec_point_der().unwrap();
        let z = derive(&ecdh(CKD_NULL, &[], &b_point), &a, None).unwrap();
        for (kdf, hash) in [
            (CKD_SHA1_KDF, HashAlg::Sha1),
            (CKD_SHA224_KDF, HashAlg::Sha224),
            (CKD_SHA256_KDF, HashAlg::Sha256),
            (CKD_SHA384_KDF, HashAlg::Sha384),
            (CKD_SHA512_KDF, HashAlg::Sha512),
        ] {
            let k = derive(&ecdh(kdf, &[], &b_point), &a, None).unwrap();
            assert_eq!(k.len(), hash.output_len());
            // Hand-built first block: Hash(Z || 00000001).
            let mut input = z.to_vec();
            input.extend_from_slice(&[0, 0, 0, 1]);
            assert_eq!(*k, hash.hash(&input));
        }
        assert_eq!(
            derive(&ecdh(CKD_SHA256_KDF, &[], &b_point), &a, Some(0)).unwrap_err(),
            Error::KeySizeRange
        );
    }

    /// ANSI X9.63 KDF test vectors (NIST CAVS, SHA-256).
    #[test]
    fn x963_known_answers() {
        let z = unhex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
        assert_eq!(
            *hash_kdf(HashAlg::Sha256, CounterAt::AfterZ, &z, &[], 16).unwrap(),
            unhex("443024c3dae66b95e6f5670601558f71")
        );
        let z = unhex("22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d");
        let info = unhex("75eef81aa3041e33b80971203d2c0c52");
        let expected = unhex(
            "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e
             52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485
             500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269
             142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21",
        );
        assert_eq!(
            *hash_kdf(HashAlg::Sha256, CounterAt::AfterZ, &z, &info, 128).unwrap(),
            expected
        );
    }

    #[test]
    fn refusals() {
        let a = ec_key(Curve::P256);
        let b384 = ec_key(Curve::P384);
        // A point of another curve, garbage, a point not on the curve.
        let p384_point = b384.ec_point_der().unwrap();
        let mut off_curve = vec![0x04];
        off_curve.extend_from_slice(&[1; 64]);
        for bad in [&p384_point[..], &[0x04, 1, 2][..], &off_curve[..]] {
            assert_eq!(
                derive(&ecdh(CKD_NULL, &[], bad), &a, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        let point = a.ec_point_der().unwrap();
        let public = a.to_public().unwrap();
        let secret = Key::secret(CKK_GENERIC_SECRET, &[1; 32]).unwrap();
        let ed = Key::edwards_private(&Alg25519::Ed25519.ec_params(), &[1; 32]).unwrap();
        for base in [&public, &secret, &ed] {
            assert_eq!(
                derive(&ecdh(CKD_NULL, &[], &point), base, None).unwrap_err(),
                Error::KeyTypeInconsistent
            );
        }
        // A wrong parameter kind and a non-ECDH mechanism.
        let none = Mechanism {
            mech: CKM_ECDH1_DERIVE,
            params: Params::None,
        };
        assert_eq!(
            derive(&none, &a, None).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let eddsa = Mechanism::parse(CKM_EDDSA, None).unwrap();
        assert_eq!(
            derive(&eddsa, &a, None).unwrap_err(),
            Error::MechanismInvalid
        );
    }

    #[test]
    fn rows() {
        let row = info(CKM_ECDH1_DERIVE).unwrap();
        assert!(row.flags & CKF_DERIVE != 0);
        assert!(row.key_size_ok(255) && row.key_size_ok(521) && !row.key_size_ok(1024));
        assert!(info(CKM_ECDH1_COFACTOR_DERIVE).is_ok());
        assert_eq!(
            info(CKM_EC_MONTGOMERY_KEY_PAIR_GEN).unwrap().flags & CKF_GENERATE_KEY_PAIR,
            CKF_GENERATE_KEY_PAIR
        );
    }

    /// The SP 800-56C one-step KDF and the SHA-3 X9.63 KDF against an
    /// independent implementation (Python `cryptography` 46: ConcatKDFHash
    /// and X963KDF over Z = 00 01 … 1f).
    #[test]
    fn sp800_and_sha3_kdfs_match_an_independent_implementation() {
        let z: Vec<u8> = (0u8..32).collect();
        let cases: [(CK_EC_KDF_TYPE, &[u8], usize, &str); 3] = [
            (
                CKD_SHA256_KDF_SP800,
                b"info",
                48,
                "c3d6e2a35ac18f4771d72ff4a7e577ea7b98ae7fa6b6f165bbd17d7c1a24b91f\
                 4660044d61757df590f5fbb2b7094ed3",
            ),
            (
                CKD_SHA3_256_KDF_SP800,
                b"",
                40,
                "65f9d9f138c02e35f978c6e3dffc28f13da778cca96321db6cf37c6f31bf70d7\
                 c2f967133709c9e0",
            ),
            (
                CKD_SHA3_384_KDF,
                b"shared",
                50,
                "397d04aa0b3a711ea36e7f2e597fb93ac41bb35765070b22ddff7b13c8ccf0ab\
                 93b9dfceb60e9d9269ee0f62c5a7c20b4c60",
            ),
        ];
        for (kdf, shared, len, want) in cases {
            let (hash, order) = kdf_hash(kdf).unwrap().unwrap();
            let got = hash_kdf(hash, order, &z, shared, len).unwrap();
            assert_eq!(*got, unhex(want), "{kdf:#x}");
        }
        assert_eq!(
            kdf_hash(CKD_SHA1_KDF_ASN1).err(),
            Some(Error::MechanismParamInvalid)
        );
        assert_eq!(
            kdf_hash(CKD_BLAKE2B_256_KDF).err(),
            Some(Error::MechanismParamInvalid)
        );
    }
}
