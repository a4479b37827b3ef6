//! `kms-doctor diagnose`: the evidence record in, the contract's report out. Pure: the
//! evidence was gathered (or loaded from a file) before.

use super::case::{Asked, KeyCase, OrgScope, PolicyScope};
use super::explain::layer_results;
use super::judge::{Judgement, existence, judge, org_policies, parse_in_force};
use super::model::Text;
use super::model::{
    Basis, CallerReport, Code, DiagnoseReport, Evidence, FailedAttempt, Finding, HistorySummary,
    Outcome, PolicyInForce, SCHEMA_VERSION, SupportCase, Verdict, sort_findings,
};
use super::restore_paths::{Graph, permission_set};
use super::rules::policy as policy_rules;
use super::rules::{has, live};
use super::steps::{self, StepFacts};
use super::verdict::{ActionFacts, verdict_for};
use crate::diagnosis::model::{Access, LayerDecision, LayerResult, PolicySource, Restorer};
use crate::diagnosis::model::{AccountId, CallRecord, KeyManager, Operation, PolicyType, Service};
use crate::policy::KeyPolicy;
use crate::policy::OrgPolicies;
use crate::policy::{
    Context, Evaluation, GET_KEY_POLICY, Identity, OrgPolicyType, OrgRequest, PUT_KEY_POLICY,
    delegation_statement, evaluate_for,
};
use std::collections::BTreeMap;

/// What `diagnose` is told besides the evidence.
#[derive(Debug, Clone, Copy)]
pub struct DiagnoseOptions<'a> {
    /// `--write-fix FILE`: the next steps name the file the fix is written to.
    pub write_fix: Option<&'a str>,
    /// `--max-hops`: the longest chain of `sts:AssumeRole` steps searched to a restorer.
    pub max_hops: usize,
    /// `--context`, `--absent`: what the key policy's conditions are decided against (the
    /// inferred verdicts; what AWS answered stays as it answered).
    pub context: &'a Context,
    /// `--without`: what the key would lose were these principals gone.
    pub without: &'a [super::model::Removed],
}

static NO_CONTEXT: std::sync::LazyLock<Context> = std::sync::LazyLock::new(Context::default);

impl Default for DiagnoseOptions<'_> {
    fn default() -> Self {
        DiagnoseOptions {
            write_fix: None,
            max_hops: 2,
            context: &NO_CONTEXT,
            without: &[],
        }
    }
}

/// The caller's own `GetKeyPolicy`, when AWS denied it: its message names the deciding layer.
fn denied_read(ev: &Evidence) -> Option<&CallRecord> {
    ev.calls.iter().find(|c| {
        c.service == Service::Kms
            && c.operation == Operation::GetKeyPolicy
            && c.outcome == Outcome::AccessDenied
    })
}

/// The principal diagnosed, with the role path learned from IAM where there is one.
fn subject_identity(ev: &Evidence) -> Option<Identity> {
    let (arn, principal_arn) = match &ev.subject {
        Some(s) => (s, ev.subject_principal_arn.as_deref()),
        None => (&ev.caller.arn, ev.caller_principal_arn.as_deref()),
    };
    Identity::parse(arn).ok().map(|id| match id {
        Identity::AssumedRole {
            partition,
            account,
            role_name,
            session,
            ..
        } => {
            let role_path = principal_arn.and_then(|p| match Identity::parse(p) {
                Ok(Identity::Role { path, .. }) => path,
                _ => None,
            });
            Identity::AssumedRole {
                partition,
                account,
                role_name,
                session,
                role_path,
            }
        }
        other => other,
    })
}

/// `--without`: what the key would lose were those principals gone; said as unknown when the
/// policy in force is.
fn without_findings(case: &KeyCase, without: &[super::model::Removed]) -> Vec<Finding> {
    let key = case
        .scope
        .key_arn
        .map_or_else(|| Text::from("the key"), |arn| Text::code(arn.to_owned()));
    if case.policy.is_none() {
        return vec![
            Finding::new(
                Code::EvidenceIncomplete,
                "What the key would lose without the principals named is unknown",
            )
            .detail("--without needs the policy in force, and it could not be learned.")
            .help("Recover the policy first (--logs or --athena-table), then ask again."),
        ];
    }
    super::without::impact(&key, case, without)
        .findings
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

/// What the evidence says of every request about the key (`judge::known_context`): the
/// organisation's ID only for principals of the caller's account (DescribeOrganization answered
/// for the caller's organisation).
fn known_context(ev: &Evidence, subject: Option<&Identity>) -> Context {
    let same_account = subject.and_then(Identity::account) == Some(&*ev.caller.account);
    super::judge::known_context(
        ev.organization.as_ref().filter(|_| same_account),
        ev.key.region.as_deref(),
    )
}

/// What `diagnose` knows of the key and of who asks, derived once from the evidence: the
/// policy in force (parsed), the principal's evaluations of it, the organisation's policies
/// that apply, and who the policy lets update it. Every stage below reads it.
struct Case<'e> {
    ev: &'e Evidence,
    opts: DiagnoseOptions<'e>,
    now: chrono::DateTime<chrono::Utc>,
    subject: Option<Identity>,
    partition: String,
    key_account: Option<&'e str>,
    key_arn: Option<&'e str>,
    source: PolicySource,
    policy_text: Option<String>,
    /// The policy in force, when it is known and parses.
    policy: Option<KeyPolicy>,
    /// The principal's evaluations of it: `kms:GetKeyPolicy`, then `kms:PutKeyPolicy`.
    evaluations: Vec<Evaluation>,
    existence: BTreeMap<&'e str, Option<bool>>,
    aws_managed: bool,
    /// Known from the key's ARN alone: no policy needed.
    cross_account: bool,
    /// The organisation's SCPs and RCPs, when they could be read.
    org: Option<OrgPolicies>,
    /// Exempt from RCPs: AWS managed, or in the management account.
    exempt_key: bool,
    /// Trust and identity policies, parsed once for the IAM restorers and the restore paths.
    graph: Graph<'e>,
    /// What the evidence says of every request about the key (`known_context`).
    known: Context,
}

const ACTIONS: [&str; 2] = [GET_KEY_POLICY, PUT_KEY_POLICY];

impl<'e> Case<'e> {
    fn new(
        ev: &'e Evidence,
        now: chrono::DateTime<chrono::Utc>,
        opts: DiagnoseOptions<'e>,
    ) -> (Case<'e>, Option<Finding>) {
        let subject = subject_identity(ev);
        let partition = subject
            .as_ref()
            .and_then(|s| s.partition())
            .unwrap_or("aws")
            .to_owned();
        let key_account = ev.key.account.as_deref();
        let in_force = ev.policy_in_force(&partition);
        let source = PolicyInForce::source(in_force.as_ref());
        let policy_text = in_force.map(|p| p.text);
        let (policy, unreadable) = match policy_text.as_deref().map(parse_in_force) {
            Some(Ok(p)) => (Some(p), None),
            Some(Err(unreadable)) => (None, Some(*unreadable)),
            None => (None, None),
        };
        let key_arn = ev.key.arn.as_deref();
        // The caller's own GetKeyPolicy was a real request, made without the context the
        // operator supposes (--context): it is judged as it was made.
        let made = |action: &str| {
            action == GET_KEY_POLICY
                && ev.subject.is_none()
                && matches!(ev.get_key_policy, Some(Outcome::Ok | Outcome::AccessDenied))
        };
        let known = known_context(ev, subject.as_ref());
        let mut supposed = known.clone();
        supposed.overlay(opts.context);
        let evaluations: Vec<Evaluation> = match (&policy, &subject) {
            (Some(p), Some(who)) => ACTIONS
                .iter()
                .map(|a| {
                    let context = if made(a) { &known } else { &supposed };
                    evaluate_for(p, who, a, key_arn, context, now)
                })
                .collect(),
            _ => Vec::new(),
        };
        let aws_managed = ev.key.manager == Some(KeyManager::Aws);
        let org = ev.organization.as_ref().and_then(org_policies);
        let exempt_key = org
            .as_ref()
            .is_some_and(|o| o.exempts_key(key_account, aws_managed));
        let cross_account = match (key_account, subject.as_ref().and_then(|s| s.account())) {
            (Some(k), Some(p)) => k != p,
            _ => false,
        };
        let case = Case {
            ev,
            opts,
            now,
            subject,
            partition,
            key_account,
            key_arn,
            source,
            policy_text,
            policy,
            evaluations,
            existence: existence(&ev.restorer_checks),
            aws_managed,
            cross_account,
            org,
            exempt_key,
            graph: Graph::new(ev, now),
            known,
        };
        (case, unreadable)
    }

    /// A restorer the organisation's policies deny kms:PutKeyPolicy is kept, marked, and not
    /// counted.
    fn org_scope(&self) -> OrgScope<'_> {
        OrgScope {
            policies: self.org.as_ref(),
            exempt_key: self.exempt_key,
        }
    }

    /// The key for nobody in particular (`--without`): can anyone still update its policy?
    fn lockout_case(&self) -> KeyCase<'_, 'e> {
        KeyCase {
            aws_managed: self.aws_managed,
            existence: self.existence.clone(),
            recreated: super::judge::recreated(&self.ev.restorer_checks, &self.source),
            boundaries: super::judge::boundaries(&self.ev.restorer_checks),
            iam: self.ev.authorization.as_ref().map(|d| (d, &self.graph)),
            context: &self.known,
            ..KeyCase::lockout(self.policy.as_ref(), self.policy_scope(), self.now)
        }
    }

    fn policy_scope(&self) -> PolicyScope<'_> {
        PolicyScope {
            account: self.key_account.unwrap_or_default(),
            account_known: self.key_account.is_some(),
            partition: &self.partition,
            key_arn: self.key_arn,
            source: self.source.kind,
            org: self.org_scope(),
        }
    }

    /// The one judgement ([`judge`]) of the key, for the principal diagnosed: who can update
    /// the policy (the key policy's principals, and through the account delegation the IAM
    /// users and roles whose own policies allow it) and the policy's findings. An IAM
    /// restorer's own allow may be cut by the SCP the simulator reported.
    fn judged(&self) -> Judgement {
        // Nobody can update an AWS managed key's policy: that is `aws-managed-key`, not a
        // shortcoming of the policy.
        let evaluations: Vec<Evaluation> = self
            .evaluations
            .iter()
            .filter(|e| !(self.aws_managed && e.action == PUT_KEY_POLICY))
            .cloned()
            .collect();
        let actions = ACTIONS.map(str::to_owned);
        let asked = match &self.subject {
            Some(who) => Asked::Principal {
                who,
                actions: &actions,
                evaluations: &evaluations,
            },
            None => Asked::Actions(&actions),
        };
        let mut judged = judge(&KeyCase {
            policy: self.policy.as_ref(),
            scope: self.policy_scope(),
            aws_managed: self.aws_managed,
            existence: self.existence.clone(),
            recreated: super::judge::recreated(&self.ev.restorer_checks, &self.source),
            boundaries: super::judge::boundaries(&self.ev.restorer_checks),
            iam: self.ev.authorization.as_ref().map(|d| (d, &self.graph)),
            asked,
            context: &self.known,
            undecided: false,
            now: self.now,
        });
        let organizations_deny = self
            .ev
            .simulation
            .iter()
            .any(|s| s.allowed_by_organizations == Some(false));
        if organizations_deny {
            for r in judged.restorers.iam_mut() {
                r.conditions_on.push(super::model::ConditionOn::Layer(
                    super::model::OrgLayer::ServiceControlPolicies,
                ));
            }
        }
        judged
    }

    /// What the organisation's policies decide for the principal, when they could be read.
    fn layers(&self) -> Vec<LayerResult> {
        match (&self.org, &self.subject) {
            (Some(org), Some(who)) if !self.ev.key.not_found => ACTIONS
                .iter()
                .flat_map(|a| {
                    layer_results(
                        org,
                        &OrgRequest {
                            principal: who,
                            action: a,
                            resource: self.key_arn,
                            context: self.opts.context,
                            now: self.now,
                        },
                        self.exempt_key,
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The judgement's findings, then the organisation's for the principal (the policy and
    /// statement named first, so that what the simulator or AWS's words add to the same code
    /// joins it).
    fn policy_findings(&self, judged: &mut Judgement, layers: &[LayerResult]) -> Vec<Finding> {
        let mut findings = std::mem::take(&mut judged.findings);
        if self.ev.key.not_found {
            findings = vec![live::key_not_found(self.ev)];
            live::restorer_findings(&mut findings, judged.restorers.named());
        }
        let held: Vec<(&str, &crate::policy::BlockedBy)> = judged
            .restorers
            .all()
            .filter_map(|r| Some((r.principal.as_str(), r.blocked_by.as_ref()?)))
            .collect();
        findings.extend(policy_rules::org_findings(layers, &held));
        findings
    }

    /// Access verdicts, action by action, with the findings the live rules add for them.
    fn access(&self, layers: &[LayerResult], findings: &mut Vec<Finding>) -> Vec<Access> {
        let ev = self.ev;
        let mut access = Vec::new();
        for (i, action) in ACTIONS.iter().enumerate() {
            let sim = ev
                .simulation
                .iter()
                .find(|s| s.action.eq_ignore_ascii_case(action));
            // Only the caller's own GetKeyPolicy was observed.
            let observed = (*action == GET_KEY_POLICY && ev.subject.is_none())
                .then_some(ev.get_key_policy)
                .flatten()
                .filter(|o| matches!(o, Outcome::Ok | Outcome::AccessDenied));
            let denied = observed
                .filter(|o| *o == Outcome::AccessDenied)
                .and(denied_read(ev));
            let a = verdict_for(
                action,
                ActionFacts {
                    eval: self.evaluations.get(i),
                    sim,
                    observed,
                    denial: denied.and_then(|c| c.denial),
                    aws_managed: self.aws_managed,
                    cross_account: self.cross_account,
                    not_found: ev.key.not_found,
                    beyond_boundary: match (&self.policy, self.evaluations.get(i), &self.subject) {
                        (Some(p), Some(e), Some(who)) => {
                            crate::policy::names_principal_itself(p, e, who)
                        }
                        _ => false,
                    },
                },
            );
            if !a.because.is_empty() {
                live::iam_findings(findings, ev, action, &a.because, sim, self.subject.as_ref());
            }
            if let Some(call) = denied {
                live::stated_findings(findings, ev, &a, call, self.evaluations.get(i), sim);
            }
            access.push(a);
        }
        org_denies(&mut access, layers);
        self.unread_layer_leaves_update_unknown(&mut access);
        access
    }

    /// A layer kms-doctor cannot read (or the simulation missed) denied the caller's read:
    /// whether it denies the update as well is not known, so an update inferred from the rest
    /// is not claimed.
    fn unread_layer_leaves_update_unknown(&self, access: &mut [Access]) {
        let get_sim = self
            .ev
            .simulation
            .iter()
            .find(|s| s.action.eq_ignore_ascii_case(GET_KEY_POLICY));
        let unread_layer = access
            .iter()
            .find(|a| a.action == GET_KEY_POLICY)
            .and_then(|a| a.because.first())
            .is_some_and(|c| match c {
                // So is an answer AWS contradicted: the policy the inference stands on is in
                // doubt.
                Code::RcpDeny
                | Code::VpcEndpointPolicyDeny
                | Code::SessionPolicyDeny
                | Code::DenialUnexplained => true,
                // A layer the simulation did not show for this very call is not trusted for
                // the other either.
                Code::ScpDeny => get_sim.is_none_or(|s| s.allowed_by_organizations != Some(false)),
                Code::PermissionsBoundaryDeny => {
                    get_sim.is_none_or(|s| s.allowed_by_permissions_boundary != Some(false))
                }
                _ => false,
            });
        if unread_layer {
            for a in access.iter_mut().filter(|a| {
                a.action == PUT_KEY_POLICY
                    && a.verdict == Verdict::Allowed
                    && a.basis == Basis::Inferred
            }) {
                a.verdict = Verdict::Unknown;
            }
        }
    }

    /// The key's, its history's and its restorers' findings, what the evidence lacks, and
    /// `--without`.
    fn live_findings(&self, access: &[Access], findings: &mut Vec<Finding>) {
        let ev = self.ev;
        live::key_findings(findings, ev, self.aws_managed, self.cross_account);
        if self.policy.is_none() {
            live::unexplained_denial(findings, ev, access);
        }
        live::history_findings(findings, ev);
        live::incomplete_findings(findings, ev, self.policy.is_some());
        if !self.opts.without.is_empty() {
            findings.extend(without_findings(&self.lockout_case(), self.opts.without));
        }
        merge_same_code(findings);
        live::annotate_iam_side(findings, ev);
        sort_findings(findings);
    }

    /// An organisation's policy that denied the caller (AWS's message, or the simulator) may
    /// hold the restorers too; when the policies were not read, whether it does is not known.
    fn unread_org_conditions(&self, findings: &[Finding], restorers: &mut [Restorer]) {
        let stated = denied_read(self.ev)
            .and_then(|c| c.denial)
            .map(|d| d.policy_type);
        let org_layer = if stated == Some(PolicyType::Rcp) || has(findings, Code::RcpDeny) {
            Some(super::model::OrgLayer::ResourceControlPolicies)
        } else if stated == Some(PolicyType::Scp) || has(findings, Code::ScpDeny) {
            Some(super::model::OrgLayer::ServiceControlPolicies)
        } else {
            None
        };
        if let Some(layer) = org_layer.filter(|_| self.org.is_none()) {
            for r in restorers {
                let layer = super::model::ConditionOn::Layer(layer);
                if !r.conditions_on.contains(&layer) {
                    r.conditions_on.push(layer);
                }
            }
        }
    }

    /// The way from the diagnosed principal to each restorer, and the shortest of them (itself
    /// alone when it may update the policy now), with whether a step hangs on a condition.
    fn ways(
        &self,
        restorers: &mut [Restorer],
        access: &[Access],
        findings: &mut Vec<Finding>,
    ) -> (Option<Vec<String>>, bool) {
        let ev = self.ev;
        let subject_arn = ev.subject.clone().unwrap_or_else(|| ev.caller.arn.clone());
        for r in restorers.iter_mut() {
            r.permission_set = permission_set(&r.principal);
            if !matches!(Identity::parse(&r.principal), Ok(Identity::Role { .. })) {
                continue;
            }
            r.assumable_by = self.graph.assumable_by(&r.principal);
            if let Some(who) = &self.subject {
                r.caller_can_assume = self.graph.can_assume(who, &r.principal);
                // A restorer the organisation's policies hold is no way out.
                if r.counts() {
                    r.path = self.graph.path(
                        who,
                        &subject_arn,
                        std::slice::from_ref(&r.principal),
                        self.opts.max_hops,
                    );
                }
            }
        }
        let can_restore_now = access
            .iter()
            .any(|a| a.action == PUT_KEY_POLICY && a.verdict == Verdict::Allowed);
        let restore_path = if can_restore_now {
            Some(vec![subject_arn.clone()])
        } else {
            restorers
                .iter()
                .filter_map(|r| r.path.clone())
                .min_by_key(|p| p.len())
        };
        // The principal can restore access itself, yet something is denied: it is the one to
        // act.
        let something_denied = access.iter().any(|a| a.verdict == Verdict::Denied);
        if can_restore_now && something_denied && !ev.key.not_found {
            findings.push(live::restorer_reachable(
                std::slice::from_ref(&subject_arn),
                false,
            ));
            sort_findings(findings);
        }
        // A step that depends on a condition (MFA, an external ID) makes the whole way so.
        let path_conditional = restore_path.as_ref().is_some_and(|path| {
            path.windows(2).enumerate().any(|(i, w)| {
                let who = if i == 0 {
                    self.subject.clone()
                } else {
                    Identity::parse(&w[0]).ok()
                };
                who.is_some_and(|who| {
                    self.graph.can_assume(&who, &w[1]) == Some(super::model::Assume::Conditional)
                })
            })
        });
        if let Some(path) = restore_path.as_ref().filter(|p| p.len() > 1) {
            findings.push(live::restorer_reachable(path, path_conditional));
            sort_findings(findings);
        }
        (restore_path, path_conditional)
    }

    /// Who the policy in force lets undo a deadline (cancel the deletion, enable the key): the
    /// principals of the key's account it names for that action (neither works across
    /// accounts); `None` when the policy is not known.
    fn deadline_by(&self) -> Option<Vec<String>> {
        let (action, _) = steps::deadline(self.ev)?;
        let policy = self.policy.as_ref()?;
        let mut who: Vec<String> =
            crate::policy::grantees(policy, action, self.key_arn, &self.known, self.now)
                .into_iter()
                .filter(|g| super::case::in_key_account(&g.principal, self.key_account))
                .map(|g| g.principal)
                .collect();
        who.sort();
        who.dedup();
        Some(who)
    }

    /// The policy AWS Support is asked to set: the policy in force with the account delegation
    /// added, and without the `Deny` statements that would still deny it `kms:PutKeyPolicy`
    /// for every principal of the account — a request must not keep what holds everyone.
    fn for_support(&self, text: &str) -> String {
        let account = self.key_account.unwrap_or(&self.ev.caller.account);
        let with = self.with_delegation(text);
        let (Ok(policy), Ok(mut doc)) = (
            KeyPolicy::parse(&with),
            serde_json::from_str::<serde_json::Value>(&with),
        ) else {
            return with;
        };
        let everyone = Identity::Account {
            partition: self.partition.clone(),
            account: account.to_owned(),
        };
        let holding: Vec<usize> = crate::policy::evaluate(
            &policy,
            &crate::policy::Request {
                principal: &everyone,
                action: PUT_KEY_POLICY,
                key_arn: self.key_arn,
                context: &Context::for_account_delegation(&everyone, self.now),
            },
        )
        .statements
        .iter()
        .filter(|t| {
            t.effect == crate::policy::Effect::Deny && t.applies == crate::policy::Applies::Yes
        })
        .map(|t| t.index)
        .collect();
        if holding.is_empty() {
            return with;
        }
        if let Some(serde_json::Value::Array(list)) = doc.get_mut("Statement") {
            let mut i = 0;
            list.retain(|_| {
                let keep = !holding.contains(&i);
                i += 1;
                keep
            });
        }
        serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n"
    }

    /// The policy in force with the account delegation added, for the fix and AWS Support.
    fn with_delegation(&self, text: &str) -> String {
        with_delegation(
            text,
            &self.partition,
            self.key_account.unwrap_or(&self.ev.caller.account),
        )
    }
}

/// An SCP or RCP that denies an action makes it denied, whatever else allows it.
fn org_denies(access: &mut [Access], layers: &[LayerResult]) {
    for l in layers
        .iter()
        .filter(|l| l.decision == LayerDecision::Denied)
    {
        let code = match l.policy_type {
            OrgPolicyType::Scp => Code::ScpDeny,
            OrgPolicyType::Rcp => Code::RcpDeny,
        };
        if let Some(a) = access.iter_mut().find(|a| a.action == l.action) {
            if !a.because.contains(&code) {
                a.because.push(code);
            }
            if a.basis == Basis::Inferred {
                a.verdict = Verdict::Denied;
            }
            a.because.retain(|c| *c != Code::EvidenceIncomplete);
        }
    }
}

/// Each verdict names only causes that are findings; an inferred cause of an observed denial
/// (the delegation missing, the policy unread) is named on it too.
fn name_causes(access: &mut [Access], findings: &[Finding], policy_known: bool) {
    let delegation_missing = has(findings, Code::RootDelegationMissing);
    if let Some(get) = access.iter_mut().find(|a| a.action == GET_KEY_POLICY)
        && get.verdict == Verdict::Denied
        && get.because.is_empty()
        && !policy_known
        && delegation_missing
    {
        get.because.push(Code::RootDelegationMissing);
    }
    for a in access {
        a.because.retain(|c| findings.iter().any(|f| f.code == *c));
    }
}

pub fn diagnose(
    ev: &Evidence,
    now: chrono::DateTime<chrono::Utc>,
    opts: DiagnoseOptions,
) -> DiagnoseReport {
    let (case, unreadable) = Case::new(ev, now, opts);
    let mut judged = case.judged();
    let layers = case.layers();
    let mut findings: Vec<Finding> = unreadable.into_iter().collect();
    findings.extend(case.policy_findings(&mut judged, &layers));
    let mut access = case.access(&layers, &mut findings);
    case.live_findings(&access, &mut findings);
    name_causes(&mut access, &findings, case.policy.is_some());
    let unless_created = std::mem::take(&mut judged.restorers.unless_created);
    let mut restorers = judged.restorers.into_list();
    case.unread_org_conditions(&findings, &mut restorers);
    let (restore_path, path_conditional) = case.ways(&mut restorers, &access, &mut findings);
    report(
        &case,
        Judged {
            unless_created,
            findings,
            access,
            restorers,
            layers,
            restore_path,
            path_conditional,
        },
    )
}

/// What the stages decided, for the report.
struct Judged {
    /// See `Restorers::unless_created`.
    unless_created: Vec<String>,
    findings: Vec<Finding>,
    access: Vec<Access>,
    restorers: Vec<Restorer>,
    layers: Vec<LayerResult>,
    restore_path: Option<Vec<String>>,
    path_conditional: bool,
}

/// The contract's report: the next steps and the summary from what was decided, the support
/// case when nobody can restore access, and the evidence it stands on.
fn report(case: &Case, j: Judged) -> DiagnoseReport {
    let ev = case.ev;
    let policy_known = case.policy.is_some();
    let fix = match &case.policy_text {
        Some(text)
            if policy_known
                && has(&j.findings, Code::RootDelegationMissing)
                && !case.aws_managed =>
        {
            Some(case.with_delegation(text))
        }
        _ => None,
    };
    let facts = StepFacts {
        restorers: &j.restorers,
        source: &case.source,
        subject: case.subject.as_ref(),
        fix_written_to: case.opts.write_fix.filter(|_| fix.is_some()),
        org_blocks: &j
            .layers
            .iter()
            .filter_map(|l| l.blocked_by.clone())
            .collect::<Vec<_>>(),
        put_verdict: j
            .access
            .iter()
            .find(|a| a.action == PUT_KEY_POLICY)
            .map(|a| a.verdict),
        restore_path: j.restore_path.as_deref(),
        path_conditional: j.path_conditional,
        policy_known,
        deadline_by: case.deadline_by(),
        unless_created: &j.unless_created,
    };
    let next_steps = steps::next_steps(ev, &j.findings, &facts);
    let summary = steps::summary(ev, &j.findings, &j.access, &facts, &next_steps);
    let source = &case.source;
    let support_case = has(&j.findings, Code::NoRestorer).then(|| SupportCase {
        key_arn: ev.key.arn.clone(),
        region: ev.key.region.clone().or_else(|| ev.region.clone()),
        account: ev.key.account.clone(),
        policy: case
            .policy_text
            .as_deref()
            .map(|t| case.for_support(t))
            .and_then(|t| serde_json::from_str(&t).ok()),
        removed_by: (source.event_id.is_some() || source.event_time.is_some())
            .then(|| source.clone()),
    });
    DiagnoseReport {
        schema_version: SCHEMA_VERSION,
        summary,
        key: ev.key.clone(),
        caller: CallerReport {
            arn: ev.caller.arn.clone(),
            account: Some(ev.caller.account.clone()),
            principal_arn: ev.caller_principal_arn.clone(),
        },
        principal: ev.subject.as_ref().map(|s| CallerReport {
            arn: s.clone(),
            account: Identity::parse(s)
                .ok()
                .and_then(|i| i.account().map(AccountId::from)),
            principal_arn: ev.subject_principal_arn.clone(),
        }),
        access: j.access,
        findings: j.findings,
        // Without the policy in force, who can restore access is not known: not "no one".
        restorers: policy_known.then_some(j.restorers),
        policy_source: case.source.clone(),
        support_case,
        next_steps,
        restore_path: j.restore_path,
        restore_path_conditional: j.path_conditional,
        calls: ev.calls.clone(),
        policy: case
            .policy_text
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok()),
        history: ev.history.as_ref().map(history_summary),
        notes: ev.notes.iter().map(|n| live::note_text(n, ev)).collect(),
        fix,
        calls_listed: false,
    }
}

fn history_summary(h: &super::model::History) -> HistorySummary {
    HistorySummary {
        lookback_days: h.lookback_days,
        pages: h.pages,
        events_scanned: h.events_scanned,
        skipped_records: h.skipped_records,
        complete: h.complete,
        cut_short: h.cut_short.clone(),
        failed_attempts: h
            .failed_attempts
            .iter()
            .map(|e| FailedAttempt {
                event_id: e.event_id.clone(),
                event_time: e.event_time,
                changed_by: e.changed_by.clone(),
                error_code: e.error_code.clone(),
                error_message: e.error_message.clone(),
            })
            .collect(),
    }
}

/// One finding per code: the policy rules already merge actions; the live rules may add a
/// second finding of a code for the other action.
fn merge_same_code(findings: &mut Vec<Finding>) {
    let mut merged: Vec<Finding> = Vec::new();
    for f in findings.drain(..) {
        let mergeable = !matches!(
            f.code,
            Code::OrphanedPrincipal | Code::RestorerMissing | Code::EvidenceIncomplete
        );
        match merged.iter_mut().find(|m| mergeable && m.code == f.code) {
            Some(m) => {
                for e in f.evidence {
                    m.add_evidence(e);
                }
            }
            None => merged.push(f),
        }
    }
    *findings = merged;
}

/// The policy in force with the account delegation statement added first, pretty-printed.
fn with_delegation(text: &str, partition: &str, account: &str) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({}));
    let statement = delegation_statement(partition, account);
    match doc.get_mut("Statement") {
        Some(serde_json::Value::Array(list)) => list.insert(0, statement),
        Some(single) => {
            let one = single.take();
            *single = serde_json::Value::Array(vec![statement, one]);
        }
        None => {
            doc["Version"] = serde_json::json!("2012-10-17");
            doc["Statement"] = serde_json::json!([statement]);
        }
    }
    serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n"
}
