//! Finite-field Diffie-Hellman (PKCS #3; PKCS#11 3.x "Diffie-Hellman"):
//! CKK_DH keys, CKM_DH_PKCS_PARAMETER_GEN (a safe prime from
//! `crypto-primes`, generator 2), CKM_DH_PKCS_KEY_PAIR_GEN and
//! CKM_DH_PKCS_DERIVE. Modular exponentiation is crypto-bigint's
//! constant-time Montgomery form; no hand-written bignum.

use crypto_bigint::{BoxedUint, NonZero, Odd, RandomBits, RandomMod, Resize};
use crypto_primes::{Flavor, random_prime};
use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::dsa::{be, bit_len, modpow, precision, uint};
use super::keys::Key;
use super::registry::{Family, Generates};
use super::{MechInfo, Mechanism, Params, info, row};
use crate::error::{Error, Result};

/// The primes the module takes, in bits; the policy's `min_dh_bits`
/// decides what is used (default 2048).
pub const DH_MIN_BITS: u64 = 1024;
pub const DH_MAX_BITS: u64 = 8192;
/// The largest prime CKM_DH_PKCS_PARAMETER_GEN makes: a safe prime
/// search grows steeply with size (measured with dependencies at
/// opt-level 2: 1024 bits 2-6 s, 2048 bits 6-14 s).
pub const DH_GEN_MAX_BITS: u64 = 3072;

pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_DH_PKCS_KEY_PAIR_GEN,
        DH_MIN_BITS,
        DH_MAX_BITS,
        CKF_GENERATE_KEY_PAIR,
    ),
    row(
        CKM_DH_PKCS_PARAMETER_GEN,
        DH_MIN_BITS,
        DH_GEN_MAX_BITS,
        CKF_GENERATE,
    ),
    row(CKM_DH_PKCS_DERIVE, DH_MIN_BITS, DH_MAX_BITS, CKF_DERIVE),
];

/// A CKK_DH key: the domain parameters, the public value y, and for a
/// private key x.
#[derive(Clone)]
pub struct DhKey {
    p: Odd<BoxedUint>,
    g: BoxedUint,
    y: BoxedUint,
    x: Option<Zeroizing<BoxedUint>>,
}

impl DhKey {
    pub fn is_private(&self) -> bool {
        self.x.is_some()
    }

    /// Bits of the prime p.
    pub fn bits(&self) -> u64 {
        u64::from(self.p.bits_vartime())
    }

    /// Bytes of p: the length of the shared secret.
    fn p_len(&self) -> usize {
        usize::try_from(self.p.bits_vartime())
            .unwrap_or(0)
            .div_ceil(8)
    }

    /// (CKA_PRIME, CKA_BASE, public CKA_VALUE).
    pub fn public_parts(&self) -> [Vec<u8>; 3] {
        [be(&self.p), be(&self.g), be(&self.y)]
    }

    /// The private CKA_VALUE (x).
    pub fn private_value(&self) -> Result<Zeroizing<Vec<u8>>> {
        match &self.x {
            Some(x) => Ok(Zeroizing::new(be(x))),
            None => Err(Error::KeyTypeInconsistent),
        }
    }

    /// Bits of x (CKA_VALUE_BITS).
    pub fn value_bits(&self) -> Option<u64> {
        self.x.as_ref().map(|x| u64::from(x.bits()))
    }

    pub fn to_public(&self) -> DhKey {
        DhKey {
            x: None,
            ..self.clone()
        }
    }
}

/// Checked PKCS #3 domain parameters: p odd of DH_MIN_BITS..=DH_MAX_BITS
/// bits, 1 < g < p - 1.
pub fn domain(p: &[u8], g: &[u8]) -> Result<(Odd<BoxedUint>, BoxedUint)> {
    let bad = Error::AttributeValueInvalid;
    let bits = u64::from(bit_len(p));
    if !(DH_MIN_BITS..=DH_MAX_BITS).contains(&bits) {
        return Err(bad);
    }
    let prec = precision(bit_len(p));
    let p = Odd::new(uint(p, prec)?).into_option().ok_or(bad)?;
    let g = uint(g, prec)?;
    if !in_open_range(&g, &p) {
        return Err(bad);
    }
    Ok((p, g))
}

/// Whether a big-endian integer is (probably: Baillie-PSW) prime. Run
/// when domain parameters enter the token (import, the generation
/// template), not on every use of a stored key.
pub fn is_prime(n: &[u8]) -> bool {
    let bits = bit_len(n);
    if bits < 2 {
        return false;
    }
    uint(n, precision(bits)).is_ok_and(|v| crypto_primes::is_prime(Flavor::Any, &v))
}

/// `p` is prime (CKR_ATTRIBUTE_VALUE_INVALID otherwise).
pub fn check_prime(p: &[u8]) -> Result<()> {
    if is_prime(p) {
        Ok(())
    } else {
        Err(Error::AttributeValueInvalid)
    }
}

/// 1 < v < p - 1 (PKCS #3's public values; SP 800-56A's partial check).
fn in_open_range(v: &BoxedUint, p: &Odd<BoxedUint>) -> bool {
    let one = BoxedUint::one().resize_unchecked(p.bits_precision());
    let p_minus_1 = p.wrapping_sub(&one);
    *v > one && *v < p_minus_1
}

/// A DH public key (CKA_PRIME, CKA_BASE, CKA_VALUE).
pub fn public(p: &[u8], g: &[u8], y: &[u8]) -> Result<DhKey> {
    let (p, g) = domain(p, g)?;
    let y = uint(y, p.bits_precision())?;
    if !in_open_range(&y, &p) {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(DhKey { p, g, y, x: None })
}

/// A DH private key (CKA_PRIME, CKA_BASE, CKA_VALUE = x, 0 < x < p - 1);
/// y is computed.
pub fn private(p: &[u8], g: &[u8], x: &[u8]) -> Result<DhKey> {
    let (p, g) = domain(p, g)?;
    let x = Zeroizing::new(uint(x, p.bits_precision())?);
    let one = BoxedUint::one().resize_unchecked(p.bits_precision());
    if bool::from(x.is_zero()) || *x >= p.wrapping_sub(&one) {
        return Err(Error::AttributeValueInvalid);
    }
    let y = modpow(&g, &x, &p);
    Ok(DhKey {
        p,
        g,
        y,
        x: Some(x),
    })
}

/// CKM_DH_PKCS_KEY_PAIR_GEN: x of exactly `value_bits` bits when the
/// private template gives CKA_VALUE_BITS (PKCS #3: 2^(l-1) <= x < 2^l,
/// l < bits of p), else 2 <= x <= p - 2.
pub fn generate_pair(p: &[u8], g: &[u8], value_bits: Option<u64>) -> Result<Key> {
    let (p, g) = domain(p, g)?;
    let prec = p.bits_precision();
    let mut rng = super::provider::generation::Rng;
    let x = match value_bits {
        Some(l) => {
            let l = u32::try_from(l).map_err(|_| Error::AttributeValueInvalid)?;
            if l < 2 || l >= p.bits_vartime() {
                return Err(Error::AttributeValueInvalid);
            }
            let r = BoxedUint::try_random_bits(&mut rng, l).map_err(|_| Error::FunctionFailed)?;
            let top = BoxedUint::one().resize_unchecked(prec).shl(l - 1);
            r.resize_unchecked(prec).bitor(&top)
        }
        None => {
            let three = BoxedUint::from(3u8).resize_unchecked(prec);
            let range = NonZero::new(p.wrapping_sub(&three))
                .into_option()
                .ok_or(Error::AttributeValueInvalid)?;
            let two = BoxedUint::from(2u8).resize_unchecked(prec);
            BoxedUint::try_random_mod_vartime(&mut rng, &range)?.wrapping_add(&two)
        }
    };
    let x = Zeroizing::new(x);
    let y = modpow(&g, &x, &p);
    Ok(Key::Dh(Box::new(DhKey {
        p,
        g,
        y,
        x: Some(x),
    })))
}

/// CKM_DH_PKCS_PARAMETER_GEN: a safe prime p of `bits` bits and g = 2
/// (which generates the subgroup of order (p-1)/2 or the whole group;
/// either serves PKCS #3).
pub fn generate_parameters(bits: u64) -> Result<[Vec<u8>; 2]> {
    if !(DH_MIN_BITS..=DH_GEN_MAX_BITS).contains(&bits) {
        return Err(Error::AttributeValueInvalid);
    }
    let bits = u32::try_from(bits).map_err(|_| Error::AttributeValueInvalid)?;
    let mut rng = super::provider::generation::FlaggedRng::default();
    let p: BoxedUint = random_prime(&mut rng, Flavor::Safe, bits);
    if rng.failed() {
        return Err(Error::FunctionFailed);
    }
    Ok([be(&p), vec![2]])
}

/// CKM_DH_PKCS_DERIVE: z = peer^x mod p as a big-endian string of p's
/// length; a shorter key takes z's trailing bytes ("the truncation
/// removes bytes from the leading end"). The peer value must satisfy
/// 1 < y < p - 1 (else CKR_MECHANISM_PARAM_INVALID).
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    if mech.mech != CKM_DH_PKCS_DERIVE {
        return Err(Error::MechanismInvalid);
    }
    let Params::PeerValue(peer) = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let Key::Dh(k) = base else {
        return Err(Error::KeyTypeInconsistent);
    };
    let Some(x) = &k.x else {
        return Err(Error::KeyTypeInconsistent);
    };
    if !info(mech.mech)?.key_size_ok(k.bits()) {
        return Err(Error::KeySizeRange);
    }
    let bad = Error::MechanismParamInvalid;
    if trim_len(peer) > k.p_len() {
        return Err(bad);
    }
    let y = uint(peer, k.p.bits_precision()).map_err(|_| bad)?;
    if !in_open_range(&y, &k.p) {
        return Err(bad);
    }
    let z = modpow(&y, x, &k.p);
    let one = BoxedUint::one().resize_unchecked(k.p.bits_precision());
    if z <= one {
        return Err(bad);
    }
    let z_bytes = Zeroizing::new(be(&z));
    let n = k.p_len();
    let mut full = Zeroizing::new(vec![0u8; n.saturating_sub(z_bytes.len())]);
    full.extend_from_slice(&z_bytes);
    let Some(len) = len else {
        return Ok(full);
    };
    if len == 0 {
        return Err(Error::KeySizeRange);
    }
    let start = full.len().checked_sub(len).ok_or(Error::KeySizeRange)?;
    Ok(Zeroizing::new(
        full.get(start..).ok_or(Error::KeySizeRange)?.to_vec(),
    ))
}

fn trim_len(b: &[u8]) -> usize {
    super::dsa::trim(b).len()
}

/// The DH family: derivation, and the generation mechanisms.
pub struct DhFamily;

impl Family for DhFamily {
    fn ops(&self) -> CK_FLAGS {
        CKF_DERIVE
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        match mech {
            CKM_DH_PKCS_KEY_PAIR_GEN => Some(Generates::Pair(CKK_DH)),
            CKM_DH_PKCS_PARAMETER_GEN => Some(Generates::DomainParameters(CKK_DH)),
            _ => None,
        }
    }
    fn derive(
        &self,
        mech: &Mechanism,
        base: &Key,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        derive(mech, base, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3526 group 14 (2048-bit MODP), generator 2.
    const MODP_2048: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

    fn mech(peer: &[u8]) -> Mechanism {
        Mechanism {
            mech: CKM_DH_PKCS_DERIVE,
            params: Params::PeerValue(peer.to_vec()),
        }
    }

    /// Two generated pairs agree; the secret has p's length and a shorter
    /// key is its tail; bad peer values are refused.
    #[test]
    fn agreement() {
        let p = crate::test_util::unhex(MODP_2048);
        let a = generate_pair(&p, &[2], None).unwrap();
        let b = generate_pair(&p, &[2], Some(256)).unwrap();
        let (Key::Dh(ka), Key::Dh(kb)) = (&a, &b) else {
            panic!()
        };
        assert_eq!(kb.value_bits(), Some(256));
        let [_, _, ya] = ka.public_parts();
        let [_, _, yb] = kb.public_parts();
        let z1 = derive(&mech(&yb), &a, None).unwrap();
        let z2 = derive(&mech(&ya), &b, None).unwrap();
        assert_eq!(*z1, *z2);
        assert_eq!(z1.len(), 256);
        let short = derive(&mech(&yb), &a, Some(16)).unwrap();
        assert_eq!(short.as_slice(), &z1[240..]);
        let p_minus_1 = {
            let mut v = p.clone();
            *v.last_mut().unwrap() -= 1;
            v
        };
        for bad in [&[1u8][..], &[0], &p_minus_1, &p, &[]] {
            assert_eq!(
                derive(&mech(bad), &a, None),
                Err(Error::MechanismParamInvalid)
            );
        }
        // The private key rebuilt from x has the same y.
        let x = ka.private_value().unwrap();
        assert_eq!(private(&p, &[2], &x).unwrap().public_parts()[2], ya);
        // A public key cannot derive.
        let public = Key::Dh(Box::new(ka.to_public()));
        assert_eq!(
            derive(&mech(&yb), &public, None),
            Err(Error::KeyTypeInconsistent)
        );
        assert!(domain(&p, &[1]).is_err());
        assert!(is_prime(&p));
        assert!(check_prime(&p_minus_1).is_err());
        let mut composite = p.clone();
        *composite.last_mut().unwrap() -= 2;
        assert!(check_prime(&composite).is_err());
        assert!(domain(&[0xff; 64], &[2]).is_err());
    }

    /// How long the safe prime search takes (random: run several times).
    /// `cargo test -p keyward-core --lib mechanism::dh -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn safe_prime_timing() {
        for bits in [1024, 1024, 1024, 2048, 2048] {
            let t = std::time::Instant::now();
            generate_parameters(bits).unwrap();
            eprintln!("{bits}-bit safe prime: {:?}", t.elapsed());
        }
    }

    #[test]
    fn safe_prime_parameters() {
        let [p, g] = generate_parameters(1024).unwrap();
        assert_eq!(bit_len(&p), 1024);
        assert_eq!(g, vec![2]);
        assert!(generate_parameters(512).is_err());
    }
}
