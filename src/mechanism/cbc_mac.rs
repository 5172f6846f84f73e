//! AES-MAC (PKCS#11 3.0 "General-length AES-MAC" and "AES-MAC"): the
//! CBC-MAC of FIPS 113 over AES, the data zero-padded to whole blocks.
//! CKM_AES_MAC gives half a block (8 bytes), CKM_AES_MAC_GENERAL the
//! leftmost 1..=16 bytes its CK_MAC_GENERAL_PARAMS asks for. Data of no
//! length MACs no block: the tag is the zero IV, as FIPS 113's arithmetic
//! gives.
//!
//! CBC-MAC is forgeable when messages vary in length (the tag of one
//! message is the chaining value for an extension of it), which CMAC
//! (cmac.rs) was made to fix. It is offered only when the policy says
//! `cbc_mac = true` (the `compat` profile), for clients of the 2.x era;
//! the registry applies that in its one policy step (`Hook::CbcMac`).

use std::sync::Arc;

use cryptoki_sys::*;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aes::{AesCipher, BLOCK};
use super::keys::Key;
use super::mac::{MacOp, MacState, copy_left};
use super::setting::{self, Setting};
use super::sign::{SignOp, VerifyOp};
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

const AES_MIN: u64 = 16;
const AES_MAX: u64 = 32;
/// CKM_AES_MAC's tag: half a block.
const HALF: usize = BLOCK / 2;

pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_AES_MAC_GENERAL, AES_MIN, AES_MAX, CKF_SIGN | CKF_VERIFY),
    row(CKM_AES_MAC, AES_MIN, AES_MAX, CKF_SIGN | CKF_VERIFY),
];

static ALLOWED: Setting = Setting::new(setting::CBC_MAC, 0);

/// Sets, at C_Initialize, whether the policy offers CBC-MAC
/// (`policy.cbc_mac`).
pub fn set_cbc_mac_allowed(allowed: bool) {
    ALLOWED.set(u64::from(allowed));
}

/// Whether the policy offers CBC-MAC.
pub fn cbc_mac_allowed() -> bool {
    ALLOWED.get() != 0
}

/// A CBC-MAC in progress: the chaining block and the partial block.
struct State {
    cipher: Arc<AesCipher>,
    chain: Zeroizing<[u8; BLOCK]>,
    part: Zeroizing<[u8; BLOCK]>,
    filled: usize,
}

impl State {
    fn absorb_block(&mut self) {
        for (c, p) in self.chain.iter_mut().zip(self.part.iter()) {
            *c ^= p;
        }
        self.cipher.encrypt_block(&mut self.chain);
        self.filled = 0;
    }

    /// The full 16-byte tag.
    fn tag(mut self) -> Zeroizing<[u8; BLOCK]> {
        if self.filled > 0 {
            if let Some(rest) = self.part.get_mut(self.filled..) {
                rest.fill(0);
            }
            self.absorb_block();
        }
        self.chain.clone()
    }
}

impl MacState for State {
    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = BLOCK - self.filled;
            let take = room.min(data.len());
            let (now, rest) = data.split_at(take);
            if let Some(dst) = self.part.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(now);
            }
            self.filled += take;
            data = rest;
            if self.filled == BLOCK {
                self.absorb_block();
            }
        }
    }

    fn finalize(self) -> Vec<u8> {
        self.tag().to_vec()
    }

    fn finalize_into(self, out: &mut [u8]) -> bool {
        copy_left(out, &*self.tag())
    }

    fn verify_truncated(self, tag: &[u8]) -> bool {
        let full = self.tag();
        full.get(..tag.len())
            .is_some_and(|left| bool::from(left.ct_eq(tag)))
    }
}

fn op(mech: &Mechanism, key: &Key) -> Result<MacOp<State>> {
    let out_len = match (mech.mech, &mech.params) {
        (CKM_AES_MAC, Params::None) => HALF,
        (CKM_AES_MAC_GENERAL, Params::MacLen(n)) if (1..=BLOCK).contains(n) => *n,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let state = State {
        cipher: AesCipher::for_key(key)?,
        chain: Zeroizing::new([0; BLOCK]),
        part: Zeroizing::new([0; BLOCK]),
        filled: 0,
    };
    Ok(MacOp::new(state, out_len))
}

pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    Ok(Box::new(op(mech, &key)?))
}

pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    Ok(Box::new(op(mech, &key)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";

    fn sign(mech: &Mechanism, parts: &[&[u8]]) -> Vec<u8> {
        let key = Arc::new(Key::secret(CKK_AES, &hex(KEY)).unwrap());
        let mut s = sign_init(mech, key).unwrap();
        for p in parts {
            s.update(p).unwrap();
        }
        s.finish().unwrap()
    }

    /// The CBC-MAC of whole blocks is the last block of CBC encryption
    /// with a zero IV (`openssl enc -aes-128-cbc -iv 0 -nopad` over the
    /// SP 800-38A plaintext); a partial block is zero-padded first.
    #[test]
    fn known_answers_and_parts() {
        let general =
            |n: CK_ULONG| Mechanism::parse(CKM_AES_MAC_GENERAL, Some(&n.to_ne_bytes())).unwrap();
        let data = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let got = sign(&general(16), &[&data]);
        assert_eq!(got, hex("b148c17f309ee692287ae57cf12add49"));
        let mac = Mechanism::parse(CKM_AES_MAC, None).unwrap();
        assert_eq!(sign(&mac, &[&data]), got.get(..8).unwrap());
        assert_eq!(
            sign(&general(16), &[&data[..5], &data[5..20], &data[20..]]),
            got
        );
        // Zero padding: 20 bytes MAC as those 20 and 12 zero bytes.
        let mut padded = data.get(..20).unwrap().to_vec();
        padded.resize(32, 0);
        assert_eq!(
            sign(&general(16), &[&data[..20]]),
            sign(&general(16), &[&padded])
        );
        assert_eq!(sign(&general(16), &[]), vec![0; 16]);
    }
}
