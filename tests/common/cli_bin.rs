//! Where the `keyward` command is: built from crates/keyward-cli into the
//! same target directory as these tests (`cargo build` and `cargo test`
//! at the top of the workspace build it; its own integration test makes
//! `cargo test` build the plain binary).

use std::path::PathBuf;

/// The built `keyward` binary, beside the `deps/` folder of this test.
pub fn keyward_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("keyward");
    assert!(
        bin.exists(),
        "{} not found: run the tests from the top of the workspace \
         (`cargo test --all-targets` builds crates/keyward-cli too)",
        bin.display()
    );
    bin
}
