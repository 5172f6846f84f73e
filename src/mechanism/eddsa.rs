//! EdDSA: CKM_EDDSA as pure Ed25519 (RFC 8032 §5.1; no parameter, or
//! CK_EDDSA_PARAMS without prehash or context) or Ed25519ph (phFlag set,
//! with a context of up to 255 bytes); on edwards448 keys Ed448 (§5.2; no
//! parameter, or phFlag clear with a context of up to 255 bytes) or
//! Ed448ph (phFlag set); and the CKM_EC_EDWARDS_KEY_PAIR_GEN row. Pure
//! EdDSA hashes the message twice, so multi-part input is buffered and
//! signed in `finish`; the prehash variants hash it as it arrives (SHA-512,
//! SHAKE256 to 64 bytes). Ed25519ctx (a context without prehash on an
//! Ed25519 key) is signed by `ed25519ctx.rs`, buffered as pure Ed25519.

use std::sync::Arc;

use cryptoki_sys::*;
use ed448_goldilocks::PreHasherXof;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha512};
use shake::Shake256;
use shake::digest::Update;

use super::curve448::{CURVE448_BITS, ED448_SIG_LEN};
use super::ed25519ctx;
use super::keys::{CURVE25519_BITS, Key};
use super::sign::{Input, SignOp, VerifyOp};
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// Ed25519 signature length (R || S).
const SIG_LEN: usize = 64;
/// Curve names and OIDs are both accepted in CKA_EC_PARAMS.
const ED_CAPS: CK_FLAGS = CKF_EC_NAMEDCURVE | CKF_EC_CURVENAME;

/// Key sizes are in bits: 255 for Ed25519, 448 for Ed448, as `Key::bits`
/// reports (PKCS#11 3.2 §6.3.14 allows exactly these two).
pub(super) const ROWS: &[MechInfo] = &[
    row(
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CURVE25519_BITS,
        CURVE448_BITS,
        CKF_GENERATE_KEY_PAIR | ED_CAPS,
    ),
    row(
        CKM_EDDSA,
        CURVE25519_BITS,
        CURVE448_BITS,
        CKF_SIGN | CKF_VERIFY | ED_CAPS,
    ),
];

/// Whether sign/verify of `mech` belongs here (key generation is the
/// object layer's, via `generate_edwards`).
#[cfg(test)]
fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    mech == CKM_EDDSA
}

/// The message as the variant needs it: buffered whole (pure Ed25519 and
/// Ed448, which hash it twice) or hashed as it arrives (Ed25519ph with
/// SHA-512, Ed448ph with SHAKE256), with the context the variant signs.
enum Message {
    Pure { input: Input, context: Vec<u8> },
    Sha512 { hash: Sha512, context: Vec<u8> },
    Shake256 { hash: Shake256, context: Vec<u8> },
}

impl Message {
    /// The variant `mech`'s parameter asks for (params.rs checked it) on
    /// a key of edwards448 (`ed448`) or edwards25519. PKCS#11 3.2 §6.3.14
    /// lists CK_EDDSA_PARAMS as "Required" for Ed448; without it the only
    /// Ed448 there is, pure with an empty context, is what we sign (RFC
    /// 8410 keys imply pure mode). A context without prehash on
    /// edwards25519 is Ed25519ctx (`ed25519ctx.rs`).
    fn for_key(mech: &Mechanism, ed448: bool) -> Result<Message> {
        if mech.mech != CKM_EDDSA {
            return Err(Error::MechanismInvalid);
        }
        match (&mech.params, ed448) {
            (Params::None, _) => Ok(Message::Pure {
                input: Input::new(None),
                context: Vec::new(),
            }),
            (Params::EddsaContext { context }, _) => Ok(Message::Pure {
                input: Input::new(None),
                context: context.clone(),
            }),
            (Params::Ed25519ph { context }, false) => Ok(Message::Sha512 {
                hash: Sha512::new(),
                context: context.clone(),
            }),
            (Params::Ed25519ph { context }, true) => Ok(Message::Shake256 {
                hash: Shake256::default(),
                context: context.clone(),
            }),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Message::Pure { input, .. } => input.update(data),
            Message::Sha512 { hash, .. } => {
                Digest::update(hash, data);
                Ok(())
            }
            Message::Shake256 { hash, .. } => {
                Update::update(hash, data);
                Ok(())
            }
        }
    }
}

/// Ed448ph's PH(M): SHAKE256(M, 64) (RFC 8032 §5.2).
fn shake_prehash(hash: Shake256) -> PreHasherXof<Shake256> {
    PreHasherXof::new(hash)
}

/// Starts an EdDSA signature; the key must be an Ed25519 or Ed448 private
/// key.
pub(super) fn sign_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn SignOp>> {
    let ed448 = match *key {
        Key::EdPrivate(_) => false,
        Key::Ed448Private(_) => true,
        _ => return Err(Error::KeyTypeInconsistent),
    };
    let message = Message::for_key(mech, ed448)?;
    Ok(Box::new(EddsaSign {
        key,
        message: Some(message),
    }))
}

/// Starts an EdDSA verification; the key must be an Ed25519 or Ed448
/// public key.
pub(super) fn verify_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn VerifyOp>> {
    let ed448 = match *key {
        Key::EdPublic(_) => false,
        Key::Ed448Public(_) => true,
        _ => return Err(Error::KeyTypeInconsistent),
    };
    let message = Message::for_key(mech, ed448)?;
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
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        match (&*self.key, message) {
            (Key::EdPrivate(k), Message::Pure { mut input, context }) => {
                if context.is_empty() {
                    Ok(k.sign(&input.take()?).to_bytes().to_vec())
                } else {
                    ed25519ctx::sign(k, &context, &input.take()?)
                }
            }
            (Key::EdPrivate(k), Message::Sha512 { hash, context }) => k
                .sign_prehashed(hash, Some(&context))
                .map(|s| s.to_bytes().to_vec())
                .map_err(|_| Error::FunctionFailed),
            (Key::Ed448Private(k), Message::Pure { mut input, context }) => k
                .sign_ctx(&context, &input.take()?)
                .map(|s| s.to_bytes().to_vec())
                .map_err(|_| Error::FunctionFailed),
            (Key::Ed448Private(k), Message::Shake256 { hash, context }) => k
                .sign_prehashed(Some(&context), shake_prehash(hash))
                .map(|s| s.to_bytes().to_vec())
                .map_err(|_| Error::FunctionFailed),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    fn sign_len(&self) -> usize {
        match *self.key {
            Key::Ed448Private(_) => ED448_SIG_LEN,
            _ => SIG_LEN,
        }
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
    /// small-order keys), as libsodium and OpenSSL behave; Ed448 as RFC
    /// 8032 §5.2.7 with canonical S (the crate's checks).
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let message = self.message.take().ok_or(Error::OperationNotInitialized)?;
        if let Key::Ed448Public(k) = &*self.key {
            if signature.len() != ED448_SIG_LEN {
                return Err(Error::SignatureLenRange);
            }
            let sig = ed448_goldilocks::Signature::try_from(signature)
                .map_err(|_| Error::SignatureInvalid)?;
            let key: ed448_goldilocks::VerifyingKey = **k;
            let checked = match message {
                Message::Pure { mut input, context } => {
                    key.verify_ctx(&sig, &context, &input.take()?)
                }
                Message::Shake256 { hash, context } => {
                    key.verify_prehashed(&sig, Some(&context), shake_prehash(hash))
                }
                Message::Sha512 { .. } => return Err(Error::KeyTypeInconsistent),
            };
            return checked.map_err(|_| Error::SignatureInvalid);
        }
        let bytes: &[u8; SIG_LEN] = signature.try_into().map_err(|_| Error::SignatureLenRange)?;
        let sig = ed25519_dalek::Signature::from_bytes(bytes);
        let Key::EdPublic(k) = &*self.key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let checked = match message {
            Message::Pure { mut input, context } if !context.is_empty() => {
                return ed25519ctx::verify(k, &context, &input.take()?, bytes);
            }
            Message::Pure { mut input, .. } => k.verify_strict(&input.take()?, &sig),
            Message::Sha512 { hash, context } => {
                k.verify_prehashed_strict(hash, Some(&context), &sig)
            }
            Message::Shake256 { .. } => return Err(Error::KeyTypeInconsistent),
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

    /// Ed25519ctx (context without prehash on an Ed25519 key) signs with
    /// its context (multi-part input buffered as pure Ed25519's), never as
    /// plain Ed25519; contexts over 255 bytes are refused when the
    /// parameter is read.
    #[test]
    fn ed25519ctx_and_long_contexts() {
        let raw = |prehash, context: &[u8]| crate::mechanism::RawParam::Eddsa {
            prehash,
            context: context.to_vec(),
        };
        for prehash in [false, true] {
            assert_eq!(
                Mechanism::from_raw(CKM_EDDSA, &raw(prehash, &[0u8; 256])).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        assert!(Mechanism::from_raw(CKM_EDDSA, &raw(false, b"")).is_ok());
        assert!(Mechanism::from_raw(CKM_EDDSA, &raw(true, &[0u8; 255])).is_ok());
        let ctx = Mechanism::from_raw(CKM_EDDSA, &raw(false, b"ctx")).unwrap();
        let pure = Mechanism::from_raw(CKM_EDDSA, &raw(false, b"")).unwrap();
        let (private, public) =
            pair("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let mut op = sign_init(&ctx, private.clone()).unwrap();
        op.update(b"ab").unwrap();
        op.update(b"c").unwrap();
        let sig = op.finish().unwrap();
        let mut op = sign_init(&pure, private).unwrap();
        op.update(b"abc").unwrap();
        assert_ne!(op.finish().unwrap(), sig, "not plain Ed25519");
        for (m, ok) in [(&ctx, true), (&pure, false)] {
            let mut v = verify_init(m, public.clone()).unwrap();
            v.update(b"abc").unwrap();
            assert_eq!(v.finish(&sig).is_ok(), ok);
        }
    }

    fn ed448_pair(seed: &str) -> (Arc<Key>, Arc<Key>) {
        let params = crate::mechanism::Alg448::Ed448.ec_params();
        let private = Key::edwards_private(&params, &unhex(seed)).unwrap();
        let public = private.to_public().unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn with(prehash: bool, context: &[u8]) -> Mechanism {
        let raw = crate::mechanism::RawParam::Eddsa {
            prehash,
            context: context.to_vec(),
        };
        Mechanism::from_raw(CKM_EDDSA, &raw).unwrap()
    }

    /// RFC 8032 §7.4 (Ed448: 1 octet, with the context "foo") and §7.5
    /// (Ed448ph, "abc"), signed in parts; each verifies only as itself.
    #[test]
    fn ed448_rfc8032_vectors() {
        let (private, public) = ed448_pair(
            "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a\
             fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
        );
        assert_eq!(
            public.ec_point_der().unwrap()[2..],
            unhex(
                "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086\
                 6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480"
            )
        );
        let mut op = sign_init(&with(false, b"foo"), private.clone()).unwrap();
        assert_eq!(op.sign_len(), 114);
        op.update(&[0x03]).unwrap();
        let sig = op.finish().unwrap();
        assert_eq!(
            sig,
            unhex(
                "d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2\
                 151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da\
                 1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d\
                 5428407e85dcbc98a49155c13764e66c3c00"
            )
        );
        let mut v = verify_init(&with(false, b"foo"), public.clone()).unwrap();
        v.update(&[0x03]).unwrap();
        assert_eq!(v.finish(&sig), Ok(()));
        let mut v = verify_init(&mech(), public.clone()).unwrap();
        v.update(&[0x03]).unwrap();
        assert_eq!(v.finish(&sig), Err(Error::SignatureInvalid));
        let mut v = verify_init(&mech(), public.clone()).unwrap();
        v.update(&[0x03]).unwrap();
        assert_eq!(v.finish(&sig[..113]), Err(Error::SignatureLenRange));

        let (private, public) = ed448_pair(
            "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42\
             ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49",
        );
        let mut op = sign_init(&with(true, b""), private).unwrap();
        op.update(b"a").unwrap();
        op.update(b"bc").unwrap();
        let sig = op.finish().unwrap();
        assert_eq!(
            sig,
            unhex(
                "822f6901f7480f3d5f562c592994d9693602875614483256505600bbc281ae38\
                 1f54d6bce2ea911574932f52a4e6cadd78769375ec3ffd1b801a0d9b3f4030cd\
                 433964b6457ea39476511214f97469b57dd32dbc560a9a94d00bff07620464a3\
                 ad203df7dc7ce360c3cd3696d9d9fab90f00"
            )
        );
        let mut v = verify_init(&with(true, b""), public.clone()).unwrap();
        v.update(b"abc").unwrap();
        assert_eq!(v.finish(&sig), Ok(()));
        let mut v = verify_init(&mech(), public).unwrap();
        v.update(b"abc").unwrap();
        assert_eq!(v.finish(&sig), Err(Error::SignatureInvalid));
    }

    /// Ed448 keys: the other curve's keys and public/private mix-ups are
    /// CKR_KEY_TYPE_INCONSISTENT; the rows cover 448 bits.
    #[test]
    fn ed448_key_types_and_rows() {
        let (private, public) = ed448_pair(&"11".repeat(57));
        assert_eq!(
            sign_init(&mech(), public.clone()).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            verify_init(&mech(), private.clone()).err(),
            Some(Error::KeyTypeInconsistent)
        );
        let x = Arc::new(
            Key::montgomery_private(&crate::mechanism::Alg448::X448.ec_params(), &[9; 56]).unwrap(),
        );
        assert_eq!(
            sign_init(&mech(), x).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(public.bits(), 448);
        for m in [CKM_EDDSA, CKM_EC_EDWARDS_KEY_PAIR_GEN] {
            let row = info(m).unwrap();
            assert!(row.key_size_ok(448) && row.key_size_ok(255));
        }
    }
}
