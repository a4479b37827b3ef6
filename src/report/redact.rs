//! `--redact`: every identifier and personal datum (accounts, principal and session names, key
//! IDs, aliases, event IDs, IP addresses, user agents, e-mail addresses, organisation, VPC and
//! endpoint IDs, condition values) becomes a stable pseudonym, the same across one output, in
//! every format and in a redacted evidence file.
//!
//! Redaction is a transformation of the data, before rendering, in two passes over every string
//! the data holds: the first learns the names (from ARNs, and from the fields known to hold a
//! name, an address, an agent or a condition value), the second rewrites. Values have every
//! learned name replaced wherever it stands as a whole token; kms-doctor's own prose only has
//! patterns replaced (ARNs, account, key and unique IDs, addresses), so that a role named `key`
//! cannot garble a sentence. Escaping and colour, applied later, are never touched.

use crate::diagnosis::model::{
    Access, AuthorizationDetails, CallRecord, CallerIdentity, CallerReport, DiagnoseReport, Entry,
    Evidence, ExistenceCheck, FailedAttempt, Finding, Grant, GroupDetails, History, HistorySummary,
    IamPrincipalDetails, KeyFacts, ManagedPolicy, MatchedStatement, NamedDocument, Note,
    PolicyDiff, PolicyEvent, PolicySource, RegionSkipped, Restorer, ScanError, ScanReport,
    ScanScope, ScannedKey, SimulationResult, Skipped, Span, Text, TimelineReport,
};
use crate::diagnosis::model::{
    EventId, KeyEvidence, PolicyName, ScanEvidence, SourceIp, SourcePolicyType, UserAgent,
};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// What a string is, for redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// kms-doctor's own words: patterns only.
    Prose,
    /// A value from outside: patterns, then every learned name.
    Value,
    /// A whole field known to be a name of this kind (`agent`, `ip`, `value`…): it is learned
    /// as one name.
    Named(&'static str),
}

/// Data that holds strings to redact.
pub trait Redact {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind));
}

/// A redacted copy, with pseudonyms of its own.
pub fn redacted<T: Redact + Clone>(data: &T) -> T {
    Redactor::default().apply(data)
}

impl Redact for String {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        f(self, Kind::Value);
    }
}

impl<T: Redact> Redact for Option<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        if let Some(v) = self {
            v.strings(f);
        }
    }
}

/// Identifiers that know what they are: each is one name of its kind, wherever it stands.
macro_rules! redact_identifiers {
    ($($ty:ident => $kind:literal),* $(,)?) => {
        $(impl Redact for $ty {
            fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
                f(&mut self.0, Kind::Named($kind));
            }
        })*
    };
}

redact_identifiers! {
    EventId => "event",
    SourceIp => "ip",
    UserAgent => "agent",
    PolicyName => "policy",
}

impl<T: Redact> Redact for Vec<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        for v in self {
            v.strings(f);
        }
    }
}

impl Redact for Text {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        for span in self.spans_mut() {
            match span {
                Span::Code(c) | Span::Quoted(c) => f(c, Kind::Value),
                Span::Prose(p) => {
                    let mut s = p.to_string();
                    f(&mut s, Kind::Prose);
                    if s != *p {
                        *p = Cow::Owned(s);
                    }
                }
            }
        }
    }
}

impl Redact for serde_json::Value {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        walk_policy(self, false, f);
    }
}

/// A policy document: every value under `Condition` is a condition value; a `Sid` and the
/// policy's `Id` are names (people's, teams', customers'), except the ones KMS and its console
/// write themselves.
fn walk_policy(
    v: &mut serde_json::Value,
    in_condition: bool,
    f: &mut dyn FnMut(&mut String, Kind),
) {
    use serde_json::Value;
    match v {
        Value::String(s) if in_condition && !trivial(s) => f(s, Kind::Named("value")),
        Value::String(s) => f(s, Kind::Value),
        Value::Array(list) => list
            .iter_mut()
            .for_each(|v| walk_policy(v, in_condition, f)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match (k.as_str(), v) {
                    ("Sid", Value::String(sid)) if !in_condition && !aws_written_sid(sid) => {
                        f(sid, Kind::Named("sid"))
                    }
                    ("Id", Value::String(id)) if !in_condition && !aws_written_id(id) => {
                        f(id, Kind::Named("policy-id"))
                    }
                    (_, v) => walk_policy(v, in_condition || k == "Condition", f),
                }
            }
        }
        _ => {}
    }
}

/// The `Sid`s of the key policies KMS and the KMS console write: they name no one.
fn aws_written_sid(sid: &str) -> bool {
    matches!(
        sid,
        "Enable IAM User Permissions"
            | "Allow access for Key Administrators"
            | "Allow use of the key"
            | "Allow attachment of persistent resources"
    )
}

/// `key-default-1`, `key-consolepolicy-3`: the `Id`s KMS and its console write.
fn aws_written_id(id: &str) -> bool {
    ["key-default-", "key-consolepolicy-"].iter().any(|p| {
        id.strip_prefix(p)
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Condition values that identify nothing: booleans, numbers, wildcards.
fn trivial(s: &str) -> bool {
    matches!(s, "true" | "false" | "*" | "") || s.parse::<f64>().is_ok() || s.len() < 3
}

/// A policy kept as JSON text (the evidence file's form): parsed, redacted, written back.
fn policy_text(s: &mut Option<String>, f: &mut dyn FnMut(&mut String, Kind)) {
    let Some(text) = s else { return };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            walk_policy(&mut v, false, f);
            *text = v.to_string();
        }
        Err(_) => f(text, Kind::Value),
    }
}

/// `redact_fields! { Type { a, b; plain: c, d } }`: fields `a` and `b` are redacted as values,
/// `c` and `d` hold nothing to redact (enums, numbers, kms-doctor's own words). Every field is
/// named one way or the other: the struct is destructured without `..`, so a field added later
/// does not compile until it is placed here.
macro_rules! redact_fields {
    ($($ty:ident { $($field:ident),* $(; plain: $($plain:ident),*)? })*) => {
        $(impl Redact for $ty {
            fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
                let $ty { $($field,)* $($($plain: _,)*)? } = self;
                $($field.strings(f);)*
            }
        })*
    };
}

redact_fields! {
    CallerReport { arn, account, principal_arn }
    Access { action; plain: verdict, basis, because }
    Finding { title, detail, evidence, help; plain: code, severity, statement }
    Restorer {
        principal, statement, conditions_on, assumable_by, path, permission_set;
        plain: source, exists, kind, via, caller_can_assume
    }
    CallRecord { message, error_code; plain: service, operation, outcome, ms, denial }
    HistorySummary {
        failed_attempts;
        plain: lookback_days, pages, events_scanned, skipped_records, complete, cut_short
    }
    TimelineReport { key, events, skipped, calls; plain: schema_version, source, since, until, lockout }
    PolicyDiff {
        statements_added, statements_removed, statements_changed, gained, lost, unreadable;
        plain: delegation_added, delegation_removed
    }
    Grant { principal; plain: action }
    Skipped { reasons; plain: files, records }
    SimulationResult {
        resource, matched_statements, missing_context;
        plain: action, decision, allowed_by_organizations, allowed_by_permissions_boundary
    }
    ScanReport { scope, keys, errors; plain: schema_version, calls, summary }
    ScanScope { accounts, regions_not_enabled; plain: regions }
    RegionSkipped { account, reason; plain: region }
    ScanError { account, message, key_ids; plain: region, operation }
    ScannedKey {
        policy_source, arn, key_id, account, aliases, findings, restorers;
        plain: region, manager, state, deletion_date, status
    }
    DiagnoseReport {
        // Event IDs first, so that they are named as events wherever they appear.
        policy_source, history, key, caller, principal, access, findings, restorers, next_steps,
        restore_path, calls, policy, notes;
        plain: schema_version, fix, calls_listed
    }
    History {
        in_force, failed_attempts;
        plain: lookback_days, pages, events_scanned, skipped_records, complete, cut_short, source
    }
}

impl Redact for ExistenceCheck {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let ExistenceCheck {
            principal,
            exists: _,
            trust_policy,
        } = self;
        principal.strings(f);
        policy_text(trust_policy, f);
    }
}

impl Redact for KeyFacts {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let KeyFacts {
            input,
            arn,
            key_id,
            account,
            region: _,
            manager: _,
            state: _,
            deletion_date: _,
            not_found: _,
            resolved_from: _,
        } = self;
        arn.strings(f);
        key_id.strings(f);
        account.strings(f);
        // An alias as typed (`alias/payments`) is learned from its name.
        input.strings(f);
    }
}

impl Redact for CallerIdentity {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let CallerIdentity {
            arn,
            account,
            user_id,
        } = self;
        arn.strings(f);
        account.strings(f);
        // `AROA…:session`: the unique ID and the session name, each a name of its kind,
        // whatever their length.
        let (mut id, session) = match user_id.split_once(':') {
            Some((id, session)) => (id.to_owned(), Some(session.to_owned())),
            None => (user_id.clone(), None),
        };
        f(&mut id, Kind::Named("uid"));
        *user_id = match session {
            Some(mut session) => {
                f(&mut session, Kind::Named("session"));
                format!("{id}:{session}")
            }
            None => id,
        };
    }
}

impl Redact for PolicySource {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let PolicySource {
            kind: _,
            event_id,
            event_time: _,
            changed_by,
            event_name: _,
        } = self;
        event_id.strings(f);
        changed_by.strings(f);
    }
}

impl Redact for FailedAttempt {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let FailedAttempt {
            event_id,
            event_time: _,
            changed_by,
            error_code: _,
            error_message,
        } = self;
        event_id.strings(f);
        changed_by.strings(f);
        error_message.strings(f);
    }
}

impl Redact for Entry {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let Entry {
            event_time: _,
            event_name: _,
            event_id,
            author,
            role_arn,
            source_ip,
            user_agent,
            bypass_lockout_check: _,
            error_code: _,
            default_policy: _,
            diff,
            lockout: _,
        } = self;
        event_id.strings(f);
        author.strings(f);
        role_arn.strings(f);
        source_ip.strings(f);
        user_agent.strings(f);
        diff.strings(f);
    }
}

impl Redact for MatchedStatement {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let MatchedStatement {
            source_policy_id,
            source_policy_type,
        } = self;
        // AWS managed policies name nothing of the customer's.
        if *source_policy_type != Some(SourcePolicyType::AwsManaged) {
            source_policy_id.strings(f);
        }
    }
}

impl Redact for PolicyEvent {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let PolicyEvent {
            event_id,
            event_time: _,
            event_name: _,
            changed_by,
            role_arn,
            source_ip,
            user_agent,
            policy,
            bypass_lockout_check: _,
            error_code: _,
            error_message,
        } = self;
        event_id.strings(f);
        changed_by.strings(f);
        role_arn.strings(f);
        source_ip.strings(f);
        user_agent.strings(f);
        policy_text(policy, f);
        error_message.strings(f);
    }
}

impl Redact for Note {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        if let Note::Other(s) = self {
            f(s, Kind::Value);
        }
    }
}

/// A policy name: AWS's own managed policies name nothing of the customer's.
fn policy_name(name: &mut String, arn: &str, f: &mut dyn FnMut(&mut String, Kind)) {
    if !arn.starts_with("arn:aws:iam::aws:policy/") {
        f(name, Kind::Named("policy"));
    }
}

impl Redact for AuthorizationDetails {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let AuthorizationDetails {
            users,
            roles,
            groups,
            policies,
            complete: _,
        } = self;
        for ManagedPolicy {
            arn,
            name,
            document,
        } in policies
        {
            policy_name(name, &arn.clone(), f);
            arn.strings(f);
            policy_text(document, f);
        }
        for GroupDetails {
            arn,
            name,
            inline_policies,
            attached,
        } in groups
        {
            f(name, Kind::Named("group"));
            arn.strings(f);
            inline_policies.strings(f);
            attached.strings(f);
        }
        for IamPrincipalDetails {
            arn,
            name,
            path,
            inline_policies,
            attached,
            groups,
            boundary,
            trust_policy,
        } in users.iter_mut().chain(roles.iter_mut())
        {
            arn.strings(f);
            name.strings(f);
            f(path, Kind::Value);
            inline_policies.strings(f);
            attached.strings(f);
            for g in groups {
                f(g, Kind::Named("group"));
            }
            boundary.strings(f);
            policy_text(trust_policy, f);
        }
    }
}

impl Redact for NamedDocument {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let NamedDocument { name, document } = self;
        f(name, Kind::Named("policy"));
        let mut doc = Some(std::mem::take(document));
        policy_text(&mut doc, f);
        *document = doc.unwrap_or_default();
    }
}

impl Redact for Evidence {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let Evidence {
            evidence_version: _,
            collected_at: _,
            region: _,
            caller,
            caller_principal_arn,
            subject,
            subject_principal_arn,
            key,
            current_policy,
            get_key_policy: _,
            history,
            simulation,
            restorer_checks,
            notes,
            authorization,
            calls,
        } = self;
        authorization.strings(f);
        history.strings(f);
        caller.strings(f);
        caller_principal_arn.strings(f);
        subject.strings(f);
        subject_principal_arn.strings(f);
        key.strings(f);
        policy_text(current_policy, f);
        simulation.strings(f);
        restorer_checks.strings(f);
        notes.strings(f);
        calls.strings(f);
    }
}

impl Redact for KeyEvidence {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let KeyEvidence {
            account,
            region: _,
            key_id,
            arn,
            aliases,
            manager: _,
            state: _,
            deletion_date: _,
            current_policy,
            get_key_policy: _,
            history,
            history_unavailable,
            restorer_checks,
        } = self;
        account.strings(f);
        key_id.strings(f);
        arn.strings(f);
        aliases.strings(f);
        policy_text(current_policy, f);
        history.strings(f);
        history_unavailable.strings(f);
        restorer_checks.strings(f);
    }
}

impl Redact for ScanEvidence {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let ScanEvidence {
            collected_at: _,
            caller,
            accounts,
            regions: _,
            keys,
            aws_managed_skipped: _,
            regions_not_enabled,
            regions_scanned: _,
            errors,
            calls,
        } = self;
        caller.strings(f);
        accounts.strings(f);
        // In a fixed order, so that the pseudonyms are the same from run to run whatever order
        // the keys were gathered in.
        keys.sort_by(|a, b| {
            (&a.account, &a.region, &a.key_id).cmp(&(&b.account, &b.region, &b.key_id))
        });
        keys.strings(f);
        regions_not_enabled.strings(f);
        errors.strings(f);
        calls.strings(f);
    }
}

/// Pseudonyms for one output.
#[derive(Default)]
pub struct Redactor {
    /// original → pseudonym, whatever the kind it was first met as.
    names: HashMap<String, String>,
    counters: HashMap<&'static str, usize>,
    /// Pseudonyms handed out, which must not be redacted again.
    produced: HashSet<String>,
    /// Names learned from values, replaced wherever they stand as a token in a value.
    learned: Vec<String>,
}

impl Redactor {
    fn pseudonym(&mut self, kind: &'static str, original: &str) -> String {
        if self.produced.contains(original) {
            return original.to_owned();
        }
        if let Some(p) = self.names.get(original) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        let p = match kind {
            // Twelve digits, so that redacted ARNs still read as ARNs.
            "account" => format!("{:012}", *n),
            "uid" => format!("AIDAREDACTED{:08}", *n),
            "ip" => format!("192.0.2.{}", *n % 256),
            "email" => format!("user-{}@example.invalid", *n),
            other => format!("{other}-{}", *n),
        };
        self.names.insert(original.to_owned(), p.clone());
        self.produced.insert(p.clone());
        p
    }

    /// Learns the names `data` holds, before anything of the run is rewritten: every output
    /// of one run (report, `-v` call list, saved evidence) then uses the same pseudonyms.
    pub fn learn_from<T: Redact + Clone>(&mut self, data: &T) {
        let mut copy = data.clone();
        copy.strings(&mut |s, kind| self.learn(s, kind));
    }

    /// A redacted copy with this run's pseudonyms (learning what `data` holds first; a name
    /// learned only later is not replaced in what was already rewritten, hence `learn_from`).
    pub fn apply<T: Redact + Clone>(&mut self, data: &T) -> T {
        self.learn_from(data);
        let mut copy = data.clone();
        copy.strings(&mut |s, kind| self.rewrite(s, kind));
        copy
    }

    /// Learns a name that values will have replaced.
    fn remember(&mut self, kind: &'static str, original: &str) {
        if original.is_empty() || self.produced.contains(original) {
            return;
        }
        self.pseudonym(kind, original);
        // A name of one or two characters (a Sid `S1`) is rewritten where it is a field of its
        // own, but not hunted for in other values, where it would garble words and numbers.
        if original.chars().count() >= 3 && !self.learned.iter().any(|l| l == original) {
            self.learned.push(original.to_owned());
        }
    }

    /// The first pass: names, from ARNs and from named fields.
    pub fn learn(&mut self, s: &str, kind: Kind) {
        match kind {
            Kind::Named(k) => self.remember(k, s),
            Kind::Value => {
                let _ = self.redact_patterns(s, true);
            }
            Kind::Prose => {}
        }
    }

    /// The second pass.
    pub fn rewrite(&mut self, s: &mut String, kind: Kind) {
        let out = match kind {
            Kind::Named(k) => self.pseudonym(k, s),
            Kind::Value => {
                let patterned = self.redact_patterns(s, false);
                self.replace_learned(&patterned)
            }
            Kind::Prose => self.redact_patterns(s, false),
        };
        if out != *s {
            *s = out;
        }
    }

    /// Redacts one string by its patterns alone (ARNs, IDs, addresses); used by tests and for
    /// text with no structure.
    pub fn redact(&mut self, text: &str) -> String {
        self.redact_patterns(text, false)
    }

    fn redact_patterns(&mut self, text: &str, learning: bool) -> String {
        let text = self.redact_arns(text, learning);
        let text = self.redact_tokens(&text, learning);
        self.redact_bare(&text)
    }

    /// Every learned name, as a whole token (not inside a longer word), longest first.
    fn replace_learned(&mut self, text: &str) -> String {
        let mut names: Vec<String> = self
            .learned
            .iter()
            .filter(|n| text.contains(n.as_str()))
            .cloned()
            .collect();
        if names.is_empty() {
            return text.to_owned();
        }
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut out = text.to_owned();
        for name in names {
            let pseudonym = self.names[&name].clone();
            out = replace_token(&out, &name, &pseudonym);
        }
        out
    }

    fn redact_arns(&mut self, text: &str, learning: bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("arn:") {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'`,;)]}|<>\\".contains(c))
                .unwrap_or(tail.len());
            out.push_str(&self.redact_arn(&tail[..end], learning));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    fn redact_arn(&mut self, arn: &str, learning: bool) -> String {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        // AWS's own resources (`arn:aws:iam::aws:policy/ReadOnlyAccess`) name no one.
        if parts.len() < 6 || parts[4] == "aws" {
            return arn.to_owned();
        }
        let account = if parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()) {
            self.pseudonym("account", parts[4])
        } else {
            parts[4].to_owned()
        };
        let name = |r: &mut Self, kind: &'static str, n: &str| {
            // A wildcard (`key/*`, `role/*`) names no one, and must stay one.
            if n.bytes().all(|b| b == b'*' || b == b'?') {
                return n.to_owned();
            }
            if learning {
                r.remember(kind, n);
            }
            r.pseudonym(kind, n)
        };
        let resource = parts[5];
        let resource = if let Some(r) = resource.strip_prefix("assumed-role/") {
            match r.split_once('/') {
                Some((role, session)) => format!(
                    "assumed-role/{}/{}",
                    name(self, "role", role),
                    name(self, "session", session)
                ),
                None => format!("assumed-role/{}", name(self, "role", r)),
            }
        } else if let Some((prefix, kind, r)) = [
            ("role/", "role"),
            ("user/", "user"),
            ("group/", "group"),
            ("policy/", "policy"),
            ("saml-provider/", "provider"),
            ("oidc-provider/", "provider"),
        ]
        .iter()
        .find_map(|(p, k)| resource.strip_prefix(p).map(|r| (&p[..p.len() - 1], *k, r)))
        {
            match r.rsplit_once('/') {
                Some((path, n)) => {
                    let path: Vec<String> = path
                        .split('/')
                        .map(|segment| {
                            // AWS's own paths say what a role is; they identify no one.
                            if segment.is_empty()
                                || segment.starts_with("aws-")
                                || segment == "service-role"
                                || segment.ends_with(".amazonaws.com")
                            {
                                segment.to_owned()
                            } else {
                                name(self, "path", segment)
                            }
                        })
                        .collect();
                    format!("{prefix}/{}/{}", path.join("/"), name(self, kind, n))
                }
                None => format!("{prefix}/{}", name(self, kind, r)),
            }
        } else if let Some(r) = resource.strip_prefix("federated-user/") {
            format!("federated-user/{}", name(self, "user", r))
        } else if let Some(r) = resource.strip_prefix("key/") {
            format!("key/{}", name(self, "key", r))
        } else if let Some(r) = resource.strip_prefix("alias/") {
            format!("alias/{}", name(self, "alias", r))
        } else {
            resource.to_owned()
        };
        format!(
            "{}:{}:{}:{}:{account}:{resource}",
            parts[0], parts[1], parts[2], parts[3]
        )
    }

    /// Tokens with punctuation: e-mail addresses, IPv4 and IPv6 addresses (and CIDR blocks),
    /// bare aliases (`alias/payments`).
    fn redact_tokens(&mut self, text: &str, learning: bool) -> String {
        let is_token = |c: char| c.is_ascii_alphanumeric() || "._%+-@:/".contains(c);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_token) {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail.find(|c: char| !is_token(c)).unwrap_or(tail.len());
            let token = &tail[..end];
            out.push_str(&self.token(token, learning));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    fn token(&mut self, token: &str, learning: bool) -> String {
        if self.produced.contains(token) || token.starts_with("arn:") {
            return token.to_owned();
        }
        if let Some(name) = token.strip_prefix("alias/").filter(|n| !n.is_empty()) {
            if learning {
                self.remember("alias", name);
            }
            return format!("alias/{}", self.pseudonym("alias", name));
        }
        let (address, suffix) = match token.rsplit_once('/') {
            Some((a, bits)) if bits.bytes().all(|b| b.is_ascii_digit()) && !bits.is_empty() => {
                (a, &token[a.len()..])
            }
            _ => (token, ""),
        };
        if address.parse::<std::net::IpAddr>().is_ok() {
            return format!("{}{suffix}", self.pseudonym("ip", address));
        }
        if let Some((user, domain)) = token.split_once('@')
            && !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
        {
            return self.pseudonym("email", token);
        }
        token.to_owned()
    }

    /// Account IDs, key IDs (UUIDs, `mrk-…`), unique IDs (and the session after one, as in
    /// `aws:userid`), organisation, VPC and endpoint IDs outside ARNs.
    fn redact_bare(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut after_unique_id = false;
        while i < bytes.len() {
            let at_word_start = i == 0 || !is_word(bytes[i - 1]);
            if at_word_start && is_word(bytes[i]) {
                let end = (i..bytes.len())
                    .find(|&j| !is_word(bytes[j]))
                    .unwrap_or(bytes.len());
                let word = &text[i..end];
                let replaced = if after_unique_id {
                    Some(self.pseudonym("session", word))
                } else {
                    self.bare_word(word)
                };
                after_unique_id =
                    crate::policy::is_unique_id(word) && bytes.get(end) == Some(&b':');
                match replaced {
                    Some(r) => out.push_str(&r),
                    None => out.push_str(word),
                }
                i = end;
                continue;
            }
            if bytes[i] != b':' {
                after_unique_id = false;
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
        if is_uuid(word) {
            // An event ID learned as such keeps its name; other UUIDs are key IDs.
            return Some(self.pseudonym("key", word));
        }
        if word.starts_with("mrk-") && word.len() == 36 {
            return Some(self.pseudonym("key", word));
        }
        if crate::policy::is_unique_id(word) {
            return Some(self.pseudonym("uid", word));
        }
        for (prefix, kind) in [
            ("o-", "org"),
            ("ou-", "ou"),
            ("r-", "root"),
            ("vpc-", "vpc"),
            ("vpce-", "vpce"),
        ] {
            if let Some(id) = word.strip_prefix(prefix)
                && id.len() >= 4
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Some(self.pseudonym(kind, word));
            }
        }
        None
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Replaces `name` where it stands as a token: not preceded or followed by a word character.
fn replace_token(text: &str, name: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].bytes().last();
        let after = rest.as_bytes().get(i + name.len()).copied();
        let bounded = |b: Option<u8>| b.is_none_or(|b| !is_word(b));
        out.push_str(&rest[..i]);
        if bounded(before) && bounded(after) {
            out.push_str(with);
        } else {
            out.push_str(name);
        }
        rest = &rest[i + name.len()..];
    }
    out.push_str(rest);
    out
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
            "arn:aws:sts::000000000001:assumed-role/role-1/session-1 and arn:aws:iam::000000000001:role/path-1/role-1 \
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

    #[test]
    fn addresses_org_ids_aliases_and_sessions_after_unique_ids() {
        let mut r = Redactor::default();
        let out = r.redact(
            "from 203.0.113.24 in 198.51.100.0/24 and 2001:db8::1, alice@example.com, o-a1b2c3d4e5, \
             vpce-0123456789abcdef0, alias/payments, AROAEXAMPLEADMIN0001:alice",
        );
        for secret in [
            "203.0.113.24",
            "198.51.100.0",
            "2001:db8::1",
            "alice",
            "example.com",
            "a1b2c3d4e5",
            "0123456789abcdef0",
            "payments",
            "AROAEXAMPLEADMIN0001",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("/24"), "the prefix length is kept: {out}");
    }

    #[test]
    fn learned_names_are_replaced_in_values_but_not_in_prose() {
        let text = crate::text!(
            "Ask the key ",
            crate::diagnosis::model::code("arn:aws:iam::111122223333:role/key"),
            " or run ",
            crate::diagnosis::model::code("aws iam put-role-policy --role-name key")
        );
        let copy = redacted(&text);
        let plain = copy.plain();
        assert!(plain.starts_with("Ask the key "), "prose intact: {plain}");
        assert!(plain.ends_with("--role-name role-1"), "{plain}");
    }
}
