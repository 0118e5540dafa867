//! `plinth compare IMAGE...`: the side-by-side table users otherwise build from four tools
//! (size, packages, CVEs, shell, package manager, root user), as a table, JSON, Markdown,
//! and a self-contained HTML report with bar charts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::render::compare::{html, rows, table};
use crate::render::{CliError, stdout, warn, write_atomically};

#[derive(clap::Args)]
pub struct Args {
    /// Two or more images or root filesystems: OCI layout dirs (DIR or DIR:TAG),
    /// oci-archives, docker-archives, root filesystem directories or tarballs
    #[arg(required = true, num_args = 2.., value_name = "IMAGE")]
    images: Vec<String>,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write a self-contained HTML report with charts to FILE [default: no report]
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", help = crate::args::READ_PLATFORM)]
    platform: Option<String>,
    #[command(flatten)]
    db: crate::args::DbPath,
    /// Leave out the CVE counts even when a vulnerability database exists
    #[arg(long)]
    no_cves: bool,
    #[arg(long, help = crate::args::NO_CACHE)]
    no_cache: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Markdown,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let db = if args.no_cves {
        None
    } else {
        match plinth_vuln::Db::open(&args.db.resolve()) {
            Ok(db) => Some(db),
            Err(plinth_vuln::Error::Missing { path }) => {
                warn(&format!(
                    "no vulnerability database at {}: CVE counts left out (run `plinth db update` or `plinth db import`)",
                    path.display()
                ));
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let lookup = match &db {
        Some(db) => Some(db.lookup().map_err(CliError::from)?),
        None => None,
    };
    let lookup = lookup
        .as_ref()
        .map(|l| l as &dyn plinth_vuln::matcher::AdvisoryLookup);
    let mut columns = Vec::new();
    for image in &args.images {
        let subject =
            crate::registry::open_subject(image, args.platform.as_deref(), !args.no_cache)?;
        let sbom = plinth_sbom::catalog(&subject);
        for w in sbom.warnings.iter().take(5) {
            warn(&format!("{image}: {w}"));
        }
        let (column, warning) = plinth_vuln::compare::column(&subject, &sbom, lookup)
            .map_err(|e| CliError::input(e, None))?;
        if let Some(w) = warning {
            warn(&w);
        }
        columns.push(column);
    }
    if let Some(path) = &args.html {
        write_atomically(path, html(&columns).as_bytes())?;
    }
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&columns).expect("serialisable") + "\n",
        Format::Table => table(&rows(&columns), false),
        Format::Markdown => table(&rows(&columns), true),
    };
    stdout(&out)
}
