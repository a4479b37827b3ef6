//! The judgement of a key policy that `diagnose`, `scan` and `check` share: who the policy lets
//! update it (its restorers, with whether each still exists), and, for nobody in particular,
//! how close it is to a lockout.

use super::model::{Code, ExistenceCheck, Finding, Restorer, SourceKind, code};
use super::model::{OrgEvidence, OrgLevel};
use super::rules::live;
use super::rules::policy::{self as policy_rules, PolicyFacts};
use crate::policy::{
    BlockedBy, Context, GET_KEY_POLICY, Grantee, Identity, KeyPolicy, Level, OrgPolicies,
    OrgPolicy, OrgPolicyType, OrgRequest, Orphan, PUT_KEY_POLICY, delegations, grantees,
    orphaned_principals,
};
use crate::text;
use std::collections::BTreeMap;

/// The key policy in force, parsed; one that does not parse is said as a finding, the same for
/// every command.
pub fn parse_in_force(text: &str) -> Result<KeyPolicy, Finding> {
    KeyPolicy::parse(text).map_err(|e| {
        Finding::new(
            Code::EvidenceIncomplete,
            "The key policy in force could not be read",
        )
        .detail(text!(
            "kms-doctor cannot evaluate it: ",
            code(e.to_string()),
            "."
        ))
        .help("Check the policy with `kms-doctor explain --policy FILE`.")
    })
}

/// Whether each principal checked still exists.
pub fn existence(checks: &[ExistenceCheck]) -> BTreeMap<&str, Option<bool>> {
    checks
        .iter()
        .map(|c| (c.principal.as_str(), c.exists))
        .collect()
}

/// Who a key policy lets call `kms:PutKeyPolicy` (none, when no policy is known).
#[derive(Default)]
pub struct KeyPolicyRestorers {
    /// Every principal the policy names for it, as a restorer (`exists` from the checks made).
    pub restorers: Vec<Restorer>,
    /// The grants of those that may still exist: deleted principals restore nothing.
    pub living: Vec<Grantee>,
    /// Principals named by the unique ID of a deleted principal.
    pub orphans: Vec<Orphan>,
}

/// The organisation's policies that apply, when known, and whether the key is exempt from RCPs
/// (AWS managed, or in the management account).
#[derive(Clone, Copy, Default)]
pub struct OrgScope<'a> {
    pub policies: Option<&'a OrgPolicies>,
    pub exempt_key: bool,
}

impl OrgScope<'_> {
    /// What of the organisation's policies denies `principal` `kms:PutKeyPolicy` on the key.
    pub fn blocked(
        &self,
        principal: &str,
        key_arn: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<BlockedBy> {
        let org = self.policies?;
        let who = Identity::parse(principal).ok()?;
        org.blocked(
            &OrgRequest {
                principal: &who,
                action: PUT_KEY_POLICY,
                resource: key_arn,
                context: &Context::default(),
                now,
            },
            self.exempt_key,
        )
    }
}

/// The key policy's restorers: `existence` says which principals still exist (absent: not
/// known). One the organisation's policies deny `kms:PutKeyPolicy` is marked (`blocked_by`)
/// and is not among the living. A principal of another account than the key's (`key_account`,
/// when known without the key's ARN: a template's) is none: `PutKeyPolicy` never works across
/// accounts.
pub fn key_policy_restorers(
    policy: &KeyPolicy,
    key_arn: Option<&str>,
    key_account: Option<&str>,
    source: SourceKind,
    existence: &BTreeMap<&str, Option<bool>>,
    org: OrgScope,
    now: chrono::DateTime<chrono::Utc>,
) -> KeyPolicyRestorers {
    let mut all = grantees(policy, PUT_KEY_POLICY, key_arn, &Context::default(), now);
    if let Some(account) = key_account {
        all.retain(|g| {
            Identity::parse(&g.principal)
                .ok()
                .and_then(|i| i.account().map(|a| a == account))
                .unwrap_or(true)
        });
    }
    for g in &mut all {
        g.blocked_by = org.blocked(&g.principal, key_arn, now);
    }
    let restorers: Vec<Restorer> = all
        .iter()
        .map(|g| {
            let exists = existence.get(g.principal.as_str()).copied().flatten();
            let mut r = Restorer::named(g, source, exists);
            r.permission_set = super::restore_paths::permission_set(&g.principal);
            r
        })
        .collect();
    let living = all
        .iter()
        .zip(&restorers)
        .filter(|(_, r)| r.counts())
        .map(|(g, _)| g.clone())
        .collect();
    KeyPolicyRestorers {
        restorers,
        living,
        orphans: orphaned_principals(policy),
    }
}

/// The organisation's policies from what was read of them, when some could be read (a type whose levels
/// could not all be read, or whose documents do not parse, is left out: it blocks no one).
pub fn org_policies(org: &OrgEvidence) -> Option<OrgPolicies> {
    let levels = |levels: &Option<Vec<OrgLevel>>, kind: OrgPolicyType| -> Option<Vec<Level>> {
        levels
            .as_ref()?
            .iter()
            .map(|l| {
                let policies = l
                    .policies
                    .iter()
                    .map(|p| {
                        OrgPolicy::from_file(kind, &p.id, &p.content)
                            .ok()
                            .map(|mut o| {
                                o.name = p.name.to_string();
                                o
                            })
                    })
                    .collect::<Option<Vec<_>>>()?;
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

/// When the organisation's policies, not deletion, leave no restorer: `no-restorer` says its
/// administrators can lift them, which is sooner than AWS Support.
pub fn held_by_organization(findings: &mut [Finding], restorers: &[Restorer]) {
    if !restorers.iter().any(|r| r.blocked_by.is_some()) {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.code == Code::NoRestorer) {
        f.detail = "Every principal the key policy lets update it is denied kms:PutKeyPolicy by the organisation's SCPs or RCPs (see the restorers' blocked_by), or no longer exists.".into();
        f.help = "The organisation's administrators (its management account, or the delegated administrator for policies) can exempt a restorer from the policy that holds it; only if they cannot, open a case with AWS Support from the key's account.".into();
    }
}

/// Whose policy is judged, and where it came from.
pub struct PolicyScope<'a> {
    pub account: &'a str,
    /// The account is the key's for certain (not a template's guess): principals of other
    /// accounts are then no restorers.
    pub account_known: bool,
    pub partition: &'a str,
    pub key_arn: Option<&'a str>,
    pub source: SourceKind,
    pub org: OrgScope<'a>,
}

/// What a key policy means for nobody in particular: can anyone still update it, and how close
/// is it to a lockout? The findings (`no-restorer`, `restorer-missing`, `orphaned-principal`,
/// `not-principal-misses-sessions`, `policy-update-open`, `no-account-delegation`,
/// `single-restorer`) and the restorers. `existence` says which principals still exist (absent:
/// not known). Shared by `scan` (live keys) and `check` (templates before deployment).
pub fn judge_policy(
    policy: &KeyPolicy,
    scope: &PolicyScope,
    existence: &BTreeMap<&str, Option<bool>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Judged {
    let mut findings = Vec::new();
    let KeyPolicyRestorers {
        restorers,
        living,
        orphans,
    } = key_policy_restorers(
        policy,
        scope.key_arn,
        Some(scope.account).filter(|_| scope.account_known),
        scope.source,
        existence,
        scope.org,
        now,
    );
    let actions = [GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()];
    // For nobody in particular, a missing delegation denies no one: it is
    // `no-account-delegation` (a warning) below, not `root-delegation-missing`.
    findings.extend(
        policy_rules::findings(&PolicyFacts {
            policy,
            principal: None,
            key_account: Some(scope.account),
            evaluations: &[],
            actions: &actions,
            restorers: &living,
            orphans: &orphans,
        })
        .into_iter()
        .filter(|f| f.code != Code::RootDelegationMissing),
    );
    live::restorer_findings(&mut findings, &restorers);
    held_by_organization(&mut findings, &restorers);
    if delegations(policy, PUT_KEY_POLICY, Some(scope.account)).is_empty() {
        findings.push(no_account_delegation(scope.partition, scope.account));
    }
    let whole_account = living.iter().any(|g| g.names_whole_account());
    let mut named: Vec<&str> = living.iter().map(|g| g.principal.as_str()).collect();
    named.sort_unstable();
    named.dedup();
    if !whole_account && named.len() == 1 {
        findings.push(
            single_restorer(OneLeft::Named {
                principal: named[0],
                statement: &living[0].statement,
            })
            .at_statement(living[0].statement_index),
        );
    }
    Judged {
        findings,
        restorers,
    }
}

/// What `judge_policy` finds.
pub struct Judged {
    pub findings: Vec<Finding>,
    pub restorers: Vec<Restorer>,
}

fn no_account_delegation(partition: &str, account: &str) -> Finding {
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
        code("\"Principal\": {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"}, \"Action\": \"kms:*\""),
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
            "The key policy delegates to the account, but no IAM user or role's policies allow kms:PutKeyPolicy on the key (from the account's authorization details): only the root user (",
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
    }
}

/// `single-restorer` for a key that delegates to the account, from its authorization details:
/// at most one principal besides the account's root user — named by the key policy, or allowed
/// by its IAM policies — can update the key policy. The root user can (with its own
/// credentials), so this is never `no-restorer`.
pub fn few_iam_restorers(
    named: &[Restorer],
    through: &[Restorer],
    scope: &PolicyScope,
) -> Option<Finding> {
    // The root user is the last resort only while it counts: held by an SCP or RCP, the key is
    // `no-restorer` (the organisation's administrators can exempt one), not "only the root".
    if !named.iter().any(|r| r.via_iam() && r.counts()) {
        return None;
    }
    let mut who: Vec<&str> = named
        .iter()
        .chain(through)
        .filter(|r| r.counts_by_name())
        .map(|r| r.principal.as_str())
        .collect();
    who.sort_unstable();
    who.dedup();
    let root = format!("arn:{}:iam::{}:root", scope.partition, scope.account);
    match who.as_slice() {
        [] => Some(single_restorer(OneLeft::RootOnly { root: &root })),
        [one] => Some(single_restorer(OneLeft::OneAndRoot {
            principal: one,
            root: &root,
        })),
        _ => None,
    }
}
