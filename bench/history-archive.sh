#!/usr/bin/env bash
# Benchmark: `kms-doctor history --logs` over a generated CloudTrail archive (about 2 GB
# uncompressed), next to the obvious alternatives, `zcat … | jq -c 'select(…)'` and Python's
# gzip + json, in the same run. Prints a Markdown table for docs/benchmarks.md.
#   bench/history-archive.sh [DIR]     # DIR defaults to target/bench-archive (kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-archive}
key_id=1234abcd-12ab-34cd-56ef-1234567890ab
key_arn=arn:aws:kms:us-east-1:111122223333:key/$key_id

cargo build --quiet --release --locked --bin kms-doctor --example generate_archive
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  target/release/examples/generate_archive "$dir" > "$dir.info"
  touch "$dir/.complete"
fi
bytes=$(awk '{print $3}' "$dir.info")
files=$(awk '{print $1}' "$dir.info")

measure() { # label, command… → "label|seconds|peak MB|cpu%"
  local label=$1; shift
  local log
  log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for (i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$log")
  echo "$label|$wall|$rss|$cpu"
}

jq_filter='.Records[] | select(.eventSource == "kms.amazonaws.com" and (.eventName == "PutKeyPolicy" or .eventName == "CreateKey" or .eventName == "ReplicateKey") and (((.resources // []) | map(.ARN) | index("'$key_arn'")) or .requestParameters.keyId == "'$key_id'" or .responseElements.keyMetadata.keyId == "'$key_id'"))'
python_scan='
import gzip, json, os, sys
root, key = sys.argv[1], sys.argv[2]
for d, _, names in os.walk(root):
    for n in names:
        if not n.endswith(".json.gz"):
            continue
        try:
            records = json.load(gzip.open(os.path.join(d, n)))["Records"]
        except Exception:
            continue
        for r in records:
            if r.get("eventSource") == "kms.amazonaws.com" and r.get("eventName") in ("PutKeyPolicy", "CreateKey", "ReplicateKey") and key in json.dumps(r.get("requestParameters")) + json.dumps(r.get("responseElements")):
                print(json.dumps(r))
'

rows=()
rows+=("$(measure "kms-doctor history --logs" target/release/kms-doctor history "$key_arn" --logs "$dir" --format json)")
rows+=("$(measure "zcat + jq -c 'select(…)'" bash -c "find '$dir' -name '*.json.gz' -print0 | sort -z | xargs -0 zcat | jq -c '$jq_filter'")")
rows+=("$(measure "python3 gzip + json" python3 -c "$python_scan" "$dir" "$key_id")")

echo "Archive: $files files, $bytes bytes uncompressed ($(awk -v b="$bytes" 'BEGIN {printf "%.2f", b/1e9}') GB)"
echo
echo "| tool | time | throughput (uncompressed) | peak memory | CPU |"
echo "|---|---|---|---|---|"
base=""
for row in "${rows[@]}"; do
  IFS='|' read -r label wall rss cpu <<<"$row"
  [ -n "$base" ] || base=$wall
  mbps=$(awk -v b="$bytes" -v s="$wall" 'BEGIN {printf "%.0f", b/1e6/s}')
  echo "| $label | ${wall} s | ${mbps} MB/s | ${rss} MB | ${cpu} |"
done
IFS='|' read -r _ doctor _ _ <<<"${rows[0]}"
IFS='|' read -r _ jq _ _ <<<"${rows[1]}"
echo
echo "kms-doctor is $(awk -v a="$jq" -v b="$doctor" 'BEGIN {printf "%.0f", a/b}')× faster than the jq pipeline."
