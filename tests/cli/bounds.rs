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
