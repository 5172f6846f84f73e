//! The FIPS build's approved-only mode (`--features fips`): which
//! mechanisms it offers, with which functions and key sizes. The registry
//! intersects every row with this table in its one policy step
//! (`registry::offered`), so C_GetMechanismList/Info, dispatch and the
//! size checks at init all see the same narrowed set.
//!
//! A mechanism is listed only when (a) it is approved for that use under
//! FIPS 140-3 with SP 800-131A (SHA-1 for verification and plain hashing
//! only, RSA moduli of at least 2048 bits, HMAC keys of at least 112
//! bits, no PKCS#1 v1.5 encryption, no raw RSA) and (b) every primitive
//! behind it runs in AWS-LC's validated module through an approved
//! service of aws-lc-rs. (b) is why some approved algorithms are absent:
//! raw CKM_ECDSA and CKM_RSA_PKCS_PSS sign a caller's digest, which
//! aws-lc-rs does not allow in FIPS mode (its message signing is the
//! approved service, so the hashed mechanisms buffer their input and sign
//! the message in one call); EdDSA, SHA3-224 and the SHA-3 HMACs have no
//! aws-lc-rs service here; CKM_AES_KEY_WRAP_PAD (PKCS#7 inside KW) is not
//! a NIST mode. AES-GCM encrypts only through the message API with an IV
//! generator (`iv_gen::parse` refuses the caller's IV there). The README's "FIPS mode" section lists the result.
//!
//! Nothing outside this table is reachable in the FIPS build, and the
//! providers' per-call fallbacks to RustCrypto refuse
//! (`provider::fallback_allowed`), so a shape this table admits but aws-lc
//! cannot serve fails rather than running unapproved code.

use cryptoki_sys::*;

use super::MechInfo;

/// The smallest HMAC key, in bytes (112 bits, SP 800-131A / SP 800-107).
const HMAC_MIN: u64 = 14;
/// RSA moduli: 2048 bits up (SP 800-131A); the module's ceiling applies.
const RSA_MIN: u64 = 2048;
/// EC keys: P-256 up. P-192 and P-224 (the compat profile's) have no
/// aws-lc-rs service, so this build does not know them at all
/// (`Curve::from_ec_params`); the floor keeps the mechanism info honest.
const EC_MIN: u64 = 256;

const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const GCM: CK_FLAGS = CKF_DECRYPT | CKF_UNWRAP | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
/// Every function a row may carry; `Approved::flags` masks it.
const ALL: CK_FLAGS = CK_FLAGS::MAX;

/// One approved mechanism: the functions of its row that stay offered,
/// and the key-size floor it needs (None: the row's own).
struct Approved {
    mech: CK_MECHANISM_TYPE,
    flags: CK_FLAGS,
    min_key: Option<u64>,
}

const fn ok(mech: CK_MECHANISM_TYPE, flags: CK_FLAGS, min_key: Option<u64>) -> Approved {
    Approved {
        mech,
        flags,
        min_key,
    }
}

/// The approved-only set, ascending by mechanism type (a test checks it,
/// and that each entry names a registered mechanism).
const APPROVED: &[Approved] = &[
    ok(CKM_RSA_PKCS_KEY_PAIR_GEN, ALL, Some(RSA_MIN)),
    // SHA-1 signatures: verification of existing ones only.
    ok(CKM_SHA1_RSA_PKCS, CKF_VERIFY, Some(RSA_MIN)),
    ok(CKM_RSA_PKCS_OAEP, ALL, Some(RSA_MIN)),
    ok(CKM_SHA256_RSA_PKCS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA384_RSA_PKCS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA512_RSA_PKCS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA256_RSA_PKCS_PSS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA384_RSA_PKCS_PSS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA512_RSA_PKCS_PSS, SIGN, Some(RSA_MIN)),
    ok(CKM_SHA_1, ALL, None),
    ok(CKM_SHA_1_HMAC, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA_1_HMAC_GENERAL, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA256, ALL, None),
    ok(CKM_SHA256_HMAC, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA256_HMAC_GENERAL, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA224, ALL, None),
    ok(CKM_SHA224_HMAC, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA224_HMAC_GENERAL, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA384, ALL, None),
    ok(CKM_SHA384_HMAC, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA384_HMAC_GENERAL, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA512, ALL, None),
    ok(CKM_SHA512_HMAC, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA512_HMAC_GENERAL, SIGN, Some(HMAC_MIN)),
    ok(CKM_SHA3_256, ALL, None),
    ok(CKM_SHA3_384, ALL, None),
    ok(CKM_SHA3_512, ALL, None),
    // 112 bits of generated secret at least.
    ok(CKM_GENERIC_SECRET_KEY_GEN, ALL, Some(112)),
    ok(CKM_EC_KEY_PAIR_GEN, ALL, Some(EC_MIN)),
    // SHA-1 signatures: verification of existing ones only.
    ok(
        CKM_ECDSA_SHA1,
        CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        Some(EC_MIN),
    ),
    ok(CKM_ECDSA_SHA224, ALL, Some(EC_MIN)),
    ok(CKM_ECDSA_SHA256, ALL, Some(EC_MIN)),
    ok(CKM_ECDSA_SHA384, ALL, Some(EC_MIN)),
    ok(CKM_ECDSA_SHA512, ALL, Some(EC_MIN)),
    ok(CKM_ECDH1_DERIVE, ALL, Some(EC_MIN)),
    ok(CKM_ECDH1_COFACTOR_DERIVE, ALL, Some(EC_MIN)),
    ok(CKM_AES_KEY_GEN, ALL, None),
    ok(CKM_AES_ECB, ALL, None),
    ok(CKM_AES_CBC, ALL, None),
    ok(CKM_AES_CBC_PAD, ALL, None),
    ok(CKM_AES_CTR, ALL, None),
    // Encryption only with an IV the module makes (SP 800-38D §8.2,
    // FIPS 140-3 IG C.H): the message API with a generator (iv_gen.rs);
    // C_EncryptInit and C_WrapKey take the caller's IV.
    ok(CKM_AES_GCM, GCM, None),
    ok(CKM_AES_CMAC, ALL, None),
    ok(CKM_AES_CMAC_GENERAL, ALL, None),
    ok(CKM_AES_KEY_WRAP, ALL, None),
    ok(CKM_AES_KEY_WRAP_KWP, ALL, None),
    ok(CKM_SHA_1_KEY_GEN, ALL, Some(HMAC_MIN)),
    ok(CKM_SHA224_KEY_GEN, ALL, Some(HMAC_MIN)),
    ok(CKM_SHA256_KEY_GEN, ALL, Some(HMAC_MIN)),
    ok(CKM_SHA384_KEY_GEN, ALL, Some(HMAC_MIN)),
    ok(CKM_SHA512_KEY_GEN, ALL, Some(HMAC_MIN)),
    ok(CKM_HKDF_DERIVE, ALL, None),
    ok(CKM_HKDF_DATA, ALL, None),
    ok(CKM_HKDF_KEY_GEN, ALL, None),
];

fn approved(mech: CK_MECHANISM_TYPE) -> Option<&'static Approved> {
    APPROVED
        .binary_search_by_key(&mech, |a| a.mech)
        .ok()
        .and_then(|i| APPROVED.get(i))
}

/// `row` as the approved-only mode offers it: None when the mechanism is
/// not approved; otherwise its functions masked and its floor raised.
/// Called by the registry on every row in the FIPS build only.
#[cfg_attr(not(feature = "fips"), allow(dead_code))]
pub(super) fn narrow(mut row: MechInfo) -> Option<MechInfo> {
    let a = approved(row.mech)?;
    row.flags &= a.flags;
    if let Some(min) = a.min_key {
        row.min_key = row.min_key.max(min);
    }
    (row.flags & !NOT_FUNCTIONS != 0 && row.min_key <= row.max_key).then_some(row)
}

/// Flags that describe a mechanism (EC capabilities) rather than a
/// function: a row left with only these offers nothing.
const NOT_FUNCTIONS: CK_FLAGS =
    CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS | CKF_EC_ECPARAMETERS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sorted_unique_and_registered() {
        for pair in APPROVED.windows(2) {
            if let [a, b] = pair {
                assert!(a.mech < b.mech, "{:#x} before {:#x}", a.mech, b.mech);
            }
        }
        for a in APPROVED {
            assert!(
                super::super::registry::known(a.mech),
                "{:#x} is approved but not registered",
                a.mech
            );
        }
    }

    #[test]
    fn narrowing_masks_functions_and_raises_floors() {
        let rsa = MechInfo {
            mech: CKM_SHA1_RSA_PKCS,
            min_key: 1024,
            max_key: 4096,
            flags: SIGN,
        };
        let got = narrow(rsa).expect("SHA-1 RSA verification stays");
        assert_eq!((got.flags, got.min_key), (CKF_VERIFY, 2048));
        let raw = MechInfo {
            mech: CKM_ECDSA,
            min_key: 256,
            max_key: 521,
            flags: SIGN,
        };
        assert!(narrow(raw).is_none(), "raw ECDSA is not offered");
        let sha1_ec = MechInfo {
            mech: CKM_ECDSA_SHA1,
            min_key: 256,
            max_key: 521,
            flags: CKF_SIGN | CKF_EC_F_P,
        };
        assert!(
            narrow(sha1_ec).is_none(),
            "capability flags alone offer nothing"
        );
        // P-192 and P-224 are below this build's EC floor.
        let ecdh = MechInfo {
            mech: CKM_ECDH1_DERIVE,
            min_key: 192,
            max_key: 521,
            flags: CKF_DERIVE,
        };
        assert_eq!(narrow(ecdh).map(|r| r.min_key), Some(256));
    }
}

/// The FIPS build's proof that each approved family runs in AWS-LC: one
/// operation per family and per function, through the mechanism layer
/// (the code C_* calls reach), must count an aws-lc service. A family that
/// still ran its own RustCrypto code in this build would count none, and
/// a per-call fallback would fail (`provider::fallback_allowed`).
#[cfg(all(test, feature = "fips"))]
mod in_module {
    use std::sync::Arc;

    use super::*;
    use crate::mechanism::provider::aws_lc_served_in_this_thread as served;
    use crate::mechanism::{
        Curve, Key, Mechanism, Params, decrypt_init, derive, digest_init, encrypt_init,
        generate_ec, generate_rsa, generate_secret, sign_init, unwrap, verify_init, wrap,
    };

    /// `f`'s result, after checking AWS-LC served it.
    #[track_caller]
    fn in_aws_lc<T>(what: &str, f: impl FnOnce() -> T) -> T {
        let before = served();
        let out = f();
        assert!(served() > before, "{what} did not run in AWS-LC");
        out
    }

    fn mech(ty: CK_MECHANISM_TYPE, params: Params) -> Mechanism {
        Mechanism { mech: ty, params }
    }

    #[test]
    fn digests_and_macs() {
        for m in [
            CKM_SHA_1,
            CKM_SHA224,
            CKM_SHA256,
            CKM_SHA384,
            CKM_SHA512,
            CKM_SHA3_256,
            CKM_SHA3_384,
            CKM_SHA3_512,
        ] {
            in_aws_lc(&format!("digest {m:#x}"), || {
                let mut op = digest_init(&mech(m, Params::None)).unwrap();
                op.update(b"abc");
                op.finish()
            });
        }
        let secret = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[7; 32]).unwrap());
        for m in [
            CKM_SHA_1_HMAC,
            CKM_SHA224_HMAC,
            CKM_SHA256_HMAC,
            CKM_SHA384_HMAC,
            CKM_SHA512_HMAC,
        ] {
            let tag = in_aws_lc(&format!("HMAC {m:#x}"), || {
                let mut op = sign_init(&mech(m, Params::None), secret.clone()).unwrap();
                op.update(b"abc").unwrap();
                op.finish().unwrap()
            });
            in_aws_lc(&format!("HMAC verify {m:#x}"), || {
                let mut op = verify_init(&mech(m, Params::None), secret.clone()).unwrap();
                op.update(b"abc").unwrap();
                op.finish(&tag).unwrap()
            });
        }
        let aes = Arc::new(Key::secret(CKK_AES, &[9; 32]).unwrap());
        in_aws_lc("CMAC", || {
            let mut op = sign_init(&mech(CKM_AES_CMAC, Params::None), aes.clone()).unwrap();
            op.update(b"abc").unwrap();
            op.finish().unwrap()
        });
    }

    #[test]
    fn aes_modes_and_wraps() {
        let aes = Arc::new(Key::secret(CKK_AES, &[9; 32]).unwrap());
        let iv = Params::Iv(vec![3; 16]);
        let ctr = Params::Ctr {
            counter_bits: 128,
            block: [5; 16],
        };
        for (m, p, data) in [
            (CKM_AES_ECB, Params::None, vec![1u8; 32]),
            (CKM_AES_CBC, iv.clone(), vec![1u8; 32]),
            (CKM_AES_CBC_PAD, iv.clone(), vec![1u8; 20]),
            (CKM_AES_CTR, ctr, vec![1u8; 20]),
        ] {
            let m = mech(m, p);
            let ct = in_aws_lc(&format!("encrypt {:#x}", m.mech), || {
                let mut op = encrypt_init(&m, aes.clone()).unwrap();
                let mut out = op.update(&data).unwrap();
                out.extend(op.finish().unwrap());
                out
            });
            let pt = in_aws_lc(&format!("decrypt {:#x}", m.mech), || {
                let mut op = decrypt_init(&m, aes.clone()).unwrap();
                let mut out = op.update(&ct).unwrap();
                out.extend(op.finish().unwrap());
                out
            });
            assert_eq!(pt, data);
        }
        for m in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP] {
            let m = mech(m, Params::None);
            let wrapped = in_aws_lc("wrap", || wrap(&m, &aes, &[4; 32]).unwrap());
            let back = in_aws_lc("unwrap", || unwrap(&m, &aes, &wrapped).unwrap());
            assert_eq!(&back[..], &[4; 32]);
        }
    }

    #[test]
    fn generation_signatures_and_agreement() {
        // Randomness is counted apart (a fallback draws through the seam
        // too): the fills must come from AWS-LC's DRBG.
        let fills = crate::mechanism::provider::generation_aws_lc::fills_in_this_thread;
        let before = fills();
        generate_secret(32).unwrap();
        assert!(fills() > before, "random bytes did not come from AWS-LC");
        let ec = in_aws_lc("EC key pair", || {
            generate_ec(&Curve::P256.ec_params()).unwrap()
        });
        let private = Arc::new(Key::ec_private(&ec.ec_params, &ec.private_value).unwrap());
        let public = Arc::new(private.to_public().unwrap());
        let sig = in_aws_lc("ECDSA-SHA256 sign", || {
            let mut op = sign_init(&mech(CKM_ECDSA_SHA256, Params::None), private.clone()).unwrap();
            op.update(b"abc").unwrap();
            op.finish().unwrap()
        });
        in_aws_lc("ECDSA-SHA256 verify", || {
            let mut op =
                verify_init(&mech(CKM_ECDSA_SHA256, Params::None), public.clone()).unwrap();
            op.update(b"abc").unwrap();
            op.finish(&sig).unwrap()
        });
        let peer = generate_ec(&Curve::P256.ec_params()).unwrap();
        let ecdh = mech(
            CKM_ECDH1_DERIVE,
            Params::Ecdh {
                kdf: CKD_NULL,
                shared_data: vec![],
                public_data: peer.ec_point_der.clone(),
            },
        );
        in_aws_lc("ECDH", || derive(&ecdh, &private, None).unwrap());
        // An imported X25519 key does not bring the curve back.
        let x25519 =
            Key::montgomery_private(&crate::mechanism::Alg25519::X25519.ec_params(), &[1; 32])
                .unwrap();
        let peer_x = mech(
            CKM_ECDH1_DERIVE,
            Params::Ecdh {
                kdf: CKD_NULL,
                shared_data: vec![],
                public_data: vec![9; 32],
            },
        );
        assert_eq!(
            derive(&peer_x, &x25519, None).err(),
            Some(crate::error::Error::KeyTypeInconsistent)
        );
        // Nor does an imported X448 key.
        let x448 =
            Key::montgomery_private(&crate::mechanism::Alg448::X448.ec_params(), &[1; 56]).unwrap();
        let peer_x448 = mech(
            CKM_ECDH1_DERIVE,
            Params::Ecdh {
                kdf: CKD_NULL,
                shared_data: vec![],
                public_data: vec![9; 56],
            },
        );
        assert_eq!(
            derive(&peer_x448, &x448, None).err(),
            Some(crate::error::Error::KeyTypeInconsistent)
        );
        let rsa = in_aws_lc("RSA-2048 key pair", || {
            generate_rsa(2048, &[1, 0, 1]).unwrap()
        });
        let rsa = Arc::new(
            Key::rsa_private(
                &rsa.modulus,
                &rsa.public_exponent,
                &rsa.private_exponent,
                Some((&rsa.prime_1, &rsa.prime_2)),
            )
            .unwrap(),
        );
        let sig = in_aws_lc("RSA SHA-256 sign", || {
            let mut op = sign_init(&mech(CKM_SHA256_RSA_PKCS, Params::None), rsa.clone()).unwrap();
            op.update(b"abc").unwrap();
            op.finish().unwrap()
        });
        let rsa_public = Arc::new(rsa.to_public().unwrap());
        in_aws_lc("RSA SHA-256 verify", || {
            let mut op =
                verify_init(&mech(CKM_SHA256_RSA_PKCS, Params::None), rsa_public.clone()).unwrap();
            op.update(b"abc").unwrap();
            op.finish(&sig).unwrap()
        });
    }
}
