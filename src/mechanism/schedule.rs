//! Key schedules cached on a secret key (issue 11): the AES round keys,
//! GCM's GHASH key (H and its precomputed powers), the CMAC state with its
//! subkeys and the HMAC inner/outer padded-key states. Each is built on the
//! first use of its mechanism family and kept with the `Key`, which the
//! token's key cache (or a session object) holds; every later `C_*Init`
//! clones a ready state instead of recomputing it.
//!
//! Secrecy: every cached state zeroizes itself on drop (the `aes`,
//! `ghash`, `cmac` and `hmac` crates' `zeroize` features; the SHA-3 HMAC
//! keeps its padded key in `Zeroizing`), so a schedule lives exactly as
//! long as the key it was made from. `Debug` never shows them. A cloned
//! `Key` starts with an empty cache rather than sharing or copying one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use ghash::GHash;

use super::aes::{AesCipher, BLOCK};
use super::digest::HashAlg;
use crate::error::{Error, Result};

/// Schedules built since the process started, and those still alive (built
/// and not yet dropped with their key). Read by tests through
/// [`schedule_counts`]; two relaxed atomic adds per schedule, never on the
/// per-operation path.
static BUILT: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// (built, live) schedule counts of this process, for tests and
/// diagnostics: "built" grows by one per (key, mechanism family) on first
/// use only; "live" falls when a key and its schedules are dropped.
pub fn schedule_counts() -> (usize, usize) {
    (BUILT.load(Ordering::Relaxed), LIVE.load(Ordering::Relaxed))
}

/// Number of hash functions HMAC is offered with (one slot each).
const HMAC_SLOTS: usize = 9;

fn hmac_slot(hash: HashAlg) -> usize {
    match hash {
        HashAlg::Sha1 => 0,
        HashAlg::Sha224 => 1,
        HashAlg::Sha256 => 2,
        HashAlg::Sha384 => 3,
        HashAlg::Sha512 => 4,
        HashAlg::Sha3_224 => 5,
        HashAlg::Sha3_256 => 6,
        HashAlg::Sha3_384 => 7,
        HashAlg::Sha3_512 => 8,
    }
}

/// The lazily built schedules of one secret key. A key never used for
/// these mechanisms (most of 100,000 cached objects) pays one pointer;
/// boxed states keep an unused slot at one pointer too, so a key used with
/// one mechanism pays for that one.
#[derive(Default)]
pub struct Schedules {
    slots: OnceLock<Box<Slots>>,
}

#[derive(Default)]
struct Slots {
    aes: OnceLock<Arc<AesCipher>>,
    ghash: OnceLock<Box<GHash>>,
    /// The `aes-gcm` crate's cipher, for single-part GCM with a 96-bit IV
    /// and a full tag (`gcm_fast.rs`).
    gcm: OnceLock<Arc<super::gcm_fast::GcmFast>>,
    cmac: OnceLock<Box<super::cmac::State>>,
    hmac: [OnceLock<Box<super::hmac::State>>; HMAC_SLOTS],
    /// aws-lc's forms of the AES key for the block modes and key wraps
    /// (provider/symmetric.rs), counted with `aes` rather than apart.
    #[cfg(feature = "aws-lc")]
    aws_lc_aes: OnceLock<Arc<super::provider::symmetric::AesKeys>>,
}

/// Stores `value` unless another thread got there first (its value is then
/// dropped, zeroizing itself), and returns the stored one.
fn install<P>(slot: &OnceLock<P>, value: P) -> Result<&P> {
    if slot.set(value).is_ok() {
        BUILT.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
    }
    slot.get().ok_or(Error::GeneralError)
}

/// The cached state, or one built by `make` and cached.
fn cached<P>(slot: &OnceLock<P>, make: impl FnOnce() -> Result<P>) -> Result<&P> {
    match slot.get() {
        Some(ready) => Ok(ready),
        None => install(slot, make()?),
    }
}

impl Schedules {
    fn slots(&self) -> &Slots {
        self.slots.get_or_init(Box::default)
    }

    /// The AES block cipher (round keys) for `key`, an AES key value whose
    /// length the caller has checked.
    /// Shared, not copied, by the operations that use it: the round keys
    /// are zeroized when the key and the last such operation are gone.
    pub(super) fn aes(&self, key: &[u8]) -> Result<&Arc<AesCipher>> {
        cached(&self.slots().aes, || AesCipher::new(key).map(Arc::new))
    }

    /// aws-lc's forms of `key` (an AES key value whose length the caller
    /// has checked) for the block modes and key wraps, shared by the
    /// operations using it. Not counted apart: it stands beside (in the
    /// FIPS build, for) the `aes` schedule.
    #[cfg(feature = "aws-lc")]
    pub(super) fn aws_lc_aes(
        &self,
        key: &[u8],
    ) -> Result<&Arc<super::provider::symmetric::AesKeys>> {
        let slot = &self.slots().aws_lc_aes;
        match slot.get() {
            Some(ready) => Ok(ready),
            None => {
                let keys = super::provider::symmetric::aes_keys(key)?;
                Ok(slot.get_or_init(|| keys))
            }
        }
    }

    /// GHASH keyed with H = E(K, 0^128), no data absorbed yet.
    pub(super) fn ghash(&self, key: &[u8]) -> Result<&GHash> {
        if let Some(ready) = self.slots().ghash.get() {
            return Ok(&**ready);
        }
        let cipher = self.aes(key)?;
        let mut h = zeroize::Zeroizing::new([0u8; BLOCK]);
        cipher.encrypt_block(&mut h);
        let h = zeroize::Zeroizing::new(ghash::Key::from(*h));
        install(&self.slots().ghash, Box::new(GHash::new(&h))).map(|b| &**b)
    }

    /// The `aes-gcm` crate's cipher for `key` (an AES key value whose
    /// length the caller has checked), shared by the operations using it.
    pub(super) fn gcm(&self, key: &[u8]) -> Result<&Arc<super::gcm_fast::GcmFast>> {
        cached(&self.slots().gcm, || {
            super::gcm_fast::GcmFast::new(key).map(Arc::new)
        })
    }

    /// The CMAC state (cipher and subkeys) before any data.
    pub(super) fn cmac(&self, key: &[u8]) -> Result<&super::cmac::State> {
        let slot = &self.slots().cmac;
        cached(slot, || super::cmac::State::new(key).map(Box::new)).map(|b| &**b)
    }

    /// The HMAC state over `hash` with the padded key absorbed.
    pub(super) fn hmac(&self, hash: HashAlg, key: &[u8]) -> Result<&super::hmac::State> {
        let slot = self
            .slots()
            .hmac
            .get(hmac_slot(hash))
            .ok_or(Error::GeneralError)?;
        cached(slot, || super::hmac::State::new(hash, key).map(Box::new)).map(|b| &**b)
    }

    fn built(&self) -> usize {
        let Some(s) = self.slots.get() else {
            return 0;
        };
        usize::from(s.aes.get().is_some())
            + usize::from(s.ghash.get().is_some())
            + usize::from(s.gcm.get().is_some())
            + usize::from(s.cmac.get().is_some())
            + s.hmac.iter().filter(|h| h.get().is_some()).count()
    }
}

/// A copy of a key starts empty: schedules are rebuilt on its first use
/// rather than shared between keys that may then diverge.
impl Clone for Schedules {
    fn clone(&self) -> Schedules {
        Schedules::default()
    }
}

impl Drop for Schedules {
    fn drop(&mut self) {
        let n = self.built();
        if n > 0 {
            LIVE.fetch_sub(n, Ordering::Relaxed);
        }
        // The states themselves zeroize on drop (see the module comment).
    }
}

impl std::fmt::Debug for Schedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schedules({} built, <redacted>)", self.built())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_once_and_counted_until_dropped() {
        let s = Schedules::default();
        let key = [7u8; 32];
        let a = s.aes(&key).unwrap().clone();
        let b = s.aes(&key).unwrap().clone();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second use reuses the first schedule"
        );
        s.ghash(&key).unwrap();
        s.hmac(HashAlg::Sha256, &key).unwrap();
        s.hmac(HashAlg::Sha256, &key).unwrap();
        s.cmac(&key).unwrap();
        assert_eq!(s.built(), 4);
        assert!(format!("{s:?}").contains("redacted"));
        assert_eq!(s.clone().built(), 0);
        assert!(
            s.aes(&[1; 20]).is_ok(),
            "cached: the value is not looked at again"
        );
        let fresh = Schedules::default();
        assert_eq!(fresh.aes(&[1; 20]).err(), Some(Error::KeySizeRange));
        assert_eq!(fresh.built(), 0);
        // An unused key holds one pointer's worth of schedule state.
        assert!(std::mem::size_of::<Schedules>() <= 16);
    }
}
