//! Flags shared by several commands. Commands take them from here, never from each
//! other.

use std::path::PathBuf;

use plinth_sbom::format::WriteOptions;
use plinth_vuln::Db;

use crate::render::CliError;

/// What `check`, `compare`, `sbom` and `scan` read.
pub const IMAGE_OR_ROOTFS: &str = "An OCI layout dir (DIR or DIR:TAG), an oci-archive, a \
    docker-archive, a root filesystem (a directory or a tarball, optionally gzip or zstd \
    compressed), or a registry reference (alpine:3.20, docker://host:5000/name:tag)";

/// `--platform` of the commands that read one image of an index.
pub const READ_PLATFORM: &str = "The image of a multi-platform index to read, e.g. linux/arm64 \
    [default: this machine's]";

/// `--no-cache` of the commands that catalogue an image.
pub const NO_CACHE: &str = "Read every layer again instead of using the layer cache (what \
    earlier reads of the same layers gave, by digest; also PLINTH_NO_CACHE=1)";

/// `--quiet` of the commands that show progress.
pub const QUIET: &str = "Print no progress, warnings or summary on stderr, only errors \
    (stdout keeps the result)";

/// Where Debian packages come from, for `build` and `lock`.
/// `--format` of the commands whose report is a table for people or JSON for scripts
/// (`inspect`, `check`, `db status`): one enum, so the values are spelled alike.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum TableOrJson {
    Table,
    Json,
}

#[derive(clap::Args, Clone, Default)]
pub struct DebianArgs {
    /// Debian mirror base URI [default: the spec's `mirror`, else the machine's apt
    /// sources]; for an [alpine] spec, the Alpine mirror's base (the directory holding
    /// v3.20/), whose BRANCH/main replaces the spec's repositories
    #[arg(long, value_name = "URI")]
    pub mirror: Option<String>,
    /// Debian security archive base URI, holding dists/RELEASE-security [default: the
    /// spec's `security-mirror`, else the apt sources' *-security entry, else --mirror]
    #[arg(long, value_name = "URI", conflicts_with = "no_security")]
    pub security_mirror: Option<String>,
    /// Build without the release's security suite (as the spec's `security = false`);
    /// without this, a missing security suite is an error
    #[arg(long)]
    pub no_security: bool,
    /// Package cache directory [default: $PLINTH_CACHE, $XDG_CACHE_HOME/plinth or ~/.cache/plinth]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Where `scan --fixes-from-archive` reads the Debian archive.
#[derive(clap::Args, Clone, Default)]
pub struct ArchiveArgs {
    /// With --fixes-from-archive: the Debian mirror base URI [default: the machine's apt
    /// sources]
    #[arg(long, value_name = "URI")]
    pub mirror: Option<String>,
    /// With --fixes-from-archive: the Debian security archive base URI [default: the apt
    /// sources' *-security entry, else --mirror]
    #[arg(long, value_name = "URI", conflicts_with = "no_security")]
    pub security_mirror: Option<String>,
    /// With --fixes-from-archive: leave the security suite out; without this, a missing
    /// security suite is an error
    #[arg(long)]
    pub no_security: bool,
    /// With --fixes-from-archive: the package cache directory [default: $PLINTH_CACHE,
    /// $XDG_CACHE_HOME/plinth or ~/.cache/plinth]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Where the database is: shared by `db`, `scan` and `compare`.
#[derive(clap::Args, Clone, Debug)]
pub struct DbPath {
    /// The vulnerability database [default: $PLINTH_DB, else vuln.db in the cache directory]
    #[arg(long = "db", value_name = "FILE", env = "PLINTH_DB")]
    pub path: Option<PathBuf>,
}

impl DbPath {
    pub fn resolve(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(plinth_vuln::db::default_path)
    }
}

/// How old the data may be before scans warn: `--max-db-age`, shared by `db status`
/// and `scan`.
#[derive(clap::Args, Clone, Debug)]
pub struct MaxAge {
    /// Warn when the oldest source was imported more than DAYS days ago
    #[arg(
        long = "max-db-age",
        value_name = "DAYS",
        default_value_t = 5,
        env = "PLINTH_MAX_DB_AGE"
    )]
    pub days: u64,
}

impl MaxAge {
    /// A warning when `db` is older than allowed.
    pub fn check(&self, db: &Db) -> Result<Option<String>, CliError> {
        Ok(plinth_vuln::scan::age_warning(db, self.days)?)
    }
}

/// Timestamps in SBOMs come only from SOURCE_DATE_EPOCH, so the same image gives the same bytes.
pub fn sbom_write_options() -> Result<WriteOptions, CliError> {
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(v.trim().parse::<i64>().map_err(|_| {
            CliError::input(
                format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds"),
                None,
            )
        })?),
        _ => None,
    };
    Ok(WriteOptions {
        created,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
