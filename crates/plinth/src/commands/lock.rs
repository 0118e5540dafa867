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
    // (platform, name, version, arch) of every locked package, whatever the distribution.
    let (outcome, rows): (_, Vec<[String; 4]>) = if spec.rpm.is_some() {
        let (lock, outcome) = ensure_rpm_lock(&spec, &opts)?;
        let rows = lock.platforms.iter().flat_map(|p| {
            p.packages
                .iter()
                .map(|x| [p.platform.clone(), x.name.clone(), x.evr(), x.arch.clone()])
        });
        (outcome, rows.collect())
    } else if spec.alpine.is_some() {
        let (lock, outcome) = ensure_alpine_lock(&spec, &opts)?;
        let rows = lock.platforms.iter().flat_map(|p| {
            p.packages.iter().map(|x| {
                [
                    p.platform.clone(),
                    x.name.clone(),
                    x.version.clone(),
                    x.arch.clone(),
                ]
            })
        });
        (outcome, rows.collect())
    } else {
        let (lock, outcome) = ensure_lock(&spec, &opts)?;
        let rows = lock.platforms.iter().flat_map(|p| {
            p.packages.iter().map(|x| {
                [
                    p.platform.clone(),
                    x.name.clone(),
                    x.version.clone(),
                    x.architecture.clone(),
                ]
            })
        });
        (outcome, rows.collect())
    };
    if !args.quiet {
        lock_outcome(&lock_path(&spec), &outcome);
    }
    let out: String = rows.iter().map(|r| format!("{}\n", r.join("\t"))).collect();
    stdout(&out)
}
