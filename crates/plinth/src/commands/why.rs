//! `plinth why PACKAGE SPEC`: which requested package pulls PACKAGE in, and through
//! which dependencies. Reads the lock: no network.

use std::path::PathBuf;
use std::process::ExitCode;

use plinth_build::{Spec, lock_path};
use plinth_deb::lock::Lock;

use crate::render::{CliError, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// A Debian package name
    package: String,
    /// The image spec (plinth.toml)
    spec: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec = Spec::load(&args.spec)?;
    let path = lock_path(&spec);
    let lock = Lock::load(&path)
        .map_err(|e| CliError::input(e, None))?
        .ok_or_else(|| {
            CliError::input(
                format!(
                    "{} has no lock ({} is missing)",
                    args.spec.display(),
                    path.display()
                ),
                Some(format!("run `plinth lock {}` first", args.spec.display())),
            )
        })?;
    let mut out = String::new();
    for p in &lock.platforms {
        if let Some(pkg) = p.packages.iter().find(|x| x.name == args.package) {
            let requested = spec
                .debian
                .as_ref()
                .is_some_and(|d| d.packages.contains(&pkg.name));
            let how = if requested || pkg.why.len() <= 1 {
                "requested by the spec".to_string()
            } else {
                pkg.why.join(" -> ")
            };
            out.push_str(&format!(
                "{}: {} {}: {how}\n",
                p.platform, pkg.name, pkg.version
            ));
        }
    }
    if out.is_empty() {
        return Err(CliError::input(
            format!(
                "{} is not in the image built from {}",
                args.package,
                args.spec.display()
            ),
            Some("`plinth lock SPEC` lists every package of the lock".into()),
        ));
    }
    stdout(&out)
}
