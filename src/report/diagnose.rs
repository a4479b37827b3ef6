//! The `diagnose` report in each format: verdicts first, then the findings, then who can
//! restore access and what to do.

use super::{Paint, md_cell, write_findings_markdown, write_findings_text, write_json};
use crate::cli::Format;
use crate::diagnose::{Basis, DiagnoseReport, Restorer, Verdict};
use std::io::{self, Write};

pub fn render(
    r: &DiagnoseReport,
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

fn paint_verdict(v: Verdict, paint: Paint) -> String {
    let text = format!("{:<12}", v.as_str());
    match v {
        Verdict::Allowed => paint.good(&text),
        Verdict::Denied => paint.bad(&text),
        Verdict::Conditional | Verdict::Unknown => paint.warn(&text),
    }
}

fn basis(b: Basis) -> &'static str {
    match b {
        Basis::Observed => "observed",
        Basis::Inferred => "inferred",
    }
}

fn exists(r: &Restorer) -> &'static str {
    match r.exists {
        Some(true) => "exists",
        Some(false) => "deleted",
        None => "existence unknown",
    }
}

fn key_line(r: &DiagnoseReport) -> String {
    let k = &r.key;
    let mut line = k
        .arn
        .clone()
        .unwrap_or_else(|| format!("{} (ARN unknown)", k.input));
    let facts: Vec<&str> = [k.manager.as_deref(), k.state.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !facts.is_empty() {
        line.push_str(&format!("  ({})", facts.join(", ")));
    }
    line
}

fn source_line(r: &DiagnoseReport) -> String {
    let s = &r.policy_source;
    match s.kind.as_str() {
        "current" => "read with GetKeyPolicy (current)".to_owned(),
        "cloudtrail" => format!(
            "from CloudTrail: {} at {} by {} (event {})",
            s.event_name.as_deref().unwrap_or("event"),
            s.event_time.as_deref().unwrap_or("?"),
            s.changed_by.as_deref().unwrap_or("?"),
            s.event_id.as_deref().unwrap_or("?")
        ),
        _ => "unknown (not readable, no change in CloudTrail's 90-day history)".to_owned(),
    }
}

/// `CloudTrail: 3 events on 1 page read, 1 unreadable record skipped, 1 failed attempt since`
fn history_line(r: &DiagnoseReport) -> Option<String> {
    let h = r.history.as_ref()?;
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "{} on {} read (last {} days)",
        plural(h.events_scanned, "event", "events"),
        plural(u64::from(h.pages), "page", "pages"),
        h.lookback_days
    );
    if h.skipped_records > 0 {
        line.push_str(&format!(
            ", {} skipped",
            plural(h.skipped_records, "unreadable record", "unreadable records")
        ));
    }
    if !h.failed_attempts.is_empty() {
        line.push_str(&format!(
            ", {} since",
            plural(
                h.failed_attempts.len() as u64,
                "failed attempt",
                "failed attempts"
            )
        ));
    }
    if !h.complete {
        line.push_str(", search cut short by a failed call");
    }
    Some(line)
}

fn text(r: &DiagnoseReport, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{} {}", paint.bold("Key      "), key_line(r))?;
    let caller = match &r.caller.principal_arn {
        Some(p) if *p != r.caller.arn => format!("{}  (as {p})", r.caller.arn),
        _ => r.caller.arn.clone(),
    };
    writeln!(out, "{} {caller}", paint.bold("Caller   "))?;
    if let Some(p) = &r.principal {
        writeln!(out, "{} {}", paint.bold("Principal"), p.arn)?;
    }
    writeln!(out, "{} {}", paint.bold("Policy   "), source_line(r))?;
    if let Some(h) = history_line(r) {
        writeln!(out, "{} {h}", paint.bold("CloudTrail"))?;
    }

    writeln!(out, "\n{}", paint.heading("Verdict"))?;
    for a in &r.access {
        let because: Vec<&str> = a.because.iter().map(|c| c.as_str()).collect();
        writeln!(
            out,
            "  {:<18} {} {:<9} {}",
            a.action,
            paint_verdict(a.verdict, paint),
            basis(a.basis),
            because.join(", ")
        )?;
    }

    write_findings_text(
        &r.findings,
        "None: the principal can read and update the key policy.",
        paint,
        out,
    )?;

    writeln!(
        out,
        "\n{}",
        paint.heading("Who can restore access (kms:PutKeyPolicy)")
    )?;
    if r.restorers.is_empty() {
        writeln!(
            out,
            "  {}",
            paint.bad("No one, according to the policy in force.")
        )?;
    }
    for g in &r.restorers {
        let mut note = String::new();
        if g.via_iam {
            note.push_str(
                "; any IAM principal of the account whose IAM policies allow kms:PutKeyPolicy",
            );
        }
        if !g.conditions_on.is_empty() {
            note.push_str(&format!(
                "; if conditions on {} hold",
                g.conditions_on.join(", ")
            ));
        }
        writeln!(
            out,
            "  - {}  {} via \"{}\" ({}){note}",
            paint.bold(&g.principal),
            exists(g),
            g.statement,
            g.source
        )?;
    }

    if !r.next_steps.is_empty() {
        writeln!(out, "\n{}", paint.heading("Next steps"))?;
        for (i, s) in r.next_steps.iter().enumerate() {
            writeln!(out, "  {}. {s}", i + 1)?;
        }
    }
    writeln!(
        out,
        "\n{}",
        paint.dim(&format!(
            "{} AWS calls, all read-only (-v lists them).",
            r.calls.len()
        ))
    )?;
    Ok(())
}

fn markdown(r: &DiagnoseReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# kms-doctor diagnosis\n")?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| Key | `{}` |", md_cell(&key_line(r)))?;
    writeln!(out, "| Caller | `{}` |", md_cell(&r.caller.arn))?;
    if let Some(p) = &r.caller.principal_arn {
        writeln!(out, "| Caller's IAM principal | `{}` |", md_cell(p))?;
    }
    if let Some(p) = &r.principal {
        writeln!(out, "| Principal diagnosed | `{}` |", md_cell(&p.arn))?;
    }
    writeln!(out, "| Key policy | {} |", md_cell(&source_line(r)))?;
    if let Some(h) = history_line(r) {
        writeln!(out, "| CloudTrail | {} |", md_cell(&h))?;
    }
    writeln!(out)?;

    writeln!(out, "## Verdict\n")?;
    writeln!(
        out,
        "| Action | Verdict | Basis | Because |\n|---|---|---|---|"
    )?;
    for a in &r.access {
        let because: Vec<String> = a.because.iter().map(|c| format!("`{c}`")).collect();
        writeln!(
            out,
            "| `{}` | **{}** | {} | {} |",
            a.action,
            a.verdict.as_str(),
            basis(a.basis),
            because.join(", ")
        )?;
    }
    writeln!(out)?;

    write_findings_markdown(
        &r.findings,
        "None: the principal can read and update the key policy.",
        out,
    )?;

    writeln!(out, "## Who can restore access (`kms:PutKeyPolicy`)\n")?;
    if r.restorers.is_empty() {
        writeln!(out, "No one, according to the policy in force.\n")?;
    } else {
        writeln!(
            out,
            "| Principal | Exists | Statement | Source |\n|---|---|---|---|"
        )?;
        for g in &r.restorers {
            writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                g.principal,
                exists(g),
                md_cell(&g.statement),
                g.source
            )?;
        }
        writeln!(out)?;
    }

    if !r.next_steps.is_empty() {
        writeln!(out, "## Next steps\n")?;
        for (i, s) in r.next_steps.iter().enumerate() {
            writeln!(out, "{}. {s}", i + 1)?;
        }
        writeln!(out)?;
    }

    if let Some(policy) = &r.policy {
        writeln!(out, "## Key policy in force\n")?;
        writeln!(out, "Source: {}\n", source_line(r))?;
        writeln!(
            out,
            "```json\n{}\n```\n",
            serde_json::to_string_pretty(policy).unwrap_or_default()
        )?;
    }

    writeln!(out, "## AWS calls\n")?;
    writeln!(
        out,
        "| Service | Operation | Outcome | ms |\n|---|---|---|---|"
    )?;
    for c in &r.calls {
        let outcome = c.outcome.as_str();
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.service, c.operation, outcome, c.ms
        )?;
    }
    Ok(())
}

/// `-v`: the calls, one a line, on standard error.
pub fn write_calls(r: &DiagnoseReport, out: &mut dyn Write) -> io::Result<()> {
    for c in &r.calls {
        let outcome = c.outcome.as_str();
        writeln!(
            out,
            "kms-doctor: {}:{} {} in {} ms{}",
            c.service,
            c.operation,
            outcome,
            c.ms,
            c.error_code
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
