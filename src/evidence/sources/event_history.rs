//! The key policy's recent history from CloudTrail's event history: the newest successful
//! `PutKeyPolicy` of the key (else its `CreateKey`), and the failed attempts since.
//!
//! Pages are read newest first and dropped as soon as they are read, so memory stays flat
//! however many events there are; the search stops at the first answer. Calls are paced to
//! CloudTrail's quota for `LookupEvents` (2 per second) and retried with backoff when throttled.

use super::Found;
use crate::diagnosis::model::{
    History, PolicyEvent, PolicyEventName, SearchBound, Shortfall, SourceKind,
};
use crate::evidence::pace::Pace;
use crate::evidence::record::{KeyMatch, KeyRef, UnreadableRecord, read_record_of};
use crate::evidence::{CallError, Calls, CloudTrail, EventPage, Kms};
use std::time::{Duration, Instant};

/// Failed attempts kept as evidence, at most (the newest).
const MAX_FAILED_KEPT: usize = 20;

/// Pages read at most in one search (50 events each): an endless `NextToken` ends here.
pub const MAX_PAGES: u32 = 400;

#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub lookback_days: u32,
    /// The time one call's token takes to come back: `LookupEvents` allows 2 calls a second,
    /// in bursts of 2 (500 ms).
    pub min_interval: Duration,
    pub timeout: Duration,
    /// Pages read at most.
    pub max_pages: u32,
    /// When the whole run must be done (`--max-duration`).
    pub deadline: Option<Instant>,
}

/// Reads one page, in its turn.
async fn fetch<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    pace: &Pace,
    opts: &SearchOptions,
    event_name: PolicyEventName,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    token: Option<String>,
) -> Result<EventPage, CallError> {
    pace.call(calls, "cloudtrail", "LookupEvents", opts.timeout, || {
        ct.lookup_events(event_name, window.0, window.1, token.clone())
    })
    .await
}

/// What a scan read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub pages: u32,
    pub events_scanned: u64,
    pub skipped_records: u64,
    /// `false` when a call failed, or a bound was reached, before the scan could finish.
    pub complete: bool,
    /// The bound that ended the scan early, when one did.
    pub cut_short: Option<SearchBound>,
}

impl ScanStats {
    /// The history of one key, as a search with these stats found it: complete when it ran to
    /// its end or found the policy in force.
    pub fn history(
        &self,
        lookback_days: u32,
        in_force: Option<PolicyEvent>,
        failed_attempts: Vec<PolicyEvent>,
    ) -> History {
        History {
            lookback_days,
            complete: self.complete || in_force.is_some(),
            in_force,
            failed_attempts,
            pages: self.pages,
            events_scanned: self.events_scanned,
            skipped_records: self.skipped_records,
            cut_short: self.cut_short.clone(),
            source: SourceKind::Cloudtrail,
        }
    }

    /// Why older events may be missing, when the search did not run to its end.
    pub fn shortfall(&self) -> Option<Shortfall> {
        match &self.cut_short {
            Some(bound) => Some(Shortfall::Search(Some(bound.clone()))),
            None if !self.complete => Some(Shortfall::Search(None)),
            None => None,
        }
    }
}

/// Pages through `LookupEvents` for each event name in turn, newest first, handing every
/// event about the key to `visit`, which returns `false` to stop. Pages are dropped once read.
/// An error on the very first call is returned: it usually means `cloudtrail:LookupEvents` is
/// denied; a later one ends the scan with `complete: false`.
#[allow(clippy::too_many_arguments)]
pub async fn scan<C: CloudTrail, M: KeyMatch>(
    ct: &C,
    calls: &Calls,
    key: &M,
    opts: &SearchOptions,
    event_names: &[PolicyEventName],
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    first_page: Option<Result<EventPage, CallError>>,
    progress: &(dyn Fn(u32, u64) + Sync),
    mut visit: impl FnMut(M::Id, PolicyEvent) -> bool,
) -> Result<ScanStats, CallError> {
    let mut stats = ScanStats {
        complete: true,
        ..ScanStats::default()
    };
    // CloudTrail's quota: 2 calls a second, in bursts of 2; a first page fetched alongside
    // other calls has spent one.
    let pace = Pace::every(opts.min_interval, 2).spent(u32::from(first_page.is_some()));
    let mut prefetched = first_page;
    for event_name in event_names {
        let mut token = None;
        loop {
            let bound = if stats.pages >= opts.max_pages {
                Some(SearchBound::Pages(opts.max_pages))
            } else if opts.deadline.is_some_and(|d| Instant::now() >= d) {
                Some(SearchBound::Deadline)
            } else {
                None
            };
            if let Some(why) = bound.filter(|_| prefetched.is_none()) {
                stats.complete = false;
                stats.cut_short = Some(why);
                return Ok(stats);
            }
            let page = match prefetched.take() {
                Some(p) => p,
                None => fetch(ct, calls, &pace, opts, *event_name, window, token.clone()).await,
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
                match read_record_of(record, key) {
                    Err(UnreadableRecord) => stats.skipped_records += 1,
                    Ok(None) => {}
                    Ok(Some((id, e))) => {
                        if !visit(id, e) {
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
    progress: &(dyn Fn(u32, u64) + Sync),
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
        &[PolicyEventName::PutKeyPolicy, PolicyEventName::CreateKey],
        window,
        first_page,
        progress,
        |(), e| {
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
    Ok(stats.history(opts.lookback_days, in_force, failed_attempts))
}

/// A multi-Region replica whose own Region holds no policy event in the window: the
/// `ReplicateKey` that created it, recorded in its primary's Region with the policy it set
/// (KMS Developer Guide, "ReplicateKey":
/// <https://docs.aws.amazon.com/kms/latest/developerguide/ct-replicate-key.html>), is added to
/// `history` — as the policy in force when it succeeded. The search of the replica's Region
/// found nothing newer, so the replica's policy has not changed since. When the primary's
/// Region cannot be searched, the history is incomplete: unknown, never "the default policy".
pub async fn search_replicated<C: CloudTrail>(
    primary: Option<&C>,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    now: chrono::DateTime<chrono::Utc>,
    history: &mut History,
    progress: &(dyn Fn(u32, u64) + Sync),
) {
    if history.in_force.is_some() || key.primary_region.is_none() {
        return;
    }
    let Some(primary) = primary else {
        history.complete = false;
        return;
    };
    let window = (
        now - chrono::Duration::days(i64::from(opts.lookback_days)),
        now,
    );
    let mut in_force = None;
    // A failed ReplicateKey created no replica (and names none).
    let stats = replications(primary, calls, key, opts, window, progress, |e| {
        if e.error_code.is_some() {
            true
        } else {
            in_force = Some(e);
            false
        }
    })
    .await;
    add_replicated(history, stats.as_ref().ok(), in_force);
}

/// The `ReplicateKey` records of the replica `key` in its primary's event history (`primary`),
/// newest first, each handed to `visit` (`false` stops).
async fn replications<C: CloudTrail>(
    primary: &C,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    progress: &(dyn Fn(u32, u64) + Sync),
    mut visit: impl FnMut(PolicyEvent) -> bool,
) -> Result<ScanStats, CallError> {
    scan(
        primary,
        calls,
        key,
        opts,
        &[PolicyEventName::ReplicateKey],
        window,
        None,
        progress,
        |(), e| visit(e),
    )
    .await
}

/// Adds to a replica's history what the search of its primary's Region found: the
/// `ReplicateKey` that set its policy, when one did. `None` stats: that search failed, and the
/// history is incomplete.
pub fn add_replicated(
    history: &mut History,
    stats: Option<&ScanStats>,
    in_force: Option<PolicyEvent>,
) {
    let Some(stats) = stats else {
        history.complete = false;
        return;
    };
    history.pages += stats.pages;
    history.events_scanned += stats.events_scanned;
    history.skipped_records += stats.skipped_records;
    history.complete = in_force.is_some() || (history.complete && stats.complete);
    if history.cut_short.is_none() {
        history.cut_short = stats.cut_short.clone();
    }
    history.in_force = in_force;
}

/// Every policy change of the key in the window — `PutKeyPolicy`, `CreateKey` and the
/// `ReplicateKey` that created a replica — successful and failed, oldest first.
pub async fn collect<C: CloudTrail>(
    ct: &C,
    calls: &Calls,
    key: &KeyRef,
    opts: &SearchOptions,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    progress: &(dyn Fn(u32, u64) + Sync),
) -> Result<(Vec<PolicyEvent>, ScanStats), CallError> {
    let mut events = Vec::new();
    let stats = scan(
        ct,
        calls,
        key,
        opts,
        &PolicyEventName::ALL,
        window,
        None,
        progress,
        |(), e| {
            events.push(e);
            true
        },
    )
    .await?;
    events.sort_by_key(|a| a.event_time);
    Ok((events, stats))
}

/// `history` from CloudTrail's event history: the key's ARN and ID from `DescribeKey` when it
/// answers (an alias needs it), then every policy change in the window. `None` when the key
/// cannot be named by ID (an alias that `DescribeKey` would not resolve). What the search could
/// not read is said in `skipped`.
#[allow(clippy::too_many_arguments)]
pub async fn key_timeline<K: Kms, C: CloudTrail>(
    kms: &K,
    ct: &C,
    calls: &Calls,
    input: &str,
    key: &mut KeyRef,
    account: &mut Option<String>,
    opts: &SearchOptions,
    window: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    progress: &(dyn Fn(u32, u64) + Sync),
) -> Result<Option<Found>, CallError> {
    let described = calls
        .record("kms", "DescribeKey", opts.timeout, kms.describe_key(input))
        .await
        .ok();
    if let Some(d) = &described {
        key.arn = d.arn.clone().or(key.arn.take());
        key.key_id = Some(d.key_id.clone());
        key.primary_region = d.primary_region.clone();
        *account = account.take().or(d.account.clone());
    }
    if key.key_id.is_none() {
        return Ok(None);
    }
    let (mut events, mut stats) = collect(ct, calls, key, opts, window, progress).await?;
    if let Some(primary_region) = &key.primary_region {
        // A replica's first policy is in the ReplicateKey recorded in its primary's Region.
        let replicated = match ct.in_region(primary_region) {
            Some(primary) => {
                let mut found = Vec::new();
                replications(&primary, calls, key, opts, window, progress, |e| {
                    found.push(e);
                    true
                })
                .await
                .ok()
                .map(|s| (found, s))
            }
            None => None,
        };
        match replicated {
            Some((found, s)) => {
                events.extend(found);
                events.sort_by_key(|a| a.event_time);
                stats.pages += s.pages;
                stats.events_scanned += s.events_scanned;
                stats.skipped_records += s.skipped_records;
                stats.complete &= s.complete;
                stats.cut_short = stats.cut_short.or(s.cut_short);
            }
            None => stats.complete = false,
        }
    }
    let mut found = Found {
        events,
        records: stats.events_scanned,
        ..Found::default()
    };
    found.skipped.records = stats.skipped_records;
    found.skipped.cut_short = stats.shortfall();
    Ok(Some(found))
}
