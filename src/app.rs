//! Runs a parsed command line: reads the inputs, calls the engine and rules, renders the
//! report. Returns the process exit status; `main` only maps errors to status 2.

use crate::cli::{Cli, Command, ExplainArgs, Format};
use crate::explain::{ExplainRequest, explain};
use crate::policy::{Context, GET_KEY_POLICY, Identity, KeyPolicy, PUT_KEY_POLICY};
use crate::report;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Exit status: diagnosis complete, nothing wrong.
pub const EXIT_OK: u8 = 0;
/// Exit status: diagnosis complete, at least one error finding (or a denied action).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: kms-doctor could not diagnose (bad usage or input, no credentials, …).
pub const EXIT_FAILURE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot read the policy from {path}")]
    ReadPolicy {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid key policy")]
    InvalidPolicy {
        path: String,
        #[source]
        source: crate::policy::ParseError,
    },
    #[error("invalid --principal")]
    Principal(#[from] crate::policy::PrincipalParseError),
    #[error("cannot write the report")]
    Write(#[from] std::io::Error),
}

/// How the output is shown: decided by `main` from the terminal and `--color`.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Standard output is a terminal (text is then the default format).
    pub is_terminal: bool,
    pub color: bool,
}

pub fn run(cli: Cli, terminal: Terminal, out: &mut dyn Write) -> Result<u8, AppError> {
    match cli.command {
        Command::Explain(args) => run_explain(args, terminal, out),
    }
}

fn default_format(format: Option<Format>, terminal: Terminal) -> Format {
    format.unwrap_or(if terminal.is_terminal {
        Format::Text
    } else {
        Format::Json
    })
}

fn run_explain(args: ExplainArgs, terminal: Terminal, out: &mut dyn Write) -> Result<u8, AppError> {
    let (source, text) = read_input(&args.policy)?;
    let policy = KeyPolicy::parse(&text).map_err(|source_err| AppError::InvalidPolicy {
        path: source.clone(),
        source: source_err,
    })?;
    let principal = args.principal.as_deref().map(Identity::parse).transpose()?;
    let actions = if args.actions.is_empty() {
        vec![GET_KEY_POLICY.to_owned(), PUT_KEY_POLICY.to_owned()]
    } else {
        args.actions.iter().map(|a| normalize_action(a)).collect()
    };
    let mut context = Context::default();
    for (key, value) in args.context {
        context.push(&key, value);
    }
    for key in &args.absent {
        context.mark_absent(key);
    }
    let report = explain(&ExplainRequest {
        policy,
        source,
        principal,
        actions,
        key_arn: args.key_arn,
        context,
        now: chrono::Utc::now(),
    });
    let format = default_format(args.format, terminal);
    report::explain::render(&report, format, terminal.color, out)?;
    Ok(report.exit_code())
}

/// `GetKeyPolicy` → `kms:GetKeyPolicy`; anything with a prefix is kept as written.
fn normalize_action(a: &str) -> String {
    if a.contains(':') || a == "*" {
        a.to_owned()
    } else {
        format!("kms:{a}")
    }
}

fn read_input(path: &PathBuf) -> Result<(String, String), AppError> {
    let label = path.display().to_string();
    let mut text = String::new();
    let result = if label == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|source| AppError::ReadPolicy {
        path: label.clone(),
        source,
    })?;
    Ok((label, text))
}
