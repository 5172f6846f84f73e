//! One command, the whole comparison (issue 11): `cargo bench --bench ops`
//! prints markdown tables of ops/s per operation for Keyward through its C
//! ABI, the raw crate doing the same work directly, and SoftHSMv2 (when
//! installed) — measured interleaved in the same run, median of R rounds —
//! then the 1/2/4-thread rows and the object-count rows (find latency, cold
//! start and RSS at 1k/10k/100k token objects, in fresh processes).
//!
//! Knobs: `KEYWARD_BENCH_ROUNDS` (default 5), `KEYWARD_BENCH_MS` per cell
//! (default 200), `KEYWARD_BENCH_OBJECTS` (comma list, default
//! 1000,10000,100000), `KEYWARD_BENCH_ONLY` (`threads`, or only the operation rows
//! whose name contains it). Under `cargo test --all-targets` (no `--bench`
//! argument) it runs one tiny smoke round: every call's CK_RV is still
//! checked and every row's result verified once.

#[path = "ops/cases.rs"]
mod cases;
#[path = "ops/ffi.rs"]
mod ffi;
#[path = "ops/objects.rs"]
mod objects;
#[cfg(feature = "aws-lc")]
#[path = "ops/rawawslc.rs"]
mod rawawslc;
#[path = "ops/rawcrate.rs"]
mod rawcrate;
#[path = "ops/timing.rs"]
mod timing;

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Duration;

use cryptoki_sys::CK_SESSION_HANDLE;

use ffi::Module;
use timing::{NAMES, Op, index, measure, median, ratio, thousands};

pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Run settings: `full` under `cargo bench`, a smoke round otherwise.
#[derive(Clone, Copy)]
pub struct Settings {
    pub full: bool,
    pub rounds: usize,
    pub budget: Duration,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The module built with this bench: cargo leaves the cdylib in
/// `target/<profile>/deps/` (it is copied up only by `cargo build`).
pub fn keyward_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").join("libkeyward.so")
}

/// Points the next C_Initialize of Keyward at a fresh store under `dir`.
pub fn keyward_env(dir: &Path) -> Vec<(String, PathBuf)> {
    let store = dir.join("store");
    std::fs::create_dir_all(&store).expect("store dir");
    let conf = dir.join("keyward.toml");
    // Low PIN KDF cost keeps set-up quick; it does not affect the rows.
    std::fs::write(&conf, "pin_kdf_iterations = 1000\n").expect("config");
    vec![
        ("KEYWARD_STORE".into(), store),
        ("KEYWARD_CONF".into(), conf),
    ]
}

/// A SoftHSMv2 config with its token directory under `dir`.
pub fn softhsm_env(dir: &Path) -> Vec<(String, PathBuf)> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("softhsm dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("softhsm conf");
    vec![("SOFTHSM2_CONF".into(), conf)]
}

fn set_env(vars: &[(String, PathBuf)]) {
    for (k, v) in vars {
        // SAFETY: set before any thread is started; each module reads
        // these at its C_Initialize.
        unsafe { std::env::set_var(k, v) };
    }
}

fn header(s: &Settings) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cmd = |c: &str, a: &[&str]| {
        std::process::Command::new(c)
            .args(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# Keyward vs raw crate vs SoftHSMv2\n");
    println!("- machine: {cpu}, {cores} cores");
    println!("- date: {}", cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]));
    println!("- rustc: {}", cmd("rustc", &["--version"]));
    // The `aws-lc` feature swaps ECDSA and RSA primitives (src/mechanism/provider/).
    // This names the provider of the bench's own build; the module it loads
    // (deps/libkeyward.so) is the one the same `cargo bench` built, so run
    // it through cargo rather than a binary left from another feature set.
    println!(
        "- Keyward crypto provider: {}",
        keyward::mechanism::provider::active_name()
    );
    if cfg!(feature = "aws-lc") {
        // The key-generation rows compare with what this build generates
        // with (benches/ops/rawcrate.rs).
        println!("- raw column of the key-generation rows: aws-lc-rs");
    }
    println!(
        "- profile: {}; {} round(s) of {} ms per cell, interleaved; median shown",
        if cfg!(debug_assertions) {
            "debug (smoke)"
        } else {
            "release (bench)"
        },
        s.rounds,
        s.budget.as_millis()
    );
    println!(
        "- load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "- Keyward and SoftHSMv2 through the raw C function list (C_*Init + one-shot call, preallocated output, no length query); token keys, user logged in, one thread"
    );
}

/// Keyward, raw crate, SoftHSMv2: the three columns, each a list of ops.
struct Column {
    name: &'static str,
    ops: Vec<Option<Op>>,
}

fn module_column(m: &Module, session: CK_SESSION_HANDLE) -> (cases::Keys, Column) {
    let keys = cases::Keys::make(m, session);
    let ops = (0..NAMES.len()).map(|i| keys.op(i, session)).collect();
    (keys, Column { name: m.name, ops })
}

/// `KEYWARD_BENCH_ONLY=text`: only the operation rows whose name
/// contains `text` (e.g. to profile one row under `perf record`); the
/// thread and object rows are left out. `KEYWARD_BENCH_ONLY=threads`:
/// the thread rows alone.
fn only() -> Option<String> {
    std::env::var("KEYWARD_BENCH_ONLY").ok()
}

/// The `KEYWARD_BENCH_ONLY` value that selects the thread rows.
const THREADS_ONLY: &str = "threads";

fn ops_table(s: &Settings, cols: &mut [Column]) {
    // samples[row][column]
    let mut samples = vec![vec![Vec::new(); cols.len()]; NAMES.len()];
    let only = only();
    for _ in 0..s.rounds {
        for (i, row) in samples.iter_mut().enumerate() {
            if only
                .as_ref()
                .is_some_and(|o| !NAMES[i].contains(o.as_str()))
            {
                continue;
            }
            for (c, col) in cols.iter_mut().enumerate() {
                if let Some(op) = col.ops[i].as_mut() {
                    row[c].push(measure(op, s.budget));
                }
            }
        }
    }
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    println!("\n## Operations (ops/s)\n");
    let ratios: Vec<String> = names
        .iter()
        .skip(1)
        .map(|n| format!("Keyward/{n}"))
        .collect();
    println!(
        "| operation | {} | {} |",
        names.join(" | "),
        ratios.join(" | ")
    );
    println!(
        "|---|{}{}",
        "---:|".repeat(cols.len()),
        "---:|".repeat(ratios.len())
    );
    for (i, row) in samples.iter_mut().enumerate() {
        if only
            .as_ref()
            .is_some_and(|o| !NAMES[i].contains(o.as_str()))
        {
            continue;
        }
        let meds: Vec<f64> = row.iter_mut().map(|v| median(v)).collect();
        let cell = |c: usize| meds.get(c).copied().unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} |",
            NAMES[i],
            meds.iter()
                .map(|&m| thousands(m))
                .collect::<Vec<_>>()
                .join(" | "),
            (1..cols.len())
                .map(|c| ratio(cell(0), cell(c)))
                .collect::<Vec<_>>()
                .join(" | "),
        );
    }
}

/// Builds one thread's op: (column, row, thread number) -> op.
type Maker<'a> = &'a (dyn Fn(usize) -> Option<Op> + Sync);

/// Total ops/s of `threads` threads, each with its own op (own session).
fn threaded(threads: usize, make: Maker<'_>, budget: Duration) -> f64 {
    let start = Barrier::new(threads);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let start = &start;
                sc.spawn(move || {
                    let op = make(0);
                    start.wait();
                    op.map_or(f64::NAN, |mut op| measure(&mut op, budget))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    })
}

fn thread_rows(s: &Settings, kw: &cases::Keys, sh: Option<&cases::Keys>, rsa: &rsa::RsaPrivateKey) {
    const COUNTS: [usize; 3] = [1, 2, 4];
    let rows = ["ECDSA P-256 sign (32 B hash)", "AES-256-GCM encrypt 4 KiB"];
    let module_maker = |k: cases::Keys, i: usize| {
        move |_: usize| {
            let h = ffi::open(k.f, k.slot, false);
            k.op(i, h)
        }
    };
    println!("\n## Threads (total ops/s; each thread its own session)\n");
    println!(
        "| operation | threads | Keyward | ×1T | raw | ×1T | SoftHSMv2 | ×1T |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for name in rows {
        let i = index(name);
        let kmake = module_maker(*kw, i);
        let smake = sh.map(|k| module_maker(*k, i));
        let rmake = |_: usize| rawcrate::op(name, rsa);
        // samples[count][column]
        let mut samples = vec![vec![Vec::new(); 3]; COUNTS.len()];
        for _ in 0..s.rounds {
            for (ci, &t) in COUNTS.iter().enumerate() {
                samples[ci][0].push(threaded(t, &kmake, s.budget));
                samples[ci][1].push(threaded(t, &rmake, s.budget));
                if let Some(sm) = &smake {
                    samples[ci][2].push(threaded(t, sm, s.budget));
                }
            }
        }
        let meds: Vec<Vec<f64>> = samples
            .iter_mut()
            .map(|c| c.iter_mut().map(|v| median(v)).collect())
            .collect();
        for (ci, &t) in COUNTS.iter().enumerate() {
            let cells: Vec<String> = (0..3)
                .map(|col| {
                    format!(
                        "{} | {}",
                        thousands(meds[ci][col]),
                        ratio(meds[ci][col], meds[0][col])
                    )
                })
                .collect();
            println!("| {name} | {t} | {} |", cells.join(" | "));
        }
    }
}

fn main() {
    if let Ok(kind) = std::env::var(objects::CHILD) {
        objects::child(&kind);
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let s = Settings {
        full,
        rounds: if full {
            env_num("KEYWARD_BENCH_ROUNDS", 5).max(1) as usize
        } else {
            1
        },
        budget: Duration::from_millis(if full {
            env_num("KEYWARD_BENCH_MS", 200)
        } else {
            3
        }),
    };
    header(&s);
    let dir = tempfile::Builder::new()
        .prefix("keyward-bench-")
        .tempdir()
        .expect("tempdir");
    set_env(&keyward_env(&dir.path().join("keyward")));
    let mut kw = Module::load("Keyward", &keyward_path());
    let kw_session = kw.init_token("bench");
    let softhsm = Path::new(SOFTHSM).exists().then(|| {
        set_env(&softhsm_env(&dir.path().join("softhsm")));
        let mut m = Module::load("SoftHSMv2", Path::new(SOFTHSM));
        let h = m.init_token("bench");
        (m, h)
    });
    if softhsm.is_none() {
        println!("- SoftHSMv2 not installed at {SOFTHSM}: no peer column");
    }
    let (kw_keys, kw_col) = module_column(&kw, kw_session);
    let rsa = rawcrate::rsa_key();
    let raw_col = Column {
        name: "raw crate",
        ops: rawcrate::ops(&rsa),
    };
    let mut cols = vec![kw_col, raw_col];
    #[cfg(feature = "aws-lc")]
    cols.push(Column {
        name: "raw aws-lc-rs",
        ops: rawawslc::ops(),
    });
    let mut sh_keys = None;
    if let Some((m, h)) = &softhsm {
        let (k, c) = module_column(m, *h);
        sh_keys = Some(k);
        cols.push(c);
    }
    let threads_only = only().as_deref() == Some(THREADS_ONLY);
    if !threads_only {
        ops_table(&s, &mut cols);
    }
    drop(cols);
    if only().is_some() && !threads_only {
        return;
    }
    thread_rows(&s, &kw_keys, sh_keys.as_ref(), &rsa);
    if !threads_only {
        objects::rows(&s, softhsm.is_some());
    }
}
