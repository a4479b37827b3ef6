//! `scan`: what was gathered of every key of the accounts and Regions scanned, and the report
//! (the contract's "`kms-doctor scan` (JSON)").

use super::{
    AccountId, Alias, CallRecord, CallerIdentity, Code, ExistenceCheck, Finding, History, KeyId,
    KeyManager, KeyState, OrgEvidence, Outcome, PolicySource, Restorer, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One customer managed key, as the scan found it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyEvidence {
    pub account: AccountId,
    pub region: String,
    pub key_id: KeyId,
    pub arn: Option<String>,
    pub aliases: Vec<Alias>,
    pub manager: Option<KeyManager>,
    pub state: Option<KeyState>,
    /// RFC 3339.
    pub deletion_date: Option<Timestamp>,
    /// `kms:GetKeyPolicy`'s answer, when it gave one.
    pub current_policy: Option<String>,
    /// How `GetKeyPolicy` ended (`None`: not asked).
    pub get_key_policy: Option<Outcome>,
    /// What the Region's one CloudTrail search (or a log archive, or Athena) found for it.
    pub history: Option<History>,
    /// Why the history could not be searched, when it could not.
    pub history_unavailable: Option<String>,
    /// Whether the principals its policy lets update it still exist (checked once per account).
    pub restorer_checks: Vec<ExistenceCheck>,
    /// Its tags (key, value), when read (`kms:ListResourceTags`, for the mute list).
    pub tags: Option<Vec<(String, String)>>,
    /// A multi-Region replica: its primary key's Region (DescribeKey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

impl KeyEvidence {
    /// The key's partition, from its ARN.
    pub fn partition(&self) -> &str {
        self.arn
            .as_deref()
            .and_then(|a| a.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
    }

    /// Whether the policy in force is known.
    pub fn policy_known(&self) -> bool {
        super::policy_known(self.current_policy.as_ref(), self.history.as_ref())
    }

    /// The policy in force and where it came from: `GetKeyPolicy`'s answer, else the event
    /// that set it (a `CreateKey` without a policy set KMS's default policy).
    pub fn policy_in_force(&self) -> (Option<String>, PolicySource) {
        let in_force = super::PolicyInForce::of(
            self.current_policy.as_ref(),
            self.history.as_ref(),
            self.partition(),
            &self.account,
        );
        let source = super::PolicyInForce::source(in_force.as_ref());
        (in_force.map(|p| p.text), source)
    }
}

/// A part of the scan that failed: the scan went on without it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanError {
    pub account: Option<AccountId>,
    pub region: Option<String>,
    /// `sts:AssumeRole`, `kms:ListKeys`, …
    pub operation: String,
    pub message: String,
    /// The keys it happened for, when it is about keys (one entry for all the keys of a Region
    /// that failed the same way; the message is the first key's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<KeyId>,
    /// What the scan did not examine because of it (`None`: it lost a detail, not coverage).
    pub missed: Option<Missed>,
}

impl ScanError {
    /// A failure of `operation` in `account` (and `region`), with what it cost the scan.
    pub fn new(
        account: Option<&str>,
        region: Option<&str>,
        operation: &str,
        message: String,
        missed: Option<Missed>,
    ) -> ScanError {
        ScanError {
            account: account.map(AccountId::from),
            region: region.map(str::to_owned),
            operation: operation.to_owned(),
            message,
            key_ids: Vec::new(),
            missed,
        }
    }
}

/// What a failure left unexamined: part of the scan's answer, never left out of its headline.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Missed {
    /// The whole account (its role could not be assumed).
    Account,
    /// The whole Region of the account (its keys could not be listed).
    Region,
    /// Keys that were listed but not examined (the deadline passed).
    Keys { count: u64 },
    /// A listing cut at its page cap: more may exist than were seen; `kept` were.
    Listing { kept: u64 },
}

/// An account and Region that was not scanned because the Region is not enabled there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegionSkipped {
    pub account: AccountId,
    pub region: String,
    pub reason: String,
}

/// Everything a scan gathered.
/// `scan --save-evidence` writes it; `check --keys` reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanEvidence {
    /// RFC 3339.
    pub collected_at: Timestamp,
    pub caller: CallerIdentity,
    pub accounts: Vec<AccountId>,
    pub regions: Vec<String>,
    pub keys: Vec<KeyEvidence>,
    /// AWS managed keys seen and left out (nobody can change their policies).
    pub aws_managed_skipped: u64,
    pub regions_not_enabled: Vec<RegionSkipped>,
    /// Account and Region pairs whose keys could be listed.
    pub regions_scanned: u64,
    pub errors: Vec<ScanError>,
    /// The organisation's SCPs and RCPs that apply to each account, as far as they were read.
    pub organizations: BTreeMap<AccountId, OrgEvidence>,
    /// Each account's authorization details (`iam:GetAccountAuthorizationDetails`, read when a
    /// key of it delegates to the account): who may update those keys' policies through IAM.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization: BTreeMap<AccountId, super::AuthorizationDetails>,
    pub calls: Vec<CallRecord>,
    /// The accounts are every active account of the organisation (`--org`, listed to its end):
    /// a permission set, provisioned in any of them, is covered.
    #[serde(default)]
    pub whole_organization: bool,
    /// `scan --shard I/N`: the part of the scope read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
}

/// `scan --shard I/N`: which part of a scan's scope a run covers, and which scan it is part of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    /// 1 to `count`.
    pub index: u32,
    pub count: u32,
    /// What every shard of one scan shares: its scope and the flags that shape its answer.
    /// `merge` refuses shards (and flags of its own) that differ.
    pub scan: String,
}

/// A shard's part of a scan report (JSON): which part, and the evidence it read, from which
/// `merge` judges the whole scan as one (a report's text is rendered, not data to judge again).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardReport {
    #[serde(flatten)]
    pub of: ShardOf,
    pub evidence: Box<ScanEvidence>,
}

impl ScanEvidence {
    /// What a scan that started at `at` as `caller` has found before it looked at anything.
    pub fn started(
        at: Timestamp,
        caller: CallerIdentity,
        accounts: Vec<AccountId>,
    ) -> ScanEvidence {
        ScanEvidence {
            collected_at: at,
            caller,
            accounts,
            regions: Vec::new(),
            keys: Vec::new(),
            aws_managed_skipped: 0,
            regions_not_enabled: Vec::new(),
            regions_scanned: 0,
            errors: Vec::new(),
            organizations: BTreeMap::new(),
            authorization: BTreeMap::new(),
            calls: Vec::new(),
            whole_organization: false,
            shard: None,
        }
    }
}

/// A key's status, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// No existing principal can update the policy.
    LockedOut,
    /// Any other error or warning finding.
    AtRisk,
    /// The policy could not be learned.
    Unknown,
    Healthy,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::LockedOut => "locked_out",
            KeyStatus::AtRisk => "at_risk",
            KeyStatus::Unknown => "unknown",
            KeyStatus::Healthy => "healthy",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScannedKey {
    pub arn: Option<String>,
    pub key_id: KeyId,
    pub account: AccountId,
    pub region: String,
    pub aliases: Vec<Alias>,
    pub manager: Option<KeyManager>,
    pub state: Option<KeyState>,
    pub deletion_date: Option<Timestamp>,
    pub status: KeyStatus,
    /// `--without`: its status as it is now (`status` is its status without the principals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_before: Option<KeyStatus>,
    pub policy_source: PolicySource,
    pub findings: Vec<Finding>,
    /// `None` (JSON `null`) when the policy in force is not known.
    pub restorers: Option<Vec<Restorer>>,
    /// The codes of `findings` the mute list accepts, with its reason: they stay in `findings`
    /// and do not count toward `status`, the summary or the exit status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub muted: Vec<MutedFinding>,
    /// Its tags, when read for the mute list: matched, never shown.
    #[serde(skip)]
    pub tags: Option<Vec<(String, String)>>,
}

/// Who can update a scanned key's policy, as its report says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanUpdate<'a> {
    /// These principals count (`Restorer::counts`).
    These(Vec<&'a str>),
    /// None counts, and the organisation's policies hold some: its administrators can exempt
    /// one.
    HeldByOrganization,
    /// None counts: only AWS Support can restore access.
    NoOne,
    /// The policy in force is not known.
    Unknown,
}

impl ScannedKey {
    /// Who can update the key's policy: decided here, from the restorers, for every report.
    pub fn can_update(&self) -> CanUpdate<'_> {
        let Some(restorers) = &self.restorers else {
            return CanUpdate::Unknown;
        };
        let counting: Vec<&str> = restorers
            .iter()
            .filter(|r| r.counts())
            .map(|r| r.principal.as_str())
            .collect();
        if !counting.is_empty() {
            CanUpdate::These(counting)
        } else if restorers.iter().any(|r| r.blocked_by.is_some()) {
            CanUpdate::HeldByOrganization
        } else {
            CanUpdate::NoOne
        }
    }
}

/// A finding of a key that the mute list accepts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MutedFinding {
    pub code: Code,
    pub reason: String,
}

/// An entry of the mute list (`.kms-doctor.toml`'s `[[scan.mute]]`, after Prowler's): every
/// criterion given must match the key and the finding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMute {
    pub account: Option<String>,
    pub region: Option<String>,
    /// A key ARN or key ID.
    pub key: Option<String>,
    pub alias: Option<String>,
    /// `KEY=VALUE`, or `KEY` for any value.
    pub tag: Option<String>,
    pub code: Option<Code>,
    pub reason: String,
}

impl KeyMute {
    /// Whether it accepts `code` on `key`.
    pub fn accepts(&self, key: &ScannedKey, code: Code) -> bool {
        self.account.as_deref().is_none_or(|a| key.account == *a)
            && self.region.as_deref().is_none_or(|r| key.region == r)
            && self
                .key
                .as_deref()
                .is_none_or(|k| key.key_id == *k || key.arn.as_deref() == Some(k))
            && self
                .alias
                .as_deref()
                .is_none_or(|a| key.aliases.iter().any(|x| *x == *a))
            && self.tag.as_deref().is_none_or(|t| {
                let (name, value) = t.split_once('=').map_or((t, None), |(n, v)| (n, Some(v)));
                key.tags
                    .iter()
                    .flatten()
                    .any(|(k, v)| k == name && value.is_none_or(|want| v == want))
            })
            && self.code.is_none_or(|c| c == code)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanScope {
    pub accounts: Vec<AccountId>,
    pub regions: Vec<String>,
    /// Account and Region pairs left out because the Region is not enabled in the account.
    pub regions_not_enabled: Vec<RegionSkipped>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CallCounts {
    pub total: u64,
    /// `kms:GetKeyPolicy` → how many.
    pub by_operation: BTreeMap<String, u64>,
    /// Calls that answered `ThrottlingException` (each was retried after a pause).
    pub throttled: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    pub keys: u64,
    pub locked_out: u64,
    pub at_risk: u64,
    pub unknown: u64,
    pub healthy: u64,
    pub aws_managed_skipped: u64,
    /// Whether everything asked for was examined (`false`: see `not_examined`).
    pub complete: bool,
    pub not_examined: NotExamined,
}

/// What the scan was asked to look at and did not: counted, so that a partial scan never reads
/// as an all clear.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NotExamined {
    /// Accounts that could not be entered (the scan role could not be assumed there).
    pub accounts: u64,
    /// Account and Region pairs whose keys could not be listed (in accounts that were entered).
    pub regions: u64,
    /// Keys listed but not examined: past the deadline, or their policy not read because a call
    /// failed (not denied) and nothing recovered it.
    pub keys: u64,
    /// Listings cut at their page cap (accounts, keys): what lay beyond is not counted anywhere.
    pub listings_cut_short: u64,
    /// Accounts in an organisation whose SCPs or RCPs could not all be read (or one did not
    /// parse): what they deny the keys there is unknown.
    #[serde(default)]
    pub org_policies: u64,
}

impl NotExamined {
    pub fn is_empty(&self) -> bool {
        *self == NotExamined::default()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub schema_version: u32,
    pub scope: ScanScope,
    /// Worst first, then by account, Region and key.
    pub keys: Vec<ScannedKey>,
    /// Findings about the scan itself, not one key (`scan-incomplete`).
    pub findings: Vec<Finding>,
    pub errors: Vec<ScanError>,
    pub calls: CallCounts,
    pub summary: ScanSummary,
    /// `--without`: the principals judged gone; `keys` then holds only the keys whose status
    /// would change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without: Option<WithoutSummary>,
    /// The configuration file whose mute list applied, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `--shard I/N`: the part of the scope this report covers, with its evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardReport>,
}

/// What `scan --without` asked and found.
#[derive(Debug, Clone, Serialize)]
pub struct WithoutSummary {
    pub principals: Vec<super::Removed>,
    /// Keys that would lose a principal able to update their policy (one or none left).
    pub keys_changed: u64,
    /// Keys whose policy is not known: what they would lose cannot be said.
    pub keys_unknown: u64,
}
