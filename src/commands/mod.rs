//! One runner per command, over a shared [`Session`]. Each takes a typed request that `cli`
//! validated (no usage error is raised here), gathers or reads what it needs, asks
//! `diagnosis` for the report, and hands it to `report`. Returns the exit status.

pub mod check;
pub mod config;
pub mod console;
pub mod diagnose;
pub mod explain;
pub mod generate;
pub mod history;
pub mod input;
pub mod merge;
pub mod output_file;
pub mod scan;
pub mod session;
pub mod validate;

pub use console::{Console, NoProgress, Progress};
pub use session::{AwsSettings, Session};

use crate::diagnosis::model::AwsErrorCode;
use crate::evidence::sources::s3::S3Location;
use crate::evidence::{CallError, ErrorKind};
use crate::policy::{Level, OrgPolicies, OrgPolicy, OrgPolicyType, levels_of_files};
use crate::report::{self, Format, WriteColor};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::diagnosis::model::Exit;

/// A validated command line.
#[derive(Debug)]
pub enum Request {
    Explain(explain::ExplainRequest),
    Diagnose(diagnose::DiagnoseRequest),
    History(history::HistoryRequest),
    Scan(scan::ScanRequest),
    Merge(merge::MergeRequest),
    /// Boxed: the largest request by far (paths, settings, every flag of a check).
    Check(Box<check::CheckRequest>),
    /// Boxed: clap's definition of the whole command line is large.
    Completions(Box<generate::GenerateRequest>),
}

/// How the report is shown.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub redact: bool,
}

/// A CloudTrail log archive: a local tree or file, or `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    Local(PathBuf),
    S3(S3Location),
}

/// An Athena table of CloudTrail logs, and where to run the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaTable {
    pub table: String,
    pub database: Option<String>,
    pub workgroup: Option<String>,
    /// `s3://…` for the results, when the workgroup sets none.
    pub output: Option<String>,
    /// How long to wait for the query to finish.
    pub max_wait: Duration,
}

/// The organisation's policy files, read (bounded as a key policy is) and parsed.
fn org_levels(kind: OrgPolicyType, paths: &[PathBuf]) -> Result<Vec<Level>, CommandError> {
    let mut policies = Vec::new();
    for path in paths {
        let input = explain::PolicyInput::File(path.clone());
        let label = input.label();
        let text = input.read().map_err(|source| CommandError::ReadPolicy {
            path: label.clone(),
            source,
        })?;
        policies.push(OrgPolicy::from_file(kind, &label, &text).map_err(|source| {
            CommandError::InvalidOrgPolicy {
                path: label.clone(),
                kind: match kind {
                    OrgPolicyType::Scp => "service control policy",
                    OrgPolicyType::Rcp => "resource control policy",
                },
                source,
            }
        })?);
    }
    Ok(levels_of_files(policies))
}

/// `--scp` and `--rcp` files, read and parsed: the organisation's policies that apply.
pub(crate) fn read_org_policies(
    scps: &[PathBuf],
    rcps: &[PathBuf],
) -> Result<OrgPolicies, CommandError> {
    Ok(OrgPolicies {
        scps: org_levels(OrgPolicyType::Scp, scps)?,
        rcps: org_levels(OrgPolicyType::Rcp, rcps)?,
        management_account: None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot read the policy from {path}: {source}")]
    ReadPolicy {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a valid key policy: {source}")]
    InvalidPolicy {
        path: String,
        #[source]
        source: crate::policy::ParseError,
    },
    #[error("{path} is not a valid {kind}: {source}")]
    InvalidOrgPolicy {
        path: String,
        kind: &'static str,
        #[source]
        source: crate::policy::ParseError,
    },
    #[error("{path} is {kind}, not a key policy: run `kms-doctor check {path}`")]
    NotAPolicy { path: String, kind: &'static str },
    #[error("cannot write the report: {0}")]
    Write(#[from] io::Error),
    /// The first-run failures (no credentials, an unknown profile, an SSO login needed, no
    /// Region…), said the way the AWS CLI says them, with the command to run next.
    #[error(
        "cannot learn who the caller is: {what}{}. {next}",
        .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    CallerUnknown {
        what: String,
        next: String,
        /// What the SDK said, where kms-doctor's words do not say all of it.
        detail: Option<String>,
    },
    #[error("cannot read the evidence file {path}: {source}")]
    ReadEvidence {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a kms-doctor evidence file: {source}")]
    InvalidEvidence {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} is an evidence file of version {version}; this kms-doctor reads version {}",
        crate::diagnosis::model::EVIDENCE_VERSION
    )]
    EvidenceVersion { path: String, version: u32 },
    #[error(transparent)]
    Archive(#[from] crate::evidence::sources::archive::ArchiveError),
    #[error("cannot resolve {key} without kms:DescribeKey: give the key ID or key ARN")]
    UnresolvedAlias { key: String },
    #[error("{source_name} could not be read: {}", .error.describe())]
    Source {
        /// `CloudTrail's event history`, `the log archive s3://…`, `the Athena query`.
        source_name: String,
        error: CallError,
    },
    #[error(transparent)]
    OutputFile(#[from] output_file::OutputFileError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot read the baseline {path}: {message}")]
    Baseline { path: String, message: String },
    #[error(
        "{path} exists and is not a kms-doctor baseline: choose another file for --write-baseline, or pass --force to replace it"
    )]
    NotABaseline { path: String },
    #[error(
        "{output} would overwrite {input}, a file being checked: choose another file for --write-baseline"
    )]
    OutputIsInput { output: String, input: String },
    #[error(
        "no key policy, CloudFormation template or Terraform plan found in {paths}. Check the paths, or pass --allow-empty when none is fine"
    )]
    NothingToCheck { paths: String },
    #[error(
        "no AWS Region to scan. Pass --region REGION (repeatable) or --all-regions, or set AWS_REGION"
    )]
    NoRegion,
    #[error(
        "{0}. Run the scan from the management account or a delegated administrator, or name the accounts with --accounts"
    )]
    Organization(crate::evidence::scan::ScanFailed),
    #[error("these reports do not make one scan: {0}")]
    Shards(String),
}

/// Largest AWS config file read when telling credential failures apart.
const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Whether the AWS config files (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/config` and `~/.aws/credentials`) define `profile`; `None` when one could not be read.
fn profile_defined(profile: &str) -> Option<bool> {
    use std::io::Read as _;
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let mut found = false;
    for (path, config) in [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ] {
        let Some(path) = path else { continue };
        let mut text = String::new();
        match std::fs::File::open(&path) {
            Ok(f) => {
                f.take(MAX_CONFIG_FILE).read_to_string(&mut text).ok()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        }
        found |= text.lines().any(|line| {
            let Some(section) = line
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
            else {
                return false;
            };
            let section = section.trim();
            let name = match config {
                // `[profile NAME]`, and `[default]` for the default profile.
                true => section
                    .strip_prefix("profile ")
                    .map(str::trim)
                    .or((section == "default").then_some(section)),
                false => Some(section),
            };
            name == Some(profile)
        });
    }
    Some(found)
}

impl CommandError {
    /// The caller could not be learned: what is wrong, and what to run next.
    pub fn caller_unknown(error: CallError, aws: &AwsSettings) -> CommandError {
        let profile = aws
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
        let with_profile = profile
            .as_deref()
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default();
        let named = profile.as_deref().unwrap_or("default");
        let aws = error.kind.aws();
        // The SDK says only that credentials could not be loaded; the AWS CLI says why. The
        // config files are read here, as the CLI reads them, to tell the cases apart.
        let credential_failure = matches!(
            error.kind,
            ErrorKind::CredentialsFailed | ErrorKind::NoCredentials | ErrorKind::UnknownProfile
        );
        let in_files = credential_failure.then(|| profile_defined(named)).flatten();
        let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
        // Where kms-doctor's words say all there is, the SDK's (which tried every source in
        // turn, the metadata service last) would only mislead.
        let mut detail = Some(error.describe());
        let (what, next) = match &error.kind {
            _ if profile.is_some() && in_files == Some(false) => (
                format!("the config profile ({named}) could not be found in the AWS config files"),
                format!(
                    "Run `aws configure list-profiles` to see the profiles there, or `aws configure --profile {named}` to create it"
                ),
            ),
            _ if credential_failure && profile.is_none() && in_files == Some(false) && !env_keys => (
                "no AWS credentials were found: none in the environment, no default profile in the AWS config files, and the instance or container metadata service gave none".to_owned(),
                "Run `aws configure` (or `aws sso login --profile NAME`, then pass --profile NAME)".to_owned(),
            ),
            ErrorKind::NoCredentials => (
                "no AWS credentials were found".to_owned(),
                format!(
                    "Run `aws configure{with_profile}` (or `aws sso login{with_profile}`), or name a profile with --profile"
                ),
            ),
            ErrorKind::UnknownProfile => (
                format!("the profile {named} is not defined in the AWS config files"),
                "Run `aws configure list-profiles` to see the profiles there".to_owned(),
            ),
            ErrorKind::SsoLogin => (
                format!("the SSO session of profile {named} has expired or was never started"),
                format!("Run `aws sso login{with_profile}`, then kms-doctor again"),
            ),
            ErrorKind::NoRegion => (
                "no AWS Region is set".to_owned(),
                format!(
                    "Pass --region REGION, set AWS_REGION, or run `aws configure set region REGION{with_profile}`"
                ),
            ),
            ErrorKind::CredentialsFailed => (
                format!(
                    "the credentials of profile {named} could not be loaded (a role it assumes, or a credential process, failed)"
                ),
                format!("Run `aws sts get-caller-identity{with_profile}` to see why"),
            ),
            ErrorKind::Network => (
                "AWS could not be reached".to_owned(),
                "Check the network, the proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL".to_owned(),
            ),
            _ if aws.is_some_and(AwsErrorCode::is_expired_credentials) => (
                "the session's credentials have expired".to_owned(),
                format!("Renew them (`aws sso login{with_profile}`, or assume the role again)"),
            ),
            _ if aws.is_some_and(AwsErrorCode::is_rejected_credentials) => (
                "AWS does not accept these credentials".to_owned(),
                format!("Check them with `aws sts get-caller-identity{with_profile}`"),
            ),
            _ => (
                format!("sts:GetCallerIdentity failed ({})", error.describe()),
                format!("Check the credentials with `aws sts get-caller-identity{with_profile}`"),
            ),
        };
        if profile.is_some() && in_files == Some(false)
            || matches!(error.kind, ErrorKind::NoCredentials | ErrorKind::NoRegion)
            || detail.as_deref().is_some_and(|d| what.contains(d))
        {
            detail = None;
        }
        CommandError::CallerUnknown { what, next, detail }
    }
}

impl CommandError {
    /// Writing the report failed because the reader went away (`| head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CommandError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Runs a request; `out` is standard output (or a test's buffer).
pub fn run(
    request: Request,
    out: &mut dyn WriteColor,
    console: &Console,
) -> Result<Exit, CommandError> {
    match request {
        Request::Explain(r) => explain::run(r, out),
        Request::Diagnose(r) => diagnose::run(r, out, console),
        Request::History(r) => history::run(r, out, console),
        Request::Scan(r) => scan::run(r, out, console),
        Request::Merge(r) => merge::run(r, out),
        Request::Check(r) => check::run(*r, out, console),
        Request::Completions(r) => generate::run(*r, out),
    }
}

/// `--redact` for one run: one pseudonym table for everything the run shows or saves (the
/// report, the `-v` call list, a saved evidence file), so that each names a principal the same
/// way. Everything is learned before anything is shown.
struct Redaction(Option<report::redact::Redactor>);

impl Redaction {
    fn new(on: bool) -> Redaction {
        Redaction(on.then(report::redact::Redactor::default))
    }

    /// Takes note of the words of one output of the run, before any is learned: no
    /// pseudonym is then a word of another (see `Redactor::reserve`).
    fn reserve<T: report::redact::Redact + Clone>(&mut self, data: &T) -> &mut Self {
        if let Some(r) = &mut self.0 {
            r.reserve(data);
        }
        self
    }

    fn learn<T: report::redact::Redact + Clone>(&mut self, data: &T) -> &mut Self {
        if let Some(r) = &mut self.0 {
            r.learn_from(data);
        }
        self
    }

    /// `data` as it may be shown: redacted when asked, else as it is.
    fn show<'a, T: report::redact::Redact + Clone>(
        &mut self,
        data: &'a T,
    ) -> std::borrow::Cow<'a, T> {
        match &mut self.0 {
            Some(r) => std::borrow::Cow::Owned(r.apply(data)),
            None => std::borrow::Cow::Borrowed(data),
        }
    }
}

/// A JSON file kms-doctor wrote (`--save-evidence`), of at most `max` bytes: a regular file
/// only, UTF-8 (a BOM accepted), of the type asked for. It is parsed as it is read, so that
/// only the typed data is held, never the text as well.
pub fn read_json_file<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    max: u64,
) -> Result<T, CommandError> {
    use std::io::{BufRead, Read};
    let label = path.display().to_string();
    let read_error = |source| CommandError::ReadEvidence {
        path: label.clone(),
        source,
    };
    let file = crate::evidence::open_regular(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > max {
        return Err(read_error(io::Error::other(format!(
            "larger than {} MiB: not an evidence file",
            max >> 20
        ))));
    }
    // The file may grow as it is read: never more than `max` bytes.
    let mut reader = io::BufReader::with_capacity(1 << 16, file.take(max));
    if reader
        .fill_buf()
        .map_err(read_error)?
        .starts_with(b"\xEF\xBB\xBF")
    {
        reader.consume(3);
    }
    serde_json::from_reader(reader).map_err(|source| {
        if source.is_io() {
            read_error(io::Error::other(source.to_string()))
        } else {
            CommandError::InvalidEvidence {
                path: label.clone(),
                source,
            }
        }
    })
}
