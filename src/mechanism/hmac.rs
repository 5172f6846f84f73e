//! HMAC sign/verify (CKM_SHAx_HMAC, CKM_SHA3_x_HMAC and the _GENERAL
//! truncated forms) over secret keys.
//!
//! In the aws-lc build, SHA-1/2 HMAC runs in AWS-LC: the key's cached
//! state is the `AwsLc` variant (provider/symmetric.rs); SHA-3 HMAC keeps
//! this file's code after the fallback gate (refused in the FIPS build).

use hmac::digest::common::BlockSizeUser;
use hmac::digest::{Digest, FixedOutput, MacMarker, Output, OutputSizeUser};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha224, Sha256, Sha384, Sha512};
use sha3::{Sha3_224, Sha3_256, Sha3_384, Sha3_512};
use zeroize::{Zeroize, Zeroizing};

use super::digest::HashAlg;
use super::mac::{MacOp, MacState, copy_left};
use crate::error::{Error, Result};

/// An HMAC in progress; the enum keeps the state `Send` and free of generics
/// in the public operation types. Cloned from a key's cached state
/// (`Schedules::hmac`): the padded key is absorbed once per key.
// AWS-LC's HMAC context makes the aws-lc build's variant the largest;
// not boxed: a state is cloned into every operation, which is boxed once
// already, and a second allocation per HMAC cost more than the size.
#[cfg_attr(feature = "aws-lc", allow(clippy::large_enum_variant))]
#[derive(Clone)]
pub(super) enum State {
    Sha1(Hmac<Sha1>),
    Sha224(Hmac<Sha224>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
    Sha3_224(Sha3Hmac<Sha3_224>),
    Sha3_256(Sha3Hmac<Sha3_256>),
    Sha3_384(Sha3Hmac<Sha3_384>),
    Sha3_512(Sha3Hmac<Sha3_512>),
    /// HMAC in AWS-LC (the aws-lc build).
    #[cfg(feature = "aws-lc")]
    AwsLc(crate::mechanism::provider::symmetric::HmacState),
}

/// RFC 2104 HMAC over a SHA-3 hash. The hmac crate's `Hmac` needs a hash
/// with an eager block API, which SHA-3 (a sponge) does not offer, and its
/// `SimpleHmac` keeps the padded key in a buffer that is not zeroized; this
/// keeps it in `Zeroizing` (the sha3 state zeroizes itself on drop).
/// Implementing `Mac`'s parts gives the crate's constant-time verification.
#[derive(Clone)]
pub(super) struct Sha3Hmac<D> {
    inner: D,
    opad_key: Zeroizing<Vec<u8>>,
}

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

impl<D: Digest + BlockSizeUser> Sha3Hmac<D> {
    fn new(key: &[u8]) -> Sha3Hmac<D> {
        let block = <D as BlockSizeUser>::block_size();
        let mut padded = Zeroizing::new(vec![0u8; block]);
        if key.len() > block {
            let mut hashed = D::digest(key);
            for (p, h) in padded.iter_mut().zip(hashed.iter()) {
                *p = *h;
            }
            hashed.as_mut_slice().zeroize();
        } else {
            for (p, k) in padded.iter_mut().zip(key) {
                *p = *k;
            }
        }
        let ipad_key: Zeroizing<Vec<u8>> =
            Zeroizing::new(padded.iter().map(|b| b ^ IPAD).collect());
        let mut inner = D::new();
        Digest::update(&mut inner, &*ipad_key);
        let opad_key = Zeroizing::new(padded.iter().map(|b| b ^ OPAD).collect());
        Sha3Hmac { inner, opad_key }
    }
}

impl<D: Digest> OutputSizeUser for Sha3Hmac<D> {
    type OutputSize = <D as OutputSizeUser>::OutputSize;
}

// Named in full: importing `Update` would make `update` ambiguous with
// `Mac::update` on the SHA-2 states.
impl<D: Digest> hmac::digest::Update for Sha3Hmac<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.inner, data);
    }
}

impl<D: Digest> FixedOutput for Sha3Hmac<D> {
    fn finalize_into(self, out: &mut Output<Self>) {
        let mut outer = D::new();
        Digest::update(&mut outer, &*self.opad_key);
        let mut inner_hash = self.inner.finalize();
        Digest::update(&mut outer, &inner_hash);
        inner_hash.as_mut_slice().zeroize();
        out.copy_from_slice(&outer.finalize());
    }
}

impl<D> MacMarker for Sha3Hmac<D> {}

fn keyed<M: KeyInit>(key: &[u8]) -> Result<M> {
    // HMAC accepts keys of any length; an error here is a crate bug.
    M::new_from_slice(key).map_err(|_| Error::GeneralError)
}

impl MacState for State {
    fn update(&mut self, data: &[u8]) {
        State::update_inner(self, data);
    }

    fn finalize(self) -> Vec<u8> {
        State::finalize_inner(self)
    }

    fn finalize_into(self, out: &mut [u8]) -> bool {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m) => copy_left(out, m.finalize().as_ref()),
            State::Sha1(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha224(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha256(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha384(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha512(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha3_224(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha3_256(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha3_384(m) => copy_left(out, &m.finalize().into_bytes()),
            State::Sha3_512(m) => copy_left(out, &m.finalize().into_bytes()),
        }
    }

    fn verify_truncated(self, tag: &[u8]) -> bool {
        State::verify_inner(self, tag)
    }
}

impl State {
    pub(super) fn new(hash: HashAlg, key: &[u8]) -> Result<State> {
        #[cfg(feature = "aws-lc")]
        if crate::mechanism::provider::symmetric::HMAC_IN_AWS_LC {
            use crate::mechanism::provider::symmetric;
            if let Some(state) = symmetric::HmacState::new(hash, key) {
                return Ok(State::AwsLc(state));
            }
            symmetric::own_path()?;
        }
        Ok(match hash {
            HashAlg::Sha1 => State::Sha1(keyed(key)?),
            HashAlg::Sha224 => State::Sha224(keyed(key)?),
            HashAlg::Sha256 => State::Sha256(keyed(key)?),
            HashAlg::Sha384 => State::Sha384(keyed(key)?),
            HashAlg::Sha512 => State::Sha512(keyed(key)?),
            HashAlg::Sha3_224 => State::Sha3_224(Sha3Hmac::new(key)),
            HashAlg::Sha3_256 => State::Sha3_256(Sha3Hmac::new(key)),
            HashAlg::Sha3_384 => State::Sha3_384(Sha3Hmac::new(key)),
            HashAlg::Sha3_512 => State::Sha3_512(Sha3Hmac::new(key)),
        })
    }

    fn update_inner(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m) => m.update(data),
            State::Sha1(m) => m.update(data),
            State::Sha224(m) => m.update(data),
            State::Sha256(m) => m.update(data),
            State::Sha384(m) => m.update(data),
            State::Sha512(m) => m.update(data),
            State::Sha3_224(m) => m.update(data),
            State::Sha3_256(m) => m.update(data),
            State::Sha3_384(m) => m.update(data),
            State::Sha3_512(m) => m.update(data),
        }
    }

    fn finalize_inner(self) -> Vec<u8> {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m) => m.finalize().as_ref().to_vec(),
            State::Sha1(m) => m.finalize().into_bytes().to_vec(),
            State::Sha224(m) => m.finalize().into_bytes().to_vec(),
            State::Sha256(m) => m.finalize().into_bytes().to_vec(),
            State::Sha384(m) => m.finalize().into_bytes().to_vec(),
            State::Sha512(m) => m.finalize().into_bytes().to_vec(),
            State::Sha3_224(m) => m.finalize().into_bytes().to_vec(),
            State::Sha3_256(m) => m.finalize().into_bytes().to_vec(),
            State::Sha3_384(m) => m.finalize().into_bytes().to_vec(),
            State::Sha3_512(m) => m.finalize().into_bytes().to_vec(),
        }
    }

    /// Constant-time comparison of the leftmost `tag.len()` bytes.
    fn verify_inner(self, tag: &[u8]) -> bool {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m) => {
                use subtle::ConstantTimeEq;
                let full = m.finalize();
                full.as_ref()
                    .get(..tag.len())
                    .is_some_and(|left| bool::from(left.ct_eq(tag)))
            }
            State::Sha1(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha224(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha256(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha384(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha512(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha3_224(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha3_256(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha3_384(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha3_512(m) => m.verify_truncated_left(tag).is_ok(),
        }
    }
}

/// HMAC as both a sign and a verify operation.
pub(super) type HmacOp = MacOp<State>;

/// Starts an HMAC of `out_len` bytes (1..=hash length) from a keyed
/// state over `hash`.
pub(super) fn hmac_op_with(hash: HashAlg, state: State, out_len: usize) -> Result<HmacOp> {
    if out_len == 0 || out_len > hash.output_len() {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(MacOp::new(state, out_len))
}

/// As [`hmac_op_with`], keying a fresh state.
#[cfg(test)]
pub(super) fn hmac_op(hash: HashAlg, key: &[u8], out_len: usize) -> Result<HmacOp> {
    hmac_op_with(hash, State::new(hash, key)?, out_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::sign::{SignOp, VerifyOp};
    use crate::test_util::unhex;

    const RFC4231_1_SHA256: &str =
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";

    #[test]
    fn rfc4231_case1_sha256() {
        let key = [0x0b; 20];
        let mut op = hmac_op(HashAlg::Sha256, &key, 32).unwrap();
        SignOp::update(&mut op, b"Hi ").unwrap();
        SignOp::update(&mut op, b"There").unwrap();
        assert_eq!(op.sign_len(), 32);
        assert_eq!(SignOp::finish(&mut op).unwrap(), unhex(RFC4231_1_SHA256));
        assert_eq!(
            SignOp::finish(&mut op).unwrap_err(),
            Error::OperationNotInitialized
        );
    }

    #[test]
    fn rfc4231_case1_sha512_truncated() {
        let expected = unhex(
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        );
        let mut op = hmac_op(HashAlg::Sha512, &[0x0b; 20], 16).unwrap();
        SignOp::update(&mut op, b"Hi There").unwrap();
        assert_eq!(SignOp::finish(&mut op).unwrap(), expected[..16]);
    }

    #[test]
    fn verify_checks_length_and_value() {
        let key = [0x0b; 20];
        let tag = unhex(RFC4231_1_SHA256);
        let verify = |sig: &[u8], out_len: usize| {
            let mut op = hmac_op(HashAlg::Sha256, &key, out_len).unwrap();
            VerifyOp::update(&mut op, b"Hi There").unwrap();
            VerifyOp::finish(&mut op, sig)
        };
        assert_eq!(verify(&tag, 32), Ok(()));
        assert_eq!(verify(&tag[..10], 10), Ok(()));
        assert_eq!(verify(&tag[..31], 32), Err(Error::SignatureLenRange));
        assert_eq!(verify(&tag, 10), Err(Error::SignatureLenRange));
        let mut bad = tag.clone();
        bad[5] ^= 1;
        assert_eq!(verify(&bad, 32), Err(Error::SignatureInvalid));
    }

    fn mac(hash: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut op = hmac_op(hash, key, hash.output_len()).unwrap();
        SignOp::update(&mut op, data).unwrap();
        SignOp::finish(&mut op).unwrap()
    }

    /// RFC 4231 test case 1's inputs with SHA-3 (the widely published
    /// HMAC-SHA3 values, also what Python's hmac/hashlib give).
    #[test]
    fn hmac_sha3_case1() {
        let cases = [
            (
                HashAlg::Sha3_224,
                "3b16546bbc7be2706a031dcafd56373d9884367641d8c59af3c860f7",
            ),
            (
                HashAlg::Sha3_256,
                "ba85192310dffa96e2a3a40e69774351140bb7185e1202cdcc917589f95e16bb",
            ),
            (
                HashAlg::Sha3_384,
                "68d2dcf7fd4ddd0a2240c8a437305f61fb7334cfb5d0226e1bc27dc10a2e723a\
                 20d370b47743130e26ac7e3d532886bd",
            ),
            (
                HashAlg::Sha3_512,
                "eb3fbd4b2eaab8f5c504bd3a41465aacec15770a7cabac531e482f860b5ec7ba\
                 47ccb2c6f2afce8f88d22b6dc61380f23a668fd3888bb80537c0a0b86407689e",
            ),
        ];
        for (hash, expected) in cases {
            assert_eq!(mac(hash, &[0x0b; 20], b"Hi There"), unhex(expected));
        }
    }

    /// NIST CSRC example "HMAC-SHA3-256, keylen<blocklen", and a key longer
    /// than the block (hashed first; RFC 4231 case 6 inputs).
    #[test]
    fn hmac_sha3_nist_and_long_key() {
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            mac(
                HashAlg::Sha3_256,
                &key,
                b"Sample message for keylen<blocklen"
            ),
            unhex("4fe8e202c4f058e8dddc23d8c34e467343e23555e24fc2f025d598f558f67205")
        );
        assert_eq!(
            mac(
                HashAlg::Sha3_512,
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            unhex(
                "00f751a9e50695b090ed6911a4b65524951cdc15a73a5d58bb55215ea2cd839a\
                 c79d2b44a39bafab27e83fde9e11f6340b11d991b1b91bf2eee7fc872426c3a4"
            )
        );
        let tag = mac(HashAlg::Sha3_256, &key, b"m");
        let verify = |sig: &[u8]| {
            let mut op = hmac_op(HashAlg::Sha3_256, &key, sig.len()).unwrap();
            VerifyOp::update(&mut op, b"m").unwrap();
            VerifyOp::finish(&mut op, sig)
        };
        assert_eq!(verify(&tag), Ok(()));
        assert_eq!(verify(&tag[..16]), Ok(()));
        let mut bad = tag.clone();
        bad[31] ^= 1;
        assert_eq!(verify(&bad), Err(Error::SignatureInvalid));
    }

    #[test]
    fn bad_out_len() {
        assert!(hmac_op(HashAlg::Sha1, b"k", 0).is_err());
        assert!(hmac_op(HashAlg::Sha1, b"k", 21).is_err());
    }
}
