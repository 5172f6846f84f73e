//! Signatures with data recovery (C_SignRecover, C_VerifyRecover) for
//! CKM_RSA_PKCS (PKCS#1 v1.5 type-1 padding around the data itself, at
//! most k - 11 bytes) and CKM_RSA_X_509 (the raw RSA operation on at most
//! k bytes; offered only with the legacy RSA policy, `rsa_crypt.rs`).
//! Both are single-part: the signature is k bytes. A CKM_RSA_PKCS
//! signature with recovery over a DigestInfo is the same value C_Sign
//! with CKM_RSA_PKCS makes; C_Sign and C_Verify with CKM_RSA_X_509 (raw
//! RSA, legacy policy) are built here from the same raw operations.

use std::sync::Arc;

use cryptoki_sys::*;
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use super::keys::Key;
use super::provider;
use super::rsa::RsaScheme;
use super::rsa_crypt::{
    check_size, check_verify_size, private_key, public_key, raw_decrypt, raw_encrypt,
};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{Mechanism, Params};
use crate::error::{Error, Result};

/// PKCS#1 v1.5 padding: 00 01, at least 8 bytes of FF, 00.
const PKCS1_OVERHEAD: usize = 11;

/// One signature with recovery, or one recovery, in a single call.
pub trait RecoverOp: Send {
    /// At most how many bytes `run` returns (a length query's answer).
    fn out_len(&self) -> usize;
    /// Signs `input` (the signature), or recovers the data `input` (a
    /// signature) carries.
    fn run(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Pkcs1,
    Raw,
}

fn scheme(mech: &Mechanism) -> Result<Scheme> {
    let s = match mech.mech {
        CKM_RSA_PKCS => Scheme::Pkcs1,
        CKM_RSA_X_509 => Scheme::Raw,
        _ => return Err(Error::MechanismInvalid),
    };
    if mech.params != Params::None {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(s)
}

struct SignRecover {
    key: Arc<Key>,
    scheme: Scheme,
    k: usize,
}

impl RecoverOp for SignRecover {
    fn out_len(&self) -> usize {
        self.k
    }

    fn run(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let key = private_key(&self.key)?;
        match self.scheme {
            Scheme::Pkcs1 => {
                let room = self
                    .k
                    .checked_sub(PKCS1_OVERHEAD)
                    .ok_or(Error::KeySizeRange)?;
                if data.len() > room {
                    return Err(Error::DataLenRange);
                }
                // EM = 00 01 FF..FF 00 data (RFC 8017 9.2 step 5 with the
                // data in place of T), then RSASP1: the provider's raw
                // PKCS#1 v1.5 signature, as C_Sign with CKM_RSA_PKCS.
                provider::active()
                    .rsa_sign(key, RsaScheme::Pkcs1(None), data)
                    .map(Zeroizing::new)
            }
            Scheme::Raw => {
                if data.len() > self.k {
                    return Err(Error::DataLenRange);
                }
                // The data as an integer must be below the modulus.
                raw_decrypt(key, data).map_err(|e| match e {
                    Error::EncryptedDataInvalid | Error::EncryptedDataLenRange => {
                        Error::DataInvalid
                    }
                    other => other,
                })
            }
        }
    }
}

struct VerifyRecover {
    key: Arc<Key>,
    scheme: Scheme,
    k: usize,
}

impl RecoverOp for VerifyRecover {
    fn out_len(&self) -> usize {
        match self.scheme {
            Scheme::Pkcs1 => self.k.saturating_sub(PKCS1_OVERHEAD),
            Scheme::Raw => self.k,
        }
    }

    fn run(&mut self, sig: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sig.len() != self.k {
            return Err(Error::SignatureLenRange);
        }
        let key = public_key(&self.key)?;
        // RSAVP1; a signature not below the modulus is invalid.
        let em = Zeroizing::new(raw_encrypt(key, sig).map_err(|e| match e {
            Error::DataInvalid | Error::DataLenRange => Error::SignatureInvalid,
            other => other,
        })?);
        match self.scheme {
            Scheme::Raw => Ok(em),
            Scheme::Pkcs1 => {
                let [0x00, 0x01, rest @ ..] = em.as_slice() else {
                    return Err(Error::SignatureInvalid);
                };
                let pad = rest.iter().take_while(|b| **b == 0xff).count();
                match rest.get(pad..) {
                    Some([0x00, data @ ..]) if pad >= 8 => Ok(Zeroizing::new(data.to_vec())),
                    _ => Err(Error::SignatureInvalid),
                }
            }
        }
    }
}

/// C_SignRecoverInit: an RSA private key within the mechanism's sizes.
pub(super) fn sign_recover_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
    let scheme = scheme(mech)?;
    let k = private_key(&key)?.size();
    check_size(mech, &key)?;
    Ok(Box::new(SignRecover { key, scheme, k }))
}

/// C_VerifyRecoverInit: an RSA public key within the mechanism's sizes.
pub(super) fn verify_recover_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
    let scheme = scheme(mech)?;
    let k = public_key(&key)?.size();
    check_verify_size(mech, &key)?;
    Ok(Box::new(VerifyRecover { key, scheme, k }))
}

/// C_Sign with CKM_RSA_X_509 (legacy policy only): the raw RSA private
/// operation on the data as a k-byte integer, the same value
/// C_SignRecover makes. Single-part: the data (at most k bytes) is kept
/// until `finish`.
struct RawSign {
    inner: SignRecover,
    data: Zeroizing<Vec<u8>>,
}

impl SignOp for RawSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        if self.data.len().saturating_add(data.len()) > self.inner.k {
            return Err(Error::DataLenRange);
        }
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let data = std::mem::take(&mut self.data);
        let mut sig = self.inner.run(&data)?;
        Ok(std::mem::take(&mut *sig))
    }

    fn sign_len(&self) -> usize {
        self.inner.k
    }
}

/// C_Verify with CKM_RSA_X_509: the raw public operation on the k-byte
/// signature must give the data, left-padded with zeros to k bytes (the
/// data as an integer, as the signer took it).
struct RawVerify {
    inner: VerifyRecover,
    data: Vec<u8>,
}

impl VerifyOp for RawVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        if self.data.len().saturating_add(data.len()) > self.inner.k {
            return Err(Error::DataLenRange);
        }
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let recovered = self.inner.run(signature)?;
        let pad = self.inner.k.saturating_sub(self.data.len());
        let (zeros, value) = recovered
            .split_at_checked(pad)
            .ok_or(Error::SignatureInvalid)?;
        if zeros.iter().all(|b| *b == 0) && value == self.data.as_slice() {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// C_SignInit with CKM_RSA_X_509: an RSA private key within the sizes
/// (the policy's grant decides whether the mechanism signs at all).
pub(super) fn raw_sign_init(
    mech: &Mechanism,
    key: Arc<Key>,
    input: Option<&InputState>,
) -> Result<Box<dyn SignOp>> {
    if input.is_some() {
        // Raw RSA's buffered data is not saved (C_GetOperationState refuses).
        return Err(Error::SavedStateInvalid);
    }
    if scheme(mech)? != Scheme::Raw {
        return Err(Error::MechanismInvalid);
    }
    let k = private_key(&key)?.size();
    check_size(mech, &key)?;
    let inner = SignRecover {
        key,
        scheme: Scheme::Raw,
        k,
    };
    Ok(Box::new(RawSign {
        inner,
        data: Zeroizing::new(Vec::new()),
    }))
}

/// C_VerifyInit with CKM_RSA_X_509: an RSA public key within the sizes.
pub(super) fn raw_verify_init(
    mech: &Mechanism,
    key: Arc<Key>,
    input: Option<&InputState>,
) -> Result<Box<dyn VerifyOp>> {
    if input.is_some() {
        return Err(Error::SavedStateInvalid);
    }
    if scheme(mech)? != Scheme::Raw {
        return Err(Error::MechanismInvalid);
    }
    let k = public_key(&key)?.size();
    check_verify_size(mech, &key)?;
    let inner = VerifyRecover {
        key,
        scheme: Scheme::Raw,
        k,
    };
    Ok(Box::new(RawVerify {
        inner,
        data: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::generate_rsa;

    fn pair() -> (Arc<Key>, Arc<Key>) {
        let rsa = generate_rsa(2048, &[]).unwrap();
        let private = Key::rsa_private(
            &rsa.modulus,
            &rsa.public_exponent,
            &rsa.private_exponent,
            Some((&rsa.prime_1, &rsa.prime_2)),
        )
        .unwrap();
        (Arc::new(private.to_public().unwrap()), Arc::new(private))
    }

    fn mech(m: CK_MECHANISM_TYPE) -> Mechanism {
        Mechanism {
            mech: m,
            params: Params::None,
        }
    }

    #[test]
    fn pkcs1_round_trip_lengths_and_tampering() {
        crate::mechanism::rsa_crypt::allow_legacy_in_this_thread(true);
        let (public, private) = pair();
        let m = mech(CKM_RSA_PKCS);
        let mut sign = sign_recover_init(&m, private.clone()).unwrap();
        assert_eq!(sign.out_len(), 256);
        let sig = sign.run(b"recover me").unwrap();
        assert_eq!(sig.len(), 256);
        let mut verify = verify_recover_init(&m, public.clone()).unwrap();
        assert_eq!(verify.out_len(), 245);
        assert_eq!(verify.run(&sig).unwrap().as_slice(), b"recover me");
        // The longest data, and one byte more.
        assert!(sign.run(&[7; 245]).is_ok());
        assert_eq!(sign.run(&[7; 246]).err(), Some(Error::DataLenRange));
        let mut bad = sig.to_vec();
        bad[100] ^= 1;
        assert_eq!(verify.run(&bad).err(), Some(Error::SignatureInvalid));
        assert_eq!(
            verify.run(&sig[..255]).err(),
            Some(Error::SignatureLenRange)
        );
        assert_eq!(
            verify.run(&[0xff; 256]).err(),
            Some(Error::SignatureInvalid)
        );
        // Raw RSA: the data comes back as k bytes, leading zeros kept.
        let x = mech(CKM_RSA_X_509);
        let sig = sign_recover_init(&x, private.clone())
            .unwrap()
            .run(&[1, 2, 3])
            .unwrap();
        let back = verify_recover_init(&x, public.clone())
            .unwrap()
            .run(&sig)
            .unwrap();
        assert_eq!(back.len(), 256);
        assert_eq!(back[253..], [1, 2, 3]);
        assert!(back[..253].iter().all(|b| *b == 0));
        assert_eq!(
            sign_recover_init(&x, private.clone())
                .unwrap()
                .run(&[0xff; 256])
                .err(),
            Some(Error::DataInvalid)
        );
        // Keys the wrong way round.
        assert_eq!(
            sign_recover_init(&m, public).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_recover_init(&m, private).err(),
            Some(Error::KeyTypeInconsistent)
        );
        crate::mechanism::rsa_crypt::allow_legacy_in_this_thread(false);
    }
}
