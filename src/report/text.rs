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

    /// The columns to wrap to.
    pub fn width(&self) -> usize {
        self.w.width()
    }

    /// `line` wrapped to the width (textwrap's first fit, at spaces; a word longer than a row
    /// is cut): `first` before its first row, `rest` before the others; each piece keeps its
    /// style.
    fn wrapped(
        &mut self,
        first: &str,
        rest: &str,
        line: &Line,
        base: Option<Style>,
    ) -> io::Result<&mut Self> {
        let pieces = line_pieces(line, base);
        self.v(first)?;
        self.rows(display_width(first), rest, &pieces, true)
    }

    /// Styled pieces as rows: the first after `used` columns already written, the others after
    /// `rest`. `break_words`: cut a word longer than a row (not for commands to copy).
    fn rows(
        &mut self,
        used: usize,
        rest: &str,
        pieces: &[Piece],
        break_words: bool,
    ) -> io::Result<&mut Self> {
        let plain: String = pieces.iter().map(|(_, s, _)| s.as_str()).collect();
        let room = |taken: usize| self.width().saturating_sub(taken).max(super::MIN_WIDTH / 2);
        // A word (an ARN) too long for the hanging indent but not for a row indented by two
        // and marked is not cut: the rows after the first are indented so instead.
        // Then every such row is marked: at two columns it could pass for a row of its own.
        let marked_rest = format!("  {CONTINUED}");
        let hanging = room(display_width(rest));
        let narrow = plain
            .split(' ')
            .map(display_width)
            .any(|n| n > hanging && n + display_width(&marked_rest) <= self.width());
        let rest = if narrow { marked_rest.as_str() } else { rest };
        // Room for the continuation mark, where a value may need it.
        let mark = if may_need_mark(pieces) {
            display_width(CONTINUED)
        } else {
            0
        };
        // Words are cut to the rows' full room (an ARN that fits a row stays whole); rows are
        // filled to the room less the mark.
        let (mut first_room, rest_room) = (room(used), room(display_width(rest)));
        let mut words: Vec<textwrap::core::Word> = textwrap::WordSeparator::AsciiSpace
            .find_words(&plain)
            .collect();
        // A first word that fits a row of its own but not the first: it starts the next row.
        let first_len = words.first().map_or(0, |w| display_width(w.word));
        if first_len > first_room && first_len <= rest_room {
            self.nl()?.v(rest)?;
            first_room = rest_room;
        }
        if break_words {
            words = textwrap::core::break_words(words, first_room.min(rest_room));
        }
        let fill = |room: usize| room.saturating_sub(mark).max(1) as f64;
        let rows =
            textwrap::wrap_algorithms::wrap_first_fit(&words, &[fill(first_room), fill(rest_room)]);
        let offset = |s: &str| (s.as_ptr() as usize).wrapping_sub(plain.as_ptr() as usize);
        for (n, row) in rows.iter().enumerate() {
            if n > 0 {
                self.v(rest)?;
            }
            let (Some(head), Some(tail)) = (row.first(), row.last()) else {
                self.nl()?;
                continue;
            };
            // Words are slices of `plain`: write the pieces from the row's first word to the
            // end of its last.
            let (start, end) = (offset(head.word), offset(tail.word) + tail.word.len());
            // A runner trims the white space a row starts with.
            let row_text = plain[start..end].trim_start();
            // The first row follows its prefix (white space, perhaps: a runner trims it).
            let marked = match n {
                0 => command_like(row_text),
                _ => !narrow && needs_mark(pieces, start, row_text),
            };
            if marked {
                self.v(CONTINUED)?;
            }
            let mut at = 0;
            for (style, text, _) in pieces {
                let (from, to) = (start.max(at), end.min(at + text.len()));
                if from < to {
                    let part = &text[from - at..to - at];
                    match style {
                        Some(s) => self.styled(*s, part)?,
                        None => self.v(part)?,
                    };
                }
                at += text.len();
            }
            self.nl()?;
        }
        if rows.is_empty() {
            self.nl()?;
        }
        Ok(self)
    }

    /// A shell command in rows that end with ` \\`, so that it still copies as one command; a
    /// word is never cut.
    fn command(&mut self, pad: &str, command: &str) -> io::Result<&mut Self> {
        let room = self
            .width()
            .saturating_sub(display_width(pad) + 2)
            .max(super::MIN_WIDTH / 2);
        // Never at a hyphen either: a key ID must stay whole.
        let options = textwrap::Options::new(room)
            .break_words(false)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        let rows = textwrap::wrap(command, options);
        for (n, row) in rows.iter().enumerate() {
            self.v(pad)?.v(row)?;
            if n + 1 < rows.len() {
                self.p(" \\")?;
            }
            self.nl()?;
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

/// A line's pieces as the terminal shows them, each in its tone (or `base`).
fn line_pieces(line: &Line, base: Option<Style>) -> Vec<Piece> {
    line.0
        .iter()
        .map(|(tone, span)| (style(*tone).or(base), shown(span), is_value(span)))
        .collect()
}

/// A piece of a row: its style, its text as shown, and whether it is a value (from AWS or a
/// file: untrusted) rather than kms-doctor's own words.
type Piece = (Option<Style>, String, bool);

fn is_value(span: &Span) -> bool {
    !matches!(span, Span::Prose(_))
}

/// What marks a row that continues a value cut by wrapping, where the row alone would not show
/// it: so that no row can pass for one kms-doctor writes, nor for a GitHub workflow command.
const CONTINUED: &str = "\u{21b3} ";

/// A row's start that a GitHub runner reads as a workflow command (`::`, `##[`, after white
/// space, which it trims).
fn command_like(row: &str) -> bool {
    row.starts_with("::") || row.starts_with("##[")
}

/// A row's start shaped like a row kms-doctor's text writes: a list item (`- `, `* `, `1. `),
/// or a workflow command.
fn row_like(row: &str) -> bool {
    let digits = row.len() - row.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    command_like(row)
        || ["- ", "* ", "\u{2022} "].iter().any(|m| row.starts_with(m))
        || (digits > 0 && [". ", ") "].iter().any(|m| row[digits..].starts_with(m)))
}

/// Whether a row that starts at `start` of the pieces needs the continuation mark: it begins
/// like a workflow command, or inside a value (cut there by wrapping) like a row of its own.
fn needs_mark(pieces: &[Piece], start: usize, row: &str) -> bool {
    if command_like(row) {
        return true;
    }
    let mut at = 0;
    for (_, text, value) in pieces {
        if start < at + text.len() {
            return *value && start > at && row_like(row);
        }
        at += text.len();
    }
    false
}

/// Whether a value of the pieces could be cut into a row that needs the mark: then rows are
/// laid out with room for it.
fn may_need_mark(pieces: &[Piece]) -> bool {
    // Rows start after a space (words are cut at spaces, or inside a word too long for a row).
    pieces.iter().any(|(_, text, value)| {
        *value
            && (command_like(text.trim_start())
                || text
                    .match_indices(' ')
                    .any(|(i, _)| row_like(text[i..].trim_start())))
    })
}

fn text_pieces(t: &Text) -> Vec<Piece> {
    t.spans()
        .iter()
        .map(|s| (None, shown(s), is_value(s)))
        .collect()
}

fn display_width(s: &str) -> usize {
    textwrap::core::display_width(s)
}

/// A piece as the terminal shows it: escaped, a quoted name in quotes.
fn shown(span: &Span) -> String {
    match span {
        Span::Prose(p) => escape::terminal(p).into_owned(),
        Span::Code(c) => escape::terminal(c).into_owned(),
        Span::Quoted(q) => format!("\"{}\"", escape::terminal(q)),
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
    let mut after_summary = false;
    for block in &doc.blocks {
        match block {
            Block::Heading(_) | Block::Subheading(_) => indent = "  ",
            Block::Fields(_) => indent = "",
            _ => {}
        }
        let summary = matches!(block, Block::Summary(_));
        if after_summary && !summary && !matches!(block, Block::Heading(_)) {
            out.nl()?;
        }
        after_summary = summary;
        write_block(block, indent, &mut out)?;
    }
    Ok(())
}

/// Label and value rows, the values aligned.
fn write_fields(fields: &[(&str, Line)], out: &mut TextOut) -> io::Result<()> {
    let w = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let rest = " ".repeat(w + 1);
    for (label, line) in fields {
        let pieces = line_pieces(line, None);
        // A value with a word (an ARN) too long for the room beside the label, but not
        // for a row of its own, starts on the next row: an ARN is never cut.
        let longest = pieces
            .iter()
            .flat_map(|(_, t, _)| t.split(' '))
            .map(display_width)
            .max()
            .unwrap_or(0);
        let beside = out.width().saturating_sub(w + 1);
        if longest > beside && longest <= out.width().saturating_sub(2) {
            out.styled(styles::BOLD, label)?.nl()?.v("  ")?;
            out.rows(2, "  ", &pieces, true)?;
        } else {
            out.styled(styles::BOLD, &format!("{label:<w$} "))?;
            out.rows(w + 1, &rest, &pieces, true)?;
        }
    }
    Ok(())
}

/// A table in aligned columns, or, too wide for the terminal, each row as its first cell and
/// the others by name.
fn write_table(
    head: &[&str],
    rows: &[Vec<Line>],
    indent: &'static str,
    out: &mut TextOut,
) -> io::Result<()> {
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
    let total: usize = indent.len()
        + shown
            .iter()
            .map(|&i| widths[i] + 2)
            .sum::<usize>()
            .saturating_sub(2);
    if total > out.width() {
        // Too wide for the terminal: each row as its first cell, then the others by name.
        for row in rows {
            let first = shown.first().and_then(|&i| row.get(i));
            if let Some(first) = first {
                out.wrapped(indent, &format!("{indent}  "), first, Some(styles::BOLD))?;
            }
            let mut rest = Line::new();
            for &i in shown.iter().skip(1) {
                let Some(cell) = row.get(i).filter(|c| !c.is_empty()) else {
                    continue;
                };
                if !rest.is_empty() {
                    rest = rest.w("; ");
                }
                rest = rest
                    .restyled(Tone::Dim, format!("{}: ", head[i].to_lowercase()))
                    .then(cell.clone());
            }
            if !rest.is_empty() {
                let pad = format!("{indent}    ");
                out.wrapped(&pad, &pad, &rest, None)?;
            }
        }
        return Ok(());
    }
    let heads: Vec<Line> = head
        .iter()
        .map(|h| Line::new().restyled(Tone::Plain, h.to_uppercase()))
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
    Ok(())
}

fn write_block(block: &Block, indent: &'static str, out: &mut TextOut) -> io::Result<()> {
    match block {
        Block::Fields(fields) => write_fields(fields, out)?,
        Block::Heading(line) => {
            out.nl()?.line(line, Some(styles::HEADING))?.nl()?;
        }
        Block::Subheading(line) => {
            out.nl()?.line(line, None)?.nl()?;
        }
        Block::Para(line) => {
            out.wrapped(indent, indent, line, None)?;
        }
        // The answer, first: its continuation rows hang under it.
        Block::Summary(line) => {
            out.wrapped(indent, &format!("{indent}    "), line, None)?;
        }
        Block::List { ordered, items } => {
            for (i, item) in items.iter().enumerate() {
                let marker = match ordered {
                    true => format!("{}. ", i + 1),
                    false => "- ".to_owned(),
                };
                let rest = format!("{indent}{}", " ".repeat(marker.len()));
                out.wrapped(&format!("{indent}{marker}"), &rest, item, None)?;
            }
        }
        Block::Table { head, rows } => write_table(head, rows, indent, out)?,
        Block::Lines(lines) => {
            let pad = format!("{indent}  ");
            for line in lines {
                out.wrapped(&pad, &format!("{pad}  "), line, None)?;
            }
        }
        Block::Code { text, lang } => {
            let pad = format!("{indent}  ");
            for line in text.lines() {
                // A code block's text is a value: a policy from AWS or a file.
                let pieces = [(None, escape::terminal(line).into_owned(), true)];
                if *lang == "sh" {
                    // A command stays one command: rows end with a continuation, and start
                    // at the block's margin so that a whole key ARN fits in 80 columns.
                    out.command(indent, &pieces[0].1)?;
                } else {
                    out.v(&pad)?.rows(pad.len(), &pad, &pieces, true)?;
                }
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
            out.nl()?.wrapped("", "", line, Some(styles::DIM))?;
        }
        Block::Appendix(_) => {}
    }
    Ok(())
}

/// Each finding as what / why / evidence / help.
pub fn findings(findings: &[&Finding], out: &mut TextOut) -> io::Result<()> {
    for f in findings {
        const HANG: &str = "          ";
        out.p("  ")?
            .styled(
                severity_style(f.severity),
                &format!("{:<7}", f.severity.as_str()),
            )?
            .p(" ")?
            .styled(styles::BOLD, f.code.as_str())?
            .p("  ")?;
        let used = 2 + 7 + 1 + f.code.as_str().len() + 2;
        out.rows(used, HANG, &text_pieces(&f.title), true)?;
        // An info finding is one line on a terminal; JSON and Markdown carry the rest.
        if f.severity == Severity::Info {
            continue;
        }
        if !f.detail.is_empty() {
            out.p(HANG)?.styled(styles::DIM, "why:")?.p(" ")?;
            out.rows(HANG.len() + 5, HANG, &text_pieces(&f.detail), true)?;
        }
        if !f.evidence.is_empty() {
            out.p(HANG)?.styled(styles::DIM, "evidence:")?.nl()?;
            for e in &f.evidence {
                out.p("            - ")?;
                out.rows(14, "              ", &text_pieces(e), true)?;
            }
        }
        if !f.help.is_empty() {
            out.p(HANG)?.styled(styles::DIM, "help:")?.p(" ")?;
            out.rows(HANG.len() + 6, HANG, &text_pieces(&f.help), true)?;
        }
    }
    Ok(())
}

/// `path:line:col` (or `path` alone). A relative path that a GitHub runner would read as a
/// workflow command at the start of a row (`::error …`, `##[…]`) is shown as `./path`: the same
/// file, and no command.
pub fn place(p: &Place) -> String {
    let path = match p.path.trim_start() {
        t if t.starts_with("::") || t.starts_with("##[") => format!("./{}", p.path),
        _ => p.path.to_owned(),
    };
    match (p.line, p.column) {
        (Some(line), Some(col)) => format!("{path}:{line}:{col}"),
        (Some(line), None) => format!("{path}:{line}"),
        _ => path,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{Code, Finding, code};
    use crate::report::doc::{Block, Doc};
    use crate::report::{NoColor, Width};
    use proptest::prelude::*;

    /// Values an attacker chooses: words, workflow commands, list markers, spaces in runs.
    fn value() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "::error file=x::owned",
            "##[error]x",
            "::add-mask::",
            "- kms:PutKeyPolicy allowed",
            "arn:aws:iam::111122223333:role/KeyAdmin",
            "error",
            "no-restorer",
            "x",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "  ",
            ":",
            "::",
        ]);
        prop::collection::vec(word, 1..12).prop_map(|w| w.join(" "))
    }

    fn rendered(value: &str, width: usize) -> String {
        let finding =
            Finding::new(Code::NoRestorer, crate::text!("Statement ", code(value))).detail(
                crate::text!("It names ", code(value), " and more words after it."),
            );
        let mut doc = Doc::new("kms-doctor");
        doc.push(Block::Summary(
            crate::report::doc::Line::new()
                .w("Who can restore: ")
                .v(value),
        ));
        doc.para(crate::report::doc::Line::new().v(value));
        doc.push(Block::Findings {
            items: vec![&finding],
            none: None,
        });
        let mut out = Width(NoColor(Vec::new()), width);
        render(&doc, &mut out).unwrap();
        String::from_utf8(out.0.0).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// However a value is cut by wrapping, no row begins (after white space, which a
        /// runner trims) with a GitHub workflow command.
        #[test]
        fn no_wrapped_row_is_a_workflow_command(v in value(), width in 40usize..130) {
            for line in rendered(&v, width).lines() {
                let row = line.trim_start();
                prop_assert!(
                    !row.starts_with("::") && !row.starts_with("##["),
                    "{line:?} at width {width} for {v:?}"
                );
            }
        }
    }

    /// A row that continues a value inside it, with a list marker, carries the mark: it cannot
    /// pass for a verdict row kms-doctor writes.
    #[test]
    fn a_continuation_that_looks_like_a_row_is_marked() {
        let v = format!("{}- kms:PutKeyPolicy allowed", "word ".repeat(12));
        let mut marked = 0;
        for width in 40..100 {
            let shown = rendered(&v, width);
            assert!(
                shown
                    .lines()
                    .all(|l| !l.trim_start().starts_with("- kms:PutKeyPolicy")),
                "{shown}"
            );
            marked += usize::from(shown.contains(CONTINUED));
        }
        assert!(marked > 0, "no width cut the value before its list marker");
    }
}
