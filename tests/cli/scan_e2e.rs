//! `kms-doctor scan` end to end: the real binary over HTTP against the scenario endpoint, which
//! serves several accounts (by the access key `AssumeRole` handed out) and Regions (from the
//! request signature's credential scope), pages `ListKeys`/`ListAliases`, throttles every Nth
//! KMS call and answers `UnrecognizedClientException` in an opt-in Region that is not enabled.

use crate::support::cli::{against, assert_exit, stdout};
use crate::support::scenario::{self, Endpoint, Scenario, read_only};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Output;

const A: &str = "111122223333";
const B: &str = "444455556666";

pub(crate) fn estate() -> (Scenario, BTreeMap<String, String>) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/scan/estate.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        serde_json::from_value(file["scenario"].clone()).unwrap(),
        serde_json::from_value(file["keys"].clone()).unwrap(),
    )
}

fn run(endpoint: &Endpoint, args: &[&str]) -> Output {
    let o = against(&endpoint.url)
        .arg("scan")
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    for op in endpoint.calls.lock().unwrap().iter() {
        assert!(read_only(op), "scan called {op}");
    }
    o
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), String::from_utf8_lossy(&o.stderr)))
}

fn key<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == id)
        .unwrap_or_else(|| panic!("no key {id} in {report:#}"))
}

fn codes(k: &Value) -> Vec<&str> {
    k["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

fn count(endpoint: &Endpoint, op: &str) -> usize {
    endpoint
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| *c == op)
        .count()
}

#[test]
fn every_status_and_code_in_one_account_and_its_regions() {
    let (sc, ids) = estate();
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--all-regions", "--format", "json"]);
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["scope"]["accounts"], json!([A]));
    assert_eq!(
        r["scope"]["regions"],
        json!(["ap-east-1", "eu-west-1", "us-east-1"])
    );
    assert_eq!(
        r["scope"]["regions_not_enabled"][0]["region"], "ap-east-1",
        "an opt-in Region that answers UnrecognizedClientException is not enabled, not an error"
    );
    assert_eq!(r["errors"], json!([]));

    let expect: [(&str, &str, &[&str]); 11] = [
        ("healthy", "healthy", &[]),
        (
            "single",
            "at_risk",
            &["no-account-delegation", "single-restorer"],
        ),
        (
            "gone",
            "locked_out",
            &["no-restorer", "no-account-delegation", "restorer-missing"],
        ),
        ("pending", "at_risk", &["key-pending-deletion"]),
        ("open", "at_risk", &["policy-update-open"]),
        // The Deny lists the Admin role but not its sessions: every session of it is denied
        // (IAM User Guide, NotPrincipal), so only the root user, which it also lists, is left.
        (
            "notprincipal",
            "at_risk",
            &["not-principal-misses-sessions", "single-restorer"],
        ),
        ("orphan", "at_risk", &["orphaned-principal"]),
        (
            "denied-bypass",
            "locked_out",
            &[
                "no-restorer",
                "lockout-check-bypassed",
                "no-account-delegation",
                "restorer-missing",
            ],
        ),
        ("denied-created", "healthy", &[]),
        ("denied-unknown", "unknown", &["policy-history-unavailable"]),
        ("eu-healthy", "healthy", &[]),
    ];
    for (name, status, want) in expect {
        let k = key(&r, &ids[name]);
        assert_eq!(k["status"], status, "{name}: {k:#}");
        let mut got = codes(k);
        got.sort_unstable();
        let mut want = want.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{name}");
    }
    assert_eq!(
        r["keys"].as_array().unwrap().len(),
        11,
        "the AWS managed key is left out"
    );
    assert_eq!(r["summary"]["aws_managed_skipped"], 1);
    assert_eq!(r["keys"][0]["status"], "locked_out", "worst first");

    // Policies that cannot be read come from CloudTrail, with the event that set them.
    let bypass = key(&r, &ids["denied-bypass"]);
    assert_eq!(bypass["policy_source"]["kind"], "cloudtrail");
    assert_eq!(bypass["policy_source"]["event_id"], "evt-bypass-newest");
    assert_eq!(
        key(&r, &ids["denied-created"])["policy_source"]["kind"],
        "cloudtrail"
    );
    assert_eq!(
        key(&r, &ids["denied-unknown"])["policy_source"]["kind"],
        "none"
    );
    let unknown_help = key(&r, &ids["denied-unknown"])["findings"][0]["help"]
        .as_str()
        .unwrap();
    assert!(unknown_help.contains("--logs") && unknown_help.contains("--athena-table"));
    assert_eq!(key(&r, &ids["healthy"])["policy_source"]["kind"], "current");
    assert_eq!(key(&r, &ids["healthy"])["aliases"], json!(["alias/orders"]));

    // One CloudTrail search (PutKeyPolicy, then CreateKey) serves the three unreadable keys;
    // the other Regions had none to search for.
    assert_eq!(count(&endpoint, "cloudtrail:LookupEvents"), 2);
    // FormerAdmin is named by two keys and asked about once; KeyAdmin likewise.
    assert_eq!(count(&endpoint, "iam:GetRole"), 2);
    // Paged: 12 keys in us-east-1 at 4 a page, and throttled calls retried.
    assert!(count(&endpoint, "kms:ListKeys") >= 4);
    let calls = &r["calls"];
    assert!(calls["throttled"].as_u64().unwrap() > 0, "{calls}");
    assert_eq!(
        calls["total"].as_u64().unwrap() as usize,
        endpoint.calls.lock().unwrap().len()
    );
    assert_eq!(
        calls["by_operation"]["kms:GetKeyPolicy"].as_u64().unwrap() as usize,
        count(&endpoint, "kms:GetKeyPolicy")
    );
    // A key's DescribeKey and GetKeyPolicy are sent at once, so whether the AWS managed key's
    // GetKeyPolicy goes out depends on which answer comes first. What is guaranteed: each key's
    // policy is read once (throttled tries aside), never more, and the managed key's answer is
    // not judged (it is not among the keys above).
    for (name, id) in &ids {
        if name.starts_with("member-") {
            continue; // another account, not scanned here
        }
        let answered = endpoint.answered("kms:GetKeyPolicy", id);
        if name == "awsmanaged" {
            assert!(
                answered <= 1,
                "{name}: GetKeyPolicy answered {answered} times"
            );
        } else {
            assert_eq!(
                answered, 1,
                "{name}: GetKeyPolicy answered {answered} times"
            );
        }
    }
}

#[test]
fn an_organisation_scan_reports_the_account_it_cannot_enter_and_goes_on() {
    let (sc, ids) = estate();
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &["--org", "--region", "us-east-1", "--format", "json"],
    );
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(
        r["scope"]["accounts"],
        json!(
            ["000011112222", A, B, "777788889999"]
                .iter()
                .filter(|a| **a != "000011112222")
                .collect::<Vec<_>>()
        ),
        "the suspended account is left out"
    );
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["account"], "777788889999");
    assert_eq!(errors[0]["operation"], "sts:AssumeRole");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("role/OrganizationAccountAccessRole")
    );
    // The member account's keys, through the role assumed there.
    assert_eq!(key(&r, &ids["member-healthy"])["account"], B);
    let single = key(&r, &ids["member-single"]);
    assert_eq!(single["status"], "at_risk");
    assert_eq!(
        single["restorers"][0]["exists"], true,
        "Platform exists in {B}"
    );
    assert_eq!(
        count(&endpoint, "organizations:ListAccounts"),
        2,
        "two pages"
    );
    // Accounts are scanned as the listing finds them: the first page's accounts are entered
    // before the last page is read.
    let calls = endpoint.calls.lock().unwrap().clone();
    let first_assume = calls.iter().position(|c| c == "sts:AssumeRole").unwrap();
    let first_keys = calls.iter().position(|c| c == "kms:ListKeys").unwrap();
    let last_page = calls
        .iter()
        .rposition(|c| c == "organizations:ListAccounts")
        .unwrap();
    assert!(
        first_assume.min(first_keys) < last_page,
        "listing and scanning overlap: {calls:?}"
    );
}

#[test]
fn named_accounts_and_the_role_name_are_used() {
    let (sc, _) = estate();
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--accounts",
            "777788889999",
            "--role-name",
            "KmsDoctorScan",
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 2);
    let r = json_of(&o);
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("role/KmsDoctorScan")
    );
    assert_eq!(count(&endpoint, "organizations:ListAccounts"), 0);
}

#[test]
fn fail_on_sets_the_exit_status() {
    let mut sc = estate().0;
    // Only the key with warnings and the healthy ones.
    sc.keys
        .retain(|k| k.id.ends_with("0001") || k.id.ends_with("0004"));
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    assert_exit(&run(&endpoint, &["--format", "json"]), 0);
    assert_exit(
        &run(&endpoint, &["--format", "json", "--fail-on", "warning"]),
        1,
    );
    assert_exit(
        &run(&endpoint, &["--format", "json", "--fail-on", "never"]),
        0,
    );
}

#[test]
fn a_scan_that_cannot_list_anything_did_not_run() {
    let mut sc = estate().0;
    sc.deny = vec!["kms:ListKeys".into()];
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "json"]);
    assert_exit(&o, 2);
    let r = json_of(&o);
    assert_eq!(r["errors"][0]["operation"], "kms:ListKeys");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("AccessDenied")
    );
}

#[test]
fn a_denied_region_list_falls_back_to_the_commercial_regions() {
    let mut sc = estate().0;
    sc.deny = vec!["account:ListRegions".into()];
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--all-regions", "--format", "json"]);
    let r = json_of(&o);
    assert_eq!(r["errors"][0]["operation"], "account:ListRegions");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("commercial Regions")
    );
    let regions = r["scope"]["regions"].as_array().unwrap();
    assert!(regions.len() > 20, "{regions:?}");
    assert!(
        r["scope"]["regions_not_enabled"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["region"] == "ap-east-1")
    );
}

#[test]
fn text_and_markdown_put_the_verdicts_first() {
    let (mut sc, ids) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "text"]);
    assert_exit(&o, 1);
    let text = stdout(&o);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("10 customer managed keys in 1 account and 1 Region: 2 locked out, 5 at risk, 1 unknown, 2 healthy (1 AWS managed left out)"),
        "{first}"
    );
    assert!(text.contains("ACCOUNT") && text.contains("STATUS") && text.contains("CODES"));
    assert!(text.contains("LOCKED OUT"));
    assert!(text.contains("can update the policy: nobody (only AWS Support)"));
    // Healthy keys are in the table only; every other key has its details.
    assert_eq!(
        text.matches(&ids["gone"]).count(),
        2,
        "in the table and in the details: {text}"
    );
    assert_eq!(
        text.matches(&ids["healthy"]).count(),
        1,
        "in the table only: {text}"
    );
    assert!(text.contains("alias/billing"));

    let o = run(&endpoint, &["--format", "markdown"]);
    let md = stdout(&o);
    let rendered = crate::support::markdown::render(&md);
    assert!(rendered.markup.is_empty(), "{:?}", rendered.markup);
    let table = &rendered.tables[0];
    assert_eq!(
        table[0],
        ["Account", "Region", "Key", "Aliases", "Status", "Codes"]
    );
    assert_eq!(table.len(), 11);
    assert_eq!(table[1][4], "LOCKED OUT");
}

#[test]
fn redacted_scans_hide_accounts_keys_and_names() {
    let (mut sc, ids) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    for format in ["json", "text", "markdown", "sarif"] {
        let o = run(&endpoint, &["--org", "--format", format, "--redact"]);
        let out = stdout(&o);
        for secret in [
            A,
            B,
            "777788889999",
            &ids["gone"],
            "FormerAdmin",
            "KeyAdmin",
            "evt-bypass-newest",
        ] {
            assert!(!out.contains(secret), "{format} shows {secret}");
        }
    }
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let (mut sc, ids) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "sarif"]);
    assert_exit(&o, 1);
    let sarif = json_of(&o);
    crate::support::cli::assert_valid_sarif(&sarif);

    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let findings: usize = json_of(&run(&endpoint, &["--format", "json"]))["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["findings"].as_array().unwrap().len())
        .sum();
    assert_eq!(results.len(), findings, "one result per finding");
    let gone = results
        .iter()
        .find(|r| {
            r["ruleId"] == "no-restorer"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .ends_with(&ids["gone"])
        })
        .expect("the locked-out key's no-restorer result");
    assert_eq!(gone["level"], "error");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let index = gone["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "no-restorer");
}

#[test]
fn keys_that_fail_the_same_way_are_one_error_and_are_still_judged() {
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    sc.faults.insert("kms:DescribeKey".into(), "500".into());
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "json"]);
    let r = json_of(&o);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["operation"], "kms:DescribeKey");
    let keys = errors[0]["key_ids"].as_array().unwrap().len();
    assert_eq!(keys, 11, "every key of us-east-1, the AWS managed one too");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("11 keys: ")
    );
    // Without DescribeKey, the AWS managed key is still known by its alias/aws/ alias.
    assert_eq!(r["summary"]["aws_managed_skipped"], 1);
    assert_eq!(r["summary"]["locked_out"], 2);
}

#[test]
fn redacted_errors_and_call_lists_hide_key_ids() {
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    sc.faults.insert("kms:DescribeKey".into(), "500".into());
    let key_ids: Vec<String> = sc.keys.iter().map(|k| k.id.clone()).collect();
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "json", "--redact", "-v"]);
    let r = json_of(&o);
    assert_eq!(
        r["errors"][0]["key_ids"].as_array().map(Vec::len),
        Some(11),
        "the error still lists its keys: {r:#}"
    );
    let (out, err) = (stdout(&o), String::from_utf8_lossy(&o.stderr).into_owned());
    assert!(err.contains("kms:DescribeKey"), "-v lists the calls: {err}");
    for id in &key_ids {
        assert!(!out.contains(id.as_str()), "the report shows {id}");
        assert!(!err.contains(id.as_str()), "-v shows {id}");
    }
    for account in [A, B] {
        assert!(!err.contains(account), "-v shows {account}");
    }
}

#[test]
fn past_max_duration_the_rest_is_counted_not_called() {
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    sc.delay_ms = 300;
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--format",
            "json",
            "--concurrency",
            "1",
            // Listing takes about 0.9 s at 300 ms a call; 11 keys at 0.3 s each (their two calls
            // at once) take 3.3 s.
            "--max-duration",
            "3",
            "--no-cloudtrail",
        ],
    );
    let r = json_of(&o);
    let late = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("deadline passed"))
        .unwrap_or_else(|| panic!("{:#}", r["errors"]));
    let skipped: u64 = late["message"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(skipped > 0);
    assert_exit(&o, 1);
    assert_eq!(late["missed"], json!({"kind": "keys", "count": skipped}));
    // And any key whose call the deadline cut while it was under way.
    let not_examined = r["summary"]["not_examined"]["keys"].as_u64().unwrap();
    assert!(not_examined >= skipped);
    assert!(
        incomplete(&r)["title"]
            .as_str()
            .unwrap()
            .contains(&format!("{not_examined} key")),
        "{:#}",
        incomplete(&r)
    );
    assert_eq!(
        r["keys"].as_array().unwrap().len() as u64
            + r["summary"]["aws_managed_skipped"].as_u64().unwrap()
            + skipped,
        11,
        "every key listed is judged, skipped as AWS managed, or counted as not examined"
    );
}

#[test]
fn hostile_names_from_aws_cannot_act_in_any_format() {
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    sc.keys[0].aliases = vec!["alias/x\u{1b}[31m|`y\u{202e}\n# heading <img src=x>".into()];
    let endpoint = scenario::start(sc);
    let text = stdout(&run(&endpoint, &["--format", "text"]));
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("# heading")));
    let md = stdout(&run(&endpoint, &["--format", "markdown"]));
    let rendered = crate::support::markdown::render(&md);
    assert!(rendered.markup.is_empty(), "{:?}", rendered.markup);
    assert_eq!(rendered.tables[0][0].len(), 6, "the | did not add a column");
    assert!(rendered.tables[0].iter().all(|row| row.len() == 6));
    let sarif = stdout(&run(&endpoint, &["--format", "sarif"]));
    assert!(!sarif.contains('\u{202e}'));
    serde_json::from_str::<Value>(&sarif).unwrap();
}

/// `--scp`: the organisation's policies given apply to every key; a restorer they hold does not
/// count, so a healthy key whose administrators an SCP denies kms:PutKeyPolicy is locked out.
#[test]
fn scan_takes_the_organisations_policies() {
    let (sc, ids) = estate();
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--format",
            "json",
            "--scp",
            "tests/org/scp-allow-list-without-kms.json",
        ],
    );
    let v = json_of(&o);
    let healthy = key(&v, &ids["healthy"]);
    assert_eq!(healthy["status"], "locked_out", "{healthy}");
    let restorers = healthy["restorers"].as_array().unwrap();
    assert!(
        restorers
            .iter()
            .all(|r| r["blocked_by"]["policy_type"] == "scp"),
        "{restorers:?}"
    );
}

/// The estate with only its healthy keys, unthrottled: any exit 1 comes from coverage.
fn healthy_estate() -> Scenario {
    let (mut sc, ids) = estate();
    let healthy = [&ids["healthy"], &ids["eu-healthy"], &ids["member-healthy"]];
    sc.keys.retain(|k| healthy.contains(&&k.id));
    sc.kms_throttle_every = 0;
    sc
}

/// The `scan-incomplete` finding, which is about the scan, not a key.
fn incomplete(r: &Value) -> &Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "scan-incomplete")
        .unwrap_or_else(|| panic!("no scan-incomplete in {:#}", r["findings"]))
}

#[test]
fn an_organisation_scan_that_enters_one_account_of_three_says_so_and_fails() {
    let mut sc = healthy_estate();
    for member in &mut sc.accounts {
        if member.id == B {
            member.assumable = false;
        }
    }
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--org", "--format", "json"]);
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(r["summary"]["healthy"], 1, "{:#}", r["summary"]);
    assert_eq!(r["summary"]["complete"], false);
    assert_eq!(r["summary"]["not_examined"]["accounts"], 2);
    let f = incomplete(&r);
    assert_eq!(f["severity"], "error");
    assert!(
        f["title"].as_str().unwrap().contains("2 of 3 accounts"),
        "{f:#}"
    );
    assert_eq!(f["evidence"].as_array().unwrap().len(), 2, "{f:#}");

    let text = run(&endpoint, &["--org", "--format", "text"]);
    assert_exit(&text, 1);
    let head: Vec<String> = stdout(&text).lines().take(4).map(str::to_owned).collect();
    let head = head.join("\n");
    assert!(head.contains("in 1 of 3 accounts"), "{head}");
    assert!(head.contains("INCOMPLETE"), "{head}");
    // --fail-on keeps its meaning.
    assert_exit(
        &run(
            &endpoint,
            &["--org", "--format", "json", "--fail-on", "never"],
        ),
        0,
    );
}

#[test]
fn a_region_that_times_out_is_not_examined() {
    let mut sc = healthy_estate();
    sc.faults
        .insert("kms:ListKeys@eu-west-1".into(), "hang".into());
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--timeout",
            "1",
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(
        r["summary"]["not_examined"]["regions"], 1,
        "{:#}",
        r["summary"]
    );
    assert_eq!(r["summary"]["healthy"], 1, "us-east-1 was scanned");
    let error = &r["errors"][0];
    assert_eq!(error["region"], "eu-west-1");
    assert_eq!(error["missed"]["kind"], "region");
    assert!(
        incomplete(&r)["title"]
            .as_str()
            .unwrap()
            .contains("1 Region"),
        "{:#}",
        incomplete(&r)
    );
}

#[test]
fn keys_whose_policy_stayed_unread_after_throttling_are_not_examined() {
    let mut sc = healthy_estate();
    sc.faults
        .insert("kms:GetKeyPolicy".into(), "throttle".into());
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--no-cloudtrail",
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(r["summary"]["unknown"], 1, "{:#}", r["summary"]);
    assert_eq!(r["summary"]["healthy"], 0);
    assert_eq!(r["summary"]["not_examined"]["keys"], 1);
    assert!(
        incomplete(&r)["title"].as_str().unwrap().contains("1 key"),
        "{:#}",
        incomplete(&r)
    );
}

#[test]
fn a_denied_policy_is_unknown_but_not_a_gap_in_the_scan() {
    let (mut sc, ids) = estate();
    sc.keys.retain(|k| k.id == ids["denied-unknown"]);
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let r = json_of(&run(
        &endpoint,
        &["--region", "us-east-1", "--format", "json"],
    ));
    assert_eq!(r["summary"]["unknown"], 1);
    assert_eq!(r["summary"]["complete"], true, "{:#}", r["summary"]);
    assert_eq!(r["findings"], json!([]));
}

#[test]
fn the_mute_list_accepts_findings_with_their_reason() {
    let (mut sc, ids) = estate();
    sc.keys.retain(|k| k.id == ids["single"]);
    sc.keys[0].tags.insert("lifecycle".into(), "retired".into());
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let args = [
        "--region",
        "us-east-1",
        "--format",
        "json",
        "--fail-on",
        "warning",
    ];
    assert_exit(&run(&endpoint, &args), 1);
    let dir = crate::support::cli::fresh_dir("mute");
    let config = dir.join("kms-doctor.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[scan.mute]]
account = "{A}"
alias = "alias/payments"
reason = "one administrator by design until the Q1 migration"
"#
        ),
    )
    .unwrap();
    let with_config = [&args[..], &["--config", config.to_str().unwrap()]].concat();
    let o = run(&endpoint, &with_config);
    assert_exit(&o, 0);
    let r = json_of(&o);
    let k = key(&r, &ids["single"]);
    assert_eq!(k["status"], "healthy", "{k:#}");
    assert_eq!(codes(k).len(), 2, "the findings stay: {k:#}");
    assert_eq!(k["muted"].as_array().unwrap().len(), 2);
    assert_eq!(
        k["muted"][0]["reason"],
        "one administrator by design until the Q1 migration"
    );
    let sarif = [
        "--region",
        "us-east-1",
        "--format",
        "sarif",
        "--config",
        config.to_str().unwrap(),
    ];
    let s: Value = serde_json::from_str(&stdout(&run(&endpoint, &sarif))).unwrap();
    for result in s["runs"][0]["results"].as_array().unwrap() {
        assert_eq!(result["suppressions"][0]["kind"], "external", "{result:#}");
    }
    // One code muted, one not: the text shows the key for the other only.
    std::fs::write(
        &config,
        "[[scan.mute]]\ncode = \"single-restorer\"\nreason = \"by design\"\n",
    )
    .unwrap();
    let text = stdout(&run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    assert!(text.contains("no-account-delegation"), "{text}");
    assert!(!text.contains("single-restorer"), "{text}");
    // By tag: the keys' tags are read (kms:ListResourceTags) only for such an entry.
    assert_eq!(count(&endpoint, "kms:ListResourceTags"), 0);
    for (tag, muted) in [
        ("lifecycle=active", false),
        ("lifecycle=retired", true),
        ("lifecycle", true),
    ] {
        std::fs::write(
            &config,
            format!("[[scan.mute]]\ntag = \"{tag}\"\nreason = \"retired keys\"\n"),
        )
        .unwrap();
        let r = json_of(&run(&endpoint, &with_config));
        assert_eq!(!r["keys"][0]["muted"].is_null(), muted, "{tag}: {r:#}");
    }
    assert_eq!(count(&endpoint, "kms:ListResourceTags"), 3);
    // A mute without a reason is refused before any AWS call.
    std::fs::write(&config, "[[scan.mute]]\nalias = \"alias/payments\"\n").unwrap();
    let o = run(&endpoint, &with_config);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a reason"));
}

#[test]
fn a_malformed_answer_keeps_the_sdks_reason_and_no_cloudtrail_says_so() {
    let mut sc = healthy_estate();
    sc.faults
        .insert("kms:ListKeys@eu-west-1".into(), "malformed".into());
    sc.faults
        .insert("kms:GetKeyPolicy".into(), "throttle".into());
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--no-cloudtrail",
            "--format",
            "json",
        ],
    );
    let r = json_of(&o);
    let listing = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == "kms:ListKeys")
        .unwrap_or_else(|| panic!("{:#}", r["errors"]));
    let message = listing["message"].as_str().unwrap();
    assert!(!message.contains("no message"), "{message}");
    assert!(message.len() > 20, "the SDK's reason: {message}");
    // The unread key's finding says CloudTrail was not searched, not that a search ended early.
    let detail = r["keys"][0]["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("--no-cloudtrail"), "{detail}");
    assert!(!detail.contains("ended early"), "{detail}");
}

#[test]
fn throttling_waits_end_at_max_duration() {
    // Every key's calls throttled: retries back off and the pace halves, again and again. The
    // waits stop at the deadline, and the run ends within one --timeout of it.
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    for op in ["kms:DescribeKey", "kms:GetKeyPolicy"] {
        sc.faults.insert(op.into(), "throttle".into());
    }
    let endpoint = scenario::start(sc);
    let started = std::time::Instant::now();
    let o = run(
        &endpoint,
        &[
            "--format",
            "json",
            "--no-cloudtrail",
            "--max-duration",
            "3",
            "--timeout",
            "2",
        ],
    );
    let took = started.elapsed();
    assert_exit(&o, 1);
    // Ended by the deadline, not by the retries running out: without the deadline checks the
    // same run takes about 30 s. The slack over 3 + 2 s is for a machine under load (a debug
    // binary's start, the endpoint's threads), not a speed target.
    assert!(
        took < std::time::Duration::from_secs(3 + 2 + 10),
        "took {took:?}, past --max-duration 3 and --timeout 2"
    );
    let r = json_of(&o);
    assert!(r["summary"]["not_examined"]["keys"].as_u64().unwrap() > 0);
}

#[test]
fn without_a_role_the_keys_that_rest_on_it_are_named_worst_first() {
    let (mut sc, ids) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let dir = crate::support::cli::fresh_dir("scan-without");
    let saved = dir.join("scan.json");
    let o = run(
        &endpoint,
        &[
            "--format",
            "json",
            "--without",
            "arn:aws:iam::111122223333:role/KeyAdmin",
            "--save-evidence",
            saved.to_str().unwrap(),
        ],
    );
    let r = json_of(&o);
    let single = key(&r, &ids["single"]);
    assert_eq!(single["status"], "locked_out");
    assert_eq!(single["status_before"], "at_risk");
    assert!(codes(single).contains(&"removes-last-restorer"));
    // Only the keys whose status would change are listed.
    assert!(
        r["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["status_before"].is_string()),
        "{:#}",
        r["keys"]
    );
    assert!(!stdout(&o).contains(&ids["healthy"]));
    assert_eq!(
        r["without"]["keys_changed"],
        r["keys"].as_array().unwrap().len()
    );
    let text = stdout(&run(
        &endpoint,
        &["--without", "arn:aws:iam::111122223333:role/KeyAdmin"],
    ));
    let changed = r["without"]["keys_changed"].as_u64().unwrap();
    let said = format!(
        "WITHOUT arn:aws:iam::111122223333:role/KeyAdmin: {changed} key{} would lose a restorer",
        if changed == 1 { "" } else { "s" }
    );
    assert!(text.contains(&said), "{text}");

    // The saved scan is what `check --keys` judges a plan against, with no AWS access.
    let check = |plan: &str| {
        let o = crate::support::cli::kms_doctor(&[
            "check",
            plan,
            "--keys",
            saved.to_str().unwrap(),
            "--format",
            "json",
        ]);
        (
            o.status.code(),
            serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        )
    };
    let (code, r) = check("tests/iac/delete/replaces-admin.json");
    assert_eq!(code, Some(1), "{r:#}");
    let found = r["files"][0]["resources"][0]["findings"].to_string();
    assert!(found.contains("recreation-orphans-principal"), "{found}");
    assert!(found.contains("alias/payments"), "names the key: {found}");
    assert!(r["summary"]["existing_keys"].as_u64().unwrap() > 0);
    let (code, r) = check("tests/iac/delete/deletes-only-admin.json");
    assert_eq!(code, Some(1));
    assert!(r.to_string().contains("removes-last-restorer"));
    // A principal of an account the saved scan did not read: not silence, a gap.
    let elsewhere = dir.join("elsewhere.json");
    std::fs::write(
        &elsewhere,
        std::fs::read_to_string("tests/iac/delete/replaces-admin.json")
            .unwrap()
            .replace("111122223333", "999988887777"),
    )
    .unwrap();
    let (code, r) = check(elsewhere.to_str().unwrap());
    assert_eq!(code, Some(1), "{r:#}");
    let gap = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "scan-incomplete")
        .unwrap_or_else(|| panic!("{r:#}"));
    assert!(gap["title"].as_str().unwrap().contains("999988887777"));
}

#[test]
fn check_live_reads_the_keys_of_the_account_a_plan_removes_from_read_only() {
    let (mut sc, ids) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let check = |plan: &str| {
        let o = against(&endpoint.url)
            .args(["check", plan, "--live", "--format", "json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        for op in endpoint.calls.lock().unwrap().iter() {
            assert!(read_only(op), "check --live called {op}");
        }
        o
    };
    // The plan replaces KeyAdmin: alias/payments names only it, by ARN.
    let o = check("tests/iac/delete/replaces-admin.json");
    assert_exit(&o, 1);
    let r = json_of(&o);
    let role = &r["files"][0]["resources"][0];
    assert_eq!(role["name"], "aws_iam_role.key_admin");
    let found = role["findings"].to_string();
    assert!(found.contains("recreation-orphans-principal"), "{found}");
    assert!(found.contains(&ids["single"]), "names the key: {found}");
    assert!(r["summary"]["existing_keys"].as_u64().unwrap() > 0);
    assert!(count(&endpoint, "kms:GetKeyPolicy") > 0);
    // A plan that removes no one makes no AWS call.
    endpoint.calls.lock().unwrap().clear();
    let o = check("tests/iac/tf/plan.json");
    assert_exit(&o, 0);
    assert!(endpoint.calls.lock().unwrap().is_empty());
    // --accounts reads another account's keys too, by assuming --role-name there.
    let o = against(&endpoint.url)
        .args([
            "check",
            "tests/iac/delete/replaces-admin.json",
            "--live",
            "--accounts",
            B,
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_exit(&o, 1);
    assert!(count(&endpoint, "sts:AssumeRole") >= 1);
    let r = json_of(&o);
    // Both accounts were read (no account left out); the key whose policy is denied is a gap of
    // its own: what the change takes from it is unknown.
    let gaps: Vec<&str> = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "scan-incomplete")
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert!(
        gaps.iter().all(|t| !t.contains("were not read")),
        "{gaps:?}"
    );
    assert!(
        gaps.iter()
            .any(|t| t.contains("is unknown: their policy could not be learned")),
        "{gaps:?}"
    );
    // --org reads every account of the organisation.
    let o = against(&endpoint.url)
        .args([
            "check",
            "tests/iac/delete/replaces-admin.json",
            "--live",
            "--org",
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_exit(&o, 1);
    assert!(count(&endpoint, "organizations:ListAccounts") >= 1);
    assert!(json_of(&o)["summary"]["existing_keys"].as_u64().unwrap() > 10);
}

#[test]
fn a_delegating_keys_iam_restorers_are_named_and_counted() {
    let sc = healthy_estate();
    let endpoint = scenario::start(sc.clone());
    let r = json_of(&run(
        &endpoint,
        &["--region", "us-east-1", "--format", "json"],
    ));
    let healthy = key(&r, "00000001-aaaa-bbbb-cccc-000000000001");
    assert_eq!(healthy["status"], "healthy");
    let through_iam: Vec<&str> = healthy["restorers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["via"] == "iam")
        .map(|x| x["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        through_iam,
        [
            "arn:aws:iam::111122223333:role/Admin",
            "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"
        ],
        "{healthy:#}"
    );
    assert_eq!(count(&endpoint, "iam:GetAccountAuthorizationDetails"), 1);

    // Without both administrators only the root user remains: a warning, not a lockout.
    let r = json_of(&run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--format",
            "json",
            "--without",
            "arn:aws:iam::111122223333:role/Admin",
            "--without",
            "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole",
        ],
    ));
    let healthy = key(&r, "00000001-aaaa-bbbb-cccc-000000000001");
    assert_eq!(healthy["status_before"], "healthy");
    assert_eq!(healthy["status"], "at_risk");
    assert!(codes(healthy).contains(&"removes-restorer"), "{healthy:#}");

    // One administrator: single-restorer, naming it.
    let mut one = sc.clone();
    one.roles
        .retain(|r| r.name != "OrganizationAccountAccessRole");
    let endpoint = scenario::start(one);
    let r = json_of(&run(
        &endpoint,
        &["--region", "us-east-1", "--format", "json"],
    ));
    let k = key(&r, "00000001-aaaa-bbbb-cccc-000000000001");
    assert_eq!(k["status"], "at_risk");
    let single = k["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "single-restorer")
        .unwrap_or_else(|| panic!("{k:#}"));
    assert!(single["title"].as_str().unwrap().contains("role/Admin"));

    // Denied: said once for the account; the keys keep their key-policy judgement.
    let mut denied = sc;
    denied
        .deny
        .push("iam:GetAccountAuthorizationDetails".to_owned());
    let endpoint = scenario::start(denied);
    let r = json_of(&run(
        &endpoint,
        &["--region", "us-east-1", "--format", "json"],
    ));
    let errors: Vec<&Value> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "iam:GetAccountAuthorizationDetails")
        .collect();
    assert_eq!(errors.len(), 1, "{:#}", r["errors"]);
    assert_eq!(errors[0]["missed"], Value::Null);
    assert_eq!(
        key(&r, "00000001-aaaa-bbbb-cccc-000000000001")["status"],
        "healthy"
    );
}

/// The estate's healthy keys in an organisation: the root's SCPs are an allow-all and
/// `DenyKeyAdmin`, which denies kms:PutKeyPolicy to everyone but the root user… when it is read.
fn organisation(sc: &mut Scenario, deny_content: Value) {
    sc.organization = serde_json::from_value(json!({
        "management_account": "999999999999",
        "parents": {A: "r-root"},
        "policies": [
            {"id": "p-FullAWSAccess", "name": "FullAWSAccess", "type": "SERVICE_CONTROL_POLICY",
             "content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
             "targets": ["r-root"]},
            {"id": "p-denykeys", "name": "DenyKeyPolicyChanges", "type": "SERVICE_CONTROL_POLICY",
             "content": deny_content, "targets": ["r-root"]}
        ]
    }))
    .unwrap();
}

/// Not read is not none: the organisation's policies that could not be read (throttled past
/// their retries, or a document that does not parse) make the scan incomplete, with the account
/// and the cause; the key is not reported healthy with complete: true and exit 0.
#[test]
fn organisation_policies_not_read_are_a_gap_not_an_all_clear() {
    let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Action": "kms:PutKeyPolicy", "Resource": "*"}]});
    // Read: the SCP holds every restorer.
    let mut sc = healthy_estate();
    organisation(&mut sc, deny.clone());
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--region", "us-east-1", "--format", "json"]);
    let r = json_of(&o);
    assert_eq!(r["summary"]["locked_out"], 1, "{:#}", r["summary"]);
    assert_eq!(r["summary"]["complete"], true, "{:#}", r["summary"]);
    // Not read: throttled.
    let mut sc = healthy_estate();
    organisation(&mut sc, deny.clone());
    sc.faults.insert(
        "organizations:ListPoliciesForTarget".into(),
        "throttle".into(),
    );
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--region", "us-east-1", "--format", "json"]);
    assert_exit(&o, 1);
    let r = json_of(&o);
    assert_eq!(r["summary"]["complete"], false, "{:#}", r["summary"]);
    assert_eq!(r["summary"]["not_examined"]["org_policies"], 1);
    let f = incomplete(&r);
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("organisation's policies of 1 account"),
        "{f:#}"
    );
    assert!(
        f["evidence"].to_string().contains("SCPs could not be read"),
        "{f:#}"
    );
    // One document that does not parse: named; the others still apply.
    let mut sc = healthy_estate();
    organisation(
        &mut sc,
        json!({"Version": "2012-10-17", "Statement": "not a statement"}),
    );
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--region", "us-east-1", "--format", "json"]);
    assert_exit(&o, 1);
    let r = json_of(&o);
    let f = incomplete(&r);
    assert!(
        f["evidence"].to_string().contains("DenyKeyPolicyChanges"),
        "{f:#}"
    );
    // --scp given: the file decides, nothing is missing.
    let mut sc = healthy_estate();
    organisation(&mut sc, deny);
    sc.faults.insert(
        "organizations:ListPoliciesForTarget".into(),
        "throttle".into(),
    );
    let endpoint = scenario::start(sc);
    let o = run(
        &endpoint,
        &[
            "--region",
            "us-east-1",
            "--format",
            "json",
            "--scp",
            "tests/org/scp-allow-list-without-kms.json",
        ],
    );
    let r = json_of(&o);
    assert_eq!(r["summary"]["complete"], true, "{:#}", r["summary"]);
}

/// A permission set deleted from every account it is provisioned in: `check --live` read the
/// caller's account only, so what it takes elsewhere is not known — a gap, not a pass; reading
/// the whole organisation (`--org`) covers it.
#[test]
fn a_permission_set_deleted_everywhere_needs_the_whole_organisation_read() {
    let (mut sc, _) = estate();
    sc.kms_throttle_every = 0;
    let endpoint = scenario::start(sc);
    let check = |extra: &[&str]| {
        let o = against(&endpoint.url)
            .args([
                "check",
                "tests/iac/delete/deletes-permission-set.json",
                "--live",
                "--format",
                "json",
            ])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        json_of(&o)
    };
    let gap = |r: &Value| {
        r["findings"].as_array().into_iter().flatten().any(|f| {
            f["code"] == "scan-incomplete"
                && f["title"]
                    .as_str()
                    .unwrap()
                    .contains("may be provisioned in accounts whose keys were not read")
        })
    };
    let r = check(&[]);
    assert!(gap(&r), "{:#}", r["findings"]);
    assert!(r["summary"]["errors"].as_u64().unwrap() >= 1);
    let r = check(&["--org"]);
    assert!(!gap(&r), "{:#}", r["findings"]);
}

/// An account whose KMS quota other workloads partly use: `GetKeyPolicy` 40 a second and
/// `DescribeKey` 60, well under the published 1,000, enforced by the endpoint as KMS does. The
/// scan slows to what is allowed: every key examined, each key's calls answered once, fewer
/// calls throttled than keys (the old backoff threw many more away).
#[test]
fn a_quota_below_the_published_one_is_found_and_no_key_is_lost() {
    const KEYS: usize = 120;
    const ACCOUNT: &str = "111122223333";
    let keys: Vec<Value> = (0..KEYS)
        .map(|i| {
            json!({"id": format!("{i:08x}-0000-4000-8000-{i:012x}"), "account": ACCOUNT,
                "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
                    "Action": "kms:*", "Resource": "*"}]}})
        })
        .collect();
    let sc: Scenario = serde_json::from_value(json!({
        "caller": {"arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Audit/scan"),
            "account": ACCOUNT, "user_id": "AROAEXAMPLEAUDIT0001:scan"},
        "keys": keys,
        "kms_quotas": {"GetKeyPolicy": 40, "DescribeKey": 60},
    }))
    .unwrap();
    let endpoint = scenario::start(sc);
    let o = run(&endpoint, &["--format", "json", "--no-cloudtrail"]);
    let r = json_of(&o);
    assert_eq!(r["summary"]["keys"], KEYS, "{}", r["summary"]);
    assert_eq!(r["summary"]["unknown"], 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["complete"], true, "{}", r["summary"]);
    let throttled = r["calls"]["throttled"].as_u64().unwrap();
    assert!(throttled > 0, "the quota was reached");
    assert!(throttled < KEYS as u64, "{throttled} throttled");
    for k in r["keys"].as_array().unwrap() {
        let id = k["key_id"].as_str().unwrap();
        assert_eq!(endpoint.answered("kms:GetKeyPolicy", id), 1, "{id}");
        assert_eq!(endpoint.answered("kms:DescribeKey", id), 1, "{id}");
    }
}

/// Runs `kms-doctor merge` over `reports` with `args`.
fn merge(reports: &[&std::path::Path], args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .arg("merge")
        .args(reports)
        .args(args)
        .output()
        .unwrap()
}

/// Each shard's JSON report, written to `dir`: `scan ARGS --shard I/N --format json`.
fn shards(
    endpoint: &Endpoint,
    dir: &std::path::Path,
    n: u32,
    args: &[&str],
) -> Vec<std::path::PathBuf> {
    (1..=n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            let mut all = args.to_vec();
            all.extend(["--shard", &shard, "--format", "json"]);
            let o = run(endpoint, &all);
            let r = json_of(&o);
            assert_eq!(r["shard"]["index"], i);
            assert_eq!(r["shard"]["count"], n);
            let path = dir.join(format!("shard-{i}.json"));
            std::fs::write(&path, &o.stdout).unwrap();
            path
        })
        .collect()
}

/// The report without what a sharded scan may count differently: its calls.
fn without_calls(o: &Output) -> Value {
    let mut r = json_of(o);
    r.as_object_mut().unwrap().remove("calls");
    r
}

/// An organisation scanned in two shards (by account) and a single account in three (by Region),
/// merged: the same report as one scan, in JSON and Markdown (its call count aside), with the
/// same exit status; each shard examined part of the scope.
#[test]
fn shards_merged_are_the_unsharded_scan() {
    let dir = crate::support::cli::fresh_dir("shards");
    for (args, n) in [
        (&["--org", "--region", "us-east-1"][..], 2),
        (&["--all-regions"][..], 3),
    ] {
        let (sc, _) = estate();
        let endpoint = scenario::start(sc);
        let mut whole_args = args.to_vec();
        whole_args.extend(["--format", "json"]);
        let whole = run(&endpoint, &whole_args);
        let mut md_args = args.to_vec();
        md_args.extend(["--format", "markdown"]);
        let whole_md = run(&endpoint, &md_args);
        let parts = shards(&endpoint, &dir, n, args);
        let refs: Vec<&std::path::Path> = parts.iter().map(|p| p.as_path()).collect();
        // A shard's report read by a person says it is a part.
        let mut text_args = args.to_vec();
        text_args.extend(["--shard", "1/2", "--format", "text"]);
        let part = stdout(&run(&endpoint, &text_args));
        assert!(part.contains("PART OF A SCAN: shard 1 of 2"), "{part}");
        // The shards' keys are the whole scan's, each once.
        let ids = |r: &Value| -> Vec<String> {
            r["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["key_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let mut examined: Vec<String> = parts
            .iter()
            .flat_map(|p| ids(&serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()))
            .collect();
        examined.sort();
        let mut all = ids(&json_of(&whole));
        all.sort();
        assert_eq!(examined, all, "{args:?}");
        let merged = merge(&refs, &["--format", "json"]);
        assert_eq!(merged.status.code(), whole.status.code(), "{args:?}");
        assert_eq!(without_calls(&merged), without_calls(&whole), "{args:?}");
        let merged_md = merge(&refs, &["--format", "markdown"]);
        let lines = |o: &Output| -> Vec<String> {
            stdout(o)
                .lines()
                .filter(|l| !l.contains("AWS calls"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(lines(&merged_md), lines(&whole_md), "{args:?}");
    }
}

/// A shard missing or given twice, a shard of another scan, a merge judged with other flags,
/// a report that is no shard's: each refused, exit 2, naming what is wrong.
#[test]
fn merge_refuses_missing_overlapping_and_mismatched_shards() {
    let dir = crate::support::cli::fresh_dir("bad-shards");
    let (sc, _) = estate();
    let endpoint = scenario::start(sc);
    let parts = shards(&endpoint, &dir, 2, &["--org", "--region", "us-east-1"]);
    std::fs::create_dir_all(dir.join("other")).unwrap();
    let other = shards(
        &endpoint,
        &dir.join("other"),
        2,
        &["--org", "--region", "us-east-1", "--no-cloudtrail"],
    );
    let whole = dir.join("whole.json");
    std::fs::write(
        &whole,
        run(
            &endpoint,
            &["--org", "--region", "us-east-1", "--format", "json"],
        )
        .stdout,
    )
    .unwrap();
    let said = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let cases: [(Vec<&std::path::Path>, &[&str], &str); 5] = [
        (vec![&parts[0]], &[], "missing: 2/2"),
        (vec![&parts[0], &parts[0], &parts[1]], &[], "given twice"),
        (vec![&parts[0], &other[1]], &[], "of another scan"),
        (
            vec![&parts[0], &parts[1]],
            &["--without", "arn:aws:iam::111122223333:role/Admin"],
            "judged with other",
        ),
        (vec![&parts[0], &whole], &[], "is not a shard's report"),
    ];
    for (reports, args, want) in cases {
        let o = merge(&reports, args);
        assert_exit(&o, 2);
        assert!(said(&o).contains(want), "{want}: {}", said(&o));
    }
}

/// deploy/shard-run.sh as the ECS tasks of deploy/org-scan.yaml run it: each shard's task puts
/// its report in the bucket, the merge task makes merged.json and merged.md from them and exits
/// with the whole scan's status; the merged report is the unsharded scan's. S3 is a directory
/// here, behind a stand-in for the AWS CLI's `s3 cp` that the script uses.
#[test]
fn the_shard_script_of_the_deployment_scans_and_merges() {
    let dir = crate::support::cli::fresh_dir("shard-run");
    let s3 = dir.join("s3");
    std::fs::create_dir_all(&s3).unwrap();
    let aws = dir.join("aws");
    std::fs::write(
        &aws,
        r#"#!/bin/sh
# aws s3 cp [--recursive --exclude P --include P] SRC DST, with s3://B/K as $FAKE_S3/B/K.
set -eu
[ "$1 $2" = "s3 cp" ] || { echo "unexpected: $*" >&2; exit 9; }
shift 2
recursive=0
while [ "${1#--}" != "$1" ]; do
  case $1 in --recursive) recursive=1; shift ;; *) shift 2 ;; esac
done
local_of() { case $1 in s3://*) echo "$FAKE_S3/${1#s3://}" ;; *) echo "$1" ;; esac; }
src=$(local_of "$1"); dst=$(local_of "$2")
if [ "$recursive" = 1 ]; then
  mkdir -p "$dst"; for f in "$src"shard-*.json; do [ -e "$f" ] && cp "$f" "$dst"; done; exit 0
fi
mkdir -p "$(dirname "$dst")"; cp "$src" "$dst"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&aws, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (sc, _) = estate();
    let endpoint = scenario::start(sc);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/shard-run.sh");
    let task = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(&script).env_clear();
        for (k, v) in [
            ("PATH", std::env::var("PATH").unwrap()),
            ("AWS_ENDPOINT_URL", endpoint.url.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ),
            ("AWS_REGION", "us-east-1".into()),
            (
                "AWS_CONFIG_FILE",
                "/nonexistent/kms-doctor-test-config".into(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/kms-doctor-test-credentials".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("KMS_DOCTOR", env!("CARGO_BIN_EXE_kms-doctor").into()),
            ("AWS", aws.display().to_string()),
            ("FAKE_S3", s3.display().to_string()),
            ("REPORT_BUCKET", "reports".into()),
            ("REPORT_PREFIX", "run-1".into()),
        ] {
            cmd.env(k, v);
        }
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    };
    for shard in ["1/2", "2/2"] {
        let o = task(&[("SHARD", shard)]);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{shard}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let merged = task(&[("MERGE", "1")]);
    let whole = run(
        &endpoint,
        &[
            "--org",
            "--all-regions",
            "--role-name",
            "KmsDoctorScan",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        merged.status.code(),
        whole.status.code(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let put = s3.join("reports/run-1");
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(put.join("merged.json")).unwrap()).unwrap();
    report.as_object_mut().unwrap().remove("calls");
    assert_eq!(report, without_calls(&whole));
    assert!(
        std::fs::read_to_string(put.join("merged.md"))
            .unwrap()
            .starts_with('#')
    );
    // A shard's report missing: the merge task fails, naming it.
    std::fs::remove_file(put.join("shard-2-of-2.json")).unwrap();
    let o = task(&[("MERGE", "1")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing: 2/2"));
}

/// `merge` compares the shards' organisation policies by content: the same SCP read from another
/// path (another machine) merges; another SCP is refused.
#[test]
fn merge_compares_policies_by_content_not_path() {
    let dir = crate::support::cli::fresh_dir("shard-scp");
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}]});
    let here = dir.join("scp.json");
    std::fs::write(&here, deny.to_string()).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    let there = dir.join("elsewhere/scp.json");
    std::fs::write(&there, deny.to_string()).unwrap();
    let other = dir.join("other.json");
    let mut changed = deny.clone();
    changed["Statement"][1]["Action"] = json!("kms:PutKeyPolicy");
    std::fs::write(&other, changed.to_string()).unwrap();
    let (sc, _) = estate();
    let endpoint = scenario::start(sc);
    let parts = shards(
        &endpoint,
        &dir,
        2,
        &[
            "--org",
            "--region",
            "us-east-1",
            "--scp",
            here.to_str().unwrap(),
        ],
    );
    let refs: Vec<&std::path::Path> = parts.iter().map(|p| p.as_path()).collect();
    let same = merge(
        &refs,
        &["--format", "json", "--scp", there.to_str().unwrap()],
    );
    assert!(
        same.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    let different = merge(
        &refs,
        &["--format", "json", "--scp", other.to_str().unwrap()],
    );
    assert_exit(&different, 2);
    assert!(String::from_utf8_lossy(&different.stderr).contains("judged with other"));
}
