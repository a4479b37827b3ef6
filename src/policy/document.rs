//! Parsing a key policy document into statements ready to evaluate.
//!
//! Malformed input gets an error that names the statement, the element, and the line and
//! column, as KMS's own `MalformedPolicyDocumentException` does not.

use super::condition::{Condition, Operator};
use super::pattern::Pattern;
use super::principal::{PrincipalEntry, PrincipalKind};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// KMS rejects key policies larger than 32 KB.
pub const MAX_POLICY_BYTES: usize = 32_768;

/// The policy language version that enables policy variables.
pub const VERSION_2012: &str = "2012-10-17";

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(
        "the policy is {size} bytes, over KMS's limit of {MAX_POLICY_BYTES} bytes for a key policy"
    )]
    TooLarge { size: usize },
    #[error("{}{message} (line {line}, column {column})", location_prefix(.statement, .element))]
    Invalid {
        /// 1-based statement number, when the error is inside a statement.
        statement: Option<usize>,
        /// The element path inside the statement (or document), such as `Principal.AWS[1]`.
        element: Option<String>,
        message: String,
        line: usize,
        column: usize,
    },
}

fn location_prefix(statement: &Option<usize>, element: &Option<String>) -> String {
    match (statement, element) {
        (Some(n), Some(e)) => format!("statement {n}, {e}: "),
        (Some(n), None) => format!("statement {n}: "),
        (None, Some(e)) => format!("{e}: "),
        (None, None) => String::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a statement is about.
#[derive(Debug, Clone)]
pub enum Principals {
    /// `"Principal": "*"`
    Everyone,
    Entries(Vec<PrincipalEntry>),
}

impl Principals {
    pub fn entries(&self) -> &[PrincipalEntry] {
        match self {
            Principals::Everyone => &[],
            Principals::Entries(e) => e,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// 0-based position in the document.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// `true` for `NotPrincipal`.
    pub not_principal: bool,
    pub principals: Principals,
    /// `true` for `NotAction`.
    pub not_action: bool,
    pub actions: Vec<Pattern>,
    /// `true` for `NotResource`.
    pub not_resource: bool,
    pub resources: Vec<Pattern>,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// Whether `Action`/`NotAction` covers `action` (names compare ignoring case).
    pub fn covers_action(&self, action: &str) -> bool {
        let no_context = super::context::Context::default();
        let hit = self
            .actions
            .iter()
            .any(|p| p.matches_ignore_case(action, &no_context) == super::tri::Tri::True);
        hit != self.not_action
    }

    /// Whether the statement applies to any resource (`"Resource": "*"`): what it says of
    /// `action` is then the same for every key.
    pub fn any_resource(&self) -> bool {
        !self.not_resource && self.resources.iter().all(Pattern::is_star)
    }

    /// How the statement is named in messages: its `Sid`, or its position.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("statement #{}", self.index + 1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

impl KeyPolicy {
    /// Whether what the policy says of `action` is the same for every resource: each statement
    /// that covers it applies to any resource ([`Statement::any_resource`]).
    pub fn same_for_any_resource(&self, action: &str) -> bool {
        self.statements
            .iter()
            .filter(|s| s.covers_action(action))
            .all(Statement::any_resource)
    }

    pub fn parse(text: &str) -> Result<KeyPolicy, ParseError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(ParseError::TooLarge { size: text.len() });
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawPolicy = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| to_parse_error(e.path().iter(), e.inner()))?;
        // Trailing characters after the document are an error too.
        de.end()
            .map_err(|e| to_parse_error(std::iter::empty(), &e))?;
        let variables = raw.version.as_deref() == Some(VERSION_2012);
        let statements = raw
            .statement
            .into_iter()
            .enumerate()
            .map(|(index, s)| s.build(index, variables))
            .collect();
        Ok(KeyPolicy {
            version: raw.version,
            id: raw.id,
            statements,
        })
    }
}

fn to_parse_error<'a>(
    path: impl Iterator<Item = &'a serde_path_to_error::Segment>,
    inner: &serde_json::Error,
) -> ParseError {
    let (line, column) = (inner.line(), inner.column());
    // serde_json appends " at line L column C"; we report those separately.
    let message = inner.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    };
    let mut statement = None;
    let mut element = Vec::new();
    let mut segments = path.peekable();
    while let Some(seg) = segments.next() {
        match seg {
            serde_path_to_error::Segment::Map { key }
                if key == "Statement" && statement.is_none() =>
            {
                statement = Some(1);
                if let Some(serde_path_to_error::Segment::Seq { index }) = segments.peek() {
                    statement = Some(index + 1);
                    segments.next();
                }
            }
            serde_path_to_error::Segment::Map { key } => element.push(key.clone()),
            serde_path_to_error::Segment::Seq { index } => {
                if let Some(last) = element.last_mut() {
                    last.push_str(&format!("[{index}]"));
                }
            }
            _ => {}
        }
    }
    ParseError::Invalid {
        statement,
        element: (!element.is_empty()).then(|| element.join(".")),
        message,
        line,
        column,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "Statement", deserialize_with = "one_or_many")]
    statement: Vec<CheckedStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "Sid")]
    sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: RawEffect,
    #[serde(rename = "Principal")]
    principal: Option<RawPrincipal>,
    #[serde(rename = "NotPrincipal")]
    not_principal: Option<RawPrincipal>,
    #[serde(rename = "Action", default, deserialize_with = "opt_strings")]
    action: Option<Vec<String>>,
    #[serde(rename = "NotAction", default, deserialize_with = "opt_strings")]
    not_action: Option<Vec<String>>,
    #[serde(rename = "Resource", default, deserialize_with = "opt_strings")]
    resource: Option<Vec<String>>,
    #[serde(rename = "NotResource", default, deserialize_with = "opt_strings")]
    not_resource: Option<Vec<String>>,
    #[serde(rename = "Condition")]
    condition: Option<BTreeMap<String, BTreeMap<String, Scalars>>>,
}

/// A statement whose elements have been checked against each other; built while parsing so
/// that errors carry the statement's position.
#[derive(Deserialize)]
#[serde(try_from = "RawStatement")]
struct CheckedStatement {
    sid: Option<String>,
    effect: Effect,
    not_principal: bool,
    principal: RawPrincipal,
    not_action: bool,
    actions: Vec<String>,
    not_resource: bool,
    resources: Vec<String>,
    conditions: Vec<(String, Operator, String, Vec<String>)>,
}

impl TryFrom<RawStatement> for CheckedStatement {
    type Error = String;

    fn try_from(raw: RawStatement) -> Result<Self, String> {
        let (not_principal, principal) = match (raw.principal, raw.not_principal) {
            (Some(p), None) => (false, p),
            (None, Some(p)) => (true, p),
            (Some(_), Some(_)) => {
                return Err("a statement has either Principal or NotPrincipal, not both".into());
            }
            (None, None) => {
                return Err(
                    "a key policy statement must have a Principal (or NotPrincipal)".into(),
                );
            }
        };
        let (not_action, actions) = exactly_one("Action", raw.action, raw.not_action)?;
        for a in &actions {
            if a != "*" && !a.contains(':') {
                return Err(format!(
                    "action {a:?} has no service prefix: write it as \"kms:{a}\""
                ));
            }
        }
        let (not_resource, resources) = exactly_one("Resource", raw.resource, raw.not_resource)?;
        let mut conditions = Vec::new();
        for (op_name, keys) in raw.condition.unwrap_or_default() {
            let op = Operator::parse(&op_name).unwrap_or_else(Operator::unsupported);
            for (key, Scalars(values)) in keys {
                if values.is_empty() {
                    return Err(format!("condition {op_name} on {key:?} has no values"));
                }
                conditions.push((op_name.clone(), op, key, values));
            }
        }
        Ok(CheckedStatement {
            sid: raw.sid,
            effect: raw.effect.0,
            not_principal,
            principal,
            not_action,
            actions,
            not_resource,
            resources,
            conditions,
        })
    }
}

fn exactly_one(
    name: &str,
    plain: Option<Vec<String>>,
    not: Option<Vec<String>>,
) -> Result<(bool, Vec<String>), String> {
    let values = match (plain, not) {
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (Some(_), Some(_)) => {
            return Err(format!(
                "a statement has either {name} or Not{name}, not both"
            ));
        }
        (None, None) => return Err(format!("a statement must have {name} (or Not{name})")),
    };
    if values.1.is_empty() {
        return Err(format!(
            "{}{name} is empty",
            if values.0 { "Not" } else { "" }
        ));
    }
    Ok(values)
}

impl CheckedStatement {
    fn build(self, index: usize, variables: bool) -> Statement {
        let patterns = |v: Vec<String>| v.iter().map(|s| Pattern::new(s, variables)).collect();
        let principals = match self.principal {
            RawPrincipal::Everyone => Principals::Everyone,
            RawPrincipal::Entries(entries) => Principals::Entries(
                entries
                    .into_iter()
                    .map(|(kind, raw)| PrincipalEntry::new(kind, &raw))
                    .collect(),
            ),
        };
        Statement {
            index,
            sid: self.sid,
            effect: self.effect,
            not_principal: self.not_principal,
            principals,
            not_action: self.not_action,
            // Action names have no variables.
            actions: self.actions.iter().map(|s| Pattern::action(s)).collect(),
            not_resource: self.not_resource,
            resources: patterns(self.resources),
            conditions: self
                .conditions
                .into_iter()
                .map(|(name, op, key, values)| Condition::new(&name, op, &key, patterns(values)))
                .collect(),
        }
    }
}

struct RawEffect(Effect);

impl<'de> Deserialize<'de> for RawEffect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "Allow" => Ok(RawEffect(Effect::Allow)),
            "Deny" => Ok(RawEffect(Effect::Deny)),
            _ => Err(de::Error::custom(format!(
                "Effect must be \"Allow\" or \"Deny\" (case-sensitive), not {s:?}"
            ))),
        }
    }
}

enum RawPrincipal {
    Everyone,
    Entries(Vec<(PrincipalKind, String)>),
}

impl<'de> Deserialize<'de> for RawPrincipal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPrincipal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"*\" or an object such as {\"AWS\": \"arn:aws:iam::111122223333:root\"}",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawPrincipal, E> {
                if s == "*" {
                    Ok(RawPrincipal::Everyone)
                } else {
                    Err(E::custom(format!(
                        "a principal given as a string must be \"*\"; write {{\"AWS\": {s:?}}}"
                    )))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPrincipal, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let kind = PrincipalKind::from_key(&key).ok_or_else(|| {
                        de::Error::custom(format!(
                            "unknown principal type {key:?}: use AWS, Service, Federated or CanonicalUser"
                        ))
                    })?;
                    let Strings(values) = map.next_value()?;
                    entries.extend(values.into_iter().map(|v| (kind, v)));
                }
                if entries.is_empty() {
                    return Err(de::Error::custom("the principal names nobody"));
                }
                Ok(RawPrincipal::Entries(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or a list of strings, as IAM allows for most elements.
struct Strings(Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Strings, E> {
                Ok(Strings(vec![s.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn opt_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Strings::deserialize(d).map(|s| Some(s.0))
}

/// Condition values: strings, numbers or booleans, alone or in a list; all compared as text.
struct Scalars(Vec<String>);

impl<'de> Deserialize<'de> for Scalars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar(String);
        impl<'de> Deserialize<'de> for Scalar {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ScalarVisitor).map(Scalar)
            }
        }
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
                Ok(s.to_owned())
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<String, E> {
                Ok(b.to_string())
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<String, E> {
                Ok(n.to_string())
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<String, E> {
                Ok(n.to_string())
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<String, E> {
                Ok(n.to_string())
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalars;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a condition value (string, number or boolean) or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalars, E> {
                Ok(Scalars(vec![s.to_owned()]))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalars, E> {
                Ok(Scalars(vec![b.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalars, E> {
                Ok(Scalars(vec![n.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalars, E> {
                Ok(Scalars(vec![n.to_string()]))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalars, E> {
                Ok(Scalars(vec![n.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalars, A::Error> {
                let mut out = Vec::new();
                while let Some(Scalar(s)) = seq.next_element()? {
                    out.push(s);
                }
                Ok(Scalars(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Statement` may be one object or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CheckedStatement>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<CheckedStatement>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a statement object or a list of statements")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element()? {
                out.push(s);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            CheckedStatement::deserialize(de::value::MapAccessDeserializer::new(map))
                .map(|s| vec![s])
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        KeyPolicy::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn statement_may_be_an_object_or_a_list() {
        let one = r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}}"#;
        assert_eq!(KeyPolicy::parse(one).unwrap().statements.len(), 1);
        let two = r#"{"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/A"]}, "Action": ["kms:*"], "Resource": "*"},
            {"Sid": "x", "Effect": "Deny", "NotPrincipal": {"Service": "logs.amazonaws.com"}, "NotAction": "kms:Decrypt", "NotResource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": false}, "NumericLessThan": {"n": 3}}}
        ]}"#;
        let p = KeyPolicy::parse(two).unwrap();
        assert_eq!(p.statements.len(), 2);
        assert_eq!(p.statements[0].principals.entries().len(), 2);
        assert_eq!(p.statements[1].conditions.len(), 2);
        assert!(p.statements[1].not_principal && p.statements[1].not_action);
    }

    #[test]
    fn errors_name_statement_element_and_position() {
        let text = "{\"Statement\": [\n {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"},\n {\"Effect\": \"Alow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}\n]}";
        let e = err(text);
        assert!(e.starts_with("statement 2, Effect: Effect must be"), "{e}");
        assert!(e.contains("line 3"), "{e}");

        let e = err(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["a", 5]}, "Action": "kms:*", "Resource": "*"}]}"#,
        );
        assert!(e.starts_with("statement 1, Principal.AWS"), "{e}");

        let e = err(r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}"#);
        assert!(e.contains("must have Resource"), "{e}");

        // An operator kms-doctor does not know is kept (the statement is conditional), never
        // an error: a policy AWS stored is valid.
        let p = KeyPolicy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEqual": {"a": "b"}}}]}"#,
        )
        .unwrap();
        assert_eq!(p.statements[0].conditions[0].operator_name, "StringEqual");

        let e = err(r#"{"Statement": [], "Extra": 1}"#);
        assert!(e.contains("unknown field `Extra`"), "{e}");

        let e = err(r#"{"Statement": []"#);
        assert!(e.contains("EOF"), "{e}");
    }

    #[test]
    fn documents_over_32_kb_are_refused() {
        let big = format!(
            "{{\"Statement\": [], \"Id\": \"{}\"}}",
            "x".repeat(MAX_POLICY_BYTES)
        );
        assert!(matches!(
            KeyPolicy::parse(&big),
            Err(ParseError::TooLarge { .. })
        ));
    }
}
