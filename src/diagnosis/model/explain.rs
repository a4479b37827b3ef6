//! The `explain` report.

use super::{Finding, Severity};
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

impl ExplainReport {
    /// 0 when every asked action is allowed or delegated (or, without a principal, when there
    /// is no error finding); 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        let ok = if self.principal.is_some() {
            self.results.iter().all(|r| r.decision.is_granted())
        } else {
            !self.findings.iter().any(|f| f.severity == Severity::Error)
        };
        if ok { 0 } else { 1 }
    }
}
