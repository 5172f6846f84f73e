//! ML-KEM (FIPS 203, PKCS#11 3.2 "ML-KEM"): CKM_ML_KEM_KEY_PAIR_GEN and
//! CKM_ML_KEM (C_EncapsulateKey / C_DecapsulateKey) for ML-KEM-512, -768
//! and -1024. A private key is kept as its 64-byte seed d||z (CKA_SEED,
//! sealed at rest) and expanded when loaded; a public key is the
//! encapsulation key ek (CKA_VALUE). Mechanism-info sizes are the public
//! key's length in bytes, as the spec says.

use cryptoki_sys::*;
use ml_kem::array::Array;
use ml_kem::{
    Decapsulate, DecapsulationKey, EncapsulationKey, KeyExport, MlKem512, MlKem768, MlKem1024,
};
use zeroize::Zeroizing;

use super::{MechInfo, row};
use crate::error::{Error, Result};

/// Length of the private seed d||z.
pub const SEED_LEN: usize = 64;
/// Length of the shared secret.
pub const SHARED_LEN: usize = 32;

/// ek lengths (FIPS 203 table 3): 384k + 32 bytes.
const EK_512: u64 = 800;
const EK_1024: u64 = 1568;

/// Key sizes are the public key's length in bytes (PKCS#11 3.2, "ML-KEM
/// key pair generation" and "ML-KEM Key Agreement").
pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_ML_KEM_KEY_PAIR_GEN,
        EK_512,
        EK_1024,
        CKF_GENERATE_KEY_PAIR,
    ),
    row(
        CKM_ML_KEM,
        EK_512,
        EK_1024,
        CKF_ENCAPSULATE | CKF_DECAPSULATE,
    ),
];

/// CK_ULONG → u64, lossless on every platform.
#[allow(clippy::useless_conversion)]
fn ulong_u64(v: CK_ULONG) -> u64 {
    u64::from(v)
}

/// One of the three parameter sets (CKA_PARAMETER_SET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSet {
    MlKem512,
    MlKem768,
    MlKem1024,
}

impl ParamSet {
    /// From CKA_PARAMETER_SET; another value is
    /// CKR_PARAMETER_SET_NOT_SUPPORTED.
    pub fn from_ckp(v: u64) -> Result<ParamSet> {
        [ParamSet::MlKem512, ParamSet::MlKem768, ParamSet::MlKem1024]
            .into_iter()
            .find(|s| ulong_u64(s.ckp()) == v)
            .ok_or(Error::ParameterSetNotSupported)
    }

    pub fn ckp(self) -> CK_ULONG {
        match self {
            ParamSet::MlKem512 => CKP_ML_KEM_512,
            ParamSet::MlKem768 => CKP_ML_KEM_768,
            ParamSet::MlKem1024 => CKP_ML_KEM_1024,
        }
    }

    /// Length of the encapsulation key.
    pub fn ek_len(self) -> usize {
        match self {
            ParamSet::MlKem512 => 800,
            ParamSet::MlKem768 => 1184,
            ParamSet::MlKem1024 => 1568,
        }
    }

    /// Length of a ciphertext.
    pub fn ct_len(self) -> usize {
        match self {
            ParamSet::MlKem512 => 768,
            ParamSet::MlKem768 => 1088,
            ParamSet::MlKem1024 => 1568,
        }
    }
}

/// An expanded decapsulation key of one parameter set.
#[derive(Clone)]
enum Dk {
    K512(Box<DecapsulationKey<MlKem512>>),
    K768(Box<DecapsulationKey<MlKem768>>),
    K1024(Box<DecapsulationKey<MlKem1024>>),
}

/// An ML-KEM private key: the seed it was made from (what is stored) and
/// its expansion (what decapsulates). The crate zeroizes the expansion on
/// drop; the seed is `Zeroizing`.
#[derive(Clone)]
pub struct MlKemPrivate {
    set: ParamSet,
    seed: Zeroizing<[u8; SEED_LEN]>,
    dk: Dk,
}

/// An ML-KEM public key: the encapsulation key's bytes, checked.
#[derive(Clone)]
pub struct MlKemPublic {
    set: ParamSet,
    ek: Vec<u8>,
}

/// The crate's parameter-set bound is not public: one function per set,
/// written once.
macro_rules! per_set {
    ($expand:ident, $check:ident, $encaps:ident, $p:ty) => {
        fn $expand(seed: &[u8; SEED_LEN]) -> Box<DecapsulationKey<$p>> {
            Box::new(DecapsulationKey::<$p>::from_seed(Array::from(*seed)))
        }

        fn $check(ek: &[u8]) -> Result<EncapsulationKey<$p>> {
            let bytes = Array::try_from(ek).map_err(|_| Error::AttributeValueInvalid)?;
            EncapsulationKey::<$p>::new(&bytes).map_err(|_| Error::AttributeValueInvalid)
        }

        fn $encaps(ek: &[u8], m: &[u8; 32]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
            let key = $check(ek).map_err(|_| Error::GeneralError)?;
            let (ct, k) = key.encapsulate_deterministic(&Array::from(*m));
            Ok((ct.to_vec(), Zeroizing::new(k.to_vec())))
        }
    };
}

per_set!(expand_512, check_512, encaps_512, MlKem512);
per_set!(expand_768, check_768, encaps_768, MlKem768);
per_set!(expand_1024, check_1024, encaps_1024, MlKem1024);

impl MlKemPrivate {
    /// The key of `seed` (d||z, FIPS 203 ML-KEM.KeyGen_internal); a seed
    /// of another length is CKR_ATTRIBUTE_VALUE_INVALID.
    pub fn from_seed(set: ParamSet, seed: &[u8]) -> Result<MlKemPrivate> {
        let seed: [u8; SEED_LEN] = seed.try_into().map_err(|_| Error::AttributeValueInvalid)?;
        let seed = Zeroizing::new(seed);
        let dk = match set {
            ParamSet::MlKem512 => Dk::K512(expand_512(&seed)),
            ParamSet::MlKem768 => Dk::K768(expand_768(&seed)),
            ParamSet::MlKem1024 => Dk::K1024(expand_1024(&seed)),
        };
        Ok(MlKemPrivate { set, seed, dk })
    }

    pub fn set(&self) -> ParamSet {
        self.set
    }

    /// d||z, for CKA_SEED.
    pub fn seed(&self) -> &[u8] {
        self.seed.as_slice()
    }

    /// The encapsulation key.
    pub fn ek(&self) -> Vec<u8> {
        match &self.dk {
            Dk::K512(k) => k.encapsulation_key().to_bytes().to_vec(),
            Dk::K768(k) => k.encapsulation_key().to_bytes().to_vec(),
            Dk::K1024(k) => k.encapsulation_key().to_bytes().to_vec(),
        }
    }

    /// The expanded decapsulation key dk (FIPS 203 encoding), to check a
    /// CKA_VALUE given on import against the seed. The crate marks the
    /// expanded form deprecated as a storage format; it is only compared.
    #[allow(deprecated)]
    pub fn expanded_dk(&self) -> Zeroizing<Vec<u8>> {
        use ml_kem::ExpandedKeyEncoding;
        Zeroizing::new(match &self.dk {
            Dk::K512(k) => k.to_expanded_bytes().to_vec(),
            Dk::K768(k) => k.to_expanded_bytes().to_vec(),
            Dk::K1024(k) => k.to_expanded_bytes().to_vec(),
        })
    }

    pub fn to_public(&self) -> MlKemPublic {
        MlKemPublic {
            set: self.set,
            ek: self.ek(),
        }
    }

    /// ML-KEM.Decaps. A ciphertext of the wrong length is
    /// CKR_WRAPPED_KEY_LEN_RANGE (C_DecapsulateKey's code for it); a
    /// well-sized but wrong one gives the implicit-rejection secret, as
    /// FIPS 203 requires.
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ct.len() != self.set.ct_len() {
            return Err(Error::WrappedKeyLenRange);
        }
        let k = match &self.dk {
            Dk::K512(k) => k.decapsulate_slice(ct),
            Dk::K768(k) => k.decapsulate_slice(ct),
            Dk::K1024(k) => k.decapsulate_slice(ct),
        }
        .map_err(|_| Error::WrappedKeyLenRange)?;
        Ok(Zeroizing::new(k.to_vec()))
    }
}

impl MlKemPublic {
    /// An encapsulation key as given (CKA_VALUE): its length and the
    /// FIPS 203 §7.2 modulus check, else CKR_ATTRIBUTE_VALUE_INVALID.
    pub fn new(set: ParamSet, ek: &[u8]) -> Result<MlKemPublic> {
        match set {
            ParamSet::MlKem512 => check_512(ek).map(drop)?,
            ParamSet::MlKem768 => check_768(ek).map(drop)?,
            ParamSet::MlKem1024 => check_1024(ek).map(drop)?,
        }
        Ok(MlKemPublic {
            set,
            ek: ek.to_vec(),
        })
    }

    pub fn set(&self) -> ParamSet {
        self.set
    }

    pub fn ek(&self) -> &[u8] {
        &self.ek
    }

    /// ML-KEM.Encaps with the module's RNG: (ciphertext, shared secret).
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let mut m = Zeroizing::new([0u8; 32]);
        super::random(m.as_mut_slice())?;
        self.encapsulate_with(&m)
    }

    /// ML-KEM.Encaps_internal with the given randomness (known answers).
    fn encapsulate_with(&self, m: &[u8; 32]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        match self.set {
            ParamSet::MlKem512 => encaps_512(&self.ek, m),
            ParamSet::MlKem768 => encaps_768(&self.ek, m),
            ParamSet::MlKem1024 => encaps_1024(&self.ek, m),
        }
    }
}

/// DER OBJECT IDENTIFIER id-alg-ml-kem-512/768/1024
/// (2.16.840.1.101.3.4.4.1/2/3), the last byte to come.
const OID_PREFIX: [u8; 10] = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04];

fn oid_arc(set: ParamSet) -> u8 {
    match set {
        ParamSet::MlKem512 => 1,
        ParamSet::MlKem768 => 2,
        ParamSet::MlKem1024 => 3,
    }
}

/// A DER TLV with a definite length (long form when needed).
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(body);
    out
}

/// SubjectPublicKeyInfo of an encapsulation key (RFC 9935 / the IETF
/// ML-KEM certificate profile: no algorithm parameters, the raw ek in
/// the BIT STRING), for CKA_PUBLIC_KEY_INFO.
pub fn spki(set: ParamSet, ek: &[u8]) -> Vec<u8> {
    let mut oid = OID_PREFIX.to_vec();
    oid.push(oid_arc(set));
    let alg = tlv(0x30, &oid);
    let mut bits = vec![0u8];
    bits.extend_from_slice(ek);
    let mut body = alg;
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// The set an AlgorithmIdentifier OID (DER, tag and length included)
/// names, if it is id-alg-ml-kem-512/768/1024.
pub fn set_of_oid(oid_der: &[u8]) -> Option<ParamSet> {
    let (prefix, last) = oid_der.split_at_checked(OID_PREFIX.len())?;
    if prefix != OID_PREFIX {
        return None;
    }
    match last {
        [1] => Some(ParamSet::MlKem512),
        [2] => Some(ParamSet::MlKem768),
        [3] => Some(ParamSet::MlKem1024),
        _ => None,
    }
}

/// CKA_PARAMETER_SET in the object layer's canonical CK_ULONG form (u64,
/// little-endian).
pub fn ckp_canonical(set: ParamSet) -> Vec<u8> {
    ulong_u64(set.ckp()).to_le_bytes().to_vec()
}

/// PKCS#8 PrivateKeyInfo (version 1, no public key) of a private key in
/// the IETF ML-KEM private key format's seed choice:
/// `seed [0] IMPLICIT OCTET STRING (SIZE (64))`, the form the token keeps.
pub fn pkcs8_seed(key: &MlKemPrivate) -> Zeroizing<Vec<u8>> {
    let mut oid = OID_PREFIX.to_vec();
    oid.push(oid_arc(key.set));
    let seed = Zeroizing::new(tlv(0x80, key.seed()));
    let inner = Zeroizing::new(tlv(0x04, &seed));
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    body.extend(tlv(0x30, &oid));
    body.extend_from_slice(&inner);
    Zeroizing::new(tlv(0x30, &body))
}

/// Splits one DER TLV off `der`: (tag, contents, rest). Definite lengths
/// up to four length bytes.
fn take_tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    let (body, rest) = rest.split_at_checked(len)?;
    Some((tag, body, rest))
}

/// The private key in a PKCS#8 privateKey OCTET STRING's contents (the
/// IETF ML-KEM-PrivateKey CHOICE): the seed, or both seed and expanded
/// key, which must then agree. The expanded key alone is refused: the
/// token keeps keys as seeds. Anything else is AttributeValueInvalid
/// (the caller reports CKR_WRAPPED_KEY_INVALID).
pub fn private_from_pkcs8(set: ParamSet, inner: &[u8]) -> Result<MlKemPrivate> {
    let bad = Error::AttributeValueInvalid;
    let (tag, body, rest) = take_tlv(inner).ok_or(bad)?;
    if !rest.is_empty() {
        return Err(bad);
    }
    match tag {
        0x80 => MlKemPrivate::from_seed(set, body),
        0x30 => {
            let (t1, seed, rest) = take_tlv(body).ok_or(bad)?;
            let (t2, dk, rest) = take_tlv(rest).ok_or(bad)?;
            if t1 != 0x04 || t2 != 0x04 || !rest.is_empty() {
                return Err(bad);
            }
            let key = MlKemPrivate::from_seed(set, seed)?;
            if key.expanded_dk().as_slice() != dk {
                return Err(bad);
            }
            Ok(key)
        }
        _ => Err(bad),
    }
}

/// A new key pair: (seed d||z, encapsulation key).
pub fn generate(set: ParamSet) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut seed = Zeroizing::new(vec![0u8; SEED_LEN]);
    super::random(&mut seed)?;
    let key = MlKemPrivate::from_seed(set, &seed)?;
    Ok((seed, key.ek()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    #[test]
    fn round_trip_every_set() {
        for set in [ParamSet::MlKem512, ParamSet::MlKem768, ParamSet::MlKem1024] {
            let (seed, ek) = generate(set).unwrap();
            assert_eq!(ek.len(), set.ek_len());
            let private = MlKemPrivate::from_seed(set, &seed).unwrap();
            assert_eq!(private.ek(), ek);
            assert_eq!(private.seed(), seed.as_slice());
            let public = MlKemPublic::new(set, &ek).unwrap();
            let (ct, k) = public.encapsulate().unwrap();
            assert_eq!(ct.len(), set.ct_len());
            assert_eq!(k.len(), SHARED_LEN);
            assert_eq!(private.decapsulate(&ct).unwrap(), k);
            // Implicit rejection: an altered ciphertext gives another key.
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_ne!(private.decapsulate(&bad).unwrap(), k);
            assert_eq!(
                private.decapsulate(&ct[1..]).unwrap_err(),
                Error::WrappedKeyLenRange
            );
        }
    }

    #[test]
    fn checks() {
        assert_eq!(
            ParamSet::from_ckp(4).unwrap_err(),
            Error::ParameterSetNotSupported
        );
        assert_eq!(
            ParamSet::from_ckp(ulong_u64(CKP_ML_KEM_768)),
            Ok(ParamSet::MlKem768)
        );
        assert_eq!(
            MlKemPrivate::from_seed(ParamSet::MlKem512, &[1; 63])
                .err()
                .unwrap(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            MlKemPublic::new(ParamSet::MlKem768, &[0; 800])
                .err()
                .unwrap(),
            Error::AttributeValueInvalid
        );
        // Coefficients of 0xfff are above q = 3329: refused.
        assert_eq!(
            MlKemPublic::new(ParamSet::MlKem512, &[0xff; 800])
                .err()
                .unwrap(),
            Error::AttributeValueInvalid
        );
    }

    /// Deterministic encapsulation agrees with decapsulation, and differs
    /// with m.
    #[test]
    fn deterministic_encapsulation() {
        let seed = unhex(&"01".repeat(64));
        let private = MlKemPrivate::from_seed(ParamSet::MlKem768, &seed).unwrap();
        let public = private.to_public();
        let (ct1, k1) = public.encapsulate_with(&[7; 32]).unwrap();
        let (ct2, k2) = public.encapsulate_with(&[7; 32]).unwrap();
        assert_eq!((ct1.clone(), k1.clone()), (ct2, k2));
        let (ct3, _) = public.encapsulate_with(&[8; 32]).unwrap();
        assert_ne!(ct1, ct3);
        assert_eq!(private.decapsulate(&ct1).unwrap(), k1);
    }

    #[test]
    fn spki_shape() {
        let d = spki(ParamSet::MlKem768, &[0; 1184]);
        // 30 82 04 b2 | 30 0b 06 09 60 86 48 01 65 03 04 04 02 | 03 82 04 a1 00 ..
        assert_eq!(&d[..4], &[0x30, 0x82, 0x04, 0xb2]);
        assert_eq!(&d[4..17], &unhex("300b0609608648016503040402")[..]);
        assert_eq!(&d[17..22], &[0x03, 0x82, 0x04, 0xa1, 0x00]);
        assert_eq!(d.len(), 4 + 0x4b2);
    }

    #[test]
    fn pkcs8_forms() {
        let key = MlKemPrivate::from_seed(ParamSet::MlKem768, &[9; 64]).unwrap();
        let der = pkcs8_seed(&key);
        // 30 54 | 02 01 00 | 30 0b 06 09 ..04 04 02 | 04 42 80 40 <seed>
        assert_eq!(der.len(), 86);
        assert_eq!(&der[..5], &[0x30, 0x54, 0x02, 0x01, 0x00]);
        assert_eq!(&der[5..18], &unhex("300b0609608648016503040402")[..]);
        assert_eq!(&der[18..22], &[0x04, 0x42, 0x80, 0x40]);
        assert_eq!(&der[22..], &[9; 64][..]);
        assert_eq!(set_of_oid(&der[7..18]), Some(ParamSet::MlKem768));
        let inner = &der[20..];
        let back = private_from_pkcs8(ParamSet::MlKem768, inner).unwrap();
        assert_eq!(back.seed(), key.seed());
        // "both": seed and the matching expanded key; a wrong one refused.
        let dk = key.expanded_dk();
        let mut both = tlv(0x04, key.seed());
        both.extend(tlv(0x04, &dk));
        let both = tlv(0x30, &both);
        assert!(private_from_pkcs8(ParamSet::MlKem768, &both).is_ok());
        let mut bad_dk = dk.to_vec();
        bad_dk[0] ^= 1;
        let mut wrong = tlv(0x04, key.seed());
        wrong.extend(tlv(0x04, &bad_dk));
        let wrong = tlv(0x30, &wrong);
        assert!(private_from_pkcs8(ParamSet::MlKem768, &wrong).is_err());
        // The expanded key alone, trailing bytes, a short seed: refused.
        assert!(private_from_pkcs8(ParamSet::MlKem768, &tlv(0x04, &dk)).is_err());
        let mut trailing = inner.to_vec();
        trailing.push(0);
        assert!(private_from_pkcs8(ParamSet::MlKem768, &trailing).is_err());
        assert!(private_from_pkcs8(ParamSet::MlKem768, &tlv(0x80, &[1; 63])).is_err());
    }

    #[test]
    fn debug_redacts() {
        let private = MlKemPrivate::from_seed(ParamSet::MlKem512, &[0xab; 64]).unwrap();
        let key = crate::mechanism::Key::MlKemPrivate(Box::new(private));
        let text = format!("{key:?}");
        assert!(!text.contains("ab, ab") && !text.contains("171"), "{text}");
        assert!(text.contains("redacted"));
    }
}
