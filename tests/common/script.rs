//! Runs one script of `tests/interop/` against the module and the
//! `keyward` built for this test run, in a fresh temporary store. A script
//! exits 77 to skip when its tool is missing, which it may do only outside
//! CI (`CI=true` turns a missing tool into a failure).

#[path = "cli_bin.rs"]
mod cli_bin;

use std::path::PathBuf;
use std::process::Command;

fn module() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

/// Runs tests/interop/`script` with `args`; its output is printed, and a
/// failure (or a skip under CI) panics with it.
pub fn run(script: &str, args: &[&str]) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("KEYWARD_MODULE", module())
        .env("KEYWARD_BIN", cli_bin::keyward_bin())
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_STORE")
        .output()
        .expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    match out.status.code() {
        Some(0) => {}
        Some(77) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIP {script}: {}", text.lines().last().unwrap_or(""));
        }
        code => panic!("{script} failed (exit {code:?}):\n{text}"),
    }
    text
}
