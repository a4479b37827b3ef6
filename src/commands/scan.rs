//! `kms-doctor scan`: gather every key of the accounts and Regions asked for, recover the
//! policies nobody can read from CloudTrail (one search per Region), a log archive or Athena,
//! judge each key, render.

use super::session::Recoverable;
use super::{
    AthenaTable, AwsSettings, CommandError, Console, LogSource, Progress, Redaction, Session,
};
use crate::diagnosis::model::{Exit, ShardOf, ShardReport};
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

/// Largest shard report `merge` reads.
pub const MAX_SHARD_REPORT_BYTES: u64 = 512 << 20;

#[derive(Debug)]
pub struct ScanRequest {
    pub aws: AwsSettings,
    pub accounts: AccountsToScan,
    pub role_name: String,
    /// `None`: the Region of the profile or environment.
    pub regions: Option<RegionsToScan>,
    pub concurrency: usize,
    pub account_concurrency: usize,
    /// `--shard I/N`.
    pub shard: Option<crate::evidence::scan::Shard>,
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
    let judging = req.judging().load()?;
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
        shard: req.shard,
        kms_rate: req.kms_rate,
        cloudtrail: req.cloudtrail,
        lookback_days: req.lookback_days,
        timeout: session.timeout(),
        lookup_interval: req.lookup_interval,
        now,
        // Tags are read only when the mute list needs them: a call per key.
        read_tags: judging.mutes.iter().any(|m| m.tag.is_some()),
    };
    let mut evidence = read_keys(&session, &opts, &req.aws, progress).await?;
    recover_from_logs(&session, req, &mut evidence.keys).await?;
    evidence.calls = session.calls.snapshot();
    let mut report = judging.judge(&evidence, now);
    if let Some(shard) = req.shard {
        let of = ShardOf {
            index: shard.index,
            count: shard.count,
            scan: format!("{}; {}", scope_of(req, &opts), judging.fingerprint()),
        };
        evidence.shard = Some(of.clone());
        report.shard = Some(ShardReport {
            of,
            evidence: Box::new(evidence.clone()),
        });
    }
    Ok(Scanned { evidence, report })
}

/// What makes two shards parts of one scan: what it read (accounts, Regions, role, sources).
fn scope_of(req: &ScanRequest, opts: &ScanOptions) -> String {
    let accounts = match &opts.accounts {
        AccountsToScan::Caller => "the caller's".to_owned(),
        AccountsToScan::Organization => "the organisation's".to_owned(),
        AccountsToScan::List(ids) => ids.join(","),
    };
    let regions = match &opts.regions {
        RegionsToScan::All => "all".to_owned(),
        RegionsToScan::List(r) => r.join(","),
    };
    format!(
        "accounts {accounts}; Regions {regions}; role {}; CloudTrail {}; lookback {} days; logs {}; Athena {}",
        opts.role_name,
        opts.cloudtrail,
        opts.lookback_days,
        req.logs.is_some(),
        req.athena.is_some(),
    )
}

/// What judges a scan's evidence besides the evidence: `--without`, `--scp`/`--rcp`, the mute
/// list. `scan` and `merge` judge with it alike.
#[derive(Debug, Clone)]
pub struct Judging {
    pub without: Vec<crate::diagnosis::model::Removed>,
    pub scps: Vec<PathBuf>,
    pub rcps: Vec<PathBuf>,
    /// `--config`: else the user's own configuration file.
    pub config: Option<PathBuf>,
}

/// [`Judging`], its files read.
pub struct Loaded {
    without: Vec<crate::diagnosis::model::Removed>,
    org: crate::policy::OrgPolicies,
    pub mutes: Vec<crate::diagnosis::model::KeyMute>,
    config_path: Option<PathBuf>,
}

impl Judging {
    /// Reads the files (before any AWS call: a file that cannot be used stops the run at once).
    pub fn load(&self) -> Result<Loaded, CommandError> {
        let org = super::read_org_policies(&self.scps, &self.rcps)?;
        // A live scan reads its mute list only from --config or the user's own configuration:
        // a file in the working directory (or above it) is not the user's word.
        let config_path = self
            .config
            .clone()
            .or_else(|| super::config::user_config().filter(|p| p.is_file()));
        let mutes = match config_path.as_deref() {
            Some(path) => super::config::load(path)?.scan.mutes(),
            None => Vec::new(),
        };
        Ok(Loaded {
            without: self.without.clone(),
            org,
            mutes,
            config_path,
        })
    }
}

impl Loaded {
    /// The one judgement of every key of the evidence, as `scan` reports it.
    pub fn judge(
        &self,
        evidence: &crate::diagnosis::model::ScanEvidence,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::diagnosis::model::ScanReport {
        let given = Some(&self.org).filter(|o| !o.is_empty());
        let mut report =
            crate::diagnosis::scan::scan(evidence, given, &self.mutes, &self.without, now);
        report.config = self.config_path.as_ref().map(|p| p.display().to_string());
        report
    }

    /// What shapes the judgement, as text two runs compare: the organisation's policies'
    /// documents (not the paths they were read from, which differ from machine to machine),
    /// the mute list and the principals judged gone, as read.
    pub fn fingerprint(&self) -> String {
        let documents = |levels: &[crate::policy::Level]| -> Vec<String> {
            levels
                .iter()
                .flat_map(|l| &l.policies)
                .map(|p| format!("{:?}", p.document))
                .collect()
        };
        let described = format!(
            "{:?} {:?} {:?} {:?}",
            documents(&self.org.scps),
            documents(&self.org.rcps),
            self.mutes,
            self.without
        );
        // FNV-1a, 64 bits: the same on every machine.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in described.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("judged with {hash:016x}")
    }
}

impl ScanRequest {
    pub fn judging(&self) -> Judging {
        Judging {
            without: self.without.clone(),
            scps: self.scps.clone(),
            rcps: self.rcps.clone(),
            config: self.config.clone(),
        }
    }
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
