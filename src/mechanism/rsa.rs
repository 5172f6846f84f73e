//! RSA signatures: PKCS#1 v1.5 (raw CKM_RSA_PKCS over a caller-made
//! DigestInfo, or CKM_SHAx_RSA_PKCS hashing and prefixing) and PSS (raw
//! CKM_RSA_PKCS_PSS over a hash, or CKM_SHAx_RSA_PKCS_PSS). PSS uses MGF1
//! with the message hash: the rsa crate ties the two, so parameters naming
//! a different MGF1 hash are refused when the mechanism is parsed. The
//! padding and signing primitive is the crypto provider's (provider/).

use std::sync::Arc;

use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::digest::HashAlg;
use super::keys::Key;
use super::provider::{self, Cached};
use super::sign::{Input, SignOp, VerifyOp};
use super::state::Resume;
use crate::error::{Error, Result};

/// PKCS#1 v1.5 type-1 padding needs 11 bytes besides the data.
const PKCS1_OVERHEAD: usize = 11;

/// The padding of an RSA signature mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RsaScheme {
    /// PKCS#1 v1.5; with a hash the input is DigestInfo-prefixed, without
    /// it the caller's data is padded as is.
    Pkcs1(Option<HashAlg>),
    /// RSASSA-PSS over a hash of `hash`'s length.
    Pss { hash: HashAlg, salt_len: usize },
}

impl RsaScheme {
    /// The hash a scheme signs (None: raw PKCS#1 over the caller's data).
    pub(super) fn hash(&self) -> Option<HashAlg> {
        match self {
            RsaScheme::Pkcs1(hash) => *hash,
            RsaScheme::Pss { hash, .. } => Some(*hash),
        }
    }

    /// Checks the data handed to the padding: raw PKCS#1 must leave room
    /// for the padding, raw PSS must be exactly one hash.
    fn check_data(&self, data: &[u8], k: usize) -> Result<()> {
        let ok = match self {
            RsaScheme::Pkcs1(None) => data.len() <= k.saturating_sub(PKCS1_OVERHEAD),
            RsaScheme::Pkcs1(Some(hash)) | RsaScheme::Pss { hash, .. } => {
                data.len() == hash.output_len()
            }
        };
        if ok { Ok(()) } else { Err(Error::DataLenRange) }
    }

    /// RFC 8017 §9.1.1: emLen ≥ hLen + sLen + 2 with emLen = ⌈(modBits−1)/8⌉.
    fn check_key(&self, mod_bits: usize) -> Result<()> {
        if let RsaScheme::Pss { hash, salt_len } = self {
            let em_len = mod_bits.saturating_sub(1).div_ceil(8);
            let needed = hash
                .output_len()
                .checked_add(*salt_len)
                .and_then(|n| n.checked_add(2))
                .ok_or(Error::MechanismParamInvalid)?;
            if em_len < needed {
                return Err(Error::MechanismParamInvalid);
            }
        }
        Ok(())
    }
}

fn private_key(key: &Key) -> Result<&Cached<RsaPrivateKey>> {
    match key {
        Key::RsaPrivate(k) => Ok(&**k),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn public_key(key: &Key) -> Result<&Cached<RsaPublicKey>> {
    match key {
        Key::RsaPublic(k) => Ok(&**k),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn mod_bits(key: &impl PublicKeyParts) -> Result<usize> {
    usize::try_from(key.n().bits_vartime()).map_err(|_| Error::GeneralError)
}

/// An RSA signature in progress; `prehash` is the digest the mechanism
/// applies to the input (None for raw mechanisms).
pub(super) struct RsaSign {
    key: Arc<Key>,
    scheme: RsaScheme,
    input: Input,
    k: usize,
}

impl RsaSign {
    pub(super) fn new(
        key: Arc<Key>,
        scheme: RsaScheme,
        prehash: Option<HashAlg>,
    ) -> Result<RsaSign> {
        let private = private_key(&key)?;
        scheme.check_key(mod_bits(&**private)?)?;
        provider::check_rsa_scheme(scheme, prehash, true)?;
        let k = private.size();
        Ok(RsaSign {
            key,
            scheme,
            input: Input::new(prehash),
            k,
        })
    }
}

impl Resume for RsaSign {
    fn input(&self) -> &Input {
        &self.input
    }

    fn input_mut(&mut self) -> &mut Input {
        &mut self.input
    }
}

impl SignOp for RsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let message = self.input.message_hash().is_some();
        let data = self.input.take()?;
        let key = private_key(&self.key)?;
        if message {
            return provider::active().rsa_sign_message(key, self.scheme, &data);
        }
        self.scheme.check_data(&data, self.k)?;
        provider::active().rsa_sign(key, self.scheme, &data)
    }

    fn sign_len(&self) -> usize {
        self.k
    }
}

/// An RSA verification in progress.
pub(super) struct RsaVerify {
    key: Arc<Key>,
    scheme: RsaScheme,
    input: Input,
    k: usize,
}

impl RsaVerify {
    pub(super) fn new(
        key: Arc<Key>,
        scheme: RsaScheme,
        prehash: Option<HashAlg>,
    ) -> Result<RsaVerify> {
        let public = public_key(&key)?;
        scheme.check_key(mod_bits(&**public)?)?;
        provider::check_rsa_scheme(scheme, prehash, false)?;
        let k = public.size();
        Ok(RsaVerify {
            key,
            scheme,
            input: Input::new(prehash),
            k,
        })
    }
}

impl Resume for RsaVerify {
    fn input(&self) -> &Input {
        &self.input
    }

    fn input_mut(&mut self) -> &mut Input {
        &mut self.input
    }
}

impl VerifyOp for RsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.input.message_hash().is_some();
        let data = self.input.take()?;
        if !message {
            self.scheme.check_data(&data, self.k)?;
        }
        if signature.len() != self.k {
            return Err(Error::SignatureLenRange);
        }
        let key = public_key(&self.key)?;
        if message {
            return provider::active().rsa_verify_message(key, self.scheme, &data, signature);
        }
        provider::active().rsa_verify(key, self.scheme, &data, signature)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use cryptoki_sys::*;

    use super::*;
    use crate::mechanism::{Mechanism, RsaKeyPairParts, generate_rsa, sign_init, verify_init};

    /// One 2048-bit key pair shared by every test here (generation is slow).
    fn parts() -> &'static RsaKeyPairParts {
        static PARTS: OnceLock<RsaKeyPairParts> = OnceLock::new();
        PARTS.get_or_init(|| generate_rsa(2048, &[]).unwrap())
    }

    fn keys() -> (Arc<Key>, Arc<Key>) {
        let p = parts();
        let private = Key::rsa_private(
            &p.modulus,
            &p.public_exponent,
            &p.private_exponent,
            Some((&p.prime_1, &p.prime_2)),
        )
        .unwrap();
        let public = Key::rsa_public(&p.modulus, &p.public_exponent).unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn pss(m: CK_MECHANISM_TYPE, hash: CK_MECHANISM_TYPE, mgf: u64, salt: u64) -> Mechanism {
        let param: Vec<u8> = [hash, mgf, salt]
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        Mechanism::parse(m, Some(&param)).unwrap()
    }

    fn sign(m: &Mechanism, key: &Arc<Key>, data: &[u8]) -> Result<Vec<u8>> {
        let mut op = sign_init(m, key.clone())?;
        op.update(data)?;
        let sig = op.finish()?;
        assert_eq!(sig.len(), op.sign_len());
        Ok(sig)
    }

    fn verify(m: &Mechanism, key: &Arc<Key>, data: &[u8], sig: &[u8]) -> Result<()> {
        let mut op = verify_init(m, key.clone())?;
        op.update(data)?;
        op.finish(sig)
    }

    #[test]
    fn generated_parts_are_consistent() {
        let p = parts();
        assert_eq!(p.modulus.len(), 256);
        assert_eq!(p.public_exponent, vec![1, 0, 1]);
        let (private, public) = keys();
        assert_eq!(private.bits(), 2048);
        assert_eq!(
            private.rsa_public_parts().unwrap(),
            (p.modulus.clone(), p.public_exponent.clone())
        );
        assert_eq!(
            private.public_key_info().unwrap(),
            public.public_key_info().unwrap()
        );
        // Without the primes they are recovered from (n, e, d).
        let recovered = Key::rsa_private(&p.modulus, &p.public_exponent, &p.private_exponent, None);
        assert!(recovered.is_ok());
        // A wrong private exponent is refused.
        let mut d = p.private_exponent.to_vec();
        d[10] ^= 1;
        assert_eq!(
            Key::rsa_private(
                &p.modulus,
                &p.public_exponent,
                &d,
                Some((&p.prime_1, &p.prime_2))
            )
            .unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert!(!format!("{private:?}").contains("d:"));
    }

    #[test]
    fn pkcs1_v15_sign_verify() {
        let (private, public) = keys();
        let m = Mechanism::parse(CKM_SHA256_RSA_PKCS, None).unwrap();
        let sig = sign(&m, &private, b"message").unwrap();
        assert_eq!(sig.len(), 256);
        assert_eq!(verify(&m, &public, b"message", &sig), Ok(()));
        assert_eq!(
            verify(&m, &public, b"massage", &sig),
            Err(Error::SignatureInvalid)
        );
        assert_eq!(
            verify(&m, &public, b"message", &sig[..255]),
            Err(Error::SignatureLenRange)
        );
        let mut long = sig.clone();
        long.push(0);
        assert_eq!(
            verify(&m, &public, b"message", &long),
            Err(Error::SignatureLenRange)
        );

        // Raw CKM_RSA_PKCS over the SHA-256 DigestInfo gives the same bytes
        // (PKCS#1 v1.5 signing is deterministic).
        let raw = Mechanism::parse(CKM_RSA_PKCS, None).unwrap();
        let mut digest_info = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        digest_info.extend_from_slice(&HashAlg::Sha256.hash(b"message"));
        assert_eq!(sign(&raw, &private, &digest_info).unwrap(), sig);
        assert_eq!(verify(&raw, &public, &digest_info, &sig), Ok(()));
        assert!(sign(&raw, &private, &[7; 245]).is_ok());
        assert_eq!(
            sign(&raw, &private, &[7; 246]).unwrap_err(),
            Error::DataLenRange
        );
        assert_eq!(
            verify(&raw, &public, &[7; 246], &sig).unwrap_err(),
            Error::DataLenRange
        );
    }

    #[test]
    fn pss_sign_verify() {
        let (private, public) = keys();
        let m = pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32);
        let sig = sign(&m, &private, b"message").unwrap();
        assert_eq!(verify(&m, &public, b"message", &sig), Ok(()));
        assert_eq!(
            verify(&m, &public, b"massage", &sig),
            Err(Error::SignatureInvalid)
        );
        assert_eq!(
            verify(&m, &public, b"message", &sig[1..]),
            Err(Error::SignatureLenRange)
        );
        // A different salt length does not verify.
        let m20 = pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 20);
        assert_eq!(
            verify(&m20, &public, b"message", &sig),
            Err(Error::SignatureInvalid)
        );

        // Raw PSS over the hash verifies the hashed mechanism's signature.
        let raw = pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32);
        let hash = HashAlg::Sha256.hash(b"message");
        assert_eq!(verify(&raw, &public, &hash, &sig), Ok(()));
        let raw_sig = sign(&raw, &private, &hash).unwrap();
        assert_eq!(verify(&m, &public, b"message", &raw_sig), Ok(()));
        assert_eq!(
            sign(&raw, &private, &hash[..31]).unwrap_err(),
            Error::DataLenRange
        );

        // SHA-512 with a zero-length salt, and a salt too long for the key.
        let m512 = pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 0);
        let sig = sign(&m512, &private, b"m").unwrap();
        assert_eq!(verify(&m512, &public, b"m", &sig), Ok(()));
        let huge = pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 191);
        assert_eq!(
            sign_init(&huge, private.clone()).err(),
            Some(Error::MechanismParamInvalid)
        );
        let max = pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 190);
        let sig = sign(&max, &private, b"m").unwrap();
        assert_eq!(verify(&max, &public, b"m", &sig), Ok(()));
    }

    #[test]
    fn rsa_key_type_checks() {
        let (private, public) = keys();
        let m = Mechanism::parse(CKM_SHA256_RSA_PKCS, None).unwrap();
        assert_eq!(
            sign_init(&m, public).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_init(&m, private).err(),
            Some(Error::KeyTypeInconsistent)
        );
    }

    /// CKM_SHA3_256_RSA_PKCS equals raw CKM_RSA_PKCS over the SHA3-256
    /// DigestInfo (OID 2.16.840.1.101.3.4.2.8), and every SHA-3 PKCS#1 and
    /// PSS mechanism round-trips.
    #[test]
    fn sha3_pkcs1_and_pss() {
        let (private, public) = keys();
        let m = Mechanism::parse(CKM_SHA3_256_RSA_PKCS, None).unwrap();
        let sig = sign(&m, &private, b"message").unwrap();
        let mut digest_info = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x08, 0x05, 0x00, 0x04, 0x20,
        ];
        digest_info.extend_from_slice(&HashAlg::Sha3_256.hash(b"message"));
        let raw = Mechanism::parse(CKM_RSA_PKCS, None).unwrap();
        assert_eq!(sign(&raw, &private, &digest_info).unwrap(), sig);
        assert_eq!(verify(&m, &public, b"message", &sig), Ok(()));
        let sha2 = Mechanism::parse(CKM_SHA256_RSA_PKCS, None).unwrap();
        assert_eq!(
            verify(&sha2, &public, b"message", &sig),
            Err(Error::SignatureInvalid)
        );

        let cases = [
            (
                CKM_SHA3_224_RSA_PKCS,
                CKM_SHA3_224_RSA_PKCS_PSS,
                CKM_SHA3_224,
                CKG_MGF1_SHA3_224,
            ),
            (
                CKM_SHA3_256_RSA_PKCS,
                CKM_SHA3_256_RSA_PKCS_PSS,
                CKM_SHA3_256,
                CKG_MGF1_SHA3_256,
            ),
            (
                CKM_SHA3_384_RSA_PKCS,
                CKM_SHA3_384_RSA_PKCS_PSS,
                CKM_SHA3_384,
                CKG_MGF1_SHA3_384,
            ),
            (
                CKM_SHA3_512_RSA_PKCS,
                CKM_SHA3_512_RSA_PKCS_PSS,
                CKM_SHA3_512,
                CKG_MGF1_SHA3_512,
            ),
        ];
        for (pkcs1, pss_mech, hash, mgf) in cases {
            let m = Mechanism::parse(pkcs1, None).unwrap();
            let sig = sign(&m, &private, b"m").unwrap();
            assert_eq!(verify(&m, &public, b"m", &sig), Ok(()));
            let m = pss(pss_mech, hash, mgf, 32);
            let sig = sign(&m, &private, b"m").unwrap();
            assert_eq!(verify(&m, &public, b"m", &sig), Ok(()));
            assert_eq!(
                verify(&m, &public, b"n", &sig),
                Err(Error::SignatureInvalid)
            );
            // Raw PSS with a SHA-3 hash in the parameter.
            let raw = pss(CKM_RSA_PKCS_PSS, hash, mgf, 32);
            let digest = HashAlg::from_digest_mech(hash).unwrap().hash(b"m");
            assert_eq!(verify(&raw, &public, &digest, &sig), Ok(()));
        }
        // The MGF1 hash must be the message hash.
        let param: Vec<u8> = [CKM_SHA3_256, CKG_MGF1_SHA256, 32]
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        assert_eq!(
            Mechanism::parse(CKM_SHA3_256_RSA_PKCS_PSS, Some(&param)).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
