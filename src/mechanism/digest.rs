//! Message digests (CKM_SHA_1, CKM_SHA224/256/384/512, CKM_SHA3_224/256/
//! 384/512) and the hash algorithm enum the signature and MAC mechanisms
//! share.

use cryptoki_sys::*;
use sha1::Sha1;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::digest::{Digest, FixedOutputReset};
use sha2::{Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};

use super::Mechanism;
use super::state::HashState;
use crate::error::{Error, Result};
use zeroize::{Zeroize, Zeroizing};

/// The hash functions this token implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashAlg {
    /// SHA-1 and the SHA-2 family: the hashes OAEP, HKDF and the ECDH
    /// KDFs are offered with.
    pub fn is_sha1_or_sha2(&self) -> bool {
        matches!(
            self,
            HashAlg::Sha1 | HashAlg::Sha224 | HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512
        )
    }

    /// The hash named by a digest mechanism (CKM_SHA256…).
    pub fn from_digest_mech(mech: CK_MECHANISM_TYPE) -> Option<HashAlg> {
        match mech {
            CKM_SHA_1 => Some(HashAlg::Sha1),
            CKM_SHA224 => Some(HashAlg::Sha224),
            CKM_SHA256 => Some(HashAlg::Sha256),
            CKM_SHA384 => Some(HashAlg::Sha384),
            CKM_SHA512 => Some(HashAlg::Sha512),
            CKM_SHA3_224 => Some(HashAlg::Sha3_224),
            CKM_SHA3_256 => Some(HashAlg::Sha3_256),
            CKM_SHA3_384 => Some(HashAlg::Sha3_384),
            CKM_SHA3_512 => Some(HashAlg::Sha3_512),
            _ => None,
        }
    }

    /// For HMAC mechanisms: the hash and whether it is the _GENERAL form.
    pub fn from_hmac_mech(mech: CK_MECHANISM_TYPE) -> Option<(HashAlg, bool)> {
        match mech {
            CKM_SHA_1_HMAC => Some((HashAlg::Sha1, false)),
            CKM_SHA224_HMAC => Some((HashAlg::Sha224, false)),
            CKM_SHA256_HMAC => Some((HashAlg::Sha256, false)),
            CKM_SHA384_HMAC => Some((HashAlg::Sha384, false)),
            CKM_SHA512_HMAC => Some((HashAlg::Sha512, false)),
            CKM_SHA_1_HMAC_GENERAL => Some((HashAlg::Sha1, true)),
            CKM_SHA224_HMAC_GENERAL => Some((HashAlg::Sha224, true)),
            CKM_SHA256_HMAC_GENERAL => Some((HashAlg::Sha256, true)),
            CKM_SHA384_HMAC_GENERAL => Some((HashAlg::Sha384, true)),
            CKM_SHA512_HMAC_GENERAL => Some((HashAlg::Sha512, true)),
            CKM_SHA3_224_HMAC => Some((HashAlg::Sha3_224, false)),
            CKM_SHA3_256_HMAC => Some((HashAlg::Sha3_256, false)),
            CKM_SHA3_384_HMAC => Some((HashAlg::Sha3_384, false)),
            CKM_SHA3_512_HMAC => Some((HashAlg::Sha3_512, false)),
            CKM_SHA3_224_HMAC_GENERAL => Some((HashAlg::Sha3_224, true)),
            CKM_SHA3_256_HMAC_GENERAL => Some((HashAlg::Sha3_256, true)),
            CKM_SHA3_384_HMAC_GENERAL => Some((HashAlg::Sha3_384, true)),
            CKM_SHA3_512_HMAC_GENERAL => Some((HashAlg::Sha3_512, true)),
            _ => None,
        }
    }

    /// The digest mechanism for this hash.
    pub fn digest_mech(self) -> CK_MECHANISM_TYPE {
        match self {
            HashAlg::Sha1 => CKM_SHA_1,
            HashAlg::Sha224 => CKM_SHA224,
            HashAlg::Sha256 => CKM_SHA256,
            HashAlg::Sha384 => CKM_SHA384,
            HashAlg::Sha512 => CKM_SHA512,
            HashAlg::Sha3_224 => CKM_SHA3_224,
            HashAlg::Sha3_256 => CKM_SHA3_256,
            HashAlg::Sha3_384 => CKM_SHA3_384,
            HashAlg::Sha3_512 => CKM_SHA3_512,
        }
    }

    /// The CKG_MGF1_* value using this hash.
    pub fn mgf1(self) -> CK_RSA_PKCS_MGF_TYPE {
        match self {
            HashAlg::Sha1 => CKG_MGF1_SHA1,
            HashAlg::Sha224 => CKG_MGF1_SHA224,
            HashAlg::Sha256 => CKG_MGF1_SHA256,
            HashAlg::Sha384 => CKG_MGF1_SHA384,
            HashAlg::Sha512 => CKG_MGF1_SHA512,
            HashAlg::Sha3_224 => CKG_MGF1_SHA3_224,
            HashAlg::Sha3_256 => CKG_MGF1_SHA3_256,
            HashAlg::Sha3_384 => CKG_MGF1_SHA3_384,
            HashAlg::Sha3_512 => CKG_MGF1_SHA3_512,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 | HashAlg::Sha3_224 => 28,
            HashAlg::Sha256 | HashAlg::Sha3_256 => 32,
            HashAlg::Sha384 | HashAlg::Sha3_384 => 48,
            HashAlg::Sha512 | HashAlg::Sha3_512 => 64,
        }
    }

    /// The HMAC key type (CKK_*_HMAC) bound to this hash.
    pub fn hmac_key_type(self) -> CK_KEY_TYPE {
        match self {
            HashAlg::Sha1 => CKK_SHA_1_HMAC,
            HashAlg::Sha224 => CKK_SHA224_HMAC,
            HashAlg::Sha256 => CKK_SHA256_HMAC,
            HashAlg::Sha384 => CKK_SHA384_HMAC,
            HashAlg::Sha512 => CKK_SHA512_HMAC,
            HashAlg::Sha3_224 => CKK_SHA3_224_HMAC,
            HashAlg::Sha3_256 => CKK_SHA3_256_HMAC,
            HashAlg::Sha3_384 => CKK_SHA3_384_HMAC,
            HashAlg::Sha3_512 => CKK_SHA3_512_HMAC,
        }
    }

    /// A fresh hashing state. The FIPS build hashes in AWS-LC
    /// (provider/symmetric.rs), whose state cannot be saved; SHA3-224,
    /// which aws-lc-rs lacks, stays on RustCrypto there (the FIPS
    /// registry must not offer it).
    pub fn hasher(self) -> Box<dyn DigestOp> {
        #[cfg(feature = "fips")]
        if let Some(h) = super::provider::symmetric::hasher(self) {
            return h;
        }
        match self {
            HashAlg::Sha1 => Hashing::boxed(self, Sha1::new()),
            HashAlg::Sha224 => Hashing::boxed(self, Sha224::new()),
            HashAlg::Sha256 => Hashing::boxed(self, Sha256::new()),
            HashAlg::Sha384 => Hashing::boxed(self, Sha384::new()),
            HashAlg::Sha512 => Hashing::boxed(self, Sha512::new()),
            HashAlg::Sha3_224 => Hashing::boxed(self, Sha3_224::new()),
            HashAlg::Sha3_256 => Hashing::boxed(self, Sha3_256::new()),
            HashAlg::Sha3_384 => Hashing::boxed(self, Sha3_384::new()),
            HashAlg::Sha3_512 => Hashing::boxed(self, Sha3_512::new()),
        }
    }

    /// A hashing state rebuilt from [`DigestOp::save`]'s bytes
    /// (C_SetOperationState); SavedStateInvalid if they are not one.
    pub fn restore(self, state: &[u8]) -> Result<Box<dyn DigestOp>> {
        match self {
            HashAlg::Sha1 => Hashing::<Sha1>::restored(self, state),
            HashAlg::Sha224 => Hashing::<Sha224>::restored(self, state),
            HashAlg::Sha256 => Hashing::<Sha256>::restored(self, state),
            HashAlg::Sha384 => Hashing::<Sha384>::restored(self, state),
            HashAlg::Sha512 => Hashing::<Sha512>::restored(self, state),
            HashAlg::Sha3_224 => Hashing::<Sha3_224>::restored(self, state),
            HashAlg::Sha3_256 => Hashing::<Sha3_256>::restored(self, state),
            HashAlg::Sha3_384 => Hashing::<Sha3_384>::restored(self, state),
            HashAlg::Sha3_512 => Hashing::<Sha3_512>::restored(self, state),
        }
    }

    /// One-shot hash of `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

/// A running digest. `finish` returns the hash and resets the state.
pub trait DigestOp: Send {
    fn update(&mut self, data: &[u8]);
    fn finish(&mut self) -> Vec<u8>;
    /// `finish` into `out` (at least `len()` bytes) with no allocation;
    /// returns the length written, None if `out` is too short.
    fn finish_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let hash = self.finish();
        out.get_mut(..hash.len())?.copy_from_slice(&hash);
        Some(hash.len())
    }
    /// Output length in bytes.
    fn len(&self) -> usize;
    /// Always false: digests have a fixed, non-zero output length.
    fn is_empty(&self) -> bool {
        false
    }

    /// The running state, for C_GetOperationState. It holds the buffered
    /// tail of the input, so it is kept in `Zeroizing`.
    fn save(&self) -> Result<HashState> {
        Err(Error::StateUnsaveable)
    }
}

/// The hashes the mechanisms use: RustCrypto states that can also be
/// serialized (sha1/sha2/sha3 all implement `SerializableState`).
trait Hash: Digest + FixedOutputReset + SerializableState + Send + 'static {}

impl<D: Digest + FixedOutputReset + SerializableState + Send + 'static> Hash for D {}

struct Hashing<D> {
    alg: HashAlg,
    state: D,
}

impl<D: Hash> Hashing<D> {
    fn boxed(alg: HashAlg, state: D) -> Box<dyn DigestOp> {
        Box::new(Hashing { alg, state })
    }

    fn restored(alg: HashAlg, bytes: &[u8]) -> Result<Box<dyn DigestOp>> {
        let serialized =
            <&SerializedState<D>>::try_from(bytes).map_err(|_| Error::SavedStateInvalid)?;
        let state = D::deserialize(serialized).map_err(|_| Error::SavedStateInvalid)?;
        Ok(Self::boxed(alg, state))
    }
}

impl<D: Hash> DigestOp for Hashing<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.state, data);
    }

    fn finish(&mut self) -> Vec<u8> {
        self.state.finalize_reset().to_vec()
    }

    fn finish_into(&mut self, out: &mut [u8]) -> Option<usize> {
        let dst = out.get_mut(..<D as Digest>::output_size())?;
        // The hash is made on the stack and copied once.
        dst.copy_from_slice(&self.state.finalize_reset());
        Some(dst.len())
    }

    fn len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn save(&self) -> Result<HashState> {
        let mut serialized = self.state.serialize();
        let bytes = Zeroizing::new(serialized.to_vec());
        serialized.as_mut_slice().zeroize();
        Ok(HashState {
            alg: self.alg,
            bytes,
        })
    }
}

/// Starts a digest operation for a digest mechanism.
/// Starts a digest through the registry (CKR_MECHANISM_INVALID unless
/// the mechanism is offered with CKF_DIGEST).
pub fn digest_init(mech: &Mechanism) -> Result<Box<dyn DigestOp>> {
    super::registry::family(mech.mech, CKF_DIGEST)?.digest(mech)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_abc() {
        let mut d = digest_init(&Mechanism::parse(CKM_SHA256, None).unwrap()).unwrap();
        assert_eq!(d.len(), 32);
        d.update(b"a");
        d.update(b"bc");
        assert_eq!(
            hex(&d.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn other_hashes_abc() {
        assert_eq!(
            hex(&HashAlg::Sha1.hash(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&HashAlg::Sha224.hash(b"abc")),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert!(hex(&HashAlg::Sha384.hash(b"abc")).starts_with("cb00753f45a35e8b"));
        assert!(hex(&HashAlg::Sha512.hash(b"abc")).starts_with("ddaf35a193617aba"));
        for h in ALL {
            assert_eq!(h.hash(b"").len(), h.output_len());
            assert_eq!(h.hasher().len(), h.output_len());
            assert_eq!(HashAlg::from_digest_mech(h.digest_mech()), Some(h));
        }
    }

    const ALL: [HashAlg; 9] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ];

    /// FIPS 202 examples (NIST CSRC "SHA3-*" example values) for "abc".
    #[test]
    fn sha3_abc() {
        let mut d = digest_init(&Mechanism::parse(CKM_SHA3_256, None).unwrap()).unwrap();
        assert_eq!(d.len(), 32);
        d.update(b"ab");
        d.update(b"c");
        assert_eq!(
            hex(&d.finish()),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        // finish resets: the next digest starts from scratch.
        assert_eq!(
            hex(&d.finish()),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        assert_eq!(
            hex(&HashAlg::Sha3_224.hash(b"abc")),
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"
        );
        assert_eq!(
            hex(&HashAlg::Sha3_384.hash(b"abc")),
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2\
             98d88cea927ac7f539f1edf228376d25"
        );
        assert_eq!(
            hex(&HashAlg::Sha3_512.hash(b"abc")),
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e\
             10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"
        );
    }

    #[test]
    fn sha3_mappings() {
        for (h, mech, hmac, general, mgf, kt) in [
            (
                HashAlg::Sha3_224,
                CKM_SHA3_224,
                CKM_SHA3_224_HMAC,
                CKM_SHA3_224_HMAC_GENERAL,
                CKG_MGF1_SHA3_224,
                CKK_SHA3_224_HMAC,
            ),
            (
                HashAlg::Sha3_256,
                CKM_SHA3_256,
                CKM_SHA3_256_HMAC,
                CKM_SHA3_256_HMAC_GENERAL,
                CKG_MGF1_SHA3_256,
                CKK_SHA3_256_HMAC,
            ),
            (
                HashAlg::Sha3_384,
                CKM_SHA3_384,
                CKM_SHA3_384_HMAC,
                CKM_SHA3_384_HMAC_GENERAL,
                CKG_MGF1_SHA3_384,
                CKK_SHA3_384_HMAC,
            ),
            (
                HashAlg::Sha3_512,
                CKM_SHA3_512,
                CKM_SHA3_512_HMAC,
                CKM_SHA3_512_HMAC_GENERAL,
                CKG_MGF1_SHA3_512,
                CKK_SHA3_512_HMAC,
            ),
        ] {
            assert!(!h.is_sha1_or_sha2());
            assert_eq!(HashAlg::from_digest_mech(mech), Some(h));
            assert_eq!(HashAlg::from_hmac_mech(hmac), Some((h, false)));
            assert_eq!(HashAlg::from_hmac_mech(general), Some((h, true)));
            assert_eq!(h.mgf1(), mgf);
            assert_eq!(h.hmac_key_type(), kt);
            assert!(Mechanism::parse(mech, None).is_ok());
        }
        assert!(HashAlg::Sha256.is_sha1_or_sha2());
    }

    #[test]
    fn non_digest_mechanism_rejected() {
        let m = Mechanism::parse(CKM_ECDSA, None).unwrap();
        assert_eq!(digest_init(&m).err(), Some(Error::MechanismInvalid));
    }
}
