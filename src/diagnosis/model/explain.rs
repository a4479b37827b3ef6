//! The `explain` report.

use super::Finding;
use crate::policy::{Delegation, Evaluation, Grantee, Orphan};
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
    pub findings: Vec<Finding>,
}
