//! HMAC sign/verify (CKM_SHAx_HMAC and the _GENERAL truncated forms) over
//! secret keys.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha224, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::sign::{SignOp, VerifyOp};
use crate::error::{Error, Result};

/// An HMAC in progress; the enum keeps the state `Send` and free of generics
/// in the public operation types.
enum State {
    Sha1(Hmac<Sha1>),
    Sha224(Hmac<Sha224>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

fn keyed<M: KeyInit>(key: &[u8]) -> Result<M> {
    // HMAC accepts keys of any length; an error here is a crate bug.
    M::new_from_slice(key).map_err(|_| Error::GeneralError)
}

impl State {
    fn new(hash: HashAlg, key: &[u8]) -> Result<State> {
        Ok(match hash {
            HashAlg::Sha1 => State::Sha1(keyed(key)?),
            HashAlg::Sha224 => State::Sha224(keyed(key)?),
            HashAlg::Sha256 => State::Sha256(keyed(key)?),
            HashAlg::Sha384 => State::Sha384(keyed(key)?),
            HashAlg::Sha512 => State::Sha512(keyed(key)?),
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            State::Sha1(m) => m.update(data),
            State::Sha224(m) => m.update(data),
            State::Sha256(m) => m.update(data),
            State::Sha384(m) => m.update(data),
            State::Sha512(m) => m.update(data),
        }
    }

    fn finalize(self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            State::Sha1(m) => m.finalize().into_bytes().to_vec(),
            State::Sha224(m) => m.finalize().into_bytes().to_vec(),
            State::Sha256(m) => m.finalize().into_bytes().to_vec(),
            State::Sha384(m) => m.finalize().into_bytes().to_vec(),
            State::Sha512(m) => m.finalize().into_bytes().to_vec(),
        })
    }

    /// Constant-time comparison of the leftmost `tag.len()` bytes.
    fn verify_truncated(self, tag: &[u8]) -> bool {
        match self {
            State::Sha1(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha224(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha256(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha384(m) => m.verify_truncated_left(tag).is_ok(),
            State::Sha512(m) => m.verify_truncated_left(tag).is_ok(),
        }
    }
}

/// HMAC as both a sign and a verify operation. The state is consumed by
/// `finish`; a second `finish` reports OperationNotInitialized.
pub(super) struct HmacOp {
    state: Option<State>,
    out_len: usize,
}

impl HmacOp {
    /// `out_len` must already be checked to be 1..=hash length.
    pub(super) fn new(hash: HashAlg, key: &[u8], out_len: usize) -> Result<HmacOp> {
        if out_len == 0 || out_len > hash.output_len() {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(HmacOp {
            state: Some(State::new(hash, key)?),
            out_len,
        })
    }

    fn state(&mut self) -> Result<&mut State> {
        self.state.as_mut().ok_or(Error::OperationNotInitialized)
    }
}

impl SignOp for HmacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.state()?.update(data);
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let state = self.state.take().ok_or(Error::OperationNotInitialized)?;
        let full = state.finalize();
        full.get(..self.out_len)
            .map(<[u8]>::to_vec)
            .ok_or(Error::GeneralError)
    }

    fn sign_len(&self) -> usize {
        self.out_len
    }
}

impl VerifyOp for HmacOp {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.state()?.update(data);
        Ok(())
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.out_len {
            return Err(Error::SignatureLenRange);
        }
        let state = self.state.take().ok_or(Error::OperationNotInitialized)?;
        if state.verify_truncated(signature) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const RFC4231_1_SHA256: &str =
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";

    #[test]
    fn rfc4231_case1_sha256() {
        let key = [0x0b; 20];
        let mut op = HmacOp::new(HashAlg::Sha256, &key, 32).unwrap();
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
        let mut op = HmacOp::new(HashAlg::Sha512, &[0x0b; 20], 16).unwrap();
        SignOp::update(&mut op, b"Hi There").unwrap();
        assert_eq!(SignOp::finish(&mut op).unwrap(), expected[..16]);
    }

    #[test]
    fn verify_checks_length_and_value() {
        let key = [0x0b; 20];
        let tag = unhex(RFC4231_1_SHA256);
        let verify = |sig: &[u8], out_len: usize| {
            let mut op = HmacOp::new(HashAlg::Sha256, &key, out_len).unwrap();
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

    #[test]
    fn bad_out_len() {
        assert!(HmacOp::new(HashAlg::Sha1, b"k", 0).is_err());
        assert!(HmacOp::new(HashAlg::Sha1, b"k", 21).is_err());
    }
}
