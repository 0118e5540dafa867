//! Errors of the vulnerability database, its importers and its downloads.

use std::path::PathBuf;

/// What to tell a user whose database is missing or unusable.
pub const REBUILD_HINT: &str = "run `plinth db import` / `plinth db update` again";

/// Failure of the vulnerability database or an import.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No database file at `path`: none was imported or downloaded there yet.
    #[error(
        "no vulnerability database at {path}: run `plinth db update` (or `plinth db import FILE`) first"
    )]
    Missing {
        /// Where the database was looked for.
        path: PathBuf,
    },
    /// The file at `path` is not a plinth database, is empty, or is damaged.
    #[error("{path} is not a usable vulnerability database ({detail}): {hint}", hint = REBUILD_HINT)]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it: SQLite's answer, or why it is not a plinth database.
        detail: String,
    },
    /// An import would replace a file that is not a plinth vulnerability database (a
    /// user's file given as `--db` by mistake).
    #[error("refusing to replace {path}: it is not a plinth vulnerability database")]
    Foreign {
        /// The file that would have been replaced.
        path: PathBuf,
    },
    /// The database was written by a plinth with another schema version.
    #[error(
        "{path} has database schema {found}, this plinth reads schema {expected}: {hint}",
        hint = REBUILD_HINT
    )]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// The schema version recorded in the file.
        found: i64,
        /// The schema version this build reads and writes.
        expected: i64,
    },
    /// A SQLite failure other than corruption while reading or writing the database.
    #[error("vulnerability database {path}")]
    Sqlite {
        /// The database file (or the temporary copy an import writes).
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Writing the database or a download beside it failed (disk full, permission
    /// denied): not the input's fault.
    #[error("cannot write {path}")]
    Write {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory (database, feed, download target) could not be read (or,
    /// for a few older paths, written).
    #[error("cannot read or write {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A feed file that is not what its format says (truncated, malformed).
    #[error("{path}: {detail}")]
    Parse {
        /// The feed file (for a zip, the archive; the entry is named in `detail`).
        path: PathBuf,
        /// What is wrong and where in the file, as the parser said.
        detail: String,
    },
    /// An input over one of the import limits: a document or zip entry read whole
    /// ([`crate::import::MAX_DOCUMENT_BYTES`]), a zip's entry count or a directory's
    /// file count.
    #[error("{path}: {what} is larger than {limit} bytes")]
    TooLarge {
        /// The input file, zip archive or directory.
        path: PathBuf,
        /// What is over the limit: `the file`, a named zip entry, the entry or file count.
        what: String,
        /// The limit exceeded: bytes, or a number of entries or files.
        limit: u64,
    },
    /// An input whose format was not given and cannot be told from its name or
    /// content.
    #[error(
        "{path}: cannot tell its format (expected Debian tracker JSON, vuln-list-debian JSON, OSV JSON or zip, or Alpine secdb YAML/JSON)"
    )]
    UnknownFormat {
        /// The input file or directory.
        path: PathBuf,
    },
    /// A feed download failed (not found, another HTTP status, network, too large).
    // The source names the URL already: saying it twice made the chain read
    // "cannot download U: cannot fetch U: …".
    #[error("download failed")]
    Fetch {
        /// The URL that was fetched.
        url: String,
        /// The HTTP client's error, which names the URL.
        #[source]
        source: plinth_core::http::FetchError,
    },
    /// An update where every feed failed to download, so nothing was imported.
    #[error("no feed could be downloaded: {}", failures.join("; "))]
    UpdateFailed {
        /// One message per feed: its name and why it failed.
        failures: Vec<String>,
    },
}

/// Results of this crate; the error is [`Error`] unless given.
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
