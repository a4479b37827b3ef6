//! Bounded in time and memory: archives with a FIFO, link loops, a file linked twice and a gzip
//! bomb; an endless `NextToken`. Each run must end within its bound (time, and 256 MiB resident)
//! with the skip explained.

use crate::support::archive::{create_key, key_arn};
use crate::support::cli::{assert_exit, fresh_dir};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs kms-doctor, killing it (and failing) after `limit` or past 256 MiB resident.
fn run_within(limit: Duration, args: &[&str]) -> (Option<i32>, String, String) {
    let run = crate::support::cli::run_bounded(args, limit, 256);
    let o = run.output;
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A gzip file of `members` concatenated members of 1 MiB of zeros each: tiny on disk, huge
/// once decompressed.
fn gzip_bomb(path: &Path, members: usize) {
    let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    one.write_all(&vec![0u8; 1 << 20]).unwrap();
    let one = one.finish().unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    for _ in 0..members {
        f.write_all(&one).unwrap();
    }
}

#[test]
fn hostile_archives_end_with_every_skip_explained() {
    let root = fresh_dir("archive");
    let day = root.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02");
    std::fs::create_dir_all(&day).unwrap();
    let log = json!({"Records": [create_key(2, 1, "evt-create")]});
    std::fs::write(day.join("log.json"), log.to_string()).unwrap();
    // A FIFO named like a log: reading it would block forever.
    let fifo = day.join("fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Two links back up the tree, and one to the directory itself: loops.
    std::os::unix::fs::symlink(".", day.join("self")).unwrap();
    std::os::unix::fs::symlink("..", day.join("up")).unwrap();
    std::os::unix::fs::symlink(&root, day.join("root")).unwrap();
    // The same file under another name: read once.
    std::os::unix::fs::symlink(day.join("log.json"), day.join("again.json")).unwrap();
    gzip_bomb(&day.join("bomb.json.gz"), 80);

    let arn = key_arn();
    let (code, out, err) = run_within(
        Duration::from_secs(60),
        &[
            "history",
            &arn,
            "--logs",
            root.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evt-create"], "one event, once");
    let reasons = v["skipped"]["reasons"].to_string();
    assert!(
        reasons.contains("fifo.json: not a regular file"),
        "{reasons}"
    );
    assert!(reasons.contains("bomb.json.gz"), "{reasons}");
    assert!(reasons.contains("more than 64 MiB"), "{reasons}");
    assert_eq!(v["skipped"]["files"], 2, "{v}");
}

#[test]
fn a_local_archive_needs_no_aws_configuration_at_all() {
    let root = fresh_dir("no-aws");
    let day = root.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(
        day.join("log.json"),
        json!({"Records": [create_key(2, 1, "evt-create")]}).to_string(),
    )
    .unwrap();
    // If anything loaded credentials, this process would leave its mark (and the instance
    // metadata service, not disabled here, would be tried for seconds).
    let marker = root.join("credentials-were-loaded");
    let config = root.join("config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = us-east-1\ncredential_process = sh -c 'touch {}'\n",
            marker.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &root)
        .env("AWS_CONFIG_FILE", &config)
        .args([
            "history",
            &key_arn(),
            "--logs",
            root.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(!marker.exists(), "the credential chain was touched");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["calls"].as_array().unwrap().len(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no waiting on the network"
    );
}

#[test]
fn endless_inputs_are_read_only_as_far_as_their_limit() {
    for args in [
        &["explain", "--policy", "/dev/zero"][..],
        &["diagnose", "--from-evidence", "/dev/zero"][..],
    ] {
        let (code, _, err) = run_within(Duration::from_secs(20), args);
        assert_eq!(code, Some(2), "{args:?}");
        // A device is refused before it is opened; were it read, only up to the limit.
        assert!(
            err.contains("limit")
                || err.contains("larger than")
                || err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
}

/// A saved scan of one account: `keys` keys that delegate to the account, `admins` roles with
/// `AdministratorAccess`, and one key whose policy names only `admin-7` (no delegation).
fn saved_scan_at_scale(keys: usize, admins: usize) -> Value {
    const ACCOUNT: &str = "111122223333";
    let key = |i: usize, policy: Value| {
        let id = format!("00000000-aaaa-bbbb-cccc-{i:012}");
        json!({"account": ACCOUNT, "region": "us-east-1", "key_id": id,
            "arn": format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"), "aliases": [],
            "manager": "CUSTOMER", "state": "Enabled", "deletion_date": null,
            "current_policy": policy.to_string(), "get_key_policy": "ok", "history": null,
            "history_unavailable": null, "restorer_checks": [], "tags": null})
    };
    let delegating = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM User Permissions",
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*", "Resource": "*"}]});
    let one_admin = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admin",
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/admin-7")},
        "Action": "kms:*", "Resource": "*"}]});
    let mut all: Vec<Value> = (0..keys).map(|i| key(i, delegating.clone())).collect();
    all.push(key(keys, one_admin));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let roles: Vec<Value> = (0..admins)
        .map(|i| {
            json!({"arn": format!("arn:aws:iam::{ACCOUNT}:role/admin-{i}"), "name": format!("admin-{i}"),
                "path": "/", "inline_policies": [], "groups": [], "boundary": null,
                "attached": ["arn:aws:iam::aws:policy/AdministratorAccess"], "trust_policy": trust})
        })
        .collect();
    json!({
        "collected_at": "2026-12-08T00:00:00Z",
        "caller": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/SecurityAudit/alice"),
            "account": ACCOUNT, "user_id": "AROAEXAMPLEAUDIT0001:alice"},
        "accounts": [ACCOUNT], "regions": ["us-east-1"], "keys": all,
        "aws_managed_skipped": 0, "regions_not_enabled": [], "regions_scanned": 1, "errors": [],
        "organizations": {ACCOUNT: {"not_in_organization": true, "management_account": null,
            "scps": null, "rcps": null}},
        "authorization": {ACCOUNT: {"users": [], "roles": roles, "groups": [], "complete": true,
            "policies": [{"arn": "arn:aws:iam::aws:policy/AdministratorAccess",
                "name": "AdministratorAccess",
                "document": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "*", "Resource": "*"}]}).to_string()}]}},
        "calls": [], "whole_organization": false,
    })
}

/// 2,000 keys that delegate to an account of 5,000 administrators: who can update each key's
/// policy is judged once for the account, not once per key and administrator (it took 36 s and
/// 1.4 GB). Deleting one administrator takes nothing from the delegating keys, and the last
/// restorer of the key that names it alone.
#[test]
fn iam_restorers_at_scale_are_judged_once_per_account() {
    let dir = fresh_dir("restorers-at-scale");
    let scan = dir.join("scan.json");
    std::fs::write(&scan, saved_scan_at_scale(2_000, 5_000).to_string()).unwrap();
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        json!({"format_version": "1.2", "planned_values": {"root_module": {}},
            "resource_changes": [{"address": "aws_iam_role.admin", "type": "aws_iam_role",
                "change": {"actions": ["delete"], "before": {"name": "admin-7",
                    "arn": "arn:aws:iam::111122223333:role/admin-7"}}}]})
        .to_string(),
    )
    .unwrap();
    let (code, out, err) = run_within(
        Duration::from_secs(60),
        &[
            "check",
            "--keys",
            scan.to_str().unwrap(),
            plan.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["existing_keys"], 2_001, "{}", v["summary"]);
    let findings: Vec<&Value> = v["files"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .collect();
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["removes-last-restorer"], "{out}");
    assert!(
        findings[0]["title"]
            .as_str()
            .unwrap()
            .contains("00000000-aaaa-bbbb-cccc-000000002000"),
        "{out}"
    );
}
