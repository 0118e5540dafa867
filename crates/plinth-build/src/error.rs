use std::path::PathBuf;

/// An error in a spec file, with the line and column it was found at when known.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct SpecError {
    pub path: PathBuf,
    /// 1-based line and column.
    pub location: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    // Not `#[from]`: that would make the spec error both the message and its cause.
    #[error("invalid image spec {0}")]
    Spec(Box<SpecError>),
    #[error("failed to read spec {}", path.display())]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read source file {} (for `{dst}`)", path.display())]
    Source {
        path: PathBuf,
        dst: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    #[error("{message}")]
    Debian {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("{} was written for another version of the spec (its packages, profile, release or platforms changed)", path.display())]
    StaleLock { path: PathBuf },
    #[error(transparent)]
    Lock(#[from] plinth_deb::lock::LockError),
    /// Cataloguing the built image for its SBOM failed.
    #[error(transparent)]
    Sbom(#[from] plinth_sbom::Error),
}

impl BuildError {
    /// Whether writing an output failed (not the input's fault).
    pub fn is_output_failure(&self) -> bool {
        match self {
            BuildError::Oci(e) | BuildError::Sbom(plinth_sbom::Error::Oci(e)) => {
                e.is_output_failure()
            }
            BuildError::Lock(plinth_deb::lock::LockError::Write { .. }) => true,
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::Spec(e) => e.hint.clone(),
            BuildError::Source { .. } => {
                Some("`src` paths are relative to the directory holding the spec file".to_string())
            }
            BuildError::Oci(e) => e.hint(),
            BuildError::Sbom(e) => e.hint(),
            BuildError::StaleLock { .. } => {
                Some("run `plinth lock --update SPEC` to resolve it again".to_string())
            }
            _ => None,
        }
    }
}
