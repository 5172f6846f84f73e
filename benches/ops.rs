//! Operations per second through the real C ABI of `libkeyward.so`, next
//! to the same operation done with the crypto crate directly (our layer's
//! overhead) and, when installed, SoftHSMv2 (a peer, same run).
//!
//! Run by hand: `cargo bench --bench ops`. Under `cargo test --all-targets`
//! (no `--bench` argument) it does one quick round as a smoke test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

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
        println!("{name:<44} {rate:>12.0} ops/s");
        rate
    }
}

/// The module built with this bench: cargo leaves the cdylib in
/// `target/<profile>/deps/` (it is copied up only by `cargo build`).
fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

/// Keys on one token: (ec private, rsa private, hmac secret).
struct Keys {
    ec: ObjectHandle,
    rsa: ObjectHandle,
    hmac: ObjectHandle,
}

fn setup(session: &Session) -> Keys {
    let (_, ec) = session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(P256_OID.to_vec()),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Sign(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
            ],
        )
        .expect("ec keygen");
    let (_, rsa) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Sign(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
            ],
        )
        .expect("rsa keygen");
    let hmac = session
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Sign(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
            ],
        )
        .expect("hmac keygen");
    Keys { ec, rsa, hmac }
}

fn module_round(b: &Bench, name: &str, module: &Path, store_env: &[(&str, &Path)]) {
    for (k, v) in store_env {
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
    pkcs11.init_token(slot, &so, "bench").expect("init token");
    let session = pkcs11.open_rw_session(slot).expect("session");
    session.login(UserType::So, Some(&so)).expect("so login");
    session.init_pin(&user).expect("init pin");
    session.logout().expect("logout");
    session.login(UserType::User, Some(&user)).expect("login");
    let keys = setup(&session);
    let data = [0x5au8; 64];
    // CKM_ECDSA over a SHA-256 hash: the form every peer supports.
    let hash = [0x3cu8; 32];
    b.run(&format!("{name}: ECDSA-P256 sign (32-byte hash)"), || {
        session
            .sign(&Mechanism::Ecdsa, keys.ec, &hash)
            .expect("sign");
    });
    b.run(&format!("{name}: RSA-2048 PKCS#1 sign (SHA-256)"), || {
        session
            .sign(&Mechanism::Sha256RsaPkcs, keys.rsa, &data)
            .expect("sign");
    });
    b.run(&format!("{name}: HMAC-SHA256"), || {
        session
            .sign(&Mechanism::Sha256Hmac, keys.hmac, &data)
            .expect("hmac");
    });
    b.run(&format!("{name}: SHA-256 digest (64 B)"), || {
        session.digest(&Mechanism::Sha256, &data).expect("digest");
    });
    drop(session);
    pkcs11.finalize().expect("finalize");
}

fn direct_round(b: &Bench) {
    use hmac::{KeyInit, Mac};
    use p256::ecdsa::signature::Signer;
    use sha2::Digest;
    let data = [0x5au8; 64];
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ec = {
        use p256::elliptic_curve::Generate;
        p256::ecdsa::SigningKey::try_generate_from_rng(&mut getrandom::SysRng).expect("ec key")
    };
    b.run("direct crate: ECDSA-P256 sign (32-byte hash)", || {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let _: p256::ecdsa::Signature = ec.sign_prehash(&[0x3cu8; 32]).expect("sign");
    });
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("rsa key");
    let rsa_signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key);
    b.run("direct crate: RSA-2048 PKCS#1 sign (SHA-256)", || {
        let _: rsa::pkcs1v15::Signature = rsa_signer.sign(&data);
    });
    b.run("direct crate: HMAC-SHA256", || {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[7u8; 32]).expect("hmac");
        mac.update(&data);
        let _ = mac.finalize();
    });
    b.run("direct crate: SHA-256 digest (64 B)", || {
        let _ = sha2::Sha256::digest(data);
    });
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let b = Bench {
        budget: if full {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(20)
        },
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("keyward.toml");
    // Low KDF cost keeps setup quick; it does not affect the measured ops.
    std::fs::write(&conf, "pin_kdf_iterations = 1000\n").expect("config");
    let keyward = module_path();
    module_round(
        &b,
        "keyward",
        &keyward,
        &[("KEYWARD_STORE", dir.path()), ("KEYWARD_CONF", &conf)],
    );
    direct_round(&b);
    let bulk_dir = dir.path().join("bulk");
    std::fs::create_dir_all(&bulk_dir).expect("bulk dir");
    sessions_and_bulk_round(
        &b,
        &keyward,
        &[("KEYWARD_STORE", &bulk_dir), ("KEYWARD_CONF", &conf)],
    );
    if full && Path::new(SOFTHSM).exists() {
        let tokens = dir.path().join("softhsm-tokens");
        std::fs::create_dir_all(&tokens).expect("softhsm dir");
        let softhsm_conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &softhsm_conf,
            format!("directories.tokendir = {}\n", tokens.display()),
        )
        .expect("softhsm conf");
        module_round(
            &b,
            "softhsm2",
            Path::new(SOFTHSM),
            &[("SOFTHSM2_CONF", &softhsm_conf)],
        );
    } else if full {
        println!("(SoftHSMv2 not installed at {SOFTHSM}: no peer column)");
    }
}

// Sessions and bulk data (issue 11): open+close pairs with 10,000 live
// session objects held by another session, and AES-256-GCM over 1 MiB
// (init + one-shot encrypt) through the C ABI next to the `aes-gcm` crate
// doing the same work (key schedule included, as an init must do it).
const SESSION_OBJECTS: usize = 10_000;
const BULK: usize = 1 << 20;

fn sessions_and_bulk_round(b: &Bench, module: &Path, store_env: &[(&str, &Path)]) {
    for (k, v) in store_env {
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
    pkcs11.init_token(slot, &so, "bulk").expect("init token");
    let holder = pkcs11.open_rw_session(slot).expect("session");
    holder.login(UserType::So, Some(&so)).expect("so login");
    holder.init_pin(&user).expect("init pin");
    holder.logout().expect("logout");
    holder.login(UserType::User, Some(&user)).expect("login");
    for n in 0..SESSION_OBJECTS {
        holder
            .create_object(&[
                Attribute::Class(cryptoki::object::ObjectClass::DATA),
                Attribute::Token(false),
                Attribute::Value(n.to_le_bytes().to_vec()),
            ])
            .expect("session object");
    }
    b.run(
        "keyward: open+close session (10k live session objects)",
        || {
            drop(pkcs11.open_ro_session(slot).expect("open"));
        },
    );
    let key = holder
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Token(true),
                Attribute::Sensitive(true),
            ],
        )
        .expect("aes key");
    let data = vec![0x5au8; BULK];
    let iv = [7u8; 12];
    b.run("keyward: AES-256-GCM encrypt 1 MiB (init+one-shot)", || {
        let mut nonce = iv;
        let params = cryptoki::mechanism::aead::GcmParams::new(&mut nonce, &[], 128.into())
            .expect("gcm params");
        holder
            .encrypt(&Mechanism::AesGcm(params), key, &data)
            .expect("encrypt");
    });
    drop(holder);
    pkcs11.finalize().expect("finalize");

    use aes_gcm::aead::Aead;
    use aes_gcm::{Aes256Gcm, KeyInit};
    let raw_key = [9u8; 32];
    b.run(
        "direct crate: AES-256-GCM encrypt 1 MiB (new+encrypt)",
        || {
            let c = Aes256Gcm::new_from_slice(&raw_key).expect("key");
            let _ = c.encrypt(&iv.into(), data.as_slice()).expect("encrypt");
        },
    );
}
