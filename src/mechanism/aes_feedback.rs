//! AES-OFB, AES-CFB8 and AES-CFB128 (NIST SP 800-38A §6.3–6.4) and AES-CBC
//! with ciphertext stealing (CKM_AES_CTS, the SP 800-38A addendum's CBC-CS1,
//! the variant NSS's softoken implements for the same mechanism: when the
//! data is not whole blocks, the last ciphertext block follows the
//! truncated one before it). Each takes a 16-byte IV; the output is as long
//! as the input. The modes are written over the key's cached AES schedule,
//! as aes_modes.rs does for the others.
//!
//! CTS needs at least one block in all (CKR_DATA_LEN_RANGE /
//! CKR_ENCRYPTED_DATA_LEN_RANGE otherwise); across C_*Update calls it
//! keeps up to two blocks back, since the last two are only known at the
//! end.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::aes::{AesCipher, BLOCK};
use super::aes_modes::append_secret;
use super::cipher::CipherOp;
use super::keys::Key;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

const AES_MIN: u64 = 16;
const AES_MAX: u64 = 32;
const FLAGS: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;

pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_AES_OFB, AES_MIN, AES_MAX, FLAGS),
    row(CKM_AES_CFB8, AES_MIN, AES_MAX, FLAGS),
    row(CKM_AES_CFB128, AES_MIN, AES_MAX, FLAGS),
    row(CKM_AES_CTS, AES_MIN, AES_MAX, FLAGS),
];

/// Starts an encryption (`encrypt`) or decryption with `mech` under `key`
/// (an AES key, else CKR_KEY_TYPE_INCONSISTENT).
pub(super) fn init(mech: &Mechanism, key: &Key, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    let Params::Iv(iv) = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let iv: [u8; BLOCK] = iv
        .as_slice()
        .try_into()
        .map_err(|_| Error::MechanismParamInvalid)?;
    let cipher = AesCipher::for_key(key)?;
    let mode = match mech.mech {
        CKM_AES_OFB => Mode::Ofb,
        CKM_AES_CFB8 => Mode::Cfb8,
        CKM_AES_CFB128 => Mode::Cfb128,
        CKM_AES_CTS => {
            return Ok(Box::new(CtsOp {
                cipher,
                encrypt,
                chain: Zeroizing::new(iv),
                buf: Zeroizing::new(Vec::new()),
            }));
        }
        _ => return Err(Error::MechanismInvalid),
    };
    Ok(Box::new(FeedbackOp {
        cipher,
        mode,
        encrypt,
        reg: Zeroizing::new(iv),
        stream: Zeroizing::new([0; BLOCK]),
        used: BLOCK,
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ofb,
    Cfb8,
    Cfb128,
}

/// OFB and CFB: byte-wise streams, so any length goes in and comes out at
/// once and nothing is left for the final call.
struct FeedbackOp {
    cipher: Arc<AesCipher>,
    mode: Mode,
    encrypt: bool,
    /// OFB: the last output block; CFB: the feedback register (the last
    /// ciphertext block, or for CFB8 the last 16 ciphertext bytes).
    reg: Zeroizing<[u8; BLOCK]>,
    /// The keystream block in use (OFB, CFB128) and how much of it is used.
    stream: Zeroizing<[u8; BLOCK]>,
    used: usize,
}

impl FeedbackOp {
    fn byte(&mut self, input: u8) -> u8 {
        match self.mode {
            Mode::Ofb => {
                if self.used == BLOCK {
                    self.cipher.encrypt_block(&mut self.reg);
                    *self.stream = *self.reg;
                    self.used = 0;
                }
                let k = self.stream.get(self.used).copied().unwrap_or(0);
                self.used += 1;
                input ^ k
            }
            Mode::Cfb128 => {
                if self.used == BLOCK {
                    *self.stream = *self.reg;
                    self.cipher.encrypt_block(&mut self.stream);
                    self.used = 0;
                }
                let k = self.stream.get(self.used).copied().unwrap_or(0);
                let out = input ^ k;
                let c = if self.encrypt { out } else { input };
                if let Some(r) = self.reg.get_mut(self.used) {
                    *r = c;
                }
                self.used += 1;
                out
            }
            Mode::Cfb8 => {
                *self.stream = *self.reg;
                self.cipher.encrypt_block(&mut self.stream);
                let out = input ^ self.stream.first().copied().unwrap_or(0);
                let c = if self.encrypt { out } else { input };
                self.reg.rotate_left(1);
                if let Some(last) = self.reg.last_mut() {
                    *last = c;
                }
                out
            }
        }
    }
}

impl CipherOp for FeedbackOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(data.iter().map(|b| self.byte(*b)).collect())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
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

/// CBC-CS1. `chain` is the previous ciphertext block (the IV at first);
/// `buf` the input not yet released, at most two blocks after each update.
struct CtsOp {
    cipher: Arc<AesCipher>,
    encrypt: bool,
    chain: Zeroizing<[u8; BLOCK]>,
    buf: Zeroizing<Vec<u8>>,
}

/// How many leading bytes of `held` buffered bytes an update releases:
/// whole blocks, keeping more than one block back (the last two blocks
/// are stolen from at the end).
fn releasable(held: usize) -> usize {
    if held <= 2 * BLOCK {
        0
    } else {
        (held - 2 * BLOCK).div_ceil(BLOCK) * BLOCK
    }
}

impl CtsOp {
    /// Plain CBC over whole blocks, advancing the chain.
    fn cbc(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        for chunk in data.chunks_exact(BLOCK) {
            let mut block = Zeroizing::new([0u8; BLOCK]);
            block.copy_from_slice(chunk);
            if self.encrypt {
                xor_block(&mut block, &self.chain);
                self.cipher.encrypt_block(&mut block);
                out.extend_from_slice(&*block);
                *self.chain = *block;
            } else {
                let cipher_block = *block;
                self.cipher.decrypt_block(&mut block);
                xor_block(&mut block, &self.chain);
                out.extend_from_slice(&*block);
                *self.chain = cipher_block;
            }
        }
        out
    }

    fn too_short(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// The last one or two blocks (`tail`: 16 to 32 bytes).
    fn steal(&mut self, tail: &[u8]) -> Result<Vec<u8>> {
        let d = tail.len() % BLOCK;
        if d == 0 {
            return Ok(self.cbc(tail));
        }
        let (first, last) = tail.split_at_checked(BLOCK).ok_or(Error::GeneralError)?;
        if self.encrypt {
            // C(n-1) = E(P(n-1) ^ chain); C(n) = E((P(n) || 0…) ^ C(n-1));
            // out = C(n-1)[..d] || C(n).
            let c_prev = self.cbc(first);
            let mut padded = Zeroizing::new([0u8; BLOCK]);
            padded
                .get_mut(..d)
                .ok_or(Error::GeneralError)?
                .copy_from_slice(last);
            xor_block(&mut padded, &self.chain);
            self.cipher.encrypt_block(&mut padded);
            let mut out = c_prev.get(..d).ok_or(Error::GeneralError)?.to_vec();
            out.extend_from_slice(&*padded);
            Ok(out)
        } else {
            // tail = C(n-1)[..d] || C(n). D(C(n)) = (P(n) || 0…) ^ C(n-1),
            // so its last bytes complete C(n-1) and its first d give P(n).
            let (c_star, c_last) = tail.split_at_checked(d).ok_or(Error::GeneralError)?;
            let mut z = Zeroizing::new([0u8; BLOCK]);
            z.copy_from_slice(c_last);
            self.cipher.decrypt_block(&mut z);
            let mut c_prev = Zeroizing::new([0u8; BLOCK]);
            c_prev
                .get_mut(..d)
                .ok_or(Error::GeneralError)?
                .copy_from_slice(c_star);
            c_prev
                .get_mut(d..)
                .ok_or(Error::GeneralError)?
                .copy_from_slice(z.get(d..).ok_or(Error::GeneralError)?);
            let mut out = self.cbc(&*c_prev);
            out.extend(z.iter().zip(c_star).map(|(a, b)| a ^ b));
            Ok(out)
        }
    }
}

fn xor_block(block: &mut [u8; BLOCK], with: &[u8; BLOCK]) {
    for (a, b) in block.iter_mut().zip(with) {
        *a ^= b;
    }
}

impl CipherOp for CtsOp {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        append_secret(&mut self.buf, data)?;
        let n = releasable(self.buf.len());
        if n == 0 {
            return Ok(Vec::new());
        }
        let head = Zeroizing::new(self.buf.get(..n).ok_or(Error::GeneralError)?.to_vec());
        self.buf.drain(..n);
        Ok(self.cbc(&head))
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        if self.buf.len() < BLOCK {
            return Err(self.too_short());
        }
        let tail = std::mem::take(&mut self.buf);
        self.steal(&tail)
    }
    fn update_len(&self, len: usize) -> usize {
        releasable(self.buf.len().saturating_add(len))
    }
    fn finish_len(&self) -> usize {
        self.buf.len()
    }
    fn single_len(&self, len: usize) -> Option<usize> {
        (len >= BLOCK).then_some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    fn op(mech: CK_MECHANISM_TYPE, key: &str, iv: &str, encrypt: bool) -> Box<dyn CipherOp> {
        let key = Key::secret(CKK_AES, &hex(key)).unwrap();
        let m = Mechanism::parse(mech, Some(&hex(iv))).unwrap();
        init(&m, &key, encrypt).unwrap()
    }

    /// One call, then byte by byte: the same output both ways, and back.
    fn check(mech: CK_MECHANISM_TYPE, plain: &[u8], want: &[u8]) {
        let mut e = op(mech, KEY, IV, true);
        let mut got = e.update(plain).unwrap();
        got.extend(e.finish().unwrap());
        assert_eq!(got, want, "{mech:#x} one call");
        let mut e = op(mech, KEY, IV, true);
        let mut parts = Vec::new();
        for b in plain {
            parts.extend(e.update(&[*b]).unwrap());
        }
        parts.extend(e.finish().unwrap());
        assert_eq!(parts, want, "{mech:#x} byte by byte");
        let mut d = op(mech, KEY, IV, false);
        let mut back = Vec::new();
        for chunk in want.chunks(7) {
            back.extend(d.update(chunk).unwrap());
        }
        back.extend(d.finish().unwrap());
        assert_eq!(back, plain, "{mech:#x} decrypts");
    }

    /// NIST SP 800-38A, F.4.1 (OFB-AES128), F.3.13 (CFB128-AES128) and
    /// F.3.7 (CFB8-AES128).
    #[test]
    fn sp800_38a_vectors() {
        let plain = hex(PLAIN);
        check(
            CKM_AES_OFB,
            &plain,
            &hex(
                "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed825\
                  9740051e9c5fecf64344f7a82260edcc304c6528f659c77866a510d9c1d6ae5e",
            ),
        );
        check(
            CKM_AES_CFB128,
            &plain,
            &hex(
                "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b\
                  26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6",
            ),
        );
        check(
            CKM_AES_CFB8,
            plain.get(..18).unwrap(),
            &hex("3b79424c9c0dd436bace9e0ed4586a4f32b9"),
        );
    }

    /// CBC-CS1: whole blocks are plain CBC (SP 800-38A F.2.1); otherwise the
    /// truncated second-to-last block comes first. The 17- and 40-byte
    /// answers are OpenSSL's (`openssl enc -aes-128-cbc-cts`, CS1 by
    /// default), and equal CBC over the zero-padded data cut as CS1 says.
    #[test]
    fn cts_cs1() {
        let plain = hex(PLAIN);
        let cbc = hex(
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
             73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        );
        check(CKM_AES_CTS, &plain, &cbc);
        check(
            CKM_AES_CTS,
            plain.get(..16).unwrap(),
            cbc.get(..16).unwrap(),
        );
        check(
            CKM_AES_CTS,
            plain.get(..17).unwrap(),
            &hex("76b8d266c62a614f00d7c901dc791ecea9"),
        );
        check(
            CKM_AES_CTS,
            plain.get(..40).unwrap(),
            &hex(
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee4931b7ebe3959b02a07245ed3eed3d3e",
            ),
        );
        // Every length from one block to four, any split, round trips.
        for len in 16..=64 {
            let mut e = op(CKM_AES_CTS, KEY, IV, true);
            let data = plain.get(..len).unwrap();
            let mut c = e.update(data).unwrap();
            c.extend(e.finish().unwrap());
            assert_eq!(c.len(), len);
            check(CKM_AES_CTS, data, &c);
        }
    }

    #[test]
    fn errors() {
        let mut e = op(CKM_AES_CTS, KEY, IV, true);
        e.update(&[0; 15]).unwrap();
        assert_eq!(e.finish().unwrap_err(), Error::DataLenRange);
        let mut d = op(CKM_AES_CTS, KEY, IV, false);
        assert_eq!(d.finish().unwrap_err(), Error::EncryptedDataLenRange);
        for mech in [CKM_AES_OFB, CKM_AES_CFB8, CKM_AES_CFB128, CKM_AES_CTS] {
            assert_eq!(
                Mechanism::parse(mech, Some(&[0; 8])).unwrap_err(),
                Error::MechanismParamInvalid
            );
            assert_eq!(
                Mechanism::parse(mech, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        let hmac = Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap();
        let m = Mechanism::parse(CKM_AES_OFB, Some(&[0; 16])).unwrap();
        assert!(init(&m, &hmac, true).is_err());
    }
}
