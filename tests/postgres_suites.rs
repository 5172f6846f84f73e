//! The C-ABI suites again, every token in PostgreSQL (issue 14: "the whole
//! C-ABI suite against a Postgres slot — parameterize the existing tests
//! by backend, don't fork them"). Each suite's own binary, built by the
//! same `cargo test`, is run again with `KEYWARD_TEST_BACKEND=postgres`
//! against one throw-away cluster (TLS, verify-full) started here; the
//! harness (tests/common/backend.rs) then puts slot 0 of every test's
//! config in a fresh schema. Suites that read or damage the SQLite file
//! itself are not run here — they test the file: store_at_rest,
//! tamper_report, unsealed_rows, audit_tamper, audit_durability (SQLite's
//! WAL and fsync levels), destruction and cli_token_reset (no byte of an
//! erased key left in the file or its WAL), backup_restore (restore over a
//! live file). One suite at a time.

#![cfg(feature = "postgres")]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use common::backend::{ENV_BACKEND, ENV_PG_PASSWORD_FILE, ENV_PG_URL, server};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The newest `target/<profile>/deps/<suite>-<hash>` test binary: the one
/// this `cargo test` built (older hashes are earlier builds).
fn suite_binary(suite: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .expect("deps dir")
        .to_path_buf();
    let prefix = format!("{suite}-");
    std::fs::read_dir(&deps)
        .expect("read deps")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix(&prefix)
                .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no test binary for suite {suite} in {}", deps.display()))
}

fn run(suite: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(server) = server() else { return };
    let out = Command::new(suite_binary(suite))
        .env(ENV_BACKEND, "postgres")
        .env(ENV_PG_URL, &server.url)
        .env(ENV_PG_PASSWORD_FILE, &server.password_file)
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_STORE")
        .output()
        .expect("run the suite");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "suite {suite} failed on PostgreSQL:\n{text}"
    );
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("test result"))
        .collect();
    println!("{suite} on PostgreSQL: {}", summary.join(" | "));
}

macro_rules! suites {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*
    };
}

suites!(
    abi,
    abi_session,
    aes_ccm,
    aes_encrypt_data,
    aes_feedback,
    bulk_cipher,
    bulk_modes,
    cbc_mac,
    chacha20_poly1305,
    chacha20_raw,
    cipher,
    cli,
    cli_admin,
    cli_certs,
    cli_ed448,
    cli_lifecycle,
    cli_ml_dsa,
    cli_ml_kem,
    cli_quorum,
    cli_slh_dsa,
    cli_ux,
    cli_ux_tty,
    dh,
    direct_outputs,
    dsa,
    dual_function,
    ec_legacy_curves,
    ed448,
    edwards_sha3_cmac,
    error_cause,
    fips_mode,
    fork,
    hmac_keygen,
    interface_3_2,
    kbkdf,
    kdf,
    key_cache_coherence,
    key_extraction,
    key_schedule,
    keypair_atomic,
    lifecycle,
    lifecycle_policy,
    message_gcm,
    mk_rotation_live,
    ml_dsa,
    ml_kem,
    multiprocess,
    object_limits,
    operation_state,
    pin_concurrency,
    pkcs11_tool,
    process_threads_auth,
    protected_path,
    rotation_torture,
    session_scale,
    session_stall,
    sign_recover,
    simple_derive,
    slh_dsa,
    token,
    token_objects,
    versions,
    wrap_derive,
    wrap_templates,
);
