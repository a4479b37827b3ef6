#!/usr/bin/env bash
# Benchmark: `kms-doctor scan` of KEYS (1,000) keys in one Region against the scenario endpoint
# with DELAY_MS (50) added to every AWS call, next to the obvious script (the AWS CLI: list-keys,
# then describe-key and get-key-policy for each key) in the same run; then the wall time and
# peak memory of a scan of BIG_KEYS (10,000) keys at the same delay. The CLI loop is timed on LOOP_KEYS (40) keys and scaled to
# KEYS: it makes 2 calls a key whatever their number, and a full run takes a quarter of an hour.
# Prints a Markdown table for docs/benchmarks.md.
#   bench/scan.sh        # KEYS=1000 BIG_KEYS=10000 LOOP_KEYS=40 DELAY_MS=50
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${KEYS:-1000}
big_keys=${BIG_KEYS:-10000}
loop_keys=${LOOP_KEYS:-40}
delay=${DELAY_MS:-50}
aws=${AWS_CLI:-aws}
command -v "$aws" >/dev/null || { [ -x .venv/bin/aws ] || { python3 -m venv .venv && .venv/bin/pip install --quiet awscli; }; aws=.venv/bin/aws; }

cargo build --quiet --release --locked --bin kms-doctor --example scenario_endpoint
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/nonexistent/config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE

# N keys of one account and Region: one in ten names a single administrator, the rest delegate.
# With QUOTAS (JSON: operation → calls a second), the endpoint throttles past them as KMS does.
scenario() { # n → file
  python3 - "$1" "$work/scan-$1.json" "${QUOTAS:-{\}}" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
quotas = json.loads(sys.argv[3])
acct = "111122223333"
root = {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*", "Resource": "*"}
admin = {"Sid": "Key administrators", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{acct}:role/KeyAdmin"}, "Action": "kms:*", "Resource": "*"}
keys = [{"id": f"{i:08x}-0000-4000-8000-{i:012x}", "account": acct,
         "aliases": [f"alias/app-{i}"],
         "policy": {"Version": "2012-10-17", "Statement": [admin if i % 10 == 0 else root]}}
        for i in range(n)]
json.dump({"scenario": {"caller": {"arn": f"arn:aws:sts::{acct}:assumed-role/Audit/bench",
                                   "account": acct, "user_id": "AROAEXAMPLE:bench"},
                        "roles": [{"name": "KeyAdmin", "id": "AROAEXAMPLEKEYADMIN1", "account": acct}],
                        "keys": keys, "kms_quotas": quotas}}, open(path, "w"))
PY
  echo "$work/scan-$1.json"
}

start_endpoint() { # scenario delay_ms → sets url and pid
  local out="$work/endpoint.out"
  : >"$out"
  target/release/examples/scenario_endpoint "$1" --delay-ms "$2" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$out" ] && break; sleep 0.1; done
  export AWS_ENDPOINT_URL=$(head -n1 "$out")
}

ms() { # command… → wall time in ms
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

cli_loop() { # the script a platform team writes first
  for k in $($aws kms list-keys --query 'Keys[].KeyId' --output text | tr '\t' '\n' | head -n "$loop_keys"); do
    $aws kms describe-key --key-id "$k" --output json >/dev/null
    $aws kms get-key-policy --key-id "$k" --policy-name default --output text >/dev/null
  done
}

start_endpoint "$(scenario "$keys")" "$delay"
doctor=$(ms target/release/kms-doctor scan --format json --fail-on never)
calls=$(target/release/kms-doctor scan --format json --fail-on never | jq .calls.total)
loop_sample=$(ms cli_loop)
kill "$pid"
loop=$(( loop_sample * keys / loop_keys ))

start_endpoint "$(scenario "$big_keys")" "$delay"
peak=$( { /usr/bin/time -f '%M %e' target/release/kms-doctor scan --format json --fail-on never >/dev/null; } 2>&1 | tail -n1)
kill "$pid"

# An account whose KMS quota other workloads partly use: GetKeyPolicy 100 a second, DescribeKey
# 150 (published: 1,000), 369 keys; beside it, the same keys unthrottled.
throttled_keys=369
start_endpoint "$(QUOTAS='{"GetKeyPolicy": 100, "DescribeKey": 150}' scenario "$throttled_keys")" "$delay"
throttled=$(ms target/release/kms-doctor scan --format json --fail-on never --no-cloudtrail)
throttled_calls=$(target/release/kms-doctor scan --format json --fail-on never --no-cloudtrail | jq .calls.throttled)
kill "$pid"
start_endpoint "$(scenario "$throttled_keys")" "$delay"
unthrottled=$(ms target/release/kms-doctor scan --format json --fail-on never --no-cloudtrail)
kill "$pid"

# An organisation: 201 accounts (a management account and 200 members) × 3 Regions, 12 keys an
# account, FullAWSAccess on the root and every account; at 0 and at DELAY_MS per call.
python3 - "$work/org.json" <<'PY'
import json, sys
mgmt = "111122223333"
accounts = [mgmt] + [f"{200000000000 + i:012d}" for i in range(200)]
regions = ["us-east-1", "us-west-2", "eu-west-1"]
keys = [{"id": f"{n:08x}-0000-4000-8000-{n:012x}", "account": a, "region": regions[j % 3],
         "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{a}:root"}, "Action": "kms:*", "Resource": "*"}]}}
        for n, (a, j) in enumerate((a, j) for a in accounts for j in range(12))]
allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
json.dump({"scenario": {
    "caller": {"arn": f"arn:aws:sts::{mgmt}:assumed-role/Audit/scan", "account": mgmt,
               "user_id": "AROAEXAMPLEAUDIT0001:scan"},
    "keys": keys, "accounts": [{"id": a} for a in accounts], "enabled_regions": regions,
    "accounts_page_size": 20,
    "organization": {"management_account": mgmt, "parents": {a: "r-abcd" for a in accounts},
                     "policies": [{"id": "p-FullAWSAccess", "name": "FullAWSAccess",
                                   "type": "SERVICE_CONTROL_POLICY", "content": allow,
                                   "targets": ["r-abcd"] + accounts}]}}}, open(sys.argv[1], "w"))
PY
org_run() { # delay → "ms peak-MB"
  start_endpoint "$work/org.json" "$1"
  local t0 t1 rss
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/org.rss" target/release/kms-doctor scan --org --all-regions --format json --fail-on never >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  kill "$pid"
  echo "$(( (t1 - t0) / 1000000 )) $(( $(tail -n1 "$work/org.rss") / 1024 ))"
}
read -r org_free org_free_mb < <(org_run 0)
read -r org_slow org_slow_mb < <(org_run "$delay")

speedup=$(awk -v a="$loop" -v b="$doctor" 'BEGIN { printf "%.0f", a / b }')
cat <<TABLE
| what | AWS calls | wall time at ${delay} ms per call |
|---|---|---|
| kms-doctor scan, ${keys} keys | ${calls} | ${doctor} ms |
| AWS CLI loop (list-keys; describe-key and get-key-policy per key) | $(( 2 * keys + 1 )) | ${loop} ms (${loop_sample} ms for ${loop_keys} keys, scaled) |
| speed-up | | ${speedup}× |

| ${throttled_keys} keys at ${delay} ms per call | wall time | throttled calls |
|---|---|---|
| quota GetKeyPolicy 100/s, DescribeKey 150/s (floor: $(( throttled_keys * 10 )) ms) | ${throttled} ms | ${throttled_calls} |
| no quota | ${unthrottled} ms | 0 |

| 201 accounts × 3 Regions (2,412 keys), scan --org --all-regions | wall time | peak RSS |
|---|---|---|
| 0 ms per call | ${org_free} ms | ${org_free_mb} MB |
| ${delay} ms per call | ${org_slow} ms | ${org_slow_mb} MB |

| kms-doctor scan, ${big_keys} keys, ${delay} ms per call | peak RSS | wall time |
|---|---|---|
| | $(( ${peak% *} / 1024 )) MB | ${peak#* } s |
TABLE
