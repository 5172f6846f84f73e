//! Driver for OpenSC's `pkcs11-tool` against the built module: finding
//! the tool (skipped loudly without it, an error under CI=true), running
//! it on a test's store, and the checks the pkcs11-tool suites share
//! (token set-up, sign / verify round trips, a clean `--test` run).

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::{ENV_CONF, ENV_STORE, SO_PIN, TestEnv, USER_PIN};

pub const TOOL: &str = "/usr/bin/pkcs11-tool";

/// The tool, or None when the test should be skipped.
pub fn find_tool() -> Option<PathBuf> {
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

pub struct Tool<'a> {
    pub bin: PathBuf,
    pub module: PathBuf,
    pub env: &'a TestEnv,
}

pub struct Run {
    pub ok: bool,
    pub out: String,
}

impl Tool<'_> {
    pub fn run(&self, args: &[&str]) -> Run {
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
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.ok, "pkcs11-tool {} failed:\n{}", args.join(" "), r.out);
        r.out
    }

    pub fn path(&self, name: &str) -> String {
        self.env.root.join(name).to_string_lossy().into_owned()
    }
}

#[track_caller]
pub fn assert_has(out: &str, needle: &str) {
    assert!(
        out.contains(needle),
        "expected `{needle}` in output:\n{out}"
    );
}

/// No mechanism may claim CKF_HW (`-M` prints it as the flag `hw`).
pub fn assert_no_hw_flag(mechs: &str) {
    for line in mechs.lines() {
        assert!(
            !line.split(',').any(|f| f.trim() == "hw"),
            "mechanism claims CKF_HW: {line}"
        );
    }
}

/// `--test` output: success, "No errors", and no error lines.
pub fn assert_clean_test_run(r: &Run) {
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

pub fn read(p: &str) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

pub fn setup_token(t: &Tool) {
    assert_has(&t.ok(&["-I"]), "Cryptoki version 3.2");
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

/// Sign with the tool, verify with the tool; returns the signature.
pub fn sign_and_verify(t: &Tool, mech: &str, id: &str, data: &str, out: &str) -> Vec<u8> {
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

/// Run as the user with software mechanisms allowed; require success.
pub fn user_ok(t: &Tool, args: &[&str]) -> String {
    t.ok(&[&["--login", "--pin", USER_PIN, "--allow-sw"][..], args].concat())
}
