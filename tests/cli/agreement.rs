//! One key, four commands, one answer. For every diagnose scenario: `diagnose` and `scan` read
//! the same key from the same endpoint, and `explain` and `check` judge the policy in force that
//! diagnose found. They must give the same restorers (who, whether each counts, and why), the
//! same lockout answer, and the same findings of the codes that docs/diagnostics.md says both
//! raise; where nothing but the policy decides (no restorer deleted or held by the
//! organisation), the offline commands must say what the live ones say. A second copy of a rule
//! that drifts from the first fails here.

use crate::support::cli::{against, in_parallel, kms_doctor, scenario_args, sorted_files};
use crate::support::scenario;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The codes docs/diagnostics.md says both `a` and `b` raise (`Raised by:` lines; a command
/// named with a flag, `scan --without`, raises it only with that flag).
fn raised_by_both(a: &str, b: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/diagnostics.md")).unwrap();
    doc.split("\n## ")
        .skip(1)
        .filter_map(|section| {
            let name = section.strip_prefix('`')?.split('`').next()?.to_owned();
            let raised = section.split_once("Raised by:")?.1.split("\n\n").next()?;
            let commands: Vec<&str> = raised.split('`').skip(1).step_by(2).collect();
            (commands.contains(&a) && commands.contains(&b)).then_some(name)
        })
        // What a run could not learn is about the run (the simulator hung, a reply was
        // malformed), not about the key: each command says it of its own calls.
        .filter(|c| c != "evidence-incomplete")
        .collect()
}

fn codes(findings: &Value, among: &BTreeSet<String>) -> BTreeSet<String> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .filter(|c| among.contains(*c))
        .map(str::to_owned)
        .collect()
}

/// One restorer as the reports give it: who, how, whether it counts (not known deleted, not held
/// by the organisation's policies), and why (its existence, and what holds it, as JSON).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    principal: String,
    via: String,
    counts: bool,
    exists: Option<bool>,
    blocked_by: String,
    /// The boundary that keeps it out, and when a principal of its name was recreated.
    limited_by_boundary: String,
    recreated: String,
}

type Restorers = BTreeSet<Named>;

/// `None`: who can restore is not known.
fn restorers(r: &Value) -> Option<Restorers> {
    Some(
        r.as_array()?
            .iter()
            .map(|g| Named {
                principal: g["principal"].as_str().unwrap_or_default().to_owned(),
                via: g["via"].as_str().unwrap_or("key_policy").to_owned(),
                counts: g["exists"] != json!(false)
                    && g["blocked_by"].is_null()
                    && g.get("limited_by_boundary").is_none()
                    && g.get("recreated").is_none(),
                exists: g["exists"].as_bool(),
                blocked_by: g["blocked_by"].to_string(),
                limited_by_boundary: g["limited_by_boundary"].to_string(),
                recreated: g["recreated"].to_string(),
            })
            .collect(),
    )
}

/// Who the key policy names, whether or not they still exist (the offline commands cannot know).
fn named(r: &Value) -> BTreeSet<String> {
    r.as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["via"].as_str().unwrap_or("key_policy") == "key_policy")
        .filter_map(|g| g["principal"].as_str().map(str::to_owned))
        .collect()
}

/// Nothing but the policy decides: no restorer known deleted or recreated, none held by an
/// organisation's policy, and the account's IAM side not read (the offline commands know none
/// of these).
fn policy_alone_decides(d: &Value) -> bool {
    let iam_read = d["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["operation"] == "GetAccountAuthorizationDetails" && c["outcome"] == "ok");
    !iam_read
        && restorers(&d["restorers"])
            .is_some_and(|r| r.iter().all(|n| n.via == "key_policy" && n.counts))
}

/// Facts of the key and its history that no policy document carries: the offline commands are
/// not given them.
const BEYOND_THE_POLICY: [&str; 3] = [
    "key-pending-deletion",
    "lockout-check-bypassed",
    "policy-history-unavailable",
];

fn policy_codes(findings: &Value, among: &BTreeSet<String>) -> BTreeSet<String> {
    let mut c = codes(findings, among);
    c.retain(|c| !BEYOND_THE_POLICY.contains(&c.as_str()));
    c
}

/// The flags of diagnose's run that `explain` takes too: who asks, and the request context.
fn explain_args(d: &Value, diagnose_args: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    let who = d["principal"]["arn"]
        .as_str()
        .or(d["caller"]["arn"].as_str());
    if let Some(who) = who {
        args.extend(["--principal".to_owned(), who.to_owned()]);
    }
    for pair in diagnose_args.windows(2) {
        if matches!(pair[0].as_str(), "--context" | "--absent") {
            args.extend(pair.iter().cloned());
        }
    }
    args
}

/// What one scenario showed: the comparisons made, and what disagreed.
#[derive(Default)]
struct Compared {
    live: usize,
    offline: usize,
    disagreements: Vec<String>,
}

fn json_of(o: &std::process::Output) -> Option<Value> {
    serde_json::from_slice(&o.stdout).ok()
}

fn compare(path: &PathBuf, dir: &Path) -> Compared {
    let mut done = Compared::default();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let args = scenario_args(&file);
    if args.first().map(String::as_str) != Some("diagnose") {
        return done;
    }
    let sc: scenario::Scenario = serde_json::from_value(file["scenario"].clone()).unwrap();
    let endpoint = scenario::start(sc);
    let d = against(&endpoint.url)
        .args(&args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let Some(d) = json_of(&d) else {
        return done; // diagnose could not do its job (exit 2): nothing to compare
    };
    let key = &d["key"];
    if key["not_found"] == true || key["manager"] == "AWS" || key["key_id"].is_null() {
        return done; // scan leaves AWS managed keys out; a missing key has no policy
    }
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let out = &mut done.disagreements;

    // scan: the same key, read by scan's calls, judged for nobody in particular. It reads the
    // caller's account (another account's keys need --accounts and a role there).
    let scanned_here = d["caller"]["account"] == key["account"];
    let mut scan_findings = None;
    if scanned_here {
        let region = key["region"].as_str().unwrap_or("us-east-1");
        let mut scan = against(&endpoint.url);
        scan.args(["scan", "--region", region, "--format", "json", "--fail-on"])
            .args(["never", "--lookup-interval-ms", "1", "--timeout", "2"]);
        if args.iter().any(|a| a == "--no-cloudtrail") {
            scan.arg("--no-cloudtrail");
        }
        let s = json_of(&scan.output().unwrap()).and_then(|s| {
            s["keys"]
                .as_array()?
                .iter()
                .find(|k| k["key_id"] == key["key_id"])
                .cloned()
        });
        match s {
            None => out.push(format!(
                "{name}: scan does not report the key diagnose found"
            )),
            Some(s) => {
                done.live += 1;
                let (dr, sr) = (restorers(&d["restorers"]), restorers(&s["restorers"]));
                if dr != sr {
                    out.push(format!("{name}: restorers: diagnose {dr:?}, scan {sr:?}"));
                }
                let both = raised_by_both("diagnose", "scan");
                let (dc, sc) = (codes(&d["findings"], &both), codes(&s["findings"], &both));
                if dc != sc {
                    out.push(format!("{name}: codes: diagnose {dc:?}, scan {sc:?}"));
                }
                if dc.contains("no-restorer") != (s["status"] == "locked_out") {
                    out.push(format!(
                        "{name}: lockout: diagnose {dc:?}, scan {}",
                        s["status"]
                    ));
                }
                scan_findings = Some(s["findings"].clone());
            }
        }
    }

    // explain and check: the policy in force alone, as diagnose found it.
    let Some(policy) = d["policy"].as_object() else {
        return done;
    };
    let policy = Value::Object(policy.clone());
    let policy_file = dir.join(format!("{name}.policy.json"));
    std::fs::write(&policy_file, policy.to_string()).unwrap();
    let arn = key["arn"].as_str().unwrap_or_default();
    let explain = vec![
        "explain",
        "--policy",
        policy_file.to_str().unwrap(),
        "--key-arn",
        arn,
        "--format",
        "json",
    ];
    let asked = explain_args(&d, &args);
    let with_principal = [
        &explain[..],
        &asked.iter().map(String::as_str).collect::<Vec<_>>(),
    ]
    .concat();
    // A caller ARN that names no principal kind (31-unknown-caller-arn) explain refuses: then
    // the policy-wide answers only.
    let e = json_of(&kms_doctor(&with_principal)).or_else(|| json_of(&kms_doctor(&explain)));
    let Some(e) = e else {
        out.push(format!(
            "{name}: explain cannot read the policy diagnose judged"
        ));
        return done;
    };
    if named(&e["restorers"]) != named(&d["restorers"]) {
        out.push(format!(
            "{name}: named restorers: explain {:?}, diagnose {:?}",
            named(&e["restorers"]),
            named(&d["restorers"])
        ));
    }
    let template = dir.join(format!("{name}.template.json"));
    let declared = json!({"Resources": {"Key": {"Type": "AWS::KMS::Key",
        "Properties": {"KeyPolicy": policy}}}});
    std::fs::write(&template, declared.to_string()).unwrap();
    let account = key["account"].as_str().unwrap_or("111122223333");
    let c = kms_doctor(&[
        "check",
        template.to_str().unwrap(),
        "--account",
        account,
        "--format",
        "json",
    ]);
    let Some(c) = json_of(&c) else {
        out.push(format!(
            "{name}: check cannot read a template of the policy"
        ));
        return done;
    };
    done.offline += 1;
    let check_findings = &c["files"][0]["resources"][0]["findings"];
    let both = raised_by_both("explain", "check");
    let (ec, cc) = (codes(&e["findings"], &both), codes(check_findings, &both));
    if ec != cc {
        out.push(format!("{name}: codes: explain {ec:?}, check {cc:?}"));
    }
    // Where nothing but the policy decides, offline and live agree too.
    if policy_alone_decides(&d) {
        let both = raised_by_both("diagnose", "explain");
        let (dc, ec) = (
            policy_codes(&d["findings"], &both),
            policy_codes(&e["findings"], &both),
        );
        if dc != ec {
            out.push(format!("{name}: codes: diagnose {dc:?}, explain {ec:?}"));
        }
        if let Some(sf) = &scan_findings {
            let both = raised_by_both("scan", "check");
            let (sc, cc) = (policy_codes(sf, &both), policy_codes(check_findings, &both));
            if sc != cc {
                out.push(format!("{name}: codes: scan {sc:?}, check {cc:?}"));
            }
        }
    }
    done
}

#[test]
fn every_command_gives_one_answer_for_one_key() {
    let paths = sorted_files(&Path::new(ROOT).join("tests/scenarios"), "json");
    assert!(paths.len() >= 40, "{} scenarios", paths.len());
    let dir = crate::support::cli::fresh_dir("agreement");
    let all = in_parallel(&paths, |p| compare(p, &dir));
    let live: usize = all.iter().map(|c| c.live).sum();
    let offline: usize = all.iter().map(|c| c.offline).sum();
    // Most scenarios reach each comparison: a harness that compares nothing proves nothing.
    assert!(
        live >= 35 && offline >= 25,
        "compared {live} live, {offline} offline"
    );
    let found: Vec<String> = all.into_iter().flat_map(|c| c.disagreements).collect();
    assert!(
        found.is_empty(),
        "{} disagreements:\n{}",
        found.len(),
        found.join("\n")
    );
}
