//! EdDSA: CKM_EDDSA as pure Ed25519 (RFC 8032 §5.1; no parameter, or
//! CK_EDDSA_PARAMS without prehash or context) or Ed25519ph (phFlag set,
//! with a context of up to 255 bytes), and the CKM_EC_EDWARDS_KEY_PAIR_GEN
//! row. Pure Ed25519 hashes the message twice, so multi-part input is
//! buffered and signed in `finish`; Ed25519ph hashes it with SHA-512 as it
//! arrives. Ed25519ctx is refused when the parameter is read (params.rs).

use std::sync::Arc;

use cryptoki_sys::*;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha512};

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

/// The message as the variant needs it: buffered whole (pure Ed25519) or
/// hashed as it arrives (Ed25519ph, with its context).
enum Message {
    Pure(Input),
    Prehashed { hash: Sha512, context: Vec<u8> },
}

impl Message {
    /// The variant `mech`'s parameter asks for (params.rs checked it).
    fn for_mechanism(mech: &Mechanism) -> Result<Message> {
        match (mech.mech, &mech.params) {
            (CKM_EDDSA, Params::None) => Ok(Message::Pure(Input::new(None))),
            (CKM_EDDSA, Params::Ed25519ph { context }) => Ok(Message::Prehashed {
                hash: Sha512::new(),
                context: context.clone(),
            }),
            (CKM_EDDSA, _) => Err(Error::MechanismParamInvalid),
            _ => Err(Error::MechanismInvalid),
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Message::Pure(input) => input.update(data),
            Message::Prehashed { hash, .. } => {
                hash.update(data);
                Ok(())
            }
        }
    }
}

/// Starts an Ed25519 signature; the key must be an Ed25519 private key.
pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    let message = Message::for_mechanism(mech)?;
    if !matches!(*key, Key::EdPrivate(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(EddsaSign {
        key,
        message: Some(message),
    }))
}

/// Starts an Ed25519 verification; the key must be an Ed25519 public key.
pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    let message = Message::for_mechanism(mech)?;
    if !matches!(*key, Key::EdPublic(_)) {
        return Err(Error::KeyTypeInconsistent);
    }
    Ok(Box::new(EddsaVerify {
        key,
        message: Some(message),
    }))
}

/// The operation's message; None once the operation ended.
fn message(slot: &mut Option<Message>) -> Result<&mut Message> {
    slot.as_mut().ok_or(Error::OperationNotInitialized)
}

struct EddsaSign {
    key: Arc<Key>,
    message: Option<Message>,
}

impl SignOp for EddsaSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        message(&mut self.message)?.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let Key::EdPrivate(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        match self.message.take().ok_or(Error::OperationNotInitialized)? {
            Message::Pure(mut input) => Ok(k.sign(&input.take()?).to_bytes().to_vec()),
            Message::Prehashed { hash, context } => k
                .sign_prehashed(hash, Some(&context))
                .map(|s| s.to_bytes().to_vec())
                .map_err(|_| Error::FunctionFailed),
        }
    }

    fn sign_len(&self) -> usize {
        SIG_LEN
    }
}

struct EddsaVerify {
    key: Arc<Key>,
    message: Option<Message>,
}

impl VerifyOp for EddsaVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        message(&mut self.message)?.update(data)
    }

    /// Strict verification (RFC 8032 §5.1.7 with canonical S and no
    /// small-order keys), as libsodium and OpenSSL behave.
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        let bytes: &[u8; SIG_LEN] = signature.try_into().map_err(|_| Error::SignatureLenRange)?;
        let sig = ed25519_dalek::Signature::from_bytes(bytes);
        let Key::EdPublic(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let checked = match message {
            Message::Pure(mut input) => k.verify_strict(&input.take()?, &sig),
            Message::Prehashed { hash, context } => {
                k.verify_prehashed_strict(hash, Some(&context), &sig)
            }
        };
        checked.map_err(|_| Error::SignatureInvalid)
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

    fn ph(context: &[u8]) -> Mechanism {
        let raw = crate::mechanism::RawParam::Eddsa {
            prehash: true,
            context: context.to_vec(),
        };
        Mechanism::from_raw(CKM_EDDSA, &raw).unwrap()
    }

    /// RFC 8032 §7.3 (Ed25519ph, "abc"), signed in parts; a context
    /// changes the signature, and each verifies only under its own.
    #[test]
    fn ed25519ph_rfc8032_vector() {
        let (private, public) =
            pair("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let mut op = sign_init(&ph(b""), private.clone()).unwrap();
        op.update(b"a").unwrap();
        op.update(b"bc").unwrap();
        let sig = op.finish().unwrap();
        assert_eq!(
            sig,
            unhex(
                "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
                 31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
            )
        );
        let mut v = verify_init(&ph(b""), public.clone()).unwrap();
        v.update(b"abc").unwrap();
        assert_eq!(v.finish(&sig), Ok(()));
        // Pure Ed25519 over the same message is another signature.
        let mut v = verify_init(&mech(), public.clone()).unwrap();
        v.update(b"abc").unwrap();
        assert_eq!(v.finish(&sig), Err(Error::SignatureInvalid));
        let mut op = sign_init(&ph(b"ctx"), private).unwrap();
        op.update(b"abc").unwrap();
        let with_ctx = op.finish().unwrap();
        assert_ne!(with_ctx, sig);
        for (context, ok) in [(&b"ctx"[..], true), (&b"other"[..], false)] {
            let mut v = verify_init(&ph(context), public.clone()).unwrap();
            v.update(b"abc").unwrap();
            assert_eq!(v.finish(&with_ctx).is_ok(), ok);
        }
    }

    /// Ed25519ctx (context without prehash) and contexts over 255 bytes
    /// are refused when the parameter is read.
    #[test]
    fn ed25519ctx_and_long_contexts_refused() {
        let raw = |prehash, context: &[u8]| crate::mechanism::RawParam::Eddsa {
            prehash,
            context: context.to_vec(),
        };
        for (prehash, context) in [(false, &b"ctx"[..]), (true, &[0u8; 256][..])] {
            assert_eq!(
                Mechanism::from_raw(CKM_EDDSA, &raw(prehash, context)).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        assert!(Mechanism::from_raw(CKM_EDDSA, &raw(false, b"")).is_ok());
        assert!(Mechanism::from_raw(CKM_EDDSA, &raw(true, &[0u8; 255])).is_ok());
    }
}
