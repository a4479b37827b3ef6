//! The key-policy engine: parse a KMS key policy and decide requests against it with KMS's
//! semantics. Pure: no I/O, no async, no clock (the caller passes the time).

mod condition;
mod context;
mod defaults;
mod document;
mod eval;
mod identity;
mod org;
mod pattern;
mod principal;
mod query;
mod tri;

pub use context::{Context, Lookup};
pub use defaults::{default_key_policy, delegation_statement};
pub use document::{Effect, KeyPolicy, MAX_POLICY_BYTES, ParseError, Principals, Statement};
pub use eval::{
    Applies, Decision, Evaluation, GET_KEY_POLICY, KEY_ARN_UNKNOWN, PUT_KEY_POLICY, Request,
    StatementTrace, Via, evaluate, is_same_account_only, key_account,
};
pub use identity::identity_decision;
pub use org::{
    BlockedBy, Blocker, Level, OrgDecision, OrgPolicies, OrgPolicy, OrgPolicyType, OrgRequest,
    levels_of_files, rcp_decision, scp_decision,
};
pub use pattern::Pattern;
pub use principal::{
    Identity, IdentityKind, Named, PrincipalEntry, PrincipalKind, PrincipalParseError, is_unique_id,
};
pub use query::{
    Delegation, Grantee, Orphan, delegations, grantees, orphaned_principals, spared_by_name,
};
pub use tri::Tri;

/// The key policy allows `who` by a statement that names `who` itself — an IAM user's ARN, or a
/// role session's ARN — in its own account. Such a grant in a resource-based policy is not
/// limited by an implicit deny in the principal's permissions boundary or session policy; one
/// that names the role (or the account) is (IAM User Guide, "How AWS enforcement code logic
/// evaluates requests": <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>).
pub fn names_principal_itself(policy: &KeyPolicy, eval: &Evaluation, who: &Identity) -> bool {
    matches!(who, Identity::User { .. } | Identity::AssumedRole { .. })
        && eval.decision == Decision::Allow
        && !eval.other_account
        && eval
            .statements
            .iter()
            .filter(|t| {
                t.effect == Effect::Allow
                    && t.applies == Applies::Yes
                    && t.via == Some(Via::Principal)
            })
            .filter_map(|t| policy.statements.get(t.index))
            .any(|s| {
                !s.not_principal
                    && s.principals
                        .entries()
                        .iter()
                        .any(|e| matches!(&e.named, Named::Identity(id) if is_itself(id, who)))
            })
}

/// The same user, or the same role session (a session ARN carries no role path; IAM names are
/// unique in an account whatever the path).
fn is_itself(named: &Identity, who: &Identity) -> bool {
    match (named, who) {
        (
            Identity::User {
                account: a1,
                name: n1,
                ..
            },
            Identity::User {
                account: a2,
                name: n2,
                ..
            },
        ) => a1 == a2 && n1 == n2,
        (
            Identity::AssumedRole {
                account: a1,
                role_name: r1,
                session: s1,
                ..
            },
            Identity::AssumedRole {
                account: a2,
                role_name: r2,
                session: s2,
                ..
            },
        ) => a1 == a2 && r1 == r2 && s1 == s2,
        _ => false,
    }
}

/// Evaluates `action` for `principal` with the context derived from the principal, overlaid
/// with `extra` (the caller's own `--context` values win).
pub fn evaluate_for(
    policy: &KeyPolicy,
    principal: &Identity,
    action: &str,
    key_arn: Option<&str>,
    extra: &Context,
    now: chrono::DateTime<chrono::Utc>,
) -> Evaluation {
    let mut ctx = Context::for_kms_request(principal, now);
    ctx.overlay(extra);
    evaluate(
        policy,
        &Request {
            principal,
            action,
            key_arn,
            context: &ctx,
        },
    )
}
