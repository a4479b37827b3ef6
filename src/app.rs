//! Runs a parsed command line: reads the inputs, calls the engine and rules, renders the
//! report. Returns the process exit status; `main` only maps errors to status 2.

use crate::cli::{Cli, Command, DiagnoseArgs, ExplainArgs, Format};
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
    #[error(transparent)]
    Gather(#[from] crate::evidence::gather::GatherError),
    #[error("cannot read the evidence file {path}")]
    ReadEvidence {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a kms-doctor evidence file")]
    InvalidEvidence {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {path}")]
    WriteFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
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
        Command::Diagnose(args) => run_diagnose(args, terminal, out),
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

fn run_diagnose(
    args: DiagnoseArgs,
    terminal: Terminal,
    out: &mut dyn Write,
) -> Result<u8, AppError> {
    use crate::evidence::Evidence;
    use crate::evidence::aws::{ConnectOptions, connect};
    use crate::evidence::gather::{GatherOptions, gather};

    let evidence: Evidence = match &args.from_evidence {
        Some(path) => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| AppError::ReadEvidence {
                path: label.clone(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|source| AppError::InvalidEvidence {
                path: label,
                source,
            })?
        }
        None => {
            let timeout = std::time::Duration::from_secs(args.timeout.max(1));
            let opts = GatherOptions {
                key: args.key.clone().unwrap_or_default(),
                principal: args.principal.clone(),
                lookback_days: args.lookback_days,
                cloudtrail: !args.no_cloudtrail,
                timeout,
                lookup_interval: std::time::Duration::from_millis(args.lookup_interval_ms),
                now: chrono::Utc::now(),
            };
            let connect_opts = ConnectOptions {
                region: args.region.clone(),
                profile: args.profile.clone(),
                timeout: Some(timeout),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let spinner = Spinner::default();
            let evidence = runtime.block_on(async {
                let clients = connect(&connect_opts).await;
                gather(&clients, &opts, &|pages, events| {
                    spinner.update(pages, events)
                })
                .await
            });
            spinner.finish();
            evidence?
        }
    };
    if let Some(path) = &args.save_evidence {
        let json = serde_json::to_string_pretty(&evidence).expect("evidence serializes") + "\n";
        std::fs::write(path, json).map_err(|source| AppError::WriteFile {
            path: path.display().to_string(),
            source,
        })?;
    }
    let now = chrono::DateTime::parse_from_rfc3339(&evidence.collected_at)
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let mut report = crate::diagnose::diagnose(&evidence, now);
    if args.verbose {
        report::diagnose::write_calls(&report, &mut std::io::stderr())?;
    }
    if let Some(path) = &args.write_fix {
        let label = path.display().to_string();
        match &report.fix {
            Some(fix) => {
                std::fs::write(path, fix).map_err(|source| AppError::WriteFile {
                    path: label.clone(),
                    source,
                })?;
                let key = report
                    .key
                    .arn
                    .clone()
                    .unwrap_or_else(|| report.key.input.clone());
                report
                    .next_steps
                    .retain(|s| !s.contains("--write-fix FILE"));
                report.next_steps.insert(
                    report.next_steps.len().min(1),
                    format!(
                        "kms-doctor wrote {label}: the policy in force with the account delegation statement added. A restorer reviews it and applies it with: aws kms put-key-policy --key-id {key} --policy-name default --policy file://{label}"
                    ),
                );
            }
            None => eprintln!(
                "kms-doctor: no fix written to {label}: the account delegation is not what is missing, or the policy in force is not known"
            ),
        }
    }
    let format = default_format(args.format, terminal);
    if args.redact {
        let mut rendered = Vec::new();
        report::diagnose::render(&report, format, terminal.color, &mut rendered)?;
        let text = String::from_utf8_lossy(&rendered);
        out.write_all(report::redact::Redactor::default().redact(&text).as_bytes())?;
    } else {
        report::diagnose::render(&report, format, terminal.color, out)?;
    }
    Ok(report.exit_code())
}

/// A spinner on standard error while the CloudTrail search takes more than a page; drawn only
/// on a terminal.
#[derive(Default)]
struct Spinner(std::cell::RefCell<Option<indicatif::ProgressBar>>);

impl Spinner {
    fn update(&self, pages: u32, events: u64) {
        if pages < 2 {
            return;
        }
        let mut bar = self.0.borrow_mut();
        let bar = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        bar.set_message(format!(
            "Searching CloudTrail: {pages} pages, {events} events"
        ));
    }

    fn finish(&self) {
        if let Some(bar) = self.0.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}
