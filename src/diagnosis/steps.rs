//! The next steps of a diagnosis. One place decides who acts ([`who_acts`]): you, you through
//! roles you can assume, you once a condition holds, a named restorer, or AWS Support; the steps
//! follow from that decision and the findings, so that they cannot disagree with them.

use super::model::{
    Access, CallRecord, Code, Evidence, Finding, Operation, Outcome, PolicySource, Restorer,
    Severity, SourceKind, Summary, Text, Verdict, blocked_words, code, prose,
};
use super::rules::has;
use super::rules::live::{athena_query, denied_by_key_policy, iam_target, key_name, region_flag};
use crate::policy::{Identity, OrgPolicyType};
use crate::text;

/// What the next steps know besides the evidence and the findings.
pub struct StepFacts<'a> {
    pub restorers: &'a [Restorer],
    pub source: &'a PolicySource,
    pub subject: Option<&'a Identity>,
    /// Where `--write-fix` writes the corrected policy, when it does.
    pub fix_written_to: Option<&'a str>,
    /// What of the organisation's policies (read) denies the principal.
    pub org_blocks: &'a [crate::policy::BlockedBy],
    /// The diagnosed principal's verdict for `kms:PutKeyPolicy`.
    pub put_verdict: Option<Verdict>,
    /// The shortest way from the diagnosed principal to a restorer (itself alone when it can).
    pub restore_path: Option<&'a [String]>,
    /// A step of that way depends on a condition of a trust policy (MFA, an external ID).
    pub path_conditional: bool,
    /// The policy in force is known (read or recovered).
    pub policy_known: bool,
    /// For a key pending deletion (or disabled): who the policy in force lets cancel the
    /// deletion (enable the key) — the principals it names, the account's ARN for "an IAM
    /// principal of the account whose IAM policies allow it"; `None` when the policy is not known.
    pub deadline_by: Option<Vec<String>>,
    /// The principals a `Deny` spares by name that do not exist, when no existing one can
    /// update the policy (`Restorers::unless_created`): creating one restores access.
    pub unless_created: &'a [String],
}

/// What must happen before any restore: a key pending deletion is gone at its date, a disabled
/// key serves nothing. The KMS action that undoes it, and the CLI command.
pub fn deadline(ev: &Evidence) -> Option<(&'static str, &'static str)> {
    let state = ev.key.state.as_ref()?;
    if state.is_pending_deletion() {
        Some(("kms:CancelKeyDeletion", "cancel-key-deletion"))
    } else if *state == super::model::KeyState::Disabled {
        Some(("kms:EnableKey", "enable-key"))
    } else {
        None
    }
}

/// Who can update the key policy, as the findings and the way decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhoActs<'a> {
    /// The diagnosed principal may call `kms:PutKeyPolicy` now.
    You,
    /// It may, once the request meets the conditions on these keys (MFA, a source IP…).
    YouIf(Vec<&'a str>),
    /// It may by assuming these roles, in order (the way without itself).
    YouThrough {
        roles: &'a [String],
        conditional: bool,
    },
    /// Others may: the named principals, or (empty) a principal of the account whose IAM
    /// policies allow `kms:PutKeyPolicy`.
    Ask(Vec<&'a str>),
    /// No existing principal may: only AWS can restore access.
    AwsSupport,
    /// No one can change this key's policy, AWS included (an AWS managed key).
    NoOne,
    /// Not known: the policy in force (or the key) is not known.
    Unknown,
}

/// The one decision of who acts.
pub fn who_acts<'a>(ev: &Evidence, findings: &[Finding], facts: &StepFacts<'a>) -> WhoActs<'a> {
    if has(findings, Code::AwsManagedKey) {
        return WhoActs::NoOne;
    }
    if ev.key.not_found || has(findings, Code::CrossAccountKey) {
        return WhoActs::Unknown;
    }
    if facts.put_verdict == Some(Verdict::Allowed) {
        return WhoActs::You;
    }
    if let Some(path) = facts.restore_path.filter(|p| p.len() > 1) {
        return WhoActs::YouThrough {
            roles: &path[1..],
            conditional: facts.path_conditional,
        };
    }
    if has(findings, Code::NoRestorer) {
        return WhoActs::AwsSupport;
    }
    if facts.put_verdict == Some(Verdict::Conditional) && has(findings, Code::ConditionNotMet) {
        let own = match ev.subject {
            Some(_) => ev.subject_principal_arn.as_deref(),
            None => ev.caller_principal_arn.as_deref(),
        };
        let mut keys: Vec<&str> = facts
            .restorers
            .iter()
            .filter(|r| r.via_iam() || own == Some(r.principal.as_str()))
            .flat_map(|r| &r.conditions_on)
            // Context keys (`aws:…`, `kms:…`), not the layers named beside them.
            .filter_map(|c| c.context_key())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        return WhoActs::YouIf(keys);
    }
    if !facts.policy_known {
        return WhoActs::Unknown;
    }
    let named: Vec<&str> = facts
        .restorers
        .iter()
        .filter(|r| r.counts_by_name())
        .map(|r| r.principal.as_str())
        .collect();
    WhoActs::Ask(named)
}

pub fn next_steps(ev: &Evidence, findings: &[Finding], facts: &StepFacts) -> Vec<Text> {
    let mut steps = Vec::new();
    deadline_step(&mut steps, ev, facts);
    if !facts.unless_created.is_empty() {
        steps.push(text!(
            "An IAM administrator creates ",
            Text::join(facts.unless_created.iter().map(|p| Text::code(p.clone())), " or "),
            " (the key policy's Deny spares it by name) with an IAM policy that allows kms:PutKeyPolicy on ",
            code(key_name(ev)),
            "; that principal then restores access. AWS Support only if no one can."
        ));
    }
    layer_steps(&mut steps, ev, findings, facts);
    policy_steps(&mut steps, ev, findings, facts);
    other_steps(&mut steps, ev, findings, facts);
    steps
}

/// Deadlines first (KMS Developer Guide, "Deleting AWS KMS keys": a key pending deletion can be
/// recovered only by cancelling the deletion before its date; "Enabling and disabling keys"): who
/// undoes the deletion or the disabling comes before any restore or AWS Support step.
fn deadline_step(steps: &mut Vec<Text>, ev: &Evidence, facts: &StepFacts) {
    let Some((action, command)) = deadline(ev) else {
        return;
    };
    let key = key_name(ev);
    let region = region_flag(ev);
    let run = code(format!("aws kms {command} --key-id {key}{region}"));
    let when = if action == "kms:CancelKeyDeletion" {
        text!(
            "First, before ",
            code(
                ev.key
                    .deletion_date
                    .map_or("the deletion date".to_owned(), |d| d.to_string())
            ),
            " (after it the key and everything encrypted under it are gone): cancel the deletion, "
        )
    } else {
        text!("First, enable the key (a disabled key serves no request), ")
    };
    let who = match facts.deadline_by.as_deref() {
        None => text!(
            "as a principal allowed ",
            prose(action),
            " (the policy in force is not known: who is allowed is not known)"
        ),
        Some([]) => {
            steps.push(text!(
                when,
                "but the policy in force lets nobody call ",
                prose(action),
                ": ask AWS Support to do it first, in the case below, from the key's account."
            ));
            return;
        }
        Some(who) => text!(
            "as a principal the policy in force lets call ",
            prose(action),
            " (",
            Text::join(
                who.iter().map(|p| match Identity::parse(p) {
                    Ok(Identity::Account { account, .. }) => text!(
                        "an IAM principal of ",
                        code(account),
                        " whose IAM policies allow it"
                    ),
                    _ => Text::code(p.clone()),
                }),
                ", "
            ),
            ")"
        ),
    };
    steps.push(text!(when, who, ": ", run, "."));
}

/// When the key policy is what stands in the way: who changes it, and how.
fn policy_steps(steps: &mut Vec<Text>, ev: &Evidence, findings: &[Finding], facts: &StepFacts) {
    let key = key_name(ev);
    let region = region_flag(ev);
    let who = who_acts(ev, findings, facts);
    // The key policy is what stands in the way: whoever acts changes it.
    let policy_fix = has(findings, Code::RootDelegationMissing)
        || has(findings, Code::KeyPolicyExplicitDeny)
        || has(findings, Code::ConditionNotMet)
        || has(findings, Code::NoRestorer);
    let put = |file: &str, profile: &str| {
        code(format!(
            "aws kms put-key-policy{profile} --key-id {key}{region} --policy-name default --policy file://{file}"
        ))
    };
    let fixed_policy = |file: &str| match facts.fix_written_to {
        Some(written) => text!(
            "kms-doctor wrote ",
            code(written),
            ": the policy in force with the account delegation statement added. Review it"
        ),
        None => text!(
            "Write the policy in force with the account delegation statement added: ",
            code(format!(
                "kms-doctor diagnose {key}{region} --write-fix {file}"
            )),
            ", and review it"
        ),
    };
    let file = facts.fix_written_to.unwrap_or("key-policy.json");
    match &who {
        _ if !policy_fix => {}
        WhoActs::You => steps.push(text!(
            "You can update the key policy yourself. ",
            fixed_policy(file),
            ", then apply it: ",
            put(file, "")
        )),
        WhoActs::YouThrough { roles, conditional } => {
            let profile = format!(" --profile kms-doctor-restore-{}", roles.len());
            steps.push(text!(
                if *conditional {
                    "You may be able to restore access yourself (if the trust policy's conditions hold): assume "
                } else {
                    "You can restore access yourself: assume "
                },
                code(roles.last().cloned().unwrap_or_default()),
                " with the profile lines under \"How to get there\"."
            ));
            steps.push(text!(
                fixed_policy(file),
                ", then apply it as that role: ",
                put(file, &profile)
            ));
        }
        WhoActs::YouIf(keys) => {
            let keys_text = match keys.is_empty() {
                true => "its conditions".to_owned(),
                false => keys.join(", "),
            };
            steps.push(text!(
                "You can update the key policy yourself once your request meets the conditions on ",
                code(keys_text),
                mfa_hint(keys),
                ". Check first: ",
                code(format!(
                    "kms-doctor diagnose {key}{region} {}",
                    keys.iter()
                        .map(|k| format!("--context {k}=VALUE"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
                "."
            ));
            steps.push(text!(
                fixed_policy(file),
                ", then apply it with those credentials: ",
                put(file, "")
            ));
        }
        WhoActs::Ask(named) => {
            let who = match named.is_empty() {
                true => {
                    text!("a principal of the account whose IAM policies allow kms:PutKeyPolicy")
                }
                false => Text::join(named.iter().map(|p| Text::code(p.to_string())), " or "),
            };
            steps.push(text!("Ask ", who, they_can(named, facts)));
            match facts.fix_written_to {
                Some(written) => steps.push(text!(
                    "kms-doctor wrote ",
                    code(written),
                    ": the policy in force with the account delegation statement added. They review it and apply it: ",
                    put(written, "")
                )),
                None => {
                    steps.push(text!(
                        "They save the policy in force: ",
                        code(format!(
                            "aws kms get-key-policy --key-id {key}{region} --policy-name default --query Policy --output text > key-policy.json"
                        )),
                        ", change it as the findings say (or take the one ",
                        code(format!("kms-doctor diagnose {key}{region} --write-fix key-policy.json")),
                        " writes), then apply it: ",
                        put("key-policy.json", "")
                    ));
                }
            }
        }
        WhoActs::AwsSupport => steps.extend(support_steps(ev, facts)),
        WhoActs::NoOne | WhoActs::Unknown => {}
    }
}

/// Why the restorers asked can update the policy: the policy in force lets them — unless a
/// permissions boundary IAM named, which kms-doctor could not read, may keep them out.
fn they_can<S: AsRef<str>>(named: &[S], facts: &StepFacts) -> Text {
    let unread: Vec<Text> = facts
        .restorers
        .iter()
        .filter(|r| named.iter().any(|n| n.as_ref() == r.principal))
        .filter_map(|r| r.boundary_unread.clone().map(Text::code))
        .collect();
    if unread.is_empty() {
        return " to update the key policy (they can, per the policy in force).".into();
    }
    text!(
        " to update the key policy: the policy in force lets them, but whether their permissions boundary (",
        Text::join(unread, ", "),
        ") allows kms:PutKeyPolicy could not be learned (iam:GetAccountAuthorizationDetails)."
    )
}

/// What the other layers and the evidence ask for: IAM, the boundary, the key's name and
/// account, the policy's history, kms-doctor's own permissions.
fn other_steps(steps: &mut Vec<Text>, ev: &Evidence, findings: &[Finding], facts: &StepFacts) {
    let key = key_name(ev);
    let region = region_flag(ev);
    // The IAM principal an administrator changes.
    let target = || match iam_target(facts.subject) {
        Some((kind, name)) => text!("the IAM ", kind, " ", code(name)),
        None => "the principal".into(),
    };
    if has(findings, Code::IamImplicitDeny) {
        steps.push(text!(
            "An IAM administrator attaches to ",
            target(),
            " a policy that allows kms:GetKeyPolicy and kms:PutKeyPolicy on ",
            code(key.clone()),
            " (see iam-implicit-deny)."
        ));
    }
    if has(findings, Code::IamExplicitDeny) {
        steps.push(
            "An IAM administrator removes or narrows the Deny statement named in iam-explicit-deny (a Deny wins over every Allow), then run kms-doctor again."
                .into(),
        );
    }
    if has(findings, Code::PermissionsBoundaryDeny) {
        steps.push(text!(
            "An IAM administrator changes the permissions boundary of ",
            target(),
            " to allow kms:GetKeyPolicy and kms:PutKeyPolicy (or removes it), then run kms-doctor again."
        ));
    }
    if has(findings, Code::DenialUnexplained) {
        steps.push("Before changing anything, compare the policy in force (read by a principal that can, or from the CloudTrail log archive) with what AWS said: see denial-unexplained.".into());
    }
    if has(findings, Code::CrossAccountKey) {
        let account = ev.key.account.as_deref().unwrap_or("the key's account");
        steps.push(text!(
            "kms:GetKeyPolicy and kms:PutKeyPolicy never work across accounts: run kms-doctor with credentials of account ",
            code(account),
            "."
        ));
    }
    if ev.key.not_found {
        steps.push(text!(
            "Check the key's name and Region: ",
            code(format!("aws kms list-aliases{region}")),
            " lists the aliases of this account and Region; name the key by its ARN to reach another."
        ));
    }
    if facts.source.kind == SourceKind::None && !ev.key.not_found {
        steps.push(text!(
            "Find the key's policy history in the CloudTrail log archive with Athena: ",
            code(athena_query(ev))
        ));
    }
    if has(findings, Code::EvidenceIncomplete)
        && ev.calls.iter().any(|c| unexplained_denial(c, findings))
    {
        steps.push("Give kms-doctor's caller the read-only permissions listed in the README and run it again for a complete diagnosis.".into());
    }
}

/// A denial of one of kms-doctor's own reads that the key policy does not explain.
fn unexplained_denial(c: &CallRecord, findings: &[Finding]) -> bool {
    c.outcome == Outcome::AccessDenied
        && c.operation != Operation::GetKeyPolicy
        && !denied_by_key_policy(c, findings)
}

/// How to meet an MFA condition, when that is one of them.
fn mfa_hint(keys: &[&str]) -> &'static str {
    if keys.contains(&"aws:MultiFactorAuthPresent") || keys.contains(&"aws:MultiFactorAuthAge") {
        " (for MFA: a session from aws sts get-session-token --serial-number MFA_DEVICE_ARN --token-code CODE, or a role assumed with MFA)"
    } else {
        ""
    }
}

/// A layer above the key policy (the organisation's policies, a VPC endpoint, a session
/// policy) decides first: it is changed by those who own it.
fn layer_steps(steps: &mut Vec<Text>, ev: &Evidence, findings: &[Finding], facts: &StepFacts) {
    for (rule, policy_type, filter, what) in [
        (
            Code::RcpDeny,
            OrgPolicyType::Rcp,
            "RESOURCE_CONTROL_POLICY",
            "resource control policy",
        ),
        (
            Code::ScpDeny,
            OrgPolicyType::Scp,
            "SERVICE_CONTROL_POLICY",
            "service control policy",
        ),
    ] {
        if !has(findings, rule) {
            continue;
        }
        match facts
            .org_blocks
            .iter()
            .find(|b| b.policy_type == policy_type)
        {
            Some(b) => steps.push(text!(
                "Ask the organisation's administrators (its management account, or the delegated administrator for policies) to exempt this principal from ",
                blocked_words(b),
                "."
            )),
            None => {
                let account = ev.key.account.as_deref().unwrap_or(&ev.caller.account);
                steps.push(text!(
                    "Ask the organisation's administrators (its management account, or the delegated administrator for policies) to find the ",
                    what,
                    " that denies the action and exempt this principal: ",
                    code(format!(
                        "aws organizations list-policies-for-target --target-id {account} --filter {filter}"
                    )),
                    ", then each OU above the account and the root."
                ));
            }
        }
    }
    // The restorers the organisation's policies (read) do not hold are the ones to ask.
    if !facts.org_blocks.is_empty() && facts.restore_path.is_none_or(|p| p.len() < 2) {
        let free: Vec<Text> = facts
            .restorers
            .iter()
            .filter(|r| r.counts_by_name())
            .map(|r| Text::code(r.principal.clone()))
            .collect();
        if !free.is_empty() {
            steps.push(text!(
                "Or ask ",
                Text::join(free, " or "),
                ", which the organisation's policies do not hold, to do what you cannot."
            ));
        }
    }
    if has(findings, Code::VpcEndpointPolicyDeny) {
        steps.push("Run from outside the VPC endpoint (or have its policy allow kms:GetKeyPolicy and kms:PutKeyPolicy), then run kms-doctor again.".into());
    }
    if has(findings, Code::SessionPolicyDeny) {
        steps.push(
            "Assume the role again without a session policy, then run kms-doctor again.".into(),
        );
    }
}

/// A restorer the key policy names that only its permissions boundary keeps out (it exists, and
/// nothing else holds it): lifting the boundary, an IAM change, restores it.
fn bounded<'a>(facts: &StepFacts<'a>) -> Option<&'a Restorer> {
    facts.restorers.iter().find(|r| {
        r.limited_by_boundary.is_some()
            && r.exists == Some(true)
            && r.blocked_by.is_none()
            && r.recreated.is_none()
    })
}

/// No existing principal can update the policy: what AWS Support needs, and who opens the case —
/// after lifting a restorer's permissions boundary, when one only that keeps out.
fn support_steps(ev: &Evidence, facts: &StepFacts) -> Vec<Text> {
    let account = ev.key.account.as_deref().unwrap_or(&ev.caller.account);
    let mut steps = Vec::new();
    let bounded = bounded(facts);
    if let Some(r) = bounded {
        // A grant that names a role is limited by an implicit deny in the role's boundary; the
        // boundary is IAM's, which the account's IAM administrators change (IAM User Guide,
        // "Permissions boundaries for IAM entities").
        let boundary = r.limited_by_boundary.clone().unwrap_or_default();
        let lift = match Identity::parse(&r.principal) {
            Ok(Identity::Role { name, .. }) => Some(format!(
                "aws iam delete-role-permissions-boundary --role-name {name}"
            )),
            Ok(Identity::User { name, .. }) => Some(format!(
                "aws iam delete-user-permissions-boundary --user-name {name}"
            )),
            _ => None,
        };
        let mut step = text!(
            "An IAM administrator of account ",
            code(account),
            " adds kms:PutKeyPolicy on ",
            code(key_name(ev)),
            " to the permissions boundary ",
            code(boundary),
            " of ",
            code(r.principal.clone()),
            ", or removes that boundary"
        );
        if let Some(lift) = lift {
            step = text!(step, " (", code(lift), ")");
        }
        steps.push(text!(
            step,
            "; then ",
            code(r.principal.clone()),
            " restores access: the key policy still lets it."
        ));
        steps.push("If no one can change that boundary, AWS Support is the way left:".into());
    } else if facts.restorers.iter().any(|r| r.blocked_by.is_some()) {
        steps.push("If the organisation's administrators cannot exempt a restorer, AWS Support is the way left:".into());
    }
    steps.push(text!(
        "Open a case with AWS Support from account ",
        code(account),
        ", signed in as its root user or as a principal allowed to open support cases, and give them what \"For AWS Support\" below lists (the key, the policy to set, the event that removed access)."
    ));
    if bounded.is_none() {
        steps.push(
            "The account's root user cannot change the key policy either: unlike other AWS resources, a key policy binds the root user like any other principal, and this one no longer lets anyone update it. Only AWS can restore access."
                .into(),
        );
    }
    steps
}

/// Restorers named in the summary at most; the table lists them all.
const SUMMARY_RESTORERS: usize = 3;

/// The answer in three lines: why, who can restore access, what next. From the same decision
/// and findings as the next steps.
pub fn summary(
    ev: &Evidence,
    findings: &[Finding],
    access: &[Access],
    facts: &StepFacts,
    steps: &[Text],
) -> Summary {
    Summary {
        why: why(findings, access, facts.source),
        who_can_restore: who_can_restore(ev, findings, facts),
        next: steps.first().cloned().unwrap_or_else(|| {
            match findings.iter().any(|f| f.severity == Severity::Error) {
                true => "see the findings".into(),
                false => "nothing: the principal can read and update the key policy".into(),
            }
        }),
    }
}

/// The cause AWS (or the evidence) gives for the first action not allowed, with the change
/// that set the policy when the key policy is the cause.
fn why(findings: &[Finding], access: &[Access], source: &PolicySource) -> Text {
    let cause = access
        .iter()
        .filter(|a| a.verdict != Verdict::Allowed)
        .find_map(|a| a.because.first())
        .and_then(|c| findings.iter().find(|f| f.code == *c))
        .or_else(|| findings.iter().find(|f| f.severity == Severity::Error));
    let Some(cause) = cause else {
        return match access.iter().all(|a| a.verdict == Verdict::Allowed) {
            true => {
                "nothing stands in the way: the principal can read and update the key policy".into()
            }
            false => "not known: the evidence does not say (see the findings)".into(),
        };
    };
    let mut why = cause.title.clone();
    let key_policy_cause = matches!(
        cause.code,
        Code::RootDelegationMissing | Code::KeyPolicyExplicitDeny | Code::NoRestorer
    );
    if key_policy_cause && let (Some(name), Some(time)) = (&source.event_name, &source.event_time) {
        why.append(text!(
            " — since ",
            code(*name),
            " at ",
            code(time.to_string())
        ));
        if let Some(by) = &source.changed_by {
            why.append(text!(" by ", code(by.clone())));
        }
        if findings
            .iter()
            .any(|f| f.code == Code::LockoutCheckBypassed)
        {
            why.push(", with the lockout safety check bypassed");
        }
    }
    why
}

fn who_can_restore(ev: &Evidence, findings: &[Finding], facts: &StepFacts) -> Text {
    if !facts.policy_known {
        return "not known: the policy in force could not be learned".into();
    }
    let mut who: Vec<Text> = Vec::new();
    let acts = who_acts(ev, findings, facts);
    // The role a way goes through is named once.
    let through = match &acts {
        WhoActs::YouThrough { roles, .. } => roles.last().map(String::as_str),
        _ => None,
    };
    match acts {
        WhoActs::You => who.push("you".into()),
        WhoActs::YouThrough { roles, .. } => who.push(text!(
            "you, through ",
            code(roles.last().cloned().unwrap_or_default())
        )),
        WhoActs::YouIf(_) => {
            who.push("you, once your request meets the policy's conditions".into())
        }
        WhoActs::NoOne => return "no one: AWS manages this key's policy".into(),
        _ => {}
    }
    let others: Vec<&Restorer> = facts
        .restorers
        .iter()
        .filter(|r| r.counts())
        .filter(|r| Some(r.principal.as_str()) != through)
        .collect();
    for r in others.iter().take(SUMMARY_RESTORERS) {
        let account = Identity::parse(&r.principal).ok();
        who.push(
            match (r.via_iam(), account.as_ref().and_then(Identity::account)) {
                (true, Some(account)) => text!(
                    "any principal of account ",
                    code(account),
                    " whose IAM policies allow kms:PutKeyPolicy"
                ),
                _ => Text::code(r.principal.clone()),
            },
        );
    }
    if others.len() > SUMMARY_RESTORERS {
        who.push(text!(
            super::model::count((others.len() - SUMMARY_RESTORERS) as u64),
            " more",
            " (see the table)"
        ));
    }
    let held = facts.restorers.iter().any(|r| r.blocked_by.is_some());
    if let (true, Some(r)) = (who.is_empty(), bounded(facts)) {
        // Kept out by a boundary, not gone: an IAM administrator can lift it.
        return text!(
            "no one now: ",
            code(r.principal.clone()),
            ", once an IAM administrator lifts its permissions boundary"
        );
    }
    match (who.is_empty(), held) {
        // Held, not gone: the organisation's administrators can lift what holds them.
        (true, true) => "no one the organisation's policies allow: its administrators can exempt a restorer, else only AWS Support can restore access".into(),
        (true, false) => "no one in the account: only AWS Support can restore access".into(),
        (false, _) => Text::join(who, ", "),
    }
}
