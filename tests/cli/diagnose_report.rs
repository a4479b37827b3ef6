//! The diagnosis report in each format, from the bundled evidence file (no AWS access), and
//! the evidence file round trip.

use crate::support::cli::{against, kms_doctor, stdout};

const EVIDENCE: &str = "examples/evidence-locked-out.json";

#[test]
fn text_report_from_evidence() {
    let o = kms_doctor(&["diagnose", "--from-evidence", EVIDENCE, "--format", "text"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("evidence_locked_out_text", stdout(&o));
}

#[test]
fn markdown_report_from_evidence() {
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        EVIDENCE,
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("evidence_locked_out_markdown", stdout(&o));
}

#[test]
fn redacted_reports_hide_accounts_names_and_key_ids_in_every_format() {
    for format in ["text", "markdown", "json"] {
        let o = kms_doctor(&[
            "diagnose",
            "--from-evidence",
            EVIDENCE,
            "--format",
            format,
            "--redact",
        ]);
        let out = stdout(&o);
        for secret in [
            "111122223333",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "KeyAdmin",
            "alice",
            "Deployer",
            "AROAEXAMPLEADMIN0001",
        ] {
            assert!(!out.contains(secret), "{format} output shows {secret}");
        }
        if format == "markdown" {
            insta::assert_snapshot!("evidence_locked_out_markdown_redacted", out);
        }
    }
}

#[test]
fn json_report_follows_the_contract() {
    let o = kms_doctor(&["diagnose", "--from-evidence", EVIDENCE, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["key"]["input"], "alias/payments");
    assert_eq!(
        v["caller"]["principal_arn"],
        "arn:aws:iam::111122223333:role/ops/Admin"
    );
    assert_eq!(
        v["access"],
        serde_json::json!([
            {"action": "kms:GetKeyPolicy", "verdict": "denied", "basis": "observed", "because": ["root-delegation-missing"]},
            {"action": "kms:PutKeyPolicy", "verdict": "denied", "basis": "inferred", "because": ["root-delegation-missing"]}
        ])
    );
    assert_eq!(
        v["restorers"][0]["principal"],
        "arn:aws:iam::111122223333:role/KeyAdmin"
    );
    assert_eq!(v["restorers"][0]["source"], "cloudtrail");
    assert_eq!(v["restorers"][0]["exists"], true);
    assert_eq!(v["policy_source"]["kind"], "cloudtrail");
    assert_eq!(
        v["policy_source"]["changed_by"],
        "arn:aws:sts::111122223333:assumed-role/Deployer/ci"
    );
    assert_eq!(v["calls"].as_array().unwrap().len(), 7);
    insta::assert_snapshot!("evidence_locked_out_json", stdout(&o));
}

#[test]
fn write_fix_adds_the_delegation_to_the_policy_in_force() {
    let dir = crate::support::cli::fresh_dir("fix");
    let fix = dir.join("fixed-policy.json");
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        EVIDENCE,
        "--format",
        "json",
        "--write-fix",
        fix.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fix).unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(
        policy["Statement"][1]["Sid"],
        "Allow access for Key Administrators"
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        report["next_steps"]
            .to_string()
            .contains(&format!("file://{}", fix.display()))
    );
    // The fixed policy lets the locked-out admin back in through IAM.
    let out = kms_doctor(&[
        "explain",
        "--policy",
        fix.to_str().unwrap(),
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn saved_evidence_renders_the_same_report_offline() {
    let endpoint = crate::support::scenario::start_file("02-classic-lockout-alias.json");
    let dir = crate::support::cli::fresh_dir("evidence");
    let saved = dir.join("evidence.json");
    let live = against(&endpoint.url)
        .args([
            "diagnose",
            "alias/payments",
            "--format",
            "json",
            "--lookup-interval-ms",
            "1",
            "--save-evidence",
            saved.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let offline = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        saved.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(live.status.code(), Some(1));
    assert_eq!(offline.status.code(), Some(1));
    assert_eq!(stdout(&live), stdout(&offline));
    let saved = std::fs::read_to_string(&saved).unwrap();
    assert!(
        !saved.contains("wJalr") && !saved.contains("secret\""),
        "no credentials in evidence"
    );
}

#[test]
fn evidence_errors_exit_two() {
    let o = kms_doctor(&["diagnose", "--from-evidence", "examples/locked-out.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a kms-doctor evidence file"));
    let o = kms_doctor(&["diagnose"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a key or --from-evidence is required"
    );
    let o = kms_doctor(&["diagnose", "alias/x", "--lookback-days", "91"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The bundled evidence, edited by `edit`, written to a fresh file.
fn edited_evidence(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let mut ev: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE))
            .unwrap(),
    )
    .unwrap();
    edit(&mut ev);
    let path = std::env::temp_dir().join(format!("kms-doctor-{name}-{}.json", std::process::id()));
    std::fs::write(&path, ev.to_string()).unwrap();
    path
}

#[test]
fn evidence_of_another_version_or_time_is_refused_not_guessed() {
    for version in [0, 2] {
        let path = edited_evidence(&format!("v{version}"), |ev| {
            ev["evidence_version"] = version.into()
        });
        let o = kms_doctor(&["diagnose", "--from-evidence", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "version {version}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "version {version}; this kms-doctor reads version 1"
            )),
            "{err}"
        );
        assert!(o.stdout.is_empty());
    }
    let path = edited_evidence("time", |ev| ev["collected_at"] = "yesterday".into());
    let o = kms_doctor(&["diagnose", "--from-evidence", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an RFC 3339 time"));
}

#[test]
fn with_v_the_report_does_not_offer_the_call_list_again() {
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        EVIDENCE,
        "--format",
        "text",
        "-v",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("7 AWS calls, all read-only (listed on standard error)."),
        "{out}"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("kms-doctor: "))
            .count(),
        8,
        "the seven calls, after a line saying when they were made: {err}"
    );
    assert!(
        err.lines().next().unwrap().contains("no AWS call now"),
        "{err}"
    );
}

#[test]
fn without_its_only_administrator_the_key_would_have_no_restorer() {
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        "examples/evidence-locked-out.json",
        "--without",
        "arn:aws:iam::111122223333:role/KeyAdmin",
        "--format",
        "json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"removes-last-restorer"), "{codes:?}");
    // Another role goes: nothing changes.
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        "examples/evidence-locked-out.json",
        "--without",
        "arn:aws:iam::111122223333:role/AppRole",
        "--format",
        "json",
    ]);
    assert!(!stdout(&o).contains("removes-"), "{}", stdout(&o));
    // A value that is none of the forms is refused.
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        "examples/evidence-locked-out.json",
        "--without",
        "not a name",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// A CloudTrail search that a failed call ended before the policy in force: the text said
/// "cut short", and now the JSON carries the finding that says so (not read is not none).
#[test]
fn a_search_cut_short_by_a_failed_call_is_a_finding_in_json() {
    let path = edited_evidence("cut-by-failure", |ev| {
        ev["history"]["in_force"] = serde_json::Value::Null;
        ev["history"]["complete"] = false.into();
        ev["history"]["cut_short"] = serde_json::Value::Null;
    });
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cut = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "evidence-incomplete")
        .unwrap_or_else(|| panic!("{:#}", r["findings"]));
    assert!(
        cut["title"]
            .as_str()
            .unwrap()
            .contains("cut short by a failed call"),
        "{cut:#}"
    );
}
