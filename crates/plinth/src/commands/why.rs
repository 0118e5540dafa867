//! `plinth why PACKAGE SPEC`: which requested package pulls PACKAGE in, and through
//! which dependencies. Reads the lock: no network.

use std::path::PathBuf;
use std::process::ExitCode;

use plinth_build::Spec;

use crate::render::{CliError, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// A package name (Debian, Alpine or RPM, as the spec's)
    package: String,
    /// The image spec (plinth.toml)
    spec: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec = Spec::load(&args.spec)?;
    let reasons = plinth_build::why::why(&spec, &args.spec, &args.package).map_err(|e| {
        let hint = e.hint();
        CliError::input(e, hint)
    })?;
    let mut out = String::new();
    for r in &reasons {
        out.push_str(&format!(
            "{}: {} {}: {}\n",
            r.platform, r.package, r.version, r.how
        ));
    }
    stdout(&out)
}
