//! `kms-doctor check`: read the policy files, templates and plans named (directories walked),
//! judge every key policy they would deploy, render. Offline: no credentials, no network.

use super::CommandError;
use crate::diagnosis::check::{CheckOptions, check};
use crate::diagnosis::model::{InputKind, Severity};
use crate::evidence::iac::{self, Input, Settings};
use crate::policy::Identity;
use crate::report::WriteColor;
use crate::report::check::{CheckFormat, render};
use std::path::PathBuf;

#[derive(Debug)]
pub struct CheckRequest {
    pub paths: Vec<PathBuf>,
    pub settings: Settings,
    pub deployer: Option<Identity>,
    pub keep: Vec<Identity>,
    /// `--against OLD`: a policy file.
    pub against: Option<PathBuf>,
    pub format: CheckFormat,
    /// `None`: never fail on findings.
    pub fail_on: Option<Severity>,
    /// Named files that are none of the three kinds are skipped, not errors.
    pub ignore_unknown: bool,
    /// Files read at once (0: one per core).
    pub threads: usize,
}

pub fn run(req: CheckRequest, out: &mut dyn WriteColor) -> Result<u8, CommandError> {
    let against = match &req.against {
        Some(path) => {
            let label = path.display().to_string();
            let read = iac::read_input(
                &Input {
                    path: path.clone(),
                    explicit: true,
                },
                &req.settings,
            )
            .expect("an explicit input is always answered");
            if let Some(e) = read.error {
                return Err(CommandError::Against {
                    path: label,
                    message: e.message,
                });
            }
            match (
                read.kind,
                read.keys
                    .into_iter()
                    .next()
                    .and_then(|k| k.policy.into_stated()),
            ) {
                (Some(InputKind::Policy), Some(p)) => Some(p),
                _ => {
                    return Err(CommandError::Against {
                        path: label,
                        message: "not a key policy file".to_owned(),
                    });
                }
            }
        }
        None => None,
    };
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
        },
        chrono::Utc::now(),
    );
    render(&report, req.format, out)?;
    Ok(report.exit_code(req.fail_on))
}
