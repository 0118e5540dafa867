//! `plinth scan IMAGE|SBOM`: known vulnerabilities of an image's packages, from the
//! database (`plinth db`), or from the Debian archive's changelogs with no feed at all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use plinth_sbom::Sbom;
use plinth_vuln::Severity;
use plinth_vuln::archive::{ArchiveOptions, ArchiveSource};
use plinth_vuln::matcher::{MatchError, MatchOptions};
use plinth_vuln::report::{ReportOptions, ScanFormat};
use plinth_vuln::scan::{
    ScanError, ScanOptions, TargetError, findings_at_or_above, load_target_cached,
    release_not_covered,
};

use crate::args::{ArchiveArgs, DbPath, MaxAge};
use crate::render::{CliError, stdout, warn, write_atomically};

#[derive(clap::Args)]
pub struct Args {
    /// An OCI layout dir (DIR or DIR:TAG), an oci-archive, a docker-archive, a root
    /// filesystem (a directory or a tarball), or an SPDX or CycloneDX JSON SBOM (written by
    /// plinth, syft or trivy)
    target: String,
    #[command(flatten)]
    db: DbPath,
    #[command(flatten)]
    max_age: MaxAge,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Output::Table)]
    format: Output,
    /// Write to FILE (atomically) [default: stdout]
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe (or the OS release is not covered)
    /// [default: exit 0 whatever is found]
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// Only findings that have a fixed version
    #[arg(long)]
    only_fixed: bool,
    /// A TOML file of findings to ignore, each with a reason and an optional expiry
    /// [default: none]
    #[arg(long, value_name = "FILE")]
    ignore: Option<PathBuf>,
    /// An OpenVEX document marking findings not affected (repeatable) [default: none]
    #[arg(long, value_name = "FILE")]
    vex: Vec<PathBuf>,
    /// Also report what the default rules hide (repeatable) [default: none of these]
    #[arg(long, value_enum, value_name = "WHAT")]
    include: Vec<Include>,
    /// The OS release when the image does not say (no /etc/os-release), e.g. debian:12
    /// [default: the image's /etc/os-release]
    #[arg(long, value_name = "ID:VERSION")]
    distro: Option<String>,
    /// No feed: list the CVEs that newer versions in the signed Debian archive fix,
    /// from their changelogs
    #[arg(long, conflicts_with_all = ["fail_on", "only_fixed", "ignore", "vex", "include"])]
    fixes_from_archive: bool,
    #[command(flatten)]
    debian: ArchiveArgs,
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", help = crate::args::READ_PLATFORM)]
    platform: Option<String>,
    /// Print no progress and no warnings on stderr, only errors and a release the database
    /// does not cover
    #[arg(long, short = 'q')]
    quiet: bool,
    #[arg(long, help = crate::args::NO_CACHE)]
    no_cache: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Output {
    Table,
    Json,
    Sarif,
    /// CycloneDX 1.6 with vulnerabilities (`cyclonedx` is the older spelling)
    #[value(name = "cyclonedx-json", alias = "cyclonedx")]
    Cyclonedx,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    /// Any finding, including those of unknown severity (Alpine's secdb gives none)
    Any,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Any => Severity::Unknown,
            FailOn::Negligible => Severity::Negligible,
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Include {
    /// Debian's `unimportant` issues
    Negligible,
    /// Issues the tracker has not triaged for the release
    Undetermined,
    /// Debian `<ignored>` issues without an urgency
    DebianIgnored,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut sbom = load(
        &args.target,
        args.platform.as_deref(),
        args.quiet,
        !args.no_cache,
    )?;
    if let Some(d) = &args.distro {
        sbom.distro = Some(
            plinth_sbom::distro::parse(d, "--distro")
                .map_err(|e| CliError::input(format!("--distro {d}: {e}"), None))?,
        );
    }
    if args.fixes_from_archive {
        return archive(&args, &sbom);
    }
    let opts = ScanOptions {
        matching: MatchOptions {
            include_undetermined: args.include.contains(&Include::Undetermined),
            include_negligible: args.include.contains(&Include::Negligible),
            include_debian_ignored: args.include.contains(&Include::DebianIgnored),
        },
        max_age_days: args.max_age.days,
        ignore: args.ignore.clone(),
        vex: args.vex.clone(),
        only_fixed: args.only_fixed,
    };
    let result =
        plinth_vuln::scan::scan_with_db(&sbom, &args.db.resolve(), &opts).map_err(scan_error)?;
    let not_covered = release_not_covered(&result);
    if !args.quiet || not_covered.is_some() {
        for w in &result.warnings {
            warn(w);
        }
    }
    if let Some(msg) = &not_covered {
        warn(msg);
    }
    let format = match args.format {
        Output::Table => ScanFormat::Table,
        Output::Json => ScanFormat::Json,
        Output::Sarif => ScanFormat::Sarif,
        Output::Cyclonedx => ScanFormat::CycloneDx,
    };
    let bytes = plinth_vuln::report::write(&result, format, &report_options()?);
    emit(args.output.as_deref(), &bytes)?;
    if let Some(threshold) = args.fail_on {
        let threshold = Severity::from(threshold);
        if let Some(n) = findings_at_or_above(&result, threshold) {
            let at = match threshold {
                Severity::Unknown => "of any severity".to_string(),
                t => format!("at or above {}", t.as_str()),
            };
            eprintln!("{n} finding(s) {at}: failing (--fail-on)");
            return Ok(ExitCode::from(1));
        }
        if not_covered.is_some() {
            eprintln!("the OS packages were not matched: failing (--fail-on)");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The image's packages: catalogued from the image, or read from an SBOM file.
pub fn load(
    target: &str,
    platform: Option<&str>,
    quiet: bool,
    cache: bool,
) -> Result<Sbom, CliError> {
    if let Some(src) = crate::registry::open_remote(target)? {
        let subject = plinth_sbom::subject::from_source(
            &src,
            None,
            target,
            platform,
            plinth_sbom::SubjectKind::Registry,
            &plinth_sbom::subject::fs_options_cached(cache),
        )
        .map_err(crate::registry::lazy_error)?;
        let sbom = plinth_sbom::catalog(&subject);
        if !quiet {
            crate::render::warnings(&sbom.warnings);
        }
        return Ok(sbom);
    }
    let loaded = load_target_cached(target, platform, cache).map_err(|e| match e {
        TargetError::Image(e) => CliError::from(e),
        e => {
            let hint = e.hint();
            CliError::input(e, hint)
        }
    })?;
    if !quiet && !loaded.from_sbom_file {
        crate::render::warnings(&loaded.sbom.warnings);
    }
    Ok(loaded.sbom)
}

fn scan_error(e: ScanError) -> CliError {
    match e {
        ScanError::Db(e) => e.into(),
        ScanError::Match(e) => {
            let hint = match &e {
                MatchError::UnknownRelease { .. } => Some(
                    "name the release with --distro (e.g. --distro debian:12 or --distro alpine:3.20)"
                        .into(),
                ),
                MatchError::Lookup { .. } => Some(plinth_vuln::error::REBUILD_HINT.to_string()),
            };
            CliError::input(e, hint)
        }
        ScanError::Suppress(e) => CliError::input(e, None),
    }
}

fn report_options() -> Result<ReportOptions, CliError> {
    let created = crate::args::sbom_write_options()?.created;
    Ok(ReportOptions {
        timestamp: created.map(plinth_core::date::format_rfc3339),
        ..ReportOptions::default()
    })
}

fn emit(output: Option<&Path>, bytes: &[u8]) -> Result<(), CliError> {
    match output {
        Some(path) => write_atomically(path, bytes),
        None => stdout(&String::from_utf8_lossy(bytes)).map(|_| ()),
    }
}

fn archive(args: &Args, sbom: &Sbom) -> Result<ExitCode, CliError> {
    let source = ArchiveSource::mirror_or_apt(args.debian.mirror.as_deref()).map_err(|e| {
        CliError::input(
            e,
            Some(
                "--mirror trusts the Debian archive keyring; install debian-archive-keyring".into(),
            ),
        )
    })?;
    let cache = match &args.debian.cache_dir {
        Some(d) => plinth_deb::cache::Cache::new(d.clone()),
        None => plinth_deb::cache::Cache::new(plinth_core::dirs::cache_root()),
    };
    let opts = ArchiveOptions {
        source,
        security: match (&args.debian.security_mirror, args.debian.no_security) {
            (_, true) => plinth_deb::repo::Security::Off,
            (Some(m), false) => plinth_deb::repo::Security::Mirror(m.clone()),
            (None, false) => plinth_deb::repo::Security::Apt,
        },
        ..ArchiveOptions::default()
    };
    let reporter = crate::progress::reporter(args.quiet);
    let fixes = plinth_vuln::archive::fixes_from_archive(sbom, &opts, &cache, reporter.as_ref())
        .map_err(|e| {
            let hint = e.hint();
            CliError::input(e, hint)
        })?;
    for w in &fixes.warnings {
        warn(w);
    }
    let bytes = match args.format {
        Output::Json => {
            let mut v = serde_json::to_vec_pretty(&fixes).expect("fixes serialise");
            v.push(b'\n');
            v
        }
        Output::Table => crate::render::archive::table(sbom, &fixes).into_bytes(),
        Output::Sarif | Output::Cyclonedx => {
            return Err(CliError::input(
                "--fixes-from-archive writes a table or JSON",
                Some("use --format table or --format json".into()),
            ));
        }
    };
    emit(args.output.as_deref(), &bytes)?;
    Ok(ExitCode::SUCCESS)
}
