//! The `history` timeline in each format: oldest first, each change with its author and what it
//! changed, the lockout marked.

use super::doc::{Block, Doc, Line, Tone};
use super::{Format, WriteColor, show, write_json};
use crate::diagnosis::model::{Entry, Grant, PolicyDiff, SourceKind, Text, TimelineReport, code};
use crate::text;
use std::io;

pub fn render(r: &TimelineReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text | Format::Markdown => show(&doc(r), format, out),
        Format::Sarif | Format::Github => Err(super::unsupported(format, "history")),
    }
}

fn source(r: &TimelineReport) -> &'static str {
    match r.source {
        SourceKind::Cloudtrail => "CloudTrail event history (90 days)",
        SourceKind::Athena => "Athena query over a CloudTrail table",
        _ => "CloudTrail log archive",
    }
}

/// `arn: kms:GetKeyPolicy, kms:PutKeyPolicy`, one line per principal.
fn grants(list: &[Grant]) -> Vec<Text> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for g in list {
        match out.iter_mut().find(|(p, _)| *p == g.principal) {
            Some((_, actions)) => actions.push(&g.action),
            None => out.push((&g.principal, vec![&g.action])),
        }
    }
    out.into_iter()
        .map(|(p, a)| text!(code(p), ": ", code(a.join(", "))))
        .collect()
}

/// The diff as lines: `+ statement "Admins"`, `- account delegation`, …
fn diff_lines(d: &PolicyDiff) -> Vec<Text> {
    let mut lines = Vec::new();
    if let Some(why) = &d.unreadable {
        lines.push(text!("! ", code(why.clone())));
    }
    if d.delegation_removed {
        lines.push("- account delegation removed (IAM policies no longer grant access)".into());
    }
    if d.delegation_added {
        lines.push("+ account delegation added".into());
    }
    let each = |sign: &'static str, list: &[String], after: &'static str| {
        list.iter()
            .map(|s| text!(sign, code(s.clone()), after))
            .collect::<Vec<_>>()
    };
    lines.extend(each("+ statement ", &d.statements_added, ""));
    lines.extend(each("- statement ", &d.statements_removed, ""));
    lines.extend(each("~ statement ", &d.statements_changed, " changed"));
    lines.extend(grants(&d.gained).into_iter().map(|g| text!("+ gained ", g)));
    lines.extend(grants(&d.lost).into_iter().map(|g| text!("- lost ", g)));
    if lines.is_empty() {
        lines.push("= no change in statements".into());
    }
    lines
}

fn who(e: &Entry) -> Text {
    let mut s = match &e.author {
        Some(a) => Text::code(a.clone()),
        None => "(unknown)".into(),
    };
    if let Some(role) = &e.role_arn {
        s.append(text!(" (role ", code(role.clone()), ")"));
    }
    s
}

fn how(e: &Entry) -> Text {
    let mut parts = Vec::new();
    if let Some(ip) = &e.source_ip {
        parts.push(text!("from ", code(ip.clone())));
    }
    if let Some(ua) = &e.user_agent {
        parts.push(text!("with ", code(ua.clone())));
    }
    if e.bypass_lockout_check {
        parts.push("BypassPolicyLockoutSafetyCheck".into());
    }
    if e.default_policy {
        parts.push("default key policy".into());
    }
    Text::join(parts, ", ")
}

fn doc(r: &TimelineReport) -> Doc<'_> {
    let mut doc = Doc::new(Line::new().w("Key policy history of ").v(&r.key));
    // A search that did not run to its end is the first thing said: what is missing may be the
    // change that matters.
    if let Some(why) = &r.skipped.cut_short {
        doc.push(Block::Summary(
            Line::new().ws(Tone::Bad, "INCOMPLETE: ").v(why.to_string()),
        ));
    }
    let mut fields = vec![
        ("Key", Line::new().v(&r.key)),
        ("Source", Line::new().w(source(r))),
    ];
    if r.since.is_some() || r.until.is_some() {
        let since = match &r.since {
            Some(s) => Line::new().v(s),
            None => "the beginning".into(),
        };
        let until = match &r.until {
            Some(u) => Line::new().v(u),
            None => "now".into(),
        };
        fields.push(("Window", since.w(" … ").then(until)));
    }
    doc.push(Block::Fields(fields));
    if let Some(e) = r.lockout.and_then(|i| r.events.get(i)) {
        doc.para(
            Line::new()
                .ws(Tone::Bad, "Lockout:")
                .w(" the ")
                .v(e.event_name)
                .w(" at ")
                .v(e.event_time
                    .map_or_else(|| "?".to_owned(), |t| t.to_string()))
                .w(" by ")
                .v(e.author.as_deref().unwrap_or("?"))
                .w(" ")
                .w(e.lockout.map_or("", |r| r.sentence()))
                .w("."),
        );
    }
    if r.events.is_empty() {
        doc.para("No PutKeyPolicy, CreateKey or ReplicateKey event of this key found.");
    }
    for e in &r.events {
        let mut head = match &e.event_time {
            Some(t) => Line::new().v(t.to_string()),
            None => "(no time)".into(),
        }
        .w("  ")
        .vs(Tone::Strong, e.event_name);
        if let Some(c) = &e.error_code {
            head = head.w(" ").ws(Tone::Warn, "FAILED").w(" (").v(c).w(")");
        }
        doc.push(Block::Subheading(head));
        doc.para(Line::new().w("by ").t(&who(e)));
        let how = how(e);
        if !how.is_empty() {
            doc.para(Line::from(&how));
        }
        if let Some(why) = &e.lockout {
            doc.para(
                Line::new()
                    .ws(Tone::Bad, "LOCKOUT:")
                    .w(" this change ")
                    .w(why.sentence()),
            );
        }
        if let Some(d) = &e.diff {
            doc.push(Block::Lines(diff_lines(d).iter().map(Line::from).collect()));
        }
    }
    let s = &r.skipped;
    if s.files > 0 || s.records > 0 || !s.reasons.is_empty() {
        doc.push(Block::Note(Line::new().ws(Tone::Warn, "Skipped:").words(
            crate::text!(
                " ",
                crate::diagnosis::model::count(r.skipped.files),
                " files, ",
                crate::diagnosis::model::count(r.skipped.records),
                " records"
            ),
        )))
        .list(
            r.skipped
                .reasons
                .iter()
                .map(|why| Line::new().v(why))
                .collect(),
        );
    }
    if !r.findings.is_empty() {
        doc.heading("What was not read").push(Block::Findings {
            items: r.findings.iter().collect(),
            none: None,
        });
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{Skipped, SourceKind};

    #[test]
    fn a_search_cut_short_is_said_in_every_format_even_with_nothing_skipped() {
        let report = TimelineReport {
            schema_version: 1,
            key: "k".into(),
            source: SourceKind::Cloudtrail,
            since: None,
            until: None,
            events: Vec::new(),
            skipped: Skipped {
                files: 0,
                records: 0,
                reasons: Vec::new(),
                cut_short: Some(crate::diagnosis::model::Shortfall::Search(None)),
            },
            lockout: None,
            calls: Vec::new(),
            complete: false,
            findings: Vec::new(),
        };
        for format in [Format::Text, Format::Markdown, Format::Json] {
            let mut out = crate::report::NoColor(Vec::new());
            render(&report, format, &mut out).unwrap();
            let shown = String::from_utf8(out.0).unwrap();
            assert!(shown.contains("cut short"), "{format:?}: {shown}");
            if format != Format::Json {
                let head: String = shown.lines().take(4).collect();
                assert!(
                    head.contains("INCOMPLETE"),
                    "{format:?}: the headline: {shown}"
                );
            }
        }
    }
}
