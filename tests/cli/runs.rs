//! Whole runs as snapshots (ruff's and cargo's way): for every scenario, fixture and example,
//! the real binary's exit status, standard output and standard error, in every format,
//! `--redact` included. A change to what any command prints shows here as a diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`).
//!
//! What varies from run to run is normalised before the comparison, and only that: call
//! durations, the scenario endpoint's port, temporary directories.

use crate::support::cli::{against, in_parallel, kms_doctor, scenario_args, sorted_files, stdout};
use crate::support::scenario;
use std::path::{Path, PathBuf};
use std::process::Output;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One run, as a snapshot shows it.
fn shown(o: &Output, replace: &[(&str, &str)]) -> String {
    let mut text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        o.status
            .code()
            .map_or_else(|| "killed".to_owned(), |c| c.to_string()),
        calls_in_a_stable_order(&String::from_utf8_lossy(&o.stdout)),
        String::from_utf8_lossy(&o.stderr)
    );
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    normalise_durations(&text)
        .lines()
        .map(call_row_without_duration)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A row of Markdown's calls table (`| `kms` | `DescribeKey` | ok | 12 |`) without its time.
fn call_row_without_duration(line: &str) -> String {
    // Markdown escapes `_` in kms-doctor's words.
    let outcome = ["ok", "access\\_denied", "not\\_found", "throttled", "error"]
        .iter()
        .any(|o| line.contains(&format!("| {o} |")));
    match line
        .trim_end()
        .strip_suffix(" |")
        .and_then(|l| l.rsplit_once("| "))
    {
        Some((head, ms)) if outcome && !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{head}| 0 |")
        }
        _ => line.to_owned(),
    }
}

/// Calls made at once are listed in the order they started, which varies: JSON's `calls` and
/// the rows of Markdown's calls table are sorted for the comparison.
fn calls_in_a_stable_order(stdout: &str) -> String {
    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(stdout) {
        if let Some(calls) = v.get_mut("calls").and_then(|c| c.as_array_mut()) {
            calls.sort_by_key(|c| c.to_string());
            return serde_json::to_string_pretty(&v).unwrap() + "\n";
        }
        return stdout.to_owned();
    }
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let is_call = |l: &str| call_row_without_duration(l) != l || l.ends_with("| 0 |");
    let mut i = 0;
    while i < lines.len() {
        let j = (i..lines.len())
            .find(|&j| !is_call(&lines[j]))
            .unwrap_or(lines.len());
        if j > i + 1 {
            lines[i..j].sort_by_key(|l| call_row_without_duration(l));
        }
        i = j.max(i + 1);
    }
    lines.join("\n") + if stdout.ends_with('\n') { "\n" } else { "" }
}

/// `"ms": 12` and `in 12 ms` become `0`: how long a call took is not part of what it says.
fn normalise_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        let mut kept = String::new();
        loop {
            let next = [("\"ms\": ", ""), ("in ", " ms")]
                .iter()
                .filter_map(|(before, after)| {
                    rest.find(before).and_then(|i| {
                        let start = i + before.len();
                        let digits = rest[start..].bytes().take_while(u8::is_ascii_digit).count();
                        (digits > 0 && rest[start + digits..].starts_with(after))
                            .then_some((start, digits))
                    })
                })
                .min();
            match next {
                Some((start, digits)) => {
                    kept.push_str(&rest[..start]);
                    kept.push('0');
                    rest = &rest[start + digits..];
                }
                None => break,
            }
        }
        kept.push_str(rest);
        out.push_str(&kept);
    }
    out
}

/// Scenarios whose output depends on timing, with why; `diagnose_e2e` checks what they must say.
const TIMING_DEPENDENT: &[(&str, &str)] = &[(
    "23-describe-500.json",
    "the SDK's jittered retries of a 500 end before or after --timeout 2",
)];

/// The lines a reader sees before opening any `<details>` block (the block's own line counts).
fn visible_markdown_lines(markdown: &str) -> usize {
    let mut depth = 0usize;
    let mut visible = 0;
    for line in markdown.lines() {
        if line.starts_with("<details>") {
            visible += usize::from(depth == 0);
            depth += 1;
        } else if line.starts_with("</details>") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && !line.trim().is_empty() && !line.starts_with("<summary>") {
            visible += 1;
        }
    }
    visible
}

/// The text report opens with the answer (`Why:`, `Who can restore:`, `Next:`) and no line is
/// wider than the terminal.
fn answer_first_within_80_columns(name: &str, out: &str) {
    if out.is_empty() {
        return; // The run failed before a report (exit 2): its error is on stderr.
    }
    let starts: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .take(3)
        .collect();
    for (line, label) in starts.iter().zip(["Why: ", "Who can restore: ", "Next: "]) {
        assert!(line.starts_with(label), "{name}: {label:?} first:\n{out}");
    }
    for line in out.lines() {
        let width = line.chars().count();
        assert!(width <= 80, "{name}: {width} columns: {line}");
        // A key's ARN (75 columns) fits a row: it is never cut where it can be copied whole.
        if let Some(i) = line.find("arn:aws:kms:") {
            let arn = line[i..].split_whitespace().next().unwrap_or_default();
            assert!(
                arn.contains(":key/") || arn.contains(":alias/"),
                "{name}: an ARN cut: {line}"
            );
            if arn.contains(":key/") {
                let id = arn.rsplit('/').next().unwrap_or_default();
                assert!(
                    id.len() >= 36 || id.ends_with('…'),
                    "{name}: a key ARN cut: {line}"
                );
            }
        }
    }
}

/// The next steps never name an action the findings rule out: "you can restore" is never
/// followed by "ask"; `no-restorer` always gives what AWS Support needs; an unknown policy is
/// never "no one".
fn advice_agrees_with_findings(name: &str, format: &str, out: &str) {
    if format == "json" {
        // A run that could not diagnose (exit 2) writes no report.
        let Ok(r) = serde_json::from_str::<serde_json::Value>(out) else {
            assert!(out.is_empty(), "{name}: not JSON: {out}");
            return;
        };
        let steps: Vec<&str> = r["next_steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let codes: Vec<&str> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        let you_can = steps.iter().any(|s| s.starts_with("You can "))
            || (codes.contains(&"restorer-reachable") && !r["restore_path"].is_null());
        if you_can {
            for s in &steps {
                assert!(
                    !s.starts_with("Ask ") && !s.starts_with("Or ask "),
                    "{name}: you can restore, yet: {s}"
                );
            }
        }
        // A way that hangs on a trust policy's condition is never said to be certain.
        let reachable = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "restorer-reachable");
        if let Some(f) = reachable.filter(|_| r["restore_path_conditional"] == true) {
            let title = f["title"].as_str().unwrap();
            assert!(title.starts_with("You may "), "{name}: {title}");
        }
        assert_eq!(
            codes.contains(&"no-restorer"),
            !r["support_case"].is_null(),
            "{name}: no-restorer and the AWS Support case go together"
        );
        if codes.contains(&"no-restorer") {
            assert!(
                steps.iter().any(|s| s.contains("AWS Support")),
                "{name}: {steps:#?}"
            );
        }
    } else if out.contains("Unknown: ") {
        assert!(
            !out.contains("No one"),
            "{name}: unknown, yet no one:\n{out}"
        );
    }
    if format == "text" && out.contains("if the trust policy's conditions") {
        assert!(
            !out.contains("You can restore access yourself"),
            "{name}: a conditional way said as certain:\n{out}"
        );
    }
    if format == "text" && out.contains("no-restorer") {
        assert!(out.contains("For AWS Support"), "{name}:\n{out}");
    }
}

#[test]
fn diagnose_every_scenario_in_every_format() {
    let paths: Vec<PathBuf> = sorted_files(&Path::new(ROOT).join("tests/scenarios"), "json")
        .into_iter()
        .filter(|p| !TIMING_DEPENDENT.iter().any(|(name, _)| p.ends_with(name)))
        .collect();
    assert!(paths.len() >= 40, "{} scenarios", paths.len());
    let runs = in_parallel(&paths, |path| {
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let sc: scenario::Scenario = serde_json::from_value(file["scenario"].clone()).unwrap();
        let endpoint = scenario::start(sc);
        let args = scenario_args(&file);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        [
            ("text", &[][..]),
            ("markdown", &[]),
            ("json", &[]),
            ("text-redacted", &["--redact"]),
        ]
        .iter()
        .map(|(label, extra)| {
            let format = label.trim_end_matches("-redacted");
            // An operator's 80-column terminal.
            let o = against(&endpoint.url)
                .args(&args)
                .args(["--format", format])
                .args(*extra)
                .env("COLUMNS", "80")
                .output()
                .unwrap();
            if *label == "json" || *label == "text" {
                advice_agrees_with_findings(&name, label, &stdout(&o));
            }
            if *label == "text" {
                answer_first_within_80_columns(&name, &stdout(&o));
            }
            if *label == "markdown" && name == "02-classic-lockout-alias" {
                let visible = visible_markdown_lines(&stdout(&o));
                assert!(visible < 40, "a ticket's body: {visible} lines");
            }
            (
                format!("diagnose__{name}__{label}"),
                shown(&o, &[(endpoint.url.as_str(), "http://ENDPOINT")]),
            )
        })
        .collect::<Vec<_>>()
    });
    for (name, text) in runs.into_iter().flatten() {
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn check_every_fixture_in_every_format() {
    let mut files = Vec::new();
    // Every directory of fixtures: a new one fails the count below until it is listed here.
    let dirs = [
        "broken", "cdk.out", "cfn", "delete", "other", "policies", "suppress", "tf",
    ];
    let on_disk = std::fs::read_dir(Path::new(ROOT).join("tests/iac"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(on_disk, dirs.len(), "a directory of tests/iac is not swept");
    for dir in dirs {
        for ext in ["json", "yaml"] {
            files.extend(sorted_files(
                &Path::new(ROOT).join("tests/iac").join(dir),
                ext,
            ));
        }
    }
    files.sort();
    let runs = in_parallel(&files, |path| {
        let rel = path
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        ["text", "json", "markdown", "sarif", "github"]
            .iter()
            .map(|format| {
                let o = kms_doctor(&[
                    "check",
                    &rel,
                    "--account",
                    "111122223333",
                    "--format",
                    format,
                ]);
                let name = rel
                    .trim_start_matches("tests/iac/")
                    .replace(['/', '.'], "_");
                (format!("check__{name}__{format}"), shown(&o, &[]))
            })
            .collect::<Vec<_>>()
    });
    for (name, text) in runs.into_iter().flatten() {
        insta::assert_snapshot!(name, text);
    }
}

/// The formats each command writes, from the one list the command line offers.
fn names(formats: &[kms_doctor::report::Format]) -> Vec<&'static str> {
    formats.iter().map(|f| f.name()).collect()
}

/// `check` with each flag that changes what it reports, in every format: the people deploying
/// (`--deployer`, `--keep`), the policy before (`--against`, a policy or an old template), known
/// findings (`--baseline`).
#[test]
fn check_with_each_flag_that_changes_a_report() {
    let dir = crate::support::cli::fresh_dir("check-flags");
    let baseline = dir.join("baseline.json");
    let written = kms_doctor(&[
        "check",
        "tests/iac/cfn/locked-out.yaml",
        "--write-baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(written.status.code(), Some(1), "{}", stdout(&written));
    let a = "arn:aws:iam::111122223333";
    let cases: [(&str, Vec<String>); 3] = [
        (
            "deployer_keep_against_policy",
            [
                "tests/iac/policies/key-policy.json",
                "--deployer",
                &format!("{a}:role/ci-deploy"),
                "--keep",
                &format!("{a}:role/BreakGlass"),
                "--keep",
                &format!("{a}:role/KeyAdmin"),
                "--against",
                "tests/iac/policies/old-key-policy.json",
            ]
            .map(str::to_owned)
            .into(),
        ),
        (
            "against_old_template",
            [
                "tests/iac/delete/cfn/new.yaml",
                "--against",
                "tests/iac/delete/cfn/old.yaml",
            ]
            .map(str::to_owned)
            .into(),
        ),
        (
            "baseline",
            [
                "tests/iac/cfn/locked-out.yaml",
                "--baseline",
                baseline.to_str().unwrap(),
                "--fail-on",
                "warning",
            ]
            .map(str::to_owned)
            .into(),
        ),
    ];
    let dir_text = dir.to_string_lossy().into_owned();
    for (label, args) in &cases {
        for format in names(kms_doctor::report::Format::CHECK) {
            let mut all: Vec<&str> = vec!["check"];
            all.extend(args.iter().map(String::as_str));
            all.extend(["--account", "111122223333", "--format", format]);
            let o = kms_doctor(&all);
            insta::assert_snapshot!(
                format!("check_flag__{label}__{format}"),
                shown(&o, &[(dir_text.as_str(), "TMP")])
            );
        }
    }
}

/// `scan` with each flag that changes what it reports (`--without`, the mute list,
/// `--all-regions`), and `check --keys` over the scan it saved, in every format.
#[test]
fn scan_with_each_flag_that_changes_a_report() {
    let (mut sc, _) = crate::scan_e2e::estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let dir = crate::support::cli::fresh_dir("scan-flags");
    let config = dir.join("kms-doctor.toml");
    std::fs::write(
        &config,
        "[[scan.mute]]\naccount = \"111122223333\"\nalias = \"alias/payments\"\nreason = \"one administrator by design\"\n",
    )
    .unwrap();
    let saved = dir.join("scan.json");
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "without",
            vec![
                "--region",
                "us-east-1",
                "--without",
                "arn:aws:iam::111122223333:role/KeyAdmin",
            ],
        ),
        (
            "mute_list",
            vec![
                "--region",
                "us-east-1",
                "--config",
                config.to_str().unwrap(),
            ],
        ),
        ("all_regions", vec!["--all-regions"]),
    ];
    let dir_text = dir.to_string_lossy().into_owned();
    let replace = [
        (endpoint.url.as_str(), "http://ENDPOINT"),
        (dir_text.as_str(), "TMP"),
    ];
    for (label, args) in &cases {
        for format in names(kms_doctor::report::Format::SCAN) {
            let o = against(&endpoint.url)
                .arg("scan")
                .args(args)
                .args(["--format", format])
                .env("AWS_REGION", "us-east-1")
                .output()
                .unwrap();
            insta::assert_snapshot!(format!("scan_flag__{label}__{format}"), shown(&o, &replace));
        }
    }
    let o = against(&endpoint.url)
        .args(["scan", "--region", "us-east-1", "--save-evidence"])
        .arg(&saved)
        .args(["--format", "json"])
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(saved.is_file(), "{}", String::from_utf8_lossy(&o.stderr));
    for format in names(kms_doctor::report::Format::CHECK) {
        let o = kms_doctor(&[
            "check",
            "tests/iac/delete/replaces-admin.json",
            "--keys",
            saved.to_str().unwrap(),
            "--format",
            format,
        ]);
        insta::assert_snapshot!(format!("check_flag__keys__{format}"), shown(&o, &replace));
    }
}

/// A key whose every restorer an SCP holds: scan says the organisation's administrators can
/// exempt one, not "only AWS Support" (as diagnose and the finding say).
#[test]
fn scan_where_the_organisation_holds_every_restorer() {
    let endpoint = scenario::start_file("57-scp-holds-every-restorer.json");
    let o = against(&endpoint.url)
        .args([
            "scan",
            "--region",
            "us-east-1",
            "--no-cloudtrail",
            "--format",
            "text",
        ])
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(
        text.contains("nobody the organisation's policies allow"),
        "{text}"
    );
    assert!(!text.contains("only AWS Support)"), "{text}");
    insta::assert_snapshot!(
        "scan__57-scp-holds-every-restorer__text",
        shown(&o, &[(endpoint.url.as_str(), "http://ENDPOINT")])
    );
}

#[test]
fn explain_every_example_in_every_format() {
    let examples: Vec<PathBuf> = sorted_files(&Path::new(ROOT).join("examples"), "json")
        .into_iter()
        .filter(|p| !p.ends_with("evidence-locked-out.json"))
        .collect();
    assert!(examples.len() >= 3);
    for path in &examples {
        let rel = path
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        for format in ["text", "json", "markdown"] {
            let o = kms_doctor(&["explain", "--policy", &rel, "--format", format]);
            insta::assert_snapshot!(format!("explain__{name}__{format}"), shown(&o, &[]));
        }
    }
}

#[test]
fn diagnose_the_bundled_evidence_in_every_format() {
    for (label, extra) in [
        ("text", &[][..]),
        ("markdown", &[]),
        ("json", &[]),
        ("markdown-redacted", &["--redact"]),
        ("text-verbose", &["-v"]),
    ] {
        let format = label.split('-').next().unwrap();
        let mut args = vec![
            "diagnose",
            "--from-evidence",
            "examples/evidence-locked-out.json",
            "--format",
            format,
        ];
        args.extend_from_slice(extra);
        let o = kms_doctor(&args);
        insta::assert_snapshot!(
            format!("diagnose__bundled_evidence__{label}"),
            shown(&o, &[])
        );
    }
}

#[test]
fn scan_the_estate_in_every_format() {
    let (mut sc, _) = crate::scan_e2e::estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    for (label, extra) in [
        ("text", &[][..]),
        ("json", &[]),
        ("markdown", &[]),
        ("sarif", &[]),
        ("json-redacted", &["--redact"]),
    ] {
        let format = label.split('-').next().unwrap();
        let o = against(&endpoint.url)
            .args(["scan", "--org", "--format", format])
            .args(extra)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        insta::assert_snapshot!(
            format!("scan__estate__{label}"),
            shown(&o, &[(endpoint.url.as_str(), "http://ENDPOINT")])
        );
    }
}

#[test]
fn history_of_an_archive_in_every_format() {
    let root = crate::history_archive::generated("runs-history");
    let dir = root.to_str().unwrap().to_owned();
    let arn = crate::support::archive::key_arn();
    for (label, extra) in [
        ("text", &[][..]),
        ("json", &[]),
        ("markdown", &[]),
        ("text-redacted", &["--redact"]),
    ] {
        let format = label.split('-').next().unwrap();
        let mut args = vec!["history", &arn, "--logs", &dir, "--format", format];
        args.extend_from_slice(extra);
        let o = kms_doctor(&args);
        insta::assert_snapshot!(
            format!("history__archive__{label}"),
            shown(&o, &[(dir.as_str(), "ARCHIVE")])
        );
    }
}
