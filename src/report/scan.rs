//! The `scan` report: a table of every key (worst first), then the details of every key that
//! is not healthy; or the contract's JSON; or Markdown; or SARIF 2.1.0 for security dashboards.

use super::escape::{self, MdContext};
use super::sarif::{self, level};
use super::{
    MdOut, TextOut, WriteColor, styles, write_finding_items_markdown, write_finding_items_text,
    write_json,
};
use crate::diagnosis::model::{KeyStatus, ScanReport, ScannedKey, Severity, SourceKind};
use std::io;

/// The formats `scan` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFormat {
    Text,
    Json,
    Markdown,
    Sarif,
}

pub fn render(r: &ScanReport, format: ScanFormat, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        ScanFormat::Json => write_json(r, out),
        ScanFormat::Text => text(r, &mut TextOut::new(out)),
        ScanFormat::Markdown => markdown(r, &mut MdOut::new(out)),
        ScanFormat::Sarif => write_json(&sarif(r), out),
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

fn status_style(s: KeyStatus) -> anstyle::Style {
    match s {
        KeyStatus::LockedOut => styles::BAD,
        KeyStatus::AtRisk => styles::WARN,
        KeyStatus::Unknown => styles::DIM,
        KeyStatus::Healthy => styles::GOOD,
    }
}

fn codes(k: &ScannedKey) -> String {
    let mut codes: Vec<&str> = k
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info || k.status == KeyStatus::Unknown)
        .map(|f| f.code.as_str())
        .collect();
    codes.dedup();
    if codes.is_empty() {
        "-".to_owned()
    } else {
        codes.join(", ")
    }
}

fn summary_line(r: &ScanReport) -> String {
    let s = &r.summary;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "{} in {} and {}: {} locked out, {} at risk, {} unknown, {} healthy",
        plural(
            s.keys as usize,
            "customer managed key",
            "customer managed keys"
        ),
        plural(r.scope.accounts.len(), "account", "accounts"),
        plural(r.scope.regions.len(), "Region", "Regions"),
        s.locked_out,
        s.at_risk,
        s.unknown,
        s.healthy
    );
    if s.aws_managed_skipped > 0 {
        line.push_str(&format!(
            " ({} AWS managed left out)",
            s.aws_managed_skipped
        ));
    }
    line
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

fn text(r: &ScanReport, out: &mut TextOut) -> io::Result<()> {
    out.styled(styles::BOLD, &summary_line(r))?.nl()?;
    if !r.keys.is_empty() {
        let rows: Vec<[String; 5]> = r
            .keys
            .iter()
            .map(|k| {
                [
                    escape::terminal(&k.account).into_owned(),
                    escape::terminal(&k.region).into_owned(),
                    escape::terminal(&k.key_id).into_owned(),
                    escape::terminal(&if k.aliases.is_empty() {
                        "-".to_owned()
                    } else {
                        k.aliases.join(", ")
                    })
                    .into_owned(),
                    codes(k),
                ]
            })
            .collect();
        let width = |i: usize, head: &str| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head.len()])
                .max()
                .unwrap_or(0)
        };
        let w = [
            width(0, "ACCOUNT"),
            width(1, "REGION"),
            width(2, "KEY"),
            width(3, "ALIASES"),
        ];
        out.nl()?.styled(
            styles::BOLD,
            &format!(
                "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {:<10}  CODES",
                "ACCOUNT",
                "REGION",
                "KEY",
                "ALIASES",
                "STATUS",
                a = w[0],
                b = w[1],
                c = w[2],
                d = w[3]
            ),
        )?;
        out.nl()?;
        for (k, row) in r.keys.iter().zip(&rows) {
            // Values were escaped above, so their width is what the terminal shows.
            out.v(&format!(
                "{:<a$}  {:<b$}  {:<c$}  {:<d$}  ",
                row[0],
                row[1],
                row[2],
                row[3],
                a = w[0],
                b = w[1],
                c = w[2],
                d = w[3]
            ))?
            .styled(
                status_style(k.status),
                &format!("{:<10}", status_words(k.status)),
            )?
            .p("  ")?
            .v(&row[4])?
            .nl()?;
        }
    }
    if !r.errors.is_empty() {
        out.heading("Not scanned")?;
        for e in &r.errors {
            out.p("  ")?;
            for part in [&e.account, &e.region].into_iter().flatten() {
                out.v(part)?.p(" ")?;
            }
            out.v(&e.operation)?.p(": ")?.v(&e.message)?.nl()?;
        }
    }
    if !r.scope.regions_not_enabled.is_empty() {
        out.heading("Regions not enabled")?;
        for s in &r.scope.regions_not_enabled {
            out.p("  ")?.v(&s.account)?.p(" ")?.v(&s.region)?.nl()?;
        }
    }
    let troubled: Vec<&ScannedKey> = r
        .keys
        .iter()
        .filter(|k| k.status != KeyStatus::Healthy)
        .collect();
    for k in troubled {
        out.nl()?
            .styled(status_style(k.status), status_words(k.status))?
            .p("  ")?
            .styled_v(styles::BOLD, k.arn.as_deref().unwrap_or(&k.key_id))?;
        if !k.aliases.is_empty() {
            out.p(" (")?.v(&k.aliases.join(", "))?.p(")")?;
        }
        out.nl()?;
        out.p("  policy ")?.p(source_words(k))?;
        if let (Some(name), Some(time)) = (&k.policy_source.event_name, &k.policy_source.event_time)
        {
            out.p(": ")?.v(name)?.p(" at ")?.v(&time.to_string())?;
            if let Some(by) = &k.policy_source.changed_by {
                out.p(" by ")?.v(by)?;
            }
        }
        out.nl()?;
        let living: Vec<&str> = k
            .restorers
            .iter()
            .flatten()
            .filter(|r| r.exists != Some(false))
            .map(|r| r.principal.as_str())
            .collect();
        if k.status != KeyStatus::Unknown {
            out.p("  can update the policy: ")?;
            if living.is_empty() {
                out.p("nobody (only AWS Support)")?;
            } else {
                out.v(&living.join(", "))?;
            }
            out.nl()?;
        }
        write_finding_items_text(&k.findings, out)?;
    }
    out.nl()?.styled(styles::DIM, &format!(
        "{} AWS calls ({} throttled and retried). Run kms-doctor diagnose KEY for one key's full diagnosis.",
        r.calls.total, r.calls.throttled
    ))?.nl()?;
    Ok(())
}

fn markdown(r: &ScanReport, out: &mut MdOut) -> io::Result<()> {
    let cell = MdContext::Cell;
    out.raw("# kms-doctor scan\n\n")?
        .p(&summary_line(r), MdContext::Block)?
        .raw("\n\n")?;
    if !r.keys.is_empty() {
        out.raw(
            "| Account | Region | Key | Aliases | Status | Codes |\n|---|---|---|---|---|---|\n",
        )?;
        for k in &r.keys {
            out.raw("| ")?
                .code(&k.account, cell)?
                .raw(" | ")?
                .code(&k.region, cell)?
                .raw(" | ")?
                .code(&k.key_id, cell)?
                .raw(" | ")?
                .code_or(Some(&k.aliases.join(", ")), "-", cell)?
                .raw(" | ")?
                .p(status_words(k.status), cell)?
                .raw(" | ")?
                .p(&codes(k), cell)?
                .raw(" |\n")?;
        }
        out.raw("\n")?;
    }
    if !r.errors.is_empty() {
        out.raw("## Not scanned\n\n")?;
        for e in &r.errors {
            out.raw("- ")?;
            for part in [&e.account, &e.region].into_iter().flatten() {
                out.code(part, MdContext::Block)?.raw(" ")?;
            }
            out.code(&e.operation, MdContext::Block)?
                .raw(": ")?
                .code(&e.message, MdContext::Block)?
                .raw("\n")?;
        }
        out.raw("\n")?;
    }
    if !r.scope.regions_not_enabled.is_empty() {
        out.raw("## Regions not enabled\n\n")?;
        for s in &r.scope.regions_not_enabled {
            out.raw("- ")?
                .code(&s.account, MdContext::Block)?
                .raw(" ")?
                .code(&s.region, MdContext::Block)?
                .raw("\n")?;
        }
        out.raw("\n")?;
    }
    for k in r.keys.iter().filter(|k| k.status != KeyStatus::Healthy) {
        out.raw("## ")?
            .p(status_words(k.status), MdContext::Block)?
            .raw(": ")?
            .code(k.arn.as_deref().unwrap_or(&k.key_id), MdContext::Block)?
            .raw("\n\n")?
            .p("Policy ", MdContext::Block)?
            .p(source_words(k), MdContext::Block)?;
        if let (Some(name), Some(time)) = (&k.policy_source.event_name, &k.policy_source.event_time)
        {
            out.raw(": ")?
                .code(name, MdContext::Block)?
                .raw(" at ")?
                .code(&time.to_string(), MdContext::Block)?;
            if let Some(by) = &k.policy_source.changed_by {
                out.raw(" by ")?.code(by, MdContext::Block)?;
            }
        }
        out.raw(".\n\n")?;
        write_finding_items_markdown(&k.findings, "###", out)?;
    }
    out.p(
        &format!(
            "{} AWS calls ({} throttled and retried).",
            r.calls.total, r.calls.throttled
        ),
        MdContext::Block,
    )?
    .raw("\n")?;
    Ok(())
}

/// SARIF 2.1.0: one result per finding, `ruleId` the code, the key's ARN as its location.
pub fn sarif(r: &ScanReport) -> serde_json::Value {
    use serde_json::json;
    let used = sarif::codes_used(
        r.keys
            .iter()
            .flat_map(|k| k.findings.iter().map(|f| f.code)),
    );
    let used = &used;
    let results: Vec<serde_json::Value> = r
        .keys
        .iter()
        .flat_map(|k| {
            let location = k.arn.clone().unwrap_or_else(|| {
                format!("kms:{}:{}:key/{}", k.region, k.account, k.key_id)
            });
            k.findings.iter().map(move |f| {
                let mut message = f.title.plain();
                if !f.detail.is_empty() {
                    message.push_str(". ");
                    message.push_str(&f.detail.plain());
                }
                json!({
                    "ruleId": f.code.as_str(),
                    "ruleIndex": used.iter().position(|c| *c == f.code),
                    "level": level(f.severity),
                    "message": {"text": message},
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
                })
            })
        })
        .collect();
    sarif::log(used, results, None)
}
