//! One document model for every report (after miette's one diagnostic, several handlers):
//! each command's report is built once into a [`Doc`] of blocks — fields, headings, tables,
//! lists, findings, code — whose pieces are either kms-doctor's words or values from outside
//! ([`Span`]). The views ([`super::text`], [`super::markdown`], [`super::github`]) decide how
//! each block looks and escape each piece for their format; nothing else writes a report.

use crate::diagnosis::model::{Finding, Span, Text};
use std::borrow::Cow;

/// How a piece is emphasised in a terminal; Markdown shows every tone as plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Strong,
    Dim,
    Good,
    Bad,
    Warn,
}

/// One line of a report: pieces, each with a tone.
#[derive(Debug, Clone, Default)]
pub struct Line(pub Vec<(Tone, Span)>);

impl Line {
    pub fn new() -> Line {
        Line::default()
    }

    /// kms-doctor's own words.
    pub fn w(mut self, s: &'static str) -> Line {
        self.0.push((Tone::Plain, Span::Prose(Cow::Borrowed(s))));
        self
    }

    /// Words kms-doctor put together from its own: a [`Text`] whose values are marked, so
    /// nothing from outside is taken for prose.
    pub fn words(mut self, t: impl Into<Text>) -> Line {
        let t: Text = t.into();
        let at = self.0.len();
        for span in t.spans() {
            // Adjacent words are one piece, as one phrase is (Markdown bolds it once).
            let joinable = self.0.len() > at;
            match (self.0.last_mut(), span) {
                (Some((_, Span::Prose(last))), Span::Prose(next)) if joinable => {
                    last.to_mut().push_str(next);
                }
                _ => self.0.push((Tone::Plain, span.clone())),
            }
        }
        self
    }

    /// kms-doctor's own words changed by a renderer (a table's heading in capitals): only for
    /// `&'static str`s the report module itself transforms.
    pub(in crate::report) fn restyled(mut self, tone: Tone, s: String) -> Line {
        self.0.push((tone, Span::Prose(Cow::Owned(s))));
        self
    }

    /// A value from outside: escaped, a code span in Markdown.
    pub fn v(mut self, s: impl Into<String>) -> Line {
        self.0.push((Tone::Plain, Span::Code(s.into())));
        self
    }

    /// A name from outside (a Sid, a statement's label): quoted in a terminal.
    pub fn q(mut self, s: impl Into<String>) -> Line {
        self.0.push((Tone::Plain, Span::Quoted(s.into())));
        self
    }

    /// A finding's or a rule's text, its values marked.
    pub fn t(mut self, t: &Text) -> Line {
        self.0
            .extend(t.spans().iter().map(|s| (Tone::Plain, s.clone())));
        self
    }

    /// The pieces added since `from` in a tone.
    pub fn tone_from(mut self, from: usize, tone: Tone) -> Line {
        for piece in &mut self.0[from..] {
            piece.0 = tone;
        }
        self
    }

    /// kms-doctor's words in a tone.
    pub fn ws(self, tone: Tone, s: &'static str) -> Line {
        let at = self.0.len();
        self.w(s).tone_from(at, tone)
    }

    /// Put-together words in a tone.
    pub fn words_in(self, tone: Tone, s: impl Into<Text>) -> Line {
        let at = self.0.len();
        self.words(s).tone_from(at, tone)
    }

    /// A value in a tone.
    pub fn vs(self, tone: Tone, s: impl Into<String>) -> Line {
        let at = self.0.len();
        self.v(s).tone_from(at, tone)
    }

    /// This line followed by another.
    pub fn then(mut self, other: Line) -> Line {
        self.0.extend(other.0);
        self
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing would be shown.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, span)| match span {
            Span::Prose(p) => p.is_empty(),
            Span::Code(c) | Span::Quoted(c) => c.is_empty(),
        })
    }
}

impl From<&'static str> for Line {
    fn from(s: &'static str) -> Line {
        Line::new().w(s)
    }
}

impl From<&Text> for Line {
    fn from(t: &Text) -> Line {
        Line::new().t(t)
    }
}

/// Where a check finding stands in a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Place<'a> {
    pub path: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// What check found at a place in a file.
#[derive(Debug, Clone)]
pub enum Problem<'a> {
    /// A finding about a resource.
    Finding {
        resource: &'a str,
        resource_type: &'a str,
        finding: &'a Finding,
    },
    /// The file could not be checked, and why.
    Unreadable(&'a str),
}

#[derive(Debug, Clone)]
pub struct Located<'a> {
    pub place: Place<'a>,
    pub problem: Problem<'a>,
}

#[derive(Debug, Clone)]
pub enum Block<'a> {
    /// Labelled facts at the top: `Key  arn:…`.
    Fields(Vec<(&'static str, Line)>),
    /// A section.
    Heading(Line),
    /// A part of a section (an event, a key).
    Subheading(Line),
    Para(Line),
    List {
        ordered: bool,
        items: Vec<Line>,
    },
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Line>>,
    },
    /// Lines that stand as they are, each starting with its own mark (a diff's `+`, `-`).
    Lines(Vec<Line>),
    /// Text to copy: configuration, a command, a policy.
    Code {
        lang: &'static str,
        text: String,
    },
    /// Findings as what / why / evidence / help; `none` is said when there are none.
    Findings {
        items: Vec<&'a Finding>,
        none: Option<&'static str>,
    },
    /// Findings in files (and files not checked), compiler style, in the files' order.
    Located(Vec<Located<'a>>),
    /// The report in one line: where the reader looks first (Markdown puts it under the
    /// title; a terminal shows it where it stands, after compiler-style findings).
    Summary(Line),
    /// The closing line: how many calls, what to run next.
    Note(Line),
    /// What a ticket carries and a terminal does not: the policy, the calls.
    Appendix(Vec<Block<'a>>),
}

/// A report: its title (Markdown's `#` heading) and its blocks.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub title: Line,
    pub blocks: Vec<Block<'a>>,
}

impl<'a> Doc<'a> {
    pub fn new(title: impl Into<Line>) -> Doc<'a> {
        Doc {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, block: Block<'a>) -> &mut Self {
        self.blocks.push(block);
        self
    }

    pub fn heading(&mut self, line: impl Into<Line>) -> &mut Self {
        self.push(Block::Heading(line.into()))
    }

    pub fn para(&mut self, line: impl Into<Line>) -> &mut Self {
        self.push(Block::Para(line.into()))
    }

    pub fn list(&mut self, items: Vec<Line>) -> &mut Self {
        self.push(Block::List {
            ordered: false,
            items,
        })
    }
}
