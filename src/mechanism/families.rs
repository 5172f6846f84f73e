//! The mechanism families the registry dispatches to: each owns the
//! operation constructors of its mechanisms and says which operations it
//! can build, so a flag in the registry without a constructor behind it
//! fails a test instead of a client (issue 12). The PKCS#11 logic stays
//! in the family files; this file only names who builds what.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Layout;
use super::cipher::CipherOp;
use super::digest::{DigestOp, HashAlg};
use super::keys::Key;
use super::registry::{Family, Generates, MessageParams};
use super::rsa_recover::{self, RecoverOp};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{
    Mechanism, RawParam, aes, aes_ccm, aes_derive, aes_feedback, aes_keywrap, cbc_mac, chacha_poly,
    cmac, ecdh, eddsa, kbkdf, kdf, rsa_crypt, sign, simple_derive,
};
use crate::error::{Error, Result};

/// The operation flags a family's constructors may serve. Generation
/// (CKF_GENERATE, CKF_GENERATE_KEY_PAIR) is built by the object layer
/// from the key type a mechanism makes, for every family alike. (Read by
/// the registry's tests.)
#[cfg(test)]
pub const OPERATION_FLAGS: CK_FLAGS = CKF_ENCRYPT
    | CKF_DECRYPT
    | CKF_DIGEST
    | CKF_SIGN
    | CKF_VERIFY
    | CKF_WRAP
    | CKF_UNWRAP
    | CKF_DERIVE
    | CKF_MESSAGE_ENCRYPT
    | CKF_MESSAGE_DECRYPT
    | CKF_SIGN_RECOVER
    | CKF_VERIFY_RECOVER
    | CKF_ENCAPSULATE
    | CKF_DECAPSULATE;

/// Operations saved with C_GetOperationState are resumed only by the
/// families whose signatures hash as they go.
fn not_resumed(input: Option<&InputState>) -> Result<()> {
    match input {
        Some(_) => Err(Error::SavedStateInvalid),
        None => Ok(()),
    }
}

/// Digests (CKM_SHA256 …).
pub struct Digests;

impl Family for Digests {
    fn ops(&self) -> CK_FLAGS {
        CKF_DIGEST
    }
    fn digest(&self, mech: &Mechanism) -> Result<Box<dyn DigestOp>> {
        HashAlg::from_digest_mech(mech.mech)
            .map(HashAlg::hasher)
            .ok_or(Error::MechanismInvalid)
    }
}

/// HMAC, ECDSA and the RSA PKCS#1 v1.5 and PSS signatures.
pub struct Signatures;

/// Raw CKM_ECDSA and CKM_RSA_PKCS_PSS sign a caller-made hash, and
/// CKM_RSA_PKCS a DigestInfo: single-part only.
fn signs_a_given_hash(mech: CK_MECHANISM_TYPE) -> bool {
    matches!(mech, CKM_ECDSA | CKM_RSA_PKCS | CKM_RSA_PKCS_PSS)
}

impl Family for Signatures {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        !signs_a_given_hash(mech)
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        sign::sign_build(mech, key, input)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        sign::verify_build(mech, key, input)
    }
}

/// CKM_RSA_PKCS: signatures over a caller's DigestInfo, and (when the
/// policy allows the legacy scheme) PKCS#1 v1.5 encryption and wrapping.
pub struct RsaPkcs;

impl Family for RsaPkcs {
    fn ops(&self) -> CK_FLAGS {
        Signatures.ops() | RsaCrypt.ops()
    }
    fn sign_recover(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        rsa_recover::sign_recover_init(mech, key)
    }
    fn verify_recover(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        rsa_recover::verify_recover_init(mech, key)
    }
    fn multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        Signatures.multipart(mech)
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        Signatures.sign(mech, key, input)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        Signatures.verify(mech, key, input)
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        RsaCrypt.encrypt(mech, key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        RsaCrypt.decrypt(mech, key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        RsaCrypt.wrap(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        RsaCrypt.unwrap(mech, unwrapping, wrapped)
    }
}

/// RSA-OAEP and raw RSA encryption and wrapping.
pub struct RsaCrypt;

impl Family for RsaCrypt {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_SIGN_RECOVER
            | CKF_VERIFY_RECOVER
            | CKF_SIGN
            | CKF_VERIFY
    }
    /// Raw RSA signs the caller's data as one integer: single-part.
    fn multipart(&self, _mech: CK_MECHANISM_TYPE) -> bool {
        false
    }
    /// C_Sign / C_Verify with CKM_RSA_X_509 (the legacy policy's grant).
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        rsa_recover::raw_sign_init(mech, key, input)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        rsa_recover::raw_verify_init(mech, key, input)
    }
    /// Raw RSA's signature with recovery (CKM_RSA_X_509, with the legacy
    /// policy's grant).
    fn sign_recover(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        rsa_recover::sign_recover_init(mech, key)
    }
    fn verify_recover(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        rsa_recover::verify_recover_init(mech, key)
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_RSA_PKCS_OAEP => Layout::Oaep,
            _ => Layout::Flat,
        }
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        rsa_crypt::encrypt_init(mech, key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        rsa_crypt::decrypt_init(mech, key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        rsa_crypt::wrap(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        rsa_crypt::unwrap(mech, unwrapping, wrapped)
    }
}

/// The AES block-cipher modes (ECB, CBC, CBC-PAD, CTR, GCM): encryption,
/// and wrapping by encrypting the key's encoding. GCM also serves the
/// message-based calls, which `api/message.rs` builds from GCM operations.
pub struct AesModes;

impl Family for AesModes {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_AES_GCM => Layout::Gcm,
            _ => Layout::Flat,
        }
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes::encrypt_init(mech, &key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes::decrypt_init(mech, &key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        aes::wrap(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        aes::unwrap(mech, unwrapping, wrapped)
    }
    /// One message of message-based AES-GCM: the same operation as a
    /// single-part GCM encryption with that message's parameters.
    fn message(&self, m: &MessageParams<'_>, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        if m.mech != CKM_AES_GCM {
            return Err(Error::MechanismInvalid);
        }
        let raw = RawParam::Gcm {
            iv: m.iv.to_vec(),
            aad: m.aad.to_vec(),
            tag_bits: m.tag_bits,
        };
        let mech = Mechanism::from_raw(m.mech, &raw)?;
        if m.encrypt {
            aes::encrypt_init(&mech, &key)
        } else {
            aes::decrypt_init(&mech, &key)
        }
    }
}

/// AES-OFB, AES-CFB8, AES-CFB128 and AES-CTS (aes_feedback.rs).
pub struct AesFeedback;

impl Family for AesFeedback {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT | CKF_DECRYPT
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes_feedback::init(mech, &key, true)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes_feedback::init(mech, &key, false)
    }
}

/// CKM_CHACHA20_POLY1305 (`chacha_poly.rs`): encryption, wrapping as an
/// encryption (as GCM), message-based calls; its rows also register
/// CKM_CHACHA20_KEY_GEN.
pub struct ChaChaPoly;

impl Family for ChaChaPoly {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_CHACHA20_KEY_GEN).then_some(Generates::Secret(CKK_CHACHA20))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_CHACHA20_POLY1305 => Layout::ChaChaPoly,
            _ => Layout::Flat,
        }
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        chacha_poly::encrypt_init(mech, key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        chacha_poly::decrypt_init(mech, key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        chacha_poly::wrap(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        chacha_poly::unwrap(mech, unwrapping, wrapped)
    }
    fn message(&self, m: &MessageParams<'_>, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        chacha_poly::message(m, key)
    }
}

/// CKM_AES_CCM (`aes_ccm.rs`): encryption, wrapping as an encryption,
/// message-based calls.
pub struct AesCcm;

impl Family for AesCcm {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    }
    fn message(&self, m: &MessageParams<'_>, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes_ccm::message(m, key)
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_AES_CCM => Layout::Ccm,
            _ => Layout::Flat,
        }
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes_ccm::encrypt_init(mech, key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes_ccm::decrypt_init(mech, key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        aes_ccm::wrap(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        aes_ccm::unwrap(mech, unwrapping, wrapped)
    }
}

/// AES key wrap (RFC 3394, RFC 5649): a wrap in one call, or the same as
/// a single-part encryption.
pub struct AesKeyWrap;

impl Family for AesKeyWrap {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP
    }
    fn encrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes::encrypt_init(mech, &key)
    }
    fn decrypt(&self, mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        aes::decrypt_init(mech, &key)
    }
    fn wrap(&self, mech: &Mechanism, wrapping: &Key, material: &[u8]) -> Result<Vec<u8>> {
        aes_keywrap::wrap_key(mech, wrapping, material)
    }
    fn unwrap(
        &self,
        mech: &Mechanism,
        unwrapping: &Key,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        aes_keywrap::unwrap_key(mech, unwrapping, wrapped)
    }
}

/// AES-CMAC.
pub struct Cmac;

impl Family for Cmac {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        not_resumed(input)?;
        cmac::sign_init(mech, key)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        not_resumed(input)?;
        cmac::verify_init(mech, key)
    }
}

/// AES CBC-MAC (CKM_AES_MAC, CKM_AES_MAC_GENERAL; cbc_mac.rs).
pub struct CbcMac;

impl Family for CbcMac {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        not_resumed(input)?;
        cbc_mac::sign_init(mech, key)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        not_resumed(input)?;
        cbc_mac::verify_init(mech, key)
    }
}

/// EdDSA (Ed25519, Ed448); its row family also registers Edwards key
/// generation.
pub struct EdDsa;

impl Family for EdDsa {
    fn ops(&self) -> CK_FLAGS {
        CKF_SIGN | CKF_VERIFY
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_EC_EDWARDS_KEY_PAIR_GEN).then_some(Generates::Pair(CKK_EC_EDWARDS))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_EDDSA => Layout::Eddsa,
            _ => Layout::Flat,
        }
    }
    fn sign(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        not_resumed(input)?;
        eddsa::sign_init(mech, key)
    }
    fn verify(
        &self,
        mech: &Mechanism,
        key: Arc<Key>,
        input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        not_resumed(input)?;
        eddsa::verify_init(mech, key)
    }
}

/// ECDH key agreement (Weierstrass and Montgomery curves); its rows also
/// register Montgomery key generation.
pub struct Ecdh;

impl Family for Ecdh {
    fn ops(&self) -> CK_FLAGS {
        CKF_DERIVE
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_EC_MONTGOMERY_KEY_PAIR_GEN).then_some(Generates::Pair(CKK_EC_MONTGOMERY))
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => Layout::Ecdh,
            _ => Layout::Flat,
        }
    }
    fn derive(
        &self,
        mech: &Mechanism,
        base: &Key,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        ecdh::derive(mech, base, len)
    }
}

/// HKDF derivation; its rows also register the generation mechanisms of
/// the KDF family (HKDF and PBKDF2 key generation).
pub struct Kdf;

impl Family for Kdf {
    fn ops(&self) -> CK_FLAGS {
        CKF_DERIVE
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        match mech {
            CKM_HKDF_KEY_GEN => Some(Generates::Secret(CKK_HKDF)),
            CKM_PKCS5_PBKD2 => Some(Generates::SecretOfTemplateType),
            _ => None,
        }
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_HKDF_DERIVE | CKM_HKDF_DATA => Layout::Hkdf,
            CKM_PKCS5_PBKD2 => Layout::Pbkdf2,
            _ => Layout::Flat,
        }
    }
    fn derive(
        &self,
        mech: &Mechanism,
        base: &Key,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        kdf::hkdf_derive(mech, base, len)
    }
}

/// The NIST SP 800-108 KDFs (`kbkdf.rs`): one call may derive several
/// keys (the main key and the CK_DERIVED_KEY entries of the parameter).
pub struct Kbkdf;

impl Family for Kbkdf {
    fn ops(&self) -> CK_FLAGS {
        CKF_DERIVE
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_SP800_108_FEEDBACK_KDF => Layout::KbkdfFeedback,
            _ => Layout::Kbkdf,
        }
    }
    fn derive(
        &self,
        mech: &Mechanism,
        base: &Key,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        kbkdf::derive(mech, base, len)
    }
    fn derive_keys(
        &self,
        mech: &Mechanism,
        base: &Key,
        lens: &[usize],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        kbkdf::derive_keys(mech, base, lens)
    }
}

/// The derivations whose parameter is data: by AES encryption
/// (CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_CBC_ENCRYPT_DATA, `aes_derive.rs`)
/// and the simple data derivations (`simple_derive.rs`, registered with
/// their own policy hook).
pub struct DataDerive;

impl Family for DataDerive {
    fn ops(&self) -> CK_FLAGS {
        CKF_DERIVE
    }
    fn layout(&self, mech: CK_MECHANISM_TYPE) -> Layout {
        match mech {
            CKM_AES_CBC_ENCRYPT_DATA => Layout::AesCbcEncryptData,
            // A CK_OBJECT_HANDLE and a CK_EXTRACT_PARAMS: one CK_ULONG.
            CKM_CONCATENATE_BASE_AND_KEY | CKM_EXTRACT_KEY_FROM_KEY => Layout::Flat,
            _ => Layout::StringData,
        }
    }
    fn derive(
        &self,
        mech: &Mechanism,
        base: &Key,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        match mech.mech {
            CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA => {
                aes_derive::derive(mech, base, len)
            }
            _ => simple_derive::derive(mech, base, len),
        }
    }
}

/// Mechanisms that only generate keys (CKM_AES_KEY_GEN,
/// CKM_GENERIC_SECRET_KEY_GEN, CKM_EC_KEY_PAIR_GEN,
/// CKM_RSA_PKCS_KEY_PAIR_GEN): no operation constructor.
pub struct KeyGeneration;

impl Family for KeyGeneration {
    fn ops(&self) -> CK_FLAGS {
        0
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        match mech {
            CKM_AES_KEY_GEN => Some(Generates::Secret(CKK_AES)),
            CKM_GENERIC_SECRET_KEY_GEN => Some(Generates::Secret(CKK_GENERIC_SECRET)),
            CKM_EC_KEY_PAIR_GEN => Some(Generates::Pair(CKK_EC)),
            CKM_RSA_PKCS_KEY_PAIR_GEN => Some(Generates::Pair(CKK_RSA)),
            CKM_SHA_1_KEY_GEN => Some(Generates::Secret(CKK_SHA_1_HMAC)),
            CKM_SHA224_KEY_GEN => Some(Generates::Secret(CKK_SHA224_HMAC)),
            CKM_SHA256_KEY_GEN => Some(Generates::Secret(CKK_SHA256_HMAC)),
            CKM_SHA384_KEY_GEN => Some(Generates::Secret(CKK_SHA384_HMAC)),
            CKM_SHA512_KEY_GEN => Some(Generates::Secret(CKK_SHA512_HMAC)),
            CKM_SHA3_224_KEY_GEN => Some(Generates::Secret(CKK_SHA3_224_HMAC)),
            CKM_SHA3_256_KEY_GEN => Some(Generates::Secret(CKK_SHA3_256_HMAC)),
            CKM_SHA3_384_KEY_GEN => Some(Generates::Secret(CKK_SHA3_384_HMAC)),
            CKM_SHA3_512_KEY_GEN => Some(Generates::Secret(CKK_SHA3_512_HMAC)),
            _ => None,
        }
    }
}

/// ML-KEM (PKCS#11 3.2): key encapsulation with CKM_ML_KEM; its rows also
/// register CKM_ML_KEM_KEY_PAIR_GEN.
pub struct MlKem;

impl Family for MlKem {
    fn ops(&self) -> CK_FLAGS {
        CKF_ENCAPSULATE | CKF_DECAPSULATE
    }
    fn generates(&self, mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        (mech == CKM_ML_KEM_KEY_PAIR_GEN).then_some(Generates::Pair(CKK_ML_KEM))
    }
    fn ciphertext_len(&self, mech: &Mechanism, key: &Key) -> Result<usize> {
        match (mech.mech, key) {
            (CKM_ML_KEM, Key::MlKemPublic(k)) => Ok(k.set().ct_len()),
            (CKM_ML_KEM, _) => Err(Error::KeyTypeInconsistent),
            _ => Err(Error::MechanismInvalid),
        }
    }
    fn encapsulate(&self, mech: &Mechanism, key: &Key) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        match (mech.mech, key) {
            (CKM_ML_KEM, Key::MlKemPublic(k)) => k.encapsulate(),
            (CKM_ML_KEM, _) => Err(Error::KeyTypeInconsistent),
            _ => Err(Error::MechanismInvalid),
        }
    }
    fn decapsulate(
        &self,
        mech: &Mechanism,
        key: &Key,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        match (mech.mech, key) {
            (CKM_ML_KEM, Key::MlKemPrivate(k)) => k.decapsulate(ciphertext),
            (CKM_ML_KEM, _) => Err(Error::KeyTypeInconsistent),
            _ => Err(Error::MechanismInvalid),
        }
    }
}

#[cfg(test)]
mod ml_kem_family_tests {
    use super::*;
    use crate::mechanism::Params;
    use crate::mechanism::ml_kem::{MlKemPrivate, ParamSet};

    #[test]
    fn dispatch() {
        let m = Mechanism {
            mech: CKM_ML_KEM,
            params: Params::None,
        };
        let private = MlKemPrivate::from_seed(ParamSet::MlKem512, &[5; 64]).unwrap();
        let public = Key::MlKemPublic(Box::new(private.to_public()));
        let private = Key::MlKemPrivate(Box::new(private));
        assert_eq!(MlKem.ciphertext_len(&m, &public), Ok(768));
        let (ct, k) = MlKem.encapsulate(&m, &public).unwrap();
        assert_eq!(MlKem.decapsulate(&m, &private, &ct).unwrap(), k);
        assert_eq!(
            MlKem.encapsulate(&m, &private).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        assert_eq!(
            MlKem.decapsulate(&m, &public, &ct).unwrap_err(),
            Error::KeyTypeInconsistent
        );
        let aes = Key::secret(CKK_AES, &[1; 16]).unwrap();
        assert_eq!(
            MlKem.encapsulate(&m, &aes).unwrap_err(),
            Error::KeyTypeInconsistent
        );
    }
}
