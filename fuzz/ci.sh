#!/usr/bin/env bash
# Runs every fuzz target for a short fixed budget (seconds per target,
# default 30) on the stable toolchain. A crash, a leak or an assertion in a
# target fails the script; the reproducer stays in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
budget=${1:-30}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
  echo "== fuzz $target (${budget}s)"
  mkdir -p "corpus/$target"
  log="target/fuzz-$target.log"
  mkdir -p target
  status=0
  cargo fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$budget" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done )' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz target $target failed (exit $status)"
    exit 1
  fi
done
