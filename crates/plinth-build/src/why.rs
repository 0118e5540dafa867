//! `why`: which requested package pulls a package into the image, and through which
//! dependencies. Reads the lock: no network.

use std::path::{Path, PathBuf};

use plinth_deb::lock::{Lock, LockError};

use crate::{Spec, lock_path};

/// How a package came into the image of one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The lock's platform, `os/arch[/variant]`.
    pub platform: String,
    /// The package asked about.
    pub package: String,
    /// Its version locked for this platform.
    pub version: String,
    /// `requested by the spec`, or the chain `base -> libc6 -> libgcc-s1`.
    pub how: String,
}

/// Why `why` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum WhyError {
    /// The lock exists but could not be read or parsed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The spec has not been locked yet.
    #[error("{} has no lock ({} is missing)", spec.display(), lock.display())]
    NoLock {
        /// The spec file, as given.
        spec: PathBuf,
        /// Where its lock would be.
        lock: PathBuf,
    },
    /// No platform of the lock holds the package.
    #[error("{package} is not in the image built from {}", spec.display())]
    NotInImage {
        /// The package asked about.
        package: String,
        /// The spec file, as given.
        spec: PathBuf,
    },
}

impl WhyError {
    /// A line telling the user what to do about the error, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            WhyError::NoLock { spec, .. } => {
                Some(format!("run `plinth lock {}` first", spec.display()))
            }
            WhyError::NotInImage { .. } => {
                Some("`plinth lock SPEC` lists every package of the lock".into())
            }
            WhyError::Lock(_) => None,
        }
    }
}

/// Why `package` is in the image `spec` (read from `spec_path`) builds, per platform.
pub fn why(spec: &Spec, spec_path: &Path, package: &str) -> Result<Vec<Reason>, WhyError> {
    let path = lock_path(spec);
    let no_lock = || WhyError::NoLock {
        spec: spec_path.to_path_buf(),
        lock: path.clone(),
    };
    let reasons = if let Some(r) = &spec.rpm {
        let lock = plinth_rpm::lock::RpmLock::load(&path)?.ok_or_else(no_lock)?;
        let chains = lock.platforms.iter().map(|p| {
            let found = p.packages.iter().find(|x| x.name == package);
            (
                p.platform.as_str(),
                found.map(|x| (x.name.as_str(), x.evr(), x.why.as_slice())),
            )
        });
        explain_chains(&r.packages, chains)
    } else if spec.alpine.is_some() {
        let lock = plinth_apk::lock::ApkLock::load(&path)?.ok_or_else(no_lock)?;
        explain_alpine(spec, &lock, package)
    } else {
        let lock = Lock::load(&path)?.ok_or_else(no_lock)?;
        explain(spec, &lock, package)
    };
    if reasons.is_empty() {
        return Err(WhyError::NotInImage {
            package: package.to_string(),
            spec: spec_path.to_path_buf(),
        });
    }
    Ok(reasons)
}

/// Why `package` is in `lock`, per platform; empty when it is not.
pub fn explain(spec: &Spec, lock: &Lock, package: &str) -> Vec<Reason> {
    let mut out = Vec::new();
    for p in &lock.platforms {
        if let Some(pkg) = p.packages.iter().find(|x| x.name == package) {
            let requested = spec
                .debian
                .as_ref()
                .is_some_and(|d| d.packages.contains(&pkg.name));
            let how = if requested || pkg.why.len() <= 1 {
                "requested by the spec".to_string()
            } else {
                pkg.why.join(" -> ")
            };
            out.push(Reason {
                platform: p.platform.clone(),
                package: pkg.name.clone(),
                version: pkg.version.clone(),
                how,
            });
        }
    }
    out
}

/// Why a package is in an image, from each platform's entry for it (name, version and the
/// lock's chain from a requested package): "requested by the spec" when `requested`
/// names it or its chain is itself, else the chain.
fn explain_chains<'a>(
    requested: &[String],
    platforms: impl Iterator<Item = (&'a str, Option<(&'a str, String, &'a [String])>)>,
) -> Vec<Reason> {
    platforms
        .filter_map(|(platform, found)| {
            let (name, version, why) = found?;
            let how = if requested.iter().any(|r| r == name) || why.len() <= 1 {
                "requested by the spec".to_string()
            } else {
                why.join(" -> ")
            };
            Some(Reason {
                platform: platform.to_string(),
                package: name.to_string(),
                version,
                how,
            })
        })
        .collect()
}

/// Why `package` is in the Alpine `lock`, per platform; empty when it is not.
pub fn explain_alpine(spec: &Spec, lock: &plinth_apk::lock::ApkLock, package: &str) -> Vec<Reason> {
    let requested = spec
        .alpine
        .as_ref()
        .map(|a| a.packages.as_slice())
        .unwrap_or_default();
    explain_chains(
        requested,
        lock.platforms.iter().map(|p| {
            let found = p.packages.iter().find(|x| x.name == package);
            (
                p.platform.as_str(),
                found.map(|x| (x.name.as_str(), x.version.clone(), x.why.as_slice())),
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_deb::lock::{LockedPackage, LockedPlatform};

    fn pkg(name: &str, why: &[&str]) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1.0-1".into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/{name}.deb"),
            size: 1,
            sha256: "00".into(),
            suite: "bookworm".into(),
            source: None,
            why: why.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn fixture() -> (Spec, Lock) {
        let spec = Spec::parse(
            Path::new("/nonexistent-dir/plinth.toml"),
            "[image]\nname = \"x\"\n\n[debian]\nrelease = \"bookworm\"\npackages = [\"curl\"]\n",
        )
        .unwrap();
        let lock = Lock {
            version: 1,
            inputs: String::new(),
            release: "bookworm".into(),
            suites: Vec::new(),
            platforms: vec![LockedPlatform {
                platform: "linux/amd64".into(),
                arch: "amd64".into(),
                packages: vec![
                    pkg("curl", &["curl"]),
                    pkg("libcurl4", &["curl", "libcurl4"]),
                ],
            }],
        };
        (spec, lock)
    }

    #[test]
    fn requested_and_pulled_in() {
        let (spec, lock) = fixture();
        assert_eq!(
            explain(&spec, &lock, "curl")[0].how,
            "requested by the spec"
        );
        let r = &explain(&spec, &lock, "libcurl4")[0];
        assert_eq!(
            (r.platform.as_str(), r.version.as_str(), r.how.as_str()),
            ("linux/amd64", "1.0-1", "curl -> libcurl4")
        );
        assert!(explain(&spec, &lock, "bash").is_empty());
    }
}
