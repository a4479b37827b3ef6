//! Parse, run, exit status. Everything else is in the library.

// The one place that opens the process's standard streams (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use clap::Parser;
use kms_doctor::cli::{Cli, Terminal};
use kms_doctor::commands::{self, Console, Exit};
use kms_doctor::report::{Ansi, NoColor, WriteColor, escape};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let terminal = Terminal {
        stdout_is_terminal: std::io::stdout().is_terminal(),
        no_color,
    };
    let verbose = cli.verbose;
    let validated = match cli.validate(terminal) {
        Ok(v) => v,
        Err(e) => return fail(&e, verbose),
    };
    let stderr_is_terminal = std::io::stderr().is_terminal();
    let stderr: Box<dyn WriteColor> = if stderr_is_terminal && !no_color {
        Box::new(Ansi(std::io::stderr()))
    } else {
        Box::new(NoColor(std::io::stderr()))
    };
    let console = Console::new(stderr, validated.verbose, stderr_is_terminal);
    let stdout = std::io::stdout().lock();
    let mut out: Box<dyn WriteColor> = if validated.color {
        Box::new(Ansi(stdout))
    } else {
        Box::new(NoColor(stdout))
    };
    let result = commands::run(validated.request, out.as_mut(), &console)
        .and_then(|code| out.flush().map(|()| code).map_err(Into::into));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        // The reader went away (`| head`): nothing is wrong.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => fail(&e, verbose),
    }
}

/// One line saying what is wrong and what to do; with `-v`, each cause on a line of its own.
/// Never a Debug dump. Errors carry text from outside (AWS's messages, paths the user typed):
/// it is escaped as any report's is.
fn fail(err: &dyn std::error::Error, verbose: bool) -> ExitCode {
    let shown = |e: &dyn std::error::Error| escape::terminal(&e.to_string()).into_owned();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "kms-doctor failed: {}", shown(err));
    let mut cause = err.source().filter(|_| verbose);
    while let Some(c) = cause {
        let _ = writeln!(stderr, "  caused by: {}", shown(c));
        cause = c.source();
    }
    ExitCode::from(Exit::Failure.code())
}
