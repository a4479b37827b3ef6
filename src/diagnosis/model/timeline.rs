//! The `history` report: the key policy's change timeline.

use super::{CallRecord, EventId, Skipped, SourceIp, SourceKind, Timestamp, UserAgent};
use serde::Serialize;

pub const TIMELINE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct TimelineReport {
    pub schema_version: u32,
    pub key: String,
    /// `cloudtrail` (event history), `archive` (a local or S3 log archive) or `athena`.
    pub source: SourceKind,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Oldest first.
    pub events: Vec<Entry>,
    /// What could not be read, counted and explained: nothing is skipped silently.
    pub skipped: Skipped,
    /// The index in `events` of the change that locked people out, if any.
    pub lockout: Option<usize>,
    /// Every AWS call made, in order of start (none for a local archive).
    pub calls: Vec<CallRecord>,
    /// The read ran to its end: no bound and no failed call cut it short. When `false`, an
    /// older change — the one that matters, perhaps — may be missing (`scan-incomplete` in
    /// `findings`; exit 1).
    pub complete: bool,
    /// What the read could not examine (`scan-incomplete`), in every format.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<super::Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub event_time: Option<Timestamp>,
    pub event_name: super::PolicyEventName,
    pub event_id: Option<EventId>,
    /// The identity ARN that made the call.
    pub author: Option<String>,
    /// For a session, the role behind it.
    pub role_arn: Option<String>,
    pub source_ip: Option<SourceIp>,
    pub user_agent: Option<UserAgent>,
    pub bypass_lockout_check: bool,
    /// Set for a failed attempt: the policy did not change.
    pub error_code: Option<String>,
    /// `CreateKey` without a policy: KMS's default policy.
    pub default_policy: bool,
    /// For a successful change after another: what changed.
    pub diff: Option<PolicyDiff>,
    /// Why this change is the lockout, when it is.
    pub lockout: Option<LockoutReason>,
}

/// Why a change is the one that locked the key out. JSON says the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutReason {
    /// The account delegation went: IAM policies no longer grant anything on the key.
    DelegationRemoved,
    /// The change left no principal that can update the key policy.
    NoRestorerLeft,
    /// The first policy already let no principal update it.
    NoRestorerFromTheStart,
}

impl LockoutReason {
    pub fn sentence(self) -> &'static str {
        match self {
            LockoutReason::DelegationRemoved => {
                "removed the account delegation: IAM policies no longer grant access to the key"
            }
            LockoutReason::NoRestorerLeft => "left no principal that can update the key policy",
            LockoutReason::NoRestorerFromTheStart => "set a policy that no principal can update",
        }
    }
}

impl Serialize for LockoutReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sentence())
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PolicyDiff {
    pub statements_added: Vec<String>,
    pub statements_removed: Vec<String>,
    pub statements_changed: Vec<String>,
    /// `principal → action` pairs the change granted.
    pub gained: Vec<Grant>,
    pub lost: Vec<Grant>,
    pub delegation_added: bool,
    pub delegation_removed: bool,
    /// The new policy could not be read (then nothing else is compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub principal: String,
    pub action: String,
}
