//! Rendering typed reports as text, JSON or Markdown into any writer. The only layer that
//! decides how things look; nothing here computes a verdict.
//!
//! Untrusted text (everything from AWS or a user's file) is escaped here, at the point of
//! output, per format ([`escape`]); colour is applied around already-escaped pieces through a
//! [`WriteColor`] writer; `--redact` rewrites the report's data before it is rendered
//! ([`redact`]).

pub mod check;
pub mod diagnose;
pub mod escape;
pub mod explain;
pub mod redact;
pub mod sarif;
pub mod scan;
pub mod timeline;

use crate::diagnosis::model::{Finding, Severity, Span, Text};
use anstyle::{AnsiColor, Effects, Style};
use escape::MdContext;
use std::io::{self, Write};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// A writer that can colour what follows (after ripgrep's and termcolor's `WriteColor`).
pub trait WriteColor: Write {
    fn set_style(&mut self, style: Style) -> io::Result<()>;
    fn reset(&mut self) -> io::Result<()>;
}

/// Writes ANSI styles.
pub struct Ansi<W>(pub W);
/// Ignores styles: files, pipes, `NO_COLOR`, tests.
pub struct NoColor<W>(pub W);

impl<W: Write> Write for Ansi<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> WriteColor for Ansi<W> {
    fn set_style(&mut self, style: Style) -> io::Result<()> {
        write!(self.0, "{}", style.render())
    }
    fn reset(&mut self) -> io::Result<()> {
        write!(self.0, "{}", anstyle::Reset.render())
    }
}

impl<W: Write> Write for NoColor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> WriteColor for NoColor<W> {
    fn set_style(&mut self, _: Style) -> io::Result<()> {
        Ok(())
    }
    fn reset(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The styles of text reports.
pub mod styles {
    use super::*;
    pub const HEADING: Style = Style::new().effects(Effects::BOLD.insert(Effects::UNDERLINE));
    pub const BOLD: Style = Style::new().effects(Effects::BOLD);
    pub const DIM: Style = Style::new().effects(Effects::DIMMED);
    pub const GOOD: Style = AnsiColor::Green.on_default().effects(Effects::BOLD);
    pub const BAD: Style = AnsiColor::Red.on_default().effects(Effects::BOLD);
    pub const WARN: Style = AnsiColor::Yellow.on_default().effects(Effects::BOLD);
}

/// Text output: kms-doctor's own words as they are, values escaped, styles around both.
pub struct TextOut<'a> {
    w: &'a mut dyn WriteColor,
}

impl<'a> TextOut<'a> {
    pub fn new(w: &'a mut dyn WriteColor) -> Self {
        TextOut { w }
    }

    /// kms-doctor's own words, written as they are: only a `&'static str` can be, so no text
    /// that came at run time reaches the terminal unescaped. Computed text (numbers, padding,
    /// kms-doctor's words joined at run time) goes through [`TextOut::v`], whose escaping leaves
    /// it as it is.
    pub fn p(&mut self, s: &'static str) -> io::Result<&mut Self> {
        self.w.write_all(s.as_bytes())?;
        Ok(self)
    }

    /// An untrusted value.
    pub fn v(&mut self, s: &str) -> io::Result<&mut Self> {
        self.w.write_all(escape::terminal(s).as_bytes())?;
        Ok(self)
    }

    pub fn t(&mut self, t: &Text) -> io::Result<&mut Self> {
        for span in t.spans() {
            match span {
                Span::Prose(p) => self.v(p)?,
                Span::Code(c) => self.v(c)?,
                Span::Quoted(q) => self.p("\"")?.v(q)?.p("\"")?,
            };
        }
        Ok(self)
    }

    /// Text in a style, escaped as a value is.
    pub fn styled(&mut self, style: Style, s: &str) -> io::Result<&mut Self> {
        self.w.set_style(style)?;
        self.v(s)?;
        self.w.reset()?;
        Ok(self)
    }

    /// An untrusted value in a style.
    pub fn styled_v(&mut self, style: Style, s: &str) -> io::Result<&mut Self> {
        self.w.set_style(style)?;
        self.v(s)?;
        self.w.reset()?;
        Ok(self)
    }

    pub fn nl(&mut self) -> io::Result<&mut Self> {
        self.p("\n")
    }

    pub fn heading(&mut self, s: &str) -> io::Result<&mut Self> {
        self.nl()?.styled(styles::HEADING, s)?.nl()
    }
}

/// Markdown output: kms-doctor's own markup as it is, its prose escaped, values in code spans.
pub struct MdOut<'a> {
    w: &'a mut dyn Write,
}

impl<'a> MdOut<'a> {
    pub fn new(w: &'a mut dyn Write) -> Self {
        MdOut { w }
    }

    /// Markup kms-doctor writes (`## `, `| `, `**`): never from data.
    pub fn raw(&mut self, s: &str) -> io::Result<&mut Self> {
        self.w.write_all(s.as_bytes())?;
        Ok(self)
    }

    /// kms-doctor's own words.
    pub fn p(&mut self, s: &str, ctx: MdContext) -> io::Result<&mut Self> {
        self.raw(&escape::md_prose(s, ctx))
    }

    /// An untrusted value, as a code span.
    pub fn code(&mut self, s: &str, ctx: MdContext) -> io::Result<&mut Self> {
        self.raw(&escape::code_span(s, ctx))
    }

    pub fn t(&mut self, t: &Text, ctx: MdContext) -> io::Result<&mut Self> {
        for span in t.spans() {
            match span {
                Span::Prose(p) => self.p(p, ctx)?,
                Span::Code(c) | Span::Quoted(c) => self.code(c, ctx)?,
            };
        }
        Ok(self)
    }

    /// An optional value as a code span, or kms-doctor's words when it is missing.
    pub fn code_or(
        &mut self,
        s: Option<&str>,
        missing: &str,
        ctx: MdContext,
    ) -> io::Result<&mut Self> {
        match s {
            Some(s) if !s.is_empty() => self.code(s, ctx),
            _ => self.p(missing, ctx),
        }
    }
}

/// Writes a value as pretty JSON followed by a newline.
pub fn write_json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    out.write_all(escape::json(&text).as_bytes())?;
    writeln!(out)
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Error => styles::BAD,
        Severity::Warning => styles::WARN,
        Severity::Info => styles::DIM,
    }
}

/// The Findings section in text: the heading, `none` when there are none, then each finding
/// as what / why / evidence / help.
pub fn write_findings_text(findings: &[Finding], none: &str, out: &mut TextOut) -> io::Result<()> {
    out.heading("Findings")?;
    if findings.is_empty() {
        out.p("  ")?.v(none)?.nl()?;
    }
    write_finding_items_text(findings, out)
}

/// Each finding as what / why / evidence / help, without a heading.
pub fn write_finding_items_text(findings: &[Finding], out: &mut TextOut) -> io::Result<()> {
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

/// The Findings section in Markdown.
pub fn write_findings_markdown(
    findings: &[Finding],
    none: &str,
    out: &mut MdOut,
) -> io::Result<()> {
    out.raw("## Findings\n\n")?;
    if findings.is_empty() {
        out.p(none, MdContext::Block)?.raw("\n\n")?;
    }
    write_finding_items_markdown(findings, "###", out)
}

/// Each finding under a heading of `level` (`###`), without a section heading.
pub fn write_finding_items_markdown(
    findings: &[Finding],
    level: &str,
    out: &mut MdOut,
) -> io::Result<()> {
    for f in findings {
        out.raw(&format!("{level} {} `{}`: ", f.severity, f.code))?
            .t(&f.title, MdContext::Block)?
            .raw("\n\n")?;
        if !f.detail.is_empty() {
            out.t(&f.detail, MdContext::Block)?.raw("\n\n")?;
        }
        if !f.evidence.is_empty() {
            out.raw("Evidence:\n\n")?;
            for e in &f.evidence {
                out.raw("- ")?.t(e, MdContext::Block)?.raw("\n")?;
            }
            out.raw("\n")?;
        }
        if !f.help.is_empty() {
            out.raw("**What to do:** ")?
                .t(&f.help, MdContext::Block)?
                .raw("\n\n")?;
        }
    }
    Ok(())
}
