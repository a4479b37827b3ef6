//! Findings that follow from the key policy alone: what the engine decided for each action,
//! who may restore access, and the principals the policy names by unique ID.

use crate::diagnosis::case::Restorers;
use crate::diagnosis::model::{
    Code, Finding, LayerDecision, LayerResult, Text, blocked_words, code, prose, quoted,
};
use crate::diagnosis::verdict::key_policy_cause;
use crate::policy::{
    Applies, BlockedBy, Effect, Evaluation, Identity, KeyPolicy, Named, OrgPolicyType, Orphan,
    PUT_KEY_POLICY, Principals, Statement, delegation_statement, delegations,
};
use crate::text;

/// What the policy rules look at.
pub struct PolicyFacts<'a> {
    pub policy: &'a KeyPolicy,
    /// The principal asked about, if any.
    pub principal: Option<&'a Identity>,
    /// The key's account, when known (from the key ARN).
    pub key_account: Option<&'a str>,
    /// One evaluation per action asked about (empty without a principal).
    pub evaluations: &'a [Evaluation],
    /// Actions asked about (also without a principal).
    pub actions: &'a [String],
    /// Who can update the policy (the one judgement's value).
    pub restorers: &'a Restorers,
    /// Without a principal, say `root-delegation-missing` for the actions the policy does not
    /// delegate (`explain`); a lockout judgement says `no-account-delegation` instead.
    pub delegation_for_nobody: bool,
}

pub fn findings(f: &PolicyFacts) -> Vec<Finding> {
    let mut out = caller_findings(f);
    out.extend(delegation_missing_for_nobody(f));
    out.extend(f.restorers.orphans.iter().map(orphaned_principal));
    out.extend(not_principal_misses_sessions(f));
    out.extend(policy_update_open(f.policy));
    out.extend(unknown_operators(f.policy));
    out.extend(no_restorer(f));
    out
}

/// The account the policy's words name: the key's, else the principal's.
fn account_of<'a>(f: &PolicyFacts<'a>) -> &'a str {
    f.key_account
        .or_else(|| f.principal.and_then(|p| p.account()))
        .unwrap_or("ACCOUNT_ID")
}

fn partition_of<'a>(f: &PolicyFacts<'a>) -> &'a str {
    f.principal.and_then(|p| p.partition()).unwrap_or("aws")
}

fn who(f: &PolicyFacts) -> Text {
    code(f.principal.map(|p| p.to_string()).unwrap_or_default()).into()
}

/// Per-action findings for the principal, merged so that one cause for both actions is one
/// finding.
fn caller_findings(f: &PolicyFacts) -> Vec<Finding> {
    let mut by_code: Vec<(Code, Vec<&Evaluation>)> = Vec::new();
    for eval in f.evaluations {
        let Some(code) = key_policy_cause(eval) else {
            continue;
        };
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, evals)) => evals.push(eval),
            None => by_code.push((code, vec![eval])),
        }
    }
    by_code
        .into_iter()
        .map(|(rule, evals)| match rule {
            Code::KeyPolicyExplicitDeny => explicit_deny(f, &evals),
            Code::CrossAccountKey => cross_account(f, &evals),
            Code::ConditionNotMet => condition_not_met(f, &evals),
            Code::RootDelegationMissing => root_delegation_missing(f, &evals),
            _ => unreachable!("key_policy_cause gives only the codes above"),
        })
        .collect()
}

/// `key-policy-explicit-deny`: a Deny statement matches the principal.
fn explicit_deny(f: &PolicyFacts, evals: &[&Evaluation]) -> Finding {
    let rule = Code::KeyPolicyExplicitDeny;
    let actions = || join_actions(evals.iter().map(|e| e.action.as_str()));
    let who = || who(f);
    Finding::new(
        rule,
        text!("A Deny statement in the key policy blocks ", actions()),
    )
    .detail(text!(
        "An explicit Deny wins over every Allow, in the key policy and in IAM alike. \
         The key policy has a Deny statement that matches ",
        who(),
        " for ",
        actions(),
        "."
    ))
    .evidence(applying(evals, Effect::Deny, f.policy))
    .help(
        "A principal that may call kms:PutKeyPolicy (see who can restore access) must \
         remove the Deny statement or narrow it, for example with a condition on \
         aws:PrincipalArn that leaves out the principals who administer the key.",
    )
}

/// `cross-account-key`: the principal is of another account than the key's.
fn cross_account(f: &PolicyFacts, evals: &[&Evaluation]) -> Finding {
    let rule = Code::CrossAccountKey;
    let actions = || join_actions(evals.iter().map(|e| e.action.as_str()));
    let who = || who(f);
    {
        let key_account = || code(f.key_account.unwrap_or("another account"));
        Finding::new(
            rule,
            text!(
                "The key belongs to account ",
                key_account(),
                ": ",
                actions(),
                " never work cross-account"
            ),
        )
        .detail(text!(
            who(),
            " is in account ",
            code(
                f.principal
                    .and_then(|p| p.account())
                    .unwrap_or("another account")
            ),
            ". KMS serves ",
            actions(),
            " only to principals of the key's own account, whatever the key policy \
             and IAM policies say."
        ))
        .help(text!(
            "Run the operation as a principal of account ",
            key_account(),
            " that the key policy allows (see who can restore access)."
        ))
    }
}

/// `condition-not-met`: the statements that would allow carry conditions the request does
/// not (or may not) meet.
fn condition_not_met(f: &PolicyFacts, evals: &[&Evaluation]) -> Finding {
    let rule = Code::ConditionNotMet;
    let actions = || join_actions(evals.iter().map(|e| e.action.as_str()));
    let who = || who(f);
    {
        let keys = dedup(
            evals
                .iter()
                .flat_map(|e| e.unknown_context.iter().map(String::as_str))
                .collect(),
        );
        let finding = Finding::new(
            rule,
            text!(
                "The statements that would allow ",
                actions(),
                " carry conditions the request does not (or may not) meet"
            ),
        )
        .evidence(condition_evidence(evals));
        if keys.is_empty() {
            finding
                .detail(text!(
                    "A statement names ",
                    who(),
                    " (or its account) for ",
                    actions(),
                    ", but its conditions are not met by this request."
                ))
                .help(
                    "Make the request in the context the condition asks for, or have a \
                     restorer change the condition.",
                )
        } else {
            finding
                .detail(text!(
                    "Whether ",
                    actions(),
                    " is allowed depends on context keys kms-doctor cannot know \
                     offline: ",
                    Text::join(keys.iter().map(|k| Text::code(*k)), ", "),
                    "."
                ))
                .help({
                    // A session's aws:PrincipalArn is its role's ARN, path included:
                    // only the path is missing, so say exactly what to give.
                    let session_role = match f.principal {
                        Some(Identity::AssumedRole {
                            partition,
                            account,
                            role_name,
                            role_path: None,
                            ..
                        }) if keys.iter().any(|k| k.eq_ignore_ascii_case("aws:PrincipalArn")) => {
                            Some((
                                format!("arn:{partition}:iam::{account}:role/{role_name}"),
                                role_name.clone(),
                            ))
                        }
                        _ => None,
                    };
                    // A key under an operator kms-doctor does not know cannot be decided
                    // by giving its value.
                    let givable: Vec<&&str> =
                        keys.iter().filter(|k| !k.contains(" (operator ")).collect();
                    if let Some((role_arn, role_name)) = session_role {
                        text!(
                            "aws:PrincipalArn of a session is its role's ARN with the role's path, which a session ARN does not carry. Give it: ",
                            code(format!("--context aws:PrincipalArn={role_arn}")),
                            " if the role has no path (",
                            code(format!("aws iam get-role --role-name {role_name} --query Role.Arn")),
                            " shows it)."
                        )
                    } else if givable.is_empty() {
                        text!("No value given with --context can decide it: the operator is not one kms-doctor knows (see evidence-incomplete).")
                    } else {
                        text!(
                            "Give their values to decide, for example ",
                            code(
                                givable
                                    .iter()
                                    .map(|k| format!("--context {k}=VALUE"))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ),
                            "."
                        )
                    }
                })
        }
    }
}

/// `root-delegation-missing`, for the principal: no statement names it, none delegates.
fn root_delegation_missing(f: &PolicyFacts, evals: &[&Evaluation]) -> Finding {
    let rule = Code::RootDelegationMissing;
    let (account, partition) = (account_of(f), partition_of(f));
    let actions = || join_actions(evals.iter().map(|e| e.action.as_str()));
    let who = || who(f);
    Finding::new(
        rule,
        text!(
            "The key policy neither names this principal for ",
            actions(),
            " nor delegates to the account"
        ),
    )
    .detail(text!(
        "KMS key policies grant nothing implicitly. Without a statement whose principal \
         is the account (",
        code(format!("arn:{partition}:iam::{account}:root")),
        "), IAM policies cannot grant ",
        actions(),
        " on this key, even AdministratorAccess. No statement names ",
        who(),
        " for ",
        actions(),
        " either."
    ))
    .evidence(covering_statements(f.policy, evals))
    .help(restore_help(partition, account))
}

/// `root-delegation-missing` without a principal: the policy lets IAM grant none of the asked
/// actions.
fn delegation_missing_for_nobody(f: &PolicyFacts) -> Option<Finding> {
    let (account, partition) = (account_of(f), partition_of(f));
    if f.principal.is_some() || !f.delegation_for_nobody {
        return None;
    }
    {
        let missing: Vec<&str> = f
            .actions
            .iter()
            .filter(|a| delegations(f.policy, a, f.key_account).is_empty())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let actions = || join_actions(missing.iter().copied());
            return Some(
                Finding::new(
                    Code::RootDelegationMissing,
                    text!(
                        "The key policy does not delegate ",
                        actions(),
                        " to the account"
                    ),
                )
                .detail(text!(
                    "No statement allows ",
                    actions(),
                    " to the account (",
                    code(format!("arn:{partition}:iam::{account}:root")),
                    "), so IAM policies cannot grant it to anyone: only the principals the key \
                     policy names can use it."
                ))
                .help(restore_help(partition, account)),
            );
        }
    }
    None
}

/// `orphaned-principal`: a statement names a deleted principal by its unique ID.
fn orphaned_principal(orphan: &Orphan) -> Finding {
    let what = orphan.kind.noun();
    let id = || code(orphan.unique_id.clone());
    Finding::new(
        Code::OrphanedPrincipal,
        text!(
            quoted(orphan.statement.clone()),
            " names a deleted ",
            what,
            " by its unique ID ",
            id()
        ),
    )
    .detail(text!(
        "IAM writes a principal's unique ID into the policy in place of its ARN when the \
         principal is deleted. ",
        id(),
        " matches no one: a new ",
        what,
        " with the same name has a new unique ID and is not covered."
    ))
    .evidence([text!(
        "statement ",
        quoted(orphan.statement.clone()),
        " (",
        prose(orphan.effect.as_str()),
        ") names ",
        id()
    )])
    .help(text!(
        "Replace ",
        id(),
        " with the ARN of an existing principal, or remove it."
    ))
    .at_statement(orphan.statement_index)
}

/// `evidence-incomplete`: a condition operator kms-doctor does not know.
fn unknown_operators(policy: &KeyPolicy) -> Vec<Finding> {
    let mut found = Vec::new();
    for s in &policy.statements {
        for c in s.conditions.iter().filter(|c| !c.is_supported()) {
            found.push(
                Finding::new(
                    Code::EvidenceIncomplete,
                    text!(
                        "Statement ",
                        quoted(s.label()),
                        " uses a condition operator kms-doctor does not know: ",
                        code(c.operator_name.clone())
                    ),
                )
                .detail(text!(
                    "The statement is kept, and treated as conditional: whether its condition on ",
                    code(c.key.clone()),
                    " holds cannot be decided."
                ))
                .help("Compare the operator with the IAM condition operators; if AWS added it recently, a newer kms-doctor may know it."),
            );
        }
    }
    found
}

/// `no-restorer`: once denies are applied, nobody the policy names can update it. When the
/// organisation's policies hold the restorers, its administrators can lift them, which is
/// sooner than AWS Support.
fn no_restorer(f: &PolicyFacts) -> Option<Finding> {
    if !f.restorers.none() {
        return None;
    }
    let mut evidence: Vec<Text> = f
        .policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .filter(|s| s.covers_action(crate::policy::PUT_KEY_POLICY))
        .map(describe_statement)
        .collect();
    if evidence.is_empty() {
        evidence.push("no Allow statement covers kms:PutKeyPolicy".into());
    }
    let finding = Finding::new(
        Code::NoRestorer,
        "No existing principal can update the key policy",
    )
    .evidence(evidence);
    let bounded = f
        .restorers
        .named()
        .iter()
        .any(|r| r.limited_by_boundary.is_some());
    let creatable = &f.restorers.unless_created;
    Some(if !creatable.is_empty() {
        let names = || Text::join(creatable.iter().map(|p| Text::code(p.clone())), ", ");
        finding
            .detail(text!(
                "The key policy delegates to the account, but its Deny on kms:PutKeyPolicy holds every principal that exists, the root user included (from the account's authorization details), and spares by name only ",
                names(),
                ", which does not exist. A condition compares names, not unique IDs: a principal created with that name is spared."
            ))
            .help(text!(
                "An IAM administrator creates ",
                names(),
                " with an IAM policy that allows kms:PutKeyPolicy on the key, then it restores access; only if no one can create it, open a case with AWS Support from the key's account."
            ))
    } else if bounded {
        finding
            .detail("Every principal the key policy lets update it is kept from kms:PutKeyPolicy by its permissions boundary (see the restorers' limited_by_boundary), held by the organisation's policies, or no longer exists. A boundary limits a grant that names a role.")
            .help("An IAM administrator adds kms:PutKeyPolicy on this key to the boundary of one of those roles (or removes the boundary); then that role can restore access. Only if no one can change the boundary, open a case with AWS Support from the key's account.")
    } else if f.restorers.held() {
        finding
            .detail("Every principal the key policy lets update it is denied kms:PutKeyPolicy by the organisation's SCPs or RCPs (see the restorers' blocked_by), or no longer exists.")
            .help("The organisation's administrators (its management account, or the delegated administrator for policies) can exempt a restorer from the policy that holds it; only if they cannot, open a case with AWS Support from the key's account.")
    } else {
        finding
            .detail(
                "No statement allows kms:PutKeyPolicy to an existing principal or to the \
                 account, once denies are applied. The key policy can no longer be changed by \
                 anyone in the account.",
            )
            .help(
                "Only AWS Support can restore access to a key in this state: open a case from \
                 the key's account (as its root user if you can) and include this report.",
            )
    })
}

/// A `Deny` with `NotPrincipal` that lists a role but not its sessions (and the account): IAM
/// compares the caller itself, so every session of the role is denied.
fn not_principal_misses_sessions(f: &PolicyFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in &f.policy.statements {
        if s.effect != Effect::Deny || !s.not_principal {
            continue;
        }
        let actions: Vec<&str> = f
            .actions
            .iter()
            .filter(|a| s.covers_action(a))
            .map(String::as_str)
            .collect();
        let Principals::Entries(entries) = &s.principals else {
            continue;
        };
        if actions.is_empty() {
            continue;
        }
        let listed = |test: &dyn Fn(&Identity) -> bool| {
            entries
                .iter()
                .any(|e| matches!(&e.named, Named::Identity(id) if test(id)))
        };
        for entry in entries {
            let Named::Identity(Identity::Role { account, name, .. }) = &entry.named else {
                continue;
            };
            let sessions = listed(
                &|id| matches!(id, Identity::AssumedRole { account: a, role_name, .. } if a == account && role_name == name),
            );
            let account_listed =
                listed(&|id| matches!(id, Identity::Account { account: a, .. } if a == account));
            if sessions && account_listed {
                continue;
            }
            let role = || code(entry.raw.clone());
            out.push(
                Finding::new(
                    Code::NotPrincipalMissesSessions,
                    text!(
                        "A Deny with NotPrincipal exempts the role ",
                        role(),
                        " but not its sessions, which are denied ",
                        join_actions(actions.iter().copied())
                    ),
                )
                .detail(text!(
                    "People and programs act as a role through its sessions (",
                    code(format!("arn:aws:sts::{account}:assumed-role/{name}/SESSION")),
                    "). NotPrincipal compares the caller itself, so a session is exempt only when \
                     the account, the role and that very session are all listed; here they are \
                     not, so statement ",
                    quoted(s.label()),
                    " denies every session of the role, and its administrators are locked out."
                ))
                .evidence([describe_statement(s)])
                .help(text!(
                    "Use Principal \"*\" with a condition instead, which exempts every session of the role: ",
                    code(
                        serde_json::json!({"ArnNotEquals": {"aws:PrincipalArn": entry.raw}})
                            .to_string()
                    ),
                    "."
                ))
                .at_statement(s.index),
            );
        }
    }
    out
}

/// Condition keys that tie a request to known principals.
fn names_principals(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    matches!(
        key.as_str(),
        "aws:principalarn"
            | "aws:principalaccount"
            | "aws:principalorgid"
            | "aws:principalorgpaths"
            | "kms:calleraccount"
            | "aws:userid"
            | "aws:username"
    ) || key.starts_with("aws:principaltag/")
}

/// `kms:PutKeyPolicy` allowed to everyone, with no condition that narrows it to known
/// principals: anyone can take the key over.
fn policy_update_open(policy: &KeyPolicy) -> Vec<Finding> {
    let everyone = |s: &Statement| match &s.principals {
        Principals::Everyone => true,
        Principals::Entries(entries) => entries
            .iter()
            .any(|e| matches!(e.named, Named::Identity(Identity::Anyone))),
    };
    policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && !s.not_principal && everyone(s))
        .filter(|s| s.covers_action(PUT_KEY_POLICY))
        .filter(|s| {
            !s.conditions
                .iter()
                .any(|c| c.requires_value() && names_principals(&c.key))
        })
        .map(|s| {
            Finding::new(
                Code::PolicyUpdateOpen,
                text!(
                    "Statement ",
                    quoted(s.label()),
                    " lets everyone change the key policy"
                ),
            )
            .detail(
                "It allows kms:PutKeyPolicy to Principal \"*\" with no condition that ties the \
                 request to known principals (aws:PrincipalArn, aws:PrincipalAccount, \
                 aws:PrincipalOrgID, kms:CallerAccount…). Whoever can call KMS can replace the \
                 policy and take the key.",
            )
            .evidence([describe_statement(s)])
            .help(
                "Name the key administrators in Principal, or add a condition on \
                 aws:PrincipalArn or aws:PrincipalAccount that names them.",
            )
            .at_statement(s.index)
        })
        .collect()
}

fn restore_help(partition: &str, account: &str) -> Text {
    text!(
        "A principal that may call kms:PutKeyPolicy (see who can restore access) adds the \
         account delegation statement back to the policy: ",
        code(delegation_statement(partition, account).to_string()),
        ". If no one can, only AWS Support can restore access."
    )
}

/// The statements of `effect` that apply, each with the action and the reason (the finding
/// keeps each line once).
fn applying<'a>(
    evals: &'a [&Evaluation],
    effect: Effect,
    policy: &'a KeyPolicy,
) -> impl Iterator<Item = Text> + 'a {
    evals.iter().flat_map(move |e| {
        e.applying()
            .filter(move |t| t.effect == effect)
            .map(move |t| {
                text!(
                    describe_statement(&policy.statements[t.index]),
                    " for ",
                    code(e.action.clone()),
                    ": ",
                    code(t.reason.clone())
                )
            })
    })
}

/// The statements a condition keeps from applying, with the reason.
fn condition_evidence<'a>(evals: &'a [&Evaluation]) -> impl Iterator<Item = Text> + 'a {
    evals.iter().flat_map(|e| {
        e.statements
            .iter()
            .filter(|t| t.via.is_some() && t.applies != Applies::Yes)
            .map(move |t| {
                text!(
                    quoted(t.label()),
                    " (",
                    prose(t.effect.as_str()),
                    ") for ",
                    code(e.action.clone()),
                    ": ",
                    code(t.reason.clone())
                )
            })
    })
}

/// The statements that cover the actions (whoever they name): what the policy does grant.
fn covering_statements(policy: &KeyPolicy, evals: &[&Evaluation]) -> Vec<Text> {
    let mut out: Vec<Text> = policy
        .statements
        .iter()
        .filter(|s| evals.iter().any(|e| s.covers_action(&e.action)))
        .map(describe_statement)
        .collect();
    if out.is_empty() {
        out.push("no statement covers these actions".into());
    }
    out
}

/// `Sid (Allow kms:Create*, kms:Put* to arn:…:role/KeyAdmin)`, every value from the policy
/// kept as a value.
pub fn describe_statement(s: &Statement) -> Text {
    let actions = s.actions.iter().map(|p| p.raw()).collect::<Vec<_>>();
    let principals = match &s.principals {
        Principals::Everyone => "*".to_owned(),
        Principals::Entries(e) => e
            .iter()
            .map(|e| e.raw.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    text!(
        quoted(s.label()),
        " (",
        prose(s.effect.as_str()),
        if s.not_action { " all but " } else { " " },
        code(abbreviate(&actions)),
        if s.not_principal {
            " to all but "
        } else {
            " to "
        },
        code(principals),
        if s.conditions.is_empty() {
            ")"
        } else {
            ", with conditions)"
        }
    )
}

fn abbreviate(items: &[&str]) -> String {
    if items.len() <= 4 {
        items.join(", ")
    } else {
        format!("{}, … ({} actions)", items[..3].join(", "), items.len())
    }
}

/// `kms:GetKeyPolicy and kms:PutKeyPolicy`: the action names are values (`explain` takes them
/// from the command line).
/// `scp-deny` and `rcp-deny` from the organisation's policies evaluated (`explain --scp`,
/// `--rcp`; `diagnose` when it could read them): the policy, the statement and where it is
/// attached, and the restorers the same policies hold.
pub fn org_findings(results: &[LayerResult], held: &[(&str, &BlockedBy)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (policy_type, rule, what, filter) in [
        (
            OrgPolicyType::Scp,
            Code::ScpDeny,
            "service control policy",
            "SCPs",
        ),
        (
            OrgPolicyType::Rcp,
            Code::RcpDeny,
            "resource control policy",
            "RCPs",
        ),
    ] {
        let denied: Vec<&LayerResult> = results
            .iter()
            .filter(|r| r.policy_type == policy_type && r.decision == LayerDecision::Denied)
            .collect();
        let Some(first) = denied.first() else {
            continue;
        };
        let Some(b) = &first.blocked_by else { continue };
        let actions = join_actions(denied.iter().map(|r| r.action.as_str()));
        let held: Vec<Text> = held
            .iter()
            .filter(|(_, by)| by.policy_type == policy_type)
            .map(|(principal, by)| {
                text!(
                    code(principal.to_string()),
                    " could restore access, but ",
                    blocked_words(by),
                    " denies it kms:PutKeyPolicy too"
                )
            })
            .collect();
        out.push(
            Finding::new(rule, text!("A ", prose(what), " denies ", actions.clone()))
                .detail(text!(
                    "Of the organisation's policies, ",
                    blocked_words(b),
                    " stops ",
                    actions,
                    ", whatever the key policy and IAM allow."
                ))
                .evidence(held)
                .help(text!(
                    prose(filter),
                    " are changed from the organisation's management account or its delegated administrator for policies, never from the key's account: ask them to exempt the principal or narrow the statement; a principal they exempt can restore access."
                )),
        );
    }
    out
}

fn join_actions<'a>(actions: impl Iterator<Item = &'a str>) -> Text {
    let v: Vec<&str> = actions.collect();
    let mut out = Text::default();
    for (i, a) in v.iter().enumerate() {
        if i > 0 {
            out.push(if i + 1 == v.len() { " and " } else { ", " });
        }
        out.push(code(*a));
    }
    out
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v.dedup();
    v
}
