#!/usr/bin/env bash
# Bounds under hostile input: each run must finish within its time bound with a clear message,
# and stay under 200 MB of peak memory (RSS, from /usr/bin/time). Prints a Markdown table for
# docs/benchmarks.md. The tests assert the outcomes; this script measures the memory.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --locked --bin kms-doctor
bin=target/release/kms-doctor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab

day="$work/archive/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02"
mkdir -p "$day"
# Gzip bombs: 1 MiB of zeros compressed once (about 1 KB), the member repeated 4,000 times:
# 4 GiB once decompressed, from 4 MB on disk; one per worker thread and more.
python3 - "$day" <<'PY'
import gzip, sys
member = gzip.compress(b"\0" * (1 << 20), 9)
for n in range(4):
    with open(f"{sys.argv[1]}/bomb{n}.json.gz", "wb") as f:
        for _ in range(4000):
            f.write(member)
PY
mkfifo "$day/fifo.json"
ln -s . "$day/self"
ln -s .. "$day/up"

measure() { # label, limit seconds, command… → a table row
  local label=$1 limit=$2
  shift 2
  local out start end code rss
  out=$(mktemp)
  start=$(date +%s%N)
  code=0
  /usr/bin/time -f "%M" -o "$out.rss" timeout "$limit" "$@" >"$out" 2>"$out.err" || code=$?
  end=$(date +%s%N)
  rss=$(tail -n1 "$out.rss")
  printf '| %s | %s | %d ms | %d MB | %s |\n' "$label" "$code" $(( (end - start) / 1000000 )) $(( rss / 1024 )) \
    "$(head -c 160 "$out.err" | tr '\n' ' ')$(jq -r '.skipped.reasons[]?' "$out" 2>/dev/null | head -3 | tr '\n' ';' | head -c 200)"
}

echo "| input | exit | wall | peak RSS | message |"
echo "|---|---|---|---|---|"
measure "archive: 4 gzip bombs (4 GiB each), a FIFO, two link loops" 60 \
  "$bin" history "$key" --logs "$work/archive" --format json
measure "explain --policy /dev/zero" 10 "$bin" explain --policy /dev/zero
measure "explain --policy /dev/urandom" 10 "$bin" explain --policy /dev/urandom
# A plan that deletes 40,000 roles, as `terraform show -json` writes it (one line): each is
# located in one pass over the text.
python3 - "$work/plan40k.json" <<'PY'
import json, sys
changes = [{"address": f"aws_iam_role.r{i}", "type": "aws_iam_role",
            "change": {"actions": ["delete"], "before": {"name": f"r{i}",
                       "arn": f"arn:aws:iam::111122223333:role/r{i}"}}} for i in range(40000)]
json.dump({"format_version": "1.2", "planned_values": {"root_module": {}},
           "resource_changes": changes}, open(sys.argv[1], "w"))
PY
measure "check: a plan deleting 40,000 roles (7 MB, one line)" 30 \
  "$bin" check "$work/plan40k.json" --format json
# A saved scan of 2,000 keys that delegate to an account of 5,000 administrators, and a plan
# deleting one of them: who can update the policies is judged once for the account.
python3 - "$work/scan-at-scale.json" "$work/plan-one-admin.json" <<'PY'
import json, sys
acct = "111122223333"
deleg = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*", "Resource": "*"}]})
keys = [{"account": acct, "region": "us-east-1", "key_id": f"00000000-aaaa-bbbb-cccc-{i:012}",
         "arn": f"arn:aws:kms:us-east-1:{acct}:key/00000000-aaaa-bbbb-cccc-{i:012}",
         "aliases": [], "manager": "CUSTOMER", "state": "Enabled", "current_policy": deleg,
         "get_key_policy": "ok", "restorer_checks": []} for i in range(2000)]
roles = [{"arn": f"arn:aws:iam::{acct}:role/admin-{i}", "name": f"admin-{i}", "path": "/",
          "inline_policies": [], "groups": [], "attached": ["arn:aws:iam::aws:policy/AdministratorAccess"]}
         for i in range(5000)]
admin = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
json.dump({"collected_at": "2026-12-08T00:00:00Z",
           "caller": {"arn": f"arn:aws:sts::{acct}:assumed-role/Audit/a", "account": acct, "user_id": "AROAEXAMPLE:a"},
           "accounts": [acct], "regions": ["us-east-1"], "keys": keys, "aws_managed_skipped": 0,
           "regions_not_enabled": [], "regions_scanned": 1, "errors": [],
           "organizations": {acct: {"not_in_organization": True}},
           "authorization": {acct: {"users": [], "roles": roles, "groups": [], "complete": True,
               "policies": [{"arn": "arn:aws:iam::aws:policy/AdministratorAccess", "name": "AdministratorAccess", "document": admin}]}},
           "calls": [], "whole_organization": False}, open(sys.argv[1], "w"))
json.dump({"format_version": "1.2", "planned_values": {"root_module": {}}, "resource_changes": [
    {"address": "aws_iam_role.admin", "type": "aws_iam_role", "change": {"actions": ["delete"],
     "before": {"name": "admin-7", "arn": f"arn:aws:iam::{acct}:role/admin-7"}}}]}, open(sys.argv[2], "w"))
PY
measure "check --keys: 2,000 delegating keys × 5,000 administrators (saved scan), one deleted" 30 \
  "$bin" check --keys "$work/scan-at-scale.json" "$work/plan-one-admin.json" --format json
# The same account with 100,000 keys and 200,000 calls on record (65 MB): the saved scan is
# parsed as it is read, never held as text.
python3 - "$work/scan-at-scale.json" "$work/scan-100k.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
k = d["keys"][0]
d["keys"] = [dict(k, key_id=f"00000000-aaaa-bbbb-cccc-{i:012}",
                  arn=f"arn:aws:kms:us-east-1:111122223333:key/00000000-aaaa-bbbb-cccc-{i:012}")
             for i in range(100000)]
d["calls"] = [{"service": "kms", "operation": "GetKeyPolicy", "outcome": "ok", "ms": 4}] * 200000
json.dump(d, open(sys.argv[2], "w"))
PY
measure "check --keys: 100,000 keys, 200,000 calls (a 65 MB saved scan), one deleted" 60 \
  "$bin" check --keys "$work/scan-100k.json" "$work/plan-one-admin.json" --format json
