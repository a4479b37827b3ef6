//! The `check` report: compiler-style text (`path:line:col: error[code]: title`), the
//! contract's JSON, Markdown, SARIF 2.1.0 for code scanning, and GitHub workflow commands.

use super::escape::{self, MdContext};
use super::sarif::{self, level};
use super::{MdOut, TextOut, WriteColor, styles, write_json};
use crate::diagnosis::model::{CheckReport, CheckedFile, LocatedFinding, Severity, Text};
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
    Markdown,
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
}

pub fn render(r: &CheckReport, format: CheckFormat, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        CheckFormat::Json => write_json(r, out),
        CheckFormat::Text => text(r, &mut TextOut::new(out)),
        CheckFormat::Markdown => markdown(r, &mut MdOut::new(out)),
        CheckFormat::Sarif => write_json(&sarif(r), out),
        CheckFormat::Github => github(r, out),
    }
}

fn style(s: Severity) -> anstyle::Style {
    match s {
        Severity::Error => styles::BAD,
        Severity::Warning => styles::WARN,
        Severity::Info => styles::DIM,
    }
}

/// `path:line:col` (or `path` with the resource, for a plan's resource).
fn place(f: &CheckedFile, l: &LocatedFinding) -> String {
    match (l.line, l.column) {
        (Some(line), Some(col)) => format!("{}:{line}:{col}", f.path),
        (Some(line), None) => format!("{}:{line}", f.path),
        _ => f.path.clone(),
    }
}

fn summary_line(r: &CheckReport) -> String {
    let s = &r.summary;
    format!(
        "{} {} checked, {} key {}: {} {}, {} {}{}",
        s.files,
        if s.files == 1 { "file" } else { "files" },
        s.resources,
        if s.resources == 1 {
            "resource"
        } else {
            "resources"
        },
        s.errors,
        if s.errors == 1 { "error" } else { "errors" },
        s.warnings,
        if s.warnings == 1 {
            "warning"
        } else {
            "warnings"
        },
        if s.unreadable > 0 {
            format!(", {} unreadable", s.unreadable)
        } else {
            String::new()
        }
    )
}

fn text(r: &CheckReport, out: &mut TextOut) -> io::Result<()> {
    for f in &r.files {
        if let Some(e) = &f.error {
            let at = f.error_location.unwrap_or_default();
            let place = match (at.line, at.column) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", f.path),
                _ => f.path.clone(),
            };
            out.styled_v(styles::BOLD, &place)?
                .p(": ")?
                .styled(styles::BAD, "error")?
                .p(": cannot check this file: ")?
                .v(e)?
                .nl()?;
        }
        for res in &f.resources {
            for l in &res.findings {
                let fi = &l.finding;
                out.styled_v(styles::BOLD, &place(f, l))?
                    .p(": ")?
                    .styled(style(fi.severity), &format!("{}[{}]", fi.severity, fi.code))?
                    .p(": ")?
                    .t(&fi.title)?
                    .nl()?;
                out.p("  --> ")?
                    .v(&res.name)?
                    .p(" (")?
                    .v(&res.resource_type)?
                    .p(")")?
                    .nl()?;
                if !fi.detail.is_empty() {
                    out.p("  = why: ")?.t(&fi.detail)?.nl()?;
                }
                for e in &fi.evidence {
                    out.p("  = evidence: ")?.t(e)?.nl()?;
                }
                if !fi.help.is_empty() {
                    out.p("  = help: ")?.t(&fi.help)?.nl()?;
                }
                out.nl()?;
            }
        }
    }
    let s = &r.summary;
    let style = if s.errors > 0 || s.unreadable > 0 {
        styles::BAD
    } else if s.warnings > 0 {
        styles::WARN
    } else {
        styles::GOOD
    };
    out.styled(style, &summary_line(r))?.nl()?;
    Ok(())
}

fn markdown(r: &CheckReport, out: &mut MdOut) -> io::Result<()> {
    let cell = MdContext::Cell;
    out.raw("# kms-doctor check\n\n")?
        .p(&summary_line(r), MdContext::Block)?
        .raw("\n\n")?;
    let rows: Vec<(&CheckedFile, &str, &LocatedFinding)> = r
        .files
        .iter()
        .flat_map(|f| {
            f.resources
                .iter()
                .flat_map(move |res| res.findings.iter().map(move |l| (f, res.name.as_str(), l)))
        })
        .collect();
    if !rows.is_empty() {
        out.raw("| Where | Resource | Severity | Code | Finding |\n|---|---|---|---|---|\n")?;
        for (f, name, l) in &rows {
            out.raw("| ")?
                .code(&place(f, l), cell)?
                .raw(" | ")?
                .code(name, cell)?
                .raw(" | ")?
                .p(l.finding.severity.as_str(), cell)?
                .raw(" | ")?
                .code(l.finding.code.as_str(), cell)?
                .raw(" | ")?
                .t(&l.finding.title, cell)?
                .raw(" |\n")?;
        }
        out.raw("\n")?;
    }
    let unreadable: Vec<&CheckedFile> = r.files.iter().filter(|f| f.error.is_some()).collect();
    if !unreadable.is_empty() {
        out.raw("## Not checked\n\n")?;
        for f in unreadable {
            out.raw("- ")?
                .code(&f.path, MdContext::Block)?
                .raw(": ")?
                .code(f.error.as_deref().unwrap_or_default(), MdContext::Block)?
                .raw("\n")?;
        }
        out.raw("\n")?;
    }
    for (f, name, l) in rows {
        out.raw(&format!("## {} `{}`: ", l.finding.severity, l.finding.code))?
            .t(&l.finding.title, MdContext::Block)?
            .raw("\n\n")?
            .code(&place(f, l), MdContext::Block)?
            .raw(", ")?
            .code(name, MdContext::Block)?
            .raw("\n\n")?;
        if !l.finding.detail.is_empty() {
            out.t(&l.finding.detail, MdContext::Block)?.raw("\n\n")?;
        }
        if !l.finding.help.is_empty() {
            out.raw("**What to do:** ")?
                .t(&l.finding.help, MdContext::Block)?
                .raw("\n\n")?;
        }
    }
    Ok(())
}

/// A finding as one line of plain text: title, then why.
fn message(l: &LocatedFinding) -> String {
    let mut m = l.finding.title.plain();
    if !l.finding.detail.is_empty() {
        m.push_str(". ");
        m.push_str(&l.finding.detail.plain());
    }
    m
}

/// SARIF 2.1.0: a rule per code used (with its meaning, help and where it is documented), a
/// result per finding with its physical location.
pub fn sarif(r: &CheckReport) -> serde_json::Value {
    use serde_json::json;
    let used = sarif::codes_used(
        r.files
            .iter()
            .flat_map(|f| &f.resources)
            .flat_map(|res| res.findings.iter().map(|l| l.finding.code)),
    );
    let used = &used;
    let mut results: Vec<serde_json::Value> = Vec::new();
    for f in &r.files {
        for res in &f.resources {
            for l in &res.findings {
                let mut physical = json!({"artifactLocation": {"uri": uri(&f.path)}});
                if let Some(line) = l.line {
                    physical["region"] =
                        json!({"startLine": line, "startColumn": l.column.unwrap_or(1)});
                }
                results.push(json!({
                    "ruleId": l.finding.code.as_str(),
                    "ruleIndex": used.iter().position(|c| *c == l.finding.code),
                    "level": level(l.finding.severity),
                    "message": {"text": message(l)},
                    "locations": [{
                        "physicalLocation": physical,
                        "logicalLocations": [{"fullyQualifiedName": res.name, "kind": "resource"}]
                    }],
                    "properties": {"help": l.finding.help.plain(), "resourceType": res.resource_type}
                }));
            }
        }
    }
    let notifications: Vec<serde_json::Value> = r
        .files
        .iter()
        .filter_map(|f| {
            let e = f.error.as_ref()?;
            Some(json!({
                "level": "error",
                "message": {"text": format!("cannot check {}: {e}", f.path)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&f.path)}}}]
            }))
        })
        .collect();
    sarif::log(
        used,
        results,
        Some(json!({
            "executionSuccessful": notifications.is_empty(),
            "toolExecutionNotifications": notifications
        })),
    )
}

/// A path as a relative URI reference (forward slashes; characters a URI cannot hold encoded).
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    percent_encoding::utf8_percent_encode(path, URI_UNSAFE).to_string()
}

const URI_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// GitHub's workflow commands: each finding an annotation on its file and line.
fn github(r: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    let (data, property) = (escape::github_data, escape::github_property);
    for f in &r.files {
        if let Some(e) = &f.error {
            let at = f.error_location.unwrap_or_default();
            let mut props = format!("file={}", property(&f.path));
            if let Some(line) = at.line {
                props.push_str(&format!(",line={line}"));
            }
            if let Some(col) = at.column {
                props.push_str(&format!(",col={col}"));
            }
            writeln!(
                out,
                "::error {props},title=kms-doctor::cannot check this file: {}",
                data(e)
            )?;
        }
        for res in &f.resources {
            for l in &res.findings {
                let command = match l.finding.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Info => "notice",
                };
                let mut props = format!("file={}", property(&f.path));
                if let Some(line) = l.line {
                    props.push_str(&format!(",line={line}"));
                }
                if let Some(col) = l.column {
                    props.push_str(&format!(",col={col}"));
                }
                props.push_str(&format!(
                    ",title={}",
                    property(&format!("kms-doctor {} ({})", l.finding.code, res.name))
                ));
                let help = Text::plain(&l.finding.help);
                let mut text = message(l);
                if !help.is_empty() {
                    text.push_str(" Fix: ");
                    text.push_str(&help);
                }
                writeln!(out, "::{command} {props}::{}", data(&text))?;
            }
        }
    }
    Ok(())
}
