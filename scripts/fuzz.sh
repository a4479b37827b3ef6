#!/usr/bin/env bash
# A short fuzzing run of check's reader (fuzz target `read_template`), seeded with every file
# under tests/iac: CI runs it for FUZZ_SECONDS (default 60). Any panic, any input that takes more
# than 10 s or 1 GiB, fails the run and leaves the input in fuzz/artifacts/read_template/.
#
# Built without a sanitizer (--sanitizer none): kms-doctor has no unsafe code, and an
# AddressSanitizer build of its dependency tree takes over 15 minutes on two cores. The coverage
# instrumentation that guides libFuzzer is kept. Longer runs: fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

corpus="$(mktemp -d "${TMPDIR:-/tmp}/kms-doctor-fuzz-corpus.XXXXXX")"
trap 'rm -rf "$corpus" "$corpus.log"' EXIT
find tests/iac -type f -size -64k | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done

cd fuzz
# cargo fuzz uses nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
echo "== cargo fuzz build read_template"
cargo fuzz build read_template --sanitizer none --dev
echo "== cargo fuzz run read_template for ${seconds} s over $(ls "$corpus" | wc -l) seeds"
log="$corpus.log"
status=0
cargo fuzz run read_template --sanitizer none --dev "$corpus" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
  -print_final_stats=1 > "$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzzing found an input that fails (exit $status); it is in fuzz/artifacts/read_template/" >&2
  exit 1
fi
grep -E '^Done|^stat::(number_of_executed_units|peak_rss_mb)' "$log"
rm -f "$log"
