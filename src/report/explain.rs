//! The `explain` report in each format.

use super::escape::MdContext;
use super::{
    Format, MdOut, TextOut, WriteColor, styles, write_findings_markdown, write_findings_text,
    write_json,
};
use crate::diagnosis::model::{ExplainReport, Text, code, quoted};
use crate::policy::{Applies, Decision, Effect, Evaluation, Grantee, Via};
use crate::text;
use std::io;

pub fn render(report: &ExplainReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(report, out),
        Format::Text => text(report, &mut TextOut::new(out)),
        Format::Markdown => markdown(report, &mut MdOut::new(out)),
    }
}

/// `denied (implicit deny)` and the like: the verdict in a few words.
fn verdict(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::Delegated => "delegated to IAM",
        Decision::ExplicitDeny => "denied (explicit deny)",
        Decision::ImplicitDeny => "denied (implicit deny)",
        Decision::Conditional => "conditional",
    }
}

fn verdict_style(d: Decision) -> anstyle::Style {
    match d {
        Decision::Allow | Decision::Delegated => styles::GOOD,
        Decision::Conditional => styles::WARN,
        Decision::ExplicitDeny | Decision::ImplicitDeny => styles::BAD,
    }
}

/// One sentence that says why the decision is what it is.
fn because(e: &Evaluation) -> Text {
    let labels = |effect_allow: bool, via: Option<Via>, applies: Applies| {
        Text::join(
            e.statements
                .iter()
                .filter(|t| {
                    (t.effect == Effect::Allow) == effect_allow
                        && t.applies == applies
                        && (via.is_none() || t.via == via)
                })
                .map(|t| Text::from(quoted(t.label()))),
            ", ",
        )
    };
    match e.decision {
        Decision::Allow if e.other_account => text!(
            labels(true, Some(Via::Principal), Applies::Yes),
            " allows it, but the principal is in another account than the key: its own account's IAM policies must allow it too (and IAM denies, SCPs and permissions boundaries apply)."
        ),
        Decision::Allow => text!(
            labels(true, Some(Via::Principal), Applies::Yes),
            " allows it directly (IAM denies, SCPs and permissions boundaries still apply)."
        ),
        Decision::Delegated => text!(
            "only the account delegation applies (",
            labels(true, Some(Via::Account), Applies::Yes),
            "): the principal's IAM policies decide."
        ),
        Decision::ExplicitDeny => {
            text!(labels(false, None, Applies::Yes), " denies it explicitly.")
        }
        Decision::ImplicitDeny if e.cross_account => {
            "the key is in another account, and KMS serves this action only within the key's account.".into()
        }
        Decision::ImplicitDeny => "no statement allows it.".into(),
        Decision::Conditional => text!(
            "it depends on context kms-doctor does not know: ",
            Text::join(e.unknown_context.iter().map(|k| Text::code(k.clone())), ", "),
            "."
        ),
    }
}

fn restorer_note(g: &Grantee) -> Text {
    let mut notes = Vec::new();
    if g.via_iam() {
        notes.push(
            "any IAM principal of the account whose IAM policies allow kms:PutKeyPolicy".into(),
        );
    }
    if g.kind == crate::policy::IdentityKind::Anyone {
        notes.push("everyone".into());
    }
    if !g.except.is_empty() {
        notes.push(text!("except ", code(g.except.join(", "))));
    }
    if g.is_conditional() {
        notes.push(text!(
            "if conditions on ",
            code(g.conditions_on.join(", ")),
            " hold"
        ));
    }
    Text::join(notes, "; ")
}

/// The statements worth showing for an action: those that cover it.
fn covering(e: &Evaluation) -> impl Iterator<Item = &crate::policy::StatementTrace> {
    e.statements.iter().filter(|t| t.covers_action)
}

fn applies(a: Applies) -> &'static str {
    match a {
        Applies::Yes => "yes",
        Applies::No => "no",
        Applies::Conditional => "conditional",
    }
}

fn text(r: &ExplainReport, out: &mut TextOut) -> io::Result<()> {
    out.styled(styles::BOLD, "Key policy")?
        .p(" ")?
        .v(&r.source)?
        .nl()?;
    out.styled(styles::BOLD, "Principal ")?.p(" ")?;
    match &r.principal {
        Some(p) => out.v(p)?,
        None => out.p("(none given: policy-wide answers only)")?,
    };
    out.nl()?;
    out.styled(styles::BOLD, "Key       ")?.p(" ")?;
    match &r.key_arn {
        Some(k) => out.v(k)?,
        None => out.p("(not given)")?,
    };
    out.nl()?;

    if !r.results.is_empty() {
        out.heading("Verdict")?;
        for e in &r.results {
            out.p("  ")?
                .v(&format!("{:<18}", e.action))?
                .p(" ")?
                .styled(
                    verdict_style(e.decision),
                    &format!("{:<24}", verdict(e.decision)),
                )?
                .p(" ")?
                .t(&because(e))?
                .nl()?;
        }
        for e in &r.results {
            out.nl()?;
            out.styled(styles::HEADING, "Statements for ")?;
            out.styled_v(styles::HEADING, &e.action)?.nl()?;
            let mut any = false;
            for t in covering(e) {
                any = true;
                let (style, mark) = match t.applies {
                    Applies::Yes => (styles::GOOD, "applies    "),
                    Applies::Conditional => (styles::WARN, "conditional"),
                    Applies::No => (styles::DIM, "no         "),
                };
                out.p("  ")?
                    .styled(style, mark)?
                    .p(" \"")?
                    .v(&t.label())?
                    .v(&format!("\" ({}): ", t.effect))?
                    .v(&t.reason)?
                    .nl()?;
            }
            if !any {
                out.p("  No statement covers ")?
                    .v(&e.action)?
                    .p(".")?
                    .nl()?;
            }
        }
    }

    write_findings_text(&r.findings, "None.", out)?;

    out.heading("Who can restore access (kms:PutKeyPolicy)")?;
    if r.restorers.is_empty() {
        out.p("  ")?
            .styled(
                styles::BAD,
                "No one: the policy lets no existing principal change it.",
            )?
            .nl()?;
    }
    for g in &r.restorers {
        out.p("  - ")?
            .styled_v(styles::BOLD, &g.principal)?
            .p("  via \"")?
            .v(&g.statement)?
            .p("\"")?;
        let note = restorer_note(g);
        if !note.is_empty() {
            out.p("  (")?.t(&note)?.p(")")?;
        }
        out.nl()?;
    }
    Ok(())
}

fn markdown(r: &ExplainReport, out: &mut MdOut) -> io::Result<()> {
    use MdContext::Cell;
    out.raw("# kms-doctor explain\n\n| | |\n|---|---|\n| Key policy | ")?
        .code(&r.source, Cell)?
        .raw(" |\n| Principal | ")?
        .code_or(r.principal.as_deref(), "none given", Cell)?
        .raw(" |\n| Key | ")?
        .code_or(r.key_arn.as_deref(), "not given", Cell)?
        .raw(" |\n\n")?;

    if !r.results.is_empty() {
        out.raw("## Verdict\n\n| Action | Decision | Why |\n|---|---|---|\n")?;
        for e in &r.results {
            out.raw("| ")?
                .code(&e.action, Cell)?
                .raw(&format!(" | **{}** | ", verdict(e.decision)))?
                .t(&because(e), Cell)?
                .raw(" |\n")?;
        }
        out.raw("\n")?;
        for e in &r.results {
            out.raw("### Statements for ")?
                .code(&e.action, MdContext::Block)?
                .raw("\n\n| # | Sid | Effect | Applies | Why |\n|---|---|---|---|---|\n")?;
            for t in &e.statements {
                out.raw(&format!("| {} | ", t.index + 1))?
                    .code_or(t.sid.as_deref(), "", Cell)?
                    .raw(&format!(" | {} | {} | ", t.effect, applies(t.applies)))?
                    .code(&t.reason, Cell)?
                    .raw(" |\n")?;
            }
            out.raw("\n")?;
        }
    }

    write_findings_markdown(&r.findings, "None.", out)?;

    out.raw("## Who can restore access (`kms:PutKeyPolicy`)\n\n")?;
    if r.restorers.is_empty() {
        out.raw("No one: the policy lets no existing principal change it.\n")?;
    } else {
        out.raw("| Principal | Statement | Notes |\n|---|---|---|\n")?;
        for g in &r.restorers {
            out.raw("| ")?
                .code(&g.principal, Cell)?
                .raw(" | ")?
                .code(&g.statement, Cell)?
                .raw(" | ")?
                .t(&restorer_note(g), Cell)?
                .raw(" |\n")?;
        }
    }
    Ok(())
}
