#!/usr/bin/env bash
# The investigation kms-doctor automates, done by hand with the AWS CLI: who am I, can I read the
# key policy, which role am I, what does IAM allow, what was the last PutKeyPolicy, and who does
# that policy name as key administrators. Run by bench/diagnose.sh against the scenario endpoint
# (AWS_ENDPOINT_URL and credentials come from the environment); usable against AWS too.
#   bench/awscli-procedure.sh KEY
set -uo pipefail
key=${1:?usage: awscli-procedure.sh KEY}
aws=${AWS_CLI:-aws}

caller=$($aws sts get-caller-identity --output json)
caller_arn=$(jq -r .Arn <<<"$caller")

# The symptom: AccessDeniedException (expected to fail).
$aws kms get-key-policy --key-id "$key" --policy-name default --output text >/dev/null 2>&1 || true

key_arn=$($aws kms describe-key --key-id "$key" --query KeyMetadata.Arn --output text)

# The role behind the session, for its path.
role_name=$(cut -d/ -f1 <<<"${caller_arn#*:assumed-role/}")
role_arn=$($aws iam get-role --role-name "$role_name" --query Role.Arn --output text)

$aws iam simulate-principal-policy --policy-source-arn "$role_arn" \
  --action-names kms:GetKeyPolicy kms:PutKeyPolicy --resource-arns "$key_arn" \
  --query 'EvaluationResults[].[EvalActionName,EvalDecision]' --output text

# The newest PutKeyPolicy of this key, its escaped policy parsed, its administrators read off.
token=""
while :; do
  page=$($aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=PutKeyPolicy \
    --max-results 50 ${token:+--next-token "$token"} --output json)
  found=$(jq -r --arg k "$key_arn" '
    [.Events[].CloudTrailEvent | (try fromjson catch null) | select(. != null)
     | select((.resources // []) | map(.ARN) | index($k))
     | select(.errorCode == null)][0] // empty' <<<"$page")
  if [ -n "$found" ]; then
    jq -r '.requestParameters.policy | fromjson | .Statement[]
      | select(.Effect == "Allow")
      | select([.Action] | flatten | map(test("^kms:(\\*|Put\\*|PutKeyPolicy)$")) | any)
      | .Principal.AWS' <<<"$found"
    break
  fi
  token=$(jq -r '.NextToken // empty' <<<"$page")
  [ -n "$token" ] || break
done
