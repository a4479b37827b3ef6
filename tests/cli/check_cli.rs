//! `kms-doctor check` end to end, over the fixtures in `tests/iac/`: CloudFormation in YAML
//! (short forms) and JSON (long forms), CDK output, Terraform plans with before and after, bare
//! policies, and malformed inputs.

use crate::support::cli::{assert_exit, kms_doctor, stdout};
use serde_json::Value;

const A: &str = "111122223333";

fn check(args: &[&str]) -> std::process::Output {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    kms_doctor(&all)
}

fn json(args: &[&str]) -> (Value, i32) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let o = check(&all);
    let v = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (v, o.status.code().unwrap())
}

/// (resource, code, line) for every finding of a file.
fn findings<'a>(report: &'a Value, path: &str) -> Vec<(&'a str, &'a str, Option<u64>)> {
    let file = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(path))
        .unwrap_or_else(|| panic!("no {path} in {report:#}"));
    file["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["findings"].as_array().unwrap().iter().map(move |f| {
                (
                    r["name"].as_str().unwrap(),
                    f["code"].as_str().unwrap(),
                    f["line"].as_u64(),
                )
            })
        })
        .collect()
}

/// Why the first file could not be read.
fn first_error(r: &Value) -> &str {
    r["files"][0]["error"].as_str().unwrap_or_default()
}

#[test]
fn cloudformation_yaml_with_short_forms() {
    let (r, code) = json(&["tests/iac/cfn/locked-out.yaml", "--account", A]);
    assert_eq!(code, 1);
    assert_eq!(r["files"][0]["kind"], "cloudformation");
    let got = findings(&r, "locked-out.yaml");
    for want in [
        ("PaymentsKey", "no-restorer", Some(21)),
        ("PaymentsKey", "not-principal-misses-sessions", Some(29)),
        ("PaymentsKey", "lockout-check-bypassed", Some(19)),
        ("PaymentsKey", "no-account-delegation", Some(21)),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    // !GetAtt AdminRole.Arn: a role the stack creates, named by its logical ID, and said so.
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        text.contains("arn:aws:iam::111122223333:role/AdminRole"),
        "{text}"
    );
    assert!(text.contains("the name CloudFormation generates"));
}

#[test]
fn intrinsics_conditions_mappings_and_imports_resolve() {
    let (r, code) = json(&["tests/iac/cfn/healthy.yaml", "--account", A]);
    assert_eq!(code, 0, "{r:#}");
    let got = findings(&r, "healthy.yaml");
    // Only the import cannot be known.
    assert_eq!(
        got,
        [("OrdersKey", "evidence-incomplete", Some(29))],
        "{r:#}"
    );
    let detail = r["files"][0]["resources"][0]["findings"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("Fn::ImportValue SharedServicesRoleArn"),
        "{detail}"
    );
    assert_eq!(r["files"][0]["resources"][1]["name"], "OrdersReplica");
    assert_eq!(r["summary"]["resources"], 2);
}

#[test]
fn cloudformation_json_long_forms_and_cdk_output() {
    let (r, code) = json(&[
        "tests/iac/cfn/open.json",
        "tests/iac/cdk.out",
        "--account",
        A,
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&r, "open.json"),
        [
            ("SharedKey", "policy-update-open", Some(17)),
            ("SharedKey", "orphaned-principal", Some(24)),
        ]
    );
    assert_eq!(findings(&r, "AppStack.template.json"), []);
    assert_eq!(r["files"][1]["resources"][0]["name"], "DataKey7A3D2C11");
}

#[test]
fn terraform_plans_compare_before_and_after() {
    let (r, code) = json(&["tests/iac/tf/plan.json"]);
    assert_eq!(code, 0, "warnings only");
    assert_eq!(r["files"][0]["kind"], "terraform-plan");
    let got = findings(&r, "plan.json");
    for want in [
        ("aws_kms_key.payments", "restorer-removed", None),
        ("aws_kms_key.payments", "single-restorer", None),
        ("aws_kms_key_policy.ledger", "lockout-check-bypassed", None),
        ("aws_kms_key.computed", "evidence-incomplete", None),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    assert!(
        !got.iter().any(|(name, _, _)| name.contains("replica")),
        "the replica delegates: {got:?}"
    );
    let names: Vec<&str> = r["files"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"aws_s3_bucket.logs"));
    // The account comes from the plan's own ARNs.
    assert!(
        serde_json::to_string(&r)
            .unwrap()
            .contains("arn:aws:iam::111122223333:root")
    );
    let (r, _) = json(&["tests/iac/tf/plan.json", "--fail-on", "warning"]);
    assert!(r["summary"]["warnings"].as_u64().unwrap() >= 3);
    assert_exit(
        &check(&["tests/iac/tf/plan.json", "--fail-on", "warning"]),
        1,
    );
}

#[test]
fn malformed_inputs_say_where_and_only_they_make_status_2() {
    let (r, code) = json(&[
        "tests/iac/broken",
        "tests/iac/tf",
        "tests/iac/policies/key-policy.json",
    ]);
    assert_eq!(code, 2);
    let error = |path: &str| {
        r["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(path))
            .map(|f| {
                (
                    f["error"].as_str().unwrap_or("").to_owned(),
                    f["error_location"].clone(),
                )
            })
            .unwrap()
    };
    let (bad, at) = error("bad.yaml");
    assert!(bad.contains("not well-formed YAML"), "{bad}");
    assert_eq!(at["line"], 7);
    let (tag, at) = error("unknown-tag.yaml");
    assert!(tag.contains("!Frobnicate"), "{tag}");
    assert_eq!(at["line"], 10);
    // A key given twice: parsers disagree on which counts, so the file is refused (cfn-lint
    // does too), at the second key, naming the first.
    let (twice, at) = error("duplicate-keypolicy.yaml");
    assert!(
        twice.contains("duplicate key \"KeyPolicy\" (first at line 7"),
        "{twice}"
    );
    assert_eq!(at["line"], 15);
    let (twice, at) = error("duplicate-statement.json");
    assert!(twice.contains("duplicate key \"Statement\""), "{twice}");
    assert_eq!(
        (at["line"].as_u64(), at["column"].as_u64()),
        (Some(7), Some(3))
    );
    let (v2, at) = error("plan-v2.json");
    assert!(v2.contains("format version \"2.0\""), "{v2}");
    assert_eq!(at["line"], 2);
    // The readable files are still checked.
    assert!(!findings(&r, "plan.json").is_empty());
    assert!(!findings(&r, "key-policy.json").is_empty());
    assert_eq!(r["summary"]["unreadable"], 5);
}

#[test]
fn walks_skip_what_is_not_ours_but_named_files_must_be() {
    // Nothing to check is a mistake unless said to be fine.
    let o = check(&["tests/iac/other"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--allow-empty"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (r, code) = json(&["tests/iac/other", "--allow-empty"]);
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["files"], 0);
    let (r, code) = json(&["tests/iac/other/package.json"]);
    assert_eq!(code, 2);
    assert!(first_error(&r).contains("not a key policy"), "{r:#}");
    let (r, code) = json(&["tests/iac/does-not-exist.yaml"]);
    assert_eq!(code, 2);
    assert!(first_error(&r).contains("cannot read it"), "{r:#}");
}

#[test]
fn patterns_match_under_their_directory() {
    let (r, _) = json(&["tests/iac/**/*.yaml"]);
    let paths: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().all(|p| p.ends_with(".yaml")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("healthy.yaml")));
    let (r, code) = json(&["tests/iac/**/*.nothing"]);
    assert_eq!(code, 2);
    assert!(first_error(&r).contains("no file matches"), "{r:#}");
}

#[test]
fn the_deployer_kept_principals_and_the_old_policy() {
    let deployer = format!("arn:aws:iam::{A}:role/ci-deploy");
    let keep = format!("arn:aws:iam::{A}:role/BreakGlass");
    let (r, code) = json(&[
        "tests/iac/policies/key-policy.json",
        "--deployer",
        &deployer,
        "--keep",
        &keep,
        "--keep",
        &format!("arn:aws:iam::{A}:role/KeyAdmin"),
        "--against",
        "tests/iac/policies/old-key-policy.json",
    ]);
    assert_eq!(code, 1);
    let got: Vec<&str> = findings(&r, "key-policy.json")
        .iter()
        .map(|f| f.1)
        .collect();
    assert!(got.contains(&"deployer-loses-access"), "{got:?}");
    assert_eq!(
        got.iter()
            .filter(|c| **c == "kept-principal-loses-access")
            .count(),
        1,
        "BreakGlass loses it, KeyAdmin keeps it: {got:?}"
    );
    assert!(got.contains(&"restorer-removed"), "{got:?}");
    // The old policy delegated: with it the deployer keeps access.
    let (r, code) = json(&[
        "tests/iac/policies/old-key-policy.json",
        "--deployer",
        &deployer,
    ]);
    assert_eq!(code, 0, "{r:#}");
    // --against must be a policy (or an old template).
    let o = check(&[
        "tests/iac/policies/key-policy.json",
        "--against",
        "tests/iac/tf/plan.json",
    ]);
    assert_exit(&o, 2);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("neither a key policy file nor a CloudFormation template")
    );
}

#[test]
fn text_reads_like_a_compiler() {
    let o = check(&[
        "tests/iac/cfn/open.json",
        "--account",
        A,
        "--format",
        "text",
    ]);
    let text = stdout(&o);
    assert!(
        text.starts_with("tests/iac/cfn/open.json:17:13: error[policy-update-open]: Statement \"Anyone may administer\" lets everyone change the key policy\n"),
        "{text}"
    );
    assert!(text.contains("  --> SharedKey (AWS::KMS::Key)"));
    assert!(text.contains("  = help: "));
    assert!(
        text.trim_end()
            .ends_with("1 file checked, 1 key resource: 1 error, 1 warning")
    );
}

#[test]
fn github_annotations() {
    let o = check(&[
        "tests/iac/cfn/open.json",
        "tests/iac/tf/plan.json",
        "tests/iac/broken/bad.yaml",
        "--account",
        A,
        "--format",
        "github",
    ]);
    assert_exit(&o, 2);
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn sarif_is_valid_and_points_at_lines() {
    let o = check(&["tests/iac", "--account", A, "--format", "sarif"]);
    assert_exit(&o, 2);
    let sarif: Value = serde_json::from_str(&stdout(&o)).unwrap();
    crate::support::cli::assert_valid_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let open = results
        .iter()
        .find(|r| r["ruleId"] == "policy-update-open")
        .unwrap();
    let physical = &open["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "tests/iac/cfn/open.json"
    );
    assert_eq!(physical["region"]["startLine"], 17);
    let rule =
        &sarif["runs"][0]["tool"]["driver"]["rules"][open["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["id"], "policy-update-open");
    // A link that resolves wherever the SARIF is shown, not in the user's repository.
    assert_eq!(
        rule["helpUri"],
        format!(
            "{}/blob/main/docs/diagnostics.md#policy-update-open",
            env!("CARGO_PKG_REPOSITORY")
        )
    );
    assert!(
        rule["help"]["text"]
            .as_str()
            .unwrap()
            .contains("docs/diagnostics.md")
    );
    let notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 5, "the five unreadable files");
}

#[test]
fn explain_points_templates_and_plans_to_check() {
    for (path, kind) in [
        ("tests/iac/cfn/healthy.yaml", "a CloudFormation template"),
        ("tests/iac/tf/plan.json", "a Terraform plan"),
    ] {
        let o = kms_doctor(&["explain", "--policy", path]);
        assert_exit(&o, 2);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(kind) && err.contains("kms-doctor check"),
            "{err}"
        );
    }
}

#[test]
fn markdown_keeps_untrusted_text_inert() {
    let dir = crate::support::cli::fresh_dir("check-md");
    let path = dir.join("hostile.json");
    std::fs::write(
        &path,
        serde_json::json!({"Statement": [{"Sid": "x|`<img src=x>` [link](http://e)\u{202e}\n::error::injected", "Effect": "Allow",
            "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}]})
        .to_string(),
    )
    .unwrap();
    let o = check(&[path.to_str().unwrap(), "--format", "markdown"]);
    let md = stdout(&o);
    let rendered = crate::support::markdown::render(&md);
    assert!(rendered.markup.is_empty(), "{:?}\n{md}", rendered.markup);
    assert!(
        rendered.tables[0].iter().all(|row| row.len() == 5),
        "{:?}",
        rendered.tables
    );
    let github = stdout(&check(&[path.to_str().unwrap(), "--format", "github"]));
    assert_eq!(
        github.lines().count(),
        2,
        "two findings, no injected command: {github}"
    );
    assert!(
        github
            .lines()
            .all(|l| l.starts_with("::error file=") || l.starts_with("::warning file="))
    );
    assert!(!github.contains('\u{202e}'));
    // The line break is percent-encoded as the runner decodes it, not shown as `\n`.
    assert!(github.contains("%0A::error::injected"), "{github}");
}

#[test]
fn hooks_may_pass_every_changed_file() {
    let o = check(&[
        "tests/iac/other/package.json",
        "tests/iac/other/workflow.yml",
        "tests/iac/cfn/open.json",
        "--ignore-unknown",
        "--format",
        "json",
    ]);
    assert_exit(&o, 1);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["summary"]["files"], 1, "{r:#}");
}

/// `--scp`: an allow-list without kms holds every restorer of a healthy template, and
/// no-restorer then points to the organisation's administrators before AWS Support.
#[test]
fn an_scp_allow_list_holds_every_restorer() {
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "tests/iac/cfn/healthy.yaml", "--format", "json"];
        args.extend_from_slice(extra);
        kms_doctor(&args)
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let o = run(&["--scp", "tests/org/scp-allow-list-without-kms.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings: Vec<&Value> = v["files"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .collect();
    let no_restorer = findings
        .iter()
        .find(|f| f["code"] == "no-restorer")
        .expect("no-restorer");
    assert!(
        no_restorer["help"]
            .as_str()
            .unwrap()
            .contains("organisation's administrators"),
        "{no_restorer}"
    );
    // A file that is not a policy is a usage error, named, before anything is checked.
    let o = run(&["--scp", "tests/iac/cfn/healthy.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a valid service control policy"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A key whose only administrator is another account: `PutKeyPolicy` never works across
/// accounts, so with the key's account given nobody can restore it. Without it, the account is
/// only a guess from the policy's ARNs, and nothing is claimed.
#[test]
fn an_administrator_in_another_account_only_is_no_restorer() {
    let path = "tests/iac/policies/other-account-admin.json";
    let o = kms_doctor(&[
        "check",
        path,
        "--account",
        "111122223333",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> = v["files"][0]["resources"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"no-restorer"), "{codes:?}");
    let o = kms_doctor(&["check", path, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn piped_output_is_text_and_an_unreadable_file_is_said_on_standard_error() {
    // `kms-doctor check infra | cat` in a CI log: for a person, like cfn-lint and checkov.
    let o = check(&["tests/iac/cfn/locked-out.yaml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.trim_start().starts_with('{'), "{out}");
    assert!(out.contains("no-restorer"), "{out}");
    // An error reaches standard error whatever the format, the file's place with it.
    for format in ["text", "json"] {
        let o = check(&["tests/iac/broken/bad.yaml", "--format", format]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("cannot check tests/iac/broken/bad.yaml:7:"),
            "{format}: {err}"
        );
    }
}

/// A finding of `report`, by resource and code.
fn finding<'a>(report: &'a Value, resource: &str, code: &str) -> &'a Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["resources"].as_array().unwrap())
        .filter(|r| r["name"] == resource)
        .flat_map(|r| r["findings"].as_array().unwrap())
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} on {resource}: {report:#}"))
}

#[test]
fn findings_accepted_in_the_template_stay_in_json_and_sarif_and_do_not_count() {
    let path = "tests/iac/suppress/accepted.yaml";
    let (r, code) = json(&[path, "--fail-on", "warning"]);
    assert_eq!(code, 0, "every finding is accepted: {r:#}");
    assert_eq!(r["summary"]["suppressed"], 4);
    assert_eq!(r["summary"]["warnings"], 0);
    // Metadata on the resource, as cfn-lint's.
    let metadata = finding(&r, "LegacyKey", "single-restorer");
    assert_eq!(metadata["suppressed"]["kind"], "inline");
    assert_eq!(
        metadata["suppressed"]["reason"],
        "the break-glass role is managed by the platform team"
    );
    // A comment on the line above the resource.
    let comment = finding(&r, "ArchiveKey", "no-account-delegation");
    assert_eq!(comment["suppressed"]["reason"], "archived; deleted in Q1");
    // SARIF's suppressions, so that code scanning shows them as dismissed, not gone.
    let o = check(&[path, "--format", "sarif"]);
    let sarif: Value = serde_json::from_str(&stdout(&o)).unwrap();
    crate::support::cli::assert_valid_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for result in results {
        assert_eq!(result["suppressions"][0]["kind"], "inSource", "{result:#}");
        assert!(result["suppressions"][0]["justification"].is_string());
    }
    // People see the count, not the accepted findings.
    let text = stdout(&check(&[path]));
    assert!(text.contains("4 accepted"), "{text}");
    assert!(!text.contains("single-restorer"), "{text}");
}

#[test]
fn a_suppression_without_a_reason_or_with_an_unknown_code_is_refused() {
    let dir = crate::support::cli::fresh_dir("suppress-reason");
    let template = std::fs::read_to_string("tests/iac/suppress/accepted.yaml").unwrap();
    for (name, edit) in [
        (
            "no-reason.yaml",
            template.replace(
                "ignore=single-restorer,no-account-delegation archived; deleted in Q1",
                "ignore=single-restorer",
            ),
        ),
        (
            "unknown-code.yaml",
            template.replace("code: single-restorer", "code: single-admin"),
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, edit).unwrap();
        let (r, code) = json(&[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {r:#}");
        let error = r["files"][0]["error"].as_str().unwrap();
        assert!(
            error.contains("needs a reason") || error.contains("not a kms-doctor finding code"),
            "{name}: {error}"
        );
    }
}

#[test]
fn the_configuration_file_is_found_upward_and_applies_by_path_and_resource() {
    let dir = crate::support::cli::fresh_dir("suppress-config");
    let nested = dir.join("infra/legacy");
    std::fs::create_dir_all(&nested).unwrap();
    // The repository's root: the search goes no higher.
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::copy(
        "tests/iac/policies/key-policy.json",
        nested.join("key.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".kms-doctor.toml"),
        r#"
[check]
fail_on = "warning"

[[check.ignore]]
code = "single-restorer"
paths = ["*/infra/legacy/*"]
reason = "legacy keys keep their one administrator until Q1"
"#,
    )
    .unwrap();
    let path = nested.join("key.json");
    let (r, code) = json(&[path.to_str().unwrap()]);
    // fail_on = "warning" from the file: the delegation warning still counts.
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(
        finding(&r, "key.json", "single-restorer")["suppressed"]["kind"],
        "config"
    );
    assert!(finding(&r, "key.json", "no-account-delegation")["suppressed"].is_null());
    // The report names the configuration it used.
    let config_used = r["config"].as_str().unwrap();
    assert!(config_used.ends_with(".kms-doctor.toml"), "{config_used}");
    assert!(stdout(&check(&[path.to_str().unwrap()])).contains("Configuration: "));
    // The command line wins over the file.
    let (_, code) = json(&[path.to_str().unwrap(), "--fail-on", "error"]);
    assert_eq!(code, 0);
    // An ignore without a reason makes the file unusable: exit 2, said on stderr.
    std::fs::write(
        dir.join(".kms-doctor.toml"),
        "[[check.ignore]]\ncode = \"single-restorer\"\n",
    )
    .unwrap();
    let o = check(&[path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a reason"));
}

/// A configuration another user could have planted is not used: one above the repository
/// root (or above the checked directory outside a repository), one in a directory others can
/// write to (said on stderr); an entry that names nothing is refused.
#[test]
fn a_configuration_a_stranger_controls_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = crate::support::cli::fresh_dir("config-trust");
    let accept_all = "[[check.ignore]]\ncode = \"single-restorer\"\nreason = \"planted\"\n[[check.ignore]]\ncode = \"no-account-delegation\"\nreason = \"planted\"\n[check]\n";
    let accept_all = accept_all.replace("[check]\n", "");
    // Planted in a shared parent: the checked directory is no repository, and the search
    // stays in it.
    let repo = dir.join("work");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy("tests/iac/policies/key-policy.json", repo.join("key.json")).unwrap();
    std::fs::write(dir.join(".kms-doctor.toml"), &accept_all).unwrap();
    let key = repo.join("key.json");
    let args = [key.to_str().unwrap(), "--fail-on", "warning"];
    let (r, code) = json(&args);
    assert_eq!(code, 1, "the planted file was used: {r:#}");
    assert!(r.get("config").is_none(), "{r:#}");
    // In a directory others can write to: passed over, and said.
    std::fs::write(repo.join(".kms-doctor.toml"), &accept_all).unwrap();
    std::fs::set_permissions(&repo, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = check(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not using") && err.contains("writable by others"),
        "{err}"
    );
    // The user's own directory: used.
    std::fs::set_permissions(&repo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (r, code) = json(&args);
    assert_eq!(code, 0, "{r:#}");
    // An entry that names no code, path or resource would accept everything: refused.
    std::fs::write(
        repo.join(".kms-doctor.toml"),
        "[[check.ignore]]\nreason = \"everything\"\n",
    )
    .unwrap();
    let o = check(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("names no code, path or resource"));
}

/// `# kms-doctor:ignore=` counts only as a YAML comment within the key's own resource (or on
/// the line above it): never inside a string (a Sid), never in JSON, never in another resource.
#[test]
fn an_ignore_marker_counts_only_as_a_comment_of_the_key_s_own_lines() {
    let dir = crate::support::cli::fresh_dir("marker-forged");
    let template = std::fs::read_to_string("tests/iac/suppress/accepted.yaml").unwrap();
    let plain = template.replace(
        "  # kms-doctor:ignore=single-restorer,no-account-delegation archived; deleted in Q1\n",
        "",
    );
    let in_sid = plain.replace(
        "          - Sid: Archivist",
        "          - Sid: \"Archivist # kms-doctor:ignore=single-restorer,no-account-delegation forged\"",
    );
    let in_block = plain.replace(
        "          - Sid: Archivist",
        "          - Sid: |\n              Archivist\n              # kms-doctor:ignore=single-restorer,no-account-delegation forged",
    );
    let in_other = format!(
        "{plain}  Unrelated:\n    Type: AWS::SNS::Topic\n    # kms-doctor:ignore=single-restorer,no-account-delegation forged\n    Properties: {{}}\n"
    );
    let counted = |name: &str, text: &str| -> (Value, i32) {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        json(&[path.to_str().unwrap(), "--fail-on", "warning"])
    };
    for (name, text) in [("in-sid.yaml", &in_sid), ("in-block.yaml", &in_block)] {
        let (r, code) = counted(name, text);
        assert_eq!(code, 1, "{name}: {r:#}");
        assert!(
            finding(&r, "ArchiveKey", "single-restorer")["suppressed"].is_null(),
            "{name}"
        );
    }
    // A comment in another resource is no key's: the file is refused, nothing accepted.
    let (r, code) = counted("in-other.yaml", &in_other);
    assert_eq!(code, 2, "{r:#}");
    assert!(
        r["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not inside a key resource")
    );
    // JSON has no comments: a Sid that looks like one is a Sid.
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "x\n# kms-doctor:ignore=single-restorer,no-account-delegation forged",
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
        "Action": "kms:*", "Resource": "*"}]});
    let (r, code) = counted(
        "forged.json",
        &serde_json::to_string_pretty(&policy).unwrap(),
    );
    assert_eq!(code, 1, "{r:#}");
    // The marker still works where it belongs.
    let (r, code) = counted("accepted.yaml", &template);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        finding(&r, "ArchiveKey", "single-restorer")["suppressed"]["kind"],
        "inline"
    );
}

#[test]
fn a_baseline_hides_known_findings_and_survives_lines_moving() {
    let dir = crate::support::cli::fresh_dir("baseline");
    let template = dir.join("locked-out.yaml");
    std::fs::copy("tests/iac/cfn/locked-out.yaml", &template).unwrap();
    let baseline = dir.join("baseline.json");
    let (before, code) = json(&[
        template.to_str().unwrap(),
        "--write-baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 1,
        "the baseline is written; the findings still count: {before:#}"
    );
    // Lines move: a comment on top shifts every finding down.
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&template, format!("# moved\n# down\n{text}")).unwrap();
    let (after, code) = json(&[
        template.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--fail-on",
        "warning",
    ]);
    assert_eq!(code, 0, "{after:#}");
    assert_eq!(after["summary"]["errors"], 0);
    assert_eq!(
        after["summary"]["suppressed"].as_u64().unwrap(),
        before["files"][0]["resources"][0]["findings"]
            .as_array()
            .unwrap()
            .len() as u64
    );
    let moved = finding(&after, "PaymentsKey", "no-restorer");
    assert_eq!(moved["suppressed"]["kind"], "baseline");
    assert_ne!(
        moved["line"],
        finding(&before, "PaymentsKey", "no-restorer")["line"]
    );
}

/// `--write-baseline` never writes over a file the check reads (named, or found by walking a
/// directory), nor over a file that is not a baseline unless `--force`; a baseline it wrote is
/// rewritten as it moves on.
#[test]
fn a_baseline_is_never_written_over_an_input_or_a_stranger() {
    let dir = crate::support::cli::fresh_dir("baseline-target");
    let template = dir.join("locked-out.yaml");
    std::fs::copy("tests/iac/cfn/locked-out.yaml", &template).unwrap();
    let original = std::fs::read(&template).unwrap();
    let t = template.to_str().unwrap();
    let d = dir.to_str().unwrap();
    for args in [
        vec![t, "--write-baseline", t],
        vec![d, "--write-baseline", t],
    ] {
        let o = check(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("would overwrite"), "{err}");
        assert_eq!(std::fs::read(&template).unwrap(), original, "{args:?}");
    }
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not a baseline\n").unwrap();
    let n = notes.to_str().unwrap();
    let o = check(&[t, "--write-baseline", n]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a kms-doctor baseline"));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "not a baseline\n");
    let o = check(&[t, "--write-baseline", n, "--force"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Now a baseline: rewritten without --force.
    let o = check(&[t, "--write-baseline", n]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read_to_string(&notes)
            .unwrap()
            .contains("fingerprint")
    );
}

/// The findings of one resource of a check report, as (code, severity) pairs.
fn resource_codes(r: &Value, name: &str) -> Vec<(String, String)> {
    r["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["resources"].as_array().unwrap())
        .filter(|res| res["name"] == name)
        .flat_map(|res| res["findings"].as_array().unwrap())
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_plan_that_removes_a_keys_administrators_is_caught_at_the_resource_that_removes_them() {
    let pair = |c: &str, s: &str| (c.to_owned(), s.to_owned());
    // The only administrator a key in the same plan names is deleted.
    let (r, code) = json(&["tests/iac/delete/deletes-only-admin.json"]);
    assert_eq!(code, 1);
    assert_eq!(
        resource_codes(&r, "aws_iam_role.key_admin"),
        [pair("removes-last-restorer", "error")]
    );
    assert_eq!(r["summary"]["principals_removed"], 1);
    // Located at the role's address, with its line in the plan.
    let role = r["files"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|res| res["name"] == "aws_iam_role.key_admin")
        .unwrap();
    assert_eq!(role["type"], "aws_iam_role");
    assert!(role["findings"][0]["line"].as_u64().unwrap() > 1);
    // An Identity Center permission set and its account assignment take its AWSReservedSSO_ role.
    let (r, code) = json(&["tests/iac/delete/deletes-permission-set.json"]);
    assert_eq!(code, 1);
    assert_eq!(
        resource_codes(&r, "aws_ssoadmin_account_assignment.key_admins"),
        [pair("removes-last-restorer", "error")]
    );
    // One of two goes: a warning; one of an administrator and the account delegation: nothing.
    let (r, code) = json(&["tests/iac/delete/deletes-one-of-two.json"]);
    assert_eq!(code, 0);
    assert_eq!(
        resource_codes(&r, "aws_iam_role.key_admin"),
        [pair("removes-restorer", "warning")]
    );
    let (r, code) = json(&["tests/iac/delete/deletes-one-of-delegated.json"]);
    assert_eq!(code, 0);
    assert!(
        resource_codes(&r, "aws_iam_role.key_admin").is_empty(),
        "{r:#}"
    );
    // Text says what the change removes beside the keys.
    let text = stdout(&check(&["tests/iac/delete/deletes-only-admin.json"]));
    assert!(
        text.contains("2 resources (1 principal removed): 1 error"),
        "{text}"
    );
    // SARIF locates it at the plan's line.
    let o = check(&[
        "tests/iac/delete/deletes-only-admin.json",
        "--format",
        "sarif",
    ]);
    let sarif: Value = serde_json::from_str(&stdout(&o)).unwrap();
    crate::support::cli::assert_valid_sarif(&sarif);
    let result = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ruleId"] == "removes-last-restorer")
        .expect("a SARIF result");
    assert!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            > 1
    );
}

#[test]
fn a_template_against_its_old_version_names_the_roles_it_replaces_and_deletes() {
    let (r, code) = json(&[
        "tests/iac/delete/cfn/new.yaml",
        "--against",
        "tests/iac/delete/cfn/old.yaml",
        "--account",
        A,
    ]);
    assert_eq!(code, 1);
    let pair = |c: &str, s: &str| (c.to_owned(), s.to_owned());
    // A new Path replaces the role: both keys that name it keep its old unique ID.
    assert_eq!(
        resource_codes(&r, "KeyAdminRole"),
        [
            pair("recreation-orphans-principal", "error"),
            pair("recreation-orphans-principal", "error")
        ]
    );
    // Deleted, with the other administrator replaced: no one is left for the shared key.
    assert_eq!(
        resource_codes(&r, "BreakGlassRole"),
        [pair("removes-last-restorer", "error")]
    );
    assert_eq!(r["summary"]["principals_removed"], 2);
    // Against itself, nothing is removed.
    let (r, _) = json(&[
        "tests/iac/delete/cfn/old.yaml",
        "--against",
        "tests/iac/delete/cfn/old.yaml",
        "--account",
        A,
    ]);
    assert_eq!(r["summary"]["principals_removed"], 0);
    // Neither a policy nor a template: refused.
    let o = check(&[
        "tests/iac/delete/cfn/new.yaml",
        "--against",
        "tests/iac/delete/deletes-only-admin.json",
    ]);
    assert_exit(&o, 2);
}

/// The codes `check` gives a policy that names the deployer beside a `Deny` on `condition`,
/// with `extra` flags, and its exit status.
fn deployer_and_deny(name: &str, condition: Value, extra: &[&str]) -> (Vec<String>, Option<i32>) {
    let dir = crate::support::cli::fresh_dir(name);
    let deployer = "arn:aws:iam::111122223333:role/Deployer";
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Deployer", "Effect": "Allow", "Principal": {"AWS": deployer},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Deny", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
             "Resource": "*", "Condition": condition}]})
        .to_string(),
    )
    .unwrap();
    let mut args = vec![
        "check",
        policy.to_str().unwrap(),
        "--deployer",
        deployer,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = kms_doctor(&args);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let codes = v["files"][0]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["findings"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect();
    (codes, o.status.code())
}

/// `--org-id`: the data perimeter's `aws:PrincipalOrgID` is decided, so the deployer is not
/// said to lose access on a condition kms-doctor can know; a malformed ID is refused.
#[test]
fn the_organisation_id_decides_the_data_perimeter() {
    let perimeter =
        serde_json::json!({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
    let run = |extra: &[&str]| deployer_and_deny("check-org-id", perimeter.clone(), extra);
    let loses = "deployer-loses-access".to_owned();
    assert!(run(&[]).0.contains(&loses));
    assert!(!run(&["--org-id", "o-a1b2c3d4e5"]).0.contains(&loses));
    assert!(run(&["--org-id", "o-zzzzzzzzzz"]).0.contains(&loses));
    assert_eq!(run(&["--org-id", "org-1"]).1, Some(2));
}

/// `--region R`: the keys are deployed there, so `aws:RequestedRegion` is decided (every call
/// about a key goes to its Region); without it, the default Region decides nothing.
#[test]
fn the_region_given_decides_requested_region_conditions() {
    let region = serde_json::json!({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}});
    let run = |extra: &[&str]| deployer_and_deny("check-region", region.clone(), extra).0;
    assert!(run(&[]).contains(&"deployer-loses-access".to_owned()));
    assert!(!run(&["--region", "eu-west-1"]).contains(&"deployer-loses-access".to_owned()));
    assert!(run(&["--region", "us-east-1"]).contains(&"no-restorer".to_owned()));
}

/// A file named like a workflow command is not one in the text report: GitHub runners read
/// every row of a step's output, after its leading white space.
#[test]
fn a_file_named_like_a_workflow_command_is_shown_as_a_path() {
    let dir = crate::support::cli::fresh_dir("forged-name");
    std::fs::copy(
        "tests/iac/policies/key-policy.json",
        dir.join("::error file=x::owned.json"),
    )
    .unwrap();
    let o = crate::support::cli::kms_doctor_in(&dir, &["check", ".", "--format", "text"]);
    let out = stdout(&o);
    assert!(out.contains("owned.json"), "{out}");
    for line in out.lines() {
        assert!(!line.trim_start().starts_with("::"), "{line:?}");
    }
}
