//! Hostile content, generated: every class of dangerous text (C0 and C1 controls, ESC and OSC
//! sequences, bidi overrides, line breaks, Markdown and HTML and link syntax, very long strings)
//! in every untrusted field (Sid, principal, condition value, event fields, error messages,
//! notes), rendered in every format. No raw control or bidi character may reach the output;
//! the Markdown, rendered by a CommonMark parser, may hold no HTML, link or image from the input,
//! keeps its tables' shape, and gives back the exact text in its code spans and fences.

use kms_doctor::diagnosis::diagnose::DiagnoseOptions;
use kms_doctor::diagnosis::model::{DiagnoseReport, Evidence};
use kms_doctor::report::{Format, NoColor};
use serde_json::{Value, json};

const EVIDENCE: &str = "examples/evidence-locked-out.json";

/// The classes of hostile text.
fn payloads() -> Vec<(&'static str, String)> {
    vec![
        ("esc-osc", "a\u{1b}[2J\u{1b}]52;c;aGk=\u{7}\u{1b}]8;;http://x\u{1b}\\b".into()),
        ("c1", "a\u{9b}31m\u{85}b".into()),
        ("c0", "a\u{0}\u{8}\u{7f}\rb".into()),
        ("bidi", "a\u{202e}gnp.exe\u{2066}\u{200f}b".into()),
        (
            "lines",
            "a\n- arn:aws:iam::111122223333:role/Forged  exists via \"x\"\n## Heading\r\n".into(),
        ),
        (
            "markdown",
            "<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://x/i.png) <img src=x> | cell ` one `` two ``` *em* _u_ # h"
                .into(),
        ),
        ("long", "A".repeat(20_000)),
    ]
}

/// The fields of the evidence a payload is put into.
fn inject(field: &str, payload: &str) -> Evidence {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE);
    let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut policy: Value =
        serde_json::from_str(ev["history"]["in_force"]["policy"].as_str().unwrap()).unwrap();
    match field {
        "sid" => policy["Statement"][0]["Sid"] = payload.into(),
        "principal" => {
            policy["Statement"][0]["Principal"]["AWS"] =
                format!("arn:aws:iam::111122223333:role/{payload}").into()
        }
        "condition" => {
            policy["Statement"][1]["Condition"] =
                json!({"StringEquals": {"aws:PrincipalTag/team": payload}})
        }
        "changed_by" => {
            ev["history"]["in_force"]["changed_by"] =
                format!("arn:aws:sts::111122223333:assumed-role/Deployer/{payload}").into()
        }
        "event_id" => ev["history"]["in_force"]["event_id"] = payload.into(),
        "failed" => {
            ev["history"]["failed_attempts"] = json!([{
                "event_id": "e-failed", "event_time": "2026-11-21T00:00:00Z",
                "event_name": "PutKeyPolicy", "changed_by": payload, "role_arn": null,
                "source_ip": payload, "user_agent": payload, "policy": null,
                "bypass_lockout_check": false, "error_code": payload, "error_message": payload}])
        }
        "call" => ev["calls"].as_array_mut().unwrap().push(json!({
            "service": "iam", "operation": "GetUser", "outcome": "error", "ms": 1,
            "error_code": payload, "message": payload})),
        "note" => ev["notes"] = json!([payload]),
        other => panic!("no field {other}"),
    }
    ev["history"]["in_force"]["policy"] = policy.to_string().into();
    serde_json::from_value(ev).unwrap()
}

const FIELDS: [&str; 8] = [
    "sid",
    "principal",
    "condition",
    "changed_by",
    "event_id",
    "failed",
    "call",
    "note",
];

fn render(r: &DiagnoseReport, format: Format) -> String {
    let mut out = NoColor(Vec::new());
    kms_doctor::report::diagnose::render(r, format, &mut out).unwrap();
    String::from_utf8(out.0).unwrap()
}

/// Raw characters that act on a terminal or a page.
fn hazard(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// What a terminal would show of `payload`: kms-doctor's escaping of it.
fn shown(payload: &str) -> String {
    kms_doctor::report::escape::terminal(payload).into_owned()
}

/// Some string in `v` holds `needle` exactly.
fn leaf_contains(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(list) => list.iter().any(|v| leaf_contains(v, needle)),
        Value::Object(map) => map.values().any(|v| leaf_contains(v, needle)),
        _ => false,
    }
}

#[test]
fn every_class_in_every_field_is_harmless_in_every_format() {
    let now = "2026-11-28T09:30:00Z".parse().unwrap();
    let mut checked = 0;
    for (class, payload) in payloads() {
        for field in FIELDS {
            let what = format!("{class} in {field}");
            let r = kms_doctor::diagnosis::diagnose(
                &inject(field, &payload),
                now,
                DiagnoseOptions::default(),
            );
            for format in [Format::Text, Format::Markdown, Format::Json] {
                let out = render(&r, format);
                if let Some(c) = out.chars().find(|c| hazard(*c)) {
                    panic!("{what}, {format:?}: a raw {:?} reaches the output", c);
                }
            }
            // Text: the value is shown, escaped; no line starts with forged content.
            let text = render(&r, Format::Text);
            assert!(
                !text
                    .lines()
                    .any(|l| l.starts_with("- arn:aws:iam::111122223333:role/Forged")
                        || l.starts_with("## Heading")),
                "{what}: a forged line"
            );
            // JSON is JSON, and gives the value back exactly.
            let json: Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
            assert!(
                leaf_contains(&json, &payload),
                "{what}: JSON lost the value"
            );

            let markdown = render(&r, Format::Markdown);
            let md = crate::support::markdown::render(&markdown);
            assert!(md.markup.is_empty(), "{what}: live markup {:?}", md.markup);
            assert!(
                !markdown.lines().any(|l| l.starts_with("## Heading")
                    || l.starts_with("- arn:aws:iam::111122223333:role/Forged")),
                "{what}: a forged Markdown line"
            );
            for table in &md.tables {
                let width = table[0].len();
                for row in table {
                    assert_eq!(row.len(), width, "{what}: a table changed shape: {row:?}");
                }
            }
            // The value comes back exactly (as a terminal would show it) from a code span or
            // the policy's fence, wherever the report shows it.
            let expected = shown(&payload);
            let in_code = md.code.iter().any(|c| c.contains(&expected));
            let in_block = md.blocks.iter().any(|b| {
                serde_json::from_str::<Value>(b).is_ok_and(|v| leaf_contains(&v, &payload))
            });
            assert!(
                in_code || in_block,
                "{what}: the value is not given back exactly"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, payloads().len() * FIELDS.len());
}

#[test]
fn the_delegation_statement_in_the_help_round_trips_from_markdown() {
    let now = "2026-11-28T09:30:00Z".parse().unwrap();
    let r =
        kms_doctor::diagnosis::diagnose(&inject("sid", "Admins"), now, DiagnoseOptions::default());
    let md = crate::support::markdown::render(&render(&r, Format::Markdown));
    let statement = md
        .code
        .iter()
        .find(|c| c.starts_with("{\"Sid\":\"Enable IAM User Permissions\""))
        .expect("the statement is a code span");
    let parsed: Value = serde_json::from_str(statement).unwrap();
    assert_eq!(
        parsed,
        kms_doctor::policy::delegation_statement("aws", "111122223333")
    );
}

/// Runs kms-doctor within `limit` and a memory bound (`run_bounded` kills it and fails past
/// either).
fn run_within(args: &[&str], limit: std::time::Duration) -> std::process::Output {
    let run = crate::support::cli::run_bounded(args, limit, MAX_MIB);
    run.output
}

/// The most memory any hostile input may make kms-doctor take.
const MAX_MIB: u64 = 256;

#[test]
fn a_fifo_named_as_any_input_is_refused_at_once() {
    let dir = crate::support::cli::fresh_dir("fifo");
    let fifo = dir.join("p.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    let baseline = format!("--baseline={fifo}");
    let config = format!("--config={fifo}");
    for args in [
        &["explain", "--policy", fifo][..],
        &["check", fifo],
        &["check", "tests/iac/cfn", "--against", fifo],
        &["check", "tests/iac/cfn", &baseline],
        &["check", "tests/iac/cfn", &config],
        &["check", "tests/iac/cfn", "--scp", fifo],
        &["diagnose", "--from-evidence", fifo],
    ] {
        let o = run_within(args, std::time::Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(said.contains("not a regular file"), "{args:?}: {said}");
    }
}

#[test]
fn a_walk_does_not_follow_links_out_of_the_tree() {
    let dir = crate::support::cli::fresh_dir("links-out");
    let repo = dir.join("repo");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy("tests/iac/cfn/locked-out.yaml", repo.join("kms.yaml")).unwrap();
    std::fs::copy("tests/iac/cfn/open.json", outside.join("secret.json")).unwrap();
    std::os::unix::fs::symlink("/", repo.join("rootlink")).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("elsewhere")).unwrap();
    let repo_arg = repo.to_str().unwrap();
    let o = run_within(
        &["check", repo_arg, "--format", "json"],
        std::time::Duration::from_secs(20),
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().any(|p| p.ends_with("kms.yaml")), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("secret.json")),
        "{paths:?}"
    );
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("a link out of the tree"), "{said}");
    // Asked for, a link out of the tree is followed (on the same filesystem).
    let o = run_within(
        &["check", repo_arg, "--format", "json", "--follow-links"],
        std::time::Duration::from_secs(20),
    );
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("secret.json"), "{said}");
}

#[test]
fn a_file_name_cannot_choose_a_sarif_uri_scheme_or_climb() {
    let dir = crate::support::cli::fresh_dir("sarif-uri");
    let policy = std::fs::read("tests/iac/policies/key-policy.json").unwrap();
    for name in [
        "javascript:alert(1).json",
        "https:evil.example.json",
        "..\\..\\.github\\workflows\\release.yml.json",
    ] {
        std::fs::write(dir.join(name), &policy).unwrap();
    }
    let o = crate::support::cli::kms_doctor(&["check", dir.to_str().unwrap(), "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    let uris: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(uris.len(), 6, "two findings a file: {uris:?}");
    for uri in uris {
        // A scheme is letters before a ':' that comes before any '/': none may be there.
        let first = uri.split('/').next().unwrap();
        assert!(!first.contains(':'), "{uri}");
        assert!(!uri.contains(':'), "{uri}");
        assert!(!uri.split('/').any(|s| s == ".."), "{uri}");
    }
}

#[test]
fn a_value_echoed_by_the_argument_parser_cannot_start_a_line() {
    for args in [
        &["check", "x", "--fail-on", "e\n::add-mask::X"][..],
        &[
            "explain",
            "--policy",
            "p.json",
            "--principal",
            "a\r\n::error::pwned",
        ],
        &["diagnose", "k\u{1b}]8;;https://evil\u{7}"],
    ] {
        let o = crate::support::cli::kms_doctor(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
        assert!(!err.lines().any(|l| l.starts_with("::")), "{err}");
    }
}

/// A template whose key policy's Sid is `sid` (a YAML expression), with `sections` before
/// `Resources`.
fn template_with(sections: &str, sid: &str) -> String {
    format!(
        "AWSTemplateFormatVersion: \"2010-09-09\"\n{sections}Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Version: \"2012-10-17\"\n        Statement:\n          - Sid: {sid}\n            Effect: Allow\n            Principal: {{AWS: \"arn:aws:iam::111122223333:root\"}}\n            Action: kms:*\n            Resource: \"*\"\n"
    )
}

#[test]
fn cloudformation_evaluation_is_bounded_and_the_other_files_are_still_checked() {
    // Each parameter joins ten of the one before: 100 bytes × 10^9 unless each is resolved
    // once and the size of what is built is bounded.
    let mut joins = String::from("Parameters:\n  P0:\n    Type: String\n    Default: ");
    joins.push_str(&"x".repeat(100));
    joins.push('\n');
    for i in 1..=9 {
        let refs = vec![format!("!Ref P{}", i - 1); 10].join(", ");
        joins.push_str(&format!(
            "  P{i}:\n    Type: String\n    Default: !Join ['', [{refs}]]\n"
        ));
    }
    // Each condition is the And of ten of the one before: 10^11 evaluations unless each is
    // decided once.
    let mut ands = String::from("Conditions:\n  D0: !Equals [a, a]\n");
    for i in 1..=11 {
        let conds = vec![format!("!Condition D{}", i - 1); 10].join(", ");
        ands.push_str(&format!("  D{i}: !And [{conds}]\n"));
    }
    // A chain of 20,000 conditions, each the Not of the one before: past any stack unless
    // bounded.
    let mut nots = String::from("Conditions:\n  C0: !Equals [a, a]\n");
    for i in 1..=20_000 {
        nots.push_str(&format!("  C{i}: !Not [!Condition C{}]\n", i - 1));
    }
    let dir = crate::support::cli::fresh_dir("cfn-bounds");
    std::fs::write(dir.join("joins.yaml"), template_with(&joins, "!Ref P9")).unwrap();
    std::fs::write(
        dir.join("ands.yaml"),
        template_with(&ands, "!If [D11, Yes, No]"),
    )
    .unwrap();
    std::fs::write(
        dir.join("nots.yaml"),
        template_with(&nots, "!If [C20000, Yes, No]"),
    )
    .unwrap();
    std::fs::copy("tests/iac/cfn/locked-out.yaml", dir.join("real.yaml")).unwrap();
    let o = run_within(
        &["check", dir.to_str().unwrap(), "--format", "json"],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = |name: &str| {
        r["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    assert!(
        file("joins.yaml")["error"]
            .as_str()
            .is_some_and(|e| e.contains("a value longer than")),
        "{:#}",
        file("joins.yaml")
    );
    // Decided once each, the Ands are quick and true: the policy is read.
    assert!(
        file("ands.yaml")["error"].is_null(),
        "{:#}",
        file("ands.yaml")
    );
    assert!(
        file("nots.yaml")["error"]
            .as_str()
            .is_some_and(|e| e.contains("nest too deep")),
        "{:#}",
        file("nots.yaml")
    );
    assert!(
        !file("real.yaml")["resources"][0]["findings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
