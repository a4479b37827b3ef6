//! Evidence: what AWS says about the caller, the key, its policy and its history.
//!
//! This layer is the only one that talks to AWS, and only [`aws`] imports the SDK: the rest
//! sees AWS through the narrow traits below, so that the gathering logic can be tested with
//! in-memory fakes. Every call is recorded with its outcome; an `AccessDenied` is evidence, not
//! an error. [`Evidence`] is also the format of `--save-evidence` files.

pub mod athena;
pub mod aws;
pub mod gather;
pub mod history;
pub mod key;

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub service: String,
    pub operation: String,
    pub outcome: Outcome,
    pub ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A failed call, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub outcome: Outcome,
    pub code: Option<String>,
    pub message: String,
}

impl CallError {
    pub fn new(outcome: Outcome, code: Option<&str>, message: impl Into<String>) -> Self {
        CallError {
            outcome,
            code: code.map(str::to_owned),
            message: message.into(),
        }
    }

    /// An answer that lacks what the API promises.
    pub fn malformed(message: impl Into<String>) -> Self {
        CallError::new(Outcome::Error, Some("MalformedReply"), message)
    }

    /// Classifies an AWS error code the way the contract's `calls[].outcome` does.
    pub fn from_code(code: Option<&str>, message: impl Into<String>) -> Self {
        let outcome = match code {
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "UnrecognizedClientException",
            ) => Outcome::AccessDenied,
            Some("NotFoundException" | "NoSuchEntity" | "NoSuchEntityException") => {
                Outcome::NotFound
            }
            Some(
                "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded",
            ) => Outcome::Throttled,
            _ => Outcome::Error,
        };
        CallError::new(outcome, code, message)
    }
}

/// The calls made so far, in order of start. Shared by concurrent steps.
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<CallRecord>>>);

impl Calls {
    /// Runs one call, bounded by `timeout`, and records it.
    pub async fn record<T>(
        &self,
        service: &str,
        operation: &str,
        timeout: Duration,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let index = {
            let mut calls = self.0.lock().expect("calls lock");
            calls.push(CallRecord {
                service: service.to_owned(),
                operation: operation.to_owned(),
                outcome: Outcome::Error,
                ms: 0,
                error_code: None,
                message: None,
            });
            calls.len() - 1
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(CallError::new(
                Outcome::Error,
                Some("Timeout"),
                format!("no answer within {} s", timeout.as_secs_f64()),
            )),
        };
        let mut calls = self.0.lock().expect("calls lock");
        let record = &mut calls[index];
        record.ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => record.outcome = Outcome::Ok,
            Err(e) => {
                record.outcome = e.outcome;
                record.error_code = e.code.clone();
                record.message = Some(e.message.clone());
            }
        }
        result
    }

    pub fn snapshot(&self) -> Vec<CallRecord> {
        self.0.lock().expect("calls lock").clone()
    }
}

/// `sts:GetCallerIdentity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

/// What `kms:DescribeKey` says of a key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyMetadata {
    pub arn: Option<String>,
    pub key_id: String,
    pub account: Option<String>,
    /// `CUSTOMER` or `AWS`.
    pub manager: Option<String>,
    pub state: Option<String>,
    /// RFC 3339.
    pub deletion_date: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IamEntity {
    pub arn: String,
    pub path: String,
    pub id: String,
}

/// One result of `iam:SimulatePrincipalPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`, as IAM answers.
    pub decision: String,
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
    pub source_policy_id: Option<String>,
    /// `user`, `group`, `role`, `aws-managed`, `user-managed`, `resource` or `none`.
    pub source_policy_type: Option<String>,
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
    fn get_caller_identity(&self) -> impl Future<Output = Result<CallerIdentity, CallError>>;
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
}

/// `iam`, as kms-doctor uses it (read-only).
pub trait Iam {
    fn get_role(&self, name: &str) -> impl Future<Output = Result<IamEntity, CallError>>;
    fn get_user(&self, name: &str) -> impl Future<Output = Result<IamEntity, CallError>>;
    fn simulate_principal_policy(
        &self,
        principal_arn: &str,
        actions: &[&str],
        resource_arn: &str,
    ) -> impl Future<Output = Result<Vec<SimulationResult>, CallError>>;
}

/// `cloudtrail`, as kms-doctor uses it (read-only).
pub trait CloudTrail {
    fn lookup_events(
        &self,
        event_name: &str,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<EventPage, CallError>>;
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
    fn state(&self, id: &str) -> impl Future<Output = Result<(String, Option<String>), CallError>>;
    fn results(
        &self,
        id: &str,
        next: Option<String>,
    ) -> impl Future<Output = Result<ResultPage, CallError>>;
}

/// All four, with the Region they talk to.
pub struct Clients<S, K, I, C> {
    pub sts: S,
    pub kms: K,
    pub iam: I,
    pub cloudtrail: C,
    pub region: Option<String>,
    pub partition: String,
}

/// Everything gathered for one diagnosis; also the `--save-evidence` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    pub evidence_version: u32,
    /// When the evidence was gathered (RFC 3339).
    pub collected_at: String,
    pub region: Option<String>,
    pub caller: CallerIdentity,
    /// The IAM principal behind the caller (a session's role ARN with its path), if learned.
    pub caller_principal_arn: Option<String>,
    /// The principal diagnosed when it is not the caller (`--principal`).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub subject_principal_arn: Option<String>,
    pub key: key::KeyFacts,
    /// The policy from `kms:GetKeyPolicy`, when the caller could read it.
    pub current_policy: Option<String>,
    /// How the caller's own `GetKeyPolicy` ended: `AccessDenied` here is the symptom itself.
    pub get_key_policy: Option<Outcome>,
    pub history: Option<history::History>,
    #[serde(default)]
    pub simulation: Vec<SimulationResult>,
    /// Whether each principal that may update the key policy still exists.
    #[serde(default)]
    pub restorer_checks: Vec<ExistenceCheck>,
    /// Facts the gathering learned that explain a gap (root caller, federated user, …).
    #[serde(default)]
    pub notes: Vec<String>,
    pub calls: Vec<CallRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExistenceCheck {
    pub principal: String,
    pub exists: Option<bool>,
}
