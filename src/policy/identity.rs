//! The other documents that decide KMS access, read with the same engine: identity-based
//! policies (attached to a user, a role or a group; no `Principal`, they apply to whoever holds
//! them), permissions boundaries (the same, as a ceiling), and a role's trust policy (no
//! `Resource`: the role itself), which says who may assume the role.
//!
//! The rules follow the IAM User Guide, "Policy evaluation logic": within one account, an
//! explicit deny in any identity policy wins; else an allow in any of them allows; a permissions
//! boundary must allow too (it grants nothing by itself).

use super::document::{KeyPolicy, ParseError};
use super::eval::Decision;
use super::principal::Identity;
use super::{Context, evaluate_for};
use serde_json::Value;

impl KeyPolicy {
    /// An identity-based policy or a permissions boundary: its statements apply to whoever holds
    /// it (read as naming everyone).
    pub fn parse_identity(text: &str) -> Result<KeyPolicy, ParseError> {
        Self::parse_with_default(text, "Principal", "NotPrincipal", Value::String("*".into()))
    }

    /// A role's trust policy: its statements are about the role itself (read as any resource).
    pub fn parse_trust(text: &str) -> Result<KeyPolicy, ParseError> {
        Self::parse_with_default(text, "Resource", "NotResource", Value::String("*".into()))
    }

    /// Parses `text` with `element` set to `value` in every statement that has neither it nor
    /// its `Not` form. A document that is not a JSON object is parsed as it is (and refused).
    fn parse_with_default(
        text: &str,
        element: &str,
        not_element: &str,
        value: Value,
    ) -> Result<KeyPolicy, ParseError> {
        let Ok(mut doc) = serde_json::from_str::<Value>(text) else {
            return KeyPolicy::parse(text);
        };
        let add = |s: &mut Value| {
            if let Some(map) = s.as_object_mut()
                && !map.contains_key(element)
                && !map.contains_key(not_element)
            {
                map.insert(element.to_owned(), value.clone());
            }
        };
        match doc.get_mut("Statement") {
            Some(Value::Array(list)) => list.iter_mut().for_each(add),
            Some(one) => add(one),
            None => {}
        }
        KeyPolicy::parse(&doc.to_string())
    }
}

/// What a principal's own IAM policies decide for one action on one resource.
pub fn identity_decision(
    policies: &[&KeyPolicy],
    boundary: Option<&KeyPolicy>,
    principal: &Identity,
    action: &str,
    resource_arn: Option<&str>,
    context: &Context,
    now: chrono::DateTime<chrono::Utc>,
) -> Decision {
    let decide =
        |p: &KeyPolicy| evaluate_for(p, principal, action, resource_arn, context, now).decision;
    let decisions: Vec<Decision> = policies.iter().map(|p| decide(p)).collect();
    let granted = if decisions.contains(&Decision::ExplicitDeny) {
        return Decision::ExplicitDeny;
    } else if decisions.contains(&Decision::Allow) {
        Decision::Allow
    } else if decisions.contains(&Decision::Conditional) {
        Decision::Conditional
    } else {
        return Decision::ImplicitDeny;
    };
    match boundary.map(decide) {
        None | Some(Decision::Allow) => granted,
        Some(Decision::ExplicitDeny) => Decision::ExplicitDeny,
        Some(Decision::Conditional) => Decision::Conditional,
        Some(_) => Decision::ImplicitDeny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-11-28T00:00:00Z".parse().unwrap()
    }

    fn identity(doc: serde_json::Value) -> KeyPolicy {
        KeyPolicy::parse_identity(&doc.to_string()).unwrap()
    }

    fn role() -> Identity {
        Identity::parse("arn:aws:iam::111122223333:role/ops/Admin").unwrap()
    }

    fn allow(action: &str, resource: &str) -> KeyPolicy {
        identity(serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": resource}]}))
    }

    fn decide(policies: &[&KeyPolicy], boundary: Option<&KeyPolicy>) -> Decision {
        identity_decision(
            policies,
            boundary,
            &role(),
            "kms:PutKeyPolicy",
            Some(KEY),
            &Context::default(),
            now(),
        )
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
    #[test]
    fn an_allow_in_any_policy_allows_and_a_deny_in_any_wins() {
        let admin = allow("*", "*");
        let kms_put = allow("kms:Put*", KEY);
        let other_key = allow("kms:*", "arn:aws:kms:us-east-1:111122223333:key/other");
        let deny = identity(serde_json::json!({"Statement": [
            {"Effect": "Deny", "Action": "kms:PutKeyPolicy", "Resource": "*"}]}));
        assert_eq!(decide(&[&admin], None), Decision::Allow);
        assert_eq!(decide(&[&kms_put], None), Decision::Allow);
        assert_eq!(decide(&[&other_key], None), Decision::ImplicitDeny);
        assert_eq!(decide(&[], None), Decision::ImplicitDeny);
        assert_eq!(decide(&[&admin, &deny], None), Decision::ExplicitDeny);
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
    #[test]
    fn a_boundary_must_allow_too_and_grants_nothing_itself() {
        let admin = allow("*", "*");
        let boundary_without_kms = allow("s3:*", "*");
        let boundary_with_kms = allow("kms:*", "*");
        assert_eq!(
            decide(&[&admin], Some(&boundary_without_kms)),
            Decision::ImplicitDeny
        );
        assert_eq!(decide(&[&admin], Some(&boundary_with_kms)), Decision::Allow);
        assert_eq!(
            decide(&[], Some(&boundary_with_kms)),
            Decision::ImplicitDeny
        );
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    #[test]
    fn a_statement_with_a_principal_in_an_identity_policy_is_kept_as_written() {
        // AWS refuses such a policy; if one came, kms-doctor would not widen it to everyone.
        let p = identity(serde_json::json!({"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "*", "Resource": "*"}]}));
        assert_eq!(decide(&[&p], None), Decision::ImplicitDeny);
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html
    #[test]
    fn a_trust_policy_says_who_may_assume_the_role() {
        let trust = |principal: &str, condition: Option<serde_json::Value>| {
            let mut s = serde_json::json!({"Effect": "Allow", "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole"});
            if let Some(c) = condition {
                s["Condition"] = c;
            }
            KeyPolicy::parse_trust(
                &serde_json::json!({"Version": "2012-10-17", "Statement": [s]}).to_string(),
            )
            .unwrap()
        };
        let caller = Identity::parse("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
        let role_arn = Some("arn:aws:iam::111122223333:role/KeyAdmin");
        let decide = |p: &KeyPolicy| {
            evaluate_for(
                p,
                &caller,
                "sts:AssumeRole",
                role_arn,
                &Context::default(),
                now(),
            )
            .decision
        };
        // Naming the caller's role: the trust policy alone suffices.
        assert_eq!(
            decide(&trust("arn:aws:iam::111122223333:role/Admin", None)),
            Decision::Allow
        );
        // Naming the account: the caller's own IAM policies must allow sts:AssumeRole too.
        assert_eq!(
            decide(&trust("arn:aws:iam::111122223333:root", None)),
            Decision::Delegated
        );
        // A condition on MFA, unknown offline: conditional.
        assert_eq!(
            decide(&trust(
                "arn:aws:iam::111122223333:role/Admin",
                Some(serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
            )),
            Decision::Conditional
        );
        assert_eq!(
            decide(&trust("arn:aws:iam::111122223333:role/Other", None)),
            Decision::ImplicitDeny
        );
    }
}
