//! `kms-doctor check`: read the policy files, templates and plans named (directories walked),
//! judge every key policy they would deploy, render. Offline: no credentials, no network.

use super::CommandError;
use crate::diagnosis::check::{CheckOptions, check};
use crate::diagnosis::model::Exit;
use crate::diagnosis::model::code;
use crate::diagnosis::model::{DeclaredPolicy, Severity};
use crate::evidence::iac::{self, Settings};
use crate::policy::Identity;
use crate::report::WriteColor;
use crate::report::check::{CheckFormat, render};
use crate::text;
use std::path::PathBuf;

#[derive(Debug)]
pub struct CheckRequest {
    pub paths: Vec<PathBuf>,
    pub settings: Settings,
    pub deployer: Option<Identity>,
    pub keep: Vec<Identity>,
    /// `--against OLD`: the policy file, read and recognised in validation.
    pub against: Option<DeclaredPolicy>,
    pub format: CheckFormat,
    /// `None`: never fail on findings.
    pub fail_on: Option<Severity>,
    /// Named files that are none of the three kinds are skipped, not errors.
    pub ignore_unknown: bool,
    /// No input found is a success, not a usage error.
    pub allow_empty: bool,
    /// Files read at once (0: one per core).
    pub threads: usize,
    /// `--scp`, `--rcp` files.
    pub scps: Vec<PathBuf>,
    pub rcps: Vec<PathBuf>,
}

pub fn run(
    req: CheckRequest,
    out: &mut dyn WriteColor,
    console: &super::Console,
) -> Result<Exit, CommandError> {
    let against = req.against;
    let org = super::read_org_policies(&req.scps, &req.rcps)?;
    let (mut inputs, mut files) = iac::expand(&req.paths);
    if req.ignore_unknown {
        for input in &mut inputs {
            input.explicit = false;
        }
    }
    files.extend(iac::read_all(&inputs, &req.settings, req.threads));
    let report = check(
        &files,
        &CheckOptions {
            deployer: req.deployer,
            keep: req.keep,
            against,
            org,
        },
        chrono::Utc::now(),
    );
    // An unreadable file is an error, and errors go to standard error too, whatever the format:
    // `check infra | cat` or a JSON report in CI still says it where a person looks.
    for f in &report.files {
        if let Some(why) = &f.error {
            let place = match f.error_location.as_ref().and_then(|l| l.line.zip(l.column)) {
                Some((line, column)) => format!("{}:{line}:{column}", f.path),
                None => f.path.clone(),
            };
            console.note(&text!(
                "cannot check ",
                code(place),
                ": ",
                code(why.clone())
            ));
        }
    }
    // Nothing to check: a typo in a path, or a pipeline pointed at the wrong directory, must
    // not read as a pass.
    if report.summary.files == 0 && !req.allow_empty {
        return Err(CommandError::NothingToCheck {
            paths: req
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    render(&report, req.format, out)?;
    Ok(crate::diagnosis::exit::check(&report, req.fail_on))
}
