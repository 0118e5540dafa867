//! `plinth inspect IMAGE`: manifest digest, config, layers and files of any image.

use std::process::ExitCode;

use crate::args::TableOrJson;
use plinth_oci::inspect::{inspect, inspect_source};

use crate::render::{CliError, stdout, warn};

#[derive(clap::Args)]
pub struct Args {
    /// An OCI layout dir (DIR or DIR:TAG), an oci-archive, a docker-archive or a registry
    /// reference (alpine:3.20, docker://host:5000/name:tag)
    image: String,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = TableOrJson::Table)]
    format: TableOrJson,
    /// Leave out the file listing
    #[arg(long)]
    no_files: bool,
    /// Show only this platform, e.g. linux/arm64 [default: every platform]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let report = match crate::registry::open_remote(&args.image)? {
        Some(src) => inspect_source(&src, None, args.platform.as_deref(), !args.no_files, false)
            .map_err(crate::registry::lazy_error)?,
        None => inspect(&args.image, args.platform.as_deref(), !args.no_files)?,
    };
    for img in &report.images {
        for w in &img.warnings {
            warn(w);
        }
    }
    match args.format {
        TableOrJson::Json => {
            let mut s = serde_json::to_string_pretty(&report).expect("serialisable");
            s.push('\n');
            stdout(&s)
        }
        TableOrJson::Table => stdout(&crate::render::inspect::table(&report)),
    }
}
