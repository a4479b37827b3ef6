//! SDK level: how AWS's answers — outputs, error bodies, throttling, server errors — map to
//! evidence. Clients are the real SDK clients with `aws-smithy-mocks` in place of the network;
//! error answers are given as raw HTTP responses in AWS's wire formats, so that the SDK's own
//! parsing of error codes is part of what is tested.

use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use kms_doctor::diagnosis::model::{Outcome, SimDecision};
use kms_doctor::evidence::aws::{CloudTrailClient, IamClient, KmsClient, StsClient};
use kms_doctor::evidence::{CloudTrail, Iam, Kms, Sts};

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut i = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        i = i.with_rule(r);
    }
    i
}

/// A real SDK client of `$sdk` whose HTTP answers come from the mock `rules`, wrapped in
/// kms-doctor's adapter. `$tweak` adjusts the configuration.
macro_rules! mocked {
    ($sdk:ident, $rules:expr) => {
        mocked!($sdk, $rules, |c| c)
    };
    ($sdk:ident, $rules:expr, $tweak:expr) => {{
        let builder = $sdk::Config::builder()
            .with_test_defaults()
            .region($sdk::config::Region::new("us-east-1"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor($rules));
        let tweak: fn($sdk::config::Builder) -> $sdk::config::Builder = $tweak;
        $sdk::Client::from_conf(tweak(builder).build()).into()
    }};
}

fn kms(rules: &[&Rule]) -> KmsClient {
    mocked!(aws_sdk_kms, rules)
}

fn iam(rules: &[&Rule]) -> IamClient {
    mocked!(aws_sdk_iam, rules)
}

fn sts(rules: &[&Rule]) -> StsClient {
    mocked!(aws_sdk_sts, rules)
}

fn cloudtrail(rules: &[&Rule]) -> CloudTrailClient {
    // As in kms-doctor: no SDK retries for LookupEvents.
    mocked!(aws_sdk_cloudtrail, rules, |c| c.retry_config(
        aws_sdk_cloudtrail::config::retry::RetryConfig::disabled()
    ))
}

fn json_error(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn kms_access_denied_is_evidence_not_an_error() {
    let rule = mock!(aws_sdk_kms::Client::get_key_policy)
        .match_requests(|r| r.policy_name() == Some("default"))
        .then_http_response(|| {
            json_error(400, r#"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::111122223333:assumed-role/Admin/alice is not authorized to perform: kms:GetKeyPolicy on resource: arn:aws:kms:us-east-1:111122223333:key/k1 because no resource-based policy allows the kms:GetKeyPolicy action"}"#)
        });
    let err = kms(&[&rule]).get_key_policy("k1").await.unwrap_err();
    assert_eq!(err.outcome, Outcome::AccessDenied);
    assert_eq!(err.kind.code(), Some("AccessDeniedException"));
    assert!(err.message.contains("no resource-based policy allows"));
    assert_eq!(
        err.denial,
        Some(kms_doctor::diagnosis::model::Denial {
            policy_type: kms_doctor::diagnosis::model::PolicyType::Resource,
            explicit: Some(false),
        }),
        "AWS's words name the layer that decided"
    );
    assert_eq!(
        rule.num_calls(),
        1,
        "GetKeyPolicy is asked for the policy named default"
    );
}

#[tokio::test]
async fn kms_not_found_and_throttling_are_classified() {
    let not_found = mock!(aws_sdk_kms::Client::describe_key)
        .then_http_response(|| json_error(400, r#"{"__type":"NotFoundException","message":"Alias arn:aws:kms:us-east-1:111122223333:alias/x is not found."}"#));
    let err = kms(&[&not_found])
        .describe_key("alias/x")
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::NotFound);

    let throttled = mock!(aws_sdk_kms::Client::list_aliases).then_http_response(|| {
        json_error(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    });
    let err = kms(&[&throttled]).list_aliases(None).await.unwrap_err();
    assert_eq!(err.outcome, Outcome::Throttled);
    assert_eq!(err.kind.code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn kms_server_errors_are_errors() {
    let rule = mock!(aws_sdk_kms::Client::describe_key).then_http_response(|| {
        json_error(
            500,
            r#"{"__type":"KMSInternalException","message":"internal"}"#,
        )
    });
    let err = kms(&[&rule]).describe_key("k1").await.unwrap_err();
    assert_eq!(err.outcome, Outcome::Error);
}

#[tokio::test]
async fn describe_key_maps_its_metadata() {
    let rule = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        aws_sdk_kms::operation::describe_key::DescribeKeyOutput::builder()
            .key_metadata(
                aws_sdk_kms::types::KeyMetadata::builder()
                    .key_id("k1")
                    .arn("arn:aws:kms:us-east-1:111122223333:key/k1")
                    .aws_account_id("111122223333")
                    .key_manager(aws_sdk_kms::types::KeyManagerType::Aws)
                    .key_state(aws_sdk_kms::types::KeyState::PendingDeletion)
                    .deletion_date(aws_smithy_types::DateTime::from_secs(1_767_225_600))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let md = kms(&[&rule]).describe_key("k1").await.unwrap();
    assert_eq!(md.manager.as_ref().map(|m| m.as_str()), Some("AWS"));
    assert_eq!(
        md.state.as_ref().map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    assert_eq!(
        md.deletion_date.map(|d| d.to_string()).as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert_eq!(md.account.as_deref(), Some("111122223333"));
}

/// A replica's primary Region comes from `MultiRegionConfiguration`; a primary key has none.
#[tokio::test]
async fn describe_key_maps_a_replica_s_primary_region() {
    use aws_sdk_kms::types::{MultiRegionConfiguration, MultiRegionKey, MultiRegionKeyType};
    let described = |kind: MultiRegionKeyType| {
        let kind = kind.clone();
        mock!(aws_sdk_kms::Client::describe_key).then_output(move || {
            aws_sdk_kms::operation::describe_key::DescribeKeyOutput::builder()
                .key_metadata(
                    aws_sdk_kms::types::KeyMetadata::builder()
                        .key_id("mrk-1")
                        .arn("arn:aws:kms:eu-west-1:111122223333:key/mrk-1")
                        .multi_region(true)
                        .multi_region_configuration(
                            MultiRegionConfiguration::builder()
                                .multi_region_key_type(kind.clone())
                                .primary_key(
                                    MultiRegionKey::builder()
                                        .arn("arn:aws:kms:us-east-1:111122223333:key/mrk-1")
                                        .region("us-east-1")
                                        .build(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        })
    };
    let replica = described(MultiRegionKeyType::Replica);
    let md = kms(&[&replica]).describe_key("mrk-1").await.unwrap();
    assert_eq!(md.primary_region.as_deref(), Some("us-east-1"));
    let primary = described(MultiRegionKeyType::Primary);
    let md = kms(&[&primary]).describe_key("mrk-1").await.unwrap();
    assert_eq!(md.primary_region, None);
}

#[tokio::test]
async fn iam_no_such_entity_and_access_denied_in_query_xml() {
    let missing = mock!(aws_sdk_iam::Client::get_role).then_http_response(|| {
        json_error(404, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name KeyAdmin cannot be found.</Message></Error><RequestId>r</RequestId></ErrorResponse>")
    });
    let err = iam(&[&missing]).get_role("KeyAdmin").await.unwrap_err();
    assert_eq!(err.outcome, Outcome::NotFound);
    assert_eq!(err.kind.code(), Some("NoSuchEntity"));

    let denied = mock!(aws_sdk_iam::Client::simulate_principal_policy).then_http_response(|| {
        json_error(403, "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: iam:SimulatePrincipalPolicy</Message></Error><RequestId>r</RequestId></ErrorResponse>")
    });
    let err = iam(&[&denied])
        .simulate_principal_policy(
            "arn:aws:iam::111122223333:role/Admin",
            &["kms:GetKeyPolicy"],
            "arn:aws:kms:us-east-1:111122223333:key/k1",
        )
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::AccessDenied);
}

#[tokio::test]
async fn simulation_results_keep_decisions_and_details() {
    use aws_sdk_iam::types::{
        EvaluationResult, OrganizationsDecisionDetail, PermissionsBoundaryDecisionDetail,
        PolicyEvaluationDecisionType, PolicySourceType, Statement,
    };
    let rule = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(|r| r.policy_source_arn() == Some("arn:aws:iam::111122223333:role/ops/Admin") && r.resource_arns().len() == 1)
        .then_output(|| {
            aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(
                    EvaluationResult::builder()
                        .eval_action_name("kms:PutKeyPolicy")
                        .eval_decision(PolicyEvaluationDecisionType::ExplicitDeny)
                        .matched_statements(
                            Statement::builder()
                                .source_policy_id("DenyKeyPolicyChanges")
                                .source_policy_type(PolicySourceType::UserManaged)
                                .build(),
                        )
                        .organizations_decision_detail(OrganizationsDecisionDetail::builder().allowed_by_organizations(true).build())
                        .permissions_boundary_decision_detail(PermissionsBoundaryDecisionDetail::builder().allowed_by_permissions_boundary(false).build())
                        .build()
                        .unwrap(),
                )
                .is_truncated(false)
                .build()
        });
    let results = iam(&[&rule])
        .simulate_principal_policy(
            "arn:aws:iam::111122223333:role/ops/Admin",
            &["kms:PutKeyPolicy"],
            "arn:aws:kms:us-east-1:111122223333:key/k1",
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r.decision, SimDecision::ExplicitDeny);
    assert_eq!(
        r.matched_statements[0].source_policy_id.as_deref(),
        Some("DenyKeyPolicyChanges")
    );
    assert_eq!(
        r.matched_statements[0]
            .source_policy_type
            .as_ref()
            .map(|t| t.as_str()),
        Some("user-managed")
    );
    assert_eq!(r.allowed_by_organizations, Some(true));
    assert_eq!(r.allowed_by_permissions_boundary, Some(false));
}

#[tokio::test]
async fn caller_identity_maps_and_a_reply_without_arn_is_an_error() {
    let ok = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .arn("arn:aws:sts::111122223333:assumed-role/Admin/alice")
            .account("111122223333")
            .user_id("AROAEXAMPLEADMIN0001:alice")
            .build()
    });
    let id = sts(&[&ok]).get_caller_identity().await.unwrap();
    assert_eq!(id.account, "111122223333");

    let empty = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder().build()
    });
    let err = sts(&[&empty]).get_caller_identity().await.unwrap_err();
    assert_eq!(err.kind.code(), Some("MalformedReply"));

    // A 200 with blank fields is no answer either (it once became a spurious cross-account-key).
    let blank = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .arn("")
            .account("111122223333")
            .build()
    });
    let err = sts(&[&blank]).get_caller_identity().await.unwrap_err();
    assert_eq!(err.kind.code(), Some("MalformedReply"));
}

#[tokio::test]
async fn lookup_events_filters_by_event_name_and_pages() {
    use aws_sdk_cloudtrail::types::{Event, LookupAttributeKey};
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            let a = &r.lookup_attributes()[0];
            a.attribute_key() == &LookupAttributeKey::EventName
                && a.attribute_value() == "PutKeyPolicy"
                && r.next_token() == Some("t1")
        })
        .then_output(|| {
            aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder()
                .events(
                    Event::builder()
                        .event_id("e1")
                        .event_name("PutKeyPolicy")
                        .cloud_trail_event("{}")
                        .build(),
                )
                .next_token("t2")
                .build()
        });
    let now = chrono::Utc::now();
    let page = cloudtrail(&[&rule])
        .lookup_events(
            kms_doctor::diagnosis::model::PolicyEventName::PutKeyPolicy,
            now - chrono::Duration::days(90),
            now,
            Some("t1".into()),
        )
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].cloudtrail_event.as_deref(), Some("{}"));
    assert_eq!(page.next_token.as_deref(), Some("t2"));
}

#[tokio::test]
async fn lookup_events_throttling_is_not_retried_by_the_sdk() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_http_response(|| {
        json_error(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    });
    let now = chrono::Utc::now();
    let err = cloudtrail(&[&rule])
        .lookup_events(
            kms_doctor::diagnosis::model::PolicyEventName::PutKeyPolicy,
            now,
            now,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::Throttled);
    assert_eq!(
        rule.num_calls(),
        1,
        "kms-doctor paces and retries LookupEvents itself"
    );
}

fn athena(rules: &[&Rule]) -> kms_doctor::evidence::aws::AthenaClient {
    mocked!(aws_sdk_athena, rules)
}

fn athena_state(
    state: aws_sdk_athena::types::QueryExecutionState,
) -> aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput {
    use aws_sdk_athena::types::{QueryExecution, QueryExecutionStatus};
    aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput::builder()
        .query_execution(
            QueryExecution::builder()
                .query_execution_id("q1")
                .status(
                    QueryExecutionStatus::builder()
                        .state(state)
                        .state_change_reason("TABLE_NOT_FOUND: cloudtrail_logs")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn athena_page(
    rows: Vec<Vec<&str>>,
    next: Option<&str>,
) -> aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput {
    use aws_sdk_athena::types::{Datum, ResultSet, Row};
    aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput::builder()
        .result_set(
            ResultSet::builder()
                .set_rows(Some(
                    rows.into_iter()
                        .map(|r| {
                            Row::builder()
                                .set_data(Some(
                                    r.into_iter()
                                        .map(|c| Datum::builder().var_char_value(c).build())
                                        .collect(),
                                ))
                                .build()
                        })
                        .collect(),
                ))
                .build(),
        )
        .set_next_token(next.map(str::to_owned))
        .build()
}

#[tokio::test]
async fn athena_queries_are_polled_until_done_and_paged() {
    use aws_sdk_athena::types::QueryExecutionState;
    use kms_doctor::evidence::record::KeyRef;
    let start = mock!(aws_sdk_athena::Client::start_query_execution)
        .match_requests(|r| {
            r.query_string().is_some_and(|q| q.contains("FROM trail"))
                && r.work_group() == Some("wg")
        })
        .then_output(|| {
            aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput::builder()
                .query_execution_id("q1")
                .build()
        });
    let poll = mock!(aws_sdk_athena::Client::get_query_execution)
        .sequence()
        .output(|| athena_state(QueryExecutionState::Queued))
        .output(|| athena_state(QueryExecutionState::Running))
        .output(|| athena_state(QueryExecutionState::Succeeded))
        .build();
    let header = crate::support::archive::ATHENA_COLUMNS.to_vec();
    let put = r#"{"keyId":"k1","policyName":"default","policy":"{\"Statement\":[]}","bypassPolicyLockoutSafetyCheck":true}"#;
    let pages = mock!(aws_sdk_athena::Client::get_query_results)
        .sequence()
        .output(move || {
            athena_page(
                vec![
                    header.clone(),
                    vec![
                        "2026-11-02T00:00:00Z",
                        "PutKeyPolicy",
                        "e2",
                        "arn:aws:sts::111122223333:assumed-role/Deployer/ci",
                        "arn:aws:iam::111122223333:role/Deployer",
                        "203.0.113.24",
                        "aws-cli/2",
                        "",
                        put,
                        "",
                    ],
                ],
                Some("page2"),
            )
        })
        .output(|| {
            athena_page(
                vec![vec![
                    "2026-11-01T00:00:00Z",
                    "CreateKey",
                    "e1",
                    "arn:aws:sts::111122223333:assumed-role/Admin/x",
                    "",
                    "",
                    "",
                    "",
                    r#"{"description":"x"}"#,
                    r#"{"keyMetadata":{"keyId":"k1"}}"#,
                ]],
                None,
            )
        })
        .build();
    let client = athena(&[&start, &poll, &pages]);
    let calls = kms_doctor::evidence::Calls::default();
    let query = kms_doctor::evidence::AthenaQuery {
        sql: "SELECT … FROM trail".into(),
        workgroup: Some("wg".into()),
        ..Default::default()
    };
    let key = KeyRef {
        arn: None,
        key_id: Some("k1".into()),
        primary_region: None,
    };
    let result = kms_doctor::evidence::sources::athena::run(
        &client,
        &calls,
        &query,
        &key,
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(result.records, 2);
    let events: Vec<(&str, bool)> = result
        .events
        .iter()
        .map(|e| (e.event_id.as_deref().unwrap(), e.bypass_lockout_check))
        .collect();
    assert_eq!(events, [("e1", false), ("e2", true)], "oldest first");
    assert_eq!(
        result.events[1].role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/Deployer")
    );
    assert_eq!(poll.num_calls(), 3, "polled until SUCCEEDED");
    assert_eq!(pages.num_calls(), 2, "paged through NextToken");
    let ops: Vec<String> = calls
        .snapshot()
        .into_iter()
        .map(|c| c.operation.to_string())
        .collect();
    assert_eq!(
        ops,
        [
            "StartQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryResults",
            "GetQueryResults"
        ]
    );
}

#[tokio::test]
async fn a_failed_athena_query_says_why() {
    use aws_sdk_athena::types::QueryExecutionState;
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(|| {
        aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput::builder()
            .query_execution_id("q1")
            .build()
    });
    let poll = mock!(aws_sdk_athena::Client::get_query_execution)
        .then_output(|| athena_state(QueryExecutionState::Failed));
    let client = athena(&[&start, &poll]);
    let key = kms_doctor::evidence::record::KeyRef {
        arn: None,
        key_id: Some("k1".into()),
        primary_region: None,
    };
    let err = kms_doctor::evidence::sources::athena::run(
        &client,
        &kms_doctor::evidence::Calls::default(),
        &kms_doctor::evidence::AthenaQuery::default(),
        &key,
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind.code(), Some("QueryFailed"));
    assert!(err.message.contains("TABLE_NOT_FOUND"));
}

#[tokio::test]
async fn an_answer_claiming_a_huge_length_is_refused_before_it_is_read() {
    use kms_doctor::evidence::aws::ResponseSizeLimit;
    let rule = mock!(aws_sdk_kms::Client::describe_key).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(200).unwrap(),
            SdkBody::from(r#"{"KeyMetadata": {"KeyId": "k1"}}"#),
        );
        r.headers_mut().insert("content-length", "10000000000");
        r
    });
    let limited: KmsClient = mocked!(aws_sdk_kms, &[&rule], |c| c.interceptor(ResponseSizeLimit));
    let err = limited.describe_key("k1").await.unwrap_err();
    assert_eq!(err.kind.code(), Some("TooLarge"), "{}", err.message);
    assert!(err.message.contains("10000000000 bytes"), "{}", err.message);
    // Without the limit the same answer is read: the refusal above is the interceptor's doing.
    let unlimited = kms(&[&rule]).describe_key("k1").await;
    assert_eq!(unlimited.map(|md| md.key_id).as_deref(), Ok("k1"));
}

#[tokio::test]
async fn authorization_details_are_decoded_and_paged() {
    use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
    use aws_sdk_iam::types::{AttachedPolicy, ManagedPolicyDetail, PolicyVersion, RoleDetail};
    // IAM sends policy documents URL-encoded.
    let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22kms%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
    let page =
        mock!(aws_sdk_iam::Client::get_account_authorization_details).then_output(move || {
            GetAccountAuthorizationDetailsOutput::builder()
                .role_detail_list(
                    RoleDetail::builder()
                        .role_name("KeyAdmin")
                        .arn("arn:aws:iam::111122223333:role/KeyAdmin")
                        .path("/")
                        .assume_role_policy_document(encoded)
                        .attached_managed_policies(
                            AttachedPolicy::builder()
                                .policy_arn("arn:aws:iam::111122223333:policy/Keys")
                                .build(),
                        )
                        .build(),
                )
                .policies(
                    ManagedPolicyDetail::builder()
                        .arn("arn:aws:iam::111122223333:policy/Keys")
                        .policy_name("Keys")
                        .policy_version_list(
                            PolicyVersion::builder()
                                .document("%7B%22old%22%3Atrue%7D")
                                .is_default_version(false)
                                .build(),
                        )
                        .policy_version_list(
                            PolicyVersion::builder()
                                .document(encoded)
                                .is_default_version(true)
                                .build(),
                        )
                        .build(),
                )
                .is_truncated(true)
                .marker("page-2")
                .build()
        });
    let p = iam(&[&page]).authorization_details(None).await.unwrap();
    assert_eq!(
        p.next_marker.as_deref(),
        Some("page-2"),
        "a truncated answer pages on"
    );
    let role = &p.details.roles[0];
    assert_eq!(role.name, "KeyAdmin");
    assert_eq!(role.attached, ["arn:aws:iam::111122223333:policy/Keys"]);
    let trust: serde_json::Value =
        serde_json::from_str(role.trust_policy.as_deref().unwrap()).expect("decoded JSON");
    assert_eq!(trust["Statement"][0]["Action"], "kms:*");
    let doc = p.details.policies[0].document.as_deref().unwrap();
    assert!(
        doc.contains("\"Resource\":\"*\""),
        "the default version, decoded: {doc}"
    );

    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: iam:GetAccountAuthorizationDetails</Message></Error><RequestId>r</RequestId></ErrorResponse>"),
        )
    });
    let err = iam(&[&denied])
        .authorization_details(None)
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::AccessDenied);
}
