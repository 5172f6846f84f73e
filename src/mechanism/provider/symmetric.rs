//! The symmetric seam of the aws-lc build (issue 12): what the AES, GCM,
//! key-wrap, HMAC, CMAC and digest families call so that their primitive
//! runs in AWS-LC (symmetric_aws_lc.rs holds the aws-lc side). Compiled in
//! the aws-lc builds only: the default build keeps its tuned RustCrypto
//! paths untouched, and every hook in a family file sits under
//! `cfg(feature = "aws-lc")`.
//!
//! How each family uses it (the family keeps the PKCS#11 logic):
//! - GCM (gcm_fast.rs, aes_aead.rs): the key's cached `GcmFast` is a
//!   [`GcmKey`]; single-part calls and buffered decryption with a 12-byte
//!   IV and 16-byte tag run in aws-lc, other shapes pass
//!   [`own_path`] (the fallback gate) first.
//! - ECB/CBC/CBC-PAD/CTR (aes_modes.rs): the operation holds the key's
//!   cached [`AesKeys`] when [`mode_in_aws_lc`] says so, and runs its
//!   whole blocks / counter runs there; padding, buffering and the CTR
//!   counter rules stay in the family.
//! - Key wrap (aes_keywrap.rs): [`AesKeys`]' KW/KWP with the RFC default
//!   IVs; CKM_AES_KEY_WRAP_PAD is the family's PKCS#7 padding over KW.
//! - HMAC, CMAC (hmac.rs, cmac.rs): the key's cached MAC state is a
//!   [`HmacState`] / [`CmacState`] (cloned per operation as before).
//! - Digests (digest.rs): in the FIPS build only, [`hasher`].
//!
//! The aws-lc forms of a key are built once per `Key` and cached with its
//! schedules (schedule.rs): the GCM and MAC states in the slots they
//! replace, [`AesKeys`] in its own slot next to the AES round keys (and
//! counted with them: one AES schedule per key, whichever provider holds
//! it). A cloned key starts empty.

use std::sync::Arc;

pub(in crate::mechanism) use super::symmetric_aws_lc::{AesKeys, CmacState, GcmKey, HmacState};
use crate::error::Result;

/// The AES block modes of aes_modes.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::mechanism) enum Mode {
    Ecb,
    /// CBC and CBC-PAD.
    Cbc,
    Ctr,
}

/// Whether this build runs `mode` in aws-lc. The FIPS build runs every
/// mode there. The plain aws-lc build chooses by measurement at 4 KiB and
/// 1 MiB (benches/ops, aws-lc-rs vs the RustCrypto crates on the same
/// machine): see the values below.
pub(in crate::mechanism) const fn mode_in_aws_lc(mode: Mode) -> bool {
    if super::FIPS {
        return true;
    }
    match mode {
        // Measured (benches/ops, medians of 5 interleaved runs, AES-256,
        // Keyward ops/s, this build vs the default build): CTR 4 KiB
        // 837k vs 738k, 1 MiB 6,121 vs 5,213; CBC-PAD 4 KiB 198k vs 195k,
        // 1 MiB 922 vs 800. AWS-LC is faster at both sizes for both.
        Mode::Ctr => true,
        Mode::Cbc => true,
        // Not measured by a bench row: aws-lc-rs's ECB calls
        // AES_ecb_encrypt one block at a time, where the `aes` crate
        // pipelines 8 blocks, so RustCrypto stays.
        Mode::Ecb => false,
    }
}

/// Whether HMAC runs in aws-lc. The FIPS build: always (approved-only).
/// The plain aws-lc build keeps RustCrypto's HMAC: measured (benches/ops,
/// two interleaved runs, HMAC-SHA256) aws-lc's was 15–25% slower at 64 B
/// and level to 13% slower at 4 KiB, so moving it would cost speed for
/// nothing (both are ≥ 20× SoftHSMv2 there). CMAC, 35% faster, moves.
pub(in crate::mechanism) const HMAC_IN_AWS_LC: bool = super::FIPS;

/// The gate a family passes before running its own (RustCrypto) code for
/// a shape aws-lc does not serve: refused in the FIPS build.
pub(in crate::mechanism) fn own_path() -> Result<()> {
    super::fallback_allowed()
}

/// The aws-lc form of an AES key for the block modes and key wraps.
pub(in crate::mechanism) fn aes_keys(key: &[u8]) -> Result<Arc<AesKeys>> {
    AesKeys::new(key).map(Arc::new)
}

/// The FIPS build's hasher: SHA-1/2/3 in AWS-LC (None: SHA3-224, which
/// aws-lc-rs lacks).
#[cfg(feature = "fips")]
pub(in crate::mechanism) fn hasher(
    hash: crate::mechanism::digest::HashAlg,
) -> Option<Box<dyn crate::mechanism::digest::DigestOp>> {
    super::symmetric_aws_lc::Hasher::new(hash)
        .map(|h| Box::new(h) as Box<dyn crate::mechanism::digest::DigestOp>)
}

/// Cross-provider tests: what aws-lc makes, the RustCrypto code (the
/// default build's, in this same binary) undoes and matches byte for byte,
/// and the other way round; `ran` shows aws-lc served each claimed shape.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cryptoki_sys::*;

    use super::super::symmetric_aws_lc::ran_in_this_thread;
    use super::*;
    use crate::error::Error;
    use crate::mechanism::aes::AesCipher;
    use crate::mechanism::aes_keywrap::{KeyWrapOp, WrapKind};
    use crate::mechanism::aes_modes::{BlockModeOp, CtrOp};
    use crate::mechanism::cipher::CipherOp;
    use crate::mechanism::digest::HashAlg;
    use crate::mechanism::mac::MacState;
    use crate::mechanism::schedule::Schedules;

    /// What `f` returned, and whether aws-lc served (part of) it.
    fn served<T>(f: impl FnOnce() -> T) -> (T, bool) {
        let before = ran_in_this_thread();
        let out = f();
        (out, ran_in_this_thread() > before)
    }

    fn key(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(29) ^ 0x5a)
            .collect()
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(7)).collect()
    }

    /// Runs `op` one-shot (`chunk` 0) or in parts of `chunk` bytes.
    fn run(op: &mut dyn CipherOp, input: &[u8], chunk: usize) -> crate::error::Result<Vec<u8>> {
        if chunk == 0 {
            let mut out = vec![0u8; input.len() + 64];
            if let Some(n) = op.single_into(input, &mut out)? {
                out.truncate(n);
                return Ok(out);
            }
            let mut out = op.update(input)?;
            out.extend(op.finish()?);
            return Ok(out);
        }
        let mut out = Vec::new();
        for part in input.chunks(chunk) {
            out.extend(op.update(part)?);
        }
        out.extend(op.finish()?);
        Ok(out)
    }

    fn rc_cipher(k: &[u8]) -> Arc<AesCipher> {
        Arc::new(AesCipher::new(k).unwrap())
    }

    // Uses fallback shapes as the reference: see fips_refuses_fallbacks.
    #[cfg(not(feature = "fips"))]
    #[test]
    fn gcm_cross_provider_both_ways() {
        use crate::mechanism::aes_aead::Gcm;
        use aes_gcm::aead::AeadInOut;
        use aes_gcm::aead::consts::U12;
        use aes_gcm::{AesGcm, KeyInit};
        let iv = [3u8; 12];
        let aad = b"header";
        for klen in [16, 24, 32] {
            let k = key(klen);
            let lc = GcmKey::new(&k).expect("aws-lc GCM for every AES size");
            for len in [0usize, 1, 15, 16, 17, 100, 4099] {
                let plain = data(len);
                // aws-lc seals.
                let mut ct = vec![0u8; len];
                let (tag, on_aws) = served(|| lc.seal(&iv, aad, &plain, &mut ct).unwrap());
                assert!(on_aws);
                // RustCrypto: the aes-gcm crate and our own GCM code.
                let mut reference = plain.clone();
                let rc_tag = match klen {
                    16 => AesGcm::<aes::Aes128, U12>::new_from_slice(&k)
                        .unwrap()
                        .encrypt_inout_detached(&iv.into(), aad, reference.as_mut_slice().into()),
                    24 => AesGcm::<aes::Aes192, U12>::new_from_slice(&k)
                        .unwrap()
                        .encrypt_inout_detached(&iv.into(), aad, reference.as_mut_slice().into()),
                    _ => AesGcm::<aes::Aes256, U12>::new_from_slice(&k)
                        .unwrap()
                        .encrypt_inout_detached(&iv.into(), aad, reference.as_mut_slice().into()),
                }
                .unwrap();
                assert_eq!((ct.clone(), tag.to_vec()), (reference, rc_tag.to_vec()));
                let sched = Schedules::default();
                let own = |encrypt| {
                    let ghash = sched.ghash(&k).unwrap().clone();
                    Gcm::new(rc_cipher(&k), ghash, &iv, aad, 16, encrypt).unwrap()
                };
                let sealed = [ct.clone(), tag.to_vec()].concat();
                assert_eq!(
                    run(&mut own(false), &sealed, 7).unwrap(),
                    plain,
                    "{klen} {len}"
                );
                assert_eq!(run(&mut own(true), &plain, 0).unwrap(), sealed);
                // RustCrypto's sealing opens in aws-lc; a flipped bit does not.
                let mut back = vec![0u8; len];
                let (ok, on_aws) = served(|| lc.open(&iv, aad, &ct, &mut back, &tag));
                assert_eq!((ok, on_aws), (Ok(()), true));
                assert_eq!(back, plain);
                let mut bad = tag;
                bad[0] ^= 1;
                assert_eq!(
                    lc.open(&iv, aad, &ct, &mut back, &bad),
                    Err(Error::EncryptedDataInvalid)
                );
                // A forged message writes nothing (AWS-LC works in scratch).
                assert_eq!(back, plain);
            }
        }
    }

    /// Through the mechanism layer: single-part both ways and buffered
    /// multi-part decryption run in aws-lc; multi-part encryption and an
    /// 8-byte IV keep the own code (and still agree).
    // Uses fallback shapes as the reference: see fips_refuses_fallbacks.
    #[cfg(not(feature = "fips"))]
    #[test]
    fn gcm_mechanism_shapes() {
        use crate::mechanism::{Key, Mechanism, Params};
        let k = Arc::new(Key::secret(CKK_AES, &key(32)).unwrap());
        let gcm = |iv: &[u8], tag_len| Mechanism {
            mech: CKM_AES_GCM,
            params: Params::Gcm {
                iv: iv.to_vec(),
                aad: b"aad".to_vec(),
                tag_len,
            },
        };
        let plain = data(1000);
        let m = gcm(&[1; 12], 16);
        let enc = || crate::mechanism::aes::encrypt_init(&m, &k).unwrap();
        let dec = || crate::mechanism::aes::decrypt_init(&m, &k).unwrap();
        let (one_shot, on_aws) = served(|| run(enc().as_mut(), &plain, 0).unwrap());
        assert!(on_aws);
        let (parts, on_aws) = served(|| run(enc().as_mut(), &plain, 100).unwrap());
        assert!(!on_aws, "streamed encryption is the own code");
        assert_eq!(one_shot, parts);
        for chunk in [0, 33] {
            let (back, on_aws) = served(|| run(dec().as_mut(), &one_shot, chunk).unwrap());
            assert_eq!((back, on_aws), (plain.clone(), true), "chunk {chunk}");
        }
        let mut bad = one_shot.clone();
        bad[10] ^= 1;
        assert_eq!(
            run(dec().as_mut(), &bad, 50).err(),
            Some(Error::EncryptedDataInvalid)
        );
        let m8 = gcm(&[1; 8], 16);
        let (ct8, on_aws) = served(|| {
            let mut op = crate::mechanism::aes::encrypt_init(&m8, &k).unwrap();
            run(op.as_mut(), &plain, 0).unwrap()
        });
        assert!(!on_aws);
        let mut op = crate::mechanism::aes::decrypt_init(&m8, &k).unwrap();
        assert_eq!(run(op.as_mut(), &ct8, 0).unwrap(), plain);
    }

    #[test]
    fn block_modes_cross_provider_both_ways() {
        let iv = [9u8; 16];
        for klen in [16, 24, 32] {
            let k = key(klen);
            let lc = aes_keys(&k).unwrap();
            // (iv, pad) for ECB, CBC, CBC_PAD.
            for (mode_iv, pad) in [(None, false), (Some(iv), false), (Some(iv), true)] {
                let lens: &[usize] = if pad {
                    &[0, 1, 15, 16, 17, 100, 4096, 5000]
                } else {
                    &[16, 32, 160, 4096, 5008]
                };
                for &len in lens {
                    let plain = data(len);
                    let rc = |encrypt| BlockModeOp::new(rc_cipher(&k), mode_iv, pad, encrypt);
                    let aws = |encrypt| rc(encrypt).with_aws_lc(lc.clone());
                    for chunk in [0, 7, 16, 1000] {
                        let (ct, on_aws) = served(|| run(&mut aws(true), &plain, chunk).unwrap());
                        assert!(on_aws || ct.is_empty());
                        let reference = run(&mut rc(true), &plain, chunk).unwrap();
                        assert_eq!(ct, reference, "{klen} {mode_iv:?} {pad} {len} {chunk}");
                        let (back, on_aws) = served(|| run(&mut aws(false), &ct, chunk).unwrap());
                        assert!(on_aws);
                        assert_eq!(back, plain);
                        assert_eq!(run(&mut rc(false), &ct, chunk).unwrap(), plain);
                    }
                }
            }
            // CBC_PAD: bad padding is refused by both.
            let raw = run(
                &mut BlockModeOp::new(rc_cipher(&k), Some(iv), false, true),
                &[0u8; 32],
                0,
            )
            .unwrap();
            let mut op = BlockModeOp::new(rc_cipher(&k), Some(iv), true, false).with_aws_lc(lc);
            assert_eq!(
                run(&mut op, &raw, 0).err(),
                Some(Error::EncryptedDataInvalid)
            );
        }
    }

    /// CTR: any counter width, parts that end mid-block, and the run up
    /// to the counter's last value, the same bytes in both providers.
    #[test]
    fn ctr_cross_provider_both_ways() {
        for klen in [16, 32] {
            let k = key(klen);
            let lc = aes_keys(&k).unwrap();
            for bits in [128u32, 64, 32, 8] {
                let mut block = [0xf0u8; 16];
                // Four blocks before the counter's last value.
                let mask = if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                let start = (u128::from_be_bytes(block) & !mask) | (mask - 3);
                block = start.to_be_bytes();
                let rc = || CtrOp::new(rc_cipher(&k), bits, block).unwrap();
                let aws = || rc().with_aws_lc(lc.clone());
                for chunk in [0, 1, 5, 16, 23] {
                    let plain = data(64);
                    let (ct, on_aws) = served(|| run(&mut aws(), &plain, chunk).unwrap());
                    assert!(on_aws);
                    assert_eq!(ct, run(&mut rc(), &plain, chunk).unwrap(), "{bits} {chunk}");
                    assert_eq!(run(&mut rc(), &ct, chunk).unwrap(), plain);
                    assert_eq!(run(&mut aws(), &ct, 0).unwrap(), plain);
                    // One byte more would wrap the counter: refused first.
                    if bits < 128 {
                        assert_eq!(
                            run(&mut aws(), &data(65), chunk).err(),
                            Some(Error::DataLenRange)
                        );
                    }
                }
            }
            // A long run from an ordinary counter.
            let block = [0x11u8; 16];
            let plain = data(70_000);
            let ct = run(
                &mut CtrOp::new(rc_cipher(&k), 32, block).unwrap(),
                &plain,
                0,
            )
            .unwrap();
            let mut op = CtrOp::new(rc_cipher(&k), 32, block)
                .unwrap()
                .with_aws_lc(lc.clone());
            assert_eq!(run(&mut op, &plain, 4097).unwrap(), ct);
        }
    }

    // Uses fallback shapes as the reference: see fips_refuses_fallbacks.
    #[cfg(not(feature = "fips"))]
    #[test]
    fn key_wraps_cross_provider_both_ways() {
        let kinds = [
            WrapKind::Kw([0xA6; 8]),
            WrapKind::Kwp([0xA6, 0x59, 0x59, 0xA6]),
            WrapKind::Pad,
        ];
        for klen in [16, 32] {
            let k = key(klen);
            let lc = aes_keys(&k).unwrap();
            for kind in kinds {
                let lens: &[usize] = match kind {
                    WrapKind::Kw(_) => &[16, 24, 32, 64],
                    // PKCS#7 then KW: at least two semiblocks once padded.
                    WrapKind::Pad => &[8, 9, 15, 16, 21, 32, 33],
                    WrapKind::Kwp(_) => &[1, 7, 8, 9, 16, 21, 32, 33],
                };
                for &len in lens {
                    let material = data(len);
                    let rc = |e| KeyWrapOp::new(rc_cipher(&k), kind, e);
                    let aws = |e| rc(e).with_aws_lc(lc.clone());
                    let (wrapped, on_aws) = served(|| run(&mut aws(true), &material, 0).unwrap());
                    assert!(on_aws, "{kind:?} {len}");
                    assert_eq!(wrapped, run(&mut rc(true), &material, 0).unwrap());
                    assert_eq!(run(&mut rc(false), &wrapped, 0).unwrap(), material);
                    let (back, on_aws) = served(|| run(&mut aws(false), &wrapped, 3).unwrap());
                    assert_eq!((back, on_aws), (material.clone(), true));
                    let mut bad = wrapped.clone();
                    bad[2] ^= 1;
                    assert_eq!(
                        run(&mut aws(false), &bad, 0).err(),
                        Some(Error::EncryptedDataInvalid)
                    );
                }
            }
            // Lengths are the family's rules, the same in both.
            let kw = WrapKind::Kw([0xA6; 8]);
            for (len, encrypt) in [(8, true), (20, true), (16, false), (20, false)] {
                let a = run(
                    &mut KeyWrapOp::new(rc_cipher(&k), kw, encrypt),
                    &data(len),
                    0,
                );
                let b = run(
                    &mut KeyWrapOp::new(rc_cipher(&k), kw, encrypt).with_aws_lc(lc.clone()),
                    &data(len),
                    0,
                );
                assert_eq!(a.err(), b.err(), "{len} {encrypt}");
            }
            // A caller IV is not an aws-lc shape: the own code serves it.
            let custom = WrapKind::Kw([1; 8]);
            let mut op = KeyWrapOp::new(rc_cipher(&k), custom, true).with_aws_lc(lc.clone());
            let (w, on_aws) = served(|| run(&mut op, &data(16), 0).unwrap());
            assert!(!on_aws);
            assert_eq!(
                w,
                run(
                    &mut KeyWrapOp::new(rc_cipher(&k), custom, true),
                    &data(16),
                    0
                )
                .unwrap()
            );
        }
        // C_WrapKey / C_UnwrapKey's one-call path runs in aws-lc too.
        use crate::mechanism::aes_keywrap::{unwrap_key, wrap_key};
        use crate::mechanism::{Key, Mechanism};
        let k = key(32);
        let kek = Key::secret(CKK_AES, &k).unwrap();
        for (mech, kind) in [
            (CKM_AES_KEY_WRAP, WrapKind::Kw([0xA6; 8])),
            (
                CKM_AES_KEY_WRAP_KWP,
                WrapKind::Kwp([0xA6, 0x59, 0x59, 0xA6]),
            ),
            (CKM_AES_KEY_WRAP_PAD, WrapKind::Pad),
        ] {
            let m = Mechanism::parse(mech, None).unwrap();
            let material = data(24);
            let (wrapped, on_aws) = served(|| wrap_key(&m, &kek, &material).unwrap());
            assert!(on_aws, "{mech:#x}");
            let rc = run(&mut KeyWrapOp::new(rc_cipher(&k), kind, true), &material, 0).unwrap();
            assert_eq!(wrapped, rc);
            let (back, on_aws) = served(|| unwrap_key(&m, &kek, &wrapped).unwrap());
            assert_eq!((back.to_vec(), on_aws), (material, true));
            let mut bad = wrapped.clone();
            bad[0] ^= 1;
            assert_eq!(
                unwrap_key(&m, &kek, &bad).err(),
                Some(Error::WrappedKeyInvalid)
            );
        }
        // AES-192 has no aws-lc key wrap: own code, same answer.
        let k = key(24);
        let lc = aes_keys(&k).unwrap();
        assert!(!lc.wraps());
        let kind = WrapKind::Kw([0xA6; 8]);
        let mut op = KeyWrapOp::new(rc_cipher(&k), kind, true).with_aws_lc(lc);
        let (w, on_aws) = served(|| run(&mut op, &data(32), 0).unwrap());
        assert!(!on_aws);
        assert_eq!(
            w,
            run(&mut KeyWrapOp::new(rc_cipher(&k), kind, true), &data(32), 0).unwrap()
        );
    }

    // Uses fallback shapes as the reference: see fips_refuses_fallbacks.
    #[cfg(not(feature = "fips"))]
    #[test]
    fn hmac_cross_provider_and_sha3_falls_back() {
        use crate::mechanism::hmac::State;
        use hmac::{KeyInit, Mac};
        for key_len in [0usize, 20, 64, 200] {
            let k = key(key_len);
            let msg = data(300);
            let rc: [(HashAlg, Vec<u8>); 5] = [
                (
                    HashAlg::Sha1,
                    hmac::Hmac::<sha1::Sha1>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                ),
                (
                    HashAlg::Sha224,
                    hmac::Hmac::<sha2::Sha224>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                ),
                (
                    HashAlg::Sha256,
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                ),
                (
                    HashAlg::Sha384,
                    hmac::Hmac::<sha2::Sha384>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                ),
                (
                    HashAlg::Sha512,
                    hmac::Hmac::<sha2::Sha512>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                ),
            ];
            for (hash, expected) in rc {
                // The plain aws-lc build keeps RustCrypto's HMAC for
                // C_SignInit (`HMAC_IN_AWS_LC`); the aws-lc form is
                // checked here whatever the build routes.
                let routed = State::new(hash, &k).unwrap();
                assert_eq!(
                    matches!(routed, State::AwsLc(_)),
                    HMAC_IN_AWS_LC,
                    "{hash:?}"
                );
                let state = State::AwsLc(HmacState::new(hash, &k).unwrap());
                let mut s = state.clone();
                s.update(&msg[..100]);
                s.update(&msg[100..]);
                let (tag, on_aws) = served(|| MacState::finalize(s));
                assert_eq!((tag, on_aws), (expected.clone(), true), "{hash:?}");
                // RustCrypto's tag verifies in aws-lc, truncated too.
                let mut s = state.clone();
                s.update(&msg);
                assert!(s.verify_truncated(&expected[..10]));
                let mut s = state;
                s.update(&msg);
                let mut bad = expected.clone();
                bad[0] ^= 1;
                assert!(!s.verify_truncated(&bad));
            }
            let sha3 = State::new(HashAlg::Sha3_256, &k).unwrap();
            assert!(matches!(sha3, State::Sha3_256(_)));
        }
    }

    #[test]
    fn cmac_cross_provider_both_ways() {
        use crate::mechanism::cmac::State;
        use cmac::{KeyInit, Mac};
        for klen in [16, 24, 32] {
            let k = key(klen);
            for len in [0usize, 1, 16, 17, 64, 1000] {
                let msg = data(len);
                let expected = match klen {
                    16 => cmac::Cmac::<aes::Aes128>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                    24 => cmac::Cmac::<aes::Aes192>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                    _ => cmac::Cmac::<aes::Aes256>::new_from_slice(&k)
                        .unwrap()
                        .chain_update(&msg)
                        .finalize()
                        .into_bytes()
                        .to_vec(),
                };
                let state = State::new(&k).unwrap();
                assert!(matches!(state, State::AwsLc(..)));
                let mut s = state.clone();
                s.update(&msg);
                let (tag, on_aws) = served(|| MacState::finalize(s));
                assert_eq!((tag, on_aws), (expected.clone(), true), "{klen} {len}");
                let mut s = state.clone();
                s.update(&msg);
                assert!(s.verify_truncated(&expected[..8]));
                let mut s = state;
                s.update(&msg);
                let mut bad = expected;
                bad[15] ^= 1;
                assert!(!s.verify_truncated(&bad));
            }
        }
    }

    /// The aws-lc forms are built once per key and shared; a cloned key's
    /// schedules start empty; nothing secret in Debug.
    #[test]
    fn aws_lc_forms_are_cached_per_key() {
        let sched = Schedules::default();
        let k = key(32);
        let a = sched.aws_lc_aes(&k).unwrap().clone();
        let b = sched.aws_lc_aes(&k).unwrap().clone();
        assert!(Arc::ptr_eq(&a, &b));
        let copy = sched.clone();
        let c = copy.aws_lc_aes(&k).unwrap().clone();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(format!("{a:?}"), "AesKeys(<redacted>)");
        let h1 = sched.hmac(HashAlg::Sha256, &k).unwrap() as *const _;
        let h2 = sched.hmac(HashAlg::Sha256, &k).unwrap() as *const _;
        assert_eq!(h1, h2);
        assert!(matches!(
            sched.gcm(&k).unwrap().as_ref(),
            crate::mechanism::gcm_fast::GcmFast::AwsLc(_)
        ));
    }

    #[test]
    fn mode_policy() {
        assert!(mode_in_aws_lc(Mode::Ctr));
        assert!(mode_in_aws_lc(Mode::Cbc));
        assert_eq!(mode_in_aws_lc(Mode::Ecb), super::super::FIPS);
    }

    /// The FIPS build never runs a fallback shape: each is refused with
    /// CKR_FUNCTION_FAILED instead of running RustCrypto code.
    #[cfg(feature = "fips")]
    #[test]
    fn fips_refuses_fallbacks() {
        use crate::mechanism::{Key, Mechanism, Params};
        let refused = Some(Error::FunctionFailed);
        let k = Arc::new(Key::secret(CKK_AES, &key(32)).unwrap());
        let gcm = |iv: &[u8]| Mechanism {
            mech: CKM_AES_GCM,
            params: Params::Gcm {
                iv: iv.to_vec(),
                aad: Vec::new(),
                tag_len: 16,
            },
        };
        let m = gcm(&[1; 12]);
        let enc = || crate::mechanism::aes::encrypt_init(&m, &k).unwrap();
        let (ct, on_aws) = served(|| run(enc().as_mut(), &data(100), 0).unwrap());
        assert!(on_aws);
        assert_eq!(run(enc().as_mut(), &data(100), 10).err(), refused);
        let mut dec = crate::mechanism::aes::decrypt_init(&m, &k).unwrap();
        assert_eq!(run(dec.as_mut(), &ct, 10).unwrap(), data(100));
        let mut op = crate::mechanism::aes::encrypt_init(&gcm(&[1; 8]), &k).unwrap();
        assert_eq!(run(op.as_mut(), &data(10), 0).err(), refused);
        let custom = WrapKind::Kw([1; 8]);
        let lc = aes_keys(&key(32)).unwrap();
        let mut op = KeyWrapOp::new(rc_cipher(&key(32)), custom, true).with_aws_lc(lc);
        assert_eq!(run(&mut op, &data(16), 0).err(), refused);
        let lc192 = aes_keys(&key(24)).unwrap();
        let kw = WrapKind::Kw([0xA6; 8]);
        let mut op = KeyWrapOp::new(rc_cipher(&key(24)), kw, true).with_aws_lc(lc192);
        assert_eq!(run(&mut op, &data(16), 0).err(), refused);
        let sha3 = crate::mechanism::hmac::State::new(HashAlg::Sha3_256, b"k");
        assert_eq!(sha3.err(), refused);
    }

    /// The FIPS build hashes in AWS-LC, whose state cannot be saved:
    /// C_GetOperationState on a digest answers CKR_STATE_UNSAVEABLE.
    #[cfg(feature = "fips")]
    #[test]
    fn fips_digest_state_is_unsaveable() {
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha512,
            HashAlg::Sha3_256,
        ] {
            let mut h = hash.hasher();
            h.update(b"abc");
            assert_eq!(h.save().err(), Some(Error::StateUnsaveable), "{hash:?}");
            let (out, on_aws) = served(|| h.finish());
            assert!(on_aws);
            assert_eq!(out.len(), hash.output_len());
        }
        use sha2::Digest;
        assert_eq!(
            HashAlg::Sha256.hash(b"abc"),
            sha2::Sha256::digest(b"abc").to_vec()
        );
        // A hashed signature does not embed such a hasher in the FIPS
        // build: it keeps the message for AWS-LC's message signing
        // (sign.rs `Input`), so its state saves like a raw one.
        use crate::mechanism::keys::Curve;
        use crate::mechanism::{Key, Mechanism, sign_init};
        let key = Arc::new(Key::ec_private(&Curve::P256.ec_params(), &[0x22u8; 32]).unwrap());
        let mech = Mechanism::parse(CKM_ECDSA_SHA256, None).unwrap();
        let mut op = sign_init(&mech, Arc::clone(&key)).unwrap();
        op.update(b"data").unwrap();
        assert!(op.save().is_ok());
        // Raw CKM_ECDSA (a digest made outside the module) is not offered.
        let raw = Mechanism::parse(CKM_ECDSA, None).unwrap();
        assert_eq!(sign_init(&raw, key).err(), Some(Error::MechanismInvalid));
    }
}
