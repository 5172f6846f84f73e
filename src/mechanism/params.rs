//! Mechanism parameters: what the ABI layer read from the caller's
//! structure ([`RawParam`]), parsed once into typed, checked values
//! ([`Params`]) that the mechanism implementations use.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::HashAlg;
use crate::error::{Error, Result};

/// Which C structure a mechanism's parameter is, so the ABI layer knows
/// how to read it (pointers inside are followed there, nowhere else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A byte string or a structure without pointers: copied as is.
    Flat,
    Gcm,
    Oaep,
    Ecdh,
    Hkdf,
    Pbkdf2,
    Eddsa,
    /// CK_KEY_DERIVATION_STRING_DATA: its data, read as `RawParam::Bytes`.
    StringData,
    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS.
    AesCbcEncryptData,
    /// CK_SP800_108_KDF_PARAMS (counter and double-pipeline KDFs).
    Kbkdf,
    /// CK_SP800_108_FEEDBACK_KDF_PARAMS.
    KbkdfFeedback,
    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS.
    ChaChaPoly,
    /// CK_CHACHA20_PARAMS (CKM_CHACHA20).
    ChaCha20,
    /// CK_SALSA20_PARAMS (CKM_SALSA20).
    Salsa20,
    /// CK_CCM_PARAMS.
    Ccm,
    /// CK_SIGN_ADDITIONAL_CONTEXT (ML-DSA).
    SignAdditionalContext,
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT (HashML-DSA).
    HashSignAdditionalContext,
}

/// CK_HKDF_PARAMS with its pointers followed.
#[derive(Clone, PartialEq, Eq)]
pub struct RawHkdf {
    pub extract: bool,
    pub expand: bool,
    pub prf: CK_MECHANISM_TYPE,
    pub salt_type: CK_ULONG,
    pub salt: Vec<u8>,
    pub salt_key: CK_OBJECT_HANDLE,
    pub info: Vec<u8>,
}

/// CK_PKCS5_PBKD2_PARAMS2 with its pointers followed.
#[derive(Clone, PartialEq, Eq)]
pub struct RawPbkdf2 {
    pub salt_source: CK_ULONG,
    pub salt: Vec<u8>,
    pub iterations: CK_ULONG,
    pub prf: CK_ULONG,
    pub prf_data: Vec<u8>,
    pub password: Zeroizing<Vec<u8>>,
}

/// A mechanism parameter as the caller gave it, pointers already followed.
#[derive(Clone, PartialEq, Eq)]
pub enum RawParam {
    None,
    Bytes(Vec<u8>),
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: CK_ULONG,
    },
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        source: CK_ULONG,
        source_data: Vec<u8>,
    },
    Ecdh {
        kdf: CK_EC_KDF_TYPE,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    Hkdf(RawHkdf),
    Pbkdf2(RawPbkdf2),
    Eddsa {
        prehash: bool,
        context: Vec<u8>,
    },
    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS with its pointer followed.
    AesCbcEncryptData {
        iv: [u8; 16],
        data: Vec<u8>,
    },
    /// An SP 800-108 KDF structure with its pointers followed.
    Kbkdf(super::kbkdf::RawKbkdf),
    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS with its pointers followed
    /// (`nonce_bits` is ulNonceLen, which the spec gives in bits).
    ChaChaPoly {
        nonce: Vec<u8>,
        nonce_bits: CK_ULONG,
        aad: Vec<u8>,
    },
    /// CK_CHACHA20_PARAMS or CK_SALSA20_PARAMS with their pointers
    /// followed (lengths in bits; CK_SALSA20_PARAMS's counter is 64 bits).
    StreamCipher {
        counter: Vec<u8>,
        counter_bits: CK_ULONG,
        nonce: Vec<u8>,
        nonce_bits: CK_ULONG,
    },
    /// CK_CCM_PARAMS with its pointers followed.
    Ccm {
        data_len: CK_ULONG,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        mac_len: CK_ULONG,
    },
    /// CK_SIGN_ADDITIONAL_CONTEXT with its pointer followed.
    SignContext {
        hedge: CK_ULONG,
        context: Vec<u8>,
    },
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT with its pointer followed.
    HashSignContext {
        hedge: CK_ULONG,
        context: Vec<u8>,
        hash: CK_MECHANISM_TYPE,
    },
}

impl std::fmt::Debug for RawParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameters may hold a password (PBKDF2): never printed.
        let kind = match self {
            RawParam::None => "None",
            RawParam::Bytes(_) => "Bytes",
            RawParam::Gcm { .. } => "Gcm",
            RawParam::Oaep { .. } => "Oaep",
            RawParam::Ecdh { .. } => "Ecdh",
            RawParam::Hkdf(_) => "Hkdf",
            RawParam::Pbkdf2(_) => "Pbkdf2",
            RawParam::Eddsa { .. } => "Eddsa",
            RawParam::AesCbcEncryptData { .. } => "AesCbcEncryptData",
            RawParam::Kbkdf(_) => "Kbkdf",
            RawParam::ChaChaPoly { .. } => "ChaChaPoly",
            RawParam::StreamCipher { .. } => "StreamCipher",
            RawParam::Ccm { .. } => "Ccm",
            RawParam::SignContext { .. } => "SignContext",
            RawParam::HashSignContext { .. } => "HashSignContext",
        };
        write!(f, "RawParam::{kind}(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanism {
    pub mech: CK_MECHANISM_TYPE,
    pub params: Params,
}

/// The parsed parameter of a [`Mechanism`].
#[derive(Clone, PartialEq, Eq)]
pub enum Params {
    None,
    /// CK_RSA_PKCS_PSS_PARAMS. `hash` is a digest mechanism (CKM_SHA256…),
    /// `mgf` a CKG_MGF1_* value that always names the same hash (the rsa
    /// crate ties MGF1 to the message hash).
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        salt_len: usize,
    },
    /// CK_MAC_GENERAL_PARAMS: the output length in bytes, 1..=hash length.
    MacLen(usize),
    /// An initialization vector: CBC (16 bytes), key wrap's alternative
    /// IV (8 bytes for KW, 4 for KWP).
    Iv(Vec<u8>),
    /// CK_AES_CTR_PARAMS: how many low bits of the block are the counter.
    Ctr {
        counter_bits: u32,
        block: [u8; 16],
    },
    /// CK_GCM_PARAMS.
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_len: usize,
    },
    /// CK_RSA_PKCS_OAEP_PARAMS: MGF1 uses the same hash (checked).
    Oaep {
        hash: HashAlg,
        label: Vec<u8>,
    },
    /// CK_ECDH1_DERIVE_PARAMS; `kdf` is a CKD_* value already checked.
    Ecdh {
        kdf: CK_EC_KDF_TYPE,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// CK_HKDF_PARAMS; `salt` None means CKF_HKDF_SALT_NULL.
    Hkdf {
        extract: bool,
        expand: bool,
        prf: HashAlg,
        salt: Option<Vec<u8>>,
        info: Vec<u8>,
    },
    /// CK_PKCS5_PBKD2_PARAMS2.
    Pbkdf2 {
        salt: Vec<u8>,
        iterations: u32,
        prf: HashAlg,
        password: Zeroizing<Vec<u8>>,
    },
    /// CK_KEY_DERIVATION_STRING_DATA of the simple data derivations
    /// (simple_derive.rs).
    StringData(Zeroizing<Vec<u8>>),
    /// CK_EDDSA_PARAMS asking for Ed25519ph (RFC 8032 §5.1) with a context
    /// (possibly empty); on an Ed448 key, Ed448ph (§5.2).
    Ed25519ph {
        context: Vec<u8>,
    },
    /// CK_EDDSA_PARAMS without prehash and with a non-empty context: Ed448
    /// with that context (RFC 8032 §5.2); Ed25519ctx on an Ed25519 key,
    /// which the EdDSA family refuses at init (eddsa.rs).
    EddsaContext {
        context: Vec<u8>,
    },
    /// CKM_CONCATENATE_BASE_AND_KEY's parameter: the other key's handle,
    /// resolved by the API layer (simple_derive::bind_second_key).
    OtherKey(CK_OBJECT_HANDLE),
    /// The resolved other key's value.
    SecondKeyValue(Zeroizing<Vec<u8>>),
    /// CK_EXTRACT_PARAMS: the first bit CKM_EXTRACT_KEY_FROM_KEY takes.
    ExtractFrom(CK_ULONG),
    /// The data CKM_AES_ECB_ENCRYPT_DATA (`iv` None) or
    /// CKM_AES_CBC_ENCRYPT_DATA encrypts into a key value: whole blocks.
    EncryptData {
        iv: Option<[u8; 16]>,
        data: Zeroizing<Vec<u8>>,
    },
    /// The checked SP 800-108 parameter (kbkdf.rs).
    Kbkdf(Box<super::kbkdf::KbkdfParams>),
    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS: a 96-bit (RFC 8439) or
    /// 192-bit (XChaCha20) nonce, checked by `chacha_poly::nonce_len`.
    ChaChaPoly {
        nonce: Vec<u8>,
        aad: Vec<u8>,
    },
    /// CK_CHACHA20_PARAMS / CK_SALSA20_PARAMS, checked by
    /// `stream_cipher::parse`: the nonce (8, 12 or 24 bytes) and the first
    /// block's counter.
    StreamCipher {
        nonce: Vec<u8>,
        counter: u64,
    },
    /// CK_CCM_PARAMS, checked by `aes_ccm::check`: the text length the
    /// MAC commits to, a 7..=13-byte nonce, the MAC length in bytes.
    Ccm {
        data_len: usize,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        mac_len: usize,
    },
    /// CK_SIGN_ADDITIONAL_CONTEXT of CKM_ML_DSA: the hedge variant and a
    /// context of up to 255 bytes (ml_dsa.rs).
    SignContext {
        hedge: super::ml_dsa::Hedge,
        context: Vec<u8>,
    },
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT of CKM_HASH_ML_DSA: as above, and
    /// the hash that made the pre-hashed message.
    HashSignContext {
        hedge: super::ml_dsa::Hedge,
        context: Vec<u8>,
        hash: super::ml_dsa::PreHash,
    },
    /// CKM_DH_PKCS_DERIVE's parameter: the other party's public value
    /// (big-endian), range-checked by dh.rs.
    PeerValue(Vec<u8>),
}

/// Size of one CK_ULONG in the caller's layout.
const ULONG: usize = std::mem::size_of::<CK_ULONG>();

/// Reads the `index`-th CK_ULONG of a parameter struct.
fn ulong_at(param: &[u8], index: usize) -> Result<CK_ULONG> {
    let start = index
        .checked_mul(ULONG)
        .ok_or(Error::MechanismParamInvalid)?;
    let end = start
        .checked_add(ULONG)
        .ok_or(Error::MechanismParamInvalid)?;
    let bytes: [u8; ULONG] = param
        .get(start..end)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::MechanismParamInvalid)?;
    Ok(CK_ULONG::from_ne_bytes(bytes))
}

impl Mechanism {
    /// Parses the parameter the ABI layer read for this mechanism type.
    pub fn from_raw(mech: CK_MECHANISM_TYPE, raw: &RawParam) -> Result<Mechanism> {
        if !super::registry::known(mech) {
            return Err(Error::MechanismInvalid);
        }
        let params = match raw {
            RawParam::None => return Mechanism::parse(mech, None),
            RawParam::Bytes(b) => return Mechanism::parse(mech, Some(b)),
            RawParam::Gcm { iv, aad, tag_bits } if mech == CKM_AES_GCM => {
                parse_gcm(iv, aad, *tag_bits)?
            }
            RawParam::Oaep {
                hash,
                mgf,
                source,
                source_data,
            } if mech == CKM_RSA_PKCS_OAEP => parse_oaep(*hash, *mgf, *source, source_data)?,
            RawParam::Ecdh {
                kdf,
                shared_data,
                public_data,
            } if matches!(mech, CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE) => {
                parse_ecdh(*kdf, shared_data, public_data)?
            }
            RawParam::Hkdf(h) if matches!(mech, CKM_HKDF_DERIVE | CKM_HKDF_DATA) => parse_hkdf(h)?,
            RawParam::Pbkdf2(p) if mech == CKM_PKCS5_PBKD2 => parse_pbkdf2(p)?,
            RawParam::AesCbcEncryptData { iv, data } if mech == CKM_AES_CBC_ENCRYPT_DATA => {
                encrypt_data(Some(*iv), data)?
            }
            RawParam::Kbkdf(k) if super::kbkdf::handles(mech) => {
                Params::Kbkdf(Box::new(super::kbkdf::parse(mech, k)?))
            }
            RawParam::ChaChaPoly {
                nonce,
                nonce_bits,
                aad,
            } if mech == CKM_CHACHA20_POLY1305 => {
                super::chacha_poly::parse(nonce, *nonce_bits, aad)?
            }
            RawParam::StreamCipher {
                counter,
                counter_bits,
                nonce,
                nonce_bits,
            } if matches!(mech, CKM_CHACHA20 | CKM_SALSA20) => {
                super::stream_cipher::parse(mech, counter, *counter_bits, nonce, *nonce_bits)?
            }
            RawParam::Ccm {
                data_len,
                nonce,
                aad,
                mac_len,
            } if mech == CKM_AES_CCM => super::aes_ccm::parse(*data_len, nonce, aad, *mac_len)?,
            RawParam::Eddsa { prehash, context } if mech == CKM_EDDSA => {
                // Pure EdDSA (no prehash, no context), a context without
                // prehash (Ed448; Ed25519ctx, refused at init for Ed25519
                // keys: the key decides) or the prehash variants, with a
                // context of up to 255 bytes (RFC 8032 §5).
                match (*prehash, context.len()) {
                    (false, 0) => Params::None,
                    (false, n) if n <= 255 => Params::EddsaContext {
                        context: context.clone(),
                    },
                    (true, n) if n <= 255 => Params::Ed25519ph {
                        context: context.clone(),
                    },
                    _ => return Err(Error::MechanismParamInvalid),
                }
            }
            RawParam::SignContext { hedge, context } if super::ml_dsa::takes_sign_context(mech) => {
                super::ml_dsa::parse_context(*hedge, context)?
            }
            RawParam::HashSignContext {
                hedge,
                context,
                hash,
            } if mech == CKM_HASH_ML_DSA => {
                super::ml_dsa::parse_hash_context(*hedge, context, *hash)?
            }
            // SLH-DSA takes the same structures with the same rules
            // (hedge variant, context of up to 255 bytes, the hashes
            // HashSLH-DSA names: those of HashML-DSA).
            RawParam::SignContext { hedge, context }
                if super::slh_dsa::takes_sign_context(mech) =>
            {
                super::ml_dsa::parse_context(*hedge, context)?
            }
            RawParam::HashSignContext {
                hedge,
                context,
                hash,
            } if mech == CKM_HASH_SLH_DSA => {
                super::ml_dsa::parse_hash_context(*hedge, context, *hash)?
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        Ok(Mechanism { mech, params })
    }

    /// Checks `mech` against the table and parses a flat parameter given
    /// as the caller's bytes. An empty parameter is treated as absent.
    pub fn parse(mech: CK_MECHANISM_TYPE, param: Option<&[u8]>) -> Result<Mechanism> {
        if !super::registry::known(mech) {
            return Err(Error::MechanismInvalid);
        }
        let param = param.filter(|p| !p.is_empty());
        let params = if let Some(hash) = pss_digest(mech) {
            parse_pss(hash, param.ok_or(Error::MechanismParamInvalid)?)?
        } else if let Some((hash, true)) = HashAlg::from_hmac_mech(mech) {
            parse_mac_len(hash, param.ok_or(Error::MechanismParamInvalid)?)?
        } else if let Some(params) = parse_flat(mech, param)? {
            params
        } else if param.is_some() {
            return Err(Error::MechanismParamInvalid);
        } else {
            Params::None
        };
        Ok(Mechanism { mech, params })
    }
}

/// For PSS mechanisms: the digest the mechanism implies (`None` inside for
/// raw CKM_RSA_PKCS_PSS, where the parameter chooses it).
/// Flat parameters of the cipher, wrap and MAC mechanisms; `None` if the
/// mechanism takes none of these.
fn parse_flat(mech: CK_MECHANISM_TYPE, param: Option<&[u8]>) -> Result<Option<Params>> {
    let bad = Error::MechanismParamInvalid;
    Ok(Some(match (mech, param) {
        (CKM_AES_CBC | CKM_AES_CBC_PAD, Some(iv)) if iv.len() == 16 => Params::Iv(iv.to_vec()),
        (CKM_AES_CBC | CKM_AES_CBC_PAD, _) => return Err(bad),
        (CKM_AES_OFB | CKM_AES_CFB8 | CKM_AES_CFB128 | CKM_AES_CTS, Some(iv)) if iv.len() == 16 => {
            Params::Iv(iv.to_vec())
        }
        (CKM_AES_OFB | CKM_AES_CFB8 | CKM_AES_CFB128 | CKM_AES_CTS, _) => return Err(bad),
        (CKM_AES_CTR, Some(p)) if p.len() == ULONG + 16 => {
            let bits = ulong_at(p, 0)?;
            let counter_bits = u32::try_from(bits).map_err(|_| bad)?;
            if !(1..=128).contains(&counter_bits) {
                return Err(bad);
            }
            let block = p.get(ULONG..).and_then(|b| b.try_into().ok()).ok_or(bad)?;
            Params::Ctr {
                counter_bits,
                block,
            }
        }
        (CKM_AES_CTR, _) => return Err(bad),
        (CKM_AES_KEY_WRAP, Some(iv)) if iv.len() == 8 => Params::Iv(iv.to_vec()),
        (CKM_AES_KEY_WRAP_KWP, Some(iv)) if iv.len() == 4 => Params::Iv(iv.to_vec()),
        (CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_KWP | CKM_AES_KEY_WRAP_PAD, Some(_)) => {
            return Err(bad);
        }
        (CKM_AES_CMAC_GENERAL | CKM_AES_MAC_GENERAL, Some(p)) if p.len() == ULONG => {
            let len = usize::try_from(ulong_at(p, 0)?).map_err(|_| bad)?;
            if !(1..=16).contains(&len) {
                return Err(bad);
            }
            Params::MacLen(len)
        }
        (CKM_AES_CMAC_GENERAL | CKM_AES_MAC_GENERAL | CKM_AES_GCM | CKM_RSA_PKCS_OAEP, _) => {
            return Err(bad);
        }
        (CKM_CHACHA20_POLY1305 | CKM_AES_CCM | CKM_CHACHA20 | CKM_SALSA20, _) => {
            return Err(bad);
        }
        (CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE | CKM_HKDF_DERIVE | CKM_HKDF_DATA, _) => {
            return Err(bad);
        }
        (CKM_PKCS5_PBKD2, _) => return Err(bad),
        (CKM_DH_PKCS_DERIVE, Some(y)) => Params::PeerValue(y.to_vec()),
        (CKM_DH_PKCS_DERIVE, None) => return Err(bad),
        (CKM_AES_ECB_ENCRYPT_DATA, Some(data)) => encrypt_data(None, data)?,
        (
            CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_DATA_AND_BASE | CKM_XOR_BASE_AND_DATA,
            Some(data),
        ) => Params::StringData(Zeroizing::new(data.to_vec())),
        (
            CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_DATA_AND_BASE | CKM_XOR_BASE_AND_DATA,
            None,
        ) => return Err(bad),
        (CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA, _) => return Err(bad),
        (CKM_CONCATENATE_BASE_AND_KEY, Some(p)) if p.len() == ULONG => {
            Params::OtherKey(ulong_at(p, 0)?)
        }
        (CKM_EXTRACT_KEY_FROM_KEY, Some(p)) if p.len() == ULONG => {
            Params::ExtractFrom(ulong_at(p, 0)?)
        }
        (CKM_CONCATENATE_BASE_AND_KEY | CKM_EXTRACT_KEY_FROM_KEY, _) => return Err(bad),
        _ => return Ok(None),
    }))
}

/// The data of the AES encrypt-data derivations: one or more whole blocks
/// (no padding is defined for them), else CKR_MECHANISM_PARAM_INVALID.
fn encrypt_data(iv: Option<[u8; 16]>, data: &[u8]) -> Result<Params> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Params::EncryptData {
        iv,
        data: Zeroizing::new(data.to_vec()),
    })
}

/// GCM: IV of 1 to 256 bytes, AAD of any length, tag of 96 to 128 bits
/// in whole bytes (shorter tags weaken authentication; the spec allows
/// them, we do not).
/// The GCM parameter rule, for C_EncryptInit's CK_GCM_PARAMS and the
/// message calls' CK_GCM_MESSAGE_PARAMS alike: an IV of 1 to 256 bytes, a
/// tag of 96 to 128 bits in whole bytes. Returns the tag length in bytes.
///
/// The FIPS build takes only what AWS-LC's approved GCM serves: a 96-bit
/// IV and a 128-bit tag.
pub fn gcm_lengths(iv_len: usize, tag_bits: CK_ULONG) -> Result<usize> {
    let bad = Error::MechanismParamInvalid;
    if iv_len == 0 || iv_len > 256 || !(96..=128).contains(&tag_bits) || !tag_bits.is_multiple_of(8)
    {
        return Err(bad);
    }
    if super::provider::FIPS && (iv_len != 12 || tag_bits != 128) {
        crate::error::cause::note(&"FIPS mode: GCM takes a 96-bit IV and a 128-bit tag");
        return Err(bad);
    }
    usize::try_from(tag_bits / 8).map_err(|_| bad)
}

fn parse_gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Result<Params> {
    let tag_len = gcm_lengths(iv.len(), tag_bits)?;
    Ok(Params::Gcm {
        iv: iv.to_vec(),
        aad: aad.to_vec(),
        tag_len,
    })
}

fn parse_oaep(
    hash: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
    source: CK_ULONG,
    data: &[u8],
) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    let hash = HashAlg::from_digest_mech(hash)
        .filter(HashAlg::is_sha1_or_sha2)
        .ok_or(bad)?;
    if mgf != hash.mgf1() {
        return Err(bad);
    }
    // CKZ_DATA_SPECIFIED is the only source; 0 with no data is common.
    if source != CKZ_DATA_SPECIFIED && !(source == 0 && data.is_empty()) {
        return Err(bad);
    }
    Ok(Params::Oaep {
        hash,
        label: data.to_vec(),
    })
}

fn parse_ecdh(kdf: CK_EC_KDF_TYPE, shared: &[u8], public: &[u8]) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    let known = super::ecdh::kdf_hash(kdf).is_ok();
    if !known || public.is_empty() || (kdf == CKD_NULL && !shared.is_empty()) {
        return Err(bad);
    }
    Ok(Params::Ecdh {
        kdf,
        shared_data: shared.to_vec(),
        public_data: public.to_vec(),
    })
}

fn parse_hkdf(h: &RawHkdf) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    if !h.extract && !h.expand {
        return Err(bad);
    }
    let prf = HashAlg::from_digest_mech(h.prf)
        .filter(HashAlg::is_sha1_or_sha2)
        .ok_or(bad)?;
    let salt = if !h.extract {
        None
    } else {
        match h.salt_type {
            CKF_HKDF_SALT_NULL => None,
            CKF_HKDF_SALT_DATA if !h.salt.is_empty() => Some(h.salt.clone()),
            // A salt held in a key object is not offered.
            _ => return Err(bad),
        }
    };
    Ok(Params::Hkdf {
        extract: h.extract,
        expand: h.expand,
        prf,
        salt,
        info: h.info.clone(),
    })
}

/// The most PBKDF2 iterations one C_GenerateKey may ask for.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

fn parse_pbkdf2(p: &RawPbkdf2) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    let prf = match p.prf {
        CKP_PKCS5_PBKD2_HMAC_SHA1 => HashAlg::Sha1,
        CKP_PKCS5_PBKD2_HMAC_SHA224 => HashAlg::Sha224,
        CKP_PKCS5_PBKD2_HMAC_SHA256 => HashAlg::Sha256,
        CKP_PKCS5_PBKD2_HMAC_SHA384 => HashAlg::Sha384,
        CKP_PKCS5_PBKD2_HMAC_SHA512 => HashAlg::Sha512,
        _ => return Err(bad),
    };
    let iterations = u32::try_from(p.iterations).map_err(|_| bad)?;
    // Bounded so one call cannot hold a session for minutes.
    if p.salt_source != CKZ_SALT_SPECIFIED
        || !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations)
        || !p.prf_data.is_empty()
    {
        return Err(bad);
    }
    Ok(Params::Pbkdf2 {
        salt: p.salt.clone(),
        iterations,
        prf,
        password: p.password.clone(),
    })
}

fn pss_digest(mech: CK_MECHANISM_TYPE) -> Option<Option<HashAlg>> {
    match mech {
        CKM_RSA_PKCS_PSS => Some(None),
        CKM_SHA1_RSA_PKCS_PSS => Some(Some(HashAlg::Sha1)),
        CKM_SHA224_RSA_PKCS_PSS => Some(Some(HashAlg::Sha224)),
        CKM_SHA256_RSA_PKCS_PSS => Some(Some(HashAlg::Sha256)),
        CKM_SHA384_RSA_PKCS_PSS => Some(Some(HashAlg::Sha384)),
        CKM_SHA512_RSA_PKCS_PSS => Some(Some(HashAlg::Sha512)),
        CKM_SHA3_224_RSA_PKCS_PSS => Some(Some(HashAlg::Sha3_224)),
        CKM_SHA3_256_RSA_PKCS_PSS => Some(Some(HashAlg::Sha3_256)),
        CKM_SHA3_384_RSA_PKCS_PSS => Some(Some(HashAlg::Sha3_384)),
        CKM_SHA3_512_RSA_PKCS_PSS => Some(Some(HashAlg::Sha3_512)),
        _ => None,
    }
}

fn parse_pss(implied: Option<HashAlg>, param: &[u8]) -> Result<Params> {
    if param.len() != 3 * ULONG {
        return Err(Error::MechanismParamInvalid);
    }
    let hash_mech = ulong_at(param, 0)?;
    let mgf = ulong_at(param, 1)?;
    let salt = ulong_at(param, 2)?;
    let hash = HashAlg::from_digest_mech(hash_mech).ok_or(Error::MechanismParamInvalid)?;
    if implied.is_some_and(|h| h != hash) || mgf != hash.mgf1() {
        return Err(Error::MechanismParamInvalid);
    }
    // No supported modulus leaves room for a salt longer than this; the
    // exact bound depends on the key and is checked at sign/verify init.
    let salt_len = usize::try_from(salt).map_err(|_| Error::MechanismParamInvalid)?;
    if salt_len > 1024 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Params::Pss {
        hash: hash_mech,
        mgf,
        salt_len,
    })
}

fn parse_mac_len(hash: HashAlg, param: &[u8]) -> Result<Params> {
    if param.len() != ULONG {
        return Err(Error::MechanismParamInvalid);
    }
    let len = usize::try_from(ulong_at(param, 0)?).map_err(|_| Error::MechanismParamInvalid)?;
    if len == 0 || len > hash.output_len() {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Params::MacLen(len))
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Params::Pbkdf2 {
                iterations, prf, ..
            } => {
                write!(f, "Pbkdf2 {{ iterations: {iterations}, prf: {prf:?}, .. }}")
            }
            Params::None => write!(f, "None"),
            Params::Pss {
                hash,
                mgf,
                salt_len,
            } => write!(f, "Pss({hash:#x}, {mgf:#x}, {salt_len})"),
            Params::MacLen(n) => write!(f, "MacLen({n})"),
            other => write!(f, "{}", params_kind(other)),
        }
    }
}

fn params_kind(p: &Params) -> &'static str {
    match p {
        Params::Iv(_) => "Iv(..)",
        Params::Ctr { .. } => "Ctr(..)",
        Params::Gcm { .. } => "Gcm(..)",
        Params::Oaep { .. } => "Oaep(..)",
        Params::Ecdh { .. } => "Ecdh(..)",
        Params::Hkdf { .. } => "Hkdf(..)",
        Params::Kbkdf(_) => "Kbkdf(..)",
        Params::ChaChaPoly { .. } => "ChaChaPoly(..)",
        Params::StreamCipher { .. } => "StreamCipher(..)",
        Params::Ccm { .. } => "Ccm(..)",
        _ => "Params(..)",
    }
}
