//! What the documentation tells users to grant: every IAM policy the README and `docs/` show
//! allows only actions kms-doctor calls (`Operation::ALL`, every one read-only), so a copied
//! policy can never grant a write.

use kms_doctor::diagnosis::model::Operation;
use serde_json::Value;

/// The actions of every JSON policy document among the fenced blocks of `markdown`.
fn granted(markdown: &str) -> Vec<String> {
    let blocks = crate::support::markdown::render(markdown).blocks;
    let mut actions = Vec::new();
    for block in blocks {
        let Ok(doc) = serde_json::from_str::<Value>(&block) else {
            continue;
        };
        let Some(statements) = doc.get("Statement").and_then(Value::as_array) else {
            continue;
        };
        for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
            match &s["Action"] {
                Value::String(a) => actions.push(a.clone()),
                Value::Array(list) => {
                    actions.extend(list.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
    }
    actions
}

#[test]
fn the_documented_iam_policies_grant_only_what_kms_doctor_calls() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let known: Vec<String> = Operation::ALL
        .iter()
        .map(|(s, o)| Operation::iam_action(s, o))
        .collect();
    let mut files = vec![root.join("README.md")];
    files.extend(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    let mut seen = 0;
    for file in files {
        for action in granted(&std::fs::read_to_string(&file).unwrap()) {
            assert!(
                known.contains(&action),
                "{}: grants {action}, which kms-doctor never calls",
                file.display()
            );
            seen += 1;
        }
    }
    // The README's diagnose and scan policies, at least: a parser that found none proves nothing.
    assert!(seen >= 20, "only {seen} actions found");
}

/// The files GitHub and pre-commit load are YAML they can load: parsed here, not read as text
/// (a `: ` in a plain scalar made GitHub refuse the whole Action).
#[test]
fn the_files_github_and_pre_commit_load_parse_as_yaml() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("action.yml"), root.join(".pre-commit-hooks.yaml")];
    files.extend(
        std::fs::read_dir(root.join(".github/workflows"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml")),
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not YAML GitHub can load: {e}", file.display()));
        assert_eq!(docs.len(), 1, "{}", file.display());
        assert!(!docs[0].is_null(), "{} is empty", file.display());
    }
}
