//! Gathering the evidence: which calls, in which order, with what concurrency.
//!
//! The critical path is three round trips for a lockout and for a healthy key alike:
//! 1. `GetCallerIdentity`, `DescribeKey`, `GetKeyPolicy` and the first `LookupEvents` page, at once;
//! 2. `GetRole` for the role behind a session (its path), while the history search goes on and,
//!    once the policy in force is known, the restorers' existence is checked;
//! 3. `SimulatePrincipalPolicy`, as soon as the role's path is known.

use super::entities::{
    self, Ask, Entities, EntityKind, existence_of, iam_pace, look_up, restorers_to_check,
};
use super::key::KeyInput;
use super::record::KeyRef;
use super::sources::event_history::{self, SearchOptions};
use super::{
    CallError, Calls, Clients, CloudTrail, EventPage, Iam, IamEntity, Kms, Organizations, Sts,
};
use crate::diagnosis::model::Timestamp;
use crate::diagnosis::model::{
    AuthorizationDetails, EVIDENCE_VERSION, Evidence, ExistenceCheck, History, KeyFacts, Note,
    Outcome, SimulationResult,
};
use crate::policy::{Context, Identity, KeyPolicy, PUT_KEY_POLICY, grantees};
use chrono::SubsecRound as _;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::Duration;

/// `ListAliases` pages read at most when looking for an alias.
const MAX_ALIAS_PAGES: usize = 20;

pub const ACTIONS: [&str; 2] = [crate::policy::GET_KEY_POLICY, PUT_KEY_POLICY];

#[derive(Debug, Clone)]
pub struct GatherOptions {
    pub key: KeyInput,
    /// Diagnose this principal instead of the caller.
    pub principal: Option<Identity>,
    pub lookback_days: u32,
    pub cloudtrail: bool,
    /// Bound on each AWS call.
    pub timeout: Duration,
    /// Least time between two `LookupEvents` calls.
    pub lookup_interval: Duration,
    pub now: chrono::DateTime<chrono::Utc>,
    /// `--max-hops`: how far the roles between the principal and a restorer are looked up.
    pub max_hops: usize,
}

/// The one failure that stops a diagnosis: not knowing who asks.
#[derive(Debug, thiserror::Error)]
#[error("cannot learn who the caller is: sts:GetCallerIdentity failed ({})", .0.describe())]
pub struct CallerUnknown(pub CallError);

pub async fn gather<S: Sts, K: Kms, I: Iam, C: CloudTrail, O: Organizations>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    opts: &GatherOptions,
    progress: &(dyn Fn(u32, u64) + Sync),
) -> Result<Evidence, CallerUnknown> {
    let subject = opts.principal.clone();
    let mut notes = Vec::new();

    // Round 1: everything that needs nothing else.
    let first = first_round(clients, calls, opts).await;
    let caller = first.caller.map_err(CallerUnknown)?;
    let caller_identity = Identity::parse(&caller.arn).ok();
    if caller_identity.is_none() {
        notes.push(Note::UnknownCallerArn);
    }
    let partition = caller_identity
        .as_ref()
        .and_then(|c| c.partition())
        .unwrap_or(&clients.partition)
        .to_owned();
    let key = key_facts(
        clients,
        calls,
        opts,
        &first.described,
        &first.policy,
        &caller.account,
        &partition,
    )
    .await;
    let get_key_policy = Some(match &first.policy {
        Ok(_) => Outcome::Ok,
        Err(e) => e.outcome,
    });
    let current_policy = first.policy.ok();

    // The principal diagnosed, and the role whose path a session hides.
    let caller_role = session_role(caller_identity.as_ref());
    let subject_role = session_role(subject.as_ref());
    let role_names: Vec<String> =
        [&caller_role, &subject_role]
            .into_iter()
            .flatten()
            .fold(Vec::new(), |mut names, n| {
                if !names.contains(n) {
                    names.push(n.clone());
                }
                names
            });

    // Then two branches at once, so that neither waits for the other:
    // - who: GetRole for the role behind a session (its path), then the simulation;
    // - restorers: the CloudTrail search, and the existence of the principals the policy in
    //   force lets update it, as soon as that policy is known (at once when GetKeyPolicy
    //   answered, else when the search finds it).
    // The principal's ARN (with its role's path) passes from the first to the second, for the
    // simulator to say whether it may assume the restorers.
    let (principal_tx, principal_rx) = tokio::sync::oneshot::channel::<Option<String>>();
    let asked = Asked {
        caller: caller_identity.as_ref(),
        caller_role: caller_role.as_deref(),
        subject: subject.as_ref(),
        subject_role: subject_role.as_deref(),
    };
    let who = who(
        clients,
        calls,
        opts.timeout,
        &role_names,
        asked,
        key.arn.as_deref(),
        principal_tx,
    );
    let key_ref = KeyRef::of(&key);
    let account_of_key = key.account.clone().unwrap_or(caller.account.clone());
    let restorers = restorers(
        clients,
        calls,
        opts,
        Policies {
            current: current_policy.as_deref(),
            key_arn: key.arn.as_deref(),
            caller_account: &caller.account,
            account_of_key: &account_of_key,
            partition: &partition,
            role_names: &role_names,
        },
        history(clients, calls, opts, &key_ref, first.first_page, progress),
        principal_rx,
    );
    // The organisation's SCPs and RCPs, beside both: most callers may not read them.
    let organization = super::organization::organization_policies(
        &clients.organizations,
        calls,
        opts.timeout,
        &caller.account,
    );
    let (who, restorers, organization) = tokio::join!(who, restorers, organization);
    let (mut roles, mut simulation) = (who.roles, who.simulation);
    roles.extend(restorers.checked.roles);
    simulation.extend(restorers.assume_simulations);
    let restorer_checks = restorer_checks(
        restorers.candidates.checks,
        &roles,
        &restorers.checked.users,
    );

    notes.extend(who.note);
    notes.extend(service_linked(who.target_arn.as_deref()));
    Ok(Evidence {
        evidence_version: EVIDENCE_VERSION,
        collected_at: Timestamp(opts.now.trunc_subsecs(0)),
        region: key.region.clone().or(clients.region.clone()),
        caller,
        caller_principal_arn: who.caller_principal_arn,
        subject: subject.as_ref().map(|s| s.to_string()),
        subject_principal_arn: who.subject_principal_arn,
        key,
        current_policy,
        get_key_policy,
        history: restorers.history,
        simulation,
        restorer_checks,
        hop_roles: hop_checks(&restorers.hops),
        notes,
        authorization: restorers.checked.authorization,
        organization: Some(organization),
        calls: calls.snapshot(),
    })
}

/// A service-linked role (`/aws-service-role/` path) is diagnosed, which no one can change.
fn service_linked(target_arn: Option<&str>) -> Option<Note> {
    target_arn
        .and_then(|a| a.split(":role").nth(1))
        .filter(|path| path.starts_with("/aws-service-role/"))
        .map(|_| Note::ServiceLinkedRole)
}

/// The roles found between the principal and a restorer, as the evidence records them.
fn hop_checks(hops: &Entities) -> Vec<ExistenceCheck> {
    hops.values()
        .filter_map(|r| r.as_ref().ok())
        .map(|role| ExistenceCheck {
            principal: role.arn.clone(),
            exists: Some(true),
            trust_policy: role.trust_policy.clone(),
            created: role.created,
            boundary: role.boundary.clone(),
        })
        .collect()
}

/// Round 1's answers: everything that needs nothing else, asked at once.
struct FirstRound {
    caller: Result<crate::diagnosis::model::CallerIdentity, CallError>,
    described: Result<super::KeyMetadata, CallError>,
    policy: Result<String, CallError>,
    /// The first page of the CloudTrail search, when it is made.
    first_page: Option<Result<EventPage, CallError>>,
}

async fn first_round<S: Sts, K: Kms, I, C: CloudTrail, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    opts: &GatherOptions,
) -> FirstRound {
    let t = opts.timeout;
    let key_text = opts.key.as_str();
    let first_page = async {
        if opts.cloudtrail {
            let start = opts.now - chrono::Duration::days(i64::from(opts.lookback_days));
            Some(
                calls
                    .record(
                        "cloudtrail",
                        "LookupEvents",
                        t,
                        clients.cloudtrail.lookup_events(
                            crate::diagnosis::model::PolicyEventName::PutKeyPolicy,
                            start,
                            opts.now,
                            None,
                        ),
                    )
                    .await,
            )
        } else {
            None
        }
    };
    let (caller, described, policy, first_page) = tokio::join!(
        calls.record(
            "sts",
            "GetCallerIdentity",
            t,
            clients.sts.get_caller_identity()
        ),
        calls.record("kms", "DescribeKey", t, clients.kms.describe_key(key_text)),
        calls.record(
            "kms",
            "GetKeyPolicy",
            t,
            clients.kms.get_key_policy(key_text)
        ),
        first_page,
    );
    FirstRound {
        caller,
        described,
        policy,
        first_page,
    }
}

/// The key: DescribeKey when it answers, else what the input and ListAliases tell.
async fn key_facts<S, K: Kms, I, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    opts: &GatherOptions,
    described: &Result<super::KeyMetadata, CallError>,
    policy: &Result<String, CallError>,
    caller_account: &str,
    partition: &str,
) -> KeyFacts {
    let input = &opts.key;
    let key_text = input.as_str();
    let region = clients.region.as_deref();
    let mut key = match described {
        Ok(md) => KeyFacts::from_metadata(key_text, md, region),
        Err(e) => {
            let alias_target = if e.outcome != Outcome::NotFound
                && input.alias().is_some()
                && input.account().is_none_or(|a| a == caller_account)
            {
                find_alias(
                    clients,
                    calls,
                    opts.timeout,
                    input.alias().unwrap_or_default(),
                )
                .await
            } else {
                None
            };
            let mut facts = KeyFacts::derived(
                input,
                key_text,
                caller_account,
                input.region().or(region),
                partition,
                alias_target.as_deref(),
            );
            facts.not_found = e.outcome == Outcome::NotFound;
            facts
        }
    };
    if matches!(policy, Err(e) if e.outcome == Outcome::NotFound) && described.is_err() {
        key.not_found = true;
    }
    key
}

/// The key's policy history from CloudTrail, from the first page round 1 fetched.
async fn history<S, K, I, C: CloudTrail, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    opts: &GatherOptions,
    key_ref: &KeyRef,
    first_page: Option<Result<EventPage, CallError>>,
    progress: &(dyn Fn(u32, u64) + Sync),
) -> Option<History> {
    let first_page = first_page?;
    if key_ref.arn.is_none() && key_ref.key_id.is_none() {
        return None;
    }
    // A throttled prefetch is retried by the search, with its backoff.
    let first_page = first_page_or_retry(first_page);
    let search = SearchOptions {
        lookback_days: opts.lookback_days,
        min_interval: opts.lookup_interval,
        timeout: opts.timeout,
        max_pages: event_history::MAX_PAGES,
        deadline: calls.deadline(),
    };
    let mut history = event_history::search(
        &clients.cloudtrail,
        calls,
        key_ref,
        &search,
        opts.now,
        first_page,
        progress,
    )
    .await
    .ok()?;
    if let Some(primary_region) = &key_ref.primary_region {
        let primary = clients.cloudtrail.in_region(primary_region);
        event_history::search_replicated(
            primary.as_ref(),
            calls,
            key_ref,
            &search,
            opts.now,
            &mut history,
            progress,
        )
        .await;
    }
    Some(history)
}

/// Who asks: the caller, and the principal diagnosed instead when one is given, each with the
/// role its session hides.
#[derive(Clone, Copy)]
struct Asked<'a> {
    caller: Option<&'a Identity>,
    caller_role: Option<&'a str>,
    subject: Option<&'a Identity>,
    subject_role: Option<&'a str>,
}

/// The branch about the principal: GetRole for the roles behind sessions (their paths), then the
/// simulation of the diagnosed principal's IAM policies. Its ARN goes to `principal_tx` as soon
/// as it is known.
async fn who<S, K, I: Iam, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    t: Duration,
    role_names: &[String],
    asked: Asked<'_>,
    key_arn: Option<&str>,
    principal_tx: tokio::sync::oneshot::Sender<Option<String>>,
) -> Who {
    let roles = look_up(
        &clients.iam,
        calls,
        &iam_pace(),
        t,
        EntityKind::Role,
        role_names.to_vec(),
    )
    .await;
    let caller_principal_arn = resolve_principal_arn(asked.caller, asked.caller_role, &roles);
    let subject_principal_arn = asked
        .subject
        .and_then(|s| resolve_principal_arn(Some(s), asked.subject_role, &roles));
    let target_arn = if asked.subject.is_some() {
        subject_principal_arn.clone()
    } else {
        caller_principal_arn.clone()
    };
    let _ = principal_tx.send(target_arn.clone());
    let target = asked.subject.or(asked.caller);
    let (simulation, note) = match (target, target_arn.as_deref(), key_arn) {
        (Some(Identity::Account { .. }), _, _) => (Vec::new(), Some(Note::RootUser)),
        (Some(Identity::FederatedUser { .. }), _, _) => (Vec::new(), Some(Note::FederatedUser)),
        (_, Some(principal_arn), Some(key_arn)) => {
            let answer = calls
                .record(
                    "iam",
                    "SimulatePrincipalPolicy",
                    t,
                    clients
                        .iam
                        .simulate_principal_policy(principal_arn, &ACTIONS, key_arn),
                )
                .await;
            (answer.unwrap_or_default(), None)
        }
        _ => (Vec::new(), None),
    };
    Who {
        roles,
        caller_principal_arn,
        subject_principal_arn,
        target_arn,
        simulation,
        note,
    }
}

/// What the restorers' branch knows at its start.
struct Policies<'a> {
    /// The policy `GetKeyPolicy` answered, when it did.
    current: Option<&'a str>,
    key_arn: Option<&'a str>,
    caller_account: &'a str,
    account_of_key: &'a str,
    partition: &'a str,
    /// The roles the principal's branch looks up (not asked for twice).
    role_names: &'a [String],
}

/// The branch about the restorers: the policy in force (current, else from the history
/// search), whether the principals it names exist, whether the principal may assume the roles
/// that trust the account, and the roles between them.
async fn restorers<S, K, I: Iam, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    opts: &GatherOptions,
    p: Policies<'_>,
    history_search: impl std::future::Future<Output = Option<History>>,
    principal_rx: tokio::sync::oneshot::Receiver<Option<String>>,
) -> Restorers {
    let t = opts.timeout;
    let candidates_of =
        |text: &str| restorer_candidates(text, p.key_arn, p.caller_account, opts.now);
    let early = p.current.map(candidates_of);
    let check_early = async {
        match &early {
            Some(c) => Some(check_candidates(clients, calls, t, c, p.role_names).await),
            None => None,
        }
    };
    let (history, early_checked) = tokio::join!(history_search, check_early);
    let (candidates, mut checked) = match (early, early_checked) {
        (Some(c), Some(checked)) => (c, checked),
        _ => {
            let text = history
                .as_ref()
                .and_then(|h| h.in_force.as_ref())
                .map(|e| e.policy_or_default(p.partition, p.account_of_key));
            let c = text.as_deref().map(candidates_of).unwrap_or_default();
            let checked = check_candidates(clients, calls, t, &c, p.role_names).await;
            (c, checked)
        }
    };
    // A restorer named by the key policy with a permissions boundary: GetRole/GetUser give the
    // boundary's ARN only; its content, in the authorization details, says whether it keeps
    // that restorer from kms:PutKeyPolicy (a grant naming a role is limited by an implicit deny
    // in the role's boundary — IAM User Guide, policy evaluation logic).
    if checked.authorization.is_none() && has_boundary(&checked) {
        checked.authorization = super::entities::authorization_details(&clients.iam, calls, t)
            .await
            .ok();
    }
    // Roles whose trust policy names the account hand over to the principal's own IAM
    // policies: without the authorization details, the simulator says whether they allow
    // sts:AssumeRole on each (concurrently with the other simulation).
    let account_trusting: Vec<String> = if checked.authorization.is_some() {
        Vec::new()
    } else {
        candidates
            .roles
            .iter()
            .filter_map(|name| checked.roles.get(name)?.as_ref().ok())
            .filter(|role| trusts_account(role, opts.now))
            .map(|role| role.arn.clone())
            .take(MAX_ASSUME_SIMULATIONS)
            .collect()
    };
    let assume_simulations = match (account_trusting.is_empty(), principal_rx.await) {
        (false, Ok(Some(principal))) => {
            assume_simulations(clients, calls, t, account_trusting, principal).await
        }
        _ => Vec::new(),
    };
    // The roles between the principal and a restorer: without the authorization details,
    // only their GetRole answers give their trust policies.
    let hops = match checked.authorization {
        Some(_) => Entities::new(),
        None => {
            let mut known = p.role_names.to_vec();
            known.extend(checked.roles.keys().cloned());
            hop_roles(
                &clients.iam,
                calls,
                t,
                p.caller_account,
                &checked.roles,
                known,
                opts,
            )
            .await
        }
    };
    Restorers {
        history,
        candidates,
        checked,
        assume_simulations,
        hops,
    }
}

/// Whether `principal` may call `sts:AssumeRole` on each of `roles`, by the simulator,
/// [`entities::AT_ONCE`] at a time.
async fn assume_simulations<S, K, I: Iam, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    t: Duration,
    roles: Vec<String>,
    principal: String,
) -> Vec<SimulationResult> {
    futures_util::stream::iter(roles)
        .map(|role| {
            let principal = principal.clone();
            async move {
                calls
                    .record(
                        "iam",
                        "SimulatePrincipalPolicy",
                        t,
                        clients.iam.simulate_principal_policy(
                            &principal,
                            &["sts:AssumeRole"],
                            &role,
                        ),
                    )
                    .await
                    .unwrap_or_default()
            }
        })
        .buffer_unordered(entities::AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Each principal the policy lets update it, with whether it exists (known without asking, or
/// from IAM's answer) and a role's trust policy.
fn restorer_checks(
    checks: Vec<(String, Option<bool>)>,
    roles: &Entities,
    users: &Entities,
) -> Vec<ExistenceCheck> {
    checks
        .into_iter()
        .map(|(principal, known)| {
            let entity = match Identity::parse(&principal).ok() {
                Some(Identity::Role { name, .. }) => roles.get(&name),
                Some(Identity::User { name, .. }) => users.get(&name),
                _ => None,
            };
            ExistenceCheck {
                principal,
                exists: known.or_else(|| entity.and_then(existence_of)),
                trust_policy: entity
                    .and_then(|e| e.as_ref().ok())
                    .and_then(|e| e.trust_policy.clone()),
                created: entity.and_then(|e| e.as_ref().ok()).and_then(|e| e.created),
                boundary: entity
                    .and_then(|e| e.as_ref().ok())
                    .and_then(|e| e.boundary.clone()),
            }
        })
        .collect()
}

/// What the branch about the principal learned: the roles behind sessions, the principal's ARN,
/// the simulation of its IAM policies.
struct Who {
    roles: Entities,
    caller_principal_arn: Option<String>,
    subject_principal_arn: Option<String>,
    /// The diagnosed principal's ARN (the subject's, else the caller's).
    target_arn: Option<String>,
    simulation: Vec<SimulationResult>,
    note: Option<Note>,
}

/// What the branch about the restorers learned.
struct Restorers {
    history: Option<History>,
    candidates: Candidates,
    checked: Checked,
    /// `sts:AssumeRole` on role restorers that trust the account.
    assume_simulations: Vec<SimulationResult>,
    /// The roles the restorers' trust policies name (and theirs, up to `--max-hops`).
    hops: Entities,
}

/// IAM's answers about the candidates, and the account's authorization details when read.
struct Checked {
    users: Entities,
    roles: Entities,
    authorization: Option<AuthorizationDetails>,
}

/// The principals a policy lets update it, and which of them IAM can say exist.
#[derive(Debug, Default)]
struct Candidates {
    /// (principal, existence when known without asking)
    checks: Vec<(String, Option<bool>)>,
    roles: Vec<String>,
    users: Vec<String>,
    /// The policy delegates `kms:PutKeyPolicy` to the account: IAM policies decide who can.
    delegates: bool,
}

/// Roles between the principal and a restorer looked up at most (one `GetRole` each).
const MAX_HOP_ROLES: usize = 20;

/// The roles of `account` that the trust policies of `from` name for `sts:AssumeRole`, then
/// those their trust policies name, level by level up to `--max-hops - 1` levels and
/// [`MAX_HOP_ROLES`] roles; `known` roles are not asked for again.
async fn hop_roles<I: Iam>(
    iam: &I,
    calls: &Calls,
    t: Duration,
    account: &str,
    from: &Entities,
    mut known: Vec<String>,
    opts: &GatherOptions,
) -> Entities {
    let mut found = Entities::new();
    let mut level: Vec<IamEntity> = from.values().filter_map(|r| r.clone().ok()).collect();
    for _ in 1..opts.max_hops {
        let mut names = Vec::new();
        for role in &level {
            let Some(trust) = role
                .trust_policy
                .as_deref()
                .and_then(|t| KeyPolicy::parse_trust(t).ok())
            else {
                continue;
            };
            for g in grantees(
                &trust,
                "sts:AssumeRole",
                Some(&role.arn),
                &Context::default(),
                opts.now,
            ) {
                if let Ok(Identity::Role {
                    account: a, name, ..
                }) = Identity::parse(&g.principal)
                    && a == account
                    && !known.contains(&name)
                    && found.len() + names.len() < MAX_HOP_ROLES
                {
                    known.push(name.clone());
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            break;
        }
        let answers = look_up(iam, calls, &iam_pace(), t, EntityKind::Role, names).await;
        level = answers.values().filter_map(|r| r.clone().ok()).collect();
        found.extend(answers);
    }
    found
}

/// `sts:AssumeRole` simulations made at most (one per role restorer that trusts the account).
const MAX_ASSUME_SIMULATIONS: usize = 10;

/// The role's trust policy names its account (or everyone) for `sts:AssumeRole`.
fn trusts_account(role: &IamEntity, now: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(trust) = role
        .trust_policy
        .as_deref()
        .and_then(|t| KeyPolicy::parse_trust(t).ok())
    else {
        return false;
    };
    grantees(
        &trust,
        "sts:AssumeRole",
        Some(&role.arn),
        &Context::default(),
        now,
    )
    .iter()
    .any(|g| g.names_whole_account())
}

/// A role or user the policy lets update it has a permissions boundary.
fn has_boundary(checked: &Checked) -> bool {
    checked
        .roles
        .values()
        .chain(checked.users.values())
        .any(|e| e.as_ref().is_ok_and(|e| e.boundary.is_some()))
}

/// Checks the candidates' existence and, when the policy delegates to the account, reads the
/// account's authorization details, at once.
async fn check_candidates<S, K, I: Iam, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    timeout: Duration,
    candidates: &Candidates,
    known: &[String],
) -> Checked {
    let details = async {
        if candidates.delegates {
            super::entities::authorization_details(&clients.iam, calls, timeout)
                .await
                .ok()
        } else {
            None
        }
    };
    let ((users, roles), authorization) = tokio::join!(
        check_existence(clients, calls, timeout, candidates, known),
        details
    );
    Checked {
        users,
        roles,
        authorization,
    }
}

fn restorer_candidates(
    policy: &str,
    key_arn: Option<&str>,
    caller_account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Candidates {
    let mut c = Candidates::default();
    let Ok(policy) = KeyPolicy::parse(policy) else {
        return c;
    };
    for (principal, ask) in restorers_to_check(&policy, key_arn, caller_account, now) {
        match ask {
            Ask::Role(name) => {
                c.roles.push(name);
                c.checks.push((principal, None));
            }
            Ask::User(name) => {
                c.users.push(name);
                c.checks.push((principal, None));
            }
            Ask::Known(known) => {
                c.delegates |= known == Some(true);
                c.checks.push((principal, known));
            }
        }
    }
    c
}

/// `GetUser` and `GetRole` for the candidates, at once; roles in `known` are looked up
/// elsewhere already.
async fn check_existence<S, K, I: Iam, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    timeout: Duration,
    candidates: &Candidates,
    known: &[String],
) -> (Entities, Entities) {
    let roles: Vec<String> = candidates
        .roles
        .iter()
        .filter(|r| !known.contains(r))
        .cloned()
        .collect();
    let pace = iam_pace();
    tokio::join!(
        look_up(
            &clients.iam,
            calls,
            &pace,
            timeout,
            EntityKind::User,
            candidates.users.clone()
        ),
        look_up(&clients.iam, calls, &pace, timeout, EntityKind::Role, roles),
    )
}

fn first_page_or_retry(page: Result<EventPage, CallError>) -> Option<Result<EventPage, CallError>> {
    match page {
        Err(e) if e.outcome == Outcome::Throttled => None,
        other => Some(other),
    }
}
/// The role behind a session (whose ARN does not carry the role's path).
fn session_role(id: Option<&Identity>) -> Option<String> {
    match id? {
        Identity::AssumedRole { role_name, .. } => Some(role_name.clone()),
        _ => None,
    }
}

/// The IAM principal behind an identity: a user or role ARN as it is, a session's role ARN
/// with its path from `GetRole`. `None` when it could not be learned.
fn resolve_principal_arn(
    id: Option<&Identity>,
    role: Option<&str>,
    roles: &BTreeMap<String, Result<IamEntity, CallError>>,
) -> Option<String> {
    match id? {
        Identity::AssumedRole { .. } => roles.get(role?)?.as_ref().ok().map(|r| r.arn.clone()),
        Identity::Role { path: Some(_), .. } | Identity::User { .. } | Identity::Account { .. } => {
            id.map(|i| i.to_string())
        }
        _ => None,
    }
}

/// Finds the key an alias points to, page by page.
async fn find_alias<S, K: Kms, I, C, O>(
    clients: &Clients<S, K, I, C, O>,
    calls: &Calls,
    timeout: Duration,
    alias: &str,
) -> Option<String> {
    let mut marker = None;
    for _ in 0..MAX_ALIAS_PAGES {
        let page = calls
            .record(
                "kms",
                "ListAliases",
                timeout,
                clients.kms.list_aliases(marker.take()),
            )
            .await
            .ok()?;
        if let Some(a) = page.aliases.iter().find(|a| a.name == alias) {
            return a.target_key_id.clone();
        }
        marker = Some(page.next_marker?);
    }
    None
}
