//! What the SARIF 2.1.0 logs of `scan` and `check` share: the tool, a rule per finding code
//! used, the levels.

use crate::diagnosis::model::{Code, Severity};
use serde_json::{Value, json};

/// Where the finding codes are documented, for the rules' help: an address that resolves
/// wherever the SARIF is shown (a relative path would resolve in the user's repository).
pub const DIAGNOSTICS_DOC: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/diagnostics.md"
);

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The codes used, each once, in a stable order: a result's `ruleIndex` is its place here.
pub fn codes_used(codes: impl Iterator<Item = Code>) -> Vec<Code> {
    let mut used: Vec<Code> = codes.collect();
    used.sort();
    used.dedup();
    used
}

/// A rule per code: its meaning, help pointing to the documentation, its default level.
pub fn rules(used: &[Code]) -> Vec<Value> {
    used.iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "shortDescription": {"text": c.meaning()},
                "helpUri": format!("{DIAGNOSTICS_DOC}#{}", c.as_str()),
                "help": {
                    "text": format!("{} See {DIAGNOSTICS_DOC}, section {}.", c.meaning(), c.as_str()),
                    "markdown": format!("{} See [`{}`]({DIAGNOSTICS_DOC}#{}).", c.meaning(), c.as_str(), c.as_str())
                },
                "defaultConfiguration": {"level": level(c.severity())},
                "properties": {"tags": ["kms", "security", "lockout"]}
            })
        })
        .collect()
}

/// The whole log: one run of kms-doctor.
pub fn log(used: &[Code], results: Vec<Value>, invocations: Option<Value>) -> Value {
    let mut run = json!({
        "tool": {"driver": {
            "name": "kms-doctor",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules(used)
        }},
        "results": results
    });
    if let Some(i) = invocations {
        run["invocations"] = json!([i]);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run]
    })
}
