//! IAM string patterns: `*` and `?` wildcards, policy variables (`${aws:username}`,
//! `${key, 'default'}`) and the escapes `${*}`, `${?}` and `${$}` that stand for the literal
//! characters.
//!
//! Matching is done by `wildmatch`. To let a literal `*` (from `${*}`) coexist with the
//! wildcard `*`, wildcards are written as private-use characters that no ARN or condition value
//! contains, and `wildmatch` is told to treat those as the wildcards.

use super::context::{Context, Lookup};
use super::tri::Tri;
use wildmatch::WildMatchPattern;

const MULTI: char = '\u{E000}';
const SINGLE: char = '\u{E001}';

type Matcher = WildMatchPattern<MULTI, SINGLE>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    AnyRun,
    AnyChar,
    /// `key` is lower-cased for look-ups; `name` is as written, for messages.
    Variable {
        key: String,
        name: String,
        default: Option<String>,
    },
}

/// A policy string, parsed once. Patterns without variables are compiled up front, for the
/// case sensitivity they are used with; the common shapes (`*`, `text`, `prefix*`) skip the
/// matcher altogether.
#[derive(Debug, Clone)]
pub struct Pattern {
    raw: String,
    tokens: Vec<Token>,
    fast: Option<Fast>,
    compiled: Option<Matcher>,
    compiled_ci: Option<Matcher>,
}

#[derive(Debug, Clone)]
enum Fast {
    Any,
    Exact(String),
    Prefix(String),
}

impl Fast {
    fn of(tokens: &[Token]) -> Option<Fast> {
        match tokens {
            [] => Some(Fast::Exact(String::new())),
            [Token::AnyRun] => Some(Fast::Any),
            [Token::Literal(s)] => Some(Fast::Exact(s.clone())),
            [Token::Literal(s), Token::AnyRun] => Some(Fast::Prefix(s.clone())),
            _ => None,
        }
    }

    fn matches(&self, input: &str, ignore_case: bool) -> bool {
        match self {
            Fast::Any => true,
            Fast::Exact(s) if ignore_case => eq_ignore_case(s, input),
            Fast::Exact(s) => s == input,
            Fast::Prefix(p) if ignore_case => input
                .get(..p.len())
                .is_some_and(|head| eq_ignore_case(p, head)),
            Fast::Prefix(p) => input.starts_with(p.as_str()),
        }
    }
}

/// What a pattern resolves to once its variables are substituted.
pub enum Resolved<'a> {
    Text(std::borrow::Cow<'a, str>),
    /// A variable names a key whose value is not known: the answer depends on it.
    Unknown(String),
    /// A variable names a key that is known to be absent (with no default): it matches nothing.
    Absent,
}

impl Pattern {
    /// Parses a policy string. With `variables` false (policy `Version` other than
    /// 2012-10-17), `${…}` is ordinary text, as in IAM.
    pub fn new(raw: &str, variables: bool) -> Self {
        Self::build(raw, variables, false)
    }

    /// An action name pattern: no variables, matched ignoring case.
    pub fn action(raw: &str) -> Self {
        Self::build(raw, false, true)
    }

    fn build(raw: &str, variables: bool, ignore_case: bool) -> Self {
        let tokens = tokenize(raw, variables);
        let has_vars = tokens.iter().any(|t| matches!(t, Token::Variable { .. }));
        let fast = if has_vars { None } else { Fast::of(&tokens) };
        let mut pattern = Pattern {
            raw: raw.to_owned(),
            tokens,
            fast,
            compiled: None,
            compiled_ci: None,
        };
        if !has_vars && pattern.fast.is_none() {
            let encoded = encode(&pattern.tokens, |_| unreachable!("no variables"));
            if ignore_case {
                pattern.compiled_ci = Some(Matcher::new_case_insensitive(&encoded));
            } else {
                pattern.compiled = Some(Matcher::new(&encoded));
            }
        }
        pattern
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn is_star(&self) -> bool {
        matches!(self.fast, Some(Fast::Any))
    }

    /// The variables this pattern uses: (lower-cased key, key as written).
    pub fn variables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Variable { key, name, .. } => Some((key.as_str(), name.as_str())),
            _ => None,
        })
    }

    /// Wildcard match, case-sensitive (ARNs, `StringLike`).
    pub fn matches(&self, input: &str, ctx: &Context) -> Tri {
        self.wild_match(input, ctx, false)
    }

    /// Wildcard match, ignoring case (actions).
    pub fn matches_ignore_case(&self, input: &str, ctx: &Context) -> Tri {
        self.wild_match(input, ctx, true)
    }

    fn wild_match(&self, input: &str, ctx: &Context, ignore_case: bool) -> Tri {
        let compiled = if ignore_case {
            &self.compiled_ci
        } else {
            &self.compiled
        };
        if let Some(fast) = &self.fast {
            return Tri::from(fast.matches(input, ignore_case));
        }
        if let Some(m) = compiled {
            return Tri::from(m.matches(input));
        }
        let mut unknown = None;
        let mut absent = false;
        let encoded = encode(&self.tokens, |(key, name, default)| match resolve_variable(
            key,
            name,
            default.as_deref(),
            ctx,
        ) {
            Resolved::Text(t) => escape_wild(&t),
            Resolved::Unknown(k) => {
                unknown = Some(k);
                String::new()
            }
            Resolved::Absent => {
                absent = true;
                String::new()
            }
        });
        if absent {
            return Tri::False;
        }
        if unknown.is_some() {
            return Tri::Unknown;
        }
        let m = if ignore_case {
            Matcher::new_case_insensitive(&encoded)
        } else {
            Matcher::new(&encoded)
        };
        Tri::from(m.matches(input))
    }

    /// The literal text after substituting variables; wildcards stay as `*` and `?`
    /// (operators such as `StringEquals` compare text, they do not expand wildcards).
    pub fn resolve<'a>(&'a self, ctx: &'a Context) -> Resolved<'a> {
        if let [Token::Literal(s)] = self.tokens.as_slice() {
            return Resolved::Text(std::borrow::Cow::Borrowed(s));
        }
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::AnyRun => out.push('*'),
                Token::AnyChar => out.push('?'),
                Token::Variable { key, name, default } => {
                    match resolve_variable(key, name, default.as_deref(), ctx) {
                        Resolved::Text(t) => out.push_str(&t),
                        other => return other,
                    }
                }
            }
        }
        Resolved::Text(std::borrow::Cow::Owned(out))
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

fn resolve_variable<'a>(
    key: &str,
    name: &str,
    default: Option<&str>,
    ctx: &'a Context,
) -> Resolved<'a> {
    match ctx.lookup(key) {
        // A multi-valued key cannot be used as a variable; IAM treats it as missing.
        Lookup::Known(values) if values.len() == 1 => {
            Resolved::Text(std::borrow::Cow::Borrowed(values[0].as_str()))
        }
        Lookup::Known(_) | Lookup::Absent => match default {
            Some(d) => Resolved::Text(std::borrow::Cow::Owned(d.to_owned())),
            None => Resolved::Absent,
        },
        // With or without a default, an unknown key leaves the value open.
        Lookup::Unknown => Resolved::Unknown(name.to_owned()),
    }
}

fn encode(
    tokens: &[Token],
    mut var: impl FnMut((&String, &String, &Option<String>)) -> String,
) -> String {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Literal(s) => out.push_str(&escape_wild(s)),
            Token::AnyRun => out.push(MULTI),
            Token::AnyChar => out.push(SINGLE),
            Token::Variable { key, name, default } => out.push_str(&var((key, name, default))),
        }
    }
    out
}

/// Literal text never contains our private wildcard characters; drop them if it does, so a
/// crafted value cannot smuggle a wildcard in.
fn escape_wild(s: &str) -> String {
    s.chars().filter(|c| *c != MULTI && *c != SINGLE).collect()
}

fn tokenize(raw: &str, variables: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if variables
            && rest.starts_with("${")
            && let Some(end) = rest.find('}')
        {
            let inner = &rest[2..end];
            rest = &rest[end + 1..];
            match inner {
                "*" => literal.push('*'),
                "?" => literal.push('?'),
                "$" => literal.push('$'),
                _ => {
                    flush(&mut tokens, &mut literal);
                    tokens.push(parse_variable(inner));
                }
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' => {
                flush(&mut tokens, &mut literal);
                tokens.push(Token::AnyRun);
            }
            '?' => {
                flush(&mut tokens, &mut literal);
                tokens.push(Token::AnyChar);
            }
            _ => literal.push(c),
        }
    }
    flush(&mut tokens, &mut literal);
    tokens
}

fn flush(tokens: &mut Vec<Token>, literal: &mut String) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal)));
    }
}

/// `aws:username` or `aws:username, 'default'`.
fn parse_variable(inner: &str) -> Token {
    let (key, default) = match inner.split_once(',') {
        Some((key, rest)) => {
            let rest = rest.trim();
            let default = rest
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .unwrap_or(rest);
            (key.trim(), Some(default.to_owned()))
        }
        None => (inner.trim(), None),
    };
    Token::Variable {
        key: key.to_ascii_lowercase(),
        name: key.to_owned(),
        default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let mut c = Context::default();
        c.insert("aws:username", vec!["alice".into()]);
        c.mark_absent("aws:PrincipalTag/team");
        c
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        let c = Context::default();
        assert_eq!(
            Pattern::new("kms:Put*", true).matches("kms:PutKeyPolicy", &c),
            Tri::True
        );
        assert_eq!(
            Pattern::new("kms:?et*", true).matches("kms:GetKeyPolicy", &c),
            Tri::True
        );
        assert_eq!(
            Pattern::new("kms:Put*", true).matches("kms:putkeypolicy", &c),
            Tri::False
        );
        assert_eq!(
            Pattern::new("kms:Put*", true).matches_ignore_case("kms:putkeypolicy", &c),
            Tri::True
        );
    }

    #[test]
    fn escapes_stand_for_literal_characters() {
        let c = Context::default();
        let p = Pattern::new("a${*}b", true);
        assert_eq!(p.matches("a*b", &c), Tri::True);
        assert_eq!(p.matches("axb", &c), Tri::False);
        assert_eq!(
            Pattern::new("${$}x${?}", true).matches("$x?", &c),
            Tri::True
        );
    }

    #[test]
    fn variables_substitute_and_report_unknown_keys() {
        let c = ctx();
        let p = Pattern::new("home/${aws:username}/*", true);
        assert_eq!(p.matches("home/alice/x", &c), Tri::True);
        assert_eq!(p.matches("home/bob/x", &c), Tri::False);
        let unknown = Pattern::new("${aws:SourceVpc}", true);
        assert_eq!(unknown.matches("vpc-1", &c), Tri::Unknown);
        let absent = Pattern::new("${aws:PrincipalTag/team}", true);
        assert_eq!(absent.matches("", &c), Tri::False);
        let defaulted = Pattern::new("${aws:PrincipalTag/team, 'none'}", true);
        assert_eq!(defaulted.matches("none", &c), Tri::True);
    }

    #[test]
    fn version_2008_treats_variables_as_text() {
        let c = ctx();
        let p = Pattern::new("${aws:username}", false);
        assert_eq!(p.matches("${aws:username}", &c), Tri::True);
        assert_eq!(p.matches("alice", &c), Tri::False);
    }
}
