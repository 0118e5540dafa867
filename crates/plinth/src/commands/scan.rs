//! `plinth scan IMAGE|SBOM`: known vulnerabilities of an image's packages, from the
//! database (`plinth db`), or from the Debian archive's changelogs with no feed at all.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use plinth_sbom::{Distro, Sbom};
use plinth_vuln::Severity;
use plinth_vuln::archive::{ArchiveFixes, ArchiveOptions, ArchiveSource};
use plinth_vuln::matcher::{MatchError, MatchOptions, ReleaseStatus, ScanResult};
use plinth_vuln::report::{ReportOptions, ScanFormat};

use crate::commands::build::DebianArgs;
use crate::commands::db::{DbPath, MaxAge, vuln_error};
use crate::render::{CliError, stdout, warn, write_atomically};

#[derive(clap::Args)]
pub struct Args {
    /// An image or root filesystem (as for `plinth sbom`), or an SPDX or CycloneDX JSON
    /// SBOM (written by plinth, syft or trivy)
    target: String,
    #[command(flatten)]
    db: DbPath,
    #[command(flatten)]
    max_age: MaxAge,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Output::Table)]
    format: Output,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe (or the OS release is not covered)
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// Only findings that have a fixed version
    #[arg(long)]
    only_fixed: bool,
    /// A TOML file of findings to ignore, each with a reason and an optional expiry
    #[arg(long, value_name = "FILE")]
    ignore: Option<PathBuf>,
    /// An OpenVEX document marking findings not affected (repeatable)
    #[arg(long, value_name = "FILE")]
    vex: Vec<PathBuf>,
    /// Also report what the default rules hide (repeatable)
    #[arg(long, value_enum, value_name = "WHAT")]
    include: Vec<Include>,
    /// The OS release when the image does not say (no /etc/os-release), e.g. debian:12
    #[arg(long, value_name = "ID:VERSION")]
    distro: Option<String>,
    /// No feed: list the CVEs that newer versions in the signed Debian archive fix,
    /// from their changelogs
    #[arg(long, conflicts_with_all = ["fail_on", "only_fixed", "ignore", "vex", "include"])]
    fixes_from_archive: bool,
    #[command(flatten)]
    debian: DebianArgs,
    /// The image of a multi-platform index to read (default: this machine's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// Do not print warnings about skipped files
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Output {
    Table,
    Json,
    Sarif,
    #[value(alias = "cyclonedx-json")]
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

/// SBOM files are small next to images; this bounds a hostile one.
const MAX_SBOM_BYTES: u64 = 512 << 20;

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut sbom = load(&args.target, args.platform.as_deref(), args.quiet)?;
    if let Some(d) = &args.distro {
        sbom.distro = Some(parse_distro(d)?);
    }
    if args.fixes_from_archive {
        return archive(&args, &sbom);
    }
    let path = args.db.resolve();
    let db = plinth_vuln::Db::open(&path).map_err(vuln_error)?;
    let lookup = db.lookup().map_err(vuln_error)?;
    let opts = MatchOptions {
        include_undetermined: args.include.contains(&Include::Undetermined),
        include_negligible: args.include.contains(&Include::Negligible),
        include_debian_ignored: args.include.contains(&Include::DebianIgnored),
    };
    let mut result = plinth_vuln::matcher::scan(&sbom, &lookup, &opts).map_err(match_error)?;
    result.database = Some(db.info().map_err(vuln_error)?);
    if let Some(w) = args.max_age.check(&db)? {
        result.warnings.push(w);
    }
    suppress(&args, &mut result)?;
    if args.only_fixed {
        plinth_vuln::report::only_fixed(&mut result);
    }
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
        if plinth_vuln::report::exceeds(&result, threshold) {
            let n = result
                .findings
                .iter()
                .filter(|f| f.severity >= threshold)
                .count();
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
pub fn load(target: &str, platform: Option<&str>, quiet: bool) -> Result<Sbom, CliError> {
    let path = Path::new(target);
    if let Some(bytes) = sbom_file(path)? {
        return plinth_vuln::sbomin::read_sbom(&bytes).map_err(|e| {
            CliError::input(
                format!("{target} is not an SBOM plinth can read: {e}"),
                Some("plinth reads SPDX 2.x and CycloneDX JSON, as written by plinth, syft and trivy".into()),
            )
        });
    }
    let subject = plinth_sbom::subject::open(target, platform)?;
    let sbom = plinth_sbom::catalog(&subject);
    if !quiet {
        crate::commands::sbom::print_warnings(&sbom.warnings);
    }
    Ok(sbom)
}

/// The bytes of `path` when it is a JSON file (an SBOM), `None` for anything else.
fn sbom_file(path: &Path) -> Result<Option<Vec<u8>>, CliError> {
    let io =
        |e: std::io::Error| CliError::input(format!("cannot read {}: {e}", path.display()), None);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        _ => return Ok(None),
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 64];
    let n = f.read(&mut head).map_err(io)?;
    let first = head[..n].iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Ok(None);
    }
    let mut bytes = head[..n].to_vec();
    f.take(MAX_SBOM_BYTES).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 >= MAX_SBOM_BYTES {
        return Err(CliError::input(
            format!(
                "{} is larger than {} MiB: not an SBOM plinth will read",
                path.display(),
                MAX_SBOM_BYTES >> 20
            ),
            None,
        ));
    }
    Ok(Some(bytes))
}

/// `debian:12`, `alpine:3.20`, `debian:bookworm`.
fn parse_distro(s: &str) -> Result<Distro, CliError> {
    let bad = || {
        CliError::input(
            format!("--distro {s}: expected ID:VERSION, e.g. debian:12 or alpine:3.20"),
            None,
        )
    };
    let (id, version) = s.split_once(':').ok_or_else(bad)?;
    let (id, version) = (id.trim().to_ascii_lowercase(), version.trim());
    if id.is_empty() || version.is_empty() {
        return Err(bad());
    }
    let numeric = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let (version_id, codename) = if numeric {
        (Some(version.to_string()), None)
    } else {
        let number = (id == "debian")
            .then(|| plinth_dpkg::releases::codename_number(version))
            .flatten();
        (
            number.map(str::to_string),
            Some(version.to_ascii_lowercase()),
        )
    };
    Ok(Distro {
        id,
        version_id,
        codename,
        pretty_name: None,
        id_like: Vec::new(),
        source: "--distro".into(),
    })
}

fn match_error(e: MatchError) -> CliError {
    let hint = match &e {
        MatchError::UnknownRelease { .. } => Some(
            "name the release with --distro (e.g. --distro debian:12 or --distro alpine:3.20)"
                .into(),
        ),
        MatchError::Lookup { .. } => Some(plinth_vuln::error::REBUILD_HINT.to_string()),
    };
    CliError::input(e, hint)
}

/// Why the OS packages went unmatched, when they did: said loudly, never a silent zero.
fn release_not_covered(r: &ScanResult) -> Option<String> {
    let what = match r.release_status {
        ReleaseStatus::Supported | ReleaseStatus::NoOs => return None,
        ReleaseStatus::EndOfLife => "is end-of-life: no feed covers it any more",
        ReleaseStatus::Unsupported => "is not in the database",
    };
    let release = r
        .ecosystem
        .clone()
        .or_else(|| r.distro.as_ref().map(Distro::purl_qualifier))
        .unwrap_or_else(|| "the OS release".into());
    Some(format!(
        "{release} {what}; its OS packages were NOT checked{}",
        r.release_note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    ))
}

fn suppress(args: &Args, result: &mut ScanResult) -> Result<(), CliError> {
    if let Some(path) = &args.ignore {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::input(
                format!("cannot read ignore file {}: {e}", path.display()),
                None,
            )
        })?;
        let file = plinth_vuln::ignore::IgnoreFile::parse(&text)
            .map_err(|e| CliError::input(format!("ignore file {}: {e}", path.display()), None))?;
        file.apply(result);
    }
    let mut docs = Vec::new();
    for path in &args.vex {
        let bytes = std::fs::read(path).map_err(|e| {
            CliError::input(
                format!("cannot read VEX document {}: {e}", path.display()),
                None,
            )
        })?;
        docs.push(
            plinth_vuln::vex::parse(&bytes).map_err(|e| {
                CliError::input(format!("VEX document {}: {e}", path.display()), None)
            })?,
        );
    }
    if !docs.is_empty() {
        plinth_vuln::vex::apply(&docs, result);
    }
    Ok(())
}

fn report_options() -> Result<ReportOptions, CliError> {
    let created = crate::commands::sbom::write_options()?.created;
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
    let source = match &args.debian.mirror {
        None => ArchiveSource::Apt(PathBuf::from("/")),
        Some(uri) => {
            let keyring = plinth_deb::keyring::Keyring::load(Path::new(
                plinth_deb::keyring::DEFAULT_KEYRING,
            ))
            .map_err(|e| CliError::input(e, Some("--mirror trusts the Debian archive keyring; install debian-archive-keyring".into())))?;
            ArchiveSource::Mirror {
                uri: uri.clone(),
                keyring,
            }
        }
    };
    let cache = match &args.debian.cache_dir {
        Some(d) => plinth_deb::cache::Cache::new(d.clone()),
        None => plinth_deb::cache::Cache::new(plinth_core::dirs::cache_root()),
    };
    let opts = ArchiveOptions {
        source,
        ..ArchiveOptions::default()
    };
    let reporter = crate::progress::reporter(args.quiet);
    let fixes = plinth_vuln::archive::fixes_from_archive(sbom, &opts, &cache, reporter.as_ref())
        .map_err(|e| CliError::input(e, None))?;
    for w in &fixes.warnings {
        warn(w);
    }
    let bytes = match args.format {
        Output::Json => {
            let mut v = serde_json::to_vec_pretty(&fixes).expect("fixes serialise");
            v.push(b'\n');
            v
        }
        Output::Table => archive_table(sbom, &fixes).into_bytes(),
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

fn archive_table(sbom: &Sbom, f: &ArchiveFixes) -> String {
    let mut o = format!(
        "Subject:  {}\nArchive:  Debian {} {} ({})\n",
        sbom.name,
        f.release,
        f.arch,
        f.suites
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    o.push_str(&format!(
        "Updates:  {} source packages have newer versions naming {} CVEs; {} up to date; {} not in the archive\n\n",
        f.updates.len(),
        f.cve_ids().len(),
        f.up_to_date,
        f.not_in_archive.len()
    ));
    if !f.kernel_headers.is_empty() {
        o.push_str(&format!(
            "Not looked at: {} (kernel headers, no kernel code: the kernel's CVEs are not theirs)\n\n",
            f.kernel_headers.join(", ")
        ));
    }
    if f.updates.is_empty() {
        return o;
    }
    let w = f
        .updates
        .iter()
        .map(|u| u.source.len())
        .max()
        .unwrap_or(6)
        .max(6);
    o.push_str(&format!(
        "{:<w$}  {:<24}  {:<44}  {:>4}  BINARIES\n",
        "SOURCE", "INSTALLED", "NEWEST", "CVES"
    ));
    for u in &f.updates {
        o.push_str(&format!(
            "{:<w$}  {:<24}  {:<44}  {:>4}  {}\n",
            u.source,
            u.installed,
            format!("{} ({})", u.newest, u.suite),
            u.cve_ids.len(),
            u.binaries.join(", ")
        ));
        if let Some(e) = &u.error {
            o.push_str(&format!("{:w$}  changelog not read: {e}\n", ""));
        }
        for chunk in u.cve_ids.chunks(6) {
            o.push_str(&format!("{:w$}  {}\n", "", chunk.join(" ")));
        }
    }
    o
}
