//! Encrypted PKCS#8 (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, RFC 5958
//! EncryptedPrivateKeyInfo) with PBES2 (RFC 8018): PBKDF2-HMAC-SHA1/-SHA2
//! and AES-128/192/256-CBC, which is what `openssl pkcs8 -topk8`,
//! `openssl genpkey -aes256` and most tools write. Decrypts to the plain
//! PKCS#8 DER that the importer reads. scrypt and legacy PBES1 schemes
//! (DES, RC2) are refused by name. Used by `keyward keys import`; the
//! module itself never sees a passphrase.

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use zeroize::Zeroizing;

use super::aes::AesCipher;
use super::digest::HashAlg;
use super::provider::generation;

const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
const SCRYPT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11591.4.11");
const HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
const HMAC_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.8");
const HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const HMAC_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.10");
const HMAC_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.11");
const AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// More PBKDF2 iterations than any tool writes: a file asking for more
/// would only make the import hang.
const MAX_ITERATIONS: u32 = 10_000_000;
const BLOCK: usize = 16;
const PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// Why an encrypted key could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pbes2Error {
    /// The structure does not parse; names what.
    Malformed(&'static str),
    /// A scheme we do not implement; names it.
    Unsupported(String),
    /// The padding or the plaintext is wrong: a wrong passphrase (or a
    /// damaged file; CBC cannot tell the two apart).
    WrongPassphrase,
}

impl std::fmt::Display for Pbes2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pbes2Error::Malformed(what) => write!(f, "malformed encrypted PKCS#8 ({what})"),
            Pbes2Error::Unsupported(what) => write!(
                f,
                "unsupported encryption {what} (PBES2 with PBKDF2 and AES-CBC is supported); \
                 re-encrypt with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            ),
            Pbes2Error::WrongPassphrase => {
                f.write_str("wrong passphrase (or a damaged file): the key does not decrypt")
            }
        }
    }
}

type Res<T> = Result<T, Pbes2Error>;

/// The EncryptedPrivateKeyInfo DER in `bytes` (PEM or DER input), or None
/// when `bytes` is not an encrypted PKCS#8 key.
pub fn encrypted_der(bytes: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Some(start) = text.find(&format!("-----BEGIN {PEM_LABEL}-----"))
    {
        let block = text.get(start..)?;
        let end_marker = format!("-----END {PEM_LABEL}-----");
        let end = block.find(&end_marker)?.checked_add(end_marker.len())?;
        let (label, der) = pem_rfc7468::decode_vec(block.get(..end)?.as_bytes()).ok()?;
        return (label == PEM_LABEL).then(|| Zeroizing::new(der));
    }
    let items = sequence(bytes).ok()?;
    match items.as_slice() {
        [alg, data] if alg.tag() == Tag::Sequence && data.tag() == Tag::OctetString => {
            let first = sequence_of(alg).ok()?;
            let oid = oid(first.first()?).ok()?;
            (oid == PBES2 || oid.to_string().starts_with("1.2.840.113549.1.5."))
                .then(|| Zeroizing::new(bytes.to_vec()))
        }
        _ => None,
    }
}

/// Decrypts an EncryptedPrivateKeyInfo to the PrivateKeyInfo DER inside.
pub fn decrypt(der: &[u8], passphrase: &[u8]) -> Res<Zeroizing<Vec<u8>>> {
    let outer = sequence(der).map_err(|_| Pbes2Error::Malformed("EncryptedPrivateKeyInfo"))?;
    let [alg, data] = outer.as_slice() else {
        return Err(Pbes2Error::Malformed("EncryptedPrivateKeyInfo"));
    };
    let alg = sequence_of(alg)?;
    let [scheme, params] = alg.as_slice() else {
        return Err(Pbes2Error::Malformed("algorithm"));
    };
    let scheme = oid(scheme)?;
    if scheme != PBES2 {
        return Err(Pbes2Error::Unsupported(format!("scheme {scheme} (PBES1)")));
    }
    let params = sequence_of(params)?;
    let [kdf, enc] = params.as_slice() else {
        return Err(Pbes2Error::Malformed("PBES2 parameters"));
    };
    let (cipher_oid, iv) = cipher(enc)?;
    let key_len = match cipher_oid {
        o if o == AES128_CBC => 16,
        o if o == AES192_CBC => 24,
        o if o == AES256_CBC => 32,
        o => return Err(Pbes2Error::Unsupported(format!("cipher {o}"))),
    };
    let key = derive(kdf, passphrase, key_len)?;
    if data.tag() != Tag::OctetString {
        return Err(Pbes2Error::Malformed("encrypted data"));
    }
    let plain = cbc_decrypt(&key, iv, data.value())?;
    // A wrong passphrase that happens to leave valid padding still fails
    // here: the plaintext must be one DER SEQUENCE.
    sequence(&plain).map_err(|_| Pbes2Error::WrongPassphrase)?;
    Ok(plain)
}

/// PBKDF2 with the parameters in `kdf`: `len` bytes.
fn derive(kdf: &AnyRef<'_>, passphrase: &[u8], len: usize) -> Res<Zeroizing<Vec<u8>>> {
    let kdf = sequence_of(kdf)?;
    let [kdf_oid, params] = kdf.as_slice() else {
        return Err(Pbes2Error::Malformed("key derivation"));
    };
    match oid(kdf_oid)? {
        o if o == PBKDF2 => {}
        o if o == SCRYPT => return Err(Pbes2Error::Unsupported("scrypt".into())),
        o => return Err(Pbes2Error::Unsupported(format!("key derivation {o}"))),
    }
    let params = sequence_of(params)?;
    let (salt, rest) = params
        .split_first()
        .ok_or(Pbes2Error::Malformed("PBKDF2 parameters"))?;
    let (iterations, rest) = rest
        .split_first()
        .ok_or(Pbes2Error::Malformed("PBKDF2 parameters"))?;
    if salt.tag() != Tag::OctetString {
        return Err(Pbes2Error::Unsupported(
            "PBKDF2 with a non-octet salt".into(),
        ));
    }
    let rounds = small_uint(iterations)?;
    if rounds == 0 || rounds > MAX_ITERATIONS {
        return Err(Pbes2Error::Unsupported(format!(
            "PBKDF2 with {rounds} iterations"
        )));
    }
    // Optional keyLength (INTEGER), then optional prf (default SHA-1).
    let mut prf = HMAC_SHA1;
    for item in rest {
        match item.tag() {
            Tag::Integer if usize::try_from(small_uint(item)?).ok() == Some(len) => {}
            Tag::Integer => return Err(Pbes2Error::Malformed("PBKDF2 key length")),
            Tag::Sequence => {
                let alg = sequence_of(item)?;
                prf = oid(alg.first().ok_or(Pbes2Error::Malformed("PBKDF2 prf"))?)?;
            }
            _ => return Err(Pbes2Error::Malformed("PBKDF2 parameters")),
        }
    }
    let hash = match prf {
        o if o == HMAC_SHA1 => HashAlg::Sha1,
        o if o == HMAC_SHA224 => HashAlg::Sha224,
        o if o == HMAC_SHA256 => HashAlg::Sha256,
        o if o == HMAC_SHA384 => HashAlg::Sha384,
        o if o == HMAC_SHA512 => HashAlg::Sha512,
        o => return Err(Pbes2Error::Unsupported(format!("PBKDF2 prf {o}"))),
    };
    let mut out = Zeroizing::new(vec![0u8; len]);
    // The provider's PBKDF2 (provider/generation.rs); it fails only in a
    // FIPS build asked for a PRF aws-lc does not offer (SHA-224).
    generation::pbkdf2(hash, passphrase, salt.value(), rounds, &mut out)
        .map_err(|_| Pbes2Error::Unsupported(format!("PBKDF2 prf {prf} in this build")))?;
    Ok(out)
}

/// The cipher's OID and its IV.
fn cipher<'a>(enc: &AnyRef<'a>) -> Res<(ObjectIdentifier, &'a [u8])> {
    let enc = sequence_of(enc)?;
    let [cipher, iv] = enc.as_slice() else {
        return Err(Pbes2Error::Malformed("cipher"));
    };
    if iv.tag() != Tag::OctetString || iv.value().len() != BLOCK {
        return Err(Pbes2Error::Malformed("cipher IV"));
    }
    Ok((oid(cipher)?, iv.value()))
}

/// AES-CBC decryption with PKCS#7 padding removed.
fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Res<Zeroizing<Vec<u8>>> {
    if data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return Err(Pbes2Error::Malformed("encrypted data length"));
    }
    let aes = AesCipher::new(key).map_err(|_| Pbes2Error::Malformed("key length"))?;
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    let mut previous = [0u8; BLOCK];
    previous.copy_from_slice(iv);
    for chunk in data.chunks_exact(BLOCK) {
        let mut block = [0u8; BLOCK];
        block.copy_from_slice(chunk);
        aes.decrypt_block(&mut block);
        for (b, p) in block.iter_mut().zip(previous) {
            *b ^= p;
        }
        out.extend_from_slice(&block);
        previous.copy_from_slice(chunk);
    }
    let pad = usize::from(*out.last().ok_or(Pbes2Error::WrongPassphrase)?);
    let body = out
        .len()
        .checked_sub(pad)
        .filter(|_| (1..=BLOCK).contains(&pad))
        .ok_or(Pbes2Error::WrongPassphrase)?;
    let padding_ok = out
        .get(body..)
        .is_some_and(|p| p.iter().all(|&b| usize::from(b) == pad));
    if !padding_ok {
        return Err(Pbes2Error::WrongPassphrase);
    }
    out.truncate(body);
    Ok(out)
}

fn oid(any: &AnyRef<'_>) -> Res<ObjectIdentifier> {
    if any.tag() != Tag::ObjectIdentifier {
        return Err(Pbes2Error::Malformed("object identifier"));
    }
    ObjectIdentifier::from_bytes(any.value())
        .map_err(|_| Pbes2Error::Malformed("object identifier"))
}

/// A non-negative INTEGER that fits in a u32.
fn small_uint(any: &AnyRef<'_>) -> Res<u32> {
    let bytes = any.value();
    if any.tag() != Tag::Integer || bytes.is_empty() || bytes.first().is_some_and(|b| b & 0x80 != 0)
    {
        return Err(Pbes2Error::Malformed("integer"));
    }
    let trimmed = bytes.strip_prefix(&[0]).unwrap_or(bytes);
    if trimmed.len() > 4 {
        return Err(Pbes2Error::Unsupported("an integer above 2^32".into()));
    }
    Ok(trimmed.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)))
}

/// The elements of the SEQUENCE that is the whole of `der`.
fn sequence(der: &[u8]) -> der::Result<Vec<AnyRef<'_>>> {
    let any = AnyRef::from_der(der)?;
    any.tag().assert_eq(Tag::Sequence)?;
    elements(any.value())
}

fn sequence_of<'a>(any: &AnyRef<'a>) -> Res<Vec<AnyRef<'a>>> {
    if any.tag() != Tag::Sequence {
        return Err(Pbes2Error::Malformed("sequence"));
    }
    elements(any.value()).map_err(|_| Pbes2Error::Malformed("sequence"))
}

fn elements(contents: &[u8]) -> der::Result<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(contents)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::unhex;

    /// A P-256 key as plain PKCS#8 DER, and encrypted by OpenSSL 3.0 with
    /// the passphrase "test-pass": `openssl pkcs8 -topk8 -v2 aes-256-cbc
    /// -iter 2048` (PRF HMAC-SHA256) and `-v2 aes-128-cbc -v2prf
    /// hmacWithSHA512 -iter 1000`.
    const PLAIN: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420a4f42171ed96d46d0b7ce2d8fc5c9c99d236b90a024e8befe0c43766e14a2d89a14403420004f11aaa96b83d9078a6f32ca0f31c998fb130271c90cb08ffbedf895b1e06dd932b0a2c110a7e5674e988db85753417459d729b72097eafe8768a17c939fba323";
    const AES256_SHA256: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAj4k4PF5j0oOQICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEKs0RsWoPhiM2bLpaKjtQEQEgZA+
KIQbByKO01larlhGhEFNAL+8NzPtysf5BiyScgDPddHGNNbC2Wo+8i1jzKV/e7+3
5qwgVV7JZHJKl3oXeozCkev3KclzEqzWSaj79eW0YlWT5JAMlskosQeyjv0ZvUdp
f7Uqd4fm9feGFaB72Osxqmw1P/TWddA5Y6bge1B618Gp1xVGS+1d6PbryhKj2rk=
-----END ENCRYPTED PRIVATE KEY-----";
    const AES128_SHA512: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAh8Efdmlk/DHQICA+gw
DAYIKoZIhvcNAgsFADAdBglghkgBZQMEAQIEEJ6OMMy1QI7l4sS2TB4GYPwEgZB8
aWy0NODsZ7SXnmZsUfObf4GITiNuSIZcvItJXXf0y5X+E0Z0to7bVsC+C+DE6Y90
T6vC+DAs382HwwmdxKTJbFor5XhyPf08gQ8WDIdnjySlX8AQevyDefuimfN01zTz
7L91f1/jDKXl19eUHUd0kqBQ5WjNeOoIGTfGCe7+2yaV43RP/o+MR+VqnXiI8aM=
-----END ENCRYPTED PRIVATE KEY-----";

    #[test]
    fn decrypts_what_openssl_writes() {
        for pem in [AES256_SHA256, AES128_SHA512] {
            let der = encrypted_der(pem.as_bytes()).unwrap();
            let plain = decrypt(&der, b"test-pass").unwrap();
            assert_eq!(*plain, unhex(PLAIN));
            // The DER form is recognized too.
            assert_eq!(*encrypted_der(&der).unwrap(), *der);
        }
    }

    #[test]
    fn wrong_passphrases_and_other_inputs() {
        let der = encrypted_der(AES256_SHA256.as_bytes()).unwrap();
        assert_eq!(
            decrypt(&der, b"wrong").unwrap_err(),
            Pbes2Error::WrongPassphrase
        );
        assert!(encrypted_der(&unhex(PLAIN)).is_none());
        assert!(encrypted_der(b"-----BEGIN PRIVATE KEY-----\n").is_none());
        assert!(encrypted_der(b"").is_none());
        // A flipped byte in the parameters: refused, never a panic.
        for i in 0..der.len() {
            let mut bad = der.to_vec();
            bad[i] ^= 0x41;
            let _ = decrypt(&bad, b"test-pass");
        }
        assert!(decrypt(&der[..der.len() - 1], b"test-pass").is_err());
    }
}
