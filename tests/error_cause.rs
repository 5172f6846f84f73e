//! A generic return code keeps its cause (issue 12): when the token store
//! is not a database, C_Initialize answers CKR_DEVICE_ERROR and the trace
//! (`KEYWARD_TRACE`) says why, as the admin CLI's message does — SQLite's
//! own words, nothing from the caller.

#[macro_use]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::raw::f30;
use cryptoki_sys::*;

const CHILD: &str = "KEYWARD_TEST_CAUSE_CHILD";
const CHILD_TEST: &str = "trace_child";

/// A store whose token file is random bytes.
fn broken_store(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(store.join("slot-0.sqlite"), junk).unwrap();
    let conf = dir.join("keyward.toml");
    std::fs::write(
        &conf,
        format!("store_dir = {store:?}\npin_kdf_iterations = 1000\n"),
    )
    .unwrap();
    conf
}

/// Run by `trace_names_the_cause` in a child process with KEYWARD_TRACE
/// set, so the trace on fd 2 is the child's stderr.
#[test]
fn trace_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let f = f30();
    assert_rv!(
        ck!(f, C_Initialize(std::ptr::null_mut())),
        CKR_DEVICE_ERROR,
        "C_Initialize over a broken store"
    );
}

#[test]
fn trace_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let conf = broken_store(dir.path());
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("KEYWARD_TRACE", "1")
        .env("KEYWARD_CONF", &conf)
        .env_remove("KEYWARD_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(
        stderr
            .contains("keyward: C_Initialize -> CKR_DEVICE_ERROR (cause: file is not a database)"),
        "{stderr}"
    );
}

#[test]
fn cli_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let conf = broken_store(dir.path());
    let out = Command::new(common::cli_bin::keyward_bin())
        .args(["token", "info"])
        .env("KEYWARD_CONF", &conf)
        .env_remove("KEYWARD_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("(CKR_DEVICE_ERROR); cause: file is not a database"),
        "{stderr}"
    );
}
