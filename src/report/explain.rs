//! The `explain` report in each format.

use super::{Paint, md_cell, write_findings_markdown, write_findings_text, write_json};
use crate::cli::Format;
use crate::explain::ExplainReport;
use crate::policy::{Applies, Decision, Evaluation, Grantee, Via};
use std::io::{self, Write};

pub fn render(
    report: &ExplainReport,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => write_json(report, out),
        Format::Text => text(report, Paint::new(color), out),
        Format::Markdown => markdown(report, out),
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

fn paint_verdict(d: Decision, paint: Paint) -> String {
    let text = format!("{:<24}", verdict(d));
    match d {
        Decision::Allow | Decision::Delegated => paint.good(&text),
        Decision::Conditional => paint.warn(&text),
        Decision::ExplicitDeny | Decision::ImplicitDeny => paint.bad(&text),
    }
}

/// One sentence that says why the decision is what it is.
fn because(e: &Evaluation) -> String {
    let labels = |effect_allow: bool, via: Option<Via>, applies: Applies| {
        e.statements
            .iter()
            .filter(|t| {
                (t.effect == crate::policy::Effect::Allow) == effect_allow
                    && t.applies == applies
                    && (via.is_none() || t.via == via)
            })
            .map(|t| format!("\"{}\"", t.label()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match e.decision {
        Decision::Allow => format!(
            "{} allows it directly (IAM denies, SCPs and permissions boundaries still apply).",
            labels(true, Some(Via::Principal), Applies::Yes)
        ),
        Decision::Delegated => format!(
            "only the account delegation applies ({}): the principal's IAM policies decide.",
            labels(true, Some(Via::Account), Applies::Yes)
        ),
        Decision::ExplicitDeny => format!("{} denies it explicitly.", labels(false, None, Applies::Yes)),
        Decision::ImplicitDeny if e.cross_account => {
            "the key is in another account, and KMS serves this action only within the key's account.".to_owned()
        }
        Decision::ImplicitDeny => "no statement allows it.".to_owned(),
        Decision::Conditional => format!(
            "it depends on context kms-doctor does not know: {}.",
            e.unknown_context.join(", ")
        ),
    }
}

fn restorer_note(g: &Grantee) -> String {
    let mut notes = Vec::new();
    if g.via_iam {
        notes.push(
            "any IAM principal of the account whose IAM policies allow kms:PutKeyPolicy".to_owned(),
        );
    }
    if g.kind == "anyone" {
        notes.push("everyone".to_owned());
    }
    if !g.except.is_empty() {
        notes.push(format!("except {}", g.except.join(", ")));
    }
    if g.is_conditional() {
        notes.push(format!(
            "if conditions on {} hold",
            g.conditions_on.join(", ")
        ));
    }
    notes.join("; ")
}

fn text(r: &ExplainReport, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{} {}", paint.bold("Key policy"), r.source)?;
    writeln!(
        out,
        "{} {}",
        paint.bold("Principal "),
        r.principal
            .as_deref()
            .unwrap_or("(none given: policy-wide answers only)")
    )?;
    writeln!(
        out,
        "{} {}",
        paint.bold("Key       "),
        r.key_arn.as_deref().unwrap_or("(not given)")
    )?;

    if !r.results.is_empty() {
        writeln!(out, "\n{}", paint.heading("Verdict"))?;
        for e in &r.results {
            writeln!(
                out,
                "  {:<18} {} {}",
                e.action,
                paint_verdict(e.decision, paint),
                because(e)
            )?;
        }
        for e in &r.results {
            writeln!(
                out,
                "\n{}",
                paint.heading(&format!("Statements for {}", e.action))
            )?;
            let relevant: Vec<_> = e
                .statements
                .iter()
                .filter(|t| {
                    !t.reason.starts_with("Action does not cover")
                        && !t.reason.starts_with("NotAction excludes")
                })
                .collect();
            if relevant.is_empty() {
                writeln!(out, "  No statement covers {}.", e.action)?;
            }
            for t in relevant {
                let mark = match t.applies {
                    Applies::Yes => paint.good("applies    "),
                    Applies::Conditional => paint.warn("conditional"),
                    Applies::No => paint.dim("no         "),
                };
                writeln!(
                    out,
                    "  {mark} \"{}\" ({}): {}",
                    t.label(),
                    t.effect,
                    t.reason
                )?;
            }
        }
    }

    write_findings_text(&r.findings, "None.", paint, out)?;

    writeln!(
        out,
        "\n{}",
        paint.heading("Who can restore access (kms:PutKeyPolicy)")
    )?;
    if r.restorers.is_empty() {
        writeln!(
            out,
            "  {}",
            paint.bad("No one: the policy lets no existing principal change it.")
        )?;
    }
    for g in &r.restorers {
        let note = restorer_note(g);
        writeln!(
            out,
            "  - {}  via \"{}\"{}",
            paint.bold(&g.principal),
            g.statement,
            if note.is_empty() {
                String::new()
            } else {
                format!("  ({note})")
            }
        )?;
    }
    Ok(())
}

fn markdown(r: &ExplainReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# kms-doctor explain\n")?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| Key policy | `{}` |", md_cell(&r.source))?;
    writeln!(
        out,
        "| Principal | {} |",
        r.principal
            .as_deref()
            .map(|p| format!("`{p}`"))
            .unwrap_or_else(|| "none given".into())
    )?;
    writeln!(
        out,
        "| Key | {} |\n",
        r.key_arn
            .as_deref()
            .map(|k| format!("`{k}`"))
            .unwrap_or_else(|| "not given".into())
    )?;

    if !r.results.is_empty() {
        writeln!(out, "## Verdict\n")?;
        writeln!(out, "| Action | Decision | Why |\n|---|---|---|")?;
        for e in &r.results {
            writeln!(
                out,
                "| `{}` | **{}** | {} |",
                e.action,
                verdict(e.decision),
                md_cell(&because(e))
            )?;
        }
        writeln!(out)?;
        for e in &r.results {
            writeln!(out, "### Statements for `{}`\n", e.action)?;
            writeln!(
                out,
                "| # | Sid | Effect | Applies | Why |\n|---|---|---|---|---|"
            )?;
            for t in &e.statements {
                let applies = match t.applies {
                    Applies::Yes => "yes",
                    Applies::No => "no",
                    Applies::Conditional => "conditional",
                };
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    t.index + 1,
                    md_cell(t.sid.as_deref().unwrap_or("")),
                    t.effect,
                    applies,
                    md_cell(&t.reason)
                )?;
            }
            writeln!(out)?;
        }
    }

    write_findings_markdown(&r.findings, "None.", out)?;

    writeln!(out, "## Who can restore access (`kms:PutKeyPolicy`)\n")?;
    if r.restorers.is_empty() {
        writeln!(
            out,
            "No one: the policy lets no existing principal change it."
        )?;
    } else {
        writeln!(out, "| Principal | Statement | Notes |\n|---|---|---|")?;
        for g in &r.restorers {
            writeln!(
                out,
                "| `{}` | {} | {} |",
                g.principal,
                md_cell(&g.statement),
                md_cell(&restorer_note(g))
            )?;
        }
    }
    Ok(())
}
