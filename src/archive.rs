//! Reading a CloudTrail log archive as delivered to S3
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`, or plain `.json`), from a
//! local directory tree or a single file.
//!
//! Files are read in parallel, one per worker at a time, so memory stays bounded by a few files
//! whatever the archive's size. Each file is split into its records without building them; only
//! records that mention the key and a policy event are parsed. Nothing is skipped silently:
//! unreadable files and records are counted, and each skipped file is named with its reason.

use crate::evidence::history::{KeyRef, POLICY_EVENTS, PolicyEvent, UnreadableRecord, read_record};
use crate::timeline::Skipped;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Skipped files named in the report, at most.
const MAX_REASONS: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct ArchiveOptions {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ArchiveScan {
    pub events: Vec<PolicyEvent>,
    pub files_read: u64,
    pub bytes_uncompressed: u64,
    pub records: u64,
    pub skipped: Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read the log archive at {path}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// The log files under `root` (or `root` itself), in a stable order, pruned by the
/// `YYYY/MM/DD` folders when a window is given. CloudTrail digest files are not logs.
pub fn list_files(root: &Path, opts: &ArchiveOptions) -> Result<Vec<PathBuf>, ArchiveError> {
    let meta = std::fs::metadata(root).map_err(|source| ArchiveError::Unreadable {
        path: root.display().to_string(),
        source,
    })?;
    if meta.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ArchiveError::Unreadable {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "CloudTrail-Digest" {
                    dirs.push(path);
                }
            } else if (name.ends_with(".json.gz") || name.ends_with(".json"))
                && in_window(&path, opts)
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Is the `YYYY/MM/DD` of the path (if it has one) inside the window? Whole days count.
fn in_window(path: &Path, opts: &ArchiveOptions) -> bool {
    if opts.since.is_none() && opts.until.is_none() {
        return true;
    }
    let parts: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    let day = parts.windows(3).rev().find_map(|w| {
        let ok = w[0].len() == 4 && w[1].len() == 2 && w[2].len() == 2;
        ok.then(|| {
            chrono::NaiveDate::from_ymd_opt(
                w[0].parse().ok()?,
                w[1].parse().ok()?,
                w[2].parse().ok()?,
            )
        })
        .flatten()
    });
    let Some(day) = day else { return true };
    opts.since.is_none_or(|s| day >= s.date_naive())
        && opts.until.is_none_or(|u| day <= u.date_naive())
}

/// What one worker found.
#[derive(Default)]
struct Partial {
    events: Vec<PolicyEvent>,
    files_read: u64,
    bytes: u64,
    records: u64,
    skipped: Skipped,
}

impl Partial {
    fn skip_file(&mut self, path: &Path, why: String) {
        self.skipped.files += 1;
        if self.skipped.reasons.len() < MAX_REASONS {
            self.skipped
                .reasons
                .push(format!("{}: {why}", path.display()));
        }
    }
}

/// Scans the archive at `root` for the key's policy events.
pub fn scan_local(
    root: &Path,
    key: &KeyRef,
    opts: &ArchiveOptions,
) -> Result<ArchiveScan, ArchiveError> {
    let files = list_files(root, opts)?;
    Ok(scan_files(&files, |p| std::fs::read(p), key, opts))
}

/// Scans files with `read` giving each one's bytes (compressed or not): local files, or objects
/// fetched from S3.
pub fn scan_files<P: AsRef<Path> + Sync>(
    files: &[P],
    read: impl Fn(&Path) -> std::io::Result<Vec<u8>> + Sync,
    key: &KeyRef,
    opts: &ArchiveOptions,
) -> ArchiveScan {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let next = AtomicUsize::new(0);
    let needles: Vec<Vec<u8>> = [key.key_id.as_deref(), key.arn.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let partials: Vec<Partial> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut part = Partial::default();
                    let mut buf = Vec::new();
                    let finders: Vec<memchr::memmem::Finder> =
                        needles.iter().map(memchr::memmem::Finder::new).collect();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        let path = path.as_ref();
                        match read(path).and_then(|raw| decompress(path, raw, &mut buf)) {
                            Ok(()) => read_file(path, &buf, key, &finders, opts, &mut part),
                            Err(e) => part.skip_file(path, describe_io(path, &e)),
                        }
                    }
                    part
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker panicked"))
            .collect()
    });
    let mut scan = ArchiveScan::default();
    for p in partials {
        scan.merge(ArchiveScan {
            events: p.events,
            files_read: p.files_read,
            bytes_uncompressed: p.bytes,
            records: p.records,
            skipped: p.skipped,
        });
    }
    scan
}

impl ArchiveScan {
    /// Adds another scan's findings, keeping events in time order.
    pub fn merge(&mut self, other: ArchiveScan) {
        self.events.extend(other.events);
        self.files_read += other.files_read;
        self.bytes_uncompressed += other.bytes_uncompressed;
        self.records += other.records;
        self.skipped.files += other.skipped.files;
        self.skipped.records += other.skipped.records;
        self.skipped.reasons.extend(other.skipped.reasons);
        self.skipped.reasons.sort();
        self.skipped.reasons.truncate(MAX_REASONS);
        self.events.sort_by(|a, b| {
            a.event_time
                .cmp(&b.event_time)
                .then(a.event_id.cmp(&b.event_id))
        });
    }
}

/// `s3://BUCKET/PREFIX`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    pub fn parse(s: &str) -> Option<S3Location> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// Objects fetched from S3 at once; the archive is read batch by batch so that memory stays
/// bounded whatever its size.
const S3_BATCH: usize = 16;
/// `GetObject` calls in flight at once.
const S3_CONCURRENCY: usize = 8;

/// Keeps the log objects of the window, and — when the key's ARN is known — of the key's
/// account and Region only (its events are delivered there).
fn wanted_object(object: &str, key: &KeyRef, opts: &ArchiveOptions) -> bool {
    let is_log = (object.ends_with(".json.gz") || object.ends_with(".json"))
        && !object.contains("/CloudTrail-Digest/");
    if !is_log || !in_window(Path::new(object), opts) {
        return false;
    }
    let place = key.arn.as_deref().and_then(|arn| {
        let parts: Vec<&str> = arn.split(':').collect();
        (parts.len() > 4).then(|| format!("/{}/CloudTrail/{}/", parts[4], parts[3]))
    });
    match place {
        Some(p) if object.contains("/CloudTrail/") => object.contains(&p),
        _ => true,
    }
}

/// Reads a CloudTrail log archive from S3: `ListObjectsV2` under the prefix (pruned by date,
/// account and Region), then `GetObject` with bounded concurrency, batch by batch.
pub async fn scan_s3<S: crate::evidence::ObjectStore>(
    store: &S,
    calls: &crate::evidence::Calls,
    location: &S3Location,
    key: &KeyRef,
    opts: &ArchiveOptions,
    timeout: std::time::Duration,
) -> Result<ArchiveScan, crate::evidence::CallError> {
    use futures_util::StreamExt;
    let mut objects = Vec::new();
    let mut token = None;
    loop {
        let list = store.list(&location.bucket, &location.prefix, token.take());
        let page = calls.record("s3", "ListObjectsV2", timeout, list).await?;
        objects.extend(
            page.keys
                .into_iter()
                .filter(|o| wanted_object(o, key, opts)),
        );
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    objects.sort();
    let mut scan = ArchiveScan::default();
    for batch in objects.chunks(S3_BATCH) {
        let fetched: std::collections::HashMap<String, Result<Vec<u8>, String>> =
            futures_util::stream::iter(batch)
                .map(|object| async move {
                    let get = store.get(&location.bucket, object);
                    let body = calls
                        .record("s3", "GetObject", timeout, get)
                        .await
                        .map_err(|e| format!("{}: {}", e.code.unwrap_or_default(), e.message));
                    (object.clone(), body)
                })
                .buffer_unordered(S3_CONCURRENCY)
                .collect()
                .await;
        let read = |p: &Path| match fetched.get(p.to_str().unwrap_or_default()) {
            Some(Ok(bytes)) => Ok(bytes.clone()),
            Some(Err(why)) => Err(std::io::Error::other(why.clone())),
            None => Err(std::io::Error::other("not fetched")),
        };
        scan.merge(scan_files(batch, read, key, opts));
    }
    Ok(scan)
}

fn describe_io(path: &Path, e: &std::io::Error) -> String {
    if is_gzip(path)
        && matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::InvalidInput
                | std::io::ErrorKind::InvalidData
        )
    {
        format!("truncated or corrupt gzip ({e})")
    } else {
        format!("cannot be read ({e})")
    }
}

fn is_gzip(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".gz")
}

/// Puts the file's JSON text in `buf`.
fn decompress(path: &Path, raw: Vec<u8>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    if is_gzip(path) {
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(buf)?;
    } else {
        *buf = raw;
    }
    Ok(())
}

fn read_file(
    path: &Path,
    text: &[u8],
    key: &KeyRef,
    finders: &[memchr::memmem::Finder],
    opts: &ArchiveOptions,
    part: &mut Partial,
) {
    let file: LogFile = match serde_json::from_slice(text) {
        Ok(f) => f,
        Err(e) => {
            let why = if e.is_data() {
                "not a CloudTrail log file (no Records list)".to_owned()
            } else {
                format!("not valid JSON ({e})")
            };
            part.skip_file(path, why);
            return;
        }
    };
    part.files_read += 1;
    part.bytes += text.len() as u64;
    for raw in file.records {
        part.records += 1;
        let record = raw.get().as_bytes();
        // Cheap tests first: most records are about other keys, or are not policy changes.
        if !finders.iter().any(|f| f.find(record).is_some()) {
            continue;
        }
        if !POLICY_EVENTS
            .iter()
            .any(|n| memchr::memmem::find(record, n.as_bytes()).is_some())
        {
            continue;
        }
        match read_record(raw.get(), key) {
            Err(UnreadableRecord) => part.skipped.records += 1,
            Ok(None) => {}
            Ok(Some(e)) => {
                let t = e
                    .event_time
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                let inside = t.is_none_or(|t| {
                    opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t <= u)
                });
                if inside {
                    part.events.push(e);
                }
            }
        }
    }
}

/// Completes a diagnosis's evidence from an archive scan (or Athena's answer), when neither
/// `GetKeyPolicy` nor the event history gave the policy in force: the newest successful policy
/// event found becomes the policy in force (source `archive` or `athena`), with the failed
/// attempts after it.
pub fn recover_policy(ev: &mut crate::evidence::Evidence, scan: &ArchiveScan, source: &str) {
    use crate::evidence::history::History;
    let found =
        ev.current_policy.is_some() || ev.history.as_ref().is_some_and(|h| h.in_force.is_some());
    if found {
        return;
    }
    let Some(newest) = scan.events.iter().rposition(|e| e.error_code.is_none()) else {
        return;
    };
    let failed: Vec<PolicyEvent> = scan.events[newest + 1..].iter().rev().cloned().collect();
    let history = ev.history.get_or_insert_with(|| History {
        lookback_days: 0,
        in_force: None,
        failed_attempts: Vec::new(),
        pages: 0,
        events_scanned: 0,
        skipped_records: 0,
        complete: true,
        source: source.into(),
    });
    history.in_force = Some(scan.events[newest].clone());
    history.failed_attempts = failed;
    history.events_scanned += scan.records;
    history.skipped_records += scan.skipped.records;
    history.source = source.into();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_and_object_pruning() {
        assert_eq!(
            S3Location::parse("s3://trail/AWSLogs/"),
            Some(S3Location {
                bucket: "trail".into(),
                prefix: "AWSLogs/".into()
            })
        );
        assert_eq!(S3Location::parse("s3://"), None);
        let key = KeyRef {
            arn: Some("arn:aws:kms:us-east-1:111122223333:key/k1".into()),
            key_id: Some("k1".into()),
        };
        let since = chrono::DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
            .unwrap()
            .to_utc();
        let opts = ArchiveOptions {
            since: Some(since),
            ..Default::default()
        };
        let log = |acct: &str, region: &str, day: &str| {
            format!("AWSLogs/{acct}/CloudTrail/{region}/2026/11/{day}/x.json.gz")
        };
        assert!(wanted_object(
            &log("111122223333", "us-east-1", "02"),
            &key,
            &opts
        ));
        assert!(
            !wanted_object(&log("111122223333", "us-east-1", "01"), &key, &opts),
            "before --since"
        );
        assert!(
            !wanted_object(&log("111122223333", "eu-west-1", "02"), &key, &opts),
            "another Region"
        );
        assert!(
            !wanted_object(&log("444455556666", "us-east-1", "02"), &key, &opts),
            "another account"
        );
        assert!(!wanted_object(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/02/d.json.gz",
            &key,
            &opts
        ));
    }
}
