//! `kms-doctor check`: read the policy files, templates and plans named (directories walked),
//! judge every key policy they would deploy, render. Offline: no credentials, no network.

use super::{CommandError, config};
use crate::diagnosis::check::{CheckOptions, check};
use crate::diagnosis::model::Exit;
use crate::diagnosis::model::code;
use crate::diagnosis::model::{DeclaredPolicy, Severity};
use crate::evidence::iac::{self, Settings};
use crate::policy::Identity;
use crate::report::Format;
use crate::report::WriteColor;
use crate::report::check::render;
use crate::text;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The version of the baseline file's format.
const BASELINE_VERSION: u32 = 1;
/// Largest baseline read.
const MAX_BASELINE_BYTES: u64 = 16 << 20;

/// A baseline file: the fingerprints (file, resource, code) of the findings known when it was
/// written.
#[derive(serde::Serialize, serde::Deserialize)]
struct Baseline {
    version: u32,
    findings: Vec<BaselineEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BaselineEntry {
    fingerprint: String,
}

fn read_baseline(path: &Path) -> Result<BTreeSet<String>, CommandError> {
    use std::io::Read as _;
    let failed = |message: String| CommandError::Baseline {
        path: path.display().to_string(),
        message,
    };
    let mut text = String::new();
    crate::evidence::open_regular(path)
        .and_then(|f| f.take(MAX_BASELINE_BYTES).read_to_string(&mut text))
        .map_err(|e| failed(e.to_string()))?;
    let baseline: Baseline = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    if baseline.version != BASELINE_VERSION {
        return Err(failed(format!(
            "version {}; this kms-doctor reads version {BASELINE_VERSION}",
            baseline.version
        )));
    }
    Ok(baseline
        .findings
        .into_iter()
        .map(|f| f.fingerprint)
        .collect())
}

/// Whether `path` may take a baseline: not a file the check read, and, when it exists, a
/// baseline already (it is rewritten as it moves on) unless `force`.
fn baseline_target(
    path: &Path,
    files: &[crate::diagnosis::model::InputFile],
    force: bool,
) -> Result<(), CommandError> {
    if let Some(f) = files
        .iter()
        .find(|f| super::output_file::same_file(path, Path::new(&f.path)))
    {
        return Err(CommandError::OutputIsInput {
            output: path.display().to_string(),
            input: f.path.clone(),
        });
    }
    super::output_file::check_target(path, true)?;
    if !force && path.exists() && read_baseline(path).is_err() {
        return Err(CommandError::NotABaseline {
            path: path.display().to_string(),
        });
    }
    Ok(())
}

/// Every finding that counts now (not one accepted inline or by the configuration).
fn write_baseline(
    path: &Path,
    report: &crate::diagnosis::model::CheckReport,
) -> Result<(), CommandError> {
    let mut fingerprints: BTreeSet<String> = BTreeSet::new();
    for f in &report.files {
        for r in &f.resources {
            for l in &r.findings {
                let accepted =
                    l.finding.suppressed.as_ref().is_some_and(|s| {
                        s.kind != crate::diagnosis::model::SuppressionKind::Baseline
                    });
                if !accepted {
                    fingerprints.insert(crate::diagnosis::model::fingerprint(
                        &f.path,
                        &r.name,
                        l.finding.code,
                    ));
                }
            }
        }
    }
    let baseline = Baseline {
        version: BASELINE_VERSION,
        findings: fingerprints
            .into_iter()
            .map(|fingerprint| BaselineEntry { fingerprint })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&baseline).expect("a baseline serializes") + "\n";
    // A baseline is rewritten as it moves on.
    super::output_file::write_new(path, json.as_bytes(), true)?;
    Ok(())
}

/// `--live`: the keys of the accounts whose principals the change removes (and of
/// `--accounts`), read as `scan` reads them (no call at all when the change removes no one). A
/// permission set removed in every account reads the caller's account, unless accounts are
/// named.
async fn read_live(
    live: &LiveRead,
    files: &[crate::diagnosis::model::InputFile],
    progress: &dyn super::Progress,
) -> Result<Option<crate::diagnosis::model::ScanEvidence>, CommandError> {
    use crate::diagnosis::model::RemovedPrincipal;
    use crate::evidence::scan::{AccountsToScan, RegionsToScan, ScanOptions};
    let mut accounts: BTreeSet<String> = live.accounts.iter().cloned().collect();
    let mut callers = false;
    for r in files.iter().flat_map(|f| &f.removed) {
        match &r.principal {
            RemovedPrincipal::Iam { arn } => {
                if let Some(a) = Identity::parse(arn)
                    .ok()
                    .and_then(|i| i.account().map(str::to_owned))
                {
                    accounts.insert(a);
                }
            }
            RemovedPrincipal::PermissionSet {
                account: Some(a), ..
            } => {
                accounts.insert(a.clone());
            }
            RemovedPrincipal::PermissionSet { account: None, .. } => callers = true,
        }
    }
    let removes_any = files.iter().any(|f| !f.removed.is_empty());
    if !removes_any || (accounts.is_empty() && !callers && !live.org) {
        return Ok(None);
    }
    let session = super::Session::new(live.aws.clone());
    let now = chrono::Utc::now();
    let connection = session.connection().await;
    let regions = match &live.regions {
        Some(r) => r.clone(),
        None => RegionsToScan::List(vec![connection.region().ok_or(CommandError::NoRegion)?]),
    };
    let opts = ScanOptions {
        accounts: if live.org {
            AccountsToScan::Organization
        } else if accounts.is_empty() {
            AccountsToScan::Caller
        } else {
            AccountsToScan::List(accounts.into_iter().collect())
        },
        role_name: live.role_name.clone(),
        regions,
        concurrency: LIVE_CONCURRENCY,
        account_concurrency: 16,
        shard: None,
        kms_rate: LIVE_KMS_RATE,
        cloudtrail: true,
        lookback_days: 90,
        timeout: session.timeout(),
        lookup_interval: std::time::Duration::from_millis(500),
        now,
        read_tags: false,
    };
    let mut evidence = super::scan::read_keys(&session, &opts, &live.aws, progress).await?;
    evidence.calls = session.calls.snapshot();
    Ok(Some(evidence))
}

/// `--live` reads as `scan` does by default.
const LIVE_CONCURRENCY: usize = 16;
const LIVE_KMS_RATE: f64 = 400.0;

/// The largest saved scan read (an organisation's keys, their policies and calls).
const MAX_SAVED_SCAN_BYTES: u64 = 512 << 20;

/// `--against OLD`.
#[derive(Debug)]
pub enum Against {
    /// The key policy in force now, for a policy file.
    Policy(DeclaredPolicy),
    /// The old version of the templates checked.
    Template(Box<crate::diagnosis::model::InputFile>),
}

#[derive(Debug)]
pub struct CheckRequest {
    pub paths: Vec<PathBuf>,
    pub settings: Settings,
    pub deployer: Option<Identity>,
    pub keep: Vec<Identity>,
    /// `--against OLD`: read and recognised in validation.
    pub against: Option<Against>,
    pub format: Format,
    /// `--fail-on` when given (`Some(None)`: never fail on findings); else the configuration
    /// file's, else errors.
    pub fail_on: Option<Option<Severity>>,
    /// `--config`: else the nearest `.kms-doctor.toml`.
    pub config: Option<PathBuf>,
    /// `--baseline`, `--write-baseline`.
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    /// `--force`: replace the `--write-baseline` file even when it is not a baseline.
    pub force: bool,
    /// Named files that are none of the three kinds are skipped, not errors.
    pub ignore_unknown: bool,
    /// No input found is a success, not a usage error.
    pub allow_empty: bool,
    /// Follow links out of a directory walked (still not onto another filesystem).
    pub follow_links: bool,
    /// Files read at once (0: one per core).
    pub threads: usize,
    /// `--scp`, `--rcp` files.
    pub scps: Vec<PathBuf>,
    pub rcps: Vec<PathBuf>,
    /// `--keys FILE`: a saved scan, the keys that exist.
    pub keys: Option<PathBuf>,
    /// `--live`: read the keys that exist from AWS.
    pub live: Option<LiveRead>,
    /// `--org-id`: the organisation the keys' principals are in.
    pub org_id: Option<String>,
    /// `--region`, when exactly one was given: where the templates' keys are deployed.
    pub region: Option<String>,
}

/// `check --live`: how the keys that exist are read (scan's calls, for the accounts whose
/// principals the change removes).
#[derive(Debug)]
pub struct LiveRead {
    pub aws: super::session::AwsSettings,
    pub role_name: String,
    /// `--accounts`: read beside the accounts of the principals removed.
    pub accounts: Vec<String>,
    /// `--org`: read every account of the organisation.
    pub org: bool,
    /// `None`: the Region of the profile or environment.
    pub regions: Option<crate::evidence::scan::RegionsToScan>,
}

/// What a check computed: the report, the calls a `--live` read made, and the severity that
/// fails (`--fail-on`, else the configuration file's, else errors).
pub struct Checked {
    pub report: crate::diagnosis::model::CheckReport,
    /// The calls of the `--live` read, when one was made.
    pub calls: Option<Vec<crate::diagnosis::model::CallRecord>>,
    pub fail_on: Option<Severity>,
    /// Configuration files found but not used: anyone but the user could have put them there.
    pub passed_over: Vec<(PathBuf, config::Untrusted)>,
}

/// The files, templates and plans named, read and judged (with `--keys` or `--live`, against
/// the keys that exist). Async, callable from any runtime; it renders nothing, writes no file
/// and decides no exit status. No input at all is an error unless `allow_empty`.
pub async fn check_iac(
    req: &CheckRequest,
    progress: &dyn super::Progress,
) -> Result<Checked, CommandError> {
    let (against, old_template) = match &req.against {
        Some(Against::Policy(p)) => (Some(p.clone()), None),
        Some(Against::Template(t)) => (None, Some(t)),
        None => (None, None),
    };
    let org = super::read_org_policies(&req.scps, &req.rcps)?;
    let found = match (&req.config, req.paths.first()) {
        (Some(path), _) => config::Found {
            path: Some(path.clone()),
            ..Default::default()
        },
        (None, Some(first)) => config::find(first),
        (None, None) => config::Found::default(),
    };
    let config_path = found.path.clone();
    let config = config_path
        .as_deref()
        .map(config::load)
        .transpose()?
        .unwrap_or_default();
    let mut settings = req.settings.clone();
    if let Some(account) = config
        .check
        .account
        .as_ref()
        .filter(|_| !settings.account_given)
    {
        settings.account = account.clone();
        settings.account_given = true;
    }
    let baseline = match &req.baseline {
        Some(path) => read_baseline(path)?,
        None => BTreeSet::new(),
    };
    let fail_on = req
        .fail_on
        .or(config.check.fail_on.map(config::FailOnWord::severity))
        .unwrap_or(Some(Severity::Error));
    // `--keys FILE`: the evidence `scan --save-evidence` wrote.
    let existing = req
        .keys
        .as_deref()
        .map(|path| super::read_json_file(path, MAX_SAVED_SCAN_BYTES))
        .transpose()?;
    let (mut inputs, mut files) = iac::expand(&req.paths, req.follow_links);
    if req.ignore_unknown {
        for input in &mut inputs {
            input.explicit = false;
        }
    }
    files.extend(iac::read_all(&inputs, &settings, req.threads));
    if let Some(path) = &req.write_baseline {
        baseline_target(path, &files, req.force)?;
    }
    if let Some(old) = old_template {
        for f in files
            .iter_mut()
            .filter(|f| f.kind == Some(crate::diagnosis::model::InputKind::Cloudformation))
        {
            iac::against_template(f, old, &settings);
        }
    }
    let (existing, calls) = match (&req.live, existing) {
        (Some(live), None) => {
            let read = read_live(live, &files, progress).await?;
            let calls = read.as_ref().map(|e| e.calls.clone());
            (read, calls)
        }
        (_, existing) => (existing, None),
    };
    let mut report = check(
        &files,
        &CheckOptions {
            deployer: req.deployer.clone(),
            keep: req.keep.clone(),
            against,
            org,
            ignores: config.check.ignores(),
            baseline,
            existing,
            org_id: req.org_id.clone(),
            region: req.region.clone(),
        },
        chrono::Utc::now(),
    );
    // Nothing to check: a typo in a path, or a pipeline pointed at the wrong directory, must
    // not read as a pass.
    if report.summary.files == 0 && !req.allow_empty {
        return Err(CommandError::NothingToCheck {
            paths: req
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    report.config = config_path.map(|p| p.display().to_string());
    Ok(Checked {
        report,
        calls,
        fail_on,
        passed_over: found.passed_over,
    })
}

/// The CLI's presenter: the check, then each file it could not read on standard error
/// (whatever the format), the calls with `-v`, `--write-baseline`, the report, and the exit
/// status.
pub fn run(
    req: CheckRequest,
    out: &mut dyn WriteColor,
    console: &super::Console,
) -> Result<Exit, CommandError> {
    let Checked {
        report,
        calls,
        fail_on,
        passed_over,
    } = super::session::block_on(check_iac(&req, console))??;
    for (path, why) in &passed_over {
        console.note(&text!(
            "not using ",
            code(path.display().to_string()),
            ": ",
            why.as_str(),
            " (pass it with --config to use it)"
        ));
    }
    if let Some(calls) = &calls {
        console.calls(calls);
    }
    // An unreadable file is an error, and errors go to standard error too, whatever the format:
    // `check infra | cat` or a JSON report in CI still says it where a person looks.
    for f in &report.files {
        if let Some(why) = &f.error {
            let place = match f.error_location.as_ref().and_then(|l| l.line.zip(l.column)) {
                Some((line, column)) => format!("{}:{line}:{column}", f.path),
                None => f.path.clone(),
            };
            console.note(&text!(
                "cannot check ",
                code(place),
                ": ",
                code(why.clone())
            ));
        }
    }
    if let Some(path) = &req.write_baseline {
        write_baseline(path, &report)?;
    }
    render(&report, req.format, out)?;
    Ok(crate::diagnosis::exit::check(&report, fail_on))
}
