//! The mechanism registry: what this module offers for each mechanism —
//! its flags and key-size range as `C_GetMechanismInfo` reports them —
//! gathered once from the family tables, with the deployment's policy
//! applied in this one place. Every reader (the mechanism list and info,
//! dispatch's flag checks, size checks at init, key generation) asks
//! [`info`], so what a client is told and what the module does cannot
//! drift (issue 12).
//!
//! Two facts can differ from the family tables, both set once at
//! `C_Initialize` from the configuration:
//! - RSA key sizes: the family rows give what the module can do
//!   ([`RSA_MIN`]..[`RSA_MAX`] bits); the policy's `min_rsa_bits` raises
//!   the floor of every RSA mechanism (default 2048). A floor above the
//!   ceiling leaves RSA not offered at all.
//! - PKCS#1 v1.5 and raw RSA encryption and wrapping flags, granted only
//!   when `allow_legacy_rsa_decryption` is set (`rsa_crypt::policy_flags`).

use std::sync::atomic::{AtomicU64, Ordering};

use cryptoki_sys::*;

use super::{MechInfo, aes, cmac, ecdh, eddsa, kdf, rsa_crypt};
use crate::error::{Error, Result};

/// The RSA modulus sizes, in bits, the module can generate and use: the
/// floor is the smallest any policy may allow (`min_rsa_bits` >= 1024),
/// the ceiling the largest generation finishes in reasonable time.
pub const RSA_MIN: u64 = 1024;
pub const RSA_MAX: u64 = 4096;

/// The policy's RSA floor when no configuration set one.
pub const DEFAULT_MIN_RSA_BITS: u64 = 2048;

/// Which policy hook applies to a family's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    None,
    /// An RSA mechanism: the policy's floor applies, and the legacy
    /// encryption flags may be granted.
    Rsa,
}

/// One registered mechanism: its row as the module can do it, and the
/// policy hook that turns it into what is offered.
#[derive(Debug, Clone, Copy)]
struct Entry {
    row: MechInfo,
    hook: Hook,
}

/// Every family's rows, merged and sorted ascending by mechanism type once
/// (checked unique by a test) so [`info`] can binary-search.
static REGISTRY: std::sync::LazyLock<Vec<Entry>> = std::sync::LazyLock::new(|| {
    let families: [(&[MechInfo], Hook); 8] = [
        (super::BASE_ROWS, Hook::None),
        (super::RSA_ROWS, Hook::Rsa),
        (rsa_crypt::ROWS, Hook::Rsa),
        (aes::ROWS, Hook::None),
        (cmac::ROWS, Hook::None),
        (kdf::ROWS, Hook::None),
        (eddsa::ROWS, Hook::None),
        (ecdh::ROWS, Hook::None),
    ];
    let mut entries: Vec<Entry> = families
        .iter()
        .flat_map(|(rows, hook)| {
            rows.iter().map(|row| Entry {
                row: *row,
                hook: *hook,
            })
        })
        .collect();
    entries.sort_by_key(|e| e.row.mech);
    entries
});

static MIN_RSA_BITS: AtomicU64 = AtomicU64::new(DEFAULT_MIN_RSA_BITS);

#[cfg(test)]
thread_local! {
    /// Unit tests set the floor for their own thread only (tests run in
    /// parallel in one process).
    static TEST_MIN_RSA_BITS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Sets the policy's RSA floor for the process (the configuration's
/// `policy.min_rsa_bits`, already checked to lie in 1024..=16384).
pub fn set_min_rsa_bits(bits: u64) {
    #[cfg(test)]
    TEST_MIN_RSA_BITS.with(|c| c.set(Some(bits)));
    #[cfg(not(test))]
    MIN_RSA_BITS.store(bits, Ordering::Relaxed);
}

/// The policy's RSA floor in force.
pub fn min_rsa_bits() -> u64 {
    #[cfg(test)]
    if let Some(bits) = TEST_MIN_RSA_BITS.with(std::cell::Cell::get) {
        return bits;
    }
    MIN_RSA_BITS.load(Ordering::Relaxed)
}

fn entry(mech: CK_MECHANISM_TYPE) -> Result<&'static Entry> {
    let entries: &[Entry] = &REGISTRY;
    entries
        .binary_search_by_key(&mech, |e| e.row.mech)
        .ok()
        .and_then(|i| entries.get(i))
        .ok_or(Error::MechanismInvalid)
}

/// What the policy makes of an entry; `None` when it is not offered (no
/// flag left, or an empty size range).
fn offered(e: &Entry) -> Option<MechInfo> {
    let mut row = e.row;
    if e.hook == Hook::Rsa {
        row.flags |= rsa_crypt::policy_flags(row.mech);
        row.min_key = row.min_key.max(min_rsa_bits());
        if row.min_key > row.max_key {
            return None;
        }
    }
    (row.flags != 0).then_some(row)
}

/// The mechanism as offered: the flags and key-size range
/// `C_GetMechanismInfo` reports and every operation checks.
/// CKR_MECHANISM_INVALID for a mechanism the module does not offer, or
/// that the policy leaves without any function.
pub fn info(mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
    offered(entry(mech)?).ok_or(Error::MechanismInvalid)
}

/// The mechanism as the module can do it, before the policy: for the
/// checks that must leave the policy's own refusal (which names its rule
/// and is audited) to the policy, e.g. a generation request's size.
pub fn capability(mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
    Ok(entry(mech)?.row)
}

/// Every offered mechanism, ascending by type (`C_GetMechanismList`).
pub fn table() -> Vec<MechInfo> {
    REGISTRY.iter().filter_map(offered).collect()
}

/// Whether `mech` is registered at all, offered or not (parameter parsing
/// tells an unknown mechanism from one the policy switched off).
pub fn known(mech: CK_MECHANISM_TYPE) -> bool {
    entry(mech).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sorted_unique_and_software() {
        let all: &[Entry] = &REGISTRY;
        assert!(all.len() >= 37);
        for w in all.windows(2) {
            assert!(
                w[0].row.mech < w[1].row.mech,
                "{:#x} twice or unsorted",
                w[1].row.mech
            );
        }
        assert!(
            all.iter()
                .all(|e| e.row.flags & CKF_HW == 0 && e.row.min_key <= e.row.max_key)
        );
    }

    #[test]
    fn the_rsa_floor_follows_the_policy_everywhere() {
        let rsa = [
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            CKM_RSA_PKCS,
            CKM_SHA256_RSA_PKCS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_RSA_PKCS_OAEP,
        ];
        assert_eq!(min_rsa_bits(), DEFAULT_MIN_RSA_BITS);
        for m in rsa {
            let i = info(m).unwrap();
            assert_eq!((i.min_key, i.max_key), (2048, RSA_MAX), "{m:#x}");
            assert!(!i.key_size_ok(1024));
            assert_eq!(capability(m).unwrap().min_key, RSA_MIN);
        }
        set_min_rsa_bits(1024);
        for m in rsa {
            assert!(info(m).unwrap().key_size_ok(1024), "{m:#x}");
        }
        assert!(
            table()
                .iter()
                .any(|r| r.mech == CKM_SHA256_RSA_PKCS && r.min_key == 1024)
        );
        // A floor above what the module can generate: RSA is not offered.
        set_min_rsa_bits(8192);
        for m in rsa {
            assert_eq!(info(m).unwrap_err(), Error::MechanismInvalid, "{m:#x}");
        }
        assert!(!table().iter().any(|r| r.mech == CKM_RSA_PKCS));
        assert!(known(CKM_RSA_PKCS));
        // Other families keep their ranges.
        assert_eq!(info(CKM_ECDSA).unwrap().min_key, 256);
        set_min_rsa_bits(DEFAULT_MIN_RSA_BITS);
    }
}
