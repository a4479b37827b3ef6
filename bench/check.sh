#!/usr/bin/env bash
# Benchmark: `kms-doctor check` over TEMPLATES (1,000) CloudFormation templates, half YAML with
# short forms and half JSON with long forms, about 50 KB each (~50 MB in all): a KMS key with
# a policy of a dozen statements among a few hundred other resources, as real stacks are. Prints
# the wall time and peak memory (RSS) of RUNS (5) runs for docs/benchmarks.md.
#   bench/check.sh        # TEMPLATES=1000 RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."
templates=${TEMPLATES:-1000}
runs=${RUNS:-5}
cargo build --quiet --release --locked --bin kms-doctor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$templates" "$work" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
def statements(i):
    s = [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
          "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
          "Action": "kms:*", "Resource": "*"}]
    for t in range(11):
        s.append({"Sid": f"Team {t} uses the key", "Effect": "Allow",
                  "Principal": {"AWS": {"Fn::GetAtt": [f"Role{t}", "Arn"]}},
                  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                  "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}})
    return s
def template(i):
    resources = {"Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True,
                 "KeyPolicy": {"Version": "2012-10-17", "Statement": statements(i)}}}}
    for t in range(11):
        resources[f"Role{t}"] = {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}
    r = 0
    while len(json.dumps(resources)) < 48_000:
        resources[f"Bucket{r}"] = {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": {"Fn::Sub": f"app-{i}-{r}-${{AWS::AccountId}}"},
            "Tags": [{"Key": "team", "Value": f"t{r % 7}"}, {"Key": "stack", "Value": f"s{i}"}],
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "Key"}}}]}}}
        r += 1
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
def yaml(v, indent=0):
    # A small emitter: Fn:: maps become short-form tags, as people write them.
    pad = "  " * indent
    if isinstance(v, dict):
        if len(v) == 1:
            (k, arg), = v.items()
            if k.startswith("Fn::") or k == "Ref":
                tag = "!" + (k[4:] if k.startswith("Fn::") else k)
                if isinstance(arg, list):
                    return tag + " [" + ", ".join(json.dumps(a) for a in arg) + "]"
                return tag + " " + json.dumps(arg)
        lines = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x and not (isinstance(x, dict) and len(x) == 1 and (next(iter(x)).startswith("Fn::") or next(iter(x)) == "Ref")):
                lines.append(f"{pad}{k}:\n{yaml(x, indent + 1)}")
            else:
                lines.append(f"{pad}{k}: {yaml(x, indent + 1)}")
        return "\n".join(lines)
    if isinstance(v, list):
        return "\n".join(f"{pad}- " + yaml(x, indent + 1).lstrip() for x in v)
    return json.dumps(v)
for i in range(n):
    t = template(i)
    if i % 2:
        open(f"{out}/stack-{i}.template.json", "w").write(json.dumps(t, indent=1))
    else:
        open(f"{out}/stack-{i}.yaml", "w").write(yaml(t) + "\n")
PY

bytes=$(du -sb "$work" | cut -f1)
target/release/kms-doctor check "$work" --format json > "$work.json" || true
resources=$(jq .summary.resources "$work.json")
findings=$(jq '[.files[].resources[].findings[]] | length' "$work.json")
rm -f "$work.json"
best=""
for _ in $(seq 1 "$runs"); do
  line=$( { /usr/bin/time -f '%e %M' target/release/kms-doctor check "$work" --format json >/dev/null; } 2>&1 | tail -n1 )
  echo "$line" >&2
  t=${line% *}
  if [ -z "$best" ] || awk -v a="$t" -v b="${best% *}" 'BEGIN { exit !(a < b) }'; then best=$line; fi
done
cat <<TABLE
| kms-doctor check | templates | input | key resources | findings | wall time (best of $runs) | peak RSS |
|---|---|---|---|---|---|---|
| $(nproc) cores | ${templates} | $(( bytes / 1000000 )) MB | ${resources} | ${findings} | ${best% *} s | $(( ${best#* } / 1024 )) MB |
TABLE
