//! The built `keyward` command answers for itself. (Its being an
//! integration test also makes `cargo test` build the plain binary, which
//! the module's tests at the top of the workspace run.)

use std::process::Command;

#[test]
fn version_and_help() {
    let bin = env!("CARGO_BIN_EXE_keyward");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        version.trim(),
        format!("keyward {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in [
        "token",
        "pin",
        "keys",
        "audit",
        "auditor",
        "backup",
        "master-key",
        "policy",
    ] {
        assert!(help.contains(command), "{command} missing from --help");
    }
}
