//! The `history` timeline in each format: oldest first, each change with its author and what it
//! changed, the lockout marked.

use super::{Paint, md_cell, write_json};
use crate::cli::Format;
use crate::timeline::{Entry, Grant, PolicyDiff, TimelineReport};
use std::io::{self, Write};

pub fn render(
    r: &TimelineReport,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text => text(r, Paint::new(color), out),
        Format::Markdown => markdown(r, out),
    }
}

fn source(r: &TimelineReport) -> &'static str {
    match r.source.as_str() {
        "cloudtrail" => "CloudTrail event history (90 days)",
        _ => "CloudTrail log archive",
    }
}

/// `arn → kms:GetKeyPolicy, kms:PutKeyPolicy`, one line per principal.
fn grants(list: &[Grant]) -> Vec<String> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for g in list {
        match out.iter_mut().find(|(p, _)| *p == g.principal) {
            Some((_, actions)) => actions.push(&g.action),
            None => out.push((g.principal.clone(), vec![&g.action])),
        }
    }
    out.into_iter()
        .map(|(p, a)| format!("{p}: {}", a.join(", ")))
        .collect()
}

/// The diff as lines: `+ statement "Admins"`, `- account delegation`, …
fn diff_lines(d: &PolicyDiff) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(why) = &d.unreadable {
        lines.push(format!("! {why}"));
    }
    if d.delegation_removed {
        lines.push("- account delegation removed (IAM policies no longer grant access)".into());
    }
    if d.delegation_added {
        lines.push("+ account delegation added".into());
    }
    lines.extend(
        d.statements_added
            .iter()
            .map(|s| format!("+ statement {s}")),
    );
    lines.extend(
        d.statements_removed
            .iter()
            .map(|s| format!("- statement {s}")),
    );
    lines.extend(
        d.statements_changed
            .iter()
            .map(|s| format!("~ statement {s} changed")),
    );
    lines.extend(
        grants(&d.gained)
            .into_iter()
            .map(|g| format!("+ gained {g}")),
    );
    lines.extend(grants(&d.lost).into_iter().map(|g| format!("- lost {g}")));
    if lines.is_empty() {
        lines.push("= no change in statements".into());
    }
    lines
}

fn who(e: &Entry) -> String {
    let mut s = e.author.clone().unwrap_or_else(|| "(unknown)".into());
    if let Some(role) = &e.role_arn {
        s.push_str(&format!(" (role {role})"));
    }
    s
}

fn how(e: &Entry) -> String {
    let mut parts = Vec::new();
    if let Some(ip) = &e.source_ip {
        parts.push(format!("from {ip}"));
    }
    if let Some(ua) = &e.user_agent {
        parts.push(format!("with {ua}"));
    }
    if e.bypass_lockout_check {
        parts.push("BypassPolicyLockoutSafetyCheck".into());
    }
    if e.default_policy {
        parts.push("default key policy".into());
    }
    parts.join(", ")
}

fn text(r: &TimelineReport, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{} {}  ({})",
        paint.bold("Key policy history of"),
        r.key,
        source(r)
    )?;
    if r.since.is_some() || r.until.is_some() {
        writeln!(
            out,
            "Window: {} … {}",
            r.since.as_deref().unwrap_or("the beginning"),
            r.until.as_deref().unwrap_or("now")
        )?;
    }
    if r.events.is_empty() {
        writeln!(
            out,
            "\nNo PutKeyPolicy, CreateKey or ReplicateKey event of this key found."
        )?;
    }
    for e in &r.events {
        writeln!(out)?;
        let status = match &e.error_code {
            Some(code) => format!(" {}", paint.warn(&format!("FAILED ({code})"))),
            None => String::new(),
        };
        writeln!(
            out,
            "{}  {}{status}",
            e.event_time.as_deref().unwrap_or("(no time)"),
            paint.bold(&e.event_name)
        )?;
        writeln!(out, "  by {}", who(e))?;
        let how = how(e);
        if !how.is_empty() {
            writeln!(out, "  {how}")?;
        }
        if let Some(why) = &e.lockout {
            writeln!(out, "  {} this change {why}", paint.bad("LOCKOUT:"))?;
        }
        if let Some(d) = &e.diff {
            for line in diff_lines(d) {
                writeln!(out, "    {line}")?;
            }
        }
    }
    if r.skipped.files > 0 || r.skipped.records > 0 || !r.skipped.reasons.is_empty() {
        writeln!(
            out,
            "\n{} {} files, {} records",
            paint.warn("Skipped:"),
            r.skipped.files,
            r.skipped.records
        )?;
        for reason in &r.skipped.reasons {
            writeln!(out, "  - {reason}")?;
        }
    }
    Ok(())
}

fn markdown(r: &TimelineReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# Key policy history of `{}`\n", r.key)?;
    writeln!(out, "Source: {}.", source(r))?;
    if let Some(i) = r.lockout {
        let e = &r.events[i];
        writeln!(
            out,
            "\n**Lockout:** the {} at {} by `{}` {}.",
            e.event_name,
            e.event_time.as_deref().unwrap_or("?"),
            e.author.as_deref().unwrap_or("?"),
            e.lockout.as_deref().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "\n| Time | Event | By | Result | Changes |\n|---|---|---|---|---|"
    )?;
    for e in &r.events {
        let result = match (&e.error_code, &e.lockout) {
            (Some(code), _) => format!("failed: {code}"),
            (None, Some(_)) => "**lockout**".into(),
            (None, None) => "ok".into(),
        };
        let changes = e
            .diff
            .as_ref()
            .map(diff_lines)
            .unwrap_or_default()
            .join("<br>");
        writeln!(
            out,
            "| {} | {} | `{}` | {} | {} |",
            e.event_time.as_deref().unwrap_or(""),
            e.event_name,
            md_cell(&who(e)),
            result,
            md_cell(&changes)
        )?;
    }
    if r.skipped.files > 0 || r.skipped.records > 0 {
        writeln!(
            out,
            "\n**Skipped:** {} files, {} records.\n",
            r.skipped.files, r.skipped.records
        )?;
        for reason in &r.skipped.reasons {
            writeln!(out, "- {}", md_cell(reason))?;
        }
    }
    Ok(())
}
