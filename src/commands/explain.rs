//! `kms-doctor explain`: read a policy file, evaluate it offline, render the report.

use super::{CommandError, Output};
use crate::diagnosis::model::{Exit, ExplainReport};
use crate::diagnosis::{ExplainRequest as Question, explain};
use crate::policy::{Context, Identity, KeyPolicy, MAX_POLICY_BYTES};
use crate::report::{self, WriteColor};
use std::io::Read;
use std::path::PathBuf;

/// Where the policy is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyInput {
    Stdin,
    File(PathBuf),
    /// Given inline (a server's client sends the policy itself), named by `label`.
    Text {
        label: String,
        text: String,
    },
}

impl PolicyInput {
    pub fn label(&self) -> String {
        match self {
            PolicyInput::Stdin => "-".to_owned(),
            PolicyInput::File(p) => p.display().to_string(),
            PolicyInput::Text { label, .. } => label.clone(),
        }
    }

    /// The text, read only as far as the policy size limit needs (a policy over it is refused
    /// by the parser, whatever follows).
    pub(super) fn read(&self) -> std::io::Result<String> {
        let limit = MAX_POLICY_BYTES as u64 + 1;
        let mut bytes = Vec::new();
        match self {
            PolicyInput::Stdin => std::io::stdin()
                .lock()
                .take(limit)
                .read_to_end(&mut bytes)?,
            PolicyInput::File(p) => crate::evidence::open_regular(p)?
                .take(limit)
                .read_to_end(&mut bytes)?,
            PolicyInput::Text { text, .. } => {
                bytes.extend(text.bytes().take(limit as usize));
                bytes.len()
            }
        };
        let text = crate::evidence::utf8_text(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Ok(get_key_policy_output(text))
    }
}

/// `aws kms get-key-policy` prints `{"Policy": "…", "PolicyName": "default"}`: the policy is
/// the string (as `check` reads it too). Anything else is the text as given.
fn get_key_policy_output(text: String) -> String {
    let inner = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .filter(|v| v.get("Statement").is_none())
        .and_then(|v| v.get("Policy")?.as_str().map(str::to_owned));
    inner.unwrap_or(text)
}

#[derive(Debug)]
pub struct ExplainRequest {
    pub policy: PolicyInput,
    pub principal: Option<Identity>,
    /// Full action names.
    pub actions: Vec<String>,
    pub key_arn: Option<String>,
    pub context: Context,
    /// `--scp`, `--rcp` files.
    pub scps: Vec<PathBuf>,
    pub rcps: Vec<PathBuf>,
    pub output: Output,
}

/// The policy read and explained. Offline and synchronous: callable from anywhere, async code
/// included; it renders nothing and decides no exit status.
pub fn explain_policy(req: &ExplainRequest) -> Result<ExplainReport, CommandError> {
    let label = req.policy.label();
    let text = req
        .policy
        .read()
        .map_err(|source| CommandError::ReadPolicy {
            path: label.clone(),
            source,
        })?;
    let policy = KeyPolicy::parse(&text).map_err(|source| {
        // A template or a plan is not a policy, but `check` reads them.
        let kind = if text.contains("AWSTemplateFormatVersion") || text.contains("AWS::KMS::") {
            Some("a CloudFormation template")
        } else if text.contains("\"format_version\"") {
            Some("a Terraform plan")
        } else {
            None
        };
        match kind {
            Some(kind) => CommandError::NotAPolicy {
                path: label.clone(),
                kind,
            },
            None => CommandError::InvalidPolicy {
                path: label.clone(),
                source,
            },
        }
    })?;
    Ok(explain(&Question {
        policy,
        source: label,
        principal: req.principal.clone(),
        actions: req.actions.clone(),
        key_arn: req.key_arn.clone(),
        context: req.context.clone(),
        now: chrono::Utc::now(),
        org: super::read_org_policies(&req.scps, &req.rcps)?,
    }))
}

/// The CLI's presenter: the explanation, rendered, and its exit status.
pub fn run(req: ExplainRequest, out: &mut dyn WriteColor) -> Result<Exit, CommandError> {
    let report = explain_policy(&req)?;
    report::explain::render(&report, req.output.format, out)?;
    Ok(crate::diagnosis::exit::explain(&report))
}
