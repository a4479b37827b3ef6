//! What in the model is an identifier, and of which kind: every type that holds strings says,
//! field by field, which are values from outside (redacted) and which are kms-doctor's own
//! (kept). `report::redact` makes the pseudonyms; this is the map it walks. A struct is
//! destructured without `..`, so a field added later does not compile until it is placed here.

use super::{
    Access, AuthorizationDetails, CallRecord, CallerIdentity, CallerReport, DiagnoseReport, Entry,
    Evidence, ExistenceCheck, FailedAttempt, Finding, Grant, GroupDetails, History, HistorySummary,
    IamPrincipalDetails, KeyFacts, ManagedPolicy, MatchedStatement, NamedDocument, Note,
    PolicyDiff, PolicyEvent, PolicySource, RegionSkipped, Restorer, ScanError, ScanReport,
    ScanScope, ScannedKey, SimulationResult, Skipped, Span, Summary, SupportCase, Text,
    TimelineReport,
};
use super::{
    AccountId, Alias, EventId, KeyEvidence, KeyId, OrgEvidence, OrgLevel, OrgPolicyText,
    PermissionSetName, PolicyName, ScanEvidence, SearchBound, ShardOf, ShardReport, Shortfall,
    SourceIp, SourcePolicyType, UniqueId, UserAgent,
};
use super::{Removed, RemovedPrincipal, WithoutSummary};
use crate::policy::BlockedBy;
use std::borrow::Cow;

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
    PermissionSetName => "permission-set",
    AccountId => "account",
    KeyId => "key",
}

/// Identifiers whose text carries structure the patterns know (`alias/…`, `AROA…:session`):
/// redacted as values, so that every part gets the pseudonym of its own kind.
macro_rules! redact_structured {
    ($($ty:ident),* $(,)?) => {
        $(impl Redact for $ty {
            fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
                f(&mut self.0, Kind::Value);
            }
        })*
    };
}

redact_structured!(Alias);

impl Redact for UniqueId {
    /// `AROA…:session`: the unique ID and the session name, each a name of its kind, whatever
    /// their length.
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let (mut id, session) = match self.0.split_once(':') {
            Some((id, session)) => (id.to_owned(), Some(session.to_owned())),
            None => (self.0.clone(), None),
        };
        f(&mut id, Kind::Named("uid"));
        self.0 = match session {
            Some(mut session) => {
                f(&mut session, Kind::Named("session"));
                format!("{id}:{session}")
            }
            None => id,
        };
    }
}

impl Redact for SearchBound {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        if let SearchBound::Stated(s) = self {
            f(s, Kind::Value);
        }
    }
}

impl Redact for Shortfall {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        match self {
            Shortfall::S3Listing { bucket, prefix, .. } => {
                f(bucket, Kind::Named("bucket"));
                f(prefix, Kind::Value);
            }
            Shortfall::Search(Some(bound)) => bound.strings(f),
            Shortfall::Stated(s) => f(s, Kind::Value),
            Shortfall::Search(None) | Shortfall::AthenaPages(_) => {}
        }
    }
}

impl<T: Redact> Redact for Box<T> {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        (**self).strings(f);
    }
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
    Finding { title, detail, evidence, help; plain: code, severity, statement, suppressed }
    Restorer {
        principal, statement, conditions_on, assumable_by, path, permission_set, blocked_by,
        limited_by_boundary, boundary_unread;
        plain: source, exists, kind, via, caller_can_assume, recreated
    }
    CallRecord { message, error_code; plain: service, operation, outcome, ms, denial }
    HistorySummary {
        failed_attempts;
        plain: lookback_days, pages, events_scanned, skipped_records, complete, cut_short
    }
    TimelineReport { key, events, skipped, calls, findings; plain: schema_version, source, since, until, lockout, complete }
    PolicyDiff {
        statements_added, statements_removed, statements_changed, gained, lost, unreadable;
        plain: delegation_added, delegation_removed
    }
    Grant { principal; plain: action }
    Skipped { reasons, cut_short; plain: files, records }
    SimulationResult {
        resource, matched_statements, missing_context;
        plain: action, decision, allowed_by_organizations, allowed_by_permissions_boundary
    }
    ScanReport { scope, keys, findings, errors, without, shard; plain: schema_version, calls, summary, config }
    ShardOf { scan; plain: index, count }
    ShardReport { of, evidence }
    WithoutSummary { principals; plain: keys_changed, keys_unknown }
    Removed { principal, by; plain: how, resource_type, at }
    ScanScope { accounts, regions_not_enabled; plain: regions }
    RegionSkipped { account, reason; plain: region }
    ScanError { account, message, key_ids; plain: region, operation, missed }
    ScannedKey {
        policy_source, arn, key_id, account, aliases, findings, restorers;
        plain: region, manager, state, deletion_date, status, status_before, muted, tags
    }
    DiagnoseReport {
        // Event IDs first, so that they are named as events wherever they appear.
        policy_source, history, key, caller, principal, access, findings, restorers, next_steps,
        restore_path, calls, policy, notes, support_case, summary;
        plain: schema_version, fix, calls_listed, restore_path_conditional
    }
    SupportCase { removed_by, key_arn, account, policy; plain: region }
    Summary { why, who_can_restore, next }
    History {
        in_force, failed_attempts;
        plain: lookback_days, pages, events_scanned, skipped_records, complete, cut_short, source
    }
}

impl Redact for super::ConditionOn {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        if let super::ConditionOn::Context(key) = self {
            key.strings(f);
        }
    }
}

impl Redact for RemovedPrincipal {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        match self {
            RemovedPrincipal::Iam { arn } => arn.strings(f),
            RemovedPrincipal::PermissionSet { name, account } => {
                name.strings(f);
                account.strings(f);
            }
        }
    }
}

impl Redact for ExistenceCheck {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let ExistenceCheck {
            principal,
            exists: _,
            trust_policy,
            created: _,
            boundary,
        } = self;
        principal.strings(f);
        policy_text(trust_policy, f);
        boundary.strings(f);
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
            primary_region: _,
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
        user_id.strings(f);
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
            account,
        } = self;
        account.strings(f);
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

/// AWS's own full-access policies: their names and IDs are AWS's, not the customer's.
fn aws_org_policy(s: &str) -> bool {
    matches!(
        s,
        "FullAWSAccess" | "p-FullAWSAccess" | "RCPFullAWSAccess" | "p-RCPFullAWSAccess"
    )
}

/// Where an organisation's policy is attached: the root (`r-…`), an OU (`ou-…`), an account.
fn org_target(target: &mut String, f: &mut dyn FnMut(&mut String, Kind)) {
    if target.starts_with("r-") {
        f(target, Kind::Named("root"));
    } else if target.starts_with("ou-") {
        f(target, Kind::Named("ou"));
    } else {
        f(target, Kind::Value);
    }
}

impl Redact for BlockedBy {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let BlockedBy {
            policy_type: _,
            policy,
            statement,
            target,
        } = self;
        if let Some(p) = policy.as_mut().filter(|p| !aws_org_policy(p)) {
            f(p, Kind::Named("policy"));
        }
        if let Some(s) = statement {
            f(s, Kind::Named("sid"));
        }
        org_target(target, f);
    }
}

redact_fields! {
    OrgEvidence { management_account, id, scps, rcps; plain: not_in_organization }
}

impl Redact for OrgLevel {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let OrgLevel { target, policies } = self;
        org_target(target, f);
        policies.strings(f);
    }
}

impl Redact for OrgPolicyText {
    fn strings(&mut self, f: &mut dyn FnMut(&mut String, Kind)) {
        let OrgPolicyText { id, name, content } = self;
        if !aws_org_policy(id) {
            f(id, Kind::Named("policy-id"));
        }
        if !aws_org_policy(name) {
            name.strings(f);
        }
        let mut doc = Some(std::mem::take(content));
        policy_text(&mut doc, f);
        *content = doc.unwrap_or_default();
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
            hop_roles,
            notes,
            authorization,
            organization,
            calls,
        } = self;
        authorization.strings(f);
        organization.strings(f);
        history.strings(f);
        caller.strings(f);
        caller_principal_arn.strings(f);
        subject.strings(f);
        subject_principal_arn.strings(f);
        key.strings(f);
        policy_text(current_policy, f);
        simulation.strings(f);
        restorer_checks.strings(f);
        hop_roles.strings(f);
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
            // Read only to match the mute list; never shown, but saved with the evidence:
            // each key and value a name of its own.
            tags,
            primary_region: _,
        } = self;
        account.strings(f);
        key_id.strings(f);
        arn.strings(f);
        aliases.strings(f);
        policy_text(current_policy, f);
        history.strings(f);
        history_unavailable.strings(f);
        restorer_checks.strings(f);
        for (key, value) in tags.iter_mut().flatten() {
            f(key, Kind::Named("tag"));
            f(value, Kind::Named("value"));
        }
    }
}

/// A map by account: its values redacted, and its keys too (an account ID as a map key is as
/// telling as one anywhere else).
fn rekey<V: Redact>(
    map: &mut std::collections::BTreeMap<AccountId, V>,
    f: &mut dyn FnMut(&mut String, Kind),
) {
    *map = std::mem::take(map)
        .into_iter()
        .map(|(mut account, mut value)| {
            account.strings(f);
            value.strings(f);
            (account, value)
        })
        .collect();
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
            organizations,
            authorization,
            calls,
            whole_organization: _,
            shard,
        } = self;
        shard.strings(f);
        caller.strings(f);
        accounts.strings(f);
        // The accounts' IDs are these maps' keys too: rewritten like every other account ID.
        rekey(organizations, f);
        rekey(authorization, f);
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
