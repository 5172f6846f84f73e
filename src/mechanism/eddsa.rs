//! EdDSA: CKM_EDDSA as pure Ed25519 (RFC 8032 §5.1; no context, no
//! prehash) and the CKM_EC_EDWARDS_KEY_PAIR_GEN row. Pure Ed25519 hashes
//! the message twice, so multi-part input is buffered and signed in
//! `finish`.

use std::sync::Arc;

use cryptoki_sys::*;
use ed25519_dalek::Signer;

use super::keys::{CURVE25519_BITS, Key};
use super::sign::{Input, SignOp, VerifyOp};
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// Ed25519 signature length (R || S).
const SIG_LEN: usize = 64;
/// Curve names and OIDs are both accepted in CKA_EC_PARAMS.
const ED_CAPS: CK_FLAGS = CKF_EC_NAMEDCURVE | CKF_EC_CURVENAME;

/// Key sizes are in bits: 255 for Ed25519, as `Key::bits` reports.
pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CURVE25519_BITS,
        CURVE25519_BITS,
        CKF_GENERATE_KEY_PAIR | ED_CAPS,
    ),
    row(
        CKM_EDDSA,
        CURVE25519_BITS,
        CURVE25519_BITS,
        CKF_SIGN | CKF_VERIFY | ED_CAPS,
    ),
];

/// Whether sign/verify of `mech` belongs here (key generation is the
/// object layer's, via `generate_edwards`).
#[cfg(test)]
fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    mech == CKM_EDDSA
}

/// Pure Ed25519 takes no parameter (the ABI layer already refused
/// Ed25519ctx/ph parameters).
fn check_params(mech: &Mechanism) -> Result<()> {
    match (mech.mech, &mech.params) {
        (CKM_EDDSA, Params::None) => Ok(()),
        (CKM_EDDSA, _) => Err(Error::MechanismParamInvalid),
        _ => Err(Error::MechanismInvalid),
    }
}

/// Starts an Ed25519 signature; the key must be an Ed25519 private key.
pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    check_params(mech)?;
    if !matches!(*key, Key::EdPrivate(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(EddsaSign {
        key,
        input: Input::new(None),
    }))
}

/// Starts an Ed25519 verification; the key must be an Ed25519 public key.
pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    check_params(mech)?;
    if !matches!(*key, Key::EdPublic(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(EddsaVerify {
        key,
        input: Input::new(None),
    }))
}

struct EddsaSign {
    key: Arc<Key>,
    input: Input,
}

impl SignOp for EddsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let message = self.input.take()?;
        match &*self.key {
            Key::EdPrivate(k) => Ok(k.sign(&message).to_bytes().to_vec()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    fn sign_len(&self) -> usize {
        SIG_LEN
    }
}

struct EddsaVerify {
    key: Arc<Key>,
    input: Input,
}

impl VerifyOp for EddsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.input.update(data)
    }

    /// Strict verification (RFC 8032 §5.1.7 with canonical S and no
    /// small-order keys), as libsodium and OpenSSL behave.
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.input.take()?;
        let bytes: &[u8; SIG_LEN] = signature.try_into().map_err(|_| Error::SignatureLenRange)?;
        let sig = ed25519_dalek::Signature::from_bytes(bytes);
        match &*self.key {
            Key::EdPublic(k) => k
                .verify_strict(&message, &sig)
                .map_err(|_| Error::SignatureInvalid),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::curve25519::Alg25519;
    use crate::mechanism::{Curve, generate_ec, info, sign_init as any_sign_init};
    use crate::test_util::unhex;

    fn mech() -> Mechanism {
        Mechanism::parse(CKM_EDDSA, None).unwrap()
    }

    fn pair(seed: &str) -> (Arc<Key>, Arc<Key>) {
        let params = Alg25519::Ed25519.ec_params();
        let private = Key::edwards_private(&params, &unhex(seed)).unwrap();
        let public = private.to_public().unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn verify(key: &Arc<Key>, parts: &[&[u8]], sig: &[u8]) -> Result<()> {
        let mut op = verify_init(&mech(), key.clone())?;
        for p in parts {
            op.update(p)?;
        }
        op.finish(sig)
    }

    /// RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte).
    #[test]
    fn rfc8032_vectors() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
                 5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, msg, sig) in cases {
            let (private, public) = pair(seed);
            let (msg, sig) = (unhex(msg), unhex(sig));
            // Through the generic dispatch, as sessions call it.
            let mut op = any_sign_init(&mech(), private.clone()).unwrap();
            assert_eq!(op.sign_len(), 64);
            op.update(&msg).unwrap();
            assert_eq!(op.finish().unwrap(), sig);
            assert_eq!(verify(&public, &[&msg], &sig), Ok(()));
        }
    }

    #[test]
    fn multipart_and_failures() {
        let (private, public) =
            pair("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        let mut op = sign_init(&mech(), private.clone()).unwrap();
        op.update(b"hello ").unwrap();
        op.update(b"world").unwrap();
        let sig = op.finish().unwrap();
        assert_eq!(op.finish().unwrap_err(), Error::OperationNotInitialized);
        assert_eq!(verify(&public, &[b"hello world"], &sig), Ok(()));
        assert_eq!(verify(&public, &[b"hello", b" world"], &sig), Ok(()));
        assert_eq!(
            verify(&public, &[b"hello world!"], &sig),
            Err(Error::SignatureInvalid)
        );
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(
            verify(&public, &[b"hello world"], &bad),
            Err(Error::SignatureInvalid)
        );
        assert_eq!(
            verify(&public, &[b"hello world"], &sig[..63]),
            Err(Error::SignatureLenRange)
        );
        let mut long = sig.clone();
        long.push(0);
        assert_eq!(
            verify(&public, &[b"hello world"], &long),
            Err(Error::SignatureLenRange)
        );
    }

    #[test]
    fn key_types_and_rows() {
        let (private, public) =
            pair("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let parts = generate_ec(&Curve::P256.ec_params()).unwrap();
        let ec = Arc::new(Key::ec_private(&parts.ec_params, &parts.private_value).unwrap());
        let x = Arc::new(Key::montgomery_private(&Alg25519::X25519.ec_params(), &[9; 32]).unwrap());
        for key in [public.clone(), ec, x] {
            assert_eq!(
                sign_init(&mech(), key).err(),
                Some(Error::KeyTypeInconsistent)
            );
        }
        assert_eq!(
            verify_init(&mech(), private).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert!(handles(CKM_EDDSA));
        assert!(!handles(CKM_ECDSA));
        let row = info(CKM_EDDSA).unwrap();
        assert!(row.key_size_ok(public.bits()));
        assert_eq!(row.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
        assert_eq!(
            info(CKM_EC_EDWARDS_KEY_PAIR_GEN).unwrap().flags & CKF_GENERATE_KEY_PAIR,
            CKF_GENERATE_KEY_PAIR
        );
        // A parameter on pure EdDSA is refused.
        assert_eq!(
            Mechanism::parse(CKM_EDDSA, Some(&[1])).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
