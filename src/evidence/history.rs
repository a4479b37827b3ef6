//! The key policy's recent history from CloudTrail's event history: the newest successful
//! `PutKeyPolicy` of the key (else its `CreateKey`), and the failed attempts since.
//!
//! Pages are read newest first and dropped as soon as they are read, so memory stays flat
//! however many events there are; the search stops at the first answer. Calls are paced to
//! CloudTrail's quota for `LookupEvents` (2 per second) and retried with backoff when throttled.

use super::{CallError, Calls, CloudTrail, EventPage, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Failed attempts kept as evidence, at most (the newest).
const MAX_FAILED_KEPT: usize = 20;
/// Retries of a throttled `LookupEvents` call.
const MAX_THROTTLE_RETRIES: u32 = 5;

/// One policy change (or creation) of the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyEvent {
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub event_name: String,
    /// The identity that made the call (`userIdentity.arn`).
    pub changed_by: Option<String>,
    /// For a session: the role behind it (`sessionContext.sessionIssuer.arn`).
    pub role_arn: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The policy set by the call; `None` for a `CreateKey` without one (the default policy).
    pub policy: Option<String>,
    pub bypass_lockout_check: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// What the search found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct History {
    pub lookback_days: u32,
    /// The event that set the policy in force, if found.
    pub in_force: Option<PolicyEvent>,
    /// Failed `PutKeyPolicy` attempts newer than it (newest first).
    pub failed_attempts: Vec<PolicyEvent>,
    pub pages: u32,
    pub events_scanned: u64,
    /// Records that could not be read and were skipped.
    pub skipped_records: u64,
    /// `false` when a call failed before the search could finish.
    pub complete: bool,
    /// Where the event in force was found: `cloudtrail` (event history) or `archive`.
    #[serde(default = "default_source")]
    pub source: String,
}

/// The key, as events may name it.
#[derive(Debug, Clone, Default)]
pub struct KeyRef {
    pub arn: Option<String>,
    pub key_id: Option<String>,
}

impl KeyRef {
    fn is(&self, s: &str) -> bool {
        self.arn.as_deref() == Some(s) || self.key_id.as_deref() == Some(s)
    }
}

#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub lookback_days: u32,
    /// The least time between two `LookupEvents` calls (500 ms: 2 per second).
    pub min_interval: Duration,
    pub timeout: Duration,
}

/// The events that set a key's policy.
pub const POLICY_EVENTS: [&str; 3] = ["PutKeyPolicy", "CreateKey", "ReplicateKey"];

/// A CloudTrail record that cannot be read: it is skipped and counted.
#[derive(Debug, PartialEq, Eq)]
pub struct UnreadableRecord;

/// Reads one CloudTrail record; `Ok(None)` if it is not about this key.
pub fn read_record(record: &str, key: &KeyRef) -> Result<Option<PolicyEvent>, UnreadableRecord> {
    let v: Value = serde_json::from_str(record).map_err(|_| UnreadableRecord)?;
    let event_name = v
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or(UnreadableRecord)?
        .to_owned();
    if !POLICY_EVENTS.contains(&event_name.as_str()) {
        return Ok(None);
    }
    let req = v.get("requestParameters").filter(|r| r.is_object());
    let matches = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .is_some_and(|k| key.is(k))
    };
    let about_key = if event_name == "ReplicateKey" {
        // The policy of a ReplicateKey is the new replica's, not the primary key's.
        matches("/responseElements/replicaKeyMetadata/arn")
            || (key.arn.is_none() && matches("/responseElements/replicaKeyMetadata/keyId"))
    } else {
        v.get("resources")
            .and_then(Value::as_array)
            .is_some_and(|rs| {
                rs.iter().any(|r| {
                    r.get("ARN")
                        .and_then(Value::as_str)
                        .is_some_and(|a| key.is(a))
                })
            })
            || matches("/requestParameters/keyId")
            || matches("/responseElements/keyMetadata/keyId")
            || matches("/responseElements/keyMetadata/arn")
    };
    if !about_key {
        return Ok(None);
    }
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let policy = req.and_then(|r| r.get("policy")).and_then(|p| match p {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        // Some records carry the policy as an object rather than a string.
        other => Some(other.to_string()),
    });
    if event_name == "PutKeyPolicy" && policy.is_none() && text("/errorCode").is_none() {
        // A successful PutKeyPolicy always carries its policy: this record is damaged.
        return Err(UnreadableRecord);
    }
    Ok(Some(PolicyEvent {
        event_id: text("/eventID"),
        event_time: text("/eventTime"),
        event_name,
        changed_by: text("/userIdentity/arn"),
        role_arn: text("/userIdentity/sessionContext/sessionIssuer/arn"),
        source_ip: text("/sourceIPAddress"),
        user_agent: text("/userAgent"),
        policy,
        bypass_lockout_check: req
            .and_then(|r| r.get("bypassPolicyLockoutSafetyCheck"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        error_code: text("/errorCode"),
        error_message: text("/errorMessage"),
    }))
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
        source: default_source(),
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

fn default_source() -> String {
    "cloudtrail".into()
}

/// The policy KMS applies to a key created without one.
pub fn default_key_policy(partition: &str, account: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }))
    .expect("a literal serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyRef {
        KeyRef {
            arn: Some("arn:aws:kms:us-east-1:111122223333:key/k1".into()),
            key_id: Some("k1".into()),
        }
    }

    #[test]
    fn reads_a_put_key_policy_record() {
        let record = serde_json::json!({
            "eventName": "PutKeyPolicy", "eventID": "e1", "eventTime": "2026-11-01T10:00:00Z",
            "userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/ops/Admin"}}},
            "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
            "requestParameters": {"keyId": "k1", "policyName": "default", "policy": "{}", "bypassPolicyLockoutSafetyCheck": true}
        });
        let e = read_record(&record.to_string(), &key()).unwrap().unwrap();
        assert_eq!(
            e.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/ops/Admin")
        );
        assert!(e.bypass_lockout_check);
        assert_eq!(e.policy.as_deref(), Some("{}"));
    }

    #[test]
    fn a_replicate_key_event_is_about_the_replica() {
        let replica = KeyRef {
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
        };
        let primary = KeyRef {
            arn: Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1".into()),
            key_id: Some("mrk-1".into()),
        };
        let record = serde_json::json!({
            "eventName": "ReplicateKey", "eventTime": "2026-11-01T00:00:00Z",
            "requestParameters": {"keyId": "mrk-1", "replicaRegion": "eu-west-1", "policy": "{}"},
            "responseElements": {"replicaKeyMetadata": {"keyId": "mrk-1", "arn": "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"}}
        })
        .to_string();
        assert!(read_record(&record, &replica).unwrap().is_some());
        assert_eq!(
            read_record(&record, &primary),
            Ok(None),
            "the primary's policy did not change"
        );
        let decrypt =
            serde_json::json!({"eventName": "Decrypt", "requestParameters": {"keyId": "mrk-1"}})
                .to_string();
        assert_eq!(
            read_record(&decrypt, &replica),
            Ok(None),
            "not a policy event"
        );
    }

    #[test]
    fn other_keys_and_damaged_records_are_told_apart() {
        let other = serde_json::json!({"eventName": "PutKeyPolicy", "requestParameters": {"keyId": "k2", "policy": "{}"}});
        assert_eq!(read_record(&other.to_string(), &key()), Ok(None));
        assert_eq!(read_record("{not json", &key()), Err(UnreadableRecord));
        let no_policy =
            serde_json::json!({"eventName": "PutKeyPolicy", "requestParameters": {"keyId": "k1"}});
        assert_eq!(
            read_record(&no_policy.to_string(), &key()),
            Err(UnreadableRecord)
        );
        let create = serde_json::json!({"eventName": "CreateKey", "requestParameters": {"description": "x"},
            "responseElements": {"keyMetadata": {"keyId": "k1"}}});
        let e = read_record(&create.to_string(), &key()).unwrap().unwrap();
        assert_eq!(e.policy, None, "created with the default policy");
    }
}
