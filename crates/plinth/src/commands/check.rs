//! `plinth check IMAGE`: a hardening policy over the image's facts; exit 1 when a rule fails.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::TableOrJson;
use plinth_sbom::check::{CheckReport, check, load_policy};

use crate::render::{CliError, stdout};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::args::IMAGE_OR_ROOTFS)]
    image: String,
    /// A policy file (TOML) switching rules on or off; see docs/cli.md [default: the
    /// built-in policy]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = TableOrJson::Table)]
    format: TableOrJson,
    /// The image of a multi-platform index to check, e.g. linux/arm64 [default: this
    /// machine's]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    #[arg(long, help = crate::args::NO_CACHE)]
    no_cache: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let policy = load_policy(args.policy.as_deref()).map_err(|e| {
        let hint = e.hint();
        CliError::input(e, hint)
    })?;
    let subject =
        crate::registry::open_subject(&args.image, args.platform.as_deref(), !args.no_cache)?;
    let sbom = plinth_sbom::catalog(&subject);
    let report = check(&args.image, &subject, &sbom, &policy);
    let out = match args.format {
        TableOrJson::Json => serde_json::to_string_pretty(&report).expect("serialisable") + "\n",
        TableOrJson::Table => table(&report),
    };
    stdout(&out)?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn table(r: &CheckReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{}", r.image);
    for rule in &r.rules {
        let mark = if rule.passed { "pass" } else { "FAIL" };
        let _ = writeln!(o, "  {mark}  {}", rule.rule);
        const MAX: usize = 10;
        for d in rule.details.iter().take(MAX) {
            let _ = writeln!(o, "          {d}");
        }
        if rule.details.len() > MAX {
            let _ = writeln!(o, "          … and {} more", rule.details.len() - MAX);
        }
    }
    let failed = r.rules.iter().filter(|x| !x.passed).count();
    if failed == 0 {
        let _ = writeln!(o, "all {} rules passed", r.rules.len());
    } else {
        let _ = writeln!(o, "{failed} of {} rules failed", r.rules.len());
    }
    o
}
