//! Who can restore access through the account delegation: the IAM users and roles of the key's
//! account whose identity-based policies (their own, their groups', within their permissions
//! boundary) allow `kms:PutKeyPolicy` on the key. Read from `GetAccountAuthorizationDetails`.
//!
//! Service control policies are not readable from a member account: an answer here holds as far
//! as the organisation's policies allow (the simulator shows where one denies).

use super::case::PolicyScope;
use super::model::{AuthorizationDetails, Restorer};
use super::restore_paths::{Graph, Shape, ViaIam};
use crate::policy::{
    Context, Decision, Identity, KeyPolicy, PUT_KEY_POLICY, evaluate_for, identity_decision,
};
use std::rc::Rc;

pub use super::restore_paths::IamRestorer;

/// The users and roles of the details whose policies allow `kms:PutKeyPolicy` on the key. Their
/// policies come from the graph, which parses each once for the restore paths too.
pub fn iam_restorers(
    details: &AuthorizationDetails,
    graph: &Graph,
    key_arn: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<IamRestorer> {
    let mut out = Vec::new();
    for p in details.users.iter().chain(&details.roles) {
        let Ok(identity) = Identity::parse(&p.arn) else {
            continue;
        };
        let Some(holder) = graph.holder(&identity) else {
            continue;
        };
        // Judged once per account when no statement that could allow or deny it names a
        // resource: then the answer holds for every key.
        let any_key = holder.same_for_any_key();
        if any_key && let Some(known) = graph.any_key.borrow().get(&p.arn) {
            out.extend(known.clone());
            continue;
        }
        let found = judge_principal(&p.arn, &identity, &holder, key_arn, now);
        if any_key {
            graph
                .any_key
                .borrow_mut()
                .insert(p.arn.clone(), found.clone());
        }
        out.extend(found);
    }
    out
}

/// Whether the principal's policies allow `kms:PutKeyPolicy` on the key, and by which policy.
fn judge_principal(
    arn: &str,
    identity: &Identity,
    holder: &super::restore_paths::Holder,
    key_arn: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<IamRestorer> {
    let empty = Context::default();
    let refs: Vec<&KeyPolicy> = holder.policies.iter().map(|(_, p)| p.as_ref()).collect();
    let decision = identity_decision(
        &refs,
        holder.boundary.as_deref(),
        identity,
        PUT_KEY_POLICY,
        key_arn,
        &empty,
        now,
    );
    if !matches!(decision, Decision::Allow | Decision::Conditional) {
        return None;
    }
    let evaluations: Vec<(&String, _)> = holder
        .policies
        .iter()
        .map(|(name, policy)| {
            let e = evaluate_for(policy, identity, PUT_KEY_POLICY, key_arn, &empty, now);
            (name, e)
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
        arn: arn.to_owned(),
        allowed_by: allowing.0.clone(),
        conditions_on,
    })
}

/// The shape of a key's restorers through IAM.
fn shape_of(graph: &Graph, scope: &PolicyScope) -> Shape {
    let org = scope.org.policies;
    let same_for_every_key =
        graph.same_for_any_key() && org.is_none_or(|o| o.same_for_any_resource(PUT_KEY_POLICY));
    Shape {
        key: scope
            .key_arn
            .filter(|_| !same_for_every_key)
            .map(str::to_owned),
        key_account: key_account(scope.key_arn).map(str::to_owned),
        source: scope.source,
        org: org
            .iter()
            .flat_map(|o| o.scps.iter().chain(&o.rcps))
            .flat_map(|l| l.policies.iter().map(|p| (l.target.clone(), p.id.clone())))
            .collect(),
        exempt_key: scope.org.exempt_key,
    }
}

/// The account of a key ARN.
fn key_account(key_arn: Option<&str>) -> Option<&str> {
    key_arn
        .and_then(|a| a.split(':').nth(4))
        .filter(|a| !a.is_empty())
}

/// The restorers through IAM of a key (see [`ViaIam`]), leaving out principals the key
/// policy already names (`known`) and, when the key policy has a Deny that may hold some of them,
/// those `keep` rejects: the list of its account and shape when they leave it whole, not copied.
pub fn via_iam(
    details: &AuthorizationDetails,
    graph: &Graph,
    scope: &PolicyScope,
    known: &[Restorer],
    keep: Option<&dyn Fn(&Restorer) -> bool>,
    now: chrono::DateTime<chrono::Utc>,
) -> Rc<ViaIam> {
    let shape = shape_of(graph, scope);
    let shared = graph.via_iam.borrow().get(&shape).cloned();
    let shared = shared.unwrap_or_else(|| {
        let made = Rc::new(ViaIam::new(through_iam(details, graph, scope, now)));
        graph.via_iam.borrow_mut().insert(shape, made.clone());
        made
    });
    let named = known.iter().any(|k| shared.holds(&k.principal));
    let kept = |r: &Restorer| keep.is_none_or(|keep| keep(r));
    if !named && (keep.is_none() || shared.list.iter().all(kept)) {
        return shared;
    }
    Rc::new(ViaIam::new(
        shared
            .list
            .iter()
            .filter(|r| !known.iter().any(|k| k.principal == r.principal) && kept(r))
            .cloned()
            .collect(),
    ))
}

/// The IAM-side restorers as restorers of the key (`via: iam`).
fn through_iam(
    details: &AuthorizationDetails,
    graph: &Graph,
    scope: &PolicyScope,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Restorer> {
    // The details are of the key's account; a principal of another account is none of its.
    let key_account = key_account(scope.key_arn);
    iam_restorers(details, graph, scope.key_arn, now)
        .into_iter()
        .filter(|r| super::case::in_key_account(&r.arn, key_account))
        .map(|r| Restorer {
            kind: Identity::parse(&r.arn)
                .map_or(crate::policy::IdentityKind::Unknown, |i| i.kind()),
            blocked_by: scope.org.blocked(
                &r.arn,
                scope.key_arn,
                &crate::policy::Context::default(),
                now,
            ),
            statement: format!("IAM policy {}", r.allowed_by),
            principal: r.arn,
            source: scope.source,
            exists: Some(true),
            via: super::model::RestorerVia::Iam,
            conditions_on: r
                .conditions_on
                .into_iter()
                .map(super::model::ConditionOn::Context)
                .collect(),
            caller_can_assume: None,
            assumable_by: Vec::new(),
            path: None,
            permission_set: None,
            // Its own IAM policies were judged within its boundary already.
            limited_by_boundary: None,
            recreated: None,
            boundary_unread: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{
        GroupDetails, IamPrincipalDetails, ManagedPolicy, NamedDocument,
    };

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
        let mut ev: crate::diagnosis::model::Evidence =
            serde_json::from_str(include_str!("../../examples/evidence-locked-out.json")).unwrap();
        ev.authorization = Some(details.clone());
        let graph = Graph::new(&ev, now);
        let found = iam_restorers(&details, &graph, Some(KEY), now);
        assert_eq!(names(&found), ["alice", "Admin"]);
        assert_eq!(
            found[0].allowed_by, "manage-keys",
            "through the user's group"
        );
        assert_eq!(found[1].allowed_by, "AdministratorAccess");
    }
}
