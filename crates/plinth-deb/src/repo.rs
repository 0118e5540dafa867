//! A Debian repository as a whole: for each suite, fetch the signed `InRelease`, verify it
//! against the keyring and its validity dates, then fetch each component's `Packages`
//! index, check it against the signed hashes, and parse it. [`config_from_apt`] builds
//! the configuration from the machine's apt sources.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use pgp::armor::DearmorOptions;
use pgp::composed::CleartextSignedMessage;
use sha2::{Digest, Sha256};

use crate::cache::Download;
use crate::keyring::{Keyring, KeyringError};
use crate::packages::{self, Compression, PackageRecord, PackagesError};
use crate::release::{self, FileHash, MAX_RELEASE, Release, ReleaseError};
use crate::sources::{self, SourceEntry, SourcesError};
use plinth_core::http::{self, FetchError, VerifyError};
use plinth_core::progress::Reporter;
use plinth_dpkg::control;

/// Failure while fetching or checking a repository.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The machine's apt sources could not be read.
    #[error("cannot read apt sources")]
    Sources(#[from] SourcesError),
    /// No binary apt source lists the release's main suite.
    #[error("no apt source lists suite {codename}")]
    NoSource {
        /// The suite looked for (the release codename).
        codename: String,
    },
    /// The keyring an apt source trusts could not be loaded.
    #[error("cannot load the keyring of apt source {uri}")]
    Keyring {
        /// The source's base URI.
        uri: String,
        /// Why the keyring could not be loaded.
        #[source]
        source: Box<KeyringError>,
    },
    /// [`RepoConfig::suites`] is empty.
    #[error("no suite configured")]
    NoSuites,
    /// The first (required) suite has neither `InRelease` nor `Release` on its mirror.
    #[error("suite {suite} is not on the mirror: no InRelease or Release at {url}")]
    MissingSuite {
        /// The suite.
        suite: String,
        /// The suite's directory URL on the mirror.
        url: String,
    },
    /// Fetching the suite's `InRelease`, `Release` or `Release.gpg` failed.
    #[error("cannot fetch the release file of suite {suite}")]
    FetchRelease {
        /// The suite.
        suite: String,
        /// What the HTTP client reported.
        #[source]
        source: FetchError,
    },
    /// The release file's signature, validity dates or fields do not check out.
    #[error("{file} of suite {suite} at {url} is not trusted")]
    Verify {
        /// `InRelease` or `Release`.
        file: &'static str,
        /// The suite.
        suite: String,
        /// Where the file was fetched from.
        url: String,
        /// What failed.
        #[source]
        source: Box<ReleaseError>,
    },
    /// The suite's `Architectures` does not list the architecture asked for.
    #[error("suite {suite} does not offer architecture {arch}")]
    Architecture {
        /// The suite.
        suite: String,
        /// The Debian architecture asked for.
        arch: String,
    },
    /// The release file lists no `Packages` index, in any compression, for a component.
    #[error("release file of suite {suite} lists no Packages index under {dir}")]
    NoIndex {
        /// The suite.
        suite: String,
        /// The index directory (`main/binary-amd64`).
        dir: String,
    },
    /// Downloading an index failed, or it did not match the release file's size and hash.
    #[error("cannot fetch index {path} of suite {suite}")]
    FetchIndex {
        /// The suite.
        suite: String,
        /// The index's path, relative to the release directory.
        path: String,
        /// What the HTTP client reported.
        #[source]
        source: VerifyError,
    },
    /// A downloaded index could not be decompressed, checked or parsed.
    #[error("cannot read index {path} of suite {suite} from {url}")]
    Index {
        /// The suite.
        suite: String,
        /// The index's path, relative to the release directory.
        path: String,
        /// Where it was fetched from.
        url: String,
        /// What failed.
        #[source]
        source: Box<PackagesError>,
    },
}

/// Where and what to fetch.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    /// Base URI, e.g. `http://127.0.0.1:8080/debian` or `file:///srv/debian`.
    pub mirror: String,
    /// e.g. `bookworm`, `bookworm-updates`, `bookworm-security`. The first is required;
    /// the others are skipped with a warning when the mirror lacks them.
    pub suites: Vec<String>,
    /// e.g. `main`.
    pub components: Vec<String>,
    /// The keys a suite's release file must be signed by.
    pub keyring: Keyring,
    /// The time `Valid-Until` and `Date` are judged at.
    pub now: SystemTime,
    /// Base URI per suite where it differs from `mirror` (the security archive).
    pub suite_mirrors: BTreeMap<String, String>,
}

impl RepoConfig {
    /// The base URI of `suite`, without a trailing slash.
    pub fn mirror_for(&self, suite: &str) -> &str {
        self.suite_mirrors
            .get(suite)
            .unwrap_or(&self.mirror)
            .trim_end_matches('/')
    }
}

/// One verified suite.
#[derive(Debug, Clone)]
pub struct SuiteIndex {
    /// The suite as configured (`bookworm-security`).
    pub suite: String,
    /// Hex SHA-256 of the InRelease bytes as fetched (of `Release` when the mirror only
    /// has `Release` + `Release.gpg`).
    pub inrelease_sha256: String,
    /// Upper-case hex fingerprint of the primary key that signed.
    pub signer: String,
    /// `Date` and `Valid-Until` as written in the signed text.
    pub date: Option<String>,
    /// `None` when the release file has no `Valid-Until`.
    pub valid_until: Option<String>,
    /// Base URI the suite was fetched from; `Filename`s of its records are relative to it.
    pub base_uri: String,
    /// The signed Release fields.
    pub release: Release,
}

/// The verified package records of every suite.
#[derive(Debug, Clone, Default)]
pub struct RepoIndex {
    /// The suites, in configuration order (those the mirror lacks are left out).
    pub suites: Vec<SuiteIndex>,
    /// Every record of every suite's indexes, suite by suite.
    pub packages: Vec<PackageRecord>,
    /// Parallel to `packages`: index into `suites` of the suite each record came from.
    pub origin: Vec<usize>,
}

impl RepoIndex {
    /// The suite that package `i` came from.
    pub fn suite_of(&self, i: usize) -> &SuiteIndex {
        &self.suites[self.origin[i]]
    }

    /// The URL of package `i`'s `.deb`.
    pub fn url_of(&self, i: usize) -> String {
        format!(
            "{}/{}",
            self.suite_of(i).base_uri,
            self.packages[i].filename.trim_start_matches('/')
        )
    }

    /// What [`crate::cache::Cache::fetch_all`] needs to fetch package `i`.
    pub fn download(&self, i: usize) -> Download {
        let rec = &self.packages[i];
        Download {
            url: self.url_of(i),
            sha256: rec.sha256.clone(),
            size: rec.size,
            name: rec
                .filename
                .rsplit('/')
                .next()
                .unwrap_or(&rec.filename)
                .to_string(),
        }
    }
}

/// URL of `file` under the release directory of `suite` (flat repositories: a suite
/// ending in `/`).
fn dist_url(base: &str, suite: &str, file: &str) -> String {
    if suite.ends_with('/') {
        format!("{base}/{}{file}", suite.trim_start_matches('/'))
    } else {
        format!("{base}/dists/{suite}/{file}")
    }
}

/// Fetches and verifies every suite's release file and `Packages` indexes for `arch`
/// (plus `binary-all` where the release does not fold `Architecture: all` packages into
/// the per-architecture indexes). Every index is checked against the size and SHA-256 of
/// the signed release file before it is decompressed.
pub fn fetch_index(
    cfg: &RepoConfig,
    arch: &str,
    reporter: &dyn Reporter,
) -> Result<RepoIndex, RepoError> {
    if cfg.suites.is_empty() {
        return Err(RepoError::NoSuites);
    }
    let mut index = RepoIndex::default();
    for (n, suite) in cfg.suites.iter().enumerate() {
        let Some(suite_index) = fetch_release(cfg, suite, n == 0, reporter)? else {
            continue;
        };
        let (suite_index, no_all) = suite_index;
        let release = &suite_index.release;
        if !release.architectures.is_empty() && !release.architectures.iter().any(|a| a == arch) {
            return Err(RepoError::Architecture {
                suite: suite.clone(),
                arch: arch.to_string(),
            });
        }
        // Like apt: `binary-all` only where the release offers architecture `all` and does
        // not fold its packages into the per-architecture indexes.
        let fetch_all_index = arch != "all"
            && !no_all
            && (release.architectures.is_empty()
                || release.architectures.iter().any(|a| a == "all"));
        let mut records = Vec::new();
        for component in &cfg.components {
            let dir = format!("{component}/binary-{arch}");
            let (path, entry) = pick_index(release, &dir).ok_or_else(|| RepoError::NoIndex {
                suite: suite.clone(),
                dir: dir.clone(),
            })?;
            records.extend(fetch_packages(&suite_index, &path, &entry, reporter)?);
            let all_dir = format!("{component}/binary-all");
            if fetch_all_index && let Some((path, entry)) = pick_index(release, &all_dir) {
                records.extend(fetch_packages(&suite_index, &path, &entry, reporter)?);
            }
        }
        let at = index.suites.len();
        index.origin.extend(std::iter::repeat_n(at, records.len()));
        index.packages.extend(records);
        index.suites.push(suite_index);
    }
    Ok(index)
}

/// The preferred index under `dir` that the release lists: `.xz`, then `.gz`, then plain.
fn pick_index(release: &Release, dir: &str) -> Option<(String, FileHash)> {
    ["Packages.xz", "Packages.gz", "Packages"]
        .iter()
        .find_map(|name| {
            let path = format!("{dir}/{name}");
            let entry = release.file(&path)?.clone();
            Some((path, entry))
        })
}

/// Fetches and verifies the release file of `suite`. `None` when the mirror has none and
/// the suite is optional. Also says whether `Architecture: all` packages are folded into
/// the per-architecture indexes (`No-Support-for-Architecture-all: Packages`).
fn fetch_release(
    cfg: &RepoConfig,
    suite: &str,
    required: bool,
    reporter: &dyn Reporter,
) -> Result<Option<(SuiteIndex, bool)>, RepoError> {
    let base = cfg.mirror_for(suite);
    let fetch_err = |source| RepoError::FetchRelease {
        suite: suite.to_string(),
        source,
    };
    let limit = MAX_RELEASE as u64;
    let url = dist_url(base, suite, "InRelease");
    let task = format!("{suite} InRelease");
    reporter.start(&task, None);
    let fetched = http::fetch_bytes(&url, limit);
    reporter.finish(&task);
    let (data, verified, signed_text) = match fetched {
        Ok(data) => {
            let verified =
                release::verify_inrelease(&data, &cfg.keyring, cfg.now).map_err(|source| {
                    RepoError::Verify {
                        file: "InRelease",
                        suite: suite.to_string(),
                        url: url.clone(),
                        source: Box::new(source),
                    }
                })?;
            // Verified above; this only recovers the signed text for the extra fields.
            let text = CleartextSignedMessage::from_armor_buf(&data[..], DearmorOptions::default())
                .map(|(msg, _)| msg.signed_text())
                .unwrap_or_default();
            (data, verified, text)
        }
        Err(FetchError::NotFound { .. }) => {
            let release_url = dist_url(base, suite, "Release");
            let data = match http::fetch_bytes(&release_url, limit) {
                Ok(data) => data,
                Err(FetchError::NotFound { .. }) => {
                    if required {
                        return Err(RepoError::MissingSuite {
                            suite: suite.to_string(),
                            url: dist_url(base, suite, ""),
                        });
                    }
                    reporter.warn(&format!(
                        "suite {suite} is not on the mirror (no InRelease or Release at {}); skipping it",
                        dist_url(base, suite, "")
                    ));
                    return Ok(None);
                }
                Err(e) => return Err(fetch_err(e)),
            };
            let sig = http::fetch_bytes(&dist_url(base, suite, "Release.gpg"), limit)
                .map_err(fetch_err)?;
            let verified =
                release::verify_detached(&data, &sig, &cfg.keyring, cfg.now).map_err(|source| {
                    RepoError::Verify {
                        file: "Release",
                        suite: suite.to_string(),
                        url: release_url.clone(),
                        source: Box::new(source),
                    }
                })?;
            let text = String::from_utf8_lossy(&data).into_owned();
            (data, verified, text)
        }
        Err(e) => return Err(fetch_err(e)),
    };
    let para = control::paragraphs(signed_text.as_bytes(), control::Options::default())
        .ok()
        .and_then(|mut p| p.next())
        .and_then(Result::ok);
    let field = |name: &str| para.as_ref().and_then(|p| p.get(name)).map(str::to_string);
    let no_all = field("No-Support-for-Architecture-all")
        .is_some_and(|v| v.split_whitespace().any(|w| w == "Packages"));
    Ok(Some((
        SuiteIndex {
            suite: suite.to_string(),
            inrelease_sha256: hex::encode(Sha256::digest(&data)),
            signer: verified.signer,
            date: field("Date"),
            valid_until: field("Valid-Until"),
            base_uri: base.to_string(),
            release: verified.release,
        },
        no_all,
    )))
}

/// Fetches the index at `path` (relative to the release directory), checking size and
/// SHA-256 against the release while streaming, then decompresses and parses it.
fn fetch_packages(
    suite: &SuiteIndex,
    path: &str,
    entry: &FileHash,
    reporter: &dyn Reporter,
) -> Result<Vec<PackageRecord>, RepoError> {
    let release = &suite.release;
    let url = dist_url(&suite.base_uri, &suite.suite, path);
    let fetch_err = |source| RepoError::FetchIndex {
        suite: suite.suite.clone(),
        path: path.to_string(),
        source,
    };
    let task = format!("{} {path}", suite.suite);
    reporter.start(&task, Some(entry.size));
    let mut data = Vec::new();
    let mut result = Err(VerifyError::Fetch(FetchError::NotFound {
        url: url.clone(),
    }));
    if release.acquire_by_hash {
        // By-hash names do not change while the mirror updates, so they cannot race.
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let by_hash = dist_url(
            &suite.base_uri,
            &suite.suite,
            &format!("{dir}/by-hash/SHA256/{}", entry.sha256),
        );
        result = http::fetch_verified(
            &by_hash,
            entry.size,
            &entry.sha256,
            &mut data,
            reporter,
            &task,
        );
    }
    if let Err(VerifyError::Fetch(FetchError::NotFound { .. })) = result {
        data.clear();
        result = http::fetch_verified(&url, entry.size, &entry.sha256, &mut data, reporter, &task);
    }
    reporter.finish(&task);
    result.map_err(fetch_err)?;
    let index_err = |source| RepoError::Index {
        suite: suite.suite.clone(),
        path: path.to_string(),
        url: url.clone(),
        source: Box::new(source),
    };
    let compression = Compression::from_path(path);
    let plain = packages::decompress(&data, compression).map_err(index_err)?;
    drop(data);
    // Where the release also lists the uncompressed index, check that too.
    let plain_path = path
        .strip_suffix(".xz")
        .or_else(|| path.strip_suffix(".gz"))
        .unwrap_or(path);
    if compression != Compression::None && release.file(plain_path).is_some() {
        packages::verify_against_release(&plain, release, plain_path).map_err(index_err)?;
    }
    packages::parse(&plain).map_err(index_err)
}

/// Builds a [`RepoConfig`] from the apt sources under `root` for the Debian release
/// `codename`: the mirror of the first binary source listing `codename`; `-updates` and
/// `-security` when some source lists them (with their own URI if it differs); component
/// `main`; the keys those sources trust.
pub fn config_from_apt(
    root: &Path,
    codename: &str,
    now: SystemTime,
) -> Result<RepoConfig, RepoError> {
    let entries: Vec<SourceEntry> = sources::discover(root)?
        .into_iter()
        .filter(SourceEntry::is_binary)
        .collect();
    let lists = |suite: &str| entries.iter().find(|e| e.suites.iter().any(|s| s == suite));
    let keyring_of = |e: &SourceEntry| {
        Keyring::for_source(e, root).map_err(|source| RepoError::Keyring {
            uri: e.uri.clone(),
            source: Box::new(source),
        })
    };
    let main = lists(codename).ok_or_else(|| RepoError::NoSource {
        codename: codename.to_string(),
    })?;
    let mut keyring = keyring_of(main)?;
    let mut suites = vec![codename.to_string()];
    let mut suite_mirrors = BTreeMap::new();
    for suffix in ["-updates", "-security"] {
        let suite = format!("{codename}{suffix}");
        let Some(entry) = lists(&suite) else {
            continue;
        };
        if entry.uri != main.uri {
            suite_mirrors.insert(suite.clone(), entry.uri.clone());
        }
        if entry.signed_by != main.signed_by {
            keyring.merge(keyring_of(entry)?);
        }
        suites.push(suite);
    }
    Ok(RepoConfig {
        mirror: main.uri.clone(),
        suites,
        components: vec!["main".to_string()],
        keyring,
        now,
        suite_mirrors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    #[test]
    fn dist_urls() {
        assert_eq!(
            dist_url("http://m.example/d", "s", "InRelease"),
            "http://m.example/d/dists/s/InRelease"
        );
        assert_eq!(
            dist_url("file:///r", "./", "Packages"),
            "file:///r/./Packages"
        );
    }

    #[test]
    fn config_from_apt_splits_security_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // An armoured key the keyring loader accepts is not needed: an unreadable keyring
        // is reported with the source's URI.
        write(
            root,
            "etc/apt/sources.list.d/debian.sources",
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /k/a.gpg\n\n\
             Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\
             Components: main\nSigned-By: /k/a.gpg\n",
        );
        let err = config_from_apt(root, "bookworm", SystemTime::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load the keyring of apt source http://mirror.example/debian"
        );
        let err = config_from_apt(root, "trixie", SystemTime::now()).unwrap_err();
        assert_eq!(err.to_string(), "no apt source lists suite trixie");
    }

    #[test]
    fn picks_xz_then_gz_then_plain() {
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let text = format!(
            "Suite: s\nSHA256:\n {h} 0 main/binary-amd64/Packages\n {h} 0 main/binary-amd64/Packages.gz\n"
        );
        let r = Release::parse(text.as_bytes()).unwrap();
        assert_eq!(
            pick_index(&r, "main/binary-amd64")
                .map(|(p, _)| p)
                .as_deref(),
            Some("main/binary-amd64/Packages.gz")
        );
        assert_eq!(pick_index(&r, "main/binary-all"), None);
    }
}
