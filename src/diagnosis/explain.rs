//! `kms-doctor explain`: what a key policy decides for a principal, offline.

use super::case::{Asked, KeyCase, OrgScope, PolicyScope};
use super::judge::judge;
use super::model::{
    EXPLAIN_SCHEMA_VERSION, ExplainReport, LayerDecision, LayerResult, SourceKind, sort_findings,
};
use super::rules::policy::org_findings;
use crate::policy::{
    BlockedBy, Context, Decision, Delegation, Evaluation, Identity, KeyPolicy, OrgDecision,
    OrgPolicies, OrgPolicyType, OrgRequest, delegations, evaluate_for, key_account, rcp_decision,
    scp_decision,
};

/// What `explain` is asked.
pub struct ExplainRequest {
    pub policy: KeyPolicy,
    /// Where the policy came from (a path, or `-`), for the report.
    pub source: String,
    pub principal: Option<Identity>,
    /// Full action names (`kms:GetKeyPolicy`).
    pub actions: Vec<String>,
    pub key_arn: Option<String>,
    /// Context given by the user; the keys derived from the principal are added to it.
    pub context: Context,
    pub now: chrono::DateTime<chrono::Utc>,
    /// `--scp`, `--rcp`: the organisation's policies that apply.
    pub org: OrgPolicies,
}

/// What the organisation's policies decide for one principal and action, SCPs then RCPs.
pub fn layer_results(
    org: &OrgPolicies,
    req: &OrgRequest,
    exempt_resource: bool,
) -> Vec<LayerResult> {
    let result = |policy_type, d: OrgDecision| {
        let (decision, blocked_by, unknown_context) = match d {
            OrgDecision::Allowed => (LayerDecision::Allowed, None, Vec::new()),
            OrgDecision::Exempt => (LayerDecision::Exempt, None, Vec::new()),
            OrgDecision::Conditional(keys) => (LayerDecision::Conditional, None, keys),
            OrgDecision::Denied(b) => (
                LayerDecision::Denied,
                Some(BlockedBy::new(policy_type, b)),
                Vec::new(),
            ),
        };
        LayerResult {
            action: req.action.to_owned(),
            policy_type,
            decision,
            blocked_by,
            unknown_context,
        }
    };
    let mut out = Vec::new();
    if !org.scps.is_empty() {
        out.push(result(
            OrgPolicyType::Scp,
            scp_decision(&org.scps, org.management_account.as_deref(), req),
        ));
    }
    if !org.rcps.is_empty() {
        out.push(result(
            OrgPolicyType::Rcp,
            rcp_decision(&org.rcps, exempt_resource, req),
        ));
    }
    out
}

/// Each action's decision with every layer given: a request is allowed only when the key policy
/// and every SCP and RCP that applies allow it (IAM User Guide, "Policy evaluation logic":
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
/// A layer that denies makes a granted (or conditional) decision a denial — explicit when a
/// `Deny` matched, implicit when nothing allows; one that depends on unknown context makes a
/// granted decision conditional. The key policy's own decision is kept beside it.
fn with_layers(results: Vec<Evaluation>, layers: &[LayerResult]) -> Vec<Evaluation> {
    results
        .into_iter()
        .map(|mut e| {
            let own = e.decision;
            let mine = || layers.iter().filter(|l| l.action == e.action);
            let denied = mine().find(|l| l.decision == LayerDecision::Denied);
            let conditional: Vec<String> = mine()
                .filter(|l| l.decision == LayerDecision::Conditional)
                .flat_map(|l| l.unknown_context.iter().cloned())
                .collect();
            let combined = match (own, denied) {
                (Decision::ExplicitDeny | Decision::ImplicitDeny, _) => own,
                (_, Some(l)) => match l.blocked_by.as_ref().and_then(|b| b.statement.as_ref()) {
                    Some(_) => Decision::ExplicitDeny,
                    None => Decision::ImplicitDeny,
                },
                (Decision::Allow | Decision::Delegated, None) if !conditional.is_empty() => {
                    Decision::Conditional
                }
                _ => own,
            };
            if combined != own {
                e.decision = combined;
                e.key_policy_decision = Some(own);
                if combined == Decision::Conditional {
                    e.unknown_context.extend(conditional);
                    e.unknown_context.sort();
                    e.unknown_context.dedup();
                }
            }
            e
        })
        .collect()
}

pub fn explain(req: &ExplainRequest) -> ExplainReport {
    let key_arn = req.key_arn.as_deref();
    let results: Vec<Evaluation> = match &req.principal {
        Some(p) => req
            .actions
            .iter()
            .map(|a| evaluate_for(&req.policy, p, a, key_arn, &req.context, req.now))
            .collect(),
        None => Vec::new(),
    };
    let key_acct = key_arn.and_then(key_account);
    // A policy explained is a customer managed key's (an AWS managed key's cannot be changed).
    let exempt = req.org.exempts_key(key_acct, false);
    let asked = match &req.principal {
        Some(who) => Asked::Principal {
            who,
            actions: &req.actions,
            evaluations: &results,
        },
        None => Asked::Actions(&req.actions),
    };
    let judged = judge(&KeyCase {
        asked,
        context: &req.context,
        ..KeyCase::lockout(
            Some(&req.policy),
            PolicyScope {
                account: key_acct.unwrap_or_default(),
                account_known: key_acct.is_some(),
                partition: req
                    .principal
                    .as_ref()
                    .and_then(Identity::partition)
                    .unwrap_or("aws"),
                key_arn,
                source: SourceKind::None,
                org: OrgScope {
                    policies: Some(&req.org).filter(|o| !o.is_empty()),
                    exempt_key: exempt,
                },
            },
            req.now,
        )
    });
    let organizations: Vec<LayerResult> = match &req.principal {
        Some(p) => req
            .actions
            .iter()
            .flat_map(|a| {
                layer_results(
                    &req.org,
                    &OrgRequest {
                        principal: p,
                        action: a,
                        resource: key_arn,
                        context: &req.context,
                        now: req.now,
                    },
                    exempt,
                )
            })
            .collect(),
        None => Vec::new(),
    };
    let account_delegation = req
        .actions
        .iter()
        .flat_map(|a| delegations(&req.policy, a, key_acct))
        .fold(Vec::<Delegation>::new(), |mut acc, d| {
            if !acc.contains(&d) {
                acc.push(d);
            }
            acc
        });
    let results = with_layers(results, &organizations);
    let restorers = judged.restorers.grants;
    let mut found = judged.findings;
    let held: Vec<(&str, &BlockedBy)> = restorers
        .iter()
        .filter_map(|g| Some((g.principal.as_str(), g.blocked_by.as_ref()?)))
        .collect();
    found.extend(org_findings(&organizations, &held));
    sort_findings(&mut found);
    ExplainReport {
        schema_version: EXPLAIN_SCHEMA_VERSION,
        source: req.source.clone(),
        principal: req.principal.as_ref().map(|p| p.to_string()),
        key_arn: req.key_arn.clone(),
        actions: req.actions.clone(),
        results,
        restorers,
        account_delegation,
        orphaned_principals: judged.restorers.orphans,
        organizations,
        findings: found,
    }
}
