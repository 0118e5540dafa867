//! `plinth completions SHELL`: a completion script, generated from the command definitions.

use std::process::ExitCode;

use clap_complete::Shell;

use crate::render::{CliError, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: Args, mut cmd: clap::Command) -> Result<ExitCode, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "plinth", &mut script);
    stdout(&String::from_utf8_lossy(&script))
}
