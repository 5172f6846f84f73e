//! Message-based AES-GCM (PKCS#11 3.0 §5.10, §5.11) through the raw C ABI:
//! generated IVs and tags written back through CK_GCM_MESSAGE_PARAMS, the
//! McGrew–Viega test case 4 with a caller IV, CKR_AEAD_DECRYPT_FAILED for a
//! bad tag, the output-length protocol, operation codes, cancelling, IV
//! counters and multi-part messages.

#[macro_use]
mod common;

use std::ffi::c_void;
use std::ptr;

use common::ops::*;
use common::raw::*;
use common::{TestEnv, unhex};
use cryptoki_sys::*;

/// McGrew–Viega "The GCM mode of operation", test case 4.
const KEY: &str = "feffe9928665731c6d6a8f9467308308";
const IV: &str = "cafebabefacedbaddecaf888";
const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const PLAIN: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                     1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const CIPHER: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                      21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

const PARAM_SIZE: CK_ULONG = std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;

/// A CK_GCM_MESSAGE_PARAMS owning its IV and tag buffers.
struct Param {
    iv: Vec<u8>,
    tag: Vec<u8>,
    fixed_bits: CK_ULONG,
    generator: CK_GENERATOR_FUNCTION,
    tag_bits: CK_ULONG,
    /// Pass `pTag` as NULL.
    null_tag: bool,
    raw: CK_GCM_MESSAGE_PARAMS,
}

impl Param {
    fn new(iv: &[u8], fixed_bits: CK_ULONG, generator: CK_GENERATOR_FUNCTION) -> Self {
        Param {
            iv: iv.to_vec(),
            tag: vec![0; 16],
            fixed_bits,
            generator,
            tag_bits: 128,
            null_tag: false,
            raw: CK_GCM_MESSAGE_PARAMS {
                pIv: ptr::null_mut(),
                ulIvLen: 0,
                ulIvFixedBits: 0,
                ivGenerator: 0,
                pTag: ptr::null_mut(),
                ulTagBits: 0,
            },
        }
    }

    /// The caller's IV used as is.
    fn given(iv: &[u8]) -> Self {
        Param::new(iv, 0, CKG_NO_GENERATE)
    }

    fn tag_bits(mut self, bits: CK_ULONG) -> Self {
        self.tag_bits = bits;
        self.tag = vec![0; usize_of(bits / 8)];
        self
    }

    fn with_tag(mut self, tag: &[u8]) -> Self {
        self.tag = tag.to_vec();
        self.tag_bits = ulong(tag.len() * 8);
        self
    }

    /// (pParameter, ulParameterLen), the structure pointing at our buffers.
    fn ptr(&mut self) -> (*mut c_void, CK_ULONG) {
        self.raw = CK_GCM_MESSAGE_PARAMS {
            pIv: self.iv.as_mut_ptr(),
            ulIvLen: ulong(self.iv.len()),
            ulIvFixedBits: self.fixed_bits,
            ivGenerator: self.generator,
            pTag: if self.null_tag {
                ptr::null_mut()
            } else {
                self.tag.as_mut_ptr()
            },
            ulTagBits: self.tag_bits,
        };
        ((&raw mut self.raw).cast(), PARAM_SIZE)
    }
}

fn rv(r: CK_RV) -> Rv<()> {
    if r == CKR_OK { Ok(()) } else { Err(r) }
}

fn message_encrypt_init(s: &Sess, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
    let mut ck = m.ck();
    rv(ck!(s.f, C_MessageEncryptInit(s.h, &mut ck, k)))
}

fn message_decrypt_init(s: &Sess, m: &Mech, k: CK_OBJECT_HANDLE) -> Rv<()> {
    let mut ck = m.ck();
    rv(ck!(s.f, C_MessageDecryptInit(s.h, &mut ck, k)))
}

fn gcm() -> Mech {
    Mech::new(CKM_AES_GCM)
}

/// C_EncryptMessage with an output buffer of `cap` bytes (None: NULL).
/// Returns the code, the length written to *pulCiphertextLen and the
/// buffer.
fn encrypt_raw(
    s: &Sess,
    p: &mut Param,
    aad: &[u8],
    plain: &[u8],
    cap: Option<usize>,
) -> (CK_RV, usize, Vec<u8>) {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    let mut d = plain.to_vec();
    let mut out = vec![0xeeu8; cap.unwrap_or(0)];
    let mut n = ulong(out.len());
    let o = if cap.is_some() {
        out.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let r = ck!(
        s.f,
        C_EncryptMessage(
            s.h,
            pp,
            pl,
            a.as_mut_ptr(),
            ulong(a.len()),
            d.as_mut_ptr(),
            ulong(d.len()),
            o,
            &mut n
        )
    );
    (r, usize_of(n), out)
}

fn encrypt_message(s: &Sess, p: &mut Param, aad: &[u8], plain: &[u8]) -> Rv<Vec<u8>> {
    let (r, n, mut out) = encrypt_raw(s, p, aad, plain, Some(plain.len() + 64));
    rv(r)?;
    out.truncate(n);
    Ok(out)
}

fn decrypt_raw(
    s: &Sess,
    p: &mut Param,
    aad: &[u8],
    cipher: &[u8],
    cap: Option<usize>,
) -> (CK_RV, usize, Vec<u8>) {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    let mut d = cipher.to_vec();
    let mut out = vec![0xeeu8; cap.unwrap_or(0)];
    let mut n = ulong(out.len());
    let o = if cap.is_some() {
        out.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let r = ck!(
        s.f,
        C_DecryptMessage(
            s.h,
            pp,
            pl,
            a.as_mut_ptr(),
            ulong(a.len()),
            d.as_mut_ptr(),
            ulong(d.len()),
            o,
            &mut n
        )
    );
    (r, usize_of(n), out)
}

fn decrypt_message(s: &Sess, p: &mut Param, aad: &[u8], cipher: &[u8]) -> Rv<Vec<u8>> {
    let (r, n, mut out) = decrypt_raw(s, p, aad, cipher, Some(cipher.len() + 64));
    rv(r)?;
    out.truncate(n);
    Ok(out)
}

fn encrypt_begin(s: &Sess, p: &mut Param, aad: &[u8]) -> Rv<()> {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    rv(ck!(
        s.f,
        C_EncryptMessageBegin(s.h, pp, pl, a.as_mut_ptr(), ulong(a.len()))
    ))
}

fn decrypt_begin(s: &Sess, p: &mut Param, aad: &[u8]) -> Rv<()> {
    let (pp, pl) = p.ptr();
    let mut a = aad.to_vec();
    rv(ck!(
        s.f,
        C_DecryptMessageBegin(s.h, pp, pl, a.as_mut_ptr(), ulong(a.len()))
    ))
}

/// C_EncryptMessageNext with a large buffer; `p` None passes NULL.
fn encrypt_next(s: &Sess, p: Option<&mut Param>, part: &[u8], flags: CK_FLAGS) -> Rv<Vec<u8>> {
    let (pp, pl) = p.map_or((ptr::null_mut(), 0), Param::ptr);
    let mut d = part.to_vec();
    let mut out = vec![0u8; part.len() + 64];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_EncryptMessageNext(
            s.h,
            pp,
            pl,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n,
            flags
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

fn decrypt_next(s: &Sess, p: Option<&mut Param>, part: &[u8], flags: CK_FLAGS) -> Rv<Vec<u8>> {
    let (pp, pl) = p.map_or((ptr::null_mut(), 0), Param::ptr);
    let mut d = part.to_vec();
    let mut out = vec![0u8; 1024];
    let mut n = ulong(out.len());
    rv(ck!(
        s.f,
        C_DecryptMessageNext(
            s.h,
            pp,
            pl,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n,
            flags
        )
    ))?;
    out.truncate(usize_of(n));
    Ok(out)
}

fn encrypt_final(s: &Sess) -> Rv<()> {
    rv(ck!(s.f, C_MessageEncryptFinal(s.h)))
}

fn decrypt_final(s: &Sess) -> Rv<()> {
    rv(ck!(s.f, C_MessageDecryptFinal(s.h)))
}

/// A fresh store, the module initialized, a user session and the test
/// case 4 key. Bind all four: they drop in the right order.
fn setup() -> (TestEnv, Init, Sess, CK_OBJECT_HANDLE) {
    let env = TestEnv::new();
    let init = Init::new();
    let s = Sess::new(init.f, user_session(init.f));
    let k = ok(s.create(aes_crypt(&unhex(KEY))), "import AES key");
    (env, init, s, k)
}

#[test]
fn gcm_claims_the_message_functions() {
    let (_env, _init, s, _k) = setup();
    let info = ok(s.mechanism_info(0, CKM_AES_GCM), "C_GetMechanismInfo");
    let both = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
    assert_eq!(info.flags & both, both, "flags {:#x}", info.flags);
    let ecb = ok(s.mechanism_info(0, CKM_AES_ECB), "C_GetMechanismInfo");
    assert_eq!(ecb.flags & both, 0);
}

#[test]
fn round_trip_with_generated_iv_in_another_session() {
    let (_env, init, s, k) = setup();
    let other = Sess::new(init.f, open_session(init.f, true));
    let plain = b"message-based encryption".to_vec();
    let aad = b"header";
    ok(message_encrypt_init(&s, &gcm(), k), "C_MessageEncryptInit");
    ok(
        message_decrypt_init(&other, &gcm(), k),
        "C_MessageDecryptInit",
    );
    for generator in [CKG_GENERATE_RANDOM, CKG_GENERATE, CKG_GENERATE_COUNTER] {
        let fixed = [0xa5, 0x5a, 0xc3, 0x3c];
        let mut p = Param::new(&[fixed.as_slice(), &[0xff; 8]].concat(), 32, generator);
        let ct = ok(encrypt_message(&s, &mut p, aad, &plain), "C_EncryptMessage");
        assert_eq!(ct.len(), plain.len());
        assert_ne!(ct, plain);
        // The token wrote the IV it used, keeping the fixed part, and the tag.
        assert_eq!(p.iv[..4], fixed, "generator {generator}");
        assert_ne!(p.iv[4..], [0xff; 8], "generator {generator}");
        assert_ne!(p.tag, vec![0; 16]);
        let mut q = Param::given(&p.iv).with_tag(&p.tag);
        let back = ok(decrypt_message(&other, &mut q, aad, &ct), "decrypt");
        assert_eq!(back, plain);
        // The ordinary C_Decrypt agrees: the IV and tag are the real ones.
        let single = Mech::gcm(&p.iv, aad, 128);
        let joined = [ct.clone(), p.tag.clone()].concat();
        assert_eq!(
            ok(other.decrypt_once(&single, k, &joined), "C_Decrypt"),
            plain
        );
    }
    ok(encrypt_final(&s), "C_MessageEncryptFinal");
    ok(decrypt_final(&other), "C_MessageDecryptFinal");
}

#[test]
fn known_answer_with_caller_iv() {
    let (_env, _init, s, k) = setup();
    let (iv, aad, plain) = (unhex(IV), unhex(AAD), unhex(PLAIN));
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    let mut p = Param::given(&iv);
    let ct = ok(encrypt_message(&s, &mut p, &aad, &plain), "encrypt");
    assert_eq!(ct, unhex(CIPHER));
    assert_eq!(p.tag, unhex(TAG));
    assert_eq!(p.iv, iv, "CKG_NO_GENERATE leaves the IV alone");
    // A 96-bit tag is the leftmost 12 bytes.
    let mut p = Param::given(&iv).tag_bits(96);
    assert_eq!(ok(encrypt_message(&s, &mut p, &aad, &plain), "96"), ct);
    assert_eq!(p.tag, unhex(TAG)[..12]);
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    let mut q = Param::given(&iv).with_tag(&unhex(TAG));
    assert_eq!(ok(decrypt_message(&s, &mut q, &aad, &ct), "decrypt"), plain);
}

#[test]
fn bad_tag_is_aead_decrypt_failed() {
    let (_env, _init, s, k) = setup();
    let (iv, aad, ct, tag) = (unhex(IV), unhex(AAD), unhex(CIPHER), unhex(TAG));
    ok(message_decrypt_init(&s, &gcm(), k), "init");
    let mut bad_tag = tag.clone();
    bad_tag[15] ^= 1;
    let mut bad_ct = ct.clone();
    bad_ct[0] ^= 0x80;
    let cases = [
        ("tag", bad_tag, aad.as_slice(), ct.as_slice()),
        ("ciphertext", tag.clone(), aad.as_slice(), bad_ct.as_slice()),
        (
            "associated data",
            tag.clone(),
            b"other".as_slice(),
            ct.as_slice(),
        ),
    ];
    for (what, t, a, c) in cases {
        let mut q = Param::given(&iv).with_tag(&t);
        let (r, _, out) = decrypt_raw(&s, &mut q, a, c, Some(c.len()));
        assert_rv!(r, CKR_AEAD_DECRYPT_FAILED, "tampered {what}");
        assert!(out.iter().all(|&b| b == 0xee), "{what}: plaintext released");
    }
    // The message-based operation survives a failed message.
    let mut q = Param::given(&iv).with_tag(&tag);
    assert_eq!(
        ok(decrypt_message(&s, &mut q, &aad, &ct), "good"),
        unhex(PLAIN)
    );
}

#[test]
fn length_protocol_writes_nothing_else() {
    let (_env, _init, s, k) = setup();
    let plain = unhex(PLAIN);
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    let start = [[0x77u8; 4].as_slice(), &[0x99; 8]].concat();
    let mut p = Param::new(&start, 32, CKG_GENERATE_COUNTER);
    p.tag = vec![0x55; 16];
    let (r, n, _) = encrypt_raw(&s, &mut p, b"", &plain, None);
    assert_rv!(r, CKR_OK, "length query");
    assert_eq!(n, plain.len());
    let (r, n, out) = encrypt_raw(&s, &mut p, b"", &plain, Some(plain.len() - 1));
    assert_rv!(r, CKR_BUFFER_TOO_SMALL, "short buffer");
    assert_eq!(n, plain.len());
    assert!(out.iter().all(|&b| b == 0xee));
    assert_eq!(
        (p.iv.clone(), p.tag.clone()),
        (start.clone(), vec![0x55; 16])
    );
    // Neither call used a counter value: the first IV has counter 0.
    let (r, n, _) = encrypt_raw(&s, &mut p, b"", &plain, Some(plain.len()));
    assert_rv!(r, CKR_OK, "full call");
    assert_eq!(n, plain.len());
    assert_eq!(p.iv, [[0x77; 4].as_slice(), &[0; 8]].concat());
    let (iv, tag) = (p.iv.clone(), p.tag.clone());
    let ct = ok(
        encrypt_message(&s, &mut Param::given(&iv), b"", &plain),
        "again",
    );
    // Decryption: the same protocol, then the plaintext.
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    let mut q = Param::given(&iv).with_tag(&tag);
    let (r, n, _) = decrypt_raw(&s, &mut q, b"", &ct, None);
    assert_rv!(r, CKR_OK, "decrypt length query");
    assert_eq!(n, plain.len());
    let (r, n, _) = decrypt_raw(&s, &mut q, b"", &ct, Some(3));
    assert_rv!(r, CKR_BUFFER_TOO_SMALL, "decrypt short buffer");
    assert_eq!(n, plain.len());
    let (r, n, out) = decrypt_raw(&s, &mut q, b"", &ct, Some(plain.len()));
    assert_rv!(r, CKR_OK, "decrypt");
    assert_eq!(out[..n], plain);
}

#[test]
fn operation_codes() {
    let (_env, _init, s, k) = setup();
    let plain = b"data";
    let mut p = Param::new(&[1; 12], 0, CKG_GENERATE_RANDOM);
    err(
        encrypt_message(&s, &mut p, b"", plain),
        CKR_OPERATION_NOT_INITIALIZED,
        "no init",
    );
    err(
        encrypt_final(&s),
        CKR_OPERATION_NOT_INITIALIZED,
        "final without init",
    );
    err(
        decrypt_final(&s),
        CKR_OPERATION_NOT_INITIALIZED,
        "decrypt final",
    );
    err(
        message_encrypt_init(&s, &Mech::new(CKM_AES_CBC), k),
        CKR_MECHANISM_INVALID,
        "CBC is not message-based",
    );
    let no_encrypt = ok(
        s.create(secret(CKK_AES, &[3; 16]).bool(CKA_ENCRYPT, false)),
        "import",
    );
    err(
        message_encrypt_init(&s, &gcm(), no_encrypt),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "key without CKA_ENCRYPT",
    );
    // A parameter on the init is ignored.
    ok(
        message_encrypt_init(&s, &Mech::gcm(&[1; 12], b"", 128), k),
        "init",
    );
    err(
        message_encrypt_init(&s, &gcm(), k),
        CKR_OPERATION_ACTIVE,
        "twice",
    );
    // Parameter errors fail the message, not the operation.
    let (r, _, _) = {
        let mut a = Vec::new();
        let mut d = plain.to_vec();
        let mut out = vec![0u8; 64];
        let mut n = ulong(out.len());
        let r = ck!(
            s.f,
            C_EncryptMessage(
                s.h,
                ptr::null_mut(),
                0,
                a.as_mut_ptr(),
                0,
                d.as_mut_ptr(),
                ulong(d.len()),
                out.as_mut_ptr(),
                &mut n
            )
        );
        (r, n, out)
    };
    assert_rv!(r, CKR_ARGUMENTS_BAD, "NULL parameter");
    for (what, mut bad) in [
        (
            "tag of 64 bits",
            Param::new(&[1; 12], 0, CKG_GENERATE_RANDOM).tag_bits(64),
        ),
        (
            "IV all fixed",
            Param::new(&[1; 12], 96, CKG_GENERATE_COUNTER),
        ),
        ("unknown generator", Param::new(&[1; 12], 0, 77)),
        ("empty IV", Param::given(&[])),
    ] {
        err(
            encrypt_message(&s, &mut bad, b"", plain),
            CKR_MECHANISM_PARAM_INVALID,
            what,
        );
    }
    // A tag of 100 bits is not whole bytes.
    let mut odd = Param::new(&[1; 12], 0, CKG_GENERATE_RANDOM);
    odd.tag_bits = 100;
    err(
        encrypt_message(&s, &mut odd, b"", plain),
        CKR_MECHANISM_PARAM_INVALID,
        "100 bits",
    );
    let mut short = Param::new(&[1; 12], 0, CKG_GENERATE_RANDOM);
    let (pp, _) = short.ptr();
    let mut d = plain.to_vec();
    let mut out = vec![0u8; 64];
    let mut n = ulong(out.len());
    let r = ck!(
        s.f,
        C_EncryptMessage(
            s.h,
            pp,
            PARAM_SIZE - 8,
            ptr::null_mut(),
            0,
            d.as_mut_ptr(),
            ulong(d.len()),
            out.as_mut_ptr(),
            &mut n
        )
    );
    assert_rv!(
        r,
        CKR_MECHANISM_PARAM_INVALID,
        "parameter of the wrong size"
    );
    ok(encrypt_message(&s, &mut p, b"", plain), "still active");
    // Next without Begin; a single-part message inside a multi-part one.
    err(
        encrypt_next(&s, None, plain, 0),
        CKR_OPERATION_NOT_INITIALIZED,
        "Next",
    );
    ok(encrypt_begin(&s, &mut p, b""), "Begin");
    err(
        encrypt_message(&s, &mut p, b"", plain),
        CKR_OPERATION_ACTIVE,
        "mid-message",
    );
    err(
        encrypt_begin(&s, &mut p, b""),
        CKR_OPERATION_ACTIVE,
        "Begin twice",
    );
    ok(encrypt_final(&s), "final");
    err(
        encrypt_final(&s),
        CKR_OPERATION_NOT_INITIALIZED,
        "final twice",
    );
    // Decryption: the same operation rules.
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    err(
        message_decrypt_init(&s, &gcm(), k),
        CKR_OPERATION_ACTIVE,
        "decrypt twice",
    );
    let mut short_tag = Param::given(&[1; 12]).tag_bits(64);
    err(
        decrypt_message(&s, &mut short_tag, b"", &[0; 4]),
        CKR_MECHANISM_PARAM_INVALID,
        "64-bit tag",
    );
    // pTag NULL: nowhere to write the tag, nothing to check it against.
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    p.null_tag = true;
    err(
        encrypt_message(&s, &mut p, b"", plain),
        CKR_MECHANISM_PARAM_INVALID,
        "encrypt, NULL pTag",
    );
    let mut q = Param::given(&[1; 12]);
    q.null_tag = true;
    err(
        decrypt_message(&s, &mut q, b"", &[0; 4]),
        CKR_MECHANISM_PARAM_INVALID,
        "decrypt, NULL pTag",
    );
    ok(decrypt_final(&s), "decrypt final");
}

#[test]
fn cancel_with_null_mechanism_and_session_cancel() {
    let (_env, _init, s, k) = setup();
    let mut p = Param::new(&[1; 12], 0, CKG_GENERATE_RANDOM);
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    let r = ck!(s.f, C_MessageEncryptInit(s.h, ptr::null_mut(), k));
    assert_rv!(r, CKR_OK, "NULL mechanism cancels");
    err(
        encrypt_message(&s, &mut p, b"", b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "cancelled",
    );
    let r = ck!(s.f, C_MessageDecryptInit(s.h, ptr::null_mut(), k));
    assert_rv!(r, CKR_OK, "cancelling nothing");
    // C_SessionCancel ends only the kinds it names.
    ok(message_encrypt_init(&s, &gcm(), k), "init again");
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    ok(s.encrypt_init(&Mech::new(CKM_AES_ECB), k), "C_EncryptInit");
    ok(
        s.session_cancel(CKF_MESSAGE_ENCRYPT),
        "cancel message encrypt",
    );
    err(
        encrypt_message(&s, &mut p, b"", b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "after cancel",
    );
    err(
        message_decrypt_init(&s, &gcm(), k),
        CKR_OPERATION_ACTIVE,
        "decrypt kept",
    );
    ok(s.encrypt(&[0; 16]), "C_Encrypt kept");
    ok(
        s.session_cancel(CKF_MESSAGE_DECRYPT),
        "cancel message decrypt",
    );
    err(
        decrypt_final(&s),
        CKR_OPERATION_NOT_INITIALIZED,
        "decrypt cancelled",
    );
    // Cancelling in the middle of a multi-part message ends it too.
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    ok(encrypt_begin(&s, &mut p, b""), "Begin");
    ok(s.session_cancel(CKF_MESSAGE_ENCRYPT), "cancel");
    err(
        encrypt_next(&s, Some(&mut p), b"x", CKF_END_OF_MESSAGE),
        CKR_OPERATION_NOT_INITIALIZED,
        "Next",
    );
}

#[test]
fn counter_ivs_differ_between_messages() {
    let (_env, _init, s, k) = setup();
    let plain = b"the same plaintext twice";
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    let fixed = [0x10u8, 0x20, 0x30, 0x40];
    let mut first = Param::new(
        &[fixed.as_slice(), &[0; 8]].concat(),
        32,
        CKG_GENERATE_COUNTER,
    );
    let mut second = Param::new(
        &[fixed.as_slice(), &[0; 8]].concat(),
        32,
        CKG_GENERATE_COUNTER,
    );
    let c1 = ok(encrypt_message(&s, &mut first, b"", plain), "first");
    let c2 = ok(encrypt_message(&s, &mut second, b"", plain), "second");
    assert_ne!(first.iv, second.iv);
    assert_ne!(c1, c2);
    assert_eq!(first.iv[..4], fixed);
    assert_eq!(second.iv[..4], fixed);
    // The counter sits in the low bits, one apart.
    let low = |iv: &[u8]| u64::from_be_bytes(iv[4..].try_into().unwrap());
    assert_eq!(low(&second.iv), low(&first.iv) + 1);
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    for (p, c) in [(&first, &c1), (&second, &c2)] {
        let mut q = Param::given(&p.iv).with_tag(&p.tag);
        assert_eq!(ok(decrypt_message(&s, &mut q, b"", c), "decrypt"), plain);
    }
}

#[test]
fn multi_part_messages() {
    let (_env, _init, s, k) = setup();
    let (aad, plain) = (unhex(AAD), unhex(PLAIN));
    ok(message_encrypt_init(&s, &gcm(), k), "init");
    // Begin writes the generated IV; the last Next writes the tag.
    let mut p = Param::new(&[0xcd; 12], 64, CKG_GENERATE_COUNTER);
    ok(encrypt_begin(&s, &mut p, &aad), "Begin");
    assert_eq!(p.iv, [[0xcd; 8].as_slice(), &[0; 4]].concat());
    let mut ct = ok(encrypt_next(&s, None, &plain[..20], 0), "Next");
    ct.extend(ok(
        encrypt_next(&s, Some(&mut p), &plain[20..33], 0),
        "Next",
    ));
    ct.extend(ok(
        encrypt_next(&s, Some(&mut p), &plain[33..], CKF_END_OF_MESSAGE),
        "last Next",
    ));
    // The same as a single-part message with that IV.
    let mut single = Param::given(&p.iv);
    let want = ok(encrypt_message(&s, &mut single, &aad, &plain), "single");
    assert_eq!(ct, want);
    assert_eq!(p.tag, single.tag);
    // A whole message in one Next; then the operation takes new messages.
    let mut q = Param::given(&unhex(IV));
    ok(encrypt_begin(&s, &mut q, &aad), "Begin");
    let one = ok(
        encrypt_next(&s, Some(&mut q), &plain, CKF_END_OF_MESSAGE),
        "one Next",
    );
    assert_eq!((one, q.tag.clone()), (unhex(CIPHER), unhex(TAG)));
    // The last Next needs a parameter for the tag; the failure ends the
    // message, not the operation.
    ok(encrypt_begin(&s, &mut q, &aad), "Begin");
    err(
        encrypt_next(&s, None, &plain, CKF_END_OF_MESSAGE),
        CKR_ARGUMENTS_BAD,
        "no parameter",
    );
    err(
        encrypt_next(&s, Some(&mut q), &plain, 0),
        CKR_OPERATION_NOT_INITIALIZED,
        "ended",
    );
    ok(encrypt_message(&s, &mut q, &aad, &plain), "still active");

    // Decryption releases plaintext only at the end, once the tag verifies.
    ok(message_decrypt_init(&s, &gcm(), k), "decrypt init");
    let mut d = Param::given(&p.iv);
    ok(decrypt_begin(&s, &mut d, &aad), "decrypt Begin");
    assert!(ok(decrypt_next(&s, None, &ct[..30], 0), "Next").is_empty());
    let mut d = d.with_tag(&p.tag);
    let back = ok(
        decrypt_next(&s, Some(&mut d), &ct[30..], CKF_END_OF_MESSAGE),
        "last",
    );
    assert_eq!(back, plain);
    // A bad tag: CKR_AEAD_DECRYPT_FAILED on the last Next, message ended.
    let mut bad = Param::given(&p.iv);
    bad.tag[0] = p.tag[0] ^ 1;
    bad.tag[1..].copy_from_slice(&p.tag[1..]);
    ok(decrypt_begin(&s, &mut bad, &aad), "Begin, tag given here");
    ok(decrypt_next(&s, None, &ct[..10], 0), "Next");
    err(
        decrypt_next(&s, None, &ct[10..], CKF_END_OF_MESSAGE),
        CKR_AEAD_DECRYPT_FAILED,
        "bad tag",
    );
    err(
        decrypt_next(&s, None, &[], CKF_END_OF_MESSAGE),
        CKR_OPERATION_NOT_INITIALIZED,
        "ended",
    );
    let mut good = Param::given(&p.iv).with_tag(&p.tag);
    assert_eq!(
        ok(decrypt_message(&s, &mut good, &aad, &ct), "still active"),
        plain
    );
}

/// The FIPS build encrypts with GCM only under an IV the module makes
/// (SP 800-38D §8.2): the caller's IV as is, a random IV under 96 bits or
/// a counter beside a fixed field under 32 bits are refused at the
/// message; C_EncryptInit is not offered. Every build decrypts, and
/// every build accepts the approved constructions.
#[test]
fn fips_mode_encrypts_only_with_generated_ivs() {
    let fips = cfg!(feature = "fips");
    let (_env, _init, s, k) = setup();
    let plain = b"approved IVs only".to_vec();
    ok(message_encrypt_init(&s, &gcm(), k), "C_MessageEncryptInit");
    let refused_in_fips = [
        Param::given(&unhex(IV)),
        Param::new(&[0u8; 8], 0, CKG_GENERATE_RANDOM),
        Param::new(&[0u8; 12], 16, CKG_GENERATE_COUNTER),
    ];
    for mut p in refused_in_fips {
        let r = encrypt_message(&s, &mut p, b"", &plain);
        if fips {
            err(r, CKR_MECHANISM_PARAM_INVALID, "unapproved IV construction");
        } else {
            ok(r, "any IV construction outside FIPS mode");
        }
    }
    // One message in parts: AWS-LC's approved sealing has no such form.
    let mut p = Param::new(&[0x11u8; 12], 0, CKG_GENERATE_RANDOM);
    let begin = encrypt_begin(&s, &mut p, b"");
    if fips {
        err(
            begin,
            CKR_FUNCTION_NOT_SUPPORTED,
            "C_EncryptMessageBegin in FIPS mode",
        );
    } else {
        ok(begin, "C_EncryptMessageBegin");
        ok(
            encrypt_next(&s, Some(&mut p), &plain, CKF_END_OF_MESSAGE),
            "C_EncryptMessageNext (last)",
        );
    }
    ok(message_decrypt_init(&s, &gcm(), k), "C_MessageDecryptInit");
    for (fixed, generator) in [(0, CKG_GENERATE_RANDOM), (32, CKG_GENERATE_COUNTER)] {
        let mut p = Param::new(&[0x11u8; 12], fixed, generator);
        let ct = ok(encrypt_message(&s, &mut p, b"", &plain), "approved IV");
        let mut q = Param::given(&p.iv).with_tag(&p.tag);
        assert_eq!(ok(decrypt_message(&s, &mut q, b"", &ct), "decrypt"), plain);
    }
    assert_eq!(ck!(s.f, C_MessageEncryptFinal(s.h)), CKR_OK);
    assert_eq!(ck!(s.f, C_MessageDecryptFinal(s.h)), CKR_OK);
    let single = Mech::gcm(&unhex(IV), b"", 128);
    let r = s.encrypt_init(&single, k);
    if fips {
        err(
            r,
            CKR_MECHANISM_INVALID,
            "C_EncryptInit with the caller's IV",
        );
    } else {
        ok(r, "C_EncryptInit");
    }
}
