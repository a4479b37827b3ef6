use clap::Parser;
use kms_doctor::app::{self, EXIT_FAILURE, Terminal};
use kms_doctor::cli::{Cli, ColorWhen};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let is_terminal = stdout.is_terminal();
    let color = match cli.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut out = stdout.lock();
    let result = app::run(cli, Terminal { is_terminal, color }, &mut out);
    let _ = out.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let err = anyhow::Error::from(err);
            let mut stderr = anstream::stderr();
            let _ = writeln!(stderr, "kms-doctor failed: {err}");
            for cause in err.chain().skip(1) {
                let _ = writeln!(stderr, "  caused by: {cause}");
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
