//! `--redact` leaks nothing: every identifier and personal datum of the input, collected from the
//! input itself, is absent from every redacted output and from a redacted evidence file, which
//! still renders the same diagnosis.

use crate::support::cli::{against, fresh_dir, kms_doctor, stdout};
use kms_doctor::diagnosis::diagnose::DiagnoseOptions;
use kms_doctor::diagnosis::model::Evidence;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const EVIDENCE: &str = "examples/evidence-locked-out.json";

/// The bundled evidence, its policy given conditions on an organisation, a VPC endpoint, a
/// network, an e-mail in `aws:userid` and an encryption context, and a failed attempt from an
/// address with a user agent.
fn rich_evidence() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE);
    let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let in_force = &mut ev["history"]["in_force"];
    let mut policy: Value = serde_json::from_str(in_force["policy"].as_str().unwrap()).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "Use from the payments network",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/PaymentsApp"},
        "Action": ["kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "aws:PrincipalOrgID": "o-a1b2c3d4e5",
                "aws:SourceVpce": "vpce-0123456789abcdef0",
                "kms:EncryptionContext:Department": "TreasuryOps"
            },
            "IpAddress": {"aws:SourceIp": "198.51.100.0/24"},
            "StringLike": {"aws:userid": "AROAEXAMPLEPAYMENTS01:carol@example.com"}
        }
    }));
    in_force["policy"] = policy.to_string().into();
    ev["history"]["failed_attempts"] = json!([{
        "event_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "event_time": "2026-11-21T08:00:00Z",
        "event_name": "PutKeyPolicy",
        "changed_by": "arn:aws:sts::111122223333:assumed-role/OnCall/dave",
        "role_arn": "arn:aws:iam::111122223333:role/OnCall",
        "source_ip": "203.0.113.77",
        "user_agent": "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12 cfg/retry-mode#legacy TerraformRunner-7",
        "policy": null,
        "bypass_lockout_check": false,
        "error_code": "AccessDeniedException",
        "error_message": "User: arn:aws:sts::111122223333:assumed-role/OnCall/dave is not authorized to perform: kms:PutKeyPolicy"
    }]);
    ev
}

/// Every identifier the input holds: ARN accounts and names, key and event IDs, aliases,
/// addresses, agents, condition values, the session part of user IDs.
fn identifiers(v: &Value, in_condition: bool, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                return identifiers(&inner, false, out);
            }
            // Booleans and numbers identify no one.
            let trivial = s == "true" || s == "false" || s.parse::<f64>().is_ok();
            if in_condition && s.len() >= 3 && !trivial {
                out.insert(s.clone());
            }
            for word in s.split(|c: char| c.is_whitespace() || "\"',()".contains(c)) {
                let parts: Vec<&str> = word.splitn(6, ':').collect();
                if parts.len() == 6 && parts[0] == "arn" {
                    if parts[4].len() == 12 {
                        out.insert(parts[4].to_owned());
                    }
                    for name in parts[5].split('/').skip(1) {
                        if name.len() >= 3 {
                            out.insert(name.to_owned());
                        }
                    }
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| identifiers(v, in_condition, out)),
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    (
                        "event_id" | "source_ip" | "user_agent" | "key_id" | "account",
                        Value::String(s),
                    ) => {
                        out.insert(s.clone());
                    }
                    ("input", Value::String(s)) => {
                        out.insert(s.trim_start_matches("alias/").to_owned());
                    }
                    ("user_id", Value::String(s)) => {
                        out.extend(s.split(':').map(str::to_owned));
                    }
                    _ => {}
                }
                identifiers(v, in_condition || k == "Condition", out);
            }
        }
        _ => {}
    }
}

/// No secret stands in `out` as a token of its own (`Admin` may be part of
/// `AdministratorAccess`, an AWS managed policy's name, and an alias `sessions` part of the code
/// `not-principal-misses-sessions`, but neither may stand alone).
fn assert_no_leak(what: &str, out: &str, secrets: &BTreeSet<String>) {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    for secret in secrets {
        for (i, _) in out.match_indices(secret.as_str()) {
            let before = out[..i].chars().next_back();
            let after = out[i + secret.len()..].chars().next();
            assert!(
                word(before) || word(after),
                "{what} shows {secret:?}: …{}…",
                &out[i.saturating_sub(40)..(i + secret.len() + 40).min(out.len())]
            );
        }
    }
}

#[test]
fn no_identifier_of_the_input_reaches_a_redacted_report() {
    let ev = rich_evidence();
    let mut secrets = BTreeSet::new();
    identifiers(&ev, false, &mut secrets);
    for expected in [
        "111122223333",
        "KeyAdmin",
        "alice",
        "dave",
        "o-a1b2c3d4e5",
        "vpce-0123456789abcdef0",
        "198.51.100.0/24",
        "203.0.113.77",
        "TreasuryOps",
        "payments",
    ] {
        assert!(secrets.contains(expected), "the collector finds {expected}");
    }
    let d = fresh_dir("leak");
    let path = d.join("evidence.json");
    std::fs::write(&path, ev.to_string()).unwrap();
    for format in ["text", "markdown", "json"] {
        let o = kms_doctor(&[
            "diagnose",
            "--from-evidence",
            path.to_str().unwrap(),
            "--format",
            format,
            "--redact",
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert_no_leak(format, &stdout(&o), &secrets);
    }
    // Unredacted, they are all there to see (the test above could not pass by accident).
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let plain = stdout(&o);
    for shown in ["TreasuryOps", "o-a1b2c3d4e5", "KeyAdmin", "alice"] {
        assert!(plain.contains(shown), "{shown}");
    }
}

#[test]
fn a_redacted_evidence_file_hides_everything_and_renders_the_same_diagnosis() {
    let ev: Evidence = serde_json::from_value(rich_evidence()).unwrap();
    let mut secrets = BTreeSet::new();
    identifiers(&serde_json::to_value(&ev).unwrap(), false, &mut secrets);
    let redacted = kms_doctor::report::redact::redacted(&ev);
    let text = serde_json::to_string_pretty(&redacted).unwrap();
    assert_no_leak("the redacted evidence", &text, &secrets);

    let now = "2026-11-28T09:30:00Z".parse().unwrap();
    let before = kms_doctor::diagnosis::diagnose(&ev, now, DiagnoseOptions::default());
    let after = kms_doctor::diagnosis::diagnose(&redacted, now, DiagnoseOptions::default());
    let shape = |r: &kms_doctor::diagnosis::model::DiagnoseReport| {
        (
            r.access
                .iter()
                .map(|a| (a.verdict, a.because.clone()))
                .collect::<Vec<_>>(),
            r.findings.iter().map(|f| f.code).collect::<Vec<_>>(),
            r.restorers
                .iter()
                .flatten()
                .map(|x| (x.exists, x.via_iam()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(shape(&before), shape(&after));
}

#[test]
fn save_evidence_with_redact_writes_a_redacted_file() {
    let endpoint = crate::support::scenario::start_file("02-classic-lockout-alias.json");
    let d = fresh_dir("redacted-evidence");
    let saved = d.join("evidence.json");
    let live = against(&endpoint.url)
        .args([
            "diagnose",
            "alias/payments",
            "--format",
            "json",
            "--redact",
            "--lookup-interval-ms",
            "1",
            "--save-evidence",
            saved.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(live.status.code(), Some(1));
    let text = std::fs::read_to_string(&saved).unwrap();
    let offline = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        saved.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(1), "the redacted file renders");
    let report: Value = serde_json::from_str(&stdout(&offline)).unwrap();
    assert_eq!(report["access"][0]["because"][0], "root-delegation-missing");
    for secret in ["111122223333", "payments", "KeyAdmin"] {
        assert!(!text.contains(secret), "the saved file shows {secret}");
    }
}

#[test]
fn the_timeline_hides_addresses_agents_and_authors() {
    use kms_doctor::diagnosis::model::{PolicyEvent, Skipped, SourceKind};
    use kms_doctor::diagnosis::timeline::{Found, build};
    let event = PolicyEvent {
        event_id: Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
        event_time: kms_doctor::diagnosis::model::Timestamp::parse("2026-11-21T08:00:00Z"),
        event_name: kms_doctor::diagnosis::model::PolicyEventName::PutKeyPolicy,
        changed_by: Some("arn:aws:sts::111122223333:assumed-role/OnCall/dave".into()),
        role_arn: Some("arn:aws:iam::111122223333:role/OnCall".into()),
        source_ip: Some("2001:db8::77".into()),
        user_agent: Some("TerraformRunner-7 (build farm b-42)".into()),
        policy: Some(
            json!({"Statement": [{"Sid": "Admins", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/OnCall"},
            "Action": "kms:*", "Resource": "*"}]})
            .to_string(),
        ),
        bypass_lockout_check: false,
        error_code: None,
        error_message: None,
        account: Some("111122223333".into()),
    };
    let report = build(
        Found {
            key: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            key_arn: None,
            account: Some("111122223333".into()),
            source: SourceKind::Archive,
            events: vec![event],
            skipped: Skipped::default(),
            since: None,
            until: None,
            calls: Vec::new(),
        },
        "2026-11-28T00:00:00Z".parse().unwrap(),
    );
    let redacted = kms_doctor::report::redact::redacted(&report);
    let mut out = kms_doctor::report::NoColor(Vec::new());
    kms_doctor::report::timeline::render(&redacted, kms_doctor::report::Format::Text, &mut out)
        .unwrap();
    let text = String::from_utf8(out.0).unwrap();
    let secrets: BTreeSet<String> = [
        "2001:db8::77",
        "TerraformRunner-7 (build farm b-42)",
        "OnCall",
        "dave",
        "111122223333",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    ]
    .map(str::to_owned)
    .into();
    assert_no_leak("history", &text, &secrets);
    assert!(text.contains("from 192.0.2.1, with agent-1"), "{text}");
}

#[test]
fn authorization_details_in_a_redacted_evidence_file_name_no_one() {
    use kms_doctor::diagnosis::model::{
        AuthorizationDetails, IamPrincipalDetails, ManagedPolicy, NamedDocument,
    };
    let mut ev: Evidence = serde_json::from_value(rich_evidence()).unwrap();
    ev.authorization = Some(AuthorizationDetails {
        roles: vec![IamPrincipalDetails {
            arn: "arn:aws:iam::111122223333:role/payments/TreasuryAdmin".into(),
            name: "TreasuryAdmin".into(),
            path: "/payments/".into(),
            inline_policies: vec![NamedDocument {
                name: "treasury-kms".into(),
                document: json!({"Statement": [{"Effect": "Allow", "Action": "kms:*",
                    "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/cost-center": "CC-7781"}}}]})
                .to_string(),
            }],
            attached: vec!["arn:aws:iam::111122223333:policy/TreasuryKeys".into()],
            trust_policy: Some(
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/OnCall"}, "Action": "sts:AssumeRole"}]})
                    .to_string(),
            ),
            ..Default::default()
        }],
        policies: vec![ManagedPolicy {
            arn: "arn:aws:iam::111122223333:policy/TreasuryKeys".into(),
            name: "TreasuryKeys".into(),
            document: Some(json!({"Statement": []}).to_string()),
        }],
        complete: true,
        ..Default::default()
    });
    let text = serde_json::to_string(&kms_doctor::report::redact::redacted(&ev)).unwrap();
    let secrets: BTreeSet<String> = [
        "TreasuryAdmin",
        "payments",
        "treasury-kms",
        "TreasuryKeys",
        "CC-7781",
        "OnCall",
        "111122223333",
    ]
    .map(str::to_owned)
    .into();
    assert_no_leak("the redacted authorization details", &text, &secrets);
}

/// What a scenario holds that names someone or something of the customer's: accounts, names,
/// unique and key IDs, aliases, Sids and policy IDs that KMS did not write, policy names,
/// condition values, event IDs, addresses and agents of CloudTrail records.
fn scenario_identifiers(v: &Value, out: &mut BTreeSet<String>) {
    identifiers(v, false, out);
    scenario_names(v, out);
    // AWS managed policies (`arn:aws:iam::aws:policy/ReadOnlyAccess`) are AWS's.
    let text = v.to_string();
    for (i, _) in text.match_indices("arn:aws:iam::aws:policy/") {
        let name: String = text[i + "arn:aws:iam::aws:policy/".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || "-_".contains(*c))
            .collect();
        out.remove(&name);
    }
    // AWS's own words name no one: managed policies, the service principals' paths.
    out.retain(|s| {
        s.chars().count() >= 3
            && !s.starts_with("aws-")
            && !s.ends_with(".amazonaws.com")
            && !matches!(
                s.as_str(),
                "AdministratorAccess"
                    | "service-role"
                    | "root"
                    | "FullAWSAccess"
                    | "p-FullAWSAccess"
            )
    });
}

fn scenario_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                scenario_names(&inner, out);
            }
        }
        Value::Array(list) => list.iter().for_each(|v| scenario_names(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    (
                        "name" | "id" | "eventID" | "sourceIPAddress" | "userAgent",
                        Value::String(s),
                    ) => {
                        out.insert(s.clone());
                    }
                    // An organisation: its management account, its OU and root IDs.
                    ("management_account", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    ("parents", Value::Object(tree)) => {
                        for (child, parent) in tree {
                            out.insert(child.clone());
                            out.extend(parent.as_str().map(str::to_owned));
                        }
                    }
                    ("path", Value::String(p)) => {
                        out.extend(p.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
                    }
                    ("principalId" | "user_id", Value::String(s)) => {
                        out.extend(s.split(':').map(str::to_owned));
                    }
                    ("aliases", Value::Array(list)) => out.extend(
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(|a| a.trim_start_matches("alias/").to_owned()),
                    ),
                    ("Sid", Value::String(s))
                        if !s.starts_with("Allow ") && s != "Enable IAM User Permissions" =>
                    {
                        out.insert(s.clone());
                    }
                    ("Id", Value::String(s)) if !s.starts_with("key-") => {
                        out.insert(s.clone());
                    }
                    ("matched", Value::Array(list)) => {
                        for pair in list {
                            if pair[1] != "aws-managed"
                                && let Some(name) = pair[0].as_str()
                            {
                                out.insert(name.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
                scenario_names(v, out);
            }
        }
        _ => {}
    }
}

/// Every scenario of `tests/scenarios`, diagnosed and saved unredacted, then shown with
/// `--redact -v` in every format and saved again with `--redact`: no identifier of the scenario
/// is in standard output, standard error or the redacted file; and the redacted file, rendered
/// as it is, names everyone with the same pseudonyms as the redacted report.
#[test]
fn no_scenario_identifier_reaches_any_redacted_output_and_pseudonyms_agree() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "{} scenarios", paths.len());
    let work = fresh_dir("redaction-scenarios");
    let check = |path: &std::path::Path| -> Result<bool, String> {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut secrets = BTreeSet::new();
        scenario_identifiers(&file["scenario"], &mut secrets);
        let scenario: crate::support::scenario::Scenario =
            serde_json::from_value(file["scenario"].clone()).unwrap();
        let args = crate::support::cli::scenario_args(&file);
        let plain = work.join(format!("{name}.json"));
        let endpoint = crate::support::scenario::start(scenario);
        let live = against(&endpoint.url)
            .args(&args)
            .args([
                "--format",
                "json",
                "--save-evidence",
                plain.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        if !plain.exists() {
            // Nothing could be diagnosed (exit 2): nothing was saved to show.
            return Ok(false);
        }
        let leaks = |what: String, text: &str| -> Result<(), String> {
            std::panic::catch_unwind(|| assert_no_leak(&what, text, &secrets)).map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "a leak".into())
            })
        };
        for format in ["text", "markdown"] {
            let o = kms_doctor(&[
                "diagnose",
                "--from-evidence",
                plain.to_str().unwrap(),
                "--redact",
                "-v",
                "--format",
                format,
            ]);
            if o.status.code() != live.status.code() {
                return Err(format!(
                    "{format}: exit {:?}, live {:?}: {}",
                    o.status.code(),
                    live.status.code(),
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            leaks(format!("{format} stdout"), &stdout(&o))?;
            leaks(
                format!("{format} stderr"),
                &String::from_utf8_lossy(&o.stderr),
            )?;
        }
        // Live, redacted, with the calls listed and the evidence saved redacted.
        let saved = work.join(format!("{name}.redacted.json"));
        let o = against(&endpoint.url)
            .args(&args)
            .args(["--format", "json", "--redact", "-v", "--save-evidence"])
            .arg(&saved)
            .output()
            .unwrap();
        leaks("json stdout".into(), &stdout(&o))?;
        leaks("json stderr".into(), &String::from_utf8_lossy(&o.stderr))?;
        leaks(
            "the redacted evidence".into(),
            &std::fs::read_to_string(&saved).unwrap(),
        )?;
        let redacted_report: Value = serde_json::from_str(&stdout(&o)).unwrap();
        // The redacted evidence, rendered without --redact (and with the same supposed
        // context: it judges, it does not gather), says what the redacted report says.
        let context: Vec<&str> = args
            .windows(2)
            .filter(|w| w[0] == "--context" || w[0] == "--absent")
            .flat_map(|w| [w[0].as_str(), w[1].as_str()])
            .collect();
        let mut rerender = vec![
            "diagnose",
            "--from-evidence",
            saved.to_str().unwrap(),
            "--format",
            "json",
        ];
        rerender.extend(context);
        let again = kms_doctor(&rerender);
        let rerendered: Value = serde_json::from_str(&stdout(&again)).unwrap();
        for field in [
            "/caller",
            "/key/arn",
            "/key/key_id",
            "/restore_path",
            "/policy_source",
        ] {
            if redacted_report.pointer(field) != rerendered.pointer(field) {
                return Err(format!(
                    "{field}: the report says {:?}, its redacted evidence {:?}",
                    redacted_report.pointer(field),
                    rerendered.pointer(field)
                ));
            }
        }
        let principals = |r: &Value| -> Vec<Value> {
            r["restorers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x["principal"].clone())
                .collect()
        };
        if principals(&redacted_report) != principals(&rerendered) {
            return Err(format!(
                "restorers: the report names {:?}, its redacted evidence {:?}",
                principals(&redacted_report),
                principals(&rerendered)
            ));
        }
        Ok(true)
    };
    let results: Vec<(String, Result<bool, String>)> =
        crate::support::cli::in_parallel(&paths, |p| (p.display().to_string(), check(p)));
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(p, r)| r.as_ref().err().map(|e| format!("{p}: {e}")))
        .collect();
    let checked = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .count();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        checked >= 35,
        "only {checked} scenarios were diagnosed and checked"
    );
}

/// `scan` and `history`, redacted, in every format and with `-v`: no identifier of the estate or
/// of the key's CloudTrail records is shown.
#[test]
fn scan_and_history_hide_every_identifier_in_every_format() {
    let leaks = |what: String, text: &str, secrets: &BTreeSet<String>| {
        assert_no_leak(&what, text, secrets);
    };
    // scan: the estate's accounts, keys, aliases, principals and records.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/scan/estate.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut secrets = BTreeSet::new();
    scenario_identifiers(&file["scenario"], &mut secrets);
    assert!(
        secrets.contains("111122223333") && secrets.contains("KeyAdmin"),
        "{secrets:?}"
    );
    // An alias of the estate is also a word of kms-doctor's prose ("if they lose their
    // sessions"); prose is never rewritten, by design, so the word stays there.
    secrets.remove("sessions");
    let (mut sc, _) = crate::scan_e2e::estate();
    sc.kms_throttle_every = 0;
    let endpoint = crate::support::scenario::start(sc);
    for format in ["text", "json", "markdown", "sarif"] {
        let o = against(&endpoint.url)
            .args(["scan", "--org", "--redact", "-v", "--format", format])
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c < 2), "{format}: {o:?}");
        leaks(format!("scan {format} stdout"), &stdout(&o), &secrets);
        leaks(
            format!("scan {format} stderr"),
            &String::from_utf8_lossy(&o.stderr),
            &secrets,
        );
    }
    // history: the key's own records in a generated archive.
    let root = crate::history_archive::generated("redaction-history");
    let mut secrets = BTreeSet::new();
    for (_, record) in crate::history_archive::changes() {
        scenario_identifiers(&record, &mut secrets);
    }
    assert!(
        secrets.contains("203.0.113.24") && secrets.contains("evt-create"),
        "{secrets:?}"
    );
    let arn = crate::support::archive::key_arn();
    for format in ["text", "json", "markdown"] {
        let o = kms_doctor(&[
            "history",
            &arn,
            "--logs",
            root.to_str().unwrap(),
            "--redact",
            "-v",
            "--format",
            format,
        ]);
        assert_eq!(o.status.code(), Some(0), "{format}: {o:?}");
        leaks(format!("history {format} stdout"), &stdout(&o), &secrets);
        leaks(
            format!("history {format} stderr"),
            &String::from_utf8_lossy(&o.stderr),
            &secrets,
        );
    }
}

/// `scan --redact --save-evidence`: the saved file names no account (not even as a map key),
/// no tag (read for the mute list), and gives each identifier the report's pseudonym.
#[test]
fn a_redacted_saved_scan_hides_map_keys_and_tags() {
    let (mut sc, _) = crate::scan_e2e::estate();
    sc.kms_throttle_every = 0;
    for k in &mut sc.keys {
        k.tags
            .insert("cost-center".into(), "team-secret-project".into());
    }
    sc.organization = serde_json::from_value(serde_json::json!({
        "management_account": "999999999999",
        "parents": {"111122223333": "r-root"},
        "policies": []
    }))
    .unwrap();
    let endpoint = crate::support::scenario::start(sc);
    let dir = crate::support::cli::fresh_dir("redacted-saved-scan");
    let config = dir.join("mute.toml");
    std::fs::write(
        &config,
        "[[scan.mute]]\ntag = \"cost-center=elsewhere\"\nreason = \"reads the tags\"\n",
    )
    .unwrap();
    let saved = dir.join("scan.json");
    let o = against(&endpoint.url)
        .args([
            "scan",
            "--region",
            "us-east-1",
            "--redact",
            "--format",
            "json",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--save-evidence")
        .arg(&saved)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c < 2), "{o:?}");
    let file = std::fs::read_to_string(&saved).unwrap();
    let v: Value = serde_json::from_str(&file).unwrap();
    assert!(
        v["organizations"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "the organisation was read: {}",
        v["organizations"]
    );
    let secrets: BTreeSet<String> = ["111122223333", "cost-center", "team-secret-project"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_no_leak("saved scan", &file, &secrets);
    // The report and the file give the account one pseudonym.
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let account = report["keys"][0]["account"].as_str().unwrap();
    assert!(
        v["organizations"].get(account).is_some(),
        "{account} in {}",
        v["organizations"]
    );
}
