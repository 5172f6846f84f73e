//! CKM_CHACHA20_POLY1305 (PKCS#11 3.0 "ChaCha20/Poly1305", RFC 8439) and
//! its key type CKK_CHACHA20 with CKM_CHACHA20_KEY_GEN: encryption streams
//! (ChaCha20 and Poly1305 as RFC 8439 §2.8 composes them, cross-checked
//! against the `chacha20poly1305` crate) and appends the tag at the end;
//! decryption collects the text and opens it with the crate
//! (`aead_oneshot.rs`), so no plaintext is released before the tag
//! verified. Also the message-based calls, and wrapping as a single-part
//! encryption (as CKM_AES_GCM wraps). ulNonceLen is in bits: 96 is RFC 8439's AEAD, 192
//! XChaCha20-Poly1305, 64 the original ChaCha20-Poly1305 (the spec's
//! "original" variant): ChaCha20 with a 64-bit nonce and 64-bit block
//! counter, the Poly1305 key from block 0 and the text from block 1 as in
//! RFC 8439, and the MAC input of that original construction
//! (draft-agl-tls-chacha20poly1305, libsodium's
//! crypto_aead_chacha20poly1305_*): AAD, its length as 8 bytes
//! little-endian, ciphertext, its length, with no padding. The
//! `chacha20poly1305` crate has no such AEAD: this one is built here from
//! `chacha20`'s ChaCha20Legacy and `poly1305`, and checked against
//! libsodium (tests/chacha20_raw.rs, through PyNaCl). The tag is always 16
//! bytes.

use std::sync::Arc;

use chacha20::cipher::{KeyIvInit as _, StreamCipher as _};
use chacha20::{ChaCha20, ChaCha20Legacy, XChaCha20};
use chacha20poly1305::aead::AeadInOut as _;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit as _, XChaCha20Poly1305};
use cryptoki_sys::*;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::aead_oneshot::{Buffered, OneShot};
use super::cipher::CipherOp;
use super::keys::Key;
use super::poly1305_mac::PolyStream;
use super::registry::MessageParams;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// The key length, in bytes (the spec fixes it at 256 bits).
const KEY_LEN: u64 = 32;
/// The Poly1305 tag, appended to the ciphertext.
pub(super) const TAG: usize = 16;
/// RFC 8439 §2.8: the 32-bit block counter bounds one message to
/// (2^32 - 1) blocks of 64 bytes (the counter starts at 1).
const MAX_TEXT: u64 = ((1 << 32) - 1) * 64;

/// The mechanism and its key generation (sizes in bytes, as the spec
/// says of both).
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_CHACHA20_KEY_GEN, KEY_LEN, KEY_LEN, CKF_GENERATE),
    row(
        CKM_CHACHA20_POLY1305,
        KEY_LEN,
        KEY_LEN,
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT,
    ),
];

/// The nonce length in bytes for ulNonceLen `bits`: 8 (the original
/// construction), 12 (RFC 8439) or 24 (XChaCha20); anything else is
/// CKR_MECHANISM_PARAM_INVALID.
pub fn nonce_len(bits: CK_ULONG) -> Result<usize> {
    match bits {
        64 => Ok(8),
        96 => Ok(12),
        192 => Ok(24),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// CK_SALSA20_CHACHA20_POLY1305_PARAMS as read by the ABI layer.
pub(super) fn parse(nonce: &[u8], nonce_bits: CK_ULONG, aad: &[u8]) -> Result<Params> {
    if nonce.len() != nonce_len(nonce_bits)? {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Params::ChaChaPoly {
        nonce: nonce.to_vec(),
        aad: aad.to_vec(),
    })
}

/// The value of a ChaCha20 key: CKR_KEY_TYPE_INCONSISTENT for any other
/// key, CKR_KEY_SIZE_RANGE for another length.
fn chacha_key(key: &Key) -> Result<&[u8; 32]> {
    match key {
        Key::Secret {
            key_type, value, ..
        } if *key_type == CKK_CHACHA20 => {
            value.as_slice().try_into().map_err(|_| Error::KeySizeRange)
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The AEAD of one message: the variant chosen by the nonce length.
enum Variant {
    Ietf(ChaCha20Poly1305, [u8; 12]),
    X(XChaCha20Poly1305, [u8; 24]),
    /// The original construction: no crate AEAD, so the key and nonce,
    /// for [`SealStream`].
    Legacy(Zeroizing<[u8; 32]>, [u8; 8]),
}

struct ChaChaPoly {
    variant: Variant,
    aad: Vec<u8>,
}

/// The original construction in one call: the tag of `text` (encrypted in
/// place), or `text` opened in place when `tag` verifies.
fn legacy_seal(key: &[u8; 32], nonce: &[u8; 8], aad: &[u8], text: &mut [u8]) -> Result<Vec<u8>> {
    let mut s = SealStream::with_key(key, nonce, aad, false)?;
    let ct = s.update(text)?;
    text.copy_from_slice(&ct);
    s.finish()
}

fn legacy_open(
    key: &[u8; 32],
    nonce: &[u8; 8],
    aad: &[u8],
    text: &mut [u8],
    tag: &[u8],
) -> Result<()> {
    let mut s = SealStream::with_key(key, nonce, aad, true)?;
    let plain = Zeroizing::new(s.update(text)?);
    let want = s.finish()?;
    if !bool::from(want.ct_eq(tag)) {
        return Err(Error::EncryptedDataInvalid);
    }
    text.copy_from_slice(&plain);
    Ok(())
}

impl ChaChaPoly {
    fn new(key: &Key, nonce: &[u8], aad: &[u8]) -> Result<ChaChaPoly> {
        let k = chacha_key(key)?;
        let variant = match nonce.len() {
            12 => Variant::Ietf(
                ChaCha20Poly1305::new(k.into()),
                nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?,
            ),
            24 => Variant::X(
                XChaCha20Poly1305::new(k.into()),
                nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?,
            ),
            8 => Variant::Legacy(
                Zeroizing::new(*k),
                nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?,
            ),
            _ => return Err(Error::MechanismParamInvalid),
        };
        Ok(ChaChaPoly {
            variant,
            aad: aad.to_vec(),
        })
    }
}

impl OneShot for ChaChaPoly {
    fn tag_len(&self) -> usize {
        TAG
    }

    fn seal(&self, text: &mut [u8]) -> Result<Vec<u8>> {
        let tag = match &self.variant {
            Variant::Ietf(c, n) => c.encrypt_inout_detached(n.into(), &self.aad, text.into()),
            Variant::X(c, n) => c.encrypt_inout_detached(n.into(), &self.aad, text.into()),
            Variant::Legacy(k, n) => return legacy_seal(k, n, &self.aad, text),
        };
        tag.map(|t| t.to_vec()).map_err(|_| Error::DataLenRange)
    }

    fn open(&self, text: &mut [u8], tag: &[u8]) -> Result<()> {
        let tag: &[u8; TAG] = tag.try_into().map_err(|_| Error::EncryptedDataLenRange)?;
        let opened = match &self.variant {
            Variant::Ietf(c, n) => {
                c.decrypt_inout_detached(n.into(), &self.aad, text.into(), tag.into())
            }
            Variant::X(c, n) => {
                c.decrypt_inout_detached(n.into(), &self.aad, text.into(), tag.into())
            }
            Variant::Legacy(k, n) => return legacy_open(k, n, &self.aad, text, tag),
        };
        opened.map_err(|_| Error::EncryptedDataInvalid)
    }

    fn max_len(&self) -> usize {
        // XChaCha20 runs the same 32-bit-counter construction after
        // HChaCha20: the same bound. The original's counter is 64 bits.
        if matches!(self.variant, Variant::Legacy(..)) {
            return usize::MAX;
        }
        usize::try_from(MAX_TEXT).unwrap_or(usize::MAX)
    }
}

/// The keystream of one message, from block 1 on (block 0 keyed the MAC).
enum Stream {
    Ietf(ChaCha20),
    X(XChaCha20),
    Legacy(ChaCha20Legacy),
}

impl Stream {
    fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Stream::Ietf(c) => c.apply_keystream(buf),
            Stream::X(c) => c.apply_keystream(buf),
            Stream::Legacy(c) => c.apply_keystream(buf),
        }
    }
}

/// Streaming encryption (RFC 8439 §2.8): the Poly1305 key is the first 32
/// bytes of keystream block 0; the text is XORed with the keystream from
/// block 1; the MAC runs over the AAD and the ciphertext, each padded to
/// 16 bytes, then both lengths as 64-bit little-endian integers. The
/// original construction (64-bit nonce) MACs AAD, its length, ciphertext,
/// its length, without padding. With `open`, the input is ciphertext: it
/// is MACed before the XOR (the one-shot decryption of the original
/// construction compares the tag, then releases the text).
struct SealStream {
    stream: Stream,
    mac: Option<PolyStream>,
    /// The original construction's MAC layout (no padding).
    original: bool,
    open: bool,
    aad_len: u64,
    text_len: u64,
    /// The most text one message may have (the 32-bit counter's bound for
    /// RFC 8439 and XChaCha20; the 64-bit counter's is out of reach).
    max_text: u64,
    done: bool,
}

impl SealStream {
    fn new(key: &Key, nonce: &[u8], aad: &[u8]) -> Result<SealStream> {
        SealStream::with_key(chacha_key(key)?, nonce, aad, false)
    }

    fn with_key(k: &[u8; 32], nonce: &[u8], aad: &[u8], open: bool) -> Result<SealStream> {
        let mut stream = match nonce.len() {
            12 => {
                let n: [u8; 12] = nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?;
                Stream::Ietf(ChaCha20::new(&(*k).into(), &n.into()))
            }
            24 => {
                let n: [u8; 24] = nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?;
                Stream::X(XChaCha20::new(&(*k).into(), &n.into()))
            }
            8 => {
                let n: [u8; 8] = nonce.try_into().map_err(|_| Error::MechanismParamInvalid)?;
                Stream::Legacy(ChaCha20Legacy::new(&(*k).into(), &n.into()))
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        let original = matches!(stream, Stream::Legacy(_));
        let mut block0 = Zeroizing::new([0u8; 64]);
        stream.apply(&mut *block0);
        let mut poly_key = Zeroizing::new([0u8; 32]);
        poly_key.copy_from_slice(block0.get(..32).ok_or(Error::GeneralError)?);
        let mut mac = PolyStream::new(&poly_key);
        let aad_len = u64::try_from(aad.len()).map_err(|_| Error::MechanismParamInvalid)?;
        mac.update(aad);
        if original {
            mac.update(&aad_len.to_le_bytes());
        } else {
            mac.pad();
        }
        Ok(SealStream {
            stream,
            mac: Some(mac),
            original,
            open,
            aad_len,
            text_len: 0,
            max_text: if original { u64::MAX } else { MAX_TEXT },
            done: false,
        })
    }
}

impl CipherOp for SealStream {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        let total = u64::try_from(data.len())
            .ok()
            .and_then(|n| self.text_len.checked_add(n))
            .filter(|t| *t <= self.max_text)
            .ok_or(Error::DataLenRange)?;
        let mac = self.mac.as_mut().ok_or(Error::OperationNotInitialized)?;
        // Room for the tag: a single-part call appends it in place.
        let mut out = Vec::with_capacity(data.len().saturating_add(TAG));
        out.extend_from_slice(data);
        if self.open {
            mac.update(&out);
            self.stream.apply(&mut out);
        } else {
            self.stream.apply(&mut out);
            mac.update(&out);
        }
        self.text_len = total;
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        let mut mac = self.mac.take().ok_or(Error::OperationNotInitialized)?;
        if self.original {
            mac.update(&self.text_len.to_le_bytes());
        } else {
            mac.pad();
            mac.update(&self.aad_len.to_le_bytes());
            mac.update(&self.text_len.to_le_bytes());
        }
        Ok(mac.finalize().to_vec())
    }

    fn update_len(&self, len: usize) -> usize {
        len
    }

    fn finish_len(&self) -> usize {
        TAG
    }

    fn single_len(&self, len: usize) -> Option<usize> {
        let fresh = !self.done && self.text_len == 0;
        fresh.then(|| len.checked_add(TAG))?
    }
}

fn make_op(mech: &Mechanism, key: &Key, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    if mech.mech != CKM_CHACHA20_POLY1305 {
        return Err(Error::MechanismInvalid);
    }
    // The key first: a wrong key type is reported as such even when the
    // parameter is missing too.
    chacha_key(key)?;
    let Params::ChaChaPoly { nonce, aad } = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    if encrypt {
        return Ok(Box::new(SealStream::new(key, nonce, aad)?));
    }
    Ok(Box::new(Buffered::new(
        ChaChaPoly::new(key, nonce, aad)?,
        encrypt,
    )))
}

pub(super) fn encrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, &key, true)
}

pub(super) fn decrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, &key, false)
}

/// One message of the message-based calls: the nonce (12 or 24 bytes, as
/// the ABI layer converted ulNonceLen) and a 128-bit tag.
pub(super) fn message(m: &MessageParams<'_>, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    if m.mech != CKM_CHACHA20_POLY1305 {
        return Err(Error::MechanismInvalid);
    }
    chacha_key(&key)?;
    if m.tag_bits != 128 {
        return Err(Error::MechanismParamInvalid);
    }
    if m.encrypt {
        return Ok(Box::new(SealStream::new(&key, m.iv, m.aad)?));
    }
    Ok(Box::new(Buffered::new(
        ChaChaPoly::new(&key, m.iv, m.aad)?,
        m.encrypt,
    )))
}

/// Runs one whole message through `op` (the update's buffer has room for
/// the final part: no regrowth leaves a copy behind).
fn run(mut op: Box<dyn CipherOp>, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(op.update(input)?);
    let tail = Zeroizing::new(op.finish()?);
    if out.is_empty() {
        return Ok(tail);
    }
    out.extend_from_slice(&tail);
    Ok(out)
}

/// Wraps `material` as one encryption (ciphertext and tag).
pub(super) fn wrap(mech: &Mechanism, key: &Key, material: &[u8]) -> Result<Vec<u8>> {
    if material.is_empty() {
        return Err(Error::KeyNotWrappable);
    }
    let op = make_op(mech, key, true)?;
    match run(op, material) {
        Ok(out) => Ok(out.to_vec()),
        Err(Error::DataLenRange) => Err(Error::KeyNotWrappable),
        Err(e) => Err(e),
    }
}

/// Unwraps: CKR_WRAPPED_KEY_LEN_RANGE for less than a tag and a byte,
/// CKR_WRAPPED_KEY_INVALID when the tag does not verify.
pub(super) fn unwrap(mech: &Mechanism, key: &Key, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let op = make_op(mech, key, false)?;
    if wrapped.len() <= TAG {
        return Err(Error::WrappedKeyLenRange);
    }
    run(op, wrapped).map_err(|e| match e {
        Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn key(v: &[u8]) -> Arc<Key> {
        Arc::new(Key::secret(CKK_CHACHA20, v).unwrap())
    }

    fn mech(nonce: &[u8], aad: &[u8]) -> Mechanism {
        Mechanism {
            mech: CKM_CHACHA20_POLY1305,
            params: parse(nonce, (nonce.len() * 8) as CK_ULONG, aad).unwrap(),
        }
    }

    fn single(op: &mut Box<dyn CipherOp>, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = op.update(data)?;
        out.extend(op.finish()?);
        Ok(out)
    }

    // RFC 8439 §2.8.2.
    const K: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    const N: &str = "070000004041424344454647";
    const A: &str = "50515253c0c1c2c3c4c5c6c7";
    const P: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    const C: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
                     3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
                     92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
                     3ff4def08e4b7a9de576d26586cec64b6116";
    const T: &str = "1ae10b594f09e26a7e902ecbd0600691";

    #[test]
    fn rfc8439_2_8_2() {
        let k = key(&unhex(K));
        let m = mech(&unhex(N), &unhex(A));
        let mut enc = encrypt_init(&m, k.clone()).unwrap();
        assert_eq!(enc.single_len(P.len()), Some(P.len() + 16));
        let out = single(&mut enc, P).unwrap();
        assert_eq!(out, [unhex(C), unhex(T)].concat());
        let mut dec = decrypt_init(&m, k.clone()).unwrap();
        for part in out.chunks(7) {
            assert!(dec.update(part).unwrap().is_empty());
        }
        assert_eq!(dec.finish_len(), P.len());
        assert_eq!(dec.finish().unwrap(), P);
        // Any bit changed, in the text, the tag or the AAD: refused.
        for i in [0, 50, out.len() - 1] {
            let mut bad = out.clone();
            bad[i] ^= 1;
            let mut dec = decrypt_init(&m, k.clone()).unwrap();
            assert_eq!(
                single(&mut dec, &bad).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
        let mut dec = decrypt_init(&mech(&unhex(N), b"other"), k.clone()).unwrap();
        assert_eq!(
            single(&mut dec, &out).err(),
            Some(Error::EncryptedDataInvalid)
        );
        let mut dec = decrypt_init(&m, k).unwrap();
        assert_eq!(
            single(&mut dec, &out[..15]).err(),
            Some(Error::EncryptedDataLenRange)
        );
    }

    /// The original construction (64-bit nonce) against libsodium's
    /// crypto_aead_chacha20poly1305_encrypt (PyNaCl 1.6.2,
    /// nacl.bindings): the §2.8.2 key, AAD and text, nonce 4041…47.
    const ORIG_N: &str = "4041424344454647";
    const ORIG_SEALED: &str = "a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a\
                               8ec1f8d3619a258db0ac56956015b7b4937e9b8e6aa957b3dc0214d803d77660\
                               aabc913092971da8f207171ce7843608162e2e759d8efc25d8d0936990af63c8\
                               20ba87e8a955b5c8274ef7d10f6fafd046470f54ae6c8d92023fbb151b4206ee\
                               8e95";
    /// The same with no AAD and no text: the tag alone.
    const ORIG_EMPTY: &str = "5a700f88e787fe1c1ef664e601ba935f";

    #[test]
    fn original_construction_matches_libsodium() {
        let k = key(&unhex(K));
        let m = mech(&unhex(ORIG_N), &unhex(A));
        let want = unhex(ORIG_SEALED);
        for step in [1, 15, 16, 17, 64, 200] {
            let mut enc = encrypt_init(&m, k.clone()).unwrap();
            let mut out = Vec::new();
            for part in P.chunks(step) {
                out.extend(enc.update(part).unwrap());
            }
            out.extend(enc.finish().unwrap());
            assert_eq!(out, want, "step {step}");
        }
        let mut dec = decrypt_init(&m, k.clone()).unwrap();
        assert_eq!(single(&mut dec, &want).unwrap(), P);
        let empty = mech(&unhex(ORIG_N), &[]);
        let tag = single(&mut encrypt_init(&empty, k.clone()).unwrap(), &[]).unwrap();
        assert_eq!(tag, unhex(ORIG_EMPTY));
        for i in [0, 60, want.len() - 1] {
            let mut bad = want.clone();
            bad[i] ^= 0x80;
            let mut dec = decrypt_init(&m, k.clone()).unwrap();
            assert_eq!(
                single(&mut dec, &bad).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
        let wrapped = wrap(&m, &k, &[5; 32]).unwrap();
        assert_eq!(*unwrap(&m, &k, &wrapped).unwrap(), [5; 32]);
    }

    #[test]
    fn xchacha_round_trip_and_wrap() {
        let k = key(&[9; 32]);
        let m = mech(&[3; 24], b"aad");
        let sealed = single(&mut encrypt_init(&m, k.clone()).unwrap(), b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + 16);
        // Not the 96-bit construction's output under a nonce prefix.
        let ietf = single(
            &mut encrypt_init(&mech(&[3; 12], b"aad"), k.clone()).unwrap(),
            b"hello",
        )
        .unwrap();
        assert_ne!(sealed, ietf);
        assert_eq!(
            single(&mut decrypt_init(&m, k.clone()).unwrap(), &sealed).unwrap(),
            b"hello"
        );
        let wrapped = wrap(&m, &k, &[5; 32]).unwrap();
        assert_eq!(*unwrap(&m, &k, &wrapped).unwrap(), [5; 32]);
        let mut bad = wrapped.clone();
        bad[0] ^= 1;
        assert_eq!(unwrap(&m, &k, &bad).err(), Some(Error::WrappedKeyInvalid));
        assert_eq!(
            unwrap(&m, &k, &wrapped[..16]).err(),
            Some(Error::WrappedKeyLenRange)
        );
    }

    /// The streaming encryption against the crate's one-shot AEAD, over
    /// lengths around the 16-byte MAC blocks and the 64-byte keystream
    /// blocks, cut into parts of every size from 1 to 17, both nonce sizes.
    #[test]
    fn streaming_matches_the_crate() {
        let k = key(&[0x42; 32]);
        for nonce in [vec![1u8; 12], vec![2u8; 24]] {
            for aad in [&b""[..], b"a", b"sixteen bytes!!!", b"seventeen bytes!!"] {
                let m = mech(&nonce, aad);
                for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 200] {
                    let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    let reference = {
                        let mut sealed = plain.clone();
                        let aead = ChaChaPoly::new(&k, &nonce, aad).unwrap();
                        let tag = aead.seal(&mut sealed).unwrap();
                        [sealed, tag].concat()
                    };
                    for step in 1..=17 {
                        let mut enc = encrypt_init(&m, k.clone()).unwrap();
                        let mut out = Vec::new();
                        for part in plain.chunks(step) {
                            out.extend(enc.update(part).unwrap());
                        }
                        out.extend(enc.finish().unwrap());
                        assert_eq!(out, reference, "len {len} step {step}");
                    }
                    let back = single(&mut decrypt_init(&m, k.clone()).unwrap(), &reference);
                    assert_eq!(back.unwrap(), plain);
                }
            }
        }
    }

    #[test]
    fn bad_parameters_and_keys() {
        for bits in [0, 64, 95, 128, 256] {
            // (64 is the original construction's: an 8-byte nonce.)
            assert_eq!(
                parse(&[0; 12], bits, &[]).err(),
                Some(Error::MechanismParamInvalid)
            );
        }
        assert_eq!(
            parse(&[0; 11], 96, &[]).err(),
            Some(Error::MechanismParamInvalid)
        );
        let none = Mechanism {
            mech: CKM_CHACHA20_POLY1305,
            params: Params::None,
        };
        let k = key(&[1; 32]);
        assert_eq!(
            encrypt_init(&none, k).err(),
            Some(Error::MechanismParamInvalid)
        );
        let aes = Arc::new(Key::secret(CKK_AES, &[1; 32]).unwrap());
        assert_eq!(
            encrypt_init(&mech(&[0; 12], &[]), aes).err(),
            Some(Error::KeyTypeInconsistent)
        );
        assert!(Key::secret(CKK_CHACHA20, &[1; 16]).is_err());
    }
}
