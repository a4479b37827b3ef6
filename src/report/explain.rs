//! The `explain` report in each format.

use super::doc::{Block, Doc, Line, Tone};
use super::{Format, WriteColor, show, write_json};
use crate::diagnosis::model::{
    ExplainReport, LayerDecision, LayerResult, Text, blocked_words, code, prose, quoted,
};
use crate::policy::{Applies, Decision, Effect, Evaluation, Grantee, OrgPolicyType, Via};
use crate::text;
use std::io;

pub fn render(report: &ExplainReport, format: Format, out: &mut dyn WriteColor) -> io::Result<()> {
    match format {
        Format::Json => write_json(report, out),
        Format::Text | Format::Markdown => show(&doc(report), format, out),
        Format::Sarif | Format::Github => Err(super::unsupported(format, "explain")),
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

fn verdict_tone(d: Decision) -> Tone {
    match d {
        Decision::Allow | Decision::Delegated => Tone::Good,
        Decision::Conditional => Tone::Warn,
        Decision::ExplicitDeny | Decision::ImplicitDeny => Tone::Bad,
    }
}

/// One sentence that says why the decision is what it is: the organisation's policies first
/// when they changed the key policy's decision.
fn because(e: &Evaluation) -> Text {
    match e.key_policy_decision {
        Some(own) if !e.decision.is_granted() && e.decision != Decision::Conditional => text!(
            "an SCP or RCP given denies it (see Organizations); the key policy alone: ",
            prose(verdict(own)),
            "."
        ),
        Some(own) => text!(
            "an SCP or RCP given depends on context kms-doctor does not know: ",
            Text::join(
                e.unknown_context.iter().map(|k| Text::code(k.clone())),
                ", "
            ),
            "; the key policy alone: ",
            prose(verdict(own)),
            "."
        ),
        None => key_policy_because(e),
    }
}

/// Why the key policy decides what it does.
fn key_policy_because(e: &Evaluation) -> Text {
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

fn policy_type_words(t: OrgPolicyType) -> &'static str {
    match t {
        OrgPolicyType::Scp => "SCP",
        OrgPolicyType::Rcp => "RCP",
    }
}

/// One action, one of the organisation's policy types: what it decides, and where it stops.
fn layer_row(l: &LayerResult) -> Vec<Line> {
    let (tone, word) = match l.decision {
        LayerDecision::Allowed => (Tone::Good, "allowed"),
        LayerDecision::Denied => (Tone::Bad, "denied"),
        LayerDecision::Conditional => (Tone::Warn, "conditional"),
        LayerDecision::Exempt => (Tone::Good, "exempt"),
    };
    let place = match &l.blocked_by {
        Some(b) => Line::from(&blocked_words(b)),
        None if !l.unknown_context.is_empty() => {
            Line::new().w("depends on ").v(l.unknown_context.join(", "))
        }
        None => Line::new(),
    };
    vec![
        Line::new().v(&l.action),
        Line::from(policy_type_words(l.policy_type)),
        Line::new().ws(tone, word),
        place,
    ]
}

fn applies(a: Applies) -> (Tone, &'static str) {
    match a {
        Applies::Yes => (Tone::Good, "applies"),
        Applies::Conditional => (Tone::Warn, "conditional"),
        Applies::No => (Tone::Dim, "no"),
    }
}

fn doc(r: &ExplainReport) -> Doc<'_> {
    let mut doc = Doc::new("kms-doctor explain");
    doc.push(Block::Fields(vec![
        ("Key policy", Line::new().v(&r.source)),
        (
            "Principal",
            match &r.principal {
                Some(p) => Line::new().v(p),
                None => "(none given: policy-wide answers only)".into(),
            },
        ),
        (
            "Key",
            match &r.key_arn {
                Some(k) => Line::new().v(k),
                None => "(not given)".into(),
            },
        ),
    ]));

    if !r.results.is_empty() {
        doc.heading("Verdict").push(Block::Table {
            head: vec!["Action", "Decision", "Why"],
            rows: r
                .results
                .iter()
                .map(|e| {
                    vec![
                        Line::new().v(&e.action),
                        Line::new().ws(verdict_tone(e.decision), verdict(e.decision)),
                        Line::from(&because(e)),
                    ]
                })
                .collect(),
        });
        for e in &r.results {
            doc.heading(Line::new().w("Statements for ").v(&e.action));
            let rows: Vec<Vec<Line>> = covering(e)
                .map(|t| {
                    let (tone, word) = applies(t.applies);
                    vec![
                        Line::new().ws(tone, word),
                        Line::new().q(t.label()),
                        Line::new().w(t.effect.as_str()),
                        Line::new().v(&t.reason),
                    ]
                })
                .collect();
            if rows.is_empty() {
                doc.para(Line::new().w("No statement covers ").v(&e.action).w("."));
            } else {
                doc.push(Block::Table {
                    head: vec!["Applies", "Statement", "Effect", "Why"],
                    rows,
                });
            }
        }
    }

    if !r.organizations.is_empty() {
        doc.heading("The organisation's policies")
            .push(Block::Table {
                head: vec!["Action", "Policy type", "Decision", "Where"],
                rows: r.organizations.iter().map(layer_row).collect(),
            });
    }

    doc.heading("Findings").push(Block::Findings {
        items: r.findings.iter().collect(),
        none: Some("None."),
    });

    doc.heading("Who can restore access (kms:PutKeyPolicy)");
    if r.restorers.is_empty() {
        doc.para(Line::new().ws(
            Tone::Bad,
            "No one: the policy lets no existing principal change it.",
        ));
    }
    doc.list(
        r.restorers
            .iter()
            .map(|g| {
                let line = Line::new()
                    .vs(Tone::Strong, &g.principal)
                    .w("  via ")
                    .q(&g.statement);
                let note = restorer_note(g);
                let line = match note.is_empty() {
                    true => line,
                    false => line.w("  (").t(&note).w(")"),
                };
                match &g.blocked_by {
                    Some(b) => line
                        .ws(Tone::Bad, "  blocked: ")
                        .w(policy_type_words(b.policy_type))
                        .w(" ")
                        .t(&blocked_words(b)),
                    None => line,
                }
            })
            .collect(),
    );
    // kms:PutKeyPolicy never works across accounts: without the key's ARN, whether a principal
    // of some account can use its grant is not known.
    if r.key_arn.is_none() && !r.restorers.is_empty() {
        doc.para(Line::new().ws(
            Tone::Dim,
            "Only those in the key's account can: kms:PutKeyPolicy never works across accounts, and the key's account is not known here (give --key-arn to decide).",
        ));
    }
    doc
}
