use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    #[error("failed to access {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Oci(e) => e.hint(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
