//! The command line, as clap parses it. No behaviour lives here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kms-doctor",
    version,
    about = "Explains why a principal cannot read or update a KMS key policy, and who can restore access",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to colour text output: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a key policy document offline: what it decides for a principal, and who it
    /// lets restore access.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The key policy JSON: a file, or - for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub policy: PathBuf,

    /// Who makes the request: an IAM user or role ARN, an assumed-role or federated-user
    /// session ARN, an account ID or root ARN, or a service principal. A role ARN stands for
    /// the role's sessions. Without it, only the policy-wide answers are given.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,

    /// An action to decide (repeatable); the `kms:` prefix may be left out.
    /// [default: kms:GetKeyPolicy and kms:PutKeyPolicy]
    #[arg(long = "action", value_name = "ACTION")]
    pub actions: Vec<String>,

    /// The key's ARN, to check Resource elements and whether the key is in another account.
    #[arg(long, value_name = "ARN")]
    pub key_arn: Option<String>,

    /// A request context value, such as aws:SourceVpc=vpc-1 (repeat a key for several values).
    /// Overrides the values derived from the principal.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub context: Vec<(String, String)>,

    /// A context key that is not in the request (conditions on unknown keys stay undecided).
    #[arg(long = "absent", value_name = "KEY")]
    pub absent: Vec<String>,

    /// Output format [default: text on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn context_values_split_at_the_first_equals() {
        assert_eq!(
            parse_key_value("aws:SourceArn=arn:a=b").unwrap(),
            ("aws:SourceArn".into(), "arn:a=b".into())
        );
        assert!(parse_key_value("novalue").is_err());
    }
}
