//! One access verdict per action, from the key policy's decision, the IAM simulation and what
//! AWS answered, in KMS's order: a key policy deny, cross-account, AWS managed keys, then SCPs,
//! permissions boundaries and IAM denies, then the key policy's grant (direct, or delegated, in
//! which case IAM must allow). An observed answer overrides the inference, and the layer AWS's
//! AccessDenied message names outranks the layers kms-doctor models.

use super::model::{
    Access, Basis, Code, Denial, Outcome, PolicyType, SimDecision, SimulationResult, Verdict,
};
use crate::policy::{Applies, Decision, Effect, Evaluation, PUT_KEY_POLICY};

/// The key policy's own reason for not granting an action, if it has one. `explain` and
/// `diagnose` name the same cause for the same decision.
pub fn key_policy_cause(eval: &Evaluation) -> Option<Code> {
    match eval.decision {
        Decision::Allow | Decision::Delegated => None,
        Decision::ExplicitDeny => Some(Code::KeyPolicyExplicitDeny),
        Decision::ImplicitDeny if eval.cross_account => Some(Code::CrossAccountKey),
        Decision::ImplicitDeny if blocked_by_condition(eval) => Some(Code::ConditionNotMet),
        Decision::ImplicitDeny => Some(Code::RootDelegationMissing),
        Decision::Conditional => Some(Code::ConditionNotMet),
    }
}

/// An Allow that names the principal (or its account) did not apply because of its conditions.
fn blocked_by_condition(eval: &Evaluation) -> bool {
    eval.statements
        .iter()
        .any(|t| t.effect == Effect::Allow && t.applies == Applies::No && t.via.is_some())
}

/// The keys of a request's network origin, which a key policy may test and kms-doctor cannot
/// know offline (IAM User Guide, global condition context keys: network properties).
const REQUEST_ORIGIN_KEYS: [&str; 5] = [
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourceip",
    "aws:vpcsourceip",
    "aws:sourcevpcarn",
];

/// A key-policy `Deny` that may apply, whose only unknowns are the request's network origin
/// (`aws:SourceVpce`, `aws:SourceIp`, …): what explains "an explicit deny in a resource-based
/// policy" for a request from elsewhere.
pub fn request_origin_deny(eval: &Evaluation) -> Option<&crate::policy::StatementTrace> {
    eval.statements.iter().find(|t| {
        t.effect == Effect::Deny
            && t.applies == Applies::Conditional
            && !t.unknown_context.is_empty()
            && t.unknown_context
                .iter()
                .all(|k| REQUEST_ORIGIN_KEYS.contains(&k.to_ascii_lowercase().as_str()))
    })
}

/// What is known of one action.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActionFacts<'a> {
    /// The key policy's decision for the principal (none when the policy is unknown).
    pub eval: Option<&'a Evaluation>,
    /// The IAM simulator's answer for the action.
    pub sim: Option<&'a SimulationResult>,
    /// How AWS answered this very call (only `ok` or `access_denied` count).
    pub observed: Option<Outcome>,
    /// What AWS's AccessDenied message said of this very call, when it was denied.
    pub denial: Option<Denial>,
    pub aws_managed: bool,
    pub cross_account: bool,
    pub not_found: bool,
    /// The key policy names the principal itself (its user ARN, its session ARN): an implicit
    /// deny in its permissions boundary does not limit that grant
    /// (`policy::names_principal_itself`).
    pub beyond_boundary: bool,
}

/// The cause AWS's message names, as the code that says it, when it names a layer; or
/// `denial-unexplained` when it names one that the evidence shows allowing.
fn stated_cause(
    denial: Denial,
    eval: Option<&Evaluation>,
    sim: Option<&SimulationResult>,
) -> Option<Code> {
    let iam_allows = sim.is_some_and(|s| s.decision == SimDecision::Allowed);
    Some(match denial.policy_type {
        PolicyType::Unknown => return None,
        PolicyType::Scp => Code::ScpDeny,
        PolicyType::Rcp => Code::RcpDeny,
        PolicyType::VpcEndpoint => Code::VpcEndpointPolicyDeny,
        PolicyType::Session => Code::SessionPolicyDeny,
        PolicyType::PermissionsBoundary => Code::PermissionsBoundaryDeny,
        PolicyType::Resource => match (eval.map(|e| e.decision), denial.explicit) {
            // Without the policy text, AWS's word is all there is: an explicit deny is named;
            // an implicit one is the missing delegation rule's to explain (live rules).
            (None, Some(true)) => Code::KeyPolicyExplicitDeny,
            (None, _) => return None,
            (Some(Decision::ExplicitDeny), _) => Code::KeyPolicyExplicitDeny,
            // A Deny on where the request came from, which the evidence cannot see, explains it.
            (Some(_), Some(true)) if eval.and_then(request_origin_deny).is_some() => {
                Code::KeyPolicyExplicitDeny
            }
            (Some(_), Some(true)) => Code::DenialUnexplained,
            (Some(_), _) => match eval.and_then(key_policy_cause) {
                Some(c) if c != Code::KeyPolicyExplicitDeny => c,
                _ => Code::DenialUnexplained,
            },
        },
        PolicyType::Identity if iam_allows => Code::DenialUnexplained,
        PolicyType::Identity if denial.explicit == Some(true) => Code::IamExplicitDeny,
        PolicyType::Identity => Code::IamImplicitDeny,
    })
}

pub fn verdict_for(action: &str, facts: ActionFacts) -> Access {
    let access = |verdict, because| Access {
        action: action.to_owned(),
        verdict,
        basis: if facts.observed.is_some() {
            Basis::Observed
        } else {
            Basis::Inferred
        },
        because,
    };
    if facts.not_found {
        return access(Verdict::Unknown, vec![Code::KeyNotFound]);
    }
    let eval = facts.eval;
    let decision = eval.map(|e| e.decision);
    let mut because = Vec::new();
    if facts.cross_account || eval.is_some_and(|e| e.cross_account) {
        because.push(Code::CrossAccountKey);
    }
    if facts.aws_managed && action == PUT_KEY_POLICY {
        return access(Verdict::Denied, vec![Code::AwsManagedKey]);
    }
    if let Some(cause) = eval.and_then(key_policy_cause) {
        // Cross-account already explains an implicit deny.
        let explained =
            decision == Some(Decision::ImplicitDeny) && because.contains(&Code::CrossAccountKey);
        if !explained && !because.contains(&cause) {
            because.push(cause);
        }
    }
    let mut iam_allows = None;
    if let Some(s) = facts.sim {
        if s.allowed_by_organizations == Some(false) {
            because.push(Code::ScpDeny);
        }
        // An implicit deny in the boundary does not limit a grant that names the principal
        // itself; an explicit one (the simulator's explicitDeny) still does.
        let boundary_limits = !facts.beyond_boundary || s.decision == SimDecision::ExplicitDeny;
        if s.allowed_by_permissions_boundary == Some(false) && boundary_limits {
            because.push(Code::PermissionsBoundaryDeny);
        }
        match s.decision {
            SimDecision::ExplicitDeny
                if s.allowed_by_organizations != Some(false)
                    && s.allowed_by_permissions_boundary != Some(false) =>
            {
                because.push(Code::IamExplicitDeny)
            }
            SimDecision::Allowed => iam_allows = Some(true),
            _ => iam_allows = Some(false),
        }
    }
    if decision == Some(Decision::Delegated) && iam_allows == Some(false) && because.is_empty() {
        because.push(Code::IamImplicitDeny);
    }
    let inferred = if !because.is_empty() {
        if because == [Code::ConditionNotMet] && decision == Some(Decision::Conditional) {
            Verdict::Conditional
        } else {
            Verdict::Denied
        }
    } else {
        match (decision, iam_allows) {
            (Some(Decision::Allow), _) => Verdict::Allowed,
            (Some(Decision::Delegated), Some(true)) => Verdict::Allowed,
            _ => Verdict::Unknown,
        }
    };
    let verdict = match facts.observed {
        Some(Outcome::Ok) => {
            because.clear();
            Verdict::Allowed
        }
        Some(Outcome::AccessDenied) => {
            match facts.denial.and_then(|d| stated_cause(d, eval, facts.sim)) {
                // The evidence contradicts AWS's words: no cause is claimed but that.
                Some(Code::DenialUnexplained) => because = vec![Code::DenialUnexplained],
                // AWS's layer first; what the model found besides stays.
                Some(stated) => {
                    because.retain(|c| *c != stated);
                    because.insert(0, stated);
                }
                None => {}
            }
            Verdict::Denied
        }
        _ => inferred,
    };
    if verdict == Verdict::Unknown && because.is_empty() {
        because.push(Code::EvidenceIncomplete);
    }
    access(verdict, because)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Context, GET_KEY_POLICY, Identity, KeyPolicy, evaluate_for};

    const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn eval(policy: serde_json::Value, who: &str, action: &str) -> Evaluation {
        let policy = KeyPolicy::parse(&policy.to_string()).unwrap();
        let who = Identity::parse(who).unwrap();
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        evaluate_for(&policy, &who, action, Some(KEY), &Context::default(), now)
    }

    fn allow(principal: &str) -> serde_json::Value {
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"}]})
    }

    fn sim(decision: &str) -> SimulationResult {
        SimulationResult {
            action: PUT_KEY_POLICY.into(),
            resource: None,
            decision: SimDecision::parse(decision),
            matched_statements: Vec::new(),
            allowed_by_organizations: None,
            allowed_by_permissions_boundary: None,
            missing_context: Vec::new(),
        }
    }

    #[test]
    fn a_delegation_needs_iam_to_allow() {
        let e = eval(
            allow("arn:aws:iam::111122223333:root"),
            ADMIN,
            PUT_KEY_POLICY,
        );
        let denied = sim("implicitDeny");
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                sim: Some(&denied),
                ..Default::default()
            },
        );
        assert_eq!(
            (v.verdict, v.because.as_slice()),
            (Verdict::Denied, &[Code::IamImplicitDeny][..])
        );
        let allowed = sim("allowed");
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                sim: Some(&allowed),
                ..Default::default()
            },
        );
        assert_eq!(v.verdict, Verdict::Allowed);
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                ..Default::default()
            },
        );
        assert_eq!(
            (v.verdict, v.because.as_slice()),
            (Verdict::Unknown, &[Code::EvidenceIncomplete][..]),
            "without the simulation, a delegation decides nothing"
        );
    }

    #[test]
    fn a_missing_delegation_denies_whatever_iam_says() {
        let e = eval(
            allow("arn:aws:iam::111122223333:role/KeyAdmin"),
            ADMIN,
            GET_KEY_POLICY,
        );
        let allowed = sim("allowed");
        let v = verdict_for(
            GET_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                sim: Some(&allowed),
                observed: Some(Outcome::AccessDenied),
                ..Default::default()
            },
        );
        assert_eq!(v.verdict, Verdict::Denied);
        assert_eq!(v.basis, Basis::Observed);
        assert_eq!(v.because, [Code::RootDelegationMissing]);
    }

    #[test]
    fn organizations_and_boundaries_are_named_before_iam_denies() {
        let e = eval(allow(ADMIN), ADMIN, PUT_KEY_POLICY);
        let mut scp = sim("explicitDeny");
        scp.allowed_by_organizations = Some(false);
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                sim: Some(&scp),
                ..Default::default()
            },
        );
        assert_eq!(v.because, [Code::ScpDeny], "not also iam-explicit-deny");
        let mut boundary = sim("implicitDeny");
        boundary.allowed_by_permissions_boundary = Some(false);
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                sim: Some(&boundary),
                ..Default::default()
            },
        );
        assert_eq!(v.because, [Code::PermissionsBoundaryDeny]);
    }

    #[test]
    fn aws_managed_keys_cannot_be_updated_and_observed_success_wins() {
        let e = eval(allow(ADMIN), ADMIN, PUT_KEY_POLICY);
        let v = verdict_for(
            PUT_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                aws_managed: true,
                ..Default::default()
            },
        );
        assert_eq!(
            (v.verdict, v.because.as_slice()),
            (Verdict::Denied, &[Code::AwsManagedKey][..])
        );
        let deny = eval(
            serde_json::json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:GetKeyPolicy", "Resource": "*"}]}),
            ADMIN,
            GET_KEY_POLICY,
        );
        let v = verdict_for(
            GET_KEY_POLICY,
            ActionFacts {
                eval: Some(&deny),
                observed: Some(Outcome::Ok),
                ..Default::default()
            },
        );
        assert_eq!(
            (v.verdict, v.because.len()),
            (Verdict::Allowed, 0),
            "AWS's answer overrides the inference"
        );
    }

    #[test]
    fn the_layer_aws_names_outranks_the_model() {
        let healthy = eval(
            allow("arn:aws:iam::111122223333:root"),
            ADMIN,
            GET_KEY_POLICY,
        );
        let allowed = sim("allowed");
        let denied_by = |policy_type, explicit, e: Option<&Evaluation>| {
            verdict_for(
                GET_KEY_POLICY,
                ActionFacts {
                    eval: e,
                    sim: Some(&allowed),
                    observed: Some(Outcome::AccessDenied),
                    denial: Some(Denial {
                        policy_type,
                        explicit,
                    }),
                    ..Default::default()
                },
            )
        };
        // Layers kms-doctor cannot read: named from AWS's words, the verdict observed.
        for (t, code) in [
            (PolicyType::Rcp, Code::RcpDeny),
            (PolicyType::VpcEndpoint, Code::VpcEndpointPolicyDeny),
            (PolicyType::Session, Code::SessionPolicyDeny),
            (PolicyType::Scp, Code::ScpDeny),
            (
                PolicyType::PermissionsBoundary,
                Code::PermissionsBoundaryDeny,
            ),
        ] {
            let v = denied_by(t, Some(true), Some(&healthy));
            assert_eq!(
                (v.verdict, v.because.as_slice()),
                (Verdict::Denied, &[code][..]),
                "{t:?}"
            );
            let v = denied_by(t, Some(true), None);
            assert_eq!(v.because, [code], "{t:?} without the policy");
        }
        // The key policy named, and the recovered policy allows: contradicted, not explained.
        let v = denied_by(PolicyType::Resource, Some(false), Some(&healthy));
        assert_eq!(v.because, [Code::DenialUnexplained]);
        // IAM named, and the simulator allows: the same.
        let v = denied_by(PolicyType::Identity, Some(false), Some(&healthy));
        assert_eq!(v.because, [Code::DenialUnexplained]);
        // The key policy named, and it lacks the delegation: the model's cause stands.
        let locked = eval(
            allow("arn:aws:iam::111122223333:role/KeyAdmin"),
            ADMIN,
            GET_KEY_POLICY,
        );
        let v = denied_by(PolicyType::Resource, Some(false), Some(&locked));
        assert_eq!(v.because, [Code::RootDelegationMissing]);
        // An explicit deny in the key policy, its text unknown.
        let v = denied_by(PolicyType::Resource, Some(true), None);
        assert_eq!(v.because, [Code::KeyPolicyExplicitDeny]);
        // No layer named: the model alone.
        let v = denied_by(PolicyType::Unknown, None, Some(&locked));
        assert_eq!(v.because, [Code::RootDelegationMissing]);
    }

    #[test]
    fn cross_account_and_missing_keys() {
        let e = eval(
            allow("arn:aws:iam::444455556666:root"),
            "arn:aws:iam::444455556666:role/Admin",
            GET_KEY_POLICY,
        );
        let v = verdict_for(
            GET_KEY_POLICY,
            ActionFacts {
                eval: Some(&e),
                ..Default::default()
            },
        );
        assert_eq!(v.because, [Code::CrossAccountKey]);
        let v = verdict_for(
            GET_KEY_POLICY,
            ActionFacts {
                not_found: true,
                ..Default::default()
            },
        );
        assert_eq!(
            (v.verdict, v.because.as_slice()),
            (Verdict::Unknown, &[Code::KeyNotFound][..])
        );
    }
}
