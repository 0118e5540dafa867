//! `plinth check IMAGE`: a hardening policy over the image's facts; exit 1 when a rule fails.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use plinth_sbom::facts::{Policy, facts_with};
use serde::Serialize;

use crate::render::{CliError, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// An image or root filesystem (as for `plinth sbom`)
    image: String,
    /// A policy file (TOML) switching rules on or off; see docs/cli.md
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The image of a multi-platform index to check (default: this machine's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Serialize)]
struct Report<'a> {
    image: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    passed: bool,
    rules: Vec<plinth_sbom::facts::RuleResult>,
}

pub fn load_policy(path: Option<&PathBuf>) -> Result<Policy, CliError> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::input(format!("cannot read policy {}: {e}", path.display()), None)
    })?;
    toml::from_str(&text).map_err(|e| {
        CliError::input(
            format!("policy {} is invalid: {}", path.display(), e.message()),
            Some(
                "rules are non-root, no-shell, no-package-manager, no-setuid, no-world-writable, \
                 no-network-tools (true/false) and world-writable-allow (a list of paths)"
                    .into(),
            ),
        )
    })
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let policy = load_policy(args.policy.as_ref())?;
    let subject = plinth_sbom::subject::open(&args.image, args.platform.as_deref())?;
    let sbom = plinth_sbom::catalog(&subject);
    let allow: Vec<&str> = policy
        .world_writable_allow
        .iter()
        .map(|s| s.trim_matches('/'))
        .collect();
    let facts = facts_with(&subject, &sbom, &allow);
    let rules = policy.evaluate(&facts);
    let passed = rules.iter().all(|r| r.passed);
    let report = Report {
        image: &args.image,
        digest: facts.digest.clone(),
        passed,
        rules,
    };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("serialisable") + "\n",
        Format::Table => table(&report),
    };
    stdout(&out)?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn table(r: &Report) -> String {
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
