//! `kms-doctor diagnose`: gather the evidence (or load a saved file), recover the policy in
//! force from a log archive or Athena when CloudTrail's event history has not got it, diagnose,
//! render. Files it writes are written last-step safe (see `write_new_file`).

use super::output_file::write_new;
use super::{
    AthenaTable, AwsSettings, CommandError, Console, LogSource, Output, Progress, Redaction,
    Session,
};
use crate::diagnosis::diagnose::DiagnoseOptions;
use crate::diagnosis::model::Exit;
use crate::diagnosis::model::{EVIDENCE_VERSION, Evidence, code};
use crate::evidence::gather::{GatherOptions, gather};
use crate::evidence::key::KeyInput;
use crate::evidence::record::KeyRef;
use crate::policy::{Context, Identity};
use crate::report::{self, WriteColor};
use crate::text;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug)]
pub struct DiagnoseRequest {
    pub target: Target,
    pub output: Output,
    /// `--without`: the principals to judge the key without.
    pub without: Vec<crate::diagnosis::model::Removed>,
    /// `--write-fix FILE`.
    pub write_fix: Option<PathBuf>,
    /// `--save-evidence FILE`.
    pub save_evidence: Option<PathBuf>,
    /// Replace existing output files.
    pub force: bool,
    /// The longest chain of `sts:AssumeRole` steps searched from the principal to a restorer.
    pub max_hops: usize,
    /// `--context`, `--absent`: what the key policy's conditions are decided against.
    pub context: Context,
}

#[derive(Debug)]
pub enum Target {
    /// Ask AWS.
    Live {
        aws: AwsSettings,
        ask: Box<LiveRequest>,
    },
    /// Render a saved evidence file, with no AWS access.
    FromEvidence(PathBuf),
}

#[derive(Debug)]
pub struct LiveRequest {
    pub key: KeyInput,
    pub principal: Option<Identity>,
    pub lookback_days: u32,
    /// Search CloudTrail's event history.
    pub cloudtrail: bool,
    /// Least time between two `LookupEvents` calls.
    pub lookup_interval: Duration,
    /// A log archive to recover the policy in force from.
    pub logs: Option<LogSource>,
    /// An Athena table to recover the policy in force from.
    pub athena: Option<AthenaTable>,
}

/// What a diagnosis computed: the evidence it stands on and the report, before any redaction,
/// file or rendering. Every front end (the CLI's presenter below, a server) asks for this.
pub struct Diagnosed {
    pub evidence: Evidence,
    pub report: crate::diagnosis::model::DiagnoseReport,
}

/// The diagnosis of one key: the evidence gathered (or loaded from a saved file), then judged.
/// Async, callable from any runtime; it renders nothing, writes no file and decides no exit
/// status.
pub async fn diagnose(
    req: &DiagnoseRequest,
    progress: &dyn Progress,
) -> Result<Diagnosed, CommandError> {
    let evidence = match &req.target {
        Target::FromEvidence(path) => load_evidence(path)?,
        Target::Live { aws, ask } => gather_live(aws, ask, req.max_hops, progress).await?,
    };
    // Time-conditioned statements are decided at the time the evidence was gathered.
    let now = evidence.collected_at.0;
    let fix_label = req.write_fix.as_ref().map(|p| p.display().to_string());
    let report = crate::diagnosis::diagnose(
        &evidence,
        now,
        DiagnoseOptions {
            write_fix: fix_label.as_deref(),
            max_hops: req.max_hops,
            context: &req.context,
            without: &req.without,
        },
    );
    Ok(Diagnosed { evidence, report })
}

/// The CLI's presenter: the diagnosis, then its files (`--save-evidence`, `--write-fix`), the
/// calls on standard error with `-v`, the report in its format, and the exit status.
pub fn run(
    req: DiagnoseRequest,
    out: &mut dyn WriteColor,
    console: &Console,
) -> Result<Exit, CommandError> {
    let Diagnosed {
        evidence,
        mut report,
    } = super::session::block_on(diagnose(&req, console))??;
    report.calls_listed = console.verbose;
    let mut redaction = Redaction::new(req.output.redact);
    redaction
        .reserve(&evidence)
        .reserve(&report)
        .learn(&evidence)
        .learn(&report);
    if let Some(path) = &req.save_evidence {
        // With --redact, the file is redacted too (and still renders), with the report's
        // pseudonyms.
        let json = serde_json::to_string_pretty(&*redaction.show(&evidence))
            .expect("evidence serializes")
            + "\n";
        write_new(path, json.as_bytes(), req.force)?;
    }
    // A saved evidence file makes no call: its calls were made when it was gathered.
    if console.verbose && matches!(req.target, Target::FromEvidence(_)) {
        console.note(&text!(
            "no AWS call now: the calls below were made when the evidence was gathered, at ",
            code(evidence.collected_at.to_string())
        ));
    }
    console.calls(&redaction.show(&report.calls));
    if let Some(path) = &req.write_fix {
        // The fix is the user's to apply: never redacted.
        match &report.fix {
            Some(fix) => write_new(path, fix.as_bytes(), req.force)?,
            None => console.note(&text!(
                "no fix written to ",
                code(path.display().to_string()),
                ": the account delegation is not what is missing, or the policy in force is not known"
            )),
        }
    }
    report::diagnose::render(&redaction.show(&report), req.output.format, out)?;
    Ok(crate::diagnosis::exit::diagnose(&report))
}

/// The largest evidence file read.
const MAX_EVIDENCE_BYTES: u64 = 64 << 20;

fn load_evidence(path: &Path) -> Result<Evidence, CommandError> {
    let label = path.display().to_string();
    // An evidence file is a few hundred KB; a larger input is not one.
    let evidence: Evidence = super::read_json_file(path, MAX_EVIDENCE_BYTES)?;
    if evidence.evidence_version != EVIDENCE_VERSION {
        return Err(CommandError::EvidenceVersion {
            path: label,
            version: evidence.evidence_version,
        });
    }
    Ok(evidence)
}

async fn gather_live(
    aws: &AwsSettings,
    ask: &LiveRequest,
    max_hops: usize,
    progress: &dyn Progress,
) -> Result<Evidence, CommandError> {
    let session = Session::new(aws.clone());
    let opts = GatherOptions {
        key: ask.key.clone(),
        principal: ask.principal.clone(),
        lookback_days: ask.lookback_days,
        cloudtrail: ask.cloudtrail,
        timeout: session.timeout(),
        lookup_interval: ask.lookup_interval,
        now: chrono::Utc::now(),
        max_hops,
    };
    let connection = session.connection().await;
    let gathered = gather(
        &connection.clients_in(ask.key.region()),
        &session.calls,
        &opts,
        &|pages, events| progress.pages(pages, events),
    )
    .await;
    progress.done();
    let mut evidence = gathered.map_err(|e| CommandError::caller_unknown(e.0, aws))?;
    let key = KeyRef::of(&evidence.key);
    session
        .recover_from_logs(&mut evidence, &key, ask.logs.as_ref(), ask.athena.as_ref())
        .await?;
    evidence.calls = session.calls.snapshot();
    Ok(evidence)
}
