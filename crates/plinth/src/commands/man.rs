//! `plinth man [--dir DIR]`: manual pages in roff, generated from the command definitions.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::render::{CliError, stdout, write_atomically};

#[derive(clap::Args)]
pub struct Args {
    /// Write one page per command (plinth.1, plinth-build.1, plinth-db-update.1, …) into DIR,
    /// creating it [default: print plinth.1 on stdout]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: Args, cmd: clap::Command) -> Result<ExitCode, CliError> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = args.dir else {
        return stdout(&String::from_utf8_lossy(&page(&cmd)?));
    };
    fs_err::create_dir_all(&dir).map_err(|e| {
        CliError::input(
            e,
            Some("--dir names a directory to write the pages into".into()),
        )
    })?;
    let mut written = Vec::new();
    write_pages(&cmd, &dir, &mut written)?;
    let mut out = String::new();
    for p in written {
        out.push_str(&format!("{}\n", p.display()));
    }
    stdout(&out)
}

/// `cmd`'s page and, before it, those of its subcommands, recursively.
fn write_pages(
    cmd: &clap::Command,
    dir: &std::path::Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    write_atomically(&path, &page(cmd)?)?;
    written.push(path);
    Ok(())
}

fn page(cmd: &clap::Command) -> Result<Vec<u8>, CliError> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut roff)
        .map_err(|e| CliError::internal(e, None))?;
    Ok(roff)
}
