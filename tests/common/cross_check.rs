//! Runs a cross-check script of tests/interop/ (an independent
//! implementation from PyPI: pyca/cryptography, PyNaCl) with python3. A
//! script exits 77 when its library is missing: then the check is skipped
//! loudly, and under CI=true it fails, as every missing tool does.

use std::process::{Command, Output};

/// Runs `tests/interop/<script>` with `args`; `None` when the script (or
/// python3) reports its library missing. `needs` names what it needs, for
/// the message.
pub fn run_script(script: &str, args: &[String], needs: &str) -> Option<Output> {
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3").arg(&path).args(args).output();
    let missing = match &out {
        Ok(o) => o.status.code() == Some(77),
        Err(_) => true,
    };
    if missing {
        let why = match &out {
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => format!("python3: {e}"),
        };
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: {script} needs {needs}: {why}"
        );
        eprintln!("SKIP: {why}");
        return None;
    }
    out.ok()
}
