//! The cryptography of separation of duties: the quorum key that
//! authenticates the officer roster and the approval rules (random,
//! wrapped under the master key like the audit key), and the officers'
//! signing keys, derived from each officer's passphrase and never stored
//! (only the public half is): an approval is an Ed25519 signature over
//! the request it approves (docs/SEPARATION-OF-DUTIES.md).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::seal::{MAX_ITERATIONS, MasterKey, SALT_LEN};
use crate::error::{Error, Result};
use crate::mechanism::HashAlg;
use crate::mechanism::provider::generation;

const KEY_LEN: usize = 32;
const QUORUM_WRAP_INFO: &[u8] = b"keyward-quorum-wrap-v1";
const QUORUM_MAC_PREFIX: &[u8] = b"keyward-quorum-config-v1";
const OFFICER_KEY_PREFIX: &[u8] = b"keyward-officer-v1";

/// Authenticates the `quorum` row (officers and rules): whoever can write
/// the token's store but holds no PIN cannot add an officer of their own
/// or lower a rule. Wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct QuorumKey([u8; KEY_LEN]);

impl std::fmt::Debug for QuorumKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuorumKey(..)")
    }
}

impl QuorumKey {
    pub fn generate() -> Result<QuorumKey> {
        let mut key = [0u8; KEY_LEN];
        generation::fill(&mut key)?;
        Ok(QuorumKey(key))
    }

    fn wrapping_key(mk: &MasterKey) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        generation::hkdf_sha256(mk.raw(), QUORUM_WRAP_INFO, key.as_mut_slice())?;
        Ok(key)
    }

    /// The key sealed under `mk`, for the `quorum` row.
    pub fn wrap(&self, mk: &MasterKey) -> Result<Vec<u8>> {
        let key = QuorumKey::wrapping_key(mk)?;
        super::seal::seal_v1(&key, QUORUM_WRAP_INFO, &self.0)
    }

    /// Opens [`QuorumKey::wrap`]'s output; anything else is
    /// [`Error::Tampered`].
    pub fn unwrap(mk: &MasterKey, wrapped: &[u8]) -> Result<QuorumKey> {
        let key = QuorumKey::wrapping_key(mk)?;
        let plain = super::seal::open_v1(&key, QUORUM_WRAP_INFO, wrapped)?;
        let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| Error::Tampered)?;
        Ok(QuorumKey(key))
    }

    /// HMAC-SHA256 over the encoded configuration.
    pub fn mac(&self, config: &[u8]) -> Vec<u8> {
        generation::hmac_sha256(&self.0, &[QUORUM_MAC_PREFIX, config]).to_vec()
    }

    /// Constant-time check of [`QuorumKey::mac`].
    pub fn verify(&self, config: &[u8], tag: &[u8]) -> bool {
        generation::hmac_sha256_verify(&self.0, &[QUORUM_MAC_PREFIX, config], tag)
    }
}

/// A fresh salt for an officer's passphrase.
pub fn officer_salt() -> Result<Vec<u8>> {
    let mut salt = vec![0u8; SALT_LEN];
    generation::fill(&mut salt)?;
    Ok(salt)
}

/// An officer's signing key, derived from their passphrase; it exists only
/// while the officer's command runs. Wiped on drop.
pub struct OfficerKey(SigningKey);

impl std::fmt::Debug for OfficerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfficerKey(..)")
    }
}

impl OfficerKey {
    /// PBKDF2-HMAC-SHA256 of the passphrase (salted, the token's PIN
    /// iteration count) bound to the officer's name gives the Ed25519
    /// seed: the same passphrase under another name is another key.
    pub fn derive(name: &str, passphrase: &[u8], salt: &[u8], iterations: u32) -> Result<Self> {
        if iterations == 0 || iterations > MAX_ITERATIONS || salt.len() < 8 {
            return Err(Error::Tampered);
        }
        let mut salted = OFFICER_KEY_PREFIX.to_vec();
        salted.extend_from_slice(&(name.len() as u64).to_le_bytes());
        salted.extend_from_slice(name.as_bytes());
        salted.extend_from_slice(salt);
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        generation::pbkdf2(
            HashAlg::Sha256,
            passphrase,
            &salted,
            iterations,
            seed.as_mut_slice(),
        )?;
        Ok(OfficerKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn sign(&self, statement: &[u8]) -> Vec<u8> {
        self.0.sign(statement).to_bytes().to_vec()
    }
}

/// Whether `signature` is `public`'s signature of `statement` (strict
/// verification: no malleable or small-order forms).
pub fn verify_officer(public: &[u8], statement: &[u8], signature: &[u8]) -> bool {
    let Ok(public) = <[u8; 32]>::try_from(public) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public) else {
        return false;
    };
    key.verify_strict(statement, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_key_wraps_and_macs() {
        let mk = MasterKey::generate().unwrap();
        let key = QuorumKey::generate().unwrap();
        let wrapped = key.wrap(&mk).unwrap();
        let back = QuorumKey::unwrap(&mk, &wrapped).unwrap();
        let tag = back.mac(b"config");
        assert!(key.verify(b"config", &tag));
        assert!(!key.verify(b"config!", &tag));
        let other = MasterKey::generate().unwrap();
        assert_eq!(
            QuorumKey::unwrap(&other, &wrapped).unwrap_err(),
            Error::Tampered
        );
        assert!(!QuorumKey::generate().unwrap().verify(b"config", &tag));
    }

    #[test]
    fn officer_keys_depend_on_name_passphrase_and_salt() {
        let salt = officer_salt().unwrap();
        let a = OfficerKey::derive("alice", b"correct horse", &salt, 10).unwrap();
        let again = OfficerKey::derive("alice", b"correct horse", &salt, 10).unwrap();
        assert_eq!(a.public(), again.public());
        let wrong = OfficerKey::derive("alice", b"correct hors", &salt, 10).unwrap();
        let renamed = OfficerKey::derive("bob", b"correct horse", &salt, 10).unwrap();
        let resalted = OfficerKey::derive("alice", b"correct horse", &[7; 16], 10).unwrap();
        for other in [&wrong, &renamed, &resalted] {
            assert_ne!(a.public(), other.public());
        }
        let sig = a.sign(b"statement");
        assert!(verify_officer(&a.public(), b"statement", &sig));
        assert!(!verify_officer(&a.public(), b"statemenT", &sig));
        assert!(!verify_officer(&wrong.public(), b"statement", &sig));
        assert!(!verify_officer(&a.public(), b"statement", &sig[1..]));
        assert!(!verify_officer(&[0; 31], b"statement", &sig));
        assert_eq!(
            OfficerKey::derive("a", b"p", &salt, 0).unwrap_err(),
            Error::Tampered
        );
    }
}
