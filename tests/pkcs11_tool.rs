//! Drives OpenSC's real `pkcs11-tool` against the built module on a fresh
//! store: token and PIN set-up, listings, key generation, sign / verify,
//! PIN change, deletion and the tool's own `--test` suite. Signatures made
//! by the tool are then checked independently in-process. Without the tool
//! the test fails under CI=true and is skipped (loudly) otherwise.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use p256::ecdsa::signature::Verifier as _;
use sha2::Digest as _;

const TOOL: &str = "/usr/bin/pkcs11-tool";

/// The tool, or None when the test should be skipped.
fn find_tool() -> Option<PathBuf> {
    let p = PathBuf::from(TOOL);
    if p.exists() {
        return Some(p);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "{TOOL} is missing: CI must install it (Debian package `opensc`, e.g. `apt-get install -y opensc`)"
    );
    eprintln!(
        "\n*** SKIP: {TOOL} not found; install the `opensc` package to run the pkcs11-tool tests ***\n"
    );
    None
}

struct Tool<'a> {
    bin: PathBuf,
    module: PathBuf,
    env: &'a TestEnv,
}

struct Run {
    ok: bool,
    out: String,
}

impl Tool<'_> {
    fn run(&self, args: &[&str]) -> Run {
        eprintln!(
            "$ pkcs11-tool --module {} {}",
            self.module.display(),
            args.join(" ")
        );
        let o = Command::new(&self.bin)
            .arg("--module")
            .arg(&self.module)
            .args(args)
            .env(ENV_CONF, &self.env.conf)
            .env(ENV_STORE, &self.env.store)
            .current_dir(&self.env.root)
            .output()
            .expect("run pkcs11-tool");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("{out}[exit: {}]\n", o.status);
        Run {
            ok: o.status.success(),
            out,
        }
    }

    /// Run and require success; returns the combined output.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.ok, "pkcs11-tool {} failed:\n{}", args.join(" "), r.out);
        r.out
    }

    fn path(&self, name: &str) -> String {
        self.env.root.join(name).to_string_lossy().into_owned()
    }
}

#[track_caller]
fn assert_has(out: &str, needle: &str) {
    assert!(
        out.contains(needle),
        "expected `{needle}` in output:\n{out}"
    );
}

/// No mechanism may claim CKF_HW (`-M` prints it as the flag `hw`).
fn assert_no_hw_flag(mechs: &str) {
    for line in mechs.lines() {
        assert!(
            !line.split(',').any(|f| f.trim() == "hw"),
            "mechanism claims CKF_HW: {line}"
        );
    }
}

/// `--test` output: success, "No errors", and no error lines.
fn assert_clean_test_run(r: &Run) {
    assert!(r.ok, "pkcs11-tool --test exited with failure:\n{}", r.out);
    assert_has(&r.out, "No errors");
    // CKM_RSA_PKCS is single-part only (PKCS#11 3.0 mechanism table), so
    // the tool's multi-part probe of it is answered with
    // CKR_FUNCTION_NOT_SUPPORTED, which the tool itself treats as a warning.
    let single_part_probe = "C_SignUpdate failed: rv = CKR_FUNCTION_NOT_SUPPORTED";
    for line in r.out.lines().filter(|l| !l.contains(single_part_probe)) {
        assert!(
            !line.contains("ERR") && !line.contains("failed"),
            "pkcs11-tool --test reported: {line}"
        );
    }
}

fn read(p: &str) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

fn setup_token(t: &Tool) {
    assert_has(&t.ok(&["-I"]), "Cryptoki version 3.0");
    assert_has(&t.ok(&["--list-interfaces"]), "PKCS 11");
    assert_has(
        &t.ok(&["--init-token", "--label", "test", "--so-pin", SO_PIN]),
        "Token successfully initialized",
    );
    assert_has(
        &t.ok(&[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            SO_PIN,
            "--init-pin",
            "--pin",
            USER_PIN,
        ]),
        "User PIN successfully initialized",
    );
    let slots = t.ok(&["-L"]);
    for needle in ["test", "token initialized", "PIN initialized", "Keyward"] {
        assert_has(&slots, needle);
    }
    assert_has(&t.ok(&["-T"]), "test");
    let mechs = t.ok(&["-M"]);
    for m in [
        "ECDSA-SHA256",
        "SHA256-RSA-PKCS",
        "SHA256-RSA-PKCS-PSS",
        "ECDSA-KEY-PAIR-GEN",
        "RSA-PKCS-KEY-PAIR-GEN",
        "AES-KEY-GEN",
        "GENERIC-SECRET-KEY-GEN",
        "SHA256-HMAC",
        "SHA256",
    ] {
        assert_has(&mechs, m);
    }
    assert_no_hw_flag(&mechs);
}

fn generate_keys(t: &Tool) {
    let login = ["--login", "--pin", USER_PIN, "--allow-sw"];
    let keygen = |args: &[&str]| t.ok(&[&login[..], args].concat());
    assert_has(
        &keygen(&[
            "--keypairgen",
            "--key-type",
            "EC:secp256r1",
            "--id",
            "01",
            "--label",
            "ec1",
        ]),
        "Key pair generated",
    );
    assert_has(
        &keygen(&[
            "--keypairgen",
            "--key-type",
            "RSA:2048",
            "--id",
            "02",
            "--label",
            "rsa1",
        ]),
        "Key pair generated",
    );
    assert_has(
        &keygen(&[
            "--keygen",
            "--key-type",
            "AES:32",
            "--id",
            "03",
            "--label",
            "aes1",
        ]),
        "Key generated",
    );
    assert_has(
        &keygen(&[
            "--keygen",
            "--key-type",
            "GENERIC:32",
            "--id",
            "04",
            "--label",
            "gen1",
        ]),
        "Key generated",
    );

    let all = t.ok(&["--login", "--pin", USER_PIN, "-O"]);
    for needle in [
        "ec1",
        "rsa1",
        "aes1",
        "gen1",
        "Private Key Object",
        "Public Key Object",
        "Secret Key Object",
    ] {
        assert_has(&all, needle);
    }
    let public = t.ok(&["-O"]);
    assert_has(&public, "Public Key Object");
    assert!(
        !public.contains("Private Key Object"),
        "private key listed without login:\n{public}"
    );
}

/// Sign with the tool, verify with the tool; returns the signature.
fn sign_and_verify(t: &Tool, mech: &str, id: &str, data: &str, out: &str) -> Vec<u8> {
    t.ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--allow-sw",
        "-s",
        "-m",
        mech,
        "--id",
        id,
        "-i",
        data,
        "-o",
        out,
    ]);
    let v = t.ok(&[
        "--allow-sw",
        "--verify",
        "-m",
        mech,
        "--id",
        id,
        "-i",
        data,
        "--signature-file",
        out,
    ]);
    assert_has(&v, "Signature is valid");
    read(out)
}

fn sign_verify_hash(t: &Tool) -> (Vec<u8>, Vec<u8>) {
    let data = t.path("data.txt");
    fs::write(&data, b"pkcs11-tool signs this").expect("write data");
    let other = t.path("other.txt");
    fs::write(&other, b"something else").expect("write data");

    let ec_sig = sign_and_verify(t, "ECDSA-SHA256", "01", &data, &t.path("sig.ec"));
    assert_eq!(ec_sig.len(), 64, "ECDSA signature is raw r||s");
    let bad = t.run(&[
        "--allow-sw",
        "--verify",
        "-m",
        "ECDSA-SHA256",
        "--id",
        "01",
        "-i",
        &other,
        "--signature-file",
        &t.path("sig.ec"),
    ]);
    assert!(
        !bad.out.contains("Signature is valid"),
        "wrong data verified:\n{}",
        bad.out
    );
    assert_has(&bad.out, "Invalid signature");

    let rsa_sig = sign_and_verify(t, "SHA256-RSA-PKCS", "02", &data, &t.path("sig.rsa"));
    assert_eq!(rsa_sig.len(), 256);
    let pss = sign_and_verify(t, "SHA256-RSA-PKCS-PSS", "02", &data, &t.path("sig.pss"));
    assert_eq!(pss.len(), 256);

    let hash = t.path("hash.bin");
    t.ok(&["--allow-sw", "-h", "-m", "SHA256", "-i", &data, "-o", &hash]);
    assert_eq!(
        read(&hash),
        sha2::Sha256::digest(b"pkcs11-tool signs this").to_vec()
    );
    let rnd = t.path("random.bin");
    t.ok(&["--generate-random", "32", "-o", &rnd]);
    assert_eq!(read(&rnd).len(), 32);
    (ec_sig, rsa_sig)
}

fn change_pin_and_delete(t: &Tool) {
    assert_has(
        &t.ok(&[
            "--login",
            "--pin",
            USER_PIN,
            "--change-pin",
            "--new-pin",
            "5678",
        ]),
        "PIN successfully changed",
    );
    let old = t.run(&["--login", "--pin", USER_PIN, "-O"]);
    assert!(
        !old.ok || old.out.contains("CKR_PIN_INCORRECT"),
        "old PIN still accepted:\n{}",
        old.out
    );
    t.ok(&["--login", "--pin", "5678", "-O"]);
    assert_has(
        &t.ok(&[
            "--login",
            "--pin",
            "5678",
            "--change-pin",
            "--new-pin",
            USER_PIN,
        ]),
        "PIN successfully changed",
    );

    t.ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--delete-object",
        "--type",
        "privkey",
        "--id",
        "01",
    ]);
    let after = t.ok(&["--login", "--pin", USER_PIN, "-O", "--type", "privkey"]);
    assert_has(&after, "rsa1");
    assert!(
        !after.contains("ec1"),
        "deleted EC private key still listed:\n{after}"
    );
    assert_has(&t.ok(&["-O", "--type", "pubkey"]), "ec1");
}

/// Check the tool's signatures in-process with independent verifiers.
fn verify_in_process(env: TestEnv, data: &[u8], ec_sig: &[u8], rsa_sig: &[u8]) {
    let h = Harness::start(env);
    let s = h.rw_session();
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("login");
    let pub_by_id = |id: u8| {
        let v = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(vec![id]),
            ])
            .expect("find");
        assert_eq!(v.len(), 1, "one public key with id {id:02x}");
        v[0]
    };
    let ec = pub_by_id(0x01);
    assert_eq!(attr_bytes(&s, ec, AttributeType::Label), b"ec1");
    let point = ec_point_from_der(&attr_bytes(&s, ec, AttributeType::EcPoint));
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("EC point");
    vk.verify(
        data,
        &p256::ecdsa::Signature::from_slice(ec_sig).expect("r||s"),
    )
    .expect("p256 crate verifies pkcs11-tool's ECDSA signature");

    let rsa_pub = pub_by_id(0x02);
    let pk = rsa::RsaPublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(&attr_bytes(&s, rsa_pub, AttributeType::Modulus)),
        rsa::BoxedUint::from_be_slice_vartime(&attr_bytes(
            &s,
            rsa_pub,
            AttributeType::PublicExponent,
        )),
    )
    .expect("RSA key");
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
    rsa::signature::Verifier::verify(
        &vk,
        data,
        &rsa::pkcs1v15::Signature::try_from(rsa_sig).expect("sig"),
    )
    .expect("rsa crate verifies pkcs11-tool's RSA signature");
}

#[test]
fn pkcs11_tool_end_to_end() {
    let Some(bin) = find_tool() else {
        return;
    };
    let env = TestEnv::new();
    let t = Tool {
        bin,
        module: lib_path(),
        env: &env,
    };
    setup_token(&t);
    generate_keys(&t);
    let (ec_sig, rsa_sig) = sign_verify_hash(&t);
    change_pin_and_delete(&t);

    let r = t.run(&["--test", "--login", "--pin", USER_PIN]);
    assert_clean_test_run(&r);
    let r = t.run(&[
        "--test",
        "--login",
        "--pin",
        USER_PIN,
        "--session-rw",
        "--allow-sw",
    ]);
    assert_clean_test_run(&r);

    let data = read(&t.path("data.txt"));
    drop(t);
    verify_in_process(env, &data, &ec_sig, &rsa_sig);
}
