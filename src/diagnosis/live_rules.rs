//! Findings that need live evidence: the IAM simulation, the key's metadata, the policy's
//! history, the restorers' existence, and the calls that could not be made.

use super::{Code, Finding};
use crate::diagnose::{PolicySource, Restorer};
use crate::evidence::{Evidence, Outcome, SimulationResult};
use crate::policy::{Identity, PUT_KEY_POLICY};

fn has(findings: &[Finding], code: Code) -> bool {
    findings.iter().any(|f| f.code == code)
}

fn key_name(ev: &Evidence) -> String {
    ev.key.arn.clone().unwrap_or_else(|| ev.key.input.clone())
}

pub fn key_not_found(ev: &Evidence) -> Finding {
    Finding::new(
        Code::KeyNotFound,
        format!(
            "No key or alias {} in this account and Region",
            ev.key.input
        ),
    )
    .detail(format!(
        "KMS answered NotFoundException in account {} and Region {}.",
        ev.caller.account,
        ev.region.as_deref().unwrap_or("(unknown)")
    ))
    .evidence(
        ev.calls
            .iter()
            .filter(|c| c.outcome == Outcome::NotFound && c.service == "kms")
            .map(|c| {
                format!(
                    "kms:{} answered {}",
                    c.operation,
                    c.error_code.as_deref().unwrap_or("not found")
                )
            }),
    )
    .help(
        "Check the key ID or alias, and the account and Region (--region, --profile, AWS_REGION).",
    )
}

fn simulation_evidence(action: &str, sim: &SimulationResult) -> Vec<String> {
    let mut out = vec![format!(
        "iam:SimulatePrincipalPolicy for {action} on the key: {}",
        sim.decision
    )];
    for m in &sim.matched_statements {
        out.push(format!(
            "matched statement in {} ({})",
            m.source_policy_id.as_deref().unwrap_or("an unnamed policy"),
            m.source_policy_type.as_deref().unwrap_or("unknown type")
        ));
    }
    if let Some(o) = sim.allowed_by_organizations {
        out.push(format!("AllowedByOrganizations: {o}"));
    }
    if let Some(b) = sim.allowed_by_permissions_boundary {
        out.push(format!("AllowedByPermissionsBoundary: {b}"));
    }
    out
}

/// The principal's name for IAM commands (`put-role-policy --role-name …`).
fn iam_target(subject: Option<&Identity>) -> Option<(&'static str, String)> {
    match subject? {
        Identity::User { name, .. } => Some(("user", name.clone())),
        Identity::Role { name, .. } => Some(("role", name.clone())),
        Identity::AssumedRole { role_name, .. } => Some(("role", role_name.clone())),
        _ => None,
    }
}

/// Findings for the IAM side of one action, from the simulator's answer.
pub fn iam_findings(
    findings: &mut Vec<Finding>,
    ev: &Evidence,
    action: &str,
    because: &[Code],
    sim: Option<&SimulationResult>,
    subject: Option<&Identity>,
) {
    let Some(sim) = sim else { return };
    let who = ev.subject.clone().unwrap_or_else(|| ev.caller.arn.clone());
    for code in because {
        let f = match code {
            Code::IamImplicitDeny => {
                let key = key_name(ev);
                let policy = serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": [crate::policy::GET_KEY_POLICY, PUT_KEY_POLICY], "Resource": key}]
                });
                let command = match iam_target(subject) {
                    Some((kind, name)) => format!(
                        " For example: aws iam put-{kind}-policy --{kind}-name {name} --policy-name kms-key-policy-access --policy-document '{policy}'"
                    ),
                    None => String::new(),
                };
                Finding::new(code.to_owned(), format!("No IAM policy of this principal allows {action}"))
                    .detail(format!(
                        "The key policy delegates to IAM, so {who} needs an identity policy that \
                         allows {action} on the key; the IAM policy simulator finds none."
                    ))
                    .evidence(simulation_evidence(action, sim))
                    .help(format!("Attach an IAM policy that allows {action} on {key}.{command}"))
            }
            Code::IamExplicitDeny => Finding::new(code.to_owned(), format!("An IAM policy explicitly denies {action}"))
                .detail(format!(
                    "An identity policy of {who} denies {action} on the key; explicit denies win \
                     over the key policy's allows."
                ))
                .evidence(simulation_evidence(action, sim))
                .help("Change or detach the denying policy named in the evidence."),
            Code::ScpDeny => Finding::new(code.to_owned(), format!("A service control policy denies {action}"))
                .detail(format!(
                    "AWS Organizations service control policies limit every principal of the \
                     account, the root user included; one denies {action} here."
                ))
                .evidence(simulation_evidence(action, sim))
                .help("Ask the organization's administrators to change the SCP, or act from a principal it exempts."),
            Code::PermissionsBoundaryDeny => Finding::new(
                code.to_owned(),
                format!("The principal's permissions boundary does not allow {action}"),
            )
            .detail(format!("{who} has a permissions boundary that does not allow {action}."))
            .evidence(simulation_evidence(action, sim))
            .help("Add the action to the boundary policy, or use a principal without that boundary."),
            _ => continue,
        };
        findings.push(f);
    }
}

/// Findings about the key itself.
pub fn key_findings(
    findings: &mut Vec<Finding>,
    ev: &Evidence,
    aws_managed: bool,
    cross_account: bool,
) {
    if cross_account && !has(findings, Code::CrossAccountKey) {
        let key_account = ev.key.account.as_deref().unwrap_or("another account");
        findings.push(
            Finding::new(
                Code::CrossAccountKey,
                format!("The key belongs to account {key_account}: kms:GetKeyPolicy and kms:PutKeyPolicy never work cross-account"),
            )
            .detail(format!(
                "The principal is in account {}. KMS serves GetKeyPolicy and PutKeyPolicy only to \
                 principals of the key's own account, whatever the key policy and IAM policies say.",
                ev.caller.account
            ))
            .evidence([format!("key {}", key_name(ev))])
            .help(format!(
                "Run kms-doctor (and the fix) as a principal of account {key_account}."
            )),
        );
    }
    if aws_managed && !has(findings, Code::AwsManagedKey) {
        findings.push(
            Finding::new(
                Code::AwsManagedKey,
                "The key is AWS managed: its policy cannot be changed",
            )
            .detail(
                "AWS creates and manages the policies of AWS managed keys (KeyManager AWS). \
                     They can be read, but nobody, not even the account's root user, can update \
                     them with PutKeyPolicy.",
            )
            .evidence([format!(
                "kms:DescribeKey: KeyManager AWS for {}",
                key_name(ev)
            )])
            .help("Use a customer managed key where you need to control the key policy."),
        );
    }
    if matches!(
        ev.key.state.as_deref(),
        Some("PendingDeletion" | "PendingReplicaDeletion")
    ) {
        let when = ev.key.deletion_date.as_deref().unwrap_or("an unknown date");
        findings.push(
            Finding::new(Code::KeyPendingDeletion, format!("The key is scheduled for deletion on {when}"))
                .detail(
                    "After that date the key and everything encrypted under it are gone for good. \
                     GetKeyPolicy and PutKeyPolicy still work while it is pending deletion.",
                )
                .evidence([format!("kms:DescribeKey: KeyState {}, DeletionDate {when}", ev.key.state.as_deref().unwrap_or(""))])
                .help(format!(
                    "If the key is still needed, a principal allowed kms:CancelKeyDeletion runs: aws kms cancel-key-deletion --key-id {}",
                    key_name(ev)
                )),
        );
    }
}

/// Findings from the CloudTrail history.
pub fn history_findings(findings: &mut Vec<Finding>, ev: &Evidence) {
    let Some(h) = &ev.history else { return };
    match &h.in_force {
        Some(e) if e.bypass_lockout_check => {
            findings.push(
                    Finding::new(
                        Code::LockoutCheckBypassed,
                        "The policy in force was set with BypassPolicyLockoutSafetyCheck",
                    )
                    .detail(
                        "KMS normally refuses a policy that would stop the caller from changing it \
                         again. This one was set with the check turned off.",
                    )
                    .evidence([format!(
                        "{} {} at {} by {}",
                        e.event_name,
                        e.event_id.as_deref().unwrap_or("(no id)"),
                        e.event_time.as_deref().unwrap_or("(no time)"),
                        e.changed_by.as_deref().unwrap_or("(unknown)")
                    )])
                    .help("Avoid --bypass-policy-lockout-safety-check in scripts and templates."),
                );
        }
        Some(_) => {}
        None if h.complete && ev.current_policy.is_none() => findings.push(
            Finding::new(
                Code::PolicyHistoryUnavailable,
                format!("No policy change or creation event for the key in the last {} days", h.lookback_days),
            )
            .detail(
                "CloudTrail's event history keeps 90 days. The last PutKeyPolicy or CreateKey of \
                 this key is older, so the policy in force is not known.",
            )
            .evidence([format!(
                "cloudtrail:LookupEvents: {} events on {} pages scanned, {} unreadable records skipped",
                h.events_scanned, h.pages, h.skipped_records
            )])
            .help("Search the CloudTrail log archive in S3 with the Athena query in the next steps."),
        ),
        None => {}
    }
    for failed in h.failed_attempts.iter().take(3) {
        if let Some(f) = findings.iter_mut().find(|f| {
            matches!(
                f.code,
                Code::RootDelegationMissing | Code::KeyPolicyExplicitDeny | Code::ConditionNotMet
            )
        }) {
            let line = format!(
                "failed {} at {} by {}: {}",
                failed.event_name,
                failed.event_time.as_deref().unwrap_or("(no time)"),
                failed.changed_by.as_deref().unwrap_or("(unknown)"),
                failed.error_code.as_deref().unwrap_or("error")
            );
            if !f.evidence.contains(&line) {
                f.evidence.push(line);
            }
        }
    }
}

pub fn restorer_findings(findings: &mut Vec<Finding>, restorers: &[Restorer]) {
    for r in restorers.iter().filter(|r| r.exists == Some(false)) {
        findings.push(
            Finding::new(
                Code::RestorerMissing,
                format!("{} could restore access, but no longer exists", r.principal),
            )
            .detail(format!(
                "Statement \"{}\" lets it update the key policy; IAM answers NoSuchEntity. A \
                     principal recreated with the same name is a new principal: IAM rewrote the \
                     policy to the deleted one's unique ID.",
                r.statement
            ))
            .evidence([format!("iam: NoSuchEntity for {}", r.principal)])
            .help("Use another restorer; if none is left, see no-restorer."),
        );
    }
}

/// The symptom itself (`GetKeyPolicy` denied), a key that does not exist and restorers that
/// do not exist are findings of their own, not gaps in the evidence.
fn expected(c: &crate::evidence::CallRecord) -> bool {
    (c.operation == "GetKeyPolicy" && c.outcome == Outcome::AccessDenied)
        || (c.outcome == Outcome::NotFound
            && matches!(
                c.operation.as_str(),
                "DescribeKey" | "GetKeyPolicy" | "GetRole" | "GetUser"
            ))
        || c.outcome == Outcome::Ok
}

pub fn incomplete_findings(findings: &mut Vec<Finding>, ev: &Evidence, policy_known: bool) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for c in ev.calls.iter().filter(|c| !expected(c)) {
        if seen.contains(&(c.service.as_str(), c.operation.as_str())) {
            continue;
        }
        // A throttled call that a later one of the same operation made up for is no gap.
        if c.outcome == Outcome::Throttled
            && ev
                .calls
                .iter()
                .any(|o| o.operation == c.operation && o.outcome == Outcome::Ok)
        {
            continue;
        }
        seen.push((c.service.as_str(), c.operation.as_str()));
        let leaves_open = match c.operation.as_str() {
            "DescribeKey" => "the key's manager, state and deletion date are unknown",
            "LookupEvents" => "the policy's history (who changed it, and when) is unknown",
            "SimulatePrincipalPolicy" => {
                "whether the principal's IAM policies allow the actions is unknown"
            }
            "GetRole" | "GetUser" => "the principal's path or a restorer's existence is unknown",
            "ListAliases" => "the key behind the alias is unknown",
            "GetCallerIdentity" => "who the caller is",
            _ => "part of the evidence is missing",
        };
        let how = match c.outcome {
            Outcome::AccessDenied => "was denied",
            Outcome::Throttled => "stayed throttled",
            Outcome::NotFound => "found nothing",
            _ => "failed",
        };
        findings.push(
            Finding::new(Code::EvidenceIncomplete, format!("{}:{} {how}", c.service, c.operation))
                .detail(format!("Without it, {leaves_open}."))
                .evidence([format!(
                    "{}:{}: {}{}",
                    c.service,
                    c.operation,
                    c.error_code.as_deref().unwrap_or("error"),
                    c.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
                )])
                .help(format!(
                    "Allow {}:{} to the caller (see the read-only policy in the README) and run kms-doctor again.",
                    c.service, c.operation
                )),
        );
    }
    if !policy_known
        && !ev.key.not_found
        && ev.history.is_none()
        && !seen.iter().any(|(_, op)| *op == "LookupEvents")
    {
        findings.push(
            Finding::new(Code::EvidenceIncomplete, "The key policy in force is unknown")
                .detail("GetKeyPolicy was denied and CloudTrail was not searched (--no-cloudtrail), so kms-doctor cannot say which statements decide.")
                .help("Run without --no-cloudtrail, or ask someone who can read the policy to run kms-doctor explain on it."),
        );
    }
    for note in &ev.notes {
        findings.push(
            Finding::new(Code::EvidenceIncomplete, "A step was skipped")
                .detail(note.clone())
                .help("Nothing to do: kms-doctor explains what it could not check."),
        );
    }
}

/// The Athena query that finds the key's policy changes in a CloudTrail log archive table.
pub fn athena_query(ev: &Evidence) -> String {
    let id = ev
        .key
        .key_id
        .clone()
        .unwrap_or_else(|| ev.key.input.clone());
    format!(
        "SELECT eventtime, eventname, useridentity.arn AS changed_by, errorcode, requestparameters \
         FROM cloudtrail_logs WHERE eventsource = 'kms.amazonaws.com' \
         AND eventname IN ('PutKeyPolicy', 'CreateKey', 'ReplicateKey') \
         AND (requestparameters LIKE '%{id}%' OR responseelements LIKE '%{id}%') \
         ORDER BY eventtime DESC LIMIT 20"
    )
}

pub fn next_steps(
    ev: &Evidence,
    findings: &[Finding],
    restorers: &[Restorer],
    source: &PolicySource,
    subject: Option<&Identity>,
) -> Vec<String> {
    let mut steps = Vec::new();
    let key = key_name(ev);
    let policy_fix = has(findings, Code::RootDelegationMissing)
        || has(findings, Code::KeyPolicyExplicitDeny)
        || has(findings, Code::ConditionNotMet);
    let named: Vec<&Restorer> = restorers
        .iter()
        .filter(|r| r.exists != Some(false) && !r.via_iam)
        .collect();
    if policy_fix && !has(findings, Code::AwsManagedKey) {
        if named.is_empty() && restorers.iter().all(|r| r.exists == Some(false)) {
            // no-restorer below says what is left.
        } else {
            let who = if named.is_empty() {
                "a principal whose IAM policies allow kms:PutKeyPolicy".to_owned()
            } else {
                named
                    .iter()
                    .map(|r| r.principal.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            steps.push(format!(
                "Ask {who} to update the key policy (they can, per the policy in force)."
            ));
            steps.push(format!(
                "They save the policy: aws kms get-key-policy --key-id {key} --policy-name default --query Policy --output text > key-policy.json"
            ));
            steps.push(format!(
                "They edit key-policy.json as the findings say, then apply it: aws kms put-key-policy --key-id {key} --policy-name default --policy file://key-policy.json"
            ));
            if has(findings, Code::RootDelegationMissing) {
                steps.push("Or run kms-doctor with --write-fix FILE to get the policy in force with the account delegation statement added, for them to apply.".to_owned());
            }
        }
    }
    if has(findings, Code::IamImplicitDeny) {
        let target = match iam_target(subject) {
            Some((kind, name)) => format!("the IAM {kind} {name}"),
            None => "the principal".to_owned(),
        };
        steps.push(format!(
            "An IAM administrator attaches to {target} a policy that allows kms:GetKeyPolicy and kms:PutKeyPolicy on {key} (see iam-implicit-deny)."
        ));
    }
    if has(findings, Code::NoRestorer) {
        steps.push("Open a case with AWS Support from the key's account (as its root user if you can) and attach this report: only AWS can restore access to this key.".to_owned());
    }
    if source.kind == "none" && !ev.key.not_found {
        steps.push(format!(
            "Find the key's policy history in the CloudTrail log archive with Athena: {}",
            athena_query(ev)
        ));
    }
    if has(findings, Code::EvidenceIncomplete)
        && ev
            .calls
            .iter()
            .any(|c| c.outcome == Outcome::AccessDenied && c.operation != "GetKeyPolicy")
    {
        steps.push("Give kms-doctor's caller the read-only permissions listed in the README and run it again for a complete diagnosis.".to_owned());
    }
    steps
}

/// `GetKeyPolicy` was denied, the policy text is unknown, and IAM allows the action: only the
/// key policy can have denied it. Without the text, a missing delegation (by far the usual
/// cause) and an explicit `Deny` cannot be told apart; the finding says so.
pub fn unexplained_denial(
    findings: &mut Vec<Finding>,
    ev: &Evidence,
    access: &[crate::diagnose::Access],
) {
    use crate::diagnose::Verdict;
    let get = access
        .iter()
        .find(|a| a.action == crate::policy::GET_KEY_POLICY);
    let Some(get) = get.filter(|a| a.verdict == Verdict::Denied && a.because.is_empty()) else {
        return;
    };
    let sim = ev.simulation.iter().find(|s| s.action == get.action);
    let iam_allows = sim.is_some_and(|s| s.decision == "allowed");
    if !iam_allows || has(findings, Code::RootDelegationMissing) {
        return;
    }
    findings.push(
        Finding::new(
            Code::RootDelegationMissing,
            "IAM allows kms:GetKeyPolicy, yet KMS denied it: the key policy does not grant it to this principal",
        )
        .detail(
            "The IAM policy simulator finds the action allowed by the principal's IAM policies, \
             and KMS still answered AccessDenied: the key policy neither names the principal nor \
             delegates to the account (or, less often, denies explicitly). The policy text could \
             not be read or recovered, so kms-doctor cannot tell which.",
        )
        .evidence(
            sim.map(|s| simulation_evidence(&get.action, s))
                .unwrap_or_default()
                .into_iter()
                .chain(["kms:GetKeyPolicy answered AccessDeniedException".to_owned()]),
        )
        .help("Find the policy in force (see the next steps), then ask one of its key administrators to add the account delegation statement."),
    );
}

/// Where the key policy is the cause, what IAM says shows that IAM alone would allow it: the
/// operator's admin rights are real, the key policy just does not hand over to them.
pub fn annotate_iam_side(findings: &mut [Finding], ev: &Evidence) {
    let Some(f) = findings
        .iter_mut()
        .find(|f| f.code == Code::RootDelegationMissing)
    else {
        return;
    };
    for s in ev.simulation.iter().filter(|s| s.decision == "allowed") {
        let by: Vec<String> = s
            .matched_statements
            .iter()
            .map(|m| {
                m.source_policy_id
                    .clone()
                    .unwrap_or_else(|| "an IAM policy".into())
            })
            .collect();
        let line = format!(
            "iam:SimulatePrincipalPolicy: the principal's IAM policies allow {}{} — ineffective without the delegation",
            s.action,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        );
        if !f.evidence.contains(&line) {
            f.evidence.push(line);
        }
    }
}
