//! DSA (FIPS 186-4; PKCS#11 3.x "DSA"): CKK_DSA keys, domain parameter
//! and key pair generation, and the CKM_DSA / CKM_DSA_SHA* signatures
//! (r || s, each of the subprime's length, not DER), on RustCrypto's `dsa`
//! crate. Only the FIPS 186-4 sizes (L, N) = (1024, 160), (2048, 224),
//! (2048, 256), (3072, 256) are taken: the crate refuses others. FIPS
//! 186-5 no longer approves making DSA signatures: the policy's
//! `dsa_signatures` rule decides whether this token signs or generates
//! (verification stays, for legacy signatures).

use std::sync::Arc;

use crypto_bigint::{BoxedUint, NonZero, Odd, Resize};
use cryptoki_sys::*;
use dsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use dsa::{Components, KeySize, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::keys::Key;
use super::registry::{Family, Generates};
use super::sign::{Input, SignOp, VerifyOp};
use super::state::InputState;
use super::{MechInfo, Mechanism, Params, info, row};
use crate::error::{Error, Result};

/// Smallest and largest DSA prime the module takes, in bits.
pub const DSA_MIN_BITS: u64 = 1024;
pub const DSA_MAX_BITS: u64 = 3072;

const SIGN_VERIFY: CK_FLAGS = CKF_SIGN | CKF_VERIFY;

/// The DSA mechanisms, sizes in bits of the prime p.
pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_DSA_KEY_PAIR_GEN,
        DSA_MIN_BITS,
        DSA_MAX_BITS,
        CKF_GENERATE_KEY_PAIR,
    ),
    row(
        CKM_DSA_PARAMETER_GEN,
        DSA_MIN_BITS,
        DSA_MAX_BITS,
        CKF_GENERATE,
    ),
    row(CKM_DSA, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
    row(CKM_DSA_SHA1, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
    row(CKM_DSA_SHA224, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
    row(CKM_DSA_SHA256, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
    row(CKM_DSA_SHA384, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
    row(CKM_DSA_SHA512, DSA_MIN_BITS, DSA_MAX_BITS, SIGN_VERIFY),
];

/// Every DSA signature mechanism (the policy's `dsa_signatures` rule).
pub const SIGNATURE_MECHANISMS: &[CK_MECHANISM_TYPE] = &[
    CKM_DSA,
    CKM_DSA_SHA1,
    CKM_DSA_SHA224,
    CKM_DSA_SHA256,
    CKM_DSA_SHA384,
    CKM_DSA_SHA512,
];

/// The input lengths CKM_DSA signs (a SHA-1, -224, -256, -384 or -512
/// hash: PKCS#11 3.x "DSA without hashing").
const RAW_INPUT_LENS: [usize; 5] = [20, 28, 32, 48, 64];

/// A CKK_DSA key.
#[derive(Clone)]
pub enum DsaKey {
    /// Zeroized on drop by the crate.
    Private(SigningKey),
    Public(VerifyingKey),
}

impl DsaKey {
    fn verifying(&self) -> &VerifyingKey {
        match self {
            DsaKey::Private(k) => k.verifying_key(),
            DsaKey::Public(k) => k,
        }
    }

    pub fn is_private(&self) -> bool {
        matches!(self, DsaKey::Private(_))
    }

    /// Bits of the prime p (the mechanism table's unit).
    pub fn bits(&self) -> u64 {
        u64::from(self.verifying().components().p().bits_vartime())
    }

    /// Bytes of the subprime q: each of r and s in a signature.
    fn q_len(&self) -> usize {
        usize::try_from(self.verifying().components().q().bits_vartime())
            .unwrap_or(0)
            .div_ceil(8)
    }

    /// (CKA_PRIME, CKA_SUBPRIME, CKA_BASE, public CKA_VALUE), big-endian
    /// without leading zeros.
    pub fn public_parts(&self) -> [Vec<u8>; 4] {
        let v = self.verifying();
        let c = v.components();
        [be(c.p()), be(c.q()), be(c.g()), be(v.y())]
    }

    /// The private CKA_VALUE (x).
    pub fn private_value(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            DsaKey::Private(k) => Ok(Zeroizing::new(be(k.x()))),
            DsaKey::Public(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    /// DER PrivateKeyInfo (id-dsa, Dss-Parms, x as an INTEGER) of a
    /// private key.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        use pkcs8::EncodePrivateKey;
        match self {
            DsaKey::Private(k) => k
                .to_pkcs8_der()
                .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
                .map_err(|_| Error::GeneralError),
            DsaKey::Public(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The attributes of a private key object: CKA_PRIME, CKA_SUBPRIME,
    /// CKA_BASE and CKA_VALUE (x).
    pub fn private_attributes(&self) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Zeroizing<Vec<u8>>)>> {
        let [p, q, g, _] = self.public_parts();
        Ok(vec![
            (CKA_PRIME, Zeroizing::new(p)),
            (CKA_SUBPRIME, Zeroizing::new(q)),
            (CKA_BASE, Zeroizing::new(g)),
            (CKA_VALUE, self.private_value()?),
        ])
    }

    pub fn to_public(&self) -> DsaKey {
        DsaKey::Public(self.verifying().clone())
    }

    /// DER SubjectPublicKeyInfo (id-dsa with its parameters).
    pub fn spki(&self) -> Result<Vec<u8>> {
        use pkcs8::EncodePublicKey;
        self.verifying()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| Error::GeneralError)
    }
}

/// A big integer's big-endian bytes without leading zeros.
pub(super) fn be(n: &BoxedUint) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or(&[]).to_vec()
}

/// A big-endian integer without its leading zero bytes.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or(&[])
}

/// Bit length of a big-endian integer.
pub fn bit_len(bytes: &[u8]) -> u32 {
    let t = trim(bytes);
    match t.first() {
        None => 0,
        Some(first) => {
            let whole = u32::try_from(t.len().saturating_sub(1))
                .unwrap_or(u32::MAX / 16)
                .saturating_mul(8);
            whole.saturating_add(u8::BITS - first.leading_zeros())
        }
    }
}

/// Limb-aligned precision for an integer of `bits` bits.
pub(super) fn precision(bits: u32) -> u32 {
    bits.div_ceil(64).max(1).saturating_mul(64)
}

/// A big-endian integer at `precision` bits; too long is a bad value.
pub(super) fn uint(bytes: &[u8], precision: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(trim(bytes), precision).map_err(|_| Error::AttributeValueInvalid)
}

/// Checked DSA domain parameters: a FIPS 186-4 (L, N) pair, p odd, g in
/// 2..p, g^q = 1 mod p (checked by the crate when a key is built on them).
pub fn components(p: &[u8], q: &[u8], g: &[u8]) -> Result<Components> {
    let bad = Error::AttributeValueInvalid;
    let p_prec = precision(bit_len(p));
    let q_prec = precision(bit_len(q));
    if u64::from(bit_len(p)) > DSA_MAX_BITS {
        return Err(bad);
    }
    let c = Components::from_components(uint(p, p_prec)?, uint(q, q_prec)?, uint(g, p_prec)?)
        .map_err(|_| bad)?;
    // g generates the subgroup of order q (FIPS 186-4 A.2.2's check
    // g^q = 1 mod p; the crate checks only 2 <= g < p).
    let one = BoxedUint::one().resize_unchecked(p_prec);
    if **c.g() <= one || modpow(c.g(), c.q(), c.p()) != one {
        return Err(bad);
    }
    Ok(c)
}

/// A DSA public key from its domain parameters and y.
pub fn public(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<DsaKey> {
    let c = components(p, q, g)?;
    let y = uint(y, c.p().bits_precision())?;
    VerifyingKey::from_components(c, y)
        .map(DsaKey::Public)
        .map_err(|_| Error::AttributeValueInvalid)
}

/// A DSA private key from its domain parameters and x; y = g^x mod p is
/// computed.
pub fn private(p: &[u8], q: &[u8], g: &[u8], x: &[u8]) -> Result<DsaKey> {
    let c = components(p, q, g)?;
    let x = Zeroizing::new(uint(x, c.q().bits_precision())?);
    let x_nz = NonZero::new((*x).clone())
        .into_option()
        .ok_or(Error::AttributeValueInvalid)?;
    if *x_nz >= **c.q() {
        return Err(Error::AttributeValueInvalid);
    }
    let y = modpow(c.g(), &x_nz, c.p());
    let vk = VerifyingKey::from_components(c, y).map_err(|_| Error::AttributeValueInvalid)?;
    SigningKey::from_components(vk, x_nz.get())
        .map(DsaKey::Private)
        .map_err(|_| Error::AttributeValueInvalid)
}

/// A DSA private key from DER PrivateKeyInfo (id-dsa), rebuilt through
/// [`private`] so an unwrapped key meets the same checks as an imported
/// one.
pub fn from_pkcs8(der: &[u8]) -> Result<Key> {
    use pkcs8::DecodePrivateKey;
    let k = SigningKey::from_pkcs8_der(der).map_err(|_| Error::WrappedKeyInvalid)?;
    let parts = DsaKey::Private(k);
    let [p, q, g, _] = parts.public_parts();
    let x = parts.private_value()?;
    private(&p, &q, &g, &x)
        .map(|k| Key::Dsa(Box::new(k)))
        .map_err(|_| Error::WrappedKeyInvalid)
}

/// base^exp mod p with crypto-bigint's constant-time Montgomery form.
pub(super) fn modpow(base: &BoxedUint, exp: &BoxedUint, p: &Odd<BoxedUint>) -> BoxedUint {
    use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
    let params = BoxedMontyParams::new(p.clone());
    let base = base.clone().resize_unchecked(p.bits_precision());
    BoxedMontyForm::new(base, &params).pow(exp).retrieve()
}

/// The (L, N) sizes the generator makes for a prime of `bits` bits: the
/// spec's defaults for CKA_SUBPRIME_BITS (160 up to 1024, 224 at 2048,
/// 256 at 3072).
fn key_size(bits: u64) -> Result<KeySize> {
    #[allow(deprecated)]
    match bits {
        1024 => Ok(KeySize::DSA_1024_160),
        2048 => Ok(KeySize::DSA_2048_224),
        3072 => Ok(KeySize::DSA_3072_256),
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// CKM_DSA_PARAMETER_GEN: (p, q, g) for a prime of `bits` bits (1024,
/// 2048 or 3072; else CKR_ATTRIBUTE_VALUE_INVALID).
pub fn generate_parameters(bits: u64) -> Result<[Vec<u8>; 3]> {
    let size = key_size(bits)?;
    let mut rng = super::provider::generation::Rng;
    let c = Components::try_generate_from_rng_with_key_size(&mut rng, size)?;
    Ok([be(c.p()), be(c.q()), be(c.g())])
}

/// CKM_DSA_KEY_PAIR_GEN on the given domain parameters.
pub fn generate_pair(p: &[u8], q: &[u8], g: &[u8]) -> Result<Key> {
    let c = components(p, q, g)?;
    let mut rng = super::provider::generation::Rng;
    let k = SigningKey::try_generate_from_rng_with_components(&mut rng, c)?;
    Ok(Key::Dsa(Box::new(DsaKey::Private(k))))
}

/// The hash of a DSA mechanism; None for raw CKM_DSA.
fn hash_of(mech: CK_MECHANISM_TYPE) -> Result<Option<HashAlg>> {
    Ok(match mech {
        CKM_DSA => None,
        CKM_DSA_SHA1 => Some(HashAlg::Sha1),
        CKM_DSA_SHA224 => Some(HashAlg::Sha224),
        CKM_DSA_SHA256 => Some(HashAlg::Sha256),
        CKM_DSA_SHA384 => Some(HashAlg::Sha384),
        CKM_DSA_SHA512 => Some(HashAlg::Sha512),
        _ => return Err(Error::MechanismInvalid),
    })
}

fn dsa_key(key: &Key) -> Result<&DsaKey> {
    match key {
        Key::Dsa(k) => Ok(k),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// Checks the mechanism, its (absent) parameter, the key's type and size.
fn start(mech: &Mechanism, key: &Key, private: bool, flag: CK_FLAGS) -> Result<Option<HashAlg>> {
    let hash = hash_of(mech.mech)?;
    if mech.params != Params::None {
        return Err(Error::MechanismParamInvalid);
    }
    let k = dsa_key(key)?;
    if k.is_private() != private {
        return Err(Error::KeyTypeInconsistent);
    }
    let row = info(mech.mech)?;
    if row.flags & flag == 0 {
        return Err(Error::MechanismInvalid);
    }
    if !row.key_size_ok(k.bits()) {
        return Err(Error::KeySizeRange);
    }
    Ok(hash)
}

/// The digest to sign: the mechanism's hash of the input, or CKM_DSA's
/// caller-made hash (20, 28, 32, 48 or 64 bytes, else
/// CKR_DATA_LEN_RANGE).
fn digest(input: &mut Input, raw: bool) -> Result<Vec<u8>> {
    let h = input.take()?;
    if raw && !RAW_INPUT_LENS.contains(&h.len()) {
        return Err(Error::DataLenRange);
    }
    Ok(h)
}

/// A DSA signature being made.
pub(super) struct DsaSign {
    key: Arc<Key>,
    input: Input,
    raw: bool,
    sig_len: usize,
}

impl SignOp for DsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    /// Deterministic k (RFC 6979, HMAC-SHA-256 over the key and digest).
    fn finish(&mut self) -> Result<Vec<u8>> {
        let h = digest(&mut self.input, self.raw)?;
        let DsaKey::Private(k) = dsa_key(&self.key)? else {
            return Err(Error::KeyTypeInconsistent);
        };
        let sig = k.sign_prehash(&h).map_err(|_| Error::FunctionFailed)?;
        let n = self.sig_len / 2;
        let mut out = fixed(sig.r(), n)?;
        out.extend(fixed(sig.s(), n)?);
        Ok(out)
    }

    fn sign_len(&self) -> usize {
        self.sig_len
    }
}

/// `v` big-endian in exactly `n` bytes.
fn fixed(v: &BoxedUint, n: usize) -> Result<Vec<u8>> {
    let b = be(v);
    let pad = n.checked_sub(b.len()).ok_or(Error::GeneralError)?;
    let mut out = vec![0u8; pad];
    out.extend(b);
    Ok(out)
}

/// A DSA verification.
pub(super) struct DsaVerify {
    key: Arc<Key>,
    input: Input,
    raw: bool,
}

impl VerifyOp for DsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let h = digest(&mut self.input, self.raw)?;
        let k = dsa_key(&self.key)?;
        let n = k.q_len();
        if signature.len() != 2 * n {
            return Err(Error::SignatureLenRange);
        }
        let (r, s) = signature.split_at(n);
        let prec = k.verifying().components().q().bits_precision();
        let sig = dsa::Signature::from_components(uint(r, prec)?, uint(s, prec)?)
            .ok_or(Error::SignatureInvalid)?;
        k.verifying()
            .verify_prehash(&h, &sig)
            .map_err(|_| Error::SignatureInvalid)
    }
}

/// The DSA family: signatures, and the generation mechanisms (the object
/// layer builds those from what [`Family::generates`] says).
pub struct DsaFamily;

impl Family for DsaFamily {
    fn ops(&self) -> CK_FLAGS {
        SIGN_VERIFY
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        match mech {
            CKM_DSA_KEY_PAIR_GEN => Some(Generates::Pair(CKK_DSA)),
            CKM_DSA_PARAMETER_GEN => Some(Generates::DomainParameters(CKK_DSA)),
            _ => None,
        }
    }
    /// CKM_DSA signs a caller's hash: single-part only.
    fn multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        mech != CKM_DSA
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
        let hash = start(mech, &key, true, CKF_SIGN)?;
        let sig_len = 2 * dsa_key(&key)?.q_len();
        Ok(Box::new(DsaSign {
            key,
            input: Input::new(hash),
            raw: hash.is_none(),
            sig_len,
        }))
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
        let hash = start(mech, &key, false, CKF_VERIFY)?;
        Ok(Box::new(DsaVerify {
            key,
            input: Input::new(hash),
            raw: hash.is_none(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mech(m: CK_MECHANISM_TYPE) -> Mechanism {
        Mechanism {
            mech: m,
            params: Params::None,
        }
    }

    /// How long parameter generation takes (random).
    #[test]
    #[ignore]
    fn parameter_timing() {
        for bits in [1024, 2048, 3072] {
            let t = std::time::Instant::now();
            generate_parameters(bits).unwrap();
            eprintln!("{bits}-bit DSA parameters: {:?}", t.elapsed());
        }
    }

    /// A generated 1024-bit pair signs and verifies with every hash, and
    /// a changed message or signature fails.
    #[test]
    fn sign_verify_round_trip() {
        let [p, q, g] = generate_parameters(1024).unwrap();
        assert_eq!(bit_len(&p), 1024);
        assert_eq!(bit_len(&q), 160);
        let private = Arc::new(generate_pair(&p, &q, &g).unwrap());
        let public = Arc::new(private.to_public().unwrap());
        for m in [CKM_DSA_SHA1, CKM_DSA_SHA256, CKM_DSA_SHA512] {
            let mut s = DsaFamily.sign(&mech(m), private.clone(), None).unwrap();
            s.update(b"abc").unwrap();
            let sig = s.finish().unwrap();
            assert_eq!(sig.len(), 40);
            let verify = |msg: &[u8], sig: &[u8]| {
                let mut v = DsaFamily.verify(&mech(m), public.clone(), None).unwrap();
                v.update(msg).unwrap();
                v.finish(sig)
            };
            assert_eq!(verify(b"abc", &sig), Ok(()));
            assert_eq!(verify(b"abd", &sig), Err(Error::SignatureInvalid));
            assert_eq!(verify(b"abc", &sig[..39]), Err(Error::SignatureLenRange));
        }
        // Raw DSA: only hash-sized inputs.
        let mut s = DsaFamily
            .sign(&mech(CKM_DSA), private.clone(), None)
            .unwrap();
        s.update(&[1; 21]).unwrap();
        assert_eq!(s.finish(), Err(Error::DataLenRange));
        // Wrong halves.
        assert!(
            DsaFamily
                .sign(&mech(CKM_DSA_SHA1), public.clone(), None)
                .is_err()
        );
        assert!(
            DsaFamily
                .verify(&mech(CKM_DSA_SHA1), private.clone(), None)
                .is_err()
        );
        // The private key rebuilt from its parts is the same key.
        let Key::Dsa(k) = &*private else { panic!() };
        let x = k.private_value().unwrap();
        // Debug shows no secret.
        let shown = format!("{private:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let x_hex: String = x.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.to_lowercase().contains(&x_hex));
        let again = super::private(&p, &q, &g, &x).unwrap();
        assert_eq!(again.public_parts(), k.public_parts());
        // Bad domain parameters.
        assert!(components(&p, &q, &[0]).is_err());
        assert!(components(&p[1..], &q, &g).is_err());
    }
}
