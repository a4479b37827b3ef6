//! `kms-doctor history` end to end: generated CloudTrail log archives (with bad files and
//! records mixed in), CloudTrail's event history through the scenario endpoint, and the Athena
//! SQL. The timeline and its diffs are checked exactly.

use crate::support::archive::{
    self, ACCOUNT, ATHENA_COLUMNS, KEY_ID, Spec, create_key, key_arn, put_key_policy,
};
use crate::support::cli::{against, assert_exit, fresh_dir, kms_doctor};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn admins() -> Value {
    json!({"Sid": "Allow access for Key Administrators", "Effect": "Allow",
           "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/KeyAdmin")}, "Action": "kms:*", "Resource": "*"})
}

fn delegation() -> Value {
    json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
           "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"})
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The key's story: created (default policy), administrators added, a failed change, the
/// delegation removed (the lockout), then a change whose policy does not parse.
pub(crate) fn changes() -> Vec<(usize, Value)> {
    vec![
        (0, create_key(0, 100, "evt-create")),
        (
            1,
            put_key_policy(
                1,
                200,
                "evt-admins",
                "Admin",
                Some(&policy(vec![delegation(), admins()])),
                None,
            ),
        ),
        (
            2,
            put_key_policy(
                2,
                300,
                "evt-failed",
                "Intern",
                Some(&policy(vec![])),
                Some("MalformedPolicyDocumentException"),
            ),
        ),
        (
            3,
            put_key_policy(
                3,
                400,
                "evt-lockout",
                "Deployer",
                Some(&policy(vec![admins()])),
                None,
            ),
        ),
        (
            4,
            put_key_policy(
                4,
                500,
                "evt-garbled",
                "Deployer",
                Some(&json!("{\"Statement\": [")),
                None,
            ),
        ),
    ]
}

/// An archive of 2 accounts × 2 Regions × 5 days × 3 files × 40 records, plus bad input: a
/// truncated gzip, a JSON file that is not a CloudTrail log, a file that cannot be read, and a
/// PutKeyPolicy record of the key without its requestParameters.
pub(crate) fn generated(name: &str) -> PathBuf {
    let root = fresh_dir(name);
    let mut changes = changes();
    let mut damaged = put_key_policy(4, 900, "evt-damaged", "Deployer", None, None);
    damaged.as_object_mut().unwrap().remove("requestParameters");
    changes.push((4, damaged));
    let spec = Spec {
        accounts: 2,
        regions: vec!["us-east-1", "eu-west-1"],
        days: 5,
        files_per_day: 3,
        records_per_file: 40,
        changes,
    };
    let (files, _) = archive::write(&root, &spec);
    let day = files[0].parent().unwrap().to_owned();
    let good = std::fs::read(&files[1]).unwrap();
    std::fs::write(day.join("truncated.json.gz"), &good[..good.len() / 2]).unwrap();
    std::fs::write(day.join("inventory.json"), br#"{"inventory": [1, 2, 3]}"#).unwrap();
    std::os::unix::fs::symlink(root.join("gone.json.gz"), day.join("unreadable.json.gz")).unwrap();
    root
}

/// A locked-out key whose policy cannot be read, with nothing in the 90-day event history.
fn locked_out_without_history() -> crate::support::scenario::Scenario {
    serde_json::from_value(json!({
        "caller": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"), "account": ACCOUNT, "user_id": "AROAEXAMPLE:alice"},
        "roles": [{"name": "Admin", "path": "/", "id": "AROAEXAMPLEADMIN0001", "account": ACCOUNT},
                  {"name": "KeyAdmin", "path": "/", "id": "AROAEXAMPLEKEYADM001", "account": ACCOUNT}],
        "keys": [{"id": KEY_ID, "account": ACCOUNT, "aliases": ["alias/payments"], "policy": policy(vec![admins()])}],
        "deny": ["kms:GetKeyPolicy"],
        "simulation": {"kms:GetKeyPolicy": {"decision": "allowed"}, "kms:PutKeyPolicy": {"decision": "allowed"}},
        "cloudtrail": {"events": []}
    }))
    .unwrap()
}

/// The timeline of `changes()[..4]`: created, administrators added, a failed attempt, the lockout.
fn assert_first_four_changes(v: &Value, source: &str) {
    assert_eq!(v["source"], source);
    assert_eq!(
        ids(v),
        ["evt-create", "evt-admins", "evt-failed", "evt-lockout"]
    );
    assert_eq!(v["lockout"], 3);
}

/// `diagnose alias/payments` on `locked_out_without_history()`, with more environment and
/// arguments; the diagnosis ends with status 1 and its JSON is returned.
fn diagnose_locked_out(env: &[(&str, &str)], args: &[&str]) -> Value {
    let endpoint = crate::support::scenario::start(locked_out_without_history());
    let o = against(&endpoint.url)
        .envs(env.iter().copied())
        .args([
            "diagnose",
            "alias/payments",
            "--format",
            "json",
            "--lookup-interval-ms",
            "1",
        ])
        .args(args)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn history(args: &[&str]) -> (i32, Value) {
    let o = kms_doctor(args);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap(), v)
}

fn ids(v: &Value) -> Vec<&str> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

#[test]
fn the_timeline_from_an_archive_is_exact() {
    let root = generated("exact");
    let arn = key_arn();
    let (code, v) = history(&[
        "history",
        &arn,
        "--logs",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["source"], "archive");
    assert_eq!(
        ids(&v),
        [
            "evt-create",
            "evt-admins",
            "evt-failed",
            "evt-lockout",
            "evt-garbled"
        ]
    );
    let e = &v["events"];
    assert_eq!(e[0]["event_name"], "CreateKey");
    assert_eq!(e[0]["default_policy"], true);
    assert_eq!(
        e[1]["author"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/session")
    );
    assert_eq!(
        e[1]["role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/Admin")
    );
    assert_eq!(e[1]["source_ip"], "203.0.113.24");
    assert_eq!(e[1]["user_agent"], "aws-cli/2.22.0");
    assert_eq!(
        e[1]["diff"],
        json!({
            "statements_added": ["\"Allow access for Key Administrators\""],
            "statements_removed": [],
            "statements_changed": [],
            "gained": [
                {"principal": format!("arn:aws:iam::{ACCOUNT}:role/KeyAdmin"), "action": "kms:GetKeyPolicy"},
                {"principal": format!("arn:aws:iam::{ACCOUNT}:role/KeyAdmin"), "action": "kms:PutKeyPolicy"}
            ],
            "lost": [],
            "delegation_added": false,
            "delegation_removed": false
        })
    );
    assert_eq!(e[2]["error_code"], "MalformedPolicyDocumentException");
    assert_eq!(
        e[2]["diff"],
        Value::Null,
        "a failed attempt changes nothing"
    );
    assert_eq!(
        e[3]["diff"],
        json!({
            "statements_added": [],
            "statements_removed": ["\"Enable IAM User Permissions\""],
            "statements_changed": [],
            "gained": [],
            "lost": [
                {"principal": format!("arn:aws:iam::{ACCOUNT}:root"), "action": "kms:GetKeyPolicy"},
                {"principal": format!("arn:aws:iam::{ACCOUNT}:root"), "action": "kms:PutKeyPolicy"}
            ],
            "delegation_added": false,
            "delegation_removed": true
        })
    );
    assert_eq!(v["lockout"], 3);
    assert!(
        e[3]["lockout"]
            .as_str()
            .unwrap()
            .contains("removed the account delegation")
    );
    assert!(
        e[4]["diff"]["unreadable"]
            .as_str()
            .unwrap()
            .starts_with("the policy does not parse")
    );
    assert_eq!(v["skipped"]["files"], 3, "{}", v["skipped"]);
    assert_eq!(
        v["skipped"]["records"], 1,
        "the PutKeyPolicy without requestParameters"
    );
    let reasons = v["skipped"]["reasons"].to_string();
    assert!(
        reasons.contains("truncated.json.gz: truncated or corrupt gzip"),
        "{reasons}"
    );
    assert!(
        reasons.contains("inventory.json: not a CloudTrail log file"),
        "{reasons}"
    );
    assert!(
        reasons.contains("unreadable.json.gz: cannot be read"),
        "{reasons}"
    );
}

#[test]
fn since_and_until_prune_the_archive() {
    let root = generated("window");
    let (_, v) = history(&[
        "history",
        KEY_ID,
        "--logs",
        root.to_str().unwrap(),
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-04",
        "--format",
        "json",
        "--threads",
        "1",
    ]);
    assert_eq!(ids(&v), ["evt-admins", "evt-failed", "evt-lockout"]);
    assert_eq!(v["since"], "2026-11-02T00:00:00Z");
    assert_eq!(v["until"], "2026-11-04T23:59:59Z");
}

#[test]
fn a_single_plain_json_file_is_an_archive_too() {
    let dir = fresh_dir("single");
    let file = dir.join("one.json");
    let records: Vec<Value> = changes().into_iter().map(|(_, r)| r).collect();
    std::fs::write(&file, json!({"Records": records}).to_string()).unwrap();
    let (_, v) = history(&[
        "history",
        KEY_ID,
        "--logs",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(ids(&v).len(), 5);
}

#[test]
fn text_and_markdown_mark_the_lockout() {
    let root = generated("formats");
    let arn = key_arn();
    let o = kms_doctor(&[
        "history",
        &arn,
        "--logs",
        root.to_str().unwrap(),
        "--format",
        "text",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("LOCKOUT: this change removed the account delegation"),
        "{text}"
    );
    assert!(text.contains("- account delegation removed"), "{text}");
    assert!(text.contains("Skipped: 3 files, 1 records"), "{text}");
    let o = kms_doctor(&[
        "history",
        &arn,
        "--logs",
        root.to_str().unwrap(),
        "--format",
        "markdown",
        "--redact",
    ]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("**Lockout:**"), "{md}");
    assert!(!md.contains(ACCOUNT) && !md.contains(KEY_ID), "redacted");
}

#[test]
fn the_event_history_through_lookup_events() {
    let scenario: crate::support::scenario::Scenario = serde_json::from_value(json!({
        "caller": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"), "account": ACCOUNT, "user_id": "AROAEXAMPLE:alice"},
        "keys": [{"id": KEY_ID, "account": ACCOUNT, "aliases": ["alias/payments"], "policy": policy(vec![admins()])}],
        "cloudtrail": {"events": [
            changes()[3].1, changes()[2].1, changes()[1].1, changes()[0].1
        ], "unrelated": 120, "page_size": 50, "throttle_every": 3}
    }))
    .unwrap();
    let endpoint = crate::support::scenario::start(scenario);
    let o = against(&endpoint.url)
        .args([
            "history",
            "alias/payments",
            "--format",
            "json",
            "--lookup-interval-ms",
            "1",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_first_four_changes(&v, "cloudtrail");
    for op in endpoint.calls.lock().unwrap().iter() {
        assert!(
            ["kms:DescribeKey", "cloudtrail:LookupEvents"].contains(&op.as_str()),
            "{op}"
        );
    }
}

#[test]
fn athena_sql_is_printed_for_a_table() {
    let o = kms_doctor(&[
        "history",
        KEY_ID,
        "--print-athena-sql",
        "--athena-table",
        "trail_db.cloudtrail",
        "--since",
        "2026-01-01",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let sql = String::from_utf8_lossy(&o.stdout);
    assert!(sql.contains("FROM trail_db.cloudtrail"), "{sql}");
    assert!(sql.contains(&format!("'%{KEY_ID}%'")), "{sql}");
    assert!(sql.contains("eventtime >= '2026-01-01T00:00:00Z'"), "{sql}");
}

#[test]
fn bad_archive_input_is_reported() {
    let o = kms_doctor(&["history", KEY_ID, "--logs", "/nonexistent/archive"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("cannot read the log archive at /nonexistent/archive")
    );
    let o = kms_doctor(&[
        "history",
        "alias/payments",
        "--logs",
        Path::new("examples").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--logs needs the key ID or key ARN"));
}

#[test]
fn diagnose_recovers_the_policy_from_an_archive_when_the_event_history_has_none() {
    let root = fresh_dir("diagnose");
    let spec = Spec {
        accounts: 1,
        regions: vec!["us-east-1"],
        days: 4,
        files_per_day: 2,
        records_per_file: 30,
        changes: changes().into_iter().take(4).collect(),
    };
    archive::write(&root, &spec);
    let v = diagnose_locked_out(&[], &["--logs", root.to_str().unwrap()]);
    assert_eq!(v["policy_source"]["kind"], "archive");
    assert_eq!(v["policy_source"]["event_id"], "evt-lockout");
    assert_eq!(
        v["policy_source"]["changed_by"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/session")
    );
    assert_eq!(
        v["access"][0]["because"],
        json!(["root-delegation-missing"])
    );
    assert_eq!(
        v["restorers"][0]["principal"],
        format!("arn:aws:iam::{ACCOUNT}:role/KeyAdmin")
    );
    assert_eq!(v["restorers"][0]["source"], "archive");
    let codes = v["findings"].to_string();
    assert!(
        !codes.contains("policy-history-unavailable"),
        "the archive had it: {codes}"
    );
}

#[test]
#[ignore = "needs moto_server (KMS_DOCTOR_MOTO_URL)"]
fn the_archive_in_s3_through_moto() {
    let moto = crate::support::cli::moto_url();
    let root = generated("s3");
    let bucket = format!("trail-{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = crate::support::cli::moto_config(&moto).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("moto creates the bucket");
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(body) = std::fs::read(&path) {
                    let key = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    s3.put_object()
                        .bucket(&bucket)
                        .key(key)
                        .body(body.into())
                        .send()
                        .await
                        .expect("moto stores the object");
                }
            }
        }
        // A digest file is not a log, and is not read.
        s3.put_object()
            .bucket(&bucket)
            .key(format!(
                "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/01/digest.json.gz"
            ))
            .body(b"not gzip".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let arn = key_arn();
    let location = format!("s3://{bucket}/AWSLogs/");
    let o = against(&moto)
        .args(["history", &arn, "--logs", &location, "--format", "json"])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "archive");
    assert_eq!(
        ids(&v),
        [
            "evt-create",
            "evt-admins",
            "evt-failed",
            "evt-lockout",
            "evt-garbled"
        ]
    );
    assert_eq!(v["lockout"], 3);
    assert_eq!(
        v["skipped"]["files"], 2,
        "the truncated gzip and the inventory: {}",
        v["skipped"]
    );
    assert_eq!(v["skipped"]["records"], 1);
}

/// The key's first four changes as rows of the Athena query (header first), served by moto's
/// canned results to the next query; and a bucket for Athena's output.
fn canned_athena_results(moto: &str) -> String {
    let header = ATHENA_COLUMNS;
    let cells = |values: Vec<String>| json!({"Data": values.into_iter().map(|c| json!({"VarCharValue": c})).collect::<Vec<_>>()});
    let text = |r: &Value, p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut rows = vec![cells(header.iter().map(|h| h.to_string()).collect())];
    for (_, r) in changes().iter().take(4) {
        rows.push(cells(vec![
            text(r, "/eventTime"),
            text(r, "/eventName"),
            text(r, "/eventID"),
            text(r, "/userIdentity/arn"),
            text(r, "/userIdentity/sessionContext/sessionIssuer/arn"),
            text(r, "/sourceIPAddress"),
            text(r, "/userAgent"),
            text(r, "/errorCode"),
            r["requestParameters"].to_string(),
            r["responseElements"].to_string(),
        ]));
    }
    let bucket = format!("athena-results-{}-{}", std::process::id(), rows.len());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = crate::support::cli::moto_config(moto).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let _ = s3.create_bucket().bucket(&bucket).send().await;
    });
    let canned = json!({"results": [{"rows": rows, "column_info": []}]});
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST'))"])
        .arg(format!("{moto}/moto-api/static/athena/query-results"))
        .arg(canned.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "moto takes the canned results");
    format!("s3://{bucket}/results/")
}

/// Athena tests share moto's queue of canned results: one at a time.
static ATHENA: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
#[ignore = "needs moto_server (KMS_DOCTOR_MOTO_URL)"]
fn the_athena_path_through_moto() {
    let moto = crate::support::cli::moto_url();
    let _one_at_a_time = ATHENA.lock().unwrap_or_else(|e| e.into_inner());
    let output = canned_athena_results(&moto);
    let arn = key_arn();
    let o = against(&moto)
        .args([
            "history",
            &arn,
            "--athena-table",
            "cloudtrail_logs",
            "--athena-database",
            "default",
            "--athena-output",
            &output,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_first_four_changes(&v, "athena");
}

#[test]
#[ignore = "needs moto_server (KMS_DOCTOR_MOTO_URL)"]
fn diagnose_recovers_the_policy_with_athena() {
    let moto = crate::support::cli::moto_url();
    let _one_at_a_time = ATHENA.lock().unwrap_or_else(|e| e.into_inner());
    let output = canned_athena_results(&moto);
    let v = diagnose_locked_out(
        &[("AWS_ENDPOINT_URL_ATHENA", &moto)],
        &[
            "--athena-table",
            "cloudtrail_logs",
            "--athena-output",
            &output,
        ],
    );
    assert_eq!(v["policy_source"]["kind"], "athena");
    assert_eq!(v["policy_source"]["event_id"], "evt-lockout");
    assert_eq!(
        v["access"][1]["because"],
        json!(["root-delegation-missing"])
    );
}

/// Named by its key ID alone, the key's account comes from the records: the `CreateKey` with
/// KMS's default policy is no lockout, and the next change is not "delegation added".
#[test]
fn a_bare_key_id_takes_its_account_from_the_records() {
    let root = generated("bare-id");
    let (_, by_arn) = history(&[
        "history",
        &key_arn(),
        "--logs",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let (_, by_id) = history(&[
        "history",
        KEY_ID,
        "--logs",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let e = &by_id["events"];
    assert_eq!(e[0]["event_name"], "CreateKey");
    assert_eq!(e[0]["lockout"], Value::Null, "{}", e[0]);
    assert_eq!(e[1]["diff"]["delegation_added"], false, "{}", e[1]);
    assert_eq!(by_id["lockout"], by_arn["lockout"]);
    assert_eq!(by_id["events"], by_arn["events"]);
}
