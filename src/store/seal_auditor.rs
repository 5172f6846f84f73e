//! The auditor's credential: the audit key (and nothing else) wrapped
//! under a key derived from the auditor's passphrase, so the people who
//! check the trail's MACs never hold the master key (issue 15).
//!
//! A child module of `seal`: it reuses the PIN KDF and the AES-256-GCM
//! helpers there and reads the audit key's bytes, which stay private to
//! the sealing code.

use zeroize::Zeroizing;

use super::{AuditKey, KEY_LEN, MAX_ITERATIONS, OpenError, SALT_LEN, fill_random, pin_kek};
use crate::error::{Error, Result};

/// AAD prefix of the auditor's wrapping: names the purpose, so this blob
/// can never be mistaken for a PIN record or a sealed object.
const AUDITOR_AAD_PREFIX: &[u8] = b"keyward-auditor-audit-key-v1";
/// Longest auditor name accepted (it is shown and written in records).
pub const MAX_NAME_LEN: usize = 64;
/// Shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_LEN: usize = 8;
const MIN_SALT_LEN: usize = 8;
const MAX_SALT_LEN: usize = 64;

/// The stored `auditor` row: who, the KDF parameters and the wrapped
/// audit key.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditorRecord {
    pub name: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// version || nonce || AES-256-GCM(audit key) || tag.
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for AuditorRecord {
    // The wrapped key is only as strong as the passphrase: not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditorRecord")
            .field("name", &self.name)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A name the CLI can show on one line: 1 to [`MAX_NAME_LEN`] characters,
/// no control characters.
pub fn name_ok(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_NAME_LEN).contains(&n) && !name.chars().any(char::is_control)
}

/// At least [`MIN_PASSPHRASE_LEN`] characters (bytes, if not UTF-8).
pub fn passphrase_ok(passphrase: &[u8]) -> bool {
    let chars = std::str::from_utf8(passphrase).map_or(passphrase.len(), |s| s.chars().count());
    chars >= MIN_PASSPHRASE_LEN
}

/// The AAD binds the wrapping to the auditor's name: renaming the row in
/// the file makes it fail to open.
fn aad(name: &str) -> Vec<u8> {
    let mut aad = AUDITOR_AAD_PREFIX.to_vec();
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    aad.extend_from_slice(&len.to_le_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// Wraps `key` for the auditor `name` under PBKDF2-HMAC-SHA256(`passphrase`,
/// random salt, `iterations`). A bad name or a passphrase shorter than
/// [`MIN_PASSPHRASE_LEN`] characters is refused.
pub fn wrap_for_auditor(
    key: &AuditKey,
    name: &str,
    passphrase: &[u8],
    iterations: u32,
) -> Result<AuditorRecord> {
    if !name_ok(name) {
        return Err(Error::ArgumentsBad);
    }
    if !passphrase_ok(passphrase) {
        return Err(Error::PinLenRange);
    }
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(Error::ArgumentsBad);
    }
    let mut salt = vec![0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let kek = pin_kek(passphrase, &salt, iterations)?;
    let wrapped = super::seal_with(&kek, &aad(name), &key.0)?;
    Ok(AuditorRecord {
        name: name.to_string(),
        salt,
        iterations,
        wrapped,
    })
}

/// Reverses [`wrap_for_auditor`]. A record that cannot be a wrapping is
/// [`Error::Tampered`]; a failed authentication is [`Error::PinIncorrect`]
/// (a wrong passphrase and an edited record look the same here).
pub fn unwrap_for_auditor(passphrase: &[u8], rec: &AuditorRecord) -> Result<AuditKey> {
    let salt_ok = (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&rec.salt.len());
    let iter_ok = (1..=MAX_ITERATIONS).contains(&rec.iterations);
    if !salt_ok || !iter_ok {
        return Err(Error::Tampered);
    }
    let kek = pin_kek(passphrase, &rec.salt, rec.iterations)?;
    let plain: Zeroizing<Vec<u8>> =
        super::open_with(&kek, &aad(&rec.name), &rec.wrapped).map_err(|e| match e {
            OpenError::Malformed => Error::Tampered,
            OpenError::Unauthentic => Error::PinIncorrect,
        })?;
    let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| Error::Tampered)?;
    Ok(AuditKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = AuditKey::generate().unwrap();
        let rec = wrap_for_auditor(&key, "carol", b"auditor-pass", 10).unwrap();
        assert_eq!(rec.name, "carol");
        assert!(!format!("{rec:?}").contains("wrapped"));
        let back = unwrap_for_auditor(b"auditor-pass", &rec).unwrap();
        let hash = [7u8; 32];
        assert!(back.verify(&hash, &key.mac(&hash)));
        // A wrong passphrase is a wrong PIN; an edited name or blob too.
        assert_eq!(
            unwrap_for_auditor(b"auditor-pasS", &rec).err(),
            Some(Error::PinIncorrect)
        );
        let mut renamed = rec.clone();
        renamed.name = "mallory".into();
        assert_eq!(
            unwrap_for_auditor(b"auditor-pass", &renamed).err(),
            Some(Error::PinIncorrect)
        );
        let mut cut = rec.clone();
        cut.wrapped.truncate(5);
        assert_eq!(
            unwrap_for_auditor(b"auditor-pass", &cut).err(),
            Some(Error::Tampered)
        );
        let mut slow = rec;
        slow.iterations = MAX_ITERATIONS + 1;
        assert_eq!(
            unwrap_for_auditor(b"auditor-pass", &slow).err(),
            Some(Error::Tampered)
        );
        // The rules on what is wrapped.
        assert_eq!(
            wrap_for_auditor(&key, "carol", b"short", 10).err(),
            Some(Error::PinLenRange)
        );
        assert_eq!(
            wrap_for_auditor(&key, "", b"long enough", 10).err(),
            Some(Error::ArgumentsBad)
        );
        assert_eq!(
            wrap_for_auditor(&key, "a\nb", b"long enough", 10).err(),
            Some(Error::ArgumentsBad)
        );
    }

    /// The auditor's wrapping is not the master key's: it does not open
    /// as a PIN record, whatever the role.
    #[test]
    fn not_a_pin_record() {
        let key = AuditKey::generate().unwrap();
        let rec = wrap_for_auditor(&key, "carol", b"auditor-pass", 10).unwrap();
        let as_pin = super::super::PinRecord {
            salt: rec.salt.clone(),
            iterations: rec.iterations,
            wrapped: rec.wrapped.clone(),
        };
        for role in [0u8, 1] {
            assert!(super::super::unwrap_master_key(b"auditor-pass", role, &as_pin).is_err());
        }
    }
}
