//! NIST SP 800-108 key-based KDFs (PKCS#11 3.0 §2.42 "SP800-108 Key
//! Derivation"): CKM_SP800_108_COUNTER_KDF, CKM_SP800_108_FEEDBACK_KDF and
//! CKM_SP800_108_DOUBLE_PIPELINE_KDF with an HMAC (SHA-1, SHA-2, SHA-3) or
//! AES-CMAC PRF. The parameter as the ABI layer read it ([`RawKbkdf`]) is
//! checked here once into [`KbkdfParams`]; [`derive_keys`] makes the keying
//! material of every key of one C_DeriveKey call (the main key first, then
//! the CK_DERIVED_KEY entries in order), each from its own PRF segments.
//!
//! Not offered: CK_SP800_108_KEY_HANDLE data (a second key's value as PRF
//! input) and CKM_DES3_CMAC as PRF (no DES here): both are
//! CKR_MECHANISM_PARAM_INVALID.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::keys::Key;
use super::mac::MacState;
use super::{MechInfo, Mechanism, Params, cmac, hmac, row};
use crate::error::{Error, Result};
use crate::types::Attr;

/// Base key sizes in bits, as §2.42 asks for these mechanisms: one byte
/// of generic secret up to the largest secret key held (512 bytes).
pub(super) const ROWS: &[MechInfo] = &[
    row(CKM_SP800_108_COUNTER_KDF, 8, 4096, CKF_DERIVE),
    row(CKM_SP800_108_FEEDBACK_KDF, 8, 4096, CKF_DERIVE),
    row(CKM_SP800_108_DOUBLE_PIPELINE_KDF, 8, 4096, CKF_DERIVE),
];

/// Whether `mech` is one of the SP 800-108 mechanisms.
pub fn handles(mech: CK_MECHANISM_TYPE) -> bool {
    ROWS.iter().any(|r| r.mech == mech)
}

/// CK_SP800_108_COUNTER_FORMAT as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawCounterFormat {
    pub little_endian: bool,
    pub width_bits: CK_ULONG,
}

/// CK_SP800_108_DKM_LENGTH_FORMAT as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDkmFormat {
    pub method: CK_ULONG,
    pub little_endian: bool,
    pub width_bits: CK_ULONG,
}

/// One CK_PRF_DATA_PARAM, its value read by its type (a value of the
/// wrong size or an unknown type was already refused by the ABI layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawPrfData {
    /// CK_SP800_108_ITERATION_VARIABLE: a counter format, or None for
    /// NULL_PTR/0.
    Iteration(Option<RawCounterFormat>),
    /// CK_SP800_108_OPTIONAL_COUNTER.
    Counter(RawCounterFormat),
    /// CK_SP800_108_DKM_LENGTH.
    Dkm(RawDkmFormat),
    /// CK_SP800_108_BYTE_ARRAY.
    Bytes(Vec<u8>),
}

/// CK_SP800_108_KDF_PARAMS or CK_SP800_108_FEEDBACK_KDF_PARAMS with its
/// pointers followed. `iv` is None for the structure without an IV;
/// `additional` holds the CK_DERIVED_KEY templates (their handle pointers
/// stay in the ABI layer).
#[derive(Clone, PartialEq, Eq)]
pub struct RawKbkdf {
    pub prf: CK_MECHANISM_TYPE,
    pub data: Vec<RawPrfData>,
    pub iv: Option<Vec<u8>>,
    pub additional: Vec<Vec<Attr>>,
}

/// The PRF of a derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prf {
    Hmac(HashAlg),
    AesCmac,
}

impl Prf {
    fn from_mech(mech: CK_MECHANISM_TYPE) -> Result<Prf> {
        match (mech, HashAlg::from_hmac_mech(mech)) {
            (CKM_AES_CMAC, _) => Ok(Prf::AesCmac),
            (_, Some((hash, false))) => Ok(Prf::Hmac(hash)),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    /// Bytes per PRF output (h / 8).
    fn out_len(self) -> usize {
        match self {
            Prf::Hmac(hash) => hash.output_len(),
            Prf::AesCmac => 16,
        }
    }
}

/// A checked counter or length encoding: width in bytes, byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Encoding {
    bytes: usize,
    little_endian: bool,
}

impl Encoding {
    fn put(self, value: u64, out: &mut Vec<u8>) {
        if self.little_endian {
            out.extend(value.to_le_bytes().iter().take(self.bytes));
        } else {
            out.extend(value.to_be_bytes().iter().skip(8 - self.bytes));
        }
    }

    /// Whether `value` fits the width.
    fn holds(self, value: u64) -> bool {
        self.bytes >= 8 || value >> (self.bytes * 8) == 0
    }
}

/// A counter: 8, 16, 24 or 32 bits (SP 800-108 r <= 32).
fn counter(f: &RawCounterFormat) -> Result<Encoding> {
    match f.width_bits {
        8 | 16 | 24 | 32 => Ok(Encoding {
            bytes: f.width_bits as usize / 8,
            little_endian: f.little_endian,
        }),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// How the DKM length L is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DkmMethod {
    SumOfKeys,
    SumOfSegments,
}

/// One piece of the PRF input, in the caller's order.
#[derive(Clone, PartialEq, Eq)]
enum Segment {
    /// Counter mode: [i] in this encoding; feedback: K(i-1); double
    /// pipeline: A(i).
    Iteration(Option<Encoding>),
    Counter(Encoding),
    Dkm(Encoding, DkmMethod),
    Bytes(Vec<u8>),
}

/// The checked parameter of an SP 800-108 derivation.
#[derive(Clone, PartialEq, Eq)]
pub struct KbkdfParams {
    prf: Prf,
    segments: Vec<Segment>,
    iv: Vec<u8>,
    additional: Vec<Vec<Attr>>,
}

impl KbkdfParams {
    /// The templates of the additional keys (CK_DERIVED_KEY), in order.
    pub fn additional(&self) -> &[Vec<Attr>] {
        &self.additional
    }
}

/// Checks every rule §2.42 states for `mech`'s data parameters: exactly
/// one iteration variable (with a counter format in counter mode, none in
/// the other modes), an optional counter only outside counter mode and at
/// most once, at most one DKM length (8 to 64 bits, a known method),
/// non-empty byte arrays, an IV only with the feedback structure, a PRF
/// from the table. Anything else: CKR_MECHANISM_PARAM_INVALID.
pub fn parse(mech: CK_MECHANISM_TYPE, raw: &RawKbkdf) -> Result<KbkdfParams> {
    let bad = Error::MechanismParamInvalid;
    let prf = Prf::from_mech(raw.prf)?;
    let counter_mode = mech == CKM_SP800_108_COUNTER_KDF;
    let iv = match (mech, &raw.iv) {
        (CKM_SP800_108_FEEDBACK_KDF, Some(iv)) => iv.clone(),
        (CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF, None) => Vec::new(),
        _ => return Err(bad),
    };
    let (mut iterations, mut counters, mut dkms) = (0usize, 0usize, 0usize);
    let mut segments = Vec::with_capacity(raw.data.len());
    for d in &raw.data {
        segments.push(match d {
            RawPrfData::Iteration(f) => {
                iterations += 1;
                match (counter_mode, f) {
                    (true, Some(f)) => Segment::Iteration(Some(counter(f)?)),
                    (false, None) => Segment::Iteration(None),
                    _ => return Err(bad),
                }
            }
            RawPrfData::Counter(f) if !counter_mode => {
                counters += 1;
                Segment::Counter(counter(f)?)
            }
            RawPrfData::Counter(_) => return Err(bad),
            RawPrfData::Dkm(f) => {
                dkms += 1;
                let method = match f.method {
                    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => DkmMethod::SumOfKeys,
                    CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => DkmMethod::SumOfSegments,
                    _ => return Err(bad),
                };
                if f.width_bits == 0 || f.width_bits > 64 || f.width_bits % 8 != 0 {
                    return Err(bad);
                }
                let enc = Encoding {
                    bytes: f.width_bits as usize / 8,
                    little_endian: f.little_endian,
                };
                Segment::Dkm(enc, method)
            }
            RawPrfData::Bytes(b) if !b.is_empty() => Segment::Bytes(b.clone()),
            RawPrfData::Bytes(_) => return Err(bad),
        });
    }
    if iterations != 1 || counters > 1 || dkms > 1 {
        return Err(bad);
    }
    Ok(KbkdfParams {
        prf,
        segments,
        iv,
        additional: raw.additional.clone(),
    })
}

/// A PRF keyed with the base key (one per derivation, on the stack: the
/// size difference does not matter).
#[allow(clippy::large_enum_variant)]
enum Keyed {
    Hmac(hmac::State),
    Cmac(cmac::State),
}

impl Keyed {
    /// The base key must suit the PRF: a generic secret or the hash's own
    /// HMAC key type for HMAC, an AES key for CMAC.
    fn new(prf: Prf, base: &Key) -> Result<Keyed> {
        let Key::Secret {
            key_type, value, ..
        } = base
        else {
            return Err(Error::KeyTypeInconsistent);
        };
        match prf {
            Prf::Hmac(hash)
                if *key_type == CKK_GENERIC_SECRET || *key_type == hash.hmac_key_type() =>
            {
                Ok(Keyed::Hmac(hmac::State::new(hash, value)?))
            }
            Prf::AesCmac if *key_type == CKK_AES => Ok(Keyed::Cmac(cmac::State::new(value)?)),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// PRF(K, parts…) into `out` (exactly one PRF output long).
    fn run(&self, parts: &[u8], out: &mut [u8]) -> Result<()> {
        let done = match self {
            Keyed::Hmac(s) => {
                let mut s = s.clone();
                s.update(parts);
                s.finalize_into(out)
            }
            Keyed::Cmac(s) => {
                let mut s = s.clone();
                s.update(parts);
                s.finalize_into(out)
            }
        };
        if done {
            Ok(())
        } else {
            Err(Error::GeneralError)
        }
    }
}

/// Derives one value per entry of `lens` (bytes, each at least one) from
/// `base`, in order, each from its own whole PRF segments (§2.42 "Deriving
/// Additional Keys": no key shares a segment with another). A request
/// the counter width cannot count to, or whose DKM length does not fit
/// its width, is CKR_MECHANISM_PARAM_INVALID.
pub fn derive_keys(
    mech: &Mechanism,
    base: &Key,
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    let Params::Kbkdf(p) = &mech.params else {
        return Err(Error::MechanismParamInvalid);
    };
    if !handles(mech.mech) {
        return Err(Error::MechanismInvalid);
    }
    let keyed = Keyed::new(p.prf, base)?;
    if lens.is_empty() || lens.contains(&0) {
        return Err(Error::TemplateInconsistent);
    }
    let h = p.prf.out_len();
    let blocks: Vec<usize> = lens.iter().map(|n| n.div_ceil(h)).collect();
    let total_blocks = blocks
        .iter()
        .try_fold(0usize, |a, b| a.checked_add(*b))
        .ok_or(Error::MechanismParamInvalid)?;
    let n = u64::try_from(total_blocks).map_err(|_| Error::MechanismParamInvalid)?;
    let key_bytes = lens
        .iter()
        .try_fold(0usize, |a, b| a.checked_add(*b))
        .ok_or(Error::MechanismParamInvalid)?;
    let bits = |bytes: usize| {
        u64::try_from(bytes)
            .ok()
            .and_then(|b| b.checked_mul(8))
            .ok_or(Error::MechanismParamInvalid)
    };
    let sum_of_keys = bits(key_bytes)?;
    let sum_of_segments = bits(
        total_blocks
            .checked_mul(h)
            .ok_or(Error::MechanismParamInvalid)?,
    )?;
    // SP 800-108: at most 2^32 - 1 iterations, and no more than a counter
    // of r bits can number.
    if n > u64::from(u32::MAX) {
        return Err(Error::MechanismParamInvalid);
    }
    for s in &p.segments {
        let fits = match s {
            Segment::Iteration(Some(e)) | Segment::Counter(e) => e.holds(n),
            Segment::Dkm(e, DkmMethod::SumOfKeys) => e.holds(sum_of_keys),
            Segment::Dkm(e, DkmMethod::SumOfSegments) => e.holds(sum_of_segments),
            _ => true,
        };
        if !fits {
            return Err(Error::MechanismParamInvalid);
        }
    }
    let dkm = |method: DkmMethod| match method {
        DkmMethod::SumOfKeys => sum_of_keys,
        DkmMethod::SumOfSegments => sum_of_segments,
    };
    // The fixed input with the iteration variable (and counter) left out:
    // the double pipeline's A(0) (§2.42 "Double Pipeline Mode KDF").
    let mut a = Zeroizing::new(Vec::new());
    for s in &p.segments {
        match s {
            Segment::Dkm(e, m) => e.put(dkm(*m), &mut a),
            Segment::Bytes(b) => a.extend_from_slice(b),
            Segment::Iteration(_) | Segment::Counter(_) => {}
        }
    }
    let mut prev = Zeroizing::new(p.iv.clone());
    let mut stream = Zeroizing::new(vec![0u8; total_blocks * h]);
    let mut input = Zeroizing::new(Vec::new());
    for (i, block) in (1..=n).zip(stream.chunks_mut(h)) {
        if mech.mech == CKM_SP800_108_DOUBLE_PIPELINE_KDF {
            let mut next = Zeroizing::new(vec![0u8; h]);
            keyed.run(&a, &mut next)?;
            a = next;
        }
        input.clear();
        for s in &p.segments {
            match s {
                Segment::Iteration(Some(e)) => e.put(i, &mut input),
                Segment::Iteration(None) if mech.mech == CKM_SP800_108_FEEDBACK_KDF => {
                    input.extend_from_slice(&prev)
                }
                Segment::Iteration(None) => input.extend_from_slice(&a),
                Segment::Counter(e) => e.put(i, &mut input),
                Segment::Dkm(e, m) => e.put(dkm(*m), &mut input),
                Segment::Bytes(b) => input.extend_from_slice(b),
            }
        }
        keyed.run(&input, block)?;
        prev = Zeroizing::new(block.to_vec());
    }
    let mut out = Vec::with_capacity(lens.len());
    let mut rest: &[u8] = &stream;
    for (len, nblocks) in lens.iter().zip(&blocks) {
        let (mine, after) = rest
            .split_at_checked(nblocks * h)
            .ok_or(Error::GeneralError)?;
        let value = mine.get(..*len).ok_or(Error::GeneralError)?;
        out.push(Zeroizing::new(value.to_vec()));
        rest = after;
    }
    Ok(out)
}

/// The one-key form the family's `derive` answers: the length must be
/// known (CKA_VALUE_LEN; no key type held here has a fixed size).
pub(super) fn derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let len = len.ok_or(Error::TemplateIncomplete)?;
    derive_keys(mech, base, &[len])?
        .into_iter()
        .next()
        .ok_or(Error::GeneralError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    fn ctr(width: CK_ULONG) -> RawCounterFormat {
        RawCounterFormat {
            little_endian: false,
            width_bits: width,
        }
    }

    fn raw(prf: CK_MECHANISM_TYPE, data: Vec<RawPrfData>, iv: Option<&[u8]>) -> RawKbkdf {
        RawKbkdf {
            prf,
            data,
            iv: iv.map(<[u8]>::to_vec),
            additional: Vec::new(),
        }
    }

    fn mech(ty: CK_MECHANISM_TYPE, r: &RawKbkdf) -> Result<Mechanism> {
        Ok(Mechanism {
            mech: ty,
            params: Params::Kbkdf(Box::new(parse(ty, r)?)),
        })
    }

    fn run(ty: CK_MECHANISM_TYPE, r: &RawKbkdf, key: &Key, lens: &[usize]) -> Vec<Vec<u8>> {
        derive_keys(&mech(ty, r).unwrap(), key, lens)
            .unwrap()
            .into_iter()
            .map(|v| v.to_vec())
            .collect()
    }

    // NIST CAVP KBKDF, KDFCTR_gen.rsp, [PRF=HMAC_SHA256]
    // [CTRLOCATION=AFTER_FIXED] [RLEN=16_BITS] COUNT=30 (L = 320).
    const CTR_KI: &str = "357e401a680c447f2fb0e25171d8784d25ce9a4400bbfe04710526e98c69d347";
    const CTR_FIXED: &str = "32d6f66942c9a7cb28be7a58edd6e7e59850cf813014735284c276f39f4cbdea\
                             20ecfc8fd4fdc1abe3f7df78dddadf33f5e822ab771b29d2d5d2d384";
    const CTR_KO: &str = "cc877a51b8bf6dca6c622822706732eb82cc4d666865f65cb797df896a3aae7d\
                          532f67670bead853";

    #[test]
    fn counter_mode_cavp() {
        let key = Key::secret(CKK_GENERIC_SECRET, &unhex(CTR_KI)).unwrap();
        let r = raw(
            CKM_SHA256_HMAC,
            vec![
                RawPrfData::Bytes(unhex(CTR_FIXED)),
                RawPrfData::Iteration(Some(ctr(16))),
            ],
            None,
        );
        assert_eq!(
            run(CKM_SP800_108_COUNTER_KDF, &r, &key, &[40]),
            vec![unhex(CTR_KO)]
        );
    }

    // KDFFeedback_gen.rsp (FeedbackModeNOzeroiv), [PRF=CMAC_AES128]
    // [CTRLOCATION=BEFORE_ITER] [RLEN=8_BITS] COUNT=0.
    #[test]
    fn feedback_mode_cavp() {
        let key = Key::secret(CKK_AES, &unhex("6874c099a14942d5bcd823183a4ceb9c")).unwrap();
        let r = raw(
            CKM_AES_CMAC,
            vec![
                RawPrfData::Counter(ctr(8)),
                RawPrfData::Iteration(None),
                RawPrfData::Bytes(unhex(
                    "0909d62821ec989fe16d6d77358126d272fff3e2dc4795c5a9421bee65be679b\
                     9f651668fdbc2c13d2ef4932f8830b56e5e1e0",
                )),
            ],
            Some(&unhex("4ab31c84730527fbf008e446501bb26a")),
        );
        let want = unhex(
            "265062a5de896edbfc0d071bdfb6dfd18901f3786cee3c401e53c198e80e78ba\
             b17c7049c723d4cd9d334952509c44d7e7bc16627a1e7177b80157a3c56ac21b",
        );
        assert_eq!(
            run(CKM_SP800_108_FEEDBACK_KDF, &r, &key, &[64]),
            vec![want.clone()]
        );
        // The same stream cut into two keys on a segment boundary.
        assert_eq!(
            run(CKM_SP800_108_FEEDBACK_KDF, &r, &key, &[32, 32]),
            vec![want[..32].to_vec(), want[32..].to_vec()]
        );
        // A 20-byte first key takes two whole segments: the second key
        // starts at the third.
        let two = run(CKM_SP800_108_FEEDBACK_KDF, &r, &key, &[20, 16]);
        assert_eq!(two[0], want[..20].to_vec());
        assert_eq!(two[1], want[32..48].to_vec());
    }

    // KDFDblPipeline_gen.rsp (PipelineModewithCounter), [PRF=CMAC_AES128]
    // [CTRLOCATION=BEFORE_ITER] [RLEN=8_BITS] COUNT=0.
    #[test]
    fn double_pipeline_cavp() {
        let key = Key::secret(CKK_AES, &unhex("c6254d95dd108e9bb29e0053ddeec351")).unwrap();
        let r = raw(
            CKM_AES_CMAC,
            vec![
                RawPrfData::Counter(ctr(8)),
                RawPrfData::Iteration(None),
                RawPrfData::Bytes(unhex(
                    "22f498fc9b8d4b72188bce30ba9875fc2b0eb3fe76874d85426e6e5b3b237c9f\
                     445f2da20a60ab189802e2c152c4a3602aa342",
                )),
            ],
            None,
        );
        let want = unhex(
            "1e133a952df55a11ee038120375f61e7c0162842c817160693b1f39dc0b795bc\
             6f3691db775cf3af4b0a9f69fecbe99679fd4b4873dda743f5c6a2d2e873f26d",
        );
        assert_eq!(
            run(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &r, &key, &[64]),
            vec![want]
        );
    }

    #[test]
    fn encodings_and_dkm() {
        let mut v = Vec::new();
        Encoding {
            bytes: 3,
            little_endian: false,
        }
        .put(0x010203, &mut v);
        Encoding {
            bytes: 2,
            little_endian: true,
        }
        .put(0x0102, &mut v);
        assert_eq!(v, vec![1, 2, 3, 2, 1]);
        assert!(
            Encoding {
                bytes: 1,
                little_endian: false
            }
            .holds(255)
        );
        assert!(
            !Encoding {
                bytes: 1,
                little_endian: false
            }
            .holds(256)
        );
        // SUM_OF_KEYS counts the keys, SUM_OF_SEGMENTS whole segments: a
        // 48-byte and a 16-byte key with HMAC-SHA256 (§2.42's example) are
        // L = 512 and L = 768; an 8-bit DKM width cannot hold either.
        let key = Key::secret(CKK_GENERIC_SECRET, &[7; 32]).unwrap();
        let with = |method, width| {
            raw(
                CKM_SHA256_HMAC,
                vec![
                    RawPrfData::Iteration(Some(ctr(8))),
                    RawPrfData::Dkm(RawDkmFormat {
                        method,
                        little_endian: false,
                        width_bits: width,
                    }),
                ],
                None,
            )
        };
        let keys = run(
            CKM_SP800_108_COUNTER_KDF,
            &with(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 16),
            &key,
            &[48, 16],
        );
        let single = |l: u64| {
            let mut input = vec![3u8];
            input.extend_from_slice(&(l as u16).to_be_bytes());
            let mut s = hmac::State::new(HashAlg::Sha256, &[7; 32]).unwrap();
            s.update(&input);
            s.finalize()
        };
        assert_eq!(keys[1], single(512)[..16].to_vec());
        let keys = run(
            CKM_SP800_108_COUNTER_KDF,
            &with(CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS, 16),
            &key,
            &[48, 16],
        );
        assert_eq!(keys[1], single(768)[..16].to_vec());
        let m = mech(
            CKM_SP800_108_COUNTER_KDF,
            &with(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 8),
        )
        .unwrap();
        assert_eq!(
            derive_keys(&m, &key, &[48, 16]).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    #[test]
    fn parameter_rules() {
        let it = RawPrfData::Iteration(Some(ctr(8)));
        let none = RawPrfData::Iteration(None);
        let bytes = RawPrfData::Bytes(vec![1]);
        let dkm = RawPrfData::Dkm(RawDkmFormat {
            method: CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
            little_endian: false,
            width_bits: 16,
        });
        let c = CKM_SP800_108_COUNTER_KDF;
        let f = CKM_SP800_108_FEEDBACK_KDF;
        let d = CKM_SP800_108_DOUBLE_PIPELINE_KDF;
        let ok = |ty, data: Vec<RawPrfData>, iv: Option<&[u8]>| {
            parse(ty, &raw(CKM_SHA256_HMAC, data, iv)).map(drop)
        };
        assert_eq!(
            ok(c, vec![it.clone(), bytes.clone(), dkm.clone()], None),
            Ok(())
        );
        assert_eq!(
            ok(
                f,
                vec![none.clone(), RawPrfData::Counter(ctr(32))],
                Some(&[])
            ),
            Ok(())
        );
        assert_eq!(ok(d, vec![none.clone(), bytes.clone()], None), Ok(()));
        let bad = [
            (c, vec![bytes.clone()], None),          // no iteration variable
            (c, vec![it.clone(), it.clone()], None), // two
            (c, vec![none.clone()], None),           // counter mode needs a format
            (f, vec![it.clone()], Some(&[][..])),    // feedback must not have one
            (d, vec![it.clone()], None),
            (c, vec![it.clone(), RawPrfData::Counter(ctr(8))], None), // no optional counter
            (
                f,
                vec![
                    none.clone(),
                    RawPrfData::Counter(ctr(8)),
                    RawPrfData::Counter(ctr(8)),
                ],
                Some(&[][..]),
            ),
            (c, vec![it.clone(), dkm.clone(), dkm.clone()], None), // two DKM lengths
            (c, vec![RawPrfData::Iteration(Some(ctr(12)))], None), // width
            (c, vec![RawPrfData::Iteration(Some(ctr(64)))], None),
            (c, vec![RawPrfData::Iteration(Some(ctr(0)))], None),
            (c, vec![it.clone(), RawPrfData::Bytes(Vec::new())], None), // empty byte array
            (c, vec![it.clone()], Some(&[1u8][..])), // IV with the wrong structure
            (f, vec![none.clone()], None),           // feedback structure missing
        ];
        for (i, (ty, data, iv)) in bad.into_iter().enumerate() {
            assert_eq!(
                ok(ty, data, iv),
                Err(Error::MechanismParamInvalid),
                "case {i}"
            );
        }
        let dkm_bad = |method, width| {
            ok(
                c,
                vec![
                    it.clone(),
                    RawPrfData::Dkm(RawDkmFormat {
                        method,
                        little_endian: true,
                        width_bits: width,
                    }),
                ],
                None,
            )
        };
        assert_eq!(dkm_bad(3, 16), Err(Error::MechanismParamInvalid));
        assert_eq!(
            dkm_bad(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 12),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            dkm_bad(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, 72),
            Err(Error::MechanismParamInvalid)
        );
        for prf in [
            CKM_SHA256,
            CKM_DES3_CMAC,
            CKM_SHA256_HMAC_GENERAL,
            CKM_AES_CMAC_GENERAL,
        ] {
            assert_eq!(
                parse(c, &raw(prf, vec![it.clone()], None)).map(drop),
                Err(Error::MechanismParamInvalid)
            );
        }
    }

    #[test]
    fn base_keys_and_limits() {
        let r = raw(
            CKM_SHA256_HMAC,
            vec![RawPrfData::Iteration(Some(ctr(8)))],
            None,
        );
        let m = mech(CKM_SP800_108_COUNTER_KDF, &r).unwrap();
        for ok in [
            Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap(),
            Key::secret(CKK_SHA256_HMAC, &[1; 16]).unwrap(),
        ] {
            assert!(derive_keys(&m, &ok, &[32]).is_ok());
        }
        for bad in [
            Key::secret(CKK_AES, &[1; 16]).unwrap(),
            Key::secret(CKK_SHA384_HMAC, &[1; 16]).unwrap(),
        ] {
            assert_eq!(
                derive_keys(&m, &bad, &[32]).unwrap_err(),
                Error::KeyTypeInconsistent
            );
        }
        let cmac = mech(
            CKM_SP800_108_COUNTER_KDF,
            &raw(
                CKM_AES_CMAC,
                vec![RawPrfData::Iteration(Some(ctr(8)))],
                None,
            ),
        )
        .unwrap();
        let generic = Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap();
        assert_eq!(
            derive_keys(&cmac, &generic, &[16]).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        // An 8-bit counter numbers 255 segments of 32 bytes, no more.
        let key = Key::secret(CKK_GENERIC_SECRET, &[1; 16]).unwrap();
        assert!(derive_keys(&m, &key, &[255 * 32]).is_ok());
        assert_eq!(
            derive_keys(&m, &key, &[255 * 32 + 1]).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            derive(&m, &key, None).unwrap_err(),
            Error::TemplateIncomplete
        );
    }
}
