//! The evidence record: everything `evidence` gathered for one diagnosis, and the format of
//! `--save-evidence` files. It is the seam between the two middle layers: `evidence` writes
//! it, `diagnosis` reads it, and neither knows the other.

use super::{
    AccountId, Denial, EventId, KeyId, KeyManager, KeyState, Operation, PolicyName, ResolvedFrom,
    Service, SimDecision, SourceIp, SourcePolicyType, Timestamp, UniqueId, UserAgent,
};
use crate::policy::default_key_policy;
use serde::{Deserialize, Serialize};

/// The version of the evidence file format.
pub const EVIDENCE_VERSION: u32 = 1;

/// How one AWS call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    AccessDenied,
    NotFound,
    Throttled,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::AccessDenied => "access_denied",
            Outcome::NotFound => "not_found",
            Outcome::Throttled => "throttled",
            Outcome::Error => "error",
        }
    }
}

/// One AWS call, as the contract's `calls` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallRecord {
    pub service: Service,
    pub operation: Operation,
    pub outcome: Outcome,
    pub ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For an AccessDenied answer: the layer its message says decided (the contract's
    /// "Layers").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<Denial>,
}

/// `sts:GetCallerIdentity`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: AccountId,
    pub user_id: UniqueId,
}

/// What is known of the key. Fields are `None` where they could not be learned; nothing is
/// guessed: a key ARN is only built where KMS itself would resolve the input to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyFacts {
    pub input: String,
    pub arn: Option<String>,
    pub key_id: Option<KeyId>,
    pub account: Option<AccountId>,
    pub region: Option<String>,
    pub manager: Option<KeyManager>,
    pub state: Option<KeyState>,
    pub deletion_date: Option<Timestamp>,
    /// KMS answered that no such key or alias exists.
    #[serde(default)]
    pub not_found: bool,
    /// Where the ARN came from.
    pub resolved_from: Option<ResolvedFrom>,
    /// A multi-Region replica: its primary key's Region (DescribeKey's
    /// `MultiRegionConfiguration`), where the `ReplicateKey` that set its first policy was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

/// One result of `iam:SimulatePrincipalPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    /// The resource the answer is about (a role, for `sts:AssumeRole`); older files lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub decision: SimDecision,
    #[serde(default)]
    pub matched_statements: Vec<MatchedStatement>,
    #[serde(default)]
    pub allowed_by_organizations: Option<bool>,
    #[serde(default)]
    pub allowed_by_permissions_boundary: Option<bool>,
    #[serde(default)]
    pub missing_context: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MatchedStatement {
    pub source_policy_id: Option<PolicyName>,
    pub source_policy_type: Option<SourcePolicyType>,
}

/// The CloudTrail events that set a key's policy: the only ones kms-doctor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyEventName {
    PutKeyPolicy,
    CreateKey,
    /// Sets the new replica's policy (KMS Developer Guide, "Creating multi-Region replica
    /// keys").
    ReplicateKey,
}

impl PolicyEventName {
    pub const ALL: [PolicyEventName; 3] = [
        PolicyEventName::PutKeyPolicy,
        PolicyEventName::CreateKey,
        PolicyEventName::ReplicateKey,
    ];

    /// CloudTrail's `eventName`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyEventName::PutKeyPolicy => "PutKeyPolicy",
            PolicyEventName::CreateKey => "CreateKey",
            PolicyEventName::ReplicateKey => "ReplicateKey",
        }
    }

    /// A record's `eventName`, when it is one of these (exactly: CloudTrail's names are).
    pub fn parse(name: &str) -> Option<PolicyEventName> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl From<PolicyEventName> for String {
    fn from(n: PolicyEventName) -> String {
        n.as_str().to_owned()
    }
}

impl From<&PolicyEventName> for String {
    fn from(n: &PolicyEventName) -> String {
        n.as_str().to_owned()
    }
}

impl std::fmt::Display for PolicyEventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One policy change (or creation) of the key, read from a CloudTrail record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyEvent {
    pub event_id: Option<EventId>,
    pub event_time: Option<Timestamp>,
    pub event_name: PolicyEventName,
    /// The identity that made the call (`userIdentity.arn`).
    pub changed_by: Option<String>,
    /// For a session: the role behind it (`sessionContext.sessionIssuer.arn`).
    pub role_arn: Option<String>,
    pub source_ip: Option<SourceIp>,
    pub user_agent: Option<UserAgent>,
    /// The policy set by the call; `None` for a `CreateKey` without one (the default policy).
    pub policy: Option<String>,
    pub bypass_lockout_check: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The key's account, as the record says it (`recipientAccountId`): the account KMS's
    /// default policy delegates to when the key was named by its ID alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountId>,
}

impl PolicyEvent {
    /// The policy the event set: its own, or KMS's default for a `CreateKey` without one.
    pub fn policy_or_default(&self, partition: &str, account: &str) -> String {
        self.policy
            .clone()
            .unwrap_or_else(|| default_key_policy(partition, account))
    }
}

/// Where the key policy in force was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `kms:GetKeyPolicy`.
    Current,
    /// CloudTrail's 90-day event history.
    Cloudtrail,
    /// A CloudTrail log archive (local or S3).
    Archive,
    /// An Athena query over a CloudTrail table.
    Athena,
    /// Not learned.
    None,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Current => "current",
            SourceKind::Cloudtrail => "cloudtrail",
            SourceKind::Archive => "archive",
            SourceKind::Athena => "athena",
            SourceKind::None => "none",
        }
    }
}

fn cloudtrail() -> SourceKind {
    SourceKind::Cloudtrail
}

/// The bound that ended a CloudTrail event-history search early. Written in JSON as the words
/// that follow "cut short" ("after 400 pages").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchBound {
    /// The page cap.
    Pages(u32),
    /// The `--max-duration` deadline.
    Deadline,
    /// As a saved evidence file words it, when kms-doctor does not know the words.
    Stated(String),
}

impl std::fmt::Display for SearchBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchBound::Pages(n) => write!(f, "after {n} pages"),
            SearchBound::Deadline => f.write_str("at the --max-duration deadline"),
            SearchBound::Stated(s) => f.write_str(s),
        }
    }
}

impl SearchBound {
    /// The words, as text: kms-doctor's own, or a saved file's marked as a value.
    pub fn text(&self) -> super::Text {
        match self {
            SearchBound::Pages(n) => crate::text!("after ", super::count(*n), " pages"),
            SearchBound::Deadline => "at the --max-duration deadline".into(),
            SearchBound::Stated(s) => super::Text::code(s.clone()),
        }
    }

    fn parse(s: &str) -> SearchBound {
        if s == "at the --max-duration deadline" {
            return SearchBound::Deadline;
        }
        s.strip_prefix("after ")
            .and_then(|r| r.strip_suffix(" pages"))
            .and_then(|n| n.parse().ok())
            .map_or_else(|| SearchBound::Stated(s.to_owned()), SearchBound::Pages)
    }
}

/// Why a read of logs did not run to its end: older events may be missing. Written in JSON as
/// the sentence that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// CloudTrail's event history, ended by a bound, or by a failed call (`None`).
    Search(Option<SearchBound>),
    /// An S3 listing past its page cap.
    S3Listing {
        bucket: String,
        prefix: String,
        pages: u32,
    },
    /// Athena's results past their page cap.
    AthenaPages(u32),
    /// As a saved file words it.
    Stated(String),
}

impl Shortfall {
    /// The sentence, as text: kms-doctor's own words, its values marked.
    pub fn text(&self) -> super::Text {
        use super::{Text, code, count};
        match self {
            Shortfall::Search(Some(bound)) => crate::text!(
                "the CloudTrail search was cut short ",
                bound.text(),
                ": older events may be missing"
            ),
            Shortfall::Search(None) => {
                "the CloudTrail search was cut short by a failed call: older events may be missing"
                    .into()
            }
            Shortfall::S3Listing {
                bucket,
                prefix,
                pages,
            } => crate::text!(
                code(format!("s3://{bucket}/{prefix}")),
                ": the listing was cut short after ",
                count(*pages),
                " pages: narrow the prefix or the window"
            ),
            Shortfall::AthenaPages(n) => crate::text!(
                "the Athena results were cut short after ",
                count(*n),
                " pages: narrow the window"
            ),
            Shortfall::Stated(s) => Text::code(s.clone()),
        }
    }
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shortfall::Search(Some(bound)) => write!(
                f,
                "the CloudTrail search was cut short {bound}: older events may be missing"
            ),
            Shortfall::Search(None) => f.write_str(
                "the CloudTrail search was cut short by a failed call: older events may be missing",
            ),
            Shortfall::S3Listing {
                bucket,
                prefix,
                pages,
            } => write!(
                f,
                "s3://{bucket}/{prefix}: the listing was cut short after {pages} pages: narrow the prefix or the window"
            ),
            Shortfall::AthenaPages(n) => write!(
                f,
                "the Athena results were cut short after {n} pages: narrow the window"
            ),
            Shortfall::Stated(s) => f.write_str(s),
        }
    }
}

/// Both are written as their words, and read back from them.
macro_rules! serde_as_words {
    ($($ty:ident => $parse:expr),* $(,)?) => {$(
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($parse(&s))
            }
        }
    )*};
}

serde_as_words! {
    SearchBound => SearchBound::parse,
    Shortfall => |s: &str| Shortfall::Stated(s.to_owned()),
}

/// What the search of the key's history found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct History {
    pub lookback_days: u32,
    /// The event that set the policy in force, if found.
    pub in_force: Option<PolicyEvent>,
    /// Failed `PutKeyPolicy` attempts newer than it (newest first).
    pub failed_attempts: Vec<PolicyEvent>,
    pub pages: u32,
    pub events_scanned: u64,
    /// Records that could not be read and were skipped.
    pub skipped_records: u64,
    /// `false` when a call failed, or a bound was reached, before the search could finish.
    pub complete: bool,
    /// The bound that ended the search early (a page cap, the `--max-duration` deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<SearchBound>,
    /// Where the event in force was found: `cloudtrail`, `archive` or `athena`.
    #[serde(default = "cloudtrail")]
    pub source: SourceKind,
}

/// What a read of logs could not use, counted and explained: nothing is skipped silently.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Skipped {
    pub files: u64,
    pub records: u64,
    /// One line per skipped file (path and reason), at most a few hundred.
    pub reasons: Vec<String>,
    /// Why the read did not run to its end (a bound reached, a failed call): older events may
    /// be missing. Said in the report's headline.
    #[serde(default)]
    pub cut_short: Option<Shortfall>,
}

impl Skipped {
    /// Nothing was skipped and no bound cut the read short.
    pub fn is_empty(&self) -> bool {
        self.files == 0 && self.records == 0 && self.reasons.is_empty() && self.cut_short.is_none()
    }
}

/// Whether a principal that may update the key policy still exists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExistenceCheck {
    pub principal: String,
    pub exists: Option<bool>,
    /// A role's trust policy, from the same `GetRole` answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<String>,
    /// When IAM created the principal now of that name (`CreateDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// Its permissions boundary's policy ARN, when IAM gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
}

/// A fact the gathering learned that explains a gap in the evidence. Older evidence files
/// carry sentences; they are read as `Other` and shown as untrusted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// The caller's ARN is not a user, role session, root or federated-user ARN.
    UnknownCallerArn,
    /// The principal is the account's root user: the simulator does not apply.
    RootUser,
    /// The principal is a federated user: the simulator cannot evaluate it.
    FederatedUser,
    /// The principal is a service-linked role.
    ServiceLinkedRole,
    #[serde(untagged)]
    Other(String),
}

/// `iam:GetAccountAuthorizationDetails`: the account's users, roles and groups with their
/// policies, and its managed policies (each at its default version). Documents are decoded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationDetails {
    pub users: Vec<IamPrincipalDetails>,
    pub roles: Vec<IamPrincipalDetails>,
    pub groups: Vec<GroupDetails>,
    pub policies: Vec<ManagedPolicy>,
    /// `false` when a page failed or the page cap was reached: an answer may be missing.
    pub complete: bool,
}

/// A user or a role, as the authorization details describe it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IamPrincipalDetails {
    pub arn: String,
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub inline_policies: Vec<NamedDocument>,
    /// ARNs of the attached managed policies.
    #[serde(default)]
    pub attached: Vec<String>,
    /// A user's groups, by name.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The permissions boundary's policy ARN.
    #[serde(default)]
    pub boundary: Option<String>,
    /// A role's trust policy.
    #[serde(default)]
    pub trust_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NamedDocument {
    pub name: String,
    pub document: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupDetails {
    pub arn: String,
    pub name: String,
    #[serde(default)]
    pub inline_policies: Vec<NamedDocument>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    /// The default version's document.
    pub document: Option<String>,
}

impl AuthorizationDetails {
    /// Adds a page of the answer.
    pub fn extend(&mut self, page: AuthorizationDetails) {
        self.users.extend(page.users);
        self.roles.extend(page.roles);
        self.groups.extend(page.groups);
        self.policies.extend(page.policies);
    }
}

/// Everything gathered for one diagnosis; also the `--save-evidence` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    pub evidence_version: u32,
    /// When the evidence was gathered (RFC 3339).
    pub collected_at: Timestamp,
    pub region: Option<String>,
    pub caller: CallerIdentity,
    /// The IAM principal behind the caller (a session's role ARN with its path), if learned.
    pub caller_principal_arn: Option<String>,
    /// The principal diagnosed when it is not the caller (`--principal`).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub subject_principal_arn: Option<String>,
    pub key: KeyFacts,
    /// The policy from `kms:GetKeyPolicy`, when the caller could read it.
    pub current_policy: Option<String>,
    /// How the caller's own `GetKeyPolicy` ended: `AccessDenied` here is the symptom itself.
    pub get_key_policy: Option<Outcome>,
    pub history: Option<History>,
    #[serde(default)]
    pub simulation: Vec<SimulationResult>,
    /// Whether each principal that may update the key policy still exists.
    #[serde(default)]
    pub restorer_checks: Vec<ExistenceCheck>,
    /// The roles between the principal and a restorer, with their trust policies (looked up
    /// when the account's authorization details could not be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hop_roles: Vec<ExistenceCheck>,
    /// Facts the gathering learned that explain a gap (root caller, federated user, …).
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The account's IAM principals and their policies, read when the policy in force
    /// delegates to the account (to name who, through IAM, can restore access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationDetails>,
    /// The organisation's SCPs and RCPs that apply to the account, as far as they could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrgEvidence>,
    pub calls: Vec<CallRecord>,
}

/// What `diagnose` learned of the account's organisation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgEvidence {
    /// The account is in no organisation: no SCP or RCP applies.
    #[serde(default)]
    pub not_in_organization: bool,
    pub management_account: Option<AccountId>,
    /// The organisation's ID (`o-…`): `aws:PrincipalOrgID` for its principals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The SCPs attached from the root down to the account; `None`: they could not be read.
    pub scps: Option<Vec<OrgLevel>>,
    /// The RCPs, likewise.
    pub rcps: Option<Vec<OrgLevel>>,
}

/// The policies attached at one level of the organisation: the root, an OU, the account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgLevel {
    pub target: String,
    pub policies: Vec<OrgPolicyText>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgPolicyText {
    pub id: String,
    pub name: PolicyName,
    /// The policy document, as `DescribePolicy` gave it.
    pub content: String,
}

/// The key policy in force and where it was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInForce<'a> {
    pub text: String,
    pub kind: SourceKind,
    /// The event that set it (for every kind but `current`).
    pub event: Option<&'a PolicyEvent>,
}

impl<'a> PolicyInForce<'a> {
    /// `GetKeyPolicy`'s answer, else the newest successful policy event found (a `CreateKey`
    /// without a policy means KMS's default policy for `account`).
    pub fn of(
        current: Option<&String>,
        history: Option<&'a History>,
        partition: &str,
        account: &str,
    ) -> Option<PolicyInForce<'a>> {
        if let Some(text) = current {
            return Some(PolicyInForce {
                text: text.clone(),
                kind: SourceKind::Current,
                event: None,
            });
        }
        let history = history?;
        let event = history.in_force.as_ref()?;
        Some(PolicyInForce {
            text: event.policy_or_default(partition, account),
            kind: history.source,
            event: Some(event),
        })
    }

    /// Where it came from, as reports say it.
    pub fn source(in_force: Option<&PolicyInForce>) -> super::PolicySource {
        match in_force {
            Some(PolicyInForce {
                kind,
                event: Some(e),
                ..
            }) => super::PolicySource {
                kind: *kind,
                event_id: e.event_id.clone(),
                event_time: e.event_time,
                changed_by: e.changed_by.clone(),
                event_name: Some(e.event_name),
            },
            Some(p) => super::PolicySource::without_event(p.kind),
            None => super::PolicySource::without_event(SourceKind::None),
        }
    }
}

/// Whether a key's policy in force is known: `GetKeyPolicy` answered, or a policy event set it.
/// The one definition, for diagnose's evidence and scan's keys alike.
pub fn policy_known(current: Option<&String>, history: Option<&History>) -> bool {
    current.is_some() || history.is_some_and(|h| h.in_force.is_some())
}

impl Evidence {
    /// The policy in force: `GetKeyPolicy`'s answer, else the newest successful policy event
    /// found (a `CreateKey` without a policy means KMS's default policy).
    pub fn policy_in_force(&self, partition: &str) -> Option<PolicyInForce<'_>> {
        PolicyInForce::of(
            self.current_policy.as_ref(),
            self.history.as_ref(),
            partition,
            self.key.account.as_deref().unwrap_or(&self.caller.account),
        )
    }

    /// Whether the policy in force is known.
    pub fn policy_known(&self) -> bool {
        policy_known(self.current_policy.as_ref(), self.history.as_ref())
    }

    /// Completes the evidence from the policy events a log archive or Athena gave, when
    /// neither `GetKeyPolicy` nor the event history gave the policy in force: the newest
    /// successful event becomes the policy in force, with the failed attempts after it.
    /// `events` are oldest first.
    pub fn recover_policy(
        &mut self,
        events: &[PolicyEvent],
        records: u64,
        skipped: u64,
        source: SourceKind,
    ) {
        if self.policy_known() {
            return;
        }
        recover_history(&mut self.history, events, records, skipped, source);
    }
}

/// Completes a key's history from the policy events a log archive or Athena gave (oldest
/// first): the newest successful event becomes the policy in force, with the failed attempts
/// after it. Nothing changes when no event succeeded.
pub fn recover_history(
    history: &mut Option<History>,
    events: &[PolicyEvent],
    records: u64,
    skipped: u64,
    source: SourceKind,
) {
    let Some(newest) = events.iter().rposition(|e| e.error_code.is_none()) else {
        return;
    };
    let history = history.get_or_insert_with(|| History {
        lookback_days: 0,
        in_force: None,
        failed_attempts: Vec::new(),
        pages: 0,
        events_scanned: 0,
        skipped_records: 0,
        complete: true,
        cut_short: None,
        source,
    });
    history.in_force = Some(events[newest].clone());
    history.failed_attempts = events[newest + 1..].iter().rev().cloned().collect();
    history.events_scanned += records;
    history.skipped_records += skipped;
    history.source = source;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_old_sentences_and_write_codes() {
        let notes: Vec<Note> =
            serde_json::from_str(r#"["root_user", "An older sentence."]"#).unwrap();
        assert_eq!(
            notes,
            [Note::RootUser, Note::Other("An older sentence.".into())]
        );
        assert_eq!(
            serde_json::to_string(&notes).unwrap(),
            r#"["root_user","An older sentence."]"#
        );
    }
}

#[cfg(test)]
mod words_tests {
    use super::*;

    /// What a saved evidence file says reads back as the same bound, and a file of an earlier
    /// version keeps its words.
    #[test]
    fn search_bounds_read_back_from_their_words() {
        for bound in [
            SearchBound::Pages(400),
            SearchBound::Deadline,
            SearchBound::Stated("when the moon was full".into()),
        ] {
            let json = serde_json::to_string(&bound).unwrap();
            assert_eq!(serde_json::from_str::<SearchBound>(&json).unwrap(), bound);
        }
        assert_eq!(
            serde_json::to_string(&Shortfall::Search(Some(SearchBound::Pages(3)))).unwrap(),
            "\"the CloudTrail search was cut short after 3 pages: older events may be missing\""
        );
    }

    /// Words read back from a file are a value, never kms-doctor's prose: a renderer escapes
    /// them.
    #[test]
    fn words_from_a_file_are_values() {
        use crate::diagnosis::model::Span;
        let stated = SearchBound::Stated("*after* [a](https://x)".into());
        assert!(matches!(stated.text().spans(), [Span::Code(_)]));
        let shortfall = Shortfall::Search(Some(stated));
        assert!(
            shortfall
                .text()
                .spans()
                .iter()
                .any(|s| matches!(s, Span::Code(c) if c.contains("https://x")))
        );
        assert!(
            !shortfall
                .text()
                .spans()
                .iter()
                .any(|s| matches!(s, Span::Prose(p) if p.contains("https://x")))
        );
    }

    #[test]
    fn a_listing_cut_short_names_its_bucket_as_a_bucket() {
        use crate::diagnosis::model::{Kind, Redact};
        let mut cut = Shortfall::S3Listing {
            bucket: "acme-trail".into(),
            prefix: "AWSLogs/".into(),
            pages: 10,
        };
        let mut seen = Vec::new();
        cut.strings(&mut |s, kind| seen.push((s.clone(), kind)));
        assert_eq!(
            seen,
            [
                ("acme-trail".to_owned(), Kind::Named("bucket")),
                ("AWSLogs/".to_owned(), Kind::Value)
            ]
        );
    }
}
