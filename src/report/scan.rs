//! The `scan` report: a table of every key (worst first), then the details of every key that
//! is not healthy; or the contract's JSON; or Markdown; or SARIF 2.1.0 for security dashboards.

use super::doc::{Block, Doc, Line, Tone};
use super::sarif::{self, level};
use super::{Format, WriteColor, show, write_json};
use crate::diagnosis::model::{
    CanUpdate, Code, KeyStatus, ScanReport, ScannedKey, Severity, SourceKind,
};
use crate::diagnosis::model::{Text, count, counted};
use crate::text;
use std::io;

/// `scan` writes `Format::SCAN`.
pub fn render(r: &ScanReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text | Format::Markdown => show(&doc(r), format, out),
        Format::Sarif => write_json(&sarif(r), out),
        Format::Github => Err(super::unsupported(format, "scan")),
    }
}

fn status_words(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::LockedOut => "LOCKED OUT",
        KeyStatus::AtRisk => "at risk",
        KeyStatus::Unknown => "unknown",
        KeyStatus::Healthy => "healthy",
    }
}

fn status_tone(s: KeyStatus) -> Tone {
    match s {
        KeyStatus::LockedOut => Tone::Bad,
        KeyStatus::AtRisk => Tone::Warn,
        KeyStatus::Unknown => Tone::Dim,
        KeyStatus::Healthy => Tone::Good,
    }
}

fn codes(k: &ScannedKey) -> Text {
    let mut codes: Vec<&'static str> = k
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info || k.status == KeyStatus::Unknown)
        .filter(|f| f.counts())
        .map(|f| f.code.as_str())
        .collect();
    codes.dedup();
    if codes.is_empty() {
        "-".into()
    } else {
        Text::join(codes.into_iter().map(Text::from), ", ")
    }
}

fn summary_line(r: &ScanReport) -> Text {
    let s = &r.summary;
    let asked = r.scope.accounts.len() as u64;
    let entered = asked.saturating_sub(s.not_examined.accounts);
    let accounts = match entered == asked {
        true => counted(asked, "account", "accounts"),
        false => text!(
            count(entered),
            " of ",
            counted(asked, "account", "accounts")
        ),
    };
    let mut line = text!(
        counted(s.keys, "customer managed key", "customer managed keys"),
        " in ",
        accounts,
        " and ",
        counted(r.scope.regions.len() as u64, "Region", "Regions"),
        ": ",
        count(s.locked_out),
        " locked out, ",
        count(s.at_risk),
        " at risk, ",
        count(s.unknown),
        " unknown, ",
        count(s.healthy),
        " healthy"
    );
    if s.aws_managed_skipped > 0 {
        line.append(text!(
            " (",
            count(s.aws_managed_skipped),
            " AWS managed left out)"
        ));
    }
    let muted: usize = r.keys.iter().map(|k| k.muted.len()).sum();
    if muted > 0 {
        line.append(text!(
            "; ",
            count(muted as u64),
            " muted findings not counted (--format json lists them)"
        ));
    }
    line
}

/// The headline's second half when the scan is incomplete: what it did not examine, from the
/// `scan-incomplete` finding (kms-doctor's own counts).
fn incomplete_line(r: &ScanReport) -> Option<Line> {
    let finding = r.findings.iter().find(|f| f.code == Code::ScanIncomplete)?;
    Some(
        Line::new()
            .ws(Tone::Bad, "INCOMPLETE: ")
            .t(&finding.title)
            .w(" (scan-incomplete)"),
    )
}

fn source_words(k: &ScannedKey) -> &'static str {
    match k.policy_source.kind {
        SourceKind::Current => "read with kms:GetKeyPolicy",
        SourceKind::Cloudtrail => "recovered from CloudTrail (GetKeyPolicy denied)",
        SourceKind::Archive => "recovered from the CloudTrail log archive",
        SourceKind::Athena => "recovered with Athena",
        SourceKind::None => "not known",
    }
}

fn doc(r: &ScanReport) -> Doc<'_> {
    let mut doc = Doc::new("kms-doctor scan");
    doc.push(Block::Summary(
        Line::new().words_in(Tone::Strong, summary_line(r)),
    ));
    if let Some(line) = incomplete_line(r) {
        doc.push(Block::Summary(line));
    }
    if let Some(shard) = &r.shard {
        doc.push(Block::Summary(
            Line::new().ws(Tone::Warn, "PART OF A SCAN: ").t(&text!(
                "shard ",
                count(u64::from(shard.of.index)),
                " of ",
                count(u64::from(shard.of.count)),
                "; ",
                crate::diagnosis::model::code("kms-doctor merge"),
                " the shards' JSON reports for the whole scan"
            )),
        ));
    }
    if let Some(w) = &r.without {
        doc.push(Block::Summary(without_line(w)));
    }
    if let Some(config) = &r.config {
        doc.push(Block::Summary(Line::new().w("Mute list from ").v(config)));
    }
    if !r.findings.is_empty() {
        doc.heading("The scan").push(Block::Findings {
            items: r.findings.iter().collect(),
            none: None,
        });
    }
    if !r.keys.is_empty() {
        if !r.findings.is_empty() {
            doc.heading("Keys");
        }
        doc.push(keys_table(r));
    }
    if !r.errors.is_empty() {
        let items = r
            .errors
            .iter()
            .map(|e| {
                let mut line = Line::new();
                for part in [e.account.as_deref(), e.region.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    line = line.v(part).w(" ");
                }
                line.v(&e.operation).w(": ").v(&e.message)
            })
            .collect();
        doc.heading("Not scanned").list(items);
    }
    if !r.scope.regions_not_enabled.is_empty() {
        let items = r
            .scope
            .regions_not_enabled
            .iter()
            .map(|s| Line::new().v(&s.account).w(" ").v(&s.region))
            .collect();
        doc.heading("Regions not enabled").list(items);
    }
    for k in r.keys.iter().filter(|k| k.status != KeyStatus::Healthy) {
        key_details(&mut doc, k);
    }
    doc.push(Block::Note(Line::new().words(text!(
        count(r.calls.total),
        " AWS calls (",
        count(r.calls.throttled),
        " throttled and retried). Run kms-doctor diagnose KEY for one key's full diagnosis."
    ))));
    doc
}

/// `WITHOUT …`: the principals removed, and how many keys would lose a restorer.
fn without_line(w: &crate::diagnosis::model::WithoutSummary) -> Line {
    let names: Vec<String> = w
        .principals
        .iter()
        .map(|p| match &p.principal {
            crate::diagnosis::model::RemovedPrincipal::Iam { arn } => arn.clone(),
            crate::diagnosis::model::RemovedPrincipal::PermissionSet { name, .. } => {
                format!("permission set {name}")
            }
        })
        .collect();
    let mut line = Line::new()
        .ws(Tone::Strong, "WITHOUT ")
        .v(names.join(", "))
        .words(text!(
            ": ",
            counted(w.keys_changed, "key", "keys"),
            " would lose a restorer"
        ));
    if w.keys_unknown > 0 {
        line = line.words(text!(
            "; ",
            count(w.keys_unknown),
            " more whose policy is not known may too"
        ));
    }
    line
}

/// One row a key, worst first.
fn keys_table(r: &ScanReport) -> Block<'_> {
    Block::Table {
        head: vec!["Account", "Region", "Key", "Aliases", "Status", "Codes"],
        rows: r
            .keys
            .iter()
            .map(|k| {
                vec![
                    Line::new().v(&k.account),
                    Line::new().v(&k.region),
                    Line::new().v(&k.key_id),
                    match k.aliases.is_empty() {
                        true => "-".into(),
                        false => Line::new().v(k.aliases.join(", ")),
                    },
                    Line::new().ws(status_tone(k.status), status_words(k.status)),
                    Line::new().words(codes(k)),
                ]
            })
            .collect(),
    }
}

/// A key that is not healthy: where its policy came from, who can update it, its findings.
fn key_details<'a>(doc: &mut Doc<'a>, k: &'a ScannedKey) {
    {
        let mut head = Line::new()
            .ws(status_tone(k.status), status_words(k.status))
            .w("  ")
            .vs(Tone::Strong, k.arn.as_deref().unwrap_or(&k.key_id));
        if !k.aliases.is_empty() {
            head = head.w(" (").v(k.aliases.join(", ")).w(")");
        }
        doc.push(Block::Heading(head));
        let mut policy = Line::new().w("policy ").w(source_words(k));
        if let (Some(name), Some(time)) = (&k.policy_source.event_name, &k.policy_source.event_time)
        {
            policy = policy.w(": ").v(name).w(" at ").v(time.to_string());
            if let Some(by) = &k.policy_source.changed_by {
                policy = policy.w(" by ").v(by);
            }
        }
        doc.para(policy);
        if k.status != KeyStatus::Unknown {
            doc.para(match k.can_update() {
                CanUpdate::These(who) => Line::new()
                    .w("can update the policy: ")
                    .v(who.join(", ")),
                CanUpdate::HeldByOrganization => "can update the policy: nobody the organisation's policies allow (its administrators can exempt one)".into(),
                CanUpdate::NoOne => "can update the policy: nobody (only AWS Support)".into(),
                CanUpdate::Unknown => "can update the policy: not known (the policy in force could not be learned)".into(),
            });
        }
        doc.push(Block::Findings {
            // Muted findings stay in JSON and SARIF (`muted`, `suppressions`), not here.
            items: k.findings.iter().filter(|f| f.counts()).collect(),
            none: None,
        });
    }
}

/// SARIF 2.1.0: one result per finding, `ruleId` the code, the key's ARN as its location.
pub fn sarif(r: &ScanReport) -> serde_json::Value {
    use serde_json::json;
    let used = sarif::codes_used(
        r.findings
            .iter()
            .chain(r.keys.iter().flat_map(|k| &k.findings))
            .map(|f| f.code),
    );
    let used = &used;
    // Findings about the scan itself have no key to stand at.
    let about_scan = r.findings.iter().map(|f| {
        json!({
            "ruleId": f.code.as_str(),
            "ruleIndex": used.iter().position(|c| *c == f.code),
            "level": level(f.severity),
            "message": {"text": f.message()},
            "properties": {
                "not_examined": r.summary.not_examined,
                "help": f.help.plain(),
            }
        })
    });
    let results: Vec<serde_json::Value> = about_scan
        .chain(r.keys
        .iter()
        .flat_map(|k| {
            let location = k.arn.clone().unwrap_or_else(|| {
                format!("kms:{}:{}:key/{}", k.region, k.account, k.key_id)
            });
            k.findings.iter().map(move |f| {
                let mut result = json!({
                    "ruleId": f.code.as_str(),
                    "ruleIndex": used.iter().position(|c| *c == f.code),
                    "level": level(f.severity),
                    "message": {"text": f.message()},
                    "locations": [{
                        "physicalLocation": {"artifactLocation": {"uri": location.clone()}},
                        "logicalLocations": [{"fullyQualifiedName": location.clone(), "kind": "resource"}]
                    }],
                    "properties": {
                        "account": k.account,
                        "region": k.region,
                        "status": k.status.as_str(),
                        "help": f.help.plain(),
                    }
                });
                if let Some(s) = &f.suppressed {
                    result["suppressions"] = json!([{"kind": "external", "justification": s.reason}]);
                }
                result
            })
        }))
        .collect();
    sarif::log(used, results, None)
}
