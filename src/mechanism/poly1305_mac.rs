//! CKM_POLY1305 (PKCS#11 3.0 §6.60): the Poly1305 one-time authenticator
//! as a MAC (C_Sign/C_Verify, single and multi-part, 16-byte tag) under a
//! CKK_POLY1305 key of 32 bytes, made by CKM_POLY1305_KEY_GEN; and
//! [`PolyStream`], Poly1305 over data that arrives in parts, which the
//! ChaCha20-Poly1305 constructions share (`chacha_poly.rs`).
//!
//! A Poly1305 key authenticates ONE message: two tags under the same key
//! let anyone forge tags for other messages. The token cannot know whether
//! a caller keeps to that, so the mechanism and its key generation are
//! offered only when the policy says so (`poly1305 = true`); the registry
//! applies that (`Hook::Poly1305`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cryptoki_sys::*;
use poly1305::universal_hash::{KeyInit as _, UniversalHash as _};
use poly1305::{Block, Poly1305};
use subtle::ConstantTimeEq as _;

use super::keys::Key;
use super::mac::{MacOp, MacState, copy_left};
use super::registry::{Family, Generates};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// The key length in bytes (the spec fixes it at 256 bits).
const KEY_LEN: u64 = 32;
/// The tag length in bytes.
pub(super) const TAG: usize = 16;

/// The mechanism and its key generation (sizes in bytes).
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_POLY1305_KEY_GEN, KEY_LEN, KEY_LEN, CKF_GENERATE),
    row(CKM_POLY1305, KEY_LEN, KEY_LEN, CKF_SIGN | CKF_VERIFY),
];

/// Whether the policy offers CKM_POLY1305 (off unless configured).
static ALLOWED: AtomicBool = AtomicBool::new(false);

/// Sets, at C_Initialize, whether CKM_POLY1305 is offered
/// (`policy.poly1305`).
pub fn set_poly1305_allowed(allowed: bool) {
    ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Whether CKM_POLY1305 is offered.
pub fn poly1305_allowed() -> bool {
    ALLOWED.load(Ordering::Relaxed)
}

/// Poly1305 over input that arrives in parts of any length. Whole 16-byte
/// blocks go to the MAC as they complete; [`PolyStream::pad`] ends the
/// current block with zeros (RFC 8439 §2.8's padding between AAD and
/// text), and [`PolyStream::finalize`] treats a partial last block as
/// Poly1305 itself does (a 1 byte after it, no zero padding of the data).
pub(super) struct PolyStream {
    mac: Poly1305,
    /// Input not yet MACed: less than one block.
    partial: Block,
    filled: usize,
}

impl PolyStream {
    pub(super) fn new(key: &[u8; 32]) -> PolyStream {
        PolyStream {
            mac: Poly1305::new(key.into()),
            partial: Block::default(),
            filled: 0,
        }
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        if self.filled > 0 {
            let room = TAG - self.filled;
            let (now, rest) = data.split_at(room.min(data.len()));
            if let Some(dst) = self.partial.get_mut(self.filled..self.filled + now.len()) {
                dst.copy_from_slice(now);
            }
            self.filled += now.len();
            data = rest;
            if self.filled < TAG {
                return;
            }
            self.mac.update(std::slice::from_ref(&self.partial));
            self.filled = 0;
        }
        let (blocks, rest) = Block::slice_as_chunks(data);
        self.mac.update(blocks);
        if let Some(dst) = self.partial.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.filled = rest.len();
    }

    /// Zero-pads the input so far to a whole block (nothing if it is one).
    pub(super) fn pad(&mut self) {
        if self.filled > 0 {
            if let Some(tail) = self.partial.get_mut(self.filled..) {
                tail.fill(0);
            }
            self.mac.update(std::slice::from_ref(&self.partial));
            self.filled = 0;
        }
    }

    pub(super) fn finalize(self) -> [u8; TAG] {
        let rest = self.partial.get(..self.filled).unwrap_or_default();
        self.mac.clone().compute_unpadded(rest).into()
    }
}

impl Drop for PolyStream {
    fn drop(&mut self) {
        // Buffered input may be plaintext-derived: cleared. (The MAC state
        // zeroizes itself.)
        zeroize::Zeroize::zeroize(self.partial.as_mut_slice());
    }
}

impl MacState for PolyStream {
    fn update(&mut self, data: &[u8]) {
        PolyStream::update(self, data);
    }

    fn finalize(self) -> Vec<u8> {
        PolyStream::finalize(self).to_vec()
    }

    fn finalize_into(self, out: &mut [u8]) -> bool {
        copy_left(out, &PolyStream::finalize(self))
    }

    fn verify_truncated(self, tag: &[u8]) -> bool {
        let full = PolyStream::finalize(self);
        full.get(..tag.len())
            .is_some_and(|left| bool::from(left.ct_eq(tag)))
    }
}

/// The value of a Poly1305 key: CKR_KEY_TYPE_INCONSISTENT for any other
/// key type, CKR_KEY_SIZE_RANGE for another length.
fn poly_key(key: &Key) -> Result<&[u8; 32]> {
    match key {
        Key::Secret {
            key_type, value, ..
        } if *key_type == CKK_POLY1305 => {
            value.as_slice().try_into().map_err(|_| Error::KeySizeRange)
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn mac_op(mech: &Mechanism, key: &Key) -> Result<MacOp<PolyStream>> {
    if mech.mech != CKM_POLY1305 {
        return Err(Error::MechanismInvalid);
    }
    let k = poly_key(key)?;
    // "It has no parameters."
    if !matches!(mech.params, Params::None) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(MacOp::new(PolyStream::new(k), TAG))
}

pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    Ok(Box::new(mac_op(mech, &key)?))
}

pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    Ok(Box::new(mac_op(mech, &key)?))
}

/// The family of CKM_POLY1305 and CKM_POLY1305_KEY_GEN.
pub(super) struct Poly1305Mac;

impl Family for Poly1305Mac {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_POLY1305_KEY_GEN).then_some(Generates::Secret(CKK_POLY1305))
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        // A MAC's state is key material: never saved, never resumed.
        if input.is_some() {
            return Err(Error::SavedStateInvalid);
        }
        sign_init(mech, key)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        if input.is_some() {
            return Err(Error::SavedStateInvalid);
        }
        verify_init(mech, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn key(v: &[u8]) -> Arc<Key> {
        Arc::new(Key::secret(CKK_POLY1305, v).unwrap())
    }

    fn mech() -> Mechanism {
        Mechanism {
            mech: CKM_POLY1305,
            params: Params::None,
        }
    }

    fn tag_of(k: &[u8], msg: &[u8], step: usize) -> Vec<u8> {
        let mut op = sign_init(&mech(), key(k)).unwrap();
        for part in msg.chunks(step.max(1)) {
            op.update(part).unwrap();
        }
        op.finish().unwrap()
    }

    // RFC 8439 §2.5.2.
    const K: &str = "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b";
    const M: &[u8] = b"Cryptographic Forum Research Group";
    const T: &str = "a8061dc1305136c6c22b8baf0c0127a9";

    #[test]
    fn rfc8439_2_5_2_in_any_parts() {
        for step in [1, 3, 15, 16, 17, 34] {
            assert_eq!(tag_of(&unhex(K), M, step), unhex(T), "step {step}");
        }
        let mut v = verify_init(&mech(), key(&unhex(K))).unwrap();
        v.update(M).unwrap();
        assert_eq!(v.finish(&unhex(T)), Ok(()));
        let mut bad = unhex(T);
        bad[15] ^= 1;
        let mut v = verify_init(&mech(), key(&unhex(K))).unwrap();
        v.update(M).unwrap();
        assert_eq!(v.finish(&bad), Err(Error::SignatureInvalid));
        let mut v = verify_init(&mech(), key(&unhex(K))).unwrap();
        v.update(M).unwrap();
        assert_eq!(v.finish(&bad[..15]), Err(Error::SignatureLenRange));
    }

    /// The streaming MAC against the crate's one-shot unpadded MAC, and
    /// `pad` against the crate's padded update, over many lengths.
    #[test]
    fn streaming_matches_the_crate() {
        let k = [7u8; 32];
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let want = Poly1305::new((&k).into()).compute_unpadded(&data);
            for step in 1..=17 {
                assert_eq!(tag_of(&k, &data, step), want.to_vec(), "{len} {step}");
            }
            let mut padded = Poly1305::new((&k).into());
            padded.update_padded(&data);
            padded.update_padded(b"x");
            let mut s = PolyStream::new(&k);
            for part in data.chunks(5) {
                s.update(part);
            }
            s.pad();
            s.update(b"x");
            s.pad();
            assert_eq!(s.finalize(), <[u8; 16]>::from(padded.finalize()));
        }
    }

    #[test]
    fn refusals() {
        let aes = Arc::new(Key::secret(CKK_AES, &[1; 32]).unwrap());
        assert_eq!(
            sign_init(&mech(), aes).err(),
            Some(Error::KeyTypeInconsistent)
        );
        let with_param = Mechanism {
            mech: CKM_POLY1305,
            params: Params::Iv(vec![0; 16]),
        };
        assert_eq!(
            sign_init(&with_param, key(&[1; 32])).err(),
            Some(Error::MechanismParamInvalid)
        );
        assert!(Key::secret(CKK_POLY1305, &[1; 16]).is_err());
    }
}
