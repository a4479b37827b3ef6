//! The import rule, enforced: a layer uses only the layers below it.
//!
//! ```text
//! cli → commands → evidence | diagnosis → policy
//!                  report   → diagnosis::model, policy
//! ```
//!
//! `evidence` and `report` may use `diagnosis::model` (the shared data: the evidence record,
//! findings, reports, and the `text!` macro that builds them), never the rules. Every path into
//! another layer is written `crate::layer::…` (checked here); `super::` never climbs out of a
//! layer.

use std::path::{Path, PathBuf};

/// What each layer may use, besides itself. `diagnosis::model` stands for that module alone.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &["commands", "report", "evidence", "diagnosis", "policy"],
    ),
    ("commands", &["report", "evidence", "diagnosis", "policy"]),
    ("evidence", &["diagnosis::model", "policy"]),
    ("diagnosis", &["policy"]),
    ("report", &["diagnosis::model", "policy"]),
    ("policy", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::a::b` → ("a", Some("b")); the `text!` macro lives in `diagnosis::model`.
fn targets(line: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let first = ident(tail);
        let after = &tail[first.len()..];
        let second = after.strip_prefix("::").map(ident);
        if first == "text" {
            out.push(("diagnosis".to_owned(), Some("model".to_owned())));
        } else if !first.is_empty() {
            out.push((first, second));
        } else if tail.starts_with('{') {
            out.push(("{".to_owned(), None));
        }
        rest = tail;
    }
    out
}

fn allowed(layer: &str, target: &str, sub: Option<&str>) -> bool {
    if target == layer {
        return true;
    }
    let rules = ALLOWED
        .iter()
        .find(|(l, _)| *l == layer)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("src/{layer} is not a known layer: add it to ALLOWED"));
    rules.iter().any(|r| match r.split_once("::") {
        Some((l, s)) => l == target && sub == Some(s),
        None => *r == target,
    })
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        if parts.len() < 2 {
            continue; // lib.rs and main.rs stand above the layers.
        }
        let layer = parts[0];
        // How many `super::` a top-level item of this file may climb and stay in its layer.
        let depth = parts.len() - 1 - usize::from(parts.last() == Some(&"mod.rs"));
        let climb_out = "super::".repeat(depth + 1);
        let text = std::fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (target, sub) in targets(code) {
                if target == "{" {
                    found.push(format!(
                        "{}:{}: `crate::{{…}}`: write one path per layer",
                        rel.display(),
                        n + 1
                    ));
                } else if !allowed(layer, &target, sub.as_deref()) {
                    found.push(format!(
                        "{}:{}: {layer} uses crate::{target}{}",
                        rel.display(),
                        n + 1,
                        sub.map(|s| format!("::{s}")).unwrap_or_default()
                    ));
                }
            }
            if !line.starts_with(' ') && code.contains(&climb_out) {
                found.push(format!(
                    "{}:{}: `super::` climbs out of {layer}",
                    rel.display(),
                    n + 1
                ));
            }
        }
    }
    found
}

#[test]
fn layers_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layer rule:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_catches_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("kms-doctor-layers-{}", std::process::id()));
    let policy = dir.join("policy");
    let report = dir.join("report");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::create_dir_all(&report).unwrap();
    std::fs::write(
        policy.join("eval.rs"),
        "use crate::diagnosis::model::Code;\n",
    )
    .unwrap();
    std::fs::write(
        report.join("x.rs"),
        "use crate::diagnosis::rules::live;\nuse super::super::cli;\nuse crate::diagnosis::model::Text;\n",
    )
    .unwrap();
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f.contains("policy uses crate::diagnosis::model"))
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("report uses crate::diagnosis::rules"))
    );
    assert!(found.iter().any(|f| f.contains("climbs out of report")));
}
