#!/bin/sh
# One shard of an organisation-wide scan, as a container runs it (deploy/org-scan.yaml runs it
# on ECS Fargate, one task per shard): `kms-doctor scan --org --shard $SHARD`, its JSON report
# put at s3://$REPORT_BUCKET/$REPORT_PREFIX/shard-I-of-N.json. With MERGE=1, the shard reports
# under that prefix are merged into merged.json and merged.md beside them, and the exit status
# is the whole scan's (0 clean, 1 findings at or above --fail-on, 2 the scan failed or a shard
# is missing).
#
# Environment: REPORT_BUCKET, REPORT_PREFIX; SHARD (I/N) or MERGE=1; SCAN_ROLE (the role assumed
# in member accounts, default KmsDoctorScan); KMS_DOCTOR (the binary, default kms-doctor); AWS
# (the AWS CLI, default aws).
set -eu

: "${REPORT_BUCKET:?set REPORT_BUCKET}"
: "${REPORT_PREFIX:?set REPORT_PREFIX}"
kms_doctor=${KMS_DOCTOR:-kms-doctor}
aws=${AWS:-aws}
destination="s3://$REPORT_BUCKET/$REPORT_PREFIX"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${MERGE:-0}" = 1 ]; then
  "$aws" s3 cp --recursive --exclude '*' --include 'shard-*.json' "$destination/" "$work/"
  status=0
  # The file names are ours (shard-I-of-N.json): the pattern cannot pick up anything else.
  "$kms_doctor" merge "$work"/shard-*.json --format json >"$work/merged.json" || status=$?
  if [ "$status" -gt 1 ]; then
    exit "$status"
  fi
  "$kms_doctor" merge "$work"/shard-*.json --format markdown >"$work/merged.md" || true
  "$aws" s3 cp "$work/merged.json" "$destination/merged.json"
  "$aws" s3 cp "$work/merged.md" "$destination/merged.md"
  exit "$status"
fi

: "${SHARD:?set SHARD to I/N, or MERGE=1}"
case $SHARD in
  */*) ;;
  *) echo "SHARD must be I/N, not $SHARD" >&2; exit 2 ;;
esac
status=0
"$kms_doctor" scan --org --all-regions --role-name "${SCAN_ROLE:-KmsDoctorScan}" \
  --shard "$SHARD" --format json >"$work/report.json" || status=$?
# 1: findings at or above --fail-on, the report whole; anything else: the scan failed, and the
# missing shard report makes the merge fail, naming it.
if [ "$status" -gt 1 ]; then
  exit "$status"
fi
name="shard-$(echo "$SHARD" | sed 's|/|-of-|').json"
"$aws" s3 cp "$work/report.json" "$destination/$name"
