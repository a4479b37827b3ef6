//! `kms-doctor completions SHELL` and the hidden `kms-doctor manpages DIR`: generated from the
//! command line's own definition (clap_complete, clap_mangen), never written by hand, so they
//! cannot drift from the flags. The release archives carry both (`scripts/package.sh`).

use super::CommandError;
use super::output_file::write_new;
use crate::diagnosis::model::Exit;
use crate::report::WriteColor;
use std::path::PathBuf;

#[derive(Debug)]
pub struct GenerateRequest {
    /// The command line's definition.
    pub command: clap::Command,
    pub what: Generate,
}

#[derive(Debug)]
pub enum Generate {
    Completions(clap_complete::Shell),
    /// `kms-doctor.1` and `kms-doctor-COMMAND.1` for each command, into `dir`.
    Manpages {
        dir: PathBuf,
        force: bool,
    },
}

pub fn run(req: GenerateRequest, out: &mut dyn WriteColor) -> Result<Exit, CommandError> {
    let mut command = req.command;
    match req.what {
        Generate::Completions(shell) => {
            // Written to memory first: clap_complete's generators panic on a failed write (fish
            // even from `try_generate`), and a closed pipe must be a quiet exit in main.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "kms-doctor", &mut script);
            out.write_all(&script)?;
        }
        Generate::Manpages { dir, force } => {
            let mut command = command.disable_help_subcommand(true);
            command.build();
            let mut pages = vec![command.clone()];
            pages.extend(
                command
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .cloned(),
            );
            for page in pages {
                let man = clap_mangen::Man::new(page);
                let mut text = Vec::new();
                man.render(&mut text)?;
                write_new(&dir.join(man.get_filename()), &text, force)?;
            }
        }
    }
    Ok(Exit::Clean)
}
