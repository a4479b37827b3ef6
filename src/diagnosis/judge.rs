//! The one judgement of a key, which every command and front end asks: a [`KeyCase`] in (what is
//! known of the key, from whatever source), a [`Judgement`] out (who can update its policy, as
//! one [`Restorers`] value, and the findings that follow from the case alone).

use super::case::{Asked, KeyCase, PolicyScope, Restorers};
use super::iam_restorers::via_iam;
use super::model::{Code, ExistenceCheck, Finding, Restorer, code};
use super::model::{OrgEvidence, OrgLevel, Text};
use super::rules::live;
use super::rules::policy::{self as policy_rules, PolicyFacts};
use crate::policy::{
    GET_KEY_POLICY, Grantee, Identity, KeyPolicy, Level, OrgPolicies, OrgPolicy, OrgPolicyType,
    PUT_KEY_POLICY, delegations, grantees, orphaned_principals,
};
use crate::text;
use std::collections::BTreeMap;

/// The key policy in force, parsed; one that does not parse is said as a finding, the same for
/// every command.
pub fn parse_in_force(text: &str) -> Result<KeyPolicy, Box<Finding>> {
    KeyPolicy::parse(text).map_err(|e| {
        Box::new(
            Finding::new(
                Code::EvidenceIncomplete,
                "The key policy in force could not be read",
            )
            .detail(text!(
                "kms-doctor cannot evaluate it: ",
                code(e.to_string()),
                "."
            ))
            .help("Check the policy with `kms-doctor explain --policy FILE`."),
        )
    })
}

/// The principals IAM created after the event that set the policy in force (a policy recovered
/// from CloudTrail, an archive or Athena: one read with GetKeyPolicy shows a deleted
/// principal's unique ID instead of its ARN). KMS stores a key policy's principals by their
/// unique IDs, so a principal deleted and recreated with the same name is a new principal the
/// policy does not name (IAM User Guide, "Unique identifiers":
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids>).
pub fn recreated<'c>(
    checks: &'c [ExistenceCheck],
    source: &super::model::PolicySource,
) -> BTreeMap<&'c str, super::model::Timestamp> {
    let Some(set_at) = source
        .event_time
        .filter(|_| source.kind != super::model::SourceKind::Current)
    else {
        return BTreeMap::new();
    };
    checks
        .iter()
        .filter_map(|c| Some((c.principal.as_str(), c.created.filter(|t| *t > set_at)?)))
        .collect()
}

/// The principals whose permissions boundary IAM named (its ARN), from the existence checks.
pub fn boundaries(checks: &[ExistenceCheck]) -> BTreeMap<&str, &str> {
    checks
        .iter()
        .filter_map(|c| Some((c.principal.as_str(), c.boundary.as_deref()?)))
        .collect()
}

/// What the evidence says of every request about a key, beside what the principal gives
/// (`Context::for_kms_request`): `aws:PrincipalOrgID` is the organisation's ID that
/// `DescribeOrganization` gave for the principals' account (absent when it is in none), and
/// `aws:RequestedRegion` the key's Region, where every call about it goes (IAM User Guide,
/// global condition context keys:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>).
pub fn known_context(
    org: Option<&OrgEvidence>,
    key_region: Option<&str>,
) -> crate::policy::Context {
    let mut c = crate::policy::Context::default();
    if let Some(org) = org {
        match &org.id {
            Some(id) => c.insert("aws:PrincipalOrgID", vec![id.clone()]),
            None if org.not_in_organization => c.mark_absent("aws:PrincipalOrgID"),
            None => {}
        }
    }
    if let Some(region) = key_region {
        c.insert("aws:RequestedRegion", vec![region.to_owned()]);
    }
    c
}

/// Whether each principal checked still exists.
pub fn existence(checks: &[ExistenceCheck]) -> BTreeMap<&str, Option<bool>> {
    checks
        .iter()
        .map(|c| (c.principal.as_str(), c.exists))
        .collect()
}

/// The organisation's policies from what was read of them, when some could be read (a type whose levels
/// could not all be read, or whose documents do not parse, is left out: it blocks no one).
pub fn org_policies(org: &OrgEvidence) -> Option<OrgPolicies> {
    let levels = |levels: &Option<Vec<OrgLevel>>, kind: OrgPolicyType| -> Option<Vec<Level>> {
        levels
            .as_ref()?
            .iter()
            .map(|l| {
                // Each document on its own: one that does not parse is left out (and named by
                // `org_gaps`), not every policy of the account with it.
                let policies = l
                    .policies
                    .iter()
                    .filter_map(|p| {
                        OrgPolicy::from_file(kind, &p.id, &p.content)
                            .ok()
                            .map(|mut o| {
                                o.name = p.name.to_string();
                                o
                            })
                    })
                    .collect::<Vec<_>>();
                Some(Level {
                    target: l.target.clone(),
                    policies,
                })
            })
            .collect()
    };
    let scps = levels(&org.scps, OrgPolicyType::Scp);
    let rcps = levels(&org.rcps, OrgPolicyType::Rcp);
    if scps.is_none() && rcps.is_none() {
        return None;
    }
    Some(OrgPolicies {
        scps: scps.unwrap_or_default(),
        rcps: rcps.unwrap_or_default(),
        management_account: org.management_account.as_ref().map(|a| a.to_string()),
    })
}

/// What of an account's organisation policies is not known: a type that could not be read at
/// every level, a document that does not parse. Empty outside an organisation.
pub fn org_gaps(org: &OrgEvidence) -> Vec<Text> {
    if org.not_in_organization {
        return Vec::new();
    }
    let mut gaps = Vec::new();
    for (levels, kind, what) in [
        (&org.scps, OrgPolicyType::Scp, "SCPs"),
        (&org.rcps, OrgPolicyType::Rcp, "RCPs"),
    ] {
        let Some(levels) = levels else {
            gaps.push(text!(what, " could not be read"));
            continue;
        };
        for p in levels.iter().flat_map(|l| &l.policies) {
            if let Err(e) = OrgPolicy::from_file(kind, &p.id, &p.content) {
                gaps.push(text!(
                    code(p.name.to_string()),
                    " (",
                    code(p.id.clone()),
                    ") does not parse: ",
                    code(e.to_string())
                ));
            }
        }
    }
    gaps
}

/// The one judgement of a key: who can update its policy ([`Restorers`]) and the findings
/// that follow from the case alone — the key policy's for whom it is asked (see [`Asked`]),
/// `restorer-missing`, and, for nobody in particular, `no-account-delegation` and
/// `single-restorer`. Every command asks it; each adds only what is its own (diagnose: the
/// caller's verdicts and the way there; scan: the history and the key's state; check: where a
/// template declares it). Nothing when the policy in force is not known: the caller says why.
pub fn judge(case: &KeyCase) -> Judgement {
    let restorers = restorers(case);
    let Some(policy) = case.policy else {
        return Judgement {
            findings: Vec::new(),
            restorers,
        };
    };
    let lockout_actions = [GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()];
    let (principal, actions, evaluations, delegation_for_nobody) = match case.asked {
        Asked::Lockout => (None, &lockout_actions[..], &[][..], false),
        Asked::Actions(actions) => (None, actions, &[][..], true),
        Asked::Principal {
            who,
            actions,
            evaluations,
        } => (Some(who), actions, evaluations, false),
    };
    let scope = &case.scope;
    let mut findings = policy_rules::findings(&PolicyFacts {
        policy,
        principal,
        key_account: Some(scope.account).filter(|a| !a.is_empty()),
        evaluations,
        actions,
        restorers: &restorers,
        delegation_for_nobody,
    });
    // Only a principal the key policy names can be gone or recreated: those through IAM were
    // read from the account as they are.
    live::restorer_findings(&mut findings, restorers.named());
    if matches!(case.asked, Asked::Lockout) {
        if delegations(policy, PUT_KEY_POLICY, Some(scope.account)).is_empty() {
            findings.push(no_account_delegation(scope));
        }
        findings.extend(single(&restorers, scope));
    }
    Judgement {
        findings,
        restorers,
    }
}

/// Who the key's policy lets update it, and through the account delegation who IAM lets.
/// A principal of another account than the key's (when known) is none: `PutKeyPolicy`
/// never works across accounts (KMS Developer Guide, "Allowing users in other accounts to
/// use a KMS key": key policy operations are not among those allowed across accounts).
pub fn restorers(case: &KeyCase) -> Restorers {
    let Some(policy) = case.policy else {
        return Restorers::default();
    };
    let scope = &case.scope;
    let mut grants = grantees(
        policy,
        PUT_KEY_POLICY,
        scope.key_arn,
        case.context,
        case.now,
    );
    let account = Some(scope.account).filter(|_| scope.account_known);
    grants.retain(|g| super::case::in_key_account(&g.principal, account));
    for g in &mut grants {
        g.blocked_by = scope
            .org
            .blocked(&g.principal, scope.key_arn, case.context, case.now);
    }
    let mut list: Vec<Restorer> = grants
        .iter()
        .map(|g| {
            let exists = case.existence.get(g.principal.as_str()).copied().flatten();
            let mut r = Restorer::named(g, scope.source, exists);
            r.permission_set = super::restore_paths::permission_set(&g.principal);
            r
        })
        .collect();
    for r in &mut list {
        r.recreated = case.recreated.get(r.principal.as_str()).copied();
    }
    match case.iam {
        Some((_, graph)) => {
            for r in &mut list {
                r.limited_by_boundary = limited_by_boundary(graph, policy, r, scope.key_arn);
            }
        }
        // IAM named a boundary whose content was not read: whether it keeps the restorer out
        // is unknown, and said so; it still counts (unknown is not "no").
        None => {
            for r in &mut list {
                r.boundary_unread = case
                    .boundaries
                    .get(r.principal.as_str())
                    .map(|b| (*b).to_owned());
            }
        }
    }
    let mut iam_whole = false;
    let mut iam = std::rc::Rc::default();
    let denies_put = policy
        .statements
        .iter()
        .any(|s| s.effect == crate::policy::Effect::Deny && s.covers_action(PUT_KEY_POLICY));
    if let (true, Some((details, graph))) = (super::model::delegates(&list), case.iam) {
        // The delegation holds for each principal as the key policy's Denies let it: a Deny
        // unless `aws:PrincipalArn` is the break-glass role spares that role alone. Without a
        // Deny on kms:PutKeyPolicy it holds for all alike: thousands of administrators are not
        // evaluated one by one for every key.
        let keep = |r: &Restorer| {
            Identity::parse(&r.principal).is_ok_and(|who| {
                // Under a NotPrincipal Deny, a principal with a boundary is always denied.
                !(not_principal_deny(policy) && graph.boundary_of(&who).is_some())
                    && crate::policy::evaluate_for(
                        policy,
                        &who,
                        PUT_KEY_POLICY,
                        scope.key_arn,
                        case.context,
                        case.now,
                    )
                    .decision
                        != crate::policy::Decision::ExplicitDeny
            })
        };
        let keep: Option<&dyn Fn(&Restorer) -> bool> = denies_put.then_some(&keep);
        iam = via_iam(details, graph, scope, &list, keep, case.now);
        iam_whole = details.complete;
    }
    let mut out = Restorers {
        grants,
        list,
        iam,
        orphans: orphaned_principals(policy),
        iam_whole,
        undecided: case.undecided,
        aws_managed: case.aws_managed,
        root_denied: root_denied(policy, case),
        unless_created: Vec::new(),
    };
    if let (true, Some((details, _))) = (
        out.iam_whole && out.root_denied && out.delegates(),
        case.iam,
    ) && !out.all().any(Restorer::counts_by_name)
    {
        let exists = |arn: &str| {
            details
                .roles
                .iter()
                .chain(&details.users)
                .any(|p| p.arn.eq_ignore_ascii_case(arn))
        };
        out.unless_created = crate::policy::spared_by_name(policy, PUT_KEY_POLICY)
            .into_iter()
            .filter(|arn| !exists(arn))
            .collect();
    }
    out
}

/// `single-restorer`, when one principal at most is left (see [`OneLeft`]).
fn single(restorers: &Restorers, scope: &PolicyScope) -> Option<Finding> {
    if restorers.undecided || restorers.aws_managed {
        return None;
    }
    let living: Vec<(&Grantee, &Restorer)> = restorers
        .grants
        .iter()
        .zip(&restorers.list)
        .filter(|(_, r)| r.counts())
        .collect();
    let whole_account = living.iter().any(|(g, _)| g.names_whole_account());
    let mut named: Vec<&str> = living.iter().map(|(g, _)| g.principal.as_str()).collect();
    named.sort_unstable();
    named.dedup();
    if !whole_account && named.len() == 1 {
        let (first, _) = living[0];
        return Some(
            single_restorer(OneLeft::Named {
                principal: named[0],
                statement: &first.statement,
            })
            .at_statement(first.statement_index),
        );
    }
    if restorers.iam_whole && restorers.delegates() {
        return few_iam_restorers(restorers, scope);
    }
    None
}

/// Whether the key policy denies the account's root user itself `kms:PutKeyPolicy`: its own
/// ARN is known, so a Deny that spares only another principal (`aws:PrincipalArn`) holds it.
fn root_denied(policy: &KeyPolicy, case: &KeyCase) -> bool {
    let root = Identity::Account {
        partition: case.scope.partition.to_owned(),
        account: case.scope.account.to_owned(),
    };
    !crate::policy::evaluate_for(
        policy,
        &root,
        PUT_KEY_POLICY,
        case.scope.key_arn,
        case.context,
        case.now,
    )
    .decision
    .is_granted()
}

/// The permissions boundary that keeps a restorer the key policy names from updating it. A
/// grant that names a role is limited by an implicit deny in the role's boundary; one that
/// names a user or a role session itself only by an explicit deny (IAM User Guide, "How AWS
/// enforcement code logic evaluates requests":
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>).
fn limited_by_boundary(
    graph: &super::restore_paths::Graph,
    policy: &KeyPolicy,
    r: &Restorer,
    key_arn: Option<&str>,
) -> Option<String> {
    let who = Identity::parse(&r.principal).ok()?;
    // A Deny with NotPrincipal always denies a principal that has a permissions boundary,
    // whatever it lists (IAM User Guide, "Permissions boundaries for IAM entities":
    // <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
    if not_principal_deny(policy)
        && let Some(boundary) = graph.boundary_of(&who)
    {
        return Some(boundary);
    }
    let (boundary, explicit) = graph.boundary_denies(&who, PUT_KEY_POLICY, key_arn)?;
    let limits = match who {
        Identity::Role { .. } => true,
        Identity::User { .. } | Identity::AssumedRole { .. } => explicit,
        _ => false,
    };
    limits.then_some(boundary)
}

/// The policy has an unconditional `Deny` with `NotPrincipal` on `kms:PutKeyPolicy`.
fn not_principal_deny(policy: &KeyPolicy) -> bool {
    policy.statements.iter().any(|s| {
        s.effect == crate::policy::Effect::Deny
            && s.not_principal
            && s.conditions.is_empty()
            && s.covers_action(PUT_KEY_POLICY)
    })
}

/// What [`judge`] finds.
pub struct Judgement {
    pub findings: Vec<Finding>,
    pub restorers: Restorers,
}

/// `no-account-delegation`; its fix names the key's account when it is known for certain.
fn no_account_delegation(scope: &PolicyScope) -> Finding {
    let (partition, account) = (scope.partition, scope.account);
    let fix_account = if scope.account_known {
        account
    } else {
        "ACCOUNT"
    };
    Finding::new(
        Code::NoAccountDelegation,
        "No statement delegates kms:PutKeyPolicy to the account",
    )
    .detail(text!(
        "Without a statement whose principal is the account (",
        code(format!("arn:{partition}:iam::{account}:root")),
        "), IAM policies grant nothing on this key, not even AdministratorAccess: access \
         rests on the principals the policy names. If they are deleted or lose their \
         sessions, the key is locked out."
    ))
    .help(text!(
        "Add the account delegation statement (",
        code(format!(
            "\"Principal\": {{\"AWS\": \"arn:{partition}:iam::{fix_account}:root\"}}, \"Action\": \"kms:*\""
        )),
        ") and control access with IAM policies, or name at least two administrators."
    ))
}

/// Who is left to update a key's policy when `single-restorer` is raised.
pub enum OneLeft<'a> {
    /// One principal the key policy names, and no account delegation.
    Named {
        principal: &'a str,
        statement: &'a str,
    },
    /// The account delegates, and its authorization details name no IAM administrator: the
    /// root user alone.
    RootOnly { root: &'a str },
    /// The account delegates, and one administrator besides the root user remains.
    OneAndRoot { principal: &'a str, root: &'a str },
    /// The account delegates, one administrator remains, and the key policy's Denies hold the
    /// root user too.
    OneThroughIam { principal: &'a str },
}

/// `single-restorer`, built in this one place whoever is left.
pub fn single_restorer(left: OneLeft) -> Finding {
    match left {
        OneLeft::Named {
            principal,
            statement,
        } => Finding::new(
            Code::SingleRestorer,
            text!("Only ", code(principal), " can update the key policy"),
        )
        .detail(text!(
            "Statement ",
            super::model::quoted(statement),
            " is the one way left to change the policy. If this principal is deleted, or its \
             trust policy or session changes, nobody can restore access but AWS Support."
        ))
        .evidence([text!("kms:PutKeyPolicy restorers: ", code(principal))])
        .help("Name a second administrator (a break-glass role) or delegate to the account."),
        OneLeft::RootOnly { root } => Finding::new(
            Code::SingleRestorer,
            "Only the account's root user can update the key policy",
        )
        .detail(text!(
            "The key policy delegates to the account, but no IAM user or role can update it that way (their IAM policies do not allow kms:PutKeyPolicy on the key, or the key policy's Denies stop them; from the account's authorization details): only the root user (",
            code(root),
            "), signing in with its own credentials, could change the policy."
        ))
        .help("Give a break-glass role kms:PutKeyPolicy in IAM, or name one in the key policy."),
        OneLeft::OneAndRoot { principal, root } => Finding::new(
            Code::SingleRestorer,
            text!(
                "Only ",
                code(principal.to_string()),
                " (and the account's root user) can update the key policy"
            ),
        )
        .detail(text!(
            "From the key policy and the account's authorization details: if ",
            code(principal.to_string()),
            " is deleted or loses its IAM policy, only the root user (",
            code(root),
            "), signing in with its own credentials, could change the policy."
        ))
        .evidence([text!("kms:PutKeyPolicy restorers: ", code(principal.to_string()))])
        .help("Name a second administrator (a break-glass role), in the key policy or in IAM."),
        OneLeft::OneThroughIam { principal } => Finding::new(
            Code::SingleRestorer,
            text!("Only ", code(principal.to_string()), " can update the key policy"),
        )
        .detail(text!(
            "From the key policy and the account's authorization details: ",
            code(principal.to_string()),
            "'s IAM policies are the one way left, and the key policy's Denies hold every other principal, the account's root user included. If it is deleted or loses its IAM policy, nobody can restore access but AWS Support."
        ))
        .evidence([text!("kms:PutKeyPolicy restorers: ", code(principal.to_string()))])
        .help("Name a second administrator (a break-glass role) that the key policy's Deny spares."),
    }
}

/// `single-restorer` for a key that delegates to the account, from its authorization details:
/// at most one principal besides the account's root user — named by the key policy, or allowed
/// by its IAM policies — can update the key policy. The root user can (with its own
/// credentials), so this is never `no-restorer`.
fn few_iam_restorers(restorers: &Restorers, scope: &PolicyScope) -> Option<Finding> {
    let root_denied = restorers.root_denied;
    // The root user is the last resort only while it counts: held by an SCP or RCP, the key is
    // `no-restorer` (the organisation's administrators can exempt one), not "only the root".
    if !restorers.named().iter().any(|r| r.via_iam() && r.counts()) {
        return None;
    }
    // Two are enough to tell: those through IAM are counted (sorted, one each) without
    // listing thousands for every key.
    let mut who: Vec<&str> = restorers
        .named()
        .iter()
        .filter(|r| r.counts_by_name())
        .map(|r| r.principal.as_str())
        .chain(restorers.iam.living.iter().take(2).map(String::as_str))
        .collect();
    who.sort_unstable();
    who.dedup();
    let root = format!("arn:{}:iam::{}:root", scope.partition, scope.account);
    match who.as_slice() {
        // The key policy holds the root user too: not "only the root user"; whether anyone can
        // is not claimed (a principal the Deny spares may be created by its name).
        _ if root_denied && who.len() != 1 => None,
        [one] if root_denied => Some(single_restorer(OneLeft::OneThroughIam { principal: one })),
        [] => Some(single_restorer(OneLeft::RootOnly { root: &root })),
        [one] => Some(single_restorer(OneLeft::OneAndRoot {
            principal: one,
            root: &root,
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::case::OrgScope;
    use crate::diagnosis::explain::{ExplainRequest, explain};
    use crate::diagnosis::model::SourceKind;
    use crate::policy::Context;

    const ADMIN: &str = "arn:aws:iam::111122223333:role/KeyAdmin";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn policy(principals: &[&str]) -> KeyPolicy {
        KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admins",
                "Effect": "Allow", "Principal": {"AWS": principals}, "Action": "kms:*",
                "Resource": "*"}]})
            .to_string(),
        )
        .unwrap()
    }

    /// An SCP that denies kms:PutKeyPolicy to everyone but nobody.
    fn scp_holding_everyone() -> OrgPolicies {
        let text = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoKeyPolicyChanges", "Effect": "Deny", "Action": "kms:PutKeyPolicy",
             "Resource": "*"}]})
        .to_string();
        OrgPolicies {
            scps: vec![Level {
                target: "r-root".into(),
                policies: vec![OrgPolicy::from_file(OrgPolicyType::Scp, "p-1", &text).unwrap()],
            }],
            rcps: Vec::new(),
            management_account: None,
        }
    }

    fn scope(org: Option<&OrgPolicies>) -> PolicyScope<'_> {
        PolicyScope {
            account: "111122223333",
            account_known: true,
            partition: "aws",
            key_arn: Some(KEY),
            source: SourceKind::Current,
            org: OrgScope {
                policies: org,
                exempt_key: false,
            },
        }
    }

    /// The account delegation, and a Deny on kms:PutKeyPolicy unless `aws:PrincipalArn` is
    /// `glass` (the break-glass pattern).
    fn break_glass_policy(glass: &str) -> KeyPolicy {
        KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                 "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy",
                 "Resource": "*",
                 "Condition": {"ArnNotEquals": {"aws:PrincipalArn": glass}}}]})
            .to_string(),
        )
        .unwrap()
    }

    /// Authorization details, read whole, of roles that each hold AdministratorAccess.
    fn administrators(names: &[&str]) -> crate::diagnosis::model::AuthorizationDetails {
        use crate::diagnosis::model::{AuthorizationDetails, IamPrincipalDetails, ManagedPolicy};
        let admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess";
        AuthorizationDetails {
            roles: names
                .iter()
                .map(|name| IamPrincipalDetails {
                    arn: format!("arn:aws:iam::111122223333:role/{name}"),
                    name: (*name).into(),
                    path: "/".into(),
                    attached: vec![admin_policy.into()],
                    ..Default::default()
                })
                .collect(),
            policies: vec![ManagedPolicy {
                arn: admin_policy.into(),
                name: "AdministratorAccess".into(),
                document: Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "*",
                        "Resource": "*"}]})
                    .to_string(),
                ),
            }],
            complete: true,
            ..Default::default()
        }
    }

    fn codes(j: &Judgement) -> Vec<Code> {
        j.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn one_named_admin_is_a_single_restorer_and_its_deletion_no_restorer() {
        let p = policy(&[ADMIN]);
        let case = KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now());
        let j = judge(&case);
        assert!(codes(&j).contains(&Code::SingleRestorer), "{:?}", codes(&j));
        assert!(codes(&j).contains(&Code::NoAccountDelegation));
        assert!(!j.restorers.none() && !j.restorers.delegates() && !j.restorers.held());
        let mut gone = case.clone();
        gone.existence.insert(ADMIN, Some(false));
        let j = judge(&gone);
        assert!(j.restorers.none());
        assert!(codes(&j).contains(&Code::NoRestorer));
        assert!(codes(&j).contains(&Code::RestorerMissing));
        assert!(!codes(&j).contains(&Code::SingleRestorer));
    }

    #[test]
    fn nobody_left_is_no_finding_for_an_aws_managed_key_or_an_unknown_principal() {
        let p = policy(&[ADMIN]);
        let mut existence = BTreeMap::new();
        existence.insert(ADMIN, Some(false));
        let base = KeyCase {
            existence,
            ..KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now())
        };
        for case in [
            KeyCase {
                aws_managed: true,
                ..base.clone()
            },
            KeyCase {
                undecided: true,
                ..base.clone()
            },
        ] {
            let j = judge(&case);
            assert!(!j.restorers.none());
            assert!(!codes(&j).contains(&Code::NoRestorer));
            assert!(!codes(&j).contains(&Code::SingleRestorer));
        }
    }

    #[test]
    fn a_principal_of_another_account_is_no_restorer() {
        let p = policy(&["arn:aws:iam::444455556666:role/Other"]);
        let j = judge(&KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now()));
        assert!(j.restorers.list.is_empty());
        assert!(codes(&j).contains(&Code::NoRestorer));
    }

    /// Where the organisation holds every restorer, each command says its administrators can
    /// lift the hold: `explain` too, which before this judgement said "only AWS Support".
    #[test]
    fn restorers_held_by_the_organisation_are_said_so_by_every_command() {
        let org = scp_holding_everyone();
        let p = policy(&[ADMIN]);
        let j = judge(&KeyCase::lockout(
            Some(&p),
            scope(Some(&org)),
            chrono::Utc::now(),
        ));
        assert!(j.restorers.held() && j.restorers.none());
        let no_restorer = |findings: &[Finding]| {
            findings
                .iter()
                .find(|f| f.code == Code::NoRestorer)
                .map(|f| f.help.to_string())
                .expect("no-restorer")
        };
        let judged_help = no_restorer(&j.findings);
        assert!(judged_help.contains("organisation's administrators"));
        let explained = explain(&ExplainRequest {
            policy: p.clone(),
            source: "-".into(),
            principal: None,
            actions: vec![PUT_KEY_POLICY.to_owned()],
            key_arn: Some(KEY.into()),
            context: Context::default(),
            now: chrono::Utc::now(),
            org,
        });
        assert_eq!(no_restorer(&explained.findings), judged_help);
    }

    /// A boundary that leaves out kms:PutKeyPolicy keeps a role the key policy names from
    /// restoring (an implicit deny limits a grant to a role), not a user it names itself.
    #[test]
    fn a_boundary_limits_a_named_role_not_a_named_user() {
        use crate::diagnosis::model::{AuthorizationDetails, IamPrincipalDetails, ManagedPolicy};
        use crate::diagnosis::restore_paths::Graph;
        let boundary = "arn:aws:iam::111122223333:policy/NoKms";
        let principal = |arn: &str, name: &str| IamPrincipalDetails {
            arn: arn.into(),
            name: name.into(),
            path: "/".into(),
            boundary: Some(boundary.into()),
            ..Default::default()
        };
        let user = "arn:aws:iam::111122223333:user/breakglass";
        let details = AuthorizationDetails {
            roles: vec![principal(ADMIN, "KeyAdmin")],
            users: vec![principal(user, "breakglass")],
            policies: vec![ManagedPolicy {
                arn: boundary.into(),
                name: "NoKms".into(),
                document: Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "s3:*",
                        "Resource": "*"}]})
                    .to_string(),
                ),
            }],
            complete: true,
            ..Default::default()
        };
        let now = chrono::Utc::now();
        let graph = Graph::for_details(&details, now);
        let judged = |principals: &[&str]| {
            let p = policy(principals);
            let case = KeyCase {
                iam: Some((&details, &graph)),
                ..KeyCase::lockout(Some(&p), scope(None), now)
            };
            judge(&case)
        };
        let j = judged(&[ADMIN]);
        assert_eq!(
            j.restorers.list[0].limited_by_boundary.as_deref(),
            Some(boundary)
        );
        assert!(j.restorers.none());
        assert!(codes(&j).contains(&Code::NoRestorer));
        let j = judged(&[user]);
        assert_eq!(j.restorers.list[0].limited_by_boundary, None);
        assert!(!j.restorers.none());
    }

    /// The break-glass pattern kms-doctor's own help recommends: the account delegation, and a
    /// Deny on kms:PutKeyPolicy unless aws:PrincipalArn is the break-glass role. The delegation
    /// stands for that role (a condition on a key that names one principal is judged per
    /// principal, not with the root user's ARN): not a lockout.
    #[test]
    fn the_break_glass_deny_spares_the_delegation_for_its_role() {
        let p = KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*",
                 "Resource": "*"},
                {"Sid": "Only break-glass changes the policy", "Effect": "Deny",
                 "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*",
                 "Condition": {"ArnNotEquals": {
                     "aws:PrincipalArn": "arn:aws:iam::111122223333:role/BreakGlass"}}}]})
            .to_string(),
        )
        .unwrap();
        let j = judge(&KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now()));
        assert!(!codes(&j).contains(&Code::NoRestorer), "{:?}", codes(&j));
        assert!(j.restorers.delegates());
        let account = &j.restorers.list[0];
        assert!(account.counts());
        assert!(
            account
                .conditions_on
                .iter()
                .any(|c| c.context_key() == Some("aws:PrincipalArn")),
            "{account:?}"
        );
    }

    /// The data-perimeter Deny on aws:PrincipalOrgID is decided once the organisation is read:
    /// the account delegation stands without a condition, for scan as for diagnose.
    #[test]
    fn the_organisation_s_id_decides_the_data_perimeter() {
        let p = KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                 "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                 "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3"}}}]})
            .to_string(),
        )
        .unwrap();
        let account = |known: &Context| {
            judge(&KeyCase {
                context: known,
                ..KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now())
            })
            .restorers
            .list[0]
                .clone()
        };
        let unknown = account(&Context::default());
        assert!(!unknown.conditions_on.is_empty(), "{unknown:?}");
        let org = OrgEvidence {
            id: Some("o-a1b2c3".into()),
            ..OrgEvidence::default()
        };
        let known = known_context(Some(&org), Some("us-east-1"));
        let decided = account(&known);
        assert!(decided.conditions_on.is_empty(), "{decided:?}");
        assert!(decided.counts());
        let outside = OrgEvidence {
            id: Some("o-zzzzzz".into()),
            ..OrgEvidence::default()
        };
        let denied = judge(&KeyCase {
            context: &known_context(Some(&outside), None),
            ..KeyCase::lockout(Some(&p), scope(None), chrono::Utc::now())
        });
        assert!(
            denied.restorers.none(),
            "the perimeter denies every principal of another organisation"
        );
    }

    /// A Deny with NotPrincipal always denies a principal with a permissions boundary, even one
    /// it lists: the user keyadmin, listed and named, does not count once it has a boundary.
    #[test]
    fn a_not_principal_deny_holds_a_listed_principal_with_a_boundary() {
        use crate::diagnosis::model::{AuthorizationDetails, IamPrincipalDetails, ManagedPolicy};
        use crate::diagnosis::restore_paths::Graph;
        // A user: NotPrincipal exempts it by its ARN alone (a role's sessions would need theirs).
        let user = "arn:aws:iam::111122223333:user/keyadmin";
        let p = KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": user},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "Only KeyAdmin", "Effect": "Deny",
                 "NotPrincipal": {"AWS": [user, "arn:aws:iam::111122223333:root"]},
                 "Action": "kms:PutKeyPolicy", "Resource": "*"}]})
            .to_string(),
        )
        .unwrap();
        let boundary = "arn:aws:iam::111122223333:policy/Everything";
        let details = |with_boundary: bool| AuthorizationDetails {
            users: vec![IamPrincipalDetails {
                arn: user.into(),
                name: "keyadmin".into(),
                path: "/".into(),
                boundary: with_boundary.then(|| boundary.to_owned()),
                ..Default::default()
            }],
            policies: vec![ManagedPolicy {
                arn: boundary.into(),
                name: "Everything".into(),
                document: Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "*",
                        "Resource": "*"}]})
                    .to_string(),
                ),
            }],
            complete: true,
            ..Default::default()
        };
        let now = chrono::Utc::now();
        for (with_boundary, counts) in [(false, true), (true, false)] {
            let d = details(with_boundary);
            let graph = Graph::for_details(&d, now);
            let j = judge(&KeyCase {
                iam: Some((&d, &graph)),
                ..KeyCase::lockout(Some(&p), scope(None), now)
            });
            assert_eq!(
                j.restorers.list[0].counts(),
                counts,
                "boundary: {with_boundary}"
            );
        }
    }

    /// Under the break-glass Deny, the root user is held too: with the break-glass role the one
    /// IAM principal left, `single-restorer` names it alone, never "(and the account's root
    /// user)".
    #[test]
    fn the_root_user_held_by_the_key_policy_is_no_last_resort() {
        use crate::diagnosis::restore_paths::Graph;
        let glass = "arn:aws:iam::111122223333:role/BreakGlass";
        let p = break_glass_policy(glass);
        let details = administrators(&["BreakGlass", "Admin"]);
        let now = chrono::Utc::now();
        let graph = Graph::for_details(&details, now);
        let j = judge(&KeyCase {
            iam: Some((&details, &graph)),
            ..KeyCase::lockout(Some(&p), scope(None), now)
        });
        let through: Vec<&str> = j
            .restorers
            .all()
            .filter(|r| r.via == crate::diagnosis::model::RestorerVia::Iam)
            .map(|r| r.principal.as_str())
            .collect();
        assert_eq!(through, [glass], "the Deny holds Admin");
        let single = j
            .findings
            .iter()
            .find(|f| f.code == Code::SingleRestorer)
            .expect("single-restorer");
        assert!(
            !single.title.plain().contains("root"),
            "{}",
            single.title.plain()
        );
        assert!(single.title.plain().contains(glass));
    }

    /// The break-glass role the Deny spares by name was deleted: no principal that exists can
    /// update the policy (`no-restorer`), and the way out is to create the role by that name —
    /// not AWS Support first.
    #[test]
    fn a_deleted_break_glass_role_can_be_created_by_its_name() {
        use crate::diagnosis::restore_paths::Graph;
        let glass = "arn:aws:iam::111122223333:role/BreakGlass";
        let p = break_glass_policy(glass);
        let details = administrators(&["Admin"]);
        let now = chrono::Utc::now();
        let graph = Graph::for_details(&details, now);
        let j = judge(&KeyCase {
            iam: Some((&details, &graph)),
            ..KeyCase::lockout(Some(&p), scope(None), now)
        });
        assert_eq!(j.restorers.unless_created, [glass]);
        let no = j
            .findings
            .iter()
            .find(|f| f.code == Code::NoRestorer)
            .expect("no-restorer");
        assert!(no.help.plain().contains("creates"), "{}", no.help.plain());
        assert!(no.help.plain().contains(glass));
    }
}
