//! The caller-controlled inputs of the post-quantum and SP 800-108 code:
//! ML-KEM encapsulation keys, ciphertexts and PKCS#8 bodies, ML-DSA public
//! keys and signatures, and SP 800-108 parameters of any shape. None may
//! panic; a KBKDF parameter that parses must derive or fail cleanly.
#![no_main]

use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;
use keyward::mechanism::ml_kem::{MlKemPrivate, MlKemPublic, ParamSet, private_from_pkcs8};
use keyward::mechanism::{
    Key, Mechanism, RawCounterFormat, RawDkmFormat, RawKbkdf, RawParam, RawPrfData, derive_keys,
    verify_init,
};
use libfuzzer_sys::fuzz_target;

const KEM_SETS: [u64; 3] = [1, 2, 3];
const DSA_SETS: [CK_ULONG; 3] = [CKP_ML_DSA_44, CKP_ML_DSA_65, CKP_ML_DSA_87];

/// One key per parameter set, made once (expansion is the slow part).
fn kem_keys() -> &'static Vec<MlKemPrivate> {
    static KEYS: OnceLock<Vec<MlKemPrivate>> = OnceLock::new();
    KEYS.get_or_init(|| {
        KEM_SETS
            .iter()
            .filter_map(|s| ParamSet::from_ckp(*s).ok())
            .filter_map(|set| MlKemPrivate::from_seed(set, &[7; 64]).ok())
            .collect()
    })
}

fn dsa_publics() -> &'static Vec<Arc<Key>> {
    static KEYS: OnceLock<Vec<Arc<Key>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        DSA_SETS
            .iter()
            .filter_map(|set| Key::ml_dsa_private(*set, &[9; 32]).ok())
            .filter_map(|k| k.to_public().ok())
            .map(Arc::new)
            .collect()
    })
}

/// A KBKDF parameter read from fuzz bytes: each data entry takes a tag
/// byte and what it needs.
fn kbkdf_param(mut b: &[u8]) -> Option<(CK_MECHANISM_TYPE, RawKbkdf, Vec<usize>)> {
    let mut take = |n: usize| -> Option<&[u8]> {
        let (h, t) = b.split_at_checked(n)?;
        b = t;
        Some(h)
    };
    let head = take(4)?;
    let mech = [
        CKM_SP800_108_COUNTER_KDF,
        CKM_SP800_108_FEEDBACK_KDF,
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
    ][usize::from(head[0]) % 3];
    let prf = [
        CKM_SHA256_HMAC,
        CKM_SHA_1_HMAC,
        CKM_SHA3_512_HMAC,
        CKM_AES_CMAC,
        CKM_SHA256,
    ][usize::from(head[1]) % 5];
    let lens = vec![usize::from(head[2] % 80), usize::from(head[3] % 40)];
    let mut data = Vec::new();
    while let Some(tag) = take(1) {
        let width = |x: u8| CK_ULONG::from(x);
        let entry = match tag[0] % 5 {
            0 => RawPrfData::Iteration(None),
            1 => {
                let f = take(2)?;
                RawPrfData::Iteration(Some(RawCounterFormat {
                    little_endian: f[0] & 1 == 1,
                    width_bits: width(f[1]),
                }))
            }
            2 => {
                let f = take(2)?;
                RawPrfData::Counter(RawCounterFormat {
                    little_endian: f[0] & 1 == 1,
                    width_bits: width(f[1]),
                })
            }
            3 => {
                let f = take(3)?;
                RawPrfData::Dkm(RawDkmFormat {
                    method: width(f[0] % 3),
                    little_endian: f[1] & 1 == 1,
                    width_bits: width(f[2]),
                })
            }
            _ => {
                let n = take(1)?;
                RawPrfData::Bytes(take(usize::from(n[0] % 32))?.to_vec())
            }
        };
        data.push(entry);
    }
    let iv = (mech == CKM_SP800_108_FEEDBACK_KDF).then(|| vec![1; usize::from(head[0] % 17)]);
    Some((
        mech,
        RawKbkdf {
            prf,
            data,
            iv,
            additional: Vec::new(),
        },
        lens,
    ))
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let set = usize::from(*sel / 8) % 3;
    match sel % 6 {
        0 => {
            if let Ok(s) = ParamSet::from_ckp(KEM_SETS[set]) {
                if let Ok(public) = MlKemPublic::new(s, rest) {
                    let _ = public.encapsulate();
                }
            }
        }
        1 => {
            if let Some(k) = kem_keys().get(set) {
                let _ = k.decapsulate(rest);
            }
        }
        2 => {
            if let Ok(s) = ParamSet::from_ckp(KEM_SETS[set]) {
                let _ = private_from_pkcs8(s, rest);
            }
        }
        3 => {
            let _ = Key::ml_dsa_public(DSA_SETS[set], rest);
        }
        4 => {
            // A signature of any length over a short message.
            if let Some(k) = dsa_publics().get(set) {
                if let Ok(m) = Mechanism::parse(CKM_ML_DSA, None) {
                    if let Ok(mut op) = verify_init(&m, Arc::clone(k)) {
                        let _ = op.update(b"fuzz").and_then(|()| op.finish(rest));
                    }
                }
            }
        }
        _ => {
            let Some((mech, raw, lens)) = kbkdf_param(rest) else {
                return;
            };
            if let Ok(m) = Mechanism::from_raw(mech, &RawParam::Kbkdf(raw)) {
                let base = if rest.first().is_some_and(|b| b & 1 == 1) {
                    Key::secret(CKK_AES, &[3; 16])
                } else {
                    Key::secret(CKK_GENERIC_SECRET, &[3; 32])
                };
                if let Ok(base) = base {
                    let _ = derive_keys(&m, &base, &lens);
                }
            }
        }
    }
});
