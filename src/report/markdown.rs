//! The Markdown view of a [`Doc`], for tickets and pull-request comments: kms-doctor's words as
//! escaped prose, every value a code span it cannot close ([`escape`]), the appendix included.

use super::doc::{Block, Doc, Line, Located, Problem, Tone};
use super::escape::{self, MdContext};
use super::text::place;
use crate::diagnosis::model::{Finding, Span};
use std::io::{self, Write};

/// Markdown output: kms-doctor's own markup as it is, its prose escaped, values in code spans.
struct MdOut<'a> {
    w: &'a mut dyn Write,
}

impl MdOut<'_> {
    /// Markup kms-doctor writes (`## `, `| `): only a `&'static str` or a number.
    fn raw(&mut self, s: &str) -> io::Result<&mut Self> {
        self.w.write_all(s.as_bytes())?;
        Ok(self)
    }

    fn span(&mut self, span: &Span, ctx: MdContext) -> io::Result<&mut Self> {
        match span {
            Span::Prose(p) => self.raw(&escape::md_prose(p, ctx)),
            Span::Code(c) | Span::Quoted(c) => self.raw(&escape::code_span(c, ctx)),
        }
    }

    /// A line; kms-doctor's words in a tone other than plain or dim are bold (a verdict, a
    /// status), when they can be: CommonMark does not bold text that starts or ends with space.
    fn line(&mut self, line: &Line, ctx: MdContext) -> io::Result<&mut Self> {
        for (tone, span) in &line.0 {
            let bold = match span {
                Span::Prose(p) => {
                    !matches!(tone, Tone::Plain | Tone::Dim) && !p.is_empty() && p.trim() == p
                }
                _ => false,
            };
            if bold {
                self.raw("**")?.span(span, ctx)?.raw("**")?;
            } else {
                self.span(span, ctx)?;
            }
        }
        Ok(self)
    }

    fn text(&mut self, t: &crate::diagnosis::model::Text) -> io::Result<&mut Self> {
        for span in t.spans() {
            self.span(span, MdContext::Block)?;
        }
        Ok(self)
    }

    fn row<'l>(&mut self, cells: impl IntoIterator<Item = &'l Line>) -> io::Result<&mut Self> {
        self.raw("|")?;
        for cell in cells {
            self.raw(" ")?.line(cell, MdContext::Cell)?.raw(" |")?;
        }
        self.raw("\n")
    }
}

pub fn render(doc: &Doc, out: &mut dyn Write) -> io::Result<()> {
    let mut out = MdOut { w: out };
    out.raw("# ")?
        .line(&doc.title, MdContext::Block)?
        .raw("\n\n")?;
    let (summary, rest): (Vec<&Block>, Vec<&Block>) = doc
        .blocks
        .iter()
        .partition(|b| matches!(b, Block::Summary(_)));
    for block in summary.into_iter().chain(rest) {
        write_block(block, &mut out)?;
    }
    Ok(())
}

fn write_block(block: &Block, out: &mut MdOut) -> io::Result<()> {
    use MdContext::Block as B;
    match block {
        Block::Fields(fields) => {
            out.raw("| | |\n|---|---|\n")?;
            for (label, line) in fields {
                out.row([&Line::from(*label), line])?;
            }
            out.raw("\n")?;
        }
        Block::Heading(line) => {
            out.raw("## ")?.line(line, B)?.raw("\n\n")?;
        }
        Block::Subheading(line) => {
            out.raw("### ")?.line(line, B)?.raw("\n\n")?;
        }
        Block::Para(line) | Block::Note(line) | Block::Summary(line) => {
            out.line(line, B)?.raw("\n\n")?;
        }
        Block::List { ordered, items } => {
            for (i, item) in items.iter().enumerate() {
                match ordered {
                    true => out.raw(&format!("{}. ", i + 1))?,
                    false => out.raw("- ")?,
                };
                out.line(item, B)?.raw("\n")?;
            }
            out.raw("\n")?;
        }
        Block::Lines(lines) => {
            for line in lines {
                // A leading mark would start a nested list or a heading rule: escaped.
                let marked = matches!(line.0.first(), Some((_, Span::Prose(p))) if p.starts_with(['+', '-', '=']));
                out.raw(if marked { "- \\" } else { "- " })?
                    .line(line, B)?
                    .raw("\n")?;
            }
            out.raw("\n")?;
        }
        Block::Table { head, rows } => {
            out.raw("|")?;
            for h in head {
                out.raw(" ")?.raw(h)?.raw(" |")?;
            }
            out.raw("\n|")?;
            for _ in head {
                out.raw("---|")?;
            }
            out.raw("\n")?;
            for row in rows {
                out.row(row)?;
            }
            out.raw("\n")?;
        }
        Block::Code { lang, text } => {
            out.raw(&escape::fence(text, lang))?.raw("\n\n")?;
        }
        Block::Findings { items, none } => {
            if let (true, Some(none)) = (items.is_empty(), none) {
                out.line(&Line::from(*none), B)?.raw("\n\n")?;
            }
            findings(items, out)?;
        }
        Block::Located(items) => located(items, out)?,
        // For a ticket: the body holds the answer; the rest opens on demand.
        Block::Appendix(inner) => {
            out.raw("<details>\n<summary>Key policy, AWS calls</summary>\n\n")?;
            for block in inner {
                write_block(block, out)?;
            }
            out.raw("</details>\n\n")?;
        }
    }
    Ok(())
}

/// Each finding under its own heading: what, why, evidence, what to do.
fn findings(items: &[&Finding], out: &mut MdOut) -> io::Result<()> {
    for f in items {
        finding(f, None, out)?;
    }
    Ok(())
}

fn finding(f: &Finding, at: Option<&Line>, out: &mut MdOut) -> io::Result<()> {
    out.raw(&format!("### {} `{}`: ", f.severity, f.code))?
        .text(&f.title)?
        .raw("\n\n")?;
    if let Some(at) = at {
        out.line(at, MdContext::Block)?.raw("\n\n")?;
    }
    if !f.detail.is_empty() {
        out.text(&f.detail)?.raw("\n\n")?;
    }
    if !f.evidence.is_empty() {
        out.raw("<details>\n<summary>Evidence</summary>\n\n")?;
        for e in &f.evidence {
            out.raw("- ")?.text(e)?.raw("\n")?;
        }
        out.raw("\n</details>\n\n")?;
    }
    if !f.help.is_empty() {
        out.raw("**What to do:** ")?.text(&f.help)?.raw("\n\n")?;
    }
    Ok(())
}

/// Check's findings: a table to scan, the files not checked, then each finding in full.
fn located(items: &[Located], out: &mut MdOut) -> io::Result<()> {
    let found: Vec<(&Located, &str, &Finding)> = items
        .iter()
        .filter_map(|l| match &l.problem {
            Problem::Finding {
                resource, finding, ..
            } => Some((l, *resource, *finding)),
            Problem::Unreadable(_) => None,
        })
        .collect();
    if !found.is_empty() {
        out.raw("| Where | Resource | Severity | Code | Finding |\n|---|---|---|---|---|\n")?;
        for (l, resource, f) in &found {
            out.row(&[
                Line::new().v(place(&l.place)),
                Line::new().v(*resource),
                Line::new().words(f.severity.as_str()),
                Line::new().v(f.code.as_str()),
                Line::from(&f.title),
            ])?;
        }
        out.raw("\n")?;
    }
    let unreadable: Vec<Line> = items
        .iter()
        .filter_map(|l| match l.problem {
            Problem::Unreadable(e) => Some(Line::new().v(l.place.path).w(": ").v(e)),
            Problem::Finding { .. } => None,
        })
        .collect();
    if !unreadable.is_empty() {
        write_block(&Block::Heading("Not checked".into()), out)?;
        write_block(
            &Block::List {
                ordered: false,
                items: unreadable,
            },
            out,
        )?;
    }
    for (l, resource, f) in found {
        let at = Line::new().v(place(&l.place)).w(", ").v(resource);
        finding(f, Some(&at), out)?;
    }
    Ok(())
}
