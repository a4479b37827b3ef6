//! `kms-doctor history`: read the key's policy events from one source, build the timeline,
//! render it.

use super::{
    AthenaTable, AwsSettings, CommandError, Console, LogSource, Output, Progress, Redaction,
    Session,
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

/// What a history computed: the timeline, or (`--print-sql`) the Athena query to run.
pub enum History {
    Timeline(Box<crate::diagnosis::model::TimelineReport>),
    Sql(String),
}

/// A source that could not be read at all, with the calls made before it stopped.
pub struct HistoryFailed {
    pub error: Box<CommandError>,
    pub calls: Vec<CallRecord>,
}

impl<E: Into<CommandError>> From<E> for HistoryFailed {
    fn from(e: E) -> Self {
        HistoryFailed {
            error: Box::new(e.into()),
            calls: Vec::new(),
        }
    }
}

/// The key's policy events from the one source asked for, as a timeline. Async, callable from
/// any runtime; it renders nothing and decides no exit status.
pub async fn history(
    req: &HistoryRequest,
    progress: &dyn Progress,
) -> Result<History, HistoryFailed> {
    let (since, until) = (stamp(req.since), stamp(req.until));
    // `cli` only lets a key ID or ARN through for the sources that need one.
    let key_id = req.key.key_id().unwrap_or_default().to_owned();
    let sql = |table: &str| athena_sql(table, &key_id, since.as_deref(), until.as_deref());
    let mut key = KeyRef {
        arn: req.key.key_arn().map(str::to_owned),
        key_id: req.key.key_id().map(str::to_owned),
        primary_region: None,
    };
    let mut account = req.key.account().map(str::to_owned);
    let (kind, found, calls) = match &req.source {
        HistorySource::PrintSql { table } => return Ok(History::Sql(sql(table))),
        HistorySource::Archive {
            logs: LogSource::Local(path),
            threads,
        } => {
            // A local archive needs no AWS: no credentials.
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
            let found = session.read_s3(location, &key, &options).await;
            let found = settle(found, &session, || {
                format!(
                    "the log archive s3://{}/{}",
                    location.bucket, location.prefix
                )
            })?;
            (SourceKind::Archive, found, session.calls.snapshot())
        }
        HistorySource::Athena(table) => {
            let session = Session::new(req.aws.clone());
            let found = session.read_athena(table, sql(&table.table), &key).await;
            let found = settle(found, &session, || "the Athena query".to_owned())?;
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
            let clients = session.connection().await.clients_in(req.key.region());
            let found = event_history::key_timeline(
                &clients.kms,
                &clients.cloudtrail,
                &session.calls,
                req.key.as_str(),
                &mut key,
                &mut account,
                &search,
                window,
                &|pages, events| progress.pages(pages, events),
            )
            .await;
            progress.done();
            let found = settle(found, &session, || {
                "CloudTrail's event history (cloudtrail:LookupEvents)".to_owned()
            })?;
            let Some(found) = found else {
                return Err(HistoryFailed {
                    error: Box::new(CommandError::UnresolvedAlias {
                        key: req.key.as_str().to_owned(),
                    }),
                    calls: session.calls.snapshot(),
                });
            };
            (SourceKind::Cloudtrail, found, session.calls.snapshot())
        }
    };
    let account = account.or_else(|| key.arn.as_deref().and_then(key_account).map(str::to_owned));
    Ok(History::Timeline(Box::new(timeline::build(
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
    ))))
}

/// The CLI's presenter: the SQL, or the timeline rendered; a source that could not be read ends
/// the command (exit 2), its calls listed with -v.
pub fn run(
    req: HistoryRequest,
    out: &mut dyn WriteColor,
    console: &Console,
) -> Result<Exit, CommandError> {
    let mut redaction = Redaction::new(req.output.redact);
    match super::session::block_on(history(&req, console))? {
        Err(failed) => {
            console.calls(&redaction.show(&failed.calls));
            Err(*failed.error)
        }
        Ok(History::Sql(sql)) => {
            writeln!(out, "{sql};")?;
            Ok(Exit::Clean)
        }
        Ok(History::Timeline(report)) => {
            redaction.learn(&*report);
            console.calls(&redaction.show(&report.calls));
            report::timeline::render(&redaction.show(&*report), req.output.format, out)?;
            // A timeline cut short is a partial answer: exit 1, as a partial scan.
            Ok(if report.complete {
                Exit::Clean
            } else {
                Exit::Findings
            })
        }
    }
}

/// A source that could not be read at all: the error, with the calls made.
fn settle<T>(
    result: Result<T, CallError>,
    session: &Session,
    source_name: impl FnOnce() -> String,
) -> Result<T, HistoryFailed> {
    result.map_err(|error| HistoryFailed {
        error: Box::new(CommandError::Source {
            source_name: source_name(),
            error,
        }),
        calls: session.calls.snapshot(),
    })
}
