//! Policy-wide answers: who the policy lets call an action, whether it delegates to the
//! account, and which principals it names by the unique ID of a deleted principal.

use super::context::Context;
use super::document::{Effect, KeyPolicy, Principals, Statement};
use super::eval::{Applies, Request, evaluate_statement, is_cross_account};
use super::org::BlockedBy;
use super::principal::{Identity, IdentityKind, Named};
use serde::Serialize;
use std::collections::BTreeSet;

/// A principal the policy lets call an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grantee {
    /// An ARN, `arn:aws:iam::ACCT:root` for the account, a service principal, or `*`.
    pub principal: String,
    /// The `Sid` (or position) of the statement that grants it.
    pub statement: String,
    pub statement_index: usize,
    pub kind: IdentityKind,
    /// The grant holds only if these context keys have the right values.
    pub conditions_on: Vec<String>,
    /// For `NotPrincipal` + `Allow`: everyone but these.
    pub except: Vec<String>,
    /// An organisation's policy that denies it the action anyway (`explain --scp`/`--rcp`).
    pub blocked_by: Option<BlockedBy>,
}

impl Serialize for Grantee {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The JSON form: `via_iam` is said from the kind, not kept beside it.
        #[derive(Serialize)]
        struct Json<'a> {
            principal: &'a str,
            statement: &'a str,
            statement_index: usize,
            kind: IdentityKind,
            via_iam: bool,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            conditions_on: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            except: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            blocked_by: &'a Option<BlockedBy>,
        }
        Json {
            principal: &self.principal,
            statement: &self.statement,
            statement_index: self.statement_index,
            kind: self.kind,
            via_iam: self.via_iam(),
            conditions_on: &self.conditions_on,
            except: &self.except,
            blocked_by: &self.blocked_by,
        }
        .serialize(s)
    }
}

impl Grantee {
    /// The account (its root): any IAM principal of it whose IAM policies allow the action.
    pub fn via_iam(&self) -> bool {
        self.kind == IdentityKind::Account
    }

    pub fn is_conditional(&self) -> bool {
        !self.conditions_on.is_empty()
    }

    /// The grant names a whole account (its root) or everyone rather than one principal: who
    /// of the account may act then depends on their own IAM policies.
    pub fn names_whole_account(&self) -> bool {
        matches!(self.kind, IdentityKind::Account | IdentityKind::Anyone)
    }
}

/// Every principal the policy lets call `action` on the key: the `Allow` statements' principals
/// (wildcards in actions expanded), each checked against the whole policy so that denies apply.
/// Unique-ID principals are left out: they match no one.
pub fn grantees(
    policy: &KeyPolicy,
    action: &str,
    key_arn: Option<&str>,
    extra_context: &Context,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Grantee> {
    let mut out: Vec<Grantee> = Vec::new();
    let denies: Vec<&Statement> = policy
        .statements
        .iter()
        .filter(|d| d.effect == Effect::Deny && d.covers_action(action))
        .collect();
    // Only statements that allow this action can grant it; checking that first keeps the
    // query fast on large policies.
    for s in policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.covers_action(action))
    {
        let candidates: Vec<(Identity, Vec<String>)> = match (&s.principals, s.not_principal) {
            (Principals::Everyone, false) => vec![(Identity::Anyone, vec![])],
            (Principals::Everyone, true) => vec![],
            (Principals::Entries(entries), true) => vec![(
                Identity::Anyone,
                entries.iter().map(|e| e.raw.clone()).collect(),
            )],
            (Principals::Entries(entries), false) => entries
                .iter()
                .filter_map(|e| match &e.named {
                    Named::Identity(id) => Some((id.clone(), vec![])),
                    _ => None,
                })
                .collect(),
        };
        for (identity, except) in candidates {
            // The account stands for any IAM principal of it: keys that name one are unknown.
            let mut ctx = match identity {
                Identity::Account { .. } => Context::for_account_delegation(&identity, now),
                _ => Context::for_kms_request(&identity, now),
            };
            ctx.overlay(extra_context);
            let req = Request {
                principal: &identity,
                action,
                key_arn,
                context: &ctx,
            };
            // The candidate is granted when this statement applies to it and no Deny does;
            // the other Allow statements cannot take that away.
            let this = evaluate_statement(s, &req);
            if this.applies == Applies::No || is_cross_account(&req) {
                continue;
            }
            let mut conditions_on: BTreeSet<String> = this.unknown_context.into_iter().collect();
            let mut conditional = this.applies == Applies::Conditional;
            let mut denied = false;
            for d in &denies {
                let t = evaluate_statement(d, &req);
                match t.applies {
                    Applies::Yes => denied = true,
                    Applies::Conditional => {
                        conditional = true;
                        conditions_on.extend(t.unknown_context);
                    }
                    Applies::No => {}
                }
            }
            if denied {
                continue;
            }
            let principal = identity.to_string();
            if let Some(existing) = out
                .iter_mut()
                .find(|g| g.principal == principal && g.except == except)
            {
                // A second statement granting without conditions makes the grant unconditional.
                if !conditional {
                    existing.conditions_on.clear();
                }
                continue;
            }
            out.push(Grantee {
                principal,
                statement: s.label(),
                statement_index: s.index,
                kind: identity.kind(),
                conditions_on: if conditional {
                    conditions_on.into_iter().collect()
                } else {
                    Vec::new()
                },
                except,
                blocked_by: None,
            });
        }
    }
    out
}

/// A statement that hands `action` to an account's IAM policies.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Delegation {
    pub account: String,
    pub statement: String,
    pub statement_index: usize,
    /// The statement has conditions: the delegation holds only when they do.
    pub conditional: bool,
}

/// The `Allow` statements whose principal is an account (`arn:aws:iam::ACCT:root` or `ACCT`)
/// and that cover `action`; only those for `account` when it is given.
pub fn delegations(policy: &KeyPolicy, action: &str, account: Option<&str>) -> Vec<Delegation> {
    let mut out = Vec::new();
    for s in &policy.statements {
        if s.effect != Effect::Allow || s.not_principal {
            continue;
        }
        if !s.covers_action(action) {
            continue;
        }
        for e in s.principals.entries() {
            if let Named::Identity(Identity::Account { account: a, .. }) = &e.named
                && account.is_none_or(|want| want == a)
            {
                out.push(Delegation {
                    account: a.clone(),
                    statement: s.label(),
                    statement_index: s.index,
                    conditional: !s.conditions.is_empty(),
                });
            }
        }
    }
    out
}

/// A principal named by the unique ID IAM left when the principal was deleted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Orphan {
    pub unique_id: String,
    /// `role` (AROA…), `user` (AIDA…) or `unknown`.
    pub kind: IdentityKind,
    pub statement: String,
    pub statement_index: usize,
    pub effect: Effect,
}

pub fn orphaned_principals(policy: &KeyPolicy) -> Vec<Orphan> {
    let mut out = Vec::new();
    for s in &policy.statements {
        for e in s.principals.entries() {
            if let Named::UniqueId(id) = &e.named {
                out.push(Orphan {
                    unique_id: id.clone(),
                    kind: if id.starts_with("AROA") {
                        IdentityKind::Role
                    } else if id.starts_with("AIDA") {
                        IdentityKind::User
                    } else {
                        IdentityKind::Unknown
                    },
                    statement: s.label(),
                    statement_index: s.index,
                    effect: s.effect,
                });
            }
        }
    }
    out
}

/// The principals a `Deny` on `action` spares by name: the role and user ARNs an
/// `ArnNotEquals`, `ArnNotLike`, `StringNotEquals` or `StringNotLike` condition on
/// `aws:PrincipalArn` lists (without wildcards). A condition compares the name, so a principal
/// created with it later is spared too — unlike one named in `Principal`, which KMS keeps by
/// unique ID (IAM User Guide, `aws:PrincipalArn`:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn>).
pub fn spared_by_name(policy: &KeyPolicy, action: &str) -> Vec<String> {
    use super::condition::BaseOperator::{
        ArnNotEquals, ArnNotLike, StringNotEquals, StringNotLike,
    };
    let mut out: Vec<String> = policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny && s.covers_action(action))
        .flat_map(|s| &s.conditions)
        .filter(|c| c.key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .filter(|c| {
            matches!(
                c.operator.base,
                ArnNotEquals | ArnNotLike | StringNotEquals | StringNotLike
            )
        })
        .flat_map(|c| c.values.iter().map(|v| v.raw().to_owned()))
        .filter(|v| !v.contains(['*', '?', '$']))
        .filter(|v| {
            matches!(
                Identity::parse(v),
                Ok(Identity::Role { .. } | Identity::User { .. })
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_and_everyone_are_whole_account_grants_a_role_is_not() {
        let trust = KeyPolicy::parse_trust(
            r#"{"Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Admin"}, "Action": "sts:AssumeRole"}
            ]}"#,
        )
        .unwrap();
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let whole: Vec<(String, bool)> = grantees(
            &trust,
            "sts:AssumeRole",
            Some("arn:aws:iam::111122223333:role/KeyAdmin"),
            &Context::default(),
            now,
        )
        .into_iter()
        .map(|g| (g.principal.clone(), g.names_whole_account()))
        .collect();
        assert_eq!(
            whole,
            [
                ("arn:aws:iam::111122223333:root".to_owned(), true),
                ("*".to_owned(), true),
                ("arn:aws:iam::111122223333:role/Admin".to_owned(), false),
            ]
        );
    }
}
