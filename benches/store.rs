//! The shared-store bench (issue 14): `cargo bench --bench store` loads
//! the module once with two slots — slot 0 the embedded SQLite file, slot
//! 1 a PostgreSQL schema reached over TLS (verify-full) on loopback — and
//! prints ops/s per slot and the PostgreSQL/SQLite ratio, measured
//! interleaved (both slots' cells in every round), median of R rounds.
//!
//! Knobs: `KEYWARD_BENCH_ROUNDS` (default 5), `KEYWARD_BENCH_MS` per cell
//! (default 200), `KEYWARD_BENCH_ONLY` (only the rows whose name contains
//! it, e.g. to profile one row under `perf record`). Under `cargo test --all-targets` (no `--bench` argument)
//! it runs one tiny smoke round that still checks every CK_RV. Without the
//! `postgres` feature, or without PostgreSQL installed, it prints SKIP and
//! exits 0 (under CI=true a missing PostgreSQL panics in the cluster
//! helper instead).

#[cfg(feature = "postgres")]
#[path = "../tests/common/backend.rs"]
mod backend;
#[cfg(feature = "postgres")]
#[allow(dead_code)]
#[path = "ops/ffi.rs"]
mod ffi;
#[cfg(feature = "postgres")]
#[path = "../tests/common/pg.rs"]
mod pg;
#[cfg(feature = "postgres")]
#[path = "store/rows.rs"]
mod rows;
#[cfg(feature = "postgres")]
#[allow(dead_code)]
#[path = "ops/timing.rs"]
mod timing;

#[cfg(not(feature = "postgres"))]
fn main() {
    println!("SKIP: built without the `postgres` feature: no shared-store bench");
}

#[cfg(feature = "postgres")]
fn main() {
    rows::main();
}
