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
    files.extend(workflows(root));
    files.extend(templates(root));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not YAML GitHub can load: {e}", file.display()));
        assert_eq!(docs.len(), 1, "{}", file.display());
        assert!(!docs[0].is_null(), "{} is empty", file.display());
    }
}

/// The GitHub Actions workflows: this repository's, and the example users copy (deploy/).
fn workflows(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    yaml_files(&[
        root.join(".github/workflows"),
        root.join("deploy/github-actions"),
    ])
}

/// The CloudFormation templates under deploy/.
fn templates(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    yaml_files(&[root.join("deploy")])
}

fn yaml_files(dirs: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().flatten().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

/// YAML as the JSON value GitHub's loaders see (keys as strings).
fn yaml_to_json(y: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Hash(h) => serde_json::Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Array(a) => serde_json::Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::String(s) => serde_json::Value::from(s.as_str()),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .map_or(serde_json::Value::Null, serde_json::Value::from),
        Yaml::Boolean(b) => serde_json::Value::from(*b),
        _ => serde_json::Value::Null,
    }
}

fn load_yaml(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    yaml_to_json(&docs[0])
}

fn schema_problems(schema: &str, doc: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// action.yml against GitHub's action metadata schema, and the workflows against the workflow
/// schema (SchemaStore's, in tests/data): what GitHub loads must be what it accepts. The
/// validator can fail: an Action without `runs` is refused.
#[test]
fn the_action_and_the_workflows_match_github_s_schemas() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let action_schema = include_str!("../data/github-action.schema.json");
    let action = load_yaml(&root.join("action.yml"));
    let problems = schema_problems(action_schema, &action);
    assert!(problems.is_empty(), "action.yml: {problems:#?}");
    let mut broken = action.clone();
    broken.as_object_mut().unwrap().remove("runs");
    assert!(!schema_problems(action_schema, &broken).is_empty());
    let workflow_schema = include_str!("../data/github-workflow.schema.json");
    let mut seen = 0;
    for path in workflows(root) {
        let problems = schema_problems(workflow_schema, &load_yaml(&path));
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
        seen += 1;
    }
    assert!(seen >= 3, "{seen} workflows");
}

/// The pre-commit hook's manifest: each hook has what pre-commit requires, and its entry ends
/// with `--`, so a staged file whose name starts with `-` is a path, never an option.
#[test]
fn the_pre_commit_hook_passes_files_after_a_double_dash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let hooks = load_yaml(&root.join(".pre-commit-hooks.yaml"));
    let hooks = hooks.as_array().expect("a list of hooks");
    assert!(!hooks.is_empty());
    for hook in hooks {
        for field in ["id", "name", "entry", "language"] {
            assert!(hook[field].is_string(), "{field} in {hook}");
        }
        let entry = hook["entry"].as_str().unwrap();
        assert!(entry.ends_with(" --"), "{entry}");
    }
}

/// The organisation scan's state machine (deploy/org-scan.yaml), its substitutions made as
/// CloudFormation makes them: JSON Step Functions can load, every transition to a state of its
/// level, each shard told `I/N` of the template's count, the merge last.
#[test]
fn the_org_scan_state_machine_is_a_valid_definition() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = load_yaml(&root.join("deploy/org-scan.yaml"));
    let machine = &template["Resources"]["OrgScan"]["Properties"];
    let mut text = machine["DefinitionString"].as_str().unwrap().to_owned();
    let substitutions = machine["DefinitionSubstitutions"].as_object().unwrap();
    for (name, value) in [
        ("Cluster", "arn:aws:ecs:us-east-1:111122223333:cluster/c"),
        (
            "TaskDefinition",
            "arn:aws:ecs:us-east-1:111122223333:task-definition/t:1",
        ),
        ("ShardCount", "8"),
        ("Subnets", "subnet-1\",\"subnet-2"),
        ("SecurityGroups", "sg-1"),
        ("AssignPublicIp", "DISABLED"),
    ] {
        assert!(substitutions.contains_key(name), "{name} is substituted");
        text = text.replace(&format!("${{{name}}}"), value);
    }
    assert!(
        !text.contains("${"),
        "every placeholder is substituted: {text}"
    );
    let definition: Value = serde_json::from_str(&text).expect("the definition is JSON");
    fn check(level: &Value) {
        let states = level["States"].as_object().unwrap();
        assert!(states.contains_key(level["StartAt"].as_str().unwrap()));
        for (name, state) in states {
            let mut targets: Vec<&str> = state["Next"].as_str().into_iter().collect();
            targets.extend(state["Default"].as_str());
            for c in state["Choices"].as_array().into_iter().flatten() {
                targets.extend(c["Next"].as_str());
            }
            for t in targets {
                assert!(states.contains_key(t), "{name} goes to {t}, not a state");
            }
            let ends = state["End"] == true
                || matches!(state["Type"].as_str(), Some("Succeed" | "Fail" | "Choice"));
            assert!(ends || state["Next"].is_string(), "{name} leads nowhere");
            if let Some(inner) = state.get("ItemProcessor") {
                check(inner);
            }
        }
    }
    check(&definition);
    let shard = &definition["States"]["ScanShards"]["ItemProcessor"]["States"]["ScanShard"];
    assert_eq!(
        shard["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"][0]["Value.$"],
        "States.Format('{}/8', $.index)"
    );
    assert_eq!(definition["States"]["ScanShards"]["Next"], "Merge");
}

/// cfn-lint, as CloudFormation users run it, finds nothing in the templates under deploy/ and
/// does find a task definition without its containers (scripts/test.sh installs it with moto).
#[test]
#[ignore = "needs cfn-lint (scripts/test.sh installs it)"]
fn the_deployment_templates_pass_cfn_lint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfn_lint = std::env::var_os("KMS_DOCTOR_CFN_LINT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/cfn-lint"));
    let lint = |path: &std::path::Path| {
        std::process::Command::new(&cfn_lint)
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", cfn_lint.display()))
    };
    let files = templates(root);
    assert!(!files.is_empty());
    for file in &files {
        let o = lint(file);
        assert!(
            o.status.success(),
            "{}: {}{}",
            file.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let broken = crate::support::cli::fresh_dir("cfn-lint").join("broken.yaml");
    let text = std::fs::read_to_string(root.join("deploy/org-scan.yaml")).unwrap();
    std::fs::write(
        &broken,
        text.replace("      ContainerDefinitions:", "      Unknown:"),
    )
    .unwrap();
    assert!(!lint(&broken).status.success(), "cfn-lint can fail");
}
