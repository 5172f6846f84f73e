//! One measured operation and the loop that times it. Calls run in
//! batches so reading the clock (~25 ns) does not distort the fastest raw
//! rows (a SHA-256 of 64 bytes takes ~150 ns).

use std::time::{Duration, Instant};

/// The operations every row compares, in table order. Each column (the
/// module through its C ABI, the raw crate) builds one [`Op`] per name, or
/// none where it lacks the mechanism.
pub const NAMES: &[&str] = &[
    "AES-256-GCM encrypt 64 B",
    "AES-256-GCM encrypt 4 KiB",
    "AES-256-GCM encrypt 1 MiB",
    "AES-256-CBC-PAD encrypt 64 B",
    "AES-256-CBC-PAD encrypt 4 KiB",
    "AES-256-CBC-PAD encrypt 1 MiB",
    "AES-256-CTR encrypt 64 B",
    "AES-256-CTR encrypt 4 KiB",
    "AES-256-CTR encrypt 1 MiB",
    "AES key wrap (AES-256 under AES-256)",
    "AES key unwrap (AES-256 session key)",
    "HMAC-SHA256 sign 64 B",
    "HMAC-SHA256 sign 4 KiB",
    "AES-CMAC sign 64 B",
    "SHA-256 digest 64 B",
    "SHA-256 digest 4 KiB",
    "ECDSA P-256 sign (32 B hash)",
    "ECDSA P-256 verify (32 B hash)",
    "ECDSA P-384 sign (48 B hash)",
    "ECDSA P-384 verify (48 B hash)",
    "Ed25519 sign 64 B",
    "RSA-2048 PKCS#1 v1.5 SHA-256 sign",
    "RSA-2048 PKCS#1 v1.5 SHA-256 verify",
    "RSA-2048 OAEP (SHA-256) decrypt",
    "open+close session",
    "AES-256 key generate (session key)",
    "EC P-256 key pair generate (session keys)",
    "RSA-2048 key pair generate (session keys)",
];

/// Index of a row by name (the thread rows reuse two of them).
pub fn index(name: &str) -> usize {
    NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// One timed unit of work (`C_*Init` + the one-shot call, or the crate's
/// equivalent) and what to undo afterwards, outside the timing (e.g. the
/// session keys an unwrap created).
pub struct Op {
    pub call: Box<dyn FnMut() + Send>,
    pub cleanup: Box<dyn FnMut() + Send>,
}

impl Op {
    pub fn new(call: impl FnMut() + Send + 'static) -> Op {
        Op {
            call: Box::new(call),
            cleanup: Box::new(|| {}),
        }
    }
}

/// Runs `op` for about `budget`; returns calls per second.
pub fn measure(op: &mut Op, budget: Duration) -> f64 {
    (op.call)();
    let start = Instant::now();
    let mut n = 0u64;
    let mut batch = 1u64;
    let rate = loop {
        let t = Instant::now();
        for _ in 0..batch {
            (op.call)();
        }
        n += batch;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            break n as f64 / elapsed.as_secs_f64();
        }
        if t.elapsed() < Duration::from_micros(500) {
            batch *= 2;
        }
    };
    (op.cleanup)();
    rate
}

pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// `12,345` style.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.0}", x);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}
