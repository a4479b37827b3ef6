//! The command line: clap's types ([`Cli`]), whose subcommands are the commands' plain inputs
//! ([`crate::commands::input`]), then the commands' one validation stage
//! ([`crate::commands::validate`]), which turns them into typed requests. No usage error is
//! raised after it.

mod validate;

pub use validate::{Terminal, UsageError};

pub use crate::commands::input::{
    AthenaArgs, AwsArgs, CheckArgs, ContextArgs, DiagnoseArgs, ExplainArgs, FailOn, HistoryArgs,
    MergeArgs, OrgPolicyArgs, ScanArgs,
};
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

    /// List every AWS call made on standard error (diagnose, history, scan; explain and check
    /// make none). An error's causes are always shown.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a key policy document offline: what it decides for a principal, and who it
    /// lets restore access.
    Explain(ExplainArgs),
    /// Diagnose live: why the principal cannot read or update the key policy, and who can
    /// restore access. Read-only.
    Diagnose(DiagnoseArgs),
    /// The key policy's change timeline: every PutKeyPolicy, CreateKey and the ReplicateKey
    /// that created a replica, who made it, what changed, and which change locked people out.
    /// Read-only.
    History(HistoryArgs),
    /// Every customer managed key of an account (its Regions, an organisation): locked out,
    /// at risk, or healthy. Read-only.
    Scan(ScanArgs),
    /// One scan report from the JSON reports of `scan --shard I/N`, as if one scan had run
    /// (its exit status too); missing, overlapping or mismatched shards are refused. Offline.
    Merge(MergeArgs),
    /// Check key policies before they ship: policy files, CloudFormation templates (and CDK
    /// output) and Terraform plans, for lockouts and changes that take access away. Offline.
    Check(CheckArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to standard
    /// output. For bash: `kms-doctor completions bash > ~/.local/share/bash-completion/completions/kms-doctor`.
    Completions(CompletionsArgs),
    /// Write the manual pages (kms-doctor.1 and one per command) into a directory.
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// The directory to write the pages into (it must exist).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Replace pages that exist.
    #[arg(long)]
    pub force: bool,
}

/// The AWS CLI's habits, taken before clap parses: its global flags (`--region`, `--profile`,
/// `--endpoint-url`, `--output`) given before the subcommand move after it, where kms-doctor
/// reads them; `--no-verify-ssl` is refused with its reason.
pub fn aws_cli_habits(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Vec<std::ffi::OsString>, UsageError> {
    const GLOBAL: [&str; 4] = ["--region", "--profile", "--endpoint-url", "--output"];
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    // The parser echoes a bad value as it is: a line break in one would start a line of its own
    // on stderr (`::add-mask::…`, a workflow command on a GitHub runner). No argument needs one.
    if let Some(bad) = args
        .iter()
        .skip(1)
        .find(|a| a.to_string_lossy().chars().any(char::is_control))
    {
        return Err(UsageError::ControlCharacter(format!(
            "{:?}",
            bad.to_string_lossy()
        )));
    }
    if args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--no-verify-ssl")
    {
        return Err(UsageError::NoVerifySsl);
    }
    // Up to the subcommand: the first word that is neither a flag nor a flag's value.
    let mut kept = vec![args[0].clone()];
    let mut hoisted = Vec::new();
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let a = arg.to_string_lossy();
        if !a.starts_with('-') {
            break;
        }
        let flag = a.split('=').next().unwrap_or_default();
        let takes_value = (GLOBAL.contains(&flag) || flag == "--color") && !a.contains('=');
        let n = if takes_value { 2 } else { 1 };
        let group = args.iter().skip(i).take(n).cloned();
        if GLOBAL.contains(&flag) {
            hoisted.extend(group);
        } else {
            kept.extend(group);
        }
        i += n;
    }
    kept.extend(args.get(i).cloned());
    kept.extend(hoisted);
    kept.extend(args.iter().skip(i + 1).cloned());
    Ok(kept)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
