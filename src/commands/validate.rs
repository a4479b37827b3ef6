//! The one validation stage: a command's plain input ([`super::input`]) → its typed, checked
//! request. Every usage error is raised here, for the command line and for any other front end;
//! nothing downstream re-validates.

use super::check::CheckRequest;
use super::diagnose::{DiagnoseRequest, LiveRequest, Target};
use super::explain::{ExplainRequest, PolicyInput};
use super::history::{HistoryRequest, HistorySource};
use super::input::{
    AthenaArgs, AwsArgs, CheckArgs, ContextArgs, DiagnoseArgs, ExplainArgs, FailOn, HistoryArgs,
    MergeArgs, ScanArgs,
};
use super::output_file::{check_target, same_file};
use super::scan::ScanRequest;
use super::{AthenaTable, AwsSettings, LogSource, Output};
use crate::diagnosis::model::InputKind;
use crate::evidence::key::{KeyInput, KeyInputError};
use crate::evidence::scan::{AccountsToScan, RegionsToScan};
use crate::evidence::sources::s3::S3Location;
use crate::policy::{Context, GET_KEY_POLICY, Identity, PUT_KEY_POLICY, PrincipalParseError};
use crate::report::Format;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Key(#[from] KeyInputError),
    #[error(
        "--no-verify-ssl is refused: kms-doctor always verifies the certificates of the endpoints it calls"
    )]
    NoVerifySsl,
    #[error("an argument holds a control character (a line break, an escape): {0}")]
    ControlCharacter(String),
    #[error(
        "invalid --without {0:?}: give a role, user or account root ARN, a 12-digit account ID, or an IAM Identity Center permission set's name"
    )]
    Without(String),
    #[error("invalid {flag}")]
    Principal {
        flag: &'static str,
        #[source]
        source: PrincipalParseError,
    },
    #[error("{0} is not an S3 location: write s3://BUCKET/PREFIX")]
    S3Location(String),
    #[error("{flag} needs the key ID or key ARN: an alias is not in the logs")]
    AliasNotInLogs { flag: &'static str },
    #[error(transparent)]
    Output(#[from] super::output_file::OutputFileError),
    #[error(
        "{0:?} is not an Athena table name: write TABLE or DATABASE.TABLE (letters, digits, _)"
    )]
    AthenaTable(String),
    #[error("{0:?} is not an AWS Region name (like eu-west-1)")]
    Region(String),
    #[error("{0:?} is not an AWS account ID (12 digits)")]
    Account(String),
    #[error("{0:?} is not an organisation ID (o- and 10 to 32 lowercase letters or digits)")]
    OrgId(String),
    #[error("{0:?} is not an IAM role name (letters, digits and +=,.@_-, at most 64)")]
    RoleName(String),
    #[error("--against {path}: {message}")]
    Against { path: String, message: String },
    #[error("{output} would overwrite {input}: choose another file for {flag}")]
    OutputIsInput {
        flag: &'static str,
        output: String,
        input: String,
    },
}

/// `GetKeyPolicy` → `kms:GetKeyPolicy`; anything with a prefix is kept as written.
fn normalize_action(a: &str) -> String {
    if a.contains(':') || a == "*" {
        a.to_owned()
    } else {
        format!("kms:{a}")
    }
}

/// A principal named by `flag`, parsed.
fn principal(flag: &'static str, arn: Option<&str>) -> Result<Option<Identity>, UsageError> {
    arn.map(Identity::parse)
        .transpose()
        .map_err(|source| UsageError::Principal { flag, source })
}

/// `--without`: the principals to judge keys without.
fn without(values: &[String]) -> Result<Vec<crate::diagnosis::model::Removed>, UsageError> {
    use crate::diagnosis::model::{Location, Removal, Removed, RemovedPrincipal};
    values
        .iter()
        .map(|v| {
            let principal = if v.starts_with("arn:") || v.bytes().all(|b| b.is_ascii_digit()) {
                match Identity::parse(v) {
                    Ok(
                        id @ (Identity::Role { .. }
                        | Identity::User { .. }
                        | Identity::Account { .. }),
                    ) => RemovedPrincipal::Iam {
                        arn: id.to_string(),
                    },
                    _ => return Err(UsageError::Without(v.clone())),
                }
            } else if (1..=32).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
            {
                RemovedPrincipal::PermissionSet {
                    name: v.as_str().into(),
                    account: None,
                }
            } else {
                return Err(UsageError::Without(v.clone()));
            };
            Ok(Removed {
                principal,
                how: Removal::Deleted,
                by: "--without".to_owned(),
                resource_type: crate::diagnosis::model::ResourceType::WithoutFlag,
                at: Location::default(),
            })
        })
        .collect()
}

/// `--context` and `--absent` as a request context.
fn context(a: ContextArgs) -> Context {
    let mut context = Context::default();
    for (key, value) in a.context {
        context.push(&key, value);
    }
    for key in &a.absent {
        context.mark_absent(key);
    }
    context
}

pub fn explain(a: ExplainArgs, default_format: Format) -> Result<ExplainRequest, UsageError> {
    Ok(ExplainRequest {
        policy: if a.policy == Path::new("-") {
            PolicyInput::Stdin
        } else {
            PolicyInput::File(a.policy)
        },
        principal: principal("--principal", a.principal.as_deref())?,
        actions: if a.actions.is_empty() {
            vec![GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()]
        } else {
            a.actions.iter().map(|x| normalize_action(x)).collect()
        },
        key_arn: a.key_arn,
        context: context(a.context),
        scps: a.org_policies.scps,
        rcps: a.org_policies.rcps,
        output: Output {
            format: a.format.unwrap_or(default_format),
            redact: false,
        },
    })
}

fn aws(a: &AwsArgs) -> AwsSettings {
    AwsSettings {
        region: a.region.clone(),
        profile: a.profile.clone(),
        timeout: Duration::from_secs(a.timeout),
        max_duration: Duration::from_secs(a.max_duration),
        fallback_region: None,
        endpoint_url: a.endpoint_url.clone(),
    }
}

fn log_source(path: &Path) -> Result<LogSource, UsageError> {
    let text = path.to_string_lossy();
    if text.starts_with("s3://") {
        S3Location::parse(&text)
            .map(LogSource::S3)
            .ok_or_else(|| UsageError::S3Location(text.into_owned()))
    } else {
        Ok(LogSource::Local(path.to_owned()))
    }
}

/// A table name as it goes into SQL: an identifier, optionally qualified.
fn check_table(name: &str) -> Result<(), UsageError> {
    let ok = !name.is_empty()
        && name.split('.').count() <= 2
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(UsageError::AthenaTable(name.to_owned()))
    }
}

fn athena_table(a: &AthenaArgs, default_table: Option<&str>) -> Option<AthenaTable> {
    let table = a.athena_table.as_deref().or(default_table)?;
    Some(AthenaTable {
        table: table.to_owned(),
        database: a.athena_database.clone(),
        workgroup: a.athena_workgroup.clone(),
        output: a.athena_output.clone(),
        max_wait: Duration::from_secs(a.athena_max_wait),
    })
}

/// An output file must not be an input, nor the other output.
fn check_outputs(a: &DiagnoseArgs) -> Result<(), UsageError> {
    let local_logs = a
        .logs
        .as_deref()
        .filter(|p| !p.to_string_lossy().starts_with("s3://"));
    let outputs = [
        (
            "--write-fix",
            a.write_fix.as_deref(),
            a.save_evidence.as_deref(),
        ),
        (
            "--save-evidence",
            a.save_evidence.as_deref(),
            a.write_fix.as_deref(),
        ),
    ];
    for (flag, output, other_output) in outputs {
        let Some(output) = output else { continue };
        check_target(output, a.force)?;
        for input in [a.from_evidence.as_deref(), local_logs, other_output]
            .into_iter()
            .flatten()
        {
            if same_file(output, input) {
                return Err(UsageError::OutputIsInput {
                    flag,
                    output: output.display().to_string(),
                    input: input.display().to_string(),
                });
            }
        }
    }
    Ok(())
}

pub fn diagnose(a: DiagnoseArgs, default_format: Format) -> Result<DiagnoseRequest, UsageError> {
    check_outputs(&a)?;
    if let Some(t) = &a.athena.athena_table {
        check_table(t)?;
    }
    let target = match a.from_evidence {
        Some(path) => Target::FromEvidence(path),
        None => Target::Live {
            aws: aws(&a.aws),
            ask: Box::new(LiveRequest {
                // clap requires KEY without --from-evidence.
                key: KeyInput::parse(a.key.as_deref().unwrap_or_default())?,
                principal: principal("--principal", a.principal.as_deref())?,
                lookback_days: a.lookback_days,
                cloudtrail: !a.no_cloudtrail,
                lookup_interval: Duration::from_millis(a.aws.lookup_interval_ms),
                logs: a.logs.as_deref().map(log_source).transpose()?,
                athena: athena_table(&a.athena, None),
            }),
        },
    };
    Ok(DiagnoseRequest {
        without: without(&a.without)?,
        target,
        output: Output {
            format: a.format.unwrap_or(default_format),
            redact: a.redact,
        },
        write_fix: a.write_fix,
        save_evidence: a.save_evidence,
        force: a.force,
        max_hops: usize::from(a.max_hops),
        context: context(a.context),
    })
}

pub fn history(a: HistoryArgs, default_format: Format) -> Result<HistoryRequest, UsageError> {
    let key = KeyInput::parse(&a.key)?;
    if let Some(t) = &a.athena.athena_table {
        check_table(t)?;
    }
    let needs_id = |flag| {
        if key.key_id().is_some() {
            Ok(())
        } else {
            Err(UsageError::AliasNotInLogs { flag })
        }
    };
    let source = if a.print_athena_sql {
        needs_id("--print-athena-sql")?;
        HistorySource::PrintSql {
            table: a
                .athena
                .athena_table
                .clone()
                .unwrap_or_else(|| "cloudtrail_logs".to_owned()),
        }
    } else if let Some(table) = athena_table(&a.athena, None) {
        needs_id("--athena-table")?;
        HistorySource::Athena(table)
    } else if let Some(path) = &a.logs {
        needs_id("--logs")?;
        HistorySource::Archive {
            logs: log_source(path)?,
            threads: a.threads,
        }
    } else {
        HistorySource::EventHistory {
            lookup_interval: Duration::from_millis(a.aws.lookup_interval_ms),
        }
    };
    Ok(HistoryRequest {
        key,
        since: a.since,
        until: a.until,
        source,
        output: Output {
            format: a.format.unwrap_or(default_format),
            redact: a.redact,
        },
        aws: aws(&a.aws),
    })
}

fn fail_on(f: FailOn) -> Option<crate::diagnosis::model::Severity> {
    match f {
        FailOn::Error => Some(crate::diagnosis::model::Severity::Error),
        FailOn::Warning => Some(crate::diagnosis::model::Severity::Warning),
        FailOn::Never => None,
    }
}

fn check_account(id: &str) -> Result<(), UsageError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(UsageError::Account(id.to_owned()))
    }
}

/// The baseline is never written over a file the check reads (a policy, a template, the
/// configuration, saved keys); files found by walking a directory are compared once read.
fn baseline_not_an_input(a: &CheckArgs) -> Result<(), UsageError> {
    let Some(output) = &a.write_baseline else {
        return Ok(());
    };
    let inputs = a.paths.iter().map(std::path::PathBuf::as_path).chain(
        [a.config.as_deref(), a.keys.as_deref(), a.against.as_deref()]
            .into_iter()
            .flatten(),
    );
    let policies = a.org_policies.scps.iter().chain(&a.org_policies.rcps);
    for input in inputs.chain(policies.map(std::path::PathBuf::as_path)) {
        if same_file(output, input) {
            return Err(UsageError::OutputIsInput {
                flag: "--write-baseline",
                output: output.display().to_string(),
                input: input.display().to_string(),
            });
        }
    }
    Ok(())
}

pub fn check(a: CheckArgs) -> Result<CheckRequest, UsageError> {
    baseline_not_an_input(&a)?;
    if let Some(id) = &a.account {
        check_account(id)?;
    }
    for r in &a.regions {
        check_region(r)?;
    }
    check_role_name(&a.role_name)?;
    for id in &a.accounts {
        check_account(id)?;
    }
    let mut live_regions = a.regions.clone();
    live_regions.sort();
    live_regions.dedup();
    let live = a.live.then(|| crate::commands::check::LiveRead {
        aws: AwsSettings {
            region: live_regions.first().cloned(),
            profile: a.profile.clone(),
            timeout: Duration::from_secs(a.timeout),
            max_duration: Duration::from_secs(a.max_duration),
            fallback_region: a.all_regions.then(|| "us-east-1".to_owned()),
            endpoint_url: a.endpoint_url.clone(),
        },
        role_name: a.role_name.clone(),
        accounts: a.accounts.clone(),
        org: a.org,
        regions: if a.all_regions {
            Some(RegionsToScan::All)
        } else if live_regions.is_empty() {
            None
        } else {
            Some(RegionsToScan::List(live_regions.clone()))
        },
    });
    let deployer = principal("--deployer", a.deployer.as_deref())?;
    let keep = a
        .keep
        .iter()
        .map(|k| {
            Identity::parse(k).map_err(|source| UsageError::Principal {
                flag: "--keep",
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let given = a.account.clone().or_else(|| {
        deployer
            .as_ref()
            .and_then(|d| d.account().map(str::to_owned))
    });
    let partition = deployer
        .as_ref()
        .and_then(|d| d.partition().map(str::to_owned))
        .unwrap_or_else(|| "aws".to_owned());
    let mut settings = crate::evidence::iac::Settings {
        partition,
        region: a
            .regions
            .first()
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_owned()),
        ..Default::default()
    };
    if let Some(account) = given {
        settings.account = account;
        settings.account_given = true;
    }
    let against = a
        .against
        .as_deref()
        .map(|path| against(path, &settings))
        .transpose()?;
    if let Some(id) = &a.org_id {
        // `o-` and 10 to 32 lowercase letters or digits (Organizations API Reference,
        // Organization.Id).
        let rest = id.strip_prefix("o-").unwrap_or_default();
        if !(10..=32).contains(&rest.len())
            || !rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(UsageError::OrgId(id.clone()));
        }
    }
    Ok(CheckRequest {
        org_id: a.org_id,
        region: match a.regions.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
        live,
        keys: a.keys,
        scps: a.org_policies.scps,
        rcps: a.org_policies.rcps,
        paths: a.paths,
        settings,
        deployer,
        keep,
        against,
        format: a.format.unwrap_or(Format::Text),
        fail_on: a.fail_on.map(fail_on),
        config: a.config,
        baseline: a.baseline,
        write_baseline: a.write_baseline,
        force: a.force,
        ignore_unknown: a.ignore_unknown,
        allow_empty: a.allow_empty,
        follow_links: a.follow_links,
        threads: a.threads,
    })
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: lowercase words and a number.
/// `check --against OLD`: a key policy file, or a CloudFormation template (the old version of
/// the templates checked), read as `check` reads its inputs.
fn against(
    path: &Path,
    settings: &crate::evidence::iac::Settings,
) -> Result<crate::commands::check::Against, UsageError> {
    use crate::commands::check::Against;
    let label = path.display().to_string();
    let read = crate::evidence::iac::read_input(
        &crate::evidence::iac::Input {
            path: path.to_owned(),
            explicit: true,
        },
        settings,
    )
    .expect("an explicit input is always answered");
    if let Some(e) = read.error {
        return Err(UsageError::Against {
            path: label,
            message: e.message,
        });
    }
    match read.kind {
        Some(InputKind::Cloudformation) => Ok(Against::Template(Box::new(read))),
        Some(InputKind::Policy) => match read
            .keys
            .into_iter()
            .next()
            .and_then(|k| k.policy.into_stated())
        {
            Some(p) => Ok(Against::Policy(p)),
            None => Err(UsageError::Against {
                path: label,
                message: "not a key policy file".to_owned(),
            }),
        },
        _ => Err(UsageError::Against {
            path: label,
            message: "neither a key policy file nor a CloudFormation template".to_owned(),
        }),
    }
}

/// An IAM role name, as `--role-name` gives it.
fn check_role_name(name: &str) -> Result<(), UsageError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(UsageError::RoleName(name.to_owned()))
    }
}

fn check_region(r: &str) -> Result<(), UsageError> {
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && r.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok {
        Ok(())
    } else {
        Err(UsageError::Region(r.to_owned()))
    }
}

pub fn merge(a: MergeArgs) -> Result<super::merge::MergeRequest, UsageError> {
    Ok(super::merge::MergeRequest {
        reports: a.reports,
        format: a.format.unwrap_or(Format::Text),
        fail_on: fail_on(a.fail_on),
        redact: a.redact,
        judging: super::scan::Judging {
            without: without(&a.without)?,
            scps: a.org_policies.scps,
            rcps: a.org_policies.rcps,
            config: a.config,
        },
    })
}

pub fn scan(a: ScanArgs) -> Result<ScanRequest, UsageError> {
    for r in &a.regions {
        check_region(r)?;
    }
    for id in &a.accounts {
        check_account(id)?;
    }
    check_role_name(&a.role_name)?;
    if let Some(t) = &a.athena.athena_table {
        check_table(t)?;
    }
    let mut accounts_listed = a.accounts.clone();
    accounts_listed.sort();
    accounts_listed.dedup();
    let mut regions = a.regions.clone();
    regions.sort();
    regions.dedup();
    Ok(ScanRequest {
        without: without(&a.without)?,
        save_evidence: a.save_evidence.clone(),
        force: a.force,
        scps: a.org_policies.scps.clone(),
        rcps: a.org_policies.rcps.clone(),
        config: a.config.clone(),
        aws: AwsSettings {
            region: regions.first().cloned(),
            profile: a.profile.clone(),
            timeout: Duration::from_secs(a.timeout),
            max_duration: Duration::from_secs(a.max_duration),
            // Every Region is listed per account: the home Region only serves STS and
            // Organizations, which answer in us-east-1 for the commercial partition.
            fallback_region: a.all_regions.then(|| "us-east-1".to_owned()),
            endpoint_url: a.endpoint_url.clone(),
        },
        accounts: if a.org {
            AccountsToScan::Organization
        } else if accounts_listed.is_empty() {
            AccountsToScan::Caller
        } else {
            AccountsToScan::List(accounts_listed)
        },
        role_name: a.role_name,
        regions: if a.all_regions {
            Some(RegionsToScan::All)
        } else if regions.is_empty() {
            None
        } else {
            Some(RegionsToScan::List(regions))
        },
        concurrency: usize::from(a.concurrency),
        account_concurrency: usize::from(a.account_concurrency),
        shard: a.shard,
        kms_rate: f64::from(a.kms_rate),
        format: a.format.unwrap_or(Format::Text),
        redact: a.redact,
        fail_on: fail_on(a.fail_on),
        cloudtrail: !a.no_cloudtrail,
        lookback_days: a.lookback_days,
        lookup_interval: Duration::from_millis(a.lookup_interval_ms),
        logs: a.logs.as_deref().map(log_source).transpose()?,
        athena: athena_table(&a.athena, None),
    })
}
