//! The IV generators of the message-based AEAD API (PKCS#11 3.0 §2.15,
//! CK_GENERATOR_FUNCTION): the token, not the caller, makes each message's
//! IV so one key never sees an IV twice. The façade (`api::message`) reads
//! the caller's parameter and keeps the per-operation counter; the rules
//! for making an IV live here, beside the RNG they use.
//!
//! - A generated IV keeps the caller's leading `ulIvFixedBits` bits.
//! - CKG_GENERATE_COUNTER counts from 0 in the low bits; the _XOR form
//!   XORs the counter into the caller's IV. Neither wraps: the value after
//!   the last one is refused (CKR_FUNCTION_FAILED).
//! - CKG_GENERATE is random, like CKG_GENERATE_RANDOM.
//! - CKG_NO_GENERATE uses the caller's IV as is.

use cryptoki_sys::*;

use super::keygen::random;
use crate::error::{Error, Result};

/// The FIPS build encrypts with GCM only under the IV constructions of
/// SP 800-38D §8.2 (the approved-only mode, `fips.rs`): a random IV of at
/// least 96 bits, or a 96-bit IV whose counter field sits beside a fixed
/// field of at least 32 bits; never the caller's IV as is. Other requests
/// answer CKR_MECHANISM_PARAM_INVALID. Every request passes elsewhere.
fn fips_construction(kind: Kind, iv_len: usize, fixed_bits: CK_ULONG) -> Result<()> {
    if !super::provider::FIPS {
        return Ok(());
    }
    let approved = match kind {
        Kind::Given => false,
        Kind::Random => iv_len >= 12,
        Kind::Counter | Kind::CounterXor => iv_len == 12 && fixed_bits >= 32,
    };
    if approved {
        Ok(())
    } else {
        crate::error::cause::note(&"FIPS mode: GCM encryption needs an approved IV construction");
        Err(Error::MechanismParamInvalid)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Given,
    Random,
    Counter,
    CounterXor,
}

/// A checked generator request: the kind, the caller's IV (whole, or the
/// fixed part and XOR base) and how many leading bits stay fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvGenerator<'a> {
    kind: Kind,
    caller: &'a [u8],
    fixed_bits: CK_ULONG,
    /// Low IV bits the generator fills (0 for CKG_NO_GENERATE).
    free: u64,
}

impl<'a> IvGenerator<'a> {
    /// Reads `generator` for an IV of `caller.len()` bytes whose leading
    /// `fixed_bits` stay the caller's. An unknown generator, or one with
    /// no bit left to fill (it would repeat the caller's IV forever), is
    /// CKR_MECHANISM_PARAM_INVALID.
    pub fn parse(
        generator: CK_GENERATOR_FUNCTION,
        caller: &'a [u8],
        fixed_bits: CK_ULONG,
    ) -> Result<IvGenerator<'a>> {
        let bad = Error::MechanismParamInvalid;
        let kind = match generator {
            CKG_NO_GENERATE => {
                fips_construction(Kind::Given, caller.len(), fixed_bits)?;
                return Ok(IvGenerator {
                    kind: Kind::Given,
                    caller,
                    fixed_bits,
                    free: 0,
                });
            }
            CKG_GENERATE | CKG_GENERATE_RANDOM => Kind::Random,
            CKG_GENERATE_COUNTER => Kind::Counter,
            CKG_GENERATE_COUNTER_XOR => Kind::CounterXor,
            _ => return Err(bad),
        };
        let total = u64::try_from(caller.len())
            .ok()
            .and_then(|n| n.checked_mul(8))
            .ok_or(bad)?;
        let free = total
            .checked_sub(fixed_bits)
            .filter(|&f| f > 0)
            .ok_or(bad)?;
        fips_construction(kind, caller.len(), fixed_bits)?;
        Ok(IvGenerator {
            kind,
            caller,
            fixed_bits,
            free,
        })
    }

    /// The IV of the next message: `None` when the caller's is used as is.
    /// A counter value is used up here, before the message is encrypted,
    /// so an IV is never given out twice even if that fails.
    pub fn next(&self, counter: &mut u64) -> Result<Option<Vec<u8>>> {
        let mut fresh = vec![0u8; self.caller.len()];
        match self.kind {
            Kind::Given => return Ok(None),
            Kind::Random => random(&mut fresh)?,
            Kind::Counter | Kind::CounterXor => {
                let n = *counter;
                if self.free < 64 && n >> self.free != 0 {
                    return Err(Error::FunctionFailed);
                }
                *counter = n.checked_add(1).ok_or(Error::FunctionFailed)?;
                // Big-endian in the low bytes; the check above makes sure
                // no set bit of `n` falls outside the IV.
                for (d, s) in fresh.iter_mut().rev().zip(n.to_be_bytes().iter().rev()) {
                    *d = *s;
                }
                if self.kind == Kind::CounterXor {
                    for (d, c) in fresh.iter_mut().zip(self.caller) {
                        *d ^= c;
                    }
                }
            }
        }
        Ok(Some(merge(self.caller, &fresh, self.fixed_bits)))
    }
}

/// `fixed` bits from the top of `caller`, the rest from `fresh`.
fn merge(caller: &[u8], fresh: &[u8], fixed: CK_ULONG) -> Vec<u8> {
    let mut left = fixed;
    caller
        .iter()
        .zip(fresh)
        .map(|(c, f)| {
            let k = left.min(8);
            left -= k;
            let mask = if k == 0 { 0 } else { 0xffu8 << (8 - k) };
            (c & mask) | (f & !mask)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(
        iv: &[u8],
        fixed: CK_ULONG,
        generator: CK_GENERATOR_FUNCTION,
        counter: &mut u64,
    ) -> Result<Option<Vec<u8>>> {
        IvGenerator::parse(generator, iv, fixed)?.next(counter)
    }

    #[test]
    fn counter_keeps_the_fixed_part_and_counts() {
        let mut counter = 0;
        let first = next(&[0xab; 12], 32, CKG_GENERATE_COUNTER, &mut counter)
            .unwrap()
            .unwrap();
        let second = next(&[0xab; 12], 32, CKG_GENERATE_COUNTER, &mut counter)
            .unwrap()
            .unwrap();
        assert_eq!(first, [[0xab; 4].as_slice(), &[0; 8]].concat());
        assert_eq!(second, [[0xab; 4].as_slice(), &[0; 7], &[1]].concat());
        assert_eq!(counter, 2);
        // A fixed part that ends inside a byte keeps only its own bits.
        let iv = next(&[0xff; 12], 4, CKG_GENERATE_COUNTER, &mut counter)
            .unwrap()
            .unwrap();
        assert_eq!(iv, [[0xf0].as_slice(), &[0; 10], &[2]].concat());
        // XOR: the counter goes into the caller's free bits.
        let iv = next(&[0x0f; 12], 32, CKG_GENERATE_COUNTER_XOR, &mut counter)
            .unwrap()
            .unwrap();
        assert_eq!(iv, [[0x0f; 11].as_slice(), &[0x0f ^ 3]].concat());
    }

    #[test]
    fn counter_never_wraps() {
        // 8 free bits: 256 IVs, then refused.
        let mut counter = 255;
        let last = next(&[0x11; 12], 88, CKG_GENERATE_COUNTER, &mut counter)
            .unwrap()
            .unwrap();
        assert_eq!(last[11], 0xff);
        assert_eq!(
            next(&[0x11; 12], 88, CKG_GENERATE_COUNTER, &mut counter),
            Err(Error::FunctionFailed)
        );
        assert_eq!(counter, 256);
    }

    #[test]
    fn random_keeps_the_fixed_part() {
        let mut counter = 0;
        let a = next(&[0x5a; 16], 64, CKG_GENERATE_RANDOM, &mut counter)
            .unwrap()
            .unwrap();
        let b = next(&[0x5a; 16], 64, CKG_GENERATE_RANDOM, &mut counter)
            .unwrap()
            .unwrap();
        assert_eq!(&a[..8], &[0x5a; 8]);
        assert_eq!(&b[..8], &[0x5a; 8]);
        assert_ne!(a[8..], b[8..]);
        assert_eq!(counter, 0);
        let iv = next(&[0x5a; 12], 0, CKG_GENERATE, &mut counter);
        assert_eq!(iv.unwrap().unwrap().len(), 12);
        // The caller's IV as is.
        assert_eq!(next(&[1; 12], 96, CKG_NO_GENERATE, &mut counter), Ok(None));
    }

    #[test]
    fn generator_parameters_are_checked() {
        let mut counter = 0;
        for (fixed, generator) in [
            (96, CKG_GENERATE_RANDOM),
            (97, CKG_GENERATE_COUNTER),
            (0, 99),
        ] {
            assert_eq!(
                next(&[1; 12], fixed, generator, &mut counter),
                Err(Error::MechanismParamInvalid)
            );
        }
        assert_eq!(counter, 0);
    }
}
