//! `kms-doctor merge`: the JSON reports of `scan --shard I/N`, run on any engine, judged as one
//! scan. Each shard's report carries the evidence it read; the evidence of all is put together
//! and judged by the same judgement as `scan`, so the merged report, in any format, is the one
//! an unsharded scan gives (its timing and call counts aside), with its exit status.

use super::scan::{Judging, MAX_SHARD_REPORT_BYTES};
use super::{CommandError, Redaction};
use crate::diagnosis::model::{Exit, ScanEvidence, ShardReport};
use crate::report::{Format, WriteColor};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug)]
pub struct MergeRequest {
    pub reports: Vec<PathBuf>,
    pub format: Format,
    pub fail_on: Option<crate::diagnosis::model::Severity>,
    pub redact: bool,
    /// As the shards were judged: `merge` refuses flags that differ from theirs.
    pub judging: Judging,
}

/// What `merge` reads of a report: its shard, the rest skipped.
#[derive(serde::Deserialize)]
struct ShardFile {
    shard: Option<ShardReport>,
}

pub fn run(req: MergeRequest, out: &mut dyn WriteColor) -> Result<Exit, CommandError> {
    let judging = req.judging.load()?;
    let mut shards: Vec<(String, ShardReport)> = Vec::new();
    for path in &req.reports {
        let file: ShardFile = super::read_json_file(path, MAX_SHARD_REPORT_BYTES)?;
        let name = path.display().to_string();
        let shard = file.shard.ok_or_else(|| {
            CommandError::Shards(format!(
                "{name} is not a shard's report (made by `scan --shard I/N --format json`)"
            ))
        })?;
        shards.push((name, shard));
    }
    let evidence = merged(shards, &judging.fingerprint())?;
    let report = judging.judge(&evidence, evidence.collected_at.0);
    let mut redaction = Redaction::new(req.redact);
    redaction.reserve(&report).learn(&report);
    crate::report::scan::render(&redaction.show(&report), req.format, out)?;
    if evidence.regions_scanned == 0 && !evidence.errors.is_empty() {
        return Ok(Exit::Failure);
    }
    Ok(crate::diagnosis::exit::scan(&report, req.fail_on))
}

/// The shards' evidence as one scan's, after checking that they are the parts of one scan, each
/// once, none missing, judged as `judged_with` says.
fn merged(
    mut shards: Vec<(String, ShardReport)>,
    judged_with: &str,
) -> Result<ScanEvidence, CommandError> {
    let refuse = |m: String| Err(CommandError::Shards(m));
    let Some((first_name, first)) = shards.first() else {
        return refuse("no report given".into());
    };
    let (count, scan) = (first.of.count, first.of.scan.clone());
    for (name, s) in &shards {
        if s.of.count != count || s.of.scan != scan {
            return refuse(format!(
                "{name} is shard {}/{} of another scan than {first_name} ({}/{}): {} against {}",
                s.of.index, s.of.count, first.of.index, count, s.of.scan, scan
            ));
        }
        if s.evidence.shard.as_ref() != Some(&s.of) {
            return refuse(format!("{name}: its evidence is not of its shard"));
        }
    }
    if !scan.ends_with(judged_with) {
        return refuse(format!(
            "the shards were judged with other --scp, --rcp, --without or mute list than this merge ({scan}; this merge: {judged_with}): give merge the same"
        ));
    }
    let mut by_index: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (name, s) in &shards {
        by_index.entry(s.of.index).or_default().push(name);
    }
    let twice: Vec<String> = by_index
        .iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(i, names)| format!("shard {i}/{count} is given twice ({})", names.join(", ")))
        .collect();
    let missing: Vec<String> = (1..=count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !twice.is_empty() || !missing.is_empty() {
        let mut problems = twice;
        if !missing.is_empty() {
            problems.push(format!("missing: {}", missing.join(", ")));
        }
        return refuse(problems.join("; "));
    }
    shards.sort_by_key(|(_, s)| s.of.index);
    let mut parts = shards.into_iter().map(|(_, s)| *s.evidence);
    let mut all = parts.next().expect("one shard at least");
    for part in parts {
        join(&mut all, part);
    }
    all.shard = None;
    all.accounts.sort();
    all.accounts.dedup();
    all.regions.sort();
    all.regions.dedup();
    all.errors.sort_by(|a, b| {
        (&a.account, &a.region, &a.operation, &a.message).cmp(&(
            &b.account,
            &b.region,
            &b.operation,
            &b.message,
        ))
    });
    all.errors.dedup_by(|a, b| {
        (&a.account, &a.region, &a.operation, &a.message)
            == (&b.account, &b.region, &b.operation, &b.message)
    });
    all.regions_not_enabled
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    all.keys.sort_by(|a, b| {
        (&a.account, &a.region, &a.key_id).cmp(&(&b.account, &b.region, &b.key_id))
    });
    Ok(all)
}

/// One shard's evidence added to the others'. An account's organisation policies and
/// authorization details are the same in every shard that read them (a Region shard of one
/// account); the scan started when its first shard did.
fn join(all: &mut ScanEvidence, part: ScanEvidence) {
    all.collected_at = all.collected_at.min(part.collected_at);
    all.accounts.extend(part.accounts);
    all.regions.extend(part.regions);
    all.keys.extend(part.keys);
    all.aws_managed_skipped += part.aws_managed_skipped;
    all.regions_not_enabled.extend(part.regions_not_enabled);
    all.regions_scanned += part.regions_scanned;
    all.errors.extend(part.errors);
    for (account, org) in part.organizations {
        all.organizations.entry(account).or_insert(org);
    }
    for (account, details) in part.authorization {
        all.authorization.entry(account).or_insert(details);
    }
    all.calls.extend(part.calls);
    all.whole_organization &= part.whole_organization;
}
