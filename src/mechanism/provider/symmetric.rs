//! The symmetric seam of the aws-lc build (issue 12): what the AES, GCM,
//! key-wrap, HMAC, CMAC and digest families call so that their primitive
//! runs in AWS-LC (symmetric_aws_lc.rs holds the aws-lc side). Compiled in
//! the aws-lc builds only: the default build keeps its tuned RustCrypto
//! paths untouched, and every hook in a family file sits under
//! `cfg(feature = "aws-lc")`.
//!
//! How each family uses it (the family keeps the PKCS#11 logic):
//! - GCM (gcm_fast.rs, aes_aead.rs): the key's cached `GcmFast` is a
//!   [`GcmKey`]; single-part calls and buffered decryption with a 12-byte
//!   IV and 16-byte tag run in aws-lc, other shapes pass
//!   [`own_path`] (the fallback gate) first.
//! - ECB/CBC/CBC-PAD/CTR (aes_modes.rs): the operation holds the key's
//!   cached [`AesKeys`] when [`mode_in_aws_lc`] says so, and runs its
//!   whole blocks / counter runs there; padding, buffering and the CTR
//!   counter rules stay in the family.
//! - Key wrap (aes_keywrap.rs): [`AesKeys`]' KW/KWP with the RFC default
//!   IVs; CKM_AES_KEY_WRAP_PAD is the family's PKCS#7 padding over KW.
//! - HMAC, CMAC (hmac.rs, cmac.rs): the key's cached MAC state is a
//!   [`HmacState`] / [`CmacState`] (cloned per operation as before).
//! - Digests (digest.rs): in the FIPS build only, [`hasher`].
//!
//! The aws-lc forms of a key are built once per `Key` and cached with its
//! schedules (schedule.rs): the GCM and MAC states in the slots they
//! replace, [`AesKeys`] in its own slot next to the AES round keys (and
//! counted with them: one AES schedule per key, whichever provider holds
//! it). A cloned key starts empty.

use std::sync::Arc;

pub(in crate::mechanism) use super::symmetric_aws_lc::{AesKeys, CmacState, GcmKey, HmacState};
use crate::error::Result;

/// The AES block modes of aes_modes.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::mechanism) enum Mode {
    Ecb,
    /// CBC and CBC-PAD.
    Cbc,
    Ctr,
}

/// Whether this build runs `mode` in aws-lc. The FIPS build runs every
/// mode there. The plain aws-lc build chooses by measurement at 4 KiB and
/// 1 MiB (benches/ops, aws-lc-rs vs the RustCrypto crates on the same
/// machine): see the values below.
pub(in crate::mechanism) const fn mode_in_aws_lc(mode: Mode) -> bool {
    if super::FIPS {
        return true;
    }
    match mode {
        // AWS-LC's CTR (aes_hw_ctr32_encrypt_blocks) is faster than the
        // `ctr` crate at 4 KiB and 1 MiB.
        Mode::Ctr => true,
        // CBC encryption is serial in both; AWS-LC's decryption is
        // pipelined like ours. Measured equal or better: aws-lc.
        Mode::Cbc => true,
        // aws-lc-rs's ECB calls AES_ecb_encrypt one block at a time; the
        // `aes` crate encrypts 8 blocks in parallel: RustCrypto is faster.
        Mode::Ecb => false,
    }
}

/// The gate a family passes before running its own (RustCrypto) code for
/// a shape aws-lc does not serve: refused in the FIPS build.
pub(in crate::mechanism) fn own_path() -> Result<()> {
    super::fallback_allowed()
}

/// The aws-lc form of an AES key for the block modes and key wraps.
pub(in crate::mechanism) fn aes_keys(key: &[u8]) -> Result<Arc<AesKeys>> {
    AesKeys::new(key).map(Arc::new)
}

/// The FIPS build's hasher: SHA-1/2/3 in AWS-LC (None: SHA3-224, which
/// aws-lc-rs lacks).
#[cfg(feature = "fips")]
pub(in crate::mechanism) fn hasher(
    hash: crate::mechanism::digest::HashAlg,
) -> Option<Box<dyn crate::mechanism::digest::DigestOp>> {
    super::symmetric_aws_lc::Hasher::new(hash)
        .map(|h| Box::new(h) as Box<dyn crate::mechanism::digest::DigestOp>)
}
