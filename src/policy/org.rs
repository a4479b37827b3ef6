//! An organisation's policies, read with the same engine: service control policies (SCPs) and
//! resource control policies (RCPs), with AWS's rules (AWS Organizations User Guide, "Service
//! control policies" and "Resource control policies"; IAM User Guide, "Policy evaluation
//! logic"):
//!
//! - An SCP limits the principals of a member account. Every level from the root to the account
//!   must allow the action (an allow-list at any level that does not name it denies it), and no
//!   `Deny` at any level may match. The management account's principals and service-linked
//!   roles are exempt.
//! - An RCP limits requests to the resources of a member account, whoever makes them: any
//!   matching `Deny` at any level denies (`RCPFullAWSAccess`, attached at every level, cannot be
//!   detached, so RCPs only deny). The management account's resources and AWS managed keys are
//!   exempt.
//!
//! Only the statements' own tests are used (action, resource, conditions): the key-policy
//! rules (delegation, cross-account) do not apply to these documents.

use super::document::{Effect, KeyPolicy, ParseError};
use super::eval::{Applies, StatementTrace};
use super::principal::Identity;
use super::{Context, evaluate_for};
use serde::Serialize;

/// One SCP or RCP, as `DescribePolicy` gives it.
#[derive(Debug, Clone)]
pub struct OrgPolicy {
    /// `p-…`, or the file it was read from.
    pub id: String,
    pub name: String,
    pub document: KeyPolicy,
}

impl OrgPolicy {
    /// An SCP: no `Principal` (it applies to the account's principals).
    pub fn scp(id: &str, name: &str, text: &str) -> Result<OrgPolicy, ParseError> {
        Ok(OrgPolicy {
            id: id.to_owned(),
            name: name.to_owned(),
            document: KeyPolicy::parse_identity(text)?,
        })
    }

    /// An RCP: its statements name their principals (`"*"`, which AWS requires); one without
    /// is read as naming everyone, as an SCP is.
    pub fn rcp(id: &str, name: &str, text: &str) -> Result<OrgPolicy, ParseError> {
        Self::scp(id, name, text)
    }

    /// Whether it allows anything: a policy with no `Allow` only denies (a deny-list, used with
    /// `FullAWSAccess` beside it).
    pub fn allows_anything(&self) -> bool {
        self.document
            .statements
            .iter()
            .any(|s| s.effect == Effect::Allow)
    }
}

/// The policies attached at one level: the root (`r-…`), an OU (`ou-…`), or the account.
#[derive(Debug, Clone)]
pub struct Level {
    pub target: String,
    pub policies: Vec<OrgPolicy>,
}

/// What stops a request: the policy and statement, and where the policy is attached; for an
/// SCP allow-list, the level at which nothing allows (no policy, no statement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub policy: Option<String>,
    pub statement: Option<String>,
    pub target: String,
    /// A `Deny` matched (else nothing at `target` allows).
    pub explicit: bool,
    /// The `Deny` has conditions: it may not hold for every principal of a kind (the account
    /// delegation's "any IAM principal" includes the ones a condition exempts).
    pub conditional: bool,
}

/// Which of an organisation's policy types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgPolicyType {
    Scp,
    Rcp,
}

/// The contract's `blocked_by`: what of the organisation's policies denies an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedBy {
    pub policy_type: OrgPolicyType,
    /// The policy's name; `null` where nothing allows at `target` (an SCP allow-list).
    pub policy: Option<String>,
    /// The statement's `Sid`, or `statement #N`.
    pub statement: Option<String>,
    /// Where the policy is attached: the root, an OU or the account.
    pub target: String,
}

impl BlockedBy {
    pub fn new(policy_type: OrgPolicyType, b: Blocker) -> BlockedBy {
        BlockedBy {
            policy_type,
            policy: b.policy,
            statement: b.statement,
            target: b.target,
        }
    }
}

/// The SCPs and RCPs that apply, by level from the root down.
#[derive(Debug, Clone, Default)]
pub struct OrgPolicies {
    pub scps: Vec<Level>,
    pub rcps: Vec<Level>,
    /// The organisation's management account, when known.
    pub management_account: Option<String>,
}

impl OrgPolicies {
    pub fn is_empty(&self) -> bool {
        self.scps.is_empty() && self.rcps.is_empty()
    }

    /// Whether the organisation's RCPs leave the key alone: an AWS managed key, or a key of the
    /// management account. The one definition every command asks.
    /// AWS: <https://docs.aws.amazon.com/kms/latest/developerguide/resource-control-policies.html>
    /// ("do not apply to AWS managed keys"), and
    /// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html>
    /// (not the management account's resources).
    pub fn exempts_key(&self, key_account: Option<&str>, aws_managed: bool) -> bool {
        aws_managed
            || self
                .management_account
                .as_deref()
                .is_some_and(|m| key_account == Some(m))
    }

    /// Whether what the policies decide of `action` is the same for every resource (see
    /// [`KeyPolicy::same_for_any_resource`]): the decision for one key is then every key's.
    pub fn same_for_any_resource(&self, action: &str) -> bool {
        self.scps
            .iter()
            .chain(&self.rcps)
            .flat_map(|l| &l.policies)
            .all(|p| p.document.same_for_any_resource(action))
    }

    /// The first of the two that denies, SCPs first (they are evaluated before RCPs).
    /// `exempt_resource`: the key is AWS managed, or in the management account. For the
    /// account (its delegation: any IAM principal of it), only a denial that holds for every
    /// principal counts: a conditional `Deny` may exempt some.
    pub fn blocked(&self, req: &OrgRequest, exempt_resource: bool) -> Option<BlockedBy> {
        let counts =
            |b: &Blocker| !(b.conditional && matches!(req.principal, Identity::Account { .. }));
        if let OrgDecision::Denied(b) =
            scp_decision(&self.scps, self.management_account.as_deref(), req)
            && counts(&b)
        {
            return Some(BlockedBy::new(OrgPolicyType::Scp, b));
        }
        match rcp_decision(&self.rcps, exempt_resource, req) {
            OrgDecision::Denied(b) if counts(&b) => Some(BlockedBy::new(OrgPolicyType::Rcp, b)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgDecision {
    Allowed,
    /// The organisation's policies do not apply (the management account, a service-linked
    /// role, an AWS managed key).
    Exempt,
    Denied(Blocker),
    /// It depends on context keys that are not known.
    Conditional(Vec<String>),
}

/// What the request is, for an organisation's policies.
#[derive(Debug, Clone, Copy)]
pub struct OrgRequest<'a> {
    pub principal: &'a Identity,
    pub action: &'a str,
    pub resource: Option<&'a str>,
    pub context: &'a Context,
    pub now: chrono::DateTime<chrono::Utc>,
}

fn traces(p: &OrgPolicy, req: &OrgRequest) -> Vec<StatementTrace> {
    evaluate_for(
        &p.document,
        req.principal,
        req.action,
        req.resource,
        req.context,
        req.now,
    )
    .statements
}

/// The first `Deny` that matches, at any level; or the context keys a conditional one needs.
fn denied(levels: &[Level], req: &OrgRequest, unknown: &mut Vec<String>) -> Option<Blocker> {
    for level in levels {
        for p in &level.policies {
            for t in traces(p, req).iter().filter(|t| t.effect == Effect::Deny) {
                match t.applies {
                    Applies::Yes => {
                        let conditional = p
                            .document
                            .statements
                            .get(t.index)
                            .is_some_and(|s| !s.conditions.is_empty());
                        return Some(Blocker {
                            policy: Some(p.name.clone()),
                            statement: Some(t.label()),
                            target: level.target.clone(),
                            explicit: true,
                            conditional,
                        });
                    }
                    Applies::Conditional => unknown.extend(t.unknown_context.iter().cloned()),
                    Applies::No => {}
                }
            }
        }
    }
    None
}

fn decided(blocker: Option<Blocker>, mut unknown: Vec<String>) -> OrgDecision {
    match blocker {
        Some(b) => OrgDecision::Denied(b),
        None if unknown.is_empty() => OrgDecision::Allowed,
        None => {
            unknown.sort();
            unknown.dedup();
            OrgDecision::Conditional(unknown)
        }
    }
}

/// The SCPs of the levels from the root to the principal's account. `management_account`:
/// the organisation's management account, whose principals SCPs do not limit.
pub fn scp_decision(
    levels: &[Level],
    management_account: Option<&str>,
    req: &OrgRequest,
) -> OrgDecision {
    let service_linked = match req.principal {
        Identity::Role { path, .. } => path.as_deref(),
        Identity::AssumedRole { role_path, .. } => role_path.as_deref(),
        _ => None,
    }
    .is_some_and(|p| p.starts_with("/aws-service-role/"));
    let account = req.principal.account();
    if service_linked
        || account.is_none()
        || (management_account.is_some() && account == management_account)
    {
        return OrgDecision::Exempt;
    }
    let mut unknown = Vec::new();
    if let Some(b) = denied(levels, req, &mut unknown) {
        return OrgDecision::Denied(b);
    }
    // Every level must allow: an allow-list that does not name the action denies it there.
    for level in levels {
        let mut allows = Applies::No;
        for p in &level.policies {
            for t in traces(p, req).iter().filter(|t| t.effect == Effect::Allow) {
                match t.applies {
                    Applies::Yes => allows = Applies::Yes,
                    Applies::Conditional if allows == Applies::No => {
                        allows = Applies::Conditional;
                        unknown.extend(t.unknown_context.iter().cloned());
                    }
                    _ => {}
                }
            }
        }
        if allows == Applies::No {
            return OrgDecision::Denied(Blocker {
                policy: None,
                statement: None,
                target: level.target.clone(),
                explicit: false,
                conditional: false,
            });
        }
    }
    decided(None, unknown)
}

/// The RCPs of the levels from the root to the key's account. `exempt`: the key is AWS managed,
/// or in the management account.
pub fn rcp_decision(levels: &[Level], exempt: bool, req: &OrgRequest) -> OrgDecision {
    if exempt {
        return OrgDecision::Exempt;
    }
    let mut unknown = Vec::new();
    let blocker = denied(levels, req, &mut unknown);
    decided(blocker, unknown)
}

impl OrgPolicy {
    /// A policy file: a policy document, or the whole output of `aws organizations
    /// describe-policy` (`{"Policy": {"PolicySummary": {…}, "Content": "…"}}`), whose name and ID
    /// it takes. `label` names a bare document.
    pub fn from_file(
        kind: OrgPolicyType,
        label: &str,
        text: &str,
    ) -> Result<OrgPolicy, ParseError> {
        let described = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| {
                let p = v.get("Policy")?;
                let content = p.get("Content")?.as_str()?.to_owned();
                let summary = p.get("PolicySummary");
                let field = |k: &str| {
                    summary
                        .and_then(|s| s.get(k))
                        .and_then(|x| x.as_str())
                        .map(str::to_owned)
                };
                Some((content, field("Id"), field("Name")))
            });
        let (text, id, name) = match &described {
            Some((content, id, name)) => (content.as_str(), id.clone(), name.clone()),
            None => (text, None, None),
        };
        let id = id.unwrap_or_else(|| label.to_owned());
        let name = name.unwrap_or_else(|| id.clone());
        match kind {
            OrgPolicyType::Scp => OrgPolicy::scp(&id, &name, text),
            OrgPolicyType::Rcp => OrgPolicy::rcp(&id, &name, text),
        }
    }
}

/// Policies given as files (`--scp`, `--rcp`): each one is a level of its own, so that every
/// allow-list must allow; a policy that only denies stands beside an implied `FullAWSAccess`.
pub fn levels_of_files(policies: Vec<OrgPolicy>) -> Vec<Level> {
    policies
        .into_iter()
        .map(|p| Level {
            target: p.id.clone(),
            policies: if p.allows_anything() {
                vec![p]
            } else {
                vec![p, full_access()]
            },
        })
        .collect()
}

/// `FullAWSAccess`: what AWS attaches everywhere unless it is replaced.
fn full_access() -> OrgPolicy {
    OrgPolicy::scp(
        "p-FullAWSAccess",
        "FullAWSAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .expect("a valid policy")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-11-28T00:00:00Z".parse().unwrap()
    }

    fn scp(name: &str, doc: serde_json::Value) -> OrgPolicy {
        OrgPolicy::scp(&format!("p-{name}"), name, &doc.to_string()).unwrap()
    }

    fn rcp(name: &str, doc: serde_json::Value) -> OrgPolicy {
        OrgPolicy::rcp(&format!("p-{name}"), name, &doc.to_string()).unwrap()
    }

    fn level(target: &str, policies: Vec<OrgPolicy>) -> Level {
        Level {
            target: target.into(),
            policies,
        }
    }

    fn who(arn: &str) -> Identity {
        Identity::parse(arn).unwrap()
    }

    /// `decide` for `principal` asking kms:PutKeyPolicy on KEY.
    fn asking<T>(principal: &str, decide: impl FnOnce(&OrgRequest) -> T) -> T {
        let principal = who(principal);
        let ctx = Context::default();
        decide(&OrgRequest {
            principal: &principal,
            action: "kms:PutKeyPolicy",
            resource: Some(KEY),
            context: &ctx,
            now: now(),
        })
    }

    fn decide_scp(levels: &[Level], principal: &str, management: Option<&str>) -> OrgDecision {
        asking(principal, |req| scp_decision(levels, management, req))
    }

    fn decide_rcp(levels: &[Level], principal: &str, exempt: bool) -> OrgDecision {
        asking(principal, |req| rcp_decision(levels, exempt, req))
    }

    const ADMIN: &str = "arn:aws:iam::111122223333:role/ops/Admin";
    const BREAK_GLASS: &str = "arn:aws:iam::111122223333:role/BreakGlass";

    fn full() -> OrgPolicy {
        full_access()
    }

    fn deny_kms_policy_changes() -> OrgPolicy {
        scp(
            "DenyKeyPolicyChanges",
            json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "NoKeyPolicyChanges", "Effect": "Deny", "Action": "kms:PutKeyPolicy", "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}}}]}),
        )
    }

    // https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
    #[test]
    fn a_deny_at_any_level_wins_and_names_its_statement_and_level() {
        let levels = [
            level("r-root", vec![full()]),
            level("ou-abcd-11111111", vec![full(), deny_kms_policy_changes()]),
            level("111122223333", vec![full()]),
        ];
        assert_eq!(
            decide_scp(&levels, ADMIN, None),
            OrgDecision::Denied(Blocker {
                policy: Some("DenyKeyPolicyChanges".into()),
                statement: Some("NoKeyPolicyChanges".into()),
                target: "ou-abcd-11111111".into(),
                explicit: true,
                conditional: true,
            })
        );
        // The condition on aws:PrincipalArn exempts the break-glass role.
        assert_eq!(decide_scp(&levels, BREAK_GLASS, None), OrgDecision::Allowed);
    }

    // https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
    // ("Allow list strategy": every level must allow.)
    #[test]
    fn an_allow_list_that_does_not_name_the_action_denies_at_its_level() {
        let s3_only = scp(
            "S3Only",
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
        );
        let kms_too = scp(
            "KmsAndS3",
            json!({"Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]}),
        );
        let levels = [
            level("r-root", vec![full()]),
            level("ou-abcd-22222222", vec![s3_only.clone()]),
            level("111122223333", vec![full()]),
        ];
        assert_eq!(
            decide_scp(&levels, ADMIN, None),
            OrgDecision::Denied(Blocker {
                policy: None,
                statement: None,
                target: "ou-abcd-22222222".into(),
                explicit: false,
                conditional: false,
            })
        );
        let levels = [
            level("r-root", vec![full()]),
            level("ou-abcd-22222222", vec![s3_only, kms_too]),
            level("111122223333", vec![full()]),
        ];
        assert_eq!(decide_scp(&levels, ADMIN, None), OrgDecision::Allowed);
    }

    // https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
    #[test]
    fn rcps_leave_aws_managed_keys_and_the_management_accounts_keys_alone() {
        let org = OrgPolicies {
            scps: Vec::new(),
            rcps: Vec::new(),
            management_account: Some("999988887777".into()),
        };
        assert!(org.exempts_key(Some("999988887777"), false));
        assert!(org.exempts_key(Some("111122223333"), true));
        assert!(!org.exempts_key(Some("111122223333"), false));
        assert!(
            !org.exempts_key(None, false),
            "an unknown account is not exempt"
        );
    }

    // (SCPs do not affect the management account or service-linked roles.)
    #[test]
    fn the_management_account_and_service_linked_roles_are_exempt() {
        let levels = [level("r-root", vec![deny_kms_policy_changes()])];
        assert_eq!(
            decide_scp(&levels, ADMIN, Some("111122223333")),
            OrgDecision::Exempt
        );
        assert_eq!(
            decide_scp(
                &levels,
                "arn:aws:iam::111122223333:role/aws-service-role/kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceMultiRegionKeys",
                None
            ),
            OrgDecision::Exempt
        );
    }

    #[test]
    fn a_condition_on_unknown_context_is_conditional() {
        let mfa = scp(
            "RequireMfa",
            json!({"Statement": [{"Sid": "NoMfaNoKms", "Effect": "Deny", "Action": "kms:*", "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}),
        );
        let levels = [level("r-root", vec![full(), mfa])];
        assert_eq!(
            decide_scp(&levels, ADMIN, None),
            OrgDecision::Conditional(vec!["aws:MultiFactorAuthPresent".into()])
        );
    }

    // https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
    #[test]
    fn an_rcp_denies_requests_to_the_accounts_keys_unless_exempt() {
        let outside_org = rcp(
            "KeysStayInTheOrg",
            json!({"Statement": [{"Sid": "OnlyOurOrg", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
                              "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]}),
        );
        let levels = [level("r-root", vec![outside_org])];
        // aws:PrincipalOrgID of the caller is not known offline: conditional.
        assert!(matches!(
            decide_rcp(&levels, ADMIN, false),
            OrgDecision::Conditional(keys) if keys.contains(&"aws:PrincipalOrgID".to_owned())
        ));
        assert_eq!(decide_rcp(&levels, ADMIN, true), OrgDecision::Exempt);
        let no_policy_changes = rcp(
            "NoPolicyChanges",
            json!({"Statement": [{"Sid": "Freeze", "Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}]}),
        );
        let levels = [
            level("r-root", vec![]),
            level("111122223333", vec![no_policy_changes]),
        ];
        assert_eq!(
            decide_rcp(&levels, ADMIN, false),
            OrgDecision::Denied(Blocker {
                policy: Some("NoPolicyChanges".into()),
                statement: Some("Freeze".into()),
                target: "111122223333".into(),
                explicit: true,
                conditional: false,
            })
        );
    }

    #[test]
    fn files_stand_as_levels_and_deny_lists_keep_full_access() {
        let levels = levels_of_files(vec![deny_kms_policy_changes()]);
        assert_eq!(levels.len(), 1);
        assert_eq!(levels[0].policies.len(), 2, "FullAWSAccess implied");
        assert_eq!(decide_scp(&levels, BREAK_GLASS, None), OrgDecision::Allowed);
    }
}
