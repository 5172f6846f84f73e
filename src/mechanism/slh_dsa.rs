//! SLH-DSA (FIPS 205, PKCS#11 3.2 "SLH-DSA"): the CKK_SLH_DSA key material
//! (a private key is FIPS 205's SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root, the
//! CKA_VALUE the spec gives it), CKM_SLH_DSA_KEY_PAIR_GEN for the twelve
//! parameter sets, CKM_SLH_DSA with the optional CK_SIGN_ADDITIONAL_CONTEXT
//! (hedge variant and context), HashSLH-DSA (CKM_HASH_SLH_DSA on a
//! caller's hash, CKM_HASH_SLH_DSA_<hash> hashing here), and the SPKI /
//! PKCS#8 encodings of the IETF LAMPS SLH-DSA profile (id-slh-dsa-*).
//!
//! As for ML-DSA, the spec's table lets CKM_SLH_DSA sign in parts but
//! verify in parts only through C_VerifySignature*; CKM_HASH_SLH_DSA is
//! single-part; the mechanisms that hash here do both.
//!
//! Built on RustCrypto's `slh-dsa`: its FIPS 205 `slh_sign_internal` /
//! `slh_verify_internal` take the message M′ we frame here (Algorithms 22
//! and 23: domain byte, context length, context, then M or OID ‖ PH(M)),
//! so pure and pre-hash signatures share one path.

use std::sync::Arc;

use ::slh_dsa::{
    Sha2_128f, Sha2_128s, Sha2_192f, Sha2_192s, Sha2_256f, Sha2_256s, Shake128f, Shake128s,
    Shake192f, Shake192s, Shake256f, Shake256s, Signature, SigningKey, VerifyingKey,
};
use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::ml_dsa::{Hedge, PreHash};
use super::registry::{Family, Generates};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{Layout, MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// The parameter sets, their crate types and their facts: CKP value,
/// name, last arc of id-slh-dsa-* (2.16.840.1.101.3.4.3.x, NIST CSOR), n
/// and the signature length (FIPS 205 Table 2).
macro_rules! parameter_sets {
    ($( $v:ident: $t:ty, $ckp:ident, $name:literal, $arc:literal, $n:literal, $sig:literal; )*) => {
        /// The twelve parameter sets (CKA_PARAMETER_SET, CKP_SLH_DSA_*).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ParamSet {
            $($v),*
        }

        impl ParamSet {
            pub const ALL: [ParamSet; 12] = [$(ParamSet::$v),*];

            /// From CKA_PARAMETER_SET; any other value is
            /// CKR_ATTRIBUTE_VALUE_INVALID.
            pub fn from_ckp(value: CK_ULONG) -> Result<ParamSet> {
                match value {
                    $($ckp => Ok(ParamSet::$v),)*
                    _ => Err(Error::AttributeValueInvalid),
                }
            }

            pub fn ckp(self) -> CK_ULONG {
                match self {
                    $(ParamSet::$v => $ckp,)*
                }
            }

            /// The name the CLI and logs use.
            pub fn name(self) -> &'static str {
                match self {
                    $(ParamSet::$v => $name,)*
                }
            }

            /// n, the security parameter in bytes (each seed's length).
            pub fn n(self) -> usize {
                match self {
                    $(ParamSet::$v => $n,)*
                }
            }

            /// Signature length in bytes (FIPS 205 Table 2).
            pub fn signature_len(self) -> usize {
                match self {
                    $(ParamSet::$v => $sig,)*
                }
            }

            fn oid_last_arc(self) -> u8 {
                match self {
                    $(ParamSet::$v => $arc,)*
                }
            }
        }

        /// A signing key of one parameter set (zeroized on drop by the
        /// crate).
        #[derive(Clone)]
        enum Signer {
            $($v(Box<SigningKey<$t>>)),*
        }

        #[derive(Clone)]
        enum Verifier {
            $($v(Box<VerifyingKey<$t>>)),*
        }

        impl Signer {
            /// slh_keygen_internal (FIPS 205 Algorithm 18); each seed is
            /// n bytes (checked by the caller: the crate panics otherwise).
            fn keygen(set: ParamSet, sk_seed: &[u8], sk_prf: &[u8], pk_seed: &[u8]) -> Signer {
                match set {
                    $(ParamSet::$v => Signer::$v(Box::new(
                        SigningKey::<$t>::slh_keygen_internal(sk_seed, sk_prf, pk_seed),
                    )),)*
                }
            }

            /// A stored private key, taken as it is (4n bytes, else
            /// None): no PK.root recomputation.
            fn from_stored(set: ParamSet, sk: &[u8]) -> Option<Signer> {
                match set {
                    $(ParamSet::$v => SigningKey::<$t>::try_from(sk)
                        .ok()
                        .map(|k| Signer::$v(Box::new(k))),)*
                }
            }

            fn param_set(&self) -> ParamSet {
                match self {
                    $(Signer::$v(_) => ParamSet::$v,)*
                }
            }

            /// SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root.
            fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                match self {
                    $(Signer::$v(k) => Zeroizing::new(k.to_vec()),)*
                }
            }

            fn public(&self) -> Verifier {
                match self {
                    $(Signer::$v(k) => {
                        let vk: &VerifyingKey<$t> = (**k).as_ref();
                        Verifier::$v(Box::new(vk.clone()))
                    })*
                }
            }

            /// slh_sign_internal (Algorithm 19) of M′ given in parts;
            /// `rand` is n bytes (the caller's hedge) or None (PK.seed:
            /// the deterministic variant).
            fn sign_internal(&self, m: &[&[u8]], rand: Option<&[u8]>) -> Vec<u8> {
                match self {
                    $(Signer::$v(k) => k.slh_sign_internal(m, rand).to_vec(),)*
                }
            }
        }

        impl Verifier {
            fn from_bytes(set: ParamSet, pk: &[u8]) -> Option<Verifier> {
                match set {
                    $(ParamSet::$v => VerifyingKey::<$t>::try_from(pk)
                        .ok()
                        .map(|k| Verifier::$v(Box::new(k))),)*
                }
            }

            fn param_set(&self) -> ParamSet {
                match self {
                    $(Verifier::$v(_) => ParamSet::$v,)*
                }
            }

            /// PK.seed ‖ PK.root.
            fn to_bytes(&self) -> Vec<u8> {
                match self {
                    $(Verifier::$v(k) => k.to_vec(),)*
                }
            }

            /// slh_verify_internal (Algorithm 20) of M′ given in parts.
            fn verify_internal(&self, m: &[&[u8]], sig: &[u8]) -> bool {
                match self {
                    $(Verifier::$v(k) => Signature::<$t>::try_from(sig)
                        .is_ok_and(|s| k.slh_verify_internal(m, &s).is_ok()),)*
                }
            }
        }

        #[cfg(test)]
        /// The crate's own OID of each set, to check ours against.
        fn crate_oid(set: ParamSet) -> Vec<u8> {
            use ::slh_dsa::ParameterSet as _;
            match set {
                $(ParamSet::$v => <$t>::ALGORITHM_OID.as_bytes().to_vec(),)*
            }
        }
    };
}

parameter_sets! {
    Sha2_128s: Sha2_128s, CKP_SLH_DSA_SHA2_128S, "slh-dsa-sha2-128s", 20, 16, 7856;
    Shake128s: Shake128s, CKP_SLH_DSA_SHAKE_128S, "slh-dsa-shake-128s", 26, 16, 7856;
    Sha2_128f: Sha2_128f, CKP_SLH_DSA_SHA2_128F, "slh-dsa-sha2-128f", 21, 16, 17088;
    Shake128f: Shake128f, CKP_SLH_DSA_SHAKE_128F, "slh-dsa-shake-128f", 27, 16, 17088;
    Sha2_192s: Sha2_192s, CKP_SLH_DSA_SHA2_192S, "slh-dsa-sha2-192s", 22, 24, 16224;
    Shake192s: Shake192s, CKP_SLH_DSA_SHAKE_192S, "slh-dsa-shake-192s", 28, 24, 16224;
    Sha2_192f: Sha2_192f, CKP_SLH_DSA_SHA2_192F, "slh-dsa-sha2-192f", 23, 24, 35664;
    Shake192f: Shake192f, CKP_SLH_DSA_SHAKE_192F, "slh-dsa-shake-192f", 29, 24, 35664;
    Sha2_256s: Sha2_256s, CKP_SLH_DSA_SHA2_256S, "slh-dsa-sha2-256s", 24, 32, 29792;
    Shake256s: Shake256s, CKP_SLH_DSA_SHAKE_256S, "slh-dsa-shake-256s", 30, 32, 29792;
    Sha2_256f: Sha2_256f, CKP_SLH_DSA_SHA2_256F, "slh-dsa-sha2-256f", 25, 32, 49856;
    Shake256f: Shake256f, CKP_SLH_DSA_SHAKE_256F, "slh-dsa-shake-256f", 31, 32, 49856;
}

/// Longest context string FIPS 205 allows (Algorithm 22).
pub const MAX_CONTEXT_LEN: usize = 255;

/// Public key sizes in bytes (2n): the unit the 3.2 spec gives for the
/// mechanisms' ulMinKeySize / ulMaxKeySize.
const PK_MIN: u64 = 32;
const PK_MAX: u64 = 64;

impl ParamSet {
    /// Public key length, 2n bytes.
    pub fn public_len(self) -> usize {
        self.n().saturating_mul(2)
    }

    /// Private key length (CKA_VALUE), 4n bytes.
    pub fn private_len(self) -> usize {
        self.n().saturating_mul(4)
    }

    /// The DER AlgorithmIdentifier (parameters absent, as the IETF
    /// profile requires).
    fn algorithm_identifier(self) -> [u8; 13] {
        [
            0x30,
            0x0b,
            0x06,
            0x09,
            0x60,
            0x86,
            0x48,
            0x01,
            0x65,
            0x03,
            0x04,
            0x03,
            self.oid_last_arc(),
        ]
    }

    /// The parameter set whose id-slh-dsa-* OID (DER, tag and length
    /// included) is `der`.
    pub fn from_oid_der(der: &[u8]) -> Option<ParamSet> {
        ParamSet::ALL
            .into_iter()
            .find(|p| p.algorithm_identifier().get(2..) == Some(der))
    }
}

const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;

/// Key generation and signatures (SLH-DSA, HashSLH-DSA on a caller's
/// hash, HashSLH-DSA hashing here). Key sizes are public key bytes.
pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_SLH_DSA_KEY_PAIR_GEN,
        PK_MIN,
        PK_MAX,
        CKF_GENERATE_KEY_PAIR,
    ),
    row(CKM_SLH_DSA, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA224, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA256, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA384, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA512, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA3_224, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA3_256, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA3_384, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHA3_512, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHAKE128, PK_MIN, PK_MAX, SIGN),
    row(CKM_HASH_SLH_DSA_SHAKE256, PK_MIN, PK_MAX, SIGN),
];

/// The hash of CKM_HASH_SLH_DSA_<hash> (the spec's Table 1 for it).
fn hash_of_mechanism(mech: CK_MECHANISM_TYPE) -> Option<PreHash> {
    Some(match mech {
        CKM_HASH_SLH_DSA_SHA224 => PreHash::Sha224,
        CKM_HASH_SLH_DSA_SHA256 => PreHash::Sha256,
        CKM_HASH_SLH_DSA_SHA384 => PreHash::Sha384,
        CKM_HASH_SLH_DSA_SHA512 => PreHash::Sha512,
        CKM_HASH_SLH_DSA_SHA3_224 => PreHash::Sha3_224,
        CKM_HASH_SLH_DSA_SHA3_256 => PreHash::Sha3_256,
        CKM_HASH_SLH_DSA_SHA3_384 => PreHash::Sha3_384,
        CKM_HASH_SLH_DSA_SHA3_512 => PreHash::Sha3_512,
        CKM_HASH_SLH_DSA_SHAKE128 => PreHash::Shake128,
        CKM_HASH_SLH_DSA_SHAKE256 => PreHash::Shake256,
        _ => return None,
    })
}

/// Whether `mech` takes CK_SIGN_ADDITIONAL_CONTEXT.
pub(super) fn takes_sign_context(mech: CK_MECHANISM_TYPE) -> bool {
    mech == CKM_SLH_DSA || hash_of_mechanism(mech).is_some()
}

/// An SLH-DSA private key.
#[derive(Clone)]
pub struct SlhDsaPrivate {
    key: Signer,
}

/// An SLH-DSA public key.
#[derive(Clone)]
pub struct SlhDsaPublic {
    key: Verifier,
}

/// SK.seed, SK.prf, PK.seed and PK.root of a private key.
type Parts<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

/// The parts of a private key, each checked to be n bytes.
fn seeds(set: ParamSet, sk: &[u8]) -> Result<Parts<'_>> {
    let bad = Error::AttributeValueInvalid;
    if sk.len() != set.private_len() {
        return Err(bad);
    }
    let n = set.n();
    let (sk_seed, rest) = sk.split_at_checked(n).ok_or(bad)?;
    let (sk_prf, rest) = rest.split_at_checked(n).ok_or(bad)?;
    let (pk_seed, pk_root) = rest.split_at_checked(n).ok_or(bad)?;
    Ok((sk_seed, sk_prf, pk_seed, pk_root))
}

impl SlhDsaPrivate {
    /// The private key CKA_VALUE holds (SK.seed ‖ SK.prf ‖ PK.seed ‖
    /// PK.root, 4n bytes). PK.root is recomputed from the seeds and must
    /// match: a key whose halves disagree is CKR_ATTRIBUTE_VALUE_INVALID,
    /// not a key that signs what its public key never verifies.
    pub fn from_bytes(set: ParamSet, sk: &[u8]) -> Result<SlhDsaPrivate> {
        let (sk_seed, sk_prf, pk_seed, pk_root) = seeds(set, sk)?;
        let key = Signer::keygen(set, sk_seed, sk_prf, pk_seed);
        let public = key.public().to_bytes();
        if public.get(set.n()..) != Some(pk_root) {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(SlhDsaPrivate { key })
    }

    /// A private key the token stored after checking it as above: loaded
    /// without rebuilding PK.root (a top XMSS tree: about 20 s for the
    /// SHAKE 's' sets in a debug build, on every load otherwise).
    pub fn from_stored_bytes(set: ParamSet, sk: &[u8]) -> Result<SlhDsaPrivate> {
        let key = Signer::from_stored(set, sk).ok_or(Error::AttributeValueInvalid)?;
        Ok(SlhDsaPrivate { key })
    }

    pub fn param_set(&self) -> ParamSet {
        self.key.param_set()
    }

    /// CKA_VALUE (key material).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.key.to_bytes()
    }

    pub fn public(&self) -> SlhDsaPublic {
        SlhDsaPublic {
            key: self.key.public(),
        }
    }

    /// slh_sign / hash_slh_sign (FIPS 205 Algorithms 22, 23) of M′'s
    /// parts: hedged with n bytes from the module's RNG, or deterministic
    /// (opt_rand = PK.seed).
    fn sign(&self, m_prime: &[&[u8]], deterministic: bool) -> Result<Vec<u8>> {
        if deterministic {
            return Ok(self.key.sign_internal(m_prime, None));
        }
        let mut rand = Zeroizing::new(vec![0u8; self.param_set().n()]);
        super::random(rand.as_mut_slice())?;
        Ok(self.key.sign_internal(m_prime, Some(rand.as_slice())))
    }
}

impl SlhDsaPublic {
    /// CKA_VALUE of a public key (PK.seed ‖ PK.root, 2n bytes); a wrong
    /// length is CKR_ATTRIBUTE_VALUE_INVALID.
    pub fn from_bytes(set: ParamSet, pk: &[u8]) -> Result<SlhDsaPublic> {
        let key = Verifier::from_bytes(set, pk).ok_or(Error::AttributeValueInvalid)?;
        Ok(SlhDsaPublic { key })
    }

    pub fn param_set(&self) -> ParamSet {
        self.key.param_set()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.key.to_bytes()
    }

    /// DER SubjectPublicKeyInfo: the algorithm identifier and the raw
    /// public key in a BIT STRING. Every length fits one DER byte (a
    /// public key is at most 64 bytes).
    pub fn spki(&self) -> Vec<u8> {
        let pk = self.to_bytes();
        let alg = self.param_set().algorithm_identifier();
        let bits_len = pk.len().saturating_add(1);
        let body = alg.len().saturating_add(2).saturating_add(bits_len);
        let mut out = Vec::with_capacity(body.saturating_add(2));
        out.push(0x30);
        out.push(u8::try_from(body).unwrap_or(0));
        out.extend_from_slice(&alg);
        out.push(0x03);
        out.push(u8::try_from(bits_len).unwrap_or(0));
        out.push(0);
        out.extend_from_slice(&pk);
        out
    }

    /// slh_verify / hash_slh_verify of M′'s parts. A signature of the
    /// wrong length is CKR_SIGNATURE_LEN_RANGE; one that does not verify,
    /// CKR_SIGNATURE_INVALID.
    fn verify(&self, m_prime: &[&[u8]], signature: &[u8]) -> Result<()> {
        if signature.len() != self.param_set().signature_len() {
            return Err(Error::SignatureLenRange);
        }
        if self.key.verify_internal(m_prime, signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// The PKCS#8 PrivateKeyInfo of a private key: privateKey's OCTET STRING
/// holds the 4n-byte private key itself (the IETF LAMPS SLH-DSA profile).
pub fn pkcs8(key: &SlhDsaPrivate) -> Zeroizing<Vec<u8>> {
    let alg = key.param_set().algorithm_identifier();
    let sk = key.to_bytes();
    // 3 (version) + 13 (algorithm) + 2 + 4n (privateKey), 4n <= 128: the
    // inner lengths fit one byte, the outer one may need 0x81.
    let octets_len = u8::try_from(sk.len()).unwrap_or(0);
    let body = 3usize
        .saturating_add(alg.len())
        .saturating_add(2)
        .saturating_add(sk.len());
    let mut out = Zeroizing::new(Vec::with_capacity(body.saturating_add(3)));
    out.push(0x30);
    match u8::try_from(body) {
        Ok(b) if b < 0x80 => out.push(b),
        Ok(b) => out.extend_from_slice(&[0x81, b]),
        Err(_) => out.push(0),
    }
    out.extend_from_slice(&[0x02, 0x01, 0x00]);
    out.extend_from_slice(&alg);
    out.extend_from_slice(&[0x04, octets_len]);
    out.extend_from_slice(&sk);
    out
}

/// The private key of a PKCS#8 SLH-DSA PrivateKeyInfo: `private_key` is
/// privateKey's contents, the 4n-byte key (checked as on import).
pub fn from_pkcs8(set: ParamSet, private_key: &[u8]) -> Result<SlhDsaPrivate> {
    SlhDsaPrivate::from_bytes(set, private_key).map_err(|_| Error::WrappedKeyInvalid)
}

/// A fresh key pair's private key (slh_keygen, FIPS 205 Algorithm 21: the
/// three seeds from the module's RNG).
pub fn generate(set: ParamSet) -> Result<SlhDsaPrivate> {
    let n = set.n();
    let mut seeds = Zeroizing::new(vec![0u8; n.saturating_mul(3)]);
    super::random(seeds.as_mut_slice())?;
    let (sk_seed, rest) = seeds.split_at_checked(n).ok_or(Error::GeneralError)?;
    let (sk_prf, pk_seed) = rest.split_at_checked(n).ok_or(Error::GeneralError)?;
    Ok(SlhDsaPrivate {
        key: Signer::keygen(set, sk_seed, sk_prf, pk_seed),
    })
}

/// A fresh SLH-DSA private key of the parameter set CKA_PARAMETER_SET
/// names (C_GenerateKeyPair; the object layer checked the value).
pub fn generate_slh_dsa(parameter_set: CK_ULONG) -> Result<Key> {
    let set = ParamSet::from_ckp(parameter_set)?;
    Ok(Key::SlhDsaPrivate(Box::new(generate(set)?)))
}

/// What the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The message, for SLH-DSA (CKM_SLH_DSA).
    Pure,
    /// A hash the caller made (CKM_HASH_SLH_DSA): exactly its length.
    PreHashed(PreHash),
    /// The message, hashed here (CKM_HASH_SLH_DSA_<hash>).
    Hashing(PreHash),
}

/// The variant, hedge and context of `mech` (defaults without a
/// parameter; CKM_HASH_SLH_DSA needs its parameter, to name the hash).
fn settings(mech: &Mechanism) -> Result<(Variant, Hedge, Vec<u8>)> {
    let variant = match (mech.mech, hash_of_mechanism(mech.mech)) {
        (CKM_SLH_DSA, _) => Variant::Pure,
        (_, Some(h)) => Variant::Hashing(h),
        (CKM_HASH_SLH_DSA, None) => {
            return match &mech.params {
                Params::HashSignContext {
                    hedge,
                    context,
                    hash,
                } => Ok((Variant::PreHashed(*hash), *hedge, context.clone())),
                _ => Err(Error::MechanismParamInvalid),
            };
        }
        _ => return Err(Error::MechanismInvalid),
    };
    match &mech.params {
        Params::None => Ok((variant, Hedge::Preferred, Vec::new())),
        Params::SignContext { hedge, context } => Ok((variant, *hedge, context.clone())),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Builds M′ (FIPS 205 Algorithms 22 and 23) around the data and hands
/// its parts to `f`: 0 ‖ |ctx| ‖ ctx ‖ M for SLH-DSA, 1 ‖ |ctx| ‖ ctx ‖
/// OID(PH) ‖ PH(M) for HashSLH-DSA. A pre-hash of the wrong length is
/// CKR_DATA_LEN_RANGE.
fn with_m_prime<T>(
    variant: Variant,
    context: &[u8],
    data: &[u8],
    f: impl FnOnce(&[&[u8]]) -> Result<T>,
) -> Result<T> {
    let ctx_len = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
    match variant {
        Variant::Pure => f(&[&[0, ctx_len], context, data]),
        Variant::PreHashed(h) if data.len() == h.len() => {
            f(&[&[1, ctx_len], context, &h.oid_der(), data])
        }
        Variant::PreHashed(_) => Err(Error::DataLenRange),
        Variant::Hashing(h) => f(&[&[1, ctx_len], context, &h.oid_der(), &h.digest(data)]),
    }
}

/// Appends a part to the message kept for the end (SLH-DSA signs the
/// whole message), reserving fallibly: CKR_HOST_MEMORY, not an abort.
fn append_message(message: &mut Option<Vec<u8>>, data: &[u8]) -> Result<()> {
    let message = message.as_mut().ok_or(Error::OperationNotInitialized)?;
    message
        .try_reserve(data.len())
        .map_err(|_| Error::HostMemory)?;
    message.extend_from_slice(data);
    Ok(())
}

struct SlhDsaSign {
    key: Arc<Key>,
    variant: Variant,
    deterministic: bool,
    context: Vec<u8>,
    message: Option<Vec<u8>>,
}

impl SignOp for SlhDsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        append_message(&mut self.message, data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        let Key::SlhDsaPrivate(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let det = self.deterministic;
        with_m_prime(self.variant, &self.context, &message, |m| k.sign(m, det))
    }

    fn sign_len(&self) -> usize {
        match &*self.key {
            Key::SlhDsaPrivate(k) => k.param_set().signature_len(),
            _ => 0,
        }
    }
}

struct SlhDsaVerify {
    key: Arc<Key>,
    variant: Variant,
    context: Vec<u8>,
    message: Option<Vec<u8>>,
}

impl VerifyOp for SlhDsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        append_message(&mut self.message, data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        let Key::SlhDsaPublic(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        with_m_prime(self.variant, &self.context, &message, |m| {
            k.verify(m, signature)
        })
    }
}

/// Starts an SLH-DSA signature; the key must be an SLH-DSA private key.
fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    let (variant, hedge, context) = settings(mech)?;
    if !matches!(*key, Key::SlhDsaPrivate(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(SlhDsaSign {
        key,
        variant,
        deterministic: hedge == Hedge::Deterministic,
        context,
        message: Some(Vec::new()),
    }))
}

/// Starts an SLH-DSA verification; the hedge variant is ignored (the
/// spec: "On verification the hedgeVariant parameter is ignored").
fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    let (variant, _, context) = settings(mech)?;
    if !matches!(*key, Key::SlhDsaPublic(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(SlhDsaVerify {
        key,
        variant,
        context,
        message: Some(Vec::new()),
    }))
}

/// The SLH-DSA family: key-pair generation, CKM_SLH_DSA and HashSLH-DSA.
pub struct SlhDsaFamily;

impl Family for SlhDsaFamily {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_SLH_DSA_KEY_PAIR_GEN).then_some(Generates::Pair(CKK_SLH_DSA))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_HASH_SLH_DSA => Layout::HashSignAdditionalContext,
            _ if takes_sign_context(mech) => Layout::SignAdditionalContext,
            _ => Layout::Flat,
        }
    }
    /// The spec's table: CKM_HASH_SLH_DSA (a caller's hash) is
    /// single-part; CKM_SLH_DSA signs in parts (the message is kept until
    /// the end) but verifies in parts only through C_VerifySignature*; the
    /// mechanisms that hash on the token do both.
    fn multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        mech == CKM_SLH_DSA || hash_of_mechanism(mech).is_some()
    }
    fn verify_multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        hash_of_mechanism(mech).is_some()
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        if input.is_some() {
            return Err(Error::SavedStateInvalid);
        }
        sign_init(mech, key)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        if input.is_some() {
            return Err(Error::SavedStateInvalid);
        }
        verify_init(mech, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(set: ParamSet) -> (Arc<Key>, Arc<Key>) {
        let k = generate(set).unwrap();
        let public = Key::SlhDsaPublic(Box::new(k.public()));
        (Arc::new(Key::SlhDsaPrivate(Box::new(k))), Arc::new(public))
    }

    fn run_sign(
        key: &Arc<Key>,
        mech: CK_MECHANISM_TYPE,
        params: Params,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let mut op = sign_init(&Mechanism { mech, params }, key.clone())?;
        op.update(msg)?;
        op.finish()
    }

    fn run_verify(
        key: &Arc<Key>,
        mech: CK_MECHANISM_TYPE,
        params: Params,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        let mut op = verify_init(&Mechanism { mech, params }, key.clone())?;
        op.update(msg)?;
        op.finish(sig)
    }

    fn det(context: &[u8]) -> Params {
        Params::SignContext {
            hedge: Hedge::Deterministic,
            context: context.to_vec(),
        }
    }

    /// Our OIDs are the crate's (and so NIST CSOR's), and the CKP values
    /// round-trip.
    #[test]
    fn parameter_set_table() {
        for set in ParamSet::ALL {
            assert_eq!(
                set.algorithm_identifier().get(4..).unwrap(),
                crate_oid(set).as_slice(),
                "{}",
                set.name()
            );
            assert_eq!(ParamSet::from_ckp(set.ckp()), Ok(set));
            assert_eq!(
                ParamSet::from_oid_der(&set.algorithm_identifier()[2..]),
                Some(set)
            );
        }
        assert_eq!(ParamSet::from_ckp(0), Err(Error::AttributeValueInvalid));
        assert_eq!(ParamSet::from_ckp(13), Err(Error::AttributeValueInvalid));
    }

    /// M′ as framed here for the pure variant gives the crate's own
    /// deterministic FIPS 205 slh_sign with a context: the framing and
    /// the deterministic opt_rand are right.
    #[test]
    fn framing_matches_the_crates_slh_sign() {
        let k = SigningKey::<Shake128f>::slh_keygen_internal(&[1; 16], &[2; 16], &[3; 16]);
        let theirs = k
            .try_sign_with_context(b"message", b"ctx", None)
            .unwrap()
            .to_vec();
        let ours = SlhDsaPrivate::from_bytes(ParamSet::Shake128f, &k.to_vec()).unwrap();
        let ours = with_m_prime(Variant::Pure, b"ctx", b"message", |m| ours.sign(m, true)).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn sign_verify_with_and_without_context() {
        for set in [ParamSet::Sha2_128f, ParamSet::Shake128f] {
            let (private, public) = pair(set);
            let ctx = Params::SignContext {
                hedge: Hedge::Required,
                context: b"ctx".to_vec(),
            };
            let sig = run_sign(&private, CKM_SLH_DSA, ctx.clone(), b"msg").unwrap();
            assert_eq!(sig.len(), set.signature_len());
            run_verify(&public, CKM_SLH_DSA, ctx, b"msg", &sig).unwrap();
            // The context is bound into the signature.
            assert_eq!(
                run_verify(&public, CKM_SLH_DSA, Params::None, b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            let plain = run_sign(&private, CKM_SLH_DSA, Params::None, b"msg").unwrap();
            run_verify(&public, CKM_SLH_DSA, Params::None, b"msg", &plain).unwrap();
            assert_eq!(
                run_verify(&public, CKM_SLH_DSA, Params::None, b"msh", &plain),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                run_verify(&public, CKM_SLH_DSA, Params::None, b"msg", &plain[1..]),
                Err(Error::SignatureLenRange)
            );
        }
    }

    #[test]
    fn hedging_and_determinism() {
        let (private, _) = pair(ParamSet::Sha2_128f);
        assert_eq!(
            run_sign(&private, CKM_SLH_DSA, det(b""), b"m").unwrap(),
            run_sign(&private, CKM_SLH_DSA, det(b""), b"m").unwrap()
        );
        assert_ne!(
            run_sign(&private, CKM_SLH_DSA, Params::None, b"m").unwrap(),
            run_sign(&private, CKM_SLH_DSA, Params::None, b"m").unwrap()
        );
    }

    #[test]
    fn key_types_and_encodings() {
        let (private, public) = pair(ParamSet::Shake128f);
        assert_eq!(
            sign_init(
                &Mechanism {
                    mech: CKM_SLH_DSA,
                    params: Params::None
                },
                public.clone()
            )
            .err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_init(
                &Mechanism {
                    mech: CKM_SLH_DSA,
                    params: Params::None
                },
                private.clone()
            )
            .err(),
            Some(Error::KeyTypeInconsistent)
        );
        let Key::SlhDsaPrivate(k) = &*private else {
            panic!()
        };
        let sk = k.to_bytes();
        assert_eq!(sk.len(), 64);
        let back = SlhDsaPrivate::from_bytes(ParamSet::Shake128f, &sk).unwrap();
        assert_eq!(*back.to_bytes(), *sk);
        let stored = SlhDsaPrivate::from_stored_bytes(ParamSet::Shake128f, &sk).unwrap();
        assert_eq!(*stored.to_bytes(), *sk);
        assert!(SlhDsaPrivate::from_stored_bytes(ParamSet::Shake128f, &sk[1..]).is_err());
        // Wrong length, wrong set, a PK.root that does not match.
        assert!(SlhDsaPrivate::from_bytes(ParamSet::Shake128f, &sk[1..]).is_err());
        assert!(SlhDsaPrivate::from_bytes(ParamSet::Sha2_192f, &sk).is_err());
        let mut bad = sk.to_vec();
        bad[63] ^= 1;
        assert_eq!(
            SlhDsaPrivate::from_bytes(ParamSet::Shake128f, &bad).err(),
            Some(Error::AttributeValueInvalid)
        );
        let pk = k.public().to_bytes();
        assert_eq!(pk, sk[32..]);
        assert!(SlhDsaPublic::from_bytes(ParamSet::Shake128f, &pk[1..]).is_err());
        let spki = k.public().spki();
        assert_eq!(spki.len(), pk.len() + 18);
        assert!(spki.ends_with(&pk));
        let der = pkcs8(k);
        assert_eq!(der.len(), 2 + 3 + 13 + 2 + 64);
        let back = from_pkcs8(ParamSet::Shake128f, &der[20..]).unwrap();
        assert_eq!(*back.to_bytes(), *sk);
        assert!(from_pkcs8(ParamSet::Shake128f, &der[21..]).is_err());
        // The largest sets need the long DER length form.
        let big = generate(ParamSet::Sha2_256f).unwrap();
        let der = pkcs8(&big);
        assert_eq!(&der[..3], &[0x30, 0x81, 3 + 13 + 2 + 128]);
        assert_eq!(
            *from_pkcs8(ParamSet::Sha2_256f, &der[21..])
                .unwrap()
                .to_bytes(),
            *big.to_bytes()
        );
    }

    /// HashSLH-DSA: each hash, pre-hashed by the caller or here, signs
    /// and verifies; a pure signature is not a HashSLH-DSA one; the
    /// pre-hash must have the hash's length.
    #[test]
    fn hash_slh_dsa_variants() {
        let (private, public) = pair(ParamSet::Sha2_128f);
        let hashes = [
            (CKM_HASH_SLH_DSA_SHA224, Some(CKM_SHA224)),
            (CKM_HASH_SLH_DSA_SHA256, Some(CKM_SHA256)),
            (CKM_HASH_SLH_DSA_SHA384, Some(CKM_SHA384)),
            (CKM_HASH_SLH_DSA_SHA512, Some(CKM_SHA512)),
            (CKM_HASH_SLH_DSA_SHA3_224, Some(CKM_SHA3_224)),
            (CKM_HASH_SLH_DSA_SHA3_256, Some(CKM_SHA3_256)),
            (CKM_HASH_SLH_DSA_SHA3_384, Some(CKM_SHA3_384)),
            (CKM_HASH_SLH_DSA_SHA3_512, Some(CKM_SHA3_512)),
            (CKM_HASH_SLH_DSA_SHAKE128, None),
            (CKM_HASH_SLH_DSA_SHAKE256, None),
        ];
        let pure = run_sign(&private, CKM_SLH_DSA, det(b"c"), b"msg").unwrap();
        for (mech, digest) in hashes {
            let sig = run_sign(&private, mech, det(b"c"), b"msg").unwrap();
            assert_ne!(sig, pure);
            run_verify(&public, mech, det(b"c"), b"msg", &sig).unwrap();
            assert_eq!(
                run_verify(&public, mech, det(b""), b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                run_verify(&public, CKM_SLH_DSA, det(b"c"), b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            let Some(digest) = digest else { continue };
            let h = PreHash::of_digest(digest).unwrap();
            let ph = h.digest(b"msg");
            let given =
                super::super::ml_dsa::parse_hash_context(CKH_DETERMINISTIC_REQUIRED, b"c", digest)
                    .unwrap();
            let sig2 = run_sign(&private, CKM_HASH_SLH_DSA, given.clone(), &ph).unwrap();
            assert_eq!(sig2, sig, "{mech:#x}: the caller's hash or ours");
            run_verify(&public, CKM_HASH_SLH_DSA, given.clone(), &ph, &sig).unwrap();
            assert_eq!(
                run_sign(&private, CKM_HASH_SLH_DSA, given, &ph[1..]),
                Err(Error::DataLenRange)
            );
        }
        assert_eq!(
            run_sign(&private, CKM_HASH_SLH_DSA, Params::None, &[0; 32]),
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn debug_redacts() {
        let k = SlhDsaPrivate::from_bytes(ParamSet::Sha2_128f, &{
            let s = SigningKey::<Sha2_128f>::slh_keygen_internal(&[7; 16], &[7; 16], &[7; 16]);
            s.to_vec()
        })
        .unwrap();
        let s = format!("{:?}", Key::SlhDsaPrivate(Box::new(k)));
        assert!(s.contains("redacted") && !s.contains("7, 7"), "{s}");
    }
}
