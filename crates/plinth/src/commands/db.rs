//! `plinth db update | import | status`: the vulnerability database that `plinth scan`
//! and `plinth compare` read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use plinth_vuln::fetch::{self, Feed};
use plinth_vuln::{Db, ImportReport, Input};

use crate::args::{DbPath, MaxAge};
use crate::render::{CliError, stdout, warn};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download the public feeds (Debian tracker, OSV dumps, Alpine secdb) and import them
    Update(UpdateArgs),
    /// Import feed files offline: tracker JSON, OSV .json/dir/all.zip, secdb YAML/JSON
    Import(ImportArgs),
    /// Show the sources, record counts and age of the database
    Status(StatusArgs),
}

#[derive(clap::Args)]
struct UpdateArgs {
    #[command(flatten)]
    db: DbPath,
    /// Only these feeds (by source name: debian-tracker, osv:Go, alpine-secdb:v3.20-main, …)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    only: Vec<String>,
    /// The Debian Security Tracker's JSON export (a mirror of it)
    #[arg(long, value_name = "URL", default_value = fetch::DEBIAN_TRACKER_URL)]
    debian_tracker_url: String,
    /// Base URL of the OSV dumps (`<base>/<Ecosystem>/all.zip`)
    #[arg(long, value_name = "URL", default_value = fetch::OSV_BASE_URL)]
    osv_url: String,
    /// Base URL of the Alpine secdb (`<base>/v3.20/main.json`)
    #[arg(long, value_name = "URL", default_value = fetch::ALPINE_SECDB_BASE_URL)]
    alpine_secdb_url: String,
    /// List the feeds and exit
    #[arg(long)]
    list: bool,
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// Feed files or directories
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    db: DbPath,
    /// The files' format (default: told from each file's name and content)
    #[arg(long, value_enum)]
    format: Option<FeedFormat>,
    /// The source name to record (default: derived, e.g. osv:Go); with one FILE only
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FeedFormat {
    DebianTracker,
    VulnListDebian,
    Osv,
    AlpineSecdb,
}

impl From<FeedFormat> for plinth_vuln::Format {
    fn from(f: FeedFormat) -> Self {
        match f {
            FeedFormat::DebianTracker => plinth_vuln::Format::DebianTracker,
            FeedFormat::VulnListDebian => plinth_vuln::Format::DebianVulnList,
            FeedFormat::Osv => plinth_vuln::Format::Osv,
            FeedFormat::AlpineSecdb => plinth_vuln::Format::AlpineSecdb,
        }
    }
}

#[derive(clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    db: DbPath,
    #[command(flatten)]
    max_age: MaxAge,
    #[arg(long, short = 'f', value_enum, default_value_t = StatusFormat::Table)]
    format: StatusFormat,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum StatusFormat {
    Table,
    Json,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    match args.command {
        Command::Update(a) => update(a),
        Command::Import(a) => import(a),
        Command::Status(a) => status(a),
    }
}

fn update(args: UpdateArgs) -> Result<ExitCode, CliError> {
    let mut feeds: Vec<Feed> = fetch::feeds(
        &args.debian_tracker_url,
        &args.osv_url,
        &args.alpine_secdb_url,
    );
    if !args.only.is_empty() {
        if let Some(unknown) = args
            .only
            .iter()
            .find(|n| !feeds.iter().any(|f| &f.name == *n))
        {
            let names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
            return Err(CliError::input(
                format!("--only {unknown}: no such feed"),
                Some(format!("the feeds are: {}", names.join(", "))),
            ));
        }
        feeds.retain(|f| args.only.contains(&f.name));
    }
    if args.list {
        let mut out = String::new();
        for f in &feeds {
            out.push_str(&format!("{:<34} {}\n", f.name, f.url));
        }
        return stdout(&out);
    }
    let path = args.db.resolve();
    let reporter = crate::progress::reporter(args.quiet);
    let report = fetch::update(&path, &feeds, reporter.as_ref()).map_err(CliError::from)?;
    for f in &report.failed {
        warn(&format!(
            "{} was not updated (its previous data, if any, is kept): {}",
            f.name, f.error
        ));
    }
    if !args.quiet {
        eprint!("{}", import_summary(&report.import));
    }
    Ok(ExitCode::SUCCESS)
}

fn import(args: ImportArgs) -> Result<ExitCode, CliError> {
    if args.name.is_some() && args.files.len() > 1 {
        return Err(CliError::input(
            "--name names one source, and more than one FILE was given",
            Some("import the files one at a time, or leave out --name".into()),
        ));
    }
    let inputs: Vec<Input> = args
        .files
        .iter()
        .map(|f| {
            let mut i = Input::new(f);
            if let Some(fmt) = args.format {
                i = i.with_format(fmt.into());
            }
            if let Some(n) = &args.name {
                i = i.with_name(n.clone());
            }
            i
        })
        .collect();
    let path = args.db.resolve();
    let reporter = crate::progress::reporter(args.quiet);
    let report = plinth_vuln::import(&path, &inputs, reporter.as_ref()).map_err(CliError::from)?;
    if !args.quiet {
        eprint!("{}", import_summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per source, with every skip reason counted: nothing is dropped silently.
fn import_summary(r: &ImportReport) -> String {
    let mut o = String::new();
    for s in &r.sources {
        o.push_str(&format!("{:<34} {:>8} advisories", s.name, s.records));
        if s.skipped_total() > 0 {
            let why: Vec<String> = s
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            o.push_str(&format!(
                ", {} skipped ({})",
                s.skipped_total(),
                why.join(", ")
            ));
        }
        o.push('\n');
    }
    for n in &r.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o.push_str(&format!(
        "Imported {} advisories into {}\n",
        r.records(),
        r.path.display()
    ));
    o
}

fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let path = args.db.resolve();
    let db = Db::open(&path).map_err(CliError::from)?;
    let st = plinth_vuln::status::status(&db)?;
    if let Some(w) = args.max_age.check(&db)? {
        warn(&w);
    }
    if args.format == StatusFormat::Json {
        let mut s = serde_json::to_string_pretty(&st).expect("status serialises");
        s.push('\n');
        return stdout(&s);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut o = format!(
        "Database:   {} (schema {})\nAdvisories: {}\n",
        st.path, st.schema, st.advisories
    );
    if let (Some(t), Some(age)) = (&st.oldest_import, st.age_seconds) {
        o.push_str(&format!(
            "Age:        {} (oldest source imported {t})\n",
            ago(Duration::from_secs(age))
        ));
    }
    o.push_str(
        "\nSOURCE                             RECORDS  SKIPPED  IMPORTED              ORIGIN\n",
    );
    for s in &st.sources {
        let age = Duration::from_secs(now.saturating_sub(s.info.imported_at).max(0) as u64);
        o.push_str(&format!(
            "{:<34} {:>8} {:>8}  {:<20}  {}\n",
            s.info.name,
            s.info.records,
            s.info.skipped,
            format!("{} ago", ago(age)),
            s.info.origin
        ));
        for (reason, n) in &s.skipped_reasons {
            o.push_str(&format!("{:>45}  {reason}\n", format!("{n} ×")));
        }
    }
    o.push_str("\nECOSYSTEM            ADVISORIES\n");
    for e in &st.ecosystems {
        o.push_str(&format!("{:<20} {:>10}\n", e.ecosystem, e.advisories));
    }
    stdout(&o)
}

/// `3 days`, `5 hours`, …
pub fn ago(d: Duration) -> String {
    plinth_vuln::report::ago(d.as_secs())
}
