//! `kms-doctor explain` end to end: the real binary, its output in each format, its exit status.

use crate::support::cli::{kms_doctor, stdout};
use std::io::Write;
use std::process::{Command, Output, Stdio};

const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
const KEY_ADMIN: &str = "arn:aws:sts::111122223333:assumed-role/KeyAdmin/bob";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("stdout is one JSON document")
}

#[test]
fn text_report_of_the_classic_lockout() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/locked-out.json",
        "--principal",
        ALICE,
        "--key-arn",
        KEY,
        "--format",
        "text",
    ]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("locked_out_text", stdout(&o));
}

#[test]
fn json_report_of_the_classic_lockout() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/locked-out.json",
        "--principal",
        ALICE,
        "--key-arn",
        KEY,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["results"][0]["decision"], "implicit_deny");
    assert_eq!(v["results"][1]["action"], "kms:PutKeyPolicy");
    assert_eq!(v["findings"][0]["code"], "root-delegation-missing");
    assert_eq!(
        v["restorers"][0]["principal"],
        "arn:aws:iam::111122223333:role/KeyAdmin"
    );
    insta::assert_snapshot!("locked_out_json", stdout(&o));
}

#[test]
fn markdown_report_of_a_not_principal_guard() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/deny-not-principal.json",
        "--principal",
        KEY_ADMIN,
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("deny_not_principal_markdown", stdout(&o));
}

#[test]
fn markdown_report_of_an_orphaned_admin_without_principal() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/orphaned-admin.json",
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(1), "no-restorer is an error");
    insta::assert_snapshot!("orphaned_admin_markdown", stdout(&o));
}

#[test]
fn the_default_policy_delegates_and_exits_zero() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/default-key-policy.json",
        "--principal",
        ALICE,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["results"][0]["decision"], "delegated");
    assert_eq!(v["results"][1]["decision"], "delegated");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    let restorers: Vec<&str> = v["restorers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        restorers,
        [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:role/KeyAdmin"
        ]
    );
}

#[test]
fn text_is_the_default_when_stdout_is_not_a_terminal() {
    // Piped, as `kms-doctor explain … > ticket.txt` or `| less`: still for a person.
    let args = [
        "explain",
        "--policy",
        "examples/default-key-policy.json",
        "--principal",
        ALICE,
        "--action",
        "GetKeyPolicy",
    ];
    let out = stdout(&kms_doctor(&args));
    assert!(!out.trim_start().starts_with('{'), "{out}");
    assert!(out.contains("kms:GetKeyPolicy"), "{out}");
    // Machines ask, with --format or the AWS CLI's --output.
    let v = json(&kms_doctor(&[&args[..], &["--output", "json"]].concat()));
    assert_eq!(v["actions"], serde_json::json!(["kms:GetKeyPolicy"]));
}

#[test]
fn the_policy_can_come_from_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args([
            "explain",
            "--policy",
            "-",
            "--principal",
            ALICE,
            "--format",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["results"][0]["decision"], "delegated");
}

#[test]
fn conditions_on_unknown_keys_are_named_and_can_be_given() {
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Admins with MFA", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/Admin"}, "Action": "kms:*", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}"#;
    let dir = crate::support::cli::fresh_dir("mfa");
    let path = dir.join("mfa.json");
    std::fs::write(&path, policy).unwrap();
    let path = path.to_str().unwrap();

    let o = kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        ALICE,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["results"][0]["decision"], "conditional");
    assert_eq!(
        v["results"][0]["unknown_context"],
        serde_json::json!(["aws:MultiFactorAuthPresent"])
    );
    assert_eq!(v["findings"][0]["code"], "condition-not-met");

    let o = kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        ALICE,
        "--context",
        "aws:MultiFactorAuthPresent=true",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["results"][0]["decision"], "allow");

    let o = kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        ALICE,
        "--absent",
        "aws:MultiFactorAuthPresent",
        "--format",
        "json",
    ]);
    assert_eq!(json(&o)["results"][0]["decision"], "implicit_deny");
}

#[test]
fn a_malformed_policy_is_a_usage_error_with_its_location() {
    let dir = crate::support::cli::fresh_dir("bad");
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\"Statement\": [\n  {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"},\n  {\"Effect\": \"Permit\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}\n]}").unwrap();
    let o = kms_doctor(&["explain", "--policy", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.starts_with("kms-doctor failed: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line without -v: {err}");
    assert!(
        err.contains(
            "is not a valid key policy: statement 2, Effect: Effect must be \"Allow\" or \"Deny\""
        ),
        "{err}"
    );
    assert!(err.contains("line 3"), "{err}");
    assert!(!err.contains("Error {"), "no Debug dump: {err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_arguments_exit_two() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/locked-out.json",
        "--principal",
        "alice",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("invalid --principal")
    );
    let o = kms_doctor(&["explain", "--policy", "does/not/exist.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = kms_doctor(&["explain"]);
    assert_eq!(o.status.code(), Some(2), "clap reports a missing --policy");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let args = [
        "explain",
        "--policy",
        "examples/locked-out.json",
        "--principal",
        ALICE,
        "--format",
        "text",
    ];
    assert!(
        !stdout(&kms_doctor(&args)).contains('\u{1b}'),
        "not a terminal: no colour"
    );
    let mut with = args.to_vec();
    with.extend(["--color", "always"]);
    assert!(stdout(&kms_doctor(&with)).contains('\u{1b}'));
}

/// Writes a policy to a fresh file.
fn policy_file(name: &str, policy: serde_json::Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("kms-doctor-{name}-{}.json", std::process::id()));
    std::fs::write(&path, policy.to_string()).unwrap();
    path
}

#[test]
fn an_operator_kms_doctor_does_not_know_is_conditional_with_a_finding_not_an_error() {
    let path = policy_file(
        "unknown-operator",
        serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*",
            "Condition": {"StringMatchesRegex": {"aws:PrincipalTag/team": "pay.*"}}}]}),
    );
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--principal",
        ALICE,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "a verdict, not a failure");
    let v = json(&o);
    assert_eq!(v["results"][0]["decision"], "conditional");
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["code"] == "evidence-incomplete"
        && f["title"].as_str().unwrap().contains("StringMatchesRegex")));
    let help = findings
        .iter()
        .find(|f| f["code"] == "condition-not-met")
        .unwrap()["help"]
        .as_str()
        .unwrap();
    assert!(
        !help.contains("--context aws:PrincipalTag/team (operator"),
        "{help}"
    );
}

#[test]
fn put_key_policy_open_to_everyone_is_an_error_unless_narrowed_to_known_principals() {
    let open = |condition: Option<serde_json::Value>| {
        let mut statement = serde_json::json!({"Sid": "Anyone", "Effect": "Allow",
            "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"});
        if let Some(c) = condition {
            statement["Condition"] = c;
        }
        let path = policy_file(
            "open",
            serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}),
        );
        let o = kms_doctor(&[
            "explain",
            "--policy",
            path.to_str().unwrap(),
            "--format",
            "json",
        ]);
        json(&o)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "policy-update-open")
            .count()
    };
    assert_eq!(open(None), 1);
    assert_eq!(
        open(Some(
            serde_json::json!({"Bool": {"aws:SecureTransport": "true"}})
        )),
        1,
        "a condition that names no principal does not narrow it"
    );
    assert_eq!(
        open(Some(
            serde_json::json!({"StringNotEquals": {"aws:PrincipalAccount": "444455556666"}})
        )),
        1,
        "a negated condition lets everyone else in"
    );
    assert_eq!(
        open(Some(
            serde_json::json!({"StringEquals": {"kms:CallerAccount": "111122223333"}})
        )),
        0
    );
    assert_eq!(
        open(Some(
            serde_json::json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/KeyAdmin*"}})
        )),
        0
    );
}

#[test]
fn the_bundled_not_principal_example_reports_the_sessions_it_locks_out() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/deny-not-principal.json",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "an error finding");
    let v = json(&o);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "not-principal-misses-sessions")
        .expect("the finding");
    assert!(f["title"].as_str().unwrap().contains("role/KeyAdmin"));
    // Listing the account, the role and a session exempts that session: no finding.
    let mut policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/deny-not-principal.json"),
        )
        .unwrap(),
    )
    .unwrap();
    policy["Statement"][2]["NotPrincipal"]["AWS"]
        .as_array_mut()
        .unwrap()
        .push("arn:aws:sts::111122223333:assumed-role/KeyAdmin/bob".into());
    let path = policy_file("np-session", policy);
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        !json(&o)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "not-principal-misses-sessions")
    );
}

#[test]
fn a_session_whose_role_path_is_unknown_is_told_the_exact_context_to_give() {
    let path = policy_file(
        "principal-arn",
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admins by ARN",
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/KeyAdmin"}}}]}),
    );
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--principal",
        KEY_ADMIN,
        "--format",
        "json",
    ]);
    let v = json(&o);
    let help = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "condition-not-met")
        .unwrap()["help"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        help.contains("--context aws:PrincipalArn=arn:aws:iam::111122223333:role/KeyAdmin"),
        "{help}"
    );
    assert!(
        help.contains("aws iam get-role --role-name KeyAdmin"),
        "{help}"
    );
    // Given, it decides.
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--principal",
        KEY_ADMIN,
        "--context",
        "aws:PrincipalArn=arn:aws:iam::111122223333:role/KeyAdmin",
        "--format",
        "json",
    ]);
    assert_eq!(json(&o)["results"][1]["decision"], "allow");
}

#[test]
fn an_allow_for_another_account_says_its_own_iam_policies_must_allow_too() {
    let path = policy_file(
        "other-account",
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Partner decrypts",
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/Partner"},
            "Action": "kms:Decrypt", "Resource": "*"}]}),
    );
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--principal",
        "arn:aws:iam::444455556666:role/Partner",
        "--key-arn",
        KEY,
        "--action",
        "Decrypt",
        "--format",
        "markdown",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("its own account's IAM policies must allow it too"),
        "{out}"
    );
}

fn finding_codes(v: &serde_json::Value) -> Vec<&str> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect()
}

/// `--scp` and `--rcp`: the organisation's policies, the layer that decides named, the
/// restorers they hold marked and not counted.
#[test]
fn the_organisations_policies_name_the_layer_and_hold_restorers() {
    let explain = |extra: &[&str]| {
        let mut args = vec![
            "explain",
            "--policy",
            "examples/default-key-policy.json",
            "--principal",
            "arn:aws:iam::111122223333:role/ops/Admin",
            "--key-arn",
            KEY,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        kms_doctor(&args)
    };
    // Without them, the default policy delegates: exit 0.
    assert_eq!(explain(&[]).status.code(), Some(0));

    // An SCP (as describe-policy prints it) denies PutKeyPolicy to all but a break-glass role.
    let o = explain(&["--scp", "tests/org/scp-deny-key-policy-changes.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let put = v["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["action"] == "kms:PutKeyPolicy")
        .unwrap();
    assert_eq!(put["policy_type"], "scp");
    assert_eq!(put["decision"], "denied");
    assert_eq!(put["blocked_by"]["policy"], "DenyKeyPolicyChanges");
    assert_eq!(put["blocked_by"]["statement"], "NoKeyPolicyChanges");
    // The verdict is the request's, with every layer given; the key policy's own stays beside it.
    let result = |v: &serde_json::Value, action: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == action)
            .unwrap()
            .clone()
    };
    let put_result = result(&v, "kms:PutKeyPolicy");
    assert_eq!(put_result["decision"], "explicit_deny", "{put_result}");
    assert_eq!(put_result["key_policy_decision"], "delegated");
    let get_result = result(&v, "kms:GetKeyPolicy");
    assert_eq!(get_result["decision"], "delegated");
    assert!(get_result.get("key_policy_decision").is_none());
    let restorers = v["restorers"].as_array().unwrap();
    let key_admin = restorers
        .iter()
        .find(|r| r["principal"] == "arn:aws:iam::111122223333:role/KeyAdmin")
        .unwrap();
    assert_eq!(key_admin["blocked_by"]["policy_type"], "scp");
    // The account delegation includes the break-glass role, which the condition exempts.
    let account = restorers
        .iter()
        .find(|r| r["principal"] == "arn:aws:iam::111122223333:root")
        .unwrap();
    assert!(account.get("blocked_by").is_none(), "{account}");
    let codes = finding_codes(&v);
    assert!(codes.contains(&"scp-deny"), "{codes:?}");
    assert!(!codes.contains(&"no-restorer"), "{codes:?}");

    // An allow-list that does not name kms: nothing at its level allows, no statement to name.
    let v = json(&explain(&[
        "--scp",
        "tests/org/scp-allow-list-without-kms.json",
    ]));
    let put = &v["organizations"][1];
    assert_eq!(put["decision"], "denied");
    assert_eq!(put["blocked_by"]["policy"], serde_json::Value::Null);
    // Nothing allows at that level: an implicit deny.
    assert_eq!(result(&v, "kms:PutKeyPolicy")["decision"], "implicit_deny");
    assert_eq!(
        put["blocked_by"]["target"],
        "tests/org/scp-allow-list-without-kms.json"
    );
    // The allow-list holds the account delegation too: only AWS Support is left.
    let codes = finding_codes(&v);
    assert!(codes.contains(&"no-restorer"), "{codes:?}");

    // An RCP whose condition is on a tag kms-doctor does not know: conditional, not denied.
    let v = json(&explain(&[
        "--rcp",
        "tests/org/rcp-freeze-key-policies.json",
    ]));
    let rcp = &v["organizations"][0];
    assert_eq!(rcp["policy_type"], "rcp");
    assert_eq!(rcp["decision"], "conditional");
    // ... and denied once the tag is given.
    let v = json(&explain(&[
        "--rcp",
        "tests/org/rcp-freeze-key-policies.json",
        "--context",
        "aws:PrincipalTag/team=payments",
    ]));
    assert_eq!(v["organizations"][0]["decision"], "denied");
    assert_eq!(
        v["organizations"][0]["blocked_by"]["statement"],
        "FreezeKeyPolicies"
    );

    // Text names the layer.
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "examples/default-key-policy.json",
        "--principal",
        "arn:aws:iam::111122223333:role/ops/Admin",
        "--scp",
        "tests/org/scp-deny-key-policy-changes.json",
        "--format",
        "text",
    ]);
    let text = stdout(&o);
    assert!(text.contains("The organisation's policies"), "{text}");
    assert!(
        text.contains("blocked: SCP policy DenyKeyPolicyChanges"),
        "{text}"
    );
}

#[test]
fn an_admin_of_another_account_is_no_restorer_and_without_the_key_it_is_said() {
    let path = "tests/iac/policies/other-account-admin.json";
    // The key in 111122223333: the only admin is in 999988887777, which can never call
    // kms:PutKeyPolicy on it.
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--key-arn",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "--format",
        "json",
    ]);
    let r = json(&o);
    assert_eq!(r["restorers"], serde_json::json!([]));
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "no-restorer")
    );
    assert_eq!(o.status.code(), Some(1));
    // Without the key's ARN, its account is not known: the listing says on what it depends.
    let o = kms_doctor(&["explain", "--policy", path, "--format", "text"]);
    let out = stdout(&o);
    assert!(out.contains("arn:aws:iam::999988887777:root"), "{out}");
    assert!(out.contains("give --key-arn to decide"), "{out}");
}

#[test]
fn explain_reads_what_aws_kms_get_key_policy_prints_and_a_bom() {
    let o = kms_doctor(&[
        "explain",
        "--policy",
        "tests/iac/policies/get-key-policy.json",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        json(&o)["restorers"][0]["principal"],
        "arn:aws:iam::111122223333:root"
    );
    // A policy saved by a Windows editor starts with a byte-order mark.
    let dir = crate::support::cli::fresh_dir("bom");
    let path = dir.join("policy.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read("examples/default-key-policy.json").unwrap());
    std::fs::write(&path, bytes).unwrap();
    let o = kms_doctor(&[
        "explain",
        "--policy",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = kms_doctor(&["check", path.to_str().unwrap(), "--format", "json"]);
    let r = json(&o);
    assert_eq!(r["summary"]["unreadable"], 0, "{r:#}");
    assert_eq!(r["files"][0]["kind"], "policy");
}
