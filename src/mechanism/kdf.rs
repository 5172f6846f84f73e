//! HKDF (CKM_HKDF_DERIVE, CKM_HKDF_DATA, and the table row of
//! CKM_HKDF_KEY_GEN, whose keys are plain random bytes) and PBKDF2
//! (CKM_PKCS5_PBKD2, a C_GenerateKey mechanism).
//!
//! Key sizes in these rows are in bytes. For the HKDF derivations they
//! bound the base key (the input keying material); for CKM_HKDF_KEY_GEN and
//! CKM_PKCS5_PBKD2 they bound the generated key. 512 bytes matches the
//! HMAC and generic-secret ceilings elsewhere in the table.
//!
//! Error codes: a base key of the wrong type is KeyTypeInconsistent, one
//! outside the row's range (or an expand-only PRK shorter than the hash)
//! KeySizeRange; a requested HKDF output length the mechanism cannot
//! produce (0, over 255 × hash length, or not the hash length for
//! extract-only) is TemplateInconsistent, since that length comes from the
//! caller's template; a PBKDF2 length outside the row is KeySizeRange, as
//! for other generated secrets.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::keys::Key;
use super::provider::generation;
use super::{MechInfo, Mechanism, Params};
use crate::error::{Error, Result};

/// Bytes: base keys (derive) or generated keys (key generation).
const KDF_MIN: u64 = 1;
const KDF_MAX: u64 = 512;

pub(super) const ROWS: &[MechInfo] = &[
    MechInfo {
        mech: CKM_HKDF_DERIVE,
        min_key: KDF_MIN,
        max_key: KDF_MAX,
        flags: CKF_DERIVE,
    },
    MechInfo {
        mech: CKM_HKDF_DATA,
        min_key: KDF_MIN,
        max_key: KDF_MAX,
        flags: CKF_DERIVE,
    },
    MechInfo {
        mech: CKM_HKDF_KEY_GEN,
        min_key: KDF_MIN,
        max_key: KDF_MAX,
        flags: CKF_GENERATE,
    },
    MechInfo {
        mech: CKM_PKCS5_PBKD2,
        min_key: KDF_MIN,
        max_key: KDF_MAX,
        flags: CKF_GENERATE,
    },
];

/// Whether `len` bytes fit the row's byte range.
fn in_range(mech: CK_MECHANISM_TYPE, len: usize) -> Result<bool> {
    let row = super::info(mech)?;
    let len = u64::try_from(len).map_err(|_| Error::GeneralError)?;
    Ok((row.min_key..=row.max_key).contains(&len))
}

/// The input keying material. CKM_HKDF_DERIVE takes a CKK_HKDF or
/// CKK_GENERIC_SECRET key. CKM_HKDF_DATA derives from a data object: the
/// caller hands its CKA_VALUE over as a CKK_GENERIC_SECRET `Key::Secret`.
fn ikm(mech: CK_MECHANISM_TYPE, base: &Key) -> Result<&[u8]> {
    let value = match (mech, base) {
        (
            CKM_HKDF_DERIVE,
            Key::Secret {
                key_type, value, ..
            },
        ) if *key_type == CKK_HKDF || *key_type == CKK_GENERIC_SECRET => value,
        (
            CKM_HKDF_DATA,
            Key::Secret {
                key_type, value, ..
            },
        ) if *key_type == CKK_GENERIC_SECRET => value,
        (CKM_HKDF_DERIVE | CKM_HKDF_DATA, _) => return Err(Error::KeyTypeInconsistent),
        _ => return Err(Error::MechanismInvalid),
    };
    if !in_range(mech, value.len())? {
        return Err(Error::KeySizeRange);
    }
    Ok(value)
}

/// The output length: the hash length for extract-only (the only length
/// it has), else the requested length, 1 to 255 × hash length (default:
/// the hash length).
fn output_len(extract_only: bool, hash_len: usize, len: Option<usize>) -> Result<usize> {
    let max = if extract_only {
        hash_len
    } else {
        hash_len.saturating_mul(255)
    };
    match len {
        None => Ok(hash_len),
        Some(n) if extract_only && n != hash_len => Err(Error::TemplateInconsistent),
        Some(n) if n == 0 || n > max => Err(Error::TemplateInconsistent),
        Some(n) => Ok(n),
    }
}

/// CKM_HKDF_DERIVE / CKM_HKDF_DATA: `len` None gives the PRF's output
/// length. Extract-only returns the PRK; expand-only takes the base key as
/// the PRK.
pub(super) fn hkdf_derive(
    mech: &Mechanism,
    base: &Key,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let Params::Hkdf {
        extract,
        expand,
        prf,
        salt,
        info,
    } = &mech.params
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let ikm = ikm(mech.mech, base)?;
    let len = output_len(*extract && !*expand, prf.output_len(), len)?;
    let job = generation::HkdfJob {
        ikm,
        extract: *extract,
        expand: *expand,
        salt: salt.as_deref(),
        info,
        len,
    };
    // SHA-3 PRFs are refused when the parameter is parsed; the provider
    // answers MechanismParamInvalid for them too.
    generation::hkdf(*prf, &job)
}

/// CKM_PKCS5_PBKD2 with C_GenerateKey: `len` bytes (1 to 512, else
/// KeySizeRange) of PBKDF2-HMAC from the password in the parameter.
pub fn pbkdf2(mech: &Mechanism, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let Params::Pbkdf2 {
        salt,
        iterations,
        prf,
        password,
    } = &mech.params
    else {
        return Err(Error::MechanismParamInvalid);
    };
    if mech.mech != CKM_PKCS5_PBKD2 {
        return Err(Error::MechanismInvalid);
    }
    if !in_range(mech.mech, len)? {
        return Err(Error::KeySizeRange);
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    generation::pbkdf2(*prf, password, salt, *iterations, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::{RawHkdf, RawParam, RawPbkdf2, derive};
    use crate::test_util::unhex;

    fn secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Key {
        Key::secret_unchecked(key_type, value)
    }

    fn hkdf(
        mech: CK_MECHANISM_TYPE,
        prf: CK_MECHANISM_TYPE,
        (extract, expand): (bool, bool),
        salt: &[u8],
        info: &[u8],
    ) -> Mechanism {
        let raw = RawHkdf {
            extract,
            expand,
            prf,
            salt_type: if salt.is_empty() {
                CKF_HKDF_SALT_NULL
            } else {
                CKF_HKDF_SALT_DATA
            },
            salt: salt.to_vec(),
            salt_key: 0,
            info: info.to_vec(),
        };
        Mechanism::from_raw(mech, &RawParam::Hkdf(raw)).unwrap()
    }

    const BOTH: (bool, bool) = (true, true);
    const EXTRACT: (bool, bool) = (true, false);
    const EXPAND: (bool, bool) = (false, true);

    /// IKM, salt, info, PRK and OKM (hex).
    type Rfc5869Case = (Vec<u8>, Vec<u8>, Vec<u8>, &'static str, &'static str);

    /// RFC 5869 A.1 (SHA-256, basic), A.2 (longer inputs), A.3 (no salt,
    /// no info): the OKM through the full derive, and the PRK through
    /// extract-only, and the OKM again through expand-only from the PRK.
    #[test]
    fn rfc5869_vectors() {
        let a2_ikm: Vec<u8> = (0x00..=0x4f).collect();
        let a2_salt: Vec<u8> = (0x60..=0xaf).collect();
        let a2_info: Vec<u8> = (0xb0..=0xff).collect();
        let cases: [Rfc5869Case; 3] = [
            (
                vec![0x0b; 22],
                unhex("000102030405060708090a0b0c"),
                unhex("f0f1f2f3f4f5f6f7f8f9"),
                "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
                 34007208d5b887185865",
            ),
            (
                a2_ikm,
                a2_salt,
                a2_info,
                "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
                 59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
                 cc30c58179ec3e87c14c01d5c1f3434f1d87",
            ),
            (
                vec![0x0b; 22],
                Vec::new(),
                Vec::new(),
                "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
                 9d201395faa4b61a96c8",
            ),
        ];
        for (ikm, salt, info, prk, okm) in cases {
            let (prk, okm) = (unhex(prk), unhex(okm));
            let base = secret(CKK_GENERIC_SECRET, &ikm);
            let m = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, BOTH, &salt, &info);
            assert_eq!(*derive(&m, &base, Some(okm.len())).unwrap(), okm);
            let m = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, EXTRACT, &salt, &info);
            assert_eq!(*derive(&m, &base, None).unwrap(), prk);
            assert_eq!(*derive(&m, &base, Some(32)).unwrap(), prk);
            let prk_key = secret(CKK_HKDF, &prk);
            let m = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, EXPAND, &[], &info);
            assert_eq!(*derive(&m, &prk_key, Some(okm.len())).unwrap(), okm);
        }
    }

    #[test]
    fn hkdf_data_and_defaults() {
        let data = secret(CKK_GENERIC_SECRET, &[0x0b; 22]);
        let m = hkdf(CKM_HKDF_DATA, CKM_SHA256, BOTH, &[], &[]);
        let okm = derive(&m, &data, None).unwrap();
        assert_eq!(
            *okm,
            unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
        );
        // A data object is a generic secret here; typed keys are refused.
        let typed = secret(CKK_HKDF, &[0x0b; 22]);
        assert_eq!(
            derive(&m, &typed, None).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        let m = hkdf(CKM_HKDF_DERIVE, CKM_SHA512, BOTH, b"s", b"i");
        assert_eq!(derive(&m, &typed, None).unwrap().len(), 64);
        assert_eq!(derive(&m, &typed, Some(255 * 64)).unwrap().len(), 255 * 64);
    }

    #[test]
    fn hkdf_errors() {
        let base = secret(CKK_GENERIC_SECRET, &[1; 32]);
        let m = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, BOTH, &[], &[]);
        for bad in [0, 255 * 32 + 1] {
            assert_eq!(
                derive(&m, &base, Some(bad)).unwrap_err(),
                Error::TemplateInconsistent
            );
        }
        let extract = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, EXTRACT, &[], &[]);
        assert_eq!(
            derive(&extract, &base, Some(16)).unwrap_err(),
            Error::TemplateInconsistent
        );
        let expand = hkdf(CKM_HKDF_DERIVE, CKM_SHA256, EXPAND, &[], &[]);
        let short = secret(CKK_HKDF, &[1; 31]);
        assert_eq!(
            derive(&expand, &short, None).unwrap_err(),
            Error::KeySizeRange
        );
        let aes = secret(CKK_AES, &[1; 32]);
        assert_eq!(
            derive(&m, &aes, None).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        let huge = secret(CKK_GENERIC_SECRET, &[1; 513]);
        assert_eq!(derive(&m, &huge, None).unwrap_err(), Error::KeySizeRange);
        let empty = secret(CKK_GENERIC_SECRET, &[]);
        assert_eq!(derive(&m, &empty, None).unwrap_err(), Error::KeySizeRange);
        // Neither extract nor expand, a salt in a key object, or a SHA-3 PRF.
        let raw = |extract, expand, salt_type, prf| {
            RawParam::Hkdf(RawHkdf {
                extract,
                expand,
                prf,
                salt_type,
                salt: vec![1],
                salt_key: 0,
                info: Vec::new(),
            })
        };
        for r in [
            raw(false, false, CKF_HKDF_SALT_DATA, CKM_SHA256),
            raw(true, true, CKF_HKDF_SALT_KEY, CKM_SHA256),
            raw(true, true, CKF_HKDF_SALT_DATA, CKM_SHA3_256),
        ] {
            assert_eq!(
                Mechanism::from_raw(CKM_HKDF_DERIVE, &r).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        // A parameter of the wrong kind never reaches the KDF.
        let plain = Mechanism {
            mech: CKM_HKDF_DERIVE,
            params: Params::None,
        };
        assert_eq!(
            hkdf_derive(&plain, &base, None).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    fn pbkd2(prf: CK_ULONG, password: &[u8], salt: &[u8], iterations: CK_ULONG) -> Mechanism {
        let raw = RawPbkdf2 {
            salt_source: CKZ_SALT_SPECIFIED,
            salt: salt.to_vec(),
            iterations,
            prf,
            prf_data: Vec::new(),
            password: Zeroizing::new(password.to_vec()),
        };
        Mechanism::from_raw(CKM_PKCS5_PBKD2, &RawParam::Pbkdf2(raw)).unwrap()
    }

    /// RFC 6070 (PBKDF2-HMAC-SHA1), the cases cheap enough for a unit test.
    #[test]
    fn rfc6070_vectors() {
        let sha1 = CKP_PKCS5_PBKD2_HMAC_SHA1;
        let cases: [(&[u8], &[u8], CK_ULONG, &str); 4] = [
            (
                b"password",
                b"salt",
                1,
                "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            ),
            (
                b"password",
                b"salt",
                4096,
                "4b007901b765489abead49d926f721d065a429c1",
            ),
            (
                b"passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
            ),
            (
                b"pass\0word",
                b"sa\0lt",
                4096,
                "56fa6aa75548099dcc37d7f03425e0c3",
            ),
        ];
        for (password, salt, iterations, dk) in cases {
            let dk = unhex(dk);
            let m = pbkd2(sha1, password, salt, iterations);
            assert_eq!(*pbkdf2(&m, dk.len()).unwrap(), dk);
        }
    }

    /// RFC 7914 §11 (PBKDF2-HMAC-SHA256), first case (the second takes
    /// 80000 iterations and is left to the release-mode suites).
    #[test]
    fn rfc7914_vector() {
        let m = pbkd2(CKP_PKCS5_PBKD2_HMAC_SHA256, b"passwd", b"salt", 1);
        let dk = unhex(
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
        );
        assert_eq!(*pbkdf2(&m, 64).unwrap(), dk);
    }

    #[test]
    fn pbkdf2_errors() {
        let m = pbkd2(CKP_PKCS5_PBKD2_HMAC_SHA512, b"pw", b"salt", 2);
        assert_eq!(pbkdf2(&m, 512).unwrap().len(), 512);
        for bad in [0, 513] {
            assert_eq!(pbkdf2(&m, bad).unwrap_err(), Error::KeySizeRange);
        }
        let wrong = Mechanism {
            mech: CKM_PKCS5_PBKD2,
            params: Params::None,
        };
        assert_eq!(
            pbkdf2(&wrong, 16).unwrap_err(),
            Error::MechanismParamInvalid
        );
        let raw = |iterations, prf| {
            RawParam::Pbkdf2(RawPbkdf2 {
                salt_source: CKZ_SALT_SPECIFIED,
                salt: b"s".to_vec(),
                iterations,
                prf,
                prf_data: Vec::new(),
                password: Zeroizing::new(b"p".to_vec()),
            })
        };
        for r in [raw(0, CKP_PKCS5_PBKD2_HMAC_SHA256), raw(1, 0xffff)] {
            assert_eq!(
                Mechanism::from_raw(CKM_PKCS5_PBKD2, &r).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
    }

    #[test]
    fn rows() {
        for mech in [CKM_HKDF_DERIVE, CKM_HKDF_DATA] {
            assert_eq!(super::super::info(mech).unwrap().flags, CKF_DERIVE);
        }
        for mech in [CKM_HKDF_KEY_GEN, CKM_PKCS5_PBKD2] {
            assert_eq!(super::super::info(mech).unwrap().flags, CKF_GENERATE);
        }
    }
}
