//! `plinth.lock` for RPM images: the exact packages an image is built from, per platform.
//!
//! The outline of the Debian and Alpine locks (`version`, `inputs`, `release`, one
//! `[[platform]]` table per platform with its packages by name), with what RPM's chain of
//! trust needs: per repository, the SHA-256 of the signed `repomd.xml` resolved from and
//! the fingerprint of the key that signed it; per package, its epoch, version, release,
//! arch, repository, location in the repository, size and the SHA-256 primary.xml gives
//! for the whole `.rpm` (checked against the file when it was fetched and verified), so
//! that a later build checks the file byte for byte. It names no mirror: a repository is
//! named by the last two components of its URL.
//!
//! `distribution = "rpm"` tells it from the other locks.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock format this module reads and writes; another version is refused.
pub const LOCK_VERSION: u32 = 1;
/// The `distribution` value of an RPM lock.
pub const DISTRIBUTION: &str = "rpm";
const HEADER: &str = "# plinth.lock: written by `plinth lock`; do not edit by hand.\n\
                      # `plinth lock --update SPEC` re-resolves to the newest versions.\n";

/// A whole RPM `plinth.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmLock {
    /// The lock format, [`LOCK_VERSION`].
    pub version: u32,
    /// Always [`DISTRIBUTION`].
    pub distribution: String,
    /// Digest of the spec's resolution inputs.
    pub inputs: String,
    /// The release the spec names (`el8`).
    pub release: String,
    /// The repositories packages were resolved from (`[[repository]]` tables).
    #[serde(default, rename = "repository")]
    pub repositories: Vec<RpmLockedRepository>,
    /// One `[[platform]]` table per platform, in the spec's order.
    #[serde(default, rename = "platform")]
    pub platforms: Vec<RpmPlatform>,
}

/// One signed repository a lock was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmLockedRepository {
    /// The repository's name: the last two components of its URL.
    pub name: String,
    /// SHA-256 (hex) of its `repodata/repomd.xml`.
    pub repomd_sha256: String,
    /// Fingerprint of the key that signed `repomd.xml`.
    pub signer: String,
}

/// The packages locked for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmPlatform {
    /// `linux/amd64`.
    pub platform: String,
    /// rpm architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The packages installed on it (`[[platform.package]]`), by name.
    #[serde(default, rename = "package")]
    pub packages: Vec<RpmLockedPackage>,
}

/// One package pinned by a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmLockedPackage {
    /// Name.
    pub name: String,
    /// Epoch, when the package has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture (`x86_64`, `noarch`).
    pub arch: String,
    /// The repository it was resolved from (a [`RpmLockedRepository::name`]).
    pub repository: String,
    /// Its path in the repository (primary.xml's `location`).
    pub location: String,
    /// Size of the `.rpm` in bytes.
    pub size: u64,
    /// SHA-256 (hex) of the whole `.rpm`.
    pub sha256: String,
    /// Chain from a requested package to this one; a requested package's is just itself.
    pub why: Vec<String>,
}

impl RpmLockedPackage {
    /// `[epoch:]version-release`, as rpm prints an EVR.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) if e != 0 => format!("{e}:{}-{}", self.version, self.release),
            _ => format!("{}-{}", self.version, self.release),
        }
    }

    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr(), self.arch)
    }
}

/// Failure to read or write a lock. `path` is always the lock file.
pub type LockError = plinth_core::lockfile::LockFileError;

/// A location that stays inside its repository: relative, no `..`, no scheme.
fn safe_location(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.contains("://")
        && !s.contains('\\')
        && s.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl RpmLock {
    /// Reads a lock; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<RpmLock>, LockError> {
        let p = path.display().to_string();
        let Some(lock) = plinth_core::lockfile::read::<RpmLock>(path, |l| l.version, LOCK_VERSION)?
        else {
            return Ok(None);
        };
        let parse = |message: String| LockError::Parse {
            path: p.clone(),
            message,
        };
        if lock.distribution != DISTRIBUTION {
            return Err(parse(format!(
                "distribution is {:?}, not \"rpm\"",
                lock.distribution
            )));
        }
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        for r in &lock.repositories {
            if !hex64(&r.repomd_sha256) {
                return Err(parse(format!(
                    "repository {} has a bad repomd-sha256",
                    r.name
                )));
            }
        }
        for plat in &lock.platforms {
            for pkg in &plat.packages {
                if !hex64(&pkg.sha256) || !safe_location(&pkg.location) {
                    return Err(parse(format!(
                        "package {} has a bad sha256 or location",
                        pkg.name
                    )));
                }
            }
        }
        Ok(Some(lock))
    }

    /// The lock as TOML, in its stable order.
    pub fn to_toml(&self) -> String {
        let mut sorted = self.clone();
        sorted.repositories.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut sorted.platforms {
            p.packages.sort_by(|a, b| a.name.cmp(&b.name));
        }
        plinth_core::lockfile::to_text(HEADER, &sorted)
    }

    /// Writes the lock atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        plinth_core::lockfile::write(path, &self.to_toml())
    }

    /// The packages locked for `platform` (`linux/amd64`).
    pub fn platform(&self, platform: &str) -> Option<&RpmPlatform> {
        self.platforms.iter().find(|p| p.platform == platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, location: &str) -> RpmLockedPackage {
        RpmLockedPackage {
            name: name.into(),
            epoch: None,
            version: "1.0".into(),
            release: "1.el8".into(),
            arch: "x86_64".into(),
            repository: "repos/rpm-test".into(),
            location: location.into(),
            size: 10,
            sha256: "a".repeat(64),
            why: vec![name.into()],
        }
    }

    fn lock(pkgs: Vec<RpmLockedPackage>) -> RpmLock {
        RpmLock {
            version: LOCK_VERSION,
            distribution: DISTRIBUTION.into(),
            inputs: "sha256:00".into(),
            release: "el8".into(),
            repositories: vec![RpmLockedRepository {
                name: "repos/rpm-test".into(),
                repomd_sha256: "b".repeat(64),
                signer: "ABCD".into(),
            }],
            platforms: vec![RpmPlatform {
                platform: "linux/amd64".into(),
                arch: "x86_64".into(),
                packages: pkgs,
            }],
        }
    }

    #[test]
    fn round_trips_in_a_stable_order() {
        let a = lock(vec![
            pkg("setup", "noarch/s.rpm"),
            pkg("glibc", "x86_64/g.rpm"),
        ]);
        let b = lock(vec![
            pkg("glibc", "x86_64/g.rpm"),
            pkg("setup", "noarch/s.rpm"),
        ]);
        assert_eq!(a.to_toml(), b.to_toml());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        a.save(&p).unwrap();
        assert_eq!(RpmLock::load(&p).unwrap().unwrap().to_toml(), a.to_toml());
        let mut e = pkg("x", "a.rpm");
        assert_eq!(e.nevra(), "x-1.0-1.el8.x86_64");
        e.epoch = Some(2);
        assert_eq!(e.evr(), "2:1.0-1.el8");
    }

    #[test]
    fn rejects_bad_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        for location in ["../x.rpm", "/etc/passwd", "https://h/x.rpm", "a//b.rpm", ""] {
            fs_err::write(&p, lock(vec![pkg("glibc", location)]).to_toml()).unwrap();
            assert!(
                matches!(RpmLock::load(&p), Err(LockError::Parse { .. })),
                "{location}"
            );
        }
        let mut bad = lock(vec![pkg("glibc", "g.rpm")]);
        bad.platforms[0].packages[0].sha256 = "nope".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(matches!(RpmLock::load(&p), Err(LockError::Parse { .. })));
        let mut bad = lock(vec![]);
        bad.distribution = "alpine".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(matches!(RpmLock::load(&p), Err(LockError::Parse { .. })));
        fs_err::write(
            &p,
            "version = 9\ndistribution = \"rpm\"\ninputs = \"\"\nrelease = \"x\"\n",
        )
        .unwrap();
        assert!(matches!(RpmLock::load(&p), Err(LockError::Version { .. })));
        assert!(RpmLock::load(&dir.path().join("none")).unwrap().is_none());
    }
}
