//! `kms-doctor scan`: every key's policy in force judged by the same rules as `diagnose`, but
//! for nobody in particular: can anyone still update it, and how close is it to a lockout?
//! Pure: the evidence was gathered before.

use super::case::{KeyCase, OrgScope, PolicyScope};
use super::judge::{existence, judge, org_policies, parse_in_force};
use super::model::AuthorizationDetails;
use super::model::{AccountId, KeyId};
use super::model::{
    CallCounts, Code, Finding, KeyEvidence, KeyMute, KeyStatus, Missed, MutedFinding, NotExamined,
    Outcome, SCHEMA_VERSION, ScanError, ScanEvidence, ScanReport, ScanScope, ScanSummary,
    ScannedKey, Severity, Suppression, SuppressionKind, Text, code, count, counted, sort_findings,
};
use super::model::{Removed, SourceKind};
use super::restore_paths::Graph;
use super::rules::live;
use crate::policy::{KeyPolicy, OrgPolicies};
use crate::text;
use std::collections::{BTreeMap, BTreeSet};

/// `given`: the organisation's policies given (`--scp`, `--rcp`), the same for every key; else
/// each account's, as far as the scan could read them.
/// `mutes`: the mute list: findings it accepts do not count.
/// `without`: `scan --without`: the report then keeps the keys that would lose a restorer.
pub fn scan(
    ev: &ScanEvidence,
    given: Option<&OrgPolicies>,
    mutes: &[KeyMute],
    without: &[Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> ScanReport {
    let facts = account_facts(ev, now);
    let mut keys: Vec<ScannedKey> = ev
        .keys
        .iter()
        .map(|k| {
            let f = facts.get(&k.account);
            let org = given.or(f.and_then(|f| f.org.as_ref()));
            let known =
                super::judge::known_context(ev.organizations.get(&k.account), Some(&k.region));
            assess_with(k, org, f.and_then(AccountFacts::iam), &known, now)
        })
        .collect();
    let (not_examined, incomplete) = coverage(ev, &unread(ev), given.is_some());
    for key in &mut keys {
        mute(key, mutes);
    }
    keys.sort_by(|a, b| {
        (a.status, &a.account, &a.region, &a.key_id)
            .cmp(&(b.status, &b.account, &b.region, &b.key_id))
    });
    let mut summary = ScanSummary {
        keys: keys.len() as u64,
        aws_managed_skipped: ev.aws_managed_skipped,
        complete: incomplete.is_none(),
        not_examined,
        ..ScanSummary::default()
    };
    for k in &keys {
        *match k.status {
            KeyStatus::LockedOut => &mut summary.locked_out,
            KeyStatus::AtRisk => &mut summary.at_risk,
            KeyStatus::Unknown => &mut summary.unknown,
            KeyStatus::Healthy => &mut summary.healthy,
        } += 1;
    }
    let mut calls = CallCounts {
        total: ev.calls.len() as u64,
        ..CallCounts::default()
    };
    for c in &ev.calls {
        *calls
            .by_operation
            .entry(format!("{}:{}", c.service, c.operation))
            .or_default() += 1;
        if c.outcome == Outcome::Throttled {
            calls.throttled += 1;
        }
    }
    let report = ScanReport {
        schema_version: SCHEMA_VERSION,
        scope: ScanScope {
            accounts: ev.accounts.clone(),
            regions: ev.regions.clone(),
            regions_not_enabled: ev.regions_not_enabled.clone(),
        },
        keys,
        findings: incomplete.into_iter().collect(),
        errors: ev.errors.clone(),
        calls,
        summary,
        without: None,
        config: None,
        shard: None,
    };
    if without.is_empty() {
        report
    } else {
        keep_changed(report, ev, given, &facts, without, now)
    }
}

/// The keys listed whose policy a failed call (not a denial) left unknown: listed, not
/// examined.
fn unread(ev: &ScanEvidence) -> BTreeSet<(&AccountId, &str, &KeyId)> {
    ev.keys
        .iter()
        .filter(|k| {
            let known = k
                .policy_in_force()
                .0
                .as_deref()
                .is_some_and(|t| parse_in_force(t).is_ok());
            !known && !matches!(k.get_key_policy, Some(Outcome::Ok | Outcome::AccessDenied))
        })
        .map(|k| (&k.account, k.region.as_str(), &k.key_id))
        .collect()
}

/// What the scan behind a saved or live read of keys did not examine (`scan-incomplete`), without
/// judging the keys: for `check`.
pub fn coverage_findings(ev: &ScanEvidence, org_given: bool) -> Vec<Finding> {
    coverage(ev, &unread(ev), org_given).1.into_iter().collect()
}

/// What the scan was asked to examine and did not, counted from what each failure cost it
/// (`unread`: keys whose policy a failed call left unknown), and the `scan-incomplete` finding
/// that says so, with every cause.
fn coverage(
    ev: &ScanEvidence,
    unread: &BTreeSet<(&AccountId, &str, &KeyId)>,
    org_given: bool,
) -> (NotExamined, Option<Finding>) {
    let mut missed = NotExamined {
        keys: unread.len() as u64,
        ..NotExamined::default()
    };
    let mut causes = Vec::new();
    for e in &ev.errors {
        match e.missed {
            Some(Missed::Account) => missed.accounts += 1,
            Some(Missed::Region) => missed.regions += 1,
            Some(Missed::Keys { count }) => missed.keys += count,
            Some(Missed::Listing { .. }) => missed.listings_cut_short += 1,
            // A failure about keys whose policy stayed unread: counted in `unread`.
            None if e.key_ids.iter().any(|id| {
                let (account, region) = (e.account.as_ref(), e.region.as_deref());
                account
                    .zip(region)
                    .is_some_and(|(a, r)| unread.contains(&(a, r, id)))
            }) => {}
            None => continue,
        }
        causes.push(scan_error_line(e));
    }
    // The organisation's policies of an account with keys, when not given (--scp, --rcp): what
    // could not be read leaves what they deny unknown — a key they lock must not read healthy.
    if !org_given {
        for (account, org) in &ev.organizations {
            let gaps = super::judge::org_gaps(org);
            if gaps.is_empty() || !ev.keys.iter().any(|k| &k.account == account) {
                continue;
            }
            missed.org_policies += 1;
            causes.push(text!(
                code(account.to_string()),
                " organisation policies: ",
                Text::join(gaps, "; ")
            ));
        }
    }
    if missed.is_empty() {
        return (missed, None);
    }
    let mut parts = Vec::new();
    if missed.accounts > 0 {
        parts.push(text!(
            count(missed.accounts),
            " of ",
            counted(ev.accounts.len() as u64, "account", "accounts")
        ));
    }
    if missed.regions > 0 {
        parts.push(counted(missed.regions, "Region", "Regions"));
    }
    if missed.keys > 0 {
        parts.push(counted(missed.keys, "key", "keys"));
    }
    if missed.org_policies > 0 {
        parts.push(text!(
            "the organisation's policies of ",
            counted(missed.org_policies, "account", "accounts")
        ));
    }
    let mut title = Text::default();
    if !parts.is_empty() {
        title = text!("The scan did not examine ", Text::join_and(parts.clone()));
    }
    if missed.listings_cut_short > 0 {
        let cut = counted(missed.listings_cut_short, "listing was", "listings were");
        title = match parts.is_empty() {
            true => text!(cut, " cut short: keys beyond it were not counted"),
            false => text!(title, "; ", cut, " cut short"),
        };
    }
    let finding = Finding::new(Code::ScanIncomplete, title)
        .detail(
            "The counts of this report cover only what was examined. What was not examined is \
             neither healthy nor locked out: it is unknown until a scan reaches it.",
        )
        .evidence(causes.into_iter().take(MAX_CAUSES_SHOWN))
        .help(remedies(
            &missed,
            ev.errors
                .iter()
                .any(|e| matches!(e.missed, Some(Missed::Keys { .. }))),
            !unread.is_empty(),
        ));
    (missed, Some(finding))
}

/// What to do about each kind of gap the scan has, in kms-doctor's words.
/// (`deadline`: keys were left when it passed; `unread`: keys whose policy a failed call left
/// unknown.)
fn remedies(missed: &NotExamined, deadline: bool, unread: bool) -> Text {
    let mut steps: Vec<&'static str> = Vec::new();
    if missed.accounts > 0 {
        steps.push(
            "let the scan role (--role-name) be assumed in the accounts named above, or leave \
             them out with --accounts",
        );
    }
    if missed.regions > 0 {
        steps.push("scan the Regions named above again once the cause is mended (--region)");
    }
    if deadline {
        steps.push("give a larger --max-duration, or scan fewer Regions at a time");
    }
    if unread {
        steps.push(
            "when KMS throttled or failed, run again with a lower --concurrency (or read the \
             policies from CloudTrail: leave out --no-cloudtrail)",
        );
    }
    if missed.listings_cut_short > 0 {
        steps.push(
            "split the scan past the listing cap: name accounts with --accounts, Regions with \
             --region",
        );
    }
    if missed.org_policies > 0 {
        steps.push(
            "read the organisation's policies as its management account or delegated \
             administrator (organizations:ListParents, ListPoliciesForTarget, DescribePolicy), \
             or give them with --scp/--rcp",
        );
    }
    text!(
        "Then scan again: ",
        Text::join(steps.into_iter().map(Text::from), "; "),
        ". --fail-on never keeps the exit status 0 for a partial scan."
    )
}

/// Causes named in `scan-incomplete`'s evidence at most (every one is in `errors`).
const MAX_CAUSES_SHOWN: usize = 20;

/// "ACCOUNT REGION operation: message", as the error list shows it.
fn scan_error_line(e: &ScanError) -> Text {
    let mut place: Vec<&str> = Vec::new();
    place.extend(e.account.as_deref());
    place.extend(e.region.as_deref());
    let mut line = Text::default();
    if !place.is_empty() {
        line = text!(code(place.join(" ")), " ");
    }
    text!(line, code(&e.operation), ": ", code(&e.message))
}

/// The findings of `key` the mute list accepts, and its status without them.
fn mute(key: &mut ScannedKey, mutes: &[KeyMute]) {
    let mut findings = std::mem::take(&mut key.findings);
    for f in &mut findings {
        if let Some(m) = mutes.iter().find(|m| m.accepts(key, f.code)) {
            key.muted.push(MutedFinding {
                code: f.code,
                reason: m.reason.clone(),
            });
            f.suppressed = Some(Suppression {
                kind: SuppressionKind::Config,
                reason: m.reason.clone(),
            });
        }
    }
    key.findings = findings;
    if !key.muted.is_empty() {
        key.status = status(
            key.findings.iter().filter(|f| f.counts()),
            key.restorers.is_some(),
        );
    }
}

/// A key's status from the findings that count.
fn status<'a>(
    mut findings: impl Iterator<Item = &'a Finding> + Clone,
    policy_known: bool,
) -> KeyStatus {
    if findings.clone().any(|f| f.code == Code::NoRestorer) {
        KeyStatus::LockedOut
    } else if !policy_known {
        KeyStatus::Unknown
    } else if findings.any(|f| matches!(f.severity, Severity::Error | Severity::Warning)) {
        KeyStatus::AtRisk
    } else {
        KeyStatus::Healthy
    }
}

/// How a scanned key's policy is judged.
fn scope_of<'a>(
    key: &'a KeyEvidence,
    source: SourceKind,
    org: Option<&'a OrgPolicies>,
) -> PolicyScope<'a> {
    PolicyScope {
        account: &key.account,
        account_known: true,
        partition: key.partition(),
        key_arn: key.arn.as_deref(),
        source,
        org: OrgScope {
            policies: org,
            exempt_key: org.is_some_and(|o| {
                o.exempts_key(
                    Some(&key.account),
                    key.manager == Some(super::model::KeyManager::Aws),
                )
            }),
        },
    }
}

/// How a report names a scanned key: its ARN (else its ID), and its first alias.
pub fn key_label(key: &KeyEvidence) -> Text {
    let id = key.arn.clone().unwrap_or_else(|| key.key_id.to_string());
    match key.aliases.first() {
        Some(alias) => text!(code(id), " (", code(alias.to_string()), ")"),
        None => Text::code(id),
    }
}

/// What `removed` takes from a scanned key (`without::impact`); `None` when its policy in
/// force is not known (or does not parse): then what it loses cannot be said.
fn key_impact<'r>(
    key: &KeyEvidence,
    org: Option<&OrgPolicies>,
    iam: Option<(&AuthorizationDetails, &Graph)>,
    removed: &'r [Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<super::without::Impact<'r>> {
    let (text, source) = key.policy_in_force();
    let policy = parse_in_force(text.as_deref()?).ok()?;
    Some(super::without::impact(
        &key_label(key),
        &case_of(key, Some(&policy), &source, org, iam, now),
        removed,
    ))
}

/// `scan --without`: the report keeps only the keys that would lose a principal able to update
/// their policy were `removed` gone, each with its status then (`status_before`: now) and what
/// it would lose; worst first.
fn keep_changed(
    mut report: ScanReport,
    ev: &ScanEvidence,
    given: Option<&OrgPolicies>,
    facts: &BTreeMap<&AccountId, AccountFacts>,
    removed: &[Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> ScanReport {
    let mut changed: BTreeMap<(&AccountId, &str, &KeyId), Vec<Finding>> = BTreeMap::new();
    let mut unknown = 0;
    for (k, impact) in impacts_with(ev, given, facts, removed, now) {
        match impact {
            Some(i) if !i.findings.is_empty() => {
                changed.insert(
                    (&k.account, k.region.as_str(), &k.key_id),
                    i.findings.into_iter().map(|(f, _)| f).collect(),
                );
            }
            Some(_) => {}
            None => unknown += 1,
        }
    }
    report.keys.retain_mut(|k| {
        let Some(findings) = changed.get(&(&k.account, k.region.as_str(), &k.key_id)) else {
            return false;
        };
        k.status_before = Some(k.status);
        k.findings.extend(findings.iter().cloned());
        sort_findings(&mut k.findings);
        k.status = if findings.iter().any(|f| f.severity == Severity::Error) {
            KeyStatus::LockedOut
        } else {
            KeyStatus::AtRisk
        };
        true
    });
    report.keys.sort_by(|a, b| {
        (a.status, &a.account, &a.region, &a.key_id)
            .cmp(&(b.status, &b.account, &b.region, &b.key_id))
    });
    report.without = Some(super::model::WithoutSummary {
        principals: removed.to_vec(),
        keys_changed: report.keys.len() as u64,
        keys_unknown: unknown,
    });
    report
}

/// What `removed` takes from each key of a scan (`None`: its policy is not known), with the
/// organisation's policies as `scan` reads them.
pub fn impacts<'e, 'r>(
    ev: &'e ScanEvidence,
    given: Option<&OrgPolicies>,
    removed: &'r [Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'e KeyEvidence, Option<super::without::Impact<'r>>)> {
    impacts_with(ev, given, &account_facts(ev, now), removed, now)
}

fn impacts_with<'e, 'r>(
    ev: &'e ScanEvidence,
    given: Option<&OrgPolicies>,
    facts: &BTreeMap<&AccountId, AccountFacts>,
    removed: &'r [Removed],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'e KeyEvidence, Option<super::without::Impact<'r>>)> {
    ev.keys
        .iter()
        .map(|k| {
            let f = facts.get(&k.account);
            let org = given.or(f.and_then(|f| f.org.as_ref()));
            (
                k,
                key_impact(k, org, f.and_then(AccountFacts::iam), removed, now),
            )
        })
        .collect()
}

/// What a scan knows of an account beyond its keys: the organisation's policies that apply to
/// it, and its authorization details with their identity policies (parsed once, for every
/// key that delegates to the account).
struct AccountFacts<'e> {
    org: Option<OrgPolicies>,
    iam: Option<(&'e AuthorizationDetails, Graph<'e>)>,
}

impl<'e> AccountFacts<'e> {
    fn iam(&self) -> Option<(&AuthorizationDetails, &Graph<'e>)> {
        self.iam.as_ref().map(|(d, g)| (*d, g))
    }
}

fn account_facts(
    ev: &ScanEvidence,
    now: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<&AccountId, AccountFacts<'_>> {
    let mut facts: BTreeMap<&AccountId, AccountFacts> = BTreeMap::new();
    for (account, org) in &ev.organizations {
        facts
            .entry(account)
            .or_insert(AccountFacts {
                org: None,
                iam: None,
            })
            .org = org_policies(org);
    }
    for (account, details) in &ev.authorization {
        facts
            .entry(account)
            .or_insert(AccountFacts {
                org: None,
                iam: None,
            })
            .iam = Some((details, Graph::for_details(details, now)));
    }
    facts
}

/// What a scan knows of one key, for the one judgement: its policy (when known and parsed), its
/// scope, whether its restorers still exist and its account's authorization details.
fn case_of<'a, 'g>(
    key: &'a KeyEvidence,
    policy: Option<&'a KeyPolicy>,
    source: &crate::diagnosis::model::PolicySource,
    org: Option<&'a OrgPolicies>,
    iam: Option<(&'a AuthorizationDetails, &'a Graph<'g>)>,
    now: chrono::DateTime<chrono::Utc>,
) -> KeyCase<'a, 'g> {
    KeyCase {
        existence: existence(&key.restorer_checks),
        recreated: super::judge::recreated(&key.restorer_checks, source),
        boundaries: super::judge::boundaries(&key.restorer_checks),
        iam,
        ..KeyCase::lockout(policy, scope_of(key, source.kind, org), now)
    }
}

/// One key: its findings, restorers and status, from its key policy alone.
pub fn assess(
    key: &KeyEvidence,
    org: Option<&OrgPolicies>,
    now: chrono::DateTime<chrono::Utc>,
) -> ScannedKey {
    assess_with(key, org, None, &crate::policy::Context::default(), now)
}

/// One key, with its account's authorization details when they were read: a key that
/// delegates to the account then lists the IAM users and roles that can update its policy,
/// and `single-restorer` counts them.
fn assess_with(
    key: &KeyEvidence,
    org: Option<&OrgPolicies>,
    iam: Option<(&AuthorizationDetails, &Graph<'_>)>,
    known: &crate::policy::Context,
    now: chrono::DateTime<chrono::Utc>,
) -> ScannedKey {
    let (text, source) = key.policy_in_force();
    let parsed = text.as_deref().map(parse_in_force);
    let policy = parsed.as_ref().and_then(|p| p.as_ref().ok());
    let judged = judge(&KeyCase {
        context: known,
        ..case_of(key, policy, &source, org, iam, now)
    });
    let mut findings = judged.findings;
    match &parsed {
        None => findings.push(policy_unknown(key)),
        Some(Err(unreadable)) => findings.push(*unreadable.clone()),
        Some(Ok(_)) => {}
    }
    if let Some(e) = key
        .history
        .as_ref()
        .and_then(|h| h.in_force.as_ref())
        .filter(|e| e.bypass_lockout_check)
    {
        findings.push(live::lockout_check_bypassed(e));
    }
    let region = format!(" --region {}", key.region);
    findings.extend(live::pending_deletion(
        key.arn.as_deref().unwrap_or(&key.key_id),
        key.state.as_ref(),
        key.deletion_date.as_ref(),
        &region,
    ));
    sort_findings(&mut findings);
    let policy_known = matches!(parsed, Some(Ok(_)));
    let status = status(findings.iter(), policy_known);
    ScannedKey {
        arn: key.arn.clone(),
        key_id: key.key_id.clone(),
        account: key.account.clone(),
        region: key.region.clone(),
        aliases: key.aliases.clone(),
        manager: key.manager.clone(),
        state: key.state.clone(),
        deletion_date: key.deletion_date,
        status,
        status_before: None,
        policy_source: source,
        findings,
        // Without the policy in force, who can restore access is not known: not "no one".
        restorers: policy_known.then(|| judged.restorers.into_list()),
        muted: Vec::new(),
        tags: key.tags.clone(),
    }
}

/// The policy in force is not known: say why, and the routes that can still learn it.
fn policy_unknown(key: &KeyEvidence) -> Finding {
    let key_name = key.arn.clone().unwrap_or_else(|| key.key_id.to_string());
    let routes = text!(
        "Read the CloudTrail log archive: ",
        code(format!(
            "kms-doctor history {key_name} --logs s3://BUCKET/AWSLogs/{}/CloudTrail/",
            key.account
        )),
        ", or query it with Athena: ",
        code(format!(
            "kms-doctor history {key_name} --athena-table TABLE --region {}",
            key.region
        )),
        " (or run the scan again with --logs or --athena-table)."
    );
    let read = match key.get_key_policy {
        Some(Outcome::AccessDenied) => "kms:GetKeyPolicy was denied",
        Some(Outcome::Ok) => "kms:GetKeyPolicy answered",
        Some(_) => "kms:GetKeyPolicy failed",
        None => "kms:GetKeyPolicy was not called",
    };
    match (&key.history, &key.history_unavailable) {
        (Some(h), _) if h.complete => Finding::new(
            Code::PolicyHistoryUnavailable,
            text!(
                "The policy in force is unknown: ",
                read,
                ", and CloudTrail has no policy change or creation of the key in the last ",
                super::model::count(h.lookback_days),
                " days"
            ),
        )
        .detail(
            "CloudTrail's event history keeps 90 days. The key's last PutKeyPolicy or \
             CreateKey is older, so only the log archive can tell which policy is in force.",
        )
        .help(routes),
        // Neither searched nor refused: CloudTrail was left out (--no-cloudtrail).
        (None, None) => Finding::new(
            Code::EvidenceIncomplete,
            text!("The policy in force is unknown: ", read),
        )
        .detail("CloudTrail was not searched (--no-cloudtrail): the event that set the policy was not looked for.")
        .help(routes),
        (_, why) => Finding::new(
            Code::EvidenceIncomplete,
            text!("The policy in force is unknown: ", read),
        )
        .detail(text!(
            "The Region's CloudTrail search did not settle it: ",
            code(
                why.clone()
                    .or_else(|| {
                        key.history
                            .as_ref()
                            .and_then(|h| h.cut_short.as_ref().map(ToString::to_string))
                    })
                    .unwrap_or_else(|| "the search ended early".to_owned())
            ),
            "."
        ))
        .help(routes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{ExistenceCheck, History, PolicyEvent, SourceKind};

    const A: &str = "111122223333";

    fn key(policy: Option<serde_json::Value>) -> KeyEvidence {
        KeyEvidence {
            account: A.into(),
            region: "us-east-1".into(),
            key_id: "k1".into(),
            arn: Some(format!("arn:aws:kms:us-east-1:{A}:key/k1")),
            manager: Some(crate::diagnosis::model::KeyManager::Customer),
            state: Some(crate::diagnosis::model::KeyState::Enabled),
            current_policy: policy.map(|p| p.to_string()),
            get_key_policy: Some(Outcome::Ok),
            ..KeyEvidence::default()
        }
    }

    fn allow(principal: &str, action: &str) -> serde_json::Value {
        serde_json::json!({"Sid": format!("allow {principal}"), "Effect": "Allow",
            "Principal": {"AWS": principal}, "Action": action, "Resource": "*"})
    }

    fn policy(statements: Vec<serde_json::Value>) -> Option<serde_json::Value> {
        Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
    }

    fn codes(k: &ScannedKey) -> Vec<&'static str> {
        k.findings.iter().map(|f| f.code.as_str()).collect()
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    #[test]
    fn the_default_policy_is_healthy() {
        let k = assess(
            &key(policy(vec![allow(
                &format!("arn:aws:iam::{A}:root"),
                "kms:*",
            )])),
            None,
            now(),
        );
        assert_eq!(k.status, KeyStatus::Healthy, "{:?}", codes(&k));
        assert!(k.findings.is_empty());
    }

    /// AWS KMS requires TLS: the standard "deny unless TLS" statement never applies, and the
    /// account delegation stands without a condition.
    #[test]
    fn the_tls_only_deny_keeps_a_key_healthy() {
        let deny = serde_json::json!({"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*",
            "Action": "kms:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let k = assess(
            &key(policy(vec![
                allow(&format!("arn:aws:iam::{A}:root"), "kms:*"),
                deny,
            ])),
            None,
            now(),
        );
        assert_eq!(k.status, KeyStatus::Healthy, "{:?}", codes(&k));
        let restorers = k.restorers.expect("the policy is known");
        assert!(
            restorers.iter().all(|r| r.conditions_on.is_empty()),
            "{restorers:?}"
        );
    }

    #[test]
    fn one_named_admin_and_no_delegation_is_at_risk() {
        let admin = format!("arn:aws:iam::{A}:role/KeyAdmin");
        let mut k = key(policy(vec![allow(&admin, "kms:*")]));
        k.restorer_checks = vec![ExistenceCheck {
            principal: admin.clone(),
            exists: Some(true),
            trust_policy: None,
            created: None,
            boundary: None,
        }];
        let k = assess(&k, None, now());
        assert_eq!(k.status, KeyStatus::AtRisk);
        assert_eq!(codes(&k), ["no-account-delegation", "single-restorer"]);
    }

    #[test]
    fn a_deleted_only_admin_is_a_lockout() {
        let admin = format!("arn:aws:iam::{A}:role/KeyAdmin");
        let mut k = key(policy(vec![allow(&admin, "kms:*")]));
        k.restorer_checks = vec![ExistenceCheck {
            principal: admin,
            exists: Some(false),
            trust_policy: None,
            created: None,
            boundary: None,
        }];
        let k = assess(&k, None, now());
        assert_eq!(k.status, KeyStatus::LockedOut);
        assert!(codes(&k).contains(&"no-restorer"));
        assert!(codes(&k).contains(&"restorer-missing"));
    }

    #[test]
    fn an_admin_of_another_account_only_is_a_lockout() {
        // kms:PutKeyPolicy never works across accounts: 999988887777 cannot update a key of A.
        let k = assess(
            &key(policy(vec![allow(
                "arn:aws:iam::999988887777:root",
                "kms:*",
            )])),
            None,
            now(),
        );
        assert_eq!(k.status, KeyStatus::LockedOut, "{:?}", codes(&k));
        assert!(codes(&k).contains(&"no-restorer"));
        assert_eq!(k.restorers.as_deref().map(<[_]>::len), Some(0));
    }

    #[test]
    fn a_policy_from_cloudtrail_set_with_the_bypass_is_flagged() {
        let mut k = key(None);
        k.get_key_policy = Some(Outcome::AccessDenied);
        k.history = Some(History {
            lookback_days: 90,
            in_force: Some(PolicyEvent {
                event_id: Some("e1".into()),
                event_time: crate::diagnosis::model::Timestamp::parse("2026-11-01T00:00:00Z"),
                event_name: crate::diagnosis::model::PolicyEventName::PutKeyPolicy,
                changed_by: None,
                role_arn: None,
                source_ip: None,
                user_agent: None,
                policy: policy(vec![allow(
                    "arn:aws:iam::111122223333:role/Gone",
                    "kms:Decrypt",
                )])
                .map(|p| p.to_string()),
                bypass_lockout_check: true,
                error_code: None,
                error_message: None,
                account: None,
            }),
            failed_attempts: Vec::new(),
            pages: 1,
            events_scanned: 1,
            skipped_records: 0,
            complete: true,
            cut_short: None,
            source: SourceKind::Cloudtrail,
        });
        let k = assess(&k, None, now());
        assert_eq!(k.status, KeyStatus::LockedOut);
        assert_eq!(k.policy_source.kind, SourceKind::Cloudtrail);
        assert!(codes(&k).contains(&"lockout-check-bypassed"));
    }

    #[test]
    fn an_unknown_policy_names_the_archive_routes() {
        let mut k = key(None);
        k.get_key_policy = Some(Outcome::AccessDenied);
        k.history_unavailable = Some("cloudtrail:LookupEvents: AccessDeniedException".into());
        let k = assess(&k, None, now());
        assert_eq!(k.status, KeyStatus::Unknown);
        assert_eq!(codes(&k), ["evidence-incomplete"]);
        let help = k.findings[0].help.plain();
        assert!(
            help.contains("--logs") && help.contains("--athena-table"),
            "{help}"
        );
    }

    #[test]
    fn a_listing_cut_short_makes_the_scan_incomplete_and_fail() {
        let mut ev = ScanEvidence::started(now().into(), Default::default(), vec![A.into()]);
        ev.keys = vec![key(policy(vec![allow(
            &format!("arn:aws:iam::{A}:root"),
            "kms:*",
        )]))];
        ev.errors.push(ScanError::new(
            None,
            None,
            "organizations:ListAccounts",
            "more than 100 pages".into(),
            Some(Missed::Listing { kept: 1 }),
        ));
        let report = scan(&ev, None, &[], &[], now());
        assert_eq!(report.summary.healthy, 1);
        assert!(!report.summary.complete);
        assert_eq!(report.summary.not_examined.listings_cut_short, 1);
        assert_eq!(report.findings[0].code, Code::ScanIncomplete);
        assert!(report.findings[0].title.plain().contains("cut short"));
        let exit = crate::diagnosis::exit::scan(&report, Some(Severity::Error));
        assert_eq!(exit, crate::diagnosis::model::Exit::Findings);
    }

    #[test]
    fn a_lost_detail_is_not_a_gap() {
        let mut ev = ScanEvidence::started(now().into(), Default::default(), vec![A.into()]);
        ev.errors.push(ScanError::new(
            Some(A),
            Some("us-east-1"),
            "kms:ListAliases",
            "throttled".into(),
            None,
        ));
        let report = scan(&ev, None, &[], &[], now());
        assert!(report.summary.complete);
        assert!(report.findings.is_empty());
    }

    #[test]
    fn the_exit_code_follows_fail_on() {
        let mut ev = ScanEvidence::started(now().into(), Default::default(), Vec::new());
        ev.keys = vec![key(policy(vec![allow(
            &format!("arn:aws:iam::{A}:role/Only"),
            "kms:*",
        )]))];
        let report = scan(&ev, None, &[], &[], now());
        assert_eq!(report.summary.at_risk, 1);
        use crate::diagnosis::model::Exit;
        let exit = |bar| crate::diagnosis::exit::scan(&report, bar);
        assert_eq!(exit(Some(Severity::Error)), Exit::Clean, "warnings only");
        assert_eq!(exit(Some(Severity::Warning)), Exit::Findings);
        assert_eq!(exit(None), Exit::Clean);
    }
}
