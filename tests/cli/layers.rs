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

use std::collections::{BTreeMap, BTreeSet};
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

/// The module a file is: `evidence/sources/archive.rs` → `[evidence, sources, archive]`.
fn module_path(parts: &[&str]) -> Vec<String> {
    let mut path: Vec<String> = parts
        .iter()
        .map(|p| p.trim_end_matches(".rs").to_owned())
        .collect();
    if path.last().is_some_and(|p| p == "mod") {
        path.pop();
    }
    path
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The modules of its own layer that a line of `module` names (`crate::layer::x`, or
/// `super::…::x` that resolves into the layer), as the layer's direct children.
fn sibling_targets(module: &[String], code: &str) -> Vec<String> {
    let layer = &module[0];
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        if ident(tail) == *layer
            && let Some(after) = tail[layer.len()..].strip_prefix("::")
        {
            out.push(ident(after));
        }
        rest = tail;
    }
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        // Only where the `super::` chain starts: not inside `super::super::`.
        let starts = i < 2 || !rest[..i].ends_with("::");
        let mut tail = &rest[i..];
        let mut climbs = 0;
        while let Some(t) = tail.strip_prefix("super::") {
            climbs += 1;
            tail = t;
        }
        if starts && climbs < module.len() {
            let mut resolved: Vec<String> = module[..module.len() - climbs].to_vec();
            resolved.push(ident(tail));
            if resolved.len() >= 2 {
                out.push(resolved[1].clone());
            }
        }
        rest = &rest[i + "super::".len()..];
    }
    out.retain(|t| !t.is_empty() && Some(t) != module.get(1));
    out
}

/// Cycles among the modules of one layer (`evidence::sources` ↔ `evidence::walk`): a layer's
/// modules form layers of their own. The layer's `mod.rs` stands above its modules.
fn module_cycles(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut known: BTreeSet<(String, String)> = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let module = module_path(&parts);
        if module.len() < 2 {
            continue;
        }
        let from = (module[0].clone(), module[1].clone());
        known.insert(from.clone());
        let text = std::fs::read_to_string(&file).expect("readable");
        let mut in_tests = false;
        for line in text.lines() {
            // What a module's own tests use is not part of its place among the others.
            if line.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                continue;
            }
            let code = line.split("//").next().unwrap_or("");
            for target in sibling_targets(&module, code) {
                edges.entry(from.clone()).or_default().insert(target);
            }
        }
    }
    let mut found = Vec::new();
    for (layer, start) in &known {
        // A path back to `start` from one of its targets.
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("never empty").clone();
            for next in edges
                .get(&(layer.clone(), last))
                .into_iter()
                .flatten()
                .filter(|n| known.contains(&(layer.clone(), (*n).clone())))
            {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(next.clone());
                    found.push(format!("{layer}: {}", cycle.join(" → ")));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_module_cycles_inside_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = module_cycles(&src);
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_check_catches_a_cycle() {
    let dir = std::env::temp_dir().join(format!("kms-doctor-cycles-{}", std::process::id()));
    let sources = dir.join("evidence/sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("archive.rs"),
        "fn f() { crate::evidence::walk::regular_files(); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("evidence/walk.rs"), "use super::sources::MAX;\n").unwrap();
    std::fs::write(dir.join("evidence/key.rs"), "use super::walk::X;\n").unwrap();
    let found = module_cycles(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        found.iter().any(|c| c.contains("sources → walk → sources")),
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|c| c.contains("key")),
        "key only uses walk: {found:#?}"
    );
}
