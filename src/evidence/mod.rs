//! Evidence: what AWS says about the caller, the key, its policy and its history.
//!
//! This layer is the only one that talks to AWS, and only [`aws`] imports the SDK: the rest
//! sees AWS through the narrow traits below, so that the gathering logic runs as well over the
//! in-memory clients of [`fake`]. Every call is recorded with its outcome; an `AccessDenied` is
//! evidence, not an error. What it gathers is the evidence record of
//! [`crate::diagnosis::model`] (also the format of `--save-evidence` files).

pub mod aws;
pub mod denial;
pub mod entities;
pub mod gather;
pub mod iac;
pub mod key;
pub mod organization;
pub mod pace;
pub mod record;
pub mod scan;
pub mod sources;
pub mod walk;

use crate::diagnosis::model::{
    AwsErrorCode, CallRecord, Denial, KeyManager, KeyState, Operation, Outcome, QueryState,
    Service, Timestamp,
};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A failed call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub outcome: Outcome,
    pub kind: ErrorKind,
    pub message: String,
    /// For an AccessDenied answer: the layer its message says decided.
    pub denial: Option<Denial>,
}

/// Why a call failed: AWS's answer (its error code, parsed) or one of kms-doctor's own reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// AWS answered with an error code.
    Aws(AwsErrorCode),
    /// The run's `--max-duration` deadline came first.
    Deadline,
    /// No answer within `--timeout`.
    Timeout,
    /// An answer that lacks what the API promises.
    MalformedReply,
    /// The body broke off while it was read.
    ReadBody,
    /// Larger than kms-doctor reads.
    TooLarge,
    /// An Athena query ended `FAILED` or `CANCELLED`.
    QueryFailed,
    QueryCancelled,
    /// No credentials in the chain (environment, profile, SSO, instance metadata).
    NoCredentials,
    /// The profile named is not in the AWS config files.
    UnknownProfile,
    /// The SSO session has expired or was never started.
    SsoLogin,
    /// No Region is configured.
    NoRegion,
    /// A credential provider (a role to assume, a process) failed.
    CredentialsFailed,
    /// AWS could not be reached.
    Network,
    /// Nothing more is known.
    Unknown,
}

impl ErrorKind {
    /// The code the contract's `calls[].error_code` shows: AWS's own, else kms-doctor's word.
    pub fn code(&self) -> Option<&str> {
        Some(match self {
            ErrorKind::Aws(code) => code.as_str(),
            ErrorKind::Deadline => "Deadline",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::MalformedReply => "MalformedReply",
            ErrorKind::ReadBody => "ReadBody",
            ErrorKind::TooLarge => "TooLarge",
            ErrorKind::QueryFailed => "QueryFailed",
            ErrorKind::QueryCancelled => "QueryCancelled",
            ErrorKind::NoCredentials => "NoCredentials",
            ErrorKind::UnknownProfile => "UnknownProfile",
            ErrorKind::SsoLogin => "SsoLogin",
            ErrorKind::NoRegion => "NoRegion",
            ErrorKind::CredentialsFailed => "CredentialsFailed",
            ErrorKind::Network => "Network",
            ErrorKind::Unknown => return None,
        })
    }

    /// AWS's error code, when AWS answered.
    pub fn aws(&self) -> Option<&AwsErrorCode> {
        match self {
            ErrorKind::Aws(code) => Some(code),
            _ => None,
        }
    }
}

impl CallError {
    /// A failure of kms-doctor's own kind (never an AWS answer): outcome `error`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            outcome: Outcome::Error,
            kind,
            message: message.into(),
            denial: None,
        }
    }

    /// `Code: message`, or the message alone: how an error is shown in reports and errors.
    pub fn describe(&self) -> String {
        match self.kind.code() {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// An answer that lacks what the API promises.
    pub fn malformed(message: impl Into<String>) -> Self {
        CallError::new(ErrorKind::MalformedReply, message)
    }

    /// AWS's answer with an error code (none: nothing more is known), classified the way the
    /// contract's `calls[].outcome` does.
    pub fn from_code(code: Option<&str>, message: impl Into<String>) -> Self {
        let Some(code) = code else {
            return CallError::new(ErrorKind::Unknown, message);
        };
        let code = AwsErrorCode::parse(code);
        let message = message.into();
        let outcome = code.outcome();
        CallError {
            denial: (outcome == Outcome::AccessDenied).then(|| denial::denial_of(&message)),
            outcome,
            kind: ErrorKind::Aws(code),
            message,
        }
    }
}

/// The calls made so far, in order of start, shared by concurrent steps; and the deadline of the
/// whole run (`--max-duration`), which every call's time budget respects.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    log: Arc<Mutex<Vec<CallRecord>>>,
    deadline: Option<Instant>,
}

impl Calls {
    /// A call log whose calls all end by `deadline`.
    pub fn with_deadline(deadline: Instant) -> Calls {
        Calls {
            log: Arc::default(),
            deadline: Some(deadline),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Runs one call, bounded by `timeout` and by the deadline, and records it.
    pub async fn record<T>(
        &self,
        service: &str,
        operation: &str,
        timeout: Duration,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let index = {
            let mut calls = self.log.lock().expect("calls lock");
            calls.push(CallRecord {
                service: Service::parse(service),
                operation: Operation::parse(operation),
                outcome: Outcome::Error,
                ms: 0,
                error_code: None,
                message: None,
                denial: None,
            });
            calls.len() - 1
        };
        let remaining = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let budget = remaining.map_or(timeout, |r| r.min(timeout));
        let by_deadline = remaining.is_some_and(|r| r < timeout);
        let deadline_passed = || {
            CallError::new(
                ErrorKind::Deadline,
                "not made or not answered before the --max-duration deadline",
            )
        };
        let started = Instant::now();
        // Past the deadline, the call is not made at all.
        let result = if budget.is_zero() {
            Err(deadline_passed())
        } else {
            match tokio::time::timeout(budget, call).await {
                Ok(r) => r,
                Err(_) if by_deadline => Err(deadline_passed()),
                Err(_) => Err(CallError::new(
                    ErrorKind::Timeout,
                    format!("no answer within {} s", timeout.as_secs_f64()),
                )),
            }
        };
        let mut calls = self.log.lock().expect("calls lock");
        let record = &mut calls[index];
        record.ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => record.outcome = Outcome::Ok,
            Err(e) => {
                record.outcome = e.outcome;
                record.error_code = e.kind.code().map(str::to_owned);
                record.denial = e.denial;
                record.message = Some(e.message.clone());
            }
        }
        result
    }

    pub fn snapshot(&self) -> Vec<CallRecord> {
        self.log.lock().expect("calls lock").clone()
    }
}

/// What `kms:DescribeKey` says of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMetadata {
    pub arn: Option<String>,
    pub key_id: String,
    pub account: Option<String>,
    pub manager: Option<KeyManager>,
    pub state: Option<KeyState>,
    /// RFC 3339.
    pub deletion_date: Option<Timestamp>,
    /// A multi-Region replica: its primary key's Region, where `ReplicateKey` (which set its
    /// first policy) was recorded.
    pub primary_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub arn: Option<String>,
    pub target_key_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AliasPage {
    pub aliases: Vec<Alias>,
    pub next_marker: Option<String>,
}

/// An IAM role or user, from `iam:GetRole` / `iam:GetUser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamEntity {
    pub arn: String,
    pub path: String,
    pub id: String,
    /// A role's trust policy (decoded), when IAM gave it.
    pub trust_policy: Option<String>,
    /// When IAM created it (`CreateDate`).
    pub created: Option<crate::diagnosis::model::Timestamp>,
    /// Its permissions boundary's policy ARN, when it has one (its content is in the
    /// authorization details).
    pub boundary: Option<String>,
}

/// One CloudTrail event from `cloudtrail:LookupEvents`, before it is read.
#[derive(Debug, Clone, Default)]
pub struct TrailEvent {
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    /// The whole record, a JSON string.
    pub cloudtrail_event: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<TrailEvent>,
    pub next_token: Option<String>,
}

/// `sts`, as kms-doctor uses it.
pub trait Sts {
    fn get_caller_identity(
        &self,
    ) -> impl Future<Output = Result<crate::diagnosis::model::CallerIdentity, CallError>>;
}

/// `kms`, as kms-doctor uses it (read-only).
pub trait Kms {
    fn describe_key(&self, key: &str) -> impl Future<Output = Result<KeyMetadata, CallError>>;
    /// Always the policy named `default`.
    fn get_key_policy(&self, key: &str) -> impl Future<Output = Result<String, CallError>>;
    fn list_aliases(
        &self,
        marker: Option<String>,
    ) -> impl Future<Output = Result<AliasPage, CallError>>;
    /// The keys of the account and Region, a page at a time.
    fn list_keys(&self, marker: Option<String>)
    -> impl Future<Output = Result<KeyPage, CallError>>;
    /// The key's tags (a key has at most 50: one page).
    fn list_resource_tags(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, CallError>>;
}

/// One page of `kms:ListKeys`.
#[derive(Debug, Clone, Default)]
pub struct KeyPage {
    /// (key ID, key ARN)
    pub keys: Vec<(String, Option<String>)>,
    pub next_marker: Option<String>,
}

/// One member account, from `organizations:ListAccounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccount {
    pub id: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE` (`None` when not given).
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountPage {
    pub accounts: Vec<MemberAccount>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RegionPage {
    /// The enabled Regions (`ENABLED` and `ENABLED_BY_DEFAULT`).
    pub regions: Vec<String>,
    pub next: Option<String>,
}

/// What `scan` talks to: the caller's own account and the accounts it reaches by
/// `sts:AssumeRole`, each in any Region. `Account` is one account's credentials.
pub trait Fleet {
    type Account: Clone;
    type Kms: Kms;
    type Trail: CloudTrail;
    type Iam: Iam;
    type Org: Organizations;
    fn caller(
        &self,
    ) -> impl Future<Output = Result<crate::diagnosis::model::CallerIdentity, CallError>>;
    /// The caller's own account, with the caller's credentials.
    fn home(&self) -> Self::Account;
    /// `sts:AssumeRole` into a role of another account.
    fn assume_role(&self, role_arn: &str)
    -> impl Future<Output = Result<Self::Account, CallError>>;
    /// `organizations:ListAccounts`, a page at a time.
    fn list_accounts(
        &self,
        next: Option<String>,
    ) -> impl Future<Output = Result<AccountPage, CallError>>;
    /// `account:ListRegions` of an account: its enabled Regions, a page at a time.
    fn list_regions(
        &self,
        account: &Self::Account,
        next: Option<String>,
    ) -> impl Future<Output = Result<RegionPage, CallError>>;
    fn kms(&self, account: &Self::Account, region: &str) -> Self::Kms;
    fn cloudtrail(&self, account: &Self::Account, region: &str) -> Self::Trail;
    fn iam(&self, account: &Self::Account) -> Self::Iam;
    /// Organizations, with the caller's own credentials (the management account or a delegated
    /// administrator can read the policies).
    fn organizations(&self) -> &Self::Org;
}

/// A parent in an organisation's tree, from `organizations:ListParents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgParent {
    pub id: String,
    /// The root (else an OU).
    pub root: bool,
}

/// One page of `organizations:ListPoliciesForTarget`: (ID, name) of each policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyPage {
    pub policies: Vec<(String, String)>,
    pub next: Option<String>,
}

/// `organizations`, as `diagnose` reads an organisation's policies (read-only). The reads
/// other than `DescribeOrganization` need the management account or a delegated administrator:
/// a denial is evidence, never a failure.
pub trait Organizations {
    /// The organisation's ID and its management account's ID (`DescribeOrganization`).
    fn describe_organization(&self) -> impl Future<Output = Result<OrgIdentity, CallError>>;
    fn list_parents(&self, child: &str) -> impl Future<Output = Result<Vec<OrgParent>, CallError>>;
    /// `filter`: `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    fn list_policies_for_target(
        &self,
        target: &str,
        filter: &'static str,
        next: Option<String>,
    ) -> impl Future<Output = Result<PolicyPage, CallError>>;
    /// The policy's document.
    fn describe_policy(&self, id: &str) -> impl Future<Output = Result<String, CallError>>;
}

/// One page of `iam:GetAccountAuthorizationDetails`.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationPage {
    pub details: crate::diagnosis::model::AuthorizationDetails,
    pub next_marker: Option<String>,
}

/// `iam`, as kms-doctor uses it (read-only).
pub trait Iam {
    /// Users, roles, groups and managed policies, a page at a time (documents decoded).
    fn authorization_details(
        &self,
        marker: Option<String>,
    ) -> impl Future<Output = Result<AuthorizationPage, CallError>>;
    fn get_role(&self, name: &str) -> impl Future<Output = Result<IamEntity, CallError>>;
    fn get_user(&self, name: &str) -> impl Future<Output = Result<IamEntity, CallError>>;
    fn simulate_principal_policy(
        &self,
        principal_arn: &str,
        actions: &[&str],
        resource_arn: &str,
    ) -> impl Future<Output = Result<Vec<crate::diagnosis::model::SimulationResult>, CallError>>;
}

/// Who an organisation is: its ID (`o-…`, the value of `aws:PrincipalOrgID` for its
/// principals) and its management account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgIdentity {
    pub id: String,
    pub management_account: String,
}

/// `cloudtrail`, as kms-doctor uses it (read-only).
pub trait CloudTrail {
    fn lookup_events(
        &self,
        event_name: crate::diagnosis::model::PolicyEventName,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<EventPage, CallError>>;

    /// The same event history in another Region of the partition (a replica's `ReplicateKey`
    /// is recorded in its primary's Region); `None` when this client cannot be moved.
    fn in_region(&self, region: &str) -> Option<Self>
    where
        Self: Sized;
}

/// One page of `s3:ListObjectsV2`.
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    pub keys: Vec<String>,
    pub next: Option<String>,
}

/// `s3`, as kms-doctor uses it to read a CloudTrail log archive (read-only).
pub trait ObjectStore {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        continuation: Option<String>,
    ) -> impl Future<Output = Result<ObjectPage, CallError>>;
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Vec<u8>, CallError>>;
}

/// Where and how an Athena query runs.
#[derive(Debug, Clone, Default)]
pub struct AthenaQuery {
    pub sql: String,
    pub database: Option<String>,
    pub workgroup: Option<String>,
    /// `s3://…` for the results, when the workgroup sets none.
    pub output: Option<String>,
}

/// One page of `athena:GetQueryResults`: rows of nullable cells (the first page starts with
/// the column names).
#[derive(Debug, Clone, Default)]
pub struct ResultPage {
    pub rows: Vec<Vec<Option<String>>>,
    pub next: Option<String>,
}

/// `athena`, as kms-doctor uses it to query a CloudTrail table.
pub trait Athena {
    fn start(&self, query: &AthenaQuery) -> impl Future<Output = Result<String, CallError>>;
    /// The state (`QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED`) and its reason.
    fn state(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(QueryState, Option<String>), CallError>>;
    fn results(
        &self,
        id: &str,
        next: Option<String>,
    ) -> impl Future<Output = Result<ResultPage, CallError>>;
}

/// All four, with the Region they talk to.
pub struct Clients<S, K, I, C, O> {
    pub sts: S,
    pub kms: K,
    pub iam: I,
    pub cloudtrail: C,
    pub organizations: O,
    pub region: Option<String>,
    pub partition: String,
}

/// Opens a file the user named, only if it is a regular file: its type is checked before it is
/// opened (opening a FIFO blocks until a writer comes; a device never ends), and again on the
/// file opened, in case the path changed in between.
pub fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device, a socket or a directory): not read",
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// A file's bytes as text: UTF-8, a leading byte-order mark dropped (editors on Windows write
/// one; JSON and YAML parsers refuse it).
pub fn utf8_text(mut bytes: Vec<u8>) -> Result<String, std::string::FromUtf8Error> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_after_the_deadline_is_not_made() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let calls = Calls::with_deadline(Instant::now());
        let made = std::sync::atomic::AtomicBool::new(false);
        let result =
            runtime.block_on(
                calls.record("kms", "DescribeKey", Duration::from_secs(5), async {
                    tokio::task::yield_now().await;
                    made.store(true, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, CallError>(())
                }),
            );
        let err = result.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Deadline);
        assert!(!made.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(calls.snapshot()[0].error_code.as_deref(), Some("Deadline"));
    }
}
