//! A tight C ABI loop per operation (issue 11): `C_*Init` + the one-shot
//! call on a token key, timed next to the same crate doing the same work
//! directly (key schedule included where an init must make one), rounds
//! interleaved so both columns see the same machine load. Built for perf:
//!
//! ```text
//! cargo build --release --example bulk_ops
//! target/release/examples/bulk_ops [path/to/libkeyward.so] [filter]
//! perf record -g target/release/examples/bulk_ops '' 'GCM 4 KiB'
//! ```
//!
//! `BULK_SESSION=1` uses session keys instead of token keys; `BULK_MS`
//! sets the time per round (default 300 ms, best of 3 rounds).
//!
//! The output buffer is allocated once and passed with its length, as a
//! performance-minded C caller does (no length query per call).

use std::ffi::c_void;
use std::path::PathBuf;
use std::ptr;
use std::time::{Duration, Instant};

use cryptoki_sys::*;

const AES_KEY: [u8; 32] = [0x42; 32];
const MAC_KEY: [u8; 32] = [0x17; 32];

/// Owns attribute values and hands out a CK_ATTRIBUTE array over them.
#[derive(Default)]
struct Tmpl {
    vals: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
    raw: Vec<CK_ATTRIBUTE>,
}

impl Tmpl {
    fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Self {
        self.vals.push((ty, v.to_vec()));
        self
    }
    fn bool(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        self.bytes(ty, &[u8::from(v)])
    }
    fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        self.bytes(ty, &v.to_ne_bytes())
    }
    fn as_mut(&mut self) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
        self.raw = self
            .vals
            .iter_mut()
            .map(|(ty, v)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_mut_ptr().cast::<c_void>(),
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect();
        (self.raw.as_mut_ptr(), self.raw.len() as CK_ULONG)
    }
}

macro_rules! ck {
    ($f:expr, $name:ident ( $($arg:expr),* $(,)? )) => {{
        let func = $f.$name.expect(stringify!($name));
        // SAFETY: arguments valid for this PKCS#11 call.
        let rv = unsafe { func($($arg),*) };
        assert_eq!(rv, CKR_OK, "{} failed: {rv:#x}", stringify!($name));
    }};
}

struct Ctx {
    f: &'static CK_FUNCTION_LIST,
    h: CK_SESSION_HANDLE,
}

impl Ctx {
    fn generate_pair(
        &self,
        mech: CK_MECHANISM_TYPE,
        mut public: Tmpl,
        mut private: Tmpl,
    ) -> CK_OBJECT_HANDLE {
        let mut m = CK_MECHANISM {
            mechanism: mech,
            pParameter: ptr::null_mut(),
            ulParameterLen: 0,
        };
        let (pp, pn) = public.as_mut();
        let (sp, sn) = private.as_mut();
        let (mut pubk, mut privk) = (0, 0);
        ck!(
            self.f,
            C_GenerateKeyPair(self.h, &mut m, pp, pn, sp, sn, &mut pubk, &mut privk)
        );
        privk
    }

    fn create(&self, mut t: Tmpl) -> CK_OBJECT_HANDLE {
        let (p, n) = t.as_mut();
        let mut k = 0;
        ck!(self.f, C_CreateObject(self.h, p, n, &mut k));
        k
    }

    /// Init + one-shot encrypt into `out`.
    fn encrypt(&self, m: &mut CK_MECHANISM, k: CK_OBJECT_HANDLE, data: &[u8], out: &mut [u8]) {
        ck!(self.f, C_EncryptInit(self.h, m, k));
        let mut n = out.len() as CK_ULONG;
        ck!(
            self.f,
            C_Encrypt(
                self.h,
                data.as_ptr().cast_mut(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            )
        );
    }

    fn sign(&self, m: &mut CK_MECHANISM, k: CK_OBJECT_HANDLE, data: &[u8], out: &mut [u8]) {
        ck!(self.f, C_SignInit(self.h, m, k));
        let mut n = out.len() as CK_ULONG;
        ck!(
            self.f,
            C_Sign(
                self.h,
                data.as_ptr().cast_mut(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            )
        );
    }

    fn digest(&self, m: &mut CK_MECHANISM, data: &[u8], out: &mut [u8]) {
        ck!(self.f, C_DigestInit(self.h, m));
        let mut n = out.len() as CK_ULONG;
        ck!(
            self.f,
            C_Digest(
                self.h,
                data.as_ptr().cast_mut(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            )
        );
    }
}

fn mech(ty: CK_MECHANISM_TYPE, param: &mut [u8]) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: if param.is_empty() {
            ptr::null_mut()
        } else {
            param.as_mut_ptr().cast()
        },
        ulParameterLen: param.len() as CK_ULONG,
    }
}

/// Ops/s of `f` over `budget`.
fn rate(budget: Duration, f: &mut dyn FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Best of `rounds` interleaved rounds, for both columns.
fn row(name: &str, filter: &str, mut ours: impl FnMut(), mut raw: impl FnMut()) {
    if !name.contains(filter) {
        return;
    }
    let budget = Duration::from_millis(
        std::env::var("BULK_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    );
    let (mut a, mut b) = (0f64, 0f64);
    for _ in 0..3 {
        a = a.max(rate(budget, &mut ours));
        b = b.max(rate(budget, &mut raw));
    }
    println!("| {name:<24} | {a:>12.0} | {b:>12.0} | {:>5.2} |", a / b);
}

fn module() -> PathBuf {
    if let Some(p) = std::env::args().nth(1).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("exe");
    let release = exe.parent().and_then(|p| p.parent()).expect("target dir");
    // `cargo build --example` leaves the cdylib in deps/ only.
    let top = release.join("libkeyward.so");
    if top.exists() {
        top
    } else {
        release.join("deps").join("libkeyward.so")
    }
}

fn setup() -> (Ctx, tempfile::TempDir, libloading::Library) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("keyward.toml");
    std::fs::write(&conf, "pin_kdf_iterations = 1000\n").expect("config");
    // SAFETY: single-threaded; the module reads these at C_Initialize.
    unsafe {
        std::env::set_var("KEYWARD_STORE", dir.path());
        std::env::set_var("KEYWARD_CONF", &conf);
    }
    // SAFETY: loading the module under test.
    let lib = unsafe { libloading::Library::new(module()) }.expect("dlopen");
    let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
    // SAFETY: the PKCS#11 entry point, valid out-pointer.
    unsafe {
        let get = lib
            .get::<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV>(
                b"C_GetFunctionList\0",
            )
            .expect("symbol");
        assert_eq!(get(&mut list), CKR_OK);
    }
    // SAFETY: a static table inside the loaded module, kept loaded.
    let f: &'static CK_FUNCTION_LIST = unsafe { &*list };
    ck!(f, C_Initialize(ptr::null_mut()));
    let mut so = b"so-pin-1234".to_vec();
    let mut user = b"user-pin-1234".to_vec();
    let mut label = [b' '; 32];
    label[..5].copy_from_slice(b"bench");
    ck!(
        f,
        C_InitToken(0, so.as_mut_ptr(), so.len() as CK_ULONG, label.as_mut_ptr())
    );
    let mut h = 0;
    ck!(
        f,
        C_OpenSession(
            0,
            CKF_SERIAL_SESSION | CKF_RW_SESSION,
            ptr::null_mut(),
            None,
            &mut h
        )
    );
    ck!(f, C_Login(h, CKU_SO, so.as_mut_ptr(), so.len() as CK_ULONG));
    ck!(f, C_InitPIN(h, user.as_mut_ptr(), user.len() as CK_ULONG));
    ck!(f, C_Logout(h));
    ck!(
        f,
        C_Login(h, CKU_USER, user.as_mut_ptr(), user.len() as CK_ULONG)
    );
    (Ctx { f, h }, dir, lib)
}

/// Token keys (the default) or, with `BULK_SESSION=1`, session keys: the
/// latter leave out the token's key lookup and show the rest of the layer.
fn token_keys() -> bool {
    std::env::var_os("BULK_SESSION").is_none()
}

fn secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Tmpl {
    Tmpl::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bool(CKA_TOKEN, token_keys())
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_SIGN, true)
        .bytes(CKA_VALUE, value)
}

fn main() {
    let filter = std::env::args().nth(2).unwrap_or_default();
    let (c, _dir, _lib) = setup();
    let aes = c.create(secret(CKK_AES, &AES_KEY));
    let mac = c.create(secret(CKK_GENERIC_SECRET, &MAC_KEY));
    let p256_oid = [0x06u8, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let ed_oid = [0x06u8, 0x03, 0x2b, 0x65, 0x70];
    let sign_priv = || {
        Tmpl::default()
            .bool(CKA_TOKEN, token_keys())
            .bool(CKA_SIGN, true)
            .bool(CKA_PRIVATE, true)
    };
    let ec = c.generate_pair(
        CKM_EC_KEY_PAIR_GEN,
        Tmpl::default().bytes(CKA_EC_PARAMS, &p256_oid),
        sign_priv(),
    );
    let ed = c.generate_pair(
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        Tmpl::default().bytes(CKA_EC_PARAMS, &ed_oid),
        sign_priv(),
    );
    let rsa = c.generate_pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        Tmpl::default()
            .ulong(CKA_MODULUS_BITS, 2048)
            .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
        sign_priv(),
    );
    println!("| op (init + one-shot) | keyward ops/s | crate ops/s | ratio |");
    println!("|---|---|---|---|");
    let mut out = vec![0u8; (1 << 20) + 64];
    crypt_rows(&c, aes, &filter, &mut out);
    mac_rows(&c, mac, aes, &filter, &mut out);
    sign_rows(&c, ec, ed, rsa, &filter, &mut out);
}

fn gcm_param(iv: &mut [u8; 12]) -> Vec<u8> {
    let p = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    // SAFETY: plain-old-data struct viewed as bytes.
    unsafe {
        std::slice::from_raw_parts(
            (&p as *const CK_GCM_PARAMS).cast::<u8>(),
            size_of::<CK_GCM_PARAMS>(),
        )
    }
    .to_vec()
}

fn crypt_rows(c: &Ctx, k: CK_OBJECT_HANDLE, filter: &str, out: &mut [u8]) {
    use aes::Aes256;
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    use aes_gcm::aead::AeadInOut;
    for (label, len) in [("64 B", 64usize), ("4 KiB", 4096), ("1 MiB", 1 << 20)] {
        let data = vec![0x5au8; len];
        let mut iv = [7u8; 12];
        let mut param = gcm_param(&mut iv);
        let mut raw_out = vec![0u8; len + 16];
        row(
            &format!("AES-256-GCM {label}"),
            filter,
            || c.encrypt(&mut mech(CKM_AES_GCM, &mut param), k, &data, out),
            || {
                let g = aes_gcm::Aes256Gcm::new_from_slice(&AES_KEY).expect("key");
                let (ct, tag) = raw_out.split_at_mut(len);
                ct.copy_from_slice(&data);
                let t = g
                    .encrypt_inout_detached(&[7u8; 12].into(), &[], ct.into())
                    .expect("gcm");
                tag.copy_from_slice(&t);
            },
        );
        let mut ivp = [9u8; 16];
        row(
            &format!("AES-256-CBC {label}"),
            filter,
            || c.encrypt(&mut mech(CKM_AES_CBC, &mut ivp.clone()), k, &data, out),
            || {
                let a = Aes256::new_from_slice(&AES_KEY).expect("key");
                raw_out[..len].copy_from_slice(&data);
                let mut chain = ivp;
                for b in raw_out[..len].chunks_exact_mut(16) {
                    for (x, y) in b.iter_mut().zip(chain) {
                        *x ^= y;
                    }
                    let blk: &mut aes::Block = b.try_into().expect("block");
                    a.encrypt_block(blk);
                    chain.copy_from_slice(b);
                }
            },
        );
        row(
            &format!("AES-256-CBC-PAD {label}"),
            filter,
            || c.encrypt(&mut mech(CKM_AES_CBC_PAD, &mut ivp), k, &data, out),
            || {
                let a = Aes256::new_from_slice(&AES_KEY).expect("key");
                raw_out[..len].copy_from_slice(&data);
                raw_out[len..len + 16].fill(16);
                let mut chain = [9u8; 16];
                for b in raw_out[..len + 16].chunks_exact_mut(16) {
                    for (x, y) in b.iter_mut().zip(chain) {
                        *x ^= y;
                    }
                    let blk: &mut aes::Block = b.try_into().expect("block");
                    a.encrypt_block(blk);
                    chain.copy_from_slice(b);
                }
            },
        );
        let mut ctr = [0u8; 8 + 16];
        ctr[..8].copy_from_slice(&(128 as CK_ULONG).to_ne_bytes());
        row(
            &format!("AES-256-CTR {label}"),
            filter,
            || c.encrypt(&mut mech(CKM_AES_CTR, &mut ctr), k, &data, out),
            || {
                let a = Aes256::new_from_slice(&AES_KEY).expect("key");
                let dst = &mut raw_out[..len];
                let mut counter = 0u128;
                for part in dst.chunks_mut(512).zip(data.chunks(512)) {
                    let mut ks = [0u8; 512];
                    for blk in ks.chunks_exact_mut(16) {
                        blk.copy_from_slice(&counter.to_be_bytes());
                        counter += 1;
                    }
                    let (blocks, _) = aes::cipher::Array::slice_as_chunks_mut(&mut ks);
                    a.encrypt_blocks(blocks);
                    for ((o, i), s) in part.0.iter_mut().zip(part.1).zip(ks) {
                        *o = i ^ s;
                    }
                }
            },
        );
        row(
            &format!("AES-256-ECB {label}"),
            filter,
            || c.encrypt(&mut mech(CKM_AES_ECB, &mut []), k, &data, out),
            || {
                let a = Aes256::new_from_slice(&AES_KEY).expect("key");
                raw_out[..len].copy_from_slice(&data);
                let (blocks, _) = aes::cipher::Array::slice_as_chunks_mut(&mut raw_out[..len]);
                a.encrypt_blocks(blocks);
            },
        );
    }
    // RFC 3394 wrap of a 32-byte value (as C_Encrypt with CKM_AES_KEY_WRAP).
    let material = [0x33u8; 32];
    row(
        "AES-256 KEY_WRAP 32 B",
        filter,
        || c.encrypt(&mut mech(CKM_AES_KEY_WRAP, &mut []), k, &material, out),
        || {
            let a = Aes256::new_from_slice(&AES_KEY).expect("key");
            let mut r = [[0u8; 8]; 4];
            for (i, x) in r.iter_mut().enumerate() {
                x.copy_from_slice(&material[i * 8..i * 8 + 8]);
            }
            let mut av = [0xa6u8; 8];
            for j in 0..6u64 {
                for (i, ri) in r.iter_mut().enumerate() {
                    let mut b = [0u8; 16];
                    b[..8].copy_from_slice(&av);
                    b[8..].copy_from_slice(ri);
                    a.encrypt_block((&mut b).into());
                    let t = j * 4 + i as u64 + 1;
                    av.copy_from_slice(&b[..8]);
                    for (x, y) in av.iter_mut().zip(t.to_be_bytes()) {
                        *x ^= y;
                    }
                    ri.copy_from_slice(&b[8..]);
                }
            }
            std::hint::black_box((av, r));
        },
    );
}

fn mac_rows(c: &Ctx, mac: CK_OBJECT_HANDLE, aes: CK_OBJECT_HANDLE, filter: &str, out: &mut [u8]) {
    use hmac::{KeyInit, Mac};
    use sha2::Digest;
    for (label, len) in [("64 B", 64usize), ("4 KiB", 4096)] {
        let data = vec![0x5au8; len];
        row(
            &format!("HMAC-SHA256 {label}"),
            filter,
            || {
                c.sign(
                    &mut mech(CKM_SHA256_HMAC, &mut []),
                    mac,
                    &data,
                    &mut out[..32],
                )
            },
            || {
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&MAC_KEY).expect("hmac");
                m.update(&data);
                std::hint::black_box(m.finalize());
            },
        );
        row(
            &format!("AES-256-CMAC {label}"),
            filter,
            || c.sign(&mut mech(CKM_AES_CMAC, &mut []), aes, &data, &mut out[..16]),
            || {
                let mut m =
                    <cmac::Cmac<aes::Aes256> as KeyInit>::new_from_slice(&AES_KEY).expect("cmac");
                m.update(&data);
                std::hint::black_box(m.finalize());
            },
        );
        row(
            &format!("SHA-256 {label}"),
            filter,
            || c.digest(&mut mech(CKM_SHA256, &mut []), &data, &mut out[..32]),
            || {
                std::hint::black_box(sha2::Sha256::digest(&data));
            },
        );
    }
}

fn sign_rows(
    c: &Ctx,
    ec: CK_OBJECT_HANDLE,
    ed: CK_OBJECT_HANDLE,
    rsa_k: CK_OBJECT_HANDLE,
    filter: &str,
    out: &mut [u8],
) {
    let hash = [0x3cu8; 32];
    let data = [0x5au8; 64];
    let p256 = {
        use p256::elliptic_curve::Generate;
        p256::ecdsa::SigningKey::try_generate_from_rng(&mut getrandom::SysRng).expect("ec key")
    };
    row(
        "ECDSA P-256 (hash)",
        filter,
        || c.sign(&mut mech(CKM_ECDSA, &mut []), ec, &hash, &mut out[..64]),
        || {
            use p256::ecdsa::signature::hazmat::PrehashSigner;
            let s: p256::ecdsa::Signature = p256.sign_prehash(&hash).expect("sign");
            std::hint::black_box(s);
        },
    );
    let edk = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
    row(
        "Ed25519 64 B",
        filter,
        || c.sign(&mut mech(CKM_EDDSA, &mut []), ed, &data, &mut out[..64]),
        || {
            use ed25519_dalek::Signer;
            std::hint::black_box(edk.sign(&data));
        },
    );
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("rsa key");
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key);
    row(
        "RSA-2048 SHA256-PKCS1",
        filter,
        || {
            c.sign(
                &mut mech(CKM_SHA256_RSA_PKCS, &mut []),
                rsa_k,
                &data,
                &mut out[..256],
            )
        },
        || {
            use rsa::signature::Signer;
            let s: rsa::pkcs1v15::Signature = signer.sign(&data);
            std::hint::black_box(s);
        },
    );
}
