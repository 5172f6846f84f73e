//! AES: the mechanism rows, the key check, and the dispatch from a mechanism
//! to the ECB/CBC/CBC_PAD/CTR modes (`aes_modes`), GCM (`aes_aead`) and the
//! SP 800-38F key wraps (`aes_keywrap`), for C_Encrypt/C_Decrypt and for
//! C_WrapKey/C_UnwrapKey.
//!
//! Wrapping rules (PKCS#11 3.0 §2.10/§2.16), and the codes chosen where the
//! spec leaves a choice:
//! - ECB and CBC wrap only material that is a whole number of blocks: the
//!   spec would zero-pad, but the unwrapping side could not then tell a
//!   24-byte key from a 32-byte one, so other lengths are
//!   CKR_KEY_NOT_WRAPPABLE.
//! - CBC_PAD and GCM wrap anything (GCM output is ciphertext || tag).
//! - CKM_AES_KEY_WRAP needs a multiple of 8 bytes, at least 16
//!   (CKR_KEY_NOT_WRAPPABLE when wrapping, CKR_DATA_LEN_RANGE when
//!   encrypting); KWP and _PAD take any non-empty input.
//! - Unwrapping: an impossible length is CKR_WRAPPED_KEY_LEN_RANGE, a
//!   failed integrity check, tag or padding CKR_WRAPPED_KEY_INVALID.
//! - A wrapping key that is not an AES secret key is
//!   CKR_KEY_TYPE_INCONSISTENT (callers map it to the wrapping/unwrapping
//!   variant); an AES key of another length than 16/24/32 bytes is
//!   CKR_KEY_SIZE_RANGE.

use std::sync::Arc;

use ::aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use ::aes::{Aes128, Aes192, Aes256};
use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::aes_aead::Gcm;
use super::aes_keywrap::{KeyWrapOp, WrapKind};
use super::aes_modes::{BlockModeOp, CtrOp};
use super::cipher::CipherOp;
use super::keys::Key;
use super::schedule::Schedules;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// AES key sizes in bytes (the unit PKCS#11 uses for AES mechanisms).
const AES_MIN: u64 = 16;
const AES_MAX: u64 = 32;
const CRYPT: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const CRYPT_WRAP: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP;

/// GCM also serves the message-based calls (PKCS#11 3.0 §5.10, §5.11,
/// `api/message.rs`), which build one GCM operation per message.
const MESSAGE: CK_FLAGS = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;

/// The AES cipher and wrap mechanisms. Key sizes are in bytes.
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_AES_ECB, AES_MIN, AES_MAX, CRYPT_WRAP),
    row(CKM_AES_CBC, AES_MIN, AES_MAX, CRYPT_WRAP),
    row(CKM_AES_CBC_PAD, AES_MIN, AES_MAX, CRYPT_WRAP),
    row(CKM_AES_CTR, AES_MIN, AES_MAX, CRYPT),
    row(CKM_AES_GCM, AES_MIN, AES_MAX, CRYPT_WRAP | MESSAGE),
];

/// AES key wrap (RFC 3394 and RFC 5649), its own family in the registry
/// (a wrap is one call, `aes_keywrap`), the same single-part cipher here.
pub(super) const KW_ROWS: &[MechInfo] = &[
    row(CKM_AES_KEY_WRAP, AES_MIN, AES_MAX, CRYPT_WRAP),
    row(CKM_AES_KEY_WRAP_PAD, AES_MIN, AES_MAX, CRYPT_WRAP),
    row(CKM_AES_KEY_WRAP_KWP, AES_MIN, AES_MAX, CRYPT_WRAP),
];

#[cfg(test)]
fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().chain(KW_ROWS).any(|r| r.mech == mech)
}

/// The value of an AES secret key: KeyTypeInconsistent for any other key,
/// KeySizeRange for a length AES does not have.
pub(super) fn aes_key(key: &Key) -> Result<&[u8]> {
    aes_parts(key).map(|(value, _)| value)
}

/// The value of an AES secret key and its cached schedules (same checks
/// as [`aes_key`]).
pub(super) fn aes_parts(key: &Key) -> Result<(&[u8], &Schedules)> {
    match key {
        Key::Secret {
            key_type,
            value,
            sched,
        } if *key_type == CKK_AES => {
            if matches!(value.len(), 16 | 24 | 32) {
                Ok((value, sched))
            } else {
                Err(Error::KeySizeRange)
            }
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The AES block cipher for one of the three key sizes. The round keys are
/// zeroized on drop (the `aes` crate's `zeroize` feature). Shared by a
/// key's cached schedule and its operations (`Schedules::aes`), never
/// copied.
pub(super) enum AesCipher {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

pub(super) const BLOCK: usize = 16;

impl AesCipher {
    pub(super) fn new(key: &[u8]) -> Result<AesCipher> {
        let size = |_| Error::KeySizeRange;
        Ok(match key.len() {
            16 => AesCipher::A128(Aes128::new_from_slice(key).map_err(size)?),
            24 => AesCipher::A192(Aes192::new_from_slice(key).map_err(size)?),
            32 => AesCipher::A256(Aes256::new_from_slice(key).map_err(size)?),
            _ => return Err(Error::KeySizeRange),
        })
    }

    /// The cipher of an AES secret key, from its cached schedule (built
    /// once per key, shared, never copied).
    pub(super) fn for_key(key: &Key) -> Result<Arc<AesCipher>> {
        let (value, sched) = aes_parts(key)?;
        sched.aes(value).cloned()
    }

    pub(super) fn encrypt_block(&self, block: &mut [u8; BLOCK]) {
        let block: &mut Array<u8, _> = block.into();
        match self {
            AesCipher::A128(c) => c.encrypt_block(block),
            AesCipher::A192(c) => c.encrypt_block(block),
            AesCipher::A256(c) => c.encrypt_block(block),
        }
    }

    pub(super) fn decrypt_block(&self, block: &mut [u8; BLOCK]) {
        let block: &mut Array<u8, _> = block.into();
        match self {
            AesCipher::A128(c) => c.decrypt_block(block),
            AesCipher::A192(c) => c.decrypt_block(block),
            AesCipher::A256(c) => c.decrypt_block(block),
        }
    }

    /// Encrypts the whole blocks of `data` in place (several at a time
    /// where the CPU allows); a trailing partial block is left untouched.
    pub(super) fn encrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        match self {
            AesCipher::A128(c) => c.encrypt_blocks(blocks),
            AesCipher::A192(c) => c.encrypt_blocks(blocks),
            AesCipher::A256(c) => c.encrypt_blocks(blocks),
        }
    }

    /// Decrypts the whole blocks of `data` in place.
    pub(super) fn decrypt_blocks(&self, data: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        match self {
            AesCipher::A128(c) => c.decrypt_blocks(blocks),
            AesCipher::A192(c) => c.decrypt_blocks(blocks),
            AesCipher::A256(c) => c.decrypt_blocks(blocks),
        }
    }
}

/// The cipher operation for `mech` in one direction, from the key's cached
/// schedules.
#[cfg(not(feature = "aws-lc"))]
fn make_op(mech: &Mechanism, key: &Key, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    let (value, sched) = aes_parts(key)?;
    let cipher = sched.aes(value)?.clone();
    let bad = Error::MechanismParamInvalid;
    let iv16 = |iv: &[u8]| <[u8; BLOCK]>::try_from(iv).map_err(|_| bad);
    Ok(match (mech.mech, &mech.params) {
        (CKM_AES_ECB, Params::None) => Box::new(BlockModeOp::new(cipher, None, false, encrypt)),
        (CKM_AES_CBC, Params::Iv(iv)) => {
            Box::new(BlockModeOp::new(cipher, Some(iv16(iv)?), false, encrypt))
        }
        (CKM_AES_CBC_PAD, Params::Iv(iv)) => {
            Box::new(BlockModeOp::new(cipher, Some(iv16(iv)?), true, encrypt))
        }
        (
            CKM_AES_CTR,
            Params::Ctr {
                counter_bits,
                block,
            },
        ) => Box::new(CtrOp::new(cipher, *counter_bits, *block)?),
        (CKM_AES_GCM, Params::Gcm { iv, aad, tag_len }) => {
            let ghash = sched.ghash(value)?.clone();
            let gcm = Gcm::new(cipher, ghash, iv, aad, *tag_len, encrypt)?;
            // The common shape (96-bit IV, full tag) also gets the crate's
            // fused single-part path.
            match <&[u8; super::gcm_fast::IV]>::try_from(iv.as_slice()) {
                Ok(iv) if *tag_len == super::gcm_fast::TAG => {
                    Box::new(gcm.with_fast(sched.gcm(value)?.clone(), *iv, aad))
                }
                _ => Box::new(gcm),
            }
        }
        (CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP | CKM_AES_KEY_WRAP_PAD, params) => {
            let kind = WrapKind::new(mech.mech, params)?;
            Box::new(KeyWrapOp::new(cipher, kind, encrypt))
        }
        _ => return Err(bad),
    })
}

/// The cipher operation of the aws-lc build: the same operations, holding the
/// key's aws-lc form where that build runs the mode in aws-lc
/// (provider/symmetric.rs).
#[cfg(feature = "aws-lc")]
fn make_op(mech: &Mechanism, key: &Key, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    use super::provider::symmetric::{Mode, mode_in_aws_lc};
    let (value, sched) = aes_parts(key)?;
    let cipher = sched.aes(value)?.clone();
    let bad = Error::MechanismParamInvalid;
    let iv16 = |iv: &[u8]| <[u8; BLOCK]>::try_from(iv).map_err(|_| bad);
    let lc = |mode| -> Result<_> {
        Ok(if mode_in_aws_lc(mode) {
            Some(sched.aws_lc_aes(value)?.clone())
        } else {
            None
        })
    };
    let block_mode = |iv: Option<[u8; BLOCK]>, pad| -> Result<Box<dyn CipherOp>> {
        let mode = if iv.is_some() { Mode::Cbc } else { Mode::Ecb };
        let op = BlockModeOp::new(cipher.clone(), iv, pad, encrypt);
        Ok(match lc(mode)? {
            Some(lc) => Box::new(op.with_aws_lc(lc)),
            None => Box::new(op),
        })
    };
    Ok(match (mech.mech, &mech.params) {
        (CKM_AES_ECB, Params::None) => block_mode(None, false)?,
        (CKM_AES_CBC, Params::Iv(iv)) => block_mode(Some(iv16(iv)?), false)?,
        (CKM_AES_CBC_PAD, Params::Iv(iv)) => block_mode(Some(iv16(iv)?), true)?,
        (
            CKM_AES_CTR,
            Params::Ctr {
                counter_bits,
                block,
            },
        ) => {
            let op = CtrOp::new(cipher.clone(), *counter_bits, *block)?;
            match lc(Mode::Ctr)? {
                Some(lc) => Box::new(op.with_aws_lc(lc)),
                None => Box::new(op),
            }
        }
        (CKM_AES_GCM, Params::Gcm { iv, aad, tag_len }) => {
            let fast = <&[u8; super::gcm_fast::IV]>::try_from(iv.as_slice())
                .ok()
                .filter(|_| *tag_len == super::gcm_fast::TAG);
            // The FIPS build never runs the own GCM code (its paths are
            // refused), so it derives no GHASH key outside AWS-LC: a
            // placeholder stands in.
            let ghash = if super::provider::FIPS {
                ghash::GHash::new(&ghash::Key::default())
            } else {
                sched.ghash(value)?.clone()
            };
            let gcm = Gcm::new(cipher.clone(), ghash, iv, aad, *tag_len, encrypt)?;
            match fast {
                Some(iv) => Box::new(gcm.with_fast(sched.gcm(value)?.clone(), *iv, aad)),
                None => Box::new(gcm),
            }
        }
        (CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP | CKM_AES_KEY_WRAP_PAD, params) => {
            let kind = WrapKind::new(mech.mech, params)?;
            let keys = sched.aws_lc_aes(value)?.clone();
            Box::new(KeyWrapOp::new(cipher.clone(), kind, encrypt).with_aws_lc(keys))
        }
        _ => return Err(bad),
    })
}

pub(super) fn encrypt_init(mech: &Mechanism, key: &Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, key, true)
}

pub(super) fn decrypt_init(mech: &Mechanism, key: &Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, key, false)
}

/// Runs a whole single-part operation into one zeroizing buffer, sized up
/// front so no partial copy of key material is left behind by a regrowth.
fn run(op: &mut dyn CipherOp, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let room = input
        .len()
        .checked_add(2 * BLOCK)
        .ok_or(Error::DataLenRange)?;
    // The aws-lc build: a fresh operation's one-shot path first (GCM
    // encryption runs in aws-lc only there).
    #[cfg(feature = "aws-lc")]
    if let Some(len) = op.single_len(input.len()) {
        let mut out = Zeroizing::new(vec![0u8; len]);
        if let Some(n) = op.single_into(input, &mut out)? {
            out.truncate(n);
            return Ok(out);
        }
    }
    let mut out = Zeroizing::new(Vec::with_capacity(room));
    let part = Zeroizing::new(op.update(input)?);
    out.extend_from_slice(&part);
    let part = Zeroizing::new(op.finish()?);
    out.extend_from_slice(&part);
    Ok(out)
}

/// Wraps `material` (a raw secret value or PKCS#8 DER) under an AES key.
pub(super) fn wrap(mech: &Mechanism, key: &Key, material: &[u8]) -> Result<Vec<u8>> {
    if mech.mech == CKM_AES_CTR {
        return Err(Error::MechanismInvalid);
    }
    aes_key(key)?;
    let whole_blocks = material.len().is_multiple_of(BLOCK);
    if material.is_empty() || (matches!(mech.mech, CKM_AES_ECB | CKM_AES_CBC) && !whole_blocks) {
        return Err(Error::KeyNotWrappable);
    }
    let mut op = make_op(mech, key, true)?;
    match run(op.as_mut(), material) {
        Ok(out) => Ok(out.to_vec()),
        Err(Error::DataLenRange) => Err(Error::KeyNotWrappable),
        Err(e) => Err(e),
    }
}

/// Unwraps `wrapped` under an AES key: WrappedKeyLenRange for a length the
/// mechanism cannot have produced, WrappedKeyInvalid when the integrity
/// check, tag or padding fails.
pub(super) fn unwrap(mech: &Mechanism, key: &Key, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if mech.mech == CKM_AES_CTR {
        return Err(Error::MechanismInvalid);
    }
    aes_key(key)?;
    if wrapped.is_empty() {
        return Err(Error::WrappedKeyLenRange);
    }
    let mut op = make_op(mech, key, false)?;
    run(op.as_mut(), wrapped).map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn aes(value: &[u8]) -> Arc<Key> {
        Arc::new(Key::secret(CKK_AES, value).unwrap())
    }

    fn mech(m: CK_MECHANISM_TYPE, param: Option<&[u8]>) -> Mechanism {
        Mechanism::parse(m, param).unwrap()
    }

    fn gcm(iv: &[u8], aad: &[u8], tag_len: usize) -> Mechanism {
        Mechanism {
            mech: CKM_AES_GCM,
            params: Params::Gcm {
                iv: iv.to_vec(),
                aad: aad.to_vec(),
                tag_len,
            },
        }
    }

    #[test]
    fn rows_are_in_the_table() {
        for r in ROWS.iter().chain(KW_ROWS) {
            let info = super::super::info(r.mech).unwrap();
            assert_eq!(&info, r);
            assert_eq!((info.min_key, info.max_key), (16, 32));
            assert_eq!(info.flags & CKF_HW, 0);
            assert!(handles(r.mech));
        }
        assert_eq!(super::super::info(CKM_AES_CTR).unwrap().flags & CKF_WRAP, 0);
        // Only GCM offers the message-based calls.
        for r in ROWS {
            let message = r.flags & MESSAGE;
            assert_eq!(message != 0, r.mech == CKM_AES_GCM, "{:#x}", r.mech);
            assert!(message == 0 || message == MESSAGE);
        }
        assert!(!handles(CKM_AES_CMAC));
    }

    #[test]
    fn key_type_and_size() {
        let generic = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[0; 16]).unwrap());
        let ecb = mech(CKM_AES_ECB, None);
        assert_eq!(
            encrypt_init(&ecb, &generic).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            decrypt_init(&ecb, &generic).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            wrap(&ecb, &generic, &[0; 16]).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert_eq!(
            unwrap(&ecb, &generic, &[0; 16]).err(),
            Some(Error::KeyTypeInconsistent)
        );
        // Key::secret refuses odd AES lengths; build one by hand.
        let odd = Arc::new(Key::secret_unchecked(CKK_AES, &[0; 20]));
        assert_eq!(encrypt_init(&ecb, &odd).err(), Some(Error::KeySizeRange));
        for len in [16, 24, 32] {
            assert!(encrypt_init(&ecb, &aes(&vec![7; len])).is_ok());
        }
    }

    #[test]
    fn params_must_match_the_mechanism() {
        let key = aes(&[1; 16]);
        let wrong = Mechanism {
            mech: CKM_AES_CBC,
            params: Params::None,
        };
        assert_eq!(
            encrypt_init(&wrong, &key).err(),
            Some(Error::MechanismParamInvalid)
        );
        let short_iv = Mechanism {
            mech: CKM_AES_CBC_PAD,
            params: Params::Iv(vec![0; 8]),
        };
        assert_eq!(
            decrypt_init(&short_iv, &key).err(),
            Some(Error::MechanismParamInvalid)
        );
        let ctr_param = [128u64.to_ne_bytes().to_vec(), vec![0; 16]].concat();
        let ctr = mech(CKM_AES_CTR, Some(&ctr_param));
        assert!(encrypt_init(&ctr, &key).is_ok());
        assert_eq!(
            unwrap(&ctr, &key, &[0; 16]).err(),
            Some(Error::MechanismInvalid)
        );
        assert_eq!(
            wrap(&ctr, &key, &[0; 16]).err(),
            Some(Error::MechanismInvalid)
        );
    }

    #[test]
    fn wrap_round_trips_every_mechanism() {
        let kek = aes(&[0x42; 32]);
        let iv = [9u8; 16];
        let mechs = [
            mech(CKM_AES_ECB, None),
            mech(CKM_AES_CBC, Some(&iv)),
            mech(CKM_AES_CBC_PAD, Some(&iv)),
            gcm(&[3; 12], b"header", 16),
            mech(CKM_AES_KEY_WRAP, None),
            mech(CKM_AES_KEY_WRAP_KWP, None),
            mech(CKM_AES_KEY_WRAP_PAD, None),
        ];
        for m in &mechs {
            for material in [vec![0x11; 16], vec![0x22; 32]] {
                let wrapped = wrap(m, &kek, &material).unwrap();
                assert_ne!(wrapped, material);
                let back = unwrap(m, &kek, &wrapped).unwrap();
                assert_eq!(*back, material, "{:#x}", m.mech);
            }
        }
    }

    #[test]
    fn wrap_lengths() {
        let kek = aes(&[0x42; 16]);
        let iv = [9u8; 16];
        // ECB/CBC: whole blocks only.
        for m in [mech(CKM_AES_ECB, None), mech(CKM_AES_CBC, Some(&iv))] {
            assert_eq!(wrap(&m, &kek, &[1; 24]).err(), Some(Error::KeyNotWrappable));
            assert_eq!(wrap(&m, &kek, &[]).err(), Some(Error::KeyNotWrappable));
            assert_eq!(
                unwrap(&m, &kek, &[1; 24]).err(),
                Some(Error::WrappedKeyLenRange)
            );
        }
        // CBC_PAD and KWP wrap any length, e.g. a 24-byte AES key.
        for m in [
            mech(CKM_AES_CBC_PAD, Some(&iv)),
            mech(CKM_AES_KEY_WRAP_KWP, None),
            mech(CKM_AES_KEY_WRAP_PAD, None),
            gcm(&[1; 12], &[], 12),
        ] {
            let w = wrap(&m, &kek, &[5; 21]).unwrap();
            assert_eq!(*unwrap(&m, &kek, &w).unwrap(), vec![5; 21]);
        }
        let kw = mech(CKM_AES_KEY_WRAP, None);
        assert_eq!(
            wrap(&kw, &kek, &[1; 20]).err(),
            Some(Error::KeyNotWrappable)
        );
        assert_eq!(wrap(&kw, &kek, &[1; 8]).err(), Some(Error::KeyNotWrappable));
        assert_eq!(
            unwrap(&kw, &kek, &[1; 20]).err(),
            Some(Error::WrappedKeyLenRange)
        );
        assert_eq!(
            unwrap(&kw, &kek, &[1; 16]).err(),
            Some(Error::WrappedKeyLenRange)
        );
        assert_eq!(
            unwrap(&kw, &kek, &[]).err(),
            Some(Error::WrappedKeyLenRange)
        );
        let g = gcm(&[1; 12], &[], 16);
        assert_eq!(
            unwrap(&g, &kek, &[0; 15]).err(),
            Some(Error::WrappedKeyLenRange)
        );
    }

    #[test]
    fn unwrap_detects_tampering() {
        let kek = aes(&[0x17; 24]);
        let iv = [4u8; 16];
        for m in [
            mech(CKM_AES_KEY_WRAP, None),
            mech(CKM_AES_KEY_WRAP_KWP, None),
            mech(CKM_AES_KEY_WRAP_PAD, None),
            gcm(&[1; 12], b"aad", 16),
        ] {
            let mut w = wrap(&m, &kek, &[0x33; 32]).unwrap();
            w[3] ^= 1;
            assert_eq!(
                unwrap(&m, &kek, &w).err(),
                Some(Error::WrappedKeyInvalid),
                "{:#x}",
                m.mech
            );
        }
        // CBC_PAD: a last block whose padding does not check out.
        let m = mech(CKM_AES_CBC_PAD, Some(&iv));
        let raw = mech(CKM_AES_CBC, Some(&iv));
        let bad_padding = wrap(&raw, &kek, &[0u8; 32]).unwrap();
        assert_eq!(
            unwrap(&m, &kek, &bad_padding).err(),
            Some(Error::WrappedKeyInvalid)
        );
        // Another key does not unwrap it either.
        let w = wrap(&mech(CKM_AES_KEY_WRAP, None), &kek, &[1; 16]).unwrap();
        assert_eq!(
            unwrap(&mech(CKM_AES_KEY_WRAP, None), &aes(&[0x18; 24]), &w).err(),
            Some(Error::WrappedKeyInvalid)
        );
    }

    #[test]
    fn encrypt_through_dispatch_matches_sp800_38a() {
        // SP 800-38A F.2.1 CBC-AES128.Encrypt, first block.
        let key = aes(&unhex("2b7e151628aed2a6abf7158809cf4f3c"));
        let iv = unhex("000102030405060708090a0b0c0d0e0f");
        let m = mech(CKM_AES_CBC, Some(&iv));
        let mut op = encrypt_init(&m, &key).unwrap();
        let out = run(op.as_mut(), &unhex("6bc1bee22e409f96e93d7e117393172a")).unwrap();
        assert_eq!(*out, unhex("7649abac8119b246cee98e9b12e9197d"));
    }
}
