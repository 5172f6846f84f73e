//! ML-DSA (FIPS 204, PKCS#11 3.2 §6.67): the CKK_ML_DSA key material (a
//! private key is held as its 32-byte seed ξ and expanded when the key is
//! loaded), CKM_ML_DSA_KEY_PAIR_GEN and CKM_ML_DSA sign/verify with the
//! optional CK_SIGN_ADDITIONAL_CONTEXT (hedge variant and context), and
//! the SPKI / PKCS#8 (seed choice) encodings of the IETF LAMPS drafts.
//!
//! CKM_ML_DSA signs in parts (C_SignUpdate) and verifies in parts only
//! through C_VerifySignature*, as the spec's table says: C_VerifyUpdate
//! answers CKR_FUNCTION_NOT_SUPPORTED (`Family::verify_multipart`).

use std::sync::Arc;

use ::ml_dsa::signature::Keypair;
use ::ml_dsa::{
    B32, EncodedVerifyingKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Signature, SigningKey,
    VerifyingKey,
};
use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::registry::{Family, Generates};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{Layout, MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// Length of the seed ξ (FIPS 204 Algorithm 1), the private key's stored
/// form (CKA_SEED).
pub const SEED_LEN: usize = 32;
/// Longest context string FIPS 204 allows (Algorithm 2).
pub const MAX_CONTEXT_LEN: usize = 255;

/// The three parameter sets (CKA_PARAMETER_SET, CKP_ML_DSA_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSet {
    P44,
    P65,
    P87,
}

/// Public key sizes in bytes (FIPS 204 Table 2): the unit the 3.2 spec
/// gives for the mechanisms' ulMinKeySize / ulMaxKeySize.
const PK_44: u64 = 1312;
const PK_87: u64 = 2592;

impl ParamSet {
    pub const ALL: [ParamSet; 3] = [ParamSet::P44, ParamSet::P65, ParamSet::P87];

    /// From CKA_PARAMETER_SET; any other value is
    /// CKR_ATTRIBUTE_VALUE_INVALID.
    pub fn from_ckp(value: CK_ULONG) -> Result<ParamSet> {
        match value {
            CKP_ML_DSA_44 => Ok(ParamSet::P44),
            CKP_ML_DSA_65 => Ok(ParamSet::P65),
            CKP_ML_DSA_87 => Ok(ParamSet::P87),
            _ => Err(Error::AttributeValueInvalid),
        }
    }

    pub fn ckp(self) -> CK_ULONG {
        match self {
            ParamSet::P44 => CKP_ML_DSA_44,
            ParamSet::P65 => CKP_ML_DSA_65,
            ParamSet::P87 => CKP_ML_DSA_87,
        }
    }

    /// Encoded public key length (FIPS 204 Table 2).
    pub fn public_len(self) -> usize {
        match self {
            ParamSet::P44 => 1312,
            ParamSet::P65 => 1952,
            ParamSet::P87 => 2592,
        }
    }

    /// Signature length (FIPS 204 Table 2).
    pub fn signature_len(self) -> usize {
        match self {
            ParamSet::P44 => 2420,
            ParamSet::P65 => 3309,
            ParamSet::P87 => 4627,
        }
    }

    /// The last arc of id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19,
    /// NIST CSOR).
    fn oid_last_arc(self) -> u8 {
        match self {
            ParamSet::P44 => 17,
            ParamSet::P65 => 18,
            ParamSet::P87 => 19,
        }
    }

    /// The DER AlgorithmIdentifier (parameters absent, as the IETF
    /// profiles require).
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

    /// The parameter set whose AlgorithmIdentifier is `der`.
    pub fn from_algorithm_identifier(der: &[u8]) -> Option<ParamSet> {
        ParamSet::ALL
            .into_iter()
            .find(|p| p.algorithm_identifier().as_slice() == der)
    }

    /// The parameter set whose id-ml-dsa-* OID (DER, tag and length
    /// included) is `der`.
    pub fn from_oid_der(der: &[u8]) -> Option<ParamSet> {
        ParamSet::ALL
            .into_iter()
            .find(|p| p.algorithm_identifier().get(2..) == Some(der))
    }

    /// The name the CLI and logs use.
    pub fn name(self) -> &'static str {
        match self {
            ParamSet::P44 => "ml-dsa-44",
            ParamSet::P65 => "ml-dsa-65",
            ParamSet::P87 => "ml-dsa-87",
        }
    }
}

const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;

/// Key generation and signatures (ML-DSA, HashML-DSA on a caller's hash,
/// HashML-DSA hashing here). Key sizes are public key bytes.
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_ML_DSA_KEY_PAIR_GEN, PK_44, PK_87, CKF_GENERATE_KEY_PAIR),
    row(CKM_ML_DSA, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA224, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA256, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA384, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA512, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA3_224, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA3_256, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA3_384, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHA3_512, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHAKE128, PK_44, PK_87, SIGN),
    row(CKM_HASH_ML_DSA_SHAKE256, PK_44, PK_87, SIGN),
];

/// The pre-hash functions of HashML-DSA (FIPS 204 §5.4) the 3.2 spec
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    /// SHAKE128 with 256 bits of output, SHAKE256 with 512 (FIPS 204
    /// §5.4.1).
    Shake128,
    Shake256,
}

impl PreHash {
    /// The hash of CKM_HASH_ML_DSA_<hash>.
    fn of_mechanism(mech: CK_MECHANISM_TYPE) -> Option<PreHash> {
        Some(match mech {
            CKM_HASH_ML_DSA_SHA224 => PreHash::Sha224,
            CKM_HASH_ML_DSA_SHA256 => PreHash::Sha256,
            CKM_HASH_ML_DSA_SHA384 => PreHash::Sha384,
            CKM_HASH_ML_DSA_SHA512 => PreHash::Sha512,
            CKM_HASH_ML_DSA_SHA3_224 => PreHash::Sha3_224,
            CKM_HASH_ML_DSA_SHA3_256 => PreHash::Sha3_256,
            CKM_HASH_ML_DSA_SHA3_384 => PreHash::Sha3_384,
            CKM_HASH_ML_DSA_SHA3_512 => PreHash::Sha3_512,
            CKM_HASH_ML_DSA_SHAKE128 => PreHash::Shake128,
            CKM_HASH_ML_DSA_SHAKE256 => PreHash::Shake256,
            _ => return None,
        })
    }

    /// The hash CK_HASH_SIGN_ADDITIONAL_CONTEXT.hash names (a digest
    /// mechanism). PKCS#11 has no SHAKE digest mechanism to name.
    pub(super) fn of_digest(mech: CK_MECHANISM_TYPE) -> Option<PreHash> {
        Some(match mech {
            CKM_SHA224 => PreHash::Sha224,
            CKM_SHA256 => PreHash::Sha256,
            CKM_SHA384 => PreHash::Sha384,
            CKM_SHA512 => PreHash::Sha512,
            CKM_SHA3_224 => PreHash::Sha3_224,
            CKM_SHA3_256 => PreHash::Sha3_256,
            CKM_SHA3_384 => PreHash::Sha3_384,
            CKM_SHA3_512 => PreHash::Sha3_512,
            _ => return None,
        })
    }

    /// The last arc of the hash's OID, 2.16.840.1.101.3.4.2.x (NIST CSOR).
    fn oid_last_arc(self) -> u8 {
        match self {
            PreHash::Sha256 => 1,
            PreHash::Sha384 => 2,
            PreHash::Sha512 => 3,
            PreHash::Sha224 => 4,
            PreHash::Sha3_224 => 7,
            PreHash::Sha3_256 => 8,
            PreHash::Sha3_384 => 9,
            PreHash::Sha3_512 => 10,
            PreHash::Shake128 => 11,
            PreHash::Shake256 => 12,
        }
    }

    /// The DER OID that HashML-DSA puts before the hash.
    pub(super) fn oid_der(self) -> [u8; 11] {
        [
            0x06,
            0x09,
            0x60,
            0x86,
            0x48,
            0x01,
            0x65,
            0x03,
            0x04,
            0x02,
            self.oid_last_arc(),
        ]
    }

    /// Output length in bytes.
    pub(super) fn len(self) -> usize {
        match self {
            PreHash::Sha224 | PreHash::Sha3_224 => 28,
            PreHash::Sha256 | PreHash::Sha3_256 | PreHash::Shake128 => 32,
            PreHash::Sha384 | PreHash::Sha3_384 => 48,
            PreHash::Sha512 | PreHash::Sha3_512 | PreHash::Shake256 => 64,
        }
    }

    pub(super) fn digest(self, m: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            PreHash::Sha224 => sha2::Sha224::digest(m).to_vec(),
            PreHash::Sha256 => sha2::Sha256::digest(m).to_vec(),
            PreHash::Sha384 => sha2::Sha384::digest(m).to_vec(),
            PreHash::Sha512 => sha2::Sha512::digest(m).to_vec(),
            PreHash::Sha3_224 => sha3::Sha3_224::digest(m).to_vec(),
            PreHash::Sha3_256 => sha3::Sha3_256::digest(m).to_vec(),
            PreHash::Sha3_384 => sha3::Sha3_384::digest(m).to_vec(),
            PreHash::Sha3_512 => sha3::Sha3_512::digest(m).to_vec(),
            PreHash::Shake128 => shake::<shake::Shake128>(&[m], 32),
            PreHash::Shake256 => shake::<shake::Shake256>(&[m], 64),
        }
    }
}

/// `len` bytes of a SHAKE over the concatenation of `parts`.
fn shake<X>(parts: &[&[u8]], len: usize) -> Vec<u8>
where
    X: Default + shake::digest::Update + shake::digest::ExtendableOutput,
{
    use shake::digest::XofReader as _;
    let mut h = X::default();
    for p in parts {
        h.update(p);
    }
    let mut out = vec![0u8; len];
    h.finalize_xof().read(&mut out);
    out
}

/// Whether `mech` takes CK_SIGN_ADDITIONAL_CONTEXT.
pub(super) fn takes_sign_context(mech: CK_MECHANISM_TYPE) -> bool {
    mech == CKM_ML_DSA || PreHash::of_mechanism(mech).is_some()
}

/// The expanded signing key of one parameter set; the crate keeps the
/// seed beside it and zeroizes both on drop.
#[derive(Clone)]
enum Signer {
    P44(Box<SigningKey<MlDsa44>>),
    P65(Box<SigningKey<MlDsa65>>),
    P87(Box<SigningKey<MlDsa87>>),
}

#[derive(Clone)]
enum Verifier {
    P44(Box<VerifyingKey<MlDsa44>>),
    P65(Box<VerifyingKey<MlDsa65>>),
    P87(Box<VerifyingKey<MlDsa87>>),
}

/// An ML-DSA private key: built from its seed, expanded once.
#[derive(Clone)]
pub struct MlDsaPrivate {
    key: Signer,
}

/// An ML-DSA public key and its encoding.
#[derive(Clone)]
pub struct MlDsaPublic {
    key: Verifier,
}

fn seed(bytes: &[u8]) -> Result<B32> {
    B32::try_from(bytes).map_err(|_| Error::AttributeValueInvalid)
}

impl MlDsaPrivate {
    /// ML-DSA.KeyGen_internal(ξ) (FIPS 204 Algorithm 6).
    pub fn from_seed(set: ParamSet, xi: &[u8]) -> Result<MlDsaPrivate> {
        let xi = Zeroizing::new(seed(xi)?);
        let key = match set {
            ParamSet::P44 => Signer::P44(Box::new(SigningKey::from_seed(&xi))),
            ParamSet::P65 => Signer::P65(Box::new(SigningKey::from_seed(&xi))),
            ParamSet::P87 => Signer::P87(Box::new(SigningKey::from_seed(&xi))),
        };
        Ok(MlDsaPrivate { key })
    }

    pub fn param_set(&self) -> ParamSet {
        match self.key {
            Signer::P44(_) => ParamSet::P44,
            Signer::P65(_) => ParamSet::P65,
            Signer::P87(_) => ParamSet::P87,
        }
    }

    /// The seed ξ (CKA_SEED; key material).
    pub fn seed(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match &self.key {
            Signer::P44(k) => k.as_seed().to_vec(),
            Signer::P65(k) => k.as_seed().to_vec(),
            Signer::P87(k) => k.as_seed().to_vec(),
        })
    }

    /// The expanded private key sk (skEncode, FIPS 204 Algorithm 24), to
    /// check a CKA_VALUE given beside the seed on import.
    #[allow(deprecated)] // The crate discourages the expanded form; we only compare it.
    pub fn expanded(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match &self.key {
            Signer::P44(k) => k.expanded_key().to_expanded().to_vec(),
            Signer::P65(k) => k.expanded_key().to_expanded().to_vec(),
            Signer::P87(k) => k.expanded_key().to_expanded().to_vec(),
        })
    }

    pub fn public(&self) -> MlDsaPublic {
        let key = match &self.key {
            Signer::P44(k) => Verifier::P44(Box::new(k.verifying_key())),
            Signer::P65(k) => Verifier::P65(Box::new(k.verifying_key())),
            Signer::P87(k) => Verifier::P87(Box::new(k.verifying_key())),
        };
        MlDsaPublic { key }
    }

    /// ML-DSA.Sign (Algorithm 2): hedged with 32 bytes from the module's
    /// RNG, or deterministic (rnd = 0^32).
    fn sign(&self, message: &[u8], context: &[u8], deterministic: bool) -> Result<Vec<u8>> {
        fn one<P: MlDsaParams>(
            k: &SigningKey<P>,
            m: &[u8],
            ctx: &[u8],
            deterministic: bool,
        ) -> Result<Vec<u8>> {
            let sig = if deterministic {
                k.expanded_key().sign_deterministic(m, ctx)
            } else {
                k.expanded_key().sign_randomized(m, ctx, &mut ModuleRng)
            };
            sig.map(|s| s.encode().to_vec())
                .map_err(|_| Error::FunctionFailed)
        }
        match &self.key {
            Signer::P44(k) => one(k, message, context, deterministic),
            Signer::P65(k) => one(k, message, context, deterministic),
            Signer::P87(k) => one(k, message, context, deterministic),
        }
    }
}

/// μ, the 64-byte message representative.
type Mu = ::ml_dsa::common::array::Array<u8, ::ml_dsa::common::typenum::U64>;

/// HashML-DSA's μ (FIPS 204 Algorithms 4, 5 and 7): H(tr ‖ M′, 64) with
/// tr = H(pk, 64) and M′ = 1 ‖ |ctx| ‖ ctx ‖ OID(PH) ‖ PH(M).
fn hash_mu(pk: &[u8], hash: PreHash, ph: &[u8], context: &[u8]) -> Result<Mu> {
    mu_of(pk, 1, context, &[&hash.oid_der(), ph])
}

/// H(tr ‖ domain ‖ |ctx| ‖ ctx ‖ tail…, 64), tr = H(pk, 64): μ of
/// FIPS 204 Algorithm 7 line 6 over M′ of Algorithm 2 (domain 0) or 4
/// (domain 1).
fn mu_of(pk: &[u8], domain: u8, context: &[u8], tail: &[&[u8]]) -> Result<Mu> {
    let ctx_len = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
    let tr = shake::<shake::Shake256>(&[pk], 64);
    let head: [&[u8]; 3] = [&tr, &[domain, ctx_len], context];
    let parts: Vec<&[u8]> = head.into_iter().chain(tail.iter().copied()).collect();
    let mu = shake::<shake::Shake256>(&parts, 64);
    Mu::try_from(mu.as_slice()).map_err(|_| Error::GeneralError)
}

impl MlDsaPrivate {
    /// HashML-DSA.Sign (Algorithm 4) of the pre-hash `ph`, hedged or
    /// deterministic (rnd = 0^32) as ML-DSA.Sign.
    fn sign_prehashed(
        &self,
        hash: PreHash,
        ph: &[u8],
        context: &[u8],
        deterministic: bool,
    ) -> Result<Vec<u8>> {
        fn one<P: MlDsaParams>(k: &SigningKey<P>, mu: &Mu, deterministic: bool) -> Result<Vec<u8>> {
            let sig = if deterministic {
                k.expanded_key().sign_mu_randomized(mu, &mut ZeroRng)
            } else {
                k.expanded_key().sign_mu_randomized(mu, &mut ModuleRng)
            };
            sig.map(|s| s.encode().to_vec())
                .map_err(|_| Error::FunctionFailed)
        }
        let mu = hash_mu(&self.public().to_bytes(), hash, ph, context)?;
        match &self.key {
            Signer::P44(k) => one(k, &mu, deterministic),
            Signer::P65(k) => one(k, &mu, deterministic),
            Signer::P87(k) => one(k, &mu, deterministic),
        }
    }
}

impl MlDsaPublic {
    /// HashML-DSA.Verify (Algorithm 5) of the pre-hash `ph`.
    fn verify_prehashed(
        &self,
        hash: PreHash,
        ph: &[u8],
        context: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        fn one<P: MlDsaParams>(k: &VerifyingKey<P>, mu: &Mu, s: &[u8]) -> bool {
            Signature::<P>::try_from(s).is_ok_and(|sig| k.verify_mu(mu, &sig))
        }
        if signature.len() != self.param_set().signature_len() {
            return Err(Error::SignatureLenRange);
        }
        let mu = hash_mu(&self.to_bytes(), hash, ph, context)?;
        let ok = match &self.key {
            Verifier::P44(k) => one(k, &mu, signature),
            Verifier::P65(k) => one(k, &mu, signature),
            Verifier::P87(k) => one(k, &mu, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }

    /// pkDecode (FIPS 204 Algorithm 23) of CKA_VALUE; a wrong length is
    /// CKR_ATTRIBUTE_VALUE_INVALID.
    pub fn from_bytes(set: ParamSet, pk: &[u8]) -> Result<MlDsaPublic> {
        fn one<P: MlDsaParams>(pk: &[u8]) -> Result<Box<VerifyingKey<P>>> {
            let enc =
                EncodedVerifyingKey::<P>::try_from(pk).map_err(|_| Error::AttributeValueInvalid)?;
            Ok(Box::new(VerifyingKey::decode(&enc)))
        }
        let key = match set {
            ParamSet::P44 => Verifier::P44(one(pk)?),
            ParamSet::P65 => Verifier::P65(one(pk)?),
            ParamSet::P87 => Verifier::P87(one(pk)?),
        };
        Ok(MlDsaPublic { key })
    }

    pub fn param_set(&self) -> ParamSet {
        match self.key {
            Verifier::P44(_) => ParamSet::P44,
            Verifier::P65(_) => ParamSet::P65,
            Verifier::P87(_) => ParamSet::P87,
        }
    }

    /// The encoded public key (CKA_VALUE of the public key object).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.key {
            Verifier::P44(k) => k.encode().to_vec(),
            Verifier::P65(k) => k.encode().to_vec(),
            Verifier::P87(k) => k.encode().to_vec(),
        }
    }

    /// DER SubjectPublicKeyInfo: the algorithm identifier and the raw
    /// public key in a BIT STRING (draft-ietf-lamps-dilithium-certificates).
    pub fn spki(&self) -> Vec<u8> {
        let pk = self.to_bytes();
        let mut bits = Vec::with_capacity(pk.len().saturating_add(5));
        bits.push(0x03);
        push_len(&mut bits, pk.len().saturating_add(1));
        bits.push(0);
        bits.extend_from_slice(&pk);
        let alg = self.param_set().algorithm_identifier();
        let mut out = vec![0x30];
        push_len(&mut out, alg.len().saturating_add(bits.len()));
        out.extend_from_slice(&alg);
        out.extend_from_slice(&bits);
        out
    }

    /// ML-DSA.Verify (Algorithm 3). A signature of the wrong length is
    /// CKR_SIGNATURE_LEN_RANGE; one that does not decode or verify,
    /// CKR_SIGNATURE_INVALID.
    fn verify(&self, message: &[u8], context: &[u8], signature: &[u8]) -> Result<()> {
        fn one<P: MlDsaParams>(k: &VerifyingKey<P>, m: &[u8], ctx: &[u8], s: &[u8]) -> bool {
            Signature::<P>::try_from(s).is_ok_and(|sig| k.verify_with_context(m, ctx, &sig))
        }
        if signature.len() != self.param_set().signature_len() {
            return Err(Error::SignatureLenRange);
        }
        let ok = match &self.key {
            Verifier::P44(k) => one(k, message, context, signature),
            Verifier::P65(k) => one(k, message, context, signature),
            Verifier::P87(k) => one(k, message, context, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = bytes.get(skip..).unwrap_or(&[]);
    match (len, u8::try_from(significant.len())) {
        (0..=0x7f, _) => out.push(u8::try_from(len).unwrap_or(0)),
        (_, Ok(n)) => {
            out.push(0x80 | n);
            out.extend_from_slice(significant);
        }
        (_, Err(_)) => out.push(0),
    }
}

/// The PKCS#8 PrivateKeyInfo of a private key in the IETF seed form:
/// privateKey is ML-DSA-PrivateKey's `seed [0] IMPLICIT OCTET STRING
/// (SIZE (32))` (draft-ietf-lamps-dilithium-certificates §6).
pub fn pkcs8(key: &MlDsaPrivate) -> Zeroizing<Vec<u8>> {
    let alg = key.param_set().algorithm_identifier();
    let xi = key.seed();
    let mut out = Zeroizing::new(Vec::with_capacity(54));
    // 3 (version) + 13 (algorithm) + 2 + 2 + 32 (privateKey) = 52 bytes.
    out.extend_from_slice(&[0x30, 0x34, 0x02, 0x01, 0x00]);
    out.extend_from_slice(&alg);
    out.extend_from_slice(&[0x04, 0x22, 0x80, 0x20]);
    out.extend_from_slice(&xi);
    out
}

/// The parameter set and seed of a PKCS#8 ML-DSA private key:
/// `privateKeyAlgorithm` (already split off by the caller) names the set,
/// `private_key` is the OCTET STRING's contents. Only the seed choice is
/// taken: an expanded-only key cannot be kept in seed form, and a key
/// given in both forms is accepted when they agree.
pub fn from_pkcs8(set: ParamSet, private_key: &[u8]) -> Result<MlDsaPrivate> {
    match private_key {
        [0x80, 0x20, xi @ ..] => MlDsaPrivate::from_seed(set, xi),
        // both SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }
        [0x30, 0x82, hi, lo, 0x04, 0x20, rest @ ..] if long_len(*hi, *lo) == rest.len() + 2 => {
            let (xi, expanded) = rest
                .split_at_checked(SEED_LEN)
                .ok_or(Error::WrappedKeyInvalid)?;
            let key = MlDsaPrivate::from_seed(set, xi)?;
            match expanded {
                [0x04, 0x82, hi, lo, sk @ ..]
                    if long_len(*hi, *lo) == sk.len() && *key.expanded() == *sk =>
                {
                    Ok(key)
                }
                _ => Err(Error::WrappedKeyInvalid),
            }
        }
        _ => Err(Error::WrappedKeyInvalid),
    }
}

/// A two-byte DER length (the 0x82 form).
fn long_len(hi: u8, lo: u8) -> usize {
    usize::from(u16::from_be_bytes([hi, lo]))
}

/// A fresh key pair's private key (ξ from the module's RNG).
pub fn generate(set: ParamSet) -> Result<MlDsaPrivate> {
    let mut xi = Zeroizing::new([0u8; SEED_LEN]);
    super::random(xi.as_mut_slice())?;
    MlDsaPrivate::from_seed(set, xi.as_slice())
}

/// A fresh ML-DSA private key of the parameter set CKA_PARAMETER_SET
/// names (C_GenerateKeyPair; the object layer checked the value).
pub fn generate_ml_dsa(parameter_set: CK_ULONG) -> Result<Key> {
    let set = ParamSet::from_ckp(parameter_set)?;
    Ok(Key::MlDsaPrivate(Box::new(generate(set)?)))
}

/// The module's RNG as the crate asks for one (the hedge's rnd).
struct ModuleRng;

impl rand_core::TryRng for ModuleRng {
    type Error = std::io::Error;

    fn try_next_u32(&mut self) -> std::result::Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> std::result::Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::result::Result<(), Self::Error> {
        super::random(dst).map_err(|_| std::io::Error::other("RNG failure"))
    }
}

impl rand_core::TryCryptoRng for ModuleRng {}

/// rnd = 0^32: the deterministic variant (FIPS 204 Algorithm 2, line 5).
struct ZeroRng;

impl rand_core::TryRng for ZeroRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> std::result::Result<u32, Self::Error> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> std::result::Result<u64, Self::Error> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::result::Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ZeroRng {}

/// How a signature is to be made (CK_SIGN_ADDITIONAL_CONTEXT.hedgeVariant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hedge {
    /// CKH_HEDGE_PREFERRED (also with no parameter): hedged here.
    Preferred,
    Required,
    Deterministic,
}

impl Hedge {
    /// From hedgeVariant; any other value is CKR_MECHANISM_PARAM_INVALID.
    pub fn from_ck(value: CK_ULONG) -> Result<Hedge> {
        match value {
            CKH_HEDGE_PREFERRED => Ok(Hedge::Preferred),
            CKH_HEDGE_REQUIRED => Ok(Hedge::Required),
            CKH_DETERMINISTIC_REQUIRED => Ok(Hedge::Deterministic),
            _ => Err(Error::MechanismParamInvalid),
        }
    }
}

/// Parses CK_SIGN_ADDITIONAL_CONTEXT as the ABI layer read it.
pub(super) fn parse_context(hedge: CK_ULONG, context: &[u8]) -> Result<Params> {
    let hedge = Hedge::from_ck(hedge)?;
    if context.len() > MAX_CONTEXT_LEN {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Params::SignContext {
        hedge,
        context: context.to_vec(),
    })
}

/// Parses CK_HASH_SIGN_ADDITIONAL_CONTEXT as the ABI layer read it; a
/// hash HashML-DSA does not name is CKR_MECHANISM_PARAM_INVALID.
pub(super) fn parse_hash_context(
    hedge: CK_ULONG,
    context: &[u8],
    hash: CK_MECHANISM_TYPE,
) -> Result<Params> {
    let Params::SignContext { hedge, context } = parse_context(hedge, context)? else {
        return Err(Error::GeneralError);
    };
    let hash = PreHash::of_digest(hash).ok_or(Error::MechanismParamInvalid)?;
    Ok(Params::HashSignContext {
        hedge,
        context,
        hash,
    })
}

/// What the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The message, for ML-DSA (CKM_ML_DSA).
    Pure,
    /// A hash the caller made (CKM_HASH_ML_DSA): exactly its length.
    PreHashed(PreHash),
    /// The message, hashed here (CKM_HASH_ML_DSA_<hash>).
    Hashing(PreHash),
}

/// The variant, hedge and context of `mech` (defaults without a
/// parameter; CKM_HASH_ML_DSA needs its parameter, to name the hash).
fn settings(mech: &Mechanism) -> Result<(Variant, Hedge, Vec<u8>)> {
    let hashing = PreHash::of_mechanism(mech.mech);
    let variant = match (mech.mech, hashing) {
        (CKM_ML_DSA, _) => Variant::Pure,
        (_, Some(h)) => Variant::Hashing(h),
        (CKM_HASH_ML_DSA, None) => {
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

/// Appends a part to the message kept for the end (ML-DSA signs the
/// whole message), reserving fallibly: CKR_HOST_MEMORY, not an abort.
fn append_message(message: &mut Option<Vec<u8>>, data: &[u8]) -> Result<()> {
    let message = message.as_mut().ok_or(Error::OperationNotInitialized)?;
    message
        .try_reserve(data.len())
        .map_err(|_| Error::HostMemory)?;
    message.extend_from_slice(data);
    Ok(())
}

struct MlDsaSign {
    key: Arc<Key>,
    variant: Variant,
    deterministic: bool,
    context: Vec<u8>,
    message: Option<Vec<u8>>,
}

impl SignOp for MlDsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        append_message(&mut self.message, data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        let Key::MlDsaPrivate(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let (ctx, det) = (&self.context, self.deterministic);
        match self.variant {
            Variant::Pure => k.sign(&message, ctx, det),
            Variant::PreHashed(h) if message.len() == h.len() => {
                k.sign_prehashed(h, &message, ctx, det)
            }
            Variant::PreHashed(_) => Err(Error::DataLenRange),
            Variant::Hashing(h) => k.sign_prehashed(h, &h.digest(&message), ctx, det),
        }
    }

    fn sign_len(&self) -> usize {
        match &*self.key {
            Key::MlDsaPrivate(k) => k.param_set().signature_len(),
            _ => 0,
        }
    }
}

struct MlDsaVerify {
    key: Arc<Key>,
    variant: Variant,
    context: Vec<u8>,
    message: Option<Vec<u8>>,
}

impl VerifyOp for MlDsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        append_message(&mut self.message, data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        let Key::MlDsaPublic(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let ctx = &self.context;
        match self.variant {
            Variant::Pure => k.verify(&message, ctx, signature),
            Variant::PreHashed(h) if message.len() == h.len() => {
                k.verify_prehashed(h, &message, ctx, signature)
            }
            Variant::PreHashed(_) => Err(Error::DataLenRange),
            Variant::Hashing(h) => k.verify_prehashed(h, &h.digest(&message), ctx, signature),
        }
    }
}

/// Starts an ML-DSA signature; the key must be an ML-DSA private key.
fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    let (variant, hedge, context) = settings(mech)?;
    if !matches!(*key, Key::MlDsaPrivate(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(MlDsaSign {
        key,
        variant,
        deterministic: hedge == Hedge::Deterministic,
        context,
        message: Some(Vec::new()),
    }))
}

/// Starts an ML-DSA verification; the hedge variant is ignored (§6.67).
fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    let (variant, _, context) = settings(mech)?;
    if !matches!(*key, Key::MlDsaPublic(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(MlDsaVerify {
        key,
        variant,
        context,
        message: Some(Vec::new()),
    }))
}

/// The ML-DSA family: key-pair generation and CKM_ML_DSA.
pub struct MlDsaFamily;

impl Family for MlDsaFamily {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_ML_DSA_KEY_PAIR_GEN).then_some(Generates::Pair(CKK_ML_DSA))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_HASH_ML_DSA => Layout::HashSignAdditionalContext,
            _ if takes_sign_context(mech) => Layout::SignAdditionalContext,
            _ => Layout::Flat,
        }
    }
    /// PKCS#11 3.2 §6.67: CKM_HASH_ML_DSA (a caller's hash) is
    /// single-part; CKM_ML_DSA signs in parts (the message is kept until
    /// the end) but verifies in parts only through C_VerifySignature*; the
    /// mechanisms that hash on the token do both.
    fn multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        mech == CKM_ML_DSA || PreHash::of_mechanism(mech).is_some()
    }
    fn verify_multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        PreHash::of_mechanism(mech).is_some()
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

    fn mech(params: Params) -> Mechanism {
        Mechanism {
            mech: CKM_ML_DSA,
            params,
        }
    }

    fn pair(set: ParamSet) -> (Arc<Key>, Arc<Key>) {
        let k = MlDsaPrivate::from_seed(set, &[7; SEED_LEN]).unwrap();
        let public = Key::MlDsaPublic(Box::new(k.public()));
        (Arc::new(Key::MlDsaPrivate(Box::new(k))), Arc::new(public))
    }

    fn sign(key: &Arc<Key>, params: Params, msg: &[u8]) -> Result<Vec<u8>> {
        let mut op = sign_init(&mech(params), key.clone())?;
        op.update(msg)?;
        op.finish()
    }

    fn verify(key: &Arc<Key>, params: Params, msg: &[u8], sig: &[u8]) -> Result<()> {
        let mut op = verify_init(&mech(params), key.clone())?;
        op.update(msg)?;
        op.finish(sig)
    }

    #[test]
    fn sign_verify_every_set_with_and_without_context() {
        for set in ParamSet::ALL {
            let (private, public) = pair(set);
            let ctx = Params::SignContext {
                hedge: Hedge::Required,
                context: b"ctx".to_vec(),
            };
            let sig = sign(&private, ctx.clone(), b"msg").unwrap();
            assert_eq!(sig.len(), set.signature_len());
            verify(&public, ctx.clone(), b"msg", &sig).unwrap();
            // The context is bound into the signature.
            assert_eq!(
                verify(&public, Params::None, b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            let plain = sign(&private, Params::None, b"msg").unwrap();
            verify(&public, Params::None, b"msg", &plain).unwrap();
            assert_eq!(
                verify(&public, Params::None, b"msh", &plain),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify(&public, Params::None, b"msg", &plain[1..]),
                Err(Error::SignatureLenRange)
            );
        }
    }

    #[test]
    fn hedging_and_determinism() {
        let (private, _) = pair(ParamSet::P44);
        let det = Params::SignContext {
            hedge: Hedge::Deterministic,
            context: Vec::new(),
        };
        assert_eq!(
            sign(&private, det.clone(), b"m").unwrap(),
            sign(&private, det, b"m").unwrap()
        );
        assert_ne!(
            sign(&private, Params::None, b"m").unwrap(),
            sign(&private, Params::None, b"m").unwrap()
        );
    }

    #[test]
    fn parameters_and_key_types() {
        assert!(parse_context(CKH_HEDGE_PREFERRED, &[0; 255]).is_ok());
        assert_eq!(
            parse_context(CKH_HEDGE_PREFERRED, &[0; 256]).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            parse_context(3, &[]).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let (private, public) = pair(ParamSet::P65);
        assert_eq!(
            sign_init(&mech(Params::None), public).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_init(&mech(Params::None), private).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(ParamSet::from_ckp(4), Err(Error::AttributeValueInvalid));
        assert_eq!(ParamSet::from_ckp(CKP_ML_DSA_87), Ok(ParamSet::P87));
    }

    #[test]
    fn encodings_round_trip() {
        for set in ParamSet::ALL {
            let k = generate(set).unwrap();
            let pk = k.public().to_bytes();
            assert_eq!(pk.len(), set.public_len());
            let public = MlDsaPublic::from_bytes(set, &pk).unwrap();
            assert_eq!(public.to_bytes(), pk);
            assert!(MlDsaPublic::from_bytes(set, &pk[1..]).is_err());
            let spki = public.spki();
            assert_eq!(spki.len(), pk.len() + 22);
            assert!(spki.ends_with(&pk));
            let der = pkcs8(&k);
            assert_eq!(der.len(), 54);
            let (alg, rest) = der[5..].split_at(13);
            assert_eq!(ParamSet::from_algorithm_identifier(alg), Some(set));
            let back = from_pkcs8(set, &rest[2..]).unwrap();
            assert_eq!(*back.seed(), *k.seed());
            assert!(from_pkcs8(set, &rest[3..]).is_err());
        }
    }

    /// Wycheproof mldsa_44_sign_seed_test.json (C2SP/wycheproof,
    /// commit 022eeaf): privateKeyPkcs8 of the seed 2a…2a, the IETF seed
    /// form; it reads back and we write the same bytes.
    #[test]
    fn wycheproof_pkcs8_seed_form() {
        let der = crate::test_util::unhex(&format!(
            "3034020100300b0609608648016503040311042280202a{}",
            "2a".repeat(31)
        ));
        let key = Key::from_pkcs8(&der).unwrap();
        assert_eq!(key.key_type(), CKK_ML_DSA);
        assert_eq!(key.ml_dsa_parameter_set(), Some(CKP_ML_DSA_44));
        assert_eq!(*key.to_pkcs8().unwrap(), der);
        assert_eq!(*key.ml_dsa_seed().unwrap(), [0x2a; 32]);
        // Parameters present, or a public key field: refused.
        let mut with_null = der.clone();
        with_null.splice(
            5..18,
            [0x30, 0x0d, 0x06, 0x09]
                .into_iter()
                .chain(der[9..18].iter().copied())
                .chain([0x05, 0x00]),
        );
        with_null[1] += 2;
        assert_eq!(
            Key::from_pkcs8(&with_null).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        // The "both" form, consistent and not.
        let k = MlDsaPrivate::from_seed(ParamSet::P44, &[0x2a; 32]).unwrap();
        let sk = k.expanded();
        let mut both = vec![0x30, 0x82, 0x0a, 0x26, 0x04, 0x20];
        both.extend_from_slice(&[0x2a; 32]);
        both.extend_from_slice(&[0x04, 0x82, 0x0a, 0x00]);
        both.extend_from_slice(&sk);
        assert_eq!(
            *from_pkcs8(ParamSet::P44, &both).unwrap().seed(),
            [0x2a; 32]
        );
        let last = both.len() - 1;
        both[last] ^= 1;
        assert!(from_pkcs8(ParamSet::P44, &both).is_err());
        // Expanded only: refused (kept in seed form).
        let mut expanded = vec![0x04, 0x82, 0x0a, 0x00];
        expanded.extend_from_slice(&sk);
        assert!(from_pkcs8(ParamSet::P44, &expanded).is_err());
    }

    /// μ as built here, with ML-DSA's domain byte 0, gives the crate's own
    /// deterministic ML-DSA signature: tr, the framing of M′ and the
    /// zero-rnd path are right, so HashML-DSA differs only where FIPS 204
    /// Algorithm 4 says (domain 1, OID ‖ PH(M)).
    #[test]
    fn mu_framing_matches_pure_ml_dsa() {
        for set in ParamSet::ALL {
            let k = MlDsaPrivate::from_seed(set, &[9; SEED_LEN]).unwrap();
            let pk = k.public().to_bytes();
            let mu = mu_of(&pk, 0, b"ctx", &[b"message"]).unwrap();
            fn via_mu<P: MlDsaParams>(k: &SigningKey<P>, mu: &Mu) -> Vec<u8> {
                let s = k.expanded_key().sign_mu_randomized(mu, &mut ZeroRng);
                s.unwrap().encode().to_vec()
            }
            let ours = match &k.key {
                Signer::P44(k) => via_mu(k, &mu),
                Signer::P65(k) => via_mu(k, &mu),
                Signer::P87(k) => via_mu(k, &mu),
            };
            assert_eq!(ours, k.sign(b"message", b"ctx", true).unwrap());
        }
    }

    /// HashML-DSA: each hash, pre-hashed by the caller or here, signs and
    /// verifies; a pure ML-DSA signature is not a HashML-DSA one; the
    /// pre-hash must have the hash's length.
    #[test]
    fn hash_ml_dsa_variants() {
        let (private, public) = pair(ParamSet::P44);
        let hashes = [
            (CKM_HASH_ML_DSA_SHA224, Some(CKM_SHA224)),
            (CKM_HASH_ML_DSA_SHA256, Some(CKM_SHA256)),
            (CKM_HASH_ML_DSA_SHA384, Some(CKM_SHA384)),
            (CKM_HASH_ML_DSA_SHA512, Some(CKM_SHA512)),
            (CKM_HASH_ML_DSA_SHA3_224, Some(CKM_SHA3_224)),
            (CKM_HASH_ML_DSA_SHA3_256, Some(CKM_SHA3_256)),
            (CKM_HASH_ML_DSA_SHA3_384, Some(CKM_SHA3_384)),
            (CKM_HASH_ML_DSA_SHA3_512, Some(CKM_SHA3_512)),
            (CKM_HASH_ML_DSA_SHAKE128, None),
            (CKM_HASH_ML_DSA_SHAKE256, None),
        ];
        let det = |context: &[u8]| Params::SignContext {
            hedge: Hedge::Deterministic,
            context: context.to_vec(),
        };
        let run_sign = |m: CK_MECHANISM_TYPE, p: Params, data: &[u8]| {
            let mut op = sign_init(&Mechanism { mech: m, params: p }, private.clone())?;
            op.update(data)?;
            op.finish()
        };
        let run_verify = |m: CK_MECHANISM_TYPE, p: Params, data: &[u8], sig: &[u8]| {
            let mut op = verify_init(&Mechanism { mech: m, params: p }, public.clone())?;
            op.update(data)?;
            op.finish(sig)
        };
        let pure = run_sign(CKM_ML_DSA, det(b"c"), b"msg").unwrap();
        for (mech, digest) in hashes {
            let sig = run_sign(mech, det(b"c"), b"msg").unwrap();
            assert_ne!(sig, pure);
            run_verify(mech, det(b"c"), b"msg", &sig).unwrap();
            assert_eq!(
                run_verify(mech, det(b""), b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                run_verify(CKM_ML_DSA, det(b"c"), b"msg", &sig),
                Err(Error::SignatureInvalid)
            );
            let Some(digest) = digest else { continue };
            let h = PreHash::of_digest(digest).unwrap();
            let ph = h.digest(b"msg");
            let given = parse_hash_context(CKH_DETERMINISTIC_REQUIRED, b"c", digest).unwrap();
            let sig2 = run_sign(CKM_HASH_ML_DSA, given.clone(), &ph).unwrap();
            assert_eq!(sig2, sig, "{mech:#x}: the caller's hash or ours");
            run_verify(CKM_HASH_ML_DSA, given.clone(), &ph, &sig).unwrap();
            assert_eq!(
                run_sign(CKM_HASH_ML_DSA, given.clone(), &ph[1..]),
                Err(Error::DataLenRange)
            );
        }
        assert_eq!(
            run_sign(CKM_HASH_ML_DSA, Params::None, &[0; 32]),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            parse_hash_context(CKH_HEDGE_PREFERRED, b"", CKM_MD5).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    #[test]
    fn debug_redacts() {
        let (private, _) = pair(ParamSet::P44);
        let s = format!("{private:?}");
        assert!(s.contains("redacted") && !s.contains("7, 7"), "{s}");
    }
}
