//! The `diagnose` report: the contract's JSON (`shared/spec/diagnosis-contract.md`).

use super::{AccountId, CallRecord, Code, EventId, Finding, KeyFacts, SourceKind, Text, Timestamp};
use crate::policy::IdentityKind;
use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct DiagnoseReport {
    pub schema_version: u32,
    /// The answer in three lines, for the first screen: why, who can restore access, what next.
    pub summary: Summary,
    /// What is known of the key (`null` where unknown), as the contract's `key`.
    pub key: KeyFacts,
    pub caller: CallerReport,
    /// The principal diagnosed, when it is not the caller (`--principal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<CallerReport>,
    pub access: Vec<Access>,
    pub findings: Vec<Finding>,
    /// Who can update the key policy; `None` (JSON `null`) when the policy in force is not
    /// known: unknown, never "no one" (`[]`).
    pub restorers: Option<Vec<Restorer>>,
    pub policy_source: PolicySource,
    pub next_steps: Vec<Text>,
    /// The shortest way from the diagnosed principal to an existing restorer (the principal
    /// alone when it can already restore), `null` when there is none.
    pub restore_path: Option<Vec<String>>,
    /// A step of `restore_path` depends on a trust policy's condition (MFA, an external ID):
    /// the way may be open, not certainly.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restore_path_conditional: bool,
    pub calls: Vec<CallRecord>,
    /// The key policy in force, when known (as JSON).
    pub policy: Option<serde_json::Value>,
    /// What the CloudTrail search read, when it ran.
    pub history: Option<HistorySummary>,
    /// Facts that explain a gap in the evidence.
    pub notes: Vec<Text>,
    /// What AWS Support needs, when no existing principal can update the policy (`no-restorer`).
    pub support_case: Option<SupportCase>,
    /// The corrected policy for `--write-fix`: the policy in force plus the delegation statement.
    #[serde(skip)]
    pub fix: Option<String>,
    /// The calls were listed on standard error (`-v`), so the text report need not offer to.
    #[serde(skip)]
    pub calls_listed: bool,
}

/// The answer in three lines (the text report's first lines).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Why the principal is denied (or that nothing is wrong).
    pub why: Text,
    /// Who can update the key policy, in short.
    pub who_can_restore: Text,
    /// The first thing to do.
    pub next: Text,
}

/// A case for AWS Support, ready to paste: the key, the policy to set, the change that removed
/// access.
#[derive(Debug, Clone, Serialize)]
pub struct SupportCase {
    pub key_arn: Option<String>,
    pub region: Option<String>,
    /// The key's account: the case is opened from it.
    pub account: Option<AccountId>,
    /// The policy to ask AWS to set: the policy in force (or the last known one) with the
    /// account delegation statement added; `null` when no policy text is known.
    pub policy: Option<serde_json::Value>,
    /// The event that set the policy in force (the change that removed access), when known.
    pub removed_by: Option<PolicySource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistorySummary {
    pub lookback_days: u32,
    pub pages: u32,
    pub events_scanned: u64,
    /// Records that could not be read, skipped.
    pub skipped_records: u64,
    /// `false` when a call failed, or a bound was reached, before the search could finish.
    pub complete: bool,
    /// The bound that ended the search early, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<super::SearchBound>,
    /// Failed `PutKeyPolicy` attempts newer than the policy in force, newest first.
    pub failed_attempts: Vec<FailedAttempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    pub event_id: Option<EventId>,
    pub event_time: Option<Timestamp>,
    pub changed_by: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallerReport {
    pub arn: String,
    pub account: Option<AccountId>,
    pub principal_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    Denied,
    Conditional,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Conditional => "conditional",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// AWS answered this very call.
    Observed,
    /// From the policies and the simulation (kms-doctor never calls `PutKeyPolicy`).
    Inferred,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Observed => "observed",
            Basis::Inferred => "inferred",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub action: String,
    pub verdict: Verdict,
    pub basis: Basis,
    pub because: Vec<Code>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Restorer {
    pub principal: String,
    /// The key-policy statement that names it, or (`via: iam`) the IAM policy that allows it.
    pub statement: String,
    /// Where the key policy in force came from.
    pub source: SourceKind,
    pub exists: Option<bool>,
    /// What the principal is. JSON says only whether it is the account (`via_iam`: any IAM
    /// principal of it whose IAM policies allow `kms:PutKeyPolicy`), as it always has.
    #[serde(rename = "via_iam", serialize_with = "is_account")]
    pub kind: IdentityKind,
    /// How it may update the policy: named by the key policy, or through the account
    /// delegation by its own IAM policies.
    pub via: RestorerVia,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions_on: Vec<ConditionOn>,
    /// Whether the diagnosed principal may assume this role (`null`: not a role, or not known).
    pub caller_can_assume: Option<Assume>,
    /// Who the role's trust policy lets assume it.
    pub assumable_by: Vec<String>,
    /// The shortest way from the diagnosed principal to this restorer, by `sts:AssumeRole`.
    pub path: Option<Vec<String>>,
    /// An IAM Identity Center role: the permission set whose users get it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<super::PermissionSetName>,
    /// An SCP or RCP that denies it `kms:PutKeyPolicy` (the contract's "Layers"): it does not
    /// count as a restorer. `null` when none does, or when the policies could not be read.
    pub blocked_by: Option<crate::policy::BlockedBy>,
    /// The permissions boundary (its ARN) that does not allow it `kms:PutKeyPolicy` where the
    /// boundary limits the grant (a role the key policy names; any principal for an explicit
    /// deny): it does not count. Absent when none does, or when its boundary is not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limited_by_boundary: Option<String>,
    /// IAM created the principal of this name then, after the event that set the policy in
    /// force: it is a new principal, which the policy (naming the deleted one's unique ID) does
    /// not name. It does not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recreated: Option<super::Timestamp>,
    /// It has this permissions boundary (IAM gave its ARN), whose content could not be read:
    /// whether it keeps it from `kms:PutKeyPolicy` is unknown. It still counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary_unread: Option<String>,
}

impl DiagnoseReport {
    /// The restorers someone could reach: principals (not the account's own entry) that count
    /// (not deleted, not held by the organisation's policies), other than the diagnosed
    /// principal itself.
    pub fn reachable_restorers(&self) -> impl Iterator<Item = &Restorer> {
        let own = self
            .principal
            .as_ref()
            .unwrap_or(&self.caller)
            .principal_arn
            .as_deref();
        self.restorers
            .iter()
            .flatten()
            .filter(move |g| g.counts_by_name() && Some(g.principal.as_str()) != own)
    }
}

/// Whether the key policy's account delegation lets the account's IAM principals update it: the
/// policy names the account for `kms:PutKeyPolicy`, and the account is not being removed
/// (`--without ACCOUNT`). An SCP or RCP that denies the root user does not end it: each IAM
/// principal is judged against the organisation's policies on its own (`through_iam`), so a
/// break-glass role an SCP exempts still counts. The one definition every command uses.
/// AWS: <https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam>
pub fn delegates(restorers: &[Restorer]) -> bool {
    restorers
        .iter()
        .any(|r| r.via_iam() && r.exists != Some(false))
}

fn is_account<S: serde::Serializer>(kind: &IdentityKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*kind == IdentityKind::Account)
}

impl Restorer {
    /// The account (its root): any IAM principal of it whose IAM policies allow.
    pub fn via_iam(&self) -> bool {
        self.kind == IdentityKind::Account
    }

    /// Counts as a way to restore access: not known to be deleted (a deleted principal restores
    /// nothing; one whose existence could not be learned still counts), and not denied
    /// `kms:PutKeyPolicy` by the organisation's SCPs or RCPs (the contract's "Layers"). The one
    /// definition every command and report uses.
    pub fn counts(&self) -> bool {
        self.exists != Some(false)
            && self.blocked_by.is_none()
            && self.limited_by_boundary.is_none()
            && self.recreated.is_none()
    }

    /// Counts, and is a principal (a role or user, named by the key policy or allowed through
    /// IAM), not the account's own entry (the delegation).
    pub fn counts_by_name(&self) -> bool {
        self.counts() && !self.via_iam()
    }

    /// A principal the key policy lets update it, before any way to it is known.
    pub fn named(g: &crate::policy::Grantee, source: SourceKind, exists: Option<bool>) -> Restorer {
        Restorer {
            principal: g.principal.clone(),
            statement: g.statement.clone(),
            source,
            exists,
            kind: g.kind,
            via: RestorerVia::KeyPolicy,
            conditions_on: g
                .conditions_on
                .iter()
                .map(|k| ConditionOn::Context(k.clone()))
                .collect(),
            caller_can_assume: None,
            assumable_by: Vec::new(),
            path: None,
            permission_set: None,
            blocked_by: g.blocked_by.clone(),
            limited_by_boundary: None,
            recreated: None,
            boundary_unread: None,
        }
    }
}

/// Whether a principal may assume a role: `true`, `false` or `"conditional"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assume {
    Yes,
    No,
    Conditional,
}

impl Serialize for Assume {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Assume::Yes => s.serialize_bool(true),
            Assume::No => s.serialize_bool(false),
            Assume::Conditional => s.serialize_str("conditional"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorerVia {
    KeyPolicy,
    Iam,
}

/// Where the key policy in force came from.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySource {
    pub kind: SourceKind,
    pub event_id: Option<EventId>,
    pub event_time: Option<Timestamp>,
    pub changed_by: Option<String>,
    /// The event that set the policy: `PutKeyPolicy`, `CreateKey` or `ReplicateKey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<super::PolicyEventName>,
}

impl PolicySource {
    /// A source with no event: `current` or `none`.
    pub fn without_event(kind: SourceKind) -> PolicySource {
        PolicySource {
            kind,
            event_id: None,
            event_time: None,
            changed_by: None,
            event_name: None,
        }
    }
}

/// What a restorer's grant still depends on: a request context key its conditions test, or an
/// organisation's layer that denied and could not be read. JSON keeps the one list of strings
/// it always had (`aws:MultiFactorAuthPresent`, `service control policies`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConditionOn {
    Context(String),
    Layer(OrgLayer),
}

/// An AWS Organizations policy type, as a layer that can hold a restorer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrgLayer {
    ServiceControlPolicies,
    ResourceControlPolicies,
}

impl ConditionOn {
    pub fn as_str(&self) -> &str {
        match self {
            ConditionOn::Context(key) => key,
            ConditionOn::Layer(OrgLayer::ServiceControlPolicies) => "service control policies",
            ConditionOn::Layer(OrgLayer::ResourceControlPolicies) => "resource control policies",
        }
    }

    /// The request context key, when it is one.
    pub fn context_key(&self) -> Option<&str> {
        match self {
            ConditionOn::Context(key) => Some(key),
            ConditionOn::Layer(_) => None,
        }
    }
}

impl Serialize for ConditionOn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{BlockedBy, Grantee, OrgPolicyType};

    fn restorer(principal: &str, kind: IdentityKind, exists: Option<bool>) -> Restorer {
        let g = Grantee {
            principal: principal.into(),
            statement: "s".into(),
            statement_index: 0,
            kind,
            conditions_on: Vec::new(),
            except: Vec::new(),
            blocked_by: None,
        };
        Restorer::named(&g, SourceKind::Current, exists)
    }

    fn scp() -> Option<BlockedBy> {
        Some(BlockedBy {
            policy_type: OrgPolicyType::Scp,
            policy: Some("FreezeKeyPolicies".into()),
            statement: None,
            target: "r-root".into(),
        })
    }

    #[test]
    fn a_restorer_counts_unless_deleted_or_held_by_the_organisation() {
        let role = "arn:aws:iam::111122223333:role/Admin";
        assert!(restorer(role, IdentityKind::Role, Some(true)).counts());
        assert!(
            restorer(role, IdentityKind::Role, None).counts(),
            "unknown is not gone"
        );
        assert!(!restorer(role, IdentityKind::Role, Some(false)).counts());
        let mut held = restorer(role, IdentityKind::Role, Some(true));
        held.blocked_by = scp();
        assert!(!held.counts());
        let root = restorer(
            "arn:aws:iam::111122223333:root",
            IdentityKind::Account,
            None,
        );
        assert!(root.counts() && !root.counts_by_name());
    }

    #[test]
    fn an_scp_on_the_root_user_does_not_end_the_account_delegation() {
        let root = "arn:aws:iam::111122223333:root";
        let mut held = restorer(root, IdentityKind::Account, None);
        held.blocked_by = scp();
        // IAM principals of the account (a break-glass role the SCP exempts) are judged on
        // their own: the delegation stands.
        assert!(delegates(&[held]));
        // The account removed (`--without 111122223333`): it no longer delegates.
        assert!(!delegates(&[restorer(
            root,
            IdentityKind::Account,
            Some(false)
        )]));
        assert!(!delegates(&[restorer(
            "arn:aws:iam::111122223333:role/Admin",
            IdentityKind::Role,
            Some(true)
        )]));
    }
}
