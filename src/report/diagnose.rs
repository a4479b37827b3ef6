//! The `diagnose` report in each format: verdicts first, then the findings, then who can
//! restore access and what to do.

use super::escape::{self, MdContext};
use super::{
    Format, MdOut, TextOut, WriteColor, styles, write_findings_markdown, write_findings_text,
    write_json,
};
use crate::diagnosis::model::{
    DiagnoseReport, KeyManager, KeyState, Restorer, RestorerVia, SourceKind, Verdict,
};
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
        Format::Text => text(r, &mut TextOut::new(out)),
        Format::Markdown => markdown(r, &mut MdOut::new(out)),
    }
}

fn verdict_style(v: Verdict) -> anstyle::Style {
    match v {
        Verdict::Allowed => styles::GOOD,
        Verdict::Denied => styles::BAD,
        Verdict::Conditional | Verdict::Unknown => styles::WARN,
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

/// The source of the policy in force, as kms-doctor's words and the values they name.
enum SourceLine<'a> {
    Words(&'static str),
    Event {
        from: &'static str,
        name: &'a str,
        time: String,
        by: &'a str,
        id: &'a str,
    },
}

fn source_line(r: &DiagnoseReport) -> SourceLine<'_> {
    let s = &r.policy_source;
    let from = match s.kind {
        SourceKind::Current => return SourceLine::Words("read with GetKeyPolicy (current)"),
        SourceKind::None => {
            return SourceLine::Words(
                "unknown (not readable, no change in CloudTrail's 90-day history)",
            );
        }
        SourceKind::Cloudtrail => "from CloudTrail",
        SourceKind::Archive => "from the CloudTrail log archive",
        SourceKind::Athena => "from the Athena query over the CloudTrail table",
    };
    SourceLine::Event {
        from,
        name: s.event_name.as_deref().unwrap_or("event"),
        time: s
            .event_time
            .map_or_else(|| "?".to_owned(), |t| t.to_string()),
        by: s.changed_by.as_deref().unwrap_or("?"),
        id: s.event_id.as_deref().unwrap_or("?"),
    }
}

/// `3 events on 1 page read (last 90 days), 1 unreadable record skipped, 1 failed attempt since`
fn history_line(r: &DiagnoseReport) -> Option<String> {
    let h = r.history.as_ref()?;
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "{} on {} read (last {} days)",
        plural(h.events_scanned, "event", "events"),
        plural(u64::from(h.pages), "page", "pages"),
        h.lookback_days
    );
    if h.skipped_records > 0 {
        line.push_str(&format!(
            ", {} skipped",
            plural(h.skipped_records, "unreadable record", "unreadable records")
        ));
    }
    if !h.failed_attempts.is_empty() {
        line.push_str(&format!(
            ", {} since",
            plural(
                h.failed_attempts.len() as u64,
                "failed attempt",
                "failed attempts"
            )
        ));
    }
    match &h.cut_short {
        Some(why) => line.push_str(&format!(", search cut short {why}")),
        None if !h.complete => line.push_str(", search cut short by a failed call"),
        None => {}
    }
    Some(line)
}

fn text(r: &DiagnoseReport, out: &mut TextOut) -> io::Result<()> {
    out.styled(styles::BOLD, "Key      ")?.p(" ")?;
    match &r.key.arn {
        Some(arn) => out.v(arn)?,
        None => out.v(&r.key.input)?.p(" (ARN unknown)")?,
    };
    if let Some(facts) = key_facts(r) {
        out.p("  (")?.v(&facts)?.p(")")?;
    }
    out.nl()?;
    out.styled(styles::BOLD, "Caller   ")?
        .p(" ")?
        .v(&r.caller.arn)?;
    if let Some(p) = r
        .caller
        .principal_arn
        .as_ref()
        .filter(|p| **p != r.caller.arn)
    {
        out.p("  (as ")?.v(p)?.p(")")?;
    }
    out.nl()?;
    if let Some(p) = &r.principal {
        out.styled(styles::BOLD, "Principal")?
            .p(" ")?
            .v(&p.arn)?
            .nl()?;
    }
    out.styled(styles::BOLD, "Policy   ")?.p(" ")?;
    match source_line(r) {
        SourceLine::Words(w) => out.p(w)?,
        SourceLine::Event {
            from,
            name,
            time,
            by,
            id,
        } => out
            .p(from)?
            .p(": ")?
            .v(name)?
            .p(" at ")?
            .v(&time)?
            .p(" by ")?
            .v(by)?
            .p(" (event ")?
            .v(id)?
            .p(")")?,
    };
    out.nl()?;
    if let Some(h) = history_line(r) {
        out.styled(styles::BOLD, "CloudTrail")?
            .p(" ")?
            .v(&h)?
            .nl()?;
    }

    out.heading("Verdict")?;
    for a in &r.access {
        let because: Vec<&str> = a.because.iter().map(|c| c.as_str()).collect();
        out.v(&format!("  {:<18} ", a.action))?
            .styled(
                verdict_style(a.verdict),
                &format!("{:<12}", a.verdict.as_str()),
            )?
            .v(&format!(" {:<9} {}", a.basis.as_str(), because.join(", ")))?
            .nl()?;
    }

    write_findings_text(&r.findings, NO_FINDING, out)?;

    out.heading("Who can restore access (kms:PutKeyPolicy)")?;
    match &r.restorers {
        None => {
            out.p("  ")?
                .styled(styles::WARN, unknown_restorers(r))?
                .nl()?;
        }
        Some(none) if none.is_empty() => {
            out.p("  ")?
                .styled(styles::BAD, "No one, according to the policy in force.")?
                .nl()?;
        }
        Some(_) => {}
    }
    for g in r.restorers.iter().flatten() {
        out.p("  - ")?
            .styled_v(styles::BOLD, &g.principal)?
            .p("  ")?
            .p(exists(g))?;
        match g.via {
            RestorerVia::KeyPolicy => out
                .p(" via \"")?
                .v(&g.statement)?
                .p("\" (")?
                .p(g.source.as_str())?
                .p(")")?,
            RestorerVia::Iam => out
                .p(", through the account delegation: ")?
                .v(&g.statement)?
                .p(" allows kms:PutKeyPolicy")?,
        };
        if g.via_iam() {
            out.p("; any IAM principal of the account whose IAM policies allow kms:PutKeyPolicy")?;
        }
        if !g.conditions_on.is_empty() {
            out.p("; if conditions on ")?
                .v(&g.conditions_on.join(", "))?
                .p(" hold")?;
        }
        out.nl()?;
    }

    if r.restorers
        .iter()
        .flatten()
        .any(|g| g.via == RestorerVia::Iam)
    {
        out.p("  ")?.styled(styles::DIM, SCP_CAVEAT)?.nl()?;
    }
    how_to_get_there_text(r, out)?;

    if !r.next_steps.is_empty() {
        out.heading("Next steps")?;
        for (i, s) in r.next_steps.iter().enumerate() {
            out.v(&format!("  {}. ", i + 1))?.t(s)?.nl()?;
        }
    }
    out.nl()?;
    let listed = if r.calls_listed {
        "listed on standard error"
    } else {
        "-v lists them"
    };
    out.styled(
        styles::DIM,
        &format!("{} AWS calls, all read-only ({listed}).", r.calls.len()),
    )?
    .nl()?;
    Ok(())
}

fn markdown(r: &DiagnoseReport, out: &mut MdOut) -> io::Result<()> {
    use MdContext::{Block, Cell};
    out.raw("# kms-doctor diagnosis\n\n| | |\n|---|---|\n")?;
    out.raw("| Key | ")?;
    match &r.key.arn {
        Some(arn) => out.code(arn, Cell)?,
        None => out.code(&r.key.input, Cell)?.p(" (ARN unknown)", Cell)?,
    };
    if let Some(facts) = key_facts(r) {
        out.raw(" (")?.code(&facts, Cell)?.raw(")")?;
    }
    out.raw(" |\n| Caller | ")?
        .code(&r.caller.arn, Cell)?
        .raw(" |\n")?;
    if let Some(p) = &r.caller.principal_arn {
        out.raw("| Caller's IAM principal | ")?
            .code(p, Cell)?
            .raw(" |\n")?;
    }
    if let Some(p) = &r.principal {
        out.raw("| Principal diagnosed | ")?
            .code(&p.arn, Cell)?
            .raw(" |\n")?;
    }
    out.raw("| Key policy | ")?;
    source_markdown(r, out, Cell)?;
    out.raw(" |\n")?;
    if let Some(h) = history_line(r) {
        out.raw("| CloudTrail | ")?.p(&h, Cell)?.raw(" |\n")?;
    }

    out.raw("\n## Verdict\n\n| Action | Verdict | Basis | Because |\n|---|---|---|---|\n")?;
    for a in &r.access {
        let because: Vec<String> = a.because.iter().map(|c| format!("`{c}`")).collect();
        out.raw("| ")?.code(&a.action, Cell)?.raw(&format!(
            " | **{}** | {} | {} |\n",
            a.verdict.as_str(),
            a.basis.as_str(),
            because.join(", ")
        ))?;
    }
    out.raw("\n")?;

    write_findings_markdown(&r.findings, NO_FINDING, out)?;

    out.raw("## Who can restore access (`kms:PutKeyPolicy`)\n\n")?;
    match &r.restorers {
        None => {
            out.p(unknown_restorers(r), MdContext::Block)?.raw("\n\n")?;
        }
        Some(none) if none.is_empty() => {
            out.raw("No one, according to the policy in force.\n\n")?;
        }
        Some(restorers) => {
            out.raw("| Principal | Exists | Statement | Source |\n|---|---|---|---|\n")?;
            for g in restorers {
                out.raw("| ")?
                    .code(&g.principal, Cell)?
                    .raw(&format!(" | {} | ", exists(g)))?
                    .code(&g.statement, Cell)?
                    .raw(&format!(" | {} |\n", g.source.as_str()))?;
            }
            out.raw("\n")?;
        }
    }

    if r.restorers
        .iter()
        .flatten()
        .any(|g| g.via == RestorerVia::Iam)
    {
        out.p(SCP_CAVEAT, MdContext::Block)?.raw("\n\n")?;
    }
    how_to_get_there_markdown(r, out)?;

    if !r.next_steps.is_empty() {
        out.raw("## Next steps\n\n")?;
        for (i, s) in r.next_steps.iter().enumerate() {
            out.raw(&format!("{}. ", i + 1))?.t(s, Block)?.raw("\n")?;
        }
        out.raw("\n")?;
    }

    if let Some(policy) = &r.policy {
        out.raw("## Key policy in force\n\nSource: ")?;
        source_markdown(r, out, Block)?;
        out.raw("\n\n")?
            .raw(&escape::fence(
                &serde_json::to_string_pretty(policy).unwrap_or_default(),
                "json",
            ))?
            .raw("\n\n")?;
    }

    out.raw("## AWS calls\n\n| Service | Operation | Outcome | ms |\n|---|---|---|---|\n")?;
    for c in &r.calls {
        out.raw("| ")?
            .code(c.service.as_str(), Cell)?
            .raw(" | ")?
            .code(c.operation.as_str(), Cell)?
            .raw(&format!(" | {} | {} |\n", c.outcome.as_str(), c.ms))?;
    }
    Ok(())
}

fn source_markdown(r: &DiagnoseReport, out: &mut MdOut, ctx: MdContext) -> io::Result<()> {
    match source_line(r) {
        SourceLine::Words(w) => {
            out.p(w, ctx)?;
        }
        SourceLine::Event {
            from,
            name,
            time,
            by,
            id,
        } => {
            out.p(from, ctx)?
                .raw(": ")?
                .code(name, ctx)?
                .raw(" at ")?
                .code(&time, ctx)?
                .raw(" by ")?
                .code(by, ctx)?
                .raw(" (event ")?
                .code(id, ctx)?
                .raw(")")?;
        }
    }
    Ok(())
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
    if reachable(r).any(|g| g.caller_can_assume.is_some()) {
        "No way from you; ask one of:"
    } else {
        "Whether you can assume them is not known (their trust policies were not read); ask one of:"
    }
}

/// The restorers that someone could reach: existing roles.
fn reachable(r: &DiagnoseReport) -> impl Iterator<Item = &Restorer> {
    r.restorers
        .iter()
        .flatten()
        .filter(|g| g.exists != Some(false) && !g.via_iam())
}

fn how_to_get_there_text(r: &DiagnoseReport, out: &mut TextOut) -> io::Result<()> {
    match &r.restore_path {
        Some(path) if path.len() == 1 => return Ok(()),
        Some(path) => {
            out.heading("How to get there")?;
            out.p("  You can restore access yourself: ")?;
            for (i, step) in path.iter().enumerate() {
                if i > 0 {
                    out.p(" → ")?;
                }
                out.v(step)?;
            }
            let (lines, command) = restore_commands(r, path);
            out.nl()?
                .p("  Add to ~/.aws/config (YOUR_PROFILE: the profile you use now):")?
                .nl()?;
            for line in &lines {
                out.p("    ")?.v(line)?.nl()?;
            }
            out.p("  then, with key-policy.json edited as the findings say:")?
                .nl()?
                .p("    ")?
                .v(&command)?
                .nl()?;
        }
        None => {
            if reachable(r).next().is_none() {
                return Ok(());
            }
            out.heading("How to get there")?;
            out.p("  ")?.p(no_way(r))?.nl()?;
            for g in reachable(r) {
                out.p("  - ")?.v(&g.principal)?;
                if let Some(who) = assumers(g) {
                    out.p(": assumable by ")?.v(&who)?;
                }
                out.nl()?;
            }
        }
    }
    Ok(())
}

fn how_to_get_there_markdown(r: &DiagnoseReport, out: &mut MdOut) -> io::Result<()> {
    use MdContext::Block;
    match &r.restore_path {
        Some(path) if path.len() == 1 => {}
        Some(path) => {
            out.raw("## How to get there\n\nYou can restore access yourself: ")?;
            for (i, step) in path.iter().enumerate() {
                if i > 0 {
                    out.raw(" → ")?;
                }
                out.code(step, Block)?;
            }
            let (lines, command) = restore_commands(r, path);
            out.raw("\n\nAdd to `~/.aws/config` (`YOUR_PROFILE`: the profile you use now):\n\n")?
                .raw(&escape::fence(&lines.join("\n"), "ini"))?
                .raw("\n\nthen, with `key-policy.json` edited as the findings say:\n\n")?
                .raw(&escape::fence(&command, "sh"))?
                .raw("\n\n")?;
        }
        None if reachable(r).next().is_some() => {
            out.raw("## How to get there\n\n")?
                .p(no_way(r), Block)?
                .raw("\n\n")?;
            for g in reachable(r) {
                out.raw("- ")?.code(&g.principal, Block)?;
                if let Some(who) = assumers(g) {
                    out.raw(": assumable by ")?.code(&who, Block)?;
                }
                out.raw("\n")?;
            }
            out.raw("\n")?;
        }
        None => {}
    }
    Ok(())
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
