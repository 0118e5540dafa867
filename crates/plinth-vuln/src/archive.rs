//! Fixes from the archive: with no vulnerability feed at all, compare each installed
//! Debian source package with the newest version the signed archive offers (release,
//! `-updates` and `-security` suites) and list the CVE ids that the changelog entries
//! between the two name.
//!
//! The archive is the machine's apt mirror (from its apt sources), or a mirror given
//! explicitly; its `InRelease` files are checked against the keyring and every index and
//! `.deb` against the signed hashes (see [`plinth_deb::repo::fetch_index`]). The changelog
//! of a source is read from the newest `.deb` of one of its binaries, preferring one that
//! is installed.
//!
//! What this tells is what updating brings, as the maintainers wrote it: a CVE named in
//! an entry is usually one that entry fixes, but the text is prose ("revert the fix for
//! CVE-…" is rare but possible), and CVEs fixed without a changelog mention are missed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use plinth_core::progress::Reporter;
use plinth_deb::archive::{Changelog, NewestVersions, fetch_source_changelog, newest_versions};
use plinth_deb::cache::Cache;
use plinth_deb::changelog::pending_since;
use plinth_deb::keyring::Keyring;
use plinth_deb::repo::{
    IndexOptions, RepoConfig, RepoError, RepoIndex, Security, add_security, config_from_apt,
    fetch_index_with,
};
use plinth_dpkg::Version;
use plinth_dpkg::control::Paragraph;
use plinth_sbom::{Distro, PackageKind, Sbom};
use serde::Serialize;

use crate::matcher::{cve_order, kernel_headers_only};

/// Why fixes from the archive could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveFixesError {
    /// The SBOM records no operating system (the image had no os-release).
    #[error("the SBOM names no operating system: fixes from the archive need a Debian release")]
    NoDistro,
    /// The operating system is not Debian.
    #[error("fixes from the archive are for Debian images; this one is {id:?}")]
    NotDebian {
        /// Its os-release `ID`.
        id: String,
    },
    /// Neither the codename nor the version number names a Debian release plinth knows.
    #[error(
        "cannot tell the Debian release: no VERSION_CODENAME and VERSION_ID {version_id:?} is not a known release"
    )]
    UnknownRelease {
        /// The os-release `VERSION_ID`; `None` when there is none.
        version_id: Option<String>,
    },
    /// No architecture was given, no installed package names one, and the SBOM's
    /// platform does not map to one.
    #[error(
        "cannot tell the Debian architecture: no package names one and the platform is {platform:?}"
    )]
    NoArch {
        /// The SBOM's platform (`linux/amd64`, …); `None` when it records none.
        platform: Option<String>,
    },
    /// The apt sources under the given root yield no usable configuration for the
    /// release.
    #[error("cannot find a mirror for {codename} in the apt sources")]
    Config {
        /// The Debian release codename.
        codename: String,
        /// Why the apt sources gave no configuration.
        #[source]
        source: Box<RepoError>,
    },
    /// Fetching or verifying the release's `InRelease` files and package indices failed.
    #[error("cannot read the signed package index of {codename} for {arch}")]
    Index {
        /// The Debian release codename.
        codename: String,
        /// The Debian architecture (`amd64`, …).
        arch: String,
        /// The download, signature or hash failure.
        #[source]
        source: Box<RepoError>,
    },
}

/// Where the archive is.
#[derive(Debug, Clone)]
pub enum ArchiveSource {
    /// The apt sources under this root (`/` for the machine's own), with the keys they
    /// trust.
    Apt(PathBuf),
    /// One mirror base URI holding every suite, trusted with `keyring`.
    Mirror {
        /// The mirror's base URI (the directory holding `dists/`).
        uri: String,
        /// The keys its `InRelease` files must be signed with.
        keyring: Keyring,
    },
    /// A complete configuration (its suites are used as given).
    Config(RepoConfig),
}

impl ArchiveFixesError {
    /// What the user can do about the error, when there is something (a security suite
    /// that is not where it was looked for).
    pub fn hint(&self) -> Option<String> {
        match self {
            ArchiveFixesError::Config { source, .. } | ArchiveFixesError::Index { source, .. } => {
                source.hint()
            }
            _ => None,
        }
    }
}

impl ArchiveSource {
    /// One mirror trusted with the Debian archive keyring, or (with none) the machine's
    /// own apt sources.
    pub fn mirror_or_apt(
        mirror: Option<&str>,
    ) -> Result<ArchiveSource, plinth_deb::keyring::KeyringError> {
        Ok(match mirror {
            None => ArchiveSource::Apt(PathBuf::from("/")),
            Some(uri) => ArchiveSource::Mirror {
                uri: uri.to_string(),
                keyring: Keyring::load(std::path::Path::new(plinth_deb::keyring::DEFAULT_KEYRING))?,
            },
        })
    }
}

/// How to look.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// The archive to read; by default the machine's apt sources.
    pub source: ArchiveSource,
    /// The Debian architecture; by default the one most installed packages have.
    pub arch: Option<String>,
    /// The time the signed release files' validity is judged at.
    pub now: SystemTime,
    /// Where the `-security` suite comes from (by default as apt finds it); a
    /// configured security suite is required.
    pub security: Security,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            source: ArchiveSource::Apt(PathBuf::from("/")),
            security: Security::Apt,
            arch: None,
            now: SystemTime::now(),
        }
    }
}

/// A suite that was read, as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveSuite {
    /// The suite (`bookworm`, `bookworm-updates`, `bookworm-security`).
    pub name: String,
    /// Fingerprint of the key that signed its `InRelease`.
    pub signer: String,
    /// Its `Date` field, as written in the `InRelease`; `None` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// One changelog entry between the installed and the newest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateEntry {
    /// The source version the entry is for.
    pub version: String,
    /// The distribution(s) of its header, as written (`bookworm-security`, …).
    pub distribution: String,
    /// Its `urgency=` value, lower case; empty when the header has none.
    pub urgency: String,
    /// The CVE ids its text names, upper case, in order of first mention, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cve_ids: Vec<String>,
    /// The date of its trailer line as written (RFC 2822); `None` when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// A source package with a newer version in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceUpdate {
    /// The source package name.
    pub source: String,
    /// The installed source version (the oldest, if binaries differ).
    pub installed: String,
    /// The newest source version in the archive.
    pub newest: String,
    /// The suite it is in.
    pub suite: String,
    /// The installed binaries built from this source.
    pub binaries: Vec<String>,
    /// Every CVE id the entries between name, each once, by year then number.
    pub cve_ids: Vec<String>,
    /// The entries with installed < version <= newest, newest first.
    pub entries: Vec<UpdateEntry>,
    /// Where the changelog was read: `<binary> <version>: <path>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changelog: Option<String>,
    /// Why the changelog could not be read (then `entries` and `cve_ids` are empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the archive offers an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveFixes {
    /// The Debian release codename.
    pub release: String,
    /// The Debian architecture the indices were read for.
    pub arch: String,
    /// The suites read, in the order they were looked at.
    pub suites: Vec<ArchiveSuite>,
    /// Source packages with a newer version, by name.
    pub updates: Vec<SourceUpdate>,
    /// Source packages installed at the newest version (or newer).
    pub up_to_date: usize,
    /// Source packages the archive does not have (built locally, removed, or from
    /// another release).
    pub not_in_archive: Vec<String>,
    /// Binaries of source `linux` without a kernel image or modules (`linux-libc-dev`,
    /// headers, `linux-perf`): the kernel's CVEs are not theirs, so they are not looked at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kernel_headers: Vec<String>,
    /// Installed packages that were skipped, with why (a source version that does not
    /// parse, …).
    pub warnings: Vec<String>,
}

impl ArchiveFixes {
    /// Every CVE id the updates name, each once, by year then number.
    pub fn cve_ids(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .updates
            .iter()
            .flat_map(|u| u.cve_ids.iter().map(String::as_str))
            .collect();
        all.sort_by_key(|id| cve_order(id));
        all.dedup();
        all
    }
}

/// The Debian release codename of `distro`: `VERSION_CODENAME`, else from `VERSION_ID`
/// (12 → bookworm). Anything but Debian is an error.
pub fn debian_codename(distro: Option<&Distro>) -> Result<String, ArchiveFixesError> {
    let distro = distro.ok_or(ArchiveFixesError::NoDistro)?;
    if distro.id != "debian" {
        return Err(ArchiveFixesError::NotDebian {
            id: distro.id.clone(),
        });
    }
    if let Some(c) = distro.codename.as_deref().map(str::trim)
        && !c.is_empty()
    {
        return Ok(c.to_ascii_lowercase());
    }
    let major = distro
        .version_id
        .as_deref()
        .map(|v| v.trim().split(['.', '/']).next().unwrap_or_default());
    let codename = match major {
        Some(n) if let Some(r) = plinth_dpkg::releases::by_number(n) => r.codename,
        // `/etc/debian_version` of testing says `trixie/sid`.
        Some(word) if !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()) => word,
        _ => {
            return Err(ArchiveFixesError::UnknownRelease {
                version_id: distro.version_id.clone(),
            });
        }
    };
    Ok(codename.to_string())
}

/// The Debian architecture to look at: the one most installed packages have (`all`
/// aside), else from the image platform.
pub fn debian_arch(sbom: &Sbom) -> Result<String, ArchiveFixesError> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in sbom
        .packages
        .iter()
        .filter(|p| p.kind() == PackageKind::Deb)
    {
        if let Some(a) = p.arch.as_deref().filter(|a| !a.is_empty() && *a != "all") {
            *counts.entry(a).or_default() += 1;
        }
    }
    if let Some((arch, _)) = counts
        .iter()
        .max_by_key(|(a, n)| (**n, std::cmp::Reverse(**a)))
    {
        return Ok(arch.to_string());
    }
    let platform = sbom.platform.as_deref().unwrap_or_default();
    let mut parts = platform.split('/').skip(1);
    let arch = match (parts.next(), parts.next()) {
        (Some("amd64"), _) => "amd64",
        (Some("arm64"), _) => "arm64",
        (Some("arm"), Some("v7")) => "armhf",
        (Some("arm"), Some("v5")) => "armel",
        (Some("386"), _) => "i386",
        (Some("ppc64le"), _) => "ppc64el",
        (Some("s390x"), _) => "s390x",
        (Some("riscv64"), _) => "riscv64",
        (Some("mips64le"), _) => "mips64el",
        (Some("loong64"), _) => "loong64",
        _ => {
            return Err(ArchiveFixesError::NoArch {
                platform: sbom.platform.clone(),
            });
        }
    };
    Ok(arch.to_string())
}

/// The repository configuration for `codename`, its security suite as `security` says
/// (from the machine's apt sources for a mirror given alone).
pub fn repo_config(
    codename: &str,
    source: &ArchiveSource,
    security: &Security,
    now: SystemTime,
) -> Result<RepoConfig, ArchiveFixesError> {
    let config_err = |source| ArchiveFixesError::Config {
        codename: codename.to_string(),
        source: Box::new(source),
    };
    Ok(match source {
        ArchiveSource::Apt(root) => {
            config_from_apt(root, codename, security, now).map_err(config_err)?
        }
        ArchiveSource::Mirror { uri, keyring } => {
            let mut cfg = RepoConfig {
                mirror: uri.trim_end_matches('/').to_string(),
                suites: vec![codename.to_string(), format!("{codename}-updates")],
                components: vec!["main".to_string()],
                keyring: keyring.clone(),
                now,
                suite_mirrors: BTreeMap::new(),
            };
            add_security(&mut cfg, Path::new("/"), codename, security).map_err(config_err)?;
            cfg
        }
        ArchiveSource::Config(cfg) => cfg.clone(),
    })
}

/// Lists, per installed Debian source package, what the newest version in the archive
/// fixes according to its changelog. Fetches the signed indexes, then the `.deb` of one
/// binary per outdated source (into `cache`).
pub fn fixes_from_archive(
    sbom: &Sbom,
    opts: &ArchiveOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<ArchiveFixes, ArchiveFixesError> {
    let codename = debian_codename(sbom.distro.as_ref())?;
    let arch = match &opts.arch {
        Some(a) => a.clone(),
        None => debian_arch(sbom)?,
    };
    let cfg = repo_config(&codename, &opts.source, &opts.security, opts.now)?;
    // Only the records of the installed sources are parsed and kept (a few thousand of
    // Debian's 63,000), and the verified index files are kept in the cache under their
    // signed hash: a second run downloads the release files alone.
    let wanted: HashSet<&str> = sbom
        .packages
        .iter()
        .filter(|p| p.kind() == PackageKind::Deb)
        .map(|p| p.source_or_name())
        .collect();
    let keep = |p: &Paragraph| {
        let source = p
            .get("Source")
            .and_then(|s| s.split_whitespace().next())
            .or_else(|| p.get("Package"));
        source.is_some_and(|s| wanted.contains(s))
    };
    let index = fetch_index_with(
        &cfg,
        &arch,
        IndexOptions {
            cache: Some(cache),
            keep: Some(&keep),
        },
        reporter,
    )
    .map_err(|source| ArchiveFixesError::Index {
        codename: codename.clone(),
        arch: arch.clone(),
        source: Box::new(source),
    })?;
    Ok(fixes_with_index(
        sbom, &codename, &arch, &index, cache, reporter,
    ))
}

/// Installed binaries of one source.
struct Installed {
    version: Version,
    binaries: BTreeSet<String>,
}

/// [`fixes_from_archive`] over an index already fetched.
pub fn fixes_with_index(
    sbom: &Sbom,
    codename: &str,
    arch: &str,
    index: &RepoIndex,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> ArchiveFixes {
    let mut warnings = Vec::new();
    let mut kernel_headers = Vec::new();
    let mut installed: BTreeMap<&str, Installed> = BTreeMap::new();
    for p in sbom
        .packages
        .iter()
        .filter(|p| p.kind() == PackageKind::Deb)
    {
        // The kernel trap: linux-libc-dev and friends hold no kernel code, so the
        // kernel's CVEs in the `linux` changelog do not apply to them.
        if p.source_or_name() == "linux" && kernel_headers_only(&p.name) {
            kernel_headers.push(p.name.clone());
            continue;
        }
        let text = p.source_version_or_version();
        let version = match Version::parse(text) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!(
                    "{} {}: source version {text:?} is not a Debian version ({e}); skipped",
                    p.name, p.version
                ));
                continue;
            }
        };
        let entry = installed
            .entry(p.source_or_name())
            .or_insert_with(|| Installed {
                version: version.clone(),
                binaries: BTreeSet::new(),
            });
        if version < entry.version {
            entry.version = version;
        }
        entry.binaries.insert(p.name.clone());
    }
    let newest = newest_versions(index);
    let mut up_to_date = 0;
    let mut not_in_archive = Vec::new();
    let mut outdated: Vec<(&str, &Installed)> = Vec::new();
    for (&source, inst) in &installed {
        match newest.source(source) {
            None => not_in_archive.push(source.to_string()),
            Some(n) if n.version <= inst.version => up_to_date += 1,
            Some(_) => outdated.push((source, inst)),
        }
    }
    let updates = plinth_core::par::par_map(&outdated, |(source, inst)| {
        update(index, &newest, source, inst, cache, reporter)
    });
    ArchiveFixes {
        release: codename.to_string(),
        arch: arch.to_string(),
        suites: index
            .suites
            .iter()
            .map(|s| ArchiveSuite {
                name: s.suite.clone(),
                signer: s.signer.clone(),
                date: s.date.clone(),
            })
            .collect(),
        updates,
        up_to_date,
        not_in_archive,
        kernel_headers,
        warnings,
    }
}

fn update(
    index: &RepoIndex,
    newest: &NewestVersions,
    source: &str,
    inst: &Installed,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> SourceUpdate {
    let n = &newest.sources[source];
    let preferred: Vec<&str> = inst.binaries.iter().map(String::as_str).collect();
    let mut out = SourceUpdate {
        source: source.to_string(),
        installed: inst.version.as_str().to_string(),
        newest: n.version.as_str().to_string(),
        suite: n.suite.clone(),
        binaries: inst.binaries.iter().cloned().collect(),
        cve_ids: Vec::new(),
        entries: Vec::new(),
        changelog: None,
        error: None,
    };
    match fetch_source_changelog(index, n, &preferred, cache, reporter) {
        Ok(Changelog {
            package,
            version,
            path,
            entries,
        }) => {
            let pending = pending_since(&entries, &inst.version);
            let mut ids = pending.cve_ids;
            ids.sort_by(|a, b| cve_order(a).cmp(&cve_order(b)));
            out.cve_ids = ids;
            out.entries = pending
                .entries
                .into_iter()
                .map(|e| UpdateEntry {
                    version: e.version.as_str().to_string(),
                    distribution: e.distribution.clone(),
                    urgency: e.urgency.clone(),
                    cve_ids: e.cve_ids.clone(),
                    date: e.date.clone(),
                })
                .collect();
            out.changelog = Some(format!("{package} {version}: {path}"));
        }
        Err(e) => {
            let mut message = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            reporter.warn(&format!("{source}: {message}"));
            out.error = Some(message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sbom::Package;

    #[test]
    fn no_mirror_is_the_machines_apt_sources() {
        assert!(matches!(
            ArchiveSource::mirror_or_apt(None).unwrap(),
            ArchiveSource::Apt(p) if p == std::path::Path::new("/")
        ));
        let keyring = std::path::Path::new(plinth_deb::keyring::DEFAULT_KEYRING).exists();
        let m = ArchiveSource::mirror_or_apt(Some("http://mirror.invalid/debian"));
        assert_eq!(
            matches!(m, Ok(ArchiveSource::Mirror { ref uri, .. }) if uri == "http://mirror.invalid/debian"),
            keyring
        );
    }

    fn distro(id: &str, version_id: Option<&str>, codename: Option<&str>) -> Distro {
        Distro {
            id: id.to_string(),
            version_id: version_id.map(str::to_string),
            codename: codename.map(str::to_string),
            ..Distro::default()
        }
    }

    #[test]
    fn cve_ids_sort_numerically() {
        let mut ids = vec!["CVE-2024-13176", "CVE-2023-5678", "CVE-2024-9143", "CVE-x"];
        ids.sort_by(|a, b| cve_order(a).cmp(&cve_order(b)));
        assert_eq!(
            ids,
            ["CVE-2023-5678", "CVE-2024-9143", "CVE-2024-13176", "CVE-x"]
        );
    }

    #[test]
    fn release_from_distro() {
        let ok = |d: Distro| debian_codename(Some(&d)).unwrap();
        assert_eq!(ok(distro("debian", Some("12"), None)), "bookworm");
        assert_eq!(ok(distro("debian", Some("12.5"), None)), "bookworm");
        assert_eq!(ok(distro("debian", Some("13"), Some("trixie"))), "trixie");
        assert_eq!(ok(distro("debian", None, Some("bookworm"))), "bookworm");
        assert_eq!(ok(distro("debian", Some("forky/sid"), None)), "forky");
        let err = |d: Option<Distro>| debian_codename(d.as_ref()).unwrap_err().to_string();
        assert_eq!(
            err(Some(distro("alpine", Some("3.20.3"), None))),
            "fixes from the archive are for Debian images; this one is \"alpine\""
        );
        assert_eq!(
            err(Some(distro("ubuntu", Some("24.04"), Some("noble")))),
            "fixes from the archive are for Debian images; this one is \"ubuntu\""
        );
        assert!(err(None).contains("names no operating system"));
        assert!(err(Some(distro("debian", Some("99"), None))).contains("\"99\""));
        assert!(err(Some(distro("debian", None, None))).contains("None"));
    }

    #[test]
    fn arch_from_packages_then_platform() {
        let pkg = |arch: &str| Package {
            kind: Some(PackageKind::Deb),
            name: "p".into(),
            version: "1".into(),
            arch: Some(arch.to_string()),
            ..Package::default()
        };
        let mut sbom = Sbom {
            packages: vec![pkg("all"), pkg("arm64"), pkg("arm64"), pkg("amd64")],
            platform: Some("linux/amd64".into()),
            ..Sbom::default()
        };
        assert_eq!(debian_arch(&sbom).unwrap(), "arm64");
        sbom.packages = vec![pkg("all")];
        assert_eq!(debian_arch(&sbom).unwrap(), "amd64");
        sbom.platform = Some("linux/arm/v7".into());
        assert_eq!(debian_arch(&sbom).unwrap(), "armhf");
        sbom.platform = None;
        assert!(matches!(
            debian_arch(&sbom),
            Err(ArchiveFixesError::NoArch { .. })
        ));
    }

    #[test]
    fn mirror_config_has_three_suites() {
        let cfg = repo_config(
            "bookworm",
            &ArchiveSource::Mirror {
                uri: "file:///srv/debian/".into(),
                keyring: Keyring::default(),
            },
            &Security::Mirror("file:///srv/debian-security".into()),
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(cfg.mirror, "file:///srv/debian");
        assert_eq!(
            cfg.suites,
            ["bookworm", "bookworm-updates", "bookworm-security"]
        );
        assert_eq!(
            cfg.mirror_for("bookworm-security"),
            "file:///srv/debian-security"
        );
        let err = repo_config(
            "bookworm",
            &ArchiveSource::Apt(PathBuf::from("/nonexistent-root")),
            &Security::Apt,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find a mirror for bookworm in the apt sources"
        );
    }
}
