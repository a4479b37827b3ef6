//! The way from the diagnosed principal to a restorer, by `sts:AssumeRole` steps.
//!
//! A role may be assumed when its trust policy allows it (IAM policy evaluation logic, same
//! account): a trust policy that names the principal itself suffices; one that names only the
//! account hands over to the principal's own IAM policies, which must allow `sts:AssumeRole` on
//! the role. Conditions kms-doctor cannot know (MFA, an external ID) make a step conditional.
//! The graph is every role whose trust policy is known: from the authorization details, and
//! from the `GetRole` answers of the existence checks.

use super::model::{
    Assume, AuthorizationDetails, Evidence, IamPrincipalDetails, NamedDocument, RemovedPrincipal,
    Restorer, SimDecision, SourceKind,
};
use crate::policy::{
    Context, Decision, Identity, KeyPolicy, evaluate_for, grantees, identity_decision,
};
use std::collections::HashMap;
use std::rc::Rc;

const ASSUME_ROLE: &str = "sts:AssumeRole";

/// A role and its trust policy.
struct Role {
    arn: String,
    identity: Identity,
    trust: KeyPolicy,
    /// Whom the trust policy names for `sts:AssumeRole`, read once: the principals it names,
    /// and whether it names the account (or everyone), handing over to IAM policies.
    named: Vec<Identity>,
    names_account: bool,
}

/// A principal's identity policies and boundary, parsed.
pub struct Holder {
    /// Each policy with its name: inline ones, the groups', the attached managed ones.
    pub policies: Vec<(String, Rc<KeyPolicy>)>,
    pub boundary: Option<Rc<KeyPolicy>>,
}

impl Holder {
    /// Whether every statement of the principal's policies (and boundary) that covers
    /// `kms:PutKeyPolicy` applies to any resource (`"Resource": "*"`): its answer is the same
    /// for every key of the account.
    pub fn same_for_any_key(&self) -> bool {
        self.policies
            .iter()
            .map(|(_, p)| p.as_ref())
            .chain(self.boundary.as_deref())
            .all(|p| p.same_for_any_resource(crate::policy::PUT_KEY_POLICY))
    }
}

/// Roles by trust, and the identity policies known for principals.
pub struct Graph<'a> {
    roles: Vec<Role>,
    details: Option<&'a AuthorizationDetails>,
    now: chrono::DateTime<chrono::Utc>,
    /// Each principal's policies, parsed on first use (by user or role name).
    holders: std::cell::RefCell<HashMap<String, Option<Rc<Holder>>>>,
    /// Managed policies by ARN: name and document; `parsed` keeps the parse once made (many
    /// principals hold one policy).
    managed: HashMap<&'a str, (&'a str, &'a str)>,
    parsed: std::cell::RefCell<HashMap<&'a str, Option<Rc<KeyPolicy>>>>,
    /// The diagnosed principal, and what the simulator said of its `sts:AssumeRole` on roles
    /// (used where its own policies are not in the authorization details).
    subject: Option<Identity>,
    simulated: Vec<(Identity, Assume)>,
    /// Whether a principal IAM lets update any key policy of the account, for those whose
    /// answer is the same for every key (`iam_restorers`): judged once per account, not once
    /// per key.
    pub(super) any_key: std::cell::RefCell<HashMap<String, Option<IamRestorer>>>,
    /// The users and roles of the details by kind and name (`user/NAME`, `role/NAME`).
    principals: HashMap<String, &'a IamPrincipalDetails>,
    /// The restorers through IAM of the keys for which they are the same
    /// (`iam_restorers::via_iam`): one list per account and shape, shared by its keys.
    pub(super) via_iam: std::cell::RefCell<ViaIamMemo>,
    /// Whether every user's and role's policies say the same of `kms:PutKeyPolicy` for every
    /// key (`same_for_any_key`), learned once.
    any_key_all: std::cell::OnceCell<bool>,
}

type ViaIamMemo = HashMap<Shape, Rc<ViaIam>>;

/// What the restorers through IAM of a key depend on besides its account's details: the key
/// itself only when some identity or organisation policy names keys (else one answer holds for
/// every key of the account), where its policy came from, and the organisation's policies.
#[derive(PartialEq, Eq, Hash)]
pub struct Shape {
    pub(super) key: Option<String>,
    pub(super) key_account: Option<String>,
    pub(super) source: SourceKind,
    /// The organisation's policies by level and ID (an ID names one document within a run).
    pub(super) org: Vec<(String, String)>,
    pub(super) exempt_key: bool,
}

/// The IAM users and roles of a key's account whose own policies let them update its policy
/// (`via: iam`), computed once per account and [`Shape`] and shared by the keys it fits: an
/// account with thousands of administrators and thousands of keys does not judge each
/// administrator for each key.
#[derive(Clone, Default)]
pub struct ViaIam {
    pub list: Vec<Restorer>,
    /// The principals of `list` that count ([`Restorer::counts`]), sorted.
    pub living: Vec<String>,
    /// `living` by lowercased user or role name (what a removal compares; see
    /// `without::removes`), and the roles of permission sets.
    by_name: HashMap<String, Vec<usize>>,
    permission_sets: Vec<usize>,
    /// Every principal of `list`, for [`ViaIam::holds`].
    principals: std::collections::HashSet<String>,
}

impl ViaIam {
    pub(super) fn new(list: Vec<Restorer>) -> ViaIam {
        let mut living: Vec<String> = list
            .iter()
            .filter(|r| r.counts())
            .map(|r| r.principal.clone())
            .collect();
        living.sort_unstable();
        living.dedup();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut permission_sets = Vec::new();
        for (i, arn) in living.iter().enumerate() {
            if let Some(name) = Identity::parse(arn).ok().as_ref().and_then(lower_name) {
                by_name.entry(name).or_default().push(i);
            }
            if permission_set(arn).is_some() {
                permission_sets.push(i);
            }
        }
        let principals = list.iter().map(|r| r.principal.clone()).collect();
        ViaIam {
            list,
            living,
            by_name,
            permission_sets,
            principals,
        }
    }

    /// The principals of `living` a removal may take (by name; the caller decides by
    /// `without::removes`): every one for an account's root, which no name finds.
    pub fn candidates(&self, gone: &RemovedPrincipal) -> Vec<usize> {
        match gone {
            RemovedPrincipal::PermissionSet { .. } => self.permission_sets.clone(),
            RemovedPrincipal::Iam { arn } => match Identity::parse(arn) {
                Ok(Identity::Account { .. }) | Err(_) => (0..self.living.len()).collect(),
                Ok(who) => lower_name(&who)
                    .and_then(|n| self.by_name.get(&n))
                    .cloned()
                    .unwrap_or_default(),
            },
        }
    }

    /// Whether `principal` is one of `list`.
    pub(super) fn holds(&self, principal: &str) -> bool {
        self.principals.contains(principal)
    }
}

/// A user's or role's name, lowercased: IAM names are unique in an account whatever their
/// case and path.
fn lower_name(who: &Identity) -> Option<String> {
    match who {
        Identity::User { name, .. } => Some(name.to_ascii_lowercase()),
        _ => who.role_name().map(str::to_ascii_lowercase),
    }
}

/// One principal IAM lets update the key policy (`iam_restorers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRestorer {
    pub arn: String,
    /// The policy that allows it (its name).
    pub allowed_by: String,
    /// Context keys the answer depends on (empty: it is allowed).
    pub conditions_on: Vec<String>,
}

/// The users and roles of the details by kind and name ([`name_of`]).
fn principals_of(details: Option<&AuthorizationDetails>) -> HashMap<String, &IamPrincipalDetails> {
    let mut out = HashMap::new();
    if let Some(d) = details {
        for u in &d.users {
            out.entry(format!("user/{}", u.name)).or_insert(u);
        }
        for r in &d.roles {
            out.entry(format!("role/{}", r.name)).or_insert(r);
        }
    }
    out
}

/// How the details name the user or role behind `who`: `user/NAME` or `role/NAME` (a role's
/// sessions are the role's).
fn name_of(who: &Identity) -> Option<String> {
    Some(match who {
        Identity::User { name, .. } => format!("user/{name}"),
        _ => format!("role/{}", who.role_name()?),
    })
}

/// The managed policies of the details by ARN: name and document.
fn managed_of(details: Option<&AuthorizationDetails>) -> HashMap<&str, (&str, &str)> {
    details
        .iter()
        .flat_map(|d| &d.policies)
        .filter_map(|p| Some((p.arn.as_str(), (p.name.as_str(), p.document.as_deref()?))))
        .collect()
}

impl<'a> Graph<'a> {
    /// The identity policies of an account's authorization details alone (`scan`: who may
    /// update a delegating key's policy through IAM; no one is diagnosed, no path searched).
    pub fn for_details(
        details: &'a AuthorizationDetails,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Graph<'a> {
        Graph {
            roles: Vec::new(),
            details: Some(details),
            now,
            holders: Default::default(),
            any_key: Default::default(),
            principals: principals_of(Some(details)),
            via_iam: Default::default(),
            any_key_all: Default::default(),
            managed: managed_of(Some(details)),
            parsed: Default::default(),
            subject: None,
            simulated: Vec::new(),
        }
    }

    pub fn new(ev: &'a Evidence, now: chrono::DateTime<chrono::Utc>) -> Graph<'a> {
        let mut roles: Vec<Role> = Vec::new();
        let mut add = |arn: &str, trust: &str| {
            let (Ok(identity), Ok(trust)) = (Identity::parse(arn), KeyPolicy::parse_trust(trust))
            else {
                return;
            };
            if !roles.iter().any(|r| r.arn == arn) {
                let mut named = Vec::new();
                let mut names_account = false;
                for g in grantees(&trust, ASSUME_ROLE, Some(arn), &Context::default(), now) {
                    if g.names_whole_account() {
                        names_account = true;
                    } else if let Ok(id) = Identity::parse(&g.principal) {
                        named.push(id);
                    }
                }
                roles.push(Role {
                    arn: arn.to_owned(),
                    identity,
                    trust,
                    named,
                    names_account,
                });
            }
        };
        if let Some(d) = &ev.authorization {
            for r in &d.roles {
                if let Some(t) = &r.trust_policy {
                    add(&r.arn, t);
                }
            }
        }
        for c in ev.restorer_checks.iter().chain(&ev.hop_roles) {
            if let Some(t) = &c.trust_policy {
                add(&c.principal, t);
            }
        }
        let managed = managed_of(ev.authorization.as_ref());
        let subject = Identity::parse(ev.subject.as_deref().unwrap_or(&ev.caller.arn)).ok();
        let simulated = ev
            .simulation
            .iter()
            .filter(|s| s.action.eq_ignore_ascii_case(ASSUME_ROLE))
            .filter_map(|s| {
                let role = Identity::parse(s.resource.as_deref()?).ok()?;
                let answer = match s.decision {
                    SimDecision::Allowed => Assume::Yes,
                    _ if !s.missing_context.is_empty() => Assume::Conditional,
                    _ => Assume::No,
                };
                Some((role, answer))
            })
            .collect();
        Graph {
            roles,
            details: ev.authorization.as_ref(),
            now,
            holders: Default::default(),
            any_key: Default::default(),
            principals: principals_of(ev.authorization.as_ref()),
            via_iam: Default::default(),
            any_key_all: Default::default(),
            managed,
            parsed: Default::default(),
            subject,
            simulated,
        }
    }

    fn role(&self, arn: &str) -> Option<&Role> {
        let wanted = Identity::parse(arn).ok()?;
        self.roles.iter().find(|r| same_role(&r.identity, &wanted))
    }

    /// Who a role's trust policy lets assume it (as the policy names them).
    pub fn assumable_by(&self, role_arn: &str) -> Vec<String> {
        let Some(role) = self.role(role_arn) else {
            return Vec::new();
        };
        grantees(
            &role.trust,
            ASSUME_ROLE,
            Some(&role.arn),
            &Context::default(),
            self.now,
        )
        .into_iter()
        .map(|g| g.principal)
        .collect()
    }

    /// Whether `who` may assume the role; `None` when its trust policy (or, for a trust policy
    /// that names only the account, `who`'s own IAM policies) is not known.
    pub fn can_assume(&self, who: &Identity, role_arn: &str) -> Option<Assume> {
        let role = self.role(role_arn)?;
        // Whatever the trust policy says: the root user and a federated user cannot call
        // AssumeRole (`Identity::can_call_assume_role`, STS API Reference).
        if !who.can_call_assume_role() {
            return Some(Assume::No);
        }
        let empty = Context::default();
        let trust = evaluate_for(
            &role.trust,
            who,
            ASSUME_ROLE,
            Some(&role.arn),
            &empty,
            self.now,
        );
        let other_account = who.account() != role.identity.account();
        match trust.decision {
            Decision::ExplicitDeny | Decision::ImplicitDeny => Some(Assume::No),
            Decision::Conditional => Some(Assume::Conditional),
            Decision::Allow if !other_account => Some(Assume::Yes),
            // The account is named (or another account's principal): its IAM policies decide.
            Decision::Allow | Decision::Delegated => self.identity_allows(who, &role.arn),
        }
    }

    fn identity_allows(&self, who: &Identity, role_arn: &str) -> Option<Assume> {
        let Some(holder) = self.holder(who) else {
            return self.simulated_for(who, role_arn);
        };
        let refs: Vec<&KeyPolicy> = holder.policies.iter().map(|(_, p)| p.as_ref()).collect();
        let empty = Context::default();
        Some(
            match identity_decision(
                &refs,
                holder.boundary.as_deref(),
                who,
                ASSUME_ROLE,
                Some(role_arn),
                &empty,
                self.now,
            ) {
                Decision::Allow => Assume::Yes,
                Decision::Conditional => Assume::Conditional,
                _ => Assume::No,
            },
        )
    }

    /// What the simulator said of the diagnosed principal assuming `role_arn`, if it was asked.
    fn simulated_for(&self, who: &Identity, role_arn: &str) -> Option<Assume> {
        let subject = self.subject.as_ref()?;
        if !same_role(subject, who) && subject != who {
            return None;
        }
        let role = Identity::parse(role_arn).ok()?;
        self.simulated
            .iter()
            .find(|(r, _)| same_role(r, &role))
            .map(|(_, a)| *a)
    }

    /// The identity policies of the user or role behind `who`, parsed once (managed policies
    /// once for everyone who holds them). `None` when the authorization details lack it.
    pub fn holder(&self, who: &Identity) -> Option<Rc<Holder>> {
        let name = name_of(who)?;
        if let Some(h) = self.holders.borrow().get(&name) {
            return h.clone();
        }
        let parsed = self.parse_holder(who).map(Rc::new);
        self.holders.borrow_mut().insert(name, parsed.clone());
        parsed
    }

    /// Whether the identity policies (and boundaries) of every user and role of the details say
    /// the same of `kms:PutKeyPolicy` for every key: who IAM lets update a key policy is then
    /// one answer for the whole account.
    pub fn same_for_any_key(&self) -> bool {
        *self.any_key_all.get_or_init(|| {
            self.details.is_none_or(|d| {
                d.users.iter().chain(&d.roles).all(|p| {
                    Identity::parse(&p.arn)
                        .ok()
                        .and_then(|who| self.holder(&who))
                        .is_none_or(|h| h.same_for_any_key())
                })
            })
        })
    }

    /// The permissions boundary (its ARN) of the user or role behind `who`, when the
    /// authorization details give one.
    pub fn boundary_of(&self, who: &Identity) -> Option<String> {
        self.details_of(who)?.boundary.clone()
    }

    /// The authorization details of the user or role behind `who`.
    fn details_of(&self, who: &Identity) -> Option<&'a IamPrincipalDetails> {
        self.principals.get(&name_of(who)?).copied()
    }

    /// The permissions boundary (its ARN) of the user or role behind `who`, when the
    /// authorization details give one that does not allow `action` on the key: `explicit` when a
    /// `Deny` in it matches. `None` when there is none, it allows, or it is not known.
    pub fn boundary_denies(
        &self,
        who: &Identity,
        action: &str,
        key_arn: Option<&str>,
    ) -> Option<(String, bool)> {
        let arn = self.details_of(who)?.boundary.clone()?;
        let boundary = self.holder(who)?.boundary.clone()?;
        let e = crate::policy::evaluate_for(
            &boundary,
            who,
            action,
            key_arn,
            &Context::default(),
            self.now,
        );
        match e.decision {
            Decision::ExplicitDeny => Some((arn, true)),
            Decision::ImplicitDeny => Some((arn, false)),
            _ => None,
        }
    }

    /// A managed policy and its name, parsed the first time anyone holds it.
    fn managed_policy(&self, arn: &str) -> Option<(String, Rc<KeyPolicy>)> {
        let (&key, &(name, document)) = self.managed.get_key_value(arn)?;
        if let Some(p) = self.parsed.borrow().get(key) {
            return p.clone().map(|p| (name.to_owned(), p));
        }
        let p = KeyPolicy::parse_identity(document).ok().map(Rc::new);
        self.parsed.borrow_mut().insert(key, p.clone());
        p.map(|p| (name.to_owned(), p))
    }

    /// Whether `who`'s IAM policies allow `sts:AssumeRole` on anything at all (a quick test
    /// before asking about one role; unknown policies count as maybe).
    fn may_assume_roles(&self, who: &Identity) -> bool {
        if !who.can_call_assume_role() {
            return false;
        }
        match self.holder(who) {
            Some(h) => h.policies.iter().any(|(_, p)| {
                p.statements.iter().any(|s| {
                    s.effect == crate::policy::Effect::Allow && s.covers_action(ASSUME_ROLE)
                })
            }),
            None => true,
        }
    }

    /// Whether `who` might assume `role`: the trust policy names it, or names the account and
    /// `who`'s policies allow assuming roles (`may_assume_roles`, asked once per `who`). A cheap
    /// test before `can_assume`.
    fn might_assume(who: &Identity, may_assume_roles: bool, role: &Role) -> bool {
        role.named.iter().any(|n| same_role(n, who)) || (role.names_account && may_assume_roles)
    }

    fn parse_holder(&self, who: &Identity) -> Option<Holder> {
        let details = self.details?;
        let holder = self.details_of(who)?;
        let mut inline: Vec<&NamedDocument> = holder.inline_policies.iter().collect();
        let mut attached: Vec<&str> = holder.attached.iter().map(String::as_str).collect();
        for g in details
            .groups
            .iter()
            .filter(|g| holder.groups.contains(&g.name))
        {
            inline.extend(&g.inline_policies);
            attached.extend(g.attached.iter().map(String::as_str));
        }
        let policies = inline
            .iter()
            .filter_map(|d| {
                let p = KeyPolicy::parse_identity(&d.document).ok()?;
                Some((d.name.clone(), Rc::new(p)))
            })
            .chain(attached.iter().filter_map(|a| self.managed_policy(a)))
            .collect();
        Some(Holder {
            policies,
            boundary: holder
                .boundary
                .as_deref()
                .and_then(|b| self.managed_policy(b))
                .map(|(_, p)| p),
        })
    }

    /// The shortest way from `start` to a role in `targets`, by at most `max_hops`
    /// `sts:AssumeRole` steps, unconditional first steps preferred. `start_arn` heads the path.
    ///
    /// The search runs backwards from the targets (few): level by level, the roles that can
    /// assume a role of the level before, checking at each level whether `start` can take the
    /// first step into it. Each role is placed once, so the work is about (roles × targets) per
    /// level, whatever the number of roles that trust the whole account.
    pub fn path(
        &self,
        start: &Identity,
        start_arn: &str,
        targets: &[String],
        max_hops: usize,
    ) -> Option<Vec<String>> {
        let wanted: Vec<Identity> = targets
            .iter()
            .filter_map(|t| Identity::parse(t).ok())
            .collect();
        let mut level: Vec<usize> = (0..self.roles.len())
            .filter(|&i| wanted.iter().any(|t| same_role(t, &self.roles[i].identity)))
            .filter(|&i| !same_role(&self.roles[i].identity, start))
            .collect();
        let mut seen: std::collections::HashSet<usize> = level.iter().copied().collect();
        // role → the next role on its way to a target
        let mut toward: HashMap<usize, usize> = HashMap::new();
        for hop in 1..=max_hops {
            let mut first = None;
            for &n in &level {
                match self.can_assume(start, &self.roles[n].arn) {
                    Some(Assume::Yes) => {
                        first = Some(n);
                        break;
                    }
                    Some(Assume::Conditional) => first = first.or(Some(n)),
                    _ => {}
                }
            }
            if let Some(mut n) = first {
                let mut path = vec![start_arn.to_owned(), self.roles[n].arn.clone()];
                while let Some(&next) = toward.get(&n) {
                    path.push(self.roles[next].arn.clone());
                    n = next;
                }
                return Some(path);
            }
            if hop == max_hops || level.is_empty() {
                return None;
            }
            let mut next_level = Vec::new();
            for (i, role) in self.roles.iter().enumerate() {
                if seen.contains(&i) || same_role(&role.identity, start) {
                    continue;
                }
                let may = self.may_assume_roles(&role.identity);
                let step = level.iter().copied().find(|&n| {
                    Self::might_assume(&role.identity, may, &self.roles[n])
                        && matches!(
                            self.can_assume(&role.identity, &self.roles[n].arn),
                            Some(Assume::Yes | Assume::Conditional)
                        )
                });
                if let Some(n) = step {
                    toward.insert(i, n);
                    seen.insert(i);
                    next_level.push(i);
                }
            }
            level = next_level;
        }
        None
    }
}

/// The same role (or user): same account and name. A session stands for its role.
fn same_role(a: &Identity, b: &Identity) -> bool {
    match (a, b) {
        (Identity::User { name: x, .. }, Identity::User { name: y, .. }) => {
            x == y && a.account() == b.account()
        }
        _ => match (a.role_name(), b.role_name()) {
            (Some(x), Some(y)) => x == y && a.account() == b.account(),
            _ => false,
        },
    }
}

/// `AWSReservedSSO_<PermissionSet>_<suffix>` under `/aws-reserved/sso.amazonaws.com/`: the role
/// IAM Identity Center makes for a permission set.
pub fn permission_set(arn: &str) -> Option<crate::diagnosis::model::PermissionSetName> {
    let (_, resource) = arn.split_once(":role/aws-reserved/sso.amazonaws.com/")?;
    let name = resource.rsplit('/').next()?;
    let rest = name.strip_prefix("AWSReservedSSO_")?;
    let (set, _suffix) = rest.rsplit_once('_')?;
    Some(set.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::ManagedPolicy;

    fn trust(principal: &str) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})
        .to_string()
    }

    fn role(name: &str, trust_policy: String, attached: &[&str]) -> IamPrincipalDetails {
        IamPrincipalDetails {
            arn: format!("arn:aws:iam::111122223333:role/{name}"),
            name: name.into(),
            path: "/".into(),
            attached: attached.iter().map(|a| a.to_string()).collect(),
            trust_policy: Some(trust_policy),
            ..Default::default()
        }
    }

    fn evidence(details: AuthorizationDetails) -> Evidence {
        let mut ev: Evidence =
            serde_json::from_str(include_str!("../../examples/evidence-locked-out.json")).unwrap();
        ev.authorization = Some(details);
        ev
    }

    fn arn(name: &str) -> String {
        format!("arn:aws:iam::111122223333:role/{name}")
    }

    #[test]
    fn one_hop_two_hops_conditions_and_the_caller_s_own_iam_policies() {
        let assume_any = "arn:aws:iam::111122223333:policy/AssumeAny";
        let details = AuthorizationDetails {
            roles: vec![
                role("Admin", trust(&arn("Nobody")), &[]),
                // Names the caller's role: assumable on the trust policy alone.
                role("Hop", trust(&arn("Admin")), &[]),
                // Names only Hop: two hops from Admin.
                role("KeyAdmin", trust(&arn("Hop")), &[]),
                // Names the account: Admin's own IAM policies decide (none allow).
                role("Ops", trust("arn:aws:iam::111122223333:root"), &[]),
                role("Allowed", trust("arn:aws:iam::111122223333:root"), &[]),
            ],
            policies: vec![ManagedPolicy {
                arn: assume_any.into(),
                name: "AssumeAny".into(),
                document: Some(
                    serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
                        .to_string(),
                ),
            }],
            complete: true,
            ..Default::default()
        };
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let ev = evidence(details.clone());
        let g = Graph::new(&ev, now);
        let admin = Identity::parse("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
        assert_eq!(g.can_assume(&admin, &arn("Hop")), Some(Assume::Yes));
        assert_eq!(g.can_assume(&admin, &arn("KeyAdmin")), Some(Assume::No));
        assert_eq!(g.can_assume(&admin, &arn("Ops")), Some(Assume::No));
        assert_eq!(g.can_assume(&admin, &arn("Unknown")), None);
        assert_eq!(
            g.path(&admin, "alice", &[arn("KeyAdmin")], 2),
            Some(vec!["alice".into(), arn("Hop"), arn("KeyAdmin")])
        );
        assert_eq!(g.path(&admin, "alice", &[arn("KeyAdmin")], 1), None);
        assert_eq!(g.assumable_by(&arn("KeyAdmin")), [arn("Hop")]);

        // With an IAM policy that allows sts:AssumeRole, a trust policy naming the account
        // suffices.
        let mut with_policy = details;
        with_policy.roles[0].attached = vec![assume_any.into()];
        let ev = evidence(with_policy);
        let g = Graph::new(&ev, now);
        assert_eq!(g.can_assume(&admin, &arn("Ops")), Some(Assume::Yes));
    }

    /// The root user and a federated user cannot call AssumeRole, whatever a trust policy says
    /// (STS API Reference): no way there starts with them.
    #[test]
    fn the_root_user_and_a_federated_user_take_no_role() {
        let details = AuthorizationDetails {
            roles: vec![
                role("KeyAdmin", trust("arn:aws:iam::111122223333:root"), &[]),
                role(
                    "Named",
                    trust("arn:aws:sts::111122223333:federated-user/bob"),
                    &[],
                ),
            ],
            complete: true,
            ..Default::default()
        };
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let ev = evidence(details);
        let g = Graph::new(&ev, now);
        let root = Identity::parse("arn:aws:iam::111122223333:root").unwrap();
        let bob = Identity::parse("arn:aws:sts::111122223333:federated-user/bob").unwrap();
        for who in [&root, &bob] {
            for target in [arn("KeyAdmin"), arn("Named")] {
                assert_eq!(g.can_assume(who, &target), Some(Assume::No), "{who}");
            }
            assert_eq!(g.path(who, "me", &[arn("KeyAdmin"), arn("Named")], 2), None);
        }
    }

    #[test]
    fn identity_center_roles_are_named_by_their_permission_set() {
        assert_eq!(
            permission_set(
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_KeyAdministrators_0123456789abcdef"
            )
            .as_deref(),
            Some("KeyAdministrators")
        );
        assert_eq!(
            permission_set("arn:aws:iam::111122223333:role/KeyAdmin"),
            None
        );
    }
}
