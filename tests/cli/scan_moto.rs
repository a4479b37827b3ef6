//! `kms-doctor scan --org` end to end against `moto_server`: an organisation with a member
//! account, reached by `sts:AssumeRole`; keys created in moto by this test, their policies read
//! with `GetKeyPolicy`, and their administrators checked with `GetRole`. moto lacks
//! `LookupEvents`, which this scan does not need (every policy is readable in moto).

use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012"; // moto's account

#[test]
#[ignore = "needs moto_server (KMS_DOCTOR_MOTO_URL)"]
fn scan_an_organisation_in_moto() {
    let moto = crate::support::cli::moto_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pid = std::process::id();
    let (single, healthy, member) = rt.block_on(async {
        let config = crate::support::cli::moto_config(&moto).await;
        let orgs = aws_sdk_organizations::Client::new(&config);
        // One organisation per moto server: another test may have made it already.
        let _ = orgs
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await;
        let member = orgs
            .create_account()
            .account_name(format!("member{pid}"))
            .email(format!("member{pid}@example.com"))
            .send()
            .await
            .expect("moto creates the member account")
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("its ID")
            .to_owned();
        let iam = aws_sdk_iam::Client::new(&config);
        let admin = format!("ScanAdmin{pid}");
        iam.create_role()
            .role_name(&admin)
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
            .expect("moto creates the role");
        // Two IAM administrators of the keys: a key that delegates to the account has more
        // than one restorer through IAM (read from GetAccountAuthorizationDetails).
        for n in ["A", "B"] {
            let name = format!("KmsAdmin{n}{pid}");
            iam.create_role()
                .role_name(&name)
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
                .send()
                .await
                .expect("moto creates the role");
            iam.put_role_policy()
                .role_name(&name)
                .policy_name("kms-admin")
                .policy_document(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                )
                .send()
                .await
                .expect("moto attaches the policy");
        }
        let kms = aws_sdk_kms::Client::new(&config);
        let create = |policy: Value| {
            let kms = kms.clone();
            async move {
                kms.create_key()
                    .policy(policy.to_string())
                    .bypass_policy_lockout_safety_check(true)
                    .send()
                    .await
                    .expect("moto creates the key")
                    .key_metadata()
                    .unwrap()
                    .key_id()
                    .to_owned()
            }
        };
        let single = create(json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "Only the admin", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/{admin}")},
            "Action": "kms:*", "Resource": "*"}]}))
        .await;
        let healthy = create(json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": "kms:*", "Resource": "*"}]}))
        .await;
        (single, healthy, member)
    });

    let out = crate::support::cli::against(&moto)
        .args([
            "scan",
            "--org",
            "--region",
            "us-east-1",
            "--no-cloudtrail",
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .output()
        .unwrap();
    crate::support::cli::assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = v["scope"]["accounts"].as_array().unwrap();
    assert!(accounts.contains(&json!(ACCOUNT)), "{accounts:?}");
    assert!(accounts.contains(&json!(member)), "{accounts:?}");
    assert!(
        !v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["account"] == member.as_str()),
        "the member account was entered by AssumeRole: {:#}",
        v["errors"]
    );
    let key = |id: &str| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no key {id}"))
    };
    let single = key(&single);
    assert_eq!(single["status"], "at_risk");
    assert_eq!(single["policy_source"]["kind"], "current");
    assert_eq!(single["restorers"][0]["exists"], true, "GetRole in moto");
    let codes: Vec<&str> = single["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"single-restorer"), "{codes:?}");
    let healthy = key(&healthy);
    assert_eq!(healthy["status"], "healthy", "{healthy:#}");
    let through_iam: Vec<&str> = healthy["restorers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["via"] == "iam")
        .filter_map(|r| r["principal"].as_str())
        .collect();
    for n in ["A", "B"] {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/KmsAdmin{n}{pid}");
        assert!(through_iam.contains(&arn.as_str()), "{through_iam:?}");
    }
    assert!(
        v["calls"]["by_operation"]["sts:AssumeRole"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        v["calls"]["by_operation"]["organizations:ListAccounts"]
            .as_u64()
            .unwrap()
            >= 1
    );
}
