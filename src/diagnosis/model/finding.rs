//! Findings: one stable `code` each, with what / why / evidence / help.

use super::Text;
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
    /// As severe as `bar`, or more (`--fail-on`).
    pub fn at_least(self, bar: Severity) -> bool {
        // Declared worst first.
        self <= bar
    }

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

/// Declares the codes once: the enum, its contract spelling, its severity and `Code::ALL`.
macro_rules! codes {
    ($($variant:ident => $name:literal, $severity:ident;)*) => {
        /// The finding codes of the diagnosis contract. Their spelling never changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The code of its kebab-case name.
            pub fn parse(name: &str) -> Option<Code> {
                match name {
                    $($name => Some(Code::$variant),)*
                    _ => None,
                }
            }

            /// The contract's severity. (`aws-managed-key` is an error for `PutKeyPolicy`.)
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

codes! {
    RootDelegationMissing => "root-delegation-missing", Error;
    KeyPolicyExplicitDeny => "key-policy-explicit-deny", Error;
    IamImplicitDeny => "iam-implicit-deny", Error;
    IamExplicitDeny => "iam-explicit-deny", Error;
    ScpDeny => "scp-deny", Error;
    PermissionsBoundaryDeny => "permissions-boundary-deny", Error;
    ConditionNotMet => "condition-not-met", Error;
    CrossAccountKey => "cross-account-key", Error;
    AwsManagedKey => "aws-managed-key", Error;
    KeyNotFound => "key-not-found", Error;
    OrphanedPrincipal => "orphaned-principal", Warning;
    RestorerMissing => "restorer-missing", Warning;
    NoRestorer => "no-restorer", Error;
    LockoutCheckBypassed => "lockout-check-bypassed", Warning;
    KeyPendingDeletion => "key-pending-deletion", Warning;
    PolicyHistoryUnavailable => "policy-history-unavailable", Warning;
    EvidenceIncomplete => "evidence-incomplete", Info;
    NotPrincipalMissesSessions => "not-principal-misses-sessions", Error;
    PolicyUpdateOpen => "policy-update-open", Error;
    RestorerReachable => "restorer-reachable", Info;
    NoAccountDelegation => "no-account-delegation", Warning;
    SingleRestorer => "single-restorer", Warning;
    DeployerLosesAccess => "deployer-loses-access", Error;
    KeptPrincipalLosesAccess => "kept-principal-loses-access", Error;
    RestorerRemoved => "restorer-removed", Warning;
    RcpDeny => "rcp-deny", Error;
    VpcEndpointPolicyDeny => "vpc-endpoint-policy-deny", Error;
    SessionPolicyDeny => "session-policy-deny", Error;
    DenialUnexplained => "denial-unexplained", Warning;
    ScanIncomplete => "scan-incomplete", Error;
    RemovesLastRestorer => "removes-last-restorer", Error;
    RecreationOrphansPrincipal => "recreation-orphans-principal", Error;
    RemovesRestorer => "removes-restorer", Warning;
}

impl Code {
    /// What the code means, in one sentence (the contract's words; SARIF rule metadata).
    pub fn meaning(self) -> &'static str {
        match self {
            Code::RootDelegationMissing => {
                "The key policy neither names the principal for the action nor delegates to the account, so no IAM policy can grant it."
            }
            Code::KeyPolicyExplicitDeny => {
                "A Deny statement in the key policy matches the request."
            }
            Code::IamImplicitDeny => {
                "The key policy delegates to IAM, but no IAM policy of the principal allows the action."
            }
            Code::IamExplicitDeny => "An IAM identity policy explicitly denies the action.",
            Code::ScpDeny => "An AWS Organizations policy (SCP) denies the action.",
            Code::PermissionsBoundaryDeny => {
                "The principal's permissions boundary does not allow the action."
            }
            Code::ConditionNotMet => {
                "The only statements that would allow carry conditions the request does not (or may not) meet."
            }
            Code::CrossAccountKey => {
                "The key belongs to another account: GetKeyPolicy and PutKeyPolicy never work cross-account."
            }
            Code::AwsManagedKey => "AWS managed keys' policies cannot be changed by anyone.",
            Code::KeyNotFound => "No such key or alias in this account and Region.",
            Code::OrphanedPrincipal => {
                "The policy names a deleted principal by unique ID; recreating it does not restore access."
            }
            Code::RestorerMissing => "A principal that could restore access no longer exists.",
            Code::NoRestorer => {
                "No existing principal can update the key policy: only AWS Support can restore access."
            }
            Code::LockoutCheckBypassed => {
                "The policy in force was set with BypassPolicyLockoutSafetyCheck."
            }
            Code::KeyPendingDeletion => "The key is scheduled for deletion.",
            Code::PolicyHistoryUnavailable => {
                "No policy change or creation event in CloudTrail's 90-day history."
            }
            Code::EvidenceIncomplete => {
                "A step could not be run; the report says what this leaves open."
            }
            Code::NotPrincipalMissesSessions => {
                "A Deny with NotPrincipal exempts a role's ARN but not its sessions: the role's sessions are denied."
            }
            Code::PolicyUpdateOpen => {
                "kms:PutKeyPolicy is allowed to everyone without a condition that narrows it to known principals."
            }
            Code::RestorerReachable => "The diagnosed principal can restore access itself.",
            Code::NoAccountDelegation => {
                "No statement delegates to the account: IAM policies grant nothing on the key; access rests on the principals the policy names."
            }
            Code::SingleRestorer => "Exactly one existing principal can update the key policy.",
            Code::DeployerLosesAccess => {
                "The new policy would not let the deploying principal call kms:PutKeyPolicy."
            }
            Code::KeptPrincipalLosesAccess => {
                "A principal that must keep kms:PutKeyPolicy would lose it."
            }
            Code::RestorerRemoved => {
                "Principals lose kms:GetKeyPolicy/kms:PutKeyPolicy, or the delegation is removed."
            }
            Code::RcpDeny => {
                "A resource control policy (AWS Organizations) denies the action on this key."
            }
            Code::VpcEndpointPolicyDeny => {
                "The VPC endpoint the request went through has a policy that does not allow, or denies, the action."
            }
            Code::SessionPolicyDeny => {
                "The session policy passed when the role was assumed does not allow, or denies, the action."
            }
            Code::DenialUnexplained => {
                "AWS denied for a reason (or at a layer) that the evidence gathered does not explain; both are named."
            }
            Code::ScanIncomplete => {
                "Accounts, Regions or keys were not examined, or a listing was cut short (what, how many, why)."
            }
            Code::RemovesLastRestorer => {
                "After the change (or without the named principals) no principal can update the key policy."
            }
            Code::RecreationOrphansPrincipal => {
                "The change replaces a principal that a key policy names by ARN: the policy will hold the old unique ID."
            }
            Code::RemovesRestorer => {
                "The change removes a principal that can update the key policy; one or none would remain."
            }
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
    pub title: Text,
    /// Why: the explanation.
    pub detail: Text,
    pub evidence: Vec<Text>,
    /// What to do about it.
    pub help: Text,
    /// The policy statement it is about (0-based), for reports that point into a file.
    #[serde(skip)]
    pub statement: Option<usize>,
    /// Accepted (`check`'s suppressions, `scan`'s mute list): kept in every output, but it does
    /// not count toward a status, a summary or the exit status. One shape for every command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<super::check::Suppression>,
}

impl Finding {
    /// The finding in one line of plain text: what, then why (SARIF messages, annotations).
    pub fn message(&self) -> String {
        let mut m = self.title.plain();
        if !self.detail.is_empty() {
            m.push_str(". ");
            m.push_str(&self.detail.plain());
        }
        m
    }

    pub fn new(code: Code, title: impl Into<Text>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            title: title.into(),
            detail: Text::default(),
            evidence: Vec::new(),
            help: Text::default(),
            statement: None,
            suppressed: None,
        }
    }

    /// Counts toward a status, a summary and the exit status: not accepted.
    pub fn counts(&self) -> bool {
        self.suppressed.is_none()
    }

    /// The statement (0-based) the finding is about.
    pub fn at_statement(mut self, index: usize) -> Self {
        self.statement = Some(index);
        self
    }

    pub fn detail(mut self, detail: impl Into<Text>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Adds evidence lines, each once.
    pub fn evidence(mut self, evidence: impl IntoIterator<Item = Text>) -> Self {
        for line in evidence {
            self.add_evidence(line);
        }
        self
    }

    pub fn help(mut self, help: impl Into<Text>) -> Self {
        self.help = help.into();
        self
    }

    /// Adds an evidence line unless it is there already.
    pub fn add_evidence(&mut self, line: Text) {
        if !self.evidence.contains(&line) {
            self.evidence.push(line);
        }
    }
}

/// Orders findings errors first, then by code, keeping the rules' order within a code.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by_key(|f| (f.severity, f.code));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/diagnostics.md's sections, one a code: `## `code` [severity…]`, each with a line
    /// `Raised by: `command`, …`.
    fn documented() -> Vec<(String, String, String)> {
        let doc = include_str!("../../../docs/diagnostics.md");
        doc.split("\n## ")
            .skip(1)
            .filter_map(|section| {
                let (heading, body) = section.split_once('\n').unwrap_or((section, ""));
                let name = heading.strip_prefix('`')?.split('`').next()?.to_owned();
                let severity = heading
                    .split_once('[')
                    .and_then(|(_, s)| s.split_once(']'))
                    .map(|(s, _)| s.to_owned())
                    .unwrap_or_default();
                // "Raised by:" up to the blank line that ends its paragraph.
                let raised_by = body
                    .split_once("Raised by:")
                    .map(|(_, r)| r.split("\n\n").next().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                Some((name, severity, raised_by))
            })
            .collect()
    }

    #[test]
    fn every_code_has_its_documented_heading_severity_and_commands() {
        let sections = documented();
        for (name, severity, raised_by) in &sections {
            let code = Code::parse(name)
                .unwrap_or_else(|| panic!("docs/diagnostics.md documents {name}, not a code"));
            // The bracket may add when (`error for PutKeyPolicy`); it starts with the severity.
            let want = format!("{:?}", code.severity()).to_lowercase();
            assert!(
                severity.starts_with(&want),
                "{name}: documented [{severity}], registered {want}"
            );
            let commands: Vec<&str> = raised_by
                .split('`')
                .skip(1)
                .step_by(2)
                .filter_map(|c| c.split_whitespace().next())
                // A flag qualifies the command before it: `explain` (with `--key-arn`).
                .filter(|c| !c.starts_with('-'))
                .collect();
            assert!(!commands.is_empty(), "{name}: no `Raised by:` line");
            for c in commands {
                assert!(
                    matches!(c, "diagnose" | "explain" | "scan" | "check" | "history"),
                    "{name}: raised by {c:?}, not a command"
                );
            }
        }
        for code in Code::ALL {
            let n = sections.iter().filter(|(n, ..)| n == code.as_str()).count();
            assert_eq!(n, 1, "docs/diagnostics.md has {n} sections for {code}");
        }
    }

    #[test]
    fn a_finding_keeps_each_evidence_line_once() {
        let line = |s: &'static str| Text::from(s);
        let f = Finding::new(Code::ALL[0], "t")
            .evidence([line("a"), line("b"), line("a")])
            .evidence([line("b"), line("c")]);
        assert_eq!(f.evidence, [line("a"), line("b"), line("c")]);
    }

    #[test]
    fn every_code_is_listed_once_in_kebab_case() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), 33);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
    }
}

/// How a run ends: the contract's exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Complete: nothing at or above the bar (0).
    Clean,
    /// Complete: a finding at or above the bar, or an action denied (1).
    Findings,
    /// kms-doctor could not do its job: bad usage or input, no credentials, the caller
    /// unknown, nothing reachable (2).
    Failure,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Findings => 1,
            Exit::Failure => 2,
        }
    }

    /// `Findings` when `failing`, else `Clean`.
    pub fn findings_if(failing: bool) -> Exit {
        if failing { Exit::Findings } else { Exit::Clean }
    }
}
