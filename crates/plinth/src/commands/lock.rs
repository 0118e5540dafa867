//! `plinth lock SPEC`: resolve a Debian-, Alpine- or RPM-based spec's packages and write
//! `plinth.lock`.

use std::path::PathBuf;
use std::process::ExitCode;

use plinth_build::{
    BuildOptions, LockMode, Spec, ensure_alpine_lock, ensure_lock, ensure_rpm_lock, lock_path,
};

use crate::args::DebianArgs;
use crate::render::{CliError, lock_outcome, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// The image spec (plinth.toml)
    spec: PathBuf,
    /// Resolve again to the newest versions and show what changed
    #[arg(long)]
    update: bool,
    #[command(flatten)]
    debian: DebianArgs,
    #[arg(short, long, help = crate::args::QUIET)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let spec = Spec::load(&args.spec)?;
    let opts = BuildOptions {
        mirror: args.debian.mirror.clone(),
        security_mirror: args.debian.security_mirror.clone(),
        no_security: args.debian.no_security,
        cache: args.debian.cache_dir.clone(),
        lock: if args.update {
            LockMode::Update
        } else {
            LockMode::UseOrCreate
        },
        reporter: crate::progress::reporter(args.quiet),
        ..Default::default()
    };
    let mut out = String::new();
    if spec.rpm.is_some() {
        let (lock, outcome) = ensure_rpm_lock(&spec, &opts)?;
        if !args.quiet {
            lock_outcome(&lock_path(&spec), &outcome);
        }
        for p in &lock.platforms {
            for pkg in &p.packages {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    p.platform,
                    pkg.name,
                    pkg.evr(),
                    pkg.arch
                ));
            }
        }
        return stdout(&out);
    }
    if spec.alpine.is_some() {
        let (lock, outcome) = ensure_alpine_lock(&spec, &opts)?;
        if !args.quiet {
            lock_outcome(&lock_path(&spec), &outcome);
        }
        for p in &lock.platforms {
            for pkg in &p.packages {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    p.platform, pkg.name, pkg.version, pkg.arch
                ));
            }
        }
        return stdout(&out);
    }
    let (lock, outcome) = ensure_lock(&spec, &opts)?;
    if !args.quiet {
        lock_outcome(&lock_path(&spec), &outcome);
    }
    for p in &lock.platforms {
        for pkg in &p.packages {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                p.platform, pkg.name, pkg.version, pkg.architecture
            ));
        }
    }
    stdout(&out)
}
