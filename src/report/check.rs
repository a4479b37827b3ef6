//! The `check` report: compiler-style text (`path:line:col: error[code]: title`), the
//! contract's JSON, Markdown, SARIF 2.1.0 for code scanning, and GitHub workflow commands.

use super::doc::{Block, Doc, Line, Located, Place, Problem, Tone};
use super::sarif::{self, level};
use super::{Format, WriteColor, show, write_json};
use crate::diagnosis::model::{CheckReport, SuppressionKind, fingerprint};
use crate::diagnosis::model::{Text, count, counted};
use crate::text;
use std::io;

/// `check` writes every format (`Format::CHECK`).
pub fn render(r: &CheckReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text | Format::Markdown | Format::Github => show(&doc(r), format, out),
        Format::Sarif => write_json(&sarif(r), out),
    }
}

fn summary_line(r: &CheckReport) -> Text {
    let s = &r.summary;
    let mut removed = Text::default();
    if s.principals_removed > 0 {
        removed = text!(
            " (",
            counted(
                s.principals_removed,
                "principal removed",
                "principals removed"
            )
        );
        if s.existing_keys > 0 {
            removed.append(text!(
                "; ",
                counted(s.existing_keys, "existing key", "existing keys"),
                " judged"
            ));
        }
        removed.push(")");
    }
    // With principals removed, resources are keys and the IAM resources that remove them.
    let resources = match s.principals_removed {
        0 => counted(s.resources, "key resource", "key resources"),
        _ => counted(s.resources, "resource", "resources"),
    };
    let mut line = text!(
        counted(s.files, "file", "files"),
        " checked, ",
        resources,
        removed,
        ": ",
        counted(s.errors, "error", "errors"),
        ", ",
        counted(s.warnings, "warning", "warnings")
    );
    if s.unreadable > 0 {
        line.append(text!(", ", count(s.unreadable), " unreadable"));
    }
    if s.suppressed > 0 {
        line.append(text!(
            " (",
            count(s.suppressed),
            " accepted, not counted: --format json lists them)"
        ));
    }
    line
}

fn doc(r: &CheckReport) -> Doc<'_> {
    let mut doc = Doc::new("kms-doctor check");
    let mut located = Vec::new();
    for f in &r.files {
        if let Some(e) = &f.error {
            let at = f.error_location.unwrap_or_default();
            located.push(Located {
                place: Place {
                    path: &f.path,
                    line: at.line,
                    column: at.column,
                },
                problem: Problem::Unreadable(e),
            });
        }
        for res in &f.resources {
            // An accepted finding is not shown to people; JSON and SARIF keep it, marked.
            for l in res.findings.iter().filter(|l| l.counts()) {
                located.push(Located {
                    place: Place {
                        path: &f.path,
                        line: l.line,
                        column: l.column,
                    },
                    problem: Problem::Finding {
                        resource: &res.name,
                        resource_type: res.resource_type.as_str(),
                        finding: &l.finding,
                    },
                });
            }
        }
    }
    doc.push(Block::Located(located));
    if !r.findings.is_empty() {
        doc.heading("The keys that exist").push(Block::Findings {
            items: r.findings.iter().collect(),
            none: None,
        });
    }
    let s = &r.summary;
    let tone = if s.errors > 0 || s.unreadable > 0 {
        Tone::Bad
    } else if s.warnings > 0 {
        Tone::Warn
    } else {
        Tone::Good
    };
    doc.push(Block::Summary(Line::new().words_in(tone, summary_line(r))));
    if let Some(config) = &r.config {
        doc.push(Block::Summary(Line::new().w("Configuration: ").v(config)));
    }
    doc
}

/// SARIF 2.1.0: a rule per code used (with its meaning, help and where it is documented), a
/// result per finding with its physical location.
pub fn sarif(r: &CheckReport) -> serde_json::Value {
    use serde_json::json;
    let used = sarif::codes_used(
        r.files
            .iter()
            .flat_map(|f| &f.resources)
            .flat_map(|res| res.findings.iter().map(|l| l.finding.code))
            .chain(r.findings.iter().map(|f| f.code)),
    );
    let used = &used;
    // Findings about the keys that exist as a whole have no file to stand at.
    let mut results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.code.as_str(),
                "ruleIndex": used.iter().position(|c| *c == f.code),
                "level": level(f.severity),
                "message": {"text": f.message()},
                "properties": {"help": f.help.plain()}
            })
        })
        .collect();
    for f in &r.files {
        for res in &f.resources {
            for l in &res.findings {
                let mut physical = json!({"artifactLocation": {"uri": uri(&f.path)}});
                if let Some(line) = l.line {
                    physical["region"] =
                        json!({"startLine": line, "startColumn": l.column.unwrap_or(1)});
                }
                let mut result = json!({
                    "ruleId": l.finding.code.as_str(),
                    "ruleIndex": used.iter().position(|c| *c == l.finding.code),
                    "level": level(l.finding.severity),
                    "message": {"text": l.finding.message()},
                    "locations": [{
                        "physicalLocation": physical,
                        "logicalLocations": [{"fullyQualifiedName": res.name, "kind": "resource"}]
                    }],
                    "partialFingerprints": {
                        "kmsDoctor/v1": fingerprint(&f.path, &res.name, l.finding.code)
                    },
                    "properties": {"help": l.finding.help.plain(), "resourceType": res.resource_type}
                });
                // SARIF's own way to say a result was accepted: dashboards hide it, not lose it.
                if let Some(s) = &l.finding.suppressed {
                    result["suppressions"] = json!([{
                        "kind": match s.kind {
                            SuppressionKind::Inline => "inSource",
                            SuppressionKind::Config | SuppressionKind::Baseline => "external",
                        },
                        "justification": s.reason,
                    }]);
                }
                results.push(result);
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

/// A path as a relative URI reference (RFC 3986): characters a URI cannot hold, and `:`, are
/// percent-encoded, so that a file name can never choose a scheme (`javascript:…`); a backslash
/// is part of a Unix file name, encoded too, never a separator that could make a `..`.
fn uri(path: &str) -> String {
    let path = match cfg!(windows) {
        true => std::borrow::Cow::Owned(path.replace('\\', "/")),
        false => std::borrow::Cow::Borrowed(path),
    };
    let path = path.strip_prefix("./").unwrap_or(&path);
    percent_encoding::utf8_percent_encode(path, URI_UNSAFE).to_string()
}

const URI_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b':')
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
