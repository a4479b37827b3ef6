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
pub use query::{Delegation, Grantee, Orphan, delegations, grantees, orphaned_principals};
pub use tri::Tri;

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
