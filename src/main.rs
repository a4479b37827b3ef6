//! Parse, run, exit status. Everything else is in the library.

// The one place that opens the process's standard streams (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use clap::Parser;
use kms_doctor::cli::{Cli, Terminal};
use kms_doctor::commands::{self, Console, Exit};
use kms_doctor::report::{Ansi, DEFAULT_WIDTH, NoColor, Width, WriteColor, escape};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match kms_doctor::cli::aws_cli_habits(std::env::args_os()) {
        Ok(args) => args,
        Err(e) => return fail(&e),
    };
    let cli = Cli::parse_from(args);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let terminal = Terminal {
        stdout_is_terminal: std::io::stdout().is_terminal(),
        no_color,
    };
    let validated = match cli.validate(terminal) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    let stderr_is_terminal = std::io::stderr().is_terminal();
    let stderr: Box<dyn WriteColor + Send> = if stderr_is_terminal && !no_color {
        Box::new(Ansi(std::io::stderr()))
    } else {
        Box::new(NoColor(std::io::stderr()))
    };
    let console = Console::new(stderr, validated.verbose, stderr_is_terminal);
    let stdout = std::io::stdout().lock();
    let coloured: Box<dyn WriteColor> = if validated.color {
        Box::new(Ansi(stdout))
    } else {
        Box::new(NoColor(stdout))
    };
    // Text wraps to COLUMNS when set, else the terminal's width, else 100.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or_else(|| {
            terminal
                .stdout_is_terminal
                .then(terminal_size::terminal_size)
                .flatten()
                .map(|(w, _)| usize::from(w.0))
        })
        .unwrap_or(DEFAULT_WIDTH);
    let mut out: Box<dyn WriteColor> = Box::new(Width(coloured, width));
    let result = commands::run(validated.request, out.as_mut(), &console)
        .and_then(|code| out.flush().map(|()| code).map_err(Into::into));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        // The reader went away (`| head`): nothing is wrong.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// One line saying what is wrong, with its whole chain of causes (a cause whose words the line
/// already holds is not said twice); `-v` never holds back the cause. Never a Debug dump.
/// Errors carry text from outside (AWS's messages, paths the user typed): it is escaped as any
/// report's is.
fn fail(err: &dyn std::error::Error) -> ExitCode {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !said.is_empty() && !line.contains(&said) {
            line.push_str(": ");
            line.push_str(&said);
        }
        cause = c.source();
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "kms-doctor failed: {}", escape::terminal(&line));
    ExitCode::from(Exit::Failure.code())
}
