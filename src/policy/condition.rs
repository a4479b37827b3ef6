//! The `Condition` element: every IAM condition operator, `…IfExists`, `ForAnyValue:` /
//! `ForAllValues:` and `Null`, decided in three-valued logic against a [`Context`].
//!
//! The rules follow the IAM User Guide ("Condition operators", "Multivalued context keys"):
//! several values for one key are ORed (for negated operators the negation is applied to that
//! OR, which reads as an AND); several keys, and several operators, are ANDed; a key that is
//! absent fails positive operators and satisfies negated ones, `…IfExists` and `ForAllValues`.

use super::context::{Context, Lookup};
use super::pattern::{Pattern, Resolved};
use super::tri::Tri;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
    /// An operator kms-doctor does not know. A policy AWS stored is valid, so the statement is
    /// kept and its condition is undecided (`conditional`), never an error.
    Unsupported,
}

impl BaseOperator {
    const ALL: [(&'static str, BaseOperator); 27] = [
        ("StringEquals", Self::StringEquals),
        ("StringNotEquals", Self::StringNotEquals),
        ("StringEqualsIgnoreCase", Self::StringEqualsIgnoreCase),
        ("StringNotEqualsIgnoreCase", Self::StringNotEqualsIgnoreCase),
        ("StringLike", Self::StringLike),
        ("StringNotLike", Self::StringNotLike),
        ("NumericEquals", Self::NumericEquals),
        ("NumericNotEquals", Self::NumericNotEquals),
        ("NumericLessThan", Self::NumericLessThan),
        ("NumericLessThanEquals", Self::NumericLessThanEquals),
        ("NumericGreaterThan", Self::NumericGreaterThan),
        ("NumericGreaterThanEquals", Self::NumericGreaterThanEquals),
        ("DateEquals", Self::DateEquals),
        ("DateNotEquals", Self::DateNotEquals),
        ("DateLessThan", Self::DateLessThan),
        ("DateLessThanEquals", Self::DateLessThanEquals),
        ("DateGreaterThan", Self::DateGreaterThan),
        ("DateGreaterThanEquals", Self::DateGreaterThanEquals),
        ("Bool", Self::Bool),
        ("BinaryEquals", Self::BinaryEquals),
        ("IpAddress", Self::IpAddress),
        ("NotIpAddress", Self::NotIpAddress),
        ("ArnEquals", Self::ArnEquals),
        ("ArnLike", Self::ArnLike),
        ("ArnNotEquals", Self::ArnNotEquals),
        ("ArnNotLike", Self::ArnNotLike),
        ("Null", Self::Null),
    ];

    /// Operator names are case-sensitive in IAM, like the other element names.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, op)| *op)
    }

    /// Negated operators: true when the key is absent, and their values combine with AND.
    fn is_negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// The positive operator whose result a negated one inverts.
    fn positive(self) -> Self {
        match self {
            Self::StringNotEquals => Self::StringEquals,
            Self::StringNotEqualsIgnoreCase => Self::StringEqualsIgnoreCase,
            Self::StringNotLike => Self::StringLike,
            Self::NumericNotEquals => Self::NumericEquals,
            Self::DateNotEquals => Self::DateEquals,
            Self::NotIpAddress => Self::IpAddress,
            Self::ArnNotEquals => Self::ArnEquals,
            Self::ArnNotLike => Self::ArnLike,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub base: BaseOperator,
    pub if_exists: bool,
    pub set: SetQualifier,
}

impl Operator {
    /// An operator kms-doctor does not know (see [`BaseOperator::Unsupported`]).
    pub fn unsupported() -> Operator {
        Operator {
            base: BaseOperator::Unsupported,
            if_exists: false,
            set: SetQualifier::None,
        }
    }

    /// Parses `ForAnyValue:StringLikeIfExists` and the like. `None` for an unknown operator.
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let base = BaseOperator::from_name(base)?;
        // `Null` tests whether the key is present; a set qualifier changes nothing in that
        // (`ForAnyValue:Null` is valid), but `NullIfExists` would contradict itself.
        if base == BaseOperator::Null && if_exists {
            return None;
        }
        Some(Operator {
            base,
            if_exists,
            set,
        })
    }
}

/// One operator applied to one key: `"StringEquals": {"kms:CallerAccount": ["1", "2"]}`.
#[derive(Debug, Clone)]
pub struct Condition {
    pub operator_name: String,
    pub operator: Operator,
    /// The key as written in the policy.
    pub key: String,
    key_lower: String,
    pub values: Vec<Pattern>,
}

/// The result of one condition, with the keys it could not decide on.
#[derive(Debug, Clone)]
pub struct ConditionResult {
    pub result: Tri,
    pub unknown_keys: Vec<String>,
}

impl Condition {
    pub fn new(operator_name: &str, operator: Operator, key: &str, values: Vec<Pattern>) -> Self {
        Condition {
            operator_name: operator_name.to_owned(),
            operator,
            key: key.to_owned(),
            key_lower: key.to_ascii_lowercase(),
            values,
        }
    }

    /// Whether the condition can hold only when its key is in the request with a value that
    /// matches (a positive operator, without `…IfExists`, not `ForAllValues:`, not `Null`).
    pub fn requires_value(&self) -> bool {
        let op = self.operator;
        !op.base.is_negated()
            && !op.if_exists
            && op.set != SetQualifier::ForAllValues
            && !matches!(op.base, BaseOperator::Null | BaseOperator::Unsupported)
    }

    /// Whether kms-doctor knows the operator (else the condition is always undecided).
    pub fn is_supported(&self) -> bool {
        self.operator.base != BaseOperator::Unsupported
    }

    pub fn evaluate(&self, ctx: &Context) -> ConditionResult {
        let mut unknown_keys = Vec::new();
        if self.operator.base == BaseOperator::Unsupported {
            return ConditionResult {
                result: Tri::Unknown,
                unknown_keys: vec![format!("{} (operator {})", self.key, self.operator_name)],
            };
        }
        let result = match ctx.lookup(&self.key_lower) {
            Lookup::Unknown => {
                unknown_keys.push(self.key.clone());
                Tri::Unknown
            }
            Lookup::Absent => Tri::from(self.when_absent()),
            Lookup::Known(values) => self.when_present(values, ctx),
        };
        if result == Tri::Unknown {
            for v in &self.values {
                for (key, name) in v.variables() {
                    if matches!(ctx.lookup(key), Lookup::Unknown) {
                        unknown_keys.push(name.to_owned());
                    }
                }
            }
        }
        ConditionResult {
            result,
            unknown_keys,
        }
    }

    fn when_absent(&self) -> bool {
        let op = self.operator;
        if op.base == BaseOperator::Null {
            // "Null": {"k": "true"} holds when k is absent.
            return self
                .values
                .iter()
                .any(|v| v.raw().eq_ignore_ascii_case("true"));
        }
        if op.if_exists {
            return true;
        }
        match op.set {
            SetQualifier::ForAllValues => true,
            SetQualifier::ForAnyValue => false,
            SetQualifier::None => op.base.is_negated(),
        }
    }

    fn when_present(&self, context_values: &[String], ctx: &Context) -> Tri {
        let op = self.operator;
        if op.base == BaseOperator::Null {
            return Tri::from(
                self.values
                    .iter()
                    .any(|v| v.raw().eq_ignore_ascii_case("false")),
            );
        }
        let negated = op.base.is_negated();
        let positive = op.base.positive();
        // A policy variable that cannot be resolved (its key absent, no default) satisfies no
        // condition: a negated operator does not turn it into a match.
        if negated
            && self
                .values
                .iter()
                .any(|pv| matches!(pv.resolve(ctx), Resolved::Absent))
        {
            return Tri::False;
        }
        // Does this one context value satisfy the operator (against all the policy's values)?
        let one = |cv: &str| {
            let any = Tri::any(self.values.iter().map(|pv| matches(positive, pv, cv, ctx)));
            if negated { !any } else { any }
        };
        match op.set {
            SetQualifier::ForAllValues => Tri::all(context_values.iter().map(|cv| one(cv))),
            SetQualifier::ForAnyValue => Tri::any(context_values.iter().map(|cv| one(cv))),
            // Without a qualifier a multi-valued key behaves as "any value"; for negated
            // operators IAM requires that no value match.
            SetQualifier::None if negated => Tri::all(context_values.iter().map(|cv| one(cv))),
            SetQualifier::None => Tri::any(context_values.iter().map(|cv| one(cv))),
        }
    }
}

/// Does context value `cv` satisfy the positive operator `op` for policy value `pv`?
fn matches(op: BaseOperator, pv: &Pattern, cv: &str, ctx: &Context) -> Tri {
    use BaseOperator as B;
    match op {
        B::Unsupported => Tri::Unknown,
        B::StringLike => pv.matches(cv, ctx),
        B::ArnLike | B::ArnEquals => arn_like(pv, cv, ctx),
        _ => {
            let text = match pv.resolve(ctx) {
                Resolved::Text(t) => t,
                Resolved::Unknown(_) => return Tri::Unknown,
                Resolved::Absent => return Tri::False,
            };
            let text = text.as_ref();
            Tri::from(match op {
                B::StringEquals | B::BinaryEquals => text == cv,
                B::StringEqualsIgnoreCase => text.to_lowercase() == cv.to_lowercase(),
                B::NumericEquals => numeric(text, cv, |a, b| a == b),
                B::NumericLessThan => numeric(text, cv, |p, c| c < p),
                B::NumericLessThanEquals => numeric(text, cv, |p, c| c <= p),
                B::NumericGreaterThan => numeric(text, cv, |p, c| c > p),
                B::NumericGreaterThanEquals => numeric(text, cv, |p, c| c >= p),
                B::DateEquals => date(text, cv, |p, c| c == p),
                B::DateLessThan => date(text, cv, |p, c| c < p),
                B::DateLessThanEquals => date(text, cv, |p, c| c <= p),
                B::DateGreaterThan => date(text, cv, |p, c| c > p),
                B::DateGreaterThanEquals => date(text, cv, |p, c| c >= p),
                B::Bool => {
                    text.eq_ignore_ascii_case(cv)
                        && (cv.eq_ignore_ascii_case("true") || cv.eq_ignore_ascii_case("false"))
                }
                B::IpAddress => ip_in(text, cv),
                _ => unreachable!("negated and Null operators are handled by the caller"),
            })
        }
    }
}

fn numeric(policy: &str, context: &str, cmp: impl Fn(f64, f64) -> bool) -> bool {
    match (policy.trim().parse::<f64>(), context.trim().parse::<f64>()) {
        (Ok(p), Ok(c)) => cmp(p, c),
        _ => false,
    }
}

/// Dates as IAM accepts them: ISO 8601 (with or without time and zone) or epoch seconds.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(epoch) = s.parse::<i64>() {
        return DateTime::from_timestamp(epoch, 0);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn date(policy: &str, context: &str, cmp: impl Fn(DateTime<Utc>, DateTime<Utc>) -> bool) -> bool {
    match (parse_date(policy), parse_date(context)) {
        (Some(p), Some(c)) => cmp(p, c),
        _ => false,
    }
}

fn ip_in(policy: &str, context: &str) -> bool {
    let Ok(ip) = context.trim().parse::<IpAddr>() else {
        return false;
    };
    let policy = policy.trim();
    if let Ok(net) = policy.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    policy.parse::<IpAddr>().is_ok_and(|p| p == ip)
}

/// `ArnLike`/`ArnEquals`: the six colon-separated parts are matched one by one, each with
/// wildcards, case-sensitively.
fn arn_like(pv: &Pattern, cv: &str, ctx: &Context) -> Tri {
    let text = match pv.resolve(ctx) {
        Resolved::Text(t) => t,
        Resolved::Unknown(_) => return Tri::Unknown,
        Resolved::Absent => return Tri::False,
    };
    let policy_parts: Vec<&str> = text.splitn(6, ':').collect();
    let context_parts: Vec<&str> = cv.splitn(6, ':').collect();
    if policy_parts.len() != 6 || context_parts.len() != 6 {
        // Only "*" matches something that is not an ARN.
        return Tri::from(text == "*");
    }
    let empty = Context::default();
    Tri::from(
        policy_parts
            .iter()
            .zip(&context_parts)
            .all(|(p, c)| Pattern::new(p, false).matches(c, &empty) == Tri::True),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition::new(
            op,
            Operator::parse(op).unwrap(),
            key,
            values.iter().map(|v| Pattern::new(v, true)).collect(),
        )
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::default();
        for (k, vs) in pairs {
            c.insert(k, vs.iter().map(|v| v.to_string()).collect());
        }
        c.mark_absent("aws:SourceVpc");
        c
    }

    #[test]
    fn operator_names_parse_with_qualifiers() {
        let op = Operator::parse("ForAllValues:StringLikeIfExists").unwrap();
        assert_eq!(op.base, BaseOperator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.set, SetQualifier::ForAllValues);
        assert!(Operator::parse("NullIfExists").is_none());
        assert_eq!(
            Operator::parse("ForAnyValue:Null").unwrap().base,
            BaseOperator::Null
        );
        assert_eq!(
            Operator::parse("ForAllValues:Null").unwrap().set,
            SetQualifier::ForAllValues
        );
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("StringMatches").is_none());
    }

    #[test]
    fn unknown_keys_leave_the_result_open() {
        let r = cond(
            "StringEquals",
            "kms:ViaService",
            &["s3.us-east-1.amazonaws.com"],
        )
        .evaluate(&Context::default());
        assert_eq!(r.result, Tri::Unknown);
        assert_eq!(r.unknown_keys, vec!["kms:ViaService".to_string()]);
    }

    #[test]
    fn absent_keys_follow_iam() {
        let c = ctx(&[]);
        assert_eq!(
            cond("StringEquals", "aws:SourceVpc", &["v"])
                .evaluate(&c)
                .result,
            Tri::False
        );
        assert_eq!(
            cond("StringNotEquals", "aws:SourceVpc", &["v"])
                .evaluate(&c)
                .result,
            Tri::True
        );
        assert_eq!(
            cond("StringEqualsIfExists", "aws:SourceVpc", &["v"])
                .evaluate(&c)
                .result,
            Tri::True
        );
        assert_eq!(
            cond("Null", "aws:SourceVpc", &["true"]).evaluate(&c).result,
            Tri::True
        );
        assert_eq!(
            cond("Null", "aws:SourceVpc", &["false"])
                .evaluate(&c)
                .result,
            Tri::False
        );
        assert_eq!(
            cond("ForAllValues:StringEquals", "aws:SourceVpc", &["v"])
                .evaluate(&c)
                .result,
            Tri::True
        );
        assert_eq!(
            cond("ForAnyValue:StringEquals", "aws:SourceVpc", &["v"])
                .evaluate(&c)
                .result,
            Tri::False
        );
    }

    #[test]
    fn keys_compare_case_insensitively() {
        let c = ctx(&[("AWS:PrincipalAccount", &["111122223333"])]);
        assert_eq!(
            cond("StringEquals", "aws:principalaccount", &["111122223333"])
                .evaluate(&c)
                .result,
            Tri::True
        );
    }

    #[test]
    fn typed_operators() {
        let c = ctx(&[
            ("n", &["10"]),
            ("d", &["2024-06-01T00:00:00Z"]),
            ("ip", &["10.1.2.3"]),
            ("b", &["true"]),
            ("arn", &["arn:aws:iam::111122223333:role/ops/Admin"]),
        ]);
        assert_eq!(
            cond("NumericLessThan", "n", &["11"]).evaluate(&c).result,
            Tri::True
        );
        assert_eq!(
            cond("NumericGreaterThan", "n", &["11"]).evaluate(&c).result,
            Tri::False
        );
        assert_eq!(
            cond("DateGreaterThan", "d", &["2024-01-01"])
                .evaluate(&c)
                .result,
            Tri::True
        );
        assert_eq!(
            cond("IpAddress", "ip", &["10.0.0.0/8"]).evaluate(&c).result,
            Tri::True
        );
        assert_eq!(
            cond("NotIpAddress", "ip", &["10.0.0.0/8"])
                .evaluate(&c)
                .result,
            Tri::False
        );
        assert_eq!(cond("Bool", "b", &["TRUE"]).evaluate(&c).result, Tri::True);
        assert_eq!(
            cond("ArnLike", "arn", &["arn:aws:iam::*:role/*"])
                .evaluate(&c)
                .result,
            Tri::True
        );
        assert_eq!(
            cond("ArnNotLike", "arn", &["arn:aws:iam::*:user/*"])
                .evaluate(&c)
                .result,
            Tri::True
        );
    }
}
