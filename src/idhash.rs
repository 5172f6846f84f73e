//! A fast hasher for the module's in-memory tables keyed by integers it
//! made itself (session and object handles, row ids): the standard
//! SipHash, built to resist keys chosen by an attacker, costs more than
//! the rest of a table lookup, and these keys are never chosen by one
//! (handles come from our counter, row ids from our store).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate mixing of each word (the Fx hash's scheme): a few
/// instructions per key, and the high bits the table uses depend on every
/// bit of a sequential handle.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n.cast_unsigned());
    }
}

pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequential handles spread over the table's buckets: the top bits
    /// (which hashbrown uses for its control bytes) differ between
    /// neighbours, and a map of many of them works like any other.
    #[test]
    fn sequential_keys_spread() {
        let top = |n: u64| {
            let mut h = IdHasher::default();
            h.write_u64(n);
            h.finish() >> 57
        };
        let distinct: std::collections::BTreeSet<u64> = (0..64).map(top).collect();
        assert!(distinct.len() > 32, "{} distinct top bits", distinct.len());
        let mut m: IdMap<u64, u64> = IdMap::default();
        for n in 0..10_000 {
            m.insert(n, n * 2);
        }
        assert!((0..10_000).all(|n| m.get(&n) == Some(&(n * 2))));
    }
}
