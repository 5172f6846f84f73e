//! Message-based encryption and decryption (PKCS#11 3.0 §5.10, §5.11) with
//! CKM_AES_GCM: one C_Message*Init for any number of messages, each with its
//! own CK_GCM_MESSAGE_PARAMS (IV, IV generator, tag) and associated data,
//! in one call or as Begin followed by Next calls.
//!
//! Rules kept here, and the choices made where the spec leaves one:
//! - The init takes no mechanism parameter (one given is ignored): the
//!   per-message parameter carries everything.
//! - An error in one message never ends the message-based operation; an
//!   error in a C_*MessageNext ends the multi-part message it belongs to.
//! - Output follows §5.2: a length query or a short buffer takes nothing
//!   (no IV is generated, no counter value used) and ends nothing.
//! - Encryption streams; decryption buffers a multi-part message and
//!   releases plaintext only once the tag has verified.
//! - A generated IV keeps the caller's leading `ulIvFixedBits` bits. The
//!   counter generators count per operation from 0 in the low bits (XORed
//!   into the caller's IV for CKG_GENERATE_COUNTER_XOR) and refuse to wrap
//!   (CKR_FUNCTION_FAILED); CKG_GENERATE is random, like
//!   CKG_GENERATE_RANDOM. CKG_NO_GENERATE uses the caller's IV as is.

use std::sync::Arc;

use cryptoki_sys::*;

use super::{Library, Mech, Out, OutCap};
use crate::error::{Error, Result};
use crate::mechanism::{self, CipherOp, Key, Mechanism, RawParam};
use crate::session::{MessageOp, MessagePart, Session};

/// The longest IV GCM takes here (as for CK_GCM_PARAMS).
const MAX_IV: usize = 256;

/// CK_GCM_MESSAGE_PARAMS as the caller gave it, pointers followed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GcmMessage {
    /// The bytes at `pIv`: the whole IV for CKG_NO_GENERATE and for
    /// decryption, otherwise the fixed leading part (and, for
    /// CKG_GENERATE_COUNTER_XOR, the value the counter is XORed into).
    pub iv: Vec<u8>,
    pub iv_fixed_bits: CK_ULONG,
    pub generator: CK_GENERATOR_FUNCTION,
    pub tag_bits: CK_ULONG,
    /// `pTag`: `None` when NULL. Decryption: the tag bytes read there;
    /// encryption: empty, a place the tag will be written to.
    pub tag: Option<Vec<u8>>,
}

impl GcmMessage {
    /// Checks `ulIvLen` and `ulTagBits` before the ABI layer follows the
    /// pointers: an IV of 1 to 256 bytes, a tag of 96 to 128 bits in whole
    /// bytes. Returns (IV length, tag length) in bytes.
    pub fn lengths(iv_len: CK_ULONG, tag_bits: CK_ULONG) -> Result<(usize, usize)> {
        let bad = Error::MechanismParamInvalid;
        let iv = usize::try_from(iv_len).map_err(|_| bad)?;
        if iv == 0 || iv > MAX_IV || !(96..=128).contains(&tag_bits) || !tag_bits.is_multiple_of(8)
        {
            return Err(bad);
        }
        Ok((iv, usize::try_from(tag_bits / 8).map_err(|_| bad)?))
    }

    fn tag_len(&self) -> Result<usize> {
        let iv_len = CK_ULONG::try_from(self.iv.len()).map_err(|_| Error::MechanismParamInvalid)?;
        Ok(GcmMessage::lengths(iv_len, self.tag_bits)?.1)
    }
}

/// What an encrypting call gives back.
#[derive(PartialEq, Eq, Debug)]
pub struct Sealed {
    /// The ciphertext, or the length it needs (nothing else happened).
    pub out: Out,
    /// A generated IV, to be written through `pIv`.
    pub iv: Option<Vec<u8>>,
    /// The tag, to be written through `pTag` (a message's last call).
    pub tag: Option<Vec<u8>>,
}

impl Sealed {
    fn len(n: usize) -> Sealed {
        Sealed {
            out: Out::Len(n),
            iv: None,
            tag: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Encrypt,
    Decrypt,
}

fn slot(s: &mut Session, dir: Dir) -> &mut Option<MessageOp> {
    match dir {
        Dir::Encrypt => &mut s.message_encrypt,
        Dir::Decrypt => &mut s.message_decrypt,
    }
}

/// The active operation, with no multi-part message in progress (a
/// single-part message or a Begin may not interrupt one).
fn idle(s: &mut Session, dir: Dir) -> Result<&mut MessageOp> {
    let op = slot(s, dir)
        .as_mut()
        .ok_or(Error::OperationNotInitialized)?;
    if op.part.is_some() {
        return Err(Error::OperationActive);
    }
    Ok(op)
}

/// The active operation, in the middle of a multi-part message.
fn in_message(s: &mut Session, dir: Dir) -> Result<&mut MessageOp> {
    slot(s, dir)
        .as_mut()
        .filter(|op| op.part.is_some())
        .ok_or(Error::OperationNotInitialized)
}

/// Runs one step of a multi-part message: an error ends the message (not
/// the operation), as C_*MessageNext requires.
fn part_step<R>(op: &mut MessageOp, f: impl FnOnce(&mut MessageOp) -> Result<R>) -> Result<R> {
    let result = f(op);
    if result.is_err() {
        op.part = None;
    }
    result
}

fn fits(out: OutCap, len: usize) -> bool {
    matches!(out, OutCap::Cap(cap) if cap >= len)
}

/// CKF_END_OF_MESSAGE or nothing.
fn end_of_message(flags: CK_FLAGS) -> Result<bool> {
    if flags & !CKF_END_OF_MESSAGE != 0 {
        return Err(Error::ArgumentsBad);
    }
    Ok(flags & CKF_END_OF_MESSAGE != 0)
}

/// A GCM operation for one message.
fn gcm(
    dir: Dir,
    key: &Arc<Key>,
    iv: &[u8],
    aad: &[u8],
    tag_bits: CK_ULONG,
) -> Result<Box<dyn CipherOp>> {
    let raw = RawParam::Gcm {
        iv: iv.to_vec(),
        aad: aad.to_vec(),
        tag_bits,
    };
    let m = Mechanism::from_raw(CKM_AES_GCM, &raw)?;
    match dir {
        Dir::Encrypt => mechanism::encrypt_init(&m, Arc::clone(key)),
        Dir::Decrypt => mechanism::decrypt_init(&m, Arc::clone(key)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IvGen {
    Given,
    Random,
    Counter,
    CounterXor,
}

/// The generator a parameter asks for, and how many low IV bits it fills.
fn iv_generator(p: &GcmMessage) -> Result<(IvGen, u64)> {
    let bad = Error::MechanismParamInvalid;
    let kind = match p.generator {
        CKG_NO_GENERATE => return Ok((IvGen::Given, 0)),
        CKG_GENERATE | CKG_GENERATE_RANDOM => IvGen::Random,
        CKG_GENERATE_COUNTER => IvGen::Counter,
        CKG_GENERATE_COUNTER_XOR => IvGen::CounterXor,
        _ => return Err(bad),
    };
    let total = u64::try_from(p.iv.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(bad)?;
    // No bit left to generate would repeat the caller's IV forever.
    let free = total
        .checked_sub(p.iv_fixed_bits)
        .filter(|&f| f > 0)
        .ok_or(bad)?;
    Ok((kind, free))
}

/// `fixed` bits from the top of `caller`, the rest from `fresh`.
fn merge(caller: &[u8], fresh: &[u8], fixed: u64) -> Vec<u8> {
    let mut left = fixed;
    caller
        .iter()
        .zip(fresh)
        .map(|(c, f)| {
            let k = left.min(8);
            left -= k;
            let mask = if k == 0 { 0 } else { 0xffu8 << (8 - k) };
            (c & mask) | (f & !mask)
        })
        .collect()
}

/// The IV of the next encrypted message: `None` when the caller's is used
/// as is. A counter value is used up here, before the message is
/// encrypted, so an IV is never given out twice even if that fails.
fn next_iv(p: &GcmMessage, counter: &mut u64) -> Result<Option<Vec<u8>>> {
    let (kind, free) = iv_generator(p)?;
    let mut fresh = vec![0u8; p.iv.len()];
    match kind {
        IvGen::Given => return Ok(None),
        IvGen::Random => mechanism::random(&mut fresh)?,
        IvGen::Counter | IvGen::CounterXor => {
            let n = *counter;
            if free < 64 && n >> free != 0 {
                return Err(Error::FunctionFailed);
            }
            *counter = n.checked_add(1).ok_or(Error::FunctionFailed)?;
            // Big-endian in the low bytes; the check above makes sure no
            // set bit of `n` falls outside the IV.
            for (d, s) in fresh.iter_mut().rev().zip(n.to_be_bytes().iter().rev()) {
                *d = *s;
            }
            if kind == IvGen::CounterXor {
                for (d, c) in fresh.iter_mut().zip(&p.iv) {
                    *d ^= c;
                }
            }
        }
    }
    Ok(Some(merge(&p.iv, &fresh, p.iv_fixed_bits)))
}

/// Everything about an encryption parameter that can be wrong, checked
/// before the length protocol so a query answers for a usable parameter.
fn check_encrypt(p: &GcmMessage) -> Result<()> {
    p.tag_len()?;
    iv_generator(p)?;
    if p.tag.is_none() {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(())
}

/// A decryption tag of the length the parameter announces.
fn decrypt_tag(tag: Option<&Vec<u8>>, tag_len: usize) -> Result<&[u8]> {
    tag.map(Vec::as_slice)
        .filter(|t| t.len() == tag_len)
        .ok_or(Error::MechanismParamInvalid)
}

impl Library {
    fn message_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
        dir: Dir,
    ) -> Result<()> {
        self.with_session(h, |s, token| {
            let Some(mech) = mech else {
                *slot(s, dir) = None;
                return Ok(());
            };
            if slot(s, dir).is_some() {
                return Err(Error::OperationActive);
            }
            let (usage, flag) = match dir {
                Dir::Encrypt => (CKA_ENCRYPT, CKF_MESSAGE_ENCRYPT),
                Dir::Decrypt => (CKA_DECRYPT, CKF_MESSAGE_DECRYPT),
            };
            // Secret keys have no CKA_ALWAYS_AUTHENTICATE: no context login.
            let (_, key) = self.use_key(s, token, key, usage, mech.ty)?;
            if mech.ty != CKM_AES_GCM || mechanism::info(mech.ty)?.flags & flag == 0 {
                return Err(Error::MechanismInvalid);
            }
            // The key is judged now, as C_EncryptInit would, rather than
            // at the first message.
            gcm(dir, &key, &[0; 12], &[], 128)?;
            *slot(s, dir) = Some(MessageOp::new(mech.ty, key));
            Ok(())
        })
    }

    fn message_final(&self, h: CK_SESSION_HANDLE, dir: Dir) -> Result<()> {
        self.with_session(h, |s, _| {
            slot(s, dir)
                .take()
                .map(drop)
                .ok_or(Error::OperationNotInitialized)
        })
    }

    /// Ends the multi-part message in progress, if any, for a
    /// C_*MessageNext whose arguments could not even be read (the spec
    /// ends the message on any error but a short buffer).
    fn message_abandon(&self, h: CK_SESSION_HANDLE, dir: Dir) {
        // An invalid session has no message to end.
        let _ = self.with_session(h, |s, _| {
            if let Some(op) = slot(s, dir).as_mut() {
                op.part = None;
            }
            Ok(())
        });
    }

    /// C_MessageEncryptInit; a NULL mechanism cancels.
    pub fn message_encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.message_init(h, mech, key, Dir::Encrypt)
    }

    /// C_EncryptMessage: one message with the length protocol.
    pub fn encrypt_message(
        &self,
        h: CK_SESSION_HANDLE,
        p: &GcmMessage,
        aad: &[u8],
        plain: &[u8],
        out: OutCap,
    ) -> Result<Sealed> {
        self.with_session(h, |s, _| {
            let op = idle(s, Dir::Encrypt)?;
            check_encrypt(p)?;
            if !fits(out, plain.len()) {
                return Ok(Sealed::len(plain.len()));
            }
            let iv = next_iv(p, &mut op.counter)?;
            let mut g = gcm(
                Dir::Encrypt,
                &op.key,
                iv.as_deref().unwrap_or(&p.iv),
                aad,
                p.tag_bits,
            )?;
            let data = g.update(plain)?;
            let tag = g.finish()?;
            Ok(Sealed {
                out: Out::Data(data),
                iv,
                tag: Some(tag),
            })
        })
    }

    /// C_EncryptMessageBegin: returns a generated IV for `pIv`.
    pub fn encrypt_message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        p: &GcmMessage,
        aad: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        self.with_session(h, |s, _| {
            let op = idle(s, Dir::Encrypt)?;
            // The tag comes with the last C_EncryptMessageNext.
            p.tag_len()?;
            let iv = next_iv(p, &mut op.counter)?;
            let g = gcm(
                Dir::Encrypt,
                &op.key,
                iv.as_deref().unwrap_or(&p.iv),
                aad,
                p.tag_bits,
            )?;
            op.part = Some(MessagePart {
                op: g,
                tag_bits: p.tag_bits,
                tag: None,
                len: 0,
            });
            Ok(iv)
        })
    }

    /// C_EncryptMessageNext: a part with the length protocol; with
    /// CKF_END_OF_MESSAGE also the tag, for `pTag` of this call's
    /// parameter (which must then be given, with the tag length of Begin).
    pub fn encrypt_message_next(
        &self,
        h: CK_SESSION_HANDLE,
        p: Option<&GcmMessage>,
        part: &[u8],
        out: OutCap,
        flags: CK_FLAGS,
    ) -> Result<Sealed> {
        self.with_session(h, |s, _| {
            part_step(in_message(s, Dir::Encrypt)?, |op| {
                let end = end_of_message(flags)?;
                let msg = op.part.as_mut().ok_or(Error::OperationNotInitialized)?;
                if end {
                    let p = p.ok_or(Error::ArgumentsBad)?;
                    if p.tag_bits != msg.tag_bits || p.tag.is_none() {
                        return Err(Error::MechanismParamInvalid);
                    }
                }
                if !fits(out, part.len()) {
                    return Ok(Sealed::len(part.len()));
                }
                let data = msg.op.update(part)?;
                msg.len = msg.len.checked_add(part.len()).ok_or(Error::DataLenRange)?;
                let tag = if end {
                    let tag = msg.op.finish()?;
                    op.part = None;
                    Some(tag)
                } else {
                    None
                };
                Ok(Sealed {
                    out: Out::Data(data),
                    iv: None,
                    tag,
                })
            })
        })
    }

    /// C_MessageEncryptFinal.
    pub fn message_encrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.message_final(h, Dir::Encrypt)
    }

    /// Ends the multi-part message being encrypted, if any.
    pub fn encrypt_message_abandon(&self, h: CK_SESSION_HANDLE) {
        self.message_abandon(h, Dir::Encrypt);
    }

    /// C_MessageDecryptInit; a NULL mechanism cancels.
    pub fn message_decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: Option<&Mech>,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.message_init(h, mech, key, Dir::Decrypt)
    }

    /// C_DecryptMessage: one message with the length protocol. A tag that
    /// does not verify is CKR_AEAD_DECRYPT_FAILED, and no plaintext comes
    /// out.
    pub fn decrypt_message(
        &self,
        h: CK_SESSION_HANDLE,
        p: &GcmMessage,
        aad: &[u8],
        cipher: &[u8],
        out: OutCap,
    ) -> Result<Out> {
        self.with_session(h, |s, _| {
            let op = idle(s, Dir::Decrypt)?;
            let tag = decrypt_tag(p.tag.as_ref(), p.tag_len()?)?;
            if !fits(out, cipher.len()) {
                return Ok(Out::Len(cipher.len()));
            }
            let mut g = gcm(Dir::Decrypt, &op.key, &p.iv, aad, p.tag_bits)?;
            g.update(cipher)?;
            g.update(tag)?;
            Ok(Out::Data(g.finish().map_err(aead_failure)?))
        })
    }

    /// C_DecryptMessageBegin. `pTag` may be read here or given to the
    /// last C_DecryptMessageNext.
    pub fn decrypt_message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        p: &GcmMessage,
        aad: &[u8],
    ) -> Result<()> {
        self.with_session(h, |s, _| {
            let op = idle(s, Dir::Decrypt)?;
            p.tag_len()?;
            let g = gcm(Dir::Decrypt, &op.key, &p.iv, aad, p.tag_bits)?;
            op.part = Some(MessagePart {
                op: g,
                tag_bits: p.tag_bits,
                tag: p.tag.clone(),
                len: 0,
            });
            Ok(())
        })
    }

    /// C_DecryptMessageNext: parts are kept until CKF_END_OF_MESSAGE, when
    /// the tag (from this call's parameter, else from Begin's) is checked
    /// and the whole plaintext released, with the length protocol.
    pub fn decrypt_message_next(
        &self,
        h: CK_SESSION_HANDLE,
        p: Option<&GcmMessage>,
        part: &[u8],
        out: OutCap,
        flags: CK_FLAGS,
    ) -> Result<Out> {
        self.with_session(h, |s, _| {
            part_step(in_message(s, Dir::Decrypt)?, |op| {
                let end = end_of_message(flags)?;
                let msg = op.part.as_mut().ok_or(Error::OperationNotInitialized)?;
                let total = msg.len.checked_add(part.len());
                let total = total.ok_or(Error::EncryptedDataLenRange)?;
                if !end {
                    if !fits(out, 0) {
                        return Ok(Out::Len(0));
                    }
                    msg.op.update(part)?;
                    msg.len = total;
                    return Ok(Out::Data(Vec::new()));
                }
                let tag_len = usize::try_from(msg.tag_bits / 8).map_err(|_| Error::GeneralError)?;
                let given = p.and_then(|p| p.tag.as_ref());
                if p.is_some_and(|p| p.tag_bits != msg.tag_bits) {
                    return Err(Error::MechanismParamInvalid);
                }
                let tag = decrypt_tag(given.or(msg.tag.as_ref()), tag_len)?.to_vec();
                if !fits(out, total) {
                    return Ok(Out::Len(total));
                }
                msg.op.update(part)?;
                msg.op.update(&tag)?;
                let plain = msg.op.finish().map_err(aead_failure);
                op.part = None;
                Ok(Out::Data(plain?))
            })
        })
    }

    /// C_MessageDecryptFinal.
    pub fn message_decrypt_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.message_final(h, Dir::Decrypt)
    }

    /// Ends the multi-part message being decrypted, if any.
    pub fn decrypt_message_abandon(&self, h: CK_SESSION_HANDLE) {
        self.message_abandon(h, Dir::Decrypt);
    }
}

/// The message-based API reports a tag that does not verify as
/// CKR_AEAD_DECRYPT_FAILED (PKCS#11 3.0 §5.11), where C_Decrypt says
/// CKR_ENCRYPTED_DATA_INVALID.
fn aead_failure(e: Error) -> Error {
    match e {
        Error::EncryptedDataInvalid => Error::AeadDecryptFailed,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Attr;
    use crate::config::Config;

    fn param(iv: &[u8], fixed: CK_ULONG, generator: CK_GENERATOR_FUNCTION) -> GcmMessage {
        GcmMessage {
            iv: iv.to_vec(),
            iv_fixed_bits: fixed,
            generator,
            tag_bits: 128,
            tag: Some(Vec::new()),
        }
    }

    #[test]
    fn lengths_follow_the_gcm_rules() {
        assert_eq!(GcmMessage::lengths(12, 128), Ok((12, 16)));
        assert_eq!(GcmMessage::lengths(256, 96), Ok((256, 12)));
        for (iv, bits) in [(0, 128), (257, 128), (12, 88), (12, 136), (12, 100)] {
            assert_eq!(
                GcmMessage::lengths(iv, bits),
                Err(Error::MechanismParamInvalid),
                "{iv} {bits}"
            );
        }
    }

    #[test]
    fn counter_keeps_the_fixed_part_and_counts() {
        let mut counter = 0;
        let p = param(&[0xab; 12], 32, CKG_GENERATE_COUNTER);
        let first = next_iv(&p, &mut counter).unwrap().unwrap();
        let second = next_iv(&p, &mut counter).unwrap().unwrap();
        assert_eq!(first, [[0xab; 4].as_slice(), &[0; 8]].concat());
        assert_eq!(second, [[0xab; 4].as_slice(), &[0; 7], &[1]].concat());
        assert_eq!(counter, 2);
        // A fixed part that ends inside a byte keeps only its own bits.
        let p = param(&[0xff; 12], 4, CKG_GENERATE_COUNTER);
        let iv = next_iv(&p, &mut counter).unwrap().unwrap();
        assert_eq!(iv, [[0xf0].as_slice(), &[0; 10], &[2]].concat());
        // XOR: the counter goes into the caller's free bits.
        let p = param(&[0x0f; 12], 32, CKG_GENERATE_COUNTER_XOR);
        let iv = next_iv(&p, &mut counter).unwrap().unwrap();
        assert_eq!(iv, [[0x0f; 11].as_slice(), &[0x0f ^ 3]].concat());
    }

    #[test]
    fn counter_never_wraps() {
        // 8 free bits: 256 IVs, then refused.
        let p = param(&[0x11; 12], 88, CKG_GENERATE_COUNTER);
        let mut counter = 255;
        let last = next_iv(&p, &mut counter).unwrap().unwrap();
        assert_eq!(last[11], 0xff);
        assert_eq!(next_iv(&p, &mut counter), Err(Error::FunctionFailed));
        assert_eq!(counter, 256);
    }

    #[test]
    fn random_keeps_the_fixed_part() {
        let mut counter = 0;
        let p = param(&[0x5a; 16], 64, CKG_GENERATE_RANDOM);
        let a = next_iv(&p, &mut counter).unwrap().unwrap();
        let b = next_iv(&p, &mut counter).unwrap().unwrap();
        assert_eq!(&a[..8], &[0x5a; 8]);
        assert_eq!(&b[..8], &[0x5a; 8]);
        assert_ne!(a[8..], b[8..]);
        assert_eq!(counter, 0);
        let p = param(&[0x5a; 12], 0, CKG_GENERATE);
        assert_eq!(next_iv(&p, &mut counter).unwrap().unwrap().len(), 12);
        // The caller's IV as is.
        let p = param(&[1; 12], 96, CKG_NO_GENERATE);
        assert_eq!(next_iv(&p, &mut counter), Ok(None));
    }

    #[test]
    fn generator_parameters_are_checked() {
        let mut counter = 0;
        for p in [
            param(&[1; 12], 96, CKG_GENERATE_RANDOM),
            param(&[1; 12], 97, CKG_GENERATE_COUNTER),
            param(&[1; 12], 0, 99),
        ] {
            assert_eq!(next_iv(&p, &mut counter), Err(Error::MechanismParamInvalid));
            assert_eq!(check_encrypt(&p), Err(Error::MechanismParamInvalid));
        }
        let mut no_tag = param(&[1; 12], 0, CKG_GENERATE_RANDOM);
        no_tag.tag = None;
        assert_eq!(check_encrypt(&no_tag), Err(Error::MechanismParamInvalid));
        assert_eq!(counter, 0);
    }

    /// A library on a fresh store, a logged-in session and an AES key.
    fn setup(dir: &std::path::Path) -> (Library, CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
        let config = Config::build(Some("pin_kdf_iterations = 1000"), Some(dir.into())).unwrap();
        let lib = Library::new(config).unwrap();
        lib.init_token(0, b"so-pin-1", &[b' '; 32]).unwrap();
        let h = lib
            .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
            .unwrap();
        lib.login(h, CKU_SO, b"so-pin-1").unwrap();
        lib.init_pin(h, b"user-pin-1").unwrap();
        lib.logout(h).unwrap();
        lib.login(h, CKU_USER, b"user-pin-1").unwrap();
        // CKA_ENCRYPT and CKA_DECRYPT default to true.
        let attrs = [
            (CKA_CLASS, CKO_SECRET_KEY.to_ne_bytes().to_vec()),
            (CKA_KEY_TYPE, CKK_AES.to_ne_bytes().to_vec()),
            (CKA_VALUE, vec![0x42; 16]),
        ]
        .map(|(ty, value)| Attr { ty, value });
        let key = lib.create_object(h, &attrs).unwrap();
        (lib, h, key)
    }

    fn gcm_mech() -> Mech {
        Mech {
            ty: CKM_AES_GCM,
            param: RawParam::None,
        }
    }

    #[test]
    fn facade_round_trip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let (lib, h, key) = setup(dir.path());
        lib.message_encrypt_init(h, Some(&gcm_mech()), key).unwrap();
        let p = param(&[7; 12], 32, CKG_GENERATE_COUNTER);
        let out = OutCap::Cap(64);
        assert_eq!(
            lib.encrypt_message(h, &p, b"a", b"hello", OutCap::Query),
            Ok(Sealed::len(5))
        );
        let sealed = lib.encrypt_message(h, &p, b"a", b"hello", out).unwrap();
        let (Out::Data(ct), Some(iv), Some(tag)) = (sealed.out, sealed.iv, sealed.tag) else {
            panic!("no ciphertext, IV or tag");
        };
        // The query above used no counter value.
        assert_eq!(iv, [[7; 4].as_slice(), &[0; 8]].concat());
        let mut q = param(&iv, 0, CKG_NO_GENERATE);
        q.tag = Some(tag.clone());
        lib.message_decrypt_init(h, Some(&gcm_mech()), key).unwrap();
        let plain = lib.decrypt_message(h, &q, b"a", &ct, out).unwrap();
        assert_eq!(plain, Out::Data(b"hello".to_vec()));
        assert_eq!(
            lib.decrypt_message(h, &q, b"b", &ct, out),
            Err(Error::AeadDecryptFailed)
        );
        // Still active after a failed message.
        assert!(lib.decrypt_message(h, &q, b"a", &ct, out).is_ok());
        lib.message_decrypt_final(h).unwrap();
        assert_eq!(
            lib.message_decrypt_final(h),
            Err(Error::OperationNotInitialized)
        );
    }

    #[test]
    fn facade_multi_part_matches_single_part() {
        let dir = tempfile::tempdir().unwrap();
        let (lib, h, key) = setup(dir.path());
        lib.message_encrypt_init(h, Some(&gcm_mech()), key).unwrap();
        let p = param(&[9; 12], 96, CKG_NO_GENERATE);
        let data = [0x42u8; 40];
        let one = lib
            .encrypt_message(h, &p, b"x", &data, OutCap::Cap(40))
            .unwrap();
        assert_eq!(lib.encrypt_message_begin(h, &p, b"x"), Ok(None));
        assert_eq!(
            lib.encrypt_message(h, &p, b"x", &data, OutCap::Cap(40)),
            Err(Error::OperationActive)
        );
        let first = lib
            .encrypt_message_next(h, None, &data[..17], OutCap::Cap(17), 0)
            .unwrap();
        let last = lib
            .encrypt_message_next(
                h,
                Some(&p),
                &data[17..],
                OutCap::Cap(23),
                CKF_END_OF_MESSAGE,
            )
            .unwrap();
        let (Out::Data(a), Out::Data(b)) = (first.out, last.out) else {
            panic!("no output");
        };
        assert_eq!(Out::Data([a.clone(), b.clone()].concat()), one.out);
        assert_eq!(last.tag, one.tag);
        // Decrypt in parts, the tag given at Begin.
        lib.message_decrypt_init(h, Some(&gcm_mech()), key).unwrap();
        let mut q = p.clone();
        q.tag = one.tag;
        lib.decrypt_message_begin(h, &q, b"x").unwrap();
        let part = lib.decrypt_message_next(h, None, &a, OutCap::Cap(40), 0);
        assert_eq!(part, Ok(Out::Data(Vec::new())));
        let end = CKF_END_OF_MESSAGE;
        assert_eq!(
            lib.decrypt_message_next(h, None, &b, OutCap::Query, end),
            Ok(Out::Len(40))
        );
        let plain = lib.decrypt_message_next(h, None, &b, OutCap::Cap(40), end);
        assert_eq!(plain, Ok(Out::Data(data.to_vec())));
        assert_eq!(
            lib.decrypt_message_next(h, None, &b, OutCap::Cap(40), end),
            Err(Error::OperationNotInitialized)
        );
    }

    #[test]
    fn init_rules() {
        let dir = tempfile::tempdir().unwrap();
        let (lib, h, key) = setup(dir.path());
        let ecb = Mech {
            ty: CKM_AES_ECB,
            param: RawParam::None,
        };
        assert_eq!(
            lib.message_encrypt_init(h, Some(&ecb), key),
            Err(Error::MechanismInvalid)
        );
        lib.message_encrypt_init(h, Some(&gcm_mech()), key).unwrap();
        assert_eq!(
            lib.message_encrypt_init(h, Some(&gcm_mech()), key),
            Err(Error::OperationActive)
        );
        lib.message_encrypt_init(h, None, key).unwrap();
        assert_eq!(
            lib.message_encrypt_final(h),
            Err(Error::OperationNotInitialized)
        );
        let p = param(&[1; 12], 0, CKG_GENERATE_RANDOM);
        assert_eq!(
            lib.encrypt_message_next(h, Some(&p), b"", OutCap::Cap(0), 0),
            Err(Error::OperationNotInitialized)
        );
    }
}
