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
/// `AdministratorAccess`, an AWS managed policy's name, but not stand alone).
fn assert_no_leak(what: &str, out: &str, secrets: &BTreeSet<String>) {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
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
        event_time: Some("2026-11-21T08:00:00Z".into()),
        event_name: "PutKeyPolicy".into(),
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
