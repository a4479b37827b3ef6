//! Deciding one request against a key policy, with KMS's semantics, and saying why.

use super::context::Context;
use super::document::{Effect, KeyPolicy, Principals, Statement};
use super::principal::{EntryMatch, Identity, Named, PrincipalEntry, entry_matches};
use super::tri::Tri;
use serde::Serialize;
use std::collections::BTreeSet;

/// The two operations kms-doctor is about.
pub const GET_KEY_POLICY: &str = "kms:GetKeyPolicy";
pub const PUT_KEY_POLICY: &str = "kms:PutKeyPolicy";

/// KMS operations that only principals in the key's own account can call, whatever the key
/// policy says (AWS KMS Developer Guide, "Permissions reference", column "Cross-account use").
const SAME_ACCOUNT_ONLY: [&str; 19] = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:ListAliases",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
];

pub fn is_same_account_only(action: &str) -> bool {
    SAME_ACCOUNT_ONLY
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// The account in a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
pub fn key_account(key_arn: &str) -> Option<&str> {
    let mut parts = key_arn.splitn(6, ':');
    let (arn, _, service, _, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && service == "kms" && account.len() == 12).then_some(account)
}

/// One request: who, what, on which key, in which context. `context` is the whole request
/// context (see [`Context::for_principal`] for the keys derived from the principal).
pub struct Request<'a> {
    pub principal: &'a Identity,
    pub action: &'a str,
    pub key_arn: Option<&'a str>,
    pub context: &'a Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// A statement allows this principal directly.
    Allow,
    /// Only the account delegation applies: the principal's IAM policies decide.
    Delegated,
    ExplicitDeny,
    ImplicitDeny,
    /// The outcome depends on context keys that are not known.
    Conditional,
}

impl Decision {
    /// Allowed by the key policy (directly, or handed to IAM).
    pub fn is_granted(self) -> bool {
        matches!(self, Decision::Allow | Decision::Delegated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Delegated => "delegated",
            Decision::ExplicitDeny => "explicit_deny",
            Decision::ImplicitDeny => "implicit_deny",
            Decision::Conditional => "conditional",
        }
    }
}

/// Whether a statement applies to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    Yes,
    No,
    /// It applies only if unknown context keys have the right values.
    Conditional,
}

/// How the principal part of a statement matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The statement names the principal, its role, or everyone.
    Principal,
    /// The statement names the principal's account: in an `Allow`, IAM decides.
    Account,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementTrace {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub applies: Applies,
    pub via: Option<Via>,
    /// Why it applies or not, in one sentence.
    pub reason: String,
    /// Its `Action` (or `NotAction`) covers the action asked about: the statements worth
    /// showing for an action.
    #[serde(skip)]
    pub covers_action: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_context: Vec<String>,
}

impl StatementTrace {
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("statement #{}", self.index + 1),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub action: String,
    pub decision: Decision,
    /// The key is in another account and the action is one KMS serves only within the key's account.
    pub cross_account: bool,
    /// The principal is in another account than the key (whatever the action): an allow in the
    /// key policy is then only half of it, the principal's own IAM policies must allow too.
    pub other_account: bool,
    pub statements: Vec<StatementTrace>,
    /// Context keys whose values would change the outcome (sorted, as written in the policy).
    pub unknown_context: Vec<String>,
    /// The key policy's own decision, when other layers given (an SCP, an RCP) changed
    /// `decision`: `decision` is then the request's, with every layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_policy_decision: Option<Decision>,
}

impl Evaluation {
    pub fn applying(&self) -> impl Iterator<Item = &StatementTrace> {
        self.statements.iter().filter(|s| s.applies != Applies::No)
    }
}

pub fn evaluate(policy: &KeyPolicy, req: &Request) -> Evaluation {
    let statements: Vec<StatementTrace> = policy
        .statements
        .iter()
        .map(|s| evaluate_statement(s, req))
        .collect();

    let has = |effect: Effect, applies: Applies, via: Option<Via>| {
        statements
            .iter()
            .any(|t| t.effect == effect && t.applies == applies && (via.is_none() || t.via == via))
    };
    let cross_account = is_cross_account(req);
    let deny_maybe = has(Effect::Deny, Applies::Conditional, None);
    let decision = if has(Effect::Deny, Applies::Yes, None) {
        Decision::ExplicitDeny
    } else if cross_account {
        Decision::ImplicitDeny
    } else {
        let granted = if has(Effect::Allow, Applies::Yes, Some(Via::Principal)) {
            Decision::Allow
        } else if has(Effect::Allow, Applies::Yes, Some(Via::Account)) {
            Decision::Delegated
        } else if has(Effect::Allow, Applies::Conditional, None) {
            Decision::Conditional
        } else {
            Decision::ImplicitDeny
        };
        // A deny that may apply makes an allow uncertain; it cannot make a denial worse.
        if deny_maybe && granted != Decision::ImplicitDeny {
            Decision::Conditional
        } else {
            granted
        }
    };

    // Only the keys of statements that could change the outcome are worth asking for.
    let unknown_context = if decision == Decision::Conditional {
        statements
            .iter()
            .filter(|t| t.applies == Applies::Conditional)
            .flat_map(|t| t.unknown_context.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let other_account = match (req.key_arn.and_then(key_account), req.principal.account()) {
        (Some(key), Some(caller)) => key != caller,
        _ => false,
    };
    Evaluation {
        action: req.action.to_owned(),
        decision,
        cross_account,
        other_account,
        statements,
        unknown_context,
        key_policy_decision: None,
    }
}

/// The key is in another account than the principal, and KMS serves the action only within
/// the key's account.
pub(super) fn is_cross_account(req: &Request) -> bool {
    match (req.key_arn.and_then(key_account), req.principal.account()) {
        (Some(key), Some(caller)) => key != caller && is_same_account_only(req.action),
        _ => false,
    }
}

pub(super) fn evaluate_statement(s: &Statement, req: &Request) -> StatementTrace {
    let ctx = req.context;
    let mut trace = StatementTrace {
        index: s.index,
        sid: s.sid.clone(),
        effect: s.effect,
        applies: Applies::No,
        via: None,
        reason: String::new(),
        covers_action: false,
        unknown_context: Vec::new(),
    };

    let action_hit = s
        .actions
        .iter()
        .find(|p| p.matches_ignore_case(req.action, ctx) == Tri::True);
    match (s.not_action, action_hit) {
        (false, None) => {
            trace.reason = format!("Action does not cover {}", req.action);
            return trace;
        }
        (true, Some(p)) => {
            trace.reason = format!("NotAction excludes {} (\"{}\")", req.action, p.raw());
            return trace;
        }
        _ => {}
    }
    trace.covers_action = true;

    let (resource, resource_unknown) = resource_match(s, req);
    if resource == Tri::False {
        trace.reason = format!(
            "{} does not cover the key",
            if s.not_resource {
                "NotResource"
            } else {
                "Resource"
            }
        );
        return trace;
    }

    let Some((via, who)) = principal_match(s, req.principal) else {
        trace.reason = describe_principal_miss(s, req.principal);
        return trace;
    };
    trace.via = Some(via);

    let mut conditions = resource;
    let mut unknown: BTreeSet<String> = resource_unknown.into_iter().collect();
    let mut failed = None;
    for c in &s.conditions {
        let r = c.evaluate(ctx);
        conditions = conditions.and(r.result);
        match r.result {
            Tri::False => {
                failed = Some(c);
                break;
            }
            Tri::Unknown => unknown.extend(r.unknown_keys),
            Tri::True => {}
        }
    }
    match (conditions, failed) {
        (_, Some(c)) => {
            trace.reason = format!(
                "{who}, but condition {} on {} is not met{}",
                c.operator_name,
                c.key,
                describe_context(c.key.as_str(), ctx)
            );
        }
        (Tri::Unknown, None) => {
            trace.applies = Applies::Conditional;
            trace.unknown_context = unknown.into_iter().collect();
            trace.reason = format!(
                "{who}, if its conditions hold: they depend on {}",
                trace.unknown_context.join(", ")
            );
        }
        _ => {
            trace.applies = Applies::Yes;
            trace.reason = if s.conditions.is_empty() {
                who
            } else {
                format!("{who}, and its conditions hold")
            };
        }
    }
    trace
}

fn describe_context(key: &str, ctx: &Context) -> String {
    match ctx.lookup(&key.to_ascii_lowercase()) {
        super::context::Lookup::Known(v) => format!(" (the request has {v:?})"),
        super::context::Lookup::Absent => " (the request does not have this key)".to_owned(),
        super::context::Lookup::Unknown => String::new(),
    }
}

/// The pseudo-key reported when a statement's `Resource` cannot be checked without the key ARN.
pub const KEY_ARN_UNKNOWN: &str = "key ARN (--key-arn)";

fn resource_match(s: &Statement, req: &Request) -> (Tri, Option<String>) {
    let hit = match req.key_arn {
        Some(arn) => Tri::any(s.resources.iter().map(|p| p.matches(arn, req.context))),
        None if s.resources.iter().any(|p| p.is_star()) => Tri::True,
        None => Tri::Unknown,
    };
    let hit = if s.not_resource { !hit } else { hit };
    let unknown = (hit == Tri::Unknown).then(|| {
        if req.key_arn.is_none() {
            KEY_ARN_UNKNOWN.to_owned()
        } else {
            s.resources
                .iter()
                .flat_map(|p| p.variables().map(|(_, name)| name))
                .next()
                .unwrap_or("Resource")
                .to_owned()
        }
    });
    (hit, unknown)
}

/// Does the statement's `Principal`/`NotPrincipal` cover the caller, and how? Returns a
/// phrase for the trace.
fn principal_match(s: &Statement, caller: &Identity) -> Option<(Via, String)> {
    let entries = match &s.principals {
        Principals::Everyone => {
            return if s.not_principal {
                None
            } else {
                Some((Via::Principal, "Principal \"*\" covers everyone".to_owned()))
            };
        }
        Principals::Entries(e) => e,
    };
    if !s.not_principal {
        let best = entries
            .iter()
            .map(|e| (entry_matches(&e.named, caller), e))
            .filter(|(m, _)| *m != EntryMatch::No)
            .min_by_key(|(m, _)| *m != EntryMatch::Direct)?;
        return Some(match best {
            (EntryMatch::Direct, e) => (
                Via::Principal,
                format!("Principal names {}", quote_entry(e)),
            ),
            (_, e) => (
                Via::Account,
                format!(
                    "Principal names the account {}: IAM policies decide",
                    quote_entry(e)
                ),
            ),
        });
    }
    let chain = caller.chain();
    match s.effect {
        // IAM checks the account, then the role, then the session: each must be listed for
        // the caller to be exempt from the deny.
        Effect::Deny => {
            let unlisted: Vec<&Identity> = chain
                .iter()
                .filter(|id| !names_exactly(entries, id))
                .collect();
            if unlisted.is_empty() {
                None
            } else {
                let list = unlisted
                    .iter()
                    .map(|i| format!("\"{i}\""))
                    .collect::<Vec<_>>();
                Some((
                    Via::Principal,
                    format!(
                        "NotPrincipal does not exempt the caller ({} not listed)",
                        list.join(", ")
                    ),
                ))
            }
        }
        Effect::Allow => {
            if chain.iter().any(|id| {
                entries
                    .iter()
                    .any(|e| entry_matches(&e.named, id) != EntryMatch::No)
            }) {
                None
            } else {
                Some((
                    Via::Principal,
                    "NotPrincipal does not list the caller, so this Allow covers it".to_owned(),
                ))
            }
        }
    }
}

/// Is `id` itself listed (not merely covered, as a role covers its sessions)?
fn names_exactly(entries: &[PrincipalEntry], id: &Identity) -> bool {
    entries.iter().any(|e| match &e.named {
        Named::Identity(Identity::Anyone) => true,
        Named::Identity(n) => {
            std::mem::discriminant(n) == std::mem::discriminant(id)
                && entry_matches(&e.named, id) == EntryMatch::Direct
        }
        _ => false,
    })
}

fn quote_entry(e: &PrincipalEntry) -> String {
    format!("\"{}\"", e.raw)
}

fn describe_principal_miss(s: &Statement, caller: &Identity) -> String {
    if s.not_principal {
        return match s.effect {
            Effect::Deny => "NotPrincipal exempts the caller".to_owned(),
            Effect::Allow => "NotPrincipal lists the caller, so this Allow excludes it".to_owned(),
        };
    }
    let entries = s.principals.entries();
    let orphans: Vec<&str> = entries
        .iter()
        .filter_map(|e| match &e.named {
            Named::UniqueId(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let other_account = entries.iter().find_map(|e| match &e.named {
        Named::Identity(Identity::Account { account, .. })
            if Some(account.as_str()) != caller.account() =>
        {
            Some(account.as_str())
        }
        _ => None,
    });
    let named: Vec<&str> = entries.iter().map(|e| e.raw.as_str()).collect();
    let named = match named.len() {
        0..=3 => named.join(", "),
        n => format!("{}, … ({n} principals)", named[..3].join(", ")),
    };
    let mut reason = format!("Principal names {named}, not {caller}");
    if !orphans.is_empty() {
        reason.push_str(&format!(
            " (it names deleted principal{} {}, which match no one)",
            if orphans.len() > 1 { "s" } else { "" },
            orphans.join(", ")
        ));
    } else if let Some(acct) = other_account {
        reason.push_str(&format!(
            " (it delegates to account {acct}, not the caller's)"
        ));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_account_reads_kms_arns_only() {
        assert_eq!(
            key_account("arn:aws:kms:us-east-1:111122223333:key/1234abcd"),
            Some("111122223333")
        );
        assert_eq!(key_account("arn:aws:s3:::bucket"), None);
        assert_eq!(key_account("1234abcd"), None);
    }
}
