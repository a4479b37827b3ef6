#!/usr/bin/env bash
# The whole suite (scripts/test.sh, the README's test command) N times in a row under CPU load,
# to find tests that fail only sometimes: a timing asserted, an order of concurrent work, a shared
# port, directory or moto server. Reports every test that failed at least once, and how often.
#
#   scripts/stress.sh [N] [-- ARGS for cargo test]
#
# N defaults to 10. The load is stress-ng's CPU workers when stress-ng is installed, else busy
# shell loops: STRESS_WORKERS of them (default: one per core), running for the whole stress run.
# Each run's output is kept in target/stress/run-N.log. Exits 1 if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=10
if [[ $# -gt 0 && $1 != -- ]]; then
  runs=$1
  shift
fi
[[ ${1:-} == -- ]] && shift
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/stress.sh [N] [-- ARGS for cargo test]" >&2
  exit 2
fi
workers=${STRESS_WORKERS:-$(nproc)}
logs=target/stress
rm -rf "$logs"
mkdir -p "$logs"

# Built once before the load starts: the runs measure the tests, not the compiler.
echo "== building the tests"
cargo test --locked --no-run --quiet "$@"

load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
}
trap stop_load EXIT
if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$workers" --quiet >/dev/null 2>&1 &
  load_pids+=($!)
  load="stress-ng --cpu $workers"
else
  for _ in $(seq 1 "$workers"); do
    bash -c 'while :; do :; done' &
    load_pids+=($!)
  done
  load="$workers busy loops"
fi
echo "== $runs runs of scripts/test.sh under load ($load, $(nproc) cores)"

green=0
declare -A failed_in=()
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  started=$SECONDS
  if bash scripts/test.sh "$@" >"$log" 2>&1; then
    status=passed
    green=$((green + 1))
  else
    status=FAILED
  fi
  # libtest prints `test NAME ... FAILED` for each failing test, in every test binary.
  failures=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log" | sort -u)
  for t in $failures; do
    failed_in[$t]="${failed_in[$t]:-} $i"
  done
  if [[ $status == FAILED && -z $failures ]]; then
    failed_in["(run failed outside any test: see $log)"]="${failed_in["(run failed outside any test: see $log)"]:-} $i"
  fi
  summary=$(grep -E '^test result:' "$log" | awk '{p += $4; f += $6} END {printf "%d passed, %d failed", p, f}')
  echo "run $i/$runs: $status in $((SECONDS - started)) s ($summary)"
done

echo
echo "== $green of $runs runs green under load ($load)"
if [[ ${#failed_in[@]} -eq 0 ]]; then
  echo "no test failed in any run"
else
  echo "tests that failed at least once (the runs they failed in; logs in $logs/):"
  for t in "${!failed_in[@]}"; do
    echo "  $t:${failed_in[$t]}"
  done | sort
fi
echo "stress: $green passed, $((runs - green)) failed"
[[ $green -eq $runs ]]
