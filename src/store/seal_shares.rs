//! Crypto of backups split among custodians: the random backup key, its
//! Shamir split over GF(256) (the `blahaj` crate) and recombination, the
//! checksum printed on each share, the sealing of the backup payload under
//! the key, and the sealing of one share under its custodian's passphrase.
//! The primitives are the provider's (`mechanism::provider::generation`),
//! as for the rest of the store's sealing (`seal.rs`).

use blahaj::{Share, Sharks};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::seal;
use crate::error::{Error, Result};
use crate::mechanism::provider::generation::{self, FlaggedRng, GCM_NONCE_LEN, GCM_TAG_LEN};

/// Length of the random key a split backup is sealed under.
pub const BACKUP_KEY_LEN: usize = 32;
/// Length of the random id that ties shares to their backup.
pub const BACKUP_ID_LEN: usize = 16;
/// Bytes of SHA-256 a share file prints as its checksum.
pub const CHECKSUM_LEN: usize = 8;
/// A share's bytes: its x coordinate (the share's index, 1..=255), then
/// one y byte per key byte.
pub const SHARE_LEN: usize = 1 + BACKUP_KEY_LEN;
/// Most shares a backup may be split into (custodians are people: more
/// would be an error, and the text files stay few).
pub const MAX_SHARES: u8 = 16;
/// Fewest shares needed: one share alone must not be the key.
pub const MIN_THRESHOLD: u8 = 2;

/// Version byte in front of a payload sealed under a backup key.
const KEY_SEAL_VERSION: u8 = 1;

/// The key a split backup is sealed under; wiped on drop, never printed.
pub struct BackupKey(Zeroizing<[u8; BACKUP_KEY_LEN]>);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(..)")
    }
}

impl BackupKey {
    /// A fresh random key from the provider's RNG.
    pub fn generate() -> Result<BackupKey> {
        let mut key = Zeroizing::new([0u8; BACKUP_KEY_LEN]);
        generation::fill(key.as_mut_slice())?;
        Ok(BackupKey(key))
    }
}

/// A fresh random backup id.
pub fn backup_id() -> Result<[u8; BACKUP_ID_LEN]> {
    let mut id = [0u8; BACKUP_ID_LEN];
    generation::fill(&mut id)?;
    Ok(id)
}

/// Whether `threshold` of `count` is an allowed split: 2 ≤ M ≤ N ≤ 16.
pub fn split_allowed(threshold: u8, count: u8) -> bool {
    (MIN_THRESHOLD..=MAX_SHARES).contains(&count) && (MIN_THRESHOLD..=count).contains(&threshold)
}

/// Splits `key` into `count` shares (share i has index i, 1-based), any
/// `threshold` of which recover it. A split outside [`split_allowed`] is
/// [`Error::ArgumentsBad`].
pub fn split(key: &BackupKey, threshold: u8, count: u8) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if !split_allowed(threshold, count) {
        return Err(Error::ArgumentsBad);
    }
    // The crate needs an infallible RNG: a provider failure is recorded
    // and the shares made meanwhile are discarded.
    let mut rng = FlaggedRng::default();
    let shares: Vec<Zeroizing<Vec<u8>>> = Sharks(threshold)
        .dealer_rng(key.0.as_slice(), &mut rng)
        .take(usize::from(count))
        .map(|s| Zeroizing::new(Vec::from(&s)))
        .collect();
    if rng.failed() || shares.len() != usize::from(count) {
        return Err(Error::GeneralError);
    }
    Ok(shares)
}

/// The index (x coordinate) a share's bytes carry, if they are a share.
pub fn share_index(share: &[u8]) -> Option<u8> {
    (share.len() == SHARE_LEN)
        .then(|| share.first().copied())
        .flatten()
        .filter(|x| *x != 0)
}

/// Recombines a key from at least `threshold` shares with distinct
/// indexes. Malformed shares, too few or repeated indexes are
/// [`Error::ArgumentsBad`]; shares of different keys combine to a wrong key
/// (which then does not open the backup: that is the check).
pub fn combine(threshold: u8, shares: &[&[u8]]) -> Result<BackupKey> {
    let mut parsed = Vec::with_capacity(shares.len());
    let mut seen = Vec::with_capacity(shares.len());
    for bytes in shares {
        let index = share_index(bytes).ok_or(Error::ArgumentsBad)?;
        if seen.contains(&index) {
            return Err(Error::ArgumentsBad);
        }
        seen.push(index);
        parsed.push(Share::try_from(*bytes).map_err(|_| Error::ArgumentsBad)?);
    }
    if threshold < MIN_THRESHOLD || seen.len() < usize::from(threshold) {
        return Err(Error::ArgumentsBad);
    }
    let secret = Zeroizing::new(
        Sharks(threshold)
            .recover(parsed.as_slice())
            .map_err(|_| Error::ArgumentsBad)?,
    );
    let key: [u8; BACKUP_KEY_LEN] = secret
        .as_slice()
        .try_into()
        .map_err(|_| Error::ArgumentsBad)?;
    Ok(BackupKey(Zeroizing::new(key)))
}

/// The checksum a share file prints over its own content (every field
/// line above it): the first bytes of SHA-256.
pub fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(body);
    let mut out = [0u8; CHECKSUM_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

/// Encrypts a backup payload under `key` with AES-256-GCM, authenticating
/// `header` (the clear file header) as AAD: version || nonce || ct || tag.
pub fn seal_payload(key: &BackupKey, header: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(plain.len().saturating_add(GCM_TAG_LEN)));
    body.extend_from_slice(plain);
    let nonce = generation::gcm_seal(&key.0, header, &mut body)?;
    let mut out = Vec::with_capacity(body.len().saturating_add(1 + GCM_NONCE_LEN));
    out.push(KEY_SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reverses [`seal_payload`]: a malformed blob, a changed header or blob
/// and a wrong key are all [`Error::Tampered`].
pub fn open_payload(key: &BackupKey, header: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let rest = blob
        .strip_prefix(&[KEY_SEAL_VERSION])
        .ok_or(Error::Tampered)?;
    if rest.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
        return Err(Error::Tampered);
    }
    let (nonce, ct) = rest
        .split_at_checked(GCM_NONCE_LEN)
        .ok_or(Error::Tampered)?;
    let nonce: [u8; GCM_NONCE_LEN] = nonce.try_into().map_err(|_| Error::Tampered)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    generation::gcm_open(&key.0, &nonce, header, &mut buf).map_err(|_| Error::Tampered)?;
    Ok(buf)
}

/// Length of the PBKDF2 salt of a passphrase-protected share.
pub const SHARE_SALT_LEN: usize = seal::BACKUP_SALT_LEN;

/// A fresh salt for [`seal_share`].
pub fn share_salt() -> Result<[u8; SHARE_SALT_LEN]> {
    seal::backup_salt()
}

/// Seals a share's bytes under PBKDF2-HMAC-SHA256 of its custodian's
/// passphrase with AES-256-GCM; `aad` binds it to its backup and index.
pub fn seal_share(
    passphrase: &[u8],
    iterations: u32,
    salt: &[u8],
    aad: &[u8],
    share: &[u8],
) -> Result<Vec<u8>> {
    seal::seal_backup(passphrase, iterations, salt, aad, share)
}

/// Reverses [`seal_share`]; a wrong passphrase is [`Error::Tampered`].
pub fn open_share(
    passphrase: &[u8],
    iterations: u32,
    salt: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    seal::open_backup(passphrase, iterations, salt, aad, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_bytes(k: &BackupKey) -> [u8; BACKUP_KEY_LEN] {
        *k.0
    }

    #[test]
    fn any_threshold_subset_recovers_the_key() {
        let key = BackupKey::generate().unwrap();
        let shares = split(&key, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        for (i, s) in shares.iter().enumerate() {
            assert_eq!(s.len(), SHARE_LEN);
            assert_eq!(share_index(s), Some(u8::try_from(i + 1).unwrap()));
        }
        for subset in [[0, 1, 2], [1, 3, 4], [0, 2, 4], [4, 3, 2]] {
            let picked: Vec<&[u8]> = subset.iter().map(|&i| shares[i].as_slice()).collect();
            assert_eq!(key_bytes(&combine(3, &picked).unwrap()), key_bytes(&key));
        }
        // More than the threshold works too.
        let all: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
        assert_eq!(key_bytes(&combine(3, &all).unwrap()), key_bytes(&key));
    }

    #[test]
    fn too_few_duplicate_or_malformed_shares_refused() {
        let key = BackupKey::generate().unwrap();
        let shares = split(&key, 3, 5).unwrap();
        let two: Vec<&[u8]> = vec![&shares[0], &shares[1]];
        assert_eq!(combine(3, &two).unwrap_err(), Error::ArgumentsBad);
        let dup: Vec<&[u8]> = vec![&shares[0], &shares[1], &shares[1]];
        assert_eq!(combine(3, &dup).unwrap_err(), Error::ArgumentsBad);
        let short: Vec<&[u8]> = vec![&shares[0], &shares[1], &shares[2][..10]];
        assert_eq!(combine(3, &short).unwrap_err(), Error::ArgumentsBad);
        // A changed y byte gives another key, which the payload seal catches.
        let mut bad = shares[2].to_vec();
        bad[5] ^= 1;
        let wrong: Vec<&[u8]> = vec![&shares[0], &shares[1], &bad];
        let other = combine(3, &wrong).unwrap();
        assert_ne!(key_bytes(&other), key_bytes(&key));
        let blob = seal_payload(&key, b"header", b"payload").unwrap();
        assert_eq!(
            open_payload(&other, b"header", &blob).unwrap_err(),
            Error::Tampered
        );
        assert_eq!(&*open_payload(&key, b"header", &blob).unwrap(), b"payload");
        assert_eq!(
            open_payload(&key, b"headex", &blob).unwrap_err(),
            Error::Tampered
        );
    }

    #[test]
    fn split_rules() {
        let key = BackupKey::generate().unwrap();
        for (m, n) in [(1, 5), (6, 5), (0, 0), (2, 17), (17, 17), (2, 1)] {
            assert!(!split_allowed(m, n), "{m} of {n}");
            assert_eq!(split(&key, m, n).unwrap_err(), Error::ArgumentsBad);
        }
        for (m, n) in [(2, 2), (3, 5), (16, 16), (2, 16)] {
            assert!(split_allowed(m, n), "{m} of {n}");
            assert_eq!(split(&key, m, n).unwrap().len(), usize::from(n));
        }
        assert_eq!(format!("{key:?}"), "BackupKey(..)");
    }

    #[test]
    fn protected_share_round_trip() {
        let salt = share_salt().unwrap();
        let sealed = seal_share(b"alice", 1000, &salt, b"aad", b"share bytes").unwrap();
        assert_eq!(
            &*open_share(b"alice", 1000, &salt, b"aad", &sealed).unwrap(),
            b"share bytes"
        );
        assert!(open_share(b"bob", 1000, &salt, b"aad", &sealed).is_err());
        assert!(open_share(b"alice", 1000, &salt, b"aaX", &sealed).is_err());
        assert_eq!(checksum(b"x"), checksum(b"x"));
        assert_ne!(checksum(b"x"), checksum(b"y"));
    }
}
