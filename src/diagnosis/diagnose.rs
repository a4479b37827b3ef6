//! `kms-doctor diagnose`: the evidence record in, the contract's report out. Pure: the
//! evidence was gathered (or loaded from a file) before.

use super::explain::layer_results;
use super::judge::{
    KeyPolicyRestorers, OrgScope, PolicyScope, existence, held_by_organization,
    key_policy_restorers, org_policies, parse_in_force,
};
use super::model::Text;
use super::model::{
    Basis, CallerReport, Code, DiagnoseReport, Evidence, FailedAttempt, Finding, HistorySummary,
    Outcome, PolicyInForce, SCHEMA_VERSION, SupportCase, Verdict, sort_findings,
};
use super::restore_paths::{Graph, permission_set};
use super::rules::policy::{self as policy_rules, PolicyFacts};
use super::rules::{has, live};
use super::steps::{self, StepFacts};
use super::verdict::{ActionFacts, verdict_for};
use crate::diagnosis::model::{AccountId, CallRecord, KeyManager, Operation, PolicyType, Service};
use crate::diagnosis::model::{LayerDecision, LayerResult};
use crate::policy::KeyPolicy;
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
fn without_findings(
    policy: Option<&KeyPolicy>,
    scope: &PolicyScope,
    existence: &BTreeMap<&str, Option<bool>>,
    iam: Option<&[String]>,
    without: &[super::model::Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Finding> {
    let key = scope
        .key_arn
        .map_or_else(|| Text::from("the key"), |arn| Text::code(arn.to_owned()));
    match policy {
        Some(policy) => super::without::impact(&key, policy, scope, existence, iam, without, now)
            .findings
            .into_iter()
            .map(|(f, _)| f)
            .collect(),
        None => vec![
            Finding::new(
                Code::EvidenceIncomplete,
                "What the key would lose without the principals named is unknown",
            )
            .detail("--without needs the policy in force, and it could not be learned.")
            .help("Recover the policy first (--logs or --athena-table), then ask again."),
        ],
    }
}

pub fn diagnose(
    ev: &Evidence,
    now: chrono::DateTime<chrono::Utc>,
    opts: DiagnoseOptions,
) -> DiagnoseReport {
    let subject = subject_identity(ev);
    let partition = subject
        .as_ref()
        .and_then(|s| s.partition())
        .unwrap_or("aws")
        .to_owned();
    let key_account = ev.key.account.as_deref();

    // The policy in force, and where it came from.
    let in_force = ev.policy_in_force(&partition);
    let source = PolicyInForce::source(in_force.as_ref());
    let policy_text = in_force.map(|p| p.text);
    let parsed = policy_text.as_deref().map(parse_in_force);
    let policy = match &parsed {
        Some(Ok(p)) => Some(p),
        _ => None,
    };
    let mut findings: Vec<Finding> = Vec::new();
    if let Some(Err(unreadable)) = &parsed {
        findings.push(unreadable.clone());
    }

    let key_arn = ev.key.arn.as_deref();
    let context = opts.context;
    // The caller's own GetKeyPolicy was a real request, made without the context the operator
    // supposes (--context): it is judged as it was made.
    let made = |action: &str| {
        action == GET_KEY_POLICY
            && ev.subject.is_none()
            && matches!(ev.get_key_policy, Some(Outcome::Ok | Outcome::AccessDenied))
    };
    let evaluations: Vec<Evaluation> = match (policy, &subject) {
        (Some(p), Some(who)) => [GET_KEY_POLICY, PUT_KEY_POLICY]
            .iter()
            .map(|a| {
                let context = if made(a) { &*NO_CONTEXT } else { context };
                evaluate_for(p, who, a, key_arn, context, now)
            })
            .collect(),
        _ => Vec::new(),
    };
    let existence = existence(&ev.restorer_checks);
    let aws_managed = ev.key.manager == Some(KeyManager::Aws);
    // The organisation's SCPs and RCPs, when they could be read: a restorer they deny
    // kms:PutKeyPolicy is kept, marked, and not counted.
    let org = ev.organization.as_ref().and_then(org_policies);
    let org_scope = OrgScope {
        policies: org.as_ref(),
        exempt_key: aws_managed
            || org
                .as_ref()
                .and_then(|o| o.management_account.as_deref())
                .is_some_and(|m| key_account == Some(m)),
    };
    let exempt_resource = org_scope.exempt_key;
    // Who the key policy names, the same judgement as scan's and check's.
    let KeyPolicyRestorers {
        mut restorers,
        living,
        orphans,
    } = match policy {
        Some(p) => key_policy_restorers(
            p,
            key_arn,
            key_account,
            source.kind,
            &existence,
            org_scope,
            now,
        ),
        None => KeyPolicyRestorers::default(),
    };
    // Trust and identity policies, parsed once for the IAM restorers and the restore paths.
    let graph = Graph::new(ev, now);
    // Through the account delegation: the IAM users and roles whose own policies allow it.
    let delegates = super::model::delegates(&restorers);
    if let (true, Some(details)) = (delegates, &ev.authorization) {
        let organizations_deny = ev
            .simulation
            .iter()
            .any(|s| s.allowed_by_organizations == Some(false));
        let mut through = super::iam_restorers::through_iam(
            details,
            &graph,
            key_arn,
            source.kind,
            org_scope,
            &restorers,
            now,
        );
        if organizations_deny {
            for r in &mut through {
                r.conditions_on.push(super::model::ConditionOn::Layer(
                    super::model::OrgLayer::ServiceControlPolicies,
                ));
            }
        }
        restorers.extend(through);
    }
    // Known from the key's ARN alone: no policy needed.
    let cross_account = match (key_account, subject.as_ref().and_then(|s| s.account())) {
        (Some(k), Some(p)) => k != p,
        _ => false,
    };

    let actions = [GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()];
    if ev.key.not_found {
        findings.push(live::key_not_found(ev));
    } else if let Some(p) = policy {
        // Nobody can update an AWS managed key's policy: that is `aws-managed-key`, not a
        // shortcoming of the policy.
        let rule_evals: Vec<Evaluation> = evaluations
            .iter()
            .filter(|e| !(aws_managed && e.action == PUT_KEY_POLICY))
            .cloned()
            .collect();
        findings.extend(
            policy_rules::findings(&PolicyFacts {
                policy: p,
                principal: subject.as_ref(),
                key_account,
                evaluations: &rule_evals,
                actions: &actions,
                restorers: &living,
                orphans: &orphans,
            })
            .into_iter()
            // An AWS managed key has no restorer by design: that is `aws-managed-key`.
            .filter(|f| !(aws_managed && f.code == Code::NoRestorer)),
        );
        held_by_organization(&mut findings, &restorers);
    }

    // What the organisation's policies decide for the principal, when they could be read: the
    // policy and statement named (first, so that what the simulator or AWS's words add to the
    // same code joins it).
    let layers: Vec<LayerResult> = match (&org, &subject) {
        (Some(org), Some(who)) if !ev.key.not_found => actions
            .iter()
            .flat_map(|a| {
                layer_results(
                    org,
                    &OrgRequest {
                        principal: who,
                        action: a,
                        resource: key_arn,
                        context,
                        now,
                    },
                    exempt_resource,
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let held: Vec<(&str, &crate::policy::BlockedBy)> = restorers
        .iter()
        .filter_map(|r| Some((r.principal.as_str(), r.blocked_by.as_ref()?)))
        .collect();
    findings.extend(policy_rules::org_findings(&layers, &held));

    // Access verdicts, action by action.
    let mut access = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let sim = ev
            .simulation
            .iter()
            .find(|s| s.action.eq_ignore_ascii_case(action));
        // Only the caller's own GetKeyPolicy was observed.
        let observed = (action == GET_KEY_POLICY && ev.subject.is_none())
            .then_some(ev.get_key_policy)
            .flatten()
            .filter(|o| matches!(o, Outcome::Ok | Outcome::AccessDenied));
        let denied = observed
            .filter(|o| *o == Outcome::AccessDenied)
            .and(denied_read(ev));
        let a = verdict_for(
            action,
            ActionFacts {
                eval: evaluations.get(i),
                sim,
                observed,
                denial: denied.and_then(|c| c.denial),
                aws_managed,
                cross_account,
                not_found: ev.key.not_found,
            },
        );
        if !a.because.is_empty() {
            live::iam_findings(&mut findings, ev, action, &a.because, sim, subject.as_ref());
        }
        if let Some(call) = denied {
            live::stated_findings(&mut findings, ev, &a, call, evaluations.get(i), sim);
        }
        access.push(a);
    }
    // An SCP or RCP that denies an action makes it denied, whatever else allows it.
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
    // A layer kms-doctor cannot read (or the simulation missed) denied the caller's read: whether
    // it denies the update as well is not known, so an update inferred from the rest is not
    // claimed.
    let get_sim = ev
        .simulation
        .iter()
        .find(|s| s.action.eq_ignore_ascii_case(GET_KEY_POLICY));
    let unread_layer = access
        .iter()
        .find(|a| a.action == GET_KEY_POLICY)
        .and_then(|a| a.because.first())
        .is_some_and(|c| match c {
            // So is an answer AWS contradicted: the policy the inference stands on is in doubt.
            Code::RcpDeny
            | Code::VpcEndpointPolicyDeny
            | Code::SessionPolicyDeny
            | Code::DenialUnexplained => true,
            // A layer the simulation did not show for this very call is not trusted for the
            // other either.
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
    live::key_findings(&mut findings, ev, aws_managed, cross_account);
    if policy.is_none() {
        live::unexplained_denial(&mut findings, ev, &access);
    }
    live::history_findings(&mut findings, ev);
    live::restorer_findings(&mut findings, &restorers);
    live::incomplete_findings(&mut findings, ev, policy.is_some());
    if !opts.without.is_empty() {
        // Who IAM lets update the policy through the delegation, when the details say all.
        let iam: Option<Vec<String>> = ev.authorization.as_ref().filter(|d| d.complete).map(|_| {
            restorers
                .iter()
                .filter(|r| r.via == super::model::RestorerVia::Iam && r.blocked_by.is_none())
                .map(|r| r.principal.clone())
                .collect()
        });
        findings.extend(without_findings(
            policy,
            &PolicyScope {
                account: key_account.unwrap_or_default(),
                account_known: key_account.is_some(),
                partition: &partition,
                key_arn,
                source: source.kind,
                org: org_scope,
            },
            &existence,
            iam.as_deref(),
            opts.without,
            now,
        ));
    }
    merge_same_code(&mut findings);
    live::annotate_iam_side(&mut findings, ev);
    sort_findings(&mut findings);

    // An inferred cause for an observed denial is named on the verdict too.
    let delegation_missing = findings
        .iter()
        .any(|f| f.code == Code::RootDelegationMissing);
    if let Some(get) = access.iter_mut().find(|a| a.action == GET_KEY_POLICY)
        && get.verdict == super::model::Verdict::Denied
        && get.because.is_empty()
        && policy.is_none()
        && delegation_missing
    {
        get.because.push(Code::RootDelegationMissing);
    }
    // Every code an access verdict names must be a finding.
    for a in &mut access {
        a.because.retain(|c| findings.iter().any(|f| f.code == *c));
    }

    // An organisation's policy that denied the caller (AWS's message, or the simulator) may
    // hold the restorers too; when the policies were not read, whether it does is not known.
    let stated = denied_read(ev)
        .and_then(|c| c.denial)
        .map(|d| d.policy_type);
    let org_layer = if stated == Some(PolicyType::Rcp) || has(&findings, Code::RcpDeny) {
        Some(super::model::OrgLayer::ResourceControlPolicies)
    } else if stated == Some(PolicyType::Scp) || has(&findings, Code::ScpDeny) {
        Some(super::model::OrgLayer::ServiceControlPolicies)
    } else {
        None
    };
    if let Some(layer) = org_layer.filter(|_| org.is_none()) {
        for r in &mut restorers {
            let layer = super::model::ConditionOn::Layer(layer);
            if !r.conditions_on.contains(&layer) {
                r.conditions_on.push(layer);
            }
        }
    }

    // The way from the diagnosed principal to a restorer.
    let subject_arn = ev.subject.clone().unwrap_or_else(|| ev.caller.arn.clone());
    for r in &mut restorers {
        r.permission_set = permission_set(&r.principal);
        if !matches!(Identity::parse(&r.principal), Ok(Identity::Role { .. })) {
            continue;
        }
        r.assumable_by = graph.assumable_by(&r.principal);
        if let Some(who) = &subject {
            r.caller_can_assume = graph.can_assume(who, &r.principal);
            // A restorer the organisation's policies hold is no way out.
            if r.counts() {
                r.path = graph.path(
                    who,
                    &subject_arn,
                    std::slice::from_ref(&r.principal),
                    opts.max_hops,
                );
            }
        }
    }
    let can_restore_now = access
        .iter()
        .any(|a| a.action == PUT_KEY_POLICY && a.verdict == super::model::Verdict::Allowed);
    let restore_path = if can_restore_now {
        Some(vec![subject_arn.clone()])
    } else {
        restorers
            .iter()
            .filter_map(|r| r.path.clone())
            .min_by_key(|p| p.len())
    };
    // The principal can restore access itself, yet something is denied: it is the one to act.
    let something_denied = access
        .iter()
        .any(|a| a.verdict == super::model::Verdict::Denied);
    if can_restore_now && something_denied && !ev.key.not_found {
        findings.push(live::restorer_reachable(
            std::slice::from_ref(&subject_arn),
            false,
        ));
        sort_findings(&mut findings);
    }
    // A step that depends on a condition (MFA, an external ID) makes the whole way so.
    let path_conditional = restore_path.as_ref().is_some_and(|path| {
        path.windows(2).enumerate().any(|(i, w)| {
            let who = if i == 0 {
                subject.clone()
            } else {
                Identity::parse(&w[0]).ok()
            };
            who.is_some_and(|who| {
                graph.can_assume(&who, &w[1]) == Some(super::model::Assume::Conditional)
            })
        })
    });
    if let Some(path) = restore_path.as_ref().filter(|p| p.len() > 1) {
        findings.push(live::restorer_reachable(path, path_conditional));
        sort_findings(&mut findings);
    }

    let fix = match (&policy_text, policy) {
        (Some(text), Some(_)) if delegation_missing && !aws_managed => Some(with_delegation(
            text,
            &partition,
            key_account.unwrap_or(&ev.caller.account),
        )),
        _ => None,
    };
    let facts = StepFacts {
        restorers: &restorers,
        source: &source,
        subject: subject.as_ref(),
        fix_written_to: opts.write_fix.filter(|_| fix.is_some()),
        org_blocks: &layers
            .iter()
            .filter_map(|l| l.blocked_by.clone())
            .collect::<Vec<_>>(),
        put_verdict: access
            .iter()
            .find(|a| a.action == PUT_KEY_POLICY)
            .map(|a| a.verdict),
        restore_path: restore_path.as_deref(),
        path_conditional,
        policy_known: policy.is_some(),
    };
    let next_steps = steps::next_steps(ev, &findings, &facts);
    let summary = steps::summary(ev, &findings, &access, &facts, &next_steps);

    let support_case = findings
        .iter()
        .any(|f| f.code == Code::NoRestorer)
        .then(|| SupportCase {
            key_arn: ev.key.arn.clone(),
            region: ev.key.region.clone().or_else(|| ev.region.clone()),
            account: ev.key.account.clone(),
            policy: policy_text
                .as_deref()
                .map(|t| with_delegation(t, &partition, key_account.unwrap_or(&ev.caller.account)))
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
        access,
        findings,
        // Without the policy in force, who can restore access is not known: not "no one".
        restorers: policy.is_some().then_some(restorers),
        policy_source: source,
        support_case,
        next_steps,
        restore_path,
        restore_path_conditional: path_conditional,
        calls: ev.calls.clone(),
        policy: policy_text
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok()),
        history: ev.history.as_ref().map(|h| HistorySummary {
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
        }),
        notes: ev.notes.iter().map(|n| live::note_text(n, ev)).collect(),
        fix,
        calls_listed: false,
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
