//! A scan from end to end, for the `scan` command: read the target (an image, a root
//! filesystem or an SBOM file), match its packages against the database, apply ignore
//! rules and VEX documents, and say what the result means (an uncovered release, a
//! `--fail-on` threshold). It returns data; the caller renders it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plinth_sbom::{Distro, Sbom};

use crate::db::Db;
use crate::ignore::{IgnoreError, IgnoreFile};
use crate::matcher::{MatchError, MatchOptions, ReleaseStatus, ScanResult};
use crate::model::Severity;
use crate::vex::VexError;

/// SBOM files are small next to images; this bounds a hostile one.
pub const MAX_SBOM_BYTES: u64 = 512 << 20;

/// Largest ignore file or VEX document read.
pub const MAX_SUPPRESS_BYTES: u64 = 64 << 20;

/// A scan target that cannot be read.
// The causes are part of the messages (not a `source`): each is one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target is a file that could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The target file.
        path: PathBuf,
        /// Why reading it failed.
        error: std::io::Error,
    },
    /// The target is a JSON file of [`MAX_SBOM_BYTES`] or more.
    #[error(
        "{} is larger than {} MiB: not an SBOM plinth will read",
        path.display(),
        MAX_SBOM_BYTES >> 20
    )]
    TooLarge {
        /// The target file.
        path: PathBuf,
    },
    /// The target is a JSON file, but not an SPDX or CycloneDX document plinth reads.
    #[error("{target} is not an SBOM plinth can read: {reason}")]
    NotAnSbom {
        /// The target as the user gave it.
        target: String,
        /// What the SBOM reader objected to.
        reason: String,
    },
    /// The target is not an SBOM file, and not an image or root filesystem either.
    #[error(transparent)]
    Image(#[from] plinth_sbom::Error),
}

impl TargetError {
    /// A line telling the user what to do about the error, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            TargetError::NotAnSbom { .. } => Some(
                "plinth reads SPDX 2.x and CycloneDX JSON, as written by plinth, syft and trivy"
                    .into(),
            ),
            TargetError::Image(e) => e.hint(),
            _ => None,
        }
    }
}

/// What a scan target held.
#[derive(Debug)]
pub struct Target {
    /// Its packages, as read from the SBOM file or catalogued from the image.
    pub sbom: Sbom,
    /// Read from an SBOM file rather than catalogued from an image: its warnings are
    /// not about files plinth skipped.
    pub from_sbom_file: bool,
}

/// The packages of `target`: read from an SPDX or CycloneDX JSON file, or catalogued
/// from an image or root filesystem (of `platform`, for a multi-platform index).
pub fn load_target(target: &str, platform: Option<&str>) -> Result<Target, TargetError> {
    load_target_cached(target, platform, true)
}

/// [`load_target`], reading an image through the layer cache only when `cache` is true
/// (see [`plinth_sbom::subject::fs_options_cached`]).
pub fn load_target_cached(
    target: &str,
    platform: Option<&str>,
    cache: bool,
) -> Result<Target, TargetError> {
    let opts = plinth_sbom::subject::fs_options_cached(cache);
    if let Some(bytes) = sbom_file(Path::new(target))? {
        let sbom = crate::sbomin::read_sbom(&bytes).map_err(|reason| TargetError::NotAnSbom {
            target: target.to_string(),
            reason,
        })?;
        return Ok(Target {
            sbom,
            from_sbom_file: true,
        });
    }
    let subject = plinth_sbom::subject::open_with(target, platform, &opts)?;
    Ok(Target {
        sbom: plinth_sbom::catalog(&subject),
        from_sbom_file: false,
    })
}

/// The bytes of `path` when it is a JSON file (an SBOM), `None` for anything else.
pub fn sbom_file(path: &Path) -> Result<Option<Vec<u8>>, TargetError> {
    let io = |error: std::io::Error| TargetError::Read {
        path: path.to_path_buf(),
        error,
    };
    match fs_err::metadata(path) {
        Ok(m) if m.is_file() => {}
        _ => return Ok(None),
    }
    // std::fs: the messages name the path themselves (fs-err would name it twice).
    #[allow(clippy::disallowed_methods)]
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
        return Err(TargetError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(bytes))
}

/// An ignore file or VEX document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// The ignore file is missing, not a regular file, too large or unreadable.
    #[error("cannot read ignore file {}: {error}", path.display())]
    ReadIgnore {
        /// The ignore file.
        path: PathBuf,
        /// Why reading it failed.
        error: std::io::Error,
    },
    /// The ignore file was read but is not a valid ignore file.
    #[error("ignore file {}: {error}", path.display())]
    Ignore {
        /// The ignore file.
        path: PathBuf,
        /// What is wrong in it.
        error: IgnoreError,
    },
    /// A VEX document is missing, not a regular file, too large or unreadable.
    #[error("cannot read VEX document {}: {error}", path.display())]
    ReadVex {
        /// The VEX document.
        path: PathBuf,
        /// Why reading it failed.
        error: std::io::Error,
    },
    /// A VEX document was read but could not be parsed.
    #[error("VEX document {}: {error}", path.display())]
    Vex {
        /// The VEX document.
        path: PathBuf,
        /// What is wrong in it.
        error: VexError,
    },
}

/// Applies the ignore file (if any) and the VEX documents to `result`.
pub fn suppress(
    result: &mut ScanResult,
    ignore: Option<&Path>,
    vex: &[PathBuf],
) -> Result<(), SuppressError> {
    if let Some(path) = ignore {
        let text = plinth_core::files::read_regular_to_string(path, MAX_SUPPRESS_BYTES).map_err(
            |error| SuppressError::ReadIgnore {
                path: path.to_path_buf(),
                error,
            },
        )?;
        let file = IgnoreFile::parse(&text).map_err(|error| SuppressError::Ignore {
            path: path.to_path_buf(),
            error,
        })?;
        file.apply(result);
    }
    let mut docs = Vec::new();
    for path in vex {
        let bytes =
            plinth_core::files::read_regular(path, MAX_SUPPRESS_BYTES).map_err(|error| {
                SuppressError::ReadVex {
                    path: path.clone(),
                    error,
                }
            })?;
        docs.push(
            crate::vex::parse(&bytes).map_err(|error| SuppressError::Vex {
                path: path.clone(),
                error,
            })?,
        );
    }
    if !docs.is_empty() {
        crate::vex::apply(&docs, result);
    }
    Ok(())
}

/// How to scan, besides the packages.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Which advisories the matcher reports beyond the default.
    pub matching: MatchOptions,
    /// Warn when the oldest source was imported more than this many days ago.
    pub max_age_days: u64,
    /// The ignore file to apply, if any.
    pub ignore: Option<PathBuf>,
    /// VEX documents to apply, in order (later documents win ties).
    pub vex: Vec<PathBuf>,
    /// Keep only findings with a fixed version.
    pub only_fixed: bool,
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Db(#[from] crate::Error),
    /// Matching failed (the OS release could not be told, or a lookup failed).
    #[error(transparent)]
    Match(#[from] MatchError),
    /// The ignore file or a VEX document could not be used.
    #[error(transparent)]
    Suppress(#[from] SuppressError),
}

/// Matches `sbom` against the database at `db_path`, then applies `opts`. A stale
/// database is a warning in the result.
pub fn scan_with_db(
    sbom: &Sbom,
    db_path: &Path,
    opts: &ScanOptions,
) -> Result<ScanResult, ScanError> {
    let db = Db::open(db_path)?;
    let lookup = db.lookup()?;
    let mut result = crate::matcher::scan(sbom, &lookup, &opts.matching)?;
    result.database = Some(db.info()?);
    if let Some(w) = age_warning(&db, opts.max_age_days)? {
        result.warnings.push(w);
    }
    suppress(&mut result, opts.ignore.as_deref(), &opts.vex)?;
    if opts.only_fixed {
        crate::report::only_fixed(&mut result);
    }
    Ok(result)
}

/// A warning when the database is older than `max_days` days or holds no source.
pub fn age_warning(db: &Db, max_days: u64) -> crate::Result<Option<String>> {
    Ok(stale(db.path(), db.age()?, max_days))
}

fn stale(path: &Path, age: Option<Duration>, max_days: u64) -> Option<String> {
    match age {
        Some(age) if age > Duration::from_secs(max_days * 86_400) => Some(format!(
            "the vulnerability database {} is {} old (more than {max_days} days): run `plinth db update`",
            path.display(),
            crate::report::ago(age.as_secs()),
        )),
        None => Some(format!(
            "the vulnerability database {} holds no source: run `plinth db update` or `plinth db import`",
            path.display()
        )),
        _ => None,
    }
}

/// Why the OS packages went unmatched, when they did: said loudly, never a silent zero.
pub fn release_not_covered(r: &ScanResult) -> Option<String> {
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

/// The number of findings at or above `threshold`, when there is one (the scan fails).
pub fn findings_at_or_above(r: &ScanResult, threshold: Severity) -> Option<usize> {
    crate::report::exceeds(r, threshold).then(|| {
        r.findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_file_is_told_by_its_first_byte() {
        let tmp = tempfile::tempdir().unwrap();
        let json = tmp.path().join("a.json");
        fs_err::write(&json, b"  \n{\"spdxVersion\": \"SPDX-2.3\"}").unwrap();
        assert!(sbom_file(&json).unwrap().is_some());
        let tar = tmp.path().join("a.tar");
        fs_err::write(&tar, b"not json").unwrap();
        assert!(sbom_file(&tar).unwrap().is_none());
        assert!(sbom_file(tmp.path()).unwrap().is_none(), "a directory");
        assert!(sbom_file(&tmp.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn unreadable_json_is_not_an_sbom_with_a_hint() {
        let tmp = tempfile::tempdir().unwrap();
        let json = tmp.path().join("a.json");
        fs_err::write(&json, b"{\"hello\": 1}").unwrap();
        let e = load_target(json.to_str().unwrap(), None).unwrap_err();
        assert!(matches!(e, TargetError::NotAnSbom { .. }), "{e}");
        assert!(e.to_string().contains("is not an SBOM plinth can read"));
        assert!(e.hint().unwrap().contains("CycloneDX"));
    }

    fn empty_result() -> ScanResult {
        let store = crate::matcher::MemoryStore::new();
        crate::matcher::scan(&Sbom::default(), &store, &MatchOptions::default()).unwrap()
    }

    #[test]
    fn missing_ignore_file_names_it() {
        let mut r = empty_result();
        let e = suppress(&mut r, Some(Path::new("/nonexistent/ignore.toml")), &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read ignore file /nonexistent/ignore.toml: "),
            "{e}"
        );
    }

    #[test]
    fn stale_and_empty_databases_warn() {
        let p = Path::new("/db/vuln.db");
        assert_eq!(stale(p, Some(Duration::from_secs(86_400)), 5), None);
        let w = stale(p, Some(Duration::from_secs(6 * 86_400)), 5).unwrap();
        assert!(
            w.contains("/db/vuln.db is 6 days old (more than 5 days)"),
            "{w}"
        );
        assert!(stale(p, None, 5).unwrap().contains("holds no source"));
    }

    #[test]
    fn covered_releases_say_nothing() {
        let mut r = empty_result();
        assert_eq!(release_not_covered(&r), None);
        r.release_status = ReleaseStatus::Supported;
        assert_eq!(release_not_covered(&r), None);
        r.release_status = ReleaseStatus::EndOfLife;
        r.ecosystem = Some("debian:9".into());
        r.release_note = Some("the oldest release held is debian:11".into());
        assert_eq!(
            release_not_covered(&r).unwrap(),
            "debian:9 is end-of-life: no feed covers it any more; its OS packages were NOT checked \
             (the oldest release held is debian:11)"
        );
    }
}
