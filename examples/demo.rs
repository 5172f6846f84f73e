//! End-to-end demo: loads the built `libkeyward.so` through its C ABI,
//! creates a token in a temporary store, logs in, generates an EC key,
//! signs and verifies, and prints each step.
//!
//! Run: `cargo build --release && cargo run --release --example demo`

use std::path::PathBuf;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

/// The module built with this example: cargo leaves the cdylib built for
/// it in `target/<profile>/deps/` (`cargo build` also copies it up).
fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    profile_dir.join("deps").join("libkeyward.so")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = std::env::temp_dir().join(format!("keyward-demo-{}", std::process::id()));
    std::fs::create_dir_all(&store)?;
    // SAFETY: single-threaded at this point; the module reads it at C_Initialize.
    unsafe { std::env::set_var("KEYWARD_STORE", &store) };
    let module = module_path();
    println!("module:  {}", module.display());
    println!("store:   {} (temporary)", store.display());

    let pkcs11 = Pkcs11::new(&module)?;
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let info = pkcs11.get_library_info()?;
    println!(
        "library: {} {}",
        info.manufacturer_id(),
        info.library_description()
    );

    let slot = pkcs11.get_slots_with_token()?[0];
    let so_pin = AuthPin::from("so-secret-1");
    let user_pin = AuthPin::from("user-secret-1");
    pkcs11.init_token(slot, &so_pin, "demo")?;
    println!("init:    token 'demo' initialized in slot {}", slot.id());

    let session = pkcs11.open_rw_session(slot)?;
    session.login(UserType::So, Some(&so_pin))?;
    session.init_pin(&user_pin)?;
    session.logout()?;
    println!("pin:     user PIN set by the security officer");

    session.login(UserType::User, Some(&user_pin))?;
    println!("login:   user logged in");

    let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (public, private) = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(p256_oid),
            Attribute::Verify(true),
            Attribute::Label(b"demo-key".to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Label(b"demo-key".to_vec()),
        ],
    )?;
    println!("keygen:  EC P-256 key pair 'demo-key' stored encrypted in the token");

    let message = b"hello from keyward";
    let signature = session.sign(&Mechanism::EcdsaSha256, private, message)?;
    println!(
        "sign:    ECDSA-SHA256 signature of {} bytes",
        signature.len()
    );
    session.verify(&Mechanism::EcdsaSha256, public, message, &signature)?;
    println!("verify:  signature valid");

    let mut tampered = signature.clone();
    tampered[0] ^= 1;
    match session.verify(&Mechanism::EcdsaSha256, public, message, &tampered) {
        Err(e) => println!("verify:  tampered signature rejected ({e})"),
        Ok(()) => return Err("a tampered signature verified".into()),
    }

    let found = session.find_objects(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(b"demo-key".to_vec()),
    ])?;
    let sensitive = session.get_attributes(found[0], &[AttributeType::Sensitive])?;
    println!(
        "find:    {} private key(s) labelled 'demo-key'; attributes {sensitive:?}",
        found.len()
    );

    session.logout()?;
    drop(session);
    pkcs11.finalize()?;
    std::fs::remove_dir_all(&store)?;
    println!("done:    token store removed");
    Ok(())
}
