//! C_WrapKey / C_UnwrapKey per second through the real C ABI of
//! `libkeyward.so`, next to the `aes-kw` crate doing the same AES-256 key
//! wrap directly and, when installed, SoftHSMv2, in the same run. The
//! columns are interleaved (short slices in turn, several times) so a
//! machine whose load changes during the run shifts them all alike.
//!
//! Run by hand: `cargo bench --bench wrap`. Under `cargo test --all-targets`
//! (no `--bench` argument) it does one quick round as a smoke test.
//! `KEYWARD_BENCH_ONLY=wrap` or `=unwrap` runs Keyward's row alone (for
//! `perf record`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Slices per column and operation; each gets budget / SLICES.
const SLICES: u32 = 8;

/// Operations done and time spent, summed over the slices.
#[derive(Default, Clone, Copy)]
struct Tally {
    ops: u64,
    time: Duration,
}

impl Tally {
    fn slice(&mut self, budget: Duration, f: &mut dyn FnMut()) {
        let start = Instant::now();
        while start.elapsed() < budget {
            f();
            self.ops += 1;
        }
        self.time += start.elapsed();
    }

    fn rate(&self) -> f64 {
        self.ops as f64 / self.time.as_secs_f64().max(1e-9)
    }
}

fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

fn aes_key(session: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![0x42; 32]),
        Attribute::Token(true),
        Attribute::Private(true),
    ];
    t.extend_from_slice(extra);
    session.create_object(&t).expect("aes key")
}

/// One module with a token, a logged-in session, a wrapping key and an
/// extractable token key to wrap.
struct Module {
    pkcs11: Pkcs11,
    session: Option<Session>,
    kek: ObjectHandle,
    target: ObjectHandle,
    wrapped: Vec<u8>,
}

impl Module {
    fn open(module: &Path) -> Module {
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
            &[
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::Sensitive(true),
            ],
        );
        // Not sensitive: Keyward's default policy wraps a sensitive key
        // only under a CKA_TRUSTED key, which needs the SO.
        let target = aes_key(
            &session,
            &[Attribute::Extractable(true), Attribute::Sensitive(false)],
        );
        let wrapped = session
            .wrap_key(&Mechanism::AesKeyWrap, kek, target)
            .expect("wrap");
        Module {
            pkcs11,
            session: Some(session),
            kek,
            target,
            wrapped,
        }
    }

    fn session(&self) -> &Session {
        self.session.as_ref().expect("open session")
    }

    fn wrap(&self) {
        self.session()
            .wrap_key(&Mechanism::AesKeyWrap, self.kek, self.target)
            .expect("wrap");
    }

    /// Into a session key, which lives until the session closes.
    fn unwrap(&self) {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Encrypt(true),
        ];
        self.session()
            .unwrap_key(&Mechanism::AesKeyWrap, self.kek, &self.wrapped, &template)
            .expect("unwrap");
    }

    fn close(mut self) {
        drop(self.session.take());
        self.pkcs11.clone().finalize().expect("finalize");
    }
}

/// The raw column: the `aes-kw` crate, key schedule included (as a
/// C_WrapKey must do it for a new call).
fn raw_wrap(wrapped: &mut [u8; 40]) {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwAes256::new(&[0x42u8; 32].into());
    kw.wrap_key(&[0x42u8; 32], wrapped).expect("wrap");
}

fn raw_unwrap(wrapped: &[u8; 40]) {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwAes256::new(&[0x42u8; 32].into());
    let mut out = [0u8; 32];
    kw.unwrap_key(wrapped, &mut out).expect("unwrap");
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let only = std::env::var("KEYWARD_BENCH_ONLY").ok();
    let budget = if full {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(20)
    };
    let slice = budget / SLICES;
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("keyward.toml");
    // Low KDF cost keeps set-up quick; it does not affect the measured ops.
    std::fs::write(&conf, "pin_kdf_iterations = 1000\n").expect("config");
    let tokens = dir.path().join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).expect("softhsm dir");
    let softhsm_conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &softhsm_conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .expect("softhsm conf");
    // SAFETY: single-threaded; the modules read these at C_Initialize.
    unsafe {
        std::env::set_var("KEYWARD_STORE", dir.path());
        std::env::set_var("KEYWARD_CONF", &conf);
        std::env::set_var("SOFTHSM2_CONF", &softhsm_conf);
    }
    let keyward = Module::open(&module_path());
    if let Some(op) = only {
        let mut t = Tally::default();
        let mut f: Box<dyn FnMut()> = match op.as_str() {
            "unwrap" => Box::new(|| keyward.unwrap()),
            _ => Box::new(|| keyward.wrap()),
        };
        t.slice(budget, &mut *f);
        println!("keyward {op}: {:.0} ops/s", t.rate());
        return;
    }
    let peer = (full && Path::new(SOFTHSM).exists()).then(|| Module::open(Path::new(SOFTHSM)));
    let mut raw_wrapped = [0u8; 40];
    raw_wrap(&mut raw_wrapped);
    // [wrap, unwrap] × [keyward, softhsm, raw]
    let mut t = [[Tally::default(); 3]; 2];
    for _ in 0..SLICES {
        t[0][0].slice(slice, &mut || keyward.wrap());
        if let Some(p) = &peer {
            t[0][1].slice(slice, &mut || p.wrap());
        }
        t[0][2].slice(slice, &mut || raw_wrap(&mut raw_wrapped));
        t[1][0].slice(slice, &mut || keyward.unwrap());
        if let Some(p) = &peer {
            t[1][1].slice(slice, &mut || p.unwrap());
        }
        t[1][2].slice(slice, &mut || raw_unwrap(&raw_wrapped));
    }
    keyward.close();
    if let Some(p) = peer {
        p.close();
    } else if full {
        println!("(SoftHSMv2 not installed at {SOFTHSM}: no peer column)");
    }
    println!(
        "| op (ops/s, one thread) | Keyward | SoftHSMv2 | raw aes-kw | Keyward/raw | Keyward/SoftHSMv2 |"
    );
    println!("|---|---|---|---|---|---|");
    let names = [
        "C_WrapKey AES-256 token key, KW (audited)",
        "C_UnwrapKey AES-256 to a session key, KW",
    ];
    for (name, row) in names.iter().zip(t) {
        let [k, p, r] = row.map(|x| x.rate());
        let (peer, vs) = if row[1].ops > 0 {
            (format!("{p:.0}"), format!("{:.2}", k / p))
        } else {
            ("—".into(), "—".into())
        };
        println!(
            "| {name} | {k:.0} | {peer} | {r:.0} | {:.3} | {vs} |",
            k / r
        );
    }
}
