//! Crypto at rest: the master key, its PIN wrapping, per-object sealing and
//! the keyed lookup tags. This is the only cryptography outside
//! `src/mechanism/`; the key hierarchy is described in `docs/FORMAT.md`.
//! The primitives (random bytes, AES-256-GCM, HKDF-SHA256, HMAC-SHA256,
//! PBKDF2-HMAC-SHA256) are the crypto provider's
//! (`mechanism::provider::generation`), so the aws-lc and FIPS builds seal
//! stored keys inside AWS-LC; the bytes written are the same in every
//! build. Only the SHA-256 of public data (digests, fingerprints, the
//! audit chain) is computed here.

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::mechanism::HashAlg;
use crate::mechanism::provider::generation::{self, GCM_NONCE_LEN};

/// Version byte of the first format: wrapped master keys without their
/// index key, sealed blobs that do not name the key that sealed them.
/// Still read; written only by [`seal_object`] (tests and tools).
pub const SEAL_VERSION: u8 = 1;
/// Version byte of PIN records carrying the index key, and of sealed blobs
/// naming the key epoch that sealed them (docs/FORMAT.md, format 4).
pub const SEAL_VERSION_2: u8 = 2;
/// Length of the PBKDF2 salt written by [`wrap_master_key`].
pub const SALT_LEN: usize = 16;
/// Largest PBKDF2 iteration count accepted, so a tampered record cannot make
/// a login spin for hours.
pub const MAX_ITERATIONS: u32 = 10_000_000;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = GCM_NONCE_LEN;
const TAG_LEN: usize = generation::GCM_TAG_LEN;
/// version || nonce || ciphertext(32) || tag.
const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;
/// Version 2: version || nonce || ciphertext(master key || index key) || tag.
const WRAPPED_LEN_V2: usize = 1 + NONCE_LEN + 2 * KEY_LEN + TAG_LEN;
const MIN_SALT_LEN: usize = 8;
const MAX_SALT_LEN: usize = 64;
/// SHA-256 block size: HMAC keys of this length are used as-is.
const HMAC_BLOCK: usize = 64;

const MK_AAD_PREFIX: &[u8] = b"keyward-mk-v1";
const MK_AAD_PREFIX_V2: &[u8] = b"keyward-mk-v2";
/// Key (HKDF info) and AAD prefix of a master key wrapped under another.
const STEP_INFO: &[u8] = b"keyward-mk-step-v1";
const OBJECT_INFO_PREFIX: &[u8] = b"keyward-object-v1";
const INDEX_INFO: &[u8] = b"keyward-index-v1";

/// The token master key (32 random bytes) plus the lookup-index key derived
/// from it once at construction, so [`lookup_tag`] cannot fail. Both are
/// wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    key: [u8; KEY_LEN],
    /// HKDF output (32 bytes) zero-padded to the HMAC block size, which is
    /// exactly how HMAC treats a 32-byte key (RFC 2104): either form keys
    /// the same HMAC in both providers.
    index_key: [u8; HMAC_BLOCK],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// The key bytes, for the key derivations of the sibling sealing
    /// modules.
    pub(super) fn raw(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// A fresh master key from the OS RNG.
    pub fn generate() -> Result<MasterKey> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(key.as_mut_slice())?;
        MasterKey::from_bytes(&key)
    }

    /// The next master key of a rotation: fresh random key bytes, the same
    /// index key. Lookup tags therefore never change at a rotation, so
    /// searches find rows whichever key sealed them while the rows are
    /// re-sealed batch by batch (docs/FORMAT.md, "Master-key rotation").
    pub fn rotated(&self) -> Result<MasterKey> {
        let mut key = [0u8; KEY_LEN];
        fill_random(&mut key)?;
        Ok(MasterKey {
            key,
            index_key: self.index_key,
        })
    }

    /// Master key || index key (64 bytes), as version 2 wrappings hold it.
    fn to_parts(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(2 * KEY_LEN));
        out.extend_from_slice(&self.key);
        out.extend_from_slice(self.index_key.get(..KEY_LEN).unwrap_or_default());
        out
    }

    /// Reverses [`MasterKey::to_parts`].
    fn from_parts(parts: &[u8]) -> Result<MasterKey> {
        let (key, index) = parts.split_at_checked(KEY_LEN).ok_or(Error::Tampered)?;
        let key: [u8; KEY_LEN] = key.try_into().map_err(|_| Error::Tampered)?;
        if index.len() != KEY_LEN {
            return Err(Error::Tampered);
        }
        let mut index_key = [0u8; HMAC_BLOCK];
        if let Some(head) = index_key.get_mut(..KEY_LEN) {
            head.copy_from_slice(index);
        }
        Ok(MasterKey { key, index_key })
    }

    fn from_bytes(key: &[u8; KEY_LEN]) -> Result<MasterKey> {
        let mut mk = MasterKey {
            key: *key,
            index_key: [0u8; HMAC_BLOCK],
        };
        let (derived, _) = mk.index_key.split_at_mut(KEY_LEN);
        generation::hkdf_sha256(key, INDEX_INFO, derived)?;
        Ok(mk)
    }
}

/// What is stored per role: the PBKDF2 parameters and the master key
/// wrapped under the PIN-derived key.
#[derive(Clone, PartialEq, Eq)]
pub struct PinRecord {
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// version || nonce || AES-256-GCM(ciphertext || tag).
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for PinRecord {
    // The wrapped key is only as strong as the PIN, so it is not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinRecord")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .field("wrapped_len", &self.wrapped.len())
            .finish()
    }
}

fn fill_random(buf: &mut [u8]) -> Result<()> {
    generation::fill(buf)
}

/// AES-256-GCM encrypts `plaintext` and returns version || nonce || ct || tag.
fn seal_with(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_headed(key, &[SEAL_VERSION], aad, plaintext)
}

/// AES-256-GCM encrypts `plaintext` and returns head || nonce || ct || tag.
fn seal_headed(key: &[u8; KEY_LEN], head: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    // Capacity is exact, so the in-place encryption never reallocates and
    // the plaintext copy is overwritten by ciphertext rather than left behind.
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len().saturating_add(TAG_LEN)));
    body.extend_from_slice(plaintext);
    // The provider draws the nonce (inside AWS-LC in the aws-lc build).
    let nonce = generation::gcm_seal(key, aad, &mut body)?;
    let mut out = Vec::with_capacity(body.len().saturating_add(head.len() + NONCE_LEN));
    out.extend_from_slice(head);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// [`seal_with`] for the sibling sealing modules (`seal_quorum.rs`).
pub(super) fn seal_v1(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_with(key, aad, plaintext)
}

/// [`open_with`] for the sibling sealing modules; any failure is
/// [`Error::Tampered`].
pub(super) fn open_v1(key: &[u8; KEY_LEN], aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    open_with(key, aad, blob).map_err(|_| Error::Tampered)
}

/// Why [`open_with`] failed; callers choose the error each one becomes.
enum OpenError {
    Malformed,
    Unauthentic,
}

/// Reverses [`seal_with`].
fn open_with(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    blob: &[u8],
) -> std::result::Result<Zeroizing<Vec<u8>>, OpenError> {
    open_headed(key, &[SEAL_VERSION], aad, blob)
}

/// Reverses [`seal_headed`]: `blob` must start with exactly `head`.
fn open_headed(
    key: &[u8; KEY_LEN],
    head: &[u8],
    aad: &[u8],
    blob: &[u8],
) -> std::result::Result<Zeroizing<Vec<u8>>, OpenError> {
    let rest = blob.strip_prefix(head).ok_or(OpenError::Malformed)?;
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, ct) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or(OpenError::Malformed)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    generation::gcm_open(key, &nonce, aad, &mut buf).map_err(|e| match e {
        Error::EncryptedDataInvalid => OpenError::Unauthentic,
        _ => OpenError::Malformed,
    })?;
    Ok(buf)
}

fn mk_aad(role: u8) -> Vec<u8> {
    let mut aad = MK_AAD_PREFIX.to_vec();
    aad.push(role);
    aad
}

fn mk_aad_v2(role: u8) -> Vec<u8> {
    let mut aad = MK_AAD_PREFIX_V2.to_vec();
    aad.push(role);
    aad
}

fn pin_kek(pin: &[u8], salt: &[u8], iterations: u32) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    generation::pbkdf2(HashAlg::Sha256, pin, salt, iterations, kek.as_mut_slice())?;
    Ok(kek)
}

/// Wraps `mk` under a key derived from `pin` for `role` (the CKU_* value).
/// `iterations` must be in 1..=[`MAX_ITERATIONS`].
pub fn wrap_master_key(mk: &MasterKey, pin: &[u8], role: u8, iterations: u32) -> Result<PinRecord> {
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(Error::ArgumentsBad);
    }
    let mut salt = vec![0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let kek = pin_kek(pin, &salt, iterations)?;
    // Version 2 carries the index key, which a rotation keeps while the
    // master key changes (see [`MasterKey::rotated`]).
    let wrapped = seal_headed(&kek, &[SEAL_VERSION_2], &mk_aad_v2(role), &mk.to_parts())?;
    Ok(PinRecord {
        salt,
        iterations,
        wrapped,
    })
}

/// Recovers the master key. A record that cannot be a valid wrapping is
/// [`Error::Tampered`]; a failed authentication is [`Error::PinIncorrect`]
/// (a wrong PIN and a modified ciphertext are indistinguishable here).
pub fn unwrap_master_key(pin: &[u8], role: u8, rec: &PinRecord) -> Result<MasterKey> {
    let salt_ok = (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&rec.salt.len());
    let iter_ok = (1..=MAX_ITERATIONS).contains(&rec.iterations);
    let v2 = match (rec.wrapped.first(), rec.wrapped.len()) {
        (Some(&SEAL_VERSION), WRAPPED_LEN) => false,
        (Some(&SEAL_VERSION_2), WRAPPED_LEN_V2) => true,
        _ => return Err(Error::Tampered),
    };
    if !salt_ok || !iter_ok {
        return Err(Error::Tampered);
    }
    let kek = pin_kek(pin, &rec.salt, rec.iterations)?;
    let opened = if v2 {
        open_headed(&kek, &[SEAL_VERSION_2], &mk_aad_v2(role), &rec.wrapped)
    } else {
        open_with(&kek, &mk_aad(role), &rec.wrapped)
    };
    let plain = opened.map_err(|e| match e {
        OpenError::Malformed => Error::Tampered,
        OpenError::Unauthentic => Error::PinIncorrect,
    })?;
    if v2 {
        return MasterKey::from_parts(&plain);
    }
    // Version 1: the index key is derived from the master key.
    let key: &[u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| Error::Tampered)?;
    MasterKey::from_bytes(key)
}

/// Which way a rotation step wraps: the new key under the old one (kept so
/// a process logged in under the old key catches up) or the old key under
/// the new one (kept while rows sealed under the old key remain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDirection {
    Next,
    Previous,
}

fn step_aad(dir: StepDirection, from_epoch: i64, to_epoch: i64) -> Vec<u8> {
    let mut aad = STEP_INFO.to_vec();
    aad.push(match dir {
        StepDirection::Next => 1,
        StepDirection::Previous => 2,
    });
    aad.extend_from_slice(&from_epoch.to_le_bytes());
    aad.extend_from_slice(&to_epoch.to_le_bytes());
    aad
}

fn step_key(mk: &MasterKey) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    generation::hkdf_sha256(&mk.key, STEP_INFO, key.as_mut_slice())?;
    Ok(key)
}

/// Wraps `target` (the key of epoch `to_epoch`) under `wrapping` (the key
/// of `from_epoch`), AES-256-GCM with both epochs and the direction in the
/// AAD, so a step cannot be replayed between other epochs.
pub fn wrap_step(
    wrapping: &MasterKey,
    dir: StepDirection,
    from_epoch: i64,
    to_epoch: i64,
    target: &MasterKey,
) -> Result<Vec<u8>> {
    let key = step_key(wrapping)?;
    seal_with(
        &key,
        &step_aad(dir, from_epoch, to_epoch),
        &target.to_parts(),
    )
}

/// Reverses [`wrap_step`]; any mismatch is [`Error::Tampered`].
pub fn unwrap_step(
    wrapping: &MasterKey,
    dir: StepDirection,
    from_epoch: i64,
    to_epoch: i64,
    wrapped: &[u8],
) -> Result<MasterKey> {
    let key = step_key(wrapping)?;
    let plain = open_with(&key, &step_aad(dir, from_epoch, to_epoch), wrapped)
        .map_err(|_| Error::Tampered)?;
    MasterKey::from_parts(&plain)
}

fn object_key(mk: &MasterKey, object_id: i64) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut info = OBJECT_INFO_PREFIX.to_vec();
    info.extend_from_slice(&object_id.to_le_bytes());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    generation::hkdf_sha256(&mk.key, &info, key.as_mut_slice())?;
    Ok(key)
}

fn object_aad(object_id: i64, class: u64, public_digest: &[u8; 32]) -> Vec<u8> {
    object_aad_headed(&[SEAL_VERSION], object_id, class, public_digest)
}

/// The blob's head (version, and from version 2 the key epoch) is repeated
/// in the AAD, so the epoch a row names cannot be edited.
fn object_aad_headed(head: &[u8], object_id: i64, class: u64, public_digest: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(head.len() + 8 + 8 + 32);
    aad.extend_from_slice(head);
    aad.extend_from_slice(&object_id.to_le_bytes());
    aad.extend_from_slice(&class.to_le_bytes());
    aad.extend_from_slice(public_digest);
    aad
}

/// Seals an object's secret attributes (an encoded attribute map), binding
/// them to the row's id, class and clear attributes.
pub fn seal_object(
    mk: &MasterKey,
    object_id: i64,
    class: u64,
    public_digest: &[u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let key = object_key(mk, object_id)?;
    seal_with(
        &key,
        &object_aad(object_id, class, public_digest),
        plaintext,
    )
}

/// The first 9 bytes of every version 2 blob sealed under the key of
/// `key_epoch` (rotation uses it to find rows not yet re-sealed in SQL).
pub fn blob_head(key_epoch: i64) -> [u8; 9] {
    v2_head(key_epoch)
}

fn v2_head(key_epoch: i64) -> [u8; 9] {
    let mut head = [SEAL_VERSION_2; 9];
    if let Some(rest) = head.get_mut(1..) {
        rest.copy_from_slice(&key_epoch.to_le_bytes());
    }
    head
}

/// [`seal_object`] in the current format (version 2): the blob names the
/// epoch of the master key that sealed it, so while a rotation re-seals
/// rows batch by batch a reader knows which of the two keys opens a row.
pub fn seal_object_at(
    mk: &MasterKey,
    key_epoch: i64,
    object_id: i64,
    class: u64,
    public_digest: &[u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let key = object_key(mk, object_id)?;
    let head = v2_head(key_epoch);
    seal_headed(
        &key,
        &head,
        &object_aad_headed(&head, object_id, class, public_digest),
        plaintext,
    )
}

/// The key epoch a sealed blob names: `None` for a version 1 blob (sealed
/// before the format named keys: under the oldest key still in use).
/// Anything else is [`Error::Tampered`].
pub fn blob_key_epoch(blob: &[u8]) -> Result<Option<i64>> {
    match blob.split_first() {
        Some((&SEAL_VERSION, _)) => Ok(None),
        Some((&SEAL_VERSION_2, rest)) => {
            let epoch: [u8; 8] = rest
                .get(..8)
                .and_then(|e| e.try_into().ok())
                .ok_or(Error::Tampered)?;
            Ok(Some(i64::from_le_bytes(epoch)))
        }
        _ => Err(Error::Tampered),
    }
}

/// Opens a sealed blob of either version. Any mismatch (bytes, id, class,
/// clear attributes, master key, version, key epoch) is
/// [`Error::Tampered`].
pub fn unseal_object(
    mk: &MasterKey,
    object_id: i64,
    class: u64,
    public_digest: &[u8; 32],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = object_key(mk, object_id).map_err(|_| Error::Tampered)?;
    match blob_key_epoch(blob)? {
        None => open_with(&key, &object_aad(object_id, class, public_digest), blob),
        Some(epoch) => {
            let head = v2_head(epoch);
            open_headed(
                &key,
                &head,
                &object_aad_headed(&head, object_id, class, public_digest),
                blob,
            )
        }
    }
    .map_err(|_| Error::Tampered)
}

/// The sealed part of a stored row, opened under `mk`: the one way every
/// layer (the token's reads, rotation, the pre-rotation check, migration's
/// verification) opens a row, bound to the row's id, class and public
/// attributes.
pub fn open_row(mk: &MasterKey, row: &super::db::ObjectRow) -> Result<Zeroizing<Vec<u8>>> {
    unseal_object(
        mk,
        row.id,
        row.class,
        &public_digest(&row.public),
        &row.sealed,
    )
}

/// `row`'s sealed part opened under `old` and sealed again under `new`
/// (of `new_epoch`), bound to the same id, class and public attributes.
pub fn reseal_row(
    old: &MasterKey,
    new: &MasterKey,
    new_epoch: i64,
    row: &super::db::ObjectRow,
) -> Result<Vec<u8>> {
    let plain = open_row(old, row)?;
    let digest = public_digest(&row.public);
    seal_object_at(new, new_epoch, row.id, row.class, &digest, &plain)
}

/// SHA-256 of the encoded public attributes, bound into each sealed blob.
pub fn public_digest(encoded_public: &[u8]) -> [u8; 32] {
    Sha256::digest(encoded_public).into()
}

/// The audit trail's authentication key: random, wrapped under the master
/// key (so it survives PIN changes and is carried across a C_InitToken by
/// the SO who knew the old master key), wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AuditKey([u8; KEY_LEN]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

const AUDIT_WRAP_INFO: &[u8] = b"keyward-audit-wrap-v1";
const AUDIT_CHAIN_PREFIX: &[u8] = b"keyward-audit-v1";

impl AuditKey {
    pub fn generate() -> Result<AuditKey> {
        let mut key = [0u8; KEY_LEN];
        fill_random(&mut key)?;
        Ok(AuditKey(key))
    }

    fn wrapping_key(mk: &MasterKey) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        generation::hkdf_sha256(&mk.key, AUDIT_WRAP_INFO, key.as_mut_slice())?;
        Ok(key)
    }

    /// The key sealed under `mk`, for the `audit_state` row.
    pub fn wrap(&self, mk: &MasterKey) -> Result<Vec<u8>> {
        let key = AuditKey::wrapping_key(mk)?;
        seal_with(&key, AUDIT_WRAP_INFO, &self.0)
    }

    /// Opens [`AuditKey::wrap`]'s output; anything else is
    /// [`Error::Tampered`].
    pub fn unwrap(mk: &MasterKey, wrapped: &[u8]) -> Result<AuditKey> {
        let key = AuditKey::wrapping_key(mk)?;
        let plain = open_with(&key, AUDIT_WRAP_INFO, wrapped).map_err(|_| Error::Tampered)?;
        let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| Error::Tampered)?;
        Ok(AuditKey(key))
    }

    /// HMAC-SHA256 over a record's chain hash.
    pub fn mac(&self, chain_hash: &[u8; 32]) -> Vec<u8> {
        generation::hmac_sha256(&self.0, &[chain_hash]).to_vec()
    }

    /// Constant-time check of [`AuditKey::mac`].
    pub fn verify(&self, chain_hash: &[u8; 32], tag: &[u8]) -> bool {
        generation::hmac_sha256_verify(&self.0, &[chain_hash], tag)
    }

    /// HMAC-SHA256 of the chain anchor: domain-separated from record MACs
    /// and bound to the anchor's sequence number, so an attacker cannot
    /// turn an earlier record's MAC into an anchor for a trail cut back
    /// to that record.
    pub fn anchor_mac(&self, seq: i64, chain_hash: &[u8; 32]) -> Vec<u8> {
        let seq = seq.to_le_bytes();
        generation::hmac_sha256(&self.0, &[AUDIT_ANCHOR_PREFIX, &seq, chain_hash]).to_vec()
    }

    /// Constant-time check of [`AuditKey::anchor_mac`].
    pub fn verify_anchor(&self, seq: i64, chain_hash: &[u8; 32], tag: &[u8]) -> bool {
        let seq = seq.to_le_bytes();
        generation::hmac_sha256_verify(&self.0, &[AUDIT_ANCHOR_PREFIX, &seq, chain_hash], tag)
    }
}

const AUDIT_ANCHOR_PREFIX: &[u8] = b"keyward-audit-anchor-v1";

/// A short fingerprint of one version of an object row (id, generation,
/// class, privacy, clear and sealed bytes): names which damaged row an
/// `object_damaged` record is about, so each version is reported once.
pub fn row_fingerprint(
    id: i64,
    generation: i64,
    class: u64,
    private: bool,
    public: &[u8],
    sealed: &[u8],
) -> String {
    let mut h = Sha256::new();
    h.update(b"keyward-row-v1");
    h.update(id.to_le_bytes());
    h.update(generation.to_le_bytes());
    h.update(class.to_le_bytes());
    h.update([u8::from(private)]);
    h.update(
        u64::try_from(public.len())
            .unwrap_or(u64::MAX)
            .to_le_bytes(),
    );
    h.update(public);
    h.update(sealed);
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hash of one audit record, chained to the previous record's hash:
/// SHA-256("keyward-audit-v1" || previous || seq LE u64 || body).
pub fn audit_chain(previous: &[u8; 32], seq: u64, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(AUDIT_CHAIN_PREFIX);
    h.update(previous);
    h.update(seq.to_le_bytes());
    h.update(body);
    h.finalize().into()
}

/// A short public fingerprint of a sealed key (SHA-256 of its sealed
/// blob, hex): names exactly which ciphertext an audit record refers to
/// without revealing anything about the key.
pub fn fingerprint(sealed: &[u8]) -> String {
    Sha256::digest(sealed)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Keyed tag for finding a private object by an attribute value through an
/// SQL index without storing the value: HMAC-SHA256(index key,
/// attr_type LE u64 || value). Equal inputs give equal tags under one master
/// key; nothing about the value is learned without it.
pub fn lookup_tag(mk: &MasterKey, attr_type: u64, value: &[u8]) -> Vec<u8> {
    // The 64-byte zero-padded key is exactly HMAC's view of the 32-byte
    // one (RFC 2104), in either provider.
    let attr = attr_type.to_le_bytes();
    generation::hmac_sha256(&mk.index_key, &[&attr, value]).to_vec()
}

/// Length of the PBKDF2 salt in a backup file header.
pub const BACKUP_SALT_LEN: usize = 16;
/// Bytes a sealed backup payload adds to the plaintext: version byte,
/// nonce and tag.
pub const BACKUP_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A fresh random salt for [`seal_backup`]; the caller puts it in the
/// file header before sealing, so the header can be the AAD.
pub fn backup_salt() -> Result<[u8; BACKUP_SALT_LEN]> {
    let mut salt = [0u8; BACKUP_SALT_LEN];
    fill_random(&mut salt)?;
    Ok(salt)
}

fn backup_key(passphrase: &[u8], iterations: u32, salt: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    // The iteration count comes from an unauthenticated header when
    // opening, so it is bounded before any work is done.
    if iterations == 0 || iterations > MAX_ITERATIONS || salt.len() != BACKUP_SALT_LEN {
        return Err(Error::ArgumentsBad);
    }
    pin_kek(passphrase, salt, iterations)
}

/// Encrypts a backup payload under PBKDF2-HMAC-SHA256(`passphrase`,
/// `salt`, `iterations`) with AES-256-GCM, authenticating `header` (the
/// whole clear file header) as AAD. Returns version || nonce || ct || tag.
pub fn seal_backup(
    passphrase: &[u8],
    iterations: u32,
    salt: &[u8],
    header: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let key = backup_key(passphrase, iterations, salt)?;
    seal_with(&key, header, plain)
}

/// Reverses [`seal_backup`]. Bad parameters are [`Error::ArgumentsBad`];
/// a malformed blob, a changed header or blob, and a wrong passphrase are
/// all [`Error::Tampered`] (they cannot be told apart).
pub fn open_backup(
    passphrase: &[u8],
    iterations: u32,
    salt: &[u8],
    header: &[u8],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let key = backup_key(passphrase, iterations, salt)?;
    open_with(&key, header, blob).map_err(|_| Error::Tampered)
}

/// The auditor's wrapping of the audit key (issue 15).
#[path = "seal_auditor.rs"]
pub mod auditor;

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
