//! Rendering typed reports into any writer. The only layer that decides how things look;
//! nothing here computes a verdict.
//!
//! Each report is built once into a [`doc::Doc`]; [`text`], [`markdown`] and [`github`] are
//! its views, and JSON and SARIF serialize the report itself. Untrusted text (everything from
//! AWS or a user's file) is escaped in the views, per format ([`escape`]); colour is applied
//! around already-escaped pieces through a [`WriteColor`] writer; `--redact` rewrites the
//! report's data before it is built ([`redact`]).

pub mod check;
pub mod diagnose;
pub mod doc;
pub mod escape;
pub mod explain;
pub mod github;
pub mod markdown;
pub mod redact;
pub mod sarif;
pub mod scan;
pub mod text;
pub mod timeline;

use anstyle::{AnsiColor, Effects, Style};
use std::io::{self, Write};
pub use text::TextOut;

/// An output format. Each command writes the formats of its list (`Format::DIAGNOSE`, …): the
/// command line offers those, and a renderer given another answers `Unsupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
}

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Text,
        Format::Json,
        Format::Markdown,
        Format::Sarif,
        Format::Github,
    ];
    /// `diagnose`, `explain` and `history`: for people and tickets, and JSON.
    pub const DIAGNOSE: &'static [Format] = &[Format::Text, Format::Json, Format::Markdown];
    /// `scan`: and SARIF, one result per finding at the key's ARN.
    pub const SCAN: &'static [Format] =
        &[Format::Text, Format::Json, Format::Markdown, Format::Sarif];
    /// `check`: every format, at the line of a file.
    pub const CHECK: &'static [Format] = Format::ALL;

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Sarif => "sarif",
            Format::Github => "github",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// A format the command does not write (the command line offers only those it does).
fn unsupported(format: Format, command: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{command} does not write {}", format.name()),
    )
}

/// A writer that can colour what follows (after ripgrep's and termcolor's `WriteColor`).
pub trait WriteColor: Write {
    fn set_style(&mut self, style: Style) -> io::Result<()>;
    fn reset(&mut self) -> io::Result<()>;
    /// The columns text reports wrap to.
    fn width(&self) -> usize {
        DEFAULT_WIDTH
    }
}

/// Columns when neither `COLUMNS` nor a terminal says.
pub const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, wrapping helps no one: lines are cut at this width at least.
pub const MIN_WIDTH: usize = 40;

/// A writer that wraps text reports at `.1` columns.
pub struct Width<W>(pub W, pub usize);

impl<W: Write> Write for Width<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: WriteColor> WriteColor for Width<W> {
    fn set_style(&mut self, style: Style) -> io::Result<()> {
        self.0.set_style(style)
    }
    fn reset(&mut self) -> io::Result<()> {
        self.0.reset()
    }
    fn width(&self) -> usize {
        self.1.max(MIN_WIDTH)
    }
}

impl WriteColor for Box<dyn WriteColor + '_> {
    fn set_style(&mut self, style: Style) -> io::Result<()> {
        (**self).set_style(style)
    }
    fn reset(&mut self) -> io::Result<()> {
        (**self).reset()
    }
    fn width(&self) -> usize {
        (**self).width()
    }
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

/// Writes a value as pretty JSON followed by a newline.
pub fn write_json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    out.write_all(escape::json(&text).as_bytes())?;
    writeln!(out)
}

/// A document in one of its human views.
pub fn show(doc: &doc::Doc, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Markdown => markdown::render(doc, out),
        Format::Github => github::render(doc, out),
        Format::Text | Format::Json | Format::Sarif => text::render(doc, out),
    }
}
