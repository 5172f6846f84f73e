//! Ed25519ctx (RFC 8032 §5.1 with phFlag 0 and a non-empty context), the
//! EdDSA variant ed25519-dalek does not offer: CKM_EDDSA with
//! CK_EDDSA_PARAMS { phFlag false, context } on an Ed25519 key. Built from
//! the arithmetic ed25519-dalek itself uses (curve25519-dalek's group and
//! scalar operations, its expanded secret key); only the hashing that puts
//! dom2(0, context) in front of both hashes is written here. Verification
//! is as strict as the pure Ed25519 one (`verify_strict`): canonical S,
//! R compared in its canonical encoding, no small-order key or R.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::hazmat::ExpandedSecretKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// dom2's fixed prefix (RFC 8032 §2).
const DOM2_PREFIX: &[u8] = b"SigEd25519 no Ed25519 collisions";

/// SHA-512 started with dom2(0, context): phFlag 0 (no prehash), the
/// context's length, the context. The context is 1..=255 bytes (params.rs
/// checked it; an empty one is pure Ed25519, never Ed25519ctx).
fn hasher(context: &[u8]) -> Result<Sha512> {
    let len = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
    if len == 0 {
        return Err(Error::MechanismParamInvalid);
    }
    let mut h = Sha512::new();
    h.update(DOM2_PREFIX);
    h.update([0u8, len]);
    h.update(context);
    Ok(h)
}

/// k = SHA-512(dom2 || R || A || M) mod L.
fn challenge(context: &[u8], r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Result<Scalar> {
    let mut h = hasher(context)?;
    h.update(r);
    h.update(a);
    h.update(message);
    Ok(Scalar::from_hash(h))
}

/// RFC 8032 §5.1.6 with dom2(0, context).
pub(super) fn sign(key: &SigningKey, context: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let seed = Zeroizing::new(key.to_bytes());
    // (s, prefix) = SHA-512(seed), s clamped: zeroized on drop.
    let esk = ExpandedSecretKey::from(&*seed);
    let mut h = hasher(context)?;
    h.update(esk.hash_prefix);
    h.update(message);
    let r = Zeroizing::new(Scalar::from_hash(h));
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let a = key.verifying_key();
    let k = challenge(context, big_r.as_bytes(), a.as_bytes(), message)?;
    let s = k * esk.scalar + *r;
    let mut sig = Vec::with_capacity(64);
    sig.extend_from_slice(big_r.as_bytes());
    sig.extend_from_slice(s.as_bytes());
    Ok(sig)
}

/// RFC 8032 §5.1.7 with dom2(0, context), checked as strictly as the
/// pure Ed25519 signatures are.
pub(super) fn verify(
    key: &VerifyingKey,
    context: &[u8],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<()> {
    let (r_bytes, s_bytes) = signature.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().map_err(|_| Error::SignatureInvalid)?;
    let s_bytes: [u8; 32] = s_bytes.try_into().map_err(|_| Error::SignatureInvalid)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(Error::SignatureInvalid)?;
    let big_r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(Error::SignatureInvalid)?;
    if key.is_weak() || big_r.is_small_order() {
        return Err(Error::SignatureInvalid);
    }
    let k = challenge(context, &r_bytes, key.as_bytes(), message)?;
    // R' = [S]B - [k]A must be R, compared in R's canonical encoding.
    let minus_a = -key.to_edwards();
    let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s);
    if expected.compress() == CompressedEdwardsY(r_bytes) {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.2 (Ed25519ctx): the key, its public key, the message
    /// f726936d19c800494e3fdaff20b276a8, and the signatures under the
    /// contexts "foo", "bar", and "foo" with message f726…a9 — and the
    /// fourth vector's other key with "foo".
    const VECTORS: &[(&str, &str, &str, &str, &str)] = &[
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "f726936d19c800494e3fdaff20b276a8",
            "666f6f",
            "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a\
             8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d",
        ),
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "f726936d19c800494e3fdaff20b276a8",
            "626172",
            "fc60d5872fc46b3aa69f8b5b4351d5808f92bcc044606db097abab6dbcb1aee3\
             216c48e8b3b66431b5b186d1d28f8ee15a5ca2df6668346291c2043d4eb3e90d",
        ),
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "508e9e6882b979fea900f62adceaca35",
            "666f6f",
            "8b70c1cc8310e1de20ac53ce28ae6e7207f33c3295e03bb5c0732a1d20dc6490\
             8922a8b052cf99b7c4fe107a5abb5b2c4085ae75890d02df26269d8945f84b0b",
        ),
        (
            "ab9c2853ce297ddab85c993b3ae14bcad39b2c682beabc27d6d4eb20711d6560",
            "0f1d1274943b91415889152e893d80e93275a1fc0b65fd71b4b0dda10ad7d772",
            "f726936d19c800494e3fdaff20b276a8",
            "666f6f",
            "21655b5f1aa965996b3f97b3c849eafba922a0a62992f73b3d1b73106a84ad85\
             e9b86a7b6005ea868337ff2d20a7f5fbd4cd10b0be49a68da2b2e0dc0ad8960f",
        ),
    ];

    #[test]
    fn rfc8032_ed25519ctx_vectors() {
        for (secret, public, message, context, signature) in VECTORS {
            let seed: [u8; 32] = unhex(secret).try_into().unwrap();
            let key = SigningKey::from_bytes(&seed);
            assert_eq!(key.verifying_key().as_bytes().to_vec(), unhex(public));
            let (message, context) = (unhex(message), unhex(context));
            let sig = sign(&key, &context, &message).unwrap();
            assert_eq!(sig, unhex(signature), "RFC 8032 §7.2");
            let sig: [u8; 64] = sig.try_into().unwrap();
            let vk = key.verifying_key();
            verify(&vk, &context, &message, &sig).unwrap();
            // Another context, message or a flipped bit: invalid.
            assert_eq!(
                verify(&vk, b"other", &message, &sig),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify(&vk, &context, b"other", &sig),
                Err(Error::SignatureInvalid)
            );
            let mut bad = sig;
            bad[5] ^= 1;
            assert_eq!(
                verify(&vk, &context, &message, &bad),
                Err(Error::SignatureInvalid)
            );
            // S + L is the same S, not canonical: refused.
            let mut high = sig;
            high[63] |= 0x80;
            assert_eq!(
                verify(&vk, &context, &message, &high),
                Err(Error::SignatureInvalid)
            );
            // Not pure Ed25519's signature.
            use ed25519_dalek::Signer;
            assert_ne!(key.sign(&message).to_bytes(), sig);
        }
    }

    #[test]
    fn empty_or_long_context_is_not_ed25519ctx() {
        let key = SigningKey::from_bytes(&[7; 32]);
        assert_eq!(sign(&key, b"", b"m"), Err(Error::MechanismParamInvalid));
        assert_eq!(
            sign(&key, &[0; 256], b"m"),
            Err(Error::MechanismParamInvalid)
        );
    }
}
