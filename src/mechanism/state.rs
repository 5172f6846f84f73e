//! Saved operation states (C_GetOperationState / C_SetOperationState,
//! PKCS#11 3.0 §5.6): what a digest, sign or verify operation has absorbed,
//! encoded and sealed with AES-256-GCM under a key that lives only as long
//! as the library instance, so a state can be neither read nor forged and
//! one from another process, initialization or slot is refused.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::provider::generation::{self, GCM_NONCE_LEN as NONCE_LEN};
use super::sign::{Input, SignOp, VerifyOp};
use super::{HashAlg, Key, Mechanism, Params, random};
use crate::error::{Error, Result};

/// First byte of every saved state: the layout of what follows.
const STATE_VERSION: u8 = 1;
const AAD_PREFIX: &[u8] = b"keyward-opstate-v1";
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Domain separation of [`key_id`] from any other SHA-256 use.
const KEY_ID_PREFIX: &[u8] = b"keyward-opstate-key";

/// The random key that seals saved states; one per `Library`.
pub struct StateKey(Zeroizing<[u8; KEY_LEN]>);

impl StateKey {
    pub fn generate() -> Result<StateKey> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        random(key.as_mut_slice())?;
        Ok(StateKey(key))
    }
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// The slot is bound in as associated data: a state only opens on the
/// token it was saved from.
fn aad(slot: CK_SLOT_ID) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(&slot.to_be_bytes());
    aad
}

/// version || nonce || AES-256-GCM(plaintext) || tag. The AEAD is the
/// store's (provider/generation.rs): AWS-LC's in the aws-lc builds, with
/// the nonce drawn inside it, so the FIPS build seals states in the module
/// too.
pub fn seal_state(key: &StateKey, slot: CK_SLOT_ID, plaintext: &[u8]) -> Result<Vec<u8>> {
    // Exact capacity: encryption in place never reallocates and leaves no
    // plaintext copy behind.
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len().saturating_add(TAG_LEN)));
    body.extend_from_slice(plaintext);
    let nonce = generation::gcm_seal(&key.0, &aad(slot), &mut body)?;
    let mut out = Vec::with_capacity(body.len().saturating_add(1 + NONCE_LEN));
    out.push(STATE_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reverses [`seal_state`]; anything else is SavedStateInvalid.
pub fn open_state(key: &StateKey, slot: CK_SLOT_ID, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let bad = Error::SavedStateInvalid;
    let (version, rest) = blob.split_first().ok_or(bad)?;
    if *version != STATE_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(bad);
    }
    let (nonce, ct) = rest.split_at_checked(NONCE_LEN).ok_or(bad)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    generation::gcm_open(&key.0, &nonce, &aad(slot), &mut buf).map_err(|_| bad)?;
    Ok(buf)
}

/// A serialized hash state (`SerializableState` of the RustCrypto hash).
pub struct HashState {
    pub alg: HashAlg,
    pub bytes: Zeroizing<Vec<u8>>,
}

/// The input a sign or verify operation has absorbed so far.
pub enum InputState {
    /// Hashing mechanisms: the running hash.
    Hash(HashState),
    /// Raw mechanisms: the data buffered until the signature is made.
    Buffer(Zeroizing<Vec<u8>>),
}

/// A sign or verify operation, enough to rebuild it on the same key.
pub struct SavedSig {
    pub mech: CK_MECHANISM_TYPE,
    /// The mechanism parameter in the caller's flat layout, if any.
    pub param: Option<Vec<u8>>,
    /// Which key it ran with, see [`key_id`].
    pub key_id: [u8; 32],
    pub input: InputState,
}

impl SavedSig {
    /// The mechanism, parsed and checked again as at init time.
    pub fn mechanism(&self) -> Result<Mechanism> {
        Mechanism::parse(self.mech, self.param.as_deref()).map_err(|_| Error::SavedStateInvalid)
    }
}

pub enum SavedOp {
    Digest(HashState),
    Sign(SavedSig),
    Verify(SavedSig),
}

/// One saved operation plus the session's bookkeeping for it.
pub struct Saved {
    pub op: SavedOp,
    /// C_*Update was called: the single-part call stays refused.
    pub updated: bool,
}

impl std::fmt::Debug for HashState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state holds the tail of the caller's data: never printed.
        write!(f, "HashState({:?}, <redacted>)", self.alg)
    }
}

impl std::fmt::Debug for InputState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputState::Hash(h) => write!(f, "Hash({h:?})"),
            InputState::Buffer(b) => write!(f, "Buffer({} bytes)", b.len()),
        }
    }
}

impl std::fmt::Debug for SavedSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SavedSig({:#x}, {:?})", self.mech, self.input)
    }
}

impl std::fmt::Debug for SavedOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SavedOp::Digest(h) => write!(f, "Digest({h:?})"),
            SavedOp::Sign(s) => write!(f, "Sign({s:?})"),
            SavedOp::Verify(s) => write!(f, "Verify({s:?})"),
        }
    }
}

impl std::fmt::Debug for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Saved({:?}, updated: {})", self.op, self.updated)
    }
}

/// Identifies the key a sign/verify state was made with, so
/// C_SetOperationState can insist on the same one: a hash of the public
/// part, the same for a private key and its public key. Secret keys have
/// no public part, and their MACs are not saved.
pub fn key_id(key: &Key) -> Result<[u8; 32]> {
    let spki = key.public_key_info().map_err(|_| Error::StateUnsaveable)?;
    let mut h = HashAlg::Sha256.hasher();
    h.update(KEY_ID_PREFIX);
    h.update(&spki);
    h.finish().try_into().map_err(|_| Error::GeneralError)
}

/// The parameter of a resumable mechanism in the flat layout
/// [`Mechanism::parse`] reads. Parameters with pointers are not saved.
pub fn encode_param(params: &Params) -> Result<Option<Vec<u8>>> {
    let ulong = |n: usize| CK_ULONG::try_from(n).map_err(|_| Error::GeneralError);
    match params {
        Params::None => Ok(None),
        Params::Pss {
            hash,
            mgf,
            salt_len,
        } => {
            let mut out = Vec::new();
            for v in [*hash, *mgf, ulong(*salt_len)?] {
                out.extend_from_slice(&v.to_ne_bytes());
            }
            Ok(Some(out))
        }
        Params::MacLen(n) => Ok(Some(ulong(*n)?.to_ne_bytes().to_vec())),
        _ => Err(Error::StateUnsaveable),
    }
}

/// Sign/verify operations whose absorbed input can be saved and taken over.
pub(super) trait Resume {
    fn input(&self) -> &Input;
    fn input_mut(&mut self) -> &mut Input;
}

/// A sign or verify operation that remembers the mechanism and key it was
/// made with: a saved state must carry them to be rebuilt.
pub(super) struct Resumable<T> {
    mech: Mechanism,
    key: Arc<Key>,
    op: T,
}

impl<T: Resume> Resumable<T> {
    /// Wraps a fresh operation, taking over `input` when resuming.
    pub(super) fn new(
        mech: &Mechanism,
        key: Arc<Key>,
        mut op: T,
        input: Option<&InputState>,
    ) -> Result<Self> {
        if let Some(state) = input {
            op.input_mut().restore(state)?;
        }
        Ok(Resumable {
            mech: mech.clone(),
            key,
            op,
        })
    }

    fn saved(&self) -> Result<SavedSig> {
        Ok(SavedSig {
            mech: self.mech.mech,
            param: encode_param(&self.mech.params)?,
            key_id: key_id(&self.key)?,
            input: self.op.input().save()?,
        })
    }
}

impl<T: SignOp + Resume> SignOp for Resumable<T> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.op.update(data)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.op.finish()
    }

    fn sign_len(&self) -> usize {
        self.op.sign_len()
    }

    fn save(&self) -> Result<SavedSig> {
        self.saved()
    }
}

impl<T: VerifyOp + Resume> VerifyOp for Resumable<T> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.op.update(data)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.op.finish(signature)
    }

    fn save(&self) -> Result<SavedSig> {
        self.saved()
    }
}

const TAG_DIGEST: u8 = 1;
const TAG_SIGN: u8 = 2;
const TAG_VERIFY: u8 = 3;
const TAG_HASH: u8 = 1;
const TAG_BUFFER: u8 = 2;

/// The plaintext of a state: a count, then per operation its tag, the
/// updated flag and its fields; integers big-endian, byte strings
/// length-prefixed (u32). Only this module writes and reads it.
pub fn encode(saved: &[Saved]) -> Result<Zeroizing<Vec<u8>>> {
    let mut w = Writer(Zeroizing::new(Vec::new()));
    w.u8(u8::try_from(saved.len()).map_err(|_| Error::GeneralError)?);
    for s in saved {
        w.u8(match &s.op {
            SavedOp::Digest(_) => TAG_DIGEST,
            SavedOp::Sign(_) => TAG_SIGN,
            SavedOp::Verify(_) => TAG_VERIFY,
        });
        w.u8(u8::from(s.updated));
        match &s.op {
            SavedOp::Digest(h) => w.hash(h)?,
            SavedOp::Sign(sig) | SavedOp::Verify(sig) => w.sig(sig)?,
        }
    }
    Ok(w.0)
}

/// Reverses [`encode`]. The blob was authenticated, so a failure here is
/// a bug or a state from another version: SavedStateInvalid either way.
pub fn decode(bytes: &[u8]) -> Result<Vec<Saved>> {
    let mut r = Reader(bytes);
    let count = r.u8()?;
    let mut out: Vec<Saved> = Vec::new();
    for _ in 0..count {
        let tag = r.u8()?;
        let updated = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(Error::SavedStateInvalid),
        };
        let op = match tag {
            TAG_DIGEST => SavedOp::Digest(r.hash()?),
            TAG_SIGN => SavedOp::Sign(r.sig()?),
            TAG_VERIFY => SavedOp::Verify(r.sig()?),
            _ => return Err(Error::SavedStateInvalid),
        };
        let kind = std::mem::discriminant(&op);
        if out.iter().any(|s| std::mem::discriminant(&s.op) == kind) {
            return Err(Error::SavedStateInvalid);
        }
        out.push(Saved { op, updated });
    }
    if !r.0.is_empty() {
        return Err(Error::SavedStateInvalid);
    }
    Ok(out)
}

struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn bytes(&mut self, v: &[u8]) -> Result<()> {
        let len = u32::try_from(v.len()).map_err(|_| Error::StateUnsaveable)?;
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(v);
        Ok(())
    }

    fn hash(&mut self, h: &HashState) -> Result<()> {
        self.u64(h.alg.digest_mech());
        self.bytes(&h.bytes)
    }

    fn sig(&mut self, sig: &SavedSig) -> Result<()> {
        self.u64(sig.mech);
        match &sig.param {
            None => self.u8(0),
            Some(p) => {
                self.u8(1);
                self.bytes(p)?;
            }
        }
        self.0.extend_from_slice(&sig.key_id);
        match &sig.input {
            InputState::Hash(h) => {
                self.u8(TAG_HASH);
                self.hash(h)
            }
            InputState::Buffer(b) => {
                self.u8(TAG_BUFFER);
                self.bytes(b)
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Error::SavedStateInvalid)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Result<u64> {
        self.take::<8>().map(u64::from_be_bytes)
    }

    fn bytes(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let len = u32::from_be_bytes(self.take::<4>()?);
        let len = usize::try_from(len).map_err(|_| Error::SavedStateInvalid)?;
        let (head, rest) = self
            .0
            .split_at_checked(len)
            .ok_or(Error::SavedStateInvalid)?;
        self.0 = rest;
        Ok(Zeroizing::new(head.to_vec()))
    }

    fn hash(&mut self) -> Result<HashState> {
        let alg = HashAlg::from_digest_mech(self.u64()?).ok_or(Error::SavedStateInvalid)?;
        Ok(HashState {
            alg,
            bytes: self.bytes()?,
        })
    }

    fn sig(&mut self) -> Result<SavedSig> {
        let mech = self.u64()?;
        let param = match self.u8()? {
            0 => None,
            1 => Some(self.bytes()?.to_vec()),
            _ => return Err(Error::SavedStateInvalid),
        };
        let key_id = self.take::<32>()?;
        let input = match self.u8()? {
            TAG_HASH => InputState::Hash(self.hash()?),
            TAG_BUFFER => InputState::Buffer(self.bytes()?),
            _ => return Err(Error::SavedStateInvalid),
        };
        Ok(SavedSig {
            mech,
            param,
            key_id,
            input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Saved> {
        let mut h = HashAlg::Sha256.hasher();
        h.update(b"ab");
        vec![
            Saved {
                op: SavedOp::Digest(h.save().unwrap()),
                updated: true,
            },
            Saved {
                op: SavedOp::Sign(SavedSig {
                    mech: CKM_SHA256_RSA_PKCS_PSS,
                    param: encode_param(&Params::Pss {
                        hash: CKM_SHA256,
                        mgf: CKG_MGF1_SHA256,
                        salt_len: 32,
                    })
                    .unwrap(),
                    key_id: [7; 32],
                    input: InputState::Buffer(Zeroizing::new(b"xyz".to_vec())),
                }),
                updated: false,
            },
        ]
    }

    #[test]
    fn encode_decode_round_trip() {
        let bytes = encode(&sample()).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        let SavedOp::Digest(h) = &back[0].op else {
            panic!("digest expected")
        };
        assert!(back[0].updated);
        let mut d = h.alg.restore(&h.bytes).unwrap();
        d.update(b"c");
        assert_eq!(d.finish(), HashAlg::Sha256.hash(b"abc"));
        let SavedOp::Sign(sig) = &back[1].op else {
            panic!("sign expected")
        };
        assert!(!back[1].updated);
        assert_eq!(sig.key_id, [7; 32]);
        assert!(matches!(&sig.input, InputState::Buffer(b) if b.as_slice() == b"xyz"));
        let m = sig.mechanism().unwrap();
        assert_eq!(m.mech, CKM_SHA256_RSA_PKCS_PSS);
        assert!(matches!(m.params, Params::Pss { salt_len: 32, .. }));
    }

    #[test]
    fn decode_rejects_garbage() {
        let bytes = encode(&sample()).unwrap();
        for cut in [0, 1, 5, bytes.len() - 1] {
            assert_eq!(
                decode(&bytes[..cut]).unwrap_err(),
                Error::SavedStateInvalid,
                "cut at {cut}"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(decode(&longer).unwrap_err(), Error::SavedStateInvalid);
        let mut bad_tag = bytes.to_vec();
        bad_tag[1] = 9;
        assert_eq!(decode(&bad_tag).unwrap_err(), Error::SavedStateInvalid);
        // The same kind twice.
        let digest = || {
            let op = SavedOp::Digest(HashAlg::Sha1.hasher().save().unwrap());
            Saved { op, updated: false }
        };
        let dup = encode(&[digest(), digest()]).unwrap();
        assert_eq!(decode(&dup).unwrap_err(), Error::SavedStateInvalid);
        assert_eq!(decode(&encode(&[digest()]).unwrap()).unwrap().len(), 1);
    }

    #[test]
    fn seal_open_binds_key_and_slot() {
        let key = StateKey::generate().unwrap();
        let blob = seal_state(&key, 3, b"state").unwrap();
        assert_eq!(blob.len(), 1 + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(open_state(&key, 3, &blob).unwrap().as_slice(), b"state");
        let invalid = |r: Result<Zeroizing<Vec<u8>>>| r.unwrap_err() == Error::SavedStateInvalid;
        assert!(invalid(open_state(&key, 4, &blob)));
        let other = StateKey::generate().unwrap();
        assert!(invalid(open_state(&other, 3, &blob)));
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(invalid(open_state(&key, 3, &t)), "byte {i}");
        }
        assert!(invalid(open_state(&key, 3, &[])));
        assert!(invalid(open_state(&key, 3, &blob[..20])));
        assert_eq!(format!("{key:?}"), "StateKey(<redacted>)");
    }

    #[test]
    fn params_encoding() {
        assert_eq!(encode_param(&Params::None).unwrap(), None);
        let mac = encode_param(&Params::MacLen(12)).unwrap().unwrap();
        let m = Mechanism::parse(CKM_SHA256_HMAC_GENERAL, Some(&mac)).unwrap();
        assert_eq!(m.params, Params::MacLen(12));
        assert_eq!(
            encode_param(&Params::Iv(vec![0; 16])).unwrap_err(),
            Error::StateUnsaveable
        );
    }

    fn ec_pair() -> (Arc<Key>, Arc<Key>) {
        let parts = super::super::generate_ec(&super::super::Curve::P256.ec_params()).unwrap();
        let private = Key::ec_private(&parts.ec_params, &parts.private_value).unwrap();
        let public = private.to_public().unwrap();
        (Arc::new(private), Arc::new(public))
    }

    fn mech(m: CK_MECHANISM_TYPE) -> Mechanism {
        Mechanism::parse(m, None).unwrap()
    }

    #[test]
    fn ecdsa_resumes_hashed_and_buffered_input() {
        let (private, public) = ec_pair();
        for (m, first, rest) in [
            (CKM_ECDSA_SHA384, &b"hello "[..], &b"world"[..]),
            (CKM_ECDSA, &[0x11; 16][..], &[0x22; 16][..]),
        ] {
            let mut op = super::super::sign_init(&mech(m), private.clone()).unwrap();
            op.update(first).unwrap();
            let saved = op.save().unwrap();
            assert_eq!(saved.mech, m);
            assert_eq!(saved.key_id, key_id(&public).unwrap());
            let mut resumed = super::super::sign_resume(
                &saved.mechanism().unwrap(),
                private.clone(),
                &saved.input,
            )
            .unwrap();
            resumed.update(rest).unwrap();
            let sig = resumed.finish().unwrap();
            let mut v = super::super::verify_init(&mech(m), public.clone()).unwrap();
            v.update(first).unwrap();
            // A verification saved midway and resumed checks the same.
            let vs = v.save().unwrap();
            let mut v2 = super::super::verify_resume(&mech(m), public.clone(), &vs.input).unwrap();
            v2.update(rest).unwrap();
            assert_eq!(v2.finish(&sig), Ok(()));
        }
    }

    #[test]
    fn resume_refuses_mismatched_input_and_macs() {
        let (private, _) = ec_pair();
        let mut op = super::super::sign_init(&mech(CKM_ECDSA_SHA256), private.clone()).unwrap();
        op.update(b"x").unwrap();
        let hashed = op.save().unwrap().input;
        let sign_resume = |m, input: &InputState| {
            super::super::sign_resume(&mech(m), private.clone(), input).map(|_| ())
        };
        // Another hash, or a buffer where a hash is expected and back.
        assert_eq!(
            sign_resume(CKM_ECDSA_SHA384, &hashed),
            Err(Error::SavedStateInvalid)
        );
        assert_eq!(
            sign_resume(CKM_ECDSA, &hashed),
            Err(Error::SavedStateInvalid)
        );
        let buffered = InputState::Buffer(Zeroizing::new(vec![1, 2]));
        assert_eq!(
            sign_resume(CKM_ECDSA_SHA256, &buffered),
            Err(Error::SavedStateInvalid)
        );
        let bad_hash = InputState::Hash(HashState {
            alg: HashAlg::Sha256,
            bytes: Zeroizing::new(vec![0; 3]),
        });
        assert_eq!(
            sign_resume(CKM_ECDSA_SHA256, &bad_hash),
            Err(Error::SavedStateInvalid)
        );
        let secret = Arc::new(Key::secret(CKK_GENERIC_SECRET, &[1; 32]).unwrap());
        let mut mac = super::super::sign_init(&mech(CKM_SHA256_HMAC), secret.clone()).unwrap();
        mac.update(b"x").unwrap();
        assert_eq!(mac.save().unwrap_err(), Error::StateUnsaveable);
        assert_eq!(
            super::super::sign_resume(&mech(CKM_SHA256_HMAC), secret, &buffered).map(|_| ()),
            Err(Error::SavedStateInvalid)
        );
    }

    #[test]
    fn every_hash_state_round_trips() {
        for alg in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
            HashAlg::Sha3_224,
            HashAlg::Sha3_256,
            HashAlg::Sha3_384,
            HashAlg::Sha3_512,
        ] {
            // Past a block boundary, so both the core and the buffer count.
            let data = [0x61u8; 300];
            let mut h = alg.hasher();
            h.update(&data[..157]);
            let saved = h.save().unwrap();
            assert_eq!(saved.alg, alg);
            let mut back = alg.restore(&saved.bytes).unwrap();
            back.update(&data[157..]);
            assert_eq!(back.finish(), alg.hash(&data), "{alg:?}");
            let short = &saved.bytes[..saved.bytes.len() - 1];
            assert_eq!(alg.restore(short).err(), Some(Error::SavedStateInvalid));
        }
    }

    #[test]
    fn key_ids_follow_the_public_part() {
        let ec = |seed: u8| {
            Key::ec_private(&super::super::Curve::P256.ec_params(), &[seed; 32]).unwrap()
        };
        let a = ec(1);
        let a_pub = a.to_public().unwrap();
        assert_eq!(key_id(&a).unwrap(), key_id(&a_pub).unwrap());
        assert_ne!(key_id(&a).unwrap(), key_id(&ec(2)).unwrap());
        let secret = Key::secret(CKK_GENERIC_SECRET, &[1; 32]).unwrap();
        assert_eq!(key_id(&secret).unwrap_err(), Error::StateUnsaveable);
    }
}
