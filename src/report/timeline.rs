//! The `history` timeline in each format: oldest first, each change with its author and what it
//! changed, the lockout marked.

use super::escape::MdContext;
use super::{Format, MdOut, TextOut, WriteColor, styles, write_json};
use crate::diagnosis::model::{Entry, Grant, PolicyDiff, SourceKind, Text, TimelineReport, code};
use crate::text;
use std::io;

pub fn render(r: &TimelineReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text => text(r, &mut TextOut::new(out)),
        Format::Markdown => markdown(r, &mut MdOut::new(out)),
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

fn text(r: &TimelineReport, out: &mut TextOut) -> io::Result<()> {
    out.styled(styles::BOLD, "Key policy history of")?
        .p(" ")?
        .v(&r.key)?
        .v(&format!("  ({})", source(r)))?
        .nl()?;
    if r.since.is_some() || r.until.is_some() {
        out.p("Window: ")?;
        match &r.since {
            Some(s) => out.v(s)?,
            None => out.p("the beginning")?,
        };
        out.p(" … ")?;
        match &r.until {
            Some(u) => out.v(u)?,
            None => out.p("now")?,
        };
        out.nl()?;
    }
    if r.events.is_empty() {
        out.nl()?
            .p("No PutKeyPolicy, CreateKey or ReplicateKey event of this key found.")?
            .nl()?;
    }
    for e in &r.events {
        out.nl()?;
        match &e.event_time {
            Some(t) => out.v(&t.to_string())?,
            None => out.p("(no time)")?,
        };
        out.p("  ")?.styled_v(styles::BOLD, &e.event_name)?;
        if let Some(c) = &e.error_code {
            out.p(" ")?.styled(styles::WARN, "FAILED (")?;
            out.styled_v(styles::WARN, c)?.styled(styles::WARN, ")")?;
        }
        out.nl()?;
        out.p("  by ")?.t(&who(e))?.nl()?;
        let how = how(e);
        if !how.is_empty() {
            out.p("  ")?.t(&how)?.nl()?;
        }
        if let Some(why) = &e.lockout {
            out.p("  ")?
                .styled(styles::BAD, "LOCKOUT:")?
                .p(" this change ")?
                .p(why.sentence())?
                .nl()?;
        }
        if let Some(d) = &e.diff {
            for line in diff_lines(d) {
                out.p("    ")?.t(&line)?.nl()?;
            }
        }
    }
    if !r.skipped.is_empty() {
        out.nl()?
            .styled(styles::WARN, "Skipped:")?
            .v(&format!(
                " {} files, {} records",
                r.skipped.files, r.skipped.records
            ))?
            .nl()?;
        for reason in &r.skipped.reasons {
            out.p("  - ")?.v(reason)?.nl()?;
        }
    }
    Ok(())
}

fn markdown(r: &TimelineReport, out: &mut MdOut) -> io::Result<()> {
    use MdContext::{Block, Cell};
    out.raw("# Key policy history of ")?
        .code(&r.key, Block)?
        .raw(&format!("\n\nSource: {}.\n", source(r)))?;
    if let Some(e) = r.lockout.and_then(|i| r.events.get(i)) {
        out.raw("\n**Lockout:** the ")?
            .code(&e.event_name, Block)?
            .raw(" at ")?
            .code_or(e.event_time.map(|t| t.to_string()).as_deref(), "?", Block)?
            .raw(" by ")?
            .code_or(e.author.as_deref(), "?", Block)?
            .raw(" ")?
            .p(e.lockout.map_or("", |r| r.sentence()), Block)?
            .raw(".\n")?;
    }
    out.raw("\n| Time | Event | By | Result | Changes |\n|---|---|---|---|---|\n")?;
    for e in &r.events {
        out.raw("| ")?
            .code_or(e.event_time.map(|t| t.to_string()).as_deref(), "", Cell)?
            .raw(" | ")?
            .code(&e.event_name, Cell)?
            .raw(" | ")?
            .t(&who(e), Cell)?
            .raw(" | ")?;
        match (&e.error_code, &e.lockout) {
            (Some(c), _) => out.raw("failed: ")?.code(c, Cell)?,
            (None, Some(_)) => out.raw("**lockout**")?,
            (None, None) => out.raw("ok")?,
        };
        out.raw(" | ")?;
        let lines = e.diff.as_ref().map(diff_lines).unwrap_or_default();
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.raw("<br>")?;
            }
            out.t(line, Cell)?;
        }
        out.raw(" |\n")?;
    }
    if !r.skipped.is_empty() {
        out.raw(&format!(
            "\n**Skipped:** {} files, {} records.\n\n",
            r.skipped.files, r.skipped.records
        ))?;
        for reason in &r.skipped.reasons {
            out.raw("- ")?.code(reason, Block)?.raw("\n")?;
        }
    }
    Ok(())
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
                reasons: vec!["the CloudTrail search was cut short by a failed call".into()],
            },
            lockout: None,
            calls: Vec::new(),
        };
        for format in [Format::Text, Format::Markdown, Format::Json] {
            let mut out = super::super::NoColor(Vec::new());
            render(&report, format, &mut out).unwrap();
            let shown = String::from_utf8(out.0).unwrap();
            assert!(shown.contains("cut short"), "{format:?}: {shown}");
        }
    }
}
