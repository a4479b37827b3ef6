//! `kms-doctor history`: read the key's policy events from one source, build the timeline,
//! render it.

use super::{
    AthenaTable, AwsSettings, CommandError, Console, LogSource, Output, Redaction, Session,
};
use crate::diagnosis::athena::athena_sql;
use crate::diagnosis::model::Exit;
use crate::diagnosis::model::{CallRecord, SourceKind};
use crate::diagnosis::timeline;
use crate::evidence::CallError;
use crate::evidence::key::KeyInput;
use crate::evidence::record::KeyRef;
use crate::evidence::sources::archive::{self, ArchiveOptions};
use crate::evidence::sources::event_history::{self, MAX_PAGES, SearchOptions};
use crate::policy::key_account;
use crate::report::{self, WriteColor};
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug)]
pub struct HistoryRequest {
    pub key: KeyInput,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub source: HistorySource,
    pub output: Output,
    pub aws: AwsSettings,
}

/// Where the events are read from.
#[derive(Debug)]
pub enum HistorySource {
    /// CloudTrail's 90-day event history.
    EventHistory {
        lookup_interval: Duration,
    },
    /// A log archive, read with `threads` workers (0: one per core).
    Archive {
        logs: LogSource,
        threads: usize,
    },
    Athena(AthenaTable),
    /// Print the Athena SQL for `table` and exit.
    PrintSql {
        table: String,
    },
}

fn stamp(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub fn run(
    req: HistoryRequest,
    out: &mut dyn WriteColor,
    console: &Console,
) -> Result<Exit, CommandError> {
    let (since, until) = (stamp(req.since), stamp(req.until));
    let mut redaction = Redaction::new(req.output.redact);
    // `cli` only lets a key ID or ARN through for the sources that need one.
    let key_id = req.key.key_id().unwrap_or_default().to_owned();
    let sql = |table: &str| athena_sql(table, &key_id, since.as_deref(), until.as_deref());
    let mut key = KeyRef {
        arn: req.key.key_arn().map(str::to_owned),
        key_id: req.key.key_id().map(str::to_owned),
    };
    let mut account = req.key.account().map(str::to_owned);
    let (kind, found, calls) = match &req.source {
        HistorySource::PrintSql { table } => {
            writeln!(out, "{};", sql(table))?;
            return Ok(Exit::Clean);
        }
        HistorySource::Archive {
            logs: LogSource::Local(path),
            threads,
        } => {
            // A local archive needs no AWS: no runtime, no credentials.
            let options = ArchiveOptions {
                since: req.since,
                until: req.until,
                threads: *threads,
            };
            let found = archive::scan_local(path, &key, &options)?;
            (SourceKind::Archive, found, Vec::new())
        }
        HistorySource::Archive {
            logs: LogSource::S3(location),
            threads,
        } => {
            let session = Session::new(req.aws.clone());
            let options = ArchiveOptions {
                since: req.since,
                until: req.until,
                threads: *threads,
            };
            let found = super::session::block_on(session.read_s3(location, &key, &options))?;
            let found = settle(found, &session, console, &mut redaction, || {
                format!(
                    "the log archive s3://{}/{}",
                    location.bucket, location.prefix
                )
            })?;
            (SourceKind::Archive, found, session.calls.snapshot())
        }
        HistorySource::Athena(table) => {
            let session = Session::new(req.aws.clone());
            let found =
                super::session::block_on(session.read_athena(table, sql(&table.table), &key))?;
            let found = settle(found, &session, console, &mut redaction, || {
                "the Athena query".to_owned()
            })?;
            (SourceKind::Athena, found, session.calls.snapshot())
        }
        HistorySource::EventHistory { lookup_interval } => {
            let session = Session::new(req.aws.clone());
            let now = Utc::now();
            let oldest = now - chrono::Duration::days(90);
            let window = (
                req.since.unwrap_or(oldest).max(oldest),
                req.until.unwrap_or(now).min(now),
            );
            let search = SearchOptions {
                lookback_days: 90,
                min_interval: *lookup_interval,
                timeout: session.timeout(),
                max_pages: MAX_PAGES,
                deadline: session.calls.deadline(),
            };
            let found = super::session::block_on(async {
                let clients = session.connection().await.clients();
                let progress = |pages, events| console.progress(pages, events);
                let found = event_history::key_timeline(
                    &clients.kms,
                    &clients.cloudtrail,
                    &session.calls,
                    req.key.as_str(),
                    &mut key,
                    &mut account,
                    &search,
                    window,
                    &progress,
                )
                .await;
                console.finish_progress();
                found
            })?;
            let found = settle(found, &session, console, &mut redaction, || {
                "CloudTrail's event history (cloudtrail:LookupEvents)".to_owned()
            })?;
            let Some(found) = found else {
                console.calls(&redaction.show(&session.calls.snapshot()));
                return Err(CommandError::UnresolvedAlias {
                    key: req.key.as_str().to_owned(),
                });
            };
            (SourceKind::Cloudtrail, found, session.calls.snapshot())
        }
    };
    let account = account.or_else(|| key.arn.as_deref().and_then(key_account).map(str::to_owned));
    let report = timeline::build(
        timeline::Found {
            key: req.key.as_str().to_owned(),
            key_arn: key.arn,
            account,
            source: kind,
            events: found.events,
            skipped: found.skipped,
            since,
            until,
            calls,
        },
        Utc::now(),
    );
    redaction.learn(&report);
    console.calls(&redaction.show(&report.calls));
    report::timeline::render(&redaction.show(&report), req.output.format, out)?;
    Ok(Exit::Clean)
}

/// A source that could not be read at all ends the command (exit 2), its calls listed with -v.
fn settle<T>(
    result: Result<T, CallError>,
    session: &Session,
    console: &Console,
    redaction: &mut Redaction,
    source_name: impl FnOnce() -> String,
) -> Result<T, CommandError> {
    result.map_err(|error| {
        let calls: Vec<CallRecord> = session.calls.snapshot();
        console.calls(&redaction.show(&calls));
        CommandError::Source {
            source_name: source_name(),
            error,
        }
    })
}
