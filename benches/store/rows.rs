//! The rows of the shared-store bench (benches/store.rs): set-up of the two
//! slots (SQLite file, PostgreSQL over TLS on loopback), one `Op` per row
//! and slot, the interleaved rounds and the markdown table.

use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cryptoki_sys::*;

use super::backend;
use super::ffi::{self, Funcs, Mech, Module, SO_PIN, Tmpl, USER_PIN, ck, ok};
use super::pg;
use super::timing::{Op, measure, median, ratio, thousands};

/// secp256r1 (1.2.840.10045.3.1.7), DER.
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// Keys on each token that the find row searches among.
const FIND_KEYS: usize = 200;

const ROWS: &[&str] = &[
    "ECDSA P-256 sign, cached token key (32 B)",
    "HMAC-SHA256 sign 64 B, cached token key",
    "AES-256-GCM encrypt 64 B, cached token key",
    "AES-256 token key generate (1 commit)",
    "EC P-256 token key pair generate",
    "C_FindObjects by label among 200 token keys",
    "token data object create + C_DestroyObject",
];

struct Settings {
    rounds: usize,
    budget: Duration,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The module this `cargo bench`/`cargo test` built, beside the binary.
fn keyward_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

/// Slot 0 in the SQLite file under `dir`, slot 1 in a fresh schema of
/// `server`; the config and store named in the environment.
fn configure(dir: &Path, server: &backend::Server) {
    let store = dir.join("store");
    std::fs::create_dir_all(&store).expect("store dir");
    let conf = dir.join("keyward.toml");
    // Low PIN KDF cost keeps set-up quick; it does not affect the rows.
    let text = format!(
        "pin_kdf_iterations = 1000\n\n[[slot]]\nid = 0\n{}",
        backend::slot_toml(1, &pg::fresh_schema(), server)
    );
    std::fs::write(&conf, text).expect("config");
    for (k, v) in [("KEYWARD_STORE", store), ("KEYWARD_CONF", conf)] {
        // SAFETY: set before the module is loaded and any thread started.
        unsafe { std::env::set_var(k, v) };
    }
}

/// C_InitToken on `slot`, user PIN set; a R/W session logged in as user.
fn init_slot(m: &Module, slot: CK_SLOT_ID, label: &str) -> CK_SESSION_HANDLE {
    let f = m.f;
    let mut so = SO_PIN.as_bytes().to_vec();
    let mut lab = ffi::padded32(label);
    ok(
        ck!(
            f,
            C_InitToken(
                slot,
                so.as_mut_ptr(),
                so.len() as CK_ULONG,
                lab.as_mut_ptr()
            )
        ),
        "C_InitToken",
    );
    let h = ffi::open(f, slot, true);
    m.login(h, CKU_SO, SO_PIN);
    let mut up = USER_PIN.as_bytes().to_vec();
    ok(
        ck!(f, C_InitPIN(h, up.as_mut_ptr(), up.len() as CK_ULONG)),
        "C_InitPIN",
    );
    ok(ck!(f, C_Logout(h)), "C_Logout");
    m.login(h, CKU_USER, USER_PIN);
    h
}

fn secret(label: &str) -> Tmpl {
    Tmpl::new()
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bytes(CKA_LABEL, label.as_bytes())
}

fn aes_template(label: &str) -> Tmpl {
    secret(label)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_DECRYPT, true)
        .ulong(CKA_VALUE_LEN, 32)
}

fn gen_aes(f: Funcs, h: CK_SESSION_HANDLE, label: &str) -> CK_OBJECT_HANDLE {
    ffi::generate_key(f, h, CKM_AES_KEY_GEN, aes_template(label))
        .unwrap_or_else(|rv| panic!("C_GenerateKey (AES): CK_RV {rv:#x}"))
}

fn gen_p256(f: Funcs, h: CK_SESSION_HANDLE, label: &str) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    ffi::generate_pair(
        f,
        h,
        CKM_EC_KEY_PAIR_GEN,
        Tmpl::new()
            .bool(CKA_TOKEN, true)
            .bool(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, P256_OID)
            .bytes(CKA_LABEL, label.as_bytes()),
        secret(label).bool(CKA_SIGN, true),
    )
    .unwrap_or_else(|rv| panic!("C_GenerateKeyPair (P-256): CK_RV {rv:#x}"))
}

fn destroy(f: Funcs, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) {
    ok(ck!(f, C_DestroyObject(h, k)), "C_DestroyObject");
}

/// The cached token keys of one slot and its session.
#[derive(Clone, Copy)]
struct Slot {
    f: Funcs,
    h: CK_SESSION_HANDLE,
    ec: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    hmac: CK_OBJECT_HANDLE,
    aes: CK_OBJECT_HANDLE,
}

impl Slot {
    fn make(m: &Module, slot: CK_SLOT_ID) -> Slot {
        let f = m.f;
        let h = init_slot(m, slot, &format!("store-bench-{slot}"));
        let hmac = ffi::generate_key(
            f,
            h,
            CKM_GENERIC_SECRET_KEY_GEN,
            secret("hmac")
                .bool(CKA_SIGN, true)
                .bool(CKA_VERIFY, true)
                .ulong(CKA_VALUE_LEN, 32),
        )
        .unwrap_or_else(|rv| panic!("C_GenerateKey (HMAC): CK_RV {rv:#x}"));
        for i in 0..FIND_KEYS {
            gen_aes(f, h, &format!("find-{i:03}"));
        }
        Slot {
            f,
            h,
            ec: gen_p256(f, h, "ec"),
            hmac,
            aes: gen_aes(f, h, "aes"),
        }
    }

    fn op(&self, row: &str) -> Op {
        let Slot { f, h, .. } = *self;
        match row {
            "ECDSA P-256 sign, cached token key (32 B)" => sign(self, CKM_ECDSA, self.ec, 32, 64),
            "HMAC-SHA256 sign 64 B, cached token key" => {
                sign(self, CKM_SHA256_HMAC, (self.hmac, self.hmac), 64, 32)
            }
            "AES-256-GCM encrypt 64 B, cached token key" => gcm_encrypt(self),
            "AES-256 token key generate (1 commit)" => {
                made_then_destroyed(f, h, move || vec![gen_aes(f, h, "generated")])
            }
            "EC P-256 token key pair generate" => made_then_destroyed(f, h, move || {
                let (a, b) = gen_p256(f, h, "generated");
                vec![a, b]
            }),
            "C_FindObjects by label among 200 token keys" => find_by_label(f, h),
            "token data object create + C_DestroyObject" => create_destroy(f, h),
            other => panic!("no row {other}"),
        }
    }
}

fn sign_once(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    m: &mut Mech,
    key: CK_OBJECT_HANDLE,
    data: &mut [u8],
    sig: &mut [u8],
) -> usize {
    ok(ck!(f, C_SignInit(h, m.ptr(), key)), "C_SignInit");
    let mut len = sig.len() as CK_ULONG;
    ok(
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
    );
    len as usize
}

/// C_SignInit + C_Sign with the (verify, sign) key; checked once by
/// C_Verify before it is timed.
fn sign(
    s: &Slot,
    mech: CK_MECHANISM_TYPE,
    (verifier, signer): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    n: usize,
    sig_len: usize,
) -> Op {
    let (f, h) = (s.f, s.h);
    let mut m = Mech::new(mech);
    let mut data = vec![0x3cu8; n];
    let mut sig = vec![0u8; sig_len];
    assert_eq!(
        sign_once(f, h, &mut m, signer, &mut data, &mut sig),
        sig_len
    );
    ok(ck!(f, C_VerifyInit(h, m.ptr(), verifier)), "C_VerifyInit");
    ok(
        ck!(
            f,
            C_Verify(
                h,
                data.as_mut_ptr(),
                n as CK_ULONG,
                sig.as_mut_ptr(),
                sig_len as CK_ULONG
            )
        ),
        "C_Verify",
    );
    Op::new(move || {
        let len = sign_once(f, h, &mut m, signer, &mut data, &mut sig);
        assert_eq!(len, sig_len);
    })
}

/// C_EncryptInit + C_Encrypt of 64 bytes under AES-256-GCM (96-bit IV,
/// leaked: the mechanism points at it for the whole run).
fn gcm_encrypt(s: &Slot) -> Op {
    let (f, h, key) = (s.f, s.h, s.aes);
    let iv: &'static mut [u8; 12] = Box::leak(Box::new([7u8; 12]));
    let mut m = Mech::with(
        CKM_AES_GCM,
        CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: ptr::null_mut(),
            ulAADLen: 0,
            ulTagBits: 128,
        },
    );
    let mut data = [0x5au8; 64];
    let mut out = [0u8; 80];
    Op::new(move || {
        ok(ck!(f, C_EncryptInit(h, m.ptr(), key)), "C_EncryptInit");
        let mut len = out.len() as CK_ULONG;
        ok(
            ck!(
                f,
                C_Encrypt(
                    h,
                    data.as_mut_ptr(),
                    data.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut len
                )
            ),
            "C_Encrypt",
        );
        assert_eq!(len, 80);
    })
}

/// Each call makes token objects (timed); they are destroyed after the
/// cell, outside the timing, so the token keeps its size.
fn made_then_destroyed(
    f: Funcs,
    h: CK_SESSION_HANDLE,
    make: impl Fn() -> Vec<CK_OBJECT_HANDLE> + Send + 'static,
) -> Op {
    let made = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&made);
    Op {
        call: Box::new(move || {
            let keys = make();
            made.lock().expect("lock").extend(keys);
        }),
        cleanup: Box::new(move || {
            for k in kept.lock().expect("lock").drain(..) {
                destroy(f, h, k);
            }
        }),
    }
}

/// C_FindObjectsInit(label) + C_FindObjects + C_FindObjectsFinal: exactly
/// one of the token's keys carries the label.
fn find_by_label(f: Funcs, h: CK_SESSION_HANDLE) -> Op {
    let mut t = Tmpl::new().bytes(CKA_LABEL, format!("find-{:03}", FIND_KEYS / 2).as_bytes());
    let mut buf: [CK_OBJECT_HANDLE; 4] = [0; 4];
    Op::new(move || {
        let (p, n) = t.as_mut();
        ok(ck!(f, C_FindObjectsInit(h, p, n)), "C_FindObjectsInit");
        let mut got: CK_ULONG = 0;
        ok(
            ck!(
                f,
                C_FindObjects(h, buf.as_mut_ptr(), buf.len() as CK_ULONG, &mut got)
            ),
            "C_FindObjects",
        );
        ok(ck!(f, C_FindObjectsFinal(h)), "C_FindObjectsFinal");
        assert_eq!(got, 1, "one key carries the label");
    })
}

/// C_CreateObject of a 32-byte token data object, then C_DestroyObject of
/// it: two committed writes.
fn create_destroy(f: Funcs, h: CK_SESSION_HANDLE) -> Op {
    Op::new(move || {
        let mut t = Tmpl::new()
            .ulong(CKA_CLASS, CKO_DATA)
            .bool(CKA_TOKEN, true)
            .bool(CKA_PRIVATE, true)
            .bytes(CKA_LABEL, b"data")
            .bytes(CKA_VALUE, &[0x11; 32]);
        let (p, n) = t.as_mut();
        let mut obj = 0;
        ok(ck!(f, C_CreateObject(h, p, n, &mut obj)), "C_CreateObject");
        destroy(f, h, obj);
    })
}

fn header(s: &Settings, full: bool) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# Keyward: SQLite slot vs PostgreSQL slot\n");
    println!("- machine: {cpu}, {cores} cores");
    println!(
        "- profile: {}; {} round(s) of {} ms per cell, interleaved (the slot measured first alternates by round); median shown",
        if full { "release (bench)" } else { "smoke" },
        s.rounds,
        s.budget.as_millis()
    );
    println!(
        "- load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "- slot 0: SQLite file (WAL, synchronous FULL) in a temporary directory; slot 1: PostgreSQL 15 \
         on loopback (127.0.0.1, TLS verify-full, throw-away cluster with fsync=off); one module \
         load, one R/W session per slot, user logged in"
    );
    println!(
        "- no database round trip is measured on its own (the module offers no SELECT 1); \
         a PostgreSQL write is a few loopback round trips (BEGIN + advisory lock, the \
         statements, change bump + NOTIFY + COMMIT); the cached-key rows also pay the flush \
         of the use counters (one record-only write) at most once a second"
    );
}

/// `KEYWARD_BENCH_ONLY=text`: only the rows whose name contains `text`
/// (e.g. to profile one row under `perf record`).
fn selected(row: &str) -> bool {
    std::env::var("KEYWARD_BENCH_ONLY").map_or(true, |o| row.contains(o.as_str()))
}

pub fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let s = Settings {
        rounds: if full {
            env_num("KEYWARD_BENCH_ROUNDS", 5).max(1) as usize
        } else {
            1
        },
        budget: Duration::from_millis(if full {
            env_num("KEYWARD_BENCH_MS", 200)
        } else {
            3
        }),
    };
    let Some(server) = backend::server() else {
        println!("SKIP: PostgreSQL is not installed: no shared-store bench");
        return;
    };
    header(&s, full);
    let dir = tempfile::Builder::new()
        .prefix("keyward-store-bench-")
        .tempdir()
        .expect("tempdir");
    configure(dir.path(), server);
    let m = Module::load("Keyward", &keyward_path());
    let slots = [Slot::make(&m, 0), Slot::make(&m, 1)];
    // ops[row][slot]
    let mut ops: Vec<[Op; 2]> = ROWS
        .iter()
        .map(|r| [slots[0].op(r), slots[1].op(r)])
        .collect();
    let mut samples = vec![[Vec::new(), Vec::new()]; ROWS.len()];
    for round in 0..s.rounds {
        for (row, cells) in ops.iter_mut().enumerate() {
            if !selected(ROWS[row]) {
                continue;
            }
            for i in 0..2 {
                // Alternate which slot goes first, so neither always runs
                // on the heels of the other's writes.
                let slot = (i + round) % 2;
                samples[row][slot].push(measure(&mut cells[slot], s.budget));
            }
        }
    }
    println!("\n## Operations (ops/s)\n");
    println!("| operation | SQLite (slot 0) | PostgreSQL (slot 1) | PostgreSQL/SQLite |");
    println!("|---|---:|---:|---:|");
    for (row, name) in ROWS.iter().enumerate() {
        if !selected(name) {
            continue;
        }
        let [a, b] = &mut samples[row];
        let (sq, pgm) = (median(a), median(b));
        println!(
            "| {name} | {} | {} | {} |",
            thousands(sq),
            thousands(pgm),
            ratio(pgm, sq)
        );
    }
    drop(ops);
    m.finalize();
}
