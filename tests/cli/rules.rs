//! Gathering and the live rules, in-process over `evidence::fake`: each test writes an account,
//! injects a failure where it needs one, and checks the verdicts and findings `diagnose` gives.

use crate::support::fake::{FakeAws, FakeKey};
use kms_doctor::diagnosis::diagnose::DiagnoseOptions;
use kms_doctor::diagnosis::model::{
    Code, DiagnoseReport, Evidence, Outcome, SimulationResult, SourceKind, Verdict,
};
use kms_doctor::diagnosis::model::{KeyManager, KeyState, SimDecision};
use kms_doctor::evidence::gather::{CallerUnknown, GatherOptions, gather};
use kms_doctor::evidence::key::KeyInput;
use kms_doctor::evidence::{CallError, Calls, KeyMetadata};
use kms_doctor::policy::{GET_KEY_POLICY, PUT_KEY_POLICY};
use serde_json::json;
use std::time::Duration;

const ACCOUNT: &str = "111122223333";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const CALLER: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
const ADMIN_ROLE: &str = "arn:aws:iam::111122223333:role/ops/Admin";
const KEY_ADMIN: &str = "arn:aws:iam::111122223333:role/KeyAdmin";

fn key_arn() -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")
}

fn key(policy: Option<serde_json::Value>) -> FakeKey {
    FakeKey {
        metadata: KeyMetadata {
            arn: Some(key_arn()),
            key_id: KEY_ID.into(),
            account: Some(ACCOUNT.into()),
            manager: Some(KeyManager::Customer),
            state: Some(KeyState::Enabled),
            deletion_date: None,
            primary_region: None,
        },
        policy: policy.map(|p| p.to_string()),
        aliases: vec!["alias/payments".into()],
    }
}

fn admins_only() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Allow access for Key Administrators",
        "Effect": "Allow", "Principal": {"AWS": KEY_ADMIN}, "Action": "kms:*", "Resource": "*"}]})
}

fn delegating() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM User Permissions",
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*", "Resource": "*"}]})
}

fn put_key_policy_event(policy: &serde_json::Value, error: Option<&str>) -> serde_json::Value {
    let mut record = json!({
        "eventName": "PutKeyPolicy", "eventID": "e-put", "eventTime": "2026-11-20T16:42:07Z",
        "userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/Deployer/ci"},
        "requestParameters": {"keyId": KEY_ID, "policyName": "default", "policy": policy.to_string()},
        "resources": [{"ARN": key_arn()}]
    });
    if let Some(code) = error {
        record["errorCode"] = json!(code);
    }
    record
}

fn sim(action: &str, decision: &str) -> SimulationResult {
    SimulationResult {
        action: action.into(),
        resource: None,
        decision: SimDecision::parse(decision),
        matched_statements: Vec::new(),
        allowed_by_organizations: None,
        allowed_by_permissions_boundary: None,
        missing_context: Vec::new(),
    }
}

/// An admin whose IAM policies allow everything, as the operators kms-doctor serves.
fn account() -> FakeAws {
    FakeAws::default()
        .caller(CALLER, ACCOUNT)
        .role(ADMIN_ROLE)
        .role(KEY_ADMIN)
        .simulation(vec![
            sim(GET_KEY_POLICY, "allowed"),
            sim(PUT_KEY_POLICY, "allowed"),
        ])
}

fn options(key_input: &str) -> GatherOptions {
    GatherOptions {
        key: KeyInput::parse(key_input).unwrap(),
        principal: None,
        lookback_days: 90,
        cloudtrail: true,
        timeout: Duration::from_secs(5),
        lookup_interval: Duration::ZERO,
        now: "2026-11-28T00:00:00Z".parse().unwrap(),
        max_hops: 2,
    }
}

fn try_gather(aws: &FakeAws, opts: &GatherOptions) -> Result<Evidence, CallerUnknown> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(gather(&aws.clients(), &Calls::default(), opts, &|_, _| {}))
}

fn gather_from(aws: &FakeAws, key_input: &str) -> Evidence {
    try_gather(aws, &options(key_input)).expect("the caller is known")
}

fn diagnose(aws: &FakeAws) -> DiagnoseReport {
    let ev = gather_from(aws, "alias/payments");
    kms_doctor::diagnosis::diagnose(
        &ev,
        "2026-11-28T00:00:00Z".parse().unwrap(),
        DiagnoseOptions::default(),
    )
}

fn codes(r: &DiagnoseReport) -> Vec<Code> {
    r.findings.iter().map(|f| f.code).collect()
}

fn verdicts(r: &DiagnoseReport) -> Vec<(Verdict, Vec<Code>)> {
    r.access
        .iter()
        .map(|a| (a.verdict, a.because.clone()))
        .collect()
}

#[test]
fn the_classic_lockout_is_recovered_from_cloudtrail() {
    let aws = account()
        .key(key(None))
        .event("PutKeyPolicy", put_key_policy_event(&admins_only(), None));
    let r = diagnose(&aws);
    assert_eq!(r.policy_source.kind, SourceKind::Cloudtrail);
    assert_eq!(r.policy_source.event_id.as_deref(), Some("e-put"));
    assert_eq!(
        verdicts(&r),
        [
            (Verdict::Denied, vec![Code::RootDelegationMissing]),
            (Verdict::Denied, vec![Code::RootDelegationMissing])
        ]
    );
    let restorers = r
        .restorers
        .as_deref()
        .expect("the policy in force is known");
    assert_eq!(restorers.len(), 1);
    assert_eq!(restorers[0].principal, KEY_ADMIN);
    assert_eq!(restorers[0].exists, Some(true));
    assert_eq!(
        kms_doctor::diagnosis::exit::diagnose(&r),
        kms_doctor::diagnosis::model::Exit::Findings
    );
    let called = aws.called();
    assert!(
        !called
            .iter()
            .any(|op| op.starts_with("Put") || op.starts_with("Create"))
    );
}

#[test]
fn a_failed_attempt_after_the_change_is_evidence() {
    let aws = account()
        .key(key(None))
        .event(
            "PutKeyPolicy",
            put_key_policy_event(&delegating(), Some("AccessDeniedException")),
        )
        .event("PutKeyPolicy", put_key_policy_event(&admins_only(), None));
    let r = diagnose(&aws);
    let finding = r
        .findings
        .iter()
        .find(|f| f.code == Code::RootDelegationMissing)
        .unwrap();
    assert!(
        finding
            .evidence
            .iter()
            .any(|e| e.plain().starts_with("failed PutKeyPolicy")),
        "{:#?}",
        finding.evidence
    );
    assert_eq!(r.history.as_ref().unwrap().failed_attempts.len(), 1);
}

#[test]
fn a_deleted_key_administrator_leaves_no_restorer() {
    let aws = FakeAws::default()
        .caller(CALLER, ACCOUNT)
        .role(ADMIN_ROLE)
        .simulation(vec![
            sim(GET_KEY_POLICY, "allowed"),
            sim(PUT_KEY_POLICY, "allowed"),
        ])
        .key(key(None))
        .event("PutKeyPolicy", put_key_policy_event(&admins_only(), None));
    let r = diagnose(&aws);
    assert_eq!(r.restorers.as_deref().unwrap()[0].exists, Some(false));
    let c = codes(&r);
    assert!(c.contains(&Code::RestorerMissing), "{c:?}");
    assert!(c.contains(&Code::NoRestorer), "{c:?}");
    assert!(
        r.next_steps
            .iter()
            .any(|s| s.plain().contains("AWS Support"))
    );
}

#[test]
fn iam_decides_when_the_policy_delegates() {
    let readable = FakeAws::default()
        .caller(CALLER, ACCOUNT)
        .role(ADMIN_ROLE)
        .simulation(vec![
            sim(GET_KEY_POLICY, "implicitDeny"),
            sim(PUT_KEY_POLICY, "implicitDeny"),
        ])
        .key(key(Some(delegating())));
    let r = diagnose(&readable);
    assert_eq!(r.policy_source.kind, SourceKind::Current);
    assert_eq!(
        verdicts(&r)[1],
        (Verdict::Denied, vec![Code::IamImplicitDeny]),
        "the policy delegates; IAM allows nothing"
    );
    let help = r
        .findings
        .iter()
        .find(|f| f.code == Code::IamImplicitDeny)
        .unwrap()
        .help
        .plain();
    assert!(
        help.contains("aws iam put-role-policy --role-name Admin"),
        "{help}"
    );
}

#[test]
fn a_denied_simulation_is_a_gap_named_in_the_report() {
    let aws = account()
        .key(key(Some(delegating())))
        .deny("SimulatePrincipalPolicy");
    let r = diagnose(&aws);
    // GetKeyPolicy answered: observed allowed. PutKeyPolicy depends on IAM, which is unknown.
    assert_eq!(r.access[0].verdict, Verdict::Allowed);
    assert_eq!(r.access[1].verdict, Verdict::Unknown);
    let gap = r
        .findings
        .iter()
        .find(|f| {
            f.code == Code::EvidenceIncomplete
                && f.title.plain().contains("SimulatePrincipalPolicy")
        })
        .expect("the denied call is a finding");
    assert!(
        gap.detail
            .plain()
            .contains("IAM policies allow the actions is unknown")
    );
    assert!(
        r.calls
            .iter()
            .any(|c| c.operation.as_str() == "SimulatePrincipalPolicy"
                && c.outcome == Outcome::AccessDenied)
    );
}

#[test]
fn cloudtrail_denied_and_policy_unreadable_leaves_the_policy_unknown() {
    let aws = account().key(key(None)).deny("LookupEvents");
    let r = diagnose(&aws);
    assert_eq!(r.policy_source.kind, SourceKind::None);
    // IAM allows GetKeyPolicy and KMS still denied it: the key policy is the cause.
    assert_eq!(
        verdicts(&r)[0],
        (Verdict::Denied, vec![Code::RootDelegationMissing])
    );
    assert!(r.findings.iter().any(|f| f.code == Code::EvidenceIncomplete
        && f.title.plain().contains("LookupEvents")));
    assert!(r.next_steps.iter().any(|s| s.plain().contains("Athena")));
}

#[test]
fn a_key_pending_deletion_is_flagged_with_the_command_to_cancel() {
    let mut pending = key(Some(delegating()));
    pending.metadata.state = Some(KeyState::PendingDeletion);
    pending.metadata.deletion_date =
        kms_doctor::diagnosis::model::Timestamp::parse("2026-12-05T00:00:00Z");
    let r = diagnose(&account().key(pending));
    let f = r
        .findings
        .iter()
        .find(|f| f.code == Code::KeyPendingDeletion)
        .unwrap();
    assert!(f.title.plain().contains("2026-12-05"));
    assert!(
        f.help
            .plain()
            .contains("aws kms cancel-key-deletion --key-id")
    );
    assert!(f.help.plain().contains("--region us-east-1"));
}

#[test]
fn an_unknown_key_is_not_found_and_nothing_else_is_guessed() {
    let r = diagnose(&account());
    assert_eq!(
        verdicts(&r),
        [
            (Verdict::Unknown, vec![Code::KeyNotFound]),
            (Verdict::Unknown, vec![Code::KeyNotFound])
        ]
    );
    assert!(
        r.key.arn.is_none(),
        "an alias that resolves to nothing has no ARN"
    );
}

#[test]
fn the_caller_unknown_stops_the_diagnosis() {
    let aws = FakeAws::default().fail(
        "GetCallerIdentity",
        CallError::from_code(
            Some("ExpiredToken"),
            "the security token included in the request is expired",
        ),
    );
    let err = try_gather(&aws, &options(KEY_ID)).unwrap_err();
    assert!(err.to_string().contains("ExpiredToken"), "{err}");
}

#[test]
fn describe_key_denied_by_the_key_policy_is_not_an_iam_gap() {
    let aws = account()
        .key(key(None))
        .deny("DescribeKey")
        .event("PutKeyPolicy", put_key_policy_event(&admins_only(), None));
    let ev = gather_from(&aws, &key_arn());
    let r = kms_doctor::diagnosis::diagnose(
        &ev,
        "2026-11-28T00:00:00Z".parse().unwrap(),
        DiagnoseOptions::default(),
    );
    assert!(codes(&r).contains(&Code::RootDelegationMissing));
    let gap = r
        .findings
        .iter()
        .find(|f| f.title.plain().contains("kms:DescribeKey"))
        .expect("DescribeKey's denial is named");
    assert!(
        gap.help.plain().contains("no IAM permission can help"),
        "{}",
        gap.help
    );
    assert!(
        !r.next_steps.iter().any(|s| s
            .plain()
            .contains("read-only permissions listed in the README")),
        "{:#?}",
        r.next_steps
    );
}

#[test]
fn an_alias_that_cannot_be_resolved_says_so_not_no_cloudtrail() {
    let aws = account()
        .key(key(None))
        .deny("DescribeKey")
        .deny("ListAliases");
    let r = diagnose(&aws);
    assert_eq!(r.policy_source.kind, SourceKind::None);
    let unknown = r
        .findings
        .iter()
        .find(|f| f.title.plain() == "The key policy in force is unknown")
        .expect("the gap is named");
    assert!(
        unknown
            .detail
            .plain()
            .contains("the key's ID could not be learned"),
        "{}",
        unknown.detail
    );
    assert!(!unknown.detail.plain().contains("--no-cloudtrail"));
}

#[test]
fn an_endless_next_token_ends_at_the_page_cap_and_says_so() {
    let aws = account().key(key(None)).endless_pages();
    let r = diagnose(&aws);
    let history = r.history.as_ref().unwrap();
    assert!(!history.complete);
    assert_eq!(
        history.pages,
        kms_doctor::evidence::sources::event_history::MAX_PAGES
    );
    assert_eq!(
        history.cut_short,
        Some(kms_doctor::diagnosis::model::SearchBound::Pages(400))
    );
    let gap = r
        .findings
        .iter()
        .find(|f| {
            f.title
                .plain()
                .starts_with("The CloudTrail search was cut short")
        })
        .expect("the cut is a finding");
    assert_eq!(gap.code, Code::EvidenceIncomplete);
    assert!(
        !codes(&r).contains(&Code::PolicyHistoryUnavailable),
        "the history was not read in full"
    );
}

#[test]
fn the_authorization_details_are_read_only_when_the_policy_delegates() {
    use kms_doctor::diagnosis::model::{
        AuthorizationDetails, IamPrincipalDetails, ManagedPolicy, RestorerVia,
    };
    let admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess";
    let details = AuthorizationDetails {
        roles: vec![IamPrincipalDetails {
            arn: "arn:aws:iam::111122223333:role/Ops".into(),
            name: "Ops".into(),
            path: "/".into(),
            attached: vec![admin_policy.into()],
            ..Default::default()
        }],
        policies: vec![ManagedPolicy {
            arn: admin_policy.into(),
            name: "AdministratorAccess".into(),
            document: Some(
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                    .to_string(),
            ),
        }],
        complete: true,
        ..Default::default()
    };
    // The key policy names its administrators only: IAM grants nothing, so nothing is read.
    let named_only = account()
        .key(key(Some(admins_only())))
        .authorization(details.clone());
    let r = diagnose(&named_only);
    assert!(
        !named_only
            .called()
            .contains(&"GetAccountAuthorizationDetails".to_owned())
    );
    assert!(
        r.restorers
            .iter()
            .flatten()
            .all(|x| x.via == RestorerVia::KeyPolicy)
    );

    // It delegates: the role whose own policy allows kms:PutKeyPolicy is named.
    let delegating_key = account()
        .key(key(Some(delegating())))
        .authorization(details);
    let r = diagnose(&delegating_key);
    let ops = r
        .restorers
        .iter()
        .flatten()
        .find(|x| x.principal == "arn:aws:iam::111122223333:role/Ops")
        .expect("named through IAM");
    assert_eq!(ops.via, RestorerVia::Iam);
    assert_eq!(ops.statement, "IAM policy AdministratorAccess");
}
