//! The module column: every row of [`NAMES`] as the exact calls a careful C
//! application makes (`C_*Init` + one-shot call, output buffer allocated
//! once, no length query where the size is known), each checked once for a
//! correct result (decrypt / verify / unwrap round trip) before it is timed.

use std::ptr;
use std::sync::{Arc, Mutex};

use cryptoki_sys::*;

use super::ffi::{self, Funcs, Mech, Module, Tmpl, ck, ok};
use super::timing::{NAMES, Op};

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (1.3.132.0.34).
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// id-Ed25519 (RFC 8410), the CKA_EC_PARAMS form both modules accept.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// Token keys on one module, made once per run: one key per purpose (key
/// separation), every secret token object private and sensitive.
#[derive(Clone, Copy)]
pub struct Keys {
    name: &'static str,
    pub f: Funcs,
    pub slot: CK_SLOT_ID,
    aes: Option<CK_OBJECT_HANDLE>,
    kek: Option<CK_OBJECT_HANDLE>,
    target: Option<CK_OBJECT_HANDLE>,
    cmac: Option<CK_OBJECT_HANDLE>,
    hmac: Option<CK_OBJECT_HANDLE>,
    ec: Option<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)>,
    ec384: Option<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)>,
    ed: Option<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)>,
    rsa: Option<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)>,
    rsa_enc: Option<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)>,
}

fn secret(flags: &[CK_ATTRIBUTE_TYPE]) -> Tmpl {
    let mut t = Tmpl::new()
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true);
    for &a in flags {
        t = t.bool(a, true);
    }
    t
}

fn note<T>(m: &str, what: &str, r: Result<T, CK_RV>) -> Option<T> {
    r.map_err(|rv| println!("- {m}: no {what} (CK_RV {rv:#x})"))
        .ok()
}

impl Keys {
    pub fn make(m: &Module, h: CK_SESSION_HANDLE) -> Keys {
        let f = m.f;
        let aes = |flags: &[CK_ATTRIBUTE_TYPE]| {
            ffi::generate_key(
                f,
                h,
                CKM_AES_KEY_GEN,
                secret(flags).ulong(CKA_VALUE_LEN, 32),
            )
        };
        let pair = |mech, params: Option<&[u8]>, public: &[CK_ATTRIBUTE_TYPE], private| {
            let mut pt = Tmpl::new().bool(CKA_TOKEN, true);
            if let Some(p) = params {
                pt = pt.bytes(CKA_EC_PARAMS, p);
            } else {
                pt = pt
                    .ulong(CKA_MODULUS_BITS, 2048)
                    .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]);
            }
            for &a in public {
                pt = pt.bool(a, true);
            }
            ffi::generate_pair(f, h, mech, pt, secret(private))
        };
        let n = m.name;
        Keys {
            name: m.name,
            f,
            slot: m.slot,
            aes: note(n, "AES key", aes(&[CKA_ENCRYPT, CKA_DECRYPT])),
            kek: note(n, "AES KEK", aes(&[CKA_WRAP, CKA_UNWRAP])),
            target: note(
                n,
                "extractable AES key",
                ffi::generate_key(
                    f,
                    h,
                    CKM_AES_KEY_GEN,
                    // Not sensitive: Keyward's default policy
                    // (sensitive_wrap_needs_trusted) lets a sensitive key
                    // leave only under an SO-trusted key.
                    Tmpl::new()
                        .bool(CKA_TOKEN, true)
                        .bool(CKA_PRIVATE, true)
                        .bool(CKA_SENSITIVE, false)
                        .bool(CKA_EXTRACTABLE, true)
                        .bool(CKA_ENCRYPT, true)
                        .ulong(CKA_VALUE_LEN, 32),
                ),
            ),
            cmac: note(n, "CMAC key", aes(&[CKA_SIGN, CKA_VERIFY])),
            hmac: note(
                n,
                "HMAC key",
                ffi::generate_key(
                    f,
                    h,
                    CKM_GENERIC_SECRET_KEY_GEN,
                    secret(&[CKA_SIGN, CKA_VERIFY]).ulong(CKA_VALUE_LEN, 32),
                ),
            ),
            ec: note(
                n,
                "P-256 pair",
                pair(
                    CKM_EC_KEY_PAIR_GEN,
                    Some(P256_OID),
                    &[CKA_VERIFY],
                    &[CKA_SIGN],
                ),
            ),
            ec384: note(
                n,
                "P-384 pair",
                pair(
                    CKM_EC_KEY_PAIR_GEN,
                    Some(P384_OID),
                    &[CKA_VERIFY],
                    &[CKA_SIGN],
                ),
            ),
            ed: note(
                n,
                "Ed25519 pair",
                pair(
                    CKM_EC_EDWARDS_KEY_PAIR_GEN,
                    Some(ED25519_OID),
                    &[CKA_VERIFY],
                    &[CKA_SIGN],
                ),
            ),
            rsa: note(
                n,
                "RSA pair",
                pair(CKM_RSA_PKCS_KEY_PAIR_GEN, None, &[CKA_VERIFY], &[CKA_SIGN]),
            ),
            rsa_enc: note(
                n,
                "RSA encryption pair",
                pair(
                    CKM_RSA_PKCS_KEY_PAIR_GEN,
                    None,
                    &[CKA_ENCRYPT],
                    &[CKA_DECRYPT],
                ),
            ),
        }
    }

    /// Row `i` on session `h`, checked once; None (printed "n/a") where the
    /// module lacks the mechanism or key type.
    pub fn op(&self, i: usize, h: CK_SESSION_HANDLE) -> Option<Op> {
        let f = self.f;
        let built = match NAMES[i] {
            "AES-256-GCM encrypt 64 B" => encrypt(f, h, gcm(), self.aes?, 64, 16),
            "AES-256-GCM encrypt 4 KiB" => encrypt(f, h, gcm(), self.aes?, 4096, 16),
            "AES-256-GCM encrypt 1 MiB" => encrypt(f, h, gcm(), self.aes?, 1 << 20, 16),
            "AES-256-CBC-PAD encrypt 64 B" => encrypt(f, h, cbc(), self.aes?, 64, 16),
            "AES-256-CBC-PAD encrypt 4 KiB" => encrypt(f, h, cbc(), self.aes?, 4096, 16),
            "AES-256-CBC-PAD encrypt 1 MiB" => encrypt(f, h, cbc(), self.aes?, 1 << 20, 16),
            "AES-256-CTR encrypt 64 B" => encrypt(f, h, ctr(), self.aes?, 64, 0),
            "AES-256-CTR encrypt 4 KiB" => encrypt(f, h, ctr(), self.aes?, 4096, 0),
            "AES-256-CTR encrypt 1 MiB" => encrypt(f, h, ctr(), self.aes?, 1 << 20, 0),
            "AES key wrap (AES-256 under AES-256)" => wrap(f, h, self.kek?, self.target?),
            "AES key unwrap (AES-256 session key)" => unwrap(f, h, self.kek?, self.target?),
            "HMAC-SHA256 sign 64 B" => sign(f, h, CKM_SHA256_HMAC, self.hmac?, 64, 32),
            "HMAC-SHA256 sign 4 KiB" => sign(f, h, CKM_SHA256_HMAC, self.hmac?, 4096, 32),
            "AES-CMAC sign 64 B" => sign(f, h, CKM_AES_CMAC, self.cmac?, 64, 16),
            "SHA-256 digest 64 B" => digest(f, h, 64),
            "SHA-256 digest 4 KiB" => digest(f, h, 4096),
            "ECDSA P-256 sign (32 B hash)" => sign(f, h, CKM_ECDSA, self.ec?, 32, 64),
            "ECDSA P-256 verify (32 B hash)" => verify(f, h, CKM_ECDSA, self.ec?, 32, 64),
            "ECDSA P-384 sign (48 B hash)" => sign(f, h, CKM_ECDSA, self.ec384?, 48, 96),
            "ECDSA P-384 verify (48 B hash)" => verify(f, h, CKM_ECDSA, self.ec384?, 48, 96),
            "Ed25519 sign 64 B" => sign(f, h, CKM_EDDSA, self.ed?, 64, 64),
            "RSA-2048 PKCS#1 v1.5 SHA-256 sign" => {
                sign(f, h, CKM_SHA256_RSA_PKCS, self.rsa?, 64, 256)
            }
            "RSA-2048 PKCS#1 v1.5 SHA-256 verify" => {
                verify(f, h, CKM_SHA256_RSA_PKCS, self.rsa?, 64, 256)
            }
            "RSA-2048 OAEP (SHA-256) decrypt" => oaep_decrypt(f, h, self.rsa_enc?),
            "open+close session" => Ok(session(f, self.slot)),
            "AES-256 key generate (session key)" => keygen(f, h, KeyGen::Aes256),
            "EC P-256 key pair generate (session keys)" => keygen(f, h, KeyGen::P256),
            "RSA-2048 key pair generate (session keys)" => keygen(f, h, KeyGen::Rsa2048),
            other => panic!("no module case for {other}"),
        };
        built
            .map_err(|e| println!("- {}: {} n/a: {e}", self.name, NAMES[i]))
            .ok()
    }
}

type Built = Result<Op, String>;

fn check(rv: CK_RV, what: &str) -> Result<(), String> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(format!("{what}: CK_RV {rv:#x}"))
    }
}

/// The IV / nonce parameters live for the whole run (leaked): a mechanism
/// struct points at them.
fn gcm() -> Mech {
    let iv: &'static mut [u8; 12] = Box::leak(Box::new([7u8; 12]));
    Mech::with(
        CKM_AES_GCM,
        CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: ptr::null_mut(),
            ulAADLen: 0,
            ulTagBits: 128,
        },
    )
}

fn cbc() -> Mech {
    Mech::with(CKM_AES_CBC_PAD, [3u8; 16])
}

fn ctr() -> Mech {
    Mech::with(
        CKM_AES_CTR,
        CK_AES_CTR_PARAMS {
            ulCounterBits: 32,
            cb: [9u8; 16],
        },
    )
}

fn oaep() -> Mech {
    Mech::with(
        CKM_RSA_PKCS_OAEP,
        CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: ptr::null_mut(),
            ulSourceDataLen: 0,
        },
    )
}

/// C_EncryptInit + C_Encrypt of `n` bytes into a buffer of n + `extra`
/// (block padding or tag); checked by decrypting once.
fn encrypt(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    mut m: Mech,
    key: CK_OBJECT_HANDLE,
    n: usize,
    extra: usize,
) -> Built {
    let mut data = vec![0x5au8; n];
    let mut out = vec![0u8; n + extra];
    let once = move |m: &mut Mech, data: &mut [u8], out: &mut [u8]| -> Result<usize, String> {
        check(ck!(f, C_EncryptInit(h, m.ptr(), key)), "C_EncryptInit")?;
        let mut len = out.len() as CK_ULONG;
        check(
            ck!(
                f,
                C_Encrypt(
                    h,
                    data.as_mut_ptr(),
                    n as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len
                )
            ),
            "C_Encrypt",
        )?;
        Ok(len as usize)
    };
    let len = once(&mut m, &mut data, &mut out)?;
    if len != n + extra {
        return Err(format!("ciphertext of {len} bytes, want {}", n + extra));
    }
    let mut back = vec![0u8; len];
    check(ck!(f, C_DecryptInit(h, m.ptr(), key)), "C_DecryptInit")?;
    let mut blen = len as CK_ULONG;
    check(
        ck!(
            f,
            C_Decrypt(
                h,
                out.as_mut_ptr(),
                len as CK_ULONG,
                back.as_mut_ptr(),
                &mut blen
            )
        ),
        "C_Decrypt",
    )?;
    if back[..blen as usize] != data[..] {
        return Err("decryption does not round-trip".into());
    }
    Ok(Op::new(move || {
        let len = once(&mut m, &mut data, &mut out).expect("encrypt");
        assert_eq!(len, n + extra);
    }))
}

fn sign_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    m: &mut Mech,
    key: CK_OBJECT_HANDLE,
    data: &mut [u8],
    sig: &mut [u8],
) -> Result<usize, String> {
    check(ck!(f, C_SignInit(h, m.ptr(), key)), "C_SignInit")?;
    let mut len = sig.len() as CK_ULONG;
    check(
        ck!(
            f,
            C_Sign(
                h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut len
            )
        ),
        "C_Sign",
    )?;
    Ok(len as usize)
}

fn verify_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    m: &mut Mech,
    key: CK_OBJECT_HANDLE,
    data: &mut [u8],
    sig: &mut [u8],
) -> Result<(), String> {
    check(ck!(f, C_VerifyInit(h, m.ptr(), key)), "C_VerifyInit")?;
    check(
        ck!(
            f,
            C_Verify(
                h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                sig.len() as CK_ULONG
            )
        ),
        "C_Verify",
    )
}

/// A key for signing: a secret key verifies itself, a pair's public half.
trait SignKey: Copy + Send + 'static {
    fn signer(self) -> CK_OBJECT_HANDLE;
    fn verifier(self) -> CK_OBJECT_HANDLE;
}

impl SignKey for CK_OBJECT_HANDLE {
    fn signer(self) -> CK_OBJECT_HANDLE {
        self
    }
    fn verifier(self) -> CK_OBJECT_HANDLE {
        self
    }
}

impl SignKey for (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    fn signer(self) -> CK_OBJECT_HANDLE {
        self.1
    }
    fn verifier(self) -> CK_OBJECT_HANDLE {
        self.0
    }
}

/// C_SignInit + C_Sign; the signature (or MAC) checked once with C_Verify.
fn sign(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    key: impl SignKey,
    n: usize,
    sig_len: usize,
) -> Built {
    let mut m = Mech::new(mech);
    let mut data = vec![0x3cu8; n];
    let mut sig = vec![0u8; sig_len];
    let len = sign_once(f, h, &mut m, key.signer(), &mut data, &mut sig)?;
    if len != sig_len {
        return Err(format!("signature of {len} bytes, want {sig_len}"));
    }
    verify_once(f, h, &mut m, key.verifier(), &mut data, &mut sig)?;
    Ok(Op::new(move || {
        let len = sign_once(f, h, &mut m, key.signer(), &mut data, &mut sig).expect("sign");
        assert_eq!(len, sig_len);
    }))
}

/// C_VerifyInit + C_Verify of a signature made once.
fn verify(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    mech: CK_MECHANISM_TYPE,
    key: impl SignKey,
    n: usize,
    sig_len: usize,
) -> Built {
    let mut m = Mech::new(mech);
    let mut data = vec![0x3cu8; n];
    let mut sig = vec![0u8; sig_len];
    sign_once(f, h, &mut m, key.signer(), &mut data, &mut sig)?;
    verify_once(f, h, &mut m, key.verifier(), &mut data, &mut sig)?;
    Ok(Op::new(move || {
        verify_once(f, h, &mut m, key.verifier(), &mut data, &mut sig).expect("verify")
    }))
}

fn digest(f: Funcs, h: CK_SESSION_HANDLE, n: usize) -> Built {
    let mut m = Mech::new(CKM_SHA256);
    let mut data = vec![0x3cu8; n];
    let mut out = [0u8; 32];
    let mut once = move || -> Result<(), String> {
        check(ck!(f, C_DigestInit(h, m.ptr())), "C_DigestInit")?;
        let mut len = 32 as CK_ULONG;
        check(
            ck!(
                f,
                C_Digest(
                    h,
                    data.as_mut_ptr(),
                    n as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len
                )
            ),
            "C_Digest",
        )?;
        if len != 32 {
            return Err(format!("digest of {len} bytes"));
        }
        Ok(())
    };
    once()?;
    Ok(Op::new(move || once().expect("digest")))
}

fn wrap_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    kek: CK_OBJECT_HANDLE,
    target: CK_OBJECT_HANDLE,
    out: &mut [u8; 40],
) -> Result<(), String> {
    let mut m = Mech::new(CKM_AES_KEY_WRAP);
    let mut len = 40 as CK_ULONG;
    check(
        ck!(
            f,
            C_WrapKey(h, m.ptr(), kek, target, out.as_mut_ptr(), &mut len)
        ),
        "C_WrapKey",
    )?;
    if len != 40 {
        return Err(format!("wrapped key of {len} bytes"));
    }
    Ok(())
}

fn unwrap_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    kek: CK_OBJECT_HANDLE,
    wrapped: &mut [u8; 40],
    t: &mut Tmpl,
) -> Result<CK_OBJECT_HANDLE, String> {
    let mut m = Mech::new(CKM_AES_KEY_WRAP);
    let (p, n) = t.as_mut();
    let mut k = 0;
    check(
        ck!(
            f,
            C_UnwrapKey(h, m.ptr(), kek, wrapped.as_mut_ptr(), 40, p, n, &mut k)
        ),
        "C_UnwrapKey",
    )?;
    Ok(k)
}

fn unwrap_template() -> Tmpl {
    Tmpl::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, false)
        .bool(CKA_ENCRYPT, true)
}

fn destroy(f: Funcs, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) {
    ok(ck!(f, C_DestroyObject(h, k)), "C_DestroyObject");
}

/// C_WrapKey of a token AES-256 key (the audited path); checked by
/// unwrapping once.
fn wrap(f: Funcs, h: CK_SESSION_HANDLE, kek: CK_OBJECT_HANDLE, target: CK_OBJECT_HANDLE) -> Built {
    let mut out = [0u8; 40];
    wrap_once(f, h, kek, target, &mut out)?;
    let k = unwrap_once(f, h, kek, &mut out, &mut unwrap_template())?;
    destroy(f, h, k);
    Ok(Op::new(move || {
        wrap_once(f, h, kek, target, &mut out).expect("wrap")
    }))
}

/// C_UnwrapKey into a session key; the keys it made are destroyed after
/// the timed loop, outside the timing.
fn unwrap(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    kek: CK_OBJECT_HANDLE,
    target: CK_OBJECT_HANDLE,
) -> Built {
    let mut wrapped = [0u8; 40];
    wrap_once(f, h, kek, target, &mut wrapped)?;
    let made = Arc::new(Mutex::new(Vec::new()));
    let made2 = made.clone();
    let mut t = unwrap_template();
    let k = unwrap_once(f, h, kek, &mut wrapped, &mut t)?;
    destroy(f, h, k);
    Ok(Op {
        call: Box::new(move || {
            let k = unwrap_once(f, h, kek, &mut wrapped, &mut t).expect("unwrap");
            made.lock().expect("lock").push(k);
        }),
        cleanup: Box::new(move || {
            for k in made2.lock().expect("lock").drain(..) {
                destroy(f, h, k);
            }
        }),
    })
}

/// C_DecryptInit + C_Decrypt of a 32-byte secret encrypted once with the
/// public key.
fn oaep_decrypt(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    (public, private): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
) -> Built {
    let mut m = oaep();
    let mut secret = [0x42u8; 32];
    let mut ct = [0u8; 256];
    check(ck!(f, C_EncryptInit(h, m.ptr(), public)), "C_EncryptInit")?;
    let mut len = 256 as CK_ULONG;
    check(
        ck!(
            f,
            C_Encrypt(h, secret.as_mut_ptr(), 32, ct.as_mut_ptr(), &mut len)
        ),
        "C_Encrypt(OAEP)",
    )?;
    let mut out = [0u8; 256];
    let mut once = move || -> Result<(), String> {
        check(ck!(f, C_DecryptInit(h, m.ptr(), private)), "C_DecryptInit")?;
        let mut len = 256 as CK_ULONG;
        check(
            ck!(
                f,
                C_Decrypt(h, ct.as_mut_ptr(), 256, out.as_mut_ptr(), &mut len)
            ),
            "C_Decrypt(OAEP)",
        )?;
        if out[..len as usize] != secret[..] {
            return Err("OAEP does not round-trip".into());
        }
        Ok(())
    };
    once()?;
    Ok(Op::new(move || once().expect("OAEP decrypt")))
}

fn session(f: Funcs, slot: CK_SLOT_ID) -> Op {
    Op::new(move || {
        let h = ffi::open(f, slot, false);
        ok(ck!(f, C_CloseSession(h)), "C_CloseSession");
    })
}

/// What a key-generation row makes.
#[derive(Clone, Copy)]
enum KeyGen {
    Aes256,
    P256,
    Rsa2048,
}

/// One C_GenerateKey / C_GenerateKeyPair of session keys (templates built
/// per call, as an application would); the handles made.
fn generate_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    what: KeyGen,
) -> Result<Vec<CK_OBJECT_HANDLE>, String> {
    let private = || {
        Tmpl::new()
            .bool(CKA_TOKEN, false)
            .bool(CKA_PRIVATE, true)
            .bool(CKA_SENSITIVE, true)
            .bool(CKA_SIGN, true)
    };
    let public = || Tmpl::new().bool(CKA_TOKEN, false).bool(CKA_VERIFY, true);
    let pair = |mech, t: Tmpl| {
        ffi::generate_pair(f, h, mech, t, private())
            .map(|(a, b)| vec![a, b])
            .map_err(|rv| format!("C_GenerateKeyPair: CK_RV {rv:#x}"))
    };
    match what {
        KeyGen::Aes256 => ffi::generate_key(
            f,
            h,
            CKM_AES_KEY_GEN,
            Tmpl::new()
                .bool(CKA_TOKEN, false)
                .bool(CKA_SENSITIVE, true)
                .bool(CKA_ENCRYPT, true)
                .ulong(CKA_VALUE_LEN, 32),
        )
        .map(|k| vec![k])
        .map_err(|rv| format!("C_GenerateKey: CK_RV {rv:#x}")),
        KeyGen::P256 => pair(CKM_EC_KEY_PAIR_GEN, public().bytes(CKA_EC_PARAMS, P256_OID)),
        KeyGen::Rsa2048 => pair(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            public()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
        ),
    }
}

/// Key generation of session keys; the keys made are destroyed after the
/// timed loop, outside the timing.
fn keygen(f: Funcs, h: CK_SESSION_HANDLE, what: KeyGen) -> Built {
    for k in generate_once(f, h, what)? {
        destroy(f, h, k);
    }
    let made = Arc::new(Mutex::new(Vec::new()));
    let made2 = made.clone();
    Ok(Op {
        call: Box::new(move || {
            let keys = generate_once(f, h, what).expect("generate");
            made.lock().expect("lock").extend(keys);
        }),
        cleanup: Box::new(move || {
            for k in made2.lock().expect("lock").drain(..) {
                destroy(f, h, k);
            }
        }),
    })
}
