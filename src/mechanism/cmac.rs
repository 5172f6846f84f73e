//! AES-CMAC (RFC 4493, NIST SP 800-38B) signing and verification:
//! CKM_AES_CMAC gives the full 16-byte MAC, CKM_AES_CMAC_GENERAL the
//! leftmost 1..=16 bytes its parameter asks for. Verification compares in
//! constant time.
//!
//! In the aws-lc build the key's cached state is AWS-LC's CMAC (the
//! `AwsLc` variant, provider/symmetric.rs) for every AES key size.

use std::sync::Arc;

use ::aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, KeyInit, Mac};
use cryptoki_sys::*;

use super::aes::aes_parts;
use super::keys::Key;
use super::mac::{MacOp, MacState, copy_left};
use super::sign::{SignOp, VerifyOp};
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// AES key sizes, in bytes.
const AES_MIN: u64 = 16;
const AES_MAX: u64 = 32;
const MAC_LEN: usize = 16;

pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_AES_CMAC_GENERAL,
        AES_MIN,
        AES_MAX,
        CKF_SIGN | CKF_VERIFY,
    ),
    row(CKM_AES_CMAC, AES_MIN, AES_MAX, CKF_SIGN | CKF_VERIFY),
];

pub(super) fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().any(|r| r.mech == mech)
}

/// A CMAC in progress for one of the AES key sizes. Cloned from a key's
/// cached state (`Schedules::cmac`): cipher and subkeys are made once.
#[derive(Clone)]
pub(super) enum State {
    A128(Cmac<Aes128>),
    A192(Cmac<Aes192>),
    A256(Cmac<Aes256>),
    /// CMAC in AWS-LC (the aws-lc build); `false` once AWS-LC failed an
    /// update, so the MAC fails rather than covering part of the data.
    #[cfg(feature = "aws-lc")]
    AwsLc(crate::mechanism::provider::symmetric::CmacState, bool),
}

fn keyed<M: KeyInit>(key: &[u8]) -> Result<M> {
    M::new_from_slice(key).map_err(|_| Error::KeySizeRange)
}

impl State {
    pub(super) fn new(key: &[u8]) -> Result<State> {
        #[cfg(feature = "aws-lc")]
        {
            use crate::mechanism::provider::symmetric;
            if let Some(state) = symmetric::CmacState::new(key) {
                return Ok(State::AwsLc(state, true));
            }
            if !matches!(key.len(), 16 | 24 | 32) {
                return Err(Error::KeySizeRange);
            }
            symmetric::own_path()?;
        }
        Ok(match key.len() {
            16 => State::A128(keyed(key)?),
            24 => State::A192(keyed(key)?),
            32 => State::A256(keyed(key)?),
            _ => return Err(Error::KeySizeRange),
        })
    }
}

impl MacState for State {
    fn update(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m, ok) => *ok &= m.update(data),
            State::A128(m) => m.update(data),
            State::A192(m) => m.update(data),
            State::A256(m) => m.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            // An empty tag: MacOp reports it as a failure.
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m, ok) => match m.finalize() {
                Ok(tag) if ok => tag.as_ref().to_vec(),
                _ => Vec::new(),
            },
            State::A128(m) => m.finalize().into_bytes().to_vec(),
            State::A192(m) => m.finalize().into_bytes().to_vec(),
            State::A256(m) => m.finalize().into_bytes().to_vec(),
        }
    }

    fn finalize_into(self, out: &mut [u8]) -> bool {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m, ok) => match m.finalize() {
                Ok(tag) => ok && copy_left(out, tag.as_ref()),
                Err(_) => false,
            },
            State::A128(m) => copy_left(out, &m.finalize().into_bytes()),
            State::A192(m) => copy_left(out, &m.finalize().into_bytes()),
            State::A256(m) => copy_left(out, &m.finalize().into_bytes()),
        }
    }

    fn verify_truncated(self, tag: &[u8]) -> bool {
        match self {
            #[cfg(feature = "aws-lc")]
            State::AwsLc(m, ok) => match m.finalize() {
                Ok(full) => {
                    use subtle::ConstantTimeEq;
                    let same = full
                        .as_ref()
                        .get(..tag.len())
                        .is_some_and(|left| bool::from(left.ct_eq(tag)));
                    ok && same
                }
                Err(_) => false,
            },
            State::A128(m) => m.verify_truncated_left(tag).is_ok(),
            State::A192(m) => m.verify_truncated_left(tag).is_ok(),
            State::A256(m) => m.verify_truncated_left(tag).is_ok(),
        }
    }
}

/// Starts a CMAC for `mech` (full 16 bytes, or the GENERAL length).
fn cmac_op(mech: &Mechanism, key: &Key) -> Result<MacOp<State>> {
    let (value, sched) = aes_parts(key)?;
    let out_len = match (mech.mech, &mech.params) {
        (CKM_AES_CMAC, Params::None) => MAC_LEN,
        (CKM_AES_CMAC_GENERAL, Params::MacLen(n)) if (1..=MAC_LEN).contains(n) => *n,
        _ if handles(mech.mech) => return Err(Error::MechanismParamInvalid),
        _ => return Err(Error::MechanismInvalid),
    };
    Ok(MacOp::new(sched.cmac(value)?.clone(), out_len))
}

/// Starts a CMAC signature: KeyTypeInconsistent unless the key is an AES
/// secret key.
pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    Ok(Box::new(cmac_op(mech, &key)?))
}

pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    Ok(Box::new(cmac_op(mech, &key)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn aes(hex: &str) -> Arc<Key> {
        Arc::new(Key::secret(CKK_AES, &unhex(hex)).unwrap())
    }

    fn general(n: u64) -> Mechanism {
        Mechanism::parse(CKM_AES_CMAC_GENERAL, Some(&n.to_ne_bytes())).unwrap()
    }

    fn plain() -> Mechanism {
        Mechanism::parse(CKM_AES_CMAC, None).unwrap()
    }

    const MSG: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51
                       30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    /// RFC 4493 §4 (AES-128) and SP 800-38B D.3 (AES-256): message length
    /// in bytes and the MAC.
    const VECTORS: [(&str, [(usize, &str); 4]); 2] = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            [
                (0, "bb1d6929e95937287fa37d129b756746"),
                (16, "070a16b46b4d4144f79bdd9dd04a287c"),
                (40, "dfa66747de9ae63030ca32611497c827"),
                (64, "51f0bebf7e3b9d92fc49741779363cfe"),
            ],
        ),
        (
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            [
                (0, "028962f61b7bf89efc6b551f4667d983"),
                (16, "28a7023f452e8f82bd4bf28d8c37c35c"),
                (40, "aaf3d8f1de5640c232f5b169b9c911e6"),
                (64, "e1992190549f6ed5696a2c056c315410"),
            ],
        ),
    ];

    #[test]
    fn rfc4493_and_sp800_38b_vectors() {
        let msg = unhex(MSG);
        for (key, cases) in VECTORS {
            let key = aes(key);
            for (len, mac) in cases {
                let (data, mac) = (&msg[..len], unhex(mac));
                let mut s = sign_init(&plain(), key.clone()).unwrap();
                assert_eq!(s.sign_len(), 16);
                for part in data.chunks(7) {
                    s.update(part).unwrap();
                }
                assert_eq!(s.finish().unwrap(), mac);
                let mut v = verify_init(&plain(), key.clone()).unwrap();
                v.update(data).unwrap();
                v.finish(&mac).unwrap();
                // The general form truncates to the leftmost bytes.
                let mut s = sign_init(&general(4), key.clone()).unwrap();
                s.update(data).unwrap();
                assert_eq!(s.finish().unwrap(), mac[..4]);
                let mut v = verify_init(&general(4), key.clone()).unwrap();
                v.update(data).unwrap();
                v.finish(&mac[..4]).unwrap();
            }
        }
    }

    #[test]
    fn verify_failures() {
        let key = aes("2b7e151628aed2a6abf7158809cf4f3c");
        let mac = unhex("070a16b46b4d4144f79bdd9dd04a287c");
        let data = &unhex(MSG)[..16];
        let check = |m: &Mechanism, sig: &[u8]| {
            let mut v = verify_init(m, key.clone()).unwrap();
            v.update(data).unwrap();
            v.finish(sig)
        };
        assert_eq!(check(&plain(), &mac[..15]), Err(Error::SignatureLenRange));
        assert_eq!(
            check(&plain(), &[mac.clone(), vec![0]].concat()),
            Err(Error::SignatureLenRange)
        );
        let mut bad = mac.clone();
        bad[15] ^= 1;
        assert_eq!(check(&plain(), &bad), Err(Error::SignatureInvalid));
        assert_eq!(check(&general(8), &mac), Err(Error::SignatureLenRange));
        assert_eq!(check(&general(8), &bad[8..]), Err(Error::SignatureInvalid));
        assert_eq!(check(&general(8), &mac[..8]), Ok(()));
        // Finished operations stay finished.
        let mut v = verify_init(&plain(), key.clone()).unwrap();
        assert_eq!(v.finish(&bad), Err(Error::SignatureInvalid));
        assert_eq!(v.finish(&mac), Err(Error::OperationNotInitialized));
        assert_eq!(v.update(b"x"), Err(Error::OperationNotInitialized));
    }

    #[test]
    fn keys_and_params() {
        let generic = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap());
        assert_eq!(
            sign_init(&plain(), generic.clone()).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_init(&plain(), generic).err(),
            Some(Error::KeyTypeInconsistent)
        );
        let key = aes("2b7e151628aed2a6abf7158809cf4f3c");
        let no_len = Mechanism {
            mech: CKM_AES_CMAC_GENERAL,
            params: Params::None,
        };
        assert_eq!(
            sign_init(&no_len, key.clone()).err(),
            Some(Error::MechanismParamInvalid)
        );
        let too_long = Mechanism {
            mech: CKM_AES_CMAC_GENERAL,
            params: Params::MacLen(17),
        };
        assert_eq!(
            sign_init(&too_long, key.clone()).err(),
            Some(Error::MechanismParamInvalid)
        );
        assert!(Mechanism::parse(CKM_AES_CMAC_GENERAL, Some(&17u64.to_ne_bytes())).is_err());
        for r in ROWS {
            let info = super::super::info(r.mech).unwrap();
            assert_eq!(
                (info.min_key, info.max_key, info.flags),
                (16, 32, CKF_SIGN | CKF_VERIFY)
            );
        }
        assert!(handles(CKM_AES_CMAC) && !handles(CKM_SHA256_HMAC));
    }
}
