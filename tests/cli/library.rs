//! The library as a second front end (the MCP server, the watcher) uses it: a command's
//! computation is async, takes a typed request, and gives the report before any rendering, file
//! or exit status; the CLI is one presenter of it. Its answer is the CLI's JSON, exactly.

use kms_doctor::commands::diagnose::{DiagnoseRequest, Diagnosed, Target, diagnose};
use kms_doctor::commands::{NoProgress, Output};
use kms_doctor::policy::Context;
use kms_doctor::report::Format;

const EVIDENCE: &str = "examples/evidence-locked-out.json";

fn request() -> DiagnoseRequest {
    DiagnoseRequest {
        target: Target::FromEvidence(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE),
        ),
        output: Output {
            format: Format::Json,
            redact: false,
        },
        without: Vec::new(),
        write_fix: None,
        save_evidence: None,
        force: false,
        max_hops: 2,
        context: Context::default(),
    }
}

#[test]
fn a_diagnosis_is_computed_from_async_code_on_several_threads_as_the_cli_prints_it() {
    let cli = crate::support::cli::kms_doctor(&[
        "diagnose",
        "--from-evidence",
        EVIDENCE,
        "--format",
        "json",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let Diagnosed { report, .. } = runtime
                    .block_on(diagnose(&request(), &NoProgress))
                    .expect("a saved evidence file diagnoses");
                serde_json::to_value(&report).unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(
            t.join().unwrap(),
            printed,
            "the library's report is the CLI's JSON"
        );
    }
}

#[test]
fn a_check_is_computed_from_async_code_as_the_cli_prints_it() {
    use kms_doctor::commands::check::{CheckRequest, Checked, check_iac};
    let cli = crate::support::cli::kms_doctor(&["check", "tests/iac/cfn", "--format", "json"]);
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let req = CheckRequest {
        paths: vec!["tests/iac/cfn".into()],
        settings: kms_doctor::evidence::iac::Settings::default(),
        deployer: None,
        keep: Vec::new(),
        against: None,
        format: kms_doctor::report::Format::Json,
        fail_on: None,
        config: None,
        baseline: None,
        write_baseline: None,
        force: false,
        ignore_unknown: false,
        allow_empty: false,
        follow_links: false,
        threads: 0,
        scps: Vec::new(),
        rcps: Vec::new(),
        keys: None,
        live: None,
        org_id: None,
        region: None,
    };
    // The test's working directory is the package's, as the CLI's above.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Checked {
        report,
        calls,
        fail_on,
        passed_over: _,
    } = runtime.block_on(check_iac(&req, &NoProgress)).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), printed);
    assert!(calls.is_none(), "offline: no AWS call");
    assert_eq!(fail_on, Some(kms_doctor::diagnosis::model::Severity::Error));
}

#[test]
fn a_policy_given_inline_is_explained_as_the_cli_explains_its_file() {
    use kms_doctor::commands::explain::{ExplainRequest, PolicyInput, explain_policy};
    let path = "examples/locked-out.json";
    let principal = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    let cli = crate::support::cli::kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        principal,
        "--format",
        "json",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let req = ExplainRequest {
        policy: PolicyInput::Text {
            label: path.to_owned(),
            text: std::fs::read_to_string(path).unwrap(),
        },
        principal: Some(kms_doctor::policy::Identity::parse(principal).unwrap()),
        actions: vec!["kms:GetKeyPolicy".into(), "kms:PutKeyPolicy".into()],
        key_arn: None,
        context: Context::default(),
        scps: Vec::new(),
        rcps: Vec::new(),
        output: Output {
            format: Format::Json,
            redact: false,
        },
    };
    let report = explain_policy(&req).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), printed);
}

/// A server runs each computation as a task of a multi-threaded runtime: every command's future
/// is `Send` (checked when this compiles), and the diagnosis runs as a spawned task.
#[test]
fn every_computation_is_a_send_future() {
    use kms_doctor::commands::{check, history, scan};
    fn send<T: Send>(_: &T) {}
    fn all_send(
        d: &DiagnoseRequest,
        s: &scan::ScanRequest,
        c: &check::CheckRequest,
        h: &history::HistoryRequest,
        p: &NoProgress,
    ) {
        send(&diagnose(d, p));
        send(&scan::scan(s, p));
        send(&check::check_iac(c, p));
        send(&history::history(h, p));
    }
    let _checked_at_compile_time = all_send;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let task = runtime.spawn(async {
        let Diagnosed { report, .. } = diagnose(&request(), &NoProgress).await.unwrap();
        serde_json::to_value(&report).unwrap()
    });
    let report = runtime.block_on(task).unwrap();
    assert_eq!(
        report["summary"]["who_can_restore"],
        "arn:aws:iam::111122223333:role/KeyAdmin"
    );
}

/// A front end other than the command line fills a command's plain input and asks the same
/// validation: what the CLI refuses, it refuses with the same error; what the CLI accepts gives
/// the CLI's answer.
#[test]
fn a_second_front_end_validates_plain_input_as_the_cli_does() {
    use kms_doctor::commands::explain::explain_policy;
    use kms_doctor::commands::input::ExplainArgs;
    use kms_doctor::commands::validate;
    let path = "examples/locked-out.json";
    let principal = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
    let bad = validate::explain(
        ExplainArgs {
            policy: path.into(),
            principal: Some("not-an-arn".into()),
            ..ExplainArgs::default()
        },
        Format::Json,
    )
    .expect_err("not a principal");
    let cli = crate::support::cli::kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        "not-an-arn",
    ]);
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains(&bad.to_string()),
        "{bad}"
    );
    let req = validate::explain(
        ExplainArgs {
            policy: path.into(),
            principal: Some(principal.into()),
            ..ExplainArgs::default()
        },
        Format::Json,
    )
    .unwrap();
    let report = explain_policy(&req).unwrap();
    let cli = crate::support::cli::kms_doctor(&[
        "explain",
        "--policy",
        path,
        "--principal",
        principal,
        "--format",
        "json",
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), printed);
}
