//! The command line's part of validation: the terminal (colour, the default format), then
//! each command's input through [`crate::commands::validate`].

use super::{Cli, ColorWhen, Command};
use crate::commands::Request;
use crate::commands::generate::{Generate, GenerateRequest};
use crate::commands::validate;
pub use crate::commands::validate::UsageError;
use crate::report::Format;

/// What `main` knows of the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Standard output is a terminal (text is then the default format).
    pub stdout_is_terminal: bool,
    /// `NO_COLOR` is set (and not empty).
    pub no_color: bool,
}

/// The validated request, and whether its text output is coloured.
#[derive(Debug)]
pub struct Validated {
    pub request: Request,
    pub color: bool,
    pub verbose: bool,
}

impl Cli {
    pub fn validate(self, terminal: Terminal) -> Result<Validated, UsageError> {
        let color = match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => terminal.stdout_is_terminal && !terminal.no_color,
        };
        // Text whether or not stdout is a terminal, as ripgrep, cargo and the IaC linters do:
        // `diagnose KEY > ticket.txt` is for a person. Machines ask (--format json).
        let text = Format::Text;
        let request = match self.command {
            Command::Explain(a) => Request::Explain(validate::explain(a, text)?),
            Command::Diagnose(a) => Request::Diagnose(validate::diagnose(a, text)?),
            Command::History(a) => Request::History(validate::history(a, text)?),
            Command::Scan(a) => Request::Scan(validate::scan(a)?),
            Command::Merge(a) => Request::Merge(validate::merge(a)?),
            Command::Check(a) => Request::Check(Box::new(validate::check(a)?)),
            Command::Completions(a) => Request::Completions(Box::new(GenerateRequest {
                command: <Cli as clap::CommandFactory>::command(),
                what: Generate::Completions(a.shell),
            })),
            Command::Manpages(a) => Request::Completions(Box::new(GenerateRequest {
                command: <Cli as clap::CommandFactory>::command(),
                what: Generate::Manpages {
                    dir: a.dir,
                    force: a.force,
                },
            })),
        };
        Ok(Validated {
            request,
            color,
            verbose: self.verbose,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::LogSource;
    use crate::commands::diagnose::Target;
    use crate::commands::explain::PolicyInput;
    use crate::commands::history::HistorySource;
    use crate::evidence::scan::RegionsToScan;
    use crate::evidence::sources::s3::S3Location;
    use clap::Parser;

    #[test]
    fn each_command_offers_the_formats_it_writes() {
        use clap::CommandFactory;
        let cli = Cli::command();
        for (command, formats) in [
            ("diagnose", Format::DIAGNOSE),
            ("explain", Format::DIAGNOSE),
            ("history", Format::DIAGNOSE),
            ("scan", Format::SCAN),
            ("check", Format::CHECK),
        ] {
            let sub = cli.find_subcommand(command).expect("a subcommand");
            let arg = sub
                .get_arguments()
                .find(|a| a.get_id() == "format")
                .expect("--format");
            let offered: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_owned())
                .collect();
            let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
            assert_eq!(offered, names, "{command}");
        }
        assert!(Cli::try_parse_from(["kms-doctor", "scan", "--format", "github"]).is_err());
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(*f));
        }
    }

    #[test]
    fn scan_flags_are_checked() {
        let region = validate(&["scan", "--region", "eu-west-1;rm"]);
        assert!(matches!(region, Err(UsageError::Region(_))));
        let account = validate(&["scan", "--accounts", "111122223333,12"]);
        assert!(matches!(account, Err(UsageError::Account(a)) if a == "12"));
        let role = validate(&["scan", "--role-name", "a/b"]);
        assert!(matches!(role, Err(UsageError::RoleName(_))));
        let ok = validate(&[
            "scan",
            "--region",
            "us-gov-west-1",
            "--region",
            "eu-west-1",
            "--accounts",
            "111122223333,444455556666",
            "--format",
            "sarif",
        ])
        .unwrap();
        let Request::Scan(r) = ok.request else {
            panic!("a scan")
        };
        assert_eq!(
            r.regions,
            Some(RegionsToScan::List(vec![
                "eu-west-1".into(),
                "us-gov-west-1".into()
            ]))
        );
        assert_eq!(r.format, Format::Sarif);
    }

    fn validate(args: &[&str]) -> Result<Validated, UsageError> {
        let cli = Cli::try_parse_from(std::iter::once("kms-doctor").chain(args.iter().copied()))
            .expect("clap accepts it");
        cli.validate(Terminal {
            stdout_is_terminal: false,
            no_color: false,
        })
    }

    #[test]
    fn s3_locations_are_checked_before_anything_runs() {
        let err = validate(&["diagnose", "k1", "--logs", "s3://"]).unwrap_err();
        assert!(matches!(err, UsageError::S3Location(_)), "{err}");
        let ok = validate(&["history", "k1", "--logs", "s3://trail/AWSLogs/"]).unwrap();
        let Request::History(h) = ok.request else {
            panic!("a history request")
        };
        assert!(matches!(
            h.source,
            HistorySource::Archive {
                logs: LogSource::S3(S3Location { ref bucket, .. }),
                ..
            } if bucket == "trail"
        ));
    }

    #[test]
    fn log_sources_need_a_key_id() {
        for flag in [
            &["--logs", "/tmp"][..],
            &["--athena-table", "t"][..],
            &["--print-athena-sql"][..],
        ] {
            let mut args = vec!["history", "alias/payments"];
            args.extend_from_slice(flag);
            assert!(
                matches!(validate(&args), Err(UsageError::AliasNotInLogs { .. })),
                "{flag:?}"
            );
        }
    }

    #[test]
    fn nothing_but_identifiers_reach_the_athena_query() {
        assert!(matches!(
            validate(&["history", "k1", "--athena-table", "logs; DROP TABLE x"]),
            Err(UsageError::AthenaTable(_))
        ));
        assert!(validate(&["history", "k1", "--athena-table", "db.cloudtrail_logs"]).is_ok());
        assert!(matches!(
            validate(&["history", "k1' OR '1'='1", "--print-athena-sql"]),
            Err(UsageError::Key(_))
        ));
    }

    #[test]
    fn the_aws_clis_global_flags_may_come_before_the_subcommand() {
        let habits = |args: &[&str]| -> Result<Vec<String>, UsageError> {
            let args = std::iter::once("kms-doctor")
                .chain(args.iter().copied())
                .map(std::ffi::OsString::from);
            Ok(crate::cli::aws_cli_habits(args)?
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect())
        };
        assert_eq!(
            habits(&[
                "--region",
                "eu-west-1",
                "--profile=prod",
                "-v",
                "diagnose",
                "alias/x"
            ])
            .unwrap(),
            [
                "kms-doctor",
                "-v",
                "diagnose",
                "--region",
                "eu-west-1",
                "--profile=prod",
                "alias/x"
            ]
        );
        assert_eq!(
            habits(&[
                "--color", "never", "--output", "json", "explain", "--policy", "p"
            ])
            .unwrap(),
            [
                "kms-doctor",
                "--color",
                "never",
                "explain",
                "--output",
                "json",
                "--policy",
                "p"
            ]
        );
        // After the subcommand, nothing moves.
        assert_eq!(
            habits(&["scan", "--region", "a", "--region", "b"]).unwrap(),
            ["kms-doctor", "scan", "--region", "a", "--region", "b"]
        );
        assert!(matches!(
            habits(&["diagnose", "k", "--no-verify-ssl"]),
            Err(UsageError::NoVerifySsl)
        ));
        let v = validate(&[
            "diagnose",
            "k1",
            "--endpoint-url",
            "https://kms.internal:8443",
        ]);
        let Request::Diagnose(d) = v.unwrap().request else {
            panic!("a diagnose request")
        };
        let Target::Live { aws, .. } = d.target else {
            panic!("live")
        };
        assert_eq!(
            aws.endpoint_url.as_deref(),
            Some("https://kms.internal:8443")
        );
        assert!(
            Cli::try_parse_from(["kms-doctor", "diagnose", "k1", "--endpoint-url", "kms"]).is_err()
        );
    }

    #[test]
    fn a_zero_timeout_is_refused_by_the_parser() {
        assert!(Cli::try_parse_from(["kms-doctor", "diagnose", "k1", "--timeout", "0"]).is_err());
    }

    #[test]
    fn text_is_the_default_off_a_terminal_and_colour_follows_the_terminal() {
        let v = validate(&["explain", "--policy", "-", "--action", "GetKeyPolicy"]).unwrap();
        assert!(!v.color);
        let Request::Explain(e) = v.request else {
            panic!("an explain request")
        };
        assert_eq!(e.output.format, crate::report::Format::Text);
        // --output is the AWS CLI's name for it.
        let v = validate(&["explain", "--policy", "-", "--output", "json"]).unwrap();
        let Request::Explain(e) = v.request else {
            panic!("an explain request")
        };
        assert_eq!(e.output.format, crate::report::Format::Json);
        let v = validate(&["explain", "--policy", "-", "--action", "GetKeyPolicy"]).unwrap();
        let Request::Explain(e) = v.request else {
            panic!("an explain request")
        };
        assert_eq!(e.actions, ["kms:GetKeyPolicy"]);
        assert_eq!(e.policy, PolicyInput::Stdin);
    }

    /// A front end's defaults are the command line's, field for field.
    #[test]
    fn each_input_defaults_as_the_command_line_does() {
        use crate::cli::Command;
        use crate::commands::input::{CheckArgs, DiagnoseArgs, ExplainArgs, HistoryArgs, ScanArgs};
        use std::path::PathBuf;
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().command;
        let Command::Scan(scan) = parse(&["kms-doctor", "scan"]) else {
            unreachable!()
        };
        assert_eq!(format!("{:?}", ScanArgs::default()), format!("{scan:?}"));
        assert_eq!(ScanArgs::default().timeout, 10);
        let Command::Diagnose(mut d) = parse(&["kms-doctor", "diagnose", "k"]) else {
            unreachable!()
        };
        d.key = None;
        assert_eq!(format!("{:?}", DiagnoseArgs::default()), format!("{d:?}"));
        assert_eq!(DiagnoseArgs::default().max_hops, 2);
        let Command::Check(mut c) = parse(&["kms-doctor", "check", "p"]) else {
            unreachable!()
        };
        c.paths.clear();
        assert_eq!(format!("{:?}", CheckArgs::default()), format!("{c:?}"));
        let Command::History(mut h) = parse(&["kms-doctor", "history", "k"]) else {
            unreachable!()
        };
        h.key.clear();
        assert_eq!(format!("{:?}", HistoryArgs::default()), format!("{h:?}"));
        let Command::Explain(mut e) = parse(&["kms-doctor", "explain", "--policy", "p"]) else {
            unreachable!()
        };
        e.policy = PathBuf::new();
        assert_eq!(format!("{:?}", ExplainArgs::default()), format!("{e:?}"));
    }
}
