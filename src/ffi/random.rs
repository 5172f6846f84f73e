//! Random number generation (PKCS#11 3.0 §5.20).

use cryptoki_sys::*;

use super::args::{self, OutBytes};
use super::entry;
use crate::api::global::library;

/// Mixes caller data into the generator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SeedRandom(
    hSession: CK_SESSION_HANDLE,
    pSeed: CK_BYTE_PTR,
    ulSeedLen: CK_ULONG,
) -> CK_RV {
    entry("C_SeedRandom", || {
        let lib = library()?;
        // SAFETY: NULL or `ulSeedLen` readable bytes, per the contract.
        let seed = unsafe { args::in_bytes(pSeed, ulSeedLen) }?;
        lib.seed_random(hSession, seed)
    })
}

/// Fills the caller's buffer with random bytes. They are produced in a
/// scratch buffer first so the caller's memory is written only on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateRandom(
    hSession: CK_SESSION_HANDLE,
    RandomData: CK_BYTE_PTR,
    ulRandomLen: CK_ULONG,
) -> CK_RV {
    entry("C_GenerateRandom", || {
        let lib = library()?;
        // SAFETY: NULL or writable for `ulRandomLen` bytes, per the contract.
        let out = unsafe { OutBytes::new(RandomData, ulRandomLen) }?;
        let mut buf = args::zeroed(out.len())?;
        lib.generate_random(hSession, &mut buf)?;
        out.write(&buf)
    })
}
