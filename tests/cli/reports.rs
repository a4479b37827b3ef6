//! The report layer: what each format says, how untrusted text is escaped, how redaction and
//! colour combine, and how the binary behaves when its reader goes away.

use crate::support::cli::{kms_doctor, stdout};
use kms_doctor::diagnosis::diagnose::DiagnoseOptions;
use kms_doctor::diagnosis::model::{DiagnoseReport, Evidence, SourceKind};
use kms_doctor::report::{Format, NoColor};
use std::io::Read;
use std::process::{Command, Stdio};

const EVIDENCE: &str = "examples/evidence-locked-out.json";

fn evidence() -> Evidence {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn report(ev: &Evidence) -> DiagnoseReport {
    let now = "2026-11-28T09:30:00Z".parse().unwrap();
    kms_doctor::diagnosis::diagnose(ev, now, DiagnoseOptions::default())
}

fn render(r: &DiagnoseReport, format: Format) -> String {
    let mut out = kms_doctor::report::Width(NoColor(Vec::new()), 1000);
    kms_doctor::report::diagnose::render(r, format, &mut out).unwrap();
    String::from_utf8(out.0.0).unwrap()
}

/// The evidence with its policy in force learned from `kind`.
fn from_source(kind: SourceKind) -> Evidence {
    let mut ev = evidence();
    let history = ev.history.as_mut().unwrap();
    match kind {
        SourceKind::Current => {
            ev.current_policy = history.in_force.as_ref().unwrap().policy.clone();
            ev.history = None;
        }
        SourceKind::None => history.in_force = None,
        other => history.source = other,
    }
    ev
}

#[test]
fn text_and_markdown_name_where_the_policy_came_from() {
    let cases = [
        (SourceKind::Current, "read with GetKeyPolicy (current)"),
        (SourceKind::Cloudtrail, "from CloudTrail: "),
        (SourceKind::Archive, "from the CloudTrail log archive: "),
        (
            SourceKind::Athena,
            "from the Athena query over the CloudTrail table: ",
        ),
        (SourceKind::None, "unknown (not readable"),
    ];
    for (kind, says) in cases {
        let r = report(&from_source(kind));
        assert_eq!(r.policy_source.kind, kind);
        let text = render(&r, Format::Text);
        let policy_line = text.lines().find(|l| l.starts_with("Key policy")).unwrap();
        assert!(policy_line.contains(says), "{kind:?} text: {policy_line}");
        let markdown = render(&r, Format::Markdown);
        let row = markdown
            .lines()
            .find(|l| l.starts_with("| Key policy |"))
            .unwrap();
        assert!(row.contains(says), "{kind:?} markdown: {row}");
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["policy_source"]["kind"], kind.as_str());
        if kind != SourceKind::Current && kind != SourceKind::None {
            assert!(
                policy_line.contains("6f0b2c1e-7a0d-4c1b-9a51-3f1e2d4c5b6a"),
                "{kind:?} names the event: {policy_line}"
            );
            for restorer in r.restorers.iter().flatten() {
                assert_eq!(restorer.source, kind, "restorers name the same source");
            }
        }
    }
}

/// Evidence whose policy carries hostile text in a Sid and a principal.
fn hostile() -> Evidence {
    let mut ev = evidence();
    let sid = "Admins\u{1b}]52;c;aGk=\u{7}\n- arn:aws:iam::111122223333:role/Forged  exists via \"x\" [x](javascript:alert(1)) <script>|`";
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": sid, "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/Key\u{202e}Admin"},
        "Action": "kms:*", "Resource": "*"}]});
    ev.history
        .as_mut()
        .unwrap()
        .in_force
        .as_mut()
        .unwrap()
        .policy = Some(policy.to_string());
    ev
}

#[test]
fn hostile_text_cannot_act_in_text_or_markdown() {
    let r = report(&hostile());
    let text = render(&r, Format::Text);
    assert!(
        !text.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "no raw control or bidi character"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("- arn:")),
        "a line break in a Sid starts no line:\n{text}"
    );
    assert!(
        text.contains("Admins\\u{1b}]52;c;aGk=\\u{7}\\n- arn"),
        "{text}"
    );

    let markdown = render(&r, Format::Markdown);
    assert!(!markdown.contains(['\u{1b}', '\u{7}', '\u{202e}']));
    let rendered = crate::support::markdown::render(&markdown);
    assert!(
        rendered.markup.is_empty(),
        "live markup from data: {:?}",
        rendered.markup
    );
    assert!(
        rendered
            .code
            .iter()
            .any(|c| c.contains("[x](javascript:alert(1)) <script>")),
        "the Sid is shown, as code: {:?}",
        rendered.code
    );
    // The policy block gives back the policy: valid JSON with the hostile Sid intact.
    let block = rendered
        .blocks
        .first()
        .expect("the policy in force, fenced");
    let policy: serde_json::Value = serde_json::from_str(block).unwrap();
    let sid = policy["Statement"][0]["Sid"].as_str().unwrap();
    assert!(sid.starts_with("Admins\u{1b}]52"), "{sid:?}");
    // Tables keep their shape: each row has as many cells as its header.
    let restorers = rendered
        .tables
        .iter()
        .find(|t| t[0][0] == "Principal" && t[0][1] == "Exists")
        .expect("the restorers table");
    for row in restorers {
        assert_eq!(row.len(), 5, "{row:?}");
    }
    assert!(restorers[1][2].contains("<script>|`"), "{restorers:?}");
}

#[test]
fn redaction_with_colour_keeps_escapes_intact_and_names_stable() {
    let run = |format: &str, color: &str| {
        let o = kms_doctor(&[
            "diagnose",
            "--from-evidence",
            EVIDENCE,
            "--format",
            format,
            "--redact",
            "--color",
            color,
        ]);
        assert_eq!(o.status.code(), Some(1));
        stdout(&o)
    };
    let coloured = run("text", "always");
    assert!(coloured.contains("\u{1b}["), "colour is on");
    // Every escape is a complete SGR sequence, and no style runs on past its line.
    for line in coloured.lines() {
        let mut styled = false;
        for (i, _) in line.match_indices('\u{1b}') {
            let seq: String = line[i + 1..].chars().take_while(|c| *c != 'm').collect();
            assert!(
                seq.starts_with('[') && seq[1..].chars().all(|c| c.is_ascii_digit() || c == ';'),
                "a broken escape sequence: {seq:?} in {line:?}"
            );
            styled = seq != "[0";
        }
        assert!(!styled, "a style is not reset by the end of {line:?}");
    }
    let plain = run("text", "never");
    assert_eq!(strip_sgr(&coloured), plain, "colour changes nothing else");

    // The key administrator has one pseudonym, in every format and every place.
    let json: serde_json::Value = serde_json::from_str(&run("json", "never")).unwrap();
    let admin = json["restorers"][0]["principal"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!admin.contains("KeyAdmin"), "{admin}");
    assert!(json["next_steps"][0].as_str().unwrap().contains(&admin));
    assert!(
        plain
            .lines()
            .any(|l| l.trim_start().starts_with(&admin) && l.contains("  exists  ")),
        "{plain}"
    );
    assert!(plain.contains(&format!("Ask {admin} to update")), "{plain}");
    let markdown = run("markdown", "never");
    assert!(
        markdown.contains(&format!("| `{admin}` | exists |")),
        "{markdown}"
    );
    for out in [&coloured, &plain, &markdown] {
        for secret in ["111122223333", "KeyAdmin", "alice", "Deployer"] {
            assert!(!out.contains(secret), "{secret} leaks");
        }
    }
}

fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('m').map_or(rest.len(), |j| i + j + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_zero() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args([
            "diagnose",
            "--from-evidence",
            EVIDENCE,
            "--format",
            "markdown",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // The reader goes away before kms-doctor writes (`| head -0`).
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "nothing on standard error");
}

#[test]
fn an_error_line_shows_outside_text_escaped() {
    // A path (typed by the user, or pasted from a hostile listing) that tries to clear the screen
    // and forge a second line.
    let hostile = "/nonexistent/\u{1b}[2J\nkms-doctor: all good.json";
    let o = kms_doctor(&["diagnose", "--from-evidence", hostile, "-v"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        !err.lines().any(|l| l.starts_with("kms-doctor: all good")),
        "{err:?}"
    );
    assert!(
        err.contains("\\u{1b}[2J\\nkms-doctor: all good.json"),
        "{err:?}"
    );
}

#[test]
fn who_can_restore_is_unknown_never_no_one_when_the_policy_cannot_be_used() {
    // Not learned at all.
    let mut unknown = from_source(SourceKind::None);
    unknown.current_policy = None;
    let r = report(&unknown);
    assert!(r.restorers.is_none());
    let text = render(&r, Format::Text);
    assert!(
        text.contains("Unknown: the policy in force could not be learned"),
        "{text}"
    );
    assert!(!text.contains("No one"), "{text}");
    // Learned, but not a policy kms-doctor can evaluate.
    let mut broken = from_source(SourceKind::Current);
    broken.current_policy = Some("{\"Statement\": 7}".into());
    let r = report(&broken);
    assert!(r.restorers.is_none());
    let text = render(&r, Format::Markdown);
    assert!(text.contains("cannot be evaluated"), "{text}");
    assert!(!text.contains("No one"), "{text}");
}
