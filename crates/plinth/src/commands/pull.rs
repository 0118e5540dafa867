//! `plinth pull REF`: an image from a registry into a layout directory or an archive.

use std::path::PathBuf;
use std::process::ExitCode;

use plinth_registry::copy::{DiskFormat, Endpoint};

use crate::render::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// The registry reference (`alpine:3.20`, `host:5000/name@sha256:…`)
    reference: String,
    /// Where to write [default: the repository's last component, e.g. `alpine` (a
    /// layout) or `alpine.tar` (an archive)]
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// What to write: `oci` (a layout directory), `oci-archive` or `docker-archive`
    #[arg(short, long, value_enum, default_value_t = crate::commands::copy::DiskArg::Oci)]
    format: crate::commands::copy::DiskArg,
    #[command(flatten)]
    transfer: crate::commands::copy::TransferArgs,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let src = Endpoint::source(&format!(
        "docker://{}",
        args.reference.trim_start_matches("docker://")
    ))?;
    let Endpoint::Registry(r) = &src else {
        unreachable!("docker:// is always a registry reference")
    };
    let format = DiskFormat::from(args.format);
    let path = args.output.clone().unwrap_or_else(|| {
        let last = r.repository.rsplit('/').next().unwrap_or("image");
        match format {
            DiskFormat::Layout => PathBuf::from(last),
            _ => PathBuf::from(format!("{last}.tar")),
        }
    });
    let dst = Endpoint::Disk {
        arg: path.display().to_string(),
        path,
        tag: None,
        format,
    };
    crate::commands::copy::transfer(&src, &dst, &args.transfer)
}
