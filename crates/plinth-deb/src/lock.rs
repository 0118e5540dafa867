//! `plinth.lock`: the exact packages an image is built from, per platform.
//!
//! TOML, written in a stable order (platforms as in the spec, packages by name) so that
//! it diffs well and the same resolution always gives the same bytes. It records, per
//! package, the version, architecture, pool filename, size and SHA-256 (the `.deb` is
//! checked against it when fetched), the suite it came from and why it is there; per suite,
//! the SHA-256 of the signed `InRelease` it was resolved from. It names no mirror: where
//! packages come from is the machine's business (apt sources, the spec, `--mirror`), and
//! the hashes make any mirror as good as another. `inputs` is a digest of
//! what the resolution depends on (profile, release, packages, excludes, platforms):
//! a spec whose inputs changed no longer matches its lock.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock format this crate reads and writes (the `version` field); a lock of another
/// version is refused.
pub const LOCK_VERSION: u32 = 1;
const HEADER: &str = "# plinth.lock: written by `plinth lock`; do not edit by hand.\n\
                      # `plinth lock --update SPEC` re-resolves to the newest versions.\n";

/// A whole `plinth.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    /// The lock format, [`LOCK_VERSION`].
    pub version: u32,
    /// Digest of the spec's resolution inputs.
    pub inputs: String,
    /// The Debian release codename.
    pub release: String,
    /// The suites packages were resolved from (`[[suite]]` tables).
    #[serde(default, rename = "suite")]
    pub suites: Vec<LockedSuite>,
    /// One `[[platform]]` table per platform, in the spec's order.
    #[serde(default, rename = "platform")]
    pub platforms: Vec<LockedPlatform>,
}

/// One suite of the archive a lock was resolved against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedSuite {
    /// The suite as configured (`bookworm`, `bookworm-security`).
    pub name: String,
    /// SHA-256 (hex) of the `InRelease` the packages were resolved from.
    pub inrelease_sha256: String,
}

/// The packages locked for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPlatform {
    /// `linux/amd64`.
    pub platform: String,
    /// Debian architecture (`amd64`, `arm64`).
    pub arch: String,
    /// The packages installed on it (`[[platform.package]]`), by name.
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

/// One binary package pinned by a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPackage {
    /// The binary package's name.
    pub name: String,
    /// Its Debian version, as written in `Packages`.
    pub version: String,
    /// Its `Architecture` (`amd64`, or `all`).
    pub architecture: String,
    /// Path under the mirror (`pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb`).
    pub filename: String,
    /// Size of the `.deb`, in bytes.
    pub size: u64,
    /// SHA-256 (hex) of the `.deb`.
    pub sha256: String,
    /// Suite it was resolved from.
    pub suite: String,
    /// Source package, when it differs from the binary's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Chain from a requested package to this one (`["base", "libc6", "libgcc-s1"]`);
    /// a requested package's chain is just itself.
    pub why: Vec<String>,
}

/// Failure to read or write a lock. `path` is always the lock file.
pub type LockError = plinth_core::lockfile::LockFileError;

impl Lock {
    /// Reads a lock; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Lock>, LockError> {
        let p = path.display().to_string();
        let Some(lock) = plinth_core::lockfile::read::<Lock>(path, |l| l.version, LOCK_VERSION)?
        else {
            return Ok(None);
        };
        for plat in &lock.platforms {
            for pkg in &plat.packages {
                let ok =
                    pkg.sha256.len() == 64 && pkg.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                let clean = !pkg.filename.split('/').any(|c| c == ".." || c.is_empty());
                if !ok || !clean {
                    return Err(LockError::Parse {
                        path: p,
                        message: format!("package {} has a bad sha256 or filename", pkg.name),
                    });
                }
            }
        }
        Ok(Some(lock))
    }

    /// The lock as TOML, in its stable order.
    pub fn to_toml(&self) -> String {
        let mut sorted = self.clone();
        sorted.suites.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &mut sorted.platforms {
            p.packages
                .sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
        }
        plinth_core::lockfile::to_text(HEADER, &sorted)
    }

    /// Writes the lock atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        plinth_core::lockfile::write(path, &self.to_toml())
    }

    /// The packages locked for `platform` (`linux/amd64`), `None` when the lock has none.
    pub fn platform(&self, platform: &str) -> Option<&LockedPlatform> {
        self.platforms.iter().find(|p| p.platform == platform)
    }

    /// What changed from `old` to `self`, one line per package and platform:
    /// `+ name version`, `- name version`, `~ name old -> new`.
    pub fn diff(&self, old: &Lock) -> Vec<String> {
        plinth_core::lockfile::platform_changes(&self.platforms, &old.platforms, |p| {
            let versions = p.packages.iter();
            let versions = versions.map(|x| (x.name.clone(), x.version.clone()));
            (&p.platform, versions.collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/{}/{name}/{name}_{version}_amd64.deb", &name[..1]),
            size: 10,
            sha256: "a".repeat(64),
            suite: "bookworm".into(),
            source: None,
            why: vec![name.into()],
        }
    }

    fn lock(pkgs: Vec<LockedPackage>) -> Lock {
        Lock {
            version: LOCK_VERSION,
            inputs: "sha256:00".into(),
            release: "bookworm".into(),
            suites: vec![LockedSuite {
                name: "bookworm".into(),
                inrelease_sha256: "b".repeat(64),
            }],
            platforms: vec![LockedPlatform {
                platform: "linux/amd64".into(),
                arch: "amd64".into(),
                packages: pkgs,
            }],
        }
    }

    #[test]
    fn round_trips_in_a_stable_order() {
        let a = lock(vec![pkg("zlib1g", "1"), pkg("libc6", "2")]);
        let b = lock(vec![pkg("libc6", "2"), pkg("zlib1g", "1")]);
        assert_eq!(a.to_toml(), b.to_toml());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        a.save(&p).unwrap();
        let back = Lock::load(&p).unwrap().unwrap();
        assert_eq!(back.to_toml(), a.to_toml());
        assert!(
            fs_err::read_to_string(&p)
                .unwrap()
                .starts_with("# plinth.lock")
        );
    }

    #[test]
    fn rejects_bad_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        let mut bad = lock(vec![pkg("libc6", "2")]);
        bad.platforms[0].packages[0].filename = "pool/../../etc/passwd".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(
            Lock::load(&p)
                .unwrap_err()
                .to_string()
                .contains("bad sha256 or filename")
        );
        fs_err::write(&p, "version = 99\ninputs = \"\"\nrelease = \"x\"\n").unwrap();
        assert!(matches!(Lock::load(&p), Err(LockError::Version { .. })));
        fs_err::write(&p, "garbage = [").unwrap();
        assert!(matches!(Lock::load(&p), Err(LockError::Parse { .. })));
        assert!(Lock::load(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn diff_lists_changes() {
        let old = lock(vec![pkg("libc6", "1"), pkg("gone", "1")]);
        let new = lock(vec![pkg("libc6", "2"), pkg("added", "1")]);
        assert_eq!(
            new.diff(&old),
            [
                "linux/amd64: + added 1",
                "linux/amd64: ~ libc6 1 -> 2",
                "linux/amd64: - gone 1"
            ]
        );
    }
}
