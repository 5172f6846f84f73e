//! The raw stream ciphers CKM_CHACHA20 (PKCS#11 3.0 §6.58,
//! CK_CHACHA20_PARAMS) and CKM_SALSA20 (§6.59, CK_SALSA20_PARAMS), with
//! CKK_SALSA20 keys from CKM_SALSA20_KEY_GEN (CKK_CHACHA20 keys come from
//! `chacha_poly.rs`'s CKM_CHACHA20_KEY_GEN). Encryption and decryption are
//! the same keystream XOR, single and multi-part, any length, output as
//! the data comes and no final part.
//!
//! The variants the spec's table allows, by nonce and block counter
//! length in bits (any other pair is CKR_MECHANISM_PARAM_INVALID):
//! - ChaCha20: 64/64 (the original), 96/32 (RFC 8439), 192/64 (XChaCha20:
//!   HChaCha20 subkey, then the original with the nonce's last 8 bytes,
//!   as libsodium's crypto_stream_xchacha20; for counters below 2^32 the
//!   same stream as draft-irtf-cfrg-xchacha's 32-bit form).
//! - Salsa20: 64/64 (the original), 192/64 (XSalsa20); the counter is
//!   always 64 bits.
//!
//! The spec does not say the byte order of *pBlockCounter: it is read as
//! little-endian, the order the counter words have in the cipher's state
//! (and in which RFC 8439 and libsodium number blocks).
//!
//! These ciphers have no integrity, like AES-CTR, which the default
//! profile offers: so are these. Neither wraps keys (an unauthenticated
//! key wrap lets an altered wrapped key be unwrapped unnoticed).

use std::sync::Arc;

use chacha20::cipher::{KeyIvInit as _, StreamCipher as _, StreamCipherSeek as _};
use chacha20::{ChaCha20, ChaCha20Legacy, R20, hchacha};
use cryptoki_sys::*;
use salsa20::{Salsa20, XSalsa20};

use super::cipher::CipherOp;
use super::keys::Key;
use super::registry::{Family, Generates};
use super::{Layout, MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// Key lengths in bytes (both ciphers fix them at 256 bits).
const KEY_LEN: u64 = 32;

pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_CHACHA20, KEY_LEN, KEY_LEN, CKF_ENCRYPT | CKF_DECRYPT),
    row(CKM_SALSA20_KEY_GEN, KEY_LEN, KEY_LEN, CKF_GENERATE),
    row(CKM_SALSA20, KEY_LEN, KEY_LEN, CKF_ENCRYPT | CKF_DECRYPT),
];

/// Checks a CK_CHACHA20_PARAMS / CK_SALSA20_PARAMS as read by the ABI
/// layer: the (nonce, counter) lengths the spec allows for `mech`, the
/// buffers exactly that long. The counter is little-endian.
pub(super) fn parse(
    mech: CK_MECHANISM_TYPE,
    counter: &[u8],
    counter_bits: CK_ULONG,
    nonce: &[u8],
    nonce_bits: CK_ULONG,
) -> Result<Params> {
    let allowed = match mech {
        CKM_CHACHA20 => matches!((nonce_bits, counter_bits), (64, 64) | (96, 32) | (192, 64)),
        CKM_SALSA20 => matches!((nonce_bits, counter_bits), (64, 64) | (192, 64)),
        _ => false,
    };
    let nonce_len = usize::try_from(nonce_bits / 8).map_err(|_| Error::MechanismParamInvalid)?;
    let counter_len =
        usize::try_from(counter_bits / 8).map_err(|_| Error::MechanismParamInvalid)?;
    if !allowed || nonce.len() != nonce_len || counter.len() != counter_len {
        return Err(Error::MechanismParamInvalid);
    }
    let mut le = [0u8; 8];
    le.get_mut(..counter.len())
        .ok_or(Error::MechanismParamInvalid)?
        .copy_from_slice(counter);
    Ok(Params::StreamCipher {
        nonce: nonce.to_vec(),
        counter: u64::from_le_bytes(le),
    })
}

/// The 32-byte value of a key of `key_type`: CKR_KEY_TYPE_INCONSISTENT for
/// another type, CKR_KEY_SIZE_RANGE for another length.
fn key_of(key: &Key, want: CK_KEY_TYPE) -> Result<&[u8; 32]> {
    match key {
        Key::Secret {
            key_type, value, ..
        } if *key_type == want => value.as_slice().try_into().map_err(|_| Error::KeySizeRange),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// One keystream, positioned at the caller's block.
enum Stream {
    Ietf(ChaCha20),
    Legacy(ChaCha20Legacy),
    Salsa(Salsa20),
    XSalsa(XSalsa20),
}

impl Stream {
    fn new(mech: CK_MECHANISM_TYPE, key: &Key, nonce: &[u8], counter: u64) -> Result<Stream> {
        let bad = || Error::MechanismParamInvalid;
        let mut s = match mech {
            CKM_CHACHA20 => {
                let k = key_of(key, CKK_CHACHA20)?;
                match nonce.len() {
                    8 => {
                        let n: [u8; 8] = nonce.try_into().map_err(|_| bad())?;
                        Stream::Legacy(ChaCha20Legacy::new(k.into(), &n.into()))
                    }
                    12 => {
                        let n: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
                        Stream::Ietf(ChaCha20::new(k.into(), &n.into()))
                    }
                    24 => {
                        let (head, tail) = nonce.split_at_checked(16).ok_or_else(bad)?;
                        let head: [u8; 16] = head.try_into().map_err(|_| bad())?;
                        let n: [u8; 8] = tail.try_into().map_err(|_| bad())?;
                        let sub = zeroize::Zeroizing::new(hchacha::<R20>(k.into(), &head.into()));
                        Stream::Legacy(ChaCha20Legacy::new(&sub, &n.into()))
                    }
                    _ => return Err(bad()),
                }
            }
            CKM_SALSA20 => {
                let k = key_of(key, CKK_SALSA20)?;
                match nonce.len() {
                    8 => {
                        let n: [u8; 8] = nonce.try_into().map_err(|_| bad())?;
                        Stream::Salsa(Salsa20::new(k.into(), &n.into()))
                    }
                    24 => {
                        let n: [u8; 24] = nonce.try_into().map_err(|_| bad())?;
                        Stream::XSalsa(XSalsa20::new(k.into(), &n.into()))
                    }
                    _ => return Err(bad()),
                }
            }
            _ => return Err(Error::MechanismInvalid),
        };
        let pos = u128::from(counter) * 64;
        let sought = match &mut s {
            Stream::Ietf(c) => c.try_seek(pos),
            Stream::Legacy(c) => c.try_seek(pos),
            Stream::Salsa(c) => c.try_seek(pos),
            Stream::XSalsa(c) => c.try_seek(pos),
        };
        // Only a 32-bit counter can be out of range, and it is not
        // (32 bits, checked by `parse`); a failure is the parameter's.
        sought.map_err(|_| bad())?;
        Ok(s)
    }

    /// XORs the keystream in place; CKR_DATA_LEN_RANGE past the end of
    /// the stream (the 32-bit counter's 256 GB), with nothing consumed.
    fn apply(&mut self, buf: &mut [u8]) -> Result<()> {
        let r = match self {
            Stream::Ietf(c) => c.try_apply_keystream(buf),
            Stream::Legacy(c) => c.try_apply_keystream(buf),
            Stream::Salsa(c) => c.try_apply_keystream(buf),
            Stream::XSalsa(c) => c.try_apply_keystream(buf),
        };
        r.map_err(|_| Error::DataLenRange)
    }
}

struct StreamOp {
    stream: Stream,
    done: bool,
}

impl CipherOp for StreamOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        let mut out = data.to_vec();
        self.stream.apply(&mut out)?;
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        Ok(Vec::new())
    }

    fn update_len(&self, len: usize) -> usize {
        len
    }

    fn finish_len(&self) -> usize {
        0
    }

    fn single_len(&self, len: usize) -> Option<usize> {
        Some(len)
    }
}

/// Encryption and decryption alike (the same XOR).
pub(super) fn init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    // The key first: a wrong key type is reported as such even when the
    // parameter is missing too.
    match mech.mech {
        CKM_CHACHA20 => key_of(&key, CKK_CHACHA20)?,
        CKM_SALSA20 => key_of(&key, CKK_SALSA20)?,
        _ => return Err(Error::MechanismInvalid),
    };
    let Params::StreamCipher { nonce, counter } = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    Ok(Box::new(StreamOp {
        stream: Stream::new(mech.mech, &key, nonce, *counter)?,
        done: false,
    }))
}

/// The family of CKM_CHACHA20, CKM_SALSA20 and CKM_SALSA20_KEY_GEN.
pub(super) struct StreamCiphers;

impl Family for StreamCiphers {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT | CKF_DECRYPT
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_SALSA20_KEY_GEN).then_some(Generates::Secret(CKK_SALSA20))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_CHACHA20 => Layout::ChaCha20,
            CKM_SALSA20 => Layout::Salsa20,
            _ => Layout::Flat,
        }
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        init(mech, key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        init(mech, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn mech(m: CK_MECHANISM_TYPE, counter: &[u8], nonce: &[u8]) -> Mechanism {
        let cb = (counter.len() * 8) as CK_ULONG;
        let nb = (nonce.len() * 8) as CK_ULONG;
        Mechanism {
            mech: m,
            params: parse(m, counter, cb, nonce, nb).unwrap(),
        }
    }

    fn run(m: &Mechanism, kt: CK_KEY_TYPE, k: &[u8], data: &[u8], step: usize) -> Vec<u8> {
        let key = Arc::new(Key::secret(kt, k).unwrap());
        let mut op = init(m, key).unwrap();
        let mut out = Vec::new();
        for part in data.chunks(step.max(1)) {
            out.extend(op.update(part).unwrap());
        }
        out.extend(op.finish().unwrap());
        out
    }

    // RFC 8439 §2.4.2.
    const K: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const N: &str = "000000000000004a00000000";
    const P: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    const C: &str = "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
                     f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
                     07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
                     5af90bbf74a35be6b40b8eedf2785e42874d";

    #[test]
    fn rfc8439_2_4_2_in_parts() {
        let m = mech(CKM_CHACHA20, &1u32.to_le_bytes(), &unhex(N));
        for step in [1, 7, 63, 64, 65, 200] {
            assert_eq!(run(&m, CKK_CHACHA20, &unhex(K), P, step), unhex(C));
        }
    }

    /// The original (64-bit nonce and counter) and the XChaCha20 form:
    /// blocks are addressed by the counter, and the 64-bit counter carries
    /// past 2^32 where the RFC 8439 form would end.
    #[test]
    fn counters_address_blocks() {
        let k = [3u8; 32];
        for nonce in [vec![1u8; 8], vec![2u8; 24]] {
            let from0 = mech(CKM_CHACHA20, &0u64.to_le_bytes(), &nonce);
            let from2 = mech(CKM_CHACHA20, &2u64.to_le_bytes(), &nonce);
            let zeros = [0u8; 64 * 3];
            let all = run(&from0, CKK_CHACHA20, &k, &zeros, 64);
            assert_eq!(run(&from2, CKK_CHACHA20, &k, &zeros[..64], 64), all[128..]);
            let edge = mech(CKM_CHACHA20, &u64::from(u32::MAX).to_le_bytes(), &nonce);
            assert_eq!(run(&edge, CKK_CHACHA20, &k, &[0; 130], 9).len(), 130);
        }
        // The 32-bit counter ends there (the crate keeps block 2^32-1
        // back: the counter never reaches its wrap).
        let m = mech(CKM_CHACHA20, &(u32::MAX - 1).to_le_bytes(), &[0; 12]);
        let key = Arc::new(Key::secret(CKK_CHACHA20, &k).unwrap());
        let mut op = init(&m, key).unwrap();
        assert_eq!(op.update(&[0; 64]).unwrap().len(), 64);
        assert_eq!(op.update(&[0; 1]).err(), Some(Error::DataLenRange));
    }

    /// XChaCha20 with a counter below 2^32 is the crate's XChaCha20.
    #[test]
    fn xchacha_matches_the_crate() {
        use chacha20::XChaCha20;
        let k = [5u8; 32];
        let n = [6u8; 24];
        let mut want = vec![0u8; 200];
        let mut c = XChaCha20::new((&k).into(), (&n).into());
        c.seek(64u32 * 3);
        c.apply_keystream(&mut want);
        let m = mech(CKM_CHACHA20, &3u64.to_le_bytes(), &n);
        assert_eq!(run(&m, CKK_CHACHA20, &k, &[0; 200], 13), want);
    }

    /// Salsa20: the eSTREAM/ECRYPT set 1 vector 0 (key 80 00…00, nonce
    /// zero): its first 64 bytes of keystream; XSalsa20 round-trips.
    #[test]
    fn salsa20_known_answer() {
        let mut k = [0u8; 32];
        k[0] = 0x80;
        let m = mech(CKM_SALSA20, &[0; 8], &[0; 8]);
        let ks = run(&m, CKK_SALSA20, &k, &[0; 64], 10);
        assert_eq!(
            ks,
            unhex(
                "e3be8fdd8beca2e3ea8ef9475b29a6e7003951e1097a5c38d23b7a5fad9f6844\
                 b22c97559e2723c7cbbd3fe4fc8d9a0744652a83e72a9c461876af4d7ef1a117"
            )
        );
        let x = mech(CKM_SALSA20, &[0; 8], &[9; 24]);
        let ct = run(&x, CKK_SALSA20, &[1; 32], b"hello", 2);
        assert_eq!(run(&x, CKK_SALSA20, &[1; 32], &ct, 3), b"hello");
    }

    /// The FIPS build offers none of these (nor Poly1305, nor the
    /// ChaCha20-Poly1305 AEAD): none is an approved algorithm.
    #[test]
    fn fips_offers_none() {
        let rows = ROWS
            .iter()
            .chain(super::super::poly1305_mac::ROWS)
            .chain(super::super::chacha_poly::ROWS);
        for r in rows {
            assert!(super::super::fips::narrow(*r).is_none(), "{:#x}", r.mech);
        }
    }

    #[test]
    fn refusals() {
        for (nb, cb) in [(96, 64), (64, 32), (192, 32), (128, 32), (0, 0)] {
            assert_eq!(
                parse(
                    CKM_CHACHA20,
                    &vec![0; cb / 8],
                    cb as CK_ULONG,
                    &vec![0; nb / 8],
                    nb as CK_ULONG
                )
                .err(),
                Some(Error::MechanismParamInvalid),
                "{nb}/{cb}"
            );
        }
        assert_eq!(
            parse(CKM_SALSA20, &[0; 4], 32, &[0; 12], 96).err(),
            Some(Error::MechanismParamInvalid)
        );
        assert_eq!(
            parse(CKM_CHACHA20, &[0; 4], 32, &[0; 11], 96).err(),
            Some(Error::MechanismParamInvalid)
        );
        let aes = Arc::new(Key::secret(CKK_AES, &[1; 32]).unwrap());
        let m = mech(CKM_CHACHA20, &[0; 4], &[0; 12]);
        assert_eq!(init(&m, aes).err(), Some(Error::KeyTypeInconsistent));
        let salsa = Arc::new(Key::secret(CKK_SALSA20, &[1; 32]).unwrap());
        assert_eq!(init(&m, salsa).err(), Some(Error::KeyTypeInconsistent));
        let none = Mechanism {
            mech: CKM_CHACHA20,
            params: Params::None,
        };
        let chacha = Arc::new(Key::secret(CKK_CHACHA20, &[1; 32]).unwrap());
        assert_eq!(
            init(&none, chacha).err(),
            Some(Error::MechanismParamInvalid)
        );
    }
}
