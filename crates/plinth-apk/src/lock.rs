//! `plinth.lock` for Alpine images: the exact packages an image is built from, per
//! platform.
//!
//! The same file name and outline as the Debian lock (`version`, `inputs`, `release`, one
//! `[[platform]]` table per platform with its packages by name), with what Alpine's chain
//! of trust needs in place of Debian's: per repository and architecture, the SHA-256 of the
//! signed `APKINDEX.tar.gz` resolved from and the key that signed it; per package, its
//! version, arch, repository, size, the index's `C:` checksum (SHA-1 of the control
//! member, which the package's signature covers) and the SHA-256 of the whole `.apk`
//! (computed when it was first fetched and verified), so that a later build checks the
//! file byte for byte. It names no mirror: a repository is named by its last two path
//! components (`v3.20/main`), so that any mirror of it serves.
//!
//! `distribution = "alpine"` tells it from a Debian lock, which has no such key.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock format this module reads and writes; another version is refused.
pub const LOCK_VERSION: u32 = 1;
/// The `distribution` value of an Alpine lock.
pub const DISTRIBUTION: &str = "alpine";
const HEADER: &str = "# plinth.lock: written by `plinth lock`; do not edit by hand.\n\
                      # `plinth lock --update SPEC` re-resolves to the newest versions.\n";

/// A whole Alpine `plinth.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApkLock {
    /// The lock format, [`LOCK_VERSION`].
    pub version: u32,
    /// Always [`DISTRIBUTION`].
    pub distribution: String,
    /// Digest of the spec's resolution inputs.
    pub inputs: String,
    /// The Alpine release (`3.20`).
    pub release: String,
    /// The indexes packages were resolved from (`[[repository]]` tables).
    #[serde(default, rename = "repository")]
    pub repositories: Vec<LockedRepository>,
    /// One `[[platform]]` table per platform, in the spec's order.
    #[serde(default, rename = "platform")]
    pub platforms: Vec<ApkPlatform>,
}

/// One signed index a lock was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedRepository {
    /// The repository's name: the last two components of its URL (`v3.20/main`).
    pub name: String,
    /// The apk architecture of the index (`x86_64`).
    pub arch: String,
    /// SHA-256 (hex) of the `APKINDEX.tar.gz`.
    pub apkindex_sha256: String,
    /// The key that signed the index (`alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub`).
    pub key: String,
}

/// The packages locked for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApkPlatform {
    /// `linux/amd64`.
    pub platform: String,
    /// apk architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The packages installed on it (`[[platform.package]]`), by name.
    #[serde(default, rename = "package")]
    pub packages: Vec<ApkLockedPackage>,
}

/// One package pinned by a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApkLockedPackage {
    /// `P:`.
    pub name: String,
    /// `V:`.
    pub version: String,
    /// `A:`.
    pub arch: String,
    /// The repository it was resolved from (a [`LockedRepository::name`]).
    pub repository: String,
    /// `S:`: the `.apk`'s size in bytes.
    pub size: u64,
    /// `C:`: `Q1` + base64 of the SHA-1 of the control member.
    pub checksum: String,
    /// SHA-256 (hex) of the whole `.apk`.
    pub sha256: String,
    /// Chain from a requested package to this one (`["apk-tools", "libssl3"]`); a
    /// requested package's chain is just itself.
    pub why: Vec<String>,
}

impl ApkLockedPackage {
    /// `name-version`, as apk names the package (and its file, `name-version.apk`).
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

/// Failure to read or write a lock. `path` is always the lock file.
pub type LockError = plinth_core::lockfile::LockFileError;

fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.contains('/')
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl ApkLock {
    /// Reads a lock; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<ApkLock>, LockError> {
        let p = path.display().to_string();
        let Some(lock) = plinth_core::lockfile::read::<ApkLock>(path, |l| l.version, LOCK_VERSION)?
        else {
            return Ok(None);
        };
        if lock.distribution != DISTRIBUTION {
            return Err(LockError::Parse {
                path: p,
                message: format!("distribution is {:?}, not \"alpine\"", lock.distribution),
            });
        }
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        for r in &lock.repositories {
            if !hex64(&r.apkindex_sha256) || !plain(&r.key) {
                return Err(LockError::Parse {
                    path: p,
                    message: format!("repository {} has a bad apkindex-sha256 or key", r.name),
                });
            }
        }
        for plat in &lock.platforms {
            for pkg in &plat.packages {
                // The id becomes a file name (`name-version.apk`) under the repository.
                let ok = hex64(&pkg.sha256)
                    && plain(&pkg.id())
                    && crate::index::decode_q1(&pkg.checksum).is_some();
                if !ok {
                    return Err(LockError::Parse {
                        path: p,
                        message: format!(
                            "package {} has a bad sha256, checksum, name or version",
                            pkg.name
                        ),
                    });
                }
            }
        }
        Ok(Some(lock))
    }

    /// The lock as TOML, in its stable order.
    pub fn to_toml(&self) -> String {
        let mut sorted = self.clone();
        sorted
            .repositories
            .sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
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
    pub fn platform(&self, platform: &str) -> Option<&ApkPlatform> {
        self.platforms.iter().find(|p| p.platform == platform)
    }

    /// What changed from `old` to `self`, one line per package and platform:
    /// `+ name version`, `- name version`, `~ name old -> new`.
    pub fn diff(&self, old: &ApkLock) -> Vec<String> {
        plinth_core::lockfile::platform_changes(&self.platforms, &old.platforms, |p| {
            let versions = p.packages.iter();
            let versions = versions.map(|x| (x.name.clone(), x.version.clone()));
            (&p.platform, versions.collect())
        })
    }
}

/// The package names of a resolver chain (`world → apk-tools-2.14.4-r0`), then `name`:
/// what [`ApkLockedPackage::why`] holds. An `install_if` chain is kept as written.
pub fn why_from_chain(chain: &str, name: &str) -> Vec<String> {
    let mut out: Vec<String> = chain
        .split(" → ")
        .filter(|c| *c != "world")
        .map(|id| {
            // `name-version-rN`: the name is what precedes the last two dashes.
            let mut it = id.rsplitn(3, '-');
            match (it.next(), it.next(), it.next()) {
                (Some(r), Some(_), Some(n)) if r.starts_with('r') => n.to_string(),
                _ => id.to_string(),
            }
        })
        .collect();
    out.push(name.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> ApkLockedPackage {
        ApkLockedPackage {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            repository: "v3.20/main".into(),
            size: 10,
            checksum: "Q1yruMWf/xR4E7SrT+sI2840hEWQk=".into(),
            sha256: "a".repeat(64),
            why: vec![name.into()],
        }
    }

    fn lock(pkgs: Vec<ApkLockedPackage>) -> ApkLock {
        ApkLock {
            version: LOCK_VERSION,
            distribution: DISTRIBUTION.into(),
            inputs: "sha256:00".into(),
            release: "3.20".into(),
            repositories: vec![LockedRepository {
                name: "v3.20/main".into(),
                arch: "x86_64".into(),
                apkindex_sha256: "b".repeat(64),
                key: "k.rsa.pub".into(),
            }],
            platforms: vec![ApkPlatform {
                platform: "linux/amd64".into(),
                arch: "x86_64".into(),
                packages: pkgs,
            }],
        }
    }

    #[test]
    fn round_trips_in_a_stable_order() {
        let a = lock(vec![pkg("zlib", "1.3.1-r1"), pkg("musl", "1.2.5-r0")]);
        let b = lock(vec![pkg("musl", "1.2.5-r0"), pkg("zlib", "1.3.1-r1")]);
        assert_eq!(a.to_toml(), b.to_toml());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        a.save(&p).unwrap();
        assert_eq!(ApkLock::load(&p).unwrap().unwrap().to_toml(), a.to_toml());
    }

    #[test]
    fn rejects_bad_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        let mut bad = lock(vec![pkg("musl", "1.2.5-r0")]);
        bad.platforms[0].packages[0].version = "1/../../x".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(matches!(ApkLock::load(&p), Err(LockError::Parse { .. })));
        let mut bad = lock(vec![pkg("musl", "1.2.5-r0")]);
        bad.platforms[0].packages[0].checksum = "nope".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(matches!(ApkLock::load(&p), Err(LockError::Parse { .. })));
        let mut bad = lock(vec![]);
        bad.distribution = "debian".into();
        fs_err::write(&p, bad.to_toml()).unwrap();
        assert!(matches!(ApkLock::load(&p), Err(LockError::Parse { .. })));
        fs_err::write(
            &p,
            "version = 9\ndistribution = \"alpine\"\ninputs = \"\"\nrelease = \"x\"\n",
        )
        .unwrap();
        assert!(matches!(ApkLock::load(&p), Err(LockError::Version { .. })));
        assert!(ApkLock::load(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn diff_and_why() {
        let old = lock(vec![pkg("musl", "1.2.4-r0"), pkg("gone", "1-r0")]);
        let new = lock(vec![pkg("musl", "1.2.5-r0"), pkg("added", "1-r0")]);
        assert_eq!(
            new.diff(&old),
            [
                "linux/amd64: + added 1-r0",
                "linux/amd64: ~ musl 1.2.4-r0 -> 1.2.5-r0",
                "linux/amd64: - gone 1-r0"
            ]
        );
        assert_eq!(why_from_chain("world", "busybox"), ["busybox"]);
        assert_eq!(
            why_from_chain(
                "world → apk-tools-2.14.4-r0 → libssl3-3.3.2-r0",
                "libcrypto3"
            ),
            ["apk-tools", "libssl3", "libcrypto3"]
        );
    }
}
