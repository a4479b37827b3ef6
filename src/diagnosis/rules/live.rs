//! Findings that need live evidence: the IAM simulation, the key's metadata, the policy's
//! history, the restorers' existence, and the calls that could not be made; and the next steps.

use super::has;
use crate::diagnosis::athena::athena_sql;
use crate::diagnosis::model::{
    Access, AwsErrorCode, CallRecord, Code, Evidence, Finding, KeyState, Note, Operation, Outcome,
    Restorer, Service, SimDecision, SimulationResult, SourcePolicyType, Text, Timestamp, Verdict,
    code, count, prose, quoted,
};
use crate::policy::{
    Applies, Decision, Effect, Evaluation, GET_KEY_POLICY, Identity, PUT_KEY_POLICY,
};
use crate::text;

pub(crate) fn key_name(ev: &Evidence) -> String {
    ev.key.arn.clone().unwrap_or_else(|| ev.key.input.clone())
}

/// The principal diagnosed, as the caller gave it.
fn who(ev: &Evidence) -> String {
    ev.subject.clone().unwrap_or_else(|| ev.caller.arn.clone())
}

pub fn key_not_found(ev: &Evidence) -> Finding {
    Finding::new(
        Code::KeyNotFound,
        text!(
            "No key or alias ",
            code(ev.key.input.clone()),
            " in this account and Region"
        ),
    )
    .detail(text!(
        "KMS answered NotFoundException in account ",
        code(ev.caller.account.clone()),
        " and Region ",
        code(ev.region.as_deref().unwrap_or("(unknown)")),
        "."
    ))
    .evidence(
        ev.calls
            .iter()
            .filter(|c| c.outcome == Outcome::NotFound && c.service == Service::Kms)
            .map(|c| {
                text!(
                    code(format!("kms:{}", c.operation)),
                    " answered ",
                    code(c.error_code.as_deref().unwrap_or("not found"))
                )
            }),
    )
    .help(
        "Check the key ID or alias, and the account and Region (--region, --profile, AWS_REGION).",
    )
}

fn simulation_evidence(action: &str, sim: &SimulationResult) -> Vec<Text> {
    let mut out = vec![text!(
        "iam:SimulatePrincipalPolicy for ",
        code(action),
        " on the key: ",
        code(sim.decision.to_string())
    )];
    for m in &sim.matched_statements {
        out.push(text!(
            "matched statement in ",
            code(m.source_policy_id.as_deref().unwrap_or("an unnamed policy")),
            " (",
            code(
                m.source_policy_type
                    .as_ref()
                    .map_or("unknown type", SourcePolicyType::as_str),
            ),
            ")"
        ));
    }
    if let Some(o) = sim.allowed_by_organizations {
        out.push(text!(
            "AllowedByOrganizations: ",
            prose(if o { "true" } else { "false" })
        ));
    }
    if let Some(b) = sim.allowed_by_permissions_boundary {
        out.push(text!(
            "AllowedByPermissionsBoundary: ",
            prose(if b { "true" } else { "false" })
        ));
    }
    out
}

/// The principal's name for IAM commands (`put-role-policy --role-name …`).
pub(crate) fn iam_target(subject: Option<&Identity>) -> Option<(&'static str, String)> {
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
    let who = || code(who(ev));
    let act = || code(action);
    for rule in because {
        let f = match rule {
            Code::IamImplicitDeny => {
                let key = key_name(ev);
                let policy = serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": [GET_KEY_POLICY, PUT_KEY_POLICY], "Resource": key}]
                });
                let command = match iam_target(subject) {
                    Some((kind, name)) => text!(
                        " For example: ",
                        code(format!(
                            "aws iam put-{kind}-policy --{kind}-name {name} --policy-name kms-key-policy-access --policy-document '{policy}'"
                        ))
                    ),
                    None => Text::default(),
                };
                Finding::new(
                    *rule,
                    text!("No IAM policy of this principal allows ", act()),
                )
                .detail(text!(
                    "The key policy delegates to IAM, so ",
                    who(),
                    " needs an identity policy that allows ",
                    act(),
                    " on the key; the IAM policy simulator finds none."
                ))
                .evidence(simulation_evidence(action, sim))
                .help(text!(
                    "Attach an IAM policy that allows ",
                    act(),
                    " on ",
                    code(key),
                    ".",
                    command
                ))
            }
            Code::IamExplicitDeny => Finding::new(
                *rule,
                text!("An IAM policy explicitly denies ", act()),
            )
            .detail(text!(
                "An identity policy of ",
                who(),
                " denies ",
                act(),
                " on the key; explicit denies win over the key policy's allows."
            ))
            .evidence(simulation_evidence(action, sim))
            .help("Change or detach the denying policy named in the evidence."),
            Code::ScpDeny => Finding::new(
                *rule,
                text!("A service control policy denies ", act()),
            )
            .detail(text!(
                "AWS Organizations service control policies limit every principal of the \
                 account, the root user included; one denies ",
                act(),
                " here."
            ))
            .evidence(simulation_evidence(action, sim))
            .help(
                "Ask the organization's administrators to change the SCP, or act from a principal it exempts.",
            ),
            Code::PermissionsBoundaryDeny => Finding::new(
                *rule,
                text!(
                    "The principal's permissions boundary does not allow ",
                    act()
                ),
            )
            .detail(text!(
                who(),
                " has a permissions boundary that does not allow ",
                act(),
                "."
            ))
            .evidence(simulation_evidence(action, sim))
            .help(
                "Add the action to the boundary policy, or use a principal without that boundary.",
            ),
            _ => continue,
        };
        findings.push(f);
    }
}

/// What AWS said, as evidence: the call and its message.
fn aws_said(call: &CallRecord) -> Text {
    text!(
        code(format!("{}:{}", call.service, call.operation)),
        " answered ",
        code(
            call.error_code
                .clone()
                .unwrap_or_else(|| "AccessDenied".into())
        ),
        ": ",
        code(call.message.clone().unwrap_or_default())
    )
}

/// The organisation's policy commands, for an SCP or RCP found in AWS's words.
fn organizations_help(ev: &Evidence, filter: &'static str, what: &'static str) -> Text {
    let account = ev.key.account.as_deref().unwrap_or(&ev.caller.account);
    text!(
        what,
        " are changed from the organisation's management account or its delegated administrator for policy management, never from the key's account: ask them which one denies it (",
        code(format!(
            "aws organizations list-policies-for-target --target-id {account} --filter {filter}"
        )),
        ", and the same for each OU above the account and the root), and to exempt this principal or narrow the statement."
    )
}

/// Why the policy AWS names is not named here.
fn unread(read: bool, what: &'static str) -> Text {
    if read {
        text!(
            " The ",
            what,
            "s read do not show which one: it depends on something of the request kms-doctor does not know."
        )
    } else {
        text!(
            " Which ",
            what,
            " and statement is not known: kms-doctor's caller cannot read the organisation's policies."
        )
    }
}

/// Findings for the causes AWS's AccessDenied message names, where no other rule gave one:
/// the layers kms-doctor cannot see (RCPs, VPC endpoint policies, session policies), the ones it
/// saw without the simulator, and a denial the evidence contradicts.
pub fn stated_findings(
    findings: &mut Vec<Finding>,
    ev: &Evidence,
    access: &Access,
    call: &CallRecord,
    eval: Option<&Evaluation>,
    sim: Option<&SimulationResult>,
) {
    let act = || code(access.action.clone());
    let explicit = call.denial.and_then(|d| d.explicit) == Some(true);
    let does = if explicit {
        " denies "
    } else {
        " does not allow "
    };
    for rule in &access.because {
        if has(findings, *rule) {
            continue;
        }
        let f = match rule {
            Code::RcpDeny => Finding::new(
                *rule,
                text!("A resource control policy denies ", act(), " on this key"),
            )
            .detail(text!(
                "AWS says so in its answer. Resource control policies (AWS Organizations) limit what any principal may do to a member account's resources, whatever the key policy and IAM allow; the key's administrators are held by them too.",
                unread(ev.organization.as_ref().and_then(|o| o.rcps.as_ref()).is_some(), "RCP"),
                " Whether it denies kms:PutKeyPolicy as well is not known."
            ))
            .help(organizations_help(ev, "RESOURCE_CONTROL_POLICY", "RCPs")),
            Code::ScpDeny => Finding::new(
                *rule,
                text!("A service control policy denies ", act()),
            )
            .detail(text!(
                "AWS says so in its answer. Service control policies (AWS Organizations) limit every principal of a member account, whatever its IAM policies and the key policy allow.",
                unread(ev.organization.as_ref().and_then(|o| o.scps.as_ref()).is_some(), "SCP"),
            ))
            .help(organizations_help(ev, "SERVICE_CONTROL_POLICY", "SCPs")),
            Code::VpcEndpointPolicyDeny => Finding::new(
                *rule,
                text!(
                    "The policy of the VPC endpoint this request went through",
                    prose(does),
                    act()
                ),
            )
            .detail(text!(
                "AWS says so in its answer. A VPC endpoint policy limits every request that goes through the endpoint, whatever the key policy and IAM allow. Whether it denies kms:PutKeyPolicy as well is not known."
            ))
            .help(text!(
                "Run from outside the VPC (or through another endpoint), or ask the VPC's owners to allow the action in the endpoint's policy: ",
                code(format!(
                    "aws ec2 describe-vpc-endpoints{} --filters Name=service-name,Values=com.amazonaws.{}.kms --query 'VpcEndpoints[].[VpcEndpointId,PolicyDocument]'",
                    region_flag(ev),
                    ev.key.region.as_deref().unwrap_or("REGION")
                )),
                "."
            )),
            Code::SessionPolicyDeny => Finding::new(
                *rule,
                text!("The session policy of this role session", prose(does), act()),
            )
            .detail(text!(
                "AWS says so in its answer. A session policy, passed when the role was assumed, can only narrow what the role's own policies allow. Whether it denies kms:PutKeyPolicy as well is not known."
            ))
            .help("Assume the role again without a session policy (no --policy or --policy-arns), or with one that allows kms:GetKeyPolicy and kms:PutKeyPolicy."),
            Code::PermissionsBoundaryDeny => Finding::new(
                *rule,
                text!("The principal's permissions boundary", prose(does), act()),
            )
            .detail("AWS says so in its answer. A permissions boundary caps what the principal's IAM policies can grant.")
            .help("Add the action to the boundary policy, or use a principal without that boundary."),
            Code::IamImplicitDeny => Finding::new(
                *rule,
                text!("No IAM policy of this principal allows ", act()),
            )
            .detail("AWS says so in its answer: the key policy hands the decision to IAM, and no identity policy of the principal allows the action.")
            .help(text!("Attach an IAM policy that allows ", act(), " on ", code(key_name(ev)), ".")),
            Code::IamExplicitDeny => Finding::new(
                *rule,
                text!("An IAM policy explicitly denies ", act()),
            )
            .detail("AWS says so in its answer: an identity policy of the principal denies the action; an explicit deny wins over every allow.")
            .help("Change or detach the denying policy (the IAM policy simulator names it)."),
            Code::KeyPolicyExplicitDeny => key_policy_deny_stated(act(), eval),
            Code::DenialUnexplained => {
                let layer = call
                    .denial
                    .map_or("an unnamed layer", |d| d.policy_type.words());
                Finding::new(
                    *rule,
                    text!(
                        "AWS denied ",
                        act(),
                        " at a layer the evidence shows allowing it"
                    ),
                )
                .detail(text!(
                    "AWS names ",
                    prose(layer),
                    "; the evidence says otherwise: ",
                    model_view(eval, sim),
                    ". The policy may have changed since the evidence was gathered, or something kms-doctor does not see decides (a condition on the request, a grant). The verdict stays denied, as AWS answered."
                ))
                .help("Compare the policy in force with a principal that can read it (or the CloudTrail log archive) before changing anything.")
            }
            _ => continue,
        };
        findings.push(f.evidence([aws_said(call)]));
    }
}

/// What the key policy and the simulator said of the action, in words.
fn model_view(eval: Option<&Evaluation>, sim: Option<&SimulationResult>) -> Text {
    let mut parts = Vec::new();
    if let Some(e) = eval {
        let allowing: Vec<Text> = e
            .statements
            .iter()
            .filter(|t| t.effect == Effect::Allow && t.applies == Applies::Yes)
            .map(|t| Text::from(quoted(t.label())))
            .collect();
        parts.push(match e.decision {
            Decision::Allow | Decision::Delegated if !allowing.is_empty() => text!(
                "the key policy in force allows it (",
                Text::join(allowing, ", "),
                ")"
            ),
            d => text!("the key policy in force decides ", code(d.as_str())),
        });
    }
    if let Some(s) = sim {
        parts.push(text!(
            "the IAM policy simulator answers ",
            code(s.decision.as_str())
        ));
    }
    Text::join(parts, "; ")
}

/// Findings about the key itself.
pub fn key_findings(
    findings: &mut Vec<Finding>,
    ev: &Evidence,
    aws_managed: bool,
    cross_account: bool,
) {
    if cross_account && !has(findings, Code::CrossAccountKey) {
        let key_account = || code(ev.key.account.as_deref().unwrap_or("another account"));
        findings.push(
            Finding::new(
                Code::CrossAccountKey,
                text!(
                    "The key belongs to account ",
                    key_account(),
                    ": kms:GetKeyPolicy and kms:PutKeyPolicy never work cross-account"
                ),
            )
            .detail(text!(
                "The principal is in account ",
                code(ev.caller.account.clone()),
                ". KMS serves GetKeyPolicy and PutKeyPolicy only to principals of the key's own \
                 account, whatever the key policy and IAM policies say."
            ))
            .evidence([text!("key ", code(key_name(ev)))])
            .help(text!(
                "Run kms-doctor (and the fix) as a principal of account ",
                key_account(),
                "."
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
            .evidence([text!(
                "kms:DescribeKey: KeyManager AWS for ",
                code(key_name(ev))
            )])
            .help("Use a customer managed key where you need to control the key policy."),
        );
    }
    if let Some(f) = pending_deletion(
        &key_name(ev),
        ev.key.state.as_ref(),
        ev.key.deletion_date.as_ref(),
        &region_flag(ev),
    ) {
        findings.push(f);
    }
}

/// `key-pending-deletion`, when the key's state says so. `region` is ` --region R` or empty.
pub fn pending_deletion(
    key: &str,
    state: Option<&KeyState>,
    deletion_date: Option<&Timestamp>,
    region: &str,
) -> Option<Finding> {
    if !state.is_some_and(KeyState::is_pending_deletion) {
        return None;
    }
    let when = || code(deletion_date.map_or("an unknown date".to_owned(), Timestamp::to_string));
    Some(
        Finding::new(
            Code::KeyPendingDeletion,
            text!("The key is scheduled for deletion on ", when()),
        )
        .detail(
            "After that date the key and everything encrypted under it are gone for good. \
             GetKeyPolicy and PutKeyPolicy still work while it is pending deletion.",
        )
        .evidence([text!(
            "kms:DescribeKey: KeyState ",
            code(state.map_or("", KeyState::as_str)),
            ", DeletionDate ",
            when()
        )])
        .help(text!(
            "If the key is still needed, a principal allowed kms:CancelKeyDeletion runs: ",
            code(format!(
                "aws kms cancel-key-deletion --key-id {key}{region}"
            ))
        )),
    )
}

/// ` --region R` for the commands kms-doctor proposes, when the Region is known.
pub(crate) fn region_flag(ev: &Evidence) -> String {
    match ev.key.region.as_deref().or(ev.region.as_deref()) {
        Some(r) => format!(" --region {r}"),
        None => String::new(),
    }
}

/// `PutKeyPolicy e1 at 2026-… by arn:…`
fn describe_event(e: &crate::diagnosis::model::PolicyEvent) -> Text {
    text!(
        code(e.event_name),
        " ",
        code(e.event_id.as_deref().unwrap_or("(no id)")),
        " at ",
        code(time_or(e.event_time.as_ref(), "(no time)")),
        " by ",
        code(e.changed_by.as_deref().unwrap_or("(unknown)"))
    )
}

/// `lockout-check-bypassed`: the event that set the policy in force turned the check off.
pub fn lockout_check_bypassed(e: &crate::diagnosis::model::PolicyEvent) -> Finding {
    Finding::new(
        Code::LockoutCheckBypassed,
        "The policy in force was set with BypassPolicyLockoutSafetyCheck",
    )
    .detail(
        "KMS normally refuses a policy that would stop the caller from changing it \
         again. This one was set with the check turned off.",
    )
    .evidence([describe_event(e)])
    .help("Avoid --bypass-policy-lockout-safety-check in scripts and templates.")
}

/// Findings from the policy's history.
pub fn history_findings(findings: &mut Vec<Finding>, ev: &Evidence) {
    let Some(h) = &ev.history else { return };
    // A key that does not exist has no history to miss: that is key-not-found.
    if ev.key.not_found {
        return;
    }
    match &h.in_force {
        Some(e) if e.bypass_lockout_check => findings.push(lockout_check_bypassed(e)),
        Some(_) => {}
        None if h.complete && ev.current_policy.is_none() => findings.push(
            Finding::new(
                Code::PolicyHistoryUnavailable,
                text!(
                    "No policy change or creation event for the key in the last ",
                    count(h.lookback_days),
                    " days"
                ),
            )
            .detail(
                "CloudTrail's event history keeps 90 days. The last PutKeyPolicy or CreateKey of \
                 this key is older, so the policy in force is not known.",
            )
            .evidence([text!(
                "cloudtrail:LookupEvents: ",
                count(h.events_scanned),
                " events on ",
                count(h.pages),
                " pages scanned, ",
                count(h.skipped_records),
                " unreadable records skipped"
            )])
            .help(
                "Search the CloudTrail log archive in S3 with the Athena query in the next steps.",
            ),
        ),
        None => {}
    }
    // A search that ended before the policy in force, cut short by a bound or a failed call:
    // the policy is unknown, and why is said.
    let cut = match (&h.in_force, &h.cut_short) {
        (Some(_), _) => None,
        (None, Some(why)) => Some((
            why.text(),
            "Run again with a larger --max-duration, or read the CloudTrail log archive with --logs or --athena-table.",
        )),
        (None, None) if !h.complete => Some((
            "by a failed call".into(),
            "Run again (a throttled or failed call may pass then), or read the CloudTrail log archive with --logs or --athena-table.",
        )),
        (None, None) => None,
    };
    if let Some((why, help)) = cut {
        findings.push(
            Finding::new(
                Code::EvidenceIncomplete,
                text!("The CloudTrail search was cut short ", why),
            )
            .detail(text!(
                "It read ",
                count(h.events_scanned),
                " events on ",
                count(h.pages),
                " pages",
                " without reaching the newest successful PutKeyPolicy or CreateKey of the key, so the policy in force is unknown."
            ))
            .help(help),
        );
    }
    for failed in h.failed_attempts.iter().take(3) {
        if let Some(f) = findings.iter_mut().find(|f| {
            matches!(
                f.code,
                Code::RootDelegationMissing | Code::KeyPolicyExplicitDeny | Code::ConditionNotMet
            )
        }) {
            f.add_evidence(text!(
                "failed ",
                code(failed.event_name),
                " at ",
                code(time_or(failed.event_time.as_ref(), "(no time)")),
                " by ",
                code(failed.changed_by.as_deref().unwrap_or("(unknown)")),
                ": ",
                code(failed.error_code.as_deref().unwrap_or("error"))
            ));
        }
    }
}

pub fn restorer_findings(findings: &mut Vec<Finding>, restorers: &[Restorer]) {
    for r in restorers.iter().filter(|r| r.exists != Some(false)) {
        let Some(created) = r.recreated else { continue };
        findings.push(
            Finding::new(
                Code::RestorerMissing,
                text!(
                    code(r.principal.clone()),
                    " could restore access, but was recreated after the policy named it"
                ),
            )
            .detail(text!(
                "Statement ",
                quoted(r.statement.clone()),
                " named it when the policy was set; IAM created the principal of that name at ",
                code(created.to_string()),
                ", later. KMS stores a key policy's principals by unique ID: the policy names the deleted principal, not this new one."
            ))
            .evidence([text!(
                "iam: CreateDate ",
                code(created.to_string()),
                " for ",
                code(r.principal.clone())
            )])
            .help("Use another restorer; if none is left, see no-restorer."),
        );
    }
    for r in restorers.iter().filter(|r| r.exists == Some(false)) {
        findings.push(
            Finding::new(
                Code::RestorerMissing,
                text!(
                    code(r.principal.clone()),
                    " could restore access, but no longer exists"
                ),
            )
            .detail(text!(
                "Statement ",
                quoted(r.statement.clone()),
                " lets it update the key policy; IAM answers NoSuchEntity. A principal \
                 recreated with the same name is a new principal: IAM rewrote the policy to the \
                 deleted one's unique ID."
            ))
            .evidence([text!("iam: NoSuchEntity for ", code(r.principal.clone()))])
            .help("Use another restorer; if none is left, see no-restorer."),
        );
    }
}

/// `key-policy-explicit-deny` as AWS stated it: the statement that explains it when the policy
/// is known (a Deny on the request's network origin), else AWS's word alone.
fn key_policy_deny_stated(
    act: crate::diagnosis::model::Span,
    eval: Option<&Evaluation>,
) -> Finding {
    match eval.and_then(crate::diagnosis::verdict::request_origin_deny) {
        Some(t) => Finding::new(
            Code::KeyPolicyExplicitDeny,
            text!("Statement ", quoted(t.label()), " of the key policy denies ", act, " from where this request came"),
        )
        .detail(text!(
            "AWS says so in its answer (an explicit deny in a resource-based policy), and the statement explains it: it denies the action unless the request's ",
            Text::join(t.unknown_context.iter().map(|k| Text::code(k.clone())), ", "),
            " match what it names, and this request's did not. kms-doctor cannot see where a request comes from."
        ))
        .evidence([text!("statement ", quoted(t.label()), ": ", code(t.reason.clone()))])
        .help("Make the request from where the statement allows it (the VPC endpoint, VPC or network it names); to change that, a principal the policy still lets update it narrows the Deny."),
        None => Finding::new(
            Code::KeyPolicyExplicitDeny,
            text!("A Deny statement in the key policy matches ", act),
        )
        .detail("AWS says so in its answer. The policy text could not be read or recovered, so which statement is not known.")
        .help("A principal the policy still lets update it removes or narrows the Deny; if none can, only AWS Support can restore access."),
    }
}

/// The symptom itself (`GetKeyPolicy` denied), a key that does not exist and restorers that
/// do not exist are findings of their own, not gaps in the evidence.
fn expected(c: &CallRecord) -> bool {
    (c.operation == Operation::GetKeyPolicy && c.outcome == Outcome::AccessDenied)
        || (c.outcome == Outcome::NotFound
            && matches!(
                c.operation,
                Operation::DescribeKey
                    | Operation::GetKeyPolicy
                    | Operation::GetRole
                    | Operation::GetUser
            ))
        || c.outcome == Outcome::Ok
        // Not in an organisation: no SCP or RCP applies, nothing is missing.
        || (c.service == Service::Organizations
            && c.error_code.as_deref().map(AwsErrorCode::parse)
                == Some(AwsErrorCode::OrganizationsNotInUse))
}

/// A KMS call on the key denied while the key policy is what shuts the caller out: IAM
/// permissions cannot open it.
pub(crate) fn denied_by_key_policy(c: &CallRecord, findings: &[Finding]) -> bool {
    c.service == Service::Kms
        && c.outcome == Outcome::AccessDenied
        && c.operation != Operation::ListAliases
        && (has(findings, Code::RootDelegationMissing)
            || has(findings, Code::KeyPolicyExplicitDeny))
}

/// What a failed call leaves open.
fn leaves_open(operation: &Operation) -> &'static str {
    use Operation::*;
    match operation {
        DescribeKey => "the key's manager, state and deletion date are unknown",
        LookupEvents => "the policy's history (who changed it, and when) is unknown",
        SimulatePrincipalPolicy => {
            "whether the principal's IAM policies allow the actions is unknown"
        }
        GetRole | GetUser => "the principal's path or a restorer's existence is unknown",
        GetAccountAuthorizationDetails => {
            "which IAM users and roles can update the key policy through the account delegation is unknown: the restorers named are those the key policy names"
        }
        ListAliases => "the key behind the alias is unknown",
        DescribeOrganization | ListParents | ListPoliciesForTarget | DescribePolicy => {
            "the organisation's SCPs and RCPs could not be read: which of them stop whom is unknown (for the caller, the simulator's Organizations answer stands)"
        }
        GetCallerIdentity => "who the caller is",
        ListObjectsV2 | GetObject => "the log archive in S3 could not be read in full",
        StartQueryExecution | GetQueryExecution | GetQueryResults => {
            "the Athena query over the CloudTrail table gave no answer"
        }
        _ => "part of the evidence is missing",
    }
}

pub fn incomplete_findings(findings: &mut Vec<Finding>, ev: &Evidence, policy_known: bool) {
    let mut seen: Vec<(&Service, &Operation)> = Vec::new();
    for c in ev.calls.iter().filter(|c| !expected(c)) {
        if seen.contains(&(&c.service, &c.operation)) {
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
        seen.push((&c.service, &c.operation));
        let how = match c.outcome {
            Outcome::AccessDenied => " was denied",
            Outcome::Throttled => " stayed throttled",
            Outcome::NotFound => " found nothing",
            _ => " failed",
        };
        let call = || code(format!("{}:{}", c.service, c.operation));
        let mut evidence = text!(
            call(),
            ": ",
            code(c.error_code.as_deref().unwrap_or("error"))
        );
        if let Some(m) = &c.message {
            evidence.append(text!(" (", code(m.clone()), ")"));
        }
        let help = if denied_by_key_policy(c, findings) {
            text!(
                "The key policy governs ",
                call(),
                " too, and it does not let the caller in: no IAM permission can help. It answers once a restorer fixes the key policy."
            )
        } else {
            text!(
                "Allow ",
                call(),
                " to the caller (see the read-only policy in the README) and run kms-doctor again."
            )
        };
        findings.push(
            Finding::new(Code::EvidenceIncomplete, text!(call(), how))
                .detail(text!("Without it, ", leaves_open(&c.operation), "."))
                .evidence([evidence])
                .help(help),
        );
    }
    if !policy_known
        && !ev.key.not_found
        && ev.history.is_none()
        && !seen.iter().any(|(_, op)| **op == Operation::LookupEvents)
    {
        let finding = Finding::new(
            Code::EvidenceIncomplete,
            "The key policy in force is unknown",
        );
        findings.push(if ev.key.arn.is_none() && ev.key.key_id.is_none() {
            finding
                .detail("GetKeyPolicy was denied, and the key's ID could not be learned (DescribeKey and ListAliases gave no answer), so CloudTrail could not be searched for its policy changes.")
                .help("Run kms-doctor again with the key ID or key ARN instead of the alias.")
        } else {
            finding
                .detail("GetKeyPolicy was denied and CloudTrail was not searched (--no-cloudtrail), so kms-doctor cannot say which statements decide.")
                .help("Run without --no-cloudtrail, or ask someone who can read the policy to run kms-doctor explain on it.")
        });
    }
    for note in &ev.notes {
        findings.push(
            Finding::new(Code::EvidenceIncomplete, "A step was skipped")
                .detail(note_text(note, ev))
                .help("Nothing to do: kms-doctor explains what it could not check."),
        );
    }
}

/// A note as a sentence.
pub fn note_text(note: &Note, ev: &Evidence) -> Text {
    match note {
        Note::UnknownCallerArn => text!(
            "The caller's ARN ",
            code(ev.caller.arn.clone()),
            " is not a user, role session, root or federated-user ARN, so its key-policy rights cannot be evaluated."
        ),
        Note::RootUser => "The principal is the account's root user: IAM policies do not apply to it (SCPs still do), so the IAM policy simulation was not run.".into(),
        Note::FederatedUser => "The principal is a federated user: its permissions are those of the IAM user that called GetFederationToken, limited by its session policy, which the IAM policy simulator cannot evaluate.".into(),
        Note::ServiceLinkedRole => "The principal is a service-linked role: AWS manages its policies, and they cannot be changed.".into(),
        Note::Other(sentence) => Text::code(sentence.clone()),
    }
}

/// The diagnosed principal can reach a restorer by assuming roles: what to run.
pub fn restorer_reachable(path: &[String], conditional: bool) -> Finding {
    if path.len() == 1 {
        return Finding::new(
            Code::RestorerReachable,
            "You can restore access yourself: the key policy lets you call kms:PutKeyPolicy",
        )
        .detail("A statement of the policy in force names you for kms:PutKeyPolicy, though not for every action: you need no one else to update the policy.")
        .help("Update the key policy with your own credentials: the next steps give the policy to apply and the command.");
    }
    let hops = &path[1..];
    let mut steps = Vec::new();
    let mut source = "YOUR_PROFILE".to_owned();
    for (i, role) in hops.iter().enumerate() {
        let name = format!("kms-doctor-restore-{}", i + 1);
        steps.push(format!(
            "[profile {name}] role_arn = {role} source_profile = {source}"
        ));
        source = name;
    }
    Finding::new(
        Code::RestorerReachable,
        text!(
            if conditional {
                "You may be able to restore access yourself, if the trust policy's conditions hold (MFA, an external ID…): assume "
            } else {
                "You can restore access yourself: assume "
            },
            code(hops.last().cloned().unwrap_or_default()),
            if hops.len() > 1 { " through " } else { "" },
            Text::join(
                hops[..hops.len().saturating_sub(1)]
                    .iter()
                    .map(|h| Text::code(h.clone())),
                ", "
            )
        ),
    )
    .detail(
        "Its trust policy (and, where it names only the account, your own IAM policies) lets you \
         assume it, and it may update the key policy.",
    )
    .evidence(
        path.windows(2)
            .map(|w| text!(code(w[0].clone()), " may assume ", code(w[1].clone()))),
    )
    .help(text!(
        "Assume it with a profile (",
        code(steps.join(" ; ")),
        "), then update the key policy yourself with ",
        code(format!("--profile {source}")),
        ": \"How to get there\" gives the lines and the command."
    ))
}

/// The Athena query that finds the key's policy changes in a CloudTrail table, on one line.
pub fn athena_query(ev: &Evidence) -> String {
    let id = ev
        .key
        .key_id
        .as_ref()
        .map_or_else(|| ev.key.input.clone(), |k| k.to_string());
    athena_sql("cloudtrail_logs", &id, None, None)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GetKeyPolicy` was denied, the policy text is unknown, and IAM allows the action: only the
/// key policy can have denied it. Without the text, a missing delegation (by far the usual
/// cause) and an explicit `Deny` cannot be told apart; the finding says so.
pub fn unexplained_denial(findings: &mut Vec<Finding>, ev: &Evidence, access: &[Access]) {
    let get = access.iter().find(|a| a.action == GET_KEY_POLICY);
    let Some(get) = get.filter(|a| a.verdict == Verdict::Denied && a.because.is_empty()) else {
        return;
    };
    let sim = ev.simulation.iter().find(|s| s.action == get.action);
    let iam_allows = sim.is_some_and(|s| s.decision == SimDecision::Allowed);
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
                .chain([text!("kms:GetKeyPolicy answered AccessDeniedException")]),
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
    for s in ev
        .simulation
        .iter()
        .filter(|s| s.decision == SimDecision::Allowed)
    {
        let by: Vec<Text> = s
            .matched_statements
            .iter()
            .map(|m| match &m.source_policy_id {
                Some(id) => Text::code(id.clone()),
                None => "an IAM policy".into(),
            })
            .collect();
        let mut line = text!(
            "iam:SimulatePrincipalPolicy: the principal's IAM policies allow ",
            code(s.action.clone())
        );
        if !by.is_empty() {
            line.append(text!(" (", Text::join(by, ", "), ")"));
        }
        line.push(" — ineffective without the delegation");
        f.add_evidence(line);
    }
}

/// A time as text, or `missing` when there is none.
fn time_or(t: Option<&Timestamp>, missing: &str) -> String {
    t.map_or_else(|| missing.to_owned(), Timestamp::to_string)
}
