//! C_WrapKey / C_UnwrapKey per second through the real C ABI of
//! `libkeyward.so`, next to the `aes-kw` crate doing the same AES-256 key
//! wrap directly and, when installed, SoftHSMv2, in the same run.
//!
//! Run by hand: `cargo bench --bench wrap`. Under `cargo test --all-targets`
//! (no `--bench` argument) it does one quick round as a smoke test.
//! `KEYWARD_BENCH_ONLY=keyward` skips the other columns, `=keyward-wrap`
//! runs the wrap row only, `=keyward-unwrap` the unwrap row only (for
//! `perf`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

struct Bench {
    budget: Duration,
}

impl Bench {
    fn run(&self, name: &str, mut f: impl FnMut()) -> f64 {
        f();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < self.budget {
            f();
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{name:<52} {rate:>12.0} ops/s");
        rate
    }
}

fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

fn aes_key(session: &Session, token: bool, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(cryptoki::object::KeyType::AES),
        Attribute::Value(vec![0x42; 32]),
        Attribute::Token(token),
        Attribute::Private(true),
    ];
    t.extend_from_slice(extra);
    session.create_object(&t).expect("aes key")
}

/// (wrap/s, unwrap/s) of AES-256 under AES-256 CKM_AES_KEY_WRAP.
fn module_round(b: &Bench, name: &str, module: &Path, env: &[(&str, &Path)]) -> (f64, f64) {
    for (k, v) in env {
        // SAFETY: single-threaded; the module reads these at C_Initialize.
        unsafe { std::env::set_var(k, v) };
    }
    let pkcs11 = Pkcs11::new(module).expect("load module");
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("initialize");
    let slot = pkcs11.get_slots_with_token().expect("slots")[0];
    let so = AuthPin::new("so-pin-1234".into());
    let user = AuthPin::new("user-pin-1234".into());
    pkcs11.init_token(slot, &so, "wrap").expect("init token");
    let session = pkcs11.open_rw_session(slot).expect("session");
    session.login(UserType::So, Some(&so)).expect("so login");
    session.init_pin(&user).expect("init pin");
    session.logout().expect("logout");
    session.login(UserType::User, Some(&user)).expect("login");
    let kek = aes_key(
        &session,
        true,
        &[
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Sensitive(true),
        ],
    );
    // Not sensitive: Keyward's default policy wraps a sensitive key only
    // under a CKA_TRUSTED key, which needs the SO.
    let target = aes_key(
        &session,
        true,
        &[Attribute::Extractable(true), Attribute::Sensitive(false)],
    );
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, kek, target)
        .expect("wrap");
    let only = std::env::var("KEYWARD_BENCH_ONLY").unwrap_or_default();
    let wrap = if only == "keyward-unwrap" {
        0.0
    } else {
        b.run(&format!("{name}: C_WrapKey AES-256 token key (KW)"), || {
            session
                .wrap_key(&Mechanism::AesKeyWrap, kek, target)
                .expect("wrap");
        })
    };
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(cryptoki::object::KeyType::AES),
        Attribute::Token(false),
        Attribute::Encrypt(true),
    ];
    if only == "keyward-wrap" {
        return (wrap, 0.0);
    }
    let unwrap = b.run(
        &format!("{name}: C_UnwrapKey AES-256 -> session key (KW)"),
        || {
            session
                .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &template)
                .expect("unwrap");
        },
    );
    drop(session);
    pkcs11.finalize().expect("finalize");
    (wrap, unwrap)
}

fn direct_round(b: &Bench) -> (f64, f64) {
    use aes_kw::KeyInit;
    let kek = [0x42u8; 32];
    let key = [0x42u8; 32];
    let mut wrapped = [0u8; 40];
    // Key schedule included, as a C_WrapKey with a new call must do it.
    let wrap = b.run("aes-kw crate: wrap AES-256 (new+wrap)", || {
        let kw = aes_kw::KwAes256::new(&kek.into());
        kw.wrap_key(&key, &mut wrapped).expect("wrap");
    });
    let unwrap = b.run("aes-kw crate: unwrap AES-256 (new+unwrap)", || {
        let kw = aes_kw::KwAes256::new(&kek.into());
        let mut out = [0u8; 32];
        kw.unwrap_key(&wrapped, &mut out).expect("unwrap");
    });
    (wrap, unwrap)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let only = std::env::var("KEYWARD_BENCH_ONLY").ok();
    let b = Bench {
        budget: if full {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(20)
        },
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("keyward.toml");
    // Low KDF cost keeps set-up quick; it does not affect the measured ops.
    std::fs::write(&conf, "pin_kdf_iterations = 1000\n").expect("config");
    let kw = module_round(
        &b,
        "keyward",
        &module_path(),
        &[("KEYWARD_STORE", dir.path()), ("KEYWARD_CONF", &conf)],
    );
    if only.is_some() {
        return;
    }
    let raw = direct_round(&b);
    let mut peer = None;
    if full && Path::new(SOFTHSM).exists() {
        let tokens = dir.path().join("softhsm-tokens");
        std::fs::create_dir_all(&tokens).expect("softhsm dir");
        let softhsm_conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &softhsm_conf,
            format!("directories.tokendir = {}\n", tokens.display()),
        )
        .expect("softhsm conf");
        peer = Some(module_round(
            &b,
            "softhsm2",
            Path::new(SOFTHSM),
            &[("SOFTHSM2_CONF", &softhsm_conf)],
        ));
    }
    println!();
    println!("| op | Keyward | SoftHSMv2 | raw crate | Keyward/raw | Keyward/SoftHSMv2 |");
    println!("|---|---|---|---|---|---|");
    for (i, op) in [
        "C_WrapKey AES-256 (token key, audited)",
        "C_UnwrapKey AES-256",
    ]
    .iter()
    .enumerate()
    {
        let pick = |t: (f64, f64)| if i == 0 { t.0 } else { t.1 };
        let (k, r) = (pick(kw), pick(raw));
        let (p, vs) = match peer {
            Some(p) => (format!("{:.0}", pick(p)), format!("{:.2}", k / pick(p))),
            None => ("—".into(), "—".into()),
        };
        println!("| {op} | {k:.0} | {p} | {r:.0} | {:.3} | {vs} |", k / r);
    }
}
