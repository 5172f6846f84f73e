//! Names of the mechanisms, key types and classes this module knows, for
//! audit records, the admin CLI and the policy file (which names
//! mechanisms as "CKM_ECDSA_SHA256").

use cryptoki_sys::*;

/// `(value, "NAME")` pairs from the constants themselves, so a name cannot
/// drift from its value.
macro_rules! names {
    ($($c:ident),* $(,)?) => { &[$(($c, stringify!($c))),*] };
}

const MECHANISMS: &[(CK_MECHANISM_TYPE, &str)] = names![
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CCM,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_AES_CBC_ENCRYPT_DATA,
    CKM_AES_CTR,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_ECB,
    CKM_AES_GCM,
    CKM_AES_KEY_GEN,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_OFB,
    CKM_AES_CFB8,
    CKM_AES_CFB128,
    CKM_AES_CTS,
    CKM_AES_MAC,
    CKM_AES_MAC_GENERAL,
    CKM_CONCATENATE_BASE_AND_KEY,
    CKM_EXTRACT_KEY_FROM_KEY,
    CKM_SP800_108_COUNTER_KDF,
    CKM_SP800_108_FEEDBACK_KDF,
    CKM_SP800_108_DOUBLE_PIPELINE_KDF,
    CKM_CHACHA20_KEY_GEN,
    CKM_CHACHA20_POLY1305,
    CKM_CHACHA20,
    CKM_POLY1305,
    CKM_POLY1305_KEY_GEN,
    CKM_SALSA20,
    CKM_SALSA20_KEY_GEN,
    CKM_ML_KEM_KEY_PAIR_GEN,
    CKM_ML_KEM,
    CKM_CONCATENATE_BASE_AND_DATA,
    CKM_CONCATENATE_DATA_AND_BASE,
    CKM_ECDH1_COFACTOR_DERIVE,
    CKM_DH_PKCS_DERIVE,
    CKM_DH_PKCS_KEY_PAIR_GEN,
    CKM_DH_PKCS_PARAMETER_GEN,
    CKM_DSA,
    CKM_DSA_KEY_PAIR_GEN,
    CKM_DSA_PARAMETER_GEN,
    CKM_DSA_SHA1,
    CKM_DSA_SHA224,
    CKM_DSA_SHA256,
    CKM_DSA_SHA384,
    CKM_DSA_SHA512,
    CKM_ECDH1_DERIVE,
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA3_224,
    CKM_ECDSA_SHA3_256,
    CKM_ECDSA_SHA3_384,
    CKM_ECDSA_SHA3_512,
    CKM_ECDSA_SHA512,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EC_KEY_PAIR_GEN,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_HKDF_DATA,
    CKM_HKDF_DERIVE,
    CKM_HKDF_KEY_GEN,
    CKM_HASH_ML_DSA,
    CKM_HASH_ML_DSA_SHA224,
    CKM_HASH_ML_DSA_SHA256,
    CKM_HASH_ML_DSA_SHA384,
    CKM_HASH_ML_DSA_SHA512,
    CKM_HASH_ML_DSA_SHA3_224,
    CKM_HASH_ML_DSA_SHA3_256,
    CKM_HASH_ML_DSA_SHA3_384,
    CKM_HASH_ML_DSA_SHA3_512,
    CKM_HASH_ML_DSA_SHAKE128,
    CKM_HASH_ML_DSA_SHAKE256,
    CKM_ML_DSA,
    CKM_ML_DSA_KEY_PAIR_GEN,
    CKM_HASH_SLH_DSA,
    CKM_HASH_SLH_DSA_SHA224,
    CKM_HASH_SLH_DSA_SHA256,
    CKM_HASH_SLH_DSA_SHA384,
    CKM_HASH_SLH_DSA_SHA512,
    CKM_HASH_SLH_DSA_SHA3_224,
    CKM_HASH_SLH_DSA_SHA3_256,
    CKM_HASH_SLH_DSA_SHA3_384,
    CKM_HASH_SLH_DSA_SHA3_512,
    CKM_HASH_SLH_DSA_SHAKE128,
    CKM_HASH_SLH_DSA_SHAKE256,
    CKM_SLH_DSA,
    CKM_SLH_DSA_KEY_PAIR_GEN,
    CKM_PKCS5_PBKD2,
    CKM_RSA_PKCS,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS,
    CKM_RSA_X_509,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA224,
    CKM_SHA224_HMAC,
    CKM_SHA224_HMAC_GENERAL,
    CKM_SHA224_KEY_GEN,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA224_RSA_PKCS_PSS,
    CKM_SHA256,
    CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA256_KEY_GEN,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384,
    CKM_SHA384_HMAC,
    CKM_SHA384_HMAC_GENERAL,
    CKM_SHA384_KEY_GEN,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA3_224,
    CKM_SHA3_224_HMAC,
    CKM_SHA3_224_HMAC_GENERAL,
    CKM_SHA3_224_KEY_GEN,
    CKM_SHA3_224_RSA_PKCS,
    CKM_SHA3_224_RSA_PKCS_PSS,
    CKM_SHA3_256,
    CKM_SHA3_256_HMAC,
    CKM_SHA3_256_HMAC_GENERAL,
    CKM_SHA3_256_KEY_GEN,
    CKM_SHA3_256_RSA_PKCS,
    CKM_SHA3_256_RSA_PKCS_PSS,
    CKM_SHA3_384,
    CKM_SHA3_384_HMAC,
    CKM_SHA3_384_HMAC_GENERAL,
    CKM_SHA3_384_KEY_GEN,
    CKM_SHA3_384_RSA_PKCS,
    CKM_SHA3_384_RSA_PKCS_PSS,
    CKM_SHA3_512,
    CKM_SHA3_512_HMAC,
    CKM_SHA3_512_HMAC_GENERAL,
    CKM_SHA3_512_KEY_GEN,
    CKM_SHA3_512_RSA_PKCS,
    CKM_SHA3_512_RSA_PKCS_PSS,
    CKM_SHA512,
    CKM_SHA512_HMAC,
    CKM_SHA512_HMAC_GENERAL,
    CKM_SHA512_KEY_GEN,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_SHA_1,
    CKM_SHA_1_HMAC,
    CKM_SHA_1_HMAC_GENERAL,
    CKM_SHA_1_KEY_GEN,
    CKM_XOR_BASE_AND_DATA,
];

const KEY_TYPES: &[(CK_KEY_TYPE, &str)] = names![
    CKK_AES,
    CKK_CHACHA20,
    CKK_POLY1305,
    CKK_SALSA20,
    CKK_DH,
    CKK_DSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    CKK_EC_MONTGOMERY,
    CKK_GENERIC_SECRET,
    CKK_HKDF,
    CKK_ML_DSA,
    CKK_ML_KEM,
    CKK_SLH_DSA,
    CKK_RSA,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA_1_HMAC,
];

const CLASSES: &[(CK_OBJECT_CLASS, &str)] = names![
    CKO_CERTIFICATE,
    CKO_DATA,
    CKO_DOMAIN_PARAMETERS,
    CKO_PRIVATE_KEY,
    CKO_PROFILE,
    CKO_PUBLIC_KEY,
    CKO_SECRET_KEY,
];

fn lookup(table: &[(CK_ULONG, &'static str)], value: CK_ULONG, prefix: &str) -> String {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("{prefix}0x{value:08X}"))
}

/// "CKM_ECDSA", or "CKM_0x…" for a value we do not know.
pub fn mechanism_name(mech: CK_MECHANISM_TYPE) -> String {
    lookup(MECHANISMS, mech, "CKM_")
}

/// The mechanism named `name` (as written in the policy file).
pub fn mechanism_by_name(name: &str) -> Option<CK_MECHANISM_TYPE> {
    MECHANISMS.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

pub fn key_type_name(kt: CK_KEY_TYPE) -> String {
    lookup(KEY_TYPES, kt, "CKK_")
}

pub fn class_name(class: CK_OBJECT_CLASS) -> String {
    lookup(CLASSES, class, "CKO_")
}

/// The curves a policy may name.
pub const CURVES: &[&str] = &[
    "P-192", "P-224", "P-256", "P-384", "P-521", "Ed25519", "X25519", "Ed448", "X448",
];

/// The policy name of an elliptic-curve key's curve ("P-256", "Ed25519",
/// "X25519"), or `None` for other key types or unknown parameters.
pub fn curve_name(key_type: CK_KEY_TYPE, ec_params: &[u8]) -> Option<&'static str> {
    use super::{Alg448, Alg25519, Curve};
    if matches!(key_type, CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)
        && let Some(alg) = Alg448::from_ec_params(ec_params)
    {
        return Some(match alg {
            Alg448::Ed448 => "Ed448",
            Alg448::X448 => "X448",
        });
    }
    match key_type {
        CKK_EC => match Curve::from_ec_params(ec_params).ok()? {
            Curve::P192 => Some("P-192"),
            Curve::P224 => Some("P-224"),
            Curve::P256 => Some("P-256"),
            Curve::P384 => Some("P-384"),
            Curve::P521 => Some("P-521"),
        },
        CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => match Alg25519::from_ec_params(ec_params).ok()? {
            Alg25519::Ed25519 => Some("Ed25519"),
            Alg25519::X25519 => Some("X25519"),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(mechanism_name(CKM_ECDSA_SHA256), "CKM_ECDSA_SHA256");
        assert_eq!(mechanism_by_name("CKM_AES_GCM"), Some(CKM_AES_GCM));
        assert_eq!(mechanism_by_name("CKM_NOPE"), None);
        assert_eq!(mechanism_name(0x8000_1234), "CKM_0x80001234");
        assert_eq!(key_type_name(CKK_EC), "CKK_EC");
        assert_eq!(class_name(CKO_PRIVATE_KEY), "CKO_PRIVATE_KEY");
        let p384 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
        assert_eq!(curve_name(CKK_EC, &p384), Some("P-384"));
        assert_eq!(curve_name(CKK_RSA, &p384), None);
        assert_eq!(
            curve_name(CKK_EC_EDWARDS, b"\x13\x0cedwards25519"),
            Some("Ed25519")
        );
        assert_eq!(
            curve_name(CKK_EC_EDWARDS, &[0x06, 0x03, 0x2b, 0x65, 0x71]),
            Some("Ed448")
        );
        assert_eq!(
            curve_name(CKK_EC_MONTGOMERY, b"\x13\x08curve448"),
            Some("X448")
        );
    }

    /// Every mechanism of the table has a name.
    #[test]
    fn table_is_named() {
        for info in crate::mechanism::table() {
            let m = info.mech;
            assert!(mechanism_by_name(&mechanism_name(m)).is_some(), "0x{m:x}");
        }
    }
}
