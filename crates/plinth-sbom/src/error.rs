use thiserror::Error;

/// Why a subject could not be opened or catalogued.
#[derive(Debug, Error)]
pub enum Error {
    /// Reading the image or root filesystem failed.
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    /// A file could not be read or written.
    #[error("failed to access {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The subject does not fit the request (no image for the platform asked for, no image
    /// at all).
    #[error("{what}: {reason}")]
    Input {
        /// The subject, as the user named it.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// A line telling the user what to do about the error, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Oci(e) => e.hint(),
            _ => None,
        }
    }
}

/// A result whose error is this crate's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
