//! `scan`'s gathering in-process over the test double (`support::fake`): which calls it makes,
//! how often, and what it keeps when AWS says no or lists without end.

use crate::support::fake::{FakeAws, FakeKey};
use kms_doctor::diagnosis::model::{KeyManager, Missed, ScanEvidence};
use kms_doctor::evidence::scan::{
    AccountsToScan, MAX_ACCOUNT_PAGES, RegionsToScan, ScanOptions, gather_scan,
};
use kms_doctor::evidence::{Calls, KeyMetadata};
use std::time::Duration;

const A: &str = "111122223333";

fn opts() -> ScanOptions {
    ScanOptions {
        accounts: AccountsToScan::Caller,
        role_name: "OrganizationAccountAccessRole".into(),
        regions: RegionsToScan::List(vec!["us-east-1".into()]),
        concurrency: 4,
        account_concurrency: 4,
        shard: None,
        kms_rate: 1000.0,
        cloudtrail: true,
        lookback_days: 90,
        timeout: Duration::from_secs(5),
        lookup_interval: Duration::ZERO,
        now: chrono::Utc::now(),
        read_tags: false,
    }
}

fn key(id: &str, manager: &str, policy: Option<serde_json::Value>) -> FakeKey {
    FakeKey {
        metadata: KeyMetadata {
            arn: Some(format!("arn:aws:kms:us-east-1:{A}:key/{id}")),
            key_id: id.into(),
            account: Some(A.into()),
            manager: Some(KeyManager::parse(manager)),
            state: Some(kms_doctor::diagnosis::model::KeyState::Enabled),
            deletion_date: None,
            primary_region: None,
        },
        policy: policy.map(|p| p.to_string()),
        aliases: vec![format!("alias/{id}")],
    }
}

fn admin_policy(role: &str) -> serde_json::Value {
    serde_json::json!({"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{A}:role/{role}")}, "Action": "kms:*", "Resource": "*"}]})
}

fn put(id: &str, policy: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"eventName": "PutKeyPolicy", "eventID": format!("e-{id}"),
        "eventTime": "2026-11-01T00:00:00Z",
        "requestParameters": {"keyId": id, "policyName": "default", "policy": policy.to_string()}})
}

fn run(fake: &FakeAws) -> ScanEvidence {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(gather_scan(fake, &Calls::default(), &opts(), &|_| {}))
        .unwrap()
}

#[test]
fn denied_policies_share_one_cloudtrail_search_and_names_are_checked_once() {
    let fake = FakeAws::default()
        .caller(&format!("arn:aws:iam::{A}:user/scanner"), A)
        .role(&format!("arn:aws:iam::{A}:role/Admin"))
        .key(key("k1", "CUSTOMER", Some(admin_policy("Admin"))))
        .key(key("k2", "CUSTOMER", None))
        .key(key("k3", "CUSTOMER", None))
        .key(key("aws1", "AWS", Some(admin_policy("Admin"))))
        .event("PutKeyPolicy", put("k2", admin_policy("Admin")))
        .event("PutKeyPolicy", put("k3", admin_policy("Gone")));
    let ev = run(&fake);
    assert_eq!(ev.keys.len(), 3, "the AWS managed key is left out");
    assert_eq!(ev.aws_managed_skipped, 1);
    let called = fake.called();
    let count = |op: &str| called.iter().filter(|c| *c == op).count();
    assert_eq!(count("LookupEvents"), 1, "{called:?}");
    assert_eq!(count("GetRole"), 2, "Admin and Gone, once each: {called:?}");
    // Asked at once with DescribeKey, before the key is known to be AWS managed (its answer
    // is then dropped): one call more per AWS managed key, no wait for any key.
    assert_eq!(count("GetKeyPolicy"), 4);
    let k3 = ev.keys.iter().find(|k| k.key_id == "k3").unwrap();
    assert_eq!(
        k3.history
            .as_ref()
            .and_then(|h| h.in_force.as_ref())
            .and_then(|e| e.event_id.as_deref()),
        Some("e-k3")
    );
    assert_eq!(k3.restorer_checks[0].exists, Some(false));
}

#[test]
fn an_account_list_past_its_page_cap_is_scanned_and_said_to_be_cut() {
    let fake = FakeAws::default()
        .caller(&format!("arn:aws:iam::{A}:user/scanner"), A)
        .key(key("k1", "CUSTOMER", Some(admin_policy("Admin"))))
        .endless_pages();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let opts = ScanOptions {
        accounts: AccountsToScan::Organization,
        ..opts()
    };
    let ev = runtime
        .block_on(gather_scan(&fake, &Calls::default(), &opts, &|_| {}))
        .unwrap();
    let called = fake.called();
    let pages = called.iter().filter(|c| *c == "ListAccounts").count();
    assert_eq!(pages, MAX_ACCOUNT_PAGES);
    assert_eq!(ev.keys.len(), 1, "the accounts listed are scanned");
    let cut = ev
        .errors
        .iter()
        .find(|e| e.operation == "organizations:ListAccounts")
        .unwrap_or_else(|| panic!("{:?}", ev.errors));
    assert_eq!(cut.missed, Some(Missed::Listing { kept: 1 }));
}

#[test]
fn a_denied_cloudtrail_leaves_the_keys_unknown_with_the_reason() {
    let fake = FakeAws::default()
        .caller(&format!("arn:aws:iam::{A}:user/scanner"), A)
        .key(key("k2", "CUSTOMER", None))
        .deny("LookupEvents");
    let ev = run(&fake);
    assert!(
        ev.keys[0]
            .history_unavailable
            .as_deref()
            .is_some_and(|w| w.contains("AccessDenied")),
        "{:?}",
        ev.keys[0]
    );
}
