//! The key policy's recent history from CloudTrail's event history: the newest successful
//! `PutKeyPolicy` of the key (else its `CreateKey`), and the failed attempts since.
//!
//! Pages are read newest first and dropped as soon as they are read, so memory stays flat
//! however many events there are; the search stops at the first answer. Calls are paced to
//! CloudTrail's quota for `LookupEvents` (2 per second) and retried with backoff when throttled.

use crate::diagnosis::model::{History, Outcome, PolicyEvent, SourceKind};
use crate::evidence::record::{KeyRef, UnreadableRecord, read_record};
use crate::evidence::{CallError, Calls, CloudTrail, EventPage};
use std::time::{Duration, Instant};

/// Failed attempts kept as evidence, at most (the newest).
const MAX_FAILED_KEPT: usize = 20;
/// Retries of a throttled `LookupEvents` call.
const MAX_THROTTLE_RETRIES: u32 = 5;

#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub lookback_days: u32,
    /// The least time between two `LookupEvents` calls (500 ms: 2 per second).
    pub min_interval: Duration,
    pub timeout: Duration,
}

/// Paces calls and retries throttled ones.
struct Pacer {
    last: Option<Instant>,
    min_interval: Duration,
}

impl Pacer {
    async fn wait(&mut self) {
        if let Some(last) = self.last {
            let next = last + self.min_interval;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        self.last = Some(Instant::now());
    }
}

async fn fetch<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    pacer: &mut Pacer,
    opts: &SearchOptions,
    event_name: &str,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    token: Option<String>,
) -> Result<EventPage, CallError> {
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        let result = calls
            .record(
                "cloudtrail",
                "LookupEvents",
                opts.timeout,
                ct.lookup_events(event_name, window.0, window.1, token.clone()),
            )
            .await;
        match result {
            Err(e) if e.outcome == Outcome::Throttled && attempt < MAX_THROTTLE_RETRIES => {
                // Exponential backoff on top of the pacing: 1, 2, 4, 8, 16 intervals.
                tokio::time::sleep(pacer.min_interval * 2u32.pow(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// What a scan read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub pages: u32,
    pub events_scanned: u64,
    pub skipped_records: u64,
    /// `false` when a call failed before the scan could finish.
    pub complete: bool,
}

/// Pages through `LookupEvents` for each event name in turn, newest first, handing every
/// event about the key to `visit`, which returns `false` to stop. Pages are dropped once read.
/// An error on the very first call is returned: it usually means `cloudtrail:LookupEvents` is
/// denied; a later one ends the scan with `complete: false`.
#[allow(clippy::too_many_arguments)]
pub async fn scan<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    event_names: &[&str],
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    first_page: Option<Result<EventPage, CallError>>,
    progress: &dyn Fn(u32, u64),
    mut visit: impl FnMut(PolicyEvent) -> bool,
) -> Result<ScanStats, CallError> {
    let mut stats = ScanStats {
        complete: true,
        ..ScanStats::default()
    };
    let mut pacer = Pacer {
        last: first_page.as_ref().map(|_| Instant::now()),
        min_interval: opts.min_interval,
    };
    let mut prefetched = first_page;
    for event_name in event_names {
        let mut token = None;
        loop {
            let page = match prefetched.take() {
                Some(p) => p,
                None => {
                    fetch(
                        ct,
                        calls,
                        &mut pacer,
                        opts,
                        event_name,
                        window,
                        token.clone(),
                    )
                    .await
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(e) if stats.pages == 0 => return Err(e),
                Err(_) => {
                    stats.complete = false;
                    return Ok(stats);
                }
            };
            stats.pages += 1;
            for event in page.events {
                stats.events_scanned += 1;
                let Some(record) = event.cloudtrail_event.as_deref() else {
                    stats.skipped_records += 1;
                    continue;
                };
                match read_record(record, key) {
                    Err(UnreadableRecord) => stats.skipped_records += 1,
                    Ok(None) => {}
                    Ok(Some(e)) => {
                        if !visit(e) {
                            return Ok(stats);
                        }
                    }
                }
            }
            progress(stats.pages, stats.events_scanned);
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
    }
    Ok(stats)
}

/// Searches for the policy in force: the newest successful `PutKeyPolicy` of the key, else its
/// `CreateKey`; failed attempts on the way are kept. `first_page` is the first `PutKeyPolicy`
/// page when it was fetched ahead (concurrently with the key's resolution).
pub async fn search<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    now: chrono::DateTime<chrono::Utc>,
    first_page: Option<Result<EventPage, CallError>>,
    progress: &dyn Fn(u32, u64),
) -> Result<History, CallError> {
    let window = (
        now - chrono::Duration::days(i64::from(opts.lookback_days)),
        now,
    );
    let mut in_force = None;
    let mut failed_attempts = Vec::new();
    let stats = scan(
        ct,
        calls,
        key,
        opts,
        &["PutKeyPolicy", "CreateKey"],
        window,
        first_page,
        progress,
        |e| {
            if e.error_code.is_some() {
                if failed_attempts.len() < MAX_FAILED_KEPT {
                    failed_attempts.push(e);
                }
                true
            } else {
                in_force = Some(e);
                false
            }
        },
    )
    .await?;
    Ok(History {
        lookback_days: opts.lookback_days,
        in_force,
        failed_attempts,
        pages: stats.pages,
        events_scanned: stats.events_scanned,
        skipped_records: stats.skipped_records,
        complete: stats.complete,
        source: SourceKind::Cloudtrail,
    })
}

/// Every policy change of the key in the window — `PutKeyPolicy`, `CreateKey` and the
/// `ReplicateKey` that created a replica — successful and failed, oldest first.
pub async fn collect<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    progress: &dyn Fn(u32, u64),
) -> Result<(Vec<PolicyEvent>, ScanStats), CallError> {
    let mut events = Vec::new();
    let stats = scan(
        ct,
        calls,
        key,
        opts,
        &["PutKeyPolicy", "CreateKey", "ReplicateKey"],
        window,
        None,
        progress,
        |e| {
            events.push(e);
            true
        },
    )
    .await?;
    events.sort_by(|a, b| a.event_time.cmp(&b.event_time));
    Ok((events, stats))
}
