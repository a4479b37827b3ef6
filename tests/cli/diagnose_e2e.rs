//! `kms-doctor diagnose` end to end: the real binary, over HTTP, against the scenario endpoint
//! (`tests/cli/support/scenario.rs`), one scenario per file under `tests/scenarios/`. Each asserts
//! the JSON (verdicts, codes, restorers), the exit status, and that only read-only operations
//! were called.

use crate::support::scenario::{self, Scenario, read_only};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    about: String,
    scenario: Scenario,
    args: Vec<String>,
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    #[serde(default)]
    access: Vec<(String, String, String)>,
    #[serde(default)]
    codes: Option<Vec<String>>,
    #[serde(default)]
    because: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    restorers: Option<Vec<(String, Option<bool>)>>,
    #[serde(default)]
    policy_source: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    /// Missing: not checked; `null`: must be null (never guessed); a string: must be it.
    #[serde(default, deserialize_with = "present")]
    principal_arn: Option<Option<String>>,
    #[serde(default)]
    key_arn: Option<String>,
    #[serde(default)]
    key_account: Option<String>,
    #[serde(default)]
    calls_include: Vec<(String, String)>,
    #[serde(default)]
    next_steps_mention: Vec<String>,
    /// What the first next step must say (a deadline comes before any restore).
    #[serde(default)]
    first_step_mentions: Vec<String>,
    /// Statement Sids the policy AWS Support is asked to set must not keep.
    #[serde(default)]
    support_policy_lacks: Vec<String>,
    #[serde(default)]
    stderr_contains: Option<String>,
    #[serde(default)]
    stdout_lacks: Vec<String>,
    #[serde(default)]
    skipped_records: Option<u64>,
    #[serde(default)]
    failed_attempts: Option<usize>,
    /// Missing: not checked; `null`: must be null; a list: the path.
    #[serde(default, deserialize_with = "present_list")]
    restore_path: Option<Option<Vec<String>>>,
    /// `restorers` must be `null`: the policy in force is not known.
    #[serde(default)]
    restorers_unknown: bool,
    /// `calls[]` of kms:GetKeyPolicy: its `denial` (`policy_type`, `explicit`).
    #[serde(default)]
    denial: Option<(String, Option<bool>)>,
    /// Words a finding's text must hold, by code (a named statement, a policy, a command).
    #[serde(default)]
    finding_mentions: BTreeMap<String, Vec<String>>,
    /// Restorer → the policy its `blocked_by` names (`null`: not blocked).
    #[serde(default)]
    blocked: BTreeMap<String, Option<String>>,
}

fn present_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn run(url: &str, args: &[String]) -> Output {
    crate::support::cli::against(url)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn check(file: &ScenarioFile) -> Result<(), String> {
    let endpoint = scenario::start(file.scenario.clone());
    let out = run(&endpoint.url, &file.args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let e = &file.expect;
    let mut problems = Vec::new();
    if out.status.code() != Some(e.exit) {
        problems.push(format!("exit {:?}, expected {}", out.status.code(), e.exit));
    }
    for op in endpoint.calls.lock().unwrap().iter() {
        if !read_only(op) {
            problems.push(format!(
                "called {op}, which is not a read-only operation kms-doctor may use"
            ));
        }
    }
    if let Some(want) = &e.stderr_contains
        && !stderr.contains(want.as_str())
    {
        problems.push(format!("stderr lacks {want:?}"));
    }
    for bad in &e.stdout_lacks {
        if stdout.contains(bad.as_str()) {
            problems.push(format!("stdout contains {bad:?}"));
        }
    }
    // Scenarios are asserted on their JSON; `runs` snapshots every other format.
    if file.args.iter().any(|a| a == "text" || a == "markdown") {
        problems.push("a scenario runs with --format json".to_owned());
    }
    if e.exit != 2 {
        let v: Value = serde_json::from_str(&stdout)
            .map_err(|err| format!("stdout is not JSON ({err}): {stdout}\nstderr: {stderr}"))?;
        check_json(&v, e, &mut problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n    stderr: {stderr}\n    stdout: {}",
            problems.join("\n    "),
            &stdout[..stdout.len().min(3000)]
        ))
    }
}

fn check_json(v: &Value, e: &Expect, problems: &mut Vec<String>) {
    assert_eq!(v["schema_version"], 1);
    for key in [
        "key",
        "caller",
        "access",
        "findings",
        "restorers",
        "policy_source",
        "next_steps",
        "calls",
    ] {
        if v.get(key).is_none() {
            problems.push(format!("the contract's field {key} is missing"));
        }
    }
    for (action, verdict, basis) in &e.access {
        let a = v["access"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["action"] == action.as_str());
        match a {
            Some(a) if a["verdict"] == verdict.as_str() && a["basis"] == basis.as_str() => {}
            other => problems.push(format!(
                "access for {action}: {other:?}, expected {verdict}/{basis}"
            )),
        }
    }
    for (action, codes) in &e.because {
        let a = v["access"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["action"] == action.as_str());
        let got: Vec<&str> = a
            .and_then(|a| a["because"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if got != codes.iter().map(String::as_str).collect::<Vec<_>>() {
            problems.push(format!("because for {action}: {got:?}, expected {codes:?}"));
        }
    }
    if let Some(codes) = &e.codes {
        let mut got: Vec<&str> = v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["code"].as_str())
            .collect();
        got.sort_unstable();
        got.dedup();
        let mut want: Vec<&str> = codes.iter().map(String::as_str).collect();
        want.sort_unstable();
        if got != want {
            problems.push(format!("finding codes {got:?}, expected {want:?}"));
        }
    }
    if let Some(restorers) = &e.restorers {
        let got: Vec<(String, Option<bool>)> = v["restorers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["principal"].as_str().unwrap_or_default().to_owned(),
                    r["exists"].as_bool(),
                )
            })
            .collect();
        if &got != restorers {
            problems.push(format!("restorers {got:?}, expected {restorers:?}"));
        }
    }
    if let Some(kind) = &e.policy_source
        && v["policy_source"]["kind"] != kind.as_str()
    {
        problems.push(format!(
            "policy_source {}, expected {kind}",
            v["policy_source"]
        ));
    }
    if let Some(id) = &e.event_id
        && v["policy_source"]["event_id"] != id.as_str()
    {
        problems.push(format!(
            "policy_source.event_id {}, expected {id}",
            v["policy_source"]["event_id"]
        ));
    }
    if let Some(p) = &e.principal_arn {
        let want = p.as_deref().map_or(Value::Null, Value::from);
        if v["caller"]["principal_arn"] != want {
            problems.push(format!(
                "caller.principal_arn {}, expected {want}",
                v["caller"]["principal_arn"]
            ));
        }
    }
    if let Some(k) = &e.key_arn
        && v["key"]["arn"] != k.as_str()
    {
        problems.push(format!("key.arn {}, expected {k}", v["key"]["arn"]));
    }
    if let Some(a) = &e.key_account
        && v["key"]["account"] != a.as_str()
    {
        problems.push(format!("key.account {}, expected {a}", v["key"]["account"]));
    }
    if let Some(want) = &e.restore_path {
        let got: Option<Vec<String>> = serde_json::from_value(v["restore_path"].clone()).ok();
        if &got != want {
            problems.push(format!("restore_path {got:?}, expected {want:?}"));
        }
    }
    for (op, outcome) in &e.calls_include {
        let (service, operation) = op.split_once(':').unwrap();
        let found = v["calls"].as_array().into_iter().flatten().any(|c| {
            c["service"] == service
                && c["operation"] == operation
                && c["outcome"] == outcome.as_str()
        });
        if !found {
            problems.push(format!("no call {op} with outcome {outcome}"));
        }
    }
    for c in v["calls"].as_array().into_iter().flatten() {
        let op = format!(
            "{}:{}",
            c["service"].as_str().unwrap_or(""),
            c["operation"].as_str().unwrap_or("")
        );
        if !read_only(&op) {
            problems.push(format!("report lists call {op}, not a read-only operation"));
        }
    }
    if e.restorers_unknown && !v["restorers"].is_null() {
        problems.push(format!(
            "restorers {}, expected null (the policy in force is not known)",
            v["restorers"]
        ));
    }
    if let Some((policy_type, explicit)) = &e.denial {
        let got = v["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["operation"] == "GetKeyPolicy" && c["outcome"] == "access_denied")
            .map(|c| c["denial"].clone());
        let want = serde_json::json!({"policy_type": policy_type, "explicit": explicit});
        if got.as_ref() != Some(&want) {
            problems.push(format!("GetKeyPolicy's denial {got:?}, expected {want}"));
        }
    }
    for (principal, policy) in &e.blocked {
        let r = v["restorers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["principal"] == principal.as_str());
        let got = r.map(|r| r["blocked_by"]["policy"].clone());
        let want = policy.as_deref().map_or(Value::Null, Value::from);
        if got.as_ref() != Some(&want) {
            problems.push(format!(
                "restorer {principal} blocked_by {got:?}, expected {want}"
            ));
        }
    }
    for (code, words) in &e.finding_mentions {
        let finding = v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["code"] == code.as_str())
            .map(Value::to_string)
            .unwrap_or_default();
        for w in words {
            if !finding.contains(w.as_str()) {
                problems.push(format!("finding {code} does not mention {w:?}: {finding}"));
            }
        }
    }
    if let Some(n) = e.skipped_records
        && v["history"]["skipped_records"] != n
    {
        problems.push(format!(
            "history.skipped_records {}, expected {n}",
            v["history"]["skipped_records"]
        ));
    }
    if let Some(n) = e.failed_attempts {
        let got = v["history"]["failed_attempts"].as_array().map(Vec::len);
        if got != Some(n) {
            problems.push(format!("history.failed_attempts {got:?}, expected {n}"));
        }
    }
    let steps = v["next_steps"].to_string();
    for m in &e.next_steps_mention {
        if !steps.contains(m.as_str()) {
            problems.push(format!("next_steps do not mention {m:?}"));
        }
    }
    let support = v["support_case"]["policy"].to_string();
    for sid in &e.support_policy_lacks {
        if v["support_case"]["policy"].is_null() || support.contains(sid.as_str()) {
            problems.push(format!(
                "the support case's policy keeps {sid:?} (or is missing): {support}"
            ));
        }
    }
    let first = v["next_steps"][0].as_str().unwrap_or_default();
    for m in &e.first_step_mentions {
        if !first.contains(m.as_str()) {
            problems.push(format!(
                "the first next step does not mention {m:?}: {first}"
            ));
        }
    }
}

#[test]
fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let files: Vec<(String, ScenarioFile)> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let file: ScenarioFile =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!file.about.is_empty());
            (p.file_name().unwrap().to_string_lossy().into_owned(), file)
        })
        .collect();
    assert!(
        files.len() >= 20,
        "{} scenarios; at least 20 are wanted",
        files.len()
    );
    // Scenarios are independent: run them on a few threads.
    let failures: Vec<String> = crate::support::cli::in_parallel(&files, |(name, f)| {
        check(f).err().map(|e| format!("{name}: {e}"))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn piped_output_is_the_text_report() {
    // `kms-doctor diagnose KEY > ticket.txt`: for a person, not JSON.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/02-classic-lockout-alias.json");
    let file: ScenarioFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let endpoint = scenario::start(file.scenario);
    let o = run(&endpoint.url, &["diagnose".into(), "alias/payments".into()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.trim_start().starts_with('{'), "{out}");
    assert!(out.contains("root-delegation-missing"), "{out}");
}

#[test]
fn the_aws_clis_global_flags_work_before_the_subcommand() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/01-healthy.json");
    let file: ScenarioFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let endpoint = scenario::start(file.scenario);
    let o = crate::support::cli::against("http://127.0.0.1:9")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_REGION")
        .args([
            "--endpoint-url",
            &endpoint.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .args(["diagnose", "alias/payments", "--lookup-interval-ms", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(r["key"]["region"], "us-east-1", "{r:#}");
    assert!(!endpoint.calls.lock().unwrap().is_empty());
}

/// `history` of a multi-Region replica: the ReplicateKey recorded in the primary's Region is
/// its first policy change; the primary's own PutKeyPolicy (same key ID) is not its.
#[test]
fn a_replica_s_history_starts_with_the_replicate_key_of_its_primary_s_region() {
    let endpoint = scenario::start_file("65-replica-policy-set-by-replicate-key.json");
    let o = run(
        &endpoint.url,
        &[
            "history".into(),
            "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab".into(),
            "--format".into(),
            "json".into(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    let ids: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evt-replicate-1"], "{v:#}");
}
