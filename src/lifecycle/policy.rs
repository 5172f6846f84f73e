//! The key policy of the `[policy]` config section, checked when a key is
//! made (generation, import, unwrap, derivation, copy), changed, and used.
//! A refusal names its rule, which goes into the audit record.

use cryptoki_sys::*;
use serde::{Deserialize, Serialize};

use super::dates;
use crate::error::Error;
use crate::mechanism::names;
use crate::object::Object;

/// Why the policy refused, for the caller (the CKR) and the audit trail
/// (the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: Error,
    pub rule: String,
}

fn refuse(error: Error, rule: impl Into<String>) -> Refusal {
    Refusal {
        error,
        rule: rule.into(),
    }
}

/// Longest cryptoperiod per object class, in days; applied as the default
/// CKA_END_DATE and as a ceiling on a given one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cryptoperiods {
    pub private_key: Option<u32>,
    pub public_key: Option<u32>,
    pub secret_key: Option<u32>,
}

/// The effective policy (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub min_rsa_bits: u64,
    /// `None`: every curve the module offers.
    pub allowed_curves: Option<Vec<String>>,
    /// `None`: every mechanism the module offers.
    pub allowed_mechanisms: Option<Vec<String>>,
    /// SHA-1 may make new signatures (default: verification only).
    pub sha1_signatures: bool,
    pub max_cryptoperiod_days: Cryptoperiods,
    /// NIST SP 800-57 one key, one purpose: refuse a key that may both
    /// sign/verify and encrypt/decrypt/wrap/unwrap.
    pub strict_key_separation: bool,
    /// Whether private and secret keys may be created extractable.
    pub allow_extractable: bool,
    /// RSA PKCS#1 v1.5 (and raw) decryption, a padding oracle.
    pub rsa_pkcs1v15_decryption: bool,
    /// docs/KEY-SEPARATION.md rule 1: no secret key may both wrap/unwrap
    /// and encrypt/decrypt (Tookan A1, A3).
    pub wrap_separation: bool,
    /// Whether CBC-MAC (CKM_AES_MAC, CKM_AES_MAC_GENERAL) is offered: it
    /// forges on messages of varying length; CMAC is its fix.
    pub cbc_mac: bool,
    /// Whether CKM_POLY1305 (and CKM_POLY1305_KEY_GEN) is offered: a
    /// Poly1305 key authenticates one message only (a second tag under it
    /// lets anyone forge), which the token cannot enforce for a stored key.
    pub poly1305: bool,
    /// Rule 2: C_SetAttributeValue and C_CopyObject may clear a usage
    /// flag (CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP), never set
    /// one, so rule 1 cannot be dodged by toggling flags in turn.
    pub usage_only_lowered: bool,
    /// Rule 3: a sensitive key is wrapped only by a CKA_TRUSTED key (as
    /// if it had CKA_WRAP_WITH_TRUSTED): no key the user knows or
    /// controls can carry it out (Tookan A2, wrapping with a known key).
    pub sensitive_wrap_needs_trusted: bool,
    /// Rule 4: keys made by C_UnwrapKey are sensitive (Tookan A2's
    /// re-import as non-sensitive).
    pub unwrapped_keys_sensitive: bool,
    /// The smallest short-Weierstrass curve (order bits) a key may be on:
    /// 256 refuses P-192 and P-224 for generation, import, unwrapping,
    /// derivation of new keys, signing and key agreement; 192 (compat)
    /// admits them. It is also the `ulMinKeySize` of the EC mechanisms.
    pub min_ec_bits: u64,
    /// The smallest RSA *public* key that may be imported, for
    /// C_Verify/C_VerifyRecover only (512 in compat: certificates of the
    /// 1990s). Never above `min_rsa_bits`; equal to it by default, so
    /// nothing below `min_rsa_bits` gets in. A key below `min_rsa_bits`
    /// never encrypts or wraps (CKR_KEY_SIZE_RANGE), and no private key
    /// or generated key may be below `min_rsa_bits`.
    pub min_rsa_verify_bits: u64,
    /// DSA signatures and DSA key/parameter generation (FIPS 186-5
    /// approves DSA for verifying legacy signatures only).
    pub dsa_signatures: bool,
    /// Smallest finite-field Diffie-Hellman prime, in bits (SP 800-131A:
    /// 2048).
    pub min_dh_bits: u64,
    /// Size ceilings from the top-level config (`max_attribute_size`,
    /// `max_object_size`); not a `[policy]` entry.
    #[serde(skip)]
    pub limits: ObjectLimits,
}

/// The smallest `min_ec_bits` (P-192) and the largest (P-521).
pub const EC_BITS_RANGE: std::ops::RangeInclusive<u64> = 192..=521;
/// The smallest `min_rsa_verify_bits` the module can import.
pub const MIN_RSA_VERIFY_FLOOR: u64 = 512;

/// The largest attribute value and object the token stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLimits {
    /// Bytes in one attribute value.
    pub attribute: u64,
    /// `C_GetObjectSize` of a whole object.
    pub object: u64,
}

/// 1 MiB: far above any key (RSA-16384 private exponent: 2 KiB) or
/// certificate seen in practice, far below what hurts a SQLite row.
pub const DEFAULT_MAX_ATTRIBUTE_SIZE: u64 = 1 << 20;
/// 4 MiB per object: a certificate chain or data blob with room to spare.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 4 << 20;

impl Default for ObjectLimits {
    fn default() -> ObjectLimits {
        ObjectLimits {
            attribute: DEFAULT_MAX_ATTRIBUTE_SIZE,
            object: DEFAULT_MAX_OBJECT_SIZE,
        }
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_rsa_bits: 2048,
            allowed_curves: None,
            allowed_mechanisms: None,
            sha1_signatures: false,
            max_cryptoperiod_days: Cryptoperiods::default(),
            strict_key_separation: false,
            allow_extractable: true,
            rsa_pkcs1v15_decryption: false,
            wrap_separation: true,
            cbc_mac: false,
            poly1305: false,
            usage_only_lowered: true,
            sensitive_wrap_needs_trusted: true,
            unwrapped_keys_sensitive: true,
            min_ec_bits: 256,
            min_rsa_verify_bits: 2048,
            dsa_signatures: false,
            min_dh_bits: 2048,
            limits: ObjectLimits::default(),
        }
    }
}

impl Policy {
    /// The `compat` profile: what test suites and clients of the PKCS#11
    /// 2.x era expect of a token (python-pkcs11's suite among them) —
    /// 1024-bit RSA, SHA-1 signatures, PKCS#1 v1.5 encryption and
    /// decryption, CBC-MAC, and none of the key-separation rules that refuse
    /// templates such suites use (a key that both wraps and encrypts, a
    /// usage flag set on an existing key, an unwrapped key that is not
    /// sensitive, a sensitive key wrapped by an untrusted one). Every other
    /// rule is the default's. For testing and
    /// migration: each relaxation is a documented weakening (README,
    /// "Policy profiles").
    pub fn compat() -> Policy {
        Policy {
            min_rsa_bits: 1024,
            sha1_signatures: true,
            rsa_pkcs1v15_decryption: true,
            wrap_separation: false,
            cbc_mac: true,
            usage_only_lowered: false,
            // Not a 2.x-era need, and a one-time key: as the default.
            poly1305: false,
            sensitive_wrap_needs_trusted: false,
            unwrapped_keys_sensitive: false,
            min_ec_bits: 192,
            min_rsa_verify_bits: MIN_RSA_VERIFY_FLOOR,
            dsa_signatures: true,
            min_dh_bits: 1024,
            ..Policy::default()
        }
    }

    /// The profile a `[policy] profile = "…"` line names.
    fn profile(name: Option<&str>) -> Result<Policy, String> {
        match name {
            None | Some("default") => Ok(Policy::default()),
            Some("compat") => Ok(Policy::compat()),
            Some(other) => Err(format!(
                "policy.profile: unknown profile {other:?} (known: default, compat)"
            )),
        }
    }
}

/// The `[policy]` section as written; every field optional. `profile`
/// picks the defaults the other fields then override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub profile: Option<String>,
    pub min_rsa_bits: Option<u64>,
    pub allowed_curves: Option<Vec<String>>,
    pub allowed_mechanisms: Option<Vec<String>>,
    pub sha1_signatures: Option<bool>,
    pub max_cryptoperiod_days: Option<Cryptoperiods>,
    pub strict_key_separation: Option<bool>,
    pub allow_extractable: Option<bool>,
    pub rsa_pkcs1v15_decryption: Option<bool>,
    pub wrap_separation: Option<bool>,
    pub cbc_mac: Option<bool>,
    pub poly1305: Option<bool>,
    pub usage_only_lowered: Option<bool>,
    pub sensitive_wrap_needs_trusted: Option<bool>,
    pub unwrapped_keys_sensitive: Option<bool>,
    pub min_ec_bits: Option<u64>,
    pub min_rsa_verify_bits: Option<u64>,
    pub dsa_signatures: Option<bool>,
    pub min_dh_bits: Option<u64>,
}

impl PolicyFile {
    /// The effective policy, or a message naming the bad entry.
    pub fn resolve(self, legacy_rsa: Option<bool>) -> Result<Policy, String> {
        let d = Policy::profile(self.profile.as_deref())?;
        if let Some(curves) = &self.allowed_curves
            && let Some(bad) = curves.iter().find(|c| !names::CURVES.contains(&c.as_str()))
        {
            return Err(format!(
                "policy.allowed_curves: unknown curve {bad:?} (known: {})",
                names::CURVES.join(", ")
            ));
        }
        if let Some(mechs) = &self.allowed_mechanisms
            && let Some(bad) = mechs.iter().find(|m| names::mechanism_by_name(m).is_none())
        {
            return Err(format!(
                "policy.allowed_mechanisms: unknown mechanism {bad:?}"
            ));
        }
        let min_rsa_bits = self.min_rsa_bits.unwrap_or(d.min_rsa_bits);
        if !(1024..=16384).contains(&min_rsa_bits) {
            return Err("policy.min_rsa_bits must be between 1024 and 16384".into());
        }
        let min_ec_bits = self.min_ec_bits.unwrap_or(d.min_ec_bits);
        if !EC_BITS_RANGE.contains(&min_ec_bits) {
            return Err("policy.min_ec_bits must be between 192 and 521".into());
        }
        // Unset, it follows the profile where the profile lowers it
        // (compat), and `min_rsa_bits` otherwise: raising min_rsa_bits
        // alone never lets a smaller public key in.
        let min_rsa_verify_bits = match self.min_rsa_verify_bits {
            Some(bits) => bits,
            None if d.min_rsa_verify_bits < d.min_rsa_bits => {
                d.min_rsa_verify_bits.min(min_rsa_bits)
            }
            None => min_rsa_bits,
        };
        if !(MIN_RSA_VERIFY_FLOOR..=min_rsa_bits).contains(&min_rsa_verify_bits) {
            return Err(format!(
                "policy.min_rsa_verify_bits must be between {MIN_RSA_VERIFY_FLOOR} and min_rsa_bits ({min_rsa_bits})"
            ));
        }
        let min_dh_bits = self.min_dh_bits.unwrap_or(d.min_dh_bits);
        if !(1024..=8192).contains(&min_dh_bits) {
            return Err("policy.min_dh_bits must be between 1024 and 8192".into());
        }
        Ok(Policy {
            min_rsa_bits,
            dsa_signatures: self.dsa_signatures.unwrap_or(d.dsa_signatures),
            min_dh_bits,
            allowed_curves: self.allowed_curves,
            allowed_mechanisms: self.allowed_mechanisms,
            sha1_signatures: self.sha1_signatures.unwrap_or(d.sha1_signatures),
            max_cryptoperiod_days: self.max_cryptoperiod_days.unwrap_or_default(),
            strict_key_separation: self
                .strict_key_separation
                .unwrap_or(d.strict_key_separation),
            allow_extractable: self.allow_extractable.unwrap_or(d.allow_extractable),
            rsa_pkcs1v15_decryption: self
                .rsa_pkcs1v15_decryption
                .or(legacy_rsa)
                .unwrap_or(d.rsa_pkcs1v15_decryption),
            wrap_separation: self.wrap_separation.unwrap_or(d.wrap_separation),
            cbc_mac: self.cbc_mac.unwrap_or(d.cbc_mac),
            poly1305: self.poly1305.unwrap_or(d.poly1305),
            usage_only_lowered: self.usage_only_lowered.unwrap_or(d.usage_only_lowered),
            sensitive_wrap_needs_trusted: self
                .sensitive_wrap_needs_trusted
                .unwrap_or(d.sensitive_wrap_needs_trusted),
            unwrapped_keys_sensitive: self
                .unwrapped_keys_sensitive
                .unwrap_or(d.unwrapped_keys_sensitive),
            min_ec_bits,
            min_rsa_verify_bits,
            limits: d.limits,
        })
    }
}

/// Signature mechanisms that hash with SHA-1.
const SHA1_SIGNATURES: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA1_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_ECDSA_SHA1,
    CKM_DSA_SHA1,
];

const SIGNING: &[CK_ATTRIBUTE_TYPE] = &[CKA_SIGN, CKA_VERIFY, CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER];
const CONFIDENTIALITY: &[CK_ATTRIBUTE_TYPE] = &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP];
const WRAPPING: &[CK_ATTRIBUTE_TYPE] = &[CKA_WRAP, CKA_UNWRAP];
const CIPHER: &[CK_ATTRIBUTE_TYPE] = &[CKA_ENCRYPT, CKA_DECRYPT];

/// RSA modulus size in bits (leading zero bytes ignored).
fn rsa_bits(obj: &Object) -> Option<u64> {
    let n = obj.bytes(CKA_MODULUS)?;
    let start = n.iter().position(|b| *b != 0)?;
    let n = n.get(start..)?;
    let first = *n.first()?;
    let len = u64::try_from(n.len()).ok()?;
    Some((len - 1) * 8 + u64::from(u8::BITS - first.leading_zeros()))
}

impl Policy {
    /// Whether `allowed_mechanisms` (when set) names `mech`; what it does
    /// not name is refused at use and left out of C_GetMechanismList.
    pub fn mechanism_allowed(&self, mech: CK_MECHANISM_TYPE) -> bool {
        match &self.allowed_mechanisms {
            None => true,
            Some(list) => list
                .iter()
                .any(|n| names::mechanism_by_name(n) == Some(mech)),
        }
    }

    /// `min_rsa_bits` on a generation request.
    pub fn check_rsa_bits(&self, bits: u64) -> Result<(), Refusal> {
        if bits < self.min_rsa_bits {
            return Err(refuse(
                Error::KeySizeRange,
                format!(
                    "min_rsa_bits: {bits}-bit RSA key, policy needs {}",
                    self.min_rsa_bits
                ),
            ));
        }
        Ok(())
    }

    /// A generation request: with `dsa_signatures` off, no DSA key pair or
    /// parameters (CKR_MECHANISM_INVALID, as for `sha1_signatures`); a DH
    /// prime (`prime_bits`: the template's CKA_PRIME or CKA_PRIME_BITS)
    /// under `min_dh_bits` is CKR_KEY_SIZE_RANGE, as `min_rsa_bits`.
    pub fn check_generation(
        &self,
        mech: CK_MECHANISM_TYPE,
        prime_bits: Option<u64>,
    ) -> Result<(), Refusal> {
        if !self.dsa_signatures && matches!(mech, CKM_DSA_KEY_PAIR_GEN | CKM_DSA_PARAMETER_GEN) {
            return Err(refuse(
                Error::MechanismInvalid,
                "dsa_signatures: DSA may verify, not sign or generate (FIPS 186-5)",
            ));
        }
        if matches!(mech, CKM_DH_PKCS_KEY_PAIR_GEN | CKM_DH_PKCS_PARAMETER_GEN)
            && let Some(bits) = prime_bits
        {
            self.check_dh_bits(bits).map_err(|r| Refusal {
                error: Error::KeySizeRange,
                ..r
            })?;
        }
        Ok(())
    }

    /// `min_dh_bits` on a DH prime.
    fn check_dh_bits(&self, bits: u64) -> Result<(), Refusal> {
        if bits < self.min_dh_bits {
            return Err(refuse(
                Error::AttributeValueInvalid,
                format!(
                    "min_dh_bits: {bits}-bit DH prime, policy needs {}",
                    self.min_dh_bits
                ),
            ));
        }
        Ok(())
    }

    /// Size and curve rules on a key's material.
    fn check_strength(&self, obj: &Object) -> Result<(), Refusal> {
        match obj.key_type() {
            Some(CKK_RSA) if obj.class() == CKO_PUBLIC_KEY => {
                // A public key may be smaller, for verification only
                // (`min_rsa_verify_bits`); `check_use` keeps it from
                // encrypting and wrapping. Refused as for other keys
                // (the modulus is a value this token does not take).
                self.check_rsa_public_bits(rsa_bits(obj).unwrap_or(0))?;
            }
            Some(CKK_RSA) => {
                // A key that arrives with its material (C_CreateObject,
                // C_UnwrapKey, C_DeriveKey, C_CopyObject): its modulus is
                // an attribute value this token refuses. CKR_KEY_SIZE_RANGE
                // is not among those functions' return values (PKCS#11 3.0
                // §5.7, §5.18); generation requests are refused before
                // this, by `check_rsa_bits` on CKA_MODULUS_BITS.
                self.check_rsa_bits(rsa_bits(obj).unwrap_or(0))
                    .map_err(|r| Refusal {
                        error: Error::AttributeValueInvalid,
                        ..r
                    })?;
            }
            // A DH key or domain parameters that arrive with their prime:
            // an attribute value this token refuses (as for RSA above).
            Some(CKK_DH) => {
                let bits = obj
                    .bytes(CKA_PRIME)
                    .map_or(0, |p| u64::from(crate::mechanism::dsa::bit_len(p)));
                self.check_dh_bits(bits)?;
            }
            Some(kt @ (CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)) => {
                // A curve below the floor is one this token does not
                // support, as before P-192 and P-224 were offered at all.
                self.check_ec_bits(obj).map_err(|r| Refusal {
                    error: Error::CurveNotSupported,
                    ..r
                })?;
                if let Some(allowed) = &self.allowed_curves {
                    let params = obj.bytes(CKA_EC_PARAMS).unwrap_or_default();
                    let curve = names::curve_name(kt, params);
                    if !curve.is_some_and(|c| allowed.iter().any(|a| a == c)) {
                        return Err(refuse(
                            Error::CurveNotSupported,
                            format!("allowed_curves: {} not allowed", curve.unwrap_or("curve")),
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `min_rsa_verify_bits` (never above `min_rsa_bits`) on an imported
    /// RSA public key's modulus: CKR_ATTRIBUTE_VALUE_INVALID, the code
    /// C_CreateObject has for a modulus this token refuses. The rule named
    /// is `min_rsa_bits` while the two floors are the same.
    fn check_rsa_public_bits(&self, bits: u64) -> Result<(), Refusal> {
        let floor = self.min_rsa_verify_bits.min(self.min_rsa_bits);
        if bits >= floor {
            return Ok(());
        }
        let rule = if floor < self.min_rsa_bits {
            format!("min_rsa_verify_bits: {bits}-bit RSA public key, policy needs {floor}")
        } else {
            // The same words as for any other RSA key.
            format!("min_rsa_bits: {bits}-bit RSA key, policy needs {floor}")
        };
        Err(refuse(Error::AttributeValueInvalid, rule))
    }

    /// `min_ec_bits` on a CKK_EC key's curve (other key types and unknown
    /// parameters pass: the material check has its own answer).
    fn check_ec_bits(&self, obj: &Object) -> Result<(), Refusal> {
        if obj.key_type() != Some(CKK_EC) {
            return Ok(());
        }
        let params = obj.bytes(CKA_EC_PARAMS).unwrap_or_default();
        let Ok(curve) = crate::mechanism::Curve::from_ec_params(params) else {
            return Ok(());
        };
        if curve.bits() >= self.min_ec_bits {
            return Ok(());
        }
        let name = names::curve_name(CKK_EC, params).unwrap_or("curve");
        Err(refuse(
            Error::KeySizeRange,
            format!(
                "min_ec_bits: {name} ({}-bit curve), policy needs {}",
                curve.bits(),
                self.min_ec_bits
            ),
        ))
    }

    /// The size and curve rules when a key signs, encrypts, wraps or
    /// derives: a key below `min_rsa_bits` or `min_ec_bits` (an RSA public
    /// key imported for verification, or a key made under a looser
    /// policy) is CKR_KEY_SIZE_RANGE, the code C_SignInit, C_EncryptInit,
    /// C_WrapKey (as CKR_WRAPPING_KEY_SIZE_RANGE) and C_DeriveKey have for
    /// a key whose size the mechanism does not take here. A curve outside
    /// `allowed_curves` keeps its CKR_CURVE_NOT_SUPPORTED.
    fn check_strength_for_use(&self, obj: &Object) -> Result<(), Refusal> {
        if obj.key_type() == Some(CKK_RSA) {
            return self.check_rsa_bits(rsa_bits(obj).unwrap_or(0));
        }
        self.check_ec_bits(obj)?;
        self.check_strength(obj)
    }

    /// A new key object (made by `mech`, if any): its size, curve,
    /// purposes, extractability and end date.
    pub fn check_new_key(
        &self,
        obj: &Object,
        mech: Option<CK_MECHANISM_TYPE>,
    ) -> Result<(), Refusal> {
        if let Some(m) = mech
            && !self.mechanism_allowed(m)
        {
            return Err(refuse(
                Error::MechanismInvalid,
                format!(
                    "allowed_mechanisms: {} not allowed",
                    names::mechanism_name(m)
                ),
            ));
        }
        self.check_size(obj)?;
        if obj.class() == CKO_DOMAIN_PARAMETERS {
            return self.check_strength(obj);
        }
        if !matches!(
            obj.class(),
            CKO_PRIVATE_KEY | CKO_PUBLIC_KEY | CKO_SECRET_KEY
        ) {
            return Ok(());
        }
        self.check_strength(obj)?;
        self.check_attributes(obj)
    }

    /// The size ceilings: one attribute value over `limits.attribute` is
    /// CKR_ATTRIBUTE_VALUE_INVALID (that value is one this token does not
    /// take); an object over `limits.object` is CKR_DEVICE_MEMORY (the
    /// spec's "insufficient memory" for the token's per-object room).
    /// Both are listed for every function that makes or changes objects.
    pub fn check_size(&self, obj: &Object) -> Result<(), Refusal> {
        let too_big = obj
            .attrs()
            .iter()
            .find(|(_, v)| u64::try_from(v.len()).unwrap_or(u64::MAX) > self.limits.attribute);
        if let Some((ty, _)) = too_big {
            return Err(refuse(
                Error::AttributeValueInvalid,
                format!(
                    "max_attribute_size: attribute 0x{ty:x} over {} bytes",
                    self.limits.attribute
                ),
            ));
        }
        if obj.size() > self.limits.object {
            return Err(refuse(
                Error::DeviceMemory,
                format!("max_object_size: object over {} bytes", self.limits.object),
            ));
        }
        Ok(())
    }

    /// The rules that C_SetAttributeValue could also break.
    pub fn check_attributes(&self, obj: &Object) -> Result<(), Refusal> {
        let any = |set: &[CK_ATTRIBUTE_TYPE]| set.iter().any(|a| obj.flag(*a));
        // Secret keys only. A public key's encryption anyone can do
        // offline; a private key that decrypts and unwraps only matters if
        // its public half may wrap sensitive keys, which rule 3 allows only
        // for an SO-trusted public key (docs/KEY-SEPARATION.md). Clients
        // ask for exactly that pair (pkcs11-provider's RSA private template
        // is {DECRYPT, SIGN, UNWRAP}), so refusing it would break them.
        // A key whose value anyone may read (not sensitive, extractable:
        // pkcs11-tool's ECDH output asks for all four uses) has nothing
        // to protect; rule 3 still keeps it from wrapping sensitive keys.
        let readable = !obj.flag(CKA_SENSITIVE) && obj.flag(CKA_EXTRACTABLE);
        if self.wrap_separation
            && obj.class() == CKO_SECRET_KEY
            && !readable
            && any(WRAPPING)
            && any(CIPHER)
        {
            return Err(refuse(
                Error::TemplateInconsistent,
                "wrap_separation: a key may wrap/unwrap or encrypt/decrypt, not both",
            ));
        }
        if self.strict_key_separation && any(SIGNING) && any(CONFIDENTIALITY) {
            return Err(refuse(
                Error::TemplateInconsistent,
                "strict_key_separation: a key may sign/verify or encrypt/decrypt/wrap/unwrap, not both",
            ));
        }
        if !self.allow_extractable
            && matches!(obj.class(), CKO_PRIVATE_KEY | CKO_SECRET_KEY)
            && obj.flag(CKA_EXTRACTABLE)
        {
            return Err(refuse(
                Error::TemplateInconsistent,
                "allow_extractable: keys may not be created extractable",
            ));
        }
        if let Some(max) = self.max_days(obj.class())
            && let Some(end) = obj.bytes(CKA_END_DATE).and_then(dates::parse)
            && let Some(limit) = dates::today().checked_add(time::Duration::days(i64::from(max)))
            && end > limit
        {
            return Err(refuse(
                Error::TemplateInconsistent,
                format!("max_cryptoperiod_days: end date beyond {max} days"),
            ));
        }
        Ok(())
    }

    /// A change by C_SetAttributeValue or C_CopyObject from `before` to
    /// `after`: with `usage_only_lowered`, no confidentiality usage flag
    /// may go from false to true (CKR_ATTRIBUTE_READ_ONLY, listed for
    /// both functions).
    pub fn check_change(&self, before: &Object, after: &Object) -> Result<(), Refusal> {
        if !self.usage_only_lowered || !before.is_key() {
            return Ok(());
        }
        if let Some(ty) = CONFIDENTIALITY
            .iter()
            .find(|ty| after.flag(**ty) && !before.flag(**ty))
        {
            return Err(refuse(
                Error::AttributeReadOnly,
                format!("usage_only_lowered: usage 0x{ty:x} may be cleared, not set"),
            ));
        }
        Ok(())
    }

    /// C_WrapKey of `target` under `wrapping`: with
    /// `sensitive_wrap_needs_trusted`, a sensitive key (one that is or
    /// always was: CKA_SENSITIVE only ever becomes true) leaves the token
    /// only under a key the SO marked CKA_TRUSTED; otherwise
    /// CKR_KEY_NOT_WRAPPABLE, as for CKA_WRAP_WITH_TRUSTED.
    pub fn check_wrap(&self, wrapping: &Object, target: &Object) -> Result<(), Refusal> {
        let sensitive = target.flag(CKA_SENSITIVE) || target.flag(CKA_ALWAYS_SENSITIVE);
        if self.sensitive_wrap_needs_trusted && sensitive && !wrapping.flag(CKA_TRUSTED) {
            return Err(refuse(
                Error::KeyNotWrappable,
                "sensitive_wrap_needs_trusted: a sensitive key is wrapped only by a CKA_TRUSTED key",
            ));
        }
        Ok(())
    }

    /// A C_UnwrapKey template: with `unwrapped_keys_sensitive`, one asking
    /// for CKA_SENSITIVE=false is CKR_TEMPLATE_INCONSISTENT (the unwrapped
    /// key is sensitive by default, so nothing else needs changing).
    pub fn check_unwrap_template(&self, sensitive: Option<bool>) -> Result<(), Refusal> {
        if self.unwrapped_keys_sensitive && sensitive == Some(false) {
            return Err(refuse(
                Error::TemplateInconsistent,
                "unwrapped_keys_sensitive: an unwrapped key is sensitive",
            ));
        }
        Ok(())
    }

    fn max_days(&self, class: CK_OBJECT_CLASS) -> Option<u32> {
        let p = &self.max_cryptoperiod_days;
        match class {
            CKO_PRIVATE_KEY => p.private_key,
            CKO_PUBLIC_KEY => p.public_key,
            CKO_SECRET_KEY => p.secret_key,
            _ => None,
        }
    }

    /// The CKA_END_DATE a new key of `class` gets when its template gives
    /// none: today plus the class's maximum cryptoperiod.
    pub fn default_end_date(&self, class: CK_OBJECT_CLASS) -> Option<time::Date> {
        let max = self.max_days(class)?;
        dates::today().checked_add(time::Duration::days(i64::from(max)))
    }

    /// Using `obj` with `mech` for `usage`. Keys that no longer meet the
    /// size or curve rules may still verify and decrypt old data.
    pub fn check_use(
        &self,
        obj: &Object,
        mech: CK_MECHANISM_TYPE,
        usage: CK_ATTRIBUTE_TYPE,
    ) -> Result<(), Refusal> {
        if !self.mechanism_allowed(mech) {
            return Err(refuse(
                Error::MechanismInvalid,
                format!(
                    "allowed_mechanisms: {} not allowed",
                    names::mechanism_name(mech)
                ),
            ));
        }
        if usage == CKA_SIGN
            && !self.dsa_signatures
            && crate::mechanism::dsa::SIGNATURE_MECHANISMS.contains(&mech)
        {
            return Err(refuse(
                Error::MechanismInvalid,
                "dsa_signatures: DSA may verify, not sign (FIPS 186-5)",
            ));
        }
        if usage == CKA_SIGN && !self.sha1_signatures && SHA1_SIGNATURES.contains(&mech) {
            return Err(refuse(
                Error::MechanismInvalid,
                "sha1_signatures: SHA-1 may verify, not sign",
            ));
        }
        if super::protects(usage) {
            self.check_strength_for_use(obj)?;
        }
        // A CKA_TRUSTED key that also encrypts/decrypts (made before this
        // rule, or by the SO with the rule off) would decrypt what it
        // wraps: it keeps its wrapping role only.
        let any = |set: &[CK_ATTRIBUTE_TYPE]| set.iter().any(|a| obj.flag(*a));
        if self.wrap_separation && CIPHER.contains(&usage) && obj.flag(CKA_TRUSTED) && any(WRAPPING)
        {
            return Err(refuse(
                Error::KeyFunctionNotPermitted,
                "wrap_separation: a trusted wrapping key does not encrypt/decrypt",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::AttrMap;
    use crate::object::attrs::{bool_value, ulong_value};

    fn secret(flags: &[(CK_ATTRIBUTE_TYPE, bool)]) -> Object {
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, ulong_value(CKO_SECRET_KEY));
        attrs.insert(CKA_KEY_TYPE, ulong_value(CKK_AES));
        for (t, v) in flags {
            attrs.insert(*t, bool_value(*v));
        }
        Object::from_attrs(attrs)
    }

    fn rule(r: Result<(), Refusal>) -> Option<(Error, String)> {
        r.err().map(|r| (r.error, r.rule))
    }

    #[test]
    fn separation_rules() {
        let p = Policy::default();
        let both = secret(&[(CKA_WRAP, true), (CKA_DECRYPT, true)]);
        let (e, r) = rule(p.check_attributes(&both)).unwrap();
        assert_eq!(e, Error::TemplateInconsistent);
        assert!(r.starts_with("wrap_separation"));
        let readable = secret(&[
            (CKA_WRAP, true),
            (CKA_DECRYPT, true),
            (CKA_SENSITIVE, false),
            (CKA_EXTRACTABLE, true),
        ]);
        assert!(p.check_attributes(&readable).is_ok(), "nothing to protect");
        let mut attrs = both.attrs().clone();
        attrs.insert(CKA_CLASS, ulong_value(CKO_PRIVATE_KEY));
        attrs.insert(CKA_KEY_TYPE, ulong_value(CKK_RSA));
        let pair_half = Object::from_attrs(attrs);
        assert!(
            p.check_attributes(&pair_half).is_ok(),
            "rule 3 covers pairs"
        );
        assert!(p.check_attributes(&secret(&[(CKA_WRAP, true)])).is_ok());
        let off = Policy {
            wrap_separation: false,
            ..Policy::default()
        };
        assert!(off.check_attributes(&both).is_ok());

        let before = secret(&[(CKA_ENCRYPT, false)]);
        let after = secret(&[(CKA_ENCRYPT, true)]);
        assert_eq!(
            rule(p.check_change(&before, &after)).unwrap().0,
            Error::AttributeReadOnly
        );
        assert!(p.check_change(&after, &before).is_ok(), "lowering is fine");

        let sensitive = secret(&[(CKA_SENSITIVE, true)]);
        let plain = secret(&[(CKA_SENSITIVE, false)]);
        let trusted = secret(&[(CKA_WRAP, true), (CKA_TRUSTED, true)]);
        let user = secret(&[(CKA_WRAP, true)]);
        assert_eq!(
            rule(p.check_wrap(&user, &sensitive)).unwrap().0,
            Error::KeyNotWrappable
        );
        assert!(p.check_wrap(&trusted, &sensitive).is_ok());
        assert!(p.check_wrap(&user, &plain).is_ok());

        assert!(p.check_unwrap_template(Some(false)).is_err());
        assert!(p.check_unwrap_template(None).is_ok());

        let legacy = secret(&[(CKA_WRAP, true), (CKA_DECRYPT, true), (CKA_TRUSTED, true)]);
        let e = rule(p.check_use(&legacy, CKM_AES_ECB, CKA_DECRYPT))
            .unwrap()
            .0;
        assert_eq!(e, Error::KeyFunctionNotPermitted);
        assert!(p.check_use(&legacy, CKM_AES_KEY_WRAP, CKA_WRAP).is_ok());
    }

    fn key(
        class: CK_OBJECT_CLASS,
        kt: CK_KEY_TYPE,
        attrs: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Object {
        let mut map = AttrMap::new();
        map.insert(CKA_CLASS, ulong_value(class));
        map.insert(CKA_KEY_TYPE, ulong_value(kt));
        for (t, v) in attrs {
            map.insert(*t, v.clone());
        }
        Object::from_attrs(map)
    }

    /// `min_ec_bits`: P-192/P-224 keys are refused when made (as a curve
    /// not supported) and when they sign or derive (a key size out of
    /// range); verification stays, as for every key the rules outgrew.
    #[test]
    fn min_ec_bits_rule() {
        let p192 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
        let p224 = vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
        let d = Policy::default();
        let c = Policy::compat();
        for (params, name) in [(p192, "P-192"), (p224, "P-224")] {
            let private = key(CKO_PRIVATE_KEY, CKK_EC, &[(CKA_EC_PARAMS, params.clone())]);
            let public = key(CKO_PUBLIC_KEY, CKK_EC, &[(CKA_EC_PARAMS, params)]);
            for obj in [&private, &public] {
                let (e, r) = rule(d.check_new_key(obj, None)).unwrap();
                assert_eq!(e, Error::CurveNotSupported);
                assert!(r.starts_with("min_ec_bits: ") && r.contains(name), "{r}");
                assert!(c.check_new_key(obj, None).is_ok());
            }
            for usage in [CKA_SIGN, CKA_DERIVE] {
                let (e, r) = rule(d.check_use(&private, CKM_ECDSA, usage)).unwrap();
                assert_eq!(e, Error::KeySizeRange);
                assert!(r.starts_with("min_ec_bits"));
                assert!(c.check_use(&private, CKM_ECDSA, usage).is_ok());
            }
            assert!(d.check_use(&public, CKM_ECDSA, CKA_VERIFY).is_ok());
        }
        // allowed_curves names them too.
        let only = Policy {
            allowed_curves: Some(vec!["P-224".into()]),
            ..Policy::compat()
        };
        let p256 = key(
            CKO_PUBLIC_KEY,
            CKK_EC,
            &[(CKA_EC_PARAMS, crate::mechanism::Curve::P256.ec_params())],
        );
        assert_eq!(
            rule(only.check_new_key(&p256, None)).unwrap().0,
            Error::CurveNotSupported
        );
        let p224 = key(
            CKO_PUBLIC_KEY,
            CKK_EC,
            &[(CKA_EC_PARAMS, crate::mechanism::Curve::P224.ec_params())],
        );
        assert!(only.check_new_key(&p224, None).is_ok());
    }

    /// `min_rsa_verify_bits`: a small RSA public key is imported where the
    /// policy allows it, and then only verifies.
    #[test]
    fn min_rsa_verify_bits_rule() {
        let modulus = |bits: usize| vec![0xc3u8; bits / 8];
        let public = key(CKO_PUBLIC_KEY, CKK_RSA, &[(CKA_MODULUS, modulus(512))]);
        let private = key(CKO_PRIVATE_KEY, CKK_RSA, &[(CKA_MODULUS, modulus(512))]);
        let d = Policy::default();
        let c = Policy::compat();
        let (e, r) = rule(d.check_new_key(&public, None)).unwrap();
        assert_eq!(e, Error::AttributeValueInvalid);
        assert_eq!(r, "min_rsa_bits: 512-bit RSA key, policy needs 2048");
        assert!(c.check_new_key(&public, None).is_ok());
        let (e, r) = rule(c.check_new_key(&private, None)).unwrap();
        assert_eq!(e, Error::AttributeValueInvalid);
        assert!(r.starts_with("min_rsa_bits"), "{r}");
        let tiny = key(CKO_PUBLIC_KEY, CKK_RSA, &[(CKA_MODULUS, modulus(504))]);
        let (_, r) = rule(c.check_new_key(&tiny, None)).unwrap();
        assert_eq!(
            r,
            "min_rsa_verify_bits: 504-bit RSA public key, policy needs 512"
        );
        assert!(c.check_use(&public, CKM_SHA1_RSA_PKCS, CKA_VERIFY).is_ok());
        assert!(
            c.check_use(&public, CKM_RSA_PKCS, CKA_VERIFY_RECOVER)
                .is_ok()
        );
        for usage in [CKA_ENCRYPT, CKA_WRAP] {
            let (e, r) = rule(c.check_use(&public, CKM_RSA_PKCS, usage)).unwrap();
            assert_eq!(e, Error::KeySizeRange);
            assert!(r.starts_with("min_rsa_bits: 512-bit"), "{r}");
        }
    }

    #[test]
    fn small_key_fields_resolve() {
        let parse = |text: &str| toml::from_str::<PolicyFile>(text).unwrap().resolve(None);
        let d = parse("").unwrap();
        assert_eq!((d.min_ec_bits, d.min_rsa_verify_bits), (256, 2048));
        // Unset, the verification floor follows min_rsa_bits.
        let raised = parse("min_rsa_bits = 3072\n").unwrap();
        assert_eq!(raised.min_rsa_verify_bits, 3072);
        let c = parse("profile = \"compat\"\n").unwrap();
        assert_eq!((c.min_ec_bits, c.min_rsa_verify_bits), (192, 512));
        let set = parse("min_ec_bits = 224\nmin_rsa_verify_bits = 1024\n").unwrap();
        assert_eq!((set.min_ec_bits, set.min_rsa_verify_bits), (224, 1024));
        for bad in [
            "min_ec_bits = 128\n",
            "min_ec_bits = 1024\n",
            "min_rsa_verify_bits = 256\n",
            "min_rsa_verify_bits = 4096\n",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(bad.split(' ').next().unwrap()), "{err}");
        }
    }

    #[test]
    fn size_limits() {
        let p = Policy {
            limits: ObjectLimits {
                attribute: 10,
                object: 100,
            },
            ..Policy::default()
        };
        let mut attrs = AttrMap::new();
        attrs.insert(CKA_CLASS, ulong_value(CKO_DATA));
        attrs.insert(CKA_VALUE, vec![0; 11]);
        let big = Object::from_attrs(attrs);
        assert_eq!(
            rule(p.check_size(&big)).unwrap().0,
            Error::AttributeValueInvalid
        );
        let mut attrs = AttrMap::new();
        for ty in 0..20 {
            attrs.insert(CKA_VENDOR_DEFINED + ty, vec![0; 10]);
        }
        let many = Object::from_attrs(attrs);
        assert_eq!(rule(p.check_size(&many)).unwrap().0, Error::DeviceMemory);
    }

    #[test]
    fn switches_resolve() {
        let file: PolicyFile =
            toml::from_str("wrap_separation = false\nunwrapped_keys_sensitive = false\n").unwrap();
        let p = file.resolve(None).unwrap();
        assert!(!p.wrap_separation && !p.unwrapped_keys_sensitive);
        assert!(p.usage_only_lowered && p.sensitive_wrap_needs_trusted);
        let d = Policy::default();
        assert!(d.wrap_separation && d.usage_only_lowered);
        assert!(d.sensitive_wrap_needs_trusted && d.unwrapped_keys_sensitive);
    }

    #[test]
    fn the_compat_profile_relaxes_what_it_names_and_fields_override_it() {
        let parse = |text: &str| toml::from_str::<PolicyFile>(text).unwrap().resolve(None);
        let c = parse("profile = \"compat\"\n").unwrap();
        assert_eq!(c, Policy::compat());
        assert_eq!(c.min_rsa_bits, 1024);
        assert!(c.sha1_signatures && c.rsa_pkcs1v15_decryption);
        assert!(
            !c.wrap_separation && !c.sensitive_wrap_needs_trusted && !c.unwrapped_keys_sensitive
        );
        assert!(!c.usage_only_lowered);
        // What compat does not name stays the default's.
        let d = Policy::default();
        assert_eq!(c.allow_extractable, d.allow_extractable);
        assert_eq!(c.strict_key_separation, d.strict_key_separation);
        // A field beside the profile wins.
        let c =
            parse("profile = \"compat\"\nmin_rsa_bits = 2048\nwrap_separation = true\n").unwrap();
        assert_eq!(c.min_rsa_bits, 2048);
        assert!(c.wrap_separation && c.sha1_signatures);
        assert_eq!(parse("profile = \"default\"\n").unwrap(), d);
        let err = parse("profile = \"lax\"\n").unwrap_err();
        assert!(
            err.contains("policy.profile") && err.contains("lax"),
            "{err}"
        );
    }
}
