//! Runs the interop scripts in `tests/interop/`, each driving a real client
//! (OpenSSL with pkcs11-provider, NSS, GnuTLS/p11-kit, OpenSSH, PyKCS11)
//! against the module built for this test run, in a fresh temporary store.
//! A script exits 77 to skip when its tool is missing, which it may do only
//! outside CI (`CI=true` turns a missing tool into a failure).

#[path = "common/script.rs"]
mod script;

fn run(script: &str) {
    script::run(script, &[]);
}

/// [`run`] with arguments for the script.
fn run_args(name: &str, args: &[&str]) {
    script::run(name, args);
}

#[test]
fn openssl_pkcs11_provider() {
    run("openssl.sh");
}

#[test]
fn nss_certutil() {
    run("nss.sh");
}

#[test]
fn gnutls_and_p11_kit() {
    run("gnutls_p11kit.sh");
}

/// Issue 14: a token served to another host by `p11-kit server`, used
/// through p11-kit-client.so without the PIN (the slot's user_pin_file).
#[test]
fn p11kit_remote_unix_socket() {
    run_args("p11kit_remote.sh", &["unix"]);
}

/// The same, then with the socket forwarded over ssh (sshd on loopback).
#[test]
fn p11kit_remote_over_ssh() {
    run_args("p11kit_remote.sh", &["ssh"]);
}

#[test]
fn openssh() {
    run("ssh.sh");
}

#[test]
fn python_pykcs11() {
    run("python.sh");
}

/// python-pkcs11's own test suite (issue 13), under the `compat` policy
/// profile and the default policy.
#[test]
fn python_pkcs11_suite() {
    run("python_pkcs11.sh");
}

/// PyKCS11's own test suite (1.5.20, from PyPI), as its project runs it
/// against SoftHSMv2.
#[test]
fn pykcs11_suite() {
    run("pykcs11_suite.sh");
}

#[test]
fn pkcs11_tool_admin_cycle() {
    run("pkcs11_tool.sh");
}

#[test]
fn java_sunpkcs11() {
    run("java.sh");
}

#[test]
fn rotation_pkcs11_tool_and_openssl_uri() {
    run("rotation.sh");
}
