//! Rules: evidence in, findings out. Each finding has one stable `code` from the diagnosis
//! contract; `docs/diagnostics.md` documents every one of them.

pub mod live_rules;
pub mod policy_rules;

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The finding codes of the diagnosis contract. Their spelling never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    RootDelegationMissing,
    KeyPolicyExplicitDeny,
    IamImplicitDeny,
    IamExplicitDeny,
    ScpDeny,
    PermissionsBoundaryDeny,
    ConditionNotMet,
    CrossAccountKey,
    AwsManagedKey,
    KeyNotFound,
    OrphanedPrincipal,
    RestorerMissing,
    NoRestorer,
    LockoutCheckBypassed,
    KeyPendingDeletion,
    PolicyHistoryUnavailable,
    EvidenceIncomplete,
}

impl Code {
    pub const ALL: [Code; 17] = [
        Code::RootDelegationMissing,
        Code::KeyPolicyExplicitDeny,
        Code::IamImplicitDeny,
        Code::IamExplicitDeny,
        Code::ScpDeny,
        Code::PermissionsBoundaryDeny,
        Code::ConditionNotMet,
        Code::CrossAccountKey,
        Code::AwsManagedKey,
        Code::KeyNotFound,
        Code::OrphanedPrincipal,
        Code::RestorerMissing,
        Code::NoRestorer,
        Code::LockoutCheckBypassed,
        Code::KeyPendingDeletion,
        Code::PolicyHistoryUnavailable,
        Code::EvidenceIncomplete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::RootDelegationMissing => "root-delegation-missing",
            Code::KeyPolicyExplicitDeny => "key-policy-explicit-deny",
            Code::IamImplicitDeny => "iam-implicit-deny",
            Code::IamExplicitDeny => "iam-explicit-deny",
            Code::ScpDeny => "scp-deny",
            Code::PermissionsBoundaryDeny => "permissions-boundary-deny",
            Code::ConditionNotMet => "condition-not-met",
            Code::CrossAccountKey => "cross-account-key",
            Code::AwsManagedKey => "aws-managed-key",
            Code::KeyNotFound => "key-not-found",
            Code::OrphanedPrincipal => "orphaned-principal",
            Code::RestorerMissing => "restorer-missing",
            Code::NoRestorer => "no-restorer",
            Code::LockoutCheckBypassed => "lockout-check-bypassed",
            Code::KeyPendingDeletion => "key-pending-deletion",
            Code::PolicyHistoryUnavailable => "policy-history-unavailable",
            Code::EvidenceIncomplete => "evidence-incomplete",
        }
    }

    /// The contract's severity. (`aws-managed-key` is an error for `PutKeyPolicy`; the rule
    /// that raises it for a read-only question lowers it.)
    pub fn severity(self) -> Severity {
        match self {
            Code::OrphanedPrincipal
            | Code::RestorerMissing
            | Code::LockoutCheckBypassed
            | Code::KeyPendingDeletion
            | Code::PolicyHistoryUnavailable => Severity::Warning,
            Code::EvidenceIncomplete => Severity::Info,
            _ => Severity::Error,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: what, why, the evidence for it, and what to do.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// What: one line.
    pub title: String,
    /// Why: the explanation.
    pub detail: String,
    pub evidence: Vec<String>,
    /// What to do about it.
    pub help: String,
}

impl Finding {
    pub fn new(code: Code, title: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            title: title.into(),
            detail: String::new(),
            evidence: Vec::new(),
            help: String::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn evidence(mut self, evidence: impl IntoIterator<Item = String>) -> Self {
        self.evidence.extend(evidence);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }
}

/// Orders findings errors first, then by code, keeping the rules' order within a code.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by_key(|f| (f.severity, f.code));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_contracts() {
        let contract = include_str!("../../docs/diagnostics.md");
        for code in Code::ALL {
            assert!(
                contract.contains(&format!("`{}`", code.as_str())),
                "docs/diagnostics.md does not document {code}"
            );
        }
    }
}
