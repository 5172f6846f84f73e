//! CKM_AES_CCM (NIST SP 800-38C, RFC 3610) with CK_CCM_PARAMS (and, per
//! message, CK_CCM_MESSAGE_PARAMS): encryption streams (ulDataLen is known
//! up front, so B0 starts the CBC-MAC at once; each part is MACed and
//! encrypted as it comes, the MAC given at the end); decryption collects
//! the text through `aead_oneshot.rs`, so no plaintext is released before
//! the MAC verified. Wrapping is one encryption.
//! Built on the `aes` block cipher (the key's cached schedule) rather than
//! the `ccm` crate, which fixes the nonce and MAC lengths at compile time
//! (7 x 7 types per key size) where CK_CCM_PARAMS chooses them per call,
//! as aes_aead.rs does for GCM; cross-checked against `ccm` in tests.
//!
//! The total text must be ulDataLen: more or less is CKR_DATA_LEN_RANGE
//! (encryption) or CKR_ENCRYPTED_DATA_LEN_RANGE (decryption, where the
//! input is ulDataLen + ulMACLen bytes).

use std::sync::Arc;

use cryptoki_sys::*;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::aead_oneshot::{Buffered, OneShot};
use super::aes::{AesCipher, BLOCK};
use super::cipher::CipherOp;
use super::keys::Key;
use super::registry::MessageParams;
use super::{MechInfo, Mechanism, Params, row};
use crate::error::{Error, Result};

/// AES key sizes in bytes, as the other AES rows.
pub(super) const ROWS: &[MechInfo] = &[row(
    CKM_AES_CCM,
    16,
    32,
    CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT,
)];

/// SP 800-38C A.1: nonces of 7 to 13 bytes, MACs of 4 to 16 even bytes.
fn lengths_ok(nonce: usize, mac: usize) -> bool {
    (7..=13).contains(&nonce) && (4..=16).contains(&mac) && mac.is_multiple_of(2)
}

/// The CCM length rule for CK_CCM_MESSAGE_PARAMS, judged before the ABI
/// layer follows its pointers: CKR_MECHANISM_PARAM_INVALID unless the
/// nonce (ulNonceLen) and MAC (ulMACLen) lengths are CCM's.
pub fn message_lengths(nonce: usize, mac: usize) -> Result<()> {
    if lengths_ok(nonce, mac) {
        Ok(())
    } else {
        Err(Error::MechanismParamInvalid)
    }
}

/// Whether `data_len` fits the length field a nonce of `nonce` bytes
/// leaves (q = 15 - n bytes).
fn data_len_fits(nonce: usize, data_len: u64) -> bool {
    let q_bits = (15 - nonce) * 8;
    q_bits >= 64 || data_len < (1u64 << q_bits)
}

/// CK_CCM_PARAMS as read by the ABI layer: CKR_MECHANISM_PARAM_INVALID
/// for a nonce or MAC length CCM does not have, or a data length the
/// nonce's length field cannot hold.
pub(super) fn parse(
    data_len: CK_ULONG,
    nonce: &[u8],
    aad: &[u8],
    mac_len: CK_ULONG,
) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    let mac_len = usize::try_from(mac_len).map_err(|_| bad)?;
    if !lengths_ok(nonce.len(), mac_len) || !data_len_fits(nonce.len(), data_len) {
        return Err(bad);
    }
    Ok(Params::Ccm {
        data_len: usize::try_from(data_len).map_err(|_| bad)?,
        nonce: nonce.to_vec(),
        aad: aad.to_vec(),
        mac_len,
    })
}

/// One CCM message: the key's block cipher and the parameter.
struct Ccm {
    cipher: Arc<AesCipher>,
    data_len: usize,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    mac_len: usize,
}

impl Ccm {
    /// Counter block `i`: flags (q - 1), the nonce, `i` in q bytes.
    fn counter(&self, i: u64) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        let q = 15 - self.nonce.len();
        let [flags, rest @ ..] = &mut block;
        *flags = u8::try_from(q - 1).unwrap_or(0);
        let (n, count) = rest.split_at_mut(self.nonce.len());
        n.copy_from_slice(&self.nonce);
        let be = i.to_be_bytes();
        let take = count.len().min(8);
        let (_, low) = be.split_at(8 - take);
        let start = count.len() - take;
        if let Some(dst) = count.get_mut(start..) {
            dst.copy_from_slice(low);
        }
        block
    }

    /// One CBC-MAC step: `mac = E(mac XOR block)`.
    fn absorb(&self, mac: &mut [u8; BLOCK], block: &[u8]) {
        for (m, b) in mac.iter_mut().zip(block) {
            *m ^= b;
        }
        self.cipher.encrypt_block(mac);
    }

    /// `block` zero-padded to a whole block, absorbed.
    fn absorb_padded(&self, mac: &mut [u8; BLOCK], part: &[u8]) -> Result<()> {
        let mut block = Zeroizing::new([0u8; BLOCK]);
        block
            .get_mut(..part.len())
            .ok_or(Error::GeneralError)?
            .copy_from_slice(part);
        self.absorb(mac, &*block);
        Ok(())
    }

    /// The CBC-MAC state after B0 (which commits to the text length
    /// `plen`) and the encoded AAD (SP 800-38C A.2.1, A.2.2).
    fn mac_start(&self, plen: usize) -> Result<Zeroizing<[u8; BLOCK]>> {
        let q = 15 - self.nonce.len();
        let mut b0 = [0u8; BLOCK];
        let [flags, rest @ ..] = &mut b0;
        let adata = u8::from(!self.aad.is_empty()) << 6;
        let t = u8::try_from((self.mac_len - 2) / 2).map_err(|_| Error::GeneralError)? << 3;
        let qf = u8::try_from(q - 1).map_err(|_| Error::GeneralError)?;
        *flags = adata | t | qf;
        let (n, len) = rest.split_at_mut(self.nonce.len());
        n.copy_from_slice(&self.nonce);
        let plen = u64::try_from(plen).map_err(|_| Error::DataLenRange)?;
        let be = plen.to_be_bytes();
        let take = len.len().min(8);
        let (_, low) = be.split_at(8 - take);
        let start = len.len() - take;
        len.get_mut(start..)
            .ok_or(Error::GeneralError)?
            .copy_from_slice(low);

        let mut mac = Zeroizing::new([0u8; BLOCK]);
        self.absorb(&mut mac, &b0);
        if !self.aad.is_empty() {
            // A.2.2: the AAD's length, encoded by its size, then the AAD,
            // zero-padded to whole blocks.
            let a = u64::try_from(self.aad.len()).map_err(|_| Error::MechanismParamInvalid)?;
            let mut encoded = if a < 0xff00 {
                u16::try_from(a)
                    .map_err(|_| Error::GeneralError)?
                    .to_be_bytes()
                    .to_vec()
            } else if let Ok(a32) = u32::try_from(a) {
                [&[0xff, 0xfe][..], &a32.to_be_bytes()].concat()
            } else {
                [&[0xff, 0xff][..], &a.to_be_bytes()].concat()
            };
            encoded.extend_from_slice(&self.aad);
            for chunk in encoded.chunks(BLOCK) {
                self.absorb_padded(&mut mac, chunk)?;
            }
        }
        Ok(mac)
    }

    /// The CBC-MAC of B0, the encoded AAD and the payload (SP 800-38C
    /// A.2), before it is masked with S0.
    fn cbc_mac(&self, payload: &[u8]) -> Result<Zeroizing<[u8; BLOCK]>> {
        let mut mac = self.mac_start(payload.len())?;
        for chunk in payload.chunks(BLOCK) {
            self.absorb_padded(&mut mac, chunk)?;
        }
        Ok(mac)
    }

    /// The MAC from a finished CBC-MAC: masked with S0, truncated.
    fn masked(&self, mac: &[u8; BLOCK]) -> Vec<u8> {
        let mut s0 = Zeroizing::new(self.counter(0));
        self.cipher.encrypt_block(&mut s0);
        mac.iter()
            .zip(s0.iter())
            .take(self.mac_len)
            .map(|(m, s)| m ^ s)
            .collect()
    }

    /// XORs the keystream of counters 1, 2, ... into `text`.
    fn ctr(&self, text: &mut [u8]) {
        for (i, chunk) in (1u64..).zip(text.chunks_mut(BLOCK)) {
            let mut ks = Zeroizing::new(self.counter(i));
            self.cipher.encrypt_block(&mut ks);
            for (t, k) in chunk.iter_mut().zip(ks.iter()) {
                *t ^= k;
            }
        }
    }

    /// The MAC over `payload`: the CBC-MAC masked with S0, truncated.
    fn tag(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let mac = self.cbc_mac(payload)?;
        Ok(self.masked(&mac))
    }
}

/// Streaming encryption: ulDataLen is known up front, so B0 can start the
/// CBC-MAC at once; each part is MACed (as plaintext) and encrypted (CTR
/// from counter 1) as it comes, and the MAC is given at the end, when the
/// text must have been exactly ulDataLen bytes.
struct CcmSeal {
    ccm: Ccm,
    mac: Zeroizing<[u8; BLOCK]>,
    /// Plaintext not yet MACed (less than one block).
    partial: Zeroizing<Vec<u8>>,
    /// The counter of the next keystream block.
    next: u64,
    keystream: Zeroizing<[u8; BLOCK]>,
    /// Bytes of `keystream` already used.
    used: usize,
    text_len: usize,
    done: bool,
}

impl CcmSeal {
    fn new(ccm: Ccm) -> Result<CcmSeal> {
        let mac = ccm.mac_start(ccm.data_len)?;
        Ok(CcmSeal {
            ccm,
            mac,
            partial: Zeroizing::new(Vec::with_capacity(BLOCK)),
            next: 1,
            keystream: Zeroizing::new([0; BLOCK]),
            used: BLOCK,
            text_len: 0,
            done: false,
        })
    }

    fn mac_more(&mut self, mut data: &[u8]) -> Result<()> {
        if !self.partial.is_empty() {
            let take = (BLOCK - self.partial.len()).min(data.len());
            let (now, rest) = data.split_at(take);
            self.partial.extend_from_slice(now);
            data = rest;
            if self.partial.len() < BLOCK {
                return Ok(());
            }
            self.ccm.absorb(&mut self.mac, &self.partial);
            self.partial.clear();
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        for block in blocks {
            self.ccm.absorb(&mut self.mac, block);
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn encrypt_more(&mut self, text: &mut [u8]) {
        for byte in text.iter_mut() {
            if self.used == BLOCK {
                *self.keystream = self.ccm.counter(self.next);
                self.ccm.cipher.encrypt_block(&mut self.keystream);
                self.next = self.next.wrapping_add(1);
                self.used = 0;
            }
            if let Some(k) = self.keystream.get(self.used) {
                *byte ^= k;
            }
            self.used += 1;
        }
    }
}

impl CipherOp for CcmSeal {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.done {
            return Err(Error::OperationNotInitialized);
        }
        let total = self
            .text_len
            .checked_add(data.len())
            .filter(|t| *t <= self.ccm.data_len)
            .ok_or(Error::DataLenRange)?;
        self.mac_more(data)?;
        let mut out = Vec::with_capacity(data.len().saturating_add(self.ccm.mac_len));
        out.extend_from_slice(data);
        self.encrypt_more(&mut out);
        self.text_len = total;
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if std::mem::replace(&mut self.done, true) {
            return Err(Error::OperationNotInitialized);
        }
        if self.text_len != self.ccm.data_len {
            return Err(Error::DataLenRange);
        }
        if !self.partial.is_empty() {
            self.ccm.absorb_padded(&mut self.mac, &self.partial)?;
        }
        Ok(self.ccm.masked(&self.mac))
    }

    fn update_len(&self, len: usize) -> usize {
        len
    }

    fn finish_len(&self) -> usize {
        self.ccm.mac_len
    }

    /// The announced length only: another is left to the work, which
    /// reports it.
    fn single_len(&self, len: usize) -> Option<usize> {
        let fresh = !self.done && self.text_len == 0;
        (fresh && len == self.ccm.data_len).then(|| len.checked_add(self.ccm.mac_len))?
    }
}

impl OneShot for Ccm {
    fn tag_len(&self) -> usize {
        self.mac_len
    }

    fn seal(&self, text: &mut [u8]) -> Result<Vec<u8>> {
        let tag = self.tag(text)?;
        self.ctr(text);
        Ok(tag)
    }

    fn open(&self, text: &mut [u8], tag: &[u8]) -> Result<()> {
        self.ctr(text);
        let expected = self.tag(text)?;
        if tag.len() != expected.len() || !bool::from(expected.ct_eq(tag)) {
            // The plaintext computed to check the MAC is not released.
            zeroize::Zeroize::zeroize(text);
            return Err(Error::EncryptedDataInvalid);
        }
        Ok(())
    }

    fn fixed_len(&self) -> Option<usize> {
        Some(self.data_len)
    }

    fn max_len(&self) -> usize {
        self.data_len
    }
}

fn make_op(mech: &Mechanism, key: &Key, encrypt: bool) -> Result<Box<dyn CipherOp>> {
    if mech.mech != CKM_AES_CCM {
        return Err(Error::MechanismInvalid);
    }
    let cipher = AesCipher::for_key(key)?;
    let Params::Ccm {
        data_len,
        nonce,
        aad,
        mac_len,
    } = &mech.params
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let ccm = Ccm {
        cipher,
        data_len: *data_len,
        nonce: nonce.clone(),
        aad: aad.clone(),
        mac_len: *mac_len,
    };
    if encrypt {
        return Ok(Box::new(CcmSeal::new(ccm)?));
    }
    Ok(Box::new(Buffered::new(ccm, false)))
}

pub(super) fn encrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, &key, true)
}

/// One message of the message-based calls (CK_CCM_MESSAGE_PARAMS): its
/// ulDataLen, nonce and MAC length (`tag_bits` / 8), and the AAD the call
/// brings.
pub(super) fn message(m: &MessageParams<'_>, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    if m.mech != CKM_AES_CCM {
        return Err(Error::MechanismInvalid);
    }
    AesCipher::for_key(&key)?;
    let data_len = m.data_len.ok_or(Error::MechanismParamInvalid)?;
    let data_len = CK_ULONG::try_from(data_len).map_err(|_| Error::MechanismParamInvalid)?;
    if !m.tag_bits.is_multiple_of(8) {
        return Err(Error::MechanismParamInvalid);
    }
    let mech = Mechanism {
        mech: CKM_AES_CCM,
        params: parse(data_len, m.iv, m.aad, m.tag_bits / 8)?,
    };
    make_op(&mech, &key, m.encrypt)
}

pub(super) fn decrypt_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
    make_op(mech, &key, false)
}

fn run(mut op: Box<dyn CipherOp>, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(op.update(input)?);
    let tail = Zeroizing::new(op.finish()?);
    if out.is_empty() {
        return Ok(tail);
    }
    out.extend_from_slice(&tail);
    Ok(out)
}

/// Wraps `material` as one encryption; ulDataLen must be its length.
pub(super) fn wrap(mech: &Mechanism, key: &Key, material: &[u8]) -> Result<Vec<u8>> {
    let op = make_op(mech, key, true)?;
    match run(op, material) {
        Ok(out) => Ok(out.to_vec()),
        Err(Error::DataLenRange) => Err(Error::KeyNotWrappable),
        Err(e) => Err(e),
    }
}

/// Unwraps: CKR_WRAPPED_KEY_LEN_RANGE unless `wrapped` is ulDataLen plus
/// the MAC, CKR_WRAPPED_KEY_INVALID when the MAC does not verify.
pub(super) fn unwrap(mech: &Mechanism, key: &Key, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let op = make_op(mech, key, false)?;
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

    fn aes(v: &[u8]) -> Arc<Key> {
        Arc::new(Key::secret(CKK_AES, v).unwrap())
    }

    fn mech(data_len: usize, nonce: &[u8], aad: &[u8], mac_len: usize) -> Mechanism {
        Mechanism {
            mech: CKM_AES_CCM,
            params: parse(data_len as CK_ULONG, nonce, aad, mac_len as CK_ULONG).unwrap(),
        }
    }

    fn single(op: &mut Box<dyn CipherOp>, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = op.update(data)?;
        out.extend(op.finish()?);
        Ok(out)
    }

    /// SP 800-38C Appendix C, examples 1 to 3: (nonce, aad, payload,
    /// ciphertext || MAC), key 404142...4f.
    const SP800_38C: [(&str, &str, &str, &str); 3] = [
        (
            "10111213141516",
            "0001020304050607",
            "20212223",
            "7162015b4dac255d",
        ),
        (
            "1011121314151617",
            "000102030405060708090a0b0c0d0e0f",
            "202122232425262728292a2b2c2d2e2f",
            "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
        ),
        (
            "101112131415161718191a1b",
            "000102030405060708090a0b0c0d0e0f10111213",
            "202122232425262728292a2b2c2d2e2f3031323334353637",
            "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
        ),
    ];

    #[test]
    fn sp800_38c_examples() {
        let k = aes(&unhex("404142434445464748494a4b4c4d4e4f"));
        let mac_lens = [4, 6, 8];
        for ((n, a, p, c), t) in SP800_38C.into_iter().zip(mac_lens) {
            let (n, a, p, c) = (unhex(n), unhex(a), unhex(p), unhex(c));
            let m = mech(p.len(), &n, &a, t);
            let mut enc = encrypt_init(&m, k.clone()).unwrap();
            assert_eq!(enc.single_len(p.len()), Some(c.len()));
            assert_eq!(single(&mut enc, &p).unwrap(), c);
            let mut dec = decrypt_init(&m, k.clone()).unwrap();
            for part in c.chunks(5) {
                assert!(dec.update(part).unwrap().is_empty());
            }
            assert_eq!(dec.finish().unwrap(), p);
            let mut bad = c.clone();
            *bad.last_mut().unwrap() ^= 1;
            let mut dec = decrypt_init(&m, k.clone()).unwrap();
            assert_eq!(
                single(&mut dec, &bad).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
    }

    /// RFC 3610 packet vector #1 (13-byte nonce, 8-byte MAC, 8 bytes of
    /// AAD, the rest encrypted).
    #[test]
    fn rfc3610_packet_vector_1() {
        let k = aes(&unhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"));
        let nonce = unhex("00000003020100a0a1a2a3a4a5");
        let aad = unhex("0001020304050607");
        let p = unhex("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
        let want = unhex("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");
        let m = mech(p.len(), &nonce, &aad, 8);
        let out = single(&mut encrypt_init(&m, k.clone()).unwrap(), &p).unwrap();
        assert_eq!(out, want);
    }

    /// Every nonce and MAC length the parameter allows, against the `ccm`
    /// crate (whose sizes are types: a sample of them), multi-block text
    /// and long AAD included.
    #[test]
    fn cross_check_with_ccm_crate() {
        use ccm::aead::AeadInOut as _;
        use ccm::aead::consts::{U4, U7, U10, U13, U16};
        use ccm::{Ccm as CrateCcm, KeyInit as _};
        let key = [0x42u8; 32];
        let k = aes(&key);
        for len in [0usize, 1, 15, 16, 17, 100] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let aad: Vec<u8> = (0..300).map(|i| i as u8).collect();
            macro_rules! check {
                ($m:ty, $n:ty, $nl:expr, $ml:expr) => {{
                    let nonce = [7u8; $nl];
                    let mut reference = plain.clone();
                    let tag = CrateCcm::<aes::Aes256, $m, $n>::new(&key.into())
                        .encrypt_inout_detached(
                            &nonce.into(),
                            &aad,
                            reference.as_mut_slice().into(),
                        )
                        .unwrap();
                    reference.extend_from_slice(&tag);
                    let m = mech(len, &nonce, &aad, $ml);
                    let ours = single(&mut encrypt_init(&m, k.clone()).unwrap(), &plain).unwrap();
                    assert_eq!(ours, reference, "len {len} nonce {} mac {}", $nl, $ml);
                    let back = single(&mut decrypt_init(&m, k.clone()).unwrap(), &ours).unwrap();
                    assert_eq!(back, plain);
                }};
            }
            check!(U4, U7, 7, 4);
            check!(U16, U13, 13, 16);
            check!(U10, U10, 10, 10);
        }
    }

    /// The streaming encryption against the one-shot one (whose answers
    /// the vectors above check), every part size from 1 to 17, lengths
    /// around the block, with and without AAD.
    #[test]
    fn streaming_matches_one_shot() {
        let k = aes(&[0x24; 16]);
        for aad in [&b""[..], b"header", &[9u8; 40][..]] {
            for len in [0usize, 1, 15, 16, 17, 33, 100] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let m = mech(len, &[5; 11], aad, 10);
                let reference = {
                    let mut one = Buffered::new(
                        Ccm {
                            cipher: AesCipher::for_key(&k).unwrap(),
                            data_len: len,
                            nonce: vec![5; 11],
                            aad: aad.to_vec(),
                            mac_len: 10,
                        },
                        true,
                    );
                    one.update(&plain).unwrap();
                    one.finish().unwrap()
                };
                for step in 1..=17 {
                    let mut enc = encrypt_init(&m, k.clone()).unwrap();
                    let mut out = Vec::new();
                    for part in plain.chunks(step) {
                        let ct = enc.update(part).unwrap();
                        assert_eq!(ct.len(), part.len(), "streams");
                        out.extend(ct);
                    }
                    out.extend(enc.finish().unwrap());
                    assert_eq!(out, reference, "len {len} step {step}");
                }
            }
        }
    }

    #[test]
    fn lengths_and_parameters() {
        let k = aes(&[1; 16]);
        // ulDataLen is held to, both ways.
        let m = mech(4, &[0; 7], &[], 4);
        let mut enc = encrypt_init(&m, k.clone()).unwrap();
        assert_eq!(enc.single_len(3), None);
        assert_eq!(single(&mut enc, &[0; 3]).err(), Some(Error::DataLenRange));
        let mut enc = encrypt_init(&m, k.clone()).unwrap();
        assert_eq!(enc.update(&[0; 5]).err(), Some(Error::DataLenRange));
        let good = single(&mut encrypt_init(&m, k.clone()).unwrap(), &[0; 4]).unwrap();
        let mut dec = decrypt_init(&m, k.clone()).unwrap();
        assert_eq!(
            single(&mut dec, &good[..7]).err(),
            Some(Error::EncryptedDataLenRange)
        );
        // Bad nonce and MAC lengths, and a length the nonce cannot hold.
        for (nl, ml) in [(6, 4), (14, 4), (7, 2), (7, 5), (7, 18), (13, 0)] {
            assert_eq!(
                parse(4, &vec![0; nl], &[], ml).err(),
                Some(Error::MechanismParamInvalid),
                "{nl} {ml}"
            );
        }
        assert_eq!(
            parse(1 << 16, &[0; 13], &[], 4).err(),
            Some(Error::MechanismParamInvalid)
        );
        assert!(parse(0xffff, &[0; 13], &[], 4).is_ok());
        let chacha = Arc::new(Key::secret(CKK_CHACHA20, &[1; 32]).unwrap());
        assert_eq!(
            encrypt_init(&m, chacha).err(),
            Some(Error::KeyTypeInconsistent)
        );
        // Wrapping: the announced length is the key's.
        let wm = mech(32, &[3; 12], b"hdr", 16);
        let wrapped = wrap(&wm, &k, &[9; 32]).unwrap();
        assert_eq!(wrapped.len(), 48);
        assert_eq!(*unwrap(&wm, &k, &wrapped).unwrap(), [9; 32]);
        assert_eq!(wrap(&wm, &k, &[9; 16]).err(), Some(Error::KeyNotWrappable));
        assert_eq!(
            unwrap(&wm, &k, &wrapped[..40]).err(),
            Some(Error::WrappedKeyLenRange)
        );
    }
}
