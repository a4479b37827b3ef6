#!/usr/bin/env bash
# Benchmark: `kms-doctor diagnose` against the scenario endpoint with DELAY_MS (50) added to every
# AWS call, next to the same investigation by hand with the AWS CLI (bench/awscli-procedure.sh),
# in the same run. Prints a Markdown table for docs/benchmarks.md.
#   bench/diagnose.sh            # RUNS=20 DELAY_MS=50 SCENARIO=tests/scenarios/02-classic-lockout-alias.json
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
delay=${DELAY_MS:-50}
scenario=${SCENARIO:-tests/scenarios/02-classic-lockout-alias.json}

cargo build --quiet --release --locked --bin kms-doctor --example scenario_endpoint
if [ -z "${AWS_CLI:-}" ]; then
  if ! command -v aws >/dev/null; then
    [ -x .venv/bin/aws ] || { python3 -m venv .venv && .venv/bin/pip install --quiet awscli; }
    AWS_CLI=.venv/bin/aws
  else
    AWS_CLI=aws
  fi
fi
export AWS_CLI

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/nonexistent/config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE

start_endpoint() { # delay_ms → sets url and pid
  local out
  out=$(mktemp)
  target/release/examples/scenario_endpoint "$scenario" --delay-ms "$1" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do [ -s "$out" ] && break; sleep 0.1; done
  url=$(head -n1 "$out")
  export AWS_ENDPOINT_URL=$url
}

median_ms() { # command… → median wall time in ms over $runs runs
  local times=()
  for _ in $(seq 1 "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

doctor=(target/release/kms-doctor diagnose alias/payments --format json)

start_endpoint 0
base=$(median_ms "${doctor[@]}")
calls=$({ "${doctor[@]}" || true; } | jq ".calls | length")
kill "$pid"

start_endpoint "$delay"
with_delay=$(median_ms "${doctor[@]}")
cli=$(median_ms bench/awscli-procedure.sh alias/payments)
cli_calls=6
kill "$pid"

round_trips=$(awk -v a="$with_delay" -v b="$base" -v d="$delay" 'BEGIN { printf "%.1f", (a - b) / d }')
speedup=$(awk -v a="$cli" -v b="$with_delay" 'BEGIN { printf "%.0f", a / b }')

cat <<TABLE
| what ($runs runs, median) | AWS calls | wall time at ${delay} ms per call |
|---|---|---|
| kms-doctor diagnose | $calls | ${with_delay} ms (${base} ms with no delay: ~${round_trips} sequential round trips) |
| AWS CLI procedure (bench/awscli-procedure.sh) | $cli_calls | ${cli} ms |
| speed-up | | ${speedup}× |
TABLE
