//! `kms-doctor explain`: what a key policy decides for a principal, offline.

use super::model::{EXPLAIN_SCHEMA_VERSION, ExplainReport, sort_findings};
use super::rules::policy::{PolicyFacts, findings};
use crate::policy::{
    Context, Delegation, Evaluation, Identity, KeyPolicy, PUT_KEY_POLICY, delegations,
    evaluate_for, grantees, key_account, orphaned_principals,
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
    let restorers = grantees(&req.policy, PUT_KEY_POLICY, key_arn, &req.context, req.now);
    let key_acct = key_arn.and_then(key_account);
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
    let orphans = orphaned_principals(&req.policy);
    let mut found = findings(&PolicyFacts {
        policy: &req.policy,
        principal: req.principal.as_ref(),
        key_account: key_acct,
        evaluations: &results,
        actions: &req.actions,
        restorers: &restorers,
        orphans: &orphans,
    });
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
        orphaned_principals: orphans,
        findings: found,
    }
}
