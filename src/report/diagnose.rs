//! The `diagnose` report in each format: verdicts first, then the findings, then who can
//! restore access and what to do.

use super::doc::{Block, Doc, Line, Tone};
use super::{Format, TextOut, WriteColor, show, write_json};
use crate::diagnosis::model::PolicyEventName;
use crate::diagnosis::model::{
    Basis, DiagnoseReport, KeyManager, KeyState, Restorer, RestorerVia, SourceKind, SupportCase,
    Text, Verdict, blocked_words, count, counted, prose,
};
use crate::policy::OrgPolicyType;
use crate::text;
use std::io;

const NO_FINDING: &str = "None: the principal can read and update the key policy.";

/// Who can restore access when the policy in force is not known: unknown, never "no one".
fn unknown_restorers(r: &DiagnoseReport) -> &'static str {
    if r.key.not_found {
        "Unknown: KMS says there is no such key."
    } else if r.policy_source.kind != SourceKind::None {
        "Unknown: the policy in force was found but cannot be evaluated (see the findings)."
    } else if r.next_steps.is_empty() {
        "Unknown: the policy in force could not be learned."
    } else {
        "Unknown: the policy in force could not be learned (the next steps say how to learn it)."
    }
}

/// Said under restorers found through IAM.
const SCP_CAVEAT: &str = "(Through IAM: as far as the organisation's service control policies allow; a member account cannot read them.)";

pub fn render(r: &DiagnoseReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(r, out),
        Format::Text | Format::Markdown => show(&doc(r), format, out),
        Format::Sarif | Format::Github => Err(super::unsupported(format, "diagnose")),
    }
}

fn verdict_tone(v: Verdict) -> Tone {
    match v {
        Verdict::Allowed => Tone::Good,
        Verdict::Denied => Tone::Bad,
        Verdict::Conditional | Verdict::Unknown => Tone::Warn,
    }
}

fn exists(r: &Restorer) -> &'static str {
    match r.exists {
        Some(true) => "exists",
        Some(false) => "deleted",
        None => "existence unknown",
    }
}

/// `(CUSTOMER, Enabled)`: the key's manager and state, when known.
fn key_facts(r: &DiagnoseReport) -> Option<String> {
    let facts: Vec<&str> = [
        r.key.manager.as_ref().map(KeyManager::as_str),
        r.key.state.as_ref().map(KeyState::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!facts.is_empty()).then(|| facts.join(", "))
}

/// The source of the policy in force: kms-doctor's words and the values they name.
fn source_line(r: &DiagnoseReport) -> Line {
    let s = &r.policy_source;
    let from = match s.kind {
        SourceKind::Current => return "read with GetKeyPolicy (current)".into(),
        SourceKind::None => {
            return "unknown (not readable, no change in CloudTrail's 90-day history)".into();
        }
        SourceKind::Cloudtrail => "from CloudTrail",
        SourceKind::Archive => "from the CloudTrail log archive",
        SourceKind::Athena => "from the Athena query over the CloudTrail table",
    };
    Line::new()
        .w(from)
        .w(": ")
        .v(s.event_name.map_or("event", PolicyEventName::as_str))
        .w(" at ")
        .v(s.event_time
            .map_or_else(|| "?".to_owned(), |t| t.to_string()))
        .w(" by ")
        .v(s.changed_by.as_deref().unwrap_or("?"))
        .w(" (event ")
        .v(s.event_id.as_deref().unwrap_or("?"))
        .w(")")
}

/// `3 events on 1 page read (last 90 days), 1 unreadable record skipped, 1 failed attempt since`
fn history_line(r: &DiagnoseReport) -> Option<Text> {
    let h = r.history.as_ref()?;
    let mut line = text!(
        counted(h.events_scanned, "event", "events"),
        " on ",
        counted(h.pages, "page", "pages"),
        " read (last ",
        count(h.lookback_days),
        " days)"
    );
    if h.skipped_records > 0 {
        line.append(text!(
            ", ",
            counted(h.skipped_records, "unreadable record", "unreadable records"),
            " skipped"
        ));
    }
    if !h.failed_attempts.is_empty() {
        line.append(text!(
            ", ",
            counted(
                h.failed_attempts.len() as u64,
                "failed attempt",
                "failed attempts"
            ),
            " since"
        ));
    }
    match &h.cut_short {
        Some(why) => line.append(text!(", search cut short ", why.text())),
        None if !h.complete => line.push(", search cut short by a failed call"),
        None => {}
    }
    Some(line)
}

fn doc(r: &DiagnoseReport) -> Doc<'_> {
    let mut doc = Doc::new("kms-doctor diagnosis");
    // The answer first, on the first screen: why, who can restore access, what next.
    for (label, text) in [
        ("Why: ", &r.summary.why),
        ("Who can restore: ", &r.summary.who_can_restore),
        ("Next: ", &r.summary.next),
    ] {
        doc.push(Block::Summary(Line::new().ws(Tone::Strong, label).t(text)));
    }
    doc.push(Block::Fields(fields(r)));
    doc.heading("Verdict").list(verdicts(r));
    doc.heading("Findings").push(Block::Findings {
        items: r.findings.iter().collect(),
        none: Some(NO_FINDING),
    });
    restorers_section(r, &mut doc);
    if !r.next_steps.is_empty() {
        doc.heading("Next steps").push(Block::List {
            ordered: true,
            items: r.next_steps.iter().map(Line::from).collect(),
        });
    }
    if let Some(case) = &r.support_case {
        support_case(case, &mut doc);
    }
    let listed = if r.calls_listed {
        "listed on standard error"
    } else {
        "-v lists them"
    };
    doc.push(Block::Note(Line::new().words(text!(
        counted(r.calls.len() as u64, "AWS call", "AWS calls"),
        ", all read-only (",
        prose(listed),
        ")."
    ))));
    doc.push(Block::Appendix(appendix(r)));
    doc
}

/// The key, who asked, and where the policy and its history came from.
fn fields(r: &DiagnoseReport) -> Vec<(&'static str, Line)> {
    let mut key = match &r.key.arn {
        Some(arn) => Line::new().v(arn),
        None => Line::new().v(&r.key.input).w(" (ARN unknown)"),
    };
    if let Some(facts) = key_facts(r) {
        key = key.w("  (").v(facts).w(")");
    }
    let mut caller = Line::new().v(&r.caller.arn);
    if let Some(p) = r
        .caller
        .principal_arn
        .as_ref()
        .filter(|p| **p != r.caller.arn)
    {
        caller = caller.w("  (as ").v(p).w(")");
    }
    let mut fields = vec![("Key", key), ("Caller", caller)];
    if let Some(p) = &r.principal {
        fields.push(("Principal", Line::new().v(&p.arn)));
    }
    fields.push(("Key policy", source_line(r)));
    if let Some(h) = history_line(r) {
        fields.push(("CloudTrail", Line::new().words(h)));
    }
    fields
}

/// Each verdict in words: what, how it is known, and the findings that explain it.
fn verdicts(r: &DiagnoseReport) -> Vec<Line> {
    r.access
        .iter()
        .map(|a| {
            let because: Vec<Text> = a.because.iter().map(|c| Text::from(c.as_str())).collect();
            let mut line = Line::new()
                .v(&a.action)
                .w(" ")
                .ws(verdict_tone(a.verdict), a.verdict.as_str())
                .w(match a.basis {
                    Basis::Observed => ": AWS answered so",
                    Basis::Inferred => ": inferred from the policies read",
                });
            if !because.is_empty() {
                line = line.w(", because of ").words(Text::join(because, ", "));
            }
            line
        })
        .collect()
}

/// Who can restore access, and how to get there.
fn restorers_section<'a>(r: &'a DiagnoseReport, doc: &mut Doc<'a>) {
    doc.heading("Who can restore access (kms:PutKeyPolicy)");
    match &r.restorers {
        None => {
            doc.para(Line::new().ws(Tone::Warn, unknown_restorers(r)));
        }
        Some(none) if none.is_empty() => {
            doc.para(Line::new().ws(Tone::Bad, "No one, according to the policy in force."));
        }
        Some(restorers) => {
            doc.push(Block::Table {
                head: vec!["Principal", "Exists", "Statement", "Source", "Notes"],
                rows: restorers.iter().map(restorer).collect(),
            });
        }
    }
    if r.restorers
        .iter()
        .flatten()
        .any(|g| g.via == RestorerVia::Iam)
    {
        doc.para(Line::new().ws(Tone::Dim, SCP_CAVEAT));
    }
    how_to_get_there(r, doc);
}

/// The policy in force and the AWS calls, folded away in Markdown.
fn appendix(r: &DiagnoseReport) -> Vec<Block<'_>> {
    let mut appendix = Vec::new();
    if let Some(policy) = &r.policy {
        appendix.push(Block::Heading("Key policy in force".into()));
        appendix.push(Block::Para(Line::new().w("Source: ").then(source_line(r))));
        appendix.push(Block::Code {
            lang: "json",
            text: serde_json::to_string_pretty(policy).unwrap_or_default(),
        });
    }
    appendix.push(Block::Heading("AWS calls".into()));
    appendix.push(Block::Table {
        head: vec!["Service", "Operation", "Outcome", "ms"],
        rows: r
            .calls
            .iter()
            .map(|c| {
                vec![
                    Line::new().v(c.service.as_str()),
                    Line::new().v(c.operation.as_str()),
                    Line::new().w(c.outcome.as_str()),
                    Line::new().words(count(c.ms)),
                ]
            })
            .collect(),
    });
    appendix
}

/// What AWS Support needs, ready to paste into the case.
fn support_case<'a>(case: &'a SupportCase, doc: &mut Doc<'a>) {
    let unknown = || Line::new().ws(Tone::Dim, "not known");
    let mut fields = vec![
        (
            "Key",
            case.key_arn
                .as_deref()
                .map_or_else(unknown, |k| Line::new().v(k)),
        ),
        (
            "Region",
            case.region
                .as_deref()
                .map_or_else(unknown, |g| Line::new().v(g)),
        ),
        (
            "Account",
            case.account.as_deref().map_or_else(unknown, |a| {
                Line::new().v(a).w(" (open the case from this account)")
            }),
        ),
    ];
    if let Some(e) = &case.removed_by {
        let mut line = Line::new().v(e.event_name.map_or("PutKeyPolicy", PolicyEventName::as_str));
        if let Some(id) = &e.event_id {
            line = line.w(" event ").v(id.to_string());
        }
        if let Some(t) = &e.event_time {
            line = line.w(" at ").v(t.to_string());
        }
        if let Some(by) = &e.changed_by {
            line = line.w(" by ").v(by);
        }
        fields.push(("Access removed by", line));
    }
    doc.heading("For AWS Support").push(Block::Fields(fields));
    match &case.policy {
        Some(policy) => {
            doc.para("The policy to ask them to set: the policy in force with the account delegation statement added.")
                .push(Block::Code {
                    lang: "json",
                    text: serde_json::to_string_pretty(policy).unwrap_or_default(),
                });
        }
        None => {
            doc.para("The policy in force is not known: ask them to restore the account delegation statement (\"Enable IAM User Permissions\").");
        }
    }
}

/// A restorer: who, whether it exists, the statement (or IAM policy) that lets it, and when.
fn restorer(g: &Restorer) -> Vec<Line> {
    let mut notes = Vec::new();
    if g.via_iam() {
        notes.push(Line::from(
            "any IAM principal of the account whose IAM policies allow kms:PutKeyPolicy",
        ));
    }
    if !g.conditions_on.is_empty() {
        notes.push(
            Line::new()
                .w("if conditions on ")
                .v(g.conditions_on
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .w(" hold"),
        );
    }
    if let Some(b) = &g.blocked_by {
        notes.push(
            Line::new()
                .ws(Tone::Bad, "blocked")
                .w(" by ")
                .w(match b.policy_type {
                    OrgPolicyType::Scp => "SCP ",
                    OrgPolicyType::Rcp => "RCP ",
                })
                .t(&blocked_words(b)),
        );
    }
    if let Some(boundary) = &g.limited_by_boundary {
        notes.push(
            Line::new()
                .ws(Tone::Bad, "kept out")
                .w(" by its permissions boundary ")
                .v(boundary),
        );
    }
    if let Some(boundary) = &g.boundary_unread {
        notes.push(
            Line::new()
                .w("has a permissions boundary, ")
                .v(boundary)
                .w(", that could not be read: whether it allows kms:PutKeyPolicy is unknown"),
        );
    }
    let notes = notes
        .into_iter()
        .reduce(|a, b| a.w("; ").then(b))
        .unwrap_or_default();
    vec![
        Line::new().vs(Tone::Strong, &g.principal),
        Line::from(exists(g)),
        match g.via {
            RestorerVia::KeyPolicy => Line::new().q(&g.statement),
            RestorerVia::Iam => Line::new().v(&g.statement),
        },
        Line::from(g.source.as_str()),
        notes,
    ]
}

/// Who may assume a role restorer, in words: the principals its trust policy names, or the
/// users of an IAM Identity Center permission set.
fn assumers(g: &Restorer) -> Option<String> {
    if let Some(set) = &g.permission_set {
        return Some(format!("users assigned permission set {set}"));
    }
    (!g.assumable_by.is_empty()).then(|| g.assumable_by.join(", "))
}

/// The lines of `~/.aws/config` that chain the role assumptions of a path, the profile to use,
/// and the put-key-policy command to run with it.
fn restore_commands(r: &DiagnoseReport, path: &[String]) -> (Vec<String>, String) {
    let mut lines = Vec::new();
    let mut source = "YOUR_PROFILE".to_owned();
    for (i, role) in path[1..].iter().enumerate() {
        let name = format!("kms-doctor-restore-{}", i + 1);
        lines.push(format!("[profile {name}]"));
        lines.push(format!("role_arn = {role}"));
        lines.push(format!("source_profile = {source}"));
        source = name;
    }
    let key = r.key.arn.clone().unwrap_or_else(|| r.key.input.clone());
    let region = r
        .key
        .region
        .as_deref()
        .map(|g| format!(" --region {g}"))
        .unwrap_or_default();
    let command = format!(
        "aws kms put-key-policy --profile {source} --key-id {key}{region} --policy-name default --policy file://key-policy.json"
    );
    (lines, command)
}

/// What is known of the way: no way at all, or trust policies that could not be read.
fn no_way(r: &DiagnoseReport) -> &'static str {
    if r.reachable_restorers()
        .any(|g| g.caller_can_assume.is_some())
    {
        "No way from you; ask one of:"
    } else {
        "Whether you can assume them is not known (their trust policies were not read); ask one of:"
    }
}

/// The way from the caller to a restorer, and what to run; or who to ask.
fn how_to_get_there(r: &DiagnoseReport, doc: &mut Doc) {
    match &r.restore_path {
        Some(path) if path.len() == 1 => {}
        Some(path) => {
            let mut way = Line::new().w(if r.restore_path_conditional {
                "You may be able to restore access yourself, if the trust policy's conditions hold (MFA, an external ID…): "
            } else {
                "You can restore access yourself: "
            });
            for (i, step) in path.iter().enumerate() {
                if i > 0 {
                    way = way.w(" → ");
                }
                way = way.v(step);
            }
            let (lines, command) = restore_commands(r, path);
            doc.heading("How to get there")
                .para(way)
                .para("Add to ~/.aws/config (YOUR_PROFILE: the profile you use now):")
                .push(Block::Code {
                    lang: "ini",
                    text: lines.join("\n"),
                })
                .para(
                    "then, with the fixed policy in key-policy.json (kms-doctor's --write-fix key-policy.json writes it), apply it as that role:",
                )
                .push(Block::Code {
                    lang: "sh",
                    text: command,
                });
        }
        None if r.reachable_restorers().next().is_some() => {
            let items = r
                .reachable_restorers()
                .map(|g| {
                    let line = Line::new().v(&g.principal);
                    match assumers(g) {
                        Some(who) => line.w(": assumable by ").v(who),
                        None => line,
                    }
                })
                .collect();
            doc.heading("How to get there").para(no_way(r)).list(items);
        }
        None => {}
    }
}

/// `-v`: the calls, one a line.
pub fn write_calls(
    calls: &[crate::diagnosis::model::CallRecord],
    out: &mut dyn WriteColor,
) -> io::Result<()> {
    let mut out = TextOut::new(out);
    for c in calls {
        out.p("kms-doctor: ")?
            .v(c.service.as_str())?
            .p(":")?
            .v(c.operation.as_str())?
            .v(&format!(" {} in {} ms", c.outcome.as_str(), c.ms))?;
        if let Some(code) = &c.error_code {
            out.p(" (")?.v(code)?.p(")")?;
        }
        out.nl()?;
    }
    Ok(())
}
