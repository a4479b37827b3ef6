//! Who can restore access through the account delegation: the IAM users and roles of the key's
//! account whose identity-based policies (their own, their groups', within their permissions
//! boundary) allow `kms:PutKeyPolicy` on the key. Read from `GetAccountAuthorizationDetails`.
//!
//! Service control policies are not readable from a member account: an answer here holds as far
//! as the organisation's policies allow (the simulator shows where one denies).

use super::model::{AuthorizationDetails, IamPrincipalDetails, NamedDocument};
use crate::policy::{
    Context, Decision, Identity, KeyPolicy, PUT_KEY_POLICY, evaluate_for, identity_decision,
};
use std::collections::HashMap;

/// One principal IAM lets update the key policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRestorer {
    pub arn: String,
    /// The policy that allows it (its name).
    pub allowed_by: String,
    /// Context keys the answer depends on (empty: it is allowed).
    pub conditions_on: Vec<String>,
}

pub fn iam_restorers(
    details: &AuthorizationDetails,
    key_arn: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<IamRestorer> {
    // Each managed policy parsed once, whoever holds it.
    let managed: HashMap<&str, (&str, Option<KeyPolicy>)> = details
        .policies
        .iter()
        .map(|p| {
            let parsed = p
                .document
                .as_deref()
                .and_then(|d| KeyPolicy::parse_identity(d).ok());
            (p.arn.as_str(), (p.name.as_str(), parsed))
        })
        .collect();
    let groups: HashMap<&str, _> = details
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let inline = |docs: &[NamedDocument]| -> Vec<(String, KeyPolicy)> {
        docs.iter()
            .filter_map(|d| Some((d.name.clone(), KeyPolicy::parse_identity(&d.document).ok()?)))
            .collect()
    };
    let mut out = Vec::new();
    for p in details.users.iter().chain(&details.roles) {
        let Ok(identity) = Identity::parse(&p.arn) else {
            continue;
        };
        let mut policies: Vec<(String, KeyPolicy)> = inline(&p.inline_policies);
        let mut attached: Vec<&str> = p.attached.iter().map(String::as_str).collect();
        for group in p.groups.iter().filter_map(|g| groups.get(g.as_str())) {
            policies.extend(inline(&group.inline_policies));
            attached.extend(group.attached.iter().map(String::as_str));
        }
        let managed_of = |arn: &str| {
            managed
                .get(arn)
                .and_then(|(name, p)| Some((name.to_string(), p.clone()?)))
        };
        policies.extend(attached.into_iter().filter_map(managed_of));
        let boundary = p.boundary.as_deref().and_then(managed_of).map(|(_, b)| b);
        if let Some(r) = restorer(p, &identity, &policies, boundary.as_ref(), key_arn, now) {
            out.push(r);
        }
    }
    out
}

fn restorer(
    p: &IamPrincipalDetails,
    identity: &Identity,
    policies: &[(String, KeyPolicy)],
    boundary: Option<&KeyPolicy>,
    key_arn: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<IamRestorer> {
    let empty = Context::default();
    let refs: Vec<&KeyPolicy> = policies.iter().map(|(_, p)| p).collect();
    let decision = identity_decision(
        &refs,
        boundary,
        identity,
        PUT_KEY_POLICY,
        key_arn,
        &empty,
        now,
    );
    if !matches!(decision, Decision::Allow | Decision::Conditional) {
        return None;
    }
    let evaluations: Vec<(&String, _)> = policies
        .iter()
        .map(|(name, p)| {
            (
                name,
                evaluate_for(p, identity, PUT_KEY_POLICY, key_arn, &empty, now),
            )
        })
        .collect();
    let allowing = evaluations
        .iter()
        .find(|(_, e)| e.decision == Decision::Allow)
        .or_else(|| {
            evaluations
                .iter()
                .find(|(_, e)| e.decision == Decision::Conditional)
        })?;
    let mut conditions_on: Vec<String> = if decision == Decision::Conditional {
        evaluations
            .iter()
            .flat_map(|(_, e)| e.unknown_context.iter().cloned())
            .collect()
    } else {
        Vec::new()
    };
    conditions_on.sort();
    conditions_on.dedup();
    Some(IamRestorer {
        arn: p.arn.clone(),
        allowed_by: allowing.0.clone(),
        conditions_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{GroupDetails, ManagedPolicy};

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn doc(effect: &str, action: &str, resource: &str) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": effect, "Action": action, "Resource": resource}]})
        .to_string()
    }

    fn role(name: &str, attached: &[&str], boundary: Option<&str>) -> IamPrincipalDetails {
        IamPrincipalDetails {
            arn: format!("arn:aws:iam::111122223333:role/{name}"),
            name: name.into(),
            path: "/".into(),
            attached: attached.iter().map(|a| a.to_string()).collect(),
            boundary: boundary.map(str::to_owned),
            ..Default::default()
        }
    }

    fn managed(name: &str, document: String) -> ManagedPolicy {
        ManagedPolicy {
            arn: format!("arn:aws:iam::aws:policy/{name}"),
            name: name.into(),
            document: Some(document),
        }
    }

    fn names(r: &[IamRestorer]) -> Vec<&str> {
        r.iter()
            .map(|r| r.arn.rsplit('/').next().unwrap())
            .collect()
    }

    #[test]
    fn admins_and_key_administrators_restore_and_boundaries_and_denies_take_it_away() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let s3_only = "arn:aws:iam::aws:policy/S3Only";
        let deny_kms = "arn:aws:iam::aws:policy/DenyKms";
        let details = AuthorizationDetails {
            roles: vec![
                role("Admin", &[admin], None),
                role("Bounded", &[admin], Some(s3_only)),
                role("Denied", &[admin, deny_kms], None),
                role("Reader", &[s3_only], None),
            ],
            users: vec![IamPrincipalDetails {
                arn: "arn:aws:iam::111122223333:user/alice".into(),
                name: "alice".into(),
                path: "/".into(),
                groups: vec!["KeyAdmins".into()],
                ..Default::default()
            }],
            groups: vec![GroupDetails {
                arn: "arn:aws:iam::111122223333:group/KeyAdmins".into(),
                name: "KeyAdmins".into(),
                inline_policies: vec![NamedDocument {
                    name: "manage-keys".into(),
                    document: doc("Allow", "kms:*", KEY),
                }],
                attached: Vec::new(),
            }],
            policies: vec![
                managed("AdministratorAccess", doc("Allow", "*", "*")),
                managed("S3Only", doc("Allow", "s3:*", "*")),
                managed("DenyKms", doc("Deny", "kms:PutKeyPolicy", "*")),
            ],
            complete: true,
        };
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let found = iam_restorers(&details, Some(KEY), now);
        assert_eq!(names(&found), ["alice", "Admin"]);
        assert_eq!(
            found[0].allowed_by, "manage-keys",
            "through the user's group"
        );
        assert_eq!(found[1].allowed_by, "AdministratorAccess");
    }
}
