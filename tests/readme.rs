//! Runs the README's "Managing the key lifecycle" walk-through exactly as
//! written, with the `keyward` this build made first on PATH, so the
//! documented commands cannot drift from the real ones.

#[path = "common/cli_bin.rs"]
mod cli_bin;

use std::path::Path;
use std::process::Command;

const START: &str = "<!-- lifecycle-walkthrough:start -->";
const END: &str = "<!-- lifecycle-walkthrough:end -->";

fn walkthrough() -> String {
    block(START, END)
}

#[test]
fn lifecycle_walkthrough_runs_as_written() {
    let script = walkthrough();
    let path = path_with_keyward();
    // The walk-through serves TLS with OpenSSL's pkcs11-provider.
    let module = module();
    if !has_pkcs11_provider() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIP: the walk-through needs openssl and pkcs11-provider");
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(cwd.path())
        .env("PATH", path)
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_STORE")
        .env_remove("OPENSSL_CONF")
        .env("KEYWARD_MODULE", &module)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let server_log = std::fs::read_to_string(cwd.path().join("s_server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "walk-through failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- s_server.log\n{server_log}",
        out.status
    );
    // The steps did what they say.
    assert!(stdout.contains("audit trail OK"), "{stdout}");
    assert!(cwd.path().join("token.kwbackup").exists());
    let audit = std::fs::read_to_string(cwd.path().join("audit.jsonl")).unwrap();
    for event in ["token_init", "generate", "rotate", "state_change"] {
        assert!(audit.contains(&format!("\"event\":\"{event}\"")), "{event}");
    }
    // The renewed certificate was requested, bound and served.
    assert!(
        stdout.contains("certificate request for web-tls"),
        "{stdout}"
    );
    assert!(stdout.contains("bound to \"web-tls\""), "{stdout}");
    let served = std::fs::read_to_string(cwd.path().join("served.txt")).unwrap();
    assert!(served.contains("serial=02"), "{served}");
}

/// OpenSSL with pkcs11-provider in its modules directory.
fn has_pkcs11_provider() -> bool {
    let Ok(out) = Command::new("openssl").args(["version", "-m"]).output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    text.split('"')
        .nth(1)
        .is_some_and(|dir| Path::new(dir).join("pkcs11.so").exists())
}

#[cfg(feature = "postgres")]
#[path = "common/backend.rs"]
mod backend;
#[cfg(feature = "postgres")]
#[path = "common/pg.rs"]
mod pg;

/// PATH with the directory of the `keyward` this build made first.
fn path_with_keyward() -> String {
    format!(
        "{}:{}",
        cli_bin::keyward_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs a README block with `bash -euo pipefail` in `cwd`, with `env` and
/// without the caller's Keyward variables; panics with its output when it
/// fails, else returns (stdout, stderr).
fn run_block(
    what: &str,
    script: &str,
    cwd: &Path,
    env: &[(&str, std::ffi::OsString)],
) -> (String, String) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_STORE")
        .env_remove("XDG_DATA_HOME")
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// The module this test run built (beside the test binary).
fn module() -> std::path::PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("libkeyward.so")
}

fn block(start: &str, end: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let from = readme.find(start).expect("start marker") + start.len();
    let to = readme.find(end).expect("end marker");
    readme[from..to]
        .trim()
        .strip_prefix("```bash")
        .and_then(|b| b.strip_suffix("```"))
        .expect("one ```bash block between the markers")
        .to_string()
}

/// "One token for many hosts": the shared-store walk-through against a
/// throw-away PostgreSQL (TLS, verify-full), as written.
#[cfg(feature = "postgres")]
#[test]
fn fleet_walkthrough_runs_as_written() {
    let Some(server) = backend::server() else {
        return;
    };
    let script = block(
        "<!-- fleet-walkthrough:start -->",
        "<!-- fleet-walkthrough:end -->",
    );
    let path = path_with_keyward();
    let module = module();
    let cwd = tempfile::tempdir().unwrap();
    // This process's own cluster (or the runner's): the script's token
    // takes slot 0's default schema, the migrated one `single_host`.
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(cwd.path())
        .env("PATH", path)
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_STORE")
        .env("KEYWARD_MODULE", &module)
        .env("DB_URL", &server.url)
        .env("DB_PASSWORD_FILE", &server.password_file)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fleet walk-through failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("web-tls"), "{stdout}");
    assert!(stdout.contains("audit trail OK"), "{stdout}");
    assert!(stdout.contains("migrated slot 0"), "{stdout}");
}

/// "Separation of duties": officers, a 2-of-3 quorum, a protected
/// destroy, a 3-of-5 custodian backup and its approved restore, and the
/// auditor's check, as written.
#[test]
fn separation_of_duties_walkthrough_runs_as_written() {
    let script = block(
        "<!-- sod-walkthrough:start -->",
        "<!-- sod-walkthrough:end -->",
    );
    let cwd = tempfile::tempdir().unwrap();
    let (stdout, stderr) = run_block(
        "separation-of-duties walk-through",
        &script,
        cwd.path(),
        &[("PATH", path_with_keyward().into())],
    );
    // The refusals happened for the documented reasons.
    assert!(
        stderr.contains("destroy of object:") && stderr.contains("needs 2 officer approval(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("needs 3 of them"), "{stderr}");
    assert!(stderr.contains("wrong user PIN"), "{stderr}");
    // And the approved operations did theirs.
    assert!(
        stdout.contains("rule      destroy needs 2 of 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bob approved request 1: 2 of 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("restored slot 0 from vault.kwb"),
        "{stdout}"
    );
    assert!(stdout.contains("audit trail OK"), "{stdout}");
    assert!(stdout.contains("approved by bob, carol"), "{stdout}");
    // The restored token's key list: the backup's key, not the destroyed one.
    let listed = stdout
        .split("restored slot 0")
        .nth(1)
        .and_then(|rest| rest.split("audit trail OK").next())
        .unwrap_or_default();
    assert!(listed.contains("signing"), "{stdout}");
    assert!(!listed.contains("payroll"), "{stdout}");
}

/// "Using the module": the pkcs11-tool block, as written, in a fresh HOME
/// where target/release/libkeyward.so is the module this build made.
#[test]
fn pkcs11_tool_block_runs_as_written() {
    let script = block(
        "<!-- pkcs11-tool-block:start -->",
        "<!-- pkcs11-tool-block:end -->",
    );
    let found = Command::new("sh")
        .args(["-c", "command -v pkcs11-tool"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "pkcs11-tool is not installed (CI=true)"
        );
        eprintln!("SKIP: pkcs11-tool is not installed");
        return;
    }
    let module = module();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cwd.path().join("target/release")).unwrap();
    std::os::unix::fs::symlink(&module, cwd.path().join("target/release/libkeyward.so")).unwrap();
    let home = cwd.path().join("home");
    let (stdout, _) = run_block(
        "pkcs11-tool block",
        &script,
        cwd.path(),
        &[("HOME", home.clone().into_os_string())],
    );
    assert!(stdout.contains("Signature is valid"), "{stdout}");
    assert!(home.join(".local/share/keyward/slot-0.sqlite").is_file());
}
