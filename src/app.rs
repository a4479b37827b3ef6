//! Runs a parsed command line: reads the inputs, calls the engine and rules, renders the
//! report. Returns the process exit status; `main` only maps errors to status 2.

use crate::cli::{Cli, Command, DiagnoseArgs, ExplainArgs, Format, HistoryArgs};
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
    #[error(transparent)]
    Key(#[from] crate::evidence::key::KeyInputError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the log archive {0}")]
    S3(String),
    #[error("the Athena query failed: {0}")]
    Athena(String),
    #[error("cannot read CloudTrail's event history: cloudtrail:LookupEvents failed ({0})")]
    History(String),
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
        Command::History(args) => run_history(args, terminal, out),
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
            let mut evidence = evidence?;
            let key = crate::evidence::history::KeyRef {
                arn: evidence.key.arn.clone(),
                key_id: evidence.key.key_id.clone(),
            };
            if let Some(path) = &args.logs {
                let scan = scan_archive(
                    path,
                    &key,
                    &crate::archive::ArchiveOptions::default(),
                    &connect_opts,
                )?;
                crate::archive::recover_policy(&mut evidence, &scan, "archive");
            }
            let unknown = evidence.current_policy.is_none()
                && evidence
                    .history
                    .as_ref()
                    .is_none_or(|h| h.in_force.is_none());
            if let (Some(table), true, Some(id)) =
                (&args.athena.athena_table, unknown, key.key_id.clone())
            {
                let sql = crate::timeline::athena_sql(table, &id, None, None);
                let found = run_athena(&args.athena, sql, &key, &connect_opts)?;
                crate::archive::recover_policy(&mut evidence, &found, "athena");
            }
            evidence
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
    report::redact::emit(args.redact, out, |w| {
        report::diagnose::render(&report, format, terminal.color, w)
    })?;
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

fn run_history(args: HistoryArgs, terminal: Terminal, out: &mut dyn Write) -> Result<u8, AppError> {
    use crate::evidence::history::{KeyRef, SearchOptions, collect};
    use crate::evidence::key::KeyInput;
    use crate::evidence::{Calls, Kms};

    let input = KeyInput::parse(&args.key)?;
    let now = chrono::Utc::now();
    let stamp = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let (input_arn, input_id) = match &input {
        KeyInput::KeyArn { arn, key_id, .. } => (Some(arn.clone()), Some(key_id.clone())),
        KeyInput::KeyId(id) => (None, Some(id.clone())),
        _ => (None, None),
    };
    if args.print_athena_sql {
        let id = input_id.ok_or_else(|| {
            AppError::Usage(
                "--print-athena-sql needs the key ID or key ARN (an alias is not in the logs)"
                    .into(),
            )
        })?;
        let sql = crate::timeline::athena_sql(
            args.athena
                .athena_table
                .as_deref()
                .unwrap_or("cloudtrail_logs"),
            &id,
            stamp(args.since).as_deref(),
            stamp(args.until).as_deref(),
        );
        writeln!(out, "{sql};")?;
        return Ok(EXIT_OK);
    }
    let account = input.account().map(str::to_owned);
    if let Some(table) = &args.athena.athena_table {
        let id = input_id.clone().ok_or_else(|| {
            AppError::Usage(
                "--athena-table needs the key ID or key ARN: an alias is not in the logs".into(),
            )
        })?;
        let key_ref = KeyRef {
            arn: input_arn.clone(),
            key_id: Some(id.clone()),
        };
        let connect_opts = crate::evidence::aws::ConnectOptions {
            region: args.region.clone(),
            profile: args.profile.clone(),
            timeout: Some(std::time::Duration::from_secs(args.timeout.max(1))),
        };
        let sql = crate::timeline::athena_sql(
            table,
            &id,
            stamp(args.since).as_deref(),
            stamp(args.until).as_deref(),
        );
        let found = run_athena(&args.athena, sql, &key_ref, &connect_opts)?;
        let report = crate::timeline::build(
            crate::timeline::Found {
                key: args.key.clone(),
                key_arn: key_ref.arn,
                account: account.or_else(|| {
                    input_arn
                        .as_deref()
                        .and_then(crate::policy::key_account)
                        .map(str::to_owned)
                }),
                source: "athena".into(),
                events: found.events,
                skipped: found.skipped,
                since: stamp(args.since),
                until: stamp(args.until),
            },
            now,
        );
        return render_timeline(&report, &args, terminal, out);
    }
    let (source, events, skipped, key_ref) = match &args.logs {
        Some(path) => {
            if input_id.is_none() {
                return Err(AppError::Usage(
                    "--logs needs the key ID or key ARN: an alias cannot be resolved from log files".into(),
                ));
            }
            let key_ref = KeyRef {
                arn: input_arn,
                key_id: input_id,
            };
            let opts = crate::archive::ArchiveOptions {
                since: args.since,
                until: args.until,
                threads: args.threads,
            };
            let connect_opts = crate::evidence::aws::ConnectOptions {
                region: args.region.clone(),
                profile: args.profile.clone(),
                timeout: Some(std::time::Duration::from_secs(args.timeout.max(1))),
            };
            let scan = scan_archive(path, &key_ref, &opts, &connect_opts)?;
            ("archive", scan.events, scan.skipped, key_ref)
        }
        None => {
            use crate::evidence::aws::{ConnectOptions, connect};
            let timeout = std::time::Duration::from_secs(args.timeout.max(1));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let spinner = Spinner::default();
            let result = runtime.block_on(async {
                let clients = connect(&ConnectOptions {
                    region: args.region.clone(),
                    profile: args.profile.clone(),
                    timeout: Some(timeout),
                })
                .await;
                let calls = Calls::default();
                // The key's ARN and ID, from DescribeKey when it answers (an alias needs it).
                let described = calls
                    .record("kms", "DescribeKey", timeout, clients.kms.describe_key(&args.key))
                    .await
                    .ok();
                let key_ref = KeyRef {
                    arn: described.as_ref().and_then(|d| d.arn.clone()).or(input_arn.clone()),
                    key_id: described.as_ref().map(|d| d.key_id.clone()).or(input_id.clone()),
                };
                if key_ref.key_id.is_none() {
                    return Err(AppError::Usage(format!(
                        "cannot resolve {} without kms:DescribeKey: give the key ID or key ARN",
                        args.key
                    )));
                }
                let oldest = now - chrono::Duration::days(90);
                let window = (args.since.unwrap_or(oldest).max(oldest), args.until.unwrap_or(now).min(now));
                let search = SearchOptions {
                    lookback_days: 90,
                    min_interval: std::time::Duration::from_millis(args.lookup_interval_ms),
                    timeout,
                };
                let progress = |pages, events| spinner.update(pages, events);
                let (events, stats) = collect(&clients.cloudtrail, &calls, &key_ref, &search, window, &progress)
                    .await
                    .map_err(|e| AppError::History(format!("{}: {}", e.code.unwrap_or_default(), e.message)))?;
                let mut skipped = crate::timeline::Skipped {
                    records: stats.skipped_records,
                    ..Default::default()
                };
                if !stats.complete {
                    skipped.reasons.push("the CloudTrail search was cut short by a failed call: older events may be missing".into());
                }
                Ok((events, skipped, key_ref, described.and_then(|d| d.account)))
            });
            spinner.finish();
            let (events, skipped, key_ref, described_account) = result?;
            let account = account.clone().or(described_account);
            let report = crate::timeline::build(
                crate::timeline::Found {
                    key: args.key.clone(),
                    key_arn: key_ref.arn,
                    account,
                    source: "cloudtrail".into(),
                    events,
                    skipped,
                    since: stamp(args.since),
                    until: stamp(args.until),
                },
                now,
            );
            return render_timeline(&report, &args, terminal, out);
        }
    };
    let account = account.or_else(|| {
        key_ref
            .arn
            .as_deref()
            .and_then(crate::policy::key_account)
            .map(str::to_owned)
    });
    let report = crate::timeline::build(
        crate::timeline::Found {
            key: args.key.clone(),
            key_arn: key_ref.arn,
            account,
            source: source.into(),
            events,
            skipped,
            since: stamp(args.since),
            until: stamp(args.until),
        },
        now,
    );
    render_timeline(&report, &args, terminal, out)
}

fn render_timeline(
    report: &crate::timeline::TimelineReport,
    args: &HistoryArgs,
    terminal: Terminal,
    out: &mut dyn Write,
) -> Result<u8, AppError> {
    let format = default_format(args.format, terminal);
    report::redact::emit(args.redact, out, |w| {
        report::timeline::render(report, format, terminal.color, w)
    })?;
    Ok(EXIT_OK)
}

/// Reads a log archive: a local path, or `s3://BUCKET/PREFIX`.
fn scan_archive(
    logs: &std::path::Path,
    key: &crate::evidence::history::KeyRef,
    opts: &crate::archive::ArchiveOptions,
    connect_opts: &crate::evidence::aws::ConnectOptions,
) -> Result<crate::archive::ArchiveScan, AppError> {
    let text = logs.to_string_lossy();
    if !text.starts_with("s3://") {
        return Ok(crate::archive::scan_local(logs, key, opts)?);
    }
    let location = crate::archive::S3Location::parse(&text).ok_or_else(|| {
        AppError::Usage(format!(
            "{text} is not an S3 location: write s3://BUCKET/PREFIX"
        ))
    })?;
    let timeout = connect_opts
        .timeout
        .unwrap_or(std::time::Duration::from_secs(10));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let s3 = crate::evidence::aws::connect_s3(connect_opts).await;
        let calls = crate::evidence::Calls::default();
        crate::archive::scan_s3(&s3, &calls, &location, key, opts, timeout)
            .await
            .map_err(|e| {
                AppError::S3(format!(
                    "{text}: {}: {}",
                    e.code.unwrap_or_default(),
                    e.message
                ))
            })
    })
}

/// Runs the SQL on Athena and gives its rows as an archive scan.
fn run_athena(
    athena: &crate::cli::AthenaArgs,
    sql: String,
    key: &crate::evidence::history::KeyRef,
    connect_opts: &crate::evidence::aws::ConnectOptions,
) -> Result<crate::archive::ArchiveScan, AppError> {
    let query = crate::evidence::AthenaQuery {
        sql,
        database: athena.athena_database.clone(),
        workgroup: athena.athena_workgroup.clone(),
        output: athena.athena_output.clone(),
    };
    let timeout = connect_opts
        .timeout
        .unwrap_or(std::time::Duration::from_secs(10));
    let max_wait = std::time::Duration::from_secs(athena.athena_max_wait.max(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let client = crate::evidence::aws::connect_athena(connect_opts).await;
        let calls = crate::evidence::Calls::default();
        crate::evidence::athena::run(&client, &calls, &query, key, timeout, max_wait).await
    });
    let result = result
        .map_err(|e| AppError::Athena(format!("{}: {}", e.code.unwrap_or_default(), e.message)))?;
    Ok(crate::archive::ArchiveScan {
        events: result.events,
        records: result.rows,
        skipped: crate::timeline::Skipped {
            records: result.skipped_records,
            ..Default::default()
        },
        ..Default::default()
    })
}
