//! Reading a CloudTrail log archive as delivered to S3
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`, or plain `.json`), from a
//! local directory tree or a single file.
//!
//! Files are read in parallel, one per worker at a time, so memory stays bounded by a few files
//! whatever the archive's size. Each file is split into its records without building them; only
//! records that mention the key and a policy event are parsed. Nothing is skipped silently:
//! unreadable files and records are counted, and each skipped file is named with its reason.

use super::{Found, MAX_REASONS};
use crate::diagnosis::model::PolicyEventName;
use crate::diagnosis::model::{PolicyEvent, Skipped};
use crate::evidence::record::{KeyRef, UnreadableRecord, read_record};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Default)]
pub struct ArchiveOptions {
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
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

/// The most log files one scan lists; an archive larger than this is split by `--since`/`--until`.
pub const MAX_FILES: usize = 2_000_000;
/// A log file is read up to this size (CloudTrail writes files of a few MB).
pub const MAX_FILE_BYTES: u64 = 32 << 20;
/// A log file decompresses to at most this much (a gzip bomb stops here).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;

/// The log files under `root` (or `root` itself), in a stable order, pruned by the
/// `YYYY/MM/DD` folders when a window is given, and what the walk could not use.
///
/// Only regular files are read (a FIFO or a device would block or never end); symbolic links
/// are followed, but every directory and file is visited once, by device and inode, so a link
/// loop ends and a file linked twice is read once. A directory that cannot be read is skipped
/// with its reason. CloudTrail digest files are not logs.
pub fn list_files(
    root: &Path,
    opts: &ArchiveOptions,
) -> Result<(Vec<PathBuf>, Skipped), ArchiveError> {
    let too_many =
        format!("more than {MAX_FILES} log files: narrow the window with --since/--until");
    crate::evidence::walk::regular_files(
        root,
        &crate::evidence::walk::Walk {
            max_files: MAX_FILES,
            enter: &|name| name != "CloudTrail-Digest",
            want: &|path, name| {
                (name.ends_with(".json.gz") || name.ends_with(".json")) && in_window(path, opts)
            },
            too_many: &too_many,
            follow_links: false,
        },
    )
    .map_err(|source| ArchiveError::Unreadable {
        path: root.display().to_string(),
        source,
    })
}

/// Reads a file, refusing one larger than `MAX_FILE_BYTES`; only regular files.
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = crate::evidence::open_regular(path)?;
    let meta = file.metadata()?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB: not read",
            MAX_FILE_BYTES >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other("grew while being read: not read"));
    }
    Ok(bytes)
}

/// Is the `YYYY/MM/DD` of the path (if it has one) inside the window? Whole days count.
pub(super) fn in_window(path: &Path, opts: &ArchiveOptions) -> bool {
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
pub fn scan_local(root: &Path, key: &KeyRef, opts: &ArchiveOptions) -> Result<Found, ArchiveError> {
    let (files, skipped) = list_files(root, opts)?;
    let mut found = scan_files(&files, read_bounded, key, opts);
    found.merge(Found {
        skipped,
        ..Found::default()
    });
    Ok(found)
}

/// Scans files with `read` giving each one's bytes (compressed or not): local files, or objects
/// fetched from S3.
pub fn scan_files<P: AsRef<Path> + Sync>(
    files: &[P],
    read: impl Fn(&Path) -> std::io::Result<Vec<u8>> + Sync,
    key: &KeyRef,
    opts: &ArchiveOptions,
) -> Found {
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
    let mut found = Found::default();
    for p in partials {
        found.merge(Found {
            events: p.events,
            files_read: p.files_read,
            bytes_uncompressed: p.bytes,
            records: p.records,
            skipped: p.skipped,
        });
    }
    found
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

/// Puts the file's JSON text in `buf`, at most `MAX_DECOMPRESSED_BYTES` of it.
fn decompress(path: &Path, raw: Vec<u8>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    if is_gzip(path) {
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(buf)?;
        if buf.len() as u64 > MAX_DECOMPRESSED_BYTES {
            buf.clear();
            buf.shrink_to_fit();
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} MiB (a gzip bomb?): not read",
                MAX_DECOMPRESSED_BYTES >> 20
            )));
        }
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
        if !PolicyEventName::ALL
            .iter()
            .any(|n| memchr::memmem::find(record, n.as_str().as_bytes()).is_some())
        {
            continue;
        }
        match read_record(raw.get(), key) {
            Err(UnreadableRecord) => part.skipped.records += 1,
            Ok(None) => {}
            Ok(Some(e)) => {
                let t = e.event_time.map(|t| t.0);
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
