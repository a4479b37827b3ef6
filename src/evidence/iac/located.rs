//! A YAML or JSON document as a tree whose every node knows its line, column and tag: what the
//! `check` readers need to point at a statement, and to see CloudFormation's short forms
//! (`!Sub`, `!GetAtt`, …). JSON is read by the same parser: it is YAML 1.2.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in the input, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// A number, as written.
    Number(String),
    String(String),
    Seq(Vec<Located>),
    /// Keys in document order.
    Map(Vec<(Located, Located)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub pos: Pos,
    /// A local tag (`!Sub` → `Sub`), when the node has one.
    pub tag: Option<String>,
    pub node: Node,
}

impl Located {
    /// The value of a mapping key.
    pub fn get(&self, key: &str) -> Option<&Located> {
        match &self.node {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.node, Node::String(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.node {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Located, Located)] {
        match &self.node {
            Node::Map(e) => e,
            _ => &[],
        }
    }
}

/// The input is not well-formed YAML or JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {}, column {})", .at.line, .at.column)]
pub struct SyntaxError {
    pub message: String,
    pub at: Pos,
    /// A key given twice in one mapping (the rest is well-formed).
    pub duplicate_key: bool,
}

/// Nodes built at most, aliases expanded included: a document of aliases of aliases
/// ("billion laughs") stops here.
pub const MAX_NODES: usize = 2_000_000;
/// Sequences and mappings nested at most: what reads the tree recurses, and real templates
/// nest a few dozen levels.
pub const MAX_DEPTH: usize = 128;

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn local_tag(tag: Option<Tag>) -> Option<String> {
    // `!Sub` arrives as handle "!" and suffix "Sub"; standard tags (`!!str`) as "tag:yaml.org,2002:".
    tag.filter(|t| t.handle == "!").map(|t| t.suffix)
}

enum Open {
    Seq(Located, usize),
    /// The mapping, its anchor, and a key waiting for its value.
    Map(Located, usize, Option<Located>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: std::collections::HashMap<usize, Located>,
    root: Option<Located>,
    nodes: usize,
    error: Option<SyntaxError>,
    documents: usize,
}

fn count(n: &Located) -> usize {
    1 + match &n.node {
        Node::Seq(items) => items.iter().map(count).sum(),
        Node::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

impl Builder {
    fn add(&mut self, node: Located, anchor: usize) {
        self.nodes += 1;
        if self.nodes > MAX_NODES && self.error.is_none() {
            self.error = Some(SyntaxError {
                message: format!("more than {MAX_NODES} nodes (aliases expanded): not read"),
                at: node.pos,
                duplicate_key: false,
            });
        }
        if self.error.is_some() {
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Seq(seq, _)) => {
                if let Node::Seq(items) = &mut seq.node {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                Some(key) => {
                    if let Node::Map(entries) = &mut map.node {
                        // Parsers disagree on which of two equal keys counts (the first, the
                        // last): the file means two things, and is refused, as cfn-lint does.
                        if let Node::String(name) = &key.node
                            && let Some((first, _)) =
                                entries.iter().find(|(k, _)| k.node == key.node)
                        {
                            self.error = Some(SyntaxError {
                                message: format!(
                                    "duplicate key {name:?} (first at line {}, column {}): parsers disagree on which one counts",
                                    first.pos.line, first.pos.column
                                ),
                                at: key.pos,
                                duplicate_key: true,
                            });
                            return;
                        }
                        entries.push((key, node));
                    }
                }
                None => {
                    // A block mapping is reported where its first key ends: it starts at the key.
                    if (node.pos.line, node.pos.column) < (map.pos.line, map.pos.column) {
                        map.pos = node.pos;
                    }
                    *pending = Some(node)
                }
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
        }
    }
}

fn scalar(value: String, style: TScalarStyle, tag: &Option<String>) -> Node {
    if style != TScalarStyle::Plain || tag.is_some() {
        return Node::String(value);
    }
    match value.as_str() {
        "null" | "Null" | "NULL" | "~" | "" => Node::Null,
        "true" | "True" | "TRUE" => Node::Bool(true),
        "false" | "False" | "FALSE" => Node::Bool(false),
        v if v.parse::<f64>().is_ok() && !v.starts_with('+') && v != "." => Node::Number(value),
        _ => Node::String(value),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = pos(&mark);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = local_tag(tag);
                let node = scalar(value, style, &tag);
                self.add(Located { pos: at, tag, node }, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => {
                    self.nodes += count(&node).saturating_sub(1);
                    self.add(node, 0);
                }
                None => {
                    self.error = Some(SyntaxError {
                        message: "an alias to an unknown anchor".to_owned(),
                        at,
                        duplicate_key: false,
                    })
                }
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.error = Some(SyntaxError {
                    message: format!("nested more than {MAX_DEPTH} levels deep: not read"),
                    at,
                    duplicate_key: false,
                });
            }
            Event::SequenceStart(anchor, tag) => self.stack.push(Open::Seq(
                Located {
                    pos: at,
                    tag: local_tag(tag),
                    node: Node::Seq(Vec::new()),
                },
                anchor,
            )),
            Event::MappingStart(anchor, tag) => self.stack.push(Open::Map(
                Located {
                    pos: at,
                    tag: local_tag(tag),
                    node: Node::Map(Vec::new()),
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let (node, anchor) = match open {
                        Open::Seq(n, a) | Open::Map(n, a, _) => (n, a),
                    };
                    self.add(node, anchor);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Parses one YAML or JSON document (the first, when there are several).
pub fn parse(text: &str) -> Result<Located, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        message: e.info().to_owned(),
        at: pos(e.marker()),
        duplicate_key: false,
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root.unwrap_or(Located {
        pos: Pos { line: 1, column: 1 },
        tag: None,
        node: Node::Null,
    }))
}

/// A policy given as a JSON string (CloudFormation's `KeyPolicy: "…"`, a plan's `policy`): JSON,
/// and without a key given twice, which JSON parsers resolve differently.
pub fn policy_json(text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match parse(text) {
        Err(e) if e.duplicate_key => Err(e.to_string()),
        _ => Ok(value),
    }
}

/// The tree as JSON, tags dropped (for inputs that have none: policies, plans).
pub fn to_json(n: &Located) -> serde_json::Value {
    use serde_json::Value;
    match &n.node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Number(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        Node::String(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect(),
        ),
    }
}

/// A mapping key as text.
pub fn key_text(k: &Located) -> String {
    match &k.node {
        Node::String(s) | Node::Number(s) => s.clone(),
        Node::Bool(b) => b.to_string(),
        Node::Null => "null".to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Comments as YAML delimits them: not a `#` in a quoted or block scalar, nor one glued to
    /// text; columns count characters.
    #[test]
    fn comments_are_the_yaml_scanner_s() {
        let text = "a: 'x # no' # yes 1\nb: \"y \\\" # no\" #yes 2\nc: d#no\ne: |\n  # no\n  z\n# yes 3\nf: 'it''s # no'\ng: é # yes 4\n";
        let found: Vec<(usize, usize, &str)> = comments(text)
            .iter()
            .map(|c| (c.pos.line, c.pos.column, c.text.trim()))
            .collect();
        assert_eq!(
            found,
            [
                (1, 13, "yes 1"),
                (2, 16, "yes 2"),
                (7, 1, "yes 3"),
                (9, 6, "yes 4"),
            ]
        );
    }

    #[test]
    fn a_key_given_twice_is_refused_where_it_repeats() {
        let e = parse("a: 1\nb:\n  c: 2\n  c: 3\n").unwrap_err();
        assert!(e.duplicate_key);
        assert_eq!(e.at, Pos { line: 4, column: 3 });
        assert!(
            e.message.contains("\"c\" (first at line 3, column 3)"),
            "{e}"
        );
        // The same key in two mappings is no duplicate.
        assert!(parse("a: {c: 1}\nb: {c: 2}\n").is_ok());
        let e = policy_json(r#"{"Statement": [], "Statement": [{}]}"#).unwrap_err();
        assert!(e.contains("duplicate key \"Statement\""), "{e}");
        assert!(policy_json(r#"{"Statement": []}"#).is_ok());
    }

    #[test]
    fn yaml_nodes_know_their_place_and_tags() {
        let doc = "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n          - Sid: a\n            Principal: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'\n";
        let root = parse(doc).unwrap();
        let key = root.get("Resources").unwrap().get("Key").unwrap();
        assert_eq!(key.pos, Pos { line: 3, column: 5 });
        let statements = key
            .get("Properties")
            .and_then(|p| p.get("KeyPolicy"))
            .and_then(|p| p.get("Statement"))
            .unwrap();
        let Node::Seq(items) = &statements.node else {
            panic!("a list")
        };
        assert_eq!(items[0].pos.line, 7);
        let principal = items[0].get("Principal").unwrap();
        assert_eq!(principal.tag.as_deref(), Some("Sub"));
        assert_eq!(
            principal.as_str(),
            Some("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
        );
    }

    #[test]
    fn json_is_read_with_positions_and_types() {
        let root =
            parse("{\n  \"a\": [1, true, null, \"x\"],\n  \"b\": {\"c\": \"1\"}\n}").unwrap();
        assert_eq!(
            to_json(&root),
            serde_json::json!({"a": [1, true, null, "x"], "b": {"c": "1"}})
        );
        assert_eq!(root.get("b").unwrap().get("c").unwrap().pos.line, 3);
    }

    #[test]
    fn malformed_input_says_where() {
        let e = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(e.at.line >= 1, "{e}");
        let e = parse("a: *nowhere\n").unwrap_err();
        assert!(
            e.message.contains("anchor") || e.message.contains("alias"),
            "{e}"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        // The parser's own limit, or ours: refused either way, with a place.
        assert!(
            e.message.contains("nested") || e.message.contains("recursion"),
            "{e}"
        );
        let just_over = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(&just_over).is_err());
        let at_most = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&at_most).is_ok());
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let e = parse(&doc).unwrap_err();
        assert!(e.message.contains("nodes"), "{e}");
    }
}

/// A comment of a YAML text: where its `#` is, and what follows it on the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment<'t> {
    pub pos: Pos,
    pub text: &'t str,
}

/// The comments of a YAML text, as the YAML scanner delimits its scalars: a `#` inside a
/// quoted or block scalar (a Sid, a description) is text, not a comment; so is one not preceded
/// by white space. The text is parsed already (`parse`), so the scanner's tokens are read as
/// far as it reads them.
pub fn comments(text: &str) -> Vec<Comment<'_>> {
    use yaml_rust2::scanner::{Scanner, TokenType};
    // The scanner counts characters; the text is indexed by bytes.
    let bytes_at: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let byte = |chars: usize| bytes_at[chars.min(bytes_at.len() - 1)];
    let mut inside: Vec<(usize, usize)> = Vec::new();
    for token in Scanner::new(text.chars()) {
        let start = byte(token.0.index());
        match token.1 {
            TokenType::Scalar(TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted, _) => {
                inside.push((start, quoted_end(text, start)));
            }
            // The scanner marks a block scalar (`|`, `>`) at its text's first character, on
            // the line after its header (whose own comment stays a comment).
            TokenType::Scalar(TScalarStyle::Literal | TScalarStyle::Folded, _) => {
                let from = text[..start].rfind('\n').map_or(0, |e| e + 1);
                inside.push((from, block_end(text, from)));
            }
            _ => {}
        }
    }
    inside.sort_unstable();
    let mut found = Vec::new();
    let (mut line, mut line_start, mut next_range) = (1, 0, 0);
    let mut last = 0;
    for (i, _) in text.match_indices('#') {
        for (j, b) in text[last..i].bytes().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = last + j + 1;
            }
        }
        last = i;
        while next_range < inside.len() && inside[next_range].1 <= i {
            next_range += 1;
        }
        let in_scalar = inside[next_range..]
            .iter()
            .take_while(|r| r.0 <= i)
            .any(|r| i < r.1);
        let after_blank = i == 0 || text[..i].ends_with([' ', '\t', '\n', '\r']);
        if in_scalar || !after_blank {
            continue;
        }
        let end = text[i..].find(['\n', '\r']).map_or(text.len(), |e| i + e);
        found.push(Comment {
            pos: Pos {
                line,
                column: text[line_start..i].chars().count() + 1,
            },
            text: &text[i + 1..end],
        });
    }
    found
}

/// Where the text of a block scalar that starts at `from` (a line's start) ends: at the first
/// line, not blank, indented less than its first line (a comment there is a comment).
fn block_end(text: &str, from: usize) -> usize {
    let mut indent = None;
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if !content.trim().is_empty() {
            let this = content.len() - content.trim_start_matches(' ').len();
            match indent {
                None => indent = Some(this),
                Some(n) if this < n => return at,
                Some(_) => {}
            }
        }
        at += line.len();
    }
    text.len()
}

/// Where a quoted scalar that opens at `start` ends (after its closing quote).
fn quoted_end(text: &str, start: usize) -> usize {
    let mut chars = text[start..].char_indices();
    let Some((_, quote)) = chars.next() else {
        return text.len();
    };
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('"', '\\') => {
                chars.next();
            }
            ('\'', '\'') if text[start + i + 1..].starts_with('\'') => {
                chars.next();
            }
            (q, c) if q == c => return start + i + 1,
            _ => {}
        }
    }
    text.len()
}

/// The last line a node's text reaches (its deepest last descendant's).
pub fn last_line(n: &Located) -> usize {
    let inner = match &n.node {
        Node::Seq(items) => items.iter().map(last_line).max(),
        Node::Map(entries) => entries
            .iter()
            .map(|(k, v)| last_line(k).max(last_line(v)))
            .max(),
        _ => None,
    };
    inner.unwrap_or(0).max(n.pos.line)
}
