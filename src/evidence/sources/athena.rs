//! Querying a CloudTrail table with Athena: start the query, poll with backoff until it ends,
//! page through the results, and read each row as a CloudTrail record. Athena is the engine for
//! organisation-sized archives that outgrow one machine.

use super::{Found, sort_events};
use crate::diagnosis::model::{QueryState, Shortfall};
use crate::evidence::record::{KeyRef, UnreadableRecord, read_record_value};
use crate::evidence::{Athena, AthenaQuery, CallError, Calls, ErrorKind};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The first wait between two polls; it doubles up to `MAX_POLL`.
const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(5);
/// `GetQueryResults` pages read at most (1,000 rows each).
const MAX_RESULT_PAGES: usize = 1_000;

/// Runs the query (the SQL of `diagnosis::athena::athena_sql`) and reads its rows, each as
/// the CloudTrail record it came from.
pub async fn run<A: Athena>(
    athena: &A,
    calls: &Calls,
    query: &AthenaQuery,
    key: &KeyRef,
    timeout: Duration,
    max_wait: Duration,
) -> Result<Found, CallError> {
    let id = calls
        .record(
            "athena",
            "StartQueryExecution",
            timeout,
            athena.start(query),
        )
        .await?;
    let started = Instant::now();
    let mut wait = FIRST_POLL;
    loop {
        let (state, reason) = calls
            .record("athena", "GetQueryExecution", timeout, athena.state(&id))
            .await?;
        match state {
            QueryState::Succeeded => break,
            QueryState::Failed | QueryState::Cancelled => {
                return Err(CallError::new(
                    if state == QueryState::Failed {
                        ErrorKind::QueryFailed
                    } else {
                        ErrorKind::QueryCancelled
                    },
                    reason.unwrap_or_else(|| format!("the query ended {state}")),
                ));
            }
            _ if started.elapsed() >= max_wait => {
                return Err(CallError::new(
                    ErrorKind::Timeout,
                    format!("the query was still {state} after {} s", max_wait.as_secs()),
                ));
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_POLL);
            }
        }
    }
    let mut result = Found::default();
    let mut header: Option<Vec<String>> = None;
    let mut next = None;
    for _ in 0..MAX_RESULT_PAGES {
        let page = calls
            .record(
                "athena",
                "GetQueryResults",
                timeout,
                athena.results(&id, next.take()),
            )
            .await?;
        for row in page.rows {
            let Some(names) = &header else {
                header = Some(
                    row.into_iter()
                        .map(|c| c.unwrap_or_default().to_ascii_lowercase())
                        .collect(),
                );
                continue;
            };
            result.records += 1;
            match read_record_value(&record_of(names, &row), key) {
                Ok(Some(e)) => result.events.push(e),
                Ok(None) => {}
                Err(UnreadableRecord) => result.skipped.records += 1,
            }
        }
        match page.next {
            Some(t) => next = Some(t),
            None => break,
        }
    }
    if next.is_some() {
        result.skipped.cut_short = Some(Shortfall::AthenaPages(MAX_RESULT_PAGES as u32));
    }
    sort_events(&mut result.events);
    Ok(result)
}

/// A row of the query, as the CloudTrail record it came from (so that one reader serves the
/// event history, log files and Athena alike).
fn record_of(names: &[String], row: &[Option<String>]) -> Value {
    let cell = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .and_then(|i| row.get(i).cloned().flatten())
            .filter(|v| !v.is_empty())
    };
    // requestparameters and responseelements are JSON text in CloudTrail tables.
    let json_cell =
        |name: &str| cell(name).map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)));
    let mut record = json!({
        "eventTime": cell("eventtime"),
        "eventName": cell("eventname"),
        "eventID": cell("eventid"),
        "userIdentity": {"arn": cell("author"), "sessionContext": {"sessionIssuer": {"arn": cell("role_arn")}}},
        "sourceIPAddress": cell("sourceipaddress"),
        "userAgent": cell("useragent"),
        "requestParameters": json_cell("requestparameters"),
        "responseElements": json_cell("responseelements"),
    });
    if let Some(code) = cell("errorcode") {
        record["errorCode"] = json!(code);
    }
    record
}
