//! `plinth sbom IMAGE`: what is inside any image, as SPDX, CycloneDX, a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use plinth_sbom::format::{Format, write};

use crate::render::{CliError, stdout, warn, write_atomically};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::args::IMAGE_OR_ROOTFS)]
    image: String,
    /// Output format: table, json (Plinth's own), spdx-json or cyclonedx-json (also
    /// plinth-json and cyclonedx, the older spellings)
    #[arg(long, short = 'f', default_value = "table")]
    format: Format,
    /// Write to FILE (atomically) [default: stdout]
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", help = crate::args::READ_PLATFORM)]
    platform: Option<String>,
    /// Print no warnings about skipped files on stderr, only errors
    #[arg(long, short = 'q')]
    quiet: bool,
    #[arg(long, help = crate::args::NO_CACHE)]
    no_cache: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let opts = crate::args::sbom_write_options()?;
    let subject =
        crate::registry::open_subject(&args.image, args.platform.as_deref(), !args.no_cache)?;
    let sbom = plinth_sbom::catalog(&subject);
    if !args.quiet {
        crate::render::warnings(&sbom.warnings);
    }
    if sbom.distro.is_none() && sbom.packages.iter().any(|p| p.kind().is_os()) {
        warn("no OS release found (no /etc/os-release): package identifiers carry no distro");
    }
    let bytes = write(&sbom, args.format, &opts);
    match args.output {
        Some(path) => {
            write_atomically(&path, &bytes)?;
            Ok(ExitCode::SUCCESS)
        }
        None => stdout(&String::from_utf8_lossy(&bytes)),
    }
}
