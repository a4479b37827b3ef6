//! `kms-doctor history`: the key policy's change timeline, with a semantic diff between
//! consecutive policies in force, and the change that locked people out marked. Pure: the
//! events were read before, from CloudTrail's event history, a log archive or Athena.

use super::model::{
    CallRecord, Entry, Grant, LockoutReason, PolicyDiff, PolicyEvent, Skipped, SourceKind,
    TIMELINE_SCHEMA_VERSION, TimelineReport,
};
use super::rules::policy::describe_statement;
use crate::policy::{
    Context, GET_KEY_POLICY, KeyPolicy, PUT_KEY_POLICY, Statement, default_key_policy, delegations,
    grantees,
};
use std::collections::{BTreeMap, BTreeSet};

/// The facts of one policy that the diff compares.
struct Facts {
    /// statement key (Sid, or its JSON) → its JSON
    statements: BTreeMap<String, String>,
    grants: BTreeSet<Grant>,
    delegates: bool,
    restorers: usize,
}

/// How a statement is told apart from the others: its Sid, else what it says.
fn statement_key(s: &Statement) -> String {
    match &s.sid {
        Some(sid) if !sid.is_empty() => format!("\"{sid}\""),
        _ => format!("statement {}", describe_statement(s)),
    }
}

/// The statement's meaning, position aside: two statements that compare equal here decide
/// every request alike.
fn statement_meaning(s: &Statement) -> String {
    let mut s = s.clone();
    s.index = 0;
    format!("{s:?}")
}

fn facts(
    text: &str,
    key_arn: Option<&str>,
    account: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Facts, String> {
    let policy = KeyPolicy::parse(text).map_err(|e| e.to_string())?;
    let statements = policy
        .statements
        .iter()
        .map(|s| (statement_key(s), statement_meaning(s)))
        .collect();
    let empty = Context::default();
    let mut grants = BTreeSet::new();
    let mut restorers = 0;
    for action in [GET_KEY_POLICY, PUT_KEY_POLICY] {
        for g in grantees(&policy, action, key_arn, &empty, now) {
            if action == PUT_KEY_POLICY {
                restorers += 1;
            }
            grants.insert(Grant {
                principal: g.principal,
                action: action.to_owned(),
            });
        }
    }
    let delegates = !delegations(&policy, PUT_KEY_POLICY, account).is_empty();
    Ok(Facts {
        statements,
        grants,
        delegates,
        restorers,
    })
}

fn diff(before: &Facts, after: &Facts) -> PolicyDiff {
    let keys = |f: &Facts| f.statements.keys().cloned().collect::<BTreeSet<_>>();
    let (b, a) = (keys(before), keys(after));
    PolicyDiff {
        statements_added: a.difference(&b).cloned().collect(),
        statements_removed: b.difference(&a).cloned().collect(),
        statements_changed: a
            .intersection(&b)
            .filter(|k| before.statements[*k] != after.statements[*k])
            .cloned()
            .collect(),
        gained: after.grants.difference(&before.grants).cloned().collect(),
        lost: before.grants.difference(&after.grants).cloned().collect(),
        delegation_added: !before.delegates && after.delegates,
        delegation_removed: before.delegates && !after.delegates,
        unreadable: None,
    }
}

/// What changed between two policies (the semantic diff of the timeline), or why one of them
/// cannot be read.
pub fn policy_diff(
    before: &str,
    after: &str,
    key_arn: Option<&str>,
    account: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PolicyDiff, String> {
    Ok(diff(
        &facts(before, key_arn, account, now)?,
        &facts(after, key_arn, account, now)?,
    ))
}

/// What the timeline is built from.
pub struct Found {
    /// The key as the user named it.
    pub key: String,
    pub key_arn: Option<String>,
    pub account: Option<String>,
    pub source: SourceKind,
    /// The key's policy events, in any order.
    pub events: Vec<PolicyEvent>,
    pub skipped: Skipped,
    pub since: Option<String>,
    pub until: Option<String>,
    /// The AWS calls made to find the events.
    pub calls: Vec<CallRecord>,
}

/// Builds the timeline from the events found.
pub fn build(found: Found, now: chrono::DateTime<chrono::Utc>) -> TimelineReport {
    let Found {
        key,
        key_arn,
        account,
        source,
        mut events,
        skipped,
        since,
        until,
        calls,
    } = found;
    let (key_arn, account) = (key_arn.as_deref(), account.as_deref());
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then(a.event_id.cmp(&b.event_id))
    });
    let partition = key_arn.and_then(|a| a.split(':').nth(1)).unwrap_or("aws");
    let mut entries = Vec::new();
    let mut in_force: Option<Facts> = None;
    let mut lockout = None;
    for e in events {
        let mut entry = Entry {
            event_time: e.event_time,
            event_name: e.event_name,
            event_id: e.event_id.clone(),
            author: e.changed_by.clone(),
            role_arn: e.role_arn.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            bypass_lockout_check: e.bypass_lockout_check,
            error_code: e.error_code.clone(),
            default_policy: e.policy.is_none() && e.error_code.is_none(),
            diff: None,
            lockout: None,
        };
        if e.error_code.is_none() {
            // Named by its ID alone, the key's account is the records'.
            let account = account.or(e.account.as_deref());
            let text = e
                .policy
                .clone()
                .unwrap_or_else(|| default_key_policy(partition, account.unwrap_or("ACCOUNT_ID")));
            match facts(&text, key_arn, account, now) {
                Ok(after) => {
                    if let Some(before) = &in_force {
                        entry.diff = Some(diff(before, &after));
                        let reason = if before.delegates && !after.delegates {
                            Some(LockoutReason::DelegationRemoved)
                        } else if before.restorers > 0 && after.restorers == 0 {
                            Some(LockoutReason::NoRestorerLeft)
                        } else {
                            None
                        };
                        if let Some(r) = reason {
                            entry.lockout = Some(r);
                            lockout = Some(entries.len());
                        }
                    } else if after.restorers == 0 {
                        entry.lockout = Some(LockoutReason::NoRestorerFromTheStart);
                        lockout = Some(entries.len());
                    }
                    in_force = Some(after);
                }
                Err(why) => {
                    entry.diff = Some(PolicyDiff {
                        unreadable: Some(format!("the policy does not parse: {why}")),
                        ..PolicyDiff::default()
                    });
                }
            }
        }
        entries.push(entry);
    }
    // Not read is not none: a timeline cut short says so as a finding, in every format.
    let findings: Vec<super::model::Finding> = skipped
        .cut_short
        .iter()
        .map(|why| {
            super::model::Finding::new(
                super::model::Code::ScanIncomplete,
                crate::text!("The read of the policy's history was cut short: ", why.text()),
            )
            .detail("Events older than where it stopped were not read: the change that matters may be among them.")
            .help("Run again with a larger --max-duration or a narrower --since/--until, or read the CloudTrail log archive (--logs, --athena-table).")
        })
        .collect();
    TimelineReport {
        schema_version: TIMELINE_SCHEMA_VERSION,
        key,
        source,
        since,
        until,
        events: entries,
        complete: skipped.cut_short.is_none(),
        skipped,
        lockout,
        calls,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111122223333";

    fn event(t: &str, policy: Option<serde_json::Value>, error: Option<&str>) -> PolicyEvent {
        PolicyEvent {
            event_id: Some(format!("e-{t}").into()),
            event_time: crate::diagnosis::model::Timestamp::parse(t),
            event_name: if t.ends_with("01Z") {
                crate::diagnosis::model::PolicyEventName::CreateKey
            } else {
                crate::diagnosis::model::PolicyEventName::PutKeyPolicy
            },
            changed_by: Some(format!("arn:aws:sts::{A}:assumed-role/Admin/alice")),
            role_arn: None,
            source_ip: None,
            user_agent: None,
            policy: policy.map(|p| p.to_string()),
            bypass_lockout_check: false,
            error_code: error.map(str::to_owned),
            error_message: None,
            account: Some(A.into()),
        }
    }

    fn found(key_arn: Option<String>, events: Vec<PolicyEvent>) -> Found {
        Found {
            key: "k1".into(),
            key_arn,
            account: Some(A.into()),
            source: SourceKind::Cloudtrail,
            events,
            skipped: Skipped::default(),
            since: None,
            until: None,
            calls: Vec::new(),
        }
    }

    fn admins() -> serde_json::Value {
        serde_json::json!({"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:role/KeyAdmin")}, "Action": "kms:*", "Resource": "*"})
    }

    fn delegation() -> serde_json::Value {
        serde_json::json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"})
    }

    #[test]
    fn the_change_that_removed_the_delegation_is_the_lockout() {
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let events = vec![
            event(
                "2026-11-03T00:00:00Z",
                Some(serde_json::json!({"Version": "2012-10-17", "Statement": [admins()]})),
                None,
            ),
            event("2026-10-01T00:00:01Z", None, None),
            event(
                "2026-11-02T00:00:00Z",
                Some(
                    serde_json::json!({"Version": "2012-10-17", "Statement": [delegation(), admins()]}),
                ),
                None,
            ),
            event(
                "2026-11-04T00:00:00Z",
                Some(serde_json::json!({"Statement": []})),
                Some("AccessDeniedException"),
            ),
        ];
        let t = build(
            found(Some(format!("arn:aws:kms:us-east-1:{A}:key/k1")), events),
            now,
        );
        assert_eq!(t.events.len(), 4);
        assert!(t.events[0].default_policy);
        let added = t.events[1].diff.as_ref().unwrap();
        assert_eq!(added.statements_added, ["\"Admins\""]);
        assert!(
            !added.delegation_added && !added.delegation_removed,
            "the default policy delegates too"
        );
        assert_eq!(added.gained.len(), 2);
        let lock = t.events[2].diff.as_ref().unwrap();
        assert_eq!(lock.statements_removed, ["\"Enable IAM User Permissions\""]);
        assert!(lock.delegation_removed);
        let root = format!("arn:aws:iam::{A}:root");
        assert_eq!(
            lock.lost
                .iter()
                .map(|g| g.principal.as_str())
                .collect::<Vec<_>>(),
            [root.as_str(), root.as_str()]
        );
        assert_eq!(t.lockout, Some(2));
        assert!(
            t.events[3].diff.is_none(),
            "a failed attempt changes nothing"
        );
    }

    #[test]
    fn an_unreadable_policy_is_said_and_does_not_break_the_chain() {
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let mut bad = event("2026-11-05T00:00:00Z", None, None);
        bad.policy = Some("{\"Statement\": [".into());
        let t = build(
            found(None, vec![event("2026-10-01T00:00:01Z", None, None), bad]),
            now,
        );
        assert!(
            t.events[1]
                .diff
                .as_ref()
                .unwrap()
                .unreadable
                .as_deref()
                .unwrap()
                .starts_with("the policy does not parse")
        );
        assert_eq!(t.lockout, None);
    }

    /// A read cut short is a partial answer: `complete` is false and `scan-incomplete` says
    /// why, in the JSON too.
    #[test]
    fn a_timeline_cut_short_is_incomplete_with_a_finding() {
        let now = "2026-11-28T00:00:00Z".parse().unwrap();
        let mut cut = found(None, vec![event("2026-10-01T00:00:01Z", None, None)]);
        cut.skipped.cut_short = Some(crate::diagnosis::model::Shortfall::Search(None));
        let t = build(cut, now);
        assert!(!t.complete);
        assert_eq!(t.findings.len(), 1);
        assert_eq!(
            t.findings[0].code,
            super::super::model::Code::ScanIncomplete
        );
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["findings"][0]["code"], "scan-incomplete");
        let whole = build(
            found(None, vec![event("2026-10-01T00:00:01Z", None, None)]),
            now,
        );
        assert!(whole.complete && whole.findings.is_empty());
    }
}
