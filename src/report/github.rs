//! The GitHub Actions view of a [`Doc`]: each located finding a workflow command
//! (`::error file=…,line=…::…`) that the runner turns into an annotation; other blocks are not
//! shown there. Values are encoded as the runner decodes them ([`escape::github_data`]).

use super::doc::{Block, Doc, Place, Problem};
use super::escape::{github_data as data, github_property as property};
use crate::diagnosis::model::Severity;
use std::io::{self, Write};

fn props(place: &Place) -> String {
    let mut props = format!("file={}", property(place.path));
    if let Some(line) = place.line {
        props.push_str(&format!(",line={line}"));
    }
    if let Some(col) = place.column {
        props.push_str(&format!(",col={col}"));
    }
    props
}

/// A finding as a workflow command's title and message.
fn command(
    finding: &crate::diagnosis::model::Finding,
    about: &str,
) -> (&'static str, String, String) {
    let command = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let title = property(&format!("kms-doctor {} ({about})", finding.code));
    let mut text = finding.message();
    let help = finding.help.plain();
    if !help.is_empty() {
        text.push_str(" Fix: ");
        text.push_str(&help);
    }
    (command, title, data(&text))
}

pub fn render(doc: &Doc, out: &mut dyn Write) -> io::Result<()> {
    for block in &doc.blocks {
        // Findings about the run, not a file (what the read of the keys that exist could not
        // examine): annotations without a place, so a partial answer shows on the run too.
        if let Block::Findings { items, .. } = block {
            for finding in items.iter().filter(|f| f.counts()) {
                let (command, title, text) = command(finding, "the run");
                writeln!(out, "::{command} title={title}::{text}")?;
            }
            continue;
        }
        let Block::Located(items) = block else {
            continue;
        };
        for l in items {
            let props = props(&l.place);
            match &l.problem {
                Problem::Unreadable(e) => writeln!(
                    out,
                    "::error {props},title=kms-doctor::cannot check this file: {}",
                    data(e)
                )?,
                Problem::Finding {
                    resource, finding, ..
                } => {
                    let (command, title, text) = command(finding, resource);
                    writeln!(out, "::{command} {props},title={title}::{text}")?;
                }
            }
        }
    }
    Ok(())
}
