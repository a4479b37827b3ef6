//! Text that kms-doctor writes about untrusted data: its own prose, with every value that came
//! from AWS or from a user's file (ARNs, Sids, condition keys, error messages, commands built
//! from them) kept apart as a [`Span::Code`]. Renderers escape each kind for their format at the
//! point of output (`report`); redaction rewrites the values before rendering.
//!
//! Only a `&'static str` becomes prose through `From`, so a string read at run time cannot be
//! mistaken for kms-doctor's own words: it must be wrapped in [`code`] (untrusted) or, for text
//! kms-doctor computed itself (numbers, its own phrases), in [`prose`].

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// One piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// kms-doctor's own words.
    Prose(Cow<'static, str>),
    /// A value from outside, or a command or policy to copy: shown literally, never as markup.
    Code(String),
    /// A name from outside (a Sid, a statement label), shown in quotes in plain text.
    Quoted(String),
}

impl From<&'static str> for Span {
    fn from(s: &'static str) -> Self {
        Span::Prose(Cow::Borrowed(s))
    }
}

/// An untrusted value, or a literal to copy (a command, a statement).
pub fn code(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// A name from outside, quoted in plain text (`"Admins"`) and a code span in Markdown.
pub fn quoted(s: impl Into<String>) -> Span {
    Span::Quoted(s.into())
}

/// kms-doctor's own words, chosen at run time among its phrases. Only a `&'static str`: data
/// from AWS or a file cannot become prose (it is [`code`]).
pub fn prose(s: &'static str) -> Span {
    Span::Prose(Cow::Borrowed(s))
}

/// A number kms-doctor counted or was given, as prose.
pub fn count(n: impl Into<u64>) -> Span {
    Span::Prose(Cow::Owned(n.into().to_string()))
}

/// "1 key", "3 keys".
pub fn counted(n: impl Into<u64>, one: &'static str, many: &'static str) -> Text {
    let n = n.into();
    let mut t = Text::default();
    t.push(count(n));
    t.push(" ");
    t.push(if n == 1 { one } else { many });
    t
}

/// Prose with its untrusted values marked. Serializes as one plain string (the contract's
/// `title`, `detail`, `evidence`, `help` are strings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(Vec<Span>);

/// `text!("No key ", code(name), " here")`: string literals are prose, everything else a
/// [`Span`] (made with [`code`] or [`prose`]) or another [`Text`].
#[macro_export]
macro_rules! text {
    ($($piece:expr),* $(,)?) => {{
        let mut text = $crate::diagnosis::model::Text::default();
        $($crate::diagnosis::model::Piece::append_to($piece, &mut text);)*
        text
    }};
}

/// What `text!` accepts: prose literals, spans and whole texts.
pub trait Piece {
    fn append_to(self, text: &mut Text);
}

impl Piece for &'static str {
    fn append_to(self, text: &mut Text) {
        text.0.push(Span::from(self));
    }
}

impl Piece for Span {
    fn append_to(self, text: &mut Text) {
        text.0.push(self);
    }
}

impl Piece for Text {
    fn append_to(self, text: &mut Text) {
        text.0.extend(self.0);
    }
}

impl Text {
    pub fn from_spans(spans: Vec<Span>) -> Text {
        Text(spans)
    }

    /// One untrusted value alone.
    pub fn code(s: impl Into<String>) -> Text {
        Text(vec![Span::Code(s.into())])
    }

    pub fn spans(&self) -> &[Span] {
        &self.0
    }

    pub fn spans_mut(&mut self) -> &mut [Span] {
        &mut self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|s| match s {
            Span::Prose(p) => p.is_empty(),
            Span::Code(c) => c.is_empty(),
            Span::Quoted(_) => false,
        })
    }

    pub fn push(&mut self, span: impl Into<Span>) {
        self.0.push(span.into());
    }

    /// Appends another text.
    pub fn append(&mut self, other: Text) {
        self.0.extend(other.0);
    }

    /// `items` separated by `sep`.
    pub fn join(items: impl IntoIterator<Item = Text>, sep: &'static str) -> Text {
        let mut out = Text::default();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            out.append(item);
        }
        out
    }

    /// The text as one plain string (what JSON shows).
    /// "a, b and c".
    pub fn join_and(items: impl IntoIterator<Item = Text>) -> Text {
        let items: Vec<Text> = items.into_iter().collect();
        let n = items.len();
        let mut out = Text::default();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(if i + 1 == n { " and " } else { ", " });
            }
            out.append(item);
        }
        out
    }

    pub fn plain(&self) -> String {
        self.to_string()
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(vec![Span::from(s)])
    }
}

impl From<Span> for Text {
    fn from(s: Span) -> Self {
        Text(vec![s])
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.0 {
            match s {
                Span::Prose(p) => f.write_str(p)?,
                Span::Code(c) => f.write_str(c)?,
                Span::Quoted(q) => write!(f, "\"{q}\"")?,
            }
        }
        Ok(())
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_one_plain_string_in_json() {
        let t = text!("Role ", code("arn:aws:iam::1:role/A"), " exists");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"Role arn:aws:iam::1:role/A exists\""
        );
        assert_eq!(t.spans().len(), 3);
        assert!(!t.is_empty());
        assert!(Text::default().is_empty());
    }
}
