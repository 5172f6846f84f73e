//! The mechanism registry: for each mechanism, its flags, key-size range
//! and unit, and the family whose constructors build its operations
//! (`families.rs`) — gathered once from the family tables, with the
//! deployment's policy applied in this one place. The mechanism list and
//! info, dispatch (`family`: sign, verify, encrypt, decrypt, digest, wrap,
//! unwrap, derive), size checks at init and key generation all read it,
//! so what a client is told and what the module does cannot drift: a test
//! fails when a registered flag has no constructor behind it, or a family
//! constructor does not know a mechanism registered with it (issue 12).
//!
//! Two facts can differ from the family tables, both set once at
//! `C_Initialize` from the configuration:
//! - RSA key sizes: the family rows give what the module can do
//!   ([`RSA_MIN`]..[`RSA_MAX`] bits); the policy's `min_rsa_bits` raises
//!   the floor of every RSA mechanism (default 2048). A floor above the
//!   ceiling leaves RSA not offered at all.
//! - PKCS#1 v1.5 and raw RSA encryption and wrapping flags (and raw RSA's
//!   signatures with recovery), granted only when
//!   `allow_legacy_rsa_decryption` is set (`rsa_crypt::policy_flags`).
//!
//! The FIPS build narrows every row to its approved-only set first
//! (`fips.rs`), so no policy can grant back what that mode leaves out.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::cipher::CipherOp;
use super::digest::DigestOp;
use super::families::{
    AesCcm, AesFeedback, AesKeyWrap, AesModes, CbcMac, ChaChaPoly, Cmac, DataDerive, Digests, Ecdh,
    EdDsa, Kbkdf, Kdf, KeyGeneration, MlKem, RsaCrypt, RsaPkcs, Signatures,
};
use super::keys::Key;
use super::rsa_recover::RecoverOp;
use super::setting::{self, Setting};
use super::sign::{SignOp, VerifyOp};
use super::state::InputState;
use super::{
    KeySizeUnit, Layout, MechInfo, Mechanism, aes, aes_ccm, aes_derive, aes_feedback, cbc_mac,
    chacha_poly, cmac, ecdh, eddsa, kbkdf, kdf, ml_dsa, rsa_crypt, simple_derive,
};
use crate::error::{Error, Result};

/// The RSA modulus sizes, in bits, the module can generate and use: the
/// floor is the smallest any policy may allow (`min_rsa_bits` >= 1024),
/// the ceiling the largest generation finishes in reasonable time.
pub const RSA_MIN: u64 = 1024;
pub const RSA_MAX: u64 = 4096;

/// The policy's RSA floor when no configuration set one.
pub const DEFAULT_MIN_RSA_BITS: u64 = 2048;

/// A family of mechanisms and the constructors of their operations
/// (`families.rs`). Dispatch reaches a constructor only through
/// [`family`], after the registry checked that the mechanism is offered
/// with the flag the call needs; a constructor a family does not have
/// answers CKR_MECHANISM_INVALID.
pub trait Family: Sync {
    /// The operation flags (`families::OPERATION_FLAGS`) this family
    /// builds; a test checks every registered flag has its constructor.
    fn ops(&self) -> CK_FLAGS;
    /// Which C structure `mech`'s parameter is, so the ABI layer knows how
    /// to read it (pointers are followed there, nowhere else).
    fn layout(&self, _mech: CK_MECHANISM_TYPE) -> Layout {
        Layout::Flat
    }
    /// What `mech` generates (C_GenerateKey, C_GenerateKeyPair); `None`
    /// for a mechanism that generates nothing.
    fn generates(&self, _mech: CK_MECHANISM_TYPE) -> Option<Generates> {
        None
    }
    /// Whether `mech`'s signatures may be made in several parts (raw
    /// mechanisms that sign a caller's hash are single-part).
    fn multipart(&self, _mech: CK_MECHANISM_TYPE) -> bool {
        true
    }
    /// Whether C_VerifyUpdate may be used with `mech`: as for signing,
    /// unless the mechanism allows multi-part verification only through
    /// C_VerifySignature* (PKCS#11 3.2: CKM_ML_DSA).
    fn verify_multipart(&self, mech: CK_MECHANISM_TYPE) -> bool {
        self.multipart(mech)
    }
    fn sign(
        &self,
        _mech: &Mechanism,
        _key: Arc<Key>,
        _input: Option<&InputState>,
    ) -> Result<Box<dyn SignOp>> {
        Err(Error::MechanismInvalid)
    }
    fn verify(
        &self,
        _mech: &Mechanism,
        _key: Arc<Key>,
        _input: Option<&InputState>,
    ) -> Result<Box<dyn VerifyOp>> {
        Err(Error::MechanismInvalid)
    }
    fn encrypt(&self, _mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        Err(Error::MechanismInvalid)
    }
    fn decrypt(&self, _mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        Err(Error::MechanismInvalid)
    }
    fn digest(&self, _mech: &Mechanism) -> Result<Box<dyn DigestOp>> {
        Err(Error::MechanismInvalid)
    }
    fn wrap(&self, _mech: &Mechanism, _wrapping: &Key, _material: &[u8]) -> Result<Vec<u8>> {
        Err(Error::MechanismInvalid)
    }
    fn unwrap(
        &self,
        _mech: &Mechanism,
        _unwrapping: &Key,
        _wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        Err(Error::MechanismInvalid)
    }
    fn derive(
        &self,
        _mech: &Mechanism,
        _base: &Key,
        _len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        Err(Error::MechanismInvalid)
    }
    /// Several keys from one derivation, `lens[i]` bytes each, in order;
    /// a family that derives one key at a time takes exactly one length.
    fn derive_keys(
        &self,
        mech: &Mechanism,
        base: &Key,
        lens: &[usize],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        match lens {
            [len] => Ok(vec![self.derive(mech, base, Some(*len))?]),
            _ => Err(Error::MechanismParamInvalid),
        }
    }
    /// The operation for one message of the message-based calls
    /// (C_EncryptMessage …): the message's IV, associated data and tag
    /// length, as an AEAD's per-message parameter gives them.
    fn message(&self, _m: &MessageParams<'_>, _key: Arc<Key>) -> Result<Box<dyn CipherOp>> {
        Err(Error::MechanismInvalid)
    }
    /// C_SignRecoverInit's operation (`rsa_recover.rs`).
    fn sign_recover(&self, _mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        Err(Error::MechanismInvalid)
    }
    /// C_VerifyRecoverInit's operation (`rsa_recover.rs`).
    fn verify_recover(&self, _mech: &Mechanism, _key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
        Err(Error::MechanismInvalid)
    }
    /// C_EncapsulateKey (PKCS#11 3.2): the ciphertext's length for
    /// `key`, for the length query, before anything is made.
    fn ciphertext_len(&self, _mech: &Mechanism, _key: &Key) -> Result<usize> {
        Err(Error::MechanismInvalid)
    }
    /// C_EncapsulateKey: (ciphertext, shared secret) for the public `key`.
    fn encapsulate(&self, _mech: &Mechanism, _key: &Key) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        Err(Error::MechanismInvalid)
    }
    /// C_DecapsulateKey: the shared secret of `ciphertext` for the
    /// private `key`.
    fn decapsulate(
        &self,
        _mech: &Mechanism,
        _key: &Key,
        _ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        Err(Error::MechanismInvalid)
    }
}

/// Starts a signature with data recovery through the registry:
/// CKR_MECHANISM_INVALID unless `mech` is offered with CKF_SIGN_RECOVER.
pub fn sign_recover_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
    family(mech.mech, CKF_SIGN_RECOVER)?.sign_recover(mech, key)
}

/// Starts a verification with data recovery (CKF_VERIFY_RECOVER).
pub fn verify_recover_init(mech: &Mechanism, key: Arc<Key>) -> Result<Box<dyn RecoverOp>> {
    family(mech.mech, CKF_VERIFY_RECOVER)?.verify_recover(mech, key)
}

/// C_EncapsulateKey's ciphertext length (CKR_MECHANISM_INVALID unless
/// `mech` is offered with CKF_ENCAPSULATE).
pub fn ciphertext_len(mech: &Mechanism, key: &Key) -> Result<usize> {
    family(mech.mech, CKF_ENCAPSULATE)?.ciphertext_len(mech, key)
}

/// C_EncapsulateKey through the registry.
pub fn encapsulate(mech: &Mechanism, key: &Key) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    family(mech.mech, CKF_ENCAPSULATE)?.encapsulate(mech, key)
}

/// C_DecapsulateKey through the registry.
pub fn decapsulate(mech: &Mechanism, key: &Key, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    family(mech.mech, CKF_DECAPSULATE)?.decapsulate(mech, key, ciphertext)
}

/// What a generation mechanism makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generates {
    /// A secret key of this type (C_GenerateKey).
    Secret(CK_KEY_TYPE),
    /// A secret key of the type the template names (CKM_PKCS5_PBKD2).
    SecretOfTemplateType,
    /// A key pair of this type (C_GenerateKeyPair).
    Pair(CK_KEY_TYPE),
    /// A domain parameters object of this key type (C_GenerateKey with
    /// CKM_DSA_PARAMETER_GEN, CKM_DH_PKCS_PARAMETER_GEN).
    DomainParameters(CK_KEY_TYPE),
}

/// What `mech` generates, once the registry has checked that it is
/// offered with `flag` (CKF_GENERATE or CKF_GENERATE_KEY_PAIR):
/// CKR_MECHANISM_INVALID otherwise.
pub fn generates(mech: CK_MECHANISM_TYPE, flag: CK_FLAGS) -> Result<Generates> {
    family(mech, flag)?
        .generates(mech)
        .filter(|g| matches!(g, Generates::Pair(_)) == (flag == CKF_GENERATE_KEY_PAIR))
        .ok_or(Error::MechanismInvalid)
}

/// One message of a message-based operation (see [`Family::message`]).
pub struct MessageParams<'a> {
    pub mech: CK_MECHANISM_TYPE,
    pub encrypt: bool,
    pub iv: &'a [u8],
    pub aad: &'a [u8],
    pub tag_bits: CK_ULONG,
    /// CK_CCM_MESSAGE_PARAMS's ulDataLen (`None` for the other forms).
    pub data_len: Option<usize>,
}

/// The operation for one message of `mech` (C_EncryptMessage,
/// C_DecryptMessage and their multi-part forms): CKR_MECHANISM_INVALID
/// unless the mechanism is offered for message-based use in that
/// direction.
pub fn message_op(
    mech: CK_MECHANISM_TYPE,
    encrypt: bool,
    key: Arc<Key>,
    iv: &[u8],
    aad: &[u8],
    tag_bits: CK_ULONG,
) -> Result<Box<dyn CipherOp>> {
    message_op_with_len(mech, encrypt, key, iv, aad, tag_bits, None)
}

/// [`message_op`] with the text length a CCM message announces.
pub fn message_op_with_len(
    mech: CK_MECHANISM_TYPE,
    encrypt: bool,
    key: Arc<Key>,
    iv: &[u8],
    aad: &[u8],
    tag_bits: CK_ULONG,
    data_len: Option<usize>,
) -> Result<Box<dyn CipherOp>> {
    let flag = if encrypt {
        CKF_MESSAGE_ENCRYPT
    } else {
        CKF_MESSAGE_DECRYPT
    };
    let m = MessageParams {
        mech,
        encrypt,
        iv,
        aad,
        tag_bits,
        data_len,
    };
    family(mech, flag)?.message(&m, key)
}

/// Which policy hook applies to a family's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    None,
    /// An RSA mechanism: the policy's floor applies, and the legacy
    /// encryption flags may be granted.
    Rsa,
    /// A simple data derivation: offered only without key separation
    /// (simple_derive.rs).
    SimpleDerive,
    /// CBC-MAC: offered only when the policy allows it (cbc_mac.rs).
    CbcMac,
    /// CKM_POLY1305 and its key generation: offered only when the policy
    /// allows it (poly1305_mac.rs: a one-time key).
    Poly1305,
    /// An EC mechanism: the policy's `min_ec_bits` raises the floor.
    Ec,
}

/// One registered mechanism: its row as the module can do it, the unit of
/// its key sizes, its family, and the policy hook that turns the row into
/// what is offered.
struct Entry {
    row: MechInfo,
    unit: KeySizeUnit,
    family: &'static dyn Family,
    hook: Hook,
}

/// One registration: a family file's rows, with what they share.
struct Rows {
    rows: &'static [MechInfo],
    unit: KeySizeUnit,
    family: &'static dyn Family,
    hook: Hook,
}

const fn rows(
    rows: &'static [MechInfo],
    unit: KeySizeUnit,
    family: &'static dyn Family,
    hook: Hook,
) -> Rows {
    Rows {
        rows,
        unit,
        family,
        hook,
    }
}

/// Every mechanism the module has, by family. Key-size units follow
/// PKCS#11 3.0 per mechanism: RSA and EC sizes in bits (modulus / curve
/// order), AES, HMAC, CMAC and HKDF sizes in bytes,
/// CKM_GENERIC_SECRET_KEY_GEN in bits (the spec's wording for it,
/// although CKA_VALUE_LEN is in bytes).
const REGISTRATIONS: &[Rows] = {
    use KeySizeUnit::{Bits, Bytes};
    &[
        rows(super::DIGEST_ROWS, KeySizeUnit::None, &Digests, Hook::None),
        rows(super::HMAC_ROWS, Bytes, &Signatures, Hook::None),
        rows(super::ECDSA_ROWS, Bits, &Signatures, Hook::Ec),
        rows(super::KEYGEN_BITS_ROWS, Bits, &KeyGeneration, Hook::None),
        rows(super::EC_GEN_ROWS, Bits, &KeyGeneration, Hook::Ec),
        rows(super::KEYGEN_BYTES_ROWS, Bytes, &KeyGeneration, Hook::None),
        rows(super::HMAC_KEYGEN_ROWS, Bytes, &KeyGeneration, Hook::None),
        rows(super::RSA_GEN_ROWS, Bits, &KeyGeneration, Hook::Rsa),
        rows(super::RSA_ROWS, Bits, &Signatures, Hook::Rsa),
        rows(super::RSA_PKCS_ROWS, Bits, &RsaPkcs, Hook::Rsa),
        rows(rsa_crypt::ROWS, Bits, &RsaCrypt, Hook::Rsa),
        rows(aes::ROWS, Bytes, &AesModes, Hook::None),
        rows(aes::KW_ROWS, Bytes, &AesKeyWrap, Hook::None),
        rows(aes_feedback::ROWS, Bytes, &AesFeedback, Hook::None),
        rows(cmac::ROWS, Bytes, &Cmac, Hook::None),
        rows(cbc_mac::ROWS, Bytes, &CbcMac, Hook::CbcMac),
        rows(kdf::ROWS, Bytes, &Kdf, Hook::None),
        rows(kbkdf::ROWS, Bits, &Kbkdf, Hook::None),
        rows(aes_derive::ROWS, Bytes, &DataDerive, Hook::None),
        rows(simple_derive::ROWS, Bytes, &DataDerive, Hook::SimpleDerive),
        rows(eddsa::ROWS, Bits, &EdDsa, Hook::None),
        rows(ecdh::ROWS, Bits, &Ecdh, Hook::Ec),
        rows(chacha_poly::ROWS, Bytes, &ChaChaPoly, Hook::None),
        rows(aes_ccm::ROWS, Bytes, &AesCcm, Hook::None),
        rows(
            super::stream_cipher::ROWS,
            Bytes,
            &super::stream_cipher::StreamCiphers,
            Hook::None,
        ),
        rows(
            super::poly1305_mac::ROWS,
            Bytes,
            &super::poly1305_mac::Poly1305Mac,
            Hook::Poly1305,
        ),
        rows(ml_dsa::ROWS, Bytes, &ml_dsa::MlDsaFamily, Hook::None),
        rows(super::ml_kem::ROWS, Bytes, &MlKem, Hook::None),
        rows(super::dsa::ROWS, Bits, &super::dsa::DsaFamily, Hook::None),
        rows(super::dh::ROWS, Bits, &super::dh::DhFamily, Hook::None),
        rows(
            super::slh_dsa::ROWS,
            Bytes,
            &super::slh_dsa::SlhDsaFamily,
            Hook::None,
        ),
    ]
};

/// Every registration's rows, merged and sorted ascending by mechanism
/// type once (checked unique by a test) so lookups can binary-search.
static REGISTRY: std::sync::LazyLock<Vec<Entry>> = std::sync::LazyLock::new(|| {
    let mut entries: Vec<Entry> = REGISTRATIONS
        .iter()
        .flat_map(|r| {
            r.rows.iter().map(|row| Entry {
                row: *row,
                unit: r.unit,
                family: r.family,
                hook: r.hook,
            })
        })
        .collect();
    entries.sort_by_key(|e| e.row.mech);
    entries
});

static MIN_RSA_BITS: Setting = Setting::new(setting::MIN_RSA_BITS, DEFAULT_MIN_RSA_BITS);

/// Sets the policy's RSA floor for the process (the configuration's
/// `policy.min_rsa_bits`, already checked to lie in 1024..=16384).
pub fn set_min_rsa_bits(bits: u64) {
    MIN_RSA_BITS.set(bits);
}

/// The policy's RSA floor in force.
pub fn min_rsa_bits() -> u64 {
    MIN_RSA_BITS.get()
}

/// The smallest RSA public key any policy may admit for verification.
pub const RSA_VERIFY_MIN: u64 = 512;

/// 0: verification follows `min_rsa_bits` (no configuration said
/// otherwise).
static MIN_RSA_VERIFY_BITS: Setting = Setting::new(setting::MIN_RSA_VERIFY_BITS, 0);

/// Sets the policy's floor for RSA verification (`policy.min_rsa_verify_bits`,
/// already checked to lie in 512..=min_rsa_bits).
pub fn set_min_rsa_verify_bits(bits: u64) {
    MIN_RSA_VERIFY_BITS.set(bits);
}

/// The RSA floor for C_Verify and C_VerifyRecover: `min_rsa_verify_bits`,
/// never above `min_rsa_bits`.
pub fn min_rsa_verify_bits() -> u64 {
    match MIN_RSA_VERIFY_BITS.get() {
        0 => min_rsa_bits(),
        bits => bits.min(min_rsa_bits()),
    }
}

/// The RSA size rule of one function: a key of `bits` fits `mech`'s
/// offered range, and unless the function verifies (`verifying`), is at
/// least `min_rsa_bits` — a row that verifies reports the lower
/// verification floor as its minimum, which its other functions do not
/// take. KeySizeRange otherwise.
pub fn check_rsa_size(mech: CK_MECHANISM_TYPE, bits: u64, verifying: bool) -> Result<()> {
    if info(mech)?.key_size_ok(bits) && (verifying || bits >= min_rsa_bits()) {
        Ok(())
    } else {
        Err(Error::KeySizeRange)
    }
}

/// The policy's EC floor (order bits) when no configuration set one.
pub const DEFAULT_MIN_EC_BITS: u64 = 256;

static MIN_EC_BITS: Setting = Setting::new(setting::MIN_EC_BITS, DEFAULT_MIN_EC_BITS);

/// Sets the policy's EC floor for the process (`policy.min_ec_bits`,
/// already checked to lie in 192..=521).
pub fn set_min_ec_bits(bits: u64) {
    MIN_EC_BITS.set(bits);
}

/// The policy's EC floor in force.
pub fn min_ec_bits() -> u64 {
    MIN_EC_BITS.get()
}

/// The floor `min_ec_bits` puts on an EC row: ECDH also takes X25519
/// (255 bits), which that floor does not govern, and the Montgomery key
/// generation row (in the same family table) none at all.
fn ec_floor(mech: CK_MECHANISM_TYPE) -> u64 {
    match mech {
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            min_ec_bits().min(super::keys::CURVE25519_BITS)
        }
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN => 0,
        _ => min_ec_bits(),
    }
}

fn entry(mech: CK_MECHANISM_TYPE) -> Result<&'static Entry> {
    let entries: &[Entry] = &REGISTRY;
    entries
        .binary_search_by_key(&mech, |e| e.row.mech)
        .ok()
        .and_then(|i| entries.get(i))
        .ok_or(Error::MechanismInvalid)
}

/// What the policy makes of an entry; `None` when it is not offered (no
/// flag left, or an empty size range).
fn offered(e: &Entry) -> Option<MechInfo> {
    let mut row = e.row;
    if super::provider::FIPS {
        row = super::fips::narrow(row)?;
    }
    if e.hook == Hook::SimpleDerive && !simple_derive::simple_derive_allowed() {
        return None;
    }
    if e.hook == Hook::CbcMac && !cbc_mac::cbc_mac_allowed() {
        return None;
    }
    if e.hook == Hook::Poly1305 && !super::poly1305_mac::poly1305_allowed() {
        return None;
    }
    if e.hook == Hook::Rsa {
        row.flags |= rsa_crypt::policy_flags(row.mech);
        // A row that verifies reports the verification floor (public
        // keys down to `min_rsa_verify_bits` verify with it); its other
        // functions still need `min_rsa_bits` (`check_rsa_size`).
        // The FIPS build's floor (fips.rs) stays whatever the policy says.
        let fips_floor = if super::provider::FIPS {
            row.min_key
        } else {
            0
        };
        row.min_key = if row.flags & (CKF_VERIFY | CKF_VERIFY_RECOVER) != 0 {
            min_rsa_verify_bits().max(RSA_VERIFY_MIN).max(fips_floor)
        } else {
            row.min_key.max(min_rsa_bits())
        };
        if row.min_key > row.max_key {
            return None;
        }
    }
    if e.hook == Hook::Ec {
        row.min_key = row.min_key.max(ec_floor(row.mech));
        if row.min_key > row.max_key {
            return None;
        }
    }
    (row.flags != 0).then_some(row)
}

/// The mechanism as offered: the flags and key-size range
/// `C_GetMechanismInfo` reports and every operation checks.
/// CKR_MECHANISM_INVALID for a mechanism the module does not offer, or
/// that the policy leaves without any function.
pub fn info(mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
    offered(entry(mech)?).ok_or(Error::MechanismInvalid)
}

/// The mechanism as the module can do it, before the policy: for the
/// checks that must leave the policy's own refusal (which names its rule
/// and is audited) to the policy, e.g. a generation request's size.
pub fn capability(mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
    Ok(entry(mech)?.row)
}

/// Every offered mechanism, ascending by type (`C_GetMechanismList`).
pub fn table() -> Vec<MechInfo> {
    REGISTRY.iter().filter_map(offered).collect()
}

/// Whether `mech` is registered at all, offered or not (parameter parsing
/// tells an unknown mechanism from one the policy switched off).
pub fn known(mech: CK_MECHANISM_TYPE) -> bool {
    entry(mech).is_ok()
}

/// The unit of `mech`'s key sizes (`KeySizeUnit::Bits` for a mechanism
/// not registered, which no size check reaches).
pub fn unit(mech: CK_MECHANISM_TYPE) -> KeySizeUnit {
    entry(mech).map_or(KeySizeUnit::Bits, |e| e.unit)
}

/// The parameter layout of `mech` (`Layout::Flat` for a mechanism not
/// registered: its parameter is copied as bytes, and the call fails on
/// the mechanism).
pub fn layout(mech: CK_MECHANISM_TYPE) -> Layout {
    entry(mech).map_or(Layout::Flat, |e| e.family.layout(mech))
}

/// Whether `mech` may be used with the multi-part signature calls.
pub fn is_multipart(mech: CK_MECHANISM_TYPE) -> bool {
    entry(mech).is_ok_and(|e| e.family.multipart(mech))
}

/// Whether C_VerifyUpdate may be used with `mech` (C_VerifySignature*
/// follows [`is_multipart`]).
pub fn is_verify_multipart(mech: CK_MECHANISM_TYPE) -> bool {
    entry(mech).is_ok_and(|e| e.family.verify_multipart(mech))
}

/// The family that builds `mech`'s operations, once the registry has
/// checked that the mechanism is offered with `flag` (the operation the
/// caller starts): CKR_MECHANISM_INVALID otherwise.
pub fn family(mech: CK_MECHANISM_TYPE, flag: CK_FLAGS) -> Result<&'static dyn Family> {
    let e = entry(mech)?;
    match offered(e) {
        Some(row) if row.flags & flag == flag => Ok(e.family),
        _ => Err(Error::MechanismInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::families::OPERATION_FLAGS;
    use crate::mechanism::{Alg25519, Curve, Params, generate_ec, generate_rsa};

    /// Every operation flag a mechanism is registered with — the policy's
    /// grants included — is one its family builds.
    #[test]
    fn every_registered_flag_has_its_family_constructor() {
        for e in REGISTRY.iter() {
            let possible = (e.row.flags | rsa_crypt::grantable_flags(e.row.mech)) & OPERATION_FLAGS;
            assert_eq!(
                possible & !e.family.ops(),
                0,
                "{:#x} is registered with flags its family does not build",
                e.row.mech
            );
        }
    }

    /// Generation the same way: a mechanism registered with CKF_GENERATE
    /// makes a secret key and one with CKF_GENERATE_KEY_PAIR a pair, as
    /// its family says, and a family makes nothing it is not registered
    /// to.
    #[test]
    fn generation_flags_and_what_is_generated_agree() {
        for e in REGISTRY.iter() {
            let made = e.family.generates(e.row.mech);
            let secret = matches!(
                made,
                Some(
                    Generates::Secret(_)
                        | Generates::SecretOfTemplateType
                        | Generates::DomainParameters(_)
                )
            );
            let pair = matches!(made, Some(Generates::Pair(_)));
            assert_eq!(e.row.flags & CKF_GENERATE != 0, secret, "{:#x}", e.row.mech);
            assert_eq!(
                e.row.flags & CKF_GENERATE_KEY_PAIR != 0,
                pair,
                "{:#x}",
                e.row.mech
            );
        }
        assert_eq!(
            generates(CKM_AES_KEY_GEN, CKF_GENERATE),
            Ok(Generates::Secret(CKK_AES))
        );
        assert_eq!(
            generates(CKM_AES_KEY_GEN, CKF_GENERATE_KEY_PAIR),
            Err(Error::MechanismInvalid)
        );
        assert_eq!(
            generates(CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
            Ok(Generates::Pair(CKK_RSA))
        );
        assert_eq!(
            generates(CKM_SHA256, CKF_GENERATE),
            Err(Error::MechanismInvalid)
        );
    }

    /// Keys of every type the families take, to reach their constructors.
    fn keys() -> Vec<Arc<Key>> {
        let ec = generate_ec(&Curve::P256.ec_params()).unwrap();
        let rsa = generate_rsa(1024, &[]).unwrap();
        let rsa_private = Key::rsa_private(
            &rsa.modulus,
            &rsa.public_exponent,
            &rsa.private_exponent,
            Some((&rsa.prime_1, &rsa.prime_2)),
        )
        .unwrap();
        let ed = Key::edwards_private(&Alg25519::Ed25519.ec_params(), &[1; 32]).unwrap();
        let x = Key::montgomery_private(&Alg25519::X25519.ec_params(), &[1; 32]).unwrap();
        [
            Key::secret(CKK_AES, &[7; 32]).unwrap(),
            Key::secret(CKK_GENERIC_SECRET, &[7; 32]).unwrap(),
            Key::ec_private(&ec.ec_params, &ec.private_value).unwrap(),
            Key::ec_public(&ec.ec_params, &ec.ec_point_der).unwrap(),
            rsa_private.to_public().unwrap(),
            rsa_private,
            ed.to_public().unwrap(),
            ed,
            x.to_public().unwrap(),
            x,
            Key::MlKemPrivate(Box::new(
                crate::mechanism::ml_kem::MlKemPrivate::from_seed(
                    crate::mechanism::ml_kem::ParamSet::MlKem768,
                    &[3; 64],
                )
                .unwrap(),
            )),
        ]
        .into_iter()
        .map(Arc::new)
        .collect()
    }

    /// The other direction: every operation a family claims for a
    /// mechanism reaches a constructor that knows the mechanism — with
    /// some key it answers anything but CKR_MECHANISM_INVALID (a bad
    /// parameter or key is fine: the constructor was there to say so).
    #[test]
    fn every_family_constructor_knows_its_mechanisms() {
        // The legacy RSA constructors re-check the policy themselves.
        rsa_crypt::allow_legacy_in_this_thread(true);
        let keys = keys();
        for e in REGISTRY.iter() {
            let m = Mechanism {
                mech: e.row.mech,
                params: Params::None,
            };
            let f = e.family;
            let possible = (e.row.flags | rsa_crypt::grantable_flags(e.row.mech)) & OPERATION_FLAGS;
            let message = |encrypt: bool, k: &Arc<Key>| {
                let p = MessageParams {
                    mech: e.row.mech,
                    encrypt,
                    iv: &[0; 12],
                    aad: &[],
                    tag_bits: 128,
                    data_len: None,
                };
                f.message(&p, k.clone()).map(drop)
            };
            let mut flag = 1;
            while flag != 0 {
                if possible & flag != 0 {
                    let reached = keys.iter().any(|k| {
                        let rv = match flag {
                            CKF_SIGN => f.sign(&m, k.clone(), None).map(drop),
                            CKF_VERIFY => f.verify(&m, k.clone(), None).map(drop),
                            CKF_ENCRYPT => f.encrypt(&m, k.clone()).map(drop),
                            CKF_DECRYPT => f.decrypt(&m, k.clone()).map(drop),
                            CKF_DIGEST => f.digest(&m).map(drop),
                            CKF_WRAP => f.wrap(&m, k, &[1; 32]).map(drop),
                            CKF_UNWRAP => f.unwrap(&m, k, &[1; 40]).map(drop),
                            CKF_DERIVE => f.derive(&m, k, Some(32)).map(drop),
                            CKF_MESSAGE_ENCRYPT => message(true, k),
                            CKF_MESSAGE_DECRYPT => message(false, k),
                            CKF_SIGN_RECOVER => f.sign_recover(&m, k.clone()).map(drop),
                            CKF_VERIFY_RECOVER => f.verify_recover(&m, k.clone()).map(drop),
                            CKF_ENCAPSULATE => f.encapsulate(&m, k).map(drop),
                            CKF_DECAPSULATE => f.decapsulate(&m, k, &[0; 1088]).map(drop),
                            other => panic!("no constructor kind for flag {other:#x}"),
                        };
                        rv != Err(Error::MechanismInvalid)
                    });
                    assert!(
                        reached,
                        "{:#x}: no constructor for flag {flag:#x}",
                        e.row.mech
                    );
                }
                flag <<= 1;
            }
        }
    }

    /// The parameter layouts and the single-part rule come from the
    /// families: the structures that carry pointers, and only those.
    #[test]
    fn layouts_and_multipart_come_from_the_families() {
        let structured = [
            (CKM_AES_GCM, Layout::Gcm),
            (CKM_RSA_PKCS_OAEP, Layout::Oaep),
            (CKM_ECDH1_DERIVE, Layout::Ecdh),
            (CKM_ECDH1_COFACTOR_DERIVE, Layout::Ecdh),
            (CKM_HKDF_DERIVE, Layout::Hkdf),
            (CKM_HKDF_DATA, Layout::Hkdf),
            (CKM_PKCS5_PBKD2, Layout::Pbkdf2),
            (CKM_EDDSA, Layout::Eddsa),
            (CKM_AES_ECB_ENCRYPT_DATA, Layout::StringData),
            (CKM_AES_CBC_ENCRYPT_DATA, Layout::AesCbcEncryptData),
            (CKM_CONCATENATE_BASE_AND_DATA, Layout::StringData),
            (CKM_CONCATENATE_DATA_AND_BASE, Layout::StringData),
            (CKM_XOR_BASE_AND_DATA, Layout::StringData),
            (CKM_SP800_108_COUNTER_KDF, Layout::Kbkdf),
            (CKM_SP800_108_FEEDBACK_KDF, Layout::KbkdfFeedback),
            (CKM_SP800_108_DOUBLE_PIPELINE_KDF, Layout::Kbkdf),
            (CKM_CHACHA20_POLY1305, Layout::ChaChaPoly),
            (CKM_AES_CCM, Layout::Ccm),
            (CKM_CHACHA20, Layout::ChaCha20),
            (CKM_SALSA20, Layout::Salsa20),
            (CKM_ML_DSA, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA, Layout::HashSignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA224, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA256, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA384, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA512, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA3_224, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA3_256, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA3_384, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHA3_512, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHAKE128, Layout::SignAdditionalContext),
            (CKM_HASH_ML_DSA_SHAKE256, Layout::SignAdditionalContext),
            (CKM_SLH_DSA, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA, Layout::HashSignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA224, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA256, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA384, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA512, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA3_224, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA3_256, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA3_384, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHA3_512, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHAKE128, Layout::SignAdditionalContext),
            (CKM_HASH_SLH_DSA_SHAKE256, Layout::SignAdditionalContext),
        ];
        for e in REGISTRY.iter() {
            let want = structured
                .iter()
                .find(|(m, _)| *m == e.row.mech)
                .map_or(Layout::Flat, |(_, l)| *l);
            assert_eq!(layout(e.row.mech), want, "{:#x}", e.row.mech);
        }
        assert_eq!(layout(CKM_MD5), Layout::Flat);
        for m in [CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_MD5] {
            assert!(!is_multipart(m), "{m:#x}");
        }
        for m in [CKM_ECDSA_SHA256, CKM_SHA256_HMAC, CKM_AES_CMAC, CKM_EDDSA] {
            assert!(is_multipart(m), "{m:#x}");
            assert!(is_verify_multipart(m), "{m:#x}");
        }
        // ML-DSA signs in parts and verifies in parts only through
        // C_VerifySignature* (PKCS#11 3.2 §6.67).
        assert!(is_multipart(CKM_ML_DSA) && !is_verify_multipart(CKM_ML_DSA));
        // So does SLH-DSA (the 3.2 spec's SLH-DSA table, footnotes 1 and 2).
        assert!(is_multipart(CKM_SLH_DSA) && !is_verify_multipart(CKM_SLH_DSA));
        assert!(!is_multipart(CKM_HASH_SLH_DSA) && !is_verify_multipart(CKM_HASH_SLH_DSA));
        assert!(
            is_multipart(CKM_HASH_SLH_DSA_SHAKE256)
                && is_verify_multipart(CKM_HASH_SLH_DSA_SHAKE256)
        );
        assert!(!is_multipart(CKM_HASH_ML_DSA) && !is_verify_multipart(CKM_HASH_ML_DSA));
        assert!(
            is_multipart(CKM_HASH_ML_DSA_SHA256) && is_verify_multipart(CKM_HASH_ML_DSA_SHA256)
        );
    }

    /// What a family does not build answers CKR_MECHANISM_INVALID, and
    /// dispatch never reaches a family for a flag the mechanism is not
    /// offered with.
    #[test]
    fn dispatch_refuses_unoffered_operations() {
        let aes = Arc::new(Key::secret(CKK_AES, &[7; 32]).unwrap());
        let sha = Mechanism {
            mech: CKM_SHA256,
            params: Params::None,
        };
        assert_eq!(
            crate::mechanism::encrypt_init(&sha, aes.clone()).err(),
            Some(Error::MechanismInvalid)
        );
        let ctr = Mechanism {
            mech: CKM_AES_CTR,
            params: Params::None,
        };
        assert_eq!(
            crate::mechanism::wrap(&ctr, &aes, &[1; 32]).err(),
            Some(Error::MechanismInvalid)
        );
        assert_eq!(
            crate::mechanism::digest_init(&ctr).err(),
            Some(Error::MechanismInvalid)
        );
        assert_eq!(
            family(CKM_MD5, CKF_DIGEST).err(),
            Some(Error::MechanismInvalid)
        );
        // CKM_RSA_PKCS encrypts only when the policy grants it.
        assert_eq!(
            family(CKM_RSA_PKCS, CKF_ENCRYPT).err(),
            Some(Error::MechanismInvalid)
        );
        assert!(family(CKM_RSA_PKCS, CKF_SIGN).is_ok());
    }

    #[test]
    fn registry_sorted_unique_and_software() {
        let all: &[Entry] = &REGISTRY;
        assert!(all.len() >= 37);
        for w in all.windows(2) {
            assert!(
                w[0].row.mech < w[1].row.mech,
                "{:#x} twice or unsorted",
                w[1].row.mech
            );
        }
        assert!(
            all.iter()
                .all(|e| e.row.flags & CKF_HW == 0 && e.row.min_key <= e.row.max_key)
        );
    }

    #[test]
    fn the_rsa_floor_follows_the_policy_everywhere() {
        let rsa = [
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            CKM_RSA_PKCS,
            CKM_SHA256_RSA_PKCS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_RSA_PKCS_OAEP,
        ];
        assert_eq!(min_rsa_bits(), DEFAULT_MIN_RSA_BITS);
        for m in rsa {
            let i = info(m).unwrap();
            assert_eq!((i.min_key, i.max_key), (2048, RSA_MAX), "{m:#x}");
            assert!(!i.key_size_ok(1024));
            assert_eq!(capability(m).unwrap().min_key, RSA_MIN);
        }
        set_min_rsa_bits(1024);
        for m in rsa {
            assert!(info(m).unwrap().key_size_ok(1024), "{m:#x}");
        }
        assert!(
            table()
                .iter()
                .any(|r| r.mech == CKM_SHA256_RSA_PKCS && r.min_key == 1024)
        );
        // A floor above what the module can generate: RSA is not offered.
        set_min_rsa_bits(8192);
        for m in rsa {
            assert_eq!(info(m).unwrap_err(), Error::MechanismInvalid, "{m:#x}");
        }
        assert!(!table().iter().any(|r| r.mech == CKM_RSA_PKCS));
        assert!(known(CKM_RSA_PKCS));
        // Other families keep their ranges.
        assert_eq!(info(CKM_ECDSA).unwrap().min_key, 256);
        set_min_rsa_bits(DEFAULT_MIN_RSA_BITS);
    }

    /// `min_ec_bits` is the EC mechanisms' floor (ECDH keeps X25519's 255
    /// when the floor is above it), and `min_rsa_verify_bits` the floor of
    /// the RSA rows that verify, which their other functions do not take.
    #[test]
    fn the_ec_and_rsa_verify_floors_follow_the_policy() {
        let ec = [CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_ECDSA_SHA256];
        for m in ec {
            assert_eq!(info(m).unwrap().min_key, DEFAULT_MIN_EC_BITS, "{m:#x}");
            assert_eq!(capability(m).unwrap().min_key, 192, "{m:#x}");
        }
        assert_eq!(info(CKM_ECDH1_DERIVE).unwrap().min_key, 255);
        assert_eq!(info(CKM_EC_MONTGOMERY_KEY_PAIR_GEN).unwrap().min_key, 255);
        set_min_ec_bits(192);
        for m in ec {
            assert!(info(m).unwrap().key_size_ok(192), "{m:#x}");
        }
        assert_eq!(info(CKM_ECDH1_DERIVE).unwrap().min_key, 192);
        assert_eq!(info(CKM_EC_MONTGOMERY_KEY_PAIR_GEN).unwrap().min_key, 255);
        set_min_ec_bits(384);
        assert_eq!(info(CKM_ECDSA).unwrap().min_key, 384);
        assert_eq!(info(CKM_ECDH1_DERIVE).unwrap().min_key, 255);
        set_min_ec_bits(DEFAULT_MIN_EC_BITS);

        // Unset, verification follows min_rsa_bits.
        assert_eq!(min_rsa_verify_bits(), DEFAULT_MIN_RSA_BITS);
        set_min_rsa_bits(1024);
        set_min_rsa_verify_bits(512);
        for m in [CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS] {
            assert_eq!(info(m).unwrap().min_key, 512, "{m:#x}");
            assert_eq!(check_rsa_size(m, 512, true), Ok(()));
            assert_eq!(check_rsa_size(m, 512, false), Err(Error::KeySizeRange));
            assert_eq!(check_rsa_size(m, 1024, false), Ok(()));
            assert_eq!(check_rsa_size(m, 511, true), Err(Error::KeySizeRange));
        }
        for m in [CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_KEY_PAIR_GEN] {
            assert_eq!(info(m).unwrap().min_key, 1024, "{m:#x}");
        }
        // Never above min_rsa_bits.
        set_min_rsa_bits(2048);
        set_min_rsa_verify_bits(3072);
        assert_eq!(min_rsa_verify_bits(), 2048);
        set_min_rsa_verify_bits(0);
        set_min_rsa_bits(DEFAULT_MIN_RSA_BITS);
    }
}
