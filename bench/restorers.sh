#!/usr/bin/env bash
# Restorers through IAM at account scale: 5,000 roles and 2,000 managed policies parsed and
# evaluated, then the trust graph built and searched. Prints the example's timings and the peak
# memory (RSS, from /usr/bin/time). Targets (docs/benchmarks.md): under 1 s, under 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --locked --example restorers_at_scale
for from in 0 1; do
  /usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user" \
    target/release/examples/restorers_at_scale "${ROLES:-5000}" "${POLICIES:-2000}" "$from"
done
