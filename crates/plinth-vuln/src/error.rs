//! Errors of the vulnerability database, its importers and its downloads.

use std::path::PathBuf;

/// What to tell a user whose database is missing or unusable.
pub const REBUILD_HINT: &str = "run `plinth db import` / `plinth db update` again";

/// Failure of the vulnerability database or an import.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no vulnerability database at {path}: run `plinth db update` (or `plinth db import FILE`) first"
    )]
    Missing { path: PathBuf },
    #[error("{path} is not a usable vulnerability database ({detail}): {hint}", hint = REBUILD_HINT)]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} has database schema {found}, this plinth reads schema {expected}: {hint}",
        hint = REBUILD_HINT
    )]
    SchemaVersion {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error("vulnerability database {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Writing the database or a download beside it failed (disk full, permission
    /// denied): not the input's fault.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A feed file that is not what its format says (truncated, malformed).
    #[error("{path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{path}: {what} is larger than {limit} bytes")]
    TooLarge {
        path: PathBuf,
        what: String,
        limit: u64,
    },
    #[error(
        "{path}: cannot tell its format (expected Debian tracker JSON, vuln-list-debian JSON, OSV JSON or zip, or Alpine secdb YAML/JSON)"
    )]
    UnknownFormat { path: PathBuf },
    // The source names the URL already: saying it twice made the chain read
    // "cannot download U: cannot fetch U: …".
    #[error("download failed")]
    Fetch {
        url: String,
        #[source]
        source: plinth_core::http::FetchError,
    },
    #[error("no feed could be downloaded: {}", failures.join("; "))]
    UpdateFailed { failures: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Write { path, source }
    }

    /// Whether the failure is not the input's fault: writing the database failed, or
    /// SQLite failed on a database that is not corrupt (disk full, read-only, a bug).
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Write { .. } | Error::Sqlite { .. })
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, detail: impl std::fmt::Display) -> Error {
        Error::Parse {
            path: path.into(),
            detail: detail.to_string(),
        }
    }

    /// SQLite's "not a database" and "malformed" answers become [`Error::Corrupt`].
    pub(crate) fn sqlite(path: impl Into<PathBuf>) -> impl FnOnce(rusqlite::Error) -> Error {
        let path = path.into();
        move |source| {
            use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
            match source.sqlite_error_code() {
                Some(NotADatabase | DatabaseCorrupt) => Error::Corrupt {
                    path,
                    detail: source.to_string(),
                },
                _ => Error::Sqlite { path, source },
            }
        }
    }
}
