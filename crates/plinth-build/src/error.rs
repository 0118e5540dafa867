use std::path::PathBuf;

/// An error in a spec file, with the line and column it was found at when known.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct SpecError {
    /// The spec file the error is in.
    pub path: PathBuf,
    /// 1-based line and column.
    pub location: Option<(usize, usize)>,
    /// What is wrong, naming the key or value involved.
    pub message: String,
    /// How to fix it, when there is an obvious fix (shown as `hint:`).
    pub hint: Option<String>,
}

/// Why a build or a lock failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    // Not `#[from]`: that would make the spec error both the message and its cause.
    /// The spec is invalid; the boxed error says where and why.
    #[error("invalid image spec {0}")]
    Spec(Box<SpecError>),
    /// The spec file could not be read.
    #[error("failed to read spec {}", path.display())]
    ReadSpec {
        /// The spec file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `[[files]]` source could not be read.
    #[error("failed to read source file {} (for `{dst}`)", path.display())]
    Source {
        /// The local file or directory, as resolved against the spec's directory.
        path: PathBuf,
        /// Its destination in the image, absolute.
        dst: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Assembling the image failed (a layer, a config, a manifest or the index).
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    /// A Debian step failed (keys, mirror, package index, resolution, fetching, unpacking,
    /// the CA bundle), or the request does not fit the spec (nothing to lock, a
    /// `--platform` it does not build).
    #[error("{message}")]
    Debian {
        /// What failed, naming the package, platform, key or file involved.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An Alpine step failed (keys, repositories, a signed index, resolution, fetching or
    /// verifying a package, unpacking it).
    #[error("{message}")]
    Alpine {
        /// What failed, naming the package, repository, key or file involved.
        message: String,
        /// What the user can do about it, when there is something.
        hint: Option<String>,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An RPM step failed (keys, a signed repomd.xml, primary data, resolution, fetching or
    /// verifying a package, unpacking it, the rpm database).
    #[error("{message}")]
    Rpm {
        /// What failed, naming the package, repository, key or file involved.
        message: String,
        /// What the user can do about it, when there is something.
        hint: Option<String>,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// `plinth.lock` does not match the spec and [`crate::LockMode::UseOrCreate`] was asked for.
    #[error("{} was written for another version of the spec (its packages, profile, release, platforms or security setting changed)", path.display())]
    StaleLock {
        /// The lock file.
        path: PathBuf,
    },
    /// `plinth.lock` was resolved without the release's security suite, which the spec
    /// does not leave out.
    #[error("{} was resolved without the security suite {suite}", path.display())]
    LockWithoutSecurity {
        /// The lock file.
        path: PathBuf,
        /// The suite missing from it (`trixie-security`).
        suite: String,
    },
    /// `plinth.lock` (of any distribution) could not be read, parsed or written.
    #[error(transparent)]
    Lock(#[from] plinth_core::lockfile::LockFileError),
    /// dpkg, or a maintainer script it ran, failed while installing a system image.
    #[error("{step} failed ({status}){}\n{output}", if packages.is_empty() { String::new() } else { format!(": package {}", packages.join(", ")) })]
    MaintainerScript {
        /// What was being done (`installing the essential packages`).
        step: String,
        /// The packages dpkg named in its errors.
        packages: Vec<String>,
        /// How dpkg ended.
        status: String,
        /// The end of what dpkg and the scripts printed.
        output: String,
    },
    /// A platform's binaries cannot run here, and a system image runs them.
    #[error(
        "building {platform} runs its maintainer scripts, and {arch} binaries cannot run on this machine"
    )]
    Emulator {
        /// The platform (`linux/arm64`).
        platform: String,
        /// The kernel's name of its architecture (`aarch64`).
        arch: String,
    },
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
            BuildError::Lock(plinth_core::lockfile::LockFileError::Write { .. }) => true,
            _ => false,
        }
    }

    /// A line telling the user what to do about the error, when there is one.
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
            BuildError::LockWithoutSecurity { .. } => Some(
                "run `plinth lock --update SPEC` to resolve it with the security updates, or \
                 set `security = false` in [debian] to build without them"
                    .to_string(),
            ),
            BuildError::Alpine { hint, .. } | BuildError::Rpm { hint, .. } => hint.clone(),
            BuildError::Emulator { arch, .. } => Some(format!(
                "register an emulator for {arch} with binfmt_misc (on Debian: apt-get install \
                 qemu-user-static binfmt-support), or build only the platforms this machine \
                 runs: --platform linux/{}",
                match std::env::consts::ARCH {
                    "x86_64" => "amd64",
                    "aarch64" => "arm64",
                    other => other,
                }
            )),
            BuildError::MaintainerScript { .. } => Some(
                "the output above is dpkg's; the lock pins the packages, so `plinth lock --update` picks up fixed versions".to_string(),
            ),
            BuildError::Debian {
                source: Some(e), ..
            } => e
                .downcast_ref::<plinth_deb::repo::RepoError>()
                .and_then(|e| e.hint()),
            _ => None,
        }
    }
}
