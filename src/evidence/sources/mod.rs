//! Where a key's policy events are read from: CloudTrail's event history, a log archive (a
//! local tree, or S3), or an Athena table. Each gives [`PolicyEvent`]s through
//! [`crate::evidence::record`], and says what it could not read.
//!
//! [`PolicyEvent`]: crate::diagnosis::model::PolicyEvent

pub mod archive;
pub mod athena;
pub mod event_history;
pub mod s3;

use crate::diagnosis::model::{PolicyEvent, Skipped};

/// What a read of logs found: the key's policy events (oldest first) and what it skipped.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub events: Vec<PolicyEvent>,
    /// Records (log records or rows) read.
    pub records: u64,
    pub files_read: u64,
    pub bytes_uncompressed: u64,
    pub skipped: Skipped,
}

pub use crate::evidence::walk::MAX_REASONS;

impl Found {
    /// Adds another read's findings, keeping events in time order.
    pub fn merge(&mut self, other: Found) {
        self.events.extend(other.events);
        self.files_read += other.files_read;
        self.bytes_uncompressed += other.bytes_uncompressed;
        self.records += other.records;
        self.skipped.files += other.skipped.files;
        self.skipped.records += other.skipped.records;
        self.skipped.reasons.extend(other.skipped.reasons);
        self.skipped.reasons.sort();
        self.skipped.reasons.truncate(MAX_REASONS);
        self.skipped.cut_short = self.skipped.cut_short.take().or(other.skipped.cut_short);
        sort_events(&mut self.events);
        // The same event from two copies of a file (or two paths to one) counts once.
        self.events
            .dedup_by(|a, b| a.event_id.is_some() && a.event_id == b.event_id);
    }
}

/// Oldest first; events of the same second by ID, so that the order is stable.
pub fn sort_events(events: &mut [PolicyEvent]) {
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then(a.event_id.cmp(&b.event_id))
    });
}
