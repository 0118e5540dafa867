use std::path::PathBuf;

/// Errors of the OCI core. Each names the path, digest or entry involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to access {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {what}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid path `{path}` in {context}: {reason}")]
    BadPath {
        path: String,
        context: String,
        reason: &'static str,
    },
    #[error("`{path}` is added twice with different content, mode or owner")]
    DuplicatePath { path: String },
    #[error("{what} is not valid JSON")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} is invalid: {reason}")]
    Invalid { what: String, reason: String },
    #[error("blob {digest} declares {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        digest: String,
        size: u64,
        limit: u64,
    },
    #[error("blob {digest} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        digest: String,
        expected: u64,
        found: u64,
    },
    #[error("archive {} is truncated inside `{entry}`: {expected} bytes declared, {found} present", path.display())]
    TruncatedArchive {
        path: PathBuf,
        entry: String,
        expected: u64,
        found: u64,
    },
    #[error("blob {digest} has the wrong size: expected {expected} bytes, found more")]
    Oversized { digest: String, expected: u64 },
    #[error("blob {expected} does not match its digest: content hashes to {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("blob {digest} is missing from {source_name}")]
    MissingBlob { digest: String, source_name: String },
    #[error("{0}")]
    NotFound(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("refusing to replace {}: {reason}", path.display())]
    Clobber { path: PathBuf, reason: &'static str },
    /// Writing an output failed (disk full, permission denied, …): not the input's fault.
    #[error("failed to write {what}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An output write failure at `path`.
    pub fn write(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Write {
            what: path.as_ref().display().to_string(),
            source,
        }
    }

    /// Whether this is a failure to write an output rather than a problem of the input.
    pub fn is_output_failure(&self) -> bool {
        matches!(self, Error::Write { .. })
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// A suggestion the user can act on, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::DigestMismatch { .. }
            | Error::Truncated { .. }
            | Error::Oversized { .. }
            | Error::TruncatedArchive { .. } => {
                Some("the image is corrupt or was modified; fetch or build it again".into())
            }
            Error::Clobber { .. } => {
                Some("choose another --output, or remove the existing path yourself".into())
            }
            Error::TooLarge { .. } | Error::Limit(_) => {
                Some("the image is far larger than any real base image; it may be hostile".into())
            }
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
