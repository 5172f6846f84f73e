//! The object-count rows: at 1k / 10k / 100k public token CKO_DATA objects
//! (distinct labels), (a) find one by CKA_LABEL, (b) cold start =
//! C_Initialize → C_OpenSession → first find (login excluded) and (c) VmRSS
//! after C_Initialize + login + a find returning every object. Each
//! measurement runs in a FRESH process: the bench re-executes itself with
//! [`CHILD`] set, and the child prints `key=value` lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cryptoki_sys::*;

use super::ffi::{self, Module, Tmpl, ck, ok};
use super::timing::{median, thousands};
use super::{SOFTHSM, Settings};

/// Env var naming the child's job ("populate" or "measure").
pub const CHILD: &str = "KEYWARD_BENCH_CHILD";
const MODULE: &str = "KEYWARD_BENCH_MODULE";
const COUNT: &str = "KEYWARD_BENCH_COUNT";
const BUDGET: &str = "KEYWARD_BENCH_CHILD_MS";
const FROM: &str = "KEYWARD_BENCH_FROM";
const LABEL: &str = "objects";
/// Longest we let SoftHSMv2 spend making one count's objects.
const SOFTHSM_LIMIT: Duration = Duration::from_secs(60);

fn label(i: usize) -> Vec<u8> {
    format!("obj-{i:07}").into_bytes()
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// Nanoseconds this process has run on a CPU (not waited for one): on a
/// machine shared with other work, the cold-start CPU cost apart from the
/// scheduler's delays.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn vmrss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One C_FindObjectsInit(CKA_LABEL) + C_FindObjects + C_FindObjectsFinal;
/// exactly one hit expected.
fn find_one(f: ffi::Funcs, h: CK_SESSION_HANDLE, t: &mut Tmpl) {
    let (p, n) = t.as_mut();
    ok(ck!(f, C_FindObjectsInit(h, p, n)), "C_FindObjectsInit");
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let mut got: CK_ULONG = 0;
    ok(
        ck!(f, C_FindObjects(h, found.as_mut_ptr(), 2, &mut got)),
        "C_FindObjects",
    );
    assert_eq!(got, 1, "find by label");
    ok(ck!(f, C_FindObjectsFinal(h)), "C_FindObjectsFinal");
}

/// Child jobs. `populate`: init the token and create N objects.
/// `measure`: cold start, find latency, then login + find-all RSS.
pub fn child(kind: &str) {
    let path = PathBuf::from(env(MODULE));
    let n: usize = env(COUNT).parse().expect("count");
    match kind {
        "populate" => {
            // Objects [from, n): a store grows from one count to the next
            // instead of being made again.
            let from: usize = std::env::var(FROM)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut m = Module::load("module", &path);
            let h = if from == 0 {
                m.init_token(LABEL)
            } else {
                m.slot = m.find_token(LABEL).expect("token");
                let h = m.open(true);
                m.login(h, CKU_USER, ffi::USER_PIN);
                h
            };
            let start = Instant::now();
            let limit = std::env::var("KEYWARD_BENCH_LIMIT_S")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs);
            for i in from..n {
                let mut t = Tmpl::new()
                    .ulong(CKA_CLASS, CKO_DATA)
                    .bool(CKA_TOKEN, true)
                    .bool(CKA_PRIVATE, false)
                    .bytes(CKA_LABEL, &label(i))
                    .bytes(CKA_VALUE, &[0xa5; 16]);
                let (p, c) = t.as_mut();
                let mut o = 0;
                ok(ck!(m.f, C_CreateObject(h, p, c, &mut o)), "C_CreateObject");
                if i == from + 999
                    && let Some(limit) = limit
                    && start.elapsed() * ((n - from) as u32 / 1000) > limit
                {
                    println!("too_slow_ms_per_1000={}", start.elapsed().as_millis());
                    m.finalize();
                    return;
                }
            }
            println!("create_ms={}", start.elapsed().as_millis());
            m.finalize();
        }
        "measure" => {
            let budget = Duration::from_millis(env(BUDGET).parse().expect("budget"));
            let mut m = Module::dlopen("module", &path);
            let mut t = Tmpl::new().bytes(CKA_LABEL, &label(n / 2));
            // What the process holds before the module does anything: the
            // bench binary links every crate it compares against, so its
            // own RSS is larger than a small C application's.
            let base = vmrss_kib();
            let cpu0 = cpu_ns();
            let start = Instant::now();
            m.initialize();
            let init = start.elapsed();
            m.slot = m.find_token(LABEL).expect("token");
            let h = m.open(false);
            let open = start.elapsed();
            find_one(m.f, h, &mut t);
            let cold = start.elapsed();
            let cold_cpu = cpu_ns().saturating_sub(cpu0);
            println!("cold_us={}", cold.as_micros());
            println!("cold_cpu_us={}", cold_cpu / 1000);
            println!("cold_init_us={}", init.as_micros());
            println!("cold_open_us={}", (open - init).as_micros());
            println!("cold_find_us={}", (cold - open).as_micros());
            let mut lat = Vec::new();
            let loop_start = Instant::now();
            while loop_start.elapsed() < budget || lat.len() < 5 {
                let t0 = Instant::now();
                find_one(m.f, h, &mut t);
                lat.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            println!("find_us={:.2}", median(&mut lat));
            m.login(h, CKU_USER, ffi::USER_PIN);
            println!("rss_login_kib={}", vmrss_kib().saturating_sub(base));
            let all = ffi::find(m.f, h, &mut Tmpl::new(), 4096);
            assert!(all.len() >= n, "find-all returned {}", all.len());
            let rss = vmrss_kib();
            println!("rss_kib={rss}");
            println!("rss_module_kib={}", rss.saturating_sub(base));
            // A well-behaved application finalizes: the store's WAL is
            // checkpointed, so the next cold start does not replay it.
            m.finalize();
        }
        other => panic!("unknown child job {other}"),
    }
}

fn run_child(
    kind: &str,
    module: &Path,
    n: usize,
    vars: &[(String, PathBuf)],
    extra: &[(&str, String)],
) -> Vec<(String, f64)> {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.env(CHILD, kind)
        .env(MODULE, module)
        .env(COUNT, n.to_string());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn child");
    assert!(
        out.status.success(),
        "child {kind} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn get(kv: &[(String, f64)], key: &str) -> Option<f64> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

struct ObjRow {
    module: &'static str,
    n: usize,
    create_ms_each: f64,
    find_us: f64,
    cold_ms: f64,
    cold_cpu_ms: f64,
    rss_mib: f64,
    rss_module_mib: f64,
}

/// Grows the store from `from` to `n` objects, then measures it in fresh
/// processes, `s.rounds` times.
fn measure_module(
    s: &Settings,
    module: &'static str,
    path: &Path,
    vars: &[(String, PathBuf)],
    (from, n): (usize, usize),
    limit: Option<Duration>,
) -> Result<ObjRow, String> {
    let mut extra: Vec<(&str, String)> = vec![(FROM, from.to_string())];
    if let Some(l) = limit {
        extra.push(("KEYWARD_BENCH_LIMIT_S", l.as_secs().to_string()));
    }
    let made = run_child("populate", path, n, vars, &extra);
    if let Some(ms) = get(&made, "too_slow_ms_per_1000") {
        return Err(format!(
            "- {module} at {} objects skipped: 1,000 C_CreateObject took {ms:.0} ms (over {} s projected)",
            thousands(n as f64),
            limit.map_or(0, |l| l.as_secs())
        ));
    }
    let budget = [(BUDGET, s.budget.as_millis().to_string())];
    let mut cols: [Vec<f64>; 5] = Default::default();
    for _ in 0..s.rounds {
        let kv = run_child("measure", path, n, vars, &budget);
        for (col, (key, scale)) in cols.iter_mut().zip([
            ("cold_us", 1000.0),
            ("cold_cpu_us", 1000.0),
            ("find_us", 1.0),
            ("rss_kib", 1024.0),
            ("rss_module_kib", 1024.0),
        ]) {
            col.push(get(&kv, key).unwrap_or_else(|| panic!("child printed no {key}")) / scale);
        }
    }
    let [cold, cpu, find, rss, share] = &mut cols;
    Ok(ObjRow {
        module,
        n,
        create_ms_each: get(&made, "create_ms").unwrap_or(f64::NAN) / (n - from) as f64,
        find_us: median(find),
        cold_ms: median(cold),
        cold_cpu_ms: median(cpu),
        rss_mib: median(rss),
        rss_module_mib: median(share),
    })
}

/// Prints the object rows. Each module's store grows from one count to the
/// next (1k, then 9k more, then 90k more) in a temp dir removed at the end.
pub fn rows(s: &Settings, softhsm: bool) {
    let counts: Vec<usize> = if s.full {
        std::env::var("KEYWARD_BENCH_OBJECTS")
            .unwrap_or_else(|_| "1000,10000,100000".into())
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect()
    } else {
        vec![1000]
    };
    let dir = tempfile::Builder::new()
        .prefix("keyward-bench-objects-")
        .tempdir()
        .expect("tempdir");
    let kw = super::keyward_env(&dir.path().join("keyward"));
    let sh = super::softhsm_env(&dir.path().join("softhsm"));
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let (mut kw_from, mut sh_from) = (0, 0);
    let mut sh_ms_each: Option<f64> = None;
    for &n in &counts {
        match measure_module(
            s,
            "Keyward",
            &super::keyward_path(),
            &kw,
            (kw_from, n),
            None,
        ) {
            Ok(row) => {
                kw_from = n;
                out.push(row);
            }
            Err(e) => skipped.push(e),
        }
        if !(softhsm && s.full && n <= 10_000) {
            continue;
        }
        // SoftHSMv2 writes one file per object: only where making them
        // is projected under a minute from the previous count's rate.
        let projected = sh_ms_each.map_or(Duration::ZERO, |ms| {
            Duration::from_secs_f64(ms * (n - sh_from) as f64 / 1000.0)
        });
        if projected >= SOFTHSM_LIMIT {
            skipped.push(format!(
                "- SoftHSMv2 at {} objects skipped: making them was projected at {:.0} s (over {} s)",
                thousands(n as f64),
                projected.as_secs_f64(),
                SOFTHSM_LIMIT.as_secs()
            ));
            continue;
        }
        let limit = Some(SOFTHSM_LIMIT);
        match measure_module(s, "SoftHSMv2", Path::new(SOFTHSM), &sh, (sh_from, n), limit) {
            Ok(row) => {
                sh_ms_each = Some(row.create_ms_each);
                sh_from = n;
                out.push(row);
            }
            Err(e) => {
                sh_ms_each = Some(f64::INFINITY);
                skipped.push(e);
            }
        }
    }
    println!(
        "\n## Objects (public token CKO_DATA objects, distinct labels; each measurement in a fresh process)\n"
    );
    println!(
        "| module | objects | ms per C_CreateObject | find by label (µs) | cold start (ms) | its CPU time (ms) | VmRSS after login + find-all (MiB) | of it added from C_Initialize on (MiB) |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in out {
        println!(
            "| {} | {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.1} | {:.1} |",
            r.module,
            thousands(r.n as f64),
            r.create_ms_each,
            r.find_us,
            r.cold_ms,
            r.cold_cpu_ms,
            r.rss_mib,
            r.rss_module_mib
        );
    }
    for line in &skipped {
        println!("{line}");
    }
}
