//! The terminal view of a [`Doc`]: labelled fields, underlined headings, aligned tables,
//! indented lists; every piece escaped ([`escape::terminal`]), styles around escaped pieces.
//! The title is Markdown's; a terminal starts with the answer.

use super::doc::{Block, Doc, Line, Located, Place, Problem, Tone};
use super::escape;
use super::{WriteColor, styles};
use crate::diagnosis::model::{Finding, Severity, Span, Text};
use anstyle::Style;
use std::io;

/// Text output: kms-doctor's own words as they are, values escaped, styles around both.
pub struct TextOut<'a> {
    w: &'a mut dyn WriteColor,
}

impl<'a> TextOut<'a> {
    pub fn new(w: &'a mut dyn WriteColor) -> Self {
        TextOut { w }
    }

    /// kms-doctor's own words, written as they are: only a `&'static str` can be, so no text
    /// that came at run time reaches the terminal unescaped.
    pub fn p(&mut self, s: &'static str) -> io::Result<&mut Self> {
        self.w.write_all(s.as_bytes())?;
        Ok(self)
    }

    /// An untrusted value (or computed text), escaped.
    pub fn v(&mut self, s: &str) -> io::Result<&mut Self> {
        self.w.write_all(escape::terminal(s).as_bytes())?;
        Ok(self)
    }

    /// Text in a style, escaped as a value is.
    pub fn styled(&mut self, style: Style, s: &str) -> io::Result<&mut Self> {
        self.w.set_style(style)?;
        self.v(s)?;
        self.w.reset()?;
        Ok(self)
    }

    pub fn nl(&mut self) -> io::Result<&mut Self> {
        self.p("\n")
    }

    fn span(&mut self, span: &Span) -> io::Result<&mut Self> {
        match span {
            Span::Prose(p) => self.v(p),
            Span::Code(c) => self.v(c),
            Span::Quoted(q) => self.p("\"")?.v(q)?.p("\""),
        }
    }

    pub fn t(&mut self, t: &Text) -> io::Result<&mut Self> {
        for span in t.spans() {
            self.span(span)?;
        }
        Ok(self)
    }

    /// A line, each piece in its tone, or all in `base` where the piece has none.
    fn line(&mut self, line: &Line, base: Option<Style>) -> io::Result<&mut Self> {
        for (tone, span) in &line.0 {
            match style(*tone).or(base) {
                Some(s) => {
                    self.w.set_style(s)?;
                    self.span(span)?;
                    self.w.reset()?;
                }
                None => {
                    self.span(span)?;
                }
            }
        }
        Ok(self)
    }
}

fn style(tone: Tone) -> Option<Style> {
    match tone {
        Tone::Plain => None,
        Tone::Strong => Some(styles::BOLD),
        Tone::Dim => Some(styles::DIM),
        Tone::Good => Some(styles::GOOD),
        Tone::Bad => Some(styles::BAD),
        Tone::Warn => Some(styles::WARN),
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Error => styles::BAD,
        Severity::Warning => styles::WARN,
        Severity::Info => styles::DIM,
    }
}

/// The width a line takes on a terminal, as escaped.
fn width(line: &Line) -> usize {
    line.0
        .iter()
        .map(|(_, s)| match s {
            Span::Prose(p) => escape::terminal(p).chars().count(),
            Span::Code(c) => escape::terminal(c).chars().count(),
            Span::Quoted(q) => escape::terminal(q).chars().count() + 2,
        })
        .sum()
}

pub fn render(doc: &Doc, out: &mut dyn WriteColor) -> io::Result<()> {
    let mut out = TextOut::new(out);
    let mut indent = "";
    for block in &doc.blocks {
        match block {
            Block::Heading(_) | Block::Subheading(_) => indent = "  ",
            Block::Fields(_) => indent = "",
            _ => {}
        }
        write_block(block, indent, &mut out)?;
    }
    Ok(())
}

fn write_block(block: &Block, indent: &'static str, out: &mut TextOut) -> io::Result<()> {
    match block {
        Block::Fields(fields) => {
            let w = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
            for (label, line) in fields {
                out.styled(styles::BOLD, &format!("{label:<w$}"))?
                    .p(" ")?
                    .line(line, None)?
                    .nl()?;
            }
        }
        Block::Heading(line) => {
            out.nl()?.line(line, Some(styles::HEADING))?.nl()?;
        }
        Block::Subheading(line) => {
            out.nl()?.line(line, None)?.nl()?;
        }
        Block::Para(line) | Block::Summary(line) => {
            out.p(indent)?.line(line, None)?.nl()?;
        }
        Block::List { ordered, items } => {
            for (i, item) in items.iter().enumerate() {
                match ordered {
                    true => out.p(indent)?.v(&format!("{}. ", i + 1))?,
                    false => out.p(indent)?.p("- ")?,
                };
                out.line(item, None)?.nl()?;
            }
        }
        Block::Table { head, rows } => {
            // Columns empty in every row are left out; a row ends at its last non-empty cell.
            let shown: Vec<usize> = (0..head.len())
                .filter(|&i| rows.iter().any(|r| r.get(i).is_some_and(|c| !c.is_empty())))
                .collect();
            let widths: Vec<usize> = (0..head.len())
                .map(|i| {
                    rows.iter()
                        .filter_map(|r| r.get(i))
                        .map(width)
                        .chain([head[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let heads: Vec<Line> = head
                .iter()
                .map(|h| Line::new().words(h.to_uppercase()))
                .collect();
            let header = Some(&heads);
            for (row, strong) in header
                .into_iter()
                .map(|h| (h, true))
                .chain(rows.iter().map(|r| (r, false)))
            {
                let cells: Vec<(usize, &Line)> = shown
                    .iter()
                    .filter_map(|&i| Some((i, row.get(i)?)))
                    .collect();
                let end = cells
                    .iter()
                    .rposition(|(_, c)| !c.is_empty())
                    .map_or(0, |p| p + 1);
                out.p(indent)?;
                for (n, (i, cell)) in cells[..end].iter().enumerate() {
                    out.line(cell, strong.then_some(styles::BOLD))?;
                    if n + 1 < end {
                        out.v(&" ".repeat(widths[*i] + 2 - width(cell)))?;
                    }
                }
                out.nl()?;
            }
        }
        Block::Lines(lines) => {
            for line in lines {
                out.p(indent)?.p("  ")?.line(line, None)?.nl()?;
            }
        }
        Block::Code { text, .. } => {
            for line in text.lines() {
                out.p(indent)?.p("  ")?.v(line)?.nl()?;
            }
        }
        Block::Findings { items, none } => {
            if let (true, Some(none)) = (items.is_empty(), none) {
                out.p(indent)?.p(none)?.nl()?;
            }
            findings(items, out)?;
        }
        Block::Located(items) => located(items, out)?,
        Block::Note(line) => {
            out.nl()?.line(line, Some(styles::DIM))?.nl()?;
        }
        Block::Appendix(_) => {}
    }
    Ok(())
}

/// Each finding as what / why / evidence / help.
pub fn findings(findings: &[Finding], out: &mut TextOut) -> io::Result<()> {
    for f in findings {
        out.p("  ")?
            .styled(
                severity_style(f.severity),
                &format!("{:<7}", f.severity.as_str()),
            )?
            .p(" ")?
            .styled(styles::BOLD, f.code.as_str())?
            .p("  ")?
            .t(&f.title)?
            .nl()?;
        if !f.detail.is_empty() {
            out.p("          ")?
                .styled(styles::DIM, "why:")?
                .p(" ")?
                .t(&f.detail)?
                .nl()?;
        }
        if !f.evidence.is_empty() {
            out.p("          ")?
                .styled(styles::DIM, "evidence:")?
                .nl()?;
            for e in &f.evidence {
                out.p("            - ")?.t(e)?.nl()?;
            }
        }
        if !f.help.is_empty() {
            out.p("          ")?
                .styled(styles::DIM, "help:")?
                .p(" ")?
                .t(&f.help)?
                .nl()?;
        }
    }
    Ok(())
}

/// `path:line:col` (or `path` alone).
pub fn place(p: &Place) -> String {
    match (p.line, p.column) {
        (Some(line), Some(col)) => format!("{}:{line}:{col}", p.path),
        (Some(line), None) => format!("{}:{line}", p.path),
        _ => p.path.to_owned(),
    }
}

/// Compiler style: `path:line:col: error[code]: title`, then where and why.
fn located(items: &[Located], out: &mut TextOut) -> io::Result<()> {
    for l in items {
        let (resource, resource_type, f) = match &l.problem {
            Problem::Unreadable(error) => {
                let at = Place {
                    line: l.place.line.filter(|_| l.place.column.is_some()),
                    ..l.place
                };
                out.styled(styles::BOLD, &place(&at))?
                    .p(": ")?
                    .styled(styles::BAD, "error")?
                    .p(": cannot check this file: ")?
                    .v(error)?
                    .nl()?;
                continue;
            }
            Problem::Finding {
                resource,
                resource_type,
                finding,
            } => (resource, resource_type, finding),
        };
        out.styled(styles::BOLD, &place(&l.place))?
            .p(": ")?
            .styled(
                severity_style(f.severity),
                &format!("{}[{}]", f.severity, f.code),
            )?
            .p(": ")?
            .t(&f.title)?
            .nl()?;
        out.p("  --> ")?
            .v(resource)?
            .p(" (")?
            .v(resource_type)?
            .p(")")?
            .nl()?;
        if !f.detail.is_empty() {
            out.p("  = why: ")?.t(&f.detail)?.nl()?;
        }
        for e in &f.evidence {
            out.p("  = evidence: ")?.t(e)?.nl()?;
        }
        if !f.help.is_empty() {
            out.p("  = help: ")?.t(&f.help)?.nl()?;
        }
        out.nl()?;
    }
    Ok(())
}
