//! `kms-doctor diagnose`: evidence in, the contract's report out. Pure: the evidence was
//! gathered (or loaded from a file) before.

use crate::diagnosis::live_rules;
use crate::diagnosis::policy_rules::{self, PolicyFacts, delegation_statement};
use crate::diagnosis::{Code, Finding, Severity, sort_findings};
use crate::evidence::history::default_key_policy;
use crate::evidence::key::KeyFacts;
use crate::evidence::{CallRecord, Evidence, Outcome, SimulationResult};
use crate::policy::{
    Context, Decision, Evaluation, GET_KEY_POLICY, Identity, KeyPolicy, PUT_KEY_POLICY,
    evaluate_for, grantees, orphaned_principals,
};
use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct DiagnoseReport {
    pub schema_version: u32,
    /// What is known of the key (`null` where unknown), as the contract's `key`.
    pub key: KeyFacts,
    pub caller: CallerReport,
    /// The principal diagnosed, when it is not the caller (`--principal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<CallerReport>,
    pub access: Vec<Access>,
    pub findings: Vec<Finding>,
    pub restorers: Vec<Restorer>,
    pub policy_source: PolicySource,
    pub next_steps: Vec<String>,
    pub calls: Vec<CallRecord>,
    /// The key policy in force, when known (as JSON).
    pub policy: Option<serde_json::Value>,
    /// What the CloudTrail search read, when it ran.
    pub history: Option<HistorySummary>,
    /// Facts that explain a gap in the evidence.
    pub notes: Vec<String>,
    /// The corrected policy for `--write-fix`: the policy in force plus the delegation statement.
    #[serde(skip)]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistorySummary {
    pub lookback_days: u32,
    pub pages: u32,
    pub events_scanned: u64,
    /// Records that could not be read, skipped.
    pub skipped_records: u64,
    /// `false` when a call failed before the search could finish.
    pub complete: bool,
    /// Failed `PutKeyPolicy` attempts newer than the policy in force, newest first.
    pub failed_attempts: Vec<FailedAttempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub changed_by: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallerReport {
    pub arn: String,
    pub account: Option<String>,
    pub principal_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    Denied,
    Conditional,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Conditional => "conditional",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// AWS answered this very call.
    Observed,
    /// From the policies and the simulation (kms-doctor never calls `PutKeyPolicy`).
    Inferred,
}

#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub action: String,
    pub verdict: Verdict,
    pub basis: Basis,
    pub because: Vec<Code>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Restorer {
    pub principal: String,
    pub statement: String,
    /// Where the policy naming it came from: `current` or `cloudtrail`.
    pub source: String,
    pub exists: Option<bool>,
    /// The account: any IAM principal of it whose IAM policies allow `kms:PutKeyPolicy`.
    pub via_iam: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions_on: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicySource {
    /// `current`, `cloudtrail` or `none`.
    pub kind: String,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub changed_by: Option<String>,
    /// The event that set the policy: `PutKeyPolicy` or `CreateKey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
}

impl DiagnoseReport {
    /// 0 when the principal can read and update the key policy: no `error` finding and
    /// both actions allowed; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        let error = self.findings.iter().any(|f| f.severity == Severity::Error);
        let all_allowed = self.access.iter().all(|a| a.verdict == Verdict::Allowed);
        if error || !all_allowed { 1 } else { 0 }
    }
}

/// The principal diagnosed, with the role path learned from IAM where there is one.
fn subject_identity(ev: &Evidence) -> (Option<Identity>, Option<String>) {
    let (arn, principal_arn) = match &ev.subject {
        Some(s) => (s.clone(), ev.subject_principal_arn.clone()),
        None => (ev.caller.arn.clone(), ev.caller_principal_arn.clone()),
    };
    let id = Identity::parse(&arn).ok().map(|id| match id {
        Identity::AssumedRole {
            partition,
            account,
            role_name,
            session,
            ..
        } => {
            let role_path = principal_arn
                .as_deref()
                .and_then(|p| match Identity::parse(p) {
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
    });
    (id, principal_arn)
}

pub fn diagnose(ev: &Evidence, now: chrono::DateTime<chrono::Utc>) -> DiagnoseReport {
    let (subject, _) = subject_identity(ev);
    let partition = subject
        .as_ref()
        .and_then(|s| s.partition())
        .unwrap_or("aws")
        .to_owned();
    let key_account = ev.key.account.clone();

    // The policy in force, and where it came from.
    let (policy_text, source) = if let Some(p) = &ev.current_policy {
        (
            Some(p.clone()),
            PolicySource {
                kind: "current".into(),
                event_id: None,
                event_time: None,
                changed_by: None,
                event_name: None,
            },
        )
    } else if let Some((h, e)) = ev
        .history
        .as_ref()
        .and_then(|h| h.in_force.as_ref().map(|e| (h, e)))
    {
        let text = e.policy.clone().unwrap_or_else(|| {
            default_key_policy(
                &partition,
                key_account.as_deref().unwrap_or(&ev.caller.account),
            )
        });
        (
            Some(text),
            PolicySource {
                // `cloudtrail` (the event history) or `archive` (a log archive).
                kind: h.source.clone(),
                event_id: e.event_id.clone(),
                event_time: e.event_time.clone(),
                changed_by: e.changed_by.clone(),
                event_name: Some(e.event_name.clone()),
            },
        )
    } else {
        (
            None,
            PolicySource {
                kind: "none".into(),
                event_id: None,
                event_time: None,
                changed_by: None,
                event_name: None,
            },
        )
    };
    let parsed = policy_text.as_deref().map(KeyPolicy::parse);
    let policy = match &parsed {
        Some(Ok(p)) => Some(p),
        _ => None,
    };
    let mut extra_findings: Vec<Finding> = Vec::new();
    if let Some(Err(e)) = &parsed {
        extra_findings.push(
            Finding::new(
                Code::EvidenceIncomplete,
                "The key policy in force could not be read",
            )
            .detail(format!("kms-doctor cannot evaluate it: {e}."))
            .help("Check the policy with `kms-doctor explain --policy FILE`."),
        );
    }

    let key_arn = ev.key.arn.as_deref();
    let empty = Context::default();
    let evaluations: Vec<Evaluation> = match (policy, &subject) {
        (Some(p), Some(who)) => [GET_KEY_POLICY, PUT_KEY_POLICY]
            .iter()
            .map(|a| evaluate_for(p, who, a, key_arn, &empty, now))
            .collect(),
        _ => Vec::new(),
    };
    let all_grantees = policy
        .map(|p| grantees(p, PUT_KEY_POLICY, key_arn, &empty, now))
        .unwrap_or_default();
    let restorers: Vec<Restorer> = all_grantees
        .iter()
        .map(|g| Restorer {
            principal: g.principal.clone(),
            statement: g.statement.clone(),
            source: source.kind.clone(),
            exists: ev
                .restorer_checks
                .iter()
                .find(|c| c.principal == g.principal)
                .and_then(|c| c.exists),
            via_iam: g.via_iam,
            conditions_on: g.conditions_on.clone(),
        })
        .collect();
    let living: Vec<_> = all_grantees
        .iter()
        .filter(|g| {
            !restorers
                .iter()
                .any(|r| r.principal == g.principal && r.exists == Some(false))
        })
        .cloned()
        .collect();
    let orphans = policy.map(orphaned_principals).unwrap_or_default();
    let aws_managed = ev.key.manager.as_deref() == Some("AWS");
    // Known from the key's ARN alone: no policy needed.
    let cross_account = match (
        key_account.as_deref(),
        subject.as_ref().and_then(|s| s.account()),
    ) {
        (Some(k), Some(p)) => k != p,
        _ => false,
    };

    let actions = [GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()];
    let mut findings = Vec::new();
    if ev.key.not_found {
        findings.push(live_rules::key_not_found(ev));
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
                key_account: key_account.as_deref(),
                evaluations: &rule_evals,
                actions: &actions,
                restorers: &living,
                orphans: &orphans,
            })
            .into_iter()
            // An AWS managed key has no restorer by design: that is `aws-managed-key`.
            .filter(|f| !(aws_managed && f.code == Code::NoRestorer)),
        );
    }
    findings.extend(extra_findings);

    // Access verdicts, action by action.
    let mut access = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        let eval = evaluations.get(i);
        let sim = ev
            .simulation
            .iter()
            .find(|s| s.action.eq_ignore_ascii_case(action));
        let observed = (action == GET_KEY_POLICY && ev.subject.is_none())
            .then_some(ev.get_key_policy)
            .flatten()
            .filter(|o| matches!(o, Outcome::Ok | Outcome::AccessDenied));
        let a = verdict_for(
            action,
            eval,
            sim,
            observed,
            aws_managed,
            cross_account,
            ev.key.not_found,
        );
        if !a.because.is_empty() {
            live_rules::iam_findings(&mut findings, ev, action, &a.because, sim, subject.as_ref());
        }
        access.push(a);
    }
    live_rules::key_findings(&mut findings, ev, aws_managed, cross_account);
    if policy.is_none() {
        live_rules::unexplained_denial(&mut findings, ev, &access);
    }
    live_rules::history_findings(&mut findings, ev);
    live_rules::restorer_findings(&mut findings, &restorers);
    live_rules::incomplete_findings(&mut findings, ev, policy.is_some());
    merge_same_code(&mut findings);
    live_rules::annotate_iam_side(&mut findings, ev);
    sort_findings(&mut findings);

    // An inferred cause for an observed denial is named on the verdict too.
    let inferred_cause = findings
        .iter()
        .any(|f| f.code == Code::RootDelegationMissing);
    if let Some(get) = access.iter_mut().find(|a| a.action == GET_KEY_POLICY) {
        if get.verdict == Verdict::Denied
            && get.because.is_empty()
            && policy.is_none()
            && inferred_cause
        {
            get.because.push(Code::RootDelegationMissing);
        }
    }
    // Every code an access verdict names must be a finding.
    for a in &mut access {
        a.because.retain(|c| findings.iter().any(|f| f.code == *c));
    }

    let fix = match (&policy_text, policy) {
        (Some(text), Some(_))
            if findings
                .iter()
                .any(|f| f.code == Code::RootDelegationMissing)
                && !aws_managed =>
        {
            Some(with_delegation(
                text,
                &partition,
                key_account.as_deref().unwrap_or(&ev.caller.account),
            ))
        }
        _ => None,
    };
    let next_steps = live_rules::next_steps(ev, &findings, &restorers, &source, subject.as_ref());

    DiagnoseReport {
        schema_version: SCHEMA_VERSION,
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
                .and_then(|i| i.account().map(str::to_owned)),
            principal_arn: ev.subject_principal_arn.clone(),
        }),
        access,
        findings,
        restorers,
        policy_source: source,
        next_steps,
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
            failed_attempts: h
                .failed_attempts
                .iter()
                .map(|e| FailedAttempt {
                    event_id: e.event_id.clone(),
                    event_time: e.event_time.clone(),
                    changed_by: e.changed_by.clone(),
                    error_code: e.error_code.clone(),
                    error_message: e.error_message.clone(),
                })
                .collect(),
        }),
        notes: ev.notes.clone(),
        fix,
    }
}

/// KMS's rules, in order: a key policy deny, cross-account, AWS managed keys, then SCPs,
/// permissions boundaries and IAM denies, then the key policy's grant (direct or delegated,
/// in which case IAM must allow). An observed answer overrides the inference.
fn verdict_for(
    action: &str,
    eval: Option<&Evaluation>,
    sim: Option<&SimulationResult>,
    observed: Option<Outcome>,
    aws_managed: bool,
    cross_account: bool,
    not_found: bool,
) -> Access {
    let basis = if observed.is_some() {
        Basis::Observed
    } else {
        Basis::Inferred
    };
    let mut because = Vec::new();
    if not_found {
        return Access {
            action: action.to_owned(),
            verdict: Verdict::Unknown,
            basis,
            because: vec![Code::KeyNotFound],
        };
    }
    let decision = eval.map(|e| e.decision);
    if cross_account || eval.is_some_and(|e| e.cross_account) {
        because.push(Code::CrossAccountKey);
    }
    if aws_managed && action == PUT_KEY_POLICY {
        return Access {
            action: action.to_owned(),
            verdict: Verdict::Denied,
            basis,
            because: vec![Code::AwsManagedKey],
        };
    }
    match decision {
        Some(Decision::ExplicitDeny) => because.push(Code::KeyPolicyExplicitDeny),
        Some(Decision::ImplicitDeny) if !because.contains(&Code::CrossAccountKey) => {
            let blocked_by_condition = eval.is_some_and(|e| {
                e.statements.iter().any(|t| {
                    t.effect == crate::policy::Effect::Allow
                        && t.applies == crate::policy::Applies::No
                        && t.via.is_some()
                })
            });
            because.push(if blocked_by_condition {
                Code::ConditionNotMet
            } else {
                Code::RootDelegationMissing
            });
        }
        Some(Decision::Conditional) => because.push(Code::ConditionNotMet),
        _ => {}
    }
    let mut iam_allows = None;
    if let Some(s) = sim {
        if s.allowed_by_organizations == Some(false) {
            because.push(Code::ScpDeny);
        }
        if s.allowed_by_permissions_boundary == Some(false) {
            because.push(Code::PermissionsBoundaryDeny);
        }
        match s.decision.as_str() {
            "explicitDeny"
                if s.allowed_by_organizations != Some(false)
                    && s.allowed_by_permissions_boundary != Some(false) =>
            {
                because.push(Code::IamExplicitDeny)
            }
            "allowed" => iam_allows = Some(true),
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
    let verdict = match observed {
        Some(Outcome::Ok) => {
            because.clear();
            Verdict::Allowed
        }
        Some(Outcome::AccessDenied) => Verdict::Denied,
        _ => inferred,
    };
    if verdict == Verdict::Unknown && because.is_empty() {
        because.push(Code::EvidenceIncomplete);
    }
    Access {
        action: action.to_owned(),
        verdict,
        basis,
        because,
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
                    if !m.evidence.contains(&e) {
                        m.evidence.push(e);
                    }
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
