use std::path::PathBuf;

/// Errors of the OCI core. Each names the path, digest or entry involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation on `path` failed.
    #[error("failed to access {}", path.display())]
    Io {
        /// The file or directory operated on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a stream that has no path of its own (a blob, a tar entry) failed.
    #[error("failed to read {what}")]
    Read {
        /// What was being read, as shown to the user (e.g. `blob sha256:…`).
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A path inside an image or layer is absolute, escapes the root, or is otherwise unusable.
    #[error("invalid path `{path}` in {context}: {reason}")]
    BadPath {
        /// The path as found.
        path: String,
        /// Where it was found (a layer, a builder call).
        context: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A layer builder was given the same path twice with different content.
    #[error("`{path}` is added twice with different content, mode or owner")]
    DuplicatePath {
        /// The path inside the layer.
        path: String,
    },
    /// A manifest, index, config or layout file failed to parse as JSON.
    #[error("{what} is not valid JSON")]
    Json {
        /// The document, as shown to the user.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A document or value parses but breaks the OCI rules or Plinth's.
    #[error("{what} is invalid: {reason}")]
    Invalid {
        /// The document or value, as shown to the user.
        what: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A descriptor declares a blob larger than the reader accepts.
    #[error("blob {digest} declares {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The blob's digest (`sha256:…`).
        digest: String,
        /// Declared size, in bytes.
        size: u64,
        /// Largest accepted size, in bytes.
        limit: u64,
    },
    /// A blob ends before the size its descriptor declares.
    #[error("blob {digest} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The blob's digest (`sha256:…`).
        digest: String,
        /// Declared size, in bytes.
        expected: u64,
        /// Bytes actually read.
        found: u64,
    },
    /// An image archive ends inside one of its entries.
    #[error("archive {} is truncated inside `{entry}`: {expected} bytes declared, {found} present", path.display())]
    TruncatedArchive {
        /// The archive file.
        path: PathBuf,
        /// The tar entry cut short.
        entry: String,
        /// Entry size its header declares, in bytes.
        expected: u64,
        /// Bytes present in the file, in bytes.
        found: u64,
    },
    /// A blob goes on past the size its descriptor declares.
    #[error("blob {digest} has the wrong size: expected {expected} bytes, found more")]
    Oversized {
        /// The blob's digest (`sha256:…`).
        digest: String,
        /// Declared size, in bytes.
        expected: u64,
    },
    /// A blob's content does not hash to its digest.
    #[error("blob {expected} does not match its digest: content hashes to {actual}")]
    DigestMismatch {
        /// The digest the blob is stored under.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },
    /// A layer's uncompressed content does not hash to the `diff_id` its image's config
    /// names for it.
    #[error(
        "layer {layer} does not match its diff_id: the config names {expected}, the uncompressed content hashes to {actual}"
    )]
    DiffIdMismatch {
        /// The layer's (compressed) digest.
        layer: String,
        /// The config's `diff_id`.
        expected: String,
        /// The digest of the uncompressed bytes actually read.
        actual: String,
    },
    /// A descriptor points to a blob the image source does not hold.
    #[error("blob {digest} is missing from {source_name}")]
    MissingBlob {
        /// The blob's digest (`sha256:…`).
        digest: String,
        /// The layout, archive or directory searched, as shown to the user.
        source_name: String,
    },
    /// Something asked for (a tag, a platform, a file in the image) does not exist; the
    /// string is the whole message.
    #[error("{0}")]
    NotFound(String),
    /// Valid input that Plinth does not handle (a media type, a compression, an entry
    /// kind); the string names it.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A bound against hostile input was reached; the string says which and where.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Writing would replace an existing path the writer does not own.
    #[error("refusing to replace {}: {reason}", path.display())]
    Clobber {
        /// The existing path.
        path: PathBuf,
        /// Why it is not replaced.
        reason: &'static str,
    },
    /// Writing an output failed (disk full, permission denied, …): not the input's fault.
    #[error("failed to write {what}")]
    Write {
        /// The output: a path, or `standard output`.
        what: String,
        /// The operating system's error.
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
            | Error::DiffIdMismatch { .. }
            | Error::Truncated { .. }
            | Error::Oversized { .. }
            | Error::TruncatedArchive { .. } => {
                Some("the image is corrupt or was modified; fetch or build it again".into())
            }
            Error::Clobber { .. } => {
                Some("choose another --output, or remove the existing path yourself".into())
            }
            Error::TooLarge { .. } | Error::Limit(_) => Some(
                "the image is far larger than any real base image; it may be hostile (to read a \
                 legitimately larger one, raise the bound with PLINTH_LIMITS: see `Limits` in \
                 docs/cli.md)"
                    .into(),
            ),
            Error::Invalid { what, .. } if what == "PLINTH_LIMITS" => Some(
                "PLINTH_LIMITS takes KEY=SIZE pairs separated by commas, such as \
                 layer-size=64GiB,files=5000000"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
