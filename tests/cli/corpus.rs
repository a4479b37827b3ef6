//! The evaluation corpus: every file under `tests/corpus/` holds cases that each cite the AWS
//! documentation page whose rule they check. A case names a policy (inline, or by name from the
//! file's `policies`), a request, and the expected decision — or the expected restorers,
//! orphaned principals or parse error.

use chrono::{DateTime, Utc};
use kms_doctor::policy::{
    Context, Identity, KeyPolicy, PUT_KEY_POLICY, evaluate_for, grantees, orphaned_principals,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(default)]
    about: String,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    policies: Map<String, Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Defaults {
    principal: Option<String>,
    action: Option<String>,
    key_arn: Option<String>,
    doc: Option<String>,
    /// A policy in which a case's `condition` becomes statement 0's `Condition`.
    condition_template: Option<String>,
    /// `key` (default), `identity` (no Principal) or `trust` (no Resource).
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    doc: Option<String>,
    policy: Option<Value>,
    condition: Option<Value>,
    principal: Option<String>,
    action: Option<String>,
    key_arn: Option<String>,
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    absent: Vec<String>,
    expect: Option<String>,
    unknown: Option<Vec<String>>,
    restorers: Option<Vec<String>>,
    orphans: Option<Vec<String>>,
    parse_error: Option<String>,
}

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn policy_text(file: &CorpusFile, case: &Case) -> Result<String, String> {
    if let Some(cond) = &case.condition {
        let name = file
            .defaults
            .condition_template
            .as_deref()
            .ok_or("no condition_template")?;
        let mut p = file.policies.get(name).cloned().ok_or("unknown template")?;
        p["Statement"][0]["Condition"] = cond.clone();
        return Ok(p.to_string());
    }
    match case.policy.as_ref().ok_or("case has no policy")? {
        Value::String(name) => file
            .policies
            .get(name)
            .map(|p| p.to_string())
            .ok_or_else(|| format!("unknown policy {name:?}")),
        other => Ok(other.to_string()),
    }
}

fn run_case(file: &CorpusFile, case: &Case) -> Result<(), String> {
    let text = policy_text(file, case)?;
    let parsed = match file.defaults.kind.as_deref() {
        Some("identity") => KeyPolicy::parse_identity(&text),
        Some("trust") => KeyPolicy::parse_trust(&text),
        _ => KeyPolicy::parse(&text),
    };
    if let Some(want) = &case.parse_error {
        return match parsed {
            Err(e) if e.to_string().contains(want.as_str()) => Ok(()),
            Err(e) => Err(format!("parse error {e:?} does not contain {want:?}")),
            Ok(_) => Err(format!("parsed, but expected an error containing {want:?}")),
        };
    }
    let policy = parsed.map_err(|e| format!("does not parse: {e}"))?;
    // An empty `key_arn` in a case means "not given", whatever the file's default.
    let key_arn = case
        .key_arn
        .clone()
        .or(file.defaults.key_arn.clone())
        .filter(|k| !k.is_empty());
    let mut context = Context::default();
    for (k, v) in &case.context {
        match v {
            Value::Array(items) => context.insert(k, items.iter().map(scalar).collect()),
            other => context.insert(k, vec![scalar(other)]),
        }
    }
    for k in &case.absent {
        context.mark_absent(k);
    }
    if let Some(want) = &case.restorers {
        let got: Vec<String> =
            grantees(&policy, PUT_KEY_POLICY, key_arn.as_deref(), &context, now())
                .into_iter()
                .map(|g| g.principal)
                .collect();
        if &got != want {
            return Err(format!("restorers {got:?}, expected {want:?}"));
        }
    }
    if let Some(want) = &case.orphans {
        let got: Vec<String> = orphaned_principals(&policy)
            .into_iter()
            .map(|o| o.unique_id)
            .collect();
        if &got != want {
            return Err(format!("orphans {got:?}, expected {want:?}"));
        }
    }
    if let Some(want) = &case.expect {
        let principal = case
            .principal
            .clone()
            .or(file.defaults.principal.clone())
            .ok_or("no principal")?;
        let action = case
            .action
            .clone()
            .or(file.defaults.action.clone())
            .ok_or("no action")?;
        let principal = Identity::parse(&principal).map_err(|e| e.to_string())?;
        let eval = evaluate_for(
            &policy,
            &principal,
            &action,
            key_arn.as_deref(),
            &context,
            now(),
        );
        if eval.decision.as_str() != want {
            let trace: Vec<String> = eval
                .statements
                .iter()
                .map(|t| format!("#{} {:?}: {}", t.index + 1, t.applies, t.reason))
                .collect();
            return Err(format!(
                "decision {}, expected {want}; trace: {trace:#?}",
                eval.decision.as_str()
            ));
        }
        if let Some(unknown) = &case.unknown
            && &eval.unknown_context != unknown
        {
            return Err(format!(
                "unknown context {:?}, expected {unknown:?}",
                eval.unknown_context
            ));
        }
    }
    if case.expect.is_none() && case.restorers.is_none() && case.orphans.is_none() {
        return Err("the case asserts nothing".into());
    }
    Ok(())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let file: CorpusFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !file.about.is_empty(),
            "{}: say what the file covers in `about`",
            path.display()
        );
        for case in &file.cases {
            total += 1;
            let doc = case
                .doc
                .as_deref()
                .or(file.defaults.doc.as_deref())
                .unwrap_or("");
            if !doc.starts_with("https://docs.aws.amazon.com/") {
                failures.push(format!(
                    "{} / {}: cites no AWS documentation page",
                    path.display(),
                    case.name
                ));
            }
            if let Err(e) = run_case(&file, case) {
                failures.push(format!(
                    "{} / {}: {e}",
                    path.file_name().unwrap().to_string_lossy(),
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 150,
        "the corpus has {total} cases; it should have at least 150"
    );
}
