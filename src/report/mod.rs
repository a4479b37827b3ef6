//! Rendering reports as text, JSON or Markdown into any `Write`. The only layer that decides
//! how things look; nothing here computes a verdict.

pub mod diagnose;
pub mod explain;
pub mod redact;
pub mod timeline;

use anstyle::{AnsiColor, Effects, Style};
use std::io::{self, Write};

/// Colours for text output, or none.
#[derive(Clone, Copy)]
pub struct Paint {
    color: bool,
}

impl Paint {
    pub fn new(color: bool) -> Self {
        Paint { color }
    }

    pub fn style(&self, text: &str, style: Style) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    pub fn heading(&self, text: &str) -> String {
        self.style(
            text,
            Style::new().effects(Effects::BOLD | Effects::UNDERLINE),
        )
    }

    pub fn bold(&self, text: &str) -> String {
        self.style(text, Style::new().effects(Effects::BOLD))
    }

    pub fn dim(&self, text: &str) -> String {
        self.style(text, Style::new().effects(Effects::DIMMED))
    }

    pub fn good(&self, text: &str) -> String {
        self.style(text, AnsiColor::Green.on_default().effects(Effects::BOLD))
    }

    pub fn bad(&self, text: &str) -> String {
        self.style(text, AnsiColor::Red.on_default().effects(Effects::BOLD))
    }

    pub fn warn(&self, text: &str) -> String {
        self.style(text, AnsiColor::Yellow.on_default().effects(Effects::BOLD))
    }

    pub fn severity(&self, s: crate::diagnosis::Severity) -> String {
        use crate::diagnosis::Severity;
        let label = format!("{:<7}", s.as_str());
        match s {
            Severity::Error => self.bad(&label),
            Severity::Warning => self.warn(&label),
            Severity::Info => self.dim(&label),
        }
    }
}

/// Writes a value as pretty JSON followed by a newline.
pub fn write_json<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}

/// Makes text safe inside a Markdown table cell.
pub fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The Findings section in text: the heading, `none` when there are none, then each finding.
pub fn write_findings_text(
    findings: &[crate::diagnosis::Finding],
    none: &str,
    paint: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "\n{}", paint.heading("Findings"))?;
    if findings.is_empty() {
        writeln!(out, "  {none}")?;
    }
    for f in findings {
        write_finding_text(f, paint, out)?;
    }
    Ok(())
}

/// The Findings section in Markdown.
pub fn write_findings_markdown(
    findings: &[crate::diagnosis::Finding],
    none: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "## Findings\n")?;
    if findings.is_empty() {
        writeln!(out, "{none}\n")?;
    }
    for f in findings {
        write_finding_markdown(f, out)?;
    }
    Ok(())
}

/// Writes one finding as what / why / evidence / help.
fn write_finding_text(
    f: &crate::diagnosis::Finding,
    paint: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "  {} {}  {}",
        paint.severity(f.severity),
        paint.bold(f.code.as_str()),
        f.title
    )?;
    if !f.detail.is_empty() {
        writeln!(out, "          {} {}", paint.dim("why:"), f.detail)?;
    }
    if !f.evidence.is_empty() {
        writeln!(out, "          {}", paint.dim("evidence:"))?;
        for e in &f.evidence {
            writeln!(out, "            - {e}")?;
        }
    }
    if !f.help.is_empty() {
        writeln!(out, "          {} {}", paint.dim("help:"), f.help)?;
    }
    Ok(())
}

/// Writes one finding as a Markdown section.
fn write_finding_markdown(f: &crate::diagnosis::Finding, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "### {} `{}`: {}\n", f.severity, f.code, f.title)?;
    if !f.detail.is_empty() {
        writeln!(out, "{}\n", f.detail)?;
    }
    if !f.evidence.is_empty() {
        writeln!(out, "Evidence:\n")?;
        for e in &f.evidence {
            writeln!(out, "- {e}")?;
        }
        writeln!(out)?;
    }
    if !f.help.is_empty() {
        writeln!(out, "**What to do:** {}\n", f.help)?;
    }
    Ok(())
}
