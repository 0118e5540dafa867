//! `plinth db update | import | status`: the vulnerability database that `plinth scan`
//! and `plinth compare` read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use plinth_vuln::fetch;
use plinth_vuln::{Db, Input};

use crate::args::{DbPath, MaxAge, TableOrJson};
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
    /// [default: every feed]
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
    /// Print no progress and no summary on stderr, only errors and feeds that failed
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
    /// The files' format [default: told from each file's name and content]
    #[arg(long, value_enum)]
    format: Option<FeedFormat>,
    /// The source name to record, with one FILE only [default: derived, e.g. osv:Go]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, short = 'q', help = crate::args::QUIET)]
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
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = TableOrJson::Table)]
    format: TableOrJson,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    match args.command {
        Command::Update(a) => update(a),
        Command::Import(a) => import(a),
        Command::Status(a) => status(a),
    }
}

fn update(args: UpdateArgs) -> Result<ExitCode, CliError> {
    let feeds = plinth_vuln::feeds::select(
        fetch::feeds(
            &args.debian_tracker_url,
            &args.osv_url,
            &args.alpine_secdb_url,
        ),
        &args.only,
    )
    .map_err(|e| {
        CliError::input(
            format!("--only {}: no such feed", e.name),
            Some(format!("the feeds are: {}", e.known.join(", "))),
        )
    })?;
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
        eprint!("{}", crate::render::db::import_summary(&report.import));
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
        eprint!("{}", crate::render::db::import_summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let path = args.db.resolve();
    let db = Db::open(&path).map_err(CliError::from)?;
    let mut st = plinth_vuln::status::status(&db)?;
    // alpine-secdb:v3.3 before alpine-secdb:v3.10, as people count releases.
    st.sources
        .sort_by(|a, b| crate::render::natural_cmp(&a.info.name, &b.info.name));
    if let Some(w) = args.max_age.check(&db)? {
        warn(&w);
    }
    if args.format == TableOrJson::Json {
        let mut s = serde_json::to_string_pretty(&st).expect("status serialises");
        s.push('\n');
        return stdout(&s);
    }
    stdout(&crate::render::db::status_table(&st))
}
