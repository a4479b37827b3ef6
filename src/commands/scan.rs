//! `kms-doctor scan`: gather every key of the accounts and Regions asked for, recover the
//! policies nobody can read from CloudTrail (one search per Region), a log archive or Athena,
//! judge each key, render.

use super::session::Recoverable;
use super::{
    AthenaTable, AwsSettings, CommandError, Console, LogSource, Progress, Redaction, Session,
};
use crate::diagnosis::model::Exit;
use crate::evidence::record::KeyRef;
use crate::evidence::scan::{AccountsToScan, RegionsToScan, ScanFailed, ScanOptions, gather_scan};
use crate::report::Format;
use crate::report::WriteColor;
use crate::report::scan::render;
use std::path::PathBuf;
use std::time::Duration;

/// Keys looked up one by one in a log archive or with Athena, at most: each is a pass over
/// the archive or a query.
pub const MAX_RECOVERED_KEYS: usize = 25;

#[derive(Debug)]
pub struct ScanRequest {
    pub aws: AwsSettings,
    pub accounts: AccountsToScan,
    pub role_name: String,
    /// `None`: the Region of the profile or environment.
    pub regions: Option<RegionsToScan>,
    pub concurrency: usize,
    pub account_concurrency: usize,
    pub kms_rate: f64,
    pub format: Format,
    pub redact: bool,
    /// `None`: never fail on findings.
    pub fail_on: Option<crate::diagnosis::model::Severity>,
    pub cloudtrail: bool,
    pub lookback_days: u32,
    pub lookup_interval: Duration,
    pub logs: Option<LogSource>,
    pub athena: Option<AthenaTable>,
    /// `--scp`, `--rcp` files.
    pub scps: Vec<PathBuf>,
    pub rcps: Vec<PathBuf>,
    /// `--config`: else the nearest `.kms-doctor.toml` at or above the working directory.
    pub config: Option<PathBuf>,
    /// `--without`: the principals to judge every key without.
    pub without: Vec<crate::diagnosis::model::Removed>,
    /// `--save-evidence FILE` (`--force`: replace it).
    pub save_evidence: Option<PathBuf>,
    pub force: bool,
}

/// What a scan computed: the evidence read and the report judged from it, before any redaction,
/// file or rendering.
pub struct Scanned {
    pub evidence: crate::diagnosis::model::ScanEvidence,
    pub report: crate::diagnosis::model::ScanReport,
}

/// Every key of the accounts and Regions asked for, read and judged. Async, callable from any
/// runtime; it renders nothing, writes no file and decides no exit status. The files it reads
/// (`--scp`, `--rcp`, the mute list) are read before any AWS call: a file that cannot be used
/// stops it at once.
pub async fn scan(req: &ScanRequest, progress: &dyn Progress) -> Result<Scanned, CommandError> {
    let org = super::read_org_policies(&req.scps, &req.rcps)?;
    // A live scan reads its mute list only from --config or the user's own configuration: a
    // file in the working directory (or above it) is not the user's word.
    let config_path = req
        .config
        .clone()
        .or_else(|| super::config::user_config().filter(|p| p.is_file()));
    let mutes = match config_path.as_deref() {
        Some(path) => super::config::load(path)?.scan.mutes(),
        None => Vec::new(),
    };
    let session = Session::new(req.aws.clone());
    let now = chrono::Utc::now();
    let connection = session.connection().await;
    let regions = match &req.regions {
        Some(r) => r.clone(),
        None => RegionsToScan::List(vec![connection.region().ok_or(CommandError::NoRegion)?]),
    };
    let opts = ScanOptions {
        accounts: req.accounts.clone(),
        role_name: req.role_name.clone(),
        regions,
        concurrency: req.concurrency,
        account_concurrency: req.account_concurrency,
        kms_rate: req.kms_rate,
        cloudtrail: req.cloudtrail,
        lookback_days: req.lookback_days,
        timeout: session.timeout(),
        lookup_interval: req.lookup_interval,
        now,
        // Tags are read only when the mute list needs them: a call per key.
        read_tags: mutes.iter().any(|m| m.tag.is_some()),
    };
    let mut evidence = read_keys(&session, &opts, &req.aws, progress).await?;
    recover_from_logs(&session, req, &mut evidence.keys).await?;
    evidence.calls = session.calls.snapshot();
    let given = Some(&org).filter(|o| !o.is_empty());
    let mut report = crate::diagnosis::scan::scan(&evidence, given, &mutes, &req.without, now);
    report.config = config_path.map(|p| p.display().to_string());
    Ok(Scanned { evidence, report })
}

/// The keys of the accounts and Regions `opts` names, read with scan's calls (for `scan` and
/// `check --live`): who the caller is and the organisation's accounts are what stops it.
pub(super) async fn read_keys(
    session: &Session,
    opts: &ScanOptions,
    aws: &AwsSettings,
    progress: &dyn Progress,
) -> Result<crate::diagnosis::model::ScanEvidence, CommandError> {
    let connection = session.connection().await;
    let gathered = gather_scan(&connection.fleet(), &session.calls, opts, &|t| {
        progress.scan(t)
    })
    .await;
    progress.done();
    gathered.map_err(|e| match e {
        ScanFailed::Caller(e) => CommandError::caller_unknown(e, aws),
        other => CommandError::Organization(other),
    })
}

/// The CLI's presenter: the scan, then `--save-evidence`, the calls on standard error with
/// `-v`, the report in its format, and the exit status.
pub fn run(
    req: ScanRequest,
    out: &mut dyn WriteColor,
    console: &Console,
) -> Result<Exit, CommandError> {
    let Scanned { evidence, report } = super::session::block_on(scan(&req, console))??;
    let mut redaction = Redaction::new(req.redact);
    // The report first: its order is fixed (the evidence's keys are learned in a fixed order
    // too), so the pseudonyms are the same from run to run. The evidence holds the names only
    // its policies say: Sids, policy IDs, condition values.
    redaction
        .reserve(&report)
        .reserve(&evidence)
        .learn(&report)
        .learn(&evidence);
    if let Some(path) = &req.save_evidence {
        // For `check --keys`; with --redact, redacted with the report's pseudonyms.
        let json = serde_json::to_string_pretty(&*redaction.show(&evidence))
            .expect("evidence serializes")
            + "\n";
        super::output_file::write_new(path, json.as_bytes(), req.force)?;
    }
    console.calls(&redaction.show(&evidence.calls));
    render(&redaction.show(&report), req.format, out)?;
    // Nothing could be listed anywhere: the scan did not run.
    if evidence.regions_scanned == 0 && !evidence.errors.is_empty() {
        return Ok(Exit::Failure);
    }
    Ok(crate::diagnosis::exit::scan(&report, req.fail_on))
}

/// The keys whose policy neither `GetKeyPolicy` nor the event history gave, looked up in the
/// log archive or with Athena, one at a time, at most [`MAX_RECOVERED_KEYS`].
async fn recover_from_logs(
    session: &Session,
    req: &ScanRequest,
    keys: &mut [crate::diagnosis::model::KeyEvidence],
) -> Result<(), CommandError> {
    if req.logs.is_none() && req.athena.is_none() {
        return Ok(());
    }
    let unknown = keys
        .iter_mut()
        .filter(|k| !Recoverable::policy_known(&**k))
        .take(MAX_RECOVERED_KEYS);
    for key in unknown {
        let key_ref = KeyRef {
            arn: key.arn.clone(),
            key_id: Some(key.key_id.to_string()),
            primary_region: key.primary_region.clone(),
        };
        session
            .recover_from_logs(key, &key_ref, req.logs.as_ref(), req.athena.as_ref())
            .await?;
    }
    Ok(())
}
