//! Shared by the CLI test files: a temporary store with its config, and
//! running the built `keyward` on it as a script would (stdin not a
//! terminal, only the environment given).

#![allow(dead_code)]

// Also loaded by `common` in tests that use both helpers.
#[allow(clippy::duplicate_mod)]
#[path = "../common/cli_bin.rs"]
mod cli_bin;
// The backend switch of the C-ABI suites (KEYWARD_TEST_BACKEND=postgres).
#[allow(clippy::duplicate_mod)]
#[path = "../common/backend.rs"]
pub mod backend;
#[allow(clippy::duplicate_mod)]
#[path = "../common/pg.rs"]
pub mod pg;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub const SO_PIN: &str = "so-pin-1";
pub const USER_PIN: &str = "user-pin-1";

/// Every variable the CLI reads; cleared so the caller's shell cannot leak in.
const CLI_ENV: [&str; 12] = [
    "CREDENTIALS_DIRECTORY",
    "KEYWARD_AUDITOR_PASSPHRASE",
    "KEYWARD_NEW_AUDITOR_PASSPHRASE",
    "KEYWARD_OFFICER_PASSPHRASE",
    "KEYWARD_NEW_OFFICER_PASSPHRASE",
    "KEYWARD_PIN",
    "KEYWARD_SO_PIN",
    "KEYWARD_NEW_PIN",
    "KEYWARD_NEW_SO_PIN",
    "KEYWARD_STORE",
    "KEYWARD_TRACE",
    "NO_COLOR",
];

/// A temporary store and the config file that names it.
pub struct Store {
    pub dir: TempDir,
    pub conf: PathBuf,
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("keyward.toml");
        let text = format!(
            "store_dir = {:?}\npin_kdf_iterations = 1000\n{}",
            dir.path().join("store"),
            backend::with_backend("")
        );
        std::fs::write(&conf, text).unwrap();
        Store { dir, conf }
    }

    /// Runs the CLI with `env` and `stdin` (empty when None).
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(cli_bin::keyward_bin());
        for name in CLI_ENV {
            cmd.env_remove(name);
        }
        cmd.env("KEYWARD_CONF", &self.conf)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI with the user PIN in the environment.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[("KEYWARD_PIN", USER_PIN)], None)
    }

    /// An initialized token with the user PIN set.
    pub fn initialized() -> Store {
        let store = Store::new();
        let out = store.run_with(
            &["token", "init", "--label", "cli-test"],
            &[
                ("KEYWARD_NEW_SO_PIN", SO_PIN),
                ("KEYWARD_NEW_PIN", USER_PIN),
            ],
            None,
        );
        ok(&out);
        store
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

pub fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
}

/// Asserts exit `code` and a stderr line `keyward: error: …` with `text`.
pub fn fails(out: &Output, code: i32, text: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(text), "{text:?} not in {err:?}");
}

pub fn json_of(out: &Output) -> Value {
    ok(out);
    serde_json::from_str(&stdout(out)).unwrap()
}
