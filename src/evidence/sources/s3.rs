//! Reading a CloudTrail log archive from S3: `ListObjectsV2` under the prefix (pruned by date,
//! account and Region), then `GetObject` with bounded concurrency, batch by batch, each batch
//! read as the local archive is.

use super::Found;
use super::archive::{ArchiveOptions, in_window, scan_files};
use crate::diagnosis::model::Shortfall;
use crate::evidence::record::KeyRef;
use crate::evidence::{CallError, Calls, ObjectStore};
use std::path::Path;

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
/// `ListObjectsV2` pages read at most (1,000 objects each): an endless continuation ends here.
const MAX_LIST_PAGES: usize = 10_000;
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
pub async fn scan_s3<S: ObjectStore>(
    store: &S,
    calls: &Calls,
    location: &S3Location,
    key: &KeyRef,
    opts: &ArchiveOptions,
    timeout: std::time::Duration,
) -> Result<Found, CallError> {
    use futures_util::StreamExt;
    let mut objects = Vec::new();
    let mut token = None;
    let mut listed_pages = 0;
    let mut cut_short = None;
    loop {
        listed_pages += 1;
        if listed_pages > MAX_LIST_PAGES {
            cut_short = Some(Shortfall::S3Listing {
                bucket: location.bucket.clone(),
                prefix: location.prefix.clone(),
                pages: MAX_LIST_PAGES as u32,
            });
            break;
        }
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
    let mut scan = Found::default();
    scan.skipped.cut_short = cut_short;
    for batch in objects.chunks(S3_BATCH) {
        let fetched: std::collections::HashMap<String, Result<Vec<u8>, String>> =
            // The futures are made first: a stream mapped by a closure that returns a borrowing
            // future is not `Send` (rustc #102211), and a server runs this on several threads.
            futures_util::stream::iter(batch.iter().map(|object| async move {
                let get = store.get(&location.bucket, object);
                let body = calls
                    .record("s3", "GetObject", timeout, get)
                    .await
                    .map_err(|e| e.describe());
                (object.clone(), body)
            }).collect::<Vec<_>>())
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
            primary_region: None,
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
