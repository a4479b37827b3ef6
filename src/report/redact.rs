//! `--redact`: every account ID, principal name and key ID is replaced by a stable pseudonym,
//! the same across one output, in every format.
//!
//! Redaction is a transformation of the report's data, before rendering: each string value is
//! rewritten (ARNs part by part, then bare account IDs, key IDs and unique IDs), never the
//! rendered text, so that escaping and colour are untouched and one [`Redactor`] gives a name
//! the same pseudonym wherever it appears.

use crate::diagnosis::model::{
    Access, CallRecord, CallerReport, DiagnoseReport, Entry, FailedAttempt, Finding, Grant,
    HistorySummary, KeyFacts, PolicyDiff, PolicySource, Restorer, Skipped, Span, Text,
    TimelineReport,
};
use std::collections::HashMap;

/// Data that carries identifiers.
pub trait Redact {
    fn redact(&mut self, r: &mut Redactor);
}

/// A redacted copy of a report.
pub fn redacted<T: Redact + Clone>(report: &T) -> T {
    let mut copy = report.clone();
    copy.redact(&mut Redactor::default());
    copy
}

impl Redact for String {
    fn redact(&mut self, r: &mut Redactor) {
        let redacted = r.redact(self);
        if redacted != *self {
            *self = redacted;
        }
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact(&mut self, r: &mut Redactor) {
        if let Some(v) = self {
            v.redact(r);
        }
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact(&mut self, r: &mut Redactor) {
        for v in self {
            v.redact(r);
        }
    }
}

impl Redact for Text {
    fn redact(&mut self, r: &mut Redactor) {
        for span in self.spans_mut() {
            match span {
                Span::Code(c) | Span::Quoted(c) => c.redact(r),
                Span::Prose(p) => {
                    let redacted = r.redact(p);
                    if redacted != *p {
                        *p = redacted.into();
                    }
                }
            }
        }
    }
}

impl Redact for serde_json::Value {
    fn redact(&mut self, r: &mut Redactor) {
        match self {
            serde_json::Value::String(s) => s.redact(r),
            serde_json::Value::Array(list) => list.redact(r),
            serde_json::Value::Object(map) => {
                for v in map.values_mut() {
                    v.redact(r);
                }
            }
            _ => {}
        }
    }
}

/// `redact_fields!(Type: a, b, c)`: redacts the named fields, in order.
macro_rules! redact_fields {
    ($($ty:ty: $($field:ident),*;)*) => {
        $(impl Redact for $ty {
            fn redact(&mut self, r: &mut Redactor) {
                $(self.$field.redact(r);)*
            }
        })*
    };
}

redact_fields! {
    DiagnoseReport: key, caller, principal, access, findings, restorers, policy_source, next_steps, calls, policy, history, notes, fix;
    KeyFacts: input, arn, key_id, account;
    CallerReport: arn, account, principal_arn;
    Access: action;
    Finding: title, detail, evidence, help;
    Restorer: principal, statement, conditions_on;
    PolicySource: event_id, changed_by;
    CallRecord: message;
    HistorySummary: failed_attempts;
    FailedAttempt: event_id, changed_by, error_message;
    TimelineReport: key, events, skipped, calls;
    Entry: event_id, author, role_arn, diff, lockout;
    PolicyDiff: statements_added, statements_removed, statements_changed, gained, lost, unreadable;
    Grant: principal;
    Skipped: reasons;
}

#[derive(Default)]
pub struct Redactor {
    /// (kind, original) → pseudonym
    names: HashMap<(&'static str, String), String>,
    counters: HashMap<&'static str, usize>,
    /// Pseudonyms handed out, which must not be redacted again.
    produced: std::collections::HashSet<String>,
}

impl Redactor {
    fn pseudonym(&mut self, kind: &'static str, original: &str) -> String {
        if let Some(p) = self.names.get(&(kind, original.to_owned())) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        let p = match kind {
            // Twelve digits, so that redacted ARNs still read as ARNs.
            "account" => format!("{:012}", *n),
            "key" => format!("key-{}", *n),
            "uid" => format!("AIDAREDACTED{:08}", *n),
            other => format!("{other}-{}", *n),
        };
        self.names.insert((kind, original.to_owned()), p.clone());
        self.produced.insert(p.clone());
        p
    }

    pub fn redact(&mut self, text: &str) -> String {
        let text = self.redact_arns(text);
        self.redact_bare(&text)
    }

    fn redact_arns(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("arn:") {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'`,;)]}|<>\\".contains(c))
                .unwrap_or(tail.len());
            out.push_str(&self.redact_arn(&tail[..end]));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    fn redact_arn(&mut self, arn: &str) -> String {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 {
            return arn.to_owned();
        }
        let account = if parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()) {
            self.pseudonym("account", parts[4])
        } else {
            parts[4].to_owned()
        };
        let resource = parts[5];
        let resource = if let Some(r) = resource.strip_prefix("assumed-role/") {
            match r.split_once('/') {
                Some((role, session)) => format!(
                    "assumed-role/{}/{}",
                    self.pseudonym("role", role),
                    self.pseudonym("session", session)
                ),
                None => format!("assumed-role/{}", self.pseudonym("role", r)),
            }
        } else if let Some(r) = resource.strip_prefix("role/") {
            self.path_and_name("role", "role", r)
        } else if let Some(r) = resource.strip_prefix("user/") {
            self.path_and_name("user", "user", r)
        } else if let Some(r) = resource.strip_prefix("federated-user/") {
            format!("federated-user/{}", self.pseudonym("user", r))
        } else if let Some(r) = resource.strip_prefix("key/") {
            format!("key/{}", self.pseudonym("key", r))
        } else if let Some(r) = resource.strip_prefix("alias/") {
            format!("alias/{}", self.pseudonym("alias", r))
        } else {
            resource.to_owned()
        };
        format!(
            "{}:{}:{}:{}:{account}:{resource}",
            parts[0], parts[1], parts[2], parts[3]
        )
    }

    /// `path/to/Name` → the path kept, the name redacted (role names are the same pseudonym
    /// whether they appear in a role ARN or a session ARN).
    fn path_and_name(&mut self, prefix: &str, kind: &'static str, r: &str) -> String {
        match r.rsplit_once('/') {
            Some((path, name)) => format!("{prefix}/{path}/{}", self.pseudonym(kind, name)),
            None => format!("{prefix}/{}", self.pseudonym(kind, r)),
        }
    }

    /// Account IDs, key IDs (UUIDs, `mrk-…`) and unique IDs outside ARNs.
    fn redact_bare(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let at_word_start = i == 0 || !is_word(bytes[i - 1]);
            if at_word_start {
                let end = (i..bytes.len())
                    .find(|&j| !is_word(bytes[j]))
                    .unwrap_or(bytes.len());
                let word = &text[i..end];
                if let Some(replaced) = self.bare_word(word) {
                    out.push_str(&replaced);
                    i = end;
                    continue;
                }
            }
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    fn bare_word(&mut self, word: &str) -> Option<String> {
        if self.produced.contains(word) {
            return None;
        }
        if word.len() == 12 && word.bytes().all(|b| b.is_ascii_digit()) {
            return Some(self.pseudonym("account", word));
        }
        if is_uuid(word) || (word.starts_with("mrk-") && word.len() == 36) {
            return Some(self.pseudonym("key", word));
        }
        if crate::policy::is_unique_id(word) {
            return Some(self.pseudonym("uid", word));
        }
        None
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_within_one_output() {
        let mut r = Redactor::default();
        let out = r.redact(
            "arn:aws:sts::111122223333:assumed-role/Admin/alice and arn:aws:iam::111122223333:role/ops/Admin \
             key arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (1234abcd-12ab-34cd-56ef-1234567890ab) \
             account 111122223333, other 444455556666, orphan AROAZ3EXAMPLEADMIN01",
        );
        assert_eq!(
            out,
            "arn:aws:sts::000000000001:assumed-role/role-1/session-1 and arn:aws:iam::000000000001:role/ops/role-1 \
             key arn:aws:kms:us-east-1:000000000001:key/key-1 (key-1) \
             account 000000000001, other 000000000002, orphan AIDAREDACTED00000001"
        );
    }

    #[test]
    fn words_that_merely_contain_names_are_kept() {
        let mut r = Redactor::default();
        let out = r
            .redact("\"Allow access for Key Administrators\" arn:aws:iam::111122223333:role/Admin");
        assert!(
            out.starts_with("\"Allow access for Key Administrators\""),
            "{out}"
        );
    }
}
