//! The mechanism table and the one place (with the store's sealing) where
//! crypto crates are called: parsing of mechanism parameters, typed keys,
//! key generation, digests, signatures and MACs.
//!
//! Key-size units in [`MechInfo`] follow PKCS#11 3.0 per mechanism: RSA and
//! EC sizes are in bits (modulus / curve order), AES and HMAC sizes are in
//! bytes, and CKM_GENERIC_SECRET_KEY_GEN is in bits (the spec's wording for
//! that mechanism, although CKA_VALUE_LEN itself is in bytes). Use
//! [`MechInfo::key_size_ok`] rather than comparing the raw numbers.

mod aead_oneshot;
mod aes;
mod aes_aead;
mod aes_ccm;
mod aes_derive;
mod aes_feedback;
mod aes_keywrap;
mod aes_modes;
mod cbc_mac;
mod chacha_poly;
mod cipher;
mod cmac;
mod curve25519;
mod curve448;
mod derive;
pub mod dh;
mod digest;
pub mod dsa;
mod ec;
mod ecdh;
mod ed25519ctx;
mod eddsa;
mod families;
mod fips;
mod gcm_fast;
mod hmac;
mod kbkdf;
pub mod kdf;
pub mod keyfile;
mod keygen;
mod keys;
mod mac;
pub mod ml_dsa;
pub mod ml_kem;
pub mod names;
mod params;
pub mod pbes2;
mod pkcs8;
mod poly1305_mac;
pub mod provider;
pub mod registry;
mod rsa;
mod rsa_crypt;
mod rsa_recover;
pub mod schedule;
mod setting;
mod sign;
mod simple_derive;
pub mod slh_dsa;
pub mod spki;
pub mod state;
mod stream_cipher;
mod wrap;

pub mod iv_gen;

pub use self::aes_ccm::message_lengths as ccm_message_lengths;
pub use self::cbc_mac::{cbc_mac_allowed, set_cbc_mac_allowed};
pub use self::chacha_poly::nonce_len as chacha_nonce_len;
pub use self::cipher::{CipherOp, decrypt_init, encrypt_init};
pub use self::curve448::{Alg448, expect_edwards, expect_montgomery};
pub use self::curve25519::Alg25519;
pub use self::derive::{additional_templates, derive, derive_keys, derives_key_set};
pub use self::digest::{DigestOp, HashAlg, digest_init};
pub use self::ec::{EcSigningKey, EcVerifyingKey};
pub use self::kbkdf::{RawCounterFormat, RawDkmFormat, RawKbkdf, RawPrfData};
pub use self::keygen::{
    EcKeyPairParts, RsaKeyPairParts, generate_ec, generate_edwards, generate_montgomery,
    generate_rsa, generate_secret, random,
};
pub use self::keys::{Curve, Key};
pub use self::ml_dsa::generate_ml_dsa;
pub use self::params::{Layout, Mechanism, Params, RawHkdf, RawParam, RawPbkdf2, gcm_lengths};
pub use self::pkcs8::PrivateAttribute;
pub use self::poly1305_mac::{poly1305_allowed, set_poly1305_allowed};
pub use self::registry::{
    Generates, RSA_MAX, RSA_MIN, capability, ciphertext_len, decapsulate, encapsulate, generates,
    info, is_multipart, is_verify_multipart, layout, message_op, message_op_with_len,
    set_min_rsa_bits, table,
};
pub use self::registry::{
    check_rsa_size, min_ec_bits, min_rsa_verify_bits, set_min_ec_bits, set_min_rsa_verify_bits,
};
pub use self::rsa_crypt::{legacy_rsa_allowed, set_legacy_rsa_allowed};
pub use self::rsa_recover::RecoverOp;
pub use self::sign::{SignOp, VerifyOp, sign_init, sign_resume, verify_init, verify_resume};
pub use self::simple_derive::{
    bind_second_key, keeps_base_material, second_key, set_simple_derive_allowed,
    simple_derive_allowed,
};
pub use self::slh_dsa::generate_slh_dsa;
pub use self::wrap::{unwrap, wrap};

use cryptoki_sys::*;

/// One row of the mechanism table, as reported by `C_GetMechanismInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechInfo {
    pub mech: CK_MECHANISM_TYPE,
    pub min_key: u64,
    pub max_key: u64,
    pub flags: CK_FLAGS,
}

/// The unit a mechanism's `min_key`/`max_key` are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySizeUnit {
    /// The mechanism takes no key (digests).
    None,
    Bits,
    Bytes,
}

impl MechInfo {
    /// The unit of `min_key`/`max_key` for this mechanism (the
    /// registry's, per family).
    pub fn key_size_unit(&self) -> KeySizeUnit {
        registry::unit(self.mech)
    }

    /// Whether a key of `key_bits` bits fits this mechanism's range, after
    /// converting to the mechanism's unit. Byte-unit ranges need a whole
    /// number of bytes.
    pub fn key_size_ok(&self, key_bits: u64) -> bool {
        let size = match self.key_size_unit() {
            KeySizeUnit::None => return true,
            KeySizeUnit::Bits => key_bits,
            KeySizeUnit::Bytes if key_bits.is_multiple_of(8) => key_bits / 8,
            KeySizeUnit::Bytes => return false,
        };
        (self.min_key..=self.max_key).contains(&size)
    }
}

/// P-192 up: the registry raises the floor to the policy's `min_ec_bits`
/// (default 256).
const EC_MIN: u64 = 192;
const EC_MAX: u64 = 521;
/// HMAC keys, in bytes. RFC 2104 and PKCS#11 allow any length; short keys
/// are the key creator's choice, so the floor is one byte. The ceiling keeps
/// key objects bounded.
const HMAC_MIN: u64 = 1;
const HMAC_MAX: u64 = 512;
/// Generic secret generation, in bits (1 to 512 bytes).
const GENERIC_MIN_BITS: u64 = 8;
const GENERIC_MAX_BITS: u64 = 4096;

const RSA_SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const EC_CAPS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
const EC_SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY | EC_CAPS;
const MAC: CK_FLAGS = CKF_SIGN | CKF_VERIFY;

const fn row(mech: CK_MECHANISM_TYPE, min_key: u64, max_key: u64, flags: CK_FLAGS) -> MechInfo {
    MechInfo {
        mech,
        min_key,
        max_key,
        flags,
    }
}

/// RSA key-pair generation, at what the module can do; the registry
/// raises its floor to the policy's `min_rsa_bits`.
pub(super) const RSA_GEN_ROWS: &[MechInfo] = &[row(
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    RSA_MIN,
    RSA_MAX,
    CKF_GENERATE_KEY_PAIR,
)];

/// The RSA signatures (PKCS#1 v1.5 with a hash, PSS), at what the module
/// can do; the registry raises their floor to the policy's
/// `min_rsa_bits`.
pub(super) const RSA_ROWS: &[MechInfo] = &[
    row(CKM_SHA1_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA1_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA256_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA384_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA512_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA256_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA384_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA512_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA224_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA224_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_256_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_384_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_512_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_256_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_384_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_512_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_224_RSA_PKCS, RSA_MIN, RSA_MAX, RSA_SIGN),
    row(CKM_SHA3_224_RSA_PKCS_PSS, RSA_MIN, RSA_MAX, RSA_SIGN),
];

/// CKM_RSA_PKCS: signatures over a DigestInfo here, and signatures with
/// data recovery (`rsa_recover.rs`); the policy may add
/// PKCS#1 v1.5 encryption and wrapping (`rsa_crypt::policy_flags`).
pub(super) const RSA_PKCS_ROWS: &[MechInfo] = &[row(
    CKM_RSA_PKCS,
    RSA_MIN,
    RSA_MAX,
    RSA_SIGN | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER,
)];

/// The digests.
pub(super) const DIGEST_ROWS: &[MechInfo] = &[
    row(CKM_SHA3_256, 0, 0, CKF_DIGEST),
    row(CKM_SHA3_224, 0, 0, CKF_DIGEST),
    row(CKM_SHA3_384, 0, 0, CKF_DIGEST),
    row(CKM_SHA3_512, 0, 0, CKF_DIGEST),
    row(CKM_SHA_1, 0, 0, CKF_DIGEST),
    row(CKM_SHA256, 0, 0, CKF_DIGEST),
    row(CKM_SHA224, 0, 0, CKF_DIGEST),
    row(CKM_SHA384, 0, 0, CKF_DIGEST),
    row(CKM_SHA512, 0, 0, CKF_DIGEST),
];

/// HMAC, plain and general (key sizes in bytes).
pub(super) const HMAC_ROWS: &[MechInfo] = &[
    row(CKM_SHA3_256_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_256_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_224_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_224_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_384_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_384_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_512_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA3_512_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA_1_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA_1_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA256_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA256_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA224_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA224_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA384_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA384_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA512_HMAC, HMAC_MIN, HMAC_MAX, MAC),
    row(CKM_SHA512_HMAC_GENERAL, HMAC_MIN, HMAC_MAX, MAC),
];

/// ECDSA, raw and with a hash.
pub(super) const ECDSA_ROWS: &[MechInfo] = &[
    row(CKM_ECDSA, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA1, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA224, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA256, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA384, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA512, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA3_224, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA3_256, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA3_384, EC_MIN, EC_MAX, EC_SIGN),
    row(CKM_ECDSA_SHA3_512, EC_MIN, EC_MAX, EC_SIGN),
];

/// Generation only, sizes in bits.
pub(super) const KEYGEN_BITS_ROWS: &[MechInfo] = &[row(
    CKM_GENERIC_SECRET_KEY_GEN,
    GENERIC_MIN_BITS,
    GENERIC_MAX_BITS,
    CKF_GENERATE,
)];

/// EC key-pair generation, at what the module can do (P-192 to P-521);
/// the registry raises its floor to the policy's `min_ec_bits`.
pub(super) const EC_GEN_ROWS: &[MechInfo] = &[row(
    CKM_EC_KEY_PAIR_GEN,
    EC_MIN,
    EC_MAX,
    CKF_GENERATE_KEY_PAIR | EC_CAPS,
)];

/// Generation only, sizes in bytes.
pub(super) const KEYGEN_BYTES_ROWS: &[MechInfo] = &[row(CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE)];

/// HMAC key generation (PKCS#11 3.0, "SHA-n key generation"): a secret of
/// the hash's own HMAC key type (CKK_SHA256_HMAC …), sizes in bytes as for
/// the HMAC mechanisms that use it.
pub(super) const HMAC_KEYGEN_ROWS: &[MechInfo] = &[
    row(CKM_SHA3_256_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA3_224_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA3_384_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA3_512_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA_1_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA224_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA256_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA384_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
    row(CKM_SHA512_KEY_GEN, HMAC_MIN, HMAC_MAX, CKF_GENERATE),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn ulongs(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn info_lookup() {
        assert_eq!(info(CKM_ECDSA).unwrap().flags, EC_SIGN);
        assert_eq!(info(CKM_AES_KEY_GEN).unwrap().max_key, 32);
        assert_eq!(info(CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap().min_key, 2048);
        assert_eq!(info(CKM_MD5).unwrap_err(), Error::MechanismInvalid);
        assert_eq!(info(CKM_DES3_CBC).unwrap_err(), Error::MechanismInvalid);
        assert!(info(CKM_RSA_PKCS_OAEP).unwrap().flags & CKF_DECRYPT != 0);
    }

    #[test]
    fn key_size_units() {
        let hmac = info(CKM_SHA256_HMAC).unwrap();
        assert_eq!(hmac.key_size_unit(), KeySizeUnit::Bytes);
        assert!(hmac.key_size_ok(256));
        assert!(!hmac.key_size_ok(0));
        assert!(!hmac.key_size_ok(513 * 8));
        let gen_secret = info(CKM_GENERIC_SECRET_KEY_GEN).unwrap();
        assert!(gen_secret.key_size_ok(8) && gen_secret.key_size_ok(4096));
        assert!(!gen_secret.key_size_ok(4104));
        assert!(info(CKM_AES_KEY_GEN).unwrap().key_size_ok(128));
        assert!(!info(CKM_AES_KEY_GEN).unwrap().key_size_ok(64));
        assert!(info(CKM_ECDSA).unwrap().key_size_ok(384));
        assert!(!info(CKM_RSA_PKCS).unwrap().key_size_ok(1024));
        assert!(info(CKM_SHA256).unwrap().key_size_ok(0));
    }

    #[test]
    fn parse_plain() {
        let m = Mechanism::parse(CKM_ECDSA, None).unwrap();
        assert_eq!(m.params, Params::None);
        assert_eq!(
            Mechanism::parse(CKM_SHA256, Some(&[])).unwrap().params,
            Params::None
        );
        assert_eq!(
            Mechanism::parse(CKM_SHA256, Some(&[1])).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            Mechanism::parse(CKM_MD5, None).unwrap_err(),
            Error::MechanismInvalid
        );
    }

    #[test]
    fn parse_pss_params() {
        let good = ulongs(&[CKM_SHA256, CKG_MGF1_SHA256, 32]);
        let m = Mechanism::parse(CKM_SHA256_RSA_PKCS_PSS, Some(&good)).unwrap();
        assert_eq!(
            m.params,
            Params::Pss {
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                salt_len: 32
            }
        );
        assert!(Mechanism::parse(CKM_RSA_PKCS_PSS, Some(&good)).is_ok());
        let bad = [
            ulongs(&[CKM_SHA384, CKG_MGF1_SHA384, 32]),
            ulongs(&[CKM_SHA256, CKG_MGF1_SHA1, 32]),
            ulongs(&[CKM_MD5, CKG_MGF1_SHA256, 32]),
            ulongs(&[CKM_SHA256, CKG_MGF1_SHA256]),
            ulongs(&[CKM_SHA256, CKG_MGF1_SHA256, 32, 0]),
            ulongs(&[CKM_SHA256, CKG_MGF1_SHA256, u64::MAX]),
        ];
        for b in &bad {
            assert_eq!(
                Mechanism::parse(CKM_SHA256_RSA_PKCS_PSS, Some(b)).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        for m in [CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS] {
            assert_eq!(
                Mechanism::parse(m, None).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
    }

    #[test]
    fn parse_mac_general() {
        let m = Mechanism::parse(CKM_SHA256_HMAC_GENERAL, Some(&ulongs(&[16]))).unwrap();
        assert_eq!(m.params, Params::MacLen(16));
        assert!(Mechanism::parse(CKM_SHA_1_HMAC_GENERAL, Some(&ulongs(&[20]))).is_ok());
        for v in [0, 21] {
            assert_eq!(
                Mechanism::parse(CKM_SHA_1_HMAC_GENERAL, Some(&ulongs(&[v]))).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        assert_eq!(
            Mechanism::parse(CKM_SHA256_HMAC_GENERAL, None).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            Mechanism::parse(CKM_SHA256_HMAC, Some(&ulongs(&[16]))).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
