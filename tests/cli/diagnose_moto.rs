//! `kms-doctor diagnose` end to end against `moto_server` for STS, KMS and IAM: the key, its
//! policy and the roles are created in moto by this test; the operations moto lacks
//! (`iam:SimulatePrincipalPolicy`, `cloudtrail:LookupEvents`) are routed by
//! `AWS_ENDPOINT_URL_IAM` / `AWS_ENDPOINT_URL_CLOUDTRAIL` to the scenario endpoint, which
//! forwards the rest of IAM to moto.
//!
//! `.ci/run` starts moto_server and sets `KMS_DOCTOR_MOTO_URL`. Without it the test says so and
//! passes, except in CI (`CI=true`), where a missing moto is a failure.

use crate::support::scenario::{self, Scenario};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012"; // moto's account

#[test]
#[ignore = "needs moto_server (KMS_DOCTOR_MOTO_URL)"]
fn diagnose_against_moto() {
    let moto = crate::support::cli::moto_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let role_name = format!("KeyAdmin{}", std::process::id());
    let user_name = format!("alice{}", std::process::id());
    let (key_id, access_key) = rt.block_on(async {
        let config = crate::support::cli::moto_config(&moto).await;
        let iam = aws_sdk_iam::Client::new(&config);
        // The caller: an IAM user of moto's, whose access key makes moto answer
        // GetCallerIdentity with the user's ARN, as AWS does.
        iam.create_user()
            .user_name(&user_name)
            .path("/eng/")
            .send()
            .await
            .expect("moto creates the user");
        let key = iam
            .create_access_key()
            .user_name(&user_name)
            .send()
            .await
            .expect("an access key");
        let key = key.access_key().expect("the access key");
        let access_key = (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        );
        iam.create_role()
            .role_name(&role_name)
            .path("/security/")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
            .expect("moto creates the role");
        // The classic lockout, and a second administrator that no longer exists.
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": [
                    format!("arn:aws:iam::{ACCOUNT}:role/security/{role_name}"),
                    format!("arn:aws:iam::{ACCOUNT}:role/GhostAdmin{}", std::process::id())
                ]},
                "Action": "kms:*",
                "Resource": "*"
            }]
        });
        let kms = aws_sdk_kms::Client::new(&config);
        let key = kms
            .create_key()
            .policy(policy.to_string())
            .bypass_policy_lockout_safety_check(true)
            .send()
            .await
            .expect("moto creates the key");
        (key.key_metadata().unwrap().key_id().to_owned(), access_key)
    });

    // What moto lacks: the IAM simulation (IAM denies nothing here) and CloudTrail.
    let sim: Value = json!({"decision": "allowed", "matched": [["AdministratorAccess", "aws-managed"]], "organizations": true});
    let scenario: Scenario = serde_json::from_value(json!({
        "caller": {"arn": "unused", "account": ACCOUNT, "user_id": "unused"},
        "simulation": {"kms:GetKeyPolicy": sim, "kms:PutKeyPolicy": sim},
        "cloudtrail": {"events": []}
    }))
    .unwrap();
    let endpoint = scenario::start_with_upstream(scenario, Some(moto.clone()));

    let out = crate::support::cli::against(&moto)
        .args([
            "diagnose",
            &key_id,
            "--format",
            "json",
            "--lookup-interval-ms",
            "1",
            "--timeout",
            "5",
        ])
        .env("AWS_ENDPOINT_URL_IAM", &endpoint.url)
        .env("AWS_ENDPOINT_URL_CLOUDTRAIL", &endpoint.url)
        .env("AWS_ACCESS_KEY_ID", &access_key.0)
        .env("AWS_SECRET_ACCESS_KEY", &access_key.1)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();

    // moto does not enforce key policies: GetKeyPolicy works, and is observed as allowed.
    assert_eq!(
        v["caller"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:user/eng/{user_name}")
    );
    assert_eq!(v["caller"]["principal_arn"], v["caller"]["arn"]);
    assert_eq!(v["key"]["key_id"], key_id.as_str());
    assert_eq!(v["key"]["manager"], "CUSTOMER");
    assert_eq!(v["policy_source"]["kind"], "current");
    assert_eq!(
        v["access"][0],
        json!({"action": "kms:GetKeyPolicy", "verdict": "allowed", "basis": "observed", "because": []})
    );
    assert_eq!(v["access"][1]["verdict"], "denied");
    assert_eq!(
        v["access"][1]["because"],
        json!(["root-delegation-missing"])
    );
    let restorers: Vec<(String, Value)> = v["restorers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["principal"].as_str().unwrap().to_owned(),
                r["exists"].clone(),
            )
        })
        .collect();
    assert_eq!(
        restorers,
        [
            (
                format!("arn:aws:iam::{ACCOUNT}:role/security/{role_name}"),
                json!(true)
            ),
            (
                format!(
                    "arn:aws:iam::{ACCOUNT}:role/GhostAdmin{}",
                    std::process::id()
                ),
                json!(false)
            ),
        ],
        "existence checked in moto"
    );
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"root-delegation-missing"), "{codes:?}");
    assert!(codes.contains(&"restorer-missing"), "{codes:?}");
    // GetRole went through the scenario endpoint to moto; the simulation was answered there.
    let routed = endpoint.calls.lock().unwrap().clone();
    assert!(routed.contains(&"iam:GetRole".to_owned()), "{routed:?}");
    assert!(
        routed.contains(&"iam:SimulatePrincipalPolicy".to_owned()),
        "{routed:?}"
    );
    for c in v["calls"].as_array().unwrap() {
        let op = format!(
            "{}:{}",
            c["service"].as_str().unwrap(),
            c["operation"].as_str().unwrap()
        );
        assert!(
            [
                "sts:GetCallerIdentity",
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "iam:GetRole",
                "iam:SimulatePrincipalPolicy",
                "cloudtrail:LookupEvents",
                "organizations:DescribeOrganization",
                "organizations:ListParents",
                "organizations:ListPoliciesForTarget",
                "organizations:DescribePolicy"
            ]
            .contains(&op.as_str()),
            "unexpected call {op}"
        );
    }
}
