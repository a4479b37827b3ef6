//! The `explain` report.

use super::{Finding, Text, code, quoted};
use crate::policy::{BlockedBy, Delegation, Evaluation, Grantee, OrgPolicyType, Orphan};
use crate::text;
use serde::Serialize;

pub const EXPLAIN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct ExplainReport {
    pub schema_version: u32,
    pub source: String,
    pub principal: Option<String>,
    pub key_arn: Option<String>,
    pub actions: Vec<String>,
    pub results: Vec<Evaluation>,
    /// Who may call `kms:PutKeyPolicy`, and so restore access.
    pub restorers: Vec<Grantee>,
    /// Statements that hand each asked action to the account's IAM policies.
    pub account_delegation: Vec<Delegation>,
    pub orphaned_principals: Vec<Orphan>,
    /// What the organisation's policies given (`--scp`, `--rcp`) decide for each action.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<LayerResult>,
    pub findings: Vec<Finding>,
}

/// What one of an organisation's policy types decides for one action.
#[derive(Debug, Clone, Serialize)]
pub struct LayerResult {
    pub action: String,
    pub policy_type: OrgPolicyType,
    pub decision: LayerDecision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<BlockedBy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_context: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerDecision {
    Allowed,
    Denied,
    Conditional,
    /// The policies do not apply (the management account, a service-linked role, an AWS
    /// managed key).
    Exempt,
}

/// Where an organisation's policy stops an action, in words: the policy and statement and where
/// it is attached, or the level at which nothing allows it.
pub fn blocked_words(b: &BlockedBy) -> Text {
    match (&b.policy, &b.statement) {
        (Some(policy), statement) => {
            let mut t = text!("policy ", code(policy.clone()));
            if let Some(s) = statement {
                t.append(text!(", statement ", quoted(s.clone())));
            }
            t.append(text!(", attached to ", code(b.target.clone())));
            t
        }
        (None, _) => text!(
            "the policies attached to ",
            code(b.target.clone()),
            ", none of which allows it (an allow-list)"
        ),
    }
}
